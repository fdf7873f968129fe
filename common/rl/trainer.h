// trainer.h - synchronous recurrent PPO in one process (`train --local`):
// collect ppo.n_steps per env from ppo.n_envs envs with the current policy,
// run one PPO update (nn/ppo.h) on the CPU backend, repeat until
// ppo.total_steps env steps; validate, checkpoint and evaluate on demand.
//
// Every random stream derives from run.seed: parameter init, each env's
// episode starts, each env's action sampling, the minibatch shuffling. Two
// trainers built from the same config and shards therefore produce the
// same chunks, losses and weights bit for bit (same build, same BLAS thread
// count).
//
// Checkpoints (.xtck, nn/ckpt.h) hold:
//   format        "xtrade-train/1"
//   config        the effective config as YAML (xt_config_dump)
//   model.spec    int32 [13]: obs_dim n_symbols emb_dim act_dim gaussian lstm_hidden
//                 lstm_layers mlp_layers mlp[4] shared_trunk
//   params.<tensor>, adam_m.<tensor>, adam_v.<tensor>  float32, one section per
//                 named tensor (nn/model.h xt_model_ckpt_add); adam.step int64
//   counters      int64 [4]: env_steps updates fold run.seed
//   val.sharpe    float64: validation Sharpe when it was written (NaN: none)
//   rng.shuffle   uint64 [4]: the minibatch stream; rng.sample uint64 [N][4]: action streams
//   shards        names, one per line
//   norm.<i>.center / .scale (float64 [n_feat]) / .scaled (uint8): shard i's feature normalizer
// Loading checks the model spec and the shard list against this trainer and
// the normalizers against its shards' caches; each mismatch is one sentence.
#ifndef XT_TRAINER_H
#define XT_TRAINER_H

#include "core/config.h"
#include "core/err.h"
#include "env/envparams.h"
#include "nn/backend.h"
#include "nn/ppo.h"
#include "rl/evaluate.h"
#include "rl/rollout.h"
#include "rl/shards.h"

#include <stdint.h>

#define XT_TRAIN_CKPT_FORMAT "xtrade-train/1"

// Model spec from the model.* keys for an env's observation and action widths.
int xt_rl_model_spec(xt_model_spec *spec, const xt_config *cfg, int obs_dim, int act_dim, xt_err *err);

typedef struct xt_trainer xt_trainer;

// What one iteration (collect + update) did.
typedef struct {
    int64_t env_steps;      // total after it
    int64_t updates;        // total after it
    xt_rollout_stats roll;  // the collect's episodes and times
    xt_ppo_report ppo;      // the update
    double t_collect, t_update;
} xt_train_iter;

// Builds backend, PPO and collector for the shards (borrowed; they must
// outlive the trainer). fold is recorded in checkpoints. Caller owns the result.
xt_trainer *xt_trainer_new(const xt_config *cfg, const xt_rl_shard *shards, int n_shards, int fold, xt_err *err);
void xt_trainer_destroy(xt_trainer **self_p);

// Collects chunk slots [j0, j1) of the next rollout (0 <= j0 < j1 <= chunks
// per env); a full collect is [0, n_chunks). Splitting it lets a caller
// print progress between parts.
int xt_trainer_collect(xt_trainer *self, int j0, int j1, xt_err *err);
int xt_trainer_chunks_per_env(const xt_trainer *self);
// One PPO update on batch (NULL: the trainer's own last collect), counting
// that batch's steps into env_steps first (the schedules see the new count).
int xt_trainer_update(xt_trainer *self, const xt_batch *batch, xt_train_iter *it, xt_err *err);
// collect [0, n_chunks) + update.
int xt_trainer_iterate(xt_trainer *self, xt_train_iter *it, xt_err *err);

int64_t xt_trainer_env_steps(const xt_trainer *self);
int64_t xt_trainer_updates(const xt_trainer *self);
// Env steps of one iteration (n_envs x chunks x T).
int64_t xt_trainer_steps_per_iter(const xt_trainer *self);

// Deterministic policy over `window` of every shard -> out[n_shards] (fn may be NULL).
int xt_trainer_eval(xt_trainer *self, int window, xt_metrics *out, xt_eval_step_fn fn, void *arg, xt_err *err);
// Mean validation Sharpe over the shards whose validation window is usable;
// XT_ENOTFOUND (err untouched) when none is.
int xt_trainer_validate(xt_trainer *self, double *sharpe, xt_err *err);

// Writes a checkpoint atomically (val_sharpe NaN = none).
int xt_trainer_save(xt_trainer *self, const char *path, double val_sharpe, xt_err *err);
// What xt_trainer_load restores. Every mode checks the model spec and the
// shard list.
enum {
    XT_TRAINER_LOAD_EVAL = 0,   // params; normalizers must equal the shards' caches
    XT_TRAINER_LOAD_RESUME = 1, // + Adam state, counters, RNG streams; normalizers checked
    XT_TRAINER_LOAD_WARM = 2,   // params only, another fold's normalizers accepted (folds.warm_start)
};
int xt_trainer_load(xt_trainer *self, const char *path, int mode, xt_err *err);
// The fold recorded in a checkpoint (checks the format first).
int xt_trainer_ckpt_fold(const char *path, int *fold, xt_err *err);

// Host copy of the current params (after every update and load).
const float *xt_trainer_params(const xt_trainer *self);
const xt_model_layout *xt_trainer_layout(const xt_trainer *self);
xt_backend *xt_trainer_backend(xt_trainer *self);
xt_rollout *xt_trainer_rollout(xt_trainer *self);
const xt_env_params *xt_trainer_env_params(const xt_trainer *self);

#endif
