// actor_int.h - the actor daemon's state, shared by actor.c (session,
// assignments, weights, training work, loop) and actor_eval.c (evaluation
// requests). Not a public header: only the actor's own modules include it.
//
// Threads: every field belongs to the loop thread; the eval worker and the
// metrics server see only what evalrun.h and astats.h hand them. Nothing on
// the loop thread may wait for another thread or for seconds of work: the
// heartbeat timer runs there (docs/actor.md, "Threads: what may block").
#ifndef XT_ACTOR_INT_H
#define XT_ACTOR_INT_H

#include "actor.h"
#include "astats.h"
#include "evalrun.h"
#include "runner.h"
#include "sender.h"

#include "core/rng.h"
#include "env/envparams.h"
#include "rl/shards.h"
#include "wire/envelope.h"

#include <czmq.h>
#include <stdint.h>

#define XT_ACTOR_WARNED_MAX 256 // distinct "warn once" keys remembered
#define XT_ACTOR_MAX_ENVS 4096  // envs per actor (the wire's max_shards)

// A shard as a command named it (strings copied out of the decoder arena).
typedef struct {
    char name[XT_WIRE_ID_MAX]; // symbol, or the portfolio name
    int portfolio;
    uint32_t tf_sec;
    int64_t ts_begin, ts_end;
    uint32_t env_slot; // Assignment: the env's global TRAIN slot (0 elsewhere)
} xt_actor_wshard;

// One shard of an evaluation request and its state.
enum { XT_ACTOR_EV_QUEUED = 0, XT_ACTOR_EV_RUNNING, XT_ACTOR_EV_DONE, XT_ACTOR_EV_DROPPED };
typedef struct {
    xt_actor_wshard w;
    int state;
    double metrics[XT_WIRE_EVAL_N];
    char csv_path[XT_WIRE_PATH_MAX];
} xt_actor_evshard;

struct xt_actor {
    const xt_config *cfg;
    char id[XT_WIRE_ID_MAX], host[XT_WIRE_ID_MAX], broker_ep[XT_WIRE_PATH_MAX], metrics_url[128];
    int envs;
    volatile sig_atomic_t *stop;
    uint64_t incarnation, seq_ctl, seq_data;
    double hb_s, live_s, reconnect_s;
    int sync, share_slots, kind;
    xt_rng rng; // back-off jitter
    xt_env_params envp;

    // sockets and codecs
    zloop_t *loop;
    zsock_t *dealer, *sub;
    char sub_ep[XT_WIRE_PATH_MAX];
    xt_sender *sender;
    zcert_t *cert;
    char broker_key[41], learner_key[41];
    xt_wire_decoder *dec_ctl, *dec_w;
    xt_wire_encoder *enc_ctl;
    uint64_t rej_ctl_seen, rej_w_seen;

    // broker session
    int session, ever_session, attempts;
    uint64_t broker_inc;
    double last_heard, last_register, next_register;

    // feature caches: built by the data worker at start, mapped by it per fold
    zactor_t *data;   // the data worker
    int data_ready;   // the build at start is done (the actor registers after it)
    int open_pending; // fold the worker is mapping, -1: none
    int open_want;    // fold the actor needs now, -1: none
    xt_shards *shards_retired; // a replaced fold's mapping a cancelled eval worker still reads

    // run state
    xt_wire_phase phase;
    int done, exit_rc;
    xt_err fatal;

    // the fold's data and the training assignment
    xt_shards *shards;
    int shards_fold; // -1: none open
    int have_assign;
    uint32_t fold;
    uint64_t seed;
    int n_env;
    xt_actor_wshard *as;  // [XT_ACTOR_MAX_ENVS]
    char chunk_ep[XT_WIRE_PATH_MAX], weights_ep[XT_WIRE_PATH_MAX];
    xt_rl_shard ush[XT_RL_MAX_SHARDS]; // distinct shards with the assignment's windows
    int n_ush;
    int *env_shard; // [XT_ACTOR_MAX_ENVS]
    xt_runner *runner;
    xt_model_spec spec;
    size_t n_params;
    xt_astats_shard mshard[XT_RL_MAX_SHARDS];
    uint64_t mshard_steps[XT_RL_MAX_SHARDS], mshard_eps[XT_RL_MAX_SHARDS];

    // weights: the newest accepted (maybe not installed yet)
    float *w_new;
    int w_have, w_fresh;
    uint64_t w_version, learner_inc;
    uint32_t w_fold;
    int learner_seen, sync_slots;

    // deterministic sync runs (run.deterministic, learner.mode sync): rewinds
    int det;             // run.deterministic: per-shard streams (and snapshots in sync mode)
    int rewind;          // the newest weights come from a new learner incarnation: rewind to them
    int await_learner;   // new learner endpoints: no work until that learner's weights arrive
    uint64_t ver_base;   // first version of the current learner incarnation and fold
    uint32_t base_fold;

    // work
    int work_timer; // zloop timer id, -1: off
    int pollout;    // POLLOUT poller registered on the sender's socket
    zmq_pollitem_t pollout_item;

    // evaluation
    xt_evalrun *ev;
    int ev_active; // a request is being served (worker running or waiting for weights)
    uint32_t ev_fold;
    uint64_t ev_version;
    char ev_ckpt[XT_WIRE_PATH_MAX];
    double ev_wait_since;
    xt_actor_evshard ev_sh[XT_RL_MAX_SHARDS];
    int ev_n;
    int ev_run_idx[XT_RL_MAX_SHARDS]; // worker shard i -> ev_sh index
    xt_rl_shard ev_rl[XT_RL_MAX_SHARDS];
    const xt_shards *ev_shards; // the mapping the worker reads (its markets)
    float *ev_params; // [ev_params_n]: the evaluated version's params
    size_t ev_params_n;

    // loop watchdog (s_tick): the loop thread must turn every heartbeat
    double tick_prev;      // monotonic s of the previous timer tick, 0: none yet
    double busy_max;       // longest handler since then, and its name
    const char *busy_what;
    double stall_max;      // largest stall seen (logged when it grows past 1 s)

    // stats
    xt_astats st;
    uint64_t env_steps, nonfinite_logged;
    uint64_t steps_at_sample;
    double sample_t;
    double steps_per_s;
    uint64_t warned[XT_ACTOR_WARNED_MAX];
    int n_warned;
};

// ---- shared helpers (actor.c)

// 1 the first time (what, who) is seen, so a chatty peer logs once.
int xt_actor_first(xt_actor *a, const char *what, const char *who);
// Copies a wire shard (strings out of the decoder arena); compares two.
void xt_actor_wshard_of(xt_actor_wshard *o, const xt_wire_shard *w);
int xt_actor_wshard_eq(const xt_actor_wshard *x, const xt_actor_wshard *y);
// First row of m with ts >= t.
int64_t xt_actor_lower(const xt_env_market *m, int64_t t);
// Index in the open fold's shards of the one a command names, or -1 (warned once).
int xt_actor_find_shard(xt_actor *a, const xt_actor_wshard *w);
// 0 when the fold's caches are mapped; else asks the data worker to map them
// and returns XT_ESTATE (the work that needed them resumes when they come).
int xt_actor_open_fold(xt_actor *a, uint32_t fold);
// Encodes and sends a control message to the broker (never blocks).
void xt_actor_send_ctl(xt_actor *a, xt_wire_msg *m);
// Sizes the weights decoder and buffer for a model of n_params.
int xt_actor_weights_decoder(xt_actor *a, size_t n_params, xt_err *err);
// Arms or disarms the work timer and the POLLOUT poller to match the state.
void xt_actor_schedule(xt_actor *a);

// ---- evaluation requests (actor_eval.c)

// An EvalRequest: queue its shards (the request replaces the list), resend
// results already computed, start the worker when the weights are at hand.
void xt_actor_eval_request(xt_actor *a, const xt_wire_eval_req *r);
// Starts the worker on queued shards if it is idle and the weights exist;
// after 3 liveness periods without the requested version, the newest of the
// fold is used (logged). Called on every event that may unblock it.
void xt_actor_eval_pump(xt_actor *a);
// Asks the worker to stop (never waits) and forgets the request.
void xt_actor_eval_cancel(xt_actor *a, const char *why);
// Asks the worker to stop (never waits); its running shards go back to the
// queue. The worker stays in a->ev until it says DONE (s_on_eval).
void xt_actor_eval_stop_worker(xt_actor *a);
// Joins the worker at once, however long its walk: only at exit.
void xt_actor_eval_join(xt_actor *a);

// ---- more shared helpers (actor.c)

// The eval worker is gone (a->ev NULL): releases the mapping it still read
// (a replaced fold's) and resumes the work that waited for it.
void xt_actor_eval_gone(xt_actor *a);
// Loop watchdog: records that the handler `what` started at t0 (monotonic s)
// and ended now; the longest since the previous timer tick is named when the
// tick comes late (s_tick). `what` must be a string literal.
void xt_actor_busy(xt_actor *a, const char *what, double t0);

#endif
