// test_model.c - the actor-critic model: tensor table, init, finite-difference
// gradients of the whole network w.r.t. every tensor of the list (double),
// chunk forward == step-by-step inference with the same resets, float vs
// double, input errors.
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/ckpt.h"
#include "nn/model.h"

#define assert_near(a, b, tol) \
    s_near((double)(a), (double)(b), (double)(tol), #a, __FILE__, __LINE__)
static void s_near(double a, double b, double tol, const char *what, const char *file, int line) {
    if (fabs(a - b) <= tol)
        return;
    print_error("%s:%d: %s = %.17g, expected %.17g (tol %g)\n", file, line, what, a, b, tol);
    fail();
}

static void *s_calloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    assert_non_null(p);
    return p;
}

// ---- layout

// Seed 003: obs 97, 7 Gaussian actions, LSTM 128 x 2, MLP 256/128, own critic.
static void t_layout_seed003(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 97, 7, 1);
    xt_model_layout lay;
    xt_err err = {0};
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), 0);
    // per net: LSTM0 512*97 + 512*128 + 2*512, LSTM1 2*512*128 + 2*512,
    // fc0 256*128 + 256, fc1 128*256 + 128 = 314240; heads 7*128+7, 128+1; log_std 7
    size_t total = 0, nonempty = 0;
    for (int id = 0; id < XT_T_COUNT; id++) {
        total += xt_model_tensor_size(&lay, id);
        nonempty += xt_model_tensor_size(&lay, id) > 0;
        assert_int_equal(lay.off[id] % 16, 0);
        if (id + 1 < XT_T_COUNT)
            assert_true(lay.off[id] + xt_model_tensor_size(&lay, id) <= lay.off[id + 1]);
    }
    assert_int_equal(total, 2 * 314240 + 903 + 129 + 7);
    assert_int_equal(nonempty, 2 * (2 * 4 + 2 * 2 + 2) + 1);
    assert_true(lay.n_params >= total && lay.n_params < total + 16 * XT_T_COUNT);
    assert_int_equal(lay.rows[XT_T_actor_lstm0_w_ih], 512);
    assert_int_equal(lay.cols[XT_T_actor_lstm0_w_ih], 97);
    assert_int_equal(lay.cols[XT_T_critic_lstm1_w_ih], 128);
    assert_int_equal(lay.rows[XT_T_actor_fc0_w], 256);
    assert_int_equal(lay.cols[XT_T_actor_fc1_w], 256);
    assert_int_equal(lay.rows[XT_T_actor_head_w], 7);
    assert_int_equal(lay.rows[XT_T_critic_head_w], 1);
    assert_int_equal(xt_model_tensor_size(&lay, XT_T_actor_log_std), 7);
    assert_int_equal(xt_model_tensor_size(&lay, XT_T_actor_lstm2_w_ih), 0);
    assert_int_equal(xt_model_tensor_size(&lay, XT_T_sym_emb), 0);
    assert_int_equal(lay.state_size, 2 * 2 * 128);
    assert_string_equal(xt_model_tensor_name(XT_T_critic_lstm1_b_hh), "critic_lstm1_b_hh");
    assert_int_equal(xt_model_tensor_find("actor_fc1_b"), XT_T_actor_fc1_b);
    assert_int_equal(xt_model_tensor_find("nope"), XT_ENOTFOUND);
    // the per-layer lookup points at the tensors of that layer
    assert_int_equal(lay.lstm[1][1][1], XT_T_critic_lstm1_w_hh);
    assert_int_equal(lay.fc[0][1][0], XT_T_actor_fc1_w);
    assert_int_equal(lay.head[1][1], XT_T_critic_head_b);
    // 2 FLOPs per weight: actor 312704 MACs, critic 311936
    assert_near(xt_model_step_flops(&lay), 2.0 * (312704 + 311936), 0);
    // the named pointers match the table
    float *slab = s_calloc(lay.n_params, sizeof *slab);
    xt_model_ptrs p;
    xt_model_ptrs_bind(&p, &lay, slab);
    assert_ptr_equal(p.critic_fc0_b, slab + lay.off[XT_T_critic_fc0_b]);
    free(slab);

    // shared trunk and categorical: no critic LSTM/MLP, no log_std
    s.shared_trunk = 1;
    s.gaussian = 0;
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), 0);
    assert_int_equal(xt_model_tensor_size(&lay, XT_T_critic_lstm0_w_ih), 0);
    assert_int_equal(xt_model_tensor_size(&lay, XT_T_critic_fc1_w), 0);
    assert_int_equal(xt_model_tensor_size(&lay, XT_T_actor_log_std), 0);
    assert_int_equal(lay.cols[XT_T_critic_head_w], 128);
}

static void t_spec_errors(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_layout lay;
    xt_err err = {0};
    xt_model_spec_default(&s, 97, 7, 1);
    s.lstm_layers = 5;
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), XT_EINVAL);
    assert_string_equal(err.msg, "model.lstm_layers: must be between 0 and 4 (got 5)");
    xt_model_spec_default(&s, 97, 7, 1);
    s.mlp[1] = 0;
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), XT_EINVAL);
    assert_string_equal(err.msg, "model.mlp[1]: must be between 1 and 65536 (got 0)");
    xt_model_spec_default(&s, 97, 7, 1);
    s.n_symbols = 6;
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), XT_EINVAL);
    assert_contains(err.msg, "model.emb_dim: n_symbols (6) and emb_dim (0) must both be 0");
    xt_model_spec_default(&s, 0, 7, 1);
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), XT_EINVAL);
    assert_string_equal(err.msg, "model.obs_dim: must be between 1 and 65536 (got 0)");
    xt_model_spec_default(&s, 9, 7, 1);
    s.log_std_init = NAN;
    assert_int_equal(xt_model_layout_init(&lay, &s, &err), XT_EINVAL);
    assert_contains(err.msg, "model.log_std_init: must be in [-20, 5]");
    xt_model_spec_default(&s, 9, 7, 1);
    assert_null(xt_model_new(&s, 0, 4, 1, &err));
    assert_contains(err.msg, "model workspace: max_B x max_T must be between 1 and 2^24 rows");
}

static void t_init(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 97, 7, 1);
    s.log_std_init = -0.5f;
    s.n_symbols = 4, s.emb_dim = 3;
    xt_model_layout lay;
    assert_int_equal(xt_model_layout_init(&lay, &s, NULL), 0);
    float *a = s_calloc(lay.n_params, sizeof *a), *b = s_calloc(lay.n_params, sizeof *b);
    xt_rng r;
    xt_rng_seed(&r, 42);
    xt_model_init_params(&lay, a, &r);
    xt_rng_seed(&r, 42);
    xt_model_init_params(&lay, b, &r);
    assert_memory_equal(a, b, lay.n_params * sizeof *a); // same seed, same bytes
    xt_model_ptrs p;
    xt_model_ptrs_bind(&p, &lay, a);
    for (int j = 0; j < 7; j++)
        assert_near(p.actor_log_std[j], -0.5, 0);
    for (int j = 0; j < 512; j++) {
        assert_near(p.actor_lstm0_b_ih[j], j >= 128 && j < 256 ? 1.0 : 0.0, 0);
        assert_near(p.critic_lstm1_b_hh[j], 0, 0);
    }
    double amax = 0;
    for (size_t k = 0; k < 512 * 128; k++)
        amax = fmax(amax, fabs(p.actor_lstm1_w_hh[k]));
    assert_true(amax <= 1 / sqrt(128.0) && amax > 0.9 / sqrt(128.0));
    // orthogonal dense layers with gain sqrt(2): fc1 [128, 256] has W W^T = 2 I,
    // fc0 [256, 128] has W^T W = 2 I
    double worst = 0;
    for (int i = 0; i < 128; i += 7)
        for (int j = 0; j < 128; j += 5) {
            double d1 = 0, d0 = 0;
            for (int k = 0; k < 256; k++) {
                d1 += (double)p.actor_fc1_w[i * 256 + k] * p.actor_fc1_w[j * 256 + k];
                d0 += (double)p.critic_fc0_w[k * 128 + i] * p.critic_fc0_w[k * 128 + j];
            }
            worst = fmax(worst, fabs(d1 - (i == j ? 2 : 0)));
            worst = fmax(worst, fabs(d0 - (i == j ? 2 : 0)));
        }
    assert_true(worst < 1e-4);
    // actor head: gain 0.01 -> rows of norm 0.01
    double nn = 0;
    for (int k = 0; k < 128; k++)
        nn += (double)p.actor_head_w[k] * p.actor_head_w[k];
    assert_near(sqrt(nn), 0.01, 1e-6);
    // padding between tensors is zero
    for (int id = 0; id + 1 < XT_T_COUNT; id++)
        for (size_t k = lay.off[id] + xt_model_tensor_size(&lay, id); k < lay.off[id + 1]; k++)
            assert_true(a[k] == 0);
    free(a);
    free(b);
}

// ---- finite-difference check of the whole network (double)

typedef struct {
    xt_model_f64 *m;
    const xt_model_layout *lay;
    int B, T;
    double *P, *G, *obs, *h0, *c0, *wa, *wv, *wl, *da, *dv;
    int32_t *sym;
    uint8_t *starts;
} fx;

static void fx_init(fx *f, const xt_model_spec *s, int B, int T, uint64_t seed) {
    memset(f, 0, sizeof *f);
    xt_err err = {0};
    f->m = xt_model_new_f64(s, B, T, 1, &err);
    assert_non_null(f->m);
    f->lay = xt_model_layout_of_f64(f->m);
    f->B = B, f->T = T;
    size_t n = f->lay->n_params, N = (size_t)B * T, S = (size_t)f->lay->state_size * B;
    float *pf = s_calloc(n, sizeof *pf);
    xt_rng r;
    xt_rng_seed(&r, seed);
    xt_model_init_params(f->lay, pf, &r);
    f->P = s_calloc(n, sizeof(double));
    f->G = s_calloc(n, sizeof(double));
    // perturb everything so biases, log_std and the tiny actor head are generic
    for (size_t k = 0; k < n; k++)
        f->P[k] = pf[k] + 0.3 * (2 * xt_rng_uniform(&r) - 1);
    free(pf);
    f->obs = s_calloc(N * s->obs_dim, sizeof(double));
    for (size_t k = 0; k < N * s->obs_dim; k++)
        f->obs[k] = xt_rng_normal(&r);
    f->h0 = s_calloc(S, sizeof(double));
    f->c0 = s_calloc(S, sizeof(double));
    for (size_t k = 0; k < S; k++)
        f->h0[k] = 0.8 * (2 * xt_rng_uniform(&r) - 1);
    for (size_t k = 0; k < S; k++)
        f->c0[k] = 1.5 * (2 * xt_rng_uniform(&r) - 1);
    f->sym = s_calloc(N, sizeof(int32_t));
    for (size_t k = 0; k < N; k++)
        f->sym[k] = s->n_symbols ? (int32_t)((k / B + k) % s->n_symbols) : 0;
    f->starts = s_calloc(N, 1);
    for (size_t k = 0; k < N; k++)
        f->starts[k] = xt_rng_uniform(&r) < 0.2;
    f->wa = s_calloc(N * s->act_dim, sizeof(double));
    f->wv = s_calloc(N, sizeof(double));
    f->wl = s_calloc(s->act_dim, sizeof(double));
    for (size_t k = 0; k < N * s->act_dim; k++)
        f->wa[k] = 2 * xt_rng_uniform(&r) - 1;
    for (size_t k = 0; k < N; k++)
        f->wv[k] = 2 * xt_rng_uniform(&r) - 1;
    for (int k = 0; k < s->act_dim; k++)
        f->wl[k] = 2 * xt_rng_uniform(&r) - 1;
}

static void fx_free(fx *f) {
    xt_model_destroy_f64(&f->m);
    double *ps[] = {f->P, f->G, f->obs, f->h0, f->c0, f->wa, f->wv, f->wl};
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++)
        free(ps[k]);
    free(f->sym);
    free(f->starts);
}

// loss = sum(wa * actor_out) + sum(wv * values) + sum(wl * log_std)
static double fx_loss(fx *f) {
    xt_model_input_f64 in = {f->obs, f->lay->spec.emb_dim ? f->sym : NULL, f->starts, f->h0, f->c0};
    xt_err err = {0};
    assert_int_equal(xt_model_forward_f64(f->m, f->P, &in, f->B, f->T, XT_NET_BOTH, &err), 0);
    const double *a = xt_model_actor_out_f64(f->m), *v = xt_model_values_f64(f->m);
    size_t N = (size_t)f->B * f->T;
    double s = 0;
    for (size_t k = 0; k < N * f->lay->spec.act_dim; k++)
        s += f->wa[k] * a[k];
    for (size_t k = 0; k < N; k++)
        s += f->wv[k] * v[k];
    const double *ls = f->P + f->lay->off[XT_T_actor_log_std];
    for (int k = 0; k < f->lay->dims.std; k++)
        s += f->wl[k] * ls[k];
    return s;
}

// Analytic gradients vs central differences for every element of every
// tensor in the list. Tolerance: as in test_lstm, double FD with eps 1e-6
// agrees to ~1e-9; 1e-6 relative (+1e-8 absolute) catches any wrong path.
static void fx_check_all(fx *f) {
    (void)fx_loss(f);
    memset(f->G, 0, f->lay->n_params * sizeof(double));
    xt_model_backward_f64(f->m, f->G, f->P, f->wa, f->wv, f->wl);
    int checked = 0, expect = 0, bad = 0;
    for (int id = 0; id < XT_T_COUNT; id++) {
        size_t n = xt_model_tensor_size(f->lay, id);
        if (n == 0)
            continue;
        expect++;
        double *p = f->P + f->lay->off[id], *g = f->G + f->lay->off[id];
        int nonzero = 0;
        for (size_t k = 0; k < n; k++) {
            double keep = p[k], eps = 1e-6;
            p[k] = keep + eps;
            double lp = fx_loss(f);
            p[k] = keep - eps;
            double lm = fx_loss(f);
            p[k] = keep;
            double num = (lp - lm) / (2 * eps);
            nonzero += g[k] != 0;
            if (fabs(num - g[k]) > 1e-8 + 1e-6 * fabs(num) && bad++ < 8)
                print_error("%s[%zu]: analytic %.10g numeric %.10g\n", xt_model_tensor_name(id), k,
                            g[k], num);
        }
        if (!nonzero)
            print_error("%s: all-zero gradient\n", xt_model_tensor_name(id));
        assert_true(nonzero > 0); // the check is not vacuous
        checked++;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(checked, expect);
}

// Embedding, 2 LSTM layers, 2 dense layers, Gaussian head, own critic; resets
// in the middle and non-zero h0/c0 for both nets.
static void t_grad_separate(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 4, 3, 1);
    s.n_symbols = 3, s.emb_dim = 2, s.lstm_hidden = 3, s.mlp[0] = 5, s.mlp[1] = 4;
    fx f;
    fx_init(&f, &s, 3, 4, 1);
    fx_check_all(&f);
    fx_free(&f);
}

// Shared trunk (both heads on the actor trunk), categorical, one LSTM layer.
static void t_grad_shared(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 5, 4, 0);
    s.lstm_layers = 1, s.lstm_hidden = 4, s.mlp_layers = 1, s.mlp[0] = 6, s.shared_trunk = 1;
    fx f;
    fx_init(&f, &s, 2, 5, 2);
    fx_check_all(&f);
    fx_free(&f);
}

// Three LSTM layers straight into the heads (no MLP), embedding, shared trunk;
// and an MLP-only net (no LSTM) with an embedding and own critic.
static void t_grad_edges(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 3, 2, 1);
    s.n_symbols = 2, s.emb_dim = 2, s.lstm_layers = 3, s.lstm_hidden = 2, s.mlp_layers = 0;
    s.shared_trunk = 1;
    fx f;
    fx_init(&f, &s, 2, 3, 3);
    fx_check_all(&f);
    fx_free(&f);
    xt_model_spec_default(&s, 3, 2, 0);
    s.n_symbols = 3, s.emb_dim = 1, s.lstm_layers = 0, s.mlp[0] = 4, s.mlp[1] = 3;
    fx_init(&f, &s, 2, 3, 4);
    fx_check_all(&f);
    fx_free(&f);
}

// ---- chunk forward vs step-by-step inference (float)

static void t_chunk_equals_steps(void **state) {
    (void)state;
    enum { B = 5, T = 9 };
    xt_model_spec s;
    xt_model_spec_default(&s, 6, 3, 1);
    s.n_symbols = 2, s.emb_dim = 2, s.lstm_hidden = 8, s.mlp[0] = 16, s.mlp[1] = 8;
    xt_err err = {0};
    xt_model *chunk = xt_model_new(&s, B, T, 1, &err), *step = xt_model_new(&s, B, 1, 0, &err);
    assert_non_null(chunk);
    assert_non_null(step);
    const xt_model_layout *lay = xt_model_layout_of(chunk);
    const int A = 3, S = lay->state_size * B;
    float *P = s_calloc(lay->n_params, sizeof *P);
    xt_rng r;
    xt_rng_seed(&r, 5);
    xt_model_init_params(lay, P, &r);
    float *obs = s_calloc((size_t)T * B * 6, sizeof *obs), *h0 = s_calloc(S, sizeof *h0);
    float *c0 = s_calloc(S, sizeof *c0), *h = s_calloc(S, sizeof *h), *c = s_calloc(S, sizeof *c);
    int32_t sym[T * B];
    uint8_t starts[T * B];
    for (int k = 0; k < T * B * 6; k++)
        obs[k] = (float)xt_rng_normal(&r);
    for (int k = 0; k < S; k++)
        h0[k] = (float)(0.5 * xt_rng_normal(&r));
    for (int k = 0; k < S; k++)
        c0[k] = (float)xt_rng_normal(&r);
    for (int k = 0; k < T * B; k++)
        sym[k] = k % B % 2, starts[k] = xt_rng_uniform(&r) < 0.2;
    starts[4 * B + 2] = 1;
    xt_model_input in = {obs, sym, starts, h0, c0};
    assert_int_equal(xt_model_forward(chunk, P, &in, B, T, XT_NET_BOTH, &err), 0);
    const float *ca = xt_model_actor_out(chunk), *cv = xt_model_values(chunk);
    memcpy(h, h0, S * sizeof *h);
    memcpy(c, c0, S * sizeof *c);
    // Tolerance: both paths run the same float arithmetic except that the
    // chunk's input projection is one GEMM over T*B rows and the step's over
    // B rows, so BLAS may block the sums differently (~1e-7 relative per
    // value, growing mildly through 9 recurrent steps); 1e-5 absolute on
    // O(1) outputs catches any reset or state-carry mistake (~1e-1).
    double worst = 0;
    float a[B * 3], v[B];
    for (int t = 0; t < T; t++) {
        assert_int_equal(xt_model_infer(step, P, obs + (size_t)t * B * 6, sym + t * B,
                                        starts + t * B, h, c, a, v, B, &err),
                         0);
        for (int k = 0; k < B * A; k++)
            worst = fmax(worst, fabs(a[k] - ca[t * B * A + k]));
        for (int k = 0; k < B; k++)
            worst = fmax(worst, fabs(v[k] - cv[t * B + k]));
    }
    float *hf = s_calloc(S, sizeof *hf), *cf = s_calloc(S, sizeof *cf);
    xt_model_final_state(chunk, hf, cf);
    for (int k = 0; k < S; k++)
        worst = fmax(worst, fmax(fabs(h[k] - hf[k]), fabs(c[k] - cf[k])));
    assert_true(worst < 1e-5);
    // without the resets the answers differ: the test can see them
    memset(starts, 0, sizeof starts);
    assert_int_equal(xt_model_forward(chunk, P, &in, B, T, XT_NET_BOTH, &err), 0);
    assert_true(fabs(xt_model_values(chunk)[(T - 1) * B + 2] - v[2]) > 1e-4);
    // a NULL value output skips the critic, leaving its state untouched
    float keep = h[lay->state_size * B / 2];
    assert_int_equal(xt_model_infer(step, P, obs, sym, NULL, h, c, a, NULL, B, &err), 0);
    assert_true(h[lay->state_size * B / 2] == keep);
    free(P), free(obs), free(h0), free(c0), free(h), free(c), free(hf), free(cf);
    xt_model_destroy(&chunk);
    xt_model_destroy(&step);
    xt_model_destroy(&step); // NULL-safe
}

// float and double forward agree on the seed-003 sizes.
static void t_float_vs_double(void **state) {
    (void)state;
    enum { B = 4, T = 6 };
    xt_model_spec s;
    xt_model_spec_default(&s, 97, 7, 1);
    xt_err err = {0};
    xt_model *m = xt_model_new(&s, B, T, 0, &err);
    xt_model_f64 *m64 = xt_model_new_f64(&s, B, T, 0, &err);
    assert_non_null(m);
    assert_non_null(m64);
    const xt_model_layout *lay = xt_model_layout_of(m);
    size_t n = lay->n_params, S = (size_t)lay->state_size * B;
    float *P = s_calloc(n, sizeof *P), *obs = s_calloc(T * B * 97, sizeof *obs);
    double *P64 = s_calloc(n, sizeof *P64), *obs64 = s_calloc(T * B * 97, sizeof *obs64);
    float *h0 = s_calloc(S, sizeof *h0);
    double *h064 = s_calloc(S, sizeof *h064);
    xt_rng r;
    xt_rng_seed(&r, 8);
    xt_model_init_params(lay, P, &r);
    for (size_t k = 0; k < n; k++)
        P64[k] = P[k];
    for (int k = 0; k < T * B * 97; k++)
        obs64[k] = obs[k] = (float)xt_rng_normal(&r);
    for (size_t k = 0; k < S; k++)
        h064[k] = h0[k] = (float)(0.5 * xt_rng_normal(&r));
    uint8_t starts[T * B] = {0};
    starts[3 * B + 1] = 1;
    xt_model_input in = {obs, NULL, starts, h0, h0};
    xt_model_input_f64 in64 = {obs64, NULL, starts, h064, h064};
    assert_int_equal(xt_model_forward(m, P, &in, B, T, XT_NET_BOTH, &err), 0);
    assert_int_equal(xt_model_forward_f64(m64, P64, &in64, B, T, XT_NET_BOTH, &err), 0);
    // 97- to 256-term float sums and ~1e-7 exp error over 6 recurrent steps:
    // ~1e-6 on O(1) values; 2e-5 leaves margin, a bug is off by >1e-3
    double worst = 0;
    for (int k = 0; k < T * B * 7; k++)
        worst = fmax(worst, fabs(xt_model_actor_out(m)[k] - xt_model_actor_out_f64(m64)[k]));
    for (int k = 0; k < T * B; k++)
        worst = fmax(worst, fabs(xt_model_values(m)[k] - xt_model_values_f64(m64)[k]));
    assert_true(worst < 2e-5);
    free(P), free(obs), free(P64), free(obs64), free(h0), free(h064);
    xt_model_destroy(&m);
    xt_model_destroy_f64(&m64);
}

// ---- the two nets on two threads (xt_par)

typedef struct {
    int calls, threads; // run2 calls; 1: task 1 on a new thread, 0: tasks in reverse order
} s_runner;

typedef struct {
    xt_par_task task;
    void *arg;
} s_thread_arg;

static void *s_thread_main(void *p) {
    s_thread_arg *a = p;
    a->task(a->arg, 1);
    return NULL;
}

static void s_run2(void *ctx, xt_par_task task, void *arg) {
    s_runner *r = ctx;
    r->calls++;
    if (r->threads) {
        pthread_t th;
        s_thread_arg a = {task, arg};
        assert_int_equal(pthread_create(&th, NULL, s_thread_main, &a), 0);
        task(arg, 0);
        assert_int_equal(pthread_join(th, NULL), 0);
    } else { // the critic first: nothing may depend on the actor's half
        task(arg, 1);
        task(arg, 0);
    }
}

// Forward + backward of both nets with a par (on a real second thread, and
// in reverse order) gives the bits of the serial computation: outputs and
// every gradient, the embedding's (shared by both nets) included.
static void t_par_bit_identical(void **state) {
    (void)state;
    enum { B = 3, T = 6, D = 5, A = 3 };
    xt_model_spec s;
    xt_model_spec_default(&s, D, A, 1);
    s.n_symbols = 3, s.emb_dim = 2, s.lstm_hidden = 8, s.mlp[0] = 12, s.mlp[1] = 6;
    xt_err err = {0};
    xt_model *m[3];
    for (int k = 0; k < 3; k++)
        assert_non_null(m[k] = xt_model_new(&s, B, T, 1, &err));
    s_runner rev = {0, 0}, thr = {0, 1};
    xt_par prev = {s_run2, &rev}, pthr = {s_run2, &thr};
    xt_model_set_par(m[1], &prev);
    xt_model_set_par(m[2], &pthr);
    const xt_model_layout *lay = xt_model_layout_of(m[0]);
    const size_t n = lay->n_params, N = (size_t)B * T, S = (size_t)lay->state_size * B;
    float *P = s_calloc(n, sizeof *P), *G[3], *obs = s_calloc(N * D, sizeof *obs);
    float *h0 = s_calloc(S, sizeof *h0), *da = s_calloc(N * A, sizeof *da);
    float *dv = s_calloc(N, sizeof *dv), dls[A] = {0.5f, -0.25f, 1};
    int32_t sym[B * T];
    uint8_t starts[B * T] = {0};
    xt_rng r;
    xt_rng_seed(&r, 17);
    xt_model_init_params(lay, P, &r);
    for (size_t k = 0; k < N * D; k++)
        obs[k] = (float)xt_rng_normal(&r);
    for (size_t k = 0; k < S; k++)
        h0[k] = (float)(0.5 * xt_rng_normal(&r));
    for (size_t k = 0; k < N * A; k++)
        da[k] = (float)xt_rng_normal(&r);
    for (size_t k = 0; k < N; k++)
        dv[k] = (float)xt_rng_normal(&r), sym[k] = (int32_t)(k % 3);
    starts[2 * B + 1] = 1;
    xt_model_input in = {obs, sym, starts, h0, h0};
    for (int k = 0; k < 3; k++) {
        G[k] = s_calloc(n, sizeof *G[k]);
        assert_int_equal(xt_model_forward(m[k], P, &in, B, T, XT_NET_BOTH, &err), 0);
        xt_model_backward(m[k], G[k], P, da, dv, dls);
    }
    for (int k = 1; k < 3; k++) {
        assert_memory_equal(xt_model_actor_out(m[k]), xt_model_actor_out(m[0]),
                            N * A * sizeof(float));
        assert_memory_equal(xt_model_values(m[k]), xt_model_values(m[0]), N * sizeof(float));
        assert_memory_equal(G[k], G[0], n * sizeof(float));
    }
    assert_true(G[0][lay->off[XT_T_sym_emb]] != 0); // both nets reach the embedding
    assert_int_equal(rev.calls, 2); // one forward, one backward
    assert_int_equal(thr.calls, 2);
    // one net only: serial, the par is not called
    assert_int_equal(xt_model_forward(m[1], P, &in, B, T, XT_NET_CRITIC, &err), 0);
    assert_memory_equal(xt_model_values(m[1]), xt_model_values(m[0]), N * sizeof(float));
    xt_model_backward(m[1], G[1], P, NULL, dv, NULL);
    assert_int_equal(rev.calls, 2);
    for (int k = 0; k < 3; k++) {
        xt_model_destroy(&m[k]);
        free(G[k]);
    }
    // a shared trunk has one trunk: never the par
    s.shared_trunk = 1;
    assert_non_null(m[0] = xt_model_new(&s, B, T, 1, &err));
    xt_model_set_par(m[0], &prev);
    G[0] = s_calloc(xt_model_layout_of(m[0])->n_params, sizeof(float));
    assert_int_equal(xt_model_forward(m[0], P, &in, B, T, XT_NET_BOTH, &err), 0);
    xt_model_backward(m[0], G[0], P, da, dv, dls);
    assert_int_equal(rev.calls, 2);
    xt_model_destroy(&m[0]);
    free(G[0]), free(P), free(obs), free(h0), free(da), free(dv);
}

static void t_input_errors(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 2, 2, 0);
    s.n_symbols = 3, s.emb_dim = 2, s.lstm_hidden = 4, s.mlp[0] = 4, s.mlp[1] = 4;
    xt_err err = {0};
    xt_model *m = xt_model_new(&s, 2, 3, 0, &err);
    assert_non_null(m);
    float *P = s_calloc(xt_model_layout_of(m)->n_params, sizeof *P);
    float obs[3 * 3 * 2] = {0}, h[64] = {0}, c[64] = {0}, a[6], v[3];
    int32_t sym[9] = {0, 1, 2, 3, 0, 0, 0, 0, 0};
    xt_model_input in = {obs, sym, NULL, NULL, NULL};
    assert_int_equal(xt_model_forward(m, P, &in, 3, 1, XT_NET_BOTH, &err), XT_EINVAL);
    assert_string_equal(err.msg,
                        "model forward: 3 envs x 1 steps does not fit the workspace (2 x 3)");
    assert_int_equal(xt_model_forward(m, P, &in, 2, 2, XT_NET_BOTH, &err), XT_EINVAL);
    assert_string_equal(err.msg, "model forward: symbol id 3 at row 3 is outside [0, 3)");
    in.sym = NULL;
    assert_int_equal(xt_model_forward(m, P, &in, 2, 1, XT_NET_ACTOR, &err), XT_EINVAL);
    assert_contains(err.msg, "no symbol ids were given");
    assert_int_equal(xt_model_infer(m, P, obs, sym, NULL, h, c, NULL, NULL, 2, &err), XT_EINVAL);
    assert_string_equal(err.msg, "model infer: no output requested");
    assert_int_equal(xt_model_infer(m, P, obs, sym, NULL, h, c, a, v, 2, &err), 0);
    free(P);
    xt_model_destroy(&m);
}

// Params round-trip through a checkpoint, one named section per tensor; a
// checkpoint of another spec is refused naming the first tensor that differs.
static void t_checkpoint(void **state) {
    (void)state;
    xt_model_spec s;
    xt_model_spec_default(&s, 9, 3, 1);
    xt_model_layout lay, other;
    assert_int_equal(xt_model_layout_init(&lay, &s, NULL), 0);
    float *a = s_calloc(lay.n_params, 4), *b = s_calloc(lay.n_params, 4);
    xt_rng r;
    xt_rng_seed(&r, 4);
    xt_model_init_params(&lay, a, &r);
    char dir[256], path[512];
    xt_test_tmpdir(dir, "model_ckpt");
    snprintf(path, sizeof path, "%s/m.xtck", dir);
    xt_err err = {0};
    assert_int_equal(xt_model_ckpt_sections(&lay), 2 * (2 * 4 + 2 * 2 + 2) + 1);
    xt_ckpt_writer *w = xt_ckpt_writer_new(xt_model_ckpt_sections(&lay), &err);
    assert_non_null(w);
    assert_int_equal(xt_model_ckpt_add(w, &lay, a, "params.", &err), 0);
    assert_int_equal(xt_ckpt_writer_write(w, path, &err), 0);
    xt_ckpt_writer_destroy(&w);
    xt_ckpt *ck = NULL;
    assert_int_equal(xt_ckpt_open(&ck, path, &err), 0);
    xt_ckpt_section sec;
    assert_int_equal(xt_ckpt_find(ck, "params.critic_lstm1_w_hh", &sec), 0);
    assert_int_equal(sec.count, 512 * 128);
    memset(b, 0xff, lay.n_params * 4);
    assert_int_equal(xt_model_ckpt_read(ck, &lay, b, "params.", &err), 0);
    assert_memory_equal(a, b, lay.n_params * 4); // padding included (zero in both)
    s.lstm_hidden = 64;
    assert_int_equal(xt_model_layout_init(&other, &s, NULL), 0);
    float *c = s_calloc(other.n_params, 4);
    assert_int_equal(xt_model_ckpt_read(ck, &other, c, "params.", &err), XT_EPARSE);
    assert_contains(err.msg,
                    "section \"params.actor_lstm0_w_ih\": expected 2304 float32, found 4608");
    assert_int_equal(xt_model_ckpt_read(ck, &lay, b, "adam_m.", &err), XT_ENOTFOUND);
    assert_contains(err.msg, "section \"adam_m.actor_lstm0_w_ih\" is missing");
    xt_ckpt_destroy(&ck);
    free(a), free(b), free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_layout_seed003),
        cmocka_unit_test(t_spec_errors),
        cmocka_unit_test(t_init),
        cmocka_unit_test(t_grad_separate),
        cmocka_unit_test(t_grad_shared),
        cmocka_unit_test(t_grad_edges),
        cmocka_unit_test(t_chunk_equals_steps),
        cmocka_unit_test(t_float_vs_double),
        cmocka_unit_test(t_par_bit_identical),
        cmocka_unit_test(t_input_errors),
        cmocka_unit_test(t_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
