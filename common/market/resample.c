// resample.c - OHLCV aggregation to higher timeframes and the closed-bar join.
//
// Invariants: output bars are strictly increasing, each aggregates the base
// rows whose open time falls in its bin, and its ts is the bin's open (not the
// first base bar's), so a bin that starts with a gap is still labelled by its
// nominal open. The closed-bar join compares bin *ends* with base bar ends,
// so a higher-timeframe value is only seen once every base bar that feeds it
// has closed: no look-ahead. Ownership: out is the caller's. No shared state.
#include "resample.h"

#include "../core/xtime.h"

#include <string.h>

// ---- binning

#define S_WEEK 604800
#define S_MONDAY_OFFSET 345600 // 1970-01-05 00:00 UTC, the first Monday after the epoch

static int64_t s_floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && (a < 0)); }

int64_t xt_resample_bin(int64_t ts, int tf_sec) {
    int64_t off = tf_sec % S_WEEK == 0 ? S_MONDAY_OFFSET : 0;
    return s_floor_div(ts - off, tf_sec) * tf_sec + off;
}

// ---- aggregation

int xt_resample(xt_bars *out, const xt_bars *in, int tf_sec, xt_err *err) {
    memset(out, 0, sizeof *out);
    char tfs[16], t0[32];
    if (in->tf_sec <= 0)
        return xt_err_set(err, XT_EINVAL, "%s: base timeframe must be positive (got %d seconds)", in->symbol,
                          in->tf_sec);
    if (tf_sec <= 0 || tf_sec % in->tf_sec != 0)
        return xt_err_set(err, XT_EINVAL,
                          "%s: resample timeframe %d s is not a positive multiple of the base %s",
                          in->symbol, tf_sec, xt_timeframe_name(in->tf_sec, tfs));
    // Bins hold >= 1 base bar, so there are at most in->n of them.
    int rc = xt_bars_init(out, in->symbol, tf_sec, in->n, err);
    if (rc) return rc;
    out->cal = in->cal;
    int64_t j = -1, bin_end = INT64_MIN;
    for (int64_t i = 0; i < in->n; i++) {
        int64_t ts = in->ts[i];
        const char *why = NULL;
        if (i > 0 && ts <= in->ts[i - 1]) why = "is not after the previous bar";
        else if (s_floor_div(ts, in->tf_sec) * in->tf_sec != ts) why = "is not on the timeframe grid";
        if (why) {
            xt_bars_free(out);
            return xt_err_set(err, XT_EINVAL, "%s: bar %lld: open time %s %s", in->symbol, (long long)i,
                              xt_time_format(ts, t0), why);
        }
        double h = in->high[i], l = in->low[i];
        if (ts < bin_end) { // same bin: extend
            if (h > out->high[j]) out->high[j] = h;
            if (l < out->low[j]) out->low[j] = l;
            out->close[j] = in->close[i];
            out->volume[j] += in->volume[i];
            continue;
        }
        // New bin (only here is the division paid).
        int64_t b = xt_resample_bin(ts, tf_sec);
        bin_end = b + tf_sec;
        j++;
        out->ts[j] = b;
        out->open[j] = in->open[i], out->high[j] = h, out->low[j] = l;
        out->close[j] = in->close[i], out->volume[j] = in->volume[i];
    }
    out->n = j + 1;
    return 0;
}

// ---- no-look-ahead join

void xt_resample_closed_index(int64_t *idx, const xt_bars *base, const xt_bars *htf) {
    int64_t j = -1; // last htf bar known closed; only moves forward
    for (int64_t i = 0; i < base->n; i++) {
        int64_t close = base->ts[i] + base->tf_sec;
        while (j + 1 < htf->n && htf->ts[j + 1] + htf->tf_sec <= close) j++;
        idx[i] = j;
    }
}
