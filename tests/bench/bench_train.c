// bench_train.c - `train --local` end to end on seed 003's shape: the
// portfolio env over 6 assets (97 observations), actor and critic 2 x 128
// LSTM + MLP 256/128, 6 envs x n_steps 2048, chunks of 64, 10 epochs, on the
// CPU backend with 2 BLAS threads. The market is synthetic and in memory
// (89 random features per row, random-walk prices, the six symbols' real
// calendars) so that the figure is the trainer's, not the cache build's.
//
//   train_local_steps_per_s        env steps / (collect + update), one iteration
//   train_collect_steps_per_s      the collect alone (inference + envs + records)
//   train_update_sample_epochs_per_s  samples x epochs / update seconds
//   ..._mb16                       the same with minibatches of 16 chunks
//                                  (batch_size 1024) instead of seed 003's
//                                  one-chunk minibatches (batch_size 64 = 1 x 64)
//   ..._t32, ..._t16               batch_size 64 in chunks of 32 or 16 steps (2 or
//                                  4 chunks per minibatch: the same samples per
//                                  minibatch, shorter truncated BPTT)
// Printed beside them: where the time goes (inference, env steps, records,
// critic evaluate, forward, backward, optimizer).
#include "benchutil.h"

#include "core/config.h"
#include "core/rng.h"
#include "rl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K = 6, NF = 89, ROWS = 40000 };

typedef struct {
    xt_env_market m;
    int64_t *ts;
    double *px[K][5];
    float *feat;
    xt_rl_shard shard;
} mkt;

static void *s_alloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "bench_train: out of memory\n");
        exit(1);
    }
    return p;
}

static void mkt_init(mkt *f) {
    static const char *syms[K] = {"BTCUSD", "ETHUSD", "SOLUSD", "EURUSD", "GBPUSD", "USDJPY"};
    xt_rng g;
    xt_rng_seed(&g, 3);
    f->ts = s_alloc(ROWS * sizeof(int64_t));
    f->feat = s_alloc((size_t)ROWS * NF * sizeof(float));
    for (int64_t r = 0; r < ROWS; r++) {
        f->ts[r] = 1577836800LL + r * 900; // 2020-01-01, 15m bars
        for (int j = 0; j < NF; j++) f->feat[r * NF + j] = (float)xt_rng_normal(&g);
    }
    xt_env_market *m = &f->m;
    memset(m, 0, sizeof *m);
    for (int a = 0; a < K; a++) {
        for (int c = 0; c < 5; c++) f->px[a][c] = s_alloc(ROWS * sizeof(double));
        double p = 100.0, vol = a < 3 ? 0.006 : 0.0015;
        for (int64_t r = 0; r < ROWS; r++) {
            double o = p, c = o * exp(vol * xt_rng_normal(&g));
            f->px[a][0][r] = o, f->px[a][3][r] = c;
            f->px[a][1][r] = fmax(o, c) * (1 + vol / 4), f->px[a][2][r] = fmin(o, c) * (1 - vol / 4);
            f->px[a][4][r] = 2 * vol * c;
            p = c;
        }
        m->open[a] = f->px[a][0], m->high[a] = f->px[a][1], m->low[a] = f->px[a][2];
        m->close[a] = f->px[a][3], m->atr[a] = f->px[a][4];
        xt_calendar_for_symbol(&m->cal[a], syms[a]);
        snprintf(m->symbol[a], sizeof m->symbol[a], "%s", syms[a]);
        m->vol_baseline[a] = vol;
    }
    m->k = K, m->n = ROWS, m->tf_sec = 900, m->ts = f->ts, m->feat = f->feat, m->n_feat = NF, m->first_row = 0;
    xt_rl_shard *s = &f->shard;
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "portfolio-15m");
    snprintf(s->symbol, sizeof s->symbol, "portfolio");
    s->tf_sec = 900, s->m = m;
    s->row[XT_RL_TRAIN][1] = ROWS;
}

// One iteration (collect + update) at chunk_len T and batch_size; prints the breakdown.
static void s_run(const mkt *f, int T, int batch_size, const char *name) {
    xt_config cfg;
    xt_config_defaults(&cfg); // seed 003: portfolio env, 2 x 128 LSTM actor + critic, MLP 256/128
    cfg.ppo_n_envs = 6, cfg.ppo_n_steps = 2048, cfg.ppo_chunk_len = T, cfg.ppo_n_epochs = 10;
    cfg.ppo_batch_size = batch_size, cfg.ppo_threads = 2, cfg.ppo_eval_every = 0;
    xt_err err = {0};
    xt_trainer *t = xt_trainer_new(&cfg, &f->shard, 1, 0, &err);
    if (!t) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        exit(1);
    }
    xt_train_iter it;
    if (xt_trainer_iterate(t, &it, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        exit(1);
    }
    const double steps = (double)it.roll.steps, total = it.t_collect + it.t_update;
    const xt_ppo_report *p = &it.ppo;
    char conf[160];
    snprintf(conf, sizeof conf, "portfolio K=6 obs=97 2x128 LSTM a+c, 6 envs x 2048, T=%d, batch %d, 10 epochs, 2 threads",
             T, batch_size);
    char n1[96], n2[96], n3[96];
    snprintf(n1, sizeof n1, "train_local_steps_per_s%s", name);
    snprintf(n2, sizeof n2, "train_collect_steps_per_s%s", name);
    snprintf(n3, sizeof n3, "train_update_sample_epochs_per_s%s", name);
    xt_bench_record(n1, steps / total, "steps/s", conf);
    xt_bench_record(n2, steps / it.t_collect, "steps/s", conf);
    xt_bench_record(n3, (double)p->sample_epochs / it.t_update, "samples/s", conf);
    printf("  chunk_len %d, batch_size %d (%d chunk%s per minibatch): %.0f steps in %.2f s = %.0f steps/s\n", T,
           batch_size, batch_size / T, batch_size / T == 1 ? "" : "s", steps, total, steps / total);
    printf("    collect %6.2f s  (inference+sampling %.2f, env steps %.2f, records %.2f)\n", it.t_collect,
           it.roll.t_infer, it.roll.t_env, it.roll.t_record);
    printf("    update  %6.2f s  (critic evaluate %.2f, forward %.2f, backward %.2f, optimizer %.2f, host %.2f; "
           "%d minibatches, %d Adam steps)\n",
           it.t_update, p->t_evaluate, p->t_forward, p->t_backward, p->t_optimizer, p->t_host, p->minibatches,
           p->steps);
    fflush(stdout);
    xt_trainer_destroy(&t);
}

int main(void) {
    mkt *f = s_alloc(sizeof *f);
    mkt_init(f);
    xt_bench_header("train --local (seed 003 shape, CPU backend)");
    s_run(f, 64, 64, "");
    s_run(f, 64, 1024, "_mb16");
    s_run(f, 32, 64, "_t32");
    s_run(f, 16, 64, "_t16");
    for (int a = 0; a < K; a++)
        for (int c = 0; c < 5; c++) free(f->px[a][c]);
    free(f->ts), free(f->feat), free(f);
    return 0;
}
