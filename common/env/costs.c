// costs.c - per-row tables of an env batch: action-mask bits, slippage, clusters.
//
// Built once at batch construction from the market and params; owned by the
// batch and read-only on the step path (which therefore never calls the
// calendar, never divides atr by close and never looks at stale flags).
// Row r of a table describes the decision made at row row0 + r and the fill
// at bar row0 + r + 1; the next bar's open time is ts[r+1] (rows always
// exist up to row_end - 1; the window's last row is never a decision row).
#include "costs.h"

#include "risk.h"

#include <stdlib.h>
#include <string.h>

// ---- slippage

// Open time of the bar after row r (the fill bar); one timeframe later past the data.
static int64_t s_next_ts(const xt_env_market *m, int64_t r) {
    return r + 1 < m->n ? m->ts[r + 1] : m->ts[r] + m->tf_sec;
}

double xt_cost_slip(const xt_env_market *m, int a, int64_t r, const xt_env_params *p) {
    xt_asset_class cls = m->cal[a].cls;
    double s = p->slip_bps[cls] * 1e-4 + p->slip_atr_k * m->atr[a][r] / m->close[a][r];
    if (cls == XT_ASSET_CRYPTO && xt_calendar_low_liquidity(s_next_ts(m, r))) s *= p->slip_lowliq_mult;
    // A NaN (warm-up row) or absurd value never reaches a fill.
    if (!(s >= 0.0)) s = 0.0;
    return s > 0.5 ? 0.5 : s;
}

// ---- tables

int xt_env_tables_init(xt_env_tables *t, const xt_env_market *m, int64_t row_begin, int64_t row_end,
                       const int *assets, int k, const xt_env_params *p, int clusters, xt_err *err) {
    memset(t, 0, sizeof(*t));
    if (k < 1 || k > XT_ENV_MAX_ASSETS)
        return xt_err_set(err, XT_EINVAL, "env tables: asset count must be between 1 and %d (got %d)",
                          XT_ENV_MAX_ASSETS, k);
    t->row0 = row_begin;
    t->nrows = row_end - row_begin;
    t->k = k;
    for (int j = 0; j < k; j++) {
        t->asset[j] = assets[j];
        t->fee[j] = p->fee[m->cal[assets[j]].cls];
    }
    size_t nr = (size_t)t->nrows;
    t->tradable = calloc(nr, sizeof(uint16_t));
    t->px = calloc((nr + 1) * (size_t)k, sizeof(xt_env_px));
    if (!t->tradable || !t->px) goto nomem;

    for (int64_t r = 0; r + 1 < t->nrows; r++) {
        int64_t next = row_begin + r + 1;
        uint16_t bits = 0;
        for (int j = 0; j < k; j++) {
            int a = assets[j];
            int open = xt_calendar_tradable(&m->cal[a], m->ts[next]);
            int stale = m->stale[a] ? m->stale[a][next] != 0 : 0;
            if (open && !stale) bits |= (uint16_t)(1u << j);
        }
        t->tradable[r] = bits;
    }
    // Row r: bar row0 + r's prices with the slippage and ATR of decision row row0 + r - 1.
    for (int64_t r = 0; r <= t->nrows; r++) {
        int64_t row = row_begin + r, dec = row - 1;
        for (int j = 0; j < k; j++) {
            int a = assets[j];
            xt_env_px *x = &t->px[(size_t)r * (size_t)k + (size_t)j];
            if (r < t->nrows) {
                x->o = m->open[a][row], x->h = m->high[a][row];
                x->l = m->low[a][row], x->c = m->close[a][row];
            }
            if (dec >= 0) x->slip = xt_cost_slip(m, a, dec, p), x->atr = m->atr[a][dec];
        }
    }

    if (clusters && p->corr_limit < 1.0 && k > 1) {
        t->cluster = malloc(nr * (size_t)k);
        t->clustered = malloc(nr);
        if (!t->cluster || !t->clustered) goto nomem;
        if (xt_risk_corr_clusters(t->cluster, t->clustered, m, assets, k, row_begin, t->nrows, p->corr_window,
                                  p->corr_limit))
            goto nomem;
    }
    return 0;
nomem:
    xt_env_tables_free(t);
    return xt_err_set(err, XT_ENOMEM, "env tables: out of memory for %lld rows x %d assets", (long long)nr, k);
}

void xt_env_tables_free(xt_env_tables *t) {
    if (!t) return;
    free(t->tradable);
    free(t->px);
    free(t->cluster);
    free(t->clustered);
    memset(t, 0, sizeof(*t));
}
