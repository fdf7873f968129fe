// test_wire_sock.c - ZeroMQ sockets on loopback: ephemeral binding, PUSH/PULL
// and DEALER/ROUTER round trips of encoded frames, part-count and size limits,
// and CurveZMQ refusing a client whose key is not in the allow-list.
#include "testutil.h"

#include "wire/envelope.h"
#include "wire/sock.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    xt_wire_limits lim;
    xt_wire_encoder *enc;
    xt_wire_decoder *dec;
} fx;

static int s_setup(void **state) {
    static fx f;
    xt_wire_sys_init();
    xt_wire_limits_default(&f.lim);
    f.lim.max_frame_bytes = 1 << 20;
    f.lim.max_shards = 16;
    f.lim.max_workers = 16;
    f.enc = xt_wire_encoder_new(&f.lim, NULL);
    f.dec = xt_wire_decoder_new(&f.lim, NULL);
    *state = &f;
    return f.enc && f.dec ? 0 : -1;
}

static int s_teardown(void **state) {
    fx *f = *state;
    xt_wire_encoder_destroy(&f->enc);
    xt_wire_decoder_destroy(&f->dec);
    return 0;
}

static xt_wire_msg s_heartbeat(const char *sender, uint64_t seq) {
    return (xt_wire_msg){.type = XT_WIRE_HEARTBEAT,
                         .hdr = {0, sender, 5, seq},
                         .hb = {XT_WIRE_ROLE_ACTOR, XT_WIRE_STATE_RUNNING, 1234.5, 99, 2, 7}};
}

// Encodes m and sends it (to route on a ROUTER).
static void s_send(fx *f, zsock_t *s, const char *route, const xt_wire_msg *m) {
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(f->enc, m, &frame, &len, &err)) fail_msg("%s", err.msg);
    if (xt_wire_send(s, route, route ? strlen(route) : 0, frame, len, 0, &err))
        fail_msg("%s", err.msg);
}

// Receives one frame within timeout_ms and decodes it; returns 1 if nothing came.
static int s_recv(fx *f, zsock_t *s, int timeout_ms, xt_wire_msg *out, char route[64]) {
    zsock_set_rcvtimeo(s, timeout_ms);
    xt_wire_rx rx;
    xt_err err = {0};
    int rc = xt_wire_recv(s, &rx, 0, &err);
    if (rc == 1) return 1;
    if (rc) fail_msg("%s", err.msg);
    if (route) {
        size_t n = zmq_msg_size(&rx.route);
        assert_true(rx.has_route && n < 64);
        memcpy(route, zmq_msg_data(&rx.route), n);
        route[n] = '\0';
    }
    if (xt_wire_decode(f->dec, rx.data, rx.len, xt_wire_rx_peer(&rx), out, &err))
        fail_msg("%s", err.msg);
    xt_wire_rx_close(&rx);
    return 0;
}

static void t_push_pull_ephemeral(void **state) {
    fx *f = *state;
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 4;
    o.max_msg_bytes = (int64_t)f->lim.max_frame_bytes;
    xt_err err = {0};
    int port = -1, port2 = -1;
    zsock_t *pull = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &o, &port, &err);
    zsock_t *pull2 = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &o, &port2, &err);
    assert_non_null(pull);
    assert_non_null(pull2);
    assert_true(port > 0 && port < 65536 && port2 > 0 && port2 != port);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    zsock_t *push = xt_wire_connect(ZMQ_PUSH, ep, &o, &err);
    assert_non_null(push);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        xt_wire_msg m = s_heartbeat("actor-1", seq), out;
        s_send(f, push, NULL, &m);
        assert_int_equal(s_recv(f, pull, 5000, &out, NULL), 0);
        assert_int_equal(out.type, XT_WIRE_HEARTBEAT);
        assert_string_equal(out.hdr.sender_id, "actor-1");
        assert_int_equal(out.hdr.seq, seq);
        assert_true(out.hb.steps_per_s == 1234.5 && out.hb.policy_version == 7);
    }
    // A bound port is taken: binding it again names the endpoint.
    zsock_t *dup = xt_wire_bind(ZMQ_PULL, ep, &o, NULL, &err);
    assert_null(dup);
    assert_contains(err.msg, "PULL bind tcp://127.0.0.1:");
    assert_contains(err.msg, "Address already in use");
    zsock_destroy(&push);
    zsock_destroy(&pull);
    zsock_destroy(&pull2);
}

// A message over max_msg_bytes never reaches the receiver; later ones do.
static void t_max_msg_bytes(void **state) {
    fx *f = *state;
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.max_msg_bytes = 1024;
    xt_err err = {0};
    int port;
    zsock_t *pull = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &o, &port, &err);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    zsock_t *push = xt_wire_connect(ZMQ_PUSH, ep, &o, &err);
    static uint8_t big[4096];
    assert_int_equal(xt_wire_send(push, NULL, 0, big, sizeof big, 0, &err), 0);
    xt_wire_rx rx;
    zsock_set_rcvtimeo(pull, 300);
    assert_int_equal(xt_wire_recv(pull, &rx, 0, &err), 1);
    xt_wire_msg m = s_heartbeat("actor-1", 1), out;
    s_send(f, push, NULL, &m);
    assert_int_equal(s_recv(f, pull, 5000, &out, NULL), 0);
    assert_int_equal(out.hdr.seq, 1);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

static void t_dealer_router(void **state) {
    fx *f = *state;
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    xt_err err = {0};
    int port;
    zsock_t *router = xt_wire_bind(ZMQ_ROUTER, "tcp://127.0.0.1:0", &o, &port, &err);
    assert_non_null(router);
    char ep[64], route[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    o.routing_id = "actor-7";
    zsock_t *dealer = xt_wire_connect(ZMQ_DEALER, ep, &o, &err);
    assert_non_null(dealer);

    xt_wire_msg reg = {.type = XT_WIRE_REGISTER,
                       .hdr = {0, "actor-7", 3, 1},
                       .reg = {XT_WIRE_ROLE_ACTOR, 8, 4242, "node-b", 9102, 0, 0, "0.1.0"}},
                out;
    s_send(f, dealer, NULL, &reg);
    assert_int_equal(s_recv(f, router, 5000, &out, route), 0);
    assert_string_equal(route, "actor-7");
    assert_int_equal(out.type, XT_WIRE_REGISTER);
    assert_int_equal(out.reg.capacity, 8);
    assert_string_equal(out.reg.host, "node-b");

    // The broker answers the registered peer by its routing id.
    xt_wire_shard sh = {{"BTCUSD", NULL, 14400, 0}, 1577836800, 1640995200, 0, 4380, 0};
    xt_wire_msg as = {.type = XT_WIRE_ASSIGNMENT,
                      .hdr = {0, "broker", 1, 1},
                      .assign = {0, XT_WIRE_PHASE_TRAIN, 42, 1, &sh, "tcp://127.0.0.1:5556",
                                 "tcp://127.0.0.1:5557"}};
    s_send(f, router, route, &as);
    assert_int_equal(s_recv(f, dealer, 5000, &out, NULL), 0);
    assert_int_equal(out.type, XT_WIRE_ASSIGNMENT);
    assert_int_equal(out.assign.n_shards, 1);
    assert_string_equal(out.assign.shards[0].key.symbol, "BTCUSD");
    assert_int_equal(out.assign.shards[0].row_end, 4380);

    // A message of several frames is drained and refused; the next one is intact.
    zstr_sendm(dealer, "a");
    zstr_sendm(dealer, "b");
    zstr_send(dealer, "c");
    xt_wire_msg hb = s_heartbeat("actor-7", 2);
    s_send(f, dealer, NULL, &hb);
    xt_wire_rx rx;
    zsock_set_rcvtimeo(router, 5000);
    assert_int_equal(xt_wire_recv(router, &rx, 0, &err), XT_EPROTO);
    assert_string_equal(err.msg, "ROUTER: dropped a message of 4 part(s) (expected 2)");
    assert_int_equal(s_recv(f, router, 5000, &out, route), 0);
    assert_int_equal(out.type, XT_WIRE_HEARTBEAT);
    assert_int_equal(out.hdr.seq, 2);
    // Nothing waiting: DONTWAIT says so without an error.
    assert_int_equal(xt_wire_recv(router, &rx, ZMQ_DONTWAIT, &err), 1);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
}

static void t_curve_allow_list(void **state) {
    fx *f = *state;
    char dir[256], allow[300], path[400];
    xt_test_tmpdir(dir, "curve");
    snprintf(allow, sizeof allow, "%s/allow", dir);
    assert_int_equal(mkdir(allow, 0700), 0);
    xt_err err = {0};

    // Keys: the server's on disk (public + secret), the good client's public key in the allow dir.
    snprintf(path, sizeof path, "%s/server.key", dir);
    assert_int_equal(xt_wire_curve_cert_new(path, &err), 0);
    zcert_t *server = xt_wire_curve_cert_load(path, &err);
    assert_non_null(server);
    char secret[420];
    snprintf(secret, sizeof secret, "%s_secret", path);
    struct stat st;
    assert_int_equal(stat(secret, &st), 0);
    assert_int_equal(st.st_mode & 077, 0); // the secret is private to its owner
    zcert_t *good = zcert_new(), *bad = zcert_new();
    snprintf(path, sizeof path, "%s/good.key", allow);
    assert_int_equal(zcert_save_public(good, path), 0);
    // A public-only certificate cannot serve as a daemon's own key.
    assert_null(xt_wire_curve_cert_load(path, &err));
    assert_contains(err.msg, "no secret key");

    zactor_t *auth = xt_wire_curve_auth_new(allow, &err);
    assert_non_null(auth);
    xt_wire_sockopt so;
    xt_wire_sockopt_default(&so);
    so.curve_cert = server;
    int port;
    zsock_t *router = xt_wire_bind(ZMQ_ROUTER, "tcp://127.0.0.1:0", &so, &port, &err);
    assert_non_null(router);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);

    // Three clients that must be refused, then the allowed one.
    zcert_t *other = zcert_new();
    struct {
        const char *id;
        zcert_t *cert;
        const char *server_key;
    } c[] = {
        {"bad", bad, zcert_public_txt(server)},         // key not in the allow-list
        {"plain", NULL, NULL},                          // no CurveZMQ at all
        {"wrongserver", good, zcert_public_txt(other)}, // pins another server key
        {"good", good, zcert_public_txt(server)},
    };
    zsock_t *dealers[4];
    for (int i = 0; i < 4; i++) {
        xt_wire_sockopt co;
        xt_wire_sockopt_default(&co);
        co.routing_id = c[i].id;
        co.curve_cert = c[i].cert;
        co.curve_server_key = c[i].server_key;
        dealers[i] = xt_wire_connect(ZMQ_DEALER, ep, &co, &err);
        assert_non_null(dealers[i]);
        xt_wire_msg hb = s_heartbeat(c[i].id, (uint64_t)i);
        s_send(f, dealers[i], NULL, &hb);
    }
    xt_wire_msg out;
    char route[64];
    assert_int_equal(s_recv(f, router, 5000, &out, route), 0);
    assert_string_equal(route, "good");
    assert_string_equal(out.hdr.sender_id, "good");
    assert_int_equal(s_recv(f, router, 500, &out, route), 1);

    // A client without the server key is a configuration error, not a silent hang.
    xt_wire_sockopt co;
    xt_wire_sockopt_default(&co);
    co.curve_cert = good;
    assert_null(xt_wire_connect(ZMQ_DEALER, ep, &co, &err));
    assert_contains(err.msg, "CurveZMQ client needs the server's 40-character public key");

    for (int i = 0; i < 4; i++) zsock_destroy(&dealers[i]);
    zsock_destroy(&router);
    xt_wire_curve_auth_destroy(&auth);
    assert_null(auth);
    zcert_destroy(&server);
    zcert_destroy(&good);
    zcert_destroy(&bad);
    zcert_destroy(&other);

    assert_null(xt_wire_curve_auth_new("/nonexistent/allow", &err));
    assert_string_equal(
        err.msg, "/nonexistent/allow: CurveZMQ allow-list directory: No such file or directory");
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_push_pull_ephemeral),
        cmocka_unit_test(t_max_msg_bytes),
        cmocka_unit_test(t_dealer_router),
        cmocka_unit_test(t_curve_allow_list),
    };
    return cmocka_run_group_tests(t, s_setup, s_teardown);
}
