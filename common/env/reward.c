// reward.c - rolling volatility ring and the seed 003 reward formula.
//
// The ring and its sums are per env (struct-of-arrays in the batch); these
// functions only touch what they are given. No allocation; any thread.
#include "reward.h"

#include <math.h>

// ---- rolling volatility

void xt_rollvol_reset(xt_rollvol *v) {
    v->sum = v->sq = 0.0;
    v->inv_n = v->inv_n1 = 0.0;
    v->n = v->pos = 0;
}

double xt_rollvol_push(xt_rollvol *v, double *ring, int window, double r) {
    if (v->n < window) {
        v->n++;
        v->sum += r, v->sq += r * r;
        v->inv_n = 1.0 / v->n;
        v->inv_n1 = v->n > 1 ? 1.0 / (v->n - 1) : 0.0;
    } else {
        double old = ring[v->pos];
        v->sum += r - old, v->sq += r * r - old * old;
    }
    ring[v->pos] = r;
    if (++v->pos == window) {
        // Wrapped: re-add the ring exactly so rounding never accumulates.
        v->pos = 0;
        double s = 0.0, q = 0.0;
        for (int i = 0; i < v->n; i++) s += ring[i], q += ring[i] * ring[i];
        v->sum = s, v->sq = q;
    }
    // No Sharpe term until the window is full: an sd from 2-3 returns can be
    // ~0 and would blow the reward up by orders of magnitude at episode starts.
    if (v->n < window || v->n < 2) return 0.0;
    // var = (sum x^2 - (sum x)^2 / n) / (n - 1), clamped at 0 against cancellation.
    double var = (v->sq - v->sum * v->sum * v->inv_n) * v->inv_n1;
    return var > 0.0 ? sqrt(var) : 0.0;
}

// ---- reward

double xt_reward_compute(const xt_env_params *p, double r, double sd, double expo, double floor) {
    // No volatility estimate yet (fewer than 2 returns, or all equal): no Sharpe term.
    double div = expo > floor ? expo : floor;
    if (!(sd > 0.0)) return p->reward_scale * p->reward_w_return * r / div;
    // scale (w_ret r + w_sh r / vol) / div with one division: r (w_ret vol + w_sh) / (vol div).
    double vol = sd > p->reward_vol_floor ? sd : p->reward_vol_floor;
    return p->reward_scale * r * (p->reward_w_return * vol + p->reward_w_sharpe) / (vol * div);
}
