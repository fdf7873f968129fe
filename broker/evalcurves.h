// evalcurves.h - per-step curves of a fold's test windows for the run
// report: the agent's read back from the eval CSVs the actors wrote, the
// baselines' walked again on the fold's feature caches.
//
// EvalResult carries metrics, not curves (docs/cluster-protocol.md §6.3).
// The agent's curve is the per-step CSV an actor writes next to the run
// (runs/<run_id>/fold-<k>/eval/<symbol>-<tf>.csv, rl/evaluate.h format):
// readable by the broker when broker and actors share the run directory
// (one machine, a compose volume, a ReadWriteMany claim). The baselines
// (buy & hold, equal weight, all cash) are not in any file: the broker walks
// them itself, exactly as rl/evaluate.c's xt_eval_baselines does (same env,
// same params, no stops or terminal rules), and keeps the equity of every
// step. tests/unit/test_broker_plan.c checks that the walk's metrics equal
// xt_eval_baselines' bit for bit, so the two cannot drift apart silently.
//
// Report-time code: allocates per call, one thread.
#ifndef XT_BROKER_EVALCURVES_H
#define XT_BROKER_EVALCURVES_H

#include "core/err.h"
#include "env/baseline.h"
#include "env/envparams.h"
#include "env/epmetrics.h"
#include "rl/shards.h"

#include <stdint.h>

#define XT_EVALCURVE_MAX_BYTES (1u << 30) // eval CSVs larger than this are refused
#define XT_EVALCURVE_NAME 32

typedef struct {
    int64_t n;     // steps
    int64_t *ts;   // [n] bar open time of each step, UTC seconds, increasing
    double *equity; // [n] account equity after each step
    int n_alloc;   // 0 (baseline walk), 1 (asset env position) or K + 1 (portfolio weights, cash last)
    double *alloc; // [n][n_alloc] row-major
    char names[XT_ENV_MAX_ASSETS + 1][XT_EVALCURVE_NAME]; // column labels: "position", or symbols then "cash"
} xt_evalcurve;

// Reads an eval CSV (timestamp, position | w_<symbol>... w_cash, equity,
// ...). Caller owns c's arrays (xt_evalcurve_free). Fails naming the file
// and line of a missing column, an unparsable number or time, or time
// going backwards.
int xt_evalcurve_read(xt_evalcurve *c, const char *path, xt_err *err);

// Walks baseline `kind` over shard s's test window like xt_eval_baselines:
// c gets the equity after every step (n_alloc 0), out the episode metrics.
// env_kind is XT_ENV_KIND_ASSET or XT_ENV_KIND_PORTFOLIO; p the run's env
// params. Caller owns c's arrays.
int xt_evalcurve_baseline(xt_evalcurve *c, xt_metrics *out, int env_kind, const xt_rl_shard *s,
                          const xt_env_params *p, xt_baseline_kind kind, xt_err *err);

void xt_evalcurve_free(xt_evalcurve *c);

#endif
