// test_cuda_backend.c - the CUDA backend against the CPU reference backend.
//
// For several network shapes (seed 003's, Gaussian + embedding + shared
// trunk, no LSTM, LSTM straight into the heads), the same params and the
// same batch go through both backends and the test compares: evaluated
// values, device GAE, every loss term, the per-sample log-probs, entropies
// and values, every named gradient tensor of the X-macro table, the
// gradient norms and params over 20 Adam steps, a whole PPO update,
// batched inference with its carried state, determinism, and the error
// paths. Without a usable GPU it prints "skipped: <reason>" and exits 77.
//
// Tolerances (s_tol_* below). Both backends compute in float32 with the
// same per-element formulas; they differ in summation order (OpenBLAS's
// blocked sgemm and sequential loops vs cuBLAS / cuDNN kernels in strict
// FP32 and tree reductions). A sum of K float products is off by about
// sqrt(K) * 2^-24 relative to its magnitude; the K here are at most a few
// thousand (rows x width), and BPTT over T = 16 steps compounds that by at
// most ~T. So an honest mismatch stays near 1e-5 of a tensor's largest
// magnitude; a real bug (gate order, a missed reset, a transposed matrix, a
// dropped bias gradient) is of the order of the tensor itself. Each check
// compares NaN/inf first, then the max-abs error against
// rtol * (max |reference| + floor) and prints the ratio, so a log shows
// the margin of every tensor.
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "cuda/backend_cuda.h"
#include "nn/backend.h"
#include "nn/gae.h"
#include "nn/heads.h"
#include "nn/ppo.h"

// values, log-probs, entropies: per-sample forward results (~T recurrent steps)
static const double s_tol_fwd = 1e-4;
// gradients of dense, head, embedding and log-std tensors
static const double s_tol_grad = 5e-4;
// gradients of LSTM tensors: cuDNN sums BPTT terms over T x rows in its own order
static const double s_tol_grad_lstm = 2e-3;

static void *s_calloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    assert_non_null(p);
    return p;
}

static double s_u(xt_rng *r, double a) { return a * (2 * xt_rng_uniform(r) - 1); }

// ---- comparison

// NaN/inf agreement, then max |got - ref| <= rtol * (max |ref| + floor).
static void s_cmp(const char *what, const float *got, const float *ref, size_t n, double rtol,
                  double floor) {
    double big = 0, worst = 0;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        if (isfinite(ref[k]) != isfinite(got[k])) {
            print_error("%s[%zu]: cuda %g, cpu %g (non-finite mismatch)\n", what, k,
                        (double)got[k], (double)ref[k]);
            fail();
        }
        if (!isfinite(ref[k])) continue;
        big = fmax(big, fabs(ref[k]));
        double e = fabs((double)got[k] - ref[k]);
        if (e > worst) worst = e, at = k;
    }
    const double tol = rtol * (big + floor);
    print_message("  %-26s n %7zu  max|cpu| %9.3g  max err %9.3g  ratio %8.2e  (tol %.0e)\n",
                  what, n, big, worst, big + floor > 0 ? worst / (big + floor) : 0.0, rtol);
    if (worst > tol) {
        print_error("%s: element %zu: cuda %.9g cpu %.9g (error %g > %g)\n", what, at,
                    (double)got[at], (double)ref[at], worst, tol);
        fail();
    }
}

static void s_cmp_d(const char *what, double got, double ref, double rtol, double atol) {
    print_message("  %-26s cuda %.9g  cpu %.9g\n", what, got, ref);
    if (isnan(ref) != isnan(got) || fabs(got - ref) > rtol * fabs(ref) + atol) {
        print_error("%s: cuda %.9g cpu %.9g\n", what, got, ref);
        fail();
    }
}

// Every named tensor of the table, with its kind's tolerance; every tensor
// the reference moves must be nonzero there (or the comparison says nothing).
static void s_cmp_grads(const xt_model_layout *lay, const float *got, const float *ref) {
    for (int id = 0; id < XT_T_COUNT; id++) {
        const size_t n = xt_model_tensor_size(lay, id), o = lay->off[id];
        if (!n) continue;
        const char *name = xt_model_tensor_name(id);
        const double tol = strstr(name, "lstm") ? s_tol_grad_lstm : s_tol_grad;
        s_cmp(name, got + o, ref + o, n, tol, 1e-6);
    }
}

// ---- network shapes and their batches

typedef struct {
    const char *name;
    int obs, act, gauss, H, L, M, mlp0, mlp1, nsym, emb, shared;
    int C, T, max_chunks, max_infer;
    double reset_p;            // density of episode ends (and of resets at t = 0)
    int masks, valid, h0;      // optional batch fields present
    double vf_clip;
} s_case;

static const s_case s_cases[] = {
    // seed 003: obs 97, 2 x 128 LSTM actor + critic, MLP 256/128, 7 masked actions
    {"seed003", 97, 7, 0, 128, 2, 2, 256, 128, 0, 0, 0, 6, 16, 4, 5, 0.1, 1, 1, 1, 0.2},
    {"gauss_emb_shared", 6, 4, 1, 16, 2, 2, 24, 12, 3, 2, 1, 7, 12, 4, 5, 0.4, 1, 1, 1, 0.0},
    {"mlp_only", 9, 5, 0, 8, 0, 2, 32, 16, 4, 3, 0, 5, 8, 3, 4, 0.2, 0, 0, 0, 0.1},
    {"lstm_into_heads", 5, 3, 1, 12, 1, 0, 0, 0, 2, 2, 0, 5, 10, 5, 3, 0.3, 1, 1, 1, 0.3},
};

static void s_spec(const s_case *c, xt_model_spec *s) {
    xt_model_spec_default(s, c->obs, c->act, c->gauss);
    s->lstm_hidden = c->H, s->lstm_layers = c->L, s->mlp_layers = c->M;
    s->mlp[0] = c->mlp0, s->mlp[1] = c->mlp1;
    s->n_symbols = c->nsym, s->emb_dim = c->emb, s->shared_trunk = c->shared;
}

static void s_cfg(const s_case *c, xt_backend_config *cfg) {
    xt_backend_config_default(cfg);
    cfg->max_chunks = c->max_chunks, cfg->T = c->T, cfg->max_infer = c->max_infer;
    cfg->threads = 2;
}

typedef struct {
    xt_batch b;
    float *obs, *act, *logp, *rew, *tv, *h0, *c0;
    int32_t *sym, *act_i;
    uint8_t *masks, *starts, *term, *trunc, *valid;
} rbatch;

static void rb_init(rbatch *r, const s_case *cs, const xt_model_layout *lay, uint64_t seed) {
    const xt_model_spec *s = &lay->spec;
    const int C = cs->C, T = cs->T, A = s->act_dim, D = s->obs_dim, S = lay->state_size;
    const size_t N = (size_t)C * T;
    xt_rng g;
    xt_rng_seed(&g, seed);
    memset(r, 0, sizeof *r);
    r->obs = s_calloc((size_t)C * (T + 1) * D, sizeof(float));
    for (size_t k = 0; k < (size_t)C * (T + 1) * D; k++) r->obs[k] = (float)xt_rng_normal(&g);
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
        r->logp[i] = (float)(s->gaussian ? -1.2 * A + s_u(&g, 0.5) : -log(A) + s_u(&g, 0.3));
        r->rew[i] = (float)xt_rng_normal(&g);
        r->tv[i] = (float)xt_rng_normal(&g);
        r->term[i] = xt_rng_uniform(&g) < cs->reset_p / 2;
        r->trunc[i] = !r->term[i] && xt_rng_uniform(&g) < cs->reset_p / 2;
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
    for (int c = 0; c < C; c++) r->sym[c] = s->n_symbols ? (c * 7 + 1) % s->n_symbols : 0;
    r->h0 = s_calloc((size_t)C * S, sizeof(float));
    r->c0 = s_calloc((size_t)C * S, sizeof(float));
    for (size_t k = 0; k < (size_t)C * S; k++) r->h0[k] = (float)s_u(&g, 0.5);
    for (size_t k = 0; k < (size_t)C * S; k++) r->c0[k] = (float)s_u(&g, 1.0);
    r->b = (xt_batch){
        .C = C,
        .T = T,
        .obs = r->obs,
        .sym = s->emb_dim ? r->sym : NULL,
        .actions = s->gaussian ? r->act : NULL,
        .actions_i = s->gaussian ? NULL : r->act_i,
        .masks = cs->masks ? r->masks : NULL,
        .logp = r->logp,
        .rewards = r->rew,
        .starts = r->starts,
        .terminated = r->term,
        .truncated = r->trunc,
        .trunc_value = r->tv,
        .valid = cs->valid ? r->valid : NULL,
        .h0 = cs->h0 ? r->h0 : NULL,
        .c0 = cs->h0 ? r->c0 : NULL,
    };
}

static void rb_free(rbatch *r) {
    void *p[] = {r->obs, r->act, r->logp, r->rew, r->tv, r->h0, r->c0, r->sym,
                 r->act_i, r->masks, r->starts, r->term, r->trunc, r->valid};
    for (size_t k = 0; k < sizeof p / sizeof *p; k++) free(p[k]);
}

// The two backends of a case, with the CPU's params on both.
typedef struct {
    const s_case *cs;
    xt_model_spec spec;
    xt_backend_config cfg;
    xt_backend *cpu, *gpu;
    const xt_model_layout *lay;
    size_t n;
} pair;

static void pair_init(pair *p, const s_case *cs, int tf32) {
    memset(p, 0, sizeof *p);
    p->cs = cs;
    s_spec(cs, &p->spec);
    s_cfg(cs, &p->cfg);
    xt_err err = {0};
    p->cpu = xt_backend_cpu_new(&p->spec, &p->cfg, 9, &err);
    assert_non_null(p->cpu);
    xt_cuda_config cc;
    xt_cuda_config_default(&cc);
    cc.seed = 9, cc.tf32 = tf32;
    int rc = xt_backend_cuda_new_ex(&p->gpu, &p->spec, &p->cfg, &cc, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(xt_backend_name(p->gpu), "cuda");
    p->lay = xt_backend_layout(p->cpu);
    p->n = p->lay->n_params;
    assert_int_equal(xt_backend_layout(p->gpu)->n_params, p->n);
    // the same seed: the same initial params, bit for bit (one host function)
    float *a = s_calloc(p->n, 4), *b = s_calloc(p->n, 4);
    assert_int_equal(xt_backend_download(p->cpu, a, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(xt_backend_download(p->gpu, b, NULL, NULL, NULL, NULL, &err), 0);
    assert_memory_equal(a, b, p->n * 4);
    // perturb so that biases and log_std are not at their initial constants
    xt_rng g;
    xt_rng_seed(&g, 31);
    for (size_t k = 0; k < p->n; k++) a[k] += (float)s_u(&g, 0.05);
    assert_int_equal(xt_backend_upload(p->cpu, a, NULL, NULL, 0, &err), 0);
    assert_int_equal(xt_backend_upload(p->gpu, a, NULL, NULL, 0, &err), 0);
    free(a), free(b);
}

static void pair_free(pair *p) {
    xt_backend_destroy(&p->cpu);
    xt_backend_destroy(&p->gpu);
}

// GAE per chunk on the host (as nn/ppo.c) from the given values.
static void s_gae(const rbatch *rb, const float *vals, float *adv, float *ret) {
    const int C = rb->b.C, T = rb->b.T;
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * T;
        xt_gae_compute(adv + o, ret + o, rb->rew + o, vals + (size_t)c * (T + 1), rb->term + o,
                       rb->trunc + o, rb->tv + o, 0.99f, 0.95f, T, 1);
    }
}

// Per-sample log-prob, entropy and value of a minibatch through the CPU model
// (time-major [T][n], as xt_minibatch), from params P.
static void s_cpu_samples(const pair *p, const rbatch *rb, const float *P, const int *pick, int n,
                          float *logp, float *ent, float *val) {
    const xt_model_spec *s = &p->spec;
    const int T = rb->b.T, A = s->act_dim, D = s->obs_dim, S = p->lay->state_size, H = s->lstm_hidden;
    const size_t N = (size_t)n * T;
    float *obs = s_calloc(N * D, 4), *act = s_calloc(N * A, 4), *h0 = s_calloc((size_t)S * n, 4);
    float *c0 = s_calloc((size_t)S * n, 4), *probs = s_calloc(N * A, 4);
    int32_t *sym = s_calloc(N, 4), *ai = s_calloc(N, 4);
    uint8_t *st = s_calloc(N, 1), *mk = s_calloc(N * A, 1);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < n; b++) {
            size_t r = (size_t)t * n + b, i = (size_t)pick[b] * T + t;
            memcpy(obs + r * D, rb->obs + ((size_t)pick[b] * (T + 1) + t) * D, (size_t)D * 4);
            memcpy(act + r * A, rb->act + i * A, (size_t)A * 4);
            memcpy(mk + r * A, rb->masks + i * A, (size_t)A);
            ai[r] = rb->act_i[i], sym[r] = rb->sym[pick[b]], st[r] = rb->starts[i];
        }
    for (int j = 0; S && j < S / H; j++)
        for (int b = 0; b < n; b++) {
            memcpy(h0 + ((size_t)j * n + b) * H, rb->h0 + (size_t)pick[b] * S + (size_t)j * H, (size_t)H * 4);
            memcpy(c0 + ((size_t)j * n + b) * H, rb->c0 + (size_t)pick[b] * S + (size_t)j * H, (size_t)H * 4);
        }
    xt_err err = {0};
    xt_model *m = xt_model_new(s, n, T, 0, &err);
    assert_non_null(m);
    xt_model_input in = {obs, s->emb_dim ? sym : NULL, st, rb->b.h0 ? h0 : NULL, rb->b.h0 ? c0 : NULL};
    assert_int_equal(xt_model_forward(m, P, &in, n, T, XT_NET_BOTH, &err), 0);
    const uint8_t *mask = rb->b.masks ? mk : NULL;
    if (s->gaussian)
        xt_heads_gauss_forward(logp, ent, xt_model_actor_out(m), P + p->lay->off[XT_T_actor_log_std],
                               act, mask, p->cfg.ls_min, p->cfg.ls_max, (int)N, A);
    else
        (void)xt_heads_cat_forward(logp, ent, probs, xt_model_actor_out(m), mask, ai, (int)N, A);
    memcpy(val, xt_model_values(m), N * 4);
    xt_model_destroy(&m);
    void *fr[] = {obs, act, h0, c0, probs, sym, ai, st, mk};
    for (size_t k = 0; k < sizeof fr / sizeof *fr; k++) free(fr[k]);
}

// ---- parity: evaluate, GAE, loss terms, samples, gradients, 20 Adam steps

static void s_parity(const s_case *cs) {
    print_message("case %s\n", cs->name);
    pair p;
    pair_init(&p, cs, 0);
    xt_err err = {0};
    rbatch rb;
    rb_init(&rb, cs, p.lay, 100);
    const int C = cs->C, T = cs->T, n = cs->max_chunks;
    rb.term[2 * T + T - 1] = 1; // chunk 2 ends an episode at its last step: evaluate resets step T
    assert_int_equal(xt_backend_set_batch(p.cpu, &rb.b, &err), 0);
    assert_int_equal(xt_backend_set_batch(p.gpu, &rb.b, &err), 0);
    // values of every chunk's T + 1 steps
    float *vc = s_calloc((size_t)C * (T + 1), 4), *vg = s_calloc((size_t)C * (T + 1), 4);
    assert_int_equal(xt_backend_evaluate(p.cpu, vc, &err), 0);
    assert_int_equal(xt_backend_evaluate(p.gpu, vg, &err), 0);
    s_cmp("evaluate values", vg, vc, (size_t)C * (T + 1), s_tol_fwd, 1);
    // GAE on the device from the same values
    float *adv = s_calloc((size_t)C * T, 4), *ret = s_calloc((size_t)C * T, 4);
    float *adv_g = s_calloc((size_t)C * T, 4), *ret_g = s_calloc((size_t)C * T, 4);
    s_gae(&rb, vc, adv, ret);
    assert_int_equal(xt_backend_cuda_gae(p.gpu, adv_g, ret_g, vc, 0.99, 0.95, &err), 0);
    s_cmp("gae advantages", adv_g, adv, (size_t)C * T, 1e-5, 1);
    s_cmp("gae returns", ret_g, ret, (size_t)C * T, 1e-5, 1);
    // one minibatch: every loss term, per-sample outputs, every gradient
    int pick[8];
    for (int k = 0; k < n; k++) pick[k] = (C + 2 - k) % C; // distinct, out of order
    xt_loss_coefs coefs = {{0.2, 0.5, 0.01, cs->vf_clip}, 1};
    xt_ppo_stats sc, sg;
    assert_int_equal(xt_backend_loss_grad(p.cpu, pick, n, adv, ret, vc, &coefs, &sc, &err), 0);
    int rc = xt_backend_loss_grad(p.gpu, pick, n, adv, ret, vc, &coefs, &sg, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sg.n_valid, sc.n_valid);
    s_cmp_d("policy_loss", sg.policy_loss, sc.policy_loss, 1e-4, 1e-6);
    s_cmp_d("value_loss", sg.value_loss, sc.value_loss, 1e-4, 1e-6);
    s_cmp_d("entropy", sg.entropy, sc.entropy, 1e-5, 1e-6);
    s_cmp_d("approx_kl", sg.approx_kl, sc.approx_kl, 1e-3, 1e-6);
    s_cmp_d("clip_fraction", sg.clip_fraction, sc.clip_fraction, 0, 1.5 / sc.n_valid);
    s_cmp_d("loss", sg.loss, sc.loss, 1e-4, 1e-6);
    const size_t N = (size_t)n * T;
    float *P = s_calloc(p.n, 4), *lc = s_calloc(N, 4), *ec = s_calloc(N, 4), *wc = s_calloc(N, 4);
    float *lg = s_calloc(N, 4), *eg = s_calloc(N, 4), *wg = s_calloc(N, 4);
    assert_int_equal(xt_backend_download(p.cpu, P, NULL, NULL, NULL, NULL, &err), 0);
    s_cpu_samples(&p, &rb, P, pick, n, lc, ec, wc);
    assert_int_equal(xt_backend_cuda_last_samples(p.gpu, lg, eg, wg, &err), 0);
    s_cmp("sample log-probs", lg, lc, N, s_tol_fwd, 1);
    s_cmp("sample entropies", eg, ec, N, s_tol_fwd, 1);
    s_cmp("sample values", wg, wc, N, s_tol_fwd, 1);
    float *gc = s_calloc(p.n, 4), *gg = s_calloc(p.n, 4), *gg2 = s_calloc(p.n, 4);
    assert_int_equal(xt_backend_download(p.cpu, NULL, gc, NULL, NULL, NULL, &err), 0);
    assert_int_equal(xt_backend_download(p.gpu, NULL, gg, NULL, NULL, NULL, &err), 0);
    s_cmp_grads(p.lay, gg, gc);
    // deterministic: the same minibatch again gives the same bits
    xt_ppo_stats sg2;
    assert_int_equal(xt_backend_loss_grad(p.gpu, pick, n, adv, ret, vc, &coefs, &sg2, &err), 0);
    assert_int_equal(xt_backend_download(p.gpu, NULL, gg2, NULL, NULL, NULL, &err), 0);
    assert_memory_equal(gg, gg2, p.n * 4);
    assert_memory_equal(&sg.loss, &sg2.loss, sizeof sg.loss);
    // stage timings were measured
    xt_cuda_stages stg;
    assert_int_equal(xt_backend_cuda_stages(p.gpu, &stg, &err), 0);
    assert_true(stg.gather > 0 && stg.mlp_fwd > 0 && stg.loss > 0 && stg.mlp_bwd > 0);
    assert_true(cs->L == 0 || (stg.lstm_fwd > 0 && stg.lstm_bwd > 0 && stg.max_segments >= n));
    // 20 Adam steps on both, minibatches rotating: norms track, params stay together
    const double lr = 3e-4;
    float *before = s_calloc(p.n, 4), *pc = s_calloc(p.n, 4), *pg = s_calloc(p.n, 4);
    memcpy(before, P, p.n * 4);
    for (int step = 0; step < 20; step++) {
        for (int k = 0; k < n; k++) pick[k] = (step + k) % C;
        assert_int_equal(xt_backend_loss_grad(p.cpu, pick, n, adv, ret, vc, &coefs, &sc, &err), 0);
        assert_int_equal(xt_backend_loss_grad(p.gpu, pick, n, adv, ret, vc, &coefs, &sg, &err), 0);
        double nc = 0, ng = 0;
        assert_int_equal(xt_backend_step(p.cpu, lr, 0.5, &nc, &err), 0);
        assert_int_equal(xt_backend_step(p.gpu, lr, 0.5, &ng, &err), 0);
        if (fabs(ng - nc) > 1e-3 * nc) {
            print_error("step %d: grad norm cuda %.9g cpu %.9g\n", step, ng, nc);
            fail();
        }
    }
    int64_t kc = 0, kg = 0;
    assert_int_equal(xt_backend_download(p.cpu, pc, NULL, NULL, NULL, &kc, &err), 0);
    assert_int_equal(xt_backend_download(p.gpu, pg, NULL, NULL, NULL, &kg, &err), 0);
    assert_int_equal(kc, 20);
    assert_int_equal(kg, 20);
    // Adam normalizes each element's step: |step| <= ~lr, so 20 steps move an
    // element at most ~20 lr, and an element whose gradient is at rounding
    // level may step the other way. Criterion per tensor: every difference
    // within the 40 lr bound, and the mean difference under 5% of the mean
    // movement (a wrong moment, bias correction or clip gives O(1) there).
    for (int id = 0; id < XT_T_COUNT; id++) {
        const size_t sz = xt_model_tensor_size(p.lay, id), o = p.lay->off[id];
        if (!sz) continue;
        double moved = 0, diff = 0, worst = 0;
        for (size_t k = 0; k < sz; k++) {
            assert_true(isfinite(pg[o + k]));
            moved += fabs(pc[o + k] - before[o + k]);
            diff += fabs(pg[o + k] - pc[o + k]);
            worst = fmax(worst, fabs(pg[o + k] - pc[o + k]));
        }
        print_message("  20 steps %-17s mean moved %9.3g  mean diff %9.3g  max diff %9.3g\n",
                      xt_model_tensor_name(id), moved / sz, diff / sz, worst);
        assert_true(worst <= 40 * lr);
        assert_true(diff <= 0.05 * moved + 1e-7 * sz);
    }
    void *fr[] = {vc, vg, adv, ret, adv_g, ret_g, P, lc, ec, wc, lg, eg, wg, gc, gg, gg2, before, pc, pg};
    for (size_t k = 0; k < sizeof fr / sizeof *fr; k++) free(fr[k]);
    rb_free(&rb);
    pair_free(&p);
}

static void t_parity_seed003(void **state) { (void)state, s_parity(&s_cases[0]); }
static void t_parity_gauss_emb_shared(void **state) { (void)state, s_parity(&s_cases[1]); }
static void t_parity_mlp_only(void **state) { (void)state, s_parity(&s_cases[2]); }
static void t_parity_lstm_into_heads(void **state) { (void)state, s_parity(&s_cases[3]); }

// ---- a whole PPO update over each backend

static void s_ppo(const s_case *cs) {
    print_message("ppo update, case %s\n", cs->name);
    pair p;
    pair_init(&p, cs, 0);
    xt_err err = {0};
    rbatch rb;
    rb_init(&rb, cs, p.lay, 200);
    xt_ppo_config pc;
    xt_ppo_config_default(&pc);
    pc.n_epochs = 3, pc.minibatch_chunks = cs->max_chunks, pc.hp.vf_clip = cs->vf_clip, pc.seed = 5;
    xt_ppo *uc = xt_ppo_new(p.cpu, &pc, cs->C, &err), *ug = xt_ppo_new(p.gpu, &pc, cs->C, &err);
    assert_non_null(uc);
    assert_non_null(ug);
    float *before = s_calloc(p.n, 4), *wc = s_calloc(p.n, 4), *wg = s_calloc(p.n, 4);
    assert_int_equal(xt_backend_download(p.cpu, before, NULL, NULL, NULL, NULL, &err), 0);
    xt_ppo_report rc_, rg;
    assert_int_equal(xt_ppo_update(uc, &rb.b, 1000, &rc_, &err), 0);
    int rc = xt_ppo_update(ug, &rb.b, 1000, &rg, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(rg.epochs, rc_.epochs);
    assert_int_equal(rg.minibatches, rc_.minibatches);
    assert_int_equal(rg.steps, rc_.steps);
    assert_int_equal(rg.skipped, 0);
    assert_int_equal(rg.samples, rc_.samples);
    assert_int_equal(rg.sample_epochs, rc_.sample_epochs);
    s_cmp_d("explained_variance", rg.explained_variance, rc_.explained_variance, 1e-3, 1e-5);
    s_cmp_d("policy_loss", rg.policy_loss, rc_.policy_loss, 2e-3, 1e-5);
    s_cmp_d("value_loss", rg.value_loss, rc_.value_loss, 1e-3, 1e-5);
    s_cmp_d("entropy", rg.entropy, rc_.entropy, 1e-4, 1e-6);
    s_cmp_d("approx_kl", rg.approx_kl, rc_.approx_kl, 1e-2, 1e-6);
    s_cmp_d("loss", rg.loss, rc_.loss, 2e-3, 1e-5);
    s_cmp_d("grad_norm", rg.grad_norm, rc_.grad_norm, 1e-3, 0);
    assert_true(rg.t_forward > 0 && rg.t_backward > 0 && rg.t_optimizer > 0 && rg.t_evaluate > 0);
    assert_int_equal(xt_backend_download(p.cpu, wc, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(xt_backend_download(p.gpu, wg, NULL, NULL, NULL, NULL, &err), 0);
    double moved = 0, diff = 0;
    for (size_t k = 0; k < p.n; k++) {
        assert_true(isfinite(wg[k]));
        moved += fabs(wc[k] - before[k]);
        diff += fabs(wg[k] - wc[k]);
    }
    print_message("  params: mean moved %.3g, mean diff %.3g\n", moved / p.n, diff / p.n);
    assert_true(diff <= 0.05 * moved);
    free(before), free(wc), free(wg);
    xt_ppo_destroy(&uc);
    xt_ppo_destroy(&ug);
    rb_free(&rb);
    pair_free(&p);
}

static void t_ppo_update(void **state) {
    (void)state;
    s_ppo(&s_cases[0]);
    s_ppo(&s_cases[1]);
}

// ---- batched inference with carried state

static void s_infer(const s_case *cs) {
    print_message("infer, case %s\n", cs->name);
    pair p;
    pair_init(&p, cs, 0);
    xt_err err = {0};
    const int B = cs->max_infer, D = cs->obs, A = cs->act, S = p.lay->state_size;
    xt_rng g;
    xt_rng_seed(&g, 77);
    float *obs = s_calloc((size_t)B * D, 4), *hc = s_calloc((size_t)S * B, 4), *cc = s_calloc((size_t)S * B, 4);
    float *hg = s_calloc((size_t)S * B, 4), *cg = s_calloc((size_t)S * B, 4);
    float *ac = s_calloc((size_t)B * A, 4), *ag = s_calloc((size_t)B * A, 4), *vc = s_calloc(B, 4), *vg = s_calloc(B, 4);
    int32_t sym[16];
    uint8_t st[16];
    for (int k = 0; k < S * B; k++) hc[k] = hg[k] = (float)s_u(&g, 0.5), cc[k] = cg[k] = (float)s_u(&g, 1);
    for (int step = 0; step < 4; step++) {
        for (int k = 0; k < B * D; k++) obs[k] = (float)xt_rng_normal(&g);
        for (int b = 0; b < B; b++) sym[b] = cs->nsym ? (b + step) % cs->nsym : 0, st[b] = xt_rng_uniform(&g) < 0.3;
        assert_int_equal(xt_backend_infer(p.cpu, obs, sym, st, hc, cc, ac, vc, B, &err), 0);
        int rc = xt_backend_infer(p.gpu, obs, sym, st, hg, cg, ag, vg, B, &err);
        if (rc) print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
        s_cmp("infer actor out", ag, ac, (size_t)B * A, s_tol_fwd, 1);
        s_cmp("infer value", vg, vc, B, s_tol_fwd, 1);
        if (S) s_cmp("infer h", hg, hc, (size_t)S * B, s_tol_fwd, 1);
        if (S) s_cmp("infer c", cg, cc, (size_t)S * B, s_tol_fwd, 1);
    }
    // value only: only the trunk that ran changes its state (the critic's, or
    // the actor's when the critic shares it); the other half stays bit-exact
    if (S) {
        float *h_keep = s_calloc((size_t)S * B, 4);
        memcpy(h_keep, hg, (size_t)S * B * 4);
        assert_int_equal(xt_backend_infer(p.gpu, obs, sym, NULL, hg, cg, NULL, vg, B, &err), 0);
        assert_int_equal(xt_backend_infer(p.cpu, obs, sym, NULL, hc, cc, NULL, vc, B, &err), 0);
        s_cmp("value-only h", hg, hc, (size_t)S * B, s_tol_fwd, 1);
        const size_t half = (size_t)S * B / 2;
        const float *untouched = cs->shared ? hg + half : hg, *was = cs->shared ? h_keep + half : h_keep;
        assert_memory_equal(untouched, was, half * 4);
        free(h_keep);
    }
    void *fr[] = {obs, hc, cc, hg, cg, ac, ag, vc, vg};
    for (size_t k = 0; k < sizeof fr / sizeof *fr; k++) free(fr[k]);
    pair_free(&p);
}

static void t_infer(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof s_cases / sizeof *s_cases; k++) s_infer(&s_cases[k]);
}

// ---- TF32: the flag path runs and stays close (10-bit mantissa products)

static void t_tf32(void **state) {
    (void)state;
    const s_case *cs = &s_cases[0];
    pair p;
    pair_init(&p, cs, 1);
    xt_err err = {0};
    rbatch rb;
    rb_init(&rb, cs, p.lay, 300);
    assert_int_equal(xt_backend_set_batch(p.cpu, &rb.b, &err), 0);
    assert_int_equal(xt_backend_set_batch(p.gpu, &rb.b, &err), 0);
    float vc[64 * 17], vg[64 * 17];
    assert_int_equal(xt_backend_evaluate(p.cpu, vc, &err), 0);
    assert_int_equal(xt_backend_evaluate(p.gpu, vg, &err), 0);
    // TF32 rounds products to ~1e-3 relative: a loose check that says "same model"
    s_cmp("tf32 evaluate values", vg, vc, (size_t)cs->C * (cs->T + 1), 2e-2, 1);
    rb_free(&rb);
    pair_free(&p);
}

// ---- errors and guards

static void t_errors(void **state) {
    (void)state;
    const s_case *cs = &s_cases[1]; // Gaussian head: the log-std clamp applies
    xt_model_spec s;
    s_spec(cs, &s);
    xt_backend_config cfg;
    s_cfg(cs, &cfg);
    cfg.ls_min = -1, cfg.ls_max = 0.5f;
    xt_cuda_config cc;
    xt_cuda_config_default(&cc);
    cc.max_batch_chunks = 6;
    xt_err err = {0};
    xt_backend *be = NULL;
    assert_int_equal(xt_backend_cuda_new_ex(&be, &s, &cfg, &cc, &err), 0);
    const xt_model_layout *lay = xt_backend_layout(be);
    const size_t n = lay->n_params;
    rbatch rb;
    rb_init(&rb, cs, lay, 6); // 7 chunks: one more than the store holds
    float vals[7 * 13], adv[7 * 12], ret[7 * 12];
    assert_int_equal(xt_backend_evaluate(be, vals, &err), XT_ESTATE);
    assert_string_equal(err.msg, "cuda backend: no batch set (call set_batch first)");
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), XT_EINVAL);
    assert_string_equal(err.msg, "cuda backend: batch of 7 chunks, the device store holds 6 "
                                 "(xt_cuda_config.max_batch_chunks)");
    rb.b.C = 6;
    rb.sym[4] = 3;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), XT_EINVAL);
    assert_string_equal(err.msg, "cuda backend: batch.sym[4] = 3 is outside [0, 3)");
    rb.sym[4] = 1;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
    assert_int_equal(xt_backend_evaluate(be, vals, &err), 0);
    for (int k = 0; k < 6 * 12; k++) adv[k] = (float)(k % 3) - 1, ret[k] = 0.5f;
    int bad[2] = {1, 6};
    xt_loss_coefs coefs = {{0.2, 0.5, 0.01, 0}, 1};
    xt_ppo_stats st;
    assert_int_equal(xt_backend_loss_grad(be, bad, 2, adv, ret, vals, &coefs, &st, &err), XT_EINVAL);
    assert_string_equal(err.msg, "cuda backend: minibatch entry 1 is chunk 6, outside [0, 6)");
    assert_int_equal(xt_backend_cuda_last_samples(be, vals, NULL, NULL, &err), XT_ESTATE);
    // a NaN observation: the loss is NaN, the step is refused, nothing moves
    float *p0 = s_calloc(n, 4), *p1 = s_calloc(n, 4), *m0 = s_calloc(n, 4), *m1 = s_calloc(n, 4);
    int64_t k0, k1;
    assert_int_equal(xt_backend_download(be, p0, NULL, m0, NULL, &k0, &err), 0);
    rb.obs[3] = NAN;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
    const int pick[2] = {0, 1};
    assert_int_equal(xt_backend_loss_grad(be, pick, 2, adv, ret, vals, &coefs, &st, &err), 0);
    assert_true(isnan(st.loss));
    double gn = 0;
    assert_int_equal(xt_backend_step(be, 1e-3, 0.5, &gn, &err), XT_ENUMERIC);
    assert_contains(err.msg, "cuda backend step: gradient norm is not finite");
    assert_false(isfinite(gn));
    assert_int_equal(xt_backend_download(be, p1, NULL, m1, NULL, &k1, &err), 0);
    assert_memory_equal(p0, p1, n * 4);
    assert_memory_equal(m0, m1, n * 4);
    assert_int_equal(k0, k1);
    xt_backend_timing tm;
    xt_backend_timing_get(be, &tm);
    assert_int_equal(tm.n_step_refused, 1);
    assert_int_equal(tm.n_step, 0);
    // a huge learning rate: log_std ends inside [ls_min, ls_max], at a bound
    rb.obs[3] = 0.25f;
    assert_int_equal(xt_backend_set_batch(be, &rb.b, &err), 0);
    assert_int_equal(xt_backend_loss_grad(be, pick, 2, adv, ret, vals, &coefs, &st, &err), 0);
    assert_int_equal(xt_backend_step(be, 10.0, 0, &gn, &err), 0);
    assert_int_equal(xt_backend_download(be, p1, NULL, NULL, NULL, &k1, &err), 0);
    assert_int_equal(k1, 1);
    const float *ls = p1 + lay->off[XT_T_actor_log_std];
    int at_bound = 0;
    for (int j = 0; j < s.act_dim; j++) {
        assert_true(ls[j] >= -1.0f && ls[j] <= 0.5f);
        at_bound += ls[j] == -1.0f || ls[j] == 0.5f;
    }
    assert_true(at_bound > 0);
    // inference: symbol ids are checked, and B by the interface
    int32_t sym[5] = {0, 1, 2, 3, 0};
    float h[5 * 64] = {0}, c[5 * 64] = {0}, out[5 * 4], v[5];
    assert_int_equal(xt_backend_infer(be, rb.obs, sym, NULL, h, c, out, v, 5, &err), XT_EINVAL);
    assert_string_equal(err.msg,
                        "cuda backend infer: model forward: symbol id 3 at row 3 is outside [0, 3)");
    assert_int_equal(xt_backend_infer(be, rb.obs, sym, NULL, h, c, out, v, 6, &err), XT_EINVAL);
    // NaN params are refused before they reach the device
    p1[17] = NAN;
    assert_int_equal(xt_backend_upload(be, p1, NULL, NULL, 0, &err), XT_ENUMERIC);
    assert_string_equal(err.msg, "backend upload: params[17] is not finite (nan)");
    free(p0), free(p1), free(m0), free(m1);
    rb_free(&rb);
    xt_backend_destroy(&be);
    assert_null(be);
}

int main(void) {
    char why[256];
    if (xt_cuda_probe(why, sizeof why) != 0) {
        printf("skipped: %s\n", why);
        return 77;
    }
    printf("device: %s\n", why);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_parity_seed003),
        cmocka_unit_test(t_parity_gauss_emb_shared),
        cmocka_unit_test(t_parity_mlp_only),
        cmocka_unit_test(t_parity_lstm_into_heads),
        cmocka_unit_test(t_ppo_update),
        cmocka_unit_test(t_infer),
        cmocka_unit_test(t_tf32),
        cmocka_unit_test(t_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
