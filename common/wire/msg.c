// msg.c - validation of wire messages (C views), names, limits.
//
// Invariants: a message accepted by xt_wire_msg_check has every dimension
// within its limit, every bulk pointer non-NULL exactly when its dimensions
// and options say it has data, flags in {0,1}, categorical actions in [0, A),
// shard folds equal to the message's fold, and finite floats where the limits
// ask for them. The protobuf mapping lives in msg_pb.c.
// Ownership: nothing here allocates. Stateless; any thread.
#include "msg_pb.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------- names

static const char *const s_type_names[] = {"(none)",
#define XT_X(e, name) #name,
                                           XT_WIRE_TYPES(XT_X)
#undef XT_X
};
static const char *const s_role_names[] = {"none", "broker", "learner", "actor", "cli"};
static const char *const s_phase_names[] = {"none", "train", "checkpoint", "eval", "done", "stop"};
static const char *const s_state_names[] = {"none",    "idle",       "running",
                                            "waiting", "evaluating", "stopping"};
static const char *const s_reject_names[] = {
#define XT_X(e, name) #name,
    XT_WIRE_REJECTS(XT_X)
#undef XT_X
};
static const char *const s_eval_names[] = {
#define XT_X(e, name) #name,
    XT_WIRE_EVAL_METRICS(XT_X)
#undef XT_X
};

static const char *s_name(const char *const *t, int n, int i) {
    return i >= 0 && i < n ? t[i] : "(unknown)";
}
const char *xt_wire_type_name(int type) { return s_name(s_type_names, XT_WIRE_TYPE_N, type); }
const char *xt_wire_role_name(int role) { return s_name(s_role_names, XT_WIRE_ROLE_N, role); }
const char *xt_wire_phase_name(int phase) { return s_name(s_phase_names, XT_WIRE_PHASE_N, phase); }
const char *xt_wire_state_name(int state) { return s_name(s_state_names, XT_WIRE_STATE_N, state); }
const char *xt_wire_reject_name(int r) { return s_name(s_reject_names, XT_WIRE_REJ_N, r); }
const char *xt_wire_eval_metric_name(int i) { return s_name(s_eval_names, XT_WIRE_EVAL_N, i); }

// ---------------------------------------------------------------- limits

void xt_wire_limits_default(xt_wire_limits *lim) {
    *lim = (xt_wire_limits){
        .max_frame_bytes = (size_t)64 << 20,
        .max_t = 1024,
        .max_obs_dim = 4096,
        .max_actions = 256,
        .max_lstm_layers = 8,
        .max_lstm_hidden = 4096,
        .max_params = (uint64_t)8 << 20,
        .max_shards = 4096,
        .max_workers = 1024,
        .finite = XT_WIRE_FINITE_ALL,
    };
}

int xt_wire_limits_check(const xt_wire_limits *lim, xt_err *err) {
    // Upper bounds keep every product of dimensions far from overflow and
    // every buffer sized from a limit allocatable.
    struct {
        const char *name;
        uint64_t v, max;
    } t[] = {
        {"max_frame_bytes", lim->max_frame_bytes, (uint64_t)1 << 31},
        {"max_t", lim->max_t, 1u << 16},
        {"max_obs_dim", lim->max_obs_dim, 1u << 20},
        {"max_actions", lim->max_actions, 1u << 16},
        {"max_lstm_layers", lim->max_lstm_layers, 64},
        {"max_lstm_hidden", lim->max_lstm_hidden, 1u << 16},
        {"max_params", lim->max_params, (uint64_t)1 << 29},
        {"max_shards", lim->max_shards, 1u << 20},
        {"max_workers", lim->max_workers, 1u << 20},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].v < 1 || t[i].v > t[i].max)
            return xt_err_set(err, XT_ERANGE,
                              "wire limits: %s: must be between 1 and %llu (got %llu)", t[i].name,
                              (unsigned long long)t[i].max, (unsigned long long)t[i].v);
    if (lim->finite & ~(unsigned)XT_WIRE_FINITE_ALL)
        return xt_err_set(err, XT_ERANGE, "wire limits: finite: unknown bits 0x%x",
                          lim->finite & ~(unsigned)XT_WIRE_FINITE_ALL);
    return 0;
}

// ---------------------------------------------------------------- check helpers

int xt_wire_fail(xt_wire_reject *reason, xt_wire_reject why, xt_err *err, const char *fmt, ...) {
    int code = why == XT_WIRE_REJ_NONFINITE                              ? XT_ENUMERIC
               : why == XT_WIRE_REJ_OVERSIZE || why == XT_WIRE_REJ_SHAPE ? XT_ERANGE
                                                                         : XT_EPROTO;
    if (reason) *reason = why;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

enum { S_ID, S_PATH }; // string classes

// An id is printable ASCII without spaces (< XT_WIRE_ID_MAX bytes); a path or
// endpoint is any bytes but control characters (< XT_WIRE_PATH_MAX). NULL is "".
static int s_str(const char *s, int cls, int required, xt_wire_reject *reason, xt_err *err,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int s_str(const char *s, int cls, int required, xt_wire_reject *reason, xt_err *err,
                 const char *fmt, ...) {
    size_t max = cls == S_ID ? XT_WIRE_ID_MAX - 1 : XT_WIRE_PATH_MAX - 1;
    size_t n = s ? strnlen(s, max + 1) : 0;
    const char *what = NULL;
    size_t bad = 0;
    if (required && n == 0)
        what = "must not be empty";
    else if (n > max)
        what = "is too long";
    for (size_t i = 0; !what && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (cls == S_ID ? (c < 0x21 || c > 0x7e) : (c < 0x20 || c == 0x7f))
            what = "has a forbidden character", bad = i;
    }
    if (!what) return 0;
    char field[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(field, sizeof field, fmt, ap);
    va_end(ap);
    if (n > max)
        return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s: %s (more than %zu bytes)", field,
                            what, max);
    if (n == 0) return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s: %s", field, what);
    return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s: %s (byte 0x%02x at offset %zu)", field,
                        what, (unsigned char)s[bad], bad);
}

// Enum value in [lo, n).
static int s_enum(int v, int lo, int n, const char *const *names, const char *field,
                  xt_wire_reject *reason, xt_err *err) {
    if (v >= lo && v < n) return 0;
    char allowed[160];
    size_t o = 0;
    for (int i = lo; i < n && o < sizeof allowed; i++)
        o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s=%d", i > lo ? ", " : "",
                              names[i], i);
    return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s: %d is not one of %s", field, v,
                        allowed);
}

// Index of the first non-finite value in x[0..n), or -1. The first pass is
// branch-free (exponent bits all ones = inf or NaN) so it vectorizes.
static ptrdiff_t s_first_nonfinite(const float *x, size_t n) {
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    if (!bad) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (ptrdiff_t)i;
    return -1;
}

// x is [rows][cols] (cols = 1 for vectors); names the element at fault.
static int s_finite(const float *x, size_t rows, size_t cols, const char *field,
                    xt_wire_reject *reason, xt_err *err) {
    ptrdiff_t i = s_first_nonfinite(x, rows * cols);
    if (i < 0) return 0;
    if (cols == 1)
        return xt_wire_fail(reason, XT_WIRE_REJ_NONFINITE, err,
                            "%s[%td]: %g where a finite value is required", field, i, (double)x[i]);
    return xt_wire_fail(reason, XT_WIRE_REJ_NONFINITE, err,
                        "%s[%zu][%zu]: %g where a finite value is required", field,
                        (size_t)i / cols, (size_t)i % cols, (double)x[i]);
}

// Every byte of f[0..n) is 0 or 1.
static int s_flags(const uint8_t *f, size_t n, const char *field, xt_wire_reject *reason,
                   xt_err *err) {
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) bad |= f[i] > 1;
    if (!bad) return 0;
    size_t i = 0;
    while (f[i] <= 1) i++;
    return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s[%zu]: %u is not 0 or 1", field, i,
                        (unsigned)f[i]);
}

static int s_double(double v, double lo, double hi, const char *field, xt_wire_reject *reason,
                    xt_err *err) {
    if (!isfinite(v))
        return xt_wire_fail(reason, XT_WIRE_REJ_NONFINITE, err,
                            "%s: %g where a finite value is required", field, v);
    if (v < lo || v > hi)
        return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s: %g is not in [%g, %g]", field, v,
                            lo, hi);
    return 0;
}

static int s_port(uint32_t p, const char *field, xt_wire_reject *reason, xt_err *err) {
    if (p <= 65535) return 0;
    return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s: %u is not a TCP port (0-65535)", field,
                        p);
}

// Names an element of a repeated field: "Assignment.shards[3].key".
static const char *s_where(char buf[96], const char *msg, const char *list, uint32_t idx,
                           const char *leaf) {
    snprintf(buf, 96, "%s.%s[%u]%s", msg, list, idx, leaf);
    return buf;
}

static int s_key(const xt_wire_shard_key *k, uint32_t fold, const char *where,
                 xt_wire_reject *reason, xt_err *err) {
    int rc;
    if ((rc = s_str(k->symbol, S_ID, 0, reason, err, "%s.symbol", where)) ||
        (rc = s_str(k->portfolio, S_ID, 0, reason, err, "%s.portfolio", where)))
        return rc;
    int has_sym = k->symbol && k->symbol[0], has_pf = k->portfolio && k->portfolio[0];
    if (has_sym == has_pf)
        return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err,
                            "%s: needs exactly one of symbol or portfolio (got %s)", where,
                            has_sym ? "both" : "neither");
    if (k->tf_sec == 0)
        return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err, "%s.tf_sec: must be > 0", where);
    if (k->fold != fold)
        return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err,
                            "%s.fold: %u but the message is for fold %u", where, k->fold, fold);
    return 0;
}

static int s_shards(const xt_wire_shard *sh, uint32_t n, uint32_t fold, uint32_t max,
                    const char *msg, xt_wire_reject *reason, xt_err *err) {
    if (n > max)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "%s.shards: %u entries exceed the limit of %u", msg, n, max);
    if (n > 0 && !sh)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err, "%s.shards: %u entries but no array",
                            msg, n);
    char w[96];
    for (uint32_t i = 0; i < n; i++) {
        int rc = s_key(&sh[i].key, fold, s_where(w, msg, "shards", i, ".key"), reason, err);
        if (rc) return rc;
        if (sh[i].ts_begin >= sh[i].ts_end)
            return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err,
                                "%s.shards[%u]: ts_begin %lld is not before ts_end %lld", msg, i,
                                (long long)sh[i].ts_begin, (long long)sh[i].ts_end);
        if (sh[i].row_begin < 0 || sh[i].row_begin > sh[i].row_end)
            return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err,
                                "%s.shards[%u]: rows [%lld, %lld) are not a range of row indices",
                                msg, i, (long long)sh[i].row_begin, (long long)sh[i].row_end);
    }
    return 0;
}

// ---------------------------------------------------------------- per-message checks

static int s_check_register(const xt_wire_register *r, xt_wire_reject *reason, xt_err *err) {
    int rc;
    if ((rc = s_enum(r->role, 1, XT_WIRE_ROLE_N, s_role_names, "Register.role", reason, err)) ||
        (rc = s_str(r->host, S_ID, 1, reason, err, "Register.host")) ||
        (rc = s_str(r->build, S_ID, 0, reason, err, "Register.build")) ||
        (rc = s_port(r->http_port, "Register.http_port", reason, err)) ||
        (rc = s_port(r->chunk_port, "Register.chunk_port", reason, err)) ||
        (rc = s_port(r->weights_port, "Register.weights_port", reason, err)))
        return rc;
    return 0;
}

static int s_check_heartbeat(const xt_wire_heartbeat *h, xt_wire_reject *reason, xt_err *err) {
    int rc;
    if ((rc = s_enum(h->role, 1, XT_WIRE_ROLE_N, s_role_names, "Heartbeat.role", reason, err)) ||
        (rc =
             s_enum(h->state, 1, XT_WIRE_STATE_N, s_state_names, "Heartbeat.state", reason, err)) ||
        (rc = s_double(h->steps_per_s, 0, INFINITY, "Heartbeat.steps_per_s", reason, err)))
        return rc;
    return 0;
}

static int s_check_assignment(const xt_wire_assignment *a, const xt_wire_limits *lim,
                              xt_wire_reject *reason, xt_err *err) {
    int rc;
    if ((rc = s_enum(a->phase, 1, XT_WIRE_PHASE_N, s_phase_names, "Assignment.phase", reason,
                     err)) ||
        (rc = s_shards(a->shards, a->n_shards, a->fold, lim->max_shards, "Assignment", reason,
                       err)) ||
        (rc = s_str(a->chunk_endpoint, S_PATH, 0, reason, err, "Assignment.chunk_endpoint")) ||
        (rc = s_str(a->weights_endpoint, S_PATH, 0, reason, err, "Assignment.weights_endpoint")))
        return rc;
    return 0;
}

// Dimensions only: run before any byte length is derived from them.
int xt_wire_chunk_dims(const xt_wire_chunk *c, const xt_wire_limits *lim, xt_wire_reject *reason,
                       xt_err *err) {
    struct {
        const char *name;
        uint32_t v, lo, hi;
    } d[] = {
        {"t", c->t, 1, lim->max_t},
        {"obs_dim", c->obs_dim, 1, lim->max_obs_dim},
        {"n_actions", c->n_actions, 1, lim->max_actions},
        {"lstm_layers", c->lstm_layers, 0, lim->max_lstm_layers},
        {"lstm_hidden", c->lstm_hidden, 0, lim->max_lstm_hidden},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i].v < d[i].lo || d[i].v > d[i].hi)
            return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                                "RolloutChunk.%s: %u is not in [%u, %u]", d[i].name, d[i].v,
                                d[i].lo, d[i].hi);
    if ((c->lstm_layers == 0) != (c->lstm_hidden == 0))
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "RolloutChunk.lstm_layers: %u with lstm_hidden %u (both 0 or both > 0)",
                            c->lstm_layers, c->lstm_hidden);
    return s_enum(c->action_kind, 1, XT_WIRE_ACTION_N,
                  (const char *const[]){"none", "categorical", "continuous"},
                  "RolloutChunk.action_kind", reason, err);
}

// A required array must be present, an optional one may be NULL; name it if not.
static int s_present(const void *p, int required, const char *field, const char *why,
                     xt_wire_reject *reason, xt_err *err) {
    if ((p != NULL) == required) return 0;
    return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err, "RolloutChunk.%s: %s %s", field,
                        required ? "missing for" : "set for", why);
}

static int s_check_chunk(const xt_wire_chunk *c, const xt_wire_limits *lim, xt_wire_reject *reason,
                         xt_err *err) {
    int rc;
    if ((rc = s_key(&c->shard, c->shard.fold, "RolloutChunk.shard", reason, err)) ||
        (rc = xt_wire_chunk_dims(c, lim, reason, err)))
        return rc;
    size_t T = c->t, D = c->obs_dim, A = c->n_actions, LH = (size_t)c->lstm_layers * c->lstm_hidden;
    int cat = c->action_kind == XT_WIRE_ACTION_CATEGORICAL, rnn = LH > 0;
    int critic = c->critic_h != NULL;
    if ((rc = s_present(c->obs, 1, "obs", "every chunk", reason, err)) ||
        (rc = s_present(c->logp, 1, "logp", "every chunk", reason, err)) ||
        (rc = s_present(c->rewards, 1, "rewards", "every chunk", reason, err)) ||
        (rc = s_present(c->terminated, 1, "terminated", "every chunk", reason, err)) ||
        (rc = s_present(c->truncated, 1, "truncated", "every chunk", reason, err)) ||
        (rc = s_present(c->episode_start, 1, "episode_start", "every chunk", reason, err)) ||
        (rc = s_present(c->actions_cat, cat, "actions_cat",
                        cat ? "a categorical chunk" : "a continuous chunk", reason, err)) ||
        (rc = s_present(c->actions_cont, !cat, "actions_cont",
                        cat ? "a categorical chunk" : "a continuous chunk", reason, err)) ||
        (rc = s_present(c->actor_h, rnn, "actor_h", rnn ? "lstm_layers > 0" : "lstm_layers = 0",
                        reason, err)) ||
        (rc = s_present(c->actor_c, rnn, "actor_c", rnn ? "lstm_layers > 0" : "lstm_layers = 0",
                        reason, err)) ||
        (rc = s_present(c->critic_h, rnn && critic, "critic_h", "lstm_layers = 0", reason, err)) ||
        (rc = s_present(c->critic_c, rnn && critic, "critic_c",
                        !rnn     ? "lstm_layers = 0"
                        : critic ? "a chunk with critic_h"
                                 : "a chunk without critic_h",
                        reason, err)))
        return rc;
    // [T] flags and [T][A] masks hold 0/1 only.
    if ((rc = s_flags(c->terminated, T, "RolloutChunk.terminated", reason, err)) ||
        (rc = s_flags(c->truncated, T, "RolloutChunk.truncated", reason, err)) ||
        (rc = s_flags(c->episode_start, T, "RolloutChunk.episode_start", reason, err)) ||
        (c->masks && (rc = s_flags(c->masks, T * A, "RolloutChunk.masks", reason, err))))
        return rc;
    if (cat)
        for (size_t t = 0; t < T; t++)
            if (c->actions_cat[t] < 0 || (size_t)c->actions_cat[t] >= A)
                return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err,
                                    "RolloutChunk.actions[%zu]: %d is not in [0, %zu)", t,
                                    c->actions_cat[t], A);
    // Finite where the limits require it: obs [T+1][D], rewards/logp [T],
    // continuous actions [T][A], values [T+1], LSTM states [L][H].
    unsigned f = lim->finite;
    if (((f & XT_WIRE_FINITE_OBS) &&
         (rc = s_finite(c->obs, T + 1, D, "RolloutChunk.obs", reason, err))) ||
        ((f & XT_WIRE_FINITE_REWARDS) &&
         (rc = s_finite(c->rewards, T, 1, "RolloutChunk.rewards", reason, err))) ||
        ((f & XT_WIRE_FINITE_LOGP) &&
         (rc = s_finite(c->logp, T, 1, "RolloutChunk.logp", reason, err))) ||
        ((f & XT_WIRE_FINITE_ACTIONS) && !cat &&
         (rc = s_finite(c->actions_cont, T, A, "RolloutChunk.actions", reason, err))) ||
        ((f & XT_WIRE_FINITE_VALUES) && c->values &&
         (rc = s_finite(c->values, T + 1, 1, "RolloutChunk.values", reason, err))) ||
        ((f & XT_WIRE_FINITE_VALUES) && c->trunc_values &&
         (rc = s_finite(c->trunc_values, T, 1, "RolloutChunk.trunc_values", reason, err))))
        return rc;
    if ((f & XT_WIRE_FINITE_LSTM) && rnn) {
        const float *st[4] = {c->actor_h, c->actor_c, c->critic_h, c->critic_c};
        const char *nm[4] = {"RolloutChunk.actor_h", "RolloutChunk.actor_c",
                             "RolloutChunk.critic_h", "RolloutChunk.critic_c"};
        for (int i = 0; i < (critic ? 4 : 2); i++)
            if ((rc = s_finite(st[i], c->lstm_layers, c->lstm_hidden, nm[i], reason, err)))
                return rc;
    }
    if (c->episodes > c->t)
        return xt_wire_fail(reason, XT_WIRE_REJ_VALUE, err,
                            "RolloutChunk.episodes: %u finished episodes in a chunk of T=%u steps",
                            c->episodes, c->t);
    if ((rc = s_double(c->return_sum, -INFINITY, INFINITY, "RolloutChunk.return_sum", reason,
                       err)) ||
        (rc = s_double(c->sharpe_sum, -INFINITY, INFINITY, "RolloutChunk.sharpe_sum", reason, err)))
        return rc;
    return 0;
}

static int s_check_weights(const xt_wire_weights *w, const xt_wire_limits *lim,
                           xt_wire_reject *reason, xt_err *err) {
    int rc = s_str(w->run_id, S_ID, 1, reason, err, "Weights.run_id");
    if (rc) return rc;
    if (w->n_params < 1 || w->n_params > lim->max_params)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "Weights.n_params: %llu is not in [1, %llu]",
                            (unsigned long long)w->n_params, (unsigned long long)lim->max_params);
    if (!w->params) return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err, "Weights.params: missing");
    // NaN weights are never published nor loaded, whatever the limits say.
    return s_finite(w->params, w->n_params, 1, "Weights.params", reason, err);
}

static int s_check_status(const xt_wire_status *s, const xt_wire_limits *lim,
                          xt_wire_reject *reason, xt_err *err) {
    int rc;
    if ((rc = s_str(s->run_id, S_ID, 0, reason, err, "Status.run_id")) ||
        (rc = s_enum(s->phase, 0, XT_WIRE_PHASE_N, s_phase_names, "Status.phase", reason, err)) ||
        (rc = s_double(s->progress, 0, 1, "Status.progress", reason, err)))
        return rc;
    if (s->n_workers > lim->max_workers)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "Status.workers: %u entries exceed the limit of %u", s->n_workers,
                            lim->max_workers);
    if (s->n_workers > 0 && !s->workers)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "Status.workers: %u entries but no array", s->n_workers);
    char w[96];
    for (uint32_t i = 0; i < s->n_workers; i++) {
        const xt_wire_worker *r = &s->workers[i];
        if ((rc = s_enum(r->role, 1, XT_WIRE_ROLE_N, s_role_names,
                         s_where(w, "Status", "workers", i, ".role"), reason, err)) ||
            (rc = s_str(r->id, S_ID, 1, reason, err, "Status.workers[%u].id", i)) ||
            (rc = s_str(r->host, S_ID, 0, reason, err, "Status.workers[%u].host", i)) ||
            (rc = s_enum(r->state, 1, XT_WIRE_STATE_N, s_state_names,
                         s_where(w, "Status", "workers", i, ".state"), reason, err)) ||
            (rc = s_double(r->steps_per_s, 0, INFINITY,
                           s_where(w, "Status", "workers", i, ".steps_per_s"), reason, err)) ||
            (rc = s_double(r->last_seen_s, 0, INFINITY,
                           s_where(w, "Status", "workers", i, ".last_seen_s"), reason, err)))
            return rc;
    }
    return 0;
}

// ---------------------------------------------------------------- xt_wire_msg_check

int xt_wire_msg_check(const xt_wire_msg *m, const xt_wire_limits *lim, xt_wire_reject *reason,
                      xt_err *err) {
    int rc = s_str(m->hdr.sender_id, S_ID, 1, reason, err, "envelope.sender_id");
    if (rc) return rc;
    switch (m->type) {
    case XT_WIRE_REGISTER: return s_check_register(&m->reg, reason, err);
    case XT_WIRE_HEARTBEAT: return s_check_heartbeat(&m->hb, reason, err);
    case XT_WIRE_ASSIGNMENT: return s_check_assignment(&m->assign, lim, reason, err);
    case XT_WIRE_PHASE_COMMAND:
        return s_enum(m->phase_cmd.phase, 1, XT_WIRE_PHASE_N, s_phase_names, "PhaseCommand.phase",
                      reason, err);
    case XT_WIRE_ROLLOUT_CHUNK: return s_check_chunk(&m->chunk, lim, reason, err);
    case XT_WIRE_WEIGHTS: return s_check_weights(&m->weights, lim, reason, err);
    case XT_WIRE_CHECKPOINT_DONE:
        return s_str(m->ckpt_done.path, S_PATH, 1, reason, err, "CheckpointDone.path");
    case XT_WIRE_EVAL_REQUEST:
        if ((rc = s_shards(m->eval_req.shards, m->eval_req.n_shards, m->eval_req.fold,
                           lim->max_shards, "EvalRequest", reason, err)))
            return rc;
        return s_str(m->eval_req.checkpoint_path, S_PATH, 1, reason, err,
                     "EvalRequest.checkpoint_path");
    case XT_WIRE_EVAL_RESULT:
        if ((rc = s_key(&m->eval_res.shard, m->eval_res.fold, "EvalResult.shard", reason, err)))
            return rc;
        return s_str(m->eval_res.csv_path, S_PATH, 0, reason, err, "EvalResult.csv_path");
    case XT_WIRE_STATUS: return s_check_status(&m->status, lim, reason, err);
    default:
        return xt_wire_fail(reason, XT_WIRE_REJ_TYPE, err, "envelope: unknown message type %d",
                            (int)m->type);
    }
}

int xt_wire_id_valid(const char *s) { return s_str(s, S_ID, 1, NULL, NULL, "%s", "id") == 0; }

size_t xt_wire_chunk_bytes(const xt_wire_chunk *c) {
    size_t T = c->t, A = c->n_actions, LH = (size_t)c->lstm_layers * c->lstm_hidden;
    size_t n = (T + 1) * c->obs_dim * 4 + T * 4 /* logp */ + T * 4 /* rewards */ + 3 * T;
    n += c->action_kind == XT_WIRE_ACTION_CATEGORICAL ? T * 4 : T * A * 4;
    if (c->values) n += (T + 1) * 4;
    if (c->trunc_values) n += T * 4;
    if (c->masks) n += T * A;
    n += (c->critic_h ? 4 : 2) * LH * 4;
    return n;
}
