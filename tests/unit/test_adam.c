// test_adam.c - Adam against hand-computed steps, decoupled weight decay,
// global-norm clipping, non-finite refusal, float/double agreement, and the
// learning-rate and entropy schedules at their boundaries.
#include "testutil.h"

#include "nn/adam.h"

#include <math.h>
#include <string.h>

// ---- Adam steps

static void t_two_steps_by_hand(void **state) {
    // p = 1, g1 = 0.5, g2 = -0.25, lr 0.1, betas 0.9/0.999, eps 1e-8
    // step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25
    //         p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
    // step 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225
    //         mhat = 0.02 / 0.19 = 0.1052631579, vhat = 0.00031225 / 0.001999 = 0.1562031016
    //         p = 0.900000002 - 0.1 * 0.1052631579 / (0.3952253806 + 1e-8) = 0.8733662987
    double p = 1, g = 0.5, m, v;
    xt_adam_f64 a;
    xt_adam_init_f64(&a, &p, &g, &m, &v, 1);
    xt_adam_hparams hp = {0.9, 0.999, 1e-8, 0.0};
    xt_adam_step_f64(&a, &hp, 0.1);
    assert_true(fabs(m - 0.05) < 1e-16 && fabs(v - 0.00025) < 1e-18);
    assert_true(fabs(p - 0.900000002) < 1e-15);
    assert_int_equal(a.step, 1);
    g = -0.25;
    xt_adam_step_f64(&a, &hp, 0.1);
    assert_true(fabs(m - 0.02) < 1e-16 && fabs(v - 0.00031225) < 1e-18);
    assert_true(fabs(p - 0.8733662987078463) < 1e-14);
    assert_int_equal(a.step, 2);
    // float twin: same two steps within float rounding
    float pf = 1, gf = 0.5f, mf, vf;
    xt_adam af;
    xt_adam_init(&af, &pf, &gf, &mf, &vf, 1);
    xt_adam_step(&af, &hp, 0.1);
    gf = -0.25f;
    xt_adam_step(&af, &hp, 0.1);
    assert_true(fabsf(pf - 0.8733663f) < 1e-6f);
}

static void t_defaults_and_weight_decay(void **state) {
    xt_adam_hparams d = XT_ADAM_HPARAMS_DEFAULT;
    assert_true(d.beta1 == 0.9 && d.beta2 == 0.999 && d.eps == 1e-5 && d.weight_decay == 0);
    // zero gradient, wd 0.1, lr 0.5: the Adam term is 0 / (0 + eps) = 0 and
    // decoupled decay alone gives p (1 - 0.05) each step
    double p[2] = {2, -4}, g[2] = {0, 0}, m[2] = {7, 7}, v[2] = {7, 7};
    xt_adam_f64 a;
    xt_adam_init_f64(&a, p, g, m, v, 2);
    assert_true(m[0] == 0 && v[1] == 0); // init zeroes the moments
    xt_adam_hparams hp = {0.9, 0.999, 1e-5, 0.1};
    xt_adam_step_f64(&a, &hp, 0.5);
    xt_adam_step_f64(&a, &hp, 0.5);
    assert_true(fabs(p[0] - 2 * 0.95 * 0.95) < 1e-15 && fabs(p[1] + 4 * 0.95 * 0.95) < 1e-15);
    // zero_grad
    g[0] = 3;
    xt_adam_zero_grad_f64(&a);
    assert_true(g[0] == 0 && g[1] == 0);
}

// ---- norm and clipping

static void t_clip(void **state) {
    float g[3] = {3, 0, 4};
    assert_true(xt_adam_grad_norm(g, 3) == 5.0);
    double norm;
    // above max: scaled by 0.5 / (5 + 1e-6); the returned norm is pre-clip
    assert_int_equal(xt_adam_clip_grads(&norm, g, 3, 0.5), 0);
    assert_true(norm == 5.0);
    double c = 0.5 / (5 + 1e-6);
    assert_true(fabsf(g[0] - (float)(3 * c)) < 1e-7f && fabsf(g[2] - (float)(4 * c)) < 1e-7f);
    assert_true(fabs(xt_adam_grad_norm(g, 3) - 0.5) < 1e-6);
    // below max: untouched; max_norm 0: clipping off
    float h[2] = {0.3f, 0.3f};
    assert_int_equal(xt_adam_clip_grads(&norm, h, 2, 0.5), 0);
    assert_true(h[0] == 0.3f && h[1] == 0.3f);
    // exactly at max, torch still scales by max / (max + 1e-6), a 2e-6 shrink
    float e[2] = {0.3f, 0.4f};
    assert_int_equal(xt_adam_clip_grads(&norm, e, 2, 0.5), 0);
    assert_true(e[1] < 0.4f && e[1] > 0.4f * (1 - 3e-6f));
    float k[2] = {30, 40};
    assert_int_equal(xt_adam_clip_grads(&norm, k, 2, 0), 0);
    assert_true(k[0] == 30 && norm == 50);
    // double accumulation: 1e6 entries of 1e-3 in float sum to exactly 1 squared
    static float many[1000000];
    for (int i = 0; i < 1000000; i++) many[i] = 1e-3f;
    assert_true(fabs(xt_adam_grad_norm(many, 1000000) - 1.0) < 1e-6);
}

static void t_nonfinite_refused(void **state) {
    float p[3] = {1, 2, 3}, g[3] = {0.1f, NAN, 0.2f}, m[3], v[3];
    xt_adam a;
    xt_adam_init(&a, p, g, m, v, 3);
    xt_adam_hparams hp = XT_ADAM_HPARAMS_DEFAULT;
    double norm;
    assert_int_equal(xt_adam_update(&a, &hp, 1e-3, 0.5, &norm), XT_ENUMERIC);
    assert_true(isnan(norm));
    // nothing changed: params, moments, gradients, step counter
    assert_true(p[0] == 1 && p[1] == 2 && p[2] == 3);
    assert_true(m[0] == 0 && v[2] == 0 && g[0] == 0.1f && a.step == 0);
    g[1] = INFINITY;
    assert_int_equal(xt_adam_clip_grads(&norm, g, 3, 0.5), XT_ENUMERIC);
    assert_true(isinf(norm) && g[0] == 0.1f);
    assert_int_equal(xt_adam_first_nonfinite(g, 3), 1);
    g[1] = 0.3f;
    assert_int_equal(xt_adam_first_nonfinite(g, 3), -1);
    // a finite update clips and steps
    assert_int_equal(xt_adam_update(&a, &hp, 1e-3, 0.5, &norm), 0);
    assert_true(fabs(norm - sqrt(0.01 + 0.09 + 0.04)) < 1e-6 && a.step == 1);
    assert_true(p[0] < 1 && p[1] < 2 && p[2] < 3); // each moved against its positive gradient
}

static void t_float_matches_double(void **state) {
    enum { N = 64 };
    float pf[N], gf[N], mf[N], vf[N];
    double pd[N], gd[N], md[N], vd[N];
    xt_adam af;
    xt_adam_f64 ad;
    xt_adam_init(&af, pf, gf, mf, vf, N);
    xt_adam_init_f64(&ad, pd, gd, md, vd, N);
    for (int i = 0; i < N; i++) pf[i] = (float)(pd[i] = sin(i));
    xt_adam_hparams hp = XT_ADAM_HPARAMS_DEFAULT;
    for (int s = 0; s < 20; s++) {
        for (int i = 0; i < N; i++) gf[i] = (float)(gd[i] = cos(i * 0.7 + s) * (1 + i % 5));
        double nf, nd;
        assert_int_equal(xt_adam_update(&af, &hp, 3e-3, 0.5, &nf), 0);
        assert_int_equal(xt_adam_update_f64(&ad, &hp, 3e-3, 0.5, &nd), 0);
        assert_true(fabs(nf - nd) < 1e-5 * nd);
    }
    for (int i = 0; i < N; i++) assert_true(fabs(pf[i] - pd[i]) < 1e-5);
}

// ---- the update in pieces (a slab split across threads)

// The scalar formula of adam.h, written out here as the reference: the
// fused vector pass must give exactly these bits (same operations, same
// order, one rounding each; no FMA contraction in ISO C mode).
static void s_ref_step(float *p, float *g, float *m, float *v, int n, const xt_adam_hparams *hp,
                       double lr, int64_t t, double clip) {
    double bc1 = 1.0 - pow(hp->beta1, (double)t), bc2 = 1.0 - pow(hp->beta2, (double)t);
    const float b1 = (float)hp->beta1, b2 = (float)hp->beta2;
    const float c1 = (float)(1.0 - hp->beta1), c2 = (float)(1.0 - hp->beta2);
    const float step_size = (float)(lr / bc1), isqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float eps = (float)hp->eps, decay = (float)(1.0 - lr * hp->weight_decay);
    for (int i = 0; i < n; i++) {
        if (clip < 1) g[i] = (float)(g[i] * clip);
        m[i] = b1 * m[i] + c1 * g[i];
        v[i] = b2 * v[i] + c2 * g[i] * g[i];
        float denom = sqrtf(v[i]) * isqrt_bc2 + eps;
        p[i] = p[i] * decay - step_size * m[i] / denom;
    }
}

// Sum of squares: fixed-order partial sums agree with a plain double sum
// to rounding, for lengths with and without a tail; NaN and inf propagate.
static void t_sumsq(void **state) {
    float g[203];
    for (int i = 0; i < 203; i++) g[i] = (float)sin(i * 1.3) * (float)(1 + i % 7);
    for (int n = 0; n <= 203; n += 29) {
        double ref = 0;
        for (int i = 0; i < n; i++) ref += (double)g[i] * g[i];
        assert_true(fabs(xt_adam_sumsq(g, (size_t)n) - ref) <= 1e-13 * (1 + ref));
    }
    assert_true(xt_adam_sumsq(g, 0) == 0);
    g[100] = NAN;
    assert_true(isnan(xt_adam_sumsq(g, 203)));
    g[100] = INFINITY;
    assert_true(isinf(xt_adam_sumsq(g, 203)));
    // 16 squares of 0.5 = 4, exactly
    float h[16];
    for (int i = 0; i < 16; i++) h[i] = 0.5f;
    assert_true(xt_adam_sumsq(h, 16) == 4.0);
    assert_true(xt_adam_clip_coef(5, 0.5) == 0.5 / (5 + 1e-6));
    assert_true(xt_adam_clip_coef(0.1, 0.5) == 1 && xt_adam_clip_coef(50, 0) == 1);
}

// The fused pass = the reference formula bit for bit, with and without
// clipping; ranges split anywhere (even off the vector boundary) give the
// same bits as one pass; zero_grads leaves the gradients at exactly 0.
static void t_pass_fused(void **state) {
    enum { N = 101 };
    float p[3][N], g[3][N], m[3][N], v[3][N];
    xt_adam_hparams hp = XT_ADAM_HPARAMS_DEFAULT;
    hp.weight_decay = 0.01;
    for (int clipped = 0; clipped < 2; clipped++) {
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < N; i++) {
                p[k][i] = (float)cos(i * 0.37);
                m[k][i] = (float)(0.01 * sin(i));
                v[k][i] = (float)(1e-4 * (1 + i % 3));
            }
        for (int s = 1; s <= 3; s++) {
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < N; i++) g[k][i] = (float)(sin(i * 0.7 + s) * (1 + i % 5));
            const double clip = clipped ? 0.123456789 : 1.0, lr = 3e-3;
            s_ref_step(p[0], g[0], m[0], v[0], N, &hp, lr, s, clip);
            // (moments as they are: no xt_adam_init, which would zero them)
            xt_adam a1 = {p[1], g[1], m[1], v[1], N, 0}, a2 = {p[2], g[2], m[2], v[2], N, 0};
            xt_adam_pass ps;
            xt_adam_pass_init(&ps, &hp, lr, s, clip, 0);
            xt_adam_pass_run(&a1, &ps, 0, N);
            ps.zero_grads = 1;
            xt_adam_pass_run(&a2, &ps, 0, 37); // split off the 4-lane boundary
            xt_adam_pass_run(&a2, &ps, 37, 50);
            xt_adam_pass_run(&a2, &ps, 50, N);
            for (int k = 1; k < 3; k++) {
                assert_memory_equal(p[k], p[0], sizeof p[0]);
                assert_memory_equal(m[k], m[0], sizeof m[0]);
                assert_memory_equal(v[k], v[0], sizeof v[0]);
            }
            assert_memory_equal(g[1], g[0], sizeof g[0]); // clipped (or untouched) gradients
            for (int i = 0; i < N; i++) assert_true(g[2][i] == 0);
        }
    }
    // xt_adam_update = norm + the same pass
    float pu[N], gu[N], mu[N], vu[N];
    xt_adam a;
    xt_adam_init(&a, pu, gu, mu, vu, N);
    for (int i = 0; i < N; i++) pu[i] = p[0][i] = 1, gu[i] = g[0][i] = (float)(i % 9 - 4);
    memset(m[0], 0, sizeof m[0]), memset(v[0], 0, sizeof v[0]);
    double norm;
    assert_int_equal(xt_adam_update(&a, &hp, 1e-2, 0.5, &norm), 0);
    s_ref_step(p[0], g[0], m[0], v[0], N, &hp, 1e-2, 1, xt_adam_clip_coef(norm, 0.5));
    assert_memory_equal(pu, p[0], sizeof pu);
    assert_memory_equal(gu, g[0], sizeof gu);
}

// ---- schedules

static void t_entropy_schedule_seed003(void **state) {
    xt_sched_point pts[] = XT_SCHED_ENT_SEED003;
    assert_int_equal(xt_sched_piecewise_check(pts, 3, "learner.ent_schedule", NULL), 0);
    assert_true(xt_sched_piecewise_at(pts, 3, 0) == 0.02);
    assert_true(xt_sched_piecewise_at(pts, 3, 249999) == 0.02);
    assert_true(xt_sched_piecewise_at(pts, 3, 250000) == 0.01);
    assert_true(xt_sched_piecewise_at(pts, 3, 999999) == 0.01);
    assert_true(xt_sched_piecewise_at(pts, 3, 1000000) == 0.005);
    assert_true(xt_sched_piecewise_at(pts, 3, 50000000) == 0.005);
    // before the first point: the first value
    xt_sched_point late[] = {{100, 0.3}, {200, 0.1}};
    assert_true(xt_sched_piecewise_at(late, 2, 5) == 0.3);
    assert_true(xt_sched_piecewise_at(late, 1, 500) == 0.3);
}

static void t_schedule_check_errors(void **state) {
    xt_err err = {0};
    xt_sched_point bad[] = {{0, 0.02}, {250000, 0.01}, {100, 0.005}};
    assert_int_equal(xt_sched_piecewise_check(bad, 3, "learner.ent_schedule", &err), XT_EINVAL);
    assert_string_equal(err.msg, "learner.ent_schedule[2]: step 100 is not after 250000");
    xt_sched_point nan_pt[] = {{0, NAN}};
    assert_int_equal(xt_sched_piecewise_check(nan_pt, 1, "s", &err), XT_EINVAL);
    assert_string_equal(err.msg, "s[0]: value is not finite");
    assert_int_equal(xt_sched_piecewise_check(bad, 0, "s", &err), XT_EINVAL);
    assert_contains(err.msg, "at least one point");
}

static void t_lr_schedule(void **state) {
    xt_sched_lr c = {XT_SCHED_CONSTANT, 3e-4, 0, 1000};
    assert_true(xt_sched_lr_at(&c, 0) == 3e-4 && xt_sched_lr_at(&c, 5000) == 3e-4);
    xt_sched_lr l = {XT_SCHED_LINEAR, 3e-4, 1e-5, 1000000};
    assert_true(xt_sched_lr_at(&l, 0) == 3e-4);
    assert_true(fabs(xt_sched_lr_at(&l, 500000) - (3e-4 + 1e-5) / 2) < 1e-18);
    assert_true(fabs(xt_sched_lr_at(&l, 1000000) - 1e-5) < 1e-18);
    assert_true(fabs(xt_sched_lr_at(&l, 3000000) - 1e-5) < 1e-18); // held after the end
    xt_sched_lr z = {XT_SCHED_LINEAR, 3e-4, 0, 0}; // no length: constant
    assert_true(xt_sched_lr_at(&z, 10) == 3e-4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_two_steps_by_hand),
        cmocka_unit_test(t_defaults_and_weight_decay),
        cmocka_unit_test(t_clip),
        cmocka_unit_test(t_nonfinite_refused),
        cmocka_unit_test(t_float_matches_double),
        cmocka_unit_test(t_sumsq),
        cmocka_unit_test(t_pass_fused),
        cmocka_unit_test(t_entropy_schedule_seed003),
        cmocka_unit_test(t_schedule_check_errors),
        cmocka_unit_test(t_lr_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
