// rng.c - xoshiro256** (Blackman & Vigna) with splitmix64 seeding.
// The state is the struct; no hidden globals, so a copied xt_rng replays.
#include "rng.h"

#include <math.h>

static uint64_t s_splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t s_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void xt_rng_seed(xt_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = s_splitmix(&x);
}

void xt_rng_derive(xt_rng *r, uint64_t seed, uint64_t stream) {
    // Mix the stream id through splitmix so streams 0,1,2.. land far apart.
    uint64_t x = stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL;
    uint64_t m = s_splitmix(&x) ^ seed;
    xt_rng_seed(r, m);
}

uint64_t xt_rng_u64(xt_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

double xt_rng_uniform(xt_rng *r) { return (double)(xt_rng_u64(r) >> 11) * 0x1.0p-53; }

float xt_rng_uniformf(xt_rng *r) { return (float)(xt_rng_u64(r) >> 40) * 0x1.0p-24f; }

uint64_t xt_rng_below(xt_rng *r, uint64_t n) {
    // Lemire-style rejection: reject the low partial bucket.
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = xt_rng_u64(r);
        if (x >= threshold) return x % n;
    }
}

double xt_rng_normal(xt_rng *r) {
    double u1 = xt_rng_uniform(r), u2 = xt_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
