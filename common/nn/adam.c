// adam.c - Adam over one parameter slab, global-norm clipping, non-finite
// checks, and the learning-rate / entropy-coefficient schedules.
//
// Purpose: the optimizer half of a PPO update (adam.h has the formulas).
// Ownership: the four slabs belong to the caller; xt_adam holds pointers.
// Threads: one update loop per slab; the schedules are pure functions.
// Invariants: an update whose gradient norm is not finite changes nothing
// (params, moments and the step counter stay as they were).
//
// The slab functions come from one implementation, adam_impl.inc, compiled
// for float (plain names) and double (_f64 suffix).
#include "adam.h"

#include <math.h>

// ---- float

#define REAL float
#define SFX(name) name
#define ADAM xt_adam
#define R_SQRT sqrtf
#include "adam_impl.inc"
#undef REAL
#undef SFX
#undef ADAM
#undef R_SQRT

// ---- double

#define REAL double
#define SFX(name) name##_f64
#define ADAM xt_adam_f64
#define R_SQRT sqrt
#include "adam_impl.inc"
#undef REAL
#undef SFX
#undef ADAM
#undef R_SQRT

// ---- schedules

double xt_sched_lr_at(const xt_sched_lr *s, int64_t step) {
    if (s->kind != XT_SCHED_LINEAR || s->total_steps <= 0) return s->lr_start;
    // fraction of the decay done, held at 1 after total_steps
    double f = step <= 0 ? 0.0 : (double)step / (double)s->total_steps;
    if (f > 1) f = 1;
    return s->lr_start + (s->lr_end - s->lr_start) * f;
}

double xt_sched_piecewise_at(const xt_sched_point *pts, int n, int64_t step) {
    // last point whose step <= the current one; the first point before it starts
    double v = pts[0].value;
    for (int i = 1; i < n && pts[i].step <= step; i++) v = pts[i].value;
    return v;
}

int xt_sched_piecewise_check(const xt_sched_point *pts, int n, const char *what, xt_err *err) {
    if (n < 1) return xt_err_set(err, XT_EINVAL, "%s: the schedule needs at least one point", what);
    for (int i = 0; i < n; i++) {
        if (!isfinite(pts[i].value))
            return xt_err_set(err, XT_EINVAL, "%s[%d]: value is not finite", what, i);
        if (i > 0 && pts[i].step <= pts[i - 1].step)
            return xt_err_set(err, XT_EINVAL, "%s[%d]: step %lld is not after %lld", what, i,
                              (long long)pts[i].step, (long long)pts[i - 1].step);
    }
    return 0;
}
