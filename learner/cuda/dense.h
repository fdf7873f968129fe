// dense.h - fully connected layers on the device through cuBLAS, plus the
// element-wise pieces around them (bias + ReLU, ReLU backward, add).
//
// Shapes and meaning are nn/dense.h's (row-major, W [O, I] as nn.Linear):
//   out[N, O] = act(in[N, I] . W^T + b)
// cuBLAS is column-major, so a row-major [R, C] matrix is passed as its
// column-major transpose [C, R] with leading dimension C. Math: strict FP32
// (CUBLAS_COMPUTE_32F) unless tf32 is set (CUBLAS_COMPUTE_32F_FAST_TF32).
// The ReLU lets NaN through, as the CPU's does.
#ifndef XT_CUDA_DENSE_H
#define XT_CUDA_DENSE_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

// out [N, O] = act(in [N, I] . W^T + b); relu 0 or 1.
int xt_cuda_dense_forward(cublasHandle_t h, float *out, const float *in, const float *w,
                          const float *b, int relu, int N, int I, int O, int tf32,
                          cudaStream_t s, xt_err *err);

// dout [N, O] (pre-activation gradient) -> dw [O, I] +=, db [O] += (column
// sums through a GEMV with ones [N]), din [N, I] written (NULL: skipped).
int xt_cuda_dense_backward(cublasHandle_t h, float *din, float *dw, float *db, const float *dout,
                           const float *in, const float *w, const float *ones, int N, int I,
                           int O, int tf32, xt_err *err);

// dy[k] = y[k] <= 0 ? 0 : dy[k] (y the ReLU output; NaN passes).
int xt_cuda_relu_backward(float *dy, const float *y, size_t n, cudaStream_t s, xt_err *err);

// y[k] += x[k].
int xt_cuda_add(float *y, const float *x, size_t n, cudaStream_t s, xt_err *err);

// x[k] = v.
int xt_cuda_fill(float *x, float v, size_t n, cudaStream_t s, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
