// wfstats.h - walk-forward results and the statistics across folds.
//
// The broker (at the end of a run) and `xtrade report` fill the plain input
// structs below - one xt_wf_run with its folds, each fold with one xt_wf_shard
// per evaluated (symbol or "portfolio", timeframe) - and xt_wfstats_new turns
// them into the numbers of the report (docs/reports.md):
//
//   consistency  fraction of folds whose total return is > 0, per shard; the
//                run's figure is the mean over shards
//   summaries    mean / median / worst across folds of total return, Sharpe
//                and max drawdown, per shard, fold, symbol, timeframe, overall
//   DSR          Deflated Sharpe Ratio (Bailey & Lopez de Prado 2014) of each
//                shard's stitched out-of-sample agent returns, N = the shards
//                (or run->n_trials if larger)
//   PBO          Probability of Backtest Overfitting by CSCV (Bailey, Borwein,
//                Lopez de Prado & Zhu 2015): strategies = the agent on each
//                shard, rows = the stitched out-of-sample time axis cut into S
//                calendar blocks
//
// Every metric is a double; NaN means "not available" and is skipped by the
// statistics and written as null/empty by the report writers. Strings and
// arrays in the input are borrowed: the caller keeps them alive while an
// xt_wfstats computed from them (which points at the same strings) is used.
#ifndef XT_WFSTATS_H
#define XT_WFSTATS_H

#include "core/err.h"

#include <stdint.h>

// ---------------------------------------------------------------- metrics

// Episode metrics of one strategy on one window (DESIGN §4, seed 003 §9.1;
// the same definitions as env/epmetrics.h). X(field, label, kind):
// kind PCT = a fraction shown as a percentage, RATIO = a plain number,
// MONEY = account currency, COUNT = an integer count.
#define XT_WF_METRICS(X)                                   \
    X(total_return, "Total return", PCT)                   \
    X(annual_return, "Annualized return", PCT)             \
    X(annual_vol, "Annualized volatility", PCT)            \
    X(sharpe, "Sharpe", RATIO)                             \
    X(sortino, "Sortino", RATIO)                           \
    X(max_drawdown, "Max drawdown", PCT)                   \
    X(calmar, "Calmar", RATIO)                             \
    X(time_in_drawdown, "Time in drawdown", PCT)           \
    X(profit_factor, "Profit factor", RATIO)               \
    X(win_rate, "Win rate", PCT)                           \
    X(avg_win, "Average win", MONEY)                       \
    X(avg_loss, "Average loss", MONEY)                     \
    X(trades, "Trades", COUNT)                             \
    X(turnover, "Turnover", RATIO)                         \
    X(fee_ratio, "Fees / gross PnL", PCT)                  \
    X(avg_cash, "Average cash weight", PCT)                \
    X(pct_cash_over_20, "Time with > 20% cash", PCT)

typedef enum { XT_WF_KIND_PCT, XT_WF_KIND_RATIO, XT_WF_KIND_MONEY, XT_WF_KIND_COUNT } xt_wf_kind;

typedef struct {
#define XT_WF_FIELD_(name, label, kind) double name;
    XT_WF_METRICS(XT_WF_FIELD_)
#undef XT_WF_FIELD_
} xt_wf_metrics;

#define XT_WF_COUNT_(name, label, kind) +1
enum { XT_WF_NMETRICS = 0 XT_WF_METRICS(XT_WF_COUNT_) };
#undef XT_WF_COUNT_

// Metric i by index (0 .. XT_WF_NMETRICS-1): key ("total_return"), label, kind, value.
const char *xt_wf_metric_key(int i);
const char *xt_wf_metric_label(int i);
xt_wf_kind xt_wf_metric_kind(int i);
double xt_wf_metric_get(const xt_wf_metrics *m, int i);
// All fields NaN ("not evaluated").
void xt_wf_metrics_clear(xt_wf_metrics *m);

// The agent and the three baselines, evaluated on the same window.
#define XT_WF_STRATEGIES(X)                  \
    X(AGENT, "agent", "Agent")               \
    X(BUY_AND_HOLD, "buy_and_hold", "Buy & hold") \
    X(EQUAL_WEIGHT, "equal_weight", "Equal weight") \
    X(CASH, "cash", "All cash")

typedef enum {
#define XT_WF_ENUM_(id, key, label) XT_WF_##id,
    XT_WF_STRATEGIES(XT_WF_ENUM_)
#undef XT_WF_ENUM_
    XT_WF_NSTRAT
} xt_wf_strategy;

const char *xt_wf_strategy_key(int s);   // "buy_and_hold"
const char *xt_wf_strategy_label(int s); // "Buy & hold"

// ---------------------------------------------------------------- input

typedef enum { XT_WF_ENV_ASSET, XT_WF_ENV_PORTFOLIO } xt_wf_env;

// Per-step curves of one shard's test window (for charts, DSR and PBO).
// Everything is borrowed; n == 0 means "no curves" (charts are omitted and
// the shard takes no part in DSR/PBO).
typedef struct {
    int64_t n;                          // steps
    const int64_t *ts;                  // [n] bar time, UTC seconds, increasing
    const double *equity[XT_WF_NSTRAT]; // [n] account equity per strategy; NULL = not charted
    const double *drawdown;             // [n] agent drawdown, positive fraction; NULL = from equity
    int n_alloc;                        // columns of alloc: K+1 weights (portfolio), 1 position (asset), 0 none
    const double *alloc;                // [n][n_alloc] row-major
    const char *const *alloc_names;     // [n_alloc] legend labels ("BTC", ..., "cash"); NULL = "w0", ...
} xt_wf_curves;

typedef struct {
    const char *symbol;            // symbol, or "portfolio" for the portfolio env
    const char *timeframe;         // "1h"
    double bars_per_year;          // annualization factor of the env; 0 = derived from curves.ts
    xt_wf_metrics m[XT_WF_NSTRAT]; // agent + baselines on this fold's test window
    xt_wf_curves curves;
} xt_wf_shard;

typedef struct {
    int index;                       // k as in runs/<run_id>/fold-<k>/
    int64_t train_start, train_end;  // UTC seconds, [start, end)
    int64_t test_start, test_end;    // UTC seconds, [start, end)
    int n_shards;
    const xt_wf_shard *shards;
} xt_wf_fold;

typedef struct {
    const char *run_id;
    const char *config_summary; // free text shown verbatim (escaped) in the report
    xt_wf_env env;              // picks the allocation chart: stacked weights or position line
    int64_t created;            // UTC seconds stamped into the report (given, so output is deterministic)
    int n_trials;               // DSR's N: configurations tried in total; 0 = the number of shards
    int pbo_blocks;             // CSCV's S (even, 2..20); 0 = automatic (16, 8, 4 or 2)
    int n_folds;
    const xt_wf_fold *folds;    // in walk-forward order
} xt_wf_run;

// ---------------------------------------------------------------- output

typedef struct {
    int n;                   // results with a finite total return
    double consistency;      // fraction of those with total return > 0
    double ret_mean, ret_median, ret_worst;          // total return; worst = lowest
    double sharpe_mean, sharpe_median, sharpe_worst, sharpe_sd; // sd across results (n - 1)
    double mdd_mean, mdd_median, mdd_worst;          // max drawdown; worst = largest
    double cash_mean;        // mean of avg_cash
} xt_wf_summary;

// A group of results (one fold, one symbol, one timeframe): key names it.
typedef struct {
    const char *key; // symbol or timeframe (borrowed); NULL for folds (see fold)
    int fold;        // fold index for fold groups, -1 otherwise
    xt_wf_summary s[XT_WF_NSTRAT];
} xt_wf_group;

typedef struct {
    const char *symbol, *timeframe; // borrowed from the run
    int n_folds;                    // folds with a result for this shard
    xt_wf_summary s[XT_WF_NSTRAT];  // across folds; s[AGENT].consistency is the shard's consistency
    // The agent's out-of-sample step returns stitched over the folds.
    int64_t n_returns;
    double bars_per_year;
    double sr, sr_annual;           // mean / sd (sd with n - 1); sr * sqrt(bars_per_year)
    double skew, kurt;              // population skewness, kurtosis (not excess: normal = 3)
    double psr;                     // P(true Sharpe > 0) (NaN when undefined)
    double dsr;                     // P(true Sharpe > the expected max of N trials)
} xt_wf_shard_stats;

typedef struct {
    int defined;       // 0: dsr is NaN and note says why
    int n_trials;      // N
    double sr_var_annual; // V: sample variance of the trials' annualized Sharpe ratios
    double sr0_annual;    // expected maximum annualized Sharpe of N unskilled trials
    int best;          // shard with the highest annualized Sharpe (-1 if none)
    double dsr;        // that shard's DSR
    char note[240];
} xt_wf_dsr;

typedef struct {
    int defined;           // 0: pbo is NaN and note says why
    int n_strategies;      // N (matrix columns)
    int n_blocks;          // S
    int64_t n_combinations; // C(S, S/2)
    double pbo;            // fraction of combinations whose in-sample best is at or below the
                           // out-of-sample median (logit <= 0)
    double logit_mean;     // mean of the logits lambda = ln(w / (1 - w))
    double prob_oos_loss;  // fraction of combinations whose in-sample best loses out of sample
    char note[240];
} xt_wf_pbo;

typedef struct {
    int n_shards;
    xt_wf_shard_stats *shards;       // distinct (symbol, timeframe) in order of first appearance
    int n_folds;
    xt_wf_group *folds;              // one per run fold, across its shards
    int n_symbols;
    xt_wf_group *symbols;            // across folds and timeframes
    int n_timeframes;
    xt_wf_group *timeframes;         // across folds and symbols
    xt_wf_summary overall[XT_WF_NSTRAT]; // pooled over every fold x shard
    double consistency[XT_WF_NSTRAT];    // mean over shards of the per-shard consistency
    xt_wf_dsr dsr;
    xt_wf_pbo pbo;
} xt_wfstats;

// Computes every statistic of run. Returns the stats (caller owns;
// xt_wfstats_destroy) or NULL with err set (bad run: a shard without symbol,
// curves with n > 0 but no ts, pbo_blocks odd or out of range, ...).
xt_wfstats *xt_wfstats_new(const xt_wf_run *run, xt_err *err);
void xt_wfstats_destroy(xt_wfstats **s);

// Index in s->shards of (symbol, timeframe), or -1.
int xt_wfstats_find_shard(const xt_wfstats *s, const char *symbol, const char *timeframe);

// ---------------------------------------------------------------- building blocks

// Summary of n results (pointers to metrics); scratch holds n doubles.
void xt_wfstats_summarize(const xt_wf_metrics *const *m, int n, double *scratch, xt_wf_summary *out);

// Standard normal CDF, 0.5 * erfc(-x / sqrt 2) (accurate in both tails).
double xt_wfstats_norm_cdf(double x);
// Standard normal quantile (Wichura 1988, AS241 PPND16, ~1e-15 relative or better).
// p <= 0 -> -inf, p >= 1 -> +inf, NaN -> NaN.
double xt_wfstats_norm_ppf(double p);

typedef struct {
    int64_t n;
    double mean, sd;  // sd with n - 1 (0 when n < 2)
    double skew, kurt; // population moments m3 / m2^1.5, m4 / m2^2 (0 and 3 when m2 == 0)
} xt_wf_moments;

// Moments of the finite values among x[0..n-1] (two-pass).
void xt_wfstats_moments(const double *x, int64_t n, xt_wf_moments *m);

// Expected maximum Sharpe of n_trials unskilled trials whose Sharpe ratios
// have variance var_sr: sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))),
// g the Euler-Mascheroni constant. 0 when N <= 1 (nothing was selected).
double xt_wfstats_expected_max_sr(double var_sr, int n_trials);

// Probabilistic Sharpe Ratio: P(true SR > sr_star) for an estimate sr (both
// per period) from T returns with skewness skew and kurtosis kurt (normal 3):
//   Phi((sr - sr_star) sqrt(T - 1) / sqrt(1 - skew sr + (kurt - 1) / 4 sr^2)).
// NaN when T < 2, an input is not finite, or the variance term is <= 0.
// The DSR is xt_wfstats_psr(sr, xt_wfstats_expected_max_sr(V, N), ...).
double xt_wfstats_psr(double sr, double sr_star, int64_t T, double skew, double kurt);

// Running statistics of one (strategy, block) cell of a CSCV matrix.
typedef struct {
    int64_t n;
    double mean, m2; // Welford: mean and sum of squared deviations
} xt_wf_cell;

void xt_wf_cell_add(xt_wf_cell *c, double x);

// PBO by CSCV over a T x N matrix of per-period returns (row-major, row t =
// time, column = strategy), rows cut into S contiguous blocks of T/S rows
// (the first T % S blocks one row longer). Performance = Sharpe (mean / sd).
// S must be even and in 2..20 (XT_EINVAL otherwise). Degenerate data (N < 2,
// T < 2 S) is not an error: out->defined = 0, pbo NaN, out->note says why.
int xt_wfstats_pbo(const double *ret, int64_t T, int N, int S, xt_wf_pbo *out, xt_err *err);

// Same from precomputed cells[n * S + b] (strategy n, block b); scale[n]
// multiplies strategy n's Sharpe before ranking (sqrt(bars per year) puts
// different timeframes on one footing; NULL = 1). A cell with fewer than 2
// returns leaves the result undefined.
int xt_wfstats_pbo_cells(const xt_wf_cell *cells, const double *scale, int N, int S, xt_wf_pbo *out,
                         xt_err *err);

#endif
