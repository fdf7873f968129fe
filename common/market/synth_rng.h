// synth_rng.h - fast normal and exponential variates for the synthetic market.
//
// A 256-layer ziggurat (Marsaglia & Tsang's construction, written from the
// paper's description) drawing from a caller-owned xt_rng. The tables live in
// an xt_synth_rng the caller initialises once (about 4 KiB); sampling never
// allocates and only reads the tables, so one table set may be shared by any
// number of threads, each with its own xt_rng. Results are deterministic for
// a given xt_rng state on a given libm (the rare tail/wedge paths call
// exp/log).
#ifndef XT_SYNTH_RNG_H
#define XT_SYNTH_RNG_H

#include "core/rng.h"

#include <stdint.h>

#define XT_SYNTH_RNG_LAYERS 256

typedef struct {
    // Normal: layer edges x[0] > x[1] = r > ... > x[256] = 0, f[i] = exp(-x[i]^2/2).
    double nx[XT_SYNTH_RNG_LAYERS + 1], nf[XT_SYNTH_RNG_LAYERS + 1];
    // Exponential: same layout for exp(-x).
    double ex[XT_SYNTH_RNG_LAYERS + 1], ef[XT_SYNTH_RNG_LAYERS + 1];
} xt_synth_rng;

// Builds both table sets (a few hundred log/exp calls).
void xt_synth_rng_init(xt_synth_rng *t);
// One standard normal variate (about 99% of draws cost one xt_rng_u64 and a multiply).
double xt_synth_rng_normal(const xt_synth_rng *t, xt_rng *r);
// n standard normals into out[n].
void xt_synth_rng_normals(const xt_synth_rng *t, xt_rng *r, double *out, int64_t n);
// One Exp(1) variate (mean 1).
double xt_synth_rng_exponential(const xt_synth_rng *t, xt_rng *r);

#endif
