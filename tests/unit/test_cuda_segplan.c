// test_cuda_segplan.c - the segment plan that maps chunks with episode
// resets onto cuDNN's packed variable-length batches (learner/cuda/segplan.h).
//
// Runs on every machine (no GPU): a hand-worked plan, the layout invariants
// over random resets, and the claim the CUDA backend rests on: an LSTM stack
// run over the packed sequences the way cuDNN reads them (sequence j at
// local step u in row off[u] + j, state carried from row off[u-1] + j, the
// first step from the chunk's (h0, c0) or zeros) equals the CPU reference's
// reset-masked recurrence, exactly in double.
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "cuda/segplan.h"
#include "nn/lstm.h"

static void *s_calloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    assert_non_null(p);
    return p;
}

// ---- a hand-worked plan

// Column 0: steps 0-4, reset at 2 -> (t0 0, len 2, from h0), (t0 2, len 3).
// Column 1: reset at 0 and 4 -> (t0 0, len 4, from zeros), (t0 4, len 1).
// Sorted longest first (ties by column, then t0): (1,0,4) (0,2,3) (0,0,2) (1,4,1).
// batch_at = 4 3 2 1, step offsets 0 4 7 9.
static void t_hand_plan(void **state) {
    (void)state;
    xt_segplan p;
    assert_int_equal(xt_segplan_init(&p, 4, 8, NULL), 0);
    const uint8_t resets[10] = {0, 0, 1, 0, 0, /* column 1 */ 1, 0, 0, 0, 1};
    xt_segplan_build(&p, resets, 2, 5, 1);
    assert_int_equal(p.nseg, 4);
    assert_int_equal(p.max_len, 4);
    const int len[4] = {4, 3, 2, 1}, col[4] = {1, 0, 0, 1}, t0[4] = {0, 2, 0, 4};
    const int init[4] = {0, 0, 1, 0}, alive[4] = {4, 3, 2, 1};
    for (int j = 0; j < 4; j++) {
        assert_int_equal(p.seq_len[j], len[j]);
        assert_int_equal(p.seg_col[j], col[j]);
        assert_int_equal(p.seg_t0[j], t0[j]);
        assert_int_equal(p.seg_init[j], init[j]);
        assert_int_equal(p.batch_at[j], alive[j]);
    }
    // row_of[b * 5 + t]: column 0 = rows of (j 2, u 0) (j 2, u 1) (j 1, u 0..2)
    const int rows[10] = {2, 6, 1, 5, 8, /* column 1 */ 0, 4, 7, 9, 3};
    for (int k = 0; k < 10; k++) {
        assert_int_equal(p.row_of[k], rows[k]);
        assert_int_equal(p.src_of[rows[k]], k);
    }
    // without initial states every sequence starts from zeros
    xt_segplan_build(&p, resets, 2, 5, 0);
    for (int j = 0; j < p.nseg; j++) assert_int_equal(p.seg_init[j], 0);
    // no resets at all: one sequence per column, column order
    const uint8_t none[10] = {0};
    xt_segplan_build(&p, none, 2, 5, 1);
    assert_int_equal(p.nseg, 2);
    for (int k = 0; k < 10; k++) assert_int_equal(p.row_of[k], (k % 5) * 2 + k / 5);
    xt_segplan_free(&p);
    // bad capacity is refused with the numbers
    xt_err err = {0};
    assert_int_equal(xt_segplan_init(&p, 0, 8, &err), XT_EINVAL);
    assert_string_equal(err.msg, "segment plan: 0 columns x 8 steps is outside 1 .. 2^28 samples");
}

// ---- invariants over random resets

static void s_check_invariants(const xt_segplan *p, const uint8_t *resets, int n, int Ts) {
    const int N = n * Ts;
    int *seen = s_calloc((size_t)N, sizeof(int));
    for (int k = 0; k < N; k++) {
        assert_true(p->row_of[k] >= 0 && p->row_of[k] < N);
        assert_int_equal(seen[p->row_of[k]]++, 0); // a bijection
        assert_int_equal(p->src_of[p->row_of[k]], k);
    }
    int total = 0, off = 0;
    for (int j = 0; j < p->nseg; j++) {
        total += p->seq_len[j];
        if (j) assert_true(p->seq_len[j] <= p->seq_len[j - 1]);
        const int b = p->seg_col[j], t0 = p->seg_t0[j];
        // a sequence starts at t = 0 or at a reset, and contains no later reset
        assert_true(t0 == 0 || resets[b * Ts + t0]);
        for (int u = 1; u < p->seq_len[j]; u++) assert_false(resets[b * Ts + t0 + u]);
        const int end = t0 + p->seq_len[j];
        assert_true(end == Ts || resets[b * Ts + end]);
    }
    assert_int_equal(total, N);
    for (int u = 0; u < p->max_len; u++) {
        // sequences alive at step u are exactly the first batch_at[u], rows off[u] + j
        for (int j = 0; j < p->nseg; j++) {
            const int alive = p->seq_len[j] > u;
            assert_int_equal(alive, j < p->batch_at[u]);
            if (alive)
                assert_int_equal(p->row_of[p->seg_col[j] * Ts + p->seg_t0[j] + u], off + j);
        }
        off += p->batch_at[u];
    }
    assert_int_equal(off, N);
    free(seen);
}

static void t_random_invariants(void **state) {
    (void)state;
    enum { MAXN = 9, MAXT = 13 };
    xt_segplan p;
    assert_int_equal(xt_segplan_init(&p, MAXN, MAXT, NULL), 0);
    xt_rng g;
    xt_rng_seed(&g, 42);
    uint8_t resets[MAXN * MAXT];
    for (int trial = 0; trial < 400; trial++) {
        const int n = 1 + (int)xt_rng_below(&g, MAXN), Ts = 1 + (int)xt_rng_below(&g, MAXT);
        const double pr = trial % 4 == 0 ? 0.9 : 0.2; // dense resets too: runs of length 1
        for (int k = 0; k < n * Ts; k++) resets[k] = xt_rng_uniform(&g) < pr;
        xt_segplan_build(&p, resets, n, Ts, (int)(trial & 1));
        s_check_invariants(&p, resets, n, Ts);
        // the same resets give the same plan (a pure function)
        int *rows = s_calloc((size_t)n * Ts, sizeof(int));
        memcpy(rows, p.row_of, (size_t)n * Ts * sizeof(int));
        xt_segplan_build(&p, resets, n, Ts, (int)(trial & 1));
        assert_memory_equal(rows, p.row_of, (size_t)n * Ts * sizeof(int));
        free(rows);
    }
    xt_segplan_free(&p);
}

// ---- packed LSTM == reset-masked LSTM

static double s_sig(double x) { return 1.0 / (1.0 + exp(-x)); }

// One layer over the packed rows, read the way cuDNN reads the packed
// layout: x [N, I] and y [N, H] by packed row; state of sequence j carried
// from its previous row; initial state hx0, cx0 [nseg, H].
static void s_packed_layer(double *y, const double *x, const xt_lstm_w_f64 *w,
                           const double *hx0, const double *cx0, const xt_segplan *p, int I, int H,
                           double *c_scratch) {
    double *g = s_calloc((size_t)4 * H, sizeof(double));
    int off = 0, prev = 0;
    for (int u = 0; u < p->max_len; u++) {
        for (int j = 0; j < p->batch_at[u]; j++) {
            const int r = off + j, rp = prev + j;
            const double *hp = u ? y + (size_t)rp * H : hx0 + (size_t)j * H;
            const double *cp = u ? c_scratch + (size_t)rp * H : cx0 + (size_t)j * H;
            for (int q = 0; q < 4 * H; q++) {
                double a = w->b_ih[q] + w->b_hh[q];
                for (int i = 0; i < I; i++) a += w->w_ih[(size_t)q * I + i] * x[(size_t)r * I + i];
                for (int i = 0; i < H; i++) a += w->w_hh[(size_t)q * H + i] * hp[i];
                g[q] = a;
            }
            for (int k = 0; k < H; k++) {
                const double ig = s_sig(g[k]), fg = s_sig(g[H + k]), gg = tanh(g[2 * H + k]);
                const double og = s_sig(g[3 * H + k]), c = fg * cp[k] + ig * gg;
                c_scratch[(size_t)r * H + k] = c;
                y[(size_t)r * H + k] = og * tanh(c);
            }
        }
        prev = off;
        off += p->batch_at[u];
    }
    free(g);
}

static void t_packed_lstm_matches_reference(void **state) {
    (void)state;
    enum { n = 5, Ts = 9, I = 4, H = 3, L = 2 };
    const int N = n * Ts;
    xt_rng g;
    xt_rng_seed(&g, 7);
    // weights, inputs (time-major [Ts, n, I]), per-column initial states, resets
    double *W[L][4];
    for (int k = 0; k < L; k++) {
        const int in = k ? H : I;
        const size_t sz[4] = {(size_t)4 * H * in, (size_t)4 * H * H, 4 * H, 4 * H};
        for (int s = 0; s < 4; s++) {
            W[k][s] = s_calloc(sz[s], sizeof(double));
            for (size_t e = 0; e < sz[s]; e++) W[k][s][e] = 2 * xt_rng_uniform(&g) - 1;
        }
    }
    double *x = s_calloc((size_t)N * I, sizeof(double));
    for (int k = 0; k < N * I; k++) x[k] = xt_rng_normal(&g);
    double *h0 = s_calloc((size_t)L * n * H, sizeof(double)), *c0 = s_calloc((size_t)L * n * H, sizeof(double));
    for (int k = 0; k < L * n * H; k++) h0[k] = xt_rng_normal(&g), c0[k] = xt_rng_normal(&g);
    uint8_t starts[Ts * n], resets[n * Ts]; // time-major for the reference, [n][Ts] for the plan
    for (int t = 0; t < Ts; t++)
        for (int b = 0; b < n; b++) {
            uint8_t r = xt_rng_uniform(&g) < 0.3;
            if (b == 3) r = t % 2 == 0; // a column of length-1 and length-2 sequences
            starts[t * n + b] = r;
            resets[b * Ts + t] = r;
        }
    // reference: the CPU layer, twice, with the reset mask
    double *ref[L], *inp = x;
    for (int k = 0; k < L; k++) {
        const int in = k ? H : I;
        ref[k] = s_calloc((size_t)N * H, sizeof(double));
        xt_lstm_cache_f64 cache;
        double *fwd = s_calloc(xt_lstm_cache_size(n, Ts, H), sizeof(double));
        xt_lstm_cache_bind_f64(&cache, fwd, NULL, n, Ts, H);
        xt_lstm_w_f64 w = {W[k][0], W[k][1], W[k][2], W[k][3]};
        xt_lstm_forward_f64(ref[k], &cache, inp, &w, h0 + (size_t)k * n * H,
                            c0 + (size_t)k * n * H, starts, n, Ts, in, H);
        inp = ref[k];
        free(fwd);
    }
    // packed: inputs gathered by plan, per-sequence initial states by seg_init
    xt_segplan p;
    assert_int_equal(xt_segplan_init(&p, n, Ts, NULL), 0);
    xt_segplan_build(&p, resets, n, Ts, 1);
    assert_true(p.nseg > n); // resets split columns
    double *xp = s_calloc((size_t)N * I, sizeof(double)), *yp[L], *cs = s_calloc((size_t)N * H, sizeof(double));
    for (int b = 0; b < n; b++)
        for (int t = 0; t < Ts; t++)
            memcpy(xp + (size_t)p.row_of[b * Ts + t] * I, x + ((size_t)t * n + b) * I, I * sizeof(double));
    double *hx = s_calloc((size_t)p.nseg * H, sizeof(double)), *cx = s_calloc((size_t)p.nseg * H, sizeof(double));
    inp = xp;
    for (int k = 0; k < L; k++) {
        const int in = k ? H : I;
        for (int j = 0; j < p.nseg; j++)
            for (int e = 0; e < H; e++) {
                const size_t src = ((size_t)k * n + p.seg_col[j]) * H + e;
                hx[(size_t)j * H + e] = p.seg_init[j] ? h0[src] : 0;
                cx[(size_t)j * H + e] = p.seg_init[j] ? c0[src] : 0;
            }
        yp[k] = s_calloc((size_t)N * H, sizeof(double));
        xt_lstm_w_f64 w = {W[k][0], W[k][1], W[k][2], W[k][3]};
        s_packed_layer(yp[k], inp, &w, hx, cx, &p, in, H, cs);
        inp = yp[k];
    }
    // every layer's output agrees at every (t, b)
    double worst = 0;
    for (int k = 0; k < L; k++)
        for (int b = 0; b < n; b++)
            for (int t = 0; t < Ts; t++)
                for (int e = 0; e < H; e++) {
                    double a = yp[k][(size_t)p.row_of[b * Ts + t] * H + e];
                    double r = ref[k][((size_t)t * n + b) * H + e];
                    worst = fmax(worst, fabs(a - r));
                }
    // the same double arithmetic in another order: agreement to rounding
    assert_true(worst < 1e-12);
    for (int k = 0; k < L; k++) {
        for (int s = 0; s < 4; s++) free(W[k][s]);
        free(ref[k]);
        free(yp[k]);
    }
    free(x), free(h0), free(c0), free(xp), free(cs), free(hx), free(cx);
    xt_segplan_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hand_plan),
        cmocka_unit_test(t_random_invariants),
        cmocka_unit_test(t_packed_lstm_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
