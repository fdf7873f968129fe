// baseline.h - buy-and-hold, equal-weight and all-cash, run through the env code.
//
// Each baseline drives an eval-mode env (one walk over the window, from its
// first usable row) with fixed actions and returns that episode's metrics, so
// costs, sessions, constraints and accounting are exactly the agent's:
//   asset env     buy_hold / equal_weight: the largest level every step (one
//                 asset: equal weight is buy-and-hold); cash: level 0.
//   portfolio env equal_weight: every `rebalance_every` steps target
//                 (1 - min_cash) / K per asset and min_cash in cash, keep the
//                 weights in between; buy_hold: buy that target once per asset
//                 (at its first tradable bar) and keep it; cash: all cash.
// risk_rules = 1 keeps the params as given (stops, take-profits, terminal
// drawdown/bankruptcy: a baseline can then be stopped out or end early like
// the agent); 0 switches those off for the textbook baseline. Costs and
// constraints (max weight, min cash, sessions) always apply.
#ifndef XT_BASELINE_H
#define XT_BASELINE_H

#include "core/err.h"
#include "envmarket.h"
#include "envparams.h"
#include "epmetrics.h"

#include <stdint.h>

typedef enum {
    XT_BASELINE_BUY_HOLD = 0,
    XT_BASELINE_EQUAL_WEIGHT,
    XT_BASELINE_CASH,
    XT_BASELINE_COUNT
} xt_baseline_kind;

// "buy_hold", "equal_weight", "cash".
const char *xt_baseline_name(xt_baseline_kind kind);

int xt_baseline_asset(const xt_env_market *m, const xt_env_params *p, int64_t row_begin, int64_t row_end, int asset,
                      xt_baseline_kind kind, int risk_rules, xt_metrics *out, xt_err *err);
int xt_baseline_portfolio(const xt_env_market *m, const xt_env_params *p, int64_t row_begin, int64_t row_end,
                          xt_baseline_kind kind, int rebalance_every, int risk_rules, xt_metrics *out, xt_err *err);

#endif
