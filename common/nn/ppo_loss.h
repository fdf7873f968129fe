// ppo_loss.h - the clipped-surrogate PPO loss over one minibatch, its
// gradients w.r.t. the per-sample log-prob, entropy and value, the per-
// minibatch advantage normalization and the explained-variance statistic.
//
// With r_i = exp(logp_i - old_logp_i) and n = number of valid samples:
//   policy_loss = -(1/n) sum_i min(r_i A_i, clip(r_i, 1-eps, 1+eps) A_i)
//   value_loss  =  (1/n) sum_i 0.5 (v_i - R_i)^2                 (vf_clip == 0)
//               =  (1/n) sum_i 0.5 max((v_i - R_i)^2, (vc_i - R_i)^2)
//                  with vc_i = old_v_i + clip(v_i - old_v_i, -vf_clip, vf_clip)
//   loss        =  policy_loss + vf_coef value_loss - ent_coef mean(entropy)
// Padding samples (valid[i] == 0) are excluded from every mean and get zero
// gradient. The 0.5 in the value loss follows CleanRL; SB3 uses the plain
// MSE, so vf_coef 0.5 here weighs the value loss half as much as SB3 does.
//
// Every function exists in float and double (_f64), compiled from one
// implementation (ppo_loss_impl.inc); the statistics are always accumulated
// in double.
#ifndef XT_PPO_LOSS_H
#define XT_PPO_LOSS_H

#include <stdint.h>

typedef struct {
    double clip_eps; // surrogate clip range eps (0.2)
    double vf_coef;  // value loss weight (0.5)
    double ent_coef; // entropy bonus weight (from the schedule, seed 003: 0.02 -> 0.005)
    double vf_clip;  // value clip range around the old value; 0 = off (default)
} xt_ppo_hparams;

// Defaults of seed 003 section 7.3 (ent_coef is the schedule's first value).
#define XT_PPO_HPARAMS_DEFAULT {0.2, 0.5, 0.02, 0.0}

typedef struct {
    double policy_loss;   // clipped surrogate term (sign as minimized)
    double value_loss;    // mean 0.5 (v - R)^2 (or its clipped max)
    double entropy;       // mean entropy
    double approx_kl;     // mean((r - 1) - log r), the low-variance estimator (>= 0)
    double clip_fraction; // fraction of samples with |r - 1| > clip_eps
    double loss;          // policy_loss + vf_coef value_loss - ent_coef entropy
    int n_valid;          // samples that entered the means
} xt_ppo_stats;

// Inputs [N] each: logp, entropy, value (current network), old_logp (behaviour
// policy), adv (already normalized if wanted), ret (GAE returns), old_value
// (values at rollout time; only read when vf_clip > 0, may be NULL otherwise),
// valid (uint8, NULL = all valid).
// Outputs: stats, and dlogp, dentropy, dvalue [N]: d loss / d input, written
// (not accumulated), 0 for padding. With no valid sample everything is 0.
// A non-finite input on a valid sample sets stats->loss to NaN (the caller
// then skips the update, DESIGN.md section 5).
void xt_ppo_loss(xt_ppo_stats *stats, float *dlogp, float *dentropy, float *dvalue,
                 const float *logp, const float *entropy, const float *value,
                 const float *old_logp, const float *adv, const float *ret,
                 const float *old_value, const uint8_t *valid, const xt_ppo_hparams *hp, int N);

// adv_out[i] = (adv_in[i] - mean) / (std + 1e-8) over the valid samples, with the
// unbiased std (n - 1, as torch.std in SB3/CleanRL); padding gets 0. With one
// valid sample std is taken as 0 (the output is 0). adv_out may equal adv_in.
void xt_ppo_adv_normalize(float *adv_out, const float *adv_in, const uint8_t *valid, int N);

// 1 - Var(R - V) / Var(R) over the valid samples (population variances).
// Returns 0 when Var(R) == 0 or fewer than 2 samples are valid (SB3 returns NaN;
// 0 keeps the metric plottable and means "explains nothing").
double xt_ppo_explained_variance(const float *value, const float *ret, const uint8_t *valid,
                                 int N);

// ---- double twins

void xt_ppo_loss_f64(xt_ppo_stats *stats, double *dlogp, double *dentropy, double *dvalue,
                     const double *logp, const double *entropy, const double *value,
                     const double *old_logp, const double *adv, const double *ret,
                     const double *old_value, const uint8_t *valid, const xt_ppo_hparams *hp,
                     int N);
void xt_ppo_adv_normalize_f64(double *adv_out, const double *adv_in, const uint8_t *valid, int N);
double xt_ppo_explained_variance_f64(const double *value, const double *ret,
                                     const uint8_t *valid, int N);

#endif
