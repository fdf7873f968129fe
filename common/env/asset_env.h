// asset_env.h - one (symbol, timeframe) trading env, batched struct-of-arrays.
//
// One step = one bar. After seeing bar t the agent picks a level index; the
// target position levels[idx] (fraction of equity, negative = short) fills at
// the open of bar t+1 with slippage and fees (costs.h); a stop-loss /
// take-profit (2x / 3x ATR from the average entry, stop first) is checked
// against bar t+1; equity is marked at its close. After a stop the position
// is flat (level 0) and the observation shows it; the agent re-enters by
// choosing a non-zero level again.
//
// Action mask (width = number of levels): when the symbol cannot trade at the
// next bar's open (xt_calendar_tradable false or the row is stale) only
// "keep" is legal, and keep is the level index of the current position (the
// index of level 0 after a stop). A masked or out-of-range action is treated
// as keep and flagged in the info. A level change worth less than min_trade
// is skipped (the level stays).
//
// Observation (float, obs_dim): feat row t (n_feat), position level, unrealized
// PnL of the open position (sign * (close / entry - 1), 0 when flat),
// drawdown from the equity peak ((peak - equity) / peak), symbol one-hot
// (n_symbols, symbol_id) or the id as one float, timeframe one-hot
// (n_timeframes, tf_id).
//
// Episodes: training starts at a random row in [max(row_begin, first_row),
// row_end - 1 - episode_length] (the first usable row if the window is
// shorter) and runs episode_length steps -> truncated; the window's last row
// also truncates. Eval walks the whole window once from its first usable row.
// Terminal (terminated, the step's reward replaced by the penalty, position
// liquidated at the close with fee and slippage): equity < bankrupt_frac *
// initial (bankrupt), else drawdown > max_drawdown (drawdown). A finished env
// is reset inside the same step call; io.obs then holds the new episode's
// first observation and io.final_obs (if given) the finished one's last.
//
// Threads: a batch is used by one thread at a time; the market is shared
// read-only. Nothing allocates after xt_asset_env_new.
#ifndef XT_ASSET_ENV_H
#define XT_ASSET_ENV_H

#include "core/err.h"
#include "envmarket.h"
#include "envparams.h"
#include "epmetrics.h"

#include <stdint.h>

typedef struct xt_asset_env xt_asset_env;

// Per-env, per-step details (optional output of xt_asset_env_step).
typedef struct {
    int64_t row, ts;      // the bar the step filled and marked on (t+1) and its open time
    int action;           // requested level index
    int level;            // level index held after the open fill (before any stop)
    uint8_t invalid;      // action masked or out of range: kept the position
    uint8_t skipped;      // change below min_trade: kept the position
    uint8_t terminated, truncated;
    int reason;           // xt_env_reason
    int trades_closed;    // round trips closed this step
    double position;      // levels[level]
    double units;         // units held after the step (signed; 0 after a stop or liquidation)
    double fill_units;    // signed units traded at the open (0: no fill)
    double fill_price;    // open fill price incl. slippage (NaN: no fill)
    double stop_price;    // stop-loss / take-profit fill price (NaN: none)
    double liq_price;     // terminal liquidation fill price (NaN: none)
    double fee, slippage; // currency paid this step over all fills
    double equity;        // after the step (after any liquidation)
    double ret;           // equity_close(t+1) / equity_close(t) - 1 before any liquidation
    double reward;
} xt_asset_info;

// Builds n_envs envs on the window. The market must outlive the env. Caller
// owns *out (xt_asset_env_destroy).
int xt_asset_env_new(xt_asset_env **out, const xt_env_market *m, const xt_env_params *p, const xt_env_setup *s,
                     xt_err *err);
void xt_asset_env_destroy(xt_asset_env **e);

// n_feat + 3 + (n_symbols or 1) + n_timeframes.
int xt_asset_env_obs_dim(const xt_env_params *p, const xt_env_market *m);
// Mask width: levels after long_only filtering.
int xt_asset_env_n_actions(const xt_env_params *p);
int xt_asset_env_size(const xt_asset_env *e);
// Level value of action index j.
double xt_asset_env_level(const xt_asset_env *e, int j);
// Index of level 0 (keep after a stop; the all-cash action).
int xt_asset_env_flat_action(const xt_asset_env *e);

// Starts a new episode in every env; writes obs [N][obs_dim] and mask [N][n_actions].
void xt_asset_env_reset(xt_asset_env *e, float *obs, uint8_t *mask);
// Steps every env with actions[N]; fills io (all but final_obs required) and info[N] if not NULL.
void xt_asset_env_step(xt_asset_env *e, const int32_t *actions, const xt_env_io *io, xt_asset_info *info);

// Metrics of env i's last finished episode (NULL before the first one) and the count of finished episodes.
const xt_metrics *xt_asset_env_episode_metrics(const xt_asset_env *e, int i);
int64_t xt_asset_env_episodes(const xt_asset_env *e, int i);

// Snapshot of the batch's whole mutable state (cash, units, stops, rows,
// step and episode counters, rolling volatility, metric accumulators, the
// last episode's metrics, every env's RNG stream) as xt_asset_env_state_bytes
// opaque bytes. Restoring it into the same batch (or one built from the same
// market, params and setup) makes the following steps bit-identical to those
// that followed the snapshot. No allocation: dst / src are the caller's.
size_t xt_asset_env_state_bytes(const xt_asset_env *e);
void xt_asset_env_snapshot(const xt_asset_env *e, void *dst);
void xt_asset_env_restore(xt_asset_env *e, const void *src);

#endif
