// lstm.h - one LSTM layer over a time-major chunk [T, B], forward and BPTT.
//
// Weights use the PyTorch / cuDNN layout so the CUDA backend can hand them to
// cudnnGetRNNWeightParams unchanged: W_ih [4H, I], W_hh [4H, H], b_ih [4H],
// b_hh [4H], gate blocks in the order (i, f, g, o).
//
//   i = sigmoid(x W_ih_i^T + h W_hh_i^T + b_i)   (same for f, o)
//   g = tanh(...)    c_t = f * c_{t-1} + i * g    h_t = o * tanh(c_t)
//
// Episode resets follow sb3-contrib: before step t, (h, c) of env b are
// multiplied by (1 - starts[t][b]); backward applies the same mask to the
// gradients flowing into step t-1. Every function exists in float (xt_lstm_*)
// and double (xt_lstm_*_f64, for finite-difference checks) from one source.
// Nothing here allocates: caches and workspaces are bound to caller memory.
#ifndef XT_LSTM_H
#define XT_LSTM_H

#include <stddef.h>
#include <stdint.h>

// Read-only weights of one layer (pointers into a parameter slab).
typedef struct {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
} xt_lstm_w;
typedef struct {
    const double *w_ih, *w_hh, *b_ih, *b_hh;
} xt_lstm_w_f64;

// Gradients of one layer (pointers into a gradient slab; backward adds).
typedef struct {
    float *w_ih, *w_hh, *b_ih, *b_hh;
} xt_lstm_dw;
typedef struct {
    double *w_ih, *w_hh, *b_ih, *b_hh;
} xt_lstm_dw_f64;

// What forward leaves for backward, plus backward's scratch. Exactly:
//   gates [T, B, 4H]  gate activations (i, f, g, o after sigmoid / tanh)
//   hprev [T, B, H]   h_{t-1} after the reset mask (input of the recurrent GEMM)
//   cprev [T, B, H]   c_{t-1} after the reset mask
//   tc    [T, B, H]   tanh(c_t)
//   c_last [B, H]     c_{T-1}, the cell state carried past the chunk
// Backward scratch (may be shared by every layer of a model, since layers
// run backward one at a time):
//   dgates [T, B, 4H] pre-activation gate gradients; dh, dc [B, H] carries.
typedef struct {
    float *gates, *hprev, *cprev, *tc, *c_last;
    float *dgates, *dh, *dc;
} xt_lstm_cache;
typedef struct {
    double *gates, *hprev, *cprev, *tc, *c_last;
    double *dgates, *dh, *dc;
} xt_lstm_cache_f64;

// Elements needed by the forward part of a cache, and by the backward scratch.
size_t xt_lstm_cache_size(int B, int T, int H);
size_t xt_lstm_scratch_size(int B, int T, int H);
// Points cache at fwd (xt_lstm_cache_size elements) and scratch
// (xt_lstm_scratch_size elements, or NULL for a forward-only cache). Bind
// for the largest B x T the layer will run; any smaller B, T fits.
void xt_lstm_cache_bind(xt_lstm_cache *c, float *fwd, float *scratch, int B, int T, int H);
void xt_lstm_cache_bind_f64(xt_lstm_cache_f64 *c, double *fwd, double *scratch, int B, int T,
                            int H);

// in [T, B, I] -> out [T, B, H]. h0, c0 [B, H] (NULL = zeros); starts [T, B]
// (nonzero = an episode starts at this step; NULL = no resets).
void xt_lstm_forward(float *out, xt_lstm_cache *cache, const float *in, const xt_lstm_w *w,
                     const float *h0, const float *c0, const uint8_t *starts, int B, int T, int I,
                     int H);
void xt_lstm_forward_f64(double *out, xt_lstm_cache_f64 *cache, const double *in,
                         const xt_lstm_w_f64 *w, const double *h0, const double *c0,
                         const uint8_t *starts, int B, int T, int I, int H);

// dout [T, B, H] -> din [T, B, I] (written, NULL = not needed), dw (+=),
// dh0, dc0 [B, H] (written, NULL = not needed). in, w, starts as in forward;
// cache as forward left it (with scratch bound).
void xt_lstm_backward(float *din, const xt_lstm_dw *dw, float *dh0, float *dc0, const float *dout,
                      const float *in, const xt_lstm_w *w, xt_lstm_cache *cache,
                      const uint8_t *starts, int B, int T, int I, int H);
void xt_lstm_backward_f64(double *din, const xt_lstm_dw_f64 *dw, double *dh0, double *dc0,
                          const double *dout, const double *in, const xt_lstm_w_f64 *w,
                          xt_lstm_cache_f64 *cache, const uint8_t *starts, int B, int T, int I,
                          int H);

#endif
