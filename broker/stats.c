// stats.c - broker metric families, the HTTP endpoint and its health probe.
//
// Invariants: the families are exactly the catalog's BROKER and ANY rows;
// every handle is created at init (eval children when a result
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
    return xt_metrics_loop_health(&st->tick_ms, st->stall_ms, "broker", reason, cap);
}

int xt_broker_stats_init(xt_broker_stats *st, int n_folds, int64_t stall_ms, xt_err *err) {
    memset(st, 0, sizeof *st);
    st->stall_ms = stall_ms;
    atomic_store(&st->tick_ms, s_now_ms());
    st->reg = xt_prom_registry_new(err);
    if (!st->reg) return err ? err->code : XT_ENOMEM;
    // Every catalog row of the broker's role and of every daemon.
    int rc = 0;
#define S_REG(role, name, type, help, labels)                                                                \
    if (rc == 0 && (XT_METRIC_ROLE_##role == XT_METRIC_ROLE_ANY || XT_METRIC_ROLE_##role == XT_METRIC_ROLE_BROKER)) \
        rc = xt_catalog_family(st->reg, &st->fam[XT_BSTATS_FAM_##name], #name, XT_PROM_##type, help, labels, err);
    XT_METRICS_CATALOG(S_REG)
#undef S_REG
    if (rc) return rc;
    xt_prom_family **f = st->fam;
    if ((rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_build_info], (const char *[]){XT_VERSION, "broker"},
                                  &st->build_info, err)) ||
        (rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_start_time_seconds], NULL, &st->start_time, err)) ||
        (rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_weights_version], NULL, &st->weights_version, err)) ||
        (rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_queue_depth], (const char *[]){"shards"}, &st->queue_shards,
                                  err)) ||
        (rc = xt_prom_counter_child(f[XT_BSTATS_FAM_xtrade_decode_errors_total], (const char *[]){"control"},
                                    &st->decode_errors, err)) ||
        (rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_fold], NULL, &st->fold, err)) ||
        (rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_plan_folds], NULL, &st->plan_folds, err)) ||
        (rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_connected_actors], NULL, &st->connected, err)) ||
        (rc = xt_prom_counter_child(f[XT_BSTATS_FAM_xtrade_actors_lost_total], NULL, &st->actors_lost, err)))
        return rc;
    st->eval_sharpe = f[XT_BSTATS_FAM_xtrade_eval_sharpe];
    st->eval_return = f[XT_BSTATS_FAM_xtrade_eval_return];
    static const char *names[] = {
#define XT_X(e, n) #n,
        XT_BSTATS_PHASES(XT_X)
#undef XT_X
    };
    for (int p = 0; p < XT_BSTATS_PHASE_N; p++)
        if ((rc = xt_prom_gauge_child(f[XT_BSTATS_FAM_xtrade_phase], (const char *[]){names[p]}, &st->phase[p], err)))
            return rc;
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
