// dataset.h - from a config to bars, walk-forward folds and feature caches.
//
// This is the data side of a run: load every configured symbol's base bars
// (embedded synthetic market or CSV files), plan the walk-forward folds,
// and build one normalized feature cache per (shard, timeframe, fold):
// shard = a symbol for the asset env, "portfolio" for the portfolio env.
// Caches whose source hash matches are reused.
#ifndef XT_DATASET_H
#define XT_DATASET_H

#include "../core/config.h"
#include "../core/err.h"
#include "bars.h"

#include <stdint.h>

#define XT_MAX_FOLDS 64

typedef struct {
    int index;                        // 0-based
    int64_t train_start, train_end;   // [train_start, train_end): learning rows incl. validation tail
    int64_t val_start;                // validation slice [val_start, train_end) (== train_end: none)
    int64_t test_start, test_end;     // out-of-sample window
} xt_fold;

// Base bars of every configured symbol, clipped to [data.start, data.end).
// out has cfg->data_symbols.n entries; the caller frees each with xt_bars_free.
int xt_dataset_load_bars(xt_bars *out, const xt_config *cfg, xt_err *err);

// Longest backward window of the env-timeframe and 4h features, in seconds
// (the purge gap generated folds keep at least; see docs/features.md).
int64_t xt_dataset_lookback_sec(int tf_sec);

// Walk-forward plan (explicit, expanding or rolling) with purge gaps.
int xt_dataset_folds(xt_fold *out, int *n, const xt_config *cfg, xt_err *err);

// Cache path of a shard ("BTCUSD" or "portfolio").
const char *xt_dataset_cache_path(char *buf, size_t cap, const xt_config *cfg, const char *shard, int tf_sec,
                                  int fold);

typedef struct {
    int64_t rows;       // feature rows written
    int files_built, files_reused;
    double seconds;     // wall time of feature computation and writes
} xt_dataset_stats;

// Builds every cache of the config. progress (may be NULL) is called after
// each file with a one-line description.
int xt_dataset_build(const xt_config *cfg, int force, xt_dataset_stats *st,
                     void (*progress)(void *arg, const char *line), void *arg, xt_err *err);

#endif
