// wfstats.c - statistics across walk-forward folds: consistency, summaries,
// the normal distribution, the Deflated Sharpe Ratio and PBO by CSCV.
//
// Purpose: turn the broker's per-fold, per-shard evaluation results into the
// figures of the final report (definitions in wfstats.h, docs/reports.md).
// Invariants: NaN inputs are skipped, never propagated into a mean; every
// undefined statistic is NaN with a sentence saying why; results depend only
// on the input (fixed iteration orders, first-index tie breaks), so the same
// run always gives bit-identical statistics.
// Ownership: xt_wfstats owns its arrays; the strings in it are borrowed from
// the xt_wf_run it was computed from.
// Threads: no shared state; distinct runs may be processed concurrently.
#include "report/wfstats.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_YEAR_SECONDS 31557600.0  // 365.25 days
#define S_EULER_GAMMA 0.57721566490153286061
#define S_BIG 1e12                 // Sharpe of a zero-variance non-zero mean
#define S_PBO_MAX_BLOCKS 20

// ---------------------------------------------------------------- metric tables

static const char *const s_metric_keys[] = {
#define K_(name, label, kind) #name,
    XT_WF_METRICS(K_)
#undef K_
};
static const char *const s_metric_labels[] = {
#define L_(name, label, kind) label,
    XT_WF_METRICS(L_)
#undef L_
};
static const xt_wf_kind s_metric_kinds[] = {
#define D_(name, label, kind) XT_WF_KIND_##kind,
    XT_WF_METRICS(D_)
#undef D_
};
static const size_t s_metric_offsets[] = {
#define O_(name, label, kind) offsetof(xt_wf_metrics, name),
    XT_WF_METRICS(O_)
#undef O_
};
static const char *const s_strat_keys[] = {
#define K_(id, key, label) key,
    XT_WF_STRATEGIES(K_)
#undef K_
};
static const char *const s_strat_labels[] = {
#define L_(id, key, label) label,
    XT_WF_STRATEGIES(L_)
#undef L_
};

const char *xt_wf_metric_key(int i) { return s_metric_keys[i]; }
const char *xt_wf_metric_label(int i) { return s_metric_labels[i]; }
xt_wf_kind xt_wf_metric_kind(int i) { return s_metric_kinds[i]; }
double xt_wf_metric_get(const xt_wf_metrics *m, int i) {
    return *(const double *)((const char *)m + s_metric_offsets[i]);
}
void xt_wf_metrics_clear(xt_wf_metrics *m) {
    for (int i = 0; i < XT_WF_NMETRICS; i++) *(double *)((char *)m + s_metric_offsets[i]) = NAN;
}
const char *xt_wf_strategy_key(int s) { return s_strat_keys[s]; }
const char *xt_wf_strategy_label(int s) { return s_strat_labels[s]; }

// ---------------------------------------------------------------- normal distribution

double xt_wfstats_norm_cdf(double x) {
    // erfc keeps full relative precision in the lower tail, where 1 + erf does not.
    return 0.5 * erfc(-x * 0.70710678118654752440);
}

// Wichura (1988), Algorithm AS 241 PPND16: rational approximations in
// r = 0.180625 - q^2 for |q| <= 0.425, else in r = sqrt(-ln min(p, 1 - p)),
// one set for r <= 5 and one for the far tail.
static double s_poly(const double *c, int n, double x) {
    double y = c[n - 1];
    for (int i = n - 2; i >= 0; i--) y = y * x + c[i];
    return y;
}

double xt_wfstats_norm_ppf(double p) {
    static const double a[8] = {3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
                                1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
                                3.3430575583588128105e+4, 2.5090809287301226727e+3};
    static const double b[8] = {1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
                                2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
                                5.2264952788528545610e+3};
    static const double c[8] = {1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
                                3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
                                2.27238449892691845833e-2, 7.74545014278341407640e-4};
    static const double d[8] = {1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
                                1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
                                1.05075007164441684324e-9};
    static const double e[8] = {6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
                                2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                                2.71155556874348757815e-5, 2.01033439929228813265e-7};
    static const double f[8] = {1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
                                7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
                                2.04426310338993978564e-15};
    if (isnan(p)) return NAN;
    if (p <= 0.0) return -INFINITY;
    if (p >= 1.0) return INFINITY;
    double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        double r = 0.180625 - q * q;
        return q * s_poly(a, 8, r) / s_poly(b, 8, r);
    }
    double r = sqrt(-log(q < 0 ? p : 1.0 - p));
    double x = r <= 5.0 ? s_poly(c, 8, r - 1.6) / s_poly(d, 8, r - 1.6) : s_poly(e, 8, r - 5.0) / s_poly(f, 8, r - 5.0);
    return q < 0 ? -x : x;
}

// ---------------------------------------------------------------- moments, PSR, DSR

void xt_wfstats_moments(const double *x, int64_t n, xt_wf_moments *m) {
    // Pass 1: count and mean of the finite values.
    int64_t k = 0;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], k++;
    m->n = k;
    m->mean = k ? s / (double)k : NAN;
    // Pass 2: central sums m2, m3, m4 around that mean.
    double s2 = 0.0, s3 = 0.0, s4 = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        double dx = x[i] - m->mean, d2 = dx * dx;
        s2 += d2, s3 += d2 * dx, s4 += d2 * d2;
    }
    m->sd = k >= 2 ? sqrt(s2 / (double)(k - 1)) : 0.0;
    double m2 = k ? s2 / (double)k : 0.0;
    // Population skewness m3 / m2^1.5 and kurtosis m4 / m2^2 (normal: 0, 3).
    m->skew = m2 > 0 ? (s3 / (double)k) / (m2 * sqrt(m2)) : 0.0;
    m->kurt = m2 > 0 ? (s4 / (double)k) / (m2 * m2) : 3.0;
}

double xt_wfstats_expected_max_sr(double var_sr, int n_trials) {
    if (n_trials <= 1 || !(var_sr > 0)) return 0.0;
    double N = (double)n_trials;
    // E[max of N] ~ sqrt(V) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e))).
    double z1 = xt_wfstats_norm_ppf(1.0 - 1.0 / N);
    double z2 = xt_wfstats_norm_ppf(1.0 - 1.0 / (N * M_E));
    return sqrt(var_sr) * ((1.0 - S_EULER_GAMMA) * z1 + S_EULER_GAMMA * z2);
}

double xt_wfstats_psr(double sr, double sr_star, int64_t T, double skew, double kurt) {
    if (T < 2 || !isfinite(sr) || !isfinite(sr_star) || !isfinite(skew) || !isfinite(kurt)) return NAN;
    // Variance of the Sharpe estimate (Mertens / Lo, non-normal returns).
    double v = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr;
    if (!(v > 0)) return NAN;
    return xt_wfstats_norm_cdf((sr - sr_star) * sqrt((double)(T - 1)) / sqrt(v));
}

// ---------------------------------------------------------------- CSCV / PBO

void xt_wf_cell_add(xt_wf_cell *c, double x) {
    c->n++;
    double d = x - c->mean;
    c->mean += d / (double)c->n;
    c->m2 += d * (x - c->mean);
}

// Chan et al. pairwise merge of two cells.
static void s_cell_merge(xt_wf_cell *a, const xt_wf_cell *b) {
    if (b->n == 0) return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    int64_t n = a->n + b->n;
    double d = b->mean - a->mean;
    a->mean += d * (double)b->n / (double)n;
    a->m2 += b->m2 + d * d * (double)a->n * (double)b->n / (double)n;
    a->n = n;
}

// Sharpe of a merged cell: mean / sd (sd with n - 1); +-S_BIG for a flat
// non-zero series, 0 for a flat zero one or fewer than 2 values.
static double s_cell_sharpe(const xt_wf_cell *c) {
    if (c->n < 2) return 0.0;
    double sd = sqrt(c->m2 / (double)(c->n - 1));
    if (sd > 0) return c->mean / sd;
    return c->mean > 0 ? S_BIG : c->mean < 0 ? -S_BIG : 0.0;
}

static void s_pbo_undefined(xt_wf_pbo *out, int N, int S, const char *why) {
    out->defined = 0;
    out->n_strategies = N;
    out->n_blocks = S;
    out->pbo = out->logit_mean = out->prob_oos_loss = NAN;
    snprintf(out->note, sizeof out->note, "%s", why);
}

int xt_wfstats_pbo_cells(const xt_wf_cell *cells, const double *scale, int N, int S, xt_wf_pbo *out,
                         xt_err *err) {
    memset(out, 0, sizeof *out);
    if (S < 2 || S > S_PBO_MAX_BLOCKS || S % 2)
        return xt_err_set(err, XT_EINVAL, "pbo_blocks: must be an even number from 2 to %d (got %d)",
                          S_PBO_MAX_BLOCKS, S);
    if (N < 2) {
        s_pbo_undefined(out, N, S, "PBO needs at least 2 strategies to rank; this run has fewer");
        return 0;
    }
    for (int n = 0; n < N; n++)
        for (int b = 0; b < S; b++)
            if (cells[n * S + b].n < 2) {
                char why[160];
                snprintf(why, sizeof why, "block %d of strategy %d holds %lld returns; every block needs at least 2",
                         b, n, (long long)cells[n * S + b].n);
                s_pbo_undefined(out, N, S, why);
                return 0;
            }
    double *perf = malloc(2 * (size_t)N * sizeof *perf);
    if (!perf) return xt_err_set(err, XT_ENOMEM, "pbo: cannot allocate %d performances", 2 * N);
    double *oos = perf + N;
    int64_t combos = 0, overfit = 0, losses = 0;
    double logit_sum = 0.0;
    // Every training set J of S/2 blocks (a bitmask); the test set is the rest.
    for (uint32_t mask = 0; mask < (1u << S); mask++) {
        if (__builtin_popcount(mask) != S / 2) continue;
        for (int n = 0; n < N; n++) {
            xt_wf_cell in = {0}, out_ = {0};
            for (int b = 0; b < S; b++) s_cell_merge(mask >> b & 1 ? &in : &out_, &cells[n * S + b]);
            double k = scale ? scale[n] : 1.0;
            perf[n] = s_cell_sharpe(&in) * k;
            oos[n] = s_cell_sharpe(&out_) * k;
        }
        // n* = the in-sample best (first index on ties).
        int best = 0;
        for (int n = 1; n < N; n++)
            if (perf[n] > perf[best]) best = n;
        // Its out-of-sample rank (1 = worst, N = best; ties share the mid rank),
        // w = rank / (N + 1), lambda = ln(w / (1 - w)).
        double rank = 1.0;
        for (int n = 0; n < N; n++) {
            if (n == best) continue;
            if (oos[n] < oos[best]) rank += 1.0;
            else if (oos[n] == oos[best]) rank += 0.5;
        }
        double w = rank / (N + 1.0), lambda = log(w / (1.0 - w));
        combos++;
        overfit += lambda <= 0.0;
        losses += oos[best] < 0.0;
        logit_sum += lambda;
    }
    free(perf);
    out->defined = 1;
    out->n_strategies = N;
    out->n_blocks = S;
    out->n_combinations = combos;
    out->pbo = (double)overfit / (double)combos;
    out->logit_mean = logit_sum / (double)combos;
    out->prob_oos_loss = (double)losses / (double)combos;
    snprintf(out->note, sizeof out->note, "%d strategies, %d blocks, %lld combinations", N, S, (long long)combos);
    return 0;
}

int xt_wfstats_pbo(const double *ret, int64_t T, int N, int S, xt_wf_pbo *out, xt_err *err) {
    memset(out, 0, sizeof *out);
    if (S < 2 || S > S_PBO_MAX_BLOCKS || S % 2)
        return xt_err_set(err, XT_EINVAL, "pbo_blocks: must be an even number from 2 to %d (got %d)",
                          S_PBO_MAX_BLOCKS, S);
    if (N < 2) {
        s_pbo_undefined(out, N, S, "PBO needs at least 2 strategies to rank; this run has fewer");
        return 0;
    }
    if (T < 2 * (int64_t)S) {
        char why[160];
        snprintf(why, sizeof why, "%lld rows cannot fill %d blocks of at least 2 returns", (long long)T, S);
        s_pbo_undefined(out, N, S, why);
        return 0;
    }
    xt_wf_cell *cells = calloc((size_t)N * (size_t)S, sizeof *cells);
    if (!cells) return xt_err_set(err, XT_ENOMEM, "pbo: cannot allocate %d x %d cells", N, S);
    // Row t goes to block floor(t S / T): contiguous blocks whose sizes differ by at most 1.
    for (int64_t t = 0; t < T; t++) {
        int b = (int)(t * S / T);
        for (int n = 0; n < N; n++) xt_wf_cell_add(&cells[n * S + b], ret[t * N + n]);
    }
    int rc = xt_wfstats_pbo_cells(cells, NULL, N, S, out, err);
    free(cells);
    return rc;
}

// ---------------------------------------------------------------- summaries

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Mean, median and min/max of the finite values of one field.
static void s_describe(const xt_wf_metrics *const *m, int n, int field, double *scratch, double *mean,
                       double *median, double *lo, double *hi, double *sd) {
    int k = 0;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double v = xt_wf_metric_get(m[i], field);
        if (isfinite(v)) scratch[k++] = v, s += v;
    }
    *mean = *median = *lo = *hi = NAN;
    if (sd) *sd = NAN;
    if (k == 0) return;
    qsort(scratch, (size_t)k, sizeof *scratch, s_cmp_double);
    *mean = s / k;
    *median = k % 2 ? scratch[k / 2] : 0.5 * (scratch[k / 2 - 1] + scratch[k / 2]);
    *lo = scratch[0], *hi = scratch[k - 1];
    if (sd && k >= 2) {
        double q = 0.0;
        for (int i = 0; i < k; i++) q += (scratch[i] - *mean) * (scratch[i] - *mean);
        *sd = sqrt(q / (k - 1));
    }
}

static int s_field(const char *key) {
    for (int i = 0; i < XT_WF_NMETRICS; i++)
        if (strcmp(s_metric_keys[i], key) == 0) return i;
    return -1;
}

void xt_wfstats_summarize(const xt_wf_metrics *const *m, int n, double *scratch, xt_wf_summary *out) {
    double lo, hi, ign;
    int pos = 0, k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(m[i]->total_return)) k++, pos += m[i]->total_return > 0;
    out->n = k;
    out->consistency = k ? (double)pos / k : NAN;
    s_describe(m, n, s_field("total_return"), scratch, &out->ret_mean, &out->ret_median, &lo, &hi, NULL);
    out->ret_worst = lo;
    s_describe(m, n, s_field("sharpe"), scratch, &out->sharpe_mean, &out->sharpe_median, &lo, &hi,
               &out->sharpe_sd);
    out->sharpe_worst = lo;
    s_describe(m, n, s_field("max_drawdown"), scratch, &out->mdd_mean, &out->mdd_median, &lo, &hi, NULL);
    out->mdd_worst = hi;
    s_describe(m, n, s_field("avg_cash"), scratch, &out->cash_mean, &ign, &lo, &hi, NULL);
}

// ---------------------------------------------------------------- run statistics

static int s_find_str(const char *const *list, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return i;
    return -1;
}

int xt_wfstats_find_shard(const xt_wfstats *s, const char *symbol, const char *timeframe) {
    for (int i = 0; i < s->n_shards; i++)
        if (strcmp(s->shards[i].symbol, symbol) == 0 && strcmp(s->shards[i].timeframe, timeframe) == 0) return i;
    return -1;
}

static int s_validate(const xt_wf_run *run, xt_err *err) {
    if (run->n_folds < 0 || (run->n_folds > 0 && !run->folds))
        return xt_err_set(err, XT_EINVAL, "report: run has %d folds but no fold array", run->n_folds);
    if (run->pbo_blocks != 0 && (run->pbo_blocks < 2 || run->pbo_blocks > S_PBO_MAX_BLOCKS || run->pbo_blocks % 2))
        return xt_err_set(err, XT_EINVAL, "report: pbo_blocks must be 0 (automatic) or an even number from 2 to %d (got %d)",
                          S_PBO_MAX_BLOCKS, run->pbo_blocks);
    if (run->n_trials < 0) return xt_err_set(err, XT_EINVAL, "report: n_trials must be >= 0 (got %d)", run->n_trials);
    for (int f = 0; f < run->n_folds; f++) {
        const xt_wf_fold *fo = &run->folds[f];
        if (fo->n_shards < 0 || (fo->n_shards > 0 && !fo->shards))
            return xt_err_set(err, XT_EINVAL, "report: fold %d has %d shards but no shard array", fo->index, fo->n_shards);
        for (int i = 0; i < fo->n_shards; i++) {
            const xt_wf_shard *sh = &fo->shards[i];
            if (!sh->symbol || !*sh->symbol || !sh->timeframe || !*sh->timeframe)
                return xt_err_set(err, XT_EINVAL, "report: fold %d shard %d has no symbol or timeframe", fo->index, i);
            const xt_wf_curves *c = &sh->curves;
            if (c->n < 0 || (c->n > 0 && !c->ts))
                return xt_err_set(err, XT_EINVAL, "report: fold %d shard %s %s: curves have %lld steps but no timestamps",
                                  fo->index, sh->symbol, sh->timeframe, (long long)c->n);
            if (c->n_alloc < 0 || (c->n > 0 && c->n_alloc > 0 && !c->alloc))
                return xt_err_set(err, XT_EINVAL, "report: fold %d shard %s %s: %d allocation columns but no data",
                                  fo->index, sh->symbol, sh->timeframe, c->n_alloc);
            for (int64_t t = 1; t < c->n; t++)
                if (c->ts[t] <= c->ts[t - 1])
                    return xt_err_set(err, XT_EINVAL,
                                      "report: fold %d shard %s %s: curve timestamps are not increasing at step %lld",
                                      fo->index, sh->symbol, sh->timeframe, (long long)t);
        }
    }
    return 0;
}

// Builds the distinct shard, symbol and timeframe lists.
static int s_index(const xt_wf_run *run, xt_wfstats *s, const char ***syms, const char ***tfs, xt_err *err) {
    int cap = 0;
    for (int f = 0; f < run->n_folds; f++) cap += run->folds[f].n_shards;
    s->shards = calloc((size_t)(cap ? cap : 1), sizeof *s->shards);
    *syms = calloc((size_t)(cap ? cap : 1), sizeof **syms);
    *tfs = calloc((size_t)(cap ? cap : 1), sizeof **tfs);
    if (!s->shards || !*syms || !*tfs) return xt_err_set(err, XT_ENOMEM, "report: cannot allocate %d shards", cap);
    for (int f = 0; f < run->n_folds; f++)
        for (int i = 0; i < run->folds[f].n_shards; i++) {
            const xt_wf_shard *sh = &run->folds[f].shards[i];
            if (xt_wfstats_find_shard(s, sh->symbol, sh->timeframe) < 0) {
                s->shards[s->n_shards].symbol = sh->symbol;
                s->shards[s->n_shards++].timeframe = sh->timeframe;
            }
            if (s_find_str(*syms, s->n_symbols, sh->symbol) < 0) (*syms)[s->n_symbols++] = sh->symbol;
            if (s_find_str(*tfs, s->n_timeframes, sh->timeframe) < 0) (*tfs)[s->n_timeframes++] = sh->timeframe;
        }
    return 0;
}

// Which results a group takes: 0 fold, 1 symbol, 2 timeframe, 3 shard, 4 all.
static int s_member(const xt_wf_shard *sh, int f, int kind, int fold, const char *key, const char *key2) {
    switch (kind) {
    case 0: return f == fold;
    case 1: return strcmp(sh->symbol, key) == 0;
    case 2: return strcmp(sh->timeframe, key) == 0;
    case 3: return strcmp(sh->symbol, key) == 0 && strcmp(sh->timeframe, key2) == 0;
    default: return 1;
    }
}

static void s_group(const xt_wf_run *run, int kind, int fold, const char *key, const char *key2,
                    const xt_wf_metrics **ptrs, double *scratch, xt_wf_summary *out) {
    for (int st = 0; st < XT_WF_NSTRAT; st++) {
        int n = 0;
        for (int f = 0; f < run->n_folds; f++)
            for (int i = 0; i < run->folds[f].n_shards; i++) {
                const xt_wf_shard *sh = &run->folds[f].shards[i];
                if (s_member(sh, f, kind, fold, key, key2)) ptrs[n++] = &sh->m[st];
            }
        xt_wfstats_summarize(ptrs, n, scratch, &out[st]);
    }
}

// The agent's step returns of shard k stitched over the folds, into ret (and
// the cells of S calendar blocks of the concatenated test windows, if given).
static int64_t s_stitch(const xt_wf_run *run, const xt_wfstats *s, int k, double *ret, xt_wf_cell *cells, int S,
                        int64_t total_span, double *bars_per_year) {
    int64_t n = 0, offset = 0, steps = 0, span = 0;
    *bars_per_year = 0.0;
    for (int f = 0; f < run->n_folds; f++) {
        const xt_wf_fold *fo = &run->folds[f];
        int64_t len = fo->test_end - fo->test_start;
        for (int i = 0; i < fo->n_shards; i++) {
            const xt_wf_shard *sh = &fo->shards[i];
            if (strcmp(sh->symbol, s->shards[k].symbol) || strcmp(sh->timeframe, s->shards[k].timeframe)) continue;
            if (*bars_per_year <= 0 && sh->bars_per_year > 0) *bars_per_year = sh->bars_per_year;
            const xt_wf_curves *c = &sh->curves;
            const double *eq = c->equity[XT_WF_AGENT];
            if (c->n < 2 || !eq) continue;
            steps += c->n - 1, span += c->ts[c->n - 1] - c->ts[0];
            // r_t = eq_t / eq_{t-1} - 1; the first step of a fold has no predecessor.
            for (int64_t t = 1; t < c->n; t++) {
                if (!(eq[t - 1] > 0) || !isfinite(eq[t])) continue;
                double r = eq[t] / eq[t - 1] - 1.0;
                ret[n++] = r;
                if (!cells || len <= 0) continue;
                // Position on the stitched out-of-sample axis -> block.
                int64_t u = c->ts[t] - fo->test_start;
                u = u < 0 ? 0 : u >= len ? len - 1 : u;
                int b = (int)((double)(offset + u) * S / (double)total_span);
                xt_wf_cell_add(&cells[b < S ? b : S - 1], r);
            }
        }
        if (len > 0) offset += len;
    }
    if (*bars_per_year <= 0 && span > 0) *bars_per_year = (double)steps * S_YEAR_SECONDS / (double)span;
    return n;
}

// DSR of every shard (stats in s->shards already hold sr, skew, kurt, T).
static void s_dsr(const xt_wf_run *run, xt_wfstats *s) {
    xt_wf_dsr *d = &s->dsr;
    d->best = -1;
    d->dsr = d->sr_var_annual = d->sr0_annual = NAN;
    int valid = 0;
    double mean = 0.0;
    for (int i = 0; i < s->n_shards; i++) {
        const xt_wf_shard_stats *sh = &s->shards[i];
        if (!isfinite(sh->sr_annual)) continue;
        valid++, mean += sh->sr_annual;
        if (d->best < 0 || sh->sr_annual > s->shards[d->best].sr_annual) d->best = i;
    }
    d->n_trials = run->n_trials > valid ? run->n_trials : valid;
    if (valid == 0) {
        snprintf(d->note, sizeof d->note, "no shard has at least 2 out-of-sample returns with non-zero variance");
        return;
    }
    mean /= valid;
    double v = 0.0;
    for (int i = 0; i < s->n_shards; i++)
        if (isfinite(s->shards[i].sr_annual)) v += (s->shards[i].sr_annual - mean) * (s->shards[i].sr_annual - mean);
    if (valid >= 2) d->sr_var_annual = v / (valid - 1);
    else if (d->n_trials > 1) {
        snprintf(d->note, sizeof d->note,
                 "N = %d trials but only one Sharpe ratio, so their variance cannot be estimated", d->n_trials);
        return;
    } else d->sr_var_annual = 0.0;
    // SR0 in annual units, converted to each shard's own period below.
    d->sr0_annual = xt_wfstats_expected_max_sr(d->sr_var_annual, d->n_trials);
    for (int i = 0; i < s->n_shards; i++) {
        xt_wf_shard_stats *sh = &s->shards[i];
        if (!isfinite(sh->sr_annual)) continue;
        double sr0 = d->sr0_annual / sqrt(sh->bars_per_year);
        sh->dsr = xt_wfstats_psr(sh->sr, sr0, sh->n_returns, sh->skew, sh->kurt);
    }
    d->dsr = s->shards[d->best].dsr;
    d->defined = isfinite(d->dsr);
    snprintf(d->note, sizeof d->note, d->defined ? "N = %d trials" : "N = %d trials; the Sharpe variance term is not positive",
             d->n_trials);
}

// Per-shard return statistics, DSR and PBO.
static int s_oos(const xt_wf_run *run, xt_wfstats *s, xt_err *err) {
    int64_t max_n = 1, span = 0;
    for (int f = 0; f < run->n_folds; f++) {
        if (run->folds[f].test_end > run->folds[f].test_start) span += run->folds[f].test_end - run->folds[f].test_start;
        for (int i = 0; i < run->folds[f].n_shards; i++) max_n += run->folds[f].shards[i].curves.n;
    }
    int S = run->pbo_blocks ? run->pbo_blocks : 16;
    double *ret = malloc((size_t)max_n * sizeof *ret);
    xt_wf_cell *cells = calloc((size_t)(s->n_shards ? s->n_shards : 1) * (size_t)S, sizeof *cells);
    double *scale = calloc((size_t)(s->n_shards ? s->n_shards : 1), sizeof *scale);
    int *cols = calloc((size_t)(s->n_shards ? s->n_shards : 1), sizeof *cols);
    if (!ret || !cells || !scale || !cols) {
        free(ret), free(cells), free(scale), free(cols);
        return xt_err_set(err, XT_ENOMEM, "report: cannot allocate %lld returns", (long long)max_n);
    }
    int N = 0; // PBO columns: shards with returns
    for (int k = 0; k < s->n_shards; k++) {
        xt_wf_shard_stats *sh = &s->shards[k];
        sh->sr = sh->sr_annual = sh->skew = sh->kurt = sh->psr = sh->dsr = NAN;
        int64_t n = s_stitch(run, s, k, ret, span > 0 ? &cells[N * S] : NULL, S, span, &sh->bars_per_year);
        sh->n_returns = n;
        if (n == 0) continue;
        xt_wf_moments m;
        xt_wfstats_moments(ret, n, &m);
        if (n >= 2 && m.sd > 0 && sh->bars_per_year > 0) {
            sh->sr = m.mean / m.sd;
            sh->sr_annual = sh->sr * sqrt(sh->bars_per_year);
            sh->skew = m.skew, sh->kurt = m.kurt;
            sh->psr = xt_wfstats_psr(sh->sr, 0.0, n, m.skew, m.kurt);
        }
        scale[N] = sh->bars_per_year > 0 ? sqrt(sh->bars_per_year) : 1.0;
        cols[N++] = k;
    }
    s_dsr(run, s);

    // PBO: pick S (explicit, or the largest of 16, 8, 4, 2 whose every cell
    // holds at least 4 returns; blocks of S/2 are unions of pairs of blocks of S).
    int rc = 0;
    if (span <= 0) s_pbo_undefined(&s->pbo, N, S, "the folds' test windows are empty, so there is no time axis to cut into blocks");
    else if (N < 2) s_pbo_undefined(&s->pbo, N, S, "PBO needs at least 2 strategies (shards with out-of-sample curves); this run has fewer");
    else {
        while (!run->pbo_blocks && S > 2) {
            int ok = 1;
            for (int c = 0; c < N * S && ok; c++) ok = cells[c].n >= 4;
            if (ok) break;
            for (int c = 0; c < N; c++)
                for (int b = 0; b < S / 2; b++) {
                    xt_wf_cell m = cells[c * S + 2 * b];
                    s_cell_merge(&m, &cells[c * S + 2 * b + 1]);
                    cells[c * (S / 2) + b] = m; // in place: target index <= both sources
                }
            S /= 2;
        }
        // Name the first shard whose block is too thin (an explicit S can ask for too many).
        int thin = -1;
        for (int c = 0; c < N * S && thin < 0; c++)
            if (cells[c].n < 2) thin = c;
        if (thin >= 0) {
            char why[240];
            snprintf(why, sizeof why, "block %d of %d of shard %s %s holds %lld out-of-sample returns; every block needs at least 2",
                     thin % S + 1, S, s->shards[cols[thin / S]].symbol, s->shards[cols[thin / S]].timeframe,
                     (long long)cells[thin].n);
            s_pbo_undefined(&s->pbo, N, S, why);
        } else rc = xt_wfstats_pbo_cells(cells, scale, N, S, &s->pbo, err);
    }
    free(ret), free(cells), free(scale), free(cols);
    return rc;
}

xt_wfstats *xt_wfstats_new(const xt_wf_run *run, xt_err *err) {
    if (s_validate(run, err) != 0) return NULL;
    xt_wfstats *s = calloc(1, sizeof *s);
    const char **syms = NULL, **tfs = NULL;
    const xt_wf_metrics **ptrs = NULL;
    double *scratch = NULL;
    if (!s) {
        xt_err_set(err, XT_ENOMEM, "report: cannot allocate statistics");
        return NULL;
    }
    if (s_index(run, s, &syms, &tfs, err) != 0) goto fail;
    int cap = 1;
    for (int f = 0; f < run->n_folds; f++) cap += run->folds[f].n_shards;
    ptrs = calloc((size_t)cap, sizeof *ptrs);
    scratch = calloc((size_t)cap, sizeof *scratch);
    s->n_folds = run->n_folds;
    s->folds = calloc((size_t)(run->n_folds ? run->n_folds : 1), sizeof *s->folds);
    s->symbols = calloc((size_t)(s->n_symbols ? s->n_symbols : 1), sizeof *s->symbols);
    s->timeframes = calloc((size_t)(s->n_timeframes ? s->n_timeframes : 1), sizeof *s->timeframes);
    if (!ptrs || !scratch || !s->folds || !s->symbols || !s->timeframes) {
        xt_err_set(err, XT_ENOMEM, "report: cannot allocate %d results", cap);
        goto fail;
    }
    // Summaries per fold, symbol, timeframe, shard, and pooled.
    for (int f = 0; f < run->n_folds; f++) {
        s->folds[f].fold = run->folds[f].index;
        s_group(run, 0, f, NULL, NULL, ptrs, scratch, s->folds[f].s);
    }
    for (int i = 0; i < s->n_symbols; i++) {
        s->symbols[i].key = syms[i], s->symbols[i].fold = -1;
        s_group(run, 1, -1, syms[i], NULL, ptrs, scratch, s->symbols[i].s);
    }
    for (int i = 0; i < s->n_timeframes; i++) {
        s->timeframes[i].key = tfs[i], s->timeframes[i].fold = -1;
        s_group(run, 2, -1, tfs[i], NULL, ptrs, scratch, s->timeframes[i].s);
    }
    for (int k = 0; k < s->n_shards; k++) {
        xt_wf_shard_stats *sh = &s->shards[k];
        s_group(run, 3, -1, sh->symbol, sh->timeframe, ptrs, scratch, sh->s);
        for (int f = 0; f < run->n_folds; f++)
            for (int i = 0; i < run->folds[f].n_shards; i++)
                sh->n_folds += !strcmp(run->folds[f].shards[i].symbol, sh->symbol) &&
                               !strcmp(run->folds[f].shards[i].timeframe, sh->timeframe);
    }
    s_group(run, 4, -1, NULL, NULL, ptrs, scratch, s->overall);
    // Consistency: mean over shards of each shard's fraction of profitable folds.
    for (int st = 0; st < XT_WF_NSTRAT; st++) {
        int n = 0;
        double sum = 0.0;
        for (int k = 0; k < s->n_shards; k++)
            if (isfinite(s->shards[k].s[st].consistency)) sum += s->shards[k].s[st].consistency, n++;
        s->consistency[st] = n ? sum / n : NAN;
    }
    if (s_oos(run, s, err) != 0) goto fail;
    free(syms), free(tfs), free(ptrs), free(scratch);
    return s;
fail:
    free(syms), free(tfs), free(ptrs), free(scratch);
    xt_wfstats_destroy(&s);
    return NULL;
}

void xt_wfstats_destroy(xt_wfstats **sp) {
    if (!sp || !*sp) return;
    xt_wfstats *s = *sp;
    free(s->shards);
    free(s->folds);
    free(s->symbols);
    free(s->timeframes);
    free(s);
    *sp = NULL;
}
