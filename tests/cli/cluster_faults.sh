#!/usr/bin/env bash
# Faults under `xtrade cluster up` (configs/tiny.yaml, real daemons):
#  1. an actor frozen past broker.liveness_ms is dropped and its shards
#     reassigned to the other actor; then it is killed -9 and the
#     supervisor restarts it;
#  2. the learner killed -9 after a periodic checkpoint is restarted and
#     resumes from that checkpoint;
#  3. the broker killed -9 is restarted on the same port and resumes the
#     run from its journal (no fold redone);
#  and the run still completes with every fold in the report. Then: Ctrl-C
#  (SIGINT) stops every daemon cleanly (exit 130, no process left) and the
#  same command resumes and finishes the run; a learner that keeps crashing
#  trips the crash-loop breaker (exit 1 naming the daemon and its log); a
#  daemon failing at start is not retried.
# Usage: bash cluster_faults.sh <xtrade-binary> <source-dir>
set -u
# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
xt_cluster_setup cluster-faults "$1" "$2"

# pid_of OUT NAME: the pid of a daemon's latest start in cluster up's output.
pid_of() { sed -n "s/^$2 *\(ready\|restarted\) (pid \([0-9]*\).*/\2/p" "$1" | tail -1; }
# pids_of OUT: every daemon pid cluster up reported.
pids_of() { sed -n 's/.* (pid \([0-9]*\)[,)].*/\1/p' "$1" | sort -u; }
no_orphans() {
    for pid in $(pids_of "$1"); do
        kill -0 "$pid" 2>/dev/null && fail "$2: daemon pid $pid still running after cluster up exited"
    done
}

cd "$TMP" || exit 1
CFG="$SRC/configs/tiny.yaml"
FAST=(--set broker.heartbeat_ms=200 --set broker.liveness_ms=1500 --set actor.reconnect_ms=300)

# ---------------------------------------------------------------- 1-3: kill -9 actor, learner, broker
OUT="$TMP/up.out"
"$XT" cluster up --config "$CFG" "${FAST[@]}" --set ppo.total_steps=2000000 --set learner.checkpoint_every=10 \
    --progress 1 --timeout 170 >"$OUT" 2>&1 &
UP=$!
RUN="$TMP/runs/tiny"
wait_for "$OUT" "ready (pid" 30 4 || { kill -9 "$UP"; exit 1; }
wait_for "$RUN/logs/learner-0.log" "fold 0 | step" 30

# 1. actor-0 frozen: dropped after liveness, its shards go to actor-1; then killed -9.
A0="$(pid_of "$OUT" actor-0)"
kill -STOP "$A0"
wait_for "$RUN/logs/broker-0.log" "actor actor-0 (incarnation [0-9]*) silent for .* dropped; its shards are reassigned" 15
wait_for "$RUN/logs/actor-1.log" "fold 0: 16 envs over 2 shards" 10 # its 16 envs now cover both shards
kill -9 "$A0"
wait_for "$OUT" "actor-0 *killed by signal 9 (Killed): restarting in 0.5 s" 10
wait_for "$OUT" "actor-0 *restarted (pid" 10
wait_for "$RUN/logs/broker-0.log" "actor actor-0 registered" 15 2

# 2. learner killed -9 after a periodic checkpoint: restarted, resumes from it.
wait_for "$RUN/logs/learner-0.log" "fold [01]: checkpoint runs/tiny/fold-[01]/ckpt-" 60
L0="$(pid_of "$OUT" learner-0)"
kill -9 "$L0"
wait_for "$OUT" "learner-0 *killed by signal 9 (Killed): restarting" 10
wait_for "$RUN/logs/learner-0.log" "fold [01]: resumed from runs/tiny/fold-[01]/ckpt-[0-9]*.xtck" 30
# The broker sees a new incarnation ("restarted"), or first drops the silent old one (slow builds).
wait_for "$RUN/logs/broker-0.log" "learner learner-0 registered" 15 2

# 3. broker killed -9 (before the end of the run): restarted on its port, resumes from the journal.
"$XT" status --run-dir "$RUN" >"$TMP/st.out" 2>&1
grep -q "phase       done" "$TMP/st.out" && fail "the run ended before the broker could be killed; raise ppo.total_steps"
B0="$(pid_of "$OUT" broker-0)"
EP="$(cat "$RUN/broker.endpoint")"
kill -9 "$B0"
wait_for "$OUT" "broker-0 *killed by signal 9 (Killed): restarting" 10
wait_for "$RUN/logs/broker-0.log" "(resumed, [0-9]* journal records)" 20
[ "$(cat "$RUN/broker.endpoint")" = "$EP" ] || fail "the restarted broker is at $(cat "$RUN/broker.endpoint"), not $EP"

wait "$UP"; rc=$?; UP=""
[ $rc -eq 0 ] || { fail "cluster up with faults exited $rc"; tail -30 "$OUT" >&2; }
grep -q "run tiny finished" "$OUT" || fail "no 'finished' line"
[ "$(grep -c ',agent,' "$RUN/report.csv" 2>/dev/null)" -eq 4 ] || fail "report.csv lacks a fold: $(cut -d, -f2,7,9 "$RUN/report.csv" 2>&1)"
[ "$(grep -c "fold 0 done" "$RUN/logs/broker-0.log")" -eq 1 ] || fail "fold 0 was done more than once (or never)"
[ -s "$TMP/models/shared/ppo/1h/tiny.xtck" ] || fail "no exported model after the faults"
no_orphans "$OUT" "faults run"

# ---------------------------------------------------------------- Ctrl-C, then resume
OUT2="$TMP/int.out"
"$XT" cluster up --config "$CFG" "${FAST[@]}" --set run.id=tiny-int --set ppo.total_steps=600000 \
    --progress 1 --timeout 100 >"$OUT2" 2>&1 &
UP=$!
wait_for "$OUT2" "ready (pid" 30 4
wait_for "$TMP/runs/tiny-int/logs/learner-0.log" "fold 0 | step" 30
kill -INT "$UP"
wait "$UP"; rc=$?; UP=""
[ $rc -eq 130 ] || fail "SIGINT: cluster up exited $rc (expected 130)"
grep -q "stopping 4 daemons (interrupted)" "$OUT2" || fail "SIGINT: no stop line: $(tail -5 "$OUT2")"
grep -q "run tiny-int stopped after" "$OUT2" || fail "SIGINT: no 'stopped' line"
grep -q "did not stop: SIGKILL" "$OUT2" && fail "SIGINT: a daemon needed SIGKILL: $(grep SIGKILL "$OUT2")"
no_orphans "$OUT2" "SIGINT"
for n in broker-0 learner-0 actor-0 actor-1; do
    tail -1 "$TMP/runs/tiny-int/logs/$n.log" | grep -q "exit status 0" ||
        fail "SIGINT: $n did not exit 0: $(tail -2 "$TMP/runs/tiny-int/logs/$n.log")"
done
OUT3="$TMP/resume.out"
"$XT" cluster up --config "$CFG" "${FAST[@]}" --set run.id=tiny-int --set ppo.total_steps=600000 \
    --progress 5 --timeout 150 >"$OUT3" 2>&1
rc=$?
[ $rc -eq 0 ] || { fail "resume after SIGINT exited $rc"; tail -20 "$OUT3" >&2; }
grep -q "(resumed, [0-9]* journal records)" "$TMP/runs/tiny-int/logs/broker-0.log" || fail "the second run did not resume"
grep -q "fold 0: resumed from runs/tiny-int/fold-0/ckpt-" "$TMP/runs/tiny-int/logs/learner-0.log" ||
    fail "the learner did not resume fold 0 from its stop checkpoint"

# ---------------------------------------------------------------- crash loop and start failures
# A learner that segfaults 0.3 s after each start (the real broker and actors around it).
mkdir -p "$TMP/bin"
cp "$XT" "$TMP/bin/xtrade"
ln -s "$BIN/xtrade-broker" "$TMP/bin/xtrade-broker"
ln -s "$BIN/xtrade-actor" "$TMP/bin/xtrade-actor"
printf '#!/bin/sh\necho "fake learner: crashing"\nsleep 0.3\nkill -SEGV $$\n' >"$TMP/bin/xtrade-learner"
chmod +x "$TMP/bin/xtrade-learner"
OUT4="$TMP/loop.out"
"$TMP/bin/xtrade" cluster up --config "$CFG" "${FAST[@]}" --set run.id=tiny-loop --actors 1 --timeout 60 \
    >"$OUT4" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "crash loop: exit $rc (expected 1)"
grep -q "learner-0 (xtrade-learner) crashed 5 times within 60 s (last: killed by signal 11 (Segmentation fault)): crash loop; stopping the run. Its log: runs/tiny-loop/logs/learner-0.log" "$OUT4" ||
    { fail "crash loop: no breaker message"; cat "$OUT4" >&2; }
grep -q "fake learner: crashing" "$OUT4" || fail "crash loop: the message lacks the log's last lines"
[ "$(grep -c "restarting in" "$OUT4")" -eq 4 ] || fail "crash loop: expected 4 restarts before the breaker"
no_orphans "$OUT4" "crash loop"

# A learner that refuses its config at start: stopped at once, not retried.
OUT5="$TMP/bad.out"
"$XT" cluster up --config "$CFG" "${FAST[@]}" --set run.id=tiny-bad --set learner.backend=cuda --actors 1 \
    --timeout 60 >"$OUT5" 2>&1
rc=$?
if grep -q "no CUDA backend" "$TMP/runs/tiny-bad/logs/learner-0.log" 2>/dev/null; then
    [ $rc -eq 1 ] || fail "start failure: exit $rc"
    grep -q "learner-0 (xtrade-learner) exited with exit status 1 .* after its start (a configuration or start-up error)" "$OUT5" ||
        { fail "start failure: no message"; cat "$OUT5" >&2; }
    grep -q "restarting in" "$OUT5" && fail "start failure: the learner was retried"
    no_orphans "$OUT5" "start failure"
fi # (a CUDA build accepts learner.backend=cuda: nothing to check there)

# No sanitizer report in any daemon's log (ASan builds).
bad="$(grep -l "ERROR: AddressSanitizer\\|runtime error:" "$TMP"/runs/*/logs/*.log "$TMP"/*.out 2>/dev/null)"
[ -z "$bad" ] || fail "sanitizer reports in: $bad: $(grep -h -A5 "ERROR: AddressSanitizer\\|runtime error:" $bad | head -20)"
# Leaks are reported, not failed (LSAN_OPTIONS exitcode=0 above keeps exit statuses honest).
leaky="$(grep -l "ERROR: LeakSanitizer" "$TMP"/runs/*/logs/*.log "$TMP"/*.out 2>/dev/null)"
[ -z "$leaky" ] || echo "WARN: LeakSanitizer reports (not failed) in: $leaky" >&2

[ $FAILS -eq 0 ] && echo "cluster_faults: all checks passed" || echo "cluster_faults: $FAILS failure(s)"
exit $((FAILS > 0))
