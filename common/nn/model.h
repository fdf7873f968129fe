// model.h - the recurrent actor-critic: tensor table, parameter slab, forward
// and backward of the whole network, batched single-step inference.
//
//   x = obs [++ symbol embedding]
//   actor:  x -> LSTM(H) x L -> Dense ReLU (mlp[0]) ... -> head Dense(A)
//           (logits for a categorical head, means for a Gaussian one, plus a
//           state-independent log_std [A] parameter for the Gaussian)
//   critic: x -> its own LSTM(H) x L -> Dense ReLU ... -> head Dense(1)
//           or, with shared_trunk, head Dense(1) on the actor's trunk output.
//
// Every tensor is declared once in XT_MODEL_TENSORS below; the id enum, the
// size/offset table, the names used by checkpoints and the weights message,
// the per-layer lookup used by forward/backward and the gradient-check loop
// are all generated from it. Layers a spec does not use have size 0.
// Params, grads and Adam moments are each one float32 slab laid out by
// xt_model_layout (tensors in list order, each starting on a 16-element
// boundary; padding is zero).
//
// Activations are time-major: row r = t * B + b of a [T * B, width] matrix.
// Recurrent state (h or c) is [2 nets][L][B][H] (net 0 actor, 1 critic; the
// critic half is unused with shared_trunk).
//
// xt_model (float) and xt_model_f64 (double, for finite-difference checks)
// are built from one implementation.
#ifndef XT_MODEL_H
#define XT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

#define XT_NN_MAX_LSTM 4
#define XT_NN_MAX_MLP 4

// ---- spec

typedef struct {
    int obs_dim;            // features per step
    int n_symbols;          // rows of the learned symbol embedding (0 = none)
    int emb_dim;            // embedding width, concatenated to obs (0 = none)
    int act_dim;            // A: logits (categorical) or means (Gaussian)
    int gaussian;           // 1: learned log_std [A] (diagonal Gaussian head)
    int lstm_hidden;        // H (default 128)
    int lstm_layers;        // L in 0..4 (default 2)
    int mlp_layers;         // dense ReLU layers after the LSTM, 0..4 (default 2)
    int mlp[XT_NN_MAX_MLP]; // their widths (default {256, 128})
    int shared_trunk;       // 1: critic head on the actor trunk (default 0)
    float log_std_init;     // initial log_std (default 0)
    float forget_bias;      // initial forget-gate bias in b_ih (default 1)
} xt_model_spec;

// Seed-003 defaults: L = 2, H = 128, MLP {256, 128}, separate critic.
void xt_model_spec_default(xt_model_spec *s, int obs_dim, int act_dim, int gaussian);

// ---- the tensor list

// Widths derived from a spec; the shape expressions of the list read them.
// A width of 0 means the layer is absent.
typedef struct {
    int li[2][XT_NN_MAX_LSTM], lh[2][XT_NN_MAX_LSTM]; // LSTM layer input, hidden
    int fi[2][XT_NN_MAX_MLP], fo[2][XT_NN_MAX_MLP];   // dense layer input, output
    int hi[2], ho[2];                                 // head input, output (A or 1)
    int n_sym, emb, std;                              // embedding rows, cols; log_std
} xt_model_dims;

enum { XT_KIND_EMB, XT_KIND_LSTM, XT_KIND_FC, XT_KIND_HEAD, XT_KIND_LOGSTD };

// X(name, rows, cols, net, kind, layer, slot); shapes read `const xt_model_dims *d`.
// LSTM slots: 0 W_ih [4H, I], 1 W_hh [4H, H], 2 b_ih [4H], 3 b_hh [4H]
// (PyTorch / cuDNN layout, gates i, f, g, o). Dense and head: 0 W [O, I], 1 b [O].
#define XT_MODEL_LSTM(X, net, n, k)                                              \
    X(net##_lstm##k##_w_ih, 4 * d->lh[n][k], d->li[n][k], n, XT_KIND_LSTM, k, 0) \
    X(net##_lstm##k##_w_hh, 4 * d->lh[n][k], d->lh[n][k], n, XT_KIND_LSTM, k, 1) \
    X(net##_lstm##k##_b_ih, 4 * d->lh[n][k], 1, n, XT_KIND_LSTM, k, 2)           \
    X(net##_lstm##k##_b_hh, 4 * d->lh[n][k], 1, n, XT_KIND_LSTM, k, 3)
#define XT_MODEL_FC(X, net, n, k)                                     \
    X(net##_fc##k##_w, d->fo[n][k], d->fi[n][k], n, XT_KIND_FC, k, 0) \
    X(net##_fc##k##_b, d->fo[n][k], 1, n, XT_KIND_FC, k, 1)
#define XT_MODEL_NET(X, net, n)                                \
    XT_MODEL_LSTM(X, net, n, 0)                                \
    XT_MODEL_LSTM(X, net, n, 1)                                \
    XT_MODEL_LSTM(X, net, n, 2)                                \
    XT_MODEL_LSTM(X, net, n, 3)                                \
    XT_MODEL_FC(X, net, n, 0)                                  \
    XT_MODEL_FC(X, net, n, 1)                                  \
    XT_MODEL_FC(X, net, n, 2)                                  \
    XT_MODEL_FC(X, net, n, 3)                                  \
    X(net##_head_w, d->ho[n], d->hi[n], n, XT_KIND_HEAD, 0, 0) \
    X(net##_head_b, d->ho[n], 1, n, XT_KIND_HEAD, 0, 1)
#define XT_MODEL_TENSORS(X)                              \
    X(sym_emb, d->n_sym, d->emb, 0, XT_KIND_EMB, 0, 0)   \
    XT_MODEL_NET(X, actor, 0)                            \
    X(actor_log_std, d->std, 1, 0, XT_KIND_LOGSTD, 0, 0) \
    XT_MODEL_NET(X, critic, 1)

#define XT_MODEL_X_ID(name, rows, cols, net, kind, layer, slot) XT_T_##name,
typedef enum { XT_MODEL_TENSORS(XT_MODEL_X_ID) XT_T_COUNT } xt_tensor_id;

// Named pointers into one slab (xt_model_ptrs_bind).
#define XT_MODEL_X_PTR(name, rows, cols, net, kind, layer, slot) float *name;
typedef struct {
    XT_MODEL_TENSORS(XT_MODEL_X_PTR)
} xt_model_ptrs;

// ---- layout (precision independent)

typedef struct {
    xt_model_spec spec;
    xt_model_dims dims;
    size_t rows[XT_T_COUNT], cols[XT_T_COUNT], off[XT_T_COUNT];
    size_t n_params; // slab elements, padding included
    int lstm[2][XT_NN_MAX_LSTM][4], fc[2][XT_NN_MAX_MLP][2], head[2][2]; // tensor ids
    int in_dim;                                                          // obs_dim + emb_dim
    int state_size; // elements of h (or c) per env: 2 L H
} xt_model_layout;

// Validates spec (fields named in the sentence) and fills the table.
int xt_model_layout_init(xt_model_layout *lay, const xt_model_spec *spec, xt_err *err);
// "actor_lstm0_w_ih", ... (a static string; id < XT_T_COUNT).
const char *xt_model_tensor_name(int id);
// Id of a name, or XT_ENOTFOUND.
int xt_model_tensor_find(const char *name);
static inline size_t xt_model_tensor_size(const xt_model_layout *lay, int id) {
    return lay->rows[id] * lay->cols[id];
}
void xt_model_ptrs_bind(xt_model_ptrs *p, const xt_model_layout *lay, float *slab);

// Fresh parameters from rng (slab of lay->n_params, padding zeroed):
// LSTM weights U(-1/sqrt(H), 1/sqrt(H)), b_hh = 0, b_ih = 0 except the forget
// block = forget_bias; dense layers orthogonal, gain sqrt(2), bias 0; actor
// head orthogonal gain 0.01; critic head orthogonal gain 1; embedding N(0, 1);
// log_std = log_std_init.
void xt_model_init_params(const xt_model_layout *lay, float *params, xt_rng *rng);

// Multiply-add FLOPs (2 per MAC) of one env-step forward, actor + critic.
double xt_model_step_flops(const xt_model_layout *lay);

// ---- checkpoints: one named float32 section per non-empty tensor

struct xt_ckpt_writer;
struct xt_ckpt;

// Sections a slab adds (the non-empty tensors).
int xt_model_ckpt_sections(const xt_model_layout *lay);
// Adds "<prefix><tensor name>" sections (e.g. prefix "params." gives
// "params.actor_lstm0_w_ih") pointing into slab (not copied: keep it alive
// until the writer has written).
int xt_model_ckpt_add(struct xt_ckpt_writer *w, const xt_model_layout *lay, const float *slab,
                      const char *prefix, xt_err *err);
// Fills slab (n_params floats, padding zeroed) from those sections. A missing
// section or one whose length differs from the layout's fails, naming it.
int xt_model_ckpt_read(const struct xt_ckpt *ck, const xt_model_layout *lay, float *slab,
                       const char *prefix, xt_err *err);

// ---- model (forward / backward / infer)

typedef struct xt_model xt_model;
typedef struct xt_model_f64 xt_model_f64;

enum { XT_NET_ACTOR = 1, XT_NET_CRITIC = 2, XT_NET_BOTH = 3 };

// Inputs of one forward over [T, B]. Buffers must stay valid until backward.
typedef struct {
    const float *obs;      // [T, B, obs_dim]
    const int32_t *sym;    // [T, B] symbol ids in [0, n_symbols) (NULL without embedding)
    const uint8_t *starts; // [T, B] nonzero: an episode starts here, state reset (NULL: none)
    const float *h0, *c0;  // [2][L][B][H] state before t = 0 (NULL = zeros)
} xt_model_input;
typedef struct {
    const double *obs;
    const int32_t *sym;
    const uint8_t *starts;
    const double *h0, *c0;
} xt_model_input_f64;

// Workspace for up to max_B envs x max_T steps; train = 1 adds the backward
// scratch. Caller owns the result (xt_model_destroy).
xt_model *xt_model_new(const xt_model_spec *spec, int max_B, int max_T, int train, xt_err *err);
xt_model_f64 *xt_model_new_f64(const xt_model_spec *spec, int max_B, int max_T, int train,
                               xt_err *err);
void xt_model_destroy(xt_model **m);
void xt_model_destroy_f64(xt_model_f64 **m);
const xt_model_layout *xt_model_layout_of(const xt_model *m);
const xt_model_layout *xt_model_layout_of_f64(const xt_model_f64 *m);

// Forward of the nets in `nets` (XT_NET_*) over [T, B]. Fails (XT_EINVAL) on
// B / T beyond the workspace or a symbol id out of range.
int xt_model_forward(xt_model *m, const float *params, const xt_model_input *in, int B, int T,
                     int nets, xt_err *err);
int xt_model_forward_f64(xt_model_f64 *m, const double *params, const xt_model_input_f64 *in, int B,
                         int T, int nets, xt_err *err);

// ---- the two nets at once
//
// Without a shared trunk the actor and the critic are independent networks.
// A model given an xt_par runs, whenever a forward or backward computes both
// nets, each net's half (trunk + head) as one of two concurrent tasks. Each
// net's arithmetic stays on one thread in the serial order, and the shared
// embedding's gradient is added after both, actor rows first: results are
// bit-identical with and without a par. The tasks call BLAS at the same
// time, so the owner keeps BLAS at one thread while a par is in use.
// Shared trunk, or one net only: serial, the par is not used.
typedef void (*xt_par_task)(void *arg, int k);
typedef struct {
    // Runs task(arg, 0) and task(arg, 1) concurrently; returns when both have.
    void (*run2)(void *ctx, xt_par_task task, void *arg);
    void *ctx;
} xt_par;

// par is copied (NULL = serial); its ctx must outlive the model's use of it.
void xt_model_set_par(xt_model *m, const xt_par *par);
void xt_model_set_par_f64(xt_model_f64 *m, const xt_par *par);

// Outputs of the last forward: actor head [T * B, A], values [T * B].
const float *xt_model_actor_out(const xt_model *m);
const float *xt_model_values(const xt_model *m);
const double *xt_model_actor_out_f64(const xt_model_f64 *m);
const double *xt_model_values_f64(const xt_model_f64 *m);
// State after the last step of the last forward, [2][L][B][H] each.
void xt_model_final_state(const xt_model *m, float *h, float *c);
void xt_model_final_state_f64(const xt_model_f64 *m, double *h, double *c);

// Backward of the last forward (train model): dactor [T * B, A], dvalue
// [T * B] (NULL = zero gradient), dlog_std [A] (NULL = none) -> grads (+=).
void xt_model_backward(xt_model *m, float *grads, const float *params, const float *dactor,
                       const float *dvalue, const float *dlog_std);
void xt_model_backward_f64(xt_model_f64 *m, double *grads, const double *params,
                           const double *dactor, const double *dvalue, const double *dlog_std);

// One step of B envs: obs [B, obs_dim], sym [B] (NULL without embedding),
// starts [B] (NULL = none), h, c [2][L][B][H] carried in and out. Writes
// actor_out [B, A] and value [B]; a NULL output skips that net (its state is
// then left as it was). Two GEMMs per LSTM layer (input and recurrent, all
// four gates fused), one per dense layer; no allocation.
int xt_model_infer(xt_model *m, const float *params, const float *obs, const int32_t *sym,
                   const uint8_t *starts, float *h, float *c, float *actor_out, float *value, int B,
                   xt_err *err);
int xt_model_infer_f64(xt_model_f64 *m, const double *params, const double *obs, const int32_t *sym,
                       const uint8_t *starts, double *h, double *c, double *actor_out,
                       double *value, int B, xt_err *err);

#endif
