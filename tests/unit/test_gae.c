// test_gae.c - GAE: a hand-worked 5-step example with a termination and a
// truncation, the no-trunc-value fallback, both flags at once, a naive
// reference on random data, the lambda = 1 discounted-return identity and
// float/double agreement.
#include "testutil.h"

#include "core/rng.h"
#include "nn/gae.h"

#include <math.h>

// ---- hand-worked example

// Column 1 of a B = 2 batch (column 0 is noise, so time-major indexing is
// exercised). gamma 0.9, lambda 0.8 (gamma lambda = 0.72):
//   r = 1 2 3 4 5, V = 0.5 1.0 1.5 2.0 2.5 | 3.0, terminated at t=1,
//   truncated at t=3 with the final observation worth 10.
//   t=4: delta = 5 + 0.9*3.0 - 2.5 = 5.2                 A = 5.2
//   t=3: delta = 4 + 0.9*10  - 2.0 = 11.0 (trunc value)  A = 11.0 (cut)
//   t=2: delta = 3 + 0.9*2.0 - 1.5 = 3.3                 A = 3.3 + 0.72*11 = 11.22
//   t=1: delta = 2 + 0        - 1.0 = 1.0 (terminated)   A = 1.0 (cut)
//   t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4                 A = 1.4 + 0.72*1 = 2.12
static const double s_rew[10] = {9, 1, -3, 2, 7, 3, 0.5, 4, -1, 5};
static const double s_val[12] = {0.1, 0.5, 0.2, 1.0, -0.3, 1.5, 0.8, 2.0, 0.4, 2.5, 0.9, 3.0};
static const uint8_t s_term[10] = {0, 0, 1, 1, 1, 0, 0, 0, 0, 0};
static const uint8_t s_trunc[10] = {0, 0, 0, 0, 1, 0, 0, 1, 0, 0};
// only read where truncated: 999 elsewhere proves nothing else is read
static const double s_tv[10] = {999, 999, 999, 999, -2, 999, 999, 10, 999, 999};

static void t_hand_worked(void **state) {
    double adv[10], ret[10];
    xt_gae_compute_f64(adv, ret, s_rew, s_val, s_term, s_trunc, s_tv, 0.9, 0.8, 5, 2);
    const double want[5] = {2.12, 1.0, 11.22, 11.0, 5.2};
    for (int t = 0; t < 5; t++) {
        assert_true(fabs(adv[t * 2 + 1] - want[t]) < 1e-12);
        assert_true(fabs(ret[t * 2 + 1] - (want[t] + s_val[t * 2 + 1])) < 1e-12);
    }
    // column 0 (index t * 2): terminated at t=1, and at t=2 both flags are set:
    // terminated wins (no bootstrap, the trunc value -2 is not used)
    double a4 = s_rew[8] + 0.9 * s_val[10] - s_val[8];
    double a3 = s_rew[6] + 0.9 * s_val[8] - s_val[6] + 0.72 * a4;
    double a2 = s_rew[4] - s_val[4]; // terminated and truncated: terminated wins
    double a1 = s_rew[2] - s_val[2]; // terminated
    double a0 = s_rew[0] + 0.9 * s_val[2] - s_val[0] + 0.72 * a1;
    const double want0[5] = {a0, a1, a2, a3, a4};
    for (int t = 0; t < 5; t++) assert_true(fabs(adv[t * 2] - want0[t]) < 1e-12);
}

static void t_no_trunc_values(void **state) {
    // without trunc values the truncated step bootstraps with its own value:
    //   t=3: delta = 4 + 0.9*2.0 - 2.0 = 3.8, A = 3.8; t=2: 3.3 + 0.72*3.8 = 6.036
    double adv[10], ret[10];
    xt_gae_compute_f64(adv, ret, s_rew, s_val, s_term, s_trunc, NULL, 0.9, 0.8, 5, 2);
    const double want[5] = {2.12, 1.0, 6.036, 3.8, 5.2};
    for (int t = 0; t < 5; t++) assert_true(fabs(adv[t * 2 + 1] - want[t]) < 1e-12);
    // and with no truncation array at all, step 3 is an ordinary step:
    //   t=3: 4 + 0.9*2.5 - 2.0 = 4.25 + 0.72*5.2 = 7.994
    xt_gae_compute_f64(adv, ret, s_rew, s_val, s_term, NULL, NULL, 0.9, 0.8, 5, 2);
    assert_true(fabs(adv[3 * 2 + 1] - 7.994) < 1e-12);
}

// ---- naive reference

// A_t = sum_{k=t}^{e} (gamma lambda)^(k-t) delta_k, e = first end at or after t (or T-1)
static void s_reference(double *adv, const double *r, const double *v, const uint8_t *term,
                        const uint8_t *trunc, const double *tv, double g, double l, int T, int B) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            double sum = 0, w = 1;
            for (int k = t; k < T; k++) {
                int i = k * B + b;
                double vn = term[i] ? 0 : trunc[i] ? tv[i] : v[i + B];
                sum += w * (r[i] + g * vn - v[i]);
                if (term[i] || trunc[i]) break;
                w *= g * l;
            }
            adv[t * B + b] = sum;
        }
    }
}

static void t_random_vs_reference(void **state) {
    enum { T = 64, B = 8 };
    xt_rng rng;
    xt_rng_seed(&rng, 31);
    static double r[T * B], v[(T + 1) * B], tv[T * B], adv[T * B], ret[T * B], ref[T * B];
    static uint8_t term[T * B], trunc[T * B];
    int ends = 0;
    for (int i = 0; i < T * B; i++) {
        r[i] = xt_rng_normal(&rng);
        tv[i] = xt_rng_normal(&rng);
        term[i] = xt_rng_uniform(&rng) < 0.04;
        trunc[i] = !term[i] && xt_rng_uniform(&rng) < 0.04;
        ends += term[i] + trunc[i];
    }
    for (int i = 0; i < (T + 1) * B; i++) v[i] = xt_rng_normal(&rng);
    assert_true(ends > 10);
    xt_gae_compute_f64(adv, ret, r, v, term, trunc, tv, 0.99, 0.95, T, B);
    s_reference(ref, r, v, term, trunc, tv, 0.99, 0.95, T, B);
    for (int i = 0; i < T * B; i++) {
        assert_true(fabs(adv[i] - ref[i]) < 1e-10);
        assert_true(fabs(ret[i] - (adv[i] + v[i])) < 1e-12);
    }
    // float version: O(10) sums of O(1) terms, float rounding ~1e-6 relative
    static float rf[T * B], vf[(T + 1) * B], tvf[T * B], af[T * B], retf[T * B];
    for (int i = 0; i < T * B; i++) rf[i] = (float)r[i], tvf[i] = (float)tv[i];
    for (int i = 0; i < (T + 1) * B; i++) vf[i] = (float)v[i];
    xt_gae_compute(af, retf, rf, vf, term, trunc, tvf, 0.99f, 0.95f, T, B);
    for (int i = 0; i < T * B; i++) assert_true(fabs(af[i] - adv[i]) < 1e-4 * (1 + fabs(adv[i])));
}

static void t_lambda_one_is_discounted_return(void **state) {
    // no episode end, lambda 1: ret_0 = sum gamma^k r_k + gamma^T V_T
    enum { T = 20 };
    double r[T], v[T + 1], adv[T], ret[T];
    uint8_t none[T] = {0};
    xt_rng rng;
    xt_rng_seed(&rng, 32);
    for (int t = 0; t < T; t++) r[t] = xt_rng_normal(&rng);
    for (int t = 0; t <= T; t++) v[t] = xt_rng_normal(&rng);
    xt_gae_compute_f64(adv, ret, r, v, none, none, NULL, 0.97, 1.0, T, 1);
    double g = 0, w = 1;
    for (int t = 0; t < T; t++) g += w * r[t], w *= 0.97;
    g += w * v[T];
    assert_true(fabs(ret[0] - g) < 1e-12);
    // lambda 0: one-step TD
    xt_gae_compute_f64(adv, ret, r, v, none, none, NULL, 0.97, 0.0, T, 1);
    for (int t = 0; t < T; t++) assert_true(fabs(adv[t] - (r[t] + 0.97 * v[t + 1] - v[t])) < 1e-14);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hand_worked),
        cmocka_unit_test(t_no_trunc_values),
        cmocka_unit_test(t_random_vs_reference),
        cmocka_unit_test(t_lambda_one_is_discounted_return),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
