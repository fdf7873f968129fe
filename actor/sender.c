// sender.c - bounded, non-blocking chunk sending (sender.h).
//
// The queue is a ring of `slots` fixed-size slots in one slab; slot i holds
// one encoded frame of len[i] bytes. push encodes straight from the runner's
// buffers (no copy of the arrays before encoding) and copies the frame into
// the tail slot; flush hands head frames to ZeroMQ with ZMQ_DONTWAIT and
// stops at the first EAGAIN. Nothing allocates after xt_sender_reserve.
// Ownership: socket, encoder, slab. Threads: the actor's loop thread only.
#include "sender.h"

#include "core/log.h"
#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <stdlib.h>
#include <string.h>

#define S_ENVELOPE_BYTES 4096 // header, shard key, dims and length prefixes: far below this

struct xt_sender {
    xt_sender_config cfg;
    zsock_t *sock;
    char endpoint[XT_WIRE_PATH_MAX];
    xt_wire_limits lim;
    xt_wire_encoder *enc;
    uint8_t *slab;    // [slots][slot_bytes]
    size_t *len;      // [slots]
    int slots, head, count;
    size_t slot_bytes;
    xt_sender_stats st;
};

size_t xt_sender_frame_bytes(size_t bulk_bytes) { return bulk_bytes + S_ENVELOPE_BYTES; }

int xt_sender_slots(int n_env, int batch_chunks) {
    if (n_env < 1) return 1;
    return 4 * n_env <= batch_chunks ? 2 * n_env : n_env;
}

xt_sender *xt_sender_new(const xt_sender_config *cfg, xt_err *err) {
    xt_sender *s = calloc(1, sizeof *s);
    if (!s) {
        xt_err_set(err, XT_ENOMEM, "sender: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    xt_wire_limits_default(&s->lim);
    return s;
}

void xt_sender_destroy(xt_sender **self_p) {
    if (!self_p || !*self_p) return;
    xt_sender *s = *self_p;
    zsock_destroy(&s->sock);
    xt_wire_encoder_destroy(&s->enc);
    free(s->slab);
    free(s->len);
    free(s);
    *self_p = NULL;
}

int xt_sender_reserve(xt_sender *s, int slots, size_t frame_bytes, xt_err *err) {
    if (slots < 1) return xt_err_set(err, XT_EINVAL, "sender: %d queue slots (need >= 1)", slots);
    if (slots == s->slots && frame_bytes <= s->slot_bytes) return 0;
    if (frame_bytes > s->lim.max_frame_bytes)
        return xt_err_set(err, XT_ERANGE, "sender: chunk frames of %zu bytes exceed the %zu-byte frame limit",
                          frame_bytes, s->lim.max_frame_bytes);
    // The encoder's buffer only needs the largest frame this actor sends.
    xt_wire_limits lim = s->lim;
    lim.max_frame_bytes = frame_bytes;
    xt_wire_encoder *enc = xt_wire_encoder_new(&lim, err);
    uint8_t *slab = malloc((size_t)slots * frame_bytes);
    size_t *len = calloc((size_t)slots, sizeof *len);
    if (!enc || !slab || !len) {
        xt_wire_encoder_destroy(&enc);
        free(slab), free(len);
        return enc ? xt_err_set(err, XT_ENOMEM, "sender: out of memory for %d frames of %zu bytes", slots,
                                frame_bytes)
                   : (err && err->code ? err->code : XT_ENOMEM);
    }
    if (s->count) s->st.dropped_endpoint += (uint64_t)s->count;
    xt_wire_encoder_destroy(&s->enc);
    free(s->slab), free(s->len);
    s->enc = enc, s->slab = slab, s->len = len;
    s->slots = slots, s->slot_bytes = frame_bytes, s->head = s->count = 0;
    return 0;
}

int xt_sender_connect(xt_sender *s, const char *endpoint, xt_err *err) {
    if (s->sock && strcmp(s->endpoint, endpoint) == 0) return 0;
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = s->cfg.hwm > 0 ? s->cfg.hwm : 1;
    o.linger_ms = 0; // chunks of a finished connection are worthless
    // One frame in the kernel: the queue that ages chunks is the ring above.
    o.kernel_buf = s->slot_bytes > 0 && s->slot_bytes < (1u << 30) ? (int)s->slot_bytes : 0;
    o.curve_cert = s->cfg.curve_cert;
    o.curve_server_key = s->cfg.curve_server_key;
    zsock_t *sock = xt_wire_connect(ZMQ_PUSH, endpoint, &o, err);
    if (!sock) return err && err->code ? err->code : XT_EIO;
    if (s->sock) xt_sender_clear(s);
    zsock_destroy(&s->sock);
    s->sock = sock;
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    return 0;
}

const char *xt_sender_endpoint(const xt_sender *s) { return s->endpoint; }
zsock_t *xt_sender_sock(xt_sender *s) { return s->sock; }

int xt_sender_push(xt_sender *s, const xt_wire_msg *m, xt_err *err) {
    if (!s->enc || s->count == s->slots)
        return xt_err_set(err, XT_ESTATE, "sender: queue full (%d frames)", s->count);
    double t0 = xt_time_mono();
    const void *frame;
    size_t len;
    int rc = xt_wire_encode(s->enc, m, &frame, &len, err);
    if (rc) return rc;
    int tail = (s->head + s->count) % s->slots;
    memcpy(s->slab + (size_t)tail * s->slot_bytes, frame, len);
    s->len[tail] = len;
    s->count++;
    s->st.t_encode += xt_time_mono() - t0;
    return 0;
}

int xt_sender_flush(xt_sender *s) {
    if (!s->sock) return 0;
    double t0 = xt_time_mono();
    int sent = 0;
    while (s->count > 0) {
        xt_err err = {0};
        const uint8_t *frame = s->slab + (size_t)s->head * s->slot_bytes;
        int rc = xt_wire_send(s->sock, NULL, 0, frame, s->len[s->head], ZMQ_DONTWAIT, &err);
        if (rc == 1) break; // would block: the learner is behind, try again on POLLOUT
        if (rc < 0) {
            // Not back-pressure: the frame cannot go out. Drop it, keep going.
            s->st.dropped_error++;
            xt_debug("%s", err.msg);
        } else {
            s->st.frames_sent++, s->st.bytes_sent += s->len[s->head];
            sent++;
        }
        s->head = (s->head + 1) % s->slots;
        s->count--;
    }
    s->st.t_send += xt_time_mono() - t0;
    return sent;
}

void xt_sender_clear(xt_sender *s) {
    s->st.dropped_endpoint += (uint64_t)s->count;
    s->head = s->count = 0;
}

int xt_sender_pending(const xt_sender *s) { return s->count; }
int xt_sender_room(const xt_sender *s) { return s->slots - s->count; }
const xt_sender_stats *xt_sender_stats_get(const xt_sender *s) { return &s->st; }
