// test_learner_batcher.c - rollout chunks -> the xt_batch layout of
// nn/backend.h, element by element: obs, actions (both heads), masks (given
// and absent), flags, the [net][layer][H] state rows with and without a
// critic of its own, symbol ids; the shape check's sentences; capacity;
// the stable drop of stale chunks; the frame-size bound; the canonical order
// of deterministic runs (the same chunks in any arrival order give the same
// batch, byte for byte).
#include "testutil.h"

#include "batcher.h"

#include "nn/backend.h"
#include "wire/envelope.h"

#include <math.h>
#include <string.h>

enum { T = 4, D = 3, A = 3, L = 2, H = 2, LH = L * H };

// Storage for one chunk whose every value encodes (chunk k, index i).
typedef struct {
    float obs[(T + 1) * D], acont[T * A], logp[T], rewards[T];
    int32_t acat[T];
    uint8_t term[T], trunc[T], start[T], masks[T * A];
    float ah[LH], ac[LH], ch[LH], cc[LH];
    xt_wire_chunk c;
} chunk_store;

static void s_fill(chunk_store *s, int k, int gaussian, int critic, int masks, const char *sym) {
    for (int i = 0; i < (T + 1) * D; i++) s->obs[i] = (float)(1000 * k + i);
    for (int t = 0; t < T; t++) {
        s->acat[t] = (t + k) % A;
        s->logp[t] = -(float)(100 * k + t);
        s->rewards[t] = (float)(10 * k + t) / 8.0f;
        s->term[t] = t == 1;
        s->trunc[t] = t == T - 1 && k == 1;
        s->start[t] = t == 2;
        for (int a = 0; a < A; a++) {
            s->acont[t * A + a] = (float)(k * 100 + t * A + a) * 0.5f;
            s->masks[t * A + a] = a == s->acat[t] || (a + t) % 2 == 0; // the taken action stays legal
        }
    }
    for (int i = 0; i < LH; i++) {
        s->ah[i] = (float)(k * 10 + i) + 0.1f;
        s->ac[i] = (float)(k * 10 + i) + 0.2f;
        s->ch[i] = (float)(k * 10 + i) + 0.3f;
        s->cc[i] = (float)(k * 10 + i) + 0.4f;
    }
    s->c = (xt_wire_chunk){
        .shard = {sym, "", 3600, 0},
        .policy_version = (uint64_t)(7 + k),
        .t = T,
        .obs_dim = D,
        .n_actions = A,
        .action_kind = gaussian ? XT_WIRE_ACTION_CONTINUOUS : XT_WIRE_ACTION_CATEGORICAL,
        .lstm_layers = L,
        .lstm_hidden = H,
        .obs = s->obs,
        .actions_cat = gaussian ? NULL : s->acat,
        .actions_cont = gaussian ? s->acont : NULL,
        .logp = s->logp,
        .rewards = s->rewards,
        .terminated = s->term,
        .truncated = s->trunc,
        .episode_start = s->start,
        .masks = masks ? s->masks : NULL,
        .actor_h = s->ah,
        .actor_c = s->ac,
        .critic_h = critic ? s->ch : NULL,
        .critic_c = critic ? s->cc : NULL,
    };
}

static xt_batcher_shape s_shape(int gaussian, int shared, int n_symbols) {
    xt_model_spec spec;
    xt_model_spec_default(&spec, D, A, gaussian);
    spec.lstm_layers = L, spec.lstm_hidden = H, spec.shared_trunk = shared;
    if (n_symbols) spec.n_symbols = n_symbols, spec.emb_dim = 2;
    xt_batcher_shape sh;
    xt_batcher_shape_of(&sh, &spec, T);
    return sh;
}

static xt_cfg_strlist s_symbols(void) {
    xt_cfg_strlist l = {0};
    l.n = 3;
    strcpy(l.v[0], "BTCUSD"), strcpy(l.v[1], "ETHUSD"), strcpy(l.v[2], "EURUSD");
    return l;
}

// ---------------------------------------------------------------- layout

static void t_categorical_layout(void **state) {
    (void)state;
    xt_batcher_shape sh = s_shape(0, 0, 0);
    assert_int_equal(sh.state_size, 2 * L * H);
    xt_err err = {0};
    xt_batcher *b = xt_batcher_new(&sh, 3, &err);
    assert_non_null(b);
    chunk_store s[2];
    s_fill(&s[0], 0, 0, 1, 1, "EURUSD");
    s_fill(&s[1], 1, 0, 1, 0, "EURUSD"); // no masks: all legal
    assert_int_equal(xt_batcher_add(b, &s[0].c, -1), 0);
    assert_int_equal(xt_batcher_add(b, &s[1].c, -1), 1);
    const xt_batch *bt = xt_batcher_batch(b);
    assert_int_equal(bt->C, 2);
    assert_int_equal(bt->T, T);
    assert_null(bt->actions);
    assert_null(bt->sym);
    assert_null(bt->trunc_value); // these chunks carry no truncation values
    assert_null(bt->valid);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < (T + 1) * D; i++) assert_true(bt->obs[k * (T + 1) * D + i] == (float)(1000 * k + i));
        for (int t = 0; t < T; t++) {
            int r = k * T + t;
            assert_int_equal(bt->actions_i[r], (t + k) % A);
            assert_true(bt->logp[r] == -(float)(100 * k + t));
            assert_true(bt->rewards[r] == (float)(10 * k + t) / 8.0f);
            assert_int_equal(bt->terminated[r], t == 1);
            assert_int_equal(bt->truncated[r], t == T - 1 && k == 1);
            assert_int_equal(bt->starts[r], t == 2);
            for (int a = 0; a < A; a++)
                assert_int_equal(bt->masks[r * A + a], k == 0 ? s[0].masks[t * A + a] : 1);
        }
        // state row [net][layer][H]: actor h then critic h
        for (int i = 0; i < LH; i++) {
            assert_true(bt->h0[k * 2 * LH + i] == (float)(k * 10 + i) + 0.1f);
            assert_true(bt->c0[k * 2 * LH + i] == (float)(k * 10 + i) + 0.2f);
            assert_true(bt->h0[k * 2 * LH + LH + i] == (float)(k * 10 + i) + 0.3f);
            assert_true(bt->c0[k * 2 * LH + LH + i] == (float)(k * 10 + i) + 0.4f);
        }
        assert_int_equal(xt_batcher_version(b, k), 7 + k);
    }
    // The batch is what the PPO update accepts for this model.
    xt_model_spec spec;
    xt_model_spec_default(&spec, D, A, 0);
    spec.lstm_layers = L, spec.lstm_hidden = H;
    assert_int_equal(xt_batch_check(bt, &spec, &err), 0);
    xt_batcher_destroy(&b);
    assert_null(b);
    xt_batcher_destroy(&b); // NULL is fine
}

static void t_gaussian_shared_layout(void **state) {
    (void)state;
    xt_batcher_shape sh = s_shape(1, 1, 0);
    xt_batcher *b = xt_batcher_new(&sh, 2, NULL);
    assert_non_null(b);
    chunk_store s;
    s_fill(&s, 1, 1, 0, 1, "EURUSD");
    assert_int_equal(xt_batcher_add(b, &s.c, -1), 0);
    const xt_batch *bt = xt_batcher_batch(b);
    assert_null(bt->actions_i);
    for (int i = 0; i < T * A; i++) assert_true(bt->actions[i] == (float)(100 + i) * 0.5f);
    for (int i = 0; i < T * A; i++) assert_int_equal(bt->masks[i], s.masks[i]);
    for (int i = 0; i < LH; i++) {
        assert_true(bt->h0[i] == (float)(10 + i) + 0.1f);
        assert_true(bt->h0[LH + i] == 0.0f); // shared trunk: no critic state
        assert_true(bt->c0[LH + i] == 0.0f);
    }
    xt_batcher_destroy(&b);
}

static void t_symbol_ids(void **state) {
    (void)state;
    xt_batcher_shape sh = s_shape(0, 0, 3);
    assert_int_equal(sh.n_symbols, 3);
    xt_cfg_strlist syms = s_symbols();
    xt_batcher *b = xt_batcher_new(&sh, 2, NULL);
    chunk_store s[2];
    s_fill(&s[0], 0, 0, 1, 1, "EURUSD");
    s_fill(&s[1], 1, 0, 1, 1, "BTCUSD");
    xt_err err = {0};
    for (int k = 0; k < 2; k++) {
        int32_t id = -9;
        assert_int_equal(xt_batcher_check(&sh, &s[k].c, &syms, &id, &err), XT_BATCHER_OK);
        assert_int_equal(id, k == 0 ? 2 : 0);
        xt_batcher_add(b, &s[k].c, id);
    }
    const xt_batch *bt = xt_batcher_batch(b);
    assert_non_null(bt->sym);
    assert_int_equal(bt->sym[0], 2);
    assert_int_equal(bt->sym[1], 0);
    // A symbol the embedding has no row for.
    s_fill(&s[0], 0, 0, 1, 1, "SOLUSD");
    int32_t id;
    assert_int_equal(xt_batcher_check(&sh, &s[0].c, &syms, &id, &err), XT_BATCHER_INVALID);
    assert_string_equal(err.msg, "RolloutChunk.shard.symbol: \"SOLUSD\" has no row in the symbol embedding");
    xt_batcher_destroy(&b);
}

// ---------------------------------------------------------------- checks

static void t_shape_check(void **state) {
    (void)state;
    xt_batcher_shape sh = s_shape(0, 0, 0);
    chunk_store s;
    xt_err err = {0};
    int32_t id;
    s_fill(&s, 0, 0, 1, 1, "EURUSD");
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_OK);
    assert_int_equal(id, -1);

    s.c.obs_dim = D + 1;
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_SHAPE);
    assert_string_equal(err.msg, "RolloutChunk.obs_dim: 4 but the model takes 3");
    s_fill(&s, 0, 0, 1, 1, "EURUSD");
    s.c.t = T - 1;
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_SHAPE);
    assert_string_equal(err.msg, "RolloutChunk.t: 3 but the model takes 4");
    s_fill(&s, 0, 0, 1, 1, "EURUSD");
    s.c.lstm_hidden = H + 2;
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_SHAPE);
    assert_string_equal(err.msg, "RolloutChunk.lstm_hidden: 4 but the model takes 2");
    s_fill(&s, 0, 1, 1, 1, "EURUSD"); // continuous actions for a categorical head
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_SHAPE);
    assert_string_equal(err.msg, "RolloutChunk.action_kind: continuous actions but the model's head is categorical");
    s_fill(&s, 0, 0, 0, 1, "EURUSD"); // no critic state for a separate critic
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_SHAPE);
    assert_string_equal(err.msg, "RolloutChunk.critic_h: missing but the model has a separate critic");
    xt_batcher_shape shared = s_shape(0, 1, 0);
    s_fill(&s, 0, 0, 1, 1, "EURUSD");
    assert_int_equal(xt_batcher_check(&shared, &s.c, NULL, &id, &err), XT_BATCHER_SHAPE);
    assert_string_equal(err.msg, "RolloutChunk.critic_h: set but the model's critic shares the actor's trunk");
    // A taken action its own mask forbids.
    s_fill(&s, 0, 0, 1, 1, "EURUSD");
    s.masks[2 * A + s.acat[2]] = 0;
    assert_int_equal(xt_batcher_check(&sh, &s.c, NULL, &id, &err), XT_BATCHER_INVALID);
    assert_string_equal(err.msg, "RolloutChunk.actions[2]: action 2 is masked at that step");
}

// ---------------------------------------------------------------- slots

static void t_capacity_and_drop(void **state) {
    (void)state;
    xt_batcher_shape sh = s_shape(0, 0, 0);
    xt_batcher *b = xt_batcher_new(&sh, 5, NULL);
    chunk_store s[5];
    const uint64_t versions[5] = {3, 1, 4, 1, 5};
    for (int k = 0; k < 5; k++) {
        s_fill(&s[k], k, 0, 1, k % 2, "EURUSD");
        s[k].c.policy_version = versions[k];
        assert_int_equal(xt_batcher_add(b, &s[k].c, -1), k);
    }
    assert_int_equal(xt_batcher_add(b, &s[0].c, -1), XT_ESTATE);
    assert_int_equal(xt_batcher_count(b), 5);
    assert_int_equal(xt_batcher_capacity(b), 5);
    // Versions below 3 go; the rest keep their order and move down.
    assert_int_equal(xt_batcher_drop_older(b, 3), 2);
    const xt_batch *bt = xt_batcher_batch(b);
    assert_int_equal(bt->C, 3);
    const int kept[3] = {0, 2, 4};
    for (int j = 0; j < 3; j++) {
        int k = kept[j];
        assert_int_equal(xt_batcher_version(b, j), versions[k]);
        assert_true(bt->obs[j * (T + 1) * D + 1] == (float)(1000 * k + 1));
        assert_true(bt->logp[j * T + 3] == -(float)(100 * k + 3));
        assert_int_equal(bt->actions_i[j * T + 1], (1 + k) % A);
        assert_true(bt->h0[j * 2 * LH + LH] == (float)(k * 10) + 0.3f);
        for (int a = 0; a < A; a++) assert_int_equal(bt->masks[(j * T + 1) * A + a], k % 2 ? s[k].masks[A + a] : 1);
    }
    xt_batcher_reset(b);
    assert_int_equal(xt_batcher_batch(b)->C, 0);
    assert_int_equal(xt_batcher_add(b, &s[4].c, -1), 0);
    xt_batcher_destroy(&b);
}

// Canonical order: 7 chunks (2 versions, 2 shards, envs 0-2, one (shard,
// env) twice) arriving in two different orders (one env's chunks keep
// their relative order, as one actor's socket guarantees) sort into the
// same batch: version, shard, env, then arrival.
static void s_sorted(xt_batcher *b, chunk_store *s, const int *order, int n) {
    xt_batcher_reset(b);
    for (int i = 0; i < n; i++) assert_int_equal(xt_batcher_add(b, &s[order[i]].c, -1), i);
    xt_batcher_sort(b);
    assert_int_equal(xt_batcher_batch(b)->C, n);
}

static void t_canonical_order(void **state) {
    (void)state;
    enum { N = 7 };
    xt_batcher_shape sh = s_shape(0, 0, 0);
    xt_batcher *b1 = xt_batcher_new(&sh, N, NULL), *b2 = xt_batcher_new(&sh, N, NULL);
    chunk_store s[N];
    const char *sym[N] = {"EURUSD", "BTCUSD", "EURUSD", "BTCUSD", "EURUSD", "BTCUSD", "EURUSD"};
    const uint32_t env[N] = {2, 0, 0, 1, 2, 0, 1};
    const uint64_t ver[N] = {7, 7, 7, 7, 7, 6, 7};
    for (int k = 0; k < N; k++) {
        s_fill(&s[k], k, 0, 1, 1, sym[k]);
        s[k].c.env_index = env[k], s[k].c.policy_version = ver[k];
    }
    const int o1[N] = {0, 1, 2, 3, 4, 5, 6}, o2[N] = {6, 5, 3, 0, 2, 1, 4}; // 0 before 4 in both
    s_sorted(b1, s, o1, N);
    s_sorted(b2, s, o2, N);
    const xt_batch *x = xt_batcher_batch(b1), *y = xt_batcher_batch(b2);
    assert_memory_equal(x->obs, y->obs, sizeof(float) * N * (T + 1) * D);
    assert_memory_equal(x->actions_i, y->actions_i, sizeof(int32_t) * N * T);
    assert_memory_equal(x->masks, y->masks, (size_t)N * T * A);
    assert_memory_equal(x->logp, y->logp, sizeof(float) * N * T);
    assert_memory_equal(x->rewards, y->rewards, sizeof(float) * N * T);
    assert_memory_equal(x->starts, y->starts, (size_t)N * T);
    assert_memory_equal(x->h0, y->h0, sizeof(float) * N * 2 * LH);
    assert_memory_equal(x->c0, y->c0, sizeof(float) * N * 2 * LH);
    // Which chunk sits where: obs[1] of chunk k is 1000 k + 1.
    int at[N];
    for (int j = 0; j < N; j++) {
        at[j] = (int)(x->obs[j * (T + 1) * D + 1] - 1) / 1000;
        assert_int_equal(xt_batcher_version(b1, j), ver[at[j]]);
    }
    assert_int_equal(at[0], 5); // version 6 first
    for (int j = 2; j < N; j++) {
        int p = at[j - 1], q = at[j];
        if (strcmp(sym[p], sym[q]) == 0) assert_true(env[p] < env[q] || (env[p] == env[q] && p < q));
    }
    // One shard's chunks are contiguous (the shards come in hash order).
    int changes = 0;
    for (int j = 2; j < N; j++) changes += strcmp(sym[at[j - 1]], sym[at[j]]) != 0;
    assert_int_equal(changes, 1);
    // Chunk 0 comes before chunk 4 (same shard and env: arrival order).
    int p0 = -1, p4 = -1;
    for (int j = 0; j < N; j++) p0 = at[j] == 0 ? j : p0, p4 = at[j] == 4 ? j : p4;
    assert_true(p0 >= 0 && p0 + 1 == p4);
    // Sorting a sorted batch changes nothing; a drop afterwards still works.
    xt_batcher_sort(b1);
    assert_memory_equal(x->obs, y->obs, sizeof(float) * N * (T + 1) * D);
    assert_int_equal(xt_batcher_drop_older(b1, 7), 1);
    assert_true(x->obs[1] == y->obs[(T + 1) * D + 1]);
    xt_batcher_destroy(&b1);
    xt_batcher_destroy(&b2);
}

// Truncation bootstrap values land in trunc_value; one chunk without them
// (before or after a drop) sends the batch to gae.h's fallback (NULL).
static void t_trunc_values(void **state) {
    (void)state;
    xt_batcher_shape sh = s_shape(0, 0, 0);
    xt_batcher *b = xt_batcher_new(&sh, 3, NULL);
    chunk_store s[3];
    float tv[3][T];
    for (int k = 0; k < 3; k++) {
        s_fill(&s[k], k, 0, 1, 1, "EURUSD");
        for (int t = 0; t < T; t++) tv[k][t] = (float)(k * 10 + t) + 0.5f;
        s[k].c.policy_version = (uint64_t)k;
    }
    s[0].c.trunc_values = tv[0], s[2].c.trunc_values = tv[2]; // chunk 1 has none
    for (int k = 0; k < 3; k++) assert_int_equal(xt_batcher_add(b, &s[k].c, -1), k);
    assert_null(xt_batcher_batch(b)->trunc_value);
    // Dropping chunk 1 (version 1 < 2 after chunk 0 goes too) leaves only chunk 2.
    assert_int_equal(xt_batcher_drop_older(b, 2), 2);
    const xt_batch *bt = xt_batcher_batch(b);
    assert_non_null(bt->trunc_value);
    for (int t = 0; t < T; t++) assert_true(bt->trunc_value[t] == tv[2][t]);
    xt_batcher_reset(b);
    assert_int_equal(xt_batcher_add(b, &s[0].c, -1), 0);
    assert_non_null(xt_batcher_batch(b)->trunc_value);
    assert_true(xt_batcher_batch(b)->trunc_value[1] == tv[0][1]);
    assert_int_equal(xt_batcher_add(b, &s[1].c, -1), 1);
    assert_null(xt_batcher_batch(b)->trunc_value);
    xt_batcher_destroy(&b);
}

static void t_frame_bound(void **state) {
    (void)state;
    // The decoder limit computed from the shape fits the largest valid frame.
    xt_batcher_shape sh = s_shape(1, 0, 0);
    chunk_store s;
    s_fill(&s, 0, 1, 1, 1, "EURUSD");
    float values[T + 1] = {0}, tv[T] = {0};
    s.c.values = values;
    s.c.trunc_values = tv;
    char longid[256];
    memset(longid, 'a', 255), longid[255] = '\0';
    s.c.shard.symbol = longid;
    xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK, .hdr = {0, longid, 1, 1}};
    m.chunk = s.c;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_err err = {0};
    xt_wire_encoder *e = xt_wire_encoder_new(&lim, &err);
    const void *f;
    size_t len;
    assert_int_equal(xt_wire_encode(e, &m, &f, &len, &err), 0);
    assert_true(len <= xt_batcher_frame_bytes(&sh));
    assert_true(xt_batcher_frame_bytes(&sh) < len + 8192);
    xt_wire_encoder_destroy(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_categorical_layout), cmocka_unit_test(t_gaussian_shared_layout),
        cmocka_unit_test(t_symbol_ids),         cmocka_unit_test(t_shape_check),
        cmocka_unit_test(t_capacity_and_drop),  cmocka_unit_test(t_frame_bound), cmocka_unit_test(t_trunc_values),
        cmocka_unit_test(t_canonical_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
