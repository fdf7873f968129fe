// rng.h - deterministic random numbers (xoshiro256** seeded by splitmix64).
//
// Every random draw in xtrade goes through an xt_rng owned by its user; there
// is no global generator. Streams for shards/envs are derived from one master
// seed with xt_rng_derive so runs are reproducible.
#ifndef XT_RNG_H
#define XT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} xt_rng;

void xt_rng_seed(xt_rng *r, uint64_t seed);
// Independent stream `stream` of master seed `seed` (hash-mixed, not sequential).
void xt_rng_derive(xt_rng *r, uint64_t seed, uint64_t stream);
uint64_t xt_rng_u64(xt_rng *r);
// Uniform in [0, 1) with 53 random bits.
double xt_rng_uniform(xt_rng *r);
// Uniform float in [0, 1) with 24 random bits.
float xt_rng_uniformf(xt_rng *r);
// Uniform integer in [0, n), n > 0 (unbiased).
uint64_t xt_rng_below(xt_rng *r, uint64_t n);
// Standard normal (Box-Muller, no cached second value so the state is the whole story).
double xt_rng_normal(xt_rng *r);

#endif
