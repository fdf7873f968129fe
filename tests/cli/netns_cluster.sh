#!/usr/bin/env bash
# A cluster across three network namespaces, as on three machines:
#
#   <p>hd  10.77.0.1  "head": xtrade-broker and xtrade-learner (CPU)
#   <p>a1  10.77.0.2  xtrade-actor actor-ns1
#   <p>a2  10.77.0.3  xtrade-actor actor-ns2
#   <p>sw             a bridge br0 with one veth pair to each of the above
#
# (<p> = xtns<pid>). The addresses exist only inside these namespaces; the
# host's own namespace is never touched (the veth pairs are created inside
# <p>sw and moved straight into the others). Every daemon uses its default
# ports (5555, 5556, 5557, 9100-9102: each namespace has its own port space)
# and its own run and cache folder, as separate machines would: each daemon
# runs in the mount namespace `ip netns exec` gives it, with the other
# machines' folders covered by an empty tmpfs, so nothing is shared but the
# network (the broker and the learner share the head's folder, as on one
# machine). The actors get weights over the wire, never a checkpoint file,
# and their eval CSVs stay on their machines: the broker's report then has
# no agent curves and says so. configs/tiny.yaml, two folds.
#
# Checks, in order:
#   1. broker and learner bind in <p>hd; from <p>a1 their /healthz and
#      /metrics answer on 10.77.0.1 (what a Prometheus elsewhere scrapes),
#      and `xtrade status --broker tcp://10.77.0.1:5555` from <p>a2 lists the
#      run and the learner;
#   2. the learner is paused (SIGSTOP) while the actors start, so the run
#      cannot finish before the actors' /metrics on 10.77.0.2 and 10.77.0.3
#      are read from <p>hd (each reports xtrade_build_info{role="actor"});
#      then it resumes (SIGCONT) well within the broker's liveness timeout;
#   3. inside an actor namespace nothing listens on 127.0.0.1:5555: the
#      actors can only have reached the broker across the bridge;
#   4. the run completes: every daemon exits 0 by itself (DONE), the broker
#      writes report.json (2 folds, each shard evaluated), the 4 eval CSVs
#      are in the actors' folders and none in the head's, each actor logged
#      registering with tcp://10.77.0.1:5555, training with chunks to
#      tcp://10.77.0.1:<port>, and at least one evaluation.
# Namespaces and processes are removed on every exit path (trap).
#
# Usage: bash netns_cluster.sh <xtrade-binary> <source-dir>
# Prints "netns_cluster: N passed, M failed" (exit 1 when M > 0), or
# "netns_cluster: SKIP: <reason>" (exit 0) when it is not root, iproute2 or
# the daemons are missing, or namespaces, bridges or veth pairs cannot be
# created here. Bounded: the run gets XTRADE_NETNS_TIMEOUT s (default 120).
set -u
XT=${1:?usage: netns_cluster.sh <xtrade-binary> <source-dir>}
SRC=${2:?usage: netns_cluster.sh <xtrade-binary> <source-dir>}
BIN=$(cd "$(dirname "$XT")" && pwd)
XT="$BIN/$(basename "$XT")"
RUN_TIMEOUT=${XTRADE_NETNS_TIMEOUT:-120}
T_START=$SECONDS
unset XTRADE_CONFIG XTRADE_BROKER XT_BROKER XTRADE_METRICS_PORT XTRADE_ADVERTISE_HOST XTRADE_METRICS_ADDR XTRADE_ACTOR_ID

say() { echo "netns_cluster: $*"; }
skip() {
    say "SKIP: $*"
    exit 0
}

# ---- preconditions

missing=""
for d in xtrade xtrade-broker xtrade-learner xtrade-actor; do
    [ -x "$BIN/$d" ] || missing="$missing $d"
done
[ -z "$missing" ] || skip "daemons not built in $BIN (missing:$missing)"
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces (ip netns add); run as root"
command -v ip >/dev/null 2>&1 || skip "no ip command (Debian package iproute2)"
command -v python3 >/dev/null 2>&1 || skip "no python3 (Debian package python3)"

P="xtns$$"
NS_SW=${P}sw
NS_HD=${P}hd
NS_A1=${P}a1
NS_A2=${P}a2
HD_IP=10.77.0.1
A1_IP=10.77.0.2
A2_IP=10.77.0.3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/xt-netns-XXXXXX")
PIDS=()
CREATED=()
STOPPED=""

cleanup() {
    local p ns
    [ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 30); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    # Anything still inside our namespaces was started by this script.
    for ns in "${CREATED[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for ns in "${CREATED[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ "${XTRADE_NETNS_KEEP:-0}" = 1 ]; then
        say "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

PASS=0
FAIL=0
ok() {
    PASS=$((PASS + 1))
    echo "ok - $*"
}
bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL - $*"
}
finish() {
    if [ "$FAIL" -gt 0 ]; then
        local f
        for f in "$TMP"/*.log; do
            [ -f "$f" ] || continue
            echo "---- ${f##*/} (last 10 lines)"
            tail -n 10 "$f"
        done
    fi
    say "$PASS passed, $FAIL failed ($((SECONDS - T_START)) s)"
    [ "$FAIL" -eq 0 ]
    exit $?
}

# ---- namespaces, bridge, veth pairs

for ns in "$NS_SW" "$NS_HD" "$NS_A1" "$NS_A2"; do
    if ! out=$(ip netns add "$ns" 2>&1); then
        skip "cannot create network namespaces here (ip netns add $ns: $out)"
    fi
    CREATED+=("$ns")
    ip -n "$ns" link set lo up 2>/dev/null || skip "cannot bring up lo in namespace $ns"
done
out=$(ip -n "$NS_SW" link add br0 type bridge 2>&1) || skip "cannot create a bridge in a namespace ($out)"
ip -n "$NS_SW" link set br0 up
# link NS PORT IP: veth pair, PORT on the bridge in sw, eth0 with IP in NS.
link() {
    local out
    out=$(ip -n "$NS_SW" link add "$2" type veth peer name eth0 netns "$1" 2>&1) ||
        skip "cannot create a veth pair into namespace $1 ($out)"
    ip -n "$NS_SW" link set "$2" master br0 up &&
        ip -n "$1" addr add "$3/24" dev eth0 &&
        ip -n "$1" link set eth0 up || skip "cannot configure eth0 ($3) in namespace $1"
}
link "$NS_HD" vhd "$HD_IP"
link "$NS_A1" va1 "$A1_IP"
link "$NS_A2" va2 "$A2_IP"
say "namespaces $NS_HD ($HD_IP), $NS_A1 ($A1_IP), $NS_A2 ($A2_IP) on bridge br0 in $NS_SW"

# nsx NS CMD...: run CMD inside namespace NS, in the foreground. Daemons are
# started with a plain `ip netns exec NS ... &` instead: ip execs the command,
# so $! is the daemon's pid (a function put in the background would be a
# subshell, and signals to its pid would miss the daemon).
nsx() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
# http NS URL: body of a GET from inside NS (python3: no curl needed).
http() {
    nsx "$1" python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' "$2"
}
# wait_line FILE PATTERN SECONDS
wait_line() {
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# wait_http NS URL SECONDS: until URL answers from inside NS.
wait_http() {
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        http "$1" "$2" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# The link itself, before any daemon: a listener in hd reached from a1 and a2.
ip netns exec "$NS_HD" python3 -c 'import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 7999)); s.listen(4); s.settimeout(10)
open(sys.argv[2], "w").write("listening\n")
for _ in range(2):
    c, _a = s.accept(); c.sendall(b"hd\n"); c.close()' "$HD_IP" "$TMP/probe.ready" &
probe=$!
wait_line "$TMP/probe.ready" listening 10
reach=0
for ns in "$NS_A1" "$NS_A2"; do
    got=$(nsx "$ns" timeout 5 bash -c "exec 3<>/dev/tcp/$HD_IP/7999 && cat <&3" 2>/dev/null)
    [ "$got" = hd ] && reach=$((reach + 1))
done
kill "$probe" 2>/dev/null
wait "$probe" 2>/dev/null
[ $reach = 2 ] && ok "TCP across the bridge: $NS_A1 and $NS_A2 reach $HD_IP" ||
    { bad "TCP across the bridge: only $reach of 2 actor namespaces reach $HD_IP"; finish; }

# ---- private folders: each "machine" sees only its own

# `ip netns exec` already gives each command a mount namespace of its own
# (slave to the host's), so a tmpfs mounted there over the other machines'
# folders hides them from that daemon alone and never shows on the host.
mkdir -p "$TMP/hd" "$TMP/a1" "$TMP/a2"
HIDE=1
if ! out=$(ip netns exec "$NS_A1" sh -c 'mount -t tmpfs -o size=64k tmpfs "$1" && umount "$1"' sh "$TMP/hd" 2>&1); then
    HIDE=0
    say "note: cannot mount a tmpfs inside a namespace ($out): the three machines share one filesystem"
fi
# on NS HIDDEN_DIRS CMD...: exec CMD in namespace NS with HIDDEN_DIRS (one
# word, space-separated) covered by empty tmpfs mounts. Put it in the
# background with & directly: ip, sh and CMD are one exec chain, so $! is
# CMD's pid.
on() {
    local ns=$1 hidden=$2
    shift 2
    [ "$HIDE" = 1 ] || hidden=""
    exec ip netns exec "$ns" sh -c 'for d in $1; do mount -t tmpfs -o size=64k tmpfs "$d" || exit 97; done
shift; exec "$@"' sh "$hidden" "$@"
}

# ---- 1. broker and learner on the head

CFG="$SRC/configs/tiny.yaml"
# Heartbeats every 500 ms, liveness 5 s: the learner's pause below is far shorter.
COMMON=(--set broker.heartbeat_ms=500 --set broker.liveness_ms=5000 --set learner.backend=cpu)
(on "$NS_HD" "$TMP/a1 $TMP/a2" "$BIN/xtrade-broker" --config "$CFG" "${COMMON[@]}" --set "run.dir=$TMP/hd/runs" \
    --set "data.cache_dir=$TMP/hd/cache") >"$TMP/broker.log" 2>&1 &
BROKER=$!
PIDS+=("$BROKER")
wait_line "$TMP/broker.log" "INFO ready" 20 || { bad "broker did not log ready within 20 s"; finish; }
(on "$NS_HD" "$TMP/a1 $TMP/a2" "$BIN/xtrade-learner" --config "$CFG" "${COMMON[@]}" --broker "tcp://$HD_IP:5555" \
    --set "run.dir=$TMP/hd/runs" --set "data.cache_dir=$TMP/hd/cache" --set "learner.advertise_host=$HD_IP" \
    ) >"$TMP/learner.log" 2>&1 &
LEARNER=$!
PIDS+=("$LEARNER")
wait_line "$TMP/learner.log" "registered with broker tcp://$HD_IP:5555" 20 ||
    { bad "learner did not register with the broker within 20 s"; finish; }
ok "broker and learner up in $NS_HD; learner registered with tcp://$HD_IP:5555"

if wait_http "$NS_A1" "http://$HD_IP:9100/healthz" 10 &&
    http "$NS_A1" "http://$HD_IP:9100/metrics" | grep -q '^xtrade_build_info{.*role="broker"'; then
    ok "broker /healthz and /metrics reachable from $NS_A1 at $HD_IP:9100"
else
    bad "broker /healthz or /metrics not reachable from $NS_A1 at $HD_IP:9100"
fi
if http "$NS_A1" "http://$HD_IP:9101/metrics" 2>/dev/null | grep -q '^xtrade_build_info{.*role="learner"'; then
    ok "learner /metrics reachable from $NS_A1 at $HD_IP:9101"
else
    bad "learner /metrics not reachable from $NS_A1 at $HD_IP:9101"
fi
if nsx "$NS_A2" "$XT" status --broker "tcp://$HD_IP:5555" >"$TMP/status.out" 2>&1 &&
    grep -q "tiny" "$TMP/status.out" && grep -q "learner" "$TMP/status.out"; then
    ok "xtrade status from $NS_A2 via tcp://$HD_IP:5555 lists run tiny and the learner"
else
    bad "xtrade status from $NS_A2 failed: $(head -5 "$TMP/status.out" | tr '\n' ' ')"
fi

# ---- 2. actors, read while the learner is paused

[ "$(readlink "/proc/$LEARNER/exe")" = "$BIN/xtrade-learner" ] ||
    { bad "pid $LEARNER is not the learner ($(readlink "/proc/$LEARNER/exe"))"; finish; }
kill -STOP "$LEARNER"
STOPPED=$LEARNER
paused_at=$SECONDS
start_actor() { # NS ID DIR
    local others="$TMP/hd"
    for d in a1 a2; do [ "$d" = "$3" ] || others="$others $TMP/$d"; done
    (on "$1" "$others" "$BIN/xtrade-actor" --config "$CFG" "${COMMON[@]}" --broker "tcp://$HD_IP:5555" --id "$2" \
        --envs 4 --set "run.dir=$TMP/$3/runs" --set "data.cache_dir=$TMP/$3/cache") >"$TMP/$2.log" 2>&1 &
    PIDS+=($!)
}
start_actor "$NS_A1" actor-ns1 a1
A1=${PIDS[-1]}
start_actor "$NS_A2" actor-ns2 a2
A2=${PIDS[-1]}
for spec in "actor-ns1 $A1_IP $NS_A1" "actor-ns2 $A2_IP $NS_A2"; do
    set -- $spec
    if wait_http "$NS_HD" "http://$2:9102/metrics" 3 &&
        http "$NS_HD" "http://$2:9102/metrics" 2>"$TMP/http.err" | grep -q '^xtrade_build_info{.*role="actor"'; then
        ok "$1 /metrics reachable from $NS_HD at $2:9102"
    else
        bad "$1 /metrics not reachable from $NS_HD at $2:9102: $(tail -n 1 "$TMP/http.err"); listening in $3: $(nsx "$3" ss -ltn 2>&1 | tr -s ' \n' ' ')"
    fi
done
kill -CONT "$LEARNER"
STOPPED=""
say "learner paused for $((SECONDS - paused_at)) s while the actors started"

# ---- 3. no shortcut over loopback

if nsx "$NS_A1" timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5555' 2>/dev/null; then
    bad "something listens on 127.0.0.1:5555 inside $NS_A1: the namespaces are not isolated"
else
    ok "nothing listens on 127.0.0.1:5555 inside $NS_A1 (the broker is only reachable across the bridge)"
fi

# ---- 4. the run completes

# wait_exit PID SECONDS: exit status of PID, or 124 when it is still running.
wait_exit() {
    local end=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        [ $SECONDS -lt $end ] || return 124
        sleep 0.2
    done
    wait "$1"
}
left=$((RUN_TIMEOUT - (SECONDS - T_START)))
[ $left -gt 10 ] || left=10
for spec in "broker $BROKER" "learner $LEARNER" "actor-ns1 $A1" "actor-ns2 $A2"; do
    set -- $spec
    wait_exit "$2" "$left"
    rc=$?
    left=$((RUN_TIMEOUT - (SECONDS - T_START)))
    [ $left -gt 5 ] || left=5
    if [ $rc = 0 ]; then
        ok "$1 exited 0 by itself"
    elif [ $rc = 124 ]; then
        bad "$1 still running after ${RUN_TIMEOUT} s"
    else
        bad "$1 exited $rc"
    fi
done

REPORT="$TMP/hd/runs/tiny/report.json"
if python3 - "$REPORT" >"$TMP/report.check" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
text = json.dumps(r)
folds = r.get("folds")
if not isinstance(folds, list) or len(folds) != 2:
    sys.exit("expected 2 folds in report.json, got %r" % (None if folds is None else len(folds)))
for sym in ("BTCUSD", "EURUSD"):
    if text.count(sym) < 2:
        sys.exit("report.json does not name %s in both folds" % sym)
print("2 folds")
EOF
then
    ok "the run finished on the head: report.json with $(cat "$TMP/report.check") and both symbols"
else
    bad "report.json: $(tail -n 2 "$TMP/report.check" | tr '\n' ' ')"
fi
# Each actor wrote its evaluations on its own machine; the head has none.
n_act=$(find "$TMP/a1/runs" "$TMP/a2/runs" -path '*/eval/*.csv' 2>/dev/null | wc -l)
n_head=$(find "$TMP/hd/runs" -path '*/eval/*.csv' 2>/dev/null | wc -l)
if [ "$n_act" = 4 ] && [ "$n_head" = 0 ]; then
    ok "the 4 eval CSVs (2 folds x 2 shards) are on the actors' machines, none on the head"
else
    bad "eval CSVs: $n_act on the actors' machines (expected 4), $n_head on the head (expected 0)"
fi
if [ "$HIDE" = 1 ]; then
    note=$(grep -o 'report: agent curves.*' "$TMP/broker.log" | head -1)
    [ -n "$note" ] && say "note: broker: $note"
fi
done_line=$(grep -o 'run tiny done: .*' "$TMP/broker.log" | head -1)
[ -n "$done_line" ] && ok "broker: $done_line" || bad "no 'run tiny done' line in the broker's log"

san=$(grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$TMP"/*.log 2>/dev/null | tr '\n' ' ')
[ -z "$san" ] && ok "no sanitizer report in the daemons' logs" || bad "sanitizer reports in: $san"
for a in actor-ns1 actor-ns2; do
    f="$TMP/$a.log"
    if grep -q "registered with the broker at tcp://$HD_IP:5555" "$f" &&
        grep -q "training: chunks to tcp://$HD_IP:[0-9]" "$f" &&
        grep -q "evaluated in" "$f"; then
        ok "$a registered with tcp://$HD_IP:5555, trained with chunks to tcp://$HD_IP, and evaluated"
    else
        bad "$a: missing registration, training on $HD_IP or an evaluation in its log"
    fi
done
finish
