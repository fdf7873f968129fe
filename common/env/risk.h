// risk.h - portfolio constraints, stop-loss/take-profit and correlation clusters.
//
// Portfolio rebalance (xt_risk_rebalance), for weights over n assets + cash
// (item n), all measured at the fill price:
//  1. Frozen assets (masked: market closed or stale; or "keep") keep their
//     current, drifted weight. The budget B = 1 - sum(frozen) is shared by the
//     free assets and cash in proportion to `want` (softmax output or weights).
//  2. Max concurrent positions: held frozen assets count first; of the free
//     assets only the largest (max_positions - held frozen) wants are kept.
//  3. Exact projection (xt_risk_project): proportional water-filling onto
//       0 <= w_a <= cap_a, sum over a correlated cluster <= cluster_cap
//       (minus its frozen members), w_cash >= min_cash, sum = 1:
//     w_a = min(cap_a, s_C * v_a) with one scale s for everything and a
//     smaller s_C inside a cluster whose cap binds; cash = max(min_cash, s v_c).
//     s is found by Newton's method on the concave, piecewise-linear budget
//     function from s = 0, which lands exactly on the root once the set of
//     binding caps is right (at most 2n+2 iterations). Cash takes the
//     rounding residual, so sum = 1 to double rounding.
//  4. Dust: a free target worth less than min_position goes to cash.
//  5. Min trade: a change worth less than min_trade is skipped (weight stays,
//     cash absorbs) unless skipping would break a constraint: buys are always
//     skippable; a small sell is skipped only if the current weight is within
//     its cap, the cluster cap and cash floor still hold and the position
//     count stays within max_positions.
// Frozen weights are never touched, so a masked asset that drifted above its
// cap stays there until its market opens; when frozen weights exceed
// 1 - min_cash every free asset goes to 0 and cash gets what is left.
// Pure functions; no allocation; any thread.
#ifndef XT_RISK_H
#define XT_RISK_H

#include "envmarket.h"

#include <stdint.h>

typedef struct {
    int n;                           // assets (cash is item n)
    double cap[XT_ENV_MAX_ASSETS];   // max weight per asset
    double min_cash;                 // cash floor
    int max_positions;               // max assets with weight > 0 (0 = no limit)
    double cluster_cap;              // cap of a correlated cluster's summed weight
    double min_position, min_trade;  // currency thresholds (dust, skipped trades)
} xt_risk_limits;

// Step 3 alone. v[n+1]: desired weights of the free items (>= 0, cash v[n] > 0),
// already scaled to the free budget; cur[n+1]: current weights (read for frozen
// assets); free: bit a set = asset a may trade; cluster[n]: label per asset
// (assets with equal labels form a cluster) or NULL. Writes w[n+1].
void xt_risk_project(double *w, const double *v, const double *cur, unsigned free, const uint8_t *cluster,
                     const xt_risk_limits *lim);

// Steps 1-5. cur[n+1]: current weights at the fill price (sum 1); want[n+1]:
// desired weights, only free items read (normalised over them; a zero sum means
// all to cash); equity: account value at the fill price. Writes the executed
// weights w[n+1] (w[a] == cur[a] exactly for every asset that does not trade).
void xt_risk_rebalance(double *w, const double *cur, const double *want, unsigned free, const uint8_t *cluster,
                       double equity, const xt_risk_limits *lim);

// Rolling correlation clusters: for each decision row r in [row0, row0 + nrows)
// the Pearson correlation of simple close-to-close returns over rows
// (r - window, r] for every pair of the k market assets listed in `assets`;
// pairs above `limit` are linked and linked components share a label (the
// smallest local index). Writes labels[(r - row0) * k + j] and
// clustered[r - row0] (1 if some component has >= 2 assets). Uses rows <= r
// only. Returns 0 or XT_ENOMEM.
int xt_risk_corr_clusters(uint8_t *labels, uint8_t *clustered, const xt_env_market *m, const int *assets, int k,
                          int64_t row0, int64_t nrows, int window, double limit);

// Stop-loss / take-profit of a position of sign dir (+1 long, -1 short) with
// stop and take-profit prices against a bar (o, h, l). Stop first: the open
// beyond the stop fills at the open (gap), then the open beyond the
// take-profit (at the open), then the low/high touching the stop (at the stop
// price), then the take-profit (at its price). Returns XT_ENV_REASON_NONE,
// _STOP_LOSS or _TAKE_PROFIT and the fill price in *px. Disabled levels are
// +-HUGE_VAL.
int xt_risk_stop_check(int dir, double stop, double tp, double o, double h, double l, double *px);

#endif
