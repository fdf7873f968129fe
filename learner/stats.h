// stats.h - the learner's metrics: every family of common/metrics/catalog.h
// whose role is LEARNER or ANY, the child handles the learner updates, the
// /metrics + /healthz endpoint and its health probe.
//
// The loop thread updates the handles (lock-free atomics) when something
// happens (an update, a drop) and on its timer (queue depths, checkpoint
// age, counters added as deltas of the ingest and publisher statistics);
// libmicrohttpd's thread only renders. /healthz fails when the loop has not
// ticked for stall_ms, or with the reason set by xt_learner_stats_fail.
#ifndef XT_LEARNER_STATS_H
#define XT_LEARNER_STATS_H

#include "ingest.h"

#include "core/err.h"
#include "metrics/catalog.h"
#include "metrics/http.h"
#include "metrics/prom.h"

#include <stdatomic.h>
#include <stdint.h>

// Values of the stage label the learner exports, in this order.
enum { XT_LSTATS_INGEST, XT_LSTATS_LEARN, XT_LSTATS_PUBLISH, XT_LSTATS_STAGE_N };
// Values of the term label of xtrade_learner_loss.
enum { XT_LSTATS_POLICY, XT_LSTATS_VALUE, XT_LSTATS_ENTROPY, XT_LSTATS_TOTAL, XT_LSTATS_TERM_N };

typedef struct {
    xt_prom_registry *reg;
    // One family pointer per catalog row; rows of other roles stay NULL.
#define XT_X(role, name, type, help, labels) xt_prom_family *name;
    XT_METRICS_CATALOG(XT_X)
#undef XT_X
    // Children.
    xt_prom_gauge *build_info, *start_time, *weights_version;
    xt_prom_gauge *queue_chunks, *queue_batch, *queue_ckpt;
    xt_prom_counter *stage[XT_LSTATS_STAGE_N];
    xt_prom_counter *decode_chunks, *decode_control, *reconnect_broker;
    xt_prom_counter *received, *dropped[XT_INGEST_DROP_N];
    xt_prom_histogram *policy_lag, *update_duration;
    xt_prom_counter *updates, *samples, *skipped;
    xt_prom_gauge *loss[XT_LSTATS_TERM_N], *entropy, *approx_kl, *clip_fraction, *explained_variance;
    xt_prom_gauge *grad_norm, *learning_rate, *entropy_coef, *checkpoint_age;
    xt_metrics_http *http;
    _Atomic int64_t tick_ms; // monotonic ms of the loop's last tick
    int64_t stall_ms;        // /healthz fails after this long without a tick
    _Atomic int failed;      // set once by xt_learner_stats_fail
    char fail_reason[256];   // written before `failed` is set
} xt_learner_stats;

// Registers the families and creates every child. Caller owns st's contents
// (xt_learner_stats_destroy).
int xt_learner_stats_init(xt_learner_stats *st, int64_t stall_ms, xt_err *err);
// Starts /metrics and /healthz on bind_addr:port (0 = ephemeral).
int xt_learner_stats_serve(xt_learner_stats *st, const char *bind_addr, int port, xt_err *err);
// Called by the loop's timer: proves to /healthz that the loop turns.
void xt_learner_stats_tick(xt_learner_stats *st);
// Makes /healthz answer 503 with reason from now on (a fatal error).
void xt_learner_stats_fail(xt_learner_stats *st, const char *reason);
// Adds what the ingest counted since `prev` (then copies now into prev).
void xt_learner_stats_ingest(xt_learner_stats *st, const xt_ingest_stats *now, xt_ingest_stats *prev);
// Stops the endpoint and frees the registry. Accepts a zeroed struct.
void xt_learner_stats_destroy(xt_learner_stats *st);

#endif
