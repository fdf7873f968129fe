// optim.h - the optimizer step on the device: global gradient norm (double,
// deterministic), clipping folded into Adam, the log-std clamp, and the
// scaling used to average gradients across GPUs.
//
// Formulas are nn/adam.h's; the Adam update uses round-to-nearest float
// intrinsics (no fused multiply-add) so that, given the same gradient, it
// produces the same bits as the CPU's float loop.
#ifndef XT_CUDA_OPTIM_H
#define XT_CUDA_OPTIM_H

#include <cuda_runtime.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

// out[0] = sum of x[i]^2 over n floats, in double (NaN / inf propagate).
// part: [XT_RED_BLOCKS] doubles of scratch.
int xt_cuda_sumsq(double *out, const float *x, size_t n, double *part, cudaStream_t s,
                  xt_err *err);

typedef struct {
    float *params, *grads, *m, *v; // [n] each
    size_t n;
    double clip_coef;    // grads *= clip_coef first when < 1 (written back, as the CPU does)
    double lr, beta1, beta2, eps, weight_decay;
    long long step;      // the step being taken (1 for the first)
    size_t ls_off, ls_n; // log_std slice of the slab, clamped to [ls_min, ls_max] after the step
    float ls_min, ls_max;
} xt_cuda_adam_args;

// One bias-corrected Adam step over the slab (nn/adam_impl.inc).
int xt_cuda_adam(const xt_cuda_adam_args *a, cudaStream_t s, xt_err *err);

// x[i] *= scale over n floats.
int xt_cuda_scale(float *x, float scale, size_t n, cudaStream_t s, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
