// evalrun.c - evaluation of shards' test windows on a worker thread
// (evalrun.h).
//
// The worker builds its own single-env CPU backend (one BLAS thread) from a
// copy of the params, then walks the shards one at a time with
// xt_eval_policy (B = 1) and the buy-and-hold baseline, writes each shard's
// CSV and reports "SHARD i" on the pipe; "DONE" ends the run. A result is
// written completely, then published with a release store of its `ready`
// flag before the message goes out; the owner reads it after the message.
// Invariants: results[i] is only written by the worker, only before ready[i].
// Ownership: params / env params / spec and the shard list are copies owned
// here; the shards' markets are borrowed. Threads: the owner's loop thread
// and the worker. Stopping never blocks the owner: xt_evalrun_cancel only
// raises a flag (xt_eval_policy reads it every step: the walk in progress
// ends within a step, the worker skips the rest and says "DONE"),
// and xt_evalrun_destroy after that "DONE" joins a thread that is only
// waiting for its $TERM.
#include "evalrun.h"

#include "core/log.h"
#include "core/xtime.h"
#include "env/baseline.h"
#include "rl/evaluate.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xt_evalrun {
    int kind, n;
    uint32_t fold;
    uint64_t version;
    xt_rl_shard *shards; // [n], copied (the markets they point to are borrowed)
    xt_env_params p;
    xt_model_spec spec;
    float *params;
    char out_dir[XT_WIRE_PATH_MAX];
    xt_evalrun_result *res; // [n]
    _Atomic int *ready;     // [n]
    _Atomic int cancel;
    zactor_t *worker;
};

// ---- one shard

void xt_evalrun_metrics(double out[XT_WIRE_EVAL_N], const xt_metrics *a, const xt_metrics *bh) {
    out[XT_WIRE_EVAL_TOTAL_RETURN] = a->total_return;
    out[XT_WIRE_EVAL_ANNUAL_RETURN] = a->annual_return;
    out[XT_WIRE_EVAL_SHARPE] = a->sharpe;
    out[XT_WIRE_EVAL_SORTINO] = a->sortino;
    out[XT_WIRE_EVAL_MAX_DRAWDOWN] = a->max_drawdown;
    out[XT_WIRE_EVAL_CALMAR] = a->calmar;
    out[XT_WIRE_EVAL_TIME_IN_DRAWDOWN] = a->time_in_drawdown;
    out[XT_WIRE_EVAL_WIN_RATE] = a->win_rate;
    out[XT_WIRE_EVAL_PROFIT_FACTOR] = a->profit_factor;
    out[XT_WIRE_EVAL_TRADES] = (double)a->trades;
    out[XT_WIRE_EVAL_TURNOVER] = a->turnover;
    out[XT_WIRE_EVAL_FEES] = a->fees;
    out[XT_WIRE_EVAL_CASH_USAGE] = a->avg_cash;
    out[XT_WIRE_EVAL_BUY_HOLD_RETURN] = bh->total_return;
}

int xt_evalrun_shard(xt_backend *be, int kind, const xt_rl_shard *s, const xt_env_params *p,
                     const char *out_dir, const atomic_int *cancel, xt_evalrun_result *out, xt_err *err) {
    memset(out, 0, sizeof *out);
    double t0 = xt_time_mono();
    xt_eval_csv *csv = xt_eval_csv_new(s, 1, err);
    if (!csv) return err && err->code ? err->code : XT_ENOMEM;
    xt_metrics agent, base[XT_BASELINE_COUNT];
    int rc = xt_eval_policy(be, kind, s, 1, XT_RL_TEST, p, &agent, xt_eval_csv_step, csv, cancel, err);
    if (!rc) rc = xt_eval_baselines(kind, s, XT_RL_TEST, p, base, err);
    if (!rc) rc = xt_eval_csv_write(csv, out_dir, err);
    xt_eval_csv_destroy(&csv);
    if (rc) return rc;
    xt_evalrun_metrics(out->metrics, &agent, &base[XT_BASELINE_BUY_HOLD]);
    snprintf(out->csv_path, sizeof out->csv_path, "%s/%s.csv", out_dir, s->name);
    out->steps = agent.steps;
    out->seconds = xt_time_mono() - t0;
    return 0;
}

// ---- the worker

static void s_worker(zsock_t *pipe, void *arg) {
    xt_evalrun *e = arg;
    zsock_signal(pipe, 0);
    xt_err err = {0};
    xt_backend_config bc;
    xt_backend_config_default(&bc);
    bc.max_chunks = 1, bc.T = 1, bc.max_infer = 1, bc.threads = 1;
    xt_backend *be = xt_backend_cpu_new(&e->spec, &bc, 0, &err);
    int rc = be ? xt_backend_upload(be, e->params, NULL, NULL, 0, &err) : (err.code ? err.code : XT_ENOMEM);
    for (int i = 0; i < e->n && !atomic_load(&e->cancel); i++) {
        xt_evalrun_result *r = &e->res[i];
        if (rc == 0) {
            xt_err serr = {0};
            int src = xt_evalrun_shard(be, e->kind, &e->shards[i], &e->p, e->out_dir, &e->cancel, r, &serr);
            if (src) r->rc = src, snprintf(r->err, sizeof r->err, "%s", serr.msg);
        } else {
            r->rc = rc;
            snprintf(r->err, sizeof r->err, "eval backend: %.400s", err.msg);
        }
        atomic_store_explicit(&e->ready[i], 1, memory_order_release);
        zsock_send(pipe, "si", "SHARD", i);
    }
    xt_backend_destroy(&be);
    zsock_send(pipe, "si", "DONE", 0);
    // Wait for the owner's $TERM (zactor_destroy) before returning.
    for (;;) {
        char *cmd = zstr_recv(pipe);
        if (!cmd) break;
        int term = strcmp(cmd, "$TERM") == 0;
        zstr_free(&cmd);
        if (term) break;
    }
}

// ---- public

xt_evalrun *xt_evalrun_start(const xt_evalrun_job *job, xt_err *err) {
    xt_model_layout lay;
    if (xt_model_layout_init(&lay, job->spec, err)) return NULL;
    if (job->n < 1) {
        xt_err_set(err, XT_EINVAL, "eval: no shards to evaluate");
        return NULL;
    }
    xt_evalrun *e = calloc(1, sizeof *e);
    if (!e) {
        xt_err_set(err, XT_ENOMEM, "eval: out of memory");
        return NULL;
    }
    e->kind = job->kind, e->n = job->n, e->fold = job->fold, e->version = job->version;
    e->p = *job->p, e->spec = *job->spec;
    snprintf(e->out_dir, sizeof e->out_dir, "%s", job->out_dir);
    e->params = malloc(lay.n_params * sizeof(float));
    e->shards = malloc((size_t)job->n * sizeof *e->shards);
    e->res = calloc((size_t)job->n, sizeof *e->res);
    e->ready = calloc((size_t)job->n, sizeof *e->ready);
    if (!e->params || !e->shards || !e->res || !e->ready) {
        xt_err_set(err, XT_ENOMEM, "eval: out of memory for %d shards", job->n);
        xt_evalrun_destroy(&e);
        return NULL;
    }
    memcpy(e->params, job->params, lay.n_params * sizeof(float));
    memcpy(e->shards, job->shards, (size_t)job->n * sizeof *e->shards);
    e->worker = zactor_new(s_worker, e);
    if (!e->worker) {
        xt_err_set(err, XT_EIO, "eval: cannot start the worker thread");
        xt_evalrun_destroy(&e);
        return NULL;
    }
    return e;
}

void xt_evalrun_destroy(xt_evalrun **self_p) {
    if (!self_p || !*self_p) return;
    xt_evalrun *e = *self_p;
    atomic_store(&e->cancel, 1);
    zactor_destroy(&e->worker); // $TERM, then waits for the worker to return
    free(e->params);
    free(e->shards);
    free(e->res);
    free((void *)e->ready);
    free(e);
    *self_p = NULL;
}

void xt_evalrun_cancel(xt_evalrun *e) {
    if (e) atomic_store(&e->cancel, 1);
}

int xt_evalrun_cancelled(const xt_evalrun *e) { return atomic_load(&e->cancel); }

zsock_t *xt_evalrun_sock(xt_evalrun *e) { return zactor_sock(e->worker); }

int xt_evalrun_recv(xt_evalrun *e, int *shard) {
    zsock_t *pipe = zactor_sock(e->worker);
    if (!(zsock_events(pipe) & ZMQ_POLLIN)) return -1;
    char *cmd = NULL;
    int i = 0;
    if (zsock_recv(pipe, "si", &cmd, &i) != 0 || !cmd) return -1;
    int shard_msg = strcmp(cmd, "SHARD") == 0;
    zstr_free(&cmd);
    if (!shard_msg) return 0;
    if (i < 0 || i >= e->n || !atomic_load_explicit(&e->ready[i], memory_order_acquire)) return -1;
    *shard = i;
    return 1;
}

const xt_evalrun_result *xt_evalrun_result_of(const xt_evalrun *e, int i) {
    return i >= 0 && i < e->n && atomic_load_explicit(&e->ready[i], memory_order_acquire) ? &e->res[i] : NULL;
}

int xt_evalrun_count(const xt_evalrun *e) { return e->n; }
