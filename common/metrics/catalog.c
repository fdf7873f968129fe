// catalog.c - registration of one metric family of the catalog (catalog.h):
// counters and gauges directly, histograms with the bounds of their
// XT_METRICS_BUCKETS row. Stateless: the bucket rows are a const table.
#include "catalog.h"

#include <string.h>

enum { S_LINEAR, S_EXPONENTIAL };

typedef struct {
    const char *name;
    int kind;
    double start, step;
    int n;
} s_row;

static const s_row s_rows[] = {
#define XT_B(bname, kind, start, step, n) {#bname, S_##kind, start, step, n},
    XT_METRICS_BUCKETS(XT_B)
#undef XT_B
};

int xt_catalog_family(xt_prom_registry *reg, xt_prom_family **out, const char *name, xt_prom_type type,
                      const char *help, const char *labels, xt_err *err) {
    if (type == XT_PROM_COUNTER) return xt_prom_counter_family(reg, out, name, help, labels, err);
    if (type == XT_PROM_GAUGE) return xt_prom_gauge_family(reg, out, name, help, labels, err);
    for (size_t i = 0; i < sizeof s_rows / sizeof *s_rows; i++) {
        const s_row *b = &s_rows[i];
        if (strcmp(b->name, name) != 0) continue;
        double bounds[XT_PROM_MAX_BUCKETS];
        int rc = b->kind == S_LINEAR ? xt_prom_buckets_linear(bounds, b->start, b->step, b->n, err)
                                     : xt_prom_buckets_exponential(bounds, b->start, b->step, b->n, err);
        return rc ? rc : xt_prom_histogram_family(reg, out, name, help, labels, bounds, b->n, err);
    }
    return xt_err_set(err, XT_ENOTFOUND, "%s: histogram without a row in XT_METRICS_BUCKETS", name);
}
