// run.h - the durable state of a run: which fold and phase it is in, the
// checkpoints the learner reported and the evaluation results, kept in the
// run's journal (runs/<run_id>/broker.journal, common/core/journal.h).
//
// Every change is a journal record: a verb below encodes its record,
// appends it (fsync'd) and only then applies it to the in-memory state, so
// the state never runs ahead of the disk. Opening replays the records
// through the same apply function, so a restarted broker is in exactly the
// state its predecessor had last made durable. Records:
//
//   START      plan hash, n_folds, n_shards, run id    (first record)
//   PHASE      fold, phase (train | checkpoint | eval)
//   CKPT       fold, step, policy version, validation Sharpe, final flag, path
//   EVAL       fold, shard index, the XT_WIRE_EVAL_N metrics, eval CSV path
//   FOLD_DONE  fold
//   REPORT     directory the report files were written to
//   DONE       (the run is finished)
//
// The current fold is the first fold not done; its phase is the last PHASE
// record for it. A finished fold is never redone; a fold in TRAIN (or
// CHECKPOINT) resumes with the learner restoring its own latest checkpoint
// of that fold. Replay rejects records that contradict the plan (a fold or
// shard out of range, a result for a finished fold) with a sentence naming
// the journal and the offset.
//
// Not thread-safe: the broker's loop thread owns it.
#ifndef XT_BROKER_RUN_H
#define XT_BROKER_RUN_H

#include "plan.h"

#include "core/err.h"
#include "wire/msg.h"

#include <stdint.h>

#define XT_RUN_PATH_MAX 1024

enum {
    XT_RUN_REC_START = 1,
    XT_RUN_REC_PHASE,
    XT_RUN_REC_CKPT,
    XT_RUN_REC_EVAL,
    XT_RUN_REC_FOLD_DONE,
    XT_RUN_REC_REPORT,
    XT_RUN_REC_DONE,
};

typedef struct {
    int have;
    double metrics[XT_WIRE_EVAL_N]; // XT_WIRE_EVAL_* (NaN: undefined)
    char csv_path[XT_RUN_PATH_MAX];
} xt_run_result;

typedef struct {
    xt_wire_phase phase; // NONE (not started), TRAIN, CHECKPOINT, EVAL; DONE once finished
    // Latest checkpoint the learner reported for the fold (final: step >= budget).
    int has_ckpt, ckpt_final;
    uint64_t ckpt_step, ckpt_version;
    double ckpt_val_sharpe;
    double ckpt_wall; // wall time the broker recorded it (not replayed: 0 after a restart)
    char ckpt_path[XT_RUN_PATH_MAX];
    int n_evals;        // shards with a result
    xt_run_result *evals; // [n_shards]
} xt_run_fold_info;

// Mean and spread of a fold's results (NaN metrics skipped).
typedef struct {
    int n;                    // shards with a result
    int profitable;           // shards with total_return > 0
    double mean_return;       // mean total_return
    double mean_sharpe;       // mean sharpe
    double mean_buy_hold;     // mean buy_hold_return
    double worst_drawdown;    // max of max_drawdown
} xt_run_summary;

typedef struct {
    uint64_t records;    // records replayed
    int resumed;         // 1 when the journal already held a run
    int truncated;       // 1 when a torn/corrupt tail was cut (warning logged by the journal)
} xt_run_info;

typedef struct xt_run xt_run;

// Opens the journal at path (created if missing) and replays it against
// plan (borrowed; must outlive the run). A journal started for a different
// plan is refused. If the journal is new, appends START and fold 0's PHASE
// train. Caller owns the result (xt_run_destroy). NULL + err on failure.
xt_run *xt_run_open(const xt_plan *plan, const char *path, xt_run_info *info, xt_err *err);
void xt_run_destroy(xt_run **self_p);

// ---- state
int xt_run_fold(const xt_run *r);            // current fold (n_folds when finished)
xt_wire_phase xt_run_phase(const xt_run *r); // phase of the current fold; DONE when finished
int xt_run_finished(const xt_run *r);        // DONE recorded
int xt_run_report_written(const xt_run *r);
const xt_run_fold_info *xt_run_fold_state(const xt_run *r, int fold);
void xt_run_summary_of(const xt_run *r, int fold, xt_run_summary *out);
const xt_plan *xt_run_plan(const xt_run *r);

// ---- changes (each journaled and fsync'd before it is applied)

// Moves the current fold to TRAIN, CHECKPOINT or EVAL (any order: a learner
// restart moves CHECKPOINT back to TRAIN). Same phase again: no record, 0.
int xt_run_set_phase(xt_run *r, xt_wire_phase phase, xt_err *err);
// A checkpoint of the current fold; final when step >= the plan's budget.
int xt_run_checkpoint(xt_run *r, uint64_t step, uint64_t version, double val_sharpe, const char *path,
                      xt_err *err);
// An evaluation result of the current fold (phase EVAL). Returns 1 without
// writing anything when the shard already has one (results are
// deterministic; the first one wins).
int xt_run_eval(xt_run *r, int shard, const double *metrics, const char *csv_path, xt_err *err);
// Closes the current fold (every shard evaluated) and starts the next one
// in TRAIN; after the last fold the run waits for its report and DONE.
int xt_run_fold_done(xt_run *r, xt_err *err);
int xt_run_report(xt_run *r, const char *dir, xt_err *err);
int xt_run_done(xt_run *r, xt_err *err);

#endif
