// config.c - YAML configuration through the one key table of config_keys.h.
//
// The table is expanded into s_rows[] (path, type, default, bounds, doc and
// the field's offset in xt_config). Loading walks the libyaml document tree:
// section mappings, then keys, each parsed by its row's type straight into
// the struct. Defaults go through the same parser (xt_config_set on the row's
// default text), so the documented default and the effective one can't
// differ. Errors carry file:line:column from the node's start mark.
// No global mutable state: the table is const; xt_config is the caller's.
#include "config.h"

#include "fileio.h"
#include "xtime.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

// ---------------------------------------------------------------- the table

typedef enum {
    T_INT, T_DBL, T_BOOL, T_STR, T_ENUM, T_TF, T_DATE,
    T_STRLIST, T_TFLIST, T_DBLLIST, T_INTLIST, T_SCHED, T_FOLDS
} s_type;

static const char *s_type_names[] = {"int", "number", "bool", "string", "enum", "timeframe", "date",
                                     "list of strings", "list of timeframes", "list of numbers",
                                     "list of ints", "schedule", "list of folds"};

typedef struct {
    const char *sec, *key;
    s_type type;
    const char *def;
    double lo, hi;
    const char *choices, *doc;
    size_t off;
} s_row;

static const s_row s_rows[XT_CFG_NKEYS] = {
#define XT_CFG_ROW(sec, key, type, def, lo, hi, choices, doc) \
    {#sec, #key, T_##type, def, lo, hi, choices, doc, offsetof(xt_config, sec##_##key)},
    XT_CONFIG_KEYS(XT_CFG_ROW)
#undef XT_CFG_ROW
};

#define FIELD(cfg, k, T) ((T *)((char *)(cfg) + s_rows[k].off))

// Parse context: where the text came from, for messages.
typedef struct {
    const char *file;
    xt_config *cfg;
    xt_err *err;
} s_ctx;

// ---------------------------------------------------------------- helpers

static int s_find(const char *sec, const char *key) {
    for (int k = 0; k < XT_CFG_NKEYS; k++)
        if (strcmp(s_rows[k].sec, sec) == 0 && strcmp(s_rows[k].key, key) == 0) return k;
    return -1;
}

static int s_section_exists(const char *sec) {
    for (int k = 0; k < XT_CFG_NKEYS; k++)
        if (strcmp(s_rows[k].sec, sec) == 0) return 1;
    return 0;
}

static int s_lev(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

// Best suggestion for an unknown section (sec == NULL) or key in sec.
static void s_suggest(char *out, size_t cap, const char *sec, const char *name) {
    int best = 99;
    out[0] = '\0';
    for (int k = 0; k < XT_CFG_NKEYS; k++) {
        if (sec == NULL) {
            if (k > 0 && strcmp(s_rows[k].sec, s_rows[k - 1].sec) == 0) continue;
            int d = s_lev(name, s_rows[k].sec);
            if (d < best) best = d, snprintf(out, cap, "%s", s_rows[k].sec);
        } else {
            // Same key in another section counts too ("lr" under env -> ppo.lr).
            int same_sec = strcmp(s_rows[k].sec, sec) == 0;
            int d = s_lev(name, s_rows[k].key) + (same_sec ? 0 : 1);
            if (d < best) best = d, snprintf(out, cap, "%s.%s", s_rows[k].sec, s_rows[k].key);
        }
    }
    int limit = (int)strlen(name) / 3 + 1;
    if (limit < 2) limit = 2;
    if (best > limit) out[0] = '\0';
}

static int s_fail(s_ctx *c, const yaml_node_t *n, int k, const char *item, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int s_fail(s_ctx *c, const yaml_node_t *n, int k, const char *item, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[96] = "";
    if (n && strcmp(c->file, "--set") != 0) snprintf(where, sizeof where, ":%d:%d", (int)n->start_mark.line + 1, (int)n->start_mark.column + 1);
    return xt_err_set(c->err, XT_EINVAL, "%s%s: %s.%s%s: %s", c->file, where, s_rows[k].sec, s_rows[k].key,
                      item ? item : "", msg);
}

static const char *s_scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

// Scalars of the "a, b, c" comma form are split; sequences give their items.
typedef struct {
    int n;
    const yaml_node_t *node[XT_CFG_FOLDS_MAX];
    char text[XT_CFG_FOLDS_MAX][XT_CFG_STR_MAX];
    int col_off[XT_CFG_FOLDS_MAX];
} s_items;

static int s_list_items(s_ctx *c, yaml_document_t *doc, const yaml_node_t *n, int k, s_items *it) {
    it->n = 0;
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = s_scalar(n);
        if (*s == '\0') return 0;
        int quoted = n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                     n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        const char *p = s;
        for (;;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (it->n == XT_CFG_FOLDS_MAX) return s_fail(c, n, k, NULL, "too many items");
            while (len && isspace((unsigned char)*p)) p++, len--;
            while (len && isspace((unsigned char)p[len - 1])) len--;
            if (len >= XT_CFG_STR_MAX) return s_fail(c, n, k, NULL, "item too long");
            memcpy(it->text[it->n], p, len);
            it->text[it->n][len] = '\0';
            it->node[it->n] = n;
            it->col_off[it->n] = (int)(p - s) + quoted;
            it->n++;
            if (!e) break;
            p = e + 1;
        }
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE) return s_fail(c, n, k, NULL, "expected a list or a comma-separated string");
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        yaml_node_t *e = yaml_document_get_node(doc, *i);
        if (it->n == XT_CFG_FOLDS_MAX) return s_fail(c, e, k, NULL, "too many items");
        if (!e || e->type != YAML_SCALAR_NODE)
            return s_fail(c, e, k, NULL, "list items must be plain values");
        snprintf(it->text[it->n], XT_CFG_STR_MAX, "%s", s_scalar(e));
        it->node[it->n] = e;
        it->col_off[it->n] = 0;
        it->n++;
    }
    return 0;
}

static int s_parse_i64(const char *s, int64_t *v) {
    char buf[64];
    size_t o = 0;
    for (; *s && o < sizeof buf - 1; s++)
        if (*s != '_') buf[o++] = *s; // YAML 1.1 digit separators: 2_000_000
    buf[o] = '\0';
    if (o == 0) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (*end == '\0' && errno == 0) {
        *v = x;
        return 0;
    }
    double d = strtod(buf, &end); // 2e6 is fine when integral
    if (*end != '\0' || !isfinite(d) || d != floor(d) || fabs(d) > 9e18) return -1;
    *v = (int64_t)d;
    return 0;
}

static int s_parse_f64(const char *s, double *v) {
    char *end;
    if (*s == '\0') return -1;
    errno = 0;
    *v = strtod(s, &end);
    return (*end != '\0' || errno == ERANGE || !isfinite(*v)) ? -1 : 0;
}

static int s_bounds(s_ctx *c, const yaml_node_t *n, int k, const char *item, double v) {
    const s_row *r = &s_rows[k];
    if ((r->lo != 0 || r->hi != 0) && (v < r->lo || (r->hi != 0 && v > r->hi))) {
        if (r->hi != 0)
            return s_fail(c, n, k, item, "must be between %g and %g (got %g)", r->lo, r->hi, v);
        return s_fail(c, n, k, item, "must be at least %g (got %g)", r->lo, v);
    }
    return 0;
}

static int s_choice(const char *choices, const char *name) {
    int idx = 0;
    const char *p = choices;
    size_t len = strlen(name);
    for (;;) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == len && strncmp(p, name, len) == 0) return idx;
        if (!e) return -1;
        p = e + 1;
        idx++;
    }
}

// ---------------------------------------------------------------- typed parsers

static int s_parse_scalar_key(s_ctx *c, const yaml_node_t *n, int k) {
    const s_row *r = &s_rows[k];
    if (n->type != YAML_SCALAR_NODE) return s_fail(c, n, k, NULL, "expected a %s", s_type_names[r->type]);
    const char *s = s_scalar(n);
    switch (r->type) {
    case T_INT: {
        int64_t v;
        if (s_parse_i64(s, &v)) return s_fail(c, n, k, NULL, "expected an integer (got \"%s\")", s);
        if (s_bounds(c, n, k, NULL, (double)v)) return c->err ? c->err->code : XT_EINVAL;
        *FIELD(c->cfg, k, int64_t) = v;
        return 0;
    }
    case T_DBL: {
        double v;
        if (s_parse_f64(s, &v)) return s_fail(c, n, k, NULL, "expected a finite number (got \"%s\")", s);
        if (s_bounds(c, n, k, NULL, v)) return c->err ? c->err->code : XT_EINVAL;
        *FIELD(c->cfg, k, double) = v;
        return 0;
    }
    case T_BOOL: {
        static const char *t[] = {"true", "yes", "on", "1"}, *f[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(s, t[i]) == 0) return *FIELD(c->cfg, k, int) = 1, 0;
            if (strcasecmp(s, f[i]) == 0) return *FIELD(c->cfg, k, int) = 0, 0;
        }
        return s_fail(c, n, k, NULL, "expected true or false (got \"%s\")", s);
    }
    case T_STR: {
        size_t len = strlen(s), hi = r->hi > 0 ? (size_t)r->hi : XT_CFG_STR_MAX - 1;
        if (len < (size_t)r->lo) return s_fail(c, n, k, NULL, "must not be empty");
        if (len > hi) return s_fail(c, n, k, NULL, "longer than %zu characters", hi);
        snprintf(*FIELD(c->cfg, k, xt_cfg_str), XT_CFG_STR_MAX, "%s", s);
        return 0;
    }
    case T_ENUM: {
        int v = s_choice(r->choices, s);
        if (v < 0) {
            char alts[128];
            snprintf(alts, sizeof alts, "%s", r->choices);
            for (char *p = alts; *p; p++)
                if (*p == '|') *p = ',';
            return s_fail(c, n, k, NULL, "unknown value \"%s\" (one of: %s)", s, alts);
        }
        *FIELD(c->cfg, k, int) = v;
        return 0;
    }
    case T_TF: {
        int sec;
        if (xt_timeframe_parse(s, &sec))
            return s_fail(c, n, k, NULL, "expected a timeframe like 15m, 1h, 4h, 1d (got \"%s\")", s);
        if (s_bounds(c, n, k, NULL, sec)) return c->err ? c->err->code : XT_EINVAL;
        *FIELD(c->cfg, k, int64_t) = sec;
        return 0;
    }
    case T_DATE: {
        int64_t ts;
        if (xt_time_parse(s, &ts))
            return s_fail(c, n, k, NULL, "expected an ISO-8601 date like 2022-01-01 (got \"%s\")", s);
        *FIELD(c->cfg, k, int64_t) = ts;
        return 0;
    }
    default: return s_fail(c, n, k, NULL, "internal: not a scalar type");
    }
}

static int s_parse_list_key(s_ctx *c, yaml_document_t *doc, const yaml_node_t *n, int k) {
    const s_row *r = &s_rows[k];
    s_items *it = malloc(sizeof *it); // ~16 KiB: off the stack; config load is not a hot path
    if (!it) return xt_err_set(c->err, XT_ENOMEM, "%s: out of memory", c->file);
    int rc = s_list_items(c, doc, n, k, it);
    if (rc) goto out;
    int maxn = r->hi > 0 ? (int)r->hi : XT_CFG_LIST_MAX;
    if (it->n < (int)r->lo) {
        rc = s_fail(c, n, k, NULL, "needs at least %d item%s", (int)r->lo, r->lo == 1 ? "" : "s");
        goto out;
    }
    if (it->n > maxn) {
        rc = s_fail(c, n, k, NULL, "at most %d items (got %d)", maxn, it->n);
        goto out;
    }
    for (int i = 0; i < it->n && rc == 0; i++) {
        char item[24];
        snprintf(item, sizeof item, "[%d]", i);
        const char *s = it->text[i];
        const yaml_node_t *e = it->node[i];
        switch (r->type) {
        case T_STRLIST: {
            xt_cfg_strlist *l = FIELD(c->cfg, k, xt_cfg_strlist);
            char v[XT_CFG_ITEM_MAX];
            size_t o = 0;
            for (const char *p = s; *p; p++) {
                if (*p == '/') continue; // "BTC/USD" -> "BTCUSD" (seed 004)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
                    rc = s_fail(c, e, k, item, "invalid character '%c' in \"%s\"", *p, s);
                    break;
                }
                if (o == sizeof v - 1) {
                    rc = s_fail(c, e, k, item, "\"%s\" is longer than %d characters", s, XT_CFG_ITEM_MAX - 1);
                    break;
                }
                v[o++] = (char)toupper((unsigned char)*p);
            }
            if (rc) break;
            v[o] = '\0';
            if (o == 0) {
                rc = s_fail(c, e, k, item, "empty item");
                break;
            }
            for (int j = 0; j < i; j++)
                if (strcmp(l->v[j], v) == 0) rc = s_fail(c, e, k, item, "duplicate \"%s\"", v);
            memcpy(l->v[i], v, o + 1);
            l->line[i] = (int)e->start_mark.line + 1;
            l->col[i] = (int)e->start_mark.column + 1 + it->col_off[i];
            l->n = i + 1;
            break;
        }
        case T_TFLIST: {
            xt_cfg_intlist *l = FIELD(c->cfg, k, xt_cfg_intlist);
            int sec;
            if (xt_timeframe_parse(s, &sec)) {
                rc = s_fail(c, e, k, item, "expected a timeframe like 15m, 1h, 4h, 1d (got \"%s\")", s);
                break;
            }
            for (int j = 0; j < i; j++)
                if (l->v[j] == sec) rc = s_fail(c, e, k, item, "duplicate timeframe \"%s\"", s);
            l->v[i] = sec;
            l->n = i + 1;
            break;
        }
        case T_DBLLIST: {
            xt_cfg_dbllist *l = FIELD(c->cfg, k, xt_cfg_dbllist);
            if (s_parse_f64(s, &l->v[i])) rc = s_fail(c, e, k, item, "expected a finite number (got \"%s\")", s);
            l->n = i + 1;
            break;
        }
        case T_INTLIST: {
            xt_cfg_intlist *l = FIELD(c->cfg, k, xt_cfg_intlist);
            if (s_parse_i64(s, &l->v[i]) || l->v[i] < 1)
                rc = s_fail(c, e, k, item, "expected a positive integer (got \"%s\")", s);
            l->n = i + 1;
            break;
        }
        default: rc = s_fail(c, e, k, item, "internal: not a list type");
        }
    }
out:
    free(it);
    return rc;
}

static int s_parse_sched(s_ctx *c, yaml_document_t *doc, const yaml_node_t *n, int k) {
    xt_cfg_sched *s = FIELD(c->cfg, k, xt_cfg_sched);
    if (n->type != YAML_SEQUENCE_NODE)
        return s_fail(c, n, k, NULL, "expected a list of [step, value] pairs");
    int i = 0;
    for (yaml_node_item_t *p = n->data.sequence.items.start; p < n->data.sequence.items.top; p++, i++) {
        yaml_node_t *e = yaml_document_get_node(doc, *p);
        char item[24];
        snprintf(item, sizeof item, "[%d]", i);
        if (i == XT_CFG_LIST_MAX) return s_fail(c, e, k, NULL, "at most %d entries", XT_CFG_LIST_MAX);
        if (!e || e->type != YAML_SEQUENCE_NODE || e->data.sequence.items.top - e->data.sequence.items.start != 2)
            return s_fail(c, e, k, item, "expected a pair [step, value]");
        yaml_node_t *a = yaml_document_get_node(doc, e->data.sequence.items.start[0]);
        yaml_node_t *b = yaml_document_get_node(doc, e->data.sequence.items.start[1]);
        if (a->type != YAML_SCALAR_NODE || s_parse_i64(s_scalar(a), &s->step[i]) || s->step[i] < 0)
            return s_fail(c, a, k, item, "step must be a non-negative integer");
        if (b->type != YAML_SCALAR_NODE || s_parse_f64(s_scalar(b), &s->value[i]))
            return s_fail(c, b, k, item, "value must be a finite number");
        if (i == 0 && s->step[0] != 0) return s_fail(c, a, k, item, "the first entry must start at step 0");
        if (i > 0 && s->step[i] <= s->step[i - 1]) return s_fail(c, a, k, item, "steps must increase");
    }
    if (i == 0) return s_fail(c, n, k, NULL, "needs at least one [step, value] pair");
    s->n = i;
    return 0;
}

static int s_parse_folds(s_ctx *c, yaml_document_t *doc, const yaml_node_t *n, int k) {
    static const char *names[4] = {"train_start", "train_end", "test_start", "test_end"};
    xt_cfg_folds *f = FIELD(c->cfg, k, xt_cfg_folds);
    if (n->type != YAML_SEQUENCE_NODE)
        return s_fail(c, n, k, NULL, "expected a list of {train_start, train_end, test_start, test_end}");
    int i = 0;
    for (yaml_node_item_t *p = n->data.sequence.items.start; p < n->data.sequence.items.top; p++, i++) {
        yaml_node_t *e = yaml_document_get_node(doc, *p);
        char item[64];
        snprintf(item, sizeof item, "[%d]", i);
        if (i == XT_CFG_FOLDS_MAX) return s_fail(c, e, k, NULL, "at most %d folds", XT_CFG_FOLDS_MAX);
        if (!e || e->type != YAML_MAPPING_NODE)
            return s_fail(c, e, k, item, "expected a mapping {train_start, train_end, test_start, test_end}");
        int64_t v[4];
        int seen[4] = {0};
        for (yaml_node_pair_t *q = e->data.mapping.pairs.start; q < e->data.mapping.pairs.top; q++) {
            yaml_node_t *kn = yaml_document_get_node(doc, q->key), *vn = yaml_document_get_node(doc, q->value);
            int j = 0;
            while (j < 4 && (kn->type != YAML_SCALAR_NODE || strcmp(s_scalar(kn), names[j]) != 0)) j++;
            if (j == 4)
                return s_fail(c, kn, k, item, "unknown key \"%s\" (expected train_start, train_end, test_start, test_end)",
                              kn->type == YAML_SCALAR_NODE ? s_scalar(kn) : "?");
            snprintf(item, sizeof item, "[%d].%s", i, names[j]);
            if (seen[j]) return s_fail(c, kn, k, item, "given twice");
            if (vn->type != YAML_SCALAR_NODE || xt_time_parse(s_scalar(vn), &v[j]))
                return s_fail(c, vn, k, item, "expected an ISO-8601 date like 2022-01-01");
            seen[j] = 1;
        }
        for (int j = 0; j < 4; j++)
            if (!seen[j]) {
                snprintf(item, sizeof item, "[%d]", i);
                return s_fail(c, e, k, item, "missing %s", names[j]);
            }
        snprintf(item, sizeof item, "[%d]", i);
        if (!(v[0] < v[1] && v[1] <= v[2] && v[2] < v[3]))
            return s_fail(c, e, k, item, "dates must satisfy train_start < train_end <= test_start < test_end");
        f->v[i] = (xt_cfg_fold){v[0], v[1], v[2], v[3]};
    }
    f->n = i;
    return 0;
}

static int s_parse_key(s_ctx *c, yaml_document_t *doc, const yaml_node_t *n, int k) {
    int rc;
    switch (s_rows[k].type) {
    case T_STRLIST: case T_TFLIST: case T_DBLLIST: case T_INTLIST: rc = s_parse_list_key(c, doc, n, k); break;
    case T_SCHED: rc = s_parse_sched(c, doc, n, k); break;
    case T_FOLDS: rc = s_parse_folds(c, doc, n, k); break;
    default: rc = s_parse_scalar_key(c, n, k);
    }
    if (rc == 0) {
        c->cfg->line[k] = (int)n->start_mark.line + 1;
        c->cfg->col[k] = (int)n->start_mark.column + 1;
    }
    return rc;
}

// ---------------------------------------------------------------- documents

static int s_yaml_error(const yaml_parser_t *p, const char *file, xt_err *err) {
    return xt_err_set(err, XT_EPARSE, "%s:%d:%d: YAML syntax error: %s%s%s", file,
                      (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                      p->problem ? p->problem : "unknown problem", p->context ? " " : "",
                      p->context ? p->context : "");
}

static int s_walk(s_ctx *c, yaml_document_t *doc) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return 0; // empty file: all defaults
    if (root->type != YAML_MAPPING_NODE)
        return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: expected a mapping of sections (run, data, env, ...)",
                          c->file, (int)root->start_mark.line + 1, (int)root->start_mark.column + 1);
    int seen[XT_CFG_NKEYS] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *sk = yaml_document_get_node(doc, p->key), *sv = yaml_document_get_node(doc, p->value);
        int sl = (int)sk->start_mark.line + 1, sc = (int)sk->start_mark.column + 1;
        if (sk->type != YAML_SCALAR_NODE)
            return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: section names must be plain strings", c->file, sl, sc);
        const char *sec = s_scalar(sk);
        if (!s_section_exists(sec)) {
            char sug[64];
            s_suggest(sug, sizeof sug, NULL, sec);
            return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: unknown section \"%s\"%s%s%s", c->file, sl, sc, sec,
                              *sug ? " (did you mean \"" : "", sug, *sug ? "\"?)" : "");
        }
        if (sv->type == YAML_SCALAR_NODE && s_scalar(sv)[0] == '\0') continue; // "section:" with nothing
        if (sv->type != YAML_MAPPING_NODE)
            return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: %s: expected a mapping of keys", c->file,
                              (int)sv->start_mark.line + 1, (int)sv->start_mark.column + 1, sec);
        for (yaml_node_pair_t *q = sv->data.mapping.pairs.start; q < sv->data.mapping.pairs.top; q++) {
            yaml_node_t *kn = yaml_document_get_node(doc, q->key), *vn = yaml_document_get_node(doc, q->value);
            int kl = (int)kn->start_mark.line + 1, kc = (int)kn->start_mark.column + 1;
            if (kn->type != YAML_SCALAR_NODE)
                return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: %s: key names must be plain strings", c->file, kl, kc, sec);
            const char *key = s_scalar(kn);
            int k = s_find(sec, key);
            if (k < 0) {
                char sug[96];
                s_suggest(sug, sizeof sug, sec, key);
                return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: %s.%s: unknown key%s%s%s", c->file, kl, kc, sec,
                                  key, *sug ? " (did you mean \"" : "", sug, *sug ? "\"?)" : "");
            }
            if (seen[k])
                return xt_err_set(c->err, XT_EINVAL, "%s:%d:%d: %s.%s: given twice (first at line %d)", c->file,
                                  kl, kc, sec, key, c->cfg->line[k]);
            seen[k] = 1;
            int rc = s_parse_key(c, doc, vn, k);
            if (rc) return rc;
        }
    }
    return 0;
}

// Parses text as one YAML document and hands it to fn.
static int s_with_doc(const char *text, size_t len, const char *file, xt_err *err,
                      int (*fn)(void *, yaml_document_t *), void *arg) {
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return xt_err_set(err, XT_ENOMEM, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        int rc = s_yaml_error(&p, file, err);
        yaml_parser_delete(&p);
        return rc;
    }
    int rc = fn(arg, &doc);
    // A second document in the stream is almost always a mistake.
    if (rc == 0 && yaml_document_get_root_node(&doc)) {
        yaml_document_t extra;
        if (yaml_parser_load(&p, &extra)) {
            if (yaml_document_get_root_node(&extra))
                rc = xt_err_set(err, XT_EINVAL, "%s: more than one YAML document (a stray '---'?)", file);
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

static int s_walk_cb(void *arg, yaml_document_t *doc) { return s_walk(arg, doc); }

typedef struct {
    s_ctx *c;
    int k;
} s_one;

static int s_one_cb(void *arg, yaml_document_t *doc) {
    s_one *o = arg;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return s_fail(o->c, NULL, o->k, NULL, "empty value");
    return s_parse_key(o->c, doc, root, o->k);
}

// ---------------------------------------------------------------- public

void xt_config_defaults(xt_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (int k = 0; k < XT_CFG_NKEYS; k++) {
        char path[96];
        xt_err e;
        snprintf(path, sizeof path, "%s.%s", s_rows[k].sec, s_rows[k].key);
        // A default that doesn't parse is a programming error caught by the unit test.
        if (xt_config_set(cfg, path, s_rows[k].def, &e) != 0) fprintf(stderr, "config default: %s\n", e.msg);
        cfg->line[k] = cfg->col[k] = 0;
    }
    // List defaults have no source position.
    for (int i = 0; i < XT_CFG_LIST_MAX; i++) cfg->data_symbols.line[i] = cfg->data_symbols.col[i] = 0;
}

int xt_config_set_arg(xt_config *cfg, const char *arg, xt_err *err) {
    char key[128];
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof key)
        return xt_err_set(err, XT_EINVAL, "--set %s: expected section.key=value", arg);
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    return xt_config_set(cfg, key, eq + 1, err);
}

int xt_config_set(xt_config *cfg, const char *path, const char *value, xt_err *err) {
    const char *dot = strchr(path, '.');
    char sec[64];
    if (!dot || (size_t)(dot - path) >= sizeof sec)
        return xt_err_set(err, XT_EINVAL, "--set %s: expected section.key=value", path);
    memcpy(sec, path, (size_t)(dot - path));
    sec[dot - path] = '\0';
    int k = s_find(sec, dot + 1);
    if (k < 0) {
        char sug[96];
        s_suggest(sug, sizeof sug, s_section_exists(sec) ? sec : NULL, s_section_exists(sec) ? dot + 1 : sec);
        return xt_err_set(err, XT_EINVAL, "%s: unknown key%s%s%s", path, *sug ? " (did you mean \"" : "", sug,
                          *sug ? "\"?)" : "");
    }
    s_ctx c = {"--set", cfg, err};
    s_one o = {&c, k};
    // Reset list-typed fields first so a set replaces rather than appends.
    switch (s_rows[k].type) {
    case T_STRLIST: memset(FIELD(cfg, k, xt_cfg_strlist), 0, sizeof(xt_cfg_strlist)); break;
    case T_TFLIST: case T_INTLIST: memset(FIELD(cfg, k, xt_cfg_intlist), 0, sizeof(xt_cfg_intlist)); break;
    case T_DBLLIST: memset(FIELD(cfg, k, xt_cfg_dbllist), 0, sizeof(xt_cfg_dbllist)); break;
    case T_SCHED: memset(FIELD(cfg, k, xt_cfg_sched), 0, sizeof(xt_cfg_sched)); break;
    case T_FOLDS: memset(FIELD(cfg, k, xt_cfg_folds), 0, sizeof(xt_cfg_folds)); break;
    default: break;
    }
    return s_with_doc(value, strlen(value), "--set", err, s_one_cb, &o);
}

int xt_config_load_text(xt_config *cfg, const char *text, size_t len, const char *name, xt_err *err) {
    xt_config_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    s_ctx c = {name, cfg, err};
    int rc = s_with_doc(text, len, name, err, s_walk_cb, &c);
    return rc ? rc : xt_config_validate(cfg, err);
}

int xt_config_load(xt_config *cfg, const char *path, xt_err *err) {
    char *text;
    size_t len;
    int rc = xt_file_read_all(path, 1 << 20, &text, &len, err);
    if (rc) return rc;
    rc = xt_config_load_text(cfg, text, len, path, err);
    free(text);
    return rc;
}

// ---------------------------------------------------------------- validation

const char *xt_config_where(const xt_config *cfg, int k, char *buf, size_t cap) {
    if (cfg->line[k] > 0)
        snprintf(buf, cap, "%s:%d:%d: %s.%s", cfg->path, cfg->line[k], cfg->col[k], s_rows[k].sec, s_rows[k].key);
    else
        snprintf(buf, cap, "%s%s%s.%s", cfg->path, cfg->path[0] ? ": " : "", s_rows[k].sec, s_rows[k].key);
    return buf;
}

const char *xt_config_where_item(const xt_config *cfg, int k, int i, char *buf, size_t cap) {
    const xt_cfg_strlist *l = FIELD((xt_config *)cfg, k, xt_cfg_strlist);
    if (s_rows[k].type == T_STRLIST && l->line[i] > 0)
        snprintf(buf, cap, "%s:%d:%d: %s.%s[%d]", cfg->path, l->line[i], l->col[i], s_rows[k].sec, s_rows[k].key, i);
    else {
        char w[384];
        snprintf(buf, cap, "%s[%d]", xt_config_where(cfg, k, w, sizeof w), i);
    }
    return buf;
}

#define WHERE(k) xt_config_where(cfg, k, w, sizeof w)

int xt_config_validate(const xt_config *cfg, xt_err *err) {
    char w[384];
    for (const char *p = cfg->run_id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return xt_err_set(err, XT_EINVAL, "%s: \"%s\" may only hold letters, digits, '-', '_' and '.'",
                              WHERE(XT_CFGK_run_id), cfg->run_id);
    if (cfg->run_id[0] == '.')
        return xt_err_set(err, XT_EINVAL, "%s: must not start with '.'", WHERE(XT_CFGK_run_id));
    if (cfg->data_end <= cfg->data_start)
        return xt_err_set(err, XT_EINVAL, "%s: must be after data.start", WHERE(XT_CFGK_data_end));
    for (int i = 0; i < cfg->data_timeframes.n; i++)
        if (cfg->data_timeframes.v[i] % cfg->data_base_timeframe != 0) {
            char a[16], b[16];
            return xt_err_set(err, XT_EINVAL, "%s[%d]: %s is not a multiple of data.base_timeframe %s",
                              WHERE(XT_CFGK_data_timeframes), i, xt_timeframe_name((int)cfg->data_timeframes.v[i], a),
                              xt_timeframe_name((int)cfg->data_base_timeframe, b));
        }
    // Any shortfall below 100% (few assets at their cap) stays in cash, so the
    // only infeasible portfolio book is one that must hold 100% cash.
    if (cfg->env_kind == XT_ENV_KIND_PORTFOLIO && cfg->env_min_cash > 1.0 - 1e-12)
        return xt_err_set(err, XT_EINVAL, "%s: must be below 1 for the portfolio env", WHERE(XT_CFGK_env_min_cash));
    if (cfg->env_long_only) {
        int pos = 0;
        for (int i = 0; i < cfg->env_position_levels.n; i++) pos += cfg->env_position_levels.v[i] >= 0;
        if (pos == 0)
            return xt_err_set(err, XT_EINVAL, "%s: long_only leaves no level >= 0", WHERE(XT_CFGK_env_position_levels));
    }
    if (cfg->model_log_std_min >= cfg->model_log_std_max)
        return xt_err_set(err, XT_EINVAL, "%s: must be below model.log_std_max", WHERE(XT_CFGK_model_log_std_min));
    if (cfg->model_symbol_embedding > 0 && cfg->env_symbol_encoding != XT_SYMENC_ID)
        return xt_err_set(err, XT_EINVAL, "%s: needs env.symbol_encoding: id", WHERE(XT_CFGK_model_symbol_embedding));
    if (cfg->ppo_n_steps % cfg->ppo_chunk_len != 0)
        return xt_err_set(err, XT_EINVAL, "%s: %lld is not a multiple of ppo.chunk_len %lld", WHERE(XT_CFGK_ppo_n_steps),
                          (long long)cfg->ppo_n_steps, (long long)cfg->ppo_chunk_len);
    if (cfg->ppo_lr_schedule == XT_LR_LINEAR && cfg->ppo_lr_end > cfg->ppo_lr)
        return xt_err_set(err, XT_EINVAL, "%s: must not exceed ppo.lr for a decaying schedule", WHERE(XT_CFGK_ppo_lr_end));
    if (cfg->folds_mode == XT_FOLDS_EXPLICIT) {
        if (cfg->folds_explicit.n == 0)
            return xt_err_set(err, XT_EINVAL, "%s: folds.mode is explicit but no folds are listed",
                              WHERE(XT_CFGK_folds_explicit));
        for (int i = 0; i < cfg->folds_explicit.n; i++) {
            const xt_cfg_fold *f = &cfg->folds_explicit.v[i];
            if (f->train_start < cfg->data_start || f->test_end > cfg->data_end)
                return xt_err_set(err, XT_EINVAL, "%s[%d]: lies outside data.start..data.end", WHERE(XT_CFGK_folds_explicit), i);
        }
    } else {
        if (cfg->folds_explicit.n > 0)
            return xt_err_set(err, XT_EINVAL, "%s: folds are listed but folds.mode is not explicit; add folds.mode: explicit",
                              WHERE(XT_CFGK_folds_explicit));
        int64_t need = (cfg->folds_train_days + cfg->folds_purge_days + cfg->folds_test_days) * 86400;
        if (cfg->data_end - cfg->data_start < need)
            return xt_err_set(err, XT_EINVAL, "%s: train_days + purge_days + test_days exceed the data range",
                              WHERE(XT_CFGK_folds_train_days));
    }
    return 0;
}

// ---------------------------------------------------------------- dump / reference

// Shortest text that reads back as the same double.
static const char *s_num(double v, char buf[40]) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

static const char *s_date(int64_t ts, char buf[32]) {
    xt_time_format(ts, buf);
    if (ts % 86400 == 0) buf[10] = '\0';
    return buf;
}

static void s_print_value(const xt_config *cfg, int k, FILE *out) {
    const s_row *r = &s_rows[k];
    xt_config *c = (xt_config *)cfg;
    char b[40];
    switch (r->type) {
    case T_INT: fprintf(out, "%lld", (long long)*FIELD(c, k, int64_t)); break;
    case T_DBL: fputs(s_num(*FIELD(c, k, double), b), out); break;
    case T_BOOL: fputs(*FIELD(c, k, int) ? "true" : "false", out); break;
    case T_STR: {
        fputc('"', out);
        for (const char *p = *FIELD(c, k, xt_cfg_str); *p; p++) {
            if (*p == '"' || *p == '\\') fputc('\\', out);
            fputc(*p, out);
        }
        fputc('"', out);
        break;
    }
    case T_ENUM: fputs(xt_config_enum_name(k, *FIELD(c, k, int), b, sizeof b), out); break;
    case T_TF: fputs(xt_timeframe_name((int)*FIELD(c, k, int64_t), b), out); break;
    case T_DATE: fputs(s_date(*FIELD(c, k, int64_t), b), out); break;
    case T_STRLIST: {
        const xt_cfg_strlist *l = FIELD(c, k, xt_cfg_strlist);
        fputc('[', out);
        for (int i = 0; i < l->n; i++) fprintf(out, "%s%s", i ? ", " : "", l->v[i]);
        fputc(']', out);
        break;
    }
    case T_TFLIST: case T_INTLIST: {
        const xt_cfg_intlist *l = FIELD(c, k, xt_cfg_intlist);
        fputc('[', out);
        for (int i = 0; i < l->n; i++) {
            if (r->type == T_TFLIST) fprintf(out, "%s%s", i ? ", " : "", xt_timeframe_name((int)l->v[i], b));
            else fprintf(out, "%s%lld", i ? ", " : "", (long long)l->v[i]);
        }
        fputc(']', out);
        break;
    }
    case T_DBLLIST: {
        const xt_cfg_dbllist *l = FIELD(c, k, xt_cfg_dbllist);
        fputc('[', out);
        for (int i = 0; i < l->n; i++) fprintf(out, "%s%s", i ? ", " : "", s_num(l->v[i], b));
        fputc(']', out);
        break;
    }
    case T_SCHED: {
        const xt_cfg_sched *s = FIELD(c, k, xt_cfg_sched);
        fputc('[', out);
        for (int i = 0; i < s->n; i++) fprintf(out, "%s[%lld, %s]", i ? ", " : "", (long long)s->step[i], s_num(s->value[i], b));
        fputc(']', out);
        break;
    }
    case T_FOLDS: {
        const xt_cfg_folds *f = FIELD(c, k, xt_cfg_folds);
        if (f->n == 0) {
            fputs("[]", out);
            break;
        }
        char d[4][32];
        for (int i = 0; i < f->n; i++)
            fprintf(out, "\n    - {train_start: %s, train_end: %s, test_start: %s, test_end: %s}",
                    s_date(f->v[i].train_start, d[0]), s_date(f->v[i].train_end, d[1]),
                    s_date(f->v[i].test_start, d[2]), s_date(f->v[i].test_end, d[3]));
        break;
    }
    }
}

void xt_config_dump(const xt_config *cfg, FILE *out) {
    fprintf(out, "# effective configuration%s%s (defaults filled in)\n", cfg->path[0] ? " of " : "", cfg->path);
    for (int k = 0; k < XT_CFG_NKEYS; k++) {
        if (k == 0 || strcmp(s_rows[k].sec, s_rows[k - 1].sec) != 0) fprintf(out, "%s:\n", s_rows[k].sec);
        fprintf(out, "  %s: ", s_rows[k].key);
        s_print_value(cfg, k, out);
        fputc('\n', out);
    }
}

void xt_config_reference(FILE *out) {
    fprintf(out, "| key | type | default | allowed | description |\n|---|---|---|---|---|\n");
    for (int k = 0; k < XT_CFG_NKEYS; k++) {
        const s_row *r = &s_rows[k];
        char allowed[160] = "";
        if (r->type == T_ENUM) {
            snprintf(allowed, sizeof allowed, "%s", r->choices);
            for (char *p = allowed; *p; p++)
                if (*p == '|') *p = ',';
        } else if (r->lo != 0 || r->hi != 0) {
            char a[40], b[40];
            const char *what = (r->type == T_INT || r->type == T_DBL || r->type == T_TF) ? "" : "items/length ";
            if (r->hi != 0) snprintf(allowed, sizeof allowed, "%s%s .. %s", what, s_num(r->lo, a), s_num(r->hi, b));
            else snprintf(allowed, sizeof allowed, "%s>= %s", what, s_num(r->lo, a));
        }
        fprintf(out, "| `%s.%s` | %s | `%s` | %s | %s |\n", r->sec, r->key, s_type_names[r->type], r->def, allowed, r->doc);
    }
}

const char *xt_config_enum_name(int k, int value, char *buf, size_t cap) {
    const char *p = s_rows[k].choices;
    for (int i = 0; i < value && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || !*p || value < 0) p = "?";
    const char *e = strchr(p, '|');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l >= cap) l = cap - 1;
    memcpy(buf, p, l);
    buf[l] = '\0';
    return buf;
}

int xt_config_enum_index(int k, const char *name) { return s_rows[k].type == T_ENUM ? s_choice(s_rows[k].choices, name) : -1; }

int xt_config_key_count(void) { return XT_CFG_NKEYS; }

const char *xt_config_key_path(int k, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%s", s_rows[k].sec, s_rows[k].key);
    return buf;
}
