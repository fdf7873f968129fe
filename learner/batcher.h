// batcher.h - rollout chunks from the wire -> one PPO batch in the layout of
// nn/backend.h (xt_batch: chunk-major, chunk c step t at c * T + t).
//
// A batcher is one batch buffer of up to max_chunks chunk slots, sized once
// from the run's chunk shape; adding a chunk copies its arrays into the next
// slot (no allocation). The learner keeps learner.max_buffered_batches of
// them: one filling from the PULL socket while another is trained on.
//
// Mapping of one RolloutChunk (protocol.md) into slot c:
//   obs [T+1][D]             -> obs + c (T+1) D
//   actions i32 [T]          -> actions_i + c T        (categorical head)
//   actions f32 [T][A]       -> actions + c T A        (Gaussian head)
//   masks u8 [T][A] | empty  -> masks + c T A          (empty: all ones)
//   logp, rewards [T]        -> logp, rewards + c T
//   episode_start [T]        -> starts + c T
//   terminated, truncated [T]-> terminated, truncated + c T
//   actor_h / actor_c [L][H] -> h0 / c0 + c S, first L H   (S = 2 L H)
//   critic_h / critic_c      -> h0 / c0 + c S + L H        (empty: zeros)
//   shard symbol             -> sym[c] (only with a symbol embedding)
//   trunc_values [T] | empty -> trunc_value + c T       (any chunk without them:
//                                                       batch.trunc_value NULL, gae.h's fallback)
// valid stays NULL (every step is real).
//
// Threads: the learner's loop thread fills a batcher; the training thread
// reads the batch while the loop leaves that batcher alone (the hand-off is
// a message on the training actor's pipe).
#ifndef XT_LEARNER_BATCHER_H
#define XT_LEARNER_BATCHER_H

#include "core/config.h"
#include "core/err.h"
#include "nn/backend.h"
#include "nn/model.h"
#include "wire/msg.h"

#include <stdint.h>

// What every chunk of a run must look like: the model spec's widths and T.
typedef struct {
    int T;            // ppo.chunk_len
    int obs_dim;      // D
    int act_dim;      // A
    int gaussian;     // 1: continuous actions (portfolio env), 0: categorical
    int L, H;         // LSTM layers and units (both 0 for an MLP policy)
    int shared_trunk; // 1: the critic has no state of its own
    int n_symbols;    // > 0: symbol embedding; chunks carry symbol ids
    int state_size;   // 2 L H floats of h (and of c) per chunk
} xt_batcher_shape;

// Shape of the chunks a model spec trains on, with T steps per chunk.
void xt_batcher_shape_of(xt_batcher_shape *sh, const xt_model_spec *spec, int T);

// Bytes of the largest frame a valid chunk of this shape can take (values,
// masks and critic state present, ids at their longest) plus slack for the
// envelope: the decoder's max_frame_bytes.
size_t xt_batcher_frame_bytes(const xt_batcher_shape *sh);

// Why a chunk the decoder accepted cannot join a batch of this shape.
typedef enum {
    XT_BATCHER_OK = 0,
    XT_BATCHER_SHAPE,   // T, obs_dim, actions, action kind, LSTM dims or critic state differ
    XT_BATCHER_INVALID, // a taken action its own mask forbids, or a symbol the embedding lacks
} xt_batcher_verdict;

// Checks c against sh (the decoder already checked lengths against c's own
// dimensions, values and finiteness). symbols / n_sym: the config's symbol
// list, read only with an embedding (sh->n_symbols > 0); *sym_id gets the
// chunk's symbol id (or -1). On a reject, err names the field:
// "RolloutChunk.obs_dim: 12 but the model takes 97".
xt_batcher_verdict xt_batcher_check(const xt_batcher_shape *sh, const xt_wire_chunk *c,
                                const xt_cfg_strlist *symbols, int32_t *sym_id, xt_err *err);

typedef struct xt_batcher xt_batcher;

// Buffers for max_chunks chunks of shape sh. Caller owns the result.
xt_batcher *xt_batcher_new(const xt_batcher_shape *sh, int max_chunks, xt_err *err);
void xt_batcher_destroy(xt_batcher **self_p);

// Forgets every chunk (the buffers stay).
void xt_batcher_reset(xt_batcher *self);
int xt_batcher_count(const xt_batcher *self);
int xt_batcher_capacity(const xt_batcher *self);

// Copies chunk c (accepted by xt_batcher_check for this shape) into the next
// slot and returns its index, or XT_ESTATE when every slot is taken.
int xt_batcher_add(xt_batcher *self, const xt_wire_chunk *c, int32_t sym_id);

// The policy version that acted chunk `slot`.
uint64_t xt_batcher_version(const xt_batcher *self, int slot);

// Removes the chunks acted by a version below min_version, keeping the
// order of the rest (slots move down). Returns how many were removed.
int xt_batcher_drop_older(xt_batcher *self, uint64_t min_version);

// Puts the chunks held in the canonical order of a deterministic run:
// by policy version, shard (a hash of its symbol or portfolio name, then its
// bar length), the actor's env index, and arrival for what is still equal
// (one actor's chunks of one env arrive in the order they were acted). So a
// batch of the same chunks has the same layout whatever order the network
// delivered them in, and whether one actor or several stepped the shards
// (as long as no two actors step the same shard: their env indices would
// tie). No allocation (one spare slot is the scratch space).
void xt_batcher_sort(xt_batcher *self);

// The batch of the chunks held (C = count). Points into the batcher: valid
// and unchanged until the next add, drop or reset.
const xt_batch *xt_batcher_batch(xt_batcher *self);

#endif
