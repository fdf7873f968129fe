#!/usr/bin/env bash
# `make test-compose` (also run by .ci/run): launches docker/docker-compose.yml
# for real, without a Docker engine: podman serves the Docker API
# (`podman system service`) and Debian's docker-compose drives it unchanged.
#
#   1. base image: `debootstrap --variant=minbase bookworm` into a folder
#      (the tarball is cached under BUILD/compose/), imported as
#      localhost/debian:bookworm (no registry needed);
#   2. images: the CPU image (docker/Dockerfile.actor, BASE_IMAGE=that base)
#      and, at the same time, a Prometheus image from Debian's prometheus
#      package (built once, then reused);
#   3. cluster: `docker-compose --profile cpu up --scale actor=3` of the
#      broker, the CPU learner, 3 actors and Prometheus, on a run config
#      written here (configs/tiny.yaml's sizes, folds long enough for the
#      checks below; the config file the compose file mounts);
#   4. checks while it runs: /healthz of broker and learner; the compose
#      Prometheus scrapes the broker, the learner and each of the 3 actors
#      (found through the compose DNS name `actor`), twice each; SIGKILL of
#      one actor container while fold 0 trains, and the broker drops it;
#      every PromQL expression of the Grafana dashboard runs on that
#      Prometheus (Grafana has no image offline) and the core panels have data;
#   5. the end: the run finishes with every fold in runs/<id>/report.json,
#      each fold's eval CSVs in the runs volume, the model exported to the
#      models volume; broker, learner and surviving actors exit 0 by
#      themselves with no restart;
#   6. teardown on every exit path: compose down -v (containers, network,
#      volumes), then the podman service this script started.
#
# Usage: scripts/test-compose.sh [BUILD_DIR]        (default: build)
# Needs root (podman's containers.conf, debootstrap, rootful containers) and
# the Debian packages podman, debootstrap, docker-compose, netavark,
# aardvark-dns, iptables; when one is missing and this runs as root it
# installs them with apt-get (XTRADE_COMPOSE_NO_INSTALL=1: skip instead).
# Where a requirement cannot be met (no daemons built, not root, podman unable
# to run containers, no Debian mirror for the first base image) it prints
# "test-compose: skipped: <reason>" and exits 0; any other failure prints
# "test-compose: FAIL: <what>" and exits 1.
#
# Environment: XTRADE_COMPOSE_TIMEOUT (s, default 600) for the run to finish;
# XTRADE_COMPOSE_KEEP=1 leaves the cluster up; DEBIAN_MIRROR for debootstrap.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
work=$build/compose
timeout_s=${XTRADE_COMPOSE_TIMEOUT:-600}
project=xtrade-test
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
prom_url=http://127.0.0.1:9090
broker_url=http://127.0.0.1:9100
n_actors=3
run_id=compose
n_folds=2
t0=$SECONDS

say() { echo "test-compose: [$((SECONDS - t0))s] $*"; }
skip() {
  echo "test-compose: skipped: $*"
  exit 0
}
exec 3>&2 # fail's stream, also from inside commands whose output is hidden
trap 'echo "test-compose: FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&3' ERR
fail() {
  echo "test-compose: FAIL: $*" >&3
  exit 1
}

# ---- preconditions: daemons, root, tools

missing=""
for d in xtrade xtrade-broker xtrade-learner xtrade-actor; do
  [ -x "$build/bin/$d" ] || missing="$missing $d"
done
[ -z "$missing" ] || skip "daemon binaries not built in $build/bin (missing:$missing); nothing to put in the images yet"

if [ "$(id -u)" != 0 ]; then
  skip "needs root (podman's /etc/containers/containers.conf, debootstrap, rootful containers); run: sudo make test-compose"
fi

want_pkgs="podman debootstrap docker-compose netavark aardvark-dns iptables python3 curl"
need=""
for p in $want_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  [ "${XTRADE_COMPOSE_NO_INSTALL:-0}" = 1 ] && skip "missing Debian packages:$need (XTRADE_COMPOSE_NO_INSTALL=1)"
  say "installing missing Debian packages:$need"
  # shellcheck disable=SC2086 # $need is a word list
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null; }; then
    skip "could not install$need with apt-get"
  fi
fi
for c in podman debootstrap docker-compose curl python3; do
  command -v "$c" >/dev/null 2>&1 || skip "$c is not available"
done

# The compose file publishes these on the host; a busy one would make
# `compose up` fail half-way, so say which and stop first.
for port in 5555 5556 5557 9090 9100 9101; do
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))' "$port" 2>/dev/null ||
    fail "host port $port is in use (docker/docker-compose.yml publishes 5555-5557, 9090, 9100, 9101); stop what listens there"
done

# ---- podman: ulimits

# default_ulimits under [containers]: actors and the learner open many
# sockets and threads; podman's defaults inherit the (small) limits of the
# service's own shell otherwise.
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
python3 - "$conf" <<'EOF'
import os, re, sys
path = sys.argv[1]
line = 'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]'
text = open(path).read() if os.path.exists(path) else ""
lines = text.splitlines()
out, in_sec, done = [], False, False
for l in lines:
    s = l.strip()
    if s.startswith("["):
        if in_sec and not done:
            out.append(line)
            done = True
        in_sec = s == "[containers]"
    elif in_sec and re.match(r"#?\s*default_ulimits\s*=", s):
        if not done:
            out.append(line)
            done = True
        continue
    out.append(l)
if not done:
    if in_sec:
        out.append(line)
    else:
        out += ["", "[containers]", line]
new = "\n".join(out) + "\n"
if new != text:
    open(path, "w").write(new)
    print("test-compose: set %s in [containers] of %s" % (line, path))
EOF

# ---- base image: debootstrap minbase, imported once

mkdir -p "$work"
if ! podman image exists localhost/debian:bookworm; then
  tarball=$work/debian-bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    say "debootstrap --variant=minbase bookworm (cached in $tarball)"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      skip "debootstrap failed (no mirror at $mirror?): $(tail -3 "$work/debootstrap.log" | tr '\n' ' ')"
    tar -C "$work/rootfs" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$work/rootfs"
  fi
  podman import --quiet "$tarball" localhost/debian:bookworm >/dev/null
  say "imported localhost/debian:bookworm"
fi

# Can podman run a container here? crun refuses hosts with hybrid cgroups
# (v1 controllers next to a v2 mount); runc runs there, so fall back to it.
pm_flags=()
pm() { podman "${pm_flags[@]}" "$@"; }
if ! out=$(pm run --rm --network none localhost/debian:bookworm true 2>&1); then
  if echo "$out" | grep -qi 'cgroup' && [ "$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)" != runc ]; then
    command -v runc >/dev/null 2>&1 || [ "${XTRADE_COMPOSE_NO_INSTALL:-0}" = 1 ] ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runc >/dev/null 2>&1 || true
    if command -v runc >/dev/null 2>&1; then
      pm_flags=(--runtime runc)
      if out2=$(pm run --rm --network none localhost/debian:bookworm true 2>&1); then
        say "note: crun cannot run containers here ($(echo "$out" | tail -1)); using runc"
      else
        skip "podman cannot run containers here: crun: $(echo "$out" | tail -1); runc: $(echo "$out2" | tail -1)"
      fi
    else
      skip "podman cannot run containers here: $(echo "$out" | tail -2 | tr '\n' ' ') (runc unavailable)"
    fi
  else
    skip "podman cannot run containers here: $(echo "$out" | tail -2 | tr '\n' ' ')"
  fi
fi

# ---- podman serves the Docker API for docker-compose; teardown on every exit

sock=$work/podman.sock
podman_pid=""
prom_build_pid=""
compose=(docker-compose -p "$project" -f "$src/docker/docker-compose.yml" --profile cpu)
project_ids() { podman ps -aq --filter "label=com.docker.compose.project=$project"; }
cleanup() {
  local rc=$?
  if [ -n "$prom_build_pid" ]; then
    kill "$prom_build_pid" 2>/dev/null || true
    wait "$prom_build_pid" 2>/dev/null || true
  fi
  if [ "${XTRADE_COMPOSE_KEEP:-0}" = 1 ] && [ -n "${compose_up:-}" ]; then
    say "XTRADE_COMPOSE_KEEP=1: the cluster stays up (DOCKER_HOST=$DOCKER_HOST; podman service pid $podman_pid)"
    exit $rc
  fi
  if [ -n "${compose_up:-}" ]; then
    say "teardown: compose down -v (logs in $work/compose-logs.txt)"
    "${compose[@]}" logs --no-color --timestamps >"$work/compose-logs.txt" 2>&1 || true
    "${compose[@]}" down -v --remove-orphans -t 10 >"$work/compose-down.log" 2>&1 || true
    # whatever compose could not remove (a service it lost track of)
    ids=$(project_ids 2>/dev/null || true)
    # shellcheck disable=SC2086 # a list of ids
    [ -z "$ids" ] || podman rm -f -t 5 $ids >/dev/null 2>&1 || true
    for v in runs models prometheus grafana; do
      podman volume rm -f "${project}_$v" >/dev/null 2>&1 || true
    done
    podman network rm -f "${project}_default" >/dev/null 2>&1 || true
  fi
  if [ -n "$podman_pid" ]; then
    kill "$podman_pid" 2>/dev/null || true
    wait "$podman_pid" 2>/dev/null || true
  fi
  rm -f "$sock"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -f "$sock"
podman "${pm_flags[@]}" system service --time=0 "unix://$sock" >"$work/podman-service.log" 2>&1 &
podman_pid=$!
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  sleep 0.1
done
[ -S "$sock" ] || skip "podman system service did not start: $(tail -3 "$work/podman-service.log" | tr '\n' ' ')"
export DOCKER_HOST=unix://$sock

# A previous run killed before its teardown (leftover containers, volumes,
# network of this project) would mix its run into this one.
"${compose[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
podman network rm -f "${project}_default" >/dev/null 2>&1 || true

# ---- images: Prometheus (network bound) while the CPU image compiles

if ! podman image exists localhost/prometheus:test; then
  mkdir -p "$work/prometheus-image"
  cat >"$work/prometheus-image/Containerfile" <<'EOF'
FROM localhost/debian:bookworm
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
EOF
  say "building localhost/prometheus:test from Debian's prometheus package (in the background)"
  pm build --format docker -t localhost/prometheus:test "$work/prometheus-image" >"$work/build-prometheus.log" 2>&1 &
  prom_build_pid=$!
fi

say "building localhost/xtrade-cpu:test (docker/Dockerfile.actor on localhost/debian:bookworm)"
pm build --format docker --build-arg BASE_IMAGE=localhost/debian:bookworm \
  -f "$src/docker/Dockerfile.actor" -t localhost/xtrade-cpu:test "$src" >"$work/build-cpu.log" 2>&1 ||
  fail "image build failed; see $work/build-cpu.log: $(tail -5 "$work/build-cpu.log" | tr '\n' ' ')"
# Keep the build stage tagged (its apt layer is the slow part of a rebuild),
# then drop the stages earlier builds left untagged: each holds a build tree.
pm build --format docker --build-arg BASE_IMAGE=localhost/debian:bookworm --target build \
  -f "$src/docker/Dockerfile.actor" -t localhost/xtrade-cpu-build:test "$src" >>"$work/build-cpu.log" 2>&1 ||
  fail "image build (stage build) failed; see $work/build-cpu.log"
podman image prune -f --filter label=org.opencontainers.image.title=xtrade-cpu >/dev/null 2>&1 || true
say "built localhost/xtrade-cpu:test"
if [ -n "$prom_build_pid" ]; then
  wait "$prom_build_pid" || { prom_build_pid=""; fail "Prometheus image build failed; see $work/build-prometheus.log: $(tail -3 "$work/build-prometheus.log" | tr '\n' ' ')"; }
  prom_build_pid=""
  say "built localhost/prometheus:test"
fi

# ---- run config: tiny.yaml's data and network sizes, longer folds

# The two explicit folds and the network of tiny.yaml, whose 8192 steps a
# fold train in about a second here: 3 actors of 4 envs act ~120,000 env
# steps/s on 2 loaded cores. ppo.total_steps makes each fold train for about
# 70 s under the whole stack; the checks below need ~25 s of training
# (discovery, two scrapes per target, the kill and the broker dropping the
# actor) before the last fold ends, so a machine 4-5x faster still passes.
cat >"$work/config.yaml" <<EOF
# written by scripts/test-compose.sh
run:
  id: $run_id
data:
  source: synthetic
  symbols: [BTCUSD, EURUSD]
  timeframes: [1h]
  start: 2022-01-01
  end: 2023-09-01
env:
  kind: asset
  episode_length: 256
model:
  lstm_hidden: 16
  lstm_layers: 1
  mlp: [32]
ppo:
  total_steps: 10000000
  n_envs: 8
  n_steps: 128
  chunk_len: 32
  batch_size: 512
  n_epochs: 2
actor:
  envs: 4
learner:
  checkpoint_every: 300
folds:
  mode: explicit
  explicit:
    - {train_start: 2023-01-01, train_end: 2023-04-01, test_start: 2023-04-15, test_end: 2023-06-01}
    - {train_start: 2023-01-01, train_end: 2023-06-01, test_start: 2023-06-15, test_end: 2023-09-01}
EOF
chmod 0644 "$work/config.yaml"

# ---- cluster up

export XTRADE_IMAGE=localhost/xtrade-cpu:test
export PROMETHEUS_IMAGE=localhost/prometheus:test
export XTRADE_CONFIG_FILE=$work/config.yaml
say "compose up: broker, learner-cpu, $n_actors actors, prometheus (run $run_id, $n_folds folds)"
compose_up=1
"${compose[@]}" up -d --no-build --scale actor=$n_actors broker learner-cpu actor prometheus \
  >"$work/compose-up.log" 2>&1 || fail "compose up failed: $(tail -5 "$work/compose-up.log" | tr '\n' ' ')"

# ---- helpers

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2
  shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "timed out after ${t}s waiting for $what"
    sleep 1
  done
  say "ok: $what"
}
# metric NAME_AND_LABELS -> its value on the broker's /metrics (empty if absent)
broker_metric() {
  curl -fsS --max-time 3 "$broker_url/metrics" 2>/dev/null |
    awk -v m="$1" '$1 == m && !done { print $2 + 0; done = 1 }'
}
container() { # container SERVICE -> the ids of its containers, running or not
  podman ps -aq --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1"
}
run_finished() { [ "$(broker_metric 'xtrade_phase{phase="done"}')" = 1 ]; }

# ---- checks while the run goes

wait_for 60 "broker /healthz on :9100" curl -fsS --max-time 3 "$broker_url/healthz"
wait_for 60 "learner /healthz on :9101" curl -fsS --max-time 3 http://127.0.0.1:9101/healthz
wait_for 60 "Prometheus ready on :9090" curl -fsS --max-time 3 "$prom_url/-/ready"

# Every target (broker, learner and 3 actors behind the DNS name `actor`) up
# and scraped at least twice, from distinct addresses.
targets_scraped() {
  python3 - "$prom_url" "$n_actors" <<'EOF'
import json, sys, urllib.parse, urllib.request
prom, want = sys.argv[1], int(sys.argv[2])
def get(path, **q):
    with urllib.request.urlopen(prom + path + "?" + urllib.parse.urlencode(q), timeout=5) as r:
        return json.load(r)["data"]
up = {}
for t in get("/api/v1/targets", state="active")["activeTargets"]:
    if t["health"] == "up":
        up.setdefault(t["labels"]["job"], set()).add(t["labels"]["instance"])
counts = {(s["metric"]["job"], s["metric"]["instance"]): float(s["value"][1])
          for s in get("/api/v1/query", query="count_over_time(up[5m])")["result"]}
need = {"broker": 1, "learner": 1, "actor": want}
ok = all(len(up.get(j, ())) >= n for j, n in need.items()) and \
     all(counts.get((j, i), 0) >= 2 for j in need for i in up.get(j, ()))
print("; ".join("%s: %s" % (j, ", ".join(sorted(up.get(j, ())))) for j in need))
sys.exit(0 if ok else 1)
EOF
}
end=$((SECONDS + 90))
until targets_scraped >"$work/targets.txt" 2>&1; do
  run_finished && fail "the run finished before Prometheus scraped every target (up: $(tail -1 "$work/targets.txt")): the run config is too short for this machine (raise ppo.total_steps below)"
  [ $SECONDS -lt $end ] || fail "timed out after 90s waiting for Prometheus to scrape broker, learner and $n_actors actors (DNS discovery of \`actor\`) twice each; up: $(tail -1 "$work/targets.txt")"
  sleep 1
done
say "ok: Prometheus scraped every target twice: $(tail -1 "$work/targets.txt")"

# The metrics came from 3 distinct actor processes, not one address 3 times.
n=$(curl -fsS --max-time 5 --data-urlencode 'query=count(xtrade_build_info{job="actor",role="actor"})' \
  "$prom_url/api/v1/query" | python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else 0)')
[ "$n" = "$n_actors" ] || fail "Prometheus has xtrade_build_info from $n actors, want $n_actors"
say "ok: xtrade_build_info from $n_actors actors, the broker and the learner"

too_short="the run config is too short for this machine (raise ppo.total_steps above)"
in_train() {
  run_finished && fail "the run finished before an actor could be killed: $too_short"
  [ "$(broker_metric 'xtrade_phase{phase="train"}')" = 1 ]
}
wait_for 60 "broker in a TRAIN phase" in_train

# Fault: SIGKILL one actor container while a fold trains; the broker drops it
# after broker.liveness_ms (5 s) and lays its shards out over the other two.
# podman, like Docker, does not restart a container it was told to kill.
fold=$(broker_metric xtrade_fold)
victim=$(container actor | sed -n 1p)
[ -n "$victim" ] || fail "no actor container to kill"
lost0=$(broker_metric xtrade_actors_lost_total)
lost0=${lost0:-0}
say "killing actor container $(podman inspect --format '{{.Name}}' "$victim") with SIGKILL (fold $fold, train)"
pm kill --signal KILL "$victim" >/dev/null
# The actor's id is actor-<host name>-1, the host name the container's short id.
victim_id=actor-${victim:0:12}-1
actor_lost() {
  podman logs "$(container broker)" 2>&1 | grep -q "actor $victim_id (incarnation [0-9]*) silent for .*dropped" &&
    [ "$(broker_metric xtrade_actors_lost_total)" -gt "$lost0" ]
}
wait_for 30 "the broker dropped the killed actor $victim_id (xtrade_actors_lost_total > $lost0)" actor_lost
run_finished && fail "the run finished before the killed actor was dropped: $too_short"

# ---- the dashboard's queries, as Grafana would send them

# Every PromQL expression of every panel (rows' nested panels too) must be
# accepted by this Prometheus; the core panels must return data mid-run. An
# empty core panel is retried for 45 s (rates need two samples in [1m]).
python3 - "$src/deploy/grafana/dashboards/xtrade-training.json" "$prom_url" <<'EOF' || fail "dashboard queries (above)"
import json, sys, time, urllib.parse, urllib.request
dash = json.load(open(sys.argv[1]))
url = sys.argv[2] + "/api/v1/query"
core = {"Env steps/s (cluster)", "Env steps/s per actor", "Losses", "Updates/s", "Policy lag (versions)",
        "Stage time (s per s, stacked)", "Fold", "Phase", "Queue depths", "Actors lost", "Build"}
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
cases = [(p.get("title", "?"), t["expr"]) for p in walk(dash.get("panels", []))
         for t in p.get("targets", []) if t.get("expr")]
if not cases:
    sys.exit("test-compose: FAIL: no PromQL expressions in %s" % sys.argv[1])
def query(expr):
    q = urllib.parse.urlencode({"query": expr.replace("$__rate_interval", "1m")}).encode()
    with urllib.request.urlopen(url, q, timeout=10) as r:
        return json.load(r)
bad, got = [], set()
deadline = time.monotonic() + 45
while True:
    pending = [(t, e) for t, e in cases if t not in got]
    for title, expr in pending:
        try:
            d = query(expr)
        except urllib.error.HTTPError as e:  # 400/422: PromQL Prometheus refuses
            bad.append("%s: %s: %s" % (title, expr, e.read().decode(errors="replace")[:200]))
            got.add(title)
            continue
        if d["data"]["result"]:
            got.add(title)
    missing = sorted(core - got)
    if bad or not missing or time.monotonic() > deadline:
        break
    time.sleep(3)
titles = {t for t, _ in cases}
if bad or missing:
    sys.exit("test-compose: FAIL: dashboard queries: %s" % "; ".join(bad + ["no data: " + m for m in missing]))
print("test-compose: ok: all %d dashboard queries of %d panels run on Prometheus; %d panels have data mid-run"
      " (without data yet: %s)" % (len(cases), len(titles), len(got & titles),
                                   ", ".join(sorted(titles - got)) or "none"))
EOF

# ---- the end of the run: every fold reported, daemons exit 0 by themselves

runs_dir=$(podman volume inspect "${project}_runs" --format '{{.Mountpoint}}')
models_dir=$(podman volume inspect "${project}_models" --format '{{.Mountpoint}}')
report=$runs_dir/$run_id/report.json
say "waiting up to ${timeout_s}s for runs/$run_id/report.json in volume ${project}_runs"
end=$((SECONDS + timeout_s))
until [ -s "$report" ] && run_finished; do
  st=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$(container broker)" 2>/dev/null || echo gone)
  case $st in running*) ;; exited\ 0) [ -s "$report" ] && break ;; *) fail "the broker is '$st' and runs/$run_id/report.json is not written" ;; esac
  [ $SECONDS -lt $end ] || fail "no runs/$run_id/report.json after ${timeout_s}s (fold $(broker_metric xtrade_fold))"
  sleep 2
done
python3 - "$report" "$runs_dir/$run_id" "$n_folds" <<'EOF' || fail "report check (above)"
import glob, json, os, sys
path, run_dir, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path))
folds = r.get("folds", [])
errs = []
if [f.get("fold") for f in folds] != list(range(want)):
    errs.append("folds %s in report.json, want 0..%d" % ([f.get("fold") for f in folds], want - 1))
for f in folds:
    shards = f.get("shards", [])
    if len(shards) != 2 or any(not (s.get("metrics") or {}).get("agent") or not s.get("steps") for s in shards):
        errs.append("fold %s: want 2 shards with the agent's metrics, got %s" % (f.get("fold"), json.dumps(shards)[:200]))
    csvs = glob.glob(os.path.join(run_dir, "fold-%s" % f.get("fold"), "eval", "*.csv"))
    if len(csvs) != 2:
        errs.append("fold %s: %d eval CSVs in the runs volume, want 2" % (f.get("fold"), len(csvs)))
if errs:
    sys.exit("test-compose: FAIL: " + "; ".join(errs))
print("test-compose: ok: report.json has folds %s, each with 2 shards and their eval CSVs in the runs volume"
      % [f["fold"] for f in folds])
EOF
model=$(find "$models_dir" -name "$run_id.xtck" -size +0 -print -quit 2>/dev/null)
[ -n "$model" ] || fail "no exported model (models/*/ppo/*/$run_id.xtck) in volume ${project}_models"
say "ok: model exported to models/${model#"$models_dir"/}"

# Broker, learner and the surviving actors stop by themselves at DONE, with
# status 0 and no restart (restart: on-failure).
exited_ok() {
  local id
  for id in $(container broker) $(container learner-cpu) $(container actor); do
    [ "$id" = "$victim" ] && continue
    [ "$(podman inspect --format '{{.State.Status}}' "$id")" = exited ] || return 1
  done
}
wait_for 60 "broker, learner and surviving actors exited" exited_ok
for id in $(container broker) $(container learner-cpu) $(container actor); do
  [ "$id" = "$victim" ] && continue
  st=$(podman inspect --format '{{.Name}} exit {{.State.ExitCode}} restarts {{.RestartCount}}' "$id")
  case $st in *" exit 0 restarts 0") ;; *) fail "$st (want exit 0, no restart)" ;; esac
done
say "ok: broker, learner and $((n_actors - 1)) actors exited 0 without a restart"

say "PASS (${n_actors} actors, ${n_folds} folds, one actor killed mid-run)"
