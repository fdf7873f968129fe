#!/usr/bin/env bash
# `make demo`: runs the main job on the embedded synthetic market with
# configs/demo.yaml and prints what it built.
set -euo pipefail
build=${1:-build}
bin="$build/bin/xtrade"
cfg=configs/demo.yaml
echo "== xtrade demo: $cfg"
"$bin" config --dump "$cfg" | sed -n '/^data:/,/^synth:/p' | sed '$d'
start=$(date +%s.%N)
"$bin" data build --config "$cfg"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "== demo finished in %.1f s\n", b - a }'
