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
// gradients); log_std stays inside [ls_min, ls_max] after every step;
// grads_zero is 1 only while the gradient slab is all zeros.
//
// Threads: one driving thread calls the ops. With cfg.threads >= 2 the
// backend owns one helper thread (created here, joined at destroy; no
// thread is created or memory allocated per op) and the driving thread
// works beside it:
//   - loss_grad and infer of a model without a shared trunk: the actor's
//     forward / backward on the driving thread, the critic's on the helper
//     (model.h, xt_par);
//   - evaluate: each group of chunks as two halves, one per thread, each
//     with its own model workspace and gather buffers;
//   - step: the slab's two fixed halves, one per thread: sums of squares
//     (added half 0 + half 1), then the fused clip + Adam pass.
// OpenBLAS has one process-wide thread count, set at the start of every
// op: 1 wherever both threads call BLAS (and for one-net inference of such
// a model, so the arithmetic stays that of threads 1); cfg.threads for a
// shared-trunk model's loss_grad and infer, which run on the driving
// thread as before. Which thread computes what never depends on timing, and
// the split (two nets, two halves) is the same with one thread, run in
// order: results are bit-identical run to run and, without a shared trunk,
// between threads 1 and 2.
#include "nn/backend.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

// ---- the helper thread
//
// A job is posted by bumping `posted` (under mu, with a broadcast); the
// helper runs task(arg, 1) and publishes the same number in `finished`. Both
// sides spin for a short while before sleeping on the condition variable:
// jobs come every few hundred microseconds inside an update (a sleep and
// wake-up costs tens), while between updates the helper sleeps.

enum { S_SPIN_NS = 50000 }; // spin this long before sleeping

typedef struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint posted, finished; // job numbers
    atomic_int quit;
    xt_par_task task; // the posted job (written before posted is bumped)
    void *arg;
    int started;
} s_pool;

static inline void s_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Waits until *v == want (or quit); spins first, then sleeps.
static void s_pool_wait(s_pool *p, atomic_uint *v, unsigned want) {
    double t0 = s_now();
    for (int i = 1;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) == want ||
            atomic_load_explicit(&p->quit, memory_order_acquire))
            return;
        s_pause();
        if (i % 64 == 0 && s_now() - t0 > S_SPIN_NS * 1e-9)
            break;
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(v, memory_order_acquire) != want &&
           !atomic_load_explicit(&p->quit, memory_order_acquire))
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

// Stores n into *v and wakes every sleeper.
static void s_pool_publish(s_pool *p, atomic_uint *v, unsigned n) {
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(v, n, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *s_pool_main(void *arg) {
    s_pool *p = arg;
    unsigned done = 0;
    for (;;) {
        s_pool_wait(p, &p->posted, done + 1);
        if (atomic_load_explicit(&p->quit, memory_order_acquire))
            return NULL;
        p->task(p->arg, 1);
        s_pool_publish(p, &p->finished, ++done);
    }
}

// xt_par.run2: task 0 on the calling thread, task 1 on the helper.
static void s_pool_run2(void *ctx, xt_par_task task, void *arg) {
    s_pool *p = ctx;
    unsigned n = atomic_load_explicit(&p->finished, memory_order_relaxed) + 1;
    p->task = task;
    p->arg = arg;
    s_pool_publish(p, &p->posted, n);
    task(arg, 0);
    s_pool_wait(p, &p->finished, n);
}

static int s_pool_start(s_pool *p, xt_err *err) {
    atomic_init(&p->posted, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->quit, 0);
    if (pthread_mutex_init(&p->mu, NULL))
        return xt_err_set(err, XT_ENOMEM, "cpu backend: cannot create the helper thread's mutex");
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        return xt_err_set(err, XT_ENOMEM,
                          "cpu backend: cannot create the helper thread's condition variable");
    }
    // the helper takes no signals: daemons handle them on their own threads
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->th, NULL, s_pool_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        return xt_err_set(err, XT_ENOMEM, "cpu backend: cannot start the helper thread (error %d)",
                          rc);
    }
    p->started = 1;
    return 0;
}

static void s_pool_stop(s_pool *p) {
    if (!p->started)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->quit, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    p->started = 0;
}

// ---- the backend object

// Time-major model inputs of a group of chunks x (T + 1) steps, [T + 1][n]
// rows (in[0]: max_chunks chunks, in[1]: (max_chunks + 1) / 2).
typedef struct {
    float *obs, *h0, *c0;
    int32_t *sym;
    uint8_t *starts;
    int *idx; // chunk indices of one evaluate group
} s_inputs;

typedef struct {
    xt_backend base;
    xt_cpu_loss *loss; // train model (max_chunks x T + 1 steps) + head/loss scratch
    xt_model *infer;   // single-step model for max_infer envs (NULL if 0)
    xt_model *eval2;   // the helper's evaluate model, (max_chunks + 1) / 2 chunks (pool only)
    float *slab;       // params, grads, m, v: 4 x n_params floats
    xt_adam adam;
    xt_batch batch; // the caller's arrays (read in place)
    int have_batch;
    // gathered inputs: in[0] for max_chunks chunks (loss_grad, evaluate),
    // in[1] for the helper's half of an evaluate group (pool only)
    s_inputs in[2];
    // time-major training arrays of one minibatch, max_chunks x T rows
    float *act, *old_logp, *adv, *ret, *oldv;
    int32_t *act_i;
    uint8_t *masks, *valid;
    xt_backend_timing tm;
    s_pool pool;      // the helper thread (pool.started = 0 with threads 1)
    int par_nets;     // the loss / infer models run the two nets on both threads
    int grads_zero;   // the gradient slab is all zeros (the last step cleared it)
    size_t half;      // the slab's split point for step (a multiple of 16)
    double sumsq[2];  // step: sums of squares of the two halves
    xt_adam_pass pass; // step: the pass both threads run
} s_cpu;

static void s_cpu_destroy(xt_backend *b) {
    s_cpu *self = (s_cpu *)b;
    s_pool_stop(&self->pool);
    xt_cpu_loss_destroy(&self->loss);
    xt_model_destroy(&self->infer);
    xt_model_destroy(&self->eval2);
    for (int k = 0; k < 2; k++) {
        s_inputs *in = &self->in[k];
        void *bufs[] = {in->obs, in->h0, in->c0, in->sym, in->starts, in->idx};
        for (size_t j = 0; j < sizeof bufs / sizeof *bufs; j++)
            free(bufs[j]);
    }
    void *bufs[] = {self->slab, self->act,   self->old_logp, self->adv,  self->ret,
                    self->oldv, self->act_i, self->masks,    self->valid};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        free(bufs[k]);
    free(self);
}

// OpenBLAS threads for an op: one when the op runs on both threads (each
// calls BLAS; OpenBLAS's own threads would only contend), else cfg.threads.
static void s_threads(const s_cpu *self, int both_threads) {
    openblas_set_num_threads(both_threads ? 1 : self->base.cfg.threads);
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
static void s_gather_state(const s_cpu *self, s_inputs *in, int c, int b, int n) {
    const xt_batch *bt = &self->batch;
    const int H = self->base.lay.spec.lstm_hidden, S = self->base.lay.state_size;
    for (int j = 0; H && j < S / H; j++) { // j = net * L + layer
        size_t dst = ((size_t)j * n + b) * H, src = (size_t)c * S + (size_t)j * H;
        memcpy(in->h0 + dst, bt->h0 + src, (size_t)H * sizeof(float));
        memcpy(in->c0 + dst, bt->c0 + src, (size_t)H * sizeof(float));
    }
}

// Observations, symbols, starts and state of chunks[0..n) over `steps` steps
// (T, or T + 1 for evaluate: step T's start flag is "step T-1 ended").
static void s_gather_inputs(const s_cpu *self, s_inputs *in, const int *chunks, int n,
                            int steps) {
    const xt_batch *bt = &self->batch;
    const int T = bt->T, D = self->base.lay.spec.obs_dim;
    for (int t = 0; t < steps; t++)
        for (int b = 0; b < n; b++) {
            const int c = chunks[b];
            const size_t r = (size_t)t * n + b, s = (size_t)c * T + t;
            memcpy(in->obs + r * D, bt->obs + ((size_t)c * (T + 1) + t) * D, D * sizeof(float));
            if (bt->sym)
                in->sym[r] = bt->sym[c];
            if (t < T)
                in->starts[r] = bt->starts[s];
            else
                in->starts[r] = bt->terminated[s - 1] || (bt->truncated && bt->truncated[s - 1]);
        }
    if (bt->h0)
        for (int b = 0; b < n; b++)
            s_gather_state(self, in, chunks[b], b, n);
}

// The model input over gathered buffers.
static xt_model_input s_model_input(const s_cpu *self, const s_inputs *in) {
    const xt_batch *bt = &self->batch;
    return (xt_model_input){in->obs, bt->sym ? in->sym : NULL, in->starts, bt->h0 ? in->h0 : NULL,
                            bt->c0 ? in->c0 : NULL};
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

// Critic values of chunks [c0, c0 + n) over T + 1 steps with model m.
static int s_eval_chunks(s_cpu *self, xt_model *m, s_inputs *in, int c0, int n, float *values,
                         xt_err *err) {
    const int T = self->batch.T;
    for (int k = 0; k < n; k++)
        in->idx[k] = c0 + k;
    s_gather_inputs(self, in, in->idx, n, T + 1);
    xt_model_input mi = s_model_input(self, in);
    int rc = xt_model_forward(m, self->adam.params, &mi, n, T + 1, XT_NET_CRITIC, err);
    if (rc)
        return rc;
    const float *v = xt_model_values(m);
    for (int t = 0; t <= T; t++)
        for (int k = 0; k < n; k++)
            values[(size_t)(c0 + k) * (T + 1) + t] = v[t * n + k];
    return 0;
}

// One evaluate group split in two halves (task k: half k).
typedef struct {
    s_cpu *self;
    float *values;
    int c0[2], n[2], rc[2];
    xt_err err[2];
} s_eval_job;

// (A critic-only forward never uses the model's par: no nested run2.)
static void s_eval_task(void *arg, int k) {
    s_eval_job *j = arg;
    s_cpu *self = j->self;
    xt_model *m = k ? self->eval2 : xt_cpu_loss_model(self->loss);
    if (j->n[k])
        j->rc[k] = s_eval_chunks(self, m, &self->in[k], j->c0[k], j->n[k], j->values, &j->err[k]);
}

static int s_cpu_evaluate(xt_backend *b, float *values, xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    if (!self->have_batch)
        return xt_err_set(err, XT_ESTATE, "cpu backend: no batch set (call set_batch first)");
    double t0 = s_now();
    s_threads(self, self->eval2 != NULL);
    const int C = self->batch.C, G = b->cfg.max_chunks;
    xt_model *m = xt_cpu_loss_model(self->loss);
    // the critic over T + 1 steps, max_chunks chunks at a time, each group
    // as two halves: on both threads with a helper, one after the other
    // without (the same forwards either way, so the same values)
    for (int c0 = 0; c0 < C; c0 += G) {
        int n = C - c0 < G ? C - c0 : G, h = (n + 1) / 2;
        s_eval_job job = {.self = self, .values = values, .c0 = {c0, c0 + h}, .n = {h, n - h}};
        if (self->eval2) {
            s_pool_run2(&self->pool, s_eval_task, &job);
        } else {
            for (int k = 0; k < 2 && job.rc[0] == 0; k++)
                if (job.n[k])
                    job.rc[k] = s_eval_chunks(self, m, &self->in[0], job.c0[k], job.n[k], values,
                                              &job.err[k]);
        }
        for (int k = 0; k < 2; k++)
            if (job.rc[k]) {
                if (err)
                    *err = job.err[k];
                return xt_err_prefix(err, "cpu backend evaluate");
            }
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
    s_threads(self, self->par_nets);
    const int T = self->batch.T;
    const int vclip = coefs->hp.vf_clip > 0;
    s_gather_inputs(self, &self->in[0], chunks, n, T);
    s_gather_train(self, chunks, n, adv, ret, vclip ? values : NULL);
    xt_model_input mi = s_model_input(self, &self->in[0]);
    xt_minibatch mb = {
        .B = n,
        .T = T,
        .obs = mi.obs,
        .sym = mi.sym,
        .starts = mi.starts,
        .h0 = mi.h0,
        .c0 = mi.c0,
        .actions = self->batch.actions ? self->act : NULL,
        .actions_i = self->batch.actions_i ? self->act_i : NULL,
        .masks = self->batch.masks ? self->masks : NULL,
        .old_logp = self->old_logp,
        .adv = self->adv,
        .ret = self->ret,
        .old_value = vclip ? self->oldv : NULL,
        .valid = self->batch.valid ? self->valid : NULL,
    };
    if (!self->grads_zero)
        xt_adam_zero_grad(&self->adam);
    self->grads_zero = 0;
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

// Task k of step: the sum of squares of half k of the gradient slab.
static void s_sumsq_task(void *arg, int k) {
    s_cpu *self = arg;
    size_t i0 = k ? self->half : 0, i1 = k ? self->adam.n : self->half;
    self->sumsq[k] = xt_adam_sumsq(self->adam.grads + i0, i1 - i0);
}

// Task k of step: the fused clip + Adam pass over half k (grads left zero).
static void s_pass_task(void *arg, int k) {
    s_cpu *self = arg;
    size_t i0 = k ? self->half : 0, i1 = k ? self->adam.n : self->half;
    xt_adam_pass_run(&self->adam, &self->pass, i0, i1);
}

// task over both halves: on both threads with a helper, else in order.
static void s_halves(s_cpu *self, xt_par_task task) {
    if (self->pool.started) {
        s_pool_run2(&self->pool, task, self);
    } else {
        task(self, 0);
        task(self, 1);
    }
}

static int s_cpu_step(xt_backend *b, double lr, double max_grad_norm, double *grad_norm,
                      xt_err *err) {
    s_cpu *self = (s_cpu *)b;
    double t0 = s_now();
    // global norm: the two halves' sums of squares, always added in this order
    s_halves(self, s_sumsq_task);
    double norm = sqrt(self->sumsq[0] + self->sumsq[1]);
    if (grad_norm)
        *grad_norm = norm;
    if (!isfinite(norm)) {
        self->tm.n_step_refused++;
        return xt_err_set(err, XT_ENUMERIC,
                          "cpu backend step: gradient norm is not finite (%g); update skipped",
                          norm);
    }
    // one pass over the four slabs: clip scaling, moments, params, grads = 0
    self->adam.step++;
    xt_adam_pass_init(&self->pass, &b->cfg.adam, lr, self->adam.step,
                      xt_adam_clip_coef(norm, max_grad_norm), 1);
    s_halves(self, s_pass_task);
    self->grads_zero = 1;
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
    s_threads(self, self->par_nets); // one net only: serial, still one BLAS thread
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
    const size_t A = (size_t)spec->act_dim;
    self->loss = xt_cpu_loss_new(spec, cfg->max_chunks, cfg->T + 1, err);
    if (!self->loss)
        goto fail;
    if (cfg->max_infer) {
        self->infer = xt_model_new(spec, cfg->max_infer, 1, 0, err);
        if (!self->infer)
            goto fail;
    }
    // the helper's evaluate half: (max_chunks + 1) / 2 chunks, forward only
    const int half_chunks = (cfg->max_chunks + 1) / 2;
    if (cfg->threads >= 2) {
        self->eval2 = xt_model_new(spec, half_chunks, cfg->T + 1, 0, err);
        if (!self->eval2)
            goto fail;
    }
    int inputs_ok = 1;
    for (int k = 0; k < (self->eval2 ? 2 : 1); k++) {
        const size_t Bk = k ? (size_t)half_chunks : B, Rk = Bk * (cfg->T + 1);
        const size_t Sk = (size_t)lay.state_size * Bk;
        s_inputs *in = &self->in[k];
        in->obs = malloc(Rk * spec->obs_dim * sizeof(float));
        in->h0 = malloc((Sk ? Sk : 1) * sizeof(float));
        in->c0 = malloc((Sk ? Sk : 1) * sizeof(float));
        in->sym = malloc(Rk * sizeof(int32_t));
        in->starts = malloc(Rk);
        in->idx = malloc(Bk * sizeof(int));
        inputs_ok &= in->obs && in->h0 && in->c0 && in->sym && in->starts && in->idx;
    }
    self->slab = aligned_alloc(64, 4 * n * sizeof(float));
    self->act = malloc(R * A * sizeof(float));
    self->old_logp = malloc(R * sizeof(float));
    self->adv = malloc(R * sizeof(float));
    self->ret = malloc(R * sizeof(float));
    self->oldv = malloc(R * sizeof(float));
    self->act_i = malloc(R * sizeof(int32_t));
    self->masks = malloc(R * A);
    self->valid = malloc(R);
    if (!inputs_ok || !self->slab || !self->act || !self->old_logp || !self->adv || !self->ret ||
        !self->oldv || !self->act_i || !self->masks || !self->valid) {
        xt_err_set(err, XT_ENOMEM, "cpu backend: out of memory for %zu params and %zu rows", n, R);
        goto fail;
    }
    memset(self->slab, 0, 4 * n * sizeof(float));
    xt_adam_init(&self->adam, self->slab, self->slab + n, self->slab + 2 * n, self->slab + 3 * n,
                 n);
    xt_rng rng;
    xt_rng_seed(&rng, seed);
    xt_model_init_params(&lay, self->adam.params, &rng);
    self->grads_zero = 1;
    self->half = (n / 2) & ~(size_t)15;
    if (cfg->threads >= 2) {
        if (s_pool_start(&self->pool, err))
            goto fail;
        // separate trunks: the actor on this thread, the critic on the helper
        if (!spec->shared_trunk) {
            xt_par par = {s_pool_run2, &self->pool};
            xt_model_set_par(xt_cpu_loss_model(self->loss), &par);
            if (self->infer)
                xt_model_set_par(self->infer, &par);
            self->par_nets = 1;
        }
    }
    return &self->base;
fail:
    s_cpu_destroy(&self->base);
    return NULL;
}
