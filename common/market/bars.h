// bars.h - OHLCV bars of one (symbol, timeframe), struct of arrays.
//
// ts is the bar's open time (int64 seconds UTC); prices and volume are double
// on load. An xt_bars owns its arrays (one allocation, grown by doubling while
// importing; never on a hot path).
#ifndef XT_BARS_H
#define XT_BARS_H

#include "../core/err.h"
#include "calendar.h"

#include <stdint.h>

#define XT_SYMBOL_MAX 32

typedef struct {
    char symbol[XT_SYMBOL_MAX];
    xt_calendar cal;
    int tf_sec;   // bar length in seconds
    int64_t n;    // rows in use
    int64_t cap;  // rows allocated
    int64_t *ts;  // [n] open time
    double *open, *high, *low, *close, *volume; // [n]
} xt_bars;

// Empty bars with room for cap rows (cap may be 0). Calendar from the symbol name.
int xt_bars_init(xt_bars *b, const char *symbol, int tf_sec, int64_t cap, xt_err *err);
void xt_bars_free(xt_bars *b);
int xt_bars_reserve(xt_bars *b, int64_t cap, xt_err *err);
// Appends one bar (grows by doubling).
int xt_bars_push(xt_bars *b, int64_t ts, double o, double h, double l, double c, double v,
                 xt_err *err);
// Checks the DESIGN §3 invariants (monotonic, no duplicates, finite, high/low
// envelope, volume >= 0). On failure err names the row index and field.
int xt_bars_validate(const xt_bars *b, xt_err *err);
// First row index with ts >= t (n if none).
int64_t xt_bars_lower_bound(const xt_bars *b, int64_t t);

#endif
