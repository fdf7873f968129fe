// test_wfstats.c - statistics across walk-forward folds: the normal CDF and
// quantile against 40-digit references, moments and the PSR/DSR against the
// worked example of Bailey & Lopez de Prado (2014), PBO by CSCV on a matrix
// worked by hand, on a clearly best strategy (PBO 0), on pure noise with a
// forced rank reversal (PBO 1) and on iid noise, and the run-level figures:
// consistency counts, mean/median/worst, groups, DSR/PBO wiring and their
// degenerate cases.
#include "testutil.h"

#include "core/rng.h"
#include "report/wfstats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_near(double got, double want, double tol, const char *what, int line) {
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: %s = %.17g, want %.17g (tol %g)", line, what, got, want, tol);
}
#define NEAR(got, want, tol) s_near((got), (want), (tol), #got, __LINE__)

// ---------------------------------------------------------------- normal distribution

static void t_norm(void **state) {
    (void)state;
    // Quantiles: 40-digit references (mpmath: root of ncdf(x) = p, in log space for the tails).
    static const struct {
        double p, x;
    } q[] = {
        {0.5, 0.0},
        {0.975, 1.9599639845400542355},
        {0.025, -1.9599639845400542355},
        {0.95, 1.6448536269514727149},
        {0.99, 2.3263478740408411009},
        {0.999, 3.0902323061678135415},
        {0.9999, 3.7190164854556805644},
        {0.3, -0.52440051270804078404},
        {0.02425, -1.9729610513118848503}, // the |q| = 0.425 branch boundary is at p = 0.075
        {0.97575, 1.9729610513118848503},
        {1e-5, -4.2648907939228246285},
        {0.99999, 4.2648907939228246285},
        {1e-7, -5.1993375821928169316},
        {1e-10, -6.3613409024040562047}, // r = sqrt(-ln p) = 4.80 <= 5
        {1e-20, -9.2623400897984075737}, // r = 6.79: the far-tail branch
        {1e-300, -37.047096299361199237},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        double got = xt_wfstats_norm_ppf(q[i].p);
        // 1e-13 relative catches a mistyped coefficient; close to p = 1 the
        // double p itself is off (1 - 0.99999 = 1.0000000000065512e-05), so
        // there only the 1e-9 asked of the quantile applies.
        double tol = q[i].p > 0.999 ? 1e-9 : 1e-13;
        if (!(fabs(got - q[i].x) <= tol * fmax(1.0, fabs(q[i].x))))
            fail_msg("ppf(%g) = %.17g, want %.17g", q[i].p, got, q[i].x);
        // Round trip through the CDF (relative, so the tails count too).
        double back = xt_wfstats_norm_cdf(got);
        if (!(fabs(back - q[i].p) <= 1e-12 * q[i].p))
            fail_msg("cdf(ppf(%g)) = %.17g", q[i].p, back);
    }
    assert_true(isinf(xt_wfstats_norm_ppf(0.0)) && xt_wfstats_norm_ppf(0.0) < 0);
    assert_true(isinf(xt_wfstats_norm_ppf(1.0)) && xt_wfstats_norm_ppf(1.0) > 0);
    assert_true(isnan(xt_wfstats_norm_ppf(NAN)));

    static const struct {
        double x, p;
    } c[] = {
        {0.0, 0.5},
        {1.0, 0.84134474606854294859},
        {-1.0, 0.15865525393145705141},
        {1.96, 0.97500210485177956586},
        {3.0, 0.99865010196836990547},
        {0.5, 0.69146246127401310364},
        {-5.0, 2.8665157187919391167e-7},
        {-10.0, 7.619853024160526066e-24},
        {8.0, 0.9999999999999993779},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double got = xt_wfstats_norm_cdf(c[i].x);
        // Relative 1e-12 in the lower tail (erfc keeps it), absolute 1e-15 elsewhere.
        if (!(fabs(got - c[i].p) <= fmax(1e-15, 1e-12 * c[i].p)))
            fail_msg("cdf(%g) = %.17g, want %.17g", c[i].x, got, c[i].p);
    }
}

// ---------------------------------------------------------------- moments, PSR, DSR

static void t_moments(void **state) {
    (void)state;
    // x = {1, 2, 3, 10} (+ a NaN that is skipped): mean 4, deviations -3 -2 -1 6,
    // sum d^2 = 9 + 4 + 1 + 36 = 50, sum d^3 = -27 - 8 - 1 + 216 = 180,
    // sum d^4 = 81 + 16 + 1 + 1296 = 1394. sd = sqrt(50 / 3);
    // m2 = 12.5, skew = 45 / 12.5^1.5, kurt = 348.5 / 156.25.
    const double x[] = {1, 2, NAN, 3, 10};
    xt_wf_moments m;
    xt_wfstats_moments(x, 5, &m);
    assert_int_equal(m.n, 4);
    NEAR(m.mean, 4.0, 1e-15);
    NEAR(m.sd, sqrt(50.0 / 3.0), 1e-14);
    NEAR(m.skew, 45.0 / pow(12.5, 1.5), 1e-14);
    NEAR(m.kurt, 348.5 / 156.25, 1e-14);
    // Flat series: no spread, normal shape by convention.
    const double flat[] = {0.5, 0.5, 0.5};
    xt_wfstats_moments(flat, 3, &m);
    NEAR(m.sd, 0.0, 0.0);
    NEAR(m.skew, 0.0, 0.0);
    NEAR(m.kurt, 3.0, 0.0);
}

static void t_dsr_worked_example(void **state) {
    (void)state;
    // Bailey & Lopez de Prado (2014), section "numerical example": N = 100
    // trials, variance of their annualized Sharpe ratios V = 1/2, the best
    // annualized SR 2.5 over T = 1250 daily returns (250 a year), skewness -3,
    // kurtosis 10.
    //   Z^-1(1 - 1/100)        = 2.3263478740408411
    //   Z^-1(1 - 1/(100 e))    = Z^-1(0.99632120558828558) = 2.6802104449668827
    //   E[max] = (1 - 0.5772156649) 2.3263478740 + 0.5772156649 2.6802104450 = 2.5306028932
    //   SR0 (daily) = sqrt(0.5 / 250) 2.5306028932 = 0.0447213595 2.5306028932 = 0.1131720019
    //   SR  (daily) = 2.5 / sqrt(250) = 0.1581138830
    //   sqrt(1 - (-3)(0.1581138830) + (10 - 1)/4 0.1581138830^2) = sqrt(1.5305692) = 1.2371708245
    //   z = (0.1581138830 - 0.1131720019) sqrt(1249) / 1.2371708245 = 1.2838160365
    //   DSR = Z(1.2838160365) = 0.9003968344   (the paper rounds it to 0.9004)
    double emax = xt_wfstats_expected_max_sr(1.0, 100);
    NEAR(emax, 2.5306028932016820, 1e-12);
    double sr0 = xt_wfstats_expected_max_sr(0.5 / 250.0, 100);
    NEAR(sr0, 0.11317200186513203, 1e-13);
    double sr = 2.5 / sqrt(250.0);
    NEAR(xt_wfstats_psr(sr, sr0, 1250, -3.0, 10.0), 0.90039683444939096, 1e-10);
    // The same estimate against 0 (PSR): z = 0.1581138830 sqrt(1249) / 1.2371708245 = 4.5167.
    NEAR(xt_wfstats_psr(sr, 0.0, 1250, -3.0, 10.0), 0.99999685950789765, 1e-10);
    // Normal returns (skew 0, kurt 3), SR 0.1, T 101: z = 0.1 * 10 / sqrt(1 + 0.005) = 0.99751.
    NEAR(xt_wfstats_psr(0.1, 0.0, 101, 0.0, 3.0), xt_wfstats_norm_cdf(1.0 / sqrt(1.005)), 1e-15);
    // Degenerate inputs.
    NEAR(xt_wfstats_expected_max_sr(0.5, 1), 0.0, 0.0); // one trial: nothing to deflate
    NEAR(xt_wfstats_expected_max_sr(0.0, 50), 0.0, 0.0);
    assert_true(isnan(xt_wfstats_psr(0.1, 0.0, 1, 0.0, 3.0)));
    assert_true(isnan(xt_wfstats_psr(NAN, 0.0, 100, 0.0, 3.0)));
    assert_true(isnan(xt_wfstats_psr(1.0, 0.0, 100, 5.0, 3.0))); // 1 - 5 + 0.5 < 0
}

// ---------------------------------------------------------------- PBO

static void t_pbo_by_hand(void **state) {
    (void)state;
    // T = 4 rows, N = 3 strategies, S = 2 blocks (rows 0-1, rows 2-3). Each
    // block is (mu - 0.01, mu + 0.01), so every block has sd 0.01 sqrt 2 and
    // Sharpe mu / 0.0141421:
    //        block 0 mu -> SR     block 1 mu -> SR
    //   A     0.03  ->  2.1213     0.02  ->  1.4142
    //   B    -0.01  -> -0.7071     0.03  ->  2.1213
    //   C     0.02  ->  1.4142     0.01  ->  0.7071
    // J = {0}: in-sample best A; out of sample (block 1) B > A > C, A's rank 2
    //   of 3, w = 2/4, lambda = ln 1 = 0 -> counted (lambda <= 0); A's OOS SR > 0.
    // J = {1}: best B; out of sample (block 0) A > C > B, rank 1, w = 1/4,
    //   lambda = ln(1/3); B loses out of sample.
    // PBO = 2/2 = 1, mean logit = ln(1/3) / 2 = -0.5493061443, P(OOS loss) = 1/2.
    const double ret[] = {
        0.02, -0.02, 0.01, //
        0.04, 0.00, 0.03,  //
        0.01, 0.02, 0.00,  //
        0.03, 0.04, 0.02,  //
    };
    xt_wf_pbo p;
    xt_err err = {0};
    assert_int_equal(xt_wfstats_pbo(ret, 4, 3, 2, &p, &err), 0);
    assert_int_equal(p.defined, 1);
    assert_int_equal(p.n_combinations, 2);
    NEAR(p.pbo, 1.0, 0.0);
    NEAR(p.logit_mean, log(1.0 / 3.0) / 2.0, 1e-15);
    NEAR(p.prob_oos_loss, 0.5, 0.0);

    // Give A the best block 1 as well (0.04 +- 0.01): A is best in and out of
    // sample both ways, rank 3 of 3, w = 3/4, lambda = ln 3 each: PBO 0.
    const double ret2[] = {
        0.02, -0.02, 0.01, //
        0.04, 0.00, 0.03,  //
        0.03, 0.02, 0.00,  //
        0.05, 0.04, 0.02,  //
    };
    assert_int_equal(xt_wfstats_pbo(ret2, 4, 3, 2, &p, &err), 0);
    NEAR(p.pbo, 0.0, 0.0);
    NEAR(p.logit_mean, log(3.0), 1e-15);
    NEAR(p.prob_oos_loss, 0.0, 0.0);

    // Bad and degenerate arguments.
    assert_int_equal(xt_wfstats_pbo(ret, 4, 3, 3, &p, &err), XT_EINVAL);
    assert_string_equal(err.msg, "pbo_blocks: must be an even number from 2 to 20 (got 3)");
    assert_int_equal(xt_wfstats_pbo(ret, 4, 3, 22, &p, &err), XT_EINVAL);
    assert_int_equal(xt_wfstats_pbo(ret, 4, 1, 2, &p, &err), 0);
    assert_int_equal(p.defined, 0);
    assert_true(isnan(p.pbo));
    assert_string_equal(p.note, "PBO needs at least 2 strategies to rank; this run has fewer");
    assert_int_equal(xt_wfstats_pbo(ret, 4, 3, 4, &p, &err), 0);
    assert_int_equal(p.defined, 0);
    assert_string_equal(p.note, "4 rows cannot fill 4 blocks of at least 2 returns");
}

static void t_pbo_clear_winner(void **state) {
    (void)state;
    // 6 strategies of N(0, 0.01) noise; strategy 3 adds a drift of 0.004 per
    // period (Sharpe 0.4 a period, 4 sd per 100-row block): it is the best in
    // every training half and in every test half, so PBO = 0.
    enum { T = 1600, N = 6 };
    static double ret[T * N];
    xt_rng r;
    xt_rng_seed(&r, 7);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) ret[t * N + n] = 0.01 * xt_rng_normal(&r) + (n == 3 ? 0.004 : 0.0);
    xt_wf_pbo p;
    xt_err err = {0};
    assert_int_equal(xt_wfstats_pbo(ret, T, N, 16, &p, &err), 0);
    assert_int_equal(p.defined, 1);
    assert_int_equal(p.n_combinations, 12870); // C(16, 8)
    NEAR(p.pbo, 0.0, 0.0);
    NEAR(p.prob_oos_loss, 0.0, 0.0);
    NEAR(p.logit_mean, log(6.0), 1e-12); // rank 6 of 6 every time: w = 6/7
}

static void t_pbo_noise_reversal(void **state) {
    (void)state;
    // Pure noise with a forced rank reversal: strategy A is N(0, 0.01) noise
    // centred so its full-sample sum is ~0, strategy B = -A. On any training
    // half the winner is the one whose half-sum is positive; its test-half sum
    // is total - that = negative, so it ranks last out of sample, every time.
    enum { T = 800 };
    static double ret[T * 2];
    xt_rng r;
    xt_rng_seed(&r, 11);
    double mean = 0.0;
    for (int t = 0; t < T; t++) mean += (ret[2 * t] = 0.01 * xt_rng_normal(&r));
    mean /= T;
    for (int t = 0; t < T; t++) ret[2 * t] -= mean, ret[2 * t + 1] = -ret[2 * t];
    xt_wf_pbo p;
    xt_err err = {0};
    assert_int_equal(xt_wfstats_pbo(ret, T, 2, 16, &p, &err), 0);
    NEAR(p.pbo, 1.0, 0.0);
    NEAR(p.prob_oos_loss, 1.0, 0.0);
    NEAR(p.logit_mean, log(0.5), 1e-12); // rank 1 of 2: w = 1/3

    // 8 strategies sharing one noise series, each with its blocks rotated:
    // every strategy has the same full-sample returns, so the best half of one
    // is paired with its worst half. PBO is high (not exactly 1: Sharpe, not
    // the mean, ranks them).
    enum { TB = 8 * 64, NB = 8 };
    static double base[TB], rot[TB * NB];
    for (int t = 0; t < TB; t++) base[t] = 0.01 * xt_rng_normal(&r);
    for (int n = 0; n < NB; n++)
        for (int t = 0; t < TB; t++) rot[t * NB + n] = base[(t + n * 64) % TB];
    assert_int_equal(xt_wfstats_pbo(rot, TB, NB, 8, &p, &err), 0);
    assert_int_equal(p.n_combinations, 70);
    if (!(p.pbo >= 0.9)) fail_msg("rotated-noise PBO = %g, want >= 0.9", p.pbo);
    if (!(p.logit_mean < 0)) fail_msg("rotated-noise mean logit = %g, want < 0", p.logit_mean);

    // Independent noise: no skill, no reversal; PBO sits near 1/2.
    enum { TI = 1600, NI = 10 };
    static double iid[TI * NI];
    for (int i = 0; i < TI * NI; i++) iid[i] = 0.01 * xt_rng_normal(&r);
    assert_int_equal(xt_wfstats_pbo(iid, TI, NI, 16, &p, &err), 0);
    if (!(p.pbo > 0.2 && p.pbo < 0.8)) fail_msg("iid-noise PBO = %g, want within (0.2, 0.8)", p.pbo);
}

// ---------------------------------------------------------------- run level

// Metrics with only the figures the statistics read; the rest NaN.
static xt_wf_metrics s_m(double ret, double sharpe, double mdd, double cash) {
    xt_wf_metrics m;
    xt_wf_metrics_clear(&m);
    m.total_return = ret, m.sharpe = sharpe, m.max_drawdown = mdd, m.avg_cash = cash;
    return m;
}

static void t_consistency_and_summaries(void **state) {
    (void)state;
    // 3 folds; shards BTC 1h and ETH 1h in every fold, BTC 4h in fold 2 only
    // with no result (NaN). Agent total returns:
    //   BTC 1h: +0.10 -0.05 +0.02 -> 2 of 3 profitable
    //   ETH 1h: -0.10 -0.20 +0.30 -> 1 of 3
    // consistency (mean over shards with results) = (2/3 + 1/3) / 2 = 0.5;
    // BTC 1h: mean 0.07/3, median 0.02, worst -0.05.
    static xt_wf_shard f1[2], f2[3], f3[2];
    const double btc[3] = {0.10, -0.05, 0.02}, eth[3] = {-0.10, -0.20, 0.30};
    const double btc_sr[3] = {1.5, -0.5, 0.3}, btc_dd[3] = {0.1, 0.25, 0.15};
    xt_wf_shard *folds_sh[3] = {f1, f2, f3};
    for (int f = 0; f < 3; f++) {
        xt_wf_shard *sh = folds_sh[f];
        memset(sh, 0, sizeof(xt_wf_shard) * (f == 1 ? 3 : 2));
        sh[0].symbol = "BTC", sh[0].timeframe = "1h";
        sh[1].symbol = "ETH", sh[1].timeframe = "1h";
        for (int s = 0; s < XT_WF_NSTRAT; s++) {
            sh[0].m[s] = s_m(btc[f], btc_sr[f], btc_dd[f], 0.3);
            sh[1].m[s] = s_m(eth[f], 0.0, 0.2, 0.1);
        }
        // The cash baseline never makes money: consistency 0.
        sh[0].m[XT_WF_CASH] = s_m(0.0, 0.0, 0.0, 1.0);
        sh[1].m[XT_WF_CASH] = s_m(0.0, 0.0, 0.0, 1.0);
        if (f == 1) {
            sh[2].symbol = "BTC", sh[2].timeframe = "4h";
            for (int s = 0; s < XT_WF_NSTRAT; s++) xt_wf_metrics_clear(&sh[2].m[s]);
        }
    }
    const xt_wf_fold folds[3] = {
        {.index = 1, .n_shards = 2, .shards = f1},
        {.index = 2, .n_shards = 3, .shards = f2},
        {.index = 3, .n_shards = 2, .shards = f3},
    };
    const xt_wf_run run = {.run_id = "r1", .n_folds = 3, .folds = folds};
    xt_err err = {0};
    xt_wfstats *s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->n_shards, 3);
    assert_int_equal(s->n_symbols, 2);
    assert_int_equal(s->n_timeframes, 2);
    assert_string_equal(s->shards[2].timeframe, "4h");
    assert_int_equal(xt_wfstats_find_shard(s, "ETH", "1h"), 1);
    assert_int_equal(xt_wfstats_find_shard(s, "ETH", "4h"), -1);

    const xt_wf_summary *b = &s->shards[0].s[XT_WF_AGENT];
    assert_int_equal(b->n, 3);
    NEAR(b->consistency, 2.0 / 3.0, 1e-15);
    NEAR(b->ret_mean, 0.07 / 3.0, 1e-15);
    NEAR(b->ret_median, 0.02, 0.0);
    NEAR(b->ret_worst, -0.05, 0.0);
    NEAR(b->sharpe_mean, 1.3 / 3.0, 1e-15);
    NEAR(b->sharpe_median, 0.3, 0.0);
    NEAR(b->sharpe_worst, -0.5, 0.0);
    // sd of {1.5, -0.5, 0.3}: mean 1.3/3, squares sum 2.0 + ... = 2.0533.. / 2
    double mu = 1.3 / 3.0;
    NEAR(b->sharpe_sd, sqrt(((1.5 - mu) * (1.5 - mu) + (-0.5 - mu) * (-0.5 - mu) + (0.3 - mu) * (0.3 - mu)) / 2.0),
         1e-15);
    NEAR(b->mdd_worst, 0.25, 0.0);
    NEAR(b->mdd_median, 0.15, 0.0);
    NEAR(b->cash_mean, 0.3, 1e-15);
    NEAR(s->shards[1].s[XT_WF_AGENT].consistency, 1.0 / 3.0, 1e-15);
    assert_int_equal(s->shards[2].n_folds, 1);
    assert_int_equal(s->shards[2].s[XT_WF_AGENT].n, 0);
    assert_true(isnan(s->shards[2].s[XT_WF_AGENT].consistency));
    NEAR(s->consistency[XT_WF_AGENT], 0.5, 1e-15);
    NEAR(s->consistency[XT_WF_CASH], 0.0, 0.0);

    // Pooled: 6 results, 3 profitable; even count -> median of the middle two
    // (sorted -0.20 -0.10 -0.05 0.02 0.10 0.30 -> (-0.05 + 0.02) / 2).
    assert_int_equal(s->overall[XT_WF_AGENT].n, 6);
    NEAR(s->overall[XT_WF_AGENT].consistency, 0.5, 0.0);
    NEAR(s->overall[XT_WF_AGENT].ret_median, -0.015, 1e-15);
    NEAR(s->overall[XT_WF_AGENT].ret_worst, -0.20, 0.0);
    // Per fold: fold 2 = BTC -0.05, ETH -0.20 (BTC 4h has no result): 0 of 2.
    assert_int_equal(s->n_folds, 3);
    assert_int_equal(s->folds[1].fold, 2);
    assert_int_equal(s->folds[1].s[XT_WF_AGENT].n, 2);
    NEAR(s->folds[1].s[XT_WF_AGENT].consistency, 0.0, 0.0);
    NEAR(s->folds[2].s[XT_WF_AGENT].consistency, 1.0, 0.0);
    // Per symbol: BTC pools both timeframes (3 finite results), per timeframe 1h pools both symbols.
    assert_string_equal(s->symbols[0].key, "BTC");
    assert_int_equal(s->symbols[0].s[XT_WF_AGENT].n, 3);
    assert_string_equal(s->timeframes[0].key, "1h");
    assert_int_equal(s->timeframes[0].s[XT_WF_AGENT].n, 6);
    // No curves anywhere: DSR and PBO are undefined, with reasons.
    assert_int_equal(s->dsr.defined, 0);
    assert_true(isnan(s->dsr.dsr));
    assert_string_equal(s->dsr.note, "no shard has at least 2 out-of-sample returns with non-zero variance");
    assert_int_equal(s->pbo.defined, 0);
    assert_true(isnan(s->pbo.pbo));
    assert_string_equal(s->pbo.note,
                        "the folds' test windows are empty, so there is no time axis to cut into blocks");
    xt_wfstats_destroy(&s);
    assert_null(s);
    xt_wfstats_destroy(&s);
}

// A run of 2 folds x 3 hourly shards with equity curves: drift d per shard.
enum { RUN_STEPS = 24 * 40 };
static int64_t s_ts[2][RUN_STEPS];
static double s_eq[2][3][RUN_STEPS];
static xt_wf_shard s_sh[2][3];
static xt_wf_fold s_folds[2];

static xt_wf_run s_curve_run(const double drift[3], int n_shards) {
    static const char *syms[3] = {"AAA", "BBB", "CCC"};
    xt_rng r;
    xt_rng_seed(&r, 5);
    for (int f = 0; f < 2; f++) {
        int64_t start = 1700000000 + f * (int64_t)RUN_STEPS * 3600;
        s_folds[f] = (xt_wf_fold){.index = f + 1, .train_start = start - 86400 * 100, .train_end = start,
                                  .test_start = start, .test_end = start + (int64_t)RUN_STEPS * 3600,
                                  .n_shards = n_shards, .shards = s_sh[f]};
        for (int t = 0; t < RUN_STEPS; t++) s_ts[f][t] = start + t * 3600;
        for (int k = 0; k < n_shards; k++) {
            xt_wf_shard *sh = &s_sh[f][k];
            memset(sh, 0, sizeof *sh);
            sh->symbol = syms[k], sh->timeframe = "1h", sh->bars_per_year = 8766.0;
            for (int st = 0; st < XT_WF_NSTRAT; st++) sh->m[st] = s_m(0.01 * (k + 1), 1.0, 0.1, 0.2);
            double e = 1000.0;
            for (int t = 0; t < RUN_STEPS; t++) {
                if (t) e *= 1.0 + drift[k] + 0.002 * xt_rng_normal(&r);
                s_eq[f][k][t] = e;
            }
            sh->curves.n = RUN_STEPS;
            sh->curves.ts = s_ts[f];
            sh->curves.equity[XT_WF_AGENT] = s_eq[f][k];
        }
    }
    return (xt_wf_run){.run_id = "curves", .n_folds = 2, .folds = s_folds};
}

static void t_run_dsr_pbo(void **state) {
    (void)state;
    const double drift[3] = {0.0002, 0.0, -0.0001};
    xt_wf_run run = s_curve_run(drift, 3);
    xt_err err = {0};
    xt_wfstats *s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    // Recompute shard 0's figures independently: stitch its returns (the first
    // step of each fold has no predecessor), moments, PSR against 0.
    static double ret[2 * RUN_STEPS];
    int64_t n = 0;
    for (int f = 0; f < 2; f++)
        for (int t = 1; t < RUN_STEPS; t++) ret[n++] = s_eq[f][0][t] / s_eq[f][0][t - 1] - 1.0;
    xt_wf_moments m;
    xt_wfstats_moments(ret, n, &m);
    const xt_wf_shard_stats *a = &s->shards[0];
    assert_int_equal(a->n_returns, 2 * (RUN_STEPS - 1));
    NEAR(a->bars_per_year, 8766.0, 0.0);
    NEAR(a->sr, m.mean / m.sd, 1e-15);
    NEAR(a->sr_annual, m.mean / m.sd * sqrt(8766.0), 1e-12);
    NEAR(a->psr, xt_wfstats_psr(m.mean / m.sd, 0.0, n, m.skew, m.kurt), 1e-15);
    // DSR: N = 3 shards, V = sample variance of their annualized Sharpes; the
    // best shard (drift 0.0002) is tested against SR0 / sqrt(bars per year).
    double sa[3], mean = 0, v = 0;
    for (int k = 0; k < 3; k++) sa[k] = s->shards[k].sr_annual, mean += sa[k] / 3.0;
    for (int k = 0; k < 3; k++) v += (sa[k] - mean) * (sa[k] - mean) / 2.0;
    assert_int_equal(s->dsr.n_trials, 3);
    assert_int_equal(s->dsr.best, 0);
    NEAR(s->dsr.sr_var_annual, v, 1e-12 * v);
    NEAR(s->dsr.sr0_annual, xt_wfstats_expected_max_sr(v, 3), 1e-12);
    double want = xt_wfstats_psr(a->sr, xt_wfstats_expected_max_sr(v, 3) / sqrt(8766.0), n, m.skew, m.kurt);
    NEAR(s->dsr.dsr, want, 1e-12);
    assert_int_equal(s->dsr.defined, 1);
    assert_true(s->dsr.dsr < a->psr); // deflation only lowers the probability
    assert_string_equal(s->dsr.note, "N = 3 trials");
    // PBO: 3 strategies, 80 days of hourly returns -> automatic S = 16.
    assert_int_equal(s->pbo.defined, 1);
    assert_int_equal(s->pbo.n_strategies, 3);
    assert_int_equal(s->pbo.n_blocks, 16);
    assert_int_equal(s->pbo.n_combinations, 12870);
    assert_true(s->pbo.pbo >= 0.0 && s->pbo.pbo <= 1.0);
    xt_wfstats_destroy(&s);

    // More trials than shards (n_trials = 50): a higher bar, a lower DSR.
    run.n_trials = 50;
    s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->dsr.n_trials, 50);
    assert_true(s->dsr.dsr < want);
    xt_wfstats_destroy(&s);

    // An explicit S is used as given: 20 blocks of 4 days (96 hourly returns each).
    run.n_trials = 0;
    run.pbo_blocks = 20;
    s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->pbo.n_blocks, 20);
    assert_int_equal(s->pbo.defined, 1);
    xt_wfstats_destroy(&s);

    // One shard: N = 1 -> PBO undefined; DSR = PSR (nothing to deflate).
    run = s_curve_run(drift, 1);
    s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->pbo.defined, 0);
    assert_true(isnan(s->pbo.pbo));
    assert_string_equal(s->pbo.note,
                        "PBO needs at least 2 strategies (shards with out-of-sample curves); this run has fewer");
    assert_int_equal(s->dsr.n_trials, 1);
    NEAR(s->dsr.sr0_annual, 0.0, 0.0);
    NEAR(s->dsr.dsr, s->shards[0].psr, 0.0);
    xt_wfstats_destroy(&s);
    // One shard but 10 trials claimed: the variance of the trials is unknown.
    run.n_trials = 10;
    s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->dsr.defined, 0);
    assert_string_equal(s->dsr.note,
                        "N = 10 trials but only one Sharpe ratio, so their variance cannot be estimated");
    xt_wfstats_destroy(&s);
}

static void t_thin_blocks_and_bad_input(void **state) {
    (void)state;
    const double drift[3] = {0.0001, 0.0, 0.0};
    xt_wf_run run = s_curve_run(drift, 2);
    // Keep only the first 30 steps of shard BBB in fold 2: its returns fall in
    // the first block of fold 2's half of the axis, the other blocks are empty.
    s_sh[1][1].curves.n = 30;
    run.pbo_blocks = 4;
    xt_err err = {0};
    xt_wfstats *s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->pbo.defined, 0);
    assert_string_equal(s->pbo.note,
                        "block 4 of 4 of shard BBB 1h holds 0 out-of-sample returns; every block needs at least 2");
    xt_wfstats_destroy(&s);
    // Automatic S falls back to 2 blocks when only halves are filled enough.
    run.pbo_blocks = 0;
    s = xt_wfstats_new(&run, &err);
    assert_non_null(s);
    assert_int_equal(s->pbo.defined, 1);
    assert_int_equal(s->pbo.n_blocks, 2);
    xt_wfstats_destroy(&s);

    // Bad runs are refused with a sentence.
    run.pbo_blocks = 5;
    assert_null(xt_wfstats_new(&run, &err));
    assert_string_equal(err.msg, "report: pbo_blocks must be 0 (automatic) or an even number from 2 to 20 (got 5)");
    run.pbo_blocks = 0;
    s_sh[0][1].symbol = "";
    assert_null(xt_wfstats_new(&run, &err));
    assert_string_equal(err.msg, "report: fold 1 shard 1 has no symbol or timeframe");
    s_sh[0][1].symbol = "BBB";
    s_ts[0][10] = s_ts[0][9];
    assert_null(xt_wfstats_new(&run, &err));
    assert_string_equal(err.msg, "report: fold 1 shard AAA 1h: curve timestamps are not increasing at step 10");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_norm),
        cmocka_unit_test(t_moments),
        cmocka_unit_test(t_dsr_worked_example),
        cmocka_unit_test(t_pbo_by_hand),
        cmocka_unit_test(t_pbo_clear_winner),
        cmocka_unit_test(t_pbo_noise_reversal),
        cmocka_unit_test(t_consistency_and_summaries),
        cmocka_unit_test(t_run_dsr_pbo),
        cmocka_unit_test(t_thin_blocks_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
