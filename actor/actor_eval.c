// actor_eval.c - the actor's side of EVAL (CP §6.3): the list of shards the
// broker asked for, the weights of the requested version, the worker
// (evalrun.h) and the EvalResult messages.
//
// Purpose: answer every EvalRequest with one EvalResult per listed shard,
// computed with the requested weights version, without stalling the loop
// (the walks run on the worker thread; heartbeats go on, state evaluating).
// Invariants: a shard's state moves queued -> running -> done (or dropped
// when a later request no longer lists it, queued again if it does); a done
// shard's result is kept and sent again when it is asked for again (the
// broker lost it); the fold's caches stay mapped while the worker runs
// (a replaced fold's mapping is released only after a cancelled worker has
// said DONE).
// Ownership: the request list and the params copy live in xt_actor; the
// worker owns its own copy. Threads: the loop thread, which never joins a
// busy worker: cancelling only raises the worker's flag (see
// xt_actor_eval_stop_worker); the join follows the worker's DONE.
#include "actor_int.h"

#include "core/fileio.h"
#include "core/log.h"
#include "core/xtime.h"
#include "nn/ckpt.h"
#include "rl/rollout.h"
#include "rl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double s_now(void) { return xt_time_mono(); }

static int s_on_eval(zloop_t *loop, zsock_t *sock, void *arg);

// Asks the worker to stop and returns at once: the loop thread never waits
// for a walk (seconds for a long window) while the broker expects
// heartbeats. The worker finishes the shard in progress, says DONE, and
// s_on_eval destroys it then (an immediate join) and releases a replaced
// fold's mapping it still read (xt_actor_eval_gone).
void xt_actor_eval_stop_worker(xt_actor *a) {
    if (!a->ev) return;
    if (!xt_evalrun_cancelled(a->ev)) xt_evalrun_cancel(a->ev);
    for (int i = 0; i < a->ev_n; i++)
        if (a->ev_sh[i].state == XT_ACTOR_EV_RUNNING) a->ev_sh[i].state = XT_ACTOR_EV_QUEUED;
}

// Blocking join (exit only, after the loop has stopped).
void xt_actor_eval_join(xt_actor *a) {
    if (!a->ev) return;
    if (a->loop) zloop_reader_end(a->loop, xt_evalrun_sock(a->ev));
    xt_evalrun_destroy(&a->ev);
}

// The worker said DONE: it only waits for its $TERM, so this join is at once.
static void s_worker_gone(xt_actor *a) {
    double t0 = s_now();
    xt_actor_eval_join(a);
    a->ev_shards = NULL;
    xt_actor_busy(a, "eval worker join", t0);
    for (int i = 0; i < a->ev_n; i++)
        if (a->ev_sh[i].state == XT_ACTOR_EV_RUNNING) a->ev_sh[i].state = XT_ACTOR_EV_QUEUED;
    xt_actor_eval_gone(a);
}

void xt_actor_eval_cancel(xt_actor *a, const char *why) {
    if (a->ev && !xt_evalrun_cancelled(a->ev)) xt_info("fold %u: evaluation cancelled: %s", a->ev_fold, why);
    xt_actor_eval_stop_worker(a);
    a->ev_active = 0, a->ev_n = 0;
}

static void s_eval_send(xt_actor *a, const xt_actor_evshard *e) {
    xt_wire_msg m = {.type = XT_WIRE_EVAL_RESULT};
    m.eval_res.fold = a->ev_fold;
    m.eval_res.shard = (xt_wire_shard_key){e->w.portfolio ? NULL : e->w.name, e->w.portfolio ? e->w.name : NULL,
                                           e->w.tf_sec, a->ev_fold};
    memcpy(m.eval_res.metrics, e->metrics, sizeof m.eval_res.metrics);
    m.eval_res.csv_path = e->csv_path;
    xt_actor_send_ctl(a, &m);
}

// Params of the requested version: the newest weights or the installed ones
// when their version matches, else the checkpoint file when this host can
// read it. 1 found, 0 not (yet).
static int s_eval_params(xt_actor *a, float *out) {
    if (a->w_have && a->w_fold == a->ev_fold && a->w_version == a->ev_version) {
        memcpy(out, a->w_new, a->n_params * sizeof(float));
        return 1;
    }
    if (a->runner && xt_runner_has_params(a->runner) && a->fold == a->ev_fold &&
        xt_runner_version(a->runner) == a->ev_version) {
        memcpy(out, xt_runner_params(a->runner), a->n_params * sizeof(float));
        return 1;
    }
    if (!xt_file_exists(a->ev_ckpt)) return 0;
    xt_ckpt *ck = NULL;
    xt_err err = {0};
    int rc = xt_ckpt_open(&ck, a->ev_ckpt, &err);
    if (!rc) {
        const void *p = NULL;
        xt_ckpt_section sec;
        xt_model_layout lay;
        if (xt_ckpt_find(ck, "params", &sec) == 0)
            rc = xt_ckpt_get(ck, "params", XT_CKPT_DTYPE_F32, a->n_params, &p, &err);
        else if (!(rc = xt_model_layout_init(&lay, &a->spec, &err)))
            rc = xt_model_ckpt_read(ck, &lay, out, "params.", &err);
        if (!rc && p) memcpy(out, p, a->n_params * sizeof(float));
        xt_ckpt_destroy(&ck);
    }
    if (rc) {
        if (xt_actor_first(a, "ckpt", a->ev_ckpt)) xt_warn("evaluation: %s", err.msg);
        return 0;
    }
    xt_info("fold %u: evaluating checkpoint %s", a->ev_fold, a->ev_ckpt);
    return 1;
}

// Starts the worker on the queued shards when the weights are at hand. After
// waiting 3 liveness periods for the requested version, the newest weights of
// the fold are used instead (logged), so a lost version cannot stall the run.
// The model's size and the params buffer, from the fold's shards when this
// actor has not trained (an evaluation is its first work).
static int s_eval_model(xt_actor *a) {
    xt_err err = {0};
    if (a->n_params == 0) {
        int D = 0, A = 0;
        xt_model_layout lay;
        if (xt_rollout_dims(a->kind, &a->envp, xt_shards_list(a->shards), xt_shards_count(a->shards), &D, &A,
                            &err) ||
            xt_rl_model_spec(&a->spec, a->cfg, D, A, &err) || xt_model_layout_init(&lay, &a->spec, &err) ||
            xt_actor_weights_decoder(a, lay.n_params, &err)) {
            xt_error("fold %u: evaluation: %s", a->ev_fold, err.msg);
            return -1;
        }
    }
    if (a->ev_params && a->ev_params_n == a->n_params) return 0;
    float *p = realloc(a->ev_params, a->n_params * sizeof(float));
    if (!p) {
        xt_error("fold %u: evaluation: out of memory", a->ev_fold);
        return -1;
    }
    a->ev_params = p, a->ev_params_n = a->n_params;
    return 0;
}

void xt_actor_eval_pump(xt_actor *a) {
    if (!a->ev_active || a->ev || a->done) return;
    if (!a->shards || a->shards_fold != (int)a->ev_fold) return; // the worker is mapping the fold
    if (s_eval_model(a)) {
        a->ev_active = 0; // not this host's to fix: the broker asks again
        return;
    }
    int queued = 0;
    for (int i = 0; i < a->ev_n; i++) queued += a->ev_sh[i].state == XT_ACTOR_EV_QUEUED;
    if (!queued) {
        a->ev_active = 0;
        return;
    }
    if (!a->ev_params || !s_eval_params(a, a->ev_params)) {
        if (s_now() - a->ev_wait_since < 3 * a->live_s || !a->ev_params) return;
        if (a->w_have && a->w_fold == a->ev_fold) {
            xt_warn("fold %u: weights v%llu never arrived; evaluating v%llu, the newest of the fold", a->ev_fold,
                    (unsigned long long)a->ev_version, (unsigned long long)a->w_version);
            memcpy(a->ev_params, a->w_new, a->n_params * sizeof(float));
        } else {
            // Nothing to evaluate with: no weights of the fold came (this
            // actor got no Assignment, so it knows no learner) and the
            // checkpoint is not readable here. Say so once; keep waiting.
            char key[64];
            snprintf(key, sizeof key, "%u/%llu", a->ev_fold, (unsigned long long)a->ev_version);
            if (xt_actor_first(a, "eval-no-weights", key))
                xt_error("fold %u: cannot evaluate: weights v%llu never arrived and %s is not readable on this host "
                         "(mount the run directory, or let the actor train the fold first)",
                         a->ev_fold, (unsigned long long)a->ev_version, a->ev_ckpt);
            return;
        }
    }
    int n = 0;
    for (int i = 0; i < a->ev_n && n < XT_RL_MAX_SHARDS; i++) {
        if (a->ev_sh[i].state != XT_ACTOR_EV_QUEUED) continue;
        int k = xt_actor_find_shard(a, &a->ev_sh[i].w);
        if (k < 0) continue;
        xt_rl_shard *s = &a->ev_rl[n];
        *s = xt_shards_list(a->shards)[k];
        s->row[XT_RL_TEST][0] = xt_actor_lower(s->m, a->ev_sh[i].w.ts_begin);
        s->row[XT_RL_TEST][1] = xt_actor_lower(s->m, a->ev_sh[i].w.ts_end);
        a->ev_run_idx[n++] = i;
        a->ev_sh[i].state = XT_ACTOR_EV_RUNNING;
    }
    if (n == 0) return;
    char dir[XT_WIRE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s/fold-%u/eval", a->cfg->run_dir, a->cfg->run_id, a->ev_fold);
    xt_evalrun_job job = {a->kind, a->ev_fold, a->ev_rl, n, &a->envp, &a->spec, a->ev_params, a->ev_version, dir};
    xt_err err = {0};
    a->ev = xt_evalrun_start(&job, &err);
    a->ev_shards = a->shards;
    if (!a->ev || zloop_reader(a->loop, xt_evalrun_sock(a->ev), s_on_eval, a) != 0) {
        xt_error("fold %u: evaluation: %s", a->ev_fold, err.msg[0] ? err.msg : "cannot watch the worker");
        xt_actor_eval_join(a); // unwatched: nothing would reap it later (rare; the walk stops within a step)
        a->ev_shards = NULL;
        xt_actor_eval_cancel(a, "the worker did not start");
        return;
    }
    xt_info("fold %u: evaluating %d shard%s with weights v%llu", a->ev_fold, n, n == 1 ? "" : "s",
            (unsigned long long)a->ev_version);
}

void xt_actor_eval_request(xt_actor *a, const xt_wire_eval_req *r) {
    a->phase = XT_WIRE_PHASE_EVAL;
    if (a->ev_active && (a->ev_fold != r->fold || a->ev_version != r->checkpoint_version))
        xt_actor_eval_cancel(a, "a request for another fold or version arrived");
    if (!a->ev_active) {
        a->ev_active = 1, a->ev_n = 0, a->ev_fold = r->fold, a->ev_version = r->checkpoint_version;
        a->ev_wait_since = s_now();
    }
    snprintf(a->ev_ckpt, sizeof a->ev_ckpt, "%s", r->checkpoint_path);
    // The fold's caches: open, or being mapped (the pump waits for them).
    xt_actor_open_fold(a, r->fold);
    // The request replaces the list (CP §6.3): queued shards it does not
    // name are dropped; one already running finishes (its result is harmless).
    for (int i = 0; i < a->ev_n; i++) {
        if (a->ev_sh[i].state != XT_ACTOR_EV_QUEUED) continue;
        int listed = 0;
        for (uint32_t k = 0; k < r->n_shards && !listed; k++) {
            xt_actor_wshard w;
            xt_actor_wshard_of(&w, &r->shards[k]);
            listed = xt_actor_wshard_eq(&a->ev_sh[i].w, &w);
        }
        if (!listed) a->ev_sh[i].state = XT_ACTOR_EV_DROPPED;
    }
    for (uint32_t k = 0; k < r->n_shards; k++) {
        xt_actor_wshard w;
        xt_actor_wshard_of(&w, &r->shards[k]);
        int i = 0;
        while (i < a->ev_n && !xt_actor_wshard_eq(&a->ev_sh[i].w, &w)) i++;
        if (i < a->ev_n) {
            // Asked again: a result the broker may have lost goes out again;
            // a shard in progress is not restarted; a dropped one is queued.
            if (a->ev_sh[i].state == XT_ACTOR_EV_DONE) s_eval_send(a, &a->ev_sh[i]);
            if (a->ev_sh[i].state == XT_ACTOR_EV_DROPPED) a->ev_sh[i].state = XT_ACTOR_EV_QUEUED;
            continue;
        }
        if (a->ev_n == XT_RL_MAX_SHARDS) break;
        a->ev_sh[a->ev_n] = (xt_actor_evshard){.w = w, .state = XT_ACTOR_EV_QUEUED};
        a->ev_n++;
    }
    xt_actor_eval_pump(a);
}

static int s_on_eval(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_actor *a = arg;
    double t0 = s_now();
    int i, rc;
    while (a->ev && (rc = xt_evalrun_recv(a->ev, &i)) >= 0) {
        if (rc == 0) {
            s_worker_gone(a); // releases a retired fold mapping, pumps queued shards
            break;
        }
        // A cancelled worker's results belong to a list that is gone (or
        // went back to the queue): not sent.
        if (xt_evalrun_cancelled(a->ev)) continue;
        const xt_evalrun_result *res = xt_evalrun_result_of(a->ev, i);
        xt_actor_evshard *e = &a->ev_sh[a->ev_run_idx[i]];
        e->state = XT_ACTOR_EV_DONE;
        if (res->rc == 0) {
            memcpy(e->metrics, res->metrics, sizeof e->metrics);
            snprintf(e->csv_path, sizeof e->csv_path, "%s", res->csv_path);
            char tf[16];
            xt_info("fold %u: %s-%s evaluated in %.2f s (%lld steps): return %.4f, Sharpe %.3f, buy & hold %.4f",
                    a->ev_fold, e->w.name, xt_timeframe_name((int)e->w.tf_sec, tf), res->seconds, (long long)res->steps,
                    e->metrics[XT_WIRE_EVAL_TOTAL_RETURN], e->metrics[XT_WIRE_EVAL_SHARPE],
                    e->metrics[XT_WIRE_EVAL_BUY_HOLD_RETURN]);
        } else {
            // A deterministic failure (the window, the data): retrying would
            // fail again, so the broker gets NaN metrics and the run goes on.
            for (int k = 0; k < XT_WIRE_EVAL_N; k++) e->metrics[k] = NAN;
            e->csv_path[0] = '\0';
            xt_error("fold %u: evaluation of %s failed, reported as NaN: %s", a->ev_fold, e->w.name, res->err);
        }
        s_eval_send(a, e);
    }
    if (!a->ev) xt_actor_eval_pump(a); // requests that came in while it ran
    xt_actor_schedule(a);
    xt_actor_busy(a, "eval worker report", t0);
    return a->done ? -1 : 0;
}
