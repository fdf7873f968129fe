// runreport.c - journal results + eval CSVs + baseline walks -> xt_wf_run
// -> report files.
//
// Invariants: only finished folds (every shard evaluated) are reported, in
// plan order; a metric nobody measured is NaN ("not available"), never a
// made-up number. A shard's curves share one time axis: the baselines'
// walk (the whole test window) when there is one, else the agent's CSV
// rows; the agent's equity and allocation are carried forward over steps
// after its walk ended early (a terminal rule liquidated it: it holds cash).
// When the agent's rows are not a subset of the baselines' axis (a CSV from
// another config) the baselines are left out of the charts, not the agent.
// Ownership: xt_runreport owns its shard and curve arrays; strings are
// borrowed from the plan, the config and itself. Runs once, on the broker's
// loop thread, at the end of the run (or in a test).
#include "runreport.h"

#include "evalcurves.h"

#include "core/fileio.h"
#include "core/log.h"
#include "core/xtime.h"
#include "report/report.h"
#include "rl/shards.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- metrics

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

// Baselines from the wire alone: buy & hold's return; all cash is exact.
static void s_wire_baselines(xt_wf_shard *sh, const double *w) {
    xt_wf_metrics_clear(&sh->m[XT_WF_BUY_AND_HOLD]);
    sh->m[XT_WF_BUY_AND_HOLD].total_return = w[XT_WIRE_EVAL_BUY_HOLD_RETURN];
    xt_wf_metrics_clear(&sh->m[XT_WF_EQUAL_WEIGHT]);
    xt_wf_metrics *c = &sh->m[XT_WF_CASH];
    xt_wf_metrics_clear(c);
    c->total_return = 0, c->max_drawdown = 0, c->avg_cash = 1;
}

// Every field of an env episode's metrics (env/epmetrics.h has them all).
static void s_full(xt_wf_metrics *o, const xt_metrics *m) {
    o->total_return = m->total_return, o->annual_return = m->annual_return, o->annual_vol = m->annual_vol;
    o->sharpe = m->sharpe, o->sortino = m->sortino, o->max_drawdown = m->max_drawdown, o->calmar = m->calmar;
    o->time_in_drawdown = m->time_in_drawdown, o->profit_factor = m->profit_factor, o->win_rate = m->win_rate;
    o->avg_win = m->avg_win, o->avg_loss = m->avg_loss, o->trades = (double)m->trades, o->turnover = m->turnover;
    o->fee_ratio = m->fee_ratio, o->avg_cash = m->avg_cash, o->pct_cash_over_20 = m->pct_cash_over_20;
}

// Annualized volatility of a curve's step returns (env/epmetrics.h: sd with
// n - 1 times sqrt(bars per year), the first return against equity0).
static double s_annual_vol(const double *eq, int64_t n, double equity0, double bars_per_year) {
    if (n < 2 || !(bars_per_year > 0)) return NAN;
    double mean = 0, m2 = 0, prev = equity0;
    for (int64_t t = 0; t < n; t++) {
        double r = prev > 0 ? eq[t] / prev - 1.0 : 0.0, d = r - mean;
        mean += d / (double)(t + 1);
        m2 += d * (r - mean); // Welford
        prev = eq[t];
    }
    return sqrt(m2 / (double)(n - 1)) * sqrt(bars_per_year);
}

// ---------------------------------------------------------------- curves

static void s_curve_free(xt_runreport_curve *c) {
    free(c->ts);
    for (int s = 0; s < XT_WF_NSTRAT; s++) free(c->equity[s]);
    free(c->alloc);
    memset(c, 0, sizeof *c);
}

static void s_why(char *buf, size_t cap, const char *msg) {
    if (buf[0]) return; // the first reason stands
    size_t n = strlen(msg);
    if (n >= cap) n = cap - 1;
    memcpy(buf, msg, n);
    buf[n] = '\0';
}

// The eval CSV of (fold k, shard "<sym>-<tf>"): the journaled path when it
// is readable here, else the run directory's own copy.
static int s_read_agent(xt_runreport *rr, xt_evalcurve *a, const char *journaled, const char *run_dir, int k,
                        const char *name) {
    char path[XT_RUN_PATH_MAX + 128];
    xt_err e = {0};
    if (journaled && journaled[0] && xt_file_exists(journaled)) snprintf(path, sizeof path, "%s", journaled);
    else snprintf(path, sizeof path, "%s/fold-%d/eval/%s.csv", run_dir, k, name);
    if (!xt_file_exists(path)) {
        char msg[XT_RUN_PATH_MAX + 200];
        snprintf(msg, sizeof msg, "%s: not found on the broker's machine", journaled && journaled[0] ? journaled : path);
        s_why(rr->why_agent, sizeof rr->why_agent, msg);
        return -1;
    }
    if (xt_evalcurve_read(a, path, &e)) {
        xt_warn("report: %s", e.msg);
        s_why(rr->why_agent, sizeof rr->why_agent, e.msg);
        return -1;
    }
    return 0;
}

// Puts the agent (a, may be empty) and the baselines (b[], n == 0: none) of
// one shard on one time axis in c and points sh->curves at it.
static int s_merge(xt_runreport_curve *c, xt_wf_shard *sh, const xt_evalcurve *a, const xt_evalcurve *b,
                   double equity0, xt_err *err) {
    int have_b = b[0].n > 0 && b[1].n == b[0].n && b[2].n == b[0].n;
    for (int k = 1; have_b && k < XT_BASELINE_COUNT; k++)
        have_b = memcmp(b[k].ts, b[0].ts, (size_t)b[0].n * sizeof *b[0].ts) == 0;
    // The agent's rows must all lie on the baselines' axis.
    if (have_b && a->n > 0) {
        int64_t j = 0;
        for (int64_t t = 0; t < a->n && have_b; t++) {
            while (j < b[0].n && b[0].ts[j] < a->ts[t]) j++;
            have_b = j < b[0].n && b[0].ts[j] == a->ts[t];
        }
    }
    const xt_evalcurve *axis = have_b ? &b[0] : a;
    int64_t n = axis->n;
    if (n == 0) return 0;
    c->ts = malloc((size_t)n * sizeof *c->ts);
    if (!c->ts) return xt_err_set(err, XT_ENOMEM, "report: out of memory for %lld steps", (long long)n);
    memcpy(c->ts, axis->ts, (size_t)n * sizeof *c->ts);
    if (a->n > 0) {
        c->equity[XT_WF_AGENT] = malloc((size_t)n * sizeof(double));
        c->alloc = malloc((size_t)n * (size_t)a->n_alloc * sizeof(double));
        if (!c->equity[XT_WF_AGENT] || !c->alloc) return xt_err_set(err, XT_ENOMEM, "report: out of memory");
        // Carry the agent's last row forward; before its first row it holds
        // its initial balance in cash.
        int64_t j = -1;
        for (int64_t t = 0; t < n; t++) {
            while (j + 1 < a->n && a->ts[j + 1] <= c->ts[t]) j++;
            c->equity[XT_WF_AGENT][t] = j >= 0 ? a->equity[j] : equity0;
            for (int q = 0; q < a->n_alloc; q++)
                c->alloc[t * a->n_alloc + q] =
                    j >= 0 ? a->alloc[j * a->n_alloc + q] : (a->n_alloc > 1 && q == a->n_alloc - 1 ? 1.0 : 0.0);
        }
        for (int q = 0; q < a->n_alloc; q++) {
            snprintf(c->names[q], sizeof c->names[q], "%s", a->names[q]);
            c->name_p[q] = c->names[q];
        }
        sh->curves.n_alloc = a->n_alloc;
        sh->curves.alloc = c->alloc;
        sh->curves.alloc_names = c->name_p;
    }
    if (have_b) {
        static const int strat[XT_BASELINE_COUNT] = {XT_WF_BUY_AND_HOLD, XT_WF_EQUAL_WEIGHT, XT_WF_CASH};
        for (int k = 0; k < XT_BASELINE_COUNT; k++) {
            double *e = malloc((size_t)n * sizeof(double));
            if (!e) return xt_err_set(err, XT_ENOMEM, "report: out of memory");
            memcpy(e, b[k].equity, (size_t)n * sizeof(double));
            c->equity[strat[k]] = e;
        }
    }
    sh->curves.n = n;
    sh->curves.ts = c->ts;
    for (int s = 0; s < XT_WF_NSTRAT; s++) sh->curves.equity[s] = c->equity[s];
    sh->curves.drawdown = NULL; // from the agent's equity
    return 0;
}

// One shard of a finished fold: metrics, baselines and curves.
static int s_shard(xt_runreport *rr, xt_wf_shard *sh, xt_runreport_curve *c, const xt_run_result *res,
                   const xt_rl_shard *rs, int env_kind, const xt_env_params *ep, const xt_config *cfg,
                   const char *run_dir, int k, const char *name, xt_err *err) {
    s_agent(&sh->m[XT_WF_AGENT], res->metrics);
    s_wire_baselines(sh, res->metrics);
    xt_evalcurve a = {0}, b[XT_BASELINE_COUNT];
    memset(b, 0, sizeof b);
    int rc = 0;
    if (rs) {
        // Baselines on the same window as the actor's (its rows come from the same caches).
        static const int strat[XT_BASELINE_COUNT] = {XT_WF_BUY_AND_HOLD, XT_WF_EQUAL_WEIGHT, XT_WF_CASH};
        xt_metrics m[XT_BASELINE_COUNT];
        int ok = 1;
        for (int q = 0; q < XT_BASELINE_COUNT && ok; q++) {
            xt_err e = {0};
            if (xt_evalcurve_baseline(&b[q], &m[q], env_kind, rs, ep, (xt_baseline_kind)q, &e)) {
                s_why(rr->why_baselines, sizeof rr->why_baselines, e.msg);
                ok = 0;
            }
        }
        if (ok) {
            for (int q = 0; q < XT_BASELINE_COUNT; q++) s_full(&sh->m[strat[q]], &m[q]);
            sh->bars_per_year = m[0].bars_per_year;
            rr->n_baselines++;
        } else {
            for (int q = 0; q < XT_BASELINE_COUNT; q++) xt_evalcurve_free(&b[q]);
        }
    }
    if (s_read_agent(rr, &a, res->csv_path, run_dir, k, name) == 0) {
        rr->n_agent++;
        sh->m[XT_WF_AGENT].annual_vol = s_annual_vol(a.equity, a.n, cfg->env_initial_balance, sh->bars_per_year);
    }
    rc = s_merge(c, sh, &a, b, cfg->env_initial_balance, err);
    xt_evalcurve_free(&a);
    for (int q = 0; q < XT_BASELINE_COUNT; q++) xt_evalcurve_free(&b[q]);
    return rc;
}

// The summary line: what ran, and which curves the report has.
static void s_summary(xt_runreport *rr, const xt_plan *p, const xt_config *cfg) {
    size_t o = 0, cap = sizeof rr->summary;
    char *s = rr->summary;
#define S_ADD(...)                                                                   \
    do {                                                                             \
        if (o < cap) o += (size_t)snprintf(s + o, cap - o, __VA_ARGS__);             \
    } while (0)
    S_ADD("env %s; shards", cfg->env_kind == XT_ENV_KIND_PORTFOLIO ? "portfolio" : "asset");
    for (int i = 0; i < p->n_shards; i++) S_ADD(" %s/%s", p->shards[i].name, rr->tf[i]);
    S_ADD("; %llu env steps per fold; seed %llu", (unsigned long long)p->step_budget, (unsigned long long)p->seed);
    if (rr->n_results == 0) return;
    S_ADD("; agent curves %d of %d", rr->n_agent, rr->n_results);
    if (rr->n_agent < rr->n_results)
        S_ADD(" (%s; charts, DSR and PBO need the actors' eval CSVs: share the run directory)", rr->why_agent);
    S_ADD("; baselines walked on the feature caches %d of %d", rr->n_baselines, rr->n_results);
    if (rr->n_baselines < rr->n_results) S_ADD(" (%s; the rest have buy & hold's return only)", rr->why_baselines);
#undef S_ADD
}

// ---------------------------------------------------------------- public

int xt_runreport_init(xt_runreport *rr, const xt_run *r, const xt_config *cfg, const char *run_dir, int64_t created,
                      xt_err *err) {
    memset(rr, 0, sizeof *rr);
    const xt_plan *p = xt_run_plan(r);
    size_t cells = (size_t)p->n_folds * (size_t)p->n_shards;
    rr->shards = calloc(cells, sizeof *rr->shards);
    rr->curves = calloc(cells, sizeof *rr->curves);
    rr->n_cells = cells;
    if (!rr->shards || !rr->curves) {
        xt_runreport_free(rr);
        return xt_err_set(err, XT_ENOMEM, "report: out of memory for %d x %d shards", p->n_folds, p->n_shards);
    }
    for (int s = 0; s < p->n_shards; s++) xt_timeframe_name(p->shards[s].tf_sec, rr->tf[s]);
    xt_env_params ep;
    xt_err pe = {0};
    int have_ep = xt_rl_env_params(&ep, cfg, &pe) == 0;
    if (!have_ep) s_why(rr->why_baselines, sizeof rr->why_baselines, pe.msg);
    int env_kind = cfg->env_kind == XT_ENV_KIND_PORTFOLIO ? XT_ENV_KIND_PORTFOLIO : XT_ENV_KIND_ASSET;

    int nf = 0, rc = 0, built = 0;
    for (int k = 0; k < p->n_folds && rc == 0; k++) {
        const xt_run_fold_info *f = xt_run_fold_state(r, k);
        if (f->phase != XT_WIRE_PHASE_DONE) continue;
        // The fold's feature caches: the windows and bars the actors
        // evaluated on. Where this machine has none (a broker container
        // without the actors' cache directory) they are built once, from
        // the same config, so they hold the same bars.
        xt_shards *sh = NULL;
        xt_err se = {0};
        if (have_ep && xt_shards_open(&sh, cfg, k, 0, &se) && !built) {
            xt_dataset_stats st;
            built = 1;
            xt_info("report: building the feature caches for the baselines (%s)", se.msg);
            if (xt_dataset_build(cfg, 0, &st, NULL, NULL, &se) == 0) xt_shards_open(&sh, cfg, k, 0, &se);
        }
        if (have_ep && !sh) {
            char msg[XT_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "feature caches of fold %d: %s", k, se.msg);
            s_why(rr->why_baselines, sizeof rr->why_baselines, msg);
        }
        xt_wf_shard *row = rr->shards + (size_t)nf * (size_t)p->n_shards;
        xt_runreport_curve *crow = rr->curves + (size_t)nf * (size_t)p->n_shards;
        for (int s = 0; s < p->n_shards && rc == 0; s++) {
            char name[XT_PLAN_NAME_MAX + 24];
            snprintf(name, sizeof name, "%s-%s", p->shards[s].name, rr->tf[s]);
            const xt_rl_shard *rs = NULL;
            for (int i = 0; sh && i < xt_shards_count(sh); i++)
                if (strcmp(xt_shards_list(sh)[i].name, name) == 0) rs = &xt_shards_list(sh)[i];
            row[s].symbol = p->shards[s].name;
            row[s].timeframe = rr->tf[s];
            rr->n_results++;
            rc = s_shard(rr, &row[s], &crow[s], &f->evals[s], rs, env_kind, &ep, cfg, run_dir, k, name, err);
        }
        xt_shards_destroy(&sh);
        const xt_fold *fd = &p->folds[k];
        rr->folds[nf++] = (xt_wf_fold){k, fd->train_start, fd->train_end, fd->test_start, fd->test_end, p->n_shards, row};
    }
    if (rc) {
        xt_runreport_free(rr);
        return rc;
    }
    s_summary(rr, p, cfg);
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
    for (size_t i = 0; rr->curves && i < rr->n_cells; i++) s_curve_free(&rr->curves[i]);
    free(rr->curves);
    free(rr->shards);
    rr->curves = NULL;
    rr->shards = NULL;
}

int xt_runreport_write(const xt_run *r, const xt_config *cfg, const char *dir, xt_err *err) {
    xt_runreport rr;
    int rc = xt_runreport_init(&rr, r, cfg, dir, (int64_t)xt_time_wall(), err);
    if (rc) return rc;
    if (rr.n_results > 0 && (rr.n_agent < rr.n_results || rr.n_baselines < rr.n_results))
        xt_warn("report: agent curves for %d of %d results, baselines walked for %d (%s%s%s)", rr.n_agent,
                rr.n_results, rr.n_baselines, rr.why_agent, rr.why_agent[0] && rr.why_baselines[0] ? "; " : "",
                rr.why_baselines);
    rc = xt_report_write(&rr.run, dir, err);
    xt_runreport_free(&rr);
    return rc;
}
