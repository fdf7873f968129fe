// broker.c - the broker's event loop: sessions of registered peers, the
// run's phases, shard assignment, liveness and shutdown.
//
// Purpose: drive every fold of the run plan through TRAIN -> CHECKPOINT ->
// EVAL by telling the learner and the actors what to do, exactly as
// docs/cluster-protocol.md specifies.
//
// Invariants:
//   - Journal first: a phase change, checkpoint or eval result is appended
//     (fsync'd, run.h) before any peer hears of it, so no peer ever acts on
//     a state a restarted broker would not know.
//   - Commands are level-triggered: for each peer the broker computes the
//     command the current state implies (s_command) and sends it when it
//     differs from the last one sent (a digest per peer). A peer that
//     registers again, or keeps contradicting its command in heartbeats,
//     gets it again; peers treat repeats as no-ops.
//   - Sessions are keyed by sender id; a known id with a new incarnation is
//     a restarted process and replaces the old session (the learner's
//     roster, sent as Status, then names only the new incarnation).
//   - Every frame from the network is decoded into the decoder's arena and
//     validated before use; rejects are counted and the loop goes on.
// Ownership: the broker owns its sockets, decoder, encoder, run, stats and
// the peer table (sized at init). Threads: everything here runs on the
// loop thread; the metrics server has its own thread (stats.c) and zauth
// its own czmq actor.
#include "broker.h"

#include "assign.h"
#include "export.h"
#include "plan.h"
#include "run.h"
#include "runreport.h"
#include "stats.h"

#include "core/fileio.h"
#include "core/log.h"
#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_PEERS 1024             // sessions (= the wire's max Status rows)
#define S_FRAME_MAX (1u << 20)       // control frames the decoder accepts
#define S_ZMQ_MSG_MAX (4 << 20)      // larger messages make ZeroMQ drop the connection
#define S_DRAIN_MAX 256              // messages handled per wake-up (timer fairness)
#define S_MISMATCH_RESEND 3          // contradicting heartbeats before a command is re-sent
#define S_WARNED_MAX 256             // distinct "warn once" keys remembered

typedef struct {
    int used;
    xt_wire_role role;
    char id[XT_WIRE_ID_MAX];
    uint8_t route[XT_WIRE_ID_MAX]; // ROUTER routing id (the DEALER's identity)
    size_t route_len;
    uint64_t incarnation;
    char host[XT_WIRE_ID_MAX];
    uint32_t capacity, pid, http_port, chunk_port, weights_port;
    double last_seen; // monotonic seconds
    // From the last heartbeat.
    xt_wire_state state;
    double steps_per_s;
    uint64_t env_steps, policy_version;
    uint32_t queue_depth;
    // Command bookkeeping.
    uint64_t sent; // digest of the last command sent (0: none yet)
    int mismatch;  // consecutive heartbeats contradicting it
    int pos;       // index in the sorted actor order (TRAIN layout), -1 for the learner
} s_peer;

struct xt_broker {
    const xt_config *cfg;
    xt_plan plan;
    xt_run *run;
    xt_run_info run_info;
    volatile sig_atomic_t *stop;
    char run_dir[XT_RUN_PATH_MAX], endpoint[300];
    uint64_t incarnation, seq;
    double heartbeat_s, liveness_s;

    zsock_t *router;
    zloop_t *loop;
    zactor_t *auth;
    zcert_t *cert;
    xt_wire_decoder *dec;
    xt_wire_encoder *enc;
    xt_broker_stats st;
    uint64_t rejects_seen; // decoder rejects already added to the metric

    s_peer *peers; // [S_MAX_PEERS]
    int learner;   // peer index of the run's learner, -1 when none
    char chunk_ep[300], weights_ep[300];
    int order[S_MAX_PEERS]; // actor peer indices sorted by id
    uint32_t caps[S_MAX_PEERS];
    int n_order;
    int sync; // learner.mode sync: the layout holds ppo.n_envs envs at most
    int eval_owner[XT_PLAN_MAX_SHARDS]; // peer index evaluating each shard, -1: none
    uint64_t roster_digest;

    // Scratch for outgoing messages (sized once).
    int slots[XT_ASSIGN_MAX_ENVS];
    xt_wire_shard shards[XT_ASSIGN_MAX_ENVS];
    xt_wire_worker *workers; // [S_MAX_PEERS]
    uint32_t loads[S_MAX_PEERS];

    uint64_t warned[S_WARNED_MAX];
    int n_warned;
    double done_at;   // monotonic time DONE was first sent; 0: not finished
    int stopping;     // loop asked to exit
    int fatal;
    xt_err fatal_err;
};

// ---------------------------------------------------------------- helpers

static double s_now(void) { return xt_time_mono(); }

// FNV-1a, for command digests and warn-once keys (never 0).
static uint64_t s_fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define S_FNV0 0xcbf29ce484222325ull

// 1 the first time key (a string) is seen, so a chatty peer logs once.
static int s_first(xt_broker *b, const char *what, const char *who) {
    uint64_t k = s_fnv(s_fnv(S_FNV0, what, strlen(what) + 1), who, strlen(who));
    for (int i = 0; i < b->n_warned; i++)
        if (b->warned[i] == k) return 0;
    if (b->n_warned < S_WARNED_MAX) b->warned[b->n_warned++] = k;
    return 1;
}

static int s_fatal(xt_broker *b, const xt_err *err) {
    b->fatal = 1;
    b->fatal_err = *err;
    return -1;
}

static const xt_run_fold_info *s_cur(const xt_broker *b) { return xt_run_fold_state(b->run, xt_run_fold(b->run)); }

static uint64_t s_learner_steps(const xt_broker *b) { return b->learner >= 0 ? b->peers[b->learner].env_steps : 0; }

// Fraction of the current phase done (Status.progress).
static double s_progress(const xt_broker *b) {
    xt_wire_phase ph = xt_run_phase(b->run);
    if (ph == XT_WIRE_PHASE_TRAIN) {
        double p = (double)s_learner_steps(b) / (double)b->plan.step_budget;
        return p > 1 ? 1 : p;
    }
    if (ph == XT_WIRE_PHASE_EVAL) return (double)s_cur(b)->n_evals / (double)b->plan.n_shards;
    return 1;
}

// ---------------------------------------------------------------- sending

static void s_send_to(xt_broker *b, const void *route, size_t route_len, xt_wire_msg *m) {
    m->hdr = (xt_wire_hdr){0, "broker", b->incarnation, ++b->seq};
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(b->enc, m, &frame, &len, &err)) {
        // Our own message failed validation: a bug, not bad input.
        xt_error("%s", err.msg);
        return;
    }
    // DONTWAIT: a ROUTER never blocks; a peer whose pipe is full (or gone)
    // loses the message and is repaired by the level-triggered resend.
    if (xt_wire_send(b->router, route, route_len, frame, len, ZMQ_DONTWAIT, &err) < 0) xt_debug("%s", err.msg);
}

static void s_send(xt_broker *b, int i, xt_wire_msg *m) { s_send_to(b, b->peers[i].route, b->peers[i].route_len, m); }

// Broker heartbeat: state RUNNING to a registered peer, IDLE to a sender it
// has no session for ("register again"), STOPPING once the run is over.
static void s_heartbeat_to(xt_broker *b, const void *route, size_t route_len, xt_wire_state state) {
    const xt_run_fold_info *f = s_cur(b);
    xt_wire_msg m = {.type = XT_WIRE_HEARTBEAT};
    m.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_BROKER, state, b->learner >= 0 ? b->peers[b->learner].steps_per_s : 0,
                               s_learner_steps(b), 0, f && f->has_ckpt ? f->ckpt_version : 0};
    s_send_to(b, route, route_len, &m);
}

static void s_phase_to(xt_broker *b, const void *route, size_t route_len, uint32_t fold, xt_wire_phase ph) {
    xt_wire_msg m = {.type = XT_WIRE_PHASE_COMMAND};
    m.phase_cmd = (xt_wire_phase_cmd){fold, ph, ph == XT_WIRE_PHASE_TRAIN || ph == XT_WIRE_PHASE_CHECKPOINT
                                                    ? b->plan.step_budget
                                                    : 0};
    s_send_to(b, route, route_len, &m);
}

static uint32_t s_last_fold(const xt_broker *b) { return (uint32_t)b->plan.n_folds - 1; }

// ---------------------------------------------------------------- status

// Status of the run with one row per session: learner first, then actors by id.
static void s_status(xt_broker *b, xt_wire_msg *m) {
    double now = s_now();
    int n = 0;
    for (int k = -1; k < b->n_order; k++) {
        int i = k < 0 ? b->learner : b->order[k];
        if (i < 0 || !b->peers[i].used) continue;
        const s_peer *p = &b->peers[i];
        // Actors: the envs they step in the layout (the learner's sync
        // roster counts on them), which sync mode may cap below the offer.
        uint32_t envs = p->role == XT_WIRE_ROLE_ACTOR && p->pos >= 0 ? b->caps[p->pos] : p->capacity;
        b->workers[n++] = (xt_wire_worker){p->role,      p->id,       p->incarnation, p->host,
                                           p->state,     envs,        p->steps_per_s, p->queue_depth,
                                           p->policy_version, now - p->last_seen};
    }
    int fold = xt_run_fold(b->run);
    const xt_run_fold_info *f = s_cur(b);
    *m = (xt_wire_msg){.type = XT_WIRE_STATUS};
    m->status = (xt_wire_status){b->plan.run_id,
                                 (uint32_t)(fold < b->plan.n_folds ? fold : b->plan.n_folds - 1),
                                 (uint32_t)b->plan.n_folds,
                                 xt_run_phase(b->run),
                                 s_progress(b),
                                 s_learner_steps(b),
                                 b->plan.step_budget,
                                 f && f->has_ckpt ? f->ckpt_version : 0,
                                 (uint32_t)n,
                                 b->workers};
}

// The learner's roster: sent when the set of (actor id, incarnation) changes
// and on every tick. The learner accepts chunks only from rostered actors.
static void s_roster(xt_broker *b, int force) {
    if (b->learner < 0) return;
    const s_peer *l = &b->peers[b->learner];
    uint64_t d = s_fnv(s_fnv(S_FNV0, l->id, strlen(l->id) + 1), &l->incarnation, sizeof l->incarnation);
    for (int k = 0; k < b->n_order; k++) {
        const s_peer *p = &b->peers[b->order[k]];
        d = s_fnv(s_fnv(d, p->id, strlen(p->id) + 1), &p->incarnation, sizeof p->incarnation);
    }
    if (!force && d == b->roster_digest) return;
    b->roster_digest = d;
    xt_wire_msg m;
    s_status(b, &m);
    s_send(b, b->learner, &m);
}

// ---------------------------------------------------------------- commands

// Actors sorted by id: the TRAIN layout depends on who is there, never on
// the order they came in. Insertion sort: at most S_MAX_PEERS, rarely run.
static void s_layout(xt_broker *b) {
    b->n_order = 0;
    for (int i = 0; i < S_MAX_PEERS; i++) {
        s_peer *p = &b->peers[i];
        p->pos = -1;
        if (!p->used || p->role != XT_WIRE_ROLE_ACTOR) continue;
        int k = b->n_order++;
        while (k > 0 && strcmp(b->peers[b->order[k - 1]].id, p->id) > 0) b->order[k] = b->order[k - 1], k--;
        b->order[k] = i;
    }
    for (int k = 0; k < b->n_order; k++) {
        b->peers[b->order[k]].pos = k;
        b->caps[k] = b->peers[b->order[k]].capacity;
    }
    // Sync: one update learns from exactly ppo.n_envs envs' rollouts (as
    // train --local does); capacity beyond that would only be dropped.
    if (b->sync) xt_assign_limit(b->caps, b->n_order, (uint64_t)b->cfg->ppo_n_envs);
}

// Builds the command the run's state implies for peer i into m (pointing
// at scratch buffers) and returns its digest, or 0 when there is none
// (an actor in TRAIN while no learner is registered).
static uint64_t s_command(xt_broker *b, int i, xt_wire_msg *m) {
    const s_peer *p = &b->peers[i];
    xt_wire_phase ph = xt_run_phase(b->run);
    uint32_t fold = (uint32_t)xt_run_fold(b->run);
    const xt_run_fold_info *f = s_cur(b);
    uint64_t d = s_fnv(s_fnv(S_FNV0, &fold, sizeof fold), &ph, sizeof ph);
    *m = (xt_wire_msg){.type = XT_WIRE_PHASE_COMMAND};
    if (ph == XT_WIRE_PHASE_DONE) {
        m->phase_cmd = (xt_wire_phase_cmd){s_last_fold(b), XT_WIRE_PHASE_DONE, 0};
        return d;
    }
    uint64_t budget = ph == XT_WIRE_PHASE_EVAL ? 0 : b->plan.step_budget;
    m->phase_cmd = (xt_wire_phase_cmd){fold, ph, budget};
    if (p->role == XT_WIRE_ROLE_LEARNER || ph == XT_WIRE_PHASE_CHECKPOINT) return d;

    if (ph == XT_WIRE_PHASE_TRAIN) {
        // Envs of this actor in the capacity-balanced layout (assign.h).
        if (b->learner < 0 || p->pos < 0) return 0;
        int n = xt_assign_train(b->caps, b->n_order, p->pos, b->plan.n_shards, b->slots);
        if (n == 0) return 0; // sync mode has more actors than ppo.n_envs: this one idles
        // Its envs are the global slots first.. first + n - 1 of the layout:
        // a deterministic run seeds and orders each env by its slot.
        uint32_t first = (uint32_t)xt_assign_total(b->caps, p->pos);
        for (int e = 0; e < n; e++) {
            xt_plan_wire_shard(&b->plan, (int)fold, b->slots[e], ph, &b->shards[e]);
            b->shards[e].env_slot = first + (uint32_t)e;
        }
        *m = (xt_wire_msg){.type = XT_WIRE_ASSIGNMENT};
        m->assign = (xt_wire_assignment){fold, ph, b->plan.seed, (uint32_t)n, b->shards, b->chunk_ep, b->weights_ep};
        d = s_fnv(s_fnv(d, b->slots, sizeof(int) * (size_t)n), &first, sizeof first);
        d = s_fnv(s_fnv(d, b->chunk_ep, strlen(b->chunk_ep)), b->weights_ep, strlen(b->weights_ep));
        return d;
    }
    // EVAL: the shards this actor owns and has not reported yet. The digest
    // covers every shard it owns, so a finished shard does not trigger a
    // resend but a newly placed one does.
    int n = 0;
    for (int s = 0; s < b->plan.n_shards; s++) {
        if (b->eval_owner[s] != i) continue;
        d = s_fnv(d, &s, sizeof s);
        if (!f->evals[s].have) xt_plan_wire_shard(&b->plan, (int)fold, s, ph, &b->shards[n++]);
    }
    if (n == 0) return d; // nothing left to do: PhaseCommand EVAL
    d = s_fnv(d, f->ckpt_path, strlen(f->ckpt_path));
    *m = (xt_wire_msg){.type = XT_WIRE_EVAL_REQUEST};
    m->eval_req = (xt_wire_eval_req){fold, (uint32_t)n, b->shards, f->ckpt_path, f->ckpt_version};
    return d;
}

static void s_sync(xt_broker *b, int i, int force) {
    xt_wire_msg m;
    uint64_t d = s_command(b, i, &m);
    if (d == 0 || (!force && d == b->peers[i].sent)) return;
    b->peers[i].sent = d;
    b->peers[i].mismatch = 0;
    s_send(b, i, &m);
}

// After any change of the run state or of the peer set.
static void s_sync_all(xt_broker *b) {
    s_layout(b);
    for (int i = 0; i < S_MAX_PEERS; i++)
        if (b->peers[i].used) s_sync(b, i, 0);
    s_roster(b, 0);
}

// Places the current fold's unevaluated shards that have no owner on the
// live actors, in proportion to their capacity (assign.h).
static void s_eval_place(xt_broker *b) {
    const xt_run_fold_info *f = s_cur(b);
    uint32_t cap[S_MAX_PEERS];
    for (int i = 0; i < S_MAX_PEERS; i++) {
        const s_peer *p = &b->peers[i];
        cap[i] = p->used && p->role == XT_WIRE_ROLE_ACTOR ? p->capacity : 0;
        b->loads[i] = 0;
    }
    for (int s = 0; s < b->plan.n_shards; s++) {
        if (f->evals[s].have) {
            if (b->eval_owner[s] < 0) b->eval_owner[s] = S_MAX_PEERS; // done: needs no owner
        } else if (b->eval_owner[s] >= 0 && b->eval_owner[s] < S_MAX_PEERS) {
            b->loads[b->eval_owner[s]]++;
        }
    }
    if (xt_assign_eval(cap, b->loads, S_MAX_PEERS, b->eval_owner, b->plan.n_shards) < 0 &&
        s_first(b, "eval-wait", "fold"))
        xt_info("fold %d: eval waits for an actor", xt_run_fold(b->run));
}

static void s_eval_reset(xt_broker *b) {
    for (int s = 0; s < XT_PLAN_MAX_SHARDS; s++) b->eval_owner[s] = -1;
}

// ---------------------------------------------------------------- run progress

static int s_set_phase(xt_broker *b, xt_wire_phase ph) {
    xt_err err = {0};
    if (xt_run_set_phase(b->run, ph, &err)) return s_fatal(b, &err);
    return 0;
}

// Copies fold k's evaluated checkpoint into the model registry
// (export.h). A failure is logged: the checkpoint stays in the run dir.
static void s_export(xt_broker *b, int k) {
    const xt_run_fold_info *f = xt_run_fold_state(b->run, k);
    xt_err err = {0};
    char path[1024];
    if (xt_export_model(b->cfg, f->ckpt_path, &err)) {
        xt_warn("fold %d: %s", k, err.msg);
        return;
    }
    int n = (int)b->cfg->data_timeframes.n;
    xt_info("fold %d: model exported to %s%s", k, xt_export_path(b->cfg, 0, path, sizeof path),
            n > 1 ? " (and the other timeframes' directories)" : "");
}

// The run is over: journal DONE and tell everyone.
static int s_finish(xt_broker *b) {
    xt_err err = {0};
    // The last fold's model, unless a predecessor already exported it (a
    // broker that died between the fold's end and the copy exports here).
    char model[1024];
    if (!xt_file_exists(xt_export_path(b->cfg, 0, model, sizeof model))) s_export(b, b->plan.n_folds - 1);
    int profitable = 0;
    double sum = 0;
    for (int k = 0; k < b->plan.n_folds; k++) {
        xt_run_summary s;
        xt_run_summary_of(b->run, k, &s);
        profitable += s.mean_return > 0;
        sum += isfinite(s.mean_return) ? s.mean_return : 0;
    }
    if (!xt_run_report_written(b->run)) {
        // The report is derived from the journal, so a failure here loses
        // nothing: it is logged, and `xtrade report` can write it later.
        xt_broker_stats_phase(&b->st, XT_BSTATS_PHASE_REPORT);
        if (xt_runreport_write(b->run, b->cfg, b->run_dir, &err) == 0) {
            xt_info("report written: %s/report.{json,csv,html}", b->run_dir);
            if (xt_run_report(b->run, b->run_dir, &err)) return s_fatal(b, &err);
        } else {
            xt_error("report: %s", err.msg);
        }
    }
    if (!xt_run_finished(b->run)) {
        if (xt_run_done(b->run, &err)) return s_fatal(b, &err);
        xt_info("run %s done: %d folds, mean test return %.4f, %d of %d folds profitable (consistency %.0f%%)",
                b->plan.run_id, b->plan.n_folds, sum / b->plan.n_folds, profitable, b->plan.n_folds,
                100.0 * profitable / b->plan.n_folds);
    }
    b->done_at = s_now();
    s_sync_all(b);
    return 0;
}

// Every shard of the current fold has a result.
static int s_fold_end(xt_broker *b) {
    int k = xt_run_fold(b->run);
    xt_run_summary s;
    xt_run_summary_of(b->run, k, &s);
    xt_err err = {0};
    if (xt_run_fold_done(b->run, &err)) return s_fatal(b, &err);
    xt_info("fold %d done: %d shards, mean return %.4f (buy & hold %.4f), mean Sharpe %.3f, %d profitable", k, s.n,
            s.mean_return, s.mean_buy_hold, s.mean_sharpe, s.profitable);
    s_export(b, k);
    s_eval_reset(b);
    if (xt_run_fold(b->run) >= b->plan.n_folds) return s_finish(b);
    xt_info("fold %d: train (budget %llu env steps)", k + 1, (unsigned long long)b->plan.step_budget);
    s_sync_all(b);
    return 0;
}

static int s_enter_eval(xt_broker *b) {
    if (s_set_phase(b, XT_WIRE_PHASE_EVAL)) return -1;
    s_eval_reset(b);
    s_eval_place(b);
    xt_info("fold %d: eval of %d shards with %s", xt_run_fold(b->run), b->plan.n_shards, s_cur(b)->ckpt_path);
    s_sync_all(b);
    return 0;
}

// ---------------------------------------------------------------- sessions

static int s_find(const xt_broker *b, const char *id) {
    for (int i = 0; i < S_MAX_PEERS; i++)
        if (b->peers[i].used && strcmp(b->peers[i].id, id) == 0) return i;
    return -1;
}

// The session of (id, incarnation), or -1.
static int s_session(const xt_broker *b, const xt_wire_hdr *h) {
    int i = s_find(b, h->sender_id);
    return i >= 0 && b->peers[i].incarnation == h->incarnation ? i : -1;
}

// Ends session i (lost: silent past liveness_ms). The caller re-syncs.
static void s_remove(xt_broker *b, int i, int lost) {
    s_peer *p = &b->peers[i];
    int owned = 0;
    for (int s = 0; s < b->plan.n_shards; s++)
        if (b->eval_owner[s] == i) b->eval_owner[s] = -1, owned++;
    if (lost) {
        xt_warn("%s %s (incarnation %llu) silent for %.1f s: dropped%s", xt_wire_role_name(p->role), p->id,
                (unsigned long long)p->incarnation, s_now() - p->last_seen,
                p->role == XT_WIRE_ROLE_ACTOR ? "; its shards are reassigned" : "; waiting for a learner");
        if (p->role == XT_WIRE_ROLE_ACTOR) xt_prom_counter_inc(b->st.actors_lost);
    }
    if (i == b->learner) b->learner = -1;
    p->used = 0;
    if (xt_run_phase(b->run) == XT_WIRE_PHASE_EVAL && owned) s_eval_place(b);
}

static void s_route(s_peer *p, const void *route, size_t len) {
    if (len > sizeof p->route) len = sizeof p->route;
    memcpy(p->route, route, len);
    p->route_len = len;
}

// ---------------------------------------------------------------- handlers

static void s_on_register(xt_broker *b, const void *route, size_t route_len, const xt_wire_msg *m) {
    const xt_wire_register *r = &m->reg;
    const char *id = m->hdr.sender_id;
    if (r->role == XT_WIRE_ROLE_CLI) {
        xt_wire_msg st;
        s_status(b, &st);
        s_send_to(b, route, route_len, &st);
        return;
    }
    if (r->role != XT_WIRE_ROLE_ACTOR && r->role != XT_WIRE_ROLE_LEARNER) {
        if (s_first(b, "register-role", id))
            xt_warn("%s: Register with role %s ignored (only learners and actors register)", id,
                    xt_wire_role_name(r->role));
        return;
    }
    if (b->done_at > 0) {
        s_phase_to(b, route, route_len, s_last_fold(b), XT_WIRE_PHASE_DONE);
        return;
    }
    int i = s_find(b, id);
    if (r->role == XT_WIRE_ROLE_LEARNER && b->learner >= 0 && b->learner != i) {
        // One learner per run: a second one retries (IDLE) until the first
        // goes silent and is dropped.
        if (s_first(b, "second-learner", id))
            xt_warn("learner %s waits: %s is the run's learner until it goes silent", id, b->peers[b->learner].id);
        s_heartbeat_to(b, route, route_len, XT_WIRE_STATE_IDLE);
        return;
    }
    int restarted = 0;
    if (i >= 0 && (b->peers[i].incarnation != m->hdr.incarnation || b->peers[i].role != r->role)) {
        xt_info("%s %s restarted (incarnation %llu -> %llu)", xt_wire_role_name(r->role), id,
                (unsigned long long)b->peers[i].incarnation, (unsigned long long)m->hdr.incarnation);
        s_remove(b, i, 0);
        i = -1, restarted = 1;
    }
    int fresh = i < 0;
    if (fresh) {
        for (int k = 0; k < S_MAX_PEERS && i < 0; k++)
            if (!b->peers[k].used) i = k;
        if (i < 0) {
            if (s_first(b, "full", id)) xt_warn("%s: refused, %d peers are registered already", id, S_MAX_PEERS);
            return;
        }
        b->peers[i] = (s_peer){.used = 1, .role = r->role, .incarnation = m->hdr.incarnation, .pos = -1};
        snprintf(b->peers[i].id, sizeof b->peers[i].id, "%s", id);
    }
    s_peer *p = &b->peers[i];
    s_route(p, route, route_len);
    snprintf(p->host, sizeof p->host, "%s", r->host);
    p->capacity = r->role == XT_WIRE_ROLE_ACTOR ? (r->capacity > XT_ASSIGN_MAX_ENVS ? XT_ASSIGN_MAX_ENVS : r->capacity)
                                                : 0;
    p->pid = r->pid, p->http_port = r->http_port, p->chunk_port = r->chunk_port, p->weights_port = r->weights_port;
    p->last_seen = s_now();
    p->state = XT_WIRE_STATE_IDLE;
    p->sent = 0; // a registering peer gets its command (again)
    if (r->role == XT_WIRE_ROLE_LEARNER) {
        b->learner = i;
        snprintf(b->chunk_ep, sizeof b->chunk_ep, "tcp://%s:%u", r->host, r->chunk_port);
        snprintf(b->weights_ep, sizeof b->weights_ep, "tcp://%s:%u", r->host, r->weights_port);
        if (fresh)
            xt_info("learner %s registered (incarnation %llu, chunks %s, weights %s)", id,
                    (unsigned long long)p->incarnation, b->chunk_ep, b->weights_ep);
        // A restarted learner lost the steps after its last checkpoint: a
        // fold waiting for its final checkpoint goes back to training.
        if (restarted && xt_run_phase(b->run) == XT_WIRE_PHASE_CHECKPOINT && s_set_phase(b, XT_WIRE_PHASE_TRAIN))
            return;
    } else {
        if (fresh)
            xt_info("actor %s registered (incarnation %llu, host %s, %u envs)", id, (unsigned long long)p->incarnation,
                    p->host, p->capacity);
        if (p->capacity == 0 && s_first(b, "no-capacity", id))
            xt_warn("actor %s registered with 0 envs: it gets no shards", id);
        if (xt_run_phase(b->run) == XT_WIRE_PHASE_EVAL) s_eval_place(b);
    }
    s_heartbeat_to(b, route, route_len, XT_WIRE_STATE_RUNNING); // the welcome
    s_sync_all(b);
}

// Does peer p's heartbeat contradict the command it was sent?
static int s_contradicts(const xt_broker *b, int i) {
    const s_peer *p = &b->peers[i];
    xt_wire_phase ph = xt_run_phase(b->run);
    if (p->state != XT_WIRE_STATE_IDLE || p->sent == 0) return 0;
    if (p->role == XT_WIRE_ROLE_LEARNER) return ph == XT_WIRE_PHASE_TRAIN && p->env_steps < b->plan.step_budget;
    if (ph == XT_WIRE_PHASE_TRAIN) return p->capacity > 0;
    if (ph == XT_WIRE_PHASE_EVAL)
        for (int s = 0; s < b->plan.n_shards; s++)
            if (b->eval_owner[s] == i && !s_cur(b)->evals[s].have) return 1;
    return 0;
}

static void s_on_heartbeat(xt_broker *b, const void *route, size_t route_len, const xt_wire_msg *m) {
    int i = s_session(b, &m->hdr);
    if (i < 0) {
        // Not registered here (a restarted broker, or dropped for silence).
        if (b->done_at > 0) s_phase_to(b, route, route_len, s_last_fold(b), XT_WIRE_PHASE_DONE);
        else s_heartbeat_to(b, route, route_len, XT_WIRE_STATE_IDLE);
        return;
    }
    s_peer *p = &b->peers[i];
    s_route(p, route, route_len);
    p->last_seen = s_now();
    p->state = m->hb.state, p->steps_per_s = m->hb.steps_per_s, p->env_steps = m->hb.env_steps;
    p->queue_depth = m->hb.queue_depth, p->policy_version = m->hb.policy_version;
    if (i == b->learner && xt_run_phase(b->run) == XT_WIRE_PHASE_TRAIN && p->env_steps >= b->plan.step_budget) {
        // The learner's env_steps count the fold it trains (0 between
        // folds), so this cannot be the previous fold's total.
        xt_info("fold %d: step budget reached (%llu env steps): checkpoint", xt_run_fold(b->run),
                (unsigned long long)p->env_steps);
        if (s_set_phase(b, XT_WIRE_PHASE_CHECKPOINT)) return;
        s_sync_all(b);
        return;
    }
    p->mismatch = s_contradicts(b, i) ? p->mismatch + 1 : 0;
    if (p->mismatch >= S_MISMATCH_RESEND) {
        xt_debug("%s %s: state %s contradicts its command: sending it again", xt_wire_role_name(p->role), p->id,
                 xt_wire_state_name(p->state));
        s_sync(b, i, 1);
    }
}

static void s_on_checkpoint(xt_broker *b, const xt_wire_msg *m) {
    int i = s_session(b, &m->hdr);
    const xt_wire_ckpt_done *c = &m->ckpt_done;
    if (i < 0 || i != b->learner) {
        if (s_first(b, "ckpt-not-learner", m->hdr.sender_id))
            xt_warn("%s: CheckpointDone ignored (not the run's registered learner)", m->hdr.sender_id);
        return;
    }
    b->peers[i].last_seen = s_now();
    xt_wire_phase ph = xt_run_phase(b->run);
    int fold = xt_run_fold(b->run);
    if ((int)c->fold != fold || (ph != XT_WIRE_PHASE_TRAIN && ph != XT_WIRE_PHASE_CHECKPOINT)) {
        xt_debug("CheckpointDone of fold %u ignored (fold %d is in %s)", c->fold, fold, xt_wire_phase_name(ph));
        return;
    }
    xt_err err = {0};
    if (xt_run_checkpoint(b->run, c->step, c->policy_version, c->val_sharpe, c->path, &err)) {
        s_fatal(b, &err);
        return;
    }
    xt_prom_gauge_set(b->st.weights_version, (double)c->policy_version);
    if (c->step >= b->plan.step_budget) {
        xt_info("fold %d: final checkpoint %s (step %llu, policy v%llu, validation Sharpe %.3f)", fold, c->path,
                (unsigned long long)c->step, (unsigned long long)c->policy_version, c->val_sharpe);
        s_enter_eval(b);
    } else if (ph == XT_WIRE_PHASE_CHECKPOINT) {
        // The learner is short of the budget (it restarted from an older
        // checkpoint): train on.
        xt_info("fold %d: checkpoint at step %llu is short of the budget: back to train", fold,
                (unsigned long long)c->step);
        if (s_set_phase(b, XT_WIRE_PHASE_TRAIN) == 0) s_sync_all(b);
    } else {
        xt_debug("fold %d: checkpoint %s (step %llu)", fold, c->path, (unsigned long long)c->step);
    }
}

static void s_on_eval_result(xt_broker *b, const xt_wire_msg *m) {
    int i = s_session(b, &m->hdr);
    const xt_wire_eval_res *e = &m->eval_res;
    if (i < 0 || b->peers[i].role != XT_WIRE_ROLE_ACTOR) {
        if (s_first(b, "eval-not-actor", m->hdr.sender_id))
            xt_warn("%s: EvalResult ignored (not a registered actor)", m->hdr.sender_id);
        return;
    }
    b->peers[i].last_seen = s_now();
    int fold = xt_run_fold(b->run);
    if ((int)e->fold != fold || xt_run_phase(b->run) != XT_WIRE_PHASE_EVAL) {
        xt_debug("EvalResult of fold %u ignored (fold %d is in %s)", e->fold, fold,
                 xt_wire_phase_name(xt_run_phase(b->run)));
        return;
    }
    int s = xt_plan_find_shard(&b->plan, &e->shard);
    if (s < 0) {
        if (s_first(b, "eval-shard", m->hdr.sender_id))
            xt_warn("%s: EvalResult for a shard that is not in the run plan (%s%s, %u s)", m->hdr.sender_id,
                    e->shard.symbol, e->shard.portfolio, e->shard.tf_sec);
        return;
    }
    xt_err err = {0};
    int rc = xt_run_eval(b->run, s, e->metrics, e->csv_path, &err);
    if (rc < 0) {
        s_fatal(b, &err);
        return;
    }
    if (rc == 1) return; // a duplicate: the first result stands
    char label[64], tf[16];
    xt_plan_shard_label(&b->plan, s, label, sizeof label);
    xt_info("fold %d: %s evaluated by %s: return %.4f, Sharpe %.3f, max drawdown %.4f (%d of %d)", fold, label,
            m->hdr.sender_id, e->metrics[XT_WIRE_EVAL_TOTAL_RETURN], e->metrics[XT_WIRE_EVAL_SHARPE],
            e->metrics[XT_WIRE_EVAL_MAX_DRAWDOWN], s_cur(b)->n_evals, b->plan.n_shards);
    if (xt_broker_stats_eval(&b->st, fold, b->plan.shards[s].name,
                             xt_timeframe_name(b->plan.shards[s].tf_sec, tf), e->metrics[XT_WIRE_EVAL_SHARPE],
                             e->metrics[XT_WIRE_EVAL_TOTAL_RETURN], &err))
        xt_warn("%s", err.msg);
    if (s_cur(b)->n_evals == b->plan.n_shards) s_fold_end(b);
}

static void s_dispatch(xt_broker *b, const void *route, size_t route_len, const xt_wire_msg *m) {
    switch (m->type) {
    case XT_WIRE_REGISTER: s_on_register(b, route, route_len, m); break;
    case XT_WIRE_HEARTBEAT: s_on_heartbeat(b, route, route_len, m); break;
    case XT_WIRE_CHECKPOINT_DONE: s_on_checkpoint(b, m); break;
    case XT_WIRE_EVAL_RESULT: s_on_eval_result(b, m); break;
    default:
        if (s_first(b, "unexpected", m->hdr.sender_id))
            xt_warn("%s: %s is not a message the broker takes; ignored", m->hdr.sender_id,
                    xt_wire_type_name(m->type));
    }
}

// Adds the decoder's new rejects (plus part-count drops) to the metric.
static void s_count_rejects(xt_broker *b, uint64_t extra) {
    const xt_wire_stats *ws = xt_wire_decoder_stats(b->dec);
    uint64_t n = 0;
    for (int r = 0; r < XT_WIRE_REJ_N; r++) n += ws->rejected[r];
    xt_prom_counter_add_u64(b->st.decode_errors, n - b->rejects_seen + extra);
    b->rejects_seen = n;
}

static int s_on_router(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_broker *b = arg;
    for (int k = 0; k < S_DRAIN_MAX && !b->fatal; k++) {
        xt_wire_rx rx;
        xt_err err = {0};
        int rc = xt_wire_recv(sock, &rx, ZMQ_DONTWAIT, &err);
        if (rc == 1) break;
        if (rc == XT_EPROTO) {
            // Wrong number of parts: drained by xt_wire_recv, counted here.
            if (s_first(b, "parts", "control")) xt_warn("control socket: %s", err.msg);
            s_count_rejects(b, 1);
            continue;
        }
        if (rc < 0) {
            xt_warn("%s", err.msg);
            break;
        }
        xt_wire_msg m;
        if (xt_wire_decode(b->dec, rx.data, rx.len, xt_wire_rx_peer(&rx), &m, &err) == 0)
            s_dispatch(b, zmq_msg_data(&rx.route), zmq_msg_size(&rx.route), &m);
        else
            s_count_rejects(b, 0); // the decoder logged it (once per peer)
        xt_wire_rx_close(&rx);
    }
    return b->fatal ? -1 : 0;
}

// ---------------------------------------------------------------- timer

static void s_sample(xt_broker *b) {
    int fold = xt_run_fold(b->run);
    xt_wire_phase ph = xt_run_phase(b->run);
    xt_prom_gauge_set(b->st.fold, fold < b->plan.n_folds ? fold : b->plan.n_folds - 1);
    static const int map[XT_WIRE_PHASE_N] = {XT_BSTATS_PHASE_IDLE, XT_BSTATS_PHASE_TRAIN, XT_BSTATS_PHASE_CHECKPOINT,
                                             XT_BSTATS_PHASE_EVAL, XT_BSTATS_PHASE_DONE,  XT_BSTATS_PHASE_IDLE};
    xt_broker_stats_phase(&b->st, map[ph]);
    xt_prom_gauge_set(b->st.connected, b->n_order);
    int waiting = 0;
    if (ph == XT_WIRE_PHASE_TRAIN) {
        int counts[XT_PLAN_MAX_SHARDS];
        waiting = b->n_order ? xt_assign_train_counts(b->caps, b->n_order, b->plan.n_shards, counts)
                             : b->plan.n_shards;
    } else if (ph == XT_WIRE_PHASE_EVAL) {
        const xt_run_fold_info *f = s_cur(b);
        for (int s = 0; s < b->plan.n_shards; s++) waiting += b->eval_owner[s] < 0 && !f->evals[s].have;
    }
    xt_prom_gauge_set(b->st.queue_shards, waiting);
}

// Graceful stop: every peer hears STOP (the ROUTER's linger flushes it).
static void s_shutdown(xt_broker *b) {
    int n = 0;
    uint32_t fold = xt_run_fold(b->run) < b->plan.n_folds ? (uint32_t)xt_run_fold(b->run) : s_last_fold(b);
    for (int i = 0; i < S_MAX_PEERS; i++)
        if (b->peers[i].used) s_phase_to(b, b->peers[i].route, b->peers[i].route_len, fold, XT_WIRE_PHASE_STOP), n++;
    xt_info("stop requested: STOP sent to %d peer(s); the journal keeps the run for a restart", n);
    b->stopping = 1;
}

// One timer for everything periodic: signal-requested shutdown, the end
// of the run, liveness, heartbeats, the learner's roster and metrics.
static int s_tick(xt_broker *b) {
    double now = s_now();
    xt_broker_stats_tick(&b->st);
    if (*b->stop) {
        s_shutdown(b);
        return -1;
    }
    if (b->done_at > 0 && now - b->done_at >= b->liveness_s) {
        xt_info("run %s finished; broker exits", b->plan.run_id);
        b->stopping = 1;
        return -1;
    }
    // Liveness sweep (not after the end: peers exit on DONE, which is no loss).
    int changed = 0;
    for (int i = 0; i < S_MAX_PEERS && b->done_at == 0; i++)
        if (b->peers[i].used && now - b->peers[i].last_seen > b->liveness_s) s_remove(b, i, 1), changed = 1;
    if (changed) s_sync_all(b);
    xt_wire_state st = b->done_at > 0 ? XT_WIRE_STATE_STOPPING : XT_WIRE_STATE_RUNNING;
    for (int i = 0; i < S_MAX_PEERS; i++)
        if (b->peers[i].used) s_heartbeat_to(b, b->peers[i].route, b->peers[i].route_len, st);
    s_roster(b, 1);
    s_count_rejects(b, 0);
    s_sample(b);
    return b->fatal ? -1 : 0;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg) { return s_tick(arg); }

// ---------------------------------------------------------------- files

// runs/<id>/config.yaml: the effective config of the run's first start.
static int s_freeze_config(xt_broker *b, xt_err *err) {
    char path[XT_RUN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config.yaml", b->run_dir);
    if (xt_file_exists(path)) return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return xt_err_set(err, XT_ENOMEM, "%s: cannot buffer the config dump", path);
    xt_config_dump(b->cfg, f);
    fclose(f);
    int rc = xt_file_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

static int s_bind(xt_broker *b, xt_err *err) {
    const xt_config *c = b->cfg;
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.linger_ms = 1000; // lets a STOP or DONE reach the peers on exit
    o.max_msg_bytes = S_ZMQ_MSG_MAX;
    if (c->security_curve) {
        // Server side of CurveZMQ: our key pair, and zauth admitting only the
        // client keys in the allow directory (started before the bind).
        char path[XT_CFG_STR_MAX + 32];
        snprintf(path, sizeof path, "%s/broker.key", c->security_keys_dir);
        b->cert = xt_wire_curve_cert_load(path, err);
        if (!b->cert) return err->code;
        if (c->security_allow_dir[0]) snprintf(path, sizeof path, "%s", c->security_allow_dir);
        else snprintf(path, sizeof path, "%s/allowed", c->security_keys_dir);
        b->auth = xt_wire_curve_auth_new(path, err);
        if (!b->auth) return err->code;
        o.curve_cert = b->cert;
    }
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s:%lld", c->broker_bind, (long long)c->broker_port);
    int port = 0;
    b->router = xt_wire_bind(ZMQ_ROUTER, ep, &o, &port, err);
    if (!b->router) return err->code;
    // A restarted peer reconnecting with its id takes the id over at once
    // instead of being refused while the dead connection times out.
    zsock_set_router_handover(b->router, 1);
    snprintf(b->endpoint, sizeof b->endpoint, "tcp://%s:%d", c->broker_host, port);
    char path[XT_RUN_PATH_MAX + 32], line[320];
    snprintf(path, sizeof path, "%s/broker.endpoint", b->run_dir);
    int n = snprintf(line, sizeof line, "%s\n", b->endpoint);
    return xt_file_write_atomic(path, line, (size_t)n, err);
}

// ---------------------------------------------------------------- public

xt_broker *xt_broker_new(const xt_config *cfg, const char *run_dir, const char *http_bind, volatile sig_atomic_t *stop,
                         xt_err *err) {
    if (cfg->broker_liveness_ms <= cfg->broker_heartbeat_ms) {
        char w[384];
        xt_err_set(err, XT_EINVAL, "%s: must exceed broker.heartbeat_ms (%lld <= %lld)",
                   xt_config_where(cfg, XT_CFGK_broker_liveness_ms, w, sizeof w), (long long)cfg->broker_liveness_ms,
                   (long long)cfg->broker_heartbeat_ms);
        return NULL;
    }
    xt_broker *b = calloc(1, sizeof *b);
    if (!b) {
        xt_err_set(err, XT_ENOMEM, "broker: out of memory");
        return NULL;
    }
    b->cfg = cfg;
    b->sync = cfg->learner_mode == xt_config_enum_index(XT_CFGK_learner_mode, "sync");
    b->stop = stop;
    b->learner = -1;
    b->heartbeat_s = (double)cfg->broker_heartbeat_ms / 1000.0;
    b->liveness_s = (double)cfg->broker_liveness_ms / 1000.0;
    b->incarnation = (uint64_t)(xt_time_wall() * 1e6); // microseconds: fresh per start, increasing
    snprintf(b->run_dir, sizeof b->run_dir, "%s", run_dir);
    s_eval_reset(b);
    b->peers = calloc(S_MAX_PEERS, sizeof *b->peers);
    b->workers = calloc(S_MAX_PEERS, sizeof *b->workers);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = S_FRAME_MAX;
    lim.max_workers = S_MAX_PEERS;
    lim.max_shards = XT_ASSIGN_MAX_ENVS;
    char jpath[XT_RUN_PATH_MAX + 32];
    snprintf(jpath, sizeof jpath, "%s/broker.journal", run_dir);
    if (!b->peers || !b->workers) {
        xt_err_set(err, XT_ENOMEM, "broker: out of memory for %d sessions", S_MAX_PEERS);
        goto fail;
    }
    if (xt_plan_init(&b->plan, cfg, err) || xt_file_mkdirs(run_dir, err) || s_freeze_config(b, err)) goto fail;
    b->run = xt_run_open(&b->plan, jpath, &b->run_info, err);
    if (!b->run) goto fail;
    b->dec = xt_wire_decoder_new(&lim, err);
    b->enc = b->dec ? xt_wire_encoder_new(&lim, err) : NULL;
    if (!b->enc) goto fail;
    int64_t stall = 3 * cfg->broker_heartbeat_ms > 2000 ? 3 * cfg->broker_heartbeat_ms : 2000;
    if (xt_broker_stats_init(&b->st, b->plan.n_folds, stall, err) || s_bind(b, err) ||
        xt_broker_stats_serve(&b->st, http_bind ? http_bind : cfg->broker_bind, (int)cfg->broker_http_port, err))
        goto fail;
    // Replayed results are metrics too (a restarted broker shows them again).
    for (int k = 0; k < b->plan.n_folds; k++) {
        const xt_run_fold_info *f = xt_run_fold_state(b->run, k);
        for (int s = 0; s < b->plan.n_shards; s++) {
            char tf[16];
            if (f->evals[s].have &&
                xt_broker_stats_eval(&b->st, k, b->plan.shards[s].name, xt_timeframe_name(b->plan.shards[s].tf_sec, tf),
                                     f->evals[s].metrics[XT_WIRE_EVAL_SHARPE],
                                     f->evals[s].metrics[XT_WIRE_EVAL_TOTAL_RETURN], err))
                goto fail;
        }
        if (f->has_ckpt) xt_prom_gauge_set(b->st.weights_version, (double)f->ckpt_version);
    }
    s_sample(b);
    return b;
fail:
    xt_broker_destroy(&b);
    return NULL;
}

int xt_broker_run(xt_broker *b, xt_err *err) {
    b->loop = zloop_new();
    if (!b->loop) return xt_err_set(err, XT_ENOMEM, "broker: cannot create the event loop");
    if (zloop_reader(b->loop, b->router, s_on_router, b) != 0 ||
        zloop_timer(b->loop, (size_t)b->cfg->broker_heartbeat_ms, 0, s_on_timer, b) < 0)
        return xt_err_set(err, XT_EIO, "broker: cannot register the control socket and timer with the event loop");
    // A run whose folds are all done but whose DONE was not journaled yet
    // (a crash in between) finishes now; a finished run answers DONE to
    // everyone for one liveness period and exits.
    if (xt_run_fold(b->run) >= b->plan.n_folds && s_finish(b)) {
        *err = b->fatal_err;
        return err->code;
    }
    while (!b->stopping && !b->fatal) {
        // zloop_start returns -1 when a handler asks to stop, and 0 when a
        // signal interrupted its poll: then run the tick at once so that a
        // stop request is served without waiting for the timer.
        if (zloop_start(b->loop) == 0 && !b->stopping && !b->fatal) s_tick(b);
    }
    if (b->fatal) {
        *err = b->fatal_err;
        return err->code ? err->code : XT_EIO;
    }
    return 0;
}

const char *xt_broker_endpoint(const xt_broker *b) { return b->endpoint; }

const char *xt_broker_metrics_url(const xt_broker *b) { return xt_metrics_http_url(b->st.http); }

const char *xt_broker_describe(const xt_broker *b, char *buf, size_t cap) {
    int fold = xt_run_fold(b->run);
    if (xt_run_finished(b->run))
        snprintf(buf, cap, "run %s: finished (%d folds)", b->plan.run_id, b->plan.n_folds);
    else
        snprintf(buf, cap, "run %s: fold %d of %d, %s, %d shards x %llu env steps (%s, %llu journal records)",
                 b->plan.run_id, fold < b->plan.n_folds ? fold : b->plan.n_folds - 1, b->plan.n_folds,
                 xt_wire_phase_name(xt_run_phase(b->run)), b->plan.n_shards,
                 (unsigned long long)b->plan.step_budget, b->run_info.resumed ? "resumed" : "new",
                 (unsigned long long)b->run_info.records);
    return buf;
}

void xt_broker_destroy(xt_broker **self_p) {
    if (!self_p || !*self_p) return;
    xt_broker *b = *self_p;
    zloop_destroy(&b->loop);
    zsock_destroy(&b->router);
    xt_wire_curve_auth_destroy(&b->auth);
    zcert_destroy(&b->cert);
    xt_broker_stats_destroy(&b->st);
    xt_wire_decoder_destroy(&b->dec);
    xt_wire_encoder_destroy(&b->enc);
    xt_run_destroy(&b->run);
    free(b->peers);
    free(b->workers);
    free(b);
    *self_p = NULL;
}
