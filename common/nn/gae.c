// gae.c - generalized advantage estimation with separate termination and
// truncation (formulas and the bootstrap rules in gae.h).
//
// Invariants: values[t+1] is never read across an episode end; the recursion
// runs backwards from t = T-1 per column. No allocation, no state.
// One implementation, gae_impl.inc, compiled for float and double (_f64).
#include "gae.h"

#include <stddef.h>

// ---- float

#define REAL float
#define SFX(name) name
#include "gae_impl.inc"
#undef REAL
#undef SFX

// ---- double

#define REAL double
#define SFX(name) name##_f64
#include "gae_impl.inc"
#undef REAL
#undef SFX
