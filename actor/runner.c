// runner.c - the actor's shard runner (runner.h): rl/rollout.h does the
// stepping, sampling and chunk recording; this file maps an Assignment onto
// it, installs weights between collects, checks what comes out and turns
// each env's chunk into a wire view.
//
// Invariants: the collector always runs one chunk slot per collect
// (n_chunks = 1), so chunk c of the batch is env c's; `ready` is set only
// after a complete collect and cleared at the start of the next; params
// change only in xt_runner_set_params, never during a collect.
// Ownership: collector, backend, params copy and per-env scratch are owned;
// the caller's shards (and their markets) are borrowed. Threads: one.
#include "runner.h"

#include "core/config.h"
#include "nn/backend.h"
#include "rl/rollout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int used;
    uint64_t version, salt, tick;
    void *state; // [snap_bytes]: xt_rollout_snapshot
} s_snap;

struct xt_runner {
    xt_runner_config cfg;
    xt_env_params p;
    xt_model_spec spec;
    xt_model_layout lay;
    int S, N, D, A, L, H, SS, gauss, exact;
    const xt_rl_shard *shards; // caller's [S]
    xt_rl_shard *order;        // [S] copies in collector order (most envs first)
    int *perm;                 // [S] collector shard -> caller shard
    int *env_caller;           // [N] caller shard of env g
    int *env_asg;              // [N] caller shard of Assignment entry g (the caller's env_shard)
    xt_runner_shard *st;       // [S] caller order
    xt_rollout *roll;
    xt_backend *be;
    float *params; // host copy [n_params] (log_std is read from it)
    int have_params;
    uint64_t version;
    uint64_t salt; // collector rebuilds after non-finite collects
    int ready;     // chunks of the last collect are available
    uint8_t *ok;   // [N] chunk g passed the finite check
    uint32_t *ep_n; // [N] episodes finished in chunk g
    double *ep_ret, *ep_sh; // [N] their return and Sharpe sums
    uint64_t nf_collects, nf_chunks;
    uint64_t *shard_seed; // [S] collector order (cfg.shard_streams), else NULL
    uint32_t *slot_base;  // [S] collector order: first global env slot of the shard's envs, else NULL
    uint32_t *env_slot;   // [N] collector env g -> its global env slot (with slot_base)
    // snapshots (runner.h): cfg.snapshots slots of snap_bytes each
    size_t snap_bytes;
    int n_snap;
    s_snap *snap;
    uint64_t snap_tick; // age order of the keep ring
};

// ---- helpers

static uint64_t s_mix(uint64_t x) {
    // splitmix64 finalizer: a bijection that spreads every input bit.
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t xt_runner_seed(uint64_t master, const char *actor_id, uint32_t fold) {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a of the id
    for (const char *c = actor_id; c && *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    return s_mix(s_mix(master) ^ s_mix(h) ^ ((uint64_t)fold << 32));
}

uint64_t xt_runner_shard_seed(uint64_t master, uint32_t fold, const char *shard_name, int tf_sec) {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a of the shard's name
    for (const char *c = shard_name; c && *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    // A different salt than xt_runner_seed: a shard seed never equals an actor seed.
    return s_mix(s_mix(master ^ 0x5eed5bad0000ull) ^ s_mix(h) ^ ((uint64_t)fold << 32) ^ (uint64_t)(uint32_t)tf_sec);
}

static int s_finite(const float *x, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k])) return 0;
    return 1;
}

static int s_build_rollout(xt_runner *r, xt_err *err) {
    // After a dropped collect the salt gives fresh streams (every shard's).
    if (r->shard_seed)
        for (int k = 0; k < r->S; k++) {
            const xt_rl_shard *sh = &r->order[k];
            uint64_t s0 = xt_runner_shard_seed(r->cfg.seed, r->cfg.fold, sh->name, sh->tf_sec);
            r->shard_seed[k] = r->salt ? s_mix(s0 ^ s_mix(r->salt)) : s0;
        }
    xt_rollout_config rc = {
        .kind = r->cfg.kind,
        .window = XT_RL_TRAIN,
        .n_envs = r->N,
        .T = r->cfg.T,
        .n_chunks = 1,
        .seed = r->salt ? s_mix(r->cfg.seed ^ s_mix(r->salt)) : r->cfg.seed,
        .ls_min = r->cfg.ls_min,
        .ls_max = r->cfg.ls_max,
    };
    xt_rollout_destroy(&r->roll);
    r->roll = xt_rollout_new_seeded(&rc, r->shard_seed, r->shard_seed ? r->slot_base : NULL, r->order, r->S, &r->p,
                                    &r->spec, err);
    if (!r->roll) return err && err->code ? err->code : XT_EINVAL;
    for (int g = 0; g < r->N; g++) r->env_caller[g] = r->perm[xt_rollout_env_shard(r->roll, g)];
    // Env i of collector shard k (its envs are consecutive) is slot base + i.
    for (int g = 0, i = 0; r->slot_base && g < r->N; g++) {
        int k = xt_rollout_env_shard(r->roll, g);
        i = g > 0 && xt_rollout_env_shard(r->roll, g - 1) == k ? i + 1 : 0;
        r->env_slot[g] = r->slot_base[k] + (uint32_t)i;
    }
    return 0;
}

// ---- construction

xt_runner *xt_runner_new(const xt_runner_config *cfg, const xt_rl_shard *shards, int n_shards,
                         const int *env_shard, int n_envs, const xt_env_params *p,
                         const xt_model_spec *spec, xt_err *err) {
    if (n_shards < 1 || n_shards > XT_RL_MAX_SHARDS || n_envs < n_shards || cfg->T < 1 || cfg->threads < 1) {
        xt_err_set(err, XT_EINVAL,
                   "runner: %d envs over %d shards with chunk length %d and %d threads (need 1..%d shards, "
                   "at least one env per shard, T >= 1, threads >= 1)",
                   n_envs, n_shards, cfg->T, cfg->threads, XT_RL_MAX_SHARDS);
        return NULL;
    }
    xt_runner *r = calloc(1, sizeof *r);
    if (!r) {
        xt_err_set(err, XT_ENOMEM, "runner: out of memory");
        return NULL;
    }
    r->cfg = *cfg, r->p = *p, r->spec = *spec, r->shards = shards, r->S = n_shards, r->N = n_envs;
    if (xt_model_layout_init(&r->lay, spec, err)) goto fail;
    r->D = spec->obs_dim, r->A = spec->act_dim, r->L = spec->lstm_layers, r->H = spec->lstm_hidden;
    r->SS = r->lay.state_size, r->gauss = spec->gaussian;
    r->order = calloc((size_t)r->S, sizeof *r->order);
    r->perm = calloc((size_t)r->S, sizeof(int));
    r->env_caller = calloc((size_t)r->N, sizeof(int));
    r->env_asg = calloc((size_t)r->N, sizeof(int));
    r->st = calloc((size_t)r->S, sizeof *r->st);
    r->params = calloc(r->lay.n_params ? r->lay.n_params : 1, sizeof(float));
    r->ok = calloc((size_t)r->N, 1);
    r->ep_n = calloc((size_t)r->N, sizeof(uint32_t));
    r->ep_ret = calloc((size_t)r->N, sizeof(double));
    r->ep_sh = calloc((size_t)r->N, sizeof(double));
    if (!r->order || !r->perm || !r->env_caller || !r->env_asg || !r->st || !r->params || !r->ok || !r->ep_n || !r->ep_ret ||
        !r->ep_sh) {
        xt_err_set(err, XT_ENOMEM, "runner: out of memory for %d envs", n_envs);
        goto fail;
    }
    // Envs per caller shard, as the Assignment lists them.
    for (int g = 0; g < n_envs; g++) {
        if (env_shard[g] < 0 || env_shard[g] >= n_shards) {
            xt_err_set(err, XT_EINVAL, "runner: env %d names shard %d of %d", g, env_shard[g], n_shards);
            goto fail;
        }
        r->st[env_shard[g]].n_envs++;
        r->env_asg[g] = env_shard[g];
    }
    for (int s = 0; s < n_shards; s++) {
        r->st[s].shard = &shards[s];
        if (r->st[s].n_envs == 0) {
            xt_err_set(err, XT_EINVAL, "runner: shard %s has no env", shards[s].name);
            goto fail;
        }
    }
    // Collector order: most envs first (stable), so that its even split
    // (N / S, one more for the first N % S) matches two-valued counts exactly.
    for (int k = 0; k < n_shards; k++) r->perm[k] = k;
    for (int k = 1; k < n_shards; k++) {
        int v = r->perm[k], j = k;
        while (j > 0 && r->st[r->perm[j - 1]].n_envs < r->st[v].n_envs) r->perm[j] = r->perm[j - 1], j--;
        r->perm[j] = v;
    }
    r->exact = 1;
    for (int k = 0; k < n_shards; k++) {
        r->order[k] = shards[r->perm[k]];
        int want = n_envs / n_shards + (k < n_envs % n_shards);
        if (r->st[r->perm[k]].n_envs != want) r->exact = 0;
    }
    if (!r->exact) // the collector's counts are what really runs
        for (int s = 0; s < n_shards; s++) r->st[s].n_envs = 0;
    xt_backend_config bc;
    xt_backend_config_default(&bc);
    bc.max_chunks = 1, bc.T = 1, bc.max_infer = n_envs, bc.threads = cfg->threads;
    bc.ls_min = cfg->ls_min, bc.ls_max = cfg->ls_max;
    r->be = xt_backend_cpu_new(spec, &bc, 0, err);
    if (!r->be || s_build_rollout(r, err)) goto fail;
    if (!r->exact)
        for (int g = 0; g < n_envs; g++) r->st[r->env_caller[g]].n_envs++;
    return r;
fail:
    xt_runner_destroy(&r);
    return NULL;
}

void xt_runner_destroy(xt_runner **self_p) {
    if (!self_p || !*self_p) return;
    xt_runner *r = *self_p;
    xt_rollout_destroy(&r->roll);
    xt_backend_destroy(&r->be);
    for (int k = 0; r->snap && k < r->n_snap; k++) free(r->snap[k].state);
    free(r->snap);
    void *bufs[] = {r->order, r->perm,  r->env_caller, r->st,        r->params,
                    r->ok,    r->ep_n,  r->ep_ret,     r->ep_sh,     r->shard_seed, r->slot_base, r->env_slot, r->env_asg};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) free(bufs[k]);
    free(r);
    *self_p = NULL;
}

int xt_runner_env_slots(xt_runner *r, const uint32_t *slot, xt_err *err) {
    if (r->shard_seed || r->have_params || r->slot_base)
        return xt_err_set(err, XT_ESTATE, "runner: env slots are set once, before deterministic mode and weights");
    int given = 0;
    for (int g = 0; g < r->N; g++) given |= slot[g] != 0;
    if (!given) return 0; // a broker that sends no slots: the envs keep their local indices
    uint32_t *base = calloc((size_t)r->S, sizeof *base), *es = calloc((size_t)r->N, sizeof *es);
    uint8_t *seen = calloc((size_t)r->N, 1);
    if (!base || !es || !seen) {
        free(base), free(es), free(seen);
        return xt_err_set(err, XT_ENOMEM, "runner: out of memory for %d env slots", r->N);
    }
    // Caller shard c: its envs must hold the distinct slots lo .. lo + n - 1
    // (the broker's layout gives every actor a contiguous run of slots).
    int rc = 0;
    for (int k = 0; k < r->S && !rc; k++) {
        int c = r->perm[k], n = 0;
        uint32_t lo = UINT32_MAX;
        for (int g = 0; g < r->N; g++)
            if (r->env_asg[g] == c) n++, lo = slot[g] < lo ? slot[g] : lo;
        for (int g = 0; g < r->N; g++) seen[g] = 0;
        for (int g = 0; g < r->N && !rc; g++) {
            if (r->env_asg[g] != c) continue;
            uint32_t d = slot[g] - lo;
            if (d >= (uint32_t)n || seen[d])
                rc = xt_err_set(err, XT_EINVAL,
                                "runner: env %d of shard %s has slot %u; the shard's %d envs need the distinct "
                                "slots %u..%u",
                                g, r->shards[c].name, slot[g], n, lo, lo + (uint32_t)n - 1);
            else seen[d] = 1;
        }
        base[k] = lo;
    }
    free(seen);
    if (rc) {
        free(base), free(es);
        return rc;
    }
    r->slot_base = base, r->env_slot = es;
    return s_build_rollout(r, err); // the same envs, now numbered by slot
}

int xt_runner_deterministic(xt_runner *r, int snapshots, xt_err *err) {
    if (snapshots < 0 || r->snap || r->have_params)
        return xt_err_set(err, XT_ESTATE, "runner: deterministic mode is set once, before any weights (%d snapshots)",
                          snapshots);
    if (!r->shard_seed && !(r->shard_seed = calloc((size_t)r->S, sizeof(uint64_t))))
        return xt_err_set(err, XT_ENOMEM, "runner: out of memory");
    int rc = s_build_rollout(r, err); // the same envs, now on per-shard streams
    if (rc || snapshots == 0) return rc;
    r->snap_bytes = xt_rollout_state_bytes(r->roll);
    r->snap = calloc((size_t)snapshots, sizeof *r->snap);
    if (!r->snap) return xt_err_set(err, XT_ENOMEM, "runner: out of memory");
    r->n_snap = snapshots;
    for (int k = 0; k < snapshots; k++)
        if (!(r->snap[k].state = malloc(r->snap_bytes ? r->snap_bytes : 1)))
            return xt_err_set(err, XT_ENOMEM, "runner: out of memory for %d snapshots of %zu bytes", snapshots,
                              r->snap_bytes);
    return 0;
}

// ---- params

int xt_runner_set_params(xt_runner *r, const float *params, uint64_t version, xt_err *err) {
    int rc = xt_backend_upload(r->be, params, NULL, NULL, 0, err);
    if (rc) return rc;
    memcpy(r->params, params, r->lay.n_params * sizeof(float));
    r->have_params = 1, r->version = version;
    return 0;
}

int xt_runner_has_params(const xt_runner *r) { return r->have_params; }
uint64_t xt_runner_version(const xt_runner *r) { return r->version; }
const float *xt_runner_params(const xt_runner *r) { return r->params; }

// ---- collect

// Per-chunk episode counts from the end flags, and their return / Sharpe
// sums from the collect's totals (exact when one env finished them all).
static void s_episodes(xt_runner *r, const xt_batch *b, const xt_rollout_stats *st) {
    const int T = r->cfg.T;
    int envs_with = 0, last = -1;
    for (int g = 0; g < r->N; g++) {
        uint32_t e = 0;
        for (int t = 0; t < T; t++) e += (b->terminated[(size_t)g * T + t] | b->truncated[(size_t)g * T + t]) != 0;
        r->ep_n[g] = e;
        if (e) envs_with++, last = g;
    }
    const double n = (double)st->episodes;
    const double mret = n > 0 ? st->total_return_sum / n : 0.0, msh = n > 0 ? st->sharpe_sum / n : 0.0;
    for (int g = 0; g < r->N; g++) r->ep_ret[g] = r->ep_n[g] * mret, r->ep_sh[g] = r->ep_n[g] * msh;
    // One episode by one env: its figures are the collect's totals.
    if (envs_with == 1 && r->ep_n[last] == 1 && st->episodes == 1) {
        xt_runner_shard *s = &r->st[r->env_caller[last]];
        s->ep_ret[s->ep_next] = st->total_return_sum, s->ep_sharpe[s->ep_next] = st->sharpe_sum;
        s->ep_next = (s->ep_next + 1) % XT_RUNNER_EP_WINDOW;
        if (s->ep_n < XT_RUNNER_EP_WINDOW) s->ep_n++;
    }
}

// Every float array of chunk g must be finite (the collector checked obs and
// rewards step by step; log-probs, actions and states are checked here).
static int s_chunk_finite(const xt_runner *r, const xt_batch *b, int g) {
    const size_t T = (size_t)r->cfg.T, D = (size_t)r->D, A = (size_t)r->A, SS = (size_t)r->SS;
    if (!s_finite(b->obs + g * (T + 1) * D, (T + 1) * D) || !s_finite(b->rewards + g * T, T) ||
        !s_finite(b->logp + g * T, T))
        return 0;
    if (b->actions && !s_finite(b->actions + g * T * A, T * A)) return 0;
    if (SS && (!s_finite(b->h0 + g * SS, SS) || !s_finite(b->c0 + g * SS, SS))) return 0;
    return 1;
}

int xt_runner_collect(xt_runner *r, xt_runner_report *rep, xt_err *err) {
    memset(rep, 0, sizeof *rep);
    r->ready = 0;
    if (!r->have_params) return xt_err_set(err, XT_ESTATE, "runner: no weights installed yet");
    int rc;
    if (!r->roll && (rc = s_build_rollout(r, err))) return rc; // after a dropped collect
    const float *log_std = r->gauss ? r->params + r->lay.off[XT_T_actor_log_std] : NULL;
    rc = xt_rollout_collect(r->roll, r->be, log_std, err);
    xt_rollout_stats st;
    xt_rollout_stats_take(r->roll, &st);
    rep->t_env = st.t_env + st.t_record, rep->t_infer = st.t_infer;
    if (rc == XT_ENUMERIC) {
        // The collect stopped half-way: drop it; the next collect starts
        // fresh episodes with a new salt. err keeps the collector's sentence.
        r->nf_collects++, r->salt++;
        xt_rollout_destroy(&r->roll);
        return 0;
    }
    if (rc) return rc;
    const xt_batch *b = xt_rollout_batch(r->roll);
    s_episodes(r, b, &st);
    for (int g = 0; g < r->N; g++) {
        r->ok[g] = (uint8_t)s_chunk_finite(r, b, g);
        if (!r->ok[g]) {
            r->nf_chunks++, rep->dropped_chunks++;
            continue;
        }
        xt_runner_shard *s = &r->st[r->env_caller[g]];
        s->steps += (uint64_t)r->cfg.T;
        s->episodes += r->ep_n[g];
        rep->steps += r->cfg.T;
        rep->episodes += (int)r->ep_n[g];
    }
    r->ready = 1, rep->ok = 1;
    return 0;
}

// ---- snapshots

// The slot that holds version, or -1.
static int s_snap_find(const xt_runner *r, uint64_t version) {
    for (int k = 0; k < r->n_snap; k++)
        if (r->snap[k].used && r->snap[k].version == version) return k;
    return -1;
}

int xt_runner_snapshot(xt_runner *r, uint64_t version, int keep, xt_err *err) {
    const int n = r->n_snap;
    if (n < 1) return xt_err_set(err, XT_ESTATE, "runner: built without snapshot slots");
    int rc;
    // A dropped collect left no collector: build the one the next collect
    // would build, so the snapshot is the state that collect starts from.
    if (!r->roll && (rc = s_build_rollout(r, err))) return rc;
    int k = s_snap_find(r, version);
    if (k < 0 && (n == 1 || !keep)) k = 0;
    if (k < 0) {
        // The keep ring (slots 1..n-1): a free slot, else the oldest.
        k = 1;
        for (int j = 1; j < n; j++) {
            if (!r->snap[j].used) {
                k = j;
                break;
            }
            if (r->snap[j].tick < r->snap[k].tick) k = j;
        }
    }
    s_snap *sn = &r->snap[k];
    xt_rollout_snapshot(r->roll, sn->state);
    sn->used = 1, sn->version = version, sn->salt = r->salt, sn->tick = ++r->snap_tick;
    return 0;
}

int xt_runner_has_snapshot(const xt_runner *r, uint64_t version) { return s_snap_find(r, version) >= 0; }

int xt_runner_rewind(xt_runner *r, uint64_t version, xt_err *err) {
    int k = s_snap_find(r, version);
    if (k < 0) return xt_err_set(err, XT_ENOTFOUND, "runner: no snapshot of version %llu", (unsigned long long)version);
    const s_snap *sn = &r->snap[k];
    int rc;
    // The collector the snapshot was taken from: same salt, same streams
    // (a collect dropped since then rebuilt it with another salt).
    if (!r->roll || sn->salt != r->salt) {
        r->salt = sn->salt;
        if ((rc = s_build_rollout(r, err))) return rc;
    }
    xt_rollout_restore(r->roll, sn->state);
    r->ready = 0;
    return 0;
}

// ---- chunks

int xt_runner_chunk(const xt_runner *r, int g, xt_wire_chunk *out) {
    if (!r->ready || g < 0 || g >= r->N || !r->ok[g]) return 1;
    const xt_batch *b = xt_rollout_batch(r->roll);
    const size_t T = (size_t)r->cfg.T, D = (size_t)r->D, A = (size_t)r->A, SS = (size_t)r->SS;
    const size_t LH = (size_t)r->L * r->H;
    const xt_rl_shard *sh = &r->shards[r->env_caller[g]];
    const int port = r->cfg.kind == XT_ENV_KIND_PORTFOLIO;
    memset(out, 0, sizeof *out);
    out->shard = (xt_wire_shard_key){port ? NULL : sh->symbol, port ? sh->symbol : NULL, (uint32_t)sh->tf_sec,
                                     r->cfg.fold};
    out->env_index = r->env_slot ? r->env_slot[g] : (uint32_t)g;
    out->policy_version = r->version;
    out->t = (uint32_t)T, out->obs_dim = (uint32_t)D, out->n_actions = (uint32_t)A;
    out->action_kind = r->gauss ? XT_WIRE_ACTION_CONTINUOUS : XT_WIRE_ACTION_CATEGORICAL;
    out->obs = b->obs + g * (T + 1) * D;
    if (r->gauss) out->actions_cont = b->actions + g * T * A;
    else out->actions_cat = b->actions_i + g * T;
    out->logp = b->logp + g * T;
    out->values = NULL; // the learner recomputes values with its current critic
    out->trunc_values = b->trunc_value ? b->trunc_value + g * T : NULL; // GAE bootstrap at truncations
    out->rewards = b->rewards + g * T;
    out->terminated = b->terminated + g * T;
    out->truncated = b->truncated + g * T;
    out->episode_start = b->starts + g * T;
    out->masks = b->masks ? b->masks + g * T * A : NULL;
    if (SS) {
        // Batch state rows are [net][layer][H]: the actor's L*H, then the critic's.
        out->lstm_layers = (uint32_t)r->L, out->lstm_hidden = (uint32_t)r->H;
        out->actor_h = b->h0 + g * SS, out->actor_c = b->c0 + g * SS;
        if (!r->spec.shared_trunk) out->critic_h = b->h0 + g * SS + LH, out->critic_c = b->c0 + g * SS + LH;
    }
    out->episodes = r->ep_n[g];
    out->return_sum = r->ep_ret[g], out->sharpe_sum = r->ep_sh[g];
    return 0;
}

size_t xt_runner_chunk_bytes(const xt_runner *r) {
    xt_wire_chunk c = {.t = (uint32_t)r->cfg.T,
                       .obs_dim = (uint32_t)r->D,
                       .n_actions = (uint32_t)r->A,
                       .action_kind = r->gauss ? XT_WIRE_ACTION_CONTINUOUS : XT_WIRE_ACTION_CATEGORICAL,
                       .lstm_layers = (uint32_t)r->L,
                       .lstm_hidden = (uint32_t)r->H,
                       .masks = (const uint8_t *)r, // any non-NULL pointer: masks are sent
                       .trunc_values = (const float *)r, // and truncation bootstrap values
                       .critic_h = r->spec.shared_trunk ? NULL : (const float *)r};
    return xt_wire_chunk_bytes(&c);
}

// ---- accessors

int xt_runner_n_envs(const xt_runner *r) { return r->N; }
int xt_runner_n_shards(const xt_runner *r) { return r->S; }
const xt_runner_shard *xt_runner_shard_stats(const xt_runner *r, int i) {
    return i >= 0 && i < r->S ? &r->st[i] : NULL;
}
int xt_runner_env_shard(const xt_runner *r, int g) { return g >= 0 && g < r->N ? r->env_caller[g] : -1; }
int xt_runner_exact(const xt_runner *r) { return r->exact; }
uint64_t xt_runner_nonfinite_collects(const xt_runner *r) { return r->nf_collects; }
uint64_t xt_runner_nonfinite_chunks(const xt_runner *r) { return r->nf_chunks; }
const xt_model_layout *xt_runner_layout(const xt_runner *r) { return &r->lay; }
