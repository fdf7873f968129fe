// reward.h - seed 003 §5 reward and the rolling volatility it needs.
//
//   r        = equity_close(t+1) / equity_close(t) - 1       (net of fees and slippage)
//   sd       = sample sd of the env's last reward_vol_window step returns (r included)
//   raw      = reward_w_return * r + reward_w_sharpe * r / max(sd, reward_vol_floor)
//              (the second term is 0 while sd == 0: fewer than two returns in the
//              episode so far, or all of them equal, e.g. an all-cash book)
//   expo     = sum over assets of max(|w_before|, |w_executed|) * vol_baseline
//              (the holdings that earned r: the book before the fill carries the
//              close->open gap, the executed book the open->close move)
//   norm     = raw / max(expo, reward_norm_floor * min vol_baseline)
//   reward   = reward_scale * norm
// The floor keeps an all-cash book (expo = 0, r = 0 or minus the cost of
// going to cash) from dividing by ~0. Terminal steps replace the reward by the
// penalty (see the env headers). Pure functions; no allocation.
#ifndef XT_REWARD_H
#define XT_REWARD_H

#include "envparams.h"

typedef struct {
    double sum, sq;      // running sum and sum of squares of the ring's values
    double inv_n, inv_n1; // 1 / n and 1 / (n - 1), updated when n changes (no division once full)
    int n, pos;          // values held (<= window), next slot
} xt_rollvol;

void xt_rollvol_reset(xt_rollvol *v);
// Pushes r into ring[window] and returns the sample sd of the last window
// values, or 0 until the window is full (then the reward has no Sharpe term). The sums are recomputed
// exactly each time the ring wraps, so they never drift.
double xt_rollvol_push(xt_rollvol *v, double *ring, int window, double r);

// reward = scale * (w_ret r + [sd > 0] w_sharpe r / max(sd, vol_floor)) / max(expo, floor).
double xt_reward_compute(const xt_env_params *p, double r, double sd, double expo, double floor);

#endif
