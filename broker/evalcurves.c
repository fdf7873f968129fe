// evalcurves.c - eval CSVs read back, baselines walked with their equity.
//
// Invariants: a curve's ts is strictly increasing (checked on read, true by
// construction for a walk); n_alloc is 0 exactly for baseline walks. The
// baseline walks repeat rl/evaluate.c's xt_eval_baselines step for step
// (params without stops or terminal rules, the asset env's largest level or
// level 0, the portfolio's equal-weight target rebalanced once a day); the
// unit test holds the two to identical metrics. Ownership: a curve owns its
// three arrays. Threads: any (no shared state).
#include "evalcurves.h"

#include "core/config.h"
#include "core/fileio.h"
#include "core/xtime.h"
#include "env/asset_env.h"
#include "env/portfolio_env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- CSV

// Splits line [p, end) at commas into up to cap fields (pointers into the
// line, not NUL-terminated: lens gives each length). Returns the count.
static int s_split(const char *p, const char *end, const char **f, int *lens, int cap) {
    int n = 0;
    while (n < cap) {
        const char *q = memchr(p, ',', (size_t)(end - p));
        if (!q) q = end;
        f[n] = p, lens[n] = (int)(q - p), n++;
        if (q == end) break;
        p = q + 1;
    }
    return n;
}

static int s_field_is(const char *f, int len, const char *name) {
    return (size_t)len == strlen(name) && memcmp(f, name, (size_t)len) == 0;
}

// A number field; 0 or -1 when it is not one.
static int s_num(const char *f, int len, double *v) {
    char buf[64];
    if (len <= 0 || len >= (int)sizeof buf) return -1;
    memcpy(buf, f, (size_t)len);
    buf[len] = '\0';
    char *e;
    errno = 0;
    *v = strtod(buf, &e);
    return *e == '\0' && errno != ERANGE ? 0 : -1;
}

enum { S_MAX_COLS = XT_ENV_MAX_ASSETS + 16 };

int xt_evalcurve_read(xt_evalcurve *c, const char *path, xt_err *err) {
    memset(c, 0, sizeof *c);
    char *text = NULL;
    size_t len = 0;
    int rc = xt_file_read_all(path, XT_EVALCURVE_MAX_BYTES, &text, &len, err);
    if (rc) return rc;
    const char *p = text, *end = text + len;
    int64_t rows = 0;
    for (const char *q = p; q < end; q++) rows += *q == '\n';

    // ---- header: timestamp, then the allocation columns, then equity
    const char *f[S_MAX_COLS];
    int fl[S_MAX_COLS];
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    int nh = s_split(p, eol > p && eol[-1] == '\r' ? eol - 1 : eol, f, fl, S_MAX_COLS);
    int c_eq = -1;
    for (int i = 1; i < nh && c_eq < 0; i++)
        if (s_field_is(f[i], fl[i], "equity")) c_eq = i;
    if (nh < 3 || !s_field_is(f[0], fl[0], "timestamp") || c_eq < 2 || c_eq - 1 > XT_ENV_MAX_ASSETS + 1) {
        rc = xt_err_set(err, XT_EPARSE, "%s:1: not an eval CSV (expected timestamp,position|w_...,equity,...)", path);
        goto fail;
    }
    c->n_alloc = c_eq - 1;
    for (int a = 0; a < c->n_alloc; a++) {
        // "w_BTCUSD" -> "BTCUSD", "w_cash" -> "cash", "position" stays
        const char *name = f[1 + a];
        int l = fl[1 + a];
        if (l > 2 && name[0] == 'w' && name[1] == '_') name += 2, l -= 2;
        snprintf(c->names[a], sizeof c->names[a], "%.*s", l, name);
    }
    c->ts = malloc((size_t)(rows + 1) * sizeof *c->ts);
    c->equity = malloc((size_t)(rows + 1) * sizeof *c->equity);
    c->alloc = malloc((size_t)(rows + 1) * (size_t)c->n_alloc * sizeof *c->alloc);
    if (!c->ts || !c->equity || !c->alloc) {
        rc = xt_err_set(err, XT_ENOMEM, "%s: out of memory for %lld rows", path, (long long)rows);
        goto fail;
    }

    // ---- rows
    p = eol < end ? eol + 1 : end;
    for (int64_t line = 2; p < end; line++) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *stop = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (stop == p) { // blank line (the file's last)
            p = eol + 1;
            continue;
        }
        int n = s_split(p, stop, f, fl, S_MAX_COLS);
        int64_t ts;
        double v;
        if (n <= c_eq || xt_time_parse_n(f[0], fl[0], &ts) != 0) {
            rc = xt_err_set(err, XT_EPARSE, "%s:%lld: expected %d columns starting with a timestamp", path,
                            (long long)line, c_eq + 1);
            goto fail;
        }
        if (c->n > 0 && ts <= c->ts[c->n - 1]) {
            rc = xt_err_set(err, XT_EPARSE, "%s:%lld: time does not increase", path, (long long)line);
            goto fail;
        }
        for (int a = 0; a <= c->n_alloc; a++) {
            if (s_num(f[1 + a], fl[1 + a], &v)) {
                rc = xt_err_set(err, XT_EPARSE, "%s:%lld: column %d: not a number", path, (long long)line, 2 + a);
                goto fail;
            }
            if (a < c->n_alloc) c->alloc[c->n * c->n_alloc + a] = v;
            else c->equity[c->n] = v;
        }
        c->ts[c->n++] = ts;
        p = eol + 1;
    }
    free(text);
    return 0;
fail:
    free(text);
    xt_evalcurve_free(c);
    return rc;
}

// ---------------------------------------------------------------- baseline walks

// Room for one step per row of the window (a walk never takes more).
static int s_alloc(xt_evalcurve *c, int64_t rows, xt_err *err) {
    memset(c, 0, sizeof *c);
    if (rows < 1) rows = 1;
    c->ts = malloc((size_t)rows * sizeof *c->ts);
    c->equity = malloc((size_t)rows * sizeof *c->equity);
    if (!c->ts || !c->equity) return xt_err_set(err, XT_ENOMEM, "baseline walk: out of memory for %lld steps", (long long)rows);
    return 0;
}

static void s_push(xt_evalcurve *c, int64_t cap, int64_t ts, double equity) {
    if (c->n >= cap) return; // cannot happen: a walk is shorter than its window
    c->ts[c->n] = ts, c->equity[c->n] = equity, c->n++;
}

static int s_asset(xt_evalcurve *c, xt_metrics *out, const xt_rl_shard *s, const xt_env_params *p,
                   xt_baseline_kind kind, xt_err *err) {
    const xt_env_market *m = s->m;
    int64_t b = s->row[XT_RL_TEST][0], e = s->row[XT_RL_TEST][1], cap = e - b + 1;
    xt_env_params q = *p;
    q.stop_loss_atr = 0.0, q.take_profit_atr = 0.0, q.bankrupt_frac = 0.0, q.max_drawdown = 1.0;
    q.symbol_encoding = XT_ENV_SYMBOL_ID;
    xt_env_setup su;
    xt_env_setup_default(&su, m);
    su.row_begin = b, su.row_end = e, su.eval = 1, su.asset = 0;
    xt_asset_env *env = NULL;
    int rc = s_alloc(c, cap, err);
    if (rc == 0) rc = xt_asset_env_new(&env, m, &q, &su, err);
    if (rc) return rc;
    int od = xt_asset_env_obs_dim(&q, m), na = xt_asset_env_n_actions(&q);
    float *obs = calloc((size_t)od, sizeof(float)), rew = 0.0f;
    uint8_t *mask = calloc((size_t)na, 1), term = 0, trunc = 0;
    if (!obs || !mask) {
        rc = xt_err_set(err, XT_ENOMEM, "baseline walk: out of memory");
        goto done;
    }
    // buy & hold and equal weight: the largest level every step; cash: flat
    int32_t act = xt_asset_env_flat_action(env);
    if (kind != XT_BASELINE_CASH)
        for (int j = 0; j < na; j++)
            if (xt_asset_env_level(env, j) > xt_asset_env_level(env, act)) act = j;
    xt_env_io io = {obs, &rew, &term, &trunc, mask, NULL};
    xt_asset_info info;
    xt_asset_env_reset(env, obs, mask);
    while (xt_asset_env_episodes(env, 0) == 0) {
        xt_asset_env_step(env, &act, &io, &info);
        s_push(c, cap, info.ts, info.equity);
    }
    *out = *xt_asset_env_episode_metrics(env, 0);
done:
    free(obs);
    free(mask);
    xt_asset_env_destroy(&env);
    return rc;
}

static int s_portfolio(xt_evalcurve *c, xt_metrics *out, const xt_rl_shard *s, const xt_env_params *p,
                       xt_baseline_kind kind, xt_err *err) {
    const xt_env_market *m = s->m;
    int64_t b = s->row[XT_RL_TEST][0], e = s->row[XT_RL_TEST][1], cap = e - b + 1;
    int every = s->tf_sec > 0 && s->tf_sec < 86400 ? 86400 / s->tf_sec : 1; // once a day
    xt_env_params q = *p;
    q.stop_loss_atr = 0.0, q.take_profit_atr = 0.0, q.bankrupt_frac = 0.0, q.max_drawdown = 1.0;
    xt_env_setup su;
    xt_env_setup_default(&su, m);
    su.row_begin = b, su.row_end = e, su.eval = 1, su.asset = 0;
    xt_portfolio_env *env = NULL;
    int rc = s_alloc(c, cap, err);
    if (rc == 0) rc = xt_portfolio_env_new(&env, m, &q, &su, err);
    if (rc) return rc;
    int K = m->k, od = xt_portfolio_env_obs_dim(m);
    float *obs = calloc((size_t)od, sizeof(float)), rew = 0.0f;
    uint8_t *mask = calloc((size_t)K + 1, 1), term = 0, trunc = 0;
    xt_portfolio_info *info = calloc(1, sizeof *info);
    if (!obs || !mask || !info) {
        rc = xt_err_set(err, XT_ENOMEM, "baseline walk: out of memory");
        goto done;
    }
    // Target (1 - min_cash) / K per asset; -1 keeps an asset's drifted weight.
    double w[XT_PF_W], target = (1.0 - q.min_cash) / K;
    int bought[XT_ENV_MAX_ASSETS] = {0};
    xt_env_io io = {obs, &rew, &term, &trunc, mask, NULL};
    xt_portfolio_env_reset(env, obs, mask);
    for (int64_t step = 0; xt_portfolio_env_episodes(env, 0) == 0; step++) {
        for (int a = 0; a < K; a++) {
            switch (kind) {
            case XT_BASELINE_CASH: w[a] = 0.0; break;
            case XT_BASELINE_EQUAL_WEIGHT: w[a] = step % every == 0 ? target : -1.0; break;
            default: w[a] = bought[a] ? -1.0 : target; break;
            }
        }
        w[K] = kind == XT_BASELINE_CASH ? 1.0 : q.min_cash;
        xt_portfolio_env_step_weights(env, w, &io, info);
        for (int a = 0; a < K; a++) bought[a] |= info->fill_units[a] > 0.0;
        s_push(c, cap, info->ts, info->equity);
    }
    *out = *xt_portfolio_env_episode_metrics(env, 0);
done:
    free(obs);
    free(mask);
    free(info);
    xt_portfolio_env_destroy(&env);
    return rc;
}

int xt_evalcurve_baseline(xt_evalcurve *c, xt_metrics *out, int env_kind, const xt_rl_shard *s,
                          const xt_env_params *p, xt_baseline_kind kind, xt_err *err) {
    if ((int)kind < 0 || kind >= XT_BASELINE_COUNT) {
        memset(c, 0, sizeof *c);
        return xt_err_set(err, XT_EINVAL, "baseline walk: unknown kind %d", (int)kind);
    }
    int rc = env_kind == XT_ENV_KIND_PORTFOLIO ? s_portfolio(c, out, s, p, kind, err) : s_asset(c, out, s, p, kind, err);
    if (rc) {
        xt_err_prefix(err, "shard %s: %s baseline", s->name, xt_baseline_name(kind));
        xt_evalcurve_free(c);
    }
    return rc;
}

void xt_evalcurve_free(xt_evalcurve *c) {
    free(c->ts);
    free(c->equity);
    free(c->alloc);
    c->ts = NULL, c->equity = NULL, c->alloc = NULL;
    c->n = 0, c->n_alloc = 0;
}
