// portfolio_env.c - batched K-asset + cash env: masked softmax, exact
// projection, fills, stops, reward, auto-reset.
//
// State is struct-of-arrays over the N envs (per-asset arrays are [N][K]),
// allocated in one block at construction; the step reads the shared market
// and per-row tables (mask bits, prices with fill costs, correlation clusters) and writes
// only its own slots and the caller's buffers. Holdings are units per asset
// plus cash, in double. Episode starts come from one xt_rng stream per env,
// so (seed, window, actions) replays bit-for-bit. One thread at a time.
#include "portfolio_env.h"

#include "core/rng.h"
#include "costs.h"
#include "reward.h"
#include "risk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- the batch

struct xt_portfolio_env {
    const xt_env_market *m;
    xt_env_params p;
    xt_env_setup s;
    int N, K, nf, obs_dim;
    int64_t r0, last, wbeg;
    xt_env_tables tab;
    xt_risk_limits lim;
    double vb[XT_ENV_MAX_ASSETS], norm_floor, bpy;
    // per env
    double *cash, *peak, *eq, *ring;
    double *units, *entry, *stop, *tp, *flow; // [N][K]
    int64_t *row, *episodes;
    int32_t *steps;
    xt_rollvol *vol;
    xt_epmetrics_acc *acc;
    xt_metrics *last_m;
    xt_rng *rng;
    void *block;       // every per-env array above, no pointers inside
    size_t block_bytes;
};

int xt_portfolio_env_obs_dim(const xt_env_market *m) { return m->n_feat + m->k + 2; }
int xt_portfolio_env_act_dim(const xt_env_market *m) { return m->k + 1; }
int xt_portfolio_env_size(const xt_portfolio_env *e) { return e->N; }

const xt_metrics *xt_portfolio_env_episode_metrics(const xt_portfolio_env *e, int i) {
    return i >= 0 && i < e->N && e->episodes[i] > 0 ? &e->last_m[i] : NULL;
}

int64_t xt_portfolio_env_episodes(const xt_portfolio_env *e, int i) {
    return i >= 0 && i < e->N ? e->episodes[i] : 0;
}

// ---- construction

static int s_alloc(xt_portfolio_env *e) {
    size_t N = (size_t)e->N, K = (size_t)e->K, W = (size_t)e->p.reward_vol_window;
    size_t bytes = N * (3 + W + 5 * K) * sizeof(double) + N * 2 * sizeof(int64_t) + N * sizeof(int32_t) +
                   N * (sizeof(xt_rollvol) + sizeof(xt_epmetrics_acc) + sizeof(xt_metrics) + sizeof(xt_rng));
    char *b = calloc(1, bytes);
    if (!b) return XT_ENOMEM;
    e->block = b, e->block_bytes = bytes;
    e->cash = (double *)b, b += N * sizeof(double);
    e->peak = (double *)b, b += N * sizeof(double);
    e->eq = (double *)b, b += N * sizeof(double);
    e->ring = (double *)b, b += N * W * sizeof(double);
    double **d[] = {&e->units, &e->entry, &e->stop, &e->tp, &e->flow};
    for (size_t k = 0; k < 5; k++) *d[k] = (double *)b, b += N * K * sizeof(double);
    e->row = (int64_t *)b, b += N * sizeof(int64_t);
    e->episodes = (int64_t *)b, b += N * sizeof(int64_t);
    e->vol = (xt_rollvol *)b, b += N * sizeof(xt_rollvol);
    e->acc = (xt_epmetrics_acc *)b, b += N * sizeof(xt_epmetrics_acc);
    e->last_m = (xt_metrics *)b, b += N * sizeof(xt_metrics);
    e->rng = (xt_rng *)b, b += N * sizeof(xt_rng);
    e->steps = (int32_t *)b;
    return 0;
}

int xt_portfolio_env_new(xt_portfolio_env **out, const xt_env_market *m, const xt_env_params *p,
                         const xt_env_setup *s, xt_err *err) {
    *out = NULL;
    int rc;
    if ((rc = xt_env_params_validate(p, err))) return rc;
    if ((rc = xt_env_market_validate(m, s->row_begin, s->row_end, err))) return rc;
    if (s->n_envs < 1 || s->n_envs > (1 << 20))
        return xt_err_set(err, XT_EINVAL, "portfolio env: n_envs must be between 1 and %d (got %d)", 1 << 20,
                          s->n_envs);
    xt_portfolio_env *e = calloc(1, sizeof(*e));
    if (!e) return xt_err_set(err, XT_ENOMEM, "portfolio env: out of memory");
    e->m = m, e->p = *p, e->s = *s, e->N = s->n_envs, e->K = m->k, e->nf = m->n_feat;
    e->obs_dim = xt_portfolio_env_obs_dim(m);
    e->wbeg = s->row_begin;
    e->r0 = s->row_begin > m->first_row ? s->row_begin : m->first_row;
    e->last = s->row_end - 1;
    e->bpy = p->bars_per_year > 0.0 ? p->bars_per_year : xt_env_bars_per_year(m->tf_sec);
    double vmin = HUGE_VAL;
    int assets[XT_ENV_MAX_ASSETS];
    e->lim.n = e->K;
    for (int a = 0; a < e->K; a++) {
        assets[a] = a;
        e->vb[a] = m->vol_baseline[a];
        vmin = fmin(vmin, e->vb[a]);
        double c = p->asset_max_weight[a];
        e->lim.cap[a] = c > 0.0 && c < p->max_weight ? c : p->max_weight;
    }
    e->norm_floor = p->reward_norm_floor * vmin;
    e->lim.min_cash = p->min_cash;
    e->lim.max_positions = p->max_positions;
    e->lim.cluster_cap = p->corr_cap;
    e->lim.min_position = p->min_position;
    e->lim.min_trade = p->min_trade;
    if ((rc = xt_env_tables_init(&e->tab, m, s->row_begin, s->row_end, assets, e->K, p, 1, err))) {
        xt_portfolio_env_destroy(&e);
        return rc;
    }
    if (s_alloc(e)) {
        xt_portfolio_env_destroy(&e);
        return xt_err_set(err, XT_ENOMEM, "portfolio env: out of memory for %d envs", s->n_envs);
    }
    for (int i = 0; i < e->N; i++) xt_rng_derive(&e->rng[i], s->seed, s->stream0 + (uint64_t)i);
    *out = e;
    return 0;
}

void xt_portfolio_env_destroy(xt_portfolio_env **ep) {
    if (!ep || !*ep) return;
    xt_portfolio_env *e = *ep;
    xt_env_tables_free(&e->tab);
    free(e->block);
    free(e);
    *ep = NULL;
}

// ---- episodes and observations

static void s_disarm(xt_portfolio_env *e, size_t ia) {
    e->entry[ia] = 0.0;
    e->stop[ia] = -HUGE_VAL, e->tp[ia] = HUGE_VAL;
}

static void s_reset_one(xt_portfolio_env *e, int i) {
    int64_t start = e->r0, hi = e->last - e->p.episode_length;
    if (!e->s.eval && hi > e->r0) start = e->r0 + (int64_t)xt_rng_below(&e->rng[i], (uint64_t)(hi - e->r0 + 1));
    e->row[i] = start;
    e->steps[i] = 0;
    e->cash[i] = e->eq[i] = e->peak[i] = e->p.initial_cash;
    for (int a = 0; a < e->K; a++) {
        size_t ia = (size_t)i * (size_t)e->K + (size_t)a;
        e->units[ia] = e->flow[ia] = 0.0;
        s_disarm(e, ia);
    }
    xt_rollvol_reset(&e->vol[i]);
    xt_epmetrics_begin(&e->acc[i], e->p.initial_cash);
}

// Observation of env i at its current row: features, weights at the close, (equity - peak) / peak.
static void s_obs(const xt_portfolio_env *e, int i, float *o) {
    int64_t t = e->row[i];
    int K = e->K;
    const float *fr = e->m->feat + t * e->nf;
    memcpy(o, fr, (size_t)e->nf * sizeof(float));
    // The env reads row t+1 on its next step, a whole batch later: fetch it now.
    for (int j = 0; j < e->nf; j += 16) __builtin_prefetch(fr + e->nf + j);
    __builtin_prefetch(fr + 2 * e->nf - 1);
    double eq = e->eq[i], inv = eq > 0.0 ? 1.0 / eq : 0.0;
    const double *u = e->units + (size_t)i * (size_t)K;
    const xt_env_px *P = e->tab.px + (size_t)(t - e->wbeg) * (size_t)K;
    for (int a = 0; a < K; a++) o[e->nf + a] = (float)(u[a] * P[a].c * inv);
    o[e->nf + K] = (float)(e->cash[i] * inv);
    o[e->nf + K + 1] = (float)((eq - e->peak[i]) / e->peak[i]);
}

static void s_mask(const xt_portfolio_env *e, int i, uint8_t *mk) {
    unsigned bits = e->tab.tradable[e->row[i] - e->wbeg];
    for (int a = 0; a < e->K; a++) mk[a] = (uint8_t)(bits >> a & 1u);
    mk[e->K] = 1;
}

void xt_portfolio_env_reset(xt_portfolio_env *e, float *obs, uint8_t *mask) {
    for (int i = 0; i < e->N; i++) {
        s_reset_one(e, i);
        s_obs(e, i, obs + (size_t)i * (size_t)e->obs_dim);
        s_mask(e, i, mask + (size_t)i * (size_t)(e->K + 1));
    }
}

// ---- step

// Books the open fill of asset a (units u -> U, long only) into entry, stops and round trips.
static int s_book_fill(xt_portfolio_env *e, size_t ia, double u, double U, const xt_fill *f, double atr) {
    const xt_env_params *p = &e->p;
    if (U == 0.0) { // to flat: the round trip ends
        xt_epmetrics_trade(&e->acc[ia / (size_t)e->K], e->flow[ia] + f->cash);
        e->flow[ia] = 0.0;
        s_disarm(e, ia);
        return 1;
    }
    e->flow[ia] += f->cash;
    if (U <= u) return 0; // reduced: entry and stops unchanged
    e->entry[ia] = (u * e->entry[ia] + (U - u) * f->price) / U; // opened or added: average entry
    e->stop[ia] = p->stop_loss_atr > 0.0 ? e->entry[ia] - p->stop_loss_atr * atr : -HUGE_VAL;
    e->tp[ia] = p->take_profit_atr > 0.0 ? e->entry[ia] + p->take_profit_atr * atr : HUGE_VAL;
    return 0;
}

// Desired weights of env i from logits (masked softmax numerators; masked entries 0).
static int s_want_logits(const xt_portfolio_env *e, const float *lg, unsigned *free, double *want) {
    int K = e->K, bad = 0;
    double clip = e->p.logit_clip, x[XT_PF_W], mx = -HUGE_VAL;
    for (int a = 0; a <= K; a++) {
        double v = lg[a];
        if (!(v >= -clip)) bad |= !isfinite(v), v = -clip; // NaN and -inf land here
        if (v > clip) bad |= !isfinite(v), v = clip;
        x[a] = v;
        if ((a == K || (*free >> a & 1u)) && v > mx) mx = v;
    }
    for (int a = 0; a <= K; a++) want[a] = (a == K || (*free >> a & 1u)) ? exp(x[a] - mx) : 0.0;
    return bad;
}

// Desired weights of env i given directly: negative asset entries freeze the asset.
static int s_want_weights(const xt_portfolio_env *e, const double *w, unsigned *free, double *want) {
    int K = e->K, bad = 0;
    for (int a = 0; a <= K; a++) {
        double v = w[a];
        if (!isfinite(v)) bad = 1, v = 0.0;
        if (a < K && v < 0.0) *free &= ~(1u << a);
        want[a] = v > 0.0 ? v : 0.0;
    }
    return bad;
}

static void s_step(xt_portfolio_env *e, const float *logits, const double *weights, const xt_env_io *io,
                   xt_portfolio_info *info) {
    const xt_env_params *p = &e->p;
    const int K = e->K;
    for (int i = 0; i < e->N; i++) {
        int64_t t = e->row[i], t1 = t + 1;
        size_t r = (size_t)(t - e->wbeg), base = (size_t)i * (size_t)K;
        const xt_env_px *P = e->tab.px + (r + 1) * (size_t)K; // bar t+1 and its fill costs, [K]
        // The next step reads the following row a whole batch later: fetch it now.
        for (int b = 0; b < K * (int)sizeof(xt_env_px); b += 64) __builtin_prefetch((const char *)(P + K) + b);
        unsigned tradable = e->tab.tradable[r], free = tradable;
        double *u = e->units + base;
        double cur[XT_PF_W], want[XT_PF_W], w[XT_PF_W];

        // Mark at the open: current drifted weights.
        double cash = e->cash[i], eo = cash;
        for (int a = 0; a < K; a++) eo += u[a] * P[a].o;
        double inv = eo > 0.0 ? 1.0 / eo : 0.0;
        for (int a = 0; a < K; a++) cur[a] = u[a] * P[a].o * inv;
        cur[K] = cash * inv;

        // Requested weights -> executed weights (risk.h).
        int bad = logits ? s_want_logits(e, logits + (size_t)i * (size_t)(K + 1), &free, want)
                         : s_want_weights(e, weights + (size_t)i * (size_t)(K + 1), &free, want);
        const uint8_t *cl = e->tab.cluster && e->tab.clustered[r] ? e->tab.cluster + r * (size_t)K : NULL;
        xt_risk_rebalance(w, cur, want, free, cl, eo, &e->lim);

        // Fill the changes at the open.
        double fee = 0.0, slip = 0.0, turn = 0.0;
        int fills = 0, closed = 0, reason = XT_ENV_REASON_NONE;
        if (info) {
            for (int a = 0; a < K; a++) info[i].fill_units[a] = 0.0, info[i].fill_price[a] = NAN;
        }
        for (int a = 0; a < K; a++) {
            if (w[a] == cur[a]) continue;
            double U = w[a] * eo / P[a].o, du = U - u[a];
            if (du == 0.0) continue;
            xt_fill f = xt_cost_fill(du, P[a].o, P[a].slip, e->tab.fee[a]);
            closed += s_book_fill(e, base + (size_t)a, u[a], U, &f, P[a].atr);
            cash += f.cash, fee += f.fee, slip += f.slip_cost, fills++;
            turn += fabs(du) * P[a].o * inv;
            u[a] = U;
            if (info) info[i].fill_units[a] = du, info[i].fill_price[a] = f.price;
        }

        // Stops and take-profits against bar t+1 (tradable assets only).
        if (info) {
            for (int a = 0; a < K; a++) info[i].stop_price[a] = NAN, info[i].stop_reason[a] = 0;
        }
        for (int a = 0; a < K; a++) {
            if (!(u[a] > 0.0) || !(tradable >> a & 1u)) continue;
            size_t ia = base + (size_t)a;
            double px;
            int rs = xt_risk_stop_check(1, e->stop[ia], e->tp[ia], P[a].o, P[a].h, P[a].l, &px);
            if (!rs) continue;
            xt_fill f = xt_cost_fill(-u[a], px, 0.0, e->tab.fee[a]);
            cash += f.cash, fee += f.fee, fills++;
            turn += u[a] * px * inv;
            xt_epmetrics_trade(&e->acc[i], e->flow[ia] + f.cash);
            e->flow[ia] = 0.0, closed++;
            s_disarm(e, ia);
            u[a] = 0.0;
            if (rs == XT_ENV_REASON_STOP_LOSS || !reason) reason = rs;
            if (info) info[i].stop_price[a] = px, info[i].stop_reason[a] = (uint8_t)rs;
        }

        // Mark at the close, reward.
        double ec = cash, expo = 0.0;
        for (int a = 0; a < K; a++) ec += u[a] * P[a].c, expo += fmax(cur[a], w[a]) * e->vb[a];
        double ret = ec / e->eq[i] - 1.0;
        double peak = ec > e->peak[i] ? ec : e->peak[i];
        double sd = xt_rollvol_push(&e->vol[i], e->ring + (size_t)i * (size_t)p->reward_vol_window,
                                    p->reward_vol_window, ret);
        double rew = xt_reward_compute(p, ret, sd, expo, e->norm_floor);

        // Terminal rules: bankrupt first, then drawdown; close out every position at the
        // close (with the slippage of a fill at the next bar's open, P[K + a]).
        int term = 0;
        if (ec < p->bankrupt_frac * p->initial_cash)
            term = 1, reason = XT_ENV_REASON_BANKRUPT, rew = p->bankrupt_penalty;
        else if (peak - ec > p->max_drawdown * peak)
            term = 1, reason = XT_ENV_REASON_DRAWDOWN, rew = p->drawdown_penalty;
        if (term) {
            for (int a = 0; a < K; a++) {
                if (u[a] == 0.0) continue;
                xt_fill f = xt_cost_fill(-u[a], P[a].c, P[K + a].slip, e->tab.fee[a]);
                cash += f.cash, fee += f.fee, slip += f.slip_cost, fills++;
                turn += fabs(u[a]) * P[a].c * inv;
                xt_epmetrics_trade(&e->acc[i], e->flow[base + (size_t)a] + f.cash);
                e->flow[base + (size_t)a] = 0.0, closed++;
                u[a] = 0.0;
            }
            ec = cash;
        }
        int steps = ++e->steps[i];
        int trunc = !term && (t1 >= e->last || (!e->s.eval && steps >= p->episode_length));
        if (trunc && !reason) reason = XT_ENV_REASON_END;

        // Commit the state at row t+1.
        e->cash[i] = cash, e->eq[i] = ec, e->row[i] = t1;
        e->peak[i] = ec > peak ? ec : peak;
        xt_epmetrics_step(&e->acc[i], ec, ec > 0.0 ? cash / ec : 0.0, turn, fee, slip, fills);

        io->reward[i] = (float)rew;
        io->terminated[i] = (uint8_t)term;
        io->truncated[i] = (uint8_t)trunc;
        if (info) {
            xt_portfolio_info *in = &info[i];
            in->row = t1, in->ts = e->m->ts[t1], in->tradable = tradable;
            in->terminated = (uint8_t)term, in->truncated = (uint8_t)trunc, in->invalid = (uint8_t)bad;
            in->reason = reason, in->trades_closed = closed;
            // The masked softmax as weights: frozen at their drift, the rest share the free budget.
            double z = 0.0, frozen = 0.0, ie = ec > 0.0 ? 1.0 / ec : 0.0;
            for (int a = 0; a <= K; a++) {
                if (a < K && !(free >> a & 1u)) frozen += cur[a];
                else z += want[a];
            }
            for (int a = 0; a <= K; a++) {
                int fr = a < K && !(free >> a & 1u);
                in->w_want[a] = fr ? cur[a] : (z > 0.0 ? want[a] / z * (1.0 - frozen) : (a == K) * (1.0 - frozen));
                in->w_pre[a] = cur[a], in->w_exec[a] = w[a];
                in->w_close[a] = a < K ? u[a] * P[a].c * ie : cash * ie;
                if (a < K) in->units[a] = u[a];
            }
            in->fee = fee, in->slippage = slip, in->equity_open = eo, in->equity = ec;
            in->ret = ret, in->reward = rew;
        }
        float *ob = io->obs + (size_t)i * (size_t)e->obs_dim;
        if (term | trunc) {
            if (io->final_obs) s_obs(e, i, io->final_obs + (size_t)i * (size_t)e->obs_dim);
            xt_epmetrics_finalize(&e->acc[i], e->bpy, &e->last_m[i]);
            e->episodes[i]++;
            s_reset_one(e, i);
        }
        s_obs(e, i, ob);
        s_mask(e, i, io->mask + (size_t)i * (size_t)(K + 1));
    }
}

void xt_portfolio_env_step(xt_portfolio_env *e, const float *logits, const xt_env_io *io, xt_portfolio_info *info) {
    s_step(e, logits, NULL, io, info);
}

void xt_portfolio_env_step_weights(xt_portfolio_env *e, const double *weights, const xt_env_io *io,
                                   xt_portfolio_info *info) {
    s_step(e, NULL, weights, io, info);
}

// ---- snapshots

// The per-env state is one block without pointers (s_alloc): a byte copy
// of it is the whole mutable state of the batch.
size_t xt_portfolio_env_state_bytes(const xt_portfolio_env *e) { return e->block_bytes; }
void xt_portfolio_env_snapshot(const xt_portfolio_env *e, void *dst) { memcpy(dst, e->block, e->block_bytes); }
void xt_portfolio_env_restore(xt_portfolio_env *e, const void *src) { memcpy(e->block, src, e->block_bytes); }
