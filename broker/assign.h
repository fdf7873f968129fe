// assign.h - capacity-balanced placement of shards on actors.
//
// TRAIN: every env of every actor steps one shard. The broker lays the
// actors' envs end to end (actors sorted by id, actor i owning the
// cap[i] consecutive env slots after those of actors 0..i-1) and gives slot
// j of the C = sum(cap) slots the shard floor(j * S / C). Hence
//   - every actor's envs are all busy (it gets exactly cap[i] entries);
//   - the per-shard env counts differ by at most one (floor(C/S) or
//     ceil(C/S)) and every shard has an env whenever C >= S; with C < S,
//     S - C shards wait for capacity;
//   - an actor's shards are a contiguous run of the shard order (few feature
//     caches per actor), and the layout depends only on the set of actors and
//     their capacities, never on the order they registered in.
// When an actor joins, leaves or goes silent the layout is recomputed and
// only the actors whose list changed get a new Assignment.
//
// EVAL: each shard's test window is one job. Jobs without an owner go one by
// one (in shard order) to the actor with the lowest (load + 1) / capacity,
// ties to the lower index, so shares are proportional to capacity and jobs
// already running elsewhere are never moved. A dropped actor's unfinished
// jobs lose their owner and are placed again the same way.
//
// Pure functions on caller arrays: no allocation, no state.
#ifndef XT_BROKER_ASSIGN_H
#define XT_BROKER_ASSIGN_H

#include <stdint.h>

#define XT_ASSIGN_MAX_ENVS 4096 // envs per actor (the wire's max_shards per Assignment)

// Total env slots of the layout: sum of cap[i], each clamped to XT_ASSIGN_MAX_ENVS.
uint64_t xt_assign_total(const uint32_t *cap, int n_actors);

// Sync mode steps exactly the rollout's envs (ppo.n_envs), not every env
// the actors offer: when sum(cap) > max_total, cap[] is scaled down in place
// to a sum of max_total: one env to every actor that offers any (the first
// max_total of them when there are more), the rest in proportion to the
// offers beyond that (largest remainder, ties to the lower index), never
// above an offer. Returns the new total.
uint64_t xt_assign_limit(uint32_t *cap, int n_actors, uint64_t max_total);

// Shard of env slot j in a layout of total slots over n_shards shards.
int xt_assign_slot_shard(uint64_t j, uint64_t total, int n_shards);

// The shard of each env of actor a: out[e] for e < cap[a] (clamped), which
// is also the return value (the number of entries written).
int xt_assign_train(const uint32_t *cap, int n_actors, int a, int n_shards, int *out);

// Envs per shard over the whole layout: counts[s] for s < n_shards. Returns
// the number of shards with no env (waiting for capacity).
int xt_assign_train_counts(const uint32_t *cap, int n_actors, int n_shards, int *counts);

// Places every job with owner[j] < 0 (j < n_jobs) on an actor with
// capacity > 0, updating owner[] and load[]. Jobs whose owner is >= 0 are
// left alone (their load must already be counted in load[]). Returns the
// number of jobs placed, or -1 when jobs wait but no actor has capacity.
int xt_assign_eval(const uint32_t *cap, uint32_t *load, int n_actors, int *owner, int n_jobs);

#endif
