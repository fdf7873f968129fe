// test_synth.c - synthetic market generator and its fast variates.
#include "testutil.h"

#include "core/rng.h"
#include "core/xtime.h"
#include "market/calendar.h"
#include "market/synth.h"
#include "market/synth_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T_2020 1577836800LL // 2020-01-01 00:00 UTC (a Wednesday)
#define T_DAY 86400LL

// ---- helpers

static void s_opts(xt_synth_opts *o, int64_t days, int patterns) {
    xt_synth_opts_default(o);
    o->start_ts = T_2020;
    o->end_ts = T_2020 + days * T_DAY;
    o->patterns = patterns;
}

static void s_gen(xt_bars *b, const xt_synth_opts *o) {
    xt_err e = {0};
    int rc = xt_synth_generate(b, NULL, 0, NULL, o, &e);
    if (rc) fail_msg("generate: %s", e.msg);
}

static void s_free(xt_bars *b, int n) {
    for (int i = 0; i < n; i++) xt_bars_free(&b[i]);
}

static int s_bars_equal(const xt_bars *a, const xt_bars *b) {
    if (a->n != b->n || a->tf_sec != b->tf_sec || strcmp(a->symbol, b->symbol) != 0) return 0;
    size_t n = (size_t)a->n;
    return memcmp(a->ts, b->ts, n * sizeof(int64_t)) == 0 && memcmp(a->open, b->open, n * 8) == 0 &&
           memcmp(a->high, b->high, n * 8) == 0 && memcmp(a->low, b->low, n * 8) == 0 &&
           memcmp(a->close, b->close, n * 8) == 0 && memcmp(a->volume, b->volume, n * 8) == 0;
}

// Close-to-close log returns of rows 1..n-1 into r (returns count).
static int64_t s_returns(const xt_bars *b, double *r) {
    for (int64_t i = 1; i < b->n; i++) r[i - 1] = log(b->close[i] / b->close[i - 1]);
    return b->n - 1;
}

static double s_corr(const double *x, const double *y, int64_t n) {
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (int64_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n, my /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

static double s_sd(const double *x, int64_t n) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return sqrt(v / (double)(n - 1));
}

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Kolmogorov-Smirnov distance of sorted samples against cdf.
static double s_ks(double *x, int n, double (*cdf)(double)) {
    qsort(x, (size_t)n, sizeof *x, s_cmp_double);
    double d = 0;
    for (int i = 0; i < n; i++) {
        double f = cdf(x[i]);
        d = fmax(d, fmax(fabs(f - (double)i / n), fabs(f - (double)(i + 1) / n)));
    }
    return d;
}
static double s_norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double s_exp_cdf(double x) { return x < 0 ? 0 : 1.0 - exp(-x); }

// ---- fast variates

static void t_ziggurat_normal(void **state) {
    (void)state;
    static xt_synth_rng t;
    xt_synth_rng_init(&t);
    // Layer edges: strictly decreasing to 0, the base strip wider than r.
    assert_true(t.nx[0] > t.nx[1]);
    for (int i = 1; i < XT_SYNTH_RNG_LAYERS; i++) assert_true(t.nx[i] > t.nx[i + 1]);
    assert_true(t.nx[XT_SYNTH_RNG_LAYERS - 1] < 0.3);
    enum { N = 400000 };
    double *x = malloc(N * sizeof *x);
    xt_rng r;
    xt_rng_seed(&r, 7);
    double m = 0, v = 0, k4 = 0;
    int tail = 0;
    for (int i = 0; i < N; i++) {
        x[i] = xt_synth_rng_normal(&t, &r);
        m += x[i], v += x[i] * x[i], k4 += x[i] * x[i] * x[i] * x[i];
        tail += fabs(x[i]) > 3.6541528853610088;
    }
    m /= N, v /= N, k4 /= N;
    assert_true(fabs(m) < 0.01);
    assert_true(fabs(v - 1.0) < 0.01);
    assert_true(fabs(k4 - 3.0) < 0.1);
    // P(|z| > r) = 2.58e-4 -> ~103 of 400k: the tail path is used and not over-used.
    assert_in_range(tail, 60, 150);
    // KS critical value at 1% is 1.63 / sqrt(N) = 0.0026.
    assert_true(s_ks(x, N, s_norm_cdf) < 0.0026);
    free(x);
}

static void t_ziggurat_exponential(void **state) {
    (void)state;
    static xt_synth_rng t;
    xt_synth_rng_init(&t);
    enum { N = 400000 };
    double *x = malloc(N * sizeof *x);
    xt_rng r;
    xt_rng_seed(&r, 11);
    double m = 0, v = 0;
    int tail = 0;
    for (int i = 0; i < N; i++) {
        x[i] = xt_synth_rng_exponential(&t, &r);
        assert_true(x[i] >= 0.0);
        m += x[i], v += (x[i] - 1) * (x[i] - 1);
        tail += x[i] > 7.69711747013104972;
    }
    assert_true(fabs(m / N - 1.0) < 0.01);
    assert_true(fabs(v / N - 1.0) < 0.02);
    assert_in_range(tail, 130, 240); // e^-7.697 * 400k = 181
    assert_true(s_ks(x, N, s_exp_cdf) < 0.0026);
    free(x);
}

// ---- names

static void t_universe_and_names(void **state) {
    (void)state;
    const char **names;
    int n = 0;
    assert_int_equal(xt_synth_universe(&names, &n), 6);
    assert_int_equal(n, 6);
    const char *want[6] = {"BTCUSD", "ETHUSD", "SOLUSD", "EURUSD", "GBPUSD", "USDJPY"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(names[i], want[i]);
        assert_int_equal(xt_synth_find(want[i]), i);
    }
    assert_int_equal(xt_synth_find("btc/usd"), 0);
    assert_int_equal(xt_synth_find("usd_jpy"), 5);
    assert_int_equal(xt_synth_find("XRPUSD"), -1);
    assert_int_equal(xt_synth_find("BTCUSDT"), -1);
    for (int k = 0; k < XT_PAT_COUNT; k++)
        for (int j = 0; j < k; j++) assert_true(strcmp(xt_pattern_name(k), xt_pattern_name(j)) != 0);
    assert_string_equal(xt_pattern_name(XT_PAT_HEAD_SHOULDERS), "head_shoulders");
    assert_string_equal(xt_pattern_name(XT_PAT_DOUBLE_BOTTOM), "double_bottom");
    assert_string_equal(xt_pattern_name(XT_PAT_COUNT), "unknown");
}

// ---- determinism

static void t_deterministic(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 60, 1);
    o.pattern_rate = 60;
    xt_bars a[6], b[6], c[6];
    xt_pattern_label la[256], lb[256];
    int na, nb;
    xt_err e;
    assert_int_equal(xt_synth_generate(a, la, 256, &na, &o, &e), 0);
    assert_int_equal(xt_synth_generate(b, lb, 256, &nb, &o, &e), 0);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(la, lb, (size_t)na * sizeof la[0]);
    for (int i = 0; i < 6; i++) assert_true(s_bars_equal(&a[i], &b[i]));
    // A different seed changes every asset.
    o.seed++;
    s_gen(c, &o);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c[i].n, a[i].n); // same calendar
        assert_true(memcmp(c[i].close, a[i].close, (size_t)a[i].n * 8) != 0);
    }
    s_free(a, 6), s_free(b, 6), s_free(c, 6);
}

// An asset's series does not depend on which other assets were asked for, nor their order.
static void t_subset_invariant(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 45, 1);
    o.pattern_rate = 60;
    xt_bars all[6], two[2];
    xt_pattern_label la[256], l2[256];
    int na, n2;
    xt_err e;
    assert_int_equal(xt_synth_generate(all, la, 256, &na, &o, &e), 0);
    const char *syms[2] = {"usd/jpy", "ETHUSD"};
    o.n_assets = 2, o.symbols = syms;
    assert_int_equal(xt_synth_generate(two, l2, 256, &n2, &o, &e), 0);
    assert_string_equal(two[0].symbol, "USDJPY"); // canonical name
    assert_true(s_bars_equal(&two[0], &all[5]));
    assert_true(s_bars_equal(&two[1], &all[1]));
    // Labels of out[0] are the full run's labels of asset 5, renumbered.
    int k = 0;
    for (int i = 0; i < na; i++) {
        if (la[i].asset != 5) continue;
        assert_true(k < n2);
        assert_int_equal(l2[k].asset, 0);
        assert_int_equal(l2[k].kind, la[i].kind);
        assert_int_equal(l2[k].start, la[i].start);
        assert_int_equal(l2[k].end, la[i].end);
        k++;
    }
    assert_true(k > 0);
    s_free(all, 6), s_free(two, 2);
}

// ---- invariants

static void t_invariants(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 1);
    o.pattern_rate = 40;
    o.start_ts = T_2020 + 7 * 60; // unaligned: the first bar is rounded up to 00:15
    xt_bars b[6];
    s_gen(b, &o);
    const double first_open[6] = {30000, 2000, 30, 1.10, 1.27, 140};
    int64_t steps = (o.end_ts - (T_2020 + 900)) / 900;
    xt_err e;
    for (int a = 0; a < 6; a++) {
        const xt_bars *x = &b[a];
        assert_int_equal(xt_bars_validate(x, &e), 0);
        assert_int_equal(x->tf_sec, 900);
        assert_int_equal(x->ts[0], T_2020 + 900);
        assert_true(x->open[0] == first_open[a]);
        int64_t expected = 0;
        for (int64_t s = 0; s < steps; s++) expected += xt_calendar_expects_bar(&x->cal, T_2020 + 900 + s * 900);
        assert_int_equal(x->n, expected); // every bar the calendar expects, nothing else
        for (int64_t i = 0; i < x->n; i++) {
            assert_true(x->low[i] > 0 && x->volume[i] > 0);
            assert_true(x->ts[i] % 900 == 0);
            // The intrabar range is never zero and never absurd (< 25% of the price).
            assert_true(x->high[i] > x->low[i] && x->high[i] < 1.25 * x->low[i]);
            if (i > 0 && x->ts[i] == x->ts[i - 1] + 900) assert_true(x->open[i] == x->close[i - 1]);
            if (x->cal.cls == XT_ASSET_FOREX) {
                int wd = xt_time_weekday(x->ts[i]);
                assert_true(wd < 5);
                assert_false(wd == 4 && xt_time_hour(x->ts[i]) >= 21);
            }
        }
        if (a < 3) assert_int_equal(x->n, steps);
        else assert_true(x->n < steps * 3 / 4);
    }
    s_free(b, 6);
}

// Forex reopens after the weekend with a gap; an open != previous close only happens there.
static void t_weekend_gap(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 120, 0);
    xt_bars b[6];
    s_gen(b, &o);
    const xt_bars *x = &b[3]; // EURUSD
    int gaps = 0, moved = 0;
    for (int64_t i = 1; i < x->n; i++) {
        if (x->ts[i] == x->ts[i - 1] + 900) continue;
        gaps++;
        assert_int_equal(xt_time_weekday(x->ts[i]), 0); // Monday 00:00
        assert_int_equal(x->ts[i] - x->ts[i - 1], 51 * 3600 + 900); // from Fri 20:45
        moved += x->open[i] != x->close[i - 1];
    }
    assert_in_range(gaps, 16, 18);
    assert_int_equal(moved, gaps);
    s_free(b, 6);
}

// ---- statistics

static void t_volatility_levels(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 0);
    xt_bars b[6], d[6];
    s_gen(b, &o);
    double *r = malloc((size_t)b[0].n * sizeof *r);
    // Per-15m sd: crypto 0.5-1%, forex 0.05-0.1% (brief), with some slack for regimes.
    const double lo[6] = {0.004, 0.005, 0.007, 0.0003, 0.0004, 0.0003};
    const double hi[6] = {0.007, 0.009, 0.013, 0.0008, 0.0009, 0.0009};
    double sd[6];
    for (int a = 0; a < 6; a++) {
        int64_t n = s_returns(&b[a], r);
        sd[a] = s_sd(r, n);
        assert_true(sd[a] > lo[a] && sd[a] < hi[a]);
        // Mean log range ~ 1.2-1.8 return sds (Brownian bridge: sqrt(8/pi) = 1.6).
        double rg = 0;
        for (int64_t i = 0; i < b[a].n; i++) rg += log(b[a].high[i] / b[a].low[i]);
        rg /= (double)b[a].n * sd[a];
        assert_true(rg > 1.2 && rg < 1.8);
    }
    // vol_scale multiplies volatility.
    o.vol_scale = 2.0;
    s_gen(d, &o);
    for (int a = 0; a < 6; a++) {
        int64_t n = s_returns(&d[a], r);
        double ratio = s_sd(r, n) / sd[a];
        assert_true(ratio > 1.8 && ratio < 2.2);
    }
    free(r);
    s_free(b, 6), s_free(d, 6);
}

static void t_correlation(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 0);
    xt_bars b[6];
    s_gen(b, &o);
    int64_t n = b[0].n;
    double *r[6];
    for (int a = 0; a < 6; a++) r[a] = malloc((size_t)n * sizeof(double));
    for (int a = 0; a < 6; a++) s_returns(&b[a], r[a]);
    double be = s_corr(r[0], r[1], n - 1);
    assert_true(be > 0.6 && be < 0.9);             // BTC-ETH ~0.8 shocks
    double eg = s_corr(r[3], r[4], b[3].n - 1);
    assert_true(eg > 0.35 && eg < 0.75);           // EURUSD-GBPUSD
    assert_true(s_corr(r[3], r[5], b[3].n - 1) < -0.1); // USDJPY against EURUSD
    // Crypto vs forex on the timestamps both printed: ~0.
    int64_t m = 0, j = 1;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 1; i < n && j < b[3].n; i++) {
        while (j < b[3].n && b[3].ts[j] < b[0].ts[i]) j++;
        if (j < b[3].n && b[3].ts[j] == b[0].ts[i] && b[3].ts[j - 1] == b[0].ts[i - 1])
            x[m] = r[0][i - 1], y[m] = r[3][j - 1], m++;
    }
    assert_true(m > 20000);
    assert_true(fabs(s_corr(x, y, m)) < 0.05);
    free(x), free(y);
    for (int a = 0; a < 6; a++) free(r[a]);
    s_free(b, 6);
}

// Volatility clustering: |returns| are autocorrelated (an i.i.d. model gives ~0).
static void t_vol_clustering(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 0);
    xt_bars b[6];
    s_gen(b, &o);
    double *r = malloc((size_t)b[0].n * sizeof *r);
    for (int a = 0; a < 6; a += 3) {
        int64_t n = s_returns(&b[a], r);
        for (int64_t i = 0; i < n; i++) r[i] = fabs(r[i]);
        double ac1 = s_corr(r, r + 1, n - 1), ac96 = s_corr(r, r + 96, n - 96);
        assert_true(ac1 > 0.1);
        assert_true(ac96 > 0.02); // still there a day later
    }
    free(r);
    s_free(b, 6);
}

static void t_session_volume(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 180, 0);
    xt_bars b[6];
    s_gen(b, &o);
    // EURUSD: London/NY overlap (13-16 UTC) vs after NY close (21-24 UTC, Mon-Thu).
    double busy = 0, quiet = 0;
    int nb = 0, nq = 0;
    for (int64_t i = 0; i < b[3].n; i++) {
        int h = xt_time_hour(b[3].ts[i]);
        if (h >= 13 && h < 16) busy += b[3].volume[i], nb++;
        if (h >= 21) quiet += b[3].volume[i], nq++;
    }
    assert_true(nb > 0 && nq > 0);
    assert_true(busy / nb > 3.0 * (quiet / nq));
    // USDJPY trades Tokyo|London: 00-08 busier than 16-21.
    double tk = 0, ny = 0;
    int nt = 0, nn = 0;
    for (int64_t i = 0; i < b[5].n; i++) {
        int h = xt_time_hour(b[5].ts[i]);
        if (h < 8) tk += b[5].volume[i], nt++;
        if (h >= 16 && h < 21) ny += b[5].volume[i], nn++;
    }
    assert_true(tk / nt > 1.5 * (ny / nn));
    // BTC: Saturday 00-04 UTC is the low-liquidity dip.
    double low = 0, rest = 0;
    int nl = 0, nr = 0;
    for (int64_t i = 0; i < b[0].n; i++) {
        if (xt_calendar_low_liquidity(b[0].ts[i])) low += b[0].volume[i], nl++;
        else rest += b[0].volume[i], nr++;
    }
    assert_true(nl == 26 * 16 || nl == 25 * 16);
    assert_true(low / nl < 0.6 * (rest / nr));
    s_free(b, 6);
}

// ---- patterns

static void t_labels(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 1);
    o.pattern_rate = 50;
    xt_bars b[6];
    enum { MAXL = 4096 };
    xt_pattern_label *l = malloc(MAXL * sizeof *l);
    int n;
    xt_err e;
    assert_int_equal(xt_synth_generate(b, l, MAXL, &n, &o, &e), 0);
    int seen[XT_PAT_COUNT] = {0};
    int64_t bars = 0;
    for (int a = 0; a < 6; a++) bars += b[a].n;
    // Expected 50 starts per 10k bars.
    double expect = 50.0 * (double)bars / 10000.0;
    assert_true(n > 0.8 * expect && n < 1.2 * expect);
    for (int i = 0; i < n; i++) {
        assert_in_range(l[i].asset, 0, 5);
        assert_in_range(l[i].kind, 0, XT_PAT_COUNT - 1);
        assert_true(l[i].start >= 0 && l[i].end < b[l[i].asset].n);
        assert_in_range(l[i].end - l[i].start + 1, XT_SYNTH_PATTERN_MIN_BARS, XT_SYNTH_PATTERN_MAX_BARS);
        if (i > 0 && l[i - 1].asset == l[i].asset) assert_true(l[i].start > l[i - 1].end); // ordered, disjoint
        if (i > 0) assert_true(l[i].asset >= l[i - 1].asset);
        seen[l[i].kind]++;
    }
    for (int k = 0; k < XT_PAT_COUNT; k++) assert_true(seen[k] > 0);

    // Patterns change the path only from their start: before the first label the bars equal a pattern-free run.
    xt_bars p[6];
    o.patterns = 0;
    s_gen(p, &o);
    for (int a = 0; a < 6; a++) {
        int64_t first = b[a].n;
        for (int i = 0; i < n; i++)
            if (l[i].asset == a && l[i].start < first) first = l[i].start;
        assert_true(first > 0);
        assert_memory_equal(b[a].close, p[a].close, (size_t)first * 8);
        assert_true(first == b[a].n || b[a].close[first] != p[a].close[first]);
    }
    free(l);
    s_free(b, 6), s_free(p, 6);
}

static double s_max_high(const xt_bars *b, int64_t from, int64_t to) {
    double m = b->high[from];
    for (int64_t i = from; i <= to; i++) m = fmax(m, b->high[i]);
    return m;
}
static double s_min_low(const xt_bars *b, int64_t from, int64_t to) {
    double m = b->low[from];
    for (int64_t i = from; i <= to; i++) m = fmin(m, b->low[i]);
    return m;
}

// Does the labelled window show its shape? Fractions of the window are u in [0, 1].
static int s_shape_ok(const xt_bars *b, const xt_pattern_label *l) {
    int64_t s = l->start, e = l->end, len = e - s + 1;
#define AT(u) (s + (int64_t)((u) * (double)(len - 1)))
    double o = b->open[s], c = b->close[e];
    switch (l->kind) {
    case XT_PAT_TREND_UP: return c > o;
    case XT_PAT_TREND_DOWN: return c < o;
    case XT_PAT_REVERSAL_UP: return b->close[AT(0.5)] < o && b->close[AT(0.5)] < c;
    case XT_PAT_REVERSAL_DOWN: return b->close[AT(0.5)] > o && b->close[AT(0.5)] > c;
    case XT_PAT_BREAKOUT_UP: return c > s_max_high(b, s, AT(0.7));
    case XT_PAT_BREAKOUT_DOWN: return c < s_min_low(b, s, AT(0.7));
    case XT_PAT_RANGE: return fabs(c - o) < 0.5 * (s_max_high(b, s, e) - s_min_low(b, s, e));
    case XT_PAT_HEAD_SHOULDERS: {
        // Head above both shoulders, and a close below the start (neckline broken).
        double left = s_max_high(b, s, AT(0.3)), head = s_max_high(b, AT(0.4), AT(0.6)),
               right = s_max_high(b, AT(0.7), e);
        return head > left && head > right && c < o;
    }
    case XT_PAT_INV_HEAD_SHOULDERS: {
        double left = s_min_low(b, s, AT(0.3)), head = s_min_low(b, AT(0.4), AT(0.6)),
               right = s_min_low(b, AT(0.7), e);
        return head < left && head < right && c > o;
    }
    case XT_PAT_DOUBLE_TOP: {
        // Two peaks above the middle trough, then a close below that trough.
        double p1 = s_max_high(b, AT(0.15), AT(0.35)), p2 = s_max_high(b, AT(0.65), AT(0.85));
        double mid = b->close[AT(0.5)];
        return p1 > mid && p2 > mid && c < mid;
    }
    case XT_PAT_DOUBLE_BOTTOM: {
        double t1 = s_min_low(b, AT(0.15), AT(0.35)), t2 = s_min_low(b, AT(0.65), AT(0.85));
        double mid = b->close[AT(0.5)];
        return t1 < mid && t2 < mid && c > mid;
    }
    default: return 0;
    }
#undef AT
}

static void t_pattern_shapes(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 1);
    o.pattern_rate = 60;
    xt_bars b[6];
    enum { MAXL = 4096 };
    xt_pattern_label *l = malloc(MAXL * sizeof *l);
    int n;
    xt_err e;
    assert_int_equal(xt_synth_generate(b, l, MAXL, &n, &o, &e), 0);
    int ok[XT_PAT_COUNT] = {0}, cnt[XT_PAT_COUNT] = {0};
    for (int i = 0; i < n; i++) {
        cnt[l[i].kind]++;
        ok[l[i].kind] += s_shape_ok(&b[l[i].asset], &l[i]);
    }
    for (int k = 0; k < XT_PAT_COUNT; k++) {
        assert_true(cnt[k] >= 20);
        if (ok[k] < 0.9 * cnt[k]) fail_msg("%s: shape seen in %d of %d labels", xt_pattern_name(k), ok[k], cnt[k]);
    }
    // Breakouts come with volume: the last 20% of the window trades more than the first 70%.
    int louder = 0, nbo = 0;
    for (int i = 0; i < n; i++) {
        if (l[i].kind != XT_PAT_BREAKOUT_UP && l[i].kind != XT_PAT_BREAKOUT_DOWN) continue;
        const xt_bars *x = &b[l[i].asset];
        int64_t s = l[i].start, len = l[i].end - s + 1, cut = s + len * 7 / 10, tail = s + len * 8 / 10;
        double v1 = 0, v2 = 0;
        for (int64_t k = s; k < cut; k++) v1 += x->volume[k];
        for (int64_t k = tail; k <= l[i].end; k++) v2 += x->volume[k];
        louder += v2 / (double)(l[i].end - tail + 1) > 1.3 * v1 / (double)(cut - s);
        nbo++;
    }
    assert_true(louder >= 0.8 * nbo);
    free(l);
    s_free(b, 6);
}

// ---- other timeframes

static void t_hourly_base(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 365, 0);
    o.tf_sec = 3600;
    xt_bars b[6];
    s_gen(b, &o);
    xt_err e;
    double *r = malloc((size_t)b[0].n * sizeof *r);
    assert_int_equal(b[0].n, 365 * 24);
    assert_int_equal(xt_bars_validate(&b[0], &e), 0);
    for (int64_t i = 0; i < b[3].n; i++) assert_true(b[3].ts[i] % 3600 == 0);
    // sqrt(time): the hourly sd is about twice the 15m one.
    double sd = s_sd(r, s_returns(&b[0], r));
    assert_true(sd > 0.008 && sd < 0.014);
    free(r);
    s_free(b, 6);
}

// ---- errors

static void t_errors(void **state) {
    (void)state;
    xt_synth_opts o;
    s_opts(&o, 30, 1);
    xt_bars b[6];
    xt_err e;
    const char *bad[2] = {"BTCUSD", "XRPUSD"};
    o.n_assets = 2, o.symbols = bad;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_ENOTFOUND);
    assert_string_equal(e.msg, "symbols[1]: unknown symbol \"XRPUSD\" (the synthetic universe is BTCUSD, "
                               "ETHUSD, SOLUSD, EURUSD, GBPUSD, USDJPY)");
    assert_int_equal(b[0].n, 0);
    assert_null(b[0].ts);
    const char *dup[2] = {"ETHUSD", "eth/usd"};
    o.symbols = dup;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_EINVAL);
    assert_string_equal(e.msg, "symbols[1]: \"eth/usd\" repeats symbols[0]");

    s_opts(&o, 30, 1);
    o.tf_sec = 700;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_EINVAL);
    assert_string_equal(e.msg, "synth.tf_sec: must be a multiple of 60 that divides 86400 (got 700)");
    s_opts(&o, 30, 1);
    o.end_ts = o.start_ts;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_EINVAL);
    assert_contains(e.msg, "synth.end_ts: must be after start_ts");
    s_opts(&o, 30, 1);
    o.n_assets = 7;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_EINVAL);
    assert_string_equal(e.msg, "synth.n_assets: must be between 1 and 6 (got 7)");
    s_opts(&o, 30, 1);
    o.vol_scale = 0;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_EINVAL);
    assert_string_equal(e.msg, "synth.vol_scale: must be above 0 and at most 10 (got 0)");
    s_opts(&o, 30, 1);
    o.pattern_rate = NAN;
    assert_int_equal(xt_synth_generate(b, NULL, 0, NULL, &o, &e), XT_EINVAL);
    assert_contains(e.msg, "synth.pattern_rate: must be between 0 and 1000");

    // Too few label slots: nothing generated, the count needed is reported, and a retry with it works.
    s_opts(&o, 90, 1);
    o.pattern_rate = 50;
    xt_pattern_label l[400];
    int need = -1;
    assert_int_equal(xt_synth_generate(b, l, 3, &need, &o, &e), XT_ERANGE);
    assert_true(need > 3 && need <= 400);
    assert_contains(e.msg, "patterns would be injected but max_labels is 3");
    for (int a = 0; a < 6; a++) assert_null(b[a].ts);
    int got = -1;
    assert_int_equal(xt_synth_generate(b, l, need, &got, &o, &e), 0);
    assert_int_equal(got, need);
    s_free(b, 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_ziggurat_normal),  cmocka_unit_test(t_ziggurat_exponential),
        cmocka_unit_test(t_universe_and_names), cmocka_unit_test(t_deterministic),
        cmocka_unit_test(t_subset_invariant), cmocka_unit_test(t_invariants),
        cmocka_unit_test(t_weekend_gap),      cmocka_unit_test(t_volatility_levels),
        cmocka_unit_test(t_correlation),      cmocka_unit_test(t_vol_clustering),
        cmocka_unit_test(t_session_volume),   cmocka_unit_test(t_labels),
        cmocka_unit_test(t_pattern_shapes),   cmocka_unit_test(t_hourly_base),
        cmocka_unit_test(t_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
