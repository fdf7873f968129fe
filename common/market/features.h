// features.h - seed 003 §4 feature matrices, without look-ahead.
//
// From the base-timeframe bars of K assets this builds, for one env
// timeframe, a shared timeline (the union of every asset's bar times) and:
//  - per asset: its bars on that timeline (forward-filled and flagged stale
//    where the asset printed no bar, e.g. forex at the weekend) and ATR(14);
//  - the portfolio matrix (seed 003: 13 market features x K, 3 time,
//    K session flags, 2 cross-asset = 89 columns for K = 6; the portfolio env
//    appends K+1 weights and unrealized PnL for 97);
//  - the asset matrix of one symbol on its own bars (13 market, 3 time,
//    5 session, 2 cross-asset = 23 columns).
// Higher-timeframe values reach a row only after their bar has closed
// (resample closed-index join); every rolling window looks backwards only.
// Values are raw (un-normalized) float32, NaN during indicator warm-up; see
// normalizer.h for scaling. Feature names are stable and documented in
// docs/features.md.
#ifndef XT_FEATURES_H
#define XT_FEATURES_H

#include "../core/err.h"
#include "bars.h"

#include <stdint.h>

#define XT_FEAT_MAX_ASSETS 16
#define XT_FEAT_NAME_MAX 48
#define XT_FEAT_MARKET 13   // per-asset market features (8 base + 3 4h + 2 1d)
#define XT_FEAT_ASSET_COLS 23

typedef struct {
    int corr_window;     // BTC/ETH rolling correlation window (20)
    int momentum_window; // crypto-forex divergence momentum window (20)
} xt_features_opts;

typedef struct {
    int k;      // assets
    int tf_sec; // env timeframe
    int64_t n;  // rows of the shared timeline
    int64_t *ts;
    char symbol[XT_FEAT_MAX_ASSETS][XT_SYMBOL_MAX];
    xt_calendar cal[XT_FEAT_MAX_ASSETS];
    // [k][n] prices on the shared timeline (stale rows carry the last close)
    double *open[XT_FEAT_MAX_ASSETS], *high[XT_FEAT_MAX_ASSETS], *low[XT_FEAT_MAX_ASSETS];
    double *close[XT_FEAT_MAX_ASSETS], *volume[XT_FEAT_MAX_ASSETS], *atr[XT_FEAT_MAX_ASSETS];
    uint8_t *stale[XT_FEAT_MAX_ASSETS];
    float *market[XT_FEAT_MAX_ASSETS]; // [k][n][13] as-of market features
    float *time3;                      // [n][3] sin_hour, cos_hour, day_of_week
    float *cross2;                     // [n][2] btc_eth_corr, crypto_forex_divergence
    int64_t first_row[XT_FEAT_MAX_ASSETS]; // first row where the asset's features are all defined
    int64_t first_row_all;                 // max over assets and cross features
    void *mem;                             // owner of every array above
} xt_features;

// Builds the feature set from base bars (all of one base timeframe; tf_sec a
// multiple of it). The result owns its memory (xt_features_free).
int xt_features_build(xt_features *f, const xt_bars *base, int k, int tf_sec, const xt_features_opts *o,
                      xt_err *err);
void xt_features_free(xt_features *f);

// Column names.
int xt_features_portfolio_cols(int k);
void xt_features_portfolio_names(const xt_features *f, char (*names)[XT_FEAT_NAME_MAX]);
void xt_features_asset_names(char (*names)[XT_FEAT_NAME_MAX]);
// Whether a column is scaled by the normalizer (market and cross-asset
// features) or passed through (time, session flags).
void xt_features_portfolio_scaled(int k, uint8_t *scaled);
void xt_features_asset_scaled(uint8_t *scaled);

// Writes row r of the portfolio matrix (xt_features_portfolio_cols(k) floats).
void xt_features_portfolio_row(float *out, const xt_features *f, int64_t r);
// Writes row r of asset a's matrix (XT_FEAT_ASSET_COLS floats).
void xt_features_asset_row(float *out, const xt_features *f, int a, int64_t r);

#endif
