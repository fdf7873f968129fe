// test_prom.c - Prometheus registry and text exposition: exact rendered text
// for each metric type, label escaping, name rules with their sentences,
// concurrent updates, and a format validator run over everything rendered.
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/catalog.h"
#include "metrics/prom.h"

// ---- helpers

// Renders reg into a fresh buffer (caller frees).
static char *s_render(xt_prom_registry *reg) {
    char *buf = NULL;
    size_t cap = 0, len = 0;
    xt_err err = {0};
    int rc = xt_prom_render(reg, &buf, &cap, &len, &err);
    if (rc) fail_msg("render failed: %s", err.msg);
    assert_int_equal(strlen(buf), len);
    return buf;
}

static void s_expect_text(xt_prom_registry *reg, const char *want) {
    char *got = s_render(reg);
    if (strcmp(got, want) != 0) {
        print_error("rendered:\n%s\nexpected:\n%s\n", got, want);
        free(got);
        fail();
    }
    free(got);
}

// ---- exposition validator
//
// A strict reader of text format 0.0.4 as we emit it: every line is a HELP,
// a TYPE or a sample `name{l="v",...} value`; a sample's family (the name, or
// for histograms the name without _bucket/_sum/_count) has HELP and TYPE
// above it and its samples are grouped under them; label values use only the
// escapes \\ \" \n; counters end in _total and never go negative; histogram
// buckets rise with le, end at +Inf, and _count equals the +Inf bucket.

#define V_MAX_FAM 256

typedef struct {
    char name[160];
    char type[16];
    int help, typed;
} v_family;

typedef struct {
    v_family fam[V_MAX_FAM];
    int n;
    int cur;          // family of the last HELP/TYPE line, -1 before any
    char hkey[512];   // histogram series being read: labels without le
    double last_le, last_cum, inf_cum;
    int inf_seen, in_series;
} v_state;

static int v_name_ok(const char *s, size_t n, int metric) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int a = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
        if (!a && !(i > 0 && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

static int v_find(v_state *v, const char *name) {
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->fam[i].name, name) == 0) return i;
    return -1;
}

static int v_value(const char *s, double *out) {
    if (strcmp(s, "+Inf") == 0) { *out = INFINITY; return 1; }
    if (strcmp(s, "-Inf") == 0) { *out = -INFINITY; return 1; }
    if (strcmp(s, "NaN") == 0) { *out = NAN; return 1; }
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*out);
}

// Parses `{a="x",b="y"}` at *p; copies labels other than le into key and the
// le value into le (empty if none). Returns 0 on a malformed label set.
static int v_labels(const char **p, char *key, size_t kcap, char *le, size_t lecap) {
    const char *s = *p;
    char names[8][64];
    int nn = 0;
    key[0] = le[0] = '\0';
    if (*s != '{') return 1;
    s++;
    while (*s != '}') {
        const char *n0 = s;
        while (*s && *s != '=') s++;
        size_t nl = (size_t)(s - n0);
        if (*s != '=' || !v_name_ok(n0, nl, 0) || nl >= 64 || nn == 8) return 0;
        for (int i = 0; i < nn; i++)
            if (strlen(names[i]) == nl && memcmp(names[i], n0, nl) == 0) return 0; // duplicate
        memcpy(names[nn], n0, nl);
        names[nn++][nl] = '\0';
        if (*++s != '"') return 0;
        s++;
        char val[512];
        size_t vl = 0;
        while (*s && *s != '"') {
            if (*s == '\\') {
                s++;
                if (*s != '\\' && *s != '"' && *s != 'n') return 0;
            }
            if (vl + 1 < sizeof val) val[vl++] = *s;
            s++;
        }
        if (*s != '"') return 0;
        val[vl] = '\0';
        s++;
        int is_le = nl == 2 && memcmp(n0, "le", 2) == 0;
        if (is_le) snprintf(le, lecap, "%.63s", val);
        else {
            size_t k = strlen(key);
            snprintf(key + k, kcap - k, "%.*s=%.200s;", (int)nl, n0, val);
        }
        if (*s == ',') {
            s++;
            if (*s == '}') return 0; // no trailing comma in our output
        } else if (*s != '}') return 0;
    }
    *p = s + 1;
    return 1;
}

static int v_line(v_state *v, const char *line, char *why, size_t cap) {
    if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
        int help = line[2] == 'H';
        const char *n0 = line + 7, *sp = strchr(n0, ' ');
        if (!sp || !v_name_ok(n0, (size_t)(sp - n0), 1)) {
            snprintf(why, cap, "bad metric name in \"%.200s\"", line);
            return 0;
        }
        char name[160];
        snprintf(name, sizeof name, "%.*s", (int)(sp - n0), n0);
        int f = v_find(v, name);
        if (f < 0) {
            if (v->n == V_MAX_FAM) return snprintf(why, cap, "too many families"), 0;
            f = v->n++;
            memset(&v->fam[f], 0, sizeof v->fam[f]);
            snprintf(v->fam[f].name, sizeof v->fam[f].name, "%s", name);
        } else if (f != v->cur) {
            snprintf(why, cap, "family %s is declared in two places", name);
            return 0;
        }
        v->cur = f;
        v->in_series = 0;
        if (help) {
            for (const char *q = sp + 1; *q; q++)
                if (*q == '\\' && q[1] != '\\' && q[1] != 'n') {
                    snprintf(why, cap, "bad escape in HELP of %s", name);
                    return 0;
                } else if (*q == '\\') q++;
            if (v->fam[f].help++) return snprintf(why, cap, "two HELP lines for %s", name), 0;
        } else {
            const char *t = sp + 1;
            if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
                strcmp(t, "summary") && strcmp(t, "untyped"))
                return snprintf(why, cap, "unknown type \"%s\" for %s", t, name), 0;
            if (v->fam[f].typed++) return snprintf(why, cap, "two TYPE lines for %s", name), 0;
            snprintf(v->fam[f].type, sizeof v->fam[f].type, "%s", t);
        }
        return 1;
    }
    if (line[0] == '#' || line[0] == '\0') return snprintf(why, cap, "unexpected line \"%.200s\"", line), 0;
    // A sample: name, optional labels, one space, the value.
    const char *p = line;
    while (*p && *p != '{' && *p != ' ') p++;
    char name[160];
    if (!v_name_ok(line, (size_t)(p - line), 1) || (size_t)(p - line) >= sizeof name)
        return snprintf(why, cap, "bad sample name in \"%.200s\"", line), 0;
    snprintf(name, sizeof name, "%.*s", (int)(p - line), line);
    char key[512], le[64];
    if (!v_labels(&p, key, sizeof key, le, sizeof le))
        return snprintf(why, cap, "malformed labels in \"%.200s\"", line), 0;
    double val;
    if (*p != ' ' || !v_value(p + 1, &val))
        return snprintf(why, cap, "malformed value in \"%.200s\"", line), 0;
    // Which family does the sample belong to?
    int f = v_find(v, name);
    const char *suffix = "";
    if (f < 0) {
        static const char *const sfx[] = {"_bucket", "_sum", "_count"};
        for (int i = 0; i < 3 && f < 0; i++) {
            size_t nl = strlen(name), sl = strlen(sfx[i]);
            if (nl > sl && strcmp(name + nl - sl, sfx[i]) == 0) {
                char base[160];
                snprintf(base, sizeof base, "%.*s", (int)(nl - sl), name);
                f = v_find(v, base);
                if (f >= 0 && strcmp(v->fam[f].type, "histogram") != 0) f = -1;
                if (f >= 0) suffix = sfx[i];
            }
        }
    }
    if (f < 0 || !v->fam[f].help || !v->fam[f].typed)
        return snprintf(why, cap, "sample %s has no HELP and TYPE", name), 0;
    if (f != v->cur) return snprintf(why, cap, "sample %s is not under its family's TYPE", name), 0;
    const char *type = v->fam[f].type;
    if (strcmp(type, "counter") == 0) {
        size_t nl = strlen(name);
        if (nl < 6 || strcmp(name + nl - 6, "_total") != 0 || !(val >= 0))
            return snprintf(why, cap, "counter sample \"%.200s\" breaks the counter rules", line), 0;
    }
    if (strcmp(type, "histogram") == 0) {
        if (!*suffix) return snprintf(why, cap, "histogram sample %s without suffix", name), 0;
        if (strcmp(suffix, "_bucket") == 0) {
            double lev;
            if (!le[0] || !v_value(le, &lev) || isnan(lev))
                return snprintf(why, cap, "bucket without a valid le in \"%.200s\"", line), 0;
            if (!v->in_series || strcmp(key, v->hkey) != 0 || v->inf_seen) {
                v->in_series = 1;
                snprintf(v->hkey, sizeof v->hkey, "%s", key);
                v->last_le = -INFINITY;
                v->last_cum = 0;
                v->inf_seen = 0;
            }
            if (!(lev > v->last_le) || val < v->last_cum)
                return snprintf(why, cap, "buckets not cumulative at \"%.200s\"", line), 0;
            v->last_le = lev;
            v->last_cum = val;
            if (isinf(lev)) {
                v->inf_seen = 1;
                v->inf_cum = val;
            }
        } else {
            if (le[0]) return snprintf(why, cap, "le on a non-bucket sample \"%.200s\"", line), 0;
            if (!v->in_series || strcmp(key, v->hkey) != 0 || !v->inf_seen)
                return snprintf(why, cap, "%s without a +Inf bucket before it", name), 0;
            if (strcmp(suffix, "_count") == 0 && val != v->inf_cum)
                return snprintf(why, cap, "_count %g differs from the +Inf bucket %g", val, v->inf_cum), 0;
        }
    }
    return 1;
}

// Returns 1 when text is valid; otherwise 0 with "line N: reason" in why.
static int s_validate(const char *text, char *why, size_t cap) {
    v_state *v = calloc(1, sizeof *v);
    v->cur = -1;
    int ok = 1, lineno = 0;
    const char *p = text;
    while (ok && *p) {
        const char *nl = strchr(p, '\n');
        if (!nl) {
            snprintf(why, cap, "last line does not end in a newline");
            ok = 0;
            break;
        }
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(nl - p), p);
        lineno++;
        char r[400] = "";
        if (!v_line(v, line, r, sizeof r)) {
            snprintf(why, cap, "line %d: %s", lineno, r);
            ok = 0;
        }
        p = nl + 1;
    }
    free(v);
    return ok;
}

static void s_expect_valid(const char *text) {
    char why[512];
    if (!s_validate(text, why, sizeof why)) fail_msg("invalid exposition: %s\n%s", why, text);
}

// ---- exact rendering

static void t_counter_and_gauge(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_counter *steps, *secs;
    xt_prom_gauge *lr;
    assert_int_equal(xt_prom_counter_new(reg, &steps, "xtrade_env_steps_total", "Env steps taken.", &err), 0);
    assert_int_equal(xt_prom_counter_new(reg, &secs, "xtrade_learn_seconds_total", "Time spent learning.", &err), 0);
    assert_int_equal(xt_prom_gauge_new(reg, &lr, "xtrade_learning_rate", "Current learning rate.", &err), 0);
    for (int i = 0; i < 3; i++) xt_prom_counter_inc(steps);
    xt_prom_counter_add_u64(steps, 39);
    xt_prom_counter_add(secs, 0.25);
    xt_prom_counter_add(secs, 1.0);
    xt_prom_counter_add(secs, -5.0); // a counter never goes down: ignored
    xt_prom_counter_add(secs, NAN);  // ignored
    xt_prom_gauge_set(lr, 0.0003);
    assert_true(xt_prom_counter_get(steps) == 42.0);
    assert_true(xt_prom_counter_get(secs) == 1.25);
    s_expect_text(reg,
                  "# HELP xtrade_env_steps_total Env steps taken.\n"
                  "# TYPE xtrade_env_steps_total counter\n"
                  "xtrade_env_steps_total 42\n"
                  "# HELP xtrade_learn_seconds_total Time spent learning.\n"
                  "# TYPE xtrade_learn_seconds_total counter\n"
                  "xtrade_learn_seconds_total 1.25\n"
                  "# HELP xtrade_learning_rate Current learning rate.\n"
                  "# TYPE xtrade_learning_rate gauge\n"
                  "xtrade_learning_rate 0.0003\n");
    xt_prom_registry_destroy(&reg);
    assert_null(reg);
    xt_prom_registry_destroy(&reg); // NULL is fine
    xt_prom_registry_destroy(NULL);
}

static void t_large_counter_exact(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_counter *c;
    assert_int_equal(xt_prom_counter_new(reg, &c, "xtrade_bytes_total", "Bytes.", &err), 0);
    // 2^53 + 1 is not a double; integer counters still print it exactly.
    xt_prom_counter_add_u64(c, 9007199254740993ull);
    s_expect_text(reg, "# HELP xtrade_bytes_total Bytes.\n# TYPE xtrade_bytes_total counter\n"
                       "xtrade_bytes_total 9007199254740993\n");
    xt_prom_registry_destroy(&reg);
}

static void t_labelled_family(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_family *f, *empty;
    assert_int_equal(xt_prom_counter_family(reg, &f, "xtrade_chunks_sent_total",
                                            "Rollout chunks sent.", "actor, symbol,timeframe", &err), 0);
    assert_int_equal(xt_prom_family_type(f), XT_PROM_COUNTER);
    assert_string_equal(xt_prom_family_name(f), "xtrade_chunks_sent_total");
    // A family without children renders nothing at all.
    assert_int_equal(xt_prom_gauge_family(reg, &empty, "xtrade_unused", "Never set.", "symbol", &err), 0);
    xt_prom_counter *a, *b, *a2;
    assert_int_equal(xt_prom_counter_child(f, (const char *[]){"a1", "EURUSD", "1h"}, &a, &err), 0);
    assert_int_equal(xt_prom_counter_child(f, (const char *[]){"a1", "BTCUSD", "4h"}, &b, &err), 0);
    assert_int_equal(xt_prom_counter_child(f, (const char *[]){"a1", "EURUSD", "1h"}, &a2, &err), 0);
    assert_ptr_equal(a, a2); // same label set, same handle
    assert_ptr_not_equal(a, b);
    xt_prom_counter_add_u64(a, 7);
    xt_prom_counter_inc(a2);
    xt_prom_counter_inc(b);
    s_expect_text(reg,
                  "# HELP xtrade_chunks_sent_total Rollout chunks sent.\n"
                  "# TYPE xtrade_chunks_sent_total counter\n"
                  "xtrade_chunks_sent_total{actor=\"a1\",symbol=\"EURUSD\",timeframe=\"1h\"} 8\n"
                  "xtrade_chunks_sent_total{actor=\"a1\",symbol=\"BTCUSD\",timeframe=\"4h\"} 1\n");
    xt_prom_registry_destroy(&reg);
}

static void t_histogram(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    const double bounds[] = {0.5, 1, 4};
    xt_prom_histogram *h;
    assert_int_equal(xt_prom_histogram_new(reg, &h, "xtrade_step_seconds", "Env step time.", bounds, 3, &err), 0);
    // 0.5 sits on a bound and counts in le="0.5"; 8 only in +Inf; NaN is dropped.
    const double obs[] = {0.25, 0.5, 0.75, 2, 8, NAN};
    for (int i = 0; i < 6; i++) xt_prom_histogram_observe(h, obs[i]);
    assert_int_equal(xt_prom_histogram_count(h), 5);
    assert_true(xt_prom_histogram_sum(h) == 11.5);
    xt_prom_family *lag;
    xt_prom_histogram *lag_eur;
    const double lb[] = {0, 1, 2};
    assert_int_equal(xt_prom_histogram_family(reg, &lag, "xtrade_policy_lag_versions",
                                              "Versions between acting and learning.", "symbol", lb, 3, &err), 0);
    assert_int_equal(xt_prom_histogram_child(lag, (const char *[]){"EURUSD"}, &lag_eur, &err), 0);
    xt_prom_histogram_observe(lag_eur, 1);
    xt_prom_histogram_observe(lag_eur, 1);
    xt_prom_histogram_observe(lag_eur, 3);
    const char *want =
        "# HELP xtrade_step_seconds Env step time.\n"
        "# TYPE xtrade_step_seconds histogram\n"
        "xtrade_step_seconds_bucket{le=\"0.5\"} 2\n"
        "xtrade_step_seconds_bucket{le=\"1\"} 3\n"
        "xtrade_step_seconds_bucket{le=\"4\"} 4\n"
        "xtrade_step_seconds_bucket{le=\"+Inf\"} 5\n"
        "xtrade_step_seconds_sum 11.5\n"
        "xtrade_step_seconds_count 5\n"
        "# HELP xtrade_policy_lag_versions Versions between acting and learning.\n"
        "# TYPE xtrade_policy_lag_versions histogram\n"
        "xtrade_policy_lag_versions_bucket{symbol=\"EURUSD\",le=\"0\"} 0\n"
        "xtrade_policy_lag_versions_bucket{symbol=\"EURUSD\",le=\"1\"} 2\n"
        "xtrade_policy_lag_versions_bucket{symbol=\"EURUSD\",le=\"2\"} 2\n"
        "xtrade_policy_lag_versions_bucket{symbol=\"EURUSD\",le=\"+Inf\"} 3\n"
        "xtrade_policy_lag_versions_sum{symbol=\"EURUSD\"} 5\n"
        "xtrade_policy_lag_versions_count{symbol=\"EURUSD\"} 3\n";
    s_expect_text(reg, want);
    char *txt = s_render(reg);
    s_expect_valid(txt);
    free(txt);
    xt_prom_registry_destroy(&reg);
}

static void t_label_and_help_escaping(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_family *f;
    assert_int_equal(xt_prom_gauge_family(reg, &f, "xtrade_weird",
                                          "Path C:\\data \"quoted\"\nsecond line.", "path", &err), 0);
    xt_prom_gauge *g;
    assert_int_equal(xt_prom_gauge_child(f, (const char *[]){"a\\b\"c\nd"}, &g, &err), 0);
    xt_prom_gauge_set(g, -2);
    xt_prom_gauge *u;
    assert_int_equal(xt_prom_gauge_child(f, (const char *[]){"\xc3\xa9t\xc3\xa9"}, &u, &err), 0); // "été"
    xt_prom_gauge_set(u, INFINITY);
    s_expect_text(reg,
                  "# HELP xtrade_weird Path C:\\\\data \"quoted\"\\nsecond line.\n"
                  "# TYPE xtrade_weird gauge\n"
                  "xtrade_weird{path=\"a\\\\b\\\"c\\nd\"} -2\n"
                  "xtrade_weird{path=\"\xc3\xa9t\xc3\xa9\"} +Inf\n");
    char *txt = s_render(reg);
    s_expect_valid(txt);
    free(txt);
    xt_prom_registry_destroy(&reg);
}

static double s_cb(void *ud) {
    int *calls = ud;
    return ++*calls;
}

static void t_callback_gauge(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    int calls = 0, depth = 0;
    assert_int_equal(xt_prom_gauge_fn_new(reg, "xtrade_renders", "Times rendered.", s_cb, &calls, &err), 0);
    xt_prom_family *q;
    assert_int_equal(xt_prom_gauge_family(reg, &q, "xtrade_queue_depth", "Queue depth.", "queue", &err), 0);
    assert_int_equal(xt_prom_gauge_child_fn(q, (const char *[]){"ingest"}, s_cb, &depth, &err), 0);
    // A plain gauge child in the same family keeps its stored value.
    xt_prom_gauge *pub;
    assert_int_equal(xt_prom_gauge_child(q, (const char *[]){"publish"}, &pub, &err), 0);
    xt_prom_gauge_set(pub, 3);
    depth = 9;
    const char *head = "# HELP xtrade_renders Times rendered.\n# TYPE xtrade_renders gauge\n";
    const char *tail = "# HELP xtrade_queue_depth Queue depth.\n# TYPE xtrade_queue_depth gauge\n";
    char want[512];
    snprintf(want, sizeof want,
             "%sxtrade_renders 1\n%sxtrade_queue_depth{queue=\"ingest\"} 10\n"
             "xtrade_queue_depth{queue=\"publish\"} 3\n", head, tail);
    s_expect_text(reg, want);
    snprintf(want, sizeof want,
             "%sxtrade_renders 2\n%sxtrade_queue_depth{queue=\"ingest\"} 11\n"
             "xtrade_queue_depth{queue=\"publish\"} 3\n", head, tail);
    s_expect_text(reg, want);
    assert_int_equal(xt_prom_gauge_child_fn(q, (const char *[]){"x"}, NULL, NULL, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric \"xtrade_queue_depth\": NULL gauge callback");
    xt_prom_registry_destroy(&reg);
}

static void t_format_double(void **state) {
    char s[32];
    struct { double v; const char *want; } cases[] = {
        {0.1, "0.1"},          {42, "42"},       {-0.5, "-0.5"}, {1e21, "1e+21"},
        {1.0 / 3.0, "0.33333333333333331"},      {2.5e-7, "2.5e-07"},
        {INFINITY, "+Inf"},    {-INFINITY, "-Inf"}, {NAN, "NaN"}, {0, "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xt_prom_format_double(s, cases[i].v);
        assert_string_equal(s, cases[i].want);
        if (isfinite(cases[i].v)) assert_true(strtod(s, NULL) == cases[i].v);
    }
}

// ---- errors

static void t_bad_names(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    const double b[] = {1, 2};
    xt_prom_family *f;
    assert_int_equal(xt_prom_histogram_family(reg, &f, "xtrade_lag", "Lag.", NULL, b, 2, &err), 0);
    assert_int_equal(xt_prom_counter_family(reg, &f, "xtrade_ok_total", "Fine.", "symbol", &err), 0);
    struct {
        xt_prom_type type;
        const char *name, *labels, *help, *want;
    } cases[] = {
        {XT_PROM_COUNTER, "xtrade_steps", NULL, "h",
         "metric name \"xtrade_steps\": a counter's name must end in \"_total\""},
        {XT_PROM_GAUGE, "xtrade_depth_total", NULL, "h",
         "metric name \"xtrade_depth_total\": only counters may end in \"_total\" (this is a gauge)"},
        {XT_PROM_GAUGE, "steps", NULL, "h", "metric name \"steps\": must start with \"xtrade_\""},
        {XT_PROM_GAUGE, "xtrade_", NULL, "h", "metric name \"xtrade_\": must start with \"xtrade_\""},
        {XT_PROM_GAUGE, "xtrade_bad-name", NULL, "h",
         "metric name \"xtrade_bad-name\": character '-' at offset 10 is not allowed "
         "(names match [a-zA-Z_:][a-zA-Z0-9_:]*)"},
        {XT_PROM_GAUGE, "9xtrade", NULL, "h",
         "metric name \"9xtrade\": character '9' at offset 0 is not allowed "
         "(names match [a-zA-Z_:][a-zA-Z0-9_:]*)"},
        {XT_PROM_GAUGE, "", NULL, "h", "metric name is empty"},
        {XT_PROM_GAUGE, "xtrade_x", NULL, "", "metric \"xtrade_x\": help text is empty"},
        {XT_PROM_GAUGE, "xtrade_x", "symbol,bad-label", "h",
         "metric \"xtrade_x\": label name \"bad-label\" is not allowed (label names match "
         "[a-zA-Z_][a-zA-Z0-9_]* and do not start with \"__\")"},
        {XT_PROM_GAUGE, "xtrade_x", "__name", "h",
         "metric \"xtrade_x\": label name \"__name\" is not allowed (label names match "
         "[a-zA-Z_][a-zA-Z0-9_]* and do not start with \"__\")"},
        {XT_PROM_GAUGE, "xtrade_x", "symbol,symbol", "h",
         "metric \"xtrade_x\": label name \"symbol\" appears twice"},
        {XT_PROM_GAUGE, "xtrade_x", "a,b,c,d,e", "h",
         "metric \"xtrade_x\": more than 4 label names in \"a,b,c,d,e\""},
        {XT_PROM_GAUGE, "xtrade_x", "a,", "h", "metric \"xtrade_x\": empty label name in \"a,\""},
        {XT_PROM_GAUGE, "xtrade_x", "a,,b", "h", "metric \"xtrade_x\": empty label name in \"a,,b\""},
        {XT_PROM_GAUGE, "xtrade_x2", " ", "h", NULL}, // blank: no labels
        {XT_PROM_HISTOGRAM, "xtrade_h", "le", "h",
         "metric \"xtrade_h\": label name \"le\" is reserved in histograms"},
        {XT_PROM_COUNTER, "xtrade_ok_total", NULL, "h",
         "metric name \"xtrade_ok_total\": already registered (as a counter)"},
        {XT_PROM_GAUGE, "xtrade_lag_count", NULL, "h",
         "metric name \"xtrade_lag_count\": its sample \"xtrade_lag_count\" clashes with histogram \"xtrade_lag\""},
        {XT_PROM_HISTOGRAM, "xtrade_ok_total_sum_x", NULL, "h", NULL}, // fine: no clash
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xt_err_clear(&err);
        int rc;
        if (cases[i].type == XT_PROM_COUNTER)
            rc = xt_prom_counter_family(reg, &f, cases[i].name, cases[i].help, cases[i].labels, &err);
        else if (cases[i].type == XT_PROM_GAUGE)
            rc = xt_prom_gauge_family(reg, &f, cases[i].name, cases[i].help, cases[i].labels, &err);
        else
            rc = xt_prom_histogram_family(reg, &f, cases[i].name, cases[i].help, cases[i].labels, b, 2, &err);
        if (!cases[i].want) {
            assert_int_equal(rc, 0);
            continue;
        }
        if (rc != XT_EINVAL) fail_msg("case %zu (%s): rc %d", i, cases[i].name, rc);
        assert_string_equal(err.msg, cases[i].want);
    }
    // A histogram whose samples would shadow an existing gauge.
    xt_prom_gauge *g;
    assert_int_equal(xt_prom_gauge_new(reg, &g, "xtrade_q_sum", "Sum.", &err), 0);
    assert_int_equal(xt_prom_histogram_family(reg, &f, "xtrade_q", "Q.", NULL, b, 2, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric name \"xtrade_q\": its sample \"xtrade_q_sum\" clashes with gauge \"xtrade_q_sum\"");
    xt_prom_registry_destroy(&reg);
}

static void t_bad_buckets_and_children(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_family *f;
    const double dec[] = {1, 1}, inf[] = {1, INFINITY};
    assert_int_equal(xt_prom_histogram_family(reg, &f, "xtrade_h", "h", NULL, dec, 2, &err), XT_EINVAL);
    assert_string_equal(err.msg, "histogram \"xtrade_h\": bucket bound 1 (1) is not greater than bound 0 (1)");
    assert_int_equal(xt_prom_histogram_family(reg, &f, "xtrade_h", "h", NULL, inf, 2, &err), XT_EINVAL);
    assert_string_equal(err.msg, "histogram \"xtrade_h\": bucket bound 1 is not finite (+Inf is implicit)");
    assert_int_equal(xt_prom_histogram_family(reg, &f, "xtrade_h", "h", NULL, dec, 0, &err), XT_EINVAL);
    assert_string_equal(err.msg, "histogram \"xtrade_h\": needs 1 to 64 bucket bounds (got 0)");
    // Failed registrations leave no trace: the name is still free.
    const double ok[] = {1};
    assert_int_equal(xt_prom_histogram_family(reg, &f, "xtrade_h", "h", NULL, ok, 1, &err), 0);

    xt_prom_family *g;
    assert_int_equal(xt_prom_gauge_family(reg, &g, "xtrade_g", "g", "symbol,timeframe", &err), 0);
    xt_prom_counter *c;
    assert_int_equal(xt_prom_counter_child(g, (const char *[]){"a", "b"}, &c, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric \"xtrade_g\" is a gauge, not a counter");
    xt_prom_gauge *gg;
    assert_int_equal(xt_prom_gauge_child(g, (const char *[]){"EURUSD", NULL}, &gg, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric \"xtrade_g\": no value for label \"timeframe\"");
    assert_int_equal(xt_prom_gauge_child(g, NULL, &gg, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric \"xtrade_g\": no value for label \"symbol\"");
    assert_int_equal(xt_prom_gauge_child(g, (const char *[]){"EUR\xc3(", "1h"}, &gg, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric \"xtrade_g\": value of label \"symbol\" is not valid UTF-8");
    assert_int_equal(xt_prom_gauge_child(g, (const char *[]){"\xed\xa0\x80", "1h"}, &gg, &err), XT_EINVAL); // surrogate
    assert_int_equal(xt_prom_gauge_child(g, (const char *[]){"\xc0\xaf", "1h"}, &gg, &err), XT_EINVAL);     // overlong
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    assert_int_equal(xt_prom_gauge_child(g, (const char *[]){"a", longv}, &gg, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metric \"xtrade_g\": value of label \"timeframe\" is longer than 256 bytes");

    // Cardinality guard: the 4097th label set is refused with XT_ERANGE.
    xt_prom_family *many;
    assert_int_equal(xt_prom_counter_family(reg, &many, "xtrade_many_total", "m", "id", &err), 0);
    char id[16];
    for (int i = 0; i < XT_PROM_MAX_CHILDREN; i++) {
        snprintf(id, sizeof id, "%d", i);
        assert_int_equal(xt_prom_counter_child(many, (const char *[]){id}, &c, &err), 0);
    }
    assert_int_equal(xt_prom_counter_child(many, (const char *[]){"x"}, &c, &err), XT_ERANGE);
    assert_contains(err.msg, "metric \"xtrade_many_total\": more than 4096 label value combinations");
    // An existing label set is still found at the cap.
    assert_int_equal(xt_prom_counter_child(many, (const char *[]){"17"}, &c, &err), 0);
    xt_prom_registry_destroy(&reg);
}

static void t_bucket_helpers(void **state) {
    xt_err err = {0};
    double b[4];
    assert_int_equal(xt_prom_buckets_linear(b, 0, 0.5, 4, &err), 0);
    assert_true(b[0] == 0 && b[1] == 0.5 && b[2] == 1 && b[3] == 1.5);
    assert_int_equal(xt_prom_buckets_exponential(b, 0.001, 10, 4, &err), 0);
    assert_true(b[0] == 0.001 && fabs(b[3] - 1) < 1e-12);
    assert_int_equal(xt_prom_buckets_linear(b, 0, 0, 4, &err), XT_EINVAL);
    assert_string_equal(err.msg, "linear buckets: need finite start, width > 0 and 1 <= n <= 64 "
                                 "(got start 0, width 0, n 4)");
    assert_int_equal(xt_prom_buckets_exponential(b, 1, 1, 4, &err), XT_EINVAL);
    assert_string_equal(err.msg, "exponential buckets: need start > 0, factor > 1 and 1 <= n <= 64 "
                                 "(got start 1, factor 1, n 4)");
    double big[64];
    assert_int_equal(xt_prom_buckets_exponential(big, 1e300, 1e10, 64, &err), XT_ERANGE);
    assert_string_equal(err.msg, "exponential buckets: bound 1 overflows");
}

// ---- buffer growth and the validator itself

static void t_render_grows_buffer(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_family *f;
    assert_int_equal(xt_prom_counter_family(reg, &f, "xtrade_env_steps_total", "Steps.", "symbol", &err), 0);
    char sym[32];
    for (int i = 0; i < 500; i++) {
        xt_prom_counter *c;
        snprintf(sym, sizeof sym, "SYM%03d", i);
        assert_int_equal(xt_prom_counter_child(f, (const char *[]){sym}, &c, &err), 0);
        xt_prom_counter_add_u64(c, (uint64_t)i);
    }
    char *small = malloc(8);
    size_t cap = 8, len = 0;
    assert_int_equal(xt_prom_render(reg, &small, &cap, &len, &err), 0);
    assert_true(cap > len && len > 500 * 30);
    char *fresh = s_render(reg);
    assert_string_equal(small, fresh);
    assert_contains(small, "xtrade_env_steps_total{symbol=\"SYM499\"} 499\n");
    s_expect_valid(small);
    // A second render into the grown buffer does not reallocate.
    char *before = small;
    size_t cap_before = cap;
    assert_int_equal(xt_prom_render(reg, &small, &cap, &len, &err), 0);
    assert_ptr_equal(small, before);
    assert_int_equal(cap, cap_before);
    free(small);
    free(fresh);
    // An empty registry renders "" (still NUL-terminated).
    xt_prom_registry *empty = xt_prom_registry_new(&err);
    char *e = s_render(empty);
    assert_string_equal(e, "");
    free(e);
    xt_prom_registry_destroy(&empty);
    xt_prom_registry_destroy(&reg);
}

static void t_validator_rejects(void **state) {
    // The validator must fail on each of these, or it proves nothing.
    const char *bad[] = {
        "xtrade_x 1\n",                                                          // no HELP/TYPE
        "# HELP xtrade_x h\nxtrade_x 1\n",                                       // no TYPE
        "# HELP xtrade_x h\n# TYPE xtrade_x gauge\nxtrade_x{a=\"b\"c\"} 1\n",    // raw quote
        "# HELP xtrade_x h\n# TYPE xtrade_x gauge\nxtrade_x{a=\"\\t\"} 1\n",     // bad escape
        "# HELP xtrade_x h\n# TYPE xtrade_x gauge\nxtrade_x 1.5x\n",            // bad value
        "# HELP xtrade_x h\n# TYPE xtrade_x gauge\nxtrade_x 1",                  // no final newline
        "# HELP xtrade_x_total h\n# TYPE xtrade_x_total counter\nxtrade_x_total -1\n",
        "# HELP xtrade_h h\n# TYPE xtrade_h histogram\n"
        "xtrade_h_bucket{le=\"1\"} 3\nxtrade_h_bucket{le=\"+Inf\"} 2\nxtrade_h_sum 1\nxtrade_h_count 2\n",
        "# HELP xtrade_h h\n# TYPE xtrade_h histogram\n"
        "xtrade_h_bucket{le=\"1\"} 1\nxtrade_h_bucket{le=\"+Inf\"} 2\nxtrade_h_sum 1\nxtrade_h_count 3\n",
        "# HELP xtrade_h h\n# TYPE xtrade_h histogram\nxtrade_h_bucket{le=\"1\"} 1\nxtrade_h_sum 1\n",
        "# HELP xtrade_a h\n# TYPE xtrade_a gauge\n# HELP xtrade_b h\n# TYPE xtrade_b gauge\nxtrade_a 1\n",
        "# HELP xtrade_x h\n# TYPE xtrade_x gauge\nxtrade_x{a=\"1\",a=\"2\"} 1\n",
    };
    char why[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (s_validate(bad[i], why, sizeof why)) fail_msg("validator accepted bad case %zu:\n%s", i, bad[i]);
    assert_true(s_validate("# HELP xtrade_x h\n# TYPE xtrade_x gauge\nxtrade_x{a=\"\\\"\"} NaN\n", why, sizeof why));
}

// ---- concurrency

#define T_THREADS 4
#define T_ITERS 100000

typedef struct {
    xt_prom_registry *reg;
    xt_prom_family *fam;
    xt_prom_counter *c;
    xt_prom_gauge *g;
    xt_prom_histogram *h;
    xt_prom_counter *shared; // the child every thread asked for by the same labels
    int id;
} t_arg;

static void *t_worker(void *p) {
    t_arg *a = p;
    xt_err err = {0};
    // Child creation races with the other threads and with render.
    if (xt_prom_counter_child(a->fam, (const char *[]){"shared"}, &a->shared, &err) != 0) return p;
    for (int i = 0; i < T_ITERS; i++) {
        xt_prom_counter_inc(a->c);
        xt_prom_counter_add(a->c, 0.5);
        xt_prom_counter_inc(a->shared);
        xt_prom_gauge_add(a->g, 1.0);
        xt_prom_gauge_add(a->g, -0.25);
        xt_prom_histogram_observe(a->h, (double)(i % 4)); // 0,1,2,3 in turn
    }
    return NULL;
}

static void *t_renderer(void *p) {
    t_arg *a = p;
    char *buf = NULL, why[512];
    size_t cap = 0, len;
    for (int i = 0; i < 200; i++) {
        if (xt_prom_render(a->reg, &buf, &cap, &len, NULL) != 0 || !s_validate(buf, why, sizeof why)) {
            print_error("render %d invalid: %s\n%s\n", i, why, buf);
            free(buf);
            return p; // non-NULL: failure
        }
    }
    free(buf);
    return NULL;
}

static void t_concurrent_updates(void **state) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    xt_prom_counter *c;
    xt_prom_gauge *g;
    xt_prom_histogram *h;
    xt_prom_family *fam;
    const double b[] = {0, 1, 2};
    assert_int_equal(xt_prom_counter_new(reg, &c, "xtrade_work_total", "Work.", &err), 0);
    assert_int_equal(xt_prom_gauge_new(reg, &g, "xtrade_level", "Level.", &err), 0);
    assert_int_equal(xt_prom_histogram_new(reg, &h, "xtrade_obs", "Observations.", b, 3, &err), 0);
    assert_int_equal(xt_prom_counter_family(reg, &fam, "xtrade_shared_total", "Shared.", "who", &err), 0);
    t_arg args[T_THREADS + 1];
    pthread_t th[T_THREADS + 1];
    for (int i = 0; i <= T_THREADS; i++) {
        args[i] = (t_arg){reg, fam, c, g, h, NULL, i};
        assert_int_equal(pthread_create(&th[i], NULL, i < T_THREADS ? t_worker : t_renderer, &args[i]), 0);
    }
    for (int i = 0; i <= T_THREADS; i++) {
        void *ret = (void *)1;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    for (int i = 1; i < T_THREADS; i++) assert_ptr_equal(args[i].shared, args[0].shared);
    // Every add landed: integers exactly, halves and quarters exactly in double.
    const double n = (double)T_THREADS * T_ITERS;
    assert_true(xt_prom_counter_get(c) == 1.5 * n);
    assert_true(xt_prom_counter_get(args[0].shared) == n);
    assert_true(xt_prom_gauge_get(g) == 0.75 * n);
    assert_int_equal(xt_prom_histogram_count(h), (uint64_t)n);
    assert_true(xt_prom_histogram_sum(h) == 1.5 * n); // mean of 0,1,2,3
    char want[256];
    snprintf(want, sizeof want,
             "xtrade_obs_bucket{le=\"0\"} %d\nxtrade_obs_bucket{le=\"1\"} %d\n"
             "xtrade_obs_bucket{le=\"2\"} %d\nxtrade_obs_bucket{le=\"+Inf\"} %d\n",
             T_THREADS * T_ITERS / 4, T_THREADS * T_ITERS / 2, 3 * T_THREADS * T_ITERS / 4,
             T_THREADS * T_ITERS);
    char *txt = s_render(reg);
    assert_contains(txt, want);
    assert_contains(txt, "xtrade_shared_total{who=\"shared\"} 400000\n");
    s_expect_valid(txt);
    free(txt);
    xt_prom_registry_destroy(&reg);
}

// Catalog registration: a histogram gets its XT_METRICS_BUCKETS bounds (the
// policy lag's linear 0..16), one without a row is refused by name.
static void t_catalog_family(void **state) {
    (void)state;
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    assert_non_null(reg);
    xt_prom_family *lag = NULL, *bad = NULL, *c = NULL;
    assert_int_equal(xt_catalog_family(reg, &lag, "xtrade_policy_lag_versions", XT_PROM_HISTOGRAM, "Lag.", "", &err), 0);
    assert_int_equal(xt_catalog_family(reg, &c, "xtrade_x_total", XT_PROM_COUNTER, "X.", "", &err), 0);
    assert_int_equal(xt_catalog_family(reg, &bad, "xtrade_nobuckets_seconds", XT_PROM_HISTOGRAM, "N.", "", &err),
                     XT_ENOTFOUND);
    assert_string_equal(err.msg, "xtrade_nobuckets_seconds: histogram without a row in XT_METRICS_BUCKETS");
    xt_prom_histogram *h = NULL;
    assert_int_equal(xt_prom_histogram_child(lag, NULL, &h, &err), 0);
    xt_prom_histogram_observe(h, 3);
    char *buf = NULL;
    size_t cap = 0, len = 0;
    assert_int_equal(xt_prom_render(reg, &buf, &cap, &len, &err), 0);
    assert_contains(buf, "xtrade_policy_lag_versions_bucket{le=\"2\"} 0\n");
    assert_contains(buf, "xtrade_policy_lag_versions_bucket{le=\"3\"} 1\n");
    assert_contains(buf, "xtrade_policy_lag_versions_bucket{le=\"16\"} 1\n");
    free(buf);
    xt_prom_registry_destroy(&reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_counter_and_gauge),
        cmocka_unit_test(t_catalog_family),
        cmocka_unit_test(t_large_counter_exact),
        cmocka_unit_test(t_labelled_family),
        cmocka_unit_test(t_histogram),
        cmocka_unit_test(t_label_and_help_escaping),
        cmocka_unit_test(t_callback_gauge),
        cmocka_unit_test(t_format_double),
        cmocka_unit_test(t_bad_names),
        cmocka_unit_test(t_bad_buckets_and_children),
        cmocka_unit_test(t_bucket_helpers),
        cmocka_unit_test(t_render_grows_buffer),
        cmocka_unit_test(t_validator_rejects),
        cmocka_unit_test(t_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
