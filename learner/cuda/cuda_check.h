// cuda_check.h - checked calls into CUDA, cuBLAS, cuDNN and NCCL, and the
// launch constants shared by the kernels of learner/cuda.
//
//   XT_CUDA_CHECK(err, cudaMemcpyAsync(...));
//
// On failure the macro fills err (XT_EDEVICE) with one sentence naming the
// source file and line, the enclosing function, the statement text and the
// library's status name, then returns XT_EDEVICE from the enclosing function
// (which must return int):
//
//   learner/cuda/rnn.cu:212: xt_cuda_rnn_forward: cudnnRNNForward(...) failed:
//   CUDNN_STATUS_BAD_PARAM (detail from cudnnGetLastErrorString)
//
// Each macro needs its library's header included first (cuda_runtime.h is
// included here; cublas_v2.h, cudnn.h, nccl.h by the files that use them).
#ifndef XT_CUDA_CHECK_H
#define XT_CUDA_CHECK_H

#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

// Threads per block of the element-wise kernels, and the fixed grid of the
// two-pass reductions (a fixed grid and a fixed order make every sum
// deterministic; no kernel of this backend uses atomics).
#define XT_CUDA_THREADS 256
#define XT_RED_BLOCKS 120
#define XT_RED_THREADS 256

// Blocks for n elements at XT_CUDA_THREADS per block (one element per
// thread), at least 1. Slabs and activations stay far below 2^31 blocks.
static inline unsigned xt_cuda_blocks(size_t n) {
    size_t b = (n + XT_CUDA_THREADS - 1) / XT_CUDA_THREADS;
    return (unsigned)(b ? b : 1);
}

// Fills err with the sentence above and returns XT_EDEVICE. detail may be
// NULL or empty.
int xt_cuda_fail(xt_err *err, const char *lib, int status, const char *status_name,
                 const char *detail, const char *stmt, const char *func, const char *file,
                 int line);

#ifdef __cplusplus
}
#endif

#define XT_CUDA_CHECK(err, stmt)                                                                \
    do {                                                                                        \
        cudaError_t xt_ce_ = (stmt);                                                            \
        if (xt_ce_ != cudaSuccess)                                                              \
            return xt_cuda_fail((err), "CUDA", (int)xt_ce_, cudaGetErrorName(xt_ce_),           \
                                cudaGetErrorString(xt_ce_), #stmt, __func__, __FILE__, __LINE__); \
    } while (0)

// After a group of kernel launches: a bad launch configuration shows here.
#define XT_CUDA_LAUNCHED(err) XT_CUDA_CHECK(err, cudaPeekAtLastError())

#define XT_CUBLAS_CHECK(err, stmt)                                                           \
    do {                                                                                     \
        cublasStatus_t xt_bs_ = (stmt);                                                      \
        if (xt_bs_ != CUBLAS_STATUS_SUCCESS)                                                 \
            return xt_cuda_fail((err), "cuBLAS", (int)xt_bs_, cublasGetStatusName(xt_bs_),   \
                                cublasGetStatusString(xt_bs_), #stmt, __func__, __FILE__,    \
                                __LINE__);                                                   \
    } while (0)

#define XT_CUDNN_CHECK(err, stmt)                                                              \
    do {                                                                                       \
        cudnnStatus_t xt_ds_ = (stmt);                                                         \
        if (xt_ds_ != CUDNN_STATUS_SUCCESS) {                                                  \
            char xt_dd_[256] = "";                                                             \
            cudnnGetLastErrorString(xt_dd_, sizeof xt_dd_);                                    \
            return xt_cuda_fail((err), "cuDNN", (int)xt_ds_, cudnnGetErrorString(xt_ds_),      \
                                xt_dd_, #stmt, __func__, __FILE__, __LINE__);                  \
        }                                                                                      \
    } while (0)

#define XT_NCCL_CHECK(err, stmt)                                                               \
    do {                                                                                       \
        ncclResult_t xt_nr_ = (stmt);                                                          \
        if (xt_nr_ != ncclSuccess && xt_nr_ != ncclInProgress)                                 \
            return xt_cuda_fail((err), "NCCL", (int)xt_nr_, ncclGetErrorString(xt_nr_),        \
                                NULL, #stmt, __func__, __FILE__, __LINE__);                    \
    } while (0)

#endif
