// learner.h - the xtrade-learner daemon: rollout chunks in, PPO updates,
// weights out, checkpoints, all driven by the broker (DESIGN §5, §6;
// docs/learner.md explains the behaviour, docs/cluster-protocol.md the
// message flow).
//
// One loop thread runs a czmq zloop over the broker DEALER socket, the
// chunk PULL socket, the training actor's pipe and one periodic timer
// (heartbeats, broker liveness, metric sampling, the shutdown a signal
// asked for). Slow work runs in czmq actors: the training actor
// (learner/worker.h: fold data, trainer, validation, checkpoints) and the
// weights publisher (learner/publish.h); libmicrohttpd serves /metrics.
#ifndef XT_LEARNER_LEARNER_H
#define XT_LEARNER_LEARNER_H

#include "core/config.h"
#include "core/err.h"

#include <signal.h>

typedef struct {
    const xt_config *cfg;          // validated; must outlive the learner
    const char *broker;            // broker endpoint ("tcp://broker:5555")
    const char *run_dir;           // <run.dir>/<run.id>: fold-<k>/ checkpoints go here
    const char *id;                // sender id, stable across restarts ("learner-0")
    const char *metrics_addr;      // /metrics bind address ("0.0.0.0")
    volatile sig_atomic_t *stop;   // set by main's signal handler: finish, checkpoint, exit
} xt_learner_opts;

typedef struct xt_learner xt_learner;

// Binds the chunk PULL and weights PUB sockets (learner.port_chunks,
// learner.port_weights; 0 = ephemeral), starts the training actor, the
// publisher and /metrics + /healthz (learner.http_port), and connects the
// DEALER to the broker (CurveZMQ everywhere with security.curve). Caller
// owns the result. NULL + err on failure (a busy port names the endpoint).
xt_learner *xt_learner_new(const xt_learner_opts *o, xt_err *err);

// Registers with the broker and runs the loop until the broker says DONE
// or STOP, or *stop was set (both finish the running job and write a
// checkpoint of the fold being trained). Returns 0, or a negative XT_E*
// with err on a fatal error (a fold's data cannot be opened, a checkpoint
// cannot be written).
int xt_learner_run(xt_learner *self, xt_err *err);

// "tcp://host:5556" / "tcp://host:5557" (advertised host, bound port) and
// the metrics URL, for the "ready" log line.
const char *xt_learner_chunk_endpoint(const xt_learner *self);
const char *xt_learner_weights_endpoint(const xt_learner *self);
const char *xt_learner_metrics_url(const xt_learner *self);

void xt_learner_destroy(xt_learner **self_p);

#endif
