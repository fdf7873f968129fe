// envparams.c - defaults (seed 003 values) and range checks of xt_env_params.
//
// The defaults are the single source of the numbers the docs quote
// (docs/environments.md). Validation messages name the field with an "env."
// prefix so the config layer can prepend "file:line: ". Pure functions.
#include "envparams.h"

#include <math.h>
#include <string.h>

// ---- defaults

void xt_env_params_default(xt_env_params *p) {
    memset(p, 0, sizeof(*p));
    p->episode_length = 2048;
    p->initial_cash = 10000.0;

    static const double lv[5] = {-1.0, -0.5, 0.0, 0.5, 1.0};
    p->n_levels = 5;
    memcpy(p->levels, lv, sizeof(lv));
    p->long_only = 0;
    p->symbol_encoding = XT_ENV_SYMBOL_ONEHOT;
    p->n_symbols = 1;
    p->n_timeframes = 1;

    // seed 003 §17.3: crypto taker 0.10%, forex spread 0.05%; equities a param.
    p->fee[XT_ASSET_CRYPTO] = 0.001;
    p->fee[XT_ASSET_FOREX] = 0.0005;
    p->fee[XT_ASSET_EQUITY] = 0.0005;
    p->slip_bps[XT_ASSET_CRYPTO] = 1.0;
    p->slip_bps[XT_ASSET_FOREX] = 0.5;
    p->slip_bps[XT_ASSET_EQUITY] = 1.0;
    p->slip_atr_k = 0.02;
    p->slip_lowliq_mult = 1.0;
    p->min_trade = 100.0;
    p->min_position = 100.0;

    p->stop_loss_atr = 2.0;
    p->take_profit_atr = 3.0;
    p->bankrupt_frac = 0.70;
    p->bankrupt_penalty = -50.0;
    p->max_drawdown = 0.30;
    p->drawdown_penalty = -30.0;

    p->max_weight = 0.40;
    p->min_cash = 0.05;
    p->max_positions = 0;
    p->corr_limit = 0.8;
    p->corr_window = 20;
    p->corr_cap = 0.40;
    p->logit_clip = 20.0;

    p->reward_w_return = 0.9;
    p->reward_w_sharpe = 0.1;
    p->reward_vol_window = 20;
    p->reward_vol_floor = 1e-4;
    p->reward_norm_floor = 0.1;
    p->reward_scale = 100.0;
    p->bars_per_year = 0.0;
}

void xt_env_setup_default(xt_env_setup *s, const xt_env_market *m) {
    memset(s, 0, sizeof(*s));
    s->row_begin = 0;
    s->row_end = m ? m->n : 0;
    s->n_envs = 1;
}

const char *xt_env_reason_name(int reason) {
    static const char *names[XT_ENV_REASON_COUNT] = {"none", "stop_loss", "take_profit", "drawdown", "bankrupt", "end"};
    return reason >= 0 && reason < XT_ENV_REASON_COUNT ? names[reason] : "unknown";
}

// ---- validation

// x must be finite and within [lo, hi].
static int s_range(xt_err *err, const char *field, double x, double lo, double hi) {
    if (isfinite(x) && x >= lo && x <= hi) return 0;
    return xt_err_set(err, XT_EINVAL, "env.%s: must be between %g and %g (got %g)", field, lo, hi, x);
}

static int s_irange(xt_err *err, const char *field, int x, int lo, int hi) {
    if (x >= lo && x <= hi) return 0;
    return xt_err_set(err, XT_EINVAL, "env.%s: must be between %d and %d (got %d)", field, lo, hi, x);
}

static int s_levels(const xt_env_params *p, xt_err *err) {
    int rc = s_irange(err, "levels", p->n_levels, 1, XT_ENV_MAX_LEVELS);
    if (rc) return rc;
    int zero = 0, kept = 0;
    for (int i = 0; i < p->n_levels; i++) {
        double x = p->levels[i];
        if (!(isfinite(x) && x >= -1.0 && x <= 1.0))
            return xt_err_set(err, XT_EINVAL, "env.levels[%d]: must be between -1 and 1 (got %g)", i, x);
        for (int j = 0; j < i; j++)
            if (p->levels[j] == x) return xt_err_set(err, XT_EINVAL, "env.levels[%d]: duplicate level %g", i, x);
        zero += x == 0.0;
        kept += !(p->long_only && x < 0.0);
    }
    if (!zero) return xt_err_set(err, XT_EINVAL, "env.levels: must contain 0 (the flat position after a stop)");
    if (kept < 2) return xt_err_set(err, XT_EINVAL, "env.levels: fewer than 2 levels remain with long_only");
    return 0;
}

int xt_env_params_validate(const xt_env_params *p, xt_err *err) {
    int rc = 0;
    if ((rc = s_irange(err, "episode_length", p->episode_length, 1, 1 << 30))) return rc;
    if ((rc = s_range(err, "initial_cash", p->initial_cash, 1e-6, 1e15))) return rc;
    if ((rc = s_levels(p, err))) return rc;
    if ((rc = s_irange(err, "symbol_encoding", p->symbol_encoding, 0, 1))) return rc;
    if ((rc = s_irange(err, "n_symbols", p->n_symbols, 1, 1 << 16))) return rc;
    if ((rc = s_irange(err, "n_timeframes", p->n_timeframes, 0, 64))) return rc;
    static const char *fee_names[XT_ASSET_COUNT] = {"fee.crypto", "fee.forex", "fee.equity"};
    static const char *slip_names[XT_ASSET_COUNT] = {"slip_bps.crypto", "slip_bps.forex", "slip_bps.equity"};
    for (int c = 0; c < XT_ASSET_COUNT; c++) {
        if ((rc = s_range(err, fee_names[c], p->fee[c], 0.0, 0.1))) return rc;
        if ((rc = s_range(err, slip_names[c], p->slip_bps[c], 0.0, 1000.0))) return rc;
    }
    if ((rc = s_range(err, "slip_atr_k", p->slip_atr_k, 0.0, 10.0))) return rc;
    if ((rc = s_range(err, "slip_lowliq_mult", p->slip_lowliq_mult, 0.0, 100.0))) return rc;
    if ((rc = s_range(err, "min_trade", p->min_trade, 0.0, 1e15))) return rc;
    if ((rc = s_range(err, "min_position", p->min_position, 0.0, 1e15))) return rc;
    if ((rc = s_range(err, "stop_loss_atr", p->stop_loss_atr, -1e9, 1e9))) return rc;
    if ((rc = s_range(err, "take_profit_atr", p->take_profit_atr, -1e9, 1e9))) return rc;
    if ((rc = s_range(err, "bankrupt_frac", p->bankrupt_frac, 0.0, 1.0))) return rc;
    if ((rc = s_range(err, "bankrupt_penalty", p->bankrupt_penalty, -1e9, 1e9))) return rc;
    if ((rc = s_range(err, "max_drawdown", p->max_drawdown, 1e-9, 1.0))) return rc;
    if ((rc = s_range(err, "drawdown_penalty", p->drawdown_penalty, -1e9, 1e9))) return rc;
    if ((rc = s_range(err, "max_weight", p->max_weight, 0.0, 1.0))) return rc;
    for (int a = 0; a < XT_ENV_MAX_ASSETS; a++)
        if (!(isfinite(p->asset_max_weight[a]) && p->asset_max_weight[a] >= 0.0 && p->asset_max_weight[a] <= 1.0))
            return xt_err_set(err, XT_EINVAL, "env.asset_max_weight[%d]: must be between 0 and 1 (got %g)", a,
                              p->asset_max_weight[a]);
    if (!(isfinite(p->min_cash) && p->min_cash >= 0.0 && p->min_cash < 1.0))
        return xt_err_set(err, XT_EINVAL, "env.min_cash: must be in [0, 1) (got %g)", p->min_cash);
    if ((rc = s_irange(err, "max_positions", p->max_positions, 0, XT_ENV_MAX_ASSETS))) return rc;
    if ((rc = s_range(err, "corr_limit", p->corr_limit, -1.0, 1.0))) return rc;
    if ((rc = s_irange(err, "corr_window", p->corr_window, 2, XT_ENV_MAX_CORR_WINDOW))) return rc;
    if ((rc = s_range(err, "corr_cap", p->corr_cap, 0.0, 1.0))) return rc;
    if ((rc = s_range(err, "logit_clip", p->logit_clip, 1e-3, 80.0))) return rc;
    if ((rc = s_range(err, "reward_w_return", p->reward_w_return, -1e6, 1e6))) return rc;
    if ((rc = s_range(err, "reward_w_sharpe", p->reward_w_sharpe, -1e6, 1e6))) return rc;
    if ((rc = s_irange(err, "reward_vol_window", p->reward_vol_window, 2, XT_ENV_MAX_VOL_WINDOW))) return rc;
    if ((rc = s_range(err, "reward_vol_floor", p->reward_vol_floor, 1e-12, 1.0))) return rc;
    if ((rc = s_range(err, "reward_norm_floor", p->reward_norm_floor, 1e-6, 1e6))) return rc;
    if ((rc = s_range(err, "reward_scale", p->reward_scale, -1e9, 1e9))) return rc;
    if ((rc = s_range(err, "bars_per_year", p->bars_per_year, 0.0, 1e9))) return rc;
    return 0;
}
