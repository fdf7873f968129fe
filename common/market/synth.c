// synth.c - synthetic multi-asset market generator.
//
// Model (per base bar of length tf, everything in log price):
//   ret = mu[regime] - pull * log(p / p0) + sig * z + jump   (free path)
//   sig = sig_bar * vol_scale * regvol[regime] * hourvol[hour of week] * sqrt(v)
//   v'  = (1 - a - b) + (a z^2 + b) v           (GARCH(1,1) in units of sig^2, mean 1)
// z is the asset's component of a correlated normal vector (Cholesky of a
// fixed 6x6 matrix, always drawn for the whole universe). Regimes (bull,
// bear, sideways, crash) are two Markov chains, one shared by the crypto
// assets and one by the forex pairs. Jumps arrive per bar with a probability
// (Bernoulli approximation of Poisson) and have normal sizes. Intrabar high
// and low are drawn exactly from the Brownian bridge between open and close.
// Forex pairs print bars only where xt_calendar_expects_bar says so; their
// state is frozen while closed and the first bar after a closure opens with
// a gap. During an injected pattern the log price follows
//   anchor + amp * template(u) + r,   r' = phi r + c sig z   (AR(1) residual)
// instead of the free path, so the shape is visible whatever the regime.
//
// Invariants: high >= max(open, close), low <= min(open, close), prices > 0,
// volume > 0, open == previous close whenever the previous step printed a
// bar. Random streams: common shocks (1), crypto chain (2), forex chain (3),
// asset u's bar noise (16 + u) and pattern schedule (32 + u), all derived
// from opts.seed, so an asset's series is independent of the others asked for.
// Ownership: out[] bars belong to the caller; the work area is freed before
// returning. Threads: no shared state; concurrent calls are safe.
#include "synth.h"

#include "synth_rng.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- universe and model constants

typedef struct {
    double price;     // open of the first bar
    double sig15;     // sd of a 15m log return at unit multipliers
    double volume15;  // typical 15m volume (base-asset units) at unit multipliers
    double jump_rate; // jump probability per 15m bar (outside crashes)
    double jump_sd;   // jump size sd in units of sig15
    int chain;        // regime chain: 0 crypto, 1 forex
} s_asset_def;

// Row u describes s_names[u].
static const char *const s_names[XT_SYNTH_UNIVERSE] = {"BTCUSD", "ETHUSD", "SOLUSD",
                                                      "EURUSD", "GBPUSD", "USDJPY"};
static const s_asset_def s_universe[XT_SYNTH_UNIVERSE] = {
    {30000.0, 0.0050, 450.0, 0.0020, 5.0, 0},
    {2000.0, 0.0065, 5000.0, 0.0020, 5.0, 0},
    {30.0, 0.0090, 150000.0, 0.0030, 5.0, 0},
    {1.10, 0.00050, 4000.0, 0.0005, 4.0, 1},
    {1.27, 0.00060, 3000.0, 0.0005, 4.0, 1},
    {140.0, 0.00055, 3500.0, 0.0005, 4.0, 1},
};

// Shock correlation: crypto block, forex block (USDJPY quotes USD first, so it
// moves against EURUSD/GBPUSD), zero across classes.
static const double s_corr[XT_SYNTH_UNIVERSE][XT_SYNTH_UNIVERSE] = {
    {1.00, 0.80, 0.70, 0.00, 0.00, 0.00},  {0.80, 1.00, 0.72, 0.00, 0.00, 0.00},
    {0.70, 0.72, 1.00, 0.00, 0.00, 0.00},  {0.00, 0.00, 0.00, 1.00, 0.60, -0.30},
    {0.00, 0.00, 0.00, 0.60, 1.00, -0.20}, {0.00, 0.00, 0.00, -0.30, -0.20, 1.00},
};

enum { S_BULL, S_BEAR, S_SIDE, S_CRASH, S_NREG, S_NCHAIN = 2 };
// Log drift per 15m in units of sig15; vol, volume multipliers; mean stay in 15m bars.
static const double s_reg_drift[S_NREG] = {0.020, -0.022, 0.0, -0.20};
static const double s_reg_vol[S_NREG] = {0.90, 1.20, 0.70, 2.50};
static const double s_reg_volume[S_NREG] = {1.00, 1.20, 0.80, 2.50};
static const double s_reg_stay[S_NREG] = {2000.0, 1500.0, 1000.0, 48.0};
// Where a chain goes when it leaves (rows sum to 1, zero diagonal).
static const double s_reg_next[S_NREG][S_NREG] = {
    {0.00, 0.30, 0.60, 0.10}, {0.40, 0.00, 0.50, 0.10},
    {0.50, 0.45, 0.00, 0.05}, {0.00, 0.60, 0.40, 0.00},
};
#define S_CRASH_JUMPS 4.0 // jump probability multiplier in a crash

#define S_GARCH_A 0.08
#define S_GARCH_B 0.90
#define S_GARCH_CAP 40.0 // v stays below this (sig below ~6x its mean)
#define S_GAP_SD 3.0     // sd of the reopening gap after a closure, in bar sigmas
// Weak pull of the log price towards its start (rate 1/year), so that years of
// regime drift keep levels plausible: stationary log sd ~ annual vol / sqrt(2).
#define S_PULL_SEC (365.25 * 86400.0)

// Patterns: residual AR(1) coefficient and noise share; amplitude range in
// units of sig_bar * sqrt(L); minimum spacing; volume boost after the break.
#define S_PAT_PHI 0.90
#define S_PAT_NOISE 0.60
#define S_PAT_AMP_MIN 1.5
#define S_PAT_AMP_MAX 3.0
#define S_PAT_SPACING 8
#define S_PAT_VBOOST 1.8

#define S_BLOCK 1024                  // steps generated per block
#define S_MAX_STEPS 100000000LL       // per series
#define S_HOURS_PER_WEEK 168

// Piecewise-linear templates (u in [0, 1] -> level in units of amp).
typedef struct {
    const char *name;
    int n;
    float u[8], y[8];
    float vboost_from; // volume boost for bars with u >= this (> 1: none)
} s_template;

static const s_template s_tmpl[XT_PAT_COUNT] = {
    [XT_PAT_TREND_UP] = {"trend_up", 2, {0, 1}, {0, 1}, 2},
    [XT_PAT_TREND_DOWN] = {"trend_down", 2, {0, 1}, {0, -1}, 2},
    [XT_PAT_REVERSAL_UP] = {"reversal_up", 3, {0, 0.5f, 1}, {0, -1, 0}, 2},
    [XT_PAT_REVERSAL_DOWN] = {"reversal_down", 3, {0, 0.5f, 1}, {0, 1, 0}, 2},
    [XT_PAT_BREAKOUT_UP] = {"breakout_up", 8, {0, 0.12f, 0.25f, 0.38f, 0.5f, 0.62f, 0.72f, 1},
                            {0, 0.15f, -0.15f, 0.15f, -0.15f, 0.15f, 0, 1}, 0.72f},
    [XT_PAT_BREAKOUT_DOWN] = {"breakout_down", 8, {0, 0.12f, 0.25f, 0.38f, 0.5f, 0.62f, 0.72f, 1},
                              {0, -0.15f, 0.15f, -0.15f, 0.15f, -0.15f, 0, -1}, 0.72f},
    [XT_PAT_RANGE] = {"range", 8, {0, 1 / 7.f, 2 / 7.f, 3 / 7.f, 4 / 7.f, 5 / 7.f, 6 / 7.f, 1},
                      {0, 0.3f, -0.3f, 0.3f, -0.3f, 0.3f, -0.3f, 0}, 2},
    [XT_PAT_HEAD_SHOULDERS] = {"head_shoulders", 7, {0, 0.15f, 0.3f, 0.5f, 0.7f, 0.85f, 1},
                               {0, 0.55f, 0.1f, 1, 0.1f, 0.55f, -0.4f}, 0.85f},
    [XT_PAT_INV_HEAD_SHOULDERS] = {"inv_head_shoulders", 7, {0, 0.15f, 0.3f, 0.5f, 0.7f, 0.85f, 1},
                                   {0, -0.55f, -0.1f, -1, -0.1f, -0.55f, 0.4f}, 0.85f},
    [XT_PAT_DOUBLE_TOP] = {"double_top", 5, {0, 0.25f, 0.5f, 0.75f, 1}, {0, 1, 0.4f, 1, -0.1f}, 0.75f},
    [XT_PAT_DOUBLE_BOTTOM] = {"double_bottom", 5, {0, 0.25f, 0.5f, 0.75f, 1},
                              {0, -1, -0.4f, -1, 0.1f}, 0.75f},
};

// ---- private types

typedef struct {
    xt_pattern_kind kind;
    int64_t start, end; // bar rows, inclusive
    double amp;         // log amplitude of the template's unit
} s_pattern;

typedef struct {
    const s_asset_def *def;
    int u;          // universe index
    xt_bars *b;
    xt_rng rng;     // bar noise: high/low, volume, jumps, gaps
    double sig;     // sig15 scaled to tf and vol_scale
    double mu_unit; // drift unit per bar (sig15 * vol_scale * tf/900)
    double vol_unit;
    double jsd;
    double pull;    // mean-reversion rate per bar
    uint32_t jthr[S_NREG]; // jump when the high 32 bits of a draw fall below
    float hourvol[S_HOURS_PER_WEEK], hourvolume[S_HOURS_PER_WEEK];
    double p, lp;   // last close, and log(last close / first open)
    double v, r;    // GARCH variance ratio, pattern residual
    int closed;     // previous step printed no bar
    s_pattern *pat;
    int n_pat, cur;
} s_asset;

typedef struct {
    xt_synth_rng zig;
    double chol[XT_SYNTH_UNIVERSE][XT_SYNTH_UNIVERSE];
    uint64_t reg_cum[S_NREG][S_NREG]; // cumulative transition thresholds (53-bit)
    xt_rng common, chain_rng[S_NCHAIN];
    int chain_state[S_NCHAIN];
    double zraw[S_BLOCK * XT_SYNTH_UNIVERSE], z[S_BLOCK * XT_SYNTH_UNIVERSE];
    uint8_t reg[S_BLOCK * S_NCHAIN], how[S_BLOCK];
    s_asset a[XT_SYNTH_UNIVERSE];
} s_gen;

// ---- helpers

static int64_t s_floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && (a < 0)); }

static inline double s_max(double a, double b) { return a > b ? a : b; } // inlined, unlike libm fmax
static inline double s_min(double a, double b) { return a < b ? a : b; }

// exp for the small arguments of one bar (Taylor to x^6, relative error < 1e-12 for |x| <= 1/16).
static inline double s_fexp(double x) {
    if (fabs(x) > 0.0625) return exp(x);
    return 1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120 + x * (1.0 / 720))))));
}

// Hour of the week, 0 = Monday 00:00 UTC (1970-01-01 was a Thursday).
static int s_hour_of_week(int64_t ts) {
    int64_t days = s_floor_div(ts, 86400);
    int64_t wd = (days + 3) % 7;
    if (wd < 0) wd += 7;
    return (int)(wd * 24 + (ts - days * 86400) / 3600);
}

// Template level at u in [0, 1]: linear between the surrounding knots.
static double s_tmpl_at(const s_template *t, double u) {
    for (int i = 1; i < t->n; i++) {
        if (u > t->u[i]) continue;
        double w = (u - t->u[i - 1]) / ((double)t->u[i] - t->u[i - 1]);
        return t->y[i - 1] + w * ((double)t->y[i] - t->y[i - 1]);
    }
    return t->y[t->n - 1];
}

// Lower Cholesky factor of s_corr (positive definite by construction).
static void s_cholesky(double l[XT_SYNTH_UNIVERSE][XT_SYNTH_UNIVERSE]) {
    memset(l, 0, sizeof(double) * XT_SYNTH_UNIVERSE * XT_SYNTH_UNIVERSE);
    for (int i = 0; i < XT_SYNTH_UNIVERSE; i++)
        for (int j = 0; j <= i; j++) {
            double s = s_corr[i][j];
            for (int k = 0; k < j; k++) s -= l[i][k] * l[j][k];
            l[i][j] = i == j ? sqrt(s) : s / l[j][j];
        }
}

// Volume and volatility multipliers per hour of the week, from the calendar's
// own session rules so generation and the env's session flags agree.
static void s_hour_tables(s_asset *a) {
    const int64_t monday = 4 * 86400; // 1970-01-05 00:00 UTC
    for (int h = 0; h < S_HOURS_PER_WEEK; h++) {
        int64_t ts = monday + (int64_t)h * 3600;
        double vm;
        if (a->b->cal.cls == XT_ASSET_FOREX) {
            // Quiet outside all sessions, busier per open session of the pair, busiest in overlaps.
            int open = xt_calendar_sessions_at(ts), own = open & a->b->cal.sessions;
            vm = 0.25 + (open ? 0.25 : 0.0) + 0.8 * __builtin_popcount((unsigned)own);
        } else {
            // Crypto: US hours busier, weekends quieter, Saturday 00-04 UTC quietest.
            int wd = h / 24, hr = h % 24;
            vm = wd >= 5 ? 0.75 : (hr >= 13 && hr < 21 ? 1.25 : 1.0);
            if (xt_calendar_low_liquidity(ts)) vm = 0.35;
        }
        double norm = a->b->cal.cls == XT_ASSET_FOREX ? 1.3 : 1.0;
        a->hourvolume[h] = (float)vm;
        a->hourvol[h] = (float)fmin(1.3, fmax(0.6, sqrt(vm / norm))); // volatility follows activity
    }
}

// Normalised symbol (upper case, no separators) into out.
static void s_norm(const char *s, char out[XT_SYMBOL_MAX]) {
    int n = 0;
    for (; *s && n < XT_SYMBOL_MAX - 1; s++)
        if (*s != '/' && *s != '-' && *s != '_') out[n++] = (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

static int s_validate(const xt_synth_opts *o, int idx[XT_SYNTH_UNIVERSE], xt_err *err) {
    if (o->tf_sec < 60 || o->tf_sec % 60 != 0 || 86400 % o->tf_sec != 0)
        return xt_err_set(err, XT_EINVAL,
                          "synth.tf_sec: must be a multiple of 60 that divides 86400 (got %d)",
                          o->tf_sec);
    if (o->end_ts <= o->start_ts)
        return xt_err_set(err, XT_EINVAL, "synth.end_ts: must be after start_ts (got %lld <= %lld)",
                          (long long)o->end_ts, (long long)o->start_ts);
    if (o->n_assets < 1 || o->n_assets > XT_SYNTH_UNIVERSE)
        return xt_err_set(err, XT_EINVAL, "synth.n_assets: must be between 1 and %d (got %d)",
                          XT_SYNTH_UNIVERSE, o->n_assets);
    if (!(o->pattern_rate >= 0.0 && o->pattern_rate <= 1000.0))
        return xt_err_set(err, XT_EINVAL, "synth.pattern_rate: must be between 0 and 1000 (got %g)",
                          o->pattern_rate);
    if (!(o->vol_scale > 0.0 && o->vol_scale <= 10.0))
        return xt_err_set(err, XT_EINVAL, "synth.vol_scale: must be above 0 and at most 10 (got %g)",
                          o->vol_scale);
    for (int i = 0; i < o->n_assets; i++) {
        if (!o->symbols) {
            idx[i] = i;
            continue;
        }
        const char *s = o->symbols[i] ? o->symbols[i] : "(null)";
        idx[i] = xt_synth_find(s);
        if (idx[i] < 0)
            return xt_err_set(err, XT_ENOTFOUND,
                              "symbols[%d]: unknown symbol \"%s\" (the synthetic universe is BTCUSD, "
                              "ETHUSD, SOLUSD, EURUSD, GBPUSD, USDJPY)", i, s);
        for (int j = 0; j < i; j++)
            if (idx[j] == idx[i])
                return xt_err_set(err, XT_EINVAL, "symbols[%d]: \"%s\" repeats symbols[%d]", i, s, j);
    }
    return 0;
}

// ---- setup

// Regime transition thresholds for one step of tf seconds.
static void s_regime_table(s_gen *g, int tf) {
    for (int r = 0; r < S_NREG; r++) {
        double leave = fmin(0.9, (tf / 900.0) / s_reg_stay[r]), cum = 0.0;
        for (int j = 0; j < S_NREG; j++) {
            cum += j == r ? 1.0 - leave : leave * s_reg_next[r][j];
            g->reg_cum[r][j] = j == S_NREG - 1 ? (1ULL << 53) : (uint64_t)(cum * 0x1.0p53);
        }
    }
}

// Per-asset scales, streams and tables.
static void s_asset_setup(s_asset *a, int u, xt_bars *b, const xt_synth_opts *o) {
    const s_asset_def *d = &s_universe[u];
    double scale = o->tf_sec / 900.0;
    a->def = d, a->u = u, a->b = b;
    xt_rng_derive(&a->rng, o->seed, 16 + (uint64_t)u);
    a->sig = d->sig15 * o->vol_scale * sqrt(scale); // diffusion sd grows with sqrt(time)
    a->mu_unit = d->sig15 * o->vol_scale * scale;   // drift grows with time
    a->vol_unit = d->volume15 * scale;
    a->jsd = d->jump_sd * a->sig;
    a->pull = o->tf_sec / S_PULL_SEC;
    for (int r = 0; r < S_NREG; r++) {
        double p = fmin(0.5, d->jump_rate * scale * (r == S_CRASH ? S_CRASH_JUMPS : 1.0));
        a->jthr[r] = (uint32_t)(p * 0x1.0p32);
    }
    s_hour_tables(a);
    a->p = d->price, a->lp = 0.0, a->v = 1.0, a->r = 0.0, a->closed = 0;
}

// Draws the pattern schedule of one asset over its n bars (its own stream).
static int s_schedule(s_asset *a, int64_t n, const xt_synth_opts *o, const xt_synth_rng *zig, xt_err *err) {
    if (!o->patterns || o->pattern_rate <= 0.0) return 0;
    xt_rng r;
    xt_rng_derive(&r, o->seed, 32 + (uint64_t)a->u);
    // Mean idle gap so that starts average pattern_rate per 10k bars (saturates when patterns tile).
    double mean_len = 0.5 * (XT_SYNTH_PATTERN_MIN_BARS + XT_SYNTH_PATTERN_MAX_BARS) + S_PAT_SPACING;
    double gap = fmax(0.0, 10000.0 / o->pattern_rate - mean_len);
    int cap = 0;
    for (int64_t pos = 0;;) {
        double e = xt_synth_rng_exponential(zig, &r) * gap;
        if (e > (double)n) break;
        int64_t len = XT_SYNTH_PATTERN_MIN_BARS +
                      (int64_t)xt_rng_below(&r, XT_SYNTH_PATTERN_MAX_BARS - XT_SYNTH_PATTERN_MIN_BARS + 1);
        int64_t start = pos + (int64_t)e;
        if (start + len > n) break;
        if (a->n_pat == cap) {
            cap = cap ? cap * 2 : 64;
            s_pattern *p = realloc(a->pat, (size_t)cap * sizeof *p);
            if (!p)
                return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %d pattern slots", s_names[a->u], cap);
            a->pat = p;
        }
        s_pattern *p = &a->pat[a->n_pat++];
        p->kind = (xt_pattern_kind)xt_rng_below(&r, XT_PAT_COUNT);
        p->start = start, p->end = start + len - 1;
        // Amplitude in log units: amp_k * sig * sqrt(L), i.e. amp_k times the path's own L-bar sd.
        double k = S_PAT_AMP_MIN + (S_PAT_AMP_MAX - S_PAT_AMP_MIN) * xt_rng_uniform(&r);
        p->amp = k * a->sig * sqrt((double)len);
        pos = start + len + S_PAT_SPACING;
    }
    return 0;
}

// ---- generation

// Common correlated shocks, regime paths and hours of the week for nb steps.
static void s_block_common(s_gen *g, int64_t ts0, int tf, int nb) {
    const int m = XT_SYNTH_UNIVERSE;
    xt_synth_rng_normals(&g->zig, &g->common, g->zraw, (int64_t)nb * m);
    for (int s = 0; s < nb; s++) {
        const double *x = g->zraw + s * m;
        double *z = g->z + s * m;
        for (int i = 0; i < m; i++) { // z = L x: unit variance, correlation s_corr
            double acc = 0.0;
            for (int k = 0; k <= i; k++) acc += g->chol[i][k] * x[k];
            z[i] = acc;
        }
        for (int c = 0; c < S_NCHAIN; c++) {
            uint64_t u = xt_rng_u64(&g->chain_rng[c]) >> 11;
            const uint64_t *cum = g->reg_cum[g->chain_state[c]];
            int j = 0;
            while (u >= cum[j]) j++;
            g->chain_state[c] = j;
            g->reg[s * S_NCHAIN + c] = (uint8_t)j;
        }
        g->how[s] = (uint8_t)s_hour_of_week(ts0 + (int64_t)s * tf);
    }
}

// Bars of one asset for the nb steps of the current block.
static void s_block_asset(s_gen *g, s_asset *a, int64_t ts0, int tf, int nb) {
    xt_bars *b = a->b;
    for (int s = 0; s < nb; s++) {
        int64_t ts = ts0 + (int64_t)s * tf;
        if (!xt_calendar_expects_bar(&b->cal, ts)) {
            a->closed = 1;
            continue;
        }
        int64_t k = b->n;
        int h = g->how[s], rg = g->reg[s * S_NCHAIN + a->def->chain];
        double z = g->z[s * XT_SYNTH_UNIVERSE + a->u];
        double sig = a->sig * s_reg_vol[rg] * a->hourvol[h] * sqrt(a->v);
        uint64_t u = xt_rng_u64(&a->rng); // high half: jump test; low half: volume noise
        double open = a->p, ret, vmul = 1.0;
        const s_pattern *pt = a->cur < a->n_pat && k >= a->pat[a->cur].start ? &a->pat[a->cur] : NULL;
        if (pt) {
            // Template increment plus the change of the AR(1) residual around it.
            const s_template *t = &s_tmpl[pt->kind];
            double len = (double)(pt->end - pt->start + 1), j = (double)(k - pt->start);
            if (k == pt->start) a->r = 0.0;
            double d = pt->amp * (s_tmpl_at(t, (j + 1) / len) - s_tmpl_at(t, j / len));
            double r = S_PAT_PHI * a->r + S_PAT_NOISE * sig * z;
            ret = d + r - a->r;
            a->r = r;
            if (j / len >= t->vboost_from) vmul = S_PAT_VBOOST;
            if (k == pt->end) a->cur++;
        } else {
            if (a->closed && k > 0) {
                double gap = S_GAP_SD * a->sig * xt_synth_rng_normal(&g->zig, &a->rng);
                open *= s_fexp(gap);
                a->lp += gap;
            }
            ret = a->mu_unit * s_reg_drift[rg] - a->pull * a->lp + sig * z;
            if ((uint32_t)(u >> 32) < a->jthr[rg]) ret += a->jsd * xt_synth_rng_normal(&g->zig, &a->rng);
        }
        a->closed = 0;
        // Brownian bridge from 0 to ret with variance sig^2: max = (x + sqrt(x^2 + 2 s^2 E)) / 2, E ~ Exp(1).
        double x2 = ret * ret, s2 = 2.0 * sig * sig;
        double e1 = xt_synth_rng_exponential(&g->zig, &a->rng);
        double e2 = xt_synth_rng_exponential(&g->zig, &a->rng);
        double close = open * s_fexp(ret);
        double hi = open * s_fexp(0.5 * (ret + sqrt(x2 + s2 * e1)));
        double lo = open * s_fexp(0.5 * (ret - sqrt(x2 + s2 * e2)));
        // Volume: unit * session * regime * activity (|ret| in sigmas, capped) * noise in [0.6, 1.4).
        double act = s_min(fabs(ret) / sig, 8.0);
        double noise = 0.6 + 0.8 * (double)(uint32_t)u * 0x1.0p-32;
        b->ts[k] = ts;
        b->open[k] = open;
        b->high[k] = s_max(hi, s_max(open, close));
        b->low[k] = s_min(lo, s_min(open, close));
        b->close[k] = close;
        b->volume[k] = a->vol_unit * a->hourvolume[h] * s_reg_volume[rg] * vmul * (0.4 + 0.6 * act) * noise;
        b->n = k + 1;
        // GARCH(1,1) on the standardised shock, mean-one variance ratio.
        a->v = (1.0 - S_GARCH_A - S_GARCH_B) + (S_GARCH_A * z * z + S_GARCH_B) * a->v;
        if (a->v > S_GARCH_CAP) a->v = S_GARCH_CAP;
        a->p = close;
        a->lp += ret;
    }
}

static void s_free_all(s_gen *g, xt_bars *out, int n) {
    for (int i = 0; i < n; i++) xt_bars_free(&out[i]);
    if (!g) return;
    for (int i = 0; i < XT_SYNTH_UNIVERSE; i++) free(g->a[i].pat);
    free(g);
}

// ---- public

void xt_synth_opts_default(xt_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 42;
    o->start_ts = 1546300800; // 2019-01-01 00:00 UTC
    o->end_ts = 1704067200;   // 2024-01-01 00:00 UTC
    o->tf_sec = 900;
    o->n_assets = XT_SYNTH_UNIVERSE;
    o->symbols = NULL;
    o->patterns = 1;
    o->pattern_rate = 10.0;
    o->vol_scale = 1.0;
}

int xt_synth_generate(xt_bars *out, xt_pattern_label *labels, int max_labels, int *n_labels,
                      const xt_synth_opts *o, xt_err *err) {
    int idx[XT_SYNTH_UNIVERSE];
    if (n_labels) *n_labels = 0;
    // Leave every output empty first, so that any failure below can free them all.
    for (int i = 0; i < o->n_assets && i < XT_SYNTH_UNIVERSE; i++) memset(&out[i], 0, sizeof out[i]);
    int rc = s_validate(o, idx, err);
    if (rc) return rc;
    const int n = o->n_assets, tf = o->tf_sec;
    int64_t first = s_floor_div(o->start_ts + tf - 1, tf) * tf;
    int64_t steps = first < o->end_ts ? (o->end_ts - first + tf - 1) / tf : 0;
    if (steps <= 0)
        return xt_err_set(err, XT_EINVAL, "synth.start_ts: no %d-second bar opens in [%lld, %lld)", tf,
                          (long long)o->start_ts, (long long)o->end_ts);
    if (steps > S_MAX_STEPS)
        return xt_err_set(err, XT_ERANGE, "synth.end_ts: %lld bars per series exceed the limit of %lld",
                          (long long)steps, S_MAX_STEPS);

    s_gen *g = calloc(1, sizeof *g);
    if (!g) return xt_err_set(err, XT_ENOMEM, "synth: cannot allocate the generator work area");
    xt_synth_rng_init(&g->zig);
    s_cholesky(g->chol);
    s_regime_table(g, tf);
    xt_rng_derive(&g->common, o->seed, 1);
    for (int c = 0; c < S_NCHAIN; c++) {
        xt_rng_derive(&g->chain_rng[c], o->seed, 2 + (uint64_t)c);
        g->chain_state[c] = (int)xt_rng_below(&g->chain_rng[c], 3); // bull, bear or sideways
    }

    // Exact bar counts first (one allocation per series), then pattern schedules.
    int total = 0;
    for (int i = 0; i < n; i++) {
        s_asset *a = &g->a[i];
        rc = xt_bars_init(&out[i], s_names[idx[i]], tf, 0, err);
        if (rc) goto fail;
        int64_t cnt = 0;
        for (int64_t s = 0; s < steps; s++) cnt += xt_calendar_expects_bar(&out[i].cal, first + s * tf);
        if (cnt > 0 && (rc = xt_bars_reserve(&out[i], cnt, err))) goto fail;
        s_asset_setup(a, idx[i], &out[i], o);
        if ((rc = s_schedule(a, cnt, o, &g->zig, err))) goto fail;
        total += a->n_pat;
    }
    if (n_labels) *n_labels = total;
    if (labels && total > max_labels) {
        rc = xt_err_set(err, XT_ERANGE,
                        "labels: %d patterns would be injected but max_labels is %d (raise max_labels or "
                        "lower synth.pattern_rate)", total, max_labels);
        goto fail_keep_count;
    }
    for (int i = 0, L = 0; labels && i < n; i++)
        for (int p = 0; p < g->a[i].n_pat; p++, L++)
            labels[L] = (xt_pattern_label){i, g->a[i].pat[p].kind, g->a[i].pat[p].start, g->a[i].pat[p].end};

    // Every block draws the whole universe's shocks, so each asset's path is the same whatever was asked for.
    for (int64_t s0 = 0; s0 < steps; s0 += S_BLOCK) {
        int nb = (int)(steps - s0 < S_BLOCK ? steps - s0 : S_BLOCK);
        int64_t ts0 = first + s0 * tf;
        s_block_common(g, ts0, tf, nb);
        for (int i = 0; i < n; i++) s_block_asset(g, &g->a[i], ts0, tf, nb);
    }
    s_free_all(g, NULL, 0);
    return 0;

fail:
    if (n_labels) *n_labels = 0;
fail_keep_count:
    s_free_all(g, out, n);
    return rc;
}

int xt_synth_universe(const char ***names, int *n) {
    // The table is const; the cast only fits the caller-friendly signature (read-only by contract).
    if (names) *names = (const char **)s_names;
    if (n) *n = XT_SYNTH_UNIVERSE;
    return XT_SYNTH_UNIVERSE;
}

int xt_synth_find(const char *symbol) {
    char s[XT_SYMBOL_MAX];
    s_norm(symbol, s);
    for (int i = 0; i < XT_SYNTH_UNIVERSE; i++)
        if (strcmp(s, s_names[i]) == 0) return i;
    return -1;
}

const char *xt_pattern_name(xt_pattern_kind k) {
    return (int)k >= 0 && k < XT_PAT_COUNT ? s_tmpl[k].name : "unknown";
}
