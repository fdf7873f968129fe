// plan.c - run plan from the config: folds (via the dataset module) and
// shards (symbols or the portfolio, times timeframes).
//
// Invariants: 1 <= n_folds <= XT_MAX_FOLDS, 1 <= n_shards <=
// XT_PLAN_MAX_SHARDS, shard names are unique per timeframe. The plan is a
// plain value (no heap); the broker keeps one for the whole run.
#include "plan.h"

#include "core/crc32.h"
#include "core/xtime.h"

#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------- hash

// 64-bit identity: two CRC-32 streams with different seeds (as the dataset
// cache hash does); collisions only matter between two configs of one run id.
typedef struct {
    uint32_t a, b;
} s_hash;

static void s_hash_add(s_hash *h, const void *p, size_t n) {
    h->a = xt_crc32(h->a, p, n);
    h->b = xt_crc32(h->b ^ 0x9e3779b9u, p, n);
}

static void s_hash_i64(s_hash *h, int64_t v) {
    // Little-endian bytes, so the hash does not depend on the host.
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)v >> (8 * i));
    s_hash_add(h, b, 8);
}

// ---------------------------------------------------------------- plan

int xt_plan_init(xt_plan *p, const xt_config *cfg, xt_err *err) {
    memset(p, 0, sizeof *p);
    snprintf(p->run_id, sizeof p->run_id, "%s", cfg->run_id);
    p->seed = (uint64_t)cfg->run_seed;
    p->step_budget = (uint64_t)cfg->ppo_total_steps;
    int rc = xt_dataset_folds(p->folds, &p->n_folds, cfg, err);
    if (rc) return rc;
    if (p->n_folds < 1)
        return xt_err_set(err, XT_EINVAL, "folds.explicit: the run plan needs at least one fold");

    // Shards: symbol-major for the asset env, one portfolio per timeframe
    // for the portfolio env (the same naming as xt_dataset_cache_path).
    int portfolio = cfg->env_kind == XT_ENV_KIND_PORTFOLIO;
    int n_names = portfolio ? 1 : cfg->data_symbols.n;
    for (int i = 0; i < n_names; i++)
        for (int t = 0; t < cfg->data_timeframes.n; t++) {
            xt_plan_shard *s = &p->shards[p->n_shards++];
            snprintf(s->name, sizeof s->name, "%s", portfolio ? "portfolio" : cfg->data_symbols.v[i]);
            s->portfolio = portfolio;
            s->tf_sec = (int)cfg->data_timeframes.v[t];
        }

    s_hash h = {0x2545f491u, 0x6c8e9cf5u};
    s_hash_add(&h, p->run_id, strlen(p->run_id) + 1);
    s_hash_i64(&h, (int64_t)p->seed);
    s_hash_i64(&h, (int64_t)p->step_budget);
    for (int f = 0; f < p->n_folds; f++) {
        const xt_fold *fd = &p->folds[f];
        int64_t v[5] = {fd->train_start, fd->val_start, fd->train_end, fd->test_start, fd->test_end};
        for (int i = 0; i < 5; i++) s_hash_i64(&h, v[i]);
    }
    for (int s = 0; s < p->n_shards; s++) {
        s_hash_add(&h, p->shards[s].name, strlen(p->shards[s].name) + 1);
        s_hash_i64(&h, p->shards[s].portfolio);
        s_hash_i64(&h, p->shards[s].tf_sec);
    }
    p->hash = ((uint64_t)h.a << 32) | h.b;
    return 0;
}

void xt_plan_wire_shard(const xt_plan *p, int fold, int s, xt_wire_phase phase, xt_wire_shard *out) {
    const xt_fold *f = &p->folds[fold];
    const xt_plan_shard *sh = &p->shards[s];
    memset(out, 0, sizeof *out);
    out->key.symbol = sh->portfolio ? "" : sh->name;
    out->key.portfolio = sh->portfolio ? sh->name : "";
    out->key.tf_sec = (uint32_t)sh->tf_sec;
    out->key.fold = (uint32_t)fold;
    if (phase == XT_WIRE_PHASE_EVAL) {
        out->ts_begin = f->test_start, out->ts_end = f->test_end;
    } else {
        // The validation tail belongs to the learner; an empty remainder
        // (validation covering everything) cannot happen with fraction <= 0.5.
        out->ts_begin = f->train_start;
        out->ts_end = f->val_start > f->train_start ? f->val_start : f->train_end;
    }
}

int xt_plan_find_shard(const xt_plan *p, const xt_wire_shard_key *k) {
    const char *name = k->portfolio && k->portfolio[0] ? k->portfolio : k->symbol;
    int portfolio = k->portfolio && k->portfolio[0];
    if (!name) return -1;
    for (int s = 0; s < p->n_shards; s++) {
        const xt_plan_shard *sh = &p->shards[s];
        if (sh->portfolio == portfolio && (uint32_t)sh->tf_sec == k->tf_sec && strcmp(sh->name, name) == 0)
            return s;
    }
    return -1;
}

const char *xt_plan_shard_label(const xt_plan *p, int s, char *buf, size_t cap) {
    char tf[16];
    snprintf(buf, cap, "%s/%s", p->shards[s].name, xt_timeframe_name(p->shards[s].tf_sec, tf));
    return buf;
}
