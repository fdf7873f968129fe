// sock.h - the ZeroMQ sockets of DESIGN §6, made with czmq.
//
//   broker  ROUTER bind  (control)     learner PULL bind (rollout chunks)
//   learner PUB bind     (weights)     actor/learner DEALER connect (control)
//   actor   PUSH connect (chunks)      actor SUB connect (weights, newest kept)
//
// One socket carries single-frame messages (one xt_wire frame each); a ROUTER
// prefixes the peer's routing id. Binding to port 0 picks an ephemeral port
// and reports it. With CurveZMQ, bind sides are servers and connect sides
// clients; servers accept only the client public keys found in the allow-list
// directory that xt_wire_curve_auth_new hands to czmq's zauth.
// Sockets are not thread-safe: each belongs to the thread that uses it.
#ifndef XT_WIRE_SOCK_H
#define XT_WIRE_SOCK_H

#include "../core/err.h"

#include <czmq.h>
#include <stdint.h>

typedef struct {
    int hwm;                      // send and receive high-water mark in messages (0: ZeroMQ's 1000)
    int kernel_buf;               // TCP send and receive buffer in bytes (0: the OS's, autotuned up to MBs)
    int linger_ms;                // unsent messages kept on close (0: dropped, -1: forever)
    int64_t max_msg_bytes;        // inbound: a peer sending a larger message is dropped (0: none)
    const char *routing_id;       // DEALER: the id the ROUTER sees (NULL: ZeroMQ picks one)
    zcert_t *curve_cert;          // this side's key pair (borrowed); NULL: no CurveZMQ
    const char *curve_server_key; // connect side with curve_cert: the server's public key (Z85)
} xt_wire_sockopt;

// Leaves signal handling to the daemon: czmq installs SIGINT/SIGTERM
// handlers on first use unless told not to. Call once in main, early.
void xt_wire_sys_init(void);

// hwm 0, kernel_buf 0, linger 0, no size limit, no routing id, no Curve.
// (No ZMQ_CONFLATE anywhere: libzmq 4.3's conflate pipe leaks a message when
// its reader and writer contend; "newest wins" for weights is done by the
// publisher's republish timer and by subscribers that drain and keep the
// newest, see learner/publish.h.)
void xt_wire_sockopt_default(xt_wire_sockopt *o);

// New socket of type (ZMQ_ROUTER, ZMQ_PULL, ZMQ_PUB, ...) with o applied,
// bound to endpoint ("tcp://*:5556", or port 0 for an ephemeral one). *port
// (may be NULL) receives the bound TCP port (0 for non-TCP endpoints).
// Caller owns the socket (zsock_destroy). NULL + err naming the endpoint.
zsock_t *xt_wire_bind(int type, const char *endpoint, const xt_wire_sockopt *o, int *port,
                      xt_err *err);
// Same, connected to endpoint ("tcp://learner:5556"); connecting is
// asynchronous, so an absent peer is not an error here.
zsock_t *xt_wire_connect(int type, const char *endpoint, const xt_wire_sockopt *o, xt_err *err);

// Sends one frame; on a ROUTER, route / route_len name the peer (else NULL, 0).
// flags: 0 (block at the high-water mark) or ZMQ_DONTWAIT. Returns 0 sent,
// 1 not sent because it would block (ZMQ_DONTWAIT only), or XT_EIO.
int xt_wire_send(zsock_t *s, const void *route, size_t route_len, const void *frame, size_t len,
                 int flags, xt_err *err);

// One received message: the frame (and, on a ROUTER, the sender's routing id),
// held in zmq_msg_t without copying. Valid until xt_wire_rx_close.
typedef struct {
    zmq_msg_t route, body;
    int has_route;
    int open;         // between a successful receive and xt_wire_rx_close
    const void *data; // the frame
    size_t len;
} xt_wire_rx;

// Receives one message (blocking unless flags has ZMQ_DONTWAIT). Returns 0;
// 1 if nothing arrived (ZMQ_DONTWAIT, or the socket's receive timeout);
// XT_EPROTO for a message with the wrong number of parts (drained, dropped);
// or XT_EIO. On 0 the caller calls xt_wire_rx_close; otherwise rx holds nothing.
int xt_wire_recv(zsock_t *s, xt_wire_rx *rx, int flags, xt_err *err);
void xt_wire_rx_close(xt_wire_rx *rx);
// The sender's address ("10.0.0.7") for log lines, or NULL if unknown.
const char *xt_wire_rx_peer(xt_wire_rx *rx);

// ---- CurveZMQ

// Starts czmq's zauth (one per process: it serves every socket) allowing
// only the client certificates (public keys, zcert_save format) in
// allow_dir, read again when the directory changes. Start it before binding
// server sockets. Caller owns the actor (xt_wire_curve_auth_destroy).
zactor_t *xt_wire_curve_auth_new(const char *allow_dir, xt_err *err);
void xt_wire_curve_auth_destroy(zactor_t **auth_p);

// Loads this daemon's key pair from path (public) + path_secret (secret).
// Caller owns the cert (zcert_destroy). Fails if the secret key is missing.
zcert_t *xt_wire_curve_cert_load(const char *path, xt_err *err);
// Writes a new key pair to path (public: copy it into servers' allow dirs)
// and path_secret (secret, mode 0600).
int xt_wire_curve_cert_new(const char *path, xt_err *err);

#endif
