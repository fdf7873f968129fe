// fake_peer.c - a scripted learner or actor that speaks the cluster protocol
// (docs/cluster-protocol.md) to a real xtrade-broker, for the broker's
// integration tests. It trains and evaluates nothing: the learner counts
// env steps per heartbeat and reports checkpoints, the actor acknowledges
// assignments and returns made-up evaluation metrics. Every protocol event
// is printed on stdout, one line each, for the test script to check.
//
//   xt-fake-peer --endpoint EP --role learner|actor --id ID [options]
//     --capacity N         actor envs (default 2)
//     --beat-ms N          heartbeat period (default 100)
//     --liveness-ms N      broker silence before re-registering (default 1000)
//     --steps-per-beat N   learner: env steps trained per heartbeat (default 1024)
//     --ckpt-every N       learner: periodic checkpoint every N beats (default 4)
//     --hang-on PHASE      actor: go silent for good on entering train|eval
//     --eval-delay-ms N    actor: time per evaluated shard (default 50)
//     --curve-cert PATH    CurveZMQ client key pair (PATH and PATH_secret)
//     --curve-server PATH  the broker's public certificate
//     --timeout-ms N       give up after N ms (exit 5; default 60000)
//   xt-fake-peer --endpoint EP --garbage [--socket dealer|push]
//     sends six bad frames (garbage, truncated, oversized, wrong version,
//     three parts, empty) from a DEALER (to the broker's ROUTER) or a PUSH
//     (to the learner's chunk PULL) and exits 0.
//
// Exit status: 0 on DONE, 3 on STOP, 4 never registered, 5 timeout, 2 usage.
#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SHARDS 256

typedef struct {
    const char *endpoint, *id, *hang_on, *curve_cert, *curve_server;
    xt_wire_role role;
    int capacity, beat_ms, liveness_ms, steps_per_beat, ckpt_every, eval_delay_ms, timeout_ms;
    int sock_type; // ZMQ_DEALER, or ZMQ_PUSH for --garbage --socket push
} opts;

typedef struct {
    opts o;
    zsock_t *sock;
    zcert_t *cert;
    char server_key[41];
    xt_wire_encoder *enc;
    xt_wire_decoder *dec;
    uint64_t incarnation, seq, broker_inc;
    int registered, hung;
    double last_heard, last_beat, start;
    // learner
    int fold, training, final_fold, beats;
    uint64_t steps, budget, version;
    // actor
    int eval_fold, n_eval, eval_next;
    double eval_due;
    char eval_sym[MAX_SHARDS][64];
    int eval_portfolio[MAX_SHARDS];
    uint32_t eval_tf[MAX_SHARDS];
    xt_wire_state state;
} peer;

static void s_send(peer *p, xt_wire_msg *m) {
    m->hdr = (xt_wire_hdr){0, p->o.id, p->incarnation, ++p->seq};
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(p->enc, m, &frame, &len, &err)) {
        fprintf(stderr, "fake_peer: %s\n", err.msg);
        exit(1);
    }
    xt_wire_send(p->sock, NULL, 0, frame, len, ZMQ_DONTWAIT, &err);
}

static void s_connect(peer *p) {
    zsock_destroy(&p->sock);
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.routing_id = p->o.sock_type == ZMQ_DEALER ? p->o.id : NULL; // PUSH sockets have no identity
    if (p->cert) o.curve_cert = p->cert, o.curve_server_key = p->server_key;
    xt_err err = {0};
    p->sock = xt_wire_connect(p->o.sock_type, p->o.endpoint, &o, &err);
    if (!p->sock) {
        fprintf(stderr, "fake_peer: %s\n", err.msg);
        exit(1);
    }
}

static void s_register(peer *p) {
    xt_wire_msg m = {.type = XT_WIRE_REGISTER};
    int learner = p->o.role == XT_WIRE_ROLE_LEARNER;
    m.reg = (xt_wire_register){p->o.role, learner ? 0 : (uint32_t)p->o.capacity, (uint32_t)getpid(), "127.0.0.1", 0,
                               learner ? 45556 : 0, learner ? 45557 : 0, XT_VERSION};
    s_send(p, &m);
    p->registered = 0;
}

static void s_heartbeat(peer *p) {
    xt_wire_msg m = {.type = XT_WIRE_HEARTBEAT};
    uint64_t steps = p->o.role == XT_WIRE_ROLE_LEARNER && p->final_fold != p->fold ? p->steps : 0;
    m.hb = (xt_wire_heartbeat){p->o.role, p->state, 1000.0, steps, 0, p->version};
    s_send(p, &m);
}

static void s_checkpoint(peer *p) {
    xt_wire_msg m = {.type = XT_WIRE_CHECKPOINT_DONE};
    char path[128];
    snprintf(path, sizeof path, "runs/fake/fold-%d/ckpt-%llu.xtck", p->fold, (unsigned long long)p->steps);
    m.ckpt_done = (xt_wire_ckpt_done){(uint32_t)p->fold, p->steps, p->version, path, 0.5};
    s_send(p, &m);
    int final = p->steps >= p->budget;
    if (final) p->final_fold = p->fold;
    printf("CKPT fold=%d step=%llu final=%d\n", p->fold, (unsigned long long)p->steps, final);
}

static void s_shard_name(char *buf, size_t cap, const xt_wire_shard_key *k) {
    snprintf(buf, cap, "%s/%u", k->symbol[0] ? k->symbol : k->portfolio, k->tf_sec);
}

// ---------------------------------------------------------------- messages

static int s_on_msg(peer *p, const xt_wire_msg *m) {
    p->last_heard = xt_time_mono();
    switch (m->type) {
    case XT_WIRE_HEARTBEAT:
        if (m->hb.state == XT_WIRE_STATE_IDLE || (p->registered && m->hdr.incarnation != p->broker_inc)) {
            printf("REREGISTER broker=%llu\n", (unsigned long long)m->hdr.incarnation);
            s_register(p);
        } else if (!p->registered) {
            p->registered = 1;
            p->broker_inc = m->hdr.incarnation;
            printf("REGISTERED broker=%llu\n", (unsigned long long)p->broker_inc);
        }
        break;
    case XT_WIRE_PHASE_COMMAND: {
        const xt_wire_phase_cmd *c = &m->phase_cmd;
        printf("%s fold=%u budget=%llu\n", xt_wire_phase_name(c->phase), c->fold, (unsigned long long)c->step_budget);
        if (c->phase == XT_WIRE_PHASE_DONE) return 0;
        if (c->phase == XT_WIRE_PHASE_STOP) return 3;
        if (p->o.role == XT_WIRE_ROLE_LEARNER) {
            if (c->phase == XT_WIRE_PHASE_TRAIN) {
                if ((int)c->fold == p->final_fold) {
                    s_checkpoint(p); // that fold is finished: report its final checkpoint again
                } else if ((int)c->fold != p->fold) {
                    p->fold = (int)c->fold, p->steps = 0, p->budget = c->step_budget;
                }
                p->training = p->final_fold != p->fold && p->steps < p->budget;
            } else if (c->phase == XT_WIRE_PHASE_CHECKPOINT && (int)c->fold == p->fold) {
                p->training = 0;
                s_checkpoint(p);
            } else {
                p->training = 0;
            }
            p->state = p->training ? XT_WIRE_STATE_RUNNING : XT_WIRE_STATE_IDLE;
        } else {
            p->state = XT_WIRE_STATE_IDLE;
        }
        break;
    }
    case XT_WIRE_ASSIGNMENT: {
        const xt_wire_assignment *a = &m->assign;
        printf("ASSIGN fold=%u phase=%s n=%u shards=", a->fold, xt_wire_phase_name(a->phase), a->n_shards);
        for (uint32_t i = 0; i < a->n_shards; i++) {
            char s[64];
            s_shard_name(s, sizeof s, &a->shards[i].key);
            printf("%s%s", i ? "," : "", s);
        }
        printf(" chunks=%s weights=%s\n", a->chunk_endpoint, a->weights_endpoint);
        p->state = a->n_shards ? XT_WIRE_STATE_RUNNING : XT_WIRE_STATE_IDLE;
        if (p->o.hang_on && strcmp(p->o.hang_on, "train") == 0) p->hung = 1;
        break;
    }
    case XT_WIRE_EVAL_REQUEST: {
        const xt_wire_eval_req *e = &m->eval_req;
        printf("EVALREQ fold=%u n=%u ckpt=%s shards=", e->fold, e->n_shards, e->checkpoint_path);
        p->eval_fold = (int)e->fold, p->n_eval = 0, p->eval_next = 0;
        for (uint32_t i = 0; i < e->n_shards && i < MAX_SHARDS; i++) {
            const xt_wire_shard_key *k = &e->shards[i].key;
            char s[64];
            s_shard_name(s, sizeof s, k);
            printf("%s%s", i ? "," : "", s);
            snprintf(p->eval_sym[i], sizeof p->eval_sym[i], "%s", k->symbol[0] ? k->symbol : k->portfolio);
            p->eval_portfolio[i] = k->portfolio[0] != 0;
            p->eval_tf[i] = k->tf_sec;
            p->n_eval++;
        }
        printf("\n");
        p->eval_due = xt_time_mono() + p->o.eval_delay_ms / 1000.0;
        p->state = XT_WIRE_STATE_EVALUATING;
        if (p->o.hang_on && strcmp(p->o.hang_on, "eval") == 0) p->hung = 1;
        break;
    }
    case XT_WIRE_STATUS: break; // the learner's roster
    default: printf("UNEXPECTED %s\n", xt_wire_type_name(m->type));
    }
    return -1;
}

// Sends the next due EvalResult (made-up metrics, deterministic per shard).
static void s_eval_step(peer *p) {
    if (p->eval_next >= p->n_eval || xt_time_mono() < p->eval_due) return;
    int i = p->eval_next++;
    xt_wire_msg m = {.type = XT_WIRE_EVAL_RESULT};
    m.eval_res.fold = (uint32_t)p->eval_fold;
    m.eval_res.shard = (xt_wire_shard_key){p->eval_portfolio[i] ? "" : p->eval_sym[i],
                                           p->eval_portfolio[i] ? p->eval_sym[i] : "", p->eval_tf[i],
                                           (uint32_t)p->eval_fold};
    double base = 0.01 * (double)(p->eval_fold + 1) * (double)(1 + (int)strlen(p->eval_sym[i]) % 3);
    for (int k = 0; k < XT_WIRE_EVAL_N; k++) m.eval_res.metrics[k] = base * (k + 1);
    m.eval_res.metrics[XT_WIRE_EVAL_SHARPE] = 1.5;
    char csv[128];
    snprintf(csv, sizeof csv, "runs/fake/fold-%d/eval/%s.csv", p->eval_fold, p->eval_sym[i]);
    m.eval_res.csv_path = csv;
    s_send(p, &m);
    printf("RESULT fold=%d shard=%s/%u\n", p->eval_fold, p->eval_sym[i], p->eval_tf[i]);
    p->eval_due = xt_time_mono() + p->o.eval_delay_ms / 1000.0;
    if (p->eval_next == p->n_eval) p->state = XT_WIRE_STATE_IDLE;
}

static void s_beat(peer *p) {
    if (p->o.role == XT_WIRE_ROLE_LEARNER && p->training) {
        p->steps += (uint64_t)p->o.steps_per_beat;
        p->version++;
        if (p->steps >= p->budget) p->steps = p->budget, p->training = 0, p->state = XT_WIRE_STATE_IDLE;
        if (++p->beats % p->o.ckpt_every == 0 && p->training) s_checkpoint(p);
    }
    s_heartbeat(p);
}

// ---------------------------------------------------------------- garbage

static int s_garbage(peer *p) {
    s_connect(p);
    zclock_sleep(200); // let the connection come up before sending
    xt_err err = {0};
    xt_wire_msg hb = {.type = XT_WIRE_HEARTBEAT};
    hb.hdr = (xt_wire_hdr){0, "garbage", 1, 1};
    hb.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_ACTOR, XT_WIRE_STATE_IDLE, 0, 0, 0, 0};
    const void *f;
    size_t len;
    if (xt_wire_encode(p->enc, &hb, &f, &len, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    uint8_t good[256];
    memcpy(good, f, len);
    uint8_t junk[16];
    memset(junk, 0xff, sizeof junk);
    size_t big_n = 2u << 20;
    uint8_t *big = calloc(1, big_n);
    uint8_t bad_version[256];
    memcpy(bad_version, good, len);
    // Field 1 (version) is the first field: tag 0x08, then the varint 1.
    if (bad_version[0] != 0x08 || bad_version[1] != 0x01) return fprintf(stderr, "unexpected encoding\n"), 1;
    bad_version[1] = 0x07;
    void *h = zsock_resolve(p->sock);
    xt_wire_send(p->sock, NULL, 0, junk, sizeof junk, 0, &err);
    xt_wire_send(p->sock, NULL, 0, good, len / 2, 0, &err);
    xt_wire_send(p->sock, NULL, 0, big, big_n, 0, &err);
    xt_wire_send(p->sock, NULL, 0, bad_version, len, 0, &err);
    zmq_send(h, good, len, ZMQ_SNDMORE);
    zmq_send(h, good, len, ZMQ_SNDMORE);
    zmq_send(h, good, len, 0);
    zmq_send(h, "", 0, 0);
    free(big);
    zclock_sleep(300);
    zsock_destroy(&p->sock);
    printf("GARBAGE sent 6\n");
    return 0;
}

// ---------------------------------------------------------------- main

int main(int argc, char **argv) {
    peer *p = calloc(1, sizeof *p);
    opts *o = &p->o;
    *o = (opts){.capacity = 2, .beat_ms = 100, .liveness_ms = 1000, .steps_per_beat = 1024, .ckpt_every = 4,
                .eval_delay_ms = 50, .timeout_ms = 60000, .id = "fake", .sock_type = ZMQ_DEALER};
    int garbage = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--garbage") == 0) { garbage = 1; continue; }
        if (!v) return fprintf(stderr, "fake_peer: %s needs a value\n", a), 2;
        i++;
        if (strcmp(a, "--endpoint") == 0) o->endpoint = v;
        else if (strcmp(a, "--id") == 0) o->id = v;
        else if (strcmp(a, "--role") == 0) o->role = strcmp(v, "learner") == 0 ? XT_WIRE_ROLE_LEARNER : XT_WIRE_ROLE_ACTOR;
        else if (strcmp(a, "--capacity") == 0) o->capacity = atoi(v);
        else if (strcmp(a, "--beat-ms") == 0) o->beat_ms = atoi(v);
        else if (strcmp(a, "--liveness-ms") == 0) o->liveness_ms = atoi(v);
        else if (strcmp(a, "--steps-per-beat") == 0) o->steps_per_beat = atoi(v);
        else if (strcmp(a, "--ckpt-every") == 0) o->ckpt_every = atoi(v);
        else if (strcmp(a, "--hang-on") == 0) o->hang_on = v;
        else if (strcmp(a, "--eval-delay-ms") == 0) o->eval_delay_ms = atoi(v);
        else if (strcmp(a, "--curve-cert") == 0) o->curve_cert = v;
        else if (strcmp(a, "--curve-server") == 0) o->curve_server = v;
        else if (strcmp(a, "--timeout-ms") == 0) o->timeout_ms = atoi(v);
        else if (strcmp(a, "--socket") == 0) o->sock_type = strcmp(v, "push") == 0 ? ZMQ_PUSH : ZMQ_DEALER;
        else return fprintf(stderr, "fake_peer: unknown option %s\n", a), 2;
    }
    if (!o->endpoint || (!garbage && !o->role)) return fprintf(stderr, "fake_peer: --endpoint and --role are required\n"), 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    xt_wire_sys_init();
    signal(SIGPIPE, SIG_IGN);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 4u << 20;
    p->enc = xt_wire_encoder_new(&lim, NULL);
    p->dec = xt_wire_decoder_new(&lim, NULL);
    if (!p->enc || !p->dec) return 1;
    if (garbage) {
        int rc = s_garbage(p);
        xt_wire_encoder_destroy(&p->enc);
        xt_wire_decoder_destroy(&p->dec);
        free(p);
        return rc;
    }
    if (o->curve_cert) {
        xt_err err = {0};
        p->cert = xt_wire_curve_cert_load(o->curve_cert, &err);
        zcert_t *srv = o->curve_server ? zcert_load(o->curve_server) : NULL;
        if (!p->cert || !srv) return fprintf(stderr, "fake_peer: cannot load the curve keys (%s)\n", err.msg), 1;
        snprintf(p->server_key, sizeof p->server_key, "%s", zcert_public_txt(srv));
        zcert_destroy(&srv);
    }
    p->incarnation = (uint64_t)(xt_time_wall() * 1e6);
    p->fold = -1, p->final_fold = -1, p->state = XT_WIRE_STATE_IDLE;
    p->start = p->last_heard = xt_time_mono();
    s_connect(p);
    s_register(p);
    int ever = 0, rc = -1;
    while (rc < 0) {
        double now = xt_time_mono();
        if ((now - p->start) * 1000 > o->timeout_ms) {
            printf("TIMEOUT\n");
            rc = ever ? 5 : 4;
            break;
        }
        if (!p->hung) {
            if ((now - p->last_heard) * 1000 > o->liveness_ms) {
                // Broker silent: new socket, register again.
                printf("BROKER-SILENT\n");
                s_connect(p);
                s_register(p);
                p->last_heard = now;
            }
            if ((now - p->last_beat) * 1000 >= o->beat_ms) p->last_beat = now, s_beat(p);
            s_eval_step(p);
        }
        zsock_set_rcvtimeo(p->sock, 10);
        xt_wire_rx rx;
        xt_err err = {0};
        if (xt_wire_recv(p->sock, &rx, 0, &err) != 0) continue;
        xt_wire_msg m;
        int ok = xt_wire_decode(p->dec, rx.data, rx.len, "broker", &m, &err) == 0;
        if (ok && !p->hung) {
            ever |= m.type == XT_WIRE_HEARTBEAT;
            rc = s_on_msg(p, &m);
        }
        xt_wire_rx_close(&rx);
    }
    zsock_destroy(&p->sock);
    zcert_destroy(&p->cert);
    xt_wire_encoder_destroy(&p->enc);
    xt_wire_decoder_destroy(&p->dec);
    free(p);
    return rc;
}
