// report.h - the walk-forward report: report.json, report.csv, report.html.
//
// Written by the broker at the end of a run (runs/<run_id>/report.*) and by
// `xtrade report`, from the xt_wf_run the caller filled (report/wfstats.h)
// and the statistics computed from it. docs/reports.md describes every file.
//
//   report.json  one object with stable keys: run, folds with every shard's
//                metrics for the agent and the three baselines, summaries per
//                fold / shard / symbol / timeframe / overall, consistency,
//                DSR, PBO and the seed's pass criteria. Numbers are printed
//                with the fewest digits that read back to the same double;
//                NaN and infinities are null.
//   report.csv   one row per fold x shard x strategy with every metric column
//                (empty = not available); a header row names the columns.
//   report.html  one self-contained page (no scripts, external CSS or fonts):
//                overview with consistency, DSR and PBO, summary tables, and
//                per fold and shard a metrics table and inline SVG charts -
//                equity of the agent against the baselines, drawdown, and the
//                allocation (stacked weights for the portfolio env, the
//                position line for the asset env). Every text is HTML-escaped.
//
// Output depends only on the input (run->created is the only time stamp), so
// the same run gives byte-identical files. Each chart holds at most
// XT_REPORT_MAX_POINTS vertices, however long the curves: series are cut into
// buckets and each bucket keeps its minimum and maximum (so drawdowns show).
#ifndef XT_REPORT_H
#define XT_REPORT_H

#include "core/err.h"
#include "report/wfstats.h"

#include <stddef.h>
#include <stdint.h>

#define XT_REPORT_MAX_POINTS 2000 // vertices per SVG chart, all series together

typedef enum { XT_REPORT_JSON, XT_REPORT_CSV, XT_REPORT_HTML } xt_report_format;

// Writes dir/report.json, dir/report.csv and dir/report.html, each atomically
// (core/fileio.h), creating dir if needed.
int xt_report_write(const xt_wf_run *run, const char *dir, xt_err *err);

// Renders one file into *out (malloc'd, NUL-terminated, caller frees) of
// *len bytes. stats may be NULL (computed from run).
int xt_report_render(const xt_wf_run *run, const xt_wfstats *stats, xt_report_format fmt, char **out,
                     size_t *len, xt_err *err);

// Min/max downsampling of y[0..n-1] (non-finite values skipped): writes the
// indices of the kept points, increasing, into idx (room for max_points) and
// returns their count (<= max_points). With n <= max_points every finite
// point is kept; otherwise max_points / 2 equal buckets each keep their
// smallest and largest value, in time order.
int64_t xt_report_downsample(const double *y, int64_t n, int64_t max_points, int64_t *idx);

#endif
