// adam.c - Adam over one parameter slab, global-norm clipping, non-finite
// checks, and the learning-rate / entropy-coefficient schedules.
//
// Purpose: the optimizer half of a PPO update (adam.h has the formulas).
// Ownership: the four slabs belong to the caller; xt_adam holds pointers.
// Threads: xt_adam_update is one pass by one thread; xt_adam_sumsq and
// xt_adam_pass_run work on index ranges, so a caller may split one slab
// across threads (disjoint ranges, partial sums added in a fixed order).
// The schedules are pure functions.
// Invariants: an update whose gradient norm is not finite changes nothing
// (params, moments and the step counter stay as they were).
//
// The slab functions come from one implementation, adam_impl.inc, compiled
// for float (plain names) and double (_f64 suffix).
#include "adam.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// ---- vectors (GCC/Clang extensions; a plain -O2 SSE2 build vectorizes)

typedef float s_v4f __attribute__((vector_size(16)));
typedef double s_v2d __attribute__((vector_size(16)));
typedef double s_v4d __attribute__((vector_size(32)));

// Lane-wise square roots, correctly rounded as sqrtf / sqrt (the loop
// vectorizer will not turn sqrtf into sqrtps while errno may be set).
static inline s_v4f s_vsqrt_f32(s_v4f x) {
#if defined(__SSE2__)
    return (s_v4f)_mm_sqrt_ps((__m128)x);
#else
    for (int l = 0; l < 4; l++) x[l] = sqrtf(x[l]);
    return x;
#endif
}

static inline s_v2d s_vsqrt_f64(s_v2d x) {
#if defined(__SSE2__)
    return (s_v2d)_mm_sqrt_pd((__m128d)x);
#else
    for (int l = 0; l < 2; l++) x[l] = sqrt(x[l]);
    return x;
#endif
}

// ---- precision independent

double xt_adam_clip_coef(double norm, double max_norm) {
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when < 1
    if (max_norm <= 0) return 1.0;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1 ? coef : 1.0;
}

void xt_adam_pass_init(xt_adam_pass *ps, const xt_adam_hparams *hp, double lr, int64_t t,
                       double clip, int zero_grads) {
    // bias corrections for step t, in double (b2^t needs the precision)
    double bc1 = 1.0 - pow(hp->beta1, (double)t), bc2 = 1.0 - pow(hp->beta2, (double)t);
    ps->b1 = hp->beta1, ps->b2 = hp->beta2;
    ps->c1 = 1.0 - hp->beta1, ps->c2 = 1.0 - hp->beta2;
    ps->step_size = lr / bc1, ps->isqrt_bc2 = 1.0 / sqrt(bc2);
    ps->eps = hp->eps, ps->decay = 1.0 - lr * hp->weight_decay;
    ps->clip = clip;
    ps->zero_grads = zero_grads;
}

// ---- float

#define REAL float
#define SFX(name) name
#define ADAM xt_adam
#define R_SQRT sqrtf
#define VREAL s_v4f
#define VW 4
#define VSQRT s_vsqrt_f32
typedef s_v4d s_wide; // VREAL's lanes in double
#include "adam_impl.inc"
#undef REAL
#undef SFX
#undef ADAM
#undef R_SQRT
#undef VREAL
#undef VW
#undef VSQRT

// ---- double

#define REAL double
#define SFX(name) name##_f64
#define ADAM xt_adam_f64
#define R_SQRT sqrt
#define VREAL s_v2d
#define VW 2
#define VSQRT s_vsqrt_f64
typedef s_v2d s_wide_f64;
#include "adam_impl.inc"
#undef REAL
#undef SFX
#undef ADAM
#undef R_SQRT
#undef VREAL
#undef VW
#undef VSQRT

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
