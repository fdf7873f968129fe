// run.c - run state as an event log: encode a record, journal it, apply it.
//
// Invariants: the in-memory state equals the replay of the journal's
// records; s_apply is the only function that changes it, for live changes
// and replay alike, and it validates every record (so a damaged or foreign
// journal is refused rather than half-applied). Payloads are little-endian
// fields written by s_wr_* and read back by bounds-checked s_rd_*.
// Ownership: the run owns the journal and the per-fold result arrays; the
// plan is borrowed. Thread: the broker's loop thread only.
#include "run.h"

#include "core/journal.h"
#include "core/log.h"
#include "core/xtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_REC_MAX (XT_RUN_PATH_MAX + XT_WIRE_EVAL_N * 8 + 64)

struct xt_run {
    const xt_plan *plan;
    xt_journal *journal;
    int started;             // START seen
    int fold;                // current fold (n_folds when all are done)
    int report_written, done;
    char report_dir[XT_RUN_PATH_MAX];
    xt_run_fold_info folds[XT_MAX_FOLDS];
    char path[XT_RUN_PATH_MAX];
};

// ---------------------------------------------------------------- payloads

typedef struct {
    uint8_t b[S_REC_MAX];
    size_t n;
} s_wr;

static void s_wr_bytes(s_wr *w, const void *p, size_t n) {
    // Callers stay far below S_REC_MAX (paths are bounded by XT_RUN_PATH_MAX).
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void s_wr_u64(s_wr *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    s_wr_bytes(w, b, 8);
}
static void s_wr_u32(s_wr *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    s_wr_bytes(w, b, 4);
}
static void s_wr_f64(s_wr *w, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    s_wr_u64(w, u);
}
static void s_wr_str(s_wr *w, const char *s) {
    size_t n = strlen(s);
    if (n >= XT_RUN_PATH_MAX) n = XT_RUN_PATH_MAX - 1;
    s_wr_u32(w, (uint32_t)n);
    s_wr_bytes(w, s, n);
}

typedef struct {
    const uint8_t *p;
    size_t n, off;
    int bad; // read past the end
} s_rd;

static const uint8_t *s_rd_take(s_rd *r, size_t n) {
    if (r->bad || r->n - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}
static uint64_t s_rd_u64(s_rd *r) {
    const uint8_t *p = s_rd_take(r, 8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint32_t s_rd_u32(s_rd *r) {
    const uint8_t *p = s_rd_take(r, 4);
    uint32_t v = 0;
    for (int i = 0; p && i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static double s_rd_f64(s_rd *r) {
    uint64_t u = s_rd_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}
static void s_rd_str(s_rd *r, char *out, size_t cap) {
    uint32_t n = s_rd_u32(r);
    if (n >= cap) r->bad = 1;
    const uint8_t *p = r->bad ? NULL : s_rd_take(r, n);
    if (!p) {
        out[0] = '\0';
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

// ---------------------------------------------------------------- apply

static const char *s_rec_name(int type) {
    static const char *n[] = {"?", "start", "phase", "checkpoint", "eval", "fold-done", "report", "done"};
    return type >= 1 && type <= XT_RUN_REC_DONE ? n[type] : "unknown";
}

// Validates one record against the state and, unless dry, applies it.
// where: "record at offset N" for replay messages.
static int s_apply(xt_run *r, uint8_t type, const void *payload, uint32_t len, const char *where, int dry,
                   xt_err *err) {
    const xt_plan *p = r->plan;
    s_rd rd = {payload, len, 0, 0};
    if (type != XT_RUN_REC_START && !r->started)
        return xt_err_set(err, XT_EPARSE, "%s: %s: %s record before the run's start record", r->path, where,
                          s_rec_name(type));
    // Every record but START/REPORT/DONE names the current fold.
    uint32_t fold = 0;
    if (type == XT_RUN_REC_PHASE || type == XT_RUN_REC_CKPT || type == XT_RUN_REC_EVAL ||
        type == XT_RUN_REC_FOLD_DONE) {
        fold = s_rd_u32(&rd);
        if (!rd.bad && (int)fold != r->fold)
            return xt_err_set(err, XT_EPARSE, "%s: %s: %s record for fold %u but the current fold is %d", r->path,
                              where, s_rec_name(type), fold, r->fold);
    }
    xt_run_fold_info *f = r->fold < p->n_folds ? &r->folds[r->fold] : NULL;
    switch (type) {
    case XT_RUN_REC_START: {
        uint64_t hash = s_rd_u64(&rd);
        uint32_t nf = s_rd_u32(&rd), ns = s_rd_u32(&rd);
        char id[XT_CFG_STR_MAX];
        s_rd_str(&rd, id, sizeof id);
        if (rd.bad) break;
        if (r->started)
            return xt_err_set(err, XT_EPARSE, "%s: %s: a second start record", r->path, where);
        if (hash != p->hash || (int)nf != p->n_folds || (int)ns != p->n_shards || strcmp(id, p->run_id) != 0)
            return xt_err_set(err, XT_EINVAL,
                              "%s: run \"%s\" was started with a different plan (%u folds x %u shards, plan hash "
                              "%016llx; now %d x %d, %016llx): run.id, run.seed, data.symbols, data.timeframes, "
                              "env.kind, folds.* or ppo.total_steps changed; restore the run's config.yaml or use a "
                              "new run.id",
                              r->path, id, nf, ns, (unsigned long long)hash, p->n_folds, p->n_shards,
                              (unsigned long long)p->hash);
        if (dry) return 0;
        r->started = 1;
        return 0;
    }
    case XT_RUN_REC_PHASE: {
        uint32_t ph = s_rd_u32(&rd);
        if (rd.bad) break;
        if (!f || (ph != XT_WIRE_PHASE_TRAIN && ph != XT_WIRE_PHASE_CHECKPOINT && ph != XT_WIRE_PHASE_EVAL))
            return xt_err_set(err, XT_EPARSE, "%s: %s: phase %u is not train, checkpoint or eval of an open fold",
                              r->path, where, ph);
        if (dry) return 0;
        f->phase = (xt_wire_phase)ph;
        return 0;
    }
    case XT_RUN_REC_CKPT: {
        uint64_t step = s_rd_u64(&rd), ver = s_rd_u64(&rd);
        double val = s_rd_f64(&rd);
        char path[XT_RUN_PATH_MAX];
        s_rd_str(&rd, path, sizeof path);
        if (rd.bad) break;
        if (!f || f->phase == XT_WIRE_PHASE_EVAL || f->phase == XT_WIRE_PHASE_NONE)
            return xt_err_set(err, XT_EPARSE, "%s: %s: checkpoint outside the fold's train/checkpoint phases",
                              r->path, where);
        if (dry) return 0;
        f->has_ckpt = 1;
        f->ckpt_final = step >= p->step_budget;
        f->ckpt_step = step, f->ckpt_version = ver, f->ckpt_val_sharpe = val;
        f->ckpt_wall = 0;
        snprintf(f->ckpt_path, sizeof f->ckpt_path, "%s", path);
        return 0;
    }
    case XT_RUN_REC_EVAL: {
        uint32_t s = s_rd_u32(&rd);
        double m[XT_WIRE_EVAL_N];
        for (int i = 0; i < XT_WIRE_EVAL_N; i++) m[i] = s_rd_f64(&rd);
        char path[XT_RUN_PATH_MAX];
        s_rd_str(&rd, path, sizeof path);
        if (rd.bad) break;
        if (!f || f->phase != XT_WIRE_PHASE_EVAL || s >= (uint32_t)p->n_shards || f->evals[s].have)
            return xt_err_set(err, XT_EPARSE, "%s: %s: eval result for shard %u is not expected in fold %u",
                              r->path, where, s, fold);
        if (dry) return 0;
        xt_run_result *e = &f->evals[s];
        e->have = 1;
        memcpy(e->metrics, m, sizeof m);
        snprintf(e->csv_path, sizeof e->csv_path, "%s", path);
        f->n_evals++;
        return 0;
    }
    case XT_RUN_REC_FOLD_DONE:
        if (rd.bad) break;
        if (!f || f->phase != XT_WIRE_PHASE_EVAL || f->n_evals != p->n_shards)
            return xt_err_set(err, XT_EPARSE, "%s: %s: fold %u closed before every shard was evaluated", r->path,
                              where, fold);
        if (dry) return 0;
        f->phase = XT_WIRE_PHASE_DONE;
        r->fold++;
        // The next fold starts training at once: one record, so a crash
        // cannot leave the run between folds.
        if (r->fold < p->n_folds) r->folds[r->fold].phase = XT_WIRE_PHASE_TRAIN;
        return 0;
    case XT_RUN_REC_REPORT: {
        char dir[XT_RUN_PATH_MAX];
        s_rd_str(&rd, dir, sizeof dir);
        if (rd.bad) break;
        if (r->fold < p->n_folds)
            return xt_err_set(err, XT_EPARSE, "%s: %s: report record before the last fold finished", r->path,
                              where);
        if (dry) return 0;
        snprintf(r->report_dir, sizeof r->report_dir, "%s", dir);
        r->report_written = 1;
        return 0;
    }
    case XT_RUN_REC_DONE:
        if (r->fold < p->n_folds)
            return xt_err_set(err, XT_EPARSE, "%s: %s: done record before the last fold finished", r->path, where);
        if (dry) return 0;
        r->done = 1;
        return 0;
    default:
        return xt_err_set(err, XT_EPARSE, "%s: %s: unknown record type %u", r->path, where, type);
    }
    return xt_err_set(err, XT_EPARSE, "%s: %s: %s record of %u bytes is too short", r->path, where,
                      s_rec_name(type), len);
}

static int s_replay(void *user, uint8_t type, const void *payload, uint32_t len, uint64_t offset, xt_err *err) {
    char where[48];
    snprintf(where, sizeof where, "record at offset %llu", (unsigned long long)offset);
    return s_apply(user, type, payload, len, where, 0, err);
}

// Validates a record, journals it, then applies it: the journal never holds
// a record its own replay would refuse, and memory never runs ahead of disk.
static int s_commit(xt_run *r, uint8_t type, const s_wr *w, xt_err *err) {
    int rc = s_apply(r, type, w->b, (uint32_t)w->n, "new record", 1, err);
    if (rc == 0) rc = xt_journal_append(r->journal, type, w->b, (uint32_t)w->n, err);
    if (rc == 0) rc = s_apply(r, type, w->b, (uint32_t)w->n, "new record", 0, err);
    return rc;
}

// ---------------------------------------------------------------- open

xt_run *xt_run_open(const xt_plan *plan, const char *path, xt_run_info *info, xt_err *err) {
    xt_run *r = calloc(1, sizeof *r);
    if (!r) {
        xt_err_set(err, XT_ENOMEM, "%s: out of memory for the run state", path);
        return NULL;
    }
    r->plan = plan;
    snprintf(r->path, sizeof r->path, "%s", path);
    for (int f = 0; f < plan->n_folds; f++) {
        r->folds[f].evals = calloc((size_t)plan->n_shards, sizeof(xt_run_result));
        if (!r->folds[f].evals) {
            xt_err_set(err, XT_ENOMEM, "%s: out of memory for the eval results", path);
            xt_run_destroy(&r);
            return NULL;
        }
    }
    xt_journal_info ji;
    r->journal = xt_journal_open(path, S_REC_MAX, s_replay, r, &ji, err);
    if (!r->journal) {
        xt_run_destroy(&r);
        return NULL;
    }
    if (info) *info = (xt_run_info){ji.records, r->started, ji.truncated};
    if (!r->started) {
        s_wr w = {.n = 0};
        s_wr_u64(&w, plan->hash);
        s_wr_u32(&w, (uint32_t)plan->n_folds);
        s_wr_u32(&w, (uint32_t)plan->n_shards);
        s_wr_str(&w, plan->run_id);
        if (s_commit(r, XT_RUN_REC_START, &w, err) || xt_run_set_phase(r, XT_WIRE_PHASE_TRAIN, err)) {
            xt_run_destroy(&r);
            return NULL;
        }
    }
    return r;
}

void xt_run_destroy(xt_run **self_p) {
    if (!self_p || !*self_p) return;
    xt_run *r = *self_p;
    xt_journal_destroy(&r->journal);
    for (int f = 0; f < XT_MAX_FOLDS; f++) free(r->folds[f].evals);
    free(r);
    *self_p = NULL;
}

// ---------------------------------------------------------------- state

int xt_run_fold(const xt_run *r) { return r->fold; }

xt_wire_phase xt_run_phase(const xt_run *r) {
    return r->fold < r->plan->n_folds ? r->folds[r->fold].phase : XT_WIRE_PHASE_DONE;
}

int xt_run_finished(const xt_run *r) { return r->done; }
int xt_run_report_written(const xt_run *r) { return r->report_written; }
const xt_plan *xt_run_plan(const xt_run *r) { return r->plan; }

const xt_run_fold_info *xt_run_fold_state(const xt_run *r, int fold) {
    return fold >= 0 && fold < r->plan->n_folds ? &r->folds[fold] : NULL;
}

void xt_run_summary_of(const xt_run *r, int fold, xt_run_summary *out) {
    memset(out, 0, sizeof *out);
    const xt_run_fold_info *f = xt_run_fold_state(r, fold);
    double sum_r = 0, sum_s = 0, sum_b = 0;
    int nr = 0, ns = 0, nb = 0;
    out->worst_drawdown = NAN;
    for (int s = 0; f && s < r->plan->n_shards; s++) {
        const xt_run_result *e = &f->evals[s];
        if (!e->have) continue;
        out->n++;
        double ret = e->metrics[XT_WIRE_EVAL_TOTAL_RETURN], sh = e->metrics[XT_WIRE_EVAL_SHARPE];
        double bh = e->metrics[XT_WIRE_EVAL_BUY_HOLD_RETURN], dd = e->metrics[XT_WIRE_EVAL_MAX_DRAWDOWN];
        if (isfinite(ret)) sum_r += ret, nr++, out->profitable += ret > 0;
        if (isfinite(sh)) sum_s += sh, ns++;
        if (isfinite(bh)) sum_b += bh, nb++;
        if (isfinite(dd) && !(dd <= out->worst_drawdown)) out->worst_drawdown = dd;
    }
    out->mean_return = nr ? sum_r / nr : NAN;
    out->mean_sharpe = ns ? sum_s / ns : NAN;
    out->mean_buy_hold = nb ? sum_b / nb : NAN;
}

// ---------------------------------------------------------------- changes

static int s_open_fold(const xt_run *r, const char *what, xt_err *err) {
    if (r->fold >= r->plan->n_folds)
        return xt_err_set(err, XT_ESTATE, "%s: %s after the last fold finished", r->path, what);
    return 0;
}

int xt_run_set_phase(xt_run *r, xt_wire_phase phase, xt_err *err) {
    int rc = s_open_fold(r, "phase change", err);
    if (rc) return rc;
    if (r->folds[r->fold].phase == phase) return 0;
    s_wr w = {.n = 0};
    s_wr_u32(&w, (uint32_t)r->fold);
    s_wr_u32(&w, (uint32_t)phase);
    return s_commit(r, XT_RUN_REC_PHASE, &w, err);
}

int xt_run_checkpoint(xt_run *r, uint64_t step, uint64_t version, double val_sharpe, const char *path,
                      xt_err *err) {
    int rc = s_open_fold(r, "checkpoint", err);
    if (rc) return rc;
    s_wr w = {.n = 0};
    s_wr_u32(&w, (uint32_t)r->fold);
    s_wr_u64(&w, step);
    s_wr_u64(&w, version);
    s_wr_f64(&w, val_sharpe);
    s_wr_str(&w, path);
    rc = s_commit(r, XT_RUN_REC_CKPT, &w, err);
    if (rc == 0) r->folds[r->fold].ckpt_wall = xt_time_wall();
    return rc;
}

int xt_run_eval(xt_run *r, int shard, const double *metrics, const char *csv_path, xt_err *err) {
    int rc = s_open_fold(r, "eval result", err);
    if (rc) return rc;
    if (shard < 0 || shard >= r->plan->n_shards)
        return xt_err_set(err, XT_EINVAL, "%s: eval result for shard %d of %d", r->path, shard, r->plan->n_shards);
    if (r->folds[r->fold].evals[shard].have) return 1;
    s_wr w = {.n = 0};
    s_wr_u32(&w, (uint32_t)r->fold);
    s_wr_u32(&w, (uint32_t)shard);
    for (int i = 0; i < XT_WIRE_EVAL_N; i++) s_wr_f64(&w, metrics[i]);
    s_wr_str(&w, csv_path ? csv_path : "");
    return s_commit(r, XT_RUN_REC_EVAL, &w, err);
}

int xt_run_fold_done(xt_run *r, xt_err *err) {
    int rc = s_open_fold(r, "fold end", err);
    if (rc) return rc;
    s_wr w = {.n = 0};
    s_wr_u32(&w, (uint32_t)r->fold);
    return s_commit(r, XT_RUN_REC_FOLD_DONE, &w, err);
}

int xt_run_report(xt_run *r, const char *dir, xt_err *err) {
    s_wr w = {.n = 0};
    s_wr_str(&w, dir);
    return s_commit(r, XT_RUN_REC_REPORT, &w, err);
}

int xt_run_done(xt_run *r, xt_err *err) {
    if (r->done) return 0;
    s_wr w = {.n = 0};
    return s_commit(r, XT_RUN_REC_DONE, &w, err);
}
