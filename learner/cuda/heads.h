// heads.h - the learner side of the action heads on the device: masked
// categorical and diagonal Gaussian, forward (log-prob of the taken action,
// entropy) and backward (gradients of the head outputs and of log_std).
//
// Contracts are nn/heads.h's: masked actions get probability exactly 0 and
// gradient exactly 0; an empty mask row counts as all-legal; a masked or
// out-of-range taken action gets logp = -inf; the log-std clamp passes the
// gradient only inside [ls_min, ls_max]. One thread per row, summing in the
// CPU's order. Backward writes (does not accumulate) dout.
#ifndef XT_CUDA_HEADS_H
#define XT_CUDA_HEADS_H

#include <cuda_runtime.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

// logits [N, A], mask [N, A] or NULL, actions [N] -> logp, entropy [N],
// probs [N, A] (cache for backward).
int xt_cuda_cat_forward(float *logp, float *entropy, float *probs, const float *logits,
                        const uint8_t *mask, const int32_t *actions, int N, int A,
                        cudaStream_t s, xt_err *err);
// dlogp, dentropy [N], probs, actions -> dlogits [N, A] (written).
int xt_cuda_cat_backward(float *dlogits, const float *dlogp, const float *dentropy,
                         const float *probs, const int32_t *actions, int N, int A,
                         cudaStream_t s, xt_err *err);

// mean [N, A], log_std [A], action [N, A], mask or NULL -> logp, entropy [N].
int xt_cuda_gauss_forward(float *logp, float *entropy, const float *mean, const float *log_std,
                          const float *action, const uint8_t *mask, float ls_min, float ls_max,
                          int N, int A, cudaStream_t s, xt_err *err);
// -> dmean [N, A] (written) and dlog_std [A] (written: the column sums of
// the per-row terms, kept in dls_rows [N, A] scratch, in double).
int xt_cuda_gauss_backward(float *dmean, float *dlog_std, float *dls_rows, const float *dlogp,
                           const float *dentropy, const float *mean, const float *log_std,
                           const float *action, const uint8_t *mask, float ls_min,
                           float ls_max, int N, int A, cudaStream_t s, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
