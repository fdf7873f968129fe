// portfolio_env.h - seed 003's K assets + cash env, batched struct-of-arrays.
//
// One step = one bar. After seeing bar t the agent emits K+1 real logits
// (assets..., cash). At the open of bar t+1:
//  - holdings are marked at the open: current (drifted) weights w_a;
//  - mask: asset a can trade iff its calendar is open at that bar's open and
//    the row is not stale (forex per seed 003 §17.2 sessions; crypto 24/7);
//    the mask is written with the observation of bar t (cash always legal);
//  - masked softmax: a masked asset keeps its drifted weight; the budget
//    1 - sum(masked weights) is shared by the unmasked assets and cash in
//    proportion to exp(clamp(logit)) (logits clamped to +-logit_clip, NaN ->
//    -logit_clip);
//  - xt_risk_rebalance projects it exactly (risk.h): max_weight per asset,
//    min_cash, no leverage, max_positions, correlated clusters share
//    corr_cap, dust -> cash, changes below min_trade skipped. These
//    executed weights are what the constraints are stated on; they are
//    filled at the open with fees and slippage (costs.h) paid from cash, so
//    the post-cost cash weight is lower by the step's cost fraction;
//  - each held position's stop-loss / take-profit (entry -2 / +3 ATR, stop
//    first) is checked against bar t+1 (tradable assets only); a stopped
//    asset is flat until the agent buys it again;
//  - equity is marked at the close; reward as in reward.h; terminal rules and
//    liquidation as in the asset env (the terminal liquidation is an
//    accounting close-out at the close price with fee and slippage for every
//    asset, including those whose market is closed).
// Observation (n_feat + K + 2 floats): feat row t, the K+1 weights at the
// close, (equity - peak) / peak (<= 0). 97 floats for 6 assets and 89 features.
//
// Episodes, auto-reset, final_obs and threading: as in asset_env.h.
#ifndef XT_PORTFOLIO_ENV_H
#define XT_PORTFOLIO_ENV_H

#include "core/err.h"
#include "envmarket.h"
#include "envparams.h"
#include "epmetrics.h"

#include <stdint.h>

typedef struct xt_portfolio_env xt_portfolio_env;

#define XT_PF_W (XT_ENV_MAX_ASSETS + 1)

// Per-env, per-step details (optional output of the step functions). Arrays
// hold k assets then cash at index k.
typedef struct {
    int64_t row, ts;       // the bar the step filled and marked on (t+1) and its open time
    uint32_t tradable;     // bit a: asset a could trade at that open
    uint8_t terminated, truncated;
    uint8_t invalid;       // some logit was not finite (treated as -logit_clip)
    int reason;            // xt_env_reason (stop_loss if any stop, else take_profit, terminal, end)
    int trades_closed;     // round trips closed this step
    double w_want[XT_PF_W];  // requested: the masked softmax (masked assets at their drifted weight)
    double w_pre[XT_PF_W];   // drifted weights at the open before trading
    double w_exec[XT_PF_W];  // executed weights at the open before costs (the constraints hold on these)
    double w_close[XT_PF_W]; // weights at the close after stops and any liquidation
    double units[XT_ENV_MAX_ASSETS];      // held after the step
    double fill_units[XT_ENV_MAX_ASSETS]; // signed units traded at the open (0: none)
    double fill_price[XT_ENV_MAX_ASSETS]; // open fill price incl. slippage (NaN: none)
    double stop_price[XT_ENV_MAX_ASSETS]; // stop / take-profit fill price (NaN: none)
    uint8_t stop_reason[XT_ENV_MAX_ASSETS]; // XT_ENV_REASON_STOP_LOSS / _TAKE_PROFIT / 0
    double fee, slippage;  // currency paid this step over all fills
    double equity_open;    // equity at the open before trading
    double equity;         // after the step (after any liquidation)
    double ret;            // equity_close(t+1) / equity_close(t) - 1 before any liquidation
    double reward;
} xt_portfolio_info;

// Builds n_envs envs over all m->k assets on the window. The market must
// outlive the env. Caller owns *out (xt_portfolio_env_destroy).
int xt_portfolio_env_new(xt_portfolio_env **out, const xt_env_market *m, const xt_env_params *p,
                         const xt_env_setup *s, xt_err *err);
void xt_portfolio_env_destroy(xt_portfolio_env **e);

int xt_portfolio_env_obs_dim(const xt_env_market *m); // n_feat + k + 2
int xt_portfolio_env_act_dim(const xt_env_market *m); // k + 1 (also the mask width)
int xt_portfolio_env_size(const xt_portfolio_env *e);

// Starts a new episode in every env; writes obs [N][obs_dim] and mask [N][k+1].
void xt_portfolio_env_reset(xt_portfolio_env *e, float *obs, uint8_t *mask);
// Steps every env with logits [N][k+1]; fills io and info[N] if not NULL.
void xt_portfolio_env_step(xt_portfolio_env *e, const float *logits, const xt_env_io *io, xt_portfolio_info *info);
// The same step with desired weights [N][k+1] instead of logits (baselines,
// replays): entries >= 0 are normalised over the unmasked items like the
// softmax output; a negative asset entry means "keep this asset's current
// weight" (treated like a masked asset).
void xt_portfolio_env_step_weights(xt_portfolio_env *e, const double *weights, const xt_env_io *io,
                                   xt_portfolio_info *info);

// Metrics of env i's last finished episode (NULL before the first one) and the count of finished episodes.
const xt_metrics *xt_portfolio_env_episode_metrics(const xt_portfolio_env *e, int i);
int64_t xt_portfolio_env_episodes(const xt_portfolio_env *e, int i);

// Snapshot of the batch's whole mutable state (cash, units, stops, rows,
// step and episode counters, rolling volatility, metric accumulators, the
// last episode's metrics, every env's RNG stream) as xt_portfolio_env_state_bytes
// opaque bytes. Restoring it into the same batch (or one built from the same
// market, params and setup) makes the following steps bit-identical to those
// that followed the snapshot. No allocation: dst / src are the caller's.
size_t xt_portfolio_env_state_bytes(const xt_portfolio_env *e);
void xt_portfolio_env_snapshot(const xt_portfolio_env *e, void *dst);
void xt_portfolio_env_restore(xt_portfolio_env *e, const void *src);

#endif
