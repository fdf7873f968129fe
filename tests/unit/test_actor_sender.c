// test_actor_sender.c - the actor's chunk sender on loopback:
//   - with a learner that does not read, sends stop at ZeroMQ's high-water
//     mark, frames wait in the bounded queue, push refuses a full queue, and
//     flush returns at once instead of blocking;
//   - once the learner reads again every frame arrives, in order, intact;
//   - a new endpoint drops (and counts) the frames queued for the old one;
//   - a message that fails validation is refused with the encoder's sentence.
#include "testutil.h"

#include "sender.h"

#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <stdio.h>
#include <string.h>

#define T 8
#define D 5
#define A 3

typedef struct {
    float obs[(T + 1) * D], logp[T], rew[T], h[4];
    int32_t act[T];
    uint8_t term[T], trunc[T], start[T];
} chunk_data;

static xt_wire_msg s_chunk(chunk_data *c, uint64_t seq) {
    for (int k = 0; k < (T + 1) * D; k++) c->obs[k] = (float)(seq * 1000 + (uint64_t)k);
    for (int t = 0; t < T; t++) c->logp[t] = -1.0f, c->rew[t] = 0.5f, c->act[t] = t % A;
    memset(c->term, 0, T), memset(c->trunc, 0, T), memset(c->start, 0, T);
    c->start[0] = 1;
    xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK};
    m.hdr = (xt_wire_hdr){0, "actor-s", 9, seq};
    xt_wire_chunk *ch = &m.chunk;
    ch->shard = (xt_wire_shard_key){"BTCUSD", NULL, 3600, 0};
    ch->policy_version = 3, ch->t = T, ch->obs_dim = D, ch->n_actions = A;
    ch->action_kind = XT_WIRE_ACTION_CATEGORICAL;
    ch->lstm_layers = 1, ch->lstm_hidden = 2;
    ch->obs = c->obs, ch->actions_cat = c->act, ch->logp = c->logp, ch->rewards = c->rew;
    ch->terminated = c->term, ch->truncated = c->trunc, ch->episode_start = c->start;
    ch->actor_h = ch->actor_c = ch->critic_h = ch->critic_c = c->h;
    return m;
}

static void test_backpressure(void **state) {
    (void)state;
    xt_wire_sys_init();
    xt_err err = {0};
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 2;
    // A learner with a small pipe and a small TCP receive window, so that
    // back-pressure comes after a few hundred frames, not megabytes.
    zsock_t *pull = zsock_new(ZMQ_PULL);
    assert_non_null(pull);
    zsock_set_rcvhwm(pull, 2);
    zsock_set_rcvbuf(pull, 4096);
    int port = zsock_bind(pull, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    xt_sender_config sc = {.hwm = 2};
    xt_sender *s = xt_sender_new(&sc, &err);
    assert_non_null(s);
    assert_string_equal(xt_sender_endpoint(s), "");
    assert_int_equal(xt_sender_flush(s), 0); // no socket yet: nothing, no crash
    chunk_data cd;
    xt_wire_msg m = s_chunk(&cd, 1);
    size_t frame = xt_sender_frame_bytes(xt_wire_chunk_bytes(&m.chunk));
    assert_int_equal(xt_sender_reserve(s, 8, frame, &err), 0);
    assert_int_equal(xt_sender_connect(s, ep, &err), 0);
    assert_string_equal(xt_sender_endpoint(s), ep);
    // The learner does not read: keep pushing and flushing until the queue
    // stays full. Every flush must return at once (no blocking send).
    uint64_t seq = 0;
    double worst = 0, end = xt_time_mono() + 20;
    int full = 0;
    while (!full) {
        if (xt_time_mono() > end) fail_msg("the queue never filled");
        while (xt_sender_room(s) > 0) {
            m = s_chunk(&cd, ++seq);
            assert_int_equal(xt_sender_push(s, &m, &err), 0);
        }
        double t0 = xt_time_mono();
        xt_sender_flush(s);
        double dt = xt_time_mono() - t0;
        worst = dt > worst ? dt : worst;
        full = xt_sender_room(s) == 0;
        if (!full) zclock_sleep(2); // let ZeroMQ move frames into TCP buffers
    }
    printf("queue full after %llu frames; slowest flush %.2f ms\n", (unsigned long long)seq, worst * 1e3);
    assert_true(worst < 0.05);
    assert_int_equal(xt_sender_pending(s), 8);
    m = s_chunk(&cd, seq + 1);
    assert_int_equal(xt_sender_push(s, &m, &err), XT_ESTATE);
    assert_contains(err.msg, "queue full (8 frames)");
    // The learner reads again: every frame arrives in order.
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 1 << 20;
    xt_wire_decoder *dec = xt_wire_decoder_new(&lim, &err);
    zsock_set_rcvtimeo(pull, 2000);
    for (uint64_t k = 1; k <= seq; k++) {
        xt_wire_rx rx;
        int rc;
        while ((rc = xt_wire_recv(pull, &rx, ZMQ_DONTWAIT, &err)) == 1) {
            xt_sender_flush(s);
            zclock_sleep(1);
        }
        assert_int_equal(rc, 0);
        xt_wire_msg out;
        assert_int_equal(xt_wire_decode(dec, rx.data, rx.len, NULL, &out, &err), 0);
        assert_int_equal(out.type, XT_WIRE_ROLLOUT_CHUNK);
        assert_int_equal(out.hdr.seq, k);
        assert_true(out.chunk.obs[3] == (float)(k * 1000 + 3));
        xt_wire_rx_close(&rx);
    }
    assert_int_equal(xt_sender_pending(s), 0);
    assert_int_equal(xt_sender_stats_get(s)->frames_sent, seq);
    // Frames queued for one learner are dropped when the endpoint changes.
    zsock_t *pull2 = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &o, &port, &err);
    char ep2[64];
    snprintf(ep2, sizeof ep2, "tcp://127.0.0.1:%d", port);
    for (int k = 0; k < 3; k++) {
        m = s_chunk(&cd, ++seq);
        assert_int_equal(xt_sender_push(s, &m, &err), 0);
    }
    assert_int_equal(xt_sender_connect(s, ep, &err), 0); // same endpoint: nothing changes
    assert_int_equal(xt_sender_pending(s), 3);
    assert_int_equal(xt_sender_connect(s, ep2, &err), 0);
    assert_int_equal(xt_sender_pending(s), 0);
    assert_int_equal(xt_sender_stats_get(s)->dropped_endpoint, 3);
    // A chunk that fails validation never enters the queue.
    m = s_chunk(&cd, ++seq);
    m.chunk.t = 0;
    assert_true(xt_sender_push(s, &m, &err) < 0);
    assert_contains(err.msg, "encode: ");
    assert_int_equal(xt_sender_pending(s), 0);
    xt_wire_decoder_destroy(&dec);
    xt_sender_destroy(&s);
    xt_sender_destroy(&s); // NULL is fine
    zsock_destroy(&pull);
    zsock_destroy(&pull2);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_backpressure)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
