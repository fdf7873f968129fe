// rollout.h - the rollout collector shared by `train --local` and the actor:
// N envs of one kind spread over the shards, stepped in lockstep with one
// batched inference per step, recorded as chunks of T steps per env in the
// xt_batch layout of nn/backend.h.
//
// Envs: shard s gets N / S envs (+1 for the first N % S shards) in one env
// batch over its window (asset env: one xt_asset_env per shard; portfolio:
// one xt_portfolio_env per shard). Global env g is buffer row g, grouped by
// shard; env g draws its episode starts from stream XT_RL_STREAM_ENV + g and
// its actions from stream XT_RL_STREAM_SAMPLE + g of run.seed.
//
// One collect = n_chunks x T steps of every env. Chunk c = j * N + g holds
// env g's steps [j T, (j + 1) T) of the collect:
//   obs[c][0..T]   observation before each step, obs[c][T] the one after the
//                  last step (a new episode's first after an end)
//   starts[c][t]   1: obs[c][t] begins an episode (the LSTM state is reset
//                  before it; the first step of a run and every step after an end)
//   actions / actions_i, masks (legal actions, portfolio: tradable dims),
//   logp (behaviour), rewards, terminated, truncated
//   trunc_value[c][t]  where truncated: the critic's value of the episode's
//                  real final observation (env final_obs, before the
//                  auto-reset), computed with the state carried to it; else 0
//   h0, c0[c]      the actor and critic (h, c) before step 0 of the chunk
//                  ([net][layer][H], the state the step-0 reset applies to)
// Episodes and recurrent states continue across collects (as sb3 does).
//
// Ownership: the collector owns envs, state and chunk buffers (sized at
// xt_rollout_new; collect allocates nothing) and borrows shards, markets and
// the backend. Threads: one thread drives a collector.
#ifndef XT_ROLLOUT_H
#define XT_ROLLOUT_H

#include "core/err.h"
#include "core/rng.h"
#include "env/envparams.h"
#include "nn/backend.h"
#include "rl/shards.h"

#include <stdint.h>

// RNG stream bases under run.seed (global env index added).
#define XT_RL_STREAM_ENV (1ULL << 40)
#define XT_RL_STREAM_SAMPLE (2ULL << 40)
#define XT_RL_STREAM_INIT (3ULL << 40)    // parameter init
#define XT_RL_STREAM_SHUFFLE (4ULL << 40) // PPO minibatch order

typedef struct {
    int kind;             // XT_ENV_KIND_ASSET or XT_ENV_KIND_PORTFOLIO (core/config.h)
    int window;           // the shard window the envs walk (XT_RL_TRAIN)
    int n_envs;           // N
    int T;                // steps per chunk (ppo.chunk_len)
    int n_chunks;         // chunks per env per collect (ppo.n_steps / T, rounded up)
    uint64_t seed;        // run.seed
    float ls_min, ls_max; // Gaussian log-std clamp (model.log_std_min / max)
} xt_rollout_config;

// Finished-episode and timing figures since the last xt_rollout_stats_take.
typedef struct {
    int64_t steps;          // env steps collected
    int64_t episodes;       // episodes that ended
    double return_sum;      // sum over them of the summed reward
    double sharpe_sum;      // sum of their Sharpe ratios (env/epmetrics.h)
    double total_return_sum; // sum of their equity total returns
    double t_infer, t_env, t_record; // seconds in inference, env steps, bookkeeping
} xt_rollout_stats;

typedef struct xt_rollout xt_rollout;

// Observation and action widths of a kind over the shards (all shards must
// agree; asset: xt_asset_env_obs_dim / n_actions, portfolio: n_feat + K + 2 / K + 1).
int xt_rollout_dims(int kind, const xt_env_params *p, const xt_rl_shard *shards, int n_shards, int *obs_dim,
                    int *act_dim, xt_err *err);

// Builds the envs (validating every shard's window) and the buffers for
// spec. Caller owns the result; shards (and their markets) must outlive it.
xt_rollout *xt_rollout_new(const xt_rollout_config *cfg, const xt_rl_shard *shards, int n_shards,
                           const xt_env_params *p, const xt_model_spec *spec, xt_err *err);
// The same with per-shard seeds: shard_seeds[n_shards] (read here only);
// the envs of shard s draw from seed shard_seeds[s], streams ENV + b + i and
// SAMPLE + b + i, i = the env's index within its shard and b =
// stream_base[s] (0 when stream_base is NULL; cfg->seed is unused), so what
// an env does depends on (shard seed, b + i) alone, never on the other
// shards and envs in the collector. Its inference too: with shard seeds
// every inference (the step's and the truncation values') runs one env at a
// time, so an env's actions, log-probs, values and LSTM state do not depend
// on how many envs share the batch (a batched product rounds differently for
// another row count; nn/dense.h). NULL shard_seeds: xt_rollout_new's
// streams and batched inference.
xt_rollout *xt_rollout_new_seeded(const xt_rollout_config *cfg, const uint64_t *shard_seeds,
                                  const uint32_t *stream_base, const xt_rl_shard *shards, int n_shards,
                                  const xt_env_params *p, const xt_model_spec *spec, xt_err *err);
void xt_rollout_destroy(xt_rollout **self_p);

// One collect with be's current parameters (be->cfg.max_infer >= N).
// log_std [act_dim]: the Gaussian head's log-std (host copy of the params;
// NULL for the categorical head). Fails on an inference error or a
// non-finite observation or reward (naming shard and env).
int xt_rollout_collect(xt_rollout *self, xt_backend *be, const float *log_std, xt_err *err);
// The same for chunk slots [j0, j1) only (0 <= j0 < j1 <= n_chunks); a
// collect is the parts [0, n_chunks) in order, in as many calls as wanted.
int xt_rollout_collect_part(xt_rollout *self, xt_backend *be, const float *log_std, int j0, int j1, xt_err *err);

// The chunks of the last collect (valid until the next collect).
const xt_batch *xt_rollout_batch(const xt_rollout *self);
// Copies the stats out and zeroes them.
void xt_rollout_stats_take(xt_rollout *self, xt_rollout_stats *out);
int xt_rollout_n_envs(const xt_rollout *self);
// Shard index of env g.
int xt_rollout_env_shard(const xt_rollout *self, int g);
// The N action-sampling streams (checkpoints save and restore them).
xt_rng *xt_rollout_rngs(xt_rollout *self);

// Snapshot of everything a collect carries forward: every env's state
// (env/asset_env.h, portfolio_env.h), the current observations, masks and
// episode-start flags, the actor and critic LSTM (h, c) of every env, the
// running episode returns and the N sampling streams. Restoring it makes the
// next collects bit-identical (same backend params) to those that followed
// the snapshot. dst / src hold xt_rollout_state_bytes bytes (the caller's;
// nothing allocates). The stats (xt_rollout_stats_take) are not part of it.
size_t xt_rollout_state_bytes(const xt_rollout *self);
void xt_rollout_snapshot(const xt_rollout *self, void *dst);
void xt_rollout_restore(xt_rollout *self, const void *src);

#endif
