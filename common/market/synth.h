// synth.h - synthetic multi-asset market: the embedded default data set and
// the test fixture.
//
// Six assets shaped like seed 003's universe (BTCUSD, ETHUSD, SOLUSD trade
// 24/7; EURUSD, GBPUSD, USDJPY print bars Mon 00:00 - Fri 21:00 UTC only),
// driven by correlated regime-switching geometric Brownian motion with
// GARCH(1,1)-style volatility clustering, Poisson jumps, session-dependent
// volume and volatility, and optional injected chart patterns whose labels
// (asset, kind, first and last bar) are returned to the caller.
//
// Determinism: the same options give bit-identical bars and labels on the
// same build (libm exp/log/sqrt are used; other platforms may differ in the
// last bits). Every asset draws from its own random streams derived from the
// seed, so an asset's series does not depend on which other assets were
// asked for or in which order. Higher timeframes are never generated: make
// them with xt_resample (market/resample.h) so they are always the
// aggregation of the base bars. docs/synthetic-market.md has the model.
#ifndef XT_SYNTH_H
#define XT_SYNTH_H

#include "core/err.h"
#include "market/bars.h"

#include <stdint.h>

#define XT_SYNTH_UNIVERSE 6

typedef struct {
    uint64_t seed;
    int64_t start_ts, end_ts;  // bars open in [start_ts, end_ts); the first is start_ts rounded up to tf_sec
    int tf_sec;                // base timeframe; multiple of 60 dividing 86400 (default 900 = 15m)
    int n_assets;              // 1..6: how many symbols (first n of the universe when symbols is NULL)
    const char *const *symbols; // [n_assets] names from the universe, or NULL for the default order
    int patterns;              // 1: inject labelled chart patterns
    double pattern_rate;       // expected patterns per 10,000 bars of one asset (0..1000)
    double vol_scale;          // multiplies every asset's volatility (0 < vol_scale <= 10)
} xt_synth_opts;

// Defaults: seed 42, 2019-01-01 .. 2024-01-01 UTC, 15m, all six assets,
// patterns on at 10 per 10k bars, vol_scale 1.
void xt_synth_opts_default(xt_synth_opts *o);

typedef enum {
    XT_PAT_TREND_UP = 0,
    XT_PAT_TREND_DOWN,
    XT_PAT_REVERSAL_UP,    // decline then recovery (V bottom)
    XT_PAT_REVERSAL_DOWN,  // rally then decline (inverted V top)
    XT_PAT_BREAKOUT_UP,    // tight range, then a break above it
    XT_PAT_BREAKOUT_DOWN,  // tight range, then a break below it
    XT_PAT_RANGE,          // oscillation between a floor and a ceiling
    XT_PAT_HEAD_SHOULDERS, // three peaks, the middle highest, then a neckline break down
    XT_PAT_INV_HEAD_SHOULDERS, // three troughs, the middle lowest, then a break up
    XT_PAT_DOUBLE_TOP,     // two equal peaks, then a fall below the trough between them
    XT_PAT_DOUBLE_BOTTOM,  // two equal troughs, then a rise above the peak between them
    XT_PAT_COUNT
} xt_pattern_kind;

// One injected pattern: rows start..end (inclusive) of out[asset].
typedef struct {
    int asset;  // index into the caller's out[] array
    xt_pattern_kind kind;
    int64_t start, end;
} xt_pattern_label;

// Pattern lengths in base bars (uniform in [MIN, MAX]).
#define XT_SYNTH_PATTERN_MIN_BARS 48
#define XT_SYNTH_PATTERN_MAX_BARS 192

// Generates o->n_assets series into out[0..n_assets) (each initialised here
// with xt_bars_init; the caller frees them with xt_bars_free). Labels are
// ordered by asset, then start. labels may be NULL (patterns are still
// injected when o->patterns is set); *n_labels (if n_labels is non-NULL)
// receives the number of patterns. If labels is non-NULL and more than
// max_labels patterns would be injected, nothing is generated, *n_labels is
// the number needed, and XT_ERANGE is returned. Unknown symbols give
// XT_ENOTFOUND ("symbols[1]: unknown symbol \"XRPUSD\" ..."); bad options
// XT_EINVAL naming the field. On failure every out[i] is left empty (n = 0,
// no memory held).
int xt_synth_generate(xt_bars *out, xt_pattern_label *labels, int max_labels, int *n_labels,
                      const xt_synth_opts *o, xt_err *err);

// The default universe in generation order (for config validation): *names
// points to static storage the caller must not modify, *n = 6. Either pointer
// may be NULL. Returns the count.
int xt_synth_universe(const char ***names, int *n);
// Universe index of a symbol (case-insensitive, '/', '-', '_' ignored:
// "btc/usd" -> 0), or -1.
int xt_synth_find(const char *symbol);
// Stable lower-case name ("head_shoulders"); "unknown" outside the enum.
const char *xt_pattern_name(xt_pattern_kind k);

#endif
