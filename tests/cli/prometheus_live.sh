#!/usr/bin/env bash
# A real Prometheus scrapes a running local cluster, and every query of every
# panel of the Grafana dashboard returns data.
#
#   1. cluster: `xtrade cluster up --actors 2` runs xtrade-broker,
#      xtrade-learner (CPU) and two xtrade-actor processes on loopback, every
#      socket and /metrics on an ephemeral port; the /metrics URLs and pids
#      come from its "NAME ready (pid P): metrics URL" lines. The run config
#      is written here: configs/tiny.yaml's data, model and PPO sizes with
#      many short rolling folds, so evaluation results (the broker's
#      xtrade_eval_* gauges) exist after the first fold while later folds
#      keep every daemon running; the test stops the cluster (SIGTERM).
#   2. Prometheus (Debian package prometheus) on 127.0.0.1:<free port>, its
#      TSDB in a temporary folder, scrape_interval 1s, one job per role
#      (broker, learner, actor: the job names the dashboard groups by) with
#      static targets at the daemons' actual /metrics addresses.
#   3. waits until the targets API reports every target up and each has been
#      scraped at least twice (count_over_time(up[5m]) >= 2), then lets the
#      cluster run until XTRADE_PROM_SOAK seconds (default 20) have passed
#      since Prometheus started, so [1m] and [5m] rate() windows hold samples.
#   4. evaluates every PromQL expression of every panel (rows' nested panels
#      included) of deploy/grafana/dashboards/xtrade-training.json through
#      GET /api/v1/query and requires a non-empty result. An empty one is
#      retried every 2 s until the deadline, then fails with a diagnosis:
#      which metric no scraped daemon exports, and which daemon should
#      (its role in common/metrics/catalog.h).
#
# Grafana variables are substituted before a query is sent: $__rate_interval
# -> 1m (Grafana's value is at least 4 scrape intervals; 1m is the window the
# panels themselves use), $__interval -> 5s, $__interval_ms -> 5000,
# $__range -> 5m, $__range_s -> 300; a dashboard template variable inside a
# label matcher (label="$v", label=~"$v") becomes label=~".+" (All), an
# interval variable elsewhere its first option; any other $variable fails
# the query with a message naming it.
#
# Usage: bash prometheus_live.sh <xtrade-binary> <source-dir>
# Prints "prometheus_live: N passed, M failed" (exit 1 when M > 0). Prints
# "prometheus_live: SKIP: <reason>" and exits 0 when the daemons are not built
# next to the xtrade binary, or no prometheus binary exists and none can be
# installed (as root it tries apt-get once unless XTRADE_TEST_NO_INSTALL=1).
# $PROMETHEUS names a binary to use instead of the one on PATH.
# Runtime: about 25-35 s; a failing query is retried until 70 s after the start.
set -u
XT=${1:?usage: prometheus_live.sh <xtrade-binary> <source-dir>}
SRC=${2:?usage: prometheus_live.sh <xtrade-binary> <source-dir>}
BIN=$(cd "$(dirname "$XT")" && pwd)
SOAK=${XTRADE_PROM_SOAK:-20}
T_START=$SECONDS
DEADLINE=$((T_START + 70))
unset XTRADE_CONFIG XTRADE_BROKER XT_BROKER XTRADE_METRICS_PORT XTRADE_ADVERTISE_HOST XTRADE_METRICS_ADDR XTRADE_ACTOR_ID

say() { echo "prometheus_live: $*"; }
skip() {
    say "SKIP: $*"
    exit 0
}
die() { # a setup step failed: count it and stop
    echo "FAIL - $*"
    say "0 passed, 1 failed"
    exit 1
}

# ---- preconditions: daemons, prometheus, python3

missing=""
for d in xtrade-broker xtrade-learner xtrade-actor; do
    [ -x "$BIN/$d" ] || missing="$missing $d"
done
[ -z "$missing" ] || skip "daemons not built in $BIN (missing:$missing)"

prom=${PROMETHEUS:-}
[ -n "$prom" ] || prom=$(command -v prometheus 2>/dev/null || true)
[ -n "$prom" ] || { [ -x /usr/bin/prometheus ] && prom=/usr/bin/prometheus; }
if [ -z "$prom" ] && [ "$(id -u)" = 0 ] && [ "${XTRADE_TEST_NO_INSTALL:-0}" != 1 ] &&
    command -v apt-get >/dev/null 2>&1; then
    say "no prometheus binary: installing Debian's prometheus package (scripts/bootstrap.sh does this once)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 120 apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
        { timeout 120 apt-get update -qq >/dev/null 2>&1 &&
          timeout 120 apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }
    prom=$(command -v prometheus 2>/dev/null || true)
fi
[ -n "$prom" ] && [ -x "$prom" ] ||
    skip "no prometheus binary (Debian package prometheus: scripts/bootstrap.sh installs it, or set \$PROMETHEUS)"
command -v python3 >/dev/null 2>&1 || die "python3 is required (Debian package python3; scripts/bootstrap.sh)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xt-promlive-XXXXXX")
PIDS=()
declare -A DPID
PROM_PID=""
LOGDIR=""
cleanup() {
    local p d
    # SIGTERM: `xtrade cluster up` stops its daemons (the learner checkpoints,
    # actors and broker exit) within --stop-timeout; Prometheus exits.
    for p in "${PIDS[@]}" $PROM_PID; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 100); do
        local alive=0
        for p in "${PIDS[@]}" $PROM_PID; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}" $PROM_PID; do kill -KILL "$p" 2>/dev/null; done
    # A daemon the supervisor could not stop: only while the pid is still ours.
    for d in "${!DPID[@]}"; do
        p=${DPID[$d]}
        case "$(readlink "/proc/$p/exe" 2>/dev/null)" in "$BIN"/xtrade-*) kill -KILL "$p" 2>/dev/null ;; esac
    done
    wait 2>/dev/null
    if [ "${XTRADE_PROM_KEEP:-0}" = 1 ]; then
        say "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tail_logs() {
    local f
    for f in "$TMP"/*.log ${LOGDIR:+"$LOGDIR"/*.log}; do
        [ -f "$f" ] || continue
        echo "---- ${f##*/} (last 8 lines)"
        tail -n 8 "$f"
    done
}

# wait_line FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_line() {
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- 1. the cluster: broker, learner, two actors on loopback

# tiny.yaml's sizes; rolling folds of 60/14/7 days over 2021-2023: far more
# folds than the test lets run, each ~1-2 s of training here.
cat >"$TMP/config.yaml" <<'EOF'
run:
  id: promlive
data:
  source: synthetic
  symbols: [BTCUSD, EURUSD]
  timeframes: [1h]
  start: 2021-01-01
  end: 2023-09-01
env:
  kind: asset
  episode_length: 256
model:
  lstm_hidden: 16
  lstm_layers: 1
  mlp: [32]
ppo:
  total_steps: 131072
  n_envs: 8
  n_steps: 128
  chunk_len: 32
  batch_size: 512
  n_epochs: 2
folds:
  mode: rolling
  train_days: 60
  test_days: 14
  step_days: 7
learner:
  backend: cpu
  checkpoint_every: 4
EOF
# `xtrade cluster up` supervises the four daemons on loopback with ephemeral
# ports (its s_local_sets) and prints "NAME ready (pid P): metrics URL/metrics"
# for each; the run would go on for minutes, the test stops it (SIGTERM).
"$XT" cluster up --config "$TMP/config.yaml" --actors 2 --set "run.dir=$TMP/runs" \
    --set "data.cache_dir=$TMP/cache" --set actor.envs=4 --progress 5 --stop-timeout 5 \
    >"$TMP/cluster-up.log" 2>&1 &
UP=$!
PIDS+=("$UP")
LOGDIR=$TMP/runs/promlive/logs

declare -A URL
for d in broker-0 learner-0 actor-0 actor-1; do
    if ! wait_line "$TMP/cluster-up.log" "^$d *ready (pid [0-9]*): metrics http://" 30; then
        tail_logs
        die "xtrade cluster up: no ready line for $d within 30 s"
    fi
    line=$(grep -m1 "^$d *ready (pid" "$TMP/cluster-up.log")
    DPID[$d]=$(echo "$line" | sed 's/.*(pid \([0-9]*\)).*/\1/')
    URL[$d]=$(echo "$line" | grep -o 'http://[0-9.]*:[0-9]*')
    [ -n "${URL[$d]}" ] && [ -n "${DPID[$d]}" ] || die "cannot read pid and metrics URL from: $line"
done
say "cluster up: broker ${URL[broker-0]}, learner ${URL[learner-0]}, actors ${URL[actor-0]} ${URL[actor-1]}"

# ---- 2. Prometheus on a free loopback port

hostport() { echo "${1#http://}"; }
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: broker
    static_configs:
      - targets: ["$(hostport "${URL[broker-0]}")"]
  - job_name: learner
    static_configs:
      - targets: ["$(hostport "${URL[learner-0]}")"]
  - job_name: actor
    static_configs:
      - targets: ["$(hostport "${URL[actor-0]}")", "$(hostport "${URL[actor-1]}")"]
EOF

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PROM_URL=""
for attempt in 1 2 3; do
    port=$(free_port)
    mkdir -p "$TMP/tsdb"
    "$prom" --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
    PROM_PID=$!
    ok=0
    for _ in $(seq 150); do
        if ! kill -0 "$PROM_PID" 2>/dev/null; then break; fi
        if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
            "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
            ok=1
            break
        fi
        sleep 0.1
    done
    if [ $ok = 1 ]; then
        PROM_URL=http://127.0.0.1:$port
        break
    fi
    kill -KILL "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
    PROM_PID=""
    say "prometheus on port $port did not become ready (attempt $attempt): $(tail -n 2 "$TMP/prometheus.log" | tr '\n' ' ')"
done
[ -n "$PROM_URL" ] || die "prometheus did not start: $(tail -n 5 "$TMP/prometheus.log" | tr '\n' ' ')"
PROM_T0=$SECONDS
say "$("$prom" --version 2>&1 | head -1) at $PROM_URL, scrape_interval 1s"

# ---- 3 and 4: targets, soak, every dashboard query

python3 - "$SRC/deploy/grafana/dashboards/xtrade-training.json" "$SRC/common/metrics/catalog.h" "$PROM_URL" \
    "$((DEADLINE - SECONDS))" "$((PROM_T0 + SOAK - SECONDS))" \
    "${DPID[broker-0]} ${DPID[learner-0]} ${DPID[actor-0]} ${DPID[actor-1]}" "$TMP/counts" <<'PYEOF'
import json, os, re, sys, time, urllib.parse, urllib.request

dash_path, catalog_path, prom, budget, soak, pids, counts_path = sys.argv[1:8]
deadline = time.monotonic() + float(budget)
soak_until = time.monotonic() + max(0.0, float(soak))
pids = [int(p) for p in pids.split()]
names = ["broker-0", "learner-0", "actor-0", "actor-1"]

def api(path, **params):
    url = prom + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        d = json.load(r)
    if d.get("status") != "success":
        raise RuntimeError("%s: %s" % (d.get("errorType"), d.get("error")))
    return d["data"]

def query(expr):
    return api("/api/v1/query", query=expr)["result"]

def dead_daemons():
    out = []
    for name, pid in zip(names, pids):
        try:
            os.kill(pid, 0)
        except OSError:
            out.append(name)
    return out

def bail(msg):
    print("FAIL - " + msg)
    print("prometheus_live: 0 passed, 1 failed")
    sys.exit(1)

# ---- every target up, scraped at least twice
while True:
    targets = api("/api/v1/targets", state="active")["activeTargets"]
    up = [t for t in targets if t["health"] == "up"]
    counts = {}
    if len(targets) == 4 and len(up) == 4:
        for s in query("count_over_time(up[5m])"):
            counts[(s["metric"]["job"], s["metric"]["instance"])] = float(s["value"][1])
        if len(counts) == 4 and min(counts.values()) >= 2:
            break
    if dead_daemons():
        bail("daemon(s) exited before Prometheus scraped them twice: " + ", ".join(dead_daemons()))
    if time.monotonic() > deadline:
        bail("targets not all up with 2 scrapes: " + "; ".join(
            "%s %s %s %s" % (t["labels"]["job"], t["scrapeUrl"], t["health"], t.get("lastError", ""))
            for t in targets))
    time.sleep(0.5)
print("ok - Prometheus scrapes all 4 targets (broker, learner, 2 actors), each at least twice: "
      + ", ".join("%s %s x%d" % (j, i, c) for (j, i), c in sorted(counts.items())))

# ---- the dashboard's queries
dash = json.load(open(dash_path))
variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
BUILTIN = [("__rate_interval", "1m"), ("__interval_ms", "5000"), ("__interval", "5s"),
           ("__range_s", "300"), ("__range_ms", "300000"), ("__range", "5m")]

def substitute(expr):
    """Grafana variables -> values a Prometheus instant query accepts."""
    for name, value in BUILTIN:
        expr = expr.replace("${%s}" % name, value).replace("[[%s]]" % name, value)
        expr = re.sub(r"\$%s\b" % name, value, expr)
    # a template variable inside a label matcher: every value (All)
    expr = re.sub(r'(\w+)\s*=~?\s*"\$\{?(\w+)(?::\w+)?\}?"', r'\1=~".+"', expr)
    def other(m):
        name = m.group(1) or m.group(2) or m.group(3)
        v = variables.get(name)
        if v and v.get("type") == "interval" and v.get("options"):
            return v["options"][0].get("value") or v["options"][0].get("text")
        raise ValueError("Grafana variable $%s has no substitution here" % name)
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", other, expr)

def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))

cases = []  # (panel title, original expr, substituted expr or None, error)
for p in walk(dash.get("panels", [])):
    for t in p.get("targets", []):
        expr = t.get("expr")
        if not expr:
            continue
        try:
            cases.append((p.get("title", "?"), expr, substitute(expr), None))
        except ValueError as e:
            cases.append((p.get("title", "?"), expr, None, str(e)))
if not cases:
    bail("no PromQL expressions found in " + dash_path)

# catalog roles: which daemon should export each family
roles = {}
for m in re.finditer(r"X\(\s*(ANY|BROKER|LEARNER|ACTOR)\s*,\s*(xtrade_\w+)\s*,\s*(\w+)", open(catalog_path).read()):
    roles[m.group(2)] = {"ANY": "every daemon", "BROKER": "xtrade-broker", "LEARNER": "xtrade-learner",
                         "ACTOR": "xtrade-actor"}[m.group(1)]

def family(name):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base if base in roles else name

def diagnose(expr):
    why = []
    for name in sorted(set(re.findall(r"\bxtrade_\w+", expr))):
        try:
            n = len(query("count(%s)" % name))
        except Exception as e:  # noqa: BLE001
            n, err = 0, str(e)
        if n == 0:
            fam = family(name)
            why.append("metric %s is exported by no scraped daemon (should be: %s per common/metrics/catalog.h)"
                       % (name, roles.get(fam, "nobody: not in the catalog")))
    if not why:
        why.append("its metrics exist but the expression selects nothing (too few samples in the window, or a filter)")
    return "; ".join(why)

wait = soak_until - time.monotonic()
if wait > 0:
    print("prometheus_live: letting the cluster run %.0f s more so [1m]/[5m] windows hold samples" % wait)
    time.sleep(wait)

results = {}  # index -> (ok, detail)
pending = list(range(len(cases)))
while True:
    still = []
    for i in pending:
        title, expr, q, err = cases[i]
        if q is None:
            results[i] = (False, err)
            continue
        try:
            r = query(q)
        except Exception as e:  # noqa: BLE001
            results[i] = (False, "query error: %s" % e)
            continue
        if r:
            vals = [s.get("value", [0, ""])[1] for s in r]
            nan = all(v in ("NaN", "+Inf", "-Inf") for v in vals)
            results[i] = (True, "%d series%s" % (len(r), " (all NaN/Inf: no events in the window)" if nan else ""))
        else:
            still.append(i)
    pending = still
    if not pending or time.monotonic() + 2 > deadline:
        break
    dead = dead_daemons()
    if dead:
        break
    time.sleep(2)
dead = dead_daemons()
for i in pending:
    why = diagnose(cases[i][2])
    if dead:
        why += "; daemon(s) no longer running: " + ", ".join(dead)
    results[i] = (False, "empty result: " + why)

passed, failed = 1, 0  # the targets check above
for i, (title, expr, q, err) in enumerate(cases):
    ok, detail = results[i]
    shown = expr if q == expr or q is None else "%s  [sent: %s]" % (expr, q)
    print("%s - [%s] %s -> %s" % ("ok" if ok else "FAIL", title, shown, detail))
    passed += ok
    failed += not ok
panels = len({c[0] for c in cases})
print("prometheus_live: %d queries of %d panels checked" % (len(cases), panels))
# the same four processes throughout: none crashed and came back restarted
dead = dead_daemons()
if dead:
    print("FAIL - daemon(s) exited or were restarted while Prometheus watched: " + ", ".join(dead))
    failed += 1
else:
    print("ok - the four daemons ran throughout (same pids as at start)")
    passed += 1
open(counts_path, "w").write("%d %d\n" % (passed, failed))
PYEOF
[ -s "$TMP/counts" ] || { tail_logs; exit 1; } # it bailed out and printed its summary
read -r PASSED FAILED <"$TMP/counts"

# ---- stop the cluster; no sanitizer report in any daemon's log

kill -TERM "$UP" 2>/dev/null
for _ in $(seq 150); do kill -0 "$UP" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$UP" 2>/dev/null; then
    echo "FAIL - xtrade cluster up still running 15 s after SIGTERM"
    FAILED=$((FAILED + 1))
else
    echo "ok - xtrade cluster up stopped its daemons on SIGTERM"
    PASSED=$((PASSED + 1))
fi
san=$(grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$LOGDIR"/*.log 2>/dev/null | tr '\n' ' ')
if [ -n "$san" ]; then
    echo "FAIL - sanitizer reports in: $san"
    FAILED=$((FAILED + 1))
else
    echo "ok - no sanitizer report in the daemons' logs"
    PASSED=$((PASSED + 1))
fi
[ "$FAILED" -eq 0 ] || tail_logs
say "$PASSED passed, $FAILED failed ($((SECONDS - T_START)) s)"
[ "$FAILED" -eq 0 ]
