// epmetrics.h - episode metrics of an equity curve (seed 003 §9.1).
//
// A streaming accumulator (no allocation, O(1) per step) fed once per env
// step with the equity after the step, plus once per closed round-trip trade;
// xt_epmetrics_finalize turns it into the numbers below. Conventions:
//   r_t            = equity_t / equity_{t-1} - 1 (step return, net of costs)
//   total_return   = equity_end / equity_0 - 1
//   annual_return  = (equity_end / equity_0)^(bars_per_year / steps) - 1 (geometric; -1 if wiped out)
//   annual_vol     = sd(r) * sqrt(bars_per_year), sd with n - 1
//   sharpe         = mean(r) / sd(r) * sqrt(bars_per_year), risk-free rate 0
//   sortino        = mean(r) / sqrt(sum(min(r, 0)^2) / n) * sqrt(bars_per_year) (downside over ALL returns)
//   max_drawdown   = max (peak - equity) / peak as a positive fraction (peak includes equity_0)
//   calmar         = annual_return / max_drawdown
//   time_in_drawdown = fraction of steps with equity below its running peak
//   trades, win_rate, avg_win, avg_loss, profit_factor: over closed round trips
//     (a position opened from flat and returned to flat; its PnL is the sum of
//     its cash flows, fees and slippage included); avg_loss <= 0, in currency;
//     profit_factor = gross wins / |gross losses| (XT_EPMETRICS_PF_MAX when there
//     are wins and no losses)
//   fills          = executions (rebalance fills, stops, liquidations)
//   turnover       = sum over fills of |notional| / equity at the fill (buying
//     100% then selling it is 2.0); turnover_annual = turnover * bars_per_year / steps
//   fees, slippage = currency paid; gross_pnl = net PnL + fees + slippage;
//     fee_ratio = fees / gross_pnl when gross_pnl > 0, else 0
//   avg_cash       = mean cash weight after each step; pct_cash_over_20 = fraction of
//     steps with cash weight > 0.20
// Any ratio whose denominator is 0 is 0: an all-cash curve gives 0 for every
// return/risk/trade figure (avg_cash = pct_cash_over_20 = 1), never NaN;
// non-finite results are clamped to +-XT_EPMETRICS_BIG.
#ifndef XT_ENV_EPMETRICS_H
#define XT_ENV_EPMETRICS_H

#include <stddef.h>
#include <stdint.h>

#define XT_EPMETRICS_PF_MAX 1e6
#define XT_EPMETRICS_BIG 1e12

typedef struct {
    double equity0, equity, peak, max_dd;
    int64_t n, n_dd, n_cash20, trades, wins, fills;
    double sum, sq, down_sq;  // sum of r, of r^2 and of min(r, 0)^2 (no division per step)
    double cash_sum, turnover, fees, slippage, win_sum, loss_sum;
} xt_epmetrics_acc;

typedef struct {
    int64_t steps, trades, fills;
    double bars_per_year, equity0, final_equity;
    double total_return, annual_return, annual_vol, sharpe, sortino;
    double max_drawdown, calmar, time_in_drawdown;
    double profit_factor, win_rate, avg_win, avg_loss;
    double turnover, turnover_annual, fees, slippage, gross_pnl, fee_ratio;
    double avg_cash, pct_cash_over_20;
} xt_metrics;

void xt_epmetrics_begin(xt_epmetrics_acc *a, double equity0);
// One step: equity after it, the cash weight after it, the step's turnover
// (sum |notional| / equity), fees, slippage and number of fills.
void xt_epmetrics_step(xt_epmetrics_acc *a, double equity, double cash_weight, double turnover, double fees,
                     double slippage, int fills);
// One closed round-trip trade with its PnL (currency, costs included).
void xt_epmetrics_trade(xt_epmetrics_acc *a, double pnl);
void xt_epmetrics_finalize(const xt_epmetrics_acc *a, double bars_per_year, xt_metrics *m);

// Writes m as one JSON object; returns the length (like snprintf: >= cap means truncated).
int xt_epmetrics_json(char *buf, size_t cap, const xt_metrics *m);

#endif
