// test_learner_ingest.c - the learner's chunk intake: valid chunks buffered
// and handed out as batches with their content intact; stale incarnations,
// unknown actors, too-old and too-new policy versions, other folds, bad
// shapes, non-finite values, garbage, truncated and oversized frames all
// dropped and counted by reason; back-pressure (a full buffer takes nothing,
// and a PULL socket is not read past it; with the learner's socket options
// an actor gets only a few frames into the connection while the learner
// does not read); the lag rule re-applied when a
// batch is taken; sync mode closing a batch when every rostered actor
// delivered its share.
#include "testutil.h"

#include "ingest.h"

#include "core/log.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <math.h>
#include <string.h>

enum { T = 8, D = 5, A = 3, L = 1, H = 4 };

typedef struct {
    float obs[(T + 1) * D], logp[T], rewards[T], ah[L * H], ac[L * H], ch[L * H], cc[L * H];
    int32_t acat[T];
    uint8_t term[T], trunc[T], start[T];
} store;

typedef struct {
    xt_wire_encoder *enc, *enc_nan; // the second writes non-finite values
    store st;
    xt_ingest *ing;
    xt_cfg_strlist syms;
    uint64_t seq;
} fixture;

static xt_batcher_shape s_shape(void) {
    xt_model_spec spec;
    xt_model_spec_default(&spec, D, A, 0);
    spec.lstm_layers = L, spec.lstm_hidden = H;
    xt_batcher_shape sh;
    xt_batcher_shape_of(&sh, &spec, T);
    return sh;
}

static xt_ingest *s_ingest(fixture *f, int batch, int n_batches, int lag, int sync, int cpe) {
    xt_ingest_config c = {s_shape(), batch, n_batches, lag, sync, cpe, &f->syms};
    xt_err err = {0};
    xt_ingest *g = xt_ingest_new(&c, &err);
    if (!g) fail_msg("%s", err.msg);
    return g;
}

static int s_setup(void **state) {
    xt_log_init('T', XT_LOG_ERROR, 0); // the first drop of each reason is logged at WARN
    fixture *f = calloc(1, sizeof *f);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_err err = {0};
    f->enc = xt_wire_encoder_new(&lim, &err);
    lim.finite = 0;
    f->enc_nan = xt_wire_encoder_new(&lim, &err);
    f->ing = s_ingest(f, 4, 2, 2, 0, 1);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fixture *f = *state;
    xt_wire_encoder_destroy(&f->enc);
    xt_wire_encoder_destroy(&f->enc_nan);
    xt_ingest_destroy(&f->ing);
    free(f);
    return 0;
}

// A valid chunk's message: obs[i] = mark * 100 + i, so batches can be traced.
static xt_wire_msg s_msg(fixture *f, const char *actor, uint64_t inc, uint64_t version, uint32_t fold, int mark) {
    store *s = &f->st;
    for (int i = 0; i < (T + 1) * D; i++) s->obs[i] = (float)(mark * 100 + i);
    for (int t = 0; t < T; t++) {
        s->acat[t] = t % A;
        s->logp[t] = -1.0986f;
        s->rewards[t] = 0.01f * (float)t;
        s->term[t] = 0, s->trunc[t] = 0, s->start[t] = t == 0;
    }
    for (int i = 0; i < L * H; i++) s->ah[i] = s->ac[i] = s->ch[i] = s->cc[i] = 0.5f;
    xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK, .hdr = {0, actor, inc, ++f->seq}};
    m.chunk = (xt_wire_chunk){.shard = {"EURUSD", NULL, 3600, fold},
                              .policy_version = version,
                              .t = T,
                              .obs_dim = D,
                              .n_actions = A,
                              .action_kind = XT_WIRE_ACTION_CATEGORICAL,
                              .lstm_layers = L,
                              .lstm_hidden = H,
                              .obs = s->obs,
                              .actions_cat = s->acat,
                              .logp = s->logp,
                              .rewards = s->rewards,
                              .terminated = s->term,
                              .truncated = s->trunc,
                              .episode_start = s->start,
                              .actor_h = s->ah,
                              .actor_c = s->ac,
                              .critic_h = s->ch,
                              .critic_c = s->cc};
    return m;
}

static int s_offer_msg(fixture *f, xt_wire_encoder *e, const xt_wire_msg *m, xt_ingest_drop *why) {
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(e, m, &frame, &len, &err)) fail_msg("%s", err.msg);
    return xt_ingest_offer(f->ing, frame, len, "test", why);
}

static int s_offer(fixture *f, const char *actor, uint64_t inc, uint64_t version, uint32_t fold, int mark,
                   xt_ingest_drop *why) {
    xt_wire_msg m = s_msg(f, actor, inc, version, fold, mark);
    return s_offer_msg(f, f->enc, &m, why);
}

#define DROPPED(f, r) (xt_ingest_stats_of((f)->ing)->dropped[XT_INGEST_DROP_##r])

// ---------------------------------------------------------------- accepted

static void t_valid_buffered(void **state) {
    fixture *f = *state;
    xt_ingest_open(f->ing, 0, 5);
    assert_int_equal(xt_ingest_is_open(f->ing), 1);
    for (int k = 0; k < 3; k++) assert_int_equal(s_offer(f, "actor-1", 9, 5 - (uint64_t)(k % 2), 0, k, NULL), 0);
    assert_int_equal(xt_ingest_buffered(f->ing), 3);
    const xt_batch *b;
    const xt_batcher *bat;
    assert_int_equal(xt_ingest_take(f->ing, &b, &bat), -1); // 3 of 4: not a batch yet
    assert_int_equal(s_offer(f, "actor-2", 4, 5, 0, 3, NULL), 0);
    assert_int_equal(xt_ingest_ready(f->ing), 4);
    int id = xt_ingest_take(f->ing, &b, &bat);
    assert_true(id >= 0);
    assert_int_equal(b->C, 4);
    assert_int_equal(b->T, T);
    for (int k = 0; k < 4; k++) {
        assert_true(b->obs[k * (T + 1) * D + 7] == (float)(k * 100 + 7)); // arrival order
        assert_int_equal(xt_batcher_version(bat, k), k == 3 ? 5 : 5 - (uint64_t)(k % 2));
    }
    assert_int_equal(b->actions_i[T + 4], 4 % A);
    assert_int_equal(xt_ingest_buffered(f->ing), 0);
    const xt_ingest_stats *st = xt_ingest_stats_of(f->ing);
    assert_int_equal(st->received, 4);
    assert_int_equal(st->accepted, 4);
    assert_int_equal(st->accepted_steps, 4 * T);
    xt_ingest_release(f->ing, id);
}

// ---------------------------------------------------------------- drops

static void t_stale_incarnation(void **state) {
    fixture *f = *state;
    xt_ingest_open(f->ing, 0, 5);
    // Before any roster every sender of the fold is accepted.
    assert_int_equal(s_offer(f, "actor-9", 1, 5, 0, 0, NULL), 0);
    xt_wire_worker rows[3] = {{.role = XT_WIRE_ROLE_LEARNER, .id = "learner-0", .incarnation = 3},
                              {.role = XT_WIRE_ROLE_ACTOR, .id = "actor-1", .incarnation = 7, .envs = 2},
                              {.role = XT_WIRE_ROLE_ACTOR, .id = "actor-2", .incarnation = 8, .envs = 2}};
    xt_ingest_set_roster(f->ing, rows, 3);
    xt_ingest_drop why = XT_INGEST_DROP_N;
    assert_int_equal(s_offer(f, "actor-1", 6, 5, 0, 1, &why), 1); // its previous life
    assert_int_equal(why, XT_INGEST_DROP_STALE_INCARNATION);
    assert_int_equal(s_offer(f, "actor-9", 1, 5, 0, 2, &why), 1); // not in the roster
    assert_int_equal(why, XT_INGEST_DROP_STALE_INCARNATION);
    assert_int_equal(s_offer(f, "learner-0", 3, 5, 0, 2, &why), 1); // rows that are not actors do not count
    assert_int_equal(s_offer(f, "actor-1", 7, 5, 0, 3, NULL), 0);
    assert_int_equal(s_offer(f, "actor-2", 8, 5, 0, 4, NULL), 0);
    assert_int_equal(DROPPED(f, STALE_INCARNATION), 3);
    assert_int_equal(xt_ingest_stats_of(f->ing)->accepted, 3);
    // The actor restarts: the roster names its new incarnation, the old one is stale.
    rows[1].incarnation = 70;
    xt_ingest_set_roster(f->ing, rows, 3);
    assert_int_equal(s_offer(f, "actor-1", 7, 5, 0, 5, &why), 1);
    assert_int_equal(s_offer(f, "actor-1", 70, 5, 0, 6, NULL), 0);
    assert_int_equal(DROPPED(f, STALE_INCARNATION), 4);
}

static void t_policy_lag(void **state) {
    fixture *f = *state;
    xt_ingest_open(f->ing, 0, 10); // max lag 2
    xt_ingest_drop why = XT_INGEST_DROP_N;
    assert_int_equal(s_offer(f, "a", 1, 7, 0, 0, &why), 1); // 3 versions old
    assert_int_equal(why, XT_INGEST_DROP_POLICY_LAG);
    assert_int_equal(s_offer(f, "a", 1, 11, 0, 0, &why), 1); // newer than the learner: an earlier life
    assert_int_equal(why, XT_INGEST_DROP_POLICY_LAG);
    for (int k = 0; k < 4; k++) assert_int_equal(s_offer(f, "a", 1, 8 + (uint64_t)(k % 3), 0, k, NULL), 0);
    // A batch is now queued ahead: a chunk of version 8 would be trained
    // into version 11, 3 late.
    assert_int_equal(s_offer(f, "a", 1, 8, 0, 9, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_POLICY_LAG);
    assert_int_equal(s_offer(f, "a", 1, 9, 0, 9, NULL), 0);
    assert_int_equal(DROPPED(f, POLICY_LAG), 3);
    // Two updates later (a rollback, or more than predicted) the taken batch
    // loses the chunks now more than 2 versions old: versions 8 and 9 of 8, 9, 10, 8.
    xt_ingest_set_version(f->ing, 12);
    const xt_batch *b;
    const xt_batcher *bat;
    int id = xt_ingest_take(f->ing, &b, &bat);
    assert_true(id >= 0);
    assert_int_equal(b->C, 1);
    assert_int_equal(xt_batcher_version(bat, 0), 10);
    assert_true(b->obs[3] == 203.0f); // the third chunk (mark 2) moved to slot 0
    assert_int_equal(DROPPED(f, POLICY_LAG), 6);
    xt_ingest_release(f->ing, id);
}

static void t_fold(void **state) {
    fixture *f = *state;
    xt_ingest_drop why = XT_INGEST_DROP_N;
    assert_int_equal(s_offer(f, "a", 1, 0, 0, 0, &why), 1); // not training yet
    assert_int_equal(why, XT_INGEST_DROP_FOLD);
    xt_ingest_open(f->ing, 2, 0);
    assert_int_equal(s_offer(f, "a", 1, 0, 1, 0, &why), 1); // the previous fold's
    assert_int_equal(why, XT_INGEST_DROP_FOLD);
    assert_int_equal(s_offer(f, "a", 1, 0, 2, 0, NULL), 0);
    assert_int_equal(s_offer(f, "a", 1, 0, 2, 0, NULL), 0);
    // Closing discards what is buffered (counted as fold drops).
    xt_ingest_close(f->ing);
    assert_int_equal(xt_ingest_buffered(f->ing), 0);
    assert_int_equal(DROPPED(f, FOLD), 4);
    assert_int_equal(s_offer(f, "a", 1, 0, 2, 0, &why), 1);
    assert_int_equal(DROPPED(f, FOLD), 5);
}

static void t_bad_shapes(void **state) {
    fixture *f = *state;
    xt_ingest_open(f->ing, 0, 0);
    xt_ingest_drop why = XT_INGEST_DROP_N;
    static float big[(T + 1) * (D + 1)];
    // obs_dim 6 > the model's 5: the decoder's limit (decode error, shape)
    xt_wire_msg m = s_msg(f, "a", 1, 0, 0, 0);
    m.chunk.obs_dim = D + 1, m.chunk.obs = big;
    assert_int_equal(s_offer_msg(f, f->enc, &m, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_SHAPE);
    // obs_dim 4: a valid frame, but not the model's width
    m = s_msg(f, "a", 1, 0, 0, 0);
    m.chunk.obs_dim = D - 1;
    assert_int_equal(s_offer_msg(f, f->enc, &m, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_SHAPE);
    // T = 6 instead of 8
    m = s_msg(f, "a", 1, 0, 0, 0);
    m.chunk.t = T - 2;
    assert_int_equal(s_offer_msg(f, f->enc, &m, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_SHAPE);
    // no critic state for a model with its own critic
    m = s_msg(f, "a", 1, 0, 0, 0);
    m.chunk.critic_h = m.chunk.critic_c = NULL;
    assert_int_equal(s_offer_msg(f, f->enc, &m, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_SHAPE);
    // a taken action its mask forbids
    static uint8_t masks[T * A];
    memset(masks, 1, sizeof masks);
    m = s_msg(f, "a", 1, 0, 0, 0);
    masks[4 * A + m.chunk.actions_cat[4]] = 0;
    m.chunk.masks = masks;
    assert_int_equal(s_offer_msg(f, f->enc, &m, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_INVALID);
    const xt_ingest_stats *st = xt_ingest_stats_of(f->ing);
    assert_int_equal(st->dropped[XT_INGEST_DROP_SHAPE], 4);
    assert_int_equal(st->dropped[XT_INGEST_DROP_INVALID], 1);
    assert_int_equal(st->decode_errors, 1); // only the first was the decoder's
    assert_int_equal(st->accepted, 0);
}

static void t_nonfinite(void **state) {
    fixture *f = *state;
    xt_ingest_open(f->ing, 0, 0);
    xt_ingest_drop why = XT_INGEST_DROP_N;
    xt_wire_msg m = s_msg(f, "a", 1, 0, 0, 0);
    f->st.obs[2 * D + 3] = NAN;
    assert_int_equal(s_offer_msg(f, f->enc_nan, &m, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_NONFINITE);
    m = s_msg(f, "a", 1, 0, 0, 0);
    f->st.rewards[5] = INFINITY;
    assert_int_equal(s_offer_msg(f, f->enc_nan, &m, &why), 1);
    m = s_msg(f, "a", 1, 0, 0, 0);
    f->st.ch[1] = -INFINITY; // critic state
    assert_int_equal(s_offer_msg(f, f->enc_nan, &m, &why), 1);
    assert_int_equal(DROPPED(f, NONFINITE), 3);
    assert_int_equal(xt_ingest_stats_of(f->ing)->decode_errors, 3);
    assert_int_equal(xt_ingest_buffered(f->ing), 0);
}

static void t_garbage(void **state) {
    fixture *f = *state;
    xt_ingest_open(f->ing, 0, 0);
    xt_ingest_drop why = XT_INGEST_DROP_N;
    const char junk[] = "\xff\xfe this is not an envelope \x01\x02";
    assert_int_equal(xt_ingest_offer(f->ing, junk, sizeof junk, "test", &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_DECODE);
    assert_int_equal(xt_ingest_offer(f->ing, junk, 0, "test", &why), 1); // empty
    // truncated: a valid frame cut short
    xt_wire_msg m = s_msg(f, "a", 1, 0, 0, 0);
    const void *frame;
    size_t len;
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, NULL), 0);
    assert_int_equal(xt_ingest_offer(f->ing, frame, len - 17, "test", &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_DECODE);
    // another protocol version: field 1 (varint) is the envelope's first byte pair
    uint8_t copy[4096];
    memcpy(copy, frame, len);
    assert_int_equal(copy[0], 0x08);
    copy[1] = 7;
    assert_int_equal(xt_ingest_offer(f->ing, copy, len, "test", &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_DECODE);
    // oversized: one byte past the limit a chunk of this model can reach
    size_t big = xt_ingest_max_frame(f->ing) + 1;
    uint8_t *over = calloc(big, 1);
    memcpy(over, frame, len);
    assert_int_equal(xt_ingest_offer(f->ing, over, big, "test", &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_DECODE);
    free(over);
    // a well-formed message that is not a chunk
    xt_wire_msg hb = {.type = XT_WIRE_HEARTBEAT, .hdr = {0, "a", 1, 1}};
    hb.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_ACTOR, XT_WIRE_STATE_RUNNING, 1.0, 5, 0, 0};
    assert_int_equal(s_offer_msg(f, f->enc, &hb, &why), 1);
    assert_int_equal(why, XT_INGEST_DROP_DECODE);
    const xt_ingest_stats *st = xt_ingest_stats_of(f->ing);
    assert_int_equal(st->received, 6);
    assert_int_equal(st->decode_errors, 6);
    assert_int_equal(st->dropped[XT_INGEST_DROP_DECODE], 6);
    // the ingest goes on: a valid chunk after all that is stored
    assert_int_equal(s_offer(f, "a", 1, 0, 0, 0, NULL), 0);
}

// ---------------------------------------------------------------- back-pressure

static void t_backpressure(void **state) {
    fixture *f = *state;
    xt_ingest_destroy(&f->ing);
    f->ing = s_ingest(f, 2, 2, 4, 0, 1); // two batches of two chunks
    xt_ingest_open(f->ing, 0, 0);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(xt_ingest_has_room(f->ing), 1);
        assert_int_equal(s_offer(f, "a", 1, 0, 0, k, NULL), 0);
    }
    // Both buffers full: nothing more is taken (or even counted).
    assert_int_equal(xt_ingest_has_room(f->ing), 0);
    assert_int_equal(s_offer(f, "a", 1, 0, 0, 9, NULL), XT_ESTATE);
    assert_int_equal(xt_ingest_stats_of(f->ing)->received, 4);
    const xt_batch *b;
    int id = xt_ingest_take(f->ing, &b, NULL);
    assert_int_equal(b->C, 2);
    assert_true(b->obs[0] == 0.0f);                 // the oldest batch first
    assert_int_equal(xt_ingest_has_room(f->ing), 0); // in training: still not free
    xt_ingest_release(f->ing, id);
    assert_int_equal(xt_ingest_has_room(f->ing), 1);

    // Through a socket: the drain stops reading at a full buffer, leaving
    // the rest in ZeroMQ's queue.
    xt_err err = {0};
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 100;
    int port = 0;
    zsock_t *pull = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &o, &port, &err);
    assert_non_null(pull);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    zsock_t *push = xt_wire_connect(ZMQ_PUSH, ep, &o, &err);
    assert_non_null(push);
    for (int k = 0; k < 5; k++) {
        xt_wire_msg m = s_msg(f, "a", 1, 0, 0, 10 + k);
        const void *frame;
        size_t len;
        assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, NULL), 0);
        assert_int_equal(xt_wire_send(push, NULL, 0, frame, len, 0, &err), 0);
    }
    zsock_set_rcvtimeo(pull, 2000);
    zpoller_t *p = zpoller_new(pull, NULL);
    assert_ptr_equal(zpoller_wait(p, 2000), pull);
    int got = 0;
    for (int tries = 0; tries < 200 && got < 2; tries++) {
        int n = xt_ingest_drain(f->ing, pull, 100, &err);
        assert_true(n >= 0);
        got += n;
        if (got < 2) zclock_sleep(5);
    }
    // one buffer was free (2 chunks); a full one and a ready one stop reading
    assert_int_equal(got, 2);
    assert_int_equal(xt_ingest_drain(f->ing, pull, 100, &err), 0);
    assert_int_equal(xt_ingest_stats_of(f->ing)->received, 6);
    id = xt_ingest_take(f->ing, &b, NULL);
    assert_true(b->obs[0] == 200.0f); // the older ready batch: chunks 2 and 3
    xt_ingest_release(f->ing, id);
    id = xt_ingest_take(f->ing, &b, NULL);
    assert_true(b->obs[0] == 1000.0f); // chunk marked 10: first through the socket
    xt_ingest_release(f->ing, id);
    // now the other three come through
    for (int tries = 0; tries < 200 && got < 5; tries++) {
        got += xt_ingest_drain(f->ing, pull, 100, &err);
        if (got < 5) zclock_sleep(5);
    }
    assert_int_equal(got, 5);
    assert_int_equal(xt_ingest_stats_of(f->ing)->accepted, 9);
    zpoller_destroy(&p);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

// While the learner does not read (its ingest is full), how many chunk
// frames of seed 003's size (32.6 KB) can one actor hand to ZeroMQ before
// its sends block? The PULL socket has the learner's options
// (xt_ingest_pull_sockopt), the PUSH the actor sender's (HWM 2, kernel send
// buffer of one frame). Bounded here means a few frames: ZeroMQ's two pipes
// (2 + 2), the two engines' partial messages and about one frame in each
// kernel buffer. With ZeroMQ's defaults (HWM 1000, autotuned TCP buffers of
// MBs) the same loop got ~90 frames in, i.e. versions of policy lag for a
// batch of a few hundred chunks. Nothing is lost: every frame arrives once
// the PULL side reads again.
static void t_bounded_in_flight(void **state) {
    (void)state;
    enum { FRAME = 32600, CAP = 200 };
    xt_err err = {0};
    xt_wire_sockopt po, so;
    xt_wire_sockopt_default(&po);
    xt_ingest_pull_sockopt(&po);
    assert_int_equal(po.hwm, XT_INGEST_PULL_HWM);
    assert_int_equal(po.kernel_buf, XT_INGEST_PULL_KERNEL_BUF);
    int port = 0;
    zsock_t *pull = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &po, &port, &err);
    assert_non_null(pull);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    xt_wire_sockopt_default(&so);
    so.hwm = 2, so.kernel_buf = FRAME;
    zsock_t *push = xt_wire_connect(ZMQ_PUSH, ep, &so, &err);
    assert_non_null(push);
    uint8_t *frame = calloc(1, FRAME);
    assert_non_null(frame);
    // Send without waiting until sends have been refused for 300 ms in a row
    // (ZeroMQ's I/O threads move frames into the kernel in the meantime).
    int sent = 0;
    double refused_since = -1;
    while (sent < CAP) {
        frame[0] = (uint8_t)sent;
        int rc = xt_wire_send(push, NULL, 0, frame, FRAME, ZMQ_DONTWAIT, &err);
        assert_true(rc >= 0);
        if (rc == 0) {
            sent++, refused_since = -1;
            continue;
        }
        double now = (double)zclock_mono() / 1000.0;
        if (refused_since < 0) refused_since = now;
        if (now - refused_since >= 0.3) break;
        zclock_sleep(10);
    }
    assert_true(sent >= 1);
    assert_true(sent <= 16); // 8-9 measured (see above); ZeroMQ defaults: ~90
    // The PULL side reads again: every frame arrives, in order.
    zsock_set_rcvtimeo(pull, 5000);
    for (int k = 0; k < sent; k++) {
        xt_wire_rx rx;
        assert_int_equal(xt_wire_recv(pull, &rx, 0, &err), 0);
        assert_int_equal(rx.len, FRAME);
        assert_int_equal(((const uint8_t *)rx.data)[0], (uint8_t)k);
        xt_wire_rx_close(&rx);
    }
    free(frame);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

// ---------------------------------------------------------------- sync mode

static void t_sync_shares(void **state) {
    fixture *f = *state;
    xt_ingest_destroy(&f->ing);
    f->ing = s_ingest(f, 16, 2, 0, 1, 2); // sync: 2 chunks per env and version
    xt_ingest_open(f->ing, 0, 3);
    xt_wire_worker rows[2] = {{.role = XT_WIRE_ROLE_ACTOR, .id = "actor-1", .incarnation = 1, .envs = 1},
                              {.role = XT_WIRE_ROLE_ACTOR, .id = "actor-2", .incarnation = 2, .envs = 2}};
    xt_ingest_set_roster(f->ing, rows, 2);
    xt_ingest_drop why;
    assert_int_equal(s_offer(f, "actor-1", 1, 2, 0, 0, &why), 1); // sync: only the current version
    assert_int_equal(why, XT_INGEST_DROP_POLICY_LAG);
    assert_int_equal(s_offer(f, "actor-1", 1, 3, 0, 0, NULL), 0);
    assert_int_equal(s_offer(f, "actor-1", 1, 3, 0, 1, NULL), 0); // actor-1 delivered 2 of 2
    for (int k = 0; k < 3; k++) assert_int_equal(s_offer(f, "actor-2", 2, 3, 0, 2 + k, NULL), 0);
    // The roster arrives again every second: deliveries are kept.
    xt_ingest_set_roster(f->ing, rows, 2);
    assert_int_equal(xt_ingest_ready(f->ing), 0); // actor-2 owes 1 of 4
    assert_int_equal(s_offer(f, "actor-2", 2, 3, 0, 5, NULL), 0);
    assert_int_equal(xt_ingest_ready(f->ing), 6);
    const xt_batch *b;
    int id = xt_ingest_take(f->ing, &b, NULL);
    assert_int_equal(b->C, 6);
    xt_ingest_release(f->ing, id);
    // Next version: actor-2 leaves the roster while actor-1 is complete.
    xt_ingest_set_version(f->ing, 4);
    assert_int_equal(s_offer(f, "actor-1", 1, 4, 0, 0, NULL), 0);
    assert_int_equal(s_offer(f, "actor-1", 1, 4, 0, 1, NULL), 0);
    assert_int_equal(s_offer(f, "actor-2", 2, 4, 0, 2, NULL), 0);
    assert_int_equal(xt_ingest_ready(f->ing), 0);
    xt_ingest_set_roster(f->ing, rows, 1); // actor-2 is not waited for
    assert_int_equal(xt_ingest_ready(f->ing), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_valid_buffered, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_stale_incarnation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_policy_lag, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_fold, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_bad_shapes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_nonfinite, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_garbage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_backpressure, s_setup, s_teardown),
        cmocka_unit_test(t_bounded_in_flight),
        cmocka_unit_test_setup_teardown(t_sync_shares, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
