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
//                                 conflating SUB sockets all hold it (mean
//                                 over 20 versions; decoding by the
//                                 subscribers not included: actors do that
//                                 in their own processes)
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    xt_chunk_shape_of(&ic.shape, &spec, T);
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

static void s_bench_weights(void) {
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
    o.conflate = 1; // as actors subscribe
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", xt_publish_port(pub));
    zsock_t *subs[N_SUBS];
    zpoller_t *p = zpoller_new(NULL);
    for (int i = 0; i < N_SUBS; i++) {
        subs[i] = xt_wire_connect(ZMQ_SUB, ep, &o, &err);
        zpoller_add(p, subs[i]);
    }
    // Rounds: publish version v, wait until every subscriber has a frame.
    // Version 0 is repeated until all 8 joined (PUB drops before a join).
    double total = 0, worst = 0;
    int timed = 0;
    size_t bytes = 0;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_wire_decoder *dec = xt_wire_decoder_new(&lim, &err);
    for (uint64_t v = 0; timed < N_ROUNDS && v < 1000; v++) {
        params[0] = (float)v; // a new version differs
        double t0 = xt_time_mono();
        xt_publish_weights(pub, v, 0, params, lay.n_params, &err);
        int got[N_SUBS] = {0}, n = 0;
        uint64_t last = 0;
        while (n < N_SUBS) {
            zsock_t *s = zpoller_wait(p, v == 0 ? 200 : 2000);
            if (!s) break;
            for (int i = 0; i < N_SUBS; i++) {
                if (subs[i] != s) continue;
                xt_wire_rx rx;
                if (xt_wire_recv(s, &rx, ZMQ_DONTWAIT, &err) != 0) break;
                bytes = rx.len;
                if (!got[i]) got[i] = 1, n++;
                if (n == N_SUBS) {
                    // check (not timed) that the last one is this version, crc verified
                    xt_wire_msg m;
                    double t1 = xt_time_mono();
                    if (xt_wire_decode(dec, rx.data, rx.len, "bench", &m, &err) == 0) last = m.weights.version;
                    if (v > 0) {
                        double ms = (t1 - t0) * 1000;
                        total += ms, timed++;
                        worst = ms > worst ? ms : worst;
                    }
                }
                xt_wire_rx_close(&rx);
            }
        }
        if (n == N_SUBS && last != v) fprintf(stderr, "bench_learner: got version %llu for %llu\n",
                                              (unsigned long long)last, (unsigned long long)v);
        zclock_sleep(20); // let the round's traffic settle
    }
    // the publisher's own share: CRC-32 + encode + handing the frame to ZeroMQ
    const xt_publish_stats *ps = xt_publish_stats_of(pub);
    double enc_ms = (double)atomic_load(&ps->nanos) / 1e6 / (double)atomic_load(&ps->published);
    char cfg[220];
    snprintf(cfg, sizeof cfg,
             "seed-003 network, %zu params (%zu-byte frame), 8 conflating SUBs, tcp loopback, worst %.1f ms, "
             "encode+send %.1f ms",
             lay.n_params, bytes, worst, enc_ms);
    xt_bench_header("learner weights broadcast: publish -> 8 subscribers");
    xt_bench_record("weights_broadcast_ms_8actors", timed ? total / timed : -1, "ms", cfg);
    xt_wire_decoder_destroy(&dec);
    zpoller_destroy(&p);
    for (int i = 0; i < N_SUBS; i++) zsock_destroy(&subs[i]);
    xt_publish_destroy(&pub);
    free(params);
}

int main(void) {
    xt_log_init('T', XT_LOG_ERROR, 0);
    xt_wire_sys_init();
    s_bench_ingest();
    s_bench_weights();
    return 0;
}
