#!/usr/bin/env bash
# xtrade-actor's command line: --help and --version, one-sentence errors and
# exit status 2 for bad usage (missing --config, bad --envs, unknown option,
# unknown --set key), 1 for an unreadable config; XTRADE_CONFIG and
# XTRADE_METRICS_PORT from the environment; with no broker to talk to it
# keeps retrying, serves /healthz and /metrics, and SIGTERM ends it with
# status 0.
# Usage: bash actor_cli.sh <xtrade-binary> <source-dir>
set -u
XT="$1"
SRC="$(cd "$2" && pwd)"
BIN="$(cd "$(dirname "$XT")" && pwd)"
ACTOR="$BIN/xtrade-actor"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/xt-actor-cli-XXXXXX")"
PID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect STATUS PATTERN CMD...: exit status and a line of stdout+stderr.
expect() {
    local want="$1" pat="$2"
    shift 2
    local out rc
    out="$("$@" 2>&1)"
    rc=$?
    [ "$rc" = "$want" ] || fail "$*: exit $rc, expected $want: $out"
    echo "$out" | grep -q -- "$pat" || fail "$*: no \"$pat\" in: $out"
}

http_get() {
    if command -v curl >/dev/null; then curl -s "$1"; return; fi
    local hp="${1#http://}"; local host="${hp%%:*}"; local rest="${hp#*:}"
    exec 3<>"/dev/tcp/$host/${rest%%/*}"
    printf 'GET /%s HTTP/1.0\r\n\r\n' "${rest#*/}" >&3
    cat <&3
    exec 3<&-
}

CFG="$SRC/configs/tiny.yaml"
expect 0 "^xtrade-actor [0-9]" "$ACTOR" --version
expect 0 "XTRADE_BROKER" "$ACTOR" --help
expect 2 "xtrade-actor: --config FILE is required (or XTRADE_CONFIG)" env -u XTRADE_CONFIG "$ACTOR"
expect 2 "xtrade-actor: --envs 0: expected an integer between 1 and 4096" "$ACTOR" --config "$CFG" --envs 0
expect 2 "xtrade-actor: --bogus: unknown option or missing value" "$ACTOR" --bogus
expect 2 "xtrade-actor: --config: unknown option or missing value" "$ACTOR" --config
expect 2 "actor.envz" "$ACTOR" --config "$CFG" --set actor.envz=3
expect 2 "--set actor.envs: expected section.key=value" "$ACTOR" --config "$CFG" --set actor.envs
expect 1 "$TMP/none.yaml" "$ACTOR" --config "$TMP/none.yaml"
expect 2 "XTRADE_METRICS_PORT=99999" env XTRADE_METRICS_PORT=99999 "$ACTOR" --config "$CFG"

# No broker listens: the actor keeps registering, stays healthy, and a
# SIGTERM stops it cleanly. Config from XTRADE_CONFIG, metrics on an
# ephemeral port.
LOG="$TMP/actor.log"
(cd "$TMP" && XTRADE_CONFIG="$CFG" XTRADE_METRICS_PORT=0 exec "$ACTOR" --broker tcp://127.0.0.1:1 \
    --set broker.heartbeat_ms=50 --set broker.liveness_ms=200 --set actor.reconnect_ms=20 --id actor-cli \
    >"$LOG" 2>&1) &
PID=$!
for _ in $(seq 100); do grep -q "ready:" "$LOG" && break; sleep 0.05; done
grep -q "ready: actor actor-cli" "$LOG" || fail "no ready line: $(cat "$LOG")"
URL="$(sed -n 's/.*metrics \(http:[^ ]*\).*/\1/p' "$LOG" | head -1 | sed 's/0\.0\.0\.0/127.0.0.1/')"
sleep 0.6
http_get "$URL/healthz" | grep -q "ok" || fail "/healthz not ok at $URL"
METRICS="$(http_get "$URL/metrics")"
echo "$METRICS" | grep -q '^xtrade_build_info{version="[0-9.]*",role="actor"} 1' || fail "no build_info: $METRICS"
echo "$METRICS" | grep -q '^xtrade_reconnects_total{peer="broker"} 0' || fail "reconnects counted without a session"
grep -q "registering with the broker at tcp://127.0.0.1:1 (attempt [2-9]" "$LOG" || fail "no retries: $(cat "$LOG")"
kill -TERM "$PID"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "SIGTERM: exit $RC"
grep -q "signal received: stopping" "$LOG" || fail "no stop line: $(cat "$LOG")"

[ "$FAILS" = 0 ] && echo "actor_cli: ok"
exit "$FAILS"
