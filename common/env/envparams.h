// envparams.h - every number of the trading environments, in one plain struct.
//
// xt_env_params is shared by the asset env and the portfolio env (each reads
// the fields that apply to it). Configuration files are mapped onto it by the
// config layer; xt_env_params_default() gives seed 003's values and
// xt_env_params_validate() names the field at fault ("env.min_cash: ...").
// Instance settings (window, batch size, seed, encodings) are in
// xt_env_setup, the per-step outputs in the env headers.
#ifndef XT_ENVPARAMS_H
#define XT_ENVPARAMS_H

#include "core/err.h"
#include "envmarket.h"
#include "market/calendar.h"

#include <stdint.h>

#define XT_ENV_MAX_LEVELS 16
#define XT_ENV_MAX_VOL_WINDOW 256
#define XT_ENV_MAX_CORR_WINDOW 1024

typedef enum { XT_ENV_SYMBOL_ONEHOT = 0, XT_ENV_SYMBOL_ID = 1 } xt_env_symbol_encoding;

// Why a step ended a position or an episode (the replay's "reason" column).
typedef enum {
    XT_ENV_REASON_NONE = 0,
    XT_ENV_REASON_STOP_LOSS,   // a stop-loss filled this step (episode continues)
    XT_ENV_REASON_TAKE_PROFIT, // a take-profit filled this step (episode continues)
    XT_ENV_REASON_DRAWDOWN,    // drawdown > max_drawdown: liquidated, terminated
    XT_ENV_REASON_BANKRUPT,    // equity < bankrupt_frac * initial: liquidated, terminated
    XT_ENV_REASON_END,         // episode_length reached or window ended: truncated
    XT_ENV_REASON_COUNT
} xt_env_reason;

typedef struct {
    // ---- episodes
    int episode_length;  // steps per training episode (2048)
    double initial_cash; // starting equity in account currency (10000)

    // ---- asset env actions and observation
    int n_levels;                       // number of target position levels (5)
    double levels[XT_ENV_MAX_LEVELS];   // target position as a fraction of equity ({-1,-0.5,0,0.5,1}); must contain 0
    int long_only;                      // 1: negative levels are dropped
    int symbol_encoding;                // XT_ENV_SYMBOL_ONEHOT (n_symbols floats) or XT_ENV_SYMBOL_ID (1 float)
    int n_symbols;                      // width of the symbol one-hot (1)
    int n_timeframes;                   // width of the timeframe one-hot (1; 0 = none)

    // ---- costs
    double fee[XT_ASSET_COUNT];      // fee rate on filled notional by class (crypto 0.001, forex 0.0005, equity 0.0005)
    double slip_bps[XT_ASSET_COUNT]; // fixed slippage in basis points by class (1, 0.5, 1)
    double slip_atr_k;               // plus slip_atr_k * atr/close of the decision bar (0.02)
    double slip_lowliq_mult;         // slippage multiplier for crypto fills in Sat 00-04 UTC (1 = off)
    double min_trade;                // trades below this notional (currency) are skipped (100)
    double min_position;             // portfolio: target positions below this value are closed to cash (100)

    // ---- risk rules
    double stop_loss_atr;   // stop at entry -/+ stop_loss_atr * ATR (2; <= 0 disables)
    double take_profit_atr; // take-profit at entry +/- take_profit_atr * ATR (3; <= 0 disables)
    double bankrupt_frac;   // terminate when equity < bankrupt_frac * initial_cash (0.70; 0 disables)
    double bankrupt_penalty; // reward of that step (-50)
    double max_drawdown;    // terminate when (peak - equity) / peak > max_drawdown (0.30; >= 1 disables)
    double drawdown_penalty; // reward of that step (-30)

    // ---- portfolio constraints (seed 003 §6.2, seed 004 §4)
    double max_weight;                          // max weight of one asset (0.40)
    double asset_max_weight[XT_ENV_MAX_ASSETS]; // optional tighter cap per asset (0 = max_weight)
    double min_cash;                            // cash floor (0.05); 1 - min_cash = seed 004 max_portfolio_exposure
    int max_positions;                          // max assets held at once, largest kept (0 = no limit)
    double corr_limit;                          // rolling return correlation above which assets share corr_cap
                                                // (0.8; >= 1 disables)
    int corr_window;                            // rows of the rolling correlation (20)
    double corr_cap;                            // cap on the summed weight of a correlated cluster (0.40)
    double logit_clip;                          // logits are clamped to [-clip, clip] before the softmax (20)

    // ---- reward (seed 003 §5)
    double reward_w_return;   // weight of the net return (0.9)
    double reward_w_sharpe;   // weight of return / rolling vol (0.1)
    int reward_vol_window;    // rolling window of the env's own returns (20)
    double reward_vol_floor;  // floor of that rolling sd (1e-4)
    double reward_norm_floor; // floor of sum |w| * vol_baseline, as a fraction of the smallest vol_baseline (0.1)
    double reward_scale;      // final multiplier (100)

    double bars_per_year; // metrics annualisation; 0 = 365 * 86400 / tf_sec
} xt_env_params;

// How one env batch is instantiated on a market.
typedef struct {
    int64_t row_begin, row_end; // window [row_begin, row_end) of the market
    int n_envs;                 // batch size
    uint64_t seed;              // env i draws episode starts from xt_rng_derive(seed, stream0 + i)
    uint64_t stream0;
    int eval;                   // 1: every episode walks the whole window once from its first usable bar
    int asset;                  // asset env: which of the market's assets it trades (0)
    int symbol_id, tf_id;       // asset env: encodings written into the observation
} xt_env_setup;

// Caller-owned output buffers of a batched step (N = the batch size).
typedef struct {
    float *obs;          // [N][obs_dim] observation for the next action (a new episode's first for finished envs)
    float *reward;       // [N] reward of the step just taken
    uint8_t *terminated; // [N] 1: episode ended by a terminal rule (bankrupt, drawdown)
    uint8_t *truncated;  // [N] 1: episode cut by its length or the window's end (not terminal: bootstrap)
    uint8_t *mask;       // [N][mask width] 1 = legal action for the next step
    float *final_obs;    // optional [N][obs_dim]: for finished envs the episode's last observation
} xt_env_io;

void xt_env_params_default(xt_env_params *p);
// Checks ranges; err names the field: "env.min_cash: must be in [0, 1) (got 1.5)".
int xt_env_params_validate(const xt_env_params *p, xt_err *err);

// Whole market, one env, seed 0, training mode.
void xt_env_setup_default(xt_env_setup *s, const xt_env_market *m);

// "none", "stop_loss", "take_profit", "drawdown", "bankrupt", "end".
const char *xt_env_reason_name(int reason);

#endif
