// test_ppo_loss.c - the PPO loss: a hand-worked minibatch, value clipping,
// padding, non-finite inputs, finite-difference checks in double (w.r.t. the
// loss inputs and chained through both heads), advantage normalization,
// explained variance and float/double agreement.
//
// Gradient-check tolerance: central differences, h = 1e-6. The loss is
// piecewise smooth; every sample is kept >= 0.01 away from its kinks
// (r = 1 +- eps, the value-clip edges and the max() tie) so the h-step never
// crosses one. Truncation error ~h^2 ~ 1e-12, rounding ~1e-16 / h ~ 1e-10;
// we require |a - n| <= 1e-6 * max(1, |a|, |n|).
#include "testutil.h"

#include "core/rng.h"
#include "nn/heads.h"
#include "nn/ppo_loss.h"

#include <math.h>
#include <string.h>

#define FD_H 1e-6
#define FD_TOL 1e-6

static void s_check_grad(double analytic, double numeric, const char *what, int k) {
    double scale = fmax(1.0, fmax(fabs(analytic), fabs(numeric)));
    if (fabs(analytic - numeric) > FD_TOL * scale)
        fail_msg("%s[%d]: analytic %.12g vs numeric %.12g", what, k, analytic, numeric);
}

static int s_close(double a, double b, double tol) {
    return fabs(a - b) <= tol;
}

// ---- hand-worked minibatch

static void t_hand_worked(void **state) {
    // r = 1.5 (A=2, clipped), 0.5 (A=-1, clipped), 1.1 (A=1, inside),
    // 1.5 (A=-1: outside the range but the unclipped term is the min), padding
    double old[5] = {0, 0, 0, 0, 0};
    double logp[5] = {log(1.5), log(0.5), log(1.1), log(1.5), NAN};
    double adv[5] = {2, -1, 1, -1, NAN};
    double val[5] = {1, 2, 3, 4, NAN}, ret[5] = {1.5, 2, 2, 4, NAN};
    double ent[5] = {1, 2, 3, 2, NAN};
    uint8_t valid[5] = {1, 1, 1, 1, 0};
    xt_ppo_hparams hp = {0.2, 0.5, 0.01, 0.0};
    xt_ppo_stats st;
    double dlp[5], dent[5], dv[5];
    xt_ppo_loss_f64(&st, dlp, dent, dv, logp, ent, val, old, adv, ret, NULL, valid, &hp, 5);
    assert_int_equal(st.n_valid, 4);
    // surrogates: min(3, 2.4) + min(-0.5, -0.8) + 1.1 + min(-1.5, -1.2) = 1.2
    assert_true(s_close(st.policy_loss, -0.3, 1e-15));
    // 0.5 (0.25 + 1) / 4
    assert_true(s_close(st.value_loss, 0.15625, 1e-15));
    assert_true(s_close(st.entropy, 2.0, 1e-15));
    assert_true(s_close(st.clip_fraction, 0.75, 1e-15));
    double kl = (0.5 - log(1.5)) + (-0.5 - log(0.5)) + (0.1 - log(1.1)) + (0.5 - log(1.5));
    assert_true(s_close(st.approx_kl, kl / 4, 1e-15));
    assert_true(s_close(st.loss, -0.3 + 0.5 * 0.15625 - 0.01 * 2.0, 1e-15));
    // gradients of the means over 4 samples; padding gets exactly 0
    double want_lp[5] = {0, 0, -1.1 / 4, 1.5 / 4, 0};
    double want_v[5] = {0.5 * -0.5 / 4, 0, 0.5 * 1.0 / 4, 0, 0};
    for (int i = 0; i < 5; i++) {
        assert_true(s_close(dlp[i], want_lp[i], 1e-15));
        assert_true(s_close(dv[i], want_v[i], 1e-15));
        assert_true(s_close(dent[i], i < 4 ? -0.01 / 4 : 0, 1e-17));
    }
    assert_true(dlp[4] == 0 && dv[4] == 0 && dent[4] == 0);
    assert_true(isfinite(st.loss)); // NaN padding never leaks
}

static void t_value_clip(void **state) {
    // old v 1.0, clip 0.2: v 1.5 -> vc 1.2.
    //  R = 2.0: (1.5-2)^2 = .25 < (1.2-2)^2 = .64 -> clipped term, flat -> grad 0
    //  R = 1.0: .25 > (1.2-1)^2 = .04 -> unclipped, grad (v - R)
    //  v 1.1 (inside the clip) R = 0: plain 0.5 (1.1)^2, grad 1.1
    double z[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    double val[3] = {1.5, 1.5, 1.1}, ret[3] = {2.0, 1.0, 0.0}, oldv[3] = {1, 1, 1};
    xt_ppo_hparams hp = {0.2, 1.0, 0.0, 0.2};
    xt_ppo_stats st;
    double dlp[3], dent[3], dv[3];
    xt_ppo_loss_f64(&st, dlp, dent, dv, z, one, val, z, z, ret, oldv, NULL, &hp, 3);
    assert_true(s_close(st.value_loss, 0.5 * (0.64 + 0.25 + 1.21) / 3, 1e-15));
    assert_true(dv[0] == 0);
    assert_true(s_close(dv[1], 0.5 / 3, 1e-15));
    assert_true(s_close(dv[2], 1.1 / 3, 1e-15));
    // same batch without clipping: plain 0.5 (v - R)^2
    hp.vf_clip = 0;
    xt_ppo_loss_f64(&st, dlp, dent, dv, z, one, val, z, z, ret, NULL, NULL, &hp, 3);
    assert_true(s_close(st.value_loss, 0.5 * (0.25 + 0.25 + 1.21) / 3, 1e-15));
    assert_true(s_close(dv[0], -0.5 / 3, 1e-15));
}

static void t_degenerate(void **state) {
    double x[2] = {0.1, 0.2};
    uint8_t none[2] = {0, 0}, all[2] = {1, 1};
    xt_ppo_hparams hp = XT_PPO_HPARAMS_DEFAULT;
    xt_ppo_stats st;
    double dlp[2] = {9, 9}, dent[2] = {9, 9}, dv[2] = {9, 9};
    // no valid sample: zero stats and zero gradients
    xt_ppo_loss_f64(&st, dlp, dent, dv, x, x, x, x, x, x, NULL, none, &hp, 2);
    assert_int_equal(st.n_valid, 0);
    assert_true(st.loss == 0 && dlp[0] == 0 && dent[1] == 0 && dv[0] == 0);
    // a non-finite input on a valid sample makes the loss NaN (update skipped)
    double bad[2] = {0.1, INFINITY};
    xt_ppo_loss_f64(&st, dlp, dent, dv, x, x, bad, x, x, x, NULL, all, &hp, 2);
    assert_true(isnan(st.loss));
    xt_ppo_loss_f64(&st, dlp, dent, dv, x, x, x, x, (double[]){NAN, 0}, x, NULL, all, &hp, 2);
    assert_true(isnan(st.loss));
}

// ---- gradient check w.r.t. the loss inputs

typedef struct {
    int n;
    double logp[32], ent[32], val[32], old[32], adv[32], ret[32], oldv[32];
    uint8_t valid[32];
    xt_ppo_hparams hp;
} s_batch;

static double s_loss(const s_batch *b) {
    xt_ppo_stats st;
    double dlp[32], dent[32], dv[32];
    xt_ppo_loss_f64(&st, dlp, dent, dv, b->logp, b->ent, b->val, b->old, b->adv, b->ret, b->oldv,
                    b->valid, &b->hp, b->n);
    return st.loss;
}

// log-ratio in [-0.4, 0.4], kept >= 0.01 away from log(1 +- eps)
static double s_logratio(xt_rng *r, double eps) {
    for (;;) {
        double d = -0.4 + 0.8 * xt_rng_uniform(r);
        if (fabs(d - log(1 + eps)) > 0.01 && fabs(d - log(1 - eps)) > 0.01) return d;
    }
}

static void s_make_batch(s_batch *b, xt_rng *r, double vf_clip) {
    b->n = 32;
    b->hp = (xt_ppo_hparams){0.2, 0.5, 0.013, vf_clip};
    for (int i = 0; i < b->n; i++) {
        b->old[i] = -1 - xt_rng_uniform(r);
        b->logp[i] = b->old[i] + s_logratio(r, 0.2);
        b->adv[i] = xt_rng_normal(r);
        b->ent[i] = xt_rng_uniform(r);
        b->ret[i] = xt_rng_normal(r);
        b->oldv[i] = xt_rng_normal(r);
        // v - old_v away from +-vf_clip, and the max() away from its tie
        for (;;) {
            b->val[i] = b->oldv[i] + (xt_rng_uniform(r) - 0.5);
            double dv = b->val[i] - b->oldv[i];
            double vc = b->oldv[i] + fmax(-vf_clip, fmin(vf_clip, dv));
            double d1 = b->val[i] - b->ret[i], d2 = vc - b->ret[i];
            if (vf_clip == 0 || (fabs(fabs(dv) - vf_clip) > 0.01 && fabs(d1 * d1 - d2 * d2) > 0.01))
                break;
        }
        b->valid[i] = (i % 7) != 3; // a few padding samples
    }
}

static void s_gradcheck_inputs(double vf_clip, uint64_t seed) {
    xt_rng r;
    xt_rng_seed(&r, seed);
    s_batch b;
    s_make_batch(&b, &r, vf_clip);
    xt_ppo_stats st;
    double dlp[32], dent[32], dv[32];
    xt_ppo_loss_f64(&st, dlp, dent, dv, b.logp, b.ent, b.val, b.old, b.adv, b.ret, b.oldv,
                    b.valid, &b.hp, b.n);
    // the batch must exercise both branches of the surrogate
    assert_true(st.clip_fraction > 0.1 && st.clip_fraction < 0.9);
    double *inputs[3] = {b.logp, b.ent, b.val};
    double *grads[3] = {dlp, dent, dv};
    const char *names[3] = {"dlogp", "dentropy", "dvalue"};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < b.n; i++) {
            double save = inputs[k][i];
            inputs[k][i] = save + FD_H;
            double lp = s_loss(&b);
            inputs[k][i] = save - FD_H;
            double lm = s_loss(&b);
            inputs[k][i] = save;
            s_check_grad(grads[k][i], (lp - lm) / (2 * FD_H), names[k], i);
            if (!b.valid[i]) assert_true(grads[k][i] == 0 && lp == lm); // padding ignored
        }
    }
}

static void t_gradcheck_inputs(void **state) {
    s_gradcheck_inputs(0.0, 21);
}

static void t_gradcheck_inputs_vclip(void **state) {
    s_gradcheck_inputs(0.2, 22);
}

// ---- gradient check chained through the heads

enum { CN = 12, CA = 5 };

typedef struct {
    double logits[CN * CA], old[CN], adv[CN], val[CN], ret[CN];
    uint8_t mask[CN * CA], valid[CN];
    int32_t act[CN];
    xt_ppo_hparams hp;
} s_cat_case;

// loss(logits) = ppo(cat_forward(logits)); optional gradient into dlogits
static double s_cat_chain(const s_cat_case *c, double *dlogits, double *clipfrac) {
    double logp[CN], ent[CN], probs[CN * CA], dlp[CN], dent[CN], dv[CN];
    xt_heads_cat_forward_f64(logp, ent, probs, c->logits, c->mask, c->act, CN, CA);
    xt_ppo_stats st;
    xt_ppo_loss_f64(&st, dlp, dent, dv, logp, ent, c->val, c->old, c->adv, c->ret, NULL, c->valid,
                    &c->hp, CN);
    if (dlogits) xt_heads_cat_backward_f64(dlogits, dlp, dent, probs, c->act, CN, CA);
    if (clipfrac) *clipfrac = st.clip_fraction;
    return st.loss;
}

static void t_gradcheck_through_categorical(void **state) {
    xt_rng r;
    xt_rng_seed(&r, 23);
    s_cat_case c;
    c.hp = (xt_ppo_hparams){0.2, 0.5, 0.05, 0.0};
    for (int k = 0; k < CN * CA; k++) {
        c.logits[k] = 2 * xt_rng_normal(&r);
        c.mask[k] = xt_rng_uniform(&r) < 0.7;
    }
    for (int i = 0; i < CN; i++) {
        c.act[i] = (int32_t)xt_rng_below(&r, CA);
        c.mask[i * CA + c.act[i]] = 1;
        c.adv[i] = xt_rng_normal(&r);
        c.val[i] = xt_rng_normal(&r);
        c.ret[i] = xt_rng_normal(&r);
        c.valid[i] = i != 5;
    }
    // row 7: only the taken action is legal (logp = 0 whatever the logits)
    for (int j = 0; j < CA; j++) c.mask[7 * CA + j] = j == c.act[7];
    // behaviour log-probs = current ones shifted by a log-ratio off the kinks
    double logp[CN], ent[CN], probs[CN * CA];
    xt_heads_cat_forward_f64(logp, ent, probs, c.logits, c.mask, c.act, CN, CA);
    for (int i = 0; i < CN; i++) c.old[i] = logp[i] - s_logratio(&r, 0.2);
    double dl[CN * CA] = {0}, cf;
    s_cat_chain(&c, dl, &cf);
    assert_true(cf > 0.1 && cf < 0.9);
    for (int k = 0; k < CN * CA; k++) {
        double save = c.logits[k];
        c.logits[k] = save + FD_H;
        double lp = s_cat_chain(&c, NULL, NULL);
        c.logits[k] = save - FD_H;
        double lm = s_cat_chain(&c, NULL, NULL);
        c.logits[k] = save;
        s_check_grad(dl[k], (lp - lm) / (2 * FD_H), "dlogits", k);
        if (!c.mask[k] || k / CA == 5 || k / CA == 7) assert_true(dl[k] == 0); // masked, padding, forced
    }
}

typedef struct {
    double mean[CN * CA], ls[CA], action[CN * CA], old[CN], adv[CN], val[CN], ret[CN];
    uint8_t mask[CN * CA], valid[CN];
    double ls_min, ls_max;
    xt_ppo_hparams hp;
} s_gauss_case;

static double s_gauss_chain(const s_gauss_case *c, double *dmean, double *dls) {
    double logp[CN], ent[CN], dlp[CN], dent[CN], dv[CN];
    xt_heads_gauss_forward_f64(logp, ent, c->mean, c->ls, c->action, c->mask, c->ls_min,
                               c->ls_max, CN, CA);
    xt_ppo_stats st;
    xt_ppo_loss_f64(&st, dlp, dent, dv, logp, ent, c->val, c->old, c->adv, c->ret, NULL, c->valid,
                    &c->hp, CN);
    if (dmean)
        xt_heads_gauss_backward_f64(dmean, dls, dlp, dent, c->mean, c->ls, c->action, c->mask,
                                    c->ls_min, c->ls_max, CN, CA);
    return st.loss;
}

static void t_gradcheck_through_gaussian(void **state) {
    xt_rng r;
    xt_rng_seed(&r, 24);
    s_gauss_case c;
    c.hp = (xt_ppo_hparams){0.2, 0.5, 0.05, 0.0};
    c.ls_min = -2;
    c.ls_max = 0.5;
    // log-std: inside, inside, above the clamp, inside, below the clamp
    double ls[CA] = {-0.3, 0.1, 0.9, -1.0, -2.5};
    memcpy(c.ls, ls, sizeof ls);
    for (int k = 0; k < CN * CA; k++) {
        c.mean[k] = xt_rng_normal(&r);
        c.action[k] = c.mean[k] + 0.5 * xt_rng_normal(&r);
        c.mask[k] = xt_rng_uniform(&r) < 0.8;
    }
    for (int i = 0; i < CN; i++) {
        c.adv[i] = xt_rng_normal(&r);
        c.val[i] = xt_rng_normal(&r);
        c.ret[i] = xt_rng_normal(&r);
        c.valid[i] = i != 4;
    }
    double logp[CN], ent[CN];
    xt_heads_gauss_forward_f64(logp, ent, c.mean, c.ls, c.action, c.mask, c.ls_min, c.ls_max, CN,
                               CA);
    for (int i = 0; i < CN; i++) c.old[i] = logp[i] - s_logratio(&r, 0.2);
    double dm[CN * CA] = {0}, dls[CA] = {0};
    s_gauss_chain(&c, dm, dls);
    for (int k = 0; k < CN * CA; k++) {
        double save = c.mean[k];
        c.mean[k] = save + FD_H;
        double lp = s_gauss_chain(&c, NULL, NULL);
        c.mean[k] = save - FD_H;
        double lm = s_gauss_chain(&c, NULL, NULL);
        c.mean[k] = save;
        s_check_grad(dm[k], (lp - lm) / (2 * FD_H), "dmean", k);
        if (!c.mask[k] || k / CA == 4) assert_true(dm[k] == 0);
    }
    for (int j = 0; j < CA; j++) {
        double save = c.ls[j];
        c.ls[j] = save + FD_H;
        double lp = s_gauss_chain(&c, NULL, NULL);
        c.ls[j] = save - FD_H;
        double lm = s_gauss_chain(&c, NULL, NULL);
        c.ls[j] = save;
        s_check_grad(dls[j], (lp - lm) / (2 * FD_H), "dlog_std", j);
    }
    assert_true(dls[2] == 0 && dls[4] == 0 && dls[0] != 0);
}

// ---- advantage normalization and explained variance

static void t_adv_normalize(void **state) {
    // valid values 1, 2, 3, 4: mean 2.5, unbiased std sqrt(5/3)
    float in[6] = {1, 100, 2, 3, -50, 4};
    uint8_t valid[6] = {1, 0, 1, 1, 0, 1};
    float out[6];
    xt_ppo_adv_normalize(out, in, valid, 6);
    double sd = sqrt(5.0 / 3.0);
    assert_true(fabs(out[0] - (1 - 2.5) / sd) < 1e-6);
    assert_true(fabs(out[5] - (4 - 2.5) / sd) < 1e-6);
    assert_true(out[1] == 0 && out[4] == 0);
    // in place, double: mean 0 and unbiased std 1 afterwards
    double d[5] = {3, -1, 7, 0.5, 2};
    xt_ppo_adv_normalize_f64(d, d, NULL, 5);
    double m = 0, ss = 0;
    for (int i = 0; i < 5; i++) m += d[i] / 5;
    for (int i = 0; i < 5; i++) ss += (d[i] - m) * (d[i] - m) / 4;
    assert_true(fabs(m) < 1e-15 && fabs(ss - 1) < 1e-7);
    // one valid sample: 0
    double one[2] = {5, 9};
    uint8_t v1[2] = {0, 1};
    xt_ppo_adv_normalize_f64(one, one, v1, 2);
    assert_true(one[0] == 0 && one[1] == 0);
}

static void t_explained_variance(void **state) {
    double ret[4] = {1, 2, 3, 6};
    // perfect prediction -> 1; constant prediction -> 0
    assert_true(fabs(xt_ppo_explained_variance_f64(ret, ret, NULL, 4) - 1) < 1e-15);
    double c[4] = {7, 7, 7, 7};
    assert_true(fabs(xt_ppo_explained_variance_f64(c, ret, NULL, 4)) < 1e-15);
    // hand: V = 1, 2, 3, 4 -> R - V = 0, 0, 0, 2: Var = 0.75; Var(R) = 3.5 -> 1 - 0.75/3.5
    double v[4] = {1, 2, 3, 4};
    assert_true(fabs(xt_ppo_explained_variance_f64(v, ret, NULL, 4) - (1 - 0.75 / 3.5)) < 1e-15);
    // padding excluded: dropping sample 3 leaves a perfect fit
    uint8_t valid[4] = {1, 1, 1, 0};
    assert_true(fabs(xt_ppo_explained_variance_f64(v, ret, valid, 4) - 1) < 1e-15);
    // Var(R) = 0 -> 0 (documented), also for fewer than two samples
    assert_true(xt_ppo_explained_variance_f64(v, c, NULL, 4) == 0);
    assert_true(xt_ppo_explained_variance_f64(v, ret, NULL, 1) == 0);
    float vf[4] = {1, 2, 3, 4}, rf[4] = {1, 2, 3, 6};
    assert_true(fabs(xt_ppo_explained_variance(vf, rf, NULL, 4) - (1 - 0.75 / 3.5)) < 1e-12);
}

// ---- float vs double

static void t_float_matches_double(void **state) {
    xt_rng r;
    xt_rng_seed(&r, 25);
    s_batch b;
    s_make_batch(&b, &r, 0.2);
    float f[7][32];
    double *src[7] = {b.logp, b.ent, b.val, b.old, b.adv, b.ret, b.oldv};
    // both precisions see the same (float-rounded) inputs
    for (int k = 0; k < 7; k++)
        for (int i = 0; i < b.n; i++) f[k][i] = (float)src[k][i], src[k][i] = f[k][i];
    xt_ppo_stats sd, sf;
    double dlpd[32], dentd[32], dvd[32];
    float dlpf[32], dentf[32], dvf[32];
    xt_ppo_loss_f64(&sd, dlpd, dentd, dvd, b.logp, b.ent, b.val, b.old, b.adv, b.ret, b.oldv,
                    b.valid, &b.hp, b.n);
    xt_ppo_loss(&sf, dlpf, dentf, dvf, f[0], f[1], f[2], f[3], f[4], f[5], f[6], b.valid, &b.hp,
                b.n);
    // float per-sample terms carry ~1e-7 relative error; means of O(1) terms stay within 1e-5
    assert_true(fabs(sd.loss - sf.loss) < 1e-5 && fabs(sd.approx_kl - sf.approx_kl) < 1e-5);
    assert_true(fabs(sd.value_loss - sf.value_loss) < 1e-5);
    assert_true(sd.clip_fraction == sf.clip_fraction);
    for (int i = 0; i < b.n; i++) {
        assert_true(fabs(dlpd[i] - dlpf[i]) < 1e-6);
        assert_true(fabs(dentd[i] - dentf[i]) < 1e-6);
        assert_true(fabs(dvd[i] - dvf[i]) < 1e-6);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hand_worked),
        cmocka_unit_test(t_value_clip),
        cmocka_unit_test(t_degenerate),
        cmocka_unit_test(t_gradcheck_inputs),
        cmocka_unit_test(t_gradcheck_inputs_vclip),
        cmocka_unit_test(t_gradcheck_through_categorical),
        cmocka_unit_test(t_gradcheck_through_gaussian),
        cmocka_unit_test(t_adv_normalize),
        cmocka_unit_test(t_explained_variance),
        cmocka_unit_test(t_float_matches_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
