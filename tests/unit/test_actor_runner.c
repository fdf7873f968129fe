// test_actor_runner.c - the actor's shard runner on a real fold (tiny
// synthetic config, caches built into a temp dir):
//   - an Assignment's env counts per shard are reproduced (or reported not);
//   - chunks have the declared shapes, shard keys, fold and version, episode
//     starts and zero (h0, c0) on the first chunk;
//   - each chunk's log-probs are exactly what the weights it names give for
//     its observations from its (h0, c0), and the state after the chunk is
//     the next chunk's (h0, c0): the recurrent state carries across chunks;
//   - weights installed between two collects act from the next chunk's first
//     step on, and only there (versions switch at chunk boundaries);
//   - a non-finite observation drops the collect, is counted, and stepping
//     resumes with fresh episodes once the data is finite again;
//   - the per-actor seed mixes the actor id and the fold;
//   - deterministic mode: a rewind to a snapshot makes the next collects
//     repeat, byte for byte, the ones that followed the snapshot (also after
//     a weights change and after other collects in between); the keep ring
//     holds the last two kept versions; and with per-shard streams a shard's
//     envs act the same whatever other shard shares the runner.
#include "testutil.h"

#include "runner.h"

#include "core/config.h"
#include "core/rng.h"
#include "nn/heads.h"
#include "nn/model.h"
#include "rl/rollout.h"
#include "rl/shards.h"
#include "rl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_CHUNK 16

static const char *s_yaml = "run: {id: rt, seed: 5}\n"
                            "data:\n"
                            "  source: synthetic\n"
                            "  symbols: [BTCUSD, EURUSD]\n"
                            "  timeframes: [1h]\n"
                            "  start: 2022-01-01\n"
                            "  end: 2023-09-01\n"
                            "env: {kind: asset, episode_length: 40}\n"
                            "model: {lstm_hidden: 8, lstm_layers: 1, mlp: [16]}\n"
                            "ppo: {chunk_len: 16, n_steps: 32}\n"
                            "folds:\n"
                            "  mode: explicit\n"
                            "  explicit:\n"
                            "    - {train_start: 2023-01-01, train_end: 2023-04-01, test_start: 2023-04-15, "
                            "test_end: 2023-06-01}\n";

typedef struct {
    xt_config cfg;
    xt_shards *shards;
    xt_env_params p;
    xt_model_spec spec;
    xt_model_layout lay;
    float *pa, *pb; // two different parameter sets
} fx;

static int s_setup(void **state) {
    static fx f;
    static char dir[256];
    xt_err err = {0};
    xt_test_tmpdir(dir, "runner");
    if (xt_config_load_text(&f.cfg, s_yaml, strlen(s_yaml), "runner.yaml", &err)) fail_msg("%s", err.msg);
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    if (xt_config_set(&f.cfg, "data.cache_dir", cache, &err)) fail_msg("%s", err.msg);
    if (xt_shards_open(&f.shards, &f.cfg, 0, 1, &err)) fail_msg("%s", err.msg);
    if (xt_rl_env_params(&f.p, &f.cfg, &err)) fail_msg("%s", err.msg);
    int D, A;
    if (xt_rollout_dims(XT_ENV_KIND_ASSET, &f.p, xt_shards_list(f.shards), xt_shards_count(f.shards), &D, &A, &err) ||
        xt_rl_model_spec(&f.spec, &f.cfg, D, A, &err) || xt_model_layout_init(&f.lay, &f.spec, &err))
        fail_msg("%s", err.msg);
    f.pa = calloc(f.lay.n_params, sizeof(float));
    f.pb = calloc(f.lay.n_params, sizeof(float));
    xt_rng r;
    xt_rng_seed(&r, 11);
    xt_model_init_params(&f.lay, f.pa, &r);
    // The init's policy head is near uniform: move B well away from A so
    // that the two versions act differently.
    for (size_t k = 0; k < f.lay.n_params; k++) f.pb[k] = f.pa[k] + 0.5f * (float)xt_rng_normal(&r);
    *state = &f;
    return 0;
}

static int s_teardown(void **state) {
    fx *f = *state;
    xt_shards_destroy(&f->shards);
    free(f->pa), free(f->pb);
    return 0;
}

static xt_runner_config s_rcfg(uint64_t seed) {
    return (xt_runner_config){XT_ENV_KIND_ASSET, T_CHUNK, seed, 0, -5.0f, 2.0f, 1};
}

static xt_runner *s_runner(fx *f, const xt_rl_shard *shards, int n_shards, const int *env_shard, int n) {
    xt_err err = {0};
    xt_runner_config rc = s_rcfg(99);
    xt_runner *r = xt_runner_new(&rc, shards, n_shards, env_shard, n, &f->p, &f->spec, &err);
    if (!r) fail_msg("%s", err.msg);
    return r;
}

// Recomputes a chunk with the model: log-probs of its actions from its
// (h0, c0) under params, and the state after its T steps.
typedef struct {
    float logp[T_CHUNK];
    float *h, *c; // [2][L][1][H]
} recompute;

static void s_recompute(const fx *f, const float *params, const xt_wire_chunk *c, recompute *out) {
    xt_err err = {0};
    xt_model *m = xt_model_new(&f->spec, 1, T_CHUNK, 0, &err);
    if (!m) fail_msg("%s", err.msg);
    const int L = f->spec.lstm_layers, H = f->spec.lstm_hidden, A = f->spec.act_dim;
    float h0[2 * 4 * 256], c0[2 * 4 * 256];
    // wire actor/critic halves -> [net][layer][B=1][H]
    memcpy(h0, c->actor_h, sizeof(float) * L * H), memcpy(h0 + L * H, c->critic_h, sizeof(float) * L * H);
    memcpy(c0, c->actor_c, sizeof(float) * L * H), memcpy(c0 + L * H, c->critic_c, sizeof(float) * L * H);
    xt_model_input in = {c->obs, NULL, c->episode_start, h0, c0};
    if (xt_model_forward(m, params, &in, 1, T_CHUNK, XT_NET_BOTH, &err)) fail_msg("%s", err.msg);
    float ent[T_CHUNK], probs[T_CHUNK * 16];
    assert_true(A <= 16);
    xt_heads_cat_forward(out->logp, ent, probs, xt_model_actor_out(m), c->masks, c->actions_cat, T_CHUNK, A);
    out->h = calloc((size_t)2 * L * H, sizeof(float));
    out->c = calloc((size_t)2 * L * H, sizeof(float));
    xt_model_final_state(m, out->h, out->c);
    xt_model_destroy(&m);
}

static double s_max_diff(const float *x, const float *y, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)x[i] - (double)y[i]));
    return d;
}

// ---- tests

static void test_counts(void **state) {
    fx *f = *state;
    const xt_rl_shard *list = xt_shards_list(f->shards);
    assert_int_equal(xt_shards_count(f->shards), 2);
    // Broker-style layout: 3 envs on BTCUSD, 2 on EURUSD -> exact.
    int e1[5] = {0, 0, 0, 1, 1};
    xt_runner *r = s_runner(f, list, 2, e1, 5);
    assert_int_equal(xt_runner_exact(r), 1);
    assert_int_equal(xt_runner_shard_stats(r, 0)->n_envs, 3);
    assert_int_equal(xt_runner_shard_stats(r, 1)->n_envs, 2);
    // 2 on BTCUSD, 3 on EURUSD: still exact (EURUSD goes first in the collector).
    int e2[5] = {0, 0, 1, 1, 1};
    xt_runner_destroy(&r);
    r = s_runner(f, list, 2, e2, 5);
    assert_int_equal(xt_runner_exact(r), 1);
    assert_int_equal(xt_runner_shard_stats(r, 0)->n_envs, 2);
    assert_int_equal(xt_runner_shard_stats(r, 1)->n_envs, 3);
    int seen[2] = {0, 0};
    for (int g = 0; g < 5; g++) seen[xt_runner_env_shard(r, g)]++;
    assert_int_equal(seen[0], 2);
    assert_int_equal(seen[1], 3);
    // 1 and 4 cannot be the collector's even split: reported, spread 3 / 2.
    int e3[5] = {0, 1, 1, 1, 1};
    xt_runner_destroy(&r);
    r = s_runner(f, list, 2, e3, 5);
    assert_int_equal(xt_runner_exact(r), 0);
    assert_int_equal(xt_runner_shard_stats(r, 0)->n_envs + xt_runner_shard_stats(r, 1)->n_envs, 5);
    xt_runner_destroy(&r);
    // Bad input is refused with a sentence.
    xt_err err = {0};
    xt_runner_config rc = s_rcfg(1);
    int e4[2] = {0, 0};
    assert_null(xt_runner_new(&rc, list, 2, e4, 2, &f->p, &f->spec, &err));
    assert_contains(err.msg, "shard EURUSD-1h has no env");
}

static void test_chunks(void **state) {
    fx *f = *state;
    const xt_rl_shard *list = xt_shards_list(f->shards);
    int es[5] = {0, 0, 0, 1, 1};
    xt_runner *r = s_runner(f, list, 2, es, 5);
    const int N = 5, D = f->spec.obs_dim, A = f->spec.act_dim, L = f->spec.lstm_layers, H = f->spec.lstm_hidden;
    xt_runner_report rep;
    xt_err err = {0};
    // No weights yet: refused.
    assert_int_equal(xt_runner_collect(r, &rep, &err), XT_ESTATE);
    xt_wire_chunk c;
    assert_int_equal(xt_runner_chunk(r, 0, &c), 1);

    // Collects 1 and 2 with version 7 (params A), 3 with version 8 (params B).
    float *prev_obs_T = calloc((size_t)N * D, sizeof(float));
    float *prev_h[5], *prev_c[5];
    uint64_t versions[3] = {7, 7, 8};
    for (int k = 0; k < 3; k++) {
        const float *params = versions[k] == 7 ? f->pa : f->pb;
        if (k == 0 || versions[k] != versions[k - 1])
            assert_int_equal(xt_runner_set_params(r, params, versions[k], &err), 0);
        assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
        assert_int_equal(rep.ok, 1);
        assert_int_equal(rep.steps, (int64_t)N * T_CHUNK);
        assert_int_equal(rep.dropped_chunks, 0);
        int per_shard[2] = {0, 0};
        for (int g = 0; g < N; g++) {
            assert_int_equal(xt_runner_chunk(r, g, &c), 0);
            // shapes, key, version
            assert_int_equal(c.t, T_CHUNK);
            assert_int_equal(c.obs_dim, D);
            assert_int_equal(c.n_actions, A);
            assert_int_equal(c.action_kind, XT_WIRE_ACTION_CATEGORICAL);
            assert_int_equal(c.lstm_layers, L);
            assert_int_equal(c.lstm_hidden, H);
            assert_int_equal(c.env_index, g);
            assert_int_equal(c.policy_version, versions[k]);
            assert_int_equal(c.shard.fold, 0);
            assert_int_equal(c.shard.tf_sec, 3600);
            assert_null(c.shard.portfolio);
            int s = xt_runner_env_shard(r, g);
            assert_string_equal(c.shard.symbol, list[s].symbol);
            per_shard[s]++;
            assert_non_null(c.masks);
            assert_non_null(c.critic_h);
            assert_null(c.values);
            assert_true(xt_wire_chunk_bytes(&c) <= xt_runner_chunk_bytes(r));
            uint32_t ends = 0;
            for (int t = 0; t < T_CHUNK; t++) {
                assert_true(c.actions_cat[t] >= 0 && c.actions_cat[t] < A);
                assert_true(c.masks[t * A + c.actions_cat[t]]); // never a masked action
                ends += c.terminated[t] | c.truncated[t];
                // a step after an episode end starts the next one
                if (t > 0 && c.episode_start[t] != (c.terminated[t - 1] | c.truncated[t - 1])) { for (int u = 0; u < T_CHUNK; u++) printf("%d:%d%d%d ", u, c.episode_start[u], c.terminated[u], c.truncated[u]); fail_msg("k %d g %d t %d", k, g, t); }
            }
            assert_int_equal(c.episodes, ends);
            if (k == 0) {
                // first chunk: every env starts an episode from a zero state
                assert_int_equal(c.episode_start[0], 1);
                for (int j = 0; j < L * H; j++)
                    assert_true(c.actor_h[j] == 0 && c.actor_c[j] == 0 && c.critic_h[j] == 0 && c.critic_c[j] == 0);
            } else {
                // the chunk continues the previous one: same observation, and
                // the state the model reaches after the previous chunk
                assert_true(s_max_diff(c.obs, prev_obs_T + (size_t)g * D, D) == 0);
                assert_true(s_max_diff(c.actor_h, prev_h[g], L * H) < 1e-4);
                assert_true(s_max_diff(c.critic_h, prev_h[g] + L * H, L * H) < 1e-4);
                assert_true(s_max_diff(c.actor_c, prev_c[g], L * H) < 1e-4);
                free(prev_h[g]), free(prev_c[g]);
            }
            // the log-probs are those of the version the chunk names ...
            recompute rc;
            s_recompute(f, params, &c, &rc);
            double d = s_max_diff(rc.logp, c.logp, T_CHUNK);
            if (d > 1e-3) fail_msg("collect %d env %d: logp differs from v%llu by %g", k, g,
                                   (unsigned long long)versions[k], d);
            // ... and not those of the other one, from the first step on
            recompute other;
            s_recompute(f, params == f->pa ? f->pb : f->pa, &c, &other);
            // (at the first step where more than one action is legal)
            int t1 = 0, legal = 0;
            for (; t1 < T_CHUNK; t1++) {
                legal = 0;
                for (int j = 0; j < A; j++) legal += c.masks[t1 * A + j];
                if (legal > 1) break;
            }
            if (t1 < T_CHUNK) assert_true(fabs(other.logp[t1] - c.logp[t1]) > 1e-4);
            free(other.h), free(other.c);
            prev_h[g] = rc.h, prev_c[g] = rc.c;
            memcpy(prev_obs_T + (size_t)g * D, c.obs + (size_t)T_CHUNK * D, sizeof(float) * D);
        }
        assert_int_equal(per_shard[0], 3);
        assert_int_equal(per_shard[1], 2);
    }
    for (int g = 0; g < N; g++) free(prev_h[g]), free(prev_c[g]);
    assert_int_equal(xt_runner_version(r), 8);
    uint64_t steps = xt_runner_shard_stats(r, 0)->steps + xt_runner_shard_stats(r, 1)->steps;
    assert_int_equal(steps, 3 * N * T_CHUNK);
    assert_int_equal(xt_runner_shard_stats(r, 0)->steps, 3 * 3 * T_CHUNK);
    free(prev_obs_T);
    xt_runner_destroy(&r);
}

static void test_nonfinite(void **state) {
    fx *f = *state;
    // A private copy of BTCUSD's market whose features the test can poison.
    xt_rl_shard s = xt_shards_list(f->shards)[0];
    xt_env_market m = *s.m;
    size_t nf = (size_t)m.n * m.n_feat;
    float *feat = malloc(nf * sizeof(float));
    memcpy(feat, s.m->feat, nf * sizeof(float));
    m.feat = feat;
    s.m = &m;
    int es[3] = {0, 0, 0};
    xt_runner *r = s_runner(f, &s, 1, es, 3);
    xt_err err = {0};
    xt_runner_report rep;
    assert_int_equal(xt_runner_set_params(r, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
    assert_int_equal(rep.ok, 1);
    // Feature 0 of every row becomes NaN: the next step's observations are not finite.
    for (int64_t t = 0; t < m.n; t++) feat[t * m.n_feat] = NAN;
    err = (xt_err){0};
    assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
    assert_int_equal(rep.ok, 0);
    assert_int_equal(rep.steps, 0);
    assert_contains(err.msg, "not finite");
    assert_int_equal(xt_runner_nonfinite_collects(r), 1);
    xt_wire_chunk c;
    for (int g = 0; g < 3; g++) assert_int_equal(xt_runner_chunk(r, g, &c), 1); // nothing to send
    // While the data stays bad the envs cannot be rebuilt: an error, not a crash.
    err = (xt_err){0};
    assert_true(xt_runner_collect(r, &rep, &err) < 0);
    assert_contains(err.msg, "BTCUSD");
    // Finite again: stepping resumes with fresh episodes from a zero state.
    memcpy(feat, xt_shards_list(f->shards)[0].m->feat, nf * sizeof(float));
    assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
    assert_int_equal(rep.ok, 1);
    for (int g = 0; g < 3; g++) {
        assert_int_equal(xt_runner_chunk(r, g, &c), 0);
        assert_int_equal(c.episode_start[0], 1);
        assert_true(c.actor_h[0] == 0 && c.critic_c[0] == 0);
        for (uint32_t k = 0; k < (T_CHUNK + 1) * c.obs_dim; k++) assert_true(isfinite(c.obs[k]));
    }
    assert_int_equal(xt_runner_nonfinite_collects(r), 1);
    assert_int_equal(xt_runner_shard_stats(r, 0)->steps, 2 * 3 * T_CHUNK); // dropped steps not counted
    xt_runner_destroy(&r);
    free(feat);
}

static void test_seed(void **state) {
    (void)state;
    uint64_t a = xt_runner_seed(42, "actor-a", 0), b = xt_runner_seed(42, "actor-b", 0);
    assert_true(a != b);
    assert_true(xt_runner_seed(42, "actor-a", 1) != a);
    assert_true(xt_runner_seed(43, "actor-a", 0) != a);
    assert_true(xt_runner_seed(42, "actor-a", 0) == a);
}

// Every array of every chunk of the last collect, concatenated.
static size_t s_chunk_bytes(const xt_runner *r, int g0, int n, uint8_t *out) {
    size_t o = 0;
    for (int g = g0; g < g0 + n; g++) {
        xt_wire_chunk c;
        assert_int_equal(xt_runner_chunk(r, g, &c), 0);
        const size_t T = c.t, D = c.obs_dim, A = c.n_actions, LH = (size_t)c.lstm_layers * c.lstm_hidden;
        struct {
            const void *p;
            size_t n;
        } a[] = {{c.obs, (T + 1) * D * 4}, {c.actions_cat, T * 4}, {c.logp, T * 4},        {c.rewards, T * 4},
                 {c.terminated, T},        {c.truncated, T},       {c.episode_start, T},   {c.masks, T * A},
                 {c.trunc_values, T * 4},  {c.actor_h, LH * 4},    {c.actor_c, LH * 4},    {c.critic_h, LH * 4},
                 {c.critic_c, LH * 4}};
        for (size_t k = 0; k < sizeof a / sizeof *a; k++)
            if (out) memcpy(out + o, a[k].p, a[k].n), o += a[k].n;
            else o += a[k].n;
    }
    return o;
}

static xt_runner *s_det_runner(fx *f, const xt_rl_shard *shards, int n_shards, const int *env_shard, int n, int slots) {
    xt_err err = {0};
    xt_runner *r = s_runner(f, shards, n_shards, env_shard, n);
    if (xt_runner_deterministic(r, slots, &err)) fail_msg("%s", err.msg);
    return r;
}

static void test_snapshot_rewind(void **state) {
    fx *f = *state;
    const xt_rl_shard *list = xt_shards_list(f->shards);
    int es[4] = {0, 0, 1, 1};
    xt_runner *r = s_det_runner(f, list, 2, es, 4, 3);
    xt_err err = {0};
    xt_runner_report rep;
    // Snapshots need slots: a runner without them refuses.
    xt_runner *plain = s_runner(f, list, 2, es, 4);
    assert_int_equal(xt_runner_snapshot(plain, 1, 1, &err), XT_ESTATE);
    assert_int_equal(xt_runner_rewind(plain, 1, &err), XT_ENOTFOUND);
    assert_contains(err.msg, "no snapshot of version 1");
    xt_runner_destroy(&plain);
    // One collect in before the snapshot: episodes and LSTM state are under way.
    assert_int_equal(xt_runner_set_params(r, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
    assert_int_equal(xt_runner_snapshot(r, 1, 1, &err), 0);
    assert_true(xt_runner_has_snapshot(r, 1) && !xt_runner_has_snapshot(r, 2));
    // The original: two collects with version 1, then version 2's weights.
    size_t n1 = s_chunk_bytes(r, 0, 4, NULL);
    uint8_t *orig = malloc(3 * n1), *again = malloc(3 * n1);
    for (int k = 0; k < 3; k++) {
        if (k == 2) assert_int_equal(xt_runner_set_params(r, f->pb, 2, &err), 0);
        assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
        assert_int_equal(rep.ok, 1);
        s_chunk_bytes(r, 0, 4, orig + k * n1);
    }
    // Rewind to version 1's start, reinstall its weights: the same bytes.
    assert_int_equal(xt_runner_set_params(r, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_rewind(r, 1, &err), 0);
    xt_wire_chunk c;
    assert_int_equal(xt_runner_chunk(r, 0, &c), 1); // the old collect's chunks are gone
    for (int k = 0; k < 3; k++) {
        if (k == 2) assert_int_equal(xt_runner_set_params(r, f->pb, 2, &err), 0);
        assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
        s_chunk_bytes(r, 0, 4, again + k * n1);
    }
    assert_memory_equal(orig, again, 3 * n1);
    // Without the rewind the next collect differs (the envs moved on).
    assert_int_equal(xt_runner_set_params(r, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_collect(r, &rep, &err), 0);
    s_chunk_bytes(r, 0, 4, again);
    assert_true(memcmp(orig, again, n1) != 0);
    // The keep ring holds the two newest kept versions; slot 0 the newest other.
    assert_int_equal(xt_runner_snapshot(r, 3, 1, &err), 0);
    assert_int_equal(xt_runner_snapshot(r, 4, 0, &err), 0);
    assert_int_equal(xt_runner_snapshot(r, 5, 1, &err), 0); // evicts 1 (the oldest kept)
    assert_false(xt_runner_has_snapshot(r, 1));
    assert_true(xt_runner_has_snapshot(r, 3) && xt_runner_has_snapshot(r, 4) && xt_runner_has_snapshot(r, 5));
    assert_int_equal(xt_runner_snapshot(r, 6, 0, &err), 0); // replaces 4
    assert_false(xt_runner_has_snapshot(r, 4));
    assert_int_equal(xt_runner_snapshot(r, 5, 1, &err), 0); // 5 again: in place, 3 stays
    assert_true(xt_runner_has_snapshot(r, 3) && xt_runner_has_snapshot(r, 5) && xt_runner_has_snapshot(r, 6));
    // Deterministic mode is set once, before weights.
    assert_int_equal(xt_runner_deterministic(r, 3, &err), XT_ESTATE);
    free(orig), free(again);
    xt_runner_destroy(&r);
}

// Per-shard streams: EURUSD's two envs start the same episodes and draw
// the same actions whether BTCUSD's envs share the runner (one actor's
// layout) or not (another actor steps BTCUSD). (Later collects agree too:
// with per-shard streams every env is inferred alone; test_env_slots.)
static void test_shard_streams(void **state) {
    fx *f = *state;
    const xt_rl_shard *list = xt_shards_list(f->shards);
    xt_err err = {0};
    xt_runner_report rep;
    int both[4] = {0, 0, 1, 1}, eur[2] = {0, 0};
    xt_runner *r2 = s_det_runner(f, list, 2, both, 4, 0);
    xt_runner *r1 = s_det_runner(f, list + 1, 1, eur, 2, 0);
    assert_int_equal(xt_runner_set_params(r2, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_set_params(r1, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_collect(r2, &rep, &err), 0);
    assert_int_equal(xt_runner_collect(r1, &rep, &err), 0);
    // EURUSD's envs: 2 and 3 of r2 (BTCUSD first), 0 and 1 of r1.
    assert_int_equal(xt_runner_env_shard(r2, 2), 1);
    size_t m = s_chunk_bytes(r1, 0, 2, NULL);
    uint8_t *x = malloc(m), *y = malloc(m);
    s_chunk_bytes(r2, 2, 2, x);
    s_chunk_bytes(r1, 0, 2, y);
    assert_memory_equal(x, y, m);
    // The actor-wide streams of a plain runner give EURUSD other episodes.
    xt_runner *p1 = s_runner(f, list + 1, 1, eur, 2);
    assert_int_equal(xt_runner_set_params(p1, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_collect(p1, &rep, &err), 0);
    s_chunk_bytes(p1, 0, 2, x);
    assert_true(memcmp(x, y, m) != 0);
    free(x), free(y);
    assert_true(xt_runner_shard_seed(42, 0, "EURUSD-1h", 3600) != xt_runner_shard_seed(42, 0, "BTCUSD-1h", 3600));
    assert_true(xt_runner_shard_seed(42, 0, "EURUSD-1h", 3600) != xt_runner_shard_seed(42, 1, "EURUSD-1h", 3600));
    assert_true(xt_runner_shard_seed(42, 0, "EURUSD-1h", 3600) != xt_runner_seed(42, "EURUSD-1h", 0));
    xt_runner_destroy(&p1);
    xt_runner_destroy(&r1);
    xt_runner_destroy(&r2);
}

static xt_runner *s_slot_runner(fx *f, const int *env_shard, const uint32_t *slot, int n) {
    xt_err err = {0};
    xt_runner *r = s_runner(f, xt_shards_list(f->shards), 2, env_shard, n);
    if (xt_runner_env_slots(r, slot, &err) || xt_runner_deterministic(r, 0, &err)) fail_msg("%s", err.msg);
    return r;
}

// Global env slots: the layout's slots 0-4 (BTCUSD 0-2, EURUSD 3-4) stepped
// by one actor, or slots 2-4 of them by another (BTCUSD 2, EURUSD 3-4), give
// every slot the same chunks, bit for bit, over several collects and a
// weights change: each env draws the streams of its slot and is inferred
// alone, so neither the other envs of the batch nor the row count matter.
static void test_env_slots(void **state) {
    fx *f = *state;
    xt_err err = {0};
    xt_runner_report rep;
    int ex[5] = {0, 0, 0, 1, 1}, ey[3] = {0, 1, 1};
    uint32_t sx[5] = {0, 1, 2, 3, 4}, sy[3] = {2, 3, 4};
    xt_runner *x = s_slot_runner(f, ex, sx, 5), *y = s_slot_runner(f, ey, sy, 3);
    size_t m = 0;
    uint8_t *bx = NULL, *by = NULL;
    for (int k = 0; k < 3; k++) {
        const float *params = k < 2 ? f->pa : f->pb;
        assert_int_equal(xt_runner_set_params(x, params, (uint64_t)(1 + k / 2), &err), 0);
        assert_int_equal(xt_runner_set_params(y, params, (uint64_t)(1 + k / 2), &err), 0);
        assert_int_equal(xt_runner_collect(x, &rep, &err), 0);
        assert_int_equal(rep.ok, 1);
        assert_int_equal(xt_runner_collect(y, &rep, &err), 0);
        assert_int_equal(rep.ok, 1);
        if (!bx) m = s_chunk_bytes(y, 0, 1, NULL), bx = malloc(m), by = malloc(m);
        // Chunks carry their env's slot; each of y's equals x's of that slot.
        unsigned seen = 0;
        xt_wire_chunk cx, cy;
        for (int g = 0; g < 5; g++) {
            assert_int_equal(xt_runner_chunk(x, g, &cx), 0);
            assert_true(cx.env_index < 5);
            seen |= 1u << cx.env_index;
        }
        assert_int_equal(seen, 0x1f);
        for (int g = 0; g < 3; g++) {
            assert_int_equal(xt_runner_chunk(y, g, &cy), 0);
            int gx = 0;
            while (gx < 5 && (xt_runner_chunk(x, gx, &cx), cx.env_index != cy.env_index)) gx++;
            assert_true(gx < 5);
            assert_string_equal(cx.shard.symbol, cy.shard.symbol);
            s_chunk_bytes(x, gx, 1, bx);
            s_chunk_bytes(y, g, 1, by);
            assert_memory_equal(bx, by, m);
        }
    }
    free(bx), free(by);
    xt_runner_destroy(&x);
    xt_runner_destroy(&y);
    // All slots 0 (a broker that sends none): ignored, local indices stay.
    uint32_t zero[5] = {0};
    xt_runner *z = s_runner(f, xt_shards_list(f->shards), 2, ex, 5);
    assert_int_equal(xt_runner_env_slots(z, zero, &err), 0);
    assert_int_equal(xt_runner_set_params(z, f->pa, 1, &err), 0);
    assert_int_equal(xt_runner_collect(z, &rep, &err), 0);
    xt_wire_chunk c;
    for (int g = 0; g < 5; g++) {
        assert_int_equal(xt_runner_chunk(z, g, &c), 0);
        assert_int_equal(c.env_index, g);
    }
    // Once, before deterministic mode and weights.
    assert_int_equal(xt_runner_env_slots(z, sx, &err), XT_ESTATE);
    xt_runner_destroy(&z);
    // A shard's envs must hold distinct consecutive slots.
    uint32_t dup[5] = {0, 0, 2, 3, 4};
    z = s_runner(f, xt_shards_list(f->shards), 2, ex, 5);
    assert_int_equal(xt_runner_env_slots(z, dup, &err), XT_EINVAL);
    assert_contains(err.msg, "env 1 of shard BTCUSD-1h has slot 0; the shard's 3 envs need the distinct slots 0..2");
    xt_runner_destroy(&z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_snapshot_rewind),
        cmocka_unit_test(test_shard_streams),
        cmocka_unit_test(test_env_slots),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
