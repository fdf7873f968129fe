// bench_features.c - the full seed-003 feature build on one core: 6 assets x
// 5 years of 15m bars (~1M input rows) -> resampling, indicators on 15m/4h/1d,
// as-of joins, cross-asset features, the 89-column portfolio matrix and its
// normalization. Input generation is timed separately (synth bench).
#include "benchutil.h"

#include "core/xtime.h"
#include "market/features.h"
#include "market/normalizer.h"
#include "market/synth.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    xt_bench_header("features (seed 003, 1 core)");
    xt_synth_opts o;
    xt_synth_opts_default(&o);
    o.start_ts = 1577836800; // 2020-01-01
    o.end_ts = 1735689600;   // 2025-01-01
    o.tf_sec = 900;
    o.n_assets = 6;
    xt_bars bars[6];
    xt_err e;
    int nl;
    if (xt_synth_generate(bars, NULL, 0, &nl, &o, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int64_t rows = 0;
    for (int a = 0; a < 6; a++) rows += bars[a].n;
    xt_features_opts fo = {20, 20};
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = xt_bench_thread_cpu();
        xt_features f;
        if (xt_features_build(&f, bars, 6, 900, &fo, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        int cols = xt_features_portfolio_cols(6);
        float *m = malloc(sizeof(float) * (size_t)f.n * (size_t)cols);
        for (int64_t r = 0; r < f.n; r++) xt_features_portfolio_row(m + r * cols, &f, r);
        uint8_t scaled[128];
        xt_features_portfolio_scaled(6, scaled);
        xt_normalizer nz;
        int64_t r0 = f.first_row_all, r1 = f.n * 4 / 5;
        if (xt_normalizer_fit(&nz, m, f.n, cols, r0, r1, scaled, 0, 10.0f, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        xt_normalizer_apply(&nz, m, f.n);
        double dt = xt_bench_thread_cpu() - t0;
        if (dt < best) best = dt;
        free(m);
        xt_features_free(&f);
    }
    char cfg[160];
    snprintf(cfg, sizeof cfg, "6 assets x 5y 15m = %lld input rows, 89 cols (+8 env = 97), best of 3", (long long)rows);
    xt_bench_record("features_rows_per_s", (double)rows / best, "rows/s", cfg);
    for (int a = 0; a < 6; a++) xt_bars_free(&bars[a]);
    return 0;
}
