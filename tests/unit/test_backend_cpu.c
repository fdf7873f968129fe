// test_backend_cpu.c - the CPU backend and the PPO update over it:
// finite-difference check of the whole PPO loss through model + heads
// against every tensor of the list (double), the float backend against the
// double reference (gathering included), evaluate against a direct forward,
// non-finite refusal, log-std clamp, determinism, and a recurrent memory task
// that PPO must learn.
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/backend.h"
#include "nn/heads.h"
#include "nn/ppo.h"

static void *s_calloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    assert_non_null(p);
    return p;
}

static double s_u(xt_rng *r, double a) {
    return a * (2 * xt_rng_uniform(r) - 1);
}

// ---- a random chunk-major batch

typedef struct {
    xt_batch b;
    float *obs, *act, *logp, *rew, *tv, *h0, *c0;
    int32_t *sym, *act_i;
    uint8_t *masks, *starts, *term, *trunc, *valid;
} rbatch;

static void rb_init(rbatch *r, const xt_model_layout *lay, int C, int T, uint64_t seed) {
    const xt_model_spec *s = &lay->spec;
    const int A = s->act_dim, D = s->obs_dim, S = lay->state_size;
    const size_t N = (size_t)C * T;
    xt_rng g;
    xt_rng_seed(&g, seed);
    memset(r, 0, sizeof *r);
    r->obs = s_calloc((size_t)C * (T + 1) * D, sizeof(float));
    for (size_t k = 0; k < (size_t)C * (T + 1) * D; k++)
        r->obs[k] = (float)xt_rng_normal(&g);
    r->act = s_calloc(N * A, sizeof(float));
    r->act_i = s_calloc(N, sizeof(int32_t));
    r->masks = s_calloc(N * A, 1);
    for (size_t i = 0; i < N; i++) {
        for (int j = 0; j < A; j++) {
            r->act[i * A + j] = (float)(0.5 * xt_rng_normal(&g));
            r->masks[i * A + j] = xt_rng_uniform(&g) < 0.8;
        }
        r->act_i[i] = (int32_t)xt_rng_below(&g, A);
        r->masks[i * A + r->act_i[i]] = 1; // the taken action is legal
    }
    r->logp = s_calloc(N, sizeof(float));
    r->rew = s_calloc(N, sizeof(float));
    r->tv = s_calloc(N, sizeof(float));
    r->starts = s_calloc(N, 1);
    r->term = s_calloc(N, 1);
    r->trunc = s_calloc(N, 1);
    r->valid = s_calloc(N, 1);
    for (size_t i = 0; i < N; i++) {
        r->logp[i] = (float)(s->gaussian ? -2.0 * A + s_u(&g, 1) : -log(A) + s_u(&g, 0.3));
        r->rew[i] = (float)xt_rng_normal(&g);
        r->tv[i] = (float)xt_rng_normal(&g);
        r->term[i] = xt_rng_uniform(&g) < 0.05;
        r->trunc[i] = !r->term[i] && xt_rng_uniform(&g) < 0.05;
        r->valid[i] = xt_rng_uniform(&g) < 0.95;
    }
    for (int c = 0; c < C; c++) {
        r->starts[(size_t)c * T] = xt_rng_uniform(&g) < 0.3;
        for (int t = 1; t < T; t++) {
            size_t i = (size_t)c * T + t;
            r->starts[i] = r->term[i - 1] || r->trunc[i - 1];
        }
    }
    r->sym = s_calloc(C, sizeof(int32_t));
    for (int c = 0; c < C; c++)
        r->sym[c] = s->n_symbols ? c % s->n_symbols : 0;
    r->h0 = s_calloc((size_t)C * S, sizeof(float));
    r->c0 = s_calloc((size_t)C * S, sizeof(float));
    for (size_t k = 0; k < (size_t)C * S; k++)
        r->h0[k] = (float)s_u(&g, 0.5);
    for (size_t k = 0; k < (size_t)C * S; k++)
        r->c0[k] = (float)s_u(&g, 1.0);
    r->b = (xt_batch){
        .C = C,
        .T = T,
        .obs = r->obs,
        .sym = s->emb_dim ? r->sym : NULL,
        .actions = s->gaussian ? r->act : NULL,
        .actions_i = s->gaussian ? NULL : r->act_i,
        .masks = r->masks,
        .logp = r->logp,
        .rewards = r->rew,
        .starts = r->starts,
        .terminated = r->term,
        .truncated = r->trunc,
        .trunc_value = r->tv,
        .valid = r->valid,
        .h0 = r->h0,
        .c0 = r->c0,
    };
}

static void rb_free(rbatch *r) {
    void *p[] = {r->obs, r->act,   r->logp,  r->rew,    r->tv,   r->h0,    r->c0,
                 r->sym, r->act_i, r->masks, r->starts, r->term, r->trunc, r->valid};
    for (size_t k = 0; k < sizeof p / sizeof *p; k++)
        free(p[k]);
}

// ---- finite differences through model + heads + PPO loss (double)

typedef struct {
    xt_cpu_loss_f64 *L;
    const xt_model_layout *lay;
    double *P, *G;
    xt_minibatch_f64 mb;
    xt_loss_coefs coefs;
    double *obs, *h0, *c0, *act, *old_logp, *adv, *ret, *oldv;
    int32_t *sym, *act_i;
    uint8_t *starts, *masks, *valid;
} fd;

static double fd_loss(fd *f) {
    xt_ppo_stats st;
    xt_err err = {0};
    memset(f->G, 0, f->lay->n_params * sizeof(double));
    int rc = xt_cpu_loss_grad_f64(f->L, f->G, f->P, &f->mb, &f->coefs, -5, 2, &st, NULL, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    return st.loss;
}

// Current log-probs of the minibatch's actions (for choosing old_logp).
static void fd_logp(fd *f, double *logp) {
    xt_model_f64 *m = xt_cpu_loss_model_f64(f->L);
    const int N = f->mb.B * f->mb.T, A = f->lay->spec.act_dim;
    xt_model_input_f64 in = {f->mb.obs, f->mb.sym, f->mb.starts, f->mb.h0, f->mb.c0};
    assert_int_equal(xt_model_forward_f64(m, f->P, &in, f->mb.B, f->mb.T, XT_NET_BOTH, NULL), 0);
    double *ent = s_calloc(N, sizeof(double)), *probs = s_calloc((size_t)N * A, sizeof(double));
    if (f->lay->spec.gaussian)
        xt_heads_gauss_forward_f64(logp, ent, xt_model_actor_out_f64(m),
                                   f->P + f->lay->off[XT_T_actor_log_std], f->mb.actions,
                                   f->mb.masks, -5, 2, N, A);
    else
        assert_int_equal(xt_heads_cat_forward_f64(logp, ent, probs, xt_model_actor_out_f64(m),
                                                  f->mb.masks, f->mb.actions_i, N, A),
                         0);
    free(ent);
    free(probs);
}

static void fd_init(fd *f, const xt_model_spec *s, int B, int T, double vf_clip, uint64_t seed) {
    memset(f, 0, sizeof *f);
    xt_err err = {0};
    f->L = xt_cpu_loss_new_f64(s, B, T, &err);
    assert_non_null(f->L);
    f->lay = xt_model_layout_of_f64(xt_cpu_loss_model_f64(f->L));
    const int A = s->act_dim, D = s->obs_dim, S = f->lay->state_size;
    const size_t N = (size_t)B * T, n = f->lay->n_params;
    xt_rng g;
    xt_rng_seed(&g, seed);
    float *pf = s_calloc(n, sizeof(float));
    xt_model_init_params(f->lay, pf, &g);
    f->P = s_calloc(n, sizeof(double));
    f->G = s_calloc(n, sizeof(double));
    for (size_t k = 0; k < n; k++)
        f->P[k] = pf[k] + s_u(&g, 0.3);
    free(pf);
    f->obs = s_calloc(N * D, sizeof(double));
    for (size_t k = 0; k < N * D; k++)
        f->obs[k] = xt_rng_normal(&g);
    f->h0 = s_calloc((size_t)S * B, sizeof(double));
    f->c0 = s_calloc((size_t)S * B, sizeof(double));
    for (size_t k = 0; k < (size_t)S * B; k++)
        f->h0[k] = s_u(&g, 0.7), f->c0[k] = s_u(&g, 1.2);
    f->sym = s_calloc(N, sizeof(int32_t));
    f->starts = s_calloc(N, 1);
    f->valid = s_calloc(N, 1);
    f->masks = s_calloc(N * A, 1);
    f->act = s_calloc(N * A, sizeof(double));
    f->act_i = s_calloc(N, sizeof(int32_t));
    for (size_t i = 0; i < N; i++) {
        f->sym[i] = s->n_symbols ? (int32_t)((i % B) % s->n_symbols) : 0;
        f->starts[i] = xt_rng_uniform(&g) < 0.2;
        f->valid[i] = i % 7 != 3;
        for (int j = 0; j < A; j++) {
            f->act[i * A + j] = xt_rng_normal(&g);
            f->masks[i * A + j] = xt_rng_uniform(&g) < 0.75;
        }
        f->act_i[i] = (int32_t)xt_rng_below(&g, A);
        f->masks[i * A + f->act_i[i]] = 1;
    }
    f->old_logp = s_calloc(N, sizeof(double));
    f->adv = s_calloc(N, sizeof(double));
    f->ret = s_calloc(N, sizeof(double));
    f->oldv = s_calloc(N, sizeof(double));
    for (size_t i = 0; i < N; i++) {
        f->adv[i] = xt_rng_normal(&g);
        f->ret[i] = xt_rng_normal(&g);
        f->oldv[i] = xt_rng_normal(&g);
    }
    f->mb = (xt_minibatch_f64){
        .B = B,
        .T = T,
        .obs = f->obs,
        .sym = s->emb_dim ? f->sym : NULL,
        .starts = f->starts,
        .h0 = f->h0,
        .c0 = f->c0,
        .actions = s->gaussian ? f->act : NULL,
        .actions_i = s->gaussian ? NULL : f->act_i,
        .masks = f->masks,
        .old_logp = f->old_logp,
        .adv = f->adv,
        .ret = f->ret,
        .old_value = vf_clip > 0 ? f->oldv : NULL,
        .valid = f->valid,
    };
    f->coefs = (xt_loss_coefs){{0.2, 0.5, 0.03, vf_clip}, 1};
    // old_logp = logp - delta with ratios exp(delta) spread over [0.67, 1.5]
    // but kept 0.01 away from the clip edges 0.8 / 1.2 (kinks of the loss)
    double *logp = s_calloc(N, sizeof(double));
    fd_logp(f, logp);
    for (size_t i = 0; i < N; i++) {
        double d;
        do
            d = s_u(&g, 0.4);
        while (fabs(exp(d) - 0.8) < 0.01 || fabs(exp(d) - 1.2) < 0.01);
        f->old_logp[i] = logp[i] - d;
    }
    free(logp);
}

static void fd_free(fd *f) {
    xt_cpu_loss_destroy_f64(&f->L);
    void *p[] = {f->P,   f->G,    f->obs, f->h0,    f->c0,     f->act,   f->old_logp, f->adv,
                 f->ret, f->oldv, f->sym, f->act_i, f->starts, f->masks, f->valid};
    for (size_t k = 0; k < sizeof p / sizeof *p; k++)
        free(p[k]);
}

// Every element of every tensor of the list: analytic vs central difference.
// Tolerance as in test_model (double, eps 1e-6: agreement ~1e-9).
static void fd_check_all(fd *f) {
    (void)fd_loss(f);
    double *g = s_calloc(f->lay->n_params, sizeof(double));
    memcpy(g, f->G, f->lay->n_params * sizeof(double));
    int bad = 0, checked = 0, expect = 0;
    for (int id = 0; id < XT_T_COUNT; id++) {
        size_t n = xt_model_tensor_size(f->lay, id);
        if (!n)
            continue;
        expect++;
        double *p = f->P + f->lay->off[id], *ga = g + f->lay->off[id];
        int nonzero = 0;
        for (size_t k = 0; k < n; k++) {
            double keep = p[k], eps = 1e-6;
            p[k] = keep + eps;
            double lp = fd_loss(f);
            p[k] = keep - eps;
            double lm = fd_loss(f);
            p[k] = keep;
            double num = (lp - lm) / (2 * eps);
            nonzero += ga[k] != 0;
            if (fabs(num - ga[k]) > 1e-8 + 1e-6 * fabs(num) && bad++ < 8)
                print_error("%s[%zu]: analytic %.10g numeric %.10g\n", xt_model_tensor_name(id), k,
                            ga[k], num);
        }
        assert_true(nonzero > 0);
        checked++;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(checked, expect);
    free(g);
}

// Gaussian head with masked dims, embedding, own critic, advantage normalization.
static void t_ppo_grad_gauss(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 3, 3, 1);
    s.n_symbols = 3, s.emb_dim = 2, s.lstm_hidden = 3, s.mlp[0] = 4, s.mlp[1] = 3;
    fd f;
    fd_init(&f, &s, 3, 4, 0, 1);
    fd_check_all(&f);
    fd_free(&f);
}

// Masked categorical head, shared trunk, value clipping.
static void t_ppo_grad_cat(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 4, 4, 0);
    s.lstm_hidden = 3, s.mlp_layers = 1, s.mlp[0] = 5, s.shared_trunk = 1;
    fd f;
    fd_init(&f, &s, 2, 5, 0.3, 2);
    fd_check_all(&f);
    fd_free(&f);
}

// ---- the float backend against the double reference

static void s_spec_small(xt_model_spec *s, int gaussian) {
    xt_model_spec_default(s, 5, 3, gaussian);
    s->n_symbols = 4, s->emb_dim = 2, s->lstm_hidden = 8, s->mlp[0] = 12, s->mlp[1] = 6;
}

static void t_backend_matches_reference(void **state) {
    (void)state;
    enum { C = 5, T = 6 };
    const int pick[3] = {3, 0, 4}, n = 3;
    for (int gaussian = 0; gaussian <= 1; gaussian++) {
        xt_model_spec s;
        s_spec_small(&s, gaussian);
        xt_backend_config cfg;
        xt_backend_config_default(&cfg);
        cfg.max_chunks = 4, cfg.T = T, cfg.threads = 1;
        xt_err err = {0};
        xt_backend *be = xt_backend_cpu_new(&s, &cfg, 9, &err);
        assert_non_null(be);
        assert_string_equal(xt_backend_name(be), "cpu");
        const xt_model_layout *lay = xt_backend_layout(be);
        const int A = s.act_dim, D = s.obs_dim, S = lay->state_size;
        rbatch rb;
        rb_init(&rb, lay, C, T, 4 + gaussian);
        assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
        float adv[C * T], ret[C * T], vals[C * (T + 1)];
        xt_rng g;
        xt_rng_seed(&g, 77);
        for (int k = 0; k < C * T; k++)
            adv[k] = (float)xt_rng_normal(&g), ret[k] = (float)xt_rng_normal(&g);
        for (int k = 0; k < C * (T + 1); k++)
            vals[k] = (float)xt_rng_normal(&g);
        xt_loss_coefs coefs = {{0.2, 0.5, 0.01, 0.5}, 1};
        xt_ppo_stats st;
        assert_int_equal(xt_backend_loss_grad(be, pick, n, adv, ret, vals, &coefs, &st, &err), 0);
        float *P = s_calloc(lay->n_params, sizeof(float)),
              *Gf = s_calloc(lay->n_params, sizeof(float));
        assert_int_equal(xt_backend_download(be, P, Gf, NULL, NULL, NULL, &err), 0);
        // the same minibatch gathered by hand, time-major, in double
        const size_t N = (size_t)n * T;
        double *obs = s_calloc(N * D, 8), *act = s_calloc(N * A, 8), *ol = s_calloc(N, 8);
        double *ad = s_calloc(N, 8), *rt = s_calloc(N, 8), *ov = s_calloc(N, 8);
        double *h0 = s_calloc((size_t)S * n, 8), *c0 = s_calloc((size_t)S * n, 8);
        int32_t *sym = s_calloc(N, 4), *ai = s_calloc(N, 4);
        uint8_t *st8 = s_calloc(N, 1), *mk = s_calloc(N * A, 1), *va = s_calloc(N, 1);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < n; b++) {
                size_t r = (size_t)t * n + b, i = (size_t)pick[b] * T + t;
                for (int d = 0; d < D; d++)
                    obs[r * D + d] = rb.obs[((size_t)pick[b] * (T + 1) + t) * D + d];
                for (int j = 0; j < A; j++)
                    act[r * A + j] = rb.act[i * A + j], mk[r * A + j] = rb.masks[i * A + j];
                ai[r] = rb.act_i[i], ol[r] = rb.logp[i], ad[r] = adv[i], rt[r] = ret[i];
                ov[r] = vals[(size_t)pick[b] * (T + 1) + t];
                sym[r] = rb.sym[pick[b]], st8[r] = rb.starts[i], va[r] = rb.valid[i];
            }
        const int H = s.lstm_hidden;
        for (int j = 0; j < S / H; j++)
            for (int b = 0; b < n; b++)
                for (int k = 0; k < H; k++) {
                    h0[((size_t)j * n + b) * H + k] =
                        rb.h0[(size_t)pick[b] * S + (size_t)j * H + k];
                    c0[((size_t)j * n + b) * H + k] =
                        rb.c0[(size_t)pick[b] * S + (size_t)j * H + k];
                }
        xt_minibatch_f64 mb = {
            n,  T,  obs, sym, st8, h0, c0, gaussian ? act : NULL, gaussian ? NULL : ai,
            mk, ol, ad,  rt,  ov,  va};
        xt_cpu_loss_f64 *L = xt_cpu_loss_new_f64(&s, n, T, &err);
        double *P64 = s_calloc(lay->n_params, 8), *G64 = s_calloc(lay->n_params, 8);
        for (size_t k = 0; k < lay->n_params; k++)
            P64[k] = P[k];
        xt_ppo_stats st64;
        assert_int_equal(xt_cpu_loss_grad_f64(L, G64, P64, &mb, &coefs, -5, 2, &st64, NULL, &err),
                         0);
        // Tolerance: float forward/backward over 6 recurrent steps with
        // 8..12-wide layers; each gradient element is a sum of ~100 float
        // products, rounding ~1e-6 relative to the largest gradient. Compare
        // per tensor against 1e-4 x (its max |g| + 1e-3): a gathering or
        // transposition mistake gives O(1) relative errors.
        for (int id = 0; id < XT_T_COUNT; id++) {
            size_t sz = xt_model_tensor_size(lay, id), o = lay->off[id];
            double gmax = 0, worst = 0;
            for (size_t k = 0; k < sz; k++)
                gmax = fmax(gmax, fabs(G64[o + k]));
            for (size_t k = 0; k < sz; k++)
                worst = fmax(worst, fabs(Gf[o + k] - G64[o + k]));
            if (worst > 1e-4 * (gmax + 1e-3))
                print_error("%s: worst %g of max %g\n", xt_model_tensor_name(id), worst, gmax);
            assert_true(worst <= 1e-4 * (gmax + 1e-3));
        }
        assert_true(fabs(st.loss - st64.loss) < 1e-5 * (1 + fabs(st64.loss)));
        assert_int_equal(st.n_valid, st64.n_valid);
        // bad chunk index
        int badpick[2] = {1, C};
        assert_int_equal(xt_backend_loss_grad(be, badpick, 2, adv, ret, vals, &coefs, &st, &err),
                         XT_EINVAL);
        assert_string_equal(err.msg, "cpu backend: minibatch entry 1 is chunk 5, outside [0, 5)");
        assert_int_equal(xt_backend_loss_grad(be, pick, 5, adv, ret, vals, &coefs, &st, &err),
                         XT_EINVAL);
        assert_string_equal(err.msg, "backend loss_grad: 5 chunks per minibatch, must be 1..4");
        void *fr[] = {P, Gf, obs, act, ol, ad, rt, ov, h0, c0, sym, ai, st8, mk, va, P64, G64};
        for (size_t k = 0; k < sizeof fr / sizeof *fr; k++)
            free(fr[k]);
        xt_cpu_loss_destroy_f64(&L);
        rb_free(&rb);
        xt_backend_destroy(&be);
        assert_null(be);
    }
}

// evaluate == each chunk's own forward over T + 1 steps, the last step reset
// where step T-1 ended an episode.
static void t_evaluate(void **state) {
    (void)state;
    enum { C = 7, T = 5 };
    xt_model_spec s;
    s_spec_small(&s, 1);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 3, cfg.T = T, cfg.threads = 1; // 3 groups: 3 + 3 + 1 chunks
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 3, &err);
    assert_non_null(be);
    const xt_model_layout *lay = xt_backend_layout(be);
    rbatch rb;
    rb_init(&rb, lay, C, T, 8);
    rb.sym[4] = 4;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), XT_EINVAL);
    assert_string_equal(err.msg, "batch.sym[4]: symbol id 4 is outside [0, 4)");
    rb.sym[4] = 3;
    rb.b.T = T + 1;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), XT_EINVAL);
    assert_string_equal(err.msg, "batch.T: must equal the backend's chunk length 5 (got 6)");
    rb.b.T = T;
    rb.b.rewards = NULL;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), XT_EINVAL);
    assert_string_equal(err.msg, "batch.rewards: missing (NULL) but required by the model spec");
    rb.b.rewards = rb.rew;
    rb.term[2 * T + T - 1] = 1; // chunk 2 ends an episode at its last step
    float vals[C * (T + 1)];
    assert_int_equal(xt_backend_evaluate(be, vals, &err), XT_ESTATE);
    assert_contains(err.msg, "no batch set");
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
    assert_int_equal(xt_backend_evaluate(be, vals, &err), 0);
    float *P = s_calloc(lay->n_params, sizeof(float));
    assert_int_equal(xt_backend_download(be, P, NULL, NULL, NULL, NULL, &err), 0);
    xt_model *m = xt_model_new(&s, 1, T + 1, 0, &err);
    const int S = lay->state_size;
    // Tolerance: same float arithmetic with B = 1 instead of B = 3 GEMMs;
    // only the BLAS blocking differs (~1e-7 relative).
    for (int c = 0; c < C; c++) {
        int32_t sym[T + 1];
        uint8_t st[T + 1];
        for (int t = 0; t < T; t++)
            st[t] = rb.starts[c * T + t], sym[t] = rb.sym[c];
        st[T] = rb.term[c * T + T - 1] || rb.trunc[c * T + T - 1];
        sym[T] = rb.sym[c];
        xt_model_input in = {rb.obs + (size_t)c * (T + 1) * s.obs_dim, sym, st,
                             rb.h0 + (size_t)c * S, rb.c0 + (size_t)c * S};
        assert_int_equal(xt_model_forward(m, P, &in, 1, T + 1, XT_NET_CRITIC, &err), 0);
        for (int t = 0; t <= T; t++)
            if (fabs(vals[c * (T + 1) + t] - xt_model_values(m)[t]) > 1e-5) {
                print_error("chunk %d step %d: %g vs %g\n", c, t, vals[c * (T + 1) + t],
                            xt_model_values(m)[t]);
                fail();
            }
    }
    free(P);
    xt_model_destroy(&m);
    rb_free(&rb);
    xt_backend_destroy(&be);
}

// A NaN observation makes the gradient non-finite: the step is refused and
// nothing changes; NaN params are refused at upload; log_std is clamped.
static void t_nonfinite_and_clamp(void **state) {
    (void)state;
    enum { C = 2, T = 4 };
    xt_model_spec s;
    s_spec_small(&s, 1);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = C, cfg.T = T, cfg.threads = 1, cfg.ls_min = -1, cfg.ls_max = 0.5f;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 5, &err);
    const xt_model_layout *lay = xt_backend_layout(be);
    const size_t n = lay->n_params;
    rbatch rb;
    rb_init(&rb, lay, C, T, 6);
    float adv[C * T], ret[C * T], vals[C * (T + 1)];
    for (int k = 0; k < C * T; k++)
        adv[k] = (float)(k % 3) - 1, ret[k] = 0.5f;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
    assert_int_equal(xt_backend_evaluate(be, vals, &err), 0);
    float *before = s_calloc(n, 4), *after = s_calloc(n, 4), *m0 = s_calloc(n, 4),
          *m1 = s_calloc(n, 4);
    int64_t step0, step1;
    assert_int_equal(xt_backend_download(be, before, NULL, m0, NULL, &step0, &err), 0);
    rb.obs[3] = NAN;
    const int pick[C] = {0, 1};
    xt_loss_coefs coefs = {{0.2, 0.5, 0.01, 0}, 1};
    xt_ppo_stats st;
    assert_int_equal(xt_backend_loss_grad(be, pick, C, adv, ret, vals, &coefs, &st, &err), 0);
    assert_true(isnan(st.loss));
    double gn = 0;
    assert_int_equal(xt_backend_step(be, 1e-3, 0.5, &gn, &err), XT_ENUMERIC);
    assert_contains(err.msg, "gradient norm is not finite");
    assert_false(isfinite(gn));
    assert_int_equal(xt_backend_download(be, after, NULL, m1, NULL, &step1, &err), 0);
    assert_memory_equal(before, after, n * sizeof(float));
    assert_memory_equal(m0, m1, n * sizeof(float));
    assert_int_equal(step0, step1);
    xt_backend_timing tm;
    xt_backend_timing_get(be, &tm);
    assert_int_equal(tm.n_step_refused, 1);
    assert_int_equal(tm.n_step, 0);
    // upload refuses NaN params and names the element
    after[17] = NAN;
    assert_int_equal(xt_backend_upload(be, after, NULL, NULL, 0, &err), XT_ENUMERIC);
    assert_string_equal(err.msg, "backend upload: params[17] is not finite (nan)");
    // a finite step with a huge learning rate: log_std ends inside [-1, 0.5]
    rb.obs[3] = 0.25f;
    assert_int_equal(xt_backend_loss_grad(be, pick, C, adv, ret, vals, &coefs, &st, &err), 0);
    assert_int_equal(xt_backend_step(be, 10.0, 0, &gn, &err), 0);
    assert_int_equal(xt_backend_download(be, after, NULL, NULL, NULL, &step1, &err), 0);
    assert_int_equal(step1, 1);
    const float *ls = after + lay->off[XT_T_actor_log_std];
    int at_bound = 0;
    for (int j = 0; j < s.act_dim; j++) {
        assert_true(ls[j] >= -1.0f && ls[j] <= 0.5f);
        at_bound += ls[j] == -1.0f || ls[j] == 0.5f;
    }
    assert_true(at_bound > 0); // lr 10 moved it past a bound: the clamp acted
    // infer without an inference model
    assert_int_equal(xt_backend_infer(be, rb.obs, rb.sym, NULL, rb.h0, rb.c0, adv, NULL, 1, &err),
                     XT_EINVAL);
    assert_string_equal(err.msg, "backend infer: 1 envs, the backend was built for 1..0");
    free(before), free(after), free(m0), free(m1);
    rb_free(&rb);
    xt_backend_destroy(&be);
}

// ---- PPO updates

static void t_ppo_config(void **state) {
    (void)state;
    xt_ppo_config c;
    xt_err err = {0};
    xt_ppo_config_default(&c);
    assert_int_equal(xt_ppo_config_check(&c, &err), 0);
    c.n_epochs = 0;
    assert_int_equal(xt_ppo_config_check(&c, &err), XT_EINVAL);
    assert_string_equal(err.msg, "ppo.n_epochs: must be between 1 and 1000 (got 0)");
    xt_ppo_config_default(&c);
    c.ent[1].step = 0;
    assert_int_equal(xt_ppo_config_check(&c, &err), XT_EINVAL);
    assert_contains(err.msg, "ppo.ent_schedule");
}

// Same seeds and batches -> the same loss sequence and bit-identical weights.
static void s_run_updates(uint64_t seed, int threads, double *losses, float *final,
                          size_t n_params) {
    enum { C = 6, T = 8 };
    xt_model_spec s;
    s_spec_small(&s, 1);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 4, cfg.T = T, cfg.threads = threads;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 11, &err);
    assert_non_null(be);
    xt_ppo_config pc;
    xt_ppo_config_default(&pc);
    pc.n_epochs = 3, pc.minibatch_chunks = 4, pc.seed = seed, pc.hp.vf_clip = 0.2;
    xt_ppo *ppo = xt_ppo_new(be, &pc, C, &err);
    assert_non_null(ppo);
    for (int u = 0; u < 3; u++) {
        rbatch rb;
        rb_init(&rb, xt_backend_layout(be), C, T, 100 + u);
        xt_ppo_report rep;
        assert_int_equal(xt_ppo_update(ppo, &rb.b, 1000 * u, &rep, &err), 0);
        losses[u] = rep.loss;
        assert_int_equal(rep.epochs, 3);
        assert_int_equal(rep.minibatches, 6); // 2 per epoch (4 + 2 chunks)
        assert_int_equal(rep.steps, 6);
        assert_int_equal(rep.skipped, 0);
        int64_t valid = 0;
        for (int k = 0; k < C * T; k++)
            valid += rb.valid[k];
        assert_int_equal(rep.samples, valid);
        assert_int_equal(rep.sample_epochs, 3 * valid);
        assert_true(rep.grad_norm > 0 && isfinite(rep.loss));
        assert_true(rep.t_forward > 0 && rep.t_backward > 0 && rep.t_optimizer > 0);
        assert_true(rep.t_total >= rep.t_forward + rep.t_backward);
        assert_true(rep.lr == 3e-4 && rep.ent_coef == 0.02);
        rb_free(&rb);
    }
    assert_int_equal(xt_backend_download(be, final, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(xt_backend_layout(be)->n_params, n_params);
    xt_ppo_destroy(&ppo);
    xt_backend_destroy(&be);
}

static void t_determinism(void **state) {
    (void)state;
    xt_model_spec s;
    s_spec_small(&s, 1);
    xt_model_layout lay;
    assert_int_equal(xt_model_layout_init(&lay, &s, NULL), 0);
    double l1[3], l2[3], l3[3], l4[3];
    float *w1 = s_calloc(lay.n_params, 4), *w2 = s_calloc(lay.n_params, 4),
          *w3 = s_calloc(lay.n_params, 4), *w4 = s_calloc(lay.n_params, 4);
    s_run_updates(5, 2, l1, w1, lay.n_params);
    s_run_updates(5, 2, l2, w2, lay.n_params);
    s_run_updates(6, 2, l3, w3, lay.n_params);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(w1, w2, lay.n_params * sizeof(float));
    // another shuffling seed takes another path
    assert_true(memcmp(w1, w3, lay.n_params * sizeof(float)) != 0);
    // one thread computes the same bits: each net's and each slab half's
    // arithmetic is the same whichever thread runs it (backend_cpu.c)
    s_run_updates(5, 1, l4, w4, lay.n_params);
    assert_memory_equal(l1, l4, sizeof l1);
    assert_memory_equal(w1, w4, lay.n_params * sizeof(float));
    free(w1), free(w2), free(w3), free(w4);
}

// step = clip + Adam of adam.h over the two halves of the slab, in one pass
// that also clears the gradients: after a step, loss_grad starts from zero
// (without one, loss_grad zeroes first), so a gradient never carries over.
static void t_step_fused(void **state) {
    (void)state;
    enum { C = 3, T = 5 };
    xt_model_spec s;
    s_spec_small(&s, 1);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 2, cfg.T = T, cfg.threads = 2;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 3, &err), *be2 = NULL;
    assert_non_null(be);
    const xt_model_layout *lay = xt_backend_layout(be);
    const size_t n = lay->n_params;
    rbatch rb;
    rb_init(&rb, lay, C, T, 12);
    float adv[C * T], ret[C * T], vals[C * (T + 1)];
    for (int k = 0; k < C * T; k++)
        adv[k] = (float)(k % 5) - 2, ret[k] = (float)(k % 3) * 0.5f;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
    assert_int_equal(xt_backend_evaluate(be, vals, &err), 0);
    const int pick[2] = {2, 0};
    xt_loss_coefs coefs = {{0.2, 0.5, 0.01, 0}, 1};
    xt_ppo_stats st;
    float *P = s_calloc(n, 4), *G = s_calloc(n, 4), *G2 = s_calloc(n, 4), *M = s_calloc(n, 4);
    float *V = s_calloc(n, 4), *P1 = s_calloc(n, 4), *M1 = s_calloc(n, 4), *V1 = s_calloc(n, 4);
    // loss_grad twice without a step: the second zeroes first, same bits
    assert_int_equal(xt_backend_loss_grad(be, pick, 2, adv, ret, vals, &coefs, &st, &err), 0);
    assert_int_equal(xt_backend_download(be, NULL, G2, NULL, NULL, NULL, &err), 0);
    assert_int_equal(xt_backend_loss_grad(be, pick, 2, adv, ret, vals, &coefs, &st, &err), 0);
    assert_int_equal(xt_backend_download(be, P, G, M, V, NULL, &err), 0);
    assert_memory_equal(G, G2, n * sizeof(float));
    // no clipping (max_grad_norm 0): the host's xt_adam_update bit for bit
    xt_adam host = {P, G, M, V, n, 0};
    double gn_host = 0, gn = 0;
    assert_int_equal(xt_adam_update(&host, &cfg.adam, 1e-3, 0, &gn_host), 0);
    assert_int_equal(xt_backend_step(be, 1e-3, 0, &gn, &err), 0);
    // the norm: two half sums instead of one sum, equal to rounding
    assert_true(gn > 0 && fabs(gn - gn_host) <= 1e-12 * gn_host);
    int64_t step = 0;
    assert_int_equal(xt_backend_download(be, P1, G2, M1, V1, &step, &err), 0);
    assert_int_equal(step, 1);
    assert_memory_equal(P1, P, n * sizeof(float));
    assert_memory_equal(M1, M, n * sizeof(float));
    assert_memory_equal(V1, V, n * sizeof(float));
    for (size_t k = 0; k < n; k++)
        assert_true(G2[k] == 0); // the step consumed the gradient
    // the next loss_grad = a fresh backend's with the stepped params
    assert_int_equal(xt_backend_loss_grad(be, pick, 2, adv, ret, vals, &coefs, &st, &err), 0);
    assert_int_equal(xt_backend_download(be, NULL, G, NULL, NULL, NULL, &err), 0);
    be2 = xt_backend_cpu_new(&s, &cfg, 99, &err);
    assert_non_null(be2);
    assert_int_equal(xt_backend_upload(be2, P1, NULL, NULL, 0, &err), 0);
    assert_int_equal(xt_backend_set_batch(be2, &rb.b, &err), 0);
    assert_int_equal(xt_backend_loss_grad(be2, pick, 2, adv, ret, vals, &coefs, &st, &err), 0);
    assert_int_equal(xt_backend_download(be2, NULL, G2, NULL, NULL, NULL, &err), 0);
    assert_memory_equal(G, G2, n * sizeof(float));
    // clipping: the same as the host to float rounding of the clip factor
    memcpy(P, P1, n * sizeof(float)), memcpy(M, M1, n * sizeof(float));
    memcpy(V, V1, n * sizeof(float)), host.step = 1;
    assert_int_equal(xt_adam_update(&host, &cfg.adam, 1e-3, 1e-3, &gn_host), 0);
    assert_int_equal(xt_backend_step(be, 1e-3, 1e-3, &gn, &err), 0);
    assert_true(gn > 1e-3); // the clip acted
    assert_int_equal(xt_backend_download(be, P1, NULL, NULL, NULL, NULL, &err), 0);
    for (size_t k = 0; k < n; k++)
        assert_true(fabsf(P1[k] - P[k]) <= 1e-6f * (1 + fabsf(P[k])));
    free(P), free(G), free(G2), free(M), free(V), free(P1), free(M1), free(V1);
    rb_free(&rb);
    xt_backend_destroy(&be2);
    xt_backend_destroy(&be);
}

// Target KL: a tiny target stops after the first minibatch, unapplied.
static void t_target_kl(void **state) {
    (void)state;
    enum { C = 4, T = 8 };
    xt_model_spec s;
    s_spec_small(&s, 0);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 2, cfg.T = T, cfg.threads = 1;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 1, &err);
    xt_ppo_config pc;
    xt_ppo_config_default(&pc);
    pc.minibatch_chunks = 2, pc.target_kl = 1e-9;
    xt_ppo *ppo = xt_ppo_new(be, &pc, C, &err);
    rbatch rb;
    rb_init(&rb, xt_backend_layout(be), C, T, 3); // behaviour logp != current: KL > 0
    xt_ppo_report rep;
    assert_int_equal(xt_ppo_update(ppo, &rb.b, 300000, &rep, &err), 0);
    assert_int_equal(rep.kl_stop, 1);
    assert_int_equal(rep.epochs, 1);
    assert_int_equal(rep.minibatches, 1);
    assert_int_equal(rep.steps, 0);
    assert_true(rep.ent_coef == 0.01); // 300k steps: second entropy stage
    rb_free(&rb);
    xt_ppo_destroy(&ppo);
    xt_backend_destroy(&be);
}

// Reward normalization: advantages do not depend on the reward's units
// (rewards x 1000 give the same GAE advantages), and the running statistics
// round-trip through the accessors used by checkpoints.
static void t_reward_normalization(void **state) {
    (void)state;
    enum { C = 4, T = 8 };
    float adv[2][C * T];
    for (int run = 0; run < 2; run++) {
        xt_model_spec s;
        s_spec_small(&s, 0);
        xt_backend_config cfg;
        xt_backend_config_default(&cfg);
        cfg.max_chunks = 2, cfg.T = T, cfg.threads = 1;
        xt_err err = {0};
        xt_backend *be = xt_backend_cpu_new(&s, &cfg, 1, &err);
        xt_ppo_config pc;
        xt_ppo_config_default(&pc);
        pc.minibatch_chunks = 2, pc.n_epochs = 1, pc.normalize_reward = 1, pc.reward_clip = 0;
        xt_ppo *ppo = xt_ppo_new(be, &pc, C, &err);
        rbatch rb;
        rb_init(&rb, xt_backend_layout(be), C, T, 5);
        if (run == 1)
            for (int k = 0; k < C * T; k++) rb.rew[k] *= 1000.0f;
        xt_ppo_report rep;
        assert_int_equal(xt_ppo_update(ppo, &rb.b, 0, &rep, &err), 0);
        memcpy(adv[run], xt_ppo_advantages(ppo), sizeof adv[run]);
        double st[3], back[3] = {3, 0.5, 7};
        xt_ppo_reward_stats(ppo, st);
        assert_true(st[0] > 1 && st[2] > 0);
        xt_ppo_set_reward_stats(ppo, back);
        xt_ppo_reward_stats(ppo, st);
        assert_true(st[0] == 3 && st[1] == 0.5 && st[2] == 7);
        rb_free(&rb);
        xt_ppo_destroy(&ppo);
        xt_backend_destroy(&be);
    }
    // Values come from the same initial critic in both runs, so only the
    // reward scale differs: GAE on scaled rewards is identical up to rounding.
    for (int k = 0; k < C * T; k++) assert_true(fabsf(adv[0][k] - adv[1][k]) <= 1e-4f * (1.0f + fabsf(adv[0][k])));
}

// ---- learning: a recurrent memory task
//
// Episodes of 4 steps. Step 0 shows a cue (+1 or -1) in obs[0]; steps 1-3
// show 0 there; obs[1] = 1 marks the last step, where action 1 earns +1 if
// the cue was +1 and action 0 earns +1 if it was -1 (0 otherwise). Other
// steps pay nothing. Only a policy that remembers the cue for 3 steps beats
// chance (0.5); PPO through the LSTM must reach > 0.9 greedy accuracy.

enum { MEM_EP = 4, MEM_ENVS = 32, MEM_T = 8 };

typedef struct {
    int t[MEM_ENVS];
    float cue[MEM_ENVS];
} mem_env;

static void mem_obs(const mem_env *e, float *obs) {
    for (int b = 0; b < MEM_ENVS; b++) {
        obs[b * 2] = e->t[b] == 0 ? e->cue[b] : 0.0f;
        obs[b * 2 + 1] = e->t[b] == MEM_EP - 1 ? 1.0f : 0.0f;
    }
}

// Trains for at most 150 updates of 32 chunks x 8 steps; returns the greedy
// accuracy on fresh episodes.
static double s_memory_task(int lstm_layers) {
    xt_model_spec s;
    xt_model_spec_default(&s, 2, 2, 0);
    s.lstm_layers = lstm_layers, s.lstm_hidden = 16, s.mlp_layers = 1, s.mlp[0] = 32;
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 16, cfg.T = MEM_T, cfg.max_infer = MEM_ENVS, cfg.threads = 1;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 2024, &err);
    assert_non_null(be);
    xt_ppo_config pc;
    xt_ppo_config_default(&pc);
    pc.n_epochs = 4, pc.minibatch_chunks = 8, pc.n_ent = 0, pc.hp.ent_coef = 0.01;
    pc.lr.lr_start = 3e-3, pc.gamma = 0.99;
    xt_ppo *ppo = xt_ppo_new(be, &pc, MEM_ENVS, &err);
    assert_non_null(ppo);
    const int S = xt_backend_layout(be)->state_size, C = MEM_ENVS, T = MEM_T;
    float *h = s_calloc((size_t)S * C, 4), *c = s_calloc((size_t)S * C, 4);
    float *obs = s_calloc((size_t)C * (T + 1) * 2, 4), *h0 = s_calloc((size_t)S * C, 4);
    float *c0 = s_calloc((size_t)S * C, 4), *logp = s_calloc((size_t)C * T, 4);
    float *rew = s_calloc((size_t)C * T, 4), *logits = s_calloc(C * 2, 4);
    float step_obs[MEM_ENVS * 2], u[MEM_ENVS], lp[MEM_ENVS];
    int32_t *act = s_calloc((size_t)C * T, 4), a[MEM_ENVS];
    uint8_t *starts = s_calloc((size_t)C * T, 1), *term = s_calloc((size_t)C * T, 1);
    uint8_t st[MEM_ENVS];
    mem_env env;
    xt_rng g;
    xt_rng_seed(&g, 99);
    for (int b = 0; b < C; b++)
        env.t[b] = 0, env.cue[b] = xt_rng_uniform(&g) < 0.5 ? 1.0f : -1.0f;
    memset(st, 1, sizeof st);
    const int H = s.lstm_hidden, n_state = S ? S / H : 0;
    double acc = 0;
    int64_t steps = 0;
    for (int update = 0; update < 150; update++) {
        // the chunk starts: record (h, c) per env, chunk-major [C][S]
        for (int j = 0; j < n_state; j++)
            for (int b = 0; b < C; b++) {
                memcpy(h0 + (size_t)b * S + j * H, h + ((size_t)j * C + b) * H, H * 4);
                memcpy(c0 + (size_t)b * S + j * H, c + ((size_t)j * C + b) * H, H * 4);
            }
        int right = 0, decisions = 0;
        for (int t = 0; t <= T; t++) {
            mem_obs(&env, step_obs);
            for (int b = 0; b < C; b++)
                memcpy(obs + ((size_t)b * (T + 1) + t) * 2, step_obs + b * 2, 8);
            if (t == T)
                break;
            assert_int_equal(xt_backend_infer(be, step_obs, NULL, st, h, c, logits, NULL, C, &err),
                             0);
            for (int b = 0; b < C; b++)
                u[b] = xt_rng_uniformf(&g);
            assert_int_equal(xt_heads_cat_sample(a, lp, logits, NULL, u, C, 2), 0);
            for (int b = 0; b < C; b++) {
                size_t i = (size_t)b * T + t;
                act[i] = a[b], logp[i] = lp[b], starts[i] = st[b];
                int last = env.t[b] == MEM_EP - 1;
                rew[i] = last && (a[b] == 1) == (env.cue[b] > 0) ? 1.0f : 0.0f;
                term[i] = (uint8_t)last;
                right += last && rew[i] > 0, decisions += last;
                st[b] = (uint8_t)last;
                if (last)
                    env.cue[b] = xt_rng_uniform(&g) < 0.5 ? 1.0f : -1.0f;
                env.t[b] = last ? 0 : env.t[b] + 1;
            }
        }
        xt_batch batch = {.C = C,
                          .T = T,
                          .obs = obs,
                          .actions_i = act,
                          .logp = logp,
                          .rewards = rew,
                          .starts = starts,
                          .terminated = term,
                          .h0 = h0,
                          .c0 = c0};
        xt_ppo_report rep;
        assert_int_equal(xt_ppo_update(ppo, &batch, steps, &rep, &err), 0);
        assert_int_equal(rep.skipped, 0);
        steps += C * T;
        acc = (double)right / decisions;
        if (update >= 20 && acc > 0.97)
            break;
    }
    // greedy evaluation on fresh episodes with the trained weights
    memset(h, 0, (size_t)S * C * 4), memset(c, 0, (size_t)S * C * 4);
    for (int b = 0; b < C; b++)
        env.t[b] = 0, env.cue[b] = b % 2 ? 1.0f : -1.0f;
    int right = 0;
    for (int round = 0; round < 4; round++)
        for (int t = 0; t < MEM_EP; t++) {
            mem_obs(&env, step_obs);
            memset(st, t == 0, sizeof st);
            assert_int_equal(xt_backend_infer(be, step_obs, NULL, st, h, c, logits, NULL, C, &err),
                             0);
            xt_heads_cat_argmax(a, NULL, logits, NULL, C, 2);
            for (int b = 0; b < C; b++) {
                if (t == MEM_EP - 1)
                    right += (a[b] == 1) == (env.cue[b] > 0);
                env.t[b] = (env.t[b] + 1) % MEM_EP;
                if (t == MEM_EP - 1)
                    env.cue[b] = (b + round) % 3 ? -env.cue[b] : env.cue[b];
            }
        }
    double greedy = right / (4.0 * C);
    print_message("memory task, %d LSTM layers: sampled accuracy %.3f after %lld env steps, "
                  "greedy %.3f\n",
                  lstm_layers, acc, (long long)steps, greedy);
    void *fr[] = {h, c, obs, h0, c0, logp, rew, logits, act, starts, term};
    for (size_t k = 0; k < sizeof fr / sizeof *fr; k++)
        free(fr[k]);
    xt_ppo_destroy(&ppo);
    xt_backend_destroy(&be);
    return greedy;
}

static void t_learn_memory(void **state) {
    (void)state;
    // with an LSTM the cue is remembered
    assert_true(s_memory_task(1) > 0.9);
    // a feed-forward policy sees the same input at every decision: chance
    assert_true(s_memory_task(0) < 0.7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_ppo_grad_gauss),
        cmocka_unit_test(t_ppo_grad_cat),
        cmocka_unit_test(t_backend_matches_reference),
        cmocka_unit_test(t_evaluate),
        cmocka_unit_test(t_nonfinite_and_clamp),
        cmocka_unit_test(t_ppo_config),
        cmocka_unit_test(t_determinism),
        cmocka_unit_test(t_step_fused),
        cmocka_unit_test(t_target_kl), cmocka_unit_test(t_reward_normalization),
        cmocka_unit_test(t_learn_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
