// test_portfolio_env.c - the K-asset + cash env: exact projection cases,
// fees and slippage to the cent, the masked softmax, constraints over 1M
// random actions (caps, cash floor, clusters, positions, frozen weights, no
// forex fill outside its sessions), stops, terminal rules, determinism, no
// look-ahead, observation layout and the portfolio baselines.
#include "testutil.h"

#include "core/rng.h"
#include "core/xtime.h"
#include "env/baseline.h"
#include "env/portfolio_env.h"
#include "env/risk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MON_2024_01_01 1704067200LL // Monday 00:00 UTC
#define CENT_EQ(x, y) assert_true(fabs((x) - (y)) < 1e-6)
#define NEAR(x, y) assert_true(fabs((x) - (y)) < 1e-12)

// ---- fixture: a hand-built K-asset market on one timeline

typedef struct {
    xt_env_market m;
    int64_t *ts;
    double *o[XT_ENV_MAX_ASSETS], *h[XT_ENV_MAX_ASSETS], *l[XT_ENV_MAX_ASSETS], *c[XT_ENV_MAX_ASSETS];
    double *atr[XT_ENV_MAX_ASSETS];
    uint8_t *stale[XT_ENV_MAX_ASSETS];
    float *feat;
} fx;

// n bars from t0; every asset flat at px[a] with atr = close / 100; feature j of row r = r + j / 10.
static void fx_init(fx *f, int k, const char **syms, const double *px, int64_t n, int tf, int64_t t0, int nf) {
    memset(f, 0, sizeof(*f));
    xt_env_market *m = &f->m;
    f->ts = calloc((size_t)n, sizeof(int64_t));
    f->feat = calloc((size_t)(n * nf) + 1, sizeof(float));
    for (int64_t r = 0; r < n; r++) {
        f->ts[r] = t0 + r * tf;
        for (int j = 0; j < nf; j++) f->feat[r * nf + j] = (float)r + (float)j / 10.0f;
    }
    for (int a = 0; a < k; a++) {
        f->o[a] = calloc((size_t)n, sizeof(double)), f->h[a] = calloc((size_t)n, sizeof(double));
        f->l[a] = calloc((size_t)n, sizeof(double)), f->c[a] = calloc((size_t)n, sizeof(double));
        f->atr[a] = calloc((size_t)n, sizeof(double));
        f->stale[a] = calloc((size_t)n, 1);
        for (int64_t r = 0; r < n; r++) {
            f->o[a][r] = f->h[a][r] = f->l[a][r] = f->c[a][r] = px[a];
            f->atr[a][r] = px[a] / 100.0;
        }
        m->open[a] = f->o[a], m->high[a] = f->h[a], m->low[a] = f->l[a], m->close[a] = f->c[a];
        m->atr[a] = f->atr[a], m->stale[a] = f->stale[a];
        xt_calendar_for_symbol(&m->cal[a], syms[a]);
        snprintf(m->symbol[a], sizeof(m->symbol[a]), "%s", syms[a]);
        m->vol_baseline[a] = m->cal[a].cls == XT_ASSET_FOREX ? 0.001 : 0.01;
    }
    m->k = k, m->n = n, m->tf_sec = tf, m->ts = f->ts;
    m->feat = f->feat, m->n_feat = nf, m->first_row = 0;
}

static void fx_bar(fx *f, int a, int64_t r, double o, double c, double h, double l) {
    f->o[a][r] = o, f->c[a][r] = c;
    f->h[a][r] = h > 0.0 ? h : fmax(o, c);
    f->l[a][r] = l > 0.0 ? l : fmin(o, c);
    f->atr[a][r] = c / 100.0;
}

static void fx_free(fx *f) {
    for (int a = 0; a < f->m.k; a++)
        free(f->o[a]), free(f->h[a]), free(f->l[a]), free(f->c[a]), free(f->atr[a]), free(f->stale[a]);
    free(f->ts), free(f->feat);
}

typedef struct {
    xt_portfolio_env *e;
    int N, K, od;
    float *obs, *fin, *rew;
    uint8_t *mask, *term, *trunc;
    xt_portfolio_info *info;
    xt_env_io io;
} rig;

static void rig_new(rig *g, const xt_env_market *m, const xt_env_params *p, const xt_env_setup *s) {
    xt_err err = {0};
    memset(g, 0, sizeof(*g));
    if (xt_portfolio_env_new(&g->e, m, p, s, &err)) fail_msg("xt_portfolio_env_new: %s", err.msg);
    int N = g->N = s->n_envs;
    g->K = m->k, g->od = xt_portfolio_env_obs_dim(m);
    g->obs = calloc((size_t)(N * g->od), sizeof(float)), g->fin = calloc((size_t)(N * g->od), sizeof(float));
    g->rew = calloc((size_t)N, sizeof(float));
    g->mask = calloc((size_t)(N * (g->K + 1)), 1), g->term = calloc((size_t)N, 1), g->trunc = calloc((size_t)N, 1);
    g->info = calloc((size_t)N, sizeof(xt_portfolio_info));
    g->io = (xt_env_io){g->obs, g->rew, g->term, g->trunc, g->mask, g->fin};
    xt_portfolio_env_reset(g->e, g->obs, g->mask);
}

static void rig_w(rig *g, const double *w) { xt_portfolio_env_step_weights(g->e, w, &g->io, g->info); }

static void rig_free(rig *g) {
    xt_portfolio_env_destroy(&g->e);
    free(g->obs), free(g->fin), free(g->rew), free(g->mask), free(g->term), free(g->trunc), free(g->info);
}

static void setup_eval(xt_env_setup *s, const xt_env_market *m) {
    xt_env_setup_default(s, m);
    s->eval = 1;
}

static void limits(xt_risk_limits *L, int n, double cap, double min_cash) {
    memset(L, 0, sizeof(*L));
    L->n = n, L->min_cash = min_cash, L->cluster_cap = 1.0;
    for (int a = 0; a < n; a++) L->cap[a] = cap;
}

// ---- the projection, hand-worked

static void t_projection_cases(void **state) {
    (void)state;
    xt_risk_limits L;
    double w[5], cur[5] = {0, 0, 0, 1};
    // Caps bind in turn: BTC 0.7 -> 0.4, then ETH 0.2 * 2 -> 0.4; the rest doubles.
    limits(&L, 3, 0.4, 0.05);
    double v1[4] = {0.7, 0.2, 0.05, 0.05};
    xt_risk_project(w, v1, cur, 7u, NULL, &L);
    NEAR(w[0], 0.4), NEAR(w[1], 0.4), NEAR(w[2], 0.1), NEAR(w[3], 0.1);
    // Cash floor binds: assets share 0.95 in proportion.
    double v2[4] = {0.35, 0.35, 0.29, 0.01};
    xt_risk_project(w, v2, cur, 7u, NULL, &L);
    NEAR(w[0], 0.35 * 0.95 / 0.99), NEAR(w[1], 0.35 * 0.95 / 0.99), NEAR(w[2], 0.29 * 0.95 / 0.99);
    NEAR(w[3], 0.05);
    // A correlated cluster {0, 1} shares a 0.4 cap: G(s) = min(0.4, 0.6 s) + 0.4 s = 1 -> s = 1.5.
    uint8_t cl[3] = {0, 0, 2};
    L.cluster_cap = 0.4;
    double v3[4] = {0.3, 0.3, 0.1, 0.3};
    xt_risk_project(w, v3, cur, 7u, cl, &L);
    NEAR(w[0], 0.2), NEAR(w[1], 0.2), NEAR(w[2], 0.15), NEAR(w[3], 0.45);
    // A frozen member uses up its cluster's cap: 0.3 frozen leaves 0.1 for asset 1.
    double cur4[4] = {0.3, 0.0, 0.0, 0.7};
    double v4[4] = {0.0, 0.5, 0.1, 0.1};
    xt_risk_project(w, v4, cur4, 6u, cl, &L);
    assert_true(w[0] == 0.3);
    NEAR(w[1], 0.1);
    NEAR(w[2] + w[3], 0.6);
    NEAR(w[2] / w[3], 1.0);
    // Frozen weights above the cap stay; over 1 - min_cash leaves cash with the rest.
    L.cluster_cap = 1.0;
    double cur5[4] = {0.5, 0.47, 0.0, 0.03}, v5[4] = {0, 0, 0.9, 0.1};
    xt_risk_project(w, v5, cur5, 4u, NULL, &L);
    assert_true(w[0] == 0.5 && w[1] == 0.47 && w[2] == 0.0);
    NEAR(w[3], 0.03);
}

static void t_rebalance_rules(void **state) {
    (void)state;
    xt_risk_limits L;
    limits(&L, 3, 0.4, 0.05);
    double w[4], cash[4] = {0, 0, 0, 1};
    // Masked softmax: asset 0 masked at a drifted 0.5; the free budget 0.5 splits 0.5 : 0.3 : 0.2.
    double cur[4] = {0.5, 0.1, 0.1, 0.3}, want[4] = {9.0, 5.0, 3.0, 2.0};
    xt_risk_rebalance(w, cur, want, 6u, NULL, 1e6, &L);
    assert_true(w[0] == 0.5);
    NEAR(w[1], 0.25), NEAR(w[2], 0.15), NEAR(w[3], 0.1);
    // Max positions 2: the smallest want is dropped and its share re-spread.
    L.max_positions = 2;
    double want2[4] = {0.3, 0.2, 0.1, 0.4};
    xt_risk_rebalance(w, cash, want2, 7u, NULL, 1e6, &L);
    NEAR(w[0], 0.3 / 0.9), NEAR(w[1], 0.2 / 0.9), assert_true(w[2] == 0.0), NEAR(w[3], 0.4 / 0.9);
    // A held frozen asset counts: only one free position remains.
    double cur3[4] = {0.2, 0.0, 0.0, 0.8};
    xt_risk_rebalance(w, cur3, want2, 6u, NULL, 1e6, &L);
    assert_true(w[0] == 0.2 && w[2] == 0.0);
    NEAR(w[1], 0.8 * 0.2 / 0.6);
    L.max_positions = 0;
    // Dust: 0.5% of 10000 = 50 < min_position 100 goes to cash.
    L.min_position = 100.0, L.min_trade = 100.0;
    double want4[4] = {0.3, 0.005, 0.3, 0.395};
    xt_risk_rebalance(w, cash, want4, 7u, NULL, 10000.0, &L);
    assert_true(w[1] == 0.0);
    NEAR(w[3], 0.4);
    // Min trade: +0.5% ($50) buy and -0.5% sell are skipped; cash absorbs.
    double cur5[4] = {0.3, 0.3, 0.1, 0.3}, want5[4] = {0.305, 0.295, 0.2, 0.2};
    xt_risk_rebalance(w, cur5, want5, 7u, NULL, 10000.0, &L);
    assert_true(w[0] == 0.3 && w[1] == 0.3);
    NEAR(w[2], 0.2), NEAR(w[3], 0.2);
    // ... but a small sell is not skipped when it would leave the cash floor broken.
    double cur6[4] = {0.3, 0.3, 0.355, 0.045}, want6[4] = {0.3, 0.3, 0.35, 0.05};
    xt_risk_rebalance(w, cur6, want6, 7u, NULL, 10000.0, &L);
    assert_true(w[0] == 0.3 && w[1] == 0.3);
    assert_true(w[3] >= 0.05 - 1e-15);
    NEAR(w[2], 0.35);
    // ... nor when the current weight drifted above its cap.
    double cur7[4] = {0.403, 0.2, 0.2, 0.197}, want7[4] = {0.5, 0.2, 0.2, 0.1};
    xt_risk_rebalance(w, cur7, want7, 7u, NULL, 10000.0, &L);
    assert_true(w[0] <= 0.4);
}

// ---- fees and slippage, hand-worked

static void t_costs_to_the_cent(void **state) {
    (void)state;
    const char *syms[2] = {"BTCUSDT", "EURUSD"};
    double px[2] = {100.0, 1.25};
    fx f;
    fx_init(&f, 2, syms, px, 4, 3600, MON_2024_01_01 + 13 * 3600, 1); // Monday 13:00: London + NY
    fx_bar(&f, 0, 1, 100, 110, 0, 0);
    fx_bar(&f, 1, 1, 1.25, 1.30, 0, 0);
    fx_bar(&f, 0, 2, 110, 110, 0, 0);
    fx_bar(&f, 1, 2, 1.30, 1.30, 0, 0);
    xt_env_params p;
    xt_env_params_default(&p);
    p.slip_bps[XT_ASSET_CRYPTO] = 10.0, p.slip_bps[XT_ASSET_FOREX] = 5.0, p.slip_atr_k = 0.1;
    p.stop_loss_atr = p.take_profit_atr = 0.0;
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    xt_portfolio_info *in = g.info;
    double w1[3] = {0.4, 0.4, 0.2};
    rig_w(&g, w1);
    // BTC: 40 units at 100 * 1.002 (fee 4.008, slippage 8); EUR: 3200 at 1.25 * 1.0015 (fee 2.003, slippage 6).
    NEAR(in->w_exec[0], 0.4), NEAR(in->w_exec[1], 0.4), NEAR(in->w_exec[2], 0.2);
    CENT_EQ(in->fill_units[0], 40.0), CENT_EQ(in->fill_price[0], 100.2);
    CENT_EQ(in->fill_units[1], 3200.0), CENT_EQ(in->fill_price[1], 1.251875);
    CENT_EQ(in->fee, 6.011);
    CENT_EQ(in->slippage, 14.0);
    CENT_EQ(in->equity, 1979.989 + 40 * 110.0 + 3200 * 1.30);
    CENT_EQ(in->w_close[2], 1979.989 / 10539.989);
    // All to cash at row 2's open: 40 at 110 * 0.998, 3200 at 1.30 * 0.9985.
    double w2[3] = {0.0, 0.0, 1.0};
    rig_w(&g, w2);
    CENT_EQ(in->fill_price[0], 109.78), CENT_EQ(in->fill_price[1], 1.29805);
    CENT_EQ(in->fee, 4.3912 + 2.07688);
    CENT_EQ(in->slippage, 8.8 + 6.24);
    CENT_EQ(in->equity, 10518.48092);
    assert_int_equal(in->trades_closed, 2);
    rig_w(&g, w2); // to the window's end
    assert_int_equal(g.trunc[0], 1);
    const xt_metrics *mt = xt_portfolio_env_episode_metrics(g.e, 0);
    assert_int_equal(mt->trades, 2);
    CENT_EQ(mt->avg_win, (374.8008 + 143.68012) / 2.0);
    CENT_EQ(mt->fees, 6.011 + 4.3912 + 2.07688);
    rig_free(&g);
    fx_free(&f);
}

// ---- masked softmax over logits

static void t_masked_softmax(void **state) {
    (void)state;
    const char *syms[3] = {"BTCUSDT", "ETHUSDT", "EURUSD"};
    double px[3] = {100.0, 50.0, 1.25};
    fx f;
    fx_init(&f, 3, syms, px, 10, 3600, MON_2024_01_01 + 4 * 86400 + 19 * 3600, 1); // Friday 19:00
    fx_bar(&f, 2, 1, 1.25, 1.30, 0, 0); // EUR drifts up after the buy
    fx_bar(&f, 2, 2, 1.30, 1.30, 0, 0);
    xt_env_params p;
    xt_env_params_default(&p);
    p.corr_limit = 1.0;
    p.stop_loss_atr = p.take_profit_atr = 0.0; // the 4% EUR move would hit its take-profit
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    assert_int_equal(g.mask[2], 1); // Friday 20:00 open: NY
    float lg[4] = {0.0f, 0.0f, 1.0f, 0.0f};
    xt_portfolio_env_step(g.e, lg, &g.io, g.info);
    // softmax {1, 1, e, 1}: EUR = e / (3 + e) = 0.475 -> capped at 0.4, the rest spread proportionally.
    NEAR(g.info->w_want[2], exp(1.0) / (3.0 + exp(1.0)));
    NEAR(g.info->w_exec[2], 0.4);
    NEAR(g.info->w_exec[0], 0.2), NEAR(g.info->w_exec[1], 0.2), NEAR(g.info->w_exec[3], 0.2);
    // Row 1 (Friday 20:00): the next open, 21:00, is closed for EUR.
    assert_int_equal(g.mask[2], 0);
    assert_int_equal(g.mask[3], 1);
    double eur_units = g.info->units[2];
    float lg2[4] = {0.0f, 1.0f, 10.0f, 0.0f};
    xt_portfolio_env_step(g.e, lg2, &g.io, g.info);
    // EUR is frozen at its drifted weight; BTC, ETH and cash share the rest 1 : e : 1.
    assert_true(g.info->w_exec[2] == g.info->w_pre[2]);
    assert_true(g.info->w_want[2] == g.info->w_pre[2]);
    assert_true(g.info->w_pre[2] > 0.4); // drifted above the cap, kept while masked
    assert_true(g.info->units[2] == eur_units && g.info->fill_units[2] == 0.0);
    double share = (1.0 - g.info->w_pre[2]) / (2.0 + exp(1.0));
    NEAR(g.info->w_want[0], share), NEAR(g.info->w_want[1], share * exp(1.0)), NEAR(g.info->w_want[3], share);
    NEAR(g.info->w_exec[0], share), NEAR(g.info->w_exec[1], share * exp(1.0)), NEAR(g.info->w_exec[3], share);
    // A NaN logit is flagged and treated as -logit_clip.
    float lg3[4] = {NAN, 0.0f, 0.0f, 0.0f};
    xt_portfolio_env_step(g.e, lg3, &g.io, g.info);
    assert_int_equal(g.info->invalid, 1);
    assert_true(g.info->w_exec[0] == 0.0);
    rig_free(&g);
    fx_free(&f);
}

// ---- constraints under random actions

static void random_market(fx *f, uint64_t seed) {
    xt_rng r;
    xt_rng_seed(&r, seed);
    double px[4] = {100.0, 50.0, 1.1, 150.0}, vol[4] = {0.006, 0.007, 0.0008, 0.0008};
    for (int64_t t = 0; t < f->m.n; t++) {
        double common = xt_rng_normal(&r);
        for (int a = 0; a < f->m.k; a++) {
            int fxa = f->m.cal[a].cls == XT_ASSET_FOREX;
            // Forex has no bars on weekends: forward-filled and stale.
            if (fxa && xt_time_weekday(f->ts[t]) >= 5) {
                double c = f->c[a][t - 1 >= 0 ? t - 1 : 0];
                f->o[a][t] = f->h[a][t] = f->l[a][t] = f->c[a][t] = c;
                f->atr[a][t] = f->atr[a][t > 0 ? t - 1 : 0];
                f->stale[a][t] = 1;
                continue;
            }
            double z = a < 2 ? 0.9 * common + 0.436 * xt_rng_normal(&r) : xt_rng_normal(&r);
            if (a < 2 && t % 400 > 300) z = xt_rng_normal(&r); // decorrelated stretches
            double o = px[a];
            px[a] *= exp(vol[a] * z);
            double hi = fmax(o, px[a]) * (1.0 + vol[a] * xt_rng_uniform(&r));
            double lo = fmin(o, px[a]) * (1.0 - vol[a] * xt_rng_uniform(&r));
            fx_bar(f, a, t, o, px[a], hi, lo);
            f->atr[a][t] = 1.5 * vol[a] * px[a];
        }
        for (int j = 0; j < f->m.n_feat; j++) f->feat[t * f->m.n_feat + j] = (float)xt_rng_normal(&r);
    }
}

static void t_constraints_random(void **state) {
    (void)state;
    const char *syms[4] = {"BTCUSDT", "ETHUSDT", "EURUSD", "USDJPY"};
    double px[4] = {100.0, 50.0, 1.1, 150.0};
    fx f;
    const int64_t n = 4 * 7 * 96; // four weeks of 15m bars
    fx_init(&f, 4, syms, px, n, 900, MON_2024_01_01, 5);
    random_market(&f, 21);
    xt_env_params p;
    xt_env_params_default(&p);
    p.max_positions = 3, p.corr_cap = 0.5, p.episode_length = 600;
    xt_env_setup s;
    xt_env_setup_default(&s, &f.m);
    s.n_envs = 64, s.seed = 4;
    rig g;
    rig_new(&g, &f.m, &p, &s);
    const int K = 4, N = 64;
    // The clusters the env uses, recomputed independently of its tables.
    uint8_t *labels = malloc((size_t)(n * K)), *clustered = malloc((size_t)n);
    int assets[4] = {0, 1, 2, 3};
    assert_int_equal(xt_risk_corr_clusters(labels, clustered, &f.m, assets, K, 0, n, p.corr_window, p.corr_limit), 0);
    const int64_t total = 1000000;
    float *lg = malloc(sizeof(float) * (size_t)(N * (K + 1)));
    double prev_units[64][4] = {{0}};
    xt_rng r;
    xt_rng_seed(&r, 8);
    int64_t n_masked = 0, n_cluster_bind = 0, n_cash_floor = 0, n_stops = 0, n_pos_limit = 0, n_fx_closed = 0;
    for (int64_t step = 0; step * N < total; step++) {
        for (int i = 0; i < N * (K + 1); i++) {
            double u = xt_rng_uniform(&r);
            lg[i] = u < 0.001 ? NAN : (float)(u < 0.02 ? 60.0 * xt_rng_normal(&r) : 2.5 * xt_rng_normal(&r));
        }
        xt_portfolio_env_step(g.e, lg, &g.io, g.info);
        for (int i = 0; i < N; i++) {
            const xt_portfolio_info *in = &g.info[i];
            double sum = 0.0, frozen = 0.0;
            int held = 0, frozen_held = 0;
            for (int a = 0; a <= K; a++) {
                sum += in->w_exec[a];
                assert_true(in->w_exec[a] >= 0.0);
            }
            assert_true(fabs(sum - 1.0) < 1e-12);
            for (int a = 0; a < K; a++) {
                int open = in->tradable >> a & 1u;
                held += in->w_exec[a] > 0.0;
                int traded = in->fill_units[a] != 0.0 || !isnan(in->stop_price[a]);
                n_stops += !isnan(in->stop_price[a]);
                // Never a fill while the asset's market is closed or its row is stale.
                if (traded) {
                    assert_true(xt_calendar_tradable(&f.m.cal[a], in->ts));
                    assert_int_equal(f.stale[a][in->row], 0);
                }
                if (f.m.cal[a].cls == XT_ASSET_FOREX && !xt_calendar_tradable(&f.m.cal[a], in->ts)) n_fx_closed++;
                if (open) {
                    assert_true(in->w_exec[a] <= 0.4);
                } else {
                    // Masked: the drifted weight and the units are untouched.
                    n_masked++;
                    frozen += in->w_pre[a], frozen_held += in->w_pre[a] > 0.0;
                    assert_true(in->w_exec[a] == in->w_pre[a]);
                    assert_true(in->fill_units[a] == 0.0);
                    if (!in->terminated) assert_true(in->units[a] == prev_units[i][a]);
                }
            }
            if (frozen <= 1.0 - p.min_cash) assert_true(in->w_exec[K] >= p.min_cash - 1e-12);
            n_cash_floor += fabs(in->w_exec[K] - p.min_cash) < 1e-12;
            assert_true(held <= (frozen_held > p.max_positions ? frozen_held : p.max_positions));
            n_pos_limit += held == p.max_positions;
            // BTC and ETH linked at the decision row share corr_cap (unless frozen weight already uses it).
            int64_t drow = in->row - 1;
            if (clustered[drow] && labels[drow * K + 0] == labels[drow * K + 1]) {
                double cs = in->w_exec[0] + in->w_exec[1];
                int any_frozen = !(in->tradable & 1u) || !(in->tradable & 2u);
                if (!any_frozen) assert_true(cs <= p.corr_cap + 1e-12);
                n_cluster_bind += fabs(cs - p.corr_cap) < 1e-12;
            }
            for (int a = 0; a < K; a++) prev_units[i][a] = (g.term[i] | g.trunc[i]) ? 0.0 : in->units[a];
        }
    }
    // The rules were actually exercised.
    assert_true(n_masked > 1000 && n_fx_closed > 1000);
    assert_true(n_cluster_bind > 100 && n_cash_floor > 100 && n_pos_limit > 100 && n_stops > 100);
    free(lg), free(labels), free(clustered);
    rig_free(&g);
    fx_free(&f);
}

// ---- stops

static void t_stops(void **state) {
    (void)state;
    const char *syms[2] = {"BTCUSDT", "EURUSD"};
    double px[2] = {100.0, 1.25};
    fx f;
    int64_t fri18 = MON_2024_01_01 + 4 * 86400 + 18 * 3600;
    fx_init(&f, 2, syms, px, 80, 3600, fri18, 1);
    for (int64_t r = 0; r < 80; r++) f.atr[0][r] = 1.0, f.atr[1][r] = 0.01; // BTC stop 98 / TP 103; EUR stop 1.23
    fx_bar(&f, 0, 3, 100, 99, 100.5, 97.0); // row 3 (Fri 21:00): BTC low 97 -> stop at 98
    f.atr[0][3] = 1.0;
    fx_bar(&f, 1, 3, 1.25, 1.215, 1.25, 1.20); // EUR breaks 1.23, but 21:00 is outside its sessions
    f.atr[1][3] = 0.01;
    for (int64_t r = 4; r < 80; r++) {
        int64_t ts = f.ts[r];
        f.o[1][r] = f.h[1][r] = f.l[1][r] = f.c[1][r] = 1.215;
        if (xt_time_weekday(ts) >= 5) f.stale[1][r] = 1;
    }
    int64_t mon08 = (MON_2024_01_01 + 7 * 86400 + 8 * 3600 - fri18) / 3600;
    fx_bar(&f, 1, mon08, 1.21, 1.22, 0, 0); // London opens below the stop: filled at the open
    f.atr[1][mon08] = 0.01;
    xt_env_params p;
    xt_env_params_default(&p);
    p.slip_bps[XT_ASSET_CRYPTO] = p.slip_bps[XT_ASSET_FOREX] = 0.0, p.slip_atr_k = 0.0;
    p.corr_limit = 1.0;
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    double buy[3] = {0.4, 0.4, 0.2}, keep[3] = {-1.0, -1.0, 0.2};
    rig_w(&g, buy); // fills at row 1 (Fri 19:00)
    CENT_EQ(g.info->fill_units[0], 40.0);
    CENT_EQ(g.info->fill_units[1], 3200.0);
    rig_w(&g, keep); // row 2
    assert_int_equal(g.info->reason, XT_ENV_REASON_NONE);
    rig_w(&g, keep); // row 3: BTC stop at 98, EUR closed
    assert_int_equal(g.info->row, 3);
    assert_int_equal(g.info->stop_reason[0], XT_ENV_REASON_STOP_LOSS);
    assert_true(g.info->stop_price[0] == 98.0);
    assert_true(g.info->units[0] == 0.0);
    assert_true(isnan(g.info->stop_price[1]) && g.info->units[1] > 0.0);
    assert_int_equal(g.info->reason, XT_ENV_REASON_STOP_LOSS);
    // Cash: 10000 - 4000 - 4 - 4000 - 2 (buys) + 3920 - 3.92 (stop).
    CENT_EQ(g.info->equity, 10000.0 - 8006.0 + 3920.0 - 3.92 + 3200 * 1.215);
    // The agent keeps (BTC flat, not re-bought); EUR waits for London.
    int64_t fired_row = -1;
    while (g.info->row < mon08 + 2) {
        rig_w(&g, keep);
        assert_true(g.info->units[0] == 0.0);
        if (!isnan(g.info->stop_price[1])) {
            fired_row = g.info->row;
            assert_true(g.info->stop_price[1] == 1.21);
            assert_int_equal(g.info->stop_reason[1], XT_ENV_REASON_STOP_LOSS);
        }
    }
    assert_int_equal(fired_row, mon08);
    rig_free(&g);
    fx_free(&f);
}

// ---- terminal rules

static void t_terminal(void **state) {
    (void)state;
    const char *syms[2] = {"BTCUSDT", "ETHUSDT"};
    double px[2] = {100.0, 100.0};
    for (int variant = 0; variant < 2; variant++) {
        fx f;
        fx_init(&f, 2, syms, px, 8, 3600, MON_2024_01_01, 1);
        if (variant == 0) { // crash 80%: equity 0.2 + 0.8 * 0.2 = 0.36 of initial -> bankrupt
            fx_bar(&f, 0, 2, 100, 20, 0, 0), fx_bar(&f, 1, 2, 100, 20, 0, 0);
        } else { // double, then -60%: equity ~1.8x then ~0.84x -> drawdown > 30%, above 70%
            fx_bar(&f, 0, 2, 100, 200, 0, 0), fx_bar(&f, 1, 2, 100, 200, 0, 0);
            fx_bar(&f, 0, 3, 200, 80, 0, 0), fx_bar(&f, 1, 3, 200, 80, 0, 0);
        }
        xt_env_params p;
        xt_env_params_default(&p);
        p.stop_loss_atr = p.take_profit_atr = 0.0, p.corr_limit = 1.0;
        xt_env_setup s;
        setup_eval(&s, &f.m);
        rig g;
        rig_new(&g, &f.m, &p, &s);
        double w[3] = {0.4, 0.4, 0.2};
        int steps = 0;
        while (!g.term[0] && !g.trunc[0]) rig_w(&g, w), steps++;
        assert_int_equal(g.term[0], 1);
        assert_int_equal(g.trunc[0], 0);
        assert_int_equal(steps, variant == 0 ? 2 : 3);
        assert_true(g.rew[0] == (variant == 0 ? -50.0f : -30.0f));
        assert_int_equal(g.info->reason, variant == 0 ? XT_ENV_REASON_BANKRUPT : XT_ENV_REASON_DRAWDOWN);
        // Liquidated: no units left, equity is cash.
        assert_true(g.info->units[0] == 0.0 && g.info->units[1] == 0.0);
        NEAR(g.info->w_close[2], 1.0);
        if (variant == 1) assert_true(g.info->equity > 7000.0);
        rig_free(&g);
        fx_free(&f);
    }
}

// ---- determinism and no look-ahead

static void t_determinism_and_lookahead(void **state) {
    (void)state;
    const char *syms[4] = {"BTCUSDT", "ETHUSDT", "EURUSD", "USDJPY"};
    double px[4] = {100.0, 50.0, 1.1, 150.0};
    fx f;
    fx_init(&f, 4, syms, px, 1200, 900, MON_2024_01_01, 3);
    random_market(&f, 5);
    f.m.first_row = 30;
    xt_env_params p;
    xt_env_params_default(&p);
    p.episode_length = 100;
    xt_env_setup s;
    xt_env_setup_default(&s, &f.m);
    s.n_envs = 6, s.seed = 12;
    rig a, b;
    rig_new(&a, &f.m, &p, &s);
    rig_new(&b, &f.m, &p, &s);
    float lg[6 * 5];
    xt_rng r;
    xt_rng_seed(&r, 3);
    for (int k = 0; k < 700; k++) {
        for (int i = 0; i < 30; i++) lg[i] = (float)(2.0 * xt_rng_normal(&r));
        xt_portfolio_env_step(a.e, lg, &a.io, a.info);
        xt_portfolio_env_step(b.e, lg, &b.io, NULL); // info is optional and changes nothing
        assert_memory_equal(a.obs, b.obs, sizeof(float) * (size_t)(6 * a.od));
        assert_memory_equal(a.rew, b.rew, sizeof(float) * 6);
        assert_memory_equal(a.term, b.term, 6);
        assert_memory_equal(a.trunc, b.trunc, 6);
        assert_memory_equal(a.mask, b.mask, 6 * 5);
    }
    rig_free(&a);
    rig_free(&b);

    // The observation at row T is the same whether or not rows after T exist.
    const int64_t T = 700;
    xt_env_market cut = f.m;
    cut.n = T + 1;
    xt_env_setup se, sc;
    setup_eval(&se, &f.m);
    setup_eval(&sc, &cut);
    rig full, part;
    rig_new(&full, &f.m, &p, &se);
    rig_new(&part, &cut, &p, &sc);
    for (int64_t k = 0; k < T - 30; k++) {
        for (int i = 0; i < 5; i++) lg[i] = (float)(k % 50 == 0 ? 2.0 * xt_rng_normal(&r) : lg[i]);
        xt_portfolio_env_step(full.e, lg, &full.io, full.info);
        xt_portfolio_env_step(part.e, lg, &part.io, part.info);
        if (full.term[0]) fail_msg("unexpected termination at step %lld", (long long)k);
    }
    assert_int_equal(full.info->row, T);
    assert_int_equal(part.trunc[0], 1);
    assert_memory_equal(full.obs, part.fin, sizeof(float) * (size_t)full.od);
    rig_free(&full);
    rig_free(&part);
    fx_free(&f);
}

// ---- observation layout, baselines

static void t_obs_layout(void **state) {
    (void)state;
    const char *syms[6] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "EURUSD", "GBPUSD", "USDJPY"};
    double px[6] = {100, 50, 20, 1.1, 1.3, 150};
    fx f;
    fx_init(&f, 6, syms, px, 10, 900, MON_2024_01_01 + 9 * 3600, 89);
    assert_int_equal(xt_portfolio_env_obs_dim(&f.m), 97);
    assert_int_equal(xt_portfolio_env_act_dim(&f.m), 7);
    xt_env_params p;
    xt_env_params_default(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    // Reset: features of row 0, weights all cash, pnl 0.
    assert_true(g.obs[88] == 8.8f);
    for (int a = 0; a < 6; a++) assert_true(g.obs[89 + a] == 0.0f);
    assert_true(g.obs[95] == 1.0f && g.obs[96] == 0.0f);
    // Monday 09:00 -> 09:15: crypto, EUR, GBP (London) and JPY (London) all open.
    for (int a = 0; a < 7; a++) assert_int_equal(g.mask[a], 1);
    double w[7] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4};
    rig_w(&g, w);
    assert_true(g.obs[0] == 1.0f);
    float wsum = 0.0f;
    for (int a = 0; a < 7; a++) wsum += g.obs[89 + a];
    assert_true(fabsf(wsum - 1.0f) < 1e-6f);
    assert_true(g.obs[96] <= 0.0f); // (equity - peak) / peak after paying costs
    rig_free(&g);
    fx_free(&f);
}

static void t_baselines(void **state) {
    (void)state;
    const char *syms[3] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
    double px[3] = {100, 100, 100};
    fx f;
    fx_init(&f, 3, syms, px, 30, 86400, MON_2024_01_01, 1);
    for (int r = 1; r < 30; r++) {
        fx_bar(&f, 0, r, 100.0 + r - 1, 100.0 + r, 0, 0);
        fx_bar(&f, 1, r, 100.0 + 2 * (r - 1), 100.0 + 2 * r, 0, 0);
        fx_bar(&f, 2, r, 100.0 - 0.5 * (r - 1), 100.0 - 0.5 * r, 0, 0);
    }
    xt_env_params p;
    xt_env_params_default(&p);
    p.slip_bps[XT_ASSET_CRYPTO] = 0.0, p.slip_atr_k = 0.0;
    p.corr_limit = 1.0; // the smooth trends are perfectly correlated: no shared cap here
    xt_metrics bh, ew, cash;
    xt_err err = {0};
    assert_int_equal(xt_baseline_portfolio(&f.m, &p, 0, 30, XT_BASELINE_BUY_HOLD, 1, 0, &bh, &err), 0);
    assert_int_equal(xt_baseline_portfolio(&f.m, &p, 0, 30, XT_BASELINE_EQUAL_WEIGHT, 1, 0, &ew, &err), 0);
    assert_int_equal(xt_baseline_portfolio(&f.m, &p, 0, 30, XT_BASELINE_CASH, 1, 1, &cash, &err), 0);
    // Buy-and-hold: 3 fills once; (0.95 / 3) of 10000 in each, fee 0.1%, held to the last close.
    assert_int_equal(bh.fills, 3);
    double per = 10000.0 * 0.95 / 3.0;
    double want = 10000.0 - 3.0 * per * 1.001 + per / 100.0 * (129.0 + 158.0 + 85.5);
    CENT_EQ(bh.final_equity, want);
    assert_int_equal(bh.steps, 29);
    // Equal weight rebalances drift back every bar.
    assert_true(ew.fills > 3);
    assert_true(ew.final_equity != bh.final_equity);
    assert_true(cash.final_equity == 10000.0 && cash.total_return == 0.0 && cash.avg_cash == 1.0);
    assert_int_equal(xt_baseline_portfolio(&f.m, &p, 0, 30, XT_BASELINE_EQUAL_WEIGHT, 0, 0, &ew, &err), XT_EINVAL);
    assert_string_equal(err.msg, "baseline: rebalance_every must be >= 1 (got 0)");
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_projection_cases),  cmocka_unit_test(t_rebalance_rules),
        cmocka_unit_test(t_costs_to_the_cent), cmocka_unit_test(t_masked_softmax),
        cmocka_unit_test(t_constraints_random), cmocka_unit_test(t_stops),
        cmocka_unit_test(t_terminal),          cmocka_unit_test(t_determinism_and_lookahead),
        cmocka_unit_test(t_obs_layout),        cmocka_unit_test(t_baselines),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
