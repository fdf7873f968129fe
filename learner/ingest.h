// ingest.h - the learner's intake of rollout chunks: PULL socket, decode,
// validation, a bounded buffer of batches, back-pressure, policy-lag
// accounting and stale-incarnation drops (DESIGN §5, §6).
//
// The buffer is n_batches batch buffers (learner.max_buffered_batches, each
// batch_chunks chunks; learner/batcher.h). One of them fills from the socket
// and closes (READY) when it is full, or in sync mode when every actor of
// the roster has delivered its share of the version (its envs x
// chunks_per_env chunks; an actor that leaves the roster is not waited for);
// a READY batch waits until the update takes it, and is returned after it. When no buffer can take another chunk the
// learner stops reading the socket: frames stay in ZeroMQ's queue up to its
// receive high-water mark and then actors block in send - nothing queues
// without limit.
//
// Every frame is one received chunk. It is dropped, counted by reason and
// never stored when:
//   decode             the decoder rejects it (malformed, version, oversize,
//                      type, value, crc) or it is not a RolloutChunk
//   shape              the decoder's shape check or the model's widths disagree
//   nonfinite          NaN/inf in obs, actions, logp, values, rewards or states
//   invalid            a taken action its mask forbids, a symbol the embedding lacks
//   stale_incarnation  the actor id is in the broker's roster with another
//                      incarnation (a restarted actor's earlier life), or not
//                      in the roster at all (once a roster has arrived)
//   policy_lag         acted by a version newer than the learner's (an earlier
//                      learner life) or older than max_policy_lag versions,
//                      counting the batches queued ahead of it
//   fold               the learner is not training, or the chunk's fold differs
// The first drop of each reason is logged at WARN with the sentence naming
// the field; later ones are only counted.
//
// Threads: one thread (the learner's loop) owns an ingest and its decoder.
// A batch handed out by xt_ingest_take is left alone until xt_ingest_release.
#ifndef XT_LEARNER_INGEST_H
#define XT_LEARNER_INGEST_H

#include "batcher.h"

#include "core/config.h"
#include "core/err.h"
#include "wire/msg.h"

#include <czmq.h>
#include <stdint.h>

#define XT_INGEST_DROPS(X)                                                                         \
    X(DECODE, decode)                                                                              \
    X(SHAPE, shape)                                                                                \
    X(NONFINITE, nonfinite)                                                                        \
    X(INVALID, invalid)                                                                            \
    X(STALE_INCARNATION, stale_incarnation)                                                        \
    X(POLICY_LAG, policy_lag)                                                                      \
    X(FOLD, fold)

typedef enum {
#define XT_X(e, n) XT_INGEST_DROP_##e,
    XT_INGEST_DROPS(XT_X)
#undef XT_X
    XT_INGEST_DROP_N
} xt_ingest_drop;

// "policy_lag", ... (the metric label).
const char *xt_ingest_drop_name(int reason);

typedef struct {
    uint64_t received;                  // frames read (every one counts, good or bad)
    uint64_t accepted;                  // chunks stored
    uint64_t accepted_steps;            // env steps in them
    uint64_t dropped[XT_INGEST_DROP_N]; // by reason
    uint64_t decode_errors;             // frames the decoder rejected (+ wrong part counts)
    double seconds;                     // wall time in receive + decode + copy
} xt_ingest_stats;

typedef struct {
    xt_batcher_shape shape;
    int batch_chunks;              // chunks per batch (C)
    int n_batches;                 // batch buffers, >= 1 (learner.max_buffered_batches)
    int max_policy_lag;            // versions a chunk may lag (sync mode: 0)
    int sync;                      // learner.mode sync (see "batches" below)
    int chunks_per_env;            // sync: chunks one env delivers per version (n_steps / T)
    const xt_cfg_strlist *symbols; // data.symbols, for embedding ids (borrowed)
} xt_ingest_config;

typedef struct xt_ingest xt_ingest;

// Buffers and the decoder (limits from the shape: a frame larger than any
// chunk of this shape is rejected as oversize). Caller owns the result.
xt_ingest *xt_ingest_new(const xt_ingest_config *cfg, xt_err *err);
void xt_ingest_destroy(xt_ingest **self_p);

// ---- what is accepted

// Replaces the roster by the actors among rows[0..n) (role actor; envs =
// their share in sync mode): chunks are then accepted only from those (id,
// incarnation) pairs. Until the first roster every actor is accepted. An
// actor that stays in the roster keeps what it delivered for the version.
void xt_ingest_set_roster(xt_ingest *self, const xt_wire_worker *rows, int n);
// Starts accepting chunks of `fold` acted by `version`; every buffered chunk
// not in training is discarded (counted as fold drops).
void xt_ingest_open(xt_ingest *self, uint32_t fold, uint64_t version);
// Stops accepting (every later frame is a fold drop) and discards the buffered chunks.
void xt_ingest_close(xt_ingest *self);
int xt_ingest_is_open(const xt_ingest *self);
// The learner's current (newest published) version.
void xt_ingest_set_version(xt_ingest *self, uint64_t version);

// ---- frames

// Decodes and checks one frame and stores it or drops it. Returns 0 when
// stored, 1 when dropped (*why, may be NULL, gets the reason), XT_ESTATE
// when no buffer has room (nothing was read or counted). via: the peer's
// address for the decoder's log line (may be NULL).
int xt_ingest_offer(xt_ingest *self, const void *frame, size_t len, const char *via, xt_ingest_drop *why);
// 1 when a chunk can be stored now; the loop reads the socket only then.
int xt_ingest_has_room(const xt_ingest *self);
// Reads frames from a PULL socket without blocking until none is waiting,
// max_frames were read or the buffer is full. Returns the frames read, or
// XT_EIO (err set) when the socket fails.
int xt_ingest_drain(xt_ingest *self, zsock_t *pull, int max_frames, xt_err *err);

// ---- batches

// The oldest ready batch: drops its chunks that now lag more than
// max_policy_lag behind the current version (policy_lag drops), then hands
// it out. Returns its id (>= 0) with *batch and *bat (may be NULL: the
// batcher, for the chunks' versions), or -1 when no batch is ready.
int xt_ingest_take(xt_ingest *self, const xt_batch **batch, const xt_batcher **bat);
// Puts taken batch `id` in canonical chunk order (xt_batcher_sort), as a
// deterministic run trains it; the batch pointer stays valid.
void xt_ingest_canonical(xt_ingest *self, int id);
// Gives a taken batch back (after the update) to be filled again.
void xt_ingest_release(xt_ingest *self, int id);
// Chunks stored and not yet taken (the queue-depth gauge).
int xt_ingest_buffered(const xt_ingest *self);
// Chunks in ready batches waiting to be taken.
int xt_ingest_ready(const xt_ingest *self);
const xt_ingest_stats *xt_ingest_stats_of(const xt_ingest *self);
// The decoder's max_frame_bytes (size ZeroMQ's receive limit above it).
size_t xt_ingest_max_frame(const xt_ingest *self);

#endif
