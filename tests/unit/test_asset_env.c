// test_asset_env.c - the single-asset env: hand-worked fills to the cent,
// stops, masks, terminal rules, truncation, determinism, no look-ahead,
// observation layout, validation messages and the asset baselines.
#include "testutil.h"

#include "core/rng.h"
#include "env/asset_env.h"
#include "env/baseline.h"
#include "env/costs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- fixture: a hand-built one-asset market

#define MON_2024_01_01 1704067200LL // Monday 00:00 UTC

typedef struct {
    xt_env_market m;
    int64_t *ts;
    double *o, *h, *l, *c, *atr;
    uint8_t *stale;
    float *feat;
} fx;

// n bars of tf seconds from t0, flat at 100, atr = close / 100, feature j of row r = r + j / 10.
static void fx_init(fx *f, const char *sym, int64_t n, int tf, int64_t t0, int nf) {
    memset(f, 0, sizeof(*f));
    f->ts = calloc((size_t)n, sizeof(int64_t));
    f->o = calloc((size_t)n, sizeof(double)), f->h = calloc((size_t)n, sizeof(double));
    f->l = calloc((size_t)n, sizeof(double)), f->c = calloc((size_t)n, sizeof(double));
    f->atr = calloc((size_t)n, sizeof(double));
    f->stale = calloc((size_t)n, 1);
    f->feat = calloc((size_t)(n * nf) + 1, sizeof(float));
    for (int64_t r = 0; r < n; r++) {
        f->ts[r] = t0 + r * tf;
        f->o[r] = f->h[r] = f->l[r] = f->c[r] = 100.0;
        f->atr[r] = 1.0;
        for (int j = 0; j < nf; j++) f->feat[r * nf + j] = (float)r + (float)j / 10.0f;
    }
    xt_env_market *m = &f->m;
    m->k = 1, m->n = n, m->tf_sec = tf, m->ts = f->ts;
    m->open[0] = f->o, m->high[0] = f->h, m->low[0] = f->l, m->close[0] = f->c, m->atr[0] = f->atr;
    m->stale[0] = f->stale;
    xt_calendar_for_symbol(&m->cal[0], sym);
    snprintf(m->symbol[0], sizeof(m->symbol[0]), "%s", sym);
    m->vol_baseline[0] = 0.01;
    m->feat = f->feat, m->n_feat = nf, m->first_row = 0;
}

// Bar r with open o and close c; high/low envelope them (or are given when h/l > 0).
static void fx_bar(fx *f, int64_t r, double o, double c, double h, double l) {
    f->o[r] = o, f->c[r] = c;
    f->h[r] = h > 0.0 ? h : fmax(o, c);
    f->l[r] = l > 0.0 ? l : fmin(o, c);
    f->atr[r] = c / 100.0;
}

static void fx_free(fx *f) {
    free(f->ts), free(f->o), free(f->h), free(f->l), free(f->c), free(f->atr), free(f->stale), free(f->feat);
}

// One-env batch with its buffers.
typedef struct {
    xt_asset_env *e;
    int od, na;
    float *obs, *fin, *rew;
    uint8_t *mask, *term, *trunc;
    xt_asset_info *info;
    xt_env_io io;
} rig;

static void rig_new(rig *g, const xt_env_market *m, const xt_env_params *p, const xt_env_setup *s) {
    xt_err err = {0};
    memset(g, 0, sizeof(*g));
    int rc = xt_asset_env_new(&g->e, m, p, s, &err);
    if (rc) fail_msg("xt_asset_env_new: %s", err.msg);
    int N = s->n_envs;
    g->od = xt_asset_env_obs_dim(p, m), g->na = xt_asset_env_n_actions(p);
    g->obs = calloc((size_t)(N * g->od), sizeof(float)), g->fin = calloc((size_t)(N * g->od), sizeof(float));
    g->rew = calloc((size_t)N, sizeof(float));
    g->mask = calloc((size_t)(N * g->na), 1), g->term = calloc((size_t)N, 1), g->trunc = calloc((size_t)N, 1);
    g->info = calloc((size_t)N, sizeof(xt_asset_info));
    g->io = (xt_env_io){g->obs, g->rew, g->term, g->trunc, g->mask, g->fin};
    xt_asset_env_reset(g->e, g->obs, g->mask);
}

static void rig_step1(rig *g, int32_t a) { xt_asset_env_step(g->e, &a, &g->io, g->info); }

static void rig_free(rig *g) {
    xt_asset_env_destroy(&g->e);
    free(g->obs), free(g->fin), free(g->rew), free(g->mask), free(g->term), free(g->trunc), free(g->info);
}

static void params_plain(xt_env_params *p) {
    xt_env_params_default(p);
    p->slip_bps[XT_ASSET_CRYPTO] = 10.0; // 0.001
    p->slip_atr_k = 0.1;                 // 0.1 * atr/close = 0.001
    p->stop_loss_atr = 0.0, p->take_profit_atr = 0.0;
}

static void setup_eval(xt_env_setup *s, const xt_env_market *m) {
    xt_env_setup_default(s, m);
    s->eval = 1;
}

#define CENT_EQ(x, y) assert_true(fabs((x) - (y)) < 1e-6)
#define NEAR_SLIP(x, y) assert_true(fabs((x) - (y)) < 1e-15)

// ---- fees and slippage, hand-worked

static void t_costs_to_the_cent(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 6, 3600, MON_2024_01_01, 2);
    fx_bar(&f, 1, 100, 110, 0, 0);
    fx_bar(&f, 2, 110, 100, 0, 0);
    fx_bar(&f, 3, 100, 90, 0, 0);
    fx_bar(&f, 4, 90, 95, 0, 0);
    fx_bar(&f, 5, 95, 95, 0, 0);
    xt_env_params p;
    params_plain(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    xt_asset_info *in = g.info;

    // Long 100%: 100 units at 100 * 1.002; fee 0.1% of 10020; slippage 100 * 100 * 0.002.
    rig_step1(&g, 4);
    CENT_EQ(in->fill_units, 100.0);
    CENT_EQ(in->fill_price, 100.2);
    CENT_EQ(in->fee, 10.02);
    CENT_EQ(in->slippage, 20.0);
    CENT_EQ(in->equity, -30.02 + 100 * 110.0);
    CENT_EQ(in->ret, 10969.98 / 10000.0 - 1.0);
    // First step: no volatility estimate, reward = 100 * 0.9 * r / (1 * 0.01).
    assert_true(fabs(in->reward - 100.0 * 0.9 * in->ret / 0.01) < 1e-9);
    assert_int_equal(in->level, 4);

    // Flat: sell 100 at 110 * 0.998; fee 10.978; slippage 22.
    rig_step1(&g, 2);
    CENT_EQ(in->fill_units, -100.0);
    CENT_EQ(in->fill_price, 109.78);
    CENT_EQ(in->fee, 10.978);
    CENT_EQ(in->slippage, 22.0);
    CENT_EQ(in->equity, 10937.002);
    assert_int_equal(in->trades_closed, 1);

    // Short 50% at open 100: -54.68501 units at 99.8.
    rig_step1(&g, 1);
    CENT_EQ(in->fill_units, -54.68501);
    CENT_EQ(in->fill_price, 99.8);
    CENT_EQ(in->fee, 5.457563998);
    CENT_EQ(in->slippage, 10.937002);
    CENT_EQ(in->equity, 11467.457534002);
    assert_true(in->position == -0.5);

    // Cover at open 90 * 1.002.
    rig_step1(&g, 2);
    CENT_EQ(in->fill_price, 90.18);
    CENT_EQ(in->fee, 4.9314942018);
    CENT_EQ(in->slippage, 9.8433018);
    CENT_EQ(in->equity, 11452.6827380002);

    // Keep flat into the window's last row: truncated, not terminated.
    rig_step1(&g, 2);
    assert_int_equal(in->truncated, 1);
    assert_int_equal(in->terminated, 0);
    assert_int_equal(in->reason, XT_ENV_REASON_END);
    assert_true(isnan(in->fill_price));
    const xt_metrics *mt = xt_asset_env_episode_metrics(g.e, 0);
    assert_non_null(mt);
    assert_int_equal(mt->trades, 2);
    assert_int_equal(mt->fills, 4);
    CENT_EQ(mt->fees, 31.3870581998);
    CENT_EQ(mt->slippage, 62.7803038);
    CENT_EQ(mt->final_equity, 11452.6827380002);
    assert_true(mt->win_rate == 1.0);
    CENT_EQ(mt->avg_win, (937.002 + 515.6807380002) / 2.0);
    CENT_EQ(mt->gross_pnl, 1452.6827380002 + 31.3870581998 + 62.7803038);
    rig_free(&g);
    fx_free(&f);
}

// Class fees: forex 0.05% on EURUSD during London hours, min trade skips.
static void t_forex_fee_and_min_trade(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "EURUSD", 8, 3600, MON_2024_01_01 + 10 * 3600, 1); // Monday 10:00: London open
    for (int r = 0; r < 8; r++) fx_bar(&f, r, 1.25, 1.25, 0, 0);
    xt_env_params p;
    params_plain(&p);
    p.slip_bps[XT_ASSET_FOREX] = 0.0, p.slip_atr_k = 0.0;
    p.initial_cash = 150.0; // half of it is below min_trade
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    rig_step1(&g, 3); // 0.5 * 150 = 75 < 100: skipped
    assert_int_equal(g.info->skipped, 1);
    assert_int_equal(g.info->level, 2);
    assert_true(g.info->fee == 0.0);
    rig_step1(&g, 4); // 150 >= 100: 120 units at 1.25, fee 0.0005 * 150
    assert_int_equal(g.info->skipped, 0);
    CENT_EQ(g.info->fill_units, 120.0);
    CENT_EQ(g.info->fee, 0.075);
    CENT_EQ(g.info->equity, 149.925);
    rig_free(&g);
    fx_free(&f);
}

// Slippage = (bps + k * atr / close) of the decision bar, doubled for crypto fills in Sat 00-04 UTC.
static void t_slippage_model(void **state) {
    (void)state;
    fx f;
    int64_t fri22 = MON_2024_01_01 + 4 * 86400 + 22 * 3600;
    fx_init(&f, "BTCUSDT", 10, 3600, fri22, 1); // rows: Fri 22:00, 23:00, Sat 00:00, ...
    f.atr[1] = 2.0;                           // 0.5 * 2 / 100 = 0.01
    xt_env_params p;
    xt_env_params_default(&p);
    p.slip_bps[XT_ASSET_CRYPTO] = 3.0, p.slip_atr_k = 0.5, p.slip_lowliq_mult = 2.0;
    NEAR_SLIP(xt_cost_slip(&f.m, 0, 0, &p), 0.0003 + 0.005);          // fill Fri 23:00: normal
    NEAR_SLIP(xt_cost_slip(&f.m, 0, 1, &p), 2.0 * (0.0003 + 0.01));   // fill Sat 00:00: doubled
    NEAR_SLIP(xt_cost_slip(&f.m, 0, 4, &p), 2.0 * (0.0003 + 0.005));  // fill Sat 03:00
    NEAR_SLIP(xt_cost_slip(&f.m, 0, 5, &p), 0.0003 + 0.005);          // fill Sat 04:00: over
    xt_fill fl = xt_cost_fill(-3.0, 200.0, 0.01, 0.001);
    assert_true(fl.price == 198.0);
    NEAR_SLIP(fl.fee, 0.594), NEAR_SLIP(fl.slip_cost, 6.0), NEAR_SLIP(fl.cash, 594.0 - 0.594);
    fx_free(&f);
}

// ---- stops

typedef struct {
    double o, h, l, c;
} bar4;

// Goes long (or short) 100% at row 1's open 100 with zero slippage and runs the bars from row 1.
static void stop_case(const bar4 *bars, int nb, int short_side, int64_t want_row, int want_reason, double want_px) {
    fx f;
    fx_init(&f, "BTCUSDT", nb + 3, 3600, MON_2024_01_01, 1);
    for (int b = 0; b < nb; b++) fx_bar(&f, 1 + b, bars[b].o, bars[b].c, bars[b].h, bars[b].l);
    for (int64_t r = 0; r < f.m.n; r++) f.atr[r] = 1.0; // stop 2 and TP 3 price units from the entry
    xt_env_params p;
    xt_env_params_default(&p);
    p.slip_bps[XT_ASSET_CRYPTO] = 0.0, p.slip_atr_k = 0.0;
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    int act = short_side ? 0 : 4;
    int fired = 0;
    for (int b = 0; b < nb && !fired; b++) {
        rig_step1(&g, act);
        if (g.info->reason == XT_ENV_REASON_STOP_LOSS || g.info->reason == XT_ENV_REASON_TAKE_PROFIT) {
            fired = 1;
            assert_int_equal(g.info->row, want_row);
            assert_int_equal(g.info->reason, want_reason);
            assert_true(g.info->stop_price == want_px);
            assert_true(g.info->units == 0.0);
            // Cash: entry and exit at their prices, fee 0.1% on both.
            double u = 100.0, sgn = short_side ? -1.0 : 1.0;
            double cash = 10000.0 - sgn * u * 100.0 - u * 100.0 * 0.001 + sgn * u * want_px - u * want_px * 0.001;
            CENT_EQ(g.info->equity, cash);
            // Flat until the agent re-enters: keep is the flat level.
            assert_int_equal(g.mask[2], 1);
            assert_true(g.obs[1] == 0.0f);
        }
    }
    if (want_row >= 0) assert_int_equal(fired, 1);
    else assert_int_equal(fired, 0);
    rig_free(&g);
    fx_free(&f);
}

static void t_stops(void **state) {
    (void)state;
    // Long from 100: stop 98, take-profit 103.
    bar4 quiet[] = {{100, 101, 99, 100}, {100, 102.9, 98.1, 100}};
    stop_case(quiet, 2, 0, -1, 0, 0);
    bar4 stop2[] = {{100, 101, 99, 100}, {100, 100.5, 97.5, 99}};
    stop_case(stop2, 2, 0, 2, XT_ENV_REASON_STOP_LOSS, 98.0);
    bar4 gap[] = {{100, 101, 99, 100}, {97, 99, 96, 98}};
    stop_case(gap, 2, 0, 2, XT_ENV_REASON_STOP_LOSS, 97.0);
    bar4 both[] = {{100, 104, 97.5, 101}};
    stop_case(both, 1, 0, 1, XT_ENV_REASON_STOP_LOSS, 98.0);
    bar4 tp[] = {{100, 101, 99, 100}, {100, 103.5, 99, 103}};
    stop_case(tp, 2, 0, 2, XT_ENV_REASON_TAKE_PROFIT, 103.0);
    bar4 gaptp[] = {{100, 101, 99, 100}, {104, 105, 103.5, 104}};
    stop_case(gaptp, 2, 0, 2, XT_ENV_REASON_TAKE_PROFIT, 104.0);
    // Short from 100: stop 102, take-profit 97.
    bar4 sstop[] = {{100, 101, 99, 100}, {100, 102.5, 99.5, 101}};
    stop_case(sstop, 2, 1, 2, XT_ENV_REASON_STOP_LOSS, 102.0);
    bar4 stp[] = {{100, 101, 96.5, 97}};
    stop_case(stp, 1, 1, 1, XT_ENV_REASON_TAKE_PROFIT, 97.0);
}

// ---- masks and sessions

static void t_forex_mask_weekend(void **state) {
    (void)state;
    // EURUSD 1h from Friday 18:00 UTC: London|NY, last tradable open is Friday 20:00.
    fx f;
    int64_t fri18 = MON_2024_01_01 + 4 * 86400 + 18 * 3600;
    fx_init(&f, "EURUSD", 80, 3600, fri18, 1);
    xt_env_params p;
    params_plain(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    // Row 0 (Fri 18:00): next open 19:00 tradable -> all levels legal.
    for (int j = 0; j < g.na; j++) assert_int_equal(g.mask[j], 1);
    rig_step1(&g, 4); // fills at 19:00
    assert_true(g.info->fill_units > 0.0);
    rig_step1(&g, 4); // row 1 -> 20:00 (tradable, keep)
    // Row 2 = Fri 20:00: next open 21:00 is outside NY -> only keep (level 4) is legal.
    for (int j = 0; j < g.na; j++) assert_int_equal(g.mask[j], j == 4);
    rig_step1(&g, 2); // a masked request is kept and flagged
    assert_int_equal(g.info->invalid, 1);
    assert_int_equal(g.info->level, 4);
    assert_true(isnan(g.info->fill_price));
    // Walk the weekend: no fill until Monday 08:00 (London), mask keep-only on the way.
    int fills = 0;
    for (int step = 0; step < 60; step++) {
        rig_step1(&g, 0);
        if (g.info->fill_units != 0.0) {
            fills++;
            assert_true(xt_calendar_tradable(&f.m.cal[0], g.info->ts));
            assert_int_equal(g.info->ts, MON_2024_01_01 + 7 * 86400 + 8 * 3600);
            break;
        }
    }
    assert_int_equal(fills, 1);
    rig_free(&g);
    fx_free(&f);
}

static void t_stale_row_masked(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 10, 3600, MON_2024_01_01, 1);
    f.stale[3] = 1;
    xt_env_params p;
    params_plain(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    rig_step1(&g, 2);
    rig_step1(&g, 2); // now at row 2: the next row is stale
    for (int j = 0; j < g.na; j++) assert_int_equal(g.mask[j], j == 2);
    rig_step1(&g, 4);
    assert_int_equal(g.info->invalid, 1);
    assert_true(g.info->units == 0.0);
    rig_step1(&g, 4); // row 3 -> 4 fills
    assert_true(g.info->units > 0.0);
    rig_free(&g);
    fx_free(&f);
}

// ---- terminal rules, truncation

static void t_terminal_bankrupt(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 6, 3600, MON_2024_01_01, 1);
    fx_bar(&f, 2, 100, 60, 0, 0);
    xt_env_params p;
    params_plain(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    rig_step1(&g, 4);
    assert_int_equal(g.term[0], 0);
    rig_step1(&g, 4); // close 60: equity ~6000 < 7000
    assert_int_equal(g.term[0], 1);
    assert_int_equal(g.trunc[0], 0);
    assert_true(g.rew[0] == -50.0f);
    assert_int_equal(g.info->reason, XT_ENV_REASON_BANKRUPT);
    // Liquidated at 60 * (1 - 0.002) with the fee: equity = cash.
    double u = 10000.0 / 100.0;
    double cash = 10000.0 - u * 100.2 - u * 100.2 * 0.001;
    cash += u * 60 * 0.998 - u * 60 * 0.998 * 0.001;
    CENT_EQ(g.info->liq_price, 59.88);
    CENT_EQ(g.info->equity, cash);
    assert_true(g.info->units == 0.0);
    // Auto-reset: the new episode's first obs is back at row 0, flat.
    assert_true(g.obs[0] == 0.0f && g.obs[1] == 0.0f);
    CENT_EQ(xt_asset_env_episode_metrics(g.e, 0)->final_equity, cash);
    rig_free(&g);
    fx_free(&f);
}

static void t_terminal_drawdown(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 6, 3600, MON_2024_01_01, 1);
    fx_bar(&f, 1, 100, 200, 0, 0); // equity ~ 20000
    fx_bar(&f, 2, 200, 130, 0, 0); // ~ 13000: drawdown 35% but above 70% of initial
    xt_env_params p;
    params_plain(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    rig_step1(&g, 4);
    rig_step1(&g, 4);
    assert_int_equal(g.term[0], 1);
    assert_true(g.rew[0] == -30.0f);
    assert_int_equal(g.info->reason, XT_ENV_REASON_DRAWDOWN);
    assert_true(g.info->equity > 7000.0);
    rig_free(&g);
    fx_free(&f);
}

static void t_truncation(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 50, 3600, MON_2024_01_01, 1);
    xt_env_params p;
    params_plain(&p);
    p.episode_length = 3;
    xt_env_setup s;
    xt_env_setup_default(&s, &f.m);
    s.seed = 7;
    rig g;
    rig_new(&g, &f.m, &p, &s);
    for (int k = 1; k <= 7; k++) {
        rig_step1(&g, k % 2 ? 4 : 3);
        int end = k % 3 == 0;
        assert_int_equal(g.trunc[0], end);
        assert_int_equal(g.term[0], 0);
        if (end) {
            assert_int_equal(g.info->reason, XT_ENV_REASON_END);
            // final_obs is the episode's last bar, obs the new episode's first (flat, no drawdown).
            assert_true(g.fin[0] == (float)g.info->row);
            assert_true(g.obs[1] == 0.0f && g.obs[3] == 0.0f);
            assert_int_equal(xt_asset_env_episodes(g.e, 0), k / 3);
        }
        // Starts leave room for a full episode.
        assert_true(g.obs[0] <= 49.0f - 3.0f + (float)(k % 3) + 0.5f);
    }
    rig_free(&g);
    fx_free(&f);
}

// ---- determinism and no look-ahead

static void random_walk(fx *f, uint64_t seed) {
    xt_rng r;
    xt_rng_seed(&r, seed);
    double px = 100.0;
    for (int64_t t = 0; t < f->m.n; t++) {
        double o = px;
        px *= exp(0.01 * xt_rng_normal(&r));
        double hi = fmax(o, px) * (1.0 + 0.004 * xt_rng_uniform(&r));
        double lo = fmin(o, px) * (1.0 - 0.004 * xt_rng_uniform(&r));
        fx_bar(f, t, o, px, hi, lo);
        for (int j = 0; j < f->m.n_feat; j++) f->feat[t * f->m.n_feat + j] = (float)xt_rng_normal(&r);
    }
}

static void t_determinism(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "ETHUSDT", 3000, 900, MON_2024_01_01, 4);
    random_walk(&f, 11);
    xt_env_params p;
    xt_env_params_default(&p);
    p.episode_length = 200;
    xt_env_setup s;
    xt_env_setup_default(&s, &f.m);
    s.n_envs = 8, s.seed = 99;
    rig a, b;
    rig_new(&a, &f.m, &p, &s);
    rig_new(&b, &f.m, &p, &s);
    assert_memory_equal(a.obs, b.obs, sizeof(float) * (size_t)(8 * a.od));
    xt_rng ra;
    xt_rng_seed(&ra, 5);
    int32_t act[8];
    int done = 0;
    for (int k = 0; k < 1500; k++) {
        for (int i = 0; i < 8; i++) act[i] = (int32_t)xt_rng_below(&ra, 5);
        xt_asset_env_step(a.e, act, &a.io, a.info);
        xt_asset_env_step(b.e, act, &b.io, b.info);
        assert_memory_equal(a.obs, b.obs, sizeof(float) * (size_t)(8 * a.od));
        assert_memory_equal(a.rew, b.rew, sizeof(float) * 8);
        assert_memory_equal(a.term, b.term, 8);
        assert_memory_equal(a.trunc, b.trunc, 8);
        assert_memory_equal(a.mask, b.mask, (size_t)(8 * a.na));
        for (int i = 0; i < 8; i++) done += a.term[i] | a.trunc[i];
    }
    assert_true(done > 8); // auto-resets happened and replayed identically
    // A different seed draws different episode starts.
    xt_env_setup s2 = s;
    s2.seed = 100;
    rig c;
    rig_new(&c, &f.m, &p, &s2);
    rig_free(&a);
    rig_new(&a, &f.m, &p, &s);
    assert_true(memcmp(a.obs, c.obs, sizeof(float) * (size_t)(8 * a.od)) != 0);
    rig_free(&a);
    rig_free(&b);
    rig_free(&c);
    fx_free(&f);
}

static void t_no_lookahead(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 400, 900, MON_2024_01_01, 3);
    random_walk(&f, 3);
    f.m.first_row = 5;
    xt_env_params p;
    xt_env_params_default(&p);
    const int64_t T = 250; // the observation at row T must not depend on rows > T
    xt_env_market cut = f.m;
    cut.n = T + 1;
    xt_env_setup s, sc;
    setup_eval(&s, &f.m);
    setup_eval(&sc, &cut);
    rig full, part;
    rig_new(&full, &f.m, &p, &s);
    rig_new(&part, &cut, &p, &sc);
    xt_rng ra;
    xt_rng_seed(&ra, 17);
    int64_t steps = T - 5;
    int32_t a = 2;
    for (int64_t k = 0; k < steps; k++) {
        if (k % 25 == 0) a = (int32_t)xt_rng_below(&ra, 5);
        xt_asset_env_step(full.e, &a, &full.io, full.info);
        xt_asset_env_step(part.e, &a, &part.io, part.info);
        if (full.term[0]) fail_msg("unexpected termination at step %lld", (long long)k);
    }
    assert_int_equal(full.info->row, T);
    assert_int_equal(part.trunc[0], 1); // the cut market ends at row T
    assert_memory_equal(full.obs, part.fin, sizeof(float) * (size_t)full.od);
    rig_free(&full);
    rig_free(&part);
    fx_free(&f);
}

// ---- observation layout, validation, baselines

static void t_obs_layout(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 20, 3600, MON_2024_01_01, 2);
    xt_env_params p;
    params_plain(&p);
    p.n_symbols = 4, p.n_timeframes = 3;
    xt_env_setup s;
    setup_eval(&s, &f.m);
    s.symbol_id = 2, s.tf_id = 1;
    assert_int_equal(xt_asset_env_obs_dim(&p, &f.m), 2 + 3 + 4 + 3);
    rig g;
    rig_new(&g, &f.m, &p, &s);
    float want[12] = {0.0f, 0.1f, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0};
    assert_memory_equal(g.obs, want, sizeof(want));
    rig_free(&g);
    p.symbol_encoding = XT_ENV_SYMBOL_ID;
    s.symbol_id = 9;
    assert_int_equal(xt_asset_env_obs_dim(&p, &f.m), 2 + 3 + 1 + 3);
    rig_new(&g, &f.m, &p, &s);
    assert_true(g.obs[5] == 9.0f);
    rig_free(&g);
    p.long_only = 1;
    assert_int_equal(xt_asset_env_n_actions(&p), 3);
    fx_free(&f);
}

static void t_validation(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 20, 3600, MON_2024_01_01, 2);
    xt_env_params p;
    xt_env_params_default(&p);
    xt_env_setup s;
    setup_eval(&s, &f.m);
    xt_asset_env *e = NULL;
    xt_err err = {0};
    p.min_cash = 1.5;
    assert_int_equal(xt_asset_env_new(&e, &f.m, &p, &s, &err), XT_EINVAL);
    assert_string_equal(err.msg, "env.min_cash: must be in [0, 1) (got 1.5)");
    xt_env_params_default(&p);
    p.levels[2] = 0.25; // no 0 level
    assert_int_equal(xt_asset_env_new(&e, &f.m, &p, &s, &err), XT_EINVAL);
    assert_string_equal(err.msg, "env.levels: must contain 0 (the flat position after a stop)");
    xt_env_params_default(&p);
    f.feat[7 * 2 + 1] = NAN;
    assert_int_equal(xt_asset_env_new(&e, &f.m, &p, &s, &err), XT_EINVAL);
    assert_string_equal(err.msg, "env market: feat[row 7][col 1] is not finite (got nan)");
    f.m.first_row = 8; // warm-up rows may hold NaN
    assert_int_equal(xt_asset_env_new(&e, &f.m, &p, &s, &err), 0);
    xt_asset_env_destroy(&e);
    xt_asset_env_destroy(&e); // NULL-safe
    f.c[10] = -1.0;
    assert_int_equal(xt_asset_env_new(&e, &f.m, &p, &s, &err), XT_EINVAL);
    assert_contains(err.msg, "BTCUSDT row 10: prices must be finite and > 0");
    assert_null(e);
    fx_free(&f);
}

static void t_baselines(void **state) {
    (void)state;
    fx f;
    fx_init(&f, "BTCUSDT", 11, 86400, MON_2024_01_01, 1);
    for (int r = 1; r < 11; r++) fx_bar(&f, r, 100.0 + 10.0 * (r - 1), 100.0 + 10.0 * r, 0, 0); // steady rise
    xt_env_params p;
    xt_env_params_default(&p);
    p.slip_bps[XT_ASSET_CRYPTO] = 0.0, p.slip_atr_k = 0.0;
    xt_metrics bh, cash;
    xt_err err = {0};
    assert_int_equal(xt_baseline_asset(&f.m, &p, 0, 11, 0, XT_BASELINE_BUY_HOLD, 0, &bh, &err), 0);
    assert_int_equal(xt_baseline_asset(&f.m, &p, 0, 11, 0, XT_BASELINE_CASH, 1, &cash, &err), 0);
    // Buy 100 units at 100 with a 0.1% fee, hold to 200: 10000 - 10 + 100 * 100.
    CENT_EQ(bh.final_equity, 19990.0);
    assert_int_equal(bh.steps, 10);
    assert_true(bh.sharpe > 0.0);
    assert_true(cash.final_equity == 10000.0 && cash.sharpe == 0.0 && cash.avg_cash == 1.0);
    assert_string_equal(xt_baseline_name(XT_BASELINE_EQUAL_WEIGHT), "equal_weight");
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_costs_to_the_cent), cmocka_unit_test(t_forex_fee_and_min_trade),
        cmocka_unit_test(t_slippage_model),    cmocka_unit_test(t_stops),
        cmocka_unit_test(t_forex_mask_weekend),
        cmocka_unit_test(t_stale_row_masked),  cmocka_unit_test(t_terminal_bankrupt),
        cmocka_unit_test(t_terminal_drawdown), cmocka_unit_test(t_truncation),
        cmocka_unit_test(t_determinism),       cmocka_unit_test(t_no_lookahead),
        cmocka_unit_test(t_obs_layout),        cmocka_unit_test(t_validation),
        cmocka_unit_test(t_baselines),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
