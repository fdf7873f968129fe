// learner.c - the learner's event loop: broker session, phases, ingest,
// PPO updates, weights publishing, checkpoints and shutdown (learner.h).
//
// Purpose: train one policy per walk-forward fold from the chunks actors
// stream in, exactly as docs/cluster-protocol.md and docs/learner.md say.
// Invariants:
//   - the loop thread never trains, validates or writes a checkpoint: those
//     are jobs of the training actor, at most one at a time (s_pump picks
//     the next); the batch an update reads stays untouched until it is done;
//   - version = the trainer's update count; weights are published after
//     every update whose params are all finite (publish.c refuses NaN too),
//     so a version on the wire always names finite weights;
//   - the heartbeat's env_steps are the steps trained in the fold the
//     broker commands, 0 while another fold (or none) is loaded, so the
//     broker never reads the previous fold's total as the new fold's;
//   - broker commands are level-triggered: a repeated command is a no-op
//     (a repeated CHECKPOINT only re-sends the answer);
//   - ingest is bounded (ingest.h): the PULL reader is removed from the loop
//     while no buffer has room, so ZeroMQ's high-water mark blocks actors.
// Ownership: the learner owns sockets, actors, decoder, encoder, ingest and
// stats. Threads: everything here runs on the loop thread.
#include "learner.h"

#include "ingest.h"
#include "publish.h"
#include "stats.h"
#include "worker.h"

#include "core/log.h"
#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include "cuda/backend_cuda.h"

#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CTRL_FRAME_MAX (1u << 20)  // control frames the decoder accepts (Status rosters)
#define S_CTRL_ZMQ_MAX (4 << 20)     // larger control messages make ZeroMQ drop the connection
#define S_CHUNK_ZMQ_MAX (16 << 20)   // larger chunk messages make ZeroMQ drop the connection
#define S_PULL_HWM 16                // chunks ZeroMQ queues per actor connection
#define S_DRAIN_MAX 256              // frames read per wake-up (timer fairness)
#define S_ROSTER_MAX 1024            // actors in a roster

typedef struct {
    char id[XT_WIRE_ID_MAX];
    uint64_t incarnation;
    uint32_t envs;
} s_actor;

struct xt_learner {
    xt_learner_opts o;
    const xt_config *cfg;
    char id[XT_WIRE_ID_MAX], host[XT_WIRE_ID_MAX], broker[XT_WIRE_PATH_MAX], run_dir[1024];
    char chunk_ep[300], weights_ep[300];
    uint64_t incarnation, seq;
    double heartbeat_s, liveness_s;

    // sockets and actors
    zsock_t *dealer, *pull;
    xt_wire_sockopt client; // the DEALER's options (Curve client), for reconnects
    int chunk_port;
    zloop_t *loop;
    int pull_reading;
    zactor_t *auth;
    zcert_t *cert;
    char broker_key[64];
    xt_publish *pub;
    xt_worker *worker;
    xt_wire_decoder *dec;
    xt_wire_encoder *enc;
    xt_learner_stats st;

    // ingest (created once the model's shape is known: the first fold)
    xt_ingest *ing;
    xt_batcher_shape shape;
    xt_ingest_stats ing_prev;
    uint64_t pub_nanos_prev;

    // broker session
    double broker_seen, register_sent;
    int broker_lost;       // silent past liveness_ms since the last welcome
    int welcomed;          // the broker answered our last Register
    uint64_t broker_inc;   // its incarnation at that welcome

    // what the broker commands
    int cmd_fold;
    xt_wire_phase cmd_phase;
    uint64_t budget;
    s_actor *roster; // [S_ROSTER_MAX]
    xt_wire_worker *rows;
    int n_roster;

    // the fold loaded in the training actor
    int fold, loading;
    uint64_t n_params;
    int batch_chunks, chunks_per_env;
    int64_t env_steps, updates;
    const float *params; // the trainer's params after the last job (worker idle only)
    uint64_t published;  // newest version published (heartbeats, the ingest's lag reference)
    int params_bad;      // the trainer's params are not all finite (never published or checkpointed)

    // jobs
    xt_worker_job job;
    int batch_id;         // ingest batch in training, -1 when none
    int want_fold;        // fold to load, -1: none
    int want_validate, want_save, want_final, want_rollback;
    int nonfinite_streak;
    int64_t ckpt_updates; // update count of the last checkpoint written
    double ckpt_time;     // when it was written (monotonic)
    int64_t val_updates;  // update count of the last validation, -1: none
    int final_busy;       // a final SAVE is running
    int final_sent;       // the final CheckpointDone went out (heartbeats report 0 steps)
    int final_valid;      // the final checkpoint below answers a repeated CHECKPOINT
    int64_t final_steps;
    xt_wire_ckpt_done final_msg;
    char final_path[XT_WORKER_PATH_MAX];

    // rates for heartbeats
    int64_t rate_steps;
    double rate_time, steps_per_s;

    int sync;       // learner.mode sync: strict on-policy batches
    int stopping;   // finishing: no more updates, a last checkpoint, then exit
    int done;       // the loop may end
    int fatal;
    xt_err fatal_err;
};

// ---------------------------------------------------------------- helpers

static double s_now(void) { return xt_time_mono(); }

static int s_fatal(xt_learner *l, const xt_err *err) {
    if (!l->fatal) {
        l->fatal = 1;
        l->fatal_err = *err;
        xt_learner_stats_fail(&l->st, err->msg);
    }
    return -1;
}

// Is the loaded fold the one the broker wants trained now?
static int s_training(const xt_learner *l) {
    return !l->loading && l->fold >= 0 && l->fold == l->cmd_fold && l->cmd_phase == XT_WIRE_PHASE_TRAIN;
}

static void s_send(xt_learner *l, xt_wire_msg *m) {
    m->hdr = (xt_wire_hdr){0, l->id, l->incarnation, ++l->seq};
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(l->enc, m, &frame, &len, &err)) {
        xt_error("%s", err.msg); // our own message failed validation: a bug
        return;
    }
    // DONTWAIT: a broker that is away must not block the loop; the
    // level-triggered protocol repairs a lost message.
    if (xt_wire_send(l->dealer, NULL, 0, frame, len, ZMQ_DONTWAIT, &err) < 0) xt_debug("%s", err.msg);
}

static void s_register(xt_learner *l) {
    xt_wire_msg m = {.type = XT_WIRE_REGISTER};
    m.reg = (xt_wire_register){XT_WIRE_ROLE_LEARNER,
                               0,
                               (uint32_t)getpid(),
                               l->host,
                               (uint32_t)xt_metrics_http_port(l->st.http),
                               (uint32_t)l->chunk_port,
                               (uint32_t)xt_publish_port(l->pub),
                               XT_VERSION};
    s_send(l, &m);
    l->register_sent = s_now();
}

// CP §4.1: running while training (or loading the fold, or writing its
// final checkpoint), waiting in sync mode for the actors' rollouts, idle
// otherwise (no fold, another phase, or the budget reached).
static xt_wire_state s_state(const xt_learner *l) {
    if (l->stopping) return XT_WIRE_STATE_STOPPING;
    if (l->loading || l->want_final || l->final_busy) return XT_WIRE_STATE_RUNNING;
    if (!s_training(l) || l->env_steps >= (int64_t)l->budget) return XT_WIRE_STATE_IDLE;
    if (l->sync && !xt_worker_busy(l->worker) && l->ing && xt_ingest_ready(l->ing) == 0) return XT_WIRE_STATE_WAITING;
    return XT_WIRE_STATE_RUNNING;
}

static void s_heartbeat(xt_learner *l) {
    // CP §4.1: the steps of the fold the broker commands; 0 for any other
    // fold, and from the fold's final CheckpointDone until its next TRAIN.
    int here = l->fold >= 0 && !l->loading && l->fold == l->cmd_fold && !l->final_sent;
    xt_wire_msg m = {.type = XT_WIRE_HEARTBEAT};
    m.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_LEARNER,
                               s_state(l),
                               isfinite(l->steps_per_s) && l->steps_per_s > 0 ? l->steps_per_s : 0,
                               here ? (uint64_t)l->env_steps : 0,
                               l->ing ? (uint32_t)xt_ingest_buffered(l->ing) : 0,
                               l->published};
    s_send(l, &m);
}

static void s_checkpoint_done(xt_learner *l, const xt_wire_ckpt_done *c) {
    xt_wire_msg m = {.type = XT_WIRE_CHECKPOINT_DONE};
    m.ckpt_done = *c;
    s_send(l, &m);
}

// The fold's final CheckpointDone (again); heartbeats then report 0 steps
// until the next TRAIN (CP §4.1).
static void s_send_final(xt_learner *l) {
    s_checkpoint_done(l, &l->final_msg);
    l->final_sent = 1;
}

// The reader of the PULL socket is in the loop exactly while there is room.
static void s_pull_reader(xt_learner *l);

// ---------------------------------------------------------------- ingest

static void s_apply_roster(xt_learner *l) {
    if (!l->ing || l->n_roster < 0) return;
    xt_ingest_set_roster(l->ing, l->rows, l->n_roster);
}

// (Re)creates the ingest for the loaded model's chunk shape.
static int s_ingest_for(xt_learner *l, const xt_model_spec *spec, xt_err *err) {
    xt_batcher_shape sh;
    xt_batcher_shape_of(&sh, spec, (int)l->cfg->ppo_chunk_len);
    if (l->ing && memcmp(&sh, &l->shape, sizeof sh) == 0) return 0;
    if (l->ing) {
        // A new model shape (another fold's data has other widths): the old
        // buffers cannot hold its chunks.
        if (l->pull_reading) zloop_reader_end(l->loop, l->pull), l->pull_reading = 0;
        xt_ingest_destroy(&l->ing);
    }
    xt_ingest_config ic = {.shape = sh,
                           .batch_chunks = l->batch_chunks,
                           .n_batches = (int)l->cfg->learner_max_buffered_batches,
                           .max_policy_lag = l->sync ? 0 : (int)l->cfg->learner_max_policy_lag,
                           .sync = l->sync,
                           .chunks_per_env = l->chunks_per_env,
                           .symbols = &l->cfg->data_symbols};
    if (!(l->ing = xt_ingest_new(&ic, err))) return err->code;
    l->shape = sh;
    memset(&l->ing_prev, 0, sizeof l->ing_prev);
    s_apply_roster(l);
    return 0;
}

static void s_publish(xt_learner *l) {
    xt_err err = {0};
    if (!l->params) return;
    if (xt_publish_weights(l->pub, (uint64_t)l->updates, (uint32_t)l->fold, l->params, l->n_params, &err) != 0) {
        xt_error("%s", err.msg);
        return;
    }
    l->published = (uint64_t)l->updates;
    if (l->ing) xt_ingest_set_version(l->ing, l->published);
    xt_prom_gauge_set(l->st.weights_version, (double)l->updates);
}

// ---------------------------------------------------------------- jobs

static int s_submit(xt_learner *l, xt_worker_kind kind) {
    xt_err err = {0};
    l->job.kind = kind;
    if (xt_worker_submit(l->worker, &l->job, &err)) return s_fatal(l, &err);
    if (kind == XT_WORKER_SAVE) xt_prom_gauge_set(l->st.queue_ckpt, 1);
    return 0;
}

// Starts the next job when the training actor is idle, in priority order:
// a fold change, a rollback, a validation, a checkpoint, then an update.
static void s_pump(xt_learner *l) {
    if (l->fatal || xt_worker_busy(l->worker)) return;
    if (l->want_fold >= 0 && !l->stopping) {
        l->job.fold = l->want_fold;
        l->want_fold = -1;
        l->loading = 1;
        // What was pending belongs to the fold being left.
        l->want_validate = l->want_save = l->want_final = l->want_rollback = 0;
        if (l->ing) xt_ingest_close(l->ing);
        xt_info("fold %d: opening its data and the trainer", l->job.fold);
        s_submit(l, XT_WORKER_FOLD);
        return;
    }
    if (l->fold < 0 || l->loading) {
        if (l->stopping) l->done = 1;
        return;
    }
    if (l->want_rollback) {
        l->want_rollback = 0;
        s_submit(l, XT_WORKER_ROLLBACK);
        return;
    }
    // The final checkpoint competes for best like train --local's: validate
    // the final weights first unless that already happened.
    int finishing = l->want_final || (l->want_save && l->budget > 0 && l->env_steps >= (int64_t)l->budget);
    if (finishing && l->cfg->ppo_eval_every > 0 && l->val_updates != l->updates) l->want_validate = 1;
    if (l->want_validate) {
        l->want_validate = 0;
        s_submit(l, XT_WORKER_VALIDATE);
        return;
    }
    if ((l->want_final || l->want_save) && l->params_bad) {
        // Only a rollback (queued above unless stopping) makes them finite again.
        xt_warn("fold %d: params are not finite: checkpoint skipped", l->fold);
        l->want_final = l->want_save = 0;
    }
    if (l->want_final || l->want_save) {
        // A checkpoint at or past the budget is the fold's final one (the
        // broker evaluates any CheckpointDone whose step reaches the budget).
        l->job.final = l->want_final || (l->budget > 0 && l->env_steps >= (int64_t)l->budget);
        l->want_final = l->want_save = 0;
        l->final_busy = l->job.final;
        s_submit(l, XT_WORKER_SAVE);
        return;
    }
    if (l->stopping) {
        l->done = 1;
        return;
    }
    if (!s_training(l) || l->env_steps >= (int64_t)l->budget || !l->ing) return;
    const xt_batch *b;
    const xt_batcher *bat;
    int id = xt_ingest_take(l->ing, &b, &bat);
    if (id < 0) return;
    // run.deterministic: the batch's layout (GAE, minibatches, sums) must
    // not depend on the order the network delivered the chunks in.
    if (l->cfg->run_deterministic) xt_ingest_canonical(l->ing, id);
    // Lag of every chunk against the version it is trained into.
    for (int c = 0; c < b->C; c++) {
        uint64_t v = xt_batcher_version(bat, c);
        xt_prom_histogram_observe(l->st.policy_lag, (double)(l->published - v));
    }
    l->batch_id = id;
    l->job.batch = b;
    s_submit(l, XT_WORKER_UPDATE);
    s_pull_reader(l); // the taken batch may have freed room (a drop)
}

static void s_on_fold(xt_learner *l, xt_worker_job *j) {
    l->loading = 0;
    xt_err err = {0};
    if (j->rc) {
        xt_err_prefix(&j->err, "fold %d", j->fold);
        s_fatal(l, &j->err);
        return;
    }
    l->fold = j->fold;
    l->n_params = j->n_params;
    l->chunks_per_env = j->chunks_per_env;
    l->batch_chunks = (int)l->cfg->ppo_n_envs * j->chunks_per_env;
    l->env_steps = j->env_steps, l->updates = j->updates, l->params = j->params;
    l->ckpt_updates = j->updates, l->ckpt_time = s_now();
    l->val_updates = -1, l->nonfinite_streak = 0, l->final_valid = 0, l->final_sent = 0;
    l->rate_steps = j->env_steps, l->rate_time = s_now();
    if (s_ingest_for(l, &j->spec, &err)) {
        s_fatal(l, &err);
        return;
    }
    const char *how = j->start == XT_WORKER_RESUMED ? "resumed from"
                      : j->start == XT_WORKER_WARM  ? "warm start from"
                                                     : "fresh";
    xt_info("fold %d: %s%s%s (env step %lld, version %lld); %llu params, %d chunks of %d steps per batch, %.1f s",
            l->fold, how, j->from[0] ? " " : "", j->from, (long long)l->env_steps, (long long)l->updates,
            (unsigned long long)l->n_params, l->batch_chunks, (int)l->cfg->ppo_chunk_len, j->seconds);
    s_publish(l);
    if (l->cmd_fold != l->fold) {
        l->want_fold = l->cmd_fold; // the command moved on while loading
    } else if (l->cmd_phase == XT_WIRE_PHASE_CHECKPOINT || (l->budget > 0 && l->env_steps >= (int64_t)l->budget)) {
        // The broker waits for the final checkpoint, or the resumed one
        // already reached the budget (CP §6.1: send it again).
        l->want_final = 1;
    } else if (l->cmd_phase == XT_WIRE_PHASE_TRAIN && !l->stopping) {
        xt_ingest_open(l->ing, (uint32_t)l->fold, l->published);
    }
}

static void s_on_update(xt_learner *l, xt_worker_job *j) {
    const int chunks = j->batch->C; // before the release empties the buffer
    xt_ingest_release(l->ing, l->batch_id);
    l->batch_id = -1;
    const xt_ppo_report *r = &j->rep;
    xt_prom_counter_add(l->st.stage[XT_LSTATS_LEARN], j->seconds);
    if (j->rc) {
        // The batch passed every check, so this is a backend failure: the
        // update counts as a non-finite one (rollback after several).
        xt_error("fold %d: update failed: %s", l->fold, j->err.msg);
        l->nonfinite_streak++;
    } else {
        l->env_steps = j->env_steps, l->updates = j->updates, l->params = j->params;
        xt_prom_counter_inc(l->st.updates);
        xt_prom_histogram_observe(l->st.update_duration, j->seconds);
        xt_prom_counter_add_u64(l->st.samples, (uint64_t)r->sample_epochs);
        xt_prom_counter_add_u64(l->st.skipped, (uint64_t)r->skipped);
        xt_prom_gauge_set(l->st.loss[XT_LSTATS_POLICY], r->policy_loss);
        xt_prom_gauge_set(l->st.loss[XT_LSTATS_VALUE], r->value_loss);
        xt_prom_gauge_set(l->st.loss[XT_LSTATS_ENTROPY], -r->entropy); // SB3's entropy_loss
        xt_prom_gauge_set(l->st.loss[XT_LSTATS_TOTAL], r->loss);
        xt_prom_gauge_set(l->st.entropy, r->entropy);
        xt_prom_gauge_set(l->st.approx_kl, r->approx_kl);
        xt_prom_gauge_set(l->st.clip_fraction, r->clip_fraction);
        xt_prom_gauge_set(l->st.explained_variance, r->explained_variance);
        xt_prom_gauge_set(l->st.grad_norm, r->grad_norm);
        xt_prom_gauge_set(l->st.learning_rate, r->lr);
        xt_prom_gauge_set(l->st.entropy_coef, r->ent_coef);
        xt_info("fold %d | step %lld/%llu | update %lld | policy %.4f value %.4f entropy %.4f kl %.5f clip %.3f "
                "ev %.3f%s%s | %d chunks %.2fs",
                l->fold, (long long)l->env_steps, (unsigned long long)l->budget, (long long)l->updates, r->policy_loss,
                r->value_loss, r->entropy, r->approx_kl, r->clip_fraction, r->explained_variance,
                r->kl_stop ? " kl-stop" : "", r->skipped ? " (non-finite skips)" : "", chunks, j->seconds);
        int bad = r->skipped > 0 || !j->params_finite;
        l->nonfinite_streak = bad ? l->nonfinite_streak + 1 : 0;
        if (!j->params_finite) {
            // Never published; roll back at once rather than train on.
            xt_error("fold %d: update %lld left non-finite params: not published, rolling back", l->fold,
                     (long long)l->updates);
            l->want_rollback = 1;
        } else if (r->steps > 0) {
            s_publish(l); // also the ingest's new lag reference
        }
        if (l->cfg->ppo_eval_every > 0 && l->updates % l->cfg->ppo_eval_every == 0) l->want_validate = 1;
        if (l->updates - l->ckpt_updates >= l->cfg->learner_checkpoint_every) l->want_save = 1;
        if (l->env_steps >= (int64_t)l->budget && !l->final_valid) {
            // Done with this fold: its final checkpoint goes out at once;
            // the broker's CHECKPOINT command then finds it written.
            xt_info("fold %d: step budget reached (%lld env steps): final checkpoint", l->fold,
                    (long long)l->env_steps);
            l->want_final = 1;
        }
    }
    if (l->nonfinite_streak >= l->cfg->learner_nonfinite_rollback_after) {
        xt_warn("fold %d: %d non-finite updates in a row: rolling back to the last checkpoint", l->fold,
                l->nonfinite_streak);
        l->want_rollback = 1;
        l->nonfinite_streak = 0;
    }
}

static void s_on_validate(xt_learner *l, xt_worker_job *j) {
    if (j->rc) {
        xt_warn("fold %d: validation failed: %s", l->fold, j->err.msg);
        return;
    }
    l->val_updates = j->updates;
    if (!j->validated) {
        xt_info("fold %d: no shard has a usable validation window (ppo.validation_fraction)", l->fold);
        return;
    }
    xt_info("fold %d | validation Sharpe %.4f (best %.4f)%s%s", l->fold, j->val_sharpe,
            j->have_best ? j->best.val_sharpe : NAN, j->new_best ? " new best -> " : "",
            j->new_best ? j->best_path : "");
}

static void s_on_save(xt_learner *l, xt_worker_job *j) {
    xt_prom_gauge_set(l->st.queue_ckpt, 0);
    if (j->rc) {
        // A checkpoint that cannot be written leaves the fold unprotected:
        // fatal, so an operator sees it (and a restart resumes from the last one).
        xt_err_prefix(&j->err, "fold %d: checkpoint", l->fold);
        s_fatal(l, &j->err);
        return;
    }
    l->ckpt_updates = j->updates, l->ckpt_time = s_now();
    l->final_busy = 0;
    xt_wire_ckpt_done c = {(uint32_t)l->fold, (uint64_t)j->env_steps, (uint64_t)j->updates, j->path, j->path_val};
    if (j->final) {
        // The fold's result is its best checkpoint (what train --local
        // evaluates): the broker evaluates the file it names.
        snprintf(l->final_path, sizeof l->final_path, "%s", j->best_path);
        c = (xt_wire_ckpt_done){(uint32_t)l->fold, (uint64_t)j->env_steps, (uint64_t)j->best.updates, l->final_path,
                                j->best.val_sharpe};
        l->final_msg = c;
        l->final_valid = 1;
        l->final_steps = j->env_steps;
        xt_info("fold %d: final checkpoint %s (step %lld); best %s (version %lld, validation Sharpe %.4f)", l->fold,
                j->path, (long long)j->env_steps, l->final_path, (long long)j->best.updates, j->best.val_sharpe);
    } else {
        xt_info("fold %d: checkpoint %s (step %lld, version %lld)", l->fold, j->path, (long long)j->env_steps,
                (long long)j->updates);
    }
    if (j->final)
        s_send_final(l);
    else
        s_checkpoint_done(l, &c);
}

static void s_on_rollback(xt_learner *l, xt_worker_job *j) {
    if (j->rc) {
        s_fatal(l, &j->err);
        return;
    }
    l->params = j->params;
    // The version stays: the next update publishes version + 1 built on
    // the restored params (a rollback does not republish).
    xt_warn("fold %d: rolled back to the params of %s", l->fold, j->path);
}

static int s_on_worker(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_learner *l = arg;
    xt_worker_job *j = xt_worker_done(l->worker);
    if (!j) return 0;
    if (j->rc == 0 || j->kind == XT_WORKER_UPDATE) l->params_bad = j->params && !j->params_finite;
    switch (j->kind) {
    case XT_WORKER_FOLD: s_on_fold(l, j); break;
    case XT_WORKER_UPDATE: s_on_update(l, j); break;
    case XT_WORKER_VALIDATE: s_on_validate(l, j); break;
    case XT_WORKER_SAVE: s_on_save(l, j); break;
    case XT_WORKER_ROLLBACK: s_on_rollback(l, j); break;
    }
    s_pull_reader(l);
    s_pump(l);
    return l->fatal || l->done ? -1 : 0;
}

// ---------------------------------------------------------------- shutdown

// Finish: no more updates; the running job completes, the fold being
// trained gets a last checkpoint (unless the run is done), then the loop ends.
static void s_begin_stop(xt_learner *l, const char *why, int checkpoint) {
    if (l->stopping) return;
    l->stopping = 1;
    if (l->ing) xt_ingest_close(l->ing);
    l->want_fold = -1;
    l->want_validate = l->want_rollback = 0;
    if (checkpoint && l->fold >= 0 && !l->loading && l->updates > l->ckpt_updates && !l->params_bad) l->want_save = 1;
    xt_info("%s: finishing%s", why, l->want_save ? " with a checkpoint" : "");
}

// ---------------------------------------------------------------- broker

static void s_on_phase(xt_learner *l, const xt_wire_phase_cmd *p) {
    int fold = (int)p->fold;
    xt_wire_phase ph = p->phase;
    if (ph == XT_WIRE_PHASE_DONE) {
        s_begin_stop(l, "run done", 0);
        return;
    }
    if (ph == XT_WIRE_PHASE_STOP) {
        s_begin_stop(l, "broker stop", 1);
        return;
    }
    if (l->stopping) return;
    int changed = fold != l->cmd_fold || ph != l->cmd_phase;
    l->cmd_fold = fold, l->cmd_phase = ph;
    if (ph == XT_WIRE_PHASE_TRAIN || ph == XT_WIRE_PHASE_CHECKPOINT) l->budget = p->step_budget;
    if (changed) xt_info("broker: fold %d %s (budget %llu env steps)", fold, xt_wire_phase_name(ph),
                         (unsigned long long)p->step_budget);
    if (ph == XT_WIRE_PHASE_TRAIN || ph == XT_WIRE_PHASE_CHECKPOINT) {
        if (l->fold != fold && !(l->loading && l->job.fold == fold)) l->want_fold = fold;
    }
    if (ph == XT_WIRE_PHASE_TRAIN) {
        // CP §6.1: a TRAIN for a fold whose final checkpoint exists gets
        // that CheckpointDone again (a broker that restarted before
        // journaling it, or a lost message); heartbeats report the fold's
        // steps again until the next final CheckpointDone.
        l->final_sent = 0;
        if (l->fold == fold && !l->loading && l->final_valid) s_send_final(l);
        if (l->fold == fold && !l->loading && l->ing && !xt_ingest_is_open(l->ing)) {
            xt_ingest_open(l->ing, (uint32_t)fold, l->published);
        }
    } else if (l->ing && xt_ingest_is_open(l->ing)) {
        xt_ingest_close(l->ing);
    }
    if (ph == XT_WIRE_PHASE_CHECKPOINT && l->fold == fold && !l->loading) {
        // A repeated command: answer again with the checkpoint already written.
        if (l->final_valid && l->final_steps == l->env_steps)
            s_send_final(l);
        else if (!l->final_busy)
            l->want_final = 1;
    }
}

static void s_on_status(xt_learner *l, const xt_wire_status *s) {
    int n = 0;
    for (uint32_t i = 0; i < s->n_workers && n < S_ROSTER_MAX; i++) {
        const xt_wire_worker *w = &s->workers[i];
        if (w->role != XT_WIRE_ROLE_ACTOR) continue;
        s_actor *a = &l->roster[n];
        snprintf(a->id, sizeof a->id, "%s", w->id);
        a->incarnation = w->incarnation;
        a->envs = w->envs;
        // The broker clamps an actor's envs to 4096 in its layout, and so its share.
        l->rows[n] = (xt_wire_worker){.role = XT_WIRE_ROLE_ACTOR, .id = a->id, .incarnation = a->incarnation,
                                      .envs = a->envs > 4096 ? 4096 : a->envs};
        n++;
    }
    l->n_roster = n;
    s_apply_roster(l);
}

static void s_dispatch(xt_learner *l, const xt_wire_msg *m) {
    // CP §3, §4.3: the first running Heartbeat after a Register is the
    // welcome (record the broker's incarnation); a frame from another
    // incarnation means the broker restarted: register again at once.
    if (l->welcomed && m->hdr.incarnation != l->broker_inc) {
        xt_info("broker restarted (incarnation %llu -> %llu): registering again", (unsigned long long)l->broker_inc,
                (unsigned long long)m->hdr.incarnation);
        l->welcomed = 0;
        s_register(l);
    }
    switch (m->type) {
    case XT_WIRE_HEARTBEAT:
        if (m->hb.state == XT_WIRE_STATE_RUNNING && !l->welcomed) {
            l->welcomed = 1;
            l->broker_inc = m->hdr.incarnation;
            if (l->broker_lost) {
                xt_info("broker %s is back", l->broker);
                xt_prom_counter_inc(l->st.reconnect_broker);
                l->broker_lost = 0;
            }
            xt_info("registered with broker %s", l->broker);
        } else if (m->hb.state == XT_WIRE_STATE_IDLE && s_now() - l->register_sent >= l->heartbeat_s) {
            // No session for us there (dropped for silence, or a second
            // learner of the run waiting its turn): register again.
            l->welcomed = 0;
            s_register(l);
        }
        break;
    case XT_WIRE_PHASE_COMMAND: s_on_phase(l, &m->phase_cmd); break;
    case XT_WIRE_STATUS: s_on_status(l, &m->status); break;
    default: xt_debug("broker: %s ignored", xt_wire_type_name(m->type));
    }
}

static int s_on_dealer(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_learner *l = arg;
    for (int k = 0; k < S_DRAIN_MAX && !l->fatal; k++) {
        xt_wire_rx rx;
        xt_err err = {0};
        int rc = xt_wire_recv(sock, &rx, ZMQ_DONTWAIT, &err);
        if (rc == 1) break;
        if (rc == XT_EPROTO) {
            xt_prom_counter_inc(l->st.decode_control);
            continue;
        }
        if (rc < 0) {
            xt_warn("broker socket: %s", err.msg);
            break;
        }
        xt_wire_msg m;
        if (xt_wire_decode(l->dec, rx.data, rx.len, "broker", &m, &err) == 0) {
            l->broker_seen = s_now();
            s_dispatch(l, &m);
        } else {
            xt_prom_counter_inc(l->st.decode_control);
        }
        xt_wire_rx_close(&rx);
    }
    s_pump(l);
    return l->fatal || l->done ? -1 : 0;
}

// ---------------------------------------------------------------- chunks

static int s_on_pull(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_learner *l = arg;
    xt_err err = {0};
    if (xt_ingest_drain(l->ing, sock, S_DRAIN_MAX, &err) < 0) xt_warn("chunk socket: %s", err.msg);
    s_pull_reader(l);
    s_pump(l);
    return l->fatal || l->done ? -1 : 0;
}

static void s_pull_reader(xt_learner *l) {
    if (!l->ing || !l->loop) return;
    int want = xt_ingest_has_room(l->ing) && !l->stopping;
    if (want && !l->pull_reading) {
        if (zloop_reader(l->loop, l->pull, s_on_pull, l) == 0) l->pull_reading = 1;
    } else if (!want && l->pull_reading) {
        // Full: frames wait in ZeroMQ's queue (high-water mark), then in the
        // actors' send calls, until an update frees a buffer.
        zloop_reader_end(l->loop, l->pull);
        l->pull_reading = 0;
    }
}

// ---------------------------------------------------------------- timer

// A new DEALER to the broker in place of the old one (whose queued frames
// are dropped with it).
static int s_reconnect(xt_learner *l) {
    xt_err err = {0};
    zsock_t *d = xt_wire_connect(ZMQ_DEALER, l->broker, &l->client, &err);
    if (!d) {
        xt_warn("%s", err.msg);
        return err.code;
    }
    zloop_reader_end(l->loop, l->dealer);
    zsock_destroy(&l->dealer);
    l->dealer = d;
    if (zloop_reader(l->loop, l->dealer, s_on_dealer, l) != 0) {
        xt_err_set(&err, XT_EIO, "learner: cannot register the new broker socket with the event loop");
        return s_fatal(l, &err);
    }
    return 0;
}

static void s_sample(xt_learner *l) {
    double now = s_now();
    if (l->ing) {
        xt_learner_stats_ingest(&l->st, xt_ingest_stats_of(l->ing), &l->ing_prev);
        xt_prom_gauge_set(l->st.queue_chunks, xt_ingest_buffered(l->ing));
        xt_prom_gauge_set(l->st.queue_batch, xt_ingest_ready(l->ing));
    }
    uint64_t ns = atomic_load(&xt_publish_stats_of(l->pub)->nanos);
    xt_prom_counter_add(l->st.stage[XT_LSTATS_PUBLISH], (double)(ns - l->pub_nanos_prev) * 1e-9);
    l->pub_nanos_prev = ns;
    xt_prom_gauge_set(l->st.checkpoint_age, l->fold >= 0 ? now - l->ckpt_time : 0);
    // Trained env steps per second over the last tick, smoothed.
    if (l->fold >= 0 && now > l->rate_time) {
        double r = (double)(l->env_steps - l->rate_steps) / (now - l->rate_time);
        l->steps_per_s = l->steps_per_s > 0 ? 0.7 * l->steps_per_s + 0.3 * r : r;
    }
    l->rate_steps = l->env_steps, l->rate_time = now;
}

static int s_tick(xt_learner *l) {
    double now = s_now();
    xt_learner_stats_tick(&l->st);
    if (l->o.stop && *l->o.stop) s_begin_stop(l, "signal", 1);
    // CP §4.3: a broker silent for liveness_ms (or no welcome in that time)
    // -> a new DEALER and Register, every actor.reconnect_ms until welcomed.
    // Training goes on meanwhile: chunks and weights bypass the broker.
    double retry = l->welcomed ? l->liveness_s : (double)l->cfg->actor_reconnect_ms / 1000.0;
    if (now - l->broker_seen > l->liveness_s && now - l->register_sent >= retry) {
        if (!l->broker_lost)
            xt_warn("broker %s silent for %.1f s: reconnecting", l->broker, now - l->broker_seen);
        l->broker_lost = 1;
        l->welcomed = 0;
        if (s_reconnect(l) == 0) s_register(l);
    } else if (!l->welcomed && now - l->register_sent >= l->liveness_s) {
        s_register(l);
    }
    s_heartbeat(l);
    s_sample(l);
    s_pull_reader(l);
    s_pump(l);
    return l->fatal || l->done ? -1 : 0;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg) { return s_tick(arg); }

// ---------------------------------------------------------------- setup

static int s_security(xt_learner *l, xt_wire_sockopt *server, xt_wire_sockopt *client, xt_err *err) {
    const xt_config *c = l->cfg;
    if (!c->security_curve) return 0;
    // Server side for PULL and PUB (zauth admits the client keys in
    // keys_dir/allowed), client side for the DEALER (pins the broker's key).
    char path[XT_CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/learner.key", c->security_keys_dir);
    if (!(l->cert = xt_wire_curve_cert_load(path, err))) return err->code;
    snprintf(path, sizeof path, "%s/allowed", c->security_keys_dir);
    if (!(l->auth = xt_wire_curve_auth_new(path, err))) return err->code;
    snprintf(path, sizeof path, "%s/broker.key", c->security_keys_dir);
    zcert_t *bk = zcert_load(path);
    if (!bk) return xt_err_set(err, XT_EIO, "%s: cannot read the broker's public key", path);
    snprintf(l->broker_key, sizeof l->broker_key, "%s", zcert_public_txt(bk));
    zcert_destroy(&bk);
    server->curve_cert = client->curve_cert = l->cert;
    client->curve_server_key = l->broker_key;
    return 0;
}

// learner.backend: the trainer opens it (rl/trainer.c -> xt_backend_open:
// auto picks CUDA when a device is usable). Fail early, before binding
// sockets, when cuda is forced on a machine that cannot run it.
static int s_backend(const xt_config *c, xt_err *err) {
    char why[256], where[384];
    if (c->learner_backend == xt_config_enum_index(XT_CFGK_learner_backend, "cuda") &&
        xt_cuda_probe(why, sizeof why) != 0)
        return xt_err_set(err, XT_EDEVICE, "%s: cuda: %s; use cpu or auto",
                          xt_config_where(c, XT_CFGK_learner_backend, where, sizeof where), why);
    return 0;
}

static void s_host(xt_learner *l) {
    const char *adv = l->cfg->learner_advertise_host;
    if (adv[0]) {
        snprintf(l->host, sizeof l->host, "%s", adv);
    } else if (gethostname(l->host, sizeof l->host) != 0 || !xt_wire_id_valid(l->host)) {
        snprintf(l->host, sizeof l->host, "127.0.0.1");
    }
    l->host[sizeof l->host - 1] = '\0';
}

xt_learner *xt_learner_new(const xt_learner_opts *o, xt_err *err) {
    const xt_config *c = o->cfg;
    if (c->broker_liveness_ms <= c->broker_heartbeat_ms) {
        xt_err_set(err, XT_EINVAL, "broker.liveness_ms: must exceed broker.heartbeat_ms (%lld <= %lld)",
                   (long long)c->broker_liveness_ms, (long long)c->broker_heartbeat_ms);
        return NULL;
    }
    if (s_backend(c, err)) return NULL;
    if (!xt_wire_id_valid(o->id)) {
        xt_err_set(err, XT_EINVAL, "learner id \"%s\": 1-255 printable characters without spaces", o->id);
        return NULL;
    }
    xt_learner *l = calloc(1, sizeof *l);
    if (!l) {
        xt_err_set(err, XT_ENOMEM, "learner: out of memory");
        return NULL;
    }
    l->o = *o;
    l->cfg = c;
    snprintf(l->id, sizeof l->id, "%s", o->id);
    snprintf(l->broker, sizeof l->broker, "%s", o->broker);
    snprintf(l->run_dir, sizeof l->run_dir, "%s", o->run_dir);
    l->incarnation = (uint64_t)(xt_time_wall() * 1e6); // microseconds: fresh per start
    l->heartbeat_s = (double)c->broker_heartbeat_ms / 1000.0;
    l->liveness_s = (double)c->broker_liveness_ms / 1000.0;
    l->cmd_fold = l->fold = l->want_fold = l->batch_id = -1;
    l->n_roster = -1;
    l->sync = c->learner_mode == xt_config_enum_index(XT_CFGK_learner_mode, "sync");
    l->broker_seen = s_now();
    l->register_sent = -1e9;
    s_host(l);
    l->roster = calloc(S_ROSTER_MAX, sizeof *l->roster);
    l->rows = calloc(S_ROSTER_MAX, sizeof *l->rows);
    if (!l->roster || !l->rows) {
        xt_err_set(err, XT_ENOMEM, "learner: out of memory");
        goto fail;
    }
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = S_CTRL_FRAME_MAX;
    lim.max_workers = S_ROSTER_MAX + 1;
    if (!(l->dec = xt_wire_decoder_new(&lim, err)) || !(l->enc = xt_wire_encoder_new(&lim, err))) goto fail;
    if (xt_learner_stats_init(&l->st, 3 * c->broker_heartbeat_ms > 2000 ? 3 * c->broker_heartbeat_ms : 2000, err))
        goto fail;
    xt_wire_sockopt server, client;
    xt_wire_sockopt_default(&server);
    xt_wire_sockopt_default(&client);
    if (s_security(l, &server, &client, err)) goto fail;
    // PULL: a finite receive HWM per actor connection, and ZeroMQ's own
    // size limit above the decoder's (which rejects and counts anything
    // larger than a chunk of the model) so huge frames never get buffered.
    xt_wire_sockopt po = server;
    po.hwm = S_PULL_HWM;
    po.max_msg_bytes = S_CHUNK_ZMQ_MAX;
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://*:%lld", (long long)c->learner_port_chunks);
    if (!(l->pull = xt_wire_bind(ZMQ_PULL, ep, &po, &l->chunk_port, err))) goto fail;
    snprintf(ep, sizeof ep, "tcp://*:%lld", (long long)c->learner_port_weights);
    // CP §6.2: the newest weights are re-sent every heartbeat period, so
    // actors that join late (PUB drops what was sent before they joined) get them.
    xt_publish_config pc = {ep, &server, c->run_id, l->id, l->incarnation, (int)c->broker_heartbeat_ms};
    if (!(l->pub = xt_publish_new(&pc, err))) goto fail;
    snprintf(l->chunk_ep, sizeof l->chunk_ep, "tcp://%s:%d", l->host, l->chunk_port);
    snprintf(l->weights_ep, sizeof l->weights_ep, "tcp://%s:%d", l->host, xt_publish_port(l->pub));
    if (!(l->worker = xt_worker_new(c, l->run_dir, err))) goto fail;
    if (xt_learner_stats_serve(&l->st, o->metrics_addr ? o->metrics_addr : "0.0.0.0", (int)c->learner_http_port, err))
        goto fail;
    // DEALER to the broker: the routing id is our sender id; a short linger
    // lets the last CheckpointDone reach the broker on exit.
    client.routing_id = l->id;
    client.linger_ms = 1000;
    client.max_msg_bytes = S_CTRL_ZMQ_MAX;
    l->client = client;
    if (!(l->dealer = xt_wire_connect(ZMQ_DEALER, l->broker, &l->client, err))) goto fail;
    return l;
fail:
    xt_learner_destroy(&l);
    return NULL;
}

int xt_learner_run(xt_learner *l, xt_err *err) {
    l->loop = zloop_new();
    if (!l->loop) return xt_err_set(err, XT_ENOMEM, "learner: cannot create the event loop");
    if (zloop_reader(l->loop, l->dealer, s_on_dealer, l) != 0 ||
        zloop_reader(l->loop, xt_worker_sock(l->worker), s_on_worker, l) != 0 ||
        zloop_timer(l->loop, (size_t)l->cfg->broker_heartbeat_ms, 0, s_on_timer, l) < 0)
        return xt_err_set(err, XT_EIO, "learner: cannot register its sockets and timer with the event loop");
    if (l->cfg->run_deterministic)
        xt_info("run.deterministic: batches in canonical chunk order (version, shard, env), minibatch order "
                "from the checkpointed RNG%s",
                l->sync ? "" : "; async mode: which chunks make a batch still depends on timing");
    s_register(l);
    while (!l->done && !l->fatal) {
        // zloop_start returns -1 when a handler ends the loop and 0 when a
        // signal interrupted its poll: then tick at once so a stop request
        // is served without waiting for the timer.
        if (zloop_start(l->loop) == 0 && !l->done && !l->fatal) s_tick(l);
    }
    if (l->fatal) {
        // Let a running job finish so the trainer is not torn down under it.
        xt_worker_wait(l->worker);
        *err = l->fatal_err;
        return err->code ? err->code : XT_EIO;
    }
    s_heartbeat(l); // STOPPING: the broker knows we left on purpose
    return 0;
}

const char *xt_learner_chunk_endpoint(const xt_learner *l) { return l->chunk_ep; }
const char *xt_learner_weights_endpoint(const xt_learner *l) { return l->weights_ep; }
const char *xt_learner_metrics_url(const xt_learner *l) { return xt_metrics_http_url(l->st.http); }

void xt_learner_destroy(xt_learner **self_p) {
    if (!self_p || !*self_p) return;
    xt_learner *l = *self_p;
    xt_worker_destroy(&l->worker); // waits for a running job first
    zloop_destroy(&l->loop);
    xt_publish_destroy(&l->pub);
    zsock_destroy(&l->pull);
    zsock_destroy(&l->dealer);
    xt_wire_curve_auth_destroy(&l->auth);
    zcert_destroy(&l->cert);
    xt_ingest_destroy(&l->ing);
    xt_learner_stats_destroy(&l->st);
    xt_wire_decoder_destroy(&l->dec);
    xt_wire_encoder_destroy(&l->enc);
    free(l->roster);
    free(l->rows);
    free(l);
    *self_p = NULL;
}
