#!/usr/bin/env bash
# xtrade-broker end to end with scripted peers (tests/tools/fake_peer.c): a
# fake learner and two fake actors run configs/tiny.yaml's two folds to
# DONE; shards are balanced by capacity; garbage, truncated, oversized,
# wrong-version and multi-part frames are counted in /metrics while the
# broker keeps serving; `xtrade status` prints run, fold, phase, progress
# and workers; the broker is killed with -9 in fold 1 and restarted on the
# same port: it resumes fold 1 from its journal and never redoes fold 0.
# Usage: bash broker_fake.sh <xtrade-binary> <source-dir>
set -u
XT="$1"
SRC="$2"
BIN="$(cd "$(dirname "$XT")" && pwd)"
BROKER="$BIN/xtrade-broker"
FAKE="$BIN/../tests/xt-fake-peer"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/xt-broker-XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_for() {
    local n=$(($3 * 20))
    for _ in $(seq "$n"); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" in $1"; cat "$1" >&2
    return 1
}

# http_get URL: body of an HTTP GET (curl when present, else bash's /dev/tcp).
http_get() {
    if command -v curl >/dev/null; then curl -s "$1"; return; fi
    local hp="${1#http://}"; local host="${hp%%:*}"; local rest="${hp#*:}"
    exec 3<>"/dev/tcp/$host/${rest%%/*}"
    printf 'GET /%s HTTP/1.0\r\n\r\n' "${rest#*/}" >&3
    cat <&3
    exec 3<&-
}

RUN="$TMP/run"
SETS=(--set broker.port=0 --set broker.http_port=0 --set broker.bind=127.0.0.1
      --set broker.heartbeat_ms=100 --set broker.liveness_ms=1500)

# ---- start: broker on an ephemeral port, then the peers
"$BROKER" --config "$SRC/configs/tiny.yaml" "${SETS[@]}" --run-dir "$RUN" >"$TMP/b1.log" 2>&1 &
B1=$!; PIDS+=("$B1")
wait_for "$TMP/b1.log" "INFO ready" 10 || exit 1
EP="$(cat "$RUN/broker.endpoint")"
PORT="${EP##*:}"
case "$EP" in tcp://127.0.0.1:[0-9]*) ;; *) fail "broker.endpoint holds \"$EP\"" ;; esac
grep -q "configuration loaded" "$TMP/b1.log" || fail "no 'configuration loaded' line"
[ -f "$RUN/config.yaml" ] && grep -q 'id: "tiny"' "$RUN/config.yaml" || fail "no frozen config.yaml"

PEER=(--endpoint "$EP" --beat-ms 100 --liveness-ms 1000 --timeout-ms 40000)
"$FAKE" "${PEER[@]}" --role learner --id learner-0 --steps-per-beat 256 >"$TMP/l.out" 2>&1 &
L=$!; PIDS+=("$L")
"$FAKE" "${PEER[@]}" --role actor --id actor-a --capacity 3 >"$TMP/a.out" 2>&1 &
A=$!; PIDS+=("$A")
"$FAKE" "${PEER[@]}" --role actor --id actor-b --capacity 1 >"$TMP/c.out" 2>&1 &
C=$!; PIDS+=("$C")
# ---- capacity-balanced assignment: 4 envs over 2 shards, 2 envs each
wait_for "$TMP/a.out" "ASSIGN fold=0 phase=train n=3 shards=BTCUSD/3600,BTCUSD/3600,EURUSD/3600 chunks=tcp://127.0.0.1:45556" 10
wait_for "$TMP/c.out" "ASSIGN fold=0 phase=train n=1 shards=EURUSD/3600 " 10

# ---- bad frames are counted, the broker keeps going
"$FAKE" --endpoint "$EP" --garbage >"$TMP/g.out" 2>&1 || fail "garbage sender failed: $(cat "$TMP/g.out")"
"$XT" status --run-dir "$RUN" >"$TMP/s1.out" 2>&1 || fail "status after garbage failed: $(cat "$TMP/s1.out")"
for want in "run         tiny" "fold        0 (of 2 folds" "phase       train" "progress    " "env steps)" \
            "workers     1 learner, 2 actors (4 envs)" "learner  learner-0" "actor    actor-a" "actor    actor-b"; do
    grep -qF -- "$want" "$TMP/s1.out" || { fail "status lacks \"$want\""; cat "$TMP/s1.out" >&2; }
done
URL="$(grep -o 'metrics http://[^ ,]*' "$TMP/b1.log" | head -1 | cut -d' ' -f2)"
http_get "$URL/metrics" >"$TMP/m.txt"
grep -q '^xtrade_decode_errors_total{socket="control"} 6$' "$TMP/m.txt" \
    || { fail "decode errors not counted as 6"; grep decode "$TMP/m.txt" >&2; }
grep -q '^xtrade_connected_actors 2$' "$TMP/m.txt" || fail "metrics: connected actors != 2"
grep -q '^xtrade_phase{phase="train"} 1$' "$TMP/m.txt" || fail "metrics: phase train not 1"
http_get "$URL/healthz" | grep -q "ok" || fail "/healthz is not ok"
kill -0 "$B1" 2>/dev/null || fail "broker died after the bad frames"
"$XT" status --broker "tcp://127.0.0.1:1" --timeout-ms 300 >/dev/null 2>"$TMP/s0.err" \
    && fail "status to a dead endpoint succeeded"
grep -q "no reply from tcp://127.0.0.1:1 within 0.3 s" "$TMP/s0.err" || fail "status timeout message: $(cat "$TMP/s0.err")"

# ---- kill -9 in fold 1, restart on the same port: resume from the journal
wait_for "$TMP/l.out" "train fold=1" 20
{ kill -9 "$B1" && wait "$B1"; } 2>/dev/null
grep -q "fold 0 done" "$TMP/b1.log" || fail "fold 0 was not done before the kill"
"$BROKER" --config "$SRC/configs/tiny.yaml" "${SETS[@]}" --set "broker.port=$PORT" --run-dir "$RUN" >"$TMP/b2.log" 2>&1 &
B2=$!; PIDS+=("$B2")
wait_for "$TMP/b2.log" "INFO ready" 10
grep -q "run tiny: fold 1 of 2, train, 2 shards x 8192 env steps (resumed" "$TMP/b2.log" \
    || { fail "restarted broker did not resume fold 1 in train"; cat "$TMP/b2.log" >&2; }
wait_for "$TMP/b2.log" "learner learner-0 registered" 10
"$XT" status --run-dir "$RUN" >"$TMP/s2.out" 2>&1
grep -qF "fold        1 (of 2 folds" "$TMP/s2.out" || { fail "status after restart: not fold 1"; cat "$TMP/s2.out" >&2; }

# ---- everyone reaches DONE
wait "$L"; rc=$?; [ "$rc" -eq 0 ] || { fail "learner exited $rc"; cat "$TMP/l.out" >&2; }
wait "$A"; rc=$?; [ "$rc" -eq 0 ] || { fail "actor-a exited $rc"; cat "$TMP/a.out" >&2; }
wait "$C"; rc=$?; [ "$rc" -eq 0 ] || { fail "actor-b exited $rc"; cat "$TMP/c.out" >&2; }
wait "$B2"; rc=$?; [ "$rc" -eq 0 ] || { fail "restarted broker exited $rc"; cat "$TMP/b2.log" >&2; }
grep -q "^done fold=1" "$TMP/l.out" || fail "learner never got DONE"
grep -q "run tiny done: 2 folds" "$TMP/b2.log" || { fail "no run summary"; cat "$TMP/b2.log" >&2; }
# Fold 0 was never redone: no fold-0 command after fold 1 began, and the
# restarted broker logged nothing about fold 0.
sed -n '/train fold=1/,$p' "$TMP/l.out" | grep -q "fold=0" && { fail "learner got a fold-0 command after fold 1"; cat "$TMP/l.out" >&2; }
grep -q "fold 0" "$TMP/b2.log" && { fail "restarted broker touched fold 0"; cat "$TMP/b2.log" >&2; }
grep -q "RESULT fold=1" "$TMP/a.out" "$TMP/c.out" || fail "no fold-1 evaluation"
# The report: written from the journal before DONE.
for f in report.json report.csv report.html; do [ -s "$RUN/$f" ] || fail "no $f"; done
grep -q '"run_id": "tiny"' "$RUN/report.json" || fail "report.json lacks the run id"
grep -q '{"fold": 1, "train"' "$RUN/report.json" || fail "report.json lacks fold 1"
[ "$(grep -c '^tiny,[01],.*,agent,' "$RUN/report.csv")" -eq 4 ] || fail "report.csv: not 2 folds x 2 shards of agent rows"
grep -q "report written" "$TMP/b2.log" || fail "no 'report written' line"
# A third start of the finished run (config from XTRADE_CONFIG) says so
# and exits 0 by itself.
XTRADE_CONFIG="$SRC/configs/tiny.yaml" timeout 20 "$BROKER" "${SETS[@]}" --run-dir "$RUN" >"$TMP/b3.log" 2>&1
rc=$?; [ "$rc" -eq 0 ] || fail "broker on a finished run exited $rc"
grep -q "run tiny: finished (2 folds)" "$TMP/b3.log" || { fail "finished run not recognised"; cat "$TMP/b3.log" >&2; }

# ---- bad usage and a changed plan
"$BROKER" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option did not exit 2"
"$BROKER" --version | grep -q "^xtrade-broker " || fail "--version"
"$BROKER" --config "$SRC/configs/tiny.yaml" "${SETS[@]}" --set ppo.total_steps=4096 --run-dir "$RUN" >"$TMP/b4.log" 2>&1
rc=$?; [ "$rc" -eq 1 ] || fail "changed plan: exit $rc, expected 1"
grep -q "broker.journal: run \"tiny\" was started with a different plan" "$TMP/b4.log" \
    || { fail "changed plan not refused"; cat "$TMP/b4.log" >&2; }

[ "$FAILS" -eq 0 ] && echo "broker_fake: all checks passed"
exit $((FAILS > 0))
