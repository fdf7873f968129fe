// bench_synth.c - synthetic market generation and resampling throughput.
//
// synth_bars_per_s: the default market (6 assets x 5 years of 15m bars,
// patterns on), bars written per CPU second of this thread (best of 3).
// resample_bars_per_s: base bars aggregated per CPU second, each asset to
// 1h, 4h and 1d. closed_index_rows_per_s: rows joined per CPU second.
#include "benchutil.h"

#include "market/resample.h"
#include "market/synth.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    xt_bench_header("synthetic market");
    xt_synth_opts o;
    xt_synth_opts_default(&o);
    xt_bars b[XT_SYNTH_UNIVERSE];
    xt_err e;
    double best = 1e30;
    int64_t bars = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = xt_bench_thread_cpu();
        if (xt_synth_generate(b, NULL, 0, NULL, &o, &e)) {
            fprintf(stderr, "bench_synth: %s\n", e.msg);
            return 1;
        }
        double dt = xt_bench_thread_cpu() - t0;
        if (dt < best) best = dt;
        bars = 0;
        for (int a = 0; a < o.n_assets; a++) bars += b[a].n;
        if (rep < 2)
            for (int a = 0; a < o.n_assets; a++) xt_bars_free(&b[a]);
    }
    char cfg[128];
    snprintf(cfg, sizeof cfg, "6 assets x 5y 15m, %lld bars, 1 core", (long long)bars);
    xt_bench_record("synth_bars_per_s", (double)bars / best, "bars/s", cfg);

    const int tfs[3] = {3600, 4 * 3600, 86400};
    int64_t *idx = malloc((size_t)b[0].n * sizeof *idx);
    double rs = 0, ci = 0;
    int64_t rs_bars = 0, ci_rows = 0;
    for (int rep = 0; rep < 5; rep++)
        for (int a = 0; a < o.n_assets; a++)
            for (int t = 0; t < 3; t++) {
                xt_bars h;
                double t0 = xt_bench_thread_cpu();
                if (xt_resample(&h, &b[a], tfs[t], &e)) {
                    fprintf(stderr, "bench_synth: %s\n", e.msg);
                    return 1;
                }
                double t1 = xt_bench_thread_cpu();
                xt_resample_closed_index(idx, &b[a], &h);
                double t2 = xt_bench_thread_cpu();
                rs += t1 - t0, ci += t2 - t1;
                rs_bars += b[a].n, ci_rows += b[a].n;
                xt_bars_free(&h);
            }
    xt_bench_record("resample_bars_per_s", (double)rs_bars / rs, "bars/s", "15m -> 1h, 4h, 1d, 1 core");
    xt_bench_record("closed_index_rows_per_s", (double)ci_rows / ci, "rows/s", "15m rows x 1h/4h/1d, 1 core");
    free(idx);
    for (int a = 0; a < o.n_assets; a++) xt_bars_free(&b[a]);
    return 0;
}
