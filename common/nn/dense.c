// dense.c - fully connected layer + ReLU (CPU, OpenBLAS).
//
// Purpose: the MLP and head layers of the actor-critic (see dense.h), and
// the matrix products of few rows that they and the LSTM's recurrent steps
// use (xt_nn_gemm_nt / _nn: vector loops up to XT_NN_SMALL_M rows, BLAS
// above). One product each for the forward, dW and din; bias and ReLU are
// vector loops. The algorithm is in dense_impl.inc, compiled for float and
// double.
//
// Invariants: backward only adds into dw / db; din is written. Ownership:
// callers own every buffer. Threads: reentrant.
#include "nn/dense.h"

#include <cblas.h>
// OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would replace our
// input-width parameter I.
#undef I
#include <stddef.h>
#include <string.h>

// ---- float instance

#define REAL float
#define SFX(name) name
#define GEMM cblas_sgemm
#include "nn/dense_impl.inc"
#undef REAL
#undef SFX
#undef GEMM

// ---- double instance

#define REAL double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#include "nn/dense_impl.inc"
