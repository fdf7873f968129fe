// synth_rng.c - ziggurat normal and exponential variates.
//
// The density is covered by 256 horizontal layers of equal area v: layer 0
// is the base strip (the rectangle under f up to x = r plus the tail beyond
// r), layers 1..255 are rectangles [0, x[i]] x [f(x[i]), f(x[i+1])]. A draw
// picks a layer from 8 random bits, a point z = U * x[i] inside it, and
// accepts at once when z < x[i+1] (the part of the rectangle surely under
// the curve). Otherwise the base strip samples the tail and the other layers
// test the wedge against f itself. Invariants: x[] strictly decreasing from
// x[0] to x[256] = 0, f[i] = f(x[i]) increasing, f[256] = 1.
// Ownership: tables in the caller's xt_synth_rng; read-only after init, so
// any thread may sample with its own xt_rng.
#include "synth_rng.h"

#include <math.h>

// ---- constants (r, v) for 256 layers

// Normal: r solves the equal-area condition for f(x) = exp(-x^2/2) with v the layer area.
#define S_NORM_R 3.6541528853610088
#define S_NORM_V 4.92867323399e-3
// Exponential: same for f(x) = exp(-x).
#define S_EXP_R 7.69711747013104972
#define S_EXP_V 3.9496598225815571993e-3

// ---- helpers

// Uniform in [0, 1) from the high 53 bits (low bits are used for layer and sign).
static inline double s_u53(uint64_t u) { return (double)(u >> 11) * 0x1.0p-53; }

// Uniform in (0, 1]: safe to take the log of.
static inline double s_u53_open(xt_rng *r) { return (double)((xt_rng_u64(r) >> 11) + 1) * 0x1.0p-53; }

// Normal tail beyond r (Marsaglia 1964): accept r + a with a ~ Exp(r) when 2b > a^2.
static double s_norm_tail(xt_rng *r) {
    for (;;) {
        double a = -log(s_u53_open(r)) / S_NORM_R;
        double b = -log(s_u53_open(r));
        if (2.0 * b > a * a) return S_NORM_R + a;
    }
}

// ---- public

void xt_synth_rng_init(xt_synth_rng *t) {
    const int n = XT_SYNTH_RNG_LAYERS;
    // Normal layers: x[i+1] solves f(x[i+1]) = f(x[i]) + v / x[i] (each layer has area v).
    double fr = exp(-0.5 * S_NORM_R * S_NORM_R);
    t->nx[0] = S_NORM_V / fr;
    t->nx[1] = S_NORM_R;
    for (int i = 1; i < n - 1; i++) {
        double y = exp(-0.5 * t->nx[i] * t->nx[i]) + S_NORM_V / t->nx[i];
        t->nx[i + 1] = sqrt(-2.0 * log(y));
    }
    t->nx[n] = 0.0;
    for (int i = 0; i <= n; i++) t->nf[i] = exp(-0.5 * t->nx[i] * t->nx[i]);
    // Exponential layers: f(x[i+1]) = f(x[i]) + v / x[i].
    t->ex[0] = S_EXP_V / exp(-S_EXP_R);
    t->ex[1] = S_EXP_R;
    for (int i = 1; i < n - 1; i++) t->ex[i + 1] = -log(exp(-t->ex[i]) + S_EXP_V / t->ex[i]);
    t->ex[n] = 0.0;
    for (int i = 0; i <= n; i++) t->ef[i] = exp(-t->ex[i]);
}

double xt_synth_rng_normal(const xt_synth_rng *t, xt_rng *r) {
    for (;;) {
        uint64_t u = xt_rng_u64(r);
        int i = (int)(u & 0xff);           // layer
        double sign = (u & 0x100) ? -1.0 : 1.0;
        double z = s_u53(u) * t->nx[i];     // point inside the layer's rectangle
        if (z < t->nx[i + 1]) return sign * z; // fast path: surely under the curve
        if (i == 0) return sign * s_norm_tail(r);
        // Wedge: accept when a uniform height lands under exp(-z^2/2).
        double y = t->nf[i] + s_u53(xt_rng_u64(r)) * (t->nf[i + 1] - t->nf[i]);
        if (y < exp(-0.5 * z * z)) return sign * z;
    }
}

void xt_synth_rng_normals(const xt_synth_rng *t, xt_rng *r, double *out, int64_t n) {
    for (int64_t k = 0; k < n; k++) out[k] = xt_synth_rng_normal(t, r);
}

double xt_synth_rng_exponential(const xt_synth_rng *t, xt_rng *r) {
    double base = 0.0; // the tail is memoryless: past r, restart and add r
    for (;;) {
        uint64_t u = xt_rng_u64(r);
        int i = (int)(u & 0xff);
        double z = s_u53(u) * t->ex[i];
        if (z < t->ex[i + 1]) return base + z;
        if (i == 0) {
            base += S_EXP_R;
            continue;
        }
        double y = t->ef[i] + s_u53(xt_rng_u64(r)) * (t->ef[i + 1] - t->ef[i]);
        if (y < exp(-z)) return base + z;
    }
}
