// stats.c - broker metric families, the HTTP endpoint and its health probe.
//
// Invariants: every handle is created at init (eval children when a result
// first arrives, bounded by folds x shards); updates are the registry's
// lock-free atomics. Threads: the loop thread writes handles and tick_ms;
// libmicrohttpd's thread renders and calls s_health, which reads only
// tick_ms (an atomic) and stall_ms (constant after init).
#include "stats.h"

#include "core/xtime.h"

#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------- families

static int64_t s_now_ms(void) { return (int64_t)(xt_time_mono() * 1000.0); }

static int s_health(void *ud, char *reason, size_t cap) {
    const xt_broker_stats *st = ud;
    int64_t idle = s_now_ms() - atomic_load_explicit(&st->tick_ms, memory_order_relaxed);
    if (idle <= st->stall_ms) return 0;
    snprintf(reason, cap, "broker event loop has not run for %.1f s", (double)idle / 1000.0);
    return 1;
}

int xt_broker_stats_init(xt_broker_stats *st, int n_folds, int64_t stall_ms, xt_err *err) {
    memset(st, 0, sizeof *st);
    st->stall_ms = stall_ms;
    atomic_store(&st->tick_ms, s_now_ms());
    st->reg = xt_prom_registry_new(err);
    if (!st->reg) return err ? err->code : XT_ENOMEM;
    xt_prom_family *info, *phase, *queue, *decode;
    int rc;
    if ((rc = xt_prom_gauge_family(st->reg, &info, "xtrade_build_info",
                                   "Always 1; labels carry the xtrade version and the daemon's role (broker, learner, "
                                   "actor).",
                                   "version,role", err)) ||
        (rc = xt_prom_gauge_child(info, (const char *[]){XT_VERSION, "broker"}, &st->build_info, err)) ||
        (rc = xt_prom_gauge_new(st->reg, &st->start_time, "xtrade_start_time_seconds",
                                "Unix time at which this daemon process started.", err)) ||
        (rc = xt_prom_gauge_new(st->reg, &st->weights_version, "xtrade_weights_version",
                                "Policy weights version: learner the newest published, actor the one it acts with, "
                                "broker the newest a checkpoint reported.",
                                err)) ||
        (rc = xt_prom_gauge_family(st->reg, &queue, "xtrade_queue_depth",
                                   "Items waiting in an internal queue; queue: shards (broker shards waiting for an "
                                   "actor).",
                                   "queue", err)) ||
        (rc = xt_prom_gauge_child(queue, (const char *[]){"shards"}, &st->queue_shards, err)) ||
        (rc = xt_prom_counter_family(st->reg, &decode, "xtrade_decode_errors_total",
                                     "Frames rejected by the decoder (unknown version, truncated, oversized, "
                                     "inconsistent shape); socket: control.",
                                     "socket", err)) ||
        (rc = xt_prom_counter_child(decode, (const char *[]){"control"}, &st->decode_errors, err)) ||
        (rc = xt_prom_gauge_new(st->reg, &st->fold, "xtrade_fold",
                                "Index of the walk-forward fold being run (0-based; -1 before the first fold starts).",
                                err)) ||
        (rc = xt_prom_gauge_new(st->reg, &st->plan_folds, "xtrade_plan_folds",
                                "Number of walk-forward folds in the run plan.", err)) ||
        (rc = xt_prom_gauge_family(st->reg, &phase, "xtrade_phase",
                                   "1 for the run's current phase, 0 for the others; phase: idle, train, checkpoint, "
                                   "eval, report, done.",
                                   "phase", err)) ||
        (rc = xt_prom_gauge_new(st->reg, &st->connected, "xtrade_connected_actors",
                                "Actors registered with the broker and heard from within the liveness timeout.", err)) ||
        (rc = xt_prom_counter_new(st->reg, &st->actors_lost, "xtrade_actors_lost_total",
                                  "Actors dropped for silence (no heartbeat within the liveness timeout); their "
                                  "shards were reassigned.",
                                  err)) ||
        (rc = xt_prom_gauge_family(st->reg, &st->eval_sharpe, "xtrade_eval_sharpe",
                                   "Annualised Sharpe ratio of the deterministic policy on a fold's test window.",
                                   "fold,symbol,timeframe", err)) ||
        (rc = xt_prom_gauge_family(st->reg, &st->eval_return, "xtrade_eval_return",
                                   "Total return (ratio of final to initial equity, minus 1) of the deterministic "
                                   "policy on a fold's test window.",
                                   "fold,symbol,timeframe", err)))
        return rc;
    static const char *names[] = {
#define XT_X(e, n) #n,
        XT_BSTATS_PHASES(XT_X)
#undef XT_X
    };
    for (int p = 0; p < XT_BSTATS_PHASE_N; p++)
        if ((rc = xt_prom_gauge_child(phase, (const char *[]){names[p]}, &st->phase[p], err))) return rc;
    xt_prom_gauge_set(st->build_info, 1);
    xt_prom_gauge_set(st->start_time, xt_time_wall());
    xt_prom_gauge_set(st->plan_folds, n_folds);
    xt_prom_gauge_set(st->fold, -1);
    xt_broker_stats_phase(st, XT_BSTATS_PHASE_IDLE);
    return 0;
}

int xt_broker_stats_serve(xt_broker_stats *st, const char *bind_addr, int port, xt_err *err) {
    return xt_metrics_http_start(&st->http, bind_addr, port, st->reg, s_health, st, err);
}

// ---------------------------------------------------------------- updates

void xt_broker_stats_phase(xt_broker_stats *st, int p) {
    for (int i = 0; i < XT_BSTATS_PHASE_N; i++) xt_prom_gauge_set(st->phase[i], i == p);
}

int xt_broker_stats_eval(xt_broker_stats *st, int fold, const char *symbol, const char *tf, double sharpe,
                         double total_return, xt_err *err) {
    char f[16];
    snprintf(f, sizeof f, "%d", fold);
    const char *v[] = {f, symbol, tf};
    xt_prom_gauge *gs, *gr;
    int rc = xt_prom_gauge_child(st->eval_sharpe, v, &gs, err);
    if (rc == 0) rc = xt_prom_gauge_child(st->eval_return, v, &gr, err);
    if (rc) return rc;
    xt_prom_gauge_set(gs, sharpe);
    xt_prom_gauge_set(gr, total_return);
    return 0;
}

void xt_broker_stats_tick(xt_broker_stats *st) {
    atomic_store_explicit(&st->tick_ms, s_now_ms(), memory_order_relaxed);
}

void xt_broker_stats_destroy(xt_broker_stats *st) {
    xt_metrics_http_stop(&st->http);
    xt_prom_registry_destroy(&st->reg);
}
