// sock.c - czmq socket helpers: options, bind/connect, single-frame send and
// receive, CurveZMQ keys and the zauth allow-list.
//
// Invariants: options are applied before bind/connect (ZeroMQ ignores most of
// them afterwards); every message is one frame, preceded on a ROUTER by the
// routing id. Receiving keeps the frame in a zmq_msg_t (no copy); ZeroMQ's
// own buffer is bounded by max_msg_bytes on receiving sockets, so a peer
// announcing a huge message is disconnected before anything is allocated.
// Ownership: callers own sockets, certs and the auth actor. Threads: a socket
// belongs to one thread; zauth runs in its own czmq actor thread.
#include "sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// ---------------------------------------------------------------- sockets

void xt_wire_sys_init(void) { zsys_handler_set(NULL); }

void xt_wire_sockopt_default(xt_wire_sockopt *o) { *o = (xt_wire_sockopt){0}; }

static const char *s_type_name(int type) {
    switch (type) {
    case ZMQ_ROUTER: return "ROUTER";
    case ZMQ_DEALER: return "DEALER";
    case ZMQ_PUSH: return "PUSH";
    case ZMQ_PULL: return "PULL";
    case ZMQ_PUB: return "PUB";
    case ZMQ_SUB: return "SUB";
    default: return "socket";
    }
}

// Creates the socket and applies o; server says which side of CurveZMQ.
static zsock_t *s_new(int type, const char *endpoint, const xt_wire_sockopt *o, int server,
                      xt_err *err) {
    if (o->curve_cert && !server && !(o->curve_server_key && strlen(o->curve_server_key) == 40)) {
        xt_err_set(err, XT_EINVAL,
                   "%s %s: CurveZMQ client needs the server's 40-character public key",
                   s_type_name(type), endpoint);
        return NULL;
    }
    zsock_t *s = zsock_new(type);
    if (!s) {
        xt_err_set(err, XT_EIO, "%s %s: cannot create socket: %s", s_type_name(type), endpoint,
                   zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (o->hwm > 0) {
        zsock_set_sndhwm(s, o->hwm);
        zsock_set_rcvhwm(s, o->hwm);
    }
    if (o->kernel_buf > 0) {
        // A high-water mark counts messages in ZeroMQ's pipes only; the
        // kernel's socket buffers below them hold MBs more on their own.
        zsock_set_sndbuf(s, o->kernel_buf);
        zsock_set_rcvbuf(s, o->kernel_buf);
    }
    zsock_set_linger(s, o->linger_ms);
    if (o->max_msg_bytes > 0)
        zmq_setsockopt(zsock_resolve(s), ZMQ_MAXMSGSIZE, &o->max_msg_bytes,
                       sizeof o->max_msg_bytes);
    if (o->routing_id) zsock_set_identity(s, o->routing_id);
    if (type == ZMQ_SUB) zsock_set_subscribe(s, "");
    if (o->curve_cert) {
        // zcert_apply sets our key pair; a server then authenticates clients
        // through zauth, a client pins the server's public key.
        zcert_apply(o->curve_cert, s);
        if (server)
            zsock_set_curve_server(s, 1);
        else
            zsock_set_curve_serverkey(s, o->curve_server_key);
    }
    return s;
}

zsock_t *xt_wire_bind(int type, const char *endpoint, const xt_wire_sockopt *o, int *port,
                      xt_err *err) {
    zsock_t *s = s_new(type, endpoint, o, 1, err);
    if (!s) return NULL;
    if (zmq_bind(zsock_resolve(s), endpoint) != 0) {
        xt_err_set(err, XT_EIO, "%s bind %s: %s", s_type_name(type), endpoint,
                   zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
        return NULL;
    }
    if (port) {
        // The last endpoint names the real port ("tcp://0.0.0.0:41234").
        char *last = zsock_last_endpoint(s);
        const char *colon = last ? strrchr(last, ':') : NULL;
        *port = last && strncmp(last, "tcp://", 6) == 0 && colon ? atoi(colon + 1) : 0;
        zstr_free(&last);
    }
    return s;
}

zsock_t *xt_wire_connect(int type, const char *endpoint, const xt_wire_sockopt *o, xt_err *err) {
    zsock_t *s = s_new(type, endpoint, o, 0, err);
    if (!s) return NULL;
    if (zmq_connect(zsock_resolve(s), endpoint) != 0) {
        xt_err_set(err, XT_EIO, "%s connect %s: %s", s_type_name(type), endpoint,
                   zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
        return NULL;
    }
    return s;
}

// ---------------------------------------------------------------- send / receive

// Sends one part, retrying on EINTR. 0, 1 (EAGAIN under ZMQ_DONTWAIT) or -1.
static int s_send_part(void *h, const void *p, size_t n, int flags) {
    for (;;) {
        if (zmq_send(h, p, n, flags) >= 0) return 0;
        if (zmq_errno() == EINTR) continue;
        return zmq_errno() == EAGAIN && (flags & ZMQ_DONTWAIT) ? 1 : -1;
    }
}

int xt_wire_send(zsock_t *s, const void *route, size_t route_len, const void *frame, size_t len,
                 int flags, xt_err *err) {
    void *h = zsock_resolve(s);
    // A routed message is [id][frame]: once the id part is queued, ZeroMQ
    // takes the frame part too (it never blocks in the middle of a message).
    int rc = route ? s_send_part(h, route, route_len, flags | ZMQ_SNDMORE) : 0;
    if (rc == 0) rc = s_send_part(h, frame, len, flags);
    if (rc >= 0) return rc;
    return xt_err_set(err, XT_EIO, "%s send of %zu bytes: %s", zsock_type_str(s), len,
                      zmq_strerror(zmq_errno()));
}

// Receives one part, retrying on EINTR. 0, 1 (EAGAIN) or -1.
static int s_recv_part(void *h, zmq_msg_t *m, int flags) {
    for (;;) {
        if (zmq_msg_recv(m, h, flags) >= 0) return 0;
        if (zmq_errno() == EINTR) continue;
        return zmq_errno() == EAGAIN ? 1 : -1;
    }
}

int xt_wire_recv(zsock_t *s, xt_wire_rx *rx, int flags, xt_err *err) {
    void *h = zsock_resolve(s);
    memset(rx, 0, sizeof *rx);
    zmq_msg_init(&rx->route);
    zmq_msg_init(&rx->body);
    rx->has_route = zsock_type(s) == ZMQ_ROUTER;
    zmq_msg_t *first = rx->has_route ? &rx->route : &rx->body;
    int rc = s_recv_part(h, first, flags), parts = 1;
    if (rc == 0 && rx->has_route) {
        // Later parts of a message arrive with its first: no need to wait.
        if (zmq_msg_more(&rx->route)) rc = s_recv_part(h, &rx->body, 0), parts = 2;
        else rc = 2;
    }
    if (rc == 0 && zmq_msg_more(&rx->body)) {
        // Drain the rest so the next receive starts on a message boundary.
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        int more = 1;
        while (more && s_recv_part(h, &extra, 0) == 0) {
            parts++;
            more = zmq_msg_more(&extra);
        }
        zmq_msg_close(&extra);
        rc = 2;
    }
    if (rc == 0) {
        rx->open = 1;
        rx->data = zmq_msg_data(&rx->body);
        rx->len = zmq_msg_size(&rx->body);
        return 0;
    }
    int e = zmq_errno();
    xt_wire_rx_close(rx);
    if (rc == 1) return 1;
    if (rc == 2)
        return xt_err_set(err, XT_EPROTO, "%s: dropped a message of %d part(s) (expected %d)",
                          zsock_type_str(s), parts, rx->has_route ? 2 : 1);
    return xt_err_set(err, XT_EIO, "%s receive: %s", zsock_type_str(s), zmq_strerror(e));
}

void xt_wire_rx_close(xt_wire_rx *rx) {
    zmq_msg_close(&rx->route);
    zmq_msg_close(&rx->body);
    rx->open = 0;
    rx->data = NULL;
    rx->len = 0;
}

const char *xt_wire_rx_peer(xt_wire_rx *rx) {
    return rx->open ? zmq_msg_gets(&rx->body, "Peer-Address") : NULL;
}

// ---------------------------------------------------------------- CurveZMQ

zactor_t *xt_wire_curve_auth_new(const char *allow_dir, xt_err *err) {
    struct stat st;
    errno = 0;
    if (stat(allow_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        xt_err_set(err, XT_ENOTFOUND, "%s: CurveZMQ allow-list directory: %s", allow_dir,
                   errno ? strerror(errno) : "not a directory");
        return NULL;
    }
    zactor_t *auth = zactor_new(zauth, NULL);
    if (!auth) {
        xt_err_set(err, XT_EIO, "%s: cannot start the ZeroMQ authenticator", allow_dir);
        return NULL;
    }
    // zauth's commands are synchronous: each is acknowledged by a signal.
    if (zstr_sendx(auth, "CURVE", allow_dir, NULL) != 0 || zsock_wait(auth) != 0) {
        zactor_destroy(&auth);
        xt_err_set(err, XT_EIO, "%s: the ZeroMQ authenticator refused the allow-list", allow_dir);
        return NULL;
    }
    return auth;
}

void xt_wire_curve_auth_destroy(zactor_t **auth_p) { zactor_destroy(auth_p); }

zcert_t *xt_wire_curve_cert_load(const char *path, xt_err *err) {
    zcert_t *c = zcert_load(path);
    if (!c) {
        xt_err_set(err, XT_ENOTFOUND, "%s: cannot load CurveZMQ certificate (%s or %s_secret)",
                   path, path, path);
        return NULL;
    }
    // A public-only certificate loads with an all-zero secret key.
    static const byte zero[32] = {0};
    if (memcmp(zcert_secret_key(c), zero, sizeof zero) == 0) {
        zcert_destroy(&c);
        xt_err_set(err, XT_EINVAL, "%s: no secret key (expected %s_secret, made by zcert_save)",
                   path, path);
        return NULL;
    }
    return c;
}

int xt_wire_curve_cert_new(const char *path, xt_err *err) {
    zcert_t *c = zcert_new();
    if (!c) return xt_err_set(err, XT_EIO, "%s: cannot generate a CurveZMQ key pair", path);
    int rc = zcert_save(c, path);
    zcert_destroy(&c);
    if (rc != 0)
        return xt_err_set(err, XT_EIO, "%s: cannot write the certificate: %s", path,
                          strerror(errno));
    return 0;
}
