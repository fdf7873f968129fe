// dense.h - fully connected layer with optional ReLU, forward and backward.
//
// W [O, I] (PyTorch nn.Linear layout), b [O]:
//   out[N, O] = act(in[N, I] . W^T + b),  act = ReLU or identity.
// The ReLU lets NaN through (as torch.relu), so a NaN reaches the loss.
// Every function exists in float and double (_f64) from one source.
// Nothing allocates; BLAS threading is whatever the caller set.
#ifndef XT_DENSE_H
#define XT_DENSE_H

#include <stddef.h>

void xt_dense_forward(float *out, const float *in, const float *w, const float *b, int relu, int N,
                      int I, int O);
void xt_dense_forward_f64(double *out, const double *in, const double *w, const double *b, int relu,
                          int N, int I, int O);

// dout [N, O] (gradient of the pre-activation: run xt_relu_backward first
// for a ReLU layer) -> dw [O, I] (+=), db [O] (+=), din [N, I] (written;
// NULL = not needed).
void xt_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int N, int I, int O);
void xt_dense_backward_f64(double *din, double *dw, double *db, const double *dout,
                           const double *in, const double *w, int N, int I, int O);

// ReLU backward in place: dy[k] = y[k] <= 0 ? 0 : dy[k], y = the ReLU output.
void xt_relu_backward(float *dy, const float *y, size_t n);
void xt_relu_backward_f64(double *dy, const double *y, size_t n);

// Matrix products that pick their method by the row count M: a BLAS GEMM
// for M > XT_NN_SMALL_M, otherwise vector loops that read W once per row
// with no packing (several times faster for M = 1; deterministic, the order
// of every sum fixed by the shapes). beta 0 writes out, 1 adds to it.
//   xt_nn_gemm_nt: out[M, N] (+)= x[M, K] . W[N, K]^T   (W row-major [N, K])
//   xt_nn_gemm_nn: out[M, N] (+)= x[M, K] . W[K, N]     (W row-major [K, N])
#define XT_NN_SMALL_M 4
void xt_nn_gemm_nt(float *out, const float *x, const float *W, int M, int N, int K, int beta);
void xt_nn_gemm_nt_f64(double *out, const double *x, const double *W, int M, int N, int K,
                       int beta);
void xt_nn_gemm_nn(float *out, const float *x, const float *W, int M, int N, int K, int beta);
void xt_nn_gemm_nn_f64(double *out, const double *x, const double *W, int M, int N, int K,
                       int beta);

// x[n] = 0 (the "zero the gradients" verb: backward functions only add).
void xt_nn_zero(float *x, size_t n);
void xt_nn_zero_f64(double *x, size_t n);

#endif
