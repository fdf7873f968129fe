#!/usr/bin/env bash
# `make demo`: the main job on the embedded synthetic market (configs/demo.yaml)
# as a local cluster: `xtrade cluster up` starts the broker, one CPU learner
# and 2 actors, trains and evaluates both walk-forward folds (about 2-3 minutes
# on 2 cores) and ends with the report path and a summary table of the agent
# against buy & hold, equal weight and all cash per fold.
# Without the daemon binaries (a partial build) it falls back to training in
# one process (`xtrade train --local`), and says so.
set -euo pipefail
build=${1:-build}
bin="$build/bin/xtrade"
cfg=${XTRADE_DEMO_CONFIG:-configs/demo.yaml}
actors=${XTRADE_DEMO_ACTORS:-2}
start=$(date +%s.%N)
echo "== xtrade demo: $cfg"
"$bin" config --dump "$cfg" | sed -n '/^data:/,/^synth:/p' | sed '$d'
missing=""
for d in xtrade-broker xtrade-learner xtrade-actor; do
    [ -x "$build/bin/$d" ] || missing="$missing $d"
done
if [ -z "$missing" ]; then
    echo "== local cluster: broker, learner, $actors actors (logs in runs/<run id>/logs/; Ctrl-C stops it, the same command resumes)"
    "$bin" cluster up --config "$cfg" --actors "$actors" ${XTRADE_DEMO_ARGS:-}
else
    echo "== the cluster daemons are not built ($missing ); falling back to training in one process"
    echo "== building feature caches"
    "$bin" data build --config "$cfg"
    echo "== training (one process, CPU backend) and walk-forward evaluation"
    "$bin" train --local --config "$cfg" ${XTRADE_DEMO_ARGS:-}
fi
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "== demo finished in %.1f s\n", b - a }'
