#!/usr/bin/env bash
# Static checks of the observability and deployment files (no network, no
# container engine):
#   (a) the metric catalog (common/metrics/catalog.h) follows Prometheus
#       conventions, compiles, and every metric name in the Grafana dashboard
#       and the metric docs is one of its families (and every family is documented);
#   (b) the dashboard JSON parses and has the required panels;
#   (c) docker/docker-compose.yml, the Dockerfiles, the Prometheus and Grafana
#       provisioning files parse and carry what the deployment needs;
#   (d) the Kubernetes manifests parse and carry the required fields; the
#       ConfigMap's config.yaml is configs/demo.yaml byte for byte and
#       deploy/k8s/gen-configmap.sh reproduces configmap.yaml; the broker,
#       the learner and the actors mount one ReadWriteMany run directory at
#       the path the images and the compose file use;
#   (e) `docker-compose config` (or `docker compose config`) accepts the
#       compose file, when such a binary exists (else SKIP with the reason).
# Usage: bash tests/cli/deploy_files.sh <xtrade-binary> <source-dir>
# Prints "deploy_files: N passed, M failed"; exits 1 on any failure.
set -u
xt=${1:?usage: deploy_files.sh <xtrade-binary> <source-dir>}
src=${2:?usage: deploy_files.sh <xtrade-binary> <source-dir>}
cd "$src" || exit 1

# A python3 that has the yaml module (Debian: python3-yaml, installed by
# scripts/bootstrap.sh); a PATH python3 without it falls back to Debian's.
py=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import yaml' 2>/dev/null; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  echo "FAIL - no python3 with the yaml module (apt-get install python3 python3-yaml, or run scripts/bootstrap.sh)"
  echo "deploy_files: 0 passed, 1 failed"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the catalog as the C compiler sees it (cross-checks the python parser)
cc_bin=""
for c in "${CC:-}" cc gcc clang; do
  if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then cc_bin=$c; break; fi
done
if [ -n "$cc_bin" ]; then
  cat >"$tmp/cat.c" <<'EOF'
#include "metrics/catalog.h"
#include <stdio.h>
#define S_ROW(role, name, type, help, labels) \
    printf("X|%d|%s|%s|%s|%s\n", (int)XT_METRIC_ROLE_##role, #role, #name, #type, labels);
#define S_BKT(name, kind, start, step, n) \
    printf("B|%s|%s|%.17g|%.17g|%d\n", #name, #kind, (double)(start), (double)(step), (int)(n));
int main(void) {
    XT_METRICS_CATALOG(S_ROW)
    XT_METRICS_BUCKETS(S_BKT)
    return 0;
}
EOF
  if "$cc_bin" -std=c11 -Wall -Wextra -Werror -Icommon "$tmp/cat.c" -o "$tmp/cat" 2>"$tmp/cc.err" && "$tmp/cat" >"$tmp/catalog.txt"; then
    :
  else
    echo "cc failed:" >"$tmp/catalog.txt"
    cat "$tmp/cc.err" >>"$tmp/catalog.txt"
  fi
else
  echo "SKIP" >"$tmp/catalog.txt"
fi

# ---- the ConfigMap's run config, validated by the xtrade binary itself
cfg_check="SKIP xtrade binary $xt not runnable"
if [ -x "$xt" ]; then
  "$py" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open("deploy/k8s/configmap.yaml")) if d]
sys.stdout.write(docs[0]["data"]["config.yaml"])' >"$tmp/k8s-config.yaml" 2>"$tmp/k8s-config.err"
  if "$xt" config --dump "$tmp/k8s-config.yaml" >"$tmp/k8s-dump.txt" 2>"$tmp/k8s-dump.err"; then
    cfg_check="ok"
  else
    cfg_check="FAIL $(cat "$tmp/k8s-config.err" "$tmp/k8s-dump.err" | head -3 | tr '\n' ' ')"
  fi
fi

# ---- the ConfigMap is what deploy/k8s/gen-configmap.sh writes from configs/demo.yaml
if bash deploy/k8s/gen-configmap.sh --stdout >"$tmp/configmap.yaml" 2>"$tmp/configmap.err"; then
  if cmp -s "$tmp/configmap.yaml" deploy/k8s/configmap.yaml; then
    gen_check="ok"
  else
    gen_check="FAIL differs: $(diff "$tmp/configmap.yaml" deploy/k8s/configmap.yaml | head -4 | tr '\n' ' ')"
  fi
else
  gen_check="FAIL $(head -3 "$tmp/configmap.err" | tr '\n' ' ')"
fi

# ---- (e) compose validation by a real compose binary, where one exists
compose_check=""
if command -v docker-compose >/dev/null 2>&1; then
  compose_cmd="docker-compose"
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose_cmd="docker compose"
else
  compose_cmd=""
  compose_check="SKIP no docker-compose binary and no 'docker compose' plugin on PATH"
fi
if [ -n "$compose_cmd" ]; then
  out=$(cd docker && $compose_cmd -f docker-compose.yml --profile cpu config -q 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    compose_check="ok $compose_cmd"
  else
    compose_check="FAIL $compose_cmd config: $(echo "$out" | head -5 | tr '\n' ' ')"
  fi
fi

# ---- Prometheus's own parsers, where promtool exists (Debian package prometheus):
# the scrape configs, and every dashboard query as a recording rule's expr.
prom_checks=""
if command -v promtool >/dev/null 2>&1; then
  for f in deploy/prometheus/prometheus.yml deploy/prometheus/prometheus-k8s.yml; do
    if out=$(promtool check config "$f" 2>&1); then
      prom_checks+="ok promtool check config $f"$'\n'
    elif echo "$out" | grep -q 'field kubernetes_sd_configs not found'; then
      prom_checks+="SKIP promtool check config $f: this promtool is built without Kubernetes discovery"$'\n'
    else
      prom_checks+="FAIL promtool check config $f: $(echo "$out" | tail -3 | tr '\n' ' ')"$'\n'
    fi
  done
  "$py" -c '
import json, sys, yaml
d = json.load(open("deploy/grafana/dashboards/xtrade-training.json"))
rules = []
for p in d.get("panels", []):
    for t in p.get("targets", []):
        rules.append({"record": "xtrade:dashboard_query_%d" % len(rules), "expr": t.get("expr", "")})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sys.stdout)' >"$tmp/rules.yml"
  if out=$(promtool check rules "$tmp/rules.yml" 2>&1); then
    prom_checks+="ok promtool parses every dashboard query"$'\n'
  else
    prom_checks+="FAIL promtool parses every dashboard query: $(echo "$out" | grep -v '^Checking' | head -5 | tr '\n' ' ')"$'\n'
  fi
else
  prom_checks="SKIP promtool check config and dashboard queries: no promtool on PATH (Debian package prometheus)"
fi

XT_CATALOG_CC="$tmp/catalog.txt" XT_CFG_CHECK="$cfg_check" XT_GEN_CHECK="$gen_check" XT_COMPOSE_CHECK="$compose_check" XT_PROM_CHECKS="$prom_checks" \
  "$py" - <<'PYEOF'
import json, os, re, sys
import yaml

passed = 0
failed = 0

def check(ok, what, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("FAIL - " + what + (": " + why if why else ""))

def skip(what, why):
    print("SKIP - %s: %s" % (what, why))

def load_yaml_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

def main():
    # ---------------------------------------------------------------- (a) catalog
    ROW = re.compile(r'X\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*,\s*"([^"]*)"\s*\)')
    BKT = re.compile(r'B\(\s*(\w+)\s*,\s*(\w+)\s*,\s*([-0-9.eE+]+)\s*,\s*([-0-9.eE+]+)\s*,\s*(\d+)\s*\)')
    text = open("common/metrics/catalog.h").read()
    m = re.search(r'#define XT_METRICS_CATALOG\(X\)(.*?)\n\n', text, re.S)
    cat_body = m.group(1) if m else ""
    m = re.search(r'#define XT_METRICS_BUCKETS\(B\)(.*?)\n\n', text, re.S)
    bkt_body = m.group(1) if m else ""
    rows = ROW.findall(cat_body)
    bkts = BKT.findall(bkt_body)
    fam = {}
    for role, name, typ, help_, labels in rows:
        fam[name] = {"role": role, "type": typ, "help": help_,
                     "labels": [l for l in labels.split(",") if l]}
    check(len(rows) >= 30 and len(rows) == cat_body.count("X("),
          "catalog.h: every X(...) row parses (%d families)" % len(rows))
    check(len(fam) == len(rows), "catalog.h: family names are unique",
          ", ".join(sorted(n for n in fam if [r[1] for r in rows].count(n) > 1)))

    NAME = re.compile(r'^xtrade_[a-z0-9_]*[a-z0-9]$')
    LABEL = re.compile(r'^[a-z_][a-z0-9_]*$')
    bad = []
    for n, f in fam.items():
        if not NAME.match(n): bad.append(n + ": not xtrade_[a-z0-9_]")
        if f["role"] not in ("ANY", "BROKER", "LEARNER", "ACTOR"): bad.append(n + ": role " + f["role"])
        if f["type"] not in ("COUNTER", "GAUGE", "HISTOGRAM"): bad.append(n + ": type " + f["type"])
        if (f["type"] == "COUNTER") != n.endswith("_total"):
            bad.append(n + ": counters end in _total and nothing else does")
        if re.search(r'_(count|sum|bucket)$', n): bad.append(n + ": reserved suffix")
        if re.search(r'_(ms|milliseconds|percent|minutes|hours)(_total)?$', n): bad.append(n + ": not a base unit")
        if len(f["help"]) < 10 or not f["help"].endswith("."): bad.append(n + ": help must be a sentence")
        if len(f["labels"]) > 4: bad.append(n + ": more than 4 labels (XT_PROM_MAX_LABELS)")
        for l in f["labels"]:
            if not LABEL.match(l) or l.startswith("__"): bad.append(n + ": label " + l)
            if l == "le" or l == "quantile": bad.append(n + ": reserved label " + l)
        if len(set(f["labels"])) != len(f["labels"]): bad.append(n + ": repeated label")
    check(not bad, "catalog.h: names, types, roles, units and labels follow the conventions", "; ".join(bad))

    # Histogram buckets: exactly one row per HISTOGRAM family, valid arguments.
    bad = []
    seen = {}
    for name, kind, start, step, n in bkts:
        seen[name] = seen.get(name, 0) + 1
        start, step, n = float(start), float(step), int(n)
        if name not in fam or fam[name]["type"] != "HISTOGRAM": bad.append(name + ": not a histogram family")
        if kind not in ("LINEAR", "EXPONENTIAL"): bad.append(name + ": kind " + kind)
        if not 1 <= n <= 64: bad.append(name + ": n %d outside 1..64" % n)
        if kind == "LINEAR" and step <= 0: bad.append(name + ": width <= 0")
        if kind == "EXPONENTIAL" and (start <= 0 or step <= 1): bad.append(name + ": start <= 0 or factor <= 1")
    for n, f in fam.items():
        if f["type"] == "HISTOGRAM" and seen.get(n, 0) != 1:
            bad.append(n + ": %d bucket rows (want 1)" % seen.get(n, 0))
    check(len(bkts) == bkt_body.count("B(") and not bad,
          "catalog.h: one valid XT_METRICS_BUCKETS row per histogram", "; ".join(bad))

    # The families DESIGN §7 and the observability issue require, with their labels.
    required = {
        "xtrade_env_steps_total": ("COUNTER", "actor,symbol,timeframe"),
        "xtrade_env_steps_per_second": ("GAUGE", "actor"),
        "xtrade_episodes_total": ("COUNTER", None),
        "xtrade_episode_return": ("GAUGE", "symbol,timeframe"),
        "xtrade_episode_sharpe": ("GAUGE", "symbol,timeframe"),
        "xtrade_chunks_sent_total": ("COUNTER", None),
        "xtrade_chunks_received_total": ("COUNTER", None),
        "xtrade_chunks_dropped_total": ("COUNTER", "reason"),
        "xtrade_policy_lag_versions": ("HISTOGRAM", None),
        "xtrade_learner_updates_total": ("COUNTER", None),
        "xtrade_learner_update_duration_seconds": ("HISTOGRAM", None),
        "xtrade_learner_loss": ("GAUGE", "term"),
        "xtrade_learner_entropy": ("GAUGE", None),
        "xtrade_learner_approx_kl": ("GAUGE", None),
        "xtrade_learner_clip_fraction": ("GAUGE", None),
        "xtrade_learner_explained_variance": ("GAUGE", None),
        "xtrade_learner_grad_norm": ("GAUGE", None),
        "xtrade_learner_learning_rate": ("GAUGE", None),
        "xtrade_weights_version": ("GAUGE", None),
        "xtrade_fold": ("GAUGE", ""),
        "xtrade_phase": ("GAUGE", "phase"),
        "xtrade_connected_actors": ("GAUGE", None),
        "xtrade_checkpoint_age_seconds": ("GAUGE", None),
        "xtrade_decode_errors_total": ("COUNTER", "socket"),
        "xtrade_learner_skipped_updates_total": ("COUNTER", None),
        "xtrade_reconnects_total": ("COUNTER", "peer"),
        "xtrade_queue_depth": ("GAUGE", "queue"),
        "xtrade_stage_seconds_total": ("COUNTER", "stage"),
        "xtrade_eval_sharpe": ("GAUGE", "fold,symbol,timeframe"),
        "xtrade_eval_return": ("GAUGE", "fold,symbol,timeframe"),
        "xtrade_build_info": ("GAUGE", "version,role"),
        "xtrade_learner_samples_total": ("COUNTER", None),
    }
    bad = []
    for n, (typ, labels) in required.items():
        if n not in fam:
            bad.append(n + " missing")
            continue
        if fam[n]["type"] != typ: bad.append("%s is %s, want %s" % (n, fam[n]["type"], typ))
        if labels is not None and ",".join(fam[n]["labels"]) != labels:
            bad.append("%s labels %r, want %r" % (n, ",".join(fam[n]["labels"]), labels))
    check(not bad, "catalog.h: every required family exists with its type and labels", "; ".join(bad))
    # Label values the dashboard and docs rely on are named in the help text.
    bad = []
    for n, words in {"xtrade_stage_seconds_total": ["env_step", "inference", "encode_send", "ingest", "learn", "publish"],
                     "xtrade_chunks_dropped_total": ["policy_lag", "decode", "nonfinite", "stale_incarnation"],
                     "xtrade_learner_loss": ["policy", "value", "entropy", "total"]}.items():
        for w in words:
            if n in fam and w not in fam[n]["help"]: bad.append(n + ": " + w)
    check(not bad, "catalog.h: help texts list the stage, reason and term label values", "; ".join(bad))

    # The C compiler's view of the same lists.
    cc_out = open(os.environ["XT_CATALOG_CC"]).read()
    if cc_out.startswith("SKIP"):
        skip("catalog.h compiles (-std=c11 -Wall -Wextra -Werror)", "no C compiler on PATH")
    elif cc_out.startswith("cc failed"):
        check(False, "catalog.h compiles (-std=c11 -Wall -Wextra -Werror)", cc_out[:400])
    else:
        cc_rows = [l.split("|") for l in cc_out.splitlines() if l.startswith("X|")]
        cc_bkts = [l.split("|") for l in cc_out.splitlines() if l.startswith("B|")]
        roles = {"ANY": "0", "BROKER": "1", "LEARNER": "2", "ACTOR": "3"}
        same = ([(r[3], r[2], r[4], r[5]) for r in cc_rows] ==
                [(n, ro, t, l) for ro, n, t, h, l in rows] and
                all(roles.get(r[2]) == r[1] for r in cc_rows) and
                [b[1] for b in cc_bkts] == [b[0] for b in bkts])
        check(same, "catalog.h compiles and the C expansion matches the parsed rows (%d, %d buckets)"
              % (len(cc_rows), len(cc_bkts)))

    HIST_SUFFIX = re.compile(r'_(bucket|sum|count)$')
    def family_of(token):
        """The catalog family a series name belongs to, or None."""
        if token in fam:
            return token
        base = HIST_SUFFIX.sub("", token)
        if base != token and base in fam and fam[base]["type"] == "HISTOGRAM":
            return base
        return None

    METRIC_TOKEN = re.compile(r'\bxtrade_[a-z0-9_]+\b')
    PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                    "unless", "bool", "offset", "atan2", "inf", "nan"}

    def series_names(expr):
        """Every metric name a PromQL expression selects: identifiers left after
        removing strings, label matchers, grouping lists, durations, function
        names, keywords and numbers (so a bare `up` or a typo counts)."""
        e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        e = re.sub(r'\{[^}]*\}', ' ', e)
        e = re.sub(r'\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', ' ', e)
        e = re.sub(r'\[[^\]]*\]', ' ', e)
        names = []
        for m in re.finditer(r'[A-Za-z_:][A-Za-z0-9_:]*', e):
            tail = e[m.end():].lstrip()
            if tail.startswith("(") or m.group(0).lower() in PROMQL_WORDS:
                continue
            if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
                continue  # exponent or suffix of a number (1e3)
            names.append(m.group(0))
        return names

    # ---------------------------------------------------------------- (b) dashboard
    dash_path = "deploy/grafana/dashboards/xtrade-training.json"
    try:
        dash = json.load(open(dash_path))
        check(True, dash_path + " parses as JSON")
    except Exception as e:  # noqa: BLE001 - any parse error is the finding
        dash = None
        check(False, dash_path + " parses as JSON", str(e))

    if dash:
        check(dash.get("title") == "xtrade training" and dash.get("uid") == "xtrade-training",
              "dashboard title 'xtrade training', uid xtrade-training",
              "title %r uid %r" % (dash.get("title"), dash.get("uid")))
        check(isinstance(dash.get("schemaVersion"), int) and 36 <= dash["schemaVersion"] <= 41,
              "dashboard schemaVersion is a Grafana 10 one (36..41)", str(dash.get("schemaVersion")))
        panels = dash.get("panels", [])
        flat = []
        for p in panels:
            flat.append(p)
            flat.extend(p.get("panels", []))
        rows_ = [p for p in flat if p.get("type") == "row"]
        viz = [p for p in flat if p.get("type") != "row"]
        ids = [p.get("id") for p in flat]
        check(len(ids) == len(set(ids)) and None not in ids, "dashboard panel ids are unique")

        # Required rows and panels (by title), each with at least one query.
        want_rows = ["Throughput", "Learner", "Policy lag", "Queues", "Where time goes",
                     "Episodes", "Walk-forward", "Errors"]
        have_rows = [p.get("title") for p in rows_]
        check(all(r in have_rows for r in want_rows), "dashboard has rows " + ", ".join(want_rows),
              "have " + ", ".join(map(str, have_rows)))
        want_panels = {
            "Env steps/s (cluster)": "sum(rate(xtrade_env_steps_total[1m]))",
            "Env steps/s per actor": "xtrade_env_steps_total",
            "Losses": "xtrade_learner_loss",
            "Entropy": "xtrade_learner_entropy",
            "Approx KL": "xtrade_learner_approx_kl",
            "Clip fraction": "xtrade_learner_clip_fraction",
            "Explained variance": "xtrade_learner_explained_variance",
            "Grad norm (pre-clip)": "xtrade_learner_grad_norm",
            "Learning rate": "xtrade_learner_learning_rate",
            "Updates/s": "xtrade_learner_updates_total",
            "Policy lag (versions)": "histogram_quantile(",
            "Queue depths": "xtrade_queue_depth",
            "Stage time (s per s, stacked)": "sum by (stage) (rate(xtrade_stage_seconds_total",
            "Episode return (mean of last 100)": "xtrade_episode_return",
            "Episode Sharpe (mean of last 100)": "xtrade_episode_sharpe",
            "Fold": "xtrade_fold",
            "Phase": "xtrade_phase",
            "Checkpoint age": "xtrade_checkpoint_age_seconds",
            "Decode errors/s": "xtrade_decode_errors_total",
            "Skipped non-finite updates": "xtrade_learner_skipped_updates_total",
            "Reconnects": "xtrade_reconnects_total",
            "Dropped chunks/s": "xtrade_chunks_dropped_total",
        }
        by_title = {p.get("title"): p for p in viz}
        bad = []
        for t, needle in want_panels.items():
            p = by_title.get(t)
            exprs = " ".join(tg.get("expr", "") for tg in (p or {}).get("targets", []))
            if p is None: bad.append(t + ": missing")
            elif needle not in exprs: bad.append("%s: no query with %r" % (t, needle))
        check(not bad, "dashboard has the %d required panels with their queries" % len(want_panels), "; ".join(bad))
        stage = by_title.get("Stage time (s per s, stacked)", {})
        check(stage.get("fieldConfig", {}).get("defaults", {}).get("custom", {}).get("stacking", {}).get("mode") == "normal",
              "stage breakdown panel is stacked")

        # Every panel queries something, through the provisioned datasource.
        ds_uid = None
        try:
            ds = load_yaml_all("deploy/grafana/provisioning/datasources/prometheus.yml")[0]
            ds_uid = ds["datasources"][0]["uid"]
        except Exception as e:  # noqa: BLE001
            check(False, "datasource provisioning parses", str(e))
        bad = []
        for p in viz:
            tgs = p.get("targets", [])
            if not tgs or not all(tg.get("expr", "").strip() for tg in tgs):
                bad.append(str(p.get("title")) + ": no query")
            for d in [p.get("datasource", {})] + [tg.get("datasource", {}) for tg in tgs]:
                if not isinstance(d, dict) or d.get("uid") != ds_uid:
                    bad.append("%s: datasource %r, want uid %r" % (p.get("title"), d, ds_uid))
                    break
        check(not bad, "every panel has queries on datasource uid %r" % ds_uid, "; ".join(bad))

        # Every metric name in a query is a catalog family; grouping labels and
        # legend labels exist on the families the query reads.
        bad = []
        used = set()
        for p in viz:
            for tg in p.get("targets", []):
                expr = tg.get("expr", "")
                fams = set()
                for tok in series_names(expr):
                    f = family_of(tok)
                    if f is None: bad.append("%s: %s not in catalog.h" % (p.get("title"), tok))
                    else: fams.add(f)
                used |= fams
                allowed = {"job", "instance"}
                for f in fams: allowed |= set(fam[f]["labels"])
                if re.search(r'_bucket\b', expr): allowed.add("le")
                for grp in re.findall(r'\b(?:by|without|ignoring|on)\s*\(([^)]*)\)', expr):
                    for l in [x.strip() for x in grp.split(",") if x.strip()]:
                        if l not in allowed: bad.append("%s: label %s not on %s" % (p.get("title"), l, sorted(fams)))
                for l in re.findall(r'\{\{\s*(\w+)\s*\}\}', tg.get("legendFormat", "")):
                    if l not in allowed: bad.append("%s: legend label %s not on %s" % (p.get("title"), l, sorted(fams)))
                depth = {"(": 0, "[": 0, "{": 0}
                pairs = {")": "(", "]": "[", "}": "{"}
                for ch in expr:
                    if ch in depth: depth[ch] += 1
                    elif ch in pairs:
                        depth[pairs[ch]] -= 1
                        if depth[pairs[ch]] < 0: break
                if any(v != 0 for v in depth.values()): bad.append("%s: unbalanced brackets in %s" % (p.get("title"), expr))
                # rate()/increase() only make sense on counters and histogram series.
                for fn, tok in re.findall(r'\b(rate|increase|irate)\(\s*(xtrade_[a-z0-9_]+)', expr):
                    f = family_of(tok)
                    if f and fam[f]["type"] == "GAUGE": bad.append("%s: %s() of gauge %s" % (p.get("title"), fn, tok))
                for tok in re.findall(r'histogram_quantile\([^,]+,.*?(xtrade_[a-z0-9_]+)', expr):
                    if not tok.endswith("_bucket"): bad.append("%s: histogram_quantile over %s" % (p.get("title"), tok))
        check(not bad, "every dashboard query names catalog families and their labels only (%d families used)" % len(used),
              "; ".join(bad[:10]))
        # Panels fit the 24-column grid without overlapping.
        bad = []
        boxes = []
        for p in flat:
            g = p.get("gridPos", {})
            x, y, w, h = g.get("x", -1), g.get("y", -1), g.get("w", 0), g.get("h", 0)
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > 24: bad.append("%s: gridPos %s" % (p.get("title"), g))
            for (t2, x2, y2, w2, h2) in boxes:
                if x < x2 + w2 and x2 < x + w and y < y2 + h2 and y2 < y + h:
                    bad.append("%s overlaps %s" % (p.get("title"), t2))
            boxes.append((p.get("title"), x, y, w, h))
        check(not bad, "dashboard panels fit the grid without overlap", "; ".join(bad[:5]))

    # Docs: every metric name in the metric docs is a family; every family has a row.
    bad = []
    # docs/metrics.md is the registry's page: its error-message examples name
    # invalid metrics on purpose, so it is not scanned. Compose volume names
    # (<COMPOSE_PROJECT_NAME>_<volume>, e.g. xtrade_runs) are not metrics.
    not_metrics = set()
    try:
        proj = dict(l.strip().split("=", 1) for l in open("docker/.env")
                    if "=" in l and not l.lstrip().startswith("#")).get("COMPOSE_PROJECT_NAME", "")
        vols = (load_yaml_all("docker/docker-compose.yml")[0].get("volumes") or {})
        not_metrics = {"%s_%s" % (proj, v) for v in vols}
    except (OSError, ValueError, yaml.YAMLError):
        pass
    for doc in ["docs/metrics-catalog.md", "docs/cluster.md"]:
        if not os.path.exists(doc):
            if doc == "docs/metrics-catalog.md": bad.append(doc + " missing")
            continue
        for tok in set(re.findall(r'\bxtrade_[a-z0-9_]+\*?', open(doc).read())):
            if tok.endswith("*"):  # a prefix such as xtrade_eval_*: some family must match it
                if not any(f.startswith(tok[:-1]) for f in fam): bad.append("%s: %s matches no family" % (doc, tok))
            elif family_of(tok) is None and tok not in not_metrics:
                bad.append("%s: %s not in catalog.h" % (doc, tok))
    check(not bad, "every metric name in docs/metrics-catalog.md and docs/cluster.md is in catalog.h",
          "; ".join(sorted(bad)))
    doc = open("docs/metrics-catalog.md").read() if os.path.exists("docs/metrics-catalog.md") else ""
    documented = set(re.findall(r'^\| `(xtrade_[a-z0-9_]+)` \| (?:counter|gauge|histogram) \|', doc, re.M))
    check(documented == set(fam), "docs/metrics-catalog.md has one table row per catalog family",
          "undocumented: %s; stale: %s" % (sorted(set(fam) - documented), sorted(documented - set(fam))))
    bad = []
    for line in doc.splitlines():
        m = re.match(r'^\| `(xtrade_[a-z0-9_]+)` \| (counter|gauge|histogram) \| ([^|]*) \|', line)
        if m and m.group(1) in fam:
            f = fam[m.group(1)]
            labels = [l.strip(" `") for l in m.group(3).split(",") if l.strip(" `-")]
            if m.group(2).upper() != f["type"] or labels != f["labels"]:
                bad.append("%s: doc says %s %s" % (m.group(1), m.group(2), labels))
    check(not bad, "docs/metrics-catalog.md types and labels match catalog.h", "; ".join(bad))

    # ---------------------------------------------------------------- (c) compose, images, Prometheus, Grafana
    compose = None
    try:
        compose = load_yaml_all("docker/docker-compose.yml")[0]
        check(True, "docker/docker-compose.yml parses as YAML")
    except Exception as e:  # noqa: BLE001
        check(False, "docker/docker-compose.yml parses as YAML", str(e))

    def cmdline(svc):
        c = svc.get("command", [])
        return " ".join(c) if isinstance(c, list) else str(c)

    def env_of(svc):
        e = svc.get("environment", {})
        if isinstance(e, list):
            e = dict(x.split("=", 1) for x in e)
        return e

    if compose:
        svcs = compose.get("services", {})
        want = ["broker", "learner", "learner-cpu", "actor", "prometheus", "grafana"]
        check(all(s in svcs for s in want), "compose services: " + ", ".join(want), "have " + ", ".join(svcs))
        check("version" not in compose, "compose file has no obsolete top-level version key")
        vols = compose.get("volumes", {}) or {}
        check("runs" in vols and "models" in vols, "compose named volumes runs and models")
        daemons = {
            "broker": ("xtrade-broker --config /etc/xtrade/config.yaml", "docker/Dockerfile.actor", "9100"),
            "learner": ("xtrade-learner --config /etc/xtrade/config.yaml --broker tcp://broker:5555", "docker/Dockerfile.learner", "9101"),
            "learner-cpu": ("xtrade-learner --config /etc/xtrade/config.yaml --broker tcp://broker:5555 --set learner.backend=cpu", "docker/Dockerfile.actor", "9101"),
            "actor": ("xtrade-actor --config /etc/xtrade/config.yaml --broker tcp://broker:5555", "docker/Dockerfile.actor", "9102"),
        }
        for name, (cmd, dockerfile, port) in daemons.items():
            s = svcs.get(name, {})
            bad = []
            if cmdline(s) != cmd: bad.append("command %r" % cmdline(s))
            b = s.get("build", {})
            if not isinstance(b, dict) or b.get("dockerfile") != dockerfile or b.get("context") != "..":
                bad.append("build %r" % b)
            elif not os.path.exists(os.path.join("docker", b["context"], b["dockerfile"])):
                bad.append("build: " + b["dockerfile"] + " missing")
            if not s.get("image"): bad.append("no image")
            e = env_of(s)
            if e.get("XTRADE_BROKER") != "tcp://broker:5555": bad.append("XTRADE_BROKER %r" % e.get("XTRADE_BROKER"))
            if e.get("XTRADE_CONFIG") != "/etc/xtrade/config.yaml": bad.append("XTRADE_CONFIG %r" % e.get("XTRADE_CONFIG"))
            if str(e.get("XTRADE_METRICS_PORT")) != port: bad.append("XTRADE_METRICS_PORT %r" % e.get("XTRADE_METRICS_PORT"))
            mounts = [str(v) for v in s.get("volumes", [])]
            if not any(v.startswith("runs:") for v in mounts): bad.append("no runs volume")
            if not any(v.startswith("models:") for v in mounts): bad.append("no models volume")
            cfgm = [v for v in mounts if ":/etc/xtrade/config.yaml" in v]
            if not cfgm or "configs/" not in cfgm[0]: bad.append("config not mounted from configs/")
            if name != "broker" and "broker" not in (s.get("depends_on") or []): bad.append("no depends_on broker")
            check(not bad, "compose %s: command, build, image, env, volumes" % name, "; ".join(bad))
        gpu = svcs.get("learner", {}).get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        check(any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in gpu),
              "compose learner reserves an NVIDIA GPU (deploy.resources.reservations.devices)")
        lc = svcs.get("learner-cpu", {})
        check(lc.get("profiles") == ["cpu"] and "learner" in lc.get("networks", {}).get("default", {}).get("aliases", []),
              "compose learner-cpu is in profile cpu and answers to the name learner")
        check(not svcs.get("actor", {}).get("ports") and not svcs.get("actor", {}).get("container_name"),
              "compose actor is scalable (no published ports, no container_name)")
        check(all(not s.get("privileged") and not s.get("ulimits") and s.get("network_mode") is None
                  for s in svcs.values()),
              "compose file carries no privileged, ulimits or network_mode settings")
        pm = [str(v) for v in svcs.get("prometheus", {}).get("volumes", [])]
        check(any(v.startswith("../deploy/prometheus:/etc/prometheus") for v in pm)
              and "--config.file=/etc/prometheus/prometheus.yml" in svcs.get("prometheus", {}).get("command", []),
              "compose prometheus mounts deploy/prometheus and reads prometheus.yml")
        gm = [str(v) for v in svcs.get("grafana", {}).get("volumes", [])]
        check(any(v.startswith("../deploy/grafana/provisioning:/etc/grafana/provisioning") for v in gm)
              and any(v.startswith("../deploy/grafana/dashboards:/var/lib/grafana/dashboards") for v in gm),
              "compose grafana mounts the provisioning and dashboards folders")
        check("prometheus" in str(svcs.get("prometheus", {}).get("image")) and
              "grafana/grafana" in str(svcs.get("grafana", {}).get("image")),
              "compose prometheus and grafana use the prom/prometheus and grafana/grafana images (overridable)")

    # Dockerfiles: base image as a build argument, multi-stage, non-root, HEALTHCHECK on /healthz.
    for path, arg in [("docker/Dockerfile.actor", "BASE_IMAGE"), ("docker/Dockerfile.learner", "CUDA_BASE")]:
        try:
            lines = [l.strip() for l in open(path).read().replace("\\\n", " ").splitlines()
                     if l.strip() and not l.strip().startswith("#")]
        except OSError as e:
            check(False, path + " exists", str(e))
            continue
        froms = [l for l in lines if l.upper().startswith("FROM ")]
        first_from = next(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
        pre_args = [l for l in lines[:first_from] if l.upper().startswith("ARG ")]
        bad = []
        if not any(l.split()[1].startswith(arg + "=") for l in pre_args): bad.append("no ARG %s before FROM" % arg)
        if len(froms) < 2: bad.append("not multi-stage")
        if not all("${" in l.split()[1] for l in froms): bad.append("a FROM without a build argument")
        if arg == "BASE_IMAGE" and not all(l.split()[1] == "${BASE_IMAGE}" for l in froms):
            bad.append("every FROM must use ${BASE_IMAGE}")
        if arg == "CUDA_BASE" and froms[-1].split()[1] != "${CUDA_BASE}": bad.append("runtime stage not on ${CUDA_BASE}")
        after_last = lines[lines.index(froms[-1]):]
        users = [l.split()[1] for l in after_last if l.upper().startswith("USER ")]
        if not users or users[-1] in ("root", "0"): bad.append("runtime stage runs as root")
        hc = [l for l in after_last if l.upper().startswith("HEALTHCHECK ")]
        if not hc or "/healthz" not in hc[0] or "curl" not in hc[0]: bad.append("no HEALTHCHECK with curl on /healthz")
        run_text = " ".join(l for l in after_last if l.upper().startswith("RUN "))
        for lib in ["libczmq4", "libzmq5", "libprotobuf-c1", "libyaml-0-2", "libopenblas0", "libmicrohttpd12", "curl"]:
            if not re.search(r'\b%s\b' % re.escape(lib), run_text): bad.append("runtime lacks " + lib)
        if not any("scripts/bootstrap.sh" in l for l in lines[:lines.index(froms[-1])]): bad.append("builder does not use scripts/bootstrap.sh")
        if not any(l.upper().startswith("COPY --FROM=") and "/bin/" in l for l in after_last): bad.append("runtime does not copy bin/")
        check(not bad, path + ": ARG %s, multi-stage, non-root, HEALTHCHECK, runtime libraries" % arg, "; ".join(bad))
    check(os.path.exists(".dockerignore") and "build" in open(".dockerignore").read().split(),
          ".dockerignore keeps host build trees out of the image context")
    check(re.search(r'^pkgs_test="[^"]*\bpython3-yaml\b', open("scripts/bootstrap.sh").read(), re.M) is not None,
          "scripts/bootstrap.sh installs python3-yaml for these checks")

    # Prometheus scrape configs.
    try:
        prom = load_yaml_all("deploy/prometheus/prometheus.yml")[0]
        jobs = {j["job_name"]: j for j in prom.get("scrape_configs", [])}
        bad = []
        if prom.get("global", {}).get("scrape_interval") != "5s": bad.append("scrape_interval not 5s")
        if jobs.get("broker", {}).get("static_configs", [{}])[0].get("targets") != ["broker:9100"]: bad.append("broker target")
        if jobs.get("learner", {}).get("static_configs", [{}])[0].get("targets") != ["learner:9101"]: bad.append("learner target")
        dns = jobs.get("actor", {}).get("dns_sd_configs", [{}])[0]
        if dns.get("names") != ["actor"] or dns.get("type") != "A" or dns.get("port") != 9102: bad.append("actor dns_sd %r" % dns)
        check(not bad, "prometheus.yml: 5s scrapes of broker:9100, learner:9101, actors by DNS A records on 9102", "; ".join(bad))
    except Exception as e:  # noqa: BLE001
        check(False, "prometheus.yml parses", str(e))
    try:
        pk = load_yaml_all("deploy/prometheus/prometheus-k8s.yml")[0]
        sc = pk["scrape_configs"][0]
        rl = sc.get("relabel_configs", [])
        ok = (sc["kubernetes_sd_configs"][0]["role"] == "pod" and
              any("__meta_kubernetes_pod_annotation_prometheus_io_scrape" in r.get("source_labels", []) and r.get("action") == "keep" for r in rl) and
              any("__meta_kubernetes_pod_annotation_prometheus_io_port" in r.get("source_labels", []) for r in rl))
        check(ok, "prometheus-k8s.yml: pod discovery keeps annotated pods on their annotated port")
    except Exception as e:  # noqa: BLE001
        check(False, "prometheus-k8s.yml parses", str(e))

    # Grafana provisioning.
    try:
        ds = load_yaml_all("deploy/grafana/provisioning/datasources/prometheus.yml")[0]["datasources"][0]
        dp = load_yaml_all("deploy/grafana/provisioning/dashboards/xtrade.yml")[0]["providers"][0]
        check(ds.get("type") == "prometheus" and ds.get("url") == "http://prometheus:9090" and
              dp.get("type") == "file" and dp.get("options", {}).get("path") == "/var/lib/grafana/dashboards",
              "grafana provisioning: Prometheus datasource and a file provider on /var/lib/grafana/dashboards")
    except Exception as e:  # noqa: BLE001
        check(False, "grafana provisioning parses", str(e))

    # ---------------------------------------------------------------- (d) Kubernetes
    k8s_dir = "deploy/k8s"
    docs = []
    bad = []
    for fn in sorted(os.listdir(k8s_dir)):
        if not fn.endswith(".yaml") or fn == "kustomization.yaml":
            continue
        try:
            for d in load_yaml_all(os.path.join(k8s_dir, fn)):
                docs.append((fn, d))
        except Exception as e:  # noqa: BLE001
            bad.append("%s: %s" % (fn, e))
    check(not bad and docs, "deploy/k8s/*.yaml parse (%d objects)" % len(docs), "; ".join(bad))
    bad = []
    for fn, d in docs:
        if not d.get("apiVersion") or not d.get("kind") or not d.get("metadata", {}).get("name"):
            bad.append("%s: object without apiVersion/kind/metadata.name" % fn)
        elif d["kind"] != "Namespace" and d["metadata"].get("namespace") != "xtrade":
            bad.append("%s: %s %s not in namespace xtrade" % (fn, d["kind"], d["metadata"]["name"]))
    check(not bad, "k8s objects carry apiVersion, kind, metadata.name and namespace xtrade", "; ".join(bad))
    obj = {(d.get("kind"), d.get("metadata", {}).get("name")): d for fn, d in docs}
    try:
        kz = load_yaml_all(os.path.join(k8s_dir, "kustomization.yaml"))[0]
        files = sorted(fn for fn in os.listdir(k8s_dir) if fn.endswith(".yaml") and fn != "kustomization.yaml")
        check(sorted(kz.get("resources", [])) == files, "kustomization.yaml lists every manifest",
              "lists %s, have %s" % (kz.get("resources"), files))
    except Exception as e:  # noqa: BLE001
        check(False, "kustomization.yaml parses", str(e))

    def pod_spec(d):
        return d.get("spec", {}).get("template", {}).get("spec", {})

    def container(d):
        cs = pod_spec(d).get("containers", [])
        return cs[0] if cs else {}

    def ports_of(c):
        return {p.get("containerPort") for p in c.get("ports", [])}

    def check_workload(kind, name, metrics_port, extra):
        d = obj.get((kind, name))
        if d is None:
            check(False, "k8s %s %s exists" % (kind, name))
            return None
        bad = []
        sel = d.get("spec", {}).get("selector", {}).get("matchLabels", {})
        tl = d.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        if not sel or any(tl.get(k) != v for k, v in sel.items()): bad.append("selector does not match template labels")
        ann = d.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != str(metrics_port):
            bad.append("pod annotations prometheus.io/scrape, port %s" % metrics_port)
        c = container(d)
        if metrics_port not in ports_of(c): bad.append("no containerPort %d" % metrics_port)
        for probe in ("readinessProbe", "livenessProbe"):
            if c.get(probe, {}).get("httpGet", {}).get("path") != "/healthz": bad.append(probe + " not on /healthz")
        if not pod_spec(d).get("securityContext", {}).get("runAsNonRoot"): bad.append("not runAsNonRoot")
        if "/etc/xtrade/config.yaml" not in [m.get("mountPath") for m in c.get("volumeMounts", [])]:
            bad.append("config not mounted at /etc/xtrade/config.yaml")
        cms = [v.get("configMap", {}).get("name") for v in pod_spec(d).get("volumes", [])]
        if "xtrade-config" not in cms: bad.append("ConfigMap xtrade-config not used")
        bad += extra(d, c)
        check(not bad, "k8s %s %s: selector, scrape annotations, probes, non-root, config" % (kind, name), "; ".join(bad))
        return d

    def broker_extra(d, c):
        bad = []
        claims = [t.get("metadata", {}).get("name") for t in d.get("spec", {}).get("volumeClaimTemplates", [])]
        if "models" not in claims: bad.append("no PVC (volumeClaimTemplates) for models")
        if 5555 not in ports_of(c): bad.append("no containerPort 5555")
        if "xtrade-broker" not in c.get("command", []) and c.get("command", [""])[0] != "xtrade-broker": bad.append("command")
        return bad

    def learner_extra(d, c):
        bad = []
        lim = c.get("resources", {}).get("limits", {})
        if str(lim.get("nvidia.com/gpu")) != "1": bad.append("no resources.limits nvidia.com/gpu: 1")
        ps = pod_spec(d)
        if not ps.get("nodeSelector") and not ps.get("affinity", {}).get("nodeAffinity"): bad.append("no GPU nodeSelector")
        if not any(t.get("key") == "nvidia.com/gpu" for t in ps.get("tolerations", [])): bad.append("no nvidia.com/gpu toleration")
        if d.get("spec", {}).get("strategy", {}).get("type") != "Recreate": bad.append("strategy not Recreate")
        if not {5556, 5557} <= ports_of(c): bad.append("no containerPorts 5556, 5557")
        if c.get("command", [""])[0] != "xtrade-learner": bad.append("command")
        return bad

    def actor_extra(d, c):
        bad = []
        if d.get("spec", {}).get("replicas") != 4: bad.append("replicas != 4")
        aa = pod_spec(d).get("affinity", {}).get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", [])
        if not any(t.get("podAffinityTerm", {}).get("topologyKey") == "kubernetes.io/hostname" for t in aa):
            bad.append("no preferred pod anti-affinity across nodes")
        if c.get("command", [""])[0] != "xtrade-actor": bad.append("command")
        return bad

    wl = {"broker": check_workload("StatefulSet", "xtrade-broker", 9100, broker_extra),
          "learner": check_workload("Deployment", "xtrade-learner", 9101, learner_extra),
          "actor": check_workload("Deployment", "xtrade-actor", 9102, actor_extra)}

    def check_service(name, ports, headless, target):
        s = obj.get(("Service", name))
        if s is None:
            check(False, "k8s Service %s exists" % name)
            return
        bad = []
        have = {p.get("port") for p in s.get("spec", {}).get("ports", [])}
        if not set(ports) <= have: bad.append("ports %s, want %s" % (sorted(have), ports))
        if headless and s.get("spec", {}).get("clusterIP") != "None": bad.append("not headless")
        w = wl.get(target)
        tl = (w or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        sel = s.get("spec", {}).get("selector", {})
        if not sel or any(tl.get(k) != v for k, v in sel.items()): bad.append("selector does not match the %s pods" % target)
        check(not bad, "k8s Service %s: ports %s%s" % (name, ports, ", headless" if headless else ""), "; ".join(bad))

    check_service("xtrade-broker", [5555, 9100], False, "broker")
    check_service("xtrade-learner", [5556, 5557, 9101], False, "learner")
    check_service("xtrade-actor", [9102], True, "actor")
    # Storage: one run directory shared by every daemon, as the compose volume
    # `runs` is (the broker exports the learner's checkpoints and reads the
    # actors' eval CSVs), at <image WORKDIR>/<run.dir>.
    def mounts(d):
        """mountPath -> ("pvc", claim) | ("template", name) | (volume type, name) | ("undefined", name)."""
        vols = {v.get("name"): v for v in pod_spec(d).get("volumes", [])}
        tmpl = {t.get("metadata", {}).get("name") for t in d.get("spec", {}).get("volumeClaimTemplates", [])}
        out = {}
        for m in container(d).get("volumeMounts", []):
            v = vols.get(m.get("name"))
            if v is None:
                out[m.get("mountPath")] = ("template" if m.get("name") in tmpl else "undefined", m.get("name"))
            elif "persistentVolumeClaim" in v:
                out[m.get("mountPath")] = ("pvc", v["persistentVolumeClaim"].get("claimName"))
            else:
                out[m.get("mountPath")] = (next((k for k in v if k != "name"), "?"), m.get("name"))
        return out

    workdirs = set()
    for path in ("docker/Dockerfile.actor", "docker/Dockerfile.learner"):
        wd = re.findall(r"^WORKDIR\s+(\S+)", open(path).read(), re.M)
        workdirs.add(wd[-1] if wd else None)
    try:
        run_dir = (yaml.safe_load(obj.get(("ConfigMap", "xtrade-config"), {}).get("data", {}).get("config.yaml", "")) or {}) \
            .get("run", {}).get("dir", "runs")
    except yaml.YAMLError:
        run_dir = "?"
    runs_path = "%s/%s" % (sorted(workdirs, key=str)[0], run_dir)
    check(len(workdirs) == 1 and run_dir == "runs" and runs_path == "/var/lib/xtrade/runs",
          "both images work in /var/lib/xtrade and the ConfigMap's run.dir is runs: runs at /var/lib/xtrade/runs",
          "WORKDIRs %s, run.dir %r" % (sorted(workdirs, key=str), run_dir))
    rpvc = obj.get(("PersistentVolumeClaim", "xtrade-runs"))
    check(rpvc is not None and rpvc.get("spec", {}).get("accessModes") == ["ReadWriteMany"],
          "k8s PVC xtrade-runs is ReadWriteMany (mounted by pods on different nodes)",
          "accessModes %r" % ((rpvc or {}).get("spec", {}).get("accessModes"),))
    bad = []
    for role in ("broker", "learner", "actor"):
        m = mounts(wl[role] or {})
        if m.get(runs_path) != ("pvc", "xtrade-runs"):
            bad.append("%s mounts %r at %s" % (role, m.get(runs_path), runs_path))
        bad += ["%s: volumeMount %s has no volume" % (role, n) for k, n in m.values() if k == "undefined"]
    bm = mounts(wl["broker"] or {})
    if bm.get("/var/lib/xtrade/models") != ("template", "models"):
        bad.append("broker mounts %r at /var/lib/xtrade/models, want its claim template models"
                   % (bm.get("/var/lib/xtrade/models"),))
    used = {c for w in wl.values() for k, c in mounts(w or {}).values() if k == "pvc"}
    pvcs = {n for (k, n) in obj if k == "PersistentVolumeClaim"}
    if pvcs - used: bad.append("PVCs nobody mounts: %s" % sorted(pvcs - used))
    if used - pvcs: bad.append("claims mounted but not defined: %s" % sorted(used - pvcs))
    if compose:
        for name in ("broker", "learner", "learner-cpu", "actor"):
            cm_ = [str(v) for v in compose.get("services", {}).get(name, {}).get("volumes", [])]
            if "runs:%s" % runs_path not in cm_ or "models:/var/lib/xtrade/models" not in cm_:
                bad.append("compose %s mounts %s" % (name, cm_))
    check(not bad, "broker, learner and actors mount claim xtrade-runs at %s (compose: volume runs there "
          "too); the broker's models claim at /var/lib/xtrade/models" % runs_path, "; ".join(bad))
    sec = obj.get(("Secret", "xtrade-curve"), {})
    cli = obj.get(("Secret", "xtrade-curve-clients"), {})
    keys = set((sec.get("stringData") or {}) | (sec.get("data") or {}))
    check({"broker.key", "broker.key_secret", "learner.key", "learner.key_secret", "actor.key", "actor.key_secret"} <= keys
          and {"actor.key"} <= set((cli.get("stringData") or {}) | (cli.get("data") or {})),
          "k8s Secrets: broker/learner server keys, actor client keys, allowed client public keys",
          "have %s" % sorted(keys))
    cm = obj.get(("ConfigMap", "xtrade-config"), {})
    try:
        run_cfg = yaml.safe_load(cm["data"]["config.yaml"])
        check(isinstance(run_cfg, dict) and "folds" in run_cfg, "k8s ConfigMap xtrade-config holds a run config (config.yaml)")
    except Exception as e:  # noqa: BLE001
        check(False, "k8s ConfigMap xtrade-config holds a run config", str(e))
    try:
        embedded = cm["data"]["config.yaml"].encode()
        demo = open("configs/demo.yaml", "rb").read()
        first = next((i for i in range(min(len(embedded), len(demo))) if embedded[i] != demo[i]),
                     min(len(embedded), len(demo)))
        check(embedded == demo, "k8s ConfigMap config.yaml is configs/demo.yaml byte for byte",
              "first difference at byte %d (line %d of configs/demo.yaml); run deploy/k8s/gen-configmap.sh"
              % (first, demo[:first].count(b"\n") + 1))
    except Exception as e:  # noqa: BLE001
        check(False, "k8s ConfigMap config.yaml is configs/demo.yaml byte for byte", str(e))
    gen = os.environ["XT_GEN_CHECK"]
    check(gen == "ok", "deploy/k8s/gen-configmap.sh reproduces deploy/k8s/configmap.yaml", gen[5:])
    cfg_check = os.environ["XT_CFG_CHECK"]
    if cfg_check.startswith("SKIP"):
        skip("xtrade config --dump accepts the ConfigMap's config.yaml", cfg_check[5:])
    else:
        check(cfg_check == "ok", "xtrade config --dump accepts the ConfigMap's config.yaml", cfg_check[5:])

    # ---------------------------------------------------------------- (e) compose binary
    cc = os.environ["XT_COMPOSE_CHECK"]
    if cc.startswith("SKIP"):
        skip("docker-compose config validates docker/docker-compose.yml", cc[5:])
    else:
        check(cc.startswith("ok"), "%s config validates docker/docker-compose.yml (profile cpu)" % cc.split(" ", 1)[-1]
              if cc.startswith("ok") else "docker-compose config validates docker/docker-compose.yml", cc[5:])

    # ---------------------------------------------------------------- promtool
    for line in os.environ["XT_PROM_CHECKS"].splitlines():
        if line.startswith("SKIP "):
            what, _, why = line[5:].partition(": ")
            skip(what, why)
        elif line.startswith("ok "):
            check(True, line[3:])
        elif line.startswith("FAIL "):
            what, _, why = line[5:].partition(": ")
            check(False, what, why)


try:
    main()
except Exception:  # noqa: BLE001 - a malformed or missing file must not hide the summary
    import traceback
    check(False, "checks stopped early", traceback.format_exc().strip().splitlines()[-1])

print("deploy_files: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PYEOF
