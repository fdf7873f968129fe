// reduce.cuh - deterministic block sums for the two-pass reductions of
// learner/cuda (loss statistics, advantage moments, gradient norm).
//
// A reduction runs XT_RED_BLOCKS x XT_RED_THREADS threads over its n items
// in a grid-stride loop (each thread sums a fixed subset in a fixed order),
// reduces each block in a fixed tree, writes one partial per block, and a
// second one-block kernel sums the partials the same way. Same inputs, same
// launch shape: same bits, run after run. Sums are in double.
// Included by .cu files only.
#ifndef XT_REDUCE_CUH
#define XT_REDUCE_CUH

#include "cuda/cuda_check.h"

// Sums v[0..K) over the block (blockDim.x a power of two). sh holds
// K * blockDim.x doubles. On return every thread's v[k] is the block sum.
static __device__ __forceinline__ void xt_block_sum(double *sh, double *v, int K) {
    const int t = threadIdx.x, n = blockDim.x;
    for (int k = 0; k < K; k++) sh[k * n + t] = v[k];
    __syncthreads();
    for (int s = n / 2; s > 0; s >>= 1) {
        if (t < s)
            for (int k = 0; k < K; k++) sh[k * n + t] += sh[k * n + t + s];
        __syncthreads();
    }
    for (int k = 0; k < K; k++) v[k] = sh[k * n];
    __syncthreads();
}

// Second pass: out[k] = sum over b < nb of part[b * K + k] (one block of
// XT_RED_THREADS threads, K <= 8).
static __global__ void xt_k_sum_partials(const double *part, int nb, int K, double *out) {
    __shared__ double sh[8 * XT_RED_THREADS];
    double v[8];
    for (int k = 0; k < K; k++) v[k] = 0;
    for (int b = threadIdx.x; b < nb; b += blockDim.x)
        for (int k = 0; k < K; k++) v[k] += part[b * K + k];
    xt_block_sum(sh, v, K);
    if (threadIdx.x == 0)
        for (int k = 0; k < K; k++) out[k] = v[k];
}

#endif
