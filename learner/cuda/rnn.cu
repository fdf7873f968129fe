// rnn.cu - the LSTM stacks through cuDNN's RNN v8 API.
//
// Purpose: descriptors and calls for one stack shape; the mapping between
// cuDNN's weight space and the canonical slab (nn/model.h X-macro table);
// capacity planning for workspace and reserve space. Invariants: the data
// descriptors always describe the last xt_cuda_rnn_plan; forward and
// backward of one pass use the same plan. Ownership: descriptors are owned
// here, device buffers by the caller. Threads: the cuDNN handle's stream.
#include "cuda/rnn.h"

#include <stdlib.h>
#include <string.h>

extern "C" {
#include "core/log.h"
}
#include "cuda/cuda_check.h"

struct xt_cuda_rnn {
    cudnnHandle_t h;
    cudnnRNNDescriptor_t desc;
    cudnnDropoutDescriptor_t drop;
    cudnnRNNDataDescriptor_t xd, yd;
    cudnnTensorDescriptor_t hd, md, bd; // states; weight-param query results
    int I, H, L, nseg;
    size_t wbytes, work_cap, res_cap;
};

// ---- descriptors of a pass

// x / y data descriptors (packed, sorted lengths) and the [L][nseg][H] state
// descriptor shared by h and c.
static int s_describe(xt_cuda_rnn *r, int nseg, const int *seq_len, xt_err *err) {
    const int max_len = seq_len[0];
    XT_CUDNN_CHECK(err, cudnnSetRNNDataDescriptor(r->xd, CUDNN_DATA_FLOAT,
                                                  CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, max_len,
                                                  nseg, r->I, seq_len, NULL));
    XT_CUDNN_CHECK(err, cudnnSetRNNDataDescriptor(r->yd, CUDNN_DATA_FLOAT,
                                                  CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, max_len,
                                                  nseg, r->H, seq_len, NULL));
    int dims[3] = {r->L, nseg, r->H}, strides[3] = {nseg * r->H, r->H, 1};
    XT_CUDNN_CHECK(err, cudnnSetTensorNdDescriptor(r->hd, CUDNN_DATA_FLOAT, 3, dims, strides));
    r->nseg = nseg;
    return 0;
}

// Workspace and (training) reserve bytes the described pass needs.
static int s_needs(xt_cuda_rnn *r, int train, size_t *work, size_t *res, xt_err *err) {
    *work = *res = 0;
    XT_CUDNN_CHECK(err, cudnnGetRNNTempSpaceSizes(
                            r->h, r->desc, train ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                            r->xd, work, train ? res : NULL));
    return 0;
}

// ---- lifecycle

void xt_cuda_rnn_destroy(xt_cuda_rnn **self_p) {
    if (!self_p || !*self_p) return;
    xt_cuda_rnn *r = *self_p;
    if (r->desc) cudnnDestroyRNNDescriptor(r->desc);
    if (r->drop) cudnnDestroyDropoutDescriptor(r->drop);
    if (r->xd) cudnnDestroyRNNDataDescriptor(r->xd);
    if (r->yd) cudnnDestroyRNNDataDescriptor(r->yd);
    if (r->hd) cudnnDestroyTensorDescriptor(r->hd);
    if (r->md) cudnnDestroyTensorDescriptor(r->md);
    if (r->bd) cudnnDestroyTensorDescriptor(r->bd);
    free(r);
    *self_p = NULL;
}

// The largest needs over the pass shapes the backend can produce: every
// column whole (max_cols x max_Ts), every step its own sequence (max_cols *
// max_Ts x 1), one whole column beside single steps, and inference.
static int s_capacity(xt_cuda_rnn *r, const xt_cuda_rnn_limits *lim, xt_err *err) {
    const int rows = lim->max_cols * lim->max_Ts;
    const int most = rows > lim->max_infer ? rows : lim->max_infer;
    int *len = (int *)malloc((size_t)most * sizeof(int));
    if (!len) return xt_err_set(err, XT_ENOMEM, "cuda rnn: out of memory planning %d rows", most);
    struct {
        int nseg, first, rest, train;
    } shape[4] = {
        {lim->max_cols, lim->max_Ts, lim->max_Ts, 1},
        {rows, 1, 1, 1},
        {rows - lim->max_Ts + 1, lim->max_Ts, 1, 1},
        {lim->max_infer, 1, 1, 0},
    };
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        if (shape[k].nseg < 1) continue;
        for (int j = 0; j < shape[k].nseg; j++) len[j] = j ? shape[k].rest : shape[k].first;
        rc = s_describe(r, shape[k].nseg, len, err);
        // evaluate runs batch shapes in inference mode: ask both modes
        for (int train = shape[k].train; train >= 0 && !rc; train--) {
            size_t work = 0, res = 0;
            rc = s_needs(r, train, &work, &res, err);
            if (rc) break;
            xt_debug("cuda rnn: %d sequences (first %d steps, %s): workspace %zu B, reserve %zu B",
                     shape[k].nseg, shape[k].first, train ? "training" : "inference", work, res);
            if (work > r->work_cap) r->work_cap = work;
            if (res > r->res_cap) r->res_cap = res;
        }
    }
    free(len);
    return rc;
}

// No dropout (probability 0, no state buffer), the LSTM descriptor, its
// weight-space size, then the buffer capacities.
static int s_configure(xt_cuda_rnn *r, int tf32, const xt_cuda_rnn_limits *lim, xt_err *err) {
    XT_CUDNN_CHECK(err, cudnnSetDropoutDescriptor(r->drop, r->h, 0.0f, NULL, 0, 0));
    XT_CUDNN_CHECK(err, cudnnSetRNNDescriptor_v8(
                            r->desc, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                            CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                            CUDNN_DATA_FLOAT, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH, r->I,
                            r->H, r->H, r->L, r->drop, CUDNN_RNN_PADDED_IO_DISABLED));
    XT_CUDNN_CHECK(err, cudnnGetRNNWeightSpaceSize(r->h, r->desc, &r->wbytes));
    return s_capacity(r, lim, err);
}

int xt_cuda_rnn_new(xt_cuda_rnn **out, cudnnHandle_t h, int I, int H, int L, int tf32,
                    const xt_cuda_rnn_limits *lim, xt_err *err) {
    *out = NULL;
    xt_cuda_rnn *r = (xt_cuda_rnn *)calloc(1, sizeof *r);
    if (!r) return xt_err_set(err, XT_ENOMEM, "cuda rnn: out of memory");
    r->h = h, r->I = I, r->H = H, r->L = L;
    int ok = cudnnCreateRNNDescriptor(&r->desc) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateDropoutDescriptor(&r->drop) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateRNNDataDescriptor(&r->xd) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateRNNDataDescriptor(&r->yd) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateTensorDescriptor(&r->hd) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateTensorDescriptor(&r->md) == CUDNN_STATUS_SUCCESS &&
             cudnnCreateTensorDescriptor(&r->bd) == CUDNN_STATUS_SUCCESS;
    int rc = ok ? s_configure(r, tf32, lim, err)
                : xt_err_set(err, XT_EDEVICE, "cuda rnn: cannot create the cuDNN descriptors");
    if (rc) {
        xt_cuda_rnn_destroy(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void xt_cuda_rnn_sizes(const xt_cuda_rnn *r, size_t *weight_bytes, size_t *work_bytes,
                       size_t *reserve_bytes) {
    *weight_bytes = r->wbytes;
    *work_bytes = r->work_cap;
    *reserve_bytes = r->res_cap;
}

// ---- weight space <-> slab

// Slab offsets of one cuDNN parameter block: matrix or bias `id` (0-3 input
// side gates i, f, g, o; 4-7 recurrent side) of a layer with input width
// cols. Checks the descriptor's shape and row-major strides.
static int s_block(const xt_cuda_rnn *r, cudnnTensorDescriptor_t d, const void *addr,
                   const void *base, size_t expect, int layer, int id, const char *what,
                   size_t *k0, xt_err *err) {
    cudnnDataType_t dt;
    int nb = 0, dims[3] = {0, 0, 0}, strides[3] = {0, 0, 0};
    XT_CUDNN_CHECK(err, cudnnGetTensorNdDescriptor(d, 3, &dt, &nb, dims, strides));
    size_t numel = 1;
    for (int k = 0; k < nb && k < 3; k++) numel *= (size_t)dims[k];
    // row-major: unit stride last, and the row stride is the row length
    const int last = nb >= 1 && nb <= 3 ? nb - 1 : 0;
    const int dense = nb >= 1 && nb <= 3 && strides[last] == 1 &&
                      (nb < 2 || dims[last] == 1 || strides[last - 1] == dims[last]);
    const ptrdiff_t bytes = (const char *)addr - (const char *)base;
    if (!addr || dt != CUDNN_DATA_FLOAT || numel != expect || !dense || bytes < 0 || bytes % 4 ||
        (size_t)bytes + 4 * numel > r->wbytes)
        return xt_err_set(err, XT_EDEVICE,
                          "cuda rnn: cuDNN %s of layer %d id %d is not a row-major float block of "
                          "%zu elements inside the weight space (got %d dims, %zu elements at "
                          "byte %td, strides %d %d %d)",
                          what, layer, id, expect, nb, numel, bytes, strides[0], strides[1],
                          strides[2]);
    *k0 = (size_t)bytes / 4;
    return 0;
}

int xt_cuda_rnn_weight_map(const xt_cuda_rnn *r, void *wspace, const size_t (*off)[4],
                           int32_t *map, xt_err *err) {
    const size_t nw = r->wbytes / 4, H = (size_t)r->H;
    for (size_t k = 0; k < nw; k++) map[k] = -1;
    size_t mapped = 0, expect = 0;
    for (int layer = 0; layer < r->L; layer++) {
        const size_t I = layer ? H : (size_t)r->I;
        expect += 4 * H * (I + H + 2);
        for (int id = 0; id < 8; id++) {
            void *ma = NULL, *ba = NULL;
            XT_CUDNN_CHECK(err, cudnnGetRNNWeightParams(r->h, r->desc, layer, r->wbytes, wspace,
                                                        id, r->md, &ma, r->bd, &ba));
            // gate block g of W_ih / W_hh: rows [g H, (g + 1) H) of a [4H, cols] matrix
            const size_t cols = id < 4 ? I : H, g = (size_t)(id % 4);
            size_t k0;
            int rc = s_block(r, r->md, ma, wspace, H * cols, layer, id, "matrix", &k0, err);
            if (rc) return rc;
            const size_t m0 = off[layer][id < 4 ? 0 : 1] + g * H * cols;
            for (size_t e = 0; e < H * cols; e++) map[k0 + e] = (int32_t)(m0 + e);
            // its bias: b_ih (input side) or b_hh (recurrent side), gate block g
            rc = s_block(r, r->bd, ba, wspace, H, layer, id, "bias", &k0, err);
            if (rc) return rc;
            const size_t b0 = off[layer][id < 4 ? 2 : 3] + g * H;
            for (size_t e = 0; e < H; e++) map[k0 + e] = (int32_t)(b0 + e);
        }
    }
    // every slab element exactly once: the targets are distinct by construction
    // (one block per layer and id); cuDNN blocks overlapping in the weight
    // space would overwrite each other's entries and show up as a shortfall
    for (size_t k = 0; k < nw; k++) mapped += map[k] >= 0;
    if (mapped != expect)
        return xt_err_set(err, XT_EDEVICE,
                          "cuda rnn: the cuDNN weight space maps %zu parameters, the slab has %zu "
                          "(blocks overlap)",
                          mapped, expect);
    return 0;
}

// ---- passes

int xt_cuda_rnn_plan(xt_cuda_rnn *r, int nseg, const int *seq_len, int train, xt_err *err) {
    int rc = s_describe(r, nseg, seq_len, err);
    if (rc) return rc;
    size_t work, res;
    if ((rc = s_needs(r, train, &work, &res, err))) return rc;
    if (work > r->work_cap || res > r->res_cap)
        return xt_err_set(err, XT_EDEVICE,
                          "cuda rnn: %d sequences (longest %d steps) need %zu B of workspace and "
                          "%zu B of reserve; %zu and %zu were allocated at creation",
                          nseg, seq_len[0], work, res, r->work_cap, r->res_cap);
    return 0;
}

int xt_cuda_rnn_forward(xt_cuda_rnn *r, int train, const int32_t *dev_seq_len, const float *x,
                        float *y, const float *hx, const float *cx, float *hy, float *cy,
                        const void *wspace, void *work, void *reserve, xt_err *err) {
    XT_CUDNN_CHECK(err, cudnnRNNForward(r->h, r->desc,
                                        train ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                                        dev_seq_len, r->xd, x, r->yd, y, r->hd, hx, hy, r->hd, cx,
                                        cy, r->wbytes, wspace, r->work_cap, work,
                                        train ? r->res_cap : 0, train ? reserve : NULL));
    return 0;
}

int xt_cuda_rnn_backward(xt_cuda_rnn *r, const int32_t *dev_seq_len, const float *x,
                         const float *y, const float *dy, float *dx, const float *hx,
                         const float *cx, const void *wspace, void *dwspace, void *work,
                         void *reserve, xt_err *err) {
    // data first (it leaves what the weight pass reads in the reserve space)
    XT_CUDNN_CHECK(err, cudnnRNNBackwardData_v8(r->h, r->desc, dev_seq_len, r->yd, y, dy, r->xd,
                                                dx, r->hd, hx, NULL, NULL, r->hd, cx, NULL, NULL,
                                                r->wbytes, wspace, r->work_cap, work, r->res_cap,
                                                reserve));
    XT_CUDNN_CHECK(err, cudnnRNNBackwardWeights_v8(r->h, r->desc, CUDNN_WGRAD_MODE_ADD,
                                                   dev_seq_len, r->xd, x, r->hd, hx, r->yd, y,
                                                   r->wbytes, dwspace, r->work_cap, work,
                                                   r->res_cap, reserve));
    return 0;
}
