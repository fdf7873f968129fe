#!/usr/bin/env bash
# `xtrade cluster up` end to end: the real broker, learner and 2 actors on
# loopback with ephemeral ports run configs/tiny.yaml's two folds. While it
# runs: every daemon's /metrics answers with its families, and garbage sent
# to the broker's ROUTER and to the learner's chunk PULL is counted in
# xtrade_decode_errors_total while both keep serving. At the end: exit 0,
# the summary table (agent and the three baselines per fold), report.html
# with its charts, report.json/csv with both folds, eval CSVs, checkpoints,
# the exported model; `xtrade eval --checkpoint` on fold 1's checkpoint and
# on the exported model reproduces the report's agent return; fewer than 10%
# of the chunks dropped for policy lag and no negative lag on the progress
# line; no daemon is left running. Bad usage is refused.
# Usage: bash cluster_up.sh <xtrade-binary> <source-dir>
set -u
# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
xt_cluster_setup cluster-up "$1" "$2"
FAKE="$BIN/../tests/xt-fake-peer"

# http_get URL: body of an HTTP GET (curl when present, else bash's /dev/tcp).
http_get() {
    if command -v curl >/dev/null; then curl -s --max-time 5 "$1"; return; fi
    local hp="${1#http://}"; local host="${hp%%:*}"; local rest="${hp#*:}"
    exec 3<>"/dev/tcp/$host/${rest%%/*}"
    printf 'GET /%s HTTP/1.0\r\n\r\n' "${rest#*/}" >&3
    cat <&3
    exec 3<&-
}

# metric FILE NAME{LABELS}: the value of one sample line (0 when absent).
metric() { awk -v k="$2" 'index($0, k " ") == 1 { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }

# ---- bad usage
"$XT" cluster up >"$TMP/u.out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q -- "--config FILE is required" "$TMP/u.out" || fail "no --config: rc $rc, $(cat "$TMP/u.out")"
"$XT" cluster up --config "$SRC/configs/tiny.yaml" --actors x >"$TMP/u.out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q -- "--actors x: expected a number" "$TMP/u.out" || fail "--actors x: rc $rc, $(cat "$TMP/u.out")"
"$XT" cluster down >"$TMP/u.out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "cluster up --config FILE" "$TMP/u.out" || fail "cluster down: rc $rc, $(cat "$TMP/u.out")"

# ---- the run: relative run.dir / cache / models land in $TMP
cd "$TMP" || exit 1
SETS=(--set broker.heartbeat_ms=200 --set broker.liveness_ms=1500 --set actor.reconnect_ms=300
      --set ppo.total_steps=600000 --set learner.checkpoint_every=20)
"$XT" cluster up --config "$SRC/configs/tiny.yaml" --actors 2 "${SETS[@]}" --progress 1 --timeout 150 \
    >"$TMP/up.out" 2>&1 &
UP=$!
wait_for "$TMP/up.out" "ready (pid" 30 4 || { kill -INT "$UP"; wait "$UP"; exit 1; }
RUN="$TMP/runs/tiny"

# ---- /metrics of every daemon
declare -A URL
while read -r name url; do URL[$name]="$url"; done < <(sed -n 's/^\([a-z]*-[0-9]*\) *ready (pid [0-9]*): metrics \(http[^ ]*\)/\1 \2/p' "$TMP/up.out")
for d in broker-0 learner-0 actor-0 actor-1; do
    [ -n "${URL[$d]:-}" ] || { fail "no metrics URL for $d in the output"; continue; }
    case "${URL[$d]}" in http://127.0.0.1:[0-9]*/metrics) ;; *) fail "$d metrics on ${URL[$d]} (expected loopback)" ;; esac
    http_get "${URL[$d]}" >"$TMP/$d.prom"
    grep -q '^xtrade_build_info{' "$TMP/$d.prom" || fail "$d /metrics has no xtrade_build_info"
done
# The actors count env steps once they have their shards (give slow builds a moment).
for d in actor-0 actor-1; do
    for _ in $(seq 100); do
        grep -q '^xtrade_env_steps_total{actor="'"$d"'"' "$TMP/$d.prom" && break
        sleep 0.1; http_get "${URL[$d]}" >"$TMP/$d.prom"
    done
done
grep -q '^xtrade_phase{phase="train"} 1' "$TMP/broker-0.prom" || fail "broker /metrics: not in train: $(grep phase "$TMP/broker-0.prom")"
grep -q '^xtrade_learner_updates_total' "$TMP/learner-0.prom" || fail "learner /metrics lacks xtrade_learner_updates_total"
grep -q '^xtrade_env_steps_total{actor="actor-0"' "$TMP/actor-0.prom" || fail "actor-0 /metrics lacks its xtrade_env_steps_total"
grep -q '^xtrade_stage_seconds_total{stage="env_step"}' "$TMP/actor-1.prom" || fail "actor-1 /metrics lacks the env_step stage"

# ---- garbage to the broker's ROUTER and the learner's PULL: counted, both go on
EP="$(cat "$RUN/broker.endpoint")"
CHUNKS="$(grep -o 'ready: chunks tcp://[0-9.:]*' "$RUN/logs/learner-0.log" | tail -1 | cut -d' ' -f3)"
[ -n "$CHUNKS" ] || fail "no chunk endpoint in the learner's log"
"$FAKE" --endpoint "$EP" --garbage >"$TMP/g1.out" 2>&1 || fail "garbage to the broker: $(cat "$TMP/g1.out")"
"$FAKE" --endpoint "$CHUNKS" --garbage --socket push >"$TMP/g2.out" 2>&1 || fail "garbage to the learner: $(cat "$TMP/g2.out")"
sleep 0.5
http_get "${URL[broker-0]}" >"$TMP/b2.prom"
http_get "${URL[learner-0]}" >"$TMP/l2.prom"
n="$(metric "$TMP/b2.prom" 'xtrade_decode_errors_total{socket="control"}')"
[ "${n%.*}" -ge 5 ] || fail "broker counted $n control decode errors (expected >= 5 of 6 bad frames)"
n="$(metric "$TMP/l2.prom" 'xtrade_decode_errors_total{socket="chunks"}')"
[ "${n%.*}" -ge 3 ] || fail "learner counted $n chunk decode errors (expected >= 3 of 6 bad frames)"
"$XT" status --run-dir "$RUN" >"$TMP/st.out" 2>&1 || fail "status during the run: $(cat "$TMP/st.out")"
grep -q "workers     1 learner, 2 actors" "$TMP/st.out" || fail "status after garbage: $(cat "$TMP/st.out")"

# ---- the end of the run
wait "$UP"; rc=$?; UP=""
[ $rc -eq 0 ] || { fail "cluster up exited $rc"; cat "$TMP/up.out" >&2; }
for want in "run tiny finished in" "fold   strategy" "0      agent" "1      agent" "all    agent" \
            "       buy_and_hold" "       equal_weight" "       cash" "report: runs/tiny/report.html"; do
    grep -qF -- "$want" "$TMP/up.out" || fail "cluster up output lacks \"$want\""
done
grep -q "restart" "$TMP/up.out" && fail "a daemon was restarted in a clean run: $(grep restart "$TMP/up.out")"
[ "$(grep -c '<svg' "$RUN/report.html" 2>/dev/null)" -ge 4 ] || fail "report.html has no charts"
grep -q "agent curves 4 of 4; baselines walked on the feature caches 4 of 4" "$RUN/report.html" ||
    fail "report summary does not say every curve was found"
[ "$(grep -c ',agent,' "$RUN/report.csv")" -eq 4 ] || fail "report.csv: expected 2 folds x 2 shards of agent rows"
grep -q '"dsr"' "$RUN/report.json" || fail "report.json has no DSR"
for f in fold-0/ckpt-best.xtck fold-1/ckpt-best.xtck fold-0/eval/BTCUSD-1h.csv fold-1/eval/EURUSD-1h.csv \
         logs/broker-0.log logs/learner-0.log logs/actor-0.log logs/actor-1.log; do
    [ -s "$RUN/$f" ] || fail "$RUN/$f missing"
done
# Async flow control: actors block instead of queueing, so few chunks wait
# past learner.max_policy_lag (~80% were dropped for lag when the TCP
# buffers between actors and learner held many batches; now well under 1%).
line="$(grep -o 'chunks: [0-9]* received, [0-9]* trained; dropped:.*' "$RUN/logs/learner-0.log" | tail -1)"
recv="$(sed -n 's/^chunks: \([0-9]*\) received.*/\1/p' <<<"$line")"
lagd="$(sed -n 's/.* policy_lag \([0-9]*\).*/\1/p' <<<"$line")"
if [ -z "$recv" ] || [ -z "$lagd" ] || [ "$recv" -lt 1000 ]; then
    fail "learner log: no chunk totals with >= 1000 chunks: \"$line\""
elif [ $((lagd * 10)) -ge "$recv" ]; then
    fail "learner dropped $lagd of $recv chunks for policy lag (>= 10%): $line"
fi
# The progress line's policy lag is never negative.
grep -q "policy lag -[0-9]" "$TMP/up.out" && fail "negative policy lag: $(grep -m1 "policy lag -[0-9]" "$TMP/up.out")"
MODEL="$TMP/models/shared/ppo/1h/tiny.xtck"
[ -s "$MODEL" ] || fail "no exported model at models/shared/ppo/1h/tiny.xtck"
cmp -s "$MODEL" "$RUN/fold-1/ckpt-best.xtck" || fail "the exported model is not fold 1's evaluated checkpoint"

# ---- checkpoints load: eval reproduces the actors' evaluation in the report
want="$(awk -F, '$2 == 1 && $7 == "BTCUSD" && $9 == "agent" { printf "%.3f", 100 * $11 }' "$RUN/report.csv")"
for ck in "$RUN/fold-1/ckpt-best.xtck" "$MODEL"; do
    "$XT" eval --checkpoint "$ck" --config "$SRC/configs/tiny.yaml" --fold 1 >"$TMP/ev.out" 2>&1 ||
        { fail "eval --checkpoint $ck: $(tail -3 "$TMP/ev.out")"; continue; }
    got="$(awk '$1 == "BTCUSD-1h" && $2 == "agent" { print $3 }' "$TMP/ev.out")"
    [ -n "$want" ] && [ "$got" = "$want" ] || fail "eval of $ck: BTCUSD-1h return $got%, the report has $want%"
done

# ---- no sanitizer report in any daemon's log (ASan builds)
bad="$(grep -l "ERROR: AddressSanitizer\\|runtime error:" "$RUN"/logs/*.log "$TMP"/*.out 2>/dev/null)"
[ -z "$bad" ] || fail "sanitizer reports in: $bad: $(grep -h -A5 "ERROR: AddressSanitizer\\|runtime error:" $bad | head -20)"
# Leaks are reported, not failed (LSAN_OPTIONS exitcode=0 above keeps exit statuses honest).
leaky="$(grep -l "ERROR: LeakSanitizer" "$RUN"/logs/*.log "$TMP"/*.out 2>/dev/null)"
[ -z "$leaky" ] || echo "WARN: LeakSanitizer reports (not failed) in: $leaky" >&2

# ---- nothing left running
for pid in $(sed -n 's/.*ready (pid \([0-9]*\)).*/\1/p' "$TMP/up.out"); do
    kill -0 "$pid" 2>/dev/null && fail "daemon pid $pid still running after cluster up exited"
done

[ $FAILS -eq 0 ] && echo "cluster_up: all checks passed" || echo "cluster_up: $FAILS failure(s)"
exit $((FAILS > 0))
