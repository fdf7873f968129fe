// heads.h - action distributions of the policy: masked categorical (asset env)
// and diagonal Gaussian with a learned, clamped log-std (portfolio env).
//
// Each head has a learner side (forward: log-prob of the taken action and
// entropy; backward: gradients into the head's inputs, accumulated with +=)
// and an actor side (sample given external random draws, deterministic mode).
// Random numbers come from the caller (xt_rng), so the heads hold no state.
//
// Every function exists in float (xt_heads_x) and double (xt_heads_x_f64);
// both are compiled from one implementation (heads_impl.inc). The double
// versions serve finite-difference gradient checks.
//
// Masks are uint8, 1 = legal; a NULL mask means everything is legal.
// Shapes: N rows (samples), A actions (categorical) or dims (Gaussian), row-major.
#ifndef XT_HEADS_H
#define XT_HEADS_H

#include <stdint.h>

// ---- masked categorical
//
// p = softmax over the legal logits of a row; masked actions get probability
// exactly 0, contribute nothing to the entropy and receive gradient exactly 0.
//
// A row with no legal action (all-zero mask) is a caller bug (every env keeps
// at least one action legal, e.g. "flat"); such a row is treated as if every
// action were legal, so the outputs stay finite, and it is counted in the
// return value. An action that is out of [0, A) or masked in its row gets
// logp = -INFINITY (its probability really is 0) and is counted too; the
// learner rejects such chunks at ingest, so a nonzero return means a bug.

// logits [N,A], mask [N,A] or NULL, actions [N] ->
// logp [N], entropy [N] (of the masked distribution), probs [N,A] (cache for backward).
// Returns the number of anomalous rows (empty mask or illegal action); 0 normally.
int xt_heads_cat_forward(float *logp, float *entropy, float *probs, const float *logits,
                         const uint8_t *mask, const int32_t *actions, int N, int A);

// dlogp [N], dentropy [N] (either may be NULL = zero), probs [N,A] from forward,
// actions [N] -> dlogits [N,A] +=. Masked entries (probs == 0) get exactly 0,
// except the taken action of an anomalous row (whose logp was -inf).
void xt_heads_cat_backward(float *dlogits, const float *dlogp, const float *dentropy,
                           const float *probs, const int32_t *actions, int N, int A);

// Actor: samples one action per row by inverse CDF with u [N] uniform in [0,1);
// a masked action is never chosen (rounding falls back to the last legal one).
// logits [N,A], mask [N,A] or NULL -> actions [N], logp [N] (logp may be NULL).
// Returns the number of rows with an empty mask (sampled as all-legal).
int xt_heads_cat_sample(int32_t *actions, float *logp, const float *logits,
                        const uint8_t *mask, const float *u, int N, int A);

// Actor, deterministic evaluation: the most probable legal action (lowest index on ties).
int xt_heads_cat_argmax(int32_t *actions, float *logp, const float *logits,
                        const uint8_t *mask, int N, int A);

// ---- diagonal Gaussian
//
// sigma_j = exp(clamp(log_std_j, ls_min, ls_max)). For the legal dims of row i
//   logp_i    = sum_j [ -0.5 ((a_ij - mu_ij) / sigma_j)^2 - log sigma_j - 0.5 log(2 pi) ]
//   entropy_i = sum_j [ 0.5 + 0.5 log(2 pi) + log sigma_j ]
// Masked dims are left out of both: the env ignores those coordinates of the
// action, so they carry no density and the sum is exact under the mask.
// Clamp gradient: d/dlog_std passes through where ls_min <= log_std_j <= ls_max
// and is exactly 0 strictly outside (the clamp is flat there), as torch.clamp.

// mean [N,A], log_std [A], action [N,A], mask [N,A] or NULL -> logp [N], entropy [N].
// Nothing is cached: backward recomputes from the same inputs.
void xt_heads_gauss_forward(float *logp, float *entropy, const float *mean, const float *log_std,
                            const float *action, const uint8_t *mask, float ls_min, float ls_max,
                            int N, int A);

// dlogp [N], dentropy [N] (either may be NULL = zero) ->
// dmean [N,A] +=, dlog_std [A] += (summed over rows). Masked dims get exactly 0.
void xt_heads_gauss_backward(float *dmean, float *dlog_std, const float *dlogp,
                             const float *dentropy, const float *mean, const float *log_std,
                             const float *action, const uint8_t *mask, float ls_min,
                             float ls_max, int N, int A);

// Actor: action = mean + sigma * z on legal dims, = mean on masked dims.
// z [N,A] standard normal draws, or NULL for the deterministic mode (action = mean).
// -> action [N,A], logp [N] (may be NULL).
void xt_heads_gauss_sample(float *action, float *logp, const float *mean, const float *log_std,
                           const uint8_t *mask, const float *z, float ls_min, float ls_max,
                           int N, int A);

// ---- double twins (same contracts; for gradient checks)

int xt_heads_cat_forward_f64(double *logp, double *entropy, double *probs, const double *logits,
                             const uint8_t *mask, const int32_t *actions, int N, int A);
void xt_heads_cat_backward_f64(double *dlogits, const double *dlogp, const double *dentropy,
                               const double *probs, const int32_t *actions, int N, int A);
int xt_heads_cat_sample_f64(int32_t *actions, double *logp, const double *logits,
                            const uint8_t *mask, const double *u, int N, int A);
int xt_heads_cat_argmax_f64(int32_t *actions, double *logp, const double *logits,
                            const uint8_t *mask, int N, int A);
void xt_heads_gauss_forward_f64(double *logp, double *entropy, const double *mean,
                                const double *log_std, const double *action, const uint8_t *mask,
                                double ls_min, double ls_max, int N, int A);
void xt_heads_gauss_backward_f64(double *dmean, double *dlog_std, const double *dlogp,
                                 const double *dentropy, const double *mean,
                                 const double *log_std, const double *action,
                                 const uint8_t *mask, double ls_min, double ls_max, int N, int A);
void xt_heads_gauss_sample_f64(double *action, double *logp, const double *mean,
                               const double *log_std, const uint8_t *mask, const double *z,
                               double ls_min, double ls_max, int N, int A);

#endif
