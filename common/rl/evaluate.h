// evaluate.h - deterministic evaluation of a policy over a window of every
// shard, the baselines on the same windows, and the eval outputs (per-step
// CSV, metrics JSON, the printed table).
//
// The policy is deterministic: the most probable legal action (asset env)
// or the Gaussian mean as logits (portfolio env). Each shard gets one
// eval-mode env that walks its window once from the first usable row; all
// shards step together with one batched inference per step (B = shards),
// so an evaluation depends only on the parameters, the data and the env
// params: the same checkpoint gives the same numbers bit for bit (on the
// same build and BLAS thread count).
#ifndef XT_EVALUATE_H
#define XT_EVALUATE_H

#include "core/err.h"
#include "env/baseline.h"
#include "env/envparams.h"
#include "env/epmetrics.h"
#include "nn/backend.h"
#include "rl/shards.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

// One evaluated step (the bar the step filled and was marked on).
typedef struct {
    int shard;
    int64_t row, ts;
    int n_w;                            // 1 (asset env: position) or K + 1 (portfolio: weights at the close)
    double w[XT_ENV_MAX_ASSETS + 1];
    double equity, reward, fee, slippage;
    int trades;                         // round trips closed this step
    int reason;                         // xt_env_reason
} xt_eval_step;

typedef void (*xt_eval_step_fn)(void *arg, const xt_eval_step *st);

// Deterministic policy of be's current params over `window` of shards[0..n)
// (every window must be usable). out[n] gets each walk's metrics; fn (may be
// NULL) sees every step. be->cfg.max_infer must be >= n. cancel (may be NULL)
// is read once per step: when another thread has set it the walk stops and
// returns XT_ESTATE ("eval: cancelled after N steps").
int xt_eval_policy(xt_backend *be, int kind, const xt_rl_shard *shards, int n, int window,
                   const xt_env_params *p, xt_metrics *out, xt_eval_step_fn fn, void *arg,
                   const atomic_int *cancel, xt_err *err);

// A shard's test result: the agent and the baselines on the same window.
typedef struct {
    xt_metrics agent;
    xt_metrics base[XT_BASELINE_COUNT]; // buy_hold, equal_weight, cash
} xt_eval_result;

// Baselines of a shard's window with the env params as given (stops,
// terminal rules and costs as the agent has them). The portfolio
// equal-weight baseline rebalances once a day.
int xt_eval_baselines(int kind, const xt_rl_shard *s, int window, const xt_env_params *p,
                      xt_metrics out[XT_BASELINE_COUNT], xt_err *err);

// crc32 of the agents' metrics (raw bytes): equal digests = bit-identical results.
uint32_t xt_eval_digest(const xt_eval_result *res, int n);

// The table of agent and baselines per shard, then the mean agent Sharpe and the digest.
void xt_eval_print(FILE *out, const char *title, const xt_rl_shard *shards, int n, const xt_eval_result *res);

// metrics.json: fold, window, and per shard the agent and baselines (every number %.17g).
int xt_eval_write_json(const char *path, int fold, int window, const xt_rl_shard *shards, int n,
                       const xt_eval_result *res, xt_err *err);

// Per-step CSV files, one per shard: <dir>/<shard name>.csv with
//   timestamp,position | w_<symbol>...,w_cash, equity,reward,fee,slippage,trades,reason
// Rows are buffered in memory (xt_eval_csv_step is an xt_eval_step_fn) and
// written atomically by xt_eval_csv_write.
typedef struct xt_eval_csv xt_eval_csv;
xt_eval_csv *xt_eval_csv_new(const xt_rl_shard *shards, int n, xt_err *err);
void xt_eval_csv_step(void *arg, const xt_eval_step *st);
int xt_eval_csv_write(xt_eval_csv *self, const char *dir, xt_err *err);
void xt_eval_csv_destroy(xt_eval_csv **self_p);

#endif
