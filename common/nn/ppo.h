// ppo.h - one recurrent-PPO update over a batch of rollout chunks, run on
// any xt_backend (sb3-contrib RecurrentPPO's train(), made chunk-based):
//
//   1. values for all T + 1 steps of every chunk with the current critic
//   2. GAE per chunk (terminations vs truncations, gae.h) -> advantages, returns
//   3. n_epochs passes; each shuffles the chunks (xt_rng, deterministic) and
//      walks minibatches of whole chunks: loss + gradient (advantages
//      normalized per minibatch), then grad-norm clip + Adam at the scheduled
//      learning rate with the scheduled entropy coefficient
//   4. optional target-KL stop (SB3 rule): when a minibatch's approx KL
//      exceeds 1.5 x target_kl, that minibatch is not applied and the epochs end
//   5. a minibatch whose loss or gradient norm is not finite is skipped and
//      counted (the learner rolls back after several in a row)
//
// Ownership: xt_ppo borrows the backend (the caller destroys it) and owns
// buffers sized for max_chunks chunks at creation; updates allocate nothing.
// Threads: one thread drives an xt_ppo and its backend.
#ifndef XT_PPO_H
#define XT_PPO_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "nn/adam.h"
#include "nn/backend.h"
#include "nn/ppo_loss.h"

#define XT_PPO_MAX_ENT_POINTS 16

typedef struct {
    int n_epochs;         // passes over the batch (10)
    int minibatch_chunks; // whole chunks per minibatch (config ppo.batch_size / T; 1)
    double gamma;         // 0.99
    double gae_lambda;    // 0.95
    xt_ppo_hparams hp;    // clip 0.2, vf_coef 0.5, vf_clip 0; ent_coef used when n_ent = 0
    int normalize_adv;    // per-minibatch advantage normalization (1)
    double target_kl;     // stop the epochs when approx KL > 1.5 x this; 0 = off
    double max_grad_norm; // global clip (0.5); <= 0 = off
    xt_sched_lr lr;       // constant 3e-4
    xt_sched_point ent[XT_PPO_MAX_ENT_POINTS]; // entropy coefficient by env step (seed 003)
    int n_ent;                                 // points in ent (0 = constant hp.ent_coef)
    uint64_t seed;                             // minibatch shuffling stream
    int normalize_reward;  // divide rewards by the running sd of discounted returns (VecNormalize-style)
    double reward_clip;    // clip scaled rewards to [-clip, clip] (10); <= 0 = no clip
} xt_ppo_config;

// Seed 003 section 7.3: 10 epochs, gamma 0.99, lambda 0.95, clip 0.2,
// vf_coef 0.5, entropy 0.02 -> 0.01 (250k) -> 0.005 (1M), grad clip 0.5,
// lr 3e-4 constant, advantages normalized, no target KL, 1 chunk per minibatch.
void xt_ppo_config_default(xt_ppo_config *c);
// Names the bad field: "ppo.n_epochs: must be between 1 and 1000 (got 0)".
int xt_ppo_config_check(const xt_ppo_config *c, xt_err *err);

// What one update did. Loss statistics are means over the minibatches whose
// loss was finite (the target-KL-stopped one included, as SB3 logs it);
// grad_norm is the mean pre-clip norm over the steps taken.
typedef struct {
    double policy_loss, value_loss, entropy, approx_kl, clip_fraction, loss;
    double explained_variance; // values at update start vs GAE returns
    double grad_norm;
    double lr, ent_coef;   // the scheduled values used
    int epochs;            // epochs started (fewer than n_epochs after a KL stop)
    int minibatches;       // minibatches whose loss was computed
    int steps;             // optimizer steps taken
    int skipped;           // minibatches skipped as non-finite
    int kl_stop;           // 1 when target KL ended the epochs
    int64_t samples;       // valid samples in the batch
    int64_t sample_epochs; // valid samples through loss_grad, summed over minibatches
    // seconds: backend stages (evaluate, forward incl. heads + loss, backward,
    // optimizer), host GAE + shuffling, and the whole update
    double t_evaluate, t_forward, t_backward, t_optimizer, t_host, t_total;
} xt_ppo_report;

typedef struct xt_ppo xt_ppo;

// Buffers for batches of up to max_chunks chunks of the backend's T steps.
// Caller owns the result; backend is borrowed and must outlive it.
xt_ppo *xt_ppo_new(xt_backend *backend, const xt_ppo_config *cfg, int max_chunks, xt_err *err);
void xt_ppo_destroy(xt_ppo **self_p);

// One update on batch (checked; batch.C <= max_chunks). env_step is the
// global env-step count that drives the schedules. Returns 0 also when
// minibatches were skipped (see rep->skipped); fails on bad input or a
// backend error.
int xt_ppo_update(xt_ppo *self, const xt_batch *batch, int64_t env_step, xt_ppo_report *rep,
                  xt_err *err);

// The shuffling stream (for checkpoints: save and restore it to resume
// bit-identically).
xt_rng *xt_ppo_rng(xt_ppo *self);

// Running statistics of the reward scaler (count, mean, M2 of discounted
// returns), for checkpoints; set restores them.
void xt_ppo_reward_stats(const xt_ppo *self, double out[3]);
void xt_ppo_set_reward_stats(xt_ppo *self, const double in[3]);

// Advantages and returns [C][T] and values [C][T + 1] of the last update.
const float *xt_ppo_advantages(const xt_ppo *self);
const float *xt_ppo_returns(const xt_ppo *self);
const float *xt_ppo_values(const xt_ppo *self);

#endif
