// bench_learner.c - the learner's two network paths on loopback TCP:
//
//   ingest_steps_per_s            chunks pushed by a sender thread, received,
//                                 decoded, checked and copied into batch
//                                 buffers by the learner's ingest (batches
//                                 are handed back at once, so it never
//                                 back-pressures); seed-003 chunk shape:
//                                 T = 64, obs 97, 7 continuous actions,
//                                 LSTM 2 x 128 actor + critic, values and masks
//   weights_broadcast_ms_8actors  one Weights version of the seed-003
//                                 network from the publisher actor until 8
//                                 SUB sockets, hwm 4 (in this process)
//                                 all received it, mean over 20 versions;
//                                 decoding is not timed
//   weights_broadcast_ms_8procs   the same to 8 subscriber processes, as
//                                 actors are: latest receive time
//                                 (CLOCK_MONOTONIC, system-wide) minus the
//                                 publish call; their decode comes after
// Targets (issue 5): >= 500k env steps/s, < 20 ms.
#include "benchutil.h"

#include "ingest.h"
#include "publish.h"

#include "core/log.h"
#include "core/rng.h"
#include "core/xtime.h"
#include "nn/model.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { T = 64, D = 97, A = 7, L = 2, H = 128, N_FRAMES = 8, N_CHUNKS = 24000, N_SUBS = 8, N_ROUNDS = 20 };

static xt_model_spec s_spec(void) {
    xt_model_spec s;
    xt_model_spec_default(&s, D, A, 1); // seed 003: LSTM 2 x 128, MLP 256/128, separate critic
    return s;
}

// ---------------------------------------------------------------- ingest

typedef struct {
    int port;
    void *frames[N_FRAMES];
    size_t lens[N_FRAMES];
} sender_arg;

static void s_sender(zsock_t *pipe, void *argp) {
    sender_arg *a = argp;
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 64;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", a->port);
    xt_err err = {0};
    zsock_t *push = xt_wire_connect(ZMQ_PUSH, ep, &o, &err);
    zsock_signal(pipe, 0);
    for (int i = 0; push && i < N_CHUNKS; i++)
        xt_wire_send(push, NULL, 0, a->frames[i % N_FRAMES], a->lens[i % N_FRAMES], 0, &err);
    char *cmd = zstr_recv(pipe); // $TERM
    zstr_free(&cmd);
    zsock_destroy(&push);
}

static void s_bench_ingest(void) {
    xt_model_spec spec = s_spec();
    xt_ingest_config ic = {.batch_chunks = 512, .n_batches = 2, .max_policy_lag = 4};
    xt_batcher_shape_of(&ic.shape, &spec, T);
    xt_err err = {0};
    xt_ingest *g = xt_ingest_new(&ic, &err);
    if (!g) {
        fprintf(stderr, "bench_learner: %s\n", err.msg);
        exit(1);
    }
    xt_ingest_open(g, 0, 0);
    // N_FRAMES distinct chunks, encoded once.
    size_t LH = (size_t)L * H;
    float *obs = malloc((T + 1) * D * sizeof(float)), *act = malloc(T * A * sizeof(float));
    float *logp = malloc(T * sizeof(float)), *val = malloc((T + 1) * sizeof(float)), *rew = malloc(T * sizeof(float));
    float *st = malloc(4 * LH * sizeof(float));
    uint8_t *flags = calloc(3 * T, 1), *masks = malloc(T * A);
    memset(masks, 1, T * A);
    xt_rng r;
    xt_rng_seed(&r, 9);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_wire_encoder *enc = xt_wire_encoder_new(&lim, &err);
    sender_arg sa = {0};
    for (int k = 0; k < N_FRAMES; k++) {
        for (int i = 0; i < (T + 1) * D; i++) obs[i] = (float)xt_rng_normal(&r);
        for (int i = 0; i < T * A; i++) act[i] = (float)xt_rng_normal(&r);
        for (int t = 0; t < T; t++) logp[t] = -5.0f, rew[t] = (float)xt_rng_normal(&r) * 0.01f;
        for (int t = 0; t <= T; t++) val[t] = 0.1f;
        for (size_t i = 0; i < 4 * LH; i++) st[i] = (float)xt_rng_normal(&r) * 0.1f;
        xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK, .hdr = {0, "actor-1", 1, (uint64_t)k + 1}};
        m.chunk = (xt_wire_chunk){.shard = {NULL, "portfolio", 900, 0},
                                  .env_index = (uint32_t)k,
                                  .t = T,
                                  .obs_dim = D,
                                  .n_actions = A,
                                  .action_kind = XT_WIRE_ACTION_CONTINUOUS,
                                  .lstm_layers = L,
                                  .lstm_hidden = H,
                                  .obs = obs,
                                  .actions_cont = act,
                                  .logp = logp,
                                  .values = val,
                                  .rewards = rew,
                                  .terminated = flags,
                                  .truncated = flags + T,
                                  .episode_start = flags + 2 * T,
                                  .masks = masks,
                                  .actor_h = st,
                                  .actor_c = st + LH,
                                  .critic_h = st + 2 * LH,
                                  .critic_c = st + 3 * LH};
        const void *f;
        if (xt_wire_encode(enc, &m, &f, &sa.lens[k], &err)) {
            fprintf(stderr, "bench_learner: %s\n", err.msg);
            exit(1);
        }
        sa.frames[k] = malloc(sa.lens[k]);
        memcpy(sa.frames[k], f, sa.lens[k]);
    }
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 16;
    o.max_msg_bytes = 16 << 20;
    zsock_t *pull = xt_wire_bind(ZMQ_PULL, "tcp://127.0.0.1:0", &o, &sa.port, &err);
    zactor_t *sender = zactor_new(s_sender, &sa);
    zpoller_t *p = zpoller_new(pull, NULL);
    const xt_ingest_stats *gs = xt_ingest_stats_of(g);
    double t0 = 0;
    while (gs->received < N_CHUNKS) {
        if (zpoller_wait(p, 1000) != pull) break;
        if (t0 == 0) t0 = xt_time_mono();
        xt_ingest_drain(g, pull, 256, &err);
        const xt_batch *b;
        int id;
        while ((id = xt_ingest_take(g, &b, NULL)) >= 0) xt_ingest_release(g, id); // an instant update
    }
    double sec = xt_time_mono() - t0;
    char cfg[200];
    snprintf(cfg, sizeof cfg, "T=%d obs=%d A=%d LSTM %dx%d, %zu-byte frames, tcp loopback, %llu chunks", T, D, A, L, H,
             sa.lens[0], (unsigned long long)gs->accepted);
    xt_bench_header("learner ingest: PUSH -> PULL -> decode -> batch buffers");
    xt_bench_record("ingest_steps_per_s", (double)gs->accepted_steps / sec, "steps/s", cfg);
    xt_bench_record("ingest_chunks_per_s", (double)gs->accepted / sec, "chunks/s", cfg);
    xt_bench_record("ingest_cpu_share", gs->seconds / sec, "ratio", "time in receive+decode+copy / wall time");
    if (gs->accepted != N_CHUNKS) fprintf(stderr, "bench_learner: only %llu of %d chunks accepted\n",
                                          (unsigned long long)gs->accepted, N_CHUNKS);
    zpoller_destroy(&p);
    zactor_destroy(&sender);
    zsock_destroy(&pull);
    xt_ingest_destroy(&g);
    xt_wire_encoder_destroy(&enc);
    for (int k = 0; k < N_FRAMES; k++) free(sa.frames[k]);
    free(obs), free(act), free(logp), free(val), free(rew), free(st), free(flags), free(masks);
}

// ---------------------------------------------------------------- weights

// Subscriber process (`bench_learner --sub ENDPOINT`), one per simulated
// actor: a SUB like an actor's (hwm 4); for every frame it prints
// "<version> <monotonic receive time>" (the time is taken before the
// decode, which verifies the CRC) until it is killed.
static int s_subscriber(const char *ep) {
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 4;
    xt_err err = {0};
    zsock_t *sub = xt_wire_connect(ZMQ_SUB, ep, &o, &err);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_wire_decoder *dec = xt_wire_decoder_new(&lim, &err);
    if (!sub || !dec) return 1;
    for (;;) {
        xt_wire_rx rx;
        if (xt_wire_recv(sub, &rx, 0, &err) != 0) continue;
        double t = xt_time_mono();
        xt_wire_msg m;
        if (xt_wire_decode(dec, rx.data, rx.len, "bench", &m, &err) == 0 && m.type == XT_WIRE_WEIGHTS)
            printf("%llu %.9f\n", (unsigned long long)m.weights.version, t);
        else
            printf("bad %s\n", err.msg);
        fflush(stdout);
        xt_wire_rx_close(&rx);
    }
}

// Reads "<version> <time>" lines of child i until one for `version`
// arrives (older ones are skipped); returns its time, or -1 on timeout.
static double s_child_time(FILE *in, uint64_t version, double timeout) {
    int fd = fileno(in);
    double end = xt_time_mono() + timeout;
    char line[256];
    for (;;) {
        zmq_pollitem_t it = {NULL, fd, ZMQ_POLLIN, 0};
        double left = end - xt_time_mono();
        if (left <= 0 || zmq_poll(&it, 1, (long)(left * 1000) + 1) <= 0) return -1;
        if (!fgets(line, sizeof line, in)) return -1;
        unsigned long long v;
        double t;
        if (sscanf(line, "%llu %lf", &v, &t) == 2 && v == version) return t;
    }
}

static void s_bench_weights(const char *self) {
    xt_model_spec spec = s_spec();
    xt_model_layout lay;
    xt_err err = {0};
    xt_model_layout_init(&lay, &spec, &err);
    float *params = malloc(lay.n_params * sizeof(float));
    xt_rng r;
    xt_rng_seed(&r, 3);
    xt_model_init_params(&lay, params, &r);
    xt_publish_config pc = {"tcp://127.0.0.1:0", NULL, "bench", "learner-0", 1, 0};
    xt_publish *pub = xt_publish_new(&pc, &err);
    if (!pub) {
        fprintf(stderr, "bench_learner: %s\n", err.msg);
        exit(1);
    }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", xt_publish_port(pub));
    // 8 subscriber processes (fork + exec: a fresh ZeroMQ context each).
    pid_t pids[N_SUBS];
    FILE *outs[N_SUBS];
    for (int i = 0; i < N_SUBS; i++) {
        int fds[2];
        if (pipe(fds) != 0) exit(1);
        pids[i] = fork();
        if (pids[i] == 0) {
            dup2(fds[1], 1);
            close(fds[0]), close(fds[1]);
            execl(self, self, "--sub", ep, (char *)NULL);
            _exit(98);
        }
        close(fds[1]);
        outs[i] = fdopen(fds[0], "r");
    }
    // Version 0 until every subscriber holds one (PUB drops messages sent
    // before a subscriber joined), then N_ROUNDS timed versions.
    int joined = 0;
    for (int tries = 0; tries < 100 && joined < N_SUBS; tries++) {
        xt_publish_weights(pub, 0, 0, params, lay.n_params, &err);
        joined = 0;
        for (int i = 0; i < N_SUBS; i++) joined += s_child_time(outs[i], 0, tries ? 0.05 : 2.0) >= 0 || 0;
    }
    double total = 0, worst = 0;
    int timed = 0;
    for (uint64_t v = 1; v <= N_ROUNDS && joined == N_SUBS; v++) {
        zclock_sleep(30); // the previous round's decodes are over
        params[0] = (float)v;
        double t0 = xt_time_mono(), last = 0;
        xt_publish_weights(pub, v, 0, params, lay.n_params, &err);
        int ok = 1;
        for (int i = 0; i < N_SUBS && ok; i++) {
            double t = s_child_time(outs[i], v, 15.0);
            ok = t >= 0;
            last = t > last ? t : last;
        }
        if (!ok) break;
        double ms = (last - t0) * 1000;
        total += ms, timed++;
        worst = ms > worst ? ms : worst;
    }
    for (int i = 0; i < N_SUBS; i++) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        fclose(outs[i]);
    }
    // the publisher's own share: CRC-32 + encode + handing the frame to ZeroMQ
    const xt_publish_stats *ps = xt_publish_stats_of(pub);
    double enc_ms = (double)atomic_load(&ps->nanos) / 1e6 / (double)atomic_load(&ps->published);
    char cfg[240];
    snprintf(cfg, sizeof cfg,
             "seed-003 network, %zu params (%llu-byte frame), 8 subscriber processes (hwm 4), tcp loopback, "
             "worst %.1f ms, encode+send %.1f ms",
             lay.n_params, (unsigned long long)atomic_load(&ps->bytes), worst, enc_ms);
    xt_bench_record("weights_broadcast_ms_8procs", timed ? total / timed : -1, "ms", cfg);
    if (joined < N_SUBS || timed < N_ROUNDS) fprintf(stderr, "bench_learner: %d of %d subscribers, %d of %d rounds\n",
                                                     joined, N_SUBS, timed, N_ROUNDS);
    xt_publish_destroy(&pub);
    free(params);
}

// Same, with the 8 SUB sockets (hwm 4) in this process: the figure the
// issue names; the subscribers then share this process's ZeroMQ I/O thread
// with the publisher.
static void s_bench_weights_inproc(void) {
    xt_model_spec spec = s_spec();
    xt_model_layout lay;
    xt_err err = {0};
    xt_model_layout_init(&lay, &spec, &err);
    float *params = malloc(lay.n_params * sizeof(float));
    xt_rng r;
    xt_rng_seed(&r, 3);
    xt_model_init_params(&lay, params, &r);
    xt_publish_config pc = {"tcp://127.0.0.1:0", NULL, "bench", "learner-0", 1, 0};
    xt_publish *pub = xt_publish_new(&pc, &err);
    if (!pub) {
        fprintf(stderr, "bench_learner: %s\n", err.msg);
        exit(1);
    }
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.hwm = 4; // as actors subscribe
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", xt_publish_port(pub));
    zsock_t *subs[N_SUBS];
    zpoller_t *p = zpoller_new(NULL);
    for (int i = 0; i < N_SUBS; i++) {
        subs[i] = xt_wire_connect(ZMQ_SUB, ep, &o, &err);
        zpoller_add(p, subs[i]);
    }
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_wire_decoder *dec = xt_wire_decoder_new(&lim, &err);
    double total = 0, worst = 0;
    int timed = 0;
    // Version 0 is repeated until all 8 joined; then timed versions.
    for (uint64_t v = 0; timed < N_ROUNDS && v < 1000; v++) {
        params[0] = (float)v;
        double t0 = xt_time_mono();
        xt_publish_weights(pub, v, 0, params, lay.n_params, &err);
        int got[N_SUBS] = {0}, n = 0;
        uint64_t seen = UINT64_MAX;
        while (n < N_SUBS) {
            zsock_t *s = zpoller_wait(p, v == 0 ? 200 : 2000);
            if (!s) break;
            for (int i = 0; i < N_SUBS; i++) {
                xt_wire_rx rx;
                if (subs[i] != s || xt_wire_recv(s, &rx, ZMQ_DONTWAIT, &err) != 0) continue;
                if (!got[i]) got[i] = 1, n++;
                if (n == N_SUBS) {
                    double ms = (xt_time_mono() - t0) * 1000;
                    xt_wire_msg m; // check, untimed: the version, CRC verified
                    if (xt_wire_decode(dec, rx.data, rx.len, "bench", &m, &err) == 0) seen = m.weights.version;
                    if (v > 0) total += ms, timed++, worst = ms > worst ? ms : worst;
                }
                xt_wire_rx_close(&rx);
            }
        }
        if (n == N_SUBS && seen != v) fprintf(stderr, "bench_learner: version %llu received for %llu\n",
                                              (unsigned long long)seen, (unsigned long long)v);
        zclock_sleep(20); // the round's traffic settles
    }
    char cfg[200];
    snprintf(cfg, sizeof cfg,
             "seed-003 network, %zu params, 8 SUB sockets (hwm 4) in the bench process, worst %.1f ms", lay.n_params,
             worst);
    xt_bench_record("weights_broadcast_ms_8actors", timed ? total / timed : -1, "ms", cfg);
    xt_wire_decoder_destroy(&dec);
    zpoller_destroy(&p);
    for (int i = 0; i < N_SUBS; i++) zsock_destroy(&subs[i]);
    xt_publish_destroy(&pub);
    free(params);
}

int main(int argc, char **argv) {
    xt_log_init('T', XT_LOG_ERROR, 0);
    xt_wire_sys_init();
    if (argc == 3 && strcmp(argv[1], "--sub") == 0) return s_subscriber(argv[2]);
    // (The subscriber processes are forked while this process has ZeroMQ
    // threads: the child only dup2s and execs, which is safe.)
    xt_bench_header("learner weights broadcast: publish -> 8 subscribers");
    s_bench_weights_inproc();
    s_bench_weights(argv[0]);
    s_bench_ingest();
    return 0;
}
