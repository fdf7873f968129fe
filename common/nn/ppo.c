// ppo.c - the recurrent-PPO update over a backend (see ppo.h for the steps).
//
// Purpose: the algorithm, not the arithmetic: which chunks go into which
// minibatch, which schedules apply, when to stop and what to report. The
// backend does every tensor operation; the host does GAE (cheap, [C][T]) and
// the bookkeeping.
//
// Invariants: the shuffling stream advances only here, once per epoch, so
// the same seed, batches and env steps give the same minibatch order.
// Ownership: the backend is borrowed; values / advantages / returns /
// permutation buffers are owned and sized at xt_ppo_new. Threads: one.
#include "nn/ppo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/gae.h"

struct xt_ppo {
    xt_backend *be;
    xt_ppo_config cfg;
    int max_chunks, T;
    xt_rng rng;
    float *values; // [C][T + 1] current critic at update start
    float *adv;    // [C][T]
    float *ret;    // [C][T]
    float *vflat;  // [C][T] values without the bootstrap step (explained variance)
    int *perm;     // [C] chunk order of the current epoch
    float *rscaled; // [C][T] rewards / running sd of discounted returns (normalize_reward)
    double r_n, r_mean, r_m2; // Welford state over discounted returns, kept across updates
};

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- config

void xt_ppo_config_default(xt_ppo_config *c) {
    memset(c, 0, sizeof *c);
    c->n_epochs = 10;
    c->minibatch_chunks = 1;
    c->gamma = XT_GAE_GAMMA_DEFAULT;
    c->gae_lambda = XT_GAE_LAMBDA_DEFAULT;
    c->hp = (xt_ppo_hparams)XT_PPO_HPARAMS_DEFAULT;
    c->normalize_adv = 1;
    c->target_kl = 0;
    c->max_grad_norm = XT_ADAM_MAX_GRAD_NORM_DEFAULT;
    c->lr = (xt_sched_lr){XT_SCHED_CONSTANT, 3e-4, 0, 0};
    const xt_sched_point ent[] = XT_SCHED_ENT_SEED003;
    c->n_ent = (int)(sizeof ent / sizeof *ent);
    memcpy(c->ent, ent, sizeof ent);
    c->seed = 1;
    c->normalize_reward = 0;
    c->reward_clip = 10.0;
}

static int s_num(xt_err *err, const char *field, double v, double lo, double hi) {
    if (isfinite(v) && v >= lo && v <= hi)
        return 0;
    return xt_err_set(err, XT_EINVAL, "ppo.%s: must be between %g and %g (got %g)", field, lo, hi,
                      v);
}

int xt_ppo_config_check(const xt_ppo_config *c, xt_err *err) {
    int rc;
    if ((rc = s_num(err, "n_epochs", c->n_epochs, 1, 1000)))
        return rc;
    if ((rc = s_num(err, "minibatch_chunks", c->minibatch_chunks, 1, 1 << 20)))
        return rc;
    if ((rc = s_num(err, "gamma", c->gamma, 0, 1)))
        return rc;
    if ((rc = s_num(err, "gae_lambda", c->gae_lambda, 0, 1)))
        return rc;
    if ((rc = s_num(err, "clip_range", c->hp.clip_eps, 1e-6, 10)))
        return rc;
    if ((rc = s_num(err, "vf_coef", c->hp.vf_coef, 0, 100)))
        return rc;
    if ((rc = s_num(err, "vf_clip", c->hp.vf_clip, 0, 1e6)))
        return rc;
    if ((rc = s_num(err, "ent_coef", c->hp.ent_coef, -1, 1)))
        return rc;
    if ((rc = s_num(err, "target_kl", c->target_kl, 0, 100)))
        return rc;
    if ((rc = s_num(err, "max_grad_norm", c->max_grad_norm, 0, 1e6)))
        return rc;
    if ((rc = s_num(err, "lr", c->lr.lr_start, 0, 1)))
        return rc;
    if ((rc = s_num(err, "lr_end", c->lr.lr_end, 0, 1)))
        return rc;
    if ((rc = s_num(err, "ent_schedule length", c->n_ent, 0, XT_PPO_MAX_ENT_POINTS)))
        return rc;
    if (c->n_ent > 0 && (rc = xt_sched_piecewise_check(c->ent, c->n_ent, "ppo.ent_schedule", err)))
        return rc;
    return 0;
}

// ---- lifecycle

xt_ppo *xt_ppo_new(xt_backend *backend, const xt_ppo_config *cfg, int max_chunks, xt_err *err) {
    if (xt_ppo_config_check(cfg, err))
        return NULL;
    if (max_chunks < 1) {
        xt_err_set(err, XT_EINVAL, "ppo: max_chunks must be >= 1 (got %d)", max_chunks);
        return NULL;
    }
    xt_ppo *self = calloc(1, sizeof *self);
    if (!self) {
        xt_err_set(err, XT_ENOMEM, "ppo: out of memory");
        return NULL;
    }
    self->be = backend;
    self->cfg = *cfg;
    self->max_chunks = max_chunks;
    self->T = backend->cfg.T;
    xt_rng_seed(&self->rng, cfg->seed);
    size_t C = (size_t)max_chunks, T = (size_t)self->T;
    self->values = malloc(C * (T + 1) * sizeof(float));
    self->adv = malloc(C * T * sizeof(float));
    self->ret = malloc(C * T * sizeof(float));
    self->vflat = malloc(C * T * sizeof(float));
    self->perm = malloc(C * sizeof(int));
    self->rscaled = malloc(C * T * sizeof(float));
    if (!self->values || !self->adv || !self->ret || !self->vflat || !self->perm || !self->rscaled) {
        xt_err_set(err, XT_ENOMEM, "ppo: out of memory for %d chunks of %d steps", max_chunks,
                   self->T);
        xt_ppo_destroy(&self);
        return NULL;
    }
    return self;
}

void xt_ppo_destroy(xt_ppo **self_p) {
    if (!self_p || !*self_p)
        return;
    xt_ppo *self = *self_p;
    free(self->values);
    free(self->adv);
    free(self->ret);
    free(self->vflat);
    free(self->perm);
    free(self->rscaled);
    free(self);
    *self_p = NULL;
}

xt_rng *xt_ppo_rng(xt_ppo *self) {
    return &self->rng;
}
const float *xt_ppo_advantages(const xt_ppo *self) {
    return self->adv;
}
const float *xt_ppo_returns(const xt_ppo *self) {
    return self->ret;
}
const float *xt_ppo_values(const xt_ppo *self) {
    return self->values;
}

// ---- update

// Fisher-Yates over [0, n).
static void s_shuffle(int *perm, int n, xt_rng *rng) {
    for (int k = 0; k < n; k++)
        perm[k] = k;
    for (int k = n - 1; k > 0; k--) {
        int j = (int)xt_rng_below(rng, (uint64_t)k + 1);
        int t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
}

// Reward scaling (as SB3's VecNormalize): the running sd of discounted
// returns, accumulated per chunk from 0 at the chunk start and reset at
// episode ends, divides every reward; the result is clipped. A positive
// rescaling keeps the optimal policy and keeps value targets O(1) whatever
// the env's reward units (seed 003's reward reaches 1e3-1e5 per step).
static const float *s_scale_rewards(xt_ppo *self, const xt_batch *b) {
    if (!self->cfg.normalize_reward) return b->rewards;
    const int C = b->C, T = b->T;
    const double g = self->cfg.gamma;
    for (int c = 0; c < C; c++) {
        double G = 0;
        for (int t = 0; t < T; t++) {
            size_t k = (size_t)c * T + t;
            if (b->valid && !b->valid[k]) continue;
            G = G * g + b->rewards[k];
            if (isfinite(G)) {
                self->r_n += 1;
                double d = G - self->r_mean;
                self->r_mean += d / self->r_n;
                self->r_m2 += d * (G - self->r_mean);
            }
            if (b->terminated[k] || (b->truncated && b->truncated[k])) G = 0;
        }
    }
    double var = self->r_n > 1 ? self->r_m2 / (self->r_n - 1) : 1.0;
    double inv = 1.0 / sqrt(var + 1e-8), clip = self->cfg.reward_clip;
    for (size_t k = 0; k < (size_t)C * T; k++) {
        double r = b->rewards[k] * inv;
        if (clip > 0) r = r > clip ? clip : (r < -clip ? -clip : r);
        self->rscaled[k] = (float)r;
    }
    return self->rscaled;
}

void xt_ppo_reward_stats(const xt_ppo *self, double out[3]) {
    out[0] = self->r_n, out[1] = self->r_mean, out[2] = self->r_m2;
}

void xt_ppo_set_reward_stats(xt_ppo *self, const double in[3]) {
    self->r_n = in[0], self->r_mean = in[1], self->r_m2 = in[2];
}

// Advantages, returns (GAE per chunk: time index t of a [T, 1] problem) and
// the explained variance of the current values.
static void s_gae(xt_ppo *self, const xt_batch *b, xt_ppo_report *rep) {
    const int C = b->C, T = b->T;
    const float *rewards = s_scale_rewards(self, b);
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * T;
        xt_gae_compute(self->adv + o, self->ret + o, rewards + o,
                       self->values + (size_t)c * (T + 1), b->terminated + o,
                       b->truncated ? b->truncated + o : NULL,
                       b->trunc_value ? b->trunc_value + o : NULL, (float)self->cfg.gamma,
                       (float)self->cfg.gae_lambda, T, 1);
        memcpy(self->vflat + o, self->values + (size_t)c * (T + 1), (size_t)T * sizeof(float));
    }
    int64_t n = (int64_t)C * T, valid = n;
    if (b->valid) {
        valid = 0;
        for (int64_t k = 0; k < n; k++)
            valid += b->valid[k] != 0;
    }
    rep->samples = valid;
    rep->explained_variance = xt_ppo_explained_variance(self->vflat, self->ret, b->valid, (int)n);
}

int xt_ppo_update(xt_ppo *self, const xt_batch *batch, int64_t env_step, xt_ppo_report *rep,
                  xt_err *err) {
    const xt_ppo_config *cfg = &self->cfg;
    double t_start = s_now();
    memset(rep, 0, sizeof *rep);
    if (batch->C > self->max_chunks)
        return xt_err_set(err, XT_EINVAL, "ppo update: batch of %d chunks, built for at most %d",
                          batch->C, self->max_chunks);
    xt_backend_timing tm0, tm1;
    xt_backend_timing_get(self->be, &tm0);
    int rc = xt_backend_set_batch(self->be, batch, err);
    if (rc)
        return rc;
    // 1-2: values with the current critic, then GAE on the host
    if ((rc = xt_backend_evaluate(self->be, self->values, err)))
        return rc;
    double th = s_now();
    s_gae(self, batch, rep);
    rep->lr = xt_sched_lr_at(&cfg->lr, env_step);
    rep->ent_coef =
        cfg->n_ent ? xt_sched_piecewise_at(cfg->ent, cfg->n_ent, env_step) : cfg->hp.ent_coef;
    xt_loss_coefs coefs = {cfg->hp, cfg->normalize_adv};
    coefs.hp.ent_coef = rep->ent_coef;
    double t_host = s_now() - th;
    // 3-5: epochs of shuffled minibatches of whole chunks
    const int C = batch->C, M = cfg->minibatch_chunks < C ? cfg->minibatch_chunks : C;
    double gsum = 0;
    for (int e = 0; e < cfg->n_epochs && !rep->kl_stop; e++) {
        th = s_now();
        s_shuffle(self->perm, C, &self->rng);
        t_host += s_now() - th;
        rep->epochs++;
        for (int s = 0; s < C; s += M) {
            int n = C - s < M ? C - s : M;
            xt_ppo_stats st;
            rc = xt_backend_loss_grad(self->be, self->perm + s, n, self->adv, self->ret,
                                      self->values, &coefs, &st, err);
            if (rc)
                return rc;
            if (!isfinite(st.loss)) {
                rep->skipped++;
                continue;
            }
            rep->minibatches++;
            rep->sample_epochs += st.n_valid;
            rep->policy_loss += st.policy_loss;
            rep->value_loss += st.value_loss;
            rep->entropy += st.entropy;
            rep->approx_kl += st.approx_kl;
            rep->clip_fraction += st.clip_fraction;
            rep->loss += st.loss;
            // SB3: a minibatch past 1.5 x target_kl is not applied and ends training
            if (cfg->target_kl > 0 && st.approx_kl > 1.5 * cfg->target_kl) {
                rep->kl_stop = 1;
                break;
            }
            double gn = 0;
            rc = xt_backend_step(self->be, rep->lr, cfg->max_grad_norm, &gn, err);
            if (rc == XT_ENUMERIC) {
                rep->skipped++;
                continue;
            }
            if (rc)
                return rc;
            rep->steps++;
            gsum += gn;
        }
    }
    if (rep->minibatches) {
        double k = 1.0 / rep->minibatches;
        rep->policy_loss *= k, rep->value_loss *= k, rep->entropy *= k;
        rep->approx_kl *= k, rep->clip_fraction *= k, rep->loss *= k;
    }
    rep->grad_norm = rep->steps ? gsum / rep->steps : 0;
    xt_backend_timing_get(self->be, &tm1);
    rep->t_evaluate = tm1.evaluate - tm0.evaluate;
    rep->t_forward = tm1.forward - tm0.forward;
    rep->t_backward = tm1.backward - tm0.backward;
    rep->t_optimizer = tm1.optimizer - tm0.optimizer;
    rep->t_host = t_host;
    rep->t_total = s_now() - t_start;
    if (err && rep->skipped)
        xt_err_clear(err); // skips are reported, not errors
    return 0;
}
