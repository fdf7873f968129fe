// backend.h - the compute backend interface of the learner (and of actors'
// inference): one small vtable, implemented on the CPU with OpenBLAS
// (backend_cpu.c, the reference) and later on CUDA.
//
// A backend owns the parameter, gradient and Adam slabs (laid out by the
// model's tensor table), the workspace for one minibatch of up to max_chunks
// whole chunks of T steps, and the batch of the current update:
//
//   upload / download    params (+ Adam m, v, step for checkpoints; grads for tests)
//   set_batch            the update's chunks (the CPU backend keeps a pointer)
//   evaluate             values for all T + 1 steps of every chunk, current critic
//   loss_grad            forward + heads + PPO loss + backward of a minibatch of
//                        whole chunks -> gradient slab (zeroed first), stats
//   step                 grad-norm clip + Adam; refuses a non-finite norm
//   infer                one step of B envs (actors, evaluation)
//   timing               cumulated seconds per stage
//
// ppo.h runs the algorithm over these operations only, so it does not care
// which backend computes them.
//
// Batches are chunk-major as chunks arrive: field [C][T] is chunk c, step t
// at c * T + t. Backends gather minibatches time-major ([T, B], row t * B + b)
// internally. Threads: a backend is driven by one thread. The CPU backend
// with threads >= 2 owns one helper thread and runs the actor and critic
// (separate trunks), the halves of the critic evaluation and the halves of
// the Adam slab on both; it sets the process-wide OpenBLAS thread count on
// every operation (1 when both threads call BLAS; OpenBLAS has no per-call
// setting). See backend_cpu.c and docs/model.md.
#ifndef XT_BACKEND_H
#define XT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/adam.h"
#include "nn/model.h"
#include "nn/ppo_loss.h"

// ---- the update's data

typedef struct {
    int C, T;                  // chunks, steps per chunk
    const float *obs;          // [C][T + 1][obs_dim]; obs[T] follows the last step
    const int32_t *sym;        // [C] symbol id of each chunk (NULL without embedding)
    const float *actions;      // Gaussian head: [C][T][A] (NULL for categorical)
    const int32_t *actions_i;  // categorical head: [C][T] (NULL for Gaussian)
    const uint8_t *masks;      // [C][T][A] legal actions / dims (NULL = all legal)
    const float *logp;         // [C][T] behaviour log-probs
    const float *rewards;      // [C][T]
    const uint8_t *starts;     // [C][T] episode starts before step t (state reset)
    const uint8_t *terminated; // [C][T]
    const uint8_t *truncated;  // [C][T] (NULL = none)
    const float
        *trunc_value;     // [C][T] value of the final obs where truncated (NULL: gae.h fallback)
    const uint8_t *valid; // [C][T] 0 = padding (NULL = all valid)
    const float *h0, *c0; // [C][state_size] (h, c) at chunk start: [net][layer][H]
} xt_batch;

// Checks sizes and required arrays of a batch against a spec, and the symbol
// ids (the only values that could make an op fail half-way through an update).
int xt_batch_check(const xt_batch *b, const xt_model_spec *spec, xt_err *err);

// Loss settings of one minibatch.
typedef struct {
    xt_ppo_hparams hp; // clip_eps, vf_coef, ent_coef, vf_clip
    int normalize_adv; // per-minibatch advantage normalization (1)
} xt_loss_coefs;

// Cumulated seconds per stage since the backend was created.
typedef struct {
    double evaluate, forward, backward, optimizer, infer;
    int64_t n_loss_grad, n_step, n_step_refused, n_infer;
} xt_backend_timing;

typedef struct {
    int max_chunks;       // chunks per minibatch and per evaluate pass
    int T;                // steps per chunk
    int max_infer;        // envs per infer call (0 = no inference)
    int threads;          // CPU backend: 1, or >= 2 for the helper thread (see above)
    xt_adam_hparams adam; // beta1, beta2, eps, weight decay
    float ls_min, ls_max; // Gaussian log-std clamp (heads; log_std is kept inside after steps)
} xt_backend_config;

// max_chunks 64, T 64, max_infer 0, threads 2, Adam defaults, log-std [-5, 2].
void xt_backend_config_default(xt_backend_config *c);

// ---- the interface

typedef struct xt_backend xt_backend;

typedef struct {
    const char *name;
    void (*destroy)(xt_backend *self);
    int (*upload)(xt_backend *self, const float *params, const float *adam_m, const float *adam_v,
                  int64_t adam_step, xt_err *err);
    int (*download)(xt_backend *self, float *params, float *grads, float *adam_m, float *adam_v,
                    int64_t *adam_step, xt_err *err);
    int (*set_batch)(xt_backend *self, const xt_batch *batch, xt_err *err);
    int (*evaluate)(xt_backend *self, float *values, xt_err *err);
    int (*loss_grad)(xt_backend *self, const int *chunks, int n, const float *adv, const float *ret,
                     const float *values, const xt_loss_coefs *coefs, xt_ppo_stats *stats,
                     xt_err *err);
    int (*step)(xt_backend *self, double lr, double max_grad_norm, double *grad_norm, xt_err *err);
    int (*infer)(xt_backend *self, const float *obs, const int32_t *sym, const uint8_t *starts,
                 float *h, float *c, float *actor_out, float *value, int B, xt_err *err);
    void (*timing)(const xt_backend *self, xt_backend_timing *out);
} xt_backend_ops;

// Every backend struct starts with this header.
struct xt_backend {
    const xt_backend_ops *ops;
    xt_model_layout lay; // the slab layout (lay.n_params floats per slab)
    xt_backend_config cfg;
};

void xt_backend_destroy(xt_backend **self_p);
const char *xt_backend_name(const xt_backend *self);
const xt_model_layout *xt_backend_layout(const xt_backend *self);

// params [n_params] -> the backend. adam_m / adam_v [n_params] and adam_step
// restore a checkpoint's optimizer state; NULL moments reset it (step 0).
int xt_backend_upload(xt_backend *self, const float *params, const float *adam_m,
                      const float *adam_v, int64_t adam_step, xt_err *err);
// Copies out whichever of params, grads, adam_m, adam_v, adam_step is non-NULL.
// grads hold the last loss_grad's gradient until a step, which consumes them
// (the CPU backend's step leaves them at zero for the next loss_grad).
int xt_backend_download(xt_backend *self, float *params, float *grads, float *adam_m, float *adam_v,
                        int64_t *adam_step, xt_err *err);
// The batch of the next evaluate / loss_grad calls (checked with
// xt_batch_check). The CPU backend reads it in place: keep it alive and
// unchanged until the next set_batch.
int xt_backend_set_batch(xt_backend *self, const xt_batch *batch, xt_err *err);
// values [C][T + 1]: the current critic over every chunk's T + 1 observations
// (obs[T] with its state reset if step T-1 ended the episode).
int xt_backend_evaluate(xt_backend *self, float *values, xt_err *err);
// Minibatch = chunks[0..n) of the batch (n <= max_chunks). adv, ret [C][T]
// (batch layout, unnormalized), values [C][T + 1] from evaluate (old values
// for vf_clip; may be NULL when vf_clip is 0). Zeroes the gradient slab, then
// computes d loss / d params into it. Fails on bad indices or inputs that the
// forward rejects (symbol ids); a non-finite loss is NOT a failure: stats.loss
// shows it and step will refuse the update.
int xt_backend_loss_grad(xt_backend *self, const int *chunks, int n, const float *adv,
                         const float *ret, const float *values, const xt_loss_coefs *coefs,
                         xt_ppo_stats *stats, xt_err *err);
// Clip the gradient to max_grad_norm (<= 0: no clip) and take one Adam step at
// lr, then clamp log_std into [ls_min, ls_max]. A non-finite gradient norm
// returns XT_ENUMERIC with params and moments untouched; *grad_norm gets the
// pre-clip norm either way.
int xt_backend_step(xt_backend *self, double lr, double max_grad_norm, double *grad_norm,
                    xt_err *err);
// One step of B <= max_infer envs with the backend's current params; the
// contract of xt_model_infer.
int xt_backend_infer(xt_backend *self, const float *obs, const int32_t *sym, const uint8_t *starts,
                     float *h, float *c, float *actor_out, float *value, int B, xt_err *err);
void xt_backend_timing_get(const xt_backend *self, xt_backend_timing *out);

// ---- the CPU (OpenBLAS) backend

// Caller owns the result (xt_backend_destroy). Params start from
// xt_model_init_params with seed; Adam state zero.
xt_backend *xt_backend_cpu_new(const xt_model_spec *spec, const xt_backend_config *cfg,
                               uint64_t seed, xt_err *err);

// ---- the CPU reference computation of one minibatch
//
// What the CPU backend's loss_grad runs after gathering; public so that the
// double twin can be checked against finite differences through the whole
// model + heads + loss.

// One time-major minibatch: B chunks x T steps, row t * B + b.
typedef struct {
    int B, T;
    const float *obs;         // [T, B, obs_dim]
    const int32_t *sym;       // [T, B] (NULL without embedding)
    const uint8_t *starts;    // [T, B]
    const float *h0, *c0;     // [2][L][B][H]
    const float *actions;     // Gaussian [T, B, A]
    const int32_t *actions_i; // categorical [T, B]
    const uint8_t *masks;     // [T, B, A] or NULL
    const float *old_logp;    // [T, B]
    const float *adv, *ret;   // [T, B] (adv unnormalized)
    const float *old_value;   // [T, B] (read only with vf_clip > 0)
    const uint8_t *valid;     // [T, B] or NULL
} xt_minibatch;
typedef struct {
    int B, T;
    const double *obs;
    const int32_t *sym;
    const uint8_t *starts;
    const double *h0, *c0;
    const double *actions;
    const int32_t *actions_i;
    const uint8_t *masks;
    const double *old_logp;
    const double *adv, *ret;
    const double *old_value;
    const uint8_t *valid;
} xt_minibatch_f64;

typedef struct xt_cpu_loss xt_cpu_loss;
typedef struct xt_cpu_loss_f64 xt_cpu_loss_f64;

// A train model for max_B chunks of up to max_T steps plus the heads' and
// loss's scratch. Caller owns the result.
xt_cpu_loss *xt_cpu_loss_new(const xt_model_spec *spec, int max_B, int max_T, xt_err *err);
xt_cpu_loss_f64 *xt_cpu_loss_new_f64(const xt_model_spec *spec, int max_B, int max_T, xt_err *err);
void xt_cpu_loss_destroy(xt_cpu_loss **self_p);
void xt_cpu_loss_destroy_f64(xt_cpu_loss_f64 **self_p);
xt_model *xt_cpu_loss_model(xt_cpu_loss *self);
xt_model_f64 *xt_cpu_loss_model_f64(xt_cpu_loss_f64 *self);

// grads += d loss / d params for one minibatch (grads are NOT zeroed here).
// seconds[0] += forward time (network, heads, loss), seconds[1] += backward
// time (seconds may be NULL).
int xt_cpu_loss_grad(xt_cpu_loss *self, float *grads, const float *params, const xt_minibatch *mb,
                     const xt_loss_coefs *coefs, float ls_min, float ls_max, xt_ppo_stats *stats,
                     double *seconds, xt_err *err);
int xt_cpu_loss_grad_f64(xt_cpu_loss_f64 *self, double *grads, const double *params,
                         const xt_minibatch_f64 *mb, const xt_loss_coefs *coefs, double ls_min,
                         double ls_max, xt_ppo_stats *stats, double *seconds, xt_err *err);

#endif
