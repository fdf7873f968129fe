// shards.h - the training data of one fold as env markets: one shard per
// (symbol, timeframe) for the asset env, per (portfolio, timeframe) for the
// portfolio env, each with its train / validation / test row windows.
//
// xt_shards_open maps the fold's feature caches (building them first when
// they are missing or stale) and points an xt_env_market into each mapping,
// so every env of the process reads the same pages. Tests and tools that
// make markets themselves fill xt_rl_shard directly; everything downstream
// (rollout, evaluation, trainer) sees only xt_rl_shard.
//
// Windows come from the fold's timestamps by binary search on the shard's
// own ts (forex shards skip closed-market rows, so row numbers differ):
//   train [train_start, val_start)   learning rows (validation tail excluded)
//   val   [val_start, train_end)     validation slice (may be empty)
//   test  [test_start, test_end)     out-of-sample window
// Rows before a window's begin stay readable as history; rows at or after
// its end never are (envmarket.h).
#ifndef XT_SHARDS_H
#define XT_SHARDS_H

#include "core/config.h"
#include "core/err.h"
#include "env/envmarket.h"
#include "env/envparams.h"
#include "market/dataset.h"

#include <stdint.h>

// 16 symbols x 8 timeframes (config limits).
#define XT_RL_MAX_SHARDS 128
#define XT_RL_NAME_MAX 48

typedef enum { XT_RL_TRAIN = 0, XT_RL_VAL = 1, XT_RL_TEST = 2, XT_RL_NWIN = 3 } xt_rl_window;

typedef struct {
    char name[XT_RL_NAME_MAX];   // "BTCUSD-1h", "portfolio-15m" (file names, checkpoint)
    char symbol[32];             // "BTCUSD" or "portfolio"
    int tf_sec;
    int symbol_id, tf_id;        // one-hot positions in the observation (asset env; 0 for portfolio)
    const xt_env_market *m;      // borrowed; outlives every env built on it
    int64_t row[XT_RL_NWIN][2];  // [begin, end) per window; begin == end: empty
    // Normalizer the features were scaled with (NULL = none; stored in checkpoints).
    int n_norm;
    const double *norm_center, *norm_scale;
    const uint8_t *norm_scaled;
} xt_rl_shard;

// "train", "val", "test".
const char *xt_rl_window_name(int window);

// Usable rows of a window: [max(begin, first_row), end) has at least 2 rows.
int xt_rl_window_usable(const xt_rl_shard *s, int window);

// Row windows of a market from the fold's timestamps (fills s->row).
void xt_rl_shard_windows(xt_rl_shard *s, const xt_fold *fold);

// Every env.* key of the config -> xt_env_params (one place). n_symbols and
// n_timeframes are the config's list lengths (the one-hot widths). Fails
// with the config location when the env rejects a combination.
int xt_rl_env_params(xt_env_params *p, const xt_config *cfg, xt_err *err);

typedef struct xt_shards xt_shards;

// Opens the fold's caches (fold index into the config's walk-forward plan).
// build = 1 first runs xt_dataset_build (it reuses fresh caches, rebuilds
// missing or stale ones). Fails when a window has too few usable rows,
// naming the shard, the fold and the dates. Caller owns *out.
int xt_shards_open(xt_shards **out, const xt_config *cfg, int fold, int build, xt_err *err);
void xt_shards_destroy(xt_shards **self_p);
int xt_shards_count(const xt_shards *self);
// The shards (an array of xt_shards_count entries, valid while self is open).
const xt_rl_shard *xt_shards_list(const xt_shards *self);
const xt_fold *xt_shards_fold(const xt_shards *self);
// Folds in the config's plan.
int xt_shards_fold_count(const xt_config *cfg, int *n, xt_err *err);

#endif
