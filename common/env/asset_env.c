// asset_env.c - batched single-asset env: fills, stops, reward, auto-reset.
//
// State is struct-of-arrays over the N envs of the batch, allocated in one
// block by xt_asset_env_new; the step loop only reads the shared features,
// the per-row tables (mask bits, prices with fill costs) and its own slots,
// and writes those slots and the caller's buffers. Accounting is in double: cash + units * price. Every env
// draws its episode starts from its own xt_rng stream, so a batch replays
// bit-for-bit from (seed, window, actions). One thread at a time.
#include "asset_env.h"

#include "core/rng.h"
#include "costs.h"
#include "reward.h"
#include "risk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- the batch

struct xt_asset_env {
    const xt_env_market *m;
    xt_env_params p;
    xt_env_setup s;
    int N, nl, flat, nf, obs_dim, tail_dim;
    double lv[XT_ENV_MAX_LEVELS];
    float *tail;                   // [tail_dim] constant obs tail: symbol and timeframe encodings
    int64_t r0, last, wbeg;        // first usable row, last window row, window begin
    const float *feat;
    xt_env_tables tab;
    double fee, vb, norm_floor, bpy;
    // per env
    double *cash, *units, *entry, *stop, *tp, *peak, *eq, *flow, *ring;
    int64_t *row, *episodes;
    int32_t *steps, *lev;
    xt_rollvol *vol;
    xt_epmetrics_acc *acc;
    xt_metrics *last_m;
    xt_rng *rng;
    void *block;       // every per-env array above, no pointers inside
    size_t block_bytes;
};

int xt_asset_env_n_actions(const xt_env_params *p) {
    int n = 0;
    for (int j = 0; j < p->n_levels; j++) n += !(p->long_only && p->levels[j] < 0.0);
    return n;
}

int xt_asset_env_obs_dim(const xt_env_params *p, const xt_env_market *m) {
    int sym = p->symbol_encoding == XT_ENV_SYMBOL_ID ? 1 : p->n_symbols;
    return m->n_feat + 3 + sym + p->n_timeframes;
}

int xt_asset_env_size(const xt_asset_env *e) { return e->N; }
double xt_asset_env_level(const xt_asset_env *e, int j) { return j >= 0 && j < e->nl ? e->lv[j] : 0.0; }
int xt_asset_env_flat_action(const xt_asset_env *e) { return e->flat; }

const xt_metrics *xt_asset_env_episode_metrics(const xt_asset_env *e, int i) {
    return i >= 0 && i < e->N && e->episodes[i] > 0 ? &e->last_m[i] : NULL;
}

int64_t xt_asset_env_episodes(const xt_asset_env *e, int i) { return i >= 0 && i < e->N ? e->episodes[i] : 0; }

// ---- construction

static int s_check_setup(const xt_env_params *p, const xt_env_market *m, const xt_env_setup *s, xt_err *err) {
    if (s->n_envs < 1 || s->n_envs > (1 << 20))
        return xt_err_set(err, XT_EINVAL, "asset env: n_envs must be between 1 and %d (got %d)", 1 << 20, s->n_envs);
    if (s->asset < 0 || s->asset >= m->k)
        return xt_err_set(err, XT_EINVAL, "asset env: asset must be between 0 and %d (got %d)", m->k - 1, s->asset);
    if (s->symbol_id < 0 || (p->symbol_encoding == XT_ENV_SYMBOL_ONEHOT && s->symbol_id >= p->n_symbols))
        return xt_err_set(err, XT_EINVAL, "asset env: symbol_id %d is outside the one-hot of n_symbols %d",
                          s->symbol_id, p->n_symbols);
    if (p->n_timeframes > 0 && (s->tf_id < 0 || s->tf_id >= p->n_timeframes))
        return xt_err_set(err, XT_EINVAL, "asset env: tf_id %d is outside the one-hot of n_timeframes %d", s->tf_id,
                          p->n_timeframes);
    return 0;
}

// Carves the per-env arrays out of one block (doubles first for alignment).
static int s_alloc(xt_asset_env *e) {
    size_t N = (size_t)e->N, W = (size_t)e->p.reward_vol_window;
    size_t bytes = N * (9 + W) * sizeof(double) + N * 2 * sizeof(int64_t) + N * 2 * sizeof(int32_t) +
                   N * (sizeof(xt_rollvol) + sizeof(xt_epmetrics_acc) + sizeof(xt_metrics) + sizeof(xt_rng)) + 64;
    char *b = calloc(1, bytes);
    if (!b) return XT_ENOMEM;
    e->block = b, e->block_bytes = bytes;
    double **d[] = {&e->cash, &e->units, &e->entry, &e->stop, &e->tp, &e->peak, &e->eq, &e->flow};
    for (size_t k = 0; k < sizeof(d) / sizeof(d[0]); k++) *d[k] = (double *)b, b += N * sizeof(double);
    e->ring = (double *)b, b += N * W * sizeof(double);
    b += N * sizeof(double); // spare slot keeps the next arrays 8-byte aligned
    e->row = (int64_t *)b, b += N * sizeof(int64_t);
    e->episodes = (int64_t *)b, b += N * sizeof(int64_t);
    e->vol = (xt_rollvol *)b, b += N * sizeof(xt_rollvol);
    e->acc = (xt_epmetrics_acc *)b, b += N * sizeof(xt_epmetrics_acc);
    e->last_m = (xt_metrics *)b, b += N * sizeof(xt_metrics);
    e->rng = (xt_rng *)b, b += N * sizeof(xt_rng);
    e->steps = (int32_t *)b, b += N * sizeof(int32_t);
    e->lev = (int32_t *)b;
    return 0;
}

int xt_asset_env_new(xt_asset_env **out, const xt_env_market *m, const xt_env_params *p, const xt_env_setup *s,
                     xt_err *err) {
    *out = NULL;
    int rc;
    if ((rc = xt_env_params_validate(p, err))) return rc;
    if ((rc = xt_env_market_validate(m, s->row_begin, s->row_end, err))) return rc;
    if ((rc = s_check_setup(p, m, s, err))) return rc;
    xt_asset_env *e = calloc(1, sizeof(*e));
    if (!e) return xt_err_set(err, XT_ENOMEM, "asset env: out of memory");
    e->m = m, e->p = *p, e->s = *s, e->N = s->n_envs;
    for (int j = 0; j < p->n_levels; j++)
        if (!(p->long_only && p->levels[j] < 0.0)) {
            if (p->levels[j] == 0.0) e->flat = e->nl;
            e->lv[e->nl++] = p->levels[j];
        }
    e->nf = m->n_feat;
    e->obs_dim = xt_asset_env_obs_dim(p, m);
    e->tail_dim = e->obs_dim - e->nf - 3;
    float *tail = e->tail = calloc((size_t)e->tail_dim + 1, sizeof(float));
    if (!tail) goto nomem;
    // Constant encodings: symbol one-hot or id, then timeframe one-hot.
    int sym_w = p->symbol_encoding == XT_ENV_SYMBOL_ID ? 1 : p->n_symbols;
    if (p->symbol_encoding == XT_ENV_SYMBOL_ID) tail[0] = (float)s->symbol_id;
    else tail[s->symbol_id] = 1.0f;
    if (p->n_timeframes > 0) tail[sym_w + s->tf_id] = 1.0f;

    int a = s->asset;
    e->wbeg = s->row_begin;
    e->r0 = s->row_begin > m->first_row ? s->row_begin : m->first_row;
    e->last = s->row_end - 1;
    e->feat = m->feat;
    e->vb = m->vol_baseline[a];
    e->norm_floor = p->reward_norm_floor * e->vb;
    e->bpy = p->bars_per_year > 0.0 ? p->bars_per_year : xt_env_bars_per_year(m->tf_sec);
    if ((rc = xt_env_tables_init(&e->tab, m, s->row_begin, s->row_end, &a, 1, p, 0, err))) {
        xt_asset_env_destroy(&e);
        return rc;
    }
    e->fee = e->tab.fee[0];
    if (s_alloc(e)) goto nomem;
    for (int i = 0; i < e->N; i++) xt_rng_derive(&e->rng[i], s->seed, s->stream0 + (uint64_t)i);
    *out = e;
    return 0;
nomem:
    xt_asset_env_destroy(&e);
    return xt_err_set(err, XT_ENOMEM, "asset env: out of memory for %d envs", s->n_envs);
}

void xt_asset_env_destroy(xt_asset_env **ep) {
    if (!ep || !*ep) return;
    xt_asset_env *e = *ep;
    xt_env_tables_free(&e->tab);
    free(e->tail);
    free(e->block);
    free(e);
    *ep = NULL;
}

// ---- episodes and observations

static void s_disarm(xt_asset_env *e, int i) {
    e->entry[i] = 0.0;
    e->stop[i] = -HUGE_VAL, e->tp[i] = HUGE_VAL;
}

static void s_reset_one(xt_asset_env *e, int i) {
    int64_t start = e->r0;
    int64_t hi = e->last - e->p.episode_length; // the episode's last fill row must stay in the window
    if (!e->s.eval && hi > e->r0) start = e->r0 + (int64_t)xt_rng_below(&e->rng[i], (uint64_t)(hi - e->r0 + 1));
    e->row[i] = start;
    e->steps[i] = 0;
    e->lev[i] = e->flat;
    e->cash[i] = e->eq[i] = e->peak[i] = e->p.initial_cash;
    e->units[i] = e->flow[i] = 0.0;
    s_disarm(e, i);
    xt_rollvol_reset(&e->vol[i]);
    xt_epmetrics_begin(&e->acc[i], e->p.initial_cash);
}

// Observation of env i at its current row (state marked at that row's close).
static void s_obs(const xt_asset_env *e, int i, float *o) {
    int64_t t = e->row[i];
    const float *fr = e->feat + t * e->nf;
    memcpy(o, fr, (size_t)e->nf * sizeof(float));
    // The env reads row t+1 on its next step, a whole batch later: fetch it now.
    for (int j = 0; j < e->nf; j += 16) __builtin_prefetch(fr + e->nf + j);
    __builtin_prefetch(fr + 2 * e->nf - 1);
    double u = e->units[i], upnl = 0.0;
    if (u != 0.0) upnl = (u > 0.0 ? 1.0 : -1.0) * (e->tab.px[t - e->wbeg].c / e->entry[i] - 1.0);
    o[e->nf] = (float)e->lv[e->lev[i]];
    o[e->nf + 1] = (float)upnl;
    o[e->nf + 2] = (float)((e->peak[i] - e->eq[i]) / e->peak[i]);
    memcpy(o + e->nf + 3, e->tail, (size_t)e->tail_dim * sizeof(float));
}

static void s_mask(const xt_asset_env *e, int i, uint8_t *mk) {
    int open = e->tab.tradable[e->row[i] - e->wbeg] & 1;
    for (int j = 0; j < e->nl; j++) mk[j] = (uint8_t)(open | (j == e->lev[i]));
}

void xt_asset_env_reset(xt_asset_env *e, float *obs, uint8_t *mask) {
    for (int i = 0; i < e->N; i++) {
        s_reset_one(e, i);
        s_obs(e, i, obs + (size_t)i * (size_t)e->obs_dim);
        s_mask(e, i, mask + (size_t)i * (size_t)e->nl);
    }
}

// ---- step

// Stop-loss and take-profit levels from the average entry and the decision bar's ATR.
static void s_arm(xt_asset_env *e, int i, double dir, double atr) {
    const xt_env_params *p = &e->p;
    double en = e->entry[i];
    e->stop[i] = p->stop_loss_atr > 0.0 ? en - dir * p->stop_loss_atr * atr : -dir * HUGE_VAL;
    e->tp[i] = p->take_profit_atr > 0.0 ? en + dir * p->take_profit_atr * atr : dir * HUGE_VAL;
}

// Books the open fill taking the position from u to U units into entry, stops and round trips.
// Returns the number of round trips it closed.
static int s_book_fill(xt_asset_env *e, int i, double u, double U, const xt_fill *f, double atr) {
    double du = U - u;
    int closed = 0;
    if (U == 0.0) { // to flat: the round trip ends
        xt_epmetrics_trade(&e->acc[i], e->flow[i] + f->cash);
        e->flow[i] = 0.0, closed = 1;
        s_disarm(e, i);
    } else if (u == 0.0 || (U > 0.0) != (u > 0.0)) { // opened from flat or flipped
        if (u != 0.0) {
            double frac = fabs(u) / fabs(du); // share of this fill that closed the old side
            xt_epmetrics_trade(&e->acc[i], e->flow[i] + f->cash * frac);
            e->flow[i] = f->cash * (1.0 - frac), closed = 1;
        } else {
            e->flow[i] = f->cash;
        }
        e->entry[i] = f->price;
        s_arm(e, i, U > 0.0 ? 1.0 : -1.0, atr);
    } else if (fabs(U) > fabs(u)) { // added: average entry, stops re-armed
        e->entry[i] = (fabs(u) * e->entry[i] + fabs(du) * f->price) / fabs(U);
        e->flow[i] += f->cash;
        s_arm(e, i, U > 0.0 ? 1.0 : -1.0, atr);
    } else {
        e->flow[i] += f->cash; // reduced: entry and stops unchanged
    }
    return closed;
}

void xt_asset_env_step(xt_asset_env *e, const int32_t *actions, const xt_env_io *io, xt_asset_info *info) {
    const xt_env_params *p = &e->p;
    for (int i = 0; i < e->N; i++) {
        int64_t t = e->row[i], t1 = t + 1, r = t - e->wbeg;
        const xt_env_px *P = &e->tab.px[r + 1]; // bar t+1 and its fill costs
        __builtin_prefetch(P + 2);                // read a whole batch later, on the next step
        int open = e->tab.tradable[r] & 1, cur = e->lev[i], req = actions[i], act = cur;
        int invalid = 0, skipped = 0, reason = XT_ENV_REASON_NONE, fills = 0, closed = 0;
        if (req != cur) {
            if (open && req >= 0 && req < e->nl) act = req;
            else invalid = 1;
        }
        double o = P->o, cash = e->cash[i], u = e->units[i];
        double eo = cash + u * o; // equity at the open, before trading
        double fee = 0.0, slip = 0.0, turn = 0.0, fill_px = NAN, fill_u = 0.0, stop_px = NAN, liq_px = NAN;
        double pre_lv = e->lv[cur];

        // 1. The agent's order at the open.
        if (act != cur) {
            double U = e->lv[act] * eo / o, du = U - u; // target units at the open
            if (fabs(du) * o < p->min_trade) {
                act = cur, skipped = 1;
            } else {
                xt_fill f = xt_cost_fill(du, o, P->slip, e->fee);
                closed += s_book_fill(e, i, u, U, &f, P->atr);
                cash += f.cash, fee += f.fee, slip += f.slip_cost, fills++;
                turn += fabs(du) * o / eo;
                fill_px = f.price, fill_u = du;
                u = U;
            }
        }
        int exec = act;

        // 2. Stop-loss / take-profit against bar t+1 (only when the market trades).
        if (u != 0.0 && open) {
            double px;
            int rs = xt_risk_stop_check(u > 0.0 ? 1 : -1, e->stop[i], e->tp[i], o, P->h, P->l, &px);
            if (rs) {
                xt_fill f = xt_cost_fill(-u, px, 0.0, e->fee);
                cash += f.cash, fee += f.fee, fills++;
                turn += fabs(u) * px / eo;
                xt_epmetrics_trade(&e->acc[i], e->flow[i] + f.cash);
                e->flow[i] = 0.0, closed++;
                s_disarm(e, i);
                u = 0.0, act = e->flat, reason = rs, stop_px = px;
            }
        }

        // 3. Mark at the close, reward.
        double ec = cash + u * P->c;
        double ret = ec / e->eq[i] - 1.0;
        double peak = ec > e->peak[i] ? ec : e->peak[i];
        double sd = xt_rollvol_push(&e->vol[i], e->ring + (size_t)i * (size_t)p->reward_vol_window,
                                    p->reward_vol_window, ret);
        double expo = fmax(fabs(pre_lv), fabs(e->lv[exec])) * e->vb;
        double rew = xt_reward_compute(p, ret, sd, expo, e->norm_floor);

        // 4. Terminal rules: bankrupt first, then drawdown; liquidate at the close
        //    (the slippage of a fill at the next bar's open, P[1]).
        int term = 0;
        if (ec < p->bankrupt_frac * p->initial_cash)
            term = 1, reason = XT_ENV_REASON_BANKRUPT, rew = p->bankrupt_penalty;
        else if (peak - ec > p->max_drawdown * peak)
            term = 1, reason = XT_ENV_REASON_DRAWDOWN, rew = p->drawdown_penalty;
        if (term && u != 0.0) {
            xt_fill f = xt_cost_fill(-u, P->c, P[1].slip, e->fee);
            cash += f.cash, fee += f.fee, slip += f.slip_cost, fills++;
            turn += fabs(u) * P->c / eo;
            xt_epmetrics_trade(&e->acc[i], e->flow[i] + f.cash);
            e->flow[i] = 0.0, closed++;
            u = 0.0, act = e->flat, liq_px = f.price;
            ec = cash;
        }
        int steps = ++e->steps[i];
        int trunc = !term && (t1 >= e->last || (!e->s.eval && steps >= p->episode_length));
        if (trunc) reason = reason ? reason : XT_ENV_REASON_END;

        // Commit the state at row t+1.
        e->cash[i] = cash, e->units[i] = u, e->lev[i] = act, e->eq[i] = ec, e->row[i] = t1;
        e->peak[i] = ec > peak ? ec : peak;
        double cw = ec > 0.0 ? 1.0 - fabs(u * P->c) / ec : 0.0;
        xt_epmetrics_step(&e->acc[i], ec, cw < 0.0 ? 0.0 : cw, turn, fee, slip, fills);

        io->reward[i] = (float)rew;
        io->terminated[i] = (uint8_t)term;
        io->truncated[i] = (uint8_t)trunc;
        if (info) {
            xt_asset_info *in = &info[i];
            in->row = t1, in->ts = e->m->ts[t1];
            in->action = req, in->level = exec;
            in->invalid = (uint8_t)invalid, in->skipped = (uint8_t)skipped;
            in->terminated = (uint8_t)term, in->truncated = (uint8_t)trunc;
            in->reason = reason, in->trades_closed = closed;
            in->position = e->lv[exec], in->units = u;
            in->fill_units = fill_u, in->fill_price = fill_px, in->stop_price = stop_px, in->liq_price = liq_px;
            in->fee = fee, in->slippage = slip, in->equity = ec, in->ret = ret, in->reward = rew;
        }
        float *ob = io->obs + (size_t)i * (size_t)e->obs_dim;
        if (term | trunc) {
            if (io->final_obs) s_obs(e, i, io->final_obs + (size_t)i * (size_t)e->obs_dim);
            xt_epmetrics_finalize(&e->acc[i], e->bpy, &e->last_m[i]);
            e->episodes[i]++;
            s_reset_one(e, i);
        }
        s_obs(e, i, ob);
        s_mask(e, i, io->mask + (size_t)i * (size_t)e->nl);
    }
}

// ---- snapshots

// The per-env state is one block without pointers (s_alloc): a byte copy
// of it is the whole mutable state of the batch.
size_t xt_asset_env_state_bytes(const xt_asset_env *e) { return e->block_bytes; }
void xt_asset_env_snapshot(const xt_asset_env *e, void *dst) { memcpy(dst, e->block, e->block_bytes); }
void xt_asset_env_restore(xt_asset_env *e, const void *src) { memcpy(e->block, src, e->block_bytes); }
