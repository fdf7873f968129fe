// normalizer.c - fit (train rows only) and apply per-column scaling.
// The fit is not a hot path (it may allocate a column buffer); apply is a
// plain loop over caller memory.
#include "normalizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// k-th smallest of v[0..n) (Hoare quickselect; reorders v).
static double s_select(double *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j], v[j] = t;
                i++, j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

// Linear-interpolated quantile q of v[0..n) (numpy's default definition).
static double s_quantile(double *v, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    double lo = s_select(v, n, i);
    if (i + 1 >= n) return lo;
    // The next order statistic is the minimum of the upper part after selection.
    double hi = v[i + 1];
    for (int64_t j = i + 2; j < n; j++)
        if (v[j] < hi) hi = v[j];
    return lo + (pos - (double)i) * (hi - lo);
}

int xt_normalizer_fit(xt_normalizer *nz, const float *x, int64_t rows, int cols, int64_t r0, int64_t r1,
                      const uint8_t *scaled, int kind, float clip, xt_err *err) {
    memset(nz, 0, sizeof *nz);
    if (cols < 1 || cols > XT_NORM_MAX_COLS)
        return xt_err_set(err, XT_EINVAL, "normalizer: %d columns (allowed 1..%d)", cols, XT_NORM_MAX_COLS);
    if (r0 < 0 || r1 > rows || r1 - r0 < 2)
        return xt_err_set(err, XT_EINVAL, "normalizer: train window rows [%lld, %lld) of %lld holds fewer than 2 rows",
                          (long long)r0, (long long)r1, (long long)rows);
    nz->cols = cols, nz->kind = kind, nz->clip = clip;
    double *buf = kind == 1 ? malloc(sizeof(double) * (size_t)(r1 - r0)) : NULL;
    if (kind == 1 && !buf) return xt_err_set(err, XT_ENOMEM, "normalizer: out of memory");
    for (int c = 0; c < cols; c++) {
        nz->scaled[c] = scaled ? scaled[c] : 1;
        nz->center[c] = 0, nz->scale[c] = 1;
        if (!nz->scaled[c] || kind == 2) continue;
        if (kind == 0) {
            // Welford: stable over a million rows.
            double mean = 0, m2 = 0;
            int64_t cnt = 0;
            for (int64_t r = r0; r < r1; r++) {
                double v = x[r * cols + c];
                if (!isfinite(v)) continue;
                cnt++;
                double d = v - mean;
                mean += d / (double)cnt;
                m2 += d * (v - mean);
            }
            double sd = cnt > 1 ? sqrt(m2 / (double)(cnt - 1)) : 0;
            nz->center[c] = mean;
            nz->scale[c] = sd > 1e-12 ? sd : 1;
        } else {
            int64_t cnt = 0;
            for (int64_t r = r0; r < r1; r++) {
                double v = x[r * cols + c];
                if (isfinite(v)) buf[cnt++] = v;
            }
            if (cnt < 2) continue;
            double q1 = s_quantile(buf, cnt, 0.25), med = s_quantile(buf, cnt, 0.5), q3 = s_quantile(buf, cnt, 0.75);
            double s = (q3 - q1) / 1.349; // IQR of a unit Gaussian
            nz->center[c] = med;
            nz->scale[c] = s > 1e-12 ? s : 1;
        }
    }
    free(buf);
    return 0;
}

void xt_normalizer_apply_row(const xt_normalizer *nz, float *row) {
    float clip = nz->clip;
    for (int c = 0; c < nz->cols; c++) {
        if (!nz->scaled[c]) continue;
        float v = (float)((row[c] - nz->center[c]) / nz->scale[c]);
        if (clip > 0) v = v > clip ? clip : (v < -clip ? -clip : v); // NaN passes through both tests
        row[c] = v;
    }
}

void xt_normalizer_apply(const xt_normalizer *nz, float *x, int64_t rows) {
    for (int64_t r = 0; r < rows; r++) xt_normalizer_apply_row(nz, x + r * nz->cols);
}
