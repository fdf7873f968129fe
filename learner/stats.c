// stats.c - learner metric families from the catalog, their children, the
// HTTP endpoint and its health probe (stats.h).
//
// Invariants: families are registered from XT_METRICS_CATALOG only (names,
// types, help and labels are never restated here); every child the learner
// updates exists after init, so the hot paths never create one.
// Threads: the loop thread writes handles, tick_ms and the failure reason;
// the HTTP thread renders and calls s_health, which reads atomics only
// (fail_reason is written before `failed` is set and never again).
#include "stats.h"

#include "core/xtime.h"

#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------- families

static int64_t s_now_ms(void) { return (int64_t)(xt_time_mono() * 1000.0); }

static int s_health(void *ud, char *reason, size_t cap) {
    xt_learner_stats *st = ud;
    if (atomic_load(&st->failed)) {
        snprintf(reason, cap, "%s", st->fail_reason);
        return 1;
    }
    return xt_metrics_loop_health(&st->tick_ms, st->stall_ms, "learner", reason, cap);
}

#define S_G(fam, vals, out) xt_prom_gauge_child(st->fam, vals, out, err)
#define S_C(fam, vals, out) xt_prom_counter_child(st->fam, vals, out, err)
#define S_H(fam, out) xt_prom_histogram_child(st->fam, NULL, out, err)
#define S_V(...) ((const char *[]){__VA_ARGS__})

int xt_learner_stats_init(xt_learner_stats *st, int64_t stall_ms, xt_err *err) {
    memset(st, 0, sizeof *st);
    st->stall_ms = stall_ms;
    atomic_store(&st->tick_ms, s_now_ms());
    st->reg = xt_prom_registry_new(err);
    if (!st->reg) return err ? err->code : XT_ENOMEM;
    int rc = 0;
#define XT_X(role, name, type, help, labels)                                                      \
    if (rc == 0 && (XT_METRIC_ROLE_##role == XT_METRIC_ROLE_ANY || XT_METRIC_ROLE_##role == XT_METRIC_ROLE_LEARNER)) \
        rc = xt_catalog_family(st->reg, &st->name, #name, XT_PROM_##type, help, labels, err);
    XT_METRICS_CATALOG(XT_X)
#undef XT_X
    if (rc) return rc;
    static const char *stages[XT_LSTATS_STAGE_N] = {"ingest", "learn", "publish"};
    static const char *terms[XT_LSTATS_TERM_N] = {"policy", "value", "entropy", "total"};
    for (int i = 0; i < XT_LSTATS_STAGE_N && rc == 0; i++)
        rc = S_C(xtrade_stage_seconds_total, S_V(stages[i]), &st->stage[i]);
    for (int i = 0; i < XT_LSTATS_TERM_N && rc == 0; i++) rc = S_G(xtrade_learner_loss, S_V(terms[i]), &st->loss[i]);
    for (int i = 0; i < XT_INGEST_DROP_N && rc == 0; i++)
        rc = S_C(xtrade_chunks_dropped_total, S_V(xt_ingest_drop_name(i)), &st->dropped[i]);
    if (rc || (rc = S_G(xtrade_build_info, S_V(XT_VERSION, "learner"), &st->build_info)) ||
        (rc = S_G(xtrade_start_time_seconds, NULL, &st->start_time)) ||
        (rc = S_G(xtrade_weights_version, NULL, &st->weights_version)) ||
        (rc = S_G(xtrade_queue_depth, S_V("chunks"), &st->queue_chunks)) ||
        (rc = S_G(xtrade_queue_depth, S_V("batch"), &st->queue_batch)) ||
        (rc = S_G(xtrade_queue_depth, S_V("ckpt"), &st->queue_ckpt)) ||
        (rc = S_C(xtrade_decode_errors_total, S_V("chunks"), &st->decode_chunks)) ||
        (rc = S_C(xtrade_decode_errors_total, S_V("control"), &st->decode_control)) ||
        (rc = S_C(xtrade_reconnects_total, S_V("broker"), &st->reconnect_broker)) ||
        (rc = S_C(xtrade_chunks_received_total, NULL, &st->received)) ||
        (rc = S_H(xtrade_policy_lag_versions, &st->policy_lag)) ||
        (rc = S_H(xtrade_learner_update_duration_seconds, &st->update_duration)) ||
        (rc = S_C(xtrade_learner_updates_total, NULL, &st->updates)) ||
        (rc = S_C(xtrade_learner_samples_total, NULL, &st->samples)) ||
        (rc = S_C(xtrade_learner_skipped_updates_total, NULL, &st->skipped)) ||
        (rc = S_G(xtrade_learner_entropy, NULL, &st->entropy)) ||
        (rc = S_G(xtrade_learner_approx_kl, NULL, &st->approx_kl)) ||
        (rc = S_G(xtrade_learner_clip_fraction, NULL, &st->clip_fraction)) ||
        (rc = S_G(xtrade_learner_explained_variance, NULL, &st->explained_variance)) ||
        (rc = S_G(xtrade_learner_grad_norm, NULL, &st->grad_norm)) ||
        (rc = S_G(xtrade_learner_learning_rate, NULL, &st->learning_rate)) ||
        (rc = S_G(xtrade_learner_entropy_coef, NULL, &st->entropy_coef)) ||
        (rc = S_G(xtrade_checkpoint_age_seconds, NULL, &st->checkpoint_age)))
        return rc;
    xt_prom_gauge_set(st->build_info, 1);
    xt_prom_gauge_set(st->start_time, xt_time_wall());
    return 0;
}

#undef S_G
#undef S_C
#undef S_H
#undef S_V

int xt_learner_stats_serve(xt_learner_stats *st, const char *bind_addr, int port, xt_err *err) {
    return xt_metrics_http_start(&st->http, bind_addr, port, st->reg, s_health, st, err);
}

// ---------------------------------------------------------------- updates

void xt_learner_stats_tick(xt_learner_stats *st) {
    atomic_store_explicit(&st->tick_ms, s_now_ms(), memory_order_relaxed);
}

void xt_learner_stats_fail(xt_learner_stats *st, const char *reason) {
    if (atomic_load(&st->failed)) return;
    snprintf(st->fail_reason, sizeof st->fail_reason, "%s", reason);
    atomic_store(&st->failed, 1);
}

void xt_learner_stats_ingest(xt_learner_stats *st, const xt_ingest_stats *now, xt_ingest_stats *prev) {
    xt_prom_counter_add_u64(st->received, now->received - prev->received);
    xt_prom_counter_add_u64(st->decode_chunks, now->decode_errors - prev->decode_errors);
    for (int i = 0; i < XT_INGEST_DROP_N; i++)
        xt_prom_counter_add_u64(st->dropped[i], now->dropped[i] - prev->dropped[i]);
    xt_prom_counter_add(st->stage[XT_LSTATS_INGEST], now->seconds - prev->seconds);
    *prev = *now;
}

void xt_learner_stats_destroy(xt_learner_stats *st) {
    xt_metrics_http_stop(&st->http);
    xt_prom_registry_destroy(&st->reg);
}
