// sender.h - rollout chunks to the learner: a PUSH socket fed from a bounded
// queue of encoded frames, never blocking the actor's event loop.
//
// Back-pressure without stalls: frames are sent with ZMQ_DONTWAIT. When the
// learner is slow or gone, ZeroMQ's pipe fills to its high-water mark, sends
// would block, and the frames wait in the sender's queue; the event loop
// polls the socket for POLLOUT (xt_sender_sock) and flushes again when it
// can. The runner collects only while the queue has room for a whole collect
// (xt_sender_room), so a blocked learner stops env stepping (the chunks it
// would produce could only go stale) while heartbeats and weights keep
// flowing. At most `slots` frames wait here, `hwm` in ZeroMQ's pipe and
// about one frame in the kernel's socket buffer (sized to one frame at
// connect): the chunks in flight between an actor and the learner, and so
// the policy lag they pick up waiting, stay bounded (docs/actor.md).
//
// A new learner endpoint (a new Assignment) replaces the socket; frames still
// queued for the old one are dropped and counted: they were acted by a
// policy the new learner does not train.
//
// Ownership: the sender owns its socket, encoder and frame slab (sized by
// xt_sender_reserve, outside the hot path). Threads: the actor's loop thread.
#ifndef XT_ACTOR_SENDER_H
#define XT_ACTOR_SENDER_H

#include "core/err.h"
#include "wire/msg.h"

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int hwm;                      // ZeroMQ send high-water mark of the PUSH socket (messages; 1-2: the queue is here)
    zcert_t *curve_cert;          // CurveZMQ client key pair (borrowed) or NULL
    const char *curve_server_key; // the learner's public key (Z85) with curve_cert
} xt_sender_config;

typedef struct {
    uint64_t frames_sent, bytes_sent;
    uint64_t dropped_endpoint; // queued frames dropped by an endpoint change
    uint64_t dropped_error;    // frames ZeroMQ refused with an error other than EAGAIN
    double t_encode, t_send;   // seconds encoding / handing frames to ZeroMQ
} xt_sender_stats;

typedef struct xt_sender xt_sender;

// Caller owns the result (xt_sender_destroy). No socket until xt_sender_connect.
xt_sender *xt_sender_new(const xt_sender_config *cfg, xt_err *err);
void xt_sender_destroy(xt_sender **self_p);

// Makes room for `slots` queued frames of up to `frame_bytes` each (a frame is
// the chunk's bulk bytes plus the envelope; see xt_sender_frame_bytes). Frames
// already queued are kept when the slab does not change, dropped otherwise.
int xt_sender_reserve(xt_sender *self, int slots, size_t frame_bytes, xt_err *err);
// Serialized size bound of a chunk with bulk_bytes of arrays.
size_t xt_sender_frame_bytes(size_t bulk_bytes);
// Queue slots for an actor of n_env envs (one collect = n_env chunks)
// feeding the learner's batches of batch_chunks chunks: two collects (the
// next one runs while the last one is sent) while they fit in half a batch,
// else one. More would only hold chunks that age while they wait.
int xt_sender_slots(int n_env, int batch_chunks);

// Connects the PUSH socket to endpoint. The same endpoint again is a no-op;
// another one replaces the socket and drops the queue (counted). The kernel's
// send buffer is sized to one reserved frame (call xt_sender_reserve first).
int xt_sender_connect(xt_sender *self, const char *endpoint, xt_err *err);
const char *xt_sender_endpoint(const xt_sender *self); // "" before the first connect
zsock_t *xt_sender_sock(xt_sender *self);                // NULL before the first connect

// Encodes m into the next free slot. XT_ESTATE when the queue is full; the
// encoder's error (a message that fails validation) otherwise.
int xt_sender_push(xt_sender *self, const xt_wire_msg *m, xt_err *err);
// Sends queued frames until the queue is empty or ZeroMQ would block.
// Returns the number of frames sent (>= 0). Never blocks.
int xt_sender_flush(xt_sender *self);
// Drops every queued frame.
void xt_sender_clear(xt_sender *self);

int xt_sender_pending(const xt_sender *self); // frames queued
int xt_sender_room(const xt_sender *self);    // free slots
const xt_sender_stats *xt_sender_stats_get(const xt_sender *self);

#endif
