// bench_wire.c - wire codec throughput on one core: a rollout chunk of the
// default shape (T=64, obs_dim=97, 3 actions, actor and critic LSTM 2x128)
// and a weights message of a ~600k-parameter model. Encode runs the same
// checks as decode (shapes, flags, finiteness), so both sides are measured.
#include "benchutil.h"

#include "wire/envelope.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { T = 64, D = 97, A = 3, L = 2, H = 128, NPARAMS = 600000 };

// Runs fn until at least min_s of thread CPU time has passed; returns calls/s.
static double s_rate(int (*fn)(void *), void *arg, double min_s) {
    long n = 0;
    double t0 = xt_bench_thread_cpu(), t;
    do {
        for (int i = 0; i < 64; i++)
            if (fn(arg)) {
                fprintf(stderr, "bench_wire: codec failed\n");
                exit(1);
            }
        n += 64;
    } while ((t = xt_bench_thread_cpu() - t0) < min_s);
    return (double)n / t;
}

typedef struct {
    xt_wire_encoder *enc;
    xt_wire_decoder *dec;
    xt_wire_msg msg, out;
    const void *frame;
    size_t len;
} ctx;

static int s_encode(void *p) {
    ctx *c = p;
    return xt_wire_encode(c->enc, &c->msg, &c->frame, &c->len, NULL);
}
static int s_decode(void *p) {
    ctx *c = p;
    return xt_wire_decode(c->dec, c->frame, c->len, NULL, &c->out, NULL);
}
static int s_roundtrip(void *p) { return s_encode(p) || s_decode(p); }

int main(void) {
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 8 << 20;
    ctx c = {.enc = xt_wire_encoder_new(&lim, NULL), .dec = xt_wire_decoder_new(&lim, NULL)};
    if (!c.enc || !c.dec) return 1;

    // Chunk data: smooth values (the codec does not care), flags and masks 0/1.
    static float obs[(T + 1) * D], logp[T], values[T + 1], rewards[T], st[4][L * H];
    static int32_t act[T];
    static uint8_t term[T], trunc[T], start[T], masks[T * A];
    for (int i = 0; i < (T + 1) * D; i++) obs[i] = sinf(0.01f * (float)i);
    for (int t = 0; t < T; t++) {
        act[t] = t % A;
        logp[t] = -1.1f;
        rewards[t] = 0.001f * (float)(t % 7);
        term[t] = t == 40, trunc[t] = 0, start[t] = t == 0 || t == 41;
        for (int a = 0; a < A; a++) masks[t * A + a] = 1;
    }
    for (int t = 0; t <= T; t++) values[t] = 0.5f;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < L * H; i++) st[k][i] = 0.001f * (float)(i - k);
    c.msg = (xt_wire_msg){
        .type = XT_WIRE_ROLLOUT_CHUNK,
        .hdr = {0, "actor-1", 1, 1},
        .chunk = {.shard = {"EURUSD", NULL, 3600, 0},
                  .policy_version = 1,
                  .t = T,
                  .obs_dim = D,
                  .n_actions = A,
                  .action_kind = XT_WIRE_ACTION_CATEGORICAL,
                  .lstm_layers = L,
                  .lstm_hidden = H,
                  .obs = obs,
                  .actions_cat = act,
                  .logp = logp,
                  .values = values,
                  .rewards = rewards,
                  .terminated = term,
                  .truncated = trunc,
                  .episode_start = start,
                  .masks = masks,
                  .actor_h = st[0],
                  .actor_c = st[1],
                  .critic_h = st[2],
                  .critic_c = st[3]},
    };
    if (s_encode(&c)) return 1;
    char cfg[160];
    snprintf(cfg, sizeof cfg, "T=%d obs_dim=%d A=%d lstm=%dx%d, %zu-byte frame, 1 core", T, D, A, L,
             H, c.len);
    xt_bench_header("wire codec: rollout chunk");
    double enc = s_rate(s_encode, &c, 1.0), dec = s_rate(s_decode, &c, 1.0);
    double rt = s_rate(s_roundtrip, &c, 1.0);
    xt_bench_record("wire_encode_chunks_per_s", enc, "chunks/s", cfg);
    xt_bench_record("wire_decode_chunks_per_s", dec, "chunks/s", cfg);
    xt_bench_record("wire_decode_steps_per_s", dec * T, "steps/s", cfg);
    xt_bench_record("wire_roundtrip_steps_per_s", rt * T, "steps/s", cfg);
    xt_bench_record("wire_decode_mb_per_s", dec * (double)c.len / 1e6, "MB/s", cfg);

    // Weights: one float32 slab, CRC-32 and finiteness checked on both sides.
    float *params = malloc(NPARAMS * sizeof *params);
    for (int i = 0; i < NPARAMS; i++) params[i] = 0.01f * sinf((float)i);
    c.msg = (xt_wire_msg){.type = XT_WIRE_WEIGHTS,
                          .hdr = {0, "learner-0", 1, 1},
                          .weights = {1, 0, "bench", NPARAMS, params, 0}};
    if (s_encode(&c)) return 1;
    snprintf(cfg, sizeof cfg, "%d params, %zu-byte frame, 1 core", NPARAMS, c.len);
    xt_bench_header("wire codec: weights");
    enc = s_rate(s_encode, &c, 1.0);
    dec = s_rate(s_decode, &c, 1.0);
    xt_bench_record("wire_weights_encode_per_s", enc, "msgs/s", cfg);
    xt_bench_record("wire_weights_decode_per_s", dec, "msgs/s", cfg);
    xt_bench_record("wire_weights_decode_mb_per_s", dec * (double)c.len / 1e6, "MB/s", cfg);
    free(params);
    xt_wire_encoder_destroy(&c.enc);
    xt_wire_decoder_destroy(&c.dec);
    return 0;
}
