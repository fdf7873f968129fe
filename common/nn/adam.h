// adam.h - the optimizer step over one parameter slab: global grad-norm,
// clipping, non-finite detection, bias-corrected Adam, and the schedules that
// drive it (learning rate; piecewise-constant entropy coefficient).
//
// Params, grads and the two Adam moments are each one contiguous slab of n
// values (DESIGN.md section 5); the caller owns all four and xt_adam only
// holds pointers. One thread (the learner's update loop) drives a slab; it
// may hand disjoint index ranges to helper threads (xt_adam_pass_run).
//
// Choices (docs/ppo.md):
//  - eps = 1e-5 by default: sb3-contrib RecurrentPPO (seed 003's reference)
//    builds Adam with eps 1e-5, not PyTorch's 1e-8. It is a parameter.
//  - weight decay is decoupled (AdamW: p -= lr * wd * p), 0 by default.
//  - clipping scales by max_norm / (norm + 1e-6) when that is < 1, as
//    torch.nn.utils.clip_grad_norm_; the norm is accumulated in double.
//
// The slab functions exist in float and double (_f64), from one implementation.
#ifndef XT_ADAM_H
#define XT_ADAM_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double beta1;        // 0.9
    double beta2;        // 0.999
    double eps;          // 1e-5 (see above)
    double weight_decay; // decoupled; 0
} xt_adam_hparams;

#define XT_ADAM_HPARAMS_DEFAULT {0.9, 0.999, 1e-5, 0.0}
#define XT_ADAM_MAX_GRAD_NORM_DEFAULT 0.5

typedef struct {
    float *params; // [n] updated in place
    float *grads;  // [n] read by step; scaled in place by clipping
    float *m;      // [n] first moment
    float *v;      // [n] second moment
    size_t n;
    int64_t step; // Adam steps taken so far (the next step uses step + 1 for bias correction)
} xt_adam;

// Points self at the four slabs, zeroes m and v and the step counter
// (params and grads are left as they are).
void xt_adam_init(xt_adam *self, float *params, float *grads, float *m, float *v, size_t n);

// grads = 0 (backward accumulates with +=).
void xt_adam_zero_grad(xt_adam *self);

// sqrt(sum g^2) accumulated in double. Non-finite if any g is.
double xt_adam_grad_norm(const float *grads, size_t n);

// Computes the global norm into *norm (pre-clip). If it is not finite returns
// XT_ENUMERIC and leaves grads untouched (the caller skips the update);
// otherwise scales grads by max_norm / (norm + 1e-6) when that factor is < 1
// (max_norm <= 0 disables clipping) and returns 0.
int xt_adam_clip_grads(double *norm, float *grads, size_t n, double max_norm);

// Index of the first NaN/inf in x, or -1 if all finite (e.g. before publishing weights).
int64_t xt_adam_first_nonfinite(const float *x, size_t n);

// ---- the update in pieces
//
// xt_adam_update is: norm = sqrt(xt_adam_sumsq(grads)); refuse a non-finite
// norm; step++; one fused pass (clip scaling, moments, params) over the slab.
// A caller that splits the slab across threads runs xt_adam_sumsq on fixed
// ranges, adds the partial sums in a fixed order (so the result does not
// depend on which thread finished first), then xt_adam_pass_run on disjoint
// ranges with one xt_adam_pass.

// sum g^2 over [0, n) in double: element i into partial sum i % 8, partials
// and tail added in a fixed order. Non-finite if any g is.
double xt_adam_sumsq(const float *grads, size_t n);

// The clip factor of a norm: max_norm / (norm + 1e-6) when that is < 1,
// else 1 (max_norm <= 0: 1).
double xt_adam_clip_coef(double norm, double max_norm);

// Constants of Adam step t (the step counter after incrementing) at lr.
typedef struct {
    double b1, b2, c1, c2;  // beta1, beta2, 1 - beta1, 1 - beta2
    double step_size;       // lr / (1 - beta1^t)
    double isqrt_bc2;       // 1 / sqrt(1 - beta2^t)
    double eps, decay;      // eps, 1 - lr wd
    double clip;            // < 1: grads are first scaled by it (in double, rounded to float)
    int zero_grads;         // 1: the pass leaves grads at 0; 0: clipped grads (or as they were)
} xt_adam_pass;
void xt_adam_pass_init(xt_adam_pass *ps, const xt_adam_hparams *hp, double lr, int64_t t,
                       double clip, int zero_grads);

// The fused pass over elements [i0, i1): g' = clip < 1 ? g * clip : g;
// m, v, p updated from g' exactly as xt_adam_step does; then grads as
// ps->zero_grads says. Ranges of one slab may run concurrently.
void xt_adam_pass_run(const xt_adam *self, const xt_adam_pass *ps, size_t i0, size_t i1);

// One bias-corrected Adam step with learning rate lr; increments self->step.
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  t = step + 1
//   p -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + wd p )
void xt_adam_step(xt_adam *self, const xt_adam_hparams *hp, double lr);

// clip_grads then step. Returns XT_ENUMERIC (nothing changed, step not
// counted) when the grad norm is not finite; *grad_norm gets the pre-clip norm.
int xt_adam_update(xt_adam *self, const xt_adam_hparams *hp, double lr, double max_norm,
                   double *grad_norm);

// ---- double twins

typedef struct {
    double *params, *grads, *m, *v;
    size_t n;
    int64_t step;
} xt_adam_f64;

void xt_adam_init_f64(xt_adam_f64 *self, double *params, double *grads, double *m, double *v,
                      size_t n);
void xt_adam_zero_grad_f64(xt_adam_f64 *self);
double xt_adam_grad_norm_f64(const double *grads, size_t n);
int xt_adam_clip_grads_f64(double *norm, double *grads, size_t n, double max_norm);
int64_t xt_adam_first_nonfinite_f64(const double *x, size_t n);
double xt_adam_sumsq_f64(const double *grads, size_t n);
void xt_adam_pass_run_f64(const xt_adam_f64 *self, const xt_adam_pass *ps, size_t i0, size_t i1);
void xt_adam_step_f64(xt_adam_f64 *self, const xt_adam_hparams *hp, double lr);
int xt_adam_update_f64(xt_adam_f64 *self, const xt_adam_hparams *hp, double lr, double max_norm,
                       double *grad_norm);

// ---- schedules
//
// "step" is the global count of environment steps consumed by the learner
// (SB3's num_timesteps), the unit seed 003 writes its schedule in.

enum { XT_SCHED_CONSTANT = 0, XT_SCHED_LINEAR = 1 };

typedef struct {
    int kind;            // XT_SCHED_CONSTANT or XT_SCHED_LINEAR
    double lr_start;     // 3e-4
    double lr_end;       // linear: value reached at total_steps and kept after
    int64_t total_steps; // linear: decay length; <= 0 behaves as constant
} xt_sched_lr;

// constant: lr_start; linear: lr_start + (lr_end - lr_start) * min(step / total_steps, 1).
double xt_sched_lr_at(const xt_sched_lr *s, int64_t step);

typedef struct {
    int64_t step; // the value applies from this step on
    double value;
} xt_sched_point;

// Seed 003's entropy coefficient: 0.02 below 250k steps, 0.01 below 1M, 0.005 after.
#define XT_SCHED_ENT_SEED003 {{0, 0.02}, {250000, 0.01}, {1000000, 0.005}}

// Piecewise constant: the value of the last point with point.step <= step
// (the first point's value before it). Points must pass xt_sched_piecewise_check.
double xt_sched_piecewise_at(const xt_sched_point *pts, int n, int64_t step);

// n >= 1, steps strictly increasing, values finite. `what` names the config key
// in the error, e.g. `learner.ent_schedule[2]: step 100 is not after 250000`.
int xt_sched_piecewise_check(const xt_sched_point *pts, int n, const char *what, xt_err *err);

#endif
