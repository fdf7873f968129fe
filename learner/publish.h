// publish.h - the learner's weights publisher: a czmq actor that owns the
// PUB socket (DESIGN §6: "weights (version, fold, params), newest wins").
//
//   xt_publish_new       starts the actor; it binds the PUB socket and
//                        answers the start handshake (port or error)
//   xt_publish_weights   refuses non-finite params; otherwise hands a copy
//                        to the actor (returns once copied) which encodes a
//                        Weights frame (CRC-32 of the params bytes) and sends it
//   republish            the actor resends the newest frame every
//                        republish_ms while nothing newer came, so actors
//                        that connect late (PUB drops messages sent before a
//                        subscriber joined) get the weights within that time
//   xt_publish_destroy   "$TERM"
//
// Newest wins without ZMQ_CONFLATE (libzmq 4.3's conflate pipe leaks a
// message whenever its reader and writer threads contend): each subscriber's
// queue is short (hwm, default 4 frames), subscribers drain their SUB and keep
// only the newest version, and the republish timer resends the newest frame,
// so a subscriber that was too far behind when it went out (the PUB drops the
// new frame at the high-water mark) has it within republish_ms.
// Threads: the actor thread owns the socket, the encoder and the params
// copy; xt_publish_* are called from one other thread (the learner's loop).
// Statistics are atomics readable from any thread.
#ifndef XT_LEARNER_PUBLISH_H
#define XT_LEARNER_PUBLISH_H

#include "core/err.h"
#include "wire/sock.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    const char *endpoint;       // bind endpoint, e.g. "tcp://0.0.0.0:5557" (port 0: ephemeral)
    const xt_wire_sockopt *opt; // CurveZMQ (cert) and linger; hwm 0 means the default of 4
    const char *run_id;         // Weights.run_id (an id)
    const char *sender_id;      // envelope sender ("learner-0")
    uint64_t incarnation;       // envelope incarnation
    int republish_ms;           // resend period of the newest weights (0: never)
} xt_publish_config;

typedef struct {
    _Atomic uint64_t published; // distinct versions sent
    _Atomic uint64_t resent;    // republished frames
    _Atomic uint64_t refused;   // xt_publish_weights calls refused (non-finite)
    _Atomic uint64_t version;   // newest version sent
    _Atomic uint64_t bytes;     // frame bytes of the newest version
    _Atomic uint64_t nanos;     // time spent encoding and sending (ns)
} xt_publish_stats;

typedef struct xt_publish xt_publish;

// Starts the actor and waits for its handshake: NULL + err when the encoder
// cannot be built or the bind fails (the error names the endpoint). Caller
// owns the result (xt_publish_destroy).
xt_publish *xt_publish_new(const xt_publish_config *cfg, xt_err *err);
void xt_publish_destroy(xt_publish **self_p);

// TCP port the PUB socket is bound to.
int xt_publish_port(const xt_publish *self);

// Publishes params [n_params] as `version` of `fold`. Returns 0 once the
// actor has its own copy (the caller may then change params), or
// XT_ENUMERIC, sending nothing, when a value is NaN or infinite (err names
// the first one). Sending is asynchronous: the actor encodes and sends after
// the copy. The model size is known only once a fold's data is open, so the
// actor sizes its encoder and copy at the first publish (and again only if
// n_params changes); later publishes allocate nothing.
int xt_publish_weights(xt_publish *self, uint64_t version, uint32_t fold, const float *params, uint64_t n_params,
                       xt_err *err);

const xt_publish_stats *xt_publish_stats_of(const xt_publish *self);

#endif
