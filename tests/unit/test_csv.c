// test_csv.c - CSV import: formats, exact error sentences, calendar-aware gaps, fuzzing.
#include "testutil.h"

#include "core/log.h"
#include "core/rng.h"
#include "core/xtime.h"
#include "market/csv.h"

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T2024 1704067200 // 2024-01-01T00:00:00Z, a Monday

// ---------------------------------------------------------------- helpers

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)k + 1 > b->cap) {
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

// Generic ISO rows: close drifts up by 0.1 per bar, high/low 0.5 around.
static void sb_rows(sbuf *b, int64_t t0, int tf, int count) {
    char ts[32];
    for (int i = 0; i < count; i++) {
        int64_t t = t0 + (int64_t)i * tf;
        double c = 100.0 + 0.1 * (double)((t - T2024) / tf);
        sb_add(b, "%s,%.2f,%.2f,%.2f,%.2f,%d\n", xt_time_format(t, ts), c - 0.05, c + 0.5, c - 0.5,
               c, 10 + i % 7);
    }
}

typedef struct {
    char dir[256];
    char path[512];
    xt_bars bars;
    xt_csv_report rep;
    xt_err err;
} fx;

static int fx_setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    xt_test_tmpdir(f->dir, "csv");
    *state = f;
    return 0;
}

static int fx_teardown(void **state) {
    fx *f = *state;
    xt_bars_free(&f->bars);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

// Writes text as dir/name and loads it.
static int fx_load(fx *f, const char *name, const char *text, const char *symbol,
                   const xt_csv_opts *o) {
    xt_bars_free(&f->bars);
    xt_test_write(f->path, f->dir, name, text);
    memset(&f->err, 0, sizeof f->err);
    return xt_csv_load(&f->bars, &f->rep, f->path, symbol, o, &f->err);
}

// Same, for text with NUL bytes or exact lengths.
static int fx_load_n(fx *f, const char *name, const char *text, size_t n, const char *symbol,
                     const xt_csv_opts *o) {
    xt_bars_free(&f->bars);
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    fclose(fp);
    memset(&f->err, 0, sizeof f->err);
    return xt_csv_load(&f->bars, &f->rep, f->path, symbol, o, &f->err);
}

// Loads and expects failure whose message contains want.
static void fx_bad_as(fx *f, const char *symbol, const char *text, const xt_csv_opts *o,
                      const char *want) {
    int rc = fx_load(f, "x.csv", text, symbol, o);
    assert_true(rc < 0);
    assert_contains(f->err.msg, want);
    assert_int_equal(f->bars.n, 0);
    assert_null(f->bars.ts);
}

static void fx_bad(fx *f, const char *text, const xt_csv_opts *o, const char *want) {
    fx_bad_as(f, "BTCUSDT", text, o, want);
}

// Runs a load with fd 2 redirected to a file; returns what was logged (caller frees).
static char *fx_load_logged(fx *f, const char *text, const char *symbol, const xt_csv_opts *o,
                            int *rc) {
    char lp[512];
    snprintf(lp, sizeof lp, "%s/stderr.txt", f->dir);
    int fd = open(lp, O_CREAT | O_TRUNC | O_WRONLY, 0644), saved = dup(2);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    close(fd);
    *rc = fx_load(f, "x.csv", text, symbol, o);
    dup2(saved, 2);
    close(saved);
    char *log = NULL;
    size_t n = 0;
    FILE *fp = fopen(lp, "rb");
    assert_non_null(fp);
    log = calloc(1, 65536);
    n = fread(log, 1, 65535, fp);
    log[n] = '\0';
    fclose(fp);
    return log;
}

static const char *HDR = "timestamp,open,high,low,close,volume\n";

// ---------------------------------------------------------------- good files

static void t_generic_iso(void **state) {
    fx *f = *state;
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    sb_rows(&b, T2024, 900, 4);
    assert_int_equal(fx_load(f, "a.csv", b.s, "BTCUSDT", NULL), 0);
    assert_int_equal(f->bars.n, 4);
    assert_int_equal(f->bars.ts[0], T2024);
    assert_int_equal(f->bars.ts[3], T2024 + 3 * 900);
    assert_true(fabs(f->bars.close[2] - 100.2) < 1e-12);
    assert_true(fabs(f->bars.open[0] - 99.95) < 1e-12);
    assert_true(fabs(f->bars.volume[3] - 13) < 1e-12);
    assert_int_equal(f->rep.format, XT_CSV_GENERIC);
    assert_int_equal(f->rep.tf_sec, 900);
    assert_int_equal(f->bars.tf_sec, 900);
    assert_int_equal(f->rep.has_header, 1);
    assert_int_equal(f->rep.rows_read, 4);
    assert_int_equal(f->rep.n_gaps, 0);
    assert_int_equal(f->bars.cal.cls, XT_ASSET_CRYPTO);
    assert_string_equal(f->bars.symbol, "BTCUSDT");
    free(b.s);
}

// Epoch seconds, epoch milliseconds and ISO forms (Z, +HH:MM, space, pandas) agree.
static void t_generic_epochs_and_offsets(void **state) {
    fx *f = *state;
    const char *files[] = {
        "time,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,3\n1704068100,1.5,2,1,1.2,4\n",
        "Date,Open,High,Low,Close,Volume\n1704067200000,1,2,0.5,1.5,3\n1704068100000,1.5,2,1,1.2,"
        "4\n",
        "datetime,open,high,low,close,volume\n2024-01-01T02:00:00+02:00,1,2,0.5,1.5,3\n"
        "2023-12-31T19:15:00-05:00,1.5,2,1,1.2,4\n",
        "timestamp,open,high,low,close,volume\n2024-01-01 00:00:00,1,2,0.5,1.5,3\n"
        "2024-01-01 00:15:00+00:00,1.5,2,1,1.2,4\n",
        "TIMESTAMP,OPEN,HIGH,LOW,CLOSE,VOLUME\n2024-01-01T00:00:00.000Z,1,2,0.5,1.5,3\n"
        "2024-01-01 00:15:00 UTC,1.5,2,1,1.2,4\n",
        // headerless generic
        "1704067200,1,2,0.5,1.5,3\n1704068100,1.5,2,1,1.2,4\n",
    };
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        int rc = fx_load(f, "e.csv", files[k], "ETHUSD", NULL);
        if (rc) fail_msg("file %zu: %s", k, f->err.msg);
        assert_int_equal(f->bars.n, 2);
        assert_int_equal(f->bars.ts[0], T2024);
        assert_int_equal(f->bars.ts[1], T2024 + 900);
        assert_true(f->bars.close[1] == 1.2 && f->bars.volume[0] == 3);
        assert_int_equal(f->rep.format, XT_CSV_GENERIC);
        assert_int_equal(f->rep.has_header, k < 5);
    }
}

// yfinance-style header with extra columns in another order; daily equity bars
// over a weekend infer a 1d timeframe and have no gap.
static void t_generic_header_variants(void **state) {
    fx *f = *state;
    const char *yf = "Date,Open,High,Low,Close,Adj Close,Volume\n"
                     "2024-01-04,470.1,472.5,468.0,469.0,467.9,1000\n"
                     "2024-01-05,469.5,471.0,466.2,467.9,466.8,1200\n"
                     "2024-01-08,468.0,474.8,467.5,474.6,473.5,900\n";
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    assert_int_equal(fx_load(f, "SPY.csv", yf, "SPY", &o), 0);
    assert_int_equal(f->bars.n, 3);
    assert_int_equal(f->rep.tf_sec, 86400);
    assert_true(f->bars.close[2] == 474.6); // Close, not Adj Close
    assert_true(f->bars.volume[1] == 1200);
    assert_int_equal(f->rep.n_holes, 0);
    // Quoted names, columns in another order, semicolons with decimal commas, no volume.
    const char *semi = "\"Close\";\"Open\";\"Time\";\"Low\";\"High\"\n"
                       "1,5;1,0;2024-01-01 00:00;0,5;2,0\n"
                       "1,2;1,5;2024-01-01 00:15;1,0;2,0\n";
    assert_int_equal(fx_load(f, "s.csv", semi, "BTCUSDT", NULL), 0);
    assert_int_equal(f->rep.delim, ';');
    assert_int_equal(f->rep.has_volume, 0);
    assert_true(f->bars.open[0] == 1.0 && f->bars.close[0] == 1.5 && f->bars.low[1] == 1.0);
    assert_true(f->bars.high[1] == 2.0 && f->bars.volume[1] == 0);
    assert_int_equal(f->bars.ts[1], T2024 + 900);
    // pandas to_csv of an unnamed DatetimeIndex: empty first header field.
    const char *pd = ",open,high,low,close,volume\n2024-01-01 00:00:00+00:00,1,2,0.5,1.5,3\n"
                     "2024-01-01 00:15:00+00:00,1.5,2,1,1.2,4\n";
    assert_int_equal(fx_load(f, "p.csv", pd, "BTCUSDT", NULL), 0);
    assert_int_equal(f->bars.ts[1], T2024 + 900);
    assert_true(f->bars.volume[1] == 4);
}

// UTF-8 BOM, CRLF line endings, blank lines and a trailing blank line.
static void t_generic_bom_crlf_blank(void **state) {
    fx *f = *state;
    const char *t = "\xEF\xBB\xBFtimestamp,open,high,low,close,volume\r\n"
                    "2024-01-01T00:00:00Z,1,2,0.5,1.5,3\r\n"
                    "\r\n"
                    "2024-01-01T00:15:00Z,1.5,2,1,1.2,4\r\n"
                    "2024-01-01T00:30:00Z,1.2,2,1,1.25,4.5\r\n"
                    "\r\n";
    assert_int_equal(fx_load(f, "c.csv", t, "BTCUSDT", NULL), 0);
    assert_int_equal(f->bars.n, 3);
    assert_true(f->bars.volume[2] == 4.5 && f->bars.close[2] == 1.25);
    assert_int_equal(f->rep.lines, 6);
    // A last line without newline but complete is fine.
    const char *nonl = "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n"
                       "2024-01-01T00:15:00Z,1.5,2,1,1.2,4";
    assert_int_equal(fx_load(f, "d.csv", nonl, "BTCUSDT", NULL), 0);
    assert_int_equal(f->bars.n, 2);
    assert_true(f->bars.volume[1] == 4);
}

// Binance dumps: no header (ms), with header, microseconds, and a 2024/2025
// concatenation mixing both units.
static void t_binance(void **state) {
    fx *f = *state;
    const char *noh = "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704068099999,"
                      "53957248.97,47134,682.57581,28957416.82,0\n"
                      "1704068100000,42475.23,42500.00,42400.10,42413.40,950.5,1704068999999,"
                      "40312345.1,38000,500.1,21234567.8,0\n";
    assert_int_equal(fx_load(f, "BTCUSDT-15m-2024-01.csv", noh, "BTCUSDT", NULL), 0);
    assert_int_equal(f->rep.format, XT_CSV_BINANCE);
    assert_int_equal(f->rep.has_header, 0);
    assert_int_equal(f->bars.n, 2);
    assert_int_equal(f->bars.ts[1], T2024 + 900);
    assert_true(f->bars.close[0] == 42475.23 && f->bars.volume[0] == 1271.68108);
    assert_true(f->bars.low[1] == 42400.10);

    sbuf b = {0};
    sb_add(&b,
           "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
           "taker_buy_quote_volume,ignore\n%s",
           noh);
    assert_int_equal(fx_load(f, "h.csv", b.s, "BTCUSDT", NULL), 0);
    assert_int_equal(f->rep.format, XT_CSV_BINANCE);
    assert_int_equal(f->rep.has_header, 1);
    assert_int_equal(f->bars.n, 2);
    assert_true(f->bars.high[0] == 42554.57);
    free(b.s);

    // 2024-12-31T23:45 in ms, then 2025-01-01T00:00 and 00:15 in µs.
    const char *mixed = "1735688700000,1,2,0.5,1.5,3,1735689599999,1,1,1,1,0\n"
                        "1735689600000000,1.5,2,1,1.2,4,1735690499999999,1,1,1,1,0\n"
                        "1735690500000000,1.2,2,1,1.3,4,1735691399999999,1,1,1,1,0\n";
    assert_int_equal(fx_load(f, "m.csv", mixed, "ETHUSDT", NULL), 0);
    assert_int_equal(f->bars.n, 3);
    assert_int_equal(f->bars.ts[0], 1735688700);
    assert_int_equal(f->bars.ts[2], 1735690500);
    assert_int_equal(f->rep.tf_sec, 900);
}

// MetaTrader 5 (tab, <DATE> <TIME>), MetaTrader 4 history (no header), Dukascopy.
static void t_forex(void **state) {
    fx *f = *state;
    const char *mt5 = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
                      "2024.01.02\t00:00:00\t1.10384\t1.10410\t1.10370\t1.10401\t312\t0\t5\n"
                      "2024.01.02\t00:15:00\t1.10401\t1.10422\t1.10395\t1.10415\t287\t0\t4\n";
    assert_int_equal(fx_load(f, "EURUSD_M15.csv", mt5, "EURUSD", NULL), 0);
    assert_int_equal(f->rep.format, XT_CSV_FOREX);
    assert_int_equal(f->rep.delim, '\t');
    assert_int_equal(f->bars.n, 2);
    assert_int_equal(f->bars.ts[0], T2024 + 86400);
    assert_true(f->bars.close[1] == 1.10415);
    assert_true(f->bars.volume[0] == 312); // tick volume, not the empty real volume
    assert_int_equal(f->bars.cal.cls, XT_ASSET_FOREX);

    const char *mt4 = "2024.01.02,00:15,1.1000,1.1010,1.0990,1.1005,123\n"
                      "2024.01.02,00:30,1.1005,1.1012,1.1001,1.1008,98\n";
    assert_int_equal(fx_load(f, "EURUSD15.csv", mt4, "EURUSD", NULL), 0);
    assert_int_equal(f->rep.format, XT_CSV_FOREX);
    assert_int_equal(f->rep.has_header, 0);
    assert_int_equal(f->bars.ts[0], T2024 + 86400 + 900);
    assert_true(f->bars.high[1] == 1.1012 && f->bars.volume[1] == 98);

    const char *duka = "Gmt time,Open,High,Low,Close,Volume\n"
                       "02.01.2024 00:15:00.000,1.10401,1.10422,1.10395,1.10415,1520.5\n"
                       "02.01.2024 00:30:00.000,1.10415,1.10430,1.10400,1.10420,1310.1\n";
    assert_int_equal(fx_load(f, "duka.csv", duka, "EURUSD", NULL), 0);
    assert_int_equal(f->rep.format, XT_CSV_FOREX);
    assert_int_equal(f->bars.ts[1], T2024 + 86400 + 1800);
    assert_true(f->bars.volume[0] == 1520.5);
    // Dukascopy "local time" with its GMT offset.
    const char *local = "Local time,Open,High,Low,Close,Volume\n"
                        "02.01.2024 01:15:00.000 GMT+0100,1.1,1.2,1.0,1.1,1\n"
                        "02.01.2024 01:30:00.000 GMT+0100,1.1,1.2,1.0,1.1,1\n";
    assert_int_equal(fx_load(f, "local.csv", local, "EURUSD", NULL), 0);
    assert_int_equal(f->bars.ts[0], T2024 + 86400 + 900);
}

// A forced format wins where the file allows it and is refused where it cannot apply.
static void t_forced_format(void **state) {
    fx *f = *state;
    xt_csv_opts o = {.format = XT_CSV_BINANCE};
    fx_bad(f, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n", &o,
           "x.csv:1: expected 12 columns for a Binance kline file, got 6");
    fx_bad(f, "2024.01.02,00:15,1.1000,1.1010,1.0990,1.1005,123\n", &o,
           "x.csv:1: not a Binance kline row: expected 12 numeric columns");
    // generic forced on a headerless Binance dump reads the first six columns
    o.format = XT_CSV_GENERIC;
    const char *noh = "1704067200000,1,2,0.5,1.5,3,1704068099999,1,1,1,1,0\n"
                      "1704068100000,1.5,2,1,1.2,4,1704068999999,1,1,1,1,0\n";
    assert_int_equal(fx_load(f, "g.csv", noh, "BTCUSDT", &o), 0);
    assert_int_equal(f->rep.format, XT_CSV_GENERIC);
    assert_int_equal(f->bars.ts[1], T2024 + 900);
    assert_true(f->bars.volume[1] == 4);
    o = (xt_csv_opts){.format = XT_CSV_FOREX, .tf_sec = 900};
    assert_int_equal(fx_load(f, "fx.csv", "2024.01.02,00:15,1.1,1.2,1.0,1.1,1\n", "EURUSD", &o), 0);
    assert_int_equal(f->rep.format, XT_CSV_FOREX);
    assert_int_equal(f->bars.n, 1);
    assert_int_equal(f->bars.tf_sec, 900);
}

static void t_names(void **state) {
    (void)state;
    xt_csv_format fm;
    xt_gap_policy gp;
    for (int k = XT_CSV_AUTO; k <= XT_CSV_FOREX; k++) {
        assert_int_equal(xt_csv_format_parse(xt_csv_format_name((xt_csv_format)k), &fm), 0);
        assert_int_equal(fm, k);
    }
    assert_string_equal(xt_csv_format_name(XT_CSV_BINANCE), "binance");
    assert_int_equal(xt_csv_format_parse("json", &fm), XT_EINVAL);
    assert_int_equal(xt_gap_policy_parse("reject", &gp), 0);
    assert_int_equal(gp, XT_GAP_REJECT);
    assert_string_equal(xt_gap_policy_name(XT_GAP_FILL), "fill");
    assert_int_equal(xt_gap_policy_parse("drop", &gp), XT_EINVAL);
}

// ---------------------------------------------------------------- bad files: one sentence each

static void t_bad_high(void **state) {
    fx_bad(*state,
           "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,100,101,99,100.5,1\n"
           "2024-01-01T00:15:00Z,100,99.5,99,100.2,1\n",
           NULL, "x.csv:3: high 99.5 is below max(open, close) = 100.2");
}

static void t_bad_low(void **state) {
    fx_bad(*state,
           "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,100,101,100.1,100.5,1\n",
           NULL, "x.csv:2: low 100.1 is above min(open, close) = 100");
}

static void t_bad_columns(void **state) {
    fx_bad(*state,
           "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n"
           "2024-01-01T00:15:00Z,1,2,0.5,1.5\n2024-01-01T00:30:00Z,1,2,0.5,1.5,3\n",
           NULL, "x.csv:3: expected 6 columns, got 5");
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3,9\n",
           NULL, "x.csv:2: expected 6 columns, got 7");
}

static void t_bad_number(void **state) {
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.2.3,3\n",
           NULL, "x.csv:2: close: cannot parse \"1.2.3\" as a number");
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,\n",
           NULL, "x.csv:2: volume: cannot parse \"\" as a number");
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,0x10,2,0.5,1.5,1\n",
           NULL, "x.csv:2: open: cannot parse \"0x10\" as a number");
}

static void t_bad_timestamp(void **state) {
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-13-01T00:00:00Z,1,2,0.5,1.5,3\n",
           NULL, "x.csv:2: timestamp: cannot parse \"2024-13-01T00:00:00Z\" as a time");
    fx_bad(*state,
           "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\n"
           "2024.01.02\t25:00\t1\t2\t0.5\t1.5\t3\n",
           NULL, "x.csv:2: date/time: cannot parse \"2024.01.02 25:00\" as a time");
}

static void t_bad_nonfinite(void **state) {
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,nan,3\n",
           NULL, "x.csv:2: close is not finite (nan)");
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,Inf,0.5,1,3\n",
           NULL, "x.csv:2: high is not finite (Inf)");
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,-infinity,1,3\n",
           NULL, "x.csv:2: low is not finite (-infinity)");
}

static void t_bad_volume(void **state) {
    fx_bad(*state, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,-5\n",
           NULL, "x.csv:2: volume -5 is negative");
}

static void t_bad_order(void **state) {
    fx_bad(*state,
           "timestamp,open,high,low,close,volume\n2024-01-01T00:30:00Z,1,2,0.5,1.5,3\n"
           "2024-01-01T00:15:00Z,1,2,0.5,1.5,3\n",
           NULL,
           "x.csv:3: timestamp 2024-01-01T00:15:00Z is not after the previous row "
           "(2024-01-01T00:30:00Z)");
    fx_bad(*state,
           "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n"
           "2024-01-01T00:15:00Z,1,2,0.5,1.5,3\n2024-01-01T00:15:00Z,1,2,0.5,1.5,3\n",
           NULL, "x.csv:4: duplicate timestamp 2024-01-01T00:15:00Z (same as line 3)");
}

static void t_bad_truncated(void **state) {
    fx_bad(*state,
           "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n"
           "2024-01-01T00:15:00Z,1,2",
           NULL,
           "x.csv:3: truncated last line: expected 6 columns, got 3 (the file ends without a "
           "newline)");
}

static void t_bad_empty(void **state) {
    fx *f = *state;
    fx_bad(f, "", NULL, "x.csv: empty file");
    fx_bad(f, "\xEF\xBB\xBF\n\n  \n", NULL, "x.csv: empty file");
    fx_bad(f, "timestamp,open,high,low,close,volume\n\n", NULL,
           "x.csv: no data rows after the header");
}

static void t_bad_not_csv(void **state) {
    fx *f = *state;
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    assert_true(fx_load_n(f, "x.csv", png, sizeof png - 1, "BTCUSDT", NULL) < 0);
    assert_contains(f->err.msg, "x.csv:1: not a CSV file: binary data (NUL byte at offset 8)");
    fx_bad(
        f, "# Price data\nSee the notes below.\n", NULL,
        "x.csv:1: not a CSV file: no comma, tab or semicolon on the first line (\"# Price data\")");
    fx_bad(f, "{\"open\": 1, \"close\": 2}\n", NULL,
           "x.csv:1: not a CSV file: expected a header such as "
           "timestamp,open,high,low,close,volume or a "
           "row starting with a time and four prices, got \"{\"open\": 1, \"close\": 2}\"");
    static const char u16[] = "\xFF\xFEt\0i\0m\0e\0\n\0";
    assert_true(fx_load_n(f, "x.csv", u16, sizeof u16 - 1, "BTCUSDT", NULL) < 0);
    assert_contains(f->err.msg, "x.csv:1: not a CSV file: UTF-16 text (save it as UTF-8)");
    fx_bad(f, "timestamp,open,high,low,volume\n2024-01-01T00:00:00Z,1,2,0.5,3\n", NULL,
           "x.csv:1: header has no close column");
    // One megabyte without a line break.
    size_t n = (1u << 20) + 10;
    char *big = malloc(n);
    memset(big, 'a', n);
    assert_true(fx_load_n(f, "x.csv", big, n, "BTCUSDT", NULL) < 0);
    assert_contains(f->err.msg,
                    "x.csv:1: not a CSV file: no line break in the first 1048576 bytes");
    free(big);
    // Missing file.
    assert_true(xt_csv_load(&f->bars, NULL, "/nonexistent/x.csv", "BTCUSDT", NULL, &f->err) < 0);
    assert_contains(f->err.msg, "/nonexistent/x.csv: cannot open: No such file or directory");
}

static void t_bad_timeframe(void **state) {
    fx *f = *state;
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    sb_rows(&b, T2024, 900, 6);
    xt_csv_opts o = {.tf_sec = 3600};
    fx_bad(f, b.s, &o, "x.csv: rows are most often 15m apart but the timeframe is set to 1h");
    fx_bad(f, "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n", NULL,
           "x.csv: cannot infer the timeframe from a single row; set it explicitly");
    free(b.s);
}

// ---------------------------------------------------------------- gaps

// BTC 15m with 01:00, 01:15 and 01:30 missing (the row after the gap is line 6).
static const char *GAPPY = "timestamp,open,high,low,close,volume\n"
                           "2024-01-01T00:00:00Z,10,11,9,10.5,1\n"
                           "2024-01-01T00:15:00Z,10.5,11,10,10.7,2\n"
                           "2024-01-01T00:30:00Z,10.7,11,10,10.6,3\n"
                           "2024-01-01T00:45:00Z,10.6,11,10,10.8,4\n"
                           "2024-01-01T01:45:00Z,10.9,11,10,10.9,5\n"
                           "2024-01-01T02:00:00Z,10.9,11,10,11.0,6\n";

static void t_gap_fill(void **state) {
    fx *f = *state;
    assert_int_equal(fx_load(f, "x.csv", GAPPY, "BTCUSDT", NULL), 0);
    xt_bars *b = &f->bars;
    assert_int_equal(b->n, 9);
    assert_int_equal(f->rep.rows_read, 6);
    assert_int_equal(f->rep.rows_filled, 3);
    assert_int_equal(f->rep.n_gaps, 1);
    assert_int_equal(f->rep.longest_gap_bars, 3);
    assert_int_equal(f->rep.longest_gap_start, T2024 + 3600);
    assert_int_equal(f->rep.n_holes, 1);
    assert_int_equal(f->rep.holes[0].line, 6);
    assert_int_equal(f->rep.holes[0].last_ts, T2024 + 5400);
    assert_int_equal(f->rep.holes[0].closure, 0);
    for (int64_t i = 0; i < b->n; i++) assert_int_equal(b->ts[i], T2024 + i * 900);
    // Filled bars: flat at the previous close (10.8), zero volume.
    for (int i = 4; i <= 6; i++) {
        assert_true(b->open[i] == 10.8 && b->high[i] == 10.8 && b->low[i] == 10.8 &&
                    b->close[i] == 10.8);
        assert_true(b->volume[i] == 0);
    }
    assert_true(b->close[7] == 10.9 && b->volume[7] == 5 && b->volume[3] == 4);
    xt_err e;
    assert_int_equal(xt_bars_validate(b, &e), 0);
}

static void t_gap_reject(void **state) {
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    fx_bad(*state, GAPPY, &o,
           "x.csv:6: gap of 3 bars (2024-01-01T01:00:00Z to 2024-01-01T01:30:00Z) while the market "
           "is open; "
           "set data.gap_policy: fill to forward-fill");
}

// EURUSD 1h: Friday 17:00-20:00, Sunday-evening bars, Monday: the weekend is no gap.
static void t_forex_weekend_not_gap(void **state) {
    fx *f = *state;
    const char *t = "timestamp,open,high,low,close,volume\n"
                    "2024-01-05T17:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-05T18:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-05T19:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-05T20:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-07T22:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-07T23:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-08T00:00:00Z,1.1,1.2,1.0,1.1,1\n"
                    "2024-01-08T01:00:00Z,1.1,1.2,1.0,1.1,1\n";
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    assert_int_equal(fx_load(f, "EURUSD.csv", t, "EURUSD", &o), 0);
    assert_int_equal(f->bars.n, 8);
    assert_int_equal(f->rep.tf_sec, 3600);
    assert_int_equal(f->rep.n_holes, 0);
    // Without Sunday evening it is still no gap.
    const char *t2 = "timestamp,open,high,low,close,volume\n"
                     "2024-01-05T19:00:00Z,1.1,1.2,1.0,1.1,1\n"
                     "2024-01-05T20:00:00Z,1.1,1.2,1.0,1.1,1\n"
                     "2024-01-08T00:00:00Z,1.1,1.2,1.0,1.1,1\n"
                     "2024-01-08T01:00:00Z,1.1,1.2,1.0,1.1,1\n";
    assert_int_equal(fx_load(f, "EURUSD.csv", t2, "EURUSD", &o), 0);
    assert_int_equal(f->rep.n_holes, 0);
}

// Around a forex weekend only the slots the calendar expects are filled:
// Friday 20:00 and Monday 00:00, never Friday 21:00-23:00 or the weekend.
static void t_forex_fill_only_expected(void **state) {
    fx *f = *state;
    const char *t = "timestamp,open,high,low,close,volume\n"
                    "2024-01-05T18:00:00Z,1.1,1.2,1.0,1.10,1\n"
                    "2024-01-05T19:00:00Z,1.1,1.2,1.0,1.15,1\n"
                    "2024-01-08T01:00:00Z,1.1,1.2,1.0,1.12,1\n"
                    "2024-01-08T02:00:00Z,1.1,1.2,1.0,1.13,1\n";
    assert_int_equal(fx_load(f, "x.csv", t, "EURUSD", NULL), 0);
    xt_bars *b = &f->bars;
    assert_int_equal(b->n, 6);
    assert_int_equal(f->rep.rows_filled, 2);
    int64_t fri = T2024 + 4 * 86400, mon = T2024 + 7 * 86400;
    int64_t want[6] = {fri + 18 * 3600, fri + 19 * 3600, fri + 20 * 3600, mon,
                       mon + 3600,      mon + 7200};
    for (int i = 0; i < 6; i++) assert_int_equal(b->ts[i], want[i]);
    assert_true(b->close[2] == 1.15 && b->close[3] == 1.15 && b->volume[3] == 0);
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    fx_bad_as(f, "EURUSD", t, &o,
              "x.csv:4: gap of 2 bars (2024-01-05T20:00:00Z to 2024-01-08T00:00:00Z) while the "
              "market is open");
}

// SPY 15m: Wednesday 3 July 2024, no Thursday (Independence Day), Friday, then
// Monday after a weekend. The holiday loads with a warning under either
// policy and is not filled; the overnight and weekend closures are not holes.
static void s_equity_session(sbuf *b, int64_t day) {
    sb_rows(b, day + 13 * 3600 + 1800, 900, 26); // 13:30 .. 19:45
}

static void t_equity_holiday_warns(void **state) {
    fx *f = *state;
    int64_t wed = xt_time_days_from_civil(2024, 7, 3) * 86400;
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    s_equity_session(&b, wed);
    s_equity_session(&b, wed + 2 * 86400);
    s_equity_session(&b, wed + 5 * 86400);
    for (int pol = 0; pol < 2; pol++) {
        xt_csv_opts o = {.gaps = (xt_gap_policy)pol};
        int rc;
        char *log = fx_load_logged(f, b.s, "SPY", &o, &rc);
        if (rc) fail_msg("%s", f->err.msg);
        assert_int_equal(f->bars.n, 78);
        assert_int_equal(f->rep.rows_filled, 0);
        assert_int_equal(f->rep.n_gaps, 0);
        assert_int_equal(f->rep.n_closures, 1);
        // Judged on the 14:30-19:00 core that is open in summer and winter time.
        assert_int_equal(f->rep.closure_bars, 18);
        assert_int_equal(f->rep.longest_closure_bars, 18);
        assert_int_equal(f->rep.longest_closure_start, wed + 86400 + 14 * 3600 + 1800);
        assert_int_equal(f->rep.n_holes, 1);
        assert_int_equal(f->rep.holes[0].closure, 1);
        assert_contains(log, "WARN");
        assert_contains(log, "x.csv:28: 18 expected bars missing (2024-07-04T14:30:00Z to "
                             "2024-07-04T18:45:00Z); loaded as a market closure, not filled");
        free(log);
    }
    // With closures disabled the holiday is an ordinary gap and reject refuses it.
    xt_csv_opts o = {.gaps = XT_GAP_REJECT, .closure_bars = -1};
    fx_bad_as(f, "SPY", b.s, &o,
              "x.csv:28: gap of 18 bars (2024-07-04T14:30:00Z to 2024-07-04T18:45:00Z)");
    free(b.s);
}

// A 3-day equity weekend (Friday -> Monday) in daily and 15m bars is no gap.
static void t_equity_weekend_ok(void **state) {
    fx *f = *state;
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    const char *daily =
        "date,open,high,low,close,volume\n2024-07-03,1,2,0.5,1.5,1\n2024-07-05,1,2,0.5,1.5,1\n"
        "2024-07-08,1,2,0.5,1.5,1\n2024-07-09,1,2,0.5,1.5,1\n2024-07-10,1,2,0.5,1.5,1\n";
    assert_int_equal(fx_load(f, "d.csv", daily, "SPY", &o), 0);
    assert_int_equal(f->rep.tf_sec, 86400);
    assert_int_equal(f->rep.n_gaps, 0);
    assert_int_equal(f->rep.n_closures, 1); // Thursday 4 July, a one-bar closure
    int64_t fri = xt_time_days_from_civil(2024, 7, 5) * 86400;
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    s_equity_session(&b, fri);
    s_equity_session(&b, fri + 3 * 86400);
    assert_int_equal(fx_load(f, "m.csv", b.s, "AAPL", &o), 0);
    assert_int_equal(f->bars.n, 52);
    assert_int_equal(f->rep.n_holes, 0);
    free(b.s);
}

// US equities in winter trade 14:30-21:00 UTC, an hour after the configured
// 13:30-20:00 session: not a gap. A hole inside the session still is.
static void t_equity_dst(void **state) {
    fx *f = *state;
    int64_t mon = xt_time_days_from_civil(2024, 1, 8) * 86400;
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    for (int d = 0; d < 5; d++) sb_rows(&b, mon + d * 86400 + 14 * 3600 + 1800, 900, 26);
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    assert_int_equal(fx_load(f, "x.csv", b.s, "SPY", &o), 0);
    assert_int_equal(f->bars.n, 130);
    assert_int_equal(f->rep.n_holes, 0);
    free(b.s);
    b = (sbuf){0};
    sb_add(&b, "%s", HDR);
    sb_rows(&b, mon + 13 * 3600 + 1800, 900, 10); // 13:30 .. 15:45
    sb_rows(&b, mon + 16 * 3600 + 2700, 900, 13); // 16:45 .. 19:45
    fx_bad_as(f, "SPY", b.s, &o,
              "x.csv:12: gap of 3 bars (2024-01-08T16:00:00Z to 2024-01-08T16:30:00Z) while the "
              "market is open");
    free(b.s);
}

// A crypto exchange outage of three days is a closure: warned, kept, not filled.
static void t_crypto_outage_closure(void **state) {
    fx *f = *state;
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    sb_rows(&b, T2024, 900, 10);
    sb_rows(&b, T2024 + 3 * 86400, 900, 10);
    int rc;
    char *log = fx_load_logged(f, b.s, "BTCUSDT", NULL, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(f->bars.n, 20);
    assert_int_equal(f->rep.n_closures, 1);
    assert_int_equal(f->rep.closure_bars, 96);
    assert_int_equal(f->rep.longest_closure_bars, 3 * 96 - 10);
    assert_contains(
        log, "x.csv:12: 278 expected bars missing (2024-01-01T02:30:00Z to 2024-01-03T23:45:00Z)");
    free(log);
    free(b.s);
}

// Daily crypto bars that a vendor shifts by an hour (DST) are not gaps.
static void t_dst_shift_not_gap(void **state) {
    fx *f = *state;
    const char *t = "timestamp,open,high,low,close,volume\n2024-03-09T00:00:00Z,1,2,0.5,1.5,1\n"
                    "2024-03-10T00:00:00Z,1,2,0.5,1.5,1\n2024-03-11T01:00:00Z,1,2,0.5,1.5,1\n"
                    "2024-03-12T01:00:00Z,1,2,0.5,1.5,1\n2024-03-13T00:00:00Z,1,2,0.5,1.5,1\n";
    xt_csv_opts o = {.gaps = XT_GAP_REJECT};
    assert_int_equal(fx_load(f, "x.csv", t, "BTCUSDT", &o), 0);
    assert_int_equal(f->rep.tf_sec, 86400);
    assert_int_equal(f->rep.n_holes, 0);
}

// 200k 1m rows with 300 one-to-five-bar holes: filled exactly, order kept.
static void t_large_fill(void **state) {
    fx *f = *state;
    xt_rng r;
    xt_rng_seed(&r, 7);
    sbuf b = {0};
    sb_add(&b, "%s", HDR);
    int64_t t = T2024, missing = 0, rows = 0;
    char ts[32];
    for (int i = 0; i < 200000; i++) {
        if (i % 661 == 660) {
            int64_t k = 1 + (int64_t)xt_rng_below(&r, 5);
            t += 60 * k, missing += k;
        }
        sb_add(&b, "%lld,%d.5,%d.9,%d.1,%d.5,%d\n", (long long)t, i, i, i, i, i % 100);
        (void)ts;
        t += 60, rows++;
    }
    assert_int_equal(fx_load(f, "big.csv", b.s, "BTCUSDT", NULL), 0);
    assert_int_equal(f->rep.rows_read, rows);
    assert_int_equal(f->rep.rows_filled, missing);
    assert_int_equal(f->bars.n, rows + missing);
    assert_int_equal(f->bars.ts[f->bars.n - 1], t - 60);
    for (int64_t i = 1; i < f->bars.n; i++) assert_int_equal(f->bars.ts[i] - f->bars.ts[i - 1], 60);
    xt_err e;
    assert_int_equal(xt_bars_validate(&f->bars, &e), 0);
    free(b.s);
}

// ---------------------------------------------------------------- fuzz

// 2000 random mutations (byte changes, deletions, truncations, line swaps) of
// valid files: each load either succeeds with bars that pass validation or
// fails with one sentence that starts with the path.
static void t_fuzz(void **state) {
    fx *f = *state;
    sbuf base[3] = {{0}, {0}, {0}};
    sb_add(&base[0], "%s", HDR);
    sb_rows(&base[0], T2024, 900, 20);
    sb_rows(&base[0], T2024 + 6 * 3600, 900, 20);
    for (int i = 0; i < 30; i++)
        sb_add(&base[1], "%lld,1.5,2,1,1.2,4,%lld,1,1,1,1,0\n", (long long)(T2024 + i * 900) * 1000,
               (long long)(T2024 + i * 900 + 899) * 1000 + 999);
    sb_add(&base[2],
           "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n");
    for (int i = 0; i < 30; i++)
        sb_add(&base[2], "2024.01.05\t%02d:%02d:00\t1.1\t1.2\t1.0\t1.15\t%d\t0\t3\r\n", 14 + i / 4,
               (i % 4) * 15, i);
    static const char alphabet[] = "\n\r,;\t\0 -.0159eE:TZ+\"nNaI";
    xt_log_init('C', XT_LOG_OFF, 0);
    xt_rng r;
    xt_rng_seed(&r, 2024);
    int ok = 0;
    char *buf = malloc(8192);
    for (int it = 0; it < 2000; it++) {
        int which = (int)xt_rng_below(&r, 3);
        size_t n = base[which].n;
        memcpy(buf, base[which].s, n);
        int muts = 1 + (int)xt_rng_below(&r, 3);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t at = (size_t)xt_rng_below(&r, n);
            switch (xt_rng_below(&r, 5)) {
            case 0: buf[at] = (char)xt_rng_below(&r, 256); break;
            case 1: buf[at] = alphabet[xt_rng_below(&r, sizeof alphabet - 1)]; break;
            case 2: { // delete a short run
                size_t k = 1 + (size_t)xt_rng_below(&r, 8);
                if (at + k > n) k = n - at;
                memmove(buf + at, buf + at + k, n - at - k);
                n -= k;
                break;
            }
            case 3: n = at; break; // truncate
            default: buf[at] ^= (char)(1 << xt_rng_below(&r, 8)); break;
            }
        }
        xt_csv_opts o = {.format = xt_rng_below(&r, 4) == 0 ? (xt_csv_format)xt_rng_below(&r, 4)
                                                            : XT_CSV_AUTO,
                         .gaps = (xt_gap_policy)xt_rng_below(&r, 2),
                         .tf_sec = xt_rng_below(&r, 4) == 0 ? 900 : 0};
        const char *sym = which == 2 ? "EURUSD" : "BTCUSDT";
        int rc = fx_load_n(f, "fz.csv", buf, n, sym, &o);
        if (rc == 0) {
            xt_err e;
            if (xt_bars_validate(&f->bars, &e)) fail_msg("iteration %d: %s", it, e.msg);
            assert_true(f->bars.n >= f->rep.rows_read);
            ok++;
        } else {
            assert_true(strncmp(f->err.msg, f->path, strlen(f->path)) == 0);
            assert_true(strlen(f->err.msg) > strlen(f->path) + 2);
            assert_int_equal(f->bars.n, 0);
        }
    }
    xt_log_init('C', XT_LOG_INFO, 0);
    print_message("fuzz: %d of 2000 mutated files loaded, the rest failed cleanly\n", ok);
    assert_true(ok > 50); // some mutations (e.g. a changed digit) still load
    free(buf);
    for (int k = 0; k < 3; k++) free(base[k].s);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(t_generic_iso, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_generic_epochs_and_offsets, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_generic_header_variants, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_generic_bom_crlf_blank, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_binance, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_forex, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_forced_format, fx_setup, fx_teardown),
        cmocka_unit_test(t_names),
        cmocka_unit_test_setup_teardown(t_bad_high, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_low, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_columns, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_number, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_timestamp, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_nonfinite, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_volume, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_truncated, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_empty, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_not_csv, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_bad_timeframe, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_gap_fill, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_gap_reject, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_forex_weekend_not_gap, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_forex_fill_only_expected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_equity_holiday_warns, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_equity_weekend_ok, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_equity_dst, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_crypto_outage_closure, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_dst_shift_not_gap, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_large_fill, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(t_fuzz, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
