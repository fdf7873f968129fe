// resample.h - base-timeframe bars -> higher timeframes, and the no-look-ahead
// index that joins a higher timeframe onto base rows.
//
// Bins are left-closed [T, T + tf), UTC aligned and labelled by their open
// time T = floor(ts / tf) * tf, so 4h bins open at 00/04/08/.. UTC and 1d bins
// at 00:00 UTC. Timeframes that are whole weeks are aligned to Monday
// 00:00 UTC instead of the epoch's Thursday. open = first open, high = max,
// low = min, close = last close, volume = sum; a bin with no base bar
// produces no bar (forex weekends leave no empty 4h/1d bars).
// Pure functions over caller-owned bars; any thread.
#ifndef XT_RESAMPLE_H
#define XT_RESAMPLE_H

#include "core/err.h"
#include "market/bars.h"

#include <stdint.h>

// Open time of the tf_sec bin holding ts (see the alignment rules above).
int64_t xt_resample_bin(int64_t ts, int tf_sec);

// Aggregates in into out (initialised here with in's symbol and calendar;
// the caller frees it with xt_bars_free). tf_sec must be a positive multiple
// of in->tf_sec; in's timestamps must increase strictly and sit on its own
// timeframe grid. On failure out is left empty and err names the row.
int xt_resample(xt_bars *out, const xt_bars *in, int tf_sec, xt_err *err);

// For each base row i: the index of the last htf bar that has closed by the
// close of base bar i, i.e. the largest j with
//   htf->ts[j] + htf->tf_sec <= base->ts[i] + base->tf_sec,
// or -1 when none has. idx has base->n entries. O(base->n + htf->n); both
// series must be sorted (as xt_resample and the importers leave them).
void xt_resample_closed_index(int64_t *idx, const xt_bars *base, const xt_bars *htf);

#endif
