// test_learner_publish.c - the weights publisher actor: a published version
// reaches a subscriber with the params bit for bit and a valid CRC; NaN or
// infinite params are refused with the index named and never sent; the
// newest version is re-sent to late subscribers; a busy port fails the start
// with the endpoint named.
#include "testutil.h"

#include "publish.h"

#include "core/crc32.h"
#include "core/log.h"
#include "wire/envelope.h"

#include <math.h>
#include <string.h>

enum { N = 1000 };

typedef struct {
    xt_publish *pub;
    zsock_t *sub;
    xt_wire_decoder *dec;
    float params[N];
} fixture;

static int s_setup(void **state) {
    xt_log_init('T', XT_LOG_OFF, 0);
    xt_wire_sys_init();
    fixture *f = calloc(1, sizeof *f);
    xt_err err = {0};
    xt_publish_config pc = {"tcp://127.0.0.1:0", NULL, "run-1", "learner-0", 77, 50};
    f->pub = xt_publish_new(&pc, &err);
    if (!f->pub) fail_msg("%s", err.msg);
    assert_true(xt_publish_port(f->pub) > 0);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    f->dec = xt_wire_decoder_new(&lim, &err);
    for (int i = 0; i < N; i++) f->params[i] = 0.001f * (float)i - 0.3f;
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fixture *f = *state;
    zsock_destroy(&f->sub);
    xt_publish_destroy(&f->pub);
    assert_null(f->pub);
    xt_publish_destroy(&f->pub); // NULL is fine
    xt_wire_decoder_destroy(&f->dec);
    free(f);
    return 0;
}

static zsock_t *s_subscribe(fixture *f) {
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", xt_publish_port(f->pub));
    zsock_t *s = xt_wire_connect(ZMQ_SUB, ep, &o, NULL);
    assert_non_null(s);
    zsock_set_rcvtimeo(s, 3000);
    return s;
}

// Next Weights frame on sub (decoded; the decoder checks the CRC).
static xt_wire_weights s_next(fixture *f, zsock_t *sub) {
    xt_wire_rx rx;
    xt_err err = {0};
    assert_int_equal(xt_wire_recv(sub, &rx, 0, &err), 0);
    xt_wire_msg m;
    if (xt_wire_decode(f->dec, rx.data, rx.len, "test", &m, &err)) fail_msg("%s", err.msg);
    xt_wire_rx_close(&rx);
    assert_int_equal(m.type, XT_WIRE_WEIGHTS);
    assert_string_equal(m.hdr.sender_id, "learner-0");
    assert_int_equal(m.hdr.incarnation, 77);
    return m.weights;
}

static void t_publish_and_republish(void **state) {
    fixture *f = *state;
    xt_err err = {0};
    f->sub = s_subscribe(f);
    // The subscription is asynchronous: version 3 is re-sent every 50 ms,
    // so it arrives even though the first send may precede the join.
    assert_int_equal(xt_publish_weights(f->pub, 3, 2, f->params, N, &err), 0);
    f->params[0] = 99.0f; // the publisher took its own copy before returning
    xt_wire_weights w = s_next(f, f->sub);
    assert_int_equal(w.version, 3);
    assert_int_equal(w.fold, 2);
    assert_string_equal(w.run_id, "run-1");
    assert_int_equal(w.n_params, N);
    assert_true(w.params[0] == -0.3f);
    for (int i = 1; i < N; i++) assert_true(w.params[i] == f->params[i]);
    f->params[0] = -0.3f;
    assert_int_equal(w.crc32, xt_crc32(0, f->params, sizeof f->params));
    // another re-send of the same version follows
    w = s_next(f, f->sub);
    assert_int_equal(w.version, 3);
    const xt_publish_stats *st = xt_publish_stats_of(f->pub);
    assert_int_equal(atomic_load(&st->published), 1);
    // (counted by the actor thread just after its send: allow it a moment)
    for (int k = 0; k < 100 && atomic_load(&st->resent) < 1; k++) zclock_sleep(10);
    assert_true(atomic_load(&st->resent) >= 1);
    assert_int_equal(atomic_load(&st->version), 3);
}

static void t_nonfinite_refused(void **state) {
    fixture *f = *state;
    xt_err err = {0};
    f->sub = s_subscribe(f);
    assert_int_equal(xt_publish_weights(f->pub, 1, 0, f->params, N, &err), 0);
    assert_int_equal(s_next(f, f->sub).version, 1);
    f->params[417] = NAN;
    assert_int_equal(xt_publish_weights(f->pub, 2, 0, f->params, N, &err), XT_ENUMERIC);
    assert_string_equal(err.msg, "weights v2 not published: params[417] is nan");
    f->params[417] = 0, f->params[N - 1] = -INFINITY;
    assert_int_equal(xt_publish_weights(f->pub, 2, 0, f->params, N, &err), XT_ENUMERIC);
    assert_string_equal(err.msg, "weights v2 not published: params[999] is -inf");
    // Only version 1 keeps coming (re-sent): nothing non-finite went out.
    for (int k = 0; k < 4; k++) assert_int_equal(s_next(f, f->sub).version, 1);
    const xt_publish_stats *st = xt_publish_stats_of(f->pub);
    assert_int_equal(atomic_load(&st->refused), 2);
    assert_int_equal(atomic_load(&st->published), 1);
    assert_int_equal(xt_publish_weights(f->pub, 2, 0, f->params, 0, &err), XT_EINVAL);
}

static void t_busy_port(void **state) {
    fixture *f = *state;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", xt_publish_port(f->pub));
    xt_publish_config pc = {ep, NULL, "run-1", "learner-0", 1, 0};
    xt_err err = {0};
    assert_null(xt_publish_new(&pc, &err));
    char want[96];
    snprintf(want, sizeof want, "PUB bind %s: ", ep);
    assert_contains(err.msg, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_publish_and_republish, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_nonfinite_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_busy_port, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
