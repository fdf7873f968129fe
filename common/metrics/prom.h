// prom.h - Prometheus metric registry and text exposition (format 0.0.4).
//
// A daemon declares its metric families once at init (counter, gauge,
// histogram; name, help, up to XT_PROM_MAX_LABELS label names, fixed histogram
// buckets) and keeps the returned child handles in its stats struct. Hot paths
// update a handle with one relaxed atomic operation: no lock, no allocation,
// no lookup. /metrics renders the registry as it stands and does no other work.
//
//   xt_prom_registry *reg = xt_prom_registry_new(&err);
//   xt_prom_counter *steps;
//   xt_prom_counter_new(reg, &steps, "xtrade_env_steps_total", "Env steps taken.", &err);
//   xt_prom_family *lag;
//   xt_prom_histogram_family(reg, &lag, "xtrade_policy_lag_versions",
//                            "Weights versions between acting and learning.",
//                            "symbol", bounds, 6, &err);
//   xt_prom_histogram *lag_eurusd;
//   xt_prom_histogram_child(lag, (const char *[]){"EURUSD"}, &lag_eurusd, &err);
//   ... hot path:  xt_prom_counter_add_u64(steps, 64); xt_prom_histogram_observe(lag_eurusd, 2);
//
// Names: [a-zA-Z_:][a-zA-Z0-9_:]*, starting with "xtrade_"; counters end in
// "_total" and nothing else may. Label names: [a-zA-Z_][a-zA-Z0-9_]*, not
// starting with "__"; "le" is reserved in histograms. Label values: UTF-8.
//
// Threads: child handles may be updated from any thread at any time. Family
// and child creation, rendering and callback gauges take the registry's mutex,
// so they may also run from any thread (typically: creation on the daemon
// thread, render on the HTTP thread). Handles stay valid until the registry is
// destroyed; destroy only after every updater and the HTTP server stopped.
#ifndef XT_PROM_H
#define XT_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define XT_PROM_MAX_LABELS 4      // label names per family
#define XT_PROM_MAX_BUCKETS 64    // finite histogram bounds per family (+Inf is implicit)
#define XT_PROM_MAX_CHILDREN 4096 // label value combinations per family (cardinality guard)
#define XT_PROM_NAME_MAX 128      // metric and label name length, bytes
#define XT_PROM_VALUE_MAX 256     // label value length, bytes

typedef enum { XT_PROM_COUNTER = 0, XT_PROM_GAUGE, XT_PROM_HISTOGRAM } xt_prom_type;

typedef struct xt_prom_registry xt_prom_registry;
typedef struct xt_prom_family xt_prom_family;
// Child handles: one label value combination of a family. Owned by the registry.
typedef struct xt_prom_counter xt_prom_counter;
typedef struct xt_prom_gauge xt_prom_gauge;
typedef struct xt_prom_histogram xt_prom_histogram;

// Value source of a callback gauge, called at render time on the rendering
// thread with the registry's mutex held: it must be thread-safe, quick, and
// must not call into the registry.
typedef double (*xt_prom_gauge_fn)(void *ud);

// ---- registry

// New empty registry; the caller owns it. NULL + err on allocation failure.
xt_prom_registry *xt_prom_registry_new(xt_err *err);
// Frees the registry, its families and every child handle. Accepts NULL.
void xt_prom_registry_destroy(xt_prom_registry **reg_p);

// ---- families (init time; may allocate)

// labels: comma-separated label names ("symbol,timeframe"), or NULL / "" for none.
// *out is owned by the registry. Errors name the bad metric or label name.
int xt_prom_counter_family(xt_prom_registry *reg, xt_prom_family **out, const char *name,
                           const char *help, const char *labels, xt_err *err);
int xt_prom_gauge_family(xt_prom_registry *reg, xt_prom_family **out, const char *name,
                         const char *help, const char *labels, xt_err *err);
// bounds: n_bounds finite upper bounds, strictly increasing; copied. +Inf is implicit.
int xt_prom_histogram_family(xt_prom_registry *reg, xt_prom_family **out, const char *name,
                             const char *help, const char *labels, const double *bounds,
                             int n_bounds, xt_err *err);

xt_prom_type xt_prom_family_type(const xt_prom_family *f);
const char *xt_prom_family_name(const xt_prom_family *f);

// ---- children (init time, or when a label set first appears; may allocate)

// values: one value per label name of the family, in declaration order (ignored
// when the family has no labels). Returns the existing child when the same
// values were seen before, so calling twice yields the same handle.
int xt_prom_counter_child(xt_prom_family *f, const char *const *values, xt_prom_counter **out,
                          xt_err *err);
int xt_prom_gauge_child(xt_prom_family *f, const char *const *values, xt_prom_gauge **out,
                        xt_err *err);
int xt_prom_histogram_child(xt_prom_family *f, const char *const *values,
                            xt_prom_histogram **out, xt_err *err);
// Makes the gauge child with these values read its value from fn(ud) at render
// time (queue depths, checkpoint age); creates the child if needed. While a
// callback is set, gauge_set/add on that child have no visible effect.
int xt_prom_gauge_child_fn(xt_prom_family *f, const char *const *values, xt_prom_gauge_fn fn,
                           void *ud, xt_err *err);

// Unlabelled shortcuts: declare a family without labels and return its only child.
int xt_prom_counter_new(xt_prom_registry *reg, xt_prom_counter **out, const char *name,
                        const char *help, xt_err *err);
int xt_prom_gauge_new(xt_prom_registry *reg, xt_prom_gauge **out, const char *name,
                      const char *help, xt_err *err);
int xt_prom_gauge_fn_new(xt_prom_registry *reg, const char *name, const char *help,
                         xt_prom_gauge_fn fn, void *ud, xt_err *err);
int xt_prom_histogram_new(xt_prom_registry *reg, xt_prom_histogram **out, const char *name,
                          const char *help, const double *bounds, int n_bounds, xt_err *err);

// ---- updates (hot path: any thread, lock-free, never allocate)

void xt_prom_counter_inc(xt_prom_counter *c);
void xt_prom_counter_add_u64(xt_prom_counter *c, uint64_t n);
// v must be finite and >= 0; anything else is ignored (a counter never goes down).
void xt_prom_counter_add(xt_prom_counter *c, double v);
double xt_prom_counter_get(const xt_prom_counter *c);

void xt_prom_gauge_set(xt_prom_gauge *g, double v);
void xt_prom_gauge_add(xt_prom_gauge *g, double v); // negative v lowers it
double xt_prom_gauge_get(const xt_prom_gauge *g);   // the stored value (not a callback's)

// Counts v in the first bucket whose bound is >= v (or +Inf) and adds it to the
// sum. NaN is ignored.
void xt_prom_histogram_observe(xt_prom_histogram *h, double v);
uint64_t xt_prom_histogram_count(const xt_prom_histogram *h);
double xt_prom_histogram_sum(const xt_prom_histogram *h);

// ---- bucket helpers

// out[i] = start + i*width, i < n. start finite, width > 0, 1 <= n <= XT_PROM_MAX_BUCKETS.
int xt_prom_buckets_linear(double *out, double start, double width, int n, xt_err *err);
// out[i] = start * factor^i, i < n. start > 0, factor > 1, 1 <= n <= XT_PROM_MAX_BUCKETS.
int xt_prom_buckets_exponential(double *out, double start, double factor, int n, xt_err *err);

// ---- exposition

// Renders every family that has at least one child, in registration order
// (children in creation order), as Prometheus text format 0.0.4 into *buf.
// *buf is caller-owned and grown with realloc when *cap is too small (start
// with NULL/0 or a buffer sized at init); *len gets the text length, and the
// text is NUL-terminated. On XT_ENOMEM *buf stays valid (possibly grown).
int xt_prom_render(xt_prom_registry *reg, char **buf, size_t *cap, size_t *len, xt_err *err);

// Writes v as the exposition format spells it: "NaN", "+Inf", "-Inf", or the
// shortest of %.15g / %.17g that reads back exactly. out must hold 32 bytes.
void xt_prom_format_double(char out[32], double v);

#endif
