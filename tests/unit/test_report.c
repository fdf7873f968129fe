// test_report.c - the report writers: report.json parses (a strict JSON
// checker below, and python3's json module when it is installed), NaN is
// null, numbers round-trip with the fewest digits; report.csv has one row per
// fold x shard x strategy and the same column count on every row, quoting
// odd symbol names; report.html is self-contained, has every section, one
// <svg> per chart, escapes symbol names and keeps every chart within
// XT_REPORT_MAX_POINTS vertices for 120k-step curves; min/max downsampling
// keeps extremes; the same input gives byte-identical files; bad input and
// unwritable directories fail with a sentence.
#include "testutil.h"

#include "core/fileio.h"
#include "core/rng.h"
#include "report/report.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

// Removes a test directory and everything in it.
static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}
static void s_rmtree(const char *dir) { nftw(dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

// ---------------------------------------------------------------- strict JSON checker

typedef struct {
    const char *p;
    int depth;
} jp;

static void s_ws(jp *j) {
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t') j->p++;
}

static int s_jvalue(jp *j);

static int s_jstring(jp *j) {
    if (*j->p != '"') return 0;
    for (j->p++; *j->p != '"'; j->p++) {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20) return 0; // raw control character
        if (c != '\\') continue;
        j->p++;
        if (*j->p == 'u') {
            for (int i = 1; i <= 4; i++)
                if (!isxdigit((unsigned char)j->p[i])) return 0;
            j->p += 4;
        } else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p) return 0;
    }
    j->p++;
    return 1;
}

static int s_jnumber(jp *j) {
    const char *p = j->p;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (isdigit((unsigned char)*p)) p++;
    else return 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    j->p = p;
    return 1;
}

static int s_jvalue(jp *j) {
    s_ws(j);
    if (++j->depth > 64) return 0;
    int ok = 0;
    if (*j->p == '{' || *j->p == '[') {
        char close = *j->p == '{' ? '}' : ']';
        int obj = close == '}';
        j->p++;
        s_ws(j);
        if (*j->p == close) ok = 1, j->p++;
        else
            for (;;) {
                if (obj) {
                    s_ws(j);
                    if (!s_jstring(j)) break;
                    s_ws(j);
                    if (*j->p++ != ':') break;
                }
                if (!s_jvalue(j)) break;
                s_ws(j);
                if (*j->p == ',') {
                    j->p++;
                    continue;
                }
                if (*j->p == close) ok = 1, j->p++;
                break;
            }
    } else if (*j->p == '"') ok = s_jstring(j);
    else if (!strncmp(j->p, "true", 4)) ok = 1, j->p += 4;
    else if (!strncmp(j->p, "false", 5)) ok = 1, j->p += 5;
    else if (!strncmp(j->p, "null", 4)) ok = 1, j->p += 4;
    else ok = s_jnumber(j);
    j->depth--;
    return ok;
}

// 1 if text is exactly one JSON value (surrounding whitespace allowed).
static int s_json_valid(const char *text) {
    jp j = {text, 0};
    if (!s_jvalue(&j)) return 0;
    s_ws(&j);
    return *j.p == '\0';
}

static void t_json_checker(void **state) {
    (void)state;
    // The checker itself must reject what a parser rejects.
    assert_true(s_json_valid("{\"a\": [1, -0.5, 2e-3, true, null, \"x\\n\\u00e9\"]}"));
    assert_false(s_json_valid("{\"a\": NaN}"));
    assert_false(s_json_valid("{\"a\": 01}"));
    assert_false(s_json_valid("{\"a\": 1,}"));
    assert_false(s_json_valid("{\"a\" 1}"));
    assert_false(s_json_valid("[\"tab\there\"]"));
    assert_false(s_json_valid("[1] [2]"));
    assert_false(s_json_valid("{\"a\": inf}"));
}

// ---------------------------------------------------------------- a run to report

enum { NF = 2, NS = 2, LONG = 120000, SHORT = 3000, NA = 7 };
static const char *const WEIRD = "<b>E&T\"H'</b>,x"; // HTML, CSV and JSON specials in one symbol

typedef struct {
    int64_t ts[NF][NS][LONG];
    double eq[NF][NS][XT_WF_NSTRAT][LONG];
    double alloc[NF][NS][LONG * NA];
    xt_wf_shard sh[NF][NS];
    xt_wf_fold folds[NF];
    xt_wf_run run;
} fixture;

static const char *const ALLOC_NAMES[NA] = {"BTC", "ETH", "SOL", "EUR", "GBP", "JPY", "cash"};

// Asset env (position column) or portfolio env (7 weights). Shard 0 has
// LONG steps with a deep dip at step 54321, shard 1 SHORT steps.
static fixture *s_fixture(xt_wf_env env) {
    fixture *x = calloc(1, sizeof *x);
    assert_non_null(x);
    xt_rng r;
    xt_rng_seed(&r, 3);
    for (int f = 0; f < NF; f++) {
        int64_t start = 1640995200 + f * 31536000LL; // 2022-01-01, 2023-01-01
        x->folds[f] = (xt_wf_fold){.index = f + 1, .train_start = 1577836800, .train_end = start,
                                   .test_start = start, .test_end = start + 31536000LL, .n_shards = NS,
                                   .shards = x->sh[f]};
        for (int k = 0; k < NS; k++) {
            xt_wf_shard *sh = &x->sh[f][k];
            int64_t n = k == 0 ? LONG : SHORT, step = 31536000LL / n;
            sh->symbol = env == XT_WF_ENV_PORTFOLIO ? "portfolio" : k == 0 ? "BTC" : WEIRD;
            sh->timeframe = k == 0 ? "15m" : "4h";
            sh->bars_per_year = 365.25 * 86400.0 / (double)step;
            for (int s = 0; s < XT_WF_NSTRAT; s++) {
                xt_wf_metrics *m = &sh->m[s];
                xt_wf_metrics_clear(m);
                m->total_return = 0.1 * (f + 1) - 0.05 * s;
                m->annual_return = 0.1 + 0.2; // needs all 17 digits: 0.30000000000000004
                m->sharpe = 1.25 - 0.5 * s;
                m->max_drawdown = 0.12 + 0.01 * k;
                m->trades = 42;
                m->avg_cash = 0.25;
                m->pct_cash_over_20 = 0.4;
                // profit_factor stays NaN: "not available" -> null / empty / n/a
            }
            for (int64_t t = 0; t < n; t++) x->ts[f][k][t] = start + t * step;
            for (int s = 0; s < XT_WF_NSTRAT; s++) {
                double e = 10000.0;
                for (int64_t t = 0; t < n; t++) {
                    if (t && s != XT_WF_CASH) e *= 1.0 + 0.00002 * (2 - s) + 0.002 * xt_rng_normal(&r);
                    x->eq[f][k][s][t] = e * (s == 0 && k == 0 && t == 54321 ? 0.5 : 1.0);
                }
                sh->curves.equity[s] = x->eq[f][k][s];
            }
            double pos = 0.0;
            for (int64_t t = 0; t < n; t++) {
                if (env == XT_WF_ENV_ASSET) {
                    if (xt_rng_uniform(&r) < 0.01) pos = -1.0 + 0.5 * (double)xt_rng_below(&r, 5);
                    x->alloc[f][k][t] = pos;
                } else {
                    double sum = 0.0, *w = &x->alloc[f][k][t * NA];
                    for (int a = 0; a < NA; a++) sum += (w[a] = 0.05 + xt_rng_uniform(&r));
                    for (int a = 0; a < NA; a++) w[a] /= sum;
                }
            }
            sh->curves.n = n;
            sh->curves.ts = x->ts[f][k];
            sh->curves.n_alloc = env == XT_WF_ENV_ASSET ? 1 : NA;
            sh->curves.alloc = x->alloc[f][k];
            sh->curves.alloc_names = env == XT_WF_ENV_ASSET ? NULL : ALLOC_NAMES;
        }
    }
    x->run = (xt_wf_run){.run_id = "wf-2024<01>", .config_summary = "symbols: BTC,ETH\nfees: crypto 0.10% & forex 0.05%",
                         .env = env, .created = 1735689600, .n_folds = NF, .folds = x->folds};
    return x;
}

static char *s_read(const char *dir, const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    xt_err err = {0};
    if (xt_file_read_all(path, 256u << 20, &text, len, &err) != 0) fail_msg("%s", err.msg);
    return text;
}

static int s_count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

// Vertices in every points="..." attribute between each <svg and </svg>;
// returns the number of charts, the largest count in *most.
static int s_svg_vertices(const char *html, long *most) {
    int charts = 0;
    *most = 0;
    for (const char *p = html; (p = strstr(p, "<svg")); charts++) {
        const char *end = strstr(p, "</svg>");
        assert_non_null(end);
        long v = 0;
        for (const char *q = p; (q = strstr(q, "points=\"")) && q < end;) {
            q += 8;
            const char *z = strchr(q, '"');
            for (const char *c = q; c < z; c++) v += *c == ',';
            q = z;
        }
        if (v > *most) *most = v;
        p = end;
    }
    return charts;
}

// 1 if every element opened in html is closed in order (void elements and
// "/>" aside). Escaped text cannot open tags, so names with "<" show up here.
static int s_html_balanced(const char *html) {
    static const char *const voids[] = {"meta", "rect", "line", "polyline", "polygon", "br", "!DOCTYPE"};
    char stack[64][16];
    int depth = 0;
    for (const char *p = html; (p = strchr(p, '<')); p++) {
        int close = p[1] == '/';
        const char *n = p + 1 + close;
        size_t len = strcspn(n, " >/\n");
        const char *gt = strchr(n, '>');
        if (!gt || len == 0 || len >= 16) return 0;
        int is_void = gt[-1] == '/';
        for (size_t v = 0; v < sizeof voids / sizeof voids[0]; v++)
            is_void |= strlen(voids[v]) == len && !strncmp(n, voids[v], len);
        if (close) {
            if (depth == 0 || strlen(stack[depth - 1]) != len || strncmp(stack[depth - 1], n, len)) return 0;
            depth--;
        } else if (!is_void) {
            if (depth == 64) return 0;
            memcpy(stack[depth], n, len), stack[depth++][len] = '\0';
        }
    }
    return depth == 0;
}

// ---------------------------------------------------------------- the three files

static void t_files_asset_env(void **state) {
    (void)state;
    fixture *x = s_fixture(XT_WF_ENV_ASSET);
    char dir[256], sub[300];
    xt_test_tmpdir(dir, "report");
    snprintf(sub, sizeof sub, "%s/runs/wf/report", dir); // created on demand
    xt_err err = {0};
    assert_int_equal(xt_report_write(&x->run, sub, &err), 0);
    size_t jl, cl, hl;
    char *json = s_read(sub, "report.json", &jl), *csv = s_read(sub, "report.csv", &cl),
         *html = s_read(sub, "report.html", &hl);

    // JSON: valid, stable keys, NaN -> null, escaped strings, round-trip numbers.
    assert_true(s_json_valid(json));
    assert_contains(json, "\"format\": \"xtrade-report\"");
    assert_contains(json, "\"run_id\": \"wf-2024<01>\"");
    assert_contains(json, "\"created\": \"2025-01-01T00:00:00Z\"");
    assert_contains(json, "\"symbol\": \"<b>E&T\\\"H'</b>,x\"");
    assert_contains(json, "\"config_summary\": \"symbols: BTC,ETH\\nfees: crypto 0.10% & forex 0.05%\"");
    assert_contains(json, "\"profit_factor\": null");
    assert_contains(json, "\"total_return\": 0.1,"); // not 0.10000000000000001
    assert_contains(json, "\"annual_return\": 0.30000000000000004,"); // 17 digits needed to read back
    assert_contains(json, "\"train\": {\"start\": \"2020-01-01T00:00:00Z\"");
    assert_contains(json, "\"dsr\": {\"defined\": ");
    assert_contains(json, "\"pbo\": {\"defined\": true");
    assert_contains(json, "\"pass_criteria\": [");
    assert_int_equal(s_count(json, "\"buy_and_hold\": {\"total_return\""), NF * NS);
    assert_null(strstr(json, "nan"));
    assert_null(strstr(json, "inf"));
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        // An independent parser agrees and sees the structure we meant.
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); "
                 "assert d['folds'][1]['shards'][1]['symbol']=='<b>E&T\\\"H\\'</b>,x'; "
                 "assert d['folds'][0]['shards'][0]['metrics']['agent']['profit_factor'] is None; "
                 "assert len(d['shards'])==2 and d['overall']['consistency']['agent']==1.0; "
                 "assert d['pbo']['blocks'] in (2,4,8,16)\" %s/report.json",
                 sub);
        assert_int_equal(system(cmd), 0);
    }

    // CSV: header + fold x shard x strategy rows, 10 + 17 columns on every row.
    int rows = 0;
    for (const char *line = csv; *line; rows++) {
        int fields = 1, quoted = 0;
        const char *p = line;
        for (; *p && (quoted || *p != '\n'); p++) {
            if (*p == '"') quoted = !quoted;
            else if (*p == ',' && !quoted) fields++;
        }
        if (fields != 10 + XT_WF_NMETRICS) fail_msg("csv row %d has %d fields", rows, fields);
        line = *p ? p + 1 : p;
    }
    assert_int_equal(rows, 1 + NF * NS * XT_WF_NSTRAT);
    const char *head = "run_id,fold,train_start,train_end,test_start,test_end,symbol,timeframe,strategy,steps,"
                       "total_return,annual_return,";
    assert_true(strncmp(csv, head, strlen(head)) == 0);
    assert_contains(csv, "\nwf-2024<01>,1,2020-01-01T00:00:00Z,2022-01-01T00:00:00Z,2022-01-01T00:00:00Z,"
                         "2023-01-01T00:00:00Z,BTC,15m,agent,120000,");
    assert_contains(csv, ",\"<b>E&T\"\"H'</b>,x\",4h,equal_weight,3000,0.1,");
    assert_contains(csv, ",BTC,15m,agent,120000,0.1,0.30000000000000004,,1.25,,0.12,,,,,,,42,,,0.25,0.4\n");

    // HTML: self-contained, every section, escaped names, one svg per chart.
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_true(s_html_balanced(html));
    assert_false(s_html_balanced("<div><table></div></table>")); // the checker checks
    const char *sections[] = {"id=\"overview\"", "id=\"config\"", "id=\"folds\"", "id=\"per-fold\"",
                              "id=\"per-symbol\"", "id=\"per-timeframe\"", "id=\"per-shard\"", "id=\"targets\"",
                              "id=\"details\"", ">Consistency<", ">Deflated Sharpe Ratio<",
                              ">Probability of Backtest Overfitting<", "Pass criteria"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) assert_contains(html, sections[i]);
    assert_contains(html, "&lt;b&gt;E&amp;T&quot;H&#39;&lt;/b&gt;,x 4h");
    assert_null(strstr(html, "<b>E&T"));
    assert_contains(html, "<title>xtrade report: wf-2024&lt;01&gt;</title>");
    assert_contains(html, "fees: crypto 0.10% &amp; forex 0.05%");
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    // The only URL is the SVG namespace, once per chart.
    long most = 0;
    int charts = s_svg_vertices(html, &most);
    assert_int_equal(charts, NF * NS * 3); // equity, drawdown, position per fold x shard
    assert_int_equal(s_count(html, "http"), charts);
    if (most > XT_REPORT_MAX_POINTS) fail_msg("a chart has %ld vertices (limit %d)", most, XT_REPORT_MAX_POINTS);
    assert_true(most > XT_REPORT_MAX_POINTS / 2); // the long shard does use its budget
    assert_int_equal(s_count(html, "<title>Equity, BTC 15m, fold 2</title>"), 1);
    assert_int_equal(s_count(html, "<title>Position, &lt;b&gt;E&amp;T&quot;H&#39;&lt;/b&gt;,x 4h, fold 1</title>"), 1);

    // Determinism: a second write elsewhere gives the same bytes.
    char sub2[300];
    snprintf(sub2, sizeof sub2, "%s/again", dir);
    assert_int_equal(xt_report_write(&x->run, sub2, &err), 0);
    const char *names[3] = {"report.json", "report.csv", "report.html"};
    const char *first[3] = {json, csv, html};
    size_t lens[3] = {jl, cl, hl};
    for (int i = 0; i < 3; i++) {
        size_t l2;
        char *again = s_read(sub2, names[i], &l2);
        assert_int_equal(l2, lens[i]);
        assert_memory_equal(again, first[i], l2);
        free(again);
    }
    free(json), free(csv), free(html);
    free(x);
    s_rmtree(dir);
}

static void t_portfolio_env(void **state) {
    (void)state;
    fixture *x = s_fixture(XT_WF_ENV_PORTFOLIO);
    char *html = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    xt_err err = {0};
    assert_int_equal(xt_report_render(&x->run, NULL, XT_REPORT_HTML, &html, &len, &err), 0);
    assert_int_equal(strlen(html), len);
    assert_true(s_html_balanced(html));
    long most = 0;
    assert_int_equal(s_svg_vertices(html, &most), NF * NS * 3);
    if (most > XT_REPORT_MAX_POINTS) fail_msg("a chart has %ld vertices (limit %d)", most, XT_REPORT_MAX_POINTS);
    // Stacked allocation: one polygon per weight, labelled, cash in its own colour.
    const char *alloc = strstr(html, "<title>Allocation, portfolio 15m, fold 1</title>");
    assert_non_null(alloc);
    const char *end = strstr(alloc, "</figure>");
    int polygons = 0;
    for (const char *p = alloc; (p = strstr(p, "<polygon")) && p < end; p++) polygons++;
    assert_int_equal(polygons, NA);
    assert_contains(alloc, "#bab0ac");
    assert_contains(alloc, "</i>JPY</span><span><i style=\"background:#bab0ac\"></i>cash</span>");
    // The same shard key in both timeframes is two shards.
    assert_contains(html, "<th>portfolio 4h</th>");
    assert_int_equal(xt_report_render(&x->run, NULL, XT_REPORT_HTML, &again, &len2, &err), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(again, html, len);
    free(again), free(html);

    // A single shard (no N >= 2 to rank): PBO is null with its reason.
    x->run.n_folds = 1;
    x->folds[0].n_shards = 1;
    char *json = NULL;
    assert_int_equal(xt_report_render(&x->run, NULL, XT_REPORT_JSON, &json, &len, &err), 0);
    assert_true(s_json_valid(json));
    assert_contains(json, "\"pbo\": {\"defined\": false, \"value\": null, \"strategies\": 1,");
    assert_contains(json, "\"note\": \"PBO needs at least 2 strategies (shards with out-of-sample curves); this run "
                          "has fewer\"");
    free(json);
    free(x);
}

// ---------------------------------------------------------------- downsampling

static void t_downsample(void **state) {
    (void)state;
    enum { N = 100000 };
    static double y[N];
    static int64_t idx[XT_REPORT_MAX_POINTS];
    for (int i = 0; i < N; i++) y[i] = sin(i * 0.001);
    y[54321] = -5.0; // a one-step crash: must survive
    y[77777] = 9.0;
    y[100] = NAN;
    int64_t k = xt_report_downsample(y, N, XT_REPORT_MAX_POINTS, idx);
    assert_true(k <= XT_REPORT_MAX_POINTS);
    assert_true(k >= XT_REPORT_MAX_POINTS - 2);
    int crash = 0, spike = 0;
    for (int64_t i = 0; i < k; i++) {
        if (i) assert_true(idx[i] > idx[i - 1]);
        assert_true(isfinite(y[idx[i]]));
        crash |= idx[i] == 54321, spike |= idx[i] == 77777;
    }
    assert_true(crash && spike);
    // Each of the 1000 buckets of 100 steps keeps its own min and max.
    for (int j = 0; j < 1000; j += 97) {
        int lo = j * 100, hi = j * 100;
        for (int i = j * 100; i < (j + 1) * 100; i++) {
            if (!isfinite(y[i])) continue;
            if (!isfinite(y[lo]) || y[i] < y[lo]) lo = i;
            if (!isfinite(y[hi]) || y[i] > y[hi]) hi = i;
        }
        int got_lo = 0, got_hi = 0;
        for (int64_t i = 0; i < k; i++) got_lo |= idx[i] == lo, got_hi |= idx[i] == hi;
        if (!got_lo || !got_hi) fail_msg("bucket %d lost its min (%d) or max (%d)", j, lo, hi);
    }
    // Short series: every finite point, in order.
    const double s[5] = {1, NAN, 3, INFINITY, 5};
    int64_t small[5];
    assert_int_equal(xt_report_downsample(s, 5, 10, small), 3);
    assert_int_equal(small[0], 0);
    assert_int_equal(small[1], 2);
    assert_int_equal(small[2], 4);
    // An odd budget never overflows.
    assert_true(xt_report_downsample(y, N, 7, idx) <= 7);
}

// ---------------------------------------------------------------- bad input

static void t_errors(void **state) {
    (void)state;
    fixture *x = s_fixture(XT_WF_ENV_ASSET);
    xt_err err = {0};
    char dir[256], path[512];
    xt_test_tmpdir(dir, "report-bad");
    x->sh[1][0].timeframe = NULL;
    assert_int_equal(xt_report_write(&x->run, dir, &err), XT_EINVAL);
    assert_string_equal(err.msg, "report: fold 2 shard 0 has no symbol or timeframe");
    assert_int_equal(xt_file_exists(dir) && !xt_file_exists(strcat(strcpy(path, dir), "/report.json")), 1);
    x->sh[1][0].timeframe = "15m";
    // A file where the directory should be.
    xt_test_write(path, dir, "blocker", "x");
    strcat(path, "/sub");
    assert_int_equal(xt_report_write(&x->run, path, &err), XT_EIO);
    assert_contains(err.msg, "blocker/sub");
    // Shards without curves still get tables; charts are skipped with a note.
    for (int f = 0; f < NF; f++)
        for (int k = 0; k < NS; k++) x->sh[f][k].curves.n = 0;
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(xt_report_render(&x->run, NULL, XT_REPORT_HTML, &html, &len, &err), 0);
    long most = 0;
    assert_int_equal(s_svg_vertices(html, &most), 0);
    assert_int_equal(s_count(html, "No curves were recorded for this shard."), NF * NS);
    assert_contains(html, "Deflated Sharpe Ratio undefined: no shard has at least 2 out-of-sample returns");
    free(html);
    free(x);
    s_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_json_checker),
        cmocka_unit_test(t_files_asset_env),
        cmocka_unit_test(t_portfolio_env),
        cmocka_unit_test(t_downsample),
        cmocka_unit_test(t_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
