// catalog.h - THE list of every metric family xtrade exports (DESIGN §7).
//
//   X(role, name, TYPE, "help", "labels")
//
// role    which daemon registers the family: ANY (every daemon), BROKER,
//         LEARNER or ACTOR. A daemon registers the rows of its own role plus
//         the ANY rows; a labelled family without children is not rendered,
//         so an ANY family a daemon never touches costs nothing on /metrics.
// name    the metric name as a token (#name gives the string; a stats struct
//         can declare one member per row). Prometheus conventions: "xtrade_"
//         prefix, counters end in "_total" and nothing else does, base units
//         (seconds, ratios in 0..1) named in the suffix where there is one.
// TYPE    COUNTER, GAUGE or HISTOGRAM (XT_PROM_##TYPE in metrics/prom.h).
// labels  comma-separated label names in the order the daemon passes values,
//         or "" for none. The values each label takes are listed in the help
//         text and in docs/metrics-catalog.md.
//
// Histogram buckets are one more list, XT_METRICS_BUCKETS, one row per
// HISTOGRAM family: B(name, LINEAR|EXPONENTIAL, start, width_or_factor, n),
// the arguments of xt_prom_buckets_linear / xt_prom_buckets_exponential.
//
// The Grafana dashboard (deploy/grafana/dashboards/xtrade-training.json) and
// docs/metrics-catalog.md may only name families listed here; the static test
// tests/cli/deploy_files.sh checks both, the naming conventions and that
// every HISTOGRAM row has exactly one bucket row.
//
// A daemon expands the list once at init: a row macro S_REG(role, name, type,
// help, labels) that registers the family when XT_METRIC_ROLE_##role is ANY
// or the daemon's own role (xt_prom_counter_family / _gauge_family /
// _histogram_family of metrics/prom.h, chosen by XT_PROM_##type, with #name,
// help and labels; histogram bounds from XT_METRICS_BUCKETS), then
// XT_METRICS_CATALOG(S_REG); it keeps the family pointers in its stats struct.
// xt_catalog_family does the registration of one row (buckets included).
#ifndef XT_METRICS_CATALOG_H
#define XT_METRICS_CATALOG_H

#include "core/err.h"
#include "metrics/prom.h"

typedef enum {
    XT_METRIC_ROLE_ANY = 0,
    XT_METRIC_ROLE_BROKER,
    XT_METRIC_ROLE_LEARNER,
    XT_METRIC_ROLE_ACTOR,
} xt_metric_role;

#define XT_METRICS_CATALOG(X) \
    /* ---- every daemon */ \
    X(ANY, xtrade_build_info, GAUGE, "Always 1; labels carry the xtrade version and the daemon's role (broker, learner, actor).", "version,role") \
    X(ANY, xtrade_start_time_seconds, GAUGE, "Unix time at which this daemon process started.", "") \
    X(ANY, xtrade_weights_version, GAUGE, "Policy weights version: learner the newest published, actor the one it acts with, broker the newest a checkpoint reported.", "") \
    X(ANY, xtrade_queue_depth, GAUGE, "Items waiting in an internal queue; queue: chunks (learner ingest buffer), batch (learner chunks batched for the next update), ckpt (learner checkpoints waiting for the writer), send (actor chunks built, not yet sent), shards (broker shards waiting for an actor).", "queue") \
    X(ANY, xtrade_stage_seconds_total, COUNTER, "Wall time spent per pipeline stage; stage: env_step, inference, encode_send (actor), ingest, learn, publish (learner).", "stage") \
    X(ANY, xtrade_decode_errors_total, COUNTER, "Frames rejected by the decoder (unknown version, truncated, oversized, inconsistent shape); socket: control, chunks, weights.", "socket") \
    X(ANY, xtrade_reconnects_total, COUNTER, "Times this daemon re-established its connection to a peer after losing it; peer: broker, learner.", "peer") \
    /* ---- broker: run plan, folds, liveness, evaluation */ \
    X(BROKER, xtrade_fold, GAUGE, "Index of the walk-forward fold being run (0-based; -1 before the first fold starts).", "") \
    X(BROKER, xtrade_plan_folds, GAUGE, "Number of walk-forward folds in the run plan.", "") \
    X(BROKER, xtrade_phase, GAUGE, "1 for the run's current phase, 0 for the others; phase: idle, train, checkpoint, eval, report, done.", "phase") \
    X(BROKER, xtrade_connected_actors, GAUGE, "Actors registered with the broker and heard from within the liveness timeout.", "") \
    X(BROKER, xtrade_actors_lost_total, COUNTER, "Actors dropped for silence (no heartbeat within the liveness timeout); their shards were reassigned.", "") \
    X(BROKER, xtrade_eval_sharpe, GAUGE, "Annualised Sharpe ratio of the deterministic policy on a fold's test window.", "fold,symbol,timeframe") \
    X(BROKER, xtrade_eval_return, GAUGE, "Total return (ratio of final to initial equity, minus 1) of the deterministic policy on a fold's test window.", "fold,symbol,timeframe") \
    /* ---- actor: env stepping and rollout chunks */ \
    X(ACTOR, xtrade_env_steps_total, COUNTER, "Environment steps taken for training.", "actor,symbol,timeframe") \
    X(ACTOR, xtrade_env_steps_per_second, GAUGE, "Environment steps per second of this actor, averaged over the last sampling period.", "actor") \
    X(ACTOR, xtrade_episodes_total, COUNTER, "Training episodes finished (terminated or truncated).", "actor,symbol,timeframe") \
    X(ACTOR, xtrade_episode_return, GAUGE, "Mean return (ratio, final/initial equity minus 1) of the last 100 finished training episodes.", "symbol,timeframe") \
    X(ACTOR, xtrade_episode_sharpe, GAUGE, "Mean annualised Sharpe ratio of the last 100 finished training episodes.", "symbol,timeframe") \
    X(ACTOR, xtrade_chunks_sent_total, COUNTER, "Rollout chunks sent to the learner.", "actor") \
    X(ACTOR, xtrade_loop_stall_seconds, HISTOGRAM, "Seconds the actor's event loop came late to its heartbeat tick (blocked), one observation per tick; 0 when on time.", "") \
    /* ---- learner: ingest, PPO updates, checkpoints */ \
    X(LEARNER, xtrade_chunks_received_total, COUNTER, "Rollout chunks received from actors (accepted or not).", "") \
    X(ANY, xtrade_chunks_dropped_total, COUNTER, "Rollout chunks discarded (learner; actors count nonfinite ones they never send); reason: policy_lag (too many versions behind), decode (malformed), shape (does not fit the model), invalid (masked action or unknown symbol), fold (another fold), nonfinite (NaN/Inf inside), stale_incarnation (from a restarted actor's previous life).", "reason") \
    X(LEARNER, xtrade_policy_lag_versions, HISTOGRAM, "Weights versions between the policy that acted a chunk and the policy it is trained into.", "") \
    X(LEARNER, xtrade_learner_updates_total, COUNTER, "PPO updates completed (one per rollout batch, all epochs).", "") \
    X(LEARNER, xtrade_learner_update_duration_seconds, HISTOGRAM, "Wall time of one PPO update (all epochs and minibatches of one batch).", "") \
    X(LEARNER, xtrade_learner_samples_total, COUNTER, "Env steps passed through the loss, counted once per epoch (learner samples/s).", "") \
    X(LEARNER, xtrade_learner_skipped_updates_total, COUNTER, "Minibatch updates skipped because the loss or a gradient was not finite.", "") \
    X(LEARNER, xtrade_learner_loss, GAUGE, "Loss of the last update, mean over its minibatches; term: policy, value, entropy, total.", "term") \
    X(LEARNER, xtrade_learner_entropy, GAUGE, "Mean policy entropy (nats) of the last update.", "") \
    X(LEARNER, xtrade_learner_approx_kl, GAUGE, "Approximate KL divergence between the acting and updated policy in the last update.", "") \
    X(LEARNER, xtrade_learner_clip_fraction, GAUGE, "Fraction (0..1) of samples whose probability ratio was clipped in the last update.", "") \
    X(LEARNER, xtrade_learner_explained_variance, GAUGE, "Explained variance of the value predictions against the returns in the last batch.", "") \
    X(LEARNER, xtrade_learner_grad_norm, GAUGE, "Global gradient L2 norm before clipping, mean over the last update's minibatches.", "") \
    X(LEARNER, xtrade_learner_learning_rate, GAUGE, "Adam learning rate in effect.", "") \
    X(LEARNER, xtrade_learner_entropy_coef, GAUGE, "Entropy coefficient in effect (ppo.ent_schedule).", "") \
    X(LEARNER, xtrade_checkpoint_age_seconds, GAUGE, "Seconds since the learner last wrote a checkpoint of the current fold.", "")

// Histogram buckets: B(name, LINEAR|EXPONENTIAL, start, width_or_factor, n finite bounds).
#define XT_METRICS_BUCKETS(B) \
    B(xtrade_policy_lag_versions, LINEAR, 0, 1, 17) /* 0, 1, ..., 16 versions */ \
    B(xtrade_learner_update_duration_seconds, EXPONENTIAL, 0.001, 2, 18) /* 1 ms .. 131 s */ \
    B(xtrade_loop_stall_seconds, EXPONENTIAL, 0.01, 2, 12) /* 10 ms .. 20.48 s */

// Registers catalog family `name` of `type` in reg (*out: the family): a
// counter, a gauge, or a histogram with its XT_METRICS_BUCKETS bounds.
// XT_ENOTFOUND naming the family when a histogram has no bucket row.
int xt_catalog_family(xt_prom_registry *reg, xt_prom_family **out, const char *name, xt_prom_type type,
                      const char *help, const char *labels, xt_err *err);

#endif
