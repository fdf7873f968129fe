// envmarket.h - the data contract between the feature pipeline and the envs.
//
// An xt_env_market is k assets on ONE shared timeline of n bars of the env's
// timeframe (rows where an asset had no bar are forward-filled and flagged in
// stale[]). The envs only read it; whoever fills it owns every array and must
// keep them alive while any env built on it exists. A window
// [row_begin, row_end) of the market is what an env batch is assigned (a
// fold's train or test slice); rows before row_begin may still be read as
// history (correlation lookback), rows at or after row_end never are.
//
// Row t is "bar t": ts[t] is its open time, open/high/low/close its raw prices,
// atr[t] the ATR(14) known at its close, feat[t] the normalised features known
// at its close. The action chosen after seeing row t fills at open[t+1].
//
// Annualisation: bars per year = 365 * 86400 / tf_sec for every asset class
// (crypto trades every day; forex/equity curves use the same clock so that a
// portfolio mixing them has one convention). xt_env_bars_per_year returns it.
#ifndef XT_ENVMARKET_H
#define XT_ENVMARKET_H

#include "core/err.h"
#include "market/calendar.h"

#include <stdint.h>

#define XT_ENV_MAX_ASSETS 16

typedef struct {
    int k;         // assets (1 for the asset env, K for the portfolio env)
    int64_t n;     // rows = bars of the env timeframe, one shared timeline for all k assets
    int tf_sec;    // timeframe seconds
    const int64_t *ts; // [n] bar open time, UTC seconds, strictly increasing
    const double *open[XT_ENV_MAX_ASSETS], *high[XT_ENV_MAX_ASSETS]; // [k][n] raw prices
    const double *low[XT_ENV_MAX_ASSETS], *close[XT_ENV_MAX_ASSETS];
    const double *atr[XT_ENV_MAX_ASSETS];     // [k][n] ATR(14) in price units at bar close (NaN in warm-up)
    const uint8_t *stale[XT_ENV_MAX_ASSETS];  // [k][n] 1 = forward-filled row: never trade on it; NULL = none
    xt_calendar cal[XT_ENV_MAX_ASSETS];       // session calendar per asset (market/calendar.h)
    char symbol[XT_ENV_MAX_ASSETS][32];
    double vol_baseline[XT_ENV_MAX_ASSETS];   // sd of per-bar simple returns on the train window (seed 003 §4.7)
    const float *feat;                        // [n][n_feat] normalised features, copied into obs
    int n_feat;
    int64_t first_row; // first row where all features and atr are defined (episodes start at or after it)
} xt_env_market;

// 365 * 86400 / tf_sec (0 when tf_sec <= 0).
double xt_env_bars_per_year(int tf_sec);

// Checks the market for the window [row_begin, row_end) as an env uses it:
// shape (1 <= k <= 16, n, tf_sec, n_feat >= 0), pointers, ts strictly
// increasing, window inside [0, n) with at least two usable rows at or after
// first_row, and for every usable row: prices finite and > 0, high/low
// envelope, atr finite and >= 0, features finite; vol_baseline finite > 0.
// err names the field, symbol and row at fault.
int xt_env_market_validate(const xt_env_market *m, int64_t row_begin, int64_t row_end, xt_err *err);

#endif
