// costs.h - fees, slippage and the per-row tables an env batch precomputes.
//
// Cost model (every fill of both envs goes through xt_cost_fill):
//   slippage fraction s = (slip_bps[class] * 1e-4 + slip_atr_k * atr[t] / close[t])
//                         * (slip_lowliq_mult if crypto and the fill bar opens in Sat 00-04 UTC)
//   where t is the decision bar (the fill is at bar t+1's open, so atr[t] is known);
//   fill price  = ref * (1 + s) for a buy, ref * (1 - s) for a sell;
//   fee         = fee[class] * |units| * fill price (fee on the filled notional);
//   slippage $  = |units| * ref * s (what the fill cost against the reference price);
//   cash change = -units * fill price - fee.
// Stop-loss / take-profit fills use s = 0 (they fill at the stop/TP price or at
// the open when the bar gaps through it). s is clamped to [0, 0.5].
//
// xt_env_tables holds, per window row r, what the step needs and would
// otherwise recompute per env: the tradable bits (the action mask), a copy of
// the bar's prices next to the slippage and ATR of the fill made at it (one
// contiguous block per row, so a step touches a few cache lines instead of
// one per price array) and the correlation clusters (portfolio). It is built
// once per batch at init, owned by the batch, read-only afterwards; its size
// is about (rows + 1) * k * 48 bytes.
#ifndef XT_COSTS_H
#define XT_COSTS_H

#include "core/err.h"
#include "envmarket.h"
#include "envparams.h"

#include <math.h>
#include <stdint.h>

// What a step needs of bar r for one asset.
typedef struct {
    double o, h, l, c; // bar r's prices
    double slip;       // slippage fraction of a fill at bar r's open (decided at bar r-1)
    double atr;        // ATR of bar r-1 (arms the stops of a position entered at bar r's open)
} xt_env_px;

typedef struct {
    int64_t row0, nrows;           // window rows [row0, row0 + nrows)
    int k;                         // assets in the table (the env's assets, local index j)
    int asset[XT_ENV_MAX_ASSETS];  // market asset index of local asset j
    double fee[XT_ENV_MAX_ASSETS]; // fee rate of local asset j (by its class)
    uint16_t *tradable; // [nrows] bit j: asset j may fill at bar r+1 (decision at r): its calendar
                        // is open at ts[r+1] and row r+1 is not stale. Last row: 0.
    xt_env_px *px;      // [nrows + 1][k] bar row0 + r; entry nrows has only slip (a close-out at the last bar)
    uint8_t *cluster;   // [nrows][k] correlation cluster label at decision row r (smallest member), NULL if off
    uint8_t *clustered; // [nrows] 1 when row r has a cluster with >= 2 assets, NULL if off
} xt_env_tables;

// Builds the tables for the window [row_begin, row_end) and the given market
// assets. clusters = 1 also computes the rolling-correlation clusters
// (params corr_window, corr_limit; skipped when corr_limit >= 1).
int xt_env_tables_init(xt_env_tables *t, const xt_env_market *m, int64_t row_begin, int64_t row_end,
                       const int *assets, int k, const xt_env_params *p, int clusters, xt_err *err);
void xt_env_tables_free(xt_env_tables *t);

// Slippage fraction for a fill at the open of the bar after decision row r
// of market asset a (the table's formula; exposed for tests and replay).
double xt_cost_slip(const xt_env_market *m, int a, int64_t r, const xt_env_params *p);

typedef struct {
    double price;     // fill price including slippage
    double fee;       // fee paid (>= 0)
    double slip_cost; // slippage cost against the reference price (>= 0)
    double cash;      // change of cash: -units * price - fee
} xt_fill;

// Fills du units (signed: > 0 buys) at reference price ref with slippage
// fraction slip and fee rate fee_rate.
static inline xt_fill xt_cost_fill(double du, double ref, double slip, double fee_rate) {
    xt_fill f;
    double sgn = du > 0.0 ? 1.0 : -1.0;
    f.price = ref * (1.0 + sgn * slip);
    f.fee = fabs(du) * f.price * fee_rate;
    f.slip_cost = fabs(du) * ref * slip;
    f.cash = -du * f.price - f.fee;
    return f;
}

#endif
