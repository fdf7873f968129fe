// trainer.c - one-process synchronous recurrent PPO: config -> backend, PPO,
// collector; iterations; validation; checkpoints (trainer.h).
//
// Invariants: t->params mirrors the backend's params after every update and
// load (the Gaussian sampler reads log_std from it; checkpoints write it);
// env_steps counts every collected step that went into an update.
// Ownership: the trainer owns backend, PPO, collector and host slabs and
// borrows the shards. Threads: one thread drives a trainer.
#include "rl/trainer.h"

#include "backend_select.h"

#include "core/log.h"
#include "nn/ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct xt_trainer {
    xt_config cfg;
    const xt_rl_shard *shards;
    int S, fold, N, T, n_chunks;
    xt_env_params envp;
    xt_model_spec spec;
    xt_backend *be;
    xt_ppo *ppo;
    xt_rollout *ro;
    float *params, *adam_m, *adam_v; // host copies [n_params]
    int64_t env_steps, updates;
    xt_rl_shard *val;                // shards with a usable validation window
    int n_val;
    char *config_text;
    size_t config_len;
};

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// A 64-bit seed of stream `stream` of run.seed.
static uint64_t s_seed(uint64_t seed, uint64_t stream) {
    xt_rng r;
    xt_rng_derive(&r, seed, stream);
    return xt_rng_u64(&r);
}

// ---- config -> model and PPO settings

int xt_rl_model_spec(xt_model_spec *s, const xt_config *cfg, int obs_dim, int act_dim, xt_err *err) {
    int gauss = cfg->env_kind == XT_ENV_KIND_PORTFOLIO;
    xt_model_spec_default(s, obs_dim, act_dim, gauss);
    s->lstm_hidden = (int)cfg->model_lstm_hidden;
    s->lstm_layers = (int)cfg->model_lstm_layers;
    s->mlp_layers = cfg->model_mlp.n;
    for (int i = 0; i < cfg->model_mlp.n && i < XT_NN_MAX_MLP; i++) s->mlp[i] = (int)cfg->model_mlp.v[i];
    s->shared_trunk = cfg->model_shared_trunk;
    s->log_std_init = (float)cfg->model_log_std_init;
    if (cfg->model_symbol_embedding > 0) {
        if (gauss || cfg->env_symbol_encoding != XT_SYMENC_ID) {
            char w[384];
            return xt_err_set(err, XT_EINVAL, "%s: a symbol embedding needs env.kind asset and env.symbol_encoding id",
                              xt_config_where(cfg, XT_CFGK_model_symbol_embedding, w, sizeof w));
        }
        s->n_symbols = cfg->data_symbols.n;
        s->emb_dim = (int)cfg->model_symbol_embedding;
    }
    xt_model_layout lay;
    int rc = xt_model_layout_init(&lay, s, err);
    return rc ? xt_err_prefix(err, "%s: model", cfg->path[0] ? cfg->path : "(config)") : 0;
}

static int s_ppo_config(xt_ppo_config *pc, const xt_config *cfg, int minibatch_chunks, xt_err *err) {
    xt_ppo_config_default(pc);
    pc->n_epochs = (int)cfg->ppo_n_epochs;
    pc->minibatch_chunks = minibatch_chunks;
    pc->gamma = cfg->ppo_gamma;
    pc->gae_lambda = cfg->ppo_gae_lambda;
    pc->hp.clip_eps = cfg->ppo_clip_range;
    pc->hp.vf_coef = cfg->ppo_vf_coef;
    pc->hp.vf_clip = cfg->ppo_vf_clip;
    pc->normalize_adv = cfg->ppo_normalize_advantage;
    pc->normalize_reward = cfg->ppo_normalize_reward;
    pc->reward_clip = cfg->ppo_reward_clip;
    pc->target_kl = cfg->ppo_target_kl;
    pc->max_grad_norm = cfg->ppo_max_grad_norm;
    pc->lr.kind = cfg->ppo_lr_schedule == XT_LR_LINEAR ? XT_SCHED_LINEAR : XT_SCHED_CONSTANT;
    pc->lr.lr_start = cfg->ppo_lr;
    pc->lr.lr_end = cfg->ppo_lr_end;
    pc->lr.total_steps = cfg->ppo_total_steps;
    // the entropy schedule [[from_step, coef], ...] -> adam.h piecewise points
    const xt_cfg_sched *es = &cfg->ppo_ent_schedule;
    pc->n_ent = es->n < XT_PPO_MAX_ENT_POINTS ? es->n : XT_PPO_MAX_ENT_POINTS;
    for (int i = 0; i < pc->n_ent; i++) pc->ent[i] = (xt_sched_point){es->step[i], es->value[i]};
    pc->hp.ent_coef = pc->n_ent ? pc->ent[0].value : 0.0;
    pc->seed = s_seed((uint64_t)cfg->run_seed, XT_RL_STREAM_SHUFFLE);
    int rc = xt_ppo_config_check(pc, err);
    return rc ? xt_err_prefix(err, "%s", cfg->path[0] ? cfg->path : "(config)") : 0;
}

// ---- lifecycle

static int s_download(xt_trainer *t, int all, int64_t *adam_step, xt_err *err) {
    return xt_backend_download(t->be, t->params, NULL, all ? t->adam_m : NULL, all ? t->adam_v : NULL, adam_step, err);
}

xt_trainer *xt_trainer_new(const xt_config *cfg, const xt_rl_shard *shards, int n_shards, int fold, xt_err *err) {
    xt_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        xt_err_set(err, XT_ENOMEM, "trainer: out of memory");
        return NULL;
    }
    t->cfg = *cfg, t->shards = shards, t->S = n_shards, t->fold = fold;
    t->N = (int)cfg->ppo_n_envs, t->T = (int)cfg->ppo_chunk_len;
    t->n_chunks = (int)((cfg->ppo_n_steps + t->T - 1) / t->T); // n_steps rounded up to whole chunks
    int D = 0, A = 0;
    if (xt_rl_env_params(&t->envp, cfg, err) || xt_rollout_dims((int)cfg->env_kind, &t->envp, shards, n_shards, &D, &A, err) ||
        xt_rl_model_spec(&t->spec, cfg, D, A, err))
        goto fail;
    const int C = t->N * t->n_chunks;
    int M = (int)(cfg->ppo_batch_size / t->T); // minibatch: whole chunks
    M = M < 1 ? 1 : (M > C ? C : M);
    xt_backend_config bc;
    xt_backend_config_default(&bc);
    bc.T = t->T;
    bc.max_chunks = M > 32 ? M : (C < 32 ? C : 32); // evaluate runs this many chunks per pass
    bc.max_infer = t->N > n_shards ? t->N : n_shards;
    bc.threads = (int)cfg->ppo_threads;
    bc.adam.eps = cfg->ppo_adam_eps;
    bc.ls_min = (float)cfg->model_log_std_min, bc.ls_max = (float)cfg->model_log_std_max;
    // learner.backend: auto picks CUDA when a device is usable (and logs why not).
    char kind[16];
    xt_config_enum_name(XT_CFGK_learner_backend, (int)cfg->learner_backend, kind, sizeof kind);
    if (xt_backend_open(&t->be, kind, &t->spec, &bc, s_seed((uint64_t)cfg->run_seed, XT_RL_STREAM_INIT), 0, err))
        goto fail;
    xt_ppo_config pc;
    if (s_ppo_config(&pc, cfg, M, err) || !(t->ppo = xt_ppo_new(t->be, &pc, C, err))) goto fail;
    xt_rollout_config rc = {(int)cfg->env_kind, XT_RL_TRAIN, t->N, t->T, t->n_chunks, (uint64_t)cfg->run_seed,
                            bc.ls_min, bc.ls_max};
    if (!(t->ro = xt_rollout_new(&rc, shards, n_shards, &t->envp, &t->spec, err))) goto fail;
    if (t->N < n_shards)
        xt_warn("ppo.n_envs %d < %d shards: shards %s.. get no training env", t->N, n_shards, shards[t->N].name);
    size_t n = xt_backend_layout(t->be)->n_params;
    t->params = malloc(n * sizeof(float)), t->adam_m = malloc(n * sizeof(float)), t->adam_v = malloc(n * sizeof(float));
    t->val = calloc((size_t)n_shards, sizeof *t->val);
    FILE *f = open_memstream(&t->config_text, &t->config_len);
    if (!t->params || !t->adam_m || !t->adam_v || !t->val || !f) {
        if (f) fclose(f);
        xt_err_set(err, XT_ENOMEM, "trainer: out of memory for %zu params", n);
        goto fail;
    }
    xt_config_dump(cfg, f);
    fclose(f);
    for (int s = 0; s < n_shards; s++)
        if (xt_rl_window_usable(&shards[s], XT_RL_VAL)) t->val[t->n_val++] = shards[s];
    if (s_download(t, 0, NULL, err)) goto fail;
    return t;
fail:
    xt_trainer_destroy(&t);
    return NULL;
}

void xt_trainer_destroy(xt_trainer **self_p) {
    if (!self_p || !*self_p) return;
    xt_trainer *t = *self_p;
    xt_rollout_destroy(&t->ro);
    xt_ppo_destroy(&t->ppo);
    xt_backend_destroy(&t->be);
    free(t->params), free(t->adam_m), free(t->adam_v), free(t->val), free(t->config_text);
    free(t);
    *self_p = NULL;
}

// ---- training

static const float *s_log_std(const xt_trainer *t) {
    const xt_model_layout *lay = xt_backend_layout(t->be);
    return t->spec.gaussian ? t->params + lay->off[XT_T_actor_log_std] : NULL;
}

int xt_trainer_collect(xt_trainer *t, int j0, int j1, xt_err *err) {
    return xt_rollout_collect_part(t->ro, t->be, s_log_std(t), j0, j1, err);
}

int xt_trainer_chunks_per_env(const xt_trainer *t) { return t->n_chunks; }

int xt_trainer_update(xt_trainer *t, const xt_batch *batch, xt_train_iter *it, xt_err *err) {
    const xt_batch *b = batch ? batch : xt_rollout_batch(t->ro);
    double t0 = s_now();
    t->env_steps += (int64_t)b->C * b->T;
    int rc = xt_ppo_update(t->ppo, b, t->env_steps, &it->ppo, err);
    if (rc) return rc;
    t->updates++;
    if ((rc = s_download(t, 0, NULL, err))) return rc;
    it->env_steps = t->env_steps, it->updates = t->updates;
    it->t_update = s_now() - t0;
    return 0;
}

int xt_trainer_iterate(xt_trainer *t, xt_train_iter *it, xt_err *err) {
    memset(it, 0, sizeof *it);
    double t0 = s_now();
    int rc = xt_trainer_collect(t, 0, t->n_chunks, err);
    if (rc) return rc;
    it->t_collect = s_now() - t0;
    xt_rollout_stats_take(t->ro, &it->roll);
    return xt_trainer_update(t, NULL, it, err);
}

int64_t xt_trainer_env_steps(const xt_trainer *t) { return t->env_steps; }
int64_t xt_trainer_updates(const xt_trainer *t) { return t->updates; }
int64_t xt_trainer_steps_per_iter(const xt_trainer *t) { return (int64_t)t->N * t->n_chunks * t->T; }

// ---- evaluation

int xt_trainer_eval(xt_trainer *t, int window, xt_metrics *out, xt_eval_step_fn fn, void *arg, xt_err *err) {
    return xt_eval_policy(t->be, (int)t->cfg.env_kind, t->shards, t->S, window, &t->envp, out, fn, arg, NULL, err);
}

int xt_trainer_validate(xt_trainer *t, double *sharpe, xt_err *err) {
    if (t->n_val == 0) return XT_ENOTFOUND;
    xt_metrics m[XT_RL_MAX_SHARDS];
    int rc = xt_eval_policy(t->be, (int)t->cfg.env_kind, t->val, t->n_val, XT_RL_VAL, &t->envp, m, NULL, NULL, NULL, err);
    if (rc) return rc;
    double sum = 0.0;
    for (int s = 0; s < t->n_val; s++) sum += m[s].sharpe;
    *sharpe = sum / t->n_val;
    return 0;
}

// ---- checkpoints

enum { SPEC_N = 13 };

static void s_spec_ints(const xt_model_spec *s, int32_t v[SPEC_N]) {
    int32_t x[SPEC_N] = {s->obs_dim,     s->n_symbols,  s->emb_dim, s->act_dim, s->gaussian,
                         s->lstm_hidden, s->lstm_layers, s->mlp_layers, s->mlp[0], s->mlp[1],
                         s->mlp[2],      s->mlp[3],      s->shared_trunk};
    memcpy(v, x, sizeof x);
}

static const char *s_spec_names[SPEC_N] = {"obs_dim", "n_symbols", "emb_dim", "act_dim", "gaussian",
                                           "lstm_hidden", "lstm_layers", "mlp_layers", "mlp[0]", "mlp[1]",
                                           "mlp[2]", "mlp[3]", "shared_trunk"};

// Shard names, one per line.
static size_t s_shard_names(const xt_trainer *t, char *buf, size_t cap) {
    size_t len = 0;
    for (int s = 0; s < t->S && len < cap; s++) len += (size_t)snprintf(buf + len, cap - len, "%s\n", t->shards[s].name);
    return len < cap ? len : cap;
}

int xt_trainer_save(xt_trainer *t, const char *path, double val_sharpe, xt_err *err) {
    int64_t adam_step = 0;
    int rc = s_download(t, 1, &adam_step, err);
    if (rc) return rc;
    const xt_model_layout *lay = xt_backend_layout(t->be);
    xt_ckpt_writer *w = xt_ckpt_writer_new(16 + 3 * t->S + 3 * xt_model_ckpt_sections(lay), err);
    if (!w) return err ? err->code : XT_ENOMEM;
    int32_t spec[SPEC_N];
    s_spec_ints(&t->spec, spec);
    int64_t counters[4] = {t->env_steps, t->updates, t->fold, t->cfg.run_seed};
    char names[XT_RL_MAX_SHARDS * XT_RL_NAME_MAX];
    size_t names_len = s_shard_names(t, names, sizeof names);
    const xt_rng *shuffle = xt_ppo_rng(t->ppo);
    double rstats[3];
    xt_ppo_reward_stats(t->ppo, rstats);
    const xt_rng *sample = xt_rollout_rngs(t->ro);
    struct {
        const char *name;
        int dtype;
        const void *data;
        uint64_t count;
    } sec[] = {
        {"format", XT_CKPT_DTYPE_U8, XT_TRAIN_CKPT_FORMAT, strlen(XT_TRAIN_CKPT_FORMAT)},
        {"config", XT_CKPT_DTYPE_U8, t->config_text, t->config_len},
        {"model.spec", XT_CKPT_DTYPE_I32, spec, SPEC_N},
        {"adam.step", XT_CKPT_DTYPE_I64, &adam_step, 1},
        {"counters", XT_CKPT_DTYPE_I64, counters, 4},
        {"val.sharpe", XT_CKPT_DTYPE_F64, &val_sharpe, 1},
        {"rng.shuffle", XT_CKPT_DTYPE_U64, shuffle->s, 4},
        {"ppo.reward_stats", XT_CKPT_DTYPE_F64, rstats, 3},
        {"rng.sample", XT_CKPT_DTYPE_U64, sample, 4 * (uint64_t)t->N},
        {"shards", XT_CKPT_DTYPE_U8, names, names_len},
    };
    for (size_t k = 0; k < sizeof sec / sizeof *sec && rc == 0; k++)
        rc = xt_ckpt_writer_add(w, sec[k].name, sec[k].dtype, sec[k].data, sec[k].count, err);
    // one named section per tensor (nn/model.h), for params and both Adam moments
    if (rc == 0) rc = xt_model_ckpt_add(w, lay, t->params, "params.", err);
    if (rc == 0) rc = xt_model_ckpt_add(w, lay, t->adam_m, "adam_m.", err);
    if (rc == 0) rc = xt_model_ckpt_add(w, lay, t->adam_v, "adam_v.", err);
    for (int s = 0; s < t->S && rc == 0; s++) {
        const xt_rl_shard *sh = &t->shards[s];
        if (sh->n_norm <= 0) continue;
        char n1[64], n2[64], n3[64];
        snprintf(n1, sizeof n1, "norm.%d.center", s), snprintf(n2, sizeof n2, "norm.%d.scale", s);
        snprintf(n3, sizeof n3, "norm.%d.scaled", s);
        if (!(rc = xt_ckpt_writer_add(w, n1, XT_CKPT_DTYPE_F64, sh->norm_center, (uint64_t)sh->n_norm, err)) &&
            !(rc = xt_ckpt_writer_add(w, n2, XT_CKPT_DTYPE_F64, sh->norm_scale, (uint64_t)sh->n_norm, err)))
            rc = xt_ckpt_writer_add(w, n3, XT_CKPT_DTYPE_U8, sh->norm_scaled, (uint64_t)sh->n_norm, err);
    }
    if (rc == 0) rc = xt_ckpt_writer_write(w, path, err);
    xt_ckpt_writer_destroy(&w);
    return rc;
}

static int s_check_format(const xt_ckpt *ck, const char *path, xt_err *err) {
    const void *p;
    uint64_t n;
    if (xt_ckpt_find(ck, "format", &(xt_ckpt_section){0}) != 0 ||
        xt_ckpt_get_var(ck, "format", XT_CKPT_DTYPE_U8, &p, &n, err) != 0 || n != strlen(XT_TRAIN_CKPT_FORMAT) ||
        memcmp(p, XT_TRAIN_CKPT_FORMAT, n) != 0)
        return xt_err_set(err, XT_EINVAL, "%s: not an xtrade training checkpoint (no \"%s\" format section)", path,
                          XT_TRAIN_CKPT_FORMAT);
    return 0;
}

// The checkpoint must match this trainer: model spec, shard list, normalizers.
static int s_check_match(const xt_trainer *t, const xt_ckpt *ck, const char *path, int norms, xt_err *err) {
    const void *p;
    uint64_t n;
    int rc = xt_ckpt_get(ck, "model.spec", XT_CKPT_DTYPE_I32, SPEC_N, &p, err);
    if (rc) return rc;
    int32_t want[SPEC_N];
    s_spec_ints(&t->spec, want);
    for (int k = 0; k < SPEC_N; k++) {
        int32_t have = ((const int32_t *)p)[k];
        if (have != want[k])
            return xt_err_set(err, XT_EINVAL,
                              "%s: the checkpoint's model has %s %d, the config and data give %d; "
                              "evaluate with the config it was trained with",
                              path, s_spec_names[k], (int)have, (int)want[k]);
    }
    char names[XT_RL_MAX_SHARDS * XT_RL_NAME_MAX];
    size_t len = s_shard_names(t, names, sizeof names);
    if ((rc = xt_ckpt_get_var(ck, "shards", XT_CKPT_DTYPE_U8, &p, &n, err))) return rc;
    if (n != len || memcmp(p, names, len) != 0) {
        char have[256];
        size_t k = n < sizeof have - 1 ? (size_t)n : sizeof have - 1;
        memcpy(have, p, k), have[k] = '\0';
        for (char *c = have; *c; c++) *c = *c == '\n' ? ' ' : *c;
        for (char *c = names; c < names + len; c++) *c = *c == '\n' ? ' ' : *c;
        names[len ? len - 1 : 0] = '\0';
        return xt_err_set(err, XT_EINVAL, "%s: the checkpoint was trained on shards [%.*s], the config gives [%s]", path,
                          (int)(k ? k - 1 : 0), have, names);
    }
    for (int s = 0; s < t->S && norms; s++) {
        const xt_rl_shard *sh = &t->shards[s];
        if (sh->n_norm <= 0) continue;
        char nm[3][64];
        snprintf(nm[0], 64, "norm.%d.center", s), snprintf(nm[1], 64, "norm.%d.scale", s);
        snprintf(nm[2], 64, "norm.%d.scaled", s);
        const void *c, *sc, *sd;
        if ((rc = xt_ckpt_get(ck, nm[0], XT_CKPT_DTYPE_F64, (uint64_t)sh->n_norm, &c, err)) ||
            (rc = xt_ckpt_get(ck, nm[1], XT_CKPT_DTYPE_F64, (uint64_t)sh->n_norm, &sc, err)) ||
            (rc = xt_ckpt_get(ck, nm[2], XT_CKPT_DTYPE_U8, (uint64_t)sh->n_norm, &sd, err)))
            return rc;
        size_t nb = (size_t)sh->n_norm * sizeof(double);
        if (memcmp(c, sh->norm_center, nb) || memcmp(sc, sh->norm_scale, nb) || memcmp(sd, sh->norm_scaled, (size_t)sh->n_norm))
            return xt_err_set(err, XT_EINVAL,
                              "%s: shard %s: the feature normalizer differs from the one in the feature cache "
                              "(another fold's checkpoint, or the caches were rebuilt from other data)",
                              path, sh->name);
    }
    return 0;
}

int xt_trainer_load(xt_trainer *t, const char *path, int mode, xt_err *err) {
    xt_ckpt *ck = NULL;
    int rc = xt_ckpt_open(&ck, path, err);
    if (rc) return rc;
    const int all = mode == XT_TRAINER_LOAD_RESUME;
    const xt_model_layout *lay = xt_backend_layout(t->be);
    const void *step = NULL, *cnt = NULL, *shuf = NULL, *samp = NULL, *rst = NULL;
    if ((rc = s_check_format(ck, path, err)) || (rc = s_check_match(t, ck, path, mode != XT_TRAINER_LOAD_WARM, err)) ||
        (rc = xt_model_ckpt_read(ck, lay, t->params, "params.", err)))
        goto done;
    if (all) {
        if ((rc = xt_model_ckpt_read(ck, lay, t->adam_m, "adam_m.", err)) ||
            (rc = xt_model_ckpt_read(ck, lay, t->adam_v, "adam_v.", err)) ||
            (rc = xt_ckpt_get(ck, "adam.step", XT_CKPT_DTYPE_I64, 1, &step, err)) ||
            (rc = xt_ckpt_get(ck, "counters", XT_CKPT_DTYPE_I64, 4, &cnt, err)) ||
            (rc = xt_ckpt_get(ck, "rng.shuffle", XT_CKPT_DTYPE_U64, 4, &shuf, err)) ||
            (rc = xt_ckpt_get(ck, "ppo.reward_stats", XT_CKPT_DTYPE_F64, 3, &rst, err)) ||
            (rc = xt_ckpt_get(ck, "rng.sample", XT_CKPT_DTYPE_U64, 4 * (uint64_t)t->N, &samp, err)))
            goto done;
    }
    rc = xt_backend_upload(t->be, t->params, all ? t->adam_m : NULL, all ? t->adam_v : NULL,
                           step ? *(const int64_t *)step : 0, err);
    if (rc) {
        xt_err_prefix(err, "%s", path);
        goto done;
    }
    if (all) {
        const int64_t *c = cnt;
        t->env_steps = c[0], t->updates = c[1];
        memcpy(xt_ppo_rng(t->ppo)->s, shuf, 4 * sizeof(uint64_t));
        double rs[3];
        memcpy(rs, rst, sizeof rs);
        xt_ppo_set_reward_stats(t->ppo, rs);
        memcpy(xt_rollout_rngs(t->ro), samp, (size_t)t->N * sizeof(xt_rng));
    }
    rc = s_download(t, 0, NULL, err);
done:
    // a failed load leaves the backend's params as they were: mirror them again
    if (rc) s_download(t, 0, NULL, NULL);
    xt_ckpt_destroy(&ck);
    return rc;
}

int xt_trainer_ckpt_fold(const char *path, int *fold, xt_err *err) {
    xt_ckpt *ck = NULL;
    int rc = xt_ckpt_open(&ck, path, err);
    if (rc) return rc;
    const void *cnt;
    if (!(rc = s_check_format(ck, path, err)) && !(rc = xt_ckpt_get(ck, "counters", XT_CKPT_DTYPE_I64, 4, &cnt, err)))
        *fold = (int)((const int64_t *)cnt)[2];
    xt_ckpt_destroy(&ck);
    return rc;
}

// ---- accessors

const float *xt_trainer_params(const xt_trainer *t) { return t->params; }
const xt_model_layout *xt_trainer_layout(const xt_trainer *t) { return xt_backend_layout(t->be); }
xt_backend *xt_trainer_backend(xt_trainer *t) { return t->be; }
xt_rollout *xt_trainer_rollout(xt_trainer *t) { return t->ro; }
const xt_env_params *xt_trainer_env_params(const xt_trainer *t) { return &t->envp; }
