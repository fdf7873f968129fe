// baseline.c - fixed-action drivers of the envs for the baseline metrics.
//
// Each call builds a one-env eval batch, steps it until its episode ends and
// copies the episode metrics out; buffers are allocated per call (this is
// report-time code, not a hot path). Any thread.
#include "baseline.h"

#include "asset_env.h"
#include "portfolio_env.h"

#include <stdlib.h>
#include <string.h>

const char *xt_baseline_name(xt_baseline_kind kind) {
    switch (kind) {
    case XT_BASELINE_BUY_HOLD: return "buy_hold";
    case XT_BASELINE_EQUAL_WEIGHT: return "equal_weight";
    case XT_BASELINE_CASH: return "cash";
    default: return "unknown";
    }
}

// Params of the run: risk_rules = 0 disables stops, take-profits and terminal rules.
static void s_params(xt_env_params *q, const xt_env_params *p, int risk_rules) {
    *q = *p;
    if (risk_rules) return;
    q->stop_loss_atr = 0.0, q->take_profit_atr = 0.0;
    q->bankrupt_frac = 0.0, q->max_drawdown = 1.0;
}

static void s_setup(xt_env_setup *s, const xt_env_market *m, int64_t row_begin, int64_t row_end, int asset) {
    xt_env_setup_default(s, m);
    s->row_begin = row_begin, s->row_end = row_end, s->eval = 1, s->asset = asset;
}

// ---- asset env

int xt_baseline_asset(const xt_env_market *m, const xt_env_params *p, int64_t row_begin, int64_t row_end, int asset,
                      xt_baseline_kind kind, int risk_rules, xt_metrics *out, xt_err *err) {
    if ((int)kind < 0 || kind >= XT_BASELINE_COUNT)
        return xt_err_set(err, XT_EINVAL, "baseline: unknown kind %d", (int)kind);
    xt_env_params q;
    xt_env_setup s;
    s_params(&q, p, risk_rules);
    s_setup(&s, m, row_begin, row_end, asset);
    q.symbol_encoding = XT_ENV_SYMBOL_ID; // encodings do not matter to a fixed action
    xt_asset_env *e = NULL;
    int rc = xt_asset_env_new(&e, m, &q, &s, err);
    if (rc) return rc;
    int od = xt_asset_env_obs_dim(&q, m), na = xt_asset_env_n_actions(&q);
    float *obs = calloc((size_t)od, sizeof(float)), rew = 0.0f;
    uint8_t *mask = calloc((size_t)na, 1), term = 0, trunc = 0;
    if (!obs || !mask) {
        rc = xt_err_set(err, XT_ENOMEM, "baseline: out of memory");
        goto done;
    }
    int32_t act = xt_asset_env_flat_action(e);
    if (kind != XT_BASELINE_CASH)
        for (int j = 0; j < na; j++)
            if (xt_asset_env_level(e, j) > xt_asset_env_level(e, act)) act = j;
    xt_env_io io = {obs, &rew, &term, &trunc, mask, NULL};
    xt_asset_env_reset(e, obs, mask);
    while (xt_asset_env_episodes(e, 0) == 0) xt_asset_env_step(e, &act, &io, NULL);
    *out = *xt_asset_env_episode_metrics(e, 0);
done:
    free(obs);
    free(mask);
    xt_asset_env_destroy(&e);
    return rc;
}

// ---- portfolio env

int xt_baseline_portfolio(const xt_env_market *m, const xt_env_params *p, int64_t row_begin, int64_t row_end,
                          xt_baseline_kind kind, int rebalance_every, int risk_rules, xt_metrics *out, xt_err *err) {
    if ((int)kind < 0 || kind >= XT_BASELINE_COUNT)
        return xt_err_set(err, XT_EINVAL, "baseline: unknown kind %d", (int)kind);
    if (rebalance_every < 1)
        return xt_err_set(err, XT_EINVAL, "baseline: rebalance_every must be >= 1 (got %d)", rebalance_every);
    xt_env_params q;
    xt_env_setup s;
    s_params(&q, p, risk_rules);
    s_setup(&s, m, row_begin, row_end, 0);
    xt_portfolio_env *e = NULL;
    int rc = xt_portfolio_env_new(&e, m, &q, &s, err);
    if (rc) return rc;
    int K = m->k, od = xt_portfolio_env_obs_dim(m);
    float *obs = calloc((size_t)od, sizeof(float)), rew = 0.0f;
    uint8_t *mask = calloc((size_t)K + 1, 1), term = 0, trunc = 0;
    xt_portfolio_info *info = calloc(1, sizeof(*info));
    if (!obs || !mask || !info) {
        rc = xt_err_set(err, XT_ENOMEM, "baseline: out of memory");
        goto done;
    }
    double w[XT_PF_W], target = (1.0 - q.min_cash) / K;
    int bought[XT_ENV_MAX_ASSETS] = {0};
    xt_env_io io = {obs, &rew, &term, &trunc, mask, NULL};
    xt_portfolio_env_reset(e, obs, mask);
    for (int64_t step = 0; xt_portfolio_env_episodes(e, 0) == 0; step++) {
        for (int a = 0; a < K; a++) {
            switch (kind) {
            case XT_BASELINE_CASH: w[a] = 0.0; break;
            case XT_BASELINE_EQUAL_WEIGHT: w[a] = step % rebalance_every == 0 ? target : -1.0; break;
            default: w[a] = bought[a] ? -1.0 : target; break;
            }
        }
        w[K] = kind == XT_BASELINE_CASH ? 1.0 : q.min_cash;
        xt_portfolio_env_step_weights(e, w, &io, info);
        for (int a = 0; a < K; a++) bought[a] |= info->fill_units[a] > 0.0;
    }
    *out = *xt_portfolio_env_episode_metrics(e, 0);
done:
    free(obs);
    free(mask);
    free(info);
    xt_portfolio_env_destroy(&e);
    return rc;
}
