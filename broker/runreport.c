// runreport.c - journal results -> xt_wf_run -> report files.
//
// Invariants: only finished folds (every shard evaluated) are reported, in
// plan order; every metric the wire does not carry is NaN ("not
// available"), never a made-up number. Ownership: xt_runreport owns its
// shard array; strings are borrowed from the plan, the config and itself.
// Runs once, on the broker's loop thread, at the end of the run.
#include "runreport.h"

#include "report/report.h"

#include "core/xtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- mapping

static void s_agent(xt_wf_metrics *m, const double *w) {
    xt_wf_metrics_clear(m);
    m->total_return = w[XT_WIRE_EVAL_TOTAL_RETURN];
    m->annual_return = w[XT_WIRE_EVAL_ANNUAL_RETURN];
    m->sharpe = w[XT_WIRE_EVAL_SHARPE];
    m->sortino = w[XT_WIRE_EVAL_SORTINO];
    m->max_drawdown = w[XT_WIRE_EVAL_MAX_DRAWDOWN];
    m->calmar = w[XT_WIRE_EVAL_CALMAR];
    m->time_in_drawdown = w[XT_WIRE_EVAL_TIME_IN_DRAWDOWN];
    m->win_rate = w[XT_WIRE_EVAL_WIN_RATE];
    m->profit_factor = w[XT_WIRE_EVAL_PROFIT_FACTOR];
    m->trades = w[XT_WIRE_EVAL_TRADES];
    m->turnover = w[XT_WIRE_EVAL_TURNOVER];
    m->avg_cash = w[XT_WIRE_EVAL_CASH_USAGE];
}

static void s_baselines(xt_wf_shard *sh, const double *w) {
    xt_wf_metrics_clear(&sh->m[XT_WF_BUY_AND_HOLD]);
    sh->m[XT_WF_BUY_AND_HOLD].total_return = w[XT_WIRE_EVAL_BUY_HOLD_RETURN];
    xt_wf_metrics_clear(&sh->m[XT_WF_EQUAL_WEIGHT]);
    // All cash: nothing moves, by definition.
    xt_wf_metrics *c = &sh->m[XT_WF_CASH];
    xt_wf_metrics_clear(c);
    c->total_return = 0, c->max_drawdown = 0, c->avg_cash = 1;
}

// ---------------------------------------------------------------- public

int xt_runreport_init(xt_runreport *rr, const xt_run *r, const xt_config *cfg, int64_t created, xt_err *err) {
    memset(rr, 0, sizeof *rr);
    const xt_plan *p = xt_run_plan(r);
    rr->shards = calloc((size_t)p->n_folds * (size_t)p->n_shards, sizeof *rr->shards);
    if (!rr->shards) return xt_err_set(err, XT_ENOMEM, "report: out of memory for %d x %d shards", p->n_folds, p->n_shards);
    for (int s = 0; s < p->n_shards; s++) xt_timeframe_name(p->shards[s].tf_sec, rr->tf[s]);

    // One line for the report's header: what was run.
    size_t o = 0;
    o += (size_t)snprintf(rr->summary + o, sizeof rr->summary - o, "env %s; shards",
                          cfg->env_kind == XT_ENV_KIND_PORTFOLIO ? "portfolio" : "asset");
    for (int s = 0; s < p->n_shards && o < sizeof rr->summary; s++)
        o += (size_t)snprintf(rr->summary + o, sizeof rr->summary - o, " %s/%s", p->shards[s].name, rr->tf[s]);
    if (o < sizeof rr->summary)
        snprintf(rr->summary + o, sizeof rr->summary - o, "; %llu env steps per fold; seed %llu",
                 (unsigned long long)p->step_budget, (unsigned long long)p->seed);

    int nf = 0;
    for (int k = 0; k < p->n_folds; k++) {
        const xt_run_fold_info *f = xt_run_fold_state(r, k);
        if (f->phase != XT_WIRE_PHASE_DONE) continue;
        xt_wf_shard *row = rr->shards + (size_t)nf * (size_t)p->n_shards;
        for (int s = 0; s < p->n_shards; s++) {
            xt_wf_shard *sh = &row[s];
            sh->symbol = p->shards[s].name;
            sh->timeframe = rr->tf[s];
            sh->bars_per_year = 0; // no curves: not needed
            s_agent(&sh->m[XT_WF_AGENT], f->evals[s].metrics);
            s_baselines(sh, f->evals[s].metrics);
        }
        const xt_fold *fd = &p->folds[k];
        rr->folds[nf++] = (xt_wf_fold){k, fd->train_start, fd->train_end, fd->test_start, fd->test_end, p->n_shards, row};
    }
    rr->run = (xt_wf_run){p->run_id,
                          rr->summary,
                          cfg->env_kind == XT_ENV_KIND_PORTFOLIO ? XT_WF_ENV_PORTFOLIO : XT_WF_ENV_ASSET,
                          created,
                          0,
                          0,
                          nf,
                          rr->folds};
    return 0;
}

void xt_runreport_free(xt_runreport *rr) {
    free(rr->shards);
    rr->shards = NULL;
}

int xt_runreport_write(const xt_run *r, const xt_config *cfg, const char *dir, xt_err *err) {
    xt_runreport rr; // about 8 KiB
    int rc = xt_runreport_init(&rr, r, cfg, (int64_t)xt_time_wall(), err);
    if (rc == 0) rc = xt_report_write(&rr.run, dir, err);
    xt_runreport_free(&rr);
    return rc;
}
