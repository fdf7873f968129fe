// rollout.c - lockstep collection of N envs into chunk buffers (rollout.h).
//
// Per step, for all N envs at once: record obs / mask / start, one batched
// inference (actor + critic, so both recurrent states advance), sample from
// the head with each env's own stream, step every shard's env batch (they
// write straight into the shared [N] buffers, grouped by shard), record the
// outcome, then one critic call for the envs whose episode was truncated
// (their final observation, with the state carried to it).
//
// Invariants: state h, c is [2][L][N][H] as xt_model_infer wants; chunk
// c = j * N + g; nothing allocates after xt_rollout_new. Ownership: envs and
// buffers are owned, shards / markets / backend borrowed. Threads: one.
#include "rl/rollout.h"

#include "core/config.h"
#include "env/asset_env.h"
#include "env/portfolio_env.h"
#include "nn/heads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct xt_rollout {
    xt_rollout_config cfg;
    const xt_rl_shard *shards;
    int S, N, D, A, gauss, H, SS, emb; // shards, envs, obs, actions, Gaussian?, hidden, state per env, embedding
    int off[XT_RL_MAX_SHARDS + 1];     // envs of shard s: [off[s], off[s + 1])
    int *shard_of;                     // [N]
    xt_asset_env *aenv[XT_RL_MAX_SHARDS];
    xt_portfolio_env *penv[XT_RL_MAX_SHARDS];
    // per env, carried across steps and collects
    float *obs, *h, *c;                // [N][D], [SS / H][N][H] x 2
    uint8_t *mask, *start;             // [N][A], [N]
    int32_t *sym;                      // [N]
    double *ep_ret;                    // [N]
    xt_rng *rng;                       // [N]
    // per step scratch
    float *out, *value, *act_f, *logp, *noise, *rew, *final_obs; // [N][A], [N], [N][A], [N], [N][A], [N], [N][D]
    int32_t *act_i;
    uint8_t *term, *trunc;
    float *t_obs, *t_h, *t_c, *t_val;  // truncated subset
    int rowwise;                       // inference one env at a time (shard seeds)
    float *r_h, *r_c;                  // [SS / H][1][H]: one env's state for it
    int32_t *t_sym, *t_idx;
    // chunk buffers (the batch)
    float *b_obs, *b_act, *b_logp, *b_rew, *b_tv, *b_h0, *b_c0;
    int32_t *b_act_i, *b_sym;
    uint8_t *b_mask, *b_start, *b_term, *b_trunc;
    xt_batch batch;
    xt_rollout_stats st;
};

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- construction

int xt_rollout_dims(int kind, const xt_env_params *p, const xt_rl_shard *shards, int n_shards, int *obs_dim,
                    int *act_dim, xt_err *err) {
    if (n_shards < 1) return xt_err_set(err, XT_EINVAL, "rollout: no shards");
    for (int s = 0; s < n_shards; s++) {
        const xt_env_market *m = shards[s].m;
        int od = kind == XT_ENV_KIND_PORTFOLIO ? xt_portfolio_env_obs_dim(m) : xt_asset_env_obs_dim(p, m);
        int ad = kind == XT_ENV_KIND_PORTFOLIO ? xt_portfolio_env_act_dim(m) : xt_asset_env_n_actions(p);
        if (s == 0) *obs_dim = od, *act_dim = ad;
        if (od != *obs_dim || ad != *act_dim)
            return xt_err_set(err, XT_EINVAL,
                              "rollout: shard %s has %d observations and %d actions, shard %s %d and %d; "
                              "one policy needs the same widths everywhere",
                              shards[s].name, od, ad, shards[0].name, *obs_dim, *act_dim);
    }
    return 0;
}

static void *s_alloc(size_t n, size_t size, int *bad) {
    void *p = calloc(n ? n : 1, size);
    if (!p) *bad = 1;
    return p;
}

static int s_buffers(xt_rollout *r) {
    const size_t N = (size_t)r->N, D = (size_t)r->D, A = (size_t)r->A, SS = (size_t)r->SS;
    const size_t T = (size_t)r->cfg.T, C = N * (size_t)r->cfg.n_chunks;
    int bad = 0;
    r->shard_of = s_alloc(N, sizeof(int), &bad);
    r->obs = s_alloc(N * D, sizeof(float), &bad);
    r->h = s_alloc(N * SS, sizeof(float), &bad);
    r->c = s_alloc(N * SS, sizeof(float), &bad);
    r->mask = s_alloc(N * A, 1, &bad);
    r->start = s_alloc(N, 1, &bad);
    r->sym = s_alloc(N, sizeof(int32_t), &bad);
    r->ep_ret = s_alloc(N, sizeof(double), &bad);
    r->rng = s_alloc(N, sizeof(xt_rng), &bad);
    r->out = s_alloc(N * A, sizeof(float), &bad);
    r->value = s_alloc(N, sizeof(float), &bad);
    r->act_f = s_alloc(N * A, sizeof(float), &bad);
    r->logp = s_alloc(N, sizeof(float), &bad);
    r->noise = s_alloc(N * A, sizeof(float), &bad);
    r->rew = s_alloc(N, sizeof(float), &bad);
    r->final_obs = s_alloc(N * D, sizeof(float), &bad);
    r->act_i = s_alloc(N, sizeof(int32_t), &bad);
    r->term = s_alloc(N, 1, &bad);
    r->trunc = s_alloc(N, 1, &bad);
    r->t_obs = s_alloc(N * D, sizeof(float), &bad);
    r->t_h = s_alloc(N * SS, sizeof(float), &bad);
    r->t_c = s_alloc(N * SS, sizeof(float), &bad);
    r->t_val = s_alloc(N, sizeof(float), &bad);
    r->t_sym = s_alloc(N, sizeof(int32_t), &bad);
    r->t_idx = s_alloc(N, sizeof(int32_t), &bad);
    r->r_h = s_alloc(SS, sizeof(float), &bad);
    r->r_c = s_alloc(SS, sizeof(float), &bad);
    r->b_obs = s_alloc(C * (T + 1) * D, sizeof(float), &bad);
    r->b_act = r->gauss ? s_alloc(C * T * A, sizeof(float), &bad) : NULL;
    r->b_act_i = r->gauss ? NULL : s_alloc(C * T, sizeof(int32_t), &bad);
    r->b_logp = s_alloc(C * T, sizeof(float), &bad);
    r->b_rew = s_alloc(C * T, sizeof(float), &bad);
    r->b_tv = s_alloc(C * T, sizeof(float), &bad);
    r->b_h0 = s_alloc(C * SS, sizeof(float), &bad);
    r->b_c0 = s_alloc(C * SS, sizeof(float), &bad);
    r->b_sym = s_alloc(C, sizeof(int32_t), &bad);
    r->b_mask = s_alloc(C * T * A, 1, &bad);
    r->b_start = s_alloc(C * T, 1, &bad);
    r->b_term = s_alloc(C * T, 1, &bad);
    r->b_trunc = s_alloc(C * T, 1, &bad);
    return bad ? XT_ENOMEM : 0;
}

xt_rollout *xt_rollout_new(const xt_rollout_config *cfg, const xt_rl_shard *shards, int n_shards,
                           const xt_env_params *p, const xt_model_spec *spec, xt_err *err) {
    return xt_rollout_new_seeded(cfg, NULL, NULL, shards, n_shards, p, spec, err);
}

xt_rollout *xt_rollout_new_seeded(const xt_rollout_config *cfg, const uint64_t *shard_seeds,
                                  const uint32_t *stream_base, const xt_rl_shard *shards, int n_shards,
                                  const xt_env_params *p, const xt_model_spec *spec, xt_err *err) {
    int D = 0, A = 0;
    if (n_shards > XT_RL_MAX_SHARDS) {
        xt_err_set(err, XT_EINVAL, "rollout: %d shards, at most %d", n_shards, XT_RL_MAX_SHARDS);
        return NULL;
    }
    if (xt_rollout_dims(cfg->kind, p, shards, n_shards, &D, &A, err)) return NULL;
    if (cfg->n_envs < 1 || cfg->T < 1 || cfg->n_chunks < 1) {
        xt_err_set(err, XT_EINVAL, "rollout: n_envs (%d), chunk length (%d) and chunks (%d) must be >= 1",
                   cfg->n_envs, cfg->T, cfg->n_chunks);
        return NULL;
    }
    if (spec->obs_dim != D || spec->act_dim != A || spec->gaussian != (cfg->kind == XT_ENV_KIND_PORTFOLIO)) {
        xt_err_set(err, XT_EINVAL,
                   "rollout: the model takes %d observations and %d %s actions, the %s env gives %d and %d",
                   spec->obs_dim, spec->act_dim, spec->gaussian ? "Gaussian" : "categorical",
                   cfg->kind == XT_ENV_KIND_PORTFOLIO ? "portfolio" : "asset", D, A);
        return NULL;
    }
    xt_rollout *r = calloc(1, sizeof *r);
    if (!r) {
        xt_err_set(err, XT_ENOMEM, "rollout: out of memory");
        return NULL;
    }
    r->cfg = *cfg, r->shards = shards, r->S = n_shards, r->N = cfg->n_envs, r->D = D, r->A = A;
    r->gauss = spec->gaussian, r->H = spec->lstm_hidden, r->SS = 2 * spec->lstm_layers * spec->lstm_hidden;
    r->emb = spec->emb_dim > 0;
    r->rowwise = shard_seeds != NULL;
    if (s_buffers(r)) {
        xt_rollout_destroy(&r);
        xt_err_set(err, XT_ENOMEM, "rollout: out of memory for %d envs x %d chunks of %d steps", cfg->n_envs,
                   cfg->n_chunks, cfg->T);
        return NULL;
    }
    // Shard s: N / S envs, one more for the first N % S shards.
    for (int s = 0, o = 0; s < r->S; s++) {
        r->off[s] = o;
        o += r->N / r->S + (s < r->N % r->S);
        r->off[s + 1] = o;
    }
    for (int s = 0; s < r->S; s++) {
        int n = r->off[s + 1] - r->off[s];
        if (n == 0) continue; // fewer envs than shards: this shard is not visited
        xt_env_setup su;
        xt_env_setup_default(&su, shards[s].m);
        su.row_begin = shards[s].row[cfg->window][0], su.row_end = shards[s].row[cfg->window][1];
        // Streams: global env index under run.seed, or the index within the
        // shard under the shard's own seed (rollout.h, shard_seeds).
        const uint64_t seed = shard_seeds ? shard_seeds[s] : cfg->seed;
        const uint64_t base = shard_seeds ? (stream_base ? stream_base[s] : 0) : (uint64_t)r->off[s];
        su.n_envs = n, su.seed = seed, su.stream0 = XT_RL_STREAM_ENV + base;
        su.symbol_id = shards[s].symbol_id, su.tf_id = shards[s].tf_id;
        int rc = cfg->kind == XT_ENV_KIND_PORTFOLIO ? xt_portfolio_env_new(&r->penv[s], shards[s].m, p, &su, err)
                                                    : xt_asset_env_new(&r->aenv[s], shards[s].m, p, &su, err);
        if (rc) {
            xt_err_prefix(err, "shard %s (%s window)", shards[s].name, xt_rl_window_name(cfg->window));
            xt_rollout_destroy(&r);
            return NULL;
        }
        for (int g = r->off[s]; g < r->off[s + 1]; g++) {
            r->shard_of[g] = s;
            r->sym[g] = shards[s].symbol_id;
            xt_rng_derive(&r->rng[g], seed, XT_RL_STREAM_SAMPLE + base + (uint64_t)(g - r->off[s]));
        }
        float *o = r->obs + (size_t)r->off[s] * D;
        uint8_t *mk = r->mask + (size_t)r->off[s] * A;
        if (r->penv[s]) xt_portfolio_env_reset(r->penv[s], o, mk);
        else xt_asset_env_reset(r->aenv[s], o, mk);
    }
    memset(r->start, 1, (size_t)r->N); // every env begins an episode
    const size_t C = (size_t)r->N * cfg->n_chunks;
    r->batch = (xt_batch){
        .C = (int)C,
        .T = cfg->T,
        .obs = r->b_obs,
        .sym = r->emb ? r->b_sym : NULL,
        .actions = r->b_act,
        .actions_i = r->b_act_i,
        .masks = r->b_mask,
        .logp = r->b_logp,
        .rewards = r->b_rew,
        .starts = r->b_start,
        .terminated = r->b_term,
        .truncated = r->b_trunc,
        .trunc_value = r->b_tv,
        .valid = NULL,
        .h0 = r->SS ? r->b_h0 : NULL,
        .c0 = r->SS ? r->b_c0 : NULL,
    };
    for (size_t c = 0; c < C; c++) r->b_sym[c] = r->sym[c % (size_t)r->N];
    return r;
}

void xt_rollout_destroy(xt_rollout **self_p) {
    if (!self_p || !*self_p) return;
    xt_rollout *r = *self_p;
    for (int s = 0; s < r->S; s++) {
        xt_asset_env_destroy(&r->aenv[s]);
        xt_portfolio_env_destroy(&r->penv[s]);
    }
    void *bufs[] = {r->shard_of, r->obs,   r->h,     r->c,      r->mask,    r->start,   r->sym,    r->ep_ret,
                    r->rng,      r->out,   r->value, r->act_f,  r->logp,    r->noise,   r->rew,    r->final_obs,
                    r->act_i,    r->term,  r->trunc, r->t_obs,  r->t_h,     r->t_c,     r->t_val,  r->t_sym,
                    r->t_idx,    r->b_obs, r->b_act, r->b_act_i, r->b_logp, r->b_rew,   r->b_tv,   r->b_h0,
                    r->b_c0,     r->b_sym, r->b_mask, r->b_start, r->b_term, r->b_trunc, r->r_h,
                    r->r_c};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) free(bufs[k]);
    free(r);
    *self_p = NULL;
}

// ---- one step

// (h, c) of every env -> chunk row c0 + g of h0 / c0 ([net * L + layer][H] per chunk).
static void s_record_state(xt_rollout *r, size_t c0) {
    const int H = r->H, J = r->SS / (H ? H : 1), N = r->N;
    for (int g = 0; g < N && r->SS; g++)
        for (int j = 0; j < J; j++) {
            size_t dst = (c0 + (size_t)g) * r->SS + (size_t)j * H, src = ((size_t)j * N + g) * H;
            memcpy(r->b_h0 + dst, r->h + src, (size_t)H * sizeof(float));
            memcpy(r->b_c0 + dst, r->c + src, (size_t)H * sizeof(float));
        }
}

// Draws and samples one action per env (each env from its own stream).
static void s_sample(xt_rollout *r, const float *log_std) {
    const int N = r->N, A = r->A;
    if (r->gauss) {
        // A normals per env every step, masked dims included: fixed stream use.
        for (int g = 0; g < N; g++)
            for (int j = 0; j < A; j++) r->noise[(size_t)g * A + j] = (float)xt_rng_normal(&r->rng[g]);
        xt_heads_gauss_sample(r->act_f, r->logp, r->out, log_std, r->mask, r->noise, r->cfg.ls_min,
                              r->cfg.ls_max, N, A);
    } else {
        for (int g = 0; g < N; g++) r->noise[g] = xt_rng_uniformf(&r->rng[g]);
        xt_heads_cat_sample(r->act_i, r->logp, r->out, r->mask, r->noise, N, A);
    }
}

// Steps every shard's env batch; they write into the shared [N] buffers.
static void s_step_envs(xt_rollout *r) {
    for (int s = 0; s < r->S; s++) {
        int o = r->off[s];
        if (r->off[s + 1] == o) continue;
        xt_env_io io = {r->obs + (size_t)o * r->D, r->rew + o, r->term + o, r->trunc + o,
                        r->mask + (size_t)o * r->A, r->final_obs + (size_t)o * r->D};
        if (r->penv[s]) xt_portfolio_env_step(r->penv[s], r->act_f + (size_t)o * r->A, &io, NULL);
        else xt_asset_env_step(r->aenv[s], r->act_i + o, &io, NULL);
    }
}

static const xt_metrics *s_episode(const xt_rollout *r, int g) {
    int s = r->shard_of[g], i = g - r->off[s];
    return r->penv[s] ? xt_portfolio_env_episode_metrics(r->penv[s], i) : xt_asset_env_episode_metrics(r->aenv[s], i);
}

// One inference step of n envs (rows of obs [n][D], sym, starts, out [n][A],
// value; state h, c [J][n][H], updated in place): one batched call, or with
// shard seeds n calls of one row each, the row's state gathered into r_h /
// r_c and scattered back. A one-row product has the same shape for every
// env, so its rounding cannot depend on the other envs (rollout.h).
static int s_infer(xt_rollout *r, xt_backend *be, const float *obs, const int32_t *sym, const uint8_t *starts,
                   float *h, float *c, float *out, float *value, int n, xt_err *err) {
    if (!r->rowwise || n == 1) return xt_backend_infer(be, obs, sym, starts, h, c, out, value, n, err);
    const int D = r->D, A = r->A, H = r->H, J = r->SS / (H ? H : 1);
    const size_t hb = (size_t)H * sizeof(float);
    for (int q = 0; q < n; q++) {
        for (int j = 0; j < J; j++) {
            memcpy(r->r_h + (size_t)j * H, h + ((size_t)j * n + q) * H, hb);
            memcpy(r->r_c + (size_t)j * H, c + ((size_t)j * n + q) * H, hb);
        }
        int rc = xt_backend_infer(be, obs + (size_t)q * D, sym ? sym + q : NULL, starts ? starts + q : NULL, r->r_h,
                                  r->r_c, out ? out + (size_t)q * A : NULL, value ? value + q : NULL, 1, err);
        if (rc) return rc;
        for (int j = 0; j < J; j++) {
            memcpy(h + ((size_t)j * n + q) * H, r->r_h + (size_t)j * H, hb);
            memcpy(c + ((size_t)j * n + q) * H, r->r_c + (size_t)j * H, hb);
        }
    }
    return 0;
}

// Critic values of the final observations of the envs truncated this step,
// each from the state carried to it; -> tv[g] (0 elsewhere).
static int s_trunc_values(xt_rollout *r, xt_backend *be, float *tv, size_t stride, xt_err *err) {
    const int N = r->N, D = r->D, H = r->H, J = r->SS / (H ? H : 1);
    int n = 0;
    for (int g = 0; g < N; g++) {
        tv[(size_t)g * stride] = 0.0f;
        if (r->trunc[g] && !r->term[g]) r->t_idx[n++] = g;
    }
    if (n == 0) return 0;
    for (int q = 0; q < n; q++) {
        int g = r->t_idx[q];
        memcpy(r->t_obs + (size_t)q * D, r->final_obs + (size_t)g * D, (size_t)D * sizeof(float));
        r->t_sym[q] = r->sym[g];
        for (int j = 0; j < J; j++) {
            size_t dst = ((size_t)j * n + q) * H, src = ((size_t)j * N + g) * H;
            memcpy(r->t_h + dst, r->h + src, (size_t)H * sizeof(float));
            memcpy(r->t_c + dst, r->c + src, (size_t)H * sizeof(float));
        }
    }
    int rc = s_infer(r, be, r->t_obs, r->emb ? r->t_sym : NULL, NULL, r->t_h, r->t_c, NULL, r->t_val, n, err);
    if (rc) return rc;
    for (int q = 0; q < n; q++) tv[(size_t)r->t_idx[q] * stride] = r->t_val[q];
    return 0;
}

// Observations and rewards must be finite (DESIGN §5: checked at the actor).
static int s_check_finite(const xt_rollout *r, int64_t step, xt_err *err) {
    const size_t nd = (size_t)r->N * r->D;
    for (size_t k = 0; k < nd; k++)
        if (!isfinite(r->obs[k])) {
            int g = (int)(k / (size_t)r->D);
            return xt_err_set(err, XT_ENUMERIC, "rollout: shard %s env %d step %lld: observation[%d] is not finite",
                              r->shards[r->shard_of[g]].name, g, (long long)step, (int)(k % (size_t)r->D));
        }
    for (int g = 0; g < r->N; g++)
        if (!isfinite(r->rew[g]))
            return xt_err_set(err, XT_ENUMERIC, "rollout: shard %s env %d step %lld: reward is not finite",
                              r->shards[r->shard_of[g]].name, g, (long long)step);
    return 0;
}

// ---- collect

int xt_rollout_collect_part(xt_rollout *r, xt_backend *be, const float *log_std, int j0, int j1, xt_err *err) {
    const int N = r->N, D = r->D, A = r->A, T = r->cfg.T;
    if (r->gauss && !log_std) return xt_err_set(err, XT_EINVAL, "rollout: the Gaussian head needs log_std");
    if (j0 < 0 || j1 > r->cfg.n_chunks || j0 >= j1)
        return xt_err_set(err, XT_EINVAL, "rollout: chunk slots [%d, %d) outside [0, %d)", j0, j1, r->cfg.n_chunks);
    for (int j = j0; j < j1; j++) {
        const size_t c0 = (size_t)j * N; // chunk of env g: c0 + g
        s_record_state(r, c0);
        for (int t = 0; t < T; t++) {
            double t0 = s_now();
            // inputs of step t
            for (int g = 0; g < N; g++) {
                size_t c = c0 + (size_t)g, ct = c * T + t;
                memcpy(r->b_obs + (c * (T + 1) + t) * D, r->obs + (size_t)g * D, (size_t)D * sizeof(float));
                memcpy(r->b_mask + ct * A, r->mask + (size_t)g * A, (size_t)A);
                r->b_start[ct] = r->start[g];
            }
            double t1 = s_now();
            int rc = s_infer(r, be, r->obs, r->emb ? r->sym : NULL, r->start, r->h, r->c, r->out, r->value, N, err);
            if (rc) return rc;
            s_sample(r, log_std);
            double t2 = s_now();
            s_step_envs(r);
            double t3 = s_now();
            if ((rc = s_check_finite(r, (int64_t)j * T + t, err))) return rc;
            // outcome of step t
            for (int g = 0; g < N; g++) {
                size_t ct = (c0 + (size_t)g) * T + t;
                if (r->gauss) memcpy(r->b_act + ct * A, r->act_f + (size_t)g * A, (size_t)A * sizeof(float));
                else r->b_act_i[ct] = r->act_i[g];
                r->b_logp[ct] = r->logp[g];
                r->b_rew[ct] = r->rew[g];
                r->b_term[ct] = r->term[g];
                r->b_trunc[ct] = r->trunc[g];
                r->ep_ret[g] += r->rew[g];
            }
            double t4 = s_now();
            rc = s_trunc_values(r, be, r->b_tv + c0 * T + t, (size_t)T, err);
            if (rc) return rc;
            double t5 = s_now();
            for (int g = 0; g < N; g++) {
                r->start[g] = (uint8_t)(r->term[g] | r->trunc[g]);
                if (!r->start[g]) continue;
                const xt_metrics *m = s_episode(r, g);
                r->st.episodes++;
                r->st.return_sum += r->ep_ret[g];
                if (m) r->st.sharpe_sum += m->sharpe, r->st.total_return_sum += m->total_return;
                r->ep_ret[g] = 0.0;
            }
            if (t == T - 1)
                for (int g = 0; g < N; g++)
                    memcpy(r->b_obs + ((c0 + (size_t)g) * (T + 1) + T) * D, r->obs + (size_t)g * D,
                           (size_t)D * sizeof(float));
            double t6 = s_now();
            r->st.t_infer += (t2 - t1) + (t5 - t4);
            r->st.t_env += t3 - t2;
            r->st.t_record += (t1 - t0) + (t4 - t3) + (t6 - t5);
        }
    }
    r->st.steps += (int64_t)N * (j1 - j0) * T;
    return 0;
}

int xt_rollout_collect(xt_rollout *r, xt_backend *be, const float *log_std, xt_err *err) {
    return xt_rollout_collect_part(r, be, log_std, 0, r->cfg.n_chunks, err);
}

// ---- accessors

const xt_batch *xt_rollout_batch(const xt_rollout *self) { return &self->batch; }

void xt_rollout_stats_take(xt_rollout *self, xt_rollout_stats *out) {
    *out = self->st;
    memset(&self->st, 0, sizeof self->st);
}

int xt_rollout_n_envs(const xt_rollout *self) { return self->N; }
int xt_rollout_env_shard(const xt_rollout *self, int g) { return g >= 0 && g < self->N ? self->shard_of[g] : -1; }
xt_rng *xt_rollout_rngs(xt_rollout *self) { return self->rng; }

// ---- snapshots

// Layout of a snapshot: the carried per-env arrays in a fixed order, then
// each shard's env block (doubles and RNG states first, so that a snapshot
// buffer from malloc keeps them aligned; memcpy would cope either way).
typedef struct {
    void *p;
    size_t n;
} s_span;

static int s_spans(const xt_rollout *r, s_span *sp) {
    const size_t N = (size_t)r->N;
    int k = 0;
    sp[k++] = (s_span){r->ep_ret, N * sizeof(double)};
    sp[k++] = (s_span){r->rng, N * sizeof(xt_rng)};
    sp[k++] = (s_span){r->obs, N * r->D * sizeof(float)};
    sp[k++] = (s_span){r->h, N * r->SS * sizeof(float)};
    sp[k++] = (s_span){r->c, N * r->SS * sizeof(float)};
    sp[k++] = (s_span){r->mask, N * r->A};
    sp[k++] = (s_span){r->start, N};
    return k;
}

size_t xt_rollout_state_bytes(const xt_rollout *r) {
    s_span sp[8];
    size_t n = 0;
    for (int k = 0, m = s_spans(r, sp); k < m; k++) n += sp[k].n;
    for (int s = 0; s < r->S; s++)
        n += r->penv[s]   ? xt_portfolio_env_state_bytes(r->penv[s])
             : r->aenv[s] ? xt_asset_env_state_bytes(r->aenv[s])
                          : 0;
    return n;
}

void xt_rollout_snapshot(const xt_rollout *r, void *dst) {
    char *o = dst;
    s_span sp[8];
    for (int k = 0, m = s_spans(r, sp); k < m; k++) memcpy(o, sp[k].p, sp[k].n), o += sp[k].n;
    for (int s = 0; s < r->S; s++) {
        if (r->penv[s]) xt_portfolio_env_snapshot(r->penv[s], o), o += xt_portfolio_env_state_bytes(r->penv[s]);
        else if (r->aenv[s]) xt_asset_env_snapshot(r->aenv[s], o), o += xt_asset_env_state_bytes(r->aenv[s]);
    }
}

void xt_rollout_restore(xt_rollout *r, const void *src) {
    const char *o = src;
    s_span sp[8];
    for (int k = 0, m = s_spans(r, sp); k < m; k++) memcpy(sp[k].p, o, sp[k].n), o += sp[k].n;
    for (int s = 0; s < r->S; s++) {
        if (r->penv[s]) xt_portfolio_env_restore(r->penv[s], o), o += xt_portfolio_env_state_bytes(r->penv[s]);
        else if (r->aenv[s]) xt_asset_env_restore(r->aenv[s], o), o += xt_asset_env_state_bytes(r->aenv[s]);
    }
}
