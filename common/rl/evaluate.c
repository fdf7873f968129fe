// evaluate.c - deterministic policy walks, baselines and eval outputs.
//
// Not a training hot path: an evaluation allocates its buffers once per
// call and then steps without allocating. One env batch of size 1 per shard
// (eval mode: one walk of the window); the batched inference covers every
// shard each step, and a shard whose walk ended is no longer stepped.
// Ownership: envs and buffers are local to a call; the CSV collector owns
// its text buffers. Threads: one per call.
#include "rl/evaluate.h"

#include "core/config.h"
#include "core/crc32.h"
#include "core/fileio.h"
#include "core/xtime.h"
#include "env/asset_env.h"
#include "env/portfolio_env.h"
#include "nn/heads.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

// ---- the policy walk

typedef struct {
    xt_asset_env *aenv[XT_RL_MAX_SHARDS];
    xt_portfolio_env *penv[XT_RL_MAX_SHARDS];
    float *obs, *h, *c, *out, *logits;
    uint8_t *mask, *start, *done;
    int32_t *act, *sym;
    xt_asset_info ainfo;
    xt_portfolio_info pinfo;
} s_walk;

static void s_walk_free(s_walk *w, int n) {
    for (int s = 0; s < n; s++) {
        xt_asset_env_destroy(&w->aenv[s]);
        xt_portfolio_env_destroy(&w->penv[s]);
    }
    void *bufs[] = {w->obs, w->h, w->c, w->out, w->logits, w->mask, w->start, w->done, w->act, w->sym};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) free(bufs[k]);
}

// One step's record of shard s from its env info.
static void s_fill_step(xt_eval_step *st, const s_walk *w, int s, int K, int port) {
    memset(st, 0, sizeof *st);
    st->shard = s;
    if (port) {
        const xt_portfolio_info *in = &w->pinfo;
        st->row = in->row, st->ts = in->ts, st->n_w = K + 1;
        for (int a = 0; a <= K; a++) st->w[a] = in->w_close[a];
        st->equity = in->equity, st->reward = in->reward, st->fee = in->fee, st->slippage = in->slippage;
        st->trades = in->trades_closed, st->reason = in->reason;
    } else {
        const xt_asset_info *in = &w->ainfo;
        st->row = in->row, st->ts = in->ts, st->n_w = 1;
        st->w[0] = in->units != 0.0 ? in->position : 0.0; // flat after a stop or liquidation
        st->equity = in->equity, st->reward = in->reward, st->fee = in->fee, st->slippage = in->slippage;
        st->trades = in->trades_closed, st->reason = in->reason;
    }
}

int xt_eval_policy(xt_backend *be, int kind, const xt_rl_shard *shards, int n, int window,
                   const xt_env_params *p, xt_metrics *out, xt_eval_step_fn fn, void *arg,
                   const atomic_int *cancel, xt_err *err) {
    const xt_model_layout *lay = xt_backend_layout(be);
    const int D = lay->spec.obs_dim, A = lay->spec.act_dim, SS = lay->state_size, port = kind == XT_ENV_KIND_PORTFOLIO;
    if (n < 1 || n > XT_RL_MAX_SHARDS) return xt_err_set(err, XT_EINVAL, "eval: %d shards (1..%d)", n, XT_RL_MAX_SHARDS);
    s_walk w;
    memset(&w, 0, sizeof w);
    int rc = 0;
    w.obs = calloc((size_t)n * D, sizeof(float));
    w.h = calloc((size_t)n * SS + 1, sizeof(float));
    w.c = calloc((size_t)n * SS + 1, sizeof(float));
    w.out = calloc((size_t)n * A, sizeof(float));
    w.logits = calloc((size_t)n * A, sizeof(float));
    w.mask = calloc((size_t)n * A, 1);
    w.start = calloc((size_t)n, 1);
    w.done = calloc((size_t)n, 1);
    w.act = calloc((size_t)n, sizeof(int32_t));
    w.sym = calloc((size_t)n, sizeof(int32_t));
    if (!w.obs || !w.h || !w.c || !w.out || !w.logits || !w.mask || !w.start || !w.done || !w.act || !w.sym) {
        rc = xt_err_set(err, XT_ENOMEM, "eval: out of memory for %d shards", n);
        goto done;
    }
    for (int s = 0; s < n; s++) {
        xt_env_setup su;
        xt_env_setup_default(&su, shards[s].m);
        su.row_begin = shards[s].row[window][0], su.row_end = shards[s].row[window][1];
        su.eval = 1, su.symbol_id = shards[s].symbol_id, su.tf_id = shards[s].tf_id;
        rc = port ? xt_portfolio_env_new(&w.penv[s], shards[s].m, p, &su, err)
                  : xt_asset_env_new(&w.aenv[s], shards[s].m, p, &su, err);
        if (rc) {
            xt_err_prefix(err, "eval: shard %s (%s window)", shards[s].name, xt_rl_window_name(window));
            goto done;
        }
        if (port) xt_portfolio_env_reset(w.penv[s], w.obs + (size_t)s * D, w.mask + (size_t)s * A);
        else xt_asset_env_reset(w.aenv[s], w.obs + (size_t)s * D, w.mask + (size_t)s * A);
        w.start[s] = 1;
        w.sym[s] = shards[s].symbol_id;
    }
    const int emb = lay->spec.emb_dim > 0;
    for (int64_t step = 0, left = n; left > 0; step++) {
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) {
            rc = xt_err_set(err, XT_ESTATE, "eval: cancelled after %lld steps", (long long)step);
            goto done;
        }
        rc = xt_backend_infer(be, w.obs, emb ? w.sym : NULL, w.start, w.h, w.c, w.out, NULL, n, err);
        if (rc) goto done;
        memset(w.start, 0, (size_t)n);
        // deterministic actions: argmax of the legal logits, or the Gaussian mean as logits
        if (port) memcpy(w.logits, w.out, (size_t)n * A * sizeof(float));
        else xt_heads_cat_argmax(w.act, NULL, w.out, w.mask, n, A);
        for (int s = 0; s < n; s++) {
            if (w.done[s]) continue;
            float rew;
            uint8_t term, trunc;
            xt_env_io io = {w.obs + (size_t)s * D, &rew, &term, &trunc, w.mask + (size_t)s * A, NULL};
            if (port) xt_portfolio_env_step(w.penv[s], w.logits + (size_t)s * A, &io, &w.pinfo);
            else xt_asset_env_step(w.aenv[s], w.act + s, &io, &w.ainfo);
            if (fn) {
                xt_eval_step st;
                s_fill_step(&st, &w, s, shards[s].m->k, port);
                fn(arg, &st);
            }
            if (term | trunc) {
                w.done[s] = 1, left--;
                out[s] = port ? *xt_portfolio_env_episode_metrics(w.penv[s], 0)
                              : *xt_asset_env_episode_metrics(w.aenv[s], 0);
            }
        }
    }
done:
    s_walk_free(&w, n);
    return rc;
}

// ---- baselines

int xt_eval_baselines(int kind, const xt_rl_shard *s, int window, const xt_env_params *p,
                      xt_metrics out[XT_BASELINE_COUNT], xt_err *err) {
    int64_t b = s->row[window][0], e = s->row[window][1];
    int every = s->tf_sec > 0 && s->tf_sec < 86400 ? 86400 / s->tf_sec : 1;
    // Textbook baselines: costs, sessions and weight constraints apply, but no
    // stops or terminal rules (a buy-and-hold that re-enters after every ATR
    // stop would be a different strategy, and lose its fees to whipsaws).
    for (int k = 0; k < XT_BASELINE_COUNT; k++) {
        int rc = kind == XT_ENV_KIND_PORTFOLIO
                     ? xt_baseline_portfolio(s->m, p, b, e, (xt_baseline_kind)k, every, 0, &out[k], err)
                     : xt_baseline_asset(s->m, p, b, e, 0, (xt_baseline_kind)k, 0, &out[k], err);
        if (rc) return xt_err_prefix(err, "shard %s: %s baseline", s->name, xt_baseline_name((xt_baseline_kind)k));
    }
    return 0;
}

// ---- report

uint32_t xt_eval_digest(const xt_eval_result *res, int n) {
    uint32_t crc = 0;
    for (int s = 0; s < n; s++) crc = xt_crc32(crc, &res[s].agent, sizeof res[s].agent);
    return crc;
}

static void s_row(FILE *out, const char *shard, const char *who, const xt_metrics *m) {
    fprintf(out, "%-16s %-13s %9.3f %9.3f %8.3f %8.3f %8.3f %7lld %10.2f %14.6f\n", shard, who,
            100.0 * m->total_return, 100.0 * m->annual_return, m->sharpe, m->sortino, 100.0 * m->max_drawdown,
            (long long)m->trades, m->fees, m->final_equity);
}

void xt_eval_print(FILE *out, const char *title, const xt_rl_shard *shards, int n, const xt_eval_result *res) {
    fprintf(out, "%s\n", title);
    fprintf(out, "%-16s %-13s %9s %9s %8s %8s %8s %7s %10s %14s\n", "shard", "policy", "return%", "annual%",
            "sharpe", "sortino", "maxdd%", "trades", "fees", "final_equity");
    double sh = 0.0;
    for (int s = 0; s < n; s++) {
        s_row(out, shards[s].name, "agent", &res[s].agent);
        for (int k = 0; k < XT_BASELINE_COUNT; k++) s_row(out, "", xt_baseline_name((xt_baseline_kind)k), &res[s].base[k]);
        sh += res[s].agent.sharpe;
    }
    fprintf(out, "mean agent sharpe %.6f over %d shard%s; test metrics digest %08x\n", n ? sh / n : 0.0, n,
            n == 1 ? "" : "s", xt_eval_digest(res, n));
}

// Growable text buffer.
typedef struct {
    char *p;
    size_t len, cap;
    int bad;
} s_text;

static void s_printf(s_text *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(s_text *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0 || b->bad) return;
        if (b->p && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1 << 16;
        while (cap < b->len + (size_t)k + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
}

// Every field of xt_metrics at full precision.
static void s_metrics_json(s_text *b, const xt_metrics *m) {
    s_printf(b,
             "{\"steps\":%lld,\"trades\":%lld,\"fills\":%lld,\"bars_per_year\":%.17g,\"equity0\":%.17g,"
             "\"final_equity\":%.17g,\"total_return\":%.17g,\"annual_return\":%.17g,\"annual_vol\":%.17g,"
             "\"sharpe\":%.17g,\"sortino\":%.17g,\"max_drawdown\":%.17g,\"calmar\":%.17g,"
             "\"time_in_drawdown\":%.17g,\"profit_factor\":%.17g,\"win_rate\":%.17g,\"avg_win\":%.17g,"
             "\"avg_loss\":%.17g,\"turnover\":%.17g,\"turnover_annual\":%.17g,\"fees\":%.17g,\"slippage\":%.17g,"
             "\"gross_pnl\":%.17g,\"fee_ratio\":%.17g,\"avg_cash\":%.17g,\"pct_cash_over_20\":%.17g}",
             (long long)m->steps, (long long)m->trades, (long long)m->fills, m->bars_per_year, m->equity0,
             m->final_equity, m->total_return, m->annual_return, m->annual_vol, m->sharpe, m->sortino,
             m->max_drawdown, m->calmar, m->time_in_drawdown, m->profit_factor, m->win_rate, m->avg_win,
             m->avg_loss, m->turnover, m->turnover_annual, m->fees, m->slippage, m->gross_pnl, m->fee_ratio,
             m->avg_cash, m->pct_cash_over_20);
}

int xt_eval_write_json(const char *path, int fold, int window, const xt_rl_shard *shards, int n,
                       const xt_eval_result *res, xt_err *err) {
    s_text b = {0};
    s_printf(&b, "{\"fold\":%d,\"window\":\"%s\",\"digest\":\"%08x\",\"shards\":[", fold, xt_rl_window_name(window),
             xt_eval_digest(res, n));
    for (int s = 0; s < n; s++) {
        char t0[32], t1[32];
        const xt_env_market *m = shards[s].m;
        int64_t r0 = shards[s].row[window][0], r1 = shards[s].row[window][1];
        s_printf(&b, "%s\n{\"shard\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"agent\":", s ? "," : "", shards[s].name,
                 r0 < m->n ? xt_time_format(m->ts[r0], t0) : "", r1 > 0 ? xt_time_format(m->ts[r1 - 1], t1) : "");
        s_metrics_json(&b, &res[s].agent);
        for (int k = 0; k < XT_BASELINE_COUNT; k++) {
            s_printf(&b, ",\"%s\":", xt_baseline_name((xt_baseline_kind)k));
            s_metrics_json(&b, &res[s].base[k]);
        }
        s_printf(&b, "}");
    }
    s_printf(&b, "]}\n");
    int rc = b.bad ? xt_err_set(err, XT_ENOMEM, "%s: out of memory", path) : xt_file_write_atomic(path, b.p, b.len, err);
    free(b.p);
    return rc;
}

// ---- per-step CSV

struct xt_eval_csv {
    int n;
    const xt_rl_shard *shards;
    s_text text[XT_RL_MAX_SHARDS];
};

xt_eval_csv *xt_eval_csv_new(const xt_rl_shard *shards, int n, xt_err *err) {
    xt_eval_csv *self = calloc(1, sizeof *self);
    if (!self || n > XT_RL_MAX_SHARDS) {
        free(self);
        xt_err_set(err, XT_ENOMEM, "eval csv: out of memory or too many shards (%d)", n);
        return NULL;
    }
    self->n = n, self->shards = shards;
    for (int s = 0; s < n; s++) {
        s_text *b = &self->text[s];
        const xt_env_market *m = shards[s].m;
        s_printf(b, "timestamp");
        if (m->k > 1 || strcmp(shards[s].symbol, "portfolio") == 0) {
            for (int a = 0; a < m->k; a++) s_printf(b, ",w_%s", m->symbol[a]);
            s_printf(b, ",w_cash");
        } else {
            s_printf(b, ",position");
        }
        s_printf(b, ",equity,reward,fee,slippage,trades,reason\n");
    }
    return self;
}

void xt_eval_csv_step(void *arg, const xt_eval_step *st) {
    xt_eval_csv *self = arg;
    if (st->shard < 0 || st->shard >= self->n) return;
    s_text *b = &self->text[st->shard];
    char ts[32];
    s_printf(b, "%s", xt_time_format(st->ts, ts));
    for (int a = 0; a < st->n_w; a++) s_printf(b, ",%.10g", st->w[a]);
    s_printf(b, ",%.10g,%.10g,%.10g,%.10g,%d,%s\n", st->equity, st->reward, st->fee, st->slippage, st->trades,
             xt_env_reason_name(st->reason));
}

int xt_eval_csv_write(xt_eval_csv *self, const char *dir, xt_err *err) {
    int rc = xt_file_mkdirs(dir, err);
    for (int s = 0; s < self->n && rc == 0; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.csv", dir, self->shards[s].name);
        if (self->text[s].bad) return xt_err_set(err, XT_ENOMEM, "%s: out of memory", path);
        rc = xt_file_write_atomic(path, self->text[s].p, self->text[s].len, err);
    }
    return rc;
}

void xt_eval_csv_destroy(xt_eval_csv **self_p) {
    if (!self_p || !*self_p) return;
    for (int s = 0; s < (*self_p)->n; s++) free((*self_p)->text[s].p);
    free(*self_p);
    *self_p = NULL;
}
