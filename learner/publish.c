// publish.c - the weights publisher actor (publish.h).
//
// Purpose: keep the ~MB encode + send of every new weights version off the
// learner's loop, and re-send the newest version for late subscribers.
// Invariants: only the actor thread touches the PUB socket, the encoder and
// the params copy; a frame is encoded once per version (the encoder's buffer
// keeps it for re-sends until the next version). A version reaches the wire
// only after the caller's finiteness check AND the encoder's own check.
// Ownership: the xt_publish owns the actor; the actor owns socket, encoder
// and buffer. Threads: the caller's thread and the actor thread share only
// the config strings (read-only, copied at start), the start result (written
// before the handshake signal) and the atomic stats.
#include "publish.h"

#include "core/log.h"
#include "core/xtime.h"
#include "wire/envelope.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_DEFAULT_HWM 4

struct xt_publish {
    xt_publish_config cfg;
    char endpoint[XT_WIRE_PATH_MAX], run_id[XT_WIRE_ID_MAX], sender_id[XT_WIRE_ID_MAX];
    xt_wire_sockopt opt;
    zactor_t *actor;
    // Start result, written by the actor before its handshake signal.
    int start_rc, port;
    xt_err start_err;
    xt_publish_stats st;
};

static uint64_t s_ns(double sec) { return (uint64_t)(sec * 1e9); }

// ---------------------------------------------------------------- actor

typedef struct {
    xt_publish *p;
    zsock_t *pub;
    xt_wire_encoder *enc;
    float *params; // [n_params], the newest version
    uint64_t n_params;
    uint64_t seq;
    const void *frame; // the newest encoded frame (inside enc), NULL before the first
    size_t len;
    double last_send;
} s_state;

static void s_send(s_state *s, int repeat) {
    double t0 = xt_time_mono();
    xt_err err = {0};
    // PUB never blocks: at the high-water mark ZeroMQ drops the message for
    // that subscriber, which keeps the newest-wins semantics.
    if (xt_wire_send(s->pub, NULL, 0, s->frame, s->len, ZMQ_DONTWAIT, &err) < 0) xt_warn("weights: %s", err.msg);
    s->last_send = xt_time_mono();
    atomic_fetch_add(&s->p->st.nanos, s_ns(s->last_send - t0));
    if (repeat) atomic_fetch_add(&s->p->st.resent, 1);
}

static void s_publish(s_state *s, uint64_t version, uint32_t fold) {
    double t0 = xt_time_mono();
    xt_wire_msg m = {.type = XT_WIRE_WEIGHTS};
    m.hdr = (xt_wire_hdr){0, s->p->sender_id, s->p->cfg.incarnation, ++s->seq};
    m.weights = (xt_wire_weights){version, fold, s->p->run_id, s->n_params, s->params, 0};
    xt_err err = {0};
    const void *frame;
    size_t len;
    if (xt_wire_encode(s->enc, &m, &frame, &len, &err) != 0) {
        // The caller checked finiteness; the encoder checks again. Either
        // way nothing is sent and the previous version stays the newest.
        xt_error("weights v%llu not published: %s", (unsigned long long)version, err.msg);
        s->frame = NULL;
        return;
    }
    s->frame = frame, s->len = len;
    atomic_fetch_add(&s->p->st.nanos, s_ns(xt_time_mono() - t0));
    s_send(s, 0);
    atomic_store(&s->p->st.version, version);
    atomic_store(&s->p->st.bytes, (uint64_t)len);
    atomic_fetch_add(&s->p->st.published, 1);
}

// Encoder and params copy for n floats (the first publish, or a new model
// size). Returns 0, or logs and returns an error (nothing is then sent).
static int s_size(s_state *s, uint64_t n) {
    if (n == s->n_params && s->enc) return 0;
    xt_wire_encoder_destroy(&s->enc);
    free(s->params);
    s->frame = NULL;
    s->n_params = 0;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_params = n;
    lim.max_frame_bytes = (size_t)n * 4 + 4096; // params + ids + field overhead
    xt_err err = {0};
    s->params = malloc((size_t)n * sizeof(float));
    if (!s->params || !(s->enc = xt_wire_encoder_new(&lim, &err))) {
        xt_error("weights publisher: cannot size for %llu params: %s", (unsigned long long)n,
                 err.msg[0] ? err.msg : "out of memory");
        return XT_ENOMEM;
    }
    s->n_params = n;
    return 0;
}

static int s_start(s_state *s) {
    xt_publish *p = s->p;
    s->pub = xt_wire_bind(ZMQ_PUB, p->endpoint, &p->opt, &p->port, &p->start_err);
    return s->pub ? 0 : p->start_err.code;
}

static void s_actor(zsock_t *pipe, void *arg) {
    s_state s = {.p = arg};
    xt_publish *p = s.p;
    p->start_rc = s_start(&s);
    zsock_signal(pipe, 0); // the handshake: start_rc / port are set
    zpoller_t *poller = p->start_rc == 0 ? zpoller_new(pipe, NULL) : NULL;
    while (poller) {
        int wait = p->cfg.republish_ms > 0 ? p->cfg.republish_ms / 4 + 1 : -1;
        void *which = zpoller_wait(poller, wait);
        if (zpoller_terminated(poller)) break;
        if (which == pipe) {
            char *cmd = NULL;
            uint64_t version = 0, n = 0;
            uint32_t fold = 0;
            void *src = NULL;
            if (zsock_recv(pipe, "s84p8", &cmd, &version, &fold, &src, &n) != 0) break;
            int term = cmd && strcmp(cmd, "$TERM") == 0;
            if (cmd && strcmp(cmd, "PUB") == 0 && src) {
                int ok = s_size(&s, n) == 0;
                if (ok) memcpy(s.params, src, (size_t)n * sizeof(float));
                zsock_signal(pipe, 0); // the caller's buffer is free again
                if (ok) s_publish(&s, version, fold);
            }
            zstr_free(&cmd);
            if (term) break;
        } else if (s.frame && p->cfg.republish_ms > 0 &&
                   xt_time_mono() - s.last_send >= p->cfg.republish_ms / 1000.0) {
            s_send(&s, 1);
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&s.pub);
    xt_wire_encoder_destroy(&s.enc);
    free(s.params);
    // A failed start still has to see $TERM before zactor_destroy returns.
    if (p->start_rc != 0) {
        char *cmd = NULL;
        while ((cmd = zstr_recv(pipe)) != NULL) {
            int term = strcmp(cmd, "$TERM") == 0;
            zstr_free(&cmd);
            if (term) break;
        }
    }
}

// ---------------------------------------------------------------- public

xt_publish *xt_publish_new(const xt_publish_config *cfg, xt_err *err) {
    if (!cfg->endpoint || !cfg->run_id || !cfg->sender_id) {
        xt_err_set(err, XT_EINVAL, "weights publisher: endpoint, run id and sender id are required");
        return NULL;
    }
    xt_publish *p = calloc(1, sizeof *p);
    if (!p) {
        xt_err_set(err, XT_ENOMEM, "weights publisher: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", cfg->endpoint);
    snprintf(p->run_id, sizeof p->run_id, "%s", cfg->run_id);
    snprintf(p->sender_id, sizeof p->sender_id, "%s", cfg->sender_id);
    p->cfg.endpoint = p->endpoint, p->cfg.run_id = p->run_id, p->cfg.sender_id = p->sender_id;
    if (cfg->opt)
        p->opt = *cfg->opt;
    else
        xt_wire_sockopt_default(&p->opt);
    if (p->opt.hwm <= 0) p->opt.hwm = S_DEFAULT_HWM;
    // A short queue per subscriber: a subscriber that is behind by more than
    // hwm frames loses the newest one at the PUB, and the republish timer
    // sends it again once the subscriber drained (see publish.h).
    p->actor = zactor_new(s_actor, p);
    if (!p->actor) {
        xt_err_set(err, XT_EIO, "weights publisher: cannot start its thread");
        free(p);
        return NULL;
    }
    if (p->start_rc != 0) {
        if (err) *err = p->start_err;
        xt_publish_destroy(&p);
        return NULL;
    }
    return p;
}

void xt_publish_destroy(xt_publish **self_p) {
    if (!self_p || !*self_p) return;
    xt_publish *p = *self_p;
    zactor_destroy(&p->actor);
    free(p);
    *self_p = NULL;
}

int xt_publish_port(const xt_publish *p) { return p->port; }

int xt_publish_weights(xt_publish *p, uint64_t version, uint32_t fold, const float *params, uint64_t n_params,
                       xt_err *err) {
    if (n_params == 0) return xt_err_set(err, XT_EINVAL, "weights v%llu: no params", (unsigned long long)version);
    for (uint64_t i = 0; i < n_params; i++)
        if (!isfinite(params[i])) {
            atomic_fetch_add(&p->st.refused, 1);
            return xt_err_set(err, XT_ENUMERIC, "weights v%llu not published: params[%llu] is %g",
                              (unsigned long long)version, (unsigned long long)i, (double)params[i]);
        }
    if (zsock_send(p->actor, "s84p8", "PUB", version, fold, (void *)params, n_params) != 0)
        return xt_err_set(err, XT_EIO, "weights v%llu: cannot reach the publisher thread", (unsigned long long)version);
    zsock_wait(p->actor); // returns once the actor copied params
    return 0;
}

const xt_publish_stats *xt_publish_stats_of(const xt_publish *p) { return &p->st; }
