// benchutil.c - prints benchmark rows and appends JSON lines for make bench.
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void xt_bench_header(const char *title) {
    printf("\n== %s\n%-38s %16s  %-12s %s\n", title, "name", "value", "unit", "config");
}

void xt_bench_record(const char *name, double value, const char *unit, const char *config) {
    printf("%-38s %16.2f  %-12s %s\n", name, value, unit, config);
    fflush(stdout);
    const char *path = getenv("XT_BENCH_OUT");
    FILE *f = fopen(path && *path ? path : "build/bench/results.jsonl", "a");
    if (!f) return;
    fprintf(f, "{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"config\": \"%s\"}\n", name,
            value, unit, config);
    fclose(f);
}

double xt_bench_thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
