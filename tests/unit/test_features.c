// test_features.c - the seed 003 feature set: no look-ahead for any cut
// point and timeframe, hand-checked values, stale rows, names and layout.
#include "testutil.h"

#include "core/rng.h"
#include "core/xtime.h"
#include "market/features.h"
#include "market/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define K 6
static xt_bars s_full[K];
static const xt_features_opts s_opts = {20, 20};

static int s_setup(void **st) {
    xt_synth_opts o;
    xt_synth_opts_default(&o);
    o.seed = 11;
    o.start_ts = 1672531200;           // 2023-01-01
    o.end_ts = 1672531200 + 300 * 86400; // forex needs ~280 days for 200 daily bars
    o.tf_sec = 900;
    o.n_assets = K;
    xt_err e;
    int nl;
    if (xt_synth_generate(s_full, NULL, 0, &nl, &o, &e)) fail_msg("%s", e.msg);
    return 0;
}

static int s_teardown(void **st) {
    for (int a = 0; a < K; a++) xt_bars_free(&s_full[a]);
    return 0;
}

// Copy of bars with ts < cut.
static void s_truncate(xt_bars *out, const xt_bars *in, int64_t cut) {
    xt_err e;
    xt_bars_init(out, in->symbol, in->tf_sec, in->n, &e);
    out->cal = in->cal;
    for (int64_t i = 0; i < in->n && in->ts[i] < cut; i++)
        xt_bars_push(out, in->ts[i], in->open[i], in->high[i], in->low[i], in->close[i], in->volume[i], &e);
}

static int s_same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

// Every row whose bar has closed by `cut` must be bit-identical in the full
// build and in a build that never saw the bars after `cut`.
static void s_check_cut(const xt_features *full, int tf, int64_t cut) {
    xt_bars tr[K];
    xt_features part;
    xt_err e;
    for (int a = 0; a < K; a++) s_truncate(&tr[a], &s_full[a], cut);
    if (xt_features_build(&part, tr, K, tf, &s_opts, &e)) fail_msg("%s", e.msg);
    int cols = xt_features_portfolio_cols(K);
    float *x = malloc(sizeof(float) * (size_t)cols), *y = malloc(sizeof(float) * (size_t)cols);
    int64_t checked = 0;
    for (int64_t r = 0; r < part.n && part.ts[r] + tf <= cut; r++, checked++) {
        assert_true(part.ts[r] == full->ts[r]);
        xt_features_portfolio_row(x, full, r);
        xt_features_portfolio_row(y, &part, r);
        for (int c = 0; c < cols; c++)
            if (!s_same_float(x[c], y[c]))
                fail_msg("tf %d cut %lld: row %lld col %d differs: %.9g (all bars) vs %.9g (bars before cut)", tf,
                         (long long)cut, (long long)r, c, x[c], y[c]);
        for (int a = 0; a < K; a++) {
            float ax[XT_FEAT_ASSET_COLS], ay[XT_FEAT_ASSET_COLS];
            xt_features_asset_row(ax, full, a, r);
            xt_features_asset_row(ay, &part, a, r);
            assert_memory_equal(ax, ay, sizeof ax);
            assert_true(memcmp(&full->atr[a][r], &part.atr[a][r], sizeof(double)) == 0);
            assert_true(full->stale[a][r] == part.stale[a][r]);
        }
    }
    assert_true(checked > 100);
    free(x), free(y);
    xt_features_free(&part);
    for (int a = 0; a < K; a++) xt_bars_free(&tr[a]);
}

static void t_no_lookahead(void **st) {
    const int tfs[3] = {900, 3600, 4 * 3600};
    xt_rng rng;
    xt_rng_seed(&rng, 99);
    for (int t = 0; t < 3; t++) {
        xt_features full;
        xt_err e;
        if (xt_features_build(&full, s_full, K, tfs[t], &s_opts, &e)) fail_msg("%s", e.msg);
        // Random cut points anywhere (not aligned to any bar), late enough that
        // the daily EMA(200) is defined for part of the data.
        for (int i = 0; i < 4; i++) {
            int64_t lo = s_full[0].ts[0] + 285 * 86400, hi = s_full[0].ts[s_full[0].n - 1];
            int64_t cut = lo + (int64_t)xt_rng_below(&rng, (uint64_t)(hi - lo));
            s_check_cut(&full, tfs[t], cut);
        }
        xt_features_free(&full);
    }
}

static void t_values(void **st) {
    xt_features f;
    xt_err e;
    if (xt_features_build(&f, s_full, K, 900, &s_opts, &e)) fail_msg("%s", e.msg);
    assert_int_equal(xt_features_portfolio_cols(K), 89); // + 8 portfolio-state columns = seed 003's 97
    // BTC has a bar at every 15m slot; the shared timeline is BTC's.
    assert_int_equal(f.n, s_full[0].n);
    int64_t r = f.n - 10;
    const float *m = f.market[0] + r * XT_FEAT_MARKET;
    double lr = log(s_full[0].close[r] / s_full[0].close[r - 1]);
    assert_true(fabs(m[0] - lr) < 1e-6);
    // Volume ratio = volume / SMA20(volume).
    double sma = 0;
    for (int i = 0; i < 20; i++) sma += s_full[0].volume[r - i];
    assert_true(fabs(m[6] - s_full[0].volume[r] / (sma / 20)) < 1e-4 * fabs(m[6]) + 1e-6);
    // RSI/100 in [0, 1], ADX/100 in [0, 1].
    assert_true(m[4] >= 0 && m[4] <= 1 && m[7] >= 0 && m[7] <= 1);
    // Forex at a weekend: stale rows carry the last close and zero return.
    int eur = 3;
    int64_t stale_rows = 0;
    for (int64_t i = 1; i < f.n; i++)
        if (f.stale[eur][i] && isfinite(f.close[eur][i - 1])) {
            stale_rows++;
            assert_true(f.close[eur][i] == f.close[eur][i - 1]);
            assert_true(f.market[eur][i * XT_FEAT_MARKET] == 0.0f);
            assert_true(xt_time_weekday(f.ts[i]) >= 4); // Friday evening .. Sunday
        }
    assert_true(stale_rows > 0);
    // Time features.
    float row[89];
    xt_features_portfolio_row(row, &f, r);
    double h = xt_time_minute_of_day(f.ts[r]) / 60.0;
    assert_true(fabs(row[78] - sin(h * 2 * M_PI / 24)) < 1e-6);
    assert_true(fabs(row[80] - xt_time_weekday(f.ts[r]) / 6.0) < 1e-6);
    // Session flags are the calendar at the next bar's open.
    for (int a = 0; a < K; a++) assert_true(row[81 + a] == (float)xt_calendar_tradable(&f.cal[a], f.ts[r] + 900));
    assert_true(row[87] >= -1 && row[87] <= 1); // BTC/ETH correlation
    assert_true(f.first_row_all > 270 * 96 && f.first_row_all < f.n);
    char names[89][XT_FEAT_NAME_MAX];
    xt_features_portfolio_names(&f, names);
    assert_string_equal(names[0], "btcusd_logret");
    assert_string_equal(names[12], "btcusd_1d_rsi");
    assert_string_equal(names[81], "is_btcusd_tradable");
    assert_string_equal(names[88], "crypto_forex_divergence");
    xt_features_free(&f);
}

static void t_bad_input(void **st) {
    xt_features f;
    xt_err e = {0};
    assert_int_not_equal(xt_features_build(&f, s_full, K, 1000, &s_opts, &e), 0);
    assert_contains(e.msg, "timeframe 1000s is not a multiple of its bars' 900s");
    assert_int_not_equal(xt_features_build(&f, s_full, 0, 900, &s_opts, &e), 0);
    assert_contains(e.msg, "0 assets");
}

int main(void) {
    const struct CMUnitTest t[] = {cmocka_unit_test(t_no_lookahead), cmocka_unit_test(t_values),
                                   cmocka_unit_test(t_bad_input)};
    return cmocka_run_group_tests(t, s_setup, s_teardown);
}
