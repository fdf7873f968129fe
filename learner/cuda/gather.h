// gather.h - moving samples between the device batch store and the packed
// rows of one pass, and the symbol-embedding gradient.
//
// A pass (loss_grad minibatch, evaluate group, inference call) works on
// packed rows p (segplan.h). rows[p] names the sample behind row p as
// c * stride + t: for batch passes c is the chunk index in the store and
// stride = T + 1 (the obs layout [C][T + 1][D]); for inference c is the env
// and stride = 1. Nothing here allocates; all pointers are device memory.
#ifndef XT_CUDA_GATHER_H
#define XT_CUDA_GATHER_H

#include <cuda_runtime.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

// x0 [N, D + E]: row p = obs[rows[p]] ++ emb[sym[rows[p] / stride]] (E = 0:
// obs only; emb, sym may be NULL then).
int xt_cuda_gather_x0(float *x0, const float *obs, const int32_t *sym, const float *emb,
                      const int32_t *rows, int N, int D, int E, int stride, cudaStream_t s,
                      xt_err *err);

// Initial states of nseg sequences for the L layers of one net:
//   hx[k][j][:] = src[j] >= 0 ? h[base + src[j] * col_stride + k * layer_stride + (0..H)] : 0
// (cx likewise from c). hx, cx are [L][nseg][H] (cuDNN's hx layout).
int xt_cuda_gather_state(float *hx, float *cx, const float *h, const float *c,
                         const int32_t *src, int nseg, int L, int H, size_t base,
                         size_t col_stride, size_t layer_stride, cudaStream_t s, xt_err *err);

// Per-sample training inputs of the packed rows from the store ([C][T]
// layouts, sample c * T + t for rows[p] = c * (T + 1) + t). Outputs may be
// NULL when the store lacks the field (act for a categorical head, ...).
typedef struct {
    int N, T, A;
    const int32_t *rows;
    const float *act;      // [C][T][A] store
    const int32_t *act_i;  // [C][T]
    const uint8_t *masks;  // [C][T][A]
    const float *logp;     // [C][T]
    const uint8_t *valid;  // [C][T]
    float *o_act;          // [N, A]
    int32_t *o_act_i;      // [N]
    uint8_t *o_masks;      // [N, A]
    float *o_logp;         // [N]
    uint8_t *o_valid;      // [N]
} xt_cuda_train_gather;
int xt_cuda_gather_train(const xt_cuda_train_gather *g, cudaStream_t s, xt_err *err);

// Embedding gradient, deterministic in two stages:
//   dxc[b][j] = sum over t < T of dx[row_of[b * T + t]][D + j]   (per chunk)
//   dE[sym_ids[u]][j] += sum over the chunks sym_chunks[ptr[u] .. ptr[u+1]) of dxc
// dx [N, D + E]; dxc [n][E] scratch; n chunks, nu distinct symbols.
int xt_cuda_emb_backward(float *dE, float *dxc, const float *dx, const int32_t *row_of,
                         const int32_t *sym_ids, const int32_t *sym_ptr,
                         const int32_t *sym_chunks, int n, int nu, int T, int D, int E,
                         cudaStream_t s, xt_err *err);

// dst[k] = src[map[k]] where map[k] >= 0, else 0 (k < n): cuDNN weight space
// from the parameter slab.
int xt_cuda_map_pack(float *dst, const float *src, const int32_t *map, size_t n,
                     cudaStream_t s, xt_err *err);
// dst[map[k]] += src[k] where map[k] >= 0 (map is injective): weight-space
// gradients into the gradient slab.
int xt_cuda_map_unpack_add(float *dst, const float *src, const int32_t *map, size_t n,
                           cudaStream_t s, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
