// ppo_loss.c - clipped-surrogate PPO loss, its per-sample gradients,
// advantage normalization and explained variance (formulas in ppo_loss.h).
//
// Invariants: padding samples (valid == 0) never enter a mean and get zero
// gradient; statistics are accumulated in double in both precisions; a
// non-finite input on a valid sample makes stats->loss NaN so the learner's
// "skip non-finite updates" rule sees it. No allocation, no state.
//
// One implementation, ppo_loss_impl.inc, compiled for float (plain names)
// and double (_f64 suffix).
#include "ppo_loss.h"

#include <math.h>
#include <stddef.h>

// ---- float

#define REAL float
#define SFX(name) name
#define R_EXP expf
#include "ppo_loss_impl.inc"
#undef REAL
#undef SFX
#undef R_EXP

// ---- double

#define REAL double
#define SFX(name) name##_f64
#define R_EXP exp
#include "ppo_loss_impl.inc"
#undef REAL
#undef SFX
#undef R_EXP
