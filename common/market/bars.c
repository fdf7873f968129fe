// bars.c - OHLCV storage. One malloc holds all six arrays (ts first for
// alignment), so growing is one realloc-and-move and freeing is one free.
#include "bars.h"

#include "../core/xtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- storage

int xt_bars_init(xt_bars *b, const char *symbol, int tf_sec, int64_t cap, xt_err *err) {
    memset(b, 0, sizeof *b);
    if (strlen(symbol) >= XT_SYMBOL_MAX)
        return xt_err_set(err, XT_EINVAL, "symbol \"%s\": longer than %d characters", symbol,
                          XT_SYMBOL_MAX - 1);
    snprintf(b->symbol, sizeof b->symbol, "%s", symbol);
    xt_calendar_for_symbol(&b->cal, symbol);
    b->tf_sec = tf_sec;
    return cap > 0 ? xt_bars_reserve(b, cap, err) : 0;
}

void xt_bars_free(xt_bars *b) {
    free(b->ts);
    b->ts = NULL;
    b->open = b->high = b->low = b->close = b->volume = NULL;
    b->n = b->cap = 0;
}

int xt_bars_reserve(xt_bars *b, int64_t cap, xt_err *err) {
    if (cap <= b->cap) return 0;
    // Layout: ts[cap] then 5 double arrays of cap each.
    char *mem = malloc((size_t)cap * (sizeof(int64_t) + 5 * sizeof(double)));
    if (!mem) return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %lld bars", b->symbol, (long long)cap);
    int64_t *ts = (int64_t *)mem;
    double *d = (double *)(mem + (size_t)cap * sizeof(int64_t));
    double *cols[5] = {d, d + cap, d + 2 * cap, d + 3 * cap, d + 4 * cap};
    if (b->n > 0) {
        memcpy(ts, b->ts, (size_t)b->n * sizeof *ts);
        double *old[5] = {b->open, b->high, b->low, b->close, b->volume};
        for (int k = 0; k < 5; k++) memcpy(cols[k], old[k], (size_t)b->n * sizeof(double));
    }
    free(b->ts);
    b->ts = ts;
    b->open = cols[0], b->high = cols[1], b->low = cols[2], b->close = cols[3], b->volume = cols[4];
    b->cap = cap;
    return 0;
}

int xt_bars_push(xt_bars *b, int64_t ts, double o, double h, double l, double c, double v,
                 xt_err *err) {
    if (b->n == b->cap) {
        int rc = xt_bars_reserve(b, b->cap ? b->cap * 2 : 1024, err);
        if (rc) return rc;
    }
    int64_t i = b->n++;
    b->ts[i] = ts, b->open[i] = o, b->high[i] = h, b->low[i] = l, b->close[i] = c, b->volume[i] = v;
    return 0;
}

// ---------------------------------------------------------------- checks

int xt_bars_validate(const xt_bars *b, xt_err *err) {
    char t0[32];
    for (int64_t i = 0; i < b->n; i++) {
        double o = b->open[i], h = b->high[i], l = b->low[i], c = b->close[i], v = b->volume[i];
        if (!isfinite(o) || !isfinite(h) || !isfinite(l) || !isfinite(c) || !isfinite(v))
            return xt_err_set(err, XT_ENUMERIC, "%s: bar %lld (%s): non-finite value", b->symbol,
                              (long long)i, xt_time_format(b->ts[i], t0));
        if (v < 0)
            return xt_err_set(err, XT_EINVAL, "%s: bar %lld (%s): negative volume %g", b->symbol,
                              (long long)i, xt_time_format(b->ts[i], t0), v);
        if (h < fmax(o, c))
            return xt_err_set(err, XT_EINVAL, "%s: bar %lld (%s): high %g below max(open, close)",
                              b->symbol, (long long)i, xt_time_format(b->ts[i], t0), h);
        if (l > fmin(o, c))
            return xt_err_set(err, XT_EINVAL, "%s: bar %lld (%s): low %g above min(open, close)",
                              b->symbol, (long long)i, xt_time_format(b->ts[i], t0), l);
        if (i > 0 && b->ts[i] <= b->ts[i - 1])
            return xt_err_set(err, XT_EINVAL, "%s: bar %lld (%s): timestamp %s previous",
                              b->symbol, (long long)i, xt_time_format(b->ts[i], t0),
                              b->ts[i] == b->ts[i - 1] ? "duplicates" : "is before");
    }
    return 0;
}

int64_t xt_bars_lower_bound(const xt_bars *b, int64_t t) {
    int64_t lo = 0, hi = b->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (b->ts[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}
