// msg_pb.h - internal to common/wire: the mapping between the protobuf-c
// structs generated from proto/xtrade.proto and the C views of msg.h, and two
// helpers msg.c shares with it. Daemons use envelope.h; only common/wire/*.c
// include this header.
#ifndef XT_WIRE_MSG_PB_H
#define XT_WIRE_MSG_PB_H

#include "msg.h"
#include "xtrade.pb-c.h"

// Records why (reason may be NULL), writes the sentence into err (may be
// NULL) and returns the error code of that reason (XT_ERANGE for oversize and
// shape, XT_ENUMERIC for non-finite, XT_EPROTO otherwise).
int xt_wire_fail(xt_wire_reject *reason, xt_wire_reject why, xt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Checks a chunk's dimensions and action kind against lim (nothing else), so
// that byte lengths may then be computed from them without overflow.
int xt_wire_chunk_dims(const xt_wire_chunk *c, const xt_wire_limits *lim, xt_wire_reject *reason,
                       xt_err *err);

// Decoder-owned arrays that repeated sub-messages are converted into.
typedef struct {
    xt_wire_shard *shards; // [cap_shards]
    uint32_t cap_shards;
    xt_wire_worker *workers; // [cap_workers]
    uint32_t cap_workers;
} xt_wire_pb_store;

// Encoder-owned protobuf-c structs that a C view is laid onto before packing.
// Bytes and strings point at the caller's data; nothing is copied.
typedef struct {
    Xtrade__Envelope env;
    union {
        Xtrade__Register reg;
        Xtrade__Heartbeat hb;
        Xtrade__Assignment assign;
        Xtrade__PhaseCommand phase_cmd;
        Xtrade__RolloutChunk chunk;
        Xtrade__Weights weights;
        Xtrade__CheckpointDone ckpt_done;
        Xtrade__EvalRequest eval_req;
        Xtrade__EvalResult eval_res;
        Xtrade__Status status;
    } body;
    Xtrade__ShardKey key; // RolloutChunk.shard / EvalResult.shard
    uint32_t cap_shards, cap_workers;
    Xtrade__Shard *shards;        // [cap_shards]
    Xtrade__ShardKey *keys;       // [cap_shards]
    Xtrade__Shard **shard_ptrs;   // [cap_shards]
    Xtrade__WorkerRow *rows;      // [cap_workers]
    Xtrade__WorkerRow **row_ptrs; // [cap_workers]
} xt_wire_pb_scratch;

// Fills out (type and body; the caller fills hdr) from an unpacked envelope
// whose type already agrees with its body case. Checks repeated counts against
// st, each dimension against lim before any byte length is computed from it,
// every bytes length against its dimensions, and the weights CRC. The caller
// then runs xt_wire_msg_check on out.
int xt_wire_msg_from_pb(const Xtrade__Envelope *env, const xt_wire_limits *lim,
                        const xt_wire_pb_store *st, xt_wire_msg *out, xt_wire_reject *reason,
                        xt_err *err);

// Lays m (already accepted by xt_wire_msg_check) onto s->env, computing the
// weights CRC. Counts fit s because the check held them to the same limits.
void xt_wire_msg_to_pb(const xt_wire_msg *m, xt_wire_pb_scratch *s);

#endif
