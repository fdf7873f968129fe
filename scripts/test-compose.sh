#!/usr/bin/env bash
# `make test-compose`: launches docker/docker-compose.yml for real, without a
# Docker engine: podman serves the Docker API (`podman system service`) and
# Debian's docker-compose drives it. Not part of `make test`.
#
#   1. base image: `debootstrap --variant=minbase bookworm` into a folder
#      (cached under BUILD/compose/), imported as localhost/debian:bookworm;
#   2. images: the CPU image (docker/Dockerfile.actor, BASE_IMAGE=that base)
#      and a Prometheus image from Debian's prometheus package (no registry);
#   3. cluster: broker, the CPU learner (profile cpu), 3 actors, Prometheus,
#      on configs/tiny.yaml;
#   4. checks: /healthz of broker and learner; Prometheus scrapes broker,
#      learner and every actor (DNS discovery); every Grafana dashboard query
#      runs on Prometheus (Grafana has no image offline, so its provisioning
#      is checked through the queries it would send); one actor is killed
#      (SIGKILL) mid-run and the run still finishes with runs/<id>/report.json;
#   5. teardown: compose down -v, the podman service stopped.
#
# Usage: scripts/test-compose.sh [BUILD_DIR]        (default: build)
# Needs root (podman's containers.conf, debootstrap, rootful containers) and
# the Debian packages podman, debootstrap, docker-compose, aardvark-dns; when
# one is missing and this runs as root it installs them with apt-get (set
# XTRADE_COMPOSE_NO_INSTALL=1 to skip instead). Where a requirement cannot be
# met (no daemons built, not root, podman unable to run containers) it prints
# "test-compose: SKIP: <reason>" and exits 0.
#
# Environment: XTRADE_COMPOSE_TIMEOUT (s, default 1200) for the run to finish;
# XTRADE_COMPOSE_KEEP=1 leaves the cluster up; DEBIAN_MIRROR for debootstrap.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
work=$build/compose
timeout_s=${XTRADE_COMPOSE_TIMEOUT:-1200}
project=xtrade-test
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
prom_url=http://127.0.0.1:9090
n_actors=3

say() { echo "test-compose: $*"; }
skip() {
  say "SKIP: $*"
  exit 0
}
fail() {
  say "FAIL: $*" >&2
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
    say "debootstrap --variant=minbase bookworm (a few minutes, cached in $tarball)"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      skip "debootstrap failed (no mirror at $mirror?): $(tail -3 "$work/debootstrap.log" | tr '\n' ' ')"
    tar -C "$work/rootfs" -cf "$tarball" .
    rm -rf "$work/rootfs"
  fi
  podman import --quiet "$tarball" localhost/debian:bookworm >/dev/null
fi

# Can podman run a container here? crun refuses hosts with hybrid cgroups
# (v1 controllers next to a v2 mount); runc runs there, so fall back to it.
pm_flags=()
pm() { podman "${pm_flags[@]}" "$@"; }
if ! out=$(pm run --rm localhost/debian:bookworm true 2>&1); then
  if echo "$out" | grep -qi 'cgroup' && [ "$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)" != runc ]; then
    command -v runc >/dev/null 2>&1 || [ "${XTRADE_COMPOSE_NO_INSTALL:-0}" = 1 ] ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runc >/dev/null 2>&1 || true
    if command -v runc >/dev/null 2>&1; then
      pm_flags=(--runtime runc)
      if out2=$(pm run --rm localhost/debian:bookworm true 2>&1); then
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

# ---- podman serves the Docker API for docker-compose

mkdir -p "$work"
sock=$work/podman.sock
podman_pid=""
cleanup() {
  local rc=$?
  if [ -n "${compose_up:-}" ] && [ "${XTRADE_COMPOSE_KEEP:-0}" != 1 ]; then
    say "teardown: compose down -v"
    "${compose[@]}" logs --no-color --tail=40 >"$work/compose-logs.txt" 2>&1 || true
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [ -n "$podman_pid" ]; then
    kill "$podman_pid" 2>/dev/null || true
    wait "$podman_pid" 2>/dev/null || true
  fi
  rm -f "$sock"
  exit $rc
}
trap cleanup EXIT

rm -f "$sock"
podman "${pm_flags[@]}" system service --time=0 "unix://$sock" >"$work/podman-service.log" 2>&1 &
podman_pid=$!
for _ in $(seq 50); do
  [ -S "$sock" ] && break
  sleep 0.2
done
[ -S "$sock" ] || skip "podman system service did not start: $(tail -3 "$work/podman-service.log" | tr '\n' ' ')"
export DOCKER_HOST=unix://$sock


# ---- images

say "building localhost/xtrade-cpu:test (docker/Dockerfile.actor on localhost/debian:bookworm)"
pm build --format docker --build-arg BASE_IMAGE=localhost/debian:bookworm \
  -f "$src/docker/Dockerfile.actor" -t localhost/xtrade-cpu:test "$src" >"$work/build-cpu.log" 2>&1 ||
  fail "image build failed; see $work/build-cpu.log: $(tail -5 "$work/build-cpu.log" | tr '\n' ' ')"

if ! podman image exists localhost/prometheus:test; then
  say "building localhost/prometheus:test from Debian's prometheus package"
  mkdir -p "$work/prometheus-image"
  cat >"$work/prometheus-image/Containerfile" <<'EOF'
FROM localhost/debian:bookworm
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
EOF
  pm build --format docker -t localhost/prometheus:test "$work/prometheus-image" >"$work/build-prometheus.log" 2>&1 ||
    fail "Prometheus image build failed; see $work/build-prometheus.log"
fi

# ---- cluster up

export XTRADE_IMAGE=localhost/xtrade-cpu:test
export PROMETHEUS_IMAGE=localhost/prometheus:test
export XTRADE_CONFIG_FILE=$src/configs/tiny.yaml
compose=(docker-compose -p "$project" -f "$src/docker/docker-compose.yml" --profile cpu)
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
say "compose up: broker, learner-cpu, $n_actors actors, prometheus (configs/tiny.yaml)"
compose_up=1
"${compose[@]}" up -d --no-build --scale actor=$n_actors broker learner-cpu actor prometheus \
  >"$work/compose-up.log" 2>&1 || fail "compose up failed: $(tail -5 "$work/compose-up.log" | tr '\n' ' ')"

# ---- helpers over the Prometheus HTTP API

# promq EXPR -> the query's JSON result list on stdout; non-zero on API error.
promq() {
  curl -fsS --max-time 10 --data-urlencode "query=$1" "$prom_url/api/v1/query" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
if d.get("status") != "success":
    sys.exit("query failed: %s" % d.get("error"))
json.dump(d["data"]["result"], sys.stdout)'
}
# promv EXPR -> the first sample value (or empty).
promv() {
  promq "$1" 2>/dev/null | python3 -c 'import json, sys
r = json.load(sys.stdin)
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2
  shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "timed out after ${t}s waiting for $what"
    sleep 2
  done
  say "ok: $what"
}

# ---- checks while the run goes

wait_for 120 "broker /healthz" curl -fsS --max-time 3 http://127.0.0.1:9100/healthz
wait_for 120 "learner /healthz" curl -fsS --max-time 3 http://127.0.0.1:9101/healthz
wait_for 60 "Prometheus ready" curl -fsS --max-time 3 "$prom_url/-/ready"

targets_up() { # every job up, and at least $1 actor targets up
  curl -fsS --max-time 5 "$prom_url/api/v1/targets?state=active" | python3 -c '
import json, sys
want = int(sys.argv[1])
ts = json.load(sys.stdin)["data"]["activeTargets"]
up = {}
for t in ts:
    if t["health"] == "up":
        up[t["labels"]["job"]] = up.get(t["labels"]["job"], 0) + 1
sys.exit(0 if up.get("broker") and up.get("learner") and up.get("actor", 0) >= want else 1)' "$1"
}
wait_for 90 "Prometheus scrapes broker, learner and $n_actors actors (DNS discovery)" targets_up $n_actors

steps_flowing() { v=$(promv 'sum(xtrade_env_steps_total)'); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float('$v') > 0 else 1)"; }
wait_for 300 "actors step envs (xtrade_env_steps_total > 0)" steps_flowing

for role in broker learner actor; do
  v=$(promv "count(xtrade_build_info{role=\"$role\"})")
  [ -n "$v" ] || fail "no xtrade_build_info{role=\"$role\"} in Prometheus"
done
say "ok: xtrade_build_info from broker, learner and actors"

# Fault: SIGKILL one actor mid-run; the broker drops it after the liveness
# timeout and reassigns its shards, and the run must still finish.
victim=$("${compose[@]}" ps -q actor | head -1)
[ -n "$victim" ] || fail "no actor container to kill"
say "killing actor container ${victim:0:12} (SIGKILL)"
pm kill --signal KILL "$victim" >/dev/null

# ---- wait for the report

runs_dir=$(podman volume inspect "${project}_runs" --format '{{.Mountpoint}}')
say "waiting up to ${timeout_s}s for runs/*/report.json in volume ${project}_runs"
end=$((SECONDS + timeout_s))
report=""
while [ $SECONDS -lt $end ]; do
  report=$(find "$runs_dir" -maxdepth 2 -name report.json -size +0 2>/dev/null | head -1)
  [ -n "$report" ] && break
  st=$(podman inspect --format '{{.State.Status}}' "$("${compose[@]}" ps -q broker | head -1)" 2>/dev/null || echo gone)
  [ "$st" = running ] || fail "the broker is $st before the report was written"
  sleep 5
done
[ -n "$report" ] || fail "no report.json after ${timeout_s}s"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$report" || fail "$report is not JSON"
say "ok: run finished: ${report#"$runs_dir"/}"

lost=$(promv 'max(xtrade_actors_lost_total)')
python3 -c "import sys; sys.exit(0 if '$lost' and float('$lost') >= 1 else 1)" ||
  fail "the broker never counted the killed actor as lost (xtrade_actors_lost_total=$lost)"
say "ok: broker dropped the killed actor (xtrade_actors_lost_total=$lost)"

# ---- the dashboard's queries, as Grafana would send them

# Every query must be valid on this Prometheus; those of the core panels must
# return data after a finished run.
curl -fsS -X POST --max-time 5 "$prom_url/-/reload" >/dev/null 2>&1 || true
python3 - "$src/deploy/grafana/dashboards/xtrade-training.json" "$prom_url" <<'EOF'
import json, sys, urllib.parse, urllib.request
dash = json.load(open(sys.argv[1]))
url = sys.argv[2] + "/api/v1/query"
core = {"Env steps/s (cluster)", "Losses", "Updates/s", "Policy lag (versions)",
        "Stage time (s per s, stacked)", "Fold", "Phase", "Queue depths"}
bad, empty, n = [], [], 0
panels = [p for p in dash["panels"] if p.get("type") != "row"]
for p in panels:
    got = False
    for t in p.get("targets", []):
        n += 1
        # instant query over the whole run: rates need a window that held samples
        expr = t["expr"].replace("[1m]", "[10m]").replace("[5m]", "[10m]")
        q = urllib.parse.urlencode({"query": expr}).encode()
        try:
            d = json.load(urllib.request.urlopen(url, q, timeout=10))
        except Exception as e:  # noqa: BLE001
            bad.append("%s: %s" % (p["title"], e))
            continue
        if d.get("status") != "success":
            bad.append("%s: %s" % (p["title"], d.get("error")))
        elif d["data"]["result"]:
            got = True
    if not got:
        empty.append(p["title"])
for e in empty:
    print("test-compose: note: panel %r has no data after this run" % e)
missing = sorted(core & set(empty))
if bad or missing:
    sys.exit("test-compose: FAIL: dashboard queries: %s" % "; ".join(bad + ["no data: " + m for m in missing]))
print("test-compose: ok: all %d dashboard queries of %d panels run on Prometheus (%d panels without data)"
      % (n, len(panels), len(empty)))
EOF

say "PASS"
