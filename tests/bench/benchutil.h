// benchutil.h - benchmark result recording for `make bench`.
//
// Each benchmark prints a table row per figure and appends one JSON object
// {"name","value","unit","config"} per line to $XT_BENCH_OUT (default
// build/bench/results.jsonl); `make bench` gathers them into results.json.
#ifndef XT_BENCHUTIL_H
#define XT_BENCHUTIL_H

void xt_bench_header(const char *title);
void xt_bench_record(const char *name, double value, const char *unit, const char *config);
// Seconds of process CPU time used by this thread (for per-core rates).
double xt_bench_thread_cpu(void);

#endif
