// assign.c - shard placement: the TRAIN env-slot layout and greedy EVAL jobs.
//
// See assign.h for the two rules and their guarantees. Arithmetic is in
// uint64: at most 1024 actors x 4096 envs x 256 shards, far below 2^64.
// Stateless; safe from any thread.
#include "assign.h"

#include <stddef.h>

// ---------------------------------------------------------------- train

static uint32_t s_cap(uint32_t c) { return c > XT_ASSIGN_MAX_ENVS ? XT_ASSIGN_MAX_ENVS : c; }

uint64_t xt_assign_total(const uint32_t *cap, int n_actors) {
    uint64_t t = 0;
    for (int i = 0; i < n_actors; i++) t += s_cap(cap[i]);
    return t;
}

uint64_t xt_assign_limit(uint32_t *cap, int n_actors, uint64_t max_total) {
    uint64_t total = xt_assign_total(cap, n_actors);
    if (total <= max_total) return total;
    // One env to every actor that offers any (the first max_total of them
    // when there are more), then the rest R in proportion to what each
    // offers beyond that one: floors of spare[i] * R / spare_total, the
    // leftovers one by one to the largest remainders (first index wins a
    // tie). A share stays <= its offer because R < spare_total.
    enum { S_MAX = 1024 };
    uint64_t spare[S_MAX], rem[S_MAX], given = 0, spare_total = 0;
    int n = n_actors < S_MAX ? n_actors : S_MAX;
    for (int i = 0; i < n_actors; i++) {
        uint32_t c = i < n ? s_cap(cap[i]) : 0;
        cap[i] = c > 0 && given < max_total ? 1 : 0;
        given += cap[i];
        if (i < n) spare[i] = c - cap[i], spare_total += spare[i];
    }
    uint64_t r = max_total - given;
    if (r == 0 || spare_total == 0) return given;
    for (int i = 0; i < n; i++) {
        uint64_t num = spare[i] * r;
        cap[i] += (uint32_t)(num / spare_total);
        given += num / spare_total;
        rem[i] = num % spare_total;
    }
    while (given < max_total) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (rem[i] > 0 && (best < 0 || rem[i] > rem[best])) best = i;
        if (best < 0) break;
        cap[best]++, rem[best] = 0, given++;
    }
    return given;
}

int xt_assign_slot_shard(uint64_t j, uint64_t total, int n_shards) {
    // floor(j * S / C): consecutive slots share a shard, and shard s owns
    // the slots j with s*C/S <= j < (s+1)*C/S, i.e. floor(C/S) or ceil(C/S)
    // of them when C >= S, at most one when C < S.
    return (int)(j * (uint64_t)n_shards / total);
}

int xt_assign_train(const uint32_t *cap, int n_actors, int a, int n_shards, int *out) {
    uint64_t total = xt_assign_total(cap, n_actors), first = 0;
    if (total == 0 || n_shards <= 0) return 0;
    for (int i = 0; i < a; i++) first += s_cap(cap[i]);
    int n = (int)s_cap(cap[a]);
    for (int e = 0; e < n; e++) out[e] = xt_assign_slot_shard(first + (uint64_t)e, total, n_shards);
    return n;
}

int xt_assign_train_counts(const uint32_t *cap, int n_actors, int n_shards, int *counts) {
    for (int s = 0; s < n_shards; s++) counts[s] = 0;
    uint64_t total = xt_assign_total(cap, n_actors);
    // Shard s gets the slots in [ceil(s*C/S), ceil((s+1)*C/S)): count them
    // in closed form rather than walking every slot.
    for (int s = 0; s < n_shards && total > 0; s++) {
        uint64_t lo = ((uint64_t)s * total + (uint64_t)n_shards - 1) / (uint64_t)n_shards;
        uint64_t hi = ((uint64_t)(s + 1) * total + (uint64_t)n_shards - 1) / (uint64_t)n_shards;
        counts[s] = (int)(hi - lo);
    }
    int waiting = 0;
    for (int s = 0; s < n_shards; s++) waiting += counts[s] == 0;
    return waiting;
}

// ---------------------------------------------------------------- eval

int xt_assign_eval(const uint32_t *cap, uint32_t *load, int n_actors, int *owner, int n_jobs) {
    int placed = 0;
    for (int j = 0; j < n_jobs; j++) {
        if (owner[j] >= 0) continue;
        // Lowest (load + 1) / cap, compared as cross products so that no
        // division rounds: (l_a + 1) * c_b < (l_b + 1) * c_a.
        int best = -1;
        for (int a = 0; a < n_actors; a++) {
            if (cap[a] == 0) continue;
            if (best < 0 || ((uint64_t)load[a] + 1) * cap[best] < ((uint64_t)load[best] + 1) * cap[a]) best = a;
        }
        if (best < 0) return -1;
        owner[j] = best;
        load[best]++;
        placed++;
    }
    return placed;
}
