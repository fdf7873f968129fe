// cmd_data.c - `xtrade data synth | features | build` (inspect lives in
// cmd_data_inspect.c). Each parses its own flags, validates every argument
// and file, and prints one error line on failure.
#include "cli.h"
#include "cli_data.h"

#include "core/fileio.h"
#include "core/log.h"
#include "core/xtime.h"
#include "market/csv.h"
#include "market/dataset.h"
#include "market/indicators.h"

#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- shared

// Growable text buffer for whole-file outputs written atomically at the end.
typedef struct {
    char *p;
    size_t len, cap;
} s_buf;

static int s_buf_printf(s_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_buf_printf(s_buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 1 << 16;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q, b->cap = cap;
    }
}

// Shortest decimal text that reads back as the same double ("" for NaN).
static const char *s_num(double v, char buf[40]) {
    if (!isfinite(v)) return buf[0] = '\0', buf;
    for (int prec = 9; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

// Parses `--config FILE`, `--set k=v`, and the named extra flags.
typedef struct {
    const char *config, *out, *input, *format, *symbol;
    char *sets[64];
    int n_sets, force;
} s_args;

static int s_parse(s_args *a, int argc, char **argv, const char *cmd, const char *allowed) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        int has = i + 1 < argc;
        const char **dst = NULL;
        if (strcmp(f, "--config") == 0) dst = &a->config;
        else if (strcmp(f, "--out") == 0) dst = &a->out;
        else if (strcmp(f, "--input") == 0) dst = &a->input;
        else if (strcmp(f, "--format") == 0) dst = &a->format;
        else if (strcmp(f, "--symbol") == 0) dst = &a->symbol;
        else if (strcmp(f, "--force") == 0 && strstr(allowed, "--force")) {
            a->force = 1;
            continue;
        } else if (strcmp(f, "--set") == 0 && strstr(allowed, "--set")) {
            if (!has) return xt_cli_fail(2, "%s: --set needs key=value", cmd);
            if (a->n_sets == 64) return xt_cli_fail(2, "%s: too many --set options", cmd);
            a->sets[a->n_sets++] = argv[++i];
            continue;
        }
        if (!dst || !strstr(allowed, f))
            return xt_cli_fail(2, "%s: unexpected argument '%s' (options: %s)", cmd, f, allowed);
        if (!has) return xt_cli_fail(2, "%s: %s needs a value", cmd, f);
        *dst = argv[++i];
    }
    return 0;
}

// ---------------------------------------------------------------- data synth

int xt_cli_data_synth(int argc, char **argv) {
    s_args a;
    int rc = s_parse(&a, argc, argv, "data synth", "--config --out --set");
    if (rc) return rc;
    if (!a.config || !a.out) return xt_cli_fail(2, "data synth: usage: xtrade data synth --config FILE --out DIR");
    xt_config cfg;
    rc = xt_cli_load_config(&cfg, a.config, a.sets, a.n_sets);
    if (rc) return rc;
    cfg.data_source = XT_DATA_SOURCE_SYNTHETIC; // this command always writes the embedded market
    xt_err err = {0};
    if (xt_file_mkdirs(a.out, &err)) return xt_cli_fail(1, "%s", err.msg);
    xt_bars bars[XT_CFG_LIST_MAX];
    double t0 = xt_time_mono();
    if (xt_dataset_load_bars(bars, &cfg, &err)) return xt_cli_fail(1, "%s", err.msg);
    double gen = xt_time_mono() - t0;
    int64_t total = 0;
    rc = 0;
    for (int i = 0; i < cfg.data_symbols.n && rc == 0; i++) {
        const xt_bars *b = &bars[i];
        s_buf out = {0};
        char path[2400], t[32], n[5][40];
        snprintf(path, sizeof path, "%s/%s.csv", a.out, b->symbol);
        int bad = s_buf_printf(&out, "timestamp,open,high,low,close,volume\n");
        for (int64_t r = 0; r < b->n && !bad; r++)
            bad = s_buf_printf(&out, "%s,%s,%s,%s,%s,%s\n", xt_time_format(b->ts[r], t), s_num(b->open[r], n[0]),
                               s_num(b->high[r], n[1]), s_num(b->low[r], n[2]), s_num(b->close[r], n[3]),
                               s_num(b->volume[r], n[4]));
        if (bad) rc = xt_cli_fail(1, "data synth: out of memory writing %s", path);
        else if (xt_file_write_atomic(path, out.p, out.len, &err)) rc = xt_cli_fail(1, "%s", err.msg);
        else printf("%s: %lld bars (%s)\n", path, (long long)b->n, xt_asset_class_name(b->cal.cls));
        total += b->n;
        free(out.p);
    }
    if (rc == 0)
        printf("generated %lld bars for %d symbols in %.3f s (%.1fM bars/s)\n", (long long)total, cfg.data_symbols.n,
               gen, gen > 0 ? total / gen / 1e6 : 0.0);
    for (int i = 0; i < cfg.data_symbols.n; i++) xt_bars_free(&bars[i]);
    return rc;
}

// ---------------------------------------------------------------- data features

static const char *s_ind_names[20] = {"sma_20", "ema_50", "rsi_14", "atr_14", "adx_14", "plus_di_14", "minus_di_14",
                                      "macd", "macd_signal", "macd_hist", "bb_lower", "bb_mid", "bb_upper", "bb_width",
                                      "cci_20", "stoch_fastk", "stoch_fastd", "stoch_slowd", "obv", "volume_sma_20"};

int xt_cli_data_features(int argc, char **argv) {
    s_args a;
    int rc = s_parse(&a, argc, argv, "data features", "--input --out --format --symbol");
    if (rc) return rc;
    if (!a.input || !a.out)
        return xt_cli_fail(2, "data features: usage: xtrade data features --input FILE.csv --out OUT.csv [--format F]");
    xt_csv_opts o = {0};
    o.format = XT_CSV_AUTO;
    o.gaps = XT_GAP_KEEP; // one output row per input row: never insert
    if (a.format && xt_csv_format_parse(a.format, &o.format))
        return xt_cli_fail(2, "data features: --format %s: expected auto, generic, binance or forex", a.format);
    char sym[XT_SYMBOL_MAX], tmp[512];
    snprintf(tmp, sizeof tmp, "%s", a.input);
    snprintf(sym, sizeof sym, "%s", a.symbol ? a.symbol : basename(tmp));
    char *dot = strrchr(sym, '.');
    if (dot && !a.symbol) *dot = '\0';
    xt_bars b;
    xt_csv_report rep;
    xt_err err = {0};
    if (xt_csv_load(&b, &rep, a.input, sym, &o, &err)) return xt_cli_fail(1, "%s", err.msg);
    int64_t n = b.n;
    double *col = malloc(sizeof(double) * 20 * (size_t)(n + 1));
    if (!col) {
        xt_bars_free(&b);
        return xt_cli_fail(1, "data features: out of memory for %lld rows", (long long)n);
    }
    double *c[20];
    for (int i = 0; i < 20; i++) c[i] = col + (size_t)i * (size_t)n;
    xt_ind_sma(c[0], b.close, n, 20);
    xt_ind_ema(c[1], b.close, n, 50);
    xt_ind_rsi(c[2], b.close, n, 14);
    xt_ind_atr(c[3], b.high, b.low, b.close, n, 14);
    xt_ind_adx(c[4], c[5], c[6], b.high, b.low, b.close, n, 14);
    xt_ind_macd(c[7], c[8], c[9], b.close, n, 12, 26, 9);
    xt_ind_bbands(c[10], c[11], c[12], c[13], b.close, n, 20, 2.0);
    xt_ind_cci(c[14], b.high, b.low, b.close, n, 20);
    xt_ind_stoch(c[15], c[16], c[17], b.high, b.low, b.close, n, 14, 3, 3);
    xt_ind_obv(c[18], b.close, b.volume, n);
    xt_ind_sma(c[19], b.volume, n, 20);
    s_buf out = {0};
    int bad = s_buf_printf(&out, "timestamp,open,high,low,close,volume");
    for (int i = 0; i < 20 && !bad; i++) bad = s_buf_printf(&out, ",%s", s_ind_names[i]);
    bad = bad || s_buf_printf(&out, "\n");
    char t[32], v[6][40];
    for (int64_t r = 0; r < n && !bad; r++) {
        bad = s_buf_printf(&out, "%s,%s,%s,%s,%s,%s", xt_time_format(b.ts[r], t), s_num(b.open[r], v[0]),
                           s_num(b.high[r], v[1]), s_num(b.low[r], v[2]), s_num(b.close[r], v[3]),
                           s_num(b.volume[r], v[4]));
        for (int i = 0; i < 20 && !bad; i++) bad = s_buf_printf(&out, ",%s", s_num(c[i][r], v[5]));
        bad = bad || s_buf_printf(&out, "\n");
    }
    rc = 0;
    if (bad) rc = xt_cli_fail(1, "data features: out of memory writing %s", a.out);
    else if (xt_file_write_atomic(a.out, out.p, out.len, &err)) rc = xt_cli_fail(1, "%s", err.msg);
    else printf("%s: %lld rows, 6 input + 20 indicator columns (%s format)\n", a.out, (long long)n,
                xt_csv_format_name(rep.format));
    free(out.p);
    free(col);
    xt_bars_free(&b);
    return rc;
}

// ---------------------------------------------------------------- data build

static void s_progress(void *arg, const char *line) {
    int *count = arg;
    (*count)++;
    printf("[%3d] %s\n", *count, line);
    fflush(stdout);
}

int xt_cli_data_build(int argc, char **argv) {
    s_args a;
    int rc = s_parse(&a, argc, argv, "data build", "--config --set --force");
    if (rc) return rc;
    if (!a.config) return xt_cli_fail(2, "data build: usage: xtrade data build --config FILE [--force] [--set k=v]");
    xt_config cfg;
    rc = xt_cli_load_config(&cfg, a.config, a.sets, a.n_sets);
    if (rc) return rc;
    xt_dataset_stats st;
    xt_err err = {0};
    int count = 0;
    if (xt_dataset_build(&cfg, a.force, &st, s_progress, &count, &err)) return xt_cli_fail(1, "%s", err.msg);
    printf("built %d cache file%s (%d up to date), %lld rows in %.2f s: %.2fM rows/s\n", st.files_built,
           st.files_built == 1 ? "" : "s", st.files_reused, (long long)st.rows, st.seconds,
           st.seconds > 0 ? st.rows / st.seconds / 1e6 : 0.0);
    return 0;
}
