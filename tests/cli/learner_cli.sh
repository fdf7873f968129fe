#!/usr/bin/env bash
# xtrade-learner's command line: --help and --version, and the exit status
# and one-line sentence of each startup error (missing or bad options, a
# bad config key or --set, a CUDA backend this build does not have, a busy
# port) - all before it ever talks to a broker.
# Usage: bash learner_cli.sh <xtrade-binary> <source-dir>
set -u
XT="$1"
SRC="$2"
BIN="$(cd "$(dirname "$XT")" && pwd)"
L="$BIN/xtrade-learner"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/xt-learner-cli-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
unset XTRADE_CONFIG XTRADE_BROKER XT_BROKER XTRADE_METRICS_PORT XTRADE_ADVERTISE_HOST XTRADE_METRICS_ADDR

# expect STATUS PATTERN -- ARGS...: runs the learner, checks its exit status
# and that its output (stdout + stderr) matches PATTERN.
expect() {
    local want="$1" pat="$2"
    shift 3
    timeout 20 "$L" "$@" >"$TMP/out" 2>&1
    local got=$?
    [ "$got" -eq "$want" ] || fail "xtrade-learner $*: exit $got, expected $want"
    grep -q -- "$pat" "$TMP/out" || { fail "xtrade-learner $*: no \"$pat\" in:"; cat "$TMP/out" >&2; }
}

CFG="$SRC/configs/tiny.yaml"
SETS=(--set "run.dir=$TMP/runs" --set learner.port_chunks=0 --set learner.port_weights=0 --set learner.http_port=0)

expect 0 "usage: xtrade-learner --config FILE" -- --help
expect 0 "^xtrade-learner [0-9]" -- --version
expect 2 "--config FILE is required" --
expect 2 "--bogus: unknown option or missing value" -- --bogus
expect 2 "--set: unknown option or missing value" -- --config "$CFG" --set
expect 2 "--set learner.mode: expected section.key=value" -- --config "$CFG" --set learner.mode
expect 2 "learner.mode" -- --config "$CFG" --set learner.mode=fast
expect 1 "nope.yaml" -- --config "$TMP/nope.yaml"
printf 'learner:\n  max_policy_lagg: 3\n' >"$TMP/typo.yaml"
expect 1 "typo.yaml:2:3: learner.max_policy_lagg" -- --config "$TMP/typo.yaml"
expect 1 "learner.backend: cuda: " -- --config "$CFG" "${SETS[@]}" --set learner.backend=cuda
expect 1 "must exceed broker.heartbeat_ms" -- --config "$CFG" "${SETS[@]}" --set broker.liveness_ms=1000 \
    --set broker.heartbeat_ms=1000
XTRADE_METRICS_PORT=abc expect 2 "XTRADE_METRICS_PORT=abc" -- --config "$CFG"

# A chunk port that is taken: the error names the endpoint.
python3 - "$TMP/port" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(15)
EOF
HOLD=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
PORT="$(cat "$TMP/port")"
expect 1 "PULL bind tcp://\*:$PORT" -- --config "$CFG" "${SETS[@]}" --set "learner.port_chunks=$PORT"
kill "$HOLD" 2>/dev/null

if [ "$FAILS" -gt 0 ]; then
    echo "learner_cli: $FAILS failure(s)" >&2
    exit 1
fi
echo "learner_cli: ok"
