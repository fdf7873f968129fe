// cmd_data_inspect.c - `xtrade data inspect`: load one CSV of bars the way
// training would and print what was found: format, timeframe, range, holes
// (gaps filled or rejected, market closures) and basic statistics.
// stdout carries the report; errors are one line on stderr.
#include "cli.h"
#include "cli_data.h"

#include "core/err.h"
#include "core/xtime.h"
#include "market/csv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_USAGE                                                                                    \
    "usage: xtrade data inspect FILE.csv [--format auto|generic|binance|forex] "                   \
    "[--timeframe 15m] [--symbol NAME] [--gap-policy fill|reject]"

// ---------------------------------------------------------------- arguments

// Default symbol: the file name up to its first '_', '-', '.' or space
// ("BTCUSDT-15m-2024-01.csv" -> BTCUSDT, "EURUSD_M15.csv" -> EURUSD).
static void s_default_symbol(const char *path, char out[XT_SYMBOL_MAX]) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, "_-. ");
    if (n == 0) n = strcspn(base, ".");
    if (n == 0) base = "DATA", n = 4;
    if (n >= XT_SYMBOL_MAX) n = XT_SYMBOL_MAX - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

typedef struct {
    const char *path;
    const char *symbol;
    xt_csv_opts opts;
    int tf_given;
} s_args;

// Takes "--name value" or "--name=value"; returns the value or NULL.
static const char *s_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

static int s_bad_arg(const char *what, const char *value) {
    return xt_cli_fail(2, "data inspect: %s \"%s\" (%s)", what, value, S_USAGE);
}

static int s_parse_args(int argc, char **argv, s_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s\n", S_USAGE);
            return 1;
        } else if ((v = s_value(argc, argv, &i, "--format"))) {
            if (xt_csv_format_parse(v, &a->opts.format))
                return s_bad_arg("--format: unknown format", v);
        } else if ((v = s_value(argc, argv, &i, "--timeframe"))) {
            if (xt_timeframe_parse(v, &a->opts.tf_sec))
                return s_bad_arg("--timeframe: expected e.g. 1m, 15m, 1h, 4h, 1d, got", v);
            a->tf_given = 1;
        } else if ((v = s_value(argc, argv, &i, "--symbol"))) {
            if (!*v || strlen(v) >= XT_SYMBOL_MAX)
                return s_bad_arg("--symbol: expected 1 to 31 characters, got", v);
            a->symbol = v;
        } else if ((v = s_value(argc, argv, &i, "--gap-policy"))) {
            if (xt_gap_policy_parse(v, &a->opts.gaps))
                return s_bad_arg("--gap-policy: expected fill or reject, got", v);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return s_bad_arg("unknown option", argv[i]);
        } else if (a->path) {
            return s_bad_arg("one file at a time; extra argument", argv[i]);
        } else {
            a->path = argv[i];
        }
    }
    if (!a->path) return xt_cli_fail(2, "data inspect: no file given (%s)", S_USAGE);
    return 0;
}

// ---------------------------------------------------------------- report

static void s_print_holes(const xt_csv_report *r, int64_t total) {
    char t0[32], t1[32];
    for (int k = 0; k < r->n_holes; k++) {
        const xt_csv_hole *h = &r->holes[k];
        printf("  line %lld: %lld bars %s .. %s  %s\n", (long long)h->line, (long long)h->bars,
               xt_time_format(h->first_ts, t0), xt_time_format(h->last_ts, t1),
               h->closure ? "market closure, kept as is" : "gap, filled");
    }
    if (total > r->n_holes) printf("  ... %lld more\n", (long long)(total - r->n_holes));
}

static void s_print_stats(const xt_bars *b) {
    double cmin = INFINITY, cmax = -INFINITY, csum = 0, vsum = 0, lr = 0;
    int64_t nlr = 0;
    for (int64_t i = 0; i < b->n; i++) {
        double c = b->close[i];
        cmin = fmin(cmin, c), cmax = fmax(cmax, c), csum += c, vsum += b->volume[i];
        // |log return| between consecutive bars (filled bars contribute 0).
        if (i > 0 && c > 0 && b->close[i - 1] > 0) lr += fabs(log(c / b->close[i - 1])), nlr++;
    }
    printf("close       min %.10g  max %.10g  mean %.10g\n", cmin, cmax, csum / (double)b->n);
    printf("volume      mean %.10g\n", vsum / (double)b->n);
    if (nlr) printf("|log ret|   mean %.6g per bar\n", lr / (double)nlr);
    else printf("|log ret|   n/a\n");
}

static void s_print(const s_args *a, const xt_bars *b, const xt_csv_report *r) {
    char t0[32], t1[32], tf[16];
    const char *delim = r->delim == '\t' ? "tab" : r->delim == ';' ? "semicolon" : "comma";
    printf("file        %s\n", a->path);
    printf("symbol      %s (%s calendar)\n", b->symbol, xt_asset_class_name(b->cal.cls));
    printf("format      %s (%s, %s separated%s)\n", xt_csv_format_name(r->format),
           r->has_header ? "header" : "no header", delim,
           r->has_volume ? "" : ", no volume column");
    printf("timeframe   %s (%s)\n", xt_timeframe_name(r->tf_sec, tf),
           a->tf_given ? "given" : "inferred");
    printf("rows        %lld read, %lld filled, %lld bars\n", (long long)r->rows_read,
           (long long)r->rows_filled, (long long)b->n);
    printf("range       %s .. %s\n", xt_time_format(b->ts[0], t0),
           xt_time_format(b->ts[b->n - 1], t1));
    if (r->n_gaps)
        printf("gaps        %lld (%lld missing bars, filled), longest %lld bars from %s\n",
               (long long)r->n_gaps, (long long)r->gap_bars, (long long)r->longest_gap_bars,
               xt_time_format(r->longest_gap_start, t0));
    else printf("gaps        0\n");
    if (r->n_closures)
        printf("closures    %lld (holes of >= %lld bars, not filled), longest %lld bars from %s\n",
               (long long)r->n_closures, (long long)r->closure_bars,
               (long long)r->longest_closure_bars, xt_time_format(r->longest_closure_start, t0));
    else printf("closures    0\n");
    s_print_holes(r, r->n_gaps + r->n_closures);
    s_print_stats(b);
}

// ---------------------------------------------------------------- command

int xt_cli_data_inspect(int argc, char **argv) {
    s_args a;
    int rc = s_parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    char sym[XT_SYMBOL_MAX];
    if (!a.symbol) s_default_symbol(a.path, sym), a.symbol = sym;
    xt_bars b;
    xt_csv_report r;
    xt_err err = {0};
    if (xt_csv_load(&b, &r, a.path, a.symbol, &a.opts, &err)) return xt_cli_fail(1, "%s", err.msg);
    s_print(&a, &b, &r);
    xt_bars_free(&b);
    return 0;
}
