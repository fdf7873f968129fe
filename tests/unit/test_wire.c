// test_wire.c - wire frames: round trip of every message, each rejection with
// its sentence, arena sizing at the limits, and 20k mutated frames.
#include "testutil.h"

#include "core/crc32.h"
#include "core/log.h"
#include "core/rng.h"
#include "wire/envelope.h"
#include "xtrade.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- samples

enum { TMAX = 64, DMAX = 16, AMAX = 8, LMAX = 2, HMAX = 8, NPARAMS = 300 };

// Storage behind the sample messages (their pointers point here).
typedef struct {
    float obs[(TMAX + 1) * DMAX], acont[TMAX * AMAX], logp[TMAX], values[TMAX + 1], rewards[TMAX], tv[TMAX];
    int32_t acat[TMAX];
    uint8_t term[TMAX], trunc[TMAX], start[TMAX], masks[TMAX * AMAX];
    float ah[LMAX * HMAX], ac[LMAX * HMAX], ch[LMAX * HMAX], cc[LMAX * HMAX];
    float params[NPARAMS];
    xt_wire_shard shards[3];
    xt_wire_worker workers[2];
} sample_store;

static xt_wire_limits s_limits(void) {
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 64 << 10;
    lim.max_t = TMAX;
    lim.max_obs_dim = DMAX;
    lim.max_actions = AMAX;
    lim.max_lstm_layers = LMAX;
    lim.max_lstm_hidden = HMAX;
    lim.max_params = NPARAMS;
    lim.max_shards = 8;
    lim.max_workers = 8;
    return lim;
}

// A chunk of T steps; full = values, masks and critic states present.
static xt_wire_msg s_chunk(sample_store *st, uint32_t T, uint32_t D, uint32_t A, uint32_t L,
                           uint32_t H, xt_wire_action_kind kind, int full) {
    xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK, .hdr = {0, "actor-3", 77, 1001}};
    for (uint32_t i = 0; i < (T + 1) * D; i++) st->obs[i] = 0.25f * (float)i - 3.0f;
    for (uint32_t t = 0; t < T; t++) {
        st->acat[t] = (int32_t)(t % A);
        st->logp[t] = -0.5f - 0.01f * (float)t;
        st->rewards[t] = 0.001f * (float)t - 0.01f;
        st->term[t] = t == 5;
        st->trunc[t] = t == T - 1;
        st->start[t] = t == 0 || t == 6;
        for (uint32_t a = 0; a < A; a++) {
            st->acont[t * A + a] = (float)a - 0.1f * (float)t;
            st->masks[t * A + a] = (a + t) % 3 != 0 || a == 0;
        }
    }
    for (uint32_t t = 0; t <= T; t++) st->values[t] = 0.1f * (float)t;
    for (uint32_t t = 0; t < T; t++) st->tv[t] = st->trunc[t] ? -0.5f * (float)t : 0.0f;
    for (uint32_t i = 0; i < L * H; i++) {
        st->ah[i] = 0.01f * (float)i;
        st->ac[i] = -0.02f * (float)i;
        st->ch[i] = 0.03f * (float)i;
        st->cc[i] = -0.04f * (float)i;
    }
    int cat = kind == XT_WIRE_ACTION_CATEGORICAL;
    m.chunk = (xt_wire_chunk){
        .shard = {"EURUSD", NULL, 3600, 2},
        .env_index = 5,
        .policy_version = 42,
        .t = T,
        .obs_dim = D,
        .n_actions = A,
        .action_kind = kind,
        .lstm_layers = L,
        .lstm_hidden = H,
        .obs = st->obs,
        .actions_cat = cat ? st->acat : NULL,
        .actions_cont = cat ? NULL : st->acont,
        .logp = st->logp,
        .values = full ? st->values : NULL,
        .trunc_values = full ? st->tv : NULL,
        .rewards = st->rewards,
        .terminated = st->term,
        .truncated = st->trunc,
        .episode_start = st->start,
        .masks = full ? st->masks : NULL,
        .actor_h = L ? st->ah : NULL,
        .actor_c = L ? st->ac : NULL,
        .critic_h = L && full ? st->ch : NULL,
        .critic_c = L && full ? st->cc : NULL,
        .episodes = T < 2 ? T : 2,
        .return_sum = 0.125,
        .sharpe_sum = -1.5,
    };
    return m;
}

// One sample of each message type (XT_WIRE_REGISTER .. XT_WIRE_STATUS), every
// field distinct from its default so a dropped field shows.
static xt_wire_msg s_sample(sample_store *st, int type) {
    xt_wire_msg m = {.type = (xt_wire_type)type, .hdr = {0, "broker", 9, 3}};
    for (int i = 0; i < 3; i++)
        st->shards[i] = (xt_wire_shard){{i == 2 ? NULL : (i ? "GBPUSD" : "EURUSD"),
                                         i == 2 ? "fx-majors" : NULL, 900u * (unsigned)(i + 1), 1},
                                        1577836800 + i,
                                        1609459200 + i,
                                        100 * i,
                                        100 * i + 50,
                                        40u + (unsigned)i};
    st->workers[0] = (xt_wire_worker){XT_WIRE_ROLE_ACTOR,
                                      "actor-1",
                                      11,
                                      "node-a",
                                      XT_WIRE_STATE_RUNNING,
                                      16,
                                      5123.5,
                                      3,
                                      40,
                                      0.25};
    st->workers[1] = (xt_wire_worker){
        XT_WIRE_ROLE_LEARNER, "learner-0", 12, "gpu-1", XT_WIRE_STATE_WAITING, 0, 0, 7, 41, 1.5};
    for (int i = 0; i < NPARAMS; i++) st->params[i] = sinf((float)i) * 0.1f;
    switch (type) {
    case XT_WIRE_REGISTER:
        m.hdr.sender_id = "actor-1";
        m.reg = (xt_wire_register){XT_WIRE_ROLE_ACTOR, 16, 4321, "node-a", 9102, 0, 0, "0.1.0"};
        break;
    case XT_WIRE_HEARTBEAT:
        m.hdr.sender_id = "learner-0";
        m.hb = (xt_wire_heartbeat){
            XT_WIRE_ROLE_LEARNER, XT_WIRE_STATE_RUNNING, 812.25, 123456789, 4, 17};
        break;
    case XT_WIRE_ASSIGNMENT:
        m.assign = (xt_wire_assignment){1,          XT_WIRE_PHASE_TRAIN,  0xfeedbeef12345ull,  3,
                                        st->shards, "tcp://learner:5556", "tcp://learner:5557"};
        break;
    case XT_WIRE_PHASE_COMMAND:
        m.phase_cmd = (xt_wire_phase_cmd){3, XT_WIRE_PHASE_CHECKPOINT, 5000000};
        break;
    case XT_WIRE_ROLLOUT_CHUNK: return s_chunk(st, 8, 5, 3, 2, 4, XT_WIRE_ACTION_CATEGORICAL, 1);
    case XT_WIRE_WEIGHTS:
        m.hdr.sender_id = "learner-0";
        m.weights = (xt_wire_weights){18, 1, "run-20260101", NPARAMS, st->params, 0};
        break;
    case XT_WIRE_CHECKPOINT_DONE:
        m.hdr.sender_id = "learner-0";
        m.ckpt_done = (xt_wire_ckpt_done){1, 250000, 18, "runs/r1/fold-1/ckpt-250000.xtck", 0.75};
        break;
    case XT_WIRE_EVAL_REQUEST:
        m.eval_req = (xt_wire_eval_req){1, 2, st->shards, "runs/r1/fold-1/ckpt-250000.xtck", 18};
        break;
    case XT_WIRE_EVAL_RESULT:
        m.hdr.sender_id = "actor-2";
        m.eval_res = (xt_wire_eval_res){.fold = 1,
                                        .shard = {NULL, "fx-majors", 86400, 1},
                                        .csv_path = "runs/r1/fold-1/eval/fx-majors-1d.csv"};
        for (int i = 0; i < XT_WIRE_EVAL_N; i++) m.eval_res.metrics[i] = 0.5 * i - 1;
        m.eval_res.metrics[XT_WIRE_EVAL_PROFIT_FACTOR] = INFINITY; // no losing trade
        break;
    case XT_WIRE_STATUS:
        m.status = (xt_wire_status){"run-20260101", 1,  4, XT_WIRE_PHASE_EVAL, 0.625, 3125000,
                                    5000000,        18, 2, st->workers};
        break;
    }
    return m;
}

// ---------------------------------------------------------------- comparison

static const char *s_s(const char *s) { return s ? s : ""; }

static void s_same_key(const xt_wire_shard_key *a, const xt_wire_shard_key *b) {
    assert_string_equal(s_s(a->symbol), s_s(b->symbol));
    assert_string_equal(s_s(a->portfolio), s_s(b->portfolio));
    assert_int_equal(a->tf_sec, b->tf_sec);
    assert_int_equal(a->fold, b->fold);
}

static void s_same_shards(const xt_wire_shard *a, const xt_wire_shard *b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        s_same_key(&a[i].key, &b[i].key);
        assert_int_equal(a[i].ts_begin, b[i].ts_begin);
        assert_int_equal(a[i].ts_end, b[i].ts_end);
        assert_int_equal(a[i].row_begin, b[i].row_begin);
        assert_int_equal(a[i].row_end, b[i].row_end);
        assert_int_equal(a[i].env_slot, b[i].env_slot);
    }
}

// Arrays equal for n bytes, or both absent.
static void s_same_arr(const void *a, const void *b, size_t n) {
    assert_true((a == NULL) == (b == NULL));
    if (a) assert_memory_equal(a, b, n);
}

static void s_same_chunk(const xt_wire_chunk *a, const xt_wire_chunk *b) {
    s_same_key(&a->shard, &b->shard);
    assert_int_equal(a->env_index, b->env_index);
    assert_int_equal(a->policy_version, b->policy_version);
    assert_int_equal(a->t, b->t);
    assert_int_equal(a->obs_dim, b->obs_dim);
    assert_int_equal(a->n_actions, b->n_actions);
    assert_int_equal(a->action_kind, b->action_kind);
    assert_int_equal(a->lstm_layers, b->lstm_layers);
    assert_int_equal(a->lstm_hidden, b->lstm_hidden);
    size_t T = a->t, D = a->obs_dim, A = a->n_actions, LH = (size_t)a->lstm_layers * a->lstm_hidden;
    s_same_arr(a->obs, b->obs, (T + 1) * D * 4);
    s_same_arr(a->actions_cat, b->actions_cat, T * 4);
    s_same_arr(a->actions_cont, b->actions_cont, T * A * 4);
    s_same_arr(a->logp, b->logp, T * 4);
    s_same_arr(a->values, b->values, (T + 1) * 4);
    s_same_arr(a->trunc_values, b->trunc_values, T * 4);
    s_same_arr(a->rewards, b->rewards, T * 4);
    s_same_arr(a->terminated, b->terminated, T);
    s_same_arr(a->truncated, b->truncated, T);
    s_same_arr(a->episode_start, b->episode_start, T);
    s_same_arr(a->masks, b->masks, T * A);
    s_same_arr(a->actor_h, b->actor_h, LH * 4);
    s_same_arr(a->actor_c, b->actor_c, LH * 4);
    s_same_arr(a->critic_h, b->critic_h, LH * 4);
    s_same_arr(a->critic_c, b->critic_c, LH * 4);
    assert_int_equal(a->episodes, b->episodes);
    assert_memory_equal(&a->return_sum, &b->return_sum, sizeof(double));
    assert_memory_equal(&a->sharpe_sum, &b->sharpe_sum, sizeof(double));
}

// Field-by-field equality of two messages (doubles bit for bit).
static void s_same(const xt_wire_msg *a, const xt_wire_msg *b) {
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->hdr.sender_id, b->hdr.sender_id);
    assert_int_equal(a->hdr.incarnation, b->hdr.incarnation);
    assert_int_equal(a->hdr.seq, b->hdr.seq);
    switch (a->type) {
    case XT_WIRE_REGISTER:
        assert_int_equal(a->reg.role, b->reg.role);
        assert_int_equal(a->reg.capacity, b->reg.capacity);
        assert_int_equal(a->reg.pid, b->reg.pid);
        assert_string_equal(s_s(a->reg.host), s_s(b->reg.host));
        assert_int_equal(a->reg.http_port, b->reg.http_port);
        assert_int_equal(a->reg.chunk_port, b->reg.chunk_port);
        assert_int_equal(a->reg.weights_port, b->reg.weights_port);
        assert_string_equal(s_s(a->reg.build), s_s(b->reg.build));
        break;
    case XT_WIRE_HEARTBEAT: assert_memory_equal(&a->hb, &b->hb, sizeof a->hb); break;
    case XT_WIRE_ASSIGNMENT:
        assert_int_equal(a->assign.fold, b->assign.fold);
        assert_int_equal(a->assign.phase, b->assign.phase);
        assert_int_equal(a->assign.seed, b->assign.seed);
        assert_int_equal(a->assign.n_shards, b->assign.n_shards);
        s_same_shards(a->assign.shards, b->assign.shards, a->assign.n_shards);
        assert_string_equal(s_s(a->assign.chunk_endpoint), s_s(b->assign.chunk_endpoint));
        assert_string_equal(s_s(a->assign.weights_endpoint), s_s(b->assign.weights_endpoint));
        break;
    case XT_WIRE_PHASE_COMMAND:
        assert_memory_equal(&a->phase_cmd, &b->phase_cmd, sizeof a->phase_cmd);
        break;
    case XT_WIRE_ROLLOUT_CHUNK: s_same_chunk(&a->chunk, &b->chunk); break;
    case XT_WIRE_WEIGHTS:
        assert_int_equal(a->weights.version, b->weights.version);
        assert_int_equal(a->weights.fold, b->weights.fold);
        assert_string_equal(s_s(a->weights.run_id), s_s(b->weights.run_id));
        assert_int_equal(a->weights.n_params, b->weights.n_params);
        assert_memory_equal(a->weights.params, b->weights.params, a->weights.n_params * 4);
        break;
    case XT_WIRE_CHECKPOINT_DONE:
        assert_int_equal(a->ckpt_done.fold, b->ckpt_done.fold);
        assert_int_equal(a->ckpt_done.step, b->ckpt_done.step);
        assert_int_equal(a->ckpt_done.policy_version, b->ckpt_done.policy_version);
        assert_string_equal(a->ckpt_done.path, b->ckpt_done.path);
        assert_memory_equal(&a->ckpt_done.val_sharpe, &b->ckpt_done.val_sharpe, sizeof(double));
        break;
    case XT_WIRE_EVAL_REQUEST:
        assert_int_equal(a->eval_req.fold, b->eval_req.fold);
        assert_int_equal(a->eval_req.n_shards, b->eval_req.n_shards);
        s_same_shards(a->eval_req.shards, b->eval_req.shards, a->eval_req.n_shards);
        assert_string_equal(a->eval_req.checkpoint_path, b->eval_req.checkpoint_path);
        assert_int_equal(a->eval_req.checkpoint_version, b->eval_req.checkpoint_version);
        break;
    case XT_WIRE_EVAL_RESULT:
        assert_int_equal(a->eval_res.fold, b->eval_res.fold);
        s_same_key(&a->eval_res.shard, &b->eval_res.shard);
        assert_memory_equal(a->eval_res.metrics, b->eval_res.metrics, sizeof a->eval_res.metrics);
        assert_string_equal(s_s(a->eval_res.csv_path), s_s(b->eval_res.csv_path));
        break;
    case XT_WIRE_STATUS:
        assert_string_equal(s_s(a->status.run_id), s_s(b->status.run_id));
        assert_int_equal(a->status.fold, b->status.fold);
        assert_int_equal(a->status.n_folds, b->status.n_folds);
        assert_int_equal(a->status.phase, b->status.phase);
        assert_memory_equal(&a->status.progress, &b->status.progress, sizeof(double));
        assert_int_equal(a->status.env_steps, b->status.env_steps);
        assert_int_equal(a->status.step_budget, b->status.step_budget);
        assert_int_equal(a->status.policy_version, b->status.policy_version);
        assert_int_equal(a->status.n_workers, b->status.n_workers);
        for (uint32_t i = 0; i < a->status.n_workers; i++) {
            const xt_wire_worker *x = &a->status.workers[i], *y = &b->status.workers[i];
            assert_int_equal(x->role, y->role);
            assert_string_equal(x->id, y->id);
            assert_int_equal(x->incarnation, y->incarnation);
            assert_string_equal(s_s(x->host), s_s(y->host));
            assert_int_equal(x->state, y->state);
            assert_int_equal(x->envs, y->envs);
            assert_memory_equal(&x->steps_per_s, &y->steps_per_s, sizeof(double));
            assert_int_equal(x->queue_depth, y->queue_depth);
            assert_int_equal(x->policy_version, y->policy_version);
            assert_memory_equal(&x->last_seen_s, &y->last_seen_s, sizeof(double));
        }
        break;
    default: fail_msg("unexpected type %d", a->type);
    }
}

// ---------------------------------------------------------------- fixture

typedef struct {
    xt_wire_limits lim;
    xt_wire_encoder *enc;
    xt_wire_decoder *dec;
    sample_store *st;
    uint8_t buf[64 << 10];
} fx;

static int s_setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    xt_err err = {0};
    f->lim = s_limits();
    f->enc = xt_wire_encoder_new(&f->lim, &err);
    f->dec = xt_wire_decoder_new(&f->lim, &err);
    f->st = calloc(1, sizeof *f->st);
    if (!f->enc || !f->dec) fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fx *f = *state;
    xt_wire_encoder_destroy(&f->enc);
    xt_wire_decoder_destroy(&f->dec);
    assert_null(f->enc);
    free(f->st);
    free(f);
    return 0;
}

// Encodes m with the fixture's encoder and copies the frame into f->buf.
static size_t s_encode(fx *f, const xt_wire_msg *m) {
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(f->enc, m, &frame, &len, &err) != 0) fail_msg("%s", err.msg);
    assert_true(len <= sizeof f->buf);
    memcpy(f->buf, frame, len);
    return len;
}

// Encodes m, lets edit change the unpacked envelope, repacks into f->buf.
static size_t s_tamper(fx *f, const xt_wire_msg *m, void (*edit)(Xtrade__Envelope *)) {
    size_t len = s_encode(f, m);
    Xtrade__Envelope *env = xtrade__envelope__unpack(NULL, len, f->buf);
    assert_non_null(env);
    edit(env);
    assert_true(xtrade__envelope__get_packed_size(env) <= sizeof f->buf);
    len = xtrade__envelope__pack(env, f->buf);
    xtrade__envelope__free_unpacked(env, NULL);
    return len;
}

// Decoding must fail with code, count one more reject of reason, and say msg.
static void s_expect(fx *f, const void *frame, size_t len, int code, xt_wire_reject reason,
                     const char *msg) {
    uint64_t before = xt_wire_decoder_stats(f->dec)->rejected[reason];
    xt_wire_msg out;
    xt_err err = {0};
    int rc = xt_wire_decode(f->dec, frame, len, "10.0.0.1", &out, &err);
    if (rc != code || strcmp(err.msg, msg) != 0)
        fail_msg("want %d \"%s\", got %d \"%s\"", code, msg, rc, err.msg);
    assert_int_equal(xt_wire_decoder_stats(f->dec)->rejected[reason], before + 1);
}

// ---------------------------------------------------------------- round trips

static void t_roundtrip_every_message(void **state) {
    fx *f = *state;
    uint64_t bytes = 0;
    for (int type = XT_WIRE_REGISTER; type < XT_WIRE_TYPE_N; type++) {
        xt_wire_msg m = s_sample(f->st, type), out;
        size_t len = s_encode(f, &m);
        xt_err err = {0};
        if (xt_wire_decode(f->dec, f->buf, len, NULL, &out, &err) != 0)
            fail_msg("%s: %s", xt_wire_type_name(type), err.msg);
        assert_int_equal(out.hdr.version, XT_WIRE_VERSION);
        s_same(&m, &out);
        bytes += len;
    }
    // The decoded weights carry the CRC the encoder computed.
    xt_wire_msg w = s_sample(f->st, XT_WIRE_WEIGHTS), out;
    size_t len = s_encode(f, &w);
    assert_int_equal(xt_wire_decode(f->dec, f->buf, len, NULL, &out, NULL), 0);
    assert_int_equal(out.weights.crc32, xt_crc32(0, f->st->params, NPARAMS * 4));
    const xt_wire_stats *s = xt_wire_decoder_stats(f->dec);
    assert_int_equal(s->frames, XT_WIRE_TYPE_N);
    assert_int_equal(s->bytes, bytes + len);
    for (int r = 0; r < XT_WIRE_REJ_N; r++) assert_int_equal(s->rejected[r], 0);
}

static void t_roundtrip_chunk_variants(void **state) {
    fx *f = *state;
    struct {
        uint32_t T, D, A, L, H;
        xt_wire_action_kind kind;
        int full;
    } v[] = {
        {64, 16, 8, 2, 8, XT_WIRE_ACTION_CATEGORICAL, 1}, // every optional array present
        {64, 16, 7, 2, 8, XT_WIRE_ACTION_CONTINUOUS, 0},  // no values, masks, critic state
        {1, 1, 1, 0, 0, XT_WIRE_ACTION_CATEGORICAL, 0},   // feed-forward, one step
        {3, 2, 2, 1, 1, XT_WIRE_ACTION_CONTINUOUS, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        xt_wire_msg m = s_chunk(f->st, v[i].T, v[i].D, v[i].A, v[i].L, v[i].H, v[i].kind,
                                v[i].full),
                    out;
        size_t len = s_encode(f, &m);
        xt_err err = {0};
        if (xt_wire_decode(f->dec, f->buf, len, NULL, &out, &err) != 0)
            fail_msg("%zu: %s", i, err.msg);
        s_same(&m, &out);
        // Decoded float arrays are 16-byte aligned views into the arena.
        assert_int_equal((uintptr_t)out.chunk.obs % 16, 0);
        assert_int_equal(xt_wire_chunk_bytes(&out.chunk), xt_wire_chunk_bytes(&m.chunk));
    }
    // Hand-worked size of the first: obs 65*16*4 + actions 64*4 + logp, rewards
    // 2*64*4 + values 65*4 + trunc values 64*4 + flags 3*64 + masks 64*8 + states 4*2*8*4.
    xt_wire_msg m = s_chunk(f->st, 64, 16, 8, 2, 8, XT_WIRE_ACTION_CATEGORICAL, 1);
    assert_int_equal(xt_wire_chunk_bytes(&m.chunk), 4160 + 256 + 512 + 260 + 256 + 192 + 512 + 256);
}

// ---------------------------------------------------------------- rejections

static void t_reject_oversized(void **state) {
    fx *f = *state;
    // Checked before anything is read: the buffer is far shorter than len.
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    xt_wire_decoder *d = xt_wire_decoder_new(&lim, NULL);
    assert_non_null(d);
    xt_wire_msg out;
    xt_err err = {0};
    uint8_t tiny[16] = {0};
    assert_int_equal(xt_wire_decode(d, tiny, 300000000, NULL, &out, &err), XT_ERANGE);
    assert_string_equal(err.msg, "frame of 300000000 bytes exceeds the 67108864-byte limit");
    assert_int_equal(xt_wire_decoder_stats(d)->rejected[XT_WIRE_REJ_OVERSIZE], 1);
    xt_wire_decoder_destroy(&d);

    // The encoder refuses to write past its limit.
    xt_wire_limits small = f->lim;
    small.max_frame_bytes = 1024;
    xt_wire_encoder *e = xt_wire_encoder_new(&small, NULL);
    xt_wire_msg m = s_chunk(f->st, 64, 16, 8, 2, 8, XT_WIRE_ACTION_CATEGORICAL, 1);
    const void *frame;
    size_t len;
    assert_int_equal(xt_wire_encode(e, &m, &frame, &len, &err), XT_ERANGE);
    assert_contains(err.msg, "encode: frame of ");
    assert_contains(err.msg, " bytes exceeds the 1024-byte limit");
    xt_wire_encoder_destroy(&e);
}

// 30000 empty worker rows fit in a 64 KiB frame but not in the arena.
static void t_reject_arena_exhausted(void **state) {
    fx *f = *state;
    enum { N = 30000 };
    Xtrade__WorkerRow *rows = calloc(N, sizeof *rows), **ptrs = calloc(N, sizeof *ptrs);
    for (int i = 0; i < N; i++) {
        xtrade__worker_row__init(&rows[i]);
        ptrs[i] = &rows[i];
    }
    Xtrade__Status st = XTRADE__STATUS__INIT;
    st.n_workers = N;
    st.workers = ptrs;
    Xtrade__Envelope env = XTRADE__ENVELOPE__INIT;
    env.version = 1;
    env.type = XTRADE__MSG_TYPE__MSG_TYPE_STATUS;
    env.sender_id = "broker";
    env.body_case = XTRADE__ENVELOPE__BODY_STATUS;
    env.status = &st;
    size_t len = xtrade__envelope__get_packed_size(&env);
    assert_true(len < sizeof f->buf);
    xtrade__envelope__pack(&env, f->buf);
    char want[128];
    snprintf(want, sizeof want, "frame of %zu bytes needs more than the %zu-byte decode arena", len,
             xt_wire_decoder_arena_bytes(f->dec));
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_OVERSIZE, want);

    // 20 rows fit the arena but not max_workers = 8.
    st.n_workers = 20;
    len = xtrade__envelope__pack(&env, f->buf);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "Status.workers: 20 entries exceed the limit of 8");
    free(rows);
    free(ptrs);
}

static void s_edit_version(Xtrade__Envelope *e) { e->version = 7; }
static void s_edit_no_version(Xtrade__Envelope *e) { e->version = 0; }

static void t_reject_version(void **state) {
    fx *f = *state;
    xt_wire_msg m = s_sample(f->st, XT_WIRE_HEARTBEAT);
    size_t len = s_tamper(f, &m, s_edit_version);
    s_expect(f, f->buf, len, XT_EPROTO, XT_WIRE_REJ_VERSION,
             "envelope: protocol version 7 not supported (this build speaks 1)");
    len = s_tamper(f, &m, s_edit_no_version);
    s_expect(f, f->buf, len, XT_EPROTO, XT_WIRE_REJ_VERSION,
             "envelope: protocol version 0 not supported (this build speaks 1)");
}

// Every strict prefix of a frame is rejected: the body is written last, so a
// cut either breaks a length-delimited field or removes the body.
static void t_reject_truncated(void **state) {
    fx *f = *state;
    for (int type = XT_WIRE_REGISTER; type < XT_WIRE_TYPE_N; type++) {
        xt_wire_msg m = s_sample(f->st, type), out;
        size_t len = s_encode(f, &m);
        for (size_t n = 0; n < len; n++) {
            xt_err err = {0};
            int rc = xt_wire_decode(f->dec, f->buf, n, NULL, &out, &err);
            if (rc == 0)
                fail_msg("%s: prefix of %zu/%zu bytes accepted", xt_wire_type_name(type), n, len);
        }
    }
    xt_wire_msg m = s_sample(f->st, XT_WIRE_ROLLOUT_CHUNK);
    size_t len = s_encode(f, &m);
    char want[96];
    snprintf(want, sizeof want, "frame of %zu bytes is truncated or not an xtrade envelope",
             len - 1);
    s_expect(f, f->buf, len - 1, XT_EPROTO, XT_WIRE_REJ_MALFORMED, want);
    s_expect(f, f->buf, 0, XT_EPROTO, XT_WIRE_REJ_MALFORMED, "frame is empty");
    // Cut right after the header: a readable envelope without a body.
    Xtrade__Envelope *env = xtrade__envelope__unpack(NULL, len, f->buf);
    env->body_case = XTRADE__ENVELOPE__BODY__NOT_SET;
    size_t hdr = xtrade__envelope__get_packed_size(env);
    env->body_case = XTRADE__ENVELOPE__BODY_ROLLOUT_CHUNK; // so that it is freed
    xtrade__envelope__free_unpacked(env, NULL);
    s_expect(f, f->buf, hdr, XT_EPROTO, XT_WIRE_REJ_TYPE,
             "envelope: type RolloutChunk but no body");
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff};
    s_expect(f, junk, sizeof junk, XT_EPROTO, XT_WIRE_REJ_MALFORMED,
             "frame of 11 bytes is truncated or not an xtrade envelope");
}

static void s_edit_type_mismatch(Xtrade__Envelope *e) {
    e->type = XTRADE__MSG_TYPE__MSG_TYPE_HEARTBEAT;
}
static void s_edit_type_unknown(Xtrade__Envelope *e) { e->type = (Xtrade__MsgType)42; }

static void t_reject_type(void **state) {
    fx *f = *state;
    xt_wire_msg m = s_sample(f->st, XT_WIRE_WEIGHTS);
    size_t len = s_tamper(f, &m, s_edit_type_mismatch);
    s_expect(f, f->buf, len, XT_EPROTO, XT_WIRE_REJ_TYPE,
             "envelope: type Heartbeat but the body is Weights");
    len = s_tamper(f, &m, s_edit_type_unknown);
    s_expect(f, f->buf, len, XT_EPROTO, XT_WIRE_REJ_TYPE, "envelope: unknown message type 42");
}

static void s_edit_obs_len(Xtrade__Envelope *e) { e->rollout_chunk->obs.len = 1000; }
static void s_edit_t_big(Xtrade__Envelope *e) { e->rollout_chunk->t = 5000; }
static void s_edit_masks_len(Xtrade__Envelope *e) { e->rollout_chunk->masks.len -= 1; }
static void s_edit_critic_one(Xtrade__Envelope *e) { e->rollout_chunk->critic_c.len = 0; }
static void s_edit_params_len(Xtrade__Envelope *e) { e->weights->params.len -= 4; }
static void s_edit_metrics(Xtrade__Envelope *e) { e->eval_result->n_metrics -= 1; }
static void s_edit_lstm(Xtrade__Envelope *e) { e->rollout_chunk->lstm_hidden = 0; }

static void t_reject_shape(void **state) {
    fx *f = *state;
    xt_wire_msg m = s_chunk(f->st, 64, 16, 8, 2, 8, XT_WIRE_ACTION_CATEGORICAL, 1);
    size_t len = s_tamper(f, &m, s_edit_obs_len);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "RolloutChunk.obs: 1000 bytes but T+1=65 x obs_dim=16 x 4 = 4160");
    len = s_tamper(f, &m, s_edit_t_big);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "RolloutChunk.t: 5000 is not in [1, 64]");
    len = s_tamper(f, &m, s_edit_masks_len);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "RolloutChunk.masks: 511 bytes but 0 or T=64 x A=8 x 1 = 512");
    len = s_tamper(f, &m, s_edit_critic_one);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "RolloutChunk.critic_h: 64 bytes but critic_c has 0 (both or neither)");
    len = s_tamper(f, &m, s_edit_lstm);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "RolloutChunk.lstm_layers: 2 with lstm_hidden 0 (both 0 or both > 0)");
    xt_wire_msg w = s_sample(f->st, XT_WIRE_WEIGHTS);
    len = s_tamper(f, &w, s_edit_params_len);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "Weights.params: 1196 bytes but n_params=300 x 4 = 1200");
    xt_wire_msg r = s_sample(f->st, XT_WIRE_EVAL_RESULT);
    len = s_tamper(f, &r, s_edit_metrics);
    s_expect(f, f->buf, len, XT_ERANGE, XT_WIRE_REJ_SHAPE,
             "EvalResult.metrics: 13 values but this build expects 14");
}

static void s_edit_obs_nan(Xtrade__Envelope *e) {
    float nan = NAN;
    memcpy(e->rollout_chunk->obs.data + (2 * 16 + 3) * 4, &nan, 4); // obs[2][3]
}
static void s_edit_reward_inf(Xtrade__Envelope *e) {
    float inf = -INFINITY;
    memcpy(e->rollout_chunk->rewards.data + 9 * 4, &inf, 4);
}
static void s_edit_params_inf(Xtrade__Envelope *e) {
    float inf = INFINITY;
    memcpy(e->weights->params.data + 5 * 4, &inf, 4);
    e->weights->crc32 = xt_crc32(0, e->weights->params.data, e->weights->params.len);
}

static void t_reject_nonfinite(void **state) {
    fx *f = *state;
    xt_wire_msg m = s_chunk(f->st, 64, 16, 8, 2, 8, XT_WIRE_ACTION_CATEGORICAL, 1), out;
    size_t len = s_tamper(f, &m, s_edit_obs_nan);
    s_expect(f, f->buf, len, XT_ENUMERIC, XT_WIRE_REJ_NONFINITE,
             "RolloutChunk.obs[2][3]: nan where a finite value is required");
    size_t nan_len = len;
    uint8_t nan_frame[8192];
    memcpy(nan_frame, f->buf, len);
    len = s_tamper(f, &m, s_edit_reward_inf);
    s_expect(f, f->buf, len, XT_ENUMERIC, XT_WIRE_REJ_NONFINITE,
             "RolloutChunk.rewards[9]: -inf where a finite value is required");
    xt_wire_msg w = s_sample(f->st, XT_WIRE_WEIGHTS);
    len = s_tamper(f, &w, s_edit_params_inf);
    s_expect(f, f->buf, len, XT_ENUMERIC, XT_WIRE_REJ_NONFINITE,
             "Weights.params[5]: inf where a finite value is required");

    // The encoder refuses the same values with the same sentence.
    f->st->obs[2 * 16 + 3] = NAN;
    const void *frame;
    xt_err err = {0};
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, &err), XT_ENUMERIC);
    assert_string_equal(err.msg,
                        "encode: RolloutChunk.obs[2][3]: nan where a finite value is required");

    // Finite obs is a configurable requirement.
    xt_wire_limits lax = f->lim;
    lax.finite &= ~(unsigned)XT_WIRE_FINITE_OBS;
    xt_wire_decoder *d = xt_wire_decoder_new(&lax, NULL);
    assert_int_equal(xt_wire_decode(d, nan_frame, nan_len, NULL, &out, &err), 0);
    assert_true(isnan(out.chunk.obs[2 * 16 + 3]));
    xt_wire_decoder_destroy(&d);
}

static void s_edit_crc(Xtrade__Envelope *e) { e->weights->crc32 = 0x12345678; }

static void t_reject_bad_crc(void **state) {
    fx *f = *state;
    xt_wire_msg w = s_sample(f->st, XT_WIRE_WEIGHTS);
    uint32_t crc = xt_crc32(0, f->st->params, NPARAMS * 4);
    size_t len = s_tamper(f, &w, s_edit_crc);
    char want[96];
    snprintf(want, sizeof want, "Weights.crc32: 0x12345678 but the params bytes hash to 0x%08x",
             crc);
    s_expect(f, f->buf, len, XT_EPROTO, XT_WIRE_REJ_CRC, want);
    // One flipped bit in the last param (the frame's params bytes end where
    // the fixed32 crc field's tag begins, 5 bytes before the end).
    len = s_encode(f, &w);
    f->buf[len - 6] ^= 0x01;
    xt_wire_msg out;
    xt_err err = {0};
    assert_int_equal(xt_wire_decode(f->dec, f->buf, len, NULL, &out, &err), XT_EPROTO);
    assert_contains(err.msg, "Weights.crc32: ");
}

// Replaces a string of an unpacked message (protobuf-c frees it later).
static void s_set_str(char **field, const char *v) {
    if (*field != protobuf_c_empty_string) free(*field);
    *field = strdup(v);
}

static void s_edit_flag(Xtrade__Envelope *e) { e->rollout_chunk->terminated.data[4] = 2; }
static void s_edit_action(Xtrade__Envelope *e) {
    int32_t a = 8;
    memcpy(e->rollout_chunk->actions.data + 7 * 4, &a, 4);
}
static void s_edit_kind(Xtrade__Envelope *e) {
    e->rollout_chunk->action_kind = (Xtrade__ActionKind)3;
}
static void s_edit_key(Xtrade__Envelope *e) {
    s_set_str(&e->rollout_chunk->shard->portfolio, "fx");
}
static void s_edit_fold(Xtrade__Envelope *e) { e->assignment->shards[1]->key->fold = 2; }
static void s_edit_window(Xtrade__Envelope *e) { e->assignment->shards[2]->ts_end = 0; }
static void s_edit_sender(Xtrade__Envelope *e) { s_set_str(&e->sender_id, "actor 1"); }
static void s_edit_port(Xtrade__Envelope *e) { e->register_msg->http_port = 70000; }
static void s_edit_phase(Xtrade__Envelope *e) { e->phase_command->phase = (Xtrade__Phase)9; }
static void s_edit_progress(Xtrade__Envelope *e) { e->status->progress = 1.5; }
static void s_edit_episodes(Xtrade__Envelope *e) { e->rollout_chunk->episodes = 65; }

static void t_reject_values(void **state) {
    fx *f = *state;
    struct {
        int type;
        void (*edit)(Xtrade__Envelope *);
        const char *msg;
    } c[] = {
        {XT_WIRE_ROLLOUT_CHUNK, s_edit_flag, "RolloutChunk.terminated[4]: 2 is not 0 or 1"},
        {XT_WIRE_ROLLOUT_CHUNK, s_edit_action, "RolloutChunk.actions[7]: 8 is not in [0, 8)"},
        {XT_WIRE_ROLLOUT_CHUNK, s_edit_kind,
         "RolloutChunk.action_kind: 3 is not one of categorical=1, continuous=2"},
        {XT_WIRE_ROLLOUT_CHUNK, s_edit_key,
         "RolloutChunk.shard: needs exactly one of symbol or portfolio (got both)"},
        {XT_WIRE_ROLLOUT_CHUNK, s_edit_episodes,
         "RolloutChunk.episodes: 65 finished episodes in a chunk of T=64 steps"},
        {XT_WIRE_ASSIGNMENT, s_edit_fold,
         "Assignment.shards[1].key.fold: 2 but the message is for fold 1"},
        {XT_WIRE_ASSIGNMENT, s_edit_window,
         "Assignment.shards[2]: ts_begin 1577836802 is not before ts_end 0"},
        {XT_WIRE_HEARTBEAT, s_edit_sender,
         "envelope.sender_id: has a forbidden character (byte 0x20 at offset 5)"},
        {XT_WIRE_REGISTER, s_edit_port, "Register.http_port: 70000 is not a TCP port (0-65535)"},
        {XT_WIRE_PHASE_COMMAND, s_edit_phase,
         "PhaseCommand.phase: 9 is not one of train=1, checkpoint=2, eval=3, done=4, stop=5"},
        {XT_WIRE_STATUS, s_edit_progress, "Status.progress: 1.5 is not in [0, 1]"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        xt_wire_msg m = c[i].type == XT_WIRE_ROLLOUT_CHUNK
                            ? s_chunk(f->st, 64, 16, 8, 2, 8, XT_WIRE_ACTION_CATEGORICAL, 1)
                            : s_sample(f->st, c[i].type);
        size_t len = s_tamper(f, &m, c[i].edit);
        s_expect(f, f->buf, len, XT_EPROTO, XT_WIRE_REJ_VALUE, c[i].msg);
    }
}

// The encoder runs the same checks on the C view.
static void t_encoder_checks(void **state) {
    fx *f = *state;
    const void *frame;
    size_t len;
    xt_err err = {0};
    xt_wire_msg m = s_chunk(f->st, 8, 5, 3, 2, 4, XT_WIRE_ACTION_CATEGORICAL, 1);
    m.chunk.actions_cont = f->st->acont;
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, &err), XT_ERANGE);
    assert_string_equal(err.msg, "encode: RolloutChunk.actions_cont: set for a categorical chunk");
    m = s_chunk(f->st, 8, 5, 3, 2, 4, XT_WIRE_ACTION_CATEGORICAL, 0);
    m.chunk.critic_c = f->st->cc;
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, &err), XT_ERANGE);
    assert_string_equal(err.msg, "encode: RolloutChunk.critic_c: set for a chunk without critic_h");
    m = s_sample(f->st, XT_WIRE_WEIGHTS);
    m.weights.n_params = NPARAMS + 1;
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, &err), XT_ERANGE);
    assert_string_equal(err.msg, "encode: Weights.n_params: 301 is not in [1, 300]");
    m = s_sample(f->st, XT_WIRE_HEARTBEAT);
    m.hdr.sender_id = NULL;
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, &err), XT_EPROTO);
    assert_string_equal(err.msg, "encode: envelope.sender_id: must not be empty");
    m.hdr.sender_id = "learner-0";
    m.type = XT_WIRE_NONE;
    assert_int_equal(xt_wire_encode(f->enc, &m, &frame, &len, &err), XT_EPROTO);
    assert_string_equal(err.msg, "encode: envelope: unknown message type 0");
}

static void t_limits_check(void **state) {
    (void)state;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    assert_int_equal(xt_wire_limits_check(&lim, NULL), 0);
    lim.max_t = 0;
    xt_err err = {0};
    assert_null(xt_wire_decoder_new(&lim, &err));
    assert_string_equal(err.msg, "wire limits: max_t: must be between 1 and 65536 (got 0)");
    xt_wire_limits_default(&lim);
    lim.finite = 0x100;
    assert_null(xt_wire_encoder_new(&lim, &err));
    assert_string_equal(err.msg, "wire limits: finite: unknown bits 0x100");
}

// One log line per peer: the same sender again, or the same address again, is only counted.
static void t_log_once_per_peer(void **state) {
    fx *f = *state;
    xt_wire_msg m = s_sample(f->st, XT_WIRE_HEARTBEAT), out;
    size_t len = s_tamper(f, &m, s_edit_version);
    const xt_wire_stats *s = xt_wire_decoder_stats(f->dec);
    xt_log_init('C', XT_LOG_OFF, 0);
    for (int i = 0; i < 3; i++) xt_wire_decode(f->dec, f->buf, len, "10.0.0.1", &out, NULL);
    assert_int_equal(s->peers_logged, 1);
    m.hdr.incarnation++; // a restarted process is a new peer
    len = s_tamper(f, &m, s_edit_version);
    xt_wire_decode(f->dec, f->buf, len, "10.0.0.1", &out, NULL);
    assert_int_equal(s->peers_logged, 2);
    static const uint8_t junk[] = {0xff, 0xff};
    xt_wire_decode(f->dec, junk, 2, "10.0.0.9", &out, NULL);
    xt_wire_decode(f->dec, junk, 2, "10.0.0.9", &out, NULL);
    assert_int_equal(s->peers_logged, 3);
    xt_wire_decode(f->dec, junk, 2, NULL, &out, NULL);
    xt_wire_decode(f->dec, junk, 2, NULL, &out, NULL);
    assert_int_equal(s->peers_logged, 4);
    assert_int_equal(s->rejected[XT_WIRE_REJ_VERSION], 4);
    assert_int_equal(s->rejected[XT_WIRE_REJ_MALFORMED], 4);
    xt_log_init('C', XT_LOG_INFO, 0);
}

// ---------------------------------------------------------------- limits fit

// Messages at every limit decode with an arena sized from those limits, even
// when max_frame_bytes is exactly the frame's size.
static void t_messages_at_the_limits_fit(void **state) {
    (void)state;
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 4 << 20;
    lim.max_t = 128, lim.max_obs_dim = 256, lim.max_actions = 16;
    lim.max_lstm_layers = 2, lim.max_lstm_hidden = 128;
    lim.max_shards = 512, lim.max_workers = 256;
    xt_wire_encoder *e = xt_wire_encoder_new(&lim, NULL);
    char sym[XT_WIRE_ID_MAX];
    memset(sym, 'S', sizeof sym - 1);
    sym[sizeof sym - 1] = '\0';
    xt_wire_shard *sh = calloc(lim.max_shards, sizeof *sh);
    xt_wire_worker *wk = calloc(lim.max_workers, sizeof *wk);
    for (uint32_t i = 0; i < lim.max_shards; i++)
        sh[i] = (xt_wire_shard){{i % 2 ? sym : "X", NULL, 60, 0}, 0, 1, 0, 0, 0};
    for (uint32_t i = 0; i < lim.max_workers; i++)
        wk[i] = (xt_wire_worker){XT_WIRE_ROLE_ACTOR,
                                 i % 2 ? sym : "a",
                                 0,
                                 i % 2 ? sym : NULL,
                                 XT_WIRE_STATE_IDLE,
                                 0,
                                 0,
                                 0,
                                 0,
                                 0};
    uint32_t T = lim.max_t, D = lim.max_obs_dim, A = lim.max_actions, LH = 2 * 128;
    float *obs = calloc((T + 1) * D, 4), *fl = calloc((size_t)(T + 1) * A, 4);
    uint8_t *u8 = calloc((size_t)T * A, 1);
    xt_wire_msg msgs[3] = {
        {.type = XT_WIRE_ASSIGNMENT,
         .hdr = {0, sym, 0, 0},
         .assign = {0, XT_WIRE_PHASE_TRAIN, 0, lim.max_shards, sh, sym, sym}},
        {.type = XT_WIRE_STATUS,
         .hdr = {0, sym, 0, 0},
         .status = {.run_id = sym, .n_workers = lim.max_workers, .workers = wk}},
        {.type = XT_WIRE_ROLLOUT_CHUNK,
         .hdr = {0, sym, 0, 0},
         .chunk = {.shard = {sym, NULL, 60, 0},
                   .t = T,
                   .obs_dim = D,
                   .n_actions = A,
                   .action_kind = XT_WIRE_ACTION_CONTINUOUS,
                   .lstm_layers = 2,
                   .lstm_hidden = 128,
                   .obs = obs,
                   .actions_cont = fl,
                   .logp = fl,
                   .values = fl,
                   .rewards = fl,
                   .terminated = u8,
                   .truncated = u8,
                   .episode_start = u8,
                   .masks = u8,
                   .actor_h = fl,
                   .actor_c = fl,
                   .critic_h = fl,
                   .critic_c = fl}},
    };
    assert_true(LH <= (T + 1) * A);
    for (int i = 0; i < 3; i++) {
        const void *frame;
        size_t len;
        xt_err err = {0};
        if (xt_wire_encode(e, &msgs[i], &frame, &len, &err)) fail_msg("%s", err.msg);
        xt_wire_limits tight = lim;
        tight.max_frame_bytes = len;
        xt_wire_decoder *d = xt_wire_decoder_new(&tight, NULL);
        xt_wire_msg out;
        if (xt_wire_decode(d, frame, len, NULL, &out, &err))
            fail_msg("%s (%zu-byte frame, %zu-byte arena)", err.msg, len,
                     xt_wire_decoder_arena_bytes(d));
        s_same(&msgs[i], &out);
        xt_wire_decoder_destroy(&d);
    }
    free(obs), free(fl), free(u8), free(sh), free(wk);
    xt_wire_encoder_destroy(&e);
}

// ---------------------------------------------------------------- fuzz

// Reads every array of an accepted message through its declared shape (ASan
// reports any read past an arena allocation) and checks the invariants.
static double s_touch(const xt_wire_msg *m, const xt_wire_limits *lim) {
    double sum = 0;
    if (m->type == XT_WIRE_ROLLOUT_CHUNK) {
        const xt_wire_chunk *c = &m->chunk;
        assert_true(c->t >= 1 && c->t <= lim->max_t && c->obs_dim <= lim->max_obs_dim);
        size_t T = c->t, D = c->obs_dim, A = c->n_actions,
               LH = (size_t)c->lstm_layers * c->lstm_hidden;
        for (size_t i = 0; i < (T + 1) * D; i++) sum += c->obs[i];
        for (size_t t = 0; t < T; t++) {
            sum += c->logp[t] + c->rewards[t] + c->terminated[t] + c->truncated[t] +
                   c->episode_start[t];
            if (c->actions_cat)
                assert_true(c->actions_cat[t] >= 0 && (size_t)c->actions_cat[t] < A);
            for (size_t a = 0; a < A; a++) {
                if (c->actions_cont) sum += c->actions_cont[t * A + a];
                if (c->masks) sum += c->masks[t * A + a];
            }
        }
        for (size_t t = 0; c->values && t <= T; t++) sum += c->values[t];
        for (size_t i = 0; i < LH; i++) {
            sum += c->actor_h[i] + c->actor_c[i];
            if (c->critic_h) sum += c->critic_h[i] + c->critic_c[i];
        }
    } else if (m->type == XT_WIRE_WEIGHTS) {
        assert_true(m->weights.n_params <= lim->max_params);
        for (uint64_t i = 0; i < m->weights.n_params; i++) sum += m->weights.params[i];
    } else if (m->type == XT_WIRE_ASSIGNMENT || m->type == XT_WIRE_EVAL_REQUEST) {
        const xt_wire_shard *sh =
            m->type == XT_WIRE_ASSIGNMENT ? m->assign.shards : m->eval_req.shards;
        uint32_t n = m->type == XT_WIRE_ASSIGNMENT ? m->assign.n_shards : m->eval_req.n_shards;
        assert_true(n <= lim->max_shards);
        for (uint32_t i = 0; i < n; i++) sum += (double)strlen(sh[i].key.symbol) + sh[i].key.tf_sec;
    } else if (m->type == XT_WIRE_STATUS) {
        assert_true(m->status.n_workers <= lim->max_workers);
        for (uint32_t i = 0; i < m->status.n_workers; i++)
            sum += (double)strlen(m->status.workers[i].id);
    }
    return sum + (double)strlen(m->hdr.sender_id);
}

// Structure-aware mutation: unpack a valid frame, change one dimension or one
// bytes length of its body to a random value, repack into buf. Returns the length.
static size_t s_mutate_fields(xt_rng *rng, const uint8_t *seed, size_t len, uint8_t *buf,
                              size_t cap) {
    Xtrade__Envelope *env = xtrade__envelope__unpack(NULL, len, seed);
    assert_non_null(env);
    uint32_t v = xt_rng_below(rng, 4) ? (uint32_t)xt_rng_below(rng, 80) : (uint32_t)xt_rng_u64(rng);
    Xtrade__RolloutChunk *c =
        env->body_case == XTRADE__ENVELOPE__BODY_ROLLOUT_CHUNK ? env->rollout_chunk : NULL;
    if (c) {
        uint32_t *dims[] = {&c->t,           &c->obs_dim,     &c->n_actions,
                            &c->lstm_layers, &c->lstm_hidden, &c->episodes};
        ProtobufCBinaryData *b[] = {&c->obs,     &c->actions,    &c->logp,      &c->values,
                                    &c->rewards, &c->terminated, &c->truncated, &c->episode_start,
                                    &c->masks,   &c->actor_h,    &c->actor_c,   &c->critic_h,
                                    &c->critic_c};
        size_t i = xt_rng_below(rng, 6 + 13);
        if (i < 6)
            *dims[i] = v;
        else if (b[i - 6]->len > 0)
            b[i - 6]->len = xt_rng_below(rng, b[i - 6]->len);
    } else if (env->body_case == XTRADE__ENVELOPE__BODY_WEIGHTS) {
        env->weights->n_params = v;
    } else if (env->body_case == XTRADE__ENVELOPE__BODY_EVAL_RESULT) {
        env->eval_result->n_metrics = xt_rng_below(rng, env->eval_result->n_metrics + 1);
    } else {
        env->type = (Xtrade__MsgType)(v % 12);
    }
    size_t n = xtrade__envelope__get_packed_size(env);
    assert_true(n <= cap);
    n = xtrade__envelope__pack(env, buf);
    xtrade__envelope__free_unpacked(env, NULL);
    return n;
}

static void t_fuzz_mutations(void **state) {
    fx *f = *state;
    enum { N = 20000, NSEED = 13 };
    static uint8_t seeds[NSEED][8192];
    size_t seed_len[NSEED];
    int k = 0;
    for (int type = XT_WIRE_REGISTER; type < XT_WIRE_TYPE_N; type++, k++) {
        xt_wire_msg m = s_sample(f->st, type);
        seed_len[k] = s_encode(f, &m);
        memcpy(seeds[k], f->buf, seed_len[k]);
    }
    xt_wire_msg extra[3] = {s_chunk(f->st, 6, 4, 5, 1, 3, XT_WIRE_ACTION_CONTINUOUS, 1),
                            s_chunk(f->st, 2, 3, 2, 0, 0, XT_WIRE_ACTION_CATEGORICAL, 0),
                            s_chunk(f->st, 4, 2, 3, 2, 2, XT_WIRE_ACTION_CATEGORICAL, 1)};
    for (int i = 0; i < 3; i++, k++) {
        seed_len[k] = s_encode(f, &extra[i]);
        memcpy(seeds[k], f->buf, seed_len[k]);
    }
    xt_wire_decoder *d2 = xt_wire_decoder_new(&f->lim, NULL);
    xt_rng rng;
    xt_rng_seed(&rng, 20260101);
    xt_log_init('C', XT_LOG_OFF, 0);
    static uint8_t buf[16384];
    int accepted = 0;
    for (int it = 0; it < N; it++) {
        int s = (int)xt_rng_below(&rng, NSEED);
        size_t len = seed_len[s];
        memcpy(buf, seeds[s], len);
        int structured = xt_rng_below(&rng, 5) == 0;
        if (structured) len = s_mutate_fields(&rng, seeds[s], len, buf, sizeof buf);
        int ops = (int)xt_rng_below(&rng, 3) + !structured;
        for (int o = 0; o < ops && len > 0; o++) {
            size_t at = xt_rng_below(&rng, len);
            switch (xt_rng_below(&rng, 6)) {
            case 0: buf[at] ^= (uint8_t)(1u << xt_rng_below(&rng, 8)); break; // bit flip
            case 1: buf[at] = (uint8_t)xt_rng_u64(&rng); break;               // random byte
            case 2: len = at; break;                                          // truncate
            case 3: {                                                         // delete a span
                size_t n = 1 + xt_rng_below(&rng, len - at);
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
                break;
            }
            case 4: { // splice a span of another frame in
                int s2 = (int)xt_rng_below(&rng, NSEED);
                size_t from = xt_rng_below(&rng, seed_len[s2]), n = 1 + xt_rng_below(&rng, 64);
                if (from + n > seed_len[s2]) n = seed_len[s2] - from;
                if (len + n > sizeof buf) break;
                memmove(buf + at + n, buf + at, len - at);
                memcpy(buf + at, seeds[s2] + from, n);
                len += n;
                break;
            }
            default: { // a varint of a large value (lengths, counts, dims)
                static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
                size_t n = at + sizeof big <= len ? sizeof big : len - at;
                memcpy(buf + at, big, n);
                break;
            }
            }
        }
        xt_wire_msg out, again;
        if (xt_wire_decode(f->dec, buf, len, "fuzz", &out, NULL) != 0) continue;
        accepted++;
        // An accepted frame is internally consistent, re-encodes, and decodes to the same.
        s_touch(&out, &f->lim);
        const void *frame;
        size_t flen;
        xt_err err = {0};
        if (xt_wire_encode(f->enc, &out, &frame, &flen, &err) != 0)
            fail_msg("re-encode: %s", err.msg);
        if (xt_wire_decode(d2, frame, flen, NULL, &again, &err) != 0)
            fail_msg("re-decode: %s", err.msg);
        s_same(&out, &again);
    }
    const xt_wire_stats *st = xt_wire_decoder_stats(f->dec);
    uint64_t rejected = 0;
    for (int r = 0; r < XT_WIRE_REJ_N; r++) rejected += st->rejected[r];
    assert_int_equal(st->frames + rejected, N);
    assert_int_equal(st->frames, (uint64_t)accepted);
    printf("fuzz: %d of %d mutated frames accepted; rejected:", accepted, N);
    for (int r = 0; r < XT_WIRE_REJ_N; r++)
        printf(" %s=%llu", xt_wire_reject_name(r), (unsigned long long)st->rejected[r]);
    printf("\n");
    // The mutations reach past the protobuf layer into every kind of check.
    assert_true(st->rejected[XT_WIRE_REJ_MALFORMED] > 100);
    assert_true(st->rejected[XT_WIRE_REJ_SHAPE] > 100);
    assert_true(st->rejected[XT_WIRE_REJ_VALUE] > 100);
    assert_true(st->rejected[XT_WIRE_REJ_TYPE] > 10);
    assert_true(st->rejected[XT_WIRE_REJ_CRC] > 10);
    assert_true(accepted > 100);
    xt_log_init('C', XT_LOG_INFO, 0);
    xt_wire_decoder_destroy(&d2);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(t_roundtrip_every_message, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_roundtrip_chunk_variants, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_oversized, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_arena_exhausted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_truncated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_shape, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_nonfinite, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_bad_crc, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_reject_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_encoder_checks, s_setup, s_teardown),
        cmocka_unit_test(t_limits_check),
        cmocka_unit_test_setup_teardown(t_log_once_per_peer, s_setup, s_teardown),
        cmocka_unit_test(t_messages_at_the_limits_fit),
        cmocka_unit_test_setup_teardown(t_fuzz_mutations, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
