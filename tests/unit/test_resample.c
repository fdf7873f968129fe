// test_resample.c - aggregation to higher timeframes and the no-look-ahead join.
#include "testutil.h"

#include "core/rng.h"
#include "core/xtime.h"
#include "market/resample.h"
#include "market/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T_MON 1704067200LL // 2024-01-01 00:00 UTC, a Monday

// ---- helpers

static void s_push(xt_bars *b, int64_t ts, double o, double h, double l, double c, double v) {
    xt_err e;
    assert_int_equal(xt_bars_push(b, ts, o, h, l, c, v, &e), 0);
}

// Independent check: every output bar equals a plain scan over all base bars
// whose open lies in [ts, ts + tf); every base bar lands in exactly one output bar.
static void s_naive_check(const xt_bars *in, const xt_bars *out, int tf) {
    int64_t covered = 0;
    for (int64_t j = 0; j < out->n; j++) {
        int64_t t0 = out->ts[j], cnt = 0;
        assert_true(t0 % tf == 0);
        if (j > 0) assert_true(t0 > out->ts[j - 1]);
        double o = 0, h = -INFINITY, l = INFINITY, c = 0, v = 0;
        for (int64_t i = 0; i < in->n; i++) {
            if (in->ts[i] < t0 || in->ts[i] >= t0 + tf) continue;
            if (cnt++ == 0) o = in->open[i];
            h = fmax(h, in->high[i]), l = fmin(l, in->low[i]), c = in->close[i], v += in->volume[i];
        }
        assert_true(cnt > 0); // no empty bins
        covered += cnt;
        assert_true(out->open[j] == o && out->high[j] == h && out->low[j] == l && out->close[j] == c);
        assert_true(fabs(out->volume[j] - v) <= 1e-9 * v);
    }
    assert_int_equal(covered, in->n);
}

// ---- aggregation

static void t_hand_worked(void **state) {
    (void)state;
    xt_bars in, out;
    xt_err e;
    assert_int_equal(xt_bars_init(&in, "BTCUSD", 900, 0, &e), 0);
    // 00:00-00:45 -> hour 0; 01:00-01:45 -> hour 1.
    s_push(&in, T_MON + 0 * 900, 10, 12, 9, 11, 1);
    s_push(&in, T_MON + 1 * 900, 11, 15, 10, 14, 2);
    s_push(&in, T_MON + 2 * 900, 14, 14, 8, 9, 3);
    s_push(&in, T_MON + 3 * 900, 9, 10, 8.5, 10, 4);
    s_push(&in, T_MON + 4 * 900, 10, 11, 10, 10.5, 5);
    s_push(&in, T_MON + 5 * 900, 10.5, 10.5, 7, 7.5, 6);
    s_push(&in, T_MON + 6 * 900, 7.5, 9, 7.5, 8, 7);
    s_push(&in, T_MON + 7 * 900, 8, 20, 8, 19, 8);
    assert_int_equal(xt_resample(&out, &in, 3600, &e), 0);
    assert_string_equal(out.symbol, "BTCUSD");
    assert_int_equal(out.tf_sec, 3600);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.ts[0], T_MON);
    assert_true(out.open[0] == 10 && out.high[0] == 15 && out.low[0] == 8 && out.close[0] == 10);
    assert_true(out.volume[0] == 10);
    assert_int_equal(out.ts[1], T_MON + 3600);
    assert_true(out.open[1] == 10 && out.high[1] == 20 && out.low[1] == 7 && out.close[1] == 19);
    assert_true(out.volume[1] == 26);
    xt_bars_free(&out);
    // Same timeframe: a copy.
    assert_int_equal(xt_resample(&out, &in, 900, &e), 0);
    assert_int_equal(out.n, 8);
    assert_memory_equal(out.close, in.close, 8 * sizeof(double));
    xt_bars_free(&out);
    xt_bars_free(&in);
}

// Empty bins produce no bar; a bin that starts with a gap is still labelled by its open.
static void t_empty_bins(void **state) {
    (void)state;
    xt_bars in, out;
    xt_err e;
    assert_int_equal(xt_bars_init(&in, "EURUSD", 900, 0, &e), 0);
    s_push(&in, T_MON + 0, 1, 2, 1, 2, 1);
    s_push(&in, T_MON + 900, 2, 3, 2, 3, 1);
    s_push(&in, T_MON + 3 * 3600 + 1800, 5, 6, 4, 4, 2); // 03:30, the 03:00 bin's first bar
    s_push(&in, T_MON + 3 * 3600 + 2700, 4, 4, 3, 3, 2);
    assert_int_equal(xt_resample(&out, &in, 3600, &e), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.ts[0], T_MON);
    assert_int_equal(out.ts[1], T_MON + 3 * 3600);
    assert_true(out.open[1] == 5 && out.close[1] == 3 && out.volume[1] == 4);
    assert_int_equal(out.cal.cls, XT_ASSET_FOREX);
    xt_bars_free(&out);
    assert_int_equal(xt_resample(&out, &in, 4 * 3600, &e), 0);
    assert_int_equal(out.n, 1);
    assert_true(out.open[0] == 1 && out.high[0] == 6 && out.low[0] == 1 && out.close[0] == 3);
    xt_bars_free(&out);
    xt_bars_free(&in);
    // An empty series gives an empty series.
    assert_int_equal(xt_bars_init(&in, "EURUSD", 900, 0, &e), 0);
    assert_int_equal(xt_resample(&out, &in, 3600, &e), 0);
    assert_int_equal(out.n, 0);
    xt_bars_free(&out);
    xt_bars_free(&in);
}

// Synthetic 15m data (forex weekends included) against the naive aggregation.
static void t_synthetic_vs_naive(void **state) {
    (void)state;
    xt_synth_opts o;
    xt_synth_opts_default(&o);
    o.start_ts = T_MON - 3 * 86400 + 3600; // a Friday 01:00, so the first forex week is partial
    o.end_ts = o.start_ts + 40 * 86400;
    xt_bars b[6], out;
    xt_err e;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), 0);
    const int tfs[3] = {3600, 4 * 3600, 86400};
    for (int a = 0; a < 6; a++)
        for (int t = 0; t < 3; t++) {
            assert_int_equal(xt_resample(&out, &b[a], tfs[t], &e), 0);
            assert_int_equal(xt_bars_validate(&out, &e), 0);
            s_naive_check(&b[a], &out, tfs[t]);
            if (b[a].cal.cls == XT_ASSET_FOREX)
                for (int64_t j = 0; j < out.n; j++) assert_true(xt_time_weekday(out.ts[j]) < 5);
            if (tfs[t] == 86400) {
                // Fri 2023-12-29 01:00 .. Wed 2024-02-07 01:00 touches 41 dates, 29 of them weekdays.
                if (a < 3) assert_int_equal(out.n, 41);
                else assert_int_equal(out.n, 29);
            }
            xt_bars_free(&out);
        }
    for (int a = 0; a < 6; a++) xt_bars_free(&b[a]);
}

static void t_bins(void **state) {
    (void)state;
    int64_t wed = T_MON + 2 * 86400 + 12 * 3600 + 34 * 60; // Wed 2024-01-03 12:34
    assert_int_equal(xt_resample_bin(wed, 86400), T_MON + 2 * 86400);       // 1d: 00:00 UTC
    assert_int_equal(xt_resample_bin(wed, 4 * 3600), T_MON + 2 * 86400 + 12 * 3600);
    assert_int_equal(xt_resample_bin(wed, 7 * 86400), T_MON);              // 1w: Monday
    assert_int_equal(xt_resample_bin(T_MON - 1, 7 * 86400), T_MON - 7 * 86400);
    assert_int_equal(xt_resample_bin(-1, 3600), -3600);                     // floor, not truncation
    assert_int_equal(xt_resample_bin(0, 86400), 0);
}

static void t_errors(void **state) {
    (void)state;
    xt_bars in, out;
    xt_err e;
    assert_int_equal(xt_bars_init(&in, "BTCUSD", 900, 0, &e), 0);
    s_push(&in, T_MON, 1, 1, 1, 1, 1);
    s_push(&in, T_MON + 900, 1, 1, 1, 1, 1);
    assert_int_equal(xt_resample(&out, &in, 1000, &e), XT_EINVAL);
    assert_string_equal(e.msg, "BTCUSD: resample timeframe 1000 s is not a positive multiple of the base 15m");
    assert_int_equal(xt_resample(&out, &in, 0, &e), XT_EINVAL);
    s_push(&in, T_MON + 900, 1, 1, 1, 1, 1); // duplicate
    assert_int_equal(xt_resample(&out, &in, 3600, &e), XT_EINVAL);
    assert_string_equal(e.msg, "BTCUSD: bar 2: open time 2024-01-01T00:15:00Z is not after the previous bar");
    assert_int_equal(out.n, 0);
    assert_null(out.ts);
    in.ts[2] = T_MON + 1900; // off the 15m grid
    assert_int_equal(xt_resample(&out, &in, 3600, &e), XT_EINVAL);
    assert_string_equal(e.msg, "BTCUSD: bar 2: open time 2024-01-01T00:31:40Z is not on the timeframe grid");
    xt_bars_free(&in);
}

// ---- closed-bar join

static void t_closed_index_hand(void **state) {
    (void)state;
    xt_bars in, h1, h4;
    xt_err e;
    assert_int_equal(xt_bars_init(&in, "BTCUSD", 900, 0, &e), 0);
    for (int i = 0; i < 12; i++) s_push(&in, T_MON + i * 900, 1, 1, 1, 1, 1); // 00:00 .. 02:45
    assert_int_equal(xt_resample(&h1, &in, 3600, &e), 0);
    assert_int_equal(xt_resample(&h4, &in, 4 * 3600, &e), 0);
    int64_t idx[12];
    // Row 3 (00:45) closes at 01:00 together with the 00:00 hour.
    const int64_t want[12] = {-1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2};
    xt_resample_closed_index(idx, &in, &h1);
    assert_memory_equal(idx, want, sizeof want);
    // The 00:00 4h bar closes at 04:00, after every row here.
    xt_resample_closed_index(idx, &in, &h4);
    for (int i = 0; i < 12; i++) assert_int_equal(idx[i], -1);
    xt_bars_free(&in), xt_bars_free(&h1), xt_bars_free(&h4);
}

// Random gappy base series; the join never points at a bar that closes later
// than the row, and always at the latest one that has closed.
static void t_closed_index_property(void **state) {
    (void)state;
    xt_rng r;
    xt_rng_seed(&r, 2024);
    const int mult[6] = {2, 4, 8, 16, 96, 672};
    xt_err e;
    for (int trial = 0; trial < 60; trial++) {
        xt_bars in, htf;
        assert_int_equal(xt_bars_init(&in, "EURUSD", 900, 0, &e), 0);
        int64_t ts = T_MON + (int64_t)xt_rng_below(&r, 1000) * 900;
        int n = 200 + (int)xt_rng_below(&r, 3000);
        for (int i = 0; i < n; i++) {
            s_push(&in, ts, 1, 1, 1, 1, 1);
            // Mostly contiguous, sometimes short gaps, rarely long ones.
            uint64_t g = xt_rng_below(&r, 100);
            ts += 900 * (g < 80 ? 1 : g < 97 ? 1 + (int64_t)xt_rng_below(&r, 8) : 1 + (int64_t)xt_rng_below(&r, 500));
        }
        int tf = 900 * mult[xt_rng_below(&r, 6)];
        assert_int_equal(xt_resample(&htf, &in, tf, &e), 0);
        int64_t *idx = malloc((size_t)n * sizeof *idx);
        xt_resample_closed_index(idx, &in, &htf);
        for (int i = 0; i < n; i++) {
            int64_t close = in.ts[i] + 900, j = idx[i];
            assert_true(j >= -1 && j < htf.n);
            if (j >= 0) assert_true(htf.ts[j] + tf <= close);
            if (j + 1 < htf.n) assert_true(htf.ts[j + 1] + tf > close);
            if (i > 0) assert_true(idx[i] >= idx[i - 1]);
        }
        free(idx);
        xt_bars_free(&in), xt_bars_free(&htf);
    }
}

// Changing or truncating any future base bar never changes a higher-timeframe
// bar that an earlier row can see.
static void t_no_look_ahead(void **state) {
    (void)state;
    xt_synth_opts o;
    xt_synth_opts_default(&o);
    o.start_ts = T_MON;
    o.end_ts = T_MON + 30 * 86400;
    o.n_assets = 4; // BTC..EURUSD: crypto and forex
    xt_bars b[4];
    xt_err e;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), 0);
    xt_rng r;
    xt_rng_seed(&r, 5);
    const int tfs[3] = {3600, 4 * 3600, 86400};
    for (int a = 0; a < 4; a += 3)
        for (int t = 0; t < 3; t++)
            for (int trial = 0; trial < 8; trial++) {
                const xt_bars *in = &b[a];
                int64_t k = 1 + (int64_t)xt_rng_below(&r, (uint64_t)in->n - 1);
                xt_bars mod, h0, h1;
                assert_int_equal(xt_bars_init(&mod, in->symbol, 900, in->n, &e), 0);
                // Rows >= k get new prices (trial even) or are dropped (trial odd).
                int64_t keep = trial % 2 ? k : in->n;
                for (int64_t i = 0; i < keep; i++) {
                    double f = i >= k ? 1.0 + 0.2 * xt_rng_uniform(&r) : 1.0, w = i >= k ? 0.1 : 0.0;
                    s_push(&mod, in->ts[i], in->open[i] * f, in->high[i] * f * (1 + w), in->low[i] * f * (1 - w),
                           in->close[i] * f, in->volume[i] * f);
                }
                assert_int_equal(xt_resample(&h0, in, tfs[t], &e), 0);
                assert_int_equal(xt_resample(&h1, &mod, tfs[t], &e), 0);
                int64_t *i0 = malloc((size_t)in->n * sizeof *i0), *i1 = malloc((size_t)in->n * sizeof *i1);
                xt_resample_closed_index(i0, in, &h0);
                xt_resample_closed_index(i1, &mod, &h1);
                for (int64_t i = 0; i < k; i++) {
                    assert_int_equal(i0[i], i1[i]);
                    for (int64_t j = 0; j <= i0[i]; j++)
                        assert_true(h0.ts[j] == h1.ts[j] && h0.open[j] == h1.open[j] && h0.high[j] == h1.high[j] &&
                                    h0.low[j] == h1.low[j] && h0.close[j] == h1.close[j] &&
                                    h0.volume[j] == h1.volume[j]);
                }
                free(i0), free(i1);
                xt_bars_free(&mod), xt_bars_free(&h0), xt_bars_free(&h1);
            }
    for (int a = 0; a < 4; a++) xt_bars_free(&b[a]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hand_worked),        cmocka_unit_test(t_empty_bins),
        cmocka_unit_test(t_synthetic_vs_naive), cmocka_unit_test(t_bins),
        cmocka_unit_test(t_errors),             cmocka_unit_test(t_closed_index_hand),
        cmocka_unit_test(t_closed_index_property), cmocka_unit_test(t_no_look_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
