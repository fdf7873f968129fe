// segplan.h - how a minibatch of chunks with episode resets becomes one
// variable-length cuDNN RNN batch (host side, plain C).
//
// The CPU reference (nn/lstm.h) multiplies (h, c) of env b by
// (1 - reset[b][t]) before step t. cuDNN has no per-step mask, so each
// chunk's steps are split at its resets into segments: a segment is a run
// of steps [t0, t0 + len) with no reset after t0, started from the chunk's
// (h0, c0) when t0 = 0 and no reset there, from zeros otherwise. Segments
// are independent sequences of one batch; running them is exactly the
// masked recurrence (docs/cuda.md).
//
// Layout handed to cuDNN (CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED): the
// sequences sorted by length, longest first (ties: column b, then t0, so
// the plan is a pure function of the resets); local step u of sequence j
// lives in packed row off[u] + j, where off[u] = sum of batch_at[0..u) and
// batch_at[u] = number of sequences longer than u. The packed rows are
// exactly the n * Ts samples, so every layer after the LSTM (dense, heads,
// loss) runs on the same rows and nothing is scattered back.
//
// Ownership: a plan owns its arrays, sized at xt_segplan_init for the
// largest minibatch; building allocates nothing. Threads: one.
#ifndef XT_SEGPLAN_H
#define XT_SEGPLAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

typedef struct {
    int max_n, max_Ts;  // capacity
    int n, Ts;          // columns (chunks or envs) and steps of the last build
    int nseg, max_len;  // sequences, longest sequence
    int *seq_len;       // [nseg] lengths, non-increasing
    int *seg_col;       // [nseg] column b of each sequence
    int *seg_t0;        // [nseg] first step of each sequence
    int *seg_init;      // [nseg] 1: starts from the column's (h0, c0); 0: from zeros
    int *batch_at;      // [max_len] sequences alive at local step u
    int *row_of;        // [n * Ts] packed row of (b, t), index b * Ts + t
    int *src_of;        // [n * Ts] inverse: b * Ts + t of packed row p
    // build scratch: segments in (b, t0) order, counts by length, step offsets
    int *tmp_len, *tmp_col, *tmp_t0, *count, *off;
} xt_segplan;

// Arrays for up to max_n columns of max_Ts steps. 0 or XT_ENOMEM / XT_EINVAL.
int xt_segplan_init(xt_segplan *p, int max_n, int max_Ts, xt_err *err);
void xt_segplan_free(xt_segplan *p);

// resets [n][Ts] (index b * Ts + t; nonzero = the state is zeroed before
// step t), have_h0: 0 when the columns have no initial state (every
// sequence starts from zeros). n <= max_n, Ts <= max_Ts (caller's invariant).
void xt_segplan_build(xt_segplan *p, const uint8_t *resets, int n, int Ts, int have_h0);

#ifdef __cplusplus
}
#endif

#endif
