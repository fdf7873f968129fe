// gather.cu - gathers from the batch store into packed rows, recurrent
// state gathers, the embedding gradient and the weight-space maps.
//
// Purpose: the data movement of the CUDA backend, so that the batch is
// copied to the device once (set_batch) and every minibatch is assembled
// there. Invariants: every kernel writes each output element from exactly
// one thread (no atomics): scatters go through injective maps or through
// the two-stage embedding reduction. Ownership: caller's buffers. Threads:
// the caller's stream.
#include "cuda/gather.h"

#include "cuda/cuda_check.h"

// ---- layer-0 input

// one thread per element of x0 [N, D + E]
static __global__ void k_gather_x0(float *x0, const float *obs, const int32_t *sym,
                                   const float *emb, const int32_t *rows, int N, int D, int E,
                                   int stride) {
    const size_t W = (size_t)D + E, k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (size_t)N * W) return;
    const size_t p = k / W, j = k % W, src = (size_t)rows[p];
    x0[k] = j < (size_t)D ? obs[src * D + j] : emb[(size_t)sym[src / stride] * E + (j - D)];
}

extern "C" int xt_cuda_gather_x0(float *x0, const float *obs, const int32_t *sym,
                                 const float *emb, const int32_t *rows, int N, int D, int E,
                                 int stride, cudaStream_t s, xt_err *err) {
    const size_t n = (size_t)N * (D + E);
    k_gather_x0<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(x0, obs, sym, emb, rows, N, D, E,
                                                              stride);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- recurrent state

static __global__ void k_gather_state(float *hx, float *cx, const float *h, const float *c,
                                      const int32_t *src, int nseg, int L, int H, size_t base,
                                      size_t col_stride, size_t layer_stride) {
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (size_t)L * nseg * H) return;
    // k = (layer * nseg + j) * H + i
    const size_t i = k % H, j = (k / H) % nseg, layer = k / ((size_t)H * nseg);
    const int s = src[j];
    if (s < 0) {
        hx[k] = cx[k] = 0.0f;
        return;
    }
    const size_t o = base + (size_t)s * col_stride + layer * layer_stride + i;
    hx[k] = h[o];
    cx[k] = c[o];
}

extern "C" int xt_cuda_gather_state(float *hx, float *cx, const float *h, const float *c,
                                    const int32_t *src, int nseg, int L, int H, size_t base,
                                    size_t col_stride, size_t layer_stride, cudaStream_t s,
                                    xt_err *err) {
    const size_t n = (size_t)L * nseg * H;
    k_gather_state<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(hx, cx, h, c, src, nseg, L, H,
                                                                 base, col_stride, layer_stride);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- training inputs

static __global__ void k_gather_train(xt_cuda_train_gather g) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= g.N) return;
    // rows[p] = c * (T + 1) + t  ->  sample c * T + t of the [C][T] arrays
    const int r = g.rows[p], c = r / (g.T + 1), t = r % (g.T + 1);
    const size_t smp = (size_t)c * g.T + t, A = (size_t)g.A;
    if (g.o_act)
        for (size_t j = 0; j < A; j++) g.o_act[p * A + j] = g.act[smp * A + j];
    if (g.o_act_i) g.o_act_i[p] = g.act_i[smp];
    if (g.o_masks)
        for (size_t j = 0; j < A; j++) g.o_masks[p * A + j] = g.masks[smp * A + j];
    g.o_logp[p] = g.logp[smp];
    if (g.o_valid) g.o_valid[p] = g.valid[smp];
}

extern "C" int xt_cuda_gather_train(const xt_cuda_train_gather *g, cudaStream_t s, xt_err *err) {
    k_gather_train<<<xt_cuda_blocks((size_t)g->N), XT_CUDA_THREADS, 0, s>>>(*g);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- embedding gradient

// stage 1: one thread per (chunk b, column j), steps in order
static __global__ void k_emb_chunks(float *dxc, const float *dx, const int32_t *row_of, int n,
                                    int T, int D, int E) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n * E) return;
    const int b = k / E, j = k % E;
    const size_t W = (size_t)D + E;
    float acc = 0;
    for (int t = 0; t < T; t++) acc += dx[(size_t)row_of[(size_t)b * T + t] * W + D + j];
    dxc[k] = acc;
}

// stage 2: one thread per (distinct symbol u, column j), its chunks in order
static __global__ void k_emb_symbols(float *dE, const float *dxc, const int32_t *sym_ids,
                                     const int32_t *sym_ptr, const int32_t *sym_chunks, int nu,
                                     int E) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= nu * E) return;
    const int u = k / E, j = k % E;
    float acc = 0;
    for (int q = sym_ptr[u]; q < sym_ptr[u + 1]; q++) acc += dxc[(size_t)sym_chunks[q] * E + j];
    dE[(size_t)sym_ids[u] * E + j] += acc;
}

extern "C" int xt_cuda_emb_backward(float *dE, float *dxc, const float *dx,
                                    const int32_t *row_of, const int32_t *sym_ids,
                                    const int32_t *sym_ptr, const int32_t *sym_chunks, int n,
                                    int nu, int T, int D, int E, cudaStream_t s, xt_err *err) {
    k_emb_chunks<<<xt_cuda_blocks((size_t)n * E), XT_CUDA_THREADS, 0, s>>>(dxc, dx, row_of, n, T,
                                                                           D, E);
    k_emb_symbols<<<xt_cuda_blocks((size_t)nu * E), XT_CUDA_THREADS, 0, s>>>(
        dE, dxc, sym_ids, sym_ptr, sym_chunks, nu, E);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- weight-space maps

static __global__ void k_map_pack(float *dst, const float *src, const int32_t *map, size_t n) {
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) dst[k] = map[k] >= 0 ? src[map[k]] : 0.0f;
}

static __global__ void k_map_unpack_add(float *dst, const float *src, const int32_t *map,
                                        size_t n) {
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n && map[k] >= 0) dst[map[k]] += src[k];
}

extern "C" int xt_cuda_map_pack(float *dst, const float *src, const int32_t *map, size_t n,
                                cudaStream_t s, xt_err *err) {
    k_map_pack<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(dst, src, map, n);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

extern "C" int xt_cuda_map_unpack_add(float *dst, const float *src, const int32_t *map,
                                      size_t n, cudaStream_t s, xt_err *err) {
    k_map_unpack_add<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(dst, src, map, n);
    XT_CUDA_LAUNCHED(err);
    return 0;
}
