// bench_nn.c - throughput of the network on the CPU: batched actor
// inference on one core and the learner's PPO epochs on the CPU backend.
//
//   core_sgemm_gflops                 1 thread, 1024^3 sgemm: the core's practical peak
//   actor_infer_steps_per_s_core      B = 256 envs, 1 thread, seed-003 network
//   actor_infer_gflops_core           the same in GFLOP/s
//   learner_cpu_sample_epochs_per_s   2 threads, T = 64, minibatches of 64 chunks,
//                                     obs 97, 7-dim Gaussian head (forward+backward+Adam)
//   learner_cpu_update_sample_epochs_per_s  the same over whole updates (10 epochs,
//                                     evaluate + GAE included)
//   ..._mb1                           the same with one-chunk minibatches (seed 003's
//                                     batch_size 64 = 1 x 64): B = 1 recurrent steps
//                                     and one Adam step per 64 samples
// plus the forward / backward / optimizer split of the learner's time.
#include "benchutil.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "nn/backend.h"
#include "nn/model.h"
#include "nn/ppo.h"

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *s_alloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "bench_nn: out of memory\n");
        exit(1);
    }
    return p;
}

// ---- the core's practical peak

static double s_sgemm_peak(void) {
    const int n = 1024;
    float *a = s_alloc((size_t)n * n * 4), *b = s_alloc((size_t)n * n * 4);
    float *c = s_alloc((size_t)n * n * 4);
    for (size_t k = 0; k < (size_t)n * n; k++)
        a[k] = b[k] = 1e-3f * (float)(k % 13);
    openblas_set_num_threads(1);
    int it = 0;
    double t0 = xt_bench_thread_cpu(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        it++;
        t = xt_bench_thread_cpu() - t0;
    } while (t < 1.0);
    free(a), free(b), free(c);
    return 2.0 * n * n * n * it / t / 1e9;
}

// ---- actor inference

static void s_infer(double peak) {
    const int B = 256;
    xt_model_spec s;
    xt_model_spec_default(&s, 97, 7, 1);
    xt_err err = {0};
    xt_model *m = xt_model_new(&s, B, 1, 0, &err);
    if (!m) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        exit(1);
    }
    const xt_model_layout *lay = xt_model_layout_of(m);
    float *P = s_alloc(lay->n_params * 4), *obs = s_alloc((size_t)B * 97 * 4);
    float *h = s_alloc((size_t)lay->state_size * B * 4),
          *c = s_alloc((size_t)lay->state_size * B * 4);
    float *a = s_alloc((size_t)B * 7 * 4), *v = s_alloc((size_t)B * 4);
    uint8_t *starts = s_alloc(B);
    xt_rng r;
    xt_rng_seed(&r, 1);
    xt_model_init_params(lay, P, &r);
    for (int k = 0; k < B * 97; k++)
        obs[k] = (float)xt_rng_normal(&r);
    openblas_set_num_threads(1);
    int it = 0;
    double t0 = xt_bench_thread_cpu(), t;
    do {
        for (int b = 0; b < B; b++)
            starts[b] = (it + b) % 512 == 0; // an episode ends now and then
        if (xt_model_infer(m, P, obs, NULL, starts, h, c, a, v, B, &err)) {
            fprintf(stderr, "bench_nn: %s\n", err.msg);
            exit(1);
        }
        it++;
        t = xt_bench_thread_cpu() - t0;
    } while (t < 2.0);
    double sps = (double)it * B / t, gf = sps * xt_model_step_flops(lay) / 1e9;
    char cfg[160];
    snprintf(cfg, sizeof cfg, "B=256 obs=97 lstm=2x128 actor+critic mlp=256/128 threads=1");
    xt_bench_record("actor_infer_steps_per_s_core", sps, "steps/s", cfg);
    snprintf(cfg, sizeof cfg, "%.0f%% of the core's sgemm peak %.1f GFLOP/s", 100 * gf / peak,
             peak);
    xt_bench_record("actor_infer_gflops_core", gf, "GFLOP/s", cfg);
    free(P), free(obs), free(h), free(c), free(a), free(v), free(starts);
    xt_model_destroy(&m);
}

// ---- learner

// PPO updates of C chunks of T = 64 in minibatches of MB chunks; names get `sfx`.
static void s_learner(int C, int MB, const char *sfx) {
    const int T = 64, A = 7, D = 97, threads = 2;
    xt_model_spec s;
    xt_model_spec_default(&s, D, A, 1);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = MB < 32 ? 32 : MB, cfg.T = T, cfg.threads = threads;
    xt_err err = {0};
    xt_backend *be = xt_backend_cpu_new(&s, &cfg, 7, &err);
    if (!be) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        exit(1);
    }
    const xt_model_layout *lay = xt_backend_layout(be);
    const size_t N = (size_t)C * T, S = (size_t)lay->state_size;
    float *obs = s_alloc(N * D * 4 + (size_t)C * D * 4), *act = s_alloc(N * A * 4);
    float *logp = s_alloc(N * 4), *rew = s_alloc(N * 4), *h0 = s_alloc(C * S * 4);
    float *c0 = s_alloc(C * S * 4);
    uint8_t *starts = s_alloc(N), *term = s_alloc(N), *masks = s_alloc(N * A);
    xt_rng r;
    xt_rng_seed(&r, 3);
    for (size_t k = 0; k < N * D + (size_t)C * D; k++)
        obs[k] = (float)xt_rng_normal(&r);
    for (size_t k = 0; k < N * A; k++)
        act[k] = (float)xt_rng_normal(&r), masks[k] = 1;
    for (size_t k = 0; k < N; k++) {
        logp[k] = (float)(-7 * 1.42 + 0.1 * xt_rng_normal(&r));
        rew[k] = (float)(0.1 * xt_rng_normal(&r));
        term[k] = xt_rng_uniform(&r) < 0.002;
        starts[k] = k % T && term[k - 1];
    }
    xt_batch batch = {.C = C,
                      .T = T,
                      .obs = obs,
                      .actions = act,
                      .masks = masks,
                      .logp = logp,
                      .rewards = rew,
                      .starts = starts,
                      .terminated = term,
                      .h0 = h0,
                      .c0 = c0};
    xt_ppo_config pc;
    xt_ppo_config_default(&pc);
    pc.minibatch_chunks = MB;
    xt_ppo *ppo = xt_ppo_new(be, &pc, C, &err);
    if (!ppo) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        exit(1);
    }
    xt_ppo_report rep, sum = {0};
    double wall = 0;
    for (int u = 0; u < 2; u++) { // first update warms caches and threads
        double t0 = s_now();
        if (xt_ppo_update(ppo, &batch, 0, &rep, &err)) {
            fprintf(stderr, "bench_nn: %s\n", err.msg);
            exit(1);
        }
        if (u == 0)
            continue;
        wall += s_now() - t0;
        sum = rep;
    }
    double train = sum.t_forward + sum.t_backward + sum.t_optimizer;
    char cfg_s[200], name[96];
#define S_NAME(base) (snprintf(name, sizeof name, "%s%s", base, sfx), name)
    snprintf(cfg_s, sizeof cfg_s,
             "threads=%d T=%d minibatch=%d chunk%s obs=%d A=%d gaussian lstm=2x128 separate "
             "critic mlp=256/128",
             threads, T, MB, MB == 1 ? "" : "s", D, A);
    xt_bench_record(S_NAME("learner_cpu_sample_epochs_per_s"), sum.sample_epochs / train,
                    "samples/s", cfg_s);
    snprintf(cfg_s, sizeof cfg_s, "10 epochs over %d chunks incl. evaluate + GAE", C);
    xt_bench_record(S_NAME("learner_cpu_update_sample_epochs_per_s"), sum.sample_epochs / wall,
                    "samples/s", cfg_s);
    double per = 1e6 / sum.sample_epochs;
    xt_bench_record(S_NAME("learner_cpu_forward_us_per_sample"), sum.t_forward * per, "us",
                    "network + heads + loss + gathering");
    xt_bench_record(S_NAME("learner_cpu_backward_us_per_sample"), sum.t_backward * per, "us",
                    "BPTT through heads, MLPs and LSTMs");
    xt_bench_record(S_NAME("learner_cpu_optimizer_us_per_sample"), sum.t_optimizer * per, "us",
                    "grad-norm clip + Adam, once per minibatch");
    xt_bench_record(S_NAME("learner_cpu_evaluate_us_per_sample"),
                    sum.t_evaluate * 1e6 / (double)sum.samples, "us",
                    "critic over T+1 steps, once per update");
#undef S_NAME
    xt_ppo_destroy(&ppo);
    xt_backend_destroy(&be);
    free(obs), free(act), free(logp), free(rew), free(h0), free(c0), free(starts), free(term);
    free(masks);
}

int main(void) {
    xt_bench_header("nn: actor inference and CPU learner");
    printf("# OpenBLAS %s, kernels %s\n", openblas_get_config(), openblas_get_corename());
    double peak = s_sgemm_peak();
    xt_bench_record("core_sgemm_gflops", peak, "GFLOP/s", "1 thread, 1024^3 sgemm");
    s_infer(peak);
    s_learner(128, 64, "");
    s_learner(32, 1, "_mb1");
    return 0;
}
