// gae.h - generalized advantage estimation over a time-major [T,B] batch of
// rollout chunks, with terminations and truncations handled separately.
//
// For step t of column b (episode end e_t = terminated_t || truncated_t):
//   V_next_t = truncated_t && !terminated_t ? trunc_value_t : values[t+1]
//   delta_t  = r_t + gamma * V_next_t * (1 - terminated_t) - values[t]
//   A_t      = delta_t + gamma * lambda * (1 - e_t) * A_{t+1},   A_T = 0
//   ret_t    = A_t + values[t]
// values[T] is the value of the observation after the last step (bootstrap).
// When an env ends an episode it auto-resets, so obs[t+1] after an end is the
// NEW episode's first observation: values[t+1] is never used to bootstrap
// across that boundary, and the recursion is cut at every end. A terminated
// step bootstraps nothing (the future is worth 0); a truncated one (time
// limit, data end) bootstraps with the value of its real final observation,
// which the actor computes before the reset and sends as trunc_value.
// Terminated wins when both flags are set.
//
// Without trunc values (trunc_value == NULL) a truncated step bootstraps with
// its own value, V_next_t = values[t] (delta_t = r_t - (1 - gamma) values[t]):
// the nearest value that belongs to the ending episode. This is an
// approximation; actors should send trunc values.
//
// float and double (_f64) versions, compiled from one implementation.
#ifndef XT_GAE_H
#define XT_GAE_H

#include <stdint.h>

#define XT_GAE_GAMMA_DEFAULT 0.99
#define XT_GAE_LAMBDA_DEFAULT 0.95

// rewards [T,B], values [T+1,B], terminated [T,B], truncated [T,B] (uint8 0/1;
// truncated may be NULL = none), trunc_value [T,B] or NULL (read only where
// truncated) -> adv [T,B], ret [T,B] (distinct buffers). Index (t, b) is t * B + b.
void xt_gae_compute(float *adv, float *ret, const float *rewards, const float *values,
                    const uint8_t *terminated, const uint8_t *truncated, const float *trunc_value,
                    float gamma, float lambda, int T, int B);

void xt_gae_compute_f64(double *adv, double *ret, const double *rewards, const double *values,
                        const uint8_t *terminated, const uint8_t *truncated,
                        const double *trunc_value, double gamma, double lambda, int T, int B);

#endif
