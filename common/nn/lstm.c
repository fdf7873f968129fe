// lstm.c - LSTM layer forward and backward through time (CPU, OpenBLAS).
//
// Purpose: the reference LSTM of the actor-critic (see lstm.h for the math,
// the weight layout and the reset semantics). The algorithm lives once in
// lstm_impl.inc, compiled here twice: REAL = float (the training and
// inference path) and REAL = double (finite-difference gradient checks).
//
// Shape of the work (N = T * B rows, G = 4H gate columns):
//   forward:  1 GEMM  [N, I] x W_ih^T            input projection, all steps
//             T GEMMs [B, H] x W_hh^T            recurrence, one per step
//   backward: T GEMMs [B, G] x W_hh              dh_{t-1}, one per step
//             3 GEMMs dW_ih, dW_hh, din over all N rows at once
// The per-step products go through xt_nn_gemm_nt / _nn (dense.h): for
// B <= XT_NN_SMALL_M they are vector loops that read W_hh once, with no
// BLAS dispatch or packing (a B = 1 step is ~5x faster than sgemm).
// The elementwise cell work runs on 16-byte vectors (GCC/Clang vector
// extensions, so plain -O2 SSE2 builds are vectorised). float uses a
// polynomial exp (rel. error ~1e-7); double uses libm exp/tanh per lane.
//
// Ownership: callers own every buffer; nothing allocates. Threads: the
// functions are reentrant; BLAS threading is whatever the caller set.
#include "nn/lstm.h"

#include "nn/dense.h"

#include <cblas.h>
// OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would replace our
// input-width parameter I.
#undef I
#include <math.h>
#include <stdint.h>
#include <string.h>

// ---- vector primitives

typedef float s_v4f __attribute__((vector_size(16)));
typedef int32_t s_v4i __attribute__((vector_size(16)));
typedef double s_v2d __attribute__((vector_size(16)));

// exp on 4 floats: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial
// (Cephes-style minimax coefficients), 2^n by building the exponent bits.
static inline s_v4f s_vexp_f32(s_v4f x) {
    const s_v4f lo = {-87.0f, -87.0f, -87.0f, -87.0f}, hi = {88.0f, 88.0f, 88.0f, 88.0f};
    s_v4i m = x < lo;
    x = (s_v4f)(((s_v4i)x & ~m) | ((s_v4i)lo & m));
    m = x > hi;
    x = (s_v4f)(((s_v4i)x & ~m) | ((s_v4i)hi & m));
    // round(x / ln2) with the 1.5 * 2^23 trick (valid for |x / ln2| < 2^22)
    s_v4f n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    s_v4f r = x - n * 0.693359375f + n * 2.12194440e-4f;
    s_v4f p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    s_v4i e = (__builtin_convertvector(n, s_v4i) + 127) << 23;
    return p * (s_v4f)e;
}

static inline s_v4f s_vsig_f32(s_v4f x) {
    return 1.0f / (1.0f + s_vexp_f32(-x));
}

// tanh(x) = (1 - e^{-2x}) / (1 + e^{-2x}); the clamp in exp keeps it finite.
static inline s_v4f s_vtanh_f32(s_v4f x) {
    s_v4f e = s_vexp_f32(-2.0f * x);
    return (1.0f - e) / (1.0f + e);
}

static inline s_v2d s_vsig_f64(s_v2d x) {
    for (int k = 0; k < 2; k++)
        x[k] = 1.0 / (1.0 + exp(-x[k]));
    return x;
}

static inline s_v2d s_vtanh_f64(s_v2d x) {
    for (int k = 0; k < 2; k++)
        x[k] = tanh(x[k]);
    return x;
}

// ---- float instance

#define REAL float
#define VREAL s_v4f
#define VW 4
#define SFX(name) name
#define GEMM cblas_sgemm
#define VSIG s_vsig_f32
#define VTANH s_vtanh_f32
#include "nn/lstm_impl.inc"
#undef REAL
#undef VREAL
#undef VW
#undef SFX
#undef GEMM
#undef VSIG
#undef VTANH

// ---- double instance

#define REAL double
#define VREAL s_v2d
#define VW 2
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#define VSIG s_vsig_f64
#define VTANH s_vtanh_f64
#include "nn/lstm_impl.inc"

// ---- sizes (type independent)

size_t xt_lstm_cache_size(int B, int T, int H) {
    // gates 4H + hprev, cprev, tc 3H per (t, b), plus c_last [B, H]
    return (size_t)T * B * 7 * H + (size_t)B * H;
}

size_t xt_lstm_scratch_size(int B, int T, int H) {
    // dgates [T, B, 4H] plus the dh, dc carries [B, H]
    return (size_t)T * B * 4 * H + 2 * (size_t)B * H;
}
