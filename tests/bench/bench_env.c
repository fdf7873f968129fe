// bench_env.c - single-core step throughput of the asset and portfolio envs.
//
// Batches of 256 envs on a synthetic random-walk market (15m bars), random
// actions drawn ahead of time (so the rate is the env's, not the RNG's),
// training mode with auto-resets, no info structs (what an actor runs).
// Rates are env steps per second of this thread's CPU time.
#include "benchutil.h"

#include "core/rng.h"
#include "env/asset_env.h"
#include "env/portfolio_env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 100000
#define BATCH 256

typedef struct {
    xt_env_market m;
    int64_t *ts;
    double *px[5 * XT_ENV_MAX_ASSETS];
    uint8_t *stale[XT_ENV_MAX_ASSETS];
    float *feat;
} mkt;

// k assets (crypto first, then forex), n_feat features, random walks; forex stale on weekends.
static void mkt_init(mkt *g, int k, const char **syms, int n_feat) {
    memset(g, 0, sizeof(*g));
    xt_rng r;
    xt_rng_seed(&r, 1);
    g->ts = malloc(sizeof(int64_t) * ROWS);
    for (int64_t t = 0; t < ROWS; t++) g->ts[t] = 1704067200LL + t * 900;
    for (int a = 0; a < k; a++) {
        double *o = malloc(sizeof(double) * ROWS), *h = malloc(sizeof(double) * ROWS);
        double *l = malloc(sizeof(double) * ROWS), *c = malloc(sizeof(double) * ROWS);
        double *atr = malloc(sizeof(double) * ROWS);
        uint8_t *st = calloc(ROWS, 1);
        xt_calendar_for_symbol(&g->m.cal[a], syms[a]);
        int fxa = g->m.cal[a].cls == XT_ASSET_FOREX;
        double p = 100.0, vol = fxa ? 0.0008 : 0.006;
        for (int64_t t = 0; t < ROWS; t++) {
            o[t] = p;
            if (fxa && !xt_calendar_expects_bar(&g->m.cal[a], g->ts[t])) st[t] = 1;
            else p *= exp(vol * xt_rng_normal(&r));
            c[t] = p;
            h[t] = fmax(o[t], c[t]) * (1.0 + 0.5 * vol * xt_rng_uniform(&r));
            l[t] = fmin(o[t], c[t]) * (1.0 - 0.5 * vol * xt_rng_uniform(&r));
            atr[t] = 1.5 * vol * p;
        }
        g->m.open[a] = o, g->m.high[a] = h, g->m.low[a] = l, g->m.close[a] = c, g->m.atr[a] = atr;
        g->m.stale[a] = st;
        g->px[5 * a] = o, g->px[5 * a + 1] = h, g->px[5 * a + 2] = l, g->px[5 * a + 3] = c, g->px[5 * a + 4] = atr;
        g->stale[a] = st;
        snprintf(g->m.symbol[a], sizeof(g->m.symbol[a]), "%s", syms[a]);
        g->m.vol_baseline[a] = vol;
    }
    g->feat = malloc(sizeof(float) * (size_t)ROWS * (size_t)n_feat);
    for (size_t i = 0; i < (size_t)ROWS * (size_t)n_feat; i++) g->feat[i] = (float)xt_rng_normal(&r);
    g->m.k = k, g->m.n = ROWS, g->m.tf_sec = 900, g->m.ts = g->ts;
    g->m.feat = g->feat, g->m.n_feat = n_feat, g->m.first_row = 300;
}

static void mkt_free(mkt *g) {
    for (int i = 0; i < 5 * XT_ENV_MAX_ASSETS; i++) free(g->px[i]);
    for (int a = 0; a < XT_ENV_MAX_ASSETS; a++) free(g->stale[a]);
    free(g->ts), free(g->feat);
}

static int s_die(const xt_err *err) {
    fprintf(stderr, "bench_env: %s\n", err->msg);
    return 1;
}

// Steps until at least min_s of CPU time passed; returns env steps per CPU second.
static double s_asset_rate(xt_asset_env *e, int od, int na, double min_s) {
    float *obs = malloc(sizeof(float) * BATCH * (size_t)od), *rew = malloc(sizeof(float) * BATCH);
    uint8_t *mask = malloc(BATCH * (size_t)na), *term = malloc(BATCH), *trunc = malloc(BATCH);
    enum { TABLE = 1 << 16 };
    int32_t *acts = malloc(sizeof(int32_t) * (TABLE + BATCH));
    xt_rng r;
    xt_rng_seed(&r, 2);
    // A policy that changes its mind every ~8 bars per env.
    int32_t a = 2;
    for (int i = 0; i < TABLE + BATCH; i++) {
        if (xt_rng_below(&r, 8) == 0) a = (int32_t)xt_rng_below(&r, (uint64_t)na);
        acts[i] = a;
    }
    xt_env_io io = {obs, rew, term, trunc, mask, NULL};
    xt_asset_env_reset(e, obs, mask);
    for (int w = 0; w < 200; w++) xt_asset_env_step(e, acts + (w * 97) % TABLE, &io, NULL);
    double t0 = xt_bench_thread_cpu(), dt = 0.0;
    int64_t steps = 0;
    while (dt < min_s) {
        for (int it = 0; it < 1000; it++) xt_asset_env_step(e, acts + ((steps / BATCH + it) * 97) % TABLE, &io, NULL);
        steps += 1000LL * BATCH;
        dt = xt_bench_thread_cpu() - t0;
    }
    free(obs), free(rew), free(mask), free(term), free(trunc), free(acts);
    return (double)steps / dt;
}

static double s_portfolio_rate(xt_portfolio_env *e, int od, int K, double min_s) {
    float *obs = malloc(sizeof(float) * BATCH * (size_t)od), *rew = malloc(sizeof(float) * BATCH);
    uint8_t *mask = malloc(BATCH * (size_t)(K + 1)), *term = malloc(BATCH), *trunc = malloc(BATCH);
    enum { TABLE = 1 << 16 };
    float *lg = malloc(sizeof(float) * (size_t)(TABLE + BATCH) * (size_t)(K + 1));
    xt_rng r;
    xt_rng_seed(&r, 3);
    for (size_t i = 0; i < (size_t)(TABLE + BATCH) * (size_t)(K + 1); i++) lg[i] = (float)xt_rng_normal(&r);
    xt_env_io io = {obs, rew, term, trunc, mask, NULL};
    xt_portfolio_env_reset(e, obs, mask);
    double t0 = xt_bench_thread_cpu(), dt = 0.0;
    int64_t steps = 0;
    while (dt < min_s) {
        for (int it = 0; it < 200; it++) {
            size_t off = (size_t)(((steps / BATCH + it) * 131) % TABLE) * (size_t)(K + 1);
            xt_portfolio_env_step(e, lg + off, &io, NULL);
        }
        steps += 200LL * BATCH;
        dt = xt_bench_thread_cpu() - t0;
    }
    free(obs), free(rew), free(mask), free(term), free(trunc), free(lg);
    return (double)steps / dt;
}

int main(void) {
    xt_bench_header("env step throughput (one core)");
    xt_err err = {0};
    xt_env_params p;
    xt_env_params_default(&p);
    xt_env_setup s;

    const char *one[1] = {"BTCUSDT"};
    mkt g1;
    mkt_init(&g1, 1, one, 16);
    xt_env_setup_default(&s, &g1.m);
    s.n_envs = BATCH, s.seed = 1;
    p.n_symbols = 7, p.n_timeframes = 4, s.symbol_id = 0, s.tf_id = 1;
    xt_asset_env *ae = NULL;
    if (xt_asset_env_new(&ae, &g1.m, &p, &s, &err)) return s_die(&err);
    double ar = s_asset_rate(ae, xt_asset_env_obs_dim(&p, &g1.m), xt_asset_env_n_actions(&p), 2.0);
    xt_bench_record("env_asset_steps_per_s_core", ar, "steps/s", "batch 256, n_feat 16, 15m, 5 levels");
    xt_asset_env_destroy(&ae);
    mkt_free(&g1);

    const char *six[6] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "EURUSD", "GBPUSD", "USDJPY"};
    mkt g6;
    mkt_init(&g6, 6, six, 89);
    xt_env_params_default(&p);
    xt_env_setup_default(&s, &g6.m);
    s.n_envs = BATCH, s.seed = 1;
    xt_portfolio_env *pe = NULL;
    if (xt_portfolio_env_new(&pe, &g6.m, &p, &s, &err)) return s_die(&err);
    double pr = s_portfolio_rate(pe, xt_portfolio_env_obs_dim(&g6.m), 6, 2.0);
    xt_bench_record("env_portfolio_steps_per_s_core", pr, "steps/s", "batch 256, K 6, n_feat 89 (obs 97), 15m");
    xt_portfolio_env_destroy(&pe);
    mkt_free(&g6);
    return 0;
}
