// backend_cuda_impl.h - the CUDA backend's object, shared by its two
// translation units: backend_cuda.cu (device memory, lifecycle, parameters,
// batch store, optimizer step, extras) and pass.cu (planning and running
// the network over one pass: evaluate, loss_grad, infer). Private to them;
// callers use backend_cuda.h.
#ifndef XT_BACKEND_CUDA_IMPL_H
#define XT_BACKEND_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <time.h>

extern "C" {
#include "core/log.h"
#include "cuda/backend_cuda.h"
#include "cuda/nccl.h"
}
#include "cuda/cuda_check.h"
#include "cuda/rnn.h"
#include "cuda/segplan.h"

#define XT_CUDA_ALIGN 256 // bytes: every buffer of the plans starts on this boundary

static inline double xt_cuda_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- memory plans


// Bump allocator over one block; with base NULL it only counts.
typedef struct {
    char *base;
    size_t off;
} xt_cuda_arena;

static inline void *xt_cuda_take(xt_cuda_arena *a, size_t bytes) {
    void *p = a->base ? a->base + a->off : NULL;
    a->off += (bytes + XT_CUDA_ALIGN - 1) / XT_CUDA_ALIGN * XT_CUDA_ALIGN;
    return p;
}

// The batch store: chunk-major fields as in xt_batch (NULL when absent).
typedef struct {
    float *obs, *act, *logp, *rew, *tv, *h0, *c0;
    int32_t *sym, *act_i;
    uint8_t *masks, *starts, *term, *trunc, *valid;
} xt_cuda_store;

// CUDA events of one loss_grad, in order: the stage timings are the
// intervals between them (xt_cuda_stages).

enum {
    E_START, E_H2D, E_GATHER, E_LSTM_F, E_MLP_F, E_LOSS, E_LB0A, E_LB0B, E_LB1A, E_LB1B,
    E_BWD, E_AR, E_END, E_COUNT
};

struct xt_cuda_be {
    xt_backend base;
    xt_cuda_config cc;
    int G, Tm, R;        // chunks per pass, T + 1, rows per pass
    int L, H, M, D, E, A, in_dim, widest, shared, gauss;
    size_t n, nw;        // slab floats, weight-space floats
    cudaStream_t st;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    xt_cuda_rnn *rnn;
    xt_segplan plan;
    xt_nccl *nccl;
    cudaEvent_t ev[E_COUNT];
    // device memory (one allocation) and pinned host memory (one allocation)
    char *dmem, *hmem;
    float *P, *Gr, *Mo, *Vo;                     // slab: params, grads, Adam m, v
    float *wsp[2], *dwsp[2];                     // cuDNN weight spaces per net
    int32_t *wmap[2];                            // weight-space float -> slab element
    void *work, *res[2], *blas_ws;               // cuDNN workspace, reserves; cuBLAS workspace
    char *dstore, *hstore, *dmeta, *hmeta;       // batch store, pass data (device, staging)
    size_t store_cap, meta_cap;
    float *x0, *hx[2], *cx[2], *y[2], *fc[2][XT_NN_MAX_MLP], *head[2];
    float *act, *old_logp, *logp, *ent, *probs, *dlogp, *dent, *dval, *dact, *dls_rows, *dls;
    int32_t *act_i;
    uint8_t *masks, *valid;
    float *dbuf[2], *dcrit, *dx0, *dxc, *ones;
    float *hout, *cout;                          // infer: final states [2][L][B][H]
    float *gae_val, *gae_adv, *gae_ret;          // device GAE buffers
    double *part, *scal;
    // pinned download staging
    float *h_vals, *h_act, *h_hout, *h_cout, *h_gae;
    double *h_scal;
    // host scratch
    uint8_t *resets;
    int32_t *pairs;                              // [2 G] (symbol, chunk) for the embedding CSR
    int *idx;                                    // [G] chunk indices of an evaluate group
    // the staged batch
    xt_batch batch;                              // field presence and C, T
    xt_cuda_store hs, ds;                             // host staging / device views of the store
    int have_batch;
    int last_train;                              // the plan is that of the last loss_grad
    int64_t step;
    xt_backend_timing tm;
    xt_cuda_stages stg;
};

typedef struct xt_cuda_be xt_cuda_be;

static inline int xt_cuda_be_enter(const xt_cuda_be *self, xt_err *err) {
    XT_CUDA_CHECK(err, cudaSetDevice(self->cc.device));
    return 0;
}

// ---- pass.cu

// Bytes of the per-pass upload for the largest pass of this backend.
size_t xt_cuda_pass_meta_cap(const xt_cuda_be *self, int cols);
int xt_cuda_pass_evaluate(xt_cuda_be *self, float *values, xt_err *err);
int xt_cuda_pass_loss_grad(xt_cuda_be *self, const int *chunks, int n, const float *adv,
                           const float *ret, const float *values, const xt_loss_coefs *coefs,
                           xt_ppo_stats *stats, xt_err *err);
int xt_cuda_pass_infer(xt_cuda_be *self, const float *obs, const int32_t *sym,
                       const uint8_t *starts, float *h, float *c, float *actor_out, float *value,
                       int B, xt_err *err);
int xt_cuda_pass_last_samples(xt_cuda_be *self, float *logp, float *entropy, float *value,
                              xt_err *err);

#endif
