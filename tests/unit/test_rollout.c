// test_rollout.c - the rollout collector: the chunk layout against an
// independent replay (twin envs stepped with the recorded actions, the model
// re-run from each chunk's h0/c0), episode flags, truncation values, the
// Gaussian head's records on the portfolio env, determinism, bad setups.
#include "testutil.h"

#include "core/config.h"
#include "core/rng.h"
#include "env/asset_env.h"
#include "env/portfolio_env.h"
#include "nn/heads.h"
#include "rl/rollout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MON_2024_01_01 1704067200LL

// ---- fixture: a random-walk market of k assets on one hourly timeline

typedef struct {
    xt_env_market m;
    int64_t *ts;
    double *px[XT_ENV_MAX_ASSETS][5]; // open high low close atr
    float *feat;
} mkt;

static void mkt_init(mkt *f, int k, const char *const *syms, int64_t n, int nf, uint64_t seed) {
    memset(f, 0, sizeof *f);
    xt_rng g;
    xt_rng_seed(&g, seed);
    f->ts = calloc((size_t)n, sizeof(int64_t));
    f->feat = calloc((size_t)(n * nf), sizeof(float));
    for (int64_t r = 0; r < n; r++) {
        f->ts[r] = MON_2024_01_01 + r * 3600;
        for (int j = 0; j < nf; j++) f->feat[r * nf + j] = (float)xt_rng_normal(&g);
    }
    xt_env_market *m = &f->m;
    for (int a = 0; a < k; a++) {
        for (int c = 0; c < 5; c++) f->px[a][c] = calloc((size_t)n, sizeof(double));
        double p = 100.0;
        for (int64_t r = 0; r < n; r++) {
            double o = p, c = o * exp(0.01 * xt_rng_normal(&g));
            f->px[a][0][r] = o, f->px[a][3][r] = c;
            f->px[a][1][r] = fmax(o, c) * 1.001, f->px[a][2][r] = fmin(o, c) * 0.999;
            f->px[a][4][r] = 0.01 * c;
            p = c;
        }
        m->open[a] = f->px[a][0], m->high[a] = f->px[a][1], m->low[a] = f->px[a][2];
        m->close[a] = f->px[a][3], m->atr[a] = f->px[a][4];
        xt_calendar_for_symbol(&m->cal[a], syms[a]);
        snprintf(m->symbol[a], sizeof m->symbol[a], "%s", syms[a]);
        m->vol_baseline[a] = 0.01;
    }
    m->k = k, m->n = n, m->tf_sec = 3600, m->ts = f->ts;
    m->feat = f->feat, m->n_feat = nf, m->first_row = 0;
}

static void mkt_free(mkt *f) {
    for (int a = 0; a < f->m.k; a++)
        for (int c = 0; c < 5; c++) free(f->px[a][c]);
    free(f->ts), free(f->feat);
}

static void shard_init(xt_rl_shard *s, const mkt *f, const char *name, int sym_id) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->symbol, sizeof s->symbol, "%s", name);
    s->tf_sec = 3600, s->symbol_id = sym_id, s->tf_id = 0, s->m = &f->m;
    s->row[XT_RL_TRAIN][0] = 0, s->row[XT_RL_TRAIN][1] = f->m.n;
}

// Env params with episodes of exactly `len` steps (no terminal rule fires).
static void params_fixed(xt_env_params *p, int len, int n_symbols) {
    xt_env_params_default(p);
    p->episode_length = len;
    p->n_symbols = n_symbols, p->n_timeframes = 1;
    p->bankrupt_frac = 0.0, p->max_drawdown = 1.0;
    p->stop_loss_atr = 0.0, p->take_profit_atr = 0.0;
}

static xt_backend *backend_new(const xt_model_spec *spec, int T, int max_infer, uint64_t seed) {
    xt_backend_config bc;
    xt_backend_config_default(&bc);
    bc.T = T, bc.max_chunks = 4, bc.max_infer = max_infer, bc.threads = 1;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(spec, &bc, seed, &err);
    if (!be) fail_msg("backend: %s", err.msg);
    return be;
}

static float *s_params(xt_backend *be) {
    size_t n = xt_backend_layout(be)->n_params;
    float *p = malloc(n * sizeof(float));
    xt_err err = {0};
    assert_int_equal(xt_backend_download(be, p, NULL, NULL, NULL, NULL, &err), 0);
    return p;
}

// ---- the asset env: replay every recorded quantity

enum { A_N = 5, A_T = 8, A_J = 3, A_LEN = 10, A_D = 4 };

typedef struct {
    xt_asset_env *twin[2];
    float *obs, *fin, *rew, *h, *c, *out, *val, *lp, *ent, *probs;
    uint8_t *mask, *term, *trunc;
} replay;

static void t_asset_chunks(void **state) {
    (void)state;
    const char *btc[] = {"BTCUSD"}, *eth[] = {"ETHUSD"};
    mkt f0, f1;
    mkt_init(&f0, 1, btc, 400, A_D, 1);
    mkt_init(&f1, 1, eth, 300, A_D, 2);
    xt_rl_shard sh[2];
    shard_init(&sh[0], &f0, "BTCUSD-1h", 0);
    shard_init(&sh[1], &f1, "ETHUSD-1h", 1);
    xt_env_params p;
    params_fixed(&p, A_LEN, 2);
    int D = 0, A = 0;
    xt_err err = {0};
    assert_int_equal(xt_rollout_dims(XT_ENV_KIND_ASSET, &p, sh, 2, &D, &A, &err), 0);
    assert_int_equal(D, A_D + 3 + 2 + 1);
    assert_int_equal(A, 5);
    xt_model_spec spec;
    xt_model_spec_default(&spec, D, A, 0);
    spec.lstm_hidden = 8, spec.lstm_layers = 2, spec.mlp_layers = 1, spec.mlp[0] = 16;
    xt_backend *be = backend_new(&spec, A_T, A_N, 11);
    xt_rollout_config rc = {XT_ENV_KIND_ASSET, XT_RL_TRAIN, A_N, A_T, A_J, 77, -5.0f, 2.0f};
    xt_rollout *ro = xt_rollout_new(&rc, sh, 2, &p, &spec, &err);
    if (!ro) fail_msg("%s", err.msg);
    // envs grouped by shard: 3 on shard 0, 2 on shard 1
    assert_int_equal(xt_rollout_env_shard(ro, 2), 0);
    assert_int_equal(xt_rollout_env_shard(ro, 3), 1);
    const xt_model_layout *lay = xt_backend_layout(be);
    const int SS = lay->state_size, H = spec.lstm_hidden, Jst = SS / H, T = A_T, N = A_N;

    // twins: the same env batches, stepped with the recorded actions
    replay r;
    memset(&r, 0, sizeof r);
    int off[3] = {0, 3, 5};
    for (int s = 0; s < 2; s++) {
        xt_env_setup su;
        xt_env_setup_default(&su, sh[s].m);
        su.n_envs = off[s + 1] - off[s], su.seed = 77, su.stream0 = XT_RL_STREAM_ENV + (uint64_t)off[s];
        su.symbol_id = s;
        assert_int_equal(xt_asset_env_new(&r.twin[s], sh[s].m, &p, &su, &err), 0);
    }
    r.obs = calloc((size_t)N * D, 4), r.fin = calloc((size_t)N * D, 4), r.rew = calloc(N, 4);
    r.h = calloc((size_t)N * SS, 4), r.c = calloc((size_t)N * SS, 4);
    r.out = calloc((size_t)N * A, 4), r.val = calloc(N, 4), r.lp = calloc(N, 4), r.ent = calloc(N, 4);
    r.probs = calloc((size_t)N * A, 4);
    r.mask = calloc((size_t)N * A, 1), r.term = calloc(N, 1), r.trunc = calloc(N, 1);
    for (int s = 0; s < 2; s++)
        xt_asset_env_reset(r.twin[s], r.obs + (size_t)off[s] * D, r.mask + (size_t)off[s] * A);

    int64_t step_of[A_N] = {0};
    int n_trunc = 0;
    for (int collect = 0; collect < 2; collect++) {
        assert_int_equal(xt_rollout_collect(ro, be, NULL, &err), 0);
        const xt_batch *b = xt_rollout_batch(ro);
        assert_int_equal(b->C, N * A_J);
        assert_int_equal(b->T, T);
        assert_non_null(b->truncated);
        assert_non_null(b->trunc_value);
        assert_null(b->sym); // no embedding
        assert_null(b->actions);
        for (int j = 0; j < A_J; j++) {
            // the chunk's h0 / c0 is the replayed state (zero at the very start)
            for (int g = 0; g < N; g++)
                for (int q = 0; q < Jst; q++) {
                    const float *h0 = b->h0 + (size_t)(j * N + g) * SS + (size_t)q * H;
                    const float *c0 = b->c0 + (size_t)(j * N + g) * SS + (size_t)q * H;
                    assert_memory_equal(h0, r.h + ((size_t)q * N + g) * H, (size_t)H * 4);
                    assert_memory_equal(c0, r.c + ((size_t)q * N + g) * H, (size_t)H * 4);
                }
            for (int t = 0; t < T; t++) {
                uint8_t st[A_N];
                int32_t act[A_N];
                for (int g = 0; g < N; g++) {
                    size_t c = (size_t)(j * N + g), ct = c * T + t;
                    // recorded observation, mask and start = the twin's
                    assert_memory_equal(b->obs + (c * (T + 1) + t) * D, r.obs + (size_t)g * D, (size_t)D * 4);
                    assert_memory_equal(b->masks + ct * A, r.mask + (size_t)g * A, (size_t)A);
                    st[g] = b->starts[ct];
                    assert_int_equal(st[g], step_of[g] % A_LEN == 0);
                    act[g] = b->actions_i[ct];
                    assert_true(act[g] >= 0 && act[g] < A && r.mask[(size_t)g * A + act[g]]);
                }
                // the same batched inference reproduces the behaviour log-probs exactly
                assert_int_equal(xt_backend_infer(be, r.obs, NULL, st, r.h, r.c, r.out, r.val, N, &err), 0);
                xt_heads_cat_forward(r.lp, r.ent, r.probs, r.out, r.mask, act, N, A);
                for (int g = 0; g < N; g++) assert_true(r.lp[g] == b->logp[(size_t)(j * N + g) * T + t]);
                for (int s = 0; s < 2; s++) {
                    xt_env_io io = {r.obs + (size_t)off[s] * D, r.rew + off[s], r.term + off[s], r.trunc + off[s],
                                    r.mask + (size_t)off[s] * A, r.fin + (size_t)off[s] * D};
                    xt_asset_env_step(r.twin[s], act + off[s], &io, NULL);
                }
                for (int g = 0; g < N; g++) {
                    size_t ct = (size_t)(j * N + g) * T + t;
                    assert_true(b->rewards[ct] == r.rew[g]);
                    assert_int_equal(b->terminated[ct], 0);
                    int want_trunc = (step_of[g] + 1) % A_LEN == 0;
                    assert_int_equal(b->truncated[ct], want_trunc);
                    assert_int_equal(r.trunc[g], want_trunc);
                    if (!want_trunc) {
                        assert_true(b->trunc_value[ct] == 0.0f);
                    } else {
                        // value of the twin's final observation from the carried state
                        float th[64], tc[64], v;
                        for (int q = 0; q < Jst; q++) {
                            memcpy(th + q * H, r.h + ((size_t)q * N + g) * H, (size_t)H * 4);
                            memcpy(tc + q * H, r.c + ((size_t)q * N + g) * H, (size_t)H * 4);
                        }
                        assert_int_equal(
                            xt_backend_infer(be, r.fin + (size_t)g * D, NULL, NULL, th, tc, NULL, &v, 1, &err), 0);
                        assert_true(fabsf(v - b->trunc_value[ct]) < 1e-5f);
                        n_trunc++;
                    }
                    step_of[g]++;
                }
                if (t == T - 1)
                    for (int g = 0; g < N; g++)
                        assert_memory_equal(b->obs + ((size_t)(j * N + g) * (T + 1) + T) * D, r.obs + (size_t)g * D,
                                            (size_t)D * 4);
            }
        }
        xt_rollout_stats st;
        xt_rollout_stats_take(ro, &st);
        assert_int_equal(st.steps, N * A_J * T);
        // episodes of 10 steps: every env ends 2 (first collect: steps 0..23) or 3 (24..47) episodes... in total
        int64_t want = 0;
        for (int g = 0; g < N; g++) want += step_of[g] / A_LEN - (step_of[g] - A_J * T) / A_LEN;
        assert_int_equal(st.episodes, want);
    }
    assert_int_equal(n_trunc, N * (2 * A_J * T / A_LEN));
    for (int s = 0; s < 2; s++) xt_asset_env_destroy(&r.twin[s]);
    void *fr[] = {r.obs, r.fin, r.rew, r.h, r.c, r.out, r.val, r.lp, r.ent, r.probs, r.mask, r.term, r.trunc};
    for (size_t k = 0; k < sizeof fr / sizeof *fr; k++) free(fr[k]);
    xt_rollout_destroy(&ro);
    xt_backend_destroy(&be);
    mkt_free(&f0), mkt_free(&f1);
}

// ---- determinism: the same seed gives the same chunks; another seed does not

static void s_collect_twice(const xt_rl_shard *sh, const xt_env_params *p, const xt_model_spec *spec, uint64_t seed,
                            float **obs, int32_t **act, float **logp, size_t *n_obs, size_t *n_act) {
    xt_err err = {0};
    xt_backend *be = backend_new(spec, 8, 4, 5);
    xt_rollout_config rc = {XT_ENV_KIND_ASSET, XT_RL_TRAIN, 4, 8, 2, seed, -5.0f, 2.0f};
    xt_rollout *ro = xt_rollout_new(&rc, sh, 1, p, spec, &err);
    assert_non_null(ro);
    assert_int_equal(xt_rollout_collect(ro, be, NULL, &err), 0);
    assert_int_equal(xt_rollout_collect(ro, be, NULL, &err), 0);
    const xt_batch *b = xt_rollout_batch(ro);
    *n_obs = (size_t)b->C * (b->T + 1) * spec->obs_dim, *n_act = (size_t)b->C * b->T;
    *obs = malloc(*n_obs * 4), *act = malloc(*n_act * 4), *logp = malloc(*n_act * 4);
    memcpy(*obs, b->obs, *n_obs * 4), memcpy(*act, b->actions_i, *n_act * 4), memcpy(*logp, b->logp, *n_act * 4);
    xt_rollout_destroy(&ro);
    xt_backend_destroy(&be);
}

static void t_determinism(void **state) {
    (void)state;
    const char *btc[] = {"BTCUSD"};
    mkt f;
    mkt_init(&f, 1, btc, 500, 3, 9);
    xt_rl_shard sh;
    shard_init(&sh, &f, "BTCUSD-1h", 0);
    xt_env_params p;
    params_fixed(&p, 50, 1);
    xt_model_spec spec;
    xt_model_spec_default(&spec, 3 + 3 + 1 + 1, 5, 0);
    spec.lstm_hidden = 8, spec.lstm_layers = 1, spec.mlp_layers = 1, spec.mlp[0] = 8;
    float *o1, *o2, *o3, *l1, *l2, *l3;
    int32_t *a1, *a2, *a3;
    size_t no, na;
    s_collect_twice(&sh, &p, &spec, 123, &o1, &a1, &l1, &no, &na);
    s_collect_twice(&sh, &p, &spec, 123, &o2, &a2, &l2, &no, &na);
    s_collect_twice(&sh, &p, &spec, 124, &o3, &a3, &l3, &no, &na);
    assert_memory_equal(o1, o2, no * 4);
    assert_memory_equal(a1, a2, na * 4);
    assert_memory_equal(l1, l2, na * 4);
    assert_true(memcmp(a1, a3, na * 4) != 0); // other action streams
    assert_true(memcmp(o1, o3, no * 4) != 0); // other episode starts
    free(o1), free(o2), free(o3), free(a1), free(a2), free(a3), free(l1), free(l2), free(l3);
    mkt_free(&f);
}

// ---- the portfolio env: Gaussian actions, masks, log-probs

static void t_portfolio(void **state) {
    (void)state;
    const char *syms[] = {"BTCUSD", "EURUSD", "USDJPY"};
    mkt f;
    mkt_init(&f, 3, syms, 600, 5, 4);
    xt_rl_shard sh;
    shard_init(&sh, &f, "portfolio-1h", 0);
    xt_env_params p;
    params_fixed(&p, 40, 1);
    int D = 0, A = 0;
    xt_err err = {0};
    assert_int_equal(xt_rollout_dims(XT_ENV_KIND_PORTFOLIO, &p, &sh, 1, &D, &A, &err), 0);
    assert_int_equal(D, 5 + 3 + 2);
    assert_int_equal(A, 4);
    xt_model_spec spec;
    xt_model_spec_default(&spec, D, A, 1);
    spec.lstm_hidden = 8, spec.lstm_layers = 1, spec.mlp_layers = 1, spec.mlp[0] = 8;
    spec.log_std_init = -0.5f;
    xt_backend *be = backend_new(&spec, 16, 3, 8);
    float *params = s_params(be);
    const float *log_std = params + xt_backend_layout(be)->off[XT_T_actor_log_std];
    xt_rollout_config rc = {XT_ENV_KIND_PORTFOLIO, XT_RL_TRAIN, 3, 16, 4, 99, -5.0f, 2.0f};
    // a categorical model on the portfolio env is refused with one sentence
    xt_model_spec wrong = spec;
    wrong.gaussian = 0;
    assert_null(xt_rollout_new(&rc, &sh, 1, &p, &wrong, &err));
    assert_contains(err.msg, "the model takes 10 observations and 4 categorical actions, the portfolio env gives 10 and 4");
    xt_rollout *ro = xt_rollout_new(&rc, &sh, 1, &p, &spec, &err);
    if (!ro) fail_msg("%s", err.msg);
    assert_int_equal(xt_rollout_collect(ro, be, NULL, &err), XT_EINVAL);
    assert_contains(err.msg, "the Gaussian head needs log_std");
    assert_int_equal(xt_rollout_collect(ro, be, log_std, &err), 0);
    const xt_batch *b = xt_rollout_batch(ro);
    assert_non_null(b->actions);
    assert_null(b->actions_i);
    const int N = 3, T = 16;
    int closed = 0, open = 0, moved = 0;
    // replay the actor over every env's whole collect (chunks j = 0..3 in order) and recompute log-probs
    float h[2 * 8 * 3] = {0}, c[2 * 8 * 3] = {0}, out[3 * 4], lp[3], ent[3], obs[3 * 10];
    uint8_t st[3], mk[3 * 4];
    for (int j = 0; j < 4; j++)
        for (int t = 0; t < T; t++) {
            float act[3 * 4];
            for (int g = 0; g < N; g++) {
                size_t cc = (size_t)(j * N + g), ct = cc * T + t;
                memcpy(obs + g * D, b->obs + (cc * (T + 1) + t) * D, (size_t)D * 4);
                memcpy(act + g * A, b->actions + ct * A, (size_t)A * 4);
                memcpy(mk + g * A, b->masks + ct * A, (size_t)A);
                st[g] = b->starts[ct];
                assert_int_equal(mk[g * A + 3], 1); // cash is always legal
                closed += !mk[g * A + 1], open += mk[g * A + 1];
            }
            assert_int_equal(xt_backend_infer(be, obs, NULL, st, h, c, out, NULL, N, &err), 0);
            xt_heads_gauss_forward(lp, ent, out, log_std, act, mk, -5.0f, 2.0f, N, A);
            for (int g = 0; g < N; g++) {
                size_t ct = (size_t)(j * N + g) * T + t;
                assert_true(fabsf(lp[g] - b->logp[ct]) < 1e-5f);
                for (int d = 0; d < A; d++) {
                    float a = act[g * A + d], mu = out[g * A + d];
                    if (!mk[g * A + d]) assert_true(a == mu); // masked dims carry the mean
                    else moved += a != mu;
                }
            }
        }
    // EURUSD trades only in its sessions: both masked and tradable steps occur
    assert_true(closed > 0 && open > 0);
    assert_true(moved > 0);
    free(params);
    xt_rollout_destroy(&ro);
    xt_backend_destroy(&be);
    mkt_free(&f);
}

// ---- bad setups

static void t_errors(void **state) {
    (void)state;
    const char *btc[] = {"BTCUSD"}, *pf[] = {"BTCUSD", "ETHUSD"};
    mkt f, g;
    mkt_init(&f, 1, btc, 100, 3, 1);
    mkt_init(&g, 2, pf, 100, 3, 1);
    xt_rl_shard sh[2];
    shard_init(&sh[0], &f, "BTCUSD-1h", 0);
    shard_init(&sh[1], &g, "pair-1h", 0);
    xt_env_params p;
    params_fixed(&p, 20, 1);
    int D, A;
    xt_err err = {0};
    // portfolio shards of different widths cannot share a policy
    assert_int_equal(xt_rollout_dims(XT_ENV_KIND_PORTFOLIO, &p, sh, 2, &D, &A, &err), XT_EINVAL);
    assert_contains(err.msg, "shard pair-1h has 7 observations and 3 actions, shard BTCUSD-1h 6 and 2");
    // a window without two usable rows names the shard and window
    xt_model_spec spec;
    xt_model_spec_default(&spec, 3 + 3 + 1 + 1, 5, 0);
    spec.lstm_hidden = 4, spec.lstm_layers = 1, spec.mlp_layers = 1, spec.mlp[0] = 4;
    sh[0].row[XT_RL_TRAIN][0] = 99;
    xt_rollout_config rc = {XT_ENV_KIND_ASSET, XT_RL_TRAIN, 2, 4, 1, 1, -5.0f, 2.0f};
    assert_null(xt_rollout_new(&rc, sh, 1, &p, &spec, &err));
    assert_contains(err.msg, "shard BTCUSD-1h (train window): env market: window [99, 100) has fewer than 2 usable rows");
    mkt_free(&f), mkt_free(&g);
}

// ---- shard windows and the config -> env params mapping

static void t_windows_params(void **state) {
    (void)state;
    const char *btc[] = {"BTCUSD"};
    mkt f;
    mkt_init(&f, 1, btc, 100, 2, 3);
    xt_rl_shard sh;
    shard_init(&sh, &f, "BTCUSD-1h", 0);
    // rows are hourly from MON_2024_01_01; window bounds fall between rows
    const int64_t h = 3600, t0 = MON_2024_01_01;
    xt_fold fold = {0, t0 + 10 * h - 1, t0 + 60 * h, t0 + 50 * h + 1, t0 + 70 * h, t0 + 200 * h};
    xt_rl_shard_windows(&sh, &fold);
    assert_int_equal(sh.row[XT_RL_TRAIN][0], 10);
    assert_int_equal(sh.row[XT_RL_TRAIN][1], 51);
    assert_int_equal(sh.row[XT_RL_VAL][0], 51);
    assert_int_equal(sh.row[XT_RL_VAL][1], 60);
    assert_int_equal(sh.row[XT_RL_TEST][0], 70);
    assert_int_equal(sh.row[XT_RL_TEST][1], 100); // clipped to the data
    assert_true(xt_rl_window_usable(&sh, XT_RL_VAL));
    f.m.first_row = 59; // warm-up covers the validation slice but one row
    assert_false(xt_rl_window_usable(&sh, XT_RL_VAL));
    assert_true(xt_rl_window_usable(&sh, XT_RL_TEST));
    mkt_free(&f);

    const char *yaml = "data: {symbols: [BTCUSD, EURUSD, ETHUSD], timeframes: [1h, 4h]}\n"
                       "env: {episode_length: 77, initial_balance: 5000, position_levels: [-1, 0, 0.5, 1],\n"
                       "      long_only: true, fee_crypto: 0.002, fee_forex: 0.0003, slippage_bps: 3,\n"
                       "      slippage_atr: 0.5, min_trade: 250, max_pair_exposure: 0.5, correlation_limit: 0.7,\n"
                       "      reward_vol_window: 30, bankrupt_fraction: 0.5, max_drawdown: 0.25}\n";
    xt_config cfg;
    xt_err err = {0};
    assert_int_equal(xt_config_load_text(&cfg, yaml, strlen(yaml), "env.yaml", &err), 0);
    xt_env_params p;
    assert_int_equal(xt_rl_env_params(&p, &cfg, &err), 0);
    assert_int_equal(p.episode_length, 77);
    assert_true(p.initial_cash == 5000.0);
    assert_int_equal(p.n_levels, 4);
    assert_true(p.levels[2] == 0.5 && p.long_only == 1);
    assert_int_equal(p.n_symbols, 3);
    assert_int_equal(p.n_timeframes, 2);
    assert_true(p.fee[XT_ASSET_CRYPTO] == 0.002 && p.fee[XT_ASSET_FOREX] == 0.0003);
    for (int c = 0; c < XT_ASSET_COUNT; c++) assert_true(p.slip_bps[c] == 3.0);
    assert_true(p.slip_atr_k == 0.5 && p.min_trade == 250.0 && p.min_position == 250.0);
    assert_true(p.corr_cap == 0.5 && p.corr_limit == 0.7 && p.reward_vol_window == 30);
    assert_true(p.bankrupt_frac == 0.5 && p.max_drawdown == 0.25);
    assert_true(p.max_weight == 0.4 && p.min_cash == 0.05 && p.reward_scale == 100.0); // defaults
    assert_int_equal(xt_asset_env_n_actions(&p), 3);
    // the env refuses levels without 0; the sentence names the config file
    const char *bad = "env: {position_levels: [-1, 1]}\n";
    assert_int_equal(xt_config_load_text(&cfg, bad, strlen(bad), "bad.yaml", &err), 0);
    assert_int_equal(xt_rl_env_params(&p, &cfg, &err), XT_EINVAL);
    assert_contains(err.msg, "bad.yaml: env.levels: must contain 0");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_windows_params),
        cmocka_unit_test(t_asset_chunks),
        cmocka_unit_test(t_determinism),
        cmocka_unit_test(t_portfolio),
        cmocka_unit_test(t_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
