// envelope.h - frames of the xtrade wire protocol: encode and decode.
//
// A frame is one serialized Envelope (proto/xtrade.proto): protocol version,
// message type, sender id, incarnation, sequence number and one body. The
// decoder owns an arena sized once from xt_wire_limits; decoding never
// allocates, and a decoded message's strings and arrays point into that arena
// until the next xt_wire_decode on the same decoder. The encoder owns an
// output buffer of max_frame_bytes; a frame it returns is valid until the next
// xt_wire_encode on it. Neither is thread-safe: one per thread (e.g. one
// decoder per ingest thread, one encoder per sending socket).
//
// Rejected frames are counted per reason (xt_wire_decoder_stats) and logged
// once per peer at WARN; the caller drops the frame and carries on.
#ifndef XT_WIRE_ENVELOPE_H
#define XT_WIRE_ENVELOPE_H

#include "msg.h"

typedef struct xt_wire_decoder xt_wire_decoder;
typedef struct xt_wire_encoder xt_wire_encoder;

typedef struct {
    uint64_t frames;                  // frames accepted
    uint64_t bytes;                   // bytes of accepted frames
    uint64_t rejected[XT_WIRE_REJ_N]; // frames rejected, by xt_wire_reject
    uint64_t peers_logged;            // peers whose first reject was logged
} xt_wire_stats;

// ---- decoder

// Checks lim and allocates the arena and the repeated-field arrays. Caller
// owns the result (xt_wire_decoder_destroy). NULL + err on failure.
xt_wire_decoder *xt_wire_decoder_new(const xt_wire_limits *lim, xt_err *err);
void xt_wire_decoder_destroy(xt_wire_decoder **self_p);

// Decodes and validates one frame into out. via names the transport peer
// (ZeroMQ Peer-Address or routing id; NULL if unknown) for the log line when
// the envelope itself cannot be read. Rejects, in this order: frames over
// max_frame_bytes (before unpacking) or empty; bytes that are not an envelope
// (truncated, corrupt) or that need more than the arena; versions other than
// XT_WIRE_VERSION; unknown types or a body that is not the type's; then the
// body's shapes, values, finiteness and CRC (see xt_wire_msg_check).
// Returns 0, or XT_ERANGE / XT_EPROTO / XT_ENUMERIC with err naming the field.
// On a reject out->hdr is filled when the envelope was readable.
int xt_wire_decode(xt_wire_decoder *d, const void *frame, size_t len, const char *via,
                   xt_wire_msg *out, xt_err *err);

const xt_wire_stats *xt_wire_decoder_stats(const xt_wire_decoder *d);
// Capacity of the decode arena in bytes (max_frame_bytes plus room for
// structs and repeated sub-messages).
size_t xt_wire_decoder_arena_bytes(const xt_wire_decoder *d);

// ---- encoder

// Checks lim and allocates the output buffer (max_frame_bytes) and the
// scratch structs for repeated fields. Caller owns the result.
xt_wire_encoder *xt_wire_encoder_new(const xt_wire_limits *lim, xt_err *err);
void xt_wire_encoder_destroy(xt_wire_encoder **self_p);

// Validates m with xt_wire_msg_check (so a frame written here is one a peer
// with the same limits accepts), writes version XT_WIRE_VERSION and the
// weights CRC, and serializes with the body last. *frame / *len point into the
// encoder's buffer until the next encode. Returns 0, or a negative XT_E* with
// err "encode: <field>: <why>" or "encode: frame of N bytes exceeds ...".
int xt_wire_encode(xt_wire_encoder *e, const xt_wire_msg *m, const void **frame, size_t *len,
                   xt_err *err);

#endif
