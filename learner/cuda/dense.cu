// dense.cu - cuBLAS GEMMs of the dense layers and their element-wise kernels.
//
// Purpose: the device twin of nn/dense_impl.inc. The cuBLAS handle is the
// backend's (its stream, workspace and pointer mode are set there); this
// file only maps row-major shapes onto column-major calls. Ownership:
// caller's buffers. Threads: the handle's stream.
#include "cuda/dense.h"

#include "cuda/cuda_check.h"

// ---- element-wise kernels

// out[r, o] = act(out[r, o] + b[o]); NaN passes the ReLU (x <= 0 is false)
static __global__ void k_bias_act(float *out, const float *b, size_t n, int O, int relu) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    float v = out[k] + b[k % O];
    out[k] = (relu && v <= 0.0f) ? 0.0f : v;
}

static __global__ void k_relu_backward(float *dy, const float *y, size_t n) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n && y[k] <= 0.0f) dy[k] = 0.0f;
}

static __global__ void k_add(float *y, const float *x, size_t n) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) y[k] += x[k];
}

static __global__ void k_fill(float *x, float v, size_t n) {
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) x[k] = v;
}

static cublasComputeType_t s_compute(int tf32) {
    return tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// ---- forward

extern "C" int xt_cuda_dense_forward(cublasHandle_t h, float *out, const float *in,
                                     const float *w, const float *b, int relu, int N, int I,
                                     int O, int tf32, cudaStream_t s, xt_err *err) {
    const float one = 1.0f, zero = 0.0f;
    // out^T [O, N] = (W^T [I, O])^T . in^T [I, N]   (column-major views)
    XT_CUBLAS_CHECK(err, cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, O, N, I, &one, w, CUDA_R_32F,
                                      I, in, CUDA_R_32F, I, &zero, out, CUDA_R_32F, O,
                                      s_compute(tf32), CUBLAS_GEMM_DEFAULT));
    const size_t n = (size_t)N * O;
    k_bias_act<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(out, b, n, O, relu);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

// ---- backward

extern "C" int xt_cuda_dense_backward(cublasHandle_t h, float *din, float *dw, float *db,
                                      const float *dout, const float *in, const float *w,
                                      const float *ones, int N, int I, int O, int tf32,
                                      xt_err *err) {
    const float one = 1.0f, zero = 0.0f;
    // db[O] += dout^T [O, N] . ones[N]   (dout is column-major [O, N])
    XT_CUBLAS_CHECK(err, cublasSgemv(h, CUBLAS_OP_N, O, N, &one, dout, O, ones, 1, &one, db, 1));
    // dW^T [I, O] += in^T [I, N] . (dout^T [O, N])^T
    XT_CUBLAS_CHECK(err, cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_T, I, O, N, &one, in, CUDA_R_32F,
                                      I, dout, CUDA_R_32F, O, &one, dw, CUDA_R_32F, I,
                                      s_compute(tf32), CUBLAS_GEMM_DEFAULT));
    // din^T [I, N] = W^T [I, O] . dout^T [O, N]
    if (din)
        XT_CUBLAS_CHECK(err, cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, I, N, O, &one, w,
                                          CUDA_R_32F, I, dout, CUDA_R_32F, O, &zero, din,
                                          CUDA_R_32F, I, s_compute(tf32), CUBLAS_GEMM_DEFAULT));
    return 0;
}

// ---- element-wise

extern "C" int xt_cuda_relu_backward(float *dy, const float *y, size_t n, cudaStream_t s,
                                     xt_err *err) {
    k_relu_backward<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(dy, y, n);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

extern "C" int xt_cuda_add(float *y, const float *x, size_t n, cudaStream_t s, xt_err *err) {
    k_add<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(y, x, n);
    XT_CUDA_LAUNCHED(err);
    return 0;
}

extern "C" int xt_cuda_fill(float *x, float v, size_t n, cudaStream_t s, xt_err *err) {
    k_fill<<<xt_cuda_blocks(n), XT_CUDA_THREADS, 0, s>>>(x, v, n);
    XT_CUDA_LAUNCHED(err);
    return 0;
}
