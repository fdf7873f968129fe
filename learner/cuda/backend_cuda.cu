// backend_cuda.cu - the CUDA implementation of xt_backend: the object.
//
// Purpose: run the learner's operations (evaluate, loss_grad, step, infer)
// on one GPU with the results of the CPU reference (nn/backend_cpu.c):
// cuDNN for the LSTM stacks (rnn.cu), cuBLAS for the dense layers
// (dense.cu), kernels for heads, loss, optimizer and data movement. This
// file owns the device memory plan, the lifecycle, parameters and
// optimizer state, the batch store and the optimizer step; pass.cu plans
// and runs the network over one pass.
//
// Data flow. set_batch packs the caller's batch into pinned staging and
// copies it to a device store with ONE host-to-device copy. A pass
// (loss_grad minibatch, evaluate group, infer call) is planned on the host:
// chunks are split at episode resets into sequences (segplan.h), and the
// pass's small per-sample data (row map, sequence lengths, advantages,
// returns) goes up in one more copy. Kernels then gather the minibatch from
// the store into the packed row order, which every later layer keeps.
//
// Invariants: every buffer is allocated in xt_backend_cuda_new_ex (one
// device allocation, one pinned host allocation); nothing allocates per
// pass. Params live in the canonical slab; the cuDNN weight spaces are
// repacked from it after every upload and step. No kernel uses atomics and
// the cuDNN algorithm is CUDNN_RNN_ALGO_STANDARD, so the same inputs give
// the same bits on the same GPU. Ownership: the backend owns its CUDA
// objects; an attached NCCL communicator is borrowed. Threads: one driving
// thread; every op first makes the backend's device current.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/backend_cuda_impl.h"
extern "C" {
#include "core/rng.h"
}
#include "cuda/dense.h"
#include "cuda/gather.h"
#include "cuda/loss.h"
#include "cuda/optim.h"

#define S_BLAS_WS (32u << 20) // cuBLAS workspace (32 MiB, NVIDIA's advice for Hopper)

// ---- memory plans

// Lays out C chunks of batch-like fields over a (present = the batch has the
// field; b NULL = every field, for capacity). Returns the bytes used.
static size_t s_store_plan(xt_cuda_store *v, char *base, const xt_batch *b, const xt_model_layout *lay,
                           int C, int T) {
    const size_t c = (size_t)C, t = (size_t)T, A = (size_t)lay->spec.act_dim;
    const size_t D = (size_t)lay->spec.obs_dim, S = (size_t)lay->state_size;
    xt_cuda_arena a = {base, 0};
    memset(v, 0, sizeof *v);
    v->obs = (float *)xt_cuda_take(&a, c * (t + 1) * D * 4);
    v->starts = (uint8_t *)xt_cuda_take(&a, c * t);
    v->logp = (float *)xt_cuda_take(&a, c * t * 4);
    v->rew = (float *)xt_cuda_take(&a, c * t * 4);
    v->term = (uint8_t *)xt_cuda_take(&a, c * t);
    if (!b || b->sym) v->sym = (int32_t *)xt_cuda_take(&a, c * 4);
    if (!b || b->actions) v->act = (float *)xt_cuda_take(&a, c * t * A * 4);
    if (!b || b->actions_i) v->act_i = (int32_t *)xt_cuda_take(&a, c * t * 4);
    if (!b || b->masks) v->masks = (uint8_t *)xt_cuda_take(&a, c * t * A);
    if (!b || b->truncated) v->trunc = (uint8_t *)xt_cuda_take(&a, c * t);
    if (!b || b->trunc_value) v->tv = (float *)xt_cuda_take(&a, c * t * 4);
    if (!b || b->valid) v->valid = (uint8_t *)xt_cuda_take(&a, c * t);
    if (!b || b->h0) {
        v->h0 = (float *)xt_cuda_take(&a, c * S * 4);
        v->c0 = (float *)xt_cuda_take(&a, c * S * 4);
    }
    return a.off;
}

// ---- probe

static __global__ void k_probe(int *x) {
    if (x) *x = 1;
}

extern "C" int xt_cuda_probe(char *reason, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
        snprintf(reason, cap, "no CUDA device");
        return XT_EDEVICE;
    }
    if (e == cudaErrorInsufficientDriver) {
        // also what the runtime says when libcuda is not installed at all
        snprintf(reason, cap, "no CUDA driver, or one too old for the CUDA %d.%d runtime",
                 CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
        return XT_EDEVICE;
    }
    if (e != cudaSuccess) {
        snprintf(reason, cap, "no usable CUDA driver (cudaGetDeviceCount: %s)",
                 cudaGetErrorString(e));
        return XT_EDEVICE;
    }
    cudaDeviceProp p;
    if ((e = cudaGetDeviceProperties(&p, 0)) != cudaSuccess) {
        snprintf(reason, cap, "cannot query CUDA device 0: %s", cudaGetErrorString(e));
        return XT_EDEVICE;
    }
    // kernels exist for sm_80 and sm_90 (plus PTX the driver compiles for newer GPUs)
    cudaFuncAttributes fa;
    if ((e = cudaFuncGetAttributes(&fa, k_probe)) != cudaSuccess) {
        snprintf(reason, cap, "no kernel image for device 0 %s (sm_%d%d): %s", p.name, p.major,
                 p.minor, cudaGetErrorString(e));
        return XT_EDEVICE;
    }
    cudnnHandle_t h;
    cudnnStatus_t s = cudnnCreate(&h);
    if (s != CUDNN_STATUS_SUCCESS) {
        snprintf(reason, cap, "cuDNN init failed: %s", cudnnGetErrorString(s));
        return XT_EDEVICE;
    }
    cudnnDestroy(h);
    size_t v = cudnnGetVersion();
    if (v / 10000 != CUDNN_MAJOR) {
        snprintf(reason, cap, "cuDNN %zu is loaded, xtrade was built against cuDNN %d", v,
                 CUDNN_MAJOR);
        return XT_EDEVICE;
    }
    snprintf(reason, cap, "%d device(s); device 0 %s (sm_%d%d, %.0f GiB), cuDNN %zu", n, p.name,
             p.major, p.minor, (double)p.totalGlobalMem / (1 << 30), v);
    return 0;
}

// ---- lifecycle

static void s_cuda_destroy(xt_backend *b) {
    xt_cuda_be *self = (xt_cuda_be *)b;
    cudaSetDevice(self->cc.device);
    if (self->st) cudaStreamSynchronize(self->st);
    for (int k = 0; k < E_COUNT; k++)
        if (self->ev[k]) cudaEventDestroy(self->ev[k]);
    xt_cuda_rnn_destroy(&self->rnn);
    if (self->blas) cublasDestroy(self->blas);
    if (self->dnn) cudnnDestroy(self->dnn);
    if (self->st) cudaStreamDestroy(self->st);
    cudaFree(self->dmem);
    cudaFreeHost(self->hmem);
    xt_segplan_free(&self->plan);
    free(self->resets);
    free(self->pairs);
    free(self->idx);
    free(self);
}

// Device and pinned host blocks: every buffer of the backend, counted with
// base NULL and assigned with the real bases.
static size_t s_dev_plan(xt_cuda_be *self, char *base) {
    xt_cuda_arena a = {base, 0};
    const size_t R = (size_t)self->R, n = self->n, A = (size_t)self->A;
    const size_t L = (size_t)self->L, H = (size_t)self->H, W = (size_t)self->widest;
    const int Bi = self->base.cfg.max_infer;
    const size_t S = (size_t)self->base.lay.state_size, Cm = (size_t)self->cc.max_batch_chunks;
    const size_t T = (size_t)self->base.cfg.T;
    size_t wb = 0, work = 0, res = 0;
    if (self->rnn) xt_cuda_rnn_sizes(self->rnn, &wb, &work, &res);
    float *slab = (float *)xt_cuda_take(&a, 4 * n * 4);
    if (base) self->P = slab, self->Gr = slab + n, self->Mo = slab + 2 * n, self->Vo = slab + 3 * n;
    for (int k = 0; k < 2 - self->shared && self->rnn; k++) {
        self->wsp[k] = (float *)xt_cuda_take(&a, wb);
        self->dwsp[k] = (float *)xt_cuda_take(&a, wb);
        self->wmap[k] = (int32_t *)xt_cuda_take(&a, wb);
        self->res[k] = xt_cuda_take(&a, res);
    }
    if (self->rnn) self->work = xt_cuda_take(&a, work);
    self->blas_ws = xt_cuda_take(&a, S_BLAS_WS);
    self->dstore = (char *)xt_cuda_take(&a, self->store_cap);
    self->dmeta = (char *)xt_cuda_take(&a, self->meta_cap);
    self->x0 = (float *)xt_cuda_take(&a, R * self->in_dim * 4);
    for (int k = 0; k < 2 - self->shared; k++) {
        if (L) {
            self->hx[k] = (float *)xt_cuda_take(&a, L * R * H * 4);
            self->cx[k] = (float *)xt_cuda_take(&a, L * R * H * 4);
            self->y[k] = (float *)xt_cuda_take(&a, R * H * 4);
        }
        for (int j = 0; j < self->M; j++)
            self->fc[k][j] = (float *)xt_cuda_take(&a, R * self->base.lay.spec.mlp[j] * 4);
    }
    self->head[0] = (float *)xt_cuda_take(&a, R * A * 4);
    self->head[1] = (float *)xt_cuda_take(&a, R * 4);
    self->act = (float *)xt_cuda_take(&a, R * A * 4);
    self->act_i = (int32_t *)xt_cuda_take(&a, R * 4);
    self->masks = (uint8_t *)xt_cuda_take(&a, R * A);
    self->valid = (uint8_t *)xt_cuda_take(&a, R);
    float **rowbufs[] = {&self->old_logp, &self->logp, &self->ent, &self->dlogp, &self->dent,
                         &self->dval, &self->ones};
    for (size_t k = 0; k < sizeof rowbufs / sizeof *rowbufs; k++)
        *rowbufs[k] = (float *)xt_cuda_take(&a, R * 4);
    self->probs = (float *)xt_cuda_take(&a, R * A * 4);
    self->dact = (float *)xt_cuda_take(&a, R * A * 4);
    self->dls_rows = (float *)xt_cuda_take(&a, R * A * 4);
    self->dls = (float *)xt_cuda_take(&a, A * 4);
    self->dbuf[0] = (float *)xt_cuda_take(&a, R * W * 4);
    self->dbuf[1] = (float *)xt_cuda_take(&a, R * W * 4);
    self->dcrit = (float *)xt_cuda_take(&a, R * W * 4);
    self->dx0 = (float *)xt_cuda_take(&a, R * self->in_dim * 4);
    self->dxc = (float *)xt_cuda_take(&a, (size_t)self->G * (self->E ? self->E : 1) * 4);
    if (Bi) {
        self->hout = (float *)xt_cuda_take(&a, S * Bi * 4 + 4);
        self->cout = (float *)xt_cuda_take(&a, S * Bi * 4 + 4);
    }
    self->gae_val = (float *)xt_cuda_take(&a, Cm * (T + 1) * 4);
    self->gae_adv = (float *)xt_cuda_take(&a, Cm * T * 4);
    self->gae_ret = (float *)xt_cuda_take(&a, Cm * T * 4);
    self->part = (double *)xt_cuda_take(&a, XT_RED_BLOCKS * 8 * 8);
    self->scal = (double *)xt_cuda_take(&a, 16 * 8);
    return a.off;
}

static size_t s_host_plan(xt_cuda_be *self, char *base) {
    xt_cuda_arena a = {base, 0};
    const size_t R = (size_t)self->R, A = (size_t)self->A, T = (size_t)self->base.cfg.T;
    const size_t S = (size_t)self->base.lay.state_size, Bi = (size_t)self->base.cfg.max_infer;
    const size_t Cm = (size_t)self->cc.max_batch_chunks;
    self->hstore = (char *)xt_cuda_take(&a, self->store_cap);
    self->hmeta = (char *)xt_cuda_take(&a, self->meta_cap);
    self->h_vals = (float *)xt_cuda_take(&a, R * 4);
    self->h_act = (float *)xt_cuda_take(&a, Bi * A * 4 + 4);
    self->h_hout = (float *)xt_cuda_take(&a, S * Bi * 4 + 4);
    self->h_cout = (float *)xt_cuda_take(&a, S * Bi * 4 + 4);
    self->h_gae = (float *)xt_cuda_take(&a, Cm * (T + 1) * 4 + 2 * Cm * T * 4);
    self->h_scal = (double *)xt_cuda_take(&a, 16 * 8);
    return a.off;
}

// Weight maps of the actor's (and critic's) stack; the pack happens in s_pack.
static int s_weight_maps(xt_cuda_be *self, xt_err *err) {
    const xt_model_layout *lay = &self->base.lay;
    int32_t *map = (int32_t *)malloc(self->nw * sizeof(int32_t));
    if (!map) return xt_err_set(err, XT_ENOMEM, "cuda backend: out of memory for the weight map");
    int rc = 0;
    for (int n = 0; n < 2 - self->shared && !rc; n++) {
        size_t off[XT_NN_MAX_LSTM][4];
        for (int k = 0; k < self->L; k++)
            for (int s = 0; s < 4; s++) off[k][s] = lay->off[lay->lstm[n][k][s]];
        rc = xt_cuda_rnn_weight_map(self->rnn, self->wsp[n], off, map, err);
        if (!rc) {
            cudaError_t e = cudaMemcpyAsync(self->wmap[n], map, self->nw * 4,
                                            cudaMemcpyHostToDevice, self->st);
            if (e == cudaSuccess) e = cudaStreamSynchronize(self->st);
            if (e != cudaSuccess)
                rc = xt_err_set(err, XT_EDEVICE, "cuda backend: weight map upload: %s",
                                cudaGetErrorString(e));
        }
    }
    free(map);
    return rc;
}

// Repack the cuDNN weight spaces from the slab (after upload and step).
static int s_pack(xt_cuda_be *self, xt_err *err) {
    for (int n = 0; self->rnn && n < 2 - self->shared; n++) {
        int rc = xt_cuda_map_pack(self->wsp[n], self->P, self->wmap[n], self->nw, self->st, err);
        if (rc) return rc;
    }
    return 0;
}

static int s_setup(xt_cuda_be *self, xt_err *err) {
    const xt_model_layout *lay = &self->base.lay;
    XT_CUDA_CHECK(err, cudaSetDevice(self->cc.device));
    XT_CUDA_CHECK(err, cudaStreamCreateWithFlags(&self->st, cudaStreamNonBlocking));
    for (int k = 0; k < E_COUNT; k++) XT_CUDA_CHECK(err, cudaEventCreate(&self->ev[k]));
    XT_CUBLAS_CHECK(err, cublasCreate(&self->blas));
    XT_CUBLAS_CHECK(err, cublasSetStream(self->blas, self->st));
    XT_CUBLAS_CHECK(err, cublasSetMathMode(self->blas, self->cc.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                     : CUBLAS_DEFAULT_MATH));
    XT_CUDNN_CHECK(err, cudnnCreate(&self->dnn));
    XT_CUDNN_CHECK(err, cudnnSetStream(self->dnn, self->st));
    if (self->L) {
        xt_cuda_rnn_limits lim = {self->G, self->Tm, self->base.cfg.max_infer};
        int rc = xt_cuda_rnn_new(&self->rnn, self->dnn, self->in_dim, self->H, self->L,
                                 self->cc.tf32, &lim, err);
        if (rc) return rc;
        size_t wb, work, res;
        xt_cuda_rnn_sizes(self->rnn, &wb, &work, &res);
        self->nw = wb / 4;
    }
    const int cols = self->G > self->base.cfg.max_infer ? self->G : self->base.cfg.max_infer;
    if (xt_segplan_init(&self->plan, cols, self->Tm, err)) return err ? err->code : XT_ENOMEM;
    // capacities: the largest batch, the largest pass
    xt_cuda_store sv;
    self->store_cap = s_store_plan(&sv, NULL, NULL, lay, self->cc.max_batch_chunks, self->Tm - 1);
    self->meta_cap = xt_cuda_pass_meta_cap(self, cols);
    const size_t dbytes = s_dev_plan(self, NULL), hbytes = s_host_plan(self, NULL);
    cudaError_t e = cudaMalloc((void **)&self->dmem, dbytes);
    if (e != cudaSuccess)
        return xt_err_set(err, XT_ENOMEM,
                          "cuda backend: cannot allocate %.1f MiB on device %d (%s); lower "
                          "max_chunks, max_infer or max_batch_chunks",
                          (double)dbytes / (1 << 20), self->cc.device, cudaGetErrorString(e));
    XT_CUDA_CHECK(err, cudaHostAlloc((void **)&self->hmem, hbytes, cudaHostAllocDefault));
    s_dev_plan(self, self->dmem);
    s_host_plan(self, self->hmem);
    // everything on the backend's stream (non-blocking: it does not order with
    // the legacy default stream), then one sync before the maps go up
    XT_CUDA_CHECK(err, cudaMemsetAsync(self->dmem, 0, dbytes, self->st));
    XT_CUBLAS_CHECK(err, cublasSetWorkspace(self->blas, self->blas_ws, S_BLAS_WS));
    int rc = xt_cuda_fill(self->ones, 1.0f, (size_t)self->R, self->st, err);
    if (rc) return rc;
    XT_CUDA_CHECK(err, cudaStreamSynchronize(self->st));
    if (self->rnn && (rc = s_weight_maps(self, err))) return rc;
    self->resets = (uint8_t *)malloc((size_t)cols * self->Tm);
    self->pairs = (int32_t *)malloc((size_t)2 * self->G * sizeof(int32_t));
    self->idx = (int *)malloc((size_t)self->G * sizeof(int));
    if (!self->resets || !self->pairs || !self->idx)
        return xt_err_set(err, XT_ENOMEM, "cuda backend: out of host memory");
    xt_debug("cuda backend: %.1f MiB device, %.1f MiB pinned host, %d rows per pass",
             (double)dbytes / (1 << 20), (double)hbytes / (1 << 20), self->R);
    return 0;
}

// ---- params and optimizer state

static int s_cuda_upload(xt_backend *b, const float *params, const float *m, const float *v,
                         int64_t step, xt_err *err) {
    xt_cuda_be *self = (xt_cuda_be *)b;
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    const size_t bytes = self->n * 4;
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->P, params, bytes, cudaMemcpyHostToDevice, self->st));
    if (m) {
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->Mo, m, bytes, cudaMemcpyHostToDevice, self->st));
        XT_CUDA_CHECK(err, cudaMemcpyAsync(self->Vo, v, bytes, cudaMemcpyHostToDevice, self->st));
    } else {
        XT_CUDA_CHECK(err, cudaMemsetAsync(self->Mo, 0, 2 * bytes, self->st)); // m, v adjacent
    }
    if ((rc = s_pack(self, err))) return rc;
    XT_CUDA_CHECK(err, cudaStreamSynchronize(self->st));
    self->step = step;
    return 0;
}

static int s_cuda_download(xt_backend *b, float *params, float *grads, float *m, float *v,
                           int64_t *step, xt_err *err) {
    xt_cuda_be *self = (xt_cuda_be *)b;
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    const size_t bytes = self->n * 4;
    float *dst[4] = {params, grads, m, v}, *src[4] = {self->P, self->Gr, self->Mo, self->Vo};
    for (int k = 0; k < 4; k++)
        if (dst[k])
            XT_CUDA_CHECK(err, cudaMemcpyAsync(dst[k], src[k], bytes, cudaMemcpyDeviceToHost,
                                               self->st));
    XT_CUDA_CHECK(err, cudaStreamSynchronize(self->st));
    if (step) *step = self->step;
    return 0;
}

// ---- batch

#define S_COPY(dst, src, n) \
    do {                    \
        if (dst) memcpy((dst), (src), (n)); \
    } while (0)

static int s_cuda_set_batch(xt_backend *b, const xt_batch *bt, xt_err *err) {
    xt_cuda_be *self = (xt_cuda_be *)b;
    const xt_model_spec *sp = &b->lay.spec;
    if (bt->C > self->cc.max_batch_chunks)
        return xt_err_set(err, XT_EINVAL,
                          "cuda backend: batch of %d chunks, the device store holds %d "
                          "(xt_cuda_config.max_batch_chunks)",
                          bt->C, self->cc.max_batch_chunks);
    for (int c = 0; sp->emb_dim && c < bt->C; c++)
        if (bt->sym[c] < 0 || bt->sym[c] >= sp->n_symbols)
            return xt_err_set(err, XT_EINVAL, "cuda backend: batch.sym[%d] = %d is outside [0, %d)",
                              c, (int)bt->sym[c], sp->n_symbols);
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    double t0 = xt_cuda_now();
    // the staging may still feed the previous copy
    XT_CUDA_CHECK(err, cudaStreamSynchronize(self->st));
    const size_t C = (size_t)bt->C, T = (size_t)bt->T, A = (size_t)sp->act_dim;
    const size_t D = (size_t)sp->obs_dim, S = (size_t)b->lay.state_size;
    xt_batch use = *bt;
    if (!sp->emb_dim) use.sym = NULL;
    if (sp->gaussian) use.actions_i = NULL;
    else use.actions = NULL;
    const size_t bytes = s_store_plan(&self->hs, self->hstore, &use, &b->lay, bt->C, bt->T);
    s_store_plan(&self->ds, self->dstore, &use, &b->lay, bt->C, bt->T);
    xt_cuda_store *h = &self->hs;
    S_COPY(h->obs, bt->obs, C * (T + 1) * D * 4);
    S_COPY(h->starts, bt->starts, C * T);
    S_COPY(h->logp, bt->logp, C * T * 4);
    S_COPY(h->rew, bt->rewards, C * T * 4);
    S_COPY(h->term, bt->terminated, C * T);
    S_COPY(h->sym, use.sym, C * 4);
    S_COPY(h->act, use.actions, C * T * A * 4);
    S_COPY(h->act_i, use.actions_i, C * T * 4);
    S_COPY(h->masks, bt->masks, C * T * A);
    S_COPY(h->trunc, bt->truncated, C * T);
    S_COPY(h->tv, bt->trunc_value, C * T * 4);
    S_COPY(h->valid, bt->valid, C * T);
    S_COPY(h->h0, bt->h0, C * S * 4);
    S_COPY(h->c0, bt->c0, C * S * 4);
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->dstore, self->hstore, bytes, cudaMemcpyHostToDevice,
                                       self->st));
    self->batch = use;
    self->have_batch = 1;
    self->stg.set_batch += xt_cuda_now() - t0;
    return 0;
}

#define S_SC_NORM 15 // scal slot of the squared gradient norm

static int s_cuda_step(xt_backend *b, double lr, double max_grad_norm, double *grad_norm,
                       xt_err *err) {
    xt_cuda_be *self = (xt_cuda_be *)b;
    int rc = xt_cuda_be_enter(self, err);
    if (rc) return rc;
    const double t0 = xt_cuda_now();
    cudaStream_t st = self->st;
    // global norm in double; the host decides before anything changes
    rc = xt_cuda_sumsq(self->scal + S_SC_NORM, self->Gr, self->n, self->part, st, err);
    if (rc) return xt_err_prefix(err, "cuda backend step");
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->h_scal + S_SC_NORM, self->scal + S_SC_NORM,
                                       sizeof(double), cudaMemcpyDeviceToHost, st));
    XT_CUDA_CHECK(err, cudaStreamSynchronize(st));
    const double norm = sqrt(self->h_scal[S_SC_NORM]);
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm)) {
        self->tm.n_step_refused++;
        return xt_err_set(err, XT_ENUMERIC,
                          "cuda backend step: gradient norm is not finite (%g); update skipped",
                          norm);
    }
    // torch clip_grad_norm_: scale by max / (norm + 1e-6) when that is < 1
    double coef = 1.0;
    if (max_grad_norm > 0 && max_grad_norm / (norm + 1e-6) < 1) coef = max_grad_norm / (norm + 1e-6);
    const xt_adam_hparams *hp = &b->cfg.adam;
    xt_cuda_adam_args a = {self->P, self->Gr, self->Mo, self->Vo, self->n, coef, lr, hp->beta1,
                           hp->beta2, hp->eps, hp->weight_decay, (long long)self->step + 1,
                           b->lay.off[XT_T_actor_log_std],
                           xt_model_tensor_size(&b->lay, XT_T_actor_log_std), b->cfg.ls_min,
                           b->cfg.ls_max};
    rc = xt_cuda_adam(&a, st, err);
    if (!rc) rc = s_pack(self, err);
    if (rc) return xt_err_prefix(err, "cuda backend step");
    XT_CUDA_CHECK(err, cudaStreamSynchronize(st));
    self->step++;
    self->tm.optimizer += xt_cuda_now() - t0;
    self->tm.n_step++;
    return 0;
}

static int s_cuda_evaluate(xt_backend *b, float *values, xt_err *err) {
    return xt_cuda_pass_evaluate((xt_cuda_be *)b, values, err);
}

static int s_cuda_loss_grad(xt_backend *b, const int *chunks, int n, const float *adv,
                            const float *ret, const float *values, const xt_loss_coefs *coefs,
                            xt_ppo_stats *stats, xt_err *err) {
    return xt_cuda_pass_loss_grad((xt_cuda_be *)b, chunks, n, adv, ret, values, coefs, stats, err);
}

static int s_cuda_infer(xt_backend *b, const float *obs, const int32_t *sym, const uint8_t *starts,
                        float *h, float *c, float *actor_out, float *value, int B, xt_err *err) {
    return xt_cuda_pass_infer((xt_cuda_be *)b, obs, sym, starts, h, c, actor_out, value, B, err);
}

static void s_cuda_timing(const xt_backend *b, xt_backend_timing *out) {
    *out = ((const xt_cuda_be *)b)->tm;
}

static const xt_backend_ops s_cuda_ops = {
    "cuda",         s_cuda_destroy,   s_cuda_upload, s_cuda_download, s_cuda_set_batch,
    s_cuda_evaluate, s_cuda_loss_grad, s_cuda_step,  s_cuda_infer,    s_cuda_timing,
};

// ---- extras

extern "C" int xt_backend_is_cuda(const xt_backend *be) { return be && be->ops == &s_cuda_ops; }

extern "C" int xt_backend_cuda_stages(const xt_backend *be, xt_cuda_stages *out, xt_err *err) {
    if (!xt_backend_is_cuda(be))
        return xt_err_set(err, XT_EINVAL, "cuda stages: the backend is not a CUDA backend");
    *out = ((const xt_cuda_be *)be)->stg;
    return 0;
}

extern "C" int xt_backend_cuda_last_samples(xt_backend *be, float *logp, float *entropy,
                                            float *value, xt_err *err) {
    if (!xt_backend_is_cuda(be))
        return xt_err_set(err, XT_EINVAL, "cuda samples: the backend is not a CUDA backend");
    return xt_cuda_pass_last_samples((xt_cuda_be *)be, logp, entropy, value, err);
}

extern "C" int xt_backend_cuda_attach_nccl(xt_backend *be, xt_nccl *comm, xt_err *err) {
    if (!xt_backend_is_cuda(be))
        return xt_err_set(err, XT_EINVAL, "cuda nccl: the backend is not a CUDA backend");
    ((xt_cuda_be *)be)->nccl = comm;
    return 0;
}

static int s_gae(xt_cuda_be *self, float *adv, float *ret, const float *values, double gamma,
                 double lambda, xt_err *err) {
    const size_t C = (size_t)self->batch.C, T = (size_t)self->batch.T;
    float *hv = self->h_gae, *ha = hv + C * (T + 1), *hr = ha + C * T;
    cudaStream_t st = self->st;
    memcpy(hv, values, C * (T + 1) * 4);
    XT_CUDA_CHECK(err, cudaMemcpyAsync(self->gae_val, hv, C * (T + 1) * 4, cudaMemcpyHostToDevice, st));
    int rc = xt_cuda_gae(self->gae_adv, self->gae_ret, self->ds.rew, self->gae_val, self->ds.term,
                         self->ds.trunc, self->ds.tv, (float)gamma, (float)lambda, (int)C, (int)T,
                         st, err);
    if (rc) return rc;
    XT_CUDA_CHECK(err, cudaMemcpyAsync(ha, self->gae_adv, C * T * 4, cudaMemcpyDeviceToHost, st));
    XT_CUDA_CHECK(err, cudaMemcpyAsync(hr, self->gae_ret, C * T * 4, cudaMemcpyDeviceToHost, st));
    XT_CUDA_CHECK(err, cudaStreamSynchronize(st));
    memcpy(adv, ha, C * T * 4);
    memcpy(ret, hr, C * T * 4);
    return 0;
}

extern "C" int xt_backend_cuda_gae(xt_backend *be, float *adv, float *ret, const float *values,
                                   double gamma, double lambda, xt_err *err) {
    if (!xt_backend_is_cuda(be))
        return xt_err_set(err, XT_EINVAL, "cuda gae: the backend is not a CUDA backend");
    xt_cuda_be *self = (xt_cuda_be *)be;
    if (!self->have_batch)
        return xt_err_set(err, XT_ESTATE, "cuda gae: no batch set (call set_batch first)");
    int rc = xt_cuda_be_enter(self, err);
    if (!rc) rc = s_gae(self, adv, ret, values, gamma, lambda, err);
    return rc ? xt_err_prefix(err, "cuda gae") : 0;
}

// ---- constructor

static int s_check_config(const xt_backend_config *cfg, const xt_cuda_config *cc, xt_err *err) {
    if (cfg->max_chunks < 1 || cfg->T < 1 || cfg->max_infer < 0)
        return xt_err_set(err, XT_EINVAL,
                          "cuda backend: max_chunks (%d) and T (%d) must be >= 1, max_infer (%d) "
                          ">= 0",
                          cfg->max_chunks, cfg->T, cfg->max_infer);
    if ((double)cfg->max_chunks * (cfg->T + 1) > (double)(1 << 24))
        return xt_err_set(err, XT_EINVAL,
                          "cuda backend: max_chunks x (T + 1) = %d x %d exceeds 2^24 rows",
                          cfg->max_chunks, cfg->T + 1);
    if (!(cfg->ls_min <= cfg->ls_max))
        return xt_err_set(err, XT_EINVAL, "cuda backend: ls_min (%g) must be <= ls_max (%g)",
                          (double)cfg->ls_min, (double)cfg->ls_max);
    if (cc->device < 0 || cc->max_batch_chunks < 1 || cc->max_batch_chunks > (1 << 20))
        return xt_err_set(err, XT_EINVAL,
                          "cuda backend: device (%d) must be >= 0 and max_batch_chunks (%d) in "
                          "1..2^20",
                          cc->device, cc->max_batch_chunks);
    return 0;
}

extern "C" int xt_backend_cuda_new_ex(xt_backend **out, const xt_model_spec *spec,
                                      const xt_backend_config *cfg, const xt_cuda_config *cc,
                                      xt_err *err) {
    *out = NULL;
    xt_model_layout lay;
    int rc = xt_model_layout_init(&lay, spec, err);
    if (!rc) rc = s_check_config(cfg, cc, err);
    if (rc) return rc;
    char why[256];
    if (xt_cuda_probe(why, sizeof why))
        return xt_err_set(err, XT_EDEVICE, "cuda backend: %s", why);
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || cc->device >= count)
        return xt_err_set(err, XT_EDEVICE, "cuda backend: device %d does not exist (%d present)",
                          cc->device, count);
    xt_cuda_be *self = (xt_cuda_be *)calloc(1, sizeof *self);
    if (!self) return xt_err_set(err, XT_ENOMEM, "cuda backend: out of memory");
    self->base.ops = &s_cuda_ops;
    self->base.lay = lay;
    self->base.cfg = *cfg;
    self->cc = *cc;
    const xt_model_spec *s = &lay.spec;
    self->G = cfg->max_chunks;
    self->Tm = cfg->T + 1;
    self->R = self->G * self->Tm > cfg->max_infer ? self->G * self->Tm : cfg->max_infer;
    self->L = s->lstm_layers, self->H = s->lstm_hidden, self->M = s->mlp_layers;
    self->D = s->obs_dim, self->E = s->emb_dim, self->A = s->act_dim, self->in_dim = lay.in_dim;
    self->shared = s->shared_trunk, self->gauss = s->gaussian;
    self->n = lay.n_params;
    // the widest gradient a [rows, width] buffer carries: head inputs, LSTM, dense
    int w = lay.dims.hi[0] > lay.dims.hi[1] ? lay.dims.hi[0] : lay.dims.hi[1];
    if (self->L && self->H > w) w = self->H;
    for (int k = 0; k < self->M; k++)
        if (s->mlp[k] > w) w = s->mlp[k];
    self->widest = w;
    rc = s_setup(self, err);
    float *p0 = rc ? NULL : (float *)malloc(self->n * sizeof(float));
    if (!rc && !p0) rc = xt_err_set(err, XT_ENOMEM, "cuda backend: out of memory");
    if (!rc) {
        // the CPU backend's initial parameters for the same seed
        xt_rng rng;
        xt_rng_seed(&rng, cc->seed);
        xt_model_init_params(&lay, p0, &rng);
        rc = s_cuda_upload(&self->base, p0, NULL, NULL, 0, err);
    }
    free(p0);
    if (rc) {
        s_cuda_destroy(&self->base);
        return xt_err_prefix(err, "cuda backend");
    }
    xt_debug("cuda backend: device %d, %zu params, %d chunks x %d steps per pass", cc->device,
             self->n, self->G, cfg->T);
    *out = &self->base;
    return 0;
}

extern "C" int xt_backend_cuda_new(xt_backend **out, const xt_model_spec *spec,
                                   const xt_backend_config *cfg, int device, xt_err *err) {
    xt_cuda_config cc;
    xt_cuda_config_default(&cc);
    cc.device = device;
    return xt_backend_cuda_new_ex(out, spec, cfg, &cc, err);
}
