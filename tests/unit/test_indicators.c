// test_indicators.c - each indicator against values worked out by hand from
// its published definition (warm-up NaNs at exact indices), degenerate inputs
// (flat, n < period, period 1, gaps), and a 1e5-bar random series against
// naive references written straight from the definitions (window loops in
// long double, Wilder recursions in textbook form). Also: causality (a prefix
// computes bit-identical rows) and drift control after an extreme outlier.
#include "testutil.h"

#include "core/rng.h"
#include "market/indicators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define X NAN
#define LEN(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

// ---------------------------------------------------------------- comparison

// want NaN: got must be NaN. Otherwise |got - want| <= tol * max(1, |want|).
static void s_check(const double *got, const double *want, int64_t n, double tol,
                    const char *what, const char *file, int line) {
    for (int64_t i = 0; i < n; i++) {
        int ok = isnan(want[i]) ? isnan(got[i])
                                : fabs(got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i]));
        if (!ok)
            fail_msg("%s:%d: %s[%lld] = %.17g, want %.17g", file, line, what, (long long)i,
                     got[i], want[i]);
    }
}
#define CHECK(got, want, n, tol) s_check((got), (want), (n), (tol), #got, __FILE__, __LINE__)

// Single value: |got - want| <= tol (this cmocka has no double assertion).
static void s_near(double got, double want, double tol, const char *what, int line) {
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: %s = %.17g, want %.17g", line, what, got, want);
}
#define NEAR(got, want, tol) s_near((got), (want), (tol), #got, __LINE__)

static void s_check_all_nan(const double *got, int64_t n, const char *what, int line) {
    for (int64_t i = 0; i < n; i++)
        if (!isnan(got[i])) fail_msg("line %d: %s[%lld] = %g, want NaN", line, what, (long long)i, got[i]);
}
#define ALL_NAN(got, n) s_check_all_nan((got), (n), #got, __LINE__)

// Index of the first non-NaN row (n if none); fails if a NaN follows it.
static int64_t s_first(const double *x, int64_t n) {
    int64_t f = 0;
    while (f < n && isnan(x[f])) f++;
    for (int64_t i = f; i < n; i++)
        if (!isfinite(x[i])) fail_msg("row %lld is %g after the first defined row %lld", (long long)i, x[i], (long long)f);
    return f;
}

// Hand-worked OHLC used by ATR, ADX (period 3).
//   i   h     l    c     TR = max(h-l, |h-c[i-1]|, |l-c[i-1]|)   +DM  -DM
//   0  10     8    9      -                                         -    -
//   1  11     9   10.5    max(2, 2, 0)       = 2                    1    0
//   2  13    10   12      max(3, 2.5, 0.5)   = 3                    2    0
//   3  12    11   11.5    max(1, 0, 1)       = 1                    0    0  (up -1, down -1)
//   4  15    12   14      max(3, 3.5, 0.5)   = 3.5                  3    0
//   5  14     9   10      max(5, 0, 5)       = 5                    0    3
//   6  11    10   10.5    max(1, 1, 0)       = 1                    0    0  (up -3, down -1)
//   7  12     8    9      max(4, 1.5, 2.5)   = 4                    0    2  (up 1 < down 2)
//   8  10     7    7.5    max(3, 1, 2)       = 3                    0    1
static const double H9[] = {10, 11, 13, 12, 15, 14, 11, 12, 10};
static const double L9[] = {8, 9, 10, 11, 12, 9, 10, 8, 7};
static const double C9[] = {9, 10.5, 12, 11.5, 14, 10, 10.5, 9, 7.5};

// ---------------------------------------------------------------- SMA, EMA

static void t_sma(void **state) {
    (void)state;
    double out[16];
    // Windows of 3: (2+4+6)/3 = 4, (4+6+5)/3 = 5, (6+5+3)/3 = 14/3, (5+3+1)/3 = 3, (3+1+7)/3 = 11/3.
    const double x[] = {2, 4, 6, 5, 3, 1, 7};
    const double want[] = {X, X, 4, 5, 14.0 / 3, 3, 11.0 / 3};
    xt_ind_sma(out, x, LEN(x), 3);
    CHECK(out, want, LEN(x), 1e-15);
    // A non-finite value makes every window containing it NaN; leading NaNs are skipped.
    const double g[] = {X, 1, 2, X, 3, 4, 5};
    const double want_g[] = {X, X, 1.5, X, X, 3.5, 4.5};
    xt_ind_sma(out, g, LEN(g), 2);
    CHECK(out, want_g, LEN(g), 1e-15);
    // Period 1 is the identity; n < period and period < 1 are all NaN.
    xt_ind_sma(out, x, LEN(x), 1);
    CHECK(out, x, LEN(x), 0);
    xt_ind_sma(out, x, 2, 3);
    ALL_NAN(out, 2);
    xt_ind_sma(out, x, LEN(x), 0);
    ALL_NAN(out, LEN(x));
    // Flat series: the mean itself.
    const double f[] = {7, 7, 7, 7, 7};
    xt_ind_sma(out, f, 5, 3);
    const double want_f[] = {X, X, 7, 7, 7};
    CHECK(out, want_f, 5, 0);
}

static void t_ema(void **state) {
    (void)state;
    double out[16];
    // Period 3, k = 2/(3+1) = 0.5. Seed at 2 = (10+11+12)/3 = 11;
    // 3: 11 + 0.5(20-11) = 15.5; 4: 15.5 + 0.5(8-15.5) = 11.75; 5: 11.75 + 0.5(14-11.75) = 12.875.
    const double x[] = {10, 11, 12, 20, 8, 14};
    const double want[] = {X, X, 11, 15.5, 11.75, 12.875};
    xt_ind_ema(out, x, LEN(x), 3);
    CHECK(out, want, LEN(x), 1e-15);
    // Leading NaNs: the seed is the SMA of the first 3 finite values (rows 2..4).
    const double xl[] = {X, X, 10, 11, 12, 20, 8, 14};
    const double want_l[] = {X, X, X, X, 11, 15.5, 11.75, 12.875};
    xt_ind_ema(out, xl, LEN(xl), 3);
    CHECK(out, want_l, LEN(xl), 1e-15);
    // A gap restarts: reseed at 6 = (20+8+14)/3 = 14; 7: 14 + 0.5(2-14) = 8.
    const double xg[] = {10, 11, 12, X, 20, 8, 14, 2};
    const double want_g[] = {X, X, 11, X, X, X, 14, 8};
    xt_ind_ema(out, xg, LEN(xg), 3);
    CHECK(out, want_g, LEN(xg), 1e-15);
    // Period 5, k = 1/3: seed (1+2+3+4+5)/5 = 3 at 4; 5: 3 + (9-3)/3 = 5.
    const double y[] = {1, 2, 3, 4, 5, 9};
    const double want_y[] = {X, X, X, X, 3, 5};
    xt_ind_ema(out, y, LEN(y), 5);
    CHECK(out, want_y, LEN(y), 1e-15);
    // Period 1 (k = 1) follows the input; n < period all NaN; flat stays flat.
    xt_ind_ema(out, x, LEN(x), 1);
    CHECK(out, x, LEN(x), 1e-15);
    xt_ind_ema(out, x, 2, 3);
    ALL_NAN(out, 2);
    const double f[] = {4, 4, 4, 4, 4};
    const double want_f[] = {X, X, X, 4, 4};
    xt_ind_ema(out, f, 5, 4);
    CHECK(out, want_f, 5, 0);
}

// ---------------------------------------------------------------- RSI, ATR, ADX

static void t_rsi(void **state) {
    (void)state;
    double out[16];
    // Changes: +1, -0.5, +1.5, -1, +0.5, +1.5, -1 (period 3).
    // 3: G = (1+1.5)/3 = 5/6, L = 0.5/3 = 1/6, RSI = 100 G/(G+L) = 250/3.
    // 4 (-1):   G = (5/6*2)/3 = 5/9,        L = (1/6*2 + 1)/3 = 4/9,    RSI = 500/9.
    // 5 (+0.5): G = (10/9 + 0.5)/3 = 29/54,  L = (8/9)/3 = 16/54,        RSI = 100*29/45 = 580/9.
    // 6 (+1.5): G = (58/54 + 1.5)/3 = 139/162, L = (32/54)/3 = 32/162,   RSI = 13900/171.
    // 7 (-1):   G = (278/162)/3 = 278/486, L = (64/162 + 1)/3 = 226/486, RSI = 100*278/504 = 3475/63.
    const double c[] = {10, 11, 10.5, 12, 11, 11.5, 13, 12};
    const double want[] = {X, X, X, 250.0 / 3, 500.0 / 9, 580.0 / 9, 13900.0 / 171, 3475.0 / 63};
    xt_ind_rsi(out, c, LEN(c), 3);
    CHECK(out, want, LEN(c), 1e-13);
    NEAR(out[6], 81.28654970760234, 1e-12);
    // All gains -> 100, all losses -> 0, flat -> 50 (our convention).
    const double up[] = {1, 2, 3, 4, 5, 6};
    const double dn[] = {6, 5, 4, 3, 2, 1};
    const double fl[] = {3, 3, 3, 3, 3, 3};
    const double want_up[] = {X, X, 100, 100, 100, 100};
    const double want_dn[] = {X, X, 0, 0, 0, 0};
    const double want_fl[] = {X, X, 50, 50, 50, 50};
    xt_ind_rsi(out, up, 6, 2);
    CHECK(out, want_up, 6, 0);
    xt_ind_rsi(out, dn, 6, 2);
    CHECK(out, want_dn, 6, 0);
    xt_ind_rsi(out, fl, 6, 2);
    CHECK(out, want_fl, 6, 0);
    // Period 1: only the last change counts.
    const double p1[] = {5, 6, 4, 4, 7};
    const double want_p1[] = {X, 100, 0, 50, 100};
    xt_ind_rsi(out, p1, 5, 1);
    CHECK(out, want_p1, 5, 0);
    // The first value needs period changes, i.e. n > period.
    xt_ind_rsi(out, c, 3, 3);
    ALL_NAN(out, 3);
    xt_ind_rsi(out, c, LEN(c), 0);
    ALL_NAN(out, LEN(c));
}

static void t_atr(void **state) {
    (void)state;
    double out[16];
    // TR (see H9/L9/C9): -, 2, 3, 1, 3.5, 5, 1, 4, 3. Period 3:
    // 3: (2+3+1)/3 = 2; 4: (2*2 + 3.5)/3 = 2.5; 5: (2.5*2 + 5)/3 = 10/3;
    // 6: (20/3 + 1)/3 = 23/9; 7: (46/9 + 4)/3 = 82/27; 8: (164/27 + 3)/3 = 245/81.
    const double want[] = {X, X, X, 2, 2.5, 10.0 / 3, 23.0 / 9, 82.0 / 27, 245.0 / 81};
    xt_ind_atr(out, H9, L9, C9, 9, 3);
    CHECK(out, want, 9, 1e-15);
    // Period 1 is the true range itself (from row 1).
    const double want_p1[] = {X, 2, 3, 1, 3.5, 5, 1, 4, 3};
    xt_ind_atr(out, H9, L9, C9, 9, 1);
    CHECK(out, want_p1, 9, 1e-15);
    // n <= period: nothing defined. Flat bars: 0.
    xt_ind_atr(out, H9, L9, C9, 3, 3);
    ALL_NAN(out, 3);
    const double f[] = {2, 2, 2, 2, 2};
    const double want_f[] = {X, X, 0, 0, 0};
    xt_ind_atr(out, f, f, f, 5, 2);
    CHECK(out, want_f, 5, 0);
}

static void t_adx(void **state) {
    (void)state;
    double adx[16], pdi[16], mdi[16];
    // Period 3 (TA-Lib seeding): sums over bars 1..2: S+ = 1+2 = 3, S- = 0, Str = 2+3 = 5.
    // 3: S+ = 3 - 3/3 + 0 = 2,        Str = 5 - 5/3 + 1 = 13/3;     +DI = 100*2/(13/3) = 600/13, -DI 0, DX 100.
    // 4: S+ = 2 - 2/3 + 3 = 13/3,     Str = 26/9 + 3.5 = 115/18;    +DI = 1560/23, -DI 0, DX 100.
    // 5: S+ = 26/9, S- = 0 + 3 = 3,   Str = 115/27 + 5 = 250/27;    +DI = 156/5 = 31.2, -DI = 162/5 = 32.4,
    //    DX = 100*1.2/63.6 = 100/53; ADX(5) = (100 + 100 + 100/53)/3 = 10700/159.
    // 6: S+ = 52/27, S- = 2,          Str = 500/81 + 1 = 581/81;    +DI = 15600/581, -DI = 16200/581,
    //    DX = 100*600/31800 = 100/53; ADX(6) = (2*10700/159 + 100/53)/3 = 21700/477.
    const double want_p[] = {X, X, X, 600.0 / 13, 1560.0 / 23, 31.2, 15600.0 / 581, 15600.0 / 1067, 12480.0 / 1291};
    const double want_m[] = {X, X, X, 0, 0, 32.4, 16200.0 / 581, 40500.0 / 1067, 46980.0 / 1291};
    const double want_a[] = {X, X, X, X, X, 10700.0 / 159, 21700.0 / 477, 12074900.0 / 267597, 39319279300.0 / 795565881};
    xt_ind_adx(adx, pdi, mdi, H9, L9, C9, 9, 3);
    CHECK(pdi, want_p, 9, 1e-13);
    CHECK(mdi, want_m, 9, 1e-13);
    CHECK(adx, want_a, 9, 1e-13);
    NEAR(adx[5], 67.29559748427673, 1e-12);
    // Flat bars: no movement, no range -> DI 0, DX 0, ADX 0.
    const double f[] = {5, 5, 5, 5, 5, 5, 5};
    const double want_f0[] = {X, X, 0, 0, 0, 0, 0};
    const double want_fa[] = {X, X, X, 0, 0, 0, 0};
    xt_ind_adx(adx, pdi, mdi, f, f, f, 7, 2);
    CHECK(pdi, want_f0, 7, 0);
    CHECK(mdi, want_f0, 7, 0);
    CHECK(adx, want_fa, 7, 0);
    // Period 1: DI from row 1 (this bar's DM / TR), ADX = DX from row 1.
    // Row 1: +DM 1, TR 2 -> +DI 50, -DI 0, DX 100. Row 5: -DM 3, TR 5 -> -DI 60, DX 100.
    // Row 3: no DM -> DX 0.
    xt_ind_adx(adx, pdi, mdi, H9, L9, C9, 9, 1);
    const double want_p1[] = {X, 50, 200.0 / 3, 0, 600.0 / 7, 0, 0, 0, 0};
    const double want_m1[] = {X, 0, 0, 0, 0, 60, 0, 50, 100.0 / 3};
    const double want_a1[] = {X, 100, 100, 0, 100, 100, 0, 100, 100};
    CHECK(pdi, want_p1, 9, 1e-13);
    CHECK(mdi, want_m1, 9, 1e-13);
    CHECK(adx, want_a1, 9, 1e-13);
    // DI needs n > period; ADX needs n > 2*period - 1.
    xt_ind_adx(adx, pdi, mdi, H9, L9, C9, 3, 3);
    ALL_NAN(pdi, 3);
    ALL_NAN(mdi, 3);
    ALL_NAN(adx, 3);
    xt_ind_adx(adx, pdi, mdi, H9, L9, C9, 5, 3);
    ALL_NAN(adx, 5);
    CHECK(pdi, want_p, 5, 1e-13);
}

// ---------------------------------------------------------------- MACD, Bollinger, CCI, stochastic, OBV

static void t_macd(void **state) {
    (void)state;
    double line[64], sig[64], hist[64], want[64];
    // MACD(2, 3, 2) on 1, 3, 2, 6, 4, 8.
    // EMA2 (k 2/3): seed 2 at 1; 2: 2; 3: 2 + 2/3*4 = 14/3; 4: 14/3 - 2/3*2/3 = 38/9;
    //               5: 38/9 + 2/3*(8 - 38/9) = 182/27.
    // EMA3 (k 1/2): seed 2 at 2; 3: 4; 4: 4; 5: 6.
    // line (from 2): 0, 2/3, 2/9, 20/27.
    // signal EMA2 of the line, seed at 3 = (0 + 2/3)/2 = 1/3; 4: 1/3 + 2/3(2/9 - 1/3) = 7/27;
    //               5: 7/27 + 2/3(20/27 - 7/27) = 47/81.   hist: 1/3, -1/27, 13/81.
    const double x[] = {1, 3, 2, 6, 4, 8};
    const double want_l[] = {X, X, 0, 2.0 / 3, 2.0 / 9, 20.0 / 27};
    const double want_s[] = {X, X, X, 1.0 / 3, 7.0 / 27, 47.0 / 81};
    const double want_h[] = {X, X, X, 1.0 / 3, -1.0 / 27, 13.0 / 81};
    xt_ind_macd(line, sig, hist, x, 6, 2, 3, 2);
    CHECK(line, want_l, 6, 1e-14);
    CHECK(sig, want_s, 6, 1e-14);
    CHECK(hist, want_h, 6, 1e-14);
    // MACD(12, 26, 9) on the line x = i + 1: an SMA-seeded EMA of a straight
    // line lags it by exactly (n-1)/2 from its first row, so EMA12 = x - 5.5,
    // EMA26 = x - 12.5, line = 7 from row 25, signal = 7 from row 33, hist = 0.
    double y[40];
    for (int i = 0; i < 40; i++) y[i] = i + 1;
    xt_ind_macd(line, sig, hist, y, 40, 12, 26, 9);
    for (int i = 0; i < 40; i++) want[i] = i < 25 ? X : 7;
    CHECK(line, want, 40, 1e-12);
    for (int i = 0; i < 40; i++) want[i] = i < 33 ? X : 7;
    CHECK(sig, want, 40, 1e-12);
    for (int i = 0; i < 40; i++) want[i] = i < 33 ? X : 0;
    CHECK(hist, want, 40, 1e-12);
    assert_int_equal(xt_ind_macd_first(12, 26), 25);
    assert_int_equal(xt_ind_macd_signal_first(12, 26, 9), 33);
    // Too short for the signal: line defined, signal and hist all NaN.
    xt_ind_macd(line, sig, hist, y, 30, 12, 26, 9);
    ALL_NAN(sig, 30);
    ALL_NAN(hist, 30);
    NEAR(line[29], 7, 1e-12);
    // n < slow: nothing defined. Flat: both EMAs equal the price, all zero.
    xt_ind_macd(line, sig, hist, y, 25, 12, 26, 9);
    ALL_NAN(line, 25);
    const double f[] = {5, 5, 5, 5, 5};
    const double want_f0[] = {X, X, 0, 0, 0}, want_f1[] = {X, X, X, 0, 0};
    xt_ind_macd(line, sig, hist, f, 5, 2, 3, 2);
    CHECK(line, want_f0, 5, 0);
    CHECK(sig, want_f1, 5, 0);
    CHECK(hist, want_f1, 5, 0);
    // Periods of 1: every EMA is the price itself, so line, signal and hist are 0 from row 0.
    const double want_p1[] = {0, 0, 0, 0, 0, 0};
    xt_ind_macd(line, sig, hist, x, 6, 1, 1, 1);
    CHECK(line, want_p1, 6, 1e-15);
    CHECK(hist, want_p1, 6, 1e-15);
}

static void t_bbands(void **state) {
    (void)state;
    double lo[16], mid[16], up[16], w[16];
    // Period 3, k 2, population sd. {1,1,4}: mean 2, var (1+1+4)/3 = 2, sd sqrt2;
    // {1,4,4}: mean 3, var (4+1+1)/3 = 2; {4,4,4}: sd 0; {4,4,1}: mean 3, sd sqrt2.
    // width = (upper - lower)/mid = 4 sd / mid.
    const double x[] = {1, 1, 4, 4, 4, 1};
    const double s2 = sqrt(2.0);
    const double want_m[] = {X, X, 2, 3, 4, 3};
    const double want_u[] = {X, X, 2 + 2 * s2, 3 + 2 * s2, 4, 3 + 2 * s2};
    const double want_l[] = {X, X, 2 - 2 * s2, 3 - 2 * s2, 4, 3 - 2 * s2};
    const double want_w[] = {X, X, 2 * s2, 4 * s2 / 3, 0, 4 * s2 / 3};
    xt_ind_bbands(lo, mid, up, w, x, 6, 3, 2.0);
    CHECK(mid, want_m, 6, 1e-15);
    CHECK(up, want_u, 6, 1e-14);
    CHECK(lo, want_l, 6, 1e-14);
    CHECK(w, want_w, 6, 1e-14);
    // Mid 0 makes the width undefined (NaN), the bands are still defined: {-1,0,1}, sd sqrt(2/3).
    const double z[] = {-1, 0, 1};
    xt_ind_bbands(lo, mid, up, w, z, 3, 3, 1.0);
    NEAR(mid[2], 0, 0);
    NEAR(up[2], sqrt(2.0 / 3), 1e-15);
    assert_true(isnan(w[2]));
    // Period 1: zero-width bands on the value itself. n < period: all NaN.
    xt_ind_bbands(lo, mid, up, w, x, 6, 1, 2.0);
    CHECK(mid, x, 6, 0);
    CHECK(up, x, 6, 0);
    CHECK(lo, x, 6, 0);
    xt_ind_bbands(lo, mid, up, w, x, 2, 3, 2.0);
    ALL_NAN(lo, 2);
    ALL_NAN(mid, 2);
    ALL_NAN(up, 2);
    ALL_NAN(w, 2);
}

static void t_cci(void **state) {
    (void)state;
    double out[16];
    // Typical prices (h+l+c)/3: 2, 3, 7, 7, 6. Period 3:
    // 2: {2,3,7} mean 4, MD (2+1+3)/3 = 2, CCI (7-4)/(0.015*2) = 100.
    // 3: {3,7,7} mean 17/3, MD (8/3+4/3+4/3)/3 = 16/9, CCI (4/3)/(0.015*16/9) = 50.
    // 4: {7,7,6} mean 20/3, MD (1/3+1/3+2/3)/3 = 4/9, CCI (-2/3)/(0.015*4/9) = -100.
    const double h[] = {3, 4, 9, 8, 7}, l[] = {1, 2, 5, 6, 5}, c[] = {2, 3, 7, 7, 6};
    const double want[] = {X, X, 100, 50, -100};
    xt_ind_cci(out, h, l, c, 5, 3);
    CHECK(out, want, 5, 1e-12);
    // Flat window (zero mean deviation) -> 0, also for a value like 0.1 whose
    // repeated sum is inexact. Period 1 -> 0 (the price is its own mean).
    const double f[] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    const double want_f[] = {X, X, X, X, 0, 0, 0};
    xt_ind_cci(out, f, f, f, 7, 5);
    CHECK(out, want_f, 7, 0);
    const double want_1[] = {0, 0, 0, 0, 0};
    xt_ind_cci(out, h, l, c, 5, 1);
    CHECK(out, want_1, 5, 0);
    xt_ind_cci(out, h, l, c, 2, 3);
    ALL_NAN(out, 2);
}

static void t_stoch(void **state) {
    (void)state;
    double k[40], d[40], s[40];
    // fastK(3) = 100 (c - LL3)/(HH3 - LL3):
    // 2: HH 12 LL 8 -> 100*3/4 = 75;  3: HH 12 LL 9 -> 100/3;  4: HH 12 LL 9 -> 200/3;
    // 5: HH 13 LL 10 -> 100;          6: HH 13 LL 10 -> 200/3.
    // fastD = SMA2(fastK): 3: (75 + 100/3)/2 = 325/6; 4: 50; 5: 250/3; 6: 250/3.
    // slowD = SMA2(fastD): 4: (325/6 + 50)/2 = 625/12; 5: 200/3; 6: 250/3.
    const double h[] = {10, 11, 12, 12, 11, 13, 13};
    const double l[] = {8, 9, 9, 10, 10, 11, 12};
    const double c[] = {9, 10, 11, 10, 11, 13, 12};
    const double want_k[] = {X, X, 75, 100.0 / 3, 200.0 / 3, 100, 200.0 / 3};
    const double want_d[] = {X, X, X, 325.0 / 6, 50, 250.0 / 3, 250.0 / 3};
    const double want_s[] = {X, X, X, X, 625.0 / 12, 200.0 / 3, 250.0 / 3};
    xt_ind_stoch(k, d, s, h, l, c, 7, 3, 2, 2);
    CHECK(k, want_k, 7, 1e-14);
    CHECK(d, want_d, 7, 1e-14);
    CHECK(s, want_s, 7, 1e-14);
    // Zero range (flat) -> 50 by convention.
    const double f[] = {3, 3, 3, 3, 3};
    const double want_f[] = {X, X, 50, 50, 50};
    xt_ind_stoch(k, d, s, f, f, f, 5, 3, 1, 1);
    CHECK(k, want_f, 5, 0);
    CHECK(d, want_f, 5, 0);
    CHECK(s, want_f, 5, 0);
    // Period 1: where the close sits in this bar's own range: (9-8)/(10-8) = 50, (10-9)/2 = 50, (11-9)/3.
    xt_ind_stoch(k, d, s, h, l, c, 3, 1, 1, 1);
    const double want_k1[] = {50, 50, 200.0 / 3};
    CHECK(k, want_k1, 3, 1e-14);
    CHECK(s, want_k1, 3, 1e-14);
    // A falling high sequence forces a rescan each time the extreme leaves.
    const double hh[] = {20, 19, 18, 17, 16, 15}, ll[] = {10, 10, 10, 10, 10, 10};
    const double cc[] = {15, 15, 15, 15, 15, 15};
    // HH over 3 bars is the oldest one: 20, 19, 18, 17 -> 100*5/10, 5/9, 5/8, 5/7.
    const double want_kr[] = {X, X, 50, 500.0 / 9, 62.5, 500.0 / 7};
    xt_ind_stoch(k, d, s, hh, ll, cc, 6, 3, 3, 3);
    CHECK(k, want_kr, 6, 1e-14);
    // n < k: all NaN.
    xt_ind_stoch(k, d, s, h, l, c, 2, 3, 2, 2);
    ALL_NAN(k, 2);
    ALL_NAN(d, 2);
    ALL_NAN(s, 2);
}

static void t_obv(void **state) {
    (void)state;
    double out[8];
    // OBV[0] = v[0] = 100; up +200 = 300; unchanged 300; down -400 = -100; up +500 = 400.
    const double c[] = {10, 11, 11, 10, 12}, v[] = {100, 200, 300, 400, 500};
    const double want[] = {100, 300, 300, -100, 400};
    xt_ind_obv(out, c, v, 5);
    CHECK(out, want, 5, 0);
    xt_ind_obv(out, c, v, 1);
    NEAR(out[0], 100, 0);
}

// ---------------------------------------------------------------- random series and naive references

typedef struct {
    int64_t n;
    double *o, *h, *l, *c, *v;
} s_ohlcv;

// Geometric random walk with volatility bursts, a 100x level shift at n/2 and
// forward-filled flat stretches (h = l = c, zero volume) like filled gaps.
static s_ohlcv s_series(int64_t n, uint64_t seed) {
    s_ohlcv s = {n, malloc(5 * (size_t)n * sizeof(double)), 0, 0, 0, 0};
    assert_non_null(s.o);
    s.h = s.o + n, s.l = s.h + n, s.c = s.l + n, s.v = s.c + n;
    xt_rng r;
    xt_rng_seed(&r, seed);
    double p = 100.0;
    for (int64_t i = 0; i < n; i++) {
        if (i == n / 2) p *= 100.0;
        if (i % 5000 >= 2000 && i % 5000 < 2080) { // flat: filled gap
            s.o[i] = s.h[i] = s.l[i] = s.c[i] = p;
            s.v[i] = 0.0;
            continue;
        }
        double vol = (i / 1000) % 3 == 0 ? 0.03 : 0.005;
        s.o[i] = p;
        p *= exp(vol * xt_rng_normal(&r));
        s.c[i] = p;
        s.h[i] = fmax(s.o[i], s.c[i]) * (1.0 + vol * xt_rng_uniform(&r));
        s.l[i] = fmin(s.o[i], s.c[i]) * (1.0 - vol * xt_rng_uniform(&r));
        s.v[i] = 1000.0 * xt_rng_uniform(&r);
    }
    return s;
}

static void n_sma(double *out, const double *x, int64_t n, int p) {
    for (int64_t i = 0; i < n; i++) {
        out[i] = NAN;
        if (i < p - 1) continue;
        long double s = 0;
        int ok = 1;
        for (int64_t j = i - p + 1; j <= i; j++) ok &= isfinite(x[j]) != 0, s += x[j];
        if (ok) out[i] = (double)(s / p);
    }
}

// EMA of a series that is NaN up to some row and finite after it.
static void n_ema(double *out, const double *x, int64_t n, int p) {
    int64_t f = 0;
    while (f < n && !isfinite(x[f])) f++;
    double a = 2.0 / (p + 1), e = 0;
    for (int64_t i = 0; i < n; i++) {
        out[i] = NAN;
        if (i < f + p - 1) continue;
        if (i == f + p - 1) {
            long double s = 0;
            for (int64_t j = f; j <= i; j++) s += x[j];
            e = (double)(s / p);
        } else {
            e = a * x[i] + (1 - a) * e;
        }
        out[i] = e;
    }
}

// Textbook Wilder RSI: RS = avg gain / avg loss, RSI = 100 - 100/(1 + RS).
static void n_rsi(double *out, const double *c, int64_t n, int p) {
    double g = 0, l = 0;
    for (int64_t i = 0; i < n; i++) {
        out[i] = NAN;
        if (i == 0) continue;
        double up = fmax(c[i] - c[i - 1], 0), dn = fmax(c[i - 1] - c[i], 0);
        if (i <= p) {
            g += up / p, l += dn / p;
            if (i < p) continue;
        } else {
            g = ((p - 1) * g + up) / p, l = ((p - 1) * l + dn) / p;
        }
        out[i] = l == 0 ? (g == 0 ? 50 : 100) : 100 - 100 / (1 + g / l);
    }
}

static double n_tr(const s_ohlcv *s, int64_t i) {
    return fmax(s->h[i] - s->l[i], fmax(fabs(s->h[i] - s->c[i - 1]), fabs(s->l[i] - s->c[i - 1])));
}

static void n_atr(double *out, const s_ohlcv *s, int p) {
    double a = 0;
    for (int64_t i = 0; i < s->n; i++) {
        out[i] = NAN;
        if (i == 0) continue;
        if (i <= p) {
            a += n_tr(s, i) / p;
            if (i < p) continue;
        } else {
            a = ((p - 1) * a + n_tr(s, i)) / p;
        }
        out[i] = a;
    }
}

static void n_adx(double *adx, double *pdi, double *mdi, const s_ohlcv *s, int p) {
    double sp = 0, sm = 0, st = 0, a = 0, sdx = 0;
    for (int64_t i = 0; i < s->n; i++) {
        adx[i] = pdi[i] = mdi[i] = NAN;
        if (i == 0) continue;
        double up = s->h[i] - s->h[i - 1], dn = s->l[i - 1] - s->l[i];
        double dp = up > dn && up > 0 ? up : 0, dm = dn > up && dn > 0 ? dn : 0;
        double tr = n_tr(s, i);
        // Wilder sums, TA-Lib seed: p-1 plain sums, then S(1 - 1/p) + x.
        if (i < p) {
            sp += dp, sm += dm, st += tr;
            continue;
        }
        sp = sp * (1.0 - 1.0 / p) + dp, sm = sm * (1.0 - 1.0 / p) + dm, st = st * (1.0 - 1.0 / p) + tr;
        pdi[i] = st == 0 ? 0 : 100 * sp / st;
        mdi[i] = st == 0 ? 0 : 100 * sm / st;
        double dx = pdi[i] + mdi[i] == 0 ? 0 : 100 * fabs(pdi[i] - mdi[i]) / (pdi[i] + mdi[i]);
        if (i < 2 * p - 1) {
            sdx += dx;
            continue;
        }
        a = i == 2 * p - 1 ? (sdx + dx) / p : ((p - 1) * a + dx) / p;
        adx[i] = a;
    }
}

static void n_bbands(double *lo, double *mid, double *up, double *w, const double *x, int64_t n, int p, double k) {
    for (int64_t i = 0; i < n; i++) {
        lo[i] = mid[i] = up[i] = w[i] = NAN;
        if (i < p - 1) continue;
        long double m = 0, var = 0;
        for (int64_t j = i - p + 1; j <= i; j++) m += x[j];
        m /= p;
        for (int64_t j = i - p + 1; j <= i; j++) var += (x[j] - m) * (x[j] - m);
        double sd = (double)sqrtl(var / p);
        mid[i] = (double)m, up[i] = (double)m + k * sd, lo[i] = (double)m - k * sd;
        w[i] = 2 * k * sd / (double)m;
    }
}

static void n_cci(double *out, const s_ohlcv *s, int p) {
    for (int64_t i = 0; i < s->n; i++) {
        out[i] = NAN;
        if (i < p - 1) continue;
        long double m = 0, md = 0;
        for (int64_t j = i - p + 1; j <= i; j++) m += ((long double)s->h[j] + s->l[j] + s->c[j]) / 3;
        m /= p;
        for (int64_t j = i - p + 1; j <= i; j++) md += fabsl(((long double)s->h[j] + s->l[j] + s->c[j]) / 3 - m);
        md /= p;
        long double tp = ((long double)s->h[i] + s->l[i] + s->c[i]) / 3;
        out[i] = md == 0 ? 0 : (double)((tp - m) / (0.015L * md));
    }
}

static void n_stoch(double *k, double *d, double *sd, const s_ohlcv *s, int kp, int dp, int sp) {
    for (int64_t i = 0; i < s->n; i++) {
        k[i] = NAN;
        if (i < kp - 1) continue;
        double hh = -INFINITY, ll = INFINITY;
        for (int64_t j = i - kp + 1; j <= i; j++) hh = fmax(hh, s->h[j]), ll = fmin(ll, s->l[j]);
        k[i] = hh == ll ? 50 : 100 * (s->c[i] - ll) / (hh - ll);
    }
    n_sma(d, k, s->n, dp);
    n_sma(sd, d, s->n, sp);
}

static void n_obv(double *out, const s_ohlcv *s) {
    long double o = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (i == 0) o = s->v[0];
        else o += (s->c[i] > s->c[i - 1]) ? s->v[i] : (s->c[i] < s->c[i - 1]) ? -s->v[i] : 0;
        out[i] = (double)o;
    }
}

// Every indicator on one series with one set of periods, into 17 columns.
enum { COLS = 17 };
typedef struct {
    int ma, rsi, atr, adx, fast, slow, sig, bb, cci, sk, sd, ss;
} s_periods;

static void s_compute(double *col[COLS], const s_ohlcv *s, const s_periods *p) {
    xt_ind_sma(col[0], s->c, s->n, p->ma);
    xt_ind_ema(col[1], s->c, s->n, p->ma);
    xt_ind_rsi(col[2], s->c, s->n, p->rsi);
    xt_ind_atr(col[3], s->h, s->l, s->c, s->n, p->atr);
    xt_ind_adx(col[4], col[5], col[6], s->h, s->l, s->c, s->n, p->adx);
    xt_ind_macd(col[7], col[8], col[9], s->c, s->n, p->fast, p->slow, p->sig);
    xt_ind_bbands(col[10], col[11], col[12], col[13], s->c, s->n, p->bb, 2.0);
    xt_ind_cci(col[14], s->h, s->l, s->c, s->n, p->cci);
    xt_ind_stoch(col[15], col[16], col[0], s->h, s->l, s->c, s->n, p->sk, p->sd, p->ss);
}

static double **s_columns(int64_t n) {
    double **col = malloc(COLS * sizeof *col);
    assert_non_null(col);
    for (int j = 0; j < COLS; j++) {
        col[j] = malloc((size_t)n * sizeof(double));
        assert_non_null(col[j]);
    }
    return col;
}

static void s_free_columns(double **col) {
    for (int j = 0; j < COLS; j++) free(col[j]);
    free(col);
}

static void t_random_vs_naive(void **state) {
    (void)state;
    const int64_t n = 100000;
    s_ohlcv s = s_series(n, 42);
    double **got = s_columns(n), **want = s_columns(n);
    const s_periods sets[] = {{20, 14, 14, 14, 12, 26, 9, 20, 20, 14, 3, 3},
                              {5, 3, 7, 5, 3, 7, 4, 6, 9, 5, 3, 2}};
    for (int t = 0; t < 2; t++) {
        const s_periods *p = &sets[t];
        // Column 0 is reused by slowD in s_compute; check SMA on its own.
        xt_ind_sma(got[0], s.c, n, p->ma);
        n_sma(want[0], s.c, n, p->ma);
        CHECK(got[0], want[0], n, 1e-9);
        xt_ind_sma(got[0], s.v, n, p->ma); // volume SMA
        n_sma(want[0], s.v, n, p->ma);
        CHECK(got[0], want[0], n, 1e-9);
        s_compute(got, &s, p);
        n_ema(want[1], s.c, n, p->ma);
        n_rsi(want[2], s.c, n, p->rsi);
        n_atr(want[3], &s, p->atr);
        n_adx(want[4], want[5], want[6], &s, p->adx);
        n_ema(want[7], s.c, n, p->fast);
        n_ema(want[9], s.c, n, p->slow);
        for (int64_t i = 0; i < n; i++) want[7][i] -= want[9][i];
        n_ema(want[8], want[7], n, p->sig);
        for (int64_t i = 0; i < n; i++) want[9][i] = want[7][i] - want[8][i];
        n_bbands(want[10], want[11], want[12], want[13], s.c, n, p->bb, 2.0);
        n_cci(want[14], &s, p->cci);
        n_stoch(want[15], want[16], want[0], &s, p->sk, p->sd, p->ss);
        for (int j = 0; j < COLS; j++) {
            char what[32];
            snprintf(what, sizeof what, "set %d column %d", t, j);
            s_check(got[j], want[j], n, 1e-9, what, __FILE__, __LINE__);
        }
        // Bollinger mid is the SMA, bit for bit.
        xt_ind_sma(got[0], s.c, n, p->bb);
        assert_memory_equal(got[0] + p->bb - 1, got[11] + p->bb - 1, (size_t)(n - p->bb + 1) * sizeof(double));
    }
    xt_ind_obv(got[0], s.c, s.v, n);
    n_obv(want[0], &s);
    CHECK(got[0], want[0], n, 1e-9);
    s_free_columns(got);
    s_free_columns(want);
    free(s.o);
}

// ---------------------------------------------------------------- warm-up, causality, drift

static void t_warmup_defaults(void **state) {
    (void)state;
    const int64_t n = 60;
    s_ohlcv s = s_series(n, 7);
    double **col = s_columns(n);
    const s_periods p = {20, 14, 14, 14, 12, 26, 9, 20, 20, 14, 3, 3};
    s_compute(col, &s, &p);
    // First defined rows with the default periods (and the lookback helpers agree).
    assert_int_equal(s_first(col[0], n), 17);  // slowD
    assert_int_equal(s_first(col[1], n), 19);  // EMA 20
    assert_int_equal(s_first(col[2], n), 14);  // RSI 14
    assert_int_equal(s_first(col[3], n), 14);  // ATR 14
    assert_int_equal(s_first(col[4], n), 27);  // ADX 14
    assert_int_equal(s_first(col[5], n), 14);  // +DI
    assert_int_equal(s_first(col[6], n), 14);  // -DI
    assert_int_equal(s_first(col[7], n), 25);  // MACD line
    assert_int_equal(s_first(col[8], n), 33);  // signal
    assert_int_equal(s_first(col[9], n), 33);  // hist
    for (int j = 10; j <= 14; j++) assert_int_equal(s_first(col[j], n), 19); // BB, CCI 20
    assert_int_equal(s_first(col[15], n), 13); // fastK
    assert_int_equal(s_first(col[16], n), 15); // fastD
    assert_int_equal(xt_ind_sma_first(20), 19);
    assert_int_equal(xt_ind_rsi_first(14), 14);
    assert_int_equal(xt_ind_adx_first(14), 27);
    assert_int_equal(xt_ind_stoch_first(14, 3, 3), 17);
    xt_ind_sma(col[0], s.v, n, 20);
    assert_int_equal(s_first(col[0], n), 19); // volume SMA
    xt_ind_obv(col[0], s.c, s.v, n);
    assert_int_equal(s_first(col[0], n), 0);
    // Every indicator with n < its first row: all NaN, and nothing written past n
    // (exact-size heap arrays, so ASan would catch an overrun).
    for (int64_t m = 1; m <= 13; m++) {
        s_ohlcv t = s;
        t.n = m;
        double **c2 = s_columns(m);
        s_compute(c2, &t, &p);
        for (int j = 0; j < COLS; j++) ALL_NAN(c2[j], m);
        s_free_columns(c2);
    }
    s_free_columns(col);
    free(s.o);
}

static void t_prefix_causal(void **state) {
    (void)state;
    // Rows computed on a prefix are bit-identical to the same rows computed on
    // the whole series: no indicator looks ahead (the resync rows are fixed
    // indices, not "every 1024 rows from the end").
    const int64_t n = 6000, m = 3001;
    s_ohlcv s = s_series(n, 11);
    double **a = s_columns(n), **b = s_columns(n);
    const s_periods p = {20, 14, 14, 14, 12, 26, 9, 20, 20, 14, 3, 3};
    s_compute(a, &s, &p);
    s_ohlcv t = s;
    t.n = m;
    s_compute(b, &t, &p);
    for (int j = 0; j < COLS; j++) assert_memory_equal(a[j], b[j], (size_t)m * sizeof(double));
    s_free_columns(a);
    s_free_columns(b);
    free(s.o);
}

static void t_drift_after_outlier(void **state) {
    (void)state;
    // Outliers in a ~100 series: while one is in a rolling sum each update
    // rounds at ~|outlier| * 2^-53, and a plain rolling update would keep that
    // error after it leaves (~1e-4 in the sum for 1e12; ~1e-6 relative in the
    // squared deviations for 5e4, whose square dwarfs a window sd of ~0.5).
    // The sum is recomputed when the removed value dwarfs the window mean, the
    // squared deviations when it held half of them, so every row stays within
    // 1e-12 (SMA) / 1e-9 (sd) of the naive two-pass values.
    const int64_t n = 3 * XT_IND_RESYNC, spike = XT_IND_RESYNC + 100;
    const int p = 20;
    s_ohlcv s = s_series(n, 3);
    s.c[spike] = 1e12;
    s.c[spike + 300] = 5e4;
    double **got = s_columns(n), **want = s_columns(n);
    xt_ind_sma(got[0], s.c, n, p);
    n_sma(want[0], s.c, n, p);
    CHECK(got[0], want[0], n, 1e-12);
    xt_ind_bbands(got[1], got[2], got[3], got[4], s.c, n, p, 2.0);
    n_bbands(want[1], want[2], want[3], want[4], s.c, n, p, 2.0);
    for (int64_t i = p - 1; i < n; i++) {
        double sd = (got[3][i] - got[2][i]) / 2, sd_ref = (want[3][i] - want[2][i]) / 2;
        if (!(fabs(sd - sd_ref) <= 1e-9 * sd_ref))
            fail_msg("sd[%lld] = %.17g, want %.17g", (long long)i, sd, sd_ref);
    }
    s_free_columns(got);
    s_free_columns(want);
    free(s.o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sma),
        cmocka_unit_test(t_ema),
        cmocka_unit_test(t_rsi),
        cmocka_unit_test(t_atr),
        cmocka_unit_test(t_adx),
        cmocka_unit_test(t_macd),
        cmocka_unit_test(t_bbands),
        cmocka_unit_test(t_cci),
        cmocka_unit_test(t_stoch),
        cmocka_unit_test(t_obv),
        cmocka_unit_test(t_random_vs_naive),
        cmocka_unit_test(t_warmup_defaults),
        cmocka_unit_test(t_prefix_causal),
        cmocka_unit_test(t_drift_after_outlier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
