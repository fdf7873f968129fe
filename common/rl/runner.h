// runner.h - the `train --local` and `eval --checkpoint` procedures: folds,
// progress lines, validation, checkpoint files, the final test evaluation
// and its outputs (DESIGN §6 Files):
//   <root>/<run.id>/config.yaml                    the effective config
//   <root>/<run.id>/fold-<k>/ckpt-<step>.xtck      every validation and the end
//   <root>/<run.id>/fold-<k>/ckpt-best.xtck        best validation Sharpe
//   <root>/<run.id>/fold-<k>/eval/<shard>.csv      per test step
//   <root>/<run.id>/fold-<k>/eval/metrics.json     agent + baselines per shard
// Progress and results go to `out` (the CLI's stdout); log lines to stderr.
#ifndef XT_RUNNER_H
#define XT_RUNNER_H

#include "core/config.h"
#include "core/err.h"

#include <stdio.h>

// Trains fold `fold` (< 0: every fold of the plan, in order) under root
// (NULL: run.dir), then evaluates each fold's best checkpoint on its test
// window. The test table it prints is the one xt_rl_eval prints for the
// same checkpoint.
int xt_rl_train(const xt_config *cfg, int fold, const char *root, FILE *out, xt_err *err);

// Loads a checkpoint and evaluates it deterministically on the test window
// of `fold` (< 0: the fold recorded in the checkpoint); prints the test
// table and, with out_dir, writes <out_dir>/<shard>.csv and metrics.json.
int xt_rl_eval(const xt_config *cfg, const char *ckpt, int fold, const char *out_dir, FILE *out, xt_err *err);

#endif
