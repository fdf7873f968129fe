// astats.c - actor metric families, the HTTP endpoint and its health probe.
//
// Invariants: the families are the catalog's ACTOR and ANY rows plus its
// xtrade_chunks_dropped_total row; per-shard children are created when an
// Assignment first names the shard (bounded by symbols x timeframes); updates
// are the registry's lock-free atomics. Threads: the loop thread writes
// handles and tick_ms; libmicrohttpd's thread renders and calls s_health,
// which reads only tick_ms (atomic) and stall_ms (constant after init).
#include "astats.h"

#include "core/xtime.h"

#include <stdio.h>
#include <string.h>

static int64_t s_now_ms(void) { return (int64_t)(xt_time_mono() * 1000.0); }

static int s_health(void *ud, char *reason, size_t cap) {
    const xt_astats *st = ud;
    return xt_metrics_loop_health(&st->tick_ms, st->stall_ms, "actor", reason, cap);
}

// Which catalog rows the actor registers.
static int s_mine(int role, const char *name) {
    return role == XT_METRIC_ROLE_ANY || role == XT_METRIC_ROLE_ACTOR ||
           strcmp(name, "xtrade_chunks_dropped_total") == 0;
}

int xt_astats_init(xt_astats *st, const char *actor_id, int64_t stall_ms, xt_err *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->actor, sizeof st->actor, "%s", actor_id);
    st->stall_ms = stall_ms;
    atomic_store(&st->tick_ms, s_now_ms());
    st->reg = xt_prom_registry_new(err);
    if (!st->reg) return err && err->code ? err->code : XT_ENOMEM;
    int rc = 0;
#define S_REG(role, name, type, help, labels)                                                                \
    if (rc == 0 && s_mine(XT_METRIC_ROLE_##role, #name))                                                     \
        rc = xt_catalog_family(st->reg, &st->fam[XT_ASTATS_FAM_##name], #name, XT_PROM_##type, help, labels, err);
    XT_METRICS_CATALOG(S_REG)
#undef S_REG
    if (rc) return rc;
    xt_prom_family **f = st->fam;
    const char *a[] = {st->actor};
    static const char *stages[XT_ASTATS_STAGE_N] = {"env_step", "inference", "encode_send"};
    for (int k = 0; k < XT_ASTATS_STAGE_N && rc == 0; k++)
        rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_stage_seconds_total], (const char *[]){stages[k]},
                                   &st->stage[k], err);
    if (rc ||
        (rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_build_info], (const char *[]){XT_VERSION, "actor"},
                                  &st->build_info, err)) ||
        (rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_start_time_seconds], NULL, &st->start_time, err)) ||
        (rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_weights_version], NULL, &st->weights_version, err)) ||
        (rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_queue_depth], (const char *[]){"send"}, &st->queue_send,
                                  err)) ||
        (rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_env_steps_per_second], a, &st->steps_per_s, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_decode_errors_total], (const char *[]){"control"},
                                    &st->decode_control, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_decode_errors_total], (const char *[]){"weights"},
                                    &st->decode_weights, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_reconnects_total], (const char *[]){"broker"},
                                    &st->reconnect_broker, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_reconnects_total], (const char *[]){"learner"},
                                    &st->reconnect_learner, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_chunks_sent_total], a, &st->chunks_sent, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_chunks_dropped_total], (const char *[]){"nonfinite"},
                                    &st->dropped_nonfinite, err)) ||
        (rc = xt_prom_histogram_child(f[XT_ASTATS_FAM_xtrade_loop_stall_seconds], NULL, &st->loop_stall, err)))
        return rc;
    xt_prom_gauge_set(st->build_info, 1);
    xt_prom_gauge_set(st->start_time, xt_time_wall());
    return 0;
}

int xt_astats_serve(xt_astats *st, const char *bind_addr, int port, xt_err *err) {
    return xt_metrics_http_start(&st->http, bind_addr, port, st->reg, s_health, st, err);
}

int xt_astats_port(const xt_astats *st) { return st->http ? xt_metrics_http_port(st->http) : 0; }

int xt_astats_shard_get(xt_astats *st, const char *symbol, const char *timeframe, xt_astats_shard *out,
                        xt_err *err) {
    xt_prom_family **f = st->fam;
    const char *ast[] = {st->actor, symbol, timeframe};
    out->ret = out->sharpe = NULL; // created with the shard's first exact episode
    int rc;
    if ((rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_env_steps_total], ast, &out->steps, err)) ||
        (rc = xt_prom_counter_child(f[XT_ASTATS_FAM_xtrade_episodes_total], ast, &out->episodes, err)))
        return rc;
    return 0;
}

int xt_astats_shard_episodes(xt_astats *st, const char *symbol, const char *timeframe, xt_astats_shard *out,
                             xt_err *err) {
    xt_prom_family **f = st->fam;
    const char *s[] = {symbol, timeframe};
    int rc;
    if ((rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_episode_return], s, &out->ret, err)) ||
        (rc = xt_prom_gauge_child(f[XT_ASTATS_FAM_xtrade_episode_sharpe], s, &out->sharpe, err)))
        return rc;
    return 0;
}

void xt_astats_tick(xt_astats *st) { atomic_store_explicit(&st->tick_ms, s_now_ms(), memory_order_relaxed); }

void xt_astats_destroy(xt_astats *st) {
    xt_metrics_http_stop(&st->http);
    xt_prom_registry_destroy(&st->reg);
    memset(st, 0, sizeof *st);
}
