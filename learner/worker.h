// worker.h - the learner's training thread: a czmq actor that owns the
// fold's data (rl/shards.h) and the trainer (rl/trainer.h: backend, PPO,
// checkpoint save/load) and runs one job at a time for the loop thread:
//
//   FOLD      open fold k's feature caches (building missing ones), build the
//             trainer, then resume from the fold's newest checkpoint that
//             loads; else warm-start from fold k-1's best (folds.warm_start);
//             else fresh, and write ckpt-0 at once so the fold always has a
//             checkpoint to resume or roll back to
//   UPDATE    one PPO update on a batch (xt_trainer_update)
//   VALIDATE  the deterministic policy over the validation slices
//             (xt_trainer_validate); a new best Sharpe is saved as ckpt-best
//   SAVE      ckpt-<env steps>.xtck, then prune to learner.keep_checkpoints;
//             a final save also makes sure ckpt-best exists (the final
//             weights when no validation ever ran)
//   ROLLBACK  reload the params of the fold's newest checkpoint (counters,
//             Adam state and versions go on: versions never repeat)
//
// Each job runs on the actor thread, so a long update, validation or
// checkpoint never stalls the loop (heartbeats, ingest, broker commands).
// Protocol: xt_worker_submit hands a job (a pointer) to the actor; when it
// is done the actor sends "DONE" on its pipe, which the loop reads with
// xt_worker_done. Between submit and done the loop must not touch the job,
// the batch it names or the params it will point to; after done, the job's
// outputs (and `params`) are the loop's to read until the next submit.
#ifndef XT_LEARNER_WORKER_H
#define XT_LEARNER_WORKER_H

#include "ckptdir.h"

#include "core/config.h"
#include "core/err.h"
#include "nn/backend.h"
#include "nn/model.h"
#include "nn/ppo.h"

#include <czmq.h>
#include <stdint.h>

#define XT_WORKER_PATH_MAX 1200

typedef enum {
    XT_WORKER_FOLD,
    XT_WORKER_UPDATE,
    XT_WORKER_VALIDATE,
    XT_WORKER_SAVE,
    XT_WORKER_ROLLBACK,
} xt_worker_kind;

// How FOLD started the trainer.
typedef enum { XT_WORKER_FRESH, XT_WORKER_RESUMED, XT_WORKER_WARM } xt_worker_start;

typedef struct {
    xt_worker_kind kind;
    // ---- inputs
    int fold;              // FOLD
    const xt_batch *batch; // UPDATE (borrowed until done)
    int final;             // SAVE: the fold's final checkpoint
    // ---- outputs of every job
    int rc;                // 0, or a negative XT_E* with err
    xt_err err;
    double seconds;        // wall time of the job
    int64_t env_steps;     // the fold's trained env steps after the job
    int64_t updates;       // updates after the job (= the policy version)
    const float *params;   // the trainer's params after the job (valid until the next submit)
    int params_finite;     // 1 when every param is finite
    // ---- FOLD
    xt_model_spec spec;
    uint64_t n_params;
    int chunks_per_env;     // ceil(ppo.n_steps / T)
    xt_worker_start start;
    char from[XT_WORKER_PATH_MAX]; // checkpoint resumed or warm-started from
    // ---- UPDATE
    xt_ppo_report rep;
    // ---- VALIDATE
    int validated;         // 0: no shard has a usable validation window
    double val_sharpe;
    int new_best;
    // ---- SAVE, ROLLBACK
    char path[XT_WORKER_PATH_MAX];      // checkpoint written / rolled back to
    double path_val;                    // SAVE: the validation Sharpe it records (NaN: none)
    // ---- FOLD, VALIDATE, SAVE: the fold's best checkpoint so far
    int have_best;
    char best_path[XT_WORKER_PATH_MAX];
    xt_ckptdir_info best;
} xt_worker_job;

typedef struct xt_worker xt_worker;

// Starts the actor. cfg (validated) must outlive the worker; checkpoints go
// under run_dir/fold-<k>. Caller owns the result.
xt_worker *xt_worker_new(const xt_config *cfg, const char *run_dir, xt_err *err);
// Finishes the running job (if any), frees the trainer, stops the thread.
void xt_worker_destroy(xt_worker **self_p);

// Hands job to the actor. XT_ESTATE when a job is still running.
int xt_worker_submit(xt_worker *self, xt_worker_job *job, xt_err *err);
// 1 while a job is running.
int xt_worker_busy(const xt_worker *self);
// The actor's pipe: readable when a job is done (register it with zloop).
zsock_t *xt_worker_sock(xt_worker *self);
// Reads the "DONE" message and returns the finished job (NULL if none).
xt_worker_job *xt_worker_done(xt_worker *self);
// Blocks until the running job (if any) is done; returns it or NULL.
xt_worker_job *xt_worker_wait(xt_worker *self);

#endif
