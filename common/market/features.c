// features.c - builds the seed 003 §4 feature set on a shared timeline.
//
// Steps per asset: resample base bars to the env timeframe, 4h and 1d;
// compute the indicators on each; join 4h/1d values to env-timeframe rows
// through the closed-bar index (a higher bar contributes only once closed).
// Then all assets are laid on the union of their bar times: an asset without
// a bar at a time carries its last values forward and is flagged stale.
// Cross-asset and time features are computed on that timeline.
// Everything the result holds lives in one allocation (f->mem); scratch
// memory is freed before returning. Single-threaded; not a hot path.
#include "features.h"

#include "indicators.h"
#include "resample.h"

#include "../core/xtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

static const char *s_market_names[XT_FEAT_MARKET] = {
    "logret",   "ema50_dist",    "atr_pct",       "bb_width",       "rsi",
    "macd_hist_pct", "vol_ratio", "adx",          "4h_rsi",         "4h_ema50_dist",
    "4h_atr_pct", "1d_ema200_dist", "1d_rsi",
};
static const char *s_time_names[3] = {"sin_hour", "cos_hour", "day_of_week"};
static const char *s_sess_names[5] = {"tradable", "session_tokyo", "session_london", "session_newyork",
                                      "low_liquidity"};
static const char *s_cross_names[2] = {"btc_eth_corr", "crypto_forex_divergence"};

// ---------------------------------------------------------------- per asset

// Market features of one asset on its own env-timeframe bars.
typedef struct {
    xt_bars tf;     // env timeframe bars (own timeline)
    float *feat;    // [tf.n][13]
    double *atr;    // [tf.n] ATR(14) in price units
} s_asset;

static void s_asset_free(s_asset *a) {
    xt_bars_free(&a->tf);
    free(a->feat);
    free(a->atr);
}

// Resamples unless the target equals the base timeframe (then copies).
static int s_to_tf(xt_bars *out, const xt_bars *base, int tf, xt_err *err) {
    if (tf == base->tf_sec) {
        int rc = xt_bars_init(out, base->symbol, tf, base->n, err);
        if (rc) return rc;
        out->cal = base->cal;
        for (int64_t i = 0; i < base->n; i++)
            xt_bars_push(out, base->ts[i], base->open[i], base->high[i], base->low[i], base->close[i],
                         base->volume[i], err);
        return 0;
    }
    int rc = xt_resample(out, base, tf, err);
    if (rc == 0) out->cal = base->cal;
    return rc;
}

static double s_div(double a, double b) { return b != 0 && isfinite(a) && isfinite(b) ? a / b : NAN; }

static int s_asset_build(s_asset *a, const xt_bars *base, int tf, xt_err *err) {
    memset(a, 0, sizeof *a);
    xt_bars h4 = {0}, d1 = {0};
    double *w = NULL;
    int64_t *j4 = NULL, *jd = NULL;
    int rc = s_to_tf(&a->tf, base, tf, err);
    if (!rc) rc = s_to_tf(&h4, base, 4 * 3600 < base->tf_sec ? base->tf_sec : 4 * 3600, err);
    if (!rc) rc = s_to_tf(&d1, base, 86400 < base->tf_sec ? base->tf_sec : 86400, err);
    if (rc) goto out;
    int64_t m = a->tf.n, n4 = h4.n, nd = d1.n;
    // Scratch: 14 series on the env timeframe, 3 on 4h, 2 on 1d.
    w = malloc(sizeof(double) * (size_t)(14 * m + 3 * n4 + 2 * nd + 3));
    j4 = malloc(sizeof(int64_t) * (size_t)(m + 1));
    jd = malloc(sizeof(int64_t) * (size_t)(m + 1));
    a->feat = malloc(sizeof(float) * (size_t)(m * XT_FEAT_MARKET + 1));
    a->atr = malloc(sizeof(double) * (size_t)(m + 1));
    if (!w || !j4 || !jd || !a->feat || !a->atr) {
        rc = xt_err_set(err, XT_ENOMEM, "%s: out of memory building features for %lld bars", base->symbol,
                        (long long)m);
        goto out;
    }
    double *ema50 = w, *bbl = w + m, *bbm = w + 2 * m, *bbu = w + 3 * m, *bbw = w + 4 * m, *rsi = w + 5 * m;
    double *macd = w + 6 * m, *sig = w + 7 * m, *hist = w + 8 * m, *vsma = w + 9 * m, *adx = w + 10 * m;
    double *pdi = w + 11 * m, *mdi = w + 12 * m, *atr = a->atr;
    double *rsi4 = w + 14 * m, *ema4 = rsi4 + n4, *atr4 = ema4 + n4, *ema200d = atr4 + n4, *rsid = ema200d + nd;
    const xt_bars *b = &a->tf;
    // Base-timeframe indicators (TA-Lib definitions, indicators.h).
    xt_ind_ema(ema50, b->close, m, 50);
    xt_ind_atr(atr, b->high, b->low, b->close, m, 14);
    xt_ind_bbands(bbl, bbm, bbu, bbw, b->close, m, 20, 2.0);
    xt_ind_rsi(rsi, b->close, m, 14);
    xt_ind_macd(macd, sig, hist, b->close, m, 12, 26, 9);
    xt_ind_sma(vsma, b->volume, m, 20);
    xt_ind_adx(adx, pdi, mdi, b->high, b->low, b->close, m, 14);
    // Context timeframes.
    xt_ind_rsi(rsi4, h4.close, n4, 14);
    xt_ind_ema(ema4, h4.close, n4, 50);
    xt_ind_atr(atr4, h4.high, h4.low, h4.close, n4, 14);
    xt_ind_ema(ema200d, d1.close, nd, 200);
    xt_ind_rsi(rsid, d1.close, nd, 14);
    xt_resample_closed_index(j4, b, &h4);
    xt_resample_closed_index(jd, b, &d1);
    for (int64_t i = 0; i < m; i++) {
        float *f = a->feat + i * XT_FEAT_MARKET;
        double c = b->close[i];
        double vr = vsma[i] > 0 ? b->volume[i] / vsma[i] : (isfinite(vsma[i]) ? 1.0 : NAN);
        f[0] = (float)(i > 0 ? log(c / b->close[i - 1]) : NAN);
        f[1] = (float)s_div(c - ema50[i], ema50[i]);
        f[2] = (float)s_div(atr[i], c);
        f[3] = (float)bbw[i];
        f[4] = (float)(rsi[i] / 100.0);
        f[5] = (float)s_div(hist[i], c);
        f[6] = (float)vr;
        f[7] = (float)(adx[i] / 100.0);
        int64_t k4 = j4[i], kd = jd[i];
        f[8] = (float)(k4 >= 0 ? rsi4[k4] / 100.0 : NAN);
        f[9] = (float)(k4 >= 0 ? s_div(c - ema4[k4], ema4[k4]) : NAN);
        f[10] = (float)(k4 >= 0 ? s_div(atr4[k4], c) : NAN);
        f[11] = (float)(kd >= 0 ? s_div(c - ema200d[kd], ema200d[kd]) : NAN);
        f[12] = (float)(kd >= 0 ? rsid[kd] / 100.0 : NAN);
    }
out:
    free(w);
    free(j4);
    free(jd);
    xt_bars_free(&h4);
    xt_bars_free(&d1);
    if (rc) s_asset_free(a);
    return rc;
}

// ---------------------------------------------------------------- timeline

// Sorted union of every asset's bar times.
static int64_t s_union(int64_t *out, const s_asset *as, int k) {
    int64_t pos[XT_FEAT_MAX_ASSETS] = {0}, n = 0;
    for (;;) {
        int64_t t = INT64_MAX;
        for (int a = 0; a < k; a++)
            if (pos[a] < as[a].tf.n && as[a].tf.ts[pos[a]] < t) t = as[a].tf.ts[pos[a]];
        if (t == INT64_MAX) return n;
        out[n++] = t;
        for (int a = 0; a < k; a++)
            if (pos[a] < as[a].tf.n && as[a].tf.ts[pos[a]] == t) pos[a]++;
    }
}

static int s_is(const char *sym, const char *prefix) { return strncasecmp(sym, prefix, strlen(prefix)) == 0; }

// Rolling Pearson correlation of two return series over w rows ending at r.
static double s_corr(const double *x, const double *y, int64_t r, int w) {
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int64_t i = r - w + 1; i <= r; i++) {
        sx += x[i], sy += y[i], sxx += x[i] * x[i], syy += y[i] * y[i], sxy += x[i] * y[i];
    }
    double cov = sxy - sx * sy / w, vx = sxx - sx * sx / w, vy = syy - sy * sy / w;
    if (!(vx > 1e-300) || !(vy > 1e-300)) return 0.0; // a flat window has no correlation
    double c = cov / sqrt(vx * vy);
    return c > 1 ? 1 : (c < -1 ? -1 : c);
}

static void s_cross(xt_features *f, const xt_features_opts *o) {
    int64_t n = f->n;
    int btc = -1, eth = -1, w = o->corr_window, mw = o->momentum_window;
    for (int a = 0; a < f->k; a++) {
        if (f->cal[a].cls == XT_ASSET_CRYPTO && (s_is(f->symbol[a], "BTC") || s_is(f->symbol[a], "XBT"))) btc = a;
        if (f->cal[a].cls == XT_ASSET_CRYPTO && s_is(f->symbol[a], "ETH")) eth = a;
    }
    // Returns on the shared timeline (stale rows have zero return).
    double *rb = NULL, *re = NULL;
    if (btc >= 0 && eth >= 0) {
        rb = calloc((size_t)n + 1, sizeof(double));
        re = calloc((size_t)n + 1, sizeof(double));
    }
    for (int64_t r = 1; rb && re && r < n; r++) {
        rb[r] = log(f->close[btc][r] / f->close[btc][r - 1]);
        re[r] = log(f->close[eth][r] / f->close[eth][r - 1]);
        if (!isfinite(rb[r])) rb[r] = 0;
        if (!isfinite(re[r])) re[r] = 0;
    }
    int64_t first = 0;
    for (int64_t r = 0; r < n; r++) {
        float *c = f->cross2 + r * 2;
        if (rb && re) c[0] = r >= w ? (float)s_corr(rb, re, r, w) : NAN;
        else c[0] = 0.0f; // no BTC/ETH pair in the universe: constant 0
        double mc = 0, mf = 0;
        int nc = 0, nf = 0, ok = r >= mw;
        for (int a = 0; a < f->k && ok; a++) {
            double m = log(f->close[a][r] / f->close[a][r - mw]);
            if (!isfinite(m)) continue;
            if (f->cal[a].cls == XT_ASSET_CRYPTO) mc += m, nc++;
            else if (f->cal[a].cls == XT_ASSET_FOREX) mf += m, nf++;
        }
        c[1] = !ok ? NAN : (nc && nf ? (float)(mc / nc - mf / nf) : 0.0f);
        if (!isfinite(c[0]) || !isfinite(c[1])) first = r + 1;
    }
    if (first > f->first_row_all) f->first_row_all = first;
    free(rb);
    free(re);
}

// ---------------------------------------------------------------- build

int xt_features_build(xt_features *f, const xt_bars *base, int k, int tf_sec, const xt_features_opts *o,
                      xt_err *err) {
    memset(f, 0, sizeof *f);
    if (k < 1 || k > XT_FEAT_MAX_ASSETS)
        return xt_err_set(err, XT_EINVAL, "features: %d assets (allowed 1..%d)", k, XT_FEAT_MAX_ASSETS);
    for (int a = 0; a < k; a++) {
        if (tf_sec % base[a].tf_sec != 0 || base[a].tf_sec != base[0].tf_sec)
            return xt_err_set(err, XT_EINVAL, "features: %s: timeframe %ds is not a multiple of its bars' %ds",
                              base[a].symbol, tf_sec, base[a].tf_sec);
        if (base[a].n < 2) return xt_err_set(err, XT_EINVAL, "features: %s: fewer than 2 bars", base[a].symbol);
    }
    s_asset as[XT_FEAT_MAX_ASSETS];
    int built = 0, rc = 0;
    int64_t total = 0;
    for (; built < k; built++) {
        rc = s_asset_build(&as[built], &base[built], tf_sec, err);
        if (rc) goto out;
        total += as[built].tf.n;
    }
    int64_t *grid = malloc(sizeof(int64_t) * (size_t)(total + 1));
    if (!grid) {
        rc = xt_err_set(err, XT_ENOMEM, "features: out of memory");
        goto out;
    }
    int64_t n = s_union(grid, as, k);
    // One allocation: ts, per asset 6 double arrays + 13 floats/row + stale, time and cross.
    size_t per_asset = (size_t)n * (6 * sizeof(double) + XT_FEAT_MARKET * sizeof(float) + 1);
    size_t bytes = (size_t)n * sizeof(int64_t) + (size_t)k * per_asset + (size_t)n * 5 * sizeof(float) + 64;
    char *mem = malloc(bytes);
    if (!mem) {
        free(grid);
        rc = xt_err_set(err, XT_ENOMEM, "features: cannot allocate %zu bytes", bytes);
        goto out;
    }
    f->mem = mem;
    f->k = k, f->tf_sec = tf_sec, f->n = n;
    f->ts = (int64_t *)mem;
    memcpy(f->ts, grid, sizeof(int64_t) * (size_t)n);
    free(grid);
    char *p = mem + (size_t)n * sizeof(int64_t);
    double **cols[6] = {f->open, f->high, f->low, f->close, f->volume, f->atr};
    // 8-byte arrays first, then 4-byte, then bytes: every array stays aligned.
    for (int a = 0; a < k; a++)
        for (int c = 0; c < 6; c++) cols[c][a] = (double *)p, p += (size_t)n * sizeof(double);
    for (int a = 0; a < k; a++) f->market[a] = (float *)p, p += (size_t)n * XT_FEAT_MARKET * sizeof(float);
    f->time3 = (float *)p, p += (size_t)n * 3 * sizeof(float);
    f->cross2 = (float *)p, p += (size_t)n * 2 * sizeof(float);
    for (int a = 0; a < k; a++) f->stale[a] = (uint8_t *)p, p += (size_t)n;

    // Lay each asset on the shared timeline: real bar, carried-forward row, or nothing yet.
    for (int a = 0; a < k; a++) {
        const s_asset *s = &as[a];
        snprintf(f->symbol[a], XT_SYMBOL_MAX, "%s", base[a].symbol);
        f->cal[a] = base[a].cal;
        int64_t j = -1, first = -1;
        for (int64_t r = 0; r < n; r++) {
            while (j + 1 < s->tf.n && s->tf.ts[j + 1] <= f->ts[r]) j++;
            int real = j >= 0 && s->tf.ts[j] == f->ts[r];
            float *mk = f->market[a] + r * XT_FEAT_MARKET;
            if (j < 0) {
                f->open[a][r] = f->high[a][r] = f->low[a][r] = f->close[a][r] = f->atr[a][r] = NAN;
                f->volume[a][r] = 0;
                for (int c = 0; c < XT_FEAT_MARKET; c++) mk[c] = NAN;
            } else if (real) {
                f->open[a][r] = s->tf.open[j], f->high[a][r] = s->tf.high[j], f->low[a][r] = s->tf.low[j];
                f->close[a][r] = s->tf.close[j], f->volume[a][r] = s->tf.volume[j], f->atr[a][r] = s->atr[j];
                memcpy(mk, s->feat + j * XT_FEAT_MARKET, sizeof(float) * XT_FEAT_MARKET);
            } else {
                double c = s->tf.close[j];
                f->open[a][r] = f->high[a][r] = f->low[a][r] = f->close[a][r] = c;
                f->volume[a][r] = 0, f->atr[a][r] = s->atr[j];
                memcpy(mk, s->feat + j * XT_FEAT_MARKET, sizeof(float) * XT_FEAT_MARKET);
                mk[0] = 0.0f; // no bar, no return
            }
            f->stale[a][r] = (uint8_t)!real;
            int ok = isfinite(f->atr[a][r]);
            for (int c = 0; c < XT_FEAT_MARKET && ok; c++) ok = isfinite(mk[c]);
            if (!ok) first = -1;
            else if (first < 0) first = r;
        }
        f->first_row[a] = first < 0 ? n : first;
        if (f->first_row[a] > f->first_row_all) f->first_row_all = f->first_row[a];
    }
    // Time features: fractional UTC hour on the circle; weekday scaled to [0, 1].
    for (int64_t r = 0; r < n; r++) {
        double h = xt_time_minute_of_day(f->ts[r]) / 60.0;
        f->time3[r * 3 + 0] = (float)sin(h * 2 * M_PI / 24);
        f->time3[r * 3 + 1] = (float)cos(h * 2 * M_PI / 24);
        f->time3[r * 3 + 2] = (float)(xt_time_weekday(f->ts[r]) / 6.0);
    }
    s_cross(f, o);
out:
    for (int a = 0; a < built; a++) s_asset_free(&as[a]);
    if (rc) xt_features_free(f);
    return rc;
}

void xt_features_free(xt_features *f) {
    free(f->mem);
    memset(f, 0, sizeof *f);
}

// ---------------------------------------------------------------- rows and names

int xt_features_portfolio_cols(int k) { return k * XT_FEAT_MARKET + 3 + k + 2; }

void xt_features_portfolio_names(const xt_features *f, char (*names)[XT_FEAT_NAME_MAX]) {
    int c = 0;
    for (int a = 0; a < f->k; a++) {
        char sym[XT_SYMBOL_MAX];
        int i = 0;
        for (; f->symbol[a][i] && i < XT_SYMBOL_MAX - 1; i++) sym[i] = (char)tolower((unsigned char)f->symbol[a][i]);
        sym[i] = '\0';
        for (int m = 0; m < XT_FEAT_MARKET; m++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s_%s", sym, s_market_names[m]);
    }
    for (int t = 0; t < 3; t++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s", s_time_names[t]);
    for (int a = 0; a < f->k; a++) {
        char sym[XT_SYMBOL_MAX];
        int i = 0;
        for (; f->symbol[a][i] && i < XT_SYMBOL_MAX - 1; i++) sym[i] = (char)tolower((unsigned char)f->symbol[a][i]);
        sym[i] = '\0';
        snprintf(names[c++], XT_FEAT_NAME_MAX, "is_%s_tradable", sym);
    }
    for (int x = 0; x < 2; x++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s", s_cross_names[x]);
}

void xt_features_asset_names(char (*names)[XT_FEAT_NAME_MAX]) {
    int c = 0;
    for (int m = 0; m < XT_FEAT_MARKET; m++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s", s_market_names[m]);
    for (int t = 0; t < 3; t++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s", s_time_names[t]);
    for (int s = 0; s < 5; s++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s", s_sess_names[s]);
    for (int x = 0; x < 2; x++) snprintf(names[c++], XT_FEAT_NAME_MAX, "%s", s_cross_names[x]);
}

void xt_features_portfolio_scaled(int k, uint8_t *scaled) {
    int c = 0;
    for (int i = 0; i < k * XT_FEAT_MARKET; i++) scaled[c++] = 1;
    for (int i = 0; i < 3 + k; i++) scaled[c++] = 0;
    scaled[c++] = 1, scaled[c++] = 1;
}

void xt_features_asset_scaled(uint8_t *scaled) {
    int c = 0;
    for (int i = 0; i < XT_FEAT_MARKET; i++) scaled[c++] = 1;
    for (int i = 0; i < 8; i++) scaled[c++] = 0;
    scaled[c++] = 1, scaled[c++] = 1;
}

void xt_features_portfolio_row(float *out, const xt_features *f, int64_t r) {
    // Session flags describe the NEXT bar's open, when an action chosen now executes.
    int64_t next = f->ts[r] + f->tf_sec;
    float *o = out;
    for (int a = 0; a < f->k; a++, o += XT_FEAT_MARKET)
        memcpy(o, f->market[a] + r * XT_FEAT_MARKET, sizeof(float) * XT_FEAT_MARKET);
    memcpy(o, f->time3 + r * 3, sizeof(float) * 3), o += 3;
    for (int a = 0; a < f->k; a++) *o++ = (float)xt_calendar_tradable(&f->cal[a], next);
    memcpy(o, f->cross2 + r * 2, sizeof(float) * 2);
}

void xt_features_asset_row(float *out, const xt_features *f, int a, int64_t r) {
    int64_t next = f->ts[r] + f->tf_sec;
    int s = xt_calendar_sessions_at(next);
    memcpy(out, f->market[a] + r * XT_FEAT_MARKET, sizeof(float) * XT_FEAT_MARKET);
    memcpy(out + 13, f->time3 + r * 3, sizeof(float) * 3);
    out[16] = (float)xt_calendar_tradable(&f->cal[a], next);
    out[17] = (float)((s & XT_SESSION_TOKYO) != 0);
    out[18] = (float)((s & XT_SESSION_LONDON) != 0);
    out[19] = (float)((s & XT_SESSION_NEWYORK) != 0);
    out[20] = (float)xt_calendar_low_liquidity(next);
    memcpy(out + 21, f->cross2 + r * 2, sizeof(float) * 2);
}
