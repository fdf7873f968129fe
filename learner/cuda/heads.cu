// heads.cu - masked categorical and diagonal Gaussian heads (learner side).
//
// Purpose: the device twin of nn/heads_impl.inc's forward and backward.
// One thread per sample row; A is small (actions or portfolio dims), so a
// row's loops run in the CPU's order and the per-row results match it to
// the last few ulps of expf / logf. Ownership: caller's buffers. Threads:
// kernels enqueue on the caller's stream.
#include "cuda/heads.h"

#include <math.h>

#include "cuda/reduce.cuh"

#define S_HALF_LOG_2PI 0.91893853320467274178f

// ---- masked categorical

// Row mask, or NULL when every action is legal; an all-zero row counts as
// all-legal (heads.h).
static __device__ const uint8_t *s_row_mask(const uint8_t *mask, int i, int A) {
    if (!mask) return NULL;
    const uint8_t *mk = mask + (size_t)i * A;
    for (int j = 0; j < A; j++)
        if (mk[j]) return mk;
    return NULL;
}

static __global__ void k_cat_forward(float *logp, float *entropy, float *probs,
                                     const float *logits, const uint8_t *mask,
                                     const int32_t *actions, int N, int A) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const float *l = logits + (size_t)i * A;
    float *p = probs + (size_t)i * A;
    const uint8_t *mk = s_row_mask(mask, i, A);
    // p_j = exp(l_j - m) / Z over legal j (m = max legal logit); masked p_j = 0
    float m = -INFINITY;
    for (int j = 0; j < A; j++)
        if ((!mk || mk[j]) && l[j] > m) m = l[j];
    float z = 0;
    for (int j = 0; j < A; j++) {
        p[j] = (!mk || mk[j]) ? expf(l[j] - m) : 0.0f;
        z += p[j];
    }
    // H = log Z - sum p (l - m)
    const float logz = logf(z), inv = 1.0f / z;
    float h = logz;
    for (int j = 0; j < A; j++) {
        if (p[j] == 0) continue;
        p[j] *= inv;
        h -= p[j] * (l[j] - m);
    }
    entropy[i] = h;
    const int32_t a = actions[i];
    logp[i] = (a < 0 || a >= A || (mk && !mk[a])) ? -INFINITY : l[a] - m - logz;
}

static __global__ void k_cat_backward(float *dlogits, const float *dlogp, const float *dentropy,
                                      const float *probs, const int32_t *actions, int N, int A) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const float *p = probs + (size_t)i * A;
    float *dl = dlogits + (size_t)i * A;
    const float glp = dlogp ? dlogp[i] : 0.0f, gh = dentropy ? dentropy[i] : 0.0f;
    const int32_t a = actions[i];
    for (int j = 0; j < A; j++) dl[j] = 0;
    // d logp_a / d l_j = [j == a] - p_j
    if (glp != 0 && a >= 0 && a < A) dl[a] += glp;
    // H from the cache; d H / d l_j = -p_j (log p_j + H), 0 where p_j = 0
    float h = 0;
    if (gh != 0)
        for (int j = 0; j < A; j++)
            if (p[j] > 0) h -= p[j] * logf(p[j]);
    for (int j = 0; j < A; j++) {
        if (p[j] == 0) continue;
        float d = -glp * p[j];
        if (gh != 0) d -= gh * p[j] * (logf(p[j]) + h);
        dl[j] += d;
    }
}

extern "C" int xt_cuda_cat_forward(float *logp, float *entropy, float *probs,
                                   const float *logits, const uint8_t *mask,
                                   const int32_t *actions, int N, int A, cudaStream_t s,
                                   xt_err *err) {
    k_cat_forward<<<xt_cuda_blocks((size_t)N), XT_CUDA_THREADS, 0, s>>>(logp, entropy, probs,
                                                                       logits, mask, actions, N, A);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

extern "C" int xt_cuda_cat_backward(float *dlogits, const float *dlogp, const float *dentropy,
                                    const float *probs, const int32_t *actions, int N, int A,
                                    cudaStream_t s, xt_err *err) {
    k_cat_backward<<<xt_cuda_blocks((size_t)N), XT_CUDA_THREADS, 0, s>>>(
        dlogits, dlogp, dentropy, probs, actions, N, A);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- diagonal Gaussian

static __device__ __forceinline__ float s_clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

static __global__ void k_gauss_forward(float *logp, float *entropy, const float *mean,
                                       const float *log_std, const float *action,
                                       const uint8_t *mask, float ls_min, float ls_max, int N,
                                       int A) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const float *mu = mean + (size_t)i * A, *a = action + (size_t)i * A;
    const uint8_t *mk = mask ? mask + (size_t)i * A : NULL;
    float lp = 0, h = 0;
    for (int j = 0; j < A; j++) {
        if (mk && !mk[j]) continue;
        // z = (a - mu) / sigma, sigma = exp(clamped log_std)
        const float ls = s_clampf(log_std[j], ls_min, ls_max);
        const float zz = (a[j] - mu[j]) * expf(-ls);
        lp += -0.5f * zz * zz - ls - S_HALF_LOG_2PI;
        h += 0.5f + S_HALF_LOG_2PI + ls;
    }
    logp[i] = lp;
    entropy[i] = h;
}

// dmean written; the log_std terms of row i go to dls_rows[i, j] (0 where
// masked or clamped) and are summed per column afterwards
static __global__ void k_gauss_backward(float *dmean, float *dls_rows, const float *dlogp,
                                        const float *dentropy, const float *mean,
                                        const float *log_std, const float *action,
                                        const uint8_t *mask, float ls_min, float ls_max, int N,
                                        int A) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const size_t o = (size_t)i * A;
    const float glp = dlogp ? dlogp[i] : 0.0f, gh = dentropy ? dentropy[i] : 0.0f;
    for (int j = 0; j < A; j++) {
        dmean[o + j] = 0;
        dls_rows[o + j] = 0;
        if (mask && !mask[o + j]) continue;
        const float raw = log_std[j], ls = s_clampf(raw, ls_min, ls_max), isig = expf(-ls);
        const float zz = (action[o + j] - mean[o + j]) * isig;
        // d logp / d mu = z / sigma; d logp / d ls = z^2 - 1, d H / d ls = 1
        dmean[o + j] = glp * zz * isig;
        if (raw >= ls_min && raw <= ls_max) dls_rows[o + j] = glp * (zz * zz - 1) + gh;
    }
}

// dls[j] = sum over rows of dls_rows[r, j]: one block per column, double
static __global__ void k_col_sum(float *out, const float *x, int N, int A) {
    __shared__ double sh[XT_RED_THREADS];
    const int j = blockIdx.x;
    double v = 0;
    for (int r = threadIdx.x; r < N; r += blockDim.x) v += x[(size_t)r * A + j];
    xt_block_sum(sh, &v, 1);
    if (threadIdx.x == 0) out[j] = (float)v;
}

extern "C" int xt_cuda_gauss_forward(float *logp, float *entropy, const float *mean,
                                     const float *log_std, const float *action,
                                     const uint8_t *mask, float ls_min, float ls_max, int N,
                                     int A, cudaStream_t s, xt_err *err) {
    k_gauss_forward<<<xt_cuda_blocks((size_t)N), XT_CUDA_THREADS, 0, s>>>(
        logp, entropy, mean, log_std, action, mask, ls_min, ls_max, N, A);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

extern "C" int xt_cuda_gauss_backward(float *dmean, float *dlog_std, float *dls_rows,
                                      const float *dlogp, const float *dentropy,
                                      const float *mean, const float *log_std,
                                      const float *action, const uint8_t *mask, float ls_min,
                                      float ls_max, int N, int A, cudaStream_t s, xt_err *err) {
    k_gauss_backward<<<xt_cuda_blocks((size_t)N), XT_CUDA_THREADS, 0, s>>>(
        dmean, dls_rows, dlogp, dentropy, mean, log_std, action, mask, ls_min, ls_max, N, A);
    k_col_sum<<<A, XT_RED_THREADS, 0, s>>>(dlog_std, dls_rows, N, A);
    XT_CUDA_LAUNCHED(err);
    return 0;
}
