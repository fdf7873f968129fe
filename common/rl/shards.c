// shards.c - a fold's feature caches as env markets with row windows, and
// the config -> env params mapping.
//
// Invariants: every xt_rl_shard's market points into a mapping owned by the
// same xt_shards, so markets stay valid until xt_shards_destroy; windows are
// inside [0, n). Ownership: xt_shards owns the caches, markets and shard
// table. Threads: built by one thread, then read-only (shareable).
#include "rl/shards.h"

#include "core/log.h"
#include "core/xtime.h"
#include "market/fcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xt_shards {
    int n;
    xt_fold fold;
    xt_fcache cache[XT_RL_MAX_SHARDS];
    xt_env_market market[XT_RL_MAX_SHARDS];
    xt_rl_shard shard[XT_RL_MAX_SHARDS];
};

// ---- windows

const char *xt_rl_window_name(int window) {
    static const char *names[XT_RL_NWIN] = {"train", "val", "test"};
    return window >= 0 && window < XT_RL_NWIN ? names[window] : "?";
}

int xt_rl_window_usable(const xt_rl_shard *s, int window) {
    int64_t b = s->row[window][0], e = s->row[window][1];
    int64_t r0 = b > s->m->first_row ? b : s->m->first_row;
    return e - r0 >= 2;
}

// First row with ts >= t.
static int64_t s_lower(const int64_t *ts, int64_t n, int64_t t) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void xt_rl_shard_windows(xt_rl_shard *s, const xt_fold *f) {
    const int64_t *ts = s->m->ts, n = s->m->n;
    int64_t tr0 = s_lower(ts, n, f->train_start), va0 = s_lower(ts, n, f->val_start);
    int64_t tr1 = s_lower(ts, n, f->train_end);
    s->row[XT_RL_TRAIN][0] = tr0, s->row[XT_RL_TRAIN][1] = va0;
    s->row[XT_RL_VAL][0] = va0, s->row[XT_RL_VAL][1] = tr1;
    s->row[XT_RL_TEST][0] = s_lower(ts, n, f->test_start);
    s->row[XT_RL_TEST][1] = s_lower(ts, n, f->test_end);
}

// ---- env params

int xt_rl_env_params(xt_env_params *p, const xt_config *cfg, xt_err *err) {
    xt_env_params_default(p);
    p->episode_length = (int)cfg->env_episode_length;
    p->initial_cash = cfg->env_initial_balance;
    p->n_levels = cfg->env_position_levels.n;
    for (int i = 0; i < p->n_levels; i++) p->levels[i] = cfg->env_position_levels.v[i];
    p->long_only = cfg->env_long_only;
    p->symbol_encoding = cfg->env_symbol_encoding == XT_SYMENC_ID ? XT_ENV_SYMBOL_ID : XT_ENV_SYMBOL_ONEHOT;
    p->n_symbols = cfg->data_symbols.n;
    p->n_timeframes = cfg->data_timeframes.n;
    p->fee[XT_ASSET_CRYPTO] = cfg->env_fee_crypto;
    p->fee[XT_ASSET_FOREX] = cfg->env_fee_forex;
    p->fee[XT_ASSET_EQUITY] = cfg->env_fee_equity;
    // One fixed slippage for every asset class (the config has one key).
    for (int c = 0; c < XT_ASSET_COUNT; c++) p->slip_bps[c] = cfg->env_slippage_bps;
    p->slip_atr_k = cfg->env_slippage_atr;
    p->slip_lowliq_mult = cfg->env_low_liquidity_slippage;
    // min_trade is also the dust threshold of the portfolio env (seed 003: $100).
    p->min_trade = cfg->env_min_trade;
    p->min_position = cfg->env_min_trade;
    p->max_weight = cfg->env_max_weight;
    p->min_cash = cfg->env_min_cash;
    p->max_positions = (int)cfg->env_max_positions;
    p->corr_cap = cfg->env_max_pair_exposure;
    p->corr_limit = cfg->env_correlation_limit;
    p->stop_loss_atr = cfg->env_stop_loss_atr;
    p->take_profit_atr = cfg->env_take_profit_atr;
    p->reward_w_return = cfg->env_reward_return_weight;
    p->reward_w_sharpe = cfg->env_reward_sharpe_weight;
    p->reward_vol_window = (int)cfg->env_reward_vol_window;
    p->reward_scale = cfg->env_reward_scale;
    p->bankrupt_frac = cfg->env_bankrupt_fraction;
    p->bankrupt_penalty = cfg->env_bankrupt_penalty;
    p->max_drawdown = cfg->env_max_drawdown;
    p->drawdown_penalty = cfg->env_drawdown_penalty;
    int rc = xt_env_params_validate(p, err);
    if (rc) return xt_err_prefix(err, "%s", cfg->path[0] ? cfg->path : "(config)");
    return 0;
}

// ---- caches

int xt_shards_fold_count(const xt_config *cfg, int *n, xt_err *err) {
    xt_fold folds[XT_MAX_FOLDS];
    return xt_dataset_folds(folds, n, cfg, err);
}

static void s_progress(void *arg, const char *line) {
    (void)arg;
    if (strstr(line, "up to date")) xt_debug("%s", line);
    else xt_info("%s", line);
}

// Market view of a mapped cache.
static void s_market(xt_env_market *m, const xt_fcache *c) {
    memset(m, 0, sizeof *m);
    m->k = c->k, m->n = c->n, m->tf_sec = c->tf_sec, m->ts = c->ts;
    for (int a = 0; a < c->k; a++) {
        m->open[a] = c->open[a], m->high[a] = c->high[a], m->low[a] = c->low[a];
        m->close[a] = c->close[a], m->atr[a] = c->atr[a], m->stale[a] = c->stale[a];
        m->cal[a] = c->cal[a];
        snprintf(m->symbol[a], sizeof m->symbol[a], "%s", c->symbol[a]);
        m->vol_baseline[a] = c->vol_baseline[a];
    }
    m->feat = c->feat, m->n_feat = c->n_feat, m->first_row = c->first_row;
}

// A window with fewer than 2 usable rows cannot hold an episode.
static int s_check_window(const xt_rl_shard *s, int w, const xt_fold *f, xt_err *err) {
    if (xt_rl_window_usable(s, w)) return 0;
    int64_t t0 = w == XT_RL_TRAIN ? f->train_start : (w == XT_RL_VAL ? f->val_start : f->test_start);
    int64_t t1 = w == XT_RL_TRAIN ? f->val_start : (w == XT_RL_VAL ? f->train_end : f->test_end);
    char a[32], b[32], c[32];
    const xt_env_market *m = s->m;
    return xt_err_set(err, XT_EINVAL,
                      "fold %d: shard %s: %s window %s..%s has fewer than 2 usable rows (first usable bar %s); "
                      "widen the window or move data.start earlier",
                      f->index, s->name, xt_rl_window_name(w), xt_time_format(t0, a), xt_time_format(t1, b),
                      m->first_row < m->n ? xt_time_format(m->ts[m->first_row], c) : "none");
}

int xt_shards_open(xt_shards **out, const xt_config *cfg, int fold, int build, xt_err *err) {
    *out = NULL;
    xt_fold folds[XT_MAX_FOLDS];
    int nf = 0, rc = xt_dataset_folds(folds, &nf, cfg, err);
    if (rc) return rc;
    if (fold < 0 || fold >= nf)
        return xt_err_set(err, XT_EINVAL, "fold %d does not exist (the config's plan has %d fold%s: 0..%d)", fold,
                          nf, nf == 1 ? "" : "s", nf - 1);
    if (build) {
        xt_dataset_stats st;
        if ((rc = xt_dataset_build(cfg, 0, &st, s_progress, NULL, err))) return rc;
    }
    xt_shards *self = calloc(1, sizeof *self);
    if (!self) return xt_err_set(err, XT_ENOMEM, "shards: out of memory");
    self->fold = folds[fold];
    int port = cfg->env_kind == XT_ENV_KIND_PORTFOLIO;
    int nsym = port ? 1 : cfg->data_symbols.n;
    for (int ti = 0; ti < cfg->data_timeframes.n && rc == 0; ti++) {
        int tf = (int)cfg->data_timeframes.v[ti];
        for (int si = 0; si < nsym && rc == 0; si++) {
            const char *sym = port ? "portfolio" : cfg->data_symbols.v[si];
            char path[600], tfn[16];
            xt_dataset_cache_path(path, sizeof path, cfg, sym, tf, fold);
            int i = self->n;
            if ((rc = xt_fcache_open(&self->cache[i], path, err))) break;
            self->n++;
            xt_fcache *c = &self->cache[i];
            if (c->kind != (port ? XT_FCACHE_PORTFOLIO : XT_FCACHE_ASSET) || c->fold != fold || c->tf_sec != tf) {
                rc = xt_err_set(err, XT_EINVAL, "%s: cache is for another env kind, fold or timeframe; rebuild it",
                                path);
                break;
            }
            s_market(&self->market[i], c);
            xt_rl_shard *s = &self->shard[i];
            snprintf(s->symbol, sizeof s->symbol, "%s", sym);
            snprintf(s->name, sizeof s->name, "%s-%s", sym, xt_timeframe_name(tf, tfn));
            s->tf_sec = tf, s->symbol_id = port ? 0 : si, s->tf_id = ti;
            s->m = &self->market[i];
            s->n_norm = c->n_feat;
            s->norm_center = c->center, s->norm_scale = c->scale, s->norm_scaled = c->scaled;
            xt_rl_shard_windows(s, &self->fold);
            if ((rc = s_check_window(s, XT_RL_TRAIN, &self->fold, err))) break;
            if ((rc = s_check_window(s, XT_RL_TEST, &self->fold, err))) break;
        }
    }
    if (rc) {
        xt_shards_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void xt_shards_destroy(xt_shards **self_p) {
    if (!self_p || !*self_p) return;
    xt_shards *self = *self_p;
    for (int i = 0; i < self->n; i++) xt_fcache_close(&self->cache[i]);
    free(self);
    *self_p = NULL;
}

int xt_shards_count(const xt_shards *self) { return self->n; }
const xt_rl_shard *xt_shards_list(const xt_shards *self) { return self->shard; }
const xt_fold *xt_shards_fold(const xt_shards *self) { return &self->fold; }
