// rnn.h - an LSTM stack (L layers of H units over inputs of width I) through
// the cuDNN RNN v8 API: descriptors, weight-space mapping to and from the
// canonical parameter slab, forward, backward data and backward weights.
//
// One xt_cuda_rnn describes a shape; the actor's and critic's stacks have
// the same shape and share it, each with its own weight space. Sequences
// are handed over in the packed layout of segplan.h
// (CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, lengths non-increasing); initial
// states are [L][nseg][H]. Algorithm CUDNN_RNN_ALGO_STANDARD (deterministic),
// math CUDNN_FMA_MATH (strict FP32) unless tf32 is set, no dropout, double
// bias (b_ih and b_hh, as the slab).
//
// Workspace and reserve space are sized at creation for the largest pass
// (xt_cuda_rnn_sizes) and owned by the caller; a pass whose needs exceed
// them fails with both sizes in the sentence rather than allocating.
#ifndef XT_CUDA_RNN_H
#define XT_CUDA_RNN_H

#include <cudnn.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

typedef struct xt_cuda_rnn xt_cuda_rnn;

// Shapes the buffers must hold: up to max_cols columns of max_Ts steps in
// training passes, and up to max_infer single-step sequences.
typedef struct {
    int max_cols, max_Ts, max_infer;
} xt_cuda_rnn_limits;

// Caller owns the result (xt_cuda_rnn_destroy). The handle is borrowed.
int xt_cuda_rnn_new(xt_cuda_rnn **out, cudnnHandle_t h, int I, int H, int L, int tf32,
                    const xt_cuda_rnn_limits *lim, xt_err *err);
void xt_cuda_rnn_destroy(xt_cuda_rnn **self_p);

// Bytes of one weight space, and the workspace / reserve capacity to allocate.
void xt_cuda_rnn_sizes(const xt_cuda_rnn *r, size_t *weight_bytes, size_t *work_bytes,
                       size_t *reserve_bytes);

// Fills map [weight_bytes / 4] so that weight-space float k holds slab
// element map[k] (-1: unused). off[k][0..3] are the slab offsets of layer
// k's W_ih [4H, I_k], W_hh [4H, H], b_ih [4H], b_hh [4H] (gates i, f, g, o).
// wspace is a device weight space (only its address is used). Fails when
// cuDNN's matrices are not the expected row-major [H, I_k] blocks or the map
// does not cover every element exactly once.
int xt_cuda_rnn_weight_map(const xt_cuda_rnn *r, void *wspace, const size_t (*off)[4],
                           int32_t *map, xt_err *err);

// Describes the next pass: nseg sequences, lengths seq_len (host, non-
// increasing, max first). Checks the workspace / reserve needs of mode
// (train: CUDNN_FWD_MODE_TRAINING) against the capacities.
int xt_cuda_rnn_plan(xt_cuda_rnn *r, int nseg, const int *seq_len, int train, xt_err *err);

// Forward of the planned pass. x [rows, I] and y [rows, H] packed; hx, cx
// [L][nseg][H] (NULL = zeros); hy, cy final states (NULL = not kept).
// dev_seq_len: the lengths in device memory. train keeps the reserve space
// for backward.
int xt_cuda_rnn_forward(xt_cuda_rnn *r, int train, const int32_t *dev_seq_len, const float *x,
                        float *y, const float *hx, const float *cx, float *hy, float *cy,
                        const void *wspace, void *work, void *reserve, xt_err *err);

// Backward of the last training forward with the same plan: dy [rows, H]
// -> dx [rows, I] (written), dwspace += weight gradients. No gradient
// flows into hx, cx (the chunk's initial state is an input, not a parameter).
int xt_cuda_rnn_backward(xt_cuda_rnn *r, const int32_t *dev_seq_len, const float *x,
                         const float *y, const float *dy, float *dx, const float *hx,
                         const float *cx, const void *wspace, void *dwspace, void *work,
                         void *reserve, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
