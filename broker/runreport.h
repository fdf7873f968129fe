// runreport.h - the run's walk-forward report from the broker's journal.
//
// At the end of a run the broker turns the evaluation results it journaled
// into common/report's input (xt_wf_run: one fold per plan fold, one shard
// per plan shard) and writes runs/<run_id>/report.{json,csv,html}. Mapping
// of the wire's EvalResult metrics (XT_WIRE_EVAL_METRICS) to the report's
// (XT_WF_METRICS):
//   agent         total_return, annual_return, sharpe, sortino, max_drawdown,
//                 calmar, time_in_drawdown, win_rate, profit_factor, trades,
//                 turnover as sent; avg_cash = cash_usage; annual_vol, avg_win,
//                 avg_loss, fee_ratio, pct_cash_over_20 NaN (not on the wire)
//   buy_and_hold  total_return = buy_hold_return, the rest NaN
//   cash          total_return 0, max_drawdown 0, avg_cash 1 (exact for
//                 all-cash), the rest NaN
//   equal_weight  NaN (not on the wire)
// No per-step curves: EvalResult carries metrics only, so the charts, the
// DSR and the PBO are left out until the eval CSVs are read back.
#ifndef XT_BROKER_RUNREPORT_H
#define XT_BROKER_RUNREPORT_H

#include "plan.h"
#include "run.h"

#include "core/config.h"
#include "report/wfstats.h"

typedef struct {
    xt_wf_run run;
    xt_wf_fold folds[XT_MAX_FOLDS];
    xt_wf_shard *shards; // [n_folds][n_shards], heap
    char tf[XT_PLAN_MAX_SHARDS][16];
    char summary[512];
} xt_runreport;

// Fills rr from the finished folds of r (folds without every result are
// left out). created: the time stamp written into the report. Caller frees
// with xt_runreport_free; strings point into rr, the plan and the config.
int xt_runreport_init(xt_runreport *rr, const xt_run *r, const xt_config *cfg, int64_t created, xt_err *err);
void xt_runreport_free(xt_runreport *rr);

// Builds the input and writes dir/report.{json,csv,html}.
int xt_runreport_write(const xt_run *r, const xt_config *cfg, const char *dir, xt_err *err);

#endif
