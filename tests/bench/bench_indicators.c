// bench_indicators.c - rows/s of each indicator and of the whole set over 1M
// bars, single thread (thread CPU time, best of several runs). The feature
// builder's budget is >= 2M rows/s for everything, so each indicator should be
// well above 20M rows/s.
#include "benchutil.h"

#include "core/rng.h"
#include "market/indicators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 1000000, REPS = 7, OUTS = 4 };

typedef struct {
    double *h, *l, *c, *v;
    double *out[OUTS];
} bench_data;

typedef void (*bench_fn)(bench_data *d);

static void b_sma(bench_data *d) { xt_ind_sma(d->out[0], d->c, N, 20); }
static void b_ema(bench_data *d) { xt_ind_ema(d->out[0], d->c, N, 20); }
static void b_rsi(bench_data *d) { xt_ind_rsi(d->out[0], d->c, N, 14); }
static void b_atr(bench_data *d) { xt_ind_atr(d->out[0], d->h, d->l, d->c, N, 14); }
static void b_adx(bench_data *d) { xt_ind_adx(d->out[0], d->out[1], d->out[2], d->h, d->l, d->c, N, 14); }
static void b_macd(bench_data *d) { xt_ind_macd(d->out[0], d->out[1], d->out[2], d->c, N, 12, 26, 9); }
static void b_bbands(bench_data *d) {
    xt_ind_bbands(d->out[0], d->out[1], d->out[2], d->out[3], d->c, N, 20, 2.0);
}
static void b_cci(bench_data *d) { xt_ind_cci(d->out[0], d->h, d->l, d->c, N, 20); }
static void b_stoch(bench_data *d) {
    xt_ind_stoch(d->out[0], d->out[1], d->out[2], d->h, d->l, d->c, N, 14, 3, 3);
}
static void b_obv(bench_data *d) { xt_ind_obv(d->out[0], d->c, d->v, N); }
static void b_vol_sma(bench_data *d) { xt_ind_sma(d->out[0], d->v, N, 20); }

static const struct {
    const char *name;
    bench_fn fn;
} BENCHES[] = {
    {"indicators_sma20_rows_per_s", b_sma},        {"indicators_ema20_rows_per_s", b_ema},
    {"indicators_rsi14_rows_per_s", b_rsi},        {"indicators_atr14_rows_per_s", b_atr},
    {"indicators_adx14_rows_per_s", b_adx},        {"indicators_macd_rows_per_s", b_macd},
    {"indicators_bbands20_rows_per_s", b_bbands},  {"indicators_cci20_rows_per_s", b_cci},
    {"indicators_stoch14_rows_per_s", b_stoch},    {"indicators_obv_rows_per_s", b_obv},
    {"indicators_volume_sma20_rows_per_s", b_vol_sma},
};
#define NBENCH ((int)(sizeof BENCHES / sizeof BENCHES[0]))

// Best-of-REPS thread CPU seconds for fn.
static double s_time(bench_fn fn, bench_data *d) {
    double best = INFINITY;
    for (int r = 0; r < REPS; r++) {
        double t0 = xt_bench_thread_cpu();
        fn(d);
        double t = xt_bench_thread_cpu() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void b_all(bench_data *d) {
    for (int b = 0; b < NBENCH; b++) BENCHES[b].fn(d);
}

int main(void) {
    bench_data d;
    double *mem = malloc((size_t)N * (4 + OUTS) * sizeof(double));
    if (!mem) {
        fprintf(stderr, "bench_indicators: out of memory\n");
        return 1;
    }
    d.h = mem, d.l = mem + N, d.c = mem + 2 * (size_t)N, d.v = mem + 3 * (size_t)N;
    for (int j = 0; j < OUTS; j++) d.out[j] = mem + (size_t)(4 + j) * N;
    // Geometric random walk bars (15m-like volatility).
    xt_rng r;
    xt_rng_seed(&r, 1);
    double p = 100.0;
    for (int i = 0; i < N; i++) {
        double o = p;
        p *= exp(0.003 * xt_rng_normal(&r));
        d.c[i] = p;
        d.h[i] = fmax(o, p) * (1.0 + 0.002 * xt_rng_uniform(&r));
        d.l[i] = fmin(o, p) * (1.0 - 0.002 * xt_rng_uniform(&r));
        d.v[i] = 1000.0 * xt_rng_uniform(&r);
    }
    xt_bench_header("indicators (1M bars, one thread, best of 7)");
    const char *cfg = "n=1000000 single-thread";
    for (int b = 0; b < NBENCH; b++) xt_bench_record(BENCHES[b].name, N / s_time(BENCHES[b].fn, &d), "rows/s", cfg);
    xt_bench_record("indicators_all_rows_per_s", N / s_time(b_all, &d), "rows/s",
                    "n=1000000 single-thread; sma,ema,rsi,atr,adx,macd,bbands,cci,stoch,obv,volume sma");
    // Keep the outputs observable so nothing is optimised away.
    double chk = 0;
    for (int j = 0; j < OUTS; j++) chk += isfinite(d.out[j][N - 1]) ? d.out[j][N - 1] : 0;
    printf("checksum %.6g\n", chk);
    free(mem);
    return 0;
}
