// batcher.c - rollout chunks -> the chunk-major xt_batch of nn/backend.h.
//
// Purpose: one batch buffer whose arrays are laid out exactly as the PPO
// update reads them, filled one chunk at a time by copying the decoded
// chunk's arrays (which live in the decoder's arena only until the next
// decode) into the next slot.
// Invariants: slots [0, n) hold complete chunks; the xt_batch view always
// has C = n and points at the same arrays; every array is allocated once at
// creation for max_chunks slots (xt_batcher_add never allocates).
// Ownership: the batcher owns its arrays; the xt_batch it hands out borrows
// them. Threads: one owner at a time (see batcher.h).
#include "batcher.h"

#include <stdlib.h>
#include <string.h>

// What orders a chunk in a canonical batch, and the slot it came in at.
typedef struct {
    uint64_t version, shard; // policy version, FNV-1a of the shard's symbol or portfolio name
    uint32_t tf_sec, env;    // bar length, the actor's env index
    int slot;                // arrival slot (ties: arrival order)
} s_key;

struct xt_batcher {
    xt_batcher_shape sh;
    int cap, n;
    float *obs;          // [cap][T+1][D]
    int32_t *sym;        // [cap] (embedding only)
    float *actions;      // [cap][T][A] (Gaussian)
    int32_t *actions_i;  // [cap][T] (categorical)
    uint8_t *masks;      // [cap][T][A]
    float *logp;         // [cap][T]
    float *rewards;      // [cap][T]
    uint8_t *starts;     // [cap][T]
    uint8_t *terminated; // [cap][T]
    uint8_t *truncated;  // [cap][T]
    float *trunc_value;  // [cap][T] bootstrap values (0 where not truncated)
    uint8_t *has_tv;     // [cap] chunk carried trunc_values
    int n_no_tv;         // chunks in the batch without them
    float *h0, *c0;      // [cap][2 L H]
    uint64_t *version;   // [cap] policy version of each chunk
    s_key *key;          // [cap] canonical-order keys (xt_batcher_sort)
    int *perm;           // [cap] scratch of xt_batcher_sort: source slot of each place
    uint8_t *placed;     // [cap] scratch of xt_batcher_sort: place filled
    xt_batch batch;
};

// ---------------------------------------------------------------- shape

void xt_batcher_shape_of(xt_batcher_shape *sh, const xt_model_spec *spec, int T) {
    *sh = (xt_batcher_shape){0};
    sh->T = T;
    sh->obs_dim = spec->obs_dim;
    sh->act_dim = spec->act_dim;
    sh->gaussian = spec->gaussian;
    sh->L = spec->lstm_layers;
    sh->H = spec->lstm_layers > 0 ? spec->lstm_hidden : 0;
    sh->shared_trunk = spec->shared_trunk;
    sh->n_symbols = spec->emb_dim > 0 ? spec->n_symbols : 0;
    sh->state_size = 2 * sh->L * sh->H;
}

size_t xt_batcher_frame_bytes(const xt_batcher_shape *sh) {
    size_t T = (size_t)sh->T, D = (size_t)sh->obs_dim, A = (size_t)sh->act_dim;
    size_t LH = (size_t)sh->L * (size_t)sh->H;
    size_t act = sh->gaussian ? T * A * 4 : T * 4;
    // obs, actions, logp, values, rewards, trunc values, three flag arrays, masks, 4 states
    size_t bulk = (T + 1) * D * 4 + act + T * 4 + (T + 1) * 4 + T * 4 + T * 4 + 3 * T + T * A + 4 * LH * 4;
    // Field tags and lengths (< 10 bytes each, < 40 fields), the sender id,
    // symbol and portfolio ids (255 bytes each) fit well inside 4 KiB.
    return bulk + 4096;
}

xt_batcher_verdict xt_batcher_check(const xt_batcher_shape *sh, const xt_wire_chunk *c,
                                const xt_cfg_strlist *symbols, int32_t *sym_id, xt_err *err) {
    *sym_id = -1;
#define S_DIM(field, want, what)                                                                   \
    if ((long long)(field) != (long long)(want)) {                                                 \
        xt_err_set(err, XT_EINVAL, "RolloutChunk.%s: %lld but the model takes %lld", what,          \
                   (long long)(field), (long long)(want));                                         \
        return XT_BATCHER_SHAPE;                                                                     \
    }
    S_DIM(c->t, sh->T, "t");
    S_DIM(c->obs_dim, sh->obs_dim, "obs_dim");
    S_DIM(c->n_actions, sh->act_dim, "n_actions");
    S_DIM(c->lstm_layers, sh->L, "lstm_layers");
    S_DIM(c->lstm_hidden, sh->H, "lstm_hidden");
#undef S_DIM
    xt_wire_action_kind want = sh->gaussian ? XT_WIRE_ACTION_CONTINUOUS : XT_WIRE_ACTION_CATEGORICAL;
    if (c->action_kind != want) {
        xt_err_set(err, XT_EINVAL, "RolloutChunk.action_kind: %s actions but the model's head is %s",
                   c->action_kind == XT_WIRE_ACTION_CONTINUOUS ? "continuous" : "categorical",
                   sh->gaussian ? "Gaussian" : "categorical");
        return XT_BATCHER_SHAPE;
    }
    // A separate critic needs its own state at the chunk start; a shared
    // trunk has none, and a chunk that sends one anyway is not for this model.
    if (sh->L > 0 && !sh->shared_trunk && !c->critic_h) {
        xt_err_set(err, XT_EINVAL, "RolloutChunk.critic_h: missing but the model has a separate critic");
        return XT_BATCHER_SHAPE;
    }
    if (sh->shared_trunk && c->critic_h) {
        xt_err_set(err, XT_EINVAL, "RolloutChunk.critic_h: set but the model's critic shares the actor's trunk");
        return XT_BATCHER_SHAPE;
    }
    // The categorical head gives a masked action probability 0 (logp -inf):
    // the actor sampled under that mask, so such a chunk is corrupt.
    if (!sh->gaussian && c->masks) {
        const size_t A = (size_t)sh->act_dim;
        for (int t = 0; t < sh->T; t++)
            if (!c->masks[(size_t)t * A + (size_t)c->actions_cat[t]]) {
                xt_err_set(err, XT_EINVAL, "RolloutChunk.actions[%d]: action %d is masked at that step", t,
                           (int)c->actions_cat[t]);
                return XT_BATCHER_INVALID;
            }
    }
    if (sh->n_symbols > 0) {
        const char *s = c->shard.symbol ? c->shard.symbol : "";
        for (int i = 0; i < symbols->n && i < sh->n_symbols; i++)
            if (strcmp(symbols->v[i], s) == 0) *sym_id = i;
        if (*sym_id < 0) {
            xt_err_set(err, XT_EINVAL, "RolloutChunk.shard.symbol: \"%s\" has no row in the symbol embedding", s);
            return XT_BATCHER_INVALID;
        }
    }
    return XT_BATCHER_OK;
}

// ---------------------------------------------------------------- lifecycle

static void s_view(xt_batcher *b) {
    b->batch = (xt_batch){
        .C = b->n,
        .T = b->sh.T,
        .obs = b->obs,
        .sym = b->sym,
        .actions = b->sh.gaussian ? b->actions : NULL,
        .actions_i = b->sh.gaussian ? NULL : b->actions_i,
        .masks = b->masks,
        .logp = b->logp,
        .rewards = b->rewards,
        .starts = b->starts,
        .terminated = b->terminated,
        .truncated = b->truncated,
        .trunc_value = b->n_no_tv ? NULL : b->trunc_value,
        .valid = NULL,
        .h0 = b->h0,
        .c0 = b->c0,
    };
}

xt_batcher *xt_batcher_new(const xt_batcher_shape *sh, int max_chunks, xt_err *err) {
    if (max_chunks < 1 || sh->T < 1 || sh->obs_dim < 1 || sh->act_dim < 1) {
        xt_err_set(err, XT_EINVAL, "batcher: bad shape (chunks %d, T %d, obs_dim %d, act_dim %d)", max_chunks, sh->T,
                   sh->obs_dim, sh->act_dim);
        return NULL;
    }
    xt_batcher *b = calloc(1, sizeof *b);
    if (!b) goto oom;
    b->sh = *sh;
    b->cap = max_chunks;
    // One slot more than the batch holds: the scratch slot of xt_batcher_sort.
    const size_t C = (size_t)max_chunks + 1, T = (size_t)sh->T, D = (size_t)sh->obs_dim, A = (size_t)sh->act_dim;
    const size_t S = (size_t)(sh->state_size > 0 ? sh->state_size : 1);
    b->obs = malloc(C * (T + 1) * D * sizeof(float));
    b->sym = sh->n_symbols > 0 ? malloc(C * sizeof(int32_t)) : NULL;
    b->actions = sh->gaussian ? malloc(C * T * A * sizeof(float)) : NULL;
    b->actions_i = sh->gaussian ? NULL : malloc(C * T * sizeof(int32_t));
    b->masks = malloc(C * T * A);
    b->logp = malloc(C * T * sizeof(float));
    b->rewards = malloc(C * T * sizeof(float));
    b->starts = malloc(C * T);
    b->terminated = malloc(C * T);
    b->truncated = malloc(C * T);
    b->trunc_value = malloc(C * T * sizeof(float));
    b->has_tv = malloc(C);
    b->h0 = calloc(C * S, sizeof(float));
    b->c0 = calloc(C * S, sizeof(float));
    b->version = calloc(C, sizeof(uint64_t));
    b->key = calloc(C, sizeof *b->key);
    b->placed = calloc(C, 1);
    b->perm = calloc(C, sizeof(int));
    if (!b->key || !b->placed || !b->perm) goto oom;
    if (!b->obs || (sh->n_symbols > 0 && !b->sym) || (sh->gaussian ? !b->actions : !b->actions_i) || !b->masks ||
        !b->logp || !b->rewards || !b->starts || !b->terminated || !b->truncated || !b->trunc_value || !b->has_tv || !b->h0 || !b->c0 || !b->version)
        goto oom;
    s_view(b);
    return b;
oom:
    xt_batcher_destroy(&b);
    xt_err_set(err, XT_ENOMEM, "batcher: out of memory for %d chunks of %d steps x %d features", max_chunks, sh->T,
               sh->obs_dim);
    return NULL;
}

void xt_batcher_destroy(xt_batcher **self_p) {
    if (!self_p || !*self_p) return;
    xt_batcher *b = *self_p;
    free(b->obs), free(b->sym), free(b->actions), free(b->actions_i), free(b->masks);
    free(b->logp), free(b->rewards), free(b->starts), free(b->terminated), free(b->truncated);
    free(b->trunc_value), free(b->has_tv);
    free(b->h0), free(b->c0), free(b->version), free(b->key), free(b->placed), free(b->perm);
    free(b);
    *self_p = NULL;
}

void xt_batcher_reset(xt_batcher *b) {
    b->n = 0;
    b->n_no_tv = 0;
    s_view(b);
}

int xt_batcher_count(const xt_batcher *b) { return b->n; }
int xt_batcher_capacity(const xt_batcher *b) { return b->cap; }
uint64_t xt_batcher_version(const xt_batcher *b, int slot) { return b->version[slot]; }

// ---------------------------------------------------------------- filling

int xt_batcher_add(xt_batcher *b, const xt_wire_chunk *c, int32_t sym_id) {
    if (b->n >= b->cap) return XT_ESTATE;
    const int k = b->n;
    const size_t T = (size_t)b->sh.T, D = (size_t)b->sh.obs_dim, A = (size_t)b->sh.act_dim;
    const size_t LH = (size_t)b->sh.L * (size_t)b->sh.H, S = 2 * LH;
    // obs [T+1][D] of chunk k
    memcpy(b->obs + (size_t)k * (T + 1) * D, c->obs, (T + 1) * D * sizeof(float));
    if (b->sh.gaussian)
        memcpy(b->actions + (size_t)k * T * A, c->actions_cont, T * A * sizeof(float));
    else
        memcpy(b->actions_i + (size_t)k * T, c->actions_cat, T * sizeof(int32_t));
    // masks [T][A]: a chunk without masks allows everything
    if (c->masks)
        memcpy(b->masks + (size_t)k * T * A, c->masks, T * A);
    else
        memset(b->masks + (size_t)k * T * A, 1, T * A);
    memcpy(b->logp + (size_t)k * T, c->logp, T * sizeof(float));
    memcpy(b->rewards + (size_t)k * T, c->rewards, T * sizeof(float));
    memcpy(b->starts + (size_t)k * T, c->episode_start, T);
    memcpy(b->terminated + (size_t)k * T, c->terminated, T);
    memcpy(b->truncated + (size_t)k * T, c->truncated, T);
    // Bootstrap values at truncations; one chunk without them sends the whole
    // batch to gae.h's fallback (bootstrap with the step's own value).
    if (c->trunc_values)
        memcpy(b->trunc_value + (size_t)k * T, c->trunc_values, T * sizeof(float));
    else
        memset(b->trunc_value + (size_t)k * T, 0, T * sizeof(float)), b->n_no_tv++;
    b->has_tv[k] = c->trunc_values != NULL;
    b->batch.trunc_value = b->n_no_tv ? NULL : b->trunc_value;    // state [net][L][H]: actor half, then the critic's own (zeros when shared)
    if (S > 0) {
        float *h = b->h0 + (size_t)k * S, *cc = b->c0 + (size_t)k * S;
        memcpy(h, c->actor_h, LH * sizeof(float));
        memcpy(cc, c->actor_c, LH * sizeof(float));
        if (c->critic_h && c->critic_c) {
            memcpy(h + LH, c->critic_h, LH * sizeof(float));
            memcpy(cc + LH, c->critic_c, LH * sizeof(float));
        } else {
            memset(h + LH, 0, LH * sizeof(float));
            memset(cc + LH, 0, LH * sizeof(float));
        }
    }
    if (b->sym) b->sym[k] = sym_id;
    b->version[k] = c->policy_version;
    const char *name = c->shard.portfolio && c->shard.portfolio[0] ? c->shard.portfolio : c->shard.symbol;
    uint64_t hsh = 0xcbf29ce484222325ull;
    for (const char *p = name; p && *p; p++) hsh = (hsh ^ (uint8_t)*p) * 0x100000001b3ull;
    b->key[k] = (s_key){c->policy_version, hsh, c->shard.tf_sec, c->env_index, k};
    b->n++;
    b->batch.C = b->n;
    return k;
}

// Copies slot `from` to slot `to` (two different slots): every per-chunk
// array but the sort key.
static void s_move_data(xt_batcher *b, int to, int from) {
    const size_t T = (size_t)b->sh.T, D = (size_t)b->sh.obs_dim, A = (size_t)b->sh.act_dim;
    const size_t S = (size_t)b->sh.state_size;
#define S_MV(arr, per) memmove((arr) + (size_t)to * (per), (arr) + (size_t)from * (per), (per) * sizeof *(arr))
    S_MV(b->obs, (T + 1) * D);
    if (b->sh.gaussian)
        S_MV(b->actions, T * A);
    else
        S_MV(b->actions_i, T);
    S_MV(b->masks, T * A);
    S_MV(b->logp, T);
    S_MV(b->rewards, T);
    S_MV(b->starts, T);
    S_MV(b->terminated, T);
    S_MV(b->truncated, T);
    S_MV(b->trunc_value, T);
    b->has_tv[to] = b->has_tv[from];
    if (S > 0) {
        S_MV(b->h0, S);
        S_MV(b->c0, S);
    }
    if (b->sym) b->sym[to] = b->sym[from];
    b->version[to] = b->version[from];
#undef S_MV
}

static void s_move(xt_batcher *b, int to, int from) {
    s_move_data(b, to, from);
    b->key[to] = b->key[from];
}

int xt_batcher_drop_older(xt_batcher *b, uint64_t min_version) {
    int w = 0;
    for (int r = 0; r < b->n; r++) {
        if (b->version[r] < min_version) continue;
        if (w != r) s_move(b, w, r);
        w++;
    }
    int dropped = b->n - w;
    b->n = w;
    b->batch.C = w;
    b->n_no_tv = 0;
    for (int r = 0; r < w; r++) b->n_no_tv += !b->has_tv[r];
    b->batch.trunc_value = b->n_no_tv ? NULL : b->trunc_value;
    return dropped;
}

const xt_batch *xt_batcher_batch(xt_batcher *b) { return &b->batch; }

// ---------------------------------------------------------------- canonical order

static int s_key_cmp(const void *pa, const void *pb) {
    const s_key *x = pa, *y = pb;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
    if (x->tf_sec != y->tf_sec) return x->tf_sec < y->tf_sec ? -1 : 1;
    if (x->env != y->env) return x->env < y->env ? -1 : 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

void xt_batcher_sort(xt_batcher *b) {
    const int n = b->n, tmp = b->cap; // slot cap is the scratch slot
    for (int k = 0; k < n; k++) b->key[k].slot = k;
    qsort(b->key, (size_t)n, sizeof *b->key, s_key_cmp);
    // key[i].slot: the slot whose chunk belongs at i. Apply that permutation
    // cycle by cycle: park chunk i in the scratch slot, pull each source
    // into place, and put the parked chunk where the cycle closes.
    for (int i = 0; i < n; i++) b->perm[i] = b->key[i].slot, b->placed[i] = 0;
    for (int i = 0; i < n; i++) {
        if (b->placed[i]) continue;
        b->placed[i] = 1;
        if (b->perm[i] == i) continue;
        s_move_data(b, tmp, i);
        for (int j = i;;) {
            int src = b->perm[j];
            b->placed[j] = 1;
            if (src == i) {
                s_move_data(b, j, tmp);
                break;
            }
            s_move_data(b, j, src);
            j = src;
        }
    }
    for (int i = 0; i < n; i++) b->key[i].slot = i;
}
