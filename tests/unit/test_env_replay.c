// test_env_replay.c - action files for `xtrade env replay`: parsing (carry
// forward of targets, position and level columns, CR LF, blank lines, Unix
// seconds, portfolio columns in any order), the exact message of every
// malformed input, a walk priced to the cent, early termination, and replays
// that reproduce the baselines' metrics bit for bit.
#include "testutil.h"

#include "core/fileio.h"
#include "env/baseline.h"
#include "env/replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MON_2024_01_01 1704067200LL // Monday 00:00 UTC
#define H 3600

// ---- fixture: k crypto assets on an hourly timeline from Monday 2024-01-01

typedef struct {
    xt_env_market m;
    int64_t ts[64];
    double o[2][64], h[2][64], l[2][64], c[2][64], atr[2][64];
    float feat[64 * 2];
} fx;

// n bars; asset a's close at row r is px(a, r), its open the previous close.
static void fx_init(fx *f, int k, int64_t n, double (*px)(int a, int64_t r)) {
    memset(f, 0, sizeof *f);
    static const char *syms[2] = {"BTCUSD", "ETHUSD"};
    xt_env_market *m = &f->m;
    for (int64_t r = 0; r < n; r++) {
        f->ts[r] = MON_2024_01_01 + r * H;
        f->feat[2 * r] = (float)r, f->feat[2 * r + 1] = 0.5f;
    }
    for (int a = 0; a < k; a++) {
        for (int64_t r = 0; r < n; r++) {
            double c = px(a, r), o = r ? px(a, r - 1) : c;
            f->o[a][r] = o, f->c[a][r] = c, f->h[a][r] = fmax(o, c), f->l[a][r] = fmin(o, c);
            f->atr[a][r] = 1.0;
        }
        m->open[a] = f->o[a], m->high[a] = f->h[a], m->low[a] = f->l[a], m->close[a] = f->c[a];
        m->atr[a] = f->atr[a];
        xt_calendar_for_symbol(&m->cal[a], syms[a]);
        snprintf(m->symbol[a], sizeof m->symbol[a], "%s", syms[a]);
        m->vol_baseline[a] = 0.01;
    }
    m->k = k, m->n = n, m->tf_sec = H, m->ts = f->ts;
    m->feat = f->feat, m->n_feat = 2, m->first_row = 0;
}

static double px_flat(int a, int64_t r) {
    (void)r;
    return a ? 50.0 : 100.0;
}

// A deterministic wiggle with a trend, different per asset.
static double px_wave(int a, int64_t r) {
    return (a ? 50.0 : 100.0) * (1.0 + 0.03 * sin(0.7 * (double)r + a) + 0.002 * (double)r);
}

// Falls 40% at row 6.
static double px_crash(int a, int64_t r) {
    (void)a;
    return r < 6 ? 100.0 : 60.0;
}

// Plain costs: 0.1% fee, 20 bp fixed slippage, no ATR term.
static void params_plain(xt_env_params *p) {
    xt_env_params_default(p);
    p->slip_bps[XT_ASSET_CRYPTO] = 20.0;
    p->slip_atr_k = 0.0;
}

static xt_replay *replay_new(const fx *f, const xt_env_params *p, int portfolio) {
    xt_replay_setup s = {0, f->m.n, portfolio, 0, 0, 0, "BTCUSD-1h test window"};
    xt_replay *r = NULL;
    xt_err err = {0};
    if (xt_replay_new(&r, &f->m, p, &s, &err)) fail_msg("xt_replay_new: %s", err.msg);
    return r;
}

static void parse_ok(xt_replay *r, const char *text) {
    xt_err err = {0};
    if (xt_replay_parse(r, "a.csv", text, strlen(text), &err)) fail_msg("parse: %s", err.msg);
}

// The parse error of text (length given: may hold a NUL).
static const char *parse_err(xt_replay *r, const char *text, size_t len, xt_err *err) {
    memset(err, 0, sizeof *err);
    assert_int_not_equal(xt_replay_parse(r, "a.csv", text, len, err), 0);
    return err->msg;
}

// ---- parsing

static void t_asset_carry_forward(void **state) {
    (void)state;
    fx f;
    fx_init(&f, 1, 12, px_flat);
    xt_env_params p;
    params_plain(&p);
    xt_replay *r = replay_new(&f, &p, 0);
    // 11 steps: step j fills on row j + 1 (01:00 .. 11:00).
    assert_int_equal(xt_replay_steps(r), 11);
    assert_int_equal(xt_replay_step_ts(r, 0), MON_2024_01_01 + H);
    // CR LF, a blank line, padded cells, Unix seconds (04:00).
    parse_ok(r, "timestamp,position\r\n\r\n 2024-01-01T03:00:00Z , 1 \r\n1704081600,-0.5\r\n");
    assert_int_equal(xt_replay_lines(r), 2);
    int want_level[11] = {2, 2, 4, 1, 1, 1, 1, 1, 1, 1, 1}, want_line[11] = {0, 0, 3, 4, 4, 4, 4, 4, 4, 4, 4};
    for (int j = 0; j < 11; j++) {
        assert_int_equal(xt_replay_level(r, j), want_level[j]);
        assert_int_equal(xt_replay_line(r, j), want_line[j]);
    }
    assert_null(xt_replay_weights(r, 0));
    // The level column takes indices; a second parse replaces the first.
    parse_ok(r, "Timestamp,Level\n2024-01-01T01:00:00Z,3\n2024-01-01T09:00:00Z,0.0\n");
    for (int j = 0; j < 11; j++) assert_int_equal(xt_replay_level(r, j), j < 8 ? 3 : 0);
    // Header only: flat everywhere.
    parse_ok(r, "timestamp,position\n");
    assert_int_equal(xt_replay_lines(r), 0);
    for (int j = 0; j < 11; j++) assert_int_equal(xt_replay_level(r, j), 2);
    // Long-only drops the negatives: position 1 is index 2 of {0, 0.5, 1}.
    xt_replay_destroy(&r);
    p.long_only = 1;
    r = replay_new(&f, &p, 0);
    parse_ok(r, "timestamp,position\n2024-01-01T01:00:00Z,1\n");
    assert_int_equal(xt_replay_level(r, 0), 2);
    xt_err err;
    assert_string_equal(parse_err(r, "timestamp,position\n2024-01-01T01:00:00Z,-0.5\n", 45, &err),
                        "a.csv:2: column 2 (position): -0.5 is not one of the configured levels (0, 0.5, 1)");
    xt_replay_destroy(&r);
    xt_replay_destroy(&r); // NULL-safe
}

static void t_portfolio_columns(void **state) {
    (void)state;
    fx f;
    fx_init(&f, 2, 12, px_flat);
    xt_env_params p;
    params_plain(&p);
    xt_replay *r = replay_new(&f, &p, 1);
    // Any column order; weights land in market order (BTCUSD, ETHUSD, cash).
    parse_ok(r, "timestamp,cash,ETHUSD,BTCUSD\n2024-01-01T03:00:00Z,0.5,0.2,0.3\n"
                "2024-01-01T06:00:00Z,0.33333,0.33333,0.33334\n");
    const double *w = xt_replay_weights(r, 0); // before the first line: all cash
    assert_true(w[0] == 0.0 && w[1] == 0.0 && w[2] == 1.0);
    for (int j = 2; j < 5; j++) {
        w = xt_replay_weights(r, j);
        assert_true(w[0] == 0.3 && w[1] == 0.2 && w[2] == 0.5);
        assert_int_equal(xt_replay_line(r, j), 2);
    }
    w = xt_replay_weights(r, 10);
    assert_true(w[0] == 0.33334 && w[1] == 0.33333 && w[2] == 0.33333);
    assert_int_equal(xt_replay_level(r, 0), -1);
    xt_replay_destroy(&r);
}

// ---- every malformed input, word for word

typedef struct {
    const char *text, *msg;
} s_case;

static void check_cases(xt_replay *r, const s_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        xt_err err;
        const char *msg = parse_err(r, cases[i].text, strlen(cases[i].text), &err);
        if (strcmp(msg, cases[i].msg) != 0) fail_msg("case %zu:\n  got  %s\n  want %s", i, msg, cases[i].msg);
    }
}

static void t_asset_errors(void **state) {
    (void)state;
    fx f;
    fx_init(&f, 1, 12, px_flat);
    xt_env_params p;
    params_plain(&p);
    xt_replay *r = replay_new(&f, &p, 0);
    static const s_case cases[] = {
        {"", "a.csv: empty file (expected the header line \"timestamp,position\" or \"timestamp,level\")"},
        {" \n\r\n", "a.csv: empty file (expected the header line \"timestamp,position\" or \"timestamp,level\")"},
        {"ts,position\n", "a.csv:1: column 1: header must start with \"timestamp\" (expected \"timestamp,position\" or "
                          "\"timestamp,level\")"},
        {"timestamp\n", "a.csv:1: header: expected \"timestamp,position\" or \"timestamp,level\" (got 1 column)"},
        {"timestamp,position,x\n",
         "a.csv:1: header: expected \"timestamp,position\" or \"timestamp,level\" (got 3 columns)"},
        {"timestamp,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s\n",
         "a.csv:1: header: 20 columns (expected \"timestamp,position\" or \"timestamp,level\")"},
        {"timestamp,position\n2024-01-01T01:00:00Z\n", "a.csv:2: 1 column, the header has 2"},
        {"timestamp,position\n2024-01-01T01:00:00Z,1,\n", "a.csv:2: 3 columns, the header has 2"},
        {"timestamp,position\n\n\n2024-01-01 01:00,0\n2024-13-01T01:00:00Z,0\n",
         "a.csv:5: column 1 (timestamp): cannot parse \"2024-13-01T01:00:00Z\" (expected ISO 8601 UTC or Unix "
         "seconds)"},
        {"timestamp,position\n,1\n",
         "a.csv:2: column 1 (timestamp): cannot parse \"\" (expected ISO 8601 UTC or Unix seconds)"},
        {"timestamp,position\n2024-01-01T05:00:00Z,1\n2024-01-01T04:00:00Z,1\n",
         "a.csv:3: column 1 (timestamp): 2024-01-01T04:00:00Z is not after line 2's 2024-01-01T05:00:00Z (timestamps "
         "must increase)"},
        {"timestamp,position\n2024-01-01T05:00:00Z,1\n2024-01-01T05:00:00+00:00,0\n",
         "a.csv:3: column 1 (timestamp): 2024-01-01T05:00:00Z is not after line 2's 2024-01-01T05:00:00Z (timestamps "
         "must increase)"},
        {"timestamp,position\n2024-01-01T00:00:00Z,1\n",
         "a.csv:2: column 1 (timestamp): 2024-01-01T00:00:00Z is the BTCUSD-1h test window's first usable bar, which "
         "only opens the episode; its first step fills at 2024-01-01T01:00:00Z"},
        {"timestamp,position\n2024-01-01T12:00:00Z,1\n",
         "a.csv:2: column 1 (timestamp): 2024-01-01T12:00:00Z is outside the BTCUSD-1h test window, whose steps fill "
         "at 2024-01-01T01:00:00Z .. 2024-01-01T11:00:00Z"},
        {"timestamp,position\n2023-12-31T23:00:00Z,1\n",
         "a.csv:2: column 1 (timestamp): 2023-12-31T23:00:00Z is outside the BTCUSD-1h test window, whose steps fill "
         "at 2024-01-01T01:00:00Z .. 2024-01-01T11:00:00Z"},
        {"timestamp,position\n2024-01-01T02:15:00Z,1\n",
         "a.csv:2: column 1 (timestamp): no bar of the BTCUSD-1h test window opens at 2024-01-01T02:15:00Z (not on "
         "the bar grid, or the market has no bar then)"},
        {"timestamp,position\n2024-01-01T02:00:00Z,0.25\n",
         "a.csv:2: column 2 (position): 0.25 is not one of the configured levels (-1, -0.5, 0, 0.5, 1)"},
        {"timestamp,position\n2024-01-01T02:00:00Z,long\n",
         "a.csv:2: column 2 (position): cannot parse \"long\" as a number"},
        {"timestamp,position\n2024-01-01T02:00:00Z,inf\n",
         "a.csv:2: column 2 (position): cannot parse \"inf\" as a number"},
        {"timestamp,position\n2024-01-01T02:00:00Z,\n", "a.csv:2: column 2 (position): cannot parse \"\" as a number"},
        {"timestamp,level\n2024-01-01T02:00:00Z,5\n", "a.csv:2: column 2 (level): 5 is not a level index (0..4)"},
        {"timestamp,level\n2024-01-01T02:00:00Z,-1\n", "a.csv:2: column 2 (level): -1 is not a level index (0..4)"},
        {"timestamp,level\n2024-01-01T02:00:00Z,1.5\n", "a.csv:2: column 2 (level): 1.5 is not a level index (0..4)"},
    };
    check_cases(r, cases, sizeof cases / sizeof *cases);
    // A NUL inside a cell is not the end of the number.
    static const char nul[] = "timestamp,position\n2024-01-01T02:00:00Z,1\0x\n";
    xt_err err;
    assert_string_equal(parse_err(r, nul, sizeof nul - 1, &err),
                        "a.csv:2: column 2 (position): cannot parse \"1\" as a number");
    // A cell longer than any number.
    char longcell[200];
    snprintf(longcell, sizeof longcell, "timestamp,position\n2024-01-01T02:00:00Z,1.%0100d\n", 0);
    assert_contains(parse_err(r, longcell, strlen(longcell), &err),
                    "a.csv:2: column 2 (position): cannot parse \"1.000");
    xt_replay_destroy(&r);
}

static void t_portfolio_errors(void **state) {
    (void)state;
    fx f;
    fx_init(&f, 2, 12, px_flat);
    xt_env_params p;
    params_plain(&p);
    xt_replay *r = replay_new(&f, &p, 1);
    static const s_case cases[] = {
        {"", "a.csv: empty file (expected the header line \"timestamp,BTCUSD,ETHUSD,cash\")"},
        {"timestamp,BTCUSD,SOLUSD,cash\n",
         "a.csv:1: column 3: \"SOLUSD\" is not an asset of the portfolio (expected \"timestamp,BTCUSD,ETHUSD,cash\")"},
        {"timestamp,BTCUSD,ETHUSD\n",
         "a.csv:1: header: no column for cash (expected \"timestamp,BTCUSD,ETHUSD,cash\")"},
        {"timestamp,cash,BTCUSD\n",
         "a.csv:1: header: no column for ETHUSD (expected \"timestamp,BTCUSD,ETHUSD,cash\")"},
        {"timestamp,BTCUSD,ETHUSD,cash,cash\n", "a.csv:1: column 5: \"cash\" appears twice"},
        {"BTCUSD,ETHUSD,cash\n",
         "a.csv:1: column 1: header must start with \"timestamp\" (expected \"timestamp,BTCUSD,ETHUSD,cash\")"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.5,0.5\n", "a.csv:2: 3 columns, the header has 4"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.5,0.5,0,0\n", "a.csv:2: 5 columns, the header has 4"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.5,half,0\n",
         "a.csv:2: column 3 (ETHUSD): cannot parse \"half\" as a weight"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.5,0.5,\n",
         "a.csv:2: column 4 (cash): cannot parse \"\" as a weight"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.5,0.5,NaN\n",
         "a.csv:2: column 4 (cash): cannot parse \"NaN\" as a weight"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,1.2,-0.2,0\n",
         "a.csv:2: column 3 (ETHUSD): negative weight -0.2 (weights are fractions of equity, >= 0)"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.4,0.4,0.1\n",
         "a.csv:2: weights sum to 0.9, not 1 (tolerance 0.0001)"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.4,0.4,0.2002\n",
         "a.csv:2: weights sum to 1.0002, not 1 (tolerance 0.0001)"},
        {"timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.4,0.4,0.2\n2024-01-01T02:00:00Z,0.4,0.4,0.2\n",
         "a.csv:3: column 1 (timestamp): 2024-01-01T02:00:00Z is not after line 2's 2024-01-01T02:00:00Z (timestamps "
         "must increase)"},
    };
    check_cases(r, cases, sizeof cases / sizeof *cases);
    // Within the tolerance is fine.
    parse_ok(r, "timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T02:00:00Z,0.33333,0.33333,0.33333\n");
    xt_replay_destroy(&r);
}

static void t_load_missing_file(void **state) {
    (void)state;
    fx f;
    fx_init(&f, 1, 12, px_flat);
    xt_env_params p;
    params_plain(&p);
    xt_replay *r = replay_new(&f, &p, 0);
    xt_err err = {0};
    assert_int_equal(xt_replay_load(r, "/nonexistent/acts.csv", &err), XT_EIO);
    assert_contains(err.msg, "/nonexistent/acts.csv: cannot open");
    xt_replay_destroy(&r);
}

// ---- runs

static char *run_file(xt_replay *r, const char *dir, xt_replay_result *res) {
    char path[512], *text = NULL;
    size_t len;
    xt_err err = {0};
    snprintf(path, sizeof path, "%s/out.csv", dir);
    if (xt_replay_run(r, path, res, &err)) fail_msg("run: %s", err.msg);
    if (xt_file_read_all(path, 1 << 20, &text, &len, &err)) fail_msg("read: %s", err.msg);
    return text;
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static const char *line_at(const char *text, const char *ts) {
    const char *s = strstr(text, ts);
    if (!s) fail_msg("no row %s", ts);
    return s;
}

// Long 100% at 02:00, flat at 05:00, flat prices of 100: every cost by hand.
static void t_run_to_the_cent(void **state) {
    (void)state;
    char dir[256];
    xt_test_tmpdir(dir, "replay");
    fx f;
    fx_init(&f, 1, 12, px_flat);
    xt_env_params p;
    params_plain(&p);
    xt_replay *r = replay_new(&f, &p, 0);
    parse_ok(r, "timestamp,position\n2024-01-01T02:00:00Z,1\n2024-01-01T05:00:00Z,0\n");
    xt_replay_result res;
    char *out = run_file(r, dir, &res);
    assert_true(starts(out, "timestamp,action,position,units,fill_price,stop_price,liq_price,fee,slippage,equity,"
                            "reward,terminated,truncated,reason,masked,skipped,line\n"
                            "2024-01-01T01:00:00Z,0,0,0,,,,0,0,10000,0,0,0,none,0,0,0\n"));
    // 100 units at 100 * 1.002; fee 0.1% of 10020; slippage 100 * 100 * 0.002; equity 10000 - 30.02.
    assert_true(starts(line_at(out, "2024-01-01T02:00:00Z"), "2024-01-01T02:00:00Z,1,1,100,100.2,,,10.02,20,9969.98,"));
    assert_true(starts(line_at(out, "2024-01-01T04:00:00Z"), "2024-01-01T04:00:00Z,1,1,100,,,,0,0,9969.98,"));
    // Sell 100 at 99.8: fee 9.98, slippage 20, equity 9969.98 - 29.98.
    assert_true(starts(line_at(out, "2024-01-01T05:00:00Z"), "2024-01-01T05:00:00Z,0,0,0,99.8,,,9.98,20,9940,"));
    assert_non_null(strstr(line_at(out, "2024-01-01T05:00:00Z"), ",0,0,none,0,0,3\n"));
    assert_non_null(strstr(line_at(out, "2024-01-01T11:00:00Z"), ",0,1,end,0,0,3\n"));
    assert_int_equal(res.steps, 11);
    assert_int_equal(res.reason, XT_ENV_REASON_END);
    assert_int_equal(res.last_ts, MON_2024_01_01 + 11 * H);
    assert_true(fabs(res.metrics.total_return - (9940.0 / 10000.0 - 1.0)) < 1e-12);
    assert_int_equal(res.metrics.trades, 1);
    assert_int_equal(res.metrics.fills, 2);
    assert_int_equal(res.metrics.steps, 11);
    // A second run is a fresh episode with the same bytes.
    xt_replay_result res2;
    char *again = run_file(r, dir, &res2);
    assert_string_equal(out, again);
    assert_memory_equal(&res.metrics, &res2.metrics, sizeof res.metrics);
    free(out), free(again);
    xt_replay_destroy(&r);
}

// A 40% gap with the stops off: bankrupt at the close, liquidated, the walk ends early.
static void t_run_terminates(void **state) {
    (void)state;
    char dir[256];
    xt_test_tmpdir(dir, "replay");
    fx f;
    fx_init(&f, 1, 12, px_crash);
    xt_env_params p;
    params_plain(&p);
    p.stop_loss_atr = 0.0, p.take_profit_atr = 0.0;
    xt_replay *r = replay_new(&f, &p, 0);
    parse_ok(r, "timestamp,position\n2024-01-01T01:00:00Z,1\n");
    xt_replay_result res;
    char *out = run_file(r, dir, &res);
    assert_int_equal(res.steps, 6);
    assert_int_equal(res.reason, XT_ENV_REASON_BANKRUPT);
    assert_int_equal(res.last_ts, MON_2024_01_01 + 6 * H);
    // 6 rows after the header; the last one liquidated (position 0, a liquidation price) and terminated.
    int rows = 0;
    for (const char *s = out; *s; s++) rows += *s == '\n';
    assert_int_equal(rows, 7);
    const char *last = line_at(out, "2024-01-01T06:00:00Z");
    assert_true(starts(last, "2024-01-01T06:00:00Z,1,0,0,,,"));
    assert_non_null(strstr(last, ",-50,1,0,bankrupt,0,0,2\n"));
    free(out);
    xt_replay_destroy(&r);
}

// Fixed-target files give the baselines' metrics bit for bit (same env code, with and without risk rules).
static void t_matches_baselines(void **state) {
    (void)state;
    char dir[256];
    xt_test_tmpdir(dir, "replay");
    fx f;
    fx_init(&f, 1, 60, px_wave);
    xt_env_params p;
    params_plain(&p);
    p.stop_loss_atr = 1.0; // the wave trips stops: re-entries must match too
    xt_metrics want;
    xt_err err = {0};
    xt_replay_result res;
    xt_replay *r = replay_new(&f, &p, 0);
    assert_int_equal(xt_baseline_asset(&f.m, &p, 0, f.m.n, 0, XT_BASELINE_BUY_HOLD, 1, &want, &err), 0);
    parse_ok(r, "timestamp,position\n2024-01-01T01:00:00Z,1\n");
    free(run_file(r, dir, &res));
    assert_true(res.metrics.trades > 1); // stopped out and re-entered
    assert_memory_equal(&res.metrics, &want, sizeof want);
    // The textbook baseline (risk_rules 0) is the same file with stops and terminal rules off.
    xt_replay_destroy(&r);
    xt_env_params q = p;
    q.stop_loss_atr = 0.0, q.take_profit_atr = 0.0, q.max_drawdown = 1.0, q.bankrupt_frac = 0.0;
    r = replay_new(&f, &q, 0);
    assert_int_equal(xt_baseline_asset(&f.m, &p, 0, f.m.n, 0, XT_BASELINE_BUY_HOLD, 0, &want, &err), 0);
    parse_ok(r, "timestamp,position\n2024-01-01T01:00:00Z,1\n");
    free(run_file(r, dir, &res));
    assert_int_equal(res.metrics.fills, 1);
    assert_memory_equal(&res.metrics, &want, sizeof want);
    assert_int_equal(xt_baseline_asset(&f.m, &p, 0, f.m.n, 0, XT_BASELINE_CASH, 1, &want, &err), 0);
    parse_ok(r, "timestamp,position\n");
    free(run_file(r, dir, &res));
    assert_memory_equal(&res.metrics, &want, sizeof want);
    assert_true(res.metrics.total_return == 0.0 && res.metrics.sharpe == 0.0 && res.metrics.max_drawdown == 0.0);
    xt_replay_destroy(&r);

    // Portfolio: equal weight rebalanced every step = the same target on every line (or carried).
    fx g;
    fx_init(&g, 2, 60, px_wave);
    p.min_cash = 0.0, p.max_weight = 0.5;
    r = replay_new(&g, &p, 1);
    assert_int_equal(xt_baseline_portfolio(&g.m, &p, 0, g.m.n, XT_BASELINE_EQUAL_WEIGHT, 1, 1, &want, &err), 0);
    parse_ok(r, "timestamp,BTCUSD,ETHUSD,cash\n2024-01-01T01:00:00Z,0.5,0.5,0\n");
    char *out = run_file(r, dir, &res);
    assert_true(res.metrics.fills > 2);
    assert_memory_equal(&res.metrics, &want, sizeof want);
    assert_true(starts(out, "timestamp,req_BTCUSD,req_ETHUSD,req_cash,w_BTCUSD,w_ETHUSD,w_cash,fill_BTCUSD,"
                            "fill_ETHUSD,stop_BTCUSD,stop_ETHUSD,fee,slippage,equity,reward,terminated,truncated,"
                            "reason,line\n2024-01-01T01:00:00Z,0.5,0.5,0,0.5,0.5,0,"));
    free(out);
    assert_int_equal(xt_baseline_portfolio(&g.m, &p, 0, g.m.n, XT_BASELINE_CASH, 1, 1, &want, &err), 0);
    parse_ok(r, "timestamp,BTCUSD,ETHUSD,cash\n");
    free(run_file(r, dir, &res));
    assert_memory_equal(&res.metrics, &want, sizeof want);
    xt_replay_destroy(&r);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_asset_carry_forward), cmocka_unit_test(t_portfolio_columns),
        cmocka_unit_test(t_asset_errors),        cmocka_unit_test(t_portfolio_errors),
        cmocka_unit_test(t_load_missing_file),   cmocka_unit_test(t_run_to_the_cent),
        cmocka_unit_test(t_run_terminates),      cmocka_unit_test(t_matches_baselines),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
