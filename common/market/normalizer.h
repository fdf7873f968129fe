// normalizer.h - per-(symbol, feature) scaling fit on a train window only.
//
// z-score: (x - mean) / sd (sample sd) ; robust: (x - median) / (IQR / 1.349),
// so both give unit scale on Gaussian data. Fit reads only rows [r0, r1) of
// the matrix — the fold's train window — so test rows never leak into the
// statistics. Columns flagged unscaled (time, session flags) pass through.
// A column with zero spread gets scale 1. NaN stays NaN; results are clipped
// to [-clip, clip] when clip > 0. The stats are stored in the feature cache
// and in checkpoints.
#ifndef XT_NORMALIZER_H
#define XT_NORMALIZER_H

#include "../core/err.h"

#include <stdint.h>

#define XT_NORM_MAX_COLS 256

typedef struct {
    int cols;
    int kind;   // 0 zscore, 1 robust, 2 none (config features.normalizer order)
    float clip; // 0 = no clipping
    double center[XT_NORM_MAX_COLS];
    double scale[XT_NORM_MAX_COLS];
    uint8_t scaled[XT_NORM_MAX_COLS];
} xt_normalizer;

// x is [rows][cols] row-major. Rows with a NaN in a column are skipped for that column.
int xt_normalizer_fit(xt_normalizer *nz, const float *x, int64_t rows, int cols, int64_t r0, int64_t r1,
                      const uint8_t *scaled, int kind, float clip, xt_err *err);
// In place over all rows.
void xt_normalizer_apply(const xt_normalizer *nz, float *x, int64_t rows);
// One row (used by actors on live rows).
void xt_normalizer_apply_row(const xt_normalizer *nz, float *row);

#endif
