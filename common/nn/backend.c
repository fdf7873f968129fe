// backend.c - the backend interface: argument checks shared by every
// backend, then dispatch through the ops table.
//
// Purpose: keep each backend's code to the computation. Everything a caller
// can get wrong (sizes, indices, missing arrays) is checked here once, with
// a sentence naming the field, before an op runs. Invariants: an op is only
// called with arguments that passed these checks. Ownership: the backend
// object belongs to its creator; xt_backend_destroy frees it through its op.
// Threads: one driving thread per backend.
#include "nn/backend.h"

#include <math.h>
#include <string.h>

// ---- config and batch checks

void xt_backend_config_default(xt_backend_config *c) {
    memset(c, 0, sizeof *c);
    c->max_chunks = 64;
    c->T = 64;
    c->max_infer = 0;
    c->threads = 2;
    c->adam = (xt_adam_hparams)XT_ADAM_HPARAMS_DEFAULT;
    c->ls_min = -5.0f;
    c->ls_max = 2.0f;
}

int xt_batch_check(const xt_batch *b, const xt_model_spec *spec, xt_err *err) {
    if (b->C < 1 || b->T < 1)
        return xt_err_set(err, XT_EINVAL,
                          "batch: needs at least one chunk of one step (got %d x %d)", b->C, b->T);
    struct {
        const void *p;
        const char *name;
        int need;
    } req[] = {
        {b->obs, "obs", 1},
        {b->logp, "logp", 1},
        {b->rewards, "rewards", 1},
        {b->starts, "starts", 1},
        {b->terminated, "terminated", 1},
        {b->actions, "actions", spec->gaussian},
        {b->actions_i, "actions_i", !spec->gaussian},
        {b->sym, "sym", spec->emb_dim > 0},
    };
    for (size_t k = 0; k < sizeof req / sizeof *req; k++)
        if (req[k].need && !req[k].p)
            return xt_err_set(err, XT_EINVAL,
                              "batch.%s: missing (NULL) but required by the model spec",
                              req[k].name);
    if ((b->h0 == NULL) != (b->c0 == NULL))
        return xt_err_set(err, XT_EINVAL, "batch.h0/c0: give both initial states or neither");
    // symbol ids index the embedding table: a bad one would fail mid-update
    for (int c = 0; b->sym && spec->emb_dim && c < b->C; c++)
        if (b->sym[c] < 0 || b->sym[c] >= spec->n_symbols)
            return xt_err_set(err, XT_EINVAL, "batch.sym[%d]: symbol id %d is outside [0, %d)", c,
                              (int)b->sym[c], spec->n_symbols);
    return 0;
}

// ---- dispatch

void xt_backend_destroy(xt_backend **self_p) {
    if (!self_p || !*self_p)
        return;
    (*self_p)->ops->destroy(*self_p);
    *self_p = NULL;
}

const char *xt_backend_name(const xt_backend *self) {
    return self->ops->name;
}

const xt_model_layout *xt_backend_layout(const xt_backend *self) {
    return &self->lay;
}

int xt_backend_upload(xt_backend *self, const float *params, const float *adam_m,
                      const float *adam_v, int64_t adam_step, xt_err *err) {
    if (!params)
        return xt_err_set(err, XT_EINVAL, "backend upload: params missing (NULL)");
    if ((adam_m == NULL) != (adam_v == NULL))
        return xt_err_set(err, XT_EINVAL, "backend upload: give both Adam moments or neither");
    if (adam_step < 0)
        return xt_err_set(err, XT_EINVAL, "backend upload: adam_step must be >= 0 (got %lld)",
                          (long long)adam_step);
    int64_t bad = xt_adam_first_nonfinite(params, self->lay.n_params);
    if (bad >= 0)
        return xt_err_set(err, XT_ENUMERIC, "backend upload: params[%lld] is not finite (%g)",
                          (long long)bad, (double)params[bad]);
    return self->ops->upload(self, params, adam_m, adam_v, adam_m ? adam_step : 0, err);
}

int xt_backend_download(xt_backend *self, float *params, float *grads, float *adam_m, float *adam_v,
                        int64_t *adam_step, xt_err *err) {
    return self->ops->download(self, params, grads, adam_m, adam_v, adam_step, err);
}

int xt_backend_set_batch(xt_backend *self, const xt_batch *batch, xt_err *err) {
    int rc = xt_batch_check(batch, &self->lay.spec, err);
    if (rc)
        return rc;
    if (batch->T != self->cfg.T)
        return xt_err_set(err, XT_EINVAL,
                          "batch.T: must equal the backend's chunk length %d (got %d)", self->cfg.T,
                          batch->T);
    return self->ops->set_batch(self, batch, err);
}

int xt_backend_evaluate(xt_backend *self, float *values, xt_err *err) {
    return self->ops->evaluate(self, values, err);
}

int xt_backend_loss_grad(xt_backend *self, const int *chunks, int n, const float *adv,
                         const float *ret, const float *values, const xt_loss_coefs *coefs,
                         xt_ppo_stats *stats, xt_err *err) {
    if (n < 1 || n > self->cfg.max_chunks)
        return xt_err_set(err, XT_EINVAL,
                          "backend loss_grad: %d chunks per minibatch, must be 1..%d", n,
                          self->cfg.max_chunks);
    if (coefs->hp.vf_clip > 0 && !values)
        return xt_err_set(err, XT_EINVAL, "backend loss_grad: vf_clip needs the evaluated values");
    if (!isfinite(coefs->hp.clip_eps) || coefs->hp.clip_eps <= 0)
        return xt_err_set(err, XT_EINVAL, "backend loss_grad: clip_eps must be > 0 (got %g)",
                          coefs->hp.clip_eps);
    return self->ops->loss_grad(self, chunks, n, adv, ret, values, coefs, stats, err);
}

int xt_backend_step(xt_backend *self, double lr, double max_grad_norm, double *grad_norm,
                    xt_err *err) {
    if (!isfinite(lr) || lr < 0)
        return xt_err_set(err, XT_EINVAL, "backend step: lr must be finite and >= 0 (got %g)", lr);
    return self->ops->step(self, lr, max_grad_norm, grad_norm, err);
}

int xt_backend_infer(xt_backend *self, const float *obs, const int32_t *sym, const uint8_t *starts,
                     float *h, float *c, float *actor_out, float *value, int B, xt_err *err) {
    if (B < 1 || B > self->cfg.max_infer)
        return xt_err_set(err, XT_EINVAL, "backend infer: %d envs, the backend was built for 1..%d",
                          B, self->cfg.max_infer);
    return self->ops->infer(self, obs, sym, starts, h, c, actor_out, value, B, err);
}

void xt_backend_timing_get(const xt_backend *self, xt_backend_timing *out) {
    self->ops->timing(self, out);
}
