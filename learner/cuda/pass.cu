// pass.cu - one pass of the network over packed rows: planning on the host,
// gathering, forward (cuDNN LSTM stacks, dense layers, heads), the PPO loss
// and the backward, for loss_grad, evaluate and infer.
//
// Purpose: the CUDA twin of backend_cpu.c's loss_grad / evaluate / infer
// and of model_impl.inc's forward and backward. A pass's chunks are split
// at episode resets into sequences (segplan.h); every layer runs on the
// packed rows of that plan, and only the outputs that leave the device are
// put back into the caller's layout. Invariants: the plan, the pass data
// upload and the cuDNN descriptors of a loss_grad stay unchanged from its
// forward to its backward; the gradient slab is zeroed before each
// loss_grad. Ownership: every buffer is the backend's (backend_cuda.cu).
// Threads: the backend's driving thread and stream.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/backend_cuda_impl.h"
#include "cuda/dense.h"
#include "cuda/gather.h"
#include "cuda/heads.h"
#include "cuda/loss.h"

// ---- pass data

// Per-pass data uploaded in one copy (NULL when the pass does not use it).
typedef struct {
    int32_t *rows;      // [N] sample of each packed row: c * stride + t
    int32_t *seq_len;   // [nseg] (devSeqLengths)
    int32_t *seg_src;   // [nseg] state source column (store chunk / env) or -1
    int32_t *row_of;    // [n * T] packed row of (b, t) (embedding gradient)
    int32_t *sym_ids, *sym_ptr, *sym_chunks; // embedding CSR: symbols, offsets, chunks
    float *adv, *ret, *oldv; // [N] loss inputs in packed order
    float *obs;         // infer: [B, D]
    int32_t *sym;       // infer: [B]
    float *h, *c;       // infer: [2][L][B][H]
} s_meta;

typedef struct {
    int N, nseg, n, Ts, nu, train, infer_B, emb, vclip;
} s_meta_shape;

static size_t s_meta_plan(s_meta *m, char *base, const s_meta_shape *sh,
                          const xt_model_layout *lay) {
    const size_t N = (size_t)sh->N, ns = (size_t)sh->nseg, B = (size_t)sh->infer_B;
    xt_cuda_arena a = {base, 0};
    memset(m, 0, sizeof *m);
    m->rows = (int32_t *)xt_cuda_take(&a, N * 4);
    m->seq_len = (int32_t *)xt_cuda_take(&a, ns * 4);
    m->seg_src = (int32_t *)xt_cuda_take(&a, ns * 4);
    if (sh->train) {
        m->adv = (float *)xt_cuda_take(&a, N * 4);
        m->ret = (float *)xt_cuda_take(&a, N * 4);
        if (sh->vclip) m->oldv = (float *)xt_cuda_take(&a, N * 4);
        if (sh->emb) {
            m->row_of = (int32_t *)xt_cuda_take(&a, (size_t)sh->n * sh->Ts * 4);
            m->sym_ids = (int32_t *)xt_cuda_take(&a, (size_t)sh->nu * 4);
            m->sym_ptr = (int32_t *)xt_cuda_take(&a, ((size_t)sh->nu + 1) * 4);
            m->sym_chunks = (int32_t *)xt_cuda_take(&a, (size_t)sh->n * 4);
        }
    }
    if (B) {
        const size_t S = (size_t)lay->state_size;
        m->obs = (float *)xt_cuda_take(&a, B * lay->spec.obs_dim * 4);
        m->sym = (int32_t *)xt_cuda_take(&a, B * 4);
        m->h = (float *)xt_cuda_take(&a, S * B * 4);
        m->c = (float *)xt_cuda_take(&a, S * B * 4);
    }
    return a.off;
}

size_t xt_cuda_pass_meta_cap(const xt_cuda_be *self, int cols) {
    s_meta m;
    s_meta_shape big = {self->R, self->R, cols, self->Tm, cols, 1, self->base.cfg.max_infer,
                        self->E > 0, 1};
    return s_meta_plan(&m, NULL, &big, &self->base.lay);
}

// Device pointer of the same field: host staging and device mirror share offsets.
#define S_DEV(self, hp, dbase, hbase) \
    ((hp) ? (__typeof__(hp))((char *)(dbase) + ((char *)(hp) - (char *)(hbase))) : NULL)

static float s_ev_s(const xt_cuda_be *self, int a, int b) {
    float ms = 0;
    cudaEventElapsedTime(&ms, self->ev[a], self->ev[b]);
    return ms * 1e-3f;
}

static int s_check_chunks(const xt_cuda_be *self, const int *chunks, int n, xt_err *err) {
    if (!self->have_batch)
        return xt_err_set(err, XT_ESTATE, "cuda backend: no batch set (call set_batch first)");
    for (int b = 0; b < n; b++)
        if (chunks[b] < 0 || chunks[b] >= self->batch.C)
            return xt_err_set(err, XT_EINVAL,
                              "cuda backend: minibatch entry %d is chunk %d, outside [0, %d)", b,
                              chunks[b], self->batch.C);
    return 0;
}

// ---- planning a pass

// Resets of chunks[0..n) over Ts steps (Ts = T + 1 for evaluate: step T
// starts fresh where step T-1 ended the episode) and the segment plan.
static void s_plan_chunks(xt_cuda_be *self, const int *chunks, int n, int Ts) {
    const xt_cuda_store *h = &self->hs;
    const size_t T = (size_t)self->batch.T;
    for (int b = 0; b < n; b++) {
        const size_t c = (size_t)chunks[b];
        uint8_t *r = self->resets + (size_t)b * Ts;
        memcpy(r, h->starts + c * T, T);
        if ((size_t)Ts > T) r[T] = h->term[c * T + T - 1] || (h->trunc && h->trunc[c * T + T - 1]);
    }
    xt_segplan_build(&self->plan, self->resets, n, Ts, self->batch.h0 != NULL);
    if (self->plan.nseg > self->stg.max_segments) self->stg.max_segments = self->plan.nseg;
}

// The pass data every batch pass shares: the sample of each packed row,
// sequence lengths, and each sequence's state source (its chunk or -1).
static void s_fill_chunks(const xt_cuda_be *self, s_meta *m, const int *chunks, int n, int Ts) {
    const xt_segplan *p = &self->plan;
    for (int b = 0; b < n; b++)
        for (int t = 0; t < Ts; t++)
            m->rows[p->row_of[b * Ts + t]] = chunks[b] * (self->batch.T + 1) + t;
    for (int j = 0; j < p->nseg; j++) {
        m->seq_len[j] = p->seq_len[j];
        m->seg_src[j] = p->seg_init[j] ? chunks[p->seg_col[j]] : -1;
    }
}

static int s_pair_cmp(const void *a, const void *b) {
    const int32_t *x = (const int32_t *)a, *y = (const int32_t *)b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

// Distinct symbols of the minibatch and their chunks (CSR), for the
// embedding gradient. Returns the number of distinct symbols.
static int s_sym_count(xt_cuda_be *self, const int *chunks, int n) {
    for (int b = 0; b < n; b++) {
        self->pairs[2 * b] = self->hs.sym[chunks[b]];
        self->pairs[2 * b + 1] = b;
    }
    qsort(self->pairs, (size_t)n, 2 * sizeof(int32_t), s_pair_cmp);
    int nu = 0;
    for (int b = 0; b < n; b++) nu += b == 0 || self->pairs[2 * b] != self->pairs[2 * b - 2];
    return nu;
}

static void s_sym_fill(const xt_cuda_be *self, s_meta *m, int n) {
    int u = -1;
    for (int b = 0; b < n; b++) {
        if (b == 0 || self->pairs[2 * b] != self->pairs[2 * b - 2]) {
            u++;
            m->sym_ids[u] = self->pairs[2 * b];
            m->sym_ptr[u] = b;
        }
        m->sym_chunks[b] = self->pairs[2 * b + 1];
    }
    m->sym_ptr[u + 1] = n;
}

// The pass data in device terms.
static s_meta s_meta_dev(const xt_cuda_be *self, const s_meta *m) {
    s_meta d;
#define S_D(f) d.f = S_DEV(self, m->f, self->dmeta, self->hmeta)
    S_D(rows), S_D(seq_len), S_D(seg_src), S_D(row_of), S_D(sym_ids), S_D(sym_ptr);
    S_D(sym_chunks), S_D(adv), S_D(ret), S_D(oldv), S_D(obs), S_D(sym), S_D(h), S_D(c);
#undef S_D
    return d;
}

// ---- the network on packed rows

typedef struct {
    int N, nets, train;
    const s_meta *dm;              // device pass data
    const float *h_src, *c_src;    // state source (NULL: none)
    size_t col_stride, layer_stride, net_stride;
    float *hy, *cy;                // final states [2][L][B][H] (infer) or NULL
    int events;                    // record the loss_grad stage events
} s_pass;

static int s_trunks(const xt_cuda_be *self, int nets) {
    int t = ((nets & XT_NET_ACTOR) || self->shared) ? 1 : 0;
    if ((nets & XT_NET_CRITIC) && !self->shared) t |= 2;
    return t;
}

// Output of trunk n: last dense, last LSTM, or the input.
static float *s_trunk_out(const xt_cuda_be *self, int n) {
    if (self->M) return self->fc[n][self->M - 1];
    if (self->L) return self->y[n];
    return self->x0;
}

static const float *s_w(const xt_cuda_be *self, int id) { return self->P + self->base.lay.off[id]; }
static float *s_g(const xt_cuda_be *self, int id) { return self->Gr + self->base.lay.off[id]; }

// x0 (gathered) -> LSTM stacks -> dense ReLU layers -> heads of `nets`.
static int s_forward(xt_cuda_be *self, const s_pass *ps, xt_err *err) {
    const xt_model_layout *lay = &self->base.lay;
    const int trunks = s_trunks(self, ps->nets), N = ps->N, tf = self->cc.tf32;
    int rc = 0;
    for (int n = 0; n < 2 && self->L; n++) {
        if (!(trunks & (1 << n))) continue;
        rc = xt_cuda_gather_state(self->hx[n], self->cx[n], ps->h_src, ps->c_src,
                                  ps->dm->seg_src, self->plan.nseg, self->L, self->H,
                                  (size_t)n * ps->net_stride, ps->col_stride, ps->layer_stride,
                                  self->st, err);
        if (!rc)
            rc = xt_cuda_rnn_forward(self->rnn, ps->train, ps->dm->seq_len, self->x0, self->y[n],
                                     self->hx[n], self->cx[n],
                                     ps->hy ? ps->hy + (size_t)n * ps->net_stride : NULL,
                                     ps->cy ? ps->cy + (size_t)n * ps->net_stride : NULL,
                                     self->wsp[n], self->work, self->res[n], err);
        if (rc) return rc;
    }
    if (ps->events) XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_LSTM_F], self->st));
    for (int n = 0; n < 2; n++) {
        if (!(trunks & (1 << n))) continue;
        const float *h = self->L ? self->y[n] : self->x0;
        for (int k = 0; k < self->M && !rc; k++) {
            const int *id = lay->fc[n][k];
            rc = xt_cuda_dense_forward(self->blas, self->fc[n][k], h, s_w(self, id[0]),
                                       s_w(self, id[1]), 1, N, lay->dims.fi[n][k],
                                       lay->dims.fo[n][k], tf, self->st, err);
            h = self->fc[n][k];
        }
        if (rc) return rc;
    }
    for (int n = 0; n < 2; n++) {
        if (!(ps->nets & (1 << n))) continue;
        const int *id = lay->head[n];
        rc = xt_cuda_dense_forward(self->blas, self->head[n],
                                   s_trunk_out(self, n == 1 && self->shared ? 0 : n),
                                   s_w(self, id[0]), s_w(self, id[1]), 0, N, lay->dims.hi[n],
                                   lay->dims.ho[n], tf, self->st, err);
        if (rc) return rc;
    }
    if (ps->events) XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_MLP_F], self->st));
    return 0;
}

// dbuf[0] = gradient of trunk n's output -> parameter gradients (+=); the
// gradient of the layer-0 input is left in *dx (NULL without an embedding).
static int s_trunk_backward(xt_cuda_be *self, const s_pass *ps, int n, float **dx, xt_err *err) {
    const xt_model_layout *lay = &self->base.lay;
    const int N = ps->N, L = self->L, emb = self->E > 0, tf = self->cc.tf32;
    float *cur = self->dbuf[0], *other = self->dbuf[1];
    int rc = 0;
    for (int k = self->M - 1; k >= 0; k--) {
        const int *id = lay->fc[n][k];
        const int fi = lay->dims.fi[n][k], fo = lay->dims.fo[n][k];
        const float *in_k = k ? self->fc[n][k - 1] : (L ? self->y[n] : self->x0);
        float *din = (k || L) ? other : (emb ? self->dx0 : NULL);
        rc = xt_cuda_relu_backward(cur, self->fc[n][k], (size_t)N * fo, self->st, err);
        if (!rc)
            rc = xt_cuda_dense_backward(self->blas, din, s_g(self, id[0]), s_g(self, id[1]), cur,
                                        in_k, s_w(self, id[0]), self->ones, N, fi, fo, tf, err);
        if (rc) return rc;
        float *tmp = cur;
        cur = other;
        other = tmp;
    }
    *dx = NULL;
    if (L) {
        // cuDNN: dy = gradient of the top layer's output -> dx0, weight-space grads
        XT_CUDA_CHECK(err, cudaEventRecord(self->ev[n ? E_LB1A : E_LB0A], self->st));
        XT_CUDA_CHECK(err, cudaMemsetAsync(self->dwsp[n], 0, self->nw * 4, self->st));
        rc = xt_cuda_rnn_backward(self->rnn, ps->dm->seq_len, self->x0, self->y[n], cur,
                                  self->dx0, self->hx[n], self->cx[n], self->wsp[n],
                                  self->dwsp[n], self->work, self->res[n], err);
        if (!rc)
            rc = xt_cuda_map_unpack_add(self->Gr, self->dwsp[n], self->wmap[n], self->nw,
                                        self->st, err);
        if (rc) return rc;
        XT_CUDA_CHECK(err, cudaEventRecord(self->ev[n ? E_LB1B : E_LB0B], self->st));
        if (emb) *dx = self->dx0;
    } else if (emb) {
        *dx = self->M ? self->dx0 : cur;
    }
    return 0;
}

// Heads -> trunks -> embedding, the model backward of nn/model_impl.inc
// (dact [N, A] and dval [N] already computed).
static int s_backward(xt_cuda_be *self, const s_pass *ps, const s_meta *dm, int n_chunks, int nu,
                      xt_err *err) {
    const xt_model_layout *lay = &self->base.lay;
    const int N = ps->N, tf = self->cc.tf32;
    int rc = 0;
    if (self->gauss)
        rc = xt_cuda_add(s_g(self, XT_T_actor_log_std), self->dls, (size_t)self->A, self->st, err);
    for (int n = 0; n < 2 && !rc; n++) {
        const float *dy = n == 0 ? self->dact : self->dval;
        const int tn = n == 1 && self->shared ? 0 : n; // trunk the head reads
        const int both = tn == 0 && n == 1;            // second head on the shared trunk
        const int *id = lay->head[n];
        float *din = both ? self->dcrit : self->dbuf[0];
        rc = xt_cuda_dense_backward(self->blas, din, s_g(self, id[0]), s_g(self, id[1]), dy,
                                    s_trunk_out(self, tn), s_w(self, id[0]), self->ones, N,
                                    lay->dims.hi[n], lay->dims.ho[n], tf, err);
        if (!rc && both)
            rc = xt_cuda_add(self->dbuf[0], self->dcrit, (size_t)N * lay->dims.hi[n], self->st,
                             err);
        if (rc || (n == 0 && self->shared)) continue; // the shared trunk runs once, after both heads
        float *dx = NULL;
        rc = s_trunk_backward(self, ps, tn, &dx, err);
        if (!rc && dx)
            rc = xt_cuda_emb_backward(s_g(self, XT_T_sym_emb), self->dxc, dx, dm->row_of,
                                      dm->sym_ids, dm->sym_ptr, dm->sym_chunks, n_chunks, nu,
                                      self->base.cfg.T, self->D, self->E, self->st, err);
    }
    return rc;
}

// ---- evaluate, loss_grad, infer

int xt_cuda_pass_evaluate(xt_cuda_be *self, float *values, xt_err *err) {
    const xt_backend *b = &self->base;
    if (!self->have_batch)
        return xt_err_set(err, XT_ESTATE, "cuda backend: no batch set (call set_batch first)");
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    double t0 = xt_cuda_now();
    const int C = self->batch.C, Tm = self->Tm, G = self->G;
    self->last_train = 0;
    for (int c0 = 0; c0 < C; c0 += G) {
        const int n = C - c0 < G ? C - c0 : G;
        for (int k = 0; k < n; k++) self->idx[k] = c0 + k;
        s_plan_chunks(self, self->idx, n, Tm);
        s_meta_shape sh = {n * Tm, self->plan.nseg, n, Tm, 0, 0, 0, 0, 0};
        s_meta m;
        const size_t bytes = s_meta_plan(&m, self->hmeta, &sh, &b->lay);
        s_fill_chunks(self, &m, self->idx, n, Tm);
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->dmeta, self->hmeta, bytes,
                                           cudaMemcpyHostToDevice, self->st));
        const s_meta dm = s_meta_dev(self, &m);
        const int N = n * Tm;
        rc = xt_cuda_gather_x0(self->x0, self->ds.obs, self->ds.sym, s_w(self, XT_T_sym_emb),
                               dm.rows, N, self->D, self->E, Tm, self->st, err);
        if (!rc && self->rnn)
            rc = xt_cuda_rnn_plan(self->rnn, self->plan.nseg, self->plan.seq_len, 0, err);
        s_pass ps = {N, XT_NET_CRITIC, 0, &dm, self->ds.h0, self->ds.c0,
                     (size_t)b->lay.state_size, (size_t)self->H,
                     (size_t)self->L * self->H, NULL, NULL, 0};
        if (!rc) rc = s_forward(self, &ps, err);
        if (rc) return xt_err_prefix(err, "cuda backend evaluate");
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_vals, self->head[1], (size_t)N * 4,
                                           cudaMemcpyDeviceToHost, self->st));
        XT_CUDA_CHECK(err, cudaStreamSynchronize(self->st));
        // packed row p holds sample rows[p] = c * (T + 1) + t: the output layout
        for (int p = 0; p < N; p++) values[m.rows[p]] = self->h_vals[p];
    }
    self->tm.evaluate += xt_cuda_now() - t0;
    return 0;
}

// Host statistics from the device sums (nn/ppo_loss_impl.inc's means).
static void s_stats(const double *sc, const xt_loss_coefs *coefs, xt_ppo_stats *st) {
    memset(st, 0, sizeof *st);
    const double n = sc[XT_CL_N];
    st->n_valid = (int)n;
    if (n <= 0) return;
    st->policy_loss = sc[XT_CL_PL] / n;
    st->value_loss = sc[XT_CL_VL] / n;
    st->entropy = sc[XT_CL_ENT] / n;
    st->approx_kl = sc[XT_CL_KL] / n;
    st->clip_fraction = sc[XT_CL_CLIPPED] / n;
    st->loss = st->policy_loss + coefs->hp.vf_coef * st->value_loss -
               coefs->hp.ent_coef * st->entropy;
    if (sc[XT_CL_NONFINITE] > 0) st->loss = NAN;
}

static int s_loss_grad(xt_cuda_be *self, const int *chunks, int n, const float *adv,
                       const float *ret, const float *values, const xt_loss_coefs *coefs,
                       xt_ppo_stats *stats, xt_err *err) {
    const xt_backend *b = &self->base;
    const double t0 = xt_cuda_now();
    const int T = self->batch.T, N = n * T, A = self->A, vclip = coefs->hp.vf_clip > 0;
    // host: segments, packed rows, this minibatch's advantages and returns
    s_plan_chunks(self, chunks, n, T);
    const int nu = self->E ? s_sym_count(self, chunks, n) : 0;
    s_meta_shape sh = {N, self->plan.nseg, n, T, nu, 1, 0, self->E > 0, vclip};
    s_meta m;
    const size_t bytes = s_meta_plan(&m, self->hmeta, &sh, &b->lay);
    s_fill_chunks(self, &m, chunks, n, T);
    for (int k = 0; k < n; k++)
        for (int t = 0; t < T; t++) {
            const int p = self->plan.row_of[k * T + t];
            const size_t c = (size_t)chunks[k];
            m.adv[p] = adv[c * T + t];
            m.ret[p] = ret[c * T + t];
            if (vclip) m.oldv[p] = values[c * (T + 1) + t];
        }
    if (self->E) {
        memcpy(m.row_of, self->plan.row_of, (size_t)N * sizeof(int32_t));
        s_sym_fill(self, &m, n);
    }
    self->stg.plan += xt_cuda_now() - t0;
    // one copy up; the minibatch is assembled from the store on the device
    cudaStream_t st = self->st;
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_START], st));
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->dmeta, self->hmeta, bytes, cudaMemcpyHostToDevice, st));
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_H2D], st));
    const s_meta dm = s_meta_dev(self, &m);
    XT_CUDA_CHECK(err, cudaMemsetAsync(self->Gr, 0, self->n * 4, st));
    int rc = xt_cuda_gather_x0(self->x0, self->ds.obs, self->ds.sym, s_w(self, XT_T_sym_emb),
                               dm.rows, N, self->D, self->E, T + 1, st, err);
    const uint8_t *mk = self->ds.masks ? self->masks : NULL, *va = self->ds.valid ? self->valid : NULL;
    xt_cuda_train_gather g = {N, T, A, dm.rows, self->ds.act, self->ds.act_i, self->ds.masks,
                              self->ds.logp, self->ds.valid, self->ds.act ? self->act : NULL,
                              self->ds.act_i ? self->act_i : NULL, (uint8_t *)mk,
                              self->old_logp, (uint8_t *)va};
    if (!rc) rc = xt_cuda_gather_train(&g, st, err);
    if (rc) return rc;
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_GATHER], st));
    // forward: network, head log-probs and entropies, loss and its gradients
    if (self->rnn && (rc = xt_cuda_rnn_plan(self->rnn, self->plan.nseg, self->plan.seq_len, 1, err)))
        return rc;
    s_pass ps = {N, XT_NET_BOTH, 1, &dm, self->ds.h0, self->ds.c0, (size_t)b->lay.state_size,
                 (size_t)self->H, (size_t)self->L * self->H, NULL, NULL, 1};
    if ((rc = s_forward(self, &ps, err))) return rc;
    const float *out = self->head[0], *log_std = s_w(self, XT_T_actor_log_std);
    const float lmin = b->cfg.ls_min, lmax = b->cfg.ls_max;
    rc = self->gauss ? xt_cuda_gauss_forward(self->logp, self->ent, out, log_std, self->act, mk,
                                             lmin, lmax, N, A, st, err)
                     : xt_cuda_cat_forward(self->logp, self->ent, self->probs, out, mk,
                                           self->act_i, N, A, st, err);
    xt_cuda_ppo_args la = {N, self->logp, self->ent, self->head[1], self->old_logp, dm.adv,
                           dm.ret, vclip ? dm.oldv : NULL, va, self->dlogp, self->dent,
                           self->dval, self->part, self->scal, coefs->normalize_adv,
                           coefs->hp.clip_eps, coefs->hp.vf_coef, coefs->hp.ent_coef,
                           coefs->hp.vf_clip};
    if (!rc) rc = xt_cuda_loss_ppo(&la, st, err);
    if (rc) return rc;
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_LOSS], st));
    // backward: loss -> heads -> network
    rc = self->gauss ? xt_cuda_gauss_backward(self->dact, self->dls, self->dls_rows, self->dlogp,
                                              self->dent, out, log_std, self->act, mk, lmin, lmax,
                                              N, A, st, err)
                     : xt_cuda_cat_backward(self->dact, self->dlogp, self->dent, self->probs,
                                            self->act_i, N, A, st, err);
    if (!rc) rc = s_backward(self, &ps, &dm, n, nu, err);
    if (rc) return rc;
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_BWD], st));
    // several GPUs: mean gradient, summed statistics (the same on every rank)
    if (self->nccl) {
        rc = xt_nccl_allreduce_mean(self->nccl, self->Gr, self->n, st, err);
        if (!rc) rc = xt_nccl_allreduce_sum_f64(self->nccl, self->scal, XT_CL_COUNT, st, err);
        if (rc) return rc;
    }
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_AR], st));
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_scal, self->scal, XT_CL_COUNT * sizeof(double),
                                       cudaMemcpyDeviceToHost, st));
    XT_CUDA_CHECK(err, cudaEventRecord(self->ev[E_END], st));
    XT_CUDA_CHECK(err, cudaEventSynchronize(self->ev[E_END]));
    s_stats(self->h_scal, coefs, stats);
    // timings: device intervals between the events; forward keeps the host planning
    const double wall = xt_cuda_now() - t0, bwd = s_ev_s(self, E_LOSS, E_END);
    double lb = 0;
    if (self->L) lb += s_ev_s(self, E_LB0A, E_LB0B);
    if (self->L && !self->shared) lb += s_ev_s(self, E_LB1A, E_LB1B);
    self->tm.forward += wall - bwd > 0 ? wall - bwd : 0;
    self->tm.backward += bwd;
    self->tm.n_loss_grad++;
    self->stg.h2d += s_ev_s(self, E_START, E_H2D);
    self->stg.gather += s_ev_s(self, E_H2D, E_GATHER);
    self->stg.lstm_fwd += s_ev_s(self, E_GATHER, E_LSTM_F);
    self->stg.mlp_fwd += s_ev_s(self, E_LSTM_F, E_MLP_F);
    self->stg.loss += s_ev_s(self, E_MLP_F, E_LOSS);
    self->stg.lstm_bwd += lb;
    self->stg.mlp_bwd += s_ev_s(self, E_LOSS, E_BWD) - lb;
    self->stg.allreduce += s_ev_s(self, E_BWD, E_AR);
    return 0;
}

int xt_cuda_pass_loss_grad(xt_cuda_be *self, const int *chunks, int n, const float *adv,
                           const float *ret, const float *values, const xt_loss_coefs *coefs,
                           xt_ppo_stats *stats, xt_err *err) {
    int rc = s_check_chunks(self, chunks, n, err);
    if (!rc) rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    self->last_train = 0;
    rc = s_loss_grad(self, chunks, n, adv, ret, values, coefs, stats, err);
    if (!rc) self->last_train = 1;
    return rc ? xt_err_prefix(err, "cuda backend loss_grad") : 0;
}

static int s_infer(xt_cuda_be *self, const float *obs, const int32_t *sym, const uint8_t *starts,
                   float *h, float *c, float *actor_out, float *value, int B, xt_err *err) {
    const xt_backend *b = &self->base;
    const int nets = (actor_out ? XT_NET_ACTOR : 0) | (value ? XT_NET_CRITIC : 0);
    const size_t S = (size_t)b->lay.state_size, D = (size_t)self->D;
    if (!nets) return xt_err_set(err, XT_EINVAL, "model infer: no output requested");
    if (self->E && !sym)
        return xt_err_set(err, XT_EINVAL,
                          "model forward: the spec has a symbol embedding but no symbol ids were "
                          "given");
    for (int k = 0; self->E && k < B; k++)
        if (sym[k] < 0 || sym[k] >= b->lay.spec.n_symbols)
            return xt_err_set(err, XT_EINVAL,
                              "model forward: symbol id %d at row %d is outside [0, %d)",
                              (int)sym[k], k, b->lay.spec.n_symbols);
    // one sequence of one step per env, from its state unless it starts an episode
    for (int k = 0; k < B; k++) self->resets[k] = starts ? starts[k] : 0;
    xt_segplan_build(&self->plan, self->resets, B, 1, S > 0);
    s_meta_shape sh = {B, B, B, 1, 0, 0, B, self->E > 0, 0};
    s_meta m;
    const size_t bytes = s_meta_plan(&m, self->hmeta, &sh, &b->lay);
    for (int k = 0; k < B; k++) {
        const xt_segplan *p = &self->plan;
        m.rows[p->row_of[k]] = k;
        m.seq_len[k] = 1;
        m.seg_src[k] = p->seg_init[k] ? p->seg_col[k] : -1;
    }
    memcpy(m.obs, obs, (size_t)B * D * 4);
    if (self->E) memcpy(m.sym, sym, (size_t)B * 4);
    if (S) {
        memcpy(m.h, h, S * B * 4);
        memcpy(m.c, c, S * B * 4);
    }
    cudaStream_t st = self->st;
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->dmeta, self->hmeta, bytes, cudaMemcpyHostToDevice, st));
    const s_meta dm = s_meta_dev(self, &m);
    int rc = xt_cuda_gather_x0(self->x0, dm.obs, dm.sym, s_w(self, XT_T_sym_emb), dm.rows, B,
                               self->D, self->E, 1, st, err);
    if (!rc && self->rnn) rc = xt_cuda_rnn_plan(self->rnn, B, self->plan.seq_len, 0, err);
    // state [2][L][B][H]: column stride H, layer stride B H, net stride L B H
    const size_t H = (size_t)self->H, L = (size_t)self->L;
    s_pass ps = {B, nets, 0, &dm, dm.h, dm.c, H, (size_t)B * H, L * B * H, self->hout,
                 self->cout, 0};
    if (!rc) rc = s_forward(self, &ps, err);
    if (rc) return rc;
    if (actor_out)
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_act, self->head[0], (size_t)B * self->A * 4,
                                           cudaMemcpyDeviceToHost, st));
    if (value)
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_vals, self->head[1], (size_t)B * 4,
                                           cudaMemcpyDeviceToHost, st));
    if (S) {
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_hout, self->hout, S * B * 4,
                                           cudaMemcpyDeviceToHost, st));
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_cout, self->cout, S * B * 4,
                                           cudaMemcpyDeviceToHost, st));
    }
    XT_CUDA_CHECK(err, cudaStreamSynchronize(st));
    if (actor_out) memcpy(actor_out, self->h_act, (size_t)B * self->A * 4);
    if (value) memcpy(value, self->h_vals, (size_t)B * 4);
    // the carried state changes only for the trunks that ran (xt_model_infer)
    const int trunks = s_trunks(self, nets);
    for (int n = 0; n < 2 && S; n++) {
        if (!(trunks & (1 << n))) continue;
        const size_t o = (size_t)n * L * B * H, len = L * B * H * 4;
        memcpy(h + o, self->h_hout + o, len);
        memcpy(c + o, self->h_cout + o, len);
    }
    return 0;
}

int xt_cuda_pass_infer(xt_cuda_be *self, const float *obs, const int32_t *sym,
                       const uint8_t *starts, float *h, float *c, float *actor_out, float *value,
                       int B, xt_err *err) {
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    const double t0 = xt_cuda_now();
    self->last_train = 0;
    rc = s_infer(self, obs, sym, starts, h, c, actor_out, value, B, err);
    if (rc) return xt_err_prefix(err, "cuda backend infer");
    self->tm.infer += xt_cuda_now() - t0;
    self->tm.n_infer++;
    return 0;
}

// ---- inspection

int xt_cuda_pass_last_samples(xt_cuda_be *self, float *logp, float *entropy, float *value,
                              xt_err *err) {
    if (!self->last_train)
        return xt_err_set(err, XT_ESTATE,
                          "cuda samples: the last pass was not a loss_grad (or none ran)");
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    // packed row p = row_of[b * T + t] -> time-major (t, b), as xt_minibatch
    const xt_segplan *p = &self->plan;
    const int n = p->n, T = p->Ts, N = n * T;
    const float *src[3] = {self->logp, self->ent, self->head[1]};
    float *dst[3] = {logp, entropy, value};
    for (int k = 0; k < 3; k++) {
        if (!dst[k]) continue;
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_vals, src[k], (size_t)N * 4,
                                           cudaMemcpyDeviceToHost, self->st));
        XT_CUDA_CHECK(err, cudaStreamSynchronize(self->st));
        for (int b = 0; b < n; b++)
            for (int t = 0; t < T; t++) dst[k][t * n + b] = self->h_vals[p->row_of[b * T + t]];
    }
    return 0;
}
