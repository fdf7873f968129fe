#!/usr/bin/env bash
# xtrade-broker faults with scripted peers (tests/tools/fake_peer.c): an
# actor that goes silent in TRAIN is dropped and its shards move to the
# other actor; one that goes silent in EVAL has its test windows evaluated
# by the other actor; with security.curve an actor whose key is not in
# keys/allowed never gets a message through while allowed peers and
# `xtrade status` work; SIGINT sends STOP to every peer and exits 0.
# Usage: bash broker_faults.sh <xtrade-binary> <source-dir>
set -u
XT="$1"
SRC="$2"
BIN="$(cd "$(dirname "$XT")" && pwd)"
BROKER="$BIN/xtrade-broker"
FAKE="$BIN/../tests/xt-fake-peer"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/xt-brokerf-XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

wait_for() {
    local n=$(($3 * 20))
    for _ in $(seq "$n"); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" in $1"; cat "$1" >&2
    return 1
}

SETS=(--set broker.port=0 --set broker.http_port=0 --set broker.bind=127.0.0.1
      --set broker.heartbeat_ms=100 --set broker.liveness_ms=1000 --set ppo.total_steps=2048)

# start_broker NAME [--set ...]: broker in $TMP/NAME, endpoint in $EP.
start_broker() {
    local name="$1"; shift
    "$BROKER" --config "$SRC/configs/tiny.yaml" "${SETS[@]}" "$@" --run-dir "$TMP/$name" >"$TMP/$name.log" 2>&1 &
    BP=$!; PIDS+=("$BP")
    wait_for "$TMP/$name.log" "INFO ready" 10 || exit 1
    EP="$(cat "$TMP/$name/broker.endpoint")"
}

# peer OUT ARGS...: a fake peer in the background (pid in $PP).
peer() {
    local out="$1"; shift
    "$FAKE" --endpoint "$EP" --beat-ms 100 --liveness-ms 800 --timeout-ms 30000 "$@" >"$TMP/$out" 2>&1 &
    PP=$!; PIDS+=("$PP")
}

expect_exit() { # PID WANT WHAT
    wait "$1"; local rc=$?
    [ "$rc" -eq "$2" ] || fail "$3 exited $rc, expected $2"
}

# ---- an actor silent in TRAIN: dropped, its shard goes to the other actor
start_broker train
peer l1.out --role learner --id learner-0 --steps-per-beat 64; L=$PP
peer a1.out --role actor --id actor-a --capacity 2; A=$PP
# actor-b goes silent on its first Assignment: start it once actor-a works,
# so that its first one already shares the shards with actor-a.
wait_for "$TMP/a1.out" "ASSIGN fold=0" 10
peer b1.out --role actor --id actor-b --capacity 2 --hang-on train; HB=$PP
# 4 envs over 2 shards: actor-a steps BTCUSD twice, actor-b EURUSD twice.
wait_for "$TMP/a1.out" "ASSIGN fold=0 phase=train n=2 shards=BTCUSD/3600,BTCUSD/3600 " 10
wait_for "$TMP/b1.out" "ASSIGN fold=0 phase=train n=2 shards=EURUSD/3600,EURUSD/3600 " 10
# actor-b says nothing more: after liveness_ms actor-a takes both shards
# (a new Assignment after the one that shared them with actor-b).
wait_for "$TMP/train.log" "actor actor-b (incarnation [0-9]*) silent for [0-9.]* s: dropped; its shards are reassigned" 10
for _ in $(seq 100); do
    sed -n '/shards=BTCUSD\/3600,BTCUSD\/3600 /,$p' "$TMP/a1.out" | grep -q "ASSIGN fold=0 phase=train n=2 shards=BTCUSD/3600,EURUSD/3600 " && break
    sleep 0.05
done
sed -n '/shards=BTCUSD\/3600,BTCUSD\/3600 /,$p' "$TMP/a1.out" | grep -q "ASSIGN fold=0 phase=train n=2 shards=BTCUSD/3600,EURUSD/3600 " \
    || { fail "actor-a did not take over EURUSD"; cat "$TMP/a1.out" >&2; }
expect_exit "$L" 0 "learner (silent-train run)"
expect_exit "$A" 0 "actor-a (silent-train run)"
expect_exit "$BP" 0 "broker (silent-train run)"
{ kill -9 "$HB" && wait "$HB"; } 2>/dev/null
grep -q "RESULT fold=1 shard=EURUSD/3600" "$TMP/a1.out" || fail "actor-a did not evaluate EURUSD in fold 1"

# ---- an actor silent in EVAL: its test window is evaluated by the other
start_broker eval
# Both actors register before the learner, so both are there for fold 0's EVAL.
peer a2.out --role actor --id actor-a --capacity 1 --eval-delay-ms 300; A=$PP
peer c2.out --role actor --id actor-c --capacity 1 --hang-on eval; HC=$PP
wait_for "$TMP/a2.out" "REGISTERED" 10
wait_for "$TMP/c2.out" "REGISTERED" 10
peer l2.out --role learner --id learner-0 --steps-per-beat 512; L=$PP
wait_for "$TMP/c2.out" "EVALREQ fold=0 n=1" 20
wait_for "$TMP/eval.log" "actor actor-c (incarnation [0-9]*) silent for .* dropped" 10
expect_exit "$L" 0 "learner (silent-eval run)"
expect_exit "$A" 0 "actor-a (silent-eval run)"
expect_exit "$BP" 0 "broker (silent-eval run)"
{ kill -9 "$HC" && wait "$HC"; } 2>/dev/null
for s in BTCUSD EURUSD; do
    grep -q "RESULT fold=0 shard=$s/3600" "$TMP/a2.out" || { fail "actor-a did not evaluate $s in fold 0"; cat "$TMP/a2.out" >&2; }
done
grep -q "fold 0 done: 2 shards" "$TMP/eval.log" || fail "fold 0 did not finish without actor-c"

# ---- CurveZMQ: keys, an allowed learner/actor/CLI, a stranger refused
"$XT" keys gen "$TMP/keys" >"$TMP/keys.out" 2>&1 || fail "keys gen: $(cat "$TMP/keys.out")"
for f in broker.key broker.key_secret learner.key actor.key_secret cli.key allowed/learner.key allowed/actor.key allowed/cli.key; do
    [ -f "$TMP/keys/$f" ] || fail "keys gen did not write $f"
done
[ -f "$TMP/keys/allowed/broker.key" ] && fail "the broker's key is in allowed/"
[ "$(stat -c %a "$TMP/keys/actor.key_secret")" = 600 ] || fail "secret key is not mode 600"
"$XT" keys gen "$TMP/keys" >/dev/null 2>"$TMP/keys.err"; [ $? -eq 1 ] || fail "keys gen overwrote existing keys"
grep -q "broker.key exists; keep the keys or pass --force" "$TMP/keys.err" || fail "keys gen refusal: $(cat "$TMP/keys.err")"
"$XT" keys gen "$TMP/other" >/dev/null 2>&1 || fail "keys gen (second set)"

CURVE=(--set security.curve=true --set "security.keys_dir=$TMP/keys")
start_broker curve "${CURVE[@]}" --set ppo.total_steps=100000000
K="$TMP/keys"
peer l3.out --role learner --id learner-0 --curve-cert "$K/learner.key" --curve-server "$K/broker.key"; L=$PP
peer a3.out --role actor --id actor-a --curve-cert "$K/actor.key" --curve-server "$K/broker.key"; A=$PP
"$FAKE" --endpoint "$EP" --role actor --id actor-x --curve-cert "$TMP/other/actor.key" --curve-server "$K/broker.key" \
    --timeout-ms 2500 >"$TMP/x3.out" 2>&1
rc=$?; [ "$rc" -eq 4 ] || { fail "actor with an unknown key: exit $rc, expected 4 (never registered)"; cat "$TMP/x3.out" >&2; }
grep -q "REGISTERED" "$TMP/x3.out" && fail "actor with an unknown key was answered"
wait_for "$TMP/a3.out" "ASSIGN fold=0" 10
grep -q "actor-x" "$TMP/curve.log" && fail "the broker heard actor-x"
"$XT" status --config "$SRC/configs/tiny.yaml" "${CURVE[@]}" --run-dir "$TMP/curve" >"$TMP/s3.out" 2>&1 \
    || fail "status with the cli key failed: $(cat "$TMP/s3.out")"
grep -qF "workers     1 learner, 1 actor (2 envs)" "$TMP/s3.out" || { fail "curve status workers"; cat "$TMP/s3.out" >&2; }
"$XT" status --run-dir "$TMP/curve" --timeout-ms 500 >/dev/null 2>&1 && fail "status without a key was answered"

# ---- SIGINT: STOP to every peer, exit 0, the journal keeps the run
kill -INT "$BP"
expect_exit "$BP" 0 "broker after SIGINT"
expect_exit "$L" 3 "learner after STOP"
expect_exit "$A" 3 "actor after STOP"
grep -q "stop requested: STOP sent to 2 peer(s)" "$TMP/curve.log" || { fail "no STOP line"; cat "$TMP/curve.log" >&2; }
grep -q "^stop fold=0" "$TMP/l3.out" || fail "learner did not get STOP"

[ "$FAILS" -eq 0 ] && echo "broker_faults: all checks passed"
exit $((FAILS > 0))
