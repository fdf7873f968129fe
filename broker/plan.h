// plan.h - the broker's run plan: walk-forward folds x shards x phases.
//
// A run is n_folds folds, each run as TRAIN -> CHECKPOINT -> EVAL over the
// same n_shards shards. A shard is one env stream: (symbol, timeframe) for
// the asset env, (portfolio, timeframe) for the portfolio env. The plan is a
// pure function of the config (no data is read): the folds come from
// xt_dataset_folds, so the broker, the learner, the actors and `xtrade data
// build` agree on every window. Shard order is symbol-major, then timeframe,
// in config order; shard indices are stable for a given config and are what
// the journal records. xt_plan.hash identifies the plan so a restarted
// broker refuses to resume a run whose plan changed under it.
#ifndef XT_BROKER_PLAN_H
#define XT_BROKER_PLAN_H

#include "core/config.h"
#include "core/err.h"
#include "market/dataset.h"
#include "wire/msg.h"

#include <stdint.h>

#define XT_PLAN_MAX_SHARDS (XT_CFG_LIST_MAX * XT_CFG_LIST_MAX) // symbols x timeframes
#define XT_PLAN_NAME_MAX XT_CFG_ITEM_MAX

typedef struct {
    char name[XT_PLAN_NAME_MAX]; // symbol, or "portfolio"
    int portfolio;               // 1: name goes to ShardKey.portfolio, 0: to ShardKey.symbol
    int tf_sec;                  // bar length in seconds
} xt_plan_shard;

typedef struct {
    char run_id[XT_CFG_STR_MAX];
    uint64_t seed;        // run.seed: master seed of every per-shard RNG stream
    uint64_t step_budget; // ppo.total_steps: env steps trained per fold
    int n_folds;
    xt_fold folds[XT_MAX_FOLDS];
    int n_shards;
    xt_plan_shard shards[XT_PLAN_MAX_SHARDS];
    uint64_t hash; // run id, seed, budget, every window and every shard
} xt_plan;

// Builds the plan of a validated config. Fails (err naming the folds keys)
// when no fold fits the data range.
int xt_plan_init(xt_plan *p, const xt_config *cfg, xt_err *err);

// The wire shard of shard s in fold f for a phase. TRAIN (and CHECKPOINT):
// the fold's train window without its validation tail, [train_start,
// val_start) - the learner keeps [val_start, train_end) for validation; EVAL:
// the test window [test_start, test_end). Rows are 0/0: the broker reads no
// bars, the actor resolves the rows of [ts_begin, ts_end) in its own cache.
// Strings point into p.
void xt_plan_wire_shard(const xt_plan *p, int fold, int s, xt_wire_phase phase, xt_wire_shard *out);

// Index of the shard a wire key names (fold ignored), or -1.
int xt_plan_find_shard(const xt_plan *p, const xt_wire_shard_key *k);

// "BTCUSD/1h" (or "portfolio/4h") for logs and metric labels; returns buf.
const char *xt_plan_shard_label(const xt_plan *p, int s, char *buf, size_t cap);

#endif
