// worker.c - the training actor: fold data, trainer, updates, validation,
// checkpoints and rollbacks (worker.h).
//
// Purpose: everything slow the learner does runs here, one job at a time,
// so the loop thread stays free for the broker and the actors.
// Invariants:
//   - the fold directory always holds at least one checkpoint once FOLD
//     succeeded (resumed from one, or ckpt-0 written at once), so a restart
//     resumes and a rollback has a target;
//   - ckpt-best.xtck only ever holds weights whose validation Sharpe beat
//     every earlier validation of the fold (or, after a final save without
//     any validation, the final weights with val.sharpe NaN);
//   - version = the trainer's update count, saved in every checkpoint, so a
//     resumed learner continues the versions and a rollback (params only)
//     never reuses one.
// Ownership: the actor thread owns the shards and the trainer; the job
// struct is the loop's, lent for one job. cfg is borrowed read-only.
// Threads: s_actor runs on the czmq actor thread; xt_worker_* on the loop.
#include "worker.h"

#include "core/fileio.h"
#include "core/log.h"
#include "core/xtime.h"
#include "rl/shards.h"
#include "rl/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct xt_worker {
    zactor_t *actor;
    xt_worker_job *cur; // the job running, NULL when idle
    // Read by the actor thread only (set before it starts).
    const xt_config *cfg;
    char run_dir[XT_WORKER_PATH_MAX - 64];
};

typedef struct {
    const xt_config *cfg;
    const char *run_dir;
    xt_shards *shards;
    xt_trainer *tr;
    int fold; // -1 before the first FOLD
    char dir[XT_WORKER_PATH_MAX - 64];
    // The fold's best checkpoint.
    int have_best;
    xt_ckptdir_info best;
    char best_path[XT_WORKER_PATH_MAX];
    // The last validation: the update count it ran at (-1: none) and its Sharpe.
    int64_t val_updates;
    double val_sharpe;
} s_ctx;

// ---------------------------------------------------------------- jobs

static void s_close(s_ctx *x) {
    xt_trainer_destroy(&x->tr);
    xt_shards_destroy(&x->shards);
    x->fold = -1;
    x->have_best = 0;
    x->val_updates = -1;
}

// Reads the fold's ckpt-best.xtck (if any) into the best bookkeeping.
static void s_load_best(s_ctx *x) {
    xt_ckptdir_best(x->best_path, sizeof x->best_path, x->dir);
    x->have_best = 0;
    if (!xt_file_exists(x->best_path)) return;
    xt_err e = {0};
    if (xt_ckptdir_info_read(x->best_path, &x->best, &e) == 0)
        x->have_best = 1;
    else
        xt_warn("%s; the fold's best validation starts afresh", e.msg);
}

static int s_save(s_ctx *x, const char *path, double val, xt_err *err) {
    int rc = xt_trainer_save(x->tr, path, val, err);
    if (rc == 0) xt_debug("checkpoint %s written", path);
    return rc;
}

// Saves the current weights as ckpt-best with validation Sharpe val.
static int s_save_best(s_ctx *x, double val, xt_err *err) {
    int rc = s_save(x, x->best_path, val, err);
    if (rc) return rc;
    x->have_best = 1;
    x->best = (xt_ckptdir_info){xt_trainer_env_steps(x->tr), xt_trainer_updates(x->tr), x->fold, val};
    return 0;
}

static int s_fold(s_ctx *x, xt_worker_job *j) {
    s_close(x);
    xt_ckptdir_fold(x->dir, sizeof x->dir, x->run_dir, j->fold);
    int rc = xt_file_mkdirs(x->dir, &j->err);
    if (rc || (rc = xt_shards_open(&x->shards, x->cfg, j->fold, 1, &j->err))) return rc;
    x->tr = xt_trainer_new(x->cfg, xt_shards_list(x->shards), xt_shards_count(x->shards), j->fold, &j->err);
    if (!x->tr) return j->err.code ? j->err.code : XT_EINVAL;
    x->fold = j->fold;
    // Resume: the newest checkpoint that loads; a damaged newest file (a
    // crash cannot leave one, but a disk can) falls back to the one before.
    int64_t steps[64];
    int n = xt_ckptdir_list(x->dir, steps, 64, &j->err);
    if (n < 0) return n;
    j->start = XT_WORKER_FRESH;
    j->from[0] = '\0';
    for (int i = 0; i < n && j->start == XT_WORKER_FRESH; i++) {
        xt_ckptdir_path(j->from, sizeof j->from, x->dir, steps[i]);
        xt_err e = {0};
        if (xt_trainer_load(x->tr, j->from, XT_TRAINER_LOAD_RESUME, &e) == 0)
            j->start = XT_WORKER_RESUMED;
        else
            xt_warn("cannot resume from %s: %s", j->from, e.msg);
    }
    if (j->start == XT_WORKER_FRESH) {
        char prev[XT_WORKER_PATH_MAX], pdir[XT_WORKER_PATH_MAX - 64];
        xt_ckptdir_best(prev, sizeof prev, xt_ckptdir_fold(pdir, sizeof pdir, x->run_dir, j->fold - 1));
        if (x->cfg->folds_warm_start && j->fold > 0 && xt_file_exists(prev)) {
            if ((rc = xt_trainer_load(x->tr, prev, XT_TRAINER_LOAD_WARM, &j->err))) return rc;
            j->start = XT_WORKER_WARM;
            snprintf(j->from, sizeof j->from, "%s", prev);
        } else {
            j->from[0] = '\0';
        }
        // The fold's first checkpoint, before any update.
        char path[XT_WORKER_PATH_MAX];
        xt_ckptdir_path(path, sizeof path, x->dir, xt_trainer_env_steps(x->tr));
        if ((rc = s_save(x, path, NAN, &j->err))) return rc;
    }
    s_load_best(x);
    const xt_model_layout *lay = xt_trainer_layout(x->tr);
    j->spec = lay->spec;
    j->n_params = lay->n_params;
    j->chunks_per_env = xt_trainer_chunks_per_env(x->tr);
    return 0;
}

static int s_validate(s_ctx *x, xt_worker_job *j) {
    double sh = NAN;
    int rc = xt_trainer_validate(x->tr, &sh, &j->err);
    if (rc == XT_ENOTFOUND) return 0; // no shard has a usable validation window
    if (rc) return rc;
    j->validated = 1;
    j->val_sharpe = sh;
    x->val_updates = xt_trainer_updates(x->tr), x->val_sharpe = sh;
    // A best saved without validation (NaN) is beaten by any number.
    if (isfinite(sh) && (!x->have_best || !(x->best.val_sharpe >= sh))) {
        if ((rc = s_save_best(x, sh, &j->err))) return rc;
        j->new_best = 1;
    }
    return 0;
}

static int s_save_job(s_ctx *x, xt_worker_job *j) {
    xt_ckptdir_path(j->path, sizeof j->path, x->dir, xt_trainer_env_steps(x->tr));
    double val = x->val_updates == xt_trainer_updates(x->tr) ? x->val_sharpe : NAN;
    j->path_val = val;
    int rc = s_save(x, j->path, val, &j->err);
    if (rc) return rc;
    int gone = xt_ckptdir_prune(x->dir, (int)x->cfg->learner_keep_checkpoints, &j->err);
    if (gone < 0) return gone;
    // train --local evaluates the best checkpoint, and so does the cluster:
    // without any validation the final weights are the best there is.
    if (j->final && !x->have_best) rc = s_save_best(x, val, &j->err);
    return rc;
}

static int s_rollback(s_ctx *x, xt_worker_job *j) {
    int64_t steps[64];
    int n = xt_ckptdir_list(x->dir, steps, 64, &j->err);
    if (n < 0) return n;
    for (int i = 0; i < n; i++) {
        xt_ckptdir_path(j->path, sizeof j->path, x->dir, steps[i]);
        xt_err e = {0};
        // Params only: the counters go on, so the version stays monotonic.
        if (xt_trainer_load(x->tr, j->path, XT_TRAINER_LOAD_EVAL, &e) == 0) return 0;
        xt_warn("cannot roll back to %s: %s", j->path, e.msg);
    }
    return xt_err_set(&j->err, XT_ENOTFOUND, "%s: no checkpoint to roll back to", x->dir);
}

static void s_run(s_ctx *x, xt_worker_job *j) {
    double t0 = xt_time_mono();
    j->rc = 0;
    xt_err_clear(&j->err);
    j->validated = j->new_best = 0;
    j->path[0] = '\0';
    if (j->kind != XT_WORKER_FOLD && !x->tr) {
        j->rc = xt_err_set(&j->err, XT_ESTATE, "worker: no fold loaded");
    } else {
        switch (j->kind) {
        case XT_WORKER_FOLD: j->rc = s_fold(x, j); break;
        case XT_WORKER_UPDATE: {
            xt_train_iter it;
            memset(&it, 0, sizeof it);
            j->rc = xt_trainer_update(x->tr, j->batch, &it, &j->err);
            j->rep = it.ppo;
            break;
        }
        case XT_WORKER_VALIDATE: j->rc = s_validate(x, j); break;
        case XT_WORKER_SAVE: j->rc = s_save_job(x, j); break;
        case XT_WORKER_ROLLBACK: j->rc = s_rollback(x, j); break;
        }
        if (j->rc && j->kind == XT_WORKER_FOLD) s_close(x);
    }
    j->params = x->tr ? xt_trainer_params(x->tr) : NULL;
    j->params_finite = j->params != NULL;
    if (x->tr) {
        const xt_model_layout *lay = xt_trainer_layout(x->tr);
        for (size_t i = 0; i < lay->n_params && j->params_finite; i++) j->params_finite = isfinite(j->params[i]);
        j->env_steps = xt_trainer_env_steps(x->tr);
        j->updates = xt_trainer_updates(x->tr);
    }
    j->have_best = x->have_best;
    snprintf(j->best_path, sizeof j->best_path, "%s", x->best_path);
    j->best = x->best;
    j->seconds = xt_time_mono() - t0;
}

// ---------------------------------------------------------------- actor

static void s_actor(zsock_t *pipe, void *arg) {
    xt_worker *w = arg;
    s_ctx x = {.cfg = w->cfg, .run_dir = w->run_dir, .fold = -1, .val_updates = -1};
    zsock_signal(pipe, 0);
    for (;;) {
        char *cmd = NULL;
        void *job = NULL;
        if (zsock_recv(pipe, "sp", &cmd, &job) != 0) break;
        int term = !cmd || strcmp(cmd, "$TERM") == 0;
        if (!term && strcmp(cmd, "JOB") == 0 && job) {
            s_run(&x, job);
            zstr_send(pipe, "DONE");
        }
        zstr_free(&cmd);
        if (term) break;
    }
    s_close(&x);
}

// ---------------------------------------------------------------- public

xt_worker *xt_worker_new(const xt_config *cfg, const char *run_dir, xt_err *err) {
    xt_worker *w = calloc(1, sizeof *w);
    if (!w) {
        xt_err_set(err, XT_ENOMEM, "worker: out of memory");
        return NULL;
    }
    w->cfg = cfg;
    snprintf(w->run_dir, sizeof w->run_dir, "%s", run_dir);
    if (!(w->actor = zactor_new(s_actor, w))) {
        xt_err_set(err, XT_EIO, "worker: cannot start the training thread");
        free(w);
        return NULL;
    }
    return w;
}

void xt_worker_destroy(xt_worker **self_p) {
    if (!self_p || !*self_p) return;
    xt_worker *w = *self_p;
    xt_worker_wait(w);
    zactor_destroy(&w->actor);
    free(w);
    *self_p = NULL;
}

int xt_worker_submit(xt_worker *w, xt_worker_job *job, xt_err *err) {
    if (w->cur) return xt_err_set(err, XT_ESTATE, "worker: a job is still running");
    if (zsock_send(w->actor, "sp", "JOB", (void *)job) != 0)
        return xt_err_set(err, XT_EIO, "worker: cannot reach the training thread");
    w->cur = job;
    return 0;
}

int xt_worker_busy(const xt_worker *w) { return w->cur != NULL; }

zsock_t *xt_worker_sock(xt_worker *w) { return zactor_sock(w->actor); }

xt_worker_job *xt_worker_done(xt_worker *w) {
    char *msg = zstr_recv(w->actor);
    int done = msg && strcmp(msg, "DONE") == 0;
    zstr_free(&msg);
    if (!done || !w->cur) return NULL;
    xt_worker_job *j = w->cur;
    w->cur = NULL;
    return j;
}

xt_worker_job *xt_worker_wait(xt_worker *w) { return w->cur ? xt_worker_done(w) : NULL; }
