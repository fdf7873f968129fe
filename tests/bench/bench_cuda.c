// bench_cuda.c - learner throughput of the CUDA backend on the seed-003
// network (obs 97, 2 x 128 LSTM actor + critic, MLP 256/128, 7 masked
// actions) at T = 64, for minibatches of 256, 512 and 1024 whole chunks.
//
// One figure per minibatch size: learner_cuda_sample_epochs_per_s, valid
// samples through loss_grad (summed over epochs) per second of whole PPO
// updates (xt_ppo_update: set_batch, evaluate, host GAE, shuffles,
// minibatches, Adam steps). Below it, the stage breakdown per minibatch
// from the backend's CUDA events. Without a usable GPU it prints
// "skipped: <reason>" and records nothing.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "core/rng.h"
#include "cuda/backend_cuda.h"
#include "nn/ppo.h"

enum { T = 64, OBS = 97, ACT = 7, EPOCHS = 2, WARM = 1, TIMED = 3 };

typedef struct {
    xt_batch b;
    float *obs, *logp, *rew, *h0, *c0;
    int32_t *act;
    uint8_t *masks, *starts, *term;
} s_batch;

// C chunks of random data; episodes end every ~500 steps, as trading episodes do.
static int s_batch_init(s_batch *r, int C, int S, xt_rng *g) {
    const size_t N = (size_t)C * T;
    memset(r, 0, sizeof *r);
    r->obs = malloc((size_t)C * (T + 1) * OBS * sizeof(float));
    r->logp = malloc(N * sizeof(float));
    r->rew = malloc(N * sizeof(float));
    r->h0 = malloc((size_t)C * S * sizeof(float));
    r->c0 = malloc((size_t)C * S * sizeof(float));
    r->act = malloc(N * sizeof(int32_t));
    r->masks = malloc(N * ACT);
    r->starts = calloc(N, 1);
    r->term = calloc(N, 1);
    if (!r->obs || !r->logp || !r->rew || !r->h0 || !r->c0 || !r->act || !r->masks ||
        !r->starts || !r->term)
        return -1;
    for (size_t k = 0; k < (size_t)C * (T + 1) * OBS; k++) r->obs[k] = xt_rng_uniformf(g) - 0.5f;
    for (size_t k = 0; k < (size_t)C * S; k++) r->h0[k] = 0.1f * (xt_rng_uniformf(g) - 0.5f);
    memcpy(r->c0, r->h0, (size_t)C * S * sizeof(float));
    for (size_t i = 0; i < N; i++) {
        r->act[i] = (int32_t)xt_rng_below(g, ACT);
        for (int j = 0; j < ACT; j++) r->masks[i * ACT + j] = j == r->act[i] || xt_rng_uniformf(g) < 0.8f;
        r->logp[i] = -1.9f;
        r->rew[i] = 0.01f * (xt_rng_uniformf(g) - 0.5f);
        r->term[i] = xt_rng_below(g, 500) == 0;
        if (i % T) r->starts[i] = r->term[i - 1];
    }
    r->b = (xt_batch){.C = C, .T = T, .obs = r->obs, .actions_i = r->act, .masks = r->masks,
                      .logp = r->logp, .rewards = r->rew, .starts = r->starts,
                      .terminated = r->term, .h0 = r->h0, .c0 = r->c0};
    return 0;
}

static void s_batch_free(s_batch *r) {
    void *p[] = {r->obs, r->logp, r->rew, r->h0, r->c0, r->act, r->masks, r->starts, r->term};
    for (size_t k = 0; k < sizeof p / sizeof *p; k++) free(p[k]);
}

static int s_run(int mb) {
    xt_model_spec spec;
    xt_model_spec_default(&spec, OBS, ACT, 0);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = mb, cfg.T = T;
    xt_err err = {0};
    xt_backend *be = NULL;
    if (xt_backend_cuda_new(&be, &spec, &cfg, 0, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
    const int C = 2 * mb; // two minibatches per epoch
    xt_ppo_config pc;
    xt_ppo_config_default(&pc);
    pc.n_epochs = EPOCHS, pc.minibatch_chunks = mb;
    xt_ppo *ppo = xt_ppo_new(be, &pc, C, &err);
    xt_rng g;
    xt_rng_seed(&g, 2024);
    s_batch rb;
    if (!ppo || s_batch_init(&rb, C, xt_backend_layout(be)->state_size, &g)) {
        fprintf(stderr, "bench_cuda: %s\n", ppo ? "out of memory" : err.msg);
        return 1;
    }
    xt_ppo_report rep;
    for (int k = 0; k < WARM; k++)
        if (xt_ppo_update(ppo, &rb.b, 0, &rep, &err)) goto fail;
    xt_cuda_stages s0, s1;
    xt_backend_timing t0, t1;
    xt_backend_cuda_stages(be, &s0, &err);
    xt_backend_timing_get(be, &t0);
    double secs = 0, samples = 0;
    for (int k = 0; k < TIMED; k++) {
        if (xt_ppo_update(ppo, &rb.b, 0, &rep, &err)) goto fail;
        secs += rep.t_total;
        samples += (double)rep.sample_epochs;
    }
    xt_backend_cuda_stages(be, &s1, &err);
    xt_backend_timing_get(be, &t1);
    char conf[160];
    snprintf(conf, sizeof conf,
             "minibatch %d chunks x T %d, batch %d chunks, %d epochs, 2x128 LSTM a+c, MLP "
             "256/128, A %d",
             mb, T, C, EPOCHS, ACT);
    xt_bench_record("learner_cuda_sample_epochs_per_s", samples / secs, "samples/s", conf);
    // stage breakdown, milliseconds per minibatch (device time from CUDA events)
    const double per = 1e3 / (double)(t1.n_loss_grad - t0.n_loss_grad);
    printf("  per minibatch (ms): plan %.2f  h2d %.2f  gather %.2f  lstm fwd %.2f  mlp+heads "
           "fwd %.2f  loss %.2f  mlp bwd %.2f  lstm bwd %.2f  adam %.2f\n",
           (s1.plan - s0.plan) * per, (s1.h2d - s0.h2d) * per, (s1.gather - s0.gather) * per,
           (s1.lstm_fwd - s0.lstm_fwd) * per, (s1.mlp_fwd - s0.mlp_fwd) * per,
           (s1.loss - s0.loss) * per, (s1.mlp_bwd - s0.mlp_bwd) * per,
           (s1.lstm_bwd - s0.lstm_bwd) * per, (t1.optimizer - t0.optimizer) * per);
    printf("  per update (ms): evaluate %.1f  set_batch %.1f  whole %.1f; most cuDNN sequences "
           "in one pass %lld\n",
           (t1.evaluate - t0.evaluate) * 1e3 / TIMED, (s1.set_batch - s0.set_batch) * 1e3 / TIMED,
           secs * 1e3 / TIMED, (long long)s1.max_segments);
    s_batch_free(&rb);
    xt_ppo_destroy(&ppo);
    xt_backend_destroy(&be);
    return 0;
fail:
    fprintf(stderr, "bench_cuda: %s\n", err.msg);
    s_batch_free(&rb);
    xt_ppo_destroy(&ppo);
    xt_backend_destroy(&be);
    return 1;
}

int main(void) {
    xt_bench_header("learner, CUDA backend (seed-003 network, T = 64)");
    char why[256];
    if (xt_cuda_probe(why, sizeof why) != 0) {
        printf("skipped: %s\n", why);
        return 0;
    }
    printf("device: %s\n", why);
    const int sizes[] = {256, 512, 1024};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        if (s_run(sizes[k])) return 1;
    return 0;
}
