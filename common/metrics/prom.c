// prom.c - Prometheus registry: families, children, lock-free updates, and
// the text exposition renderer (format 0.0.4).
//
// Invariants: a family's name, help, label names and bucket bounds never
// change after registration. A child is allocated once, on its own, and never
// moves or dies before the registry does, so the handles given out (pointers
// into a child) stay valid without reference counting. Every sample value is a
// C11 atomic updated with relaxed ordering: readers need each value to be
// untorn, not ordered against other values. Doubles live in _Atomic uint64_t
// as their bit pattern and are added with a compare-and-swap loop.
//
// Ownership: the registry owns families, children and all their strings.
// Render writes into a buffer the caller owns.
//
// Threads: updates through handles touch only atomics. Everything that reads
// or changes the family list or a family's child list (registration, child
// creation, render, callback attachment) holds reg->mu. Histogram counts are
// kept per bucket (not cumulative); render cumulates one snapshot and derives
// _count and the +Inf bucket from the same snapshot, so those two always agree
// and the buckets never decrease down the list even while observers run.
#include "metrics/prom.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- private types

struct xt_prom_counter {
    _Atomic uint64_t n;     // integer increments (exact to 2^64)
    _Atomic uint64_t fbits; // fractional adds, a double's bits
};

struct xt_prom_gauge {
    _Atomic uint64_t bits; // a double's bits
};

struct xt_prom_histogram {
    const double *bounds;     // the family's bounds (n_bounds, increasing)
    int n_bounds;
    _Atomic uint64_t sum_bits; // sum of observations, a double's bits
    _Atomic uint64_t *counts;  // n_bounds + 1 per-bucket counts; last is (bounds[n-1], +Inf)
};

typedef struct {
    char *values[XT_PROM_MAX_LABELS];
    char *labels_txt;    // `a="x",b="y"` with values escaped; "" without labels
    xt_prom_gauge_fn fn; // callback gauges only (guarded by reg->mu)
    void *ud;
    union {
        struct xt_prom_counter c;
        struct xt_prom_gauge g;
        struct xt_prom_histogram h;
    } u;
} s_child;

struct xt_prom_family {
    xt_prom_registry *reg;
    xt_prom_type type;
    char *name;
    char *help_txt; // help with backslash and newline escaped
    int n_labels;
    char *label_names[XT_PROM_MAX_LABELS];
    double *bounds; // histograms only
    int n_bounds;
    s_child **children;
    int n_children, cap_children;
};

struct xt_prom_registry {
    pthread_mutex_t mu;
    xt_prom_family **fams;
    int n_fams, cap_fams;
};

static const char *const s_type_names[] = {"counter", "gauge", "histogram"};

// ---- atomic doubles

static uint64_t s_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double s_double(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

// a += v with a CAS loop; on failure the CAS reloads `old`, so we retry with
// the freshest value and never lose another thread's add.
static void s_atomic_add_double(_Atomic uint64_t *a, double v) {
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    for (;;) {
        uint64_t nw = s_bits(s_double(old) + v);
        if (atomic_compare_exchange_weak_explicit(a, &old, nw, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

// ---- validation

static int s_is_alpha_(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int s_is_digit(char c) { return c >= '0' && c <= '9'; }

static int s_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

// Metric name rules; the sentence names the metric and the rule it breaks.
static int s_check_name(xt_prom_type type, const char *name, xt_err *err) {
    if (!name || !*name) return xt_err_set(err, XT_EINVAL, "metric name is empty");
    size_t n = strlen(name);
    if (n > XT_PROM_NAME_MAX)
        return xt_err_set(err, XT_EINVAL, "metric name \"%.40s...\": longer than %d bytes", name,
                          XT_PROM_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = s_is_alpha_(c) || c == ':' || (i > 0 && s_is_digit(c));
        if (!ok)
            return xt_err_set(err, XT_EINVAL,
                              "metric name \"%s\": character '%c' at offset %zu is not allowed "
                              "(names match [a-zA-Z_:][a-zA-Z0-9_:]*)",
                              name, (c >= 32 && c < 127) ? c : '?', i);
    }
    if (strncmp(name, "xtrade_", 7) != 0 || n == 7)
        return xt_err_set(err, XT_EINVAL, "metric name \"%s\": must start with \"xtrade_\"", name);
    if (type == XT_PROM_COUNTER && !s_ends_with(name, "_total"))
        return xt_err_set(err, XT_EINVAL,
                          "metric name \"%s\": a counter's name must end in \"_total\"", name);
    if (type != XT_PROM_COUNTER && s_ends_with(name, "_total"))
        return xt_err_set(err, XT_EINVAL,
                          "metric name \"%s\": only counters may end in \"_total\" (this is a %s)",
                          name, s_type_names[type]);
    return 0;
}

// One label name (n bytes at s); `metric` is for the sentence.
static int s_check_label(const char *metric, xt_prom_type type, const char *s, size_t n,
                         xt_err *err) {
    int ok = n > 0 && n <= XT_PROM_NAME_MAX && s_is_alpha_(s[0]) && !(n >= 2 && s[0] == '_' && s[1] == '_');
    for (size_t i = 1; ok && i < n; i++) ok = s_is_alpha_(s[i]) || s_is_digit(s[i]);
    if (!ok)
        return xt_err_set(err, XT_EINVAL,
                          "metric \"%s\": label name \"%.*s\" is not allowed (label names match "
                          "[a-zA-Z_][a-zA-Z0-9_]* and do not start with \"__\")",
                          metric, (int)(n > 64 ? 64 : n), s);
    if (type == XT_PROM_HISTOGRAM && n == 2 && memcmp(s, "le", 2) == 0)
        return xt_err_set(err, XT_EINVAL,
                          "metric \"%s\": label name \"le\" is reserved in histograms", metric);
    return 0;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
static int s_utf8_valid(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        int k;
        unsigned min;
        if (c < 0x80) { s++; continue; }
        if ((c & 0xE0) == 0xC0) { k = 1; min = 0x80; c &= 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 2; min = 0x800; c &= 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 3; min = 0x10000; c &= 0x07; }
        else return 0;
        for (int i = 1; i <= k; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0; // also catches the NUL terminator
            c = (c << 6) | (s[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        s += k + 1;
    }
    return 1;
}

// Escapes src into a new string: backslash and newline always, '"' too when
// quote is set (label values; HELP text leaves quotes alone).
static char *s_escape(const char *src, int quote) {
    size_t n = 0;
    for (const char *p = src; *p; p++) n += (*p == '\\' || *p == '\n' || (quote && *p == '"')) ? 2 : 1;
    char *out = malloc(n + 1), *w = out;
    if (!out) return NULL;
    for (const char *p = src; *p; p++) {
        if (*p == '\\') { *w++ = '\\'; *w++ = '\\'; }
        else if (*p == '\n') { *w++ = '\\'; *w++ = 'n'; }
        else if (quote && *p == '"') { *w++ = '\\'; *w++ = '"'; }
        else *w++ = *p;
    }
    *w = '\0';
    return out;
}

// Names that a family's exposition uses: the family name plus its sample names.
static int s_sample_names(const char *name, xt_prom_type type, char out[4][XT_PROM_NAME_MAX + 8]) {
    snprintf(out[0], sizeof out[0], "%s", name);
    if (type != XT_PROM_HISTOGRAM) return 1;
    snprintf(out[1], sizeof out[1], "%s_bucket", name);
    snprintf(out[2], sizeof out[2], "%s_sum", name);
    snprintf(out[3], sizeof out[3], "%s_count", name);
    return 4;
}

// Caller holds reg->mu. Rejects a duplicate name or one whose samples would
// read as another family's (a gauge "x_count" beside a histogram "x").
static int s_check_clash(xt_prom_registry *reg, const char *name, xt_prom_type type, xt_err *err) {
    char mine[4][XT_PROM_NAME_MAX + 8], theirs[4][XT_PROM_NAME_MAX + 8];
    int nm = s_sample_names(name, type, mine);
    for (int f = 0; f < reg->n_fams; f++) {
        const xt_prom_family *o = reg->fams[f];
        if (strcmp(o->name, name) == 0)
            return xt_err_set(err, XT_EINVAL, "metric name \"%s\": already registered (as a %s)",
                              name, s_type_names[o->type]);
        int nt = s_sample_names(o->name, o->type, theirs);
        for (int i = 0; i < nm; i++)
            for (int j = 0; j < nt; j++)
                if (strcmp(mine[i], theirs[j]) == 0)
                    return xt_err_set(err, XT_EINVAL,
                                      "metric name \"%s\": its sample \"%s\" clashes with %s \"%s\"",
                                      name, mine[i], s_type_names[o->type], o->name);
    }
    return 0;
}

// ---- registry

xt_prom_registry *xt_prom_registry_new(xt_err *err) {
    xt_prom_registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        xt_err_set(err, XT_ENOMEM, "out of memory allocating the metrics registry");
        return NULL;
    }
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

static void s_child_free(s_child *ch, const xt_prom_family *f) {
    if (!ch) return;
    for (int i = 0; i < XT_PROM_MAX_LABELS; i++) free(ch->values[i]);
    free(ch->labels_txt);
    if (f->type == XT_PROM_HISTOGRAM) free(ch->u.h.counts);
    free(ch);
}

static void s_family_free(xt_prom_family *f) {
    if (!f) return;
    for (int i = 0; i < f->n_children; i++) s_child_free(f->children[i], f);
    free(f->children);
    for (int i = 0; i < XT_PROM_MAX_LABELS; i++) free(f->label_names[i]);
    free(f->name);
    free(f->help_txt);
    free(f->bounds);
    free(f);
}

void xt_prom_registry_destroy(xt_prom_registry **reg_p) {
    if (!reg_p || !*reg_p) return;
    xt_prom_registry *reg = *reg_p;
    for (int i = 0; i < reg->n_fams; i++) s_family_free(reg->fams[i]);
    free(reg->fams);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
    *reg_p = NULL;
}

// ---- families

// Builds a family (not yet registered) after checking name, help and labels.
static int s_family_build(xt_prom_family **out, xt_prom_type type, const char *name,
                          const char *help, const char *labels, xt_err *err) {
    int rc = s_check_name(type, name, err);
    if (rc) return rc;
    if (!help || !*help)
        return xt_err_set(err, XT_EINVAL, "metric \"%s\": help text is empty", name);
    xt_prom_family *f = calloc(1, sizeof *f);
    if (!f) return xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", name);
    f->type = type;
    f->name = strdup(name);
    f->help_txt = s_escape(help, 0);
    if (!f->name || !f->help_txt) {
        s_family_free(f);
        return xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", name);
    }
    // Split "a, b,c" on commas; spaces around a name are dropped.
    const char *p = labels ? labels : "";
    while (*p == ' ') p++;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ') m--;
        if (f->n_labels == XT_PROM_MAX_LABELS) rc = xt_err_set(err, XT_EINVAL,
            "metric \"%s\": more than %d label names in \"%s\"", name, XT_PROM_MAX_LABELS, labels);
        if (!rc && m == 0)
            rc = xt_err_set(err, XT_EINVAL, "metric \"%s\": empty label name in \"%s\"", name, labels);
        if (!rc) rc = s_check_label(name, type, p, m, err);
        for (int i = 0; !rc && i < f->n_labels; i++)
            if (strlen(f->label_names[i]) == m && memcmp(f->label_names[i], p, m) == 0)
                rc = xt_err_set(err, XT_EINVAL, "metric \"%s\": label name \"%s\" appears twice",
                                name, f->label_names[i]);
        if (!rc && !(f->label_names[f->n_labels] = strndup(p, m)))
            rc = xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", name);
        if (rc) {
            s_family_free(f);
            return rc;
        }
        f->n_labels++;
        if (!e) break;
        p = e + 1;
        while (*p == ' ') p++;
        if (!*p) {
            s_family_free(f);
            return xt_err_set(err, XT_EINVAL, "metric \"%s\": empty label name in \"%s\"", name,
                              labels);
        }
    }
    *out = f;
    return 0;
}

// Appends a built family under the lock (after the clash check); frees it on error.
static int s_family_register(xt_prom_registry *reg, xt_prom_family *f, xt_prom_family **out,
                             xt_err *err) {
    pthread_mutex_lock(&reg->mu);
    int rc = s_check_clash(reg, f->name, f->type, err);
    if (!rc && reg->n_fams == reg->cap_fams) {
        int cap = reg->cap_fams ? 2 * reg->cap_fams : 32;
        xt_prom_family **nf = realloc(reg->fams, (size_t)cap * sizeof *nf);
        if (!nf) rc = xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", f->name);
        else {
            reg->fams = nf;
            reg->cap_fams = cap;
        }
    }
    if (!rc) {
        f->reg = reg;
        reg->fams[reg->n_fams++] = f;
    }
    pthread_mutex_unlock(&reg->mu);
    if (rc) s_family_free(f);
    else *out = f;
    return rc;
}

static int s_family_new(xt_prom_registry *reg, xt_prom_family **out, xt_prom_type type,
                        const char *name, const char *help, const char *labels,
                        const double *bounds, int n_bounds, xt_err *err) {
    if (!reg || !out) return xt_err_set(err, XT_EINVAL, "metric registration: NULL registry or output");
    xt_prom_family *f = NULL;
    int rc = s_family_build(&f, type, name, help, labels, err);
    if (rc) return rc;
    if (type == XT_PROM_HISTOGRAM) {
        if (!bounds || n_bounds < 1 || n_bounds > XT_PROM_MAX_BUCKETS)
            rc = xt_err_set(err, XT_EINVAL, "histogram \"%s\": needs 1 to %d bucket bounds (got %d)",
                            name, XT_PROM_MAX_BUCKETS, bounds ? n_bounds : 0);
        for (int i = 0; !rc && i < n_bounds; i++) {
            if (!isfinite(bounds[i]))
                rc = xt_err_set(err, XT_EINVAL,
                                "histogram \"%s\": bucket bound %d is not finite (+Inf is implicit)",
                                name, i);
            else if (i > 0 && !(bounds[i] > bounds[i - 1]))
                rc = xt_err_set(err, XT_EINVAL,
                                "histogram \"%s\": bucket bound %d (%g) is not greater than bound %d (%g)",
                                name, i, bounds[i], i - 1, bounds[i - 1]);
        }
        if (!rc && !(f->bounds = malloc((size_t)n_bounds * sizeof *f->bounds)))
            rc = xt_err_set(err, XT_ENOMEM, "histogram \"%s\": out of memory", name);
        if (rc) {
            s_family_free(f);
            return rc;
        }
        memcpy(f->bounds, bounds, (size_t)n_bounds * sizeof *f->bounds);
        f->n_bounds = n_bounds;
    }
    return s_family_register(reg, f, out, err);
}

int xt_prom_counter_family(xt_prom_registry *reg, xt_prom_family **out, const char *name,
                           const char *help, const char *labels, xt_err *err) {
    return s_family_new(reg, out, XT_PROM_COUNTER, name, help, labels, NULL, 0, err);
}

int xt_prom_gauge_family(xt_prom_registry *reg, xt_prom_family **out, const char *name,
                         const char *help, const char *labels, xt_err *err) {
    return s_family_new(reg, out, XT_PROM_GAUGE, name, help, labels, NULL, 0, err);
}

int xt_prom_histogram_family(xt_prom_registry *reg, xt_prom_family **out, const char *name,
                             const char *help, const char *labels, const double *bounds,
                             int n_bounds, xt_err *err) {
    return s_family_new(reg, out, XT_PROM_HISTOGRAM, name, help, labels, bounds, n_bounds, err);
}

xt_prom_type xt_prom_family_type(const xt_prom_family *f) { return f->type; }

const char *xt_prom_family_name(const xt_prom_family *f) { return f->name; }

// ---- children

// Caller holds the lock. Returns the child with these values or NULL.
static s_child *s_child_find(const xt_prom_family *f, const char *const *values) {
    for (int c = 0; c < f->n_children; c++) {
        s_child *ch = f->children[c];
        int same = 1;
        for (int i = 0; same && i < f->n_labels; i++) same = strcmp(ch->values[i], values[i]) == 0;
        if (same) return ch;
    }
    return NULL;
}

// Allocates a child with its label text and zeroed atomics (lock not needed).
static int s_child_alloc(const xt_prom_family *f, const char *const *values, s_child **out,
                         xt_err *err) {
    s_child *ch = calloc(1, sizeof *ch);
    char *esc[XT_PROM_MAX_LABELS] = {0};
    int ok = ch != NULL;
    size_t txt = 1; // `a="x",b="y"` plus the NUL
    for (int i = 0; ok && i < f->n_labels; i++) {
        ch->values[i] = strdup(values[i]);
        esc[i] = s_escape(values[i], 1);
        ok = ch->values[i] && esc[i];
        if (ok) txt += (i ? 1 : 0) + strlen(f->label_names[i]) + 3 + strlen(esc[i]);
    }
    if (ok && (ok = (ch->labels_txt = malloc(txt)) != NULL)) {
        size_t at = 0;
        ch->labels_txt[0] = '\0';
        for (int i = 0; i < f->n_labels; i++)
            at += (size_t)snprintf(ch->labels_txt + at, txt - at, "%s%s=\"%s\"", i ? "," : "",
                                   f->label_names[i], esc[i]);
    }
    for (int i = 0; i < XT_PROM_MAX_LABELS; i++) free(esc[i]);
    if (!ok) {
        if (ch) s_child_free(ch, f);
        return xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", f->name);
    }
    switch (f->type) {
    case XT_PROM_COUNTER:
        atomic_init(&ch->u.c.n, 0);
        atomic_init(&ch->u.c.fbits, s_bits(0.0));
        break;
    case XT_PROM_GAUGE: atomic_init(&ch->u.g.bits, s_bits(0.0)); break;
    case XT_PROM_HISTOGRAM:
        ch->u.h.bounds = f->bounds;
        ch->u.h.n_bounds = f->n_bounds;
        atomic_init(&ch->u.h.sum_bits, s_bits(0.0));
        ch->u.h.counts = malloc((size_t)(f->n_bounds + 1) * sizeof *ch->u.h.counts);
        if (!ch->u.h.counts) {
            s_child_free(ch, f);
            return xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", f->name);
        }
        for (int i = 0; i <= f->n_bounds; i++) atomic_init(&ch->u.h.counts[i], 0);
        break;
    }
    *out = ch;
    return 0;
}

// Finds or creates the child; checks the family's type and the label values.
static int s_child_get(xt_prom_family *f, xt_prom_type want, const char *const *values,
                       s_child **out, xt_err *err) {
    if (!f || !out) return xt_err_set(err, XT_EINVAL, "metric child: NULL family or output");
    if (f->type != want)
        return xt_err_set(err, XT_EINVAL, "metric \"%s\" is a %s, not a %s", f->name,
                          s_type_names[f->type], s_type_names[want]);
    for (int i = 0; i < f->n_labels; i++) {
        const char *v = values ? values[i] : NULL;
        if (!v)
            return xt_err_set(err, XT_EINVAL, "metric \"%s\": no value for label \"%s\"", f->name,
                              f->label_names[i]);
        if (strlen(v) > XT_PROM_VALUE_MAX)
            return xt_err_set(err, XT_EINVAL,
                              "metric \"%s\": value of label \"%s\" is longer than %d bytes",
                              f->name, f->label_names[i], XT_PROM_VALUE_MAX);
        if (!s_utf8_valid((const unsigned char *)v))
            return xt_err_set(err, XT_EINVAL, "metric \"%s\": value of label \"%s\" is not valid UTF-8",
                              f->name, f->label_names[i]);
    }
    xt_prom_registry *reg = f->reg;
    pthread_mutex_lock(&reg->mu);
    s_child *ch = s_child_find(f, values);
    int rc = 0;
    if (!ch && f->n_children >= XT_PROM_MAX_CHILDREN)
        rc = xt_err_set(err, XT_ERANGE,
                        "metric \"%s\": more than %d label value combinations; label values must "
                        "come from a bounded set (symbols, timeframes), not ids or numbers",
                        f->name, XT_PROM_MAX_CHILDREN);
    if (!ch && !rc && f->n_children == f->cap_children) {
        int cap = f->cap_children ? 2 * f->cap_children : 8;
        s_child **nc = realloc(f->children, (size_t)cap * sizeof *nc);
        if (!nc) rc = xt_err_set(err, XT_ENOMEM, "metric \"%s\": out of memory", f->name);
        else {
            f->children = nc;
            f->cap_children = cap;
        }
    }
    if (!ch && !rc) {
        rc = s_child_alloc(f, values, &ch, err);
        if (!rc) f->children[f->n_children++] = ch;
    }
    pthread_mutex_unlock(&reg->mu);
    if (!rc) *out = ch;
    return rc;
}

int xt_prom_counter_child(xt_prom_family *f, const char *const *values, xt_prom_counter **out,
                          xt_err *err) {
    s_child *ch = NULL;
    int rc = s_child_get(f, XT_PROM_COUNTER, values, &ch, err);
    if (!rc) *out = &ch->u.c;
    return rc;
}

int xt_prom_gauge_child(xt_prom_family *f, const char *const *values, xt_prom_gauge **out,
                        xt_err *err) {
    s_child *ch = NULL;
    int rc = s_child_get(f, XT_PROM_GAUGE, values, &ch, err);
    if (!rc) *out = &ch->u.g;
    return rc;
}

int xt_prom_histogram_child(xt_prom_family *f, const char *const *values,
                            xt_prom_histogram **out, xt_err *err) {
    s_child *ch = NULL;
    int rc = s_child_get(f, XT_PROM_HISTOGRAM, values, &ch, err);
    if (!rc) *out = &ch->u.h;
    return rc;
}

int xt_prom_gauge_child_fn(xt_prom_family *f, const char *const *values, xt_prom_gauge_fn fn,
                           void *ud, xt_err *err) {
    if (!fn)
        return xt_err_set(err, XT_EINVAL, "metric \"%s\": NULL gauge callback", f ? f->name : "?");
    s_child *ch = NULL;
    int rc = s_child_get(f, XT_PROM_GAUGE, values, &ch, err);
    if (rc) return rc;
    // fn/ud are read by render under the same lock.
    pthread_mutex_lock(&f->reg->mu);
    ch->fn = fn;
    ch->ud = ud;
    pthread_mutex_unlock(&f->reg->mu);
    return 0;
}

int xt_prom_counter_new(xt_prom_registry *reg, xt_prom_counter **out, const char *name,
                        const char *help, xt_err *err) {
    xt_prom_family *f;
    int rc = xt_prom_counter_family(reg, &f, name, help, NULL, err);
    return rc ? rc : xt_prom_counter_child(f, NULL, out, err);
}

int xt_prom_gauge_new(xt_prom_registry *reg, xt_prom_gauge **out, const char *name,
                      const char *help, xt_err *err) {
    xt_prom_family *f;
    int rc = xt_prom_gauge_family(reg, &f, name, help, NULL, err);
    return rc ? rc : xt_prom_gauge_child(f, NULL, out, err);
}

int xt_prom_gauge_fn_new(xt_prom_registry *reg, const char *name, const char *help,
                         xt_prom_gauge_fn fn, void *ud, xt_err *err) {
    if (!fn) return xt_err_set(err, XT_EINVAL, "metric \"%s\": NULL gauge callback", name ? name : "?");
    xt_prom_family *f;
    int rc = xt_prom_gauge_family(reg, &f, name, help, NULL, err);
    return rc ? rc : xt_prom_gauge_child_fn(f, NULL, fn, ud, err);
}

int xt_prom_histogram_new(xt_prom_registry *reg, xt_prom_histogram **out, const char *name,
                          const char *help, const double *bounds, int n_bounds, xt_err *err) {
    xt_prom_family *f;
    int rc = xt_prom_histogram_family(reg, &f, name, help, NULL, bounds, n_bounds, err);
    return rc ? rc : xt_prom_histogram_child(f, NULL, out, err);
}

// ---- updates

void xt_prom_counter_inc(xt_prom_counter *c) {
    atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
}

void xt_prom_counter_add_u64(xt_prom_counter *c, uint64_t n) {
    atomic_fetch_add_explicit(&c->n, n, memory_order_relaxed);
}

void xt_prom_counter_add(xt_prom_counter *c, double v) {
    // !(v >= 0) also catches NaN.
    if (!(v >= 0) || isinf(v)) return;
    s_atomic_add_double(&c->fbits, v);
}

double xt_prom_counter_get(const xt_prom_counter *c) {
    return (double)atomic_load_explicit(&c->n, memory_order_relaxed) +
           s_double(atomic_load_explicit(&c->fbits, memory_order_relaxed));
}

void xt_prom_gauge_set(xt_prom_gauge *g, double v) {
    atomic_store_explicit(&g->bits, s_bits(v), memory_order_relaxed);
}

void xt_prom_gauge_add(xt_prom_gauge *g, double v) { s_atomic_add_double(&g->bits, v); }

double xt_prom_gauge_get(const xt_prom_gauge *g) {
    return s_double(atomic_load_explicit(&g->bits, memory_order_relaxed));
}

void xt_prom_histogram_observe(xt_prom_histogram *h, double v) {
    if (isnan(v)) return;
    // Binary search for the first bound >= v; lo == n_bounds means +Inf.
    int lo = 0, hi = h->n_bounds;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v <= h->bounds[mid]) hi = mid;
        else lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
    s_atomic_add_double(&h->sum_bits, v);
}

uint64_t xt_prom_histogram_count(const xt_prom_histogram *h) {
    uint64_t n = 0;
    for (int i = 0; i <= h->n_bounds; i++) n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return n;
}

double xt_prom_histogram_sum(const xt_prom_histogram *h) {
    return s_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed));
}

// ---- bucket helpers

int xt_prom_buckets_linear(double *out, double start, double width, int n, xt_err *err) {
    if (!out || n < 1 || n > XT_PROM_MAX_BUCKETS || !isfinite(start) || !isfinite(width) || !(width > 0))
        return xt_err_set(err, XT_EINVAL,
                          "linear buckets: need finite start, width > 0 and 1 <= n <= %d "
                          "(got start %g, width %g, n %d)",
                          XT_PROM_MAX_BUCKETS, start, width, n);
    for (int i = 0; i < n; i++) out[i] = start + i * width;
    return 0;
}

int xt_prom_buckets_exponential(double *out, double start, double factor, int n, xt_err *err) {
    if (!out || n < 1 || n > XT_PROM_MAX_BUCKETS || !isfinite(start) || !(start > 0) ||
        !isfinite(factor) || !(factor > 1))
        return xt_err_set(err, XT_EINVAL,
                          "exponential buckets: need start > 0, factor > 1 and 1 <= n <= %d "
                          "(got start %g, factor %g, n %d)",
                          XT_PROM_MAX_BUCKETS, start, factor, n);
    double b = start;
    for (int i = 0; i < n; i++, b *= factor) {
        if (!isfinite(b))
            return xt_err_set(err, XT_ERANGE, "exponential buckets: bound %d overflows", i);
        out[i] = b;
    }
    return 0;
}

// ---- exposition

void xt_prom_format_double(char out[32], double v) {
    if (isnan(v)) { memcpy(out, "NaN", 4); return; }
    if (isinf(v)) { memcpy(out, v > 0 ? "+Inf" : "-Inf", 5); return; }
    // %.15g is exact for most decimals people write (0.1 stays "0.1");
    // %.17g always reads back to the same double.
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v) snprintf(out, 32, "%.17g", v);
}

typedef struct {
    char **buf;
    size_t *cap;
    size_t len;
    int oom;
} s_out;

static void s_put(s_out *o, const char *s, size_t n) {
    if (o->oom) return;
    if (o->len + n + 1 > *o->cap) {
        size_t cap = *o->cap ? *o->cap : 4096;
        while (cap < o->len + n + 1) cap *= 2;
        char *nb = realloc(*o->buf, cap);
        if (!nb) {
            o->oom = 1;
            return;
        }
        *o->buf = nb;
        *o->cap = cap;
    }
    memcpy(*o->buf + o->len, s, n);
    o->len += n;
    (*o->buf)[o->len] = '\0';
}

static void s_puts(s_out *o, const char *s) { s_put(o, s, strlen(s)); }

// One sample line: name[suffix]{labels[,extra]} value
static void s_sample(s_out *o, const char *name, const char *suffix, const char *labels,
                     const char *extra, const char *value) {
    s_puts(o, name);
    s_puts(o, suffix);
    if (*labels || extra) {
        s_puts(o, "{");
        s_puts(o, labels);
        if (extra) {
            if (*labels) s_puts(o, ",");
            s_puts(o, extra);
        }
        s_puts(o, "}");
    }
    s_puts(o, " ");
    s_puts(o, value);
    s_puts(o, "\n");
}

static void s_render_child(s_out *o, const xt_prom_family *f, const s_child *ch) {
    char num[32];
    if (f->type == XT_PROM_COUNTER) {
        // Pure integer counters print exactly, even past 2^53.
        uint64_t n = atomic_load_explicit(&ch->u.c.n, memory_order_relaxed);
        double fr = s_double(atomic_load_explicit(&ch->u.c.fbits, memory_order_relaxed));
        if (fr == 0.0) snprintf(num, sizeof num, "%" PRIu64, n);
        else xt_prom_format_double(num, (double)n + fr);
        s_sample(o, f->name, "", ch->labels_txt, NULL, num);
    } else if (f->type == XT_PROM_GAUGE) {
        xt_prom_format_double(num, ch->fn ? ch->fn(ch->ud) : xt_prom_gauge_get(&ch->u.g));
        s_sample(o, f->name, "", ch->labels_txt, NULL, num);
    } else {
        // Snapshot once, then cumulate: _count equals the +Inf bucket.
        uint64_t cum = 0;
        char le[48], bound[32];
        for (int i = 0; i <= f->n_bounds; i++) {
            cum += atomic_load_explicit(&ch->u.h.counts[i], memory_order_relaxed);
            if (i < f->n_bounds) xt_prom_format_double(bound, f->bounds[i]);
            else memcpy(bound, "+Inf", 5);
            snprintf(le, sizeof le, "le=\"%s\"", bound);
            snprintf(num, sizeof num, "%" PRIu64, cum);
            s_sample(o, f->name, "_bucket", ch->labels_txt, le, num);
        }
        xt_prom_format_double(num, xt_prom_histogram_sum(&ch->u.h));
        s_sample(o, f->name, "_sum", ch->labels_txt, NULL, num);
        snprintf(num, sizeof num, "%" PRIu64, cum);
        s_sample(o, f->name, "_count", ch->labels_txt, NULL, num);
    }
}

int xt_prom_render(xt_prom_registry *reg, char **buf, size_t *cap, size_t *len, xt_err *err) {
    if (!reg || !buf || !cap || !len)
        return xt_err_set(err, XT_EINVAL, "metrics render: NULL registry or buffer");
    if (!*buf) *cap = 0;
    s_out o = {buf, cap, 0, 0};
    s_put(&o, "", 0); // NUL-terminate even when empty
    pthread_mutex_lock(&reg->mu);
    for (int i = 0; i < reg->n_fams; i++) {
        const xt_prom_family *f = reg->fams[i];
        if (f->n_children == 0) continue;
        s_puts(&o, "# HELP ");
        s_puts(&o, f->name);
        s_puts(&o, " ");
        s_puts(&o, f->help_txt);
        s_puts(&o, "\n# TYPE ");
        s_puts(&o, f->name);
        s_puts(&o, " ");
        s_puts(&o, s_type_names[f->type]);
        s_puts(&o, "\n");
        for (int c = 0; c < f->n_children; c++) s_render_child(&o, f, f->children[c]);
    }
    pthread_mutex_unlock(&reg->mu);
    *len = o.len;
    if (o.oom)
        return xt_err_set(err, XT_ENOMEM, "metrics render: out of memory growing the buffer past %zu bytes",
                          *cap);
    return 0;
}
