// backend_cpu.c - the CPU (OpenBLAS) backend: the reference implementation of
// xt_backend and the fallback learner / actor inference engine.
//
// Purpose: run the learner's operations (evaluate, loss_grad, step, infer)
// on the host with the model of model.h, the heads of heads.h, the loss of
// ppo_loss.h and Adam of adam.h. The minibatch computation (xt_cpu_loss) is
// written once in backend_cpu_impl.inc and compiled for float (the backend)
// and double (finite-difference checks through model + heads + loss).
//
// Data flow of loss_grad: the batch stays where the caller put it (chunk-
// major); the chunks of a minibatch are gathered into time-major buffers
// sized at creation (max_chunks x T), then forward / loss / backward run on
// them. Nothing allocates after xt_backend_cpu_new.
//
// Invariants: the four slabs (params, grads, Adam m, v) have lay.n_params
// floats; params are finite (upload checks, step refuses non-finite
// gradients); log_std stays inside [ls_min, ls_max] after every step.
// Threads: one driving thread; every op sets OpenBLAS to cfg.threads first.
#include "nn/backend.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/heads.h"

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- the minibatch computation, float and double

#define REAL float
#define SFX(name) name
#include "nn/backend_cpu_impl.inc"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "nn/backend_cpu_impl.inc"
#undef REAL
#undef SFX

// ---- the backend object

typedef struct {
    xt_backend base;
    xt_cpu_loss *loss; // train model (max_chunks x T + 1 steps) + head/loss scratch
    xt_model *infer;   // single-step model for max_infer envs (NULL if 0)
    float *slab;       // params, grads, m, v: 4 x n_params floats
    xt_adam adam;
    xt_batch batch; // the caller's arrays (read in place)
    int have_batch;
    // time-major gather buffers of one minibatch: B = max_chunks, rows (T + 1) * B
    float *obs, *h0, *c0, *act, *old_logp, *adv, *ret, *oldv;
    int32_t *sym, *act_i;
    int *idx; // chunk indices of one evaluate group
    uint8_t *starts, *masks, *valid;
    xt_backend_timing tm;
} s_cpu;

static void s_cpu_destroy(xt_backend *b) {
    s_cpu *self = (s_cpu *)b;
    xt_cpu_loss_destroy(&self->loss);
    xt_model_destroy(&self->infer);
    void *bufs[] = {self->slab,     self->obs,   self->h0,     self->c0,    self->act,
                    self->old_logp, self->adv,   self->ret,    self->oldv,  self->idx,
                    self->sym,      self->act_i, self->starts, self->masks, self->valid};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        free(bufs[k]);
    free(self);
}

static void s_threads(const s_cpu *self) {
    openblas_set_num_threads(self->base.cfg.threads);
}

// ---- params and optimizer state

static int s_cpu_upload(xt_backend *b, const float *params, const float *m, const float *v,
                        int64_t step, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    size_t n = b->lay.n_params;
    memcpy(self->adam.params, params, n * sizeof *params);
    if (m) {
        memcpy(self->adam.m, m, n * sizeof *m);
        memcpy(self->adam.v, v, n * sizeof *v);
    } else {
        memset(self->adam.m, 0, n * sizeof *m);
        memset(self->adam.v, 0, n * sizeof *v);
    }
    self->adam.step = step;
    return 0;
}

static int s_cpu_download(xt_backend *b, float *params, float *grads, float *m, float *v,
                          int64_t *step, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    size_t bytes = b->lay.n_params * sizeof(float);
    if (params)
        memcpy(params, self->adam.params, bytes);
    if (grads)
        memcpy(grads, self->adam.grads, bytes);
    if (m)
        memcpy(m, self->adam.m, bytes);
    if (v)
        memcpy(v, self->adam.v, bytes);
    if (step)
        *step = self->adam.step;
    return 0;
}

// ---- batch and gathering

static int s_cpu_set_batch(xt_backend *b, const xt_batch *batch, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    self->batch = *batch;
    self->have_batch = 1;
    return 0;
}

// Recurrent state of chunk c -> column b of the [2][L][n][H] minibatch state.
static void s_gather_state(s_cpu *self, int c, int b, int n) {
    const xt_batch *bt = &self->batch;
    const int H = self->base.lay.spec.lstm_hidden, S = self->base.lay.state_size;
    for (int j = 0; H && j < S / H; j++) { // j = net * L + layer
        size_t dst = ((size_t)j * n + b) * H, src = (size_t)c * S + (size_t)j * H;
        memcpy(self->h0 + dst, bt->h0 + src, (size_t)H * sizeof(float));
        memcpy(self->c0 + dst, bt->c0 + src, (size_t)H * sizeof(float));
    }
}

// Observations, symbols, starts and state of chunks[0..n) over `steps` steps
// (T, or T + 1 for evaluate: step T's start flag is "step T-1 ended").
static void s_gather_inputs(s_cpu *self, const int *chunks, int n, int steps) {
    const xt_batch *bt = &self->batch;
    const int T = bt->T, D = self->base.lay.spec.obs_dim;
    for (int t = 0; t < steps; t++)
        for (int b = 0; b < n; b++) {
            const int c = chunks[b];
            const size_t r = (size_t)t * n + b, s = (size_t)c * T + t;
            memcpy(self->obs + r * D, bt->obs + ((size_t)c * (T + 1) + t) * D, D * sizeof(float));
            if (bt->sym)
                self->sym[r] = bt->sym[c];
            if (t < T)
                self->starts[r] = bt->starts[s];
            else
                self->starts[r] = bt->terminated[s - 1] || (bt->truncated && bt->truncated[s - 1]);
        }
    if (bt->h0)
        for (int b = 0; b < n; b++)
            s_gather_state(self, chunks[b], b, n);
}

// The per-step training arrays of chunks[0..n).
static void s_gather_train(s_cpu *self, const int *chunks, int n, const float *adv,
                           const float *ret, const float *values) {
    const xt_batch *bt = &self->batch;
    const int T = bt->T, A = self->base.lay.spec.act_dim;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < n; b++) {
            const int c = chunks[b];
            const size_t r = (size_t)t * n + b, s = (size_t)c * T + t;
            if (bt->actions)
                memcpy(self->act + r * A, bt->actions + s * A, A * sizeof(float));
            if (bt->actions_i)
                self->act_i[r] = bt->actions_i[s];
            if (bt->masks)
                memcpy(self->masks + r * A, bt->masks + s * A, A);
            self->old_logp[r] = bt->logp[s];
            self->adv[r] = adv[s];
            self->ret[r] = ret[s];
            if (values)
                self->oldv[r] = values[(size_t)c * (T + 1) + t];
            if (bt->valid)
                self->valid[r] = bt->valid[s];
        }
}

static int s_check_chunks(const s_cpu *self, const int *chunks, int n, xt_err *err) {
    if (!self->have_batch)
        return xt_err_set(err, XT_ESTATE, "cpu backend: no batch set (call set_batch first)");
    for (int b = 0; b < n; b++)
        if (chunks[b] < 0 || chunks[b] >= self->batch.C)
            return xt_err_set(err, XT_EINVAL,
                              "cpu backend: minibatch entry %d is chunk %d, outside [0, %d)", b,
                              chunks[b], self->batch.C);
    return 0;
}

// ---- evaluate, loss_grad, step, infer

static int s_cpu_evaluate(xt_backend *b, float *values, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    if (!self->have_batch)
        return xt_err_set(err, XT_ESTATE, "cpu backend: no batch set (call set_batch first)");
    double t0 = s_now();
    s_threads(self);
    const int C = self->batch.C, T = self->batch.T, G = b->cfg.max_chunks;
    xt_model *m = xt_cpu_loss_model(self->loss);
    int *idx = self->idx;
    // the critic over T + 1 steps, max_chunks chunks at a time
    for (int c0 = 0; c0 < C; c0 += G) {
        int n = C - c0 < G ? C - c0 : G;
        for (int k = 0; k < n; k++)
            idx[k] = c0 + k;
        s_gather_inputs(self, idx, n, T + 1);
        xt_model_input in = {self->obs, self->batch.sym ? self->sym : NULL, self->starts,
                             self->batch.h0 ? self->h0 : NULL, self->batch.c0 ? self->c0 : NULL};
        int rc = xt_model_forward(m, self->adam.params, &in, n, T + 1, XT_NET_CRITIC, err);
        if (rc)
            return xt_err_prefix(err, "cpu backend evaluate");
        const float *v = xt_model_values(m);
        for (int t = 0; t <= T; t++)
            for (int k = 0; k < n; k++)
                values[(size_t)(c0 + k) * (T + 1) + t] = v[t * n + k];
    }
    self->tm.evaluate += s_now() - t0;
    return 0;
}

static int s_cpu_loss_grad(xt_backend *b, const int *chunks, int n, const float *adv,
                           const float *ret, const float *values, const xt_loss_coefs *coefs,
                           xt_ppo_stats *stats, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    int rc = s_check_chunks(self, chunks, n, err);
    if (rc)
        return rc;
    double t0 = s_now();
    s_threads(self);
    const int T = self->batch.T;
    const int vclip = coefs->hp.vf_clip > 0;
    s_gather_inputs(self, chunks, n, T);
    s_gather_train(self, chunks, n, adv, ret, vclip ? values : NULL);
    xt_minibatch mb = {
        .B = n,
        .T = T,
        .obs = self->obs,
        .sym = self->batch.sym ? self->sym : NULL,
        .starts = self->starts,
        .h0 = self->batch.h0 ? self->h0 : NULL,
        .c0 = self->batch.c0 ? self->c0 : NULL,
        .actions = self->batch.actions ? self->act : NULL,
        .actions_i = self->batch.actions_i ? self->act_i : NULL,
        .masks = self->batch.masks ? self->masks : NULL,
        .old_logp = self->old_logp,
        .adv = self->adv,
        .ret = self->ret,
        .old_value = vclip ? self->oldv : NULL,
        .valid = self->batch.valid ? self->valid : NULL,
    };
    xt_adam_zero_grad(&self->adam);
    double sec[2] = {s_now() - t0, 0}; // gathering counts as forward
    rc = xt_cpu_loss_grad(self->loss, self->adam.grads, self->adam.params, &mb, coefs,
                          b->cfg.ls_min, b->cfg.ls_max, stats, sec, err);
    if (rc)
        return xt_err_prefix(err, "cpu backend loss_grad");
    self->tm.forward += sec[0];
    self->tm.backward += sec[1];
    self->tm.n_loss_grad++;
    return 0;
}

static int s_cpu_step(xt_backend *b, double lr, double max_grad_norm, double *grad_norm,
                      xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    double t0 = s_now(), norm = 0;
    int rc = xt_adam_update(&self->adam, &b->cfg.adam, lr, max_grad_norm, &norm);
    if (grad_norm)
        *grad_norm = norm;
    if (rc) {
        self->tm.n_step_refused++;
        return xt_err_set(err, XT_ENUMERIC,
                          "cpu backend step: gradient norm is not finite (%g); update skipped",
                          norm);
    }
    // keep log_std where its (clamped) gradient is alive (docs/ppo.md)
    size_t na = xt_model_tensor_size(&b->lay, XT_T_actor_log_std);
    float *ls = self->adam.params + b->lay.off[XT_T_actor_log_std];
    for (size_t k = 0; k < na; k++)
        ls[k] =
            ls[k] < b->cfg.ls_min ? b->cfg.ls_min : (ls[k] > b->cfg.ls_max ? b->cfg.ls_max : ls[k]);
    self->tm.optimizer += s_now() - t0;
    self->tm.n_step++;
    return 0;
}

static int s_cpu_infer(xt_backend *b, const float *obs, const int32_t *sym, const uint8_t *starts,
                       float *h, float *c, float *actor_out, float *value, int B, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    double t0 = s_now();
    s_threads(self);
    int rc = xt_model_infer(self->infer, self->adam.params, obs, sym, starts, h, c, actor_out,
                            value, B, err);
    if (rc)
        return xt_err_prefix(err, "cpu backend infer");
    self->tm.infer += s_now() - t0;
    self->tm.n_infer++;
    return 0;
}

static void s_cpu_timing(const xt_backend *b, xt_backend_timing *out) {
    *out = ((const s_cpu *)b)->tm;
}

static const xt_backend_ops s_cpu_ops = {
    .name = "cpu",
    .destroy = s_cpu_destroy,
    .upload = s_cpu_upload,
    .download = s_cpu_download,
    .set_batch = s_cpu_set_batch,
    .evaluate = s_cpu_evaluate,
    .loss_grad = s_cpu_loss_grad,
    .step = s_cpu_step,
    .infer = s_cpu_infer,
    .timing = s_cpu_timing,
};

// ---- constructor

xt_backend *xt_backend_cpu_new(const xt_model_spec *spec, const xt_backend_config *cfg,
                               uint64_t seed, xt_err *err) {
    xt_model_layout lay;
    if (xt_model_layout_init(&lay, spec, err))
        return NULL;
    if (cfg->max_chunks < 1 || cfg->T < 1 || cfg->max_infer < 0 || cfg->threads < 1 ||
        cfg->threads > 256) {
        xt_err_set(err, XT_EINVAL,
                   "cpu backend: max_chunks (%d), T (%d) and threads (%d) must be >= 1 "
                   "(threads <= 256), max_infer (%d) >= 0",
                   cfg->max_chunks, cfg->T, cfg->threads, cfg->max_infer);
        return NULL;
    }
    if (!(cfg->ls_min <= cfg->ls_max)) {
        xt_err_set(err, XT_EINVAL, "cpu backend: ls_min (%g) must be <= ls_max (%g)",
                   (double)cfg->ls_min, (double)cfg->ls_max);
        return NULL;
    }
    s_cpu *self = calloc(1, sizeof *self);
    if (!self) {
        xt_err_set(err, XT_ENOMEM, "cpu backend: out of memory");
        return NULL;
    }
    self->base.ops = &s_cpu_ops;
    self->base.lay = lay;
    self->base.cfg = *cfg;
    const size_t n = lay.n_params, B = (size_t)cfg->max_chunks, R = B * (cfg->T + 1);
    const size_t A = (size_t)spec->act_dim, S = (size_t)lay.state_size * B;
    self->loss = xt_cpu_loss_new(spec, cfg->max_chunks, cfg->T + 1, err);
    if (!self->loss)
        goto fail;
    if (cfg->max_infer) {
        self->infer = xt_model_new(spec, cfg->max_infer, 1, 0, err);
        if (!self->infer)
            goto fail;
    }
    self->slab = aligned_alloc(64, 4 * n * sizeof(float));
    self->obs = malloc(R * spec->obs_dim * sizeof(float));
    self->h0 = malloc((S ? S : 1) * sizeof(float));
    self->c0 = malloc((S ? S : 1) * sizeof(float));
    self->act = malloc(R * A * sizeof(float));
    self->old_logp = malloc(R * sizeof(float));
    self->adv = malloc(R * sizeof(float));
    self->ret = malloc(R * sizeof(float));
    self->oldv = malloc(R * sizeof(float));
    self->idx = malloc(B * sizeof(int));
    self->sym = malloc(R * sizeof(int32_t));
    self->act_i = malloc(R * sizeof(int32_t));
    self->starts = malloc(R);
    self->masks = malloc(R * A);
    self->valid = malloc(R);
    if (!self->slab || !self->obs || !self->h0 || !self->c0 || !self->act || !self->old_logp ||
        !self->adv || !self->ret || !self->oldv || !self->idx || !self->sym || !self->act_i ||
        !self->starts || !self->masks || !self->valid) {
        xt_err_set(err, XT_ENOMEM, "cpu backend: out of memory for %zu params and %zu rows", n, R);
        goto fail;
    }
    memset(self->slab, 0, 4 * n * sizeof(float));
    xt_adam_init(&self->adam, self->slab, self->slab + n, self->slab + 2 * n, self->slab + 3 * n,
                 n);
    xt_rng rng;
    xt_rng_seed(&rng, seed);
    xt_model_init_params(&lay, self->adam.params, &rng);
    return &self->base;
fail:
    s_cpu_destroy(&self->base);
    return NULL;
}
