// ingest.c - rollout chunks from the PULL socket into a bounded buffer of
// batches (ingest.h).
//
// Purpose: turn frames into validated chunks inside batch buffers, and say
// when a batch is ready, while never holding more than n_batches batches.
// Invariants:
//   - at most one buffer is FILLING; a buffer is FILLING, READY (closed:
//     full, or in sync mode every rostered actor delivered; queued in FIFO
//     order by `seq`), TRAINING (handed out) or FREE;
//   - sync mode: `pending` = rostered actors whose `got` (chunks stored for
//     the FILLING batch) is below their `need`;
//   - a stored chunk passed the decoder, the shape check, the roster, the
//     fold and the policy-lag rule at the moment it was stored;
//   - nothing here allocates after xt_ingest_new (the decoder has its arena,
//     the batchers their slots, the roster its fixed table).
// Ownership: the ingest owns its decoder, batchers and roster table; the
// config's symbol list is borrowed. Threads: the loop thread only.
#include "ingest.h"

#include "core/log.h"
#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <stdlib.h>
#include <string.h>

#define S_ROSTER_MAX 1024 // actors in a roster (the wire's max Status rows)
#define S_ROSTER_SLOTS 2048

enum { S_FREE = 0, S_FILLING, S_READY, S_TRAINING };

typedef struct {
    char id[XT_WIRE_ID_MAX];
    uint64_t incarnation;
    uint64_t need, got; // sync: chunks owed per version, chunks stored for the filling batch
} s_actor;

typedef struct {
    xt_batcher *b;
    int state;
    uint64_t seq; // order in which buffers became READY
} s_buf;

struct xt_ingest {
    xt_ingest_config cfg;
    xt_wire_decoder *dec;
    size_t max_frame;
    s_buf *bufs; // [n_batches]
    int filling; // index of the FILLING buffer, -1 when none has room
    uint64_t seq;
    int open;
    uint32_t fold;
    uint64_t version;
    // Roster: actors[0..n_actors) with an open-addressing index (slot -> actor
    // + 1); the `prev` pair holds the previous roster while a new one is built.
    int roster_known, n_actors, n_prev, pending;
    s_actor *actors, *prev_actors;
    int16_t *slots, *prev_slots;
    unsigned logged; // reasons whose first drop was logged
    xt_ingest_stats st;
};

static const char *s_drop_names[XT_INGEST_DROP_N] = {
#define XT_X(e, n) #n,
    XT_INGEST_DROPS(XT_X)
#undef XT_X
};

const char *xt_ingest_drop_name(int r) { return r >= 0 && r < XT_INGEST_DROP_N ? s_drop_names[r] : "?"; }

// ---------------------------------------------------------------- roster

static void s_settle(xt_ingest *g);

static uint32_t s_hash(const char *s) {
    uint32_t h = 2166136261u; // FNV-1a
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

// Index of actor id in a roster (actors, slots), or -1.
static int s_find(const s_actor *actors, const int16_t *slots, const char *id) {
    for (uint32_t i = s_hash(id);; i++) {
        int k = slots[i & (S_ROSTER_SLOTS - 1)];
        if (k == 0) return -1;
        if (strcmp(actors[k - 1].id, id) == 0) return k - 1;
    }
}

static void s_count_pending(xt_ingest *g) {
    g->pending = 0;
    for (int a = 0; a < g->n_actors; a++) g->pending += g->actors[a].got < g->actors[a].need;
}

void xt_ingest_set_roster(xt_ingest *g, const xt_wire_worker *rows, int n) {
    // Keep the old roster aside: actors that stay keep their deliveries.
    s_actor *pa = g->prev_actors;
    int16_t *ps = g->prev_slots;
    g->prev_actors = g->actors, g->prev_slots = g->slots, g->n_prev = g->n_actors;
    g->actors = pa, g->slots = ps;
    memset(g->slots, 0, S_ROSTER_SLOTS * sizeof *g->slots);
    g->n_actors = 0;
    for (int r = 0; r < n && g->n_actors < S_ROSTER_MAX; r++) {
        if (rows[r].role != XT_WIRE_ROLE_ACTOR || !rows[r].id) continue;
        s_actor *a = &g->actors[g->n_actors];
        snprintf(a->id, sizeof a->id, "%s", rows[r].id);
        a->incarnation = rows[r].incarnation;
        a->need = (uint64_t)rows[r].envs * (uint64_t)(g->cfg.chunks_per_env > 0 ? g->cfg.chunks_per_env : 1);
        int old = g->roster_known ? s_find(g->prev_actors, g->prev_slots, a->id) : -1;
        a->got = old >= 0 && g->prev_actors[old].incarnation == a->incarnation ? g->prev_actors[old].got : 0;
        // Linear probing; the table is twice the roster's maximum, never full.
        uint32_t i = s_hash(a->id);
        while (g->slots[i & (S_ROSTER_SLOTS - 1)] != 0) i++;
        g->slots[i & (S_ROSTER_SLOTS - 1)] = (int16_t)(++g->n_actors);
    }
    g->roster_known = 1;
    s_count_pending(g);
    s_settle(g); // an actor that left may have been the last one owing chunks
}

// ---------------------------------------------------------------- buffers

// Chunks in READY or TRAINING buffers: updates that will run before a chunk
// stored now is trained (each publishes one more version).
static int s_ahead(const xt_ingest *g) {
    int n = 0;
    for (int i = 0; i < g->cfg.n_batches; i++) n += g->bufs[i].state == S_READY || g->bufs[i].state == S_TRAINING;
    return n;
}

// Re-establishes the invariants after a store, a roster change or a
// release: a FILLING buffer that is complete becomes READY, and a FREE one
// (if any) becomes the FILLING one.
static void s_settle(xt_ingest *g) {
    if (g->filling >= 0) {
        s_buf *f = &g->bufs[g->filling];
        int n = xt_batcher_count(f->b);
        int closed = n >= g->cfg.batch_chunks ||
                     (g->cfg.sync && g->roster_known && n > 0 && g->pending == 0);
        if (closed) {
            f->state = S_READY;
            f->seq = ++g->seq;
            g->filling = -1;
            // Sync: the next batch is the next version's; every actor owes again.
            for (int a = 0; a < g->n_actors; a++) g->actors[a].got = 0;
            s_count_pending(g);
        }
    }
    if (g->filling < 0)
        for (int i = 0; i < g->cfg.n_batches; i++)
            if (g->bufs[i].state == S_FREE) {
                g->bufs[i].state = S_FILLING;
                xt_batcher_reset(g->bufs[i].b);
                g->filling = i;
                break;
            }
}

// Discards every buffered chunk outside training, counting them as `why`.
static void s_discard(xt_ingest *g, int why) {
    for (int i = 0; i < g->cfg.n_batches; i++) {
        s_buf *b = &g->bufs[i];
        if (b->state != S_FILLING && b->state != S_READY) continue;
        g->st.dropped[why] += (uint64_t)xt_batcher_count(b->b);
        xt_batcher_reset(b->b);
        b->state = S_FREE;
    }
    for (int a = 0; a < g->n_actors; a++) g->actors[a].got = 0;
    s_count_pending(g);
    g->filling = -1;
    s_settle(g);
}

// ---------------------------------------------------------------- lifecycle

xt_ingest *xt_ingest_new(const xt_ingest_config *cfg, xt_err *err) {
    if (cfg->n_batches < 1 || cfg->batch_chunks < 1 || cfg->max_policy_lag < 0) {
        xt_err_set(err, XT_EINVAL, "ingest: %d batches of %d chunks, max lag %d: each must be positive",
                   cfg->n_batches, cfg->batch_chunks, cfg->max_policy_lag);
        return NULL;
    }
    xt_ingest *g = calloc(1, sizeof *g);
    if (!g) {
        xt_err_set(err, XT_ENOMEM, "ingest: out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    g->filling = -1;
    const xt_batcher_shape *sh = &cfg->shape;
    // Decoder limits: exactly the model's chunk shape, so anything larger is
    // rejected by the decoder (oversize / shape) before it is parsed further.
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    g->max_frame = xt_batcher_frame_bytes(sh);
    lim.max_frame_bytes = g->max_frame;
    lim.max_t = (uint32_t)sh->T;
    lim.max_obs_dim = (uint32_t)sh->obs_dim;
    lim.max_actions = (uint32_t)sh->act_dim;
    lim.max_lstm_layers = (uint32_t)(sh->L > 0 ? sh->L : 1);
    lim.max_lstm_hidden = (uint32_t)(sh->H > 0 ? sh->H : 1);
    lim.max_shards = 1;
    lim.max_workers = 1;
    g->bufs = calloc((size_t)cfg->n_batches, sizeof *g->bufs);
    g->actors = calloc(S_ROSTER_MAX, sizeof *g->actors);
    g->prev_actors = calloc(S_ROSTER_MAX, sizeof *g->prev_actors);
    g->slots = calloc(S_ROSTER_SLOTS, sizeof *g->slots);
    g->prev_slots = calloc(S_ROSTER_SLOTS, sizeof *g->prev_slots);
    if (!g->bufs || !g->actors || !g->slots || !g->prev_actors || !g->prev_slots) {
        xt_err_set(err, XT_ENOMEM, "ingest: out of memory");
        goto fail;
    }
    if (!(g->dec = xt_wire_decoder_new(&lim, err))) goto fail;
    for (int i = 0; i < cfg->n_batches; i++)
        if (!(g->bufs[i].b = xt_batcher_new(sh, cfg->batch_chunks, err))) goto fail;
    s_settle(g);
    return g;
fail:
    xt_ingest_destroy(&g);
    return NULL;
}

void xt_ingest_destroy(xt_ingest **self_p) {
    if (!self_p || !*self_p) return;
    xt_ingest *g = *self_p;
    for (int i = 0; g->bufs && i < g->cfg.n_batches; i++) xt_batcher_destroy(&g->bufs[i].b);
    xt_wire_decoder_destroy(&g->dec);
    free(g->bufs), free(g->actors), free(g->slots), free(g->prev_actors), free(g->prev_slots);
    free(g);
    *self_p = NULL;
}

// ---------------------------------------------------------------- state

void xt_ingest_open(xt_ingest *g, uint32_t fold, uint64_t version) {
    s_discard(g, XT_INGEST_DROP_FOLD);
    g->open = 1, g->fold = fold, g->version = version;
}

void xt_ingest_close(xt_ingest *g) {
    s_discard(g, XT_INGEST_DROP_FOLD);
    g->open = 0;
}

int xt_ingest_is_open(const xt_ingest *g) { return g->open; }

void xt_ingest_set_version(xt_ingest *g, uint64_t version) { g->version = version; }


// ---------------------------------------------------------------- frames

// Counts a drop; the first of each reason is logged with its sentence.
static int s_drop(xt_ingest *g, int why, xt_ingest_drop *out, const char *who, const char *msg) {
    g->st.dropped[why]++;
    if (!(g->logged & (1u << why))) {
        g->logged |= 1u << why;
        xt_warn("chunk from %s dropped (%s): %s; further %s drops are only counted", who, s_drop_names[why], msg,
                s_drop_names[why]);
    }
    if (out) *out = (xt_ingest_drop)why;
    return 1;
}

// The drop reason of a decoder reject: the reason counter that moved.
static int s_reject_reason(const xt_wire_stats *before, const xt_wire_stats *after) {
    int r = XT_WIRE_REJ_MALFORMED;
    for (int k = 0; k < XT_WIRE_REJ_N; k++)
        if (after->rejected[k] != before->rejected[k]) r = k;
    if (r == XT_WIRE_REJ_SHAPE) return XT_INGEST_DROP_SHAPE;
    if (r == XT_WIRE_REJ_NONFINITE) return XT_INGEST_DROP_NONFINITE;
    return XT_INGEST_DROP_DECODE;
}

int xt_ingest_offer(xt_ingest *g, const void *frame, size_t len, const char *via, xt_ingest_drop *why) {
    if (g->filling < 0) return XT_ESTATE;
    g->st.received++;
    xt_wire_msg m;
    xt_err err = {0};
    xt_wire_stats before = *xt_wire_decoder_stats(g->dec);
    if (xt_wire_decode(g->dec, frame, len, via, &m, &err) != 0) {
        // The decoder logged it (once per peer); here it is only counted.
        g->st.decode_errors++;
        int r = s_reject_reason(&before, xt_wire_decoder_stats(g->dec));
        g->st.dropped[r]++;
        if (why) *why = (xt_ingest_drop)r;
        return 1;
    }
    const char *who = m.hdr.sender_id;
    if (m.type != XT_WIRE_ROLLOUT_CHUNK) {
        g->st.decode_errors++;
        char msg[128];
        snprintf(msg, sizeof msg, "a %s on the chunk socket", xt_wire_type_name(m.type));
        return s_drop(g, XT_INGEST_DROP_DECODE, why, who, msg);
    }
    const xt_wire_chunk *c = &m.chunk;
    if (!g->open || c->shard.fold != g->fold) {
        char msg[128];
        if (g->open)
            snprintf(msg, sizeof msg, "fold %u but the learner trains fold %u", c->shard.fold, g->fold);
        else
            snprintf(msg, sizeof msg, "the learner is not training");
        return s_drop(g, XT_INGEST_DROP_FOLD, why, who, msg);
    }
    int a = -1;
    if (g->roster_known) {
        a = s_find(g->actors, g->slots, who);
        if (a < 0 || g->actors[a].incarnation != m.hdr.incarnation) {
            char msg[200];
            if (a < 0)
                snprintf(msg, sizeof msg, "actor not in the broker's roster (incarnation %llu)",
                         (unsigned long long)m.hdr.incarnation);
            else
                snprintf(msg, sizeof msg, "incarnation %llu but the broker's roster has %llu",
                         (unsigned long long)m.hdr.incarnation, (unsigned long long)g->actors[a].incarnation);
            return s_drop(g, XT_INGEST_DROP_STALE_INCARNATION, why, who, msg);
        }
    }
    int32_t sym = -1;
    xt_batcher_verdict v = xt_batcher_check(&g->cfg.shape, c, g->cfg.symbols, &sym, &err);
    if (v != XT_BATCHER_OK)
        return s_drop(g, v == XT_BATCHER_SHAPE ? XT_INGEST_DROP_SHAPE : XT_INGEST_DROP_INVALID, why, who, err.msg);
    // Lag at training time: the versions since it acted, plus one for every
    // batch queued ahead of it (each update publishes a version first).
    if (c->policy_version > g->version) {
        char msg[160];
        snprintf(msg, sizeof msg, "policy version %llu is newer than the learner's %llu (an earlier learner life)",
                 (unsigned long long)c->policy_version, (unsigned long long)g->version);
        return s_drop(g, XT_INGEST_DROP_POLICY_LAG, why, who, msg);
    }
    uint64_t lag = g->version - c->policy_version + (uint64_t)s_ahead(g);
    if (lag > (uint64_t)g->cfg.max_policy_lag) {
        char msg[160];
        snprintf(msg, sizeof msg, "policy version %llu would be trained %llu versions late (max %d)",
                 (unsigned long long)c->policy_version, (unsigned long long)lag, g->cfg.max_policy_lag);
        return s_drop(g, XT_INGEST_DROP_POLICY_LAG, why, who, msg);
    }
    xt_batcher_add(g->bufs[g->filling].b, c, sym);
    if (a >= 0 && ++g->actors[a].got == g->actors[a].need) g->pending--;
    g->st.accepted++;
    g->st.accepted_steps += c->t;
    s_settle(g);
    return 0;
}

int xt_ingest_has_room(const xt_ingest *g) { return g->filling >= 0; }

int xt_ingest_drain(xt_ingest *g, zsock_t *pull, int max_frames, xt_err *err) {
    double t0 = xt_time_mono();
    int n = 0;
    while (n < max_frames && g->filling >= 0) {
        xt_wire_rx rx;
        xt_err e = {0};
        int rc = xt_wire_recv(pull, &rx, ZMQ_DONTWAIT, &e);
        if (rc == 1) break;
        if (rc == XT_EPROTO) {
            // A multi-part message: drained by xt_wire_recv, counted here.
            g->st.received++, g->st.decode_errors++;
            s_drop(g, XT_INGEST_DROP_DECODE, NULL, "(unknown)", e.msg);
            n++;
            continue;
        }
        if (rc < 0) {
            g->st.seconds += xt_time_mono() - t0;
            if (err) *err = e;
            return rc;
        }
        xt_ingest_offer(g, rx.data, rx.len, xt_wire_rx_peer(&rx), NULL);
        xt_wire_rx_close(&rx);
        n++;
    }
    g->st.seconds += xt_time_mono() - t0;
    return n;
}

// ---------------------------------------------------------------- batches

int xt_ingest_take(xt_ingest *g, const xt_batch **batch, const xt_batcher **bat) {
    for (;;) {
        int best = -1;
        for (int i = 0; i < g->cfg.n_batches; i++)
            if (g->bufs[i].state == S_READY && (best < 0 || g->bufs[i].seq < g->bufs[best].seq)) best = i;
        if (best < 0) return -1;
        s_buf *b = &g->bufs[best];
        // Versions moved on since the chunks were stored (rollbacks, or more
        // updates than predicted): the lag rule is applied again here.
        uint64_t lag = (uint64_t)g->cfg.max_policy_lag;
        uint64_t min_v = g->version > lag ? g->version - lag : 0;
        g->st.dropped[XT_INGEST_DROP_POLICY_LAG] += (uint64_t)xt_batcher_drop_older(b->b, min_v);
        if (xt_batcher_count(b->b) == 0) {
            b->state = S_FREE;
            s_settle(g);
            continue;
        }
        b->state = S_TRAINING;
        *batch = xt_batcher_batch(b->b);
        if (bat) *bat = b->b;
        return best;
    }
}

void xt_ingest_canonical(xt_ingest *g, int id) {
    if (id >= 0 && id < g->cfg.n_batches && g->bufs[id].state == S_TRAINING) xt_batcher_sort(g->bufs[id].b);
}

void xt_ingest_release(xt_ingest *g, int id) {
    if (id < 0 || id >= g->cfg.n_batches || g->bufs[id].state != S_TRAINING) return;
    xt_batcher_reset(g->bufs[id].b);
    g->bufs[id].state = S_FREE;
    s_settle(g);
}

int xt_ingest_buffered(const xt_ingest *g) {
    int n = 0;
    for (int i = 0; i < g->cfg.n_batches; i++)
        if (g->bufs[i].state == S_FILLING || g->bufs[i].state == S_READY) n += xt_batcher_count(g->bufs[i].b);
    return n;
}

int xt_ingest_ready(const xt_ingest *g) {
    int n = 0;
    for (int i = 0; i < g->cfg.n_batches; i++)
        if (g->bufs[i].state == S_READY) n += xt_batcher_count(g->bufs[i].b);
    return n;
}

const xt_ingest_stats *xt_ingest_stats_of(const xt_ingest *g) { return &g->st; }

size_t xt_ingest_max_frame(const xt_ingest *g) { return g->max_frame; }
