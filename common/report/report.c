// report.c - JSON, CSV and self-contained HTML (inline SVG) walk-forward reports.
//
// Purpose: render an xt_wf_run and its xt_wfstats into the three report files
// of DESIGN §6 (layout in report.h and docs/reports.md).
// Invariants: output is a pure function of the input - fixed iteration
// orders, numbers printed with the fewest digits that round-trip, no clock
// reads - so a re-run gives byte-identical files; every string from the input
// is escaped for its format (JSON, CSV, HTML); every SVG chart holds at most
// XT_REPORT_MAX_POINTS vertices.
// Ownership: rendering builds into one growable buffer that the caller gets
// (xt_report_render) or that is written and freed (xt_report_write); curves
// are only read.
// Threads: no shared state.
#include "report/report.h"

#include "core/fileio.h"
#include "core/xtime.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- buffer

typedef struct {
    char *p;
    size_t len, cap;
    int oom; // an allocation failed: everything after is dropped, render fails
} s_buf;

static void s_put(s_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 65536;
        while (c < b->len + n + 1) c *= 2;
        char *p = realloc(b->p, c);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void s_puts(s_buf *b, const char *s) { s_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void s_printf(s_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        s_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s_put(b, big, (size_t)n);
    free(big);
}

// ---------------------------------------------------------------- escaping and numbers

// Shortest of %.15g, %.16g, %.17g that reads back as v; NULL when not finite.
static const char *s_num(char buf[40], double v) {
    if (!isfinite(v)) return NULL;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

// Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid.
static int s_utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf; // no overlongs, no surrogates
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

// A JSON string literal; invalid UTF-8 bytes become U+FFFD.
static void s_jstr(s_buf *b, const char *s) {
    s_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        int n = s_utf8_len(p);
        if (n == 0) s_puts(b, "\\ufffd"), p++;
        else if (*p == '"' || *p == '\\') s_put(b, "\\", 1), s_put(b, (const char *)p, 1), p++;
        else if (*p == '\n') s_puts(b, "\\n"), p++;
        else if (*p == '\t') s_puts(b, "\\t"), p++;
        else if (*p < 0x20 || *p == 0x7f) s_printf(b, "\\u%04x", *p), p++;
        else s_put(b, (const char *)p, (size_t)n), p += n;
    }
    s_put(b, "\"", 1);
}

static void s_jnum(s_buf *b, double v) {
    char t[40];
    s_puts(b, s_num(t, v) ? t : "null");
}

static void s_html(s_buf *b, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) switch (*p) {
        case '&': s_puts(b, "&amp;"); break;
        case '<': s_puts(b, "&lt;"); break;
        case '>': s_puts(b, "&gt;"); break;
        case '"': s_puts(b, "&quot;"); break;
        case '\'': s_puts(b, "&#39;"); break;
        default: s_put(b, p, 1);
        }
}

// A CSV field, quoted when it holds a comma, quote or line break.
static void s_csv_str(s_buf *b, const char *s) {
    s = s ? s : "";
    if (!strpbrk(s, ",\"\r\n")) {
        s_puts(b, s);
        return;
    }
    s_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') s_put(b, "\"\"", 2); // a quote is doubled
        else s_put(b, p, 1);
    }
    s_put(b, "\"", 1);
}

static const char *s_iso(char buf[32], int64_t ts) { return xt_time_format(ts, buf); }

// A metric for people: percentages, ratios, money, counts; "n/a" when missing.
static void s_hval(s_buf *b, double v, xt_wf_kind kind) {
    if (!isfinite(v)) {
        s_puts(b, isnan(v) ? "n/a" : v > 0 ? "&infin;" : "&minus;&infin;");
        return;
    }
    switch (kind) {
    case XT_WF_KIND_PCT: s_printf(b, "%.2f%%", 100.0 * v); break;
    case XT_WF_KIND_RATIO: s_printf(b, "%.3f", v); break;
    case XT_WF_KIND_MONEY: s_printf(b, "%.2f", v); break;
    case XT_WF_KIND_COUNT: s_printf(b, "%.0f", v); break;
    }
}

// ---------------------------------------------------------------- summaries as tables

// The fields of xt_wf_summary written to JSON, with their kind for HTML.
#define S_SUMMARY_FIELDS(X)                    \
    X(consistency, "consistency", PCT)         \
    X(ret_mean, "return_mean", PCT)            \
    X(ret_median, "return_median", PCT)        \
    X(ret_worst, "return_worst", PCT)          \
    X(sharpe_mean, "sharpe_mean", RATIO)       \
    X(sharpe_median, "sharpe_median", RATIO)   \
    X(sharpe_worst, "sharpe_worst", RATIO)     \
    X(sharpe_sd, "sharpe_sd", RATIO)           \
    X(mdd_mean, "max_drawdown_mean", PCT)      \
    X(mdd_median, "max_drawdown_median", PCT)  \
    X(mdd_worst, "max_drawdown_worst", PCT)    \
    X(cash_mean, "avg_cash_mean", PCT)

static void s_json_summary(s_buf *b, const xt_wf_summary *s) {
    s_printf(b, "{\"n\": %d", s->n);
#define J_(field, key, kind) s_puts(b, ", \"" key "\": "), s_jnum(b, s->field);
    S_SUMMARY_FIELDS(J_)
#undef J_
    s_puts(b, "}");
}

static void s_json_summaries(s_buf *b, const xt_wf_summary *s) {
    s_puts(b, "{");
    for (int st = 0; st < XT_WF_NSTRAT; st++) {
        s_printf(b, "%s\"%s\": ", st ? ", " : "", xt_wf_strategy_key(st));
        s_json_summary(b, &s[st]);
    }
    s_puts(b, "}");
}

// Header and one row of the HTML summary tables (per fold, symbol, timeframe, shard).
static void s_html_summary_head(s_buf *b, const char *first, int with_dsr) {
    s_printf(b, "<table class=\"sum\"><thead><tr><th>%s</th><th>n</th><th>Profitable</th>"
                "<th>Return mean</th><th>Return median</th><th>Return worst</th><th>Sharpe mean</th>"
                "<th>Sharpe median</th><th>Sharpe worst</th><th>Max DD mean</th><th>Max DD worst</th>"
                "<th>Avg cash</th><th>B&amp;H return</th><th>EW return</th><th>Cash return</th>%s</tr></thead><tbody>\n",
             first, with_dsr ? "<th>PSR</th><th>DSR</th>" : "");
}

static void s_html_summary_row(s_buf *b, const char *key, const char *key2, const xt_wf_summary *s,
                               const xt_wf_shard_stats *sh) {
    const xt_wf_summary *a = &s[XT_WF_AGENT];
    s_puts(b, "<tr><th>");
    s_html(b, key);
    if (key2) s_puts(b, " "), s_html(b, key2);
    s_printf(b, "</th><td>%d</td>", a->n);
    const double v[] = {a->consistency, a->ret_mean, a->ret_median, a->ret_worst, a->sharpe_mean, a->sharpe_median,
                        a->sharpe_worst, a->mdd_mean, a->mdd_worst, a->cash_mean, s[XT_WF_BUY_AND_HOLD].ret_mean,
                        s[XT_WF_EQUAL_WEIGHT].ret_mean, s[XT_WF_CASH].ret_mean};
    const xt_wf_kind k[] = {XT_WF_KIND_PCT, XT_WF_KIND_PCT, XT_WF_KIND_PCT, XT_WF_KIND_PCT, XT_WF_KIND_RATIO,
                            XT_WF_KIND_RATIO, XT_WF_KIND_RATIO, XT_WF_KIND_PCT, XT_WF_KIND_PCT, XT_WF_KIND_PCT,
                            XT_WF_KIND_PCT, XT_WF_KIND_PCT, XT_WF_KIND_PCT};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        s_puts(b, i == 1 || i == 3 ? (isfinite(v[i]) && v[i] < 0 ? "<td class=\"neg\">" : "<td>") : "<td>");
        s_hval(b, v[i], k[i]);
        s_puts(b, "</td>");
    }
    if (sh) {
        s_puts(b, "<td>");
        s_hval(b, sh->psr, XT_WF_KIND_RATIO);
        s_puts(b, "</td><td>");
        s_hval(b, sh->dsr, XT_WF_KIND_RATIO);
        s_puts(b, "</td>");
    }
    s_puts(b, "</tr>\n");
}

// ---------------------------------------------------------------- seed criteria

// Seed 003 §8.2 pass criteria, evaluated on the agent over every fold x shard.
typedef struct {
    const char *text;
    double value, threshold;
    int pass; // 1, 0, or -1 when the value is missing
    xt_wf_kind kind;
} s_crit;

static double s_mean_field(const xt_wf_run *run, int strat, size_t off) {
    double s = 0.0;
    int n = 0;
    for (int f = 0; f < run->n_folds; f++)
        for (int i = 0; i < run->folds[f].n_shards; i++) {
            double v = *(const double *)((const char *)&run->folds[f].shards[i].m[strat] + off);
            if (isfinite(v)) s += v, n++;
        }
    return n ? s / n : NAN;
}

static int s_criteria(const xt_wf_run *run, const xt_wfstats *st, s_crit c[4]) {
    const xt_wf_summary *a = &st->overall[XT_WF_AGENT];
    c[0] = (s_crit){"Positive returns in at least 2 of 3 folds (consistency >= 66.7%)", st->consistency[XT_WF_AGENT],
                    2.0 / 3.0, 0, XT_WF_KIND_PCT};
    c[1] = (s_crit){"Average Sharpe across folds > 0.5", a->sharpe_mean, 0.5, 0, XT_WF_KIND_RATIO};
    c[2] = (s_crit){"Max drawdown < 30% in every fold", a->mdd_worst, 0.30, 0, XT_WF_KIND_PCT};
    c[3] = (s_crit){"Uses the cash position (some time with > 20% cash)",
                    s_mean_field(run, XT_WF_AGENT, offsetof(xt_wf_metrics, pct_cash_over_20)), 0.0, 0,
                    XT_WF_KIND_PCT};
    for (int i = 0; i < 4; i++)
        c[i].pass = !isfinite(c[i].value) ? -1
                    : i == 0           ? c[i].value >= c[i].threshold - 1e-12
                    : i == 2           ? c[i].value < c[i].threshold
                                       : c[i].value > c[i].threshold;
    return 4;
}

// Seed 003 §9.1 targets: agent mean over every fold x shard against the target.
#define S_TARGETS(X)                                                          \
    X(annual_return, '>', 0.20, "minimum +10% a year, target +20%")          \
    X(sharpe, '>', 1.0, "minimum 0.5, target 1.0+")                          \
    X(sortino, '>', 1.5, "target 1.5+")                                      \
    X(max_drawdown, '<', 0.20, "hard limit 30%, target < 20%")               \
    X(calmar, '>', 1.0, "target > 1.0")                                      \
    X(time_in_drawdown, '<', 0.50, "target < 50%")                           \
    X(win_rate, '>', 0.40, "target > 40% (with a good reward:risk)")         \
    X(profit_factor, '>', 1.3, "target > 1.3")                               \
    X(pct_cash_over_20, '>', 0.30, "target > 30% of the time")               \
    X(fee_ratio, '<', 0.02, "target < 2% of gross returns")

typedef struct {
    const char *key;
    size_t offset;
    char op; // '>' or '<': the side of target that meets it
    double target;
    const char *text;
} s_target;

static const s_target s_targets[] = {
#define T_(field, op, target, text) {#field, offsetof(xt_wf_metrics, field), op, target, text},
    S_TARGETS(T_)
#undef T_
};

// ---------------------------------------------------------------- JSON

static void s_json_metrics(s_buf *b, const xt_wf_metrics *m) {
    s_puts(b, "{");
    for (int i = 0; i < XT_WF_NMETRICS; i++) {
        s_printf(b, "%s\"%s\": ", i ? ", " : "", xt_wf_metric_key(i));
        s_jnum(b, xt_wf_metric_get(m, i));
    }
    s_puts(b, "}");
}

static void s_json_window(s_buf *b, const char *name, int64_t a, int64_t z) {
    char t0[32], t1[32];
    s_printf(b, "\"%s\": {\"start\": \"%s\", \"end\": \"%s\", \"start_ts\": %lld, \"end_ts\": %lld}", name,
             s_iso(t0, a), s_iso(t1, z), (long long)a, (long long)z);
}

static void s_render_json(s_buf *b, const xt_wf_run *run, const xt_wfstats *st) {
    char t[32];
    s_puts(b, "{\n \"format\": \"xtrade-report\",\n \"version\": 1,\n \"run_id\": ");
    s_jstr(b, run->run_id);
    s_printf(b, ",\n \"created\": \"%s\",\n \"env\": \"%s\",\n \"config_summary\": ", s_iso(t, run->created),
             run->env == XT_WF_ENV_PORTFOLIO ? "portfolio" : "asset");
    s_jstr(b, run->config_summary);
    s_puts(b, ",\n \"strategies\": [");
    for (int s = 0; s < XT_WF_NSTRAT; s++) s_printf(b, "%s\"%s\"", s ? ", " : "", xt_wf_strategy_key(s));
    s_puts(b, "],\n \"folds\": [");
    for (int f = 0; f < run->n_folds; f++) {
        const xt_wf_fold *fo = &run->folds[f];
        s_printf(b, "%s\n  {\"fold\": %d, ", f ? "," : "", fo->index);
        s_json_window(b, "train", fo->train_start, fo->train_end);
        s_puts(b, ", ");
        s_json_window(b, "test", fo->test_start, fo->test_end);
        s_puts(b, ",\n   \"summary\": ");
        s_json_summaries(b, st->folds[f].s);
        s_puts(b, ",\n   \"shards\": [");
        for (int i = 0; i < fo->n_shards; i++) {
            const xt_wf_shard *sh = &fo->shards[i];
            s_puts(b, i ? ",\n    {\"symbol\": " : "\n    {\"symbol\": ");
            s_jstr(b, sh->symbol);
            s_puts(b, ", \"timeframe\": ");
            s_jstr(b, sh->timeframe);
            s_printf(b, ", \"steps\": %lld, \"bars_per_year\": ", (long long)sh->curves.n);
            s_jnum(b, sh->bars_per_year);
            s_puts(b, ",\n     \"metrics\": {");
            for (int s = 0; s < XT_WF_NSTRAT; s++) {
                s_printf(b, "%s\n      \"%s\": ", s ? "," : "", xt_wf_strategy_key(s));
                s_json_metrics(b, &sh->m[s]);
            }
            s_puts(b, "}}");
        }
        s_puts(b, "]}");
    }
    s_puts(b, "],\n \"shards\": [");
    for (int k = 0; k < st->n_shards; k++) {
        const xt_wf_shard_stats *sh = &st->shards[k];
        s_puts(b, k ? ",\n  {\"symbol\": " : "\n  {\"symbol\": ");
        s_jstr(b, sh->symbol);
        s_puts(b, ", \"timeframe\": ");
        s_jstr(b, sh->timeframe);
        s_printf(b, ", \"folds\": %d, \"consistency\": ", sh->n_folds);
        s_jnum(b, sh->s[XT_WF_AGENT].consistency);
        s_printf(b, ",\n   \"oos\": {\"returns\": %lld, \"bars_per_year\": ", (long long)sh->n_returns);
        s_jnum(b, sh->bars_per_year);
        s_puts(b, ", \"sharpe\": "), s_jnum(b, sh->sr);
        s_puts(b, ", \"sharpe_annual\": "), s_jnum(b, sh->sr_annual);
        s_puts(b, ", \"skew\": "), s_jnum(b, sh->skew);
        s_puts(b, ", \"kurtosis\": "), s_jnum(b, sh->kurt);
        s_puts(b, ", \"psr\": "), s_jnum(b, sh->psr);
        s_puts(b, ", \"dsr\": "), s_jnum(b, sh->dsr);
        s_puts(b, "},\n   \"summary\": ");
        s_json_summaries(b, sh->s);
        s_puts(b, "}");
    }
    const struct {
        const char *name, *key;
        int n;
        const xt_wf_group *g;
    } groups[] = {{"symbols", "symbol", st->n_symbols, st->symbols},
                  {"timeframes", "timeframe", st->n_timeframes, st->timeframes}};
    for (int gi = 0; gi < 2; gi++) {
        s_printf(b, "],\n \"%s\": [", groups[gi].name);
        for (int i = 0; i < groups[gi].n; i++) {
            s_printf(b, "%s\n  {\"%s\": ", i ? "," : "", groups[gi].key);
            s_jstr(b, groups[gi].g[i].key);
            s_puts(b, ", \"summary\": ");
            s_json_summaries(b, groups[gi].g[i].s);
            s_puts(b, "}");
        }
    }
    s_puts(b, "],\n \"overall\": {\"consistency\": {");
    for (int s = 0; s < XT_WF_NSTRAT; s++) {
        s_printf(b, "%s\"%s\": ", s ? ", " : "", xt_wf_strategy_key(s));
        s_jnum(b, st->consistency[s]);
    }
    s_puts(b, "},\n  \"summary\": ");
    s_json_summaries(b, st->overall);
    // DSR and PBO: value null when undefined, the note says why.
    const xt_wf_dsr *d = &st->dsr;
    s_printf(b, "},\n \"dsr\": {\"defined\": %s, \"value\": ", d->defined ? "true" : "false");
    s_jnum(b, d->dsr);
    s_printf(b, ", \"n_trials\": %d, \"sharpe_variance_annual\": ", d->n_trials);
    s_jnum(b, d->sr_var_annual);
    s_puts(b, ", \"expected_max_sharpe_annual\": ");
    s_jnum(b, d->sr0_annual);
    s_puts(b, ", \"best_shard\": ");
    if (d->best >= 0) {
        s_puts(b, "{\"symbol\": ");
        s_jstr(b, st->shards[d->best].symbol);
        s_puts(b, ", \"timeframe\": ");
        s_jstr(b, st->shards[d->best].timeframe);
        s_puts(b, "}");
    } else s_puts(b, "null");
    s_puts(b, ", \"note\": ");
    s_jstr(b, d->note);
    const xt_wf_pbo *p = &st->pbo;
    s_printf(b, "},\n \"pbo\": {\"defined\": %s, \"value\": ", p->defined ? "true" : "false");
    s_jnum(b, p->pbo);
    s_printf(b, ", \"strategies\": %d, \"blocks\": %d, \"combinations\": %lld, \"logit_mean\": ", p->n_strategies,
             p->n_blocks, (long long)p->n_combinations);
    s_jnum(b, p->logit_mean);
    s_puts(b, ", \"prob_oos_loss\": ");
    s_jnum(b, p->prob_oos_loss);
    s_puts(b, ", \"note\": ");
    s_jstr(b, p->note);
    s_puts(b, "},\n \"pass_criteria\": [");
    s_crit c[4];
    int nc = s_criteria(run, st, c);
    for (int i = 0; i < nc; i++) {
        s_puts(b, i ? ",\n  {\"criterion\": " : "\n  {\"criterion\": ");
        s_jstr(b, c[i].text);
        s_puts(b, ", \"value\": ");
        s_jnum(b, c[i].value);
        s_puts(b, ", \"threshold\": ");
        s_jnum(b, c[i].threshold);
        s_printf(b, ", \"pass\": %s}", c[i].pass < 0 ? "null" : c[i].pass ? "true" : "false");
    }
    s_puts(b, "]\n}\n");
}

// ---------------------------------------------------------------- CSV

static void s_render_csv(s_buf *b, const xt_wf_run *run) {
    s_puts(b, "run_id,fold,train_start,train_end,test_start,test_end,symbol,timeframe,strategy,steps");
    for (int i = 0; i < XT_WF_NMETRICS; i++) s_printf(b, ",%s", xt_wf_metric_key(i));
    s_puts(b, "\n");
    for (int f = 0; f < run->n_folds; f++) {
        const xt_wf_fold *fo = &run->folds[f];
        char w[4][32];
        s_iso(w[0], fo->train_start), s_iso(w[1], fo->train_end);
        s_iso(w[2], fo->test_start), s_iso(w[3], fo->test_end);
        for (int i = 0; i < fo->n_shards; i++) {
            const xt_wf_shard *sh = &fo->shards[i];
            for (int s = 0; s < XT_WF_NSTRAT; s++) {
                s_csv_str(b, run->run_id);
                s_printf(b, ",%d,%s,%s,%s,%s,", fo->index, w[0], w[1], w[2], w[3]);
                s_csv_str(b, sh->symbol);
                s_puts(b, ",");
                s_csv_str(b, sh->timeframe);
                s_printf(b, ",%s,%lld", xt_wf_strategy_key(s), (long long)sh->curves.n);
                for (int m = 0; m < XT_WF_NMETRICS; m++) {
                    char t[40];
                    const char *v = s_num(t, xt_wf_metric_get(&sh->m[s], m));
                    s_puts(b, ","), s_puts(b, v ? v : "");
                }
                s_puts(b, "\n");
            }
        }
    }
}

// ---------------------------------------------------------------- SVG charts

#define S_W 800.0 // viewBox width and height; plot area inside the margins
#define S_H 240.0
#define S_ML 64.0
#define S_MR 12.0
#define S_MT 12.0
#define S_MB 26.0

static const char *const s_strat_color[XT_WF_NSTRAT] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f"};
static const char *const s_palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                        "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6"};
#define S_CASH_COLOR "#bab0ac"

typedef struct {
    int64_t t0, t1; // time range
    double y0, y1;  // value range, y0 at the bottom
} s_frame;

static double s_px(const s_frame *f, int64_t t) {
    return S_ML + (f->t1 > f->t0 ? (double)(t - f->t0) / (double)(f->t1 - f->t0) : 0.0) * (S_W - S_ML - S_MR);
}

static double s_py(const s_frame *f, double v) {
    return S_MT + (f->y1 > f->y0 ? (f->y1 - v) / (f->y1 - f->y0) : 0.5) * (S_H - S_MT - S_MB);
}

int64_t xt_report_downsample(const double *y, int64_t n, int64_t max_points, int64_t *idx) {
    int64_t k = 0;
    if (n <= max_points) {
        for (int64_t i = 0; i < n; i++)
            if (isfinite(y[i])) idx[k++] = i;
        return k;
    }
    // B buckets [j n / B, (j + 1) n / B): each keeps its min and max, in time order.
    int64_t B = max_points / 2;
    for (int64_t j = 0; j < B; j++) {
        int64_t a = j * n / B, z = (j + 1) * n / B, lo = -1, hi = -1;
        for (int64_t i = a; i < z; i++) {
            if (!isfinite(y[i])) continue;
            if (lo < 0 || y[i] < y[lo]) lo = i;
            if (hi < 0 || y[i] > y[hi]) hi = i;
        }
        if (lo < 0) continue;
        if (lo == hi) idx[k++] = lo;
        else if (lo < hi) idx[k++] = lo, idx[k++] = hi;
        else idx[k++] = hi, idx[k++] = lo;
    }
    return k;
}

// Axis labels in the kind of the values (percent or plain).
static void s_axis_label(s_buf *b, double v, int pct) {
    if (pct) s_printf(b, "%.1f%%", 100.0 * v);
    else if (fabs(v) >= 1e6) s_printf(b, "%.2fM", v / 1e6);
    else if (fabs(v) >= 1e4) s_printf(b, "%.1fk", v / 1e3);
    else s_printf(b, "%.2f", v);
}

static void s_svg_open(s_buf *b, const char *title, const s_frame *f, int pct) {
    s_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" class=\"chart\" role=\"img\"><title>",
             S_W, S_H);
    s_html(b, title);
    s_printf(b, "</title>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n", S_ML, S_MT,
             S_W - S_ML - S_MR, S_H - S_MT - S_MB);
    // Three horizontal grid lines with their values; start and end dates below.
    for (int i = 0; i < 3; i++) {
        double v = f->y0 + (f->y1 - f->y0) * i / 2.0, y = s_py(f, v);
        s_printf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/><text x=\"%.0f\" y=\"%.1f\" class=\"yl\">",
                 S_ML, S_W - S_MR, y, y, S_ML - 4, y + 4);
        s_axis_label(b, v, pct);
        s_puts(b, "</text>\n");
    }
    char t0[32], t1[32];
    s_iso(t0, f->t0), s_iso(t1, f->t1);
    t0[10] = t1[10] = '\0';
    s_printf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"xl\">%s</text><text x=\"%.0f\" y=\"%.0f\" class=\"xl end\">%s</text>\n",
             S_ML, S_H - 8, t0, S_W - S_MR, S_H - 8, t1);
}

static void s_points(s_buf *b, const s_frame *f, const int64_t *ts, const double *y, const int64_t *idx, int64_t k) {
    for (int64_t i = 0; i < k; i++)
        s_printf(b, "%s%.1f,%.1f", i ? " " : "", s_px(f, ts[idx[i]]), s_py(f, y[idx[i]]));
}

static void s_range(const double *y, int64_t n, double *lo, double *hi) {
    for (int64_t i = 0; i < n; i++)
        if (isfinite(y[i])) *lo = fmin(*lo, y[i]), *hi = fmax(*hi, y[i]);
}

static void s_legend(s_buf *b, const char *const *names, const char *const *colors, int n) {
    s_puts(b, "<div class=\"legend\">");
    for (int i = 0; i < n; i++) {
        s_printf(b, "<span><i style=\"background:%s\"></i>", colors[i]);
        s_html(b, names[i]);
        s_puts(b, "</span>");
    }
    s_puts(b, "</div>\n");
}

// Equity of the agent and each baseline: one polyline each, the vertex budget shared.
static void s_chart_equity(s_buf *b, const xt_wf_curves *c, const char *title, int64_t *idx) {
    int ns = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < XT_WF_NSTRAT; s++)
        if (c->equity[s]) ns++, s_range(c->equity[s], c->n, &lo, &hi);
    if (ns == 0 || !(lo <= hi)) return;
    double pad = hi > lo ? 0.05 * (hi - lo) : fmax(1e-9, 0.01 * fabs(hi));
    s_frame f = {c->ts[0], c->ts[c->n - 1], lo >= 0 && lo - pad < 0 ? 0.0 : lo - pad, hi + pad};
    const char *names[XT_WF_NSTRAT], *colors[XT_WF_NSTRAT];
    int nl = 0;
    s_puts(b, "<figure class=\"equity\">");
    s_svg_open(b, title, &f, 0);
    // Baselines first so the agent is drawn on top.
    for (int s = XT_WF_NSTRAT - 1; s >= 0; s--) {
        if (!c->equity[s]) continue;
        int64_t k = xt_report_downsample(c->equity[s], c->n, XT_REPORT_MAX_POINTS / ns, idx);
        s_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"", s_strat_color[s],
                 s == XT_WF_AGENT ? "1.8" : "1");
        s_points(b, &f, c->ts, c->equity[s], idx, k);
        s_puts(b, "\"/>\n");
    }
    for (int s = 0; s < XT_WF_NSTRAT; s++)
        if (c->equity[s]) names[nl] = xt_wf_strategy_label(s), colors[nl++] = s_strat_color[s];
    s_puts(b, "</svg>");
    s_legend(b, names, colors, nl);
    s_puts(b, "</figure>\n");
}

// Drawdown from the running peak (positive fraction) of an equity curve.
static void s_drawdown(const double *eq, int64_t n, double *dd) {
    double peak = NAN;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(eq[i])) {
            dd[i] = NAN;
            continue;
        }
        if (!(peak >= eq[i])) peak = eq[i];
        dd[i] = peak > 0 ? (peak - eq[i]) / peak : 0.0;
    }
}

// Agent drawdown as a filled area hanging from 0, buy & hold's as a line.
static int s_chart_drawdown(s_buf *b, const xt_wf_curves *c, const char *title, int64_t *idx) {
    const double *dd = c->drawdown, *bh_eq = c->equity[XT_WF_BUY_AND_HOLD];
    double *own = NULL, *bh = NULL;
    if (!dd && c->equity[XT_WF_AGENT]) {
        if (!(own = malloc((size_t)c->n * sizeof *own))) return -1;
        s_drawdown(c->equity[XT_WF_AGENT], c->n, own);
        dd = own;
    }
    if (!dd) return 0;
    if (bh_eq) {
        if (!(bh = malloc((size_t)c->n * sizeof *bh))) {
            free(own);
            return -1;
        }
        s_drawdown(bh_eq, c->n, bh);
    }
    double lo = 0.0, hi = 0.0;
    s_range(dd, c->n, &lo, &hi);
    if (bh) s_range(bh, c->n, &lo, &hi);
    // Plot -dd so losses hang down from the 0% line at the top.
    double deepest = fmax(hi, 0.01);
    s_frame f = {c->ts[0], c->ts[c->n - 1], -deepest * 1.05, 0.0};
    s_puts(b, "<figure class=\"drawdown\">");
    s_svg_open(b, title, &f, 1);
    // Budget: the area gets half (2 of it close the polygon), the line the rest.
    int64_t area = (bh ? XT_REPORT_MAX_POINTS / 2 : XT_REPORT_MAX_POINTS) - 2;
    if (bh) {
        int64_t k = xt_report_downsample(bh, c->n, XT_REPORT_MAX_POINTS / 2, idx);
        s_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1\" points=\"", s_strat_color[XT_WF_BUY_AND_HOLD]);
        for (int64_t i = 0; i < k; i++)
            s_printf(b, "%s%.1f,%.1f", i ? " " : "", s_px(&f, c->ts[idx[i]]), s_py(&f, -bh[idx[i]]));
        s_puts(b, "\"/>\n");
    }
    int64_t k = xt_report_downsample(dd, c->n, area, idx);
    if (k > 0) {
        s_printf(b, "<polygon fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\" stroke-width=\"1\" points=\"",
                 s_strat_color[XT_WF_AGENT], s_strat_color[XT_WF_AGENT]);
        for (int64_t i = 0; i < k; i++) s_printf(b, "%.1f,%.1f ", s_px(&f, c->ts[idx[i]]), s_py(&f, -dd[idx[i]]));
        s_printf(b, "%.1f,%.1f %.1f,%.1f\"/>\n", s_px(&f, c->ts[idx[k - 1]]), s_py(&f, 0.0), s_px(&f, c->ts[idx[0]]),
                 s_py(&f, 0.0));
    }
    s_puts(b, "</svg>");
    const char *names[2] = {"Agent drawdown", "Buy & hold drawdown"};
    const char *colors[2] = {s_strat_color[XT_WF_AGENT], s_strat_color[XT_WF_BUY_AND_HOLD]};
    s_legend(b, names, colors, bh ? 2 : 1);
    s_puts(b, "</figure>\n");
    free(own), free(bh);
    return 0;
}

// Portfolio env: bucket means of the K+1 weights stacked bottom-up (the last
// column is cash), one polygon per column of 2 B vertices, B <= MAX / (2 (K+1)).
static int s_chart_weights(s_buf *b, const xt_wf_curves *c, const char *title) {
    int K1 = c->n_alloc;
    int64_t B = XT_REPORT_MAX_POINTS / (2 * K1);
    if (B < 1) return 0;
    if (B > c->n) B = c->n;
    double *cum = calloc((size_t)(B * (K1 + 1)), sizeof *cum); // cum[j][0..K1], cum[j][0] = 0
    int64_t *tj = calloc((size_t)B, sizeof *tj);
    if (!cum || !tj) {
        free(cum), free(tj);
        return -1;
    }
    double top = 1.0;
    for (int64_t j = 0; j < B; j++) {
        int64_t a = j * c->n / B, z = (j + 1) * c->n / B;
        tj[j] = c->ts[(a + z - 1) / 2];
        for (int col = 0; col < K1; col++) {
            double s = 0.0;
            for (int64_t i = a; i < z; i++) {
                double w = c->alloc[i * K1 + col];
                s += isfinite(w) ? w : 0.0;
            }
            cum[j * (K1 + 1) + col + 1] = cum[j * (K1 + 1) + col] + s / (double)(z - a);
        }
        top = fmax(top, cum[j * (K1 + 1) + K1]);
    }
    s_frame f = {c->ts[0], c->ts[c->n - 1], 0.0, top};
    s_puts(b, "<figure class=\"alloc\">");
    s_svg_open(b, title, &f, 1);
    for (int col = 0; col < K1; col++) {
        const char *color = col == K1 - 1 && K1 > 1 ? S_CASH_COLOR : s_palette[col % 10];
        s_printf(b, "<polygon fill=\"%s\" stroke=\"none\" points=\"", color);
        for (int64_t j = 0; j < B; j++) // upper edge left to right
            s_printf(b, "%s%.1f,%.1f", j ? " " : "", s_px(&f, tj[j]), s_py(&f, cum[j * (K1 + 1) + col + 1]));
        for (int64_t j = B - 1; j >= 0; j--) // lower edge back
            s_printf(b, " %.1f,%.1f", s_px(&f, tj[j]), s_py(&f, cum[j * (K1 + 1) + col]));
        s_puts(b, "\"/>\n");
    }
    s_puts(b, "</svg>");
    const char *names[64], *colors[64];
    char fallback[64][16];
    int nl = K1 < 64 ? K1 : 64;
    for (int col = 0; col < nl; col++) {
        if (c->alloc_names && c->alloc_names[col]) names[col] = c->alloc_names[col];
        else snprintf(fallback[col], sizeof fallback[col], "w%d", col), names[col] = fallback[col];
        colors[col] = col == K1 - 1 && K1 > 1 ? S_CASH_COLOR : s_palette[col % 10];
    }
    s_legend(b, names, colors, nl);
    s_puts(b, "</figure>\n");
    free(cum), free(tj);
    return 0;
}

// Asset env: the position (column 0) as a step line over min/max buckets;
// each kept point adds 2 vertices, so MAX / 2 points are kept.
static int s_chart_position(s_buf *b, const xt_wf_curves *c, const char *title, int64_t *idx) {
    double *pos = malloc((size_t)c->n * sizeof *pos);
    if (!pos) return -1;
    for (int64_t i = 0; i < c->n; i++) pos[i] = c->alloc[i * c->n_alloc];
    double lo = 0.0, hi = 1.0;
    s_range(pos, c->n, &lo, &hi);
    if (lo < 0) lo = fmin(lo, -1.0);
    s_frame f = {c->ts[0], c->ts[c->n - 1], lo, hi};
    s_puts(b, "<figure class=\"alloc\">");
    s_svg_open(b, title, &f, 0);
    int64_t k = xt_report_downsample(pos, c->n, XT_REPORT_MAX_POINTS / 2, idx);
    s_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" points=\"", s_strat_color[XT_WF_AGENT]);
    for (int64_t i = 0; i < k; i++) {
        double x = s_px(&f, c->ts[idx[i]]);
        if (i) s_printf(b, " %.1f,%.1f ", x, s_py(&f, pos[idx[i - 1]])); // hold, then step
        s_printf(b, "%.1f,%.1f", x, s_py(&f, pos[idx[i]]));
    }
    s_puts(b, "\"/>\n</svg>");
    const char *names[1] = {c->alloc_names && c->alloc_names[0] ? c->alloc_names[0] : "Position"};
    s_legend(b, names, &s_strat_color[XT_WF_AGENT], 1);
    s_puts(b, "</figure>\n");
    free(pos);
    return 0;
}

// ---------------------------------------------------------------- HTML

static const char s_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1180px;"
    "padding:0 16px;color:#222}h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;"
    "margin-top:32px}h3{font-size:16px}h4{font-size:14px;margin:18px 0 6px}table{border-collapse:collapse;"
    "margin:8px 0;font-size:12.5px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}"
    "th:first-child,thead th{text-align:left;background:#f6f6f6}td.neg{color:#b00}td.pass{color:#070}"
    "td.fail{color:#b00}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}.cards{display:flex;"
    "gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;flex:1;"
    "min-width:240px}.card b{font-size:22px;display:block}.card p{margin:4px 0 0;font-size:12px;color:#555}"
    "figure{margin:6px 0 14px}svg.chart{width:100%;height:auto;display:block}.frame{fill:#fff;stroke:#bbb}"
    ".grid{stroke:#eee}.yl{font-size:10px;text-anchor:end;fill:#666}.xl{font-size:10px;fill:#666}"
    ".xl.end{text-anchor:end}.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;"
    "width:10px;height:10px;margin-right:4px;vertical-align:middle}.meta{color:#666}";

static void s_card(s_buf *b, const char *title, double v, xt_wf_kind kind, const char *text) {
    s_printf(b, "<div class=\"card\"><span>%s</span><b>", title);
    s_hval(b, v, kind);
    s_puts(b, "</b><p>");
    s_html(b, text);
    s_puts(b, "</p></div>\n");
}

static void s_html_overview(s_buf *b, const xt_wf_run *run, const xt_wfstats *st) {
    char text[600];
    s_puts(b, "<section id=\"overview\"><h2>Overview</h2><div class=\"cards\">\n");
    snprintf(text, sizeof text,
             "Share of folds in which the agent's total return was positive, averaged over the %d shards "
             "(buy & hold %.0f%%, equal weight %.0f%%, cash %.0f%% on the same windows).",
             st->n_shards, 100 * st->consistency[XT_WF_BUY_AND_HOLD], 100 * st->consistency[XT_WF_EQUAL_WEIGHT],
             100 * st->consistency[XT_WF_CASH]);
    s_card(b, "Consistency", st->consistency[XT_WF_AGENT], XT_WF_KIND_PCT, text);
    if (st->dsr.defined)
        snprintf(text, sizeof text,
                 "Probability that the best shard (%s %s) has a true Sharpe ratio above zero once deflated for the "
                 "%d trials, the spread of their Sharpe ratios and its returns' skewness, kurtosis and length; "
                 "above 0.95 is significant at 5%%.",
                 st->shards[st->dsr.best].symbol, st->shards[st->dsr.best].timeframe, st->dsr.n_trials);
    else snprintf(text, sizeof text, "Deflated Sharpe Ratio undefined: %s.", st->dsr.note);
    s_card(b, "Deflated Sharpe Ratio", st->dsr.dsr, XT_WF_KIND_RATIO, text);
    if (st->pbo.defined)
        snprintf(text, sizeof text,
                 "Probability that the shard looking best on half of the %d out-of-sample time blocks ranks at or "
                 "below the median on the other half, over all %lld splits (CSCV); near 0 is good, 0.5 or more "
                 "means picking the best is no better than chance.",
                 st->pbo.n_blocks, (long long)st->pbo.n_combinations);
    else snprintf(text, sizeof text, "Probability of Backtest Overfitting undefined: %s.", st->pbo.note);
    s_card(b, "Probability of Backtest Overfitting", st->pbo.pbo, XT_WF_KIND_RATIO, text);
    s_puts(b, "</div>\n<h3>Pass criteria (seed 003 &sect;8.2)</h3><table><thead><tr><th>Criterion</th><th>Agent</th>"
              "<th>Result</th></tr></thead><tbody>\n");
    s_crit c[4];
    int nc = s_criteria(run, st, c);
    for (int i = 0; i < nc; i++) {
        s_puts(b, "<tr><th>");
        s_html(b, c[i].text);
        s_puts(b, "</th><td>");
        s_hval(b, c[i].value, c[i].kind);
        s_printf(b, "</td><td class=\"%s\">%s</td></tr>\n", c[i].pass > 0 ? "pass" : "fail",
                 c[i].pass < 0 ? "n/a" : c[i].pass ? "pass" : "fail");
    }
    s_puts(b, "</tbody></table></section>\n");
}

static void s_html_tables(s_buf *b, const xt_wf_run *run, const xt_wfstats *st) {
    char t0[32], t1[32], t2[32], t3[32], label[32];
    s_puts(b, "<section id=\"folds\"><h2>Folds</h2><table><thead><tr><th>Fold</th><th>Train</th><th>Test</th>"
              "<th>Shards</th></tr></thead><tbody>\n");
    for (int f = 0; f < run->n_folds; f++) {
        const xt_wf_fold *fo = &run->folds[f];
        s_printf(b, "<tr><th>%d</th><td>%s &ndash; %s</td><td>%s &ndash; %s</td><td>%d</td></tr>\n", fo->index,
                 s_iso(t0, fo->train_start), s_iso(t1, fo->train_end), s_iso(t2, fo->test_start),
                 s_iso(t3, fo->test_end), fo->n_shards);
    }
    s_puts(b, "</tbody></table></section>\n<section id=\"per-fold\"><h2>Per fold</h2>"
              "<p>Agent across the fold's shards; baselines' mean return beside it.</p>");
    s_html_summary_head(b, "Fold", 0);
    for (int f = 0; f < st->n_folds; f++) {
        snprintf(label, sizeof label, "Fold %d", st->folds[f].fold);
        s_html_summary_row(b, label, NULL, st->folds[f].s, NULL);
    }
    s_puts(b, "</tbody></table></section>\n<section id=\"per-symbol\"><h2>Per symbol</h2><p>Across folds and timeframes.</p>");
    s_html_summary_head(b, "Symbol", 0);
    for (int i = 0; i < st->n_symbols; i++) s_html_summary_row(b, st->symbols[i].key, NULL, st->symbols[i].s, NULL);
    s_puts(b, "</tbody></table></section>\n<section id=\"per-timeframe\"><h2>Per timeframe</h2><p>Across folds and symbols.</p>");
    s_html_summary_head(b, "Timeframe", 0);
    for (int i = 0; i < st->n_timeframes; i++)
        s_html_summary_row(b, st->timeframes[i].key, NULL, st->timeframes[i].s, NULL);
    s_puts(b, "</tbody></table></section>\n<section id=\"per-shard\"><h2>Per shard</h2><p>Across folds; "
              "Profitable is the shard's consistency. PSR: probability that the true Sharpe of the stitched "
              "out-of-sample returns is above 0; DSR: the same against the expected best of the trials.</p>");
    s_html_summary_head(b, "Shard", 1);
    for (int k = 0; k < st->n_shards; k++)
        s_html_summary_row(b, st->shards[k].symbol, st->shards[k].timeframe, st->shards[k].s, &st->shards[k]);
    s_puts(b, "</tbody></table>\n");
    s_html_summary_head(b, "All", 0);
    s_html_summary_row(b, "All folds and shards", NULL, st->overall, NULL);
    s_puts(b, "</tbody></table></section>\n");

    // Seed 003 §9.1 targets against the agent's mean over every fold x shard.
    s_puts(b, "<section id=\"targets\"><h2>Seed targets (seed 003 &sect;9.1)</h2><table><thead><tr><th>Metric</th>"
              "<th>Agent mean</th><th>Target</th><th>Seed</th><th>Met</th></tr></thead><tbody>\n");
    for (size_t t = 0; t < sizeof s_targets / sizeof s_targets[0]; t++) {
        const s_target *g = &s_targets[t];
        int m = 0;
        while (m < XT_WF_NMETRICS && strcmp(xt_wf_metric_key(m), g->key)) m++;
        double v = s_mean_field(run, XT_WF_AGENT, g->offset);
        int met = g->op == '>' ? v > g->target : v < g->target;
        s_puts(b, "<tr><th>");
        s_html(b, xt_wf_metric_label(m));
        s_puts(b, "</th><td>");
        s_hval(b, v, xt_wf_metric_kind(m));
        s_printf(b, "</td><td>%s ", g->op == '>' ? "&gt;" : "&lt;");
        s_hval(b, g->target, xt_wf_metric_kind(m));
        s_puts(b, "</td><td>");
        s_html(b, g->text);
        s_printf(b, "</td><td class=\"%s\">%s</td></tr>\n", isfinite(v) && met ? "pass" : "fail",
                 !isfinite(v) ? "n/a" : met ? "yes" : "no");
    }
    s_puts(b, "</tbody></table></section>\n");
}

// One fold x shard: metrics table and the three charts.
static int s_html_shard(s_buf *b, const xt_wf_run *run, const xt_wf_fold *fo, int fi, int si, int64_t *idx) {
    const xt_wf_shard *sh = &fo->shards[si];
    char title[256];
    s_printf(b, "<div class=\"shard\" id=\"f%d-s%d\"><h4>", fi, si);
    s_html(b, sh->symbol);
    s_puts(b, " ");
    s_html(b, sh->timeframe);
    s_printf(b, " &middot; fold %d</h4>\n<table><thead><tr><th>Metric</th>", fo->index);
    for (int s = 0; s < XT_WF_NSTRAT; s++) s_puts(b, "<th>"), s_html(b, xt_wf_strategy_label(s)), s_puts(b, "</th>");
    s_puts(b, "</tr></thead><tbody>\n");
    for (int m = 0; m < XT_WF_NMETRICS; m++) {
        s_puts(b, "<tr><th>");
        s_html(b, xt_wf_metric_label(m));
        s_puts(b, "</th>");
        for (int s = 0; s < XT_WF_NSTRAT; s++) {
            s_puts(b, "<td>");
            s_hval(b, xt_wf_metric_get(&sh->m[s], m), xt_wf_metric_kind(m));
            s_puts(b, "</td>");
        }
        s_puts(b, "</tr>\n");
    }
    s_puts(b, "</tbody></table>\n");
    const xt_wf_curves *c = &sh->curves;
    int rc = 0;
    if (c->n >= 1) {
        snprintf(title, sizeof title, "Equity, %s %s, fold %d", sh->symbol, sh->timeframe, fo->index);
        s_chart_equity(b, c, title, idx);
        snprintf(title, sizeof title, "Drawdown, %s %s, fold %d", sh->symbol, sh->timeframe, fo->index);
        rc = s_chart_drawdown(b, c, title, idx);
        if (rc == 0 && c->n_alloc > 0) {
            snprintf(title, sizeof title, "%s, %s %s, fold %d",
                     run->env == XT_WF_ENV_PORTFOLIO ? "Allocation" : "Position", sh->symbol, sh->timeframe, fo->index);
            rc = run->env == XT_WF_ENV_PORTFOLIO ? s_chart_weights(b, c, title) : s_chart_position(b, c, title, idx);
        }
    } else s_puts(b, "<p class=\"meta\">No curves were recorded for this shard.</p>\n");
    s_puts(b, "</div>\n");
    return rc;
}

static int s_render_html(s_buf *b, const xt_wf_run *run, const xt_wfstats *st) {
    char t[32];
    s_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>xtrade report: ");
    s_html(b, run->run_id);
    s_printf(b, "</title><style>%s</style></head><body>\n<h1>Walk-forward report: ", s_css);
    s_html(b, run->run_id);
    s_printf(b, "</h1>\n<p class=\"meta\">Created %s &middot; %s env &middot; %d folds &middot; %d shards</p>\n",
             s_iso(t, run->created), run->env == XT_WF_ENV_PORTFOLIO ? "portfolio" : "asset", run->n_folds,
             st->n_shards);
    s_html_overview(b, run, st);
    s_puts(b, "<section id=\"config\"><h2>Configuration</h2><pre>");
    s_html(b, run->config_summary);
    s_puts(b, "</pre></section>\n");
    s_html_tables(b, run, st);
    // Curves: one index buffer, sized for the longest, serves every chart.
    int64_t longest = 1;
    for (int f = 0; f < run->n_folds; f++)
        for (int i = 0; i < run->folds[f].n_shards; i++)
            if (run->folds[f].shards[i].curves.n > longest) longest = run->folds[f].shards[i].curves.n;
    int64_t *idx = malloc((size_t)(longest < XT_REPORT_MAX_POINTS ? longest : XT_REPORT_MAX_POINTS) * sizeof *idx);
    if (!idx) return -1;
    s_puts(b, "<section id=\"details\"><h2>Fold details</h2>\n");
    int rc = 0;
    for (int f = 0; f < run->n_folds && rc == 0; f++) {
        const xt_wf_fold *fo = &run->folds[f];
        char t1[32];
        s_printf(b, "<h3 id=\"fold-%d\">Fold %d: test %s &ndash; %s</h3>\n", fo->index, fo->index, s_iso(t, fo->test_start),
                 s_iso(t1, fo->test_end));
        for (int i = 0; i < fo->n_shards && rc == 0; i++) rc = s_html_shard(b, run, fo, f, i, idx);
    }
    free(idx);
    s_puts(b, "</section>\n<footer class=\"meta\"><p>Generated by xtrade. Metrics are defined in docs/reports.md; "
              "baselines trade the same windows with the same costs.</p></footer>\n</body></html>\n");
    return rc;
}

// ---------------------------------------------------------------- public

int xt_report_render(const xt_wf_run *run, const xt_wfstats *stats, xt_report_format fmt, char **out, size_t *len,
                     xt_err *err) {
    xt_err local;
    if (!err) err = &local;
    *out = NULL;
    *len = 0;
    xt_wfstats *own = NULL;
    if (!stats && !(stats = own = xt_wfstats_new(run, err))) return err->code;
    s_buf b = {0};
    int rc = 0;
    switch (fmt) {
    case XT_REPORT_JSON: s_render_json(&b, run, stats); break;
    case XT_REPORT_CSV: s_render_csv(&b, run); break;
    case XT_REPORT_HTML: rc = s_render_html(&b, run, stats); break;
    default: rc = -1;
    }
    xt_wfstats_destroy(&own);
    if (rc != 0 || b.oom || !b.p) {
        free(b.p);
        if (fmt < XT_REPORT_JSON || fmt > XT_REPORT_HTML)
            return xt_err_set(err, XT_EINVAL, "report: unknown format %d", (int)fmt);
        return xt_err_set(err, XT_ENOMEM, "report: out of memory while rendering run %s", run->run_id ? run->run_id : "");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int xt_report_write(const xt_wf_run *run, const char *dir, xt_err *err) {
    xt_err local;
    if (!err) err = &local;
    if (xt_file_mkdirs(dir, err) != 0) return err->code;
    xt_wfstats *st = xt_wfstats_new(run, err);
    if (!st) return err->code;
    static const struct {
        xt_report_format fmt;
        const char *name;
    } files[] = {{XT_REPORT_JSON, "report.json"}, {XT_REPORT_CSV, "report.csv"}, {XT_REPORT_HTML, "report.html"}};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        char path[4096], *text = NULL;
        size_t len = 0;
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= (int)sizeof path) {
            rc = xt_err_set(err, XT_EINVAL, "%s: report directory path too long", dir);
            break;
        }
        rc = xt_report_render(run, st, files[i].fmt, &text, &len, err);
        if (rc == 0) rc = xt_file_write_atomic(path, text, len, err);
        free(text);
    }
    xt_wfstats_destroy(&st);
    return rc;
}
