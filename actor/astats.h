// astats.h - the actor's metrics: one stats struct of Prometheus handles,
// the /metrics + /healthz endpoint and its health probe.
//
// Families: the ACTOR and ANY rows of metrics/catalog.h, registered from the
// catalog itself (names, help, labels), plus its xtrade_chunks_dropped_total
// row (reason="nonfinite": chunks the actor refused to send because an
// observation, reward, log-prob or state was not finite):
//   xtrade_build_info{version,role}    xtrade_start_time_seconds
//   xtrade_weights_version             xtrade_queue_depth{queue="send"}
//   xtrade_stage_seconds_total{stage=env_step|inference|encode_send}
//   xtrade_decode_errors_total{socket=control|weights}
//   xtrade_reconnects_total{peer=broker|learner}
//   xtrade_env_steps_total{actor,symbol,timeframe}   xtrade_env_steps_per_second{actor}
//   xtrade_episodes_total{actor,symbol,timeframe}
//   xtrade_episode_return{symbol,timeframe}          xtrade_episode_sharpe{symbol,timeframe}
//   xtrade_chunks_sent_total{actor}    xtrade_chunks_dropped_total{reason}
//   xtrade_loop_stall_seconds (histogram: how late each timer tick came)
// The loop thread updates the handles (lock-free atomics); the HTTP thread
// only renders. /healthz fails when the loop has not ticked for stall_ms.
#ifndef XT_ACTOR_ASTATS_H
#define XT_ACTOR_ASTATS_H

#include "core/err.h"
#include "metrics/catalog.h"
#include "metrics/http.h"
#include "metrics/prom.h"

#include <stdatomic.h>
#include <stdint.h>

// One index per catalog row (rows of other roles stay NULL).
enum {
#define XT_X(role, name, type, help, labels) XT_ASTATS_FAM_##name,
    XT_METRICS_CATALOG(XT_X)
#undef XT_X
    XT_ASTATS_FAM_N
};

enum { XT_ASTATS_STAGE_ENV, XT_ASTATS_STAGE_INFER, XT_ASTATS_STAGE_SEND, XT_ASTATS_STAGE_N };

typedef struct {
    xt_prom_registry *reg;
    xt_prom_family *fam[XT_ASTATS_FAM_N];
    xt_prom_gauge *build_info, *start_time, *weights_version, *queue_send, *steps_per_s;
    xt_prom_counter *stage[XT_ASTATS_STAGE_N];
    xt_prom_counter *decode_control, *decode_weights;
    xt_prom_counter *reconnect_broker, *reconnect_learner;
    xt_prom_counter *chunks_sent, *dropped_nonfinite;
    xt_prom_histogram *loop_stall;
    xt_metrics_http *http;
    char actor[256];         // the actor label value (its id)
    _Atomic int64_t tick_ms; // monotonic ms of the loop's last tick
    int64_t stall_ms;        // /healthz fails after this long without a tick
} xt_astats;

// Handles of one (symbol, timeframe) shard.
typedef struct {
    xt_prom_counter *steps, *episodes;
    xt_prom_gauge *ret, *sharpe;
} xt_astats_shard;

// Registers every family and the fixed children. stall_ms: see above.
int xt_astats_init(xt_astats *st, const char *actor_id, int64_t stall_ms, xt_err *err);
// Starts /metrics and /healthz on bind_addr:port (0 = ephemeral).
int xt_astats_serve(xt_astats *st, const char *bind_addr, int port, xt_err *err);
int xt_astats_port(const xt_astats *st);
// The step and episode counters of a shard ("BTCUSD" or "portfolio", "1h"),
// created on first use; ret and sharpe stay NULL until
// xt_astats_shard_episodes creates them with the shard's first exact episode
// (a gauge without a value would show as 0 or NaN on dashboards).
int xt_astats_shard_get(xt_astats *st, const char *symbol, const char *timeframe, xt_astats_shard *out,
                        xt_err *err);
int xt_astats_shard_episodes(xt_astats *st, const char *symbol, const char *timeframe, xt_astats_shard *out,
                             xt_err *err);
// Called by the loop's timer: proves to /healthz that the loop turns.
void xt_astats_tick(xt_astats *st);
// Stops the endpoint and frees the registry. Accepts a zeroed struct.
void xt_astats_destroy(xt_astats *st);

#endif
