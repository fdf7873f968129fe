// envmarket.c - validation of the market data an env is built on.
//
// Invariant checked here once, at env construction, so the step path never
// tests for NaN or bad prices: every row an episode can touch (the usable rows
// [max(row_begin, first_row), row_end)) has finite positive prices, a finite
// ATR and finite features. Pure functions; any thread.
#include "envmarket.h"

#include <math.h>

// ---- annualisation

double xt_env_bars_per_year(int tf_sec) { return tf_sec > 0 ? 365.0 * 86400.0 / (double)tf_sec : 0.0; }

// ---- validation

static int s_price_ok(double x) { return isfinite(x) && x > 0.0; }

static int s_check_asset(const xt_env_market *m, int a, int64_t r0, int64_t r1, xt_err *err) {
    const char *sym = m->symbol[a];
    if (!m->open[a] || !m->high[a] || !m->low[a] || !m->close[a] || !m->atr[a])
        return xt_err_set(err, XT_EINVAL, "env market: asset %d (%s): open/high/low/close/atr must all be set", a, sym);
    if (!(isfinite(m->vol_baseline[a]) && m->vol_baseline[a] > 0.0))
        return xt_err_set(err, XT_EINVAL, "env market: vol_baseline[%s] must be finite and > 0 (got %g)", sym,
                          m->vol_baseline[a]);
    for (int64_t r = r0; r < r1; r++) {
        double o = m->open[a][r], h = m->high[a][r], l = m->low[a][r], c = m->close[a][r];
        if (!s_price_ok(o) || !s_price_ok(h) || !s_price_ok(l) || !s_price_ok(c))
            return xt_err_set(err, XT_EINVAL,
                              "env market: %s row %lld: prices must be finite and > 0 (o=%g h=%g l=%g c=%g)", sym,
                              (long long)r, o, h, l, c);
        if (h < o || h < c || l > o || l > c || l > h)
            return xt_err_set(err, XT_EINVAL,
                              "env market: %s row %lld: high/low do not envelope open/close (o=%g h=%g l=%g c=%g)",
                              sym, (long long)r, o, h, l, c);
        double atr = m->atr[a][r];
        if (!(isfinite(atr) && atr >= 0.0))
            return xt_err_set(err, XT_EINVAL, "env market: %s row %lld: atr must be finite and >= 0 (got %g)", sym,
                              (long long)r, atr);
    }
    return 0;
}

int xt_env_market_validate(const xt_env_market *m, int64_t row_begin, int64_t row_end, xt_err *err) {
    if (!m) return xt_err_set(err, XT_EINVAL, "env market: NULL market");
    if (m->k < 1 || m->k > XT_ENV_MAX_ASSETS)
        return xt_err_set(err, XT_EINVAL, "env market: k must be between 1 and %d (got %d)", XT_ENV_MAX_ASSETS, m->k);
    if (m->tf_sec <= 0) return xt_err_set(err, XT_EINVAL, "env market: tf_sec must be > 0 (got %d)", m->tf_sec);
    if (m->n_feat < 0 || (m->n_feat > 0 && !m->feat))
        return xt_err_set(err, XT_EINVAL, "env market: n_feat is %d but feat is %s", m->n_feat,
                          m->feat ? "set" : "NULL");
    if (!m->ts) return xt_err_set(err, XT_EINVAL, "env market: ts must be set");
    if (row_begin < 0 || row_end > m->n || row_begin >= row_end)
        return xt_err_set(err, XT_EINVAL, "env market: window [%lld, %lld) is not inside [0, %lld)",
                          (long long)row_begin, (long long)row_end, (long long)m->n);
    int64_t r0 = row_begin > m->first_row ? row_begin : m->first_row;
    if (m->first_row < 0 || r0 > row_end - 2)
        return xt_err_set(err, XT_EINVAL,
                          "env market: window [%lld, %lld) has fewer than 2 usable rows at or after first_row %lld",
                          (long long)row_begin, (long long)row_end, (long long)m->first_row);
    for (int64_t r = row_begin + 1; r < row_end; r++)
        if (m->ts[r] <= m->ts[r - 1])
            return xt_err_set(err, XT_EINVAL, "env market: ts must be strictly increasing (row %lld: %lld after %lld)",
                              (long long)r, (long long)m->ts[r], (long long)m->ts[r - 1]);
    for (int a = 0; a < m->k; a++) {
        int rc = s_check_asset(m, a, r0, row_end, err);
        if (rc) return rc;
    }
    // Features of every usable row must be finite (warm-up rows are before first_row).
    for (int64_t r = r0; r < row_end; r++) {
        const float *f = m->feat + r * m->n_feat;
        for (int j = 0; j < m->n_feat; j++)
            if (!isfinite(f[j]))
                return xt_err_set(err, XT_EINVAL, "env market: feat[row %lld][col %d] is not finite (got %g)",
                                  (long long)r, j, (double)f[j]);
    }
    return 0;
}
