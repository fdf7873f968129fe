// stats.h - the broker's metrics: one stats struct of Prometheus handles,
// the /metrics + /healthz endpoint, and the health probe.
//
// Families: the rows of the metric catalog (common/metrics/catalog.h) whose
// role is BROKER or ANY are registered; the broker fills these:
//   xtrade_build_info{version,role}     xtrade_start_time_seconds
//   xtrade_fold   xtrade_plan_folds     xtrade_phase{phase}
//   xtrade_connected_actors             xtrade_actors_lost_total
//   xtrade_weights_version              xtrade_queue_depth{queue="shards"}
//   xtrade_decode_errors_total{socket="control"}
//   xtrade_eval_sharpe{fold,symbol,timeframe}  xtrade_eval_return{fold,symbol,timeframe}
// The loop thread updates the handles (lock-free) on its timer and when
// results arrive; the HTTP thread only renders. /healthz fails when the loop
// has not ticked for stall_ms (a wedged loop cannot answer its peers).
#ifndef XT_BROKER_STATS_H
#define XT_BROKER_STATS_H

#include "core/err.h"
#include "metrics/catalog.h"
#include "metrics/http.h"
#include "metrics/prom.h"

#include <stdatomic.h>
#include <stdint.h>

// Values of the phase label, in this order.
#define XT_BSTATS_PHASES(X) X(IDLE, idle) X(TRAIN, train) X(CHECKPOINT, checkpoint) X(EVAL, eval) X(REPORT, report) X(DONE, done)
enum {
#define XT_X(e, n) XT_BSTATS_PHASE_##e,
    XT_BSTATS_PHASES(XT_X)
#undef XT_X
    XT_BSTATS_PHASE_N
};

// One index per catalog row (XT_BSTATS_FAM_xtrade_fold, ...).
enum {
#define XT_X(role, name, type, help, labels) XT_BSTATS_FAM_##name,
    XT_METRICS_CATALOG(XT_X)
#undef XT_X
    XT_BSTATS_FAM_N
};

typedef struct {
    xt_prom_registry *reg;
    xt_prom_family *fam[XT_BSTATS_FAM_N]; // NULL for rows of other roles
    xt_prom_gauge *build_info, *start_time, *fold, *plan_folds, *connected, *weights_version, *queue_shards;
    xt_prom_gauge *phase[XT_BSTATS_PHASE_N];
    xt_prom_counter *decode_errors, *actors_lost;
    xt_prom_family *eval_sharpe, *eval_return;
    xt_metrics_http *http;
    _Atomic int64_t tick_ms; // monotonic ms of the loop's last tick
    int64_t stall_ms;        // /healthz fails after this long without a tick
} xt_broker_stats;

// Registers every family. stall_ms: see above.
int xt_broker_stats_init(xt_broker_stats *st, int n_folds, int64_t stall_ms, xt_err *err);
// Starts /metrics and /healthz on bind_addr:port (0 = ephemeral).
int xt_broker_stats_serve(xt_broker_stats *st, const char *bind_addr, int port, xt_err *err);
// Sets the phase gauge: 1 on XT_BSTATS_PHASE_* p, 0 elsewhere.
void xt_broker_stats_phase(xt_broker_stats *st, int p);
// Records one shard's evaluation (fold index, "BTCUSD", "1h").
int xt_broker_stats_eval(xt_broker_stats *st, int fold, const char *symbol, const char *tf, double sharpe,
                         double total_return, xt_err *err);
// Called by the loop's timer: proves to /healthz that the loop turns.
void xt_broker_stats_tick(xt_broker_stats *st);
// Stops the endpoint and frees the registry. Accepts a zeroed struct.
void xt_broker_stats_destroy(xt_broker_stats *st);

#endif
