// risk.c - exact constraint projection, the rebalance rules around it,
// stop-loss/take-profit checks and rolling-correlation clusters.
//
// Invariants (tested in tests/unit/test_portfolio_env.c): the executed
// weights of free assets lie in [0, cap], every correlated cluster's sum is
// within its cap, cash >= min_cash whenever the frozen weights leave room for
// it, frozen weights are returned bit-for-bit and the weights sum to 1 up to
// double rounding. Stack memory only (n <= XT_ENV_MAX_ASSETS); no allocation
// except in xt_risk_corr_clusters (init time). Pure functions; any thread.
#include "risk.h"

#include "envparams.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- the water-filling problem

// Free assets of one projection: desired weight v, cap, cluster id (-1 = none).
typedef struct {
    int na;
    int idx[XT_ENV_MAX_ASSETS];
    double v[XT_ENV_MAX_ASSETS], cap[XT_ENV_MAX_ASSETS];
    int cid[XT_ENV_MAX_ASSETS];
    int nc;
    double ccap[XT_ENV_MAX_ASSETS]; // cluster cap left for the free members
    double vc;                      // cash's desired weight
} s_prob;

// G(s) = sum_C min(ccap_C, sum_{a in C} min(cap_a, s v_a)) [+ s vc] and its right derivative.
// only >= 0 restricts to the members of cluster `only` without its cap.
static void s_eval(const s_prob *P, double s, int cash, int only, double *val, double *slope) {
    double cs[XT_ENV_MAX_ASSETS], csl[XT_ENV_MAX_ASSETS];
    double g = 0.0, sl = 0.0;
    for (int c = 0; c < P->nc; c++) cs[c] = csl[c] = 0.0;
    for (int i = 0; i < P->na; i++) {
        int c = P->cid[i];
        if (only >= 0 && c != only) continue;
        double x = s * P->v[i], add = x, dsl = P->v[i];
        if (x >= P->cap[i]) add = P->cap[i], dsl = 0.0; // capped: flat to the right
        if (c < 0 || only >= 0) g += add, sl += dsl;
        else cs[c] += add, csl[c] += dsl;
    }
    if (only < 0)
        for (int c = 0; c < P->nc; c++) {
            if (cs[c] >= P->ccap[c]) g += P->ccap[c]; // cluster cap binds: flat
            else g += cs[c], sl += csl[c];
        }
    if (cash) g += s * P->vc, sl += P->vc;
    *val = g;
    *slope = sl;
}

// Smallest s with G(s) = T (or the largest reachable when G tops out below T).
// G is concave and piecewise linear, so Newton from s = 0 with the right
// derivative never overshoots and is exact once on the root's piece.
static double s_newton(const s_prob *P, double T, int cash, int only) {
    double s = 0.0;
    for (int it = 0; it < 4 * XT_ENV_MAX_ASSETS + 8; it++) {
        double g, sl;
        s_eval(P, s, cash, only, &g, &sl);
        double gap = T - g;
        if (!(gap > 0.0) || !(sl > 0.0)) break;
        double ns = s + gap / sl;
        if (!(ns > s)) break;
        s = ns;
    }
    return s;
}

// Asset weights at scale s, with the inner scale of clusters whose cap binds; returns their sum.
static double s_weights(const s_prob *P, double s, double *x) {
    double cs[XT_ENV_MAX_ASSETS], tot = 0.0;
    for (int c = 0; c < P->nc; c++) cs[c] = 0.0;
    for (int i = 0; i < P->na; i++) {
        x[i] = fmin(P->cap[i], s * P->v[i]);
        if (P->cid[i] >= 0) cs[P->cid[i]] += x[i];
    }
    for (int c = 0; c < P->nc; c++) {
        if (!(cs[c] > P->ccap[c])) continue;
        double sc = s_newton(P, P->ccap[c], 0, c); // members share the cluster cap
        for (int i = 0; i < P->na; i++)
            if (P->cid[i] == c) x[i] = fmin(P->cap[i], sc * P->v[i]);
    }
    for (int i = 0; i < P->na; i++) tot += x[i];
    return tot;
}

// ---- projection

void xt_risk_project(double *w, const double *v, const double *cur, unsigned free, const uint8_t *cluster,
                     const xt_risk_limits *lim) {
    int n = lim->n;
    s_prob P;
    P.na = P.nc = 0;
    double frozen = 0.0;
    // Cluster labels are asset indices (< n).
    int label_cnt[XT_ENV_MAX_ASSETS], label_cid[XT_ENV_MAX_ASSETS];
    double label_frozen[XT_ENV_MAX_ASSETS];
    for (int a = 0; a < n; a++) label_cnt[a] = 0, label_cid[a] = -1, label_frozen[a] = 0.0;
    if (cluster)
        for (int a = 0; a < n; a++) label_cnt[cluster[a]]++;
    // Frozen assets keep their weight (and use up their cluster's cap).
    for (int a = 0; a < n; a++) {
        if (free >> a & 1u) continue;
        w[a] = cur[a];
        frozen += cur[a];
        if (cluster) label_frozen[cluster[a]] += cur[a];
    }
    for (int a = 0; a < n; a++) {
        if (!(free >> a & 1u)) continue;
        int i = P.na++;
        P.idx[i] = a;
        P.v[i] = v[a] > 0.0 ? v[a] : 0.0;
        P.cap[i] = lim->cap[a];
        P.cid[i] = -1;
        if (cluster && label_cnt[cluster[a]] >= 2) {
            int l = cluster[a];
            if (label_cid[l] < 0) {
                label_cid[l] = P.nc;
                double left = lim->cluster_cap - label_frozen[l];
                P.ccap[P.nc++] = left > 0.0 ? left : 0.0;
            }
            P.cid[i] = label_cid[l];
        }
    }
    P.vc = v[n] > 0.0 ? v[n] : 0.0;
    double B = 1.0 - frozen, m = lim->min_cash, x[XT_ENV_MAX_ASSETS];
    double cash = B;
    if (B > m) {
        // Phase 1: cash scales like everything else.
        double tot = s_weights(&P, s_newton(&P, B, 1, -1), x);
        cash = B - tot;
        // Phase 2: the floor binds; assets share B - min_cash.
        if (cash < m) {
            tot = s_weights(&P, s_newton(&P, B - m, 0, -1), x);
            cash = B - tot;
        }
    } else {
        for (int i = 0; i < P.na; i++) x[i] = 0.0; // no room above the cash floor
    }
    for (int i = 0; i < P.na; i++) w[P.idx[i]] = x[i];
    w[n] = cash;
}

// ---- rebalance

// Zeroes the smallest free wants until at most `allowed` free assets remain (ties: higher index dropped).
static void s_keep_largest(double *v, int n, unsigned free, int allowed) {
    int cnt = 0;
    for (int a = 0; a < n; a++) cnt += (free >> a & 1u) && v[a] > 0.0;
    for (; cnt > allowed; cnt--) {
        int lo = -1;
        for (int a = 0; a < n; a++)
            if ((free >> a & 1u) && v[a] > 0.0 && (lo < 0 || v[a] <= v[lo])) lo = a;
        v[lo] = 0.0;
    }
}

// Min-trade rule (step 5 in risk.h); w holds the projected targets.
static void s_skip_small(double *w, const double *cur, unsigned free, const uint8_t *cluster, double equity,
                         const xt_risk_limits *L) {
    int n = L->n;
    double thr = L->min_trade / equity, cash = w[n];
    for (int a = 0; a < n; a++) {
        double d = w[a] - cur[a];
        if ((free >> a & 1u) && d > 0.0 && d < thr) w[a] = cur[a], cash += d; // buys: always safe to skip
    }
    int count = 0, lcnt[XT_ENV_MAX_ASSETS];
    double csum[XT_ENV_MAX_ASSETS];
    for (int a = 0; a < n; a++) lcnt[a] = 0, csum[a] = 0.0;
    for (int a = 0; a < n; a++) {
        count += w[a] > 0.0;
        if (cluster) lcnt[cluster[a]]++, csum[cluster[a]] += w[a];
    }
    for (int a = 0; a < n; a++) {
        double d = w[a] - cur[a];
        if (!(free >> a & 1u) || !(d < 0.0) || !(-d < thr)) continue;
        int opens = w[a] == 0.0 && cur[a] > 0.0; // skipping keeps a position the target closed
        int ok = cur[a] <= L->cap[a] && cash + d >= L->min_cash;
        if (opens && L->max_positions > 0 && count + 1 > L->max_positions) ok = 0;
        if (cluster && lcnt[cluster[a]] >= 2 && csum[cluster[a]] - d > L->cluster_cap) ok = 0;
        if (!ok) continue;
        count += opens;
        if (cluster) csum[cluster[a]] -= d;
        cash += d;
        w[a] = cur[a];
    }
    w[n] = cash;
}

void xt_risk_rebalance(double *w, const double *cur, const double *want, unsigned free, const uint8_t *cluster,
                       double equity, const xt_risk_limits *lim) {
    int n = lim->n, held_frozen = 0;
    double v[XT_ENV_MAX_ASSETS + 1], z = 0.0, frozen = 0.0;
    for (int a = 0; a < n; a++) {
        int f = free >> a & 1u;
        v[a] = f && want[a] > 0.0 ? want[a] : 0.0;
        z += v[a];
        if (!f) frozen += cur[a], held_frozen += cur[a] > 0.0;
    }
    v[n] = want[n] > 0.0 ? want[n] : 0.0;
    z += v[n];
    if (!(z > 0.0 && isfinite(z))) { // nothing (or garbage) wanted: all free budget to cash
        for (int a = 0; a < n; a++) v[a] = 0.0;
        v[n] = 1.0, z = 1.0;
    }
    // Scale to the free budget B = 1 - frozen (the masked softmax's definition).
    double scale = (1.0 - frozen) / z;
    for (int i = 0; i <= n; i++) v[i] *= scale;
    if (lim->max_positions > 0) {
        int allowed = lim->max_positions - held_frozen;
        s_keep_largest(v, n, free, allowed > 0 ? allowed : 0);
    }
    xt_risk_project(w, v, cur, free, cluster, lim);
    // Dust: targets worth less than min_position are closed to cash.
    for (int a = 0; a < n; a++)
        if ((free >> a & 1u) && w[a] > 0.0 && w[a] * equity < lim->min_position) w[n] += w[a], w[a] = 0.0;
    if (lim->min_trade > 0.0 && equity > 0.0) s_skip_small(w, cur, free, cluster, equity, lim);
}

// ---- stops

int xt_risk_stop_check(int dir, double stop, double tp, double o, double h, double l, double *px) {
    if (dir > 0) {
        if (o <= stop) return *px = o, XT_ENV_REASON_STOP_LOSS;
        if (o >= tp) return *px = o, XT_ENV_REASON_TAKE_PROFIT;
        if (l <= stop) return *px = stop, XT_ENV_REASON_STOP_LOSS;
        if (h >= tp) return *px = tp, XT_ENV_REASON_TAKE_PROFIT;
    } else if (dir < 0) {
        if (o >= stop) return *px = o, XT_ENV_REASON_STOP_LOSS;
        if (o <= tp) return *px = o, XT_ENV_REASON_TAKE_PROFIT;
        if (h >= stop) return *px = stop, XT_ENV_REASON_STOP_LOSS;
        if (l <= tp) return *px = tp, XT_ENV_REASON_TAKE_PROFIT;
    }
    return XT_ENV_REASON_NONE;
}

// ---- correlation clusters

static int s_find(int *parent, int j) {
    while (parent[j] != j) j = parent[j];
    return j;
}

int xt_risk_corr_clusters(uint8_t *labels, uint8_t *clustered, const xt_env_market *m, const int *assets, int k,
                          int64_t row0, int64_t nrows, int window, double limit) {
    // Returns of rows [q0, q1): ret[j][q - q0] = close[q] / close[q-1] - 1.
    int64_t q0 = row0 - window + 1 > 1 ? row0 - window + 1 : 1, q1 = row0 + nrows, nq = q1 - q0;
    // One block: the returns [k][nq], then the centred window [k][window].
    double *ret = malloc(((size_t)(nq > 0 ? nq : 0) + (size_t)window) * (size_t)k * sizeof(double));
    if (!ret) return XT_ENOMEM;
    double *dev = ret + (size_t)(nq > 0 ? nq : 0) * (size_t)k, ss[XT_ENV_MAX_ASSETS];
    for (int j = 0; j < k; j++) {
        const double *c = m->close[assets[j]];
        for (int64_t q = q0; q < q1; q++) {
            double r = c[q] / c[q - 1] - 1.0;
            ret[(size_t)j * (size_t)nq + (size_t)(q - q0)] = isfinite(r) ? r : 0.0;
        }
    }
    for (int64_t r = 0; r < nrows; r++) {
        int64_t t = row0 + r, lo = t - window + 1 > q0 ? t - window + 1 : q0;
        int cnt = (int)(t - lo + 1);
        int parent[XT_ENV_MAX_ASSETS];
        for (int j = 0; j < k; j++) parent[j] = j;
        if (cnt >= 3) {
            // Centred returns of the window ending at row t (inclusive: known at its close).
            for (int j = 0; j < k; j++) {
                const double *x = ret + (size_t)j * (size_t)nq + (size_t)(lo - q0);
                double mean = 0.0;
                for (int i = 0; i < cnt; i++) mean += x[i];
                mean /= cnt;
                ss[j] = 0.0;
                double *d = dev + (size_t)j * (size_t)window;
                for (int i = 0; i < cnt; i++) d[i] = x[i] - mean, ss[j] += d[i] * d[i];
            }
            for (int j = 0; j < k; j++)
                for (int l = j + 1; l < k; l++) {
                    if (!(ss[j] > 0.0 && ss[l] > 0.0)) continue;
                    double cov = 0.0;
                    const double *dj = dev + (size_t)j * (size_t)window, *dl = dev + (size_t)l * (size_t)window;
                    for (int i = 0; i < cnt; i++) cov += dj[i] * dl[i];
                    if (cov / sqrt(ss[j] * ss[l]) <= limit) continue;
                    int a = s_find(parent, j), b = s_find(parent, l);
                    if (a < b) parent[b] = a;
                    else if (b < a) parent[a] = b;
                }
        }
        int any = 0;
        for (int j = 0; j < k; j++) {
            int root = s_find(parent, j);
            labels[(size_t)r * (size_t)k + (size_t)j] = (uint8_t)root;
            any |= root != j;
        }
        clustered[r] = (uint8_t)any;
    }
    free(ret);
    return 0;
}
