// actor.h - the xtrade-actor daemon: a session with the broker, the shards
// it assigns, env stepping with batched inference, rollout chunks to the
// learner, weights from the learner, evaluation on request.
//
// One thread runs a czmq zloop over
//   - the DEALER control socket (broker: Assignment, PhaseCommand,
//     EvalRequest, Heartbeat in; Register, Heartbeat, EvalResult out),
//   - the SUB weights socket (learner, drained: newest wins),
//   - the PUSH chunk socket's POLLOUT while frames wait (sender.h),
//   - the evaluation worker's pipe while one runs (evalrun.h),
//   - the data worker's pipe: it builds the feature caches at start (the
//     actor registers once they are ready) and maps a fold's caches when a
//     command needs them, off the loop thread,
//   - a periodic timer (broker.heartbeat_ms): signal-requested shutdown,
//     heartbeats, broker liveness and re-registration, metric sampling,
//   - a work timer of 0 ms (it fires on every turn of the loop), armed only
//     while there is training work: each firing collects one chunk per env
//     (runner.h) and queues them.
// docs/cluster-protocol.md is the message flow; docs/actor.md explains the
// actor's side of it (sessions, back-off, sync mode, weights, evaluation).
#ifndef XT_ACTOR_ACTOR_H
#define XT_ACTOR_ACTOR_H

#include "core/config.h"
#include "core/err.h"

#include <signal.h>
#include <stdint.h>

typedef struct {
    const xt_config *cfg;        // validated; must outlive the actor
    const char *broker_endpoint; // "tcp://host:5555"
    const char *id;              // sender / routing id and the metrics' actor label
    int envs;                    // capacity: envs this actor steps
    const char *http_bind;       // /metrics bind address ("0.0.0.0")
} xt_actor_options;

typedef struct xt_actor xt_actor;

// Loads keys (security.curve), creates the decoders/encoders, starts
// /metrics + /healthz on actor.http_port and connects the control socket
// (the first Register goes out once the loop has the feature caches ready). stop (owned by main,
// set by its signal handler) asks the loop to shut down. Caller owns the
// result (xt_actor_destroy). NULL + err on failure.
xt_actor *xt_actor_new(const xt_actor_options *o, volatile sig_atomic_t *stop, xt_err *err);

// Runs until the broker says DONE or STOP, or *stop was set. Returns 0, or a
// negative XT_E* with err for a failure that is not the peers' fault.
int xt_actor_run(xt_actor *a, xt_err *err);

uint64_t xt_actor_incarnation(const xt_actor *a);
// "http://0.0.0.0:9102" (the port actually bound).
const char *xt_actor_metrics_url(const xt_actor *a);

void xt_actor_destroy(xt_actor **self_p);

#endif
