// test_dense.c - dense + ReLU: hand-worked forward/backward, finite-difference
// gradients in double, float vs double, accumulation semantics.
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/dense.h"

#define assert_near(a, b, tol) \
    s_near((double)(a), (double)(b), (double)(tol), #a, __FILE__, __LINE__)
static void s_near(double a, double b, double tol, const char *what, const char *file, int line) {
    if (fabs(a - b) <= tol)
        return;
    print_error("%s:%d: %s = %.17g, expected %.17g (tol %g)\n", file, line, what, a, b, tol);
    fail();
}

// W = [[1, 2], [3, -4]], b = [0.5, -1], x = [1, 1]:
// pre = [3.5, -2] -> ReLU [3.5, 0]. With dout = [1, 1] the ReLU keeps [1, 0]:
// dW = [[1, 1], [0, 0]], db = [1, 0], din = [1, 2].
static void t_hand(void **state) {
    (void)state;
    float w[4] = {1, 2, 3, -4}, b[2] = {0.5f, -1}, x[2] = {1, 1}, y[2];
    float dy[2] = {1, 1}, dw[4] = {0}, db[2] = {0}, dx[2];
    xt_dense_forward(y, x, w, b, 1, 1, 2, 2);
    assert_near(y[0], 3.5, 0), assert_near(y[1], 0, 0);
    xt_relu_backward(dy, y, 2);
    assert_near(dy[0], 1, 0), assert_near(dy[1], 0, 0);
    xt_dense_backward(dx, dw, db, dy, x, w, 1, 2, 2);
    assert_near(dw[0], 1, 0), assert_near(dw[1], 1, 0), assert_near(dw[2], 0, 0);
    assert_near(dw[3], 0, 0), assert_near(db[0], 1, 0), assert_near(db[1], 0, 0);
    assert_near(dx[0], 1, 0), assert_near(dx[1], 2, 0);
    // no ReLU: the negative output stays
    xt_dense_forward(y, x, w, b, 0, 1, 2, 2);
    assert_near(y[1], -2, 0);
    // a second backward adds (db = 2 * [1, 0]), din is overwritten
    xt_dense_backward(dx, dw, db, dy, x, w, 1, 2, 2);
    assert_near(db[0], 2, 0), assert_near(dw[1], 2, 0), assert_near(dx[1], 2, 0);
    xt_nn_zero(dw, 4);
    // NaN is not hidden by the ReLU: it must reach the loss
    x[0] = NAN;
    xt_dense_forward(y, x, w, b, 1, 1, 2, 2);
    assert_true(isnan(y[0]) && isnan(y[1]));
    assert_near(dw[0] + dw[1] + dw[2] + dw[3], 0, 0);
}

enum { N = 6, I = 5, O = 4 };

typedef struct {
    double w[O * I], b[O], x[N * I], y[N * O], wl[N * O];
} net64;

// loss = sum(wl * relu(x W^T + b))
static double s_loss(net64 *t) {
    xt_dense_forward_f64(t->y, t->x, t->w, t->b, 1, N, I, O);
    double s = 0;
    for (int k = 0; k < N * O; k++)
        s += t->wl[k] * t->y[k];
    return s;
}

static void t_grad(void **state) {
    (void)state;
    net64 t;
    xt_rng r;
    xt_rng_seed(&r, 3);
    for (int k = 0; k < O * I; k++)
        t.w[k] = 2 * xt_rng_uniform(&r) - 1;
    for (int k = 0; k < O; k++)
        t.b[k] = 0.2 * (2 * xt_rng_uniform(&r) - 1);
    for (int k = 0; k < N * I; k++)
        t.x[k] = 2 * xt_rng_uniform(&r) - 1;
    for (int k = 0; k < N * O; k++)
        t.wl[k] = 2 * xt_rng_uniform(&r) - 1;
    double dw[O * I] = {0}, db[O] = {0}, dx[N * I], dy[N * O];
    (void)s_loss(&t);
    int active = 0;
    for (int k = 0; k < N * O; k++) {
        dy[k] = t.wl[k];
        active += t.y[k] > 0;
    }
    assert_true(active > 0 && active < N * O); // the ReLU really masks something
    xt_relu_backward_f64(dy, t.y, N * O);
    xt_dense_backward_f64(dx, dw, db, dy, t.x, t.w, N, I, O);
    // FD in double: piecewise linear loss, so central differences are exact
    // up to rounding unless a pre-activation sits within eps of 0 (no such
    // point in this draw); 1e-7 is far below any real error.
    double *p[3] = {t.w, t.b, t.x}, *g[3] = {dw, db, dx};
    int n[3] = {O * I, O, N * I};
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < n[a]; k++) {
            double keep = p[a][k], eps = 1e-6;
            p[a][k] = keep + eps;
            double lp = s_loss(&t);
            p[a][k] = keep - eps;
            double lm = s_loss(&t);
            p[a][k] = keep;
            assert_near(g[a][k], (lp - lm) / (2 * eps), 1e-7);
        }
}

// float and double give the same numbers up to float rounding.
static void t_float_vs_double(void **state) {
    (void)state;
    enum { n = 33, i = 17, o = 9 };
    double w[o * i], b[o], x[n * i], y[n * o];
    float wf[o * i], bf[o], xf[n * i], yf[n * o];
    xt_rng r;
    xt_rng_seed(&r, 9);
    for (int k = 0; k < o * i; k++)
        wf[k] = (float)(w[k] = xt_rng_normal(&r));
    for (int k = 0; k < o; k++)
        bf[k] = (float)(b[k] = xt_rng_normal(&r));
    for (int k = 0; k < n * i; k++)
        xf[k] = (float)(x[k] = xt_rng_normal(&r));
    for (int k = 0; k < o * i; k++)
        w[k] = wf[k];
    for (int k = 0; k < o; k++)
        b[k] = bf[k];
    for (int k = 0; k < n * i; k++)
        x[k] = xf[k];
    xt_dense_forward_f64(y, x, w, b, 1, n, i, o);
    xt_dense_forward(yf, xf, wf, bf, 1, n, i, o);
    // 17-term dot products of N(0,1) values: float rounding ~1e-6
    for (int k = 0; k < n * o; k++)
        assert_near(yf[k], y[k], 1e-5);
}

// ---- the small-M products

// xt_nn_gemm_nt / _nn against a plain double triple loop, for M = 1..6 (the
// vector loops up to XT_NN_SMALL_M, BLAS above) and widths that leave every
// tail of the loops (K and N not multiples of the vector blocks), beta 0 and 1.
static void t_gemm_small(void **state) {
    (void)state;
    enum { MAXM = 6, MAXN = 45, MAXK = 37 };
    const int Ns[] = {1, 4, 7, 32, 45}, Ks[] = {1, 3, 8, 13, 37};
    float x[MAXM * MAXK], w[MAXN * MAXK], out[MAXM * MAXN], base[MAXM * MAXN];
    double xd[MAXM * MAXK], wd[MAXN * MAXK], outd[MAXM * MAXN], based[MAXM * MAXN];
    xt_rng r;
    xt_rng_seed(&r, 21);
    for (int k = 0; k < MAXM * MAXK; k++)
        xd[k] = x[k] = (float)(2 * xt_rng_uniform(&r) - 1);
    for (int k = 0; k < MAXN * MAXK; k++)
        wd[k] = w[k] = (float)(2 * xt_rng_uniform(&r) - 1);
    for (int k = 0; k < MAXM * MAXN; k++)
        based[k] = base[k] = (float)(2 * xt_rng_uniform(&r) - 1);
    int cases = 0;
    for (int M = 1; M <= MAXM; M++)
        for (size_t a = 0; a < sizeof Ns / sizeof *Ns; a++)
            for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++)
                for (int beta = 0; beta < 2; beta++)
                    for (int nn = 0; nn < 2; nn++) {
                        const int nc = Ns[a], K = Ks[b];
                        memcpy(out, base, sizeof out);
                        memcpy(outd, based, sizeof outd);
                        if (nn) { // W read as [K, N]
                            xt_nn_gemm_nn(out, x, w, M, nc, K, beta);
                            xt_nn_gemm_nn_f64(outd, xd, wd, M, nc, K, beta);
                        } else { // W read as [N, K]
                            xt_nn_gemm_nt(out, x, w, M, nc, K, beta);
                            xt_nn_gemm_nt_f64(outd, xd, wd, M, nc, K, beta);
                        }
                        for (int m = 0; m < M; m++)
                            for (int n = 0; n < nc; n++) {
                                double ref = beta ? based[m * nc + n] : 0;
                                for (int k = 0; k < K; k++)
                                    ref += xd[m * K + k] * (nn ? wd[k * nc + n] : wd[n * K + k]);
                                // float: K <= 37 products of O(1) terms, ~1e-6;
                                // double: exact to ~1e-15; a wrong index is O(0.1)
                                assert_near(out[m * nc + n], ref, 1e-5);
                                assert_near(outd[m * nc + n], ref, 1e-12);
                            }
                        // nothing outside [M, N] is written
                        for (int k = M * nc; k < MAXM * MAXN; k++)
                            assert_true(out[k] == base[k]);
                        cases++;
                    }
    assert_int_equal(cases, 6 * 5 * 5 * 2 * 2);
}

// The small-M path gives each row the same bits whatever M is (the loop
// streams W once per row), so one env computed alone equals the same env in
// a batch of up to XT_NN_SMALL_M.
static void t_gemm_small_rows(void **state) {
    (void)state;
    enum { NC = 24, K = 19 };
    float x[XT_NN_SMALL_M * K], w[NC * K], all[XT_NN_SMALL_M * NC], one[NC];
    xt_rng r;
    xt_rng_seed(&r, 5);
    for (int k = 0; k < XT_NN_SMALL_M * K; k++)
        x[k] = (float)xt_rng_normal(&r);
    for (int k = 0; k < NC * K; k++)
        w[k] = (float)xt_rng_normal(&r);
    xt_nn_gemm_nt(all, x, w, XT_NN_SMALL_M, NC, K, 0);
    for (int m = 0; m < XT_NN_SMALL_M; m++) {
        xt_nn_gemm_nt(one, x + m * K, w, 1, NC, K, 0);
        assert_memory_equal(one, all + m * NC, sizeof one);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hand),
        cmocka_unit_test(t_grad),
        cmocka_unit_test(t_float_vs_double),
        cmocka_unit_test(t_gemm_small),
        cmocka_unit_test(t_gemm_small_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
