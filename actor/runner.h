// runner.h - the actor's shard runner: the envs of one Assignment, stepped in
// lockstep by the rl collector (rl/rollout.h: one batched inference over ALL
// envs per step), cut into rollout chunks of T steps that carry the (h, c)
// of the chunk start and exactly one behaviour policy version.
//
// One collect (xt_runner_collect) = T steps of every env = one chunk per env.
// Weights change only through xt_runner_set_params, which the caller calls
// between collects, so every chunk was acted by the single version it names.
//
// Envs and shards: the Assignment lists one shard per env (a shard repeats
// when several envs step it). The runner hands the collector the distinct
// shards; the collector gives shard s N/S envs (+1 for the first N % S), so
// the runner orders the shards by their env count, most first, which
// reproduces the Assignment's counts exactly whenever they take only the two
// values floor(N/S) and ceil(N/S) (the broker's balanced layout). Otherwise
// the counts are the collector's even split (xt_runner_exact says which).
//
// Non-finite values: the collector stops a collect at the first non-finite
// observation or reward. The runner then drops the whole collect (its chunks
// are incomplete), counts it, and the next collect rebuilds the collector
// with a fresh seed salt (new episodes, recurrent state reset), so one bad
// value costs one collect, never the process. (Building the envs validates
// the market window again: data that is itself non-finite fails there.)
// Each finished chunk is checked again (obs, rewards, log-probs, actions,
// LSTM state) and a non-finite one is dropped.
//
// Episode figures: the collector reports finished episodes per collect, not
// per env. When all the episodes a collect finished belong to one env their
// return (final / initial equity - 1) and Sharpe are exact; otherwise every
// finished episode is credited the collect's mean (counts stay exact). Only
// exact episodes feed the per-shard "last 100 episodes" means.
//
// Ownership: the runner owns its collector, backend (CPU, OpenBLAS, `threads`
// BLAS threads), host copy of the params and scratch; shards and their
// markets are borrowed and must outlive it. Threads: one thread drives it.
#ifndef XT_ACTOR_RUNNER_H
#define XT_ACTOR_RUNNER_H

#include "core/err.h"
#include "env/envparams.h"
#include "nn/model.h"
#include "rl/shards.h"
#include "wire/msg.h"

#include <stdint.h>

#define XT_RUNNER_EP_WINDOW 100 // episodes in the per-shard running means

typedef struct {
    int kind;              // XT_ENV_KIND_ASSET or XT_ENV_KIND_PORTFOLIO
    int T;                 // steps per chunk (ppo.chunk_len)
    uint64_t seed;         // collector seed (xt_runner_seed)
    uint32_t fold;         // written into every chunk's shard key
    float ls_min, ls_max;  // Gaussian log-std clamp (model.log_std_min / max)
    int threads;           // BLAS threads of the inference backend (1 = one core)
} xt_runner_config;

// Per distinct shard: counters since the runner was built.
typedef struct {
    const xt_rl_shard *shard; // the caller's entry
    int n_envs;               // envs stepping it
    uint64_t steps;           // env steps collected (dropped collects excluded)
    uint64_t episodes;        // episodes finished
    // Running means over the last XT_RUNNER_EP_WINDOW exact episodes.
    int ep_n, ep_next;
    double ep_ret[XT_RUNNER_EP_WINDOW], ep_sharpe[XT_RUNNER_EP_WINDOW];
} xt_runner_shard;

// What the last collect did.
typedef struct {
    int ok;                 // 1: N chunks ready; 0: the collect was dropped
    int64_t steps;          // env steps in the ready chunks
    int episodes;           // episodes finished
    int dropped_chunks;     // chunks failing the finite check
    double t_env, t_infer;  // seconds stepping envs (incl. bookkeeping) / in inference
} xt_runner_report;

typedef struct xt_runner xt_runner;

// Collector seed of one actor: the Assignment's master seed mixed with the
// actor id and the fold, so two actors (or two folds) never replay the same
// episode starts and action draws, and a fixed id reproduces them.
uint64_t xt_runner_seed(uint64_t master, const char *actor_id, uint32_t fold);

// Seed of one shard's envs in a deterministic run (cfg.shard_streams = 1,
// cfg.seed = the master seed): the master mixed with the fold, the shard's
// name and its bar length. The env with global slot j of the shard's slots
// b.. (xt_runner_env_slots; without slots, env i of the shard in the
// actor's order) draws its episode starts and actions from streams j (i) of
// it (rl/rollout.h, shard_seeds), whichever actor steps it and whatever else
// that actor runs.
uint64_t xt_runner_shard_seed(uint64_t master, uint32_t fold, const char *shard_name, int tf_sec);

// Builds the envs of env_shard[0..n_envs) (indices into shards[0..n_shards),
// every shard used at least once; each shard's row[XT_RL_TRAIN] is the window
// to walk) and an inference backend for spec. The params start undefined:
// call xt_runner_set_params before the first collect. Caller owns the result.
xt_runner *xt_runner_new(const xt_runner_config *cfg, const xt_rl_shard *shards, int n_shards,
                         const int *env_shard, int n_envs, const xt_env_params *p,
                         const xt_model_spec *spec, xt_err *err);
void xt_runner_destroy(xt_runner **self_p);

// Installs params [n_params] acted by `version`. Call between collects only
// (the next collect's chunks all carry this version).
int xt_runner_set_params(xt_runner *self, const float *params, uint64_t version, xt_err *err);
int xt_runner_has_params(const xt_runner *self);
uint64_t xt_runner_version(const xt_runner *self);
// The installed params [n_params] (valid while the runner lives).
const float *xt_runner_params(const xt_runner *self);

// Steps every env T times. Returns 0 (see rep->ok: a collect that hit a
// non-finite value is dropped and the collector rebuilt, still 0), or a
// negative XT_E* for failures that are not the data's fault (inference).
int xt_runner_collect(xt_runner *self, xt_runner_report *rep, xt_err *err);

// Chunk of env g from the last collect as a wire view (pointers into the
// runner, valid until the next collect). Returns 0, or 1 when the chunk is
// not available (collect dropped, or the chunk failed the finite check).
int xt_runner_chunk(const xt_runner *self, int g, xt_wire_chunk *out);

// Upper bound of the bulk bytes of one chunk (xt_wire_chunk_bytes), for
// sizing send buffers.
size_t xt_runner_chunk_bytes(const xt_runner *self);

// Numbers the envs by their global TRAIN env slots (the Assignment's
// env_slot, broker/assign.h): slot[g] for entry g of the caller's env_shard.
// Each chunk then carries its env's slot as env_index (the learner's
// canonical order: policy version, shard, env index), and in deterministic
// mode env i of a shard whose envs hold the slots b.. draws streams b + i
// of the shard seed, so an env behaves the same whichever actor steps it and
// whatever else that actor runs. All slots 0 (a broker that sends none):
// ignored, the envs keep their local indices. XT_EINVAL when a shard's envs
// do not hold distinct consecutive slots. Call once, before
// xt_runner_deterministic and the first weights. Exact layouts
// (xt_runner_exact) only: otherwise the collector's even split numbers a
// shard's envs from its first slot, whatever their count.
int xt_runner_env_slots(xt_runner *self, const uint32_t *slot, xt_err *err);

// Switches a new runner to deterministic mode (run.deterministic): its
// collector is rebuilt with per-shard streams (xt_runner_shard_seed of
// cfg.seed, which must then be the master seed, not xt_runner_seed) and
// `snapshots` snapshot slots are allocated (0: none). Call before the first
// collect.
int xt_runner_deterministic(xt_runner *self, int snapshots, xt_err *err);

// ---- Snapshots (run.deterministic in sync mode)
//
// A snapshot is everything the next collects depend on besides the weights:
// the collector's state (rl/rollout.h: env state, observations, masks,
// episode starts, LSTM (h, c) of actor and critic, episode returns, sampling
// streams) and the runner's collector salt. Taken right after the weights
// of `version` are installed and before its first collect, it lets the
// actor produce that version's share again, bit for bit, for a learner that
// restarted from a checkpoint of that version.
//
// Slots are allocated by xt_runner_deterministic (nothing allocates later
// unless a dropped collect left no collector to copy). Slot 0 holds the
// newest snapshot taken with keep = 0; slots 1.. are a ring of the newest
// snapshots taken with keep = 1 (the versions a periodic checkpoint may
// hold), the oldest replaced first. A version already held is overwritten
// in place. With one slot, every snapshot goes there.

// Takes the snapshot of `version` (call between collects, after
// xt_runner_set_params). XT_ESTATE when the runner has no slots.
int xt_runner_snapshot(xt_runner *self, uint64_t version, int keep, xt_err *err);
// 1 when a slot holds `version`.
int xt_runner_has_snapshot(const xt_runner *self, uint64_t version);
// Restores the snapshot of `version`: the next collect repeats the first
// collect that followed it (with the same params installed). The counters
// (shard stats, non-finite counts) are not rewound. XT_ENOTFOUND when no
// slot holds it.
int xt_runner_rewind(xt_runner *self, uint64_t version, xt_err *err);

int xt_runner_n_envs(const xt_runner *self);
int xt_runner_n_shards(const xt_runner *self);
// Distinct shard i (i < n_shards), in the caller's order.
const xt_runner_shard *xt_runner_shard_stats(const xt_runner *self, int i);
// Index into the caller's shards[] of env g.
int xt_runner_env_shard(const xt_runner *self, int g);
// 1 when the per-shard env counts are exactly the Assignment's.
int xt_runner_exact(const xt_runner *self);
// Collects dropped for a non-finite observation or reward, and chunks
// dropped by the per-chunk finite check, since the runner was built.
uint64_t xt_runner_nonfinite_collects(const xt_runner *self);
uint64_t xt_runner_nonfinite_chunks(const xt_runner *self);
const xt_model_layout *xt_runner_layout(const xt_runner *self);

#endif
