// optim.cu - gradient norm, Adam with clipping and log-std clamp, scaling.
//
// Purpose: the device twin of nn/adam.c's slab functions. Invariants: the
// host decides whether the norm is finite before xt_cuda_adam runs, so a
// refused step never touches params or moments. Ownership: the slabs are
// the backend's. Threads: kernels enqueue on the caller's stream.
#include "cuda/optim.h"

#include "cuda/reduce.cuh"

// ---- norm

static __global__ void k_sumsq(const float *x, size_t n, double *part) {
    __shared__ double sh[XT_RED_THREADS];
    double v = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        v += (double)x[i] * (double)x[i];
    xt_block_sum(sh, &v, 1);
    if (threadIdx.x == 0) part[blockIdx.x] = v;
}

extern "C" int xt_cuda_sumsq(double *out, const float *x, size_t n, double *part,
                             cudaStream_t s, xt_err *err) {
    k_sumsq<<<XT_RED_BLOCKS, XT_RED_THREADS, 0, s>>>(x, n, part);
    xt_k_sum_partials<<<1, XT_RED_THREADS, 0, s>>>(part, XT_RED_BLOCKS, 1, out);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- Adam

// Constants of one step, computed on the host in double as the CPU does.
typedef struct {
    float b1, b2, c1, c2, step_size, isqrt_bc2, eps, decay, ls_min, ls_max;
    double coef;
    int clip;
    size_t ls_off, ls_n;
} s_adam_k;

static __global__ void k_adam(float *p, float *g, float *m, float *v, size_t n, s_adam_k k) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    // clip: g = (float)(g * coef) in double, written back like xt_adam_clip_grads
    float gi = g[i];
    if (k.clip) g[i] = gi = (float)((double)gi * k.coef);
    // m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2 (no FMA: same bits as the CPU loop)
    float mi = __fadd_rn(__fmul_rn(k.b1, m[i]), __fmul_rn(k.c1, gi));
    float vi = __fadd_rn(__fmul_rn(k.b2, v[i]), __fmul_rn(__fmul_rn(k.c2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    // p = p (1 - lr wd) - lr mhat / (sqrt(vhat) + eps)
    float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), k.isqrt_bc2), k.eps);
    float pi = __fsub_rn(__fmul_rn(p[i], k.decay), __fdiv_rn(__fmul_rn(k.step_size, mi), denom));
    // the log-std slice stays inside [ls_min, ls_max] (heads.h)
    if (i - k.ls_off < k.ls_n) pi = pi < k.ls_min ? k.ls_min : (pi > k.ls_max ? k.ls_max : pi);
    p[i] = pi;
}

extern "C" int xt_cuda_adam(const xt_cuda_adam_args *a, cudaStream_t s, xt_err *err) {
    const double t = (double)a->step;
    const double bc1 = 1.0 - pow(a->beta1, t), bc2 = 1.0 - pow(a->beta2, t);
    s_adam_k k;
    k.b1 = (float)a->beta1, k.b2 = (float)a->beta2;
    k.c1 = (float)(1.0 - a->beta1), k.c2 = (float)(1.0 - a->beta2);
    k.step_size = (float)(a->lr / bc1), k.isqrt_bc2 = (float)(1.0 / sqrt(bc2));
    k.eps = (float)a->eps, k.decay = (float)(1.0 - a->lr * a->weight_decay);
    k.ls_min = a->ls_min, k.ls_max = a->ls_max;
    k.coef = a->clip_coef, k.clip = a->clip_coef < 1;
    k.ls_off = a->ls_off, k.ls_n = a->ls_n;
    k_adam<<<xt_cuda_blocks(a->n), XT_CUDA_THREADS, 0, s>>>(a->params, a->grads, a->m, a->v,
                                                            a->n, k);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- scale

static __global__ void k_scale(float *x, float sc, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= sc;
}

extern "C" int xt_cuda_scale(float *x, float scale, size_t n, cudaStream_t s, xt_err *err) {
    k_scale<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(x, scale, n);
    XT_CUDA_LAUNCHED(err);
    return 0;
}
