// broker.h - the xtrade-broker daemon: run plan, sessions, liveness, phases.
//
// One thread runs a czmq zloop over the ROUTER control socket and one
// periodic timer (broker.heartbeat_ms). docs/cluster-protocol.md is the
// message flow this implements; run.h the journal; assign.h the shard
// placement; stats.h the metrics.
#ifndef XT_BROKER_BROKER_H
#define XT_BROKER_BROKER_H

#include "core/config.h"
#include "core/err.h"

#include <signal.h>

typedef struct xt_broker xt_broker;

// Builds the broker of a validated config in run_dir (runs/<run_id>):
// plans the run, writes run_dir/config.yaml (first start only), opens and
// replays run_dir/broker.journal, binds the ROUTER (broker.bind:broker.port;
// CurveZMQ server when security.curve), writes run_dir/broker.endpoint and
// starts /metrics + /healthz on http_bind (NULL: broker.bind) and
// broker.http_port. stop (owned by main, set by its signal handler) asks the
// loop to shut down. cfg must outlive the broker. Caller owns the result
// (xt_broker_destroy). NULL + err on failure.
xt_broker *xt_broker_new(const xt_config *cfg, const char *run_dir, const char *http_bind, volatile sig_atomic_t *stop,
                         xt_err *err);

// Runs the loop until the run has finished (DONE sent to every peer, then
// broker.liveness_ms for stragglers to hear it) or *stop was set (STOP sent
// to every peer). Returns 0, or a negative XT_E* with err when the journal
// cannot be written (the state on disk stays consistent; a restart resumes).
int xt_broker_run(xt_broker *b, xt_err *err);

// "tcp://127.0.0.1:5555": broker.host and the port actually bound.
const char *xt_broker_endpoint(const xt_broker *b);
// "http://0.0.0.0:9100" (the port actually bound).
const char *xt_broker_metrics_url(const xt_broker *b);
// One line: "run tiny: fold 1 of 2, train (resumed from 7 journal records)".
const char *xt_broker_describe(const xt_broker *b, char *buf, size_t cap);

void xt_broker_destroy(xt_broker **self_p);

#endif
