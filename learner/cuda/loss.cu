// loss.cu - PPO loss, advantage normalization and GAE kernels.
//
// Purpose: the device twin of nn/ppo_loss.c and nn/gae.c. Per-sample terms
// follow the CPU code line by line (float); the means are two-pass
// deterministic reductions in double. Invariants: padding samples
// (valid = 0) get zero gradients and stay out of every sum; with no valid
// sample every gradient and statistic is 0. Ownership: all buffers are the
// caller's. Threads: kernels enqueue on the caller's stream.
#include "cuda/loss.h"

#include <math.h>

#include "cuda/reduce.cuh"

// ---- advantage moments: n, mean, 1 / (std + 1e-8)

// per block: [n, sum a, sum a^2] over the valid samples
static __global__ void k_adv_partials(const float *adv, const uint8_t *valid, int N,
                                      double *part) {
    __shared__ double sh[3 * XT_RED_THREADS];
    double v[3] = {0, 0, 0};
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < N; i += gridDim.x * blockDim.x) {
        if (valid && !valid[i]) continue;
        double a = adv[i];
        v[0] += 1, v[1] += a, v[2] += a * a;
    }
    xt_block_sum(sh, v, 3);
    if (threadIdx.x == 0)
        for (int k = 0; k < 3; k++) part[blockIdx.x * 3 + k] = v[k];
}

// scal[N, MEAN, SCALE] from the partials; the unbiased variance in one pass
// of double sums (sum a^2 - sum a * mean), as torch.std's n - 1
static __global__ void k_adv_final(const double *part, int nb, int normalize, double *scal) {
    __shared__ double sh[3 * XT_RED_THREADS];
    double v[3] = {0, 0, 0};
    for (int b = threadIdx.x; b < nb; b += blockDim.x)
        for (int k = 0; k < 3; k++) v[k] += part[b * 3 + k];
    xt_block_sum(sh, v, 3);
    if (threadIdx.x != 0) return;
    double n = v[0], mean = n > 0 ? v[1] / n : 0;
    double var = n > 1 ? (v[2] - v[1] * mean) / (n - 1) : 0;
    scal[XT_CL_N] = n;
    scal[XT_CL_MEAN] = normalize ? mean : 0;
    scal[XT_CL_SCALE] = normalize ? 1.0 / (sqrt(var > 0 ? var : 0) + 1e-8) : 1.0;
}

// ---- the loss

static __device__ __forceinline__ float s_clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

// Per sample (nn/ppo_loss_impl.inc): gradients written, statistics summed
// per block into part[b * 6 + (PL, VL, ENT, KL, CLIPPED, NONFINITE)].
static __global__ void k_ppo_rows(xt_cuda_ppo_args a) {
    __shared__ double sh[6 * XT_RED_THREADS];
    double v[6] = {0, 0, 0, 0, 0, 0};
    const double n = a.scal[XT_CL_N], mean = a.scal[XT_CL_MEAN], scale = a.scal[XT_CL_SCALE];
    const float inv = n > 0 ? (float)(1.0 / n) : 0.0f;
    const float lo = (float)(1.0 - a.clip_eps), hi = (float)(1.0 + a.clip_eps);
    const float eps = (float)a.clip_eps, vclip = (float)a.vf_clip;
    const float vf_coef = (float)a.vf_coef, ent_coef = (float)a.ent_coef;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < a.N; i += gridDim.x * blockDim.x) {
        if (a.valid && !a.valid[i]) {
            a.dlogp[i] = a.dent[i] = a.dval[i] = 0;
            continue;
        }
        // normalized advantage, as xt_ppo_adv_normalize: (A - mean) * scale in double
        const float adv = (float)(((double)a.adv[i] - mean) * scale);
        // r = pi / pi_old; surrogate min(r A, clip(r) A)
        const float lr = a.logp[i] - a.old_logp[i], r = expf(lr);
        const float rc = s_clampf(r, lo, hi), s1 = r * adv, s2 = rc * adv;
        v[0] -= s1 <= s2 ? s1 : s2;
        a.dlogp[i] = s1 <= s2 ? -adv * r * inv : 0.0f;
        v[3] += (double)(r - 1) - (double)lr;
        v[4] += (r - 1 > eps || 1 - r > eps) ? 1 : 0;
        // value: 0.5 (v - R)^2, or the max with the clipped prediction
        const float val = a.value[i], ret = a.ret[i];
        float d = val - ret, g = d, sq = d * d;
        int bad = 0;
        if (vclip > 0) {
            const float ov = a.old_value[i], dv = val - ov;
            const float dc = ov + s_clampf(dv, -vclip, vclip) - ret;
            if (dc * dc > sq) {
                sq = dc * dc;
                g = (dv >= -vclip && dv <= vclip) ? dc : 0.0f; // flat outside the clip
            }
            bad |= !isfinite(ov);
        }
        v[1] += 0.5 * (double)sq;
        a.dval[i] = vf_coef * g * inv;
        // entropy bonus: loss -= ent_coef * mean(H)
        v[2] += a.ent[i];
        a.dent[i] = -ent_coef * inv;
        bad |= !isfinite(lr) || !isfinite(adv) || !isfinite(val) || !isfinite(ret) ||
               !isfinite(a.ent[i]);
        v[5] += bad;
    }
    xt_block_sum(sh, v, 6);
    if (threadIdx.x == 0)
        for (int k = 0; k < 6; k++) a.part[blockIdx.x * 6 + k] = v[k];
}

extern "C" int xt_cuda_loss_ppo(const xt_cuda_ppo_args *a, cudaStream_t s, xt_err *err) {
    k_adv_partials<<<XT_RED_BLOCKS, XT_RED_THREADS, 0, s>>>(a->adv, a->valid, a->N, a->part);
    k_adv_final<<<1, XT_RED_THREADS, 0, s>>>(a->part, XT_RED_BLOCKS, a->normalize_adv, a->scal);
    k_ppo_rows<<<XT_RED_BLOCKS, XT_RED_THREADS, 0, s>>>(*a);
    xt_k_sum_partials<<<1, XT_RED_THREADS, 0, s>>>(a->part, XT_RED_BLOCKS, XT_CL_STATS_COUNT,
                                                   a->scal + XT_CL_STATS_FIRST);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- GAE

// One chunk per thread (nn/gae_impl.inc with B = 1): backwards in time,
// A_{t+1} read back from adv; the recursion is cut at every episode end.
static __global__ void k_gae(float *adv, float *ret, const float *rewards, const float *values,
                             const uint8_t *terminated, const uint8_t *truncated,
                             const float *trunc_value, float gamma, float lambda, int C, int T) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const float gl = gamma * lambda;
    const size_t o = (size_t)c * T;
    const float *val = values + (size_t)c * (T + 1);
    float next_adv = 0;
    for (int t = T - 1; t >= 0; t--) {
        const size_t k = o + t;
        const int term = terminated[k] != 0;
        const int trunc = !term && truncated && truncated[k] != 0;
        // V_next: the real next state's value of THIS episode
        float v_next = term ? 0.0f : (trunc ? (trunc_value ? trunc_value[k] : val[t]) : val[t + 1]);
        float delta = rewards[k] + gamma * v_next - val[t];
        float a = delta + gl * ((term || trunc || t == T - 1) ? 0.0f : next_adv);
        adv[k] = a;
        ret[k] = a + val[t];
        next_adv = a;
    }
}

extern "C" int xt_cuda_gae(float *adv, float *ret, const float *rewards, const float *values,
                           const uint8_t *terminated, const uint8_t *truncated,
                           const float *trunc_value, float gamma, float lambda, int C, int T,
                           cudaStream_t s, xt_err *err) {
    k_gae<<<xt_cuda_blocks((size_t)C), XT_CUDA_THREADS, 0, s>>>(
        adv, ret, rewards, values, terminated, truncated, trunc_value, gamma, lambda, C, T);
    XT_CUDA_LAUNCHED(err);
    return 0;
}
