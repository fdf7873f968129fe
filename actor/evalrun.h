// evalrun.h - deterministic evaluation of one weights version over shards'
// test windows, on a worker thread, for the broker's EvalRequest.
//
// Each shard is walked on its own (rl/evaluate.h with B = 1): the greedy
// policy from a zero LSTM state over the shard's whole test window
// (row[XT_RL_TEST]), plus the buy-and-hold baseline on the same window. A
// shard's numbers therefore depend only on the weights, the data and the env
// params, never on which other shards the broker gave the same actor, and
// two actors (or two runs) evaluating the same shard agree bit for bit on
// the same build. Every evaluated step goes to
// <out_dir>/<symbol>-<timeframe>.csv (rl/evaluate.h's per-step CSV), written
// atomically when the shard is finished.
//
// The worker is a czmq actor: xt_evalrun_start returns after its start
// handshake; the owner polls xt_evalrun_sock (one message per finished shard,
// then one when all are done) and reads results with xt_evalrun_recv.
// Stopping it from an event loop: xt_evalrun_cancel (returns at once; the
// worker ends its walk within a step and sends "DONE"), keep polling, and
// destroy once xt_evalrun_recv returned 0: the join is then immediate.
// Destroying it mid-run also cancels, but waits for the worker (at most one
// shard's walk, seconds for long windows): not on a thread that must stay
// responsive.
//
// Ownership: the job's params, env params and shard list are copied at
// start; the shards' markets are borrowed and must outlive the run. Threads: the
// worker owns its backend and envs; results are handed over through the
// pipe, each written completely before its message is sent.
#ifndef XT_ACTOR_EVALRUN_H
#define XT_ACTOR_EVALRUN_H

#include "core/err.h"
#include "env/envparams.h"
#include "env/epmetrics.h"
#include "nn/backend.h"
#include "nn/model.h"
#include "rl/shards.h"
#include "wire/msg.h"

#include <czmq.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    int kind;                  // XT_ENV_KIND_*
    uint32_t fold;
    const xt_rl_shard *shards; // [n], row[XT_RL_TEST] = the window to walk (copied; markets borrowed)
    int n;
    const xt_env_params *p;    // copied
    const xt_model_spec *spec; // copied
    const float *params;       // [n_params], copied
    uint64_t version;          // the weights version evaluated (for logs)
    const char *out_dir;       // CSV directory (created if missing)
} xt_evalrun_job;

typedef struct {
    int rc;                          // 0, or the failure's XT_E* code
    char err[XT_ERR_MSG_MAX];        // the failure's sentence
    double metrics[XT_WIRE_EVAL_N];  // XT_WIRE_EVAL_* in wire order
    char csv_path[XT_WIRE_PATH_MAX]; // the per-step CSV
    double seconds;                  // wall time of the walk
    int64_t steps;
} xt_evalrun_result;

// The wire metrics of an evaluation: the agent's walk and the buy-and-hold
// baseline's total return.
void xt_evalrun_metrics(double out[XT_WIRE_EVAL_N], const xt_metrics *agent, const xt_metrics *buy_hold);

// One shard, synchronously, with be's current params (be->cfg.max_infer >= 1).
// cancel (may be NULL): set by another thread, it stops the walk within a
// step (XT_ESTATE, nothing written).
int xt_evalrun_shard(xt_backend *be, int kind, const xt_rl_shard *s, const xt_env_params *p,
                     const char *out_dir, const atomic_int *cancel, xt_evalrun_result *out, xt_err *err);

typedef struct xt_evalrun xt_evalrun;

// Starts the worker over job->shards. Caller owns the result (xt_evalrun_destroy).
xt_evalrun *xt_evalrun_start(const xt_evalrun_job *job, xt_err *err);
// Asks the worker to stop (the walk in progress ends within a step); never blocks. Accepts NULL.
void xt_evalrun_cancel(xt_evalrun *self);
int xt_evalrun_cancelled(const xt_evalrun *self);
// Cancels (if still running) and joins the worker: blocks until the shard in
// progress is walked unless xt_evalrun_recv already returned 0. Accepts NULL.
void xt_evalrun_destroy(xt_evalrun **self_p);
// Readable when the worker reported progress.
zsock_t *xt_evalrun_sock(xt_evalrun *self);
// Reads one report: returns 1 and *shard when a shard finished (its result is
// complete), 0 when every shard is done (or the run was cancelled), -1 when
// nothing is waiting.
int xt_evalrun_recv(xt_evalrun *self, int *shard);
const xt_evalrun_result *xt_evalrun_result_of(const xt_evalrun *self, int shard);
int xt_evalrun_count(const xt_evalrun *self);

#endif
