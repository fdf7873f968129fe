// model.c - the actor-critic's tensor table, parameter init and the whole
// network's forward / backward / batched inference.
//
// Purpose: turn an xt_model_spec into a layout (the one table of named
// tensors generated from XT_MODEL_TENSORS) and run the network on a
// parameter slab laid out by it. The float and double models come from one
// implementation, model_impl.inc, included twice below.
//
// Invariants: a layout is a pure function of the spec, so every process that
// agrees on the spec agrees on the slab bytes' meaning. Tensors absent from a
// spec have size 0 and keep their place (and name) in the table.
//
// Ownership: an xt_model owns its activation / scratch memory (one
// allocation, sized at xt_model_new from max_B x max_T); parameter and
// gradient slabs belong to the caller. Threads: a model is driven by one
// thread at a time; with an xt_par (model.h) a forward or backward of two
// separate nets runs the critic's half on a second thread, which touches
// only that net's activations, scratch and gradients. BLAS threading is set
// by the model's owner (backend, actor).
#include "nn/model.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ckpt.h"
#include "nn/dense.h"
#include "nn/lstm.h"

// ---- tables generated from the list

typedef struct {
    int net, kind, layer, slot;
} s_role_t;

#define S_X_ROLE(name, rows, cols, net, kind, layer, slot) {net, kind, layer, slot},
static const s_role_t s_role[XT_T_COUNT] = {XT_MODEL_TENSORS(S_X_ROLE)};
#undef S_X_ROLE

#define S_X_NAME(name, rows, cols, net, kind, layer, slot) #name,
static const char *const s_name[XT_T_COUNT] = {XT_MODEL_TENSORS(S_X_NAME)};
#undef S_X_NAME

// Tensors start on 16-element (64-byte) boundaries.
#define S_ALIGN(n) (((n) + 15) & ~(size_t)15)

// ---- spec

void xt_model_spec_default(xt_model_spec *s, int obs_dim, int act_dim, int gaussian) {
    memset(s, 0, sizeof *s);
    s->obs_dim = obs_dim;
    s->act_dim = act_dim;
    s->gaussian = gaussian ? 1 : 0;
    s->lstm_hidden = 128;
    s->lstm_layers = 2;
    s->mlp_layers = 2;
    s->mlp[0] = 256;
    s->mlp[1] = 128;
    s->log_std_init = 0.0f;
    s->forget_bias = 1.0f;
}

static int s_range(xt_err *err, const char *field, int v, int lo, int hi) {
    if (v >= lo && v <= hi)
        return 0;
    return xt_err_set(err, XT_EINVAL, "model.%s: must be between %d and %d (got %d)", field, lo, hi,
                      v);
}

static int s_spec_check(const xt_model_spec *s, xt_err *err) {
    int rc;
    if ((rc = s_range(err, "obs_dim", s->obs_dim, 1, 1 << 16)))
        return rc;
    if ((rc = s_range(err, "act_dim", s->act_dim, 1, 1 << 12)))
        return rc;
    if ((rc = s_range(err, "n_symbols", s->n_symbols, 0, 1 << 20)))
        return rc;
    if ((rc = s_range(err, "emb_dim", s->emb_dim, 0, 1 << 12)))
        return rc;
    if ((s->n_symbols > 0) != (s->emb_dim > 0))
        return xt_err_set(err, XT_EINVAL,
                          "model.emb_dim: n_symbols (%d) and emb_dim (%d) must both be 0 or both "
                          "be positive",
                          s->n_symbols, s->emb_dim);
    if ((rc = s_range(err, "gaussian", s->gaussian, 0, 1)))
        return rc;
    if ((rc = s_range(err, "lstm_layers", s->lstm_layers, 0, XT_NN_MAX_LSTM)))
        return rc;
    if (s->lstm_layers > 0 && (rc = s_range(err, "lstm_hidden", s->lstm_hidden, 1, 1 << 12)))
        return rc;
    if ((rc = s_range(err, "mlp_layers", s->mlp_layers, 0, XT_NN_MAX_MLP)))
        return rc;
    for (int k = 0; k < s->mlp_layers; k++) {
        char f[16];
        snprintf(f, sizeof f, "mlp[%d]", k);
        if ((rc = s_range(err, f, s->mlp[k], 1, 1 << 16)))
            return rc;
    }
    if ((rc = s_range(err, "shared_trunk", s->shared_trunk, 0, 1)))
        return rc;
    if (!isfinite(s->log_std_init) || s->log_std_init < -20 || s->log_std_init > 5)
        return xt_err_set(err, XT_EINVAL, "model.log_std_init: must be in [-20, 5] (got %g)",
                          (double)s->log_std_init);
    if (!isfinite(s->forget_bias) || fabsf(s->forget_bias) > 10)
        return xt_err_set(err, XT_EINVAL, "model.forget_bias: must be in [-10, 10] (got %g)",
                          (double)s->forget_bias);
    return 0;
}

// ---- layout

int xt_model_layout_init(xt_model_layout *lay, const xt_model_spec *spec, xt_err *err) {
    int rc = s_spec_check(spec, err);
    if (rc)
        return rc;
    memset(lay, 0, sizeof *lay);
    lay->spec = *spec;
    xt_model_dims *dm = &lay->dims;
    lay->in_dim = spec->obs_dim + spec->emb_dim;
    // widths of each net's trunk: LSTM stack then dense ReLU layers
    int trunk_w[2] = {0, 0};
    for (int n = 0; n < 2; n++) {
        if (n == 1 && spec->shared_trunk)
            break;
        int w = lay->in_dim;
        for (int k = 0; k < spec->lstm_layers; k++) {
            dm->li[n][k] = w;
            dm->lh[n][k] = w = spec->lstm_hidden;
        }
        for (int k = 0; k < spec->mlp_layers; k++) {
            dm->fi[n][k] = w;
            dm->fo[n][k] = w = spec->mlp[k];
        }
        trunk_w[n] = w;
    }
    dm->hi[0] = trunk_w[0];
    dm->ho[0] = spec->act_dim;
    dm->hi[1] = spec->shared_trunk ? trunk_w[0] : trunk_w[1];
    dm->ho[1] = 1;
    dm->n_sym = spec->n_symbols;
    dm->emb = spec->emb_dim;
    dm->std = spec->gaussian ? spec->act_dim : 0;
    lay->state_size = 2 * spec->lstm_layers * (spec->lstm_layers ? spec->lstm_hidden : 0);

    // shapes from the list, then offsets in list order
    const xt_model_dims *d = dm;
#define S_X_SHAPE(name, r, c, net, kind, layer, slot) \
    lay->rows[XT_T_##name] = (size_t)(r);             \
    lay->cols[XT_T_##name] = (size_t)(c);
    XT_MODEL_TENSORS(S_X_SHAPE)
#undef S_X_SHAPE
    size_t off = 0;
    for (int id = 0; id < XT_T_COUNT; id++) {
        if (lay->rows[id] == 0 || lay->cols[id] == 0)
            lay->rows[id] = lay->cols[id] = 0;
        lay->off[id] = off;
        off += S_ALIGN(lay->rows[id] * lay->cols[id]);
        const s_role_t *r = &s_role[id];
        if (r->kind == XT_KIND_LSTM)
            lay->lstm[r->net][r->layer][r->slot] = id;
        if (r->kind == XT_KIND_FC)
            lay->fc[r->net][r->layer][r->slot] = id;
        if (r->kind == XT_KIND_HEAD)
            lay->head[r->net][r->slot] = id;
    }
    lay->n_params = off;
    return 0;
}

const char *xt_model_tensor_name(int id) {
    return id >= 0 && id < XT_T_COUNT ? s_name[id] : "?";
}

int xt_model_tensor_find(const char *name) {
    for (int id = 0; id < XT_T_COUNT; id++)
        if (strcmp(s_name[id], name) == 0)
            return id;
    return XT_ENOTFOUND;
}

void xt_model_ptrs_bind(xt_model_ptrs *p, const xt_model_layout *lay, float *slab) {
#define S_X_BIND(name, rows, cols, net, kind, layer, slot) p->name = slab + lay->off[XT_T_##name];
    XT_MODEL_TENSORS(S_X_BIND)
#undef S_X_BIND
}

// ---- initialisation

// Orthonormalises nvec vectors of len elements (element stride es, vector
// stride vs) in place by modified Gram-Schmidt, then scales them by gain.
// Requires nvec <= len. Dot products accumulate in double.
static void s_orthonormal(float *w, int nvec, int len, size_t vs, size_t es, double gain,
                          xt_rng *rng) {
    for (int a = 0; a < nvec; a++) {
        float *va = w + a * vs;
        for (;;) {
            for (int e = 0; e < len; e++)
                va[e * es] = (float)xt_rng_normal(rng);
            for (int b = 0; b < a; b++) {
                const float *vb = w + b * vs;
                double dot = 0;
                for (int e = 0; e < len; e++)
                    dot += (double)va[e * es] * vb[e * es];
                for (int e = 0; e < len; e++)
                    va[e * es] -= (float)(dot * vb[e * es]);
            }
            double nn = 0;
            for (int e = 0; e < len; e++)
                nn += (double)va[e * es] * va[e * es];
            if (nn < 1e-8)
                continue; // (numerically) dependent draw: draw again
            double inv = 1.0 / sqrt(nn);
            for (int e = 0; e < len; e++)
                va[e * es] = (float)(va[e * es] * inv);
            break;
        }
    }
    for (int a = 0; a < nvec; a++)
        for (int e = 0; e < len; e++)
            w[a * vs + e * es] *= (float)gain;
}

// W [rows, cols] orthogonal: orthonormal rows when rows <= cols, else columns.
static void s_orthogonal(float *w, size_t rows, size_t cols, double gain, xt_rng *rng) {
    if (rows <= cols)
        s_orthonormal(w, (int)rows, (int)cols, cols, 1, gain, rng);
    else
        s_orthonormal(w, (int)cols, (int)rows, 1, cols, gain, rng);
}

void xt_model_init_params(const xt_model_layout *lay, float *params, xt_rng *rng) {
    const xt_model_spec *s = &lay->spec;
    memset(params, 0, lay->n_params * sizeof *params);
    for (int id = 0; id < XT_T_COUNT; id++) {
        float *w = params + lay->off[id];
        size_t rows = lay->rows[id], cols = lay->cols[id], n = rows * cols;
        const s_role_t *r = &s_role[id];
        if (n == 0)
            continue;
        if (r->kind == XT_KIND_EMB) {
            for (size_t k = 0; k < n; k++)
                w[k] = (float)xt_rng_normal(rng);
        } else if (r->kind == XT_KIND_LSTM && r->slot <= 1) {
            // PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
            double a = 1.0 / sqrt((double)s->lstm_hidden);
            for (size_t k = 0; k < n; k++)
                w[k] = (float)(a * (2 * xt_rng_uniform(rng) - 1));
        } else if (r->kind == XT_KIND_LSTM && r->slot == 2) {
            // b_ih: forget block [H, 2H) starts at forget_bias; b_hh stays 0
            int H = s->lstm_hidden;
            for (int k = H; k < 2 * H; k++)
                w[k] = s->forget_bias;
        } else if (r->kind == XT_KIND_FC && r->slot == 0) {
            s_orthogonal(w, rows, cols, sqrt(2.0), rng);
        } else if (r->kind == XT_KIND_HEAD && r->slot == 0) {
            s_orthogonal(w, rows, cols, r->net == 0 ? 0.01 : 1.0, rng);
        } else if (r->kind == XT_KIND_LOGSTD) {
            for (size_t k = 0; k < n; k++)
                w[k] = s->log_std_init;
        }
    }
}

double xt_model_step_flops(const xt_model_layout *lay) {
    // every weight matrix is used once per env-step (2 FLOPs per MAC)
    double f = 0;
    for (int id = 0; id < XT_T_COUNT; id++) {
        const s_role_t *r = &s_role[id];
        int matrix = (r->kind == XT_KIND_LSTM && r->slot <= 1) ||
                     ((r->kind == XT_KIND_FC || r->kind == XT_KIND_HEAD) && r->slot == 0);
        if (matrix)
            f += 2.0 * (double)xt_model_tensor_size(lay, id);
    }
    return f;
}

// ---- checkpoints

static int s_section_name(char *buf, size_t cap, const char *prefix, int id, xt_err *err) {
    int n = snprintf(buf, cap, "%s%s", prefix ? prefix : "", s_name[id]);
    if (n < 0 || (size_t)n > XT_CKPT_NAME_MAX)
        return xt_err_set(err, XT_EINVAL,
                          "model checkpoint: section name \"%s%s\" is longer than %d",
                          prefix ? prefix : "", s_name[id], XT_CKPT_NAME_MAX);
    return 0;
}

int xt_model_ckpt_sections(const xt_model_layout *lay) {
    int n = 0;
    for (int id = 0; id < XT_T_COUNT; id++)
        n += xt_model_tensor_size(lay, id) > 0;
    return n;
}

int xt_model_ckpt_add(xt_ckpt_writer *w, const xt_model_layout *lay, const float *slab,
                      const char *prefix, xt_err *err) {
    char name[XT_CKPT_NAME_MAX + 8];
    for (int id = 0; id < XT_T_COUNT; id++) {
        size_t n = xt_model_tensor_size(lay, id);
        if (!n)
            continue;
        int rc = s_section_name(name, sizeof name, prefix, id, err);
        if (!rc)
            rc = xt_ckpt_writer_add(w, name, XT_CKPT_DTYPE_F32, slab + lay->off[id], n, err);
        if (rc)
            return rc;
    }
    return 0;
}

int xt_model_ckpt_read(const xt_ckpt *ck, const xt_model_layout *lay, float *slab,
                       const char *prefix, xt_err *err) {
    char name[XT_CKPT_NAME_MAX + 8];
    memset(slab, 0, lay->n_params * sizeof *slab);
    for (int id = 0; id < XT_T_COUNT; id++) {
        size_t n = xt_model_tensor_size(lay, id);
        if (!n)
            continue;
        const void *data = NULL;
        int rc = s_section_name(name, sizeof name, prefix, id, err);
        if (!rc)
            rc = xt_ckpt_get(ck, name, XT_CKPT_DTYPE_F32, n, &data, err);
        if (rc)
            return rc;
        memcpy(slab + lay->off[id], data, n * sizeof *slab);
    }
    return 0;
}

// ---- float model

#define REAL float
#define SFX(name) name
#include "nn/model_impl.inc"
#undef REAL
#undef SFX

// ---- double model

#define REAL double
#define SFX(name) name##_f64
#include "nn/model_impl.inc"
