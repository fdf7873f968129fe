#!/usr/bin/env bash
# `make demo`: the main job on the embedded synthetic market (configs/demo.yaml):
# build the feature caches, then train and walk-forward evaluate the policy.
set -euo pipefail
build=${1:-build}
bin="$build/bin/xtrade"
cfg=${XTRADE_DEMO_CONFIG:-configs/demo.yaml}
start=$(date +%s.%N)
echo "== xtrade demo: $cfg"
"$bin" config --dump "$cfg" | sed -n '/^data:/,/^synth:/p' | sed '$d'
echo "== building feature caches"
"$bin" data build --config "$cfg"
echo "== training (one process, CPU backend) and walk-forward evaluation"
"$bin" train --local --config "$cfg" ${XTRADE_DEMO_ARGS:-}
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "== demo finished in %.1f s\n", b - a }'
