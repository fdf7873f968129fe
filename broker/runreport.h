// runreport.h - the run's walk-forward report from the broker's journal,
// the eval CSVs and the feature caches.
//
// At the end of a run the broker turns what it has into common/report's
// input (xt_wf_run: one fold per finished plan fold, one shard per plan
// shard) and writes runs/<run_id>/report.{json,csv,html}. Sources:
//
//   agent metrics   the journaled EvalResult (XT_WIRE_EVAL_METRICS):
//                   total_return, annual_return, sharpe, sortino,
//                   max_drawdown, calmar, time_in_drawdown, win_rate,
//                   profit_factor, trades, turnover as sent; avg_cash =
//                   cash_usage; annual_vol from the agent's curve (when
//                   read); avg_win, avg_loss, fee_ratio, pct_cash_over_20
//                   NaN (not on the wire)
//   agent curve     the eval CSV the actor wrote: the journaled csv_path,
//                   else <run dir>/fold-<k>/eval/<symbol>-<tf>.csv; gives
//                   the equity and allocation charts, and DSR / PBO
//   baselines       walked again on the fold's feature caches
//                   (evalcurves.h): every metric and the equity curve of
//                   buy & hold, equal weight and all cash, exactly as the
//                   actors' own baselines. Without readable caches: buy &
//                   hold's total return from the wire, all cash's exact
//                   zeros, equal weight NaN
//
// On one machine (xtrade cluster up, docker compose with its shared volume)
// everything is readable. With actors on machines that do not share the
// run directory the CSVs are missing: the report then has metrics tables
// but no agent charts, DSR or PBO, and its summary line says how many
// curves were found and why the rest are missing.
#ifndef XT_BROKER_RUNREPORT_H
#define XT_BROKER_RUNREPORT_H

#include "plan.h"
#include "run.h"

#include "core/config.h"
#include "env/envparams.h"
#include "report/wfstats.h"

// Storage of one shard's curves on a common time axis (owned by the report).
typedef struct {
    int64_t *ts;
    double *equity[XT_WF_NSTRAT]; // NULL: that strategy is not charted
    double *alloc;
    char names[XT_ENV_MAX_ASSETS + 1][32];
    const char *name_p[XT_ENV_MAX_ASSETS + 1];
} xt_runreport_curve;

typedef struct {
    xt_wf_run run;
    xt_wf_fold folds[XT_MAX_FOLDS];
    xt_wf_shard *shards;        // [n_folds][n_shards], heap
    xt_runreport_curve *curves; // [n_folds][n_shards], heap
    size_t n_cells;             // n_folds x n_shards of the plan
    char tf[XT_PLAN_MAX_SHARDS][16];
    char summary[1024];
    // What was found (also written into summary).
    int n_results;   // shard results of finished folds
    int n_agent;     // ... with the agent's curve read from its eval CSV
    int n_baselines; // ... with the baselines walked on the caches
    char why_agent[256], why_baselines[256]; // first reason a curve was missing ("" if none)
} xt_runreport;

// Fills rr from the finished folds of r (folds without every result are
// left out). run_dir is where eval CSVs are looked for when the journaled
// path is not readable; created the time stamp written into the report.
// Missing curves are not an error (they are counted and explained in
// rr->summary). Caller frees with xt_runreport_free; strings point into rr,
// the plan and the config.
int xt_runreport_init(xt_runreport *rr, const xt_run *r, const xt_config *cfg, const char *run_dir, int64_t created,
                      xt_err *err);
void xt_runreport_free(xt_runreport *rr);

// Builds the input and writes dir/report.{json,csv,html} (dir is also the
// run directory the CSVs are looked for in).
int xt_runreport_write(const xt_run *r, const xt_config *cfg, const char *dir, xt_err *err);

#endif
