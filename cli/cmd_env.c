// cmd_env.c - `xtrade env replay` (a CSV of actions keyed by timestamp
// driven through the asset env of one (symbol, timeframe), or with --symbol
// ALL the portfolio env; per-step CSV out, episode metrics as JSON on stdout)
// and `xtrade env baseline` (buy-and-hold, equal-weight and cash per shard of
// a fold's window, through the same env code, as an aligned table).
//
// Both open the fold's feature caches like `train --local` (building them
// when missing or stale) and map the config's env.* keys with
// xt_rl_env_params, so costs, sessions, stops and terminal rules are the
// agent's. Exit 2: the command line is malformed; exit 1: the config, the
// data or the action file is at fault (one error line naming it).
#include "cli.h"
#include "cli_env.h"

#include "core/log.h"
#include "core/xtime.h"
#include "env/baseline.h"
#include "env/replay.h"
#include "rl/evaluate.h"
#include "rl/shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_WIN_ALL XT_RL_NWIN // --window all: every row of the cache

typedef struct {
    const char *config, *symbol, *timeframe, *actions, *out, *window;
    int fold;
    char *sets[64];
    int n_sets;
} s_args;

// ---- arguments

static int s_parse(s_args *a, int argc, char **argv, const char *cmd, const char *allowed) {
    memset(a, 0, sizeof *a);
    a->fold = 0;
    static const char *flags[] = {"--config", "--symbol", "--timeframe", "--actions",
                                  "--out",    "--window", "--fold",      "--set"};
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        int k = -1;
        for (int j = 0; j < (int)(sizeof flags / sizeof *flags); j++)
            if (strcmp(f, flags[j]) == 0) k = j;
        if (k < 0 || !strstr(allowed, f))
            return xt_cli_fail(2, "%s: unexpected argument '%s' (options: %s)", cmd, f, allowed);
        if (i + 1 >= argc) return xt_cli_fail(2, "%s: %s needs a value", cmd, f);
        char *v = argv[++i];
        const char **dst[] = {&a->config, &a->symbol, &a->timeframe, &a->actions, &a->out, &a->window};
        if (k < 6) {
            *dst[k] = v;
        } else if (k == 6) {
            char *end;
            long fold = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || fold < 0 || fold > 1000000)
                return xt_cli_fail(2, "%s: --fold %s: expected a fold index >= 0", cmd, v);
            a->fold = (int)fold;
        } else {
            if (a->n_sets == 64) return xt_cli_fail(2, "%s: too many --set options", cmd);
            a->sets[a->n_sets++] = v;
        }
    }
    return 0;
}

static const char *s_window_name(int w) {
    static const char *names[] = {"train", "validation", "test", "all"};
    return names[w];
}

// --window NAME (default test).
static int s_window(const char *cmd, const char *v, int *w) {
    *w = XT_RL_TEST;
    if (!v) return 0;
    if (strcmp(v, "train") == 0)
        *w = XT_RL_TRAIN;
    else if (strcmp(v, "validation") == 0 || strcmp(v, "val") == 0)
        *w = XT_RL_VAL;
    else if (strcmp(v, "test") == 0)
        *w = XT_RL_TEST;
    else if (strcmp(v, "all") == 0)
        *w = S_WIN_ALL;
    else
        return xt_cli_fail(2, "%s: --window %s: expected train, validation, test or all", cmd, v);
    return 0;
}

// ---- shards and windows

// The fold's shards (caches built when missing or stale).
static int s_open(xt_shards **sh, const xt_config *cfg, int fold, const char *cmd) {
    xt_err err = {0};
    int nf = 0;
    if (xt_shards_fold_count(cfg, &nf, &err)) return xt_cli_fail(1, "%s: %s", cmd, err.msg);
    if (fold >= nf)
        return xt_cli_fail(1, "%s: --fold %d: the config's plan has %d fold%s (0..%d)", cmd, fold, nf,
                           nf == 1 ? "" : "s", nf - 1);
    if (xt_shards_open(sh, cfg, fold, 1, &err)) return xt_cli_fail(1, "%s: %s", cmd, err.msg);
    return 0;
}

// Rows of window w of a shard; "all" is the whole cache.
static void s_rows(const xt_rl_shard *s, int w, int64_t *b, int64_t *e) {
    if (w == S_WIN_ALL)
        *b = 0, *e = s->m->n;
    else
        *b = s->row[w][0], *e = s->row[w][1];
}

// A window needs two usable rows (one step) after the indicator warm-up.
static int s_usable(const xt_rl_shard *s, int w, int fold, const char *cmd) {
    int64_t b, e;
    s_rows(s, w, &b, &e);
    int64_t r0 = b > s->m->first_row ? b : s->m->first_row;
    if (e - r0 >= 2) return 0;
    return xt_cli_fail(1, "%s: shard %s: the %s window of fold %d has fewer than 2 usable rows%s", cmd, s->name,
                       s_window_name(w), fold,
                       w == XT_RL_VAL
                           ? " (the validation slice is the ppo.validation_fraction tail of the train window)"
                           : "; widen the window or move data.start earlier");
}

// The fold's dates of a window, for titles.
static void s_dates(const xt_config *cfg, const xt_fold *f, int w, char a[32], char b[32]) {
    int64_t t0 = cfg->data_start, t1 = cfg->data_end;
    if (w == XT_RL_TRAIN)
        t0 = f->train_start, t1 = f->val_start;
    else if (w == XT_RL_VAL)
        t0 = f->val_start, t1 = f->train_end;
    else if (w == XT_RL_TEST)
        t0 = f->test_start, t1 = f->test_end;
    xt_time_format(t0, a);
    xt_time_format(t1, b);
}

// "BTCUSD, EURUSD" / "1h, 4h" for messages.
static const char *s_symbols(const xt_config *cfg, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < cfg->data_symbols.n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", cfg->data_symbols.v[i]);
    return buf;
}

static const char *s_timeframes(const xt_config *cfg, char *buf, size_t cap) {
    size_t o = 0;
    char tf[16];
    buf[0] = '\0';
    for (int i = 0; i < cfg->data_timeframes.n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "",
                              xt_timeframe_name((int)cfg->data_timeframes.v[i], tf));
    return buf;
}

// ---- env replay

int xt_cli_env_replay(int argc, char **argv) {
    const char *cmd = "env replay";
    s_args a;
    int rc = s_parse(&a, argc, argv, cmd, "--config --symbol --timeframe --actions --out --fold --window --set");
    if (rc) return rc;
    if (!a.config || !a.symbol || !a.timeframe || !a.actions || !a.out)
        return xt_cli_fail(2, "env replay: usage: xtrade env replay --config FILE --symbol SYM|ALL --timeframe TF "
                              "--actions ACTIONS.csv --out OUT.csv [--fold K] [--window train|validation|test|all] "
                              "[--set k=v]");
    int w, tf;
    if ((rc = s_window(cmd, a.window, &w))) return rc;
    if (xt_timeframe_parse(a.timeframe, &tf))
        return xt_cli_fail(2, "env replay: --timeframe %s: not a timeframe (1m, 5m, 15m, 30m, 1h, 2h, 4h, 1d, 1w)",
                           a.timeframe);
    xt_config cfg;
    if ((rc = xt_cli_load_config(&cfg, a.config, a.sets, a.n_sets))) return rc;

    // --symbol picks the env: one configured symbol -> asset env, ALL -> portfolio env.
    char list[600];
    int port = strcasecmp(a.symbol, "ALL") == 0, found = port;
    for (int i = 0; i < cfg.data_symbols.n && !found; i++) found = strcmp(cfg.data_symbols.v[i], a.symbol) == 0;
    if (!found)
        return xt_cli_fail(1, "env replay: --symbol %s: not in data.symbols of %s (%s; or ALL for the portfolio env)",
                           a.symbol, a.config, s_symbols(&cfg, list, sizeof list));
    found = 0;
    for (int i = 0; i < cfg.data_timeframes.n; i++) found |= cfg.data_timeframes.v[i] == tf;
    if (!found)
        return xt_cli_fail(1, "env replay: --timeframe %s: not in data.timeframes of %s (%s)", a.timeframe, a.config,
                           s_timeframes(&cfg, list, sizeof list));
    cfg.env_kind = port ? XT_ENV_KIND_PORTFOLIO : XT_ENV_KIND_ASSET;

    xt_shards *sh = NULL;
    if ((rc = s_open(&sh, &cfg, a.fold, cmd))) return rc;
    const xt_rl_shard *s = NULL;
    for (int i = 0; i < xt_shards_count(sh) && !s; i++) {
        const xt_rl_shard *c = &xt_shards_list(sh)[i];
        if (c->tf_sec == tf && strcmp(c->symbol, port ? "portfolio" : a.symbol) == 0) s = c;
    }
    xt_err err = {0};
    xt_env_params p;
    xt_replay *r = NULL;
    xt_replay_result res;
    char what[128];
    if (!s) {
        rc = xt_cli_fail(1, "env replay: no shard for %s %s in fold %d", a.symbol, a.timeframe, a.fold);
        goto done;
    }
    if ((rc = s_usable(s, w, a.fold, cmd))) goto done;
    int64_t b, e;
    s_rows(s, w, &b, &e);
    snprintf(what, sizeof what, "%s %s window", s->name, s_window_name(w));
    xt_replay_setup su = {b, e, port, 0, s->symbol_id, s->tf_id, what};
    rc = 1;
    if (xt_rl_env_params(&p, &cfg, &err) || xt_replay_new(&r, s->m, &p, &su, &err) ||
        xt_replay_load(r, a.actions, &err) || xt_replay_run(r, a.out, &res, &err)) {
        xt_cli_fail(1, "%s", err.msg);
        goto done;
    }
    char t0[32], t1[32], json[2048];
    xt_info("env replay: %s, fold %d: %lld action line%s, %lld step%s %s .. %s -> %s", what, a.fold,
            (long long)xt_replay_lines(r), xt_replay_lines(r) == 1 ? "" : "s", (long long)res.steps,
            res.steps == 1 ? "" : "s", xt_time_format(xt_replay_step_ts(r, 0), t0), xt_time_format(res.last_ts, t1),
            a.out);
    if (res.steps < xt_replay_steps(r))
        xt_warn("env replay: the episode ended at %s (%s) after %lld of %lld steps; later actions were not used", t1,
                xt_env_reason_name(res.reason), (long long)res.steps, (long long)xt_replay_steps(r));
    xt_epmetrics_json(json, sizeof json, &res.metrics);
    printf("%s\n", json);
    rc = 0;
done:
    xt_replay_destroy(&r);
    xt_shards_destroy(&sh);
    return rc;
}

// ---- env baseline

static void s_base_row(const xt_rl_shard *s, const char *who, const xt_metrics *m) {
    char tf[16];
    printf("%-12s %-4s %-13s %10.4f %10.4f %9.4f %8.4f %8.4f %8.4f %9.4f %7lld %9.4f %11.4f\n", s->symbol,
           xt_timeframe_name(s->tf_sec, tf), who, 100.0 * m->total_return, 100.0 * m->annual_return,
           100.0 * m->annual_vol, m->sharpe, m->sortino, 100.0 * m->max_drawdown, m->calmar, (long long)m->trades,
           m->turnover, 100.0 * m->fee_ratio);
}

int xt_cli_env_baseline(int argc, char **argv) {
    const char *cmd = "env baseline";
    s_args a;
    int rc = s_parse(&a, argc, argv, cmd, "--config --fold --window --set");
    if (rc) return rc;
    if (!a.config)
        return xt_cli_fail(2, "env baseline: usage: xtrade env baseline --config FILE [--fold K] "
                              "[--window test|validation|train|all] [--set k=v]");
    int w;
    if ((rc = s_window(cmd, a.window, &w))) return rc;
    xt_config cfg;
    if ((rc = xt_cli_load_config(&cfg, a.config, a.sets, a.n_sets))) return rc;
    xt_shards *sh = NULL;
    if ((rc = s_open(&sh, &cfg, a.fold, cmd))) return rc;
    xt_err err = {0};
    xt_env_params p;
    int n = xt_shards_count(sh);
    const xt_rl_shard *list = xt_shards_list(sh);
    xt_metrics(*res)[XT_BASELINE_COUNT] = calloc((size_t)n, sizeof *res);
    if (!res) {
        rc = xt_cli_fail(1, "env baseline: out of memory");
        goto done;
    }
    if (xt_rl_env_params(&p, &cfg, &err)) {
        rc = xt_cli_fail(1, "%s", err.msg);
        goto done;
    }
    // Every baseline of every shard first, so an error prints no partial table.
    for (int i = 0; i < n; i++) {
        if ((rc = s_usable(&list[i], w, a.fold, cmd))) goto done;
        xt_rl_shard s = list[i];
        int win = w;
        if (w == S_WIN_ALL) s_rows(&list[i], w, &s.row[XT_RL_TEST][0], &s.row[XT_RL_TEST][1]), win = XT_RL_TEST;
        if (xt_eval_baselines((int)cfg.env_kind, &s, win, &p, res[i], &err)) {
            rc = xt_cli_fail(1, "env baseline: %s", err.msg);
            goto done;
        }
    }
    char d0[32], d1[32], kind[32];
    s_dates(&cfg, xt_shards_fold(sh), w, d0, d1);
    printf("baselines: fold %d, %s window %s .. %s, env.kind %s\n", a.fold, s_window_name(w), d0, d1,
           xt_config_enum_name(XT_CFGK_env_kind, (int)cfg.env_kind, kind, sizeof kind));
    printf("%-12s %-4s %-13s %10s %10s %9s %8s %8s %8s %9s %7s %9s %11s\n", "shard", "tf", "strategy", "return%",
           "annual%", "vol%", "sharpe", "sortino", "maxdd%", "calmar", "trades", "turnover", "fees/gross%");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < XT_BASELINE_COUNT; k++)
            s_base_row(&list[i], xt_baseline_name((xt_baseline_kind)k), &res[i][k]);
done:
    free(res);
    xt_shards_destroy(&sh);
    return rc;
}
