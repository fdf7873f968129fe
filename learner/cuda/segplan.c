// segplan.c - splitting chunks at episode resets into the sorted, packed
// sequences of one cuDNN RNN batch (segplan.h has the layout).
//
// Purpose: the host half of the CUDA backend's reset handling. It is plain
// C, compiled into libxtrade on every machine, so the decomposition is
// tested against the CPU LSTM even where no GPU exists
// (tests/unit/test_cuda_segplan.c).
// Invariants after a build: seq_len is non-increasing; the packed rows
// 0 .. n * Ts - 1 are each used by exactly one (b, t) (row_of and src_of are
// inverse permutations); a sequence never contains a reset after its first
// step. Ownership: the plan owns its arrays. Threads: one.
#include "cuda/segplan.h"

#include <stdlib.h>
#include <string.h>

// ---- lifecycle

int xt_segplan_init(xt_segplan *p, int max_n, int max_Ts, xt_err *err) {
    memset(p, 0, sizeof *p);
    if (max_n < 1 || max_Ts < 1 || (double)max_n * max_Ts > (double)(1 << 28))
        return xt_err_set(err, XT_EINVAL,
                          "segment plan: %d columns x %d steps is outside 1 .. 2^28 samples",
                          max_n, max_Ts);
    const size_t N = (size_t)max_n * max_Ts;
    p->max_n = max_n;
    p->max_Ts = max_Ts;
    int **arr[] = {&p->seq_len, &p->seg_col, &p->seg_t0, &p->seg_init, &p->row_of,
                   &p->src_of, &p->tmp_len, &p->tmp_col, &p->tmp_t0};
    for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) *arr[k] = malloc(N * sizeof(int));
    p->batch_at = malloc((size_t)max_Ts * sizeof(int));
    p->off = malloc((size_t)max_Ts * sizeof(int));
    p->count = malloc(((size_t)max_Ts + 1) * sizeof(int));
    int ok = p->batch_at && p->off && p->count;
    for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) ok = ok && *arr[k];
    if (!ok) {
        xt_segplan_free(p);
        return xt_err_set(err, XT_ENOMEM, "segment plan: out of memory for %zu samples", N);
    }
    return 0;
}

void xt_segplan_free(xt_segplan *p) {
    void *arr[] = {p->seq_len, p->seg_col, p->seg_t0, p->seg_init, p->row_of, p->src_of,
                   p->tmp_len, p->tmp_col, p->tmp_t0, p->batch_at, p->off, p->count};
    for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) free(arr[k]);
    memset(p, 0, sizeof *p);
}

// ---- build

void xt_segplan_build(xt_segplan *p, const uint8_t *resets, int n, int Ts, int have_h0) {
    p->n = n;
    p->Ts = Ts;
    // 1. segments in (b, t0) order: a new one at t = 0 and at every reset t > 0
    int ns = 0;
    for (int b = 0; b < n; b++) {
        const uint8_t *r = resets + (size_t)b * Ts;
        int t0 = 0;
        for (int t = 1; t <= Ts; t++) {
            if (t < Ts && !r[t]) continue;
            p->tmp_col[ns] = b;
            p->tmp_t0[ns] = t0;
            p->tmp_len[ns] = t - t0;
            ns++;
            t0 = t;
        }
    }
    p->nseg = ns;
    // 2. stable counting sort by length, longest first: count[L] segments of
    // length L; the first slot of length L follows every longer segment
    memset(p->count, 0, ((size_t)Ts + 1) * sizeof(int));
    for (int s = 0; s < ns; s++) p->count[p->tmp_len[s]]++;
    int above = 0;
    for (int L = Ts; L >= 1; L--) {
        int c = p->count[L];
        p->count[L] = above; // next free slot for length L
        above += c;
    }
    for (int s = 0; s < ns; s++) {
        int j = p->count[p->tmp_len[s]]++;
        p->seq_len[j] = p->tmp_len[s];
        p->seg_col[j] = p->tmp_col[s];
        p->seg_t0[j] = p->tmp_t0[s];
        // (h0, c0) only for a chunk's first segment, and not if step 0 resets
        p->seg_init[j] = have_h0 && p->tmp_t0[s] == 0 && !resets[(size_t)p->tmp_col[s] * Ts];
    }
    p->max_len = ns ? p->seq_len[0] : 0;
    // 3. batch_at[u] = sequences longer than u (a prefix of the sorted list);
    // off[u] = first packed row of local step u
    int j = ns, rows = 0;
    for (int u = 0; u < p->max_len; u++) {
        while (j > 0 && p->seq_len[j - 1] <= u) j--;
        p->batch_at[u] = j;
        p->off[u] = rows;
        rows += j;
    }
    // 4. packed row of every (b, t) and its inverse
    for (int s = 0; s < ns; s++) {
        const int base = p->seg_col[s] * Ts + p->seg_t0[s];
        for (int u = 0; u < p->seq_len[s]; u++) {
            int row = p->off[u] + s;
            p->row_of[base + u] = row;
            p->src_of[row] = base + u;
        }
    }
}
