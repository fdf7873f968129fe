// test_heads.c - masked categorical and diagonal Gaussian heads: hand-worked
// values, mask invariants, samplers, finite-difference gradient checks in
// double and float/double agreement.
//
// Gradient-check tolerance: central differences with h = 1e-6 on smooth
// functions of O(1) inputs have truncation error ~h^2 |f'''| ~ 1e-12 and
// rounding error ~1e-16 |f| / h ~ 1e-10, so analytic and numeric gradients
// agree to ~1e-9 absolute; we require |a - n| <= 1e-6 * max(1, |a|, |n|),
// three orders above the noise and far below any real bug (a wrong sign or
// a missing term changes the gradient by O(0.01..1)).
#include "testutil.h"

#include "core/rng.h"
#include "nn/heads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_H 1e-6
#define FD_TOL 1e-6

static void s_check_grad(double analytic, double numeric, const char *what, int k) {
    double scale = fmax(1.0, fmax(fabs(analytic), fabs(numeric)));
    if (fabs(analytic - numeric) > FD_TOL * scale)
        fail_msg("%s[%d]: analytic %.12g vs numeric %.12g", what, k, analytic, numeric);
}

static void s_fill(xt_rng *r, double *x, int n, double lo, double hi) {
    for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * xt_rng_uniform(r);
}

// ---- categorical: values and masks

static void t_cat_hand_values(void **state) {
    // logits ln1, ln2, ln3 -> p = 1/6, 2/6, 3/6; masking action 1 -> 1/4, 0, 3/4
    double logits[6] = {0, log(2.0), log(3.0), 0, log(2.0), log(3.0)};
    uint8_t mask[6] = {1, 1, 1, 1, 0, 1};
    int32_t act[2] = {2, 0};
    double logp[2], ent[2], probs[6];
    assert_int_equal(xt_heads_cat_forward_f64(logp, ent, probs, logits, mask, act, 2, 3), 0);
    assert_true(fabs(probs[0] - 1.0 / 6) < 1e-15 && fabs(probs[2] - 0.5) < 1e-15);
    assert_true(fabs(logp[0] - log(0.5)) < 1e-15);
    double h0 = -(1.0 / 6 * log(1.0 / 6) + 2.0 / 6 * log(2.0 / 6) + 0.5 * log(0.5));
    assert_true(fabs(ent[0] - h0) < 1e-14);
    // masked: probability exactly 0, the others renormalized
    assert_true(probs[4] == 0.0);
    assert_true(fabs(probs[3] - 0.25) < 1e-15 && fabs(probs[5] - 0.75) < 1e-15);
    assert_true(fabs(logp[1] - log(0.25)) < 1e-15);
    assert_true(fabs(ent[1] - -(0.25 * log(0.25) + 0.75 * log(0.75))) < 1e-14);
}

static void t_cat_single_legal_and_anomalies(void **state) {
    // row 0: one legal action -> p = 1, logp = 0, H = 0 (masked logit is huge)
    // row 1: empty mask -> treated as all-legal, counted
    // row 2: the taken action is masked -> logp = -inf, counted
    double logits[9] = {0.3, 50.0, -2.0, 1, 2, 3, 0, 0, 0};
    uint8_t mask[9] = {1, 0, 0, 0, 0, 0, 1, 0, 1};
    int32_t act[3] = {0, 1, 1};
    double logp[3], ent[3], probs[9];
    assert_int_equal(xt_heads_cat_forward_f64(logp, ent, probs, logits, mask, act, 3, 3), 2);
    assert_true(probs[0] == 1.0 && probs[1] == 0.0 && probs[2] == 0.0);
    assert_true(logp[0] == 0.0 && ent[0] == 0.0);
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    assert_true(fabs(logp[1] - (2.0 - log(z))) < 1e-14);
    assert_true(isinf(logp[2]) && logp[2] < 0);
    assert_true(fabs(ent[2] - log(2.0)) < 1e-15);
    // backward: with only entropy flowing, every masked logit gets exactly 0,
    // and the single-legal row gets 0 everywhere (nothing can change its p)
    double dl[9] = {0};
    double dlogp[3] = {1.0, 1.0, 0.0}, dent[3] = {1.0, 1.0, 1.0};
    xt_heads_cat_backward_f64(dl, dlogp, dent, probs, act, 3, 3);
    assert_true(dl[0] == 0.0 && dl[1] == 0.0 && dl[2] == 0.0);
    assert_true(dl[7] == 0.0);
    // an out-of-range action is an anomaly, never an out-of-bounds read
    int32_t bad_act[1] = {7};
    assert_int_equal(xt_heads_cat_forward_f64(logp, ent, probs, logits, NULL, bad_act, 1, 3), 1);
    assert_true(isinf(logp[0]));
}

// ---- categorical: gradient check

// L = sum_i w1_i logp_i + w2_i H_i
static double s_cat_objective(const double *logits, const uint8_t *mask, const int32_t *act,
                              const double *w1, const double *w2, int N, int A) {
    double logp[8], ent[8], probs[64];
    xt_heads_cat_forward_f64(logp, ent, probs, logits, mask, act, N, A);
    double l = 0;
    for (int i = 0; i < N; i++) l += w1[i] * logp[i] + w2[i] * ent[i];
    return l;
}

static void t_cat_gradcheck(void **state) {
    enum { N = 5, A = 6 };
    xt_rng r;
    xt_rng_seed(&r, 11);
    double logits[N * A], w1[N], w2[N], probs[N * A], logp[N], ent[N];
    s_fill(&r, logits, N * A, -2, 2);
    s_fill(&r, w1, N, -1, 1);
    s_fill(&r, w2, N, -1, 1);
    // rows: all legal, two masked, only one legal, alternating, last masked
    uint8_t mask[N * A] = {1, 1, 1, 1, 1, 1, /**/ 1, 0, 1, 1, 0, 1, /**/ 0, 0, 0, 1, 0, 0,
                           /**/ 1, 0, 1, 0, 1, 0, /**/ 1, 1, 1, 1, 1, 0};
    int32_t act[N] = {4, 2, 3, 0, 1};
    assert_int_equal(xt_heads_cat_forward_f64(logp, ent, probs, logits, mask, act, N, A), 0);
    double dl[N * A] = {0};
    xt_heads_cat_backward_f64(dl, w1, w2, probs, act, N, A);
    for (int k = 0; k < N * A; k++) {
        double save = logits[k];
        logits[k] = save + FD_H;
        double lp = s_cat_objective(logits, mask, act, w1, w2, N, A);
        logits[k] = save - FD_H;
        double lm = s_cat_objective(logits, mask, act, w1, w2, N, A);
        logits[k] = save;
        s_check_grad(dl[k], (lp - lm) / (2 * FD_H), "dlogits", k);
        if (!mask[k]) assert_true(dl[k] == 0.0); // masked: exactly 0, not just small
    }
    // the single-legal row's gradient is exactly zero as well
    for (int j = 0; j < A; j++) assert_true(dl[2 * A + j] == 0.0);
    // backward accumulates: a second call doubles the result
    double dl2[N * A];
    memcpy(dl2, dl, sizeof dl);
    xt_heads_cat_backward_f64(dl2, w1, w2, probs, act, N, A);
    for (int k = 0; k < N * A; k++) assert_true(fabs(dl2[k] - 2 * dl[k]) < 1e-15);
}

// ---- categorical: actor side

static void t_cat_sample(void **state) {
    // p = 1/6, 2/6, 3/6 for the unmasked row; the masked row never yields action 1
    enum { M = 6000 };
    float logits[6] = {0, logf(2.0f), logf(3.0f), 0, logf(2.0f), logf(3.0f)};
    uint8_t mask[6] = {1, 1, 1, 1, 0, 1};
    int counts[2][3] = {{0}};
    for (int k = 0; k < M; k++) {
        // a uniform grid of u values: counts match p up to one grid step
        float u[2] = {((float)k + 0.5f) / M, ((float)k + 0.5f) / M};
        int32_t a[2];
        float lp[2];
        assert_int_equal(xt_heads_cat_sample(a, lp, logits, mask, u, 2, 3), 0);
        counts[0][a[0]]++;
        counts[1][a[1]]++;
        float want0 = logf(a[0] == 0 ? 1 / 6.0f : a[0] == 1 ? 2 / 6.0f : 0.5f);
        assert_true(fabsf(lp[0] - want0) < 1e-6f);
    }
    assert_true(abs(counts[0][0] - M / 6) <= 1 && abs(counts[0][1] - M / 3) <= 1);
    assert_int_equal(counts[1][1], 0);
    assert_true(abs(counts[1][0] - M / 4) <= 1);
    // u just below 1 with the last action masked: rounding must not pick it
    float lg[3] = {0, 0, 10};
    uint8_t mk[3] = {1, 1, 0};
    float u1 = 0.99999994f;
    int32_t a;
    xt_heads_cat_sample(&a, NULL, lg, mk, &u1, 1, 3);
    assert_int_equal(a, 1);
    // u = 0 with a legal zero-probability-in-float action first: never chosen
    float lz[3] = {-200, 0, 0};
    float u0 = 0;
    xt_heads_cat_sample(&a, NULL, lz, NULL, &u0, 1, 3);
    assert_int_equal(a, 1);
}

static void t_cat_argmax(void **state) {
    // ties -> lowest index; masked maximum is skipped; logp of the choice
    float logits[9] = {1, 3, 3, 5, 1, 2, 0, 0, 0};
    uint8_t mask[9] = {1, 1, 1, 0, 1, 1, 0, 0, 0};
    int32_t a[3];
    float lp[3];
    assert_int_equal(xt_heads_cat_argmax(a, lp, logits, mask, 3, 3), 1); // row 2: empty mask
    assert_int_equal(a[0], 1);
    assert_int_equal(a[1], 2);
    assert_int_equal(a[2], 0);
    float want = 3 - logf(expf(1) + 2 * expf(3));
    assert_true(fabsf(lp[0] - want) < 1e-6f);
    assert_true(fabsf(lp[1] - (2 - logf(expf(1) + expf(2)))) < 1e-6f);
}

// ---- Gaussian

static void t_gauss_hand_values(void **state) {
    // 1-D: mu 0, sigma 1, a = 1 -> logp = -0.5 - 0.5 log 2pi, H = 0.5 + 0.5 log 2pi
    double hl = 0.5 * log(2 * M_PI);
    double mu[3] = {0, 0, 0}, ls[3] = {0, log(2.0), 10.0}, a[3] = {1, 4, 7};
    uint8_t mask[3] = {1, 1, 1};
    double lp, h;
    xt_heads_gauss_forward_f64(&lp, &h, mu, ls, a, mask, -5, 2, 1, 1);
    assert_true(fabs(lp - (-0.5 - hl)) < 1e-15 && fabs(h - (0.5 + hl)) < 1e-15);
    // 3-D with sigma 1, 2, e^2 (log_std 10 clamped to 2): z = 1, 2, 7/e^2
    xt_heads_gauss_forward_f64(&lp, &h, mu, ls, a, NULL, -5, 2, 1, 3);
    double z3 = 7 * exp(-2.0);
    double want = -0.5 * (1 + 4 + z3 * z3) - (0 + log(2.0) + 2) - 3 * hl;
    assert_true(fabs(lp - want) < 1e-13);
    assert_true(fabs(h - (1.5 + 3 * hl + log(2.0) + 2)) < 1e-13);
    // masking dim 1 gives exactly the 2-D answer over dims 0 and 2
    mask[1] = 0;
    double lp2, h2;
    xt_heads_gauss_forward_f64(&lp2, &h2, mu, ls, a, mask, -5, 2, 1, 3);
    assert_true(fabs(lp2 - (-0.5 * (1 + z3 * z3) - 2 - 2 * hl)) < 1e-13);
    assert_true(fabs(h2 - (1 + 2 * hl + 2)) < 1e-13);
}

// L = sum_i w1_i logp_i + w2_i H_i
static double s_gauss_objective(const double *mu, const double *ls, const double *a,
                                const uint8_t *mask, const double *w1, const double *w2,
                                double lo, double hi, int N, int A) {
    double lp[8], h[8];
    xt_heads_gauss_forward_f64(lp, h, mu, ls, a, mask, lo, hi, N, A);
    double l = 0;
    for (int i = 0; i < N; i++) l += w1[i] * lp[i] + w2[i] * h[i];
    return l;
}

static void t_gauss_gradcheck(void **state) {
    enum { N = 4, A = 5 };
    const double lo = -3, hi = 1;
    xt_rng r;
    xt_rng_seed(&r, 12);
    double mu[N * A], a[N * A], w1[N], w2[N];
    s_fill(&r, mu, N * A, -1, 1);
    s_fill(&r, a, N * A, -2, 2);
    s_fill(&r, w1, N, -1, 1);
    s_fill(&r, w2, N, -1, 1);
    // log-std: inside, inside, below the clamp, above the clamp, inside
    double ls[A] = {-0.5, 0.3, -4.0, 1.7, -2.2};
    uint8_t mask[N * A] = {1, 1, 1, 1, 1, /**/ 1, 0, 1, 1, 0, /**/ 0, 0, 0, 0, 1,
                           /**/ 1, 1, 0, 1, 1};
    double dmu[N * A] = {0}, dls[A] = {0};
    xt_heads_gauss_backward_f64(dmu, dls, w1, w2, mu, ls, a, mask, lo, hi, N, A);
    for (int k = 0; k < N * A; k++) {
        double save = mu[k];
        mu[k] = save + FD_H;
        double lp = s_gauss_objective(mu, ls, a, mask, w1, w2, lo, hi, N, A);
        mu[k] = save - FD_H;
        double lm = s_gauss_objective(mu, ls, a, mask, w1, w2, lo, hi, N, A);
        mu[k] = save;
        s_check_grad(dmu[k], (lp - lm) / (2 * FD_H), "dmean", k);
        if (!mask[k]) assert_true(dmu[k] == 0.0);
    }
    for (int j = 0; j < A; j++) {
        double save = ls[j];
        ls[j] = save + FD_H;
        double lp = s_gauss_objective(mu, ls, a, mask, w1, w2, lo, hi, N, A);
        ls[j] = save - FD_H;
        double lm = s_gauss_objective(mu, ls, a, mask, w1, w2, lo, hi, N, A);
        ls[j] = save;
        s_check_grad(dls[j], (lp - lm) / (2 * FD_H), "dlog_std", j);
    }
    // outside the clamp the gradient is exactly 0; inside it is not
    assert_true(dls[2] == 0.0 && dls[3] == 0.0);
    assert_true(dls[0] != 0.0 && dls[1] != 0.0 && dls[4] != 0.0);
}

static void t_gauss_sample(void **state) {
    float mu[4] = {0.5f, -1, 2, 0}, ls[2] = {0, 5}, z[4] = {1, -2, 0.5f, 3};
    uint8_t mask[4] = {1, 1, 1, 0};
    float act[4], lp[2];
    // ls_max 1 clamps sigma_1 to e
    xt_heads_gauss_sample(act, lp, mu, ls, mask, z, -5, 1, 2, 2);
    assert_true(fabsf(act[0] - 1.5f) < 1e-6f);
    assert_true(fabsf(act[1] - (-1 - 2 * expf(1))) < 1e-5f);
    assert_true(fabsf(act[2] - 2.5f) < 1e-6f);
    assert_true(act[3] == 0.0f); // masked dim: the mean, untouched by z
    // logp equals the learner's forward on the produced action
    float lpf[2], hf[2];
    xt_heads_gauss_forward(lpf, hf, mu, ls, act, mask, -5, 1, 2, 2);
    assert_true(lp[0] == lpf[0] && lp[1] == lpf[1]);
    float hl = 0.5f * logf(2 * (float)M_PI);
    assert_true(fabsf(lp[0] - (-0.5f * (1 + 4) - 1 - 2 * hl)) < 1e-5f);
    // deterministic mode: action = mean, logp at the mode
    xt_heads_gauss_sample(act, lp, mu, ls, NULL, NULL, -5, 1, 2, 2);
    for (int k = 0; k < 4; k++) assert_true(act[k] == mu[k]);
    assert_true(fabsf(lp[1] - (-1 - 2 * hl)) < 1e-6f);
}

// ---- float vs double

static void t_float_matches_double(void **state) {
    enum { N = 16, A = 7 };
    xt_rng r;
    xt_rng_seed(&r, 13);
    double ld[N * A], wd[N], w2d[N], lsd[A], ad[N * A];
    float lf[N * A], wf[N], w2f[N], lsf[A], af[N * A];
    uint8_t mask[N * A];
    int32_t act[N];
    s_fill(&r, ld, N * A, -3, 3);
    s_fill(&r, ad, N * A, -2, 2);
    s_fill(&r, wd, N, -1, 1);
    s_fill(&r, w2d, N, -1, 1);
    s_fill(&r, lsd, A, -2, 0.5);
    for (int k = 0; k < N * A; k++) mask[k] = xt_rng_uniform(&r) < 0.7;
    for (int i = 0; i < N; i++) {
        mask[i * A + i % A] = 1; // one legal action per row at least, the taken one
        act[i] = i % A;
    }
    // round the inputs to float first so both versions see the same numbers
    for (int k = 0; k < N * A; k++) lf[k] = (float)ld[k], ld[k] = lf[k];
    for (int k = 0; k < N * A; k++) af[k] = (float)ad[k], ad[k] = af[k];
    for (int i = 0; i < N; i++) wf[i] = (float)wd[i], wd[i] = wf[i];
    for (int i = 0; i < N; i++) w2f[i] = (float)w2d[i], w2d[i] = w2f[i];
    for (int j = 0; j < A; j++) lsf[j] = (float)lsd[j], lsd[j] = lsf[j];
    double lpd[N], hd[N], pd[N * A], dld[N * A] = {0};
    float lpf[N], hf[N], pf[N * A], dlf[N * A] = {0};
    xt_heads_cat_forward_f64(lpd, hd, pd, ld, mask, act, N, A);
    xt_heads_cat_forward(lpf, hf, pf, lf, mask, act, N, A);
    xt_heads_cat_backward_f64(dld, wd, w2d, pd, act, N, A);
    xt_heads_cat_backward(dlf, wf, w2f, pf, act, N, A);
    // float has 24 bits (~6e-8 relative); O(1) values through exp/log stay within 1e-5
    for (int i = 0; i < N; i++) {
        assert_true(fabs(lpd[i] - lpf[i]) < 1e-5);
        assert_true(fabs(hd[i] - hf[i]) < 1e-5);
    }
    for (int k = 0; k < N * A; k++) assert_true(fabs(dld[k] - dlf[k]) < 1e-5);
    double dmd[N * A] = {0}, dsd[A] = {0};
    float dmf[N * A] = {0}, dsf[A] = {0};
    xt_heads_gauss_forward_f64(lpd, hd, ld, lsd, ad, mask, -1.5, 0.2, N, A);
    xt_heads_gauss_forward(lpf, hf, lf, lsf, af, mask, -1.5f, 0.2f, N, A);
    xt_heads_gauss_backward_f64(dmd, dsd, wd, w2d, ld, lsd, ad, mask, -1.5, 0.2, N, A);
    xt_heads_gauss_backward(dmf, dsf, wf, w2f, lf, lsf, af, mask, -1.5f, 0.2f, N, A);
    // Gaussian log-probs reach tens (z up to ~10): compare relative to their size
    for (int i = 0; i < N; i++) {
        assert_true(fabs(lpd[i] - lpf[i]) < 1e-5 * (1 + fabs(lpd[i])));
        assert_true(fabs(hd[i] - hf[i]) < 1e-5);
    }
    for (int k = 0; k < N * A; k++) assert_true(fabs(dmd[k] - dmf[k]) < 1e-5 * (1 + fabs(dmd[k])));
    for (int j = 0; j < A; j++) assert_true(fabs(dsd[j] - dsf[j]) < 1e-5 * (1 + fabs(dsd[j])));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_cat_hand_values),
        cmocka_unit_test(t_cat_single_legal_and_anomalies),
        cmocka_unit_test(t_cat_gradcheck),
        cmocka_unit_test(t_cat_sample),
        cmocka_unit_test(t_cat_argmax),
        cmocka_unit_test(t_gauss_hand_values),
        cmocka_unit_test(t_gauss_gradcheck),
        cmocka_unit_test(t_gauss_sample),
        cmocka_unit_test(t_float_matches_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
