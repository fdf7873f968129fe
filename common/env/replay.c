// replay.c - action files parsed into a per-step target table and walked
// through an eval-mode asset or portfolio env.
//
// Invariants: after a successful parse every step 0..steps-1 has a target
// (forward-filled from the last line at or before it, flat before the first
// line); asset targets are valid level indices, portfolio targets are
// finite, >= 0 and sum to 1 within XT_REPLAY_SUM_TOL. Ownership: the replay
// owns its env, the target table and its scratch buffers; the market is
// borrowed. Threads: one at a time. Not a training hot path: a run
// allocates its output text, the step loop itself does not allocate.
#include "replay.h"

#include "asset_env.h"
#include "core/fileio.h"
#include "core/xtime.h"
#include "portfolio_env.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_FILE ((size_t)1 << 30) // action files above 1 GiB are refused
#define S_CELL_MAX 64                // longest cell text parsed

struct xt_replay {
    const xt_env_market *m;
    xt_env_params p;
    xt_replay_setup s;
    char what[128];
    xt_asset_env *aenv;
    xt_portfolio_env *penv;
    int K, width; // assets; targets per step (1 or K + 1)
    int nl, flat; // asset env: levels and the flat index
    double lv[XT_ENV_MAX_LEVELS];
    int64_t r0, last, steps; // first usable row, last window row, steps of the walk
    int32_t *level;          // [steps] asset target level index
    double *w;               // [steps][K + 1] portfolio target weights
    int32_t *line;           // [steps] file line of the target in force (0: default)
    int64_t lines;           // action lines read
    int by_index;            // asset file: 1 = "level" column, 0 = "position"
    int col[XT_PF_W];        // portfolio file: column c + 1 -> market asset (K = cash)
    float *obs;
    uint8_t *mask;
};

// ---- construction

int xt_replay_new(xt_replay **out, const xt_env_market *m, const xt_env_params *p, const xt_replay_setup *s,
                  xt_err *err) {
    *out = NULL;
    xt_replay *self = calloc(1, sizeof *self);
    if (!self) return xt_err_set(err, XT_ENOMEM, "replay: out of memory");
    self->m = m, self->p = *p, self->s = *s;
    snprintf(self->what, sizeof self->what, "%s", s->what ? s->what : "window");
    self->s.what = self->what;
    xt_env_setup su;
    xt_env_setup_default(&su, m);
    su.row_begin = s->row_begin, su.row_end = s->row_end, su.eval = 1;
    su.asset = s->asset, su.symbol_id = s->symbol_id, su.tf_id = s->tf_id;
    int rc, od;
    if (s->portfolio) {
        rc = xt_portfolio_env_new(&self->penv, m, p, &su, err);
        self->K = m->k, self->width = m->k + 1, od = xt_portfolio_env_obs_dim(m);
    } else {
        rc = xt_asset_env_new(&self->aenv, m, p, &su, err);
        self->K = 1, self->width = 1, od = xt_asset_env_obs_dim(p, m);
    }
    if (rc) {
        xt_err_prefix(err, "%s", self->what);
        xt_replay_destroy(&self);
        return rc;
    }
    if (!s->portfolio) {
        self->nl = xt_asset_env_n_actions(p), self->flat = xt_asset_env_flat_action(self->aenv);
        for (int j = 0; j < self->nl; j++) self->lv[j] = xt_asset_env_level(self->aenv, j);
    }
    // The env validated the window: at least two usable rows from r0.
    self->r0 = s->row_begin > m->first_row ? s->row_begin : m->first_row;
    self->last = s->row_end - 1;
    self->steps = self->last - self->r0;
    size_t n = (size_t)self->steps;
    self->line = calloc(n, sizeof(int32_t));
    self->level = s->portfolio ? NULL : calloc(n, sizeof(int32_t));
    self->w = s->portfolio ? calloc(n * (size_t)self->width, sizeof(double)) : NULL;
    self->obs = calloc((size_t)od + 1, sizeof(float));
    self->mask = calloc((size_t)(s->portfolio ? self->width : self->nl) + 1, 1);
    if (!self->line || !self->obs || !self->mask || (s->portfolio ? !self->w : !self->level)) {
        xt_replay_destroy(&self);
        return xt_err_set(err, XT_ENOMEM, "replay: out of memory for %lld steps", (long long)n);
    }
    *out = self;
    return 0;
}

void xt_replay_destroy(xt_replay **self_p) {
    if (!self_p || !*self_p) return;
    xt_replay *self = *self_p;
    xt_asset_env_destroy(&self->aenv);
    xt_portfolio_env_destroy(&self->penv);
    free(self->level), free(self->w), free(self->line), free(self->obs), free(self->mask);
    free(self);
    *self_p = NULL;
}

int64_t xt_replay_steps(const xt_replay *self) { return self->steps; }
int64_t xt_replay_step_ts(const xt_replay *self, int64_t j) { return self->m->ts[self->r0 + 1 + j]; }
int64_t xt_replay_lines(const xt_replay *self) { return self->lines; }
int xt_replay_level(const xt_replay *self, int64_t j) { return self->level ? self->level[j] : -1; }
const double *xt_replay_weights(const xt_replay *self, int64_t j) {
    return self->w ? self->w + (size_t)j * (size_t)self->width : NULL;
}
int xt_replay_line(const xt_replay *self, int64_t j) { return self->line[j]; }

// ---- cells

typedef struct {
    const char *p;
    int n;
} s_cell;

// Splits [p, p + n) at commas into trimmed cells; returns the count (cells
// past cap are counted, not stored).
static int s_split(const char *p, size_t n, s_cell *cells, int cap) {
    int k = 0;
    size_t i = 0;
    for (;;) {
        size_t b = i;
        while (i < n && p[i] != ',') i++;
        size_t e = i;
        while (b < e && isspace((unsigned char)p[b])) b++;
        while (e > b && isspace((unsigned char)p[e - 1])) e--;
        if (k < cap) cells[k].p = p + b, cells[k].n = (int)(e - b);
        k++;
        if (i >= n) return k;
        i++; // past the comma
    }
}

// NUL-terminated copy of a cell (cut at S_CELL_MAX - 1 bytes; the parsers
// then see trailing text missing and report the cell).
static const char *s_text(const s_cell *c, char buf[S_CELL_MAX]) {
    int n = c->n < S_CELL_MAX - 1 ? c->n : S_CELL_MAX - 1;
    memcpy(buf, c->p, (size_t)n);
    buf[n] = '\0';
    return buf;
}

static int s_is(const s_cell *c, const char *name) {
    return c->n == (int)strlen(name) && strncasecmp(c->p, name, (size_t)c->n) == 0;
}

// A finite number filling the whole cell.
static int s_number(const s_cell *c, double *v) {
    char buf[S_CELL_MAX];
    if (c->n == 0 || c->n >= S_CELL_MAX || memchr(c->p, '\0', (size_t)c->n)) return -1;
    s_text(c, buf);
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' && isfinite(*v) ? 0 : -1;
}

// ISO 8601 UTC (xt_time_parse) or Unix seconds.
static int s_timestamp(const s_cell *c, int64_t *ts) {
    char buf[S_CELL_MAX];
    if (c->n == 0 || c->n >= S_CELL_MAX || memchr(c->p, '\0', (size_t)c->n)) return -1;
    s_text(c, buf);
    int digits = 1;
    for (int i = 0; buf[i]; i++) digits &= isdigit((unsigned char)buf[i]) != 0;
    if (digits && c->n <= 12) {
        *ts = strtoll(buf, NULL, 10);
        return 0;
    }
    return xt_time_parse(buf, ts) == 0 ? 0 : -1;
}

// ---- header

// "timestamp,BTCUSD,EURUSD,cash" / "timestamp,position" for messages.
static const char *s_expected(const xt_replay *self, char *buf, size_t cap) {
    if (!self->s.portfolio) {
        snprintf(buf, cap, "timestamp,position\" or \"timestamp,level");
        return buf;
    }
    size_t o = (size_t)snprintf(buf, cap, "timestamp");
    for (int a = 0; a < self->K && o < cap; a++) o += (size_t)snprintf(buf + o, cap - o, ",%s", self->m->symbol[a]);
    if (o < cap) snprintf(buf + o, cap - o, ",cash");
    return buf;
}

static int s_header(xt_replay *self, const char *path, int ln, const s_cell *c, int nc, xt_err *err) {
    char exp[600], buf[S_CELL_MAX];
    s_expected(self, exp, sizeof exp);
    if (nc < 1 || !s_is(&c[0], "timestamp"))
        return xt_err_set(err, XT_EPARSE, "%s:%d: column 1: header must start with \"timestamp\" (expected \"%s\")",
                          path, ln, exp);
    if (!self->s.portfolio) {
        if (nc != 2 || !(s_is(&c[1], "position") || s_is(&c[1], "level")))
            return xt_err_set(err, XT_EPARSE, "%s:%d: header: expected \"%s\" (got %d column%s)", path, ln, exp, nc,
                              nc == 1 ? "" : "s");
        self->by_index = s_is(&c[1], "level");
        return 0;
    }
    int seen[XT_PF_W] = {0};
    for (int i = 1; i < nc; i++) {
        int a = -1;
        for (int k = 0; k < self->K && a < 0; k++)
            if (s_is(&c[i], self->m->symbol[k])) a = k;
        if (a < 0 && s_is(&c[i], "cash")) a = self->K;
        if (a < 0)
            return xt_err_set(err, XT_EPARSE,
                              "%s:%d: column %d: \"%s\" is not an asset of the portfolio (expected \"%s\")", path, ln,
                              i + 1, s_text(&c[i], buf), exp);
        if (seen[a])
            return xt_err_set(err, XT_EPARSE, "%s:%d: column %d: \"%s\" appears twice", path, ln, i + 1,
                              s_text(&c[i], buf));
        seen[a] = 1;
        self->col[i - 1] = a;
    }
    for (int a = 0; a <= self->K; a++)
        if (!seen[a])
            return xt_err_set(err, XT_EPARSE, "%s:%d: header: no column for %s (expected \"%s\")", path, ln,
                              a < self->K ? self->m->symbol[a] : "cash", exp);
    return 0;
}

// ---- rows

// Step whose fill bar opens at ts (-1: none), by binary search over rows r0 + 1 .. last.
static int64_t s_step_of(const xt_replay *self, int64_t ts) {
    int64_t lo = self->r0 + 1, hi = self->last + 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (self->m->ts[mid] < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo <= self->last && self->m->ts[lo] == ts ? lo - self->r0 - 1 : -1;
}

// Why ts names no step: outside the steps, the window's opening bar, or between bars.
static int s_not_a_step(const xt_replay *self, const char *path, int ln, int64_t ts, xt_err *err) {
    const int64_t *T = self->m->ts;
    char a[32], b[32], c[32];
    xt_time_format(ts, a);
    xt_time_format(T[self->r0 + 1], b);
    xt_time_format(T[self->last], c);
    if (ts == T[self->r0])
        return xt_err_set(err, XT_ERANGE,
                          "%s:%d: column 1 (timestamp): %s is the %s's first usable bar, which only opens the "
                          "episode; its first step fills at %s",
                          path, ln, a, self->what, b);
    if (ts < T[self->r0 + 1] || ts > T[self->last])
        return xt_err_set(err, XT_ERANGE,
                          "%s:%d: column 1 (timestamp): %s is outside the %s, whose steps fill at %s .. %s", path, ln,
                          a, self->what, b, c);
    return xt_err_set(err, XT_ERANGE,
                      "%s:%d: column 1 (timestamp): no bar of the %s opens at %s (not on the bar grid, or the market "
                      "has no bar then)",
                      path, ln, self->what, a);
}

// Asset env target of one line -> level index.
static int s_asset_row(xt_replay *self, const char *path, int ln, const s_cell *c, int32_t *out, xt_err *err) {
    char buf[S_CELL_MAX];
    const char *name = self->by_index ? "level" : "position";
    double v;
    if (s_number(c, &v))
        return xt_err_set(err, XT_EPARSE, "%s:%d: column 2 (%s): cannot parse \"%s\" as a number", path, ln, name,
                          s_text(c, buf));
    if (self->by_index) {
        if (v != floor(v) || v < 0 || v >= self->nl)
            return xt_err_set(err, XT_ERANGE, "%s:%d: column 2 (level): %s is not a level index (0..%d)", path, ln,
                              s_text(c, buf), self->nl - 1);
        *out = (int32_t)v;
        return 0;
    }
    for (int j = 0; j < self->nl; j++)
        if (fabs(v - self->lv[j]) <= XT_REPLAY_LEVEL_TOL) {
            *out = j;
            return 0;
        }
    char lv[256];
    size_t o = 0;
    for (int j = 0; j < self->nl && o < sizeof lv; j++)
        o += (size_t)snprintf(lv + o, sizeof lv - o, "%s%g", j ? ", " : "", self->lv[j]);
    return xt_err_set(err, XT_ERANGE, "%s:%d: column 2 (position): %s is not one of the configured levels (%s)", path,
                      ln, s_text(c, buf), lv);
}

// Portfolio target of one line -> K + 1 weights in market order.
static int s_portfolio_row(xt_replay *self, const char *path, int ln, const s_cell *c, int nc, double *w, xt_err *err) {
    char buf[S_CELL_MAX];
    double sum = 0.0;
    for (int i = 1; i < nc; i++) {
        int a = self->col[i - 1];
        const char *name = a < self->K ? self->m->symbol[a] : "cash";
        double v;
        if (s_number(&c[i], &v))
            return xt_err_set(err, XT_EPARSE, "%s:%d: column %d (%s): cannot parse \"%s\" as a weight", path, ln, i + 1,
                              name, s_text(&c[i], buf));
        if (v < 0.0)
            return xt_err_set(err, XT_ERANGE,
                              "%s:%d: column %d (%s): negative weight %s (weights are fractions of equity, >= 0)", path,
                              ln, i + 1, name, s_text(&c[i], buf));
        w[a] = v, sum += v;
    }
    if (fabs(sum - 1.0) > XT_REPLAY_SUM_TOL)
        return xt_err_set(err, XT_ERANGE, "%s:%d: weights sum to %.10g, not 1 (tolerance %g)", path, ln, sum,
                          XT_REPLAY_SUM_TOL);
    return 0;
}

// ---- parse

int xt_replay_parse(xt_replay *self, const char *path, const char *text, size_t len, xt_err *err) {
    memset(self->line, 0, (size_t)self->steps * sizeof(int32_t));
    self->lines = 0;
    s_cell c[XT_PF_W + 2];
    const int cap = XT_PF_W + 2;
    int header = 0, ncol = 0, prev_ln = 0;
    int64_t prev_ts = 0;
    char exp[600];
    size_t i = 0;
    for (int ln = 1; i < len; ln++) {
        size_t b = i;
        while (i < len && text[i] != '\n') i++;
        size_t e = i++;
        if (e > b && text[e - 1] == '\r') e--;
        size_t k = b;
        while (k < e && isspace((unsigned char)text[k])) k++;
        if (k == e) continue; // blank line
        int nc = s_split(text + b, e - b, c, cap);
        int rc;
        if (!header) {
            if (nc > cap)
                return xt_err_set(err, XT_EPARSE, "%s:%d: header: %d columns (expected \"%s\")", path, ln, nc,
                                  s_expected(self, exp, sizeof exp));
            if ((rc = s_header(self, path, ln, c, nc, err))) return rc;
            header = 1, ncol = nc;
            continue;
        }
        if (nc != ncol)
            return xt_err_set(err, XT_EPARSE, "%s:%d: %d column%s, the header has %d", path, ln, nc, nc == 1 ? "" : "s",
                              ncol);
        int64_t ts;
        char buf[S_CELL_MAX], t0[32], t1[32];
        if (s_timestamp(&c[0], &ts))
            return xt_err_set(
                err, XT_EPARSE,
                "%s:%d: column 1 (timestamp): cannot parse \"%s\" (expected ISO 8601 UTC or Unix seconds)", path, ln,
                s_text(&c[0], buf));
        if (prev_ln && ts <= prev_ts)
            return xt_err_set(err, XT_EPARSE,
                              "%s:%d: column 1 (timestamp): %s is not after line %d's %s (timestamps must increase)",
                              path, ln, xt_time_format(ts, t0), prev_ln, xt_time_format(prev_ts, t1));
        int64_t j = s_step_of(self, ts);
        if (j < 0) return s_not_a_step(self, path, ln, ts, err);
        rc = self->s.portfolio ? s_portfolio_row(self, path, ln, c, nc, self->w + (size_t)j * (size_t)self->width, err)
                               : s_asset_row(self, path, ln, &c[1], &self->level[j], err);
        if (rc) return rc;
        self->line[j] = ln;
        self->lines++;
        prev_ts = ts, prev_ln = ln;
    }
    if (!header)
        return xt_err_set(err, XT_EPARSE, "%s: empty file (expected the header line \"%s\")", path,
                          s_expected(self, exp, sizeof exp));
    // A step without a line keeps the previous target; flat / all cash before the first.
    for (int64_t j = 0; j < self->steps; j++) {
        if (self->line[j]) continue;
        if (self->s.portfolio) {
            double *w = self->w + (size_t)j * (size_t)self->width;
            if (j > 0)
                memcpy(w, w - self->width, (size_t)self->width * sizeof(double));
            else
                memset(w, 0, (size_t)self->width * sizeof(double)), w[self->K] = 1.0;
        } else {
            self->level[j] = j > 0 ? self->level[j - 1] : self->flat;
        }
        self->line[j] = j > 0 ? self->line[j - 1] : 0;
    }
    return 0;
}

int xt_replay_load(xt_replay *self, const char *path, xt_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = xt_file_read_all(path, S_MAX_FILE, &text, &len, err);
    if (rc == 0) rc = xt_replay_parse(self, path, text, len, err);
    free(text);
    return rc;
}

// ---- run

// ",value" or "," for NaN (no such fill).
static void s_num(FILE *f, double v) {
    if (isnan(v))
        fputc(',', f);
    else
        fprintf(f, ",%.10g", v);
}

static void s_csv_header(const xt_replay *self, FILE *f) {
    if (!self->s.portfolio) {
        fprintf(f, "timestamp,action,position,units,fill_price,stop_price,liq_price,fee,slippage,equity,reward,"
                   "terminated,truncated,reason,masked,skipped,line\n");
        return;
    }
    static const char *pre[] = {"req_", "w_"};
    fprintf(f, "timestamp");
    for (int g = 0; g < 2; g++) {
        for (int a = 0; a < self->K; a++) fprintf(f, ",%s%s", pre[g], self->m->symbol[a]);
        fprintf(f, ",%scash", pre[g]);
    }
    for (int a = 0; a < self->K; a++) fprintf(f, ",fill_%s", self->m->symbol[a]);
    for (int a = 0; a < self->K; a++) fprintf(f, ",stop_%s", self->m->symbol[a]);
    fprintf(f, ",fee,slippage,equity,reward,terminated,truncated,reason,line\n");
}

static void s_row_asset(const xt_replay *self, FILE *f, int64_t j, const xt_asset_info *in) {
    char ts[32];
    fprintf(f, "%s", xt_time_format(in->ts, ts));
    s_num(f, self->lv[self->level[j]]);
    s_num(f, in->units != 0.0 ? in->position : 0.0); // flat after a stop or liquidation
    s_num(f, in->units);
    s_num(f, in->fill_price);
    s_num(f, in->stop_price);
    s_num(f, in->liq_price);
    s_num(f, in->fee);
    s_num(f, in->slippage);
    s_num(f, in->equity);
    s_num(f, in->reward);
    fprintf(f, ",%d,%d,%s,%d,%d,%d\n", in->terminated, in->truncated, xt_env_reason_name(in->reason), in->invalid,
            in->skipped, self->line[j]);
}

static void s_row_portfolio(const xt_replay *self, FILE *f, int64_t j, const xt_portfolio_info *in) {
    char ts[32];
    const double *req = xt_replay_weights(self, j);
    fprintf(f, "%s", xt_time_format(in->ts, ts));
    for (int a = 0; a <= self->K; a++) s_num(f, req[a]);
    for (int a = 0; a <= self->K; a++) s_num(f, in->w_exec[a]);
    for (int a = 0; a < self->K; a++) s_num(f, in->fill_price[a]);
    for (int a = 0; a < self->K; a++) s_num(f, in->stop_price[a]);
    s_num(f, in->fee);
    s_num(f, in->slippage);
    s_num(f, in->equity);
    s_num(f, in->reward);
    fprintf(f, ",%d,%d,%s,%d\n", in->terminated, in->truncated, xt_env_reason_name(in->reason), self->line[j]);
}

int xt_replay_run(xt_replay *self, const char *out_path, xt_replay_result *res, xt_err *err) {
    memset(res, 0, sizeof *res);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return xt_err_set(err, XT_ENOMEM, "replay: out of memory");
    s_csv_header(self, f);
    float rew = 0.0f;
    uint8_t term = 0, trunc = 0;
    xt_env_io io = {self->obs, &rew, &term, &trunc, self->mask, NULL};
    xt_asset_info ai;
    xt_portfolio_info pi;
    int64_t before;
    if (self->s.portfolio) {
        before = xt_portfolio_env_episodes(self->penv, 0);
        xt_portfolio_env_reset(self->penv, self->obs, self->mask);
    } else {
        before = xt_asset_env_episodes(self->aenv, 0);
        xt_asset_env_reset(self->aenv, self->obs, self->mask);
    }
    // One eval episode: it ends by truncation at the window's last bar, or earlier by a terminal rule.
    for (int64_t j = 0; j < self->steps; j++) {
        if (self->s.portfolio) {
            xt_portfolio_env_step_weights(self->penv, xt_replay_weights(self, j), &io, &pi);
            s_row_portfolio(self, f, j, &pi);
            res->reason = pi.reason, res->last_ts = pi.ts;
        } else {
            xt_asset_env_step(self->aenv, &self->level[j], &io, &ai);
            s_row_asset(self, f, j, &ai);
            res->reason = ai.reason, res->last_ts = ai.ts;
        }
        res->steps = j + 1;
        if (term | trunc) break;
    }
    fclose(f);
    int64_t after = self->s.portfolio ? xt_portfolio_env_episodes(self->penv, 0) : xt_asset_env_episodes(self->aenv, 0);
    int rc = 0;
    if (!text)
        rc = xt_err_set(err, XT_ENOMEM, "replay: out of memory for the output of %lld steps", (long long)res->steps);
    else if (after != before + 1)
        rc = xt_err_set(err, XT_ESTATE, "replay: the %s's episode did not end after %lld steps", self->what,
                        (long long)res->steps);
    if (rc == 0) {
        res->metrics = self->s.portfolio ? *xt_portfolio_env_episode_metrics(self->penv, 0)
                                         : *xt_asset_env_episode_metrics(self->aenv, 0);
        rc = xt_file_write_atomic(out_path, text, len, err);
    }
    free(text);
    return rc;
}
