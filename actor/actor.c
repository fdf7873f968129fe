// actor.c - the actor's event loop: the broker session, assignments and
// phases, weights, training work, shutdown (evaluation requests:
// actor_eval.c).
//
// Purpose: step the shards the broker assigns with the learner's newest
// weights and stream the chunks to the learner; evaluate checkpoints when
// asked; survive restarts of the broker and the learner.
//
// Invariants:
//   - Weights reach the runner only between collects (s_apply_weights runs
//     before a collect, never inside one), so a chunk has one version.
//   - Training work happens only while phase is TRAIN, the runner has
//     weights of the assignment's fold, the send queue has room for a whole
//     collect, no evaluation is running, and (sync mode) the share for the
//     current version is not yet sent.
//   - Every frame from the network is decoded into a decoder arena and
//     validated before use; rejects are counted and the loop goes on.
//   - Commands from the broker are level-triggered: a repeated Assignment or
//     PhaseCommand that changes nothing is a no-op.
// Ownership: the actor owns its sockets, codecs, shards (the fold's mapped
// caches), runner, sender, data and eval workers and stats. Threads:
// everything here runs on the loop thread; the data worker (cache build,
// fold mapping), the eval worker and the metrics server have their own
// threads and share nothing mutable with it: the data worker hands over a
// mapped fold in a message and never touches it again.
#include "actor_int.h"

#include "core/log.h"
#include "core/xtime.h"
#include "rl/rollout.h"
#include "rl/trainer.h"
#include "wire/sock.h"

#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define S_CTL_FRAME_MAX (4u << 20) // control frames (Assignment / EvalRequest of 4096 shards fit)
#define S_DRAIN_MAX 256            // messages handled per wake-up (timer fairness)
#define S_BACKOFF_MAX 8            // re-registration delay grows to 8 x actor.reconnect_ms
#define S_STALL_WARN_S 1.0         // a timer tick this late is logged as a warning
#define S_STALL_DEBUG_S 0.2        // ... and this late at debug level

// ---------------------------------------------------------------- helpers

static double s_now(void) { return xt_time_mono(); }

static uint64_t s_fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

int xt_actor_first(xt_actor *a, const char *what, const char *who) {
    uint64_t k = s_fnv(s_fnv(0xcbf29ce484222325ull, what, strlen(what) + 1), who, strlen(who));
    for (int i = 0; i < a->n_warned; i++)
        if (a->warned[i] == k) return 0;
    if (a->n_warned < XT_ACTOR_WARNED_MAX) a->warned[a->n_warned++] = k;
    return 1;
}

static int s_fail(xt_actor *a, const xt_err *err) {
    a->fatal = *err;
    a->exit_rc = err->code ? err->code : XT_EIO;
    a->done = 1;
    return -1;
}

void xt_actor_wshard_of(xt_actor_wshard *o, const xt_wire_shard *w) {
    int port = w->key.portfolio && w->key.portfolio[0];
    snprintf(o->name, sizeof o->name, "%s", port ? w->key.portfolio : w->key.symbol);
    o->portfolio = port, o->tf_sec = w->key.tf_sec;
    o->ts_begin = w->ts_begin, o->ts_end = w->ts_end;
    o->env_slot = w->env_slot;
}

int xt_actor_wshard_eq(const xt_actor_wshard *x, const xt_actor_wshard *y) {
    return x->portfolio == y->portfolio && x->tf_sec == y->tf_sec && x->ts_begin == y->ts_begin &&
           x->ts_end == y->ts_end && x->env_slot == y->env_slot && strcmp(x->name, y->name) == 0;
}

int64_t xt_actor_lower(const xt_env_market *m, int64_t t) {
    int64_t lo = 0, hi = m->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (m->ts[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// The fold shard a command names, or -1 (and a warning) when the config's
// shards have none such.
int xt_actor_find_shard(xt_actor *a, const xt_actor_wshard *w) {
    int n = xt_shards_count(a->shards);
    const xt_rl_shard *list = xt_shards_list(a->shards);
    for (int i = 0; i < n; i++)
        if (list[i].tf_sec == (int)w->tf_sec && strcmp(list[i].symbol, w->name) == 0 &&
            (w->portfolio == (a->kind == XT_ENV_KIND_PORTFOLIO)))
            return i;
    char key[XT_WIRE_ID_MAX + 16];
    snprintf(key, sizeof key, "%s/%u", w->name, w->tf_sec);
    if (xt_actor_first(a, "unknown-shard", key))
        xt_warn("the broker names shard %s %s (%u s bars), which this actor's config (%s) does not have; "
                "broker and actors must run the same config",
                w->portfolio ? "portfolio" : "symbol", w->name, w->tf_sec, a->cfg->path);
    return -1;
}

// The fold's caches, mapped once per fold (every env and the evaluation
// share the mappings). Returns 0 when they are open; otherwise asks the data
// worker to map them (s_on_data installs them and resumes the work that
// waited) and returns XT_ESTATE. Mapping checks every byte's CRC, which can
// take seconds for big caches, so it never runs on the loop thread.
int xt_actor_open_fold(xt_actor *a, uint32_t fold) {
    a->open_want = (int)fold; // the newest wish wins
    if (a->shards && a->shards_fold == (int)fold) return 0;
    if (a->data_ready && a->open_pending < 0 && a->data) {
        zsock_send(zactor_sock(a->data), "si", "OPEN", (int)fold);
        a->open_pending = (int)fold;
    }
    return XT_ESTATE;
}

// ---------------------------------------------------------------- sending on the control socket

void xt_actor_send_ctl(xt_actor *a, xt_wire_msg *m) {
    if (!a->dealer) return;
    m->hdr = (xt_wire_hdr){0, a->id, a->incarnation, ++a->seq_ctl};
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(a->enc_ctl, m, &frame, &len, &err)) {
        xt_error("%s", err.msg); // our own message failed validation: a bug
        return;
    }
    // DONTWAIT: a lost control message is repaired by the broker's
    // level-triggered resend or the next heartbeat.
    if (xt_wire_send(a->dealer, NULL, 0, frame, len, ZMQ_DONTWAIT, &err) < 0) xt_debug("%s", err.msg);
}

static xt_wire_state s_state(const xt_actor *a) {
    if (a->done) return XT_WIRE_STATE_STOPPING;
    if (a->ev_active) return XT_WIRE_STATE_EVALUATING;
    if (a->phase != XT_WIRE_PHASE_TRAIN || !a->runner) return XT_WIRE_STATE_IDLE;
    int installed = xt_runner_has_params(a->runner);
    if (!installed && !(a->w_have && a->w_fold == a->fold)) return XT_WIRE_STATE_WAITING;
    if (a->await_learner) return XT_WIRE_STATE_WAITING;
    if (a->sync && a->sync_slots >= a->share_slots && !a->w_fresh) return XT_WIRE_STATE_WAITING;
    return XT_WIRE_STATE_RUNNING;
}

static void s_heartbeat(xt_actor *a) {
    xt_wire_msg m = {.type = XT_WIRE_HEARTBEAT};
    m.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_ACTOR,
                               s_state(a),
                               a->steps_per_s,
                               a->env_steps,
                               a->sender ? (uint32_t)xt_sender_pending(a->sender) : 0,
                               a->runner ? xt_runner_version(a->runner) : 0};
    xt_actor_send_ctl(a, &m);
}

// ---------------------------------------------------------------- broker session

static int s_on_dealer(zloop_t *loop, zsock_t *sock, void *arg);

// A fresh control socket (the loop watches it when it runs).
static int s_connect_dealer(xt_actor *a, xt_err *err) {
    if (a->dealer && a->loop) zloop_reader_end(a->loop, a->dealer);
    zsock_destroy(&a->dealer);
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 100;
    o.linger_ms = 0;
    o.max_msg_bytes = S_CTL_FRAME_MAX;
    o.routing_id = a->id;
    o.curve_cert = a->cert;
    o.curve_server_key = a->cert ? a->broker_key : NULL;
    a->dealer = xt_wire_connect(ZMQ_DEALER, a->broker_ep, &o, err);
    if (!a->dealer) return err->code ? err->code : XT_EIO;
    if (a->loop && zloop_reader(a->loop, a->dealer, s_on_dealer, a) != 0)
        return xt_err_set(err, XT_EIO, "actor: cannot watch the control socket");
    return 0;
}

// Sends Register, on a fresh control socket when fresh_socket (a fresh
// socket drops whatever the old one still queued for a dead broker), and
// schedules the next attempt in case no welcome comes: exponential back-off
// reconnect_ms x 2^k (capped at S_BACKOFF_MAX x), +-25% jitter so that a
// restarted broker is not hit by every actor at the same instant.
static int s_register(xt_actor *a, int fresh_socket) {
    xt_err err = {0};
    if ((fresh_socket || !a->dealer) && s_connect_dealer(a, &err)) return s_fail(a, &err);
    xt_wire_msg m = {.type = XT_WIRE_REGISTER};
    m.reg = (xt_wire_register){XT_WIRE_ROLE_ACTOR, (uint32_t)a->envs, (uint32_t)getpid(), a->host,
                               (uint32_t)xt_astats_port(&a->st), 0, 0, XT_VERSION};
    xt_actor_send_ctl(a, &m);
    int k = a->attempts < 8 ? a->attempts : 8;
    double delay = a->reconnect_s * (double)(1 << k) * (0.75 + 0.5 * xt_rng_uniform(&a->rng));
    if (delay > S_BACKOFF_MAX * a->reconnect_s) delay = S_BACKOFF_MAX * a->reconnect_s;
    a->last_register = s_now();
    a->next_register = a->last_register + delay;
    if (a->attempts > 0) xt_info("registering with the broker at %s (attempt %d)", a->broker_ep, a->attempts + 1);
    a->attempts++;
    return 0;
}

// The broker forgot this actor (it restarted, or dropped us) or went silent:
// register again now (CP §4.3). fresh_socket: only from the timer, never
// while the control socket's reader is running.
static int s_session_lost(xt_actor *a, const char *why, int fresh_socket) {
    if (!a->session) return 0;
    xt_warn("broker session lost (%s): registering again", why);
    a->session = 0, a->attempts = 0;
    return s_register(a, fresh_socket);
}

static void s_session_up(xt_actor *a, uint64_t inc) {
    if (a->session) return;
    a->session = 1, a->broker_inc = inc, a->attempts = 0;
    if (a->ever_session) xt_prom_counter_inc(a->st.reconnect_broker);
    xt_info("registered with the broker at %s (broker incarnation %llu)%s", a->broker_ep, (unsigned long long)inc,
            a->ever_session ? ": session re-established" : "");
    a->ever_session = 1;
}

// ---------------------------------------------------------------- work scheduling

static int s_on_work(zloop_t *loop, int timer_id, void *arg);
static int s_on_pollout(zloop_t *loop, zmq_pollitem_t *item, void *arg);

static int s_can_work(const xt_actor *a) {
    if (a->done || a->phase != XT_WIRE_PHASE_TRAIN || !a->runner || a->ev_active || a->await_learner) return 0;
    if (!xt_runner_has_params(a->runner) && !(a->w_have && a->w_fold == a->fold)) return 0;
    if (a->sync && a->sync_slots >= a->share_slots && !(a->w_fresh && a->w_fold == a->fold)) return 0;
    return xt_sender_room(a->sender) >= xt_runner_n_envs(a->runner);
}

// Arms or disarms the work timer and the POLLOUT poller to match the state.
void xt_actor_schedule(xt_actor *a) {
    if (!a->loop) return;
    int want = s_can_work(a);
    if (want && a->work_timer < 0) a->work_timer = zloop_timer(a->loop, 0, 0, s_on_work, a);
    if (!want && a->work_timer >= 0) zloop_timer_end(a->loop, a->work_timer), a->work_timer = -1;
    int out = a->sender && xt_sender_pending(a->sender) > 0 && xt_sender_sock(a->sender);
    if (out && !a->pollout) {
        a->pollout_item = (zmq_pollitem_t){zsock_resolve(xt_sender_sock(a->sender)), 0, ZMQ_POLLOUT, 0};
        if (zloop_poller(a->loop, &a->pollout_item, s_on_pollout, a) == 0) a->pollout = 1;
    } else if (!out && a->pollout) {
        zloop_poller_end(a->loop, &a->pollout_item);
        a->pollout = 0;
    }
}

static void s_drop_pollout(xt_actor *a) {
    if (a->pollout && a->loop) zloop_poller_end(a->loop, &a->pollout_item);
    a->pollout = 0;
}

// ---------------------------------------------------------------- weights

// Deterministic sync mode: a version a periodic checkpoint may hold, so a
// restarted learner may resume from it. The learner checkpoints every
// learner.checkpoint_every updates counted from the version it started or
// resumed at (the first one this actor got from it), one version per update.
static int s_ckpt_version(const xt_actor *a, uint64_t v) {
    uint64_t every = a->cfg->learner_checkpoint_every > 0 ? (uint64_t)a->cfg->learner_checkpoint_every : 1;
    return v >= a->ver_base && (v - a->ver_base) % every == 0;
}

// Deterministic sync mode, between collects: weights from a restarted
// learner name the version it resumed at. When that version's share was
// already (partly) produced for the dead learner, the envs go back to the
// snapshot taken at its start, so the share is produced again exactly as
// the uninterrupted run produced it. Then the snapshot of the version about
// to be acted is taken. Returns -1 only on a fatal error.
static int s_rewind_and_snapshot(xt_actor *a) {
    xt_err err = {0};
    const uint64_t v = a->w_version, cur = xt_runner_version(a->runner);
    const int had = xt_runner_has_params(a->runner);
    if (a->rewind) {
        a->rewind = 0;
        if (xt_runner_has_snapshot(a->runner, v)) {
            if (xt_runner_rewind(a->runner, v, &err)) return s_fail(a, &err);
            xt_sender_clear(a->sender); // nothing of the abandoned share may still go out
            xt_info("fold %u: envs rewound to the start of version %llu's share (the restarted learner resumed "
                    "there; acting v%llu before)",
                    a->fold, (unsigned long long)v, (unsigned long long)cur);
        } else if (had && v < cur) {
            xt_warn("fold %u: the restarted learner resumed at version %llu but this actor kept no snapshot of it "
                    "(it is at v%llu): the run goes on but is no longer bit-identical to an uninterrupted one",
                    a->fold, (unsigned long long)v, (unsigned long long)cur);
        }
    }
    if (xt_runner_snapshot(a->runner, v, s_ckpt_version(a, v), &err)) {
        if (xt_actor_first(a, "snapshot", err.msg)) xt_warn("fold %u: %s", a->fold, err.msg);
    }
    return 0;
}

// Installs the newest weights of the assignment's fold into the runner.
// Called only between collects.
static int s_apply_weights(xt_actor *a) {
    if (!a->runner || !a->w_have || a->w_fold != a->fold) return 0;
    if (xt_runner_has_params(a->runner) && !a->w_fresh) return 0;
    xt_err err = {0};
    if (a->det && a->sync && s_rewind_and_snapshot(a)) return -1;
    int rc = xt_runner_set_params(a->runner, a->w_new, a->w_version, &err);
    if (rc) return s_fail(a, &err);
    a->w_fresh = 0, a->sync_slots = 0;
    xt_prom_gauge_set(a->st.weights_version, (double)a->w_version);
    xt_debug("acting with weights v%llu (fold %u)", (unsigned long long)a->w_version, a->w_fold);
    return 0;
}

static void s_count_rejects(xt_actor *a) {
    const xt_wire_stats *c = xt_wire_decoder_stats(a->dec_ctl);
    uint64_t n = 0;
    for (int r = 0; r < XT_WIRE_REJ_N; r++) n += c->rejected[r];
    xt_prom_counter_add_u64(a->st.decode_control, n - a->rej_ctl_seen);
    a->rej_ctl_seen = n;
    if (a->dec_w) {
        const xt_wire_stats *w = xt_wire_decoder_stats(a->dec_w);
        n = 0;
        for (int r = 0; r < XT_WIRE_REJ_N; r++) n += w->rejected[r];
        xt_prom_counter_add_u64(a->st.decode_weights, n - a->rej_w_seen);
        a->rej_w_seen = n;
    }
}

// One Weights message: newest wins per fold; a new learner incarnation
// (a restarted learner, which may count versions from an older checkpoint)
// is accepted whatever its version.
static void s_on_weights_msg(xt_actor *a, const xt_wire_msg *m) {
    const xt_wire_weights *w = &m->weights;
    if (strcmp(w->run_id, a->cfg->run_id) != 0) {
        if (xt_actor_first(a, "weights-run", w->run_id))
            xt_warn("weights from %s are for run %s, this actor runs %s: ignored", m->hdr.sender_id, w->run_id,
                    a->cfg->run_id);
        return;
    }
    if (w->n_params != a->n_params) {
        if (xt_actor_first(a, "weights-size", m->hdr.sender_id))
            xt_warn("weights from %s have %llu params, this actor's model has %zu (model.* keys differ): ignored",
                    m->hdr.sender_id, (unsigned long long)w->n_params, a->n_params);
        return;
    }
    int new_inc = a->learner_seen && m->hdr.incarnation != a->learner_inc;
    if (new_inc) {
        xt_prom_counter_inc(a->st.reconnect_learner);
        xt_info("learner %s restarted (incarnation %llu -> %llu): taking its weights v%llu", m->hdr.sender_id,
                (unsigned long long)a->learner_inc, (unsigned long long)m->hdr.incarnation,
                (unsigned long long)w->version);
    }
    int newer = !a->w_have || new_inc || w->fold > a->w_fold || (w->fold == a->w_fold && w->version > a->w_version);
    if (new_inc) a->await_learner = 0; // the learner the new endpoints named is here
    int first = !a->learner_seen;
    a->learner_seen = 1, a->learner_inc = m->hdr.incarnation;
    if (!newer || (a->have_assign && w->fold < a->fold)) return;
    memcpy(a->w_new, w->params, a->n_params * sizeof(float));
    a->w_have = 1, a->w_fresh = 1, a->w_version = w->version, a->w_fold = w->fold;
    // Deterministic sync mode: the versions a checkpoint may hold count from
    // the first version of each learner incarnation and fold; a restarted
    // learner's first weights rewind the envs (s_rewind_and_snapshot).
    if (first || new_inc || w->fold != a->base_fold) a->ver_base = w->version, a->base_fold = w->fold;
    if (new_inc) a->rewind = 1;
}


static int s_on_sub(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_actor *a = arg;
    double t0 = s_now();
    for (int k = 0; k < S_DRAIN_MAX && !a->done; k++) {
        xt_wire_rx rx;
        xt_err err = {0};
        int rc = xt_wire_recv(sock, &rx, ZMQ_DONTWAIT, &err);
        if (rc == 1) break;
        if (rc == XT_EPROTO) {
            xt_prom_counter_inc(a->st.decode_weights);
            continue;
        }
        if (rc < 0) break;
        xt_wire_msg m;
        if (!a->dec_w) {
            xt_wire_rx_close(&rx);
            continue;
        }
        if (xt_wire_decode(a->dec_w, rx.data, rx.len, xt_wire_rx_peer(&rx), &m, &err) == 0) {
            if (m.type == XT_WIRE_WEIGHTS) {
                s_on_weights_msg(a, &m);
            } else {
                xt_prom_counter_inc(a->st.decode_weights);
                if (xt_actor_first(a, "sub-type", m.hdr.sender_id))
                    xt_warn("%s: %s on the weights socket: ignored", m.hdr.sender_id, xt_wire_type_name(m.type));
            }
        }
        xt_wire_rx_close(&rx);
    }
    s_count_rejects(a);
    xt_actor_eval_pump(a);
    xt_actor_schedule(a);
    xt_actor_busy(a, "weights", t0);
    return a->done ? -1 : 0;
}

static int s_connect_sub(xt_actor *a, const char *ep, xt_err *err) {
    if (a->sub && strcmp(a->sub_ep, ep) == 0) return 0;
    if (a->sub && a->loop) zloop_reader_end(a->loop, a->sub);
    zsock_destroy(&a->sub);
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.linger_ms = 0;
    o.hwm = 4; // a short queue: s_on_sub drains it and keeps the newest version
    o.max_msg_bytes = (int64_t)(a->n_params * sizeof(float) + (64u << 10));
    o.curve_cert = a->cert;
    o.curve_server_key = a->cert ? a->learner_key : NULL;
    a->sub = xt_wire_connect(ZMQ_SUB, ep, &o, err);
    if (!a->sub) return err->code ? err->code : XT_EIO;
    snprintf(a->sub_ep, sizeof a->sub_ep, "%s", ep);
    if (a->loop && zloop_reader(a->loop, a->sub, s_on_sub, a) != 0)
        return xt_err_set(err, XT_EIO, "actor: cannot watch the weights socket");
    return 0;
}

// The weights decoder fits exactly one Weights frame of this model.
int xt_actor_weights_decoder(xt_actor *a, size_t n_params, xt_err *err) {
    if (a->dec_w && a->n_params == n_params) return 0;
    xt_wire_decoder_destroy(&a->dec_w);
    a->rej_w_seen = 0;
    free(a->w_new);
    a->w_new = malloc(n_params * sizeof(float));
    a->w_have = a->w_fresh = 0;
    a->n_params = n_params;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_params = n_params;
    lim.max_frame_bytes = n_params * sizeof(float) + (64u << 10);
    a->dec_w = xt_wire_decoder_new(&lim, err);
    if (!a->w_new || !a->dec_w) return err && err->code ? err->code : XT_ENOMEM;
    return 0;
}

// ---------------------------------------------------------------- assignment

static void s_metric_shards(xt_actor *a) {
    for (int s = 0; s < a->n_ush; s++) {
        char tf[16];
        xt_err err = {0};
        if (xt_astats_shard_get(&a->st, a->ush[s].symbol, xt_timeframe_name(a->ush[s].tf_sec, tf), &a->mshard[s],
                                &err)) {
            xt_warn("metrics: %s", err.msg);
            a->mshard[s] = (xt_astats_shard){0};
        }
        a->mshard_steps[s] = a->mshard_eps[s] = 0;
    }
}

// Builds the runner of the stored assignment (a->as, a->n_env) over the
// fold's caches. On failure the actor stays idle (its heartbeat says so and
// the broker sends the assignment again later).
static int s_build(xt_actor *a) {
    xt_err err = {0};
    xt_runner_destroy(&a->runner);
    a->n_ush = 0;
    if (a->n_env == 0) return 0;
    if (xt_actor_open_fold(a, a->fold)) return -1; // mapping in progress: s_resume builds later
    const xt_rl_shard *list = xt_shards_list(a->shards);
    int map[XT_RL_MAX_SHARDS * 2];
    int n_list = xt_shards_count(a->shards);
    for (int i = 0; i < n_list; i++) map[i] = -1;
    for (int e = 0; e < a->n_env; e++) {
        int i = xt_actor_find_shard(a, &a->as[e]);
        if (i < 0) return -1;
        if (map[i] < 0) {
            // A distinct shard: the fold's market with the assignment's window.
            int u = a->n_ush++;
            a->ush[u] = list[i];
            const xt_env_market *m = list[i].m;
            a->ush[u].row[XT_RL_TRAIN][0] = xt_actor_lower(m, a->as[e].ts_begin);
            a->ush[u].row[XT_RL_TRAIN][1] = xt_actor_lower(m, a->as[e].ts_end);
            if (!xt_rl_window_usable(&a->ush[u], XT_RL_TRAIN)) {
                char t0[32], t1[32];
                if (xt_actor_first(a, "window", list[i].name))
                    xt_error("fold %u: shard %s: assigned window %s..%s has fewer than 2 usable rows", a->fold,
                             list[i].name, xt_time_format(a->as[e].ts_begin, t0), xt_time_format(a->as[e].ts_end, t1));
                return -1;
            }
            map[i] = u;
        }
        a->env_shard[e] = map[i];
    }
    int D = 0, A = 0;
    if (xt_rollout_dims(a->kind, &a->envp, a->ush, a->n_ush, &D, &A, &err) ||
        xt_rl_model_spec(&a->spec, a->cfg, D, A, &err)) {
        if (xt_actor_first(a, "spec", err.msg)) xt_error("fold %u: %s", a->fold, err.msg);
        return -1;
    }
    xt_runner_config rc = {
        .kind = a->kind,
        .T = (int)a->cfg->ppo_chunk_len,
        // Deterministic runs: per-shard streams of the master seed (below),
        // so which actor steps a shard does not matter.
        .seed = a->det ? a->seed : xt_runner_seed(a->seed, a->id, a->fold),
        .fold = a->fold,
        .ls_min = (float)a->cfg->model_log_std_min,
        .ls_max = (float)a->cfg->model_log_std_max,
        .threads = 1,
    };
    a->runner = xt_runner_new(&rc, a->ush, a->n_ush, a->env_shard, a->n_env, &a->envp, &a->spec, &err);
    // Envs numbered by their global slots: the same env streams and chunk
    // order whichever actor steps a slot (the stored entries are per env).
    uint32_t *slot = a->runner ? malloc((size_t)a->n_env * sizeof *slot) : NULL;
    for (int e = 0; slot && e < a->n_env; e++) slot[e] = a->as[e].env_slot;
    if (a->runner && (!slot || xt_runner_env_slots(a->runner, slot, &err))) {
        if (!slot) xt_err_set(&err, XT_ENOMEM, "actor: out of memory for %d env slots", a->n_env);
        xt_runner_destroy(&a->runner);
    }
    free(slot);
    // Snapshots in sync mode: the newest version's share, and the last two
    // versions a periodic checkpoint may hold (actor.c, s_ckpt_version).
    if (a->runner && a->det && xt_runner_deterministic(a->runner, a->sync ? 3 : 0, &err))
        xt_runner_destroy(&a->runner);
    if (!a->runner) {
        if (xt_actor_first(a, "runner", err.msg)) xt_error("fold %u: %s", a->fold, err.msg);
        return -1;
    }
    const xt_model_layout *lay = xt_runner_layout(a->runner);
    size_t frame = xt_sender_frame_bytes(xt_runner_chunk_bytes(a->runner));
    int slots = xt_sender_slots(a->n_env, (int)a->cfg->ppo_n_envs * a->share_slots); // learner batch = n_envs x share
    if (xt_actor_weights_decoder(a, lay->n_params, &err) || xt_sender_reserve(a->sender, slots, frame, &err)) {
        xt_error("fold %u: %s", a->fold, err.msg);
        xt_runner_destroy(&a->runner);
        return -1;
    }
    if (!xt_runner_exact(a->runner))
        xt_info("fold %u: the assignment's env counts per shard are uneven; the envs are spread evenly instead",
                a->fold);
    s_metric_shards(a);
    a->sync_slots = 0;
    xt_info("fold %u: %d envs over %d shards, chunks of %d steps, model %zu params (%s mode)", a->fold, a->n_env,
            a->n_ush, (int)a->cfg->ppo_chunk_len, lay->n_params, a->sync ? "sync" : "async");
    return 0;
}


// Builds the envs of the stored Assignment and connects to the learner;
// quietly waits when the fold's caches are still being mapped.
static void s_start_training(xt_actor *a) {
    if (s_build(a) != 0) return;
    xt_err err = {0};
    if (xt_sender_connect(a->sender, a->chunk_ep, &err) || s_connect_sub(a, a->weights_ep, &err)) {
        xt_error("%s", err.msg);
        xt_runner_destroy(&a->runner);
        return;
    }
    xt_info("fold %u: training: chunks to %s, weights from %s", a->fold, a->chunk_ep, a->weights_ep);
}

static void s_on_assignment(xt_actor *a, const xt_wire_assignment *as) {
    if (as->phase != XT_WIRE_PHASE_TRAIN) {
        if (xt_actor_first(a, "assign-phase", xt_wire_phase_name(as->phase)))
            xt_warn("Assignment for phase %s ignored (assignments are for train)", xt_wire_phase_name(as->phase));
        return;
    }
    if (as->n_shards > XT_ACTOR_MAX_ENVS) return; // the decoder's max_shards already refuses this
    // Same fold, seed, shards and endpoints: a repeat (level-triggered), or a
    // new broker session handing back the same work. Keep everything.
    int same = a->have_assign && as->fold == a->fold && as->seed == a->seed && (int)as->n_shards == a->n_env &&
               strcmp(as->chunk_endpoint, a->chunk_ep) == 0 && strcmp(as->weights_endpoint, a->weights_ep) == 0;
    for (uint32_t e = 0; same && e < as->n_shards; e++) {
        xt_actor_wshard w;
        xt_actor_wshard_of(&w, &as->shards[e]);
        same = xt_actor_wshard_eq(&w, &a->as[e]);
    }
    if (a->ev_active) xt_actor_eval_cancel(a, "a training assignment arrived");
    a->phase = XT_WIRE_PHASE_TRAIN;
    if (same && (a->runner || a->n_env == 0)) return;
    // The same work with new learner endpoints (the learner restarted on
    // other ports): keep the envs where they are, reconnect only.
    int same_work = a->have_assign && as->fold == a->fold && as->seed == a->seed && (int)as->n_shards == a->n_env;
    for (uint32_t e = 0; same_work && e < as->n_shards; e++) {
        xt_actor_wshard w;
        xt_actor_wshard_of(&w, &as->shards[e]);
        same_work = xt_actor_wshard_eq(&w, &a->as[e]);
    }
    if (same_work && a->runner) {
        snprintf(a->chunk_ep, sizeof a->chunk_ep, "%s", as->chunk_endpoint);
        snprintf(a->weights_ep, sizeof a->weights_ep, "%s", as->weights_endpoint);
        xt_err err = {0};
        // The old queue goes with the old socket (xt_sender_connect).
        if (xt_sender_connect(a->sender, a->chunk_ep, &err) || s_connect_sub(a, a->weights_ep, &err)) {
            xt_error("%s", err.msg);
            xt_runner_destroy(&a->runner);
            return;
        }
        // Deterministic sync mode: nothing is produced for the new learner
        // before its own weights say which version it resumed at (a chunk of
        // the old learner's version sent now could not be taken back).
        if (a->det && a->sync) a->await_learner = 1;
        xt_info("fold %u: new learner endpoints, envs kept: chunks to %s, weights from %s", a->fold, a->chunk_ep,
                a->weights_ep);
        return;
    }
    a->await_learner = 0; // other work: the envs are built afresh anyway
    int fold_changed = !a->have_assign || as->fold != a->fold;
    a->have_assign = 1, a->fold = as->fold, a->seed = as->seed, a->n_env = (int)as->n_shards;
    for (uint32_t e = 0; e < as->n_shards; e++) xt_actor_wshard_of(&a->as[e], &as->shards[e]);
    snprintf(a->chunk_ep, sizeof a->chunk_ep, "%s", as->chunk_endpoint);
    snprintf(a->weights_ep, sizeof a->weights_ep, "%s", as->weights_endpoint);
    if (fold_changed && a->w_have && a->w_fold < a->fold) a->w_have = a->w_fresh = 0; // older fold's weights
    xt_sender_clear(a->sender); // chunks of the previous assignment
    xt_runner_destroy(&a->runner);
    if (a->n_env == 0) {
        xt_info("fold %u: assignment without envs: idle", a->fold);
        return;
    }
    s_start_training(a);
}

static void s_on_phase(xt_actor *a, const xt_wire_phase_cmd *p) {
    if (p->phase == XT_WIRE_PHASE_DONE || p->phase == XT_WIRE_PHASE_STOP) {
        xt_info("broker says %s (fold %u): exiting", xt_wire_phase_name(p->phase), p->fold);
        a->done = 1;
        return;
    }
    if (p->phase == a->phase) return;
    if (p->phase == XT_WIRE_PHASE_TRAIN && !(a->have_assign && a->fold == p->fold)) {
        a->phase = XT_WIRE_PHASE_NONE; // no work until the Assignment
        return;
    }
    xt_info("fold %u: phase %s%s", p->fold, xt_wire_phase_name(p->phase),
            p->phase == XT_WIRE_PHASE_TRAIN ? "" : ": env stepping paused");
    a->phase = p->phase;
}

// ---------------------------------------------------------------- training work

// Counts and metrics of one collect.
static void s_account(xt_actor *a, const xt_runner_report *rep) {
    for (int s = 0; s < xt_runner_n_shards(a->runner); s++) {
        const xt_runner_shard *rs = xt_runner_shard_stats(a->runner, s);
        if (a->mshard[s].steps) {
            xt_prom_counter_add_u64(a->mshard[s].steps, rs->steps - a->mshard_steps[s]);
            xt_prom_counter_add_u64(a->mshard[s].episodes, rs->episodes - a->mshard_eps[s]);
        }
        a->mshard_steps[s] = rs->steps, a->mshard_eps[s] = rs->episodes;
        if (rs->ep_n > 0 && !a->mshard[s].ret) {
            xt_err err = {0};
            char tf[16];
            if (xt_astats_shard_episodes(&a->st, a->ush[s].symbol, xt_timeframe_name(a->ush[s].tf_sec, tf),
                                         &a->mshard[s], &err))
                xt_warn("metrics: %s", err.msg);
        }
        if (rs->ep_n > 0 && a->mshard[s].ret) {
            double r = 0, sh = 0;
            for (int k = 0; k < rs->ep_n; k++) r += rs->ep_ret[k], sh += rs->ep_sharpe[k];
            xt_prom_gauge_set(a->mshard[s].ret, r / rs->ep_n);
            xt_prom_gauge_set(a->mshard[s].sharpe, sh / rs->ep_n);
        }
    }
    a->env_steps += (uint64_t)rep->steps;
    xt_prom_counter_add(a->st.stage[XT_ASTATS_STAGE_ENV], rep->t_env);
    xt_prom_counter_add(a->st.stage[XT_ASTATS_STAGE_INFER], rep->t_infer);
}

// One collect: T steps of every env, one chunk each, queued and flushed.
static int s_on_work(zloop_t *loop, int timer_id, void *arg) {
    xt_actor *a = arg;
    double t_start = s_now();
    if (!s_can_work(a)) {
        xt_actor_schedule(a);
        return a->done ? -1 : 0;
    }
    if (s_apply_weights(a)) return -1; // weights switch here, between chunks only
    if (!xt_runner_has_params(a->runner)) {
        xt_actor_schedule(a);
        return 0;
    }
    xt_runner_report rep;
    xt_err err = {0};
    int rc = xt_runner_collect(a->runner, &rep, &err);
    if (rc) {
        // Not the data of one step: the envs cannot be rebuilt or inference
        // failed. Stop stepping; the idle heartbeat makes the broker send the
        // assignment again, which rebuilds everything.
        xt_error("fold %u: env stepping stopped: %s", a->fold, err.msg);
        xt_runner_destroy(&a->runner);
        xt_actor_schedule(a);
        return 0;
    }
    const int N = xt_runner_n_envs(a->runner);
    if (!rep.ok) {
        // The collector met a non-finite observation or reward: the collect
        // is dropped and the envs restarted (runner.h).
        xt_prom_counter_add_u64(a->st.dropped_nonfinite, (uint64_t)N);
        if (a->nonfinite_logged++ % 100 == 0)
            xt_warn("fold %u: %d chunks dropped (%llu collects so far): %s", a->fold, N,
                    (unsigned long long)xt_runner_nonfinite_collects(a->runner), err.msg);
    } else {
        double t0 = s_now();
        const xt_sender_stats *ss = xt_sender_stats_get(a->sender);
        uint64_t sent0 = ss->frames_sent;
        xt_prom_counter_add_u64(a->st.dropped_nonfinite, (uint64_t)rep.dropped_chunks);
        for (int g = 0; g < N; g++) {
            xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK};
            if (xt_runner_chunk(a->runner, g, &m.chunk)) continue;
            m.hdr = (xt_wire_hdr){0, a->id, a->incarnation, ++a->seq_data};
            if (xt_sender_push(a->sender, &m, &err)) {
                xt_prom_counter_inc(a->st.dropped_nonfinite);
                if (xt_actor_first(a, "push", err.msg)) xt_warn("chunk not sent: %s", err.msg);
            }
        }
        xt_sender_flush(a->sender);
        xt_prom_counter_add_u64(a->st.chunks_sent, ss->frames_sent - sent0);
        xt_prom_counter_add(a->st.stage[XT_ASTATS_STAGE_SEND], s_now() - t0);
        a->sync_slots++;
    }
    s_account(a, &rep);
    xt_prom_gauge_set(a->st.queue_send, xt_sender_pending(a->sender));
    xt_actor_schedule(a);
    xt_actor_busy(a, "collect", t_start);
    return a->done ? -1 : 0;
}

static int s_on_pollout(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
    xt_actor *a = arg;
    const xt_sender_stats *ss = xt_sender_stats_get(a->sender);
    uint64_t sent0 = ss->frames_sent;
    double t0 = s_now();
    xt_sender_flush(a->sender);
    xt_prom_counter_add_u64(a->st.chunks_sent, ss->frames_sent - sent0);
    xt_prom_counter_add(a->st.stage[XT_ASTATS_STAGE_SEND], s_now() - t0);
    xt_prom_gauge_set(a->st.queue_send, xt_sender_pending(a->sender));
    xt_actor_schedule(a);
    xt_actor_busy(a, "chunk send", t0);
    return 0;
}

// ---------------------------------------------------------------- control socket

static void s_dispatch(xt_actor *a, const xt_wire_msg *m) {
    // A frame from another broker incarnation: the broker restarted and
    // forgot this session (its journal keeps the run, not the sessions).
    if (a->session && m->hdr.incarnation != a->broker_inc) s_session_lost(a, "the broker restarted", 0);
    a->last_heard = s_now();
    switch (m->type) {
    case XT_WIRE_HEARTBEAT:
        if (m->hb.state == XT_WIRE_STATE_IDLE) {
            // "Register again": the broker has no session for us. (Before
            // the welcome, the registration schedule is already running.)
            if (a->session) s_session_lost(a, "the broker does not know this actor", 0);
            else if (s_now() - a->last_register > 0.2 * a->reconnect_s) s_register(a, 0);
        } else if (!a->session) {
            s_session_up(a, m->hdr.incarnation);
        }
        return;
    case XT_WIRE_ASSIGNMENT:
        s_session_up(a, m->hdr.incarnation);
        s_on_assignment(a, &m->assign);
        return;
    case XT_WIRE_PHASE_COMMAND:
        s_session_up(a, m->hdr.incarnation);
        s_on_phase(a, &m->phase_cmd);
        return;
    case XT_WIRE_EVAL_REQUEST:
        s_session_up(a, m->hdr.incarnation);
        xt_actor_eval_request(a, &m->eval_req);
        return;
    default:
        if (xt_actor_first(a, "unexpected", xt_wire_type_name(m->type)))
            xt_warn("%s: %s is not a message an actor takes from the broker; ignored", m->hdr.sender_id,
                    xt_wire_type_name(m->type));
    }
}

static int s_on_dealer(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_actor *a = arg;
    for (int k = 0; k < S_DRAIN_MAX && !a->done && sock == a->dealer; k++) {
        xt_wire_rx rx;
        xt_err err = {0};
        int rc = xt_wire_recv(sock, &rx, ZMQ_DONTWAIT, &err);
        if (rc == 1) break;
        if (rc == XT_EPROTO) {
            if (xt_actor_first(a, "parts", "control")) xt_warn("control socket: %s", err.msg);
            xt_prom_counter_inc(a->st.decode_control);
            continue;
        }
        if (rc < 0) {
            xt_warn("%s", err.msg);
            break;
        }
        xt_wire_msg m;
        if (xt_wire_decode(a->dec_ctl, rx.data, rx.len, xt_wire_rx_peer(&rx), &m, &err) == 0) {
            double t0 = s_now();
            s_dispatch(a, &m);
            xt_actor_busy(a, xt_wire_type_name(m.type), t0); // names are static strings
        }
        xt_wire_rx_close(&rx);
    }
    s_count_rejects(a);
    xt_actor_schedule(a);
    return a->done ? -1 : 0;
}

// ---------------------------------------------------------------- timer

static void s_sample(xt_actor *a) {
    double now = s_now();
    if (a->sample_t > 0 && now > a->sample_t) {
        a->steps_per_s = (double)(a->env_steps - a->steps_at_sample) / (now - a->sample_t);
        xt_prom_gauge_set(a->st.steps_per_s, a->steps_per_s);
    }
    a->sample_t = now, a->steps_at_sample = a->env_steps;
    xt_prom_gauge_set(a->st.queue_send, a->sender ? xt_sender_pending(a->sender) : 0);
    s_count_rejects(a);
}

// Graceful stop: the broker hears STOPPING, the worker is cancelled, the
// chunks still queued are given one last non-blocking flush.
static void s_shutdown(xt_actor *a, const char *why) {
    xt_info("%s: stopping", why);
    a->done = 1;
    if (a->sender) xt_sender_flush(a->sender);
    if (a->session && a->dealer) {
        zsock_set_linger(a->dealer, 500); // let the STOPPING heartbeat leave before the socket closes
        s_heartbeat(a);
    }
    // The worker is asked to stop; xt_actor_destroy joins it (after the
    // STOPPING heartbeat has gone out).
    xt_actor_eval_cancel(a, "shutting down");
}

void xt_actor_busy(xt_actor *a, const char *what, double t0) {
    double d = s_now() - t0;
    if (d > a->busy_max) a->busy_max = d, a->busy_what = what;
}

// Loop watchdog: the timer is due every heartbeat period; a tick that comes
// later than that means a handler held the loop thread (heartbeats were late
// by as much). Every tick observes its lateness (0 when on time) in
// xtrade_loop_stall_seconds; a lateness of 1 s or more is logged with the
// longest handler since the previous tick.
static void s_watchdog(xt_actor *a, double now) {
    if (a->tick_prev > 0) {
        double late = now - a->tick_prev - a->hb_s;
        if (late < 0) late = 0;
        xt_prom_histogram_observe(a->st.loop_stall, late);
        const char *what = a->busy_what ? a->busy_what : "no handler (the process did not get the CPU)";
        if (late >= S_STALL_WARN_S)
            xt_warn("loop thread blocked for %.2f s (heartbeats were late by as much; longest handler: %s, %.2f s)",
                    late, what, a->busy_max);
        else if (late >= S_STALL_DEBUG_S)
            xt_debug("timer tick %.2f s late (longest handler: %s, %.2f s)", late, what, a->busy_max);
        if (late > a->stall_max) a->stall_max = late;
    }
    a->tick_prev = now, a->busy_max = 0, a->busy_what = NULL;
}

static int s_tick(xt_actor *a) {
    double t0 = s_now();
    s_watchdog(a, t0);
    xt_astats_tick(&a->st);
    if (*a->stop) {
        s_shutdown(a, "signal received");
        return -1;
    }
    if (a->done) return -1;
    double now = s_now();
    if (a->session && now - a->last_heard > a->live_s && s_session_lost(a, "the broker is silent", 1)) return -1;
    // No welcome yet: try again on a fresh socket (the first attempt reuses
    // the socket made at start).
    if (a->data_ready && !a->session && now >= a->next_register && s_register(a, a->attempts > 0)) return -1;
    if (a->session) s_heartbeat(a);
    s_sample(a);
    xt_actor_eval_pump(a);
    xt_actor_schedule(a);
    xt_actor_busy(a, "timer tick", t0); // counts toward the next tick's lateness
    return a->done ? -1 : 0;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg) { return s_tick(arg); }

// ---------------------------------------------------------------- feature caches

// The data worker (a czmq actor). First it builds every missing or stale
// feature cache of the config (xt_dataset_build reuses fresh ones) before
// the actor registers, so that no Assignment waits for a build (seconds to
// minutes, longer than the broker's liveness timeout); then it maps folds on
// request ("OPEN" fold -> "OPENED" with the xt_shards, owned from then on by
// the loop thread). Replies: "READY"/"OPENED", fold, rc, shards, ms, error.
static void s_data_worker(zsock_t *pipe, void *arg) {
    const xt_config *cfg = arg;
    zsock_signal(pipe, 0);
    xt_err err = {0};
    xt_dataset_stats st;
    double t0 = xt_time_mono();
    int rc = xt_dataset_build(cfg, 0, &st, NULL, NULL, &err);
    if (rc == 0)
        xt_info("feature caches ready in %s: %d built, %d up to date (%.2f s)", cfg->data_cache_dir, st.files_built,
                st.files_reused, xt_time_mono() - t0);
    zsock_send(pipe, "siipis", "READY", -1, rc, NULL, 0, rc ? err.msg : "");
    for (;;) {
        zmsg_t *m = zmsg_recv(pipe);
        if (!m) break;
        char *cmd = zmsg_popstr(m), *arg_fold = zmsg_popstr(m);
        int term = !cmd || strcmp(cmd, "$TERM") == 0, open = cmd && strcmp(cmd, "OPEN") == 0;
        int fold = arg_fold ? atoi(arg_fold) : -1;
        zstr_free(&cmd), zstr_free(&arg_fold);
        zmsg_destroy(&m);
        if (term) break;
        if (!open) continue;
        xt_shards *sh = NULL;
        err = (xt_err){0};
        t0 = xt_time_mono();
        rc = xt_shards_open(&sh, cfg, fold, 0, &err);
        zsock_send(pipe, "siipis", "OPENED", fold, rc, (void *)sh, (int)(1000 * (xt_time_mono() - t0)),
                   rc ? err.msg : "");
    }
}

// Work that waited for the fold's caches.
static void s_resume(xt_actor *a) {
    if (a->phase == XT_WIRE_PHASE_TRAIN && a->have_assign && a->fold == (uint32_t)a->shards_fold && !a->runner &&
        a->n_env > 0)
        s_start_training(a);
    xt_actor_eval_pump(a);
    xt_actor_schedule(a);
}

// Makes sh (fold) the open fold. Nothing may still read the old fold's
// markets: its envs go first; when an eval worker (cancelled by now) still
// walks them, the old mapping is retired and released when the worker has
// stopped (xt_actor_eval_gone) instead of waiting for it here.
static void s_install_fold(xt_actor *a, xt_shards *sh, int fold) {
    xt_runner_destroy(&a->runner);
    if (a->shards && a->ev && a->ev_shards == a->shards) {
        xt_shards_destroy(&a->shards_retired); // (never the worker's: it reads one mapping)
        a->shards_retired = a->shards, a->shards = NULL;
    }
    xt_shards_destroy(&a->shards);
    a->shards = sh, a->shards_fold = fold;
}

void xt_actor_eval_gone(xt_actor *a) {
    xt_shards_destroy(&a->shards_retired);
    s_resume(a);
}

static int s_on_data(zloop_t *loop, zsock_t *sock, void *arg) {
    xt_actor *a = arg;
    double t0 = s_now();
    char *cmd = NULL, *msg = NULL;
    int fold = -1, rc = 0, ms = 0;
    void *ptr = NULL;
    if (zsock_recv(sock, "siipis", &cmd, &fold, &rc, &ptr, &ms, &msg) != 0 || !cmd) {
        zstr_free(&cmd), zstr_free(&msg);
        return 0;
    }
    xt_err err = {0};
    if (strcmp(cmd, "READY") == 0) {
        if (rc) xt_err_set(&err, rc, "feature caches: %s", msg && *msg ? msg : "the build failed");
        zstr_free(&cmd), zstr_free(&msg);
        if (rc) return s_fail(a, &err); // this host cannot serve the config
        a->data_ready = 1;
        return s_tick(a); // register now
    }
    xt_shards *sh = ptr;
    a->open_pending = -1;
    if (rc) {
        char key[32];
        snprintf(key, sizeof key, "%d", fold);
        if (xt_actor_first(a, "fold-open", key)) xt_error("fold %d: cannot open the feature caches: %s", fold, msg);
    } else if (fold != a->open_want) {
        xt_shards_destroy(&sh); // another fold is wanted by now
    } else {
        // An evaluation of another fold is asked to stop, not joined (its
        // walk can take seconds); s_install_fold keeps what it reads.
        if (a->ev && !xt_evalrun_cancelled(a->ev)) xt_actor_eval_cancel(a, "another fold's data arrived");
        s_install_fold(a, sh, fold);
        xt_info("fold %d: %d shard caches mapped in %.2f s", fold, xt_shards_count(sh), ms / 1000.0);
    }
    zstr_free(&cmd), zstr_free(&msg);
    if (a->open_want >= 0 && a->open_want != a->shards_fold) xt_actor_open_fold(a, (uint32_t)a->open_want);
    s_resume(a);
    xt_actor_busy(a, "fold caches", t0);
    return a->done ? -1 : 0;
}

// ---------------------------------------------------------------- public

static int s_load_keys(xt_actor *a, xt_err *err) {
    const xt_config *c = a->cfg;
    if (!c->security_curve) return 0;
    char path[XT_CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/actor.key", c->security_keys_dir);
    a->cert = xt_wire_curve_cert_load(path, err);
    if (!a->cert) return err->code ? err->code : XT_EIO;
    const char *names[2] = {"broker", "learner"};
    char *keys[2] = {a->broker_key, a->learner_key};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s.key", c->security_keys_dir, names[k]);
        zcert_t *pub = zcert_load(path);
        if (!pub) return xt_err_set(err, XT_EIO, "%s: cannot read the %s's public key", path, names[k]);
        snprintf(keys[k], 41, "%s", zcert_public_txt(pub));
        zcert_destroy(&pub);
    }
    return 0;
}

xt_actor *xt_actor_new(const xt_actor_options *o, volatile sig_atomic_t *stop, xt_err *err) {
    const xt_config *cfg = o->cfg;
    if (!xt_wire_id_valid(o->id)) {
        xt_err_set(err, XT_EINVAL, "actor id \"%s\": must be 1-255 printable ASCII characters without spaces", o->id);
        return NULL;
    }
    if (o->envs < 1 || o->envs > XT_ACTOR_MAX_ENVS) {
        xt_err_set(err, XT_EINVAL, "actor envs: must be between 1 and %d (got %d)", XT_ACTOR_MAX_ENVS, o->envs);
        return NULL;
    }
    if (cfg->broker_liveness_ms <= cfg->broker_heartbeat_ms) {
        xt_err_set(err, XT_EINVAL, "broker.liveness_ms: must exceed broker.heartbeat_ms (%lld <= %lld)",
                   (long long)cfg->broker_liveness_ms, (long long)cfg->broker_heartbeat_ms);
        return NULL;
    }
    xt_actor *a = calloc(1, sizeof *a);
    if (!a) {
        xt_err_set(err, XT_ENOMEM, "actor: out of memory");
        return NULL;
    }
    a->cfg = cfg, a->stop = stop, a->envs = o->envs;
    snprintf(a->id, sizeof a->id, "%s", o->id);
    snprintf(a->broker_ep, sizeof a->broker_ep, "%s", o->broker_endpoint);
    if (gethostname(a->host, sizeof a->host - 1) != 0 || !xt_wire_id_valid(a->host))
        snprintf(a->host, sizeof a->host, "unknown");
    a->hb_s = (double)cfg->broker_heartbeat_ms / 1000.0;
    a->live_s = (double)cfg->broker_liveness_ms / 1000.0;
    a->reconnect_s = (double)cfg->actor_reconnect_ms / 1000.0;
    a->sync = cfg->learner_mode == xt_config_enum_index(XT_CFGK_learner_mode, "sync");
    a->det = cfg->run_deterministic != 0;
    a->share_slots = (int)((cfg->ppo_n_steps + cfg->ppo_chunk_len - 1) / cfg->ppo_chunk_len);
    a->kind = (int)cfg->env_kind;
    a->shards_fold = -1, a->work_timer = -1, a->phase = XT_WIRE_PHASE_NONE;
    a->open_pending = a->open_want = -1;
    // Incarnation, fresh per process start (CP §2): the wall clock in
    // microseconds (it increases across restarts) shifted left by 12 bits,
    // with 12 random bits below (two hosts starting in the same microsecond
    // still differ).
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    xt_rng_seed(&a->rng, r);
    a->incarnation = ((uint64_t)(xt_time_wall() * 1e6) << 12) | (xt_rng_u64(&a->rng) & 0xfffu);
    a->as = calloc(XT_ACTOR_MAX_ENVS, sizeof *a->as);
    a->env_shard = calloc(XT_ACTOR_MAX_ENVS, sizeof *a->env_shard);
    if (!a->as || !a->env_shard) {
        xt_err_set(err, XT_ENOMEM, "actor: out of memory");
        goto fail;
    }
    if (xt_rl_env_params(&a->envp, cfg, err) || s_load_keys(a, err)) goto fail;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = S_CTL_FRAME_MAX;
    lim.max_shards = XT_ACTOR_MAX_ENVS;
    a->dec_ctl = xt_wire_decoder_new(&lim, err);
    a->enc_ctl = a->dec_ctl ? xt_wire_encoder_new(&lim, err) : NULL;
    if (!a->enc_ctl) goto fail;
    xt_sender_config sc = {.hwm = 2, .curve_cert = a->cert, .curve_server_key = a->cert ? a->learner_key : NULL};
    a->sender = xt_sender_new(&sc, err);
    if (!a->sender) goto fail;
    int64_t stall = 3 * cfg->broker_heartbeat_ms > 10000 ? 3 * cfg->broker_heartbeat_ms : 10000;
    if (xt_astats_init(&a->st, a->id, stall, err) ||
        xt_astats_serve(&a->st, o->http_bind ? o->http_bind : "0.0.0.0", (int)cfg->actor_http_port, err))
        goto fail;
    snprintf(a->metrics_url, sizeof a->metrics_url, "%s", xt_metrics_http_url(a->st.http));
    if (s_connect_dealer(a, err)) goto fail;
    return a;
fail:
    xt_actor_destroy(&a);
    return NULL;
}

int xt_actor_run(xt_actor *a, xt_err *err) {
    a->loop = zloop_new();
    if (!a->loop) return xt_err_set(err, XT_ENOMEM, "actor: cannot create the event loop");
    if (zloop_reader(a->loop, a->dealer, s_on_dealer, a) != 0 ||
        zloop_timer(a->loop, (size_t)a->cfg->broker_heartbeat_ms, 0, s_on_timer, a) < 0)
        return xt_err_set(err, XT_EIO, "actor: cannot register the control socket and timer with the event loop");
    a->next_register = 0; // Register goes out once the caches are ready, on the socket made at start
    a->attempts = 0;
    a->data = zactor_new(s_data_worker, (void *)a->cfg);
    if (!a->data || zloop_reader(a->loop, zactor_sock(a->data), s_on_data, a) != 0)
        return xt_err_set(err, XT_EIO, "actor: cannot start the feature cache worker");
    while (!a->done) {
        // zloop_start returns -1 when a handler asks to stop and 0 when a
        // signal interrupted its poll: then tick at once so that a stop
        // request is served without waiting for the timer.
        if (zloop_start(a->loop) == 0 && !a->done) s_tick(a);
    }
    if (a->exit_rc) {
        *err = a->fatal;
        return a->exit_rc;
    }
    return 0;
}

uint64_t xt_actor_incarnation(const xt_actor *a) { return a->incarnation; }
const char *xt_actor_metrics_url(const xt_actor *a) { return a->metrics_url; }

void xt_actor_destroy(xt_actor **self_p) {
    if (!self_p || !*self_p) return;
    xt_actor *a = *self_p;
    xt_actor_eval_join(a); // the loop has stopped: waiting for the walk in progress is harmless now
    s_drop_pollout(a);
    zactor_destroy(&a->data); // a build in progress finishes first
    zloop_destroy(&a->loop);
    xt_runner_destroy(&a->runner);
    xt_shards_destroy(&a->shards);
    xt_shards_destroy(&a->shards_retired);
    xt_sender_destroy(&a->sender);
    zsock_destroy(&a->dealer);
    zsock_destroy(&a->sub);
    zcert_destroy(&a->cert);
    xt_wire_decoder_destroy(&a->dec_ctl);
    xt_wire_decoder_destroy(&a->dec_w);
    xt_wire_encoder_destroy(&a->enc_ctl);
    xt_astats_destroy(&a->st);
    free(a->as);
    free(a->env_shard);
    free(a->w_new);
    free(a->ev_params);
    free(a);
    *self_p = NULL;
}
