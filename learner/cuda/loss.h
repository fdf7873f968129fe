// loss.h - the PPO loss of one minibatch on the device (per-sample terms,
// their gradients and the statistics), the per-minibatch advantage
// normalization, and GAE over a batch of chunks.
//
// The formulas are nn/ppo_loss.h's and nn/gae.h's, term for term in float;
// sums over samples are deterministic two-pass reductions in double
// (reduce.cuh). Nothing here allocates; scratch comes from the caller.
#ifndef XT_CUDA_LOSS_H
#define XT_CUDA_LOSS_H

#include <cuda_runtime.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

// Slots of the scalar block the loss writes (doubles, device memory).
enum {
    XT_CL_N = 0,       // valid samples
    XT_CL_MEAN,        // advantage mean over them
    XT_CL_SCALE,       // 1 / (unbiased std + 1e-8), or 1 without normalization
    XT_CL_PL,          // sum of -min(r A, clip(r) A)
    XT_CL_VL,          // sum of 0.5 (v - R)^2 (or its clipped max)
    XT_CL_ENT,         // sum of entropies
    XT_CL_KL,          // sum of (r - 1) - log r
    XT_CL_CLIPPED,     // samples with |r - 1| > clip_eps
    XT_CL_NONFINITE,   // valid samples with a non-finite input
    XT_CL_COUNT
};
// The partial sums of the statistics (XT_CL_PL .. XT_CL_NONFINITE) are
// contiguous, so a multi-GPU run all-reduces them in one call.
#define XT_CL_STATS_FIRST XT_CL_PL
#define XT_CL_STATS_COUNT (XT_CL_COUNT - XT_CL_PL)

typedef struct {
    int N;                               // samples (rows)
    const float *logp, *ent, *value;     // [N] current network
    const float *old_logp, *adv, *ret;   // [N] behaviour log-prob, advantage (raw), return
    const float *old_value;              // [N] rollout values; read only with vf_clip > 0
    const uint8_t *valid;                // [N] or NULL (all valid)
    float *dlogp, *dent, *dval;          // [N] out: d loss / d input (0 for padding)
    double *part;                        // [XT_RED_BLOCKS * 8] scratch
    double *scal;                        // [XT_CL_COUNT] out
    int normalize_adv;
    double clip_eps, vf_coef, ent_coef, vf_clip;
} xt_cuda_ppo_args;

// Advantage moments, then the loss terms and gradients of every sample.
// Enqueued on stream s; the host reads scal after a sync.
int xt_cuda_loss_ppo(const xt_cuda_ppo_args *a, cudaStream_t s, xt_err *err);

// GAE per chunk: rewards, terminated, truncated (NULL = none), trunc_value
// (NULL = bootstrap with the step's own value) [C][T]; values [C][T + 1]
// -> adv, ret [C][T]. One thread per chunk walks t = T-1 .. 0.
int xt_cuda_gae(float *adv, float *ret, const float *rewards, const float *values,
                const uint8_t *terminated, const uint8_t *truncated, const float *trunc_value,
                float gamma, float lambda, int C, int T, cudaStream_t s, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
