// heads.c - masked categorical and diagonal Gaussian action heads.
//
// Purpose: log-prob, entropy and their gradients for the learner; sampling and
// the deterministic mode for actors (heads.h has the formulas).
// Invariants: masked categorical entries have probability exactly 0 and get
// gradient exactly 0; masked Gaussian dims never enter a sum. Backward only
// accumulates (+=). No allocation, no state: safe from any thread on
// disjoint outputs.
//
// One implementation, heads_impl.inc, is compiled twice: REAL = float with
// plain names and REAL = double with the _f64 suffix. The math macros pick
// the float or double libm function so the float build never silently
// computes in double (and the double build never in float).
#include "heads.h"

#include <math.h>
#include <stddef.h>

// 0.5 * log(2 pi)
#define XT_HALF_LOG_2PI 0.91893853320467274178

// ---- float

#define REAL float
#define SFX(name) name
#define R_EXP expf
#define R_LOG logf
#include "heads_impl.inc"
#undef REAL
#undef SFX
#undef R_EXP
#undef R_LOG

// ---- double

#define REAL double
#define SFX(name) name##_f64
#define R_EXP exp
#define R_LOG log
#include "heads_impl.inc"
#undef REAL
#undef SFX
#undef R_EXP
#undef R_LOG
