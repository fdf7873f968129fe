// test_lstm.c - LSTM layer: hand-worked step, finite-difference gradients in
// double (non-zero h0/c0, episode resets mid-chunk), reset semantics, float
// vs double agreement.
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/dense.h"
#include "nn/lstm.h"

// |a - b| <= tol, printing both on failure.
#define assert_near(a, b, tol) \
    s_near((double)(a), (double)(b), (double)(tol), #a, __FILE__, __LINE__)
static void s_near(double a, double b, double tol, const char *what, const char *file, int line) {
    if (fabs(a - b) <= tol)
        return;
    print_error("%s:%d: %s = %.17g, expected %.17g (tol %g)\n", file, line, what, a, b, tol);
    fail();
}

// ---- a layer with its buffers, double precision

typedef struct {
    int B, T, I, H;
    double *w_ih, *w_hh, *b_ih, *b_hh;   // parameters
    double *g_ih, *g_hh, *gb_ih, *gb_hh; // gradients
    double *in, *h0, *c0, *out, *dout, *din, *dh0, *dc0, *wout;
    double *fwd, *scratch;
    uint8_t *starts;
    xt_lstm_cache_f64 cache;
} lay64;

static double *s_alloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void s_fill(double *p, size_t n, xt_rng *r, double scale) {
    for (size_t k = 0; k < n; k++)
        p[k] = scale * (2 * xt_rng_uniform(r) - 1);
}

static void lay_init(lay64 *L, int B, int T, int I, int H, uint64_t seed) {
    memset(L, 0, sizeof *L);
    L->B = B, L->T = T, L->I = I, L->H = H;
    size_t G = 4 * (size_t)H, N = (size_t)B * T;
    L->w_ih = s_alloc(G * I), L->w_hh = s_alloc(G * H), L->b_ih = s_alloc(G), L->b_hh = s_alloc(G);
    L->g_ih = s_alloc(G * I), L->g_hh = s_alloc(G * H), L->gb_ih = s_alloc(G);
    L->gb_hh = s_alloc(G);
    L->in = s_alloc(N * I), L->out = s_alloc(N * H), L->dout = s_alloc(N * H);
    L->din = s_alloc(N * I), L->wout = s_alloc(N * H);
    L->h0 = s_alloc((size_t)B * H), L->c0 = s_alloc((size_t)B * H);
    L->dh0 = s_alloc((size_t)B * H), L->dc0 = s_alloc((size_t)B * H);
    L->fwd = s_alloc(xt_lstm_cache_size(B, T, H));
    L->scratch = s_alloc(xt_lstm_scratch_size(B, T, H));
    L->starts = calloc(N, 1);
    xt_lstm_cache_bind_f64(&L->cache, L->fwd, L->scratch, B, T, H);
    xt_rng r;
    xt_rng_seed(&r, seed);
    s_fill(L->w_ih, G * I, &r, 0.8), s_fill(L->w_hh, G * H, &r, 0.8);
    s_fill(L->b_ih, G, &r, 0.5), s_fill(L->b_hh, G, &r, 0.5);
    s_fill(L->in, N * I, &r, 1.0), s_fill(L->h0, (size_t)B * H, &r, 0.9);
    s_fill(L->c0, (size_t)B * H, &r, 1.5), s_fill(L->wout, N * H, &r, 1.0);
}

static void lay_free(lay64 *L) {
    double *ps[] = {L->w_ih,  L->w_hh, L->b_ih, L->b_hh, L->g_ih,   L->g_hh, L->gb_ih,
                    L->gb_hh, L->in,   L->h0,   L->c0,   L->out,    L->dout, L->din,
                    L->dh0,   L->dc0,  L->wout, L->fwd,  L->scratch};
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++)
        free(ps[k]);
    free(L->starts);
}

static void lay_forward(lay64 *L) {
    xt_lstm_w_f64 w = {L->w_ih, L->w_hh, L->b_ih, L->b_hh};
    xt_lstm_forward_f64(L->out, &L->cache, L->in, &w, L->h0, L->c0, L->starts, L->B, L->T, L->I,
                        L->H);
}

// scalar loss = sum(wout * out) + sum(out[T-1]^2) / 2: the square makes the
// last step's output matter non-linearly.
static double lay_loss(lay64 *L) {
    lay_forward(L);
    size_t N = (size_t)L->B * L->T * L->H, BH = (size_t)L->B * L->H;
    double s = 0;
    for (size_t k = 0; k < N; k++)
        s += L->wout[k] * L->out[k];
    for (size_t k = 0; k < BH; k++)
        s += 0.5 * L->out[N - BH + k] * L->out[N - BH + k];
    return s;
}

static void lay_backward(lay64 *L) {
    size_t N = (size_t)L->B * L->T * L->H, BH = (size_t)L->B * L->H;
    (void)lay_loss(L);
    for (size_t k = 0; k < N; k++)
        L->dout[k] = L->wout[k];
    for (size_t k = 0; k < BH; k++)
        L->dout[N - BH + k] += L->out[N - BH + k];
    xt_lstm_w_f64 w = {L->w_ih, L->w_hh, L->b_ih, L->b_hh};
    xt_lstm_dw_f64 dw = {L->g_ih, L->g_hh, L->gb_ih, L->gb_hh};
    xt_lstm_backward_f64(L->din, &dw, L->dh0, L->dc0, L->dout, L->in, &w, &L->cache, L->starts,
                         L->B, L->T, L->I, L->H);
}

// Central differences on every element of p against the analytic g.
// Tolerance: double FD with eps 1e-6 is good to ~1e-9 here (truncation
// eps^2 * f''' and rounding 1e-16 / eps); 1e-6 relative leaves a margin
// while any real mistake (a wrong mask or gate) is off by O(1).
static int s_check(lay64 *L, double *p, const double *g, size_t n, const char *what) {
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        double keep = p[k], eps = 1e-6;
        p[k] = keep + eps;
        double lp = lay_loss(L);
        p[k] = keep - eps;
        double lm = lay_loss(L);
        p[k] = keep;
        double num = (lp - lm) / (2 * eps);
        if (fabs(num - g[k]) > 1e-8 + 1e-6 * fabs(num)) {
            if (bad++ < 5)
                print_error("%s[%zu]: analytic %.10g numeric %.10g\n", what, k, g[k], num);
        }
    }
    return bad;
}

// ---- tests

// One step, one env, I = H = 1, worked by hand from the formulas.
static void t_forward_hand(void **state) {
    (void)state;
    double w_ih[4] = {0.5, -0.25, 1.0, 0.75}, w_hh[4] = {0.1, 0.2, -0.3, 0.4};
    double b_ih[4] = {0.0, 1.0, 0.0, 0.0}, b_hh[4] = {0.05, 0.0, -0.1, 0.2};
    double x = 0.8, h0 = -0.5, c0 = 0.3, out = 0;
    double fwd[16], scratch[16];
    xt_lstm_cache_f64 c;
    xt_lstm_cache_bind_f64(&c, fwd, scratch, 1, 1, 1);
    xt_lstm_w_f64 w = {w_ih, w_hh, b_ih, b_hh};
    xt_lstm_forward_f64(&out, &c, &x, &w, &h0, &c0, NULL, 1, 1, 1, 1);
    double pre[4];
    for (int k = 0; k < 4; k++)
        pre[k] = w_ih[k] * x + w_hh[k] * h0 + b_ih[k] + b_hh[k];
    double i = 1 / (1 + exp(-pre[0])), f = 1 / (1 + exp(-pre[1])), g = tanh(pre[2]);
    double o = 1 / (1 + exp(-pre[3]));
    double cn = f * c0 + i * g;
    assert_near(out, o * tanh(cn), 1e-15);
    assert_near(c.c_last[0], cn, 1e-15);
    assert_near(c.gates[1], f, 1e-15);
    // with the episode-start flag the carried state is ignored: h0 = c0 = 0
    uint8_t st = 1;
    xt_lstm_forward_f64(&out, &c, &x, &w, &h0, &c0, &st, 1, 1, 1, 1);
    for (int k = 0; k < 4; k++)
        pre[k] = w_ih[k] * x + b_ih[k] + b_hh[k];
    i = 1 / (1 + exp(-pre[0])), g = tanh(pre[2]), o = 1 / (1 + exp(-pre[3]));
    assert_near(out, o * tanh(i * g), 1e-15);
}

// Every weight, bias, input, h0 and c0 against finite differences, on a chunk
// with non-zero initial state and episode resets in the middle (env 1 at t = 2,
// env 2 at t = 0 and t = 3). H = 3 also exercises the partial-vector tail.
// B = 3 runs the recurrent products in the small-M vector loops, B = 6 in
// BLAS (dense.h, XT_NN_SMALL_M).
static void s_grad_resets(int B) {
    lay64 L;
    lay_init(&L, B, 5, 4, 3, 7);
    L.starts[2 * B + 1] = 1;
    L.starts[0 * B + 2] = 1;
    L.starts[3 * B + 2] = 1;
    lay_backward(&L);
    size_t G = 4 * 3;
    int bad = 0;
    bad += s_check(&L, L.w_ih, L.g_ih, G * 4, "w_ih");
    bad += s_check(&L, L.w_hh, L.g_hh, G * 3, "w_hh");
    bad += s_check(&L, L.b_ih, L.gb_ih, G, "b_ih");
    bad += s_check(&L, L.b_hh, L.gb_hh, G, "b_hh");
    bad += s_check(&L, L.in, L.din, (size_t)B * 5 * 4, "in");
    bad += s_check(&L, L.h0, L.dh0, (size_t)B * 3, "h0");
    bad += s_check(&L, L.c0, L.dc0, (size_t)B * 3, "c0");
    assert_int_equal(bad, 0);
    // env 2 resets at t = 0: its initial state cannot matter
    for (int j = 0; j < 3; j++) {
        assert_true(L.dh0[2 * 3 + j] == 0 && L.dc0[2 * 3 + j] == 0);
        assert_true(L.dh0[1 * 3 + j] != 0);
    }
    lay_free(&L);
}

static void t_grad_resets(void **state) {
    (void)state;
    s_grad_resets(3);
    s_grad_resets(XT_NN_SMALL_M + 2);
}

// Backward adds into the parameter gradients: two backwards = twice one.
static void t_grad_accumulates(void **state) {
    (void)state;
    lay64 L;
    lay_init(&L, 2, 3, 2, 2, 11);
    lay_backward(&L);
    double g1 = L.g_hh[5], b1 = L.gb_ih[3];
    lay_backward(&L);
    assert_near(L.g_hh[5], 2 * g1, 1e-14);
    assert_near(L.gb_ih[3], 2 * b1, 1e-14);
    assert_near(L.gb_ih[3], L.gb_hh[3], 1e-14);
    lay_free(&L);
}

// After a reset at step t, env b's outputs equal a fresh run of the steps
// from t on starting from zero state (bitwise: same arithmetic).
static void t_reset_equals_fresh(void **state) {
    (void)state;
    lay64 A, F;
    lay_init(&A, 2, 6, 3, 5, 3);
    lay_init(&F, 2, 3, 3, 5, 3); // steps 3..5 only
    memcpy(F.w_ih, A.w_ih, sizeof(double) * 20 * 3), memcpy(F.w_hh, A.w_hh, sizeof(double) * 100);
    memcpy(F.b_ih, A.b_ih, sizeof(double) * 20), memcpy(F.b_hh, A.b_hh, sizeof(double) * 20);
    memcpy(F.in, A.in + 3 * 2 * 3, sizeof(double) * 3 * 2 * 3);
    A.starts[3 * 2 + 0] = A.starts[3 * 2 + 1] = 1;
    memset(F.h0, 0, sizeof(double) * 10), memset(F.c0, 0, sizeof(double) * 10);
    lay_forward(&A);
    lay_forward(&F);
    for (size_t k = 0; k < 3 * 2 * 5; k++)
        assert_near(A.out[3 * 2 * 5 + k], F.out[k], 1e-14);
    lay_free(&A);
    lay_free(&F);
}

// float (polynomial exp) vs double (libm) on the same data, forward and
// backward. H = 5 exercises the float tail. Tolerance: the float path's exp has
// relative error ~1e-7 and sums of ~20 products round at ~1e-7 each, so 1e-5
// absolute on O(1) values is ample; a wrong formula is off by >1e-2.
static void s_float_vs_double(int B) {
    const int T = 7, I = 6, H = 5, G = 20;
    lay64 L;
    lay_init(&L, B, T, I, H, 5);
    L.starts[2 * B + 1] = L.starts[5 * B + 3] = 1;
    for (size_t k = 0; k < (size_t)B * H; k++)
        L.c0[k] *= 4; // large |c| to test tanh range
    lay_backward(&L);
    size_t N = (size_t)B * T;
    float *f[19];
    size_t sz[] = {(size_t)G * I,
                   (size_t)G * H,
                   G,
                   G,
                   (size_t)G * I,
                   (size_t)G * H,
                   G,
                   G,
                   N * I,
                   (size_t)B * H,
                   (size_t)B * H,
                   N * H,
                   N * H,
                   N * I,
                   (size_t)B * H,
                   (size_t)B * H,
                   1,
                   xt_lstm_cache_size(B, T, H),
                   xt_lstm_scratch_size(B, T, H)};
    const double *src[] = {L.w_ih, L.w_hh, L.b_ih, L.b_hh, NULL, NULL, NULL, NULL, L.in, L.h0,
                           L.c0,   NULL,   L.dout, NULL,   NULL, NULL, NULL, NULL, NULL};
    for (int k = 0; k < 19; k++) {
        f[k] = calloc(sz[k], sizeof(float));
        for (size_t e = 0; src[k] && e < sz[k]; e++)
            f[k][e] = (float)src[k][e];
    }
    xt_lstm_cache c;
    xt_lstm_cache_bind(&c, f[17], f[18], B, T, H);
    xt_lstm_w w = {f[0], f[1], f[2], f[3]};
    xt_lstm_dw dw = {f[4], f[5], f[6], f[7]};
    xt_lstm_forward(f[11], &c, f[8], &w, f[9], f[10], L.starts, B, T, I, H);
    xt_lstm_backward(f[13], &dw, f[14], f[15], f[12], f[8], &w, &c, L.starts, B, T, I, H);
    double worst = 0;
    for (size_t k = 0; k < N * H; k++)
        worst = fmax(worst, fabs(f[11][k] - L.out[k]));
    for (size_t k = 0; k < (size_t)G * H; k++)
        worst = fmax(worst, fabs(f[5][k] - L.g_hh[k]));
    for (size_t k = 0; k < (size_t)G * I; k++)
        worst = fmax(worst, fabs(f[4][k] - L.g_ih[k]));
    for (size_t k = 0; k < N * I; k++)
        worst = fmax(worst, fabs(f[13][k] - L.din[k]));
    for (size_t k = 0; k < (size_t)B * H; k++)
        worst = fmax(worst, fabs(f[15][k] - L.dc0[k]));
    for (int k = 0; k < G; k++)
        worst = fmax(worst, fabs(f[6][k] - L.gb_ih[k]));
    assert_true(worst < 1e-5);
    assert_true(worst > 0); // the two paths really are different code
    for (int k = 0; k < 19; k++)
        free(f[k]);
    lay_free(&L);
}

// small-M vector loops (B = 4) and BLAS (B = 6) for the recurrent products
static void t_float_vs_double(void **state) {
    (void)state;
    s_float_vs_double(XT_NN_SMALL_M);
    s_float_vs_double(XT_NN_SMALL_M + 2);
}

// The float exp / tanh saturate cleanly: huge pre-activations give finite
// outputs of exactly the limit values.
static void t_float_saturation(void **state) {
    (void)state;
    float w_ih[4] = {1e4f, 1e4f, -1e4f, 1e4f}, w_hh[4] = {0}, b[4] = {0};
    float x[2] = {1.0f, -1.0f}, out[2], fwd[64], scratch[64];
    xt_lstm_cache c;
    xt_lstm_cache_bind(&c, fwd, scratch, 2, 1, 1);
    xt_lstm_w w = {w_ih, w_hh, b, b};
    xt_lstm_forward(out, &c, x, &w, NULL, NULL, NULL, 2, 1, 1, 1);
    // env 0: i = f = o = 1, g = -1 -> c = -1, h = tanh(-1)
    assert_near(c.c_last[0], -1.0f, 1e-6f);
    assert_near(out[0], tanhf(-1.0f), 1e-6f);
    // env 1: i = f = o = 0 -> c = 0, h = 0
    assert_near(out[1], 0.0f, 1e-7f);
    assert_true(isfinite(out[0]) && isfinite(out[1]));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_forward_hand),     cmocka_unit_test(t_grad_resets),
        cmocka_unit_test(t_grad_accumulates), cmocka_unit_test(t_reset_equals_fresh),
        cmocka_unit_test(t_float_vs_double),  cmocka_unit_test(t_float_saturation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
