// envelope.c - frame decoder and encoder of the wire protocol.
//
// Decoding: size check -> protobuf-c unpack into a bump arena -> version,
// type and body checks -> xt_wire_msg_from_pb (byte lengths against
// dimensions, CRC) -> xt_wire_msg_check (values, finiteness). The arena is one
// block allocated at init and reset on every decode; protobuf-c's frees are
// no-ops, and an allocation that does not fit fails the unpack cleanly, so a
// hostile frame costs at most the arena, never more memory.
// Under AddressSanitizer the arena poisons the gaps between allocations, so a
// read past any decoded array is reported even though the arena is one block.
// Encoding: xt_wire_msg_check -> xt_wire_msg_to_pb (pointers to the caller's
// data, no copies) -> get_packed_size against the buffer -> pack.
// Ownership: each object owns its buffers; decoded views borrow the arena.
// Threads: one thread per decoder / encoder.
#include "envelope.h"

#include "core/log.h"
#include "msg_pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define XT_WIRE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XT_WIRE_ASAN 1
#endif
#endif
#ifdef XT_WIRE_ASAN
#include <sanitizer/asan_interface.h>
#define S_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define S_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define S_REDZONE 16
#else
#define S_POISON(p, n) ((void)(p), (void)(n))
#define S_UNPOISON(p, n) ((void)(p), (void)(n))
#define S_REDZONE 0
#endif

#define S_ALIGN 16          // every arena allocation: float32 arrays are aligned
#define S_PEERS_LOGGED 1024 // peers remembered for log-once (power of two)

// ---------------------------------------------------------------- arena

typedef struct {
    uint8_t *base;
    size_t cap, used;
    int exhausted; // an allocation failed during this decode
    ProtobufCAllocator pa;
} s_arena;

static void *s_arena_alloc(void *data, size_t n) {
    s_arena *a = data;
    size_t need = ((n ? n : 1) + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1);
    if (n > a->cap || need + S_REDZONE > a->cap - a->used) {
        a->exhausted = 1;
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need + S_REDZONE;
    S_UNPOISON(p, n);
    return p;
}

// Memory comes back all at once at the next reset.
static void s_arena_free(void *data, void *p) {
    (void)data;
    (void)p;
}

static void s_arena_reset(s_arena *a) {
    S_POISON(a->base, a->used);
    a->used = 0;
    a->exhausted = 0;
}

// Bytes and strings are copies of frame bytes (<= max_frame_bytes). Each
// repeated sub-message (shard, worker row) costs its struct(s), a pointer, a
// protobuf-c scan record and alignment/red-zone slack: 512 bytes covers them.
// 64 KiB covers the envelope, the body struct and the scan slabs of one level.
static size_t s_arena_bytes(const xt_wire_limits *lim) {
    size_t n = lim->max_frame_bytes + ((size_t)64 << 10) +
               ((size_t)lim->max_shards + lim->max_workers) * 512;
    return (n + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1); // aligned_alloc wants a multiple
}

// ---------------------------------------------------------------- decoder

struct xt_wire_decoder {
    xt_wire_limits lim;
    s_arena arena;
    xt_wire_pb_store store;
    xt_wire_stats stats;
    uint64_t peers[S_PEERS_LOGGED]; // FNV-1a hashes of peers already logged; 0 = empty
    int table_full_logged;
};

xt_wire_decoder *xt_wire_decoder_new(const xt_wire_limits *lim, xt_err *err) {
    if (xt_wire_limits_check(lim, err)) return NULL;
    xt_wire_decoder *d = calloc(1, sizeof *d);
    if (!d) {
        xt_err_set(err, XT_ENOMEM, "wire decoder: out of memory");
        return NULL;
    }
    d->lim = *lim;
    d->arena.cap = s_arena_bytes(lim);
    d->arena.base = aligned_alloc(S_ALIGN, d->arena.cap);
    d->store.cap_shards = lim->max_shards;
    d->store.cap_workers = lim->max_workers;
    d->store.shards = calloc(lim->max_shards, sizeof *d->store.shards);
    d->store.workers = calloc(lim->max_workers, sizeof *d->store.workers);
    if (!d->arena.base || !d->store.shards || !d->store.workers) {
        xt_err_set(err, XT_ENOMEM, "wire decoder: cannot allocate the %zu-byte decode arena",
                   d->arena.cap);
        xt_wire_decoder_destroy(&d);
        return NULL;
    }
    d->arena.pa = (ProtobufCAllocator){s_arena_alloc, s_arena_free, &d->arena};
    S_POISON(d->arena.base, d->arena.cap);
    return d;
}

void xt_wire_decoder_destroy(xt_wire_decoder **self_p) {
    if (!self_p || !*self_p) return;
    xt_wire_decoder *d = *self_p;
    if (d->arena.base) S_UNPOISON(d->arena.base, d->arena.cap);
    free(d->arena.base);
    free(d->store.shards);
    free(d->store.workers);
    free(d);
    *self_p = NULL;
}

const xt_wire_stats *xt_wire_decoder_stats(const xt_wire_decoder *d) { return &d->stats; }
size_t xt_wire_decoder_arena_bytes(const xt_wire_decoder *d) { return d->arena.cap; }

static int s_decode(xt_wire_decoder *d, const void *frame, size_t len, xt_wire_msg *out,
                    xt_wire_reject *why, xt_err *err) {
    // The size check comes first: nothing is parsed or copied for an oversized frame.
    if (len > d->lim.max_frame_bytes)
        return xt_wire_fail(why, XT_WIRE_REJ_OVERSIZE, err,
                            "frame of %zu bytes exceeds the %zu-byte limit", len,
                            d->lim.max_frame_bytes);
    if (len == 0) return xt_wire_fail(why, XT_WIRE_REJ_MALFORMED, err, "frame is empty");
    s_arena_reset(&d->arena);
    Xtrade__Envelope *env = xtrade__envelope__unpack(&d->arena.pa, len, frame);
    if (!env && d->arena.exhausted)
        return xt_wire_fail(why, XT_WIRE_REJ_OVERSIZE, err,
                            "frame of %zu bytes needs more than the %zu-byte decode arena", len,
                            d->arena.cap);
    if (!env)
        return xt_wire_fail(why, XT_WIRE_REJ_MALFORMED, err,
                            "frame of %zu bytes is truncated or not an xtrade envelope", len);
    out->hdr = (xt_wire_hdr){env->version, env->sender_id ? env->sender_id : "", env->incarnation,
                             env->seq};
    if (env->version != XT_WIRE_VERSION)
        return xt_wire_fail(why, XT_WIRE_REJ_VERSION, err,
                            "envelope: protocol version %u not supported (this build speaks %d)",
                            env->version, XT_WIRE_VERSION);
    int type = (int)env->type;
    if (type <= XT_WIRE_NONE || type >= XT_WIRE_TYPE_N)
        return xt_wire_fail(why, XT_WIRE_REJ_TYPE, err, "envelope: unknown message type %d", type);
    // The oneof body of type k is field k + 9 (msg.c asserts it at compile time).
    if ((int)env->body_case != type + 9) {
        if (env->body_case == XTRADE__ENVELOPE__BODY__NOT_SET)
            return xt_wire_fail(why, XT_WIRE_REJ_TYPE, err, "envelope: type %s but no body",
                                xt_wire_type_name(type));
        return xt_wire_fail(why, XT_WIRE_REJ_TYPE, err, "envelope: type %s but the body is %s",
                            xt_wire_type_name(type), xt_wire_type_name((int)env->body_case - 9));
    }
    int rc = xt_wire_msg_from_pb(env, &d->lim, &d->store, out, why, err);
    if (rc) return rc;
    return xt_wire_msg_check(out, &d->lim, why, err);
}

static uint64_t s_fnv1a(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

// Logs the first reject of each peer (sender id + incarnation when the
// envelope was readable, else the transport address), counts the rest.
static void s_log_once(xt_wire_decoder *d, const xt_wire_hdr *h, const char *via,
                       xt_wire_reject why, const xt_err *err) {
    char peer[320];
    if (xt_wire_id_valid(h->sender_id))
        snprintf(peer, sizeof peer, "%s (incarnation %llu%s%s)", h->sender_id,
                 (unsigned long long)h->incarnation, via ? ", " : "", via ? via : "");
    else
        snprintf(peer, sizeof peer, "%s", via && *via ? via : "an unknown peer");
    uint64_t key = s_fnv1a(0xcbf29ce484222325ull, peer);
    key += !key; // 0 marks an empty slot
    uint32_t mask = S_PEERS_LOGGED - 1, i = (uint32_t)key & mask;
    for (uint32_t probes = 0; probes < S_PEERS_LOGGED; probes++, i = (i + 1) & mask) {
        if (d->peers[i] == key) return;
        if (d->peers[i] == 0) {
            d->peers[i] = key;
            d->stats.peers_logged++;
            xt_warn("wire: rejected frame (%s) from %s: %s; later rejects from this peer are "
                    "counted, not logged",
                    xt_wire_reject_name(why), peer, err->msg);
            return;
        }
    }
    if (!d->table_full_logged) {
        d->table_full_logged = 1;
        xt_warn("wire: rejected frames from more than %d peers; further new peers are counted, "
                "not logged",
                S_PEERS_LOGGED);
    }
}

int xt_wire_decode(xt_wire_decoder *d, const void *frame, size_t len, const char *via,
                   xt_wire_msg *out, xt_err *err) {
    xt_err local;
    xt_err *e = err ? err : &local;
    xt_wire_reject why = XT_WIRE_REJ_MALFORMED;
    memset(out, 0, sizeof *out);
    out->hdr.sender_id = "";
    int rc = s_decode(d, frame, len, out, &why, e);
    if (rc == 0) {
        d->stats.frames++;
        d->stats.bytes += len;
        return 0;
    }
    d->stats.rejected[why]++;
    s_log_once(d, &out->hdr, via, why, e);
    return rc;
}

// ---------------------------------------------------------------- encoder

struct xt_wire_encoder {
    xt_wire_limits lim;
    uint8_t *buf; // [lim.max_frame_bytes]
    xt_wire_pb_scratch s;
};

xt_wire_encoder *xt_wire_encoder_new(const xt_wire_limits *lim, xt_err *err) {
    if (xt_wire_limits_check(lim, err)) return NULL;
    xt_wire_encoder *e = calloc(1, sizeof *e);
    if (!e) {
        xt_err_set(err, XT_ENOMEM, "wire encoder: out of memory");
        return NULL;
    }
    e->lim = *lim;
    e->buf = malloc(lim->max_frame_bytes);
    xt_wire_pb_scratch *s = &e->s;
    s->cap_shards = lim->max_shards;
    s->cap_workers = lim->max_workers;
    s->shards = calloc(lim->max_shards, sizeof *s->shards);
    s->keys = calloc(lim->max_shards, sizeof *s->keys);
    s->shard_ptrs = calloc(lim->max_shards, sizeof *s->shard_ptrs);
    s->rows = calloc(lim->max_workers, sizeof *s->rows);
    s->row_ptrs = calloc(lim->max_workers, sizeof *s->row_ptrs);
    if (!e->buf || !s->shards || !s->keys || !s->shard_ptrs || !s->rows || !s->row_ptrs) {
        xt_err_set(err, XT_ENOMEM, "wire encoder: cannot allocate the %zu-byte frame buffer",
                   lim->max_frame_bytes);
        xt_wire_encoder_destroy(&e);
        return NULL;
    }
    return e;
}

void xt_wire_encoder_destroy(xt_wire_encoder **self_p) {
    if (!self_p || !*self_p) return;
    xt_wire_encoder *e = *self_p;
    free(e->buf);
    free(e->s.shards);
    free(e->s.keys);
    free(e->s.shard_ptrs);
    free(e->s.rows);
    free(e->s.row_ptrs);
    free(e);
    *self_p = NULL;
}

int xt_wire_encode(xt_wire_encoder *e, const xt_wire_msg *m, const void **frame, size_t *len,
                   xt_err *err) {
    int rc = xt_wire_msg_check(m, &e->lim, NULL, err);
    if (rc) {
        xt_err_prefix(err, "encode");
        return rc;
    }
    xt_wire_msg_to_pb(m, &e->s);
    size_t n = xtrade__envelope__get_packed_size(&e->s.env);
    if (n > e->lim.max_frame_bytes)
        return xt_err_set(err, XT_ERANGE, "encode: frame of %zu bytes exceeds the %zu-byte limit",
                          n, e->lim.max_frame_bytes);
    size_t w = xtrade__envelope__pack(&e->s.env, e->buf);
    if (w != n) return xt_err_set(err, XT_EPROTO, "encode: packed %zu bytes but sized %zu", w, n);
    *frame = e->buf;
    *len = n;
    return 0;
}
