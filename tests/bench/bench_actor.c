// bench_actor.c - what one actor core does per second: env steps with
// batched inference through the actor's shard runner (the rl collector,
// sampling, chunk recording), and the encoding of the chunks it sends.
//
//   actor_steps_per_s_core        seed-003 network (LSTM 128 x 2, MLP 256-128,
//                                 separate critic), portfolio env of the six
//                                 seed-003 assets on 15m bars, 256 envs, chunks
//                                 of 64 steps, one BLAS thread; thread CPU time
//   actor_infer_share             fraction of that time in inference
//   actor_encode_chunks_per_s     RolloutChunk frames encoded per second (the
//                                 sender's encode + copy into its queue)
//
// The data is the embedded synthetic market over a short range (the feature
// caches are built into a temp dir first, which takes a few seconds).
#include "benchutil.h"

#include "runner.h"
#include "sender.h"

#include "core/config.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/xtime.h"
#include "rl/rollout.h"
#include "rl/shards.h"
#include "rl/trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ENVS 256
#define T_CHUNK 64

static const char *s_yaml = "run: {id: bench, seed: 42}\n"
                            "data:\n"
                            "  source: synthetic\n"
                            "  symbols: [BTCUSD, ETHUSD, SOLUSD, EURUSD, GBPUSD, USDJPY]\n"
                            "  timeframes: [15m]\n"
                            "  start: 2020-06-01\n"
                            "  end: 2022-01-01\n"
                            "env: {kind: portfolio, episode_length: 2048}\n"
                            "model: {lstm_hidden: 128, lstm_layers: 2, mlp: [256, 128]}\n"
                            "ppo: {chunk_len: 64}\n"
                            "folds:\n"
                            "  mode: explicit\n"
                            "  explicit:\n"
                            "    - {train_start: 2021-01-01, train_end: 2021-10-01, test_start: 2021-10-01, "
                            "test_end: 2022-01-01}\n";

static void s_die(const xt_err *err) {
    fprintf(stderr, "bench_actor: %s\n", err->msg);
    exit(1);
}

int main(void) {
    xt_log_init('C', XT_LOG_WARN, 0);
    xt_err err = {0};
    static xt_config cfg;
    if (xt_config_load_text(&cfg, s_yaml, strlen(s_yaml), "bench_actor.yaml", &err)) s_die(&err);
    char dir[] = "/tmp/xt-bench-actor-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char cache[64];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    if (xt_config_set(&cfg, "data.cache_dir", cache, &err)) s_die(&err);
    xt_shards *sh = NULL;
    xt_env_params p;
    if (xt_shards_open(&sh, &cfg, 0, 1, &err) || xt_rl_env_params(&p, &cfg, &err)) s_die(&err);
    const xt_rl_shard *list = xt_shards_list(sh);
    int D, A;
    xt_model_spec spec;
    if (xt_rollout_dims(XT_ENV_KIND_PORTFOLIO, &p, list, 1, &D, &A, &err) ||
        xt_rl_model_spec(&spec, &cfg, D, A, &err))
        s_die(&err);
    static int env_shard[N_ENVS]; // every env on the one portfolio shard
    xt_runner_config rc = {XT_ENV_KIND_PORTFOLIO, T_CHUNK, 7, 0, -5.0f, 2.0f, 1};
    xt_runner *r = xt_runner_new(&rc, list, 1, env_shard, N_ENVS, &p, &spec, &err);
    if (!r) s_die(&err);
    const xt_model_layout *lay = xt_runner_layout(r);
    float *params = calloc(lay->n_params, sizeof(float));
    xt_rng rng;
    xt_rng_seed(&rng, 1);
    xt_model_init_params(lay, params, &rng);
    if (xt_runner_set_params(r, params, 1, &err)) s_die(&err);

    // ---- env steps with inference
    xt_runner_report rep;
    if (xt_runner_collect(r, &rep, &err)) s_die(&err); // warm-up
    double steps = 0, t_inf = 0, t_env = 0, c0 = xt_bench_thread_cpu(), cpu;
    do {
        if (xt_runner_collect(r, &rep, &err) || !rep.ok) s_die(&err);
        steps += (double)rep.steps, t_inf += rep.t_infer, t_env += rep.t_env;
        cpu = xt_bench_thread_cpu() - c0;
    } while (cpu < 5.0);
    char conf[256];
    snprintf(conf, sizeof conf, "portfolio env K 6 (obs %d, act %d), 15m, LSTM 128x2 + MLP 256-128, %d envs, T %d, "
             "%zu params", D, A, N_ENVS, T_CHUNK, lay->n_params);
    xt_bench_header("actor: env steps with batched inference (one core)");
    xt_bench_record("actor_steps_per_s_core", steps / cpu, "steps/s", conf);
    xt_bench_record("actor_infer_share", t_inf / (t_inf + t_env), "ratio", "inference / (inference + env + recording)");

    // ---- encoding the chunks of a collect
    xt_sender_config sc = {.hwm = 1};
    xt_sender *s = xt_sender_new(&sc, &err);
    if (!s || xt_sender_reserve(s, N_ENVS, xt_sender_frame_bytes(xt_runner_chunk_bytes(r)), &err)) s_die(&err);
    double chunks = 0;
    size_t bytes = 0;
    c0 = xt_bench_thread_cpu();
    do {
        for (int g = 0; g < N_ENVS; g++) {
            xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK};
            m.hdr = (xt_wire_hdr){0, "actor-bench", 1, (uint64_t)chunks + 1};
            if (xt_runner_chunk(r, g, &m.chunk) == 0) {
                if (xt_sender_push(s, &m, &err)) s_die(&err);
                bytes = xt_wire_chunk_bytes(&m.chunk);
                chunks++;
            }
        }
        xt_sender_clear(s); // no socket: the frames are dropped after encoding
        cpu = xt_bench_thread_cpu() - c0;
    } while (cpu < 2.0);
    snprintf(conf, sizeof conf, "T %d, obs %d, Gaussian %d, LSTM 2x128 states, %zu bytes of arrays per chunk",
             T_CHUNK, D, A, bytes);
    xt_bench_record("actor_encode_chunks_per_s", chunks / cpu, "chunks/s", conf);
    xt_sender_destroy(&s);
    xt_runner_destroy(&r);
    xt_shards_destroy(&sh);
    free(params);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir); // the temp dir made above
    return system(cmd) == 0 ? 0 : 1;
}
