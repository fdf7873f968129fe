// test_learning.c - end-to-end learning through the trainer on synthetic
// markets built here (no caches): a memory-dependent edge that the LSTM
// policy exploits out of sample and a feed-forward policy cannot, a leaked
// next-bar return that training turns into near-perfect timing, bit-for-bit
// determinism of losses and weights, and the checkpoint round trip.
#include "testutil.h"

#include "core/config.h"
#include "core/rng.h"
#include "env/asset_env.h"
#include "env/baseline.h"
#include "rl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MON_2024_01_01 1704067200LL

// ---- synthetic one-asset markets

enum { N_TRAIN = 6000, N_TEST = 2000, N_ROWS = N_TRAIN + N_TEST };

typedef struct {
    xt_env_market m;
    int64_t ts[N_ROWS];
    double o[N_ROWS], h[N_ROWS], l[N_ROWS], c[N_ROWS], atr[N_ROWS];
    float feat[N_ROWS];
    xt_rl_shard shard;
} mkt;

// Bar r from the previous close with a simple return x (no gaps: open = previous close).
static void s_bar(mkt *f, int64_t r, double x) {
    double o = r ? f->c[r - 1] : 100.0, c = o * (1.0 + x);
    f->o[r] = o, f->c[r] = c;
    f->h[r] = fmax(o, c) * 1.0005, f->l[r] = fmin(o, c) * 0.9995;
    f->atr[r] = 0.005 * c;
}

static void s_finish(mkt *f) {
    xt_env_market *m = &f->m;
    memset(m, 0, sizeof *m);
    for (int64_t r = 0; r < N_ROWS; r++) f->ts[r] = MON_2024_01_01 + r * 3600;
    m->k = 1, m->n = N_ROWS, m->tf_sec = 3600, m->ts = f->ts;
    m->open[0] = f->o, m->high[0] = f->h, m->low[0] = f->l, m->close[0] = f->c, m->atr[0] = f->atr;
    xt_calendar_for_symbol(&m->cal[0], "BTCUSD"); // 24/7: every action is legal
    snprintf(m->symbol[0], sizeof m->symbol[0], "BTCUSD");
    m->vol_baseline[0] = 0.005;
    m->feat = f->feat, m->n_feat = 1, m->first_row = 0;
    xt_rl_shard *s = &f->shard;
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "BTCUSD-1h");
    snprintf(s->symbol, sizeof s->symbol, "BTCUSD");
    s->tf_sec = 3600, s->m = m;
    s->row[XT_RL_TRAIN][0] = 0, s->row[XT_RL_TRAIN][1] = N_TRAIN;
    s->row[XT_RL_VAL][0] = s->row[XT_RL_VAL][1] = N_TRAIN;
    s->row[XT_RL_TEST][0] = N_TRAIN, s->row[XT_RL_TEST][1] = N_ROWS;
}

// Memory task: at an event row e the feature shows the direction s = +-1
// (0 on every other row). Bars e+1 .. e+K-1 then drift against s by DIP in
// total, and bar e+K moves with s by JUMP = DIP. The action chosen after
// row e+K-1 is the one that earns the jump, so only a policy that counts K-1
// silent bars since the announcement can time it: short the drift, long the
// jump. Holding from the announcement through the jump nets zero (DIP = JUMP);
// a feed-forward policy sees the same silent observation at every waiting
// step. Other bars are small noise. Events are 12..20 bars apart.
enum { K_AHEAD = 8 };
#define DIP 0.02
#define JUMP 0.02
#define NOISE 0.001

static void mkt_memory(mkt *f, uint64_t seed) {
    xt_rng g;
    xt_rng_seed(&g, seed);
    memset(f->feat, 0, sizeof f->feat);
    int64_t next = 5;
    double drift[N_ROWS] = {0};
    for (int64_t r = 0; r < N_ROWS; r++) {
        if (r == next && r + K_AHEAD < N_ROWS) {
            float s = xt_rng_uniform(&g) < 0.5 ? 1.0f : -1.0f;
            f->feat[r] = s;
            for (int d = 1; d < K_AHEAD; d++) drift[r + d] = -s * DIP / (K_AHEAD - 1);
            drift[r + K_AHEAD] = s * JUMP;
            next = r + 12 + (int64_t)xt_rng_below(&g, 9);
        }
        s_bar(f, r, drift[r] + NOISE * xt_rng_normal(&g));
    }
    s_finish(f);
}

// Leak task: the feature of row t is the sign of the next bar's return
// (+-1, with a 0.3 sd noise added); bars move +-0.4% plus noise.
static void mkt_leak(mkt *f, uint64_t seed) {
    xt_rng g;
    xt_rng_seed(&g, seed);
    double x[N_ROWS];
    for (int64_t r = 0; r < N_ROWS; r++) x[r] = (xt_rng_uniform(&g) < 0.5 ? -0.004 : 0.004) + NOISE * xt_rng_normal(&g);
    for (int64_t r = 0; r < N_ROWS; r++) {
        s_bar(f, r, x[r]);
        f->feat[r] = (r + 1 < N_ROWS ? (x[r + 1] > 0 ? 1.0f : -1.0f) : 0.0f) + 0.3f * (float)xt_rng_normal(&g);
    }
    s_finish(f);
}

// ---- training through the trainer

static const char *s_yaml =
    "run: {seed: %d}\n"
    "data: {symbols: [BTCUSD], timeframes: [1h]}\n"
    "env:\n"
    "  kind: asset\n"
    "  episode_length: 256\n"
    "  fee_crypto: 0.0002\n"
    "  slippage_bps: 0\n"
    "  slippage_atr: 0\n"
    "  stop_loss_atr: 0\n"
    "  take_profit_atr: 0\n"
    "  bankrupt_fraction: 0\n"
    "  max_drawdown: 1\n"
    "  reward_sharpe_weight: 0\n"
    "  reward_return_weight: 1\n"
    "  reward_scale: 1\n"
    "model: {lstm_hidden: 32, lstm_layers: %d, mlp: [32]}\n"
    "ppo:\n"
    "  total_steps: %d\n"
    "  n_envs: 16\n"
    "  n_steps: 64\n"
    "  chunk_len: 16\n"
    "  batch_size: 256\n"
    "  n_epochs: 4\n"
    "  lr: %g\n"
    "  gamma: %g\n"
    "  gae_lambda: 0.9\n"
    "  ent_schedule: [[0, 0.01]]\n"
    "  threads: 1\n"
    "  eval_every: 0\n";

static void s_config(xt_config *cfg, int seed, int lstm_layers, int total, double lr, double gamma) {
    char text[2048];
    snprintf(text, sizeof text, s_yaml, seed, lstm_layers, total, lr, gamma);
    xt_err err = {0};
    if (xt_config_load_text(cfg, text, strlen(text), "learning.yaml", &err)) fail_msg("config: %s", err.msg);
}

static xt_trainer *s_trainer(const xt_config *cfg, const mkt *f) {
    xt_err err = {0};
    xt_trainer *t = xt_trainer_new(cfg, &f->shard, 1, 0, &err);
    if (!t) fail_msg("trainer: %s", err.msg);
    return t;
}

static void s_train(xt_trainer *t, int64_t total) {
    xt_err err = {0};
    while (xt_trainer_env_steps(t) < total) {
        xt_train_iter it;
        if (xt_trainer_iterate(t, &it, &err)) fail_msg("iterate: %s", err.msg);
        assert_int_equal(it.ppo.skipped, 0);
    }
}

// Hit rate of the evaluated positions: sign(position) == sign(bar return).
typedef struct {
    const mkt *f;
    int64_t invested, hits, steps;
} hits;

static void s_hits(void *arg, const xt_eval_step *st) {
    hits *h = arg;
    double x = h->f->c[st->row] / h->f->o[st->row] - 1.0;
    h->steps++;
    if (st->w[0] == 0.0) return;
    h->invested++;
    h->hits += st->w[0] * x > 0.0;
}

// A uniformly random policy over the legal levels on the test window.
static double s_random_return(const mkt *f, const xt_env_params *p, uint64_t seed) {
    xt_env_setup su;
    xt_env_setup_default(&su, &f->m);
    su.row_begin = N_TRAIN, su.row_end = N_ROWS, su.eval = 1;
    xt_asset_env *e = NULL;
    xt_err err = {0};
    assert_int_equal(xt_asset_env_new(&e, &f->m, p, &su, &err), 0);
    int od = xt_asset_env_obs_dim(p, &f->m), na = xt_asset_env_n_actions(p);
    float *obs = calloc((size_t)od, 4), rew;
    uint8_t mask[16], term, trunc;
    xt_env_io io = {obs, &rew, &term, &trunc, mask, NULL};
    xt_rng g;
    xt_rng_seed(&g, seed);
    xt_asset_env_reset(e, obs, mask);
    while (xt_asset_env_episodes(e, 0) == 0) {
        int32_t a = (int32_t)xt_rng_below(&g, (uint64_t)na);
        xt_asset_env_step(e, &a, &io, NULL);
    }
    double r = xt_asset_env_episode_metrics(e, 0)->total_return;
    free(obs);
    xt_asset_env_destroy(&e);
    return r;
}

// ---- (a) the memory-dependent edge

static double s_memory_run(int lstm_layers, const mkt *f, double *bh, double *rnd) {
    xt_config cfg;
    const int total = 150000;
    s_config(&cfg, 3, lstm_layers, total, 3e-3, 0.5);
    xt_trainer *t = s_trainer(&cfg, f);
    s_train(t, total);
    xt_metrics m;
    xt_err err = {0};
    assert_int_equal(xt_trainer_eval(t, XT_RL_TEST, &m, NULL, NULL, &err), 0);
    xt_metrics base[XT_BASELINE_COUNT];
    assert_int_equal(xt_eval_baselines(XT_ENV_KIND_ASSET, &f->shard, XT_RL_TEST, xt_trainer_env_params(t), base, &err), 0);
    *bh = base[XT_BASELINE_BUY_HOLD].total_return;
    *rnd = s_random_return(f, xt_trainer_env_params(t), 5);
    print_message("memory task, %d LSTM layers: test return %.4f sharpe %.2f trades %lld | buy-and-hold %.4f | random %.4f\n",
                  lstm_layers, m.total_return, m.sharpe, (long long)m.trades, *bh, *rnd);
    xt_trainer_destroy(&t);
    return m.total_return;
}

static void t_memory_edge(void **state) {
    (void)state;
    mkt *f = malloc(sizeof *f);
    mkt_memory(f, 2024);
    double bh, rnd;
    double lstm = s_memory_run(1, f, &bh, &rnd);
    double mlp = s_memory_run(0, f, &bh, &rnd);
    // the LSTM times the announced move: far above buy-and-hold and random
    assert_true(lstm > bh + 0.5);
    assert_true(lstm > rnd + 0.5);
    // the feed-forward policy finds no edge (holding through nets zero)
    assert_true(mlp < 0.2);
    assert_true(mlp < lstm / 10);
    free(f);
}

// ---- (b) a leaked next-bar return

static void t_leak(void **state) {
    (void)state;
    mkt *f = malloc(sizeof *f);
    mkt_leak(f, 7);
    xt_config cfg;
    const int total = 40000;
    s_config(&cfg, 4, 1, total, 3e-3, 0.5);
    xt_trainer *t = s_trainer(&cfg, f);
    s_train(t, total);
    hits h = {f, 0, 0, 0};
    xt_metrics m;
    xt_err err = {0};
    assert_int_equal(xt_trainer_eval(t, XT_RL_TEST, &m, s_hits, &h, &err), 0);
    double rate = h.invested ? (double)h.hits / h.invested : 0.0, inv = (double)h.invested / h.steps;
    print_message("leak task: hit rate %.3f invested %.3f test return %.4f sharpe %.2f\n", rate, inv, m.total_return,
                  m.sharpe);
    assert_true(rate > 0.9);
    assert_true(inv > 0.5);
    xt_trainer_destroy(&t);
    free(f);
}

// ---- determinism: same seed, same losses and weights

typedef struct {
    double loss[4], policy[4], value[4], kl[4];
    float *params;
    size_t n;
} run_trace;

static void s_trace(run_trace *tr, const mkt *f, int seed) {
    xt_config cfg;
    s_config(&cfg, seed, 1, 4 * 1024, 3e-3, 0.5);
    cfg.ppo_threads = 2;
    xt_trainer *t = s_trainer(&cfg, f);
    xt_err err = {0};
    for (int i = 0; i < 4; i++) {
        xt_train_iter it;
        assert_int_equal(xt_trainer_iterate(t, &it, &err), 0);
        tr->loss[i] = it.ppo.loss, tr->policy[i] = it.ppo.policy_loss;
        tr->value[i] = it.ppo.value_loss, tr->kl[i] = it.ppo.approx_kl;
    }
    tr->n = xt_trainer_layout(t)->n_params;
    tr->params = malloc(tr->n * sizeof(float));
    memcpy(tr->params, xt_trainer_params(t), tr->n * sizeof(float));
    xt_trainer_destroy(&t);
}

static void t_determinism(void **state) {
    (void)state;
    mkt *f = malloc(sizeof *f);
    mkt_memory(f, 11);
    run_trace a, b, c;
    s_trace(&a, f, 21);
    s_trace(&b, f, 21);
    s_trace(&c, f, 22);
    assert_memory_equal(a.loss, b.loss, sizeof a.loss);
    assert_memory_equal(a.policy, b.policy, sizeof a.policy);
    assert_memory_equal(a.value, b.value, sizeof a.value);
    assert_memory_equal(a.kl, b.kl, sizeof a.kl);
    assert_memory_equal(a.params, b.params, a.n * sizeof(float));
    // another seed: other initial weights, episodes and actions
    assert_true(memcmp(a.loss, c.loss, sizeof a.loss) != 0);
    assert_true(memcmp(a.params, c.params, a.n * sizeof(float)) != 0);
    free(a.params), free(b.params), free(c.params);
    free(f);
}

// ---- checkpoint round trip (portfolio env, Gaussian head)

static void t_checkpoint(void **state) {
    (void)state;
    mkt *f = malloc(sizeof *f);
    mkt_memory(f, 12);
    xt_config cfg;
    s_config(&cfg, 8, 1, 1 << 20, 1e-3, 0.9);
    cfg.env_kind = XT_ENV_KIND_PORTFOLIO;
    cfg.env_min_cash = 0.0, cfg.env_max_weight = 1.0;
    xt_trainer *a = s_trainer(&cfg, f), *b = s_trainer(&cfg, f);
    xt_err err = {0};
    xt_train_iter ia, ib;
    for (int i = 0; i < 2; i++) assert_int_equal(xt_trainer_iterate(a, &ia, &err), 0);
    char dir[256], path[512];
    xt_test_tmpdir(dir, "rlckpt");
    snprintf(path, sizeof path, "%s/ckpt-2048.xtck", dir);
    assert_int_equal(xt_trainer_save(a, path, 1.25, &err), 0);
    assert_int_equal(xt_trainer_ckpt_fold(path, &(int){-1}, &err), 0);
    // b (fresh weights) resumes from it: identical params, counters
    const size_t n = xt_trainer_layout(a)->n_params;
    assert_true(memcmp(xt_trainer_params(a), xt_trainer_params(b), n * sizeof(float)) != 0);
    assert_int_equal(xt_trainer_load(b, path, XT_TRAINER_LOAD_RESUME, &err), 0);
    assert_memory_equal(xt_trainer_params(a), xt_trainer_params(b), n * sizeof(float));
    assert_int_equal(xt_trainer_env_steps(b), xt_trainer_env_steps(a));
    assert_int_equal(xt_trainer_updates(b), 2);
    // the next update on the same chunks is identical (Adam moments, step, shuffling stream restored)
    assert_int_equal(xt_trainer_collect(a, 0, xt_trainer_chunks_per_env(a), &err), 0);
    const xt_batch *batch = xt_rollout_batch(xt_trainer_rollout(a));
    assert_int_equal(xt_trainer_update(b, batch, &ib, &err), 0);
    assert_int_equal(xt_trainer_update(a, NULL, &ia, &err), 0);
    assert_true(ia.ppo.loss == ib.ppo.loss && ia.ppo.approx_kl == ib.ppo.approx_kl);
    assert_true(ia.ppo.steps > 0);
    assert_memory_equal(xt_trainer_params(a), xt_trainer_params(b), n * sizeof(float));
    // evaluation from the loaded weights equals the original's
    xt_metrics ma, mb;
    assert_int_equal(xt_trainer_eval(a, XT_RL_TEST, &ma, NULL, NULL, &err), 0);
    assert_int_equal(xt_trainer_eval(b, XT_RL_TEST, &mb, NULL, NULL, &err), 0);
    assert_memory_equal(&ma, &mb, sizeof ma);
    assert_true(ma.steps == N_TEST - 1);

    // a corrupted file, another model, a missing file: one sentence each
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 300, SEEK_SET);
    fputc(0x5a ^ fgetc(fp), fp); // fgetc moved the position: flip the next byte
    fclose(fp);
    assert_int_equal(xt_trainer_load(b, path, XT_TRAINER_LOAD_EVAL, &err), XT_EPARSE);
    assert_contains(err.msg, "crc");
    assert_contains(err.msg, path);
    snprintf(path, sizeof path, "%s/ok.xtck", dir);
    assert_int_equal(xt_trainer_save(a, path, NAN, &err), 0);
    xt_config other = cfg;
    other.model_lstm_hidden = 16;
    xt_trainer *c = s_trainer(&other, f);
    assert_int_not_equal(xt_trainer_load(c, path, XT_TRAINER_LOAD_EVAL, &err), 0);
    assert_contains(err.msg, "the checkpoint's model has lstm_hidden 32, the config and data give 16");
    assert_int_not_equal(xt_trainer_load(c, "/nonexistent/x.xtck", XT_TRAINER_LOAD_EVAL, &err), 0);
    assert_contains(err.msg, "/nonexistent/x.xtck");
    xt_trainer_destroy(&c);
    xt_trainer_destroy(&a);
    xt_trainer_destroy(&b);
    unlink(path);
    snprintf(path, sizeof path, "%s/ckpt-2048.xtck", dir);
    unlink(path);
    rmdir(dir);
    free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_determinism),
        cmocka_unit_test(t_checkpoint),
        cmocka_unit_test(t_leak),
        cmocka_unit_test(t_memory_edge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
