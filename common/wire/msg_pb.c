// msg_pb.c - the mapping between protobuf-c structs and the C views of msg.h.
//
// Decoding direction: dimensions are checked against the limits before any
// byte length is computed from them (so products cannot overflow), then every
// bytes field must be exactly rows x cols x element size (optional ones may be
// empty), repeated fields must fit the decoder's arrays, and the weights CRC
// must match. Views point into the protobuf-c structs (the decoder's arena).
// Encoding direction: the protobuf-c structs point at the caller's arrays;
// byte lengths are derived from the dimensions, never given separately.
// Ownership: nothing here allocates. Stateless; any thread.
#include "msg_pb.h"

#include "core/crc32.h"

#include <stdio.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xtrade's wire format is raw little-endian float32; this host is not little-endian"
#endif

// The C enums are the proto enums, value for value, and the oneof body field
// of type k has number k + 9 (the decoder relies on both).
#define XT_X(e, name) _Static_assert((int)XT_WIRE_##e == (int)XTRADE__MSG_TYPE__MSG_TYPE_##e, #e);
XT_WIRE_TYPES(XT_X)
#undef XT_X
#define S_BODY(e, field)                                                                           \
    _Static_assert((int)XTRADE__ENVELOPE__BODY_##field == (int)XT_WIRE_##e + 9, #e " body number");
S_BODY(REGISTER, REGISTER_MSG)
S_BODY(HEARTBEAT, HEARTBEAT)
S_BODY(ASSIGNMENT, ASSIGNMENT)
S_BODY(PHASE_COMMAND, PHASE_COMMAND)
S_BODY(ROLLOUT_CHUNK, ROLLOUT_CHUNK)
S_BODY(WEIGHTS, WEIGHTS)
S_BODY(CHECKPOINT_DONE, CHECKPOINT_DONE)
S_BODY(EVAL_REQUEST, EVAL_REQUEST)
S_BODY(EVAL_RESULT, EVAL_RESULT)
S_BODY(STATUS, STATUS)
#undef S_BODY
_Static_assert((int)XTRADE__ROLE__ROLE_CLI == (int)XT_WIRE_ROLE_CLI, "role numbering");
_Static_assert((int)XTRADE__PHASE__PHASE_STOP == (int)XT_WIRE_PHASE_STOP, "phase numbering");
_Static_assert((int)XTRADE__WORKER_STATE__WORKER_STATE_STOPPING == (int)XT_WIRE_STATE_STOPPING,
               "state numbering");
_Static_assert((int)XTRADE__ACTION_KIND__ACTION_KIND_CONTINUOUS == (int)XT_WIRE_ACTION_CONTINUOUS,
               "action numbering");

// ---------------------------------------------------------------- from protobuf-c

// A bytes field must hold rows x cols elements of elem bytes (optional ones
// may also be empty). Sets *out to the data, or NULL when empty.
static int s_bytes(const ProtobufCBinaryData *b, const char *field, const char *rname,
                   uint64_t rows, const char *cname, uint64_t cols, size_t elem, int optional,
                   const void **out, xt_wire_reject *reason, xt_err *err) {
    uint64_t want = rows * cols * elem;
    if (b->len == want || (optional && b->len == 0)) {
        *out = b->len ? b->data : NULL;
        return 0;
    }
    char dims[128];
    if (cname)
        snprintf(dims, sizeof dims, "%s=%llu x %s=%llu x %zu = %llu", rname,
                 (unsigned long long)rows, cname, (unsigned long long)cols, elem,
                 (unsigned long long)want);
    else
        snprintf(dims, sizeof dims, "%s=%llu x %zu = %llu", rname, (unsigned long long)rows, elem,
                 (unsigned long long)want);
    return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err, "%s: %zu bytes but %s%s", field, b->len,
                        optional ? "0 or " : "", dims);
}

static const char *s_pstr(const char *s) { return s ? s : ""; }

static xt_wire_shard_key s_key_from(const Xtrade__ShardKey *k) {
    if (!k) return (xt_wire_shard_key){"", "", 0, 0};
    return (xt_wire_shard_key){s_pstr(k->symbol), s_pstr(k->portfolio), k->tf_sec, k->fold};
}

static int s_shards_from(Xtrade__Shard *const *in, size_t n, const char *msg,
                         const xt_wire_pb_store *st, const xt_wire_shard **out, uint32_t *n_out,
                         xt_wire_reject *reason, xt_err *err) {
    if (n > st->cap_shards)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "%s.shards: %zu entries exceed the limit of %u", msg, n,
                            st->cap_shards);
    for (size_t i = 0; i < n; i++)
        st->shards[i] = (xt_wire_shard){s_key_from(in[i]->key), in[i]->ts_begin, in[i]->ts_end,
                                        in[i]->row_begin, in[i]->row_end, in[i]->env_slot};
    *out = st->shards;
    *n_out = (uint32_t)n;
    return 0;
}

static int s_chunk_from(const Xtrade__RolloutChunk *p, const xt_wire_limits *lim, xt_wire_chunk *c,
                        xt_wire_reject *reason, xt_err *err) {
    *c = (xt_wire_chunk){
        .shard = s_key_from(p->shard),
        .env_index = p->env_index,
        .policy_version = p->policy_version,
        .t = p->t,
        .obs_dim = p->obs_dim,
        .n_actions = p->n_actions,
        .action_kind = (xt_wire_action_kind)p->action_kind,
        .lstm_layers = p->lstm_layers,
        .lstm_hidden = p->lstm_hidden,
        .episodes = p->episodes,
        .return_sum = p->return_sum,
        .sharpe_sum = p->sharpe_sum,
    };
    int rc = xt_wire_chunk_dims(c, lim, reason, err);
    if (rc) return rc;
    // Dimensions are within limits: the products below cannot overflow.
    uint64_t T = c->t, D = c->obs_dim, A = c->n_actions, L = c->lstm_layers, H = c->lstm_hidden;
    int cat = c->action_kind == XT_WIRE_ACTION_CATEGORICAL;
    enum { OBS, ACT, LOGP, VAL, REW, TERM, TRUNC, START, MASK, AH, AC, CH, CC, TV, NF };
    struct {
        const ProtobufCBinaryData *b;
        const char *field, *rname;
        uint64_t rows;
        const char *cname;
        uint64_t cols;
        size_t elem;
        int optional;
        const void *data;
    } f[NF] = {
        [OBS] = {&p->obs, "RolloutChunk.obs", "T+1", T + 1, "obs_dim", D, 4, 0, NULL},
        [ACT] = {&p->actions, "RolloutChunk.actions", "T", T, cat ? NULL : "A", cat ? 1 : A, 4, 0,
                 NULL},
        [LOGP] = {&p->logp, "RolloutChunk.logp", "T", T, NULL, 1, 4, 0, NULL},
        [VAL] = {&p->values, "RolloutChunk.values", "T+1", T + 1, NULL, 1, 4, 1, NULL},
        [REW] = {&p->rewards, "RolloutChunk.rewards", "T", T, NULL, 1, 4, 0, NULL},
        [TERM] = {&p->terminated, "RolloutChunk.terminated", "T", T, NULL, 1, 1, 0, NULL},
        [TRUNC] = {&p->truncated, "RolloutChunk.truncated", "T", T, NULL, 1, 1, 0, NULL},
        [START] = {&p->episode_start, "RolloutChunk.episode_start", "T", T, NULL, 1, 1, 0, NULL},
        [MASK] = {&p->masks, "RolloutChunk.masks", "T", T, "A", A, 1, 1, NULL},
        [AH] = {&p->actor_h, "RolloutChunk.actor_h", "layers", L, "H", H, 4, 0, NULL},
        [AC] = {&p->actor_c, "RolloutChunk.actor_c", "layers", L, "H", H, 4, 0, NULL},
        [CH] = {&p->critic_h, "RolloutChunk.critic_h", "layers", L, "H", H, 4, 1, NULL},
        [CC] = {&p->critic_c, "RolloutChunk.critic_c", "layers", L, "H", H, 4, 1, NULL},
        [TV] = {&p->trunc_values, "RolloutChunk.trunc_values", "T", T, NULL, 1, 4, 1, NULL},
    };
    for (int i = 0; i < NF; i++)
        if ((rc = s_bytes(f[i].b, f[i].field, f[i].rname, f[i].rows, f[i].cname, f[i].cols,
                          f[i].elem, f[i].optional, &f[i].data, reason, err)))
            return rc;
    if ((f[CH].data == NULL) != (f[CC].data == NULL))
        return xt_wire_fail(
            reason, XT_WIRE_REJ_SHAPE, err,
            "RolloutChunk.critic_h: %zu bytes but critic_c has %zu (both or neither)",
            p->critic_h.len, p->critic_c.len);
    c->obs = f[OBS].data;
    c->actions_cat = cat ? f[ACT].data : NULL;
    c->actions_cont = cat ? NULL : f[ACT].data;
    c->logp = f[LOGP].data;
    c->values = f[VAL].data;
    c->trunc_values = f[TV].data;
    c->rewards = f[REW].data;
    c->terminated = f[TERM].data;
    c->truncated = f[TRUNC].data;
    c->episode_start = f[START].data;
    c->masks = f[MASK].data;
    c->actor_h = f[AH].data;
    c->actor_c = f[AC].data;
    c->critic_h = f[CH].data;
    c->critic_c = f[CC].data;
    return 0;
}

static int s_weights_from(const Xtrade__Weights *p, const xt_wire_limits *lim, xt_wire_weights *w,
                          xt_wire_reject *reason, xt_err *err) {
    *w = (xt_wire_weights){p->version, p->fold, s_pstr(p->run_id), p->n_params, NULL, p->crc32};
    if (p->n_params < 1 || p->n_params > lim->max_params)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "Weights.n_params: %llu is not in [1, %llu]",
                            (unsigned long long)p->n_params, (unsigned long long)lim->max_params);
    const void *data = NULL;
    int rc = s_bytes(&p->params, "Weights.params", "n_params", p->n_params, NULL, 1, 4, 0, &data,
                     reason, err);
    if (rc) return rc;
    w->params = data;
    uint32_t crc = xt_crc32(0, p->params.data, p->params.len);
    if (crc != p->crc32)
        return xt_wire_fail(reason, XT_WIRE_REJ_CRC, err,
                            "Weights.crc32: 0x%08x but the params bytes hash to 0x%08x", p->crc32,
                            crc);
    return 0;
}

static int s_status_from(const Xtrade__Status *p, const xt_wire_pb_store *st, xt_wire_status *s,
                         xt_wire_reject *reason, xt_err *err) {
    *s = (xt_wire_status){s_pstr(p->run_id),
                          p->fold,
                          p->n_folds,
                          (xt_wire_phase)p->phase,
                          p->progress,
                          p->env_steps,
                          p->step_budget,
                          p->policy_version,
                          0,
                          NULL};
    if (p->n_workers > st->cap_workers)
        return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                            "Status.workers: %zu entries exceed the limit of %u", p->n_workers,
                            st->cap_workers);
    for (size_t i = 0; i < p->n_workers; i++) {
        const Xtrade__WorkerRow *r = p->workers[i];
        st->workers[i] = (xt_wire_worker){
            (xt_wire_role)r->role,   s_pstr(r->id), r->incarnation, s_pstr(r->host),
            (xt_wire_state)r->state, r->envs,       r->steps_per_s, r->queue_depth,
            r->policy_version,       r->last_seen_s};
    }
    s->n_workers = (uint32_t)p->n_workers;
    s->workers = st->workers;
    return 0;
}

int xt_wire_msg_from_pb(const Xtrade__Envelope *env, const xt_wire_limits *lim,
                        const xt_wire_pb_store *st, xt_wire_msg *out, xt_wire_reject *reason,
                        xt_err *err) {
    out->type = (xt_wire_type)env->type;
    switch (env->type) {
    case XTRADE__MSG_TYPE__MSG_TYPE_REGISTER: {
        const Xtrade__Register *p = env->register_msg;
        out->reg = (xt_wire_register){(xt_wire_role)p->role, p->capacity,     p->pid,
                                      s_pstr(p->host),       p->http_port,    p->chunk_port,
                                      p->weights_port,       s_pstr(p->build)};
        return 0;
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_HEARTBEAT: {
        const Xtrade__Heartbeat *p = env->heartbeat;
        out->hb =
            (xt_wire_heartbeat){(xt_wire_role)p->role, (xt_wire_state)p->state, p->steps_per_s,
                                p->env_steps,          p->queue_depth,          p->policy_version};
        return 0;
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_ASSIGNMENT: {
        const Xtrade__Assignment *p = env->assignment;
        xt_wire_assignment *a = &out->assign;
        *a = (xt_wire_assignment){.fold = p->fold,
                                  .phase = (xt_wire_phase)p->phase,
                                  .seed = p->seed,
                                  .chunk_endpoint = s_pstr(p->chunk_endpoint),
                                  .weights_endpoint = s_pstr(p->weights_endpoint)};
        return s_shards_from(p->shards, p->n_shards, "Assignment", st, &a->shards, &a->n_shards,
                             reason, err);
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_PHASE_COMMAND: {
        const Xtrade__PhaseCommand *p = env->phase_command;
        out->phase_cmd = (xt_wire_phase_cmd){p->fold, (xt_wire_phase)p->phase, p->step_budget};
        return 0;
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_ROLLOUT_CHUNK:
        return s_chunk_from(env->rollout_chunk, lim, &out->chunk, reason, err);
    case XTRADE__MSG_TYPE__MSG_TYPE_WEIGHTS:
        return s_weights_from(env->weights, lim, &out->weights, reason, err);
    case XTRADE__MSG_TYPE__MSG_TYPE_CHECKPOINT_DONE: {
        const Xtrade__CheckpointDone *p = env->checkpoint_done;
        out->ckpt_done = (xt_wire_ckpt_done){p->fold, p->step, p->policy_version, s_pstr(p->path),
                                             p->val_sharpe};
        return 0;
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_EVAL_REQUEST: {
        const Xtrade__EvalRequest *p = env->eval_request;
        xt_wire_eval_req *e = &out->eval_req;
        *e = (xt_wire_eval_req){.fold = p->fold,
                                .checkpoint_path = s_pstr(p->checkpoint_path),
                                .checkpoint_version = p->checkpoint_version};
        return s_shards_from(p->shards, p->n_shards, "EvalRequest", st, &e->shards, &e->n_shards,
                             reason, err);
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_EVAL_RESULT: {
        const Xtrade__EvalResult *p = env->eval_result;
        xt_wire_eval_res *e = &out->eval_res;
        *e = (xt_wire_eval_res){
            .fold = p->fold, .shard = s_key_from(p->shard), .csv_path = s_pstr(p->csv_path)};
        if (p->n_metrics != XT_WIRE_EVAL_N)
            return xt_wire_fail(reason, XT_WIRE_REJ_SHAPE, err,
                                "EvalResult.metrics: %zu values but this build expects %d",
                                p->n_metrics, XT_WIRE_EVAL_N);
        memcpy(e->metrics, p->metrics, sizeof e->metrics);
        return 0;
    }
    case XTRADE__MSG_TYPE__MSG_TYPE_STATUS:
        return s_status_from(env->status, st, &out->status, reason, err);
    default:
        return xt_wire_fail(reason, XT_WIRE_REJ_TYPE, err, "envelope: unknown message type %d",
                            (int)env->type);
    }
}

// ---------------------------------------------------------------- to protobuf-c

// protobuf-c only reads through these pointers while packing.
static char *s_wstr(const char *s) { return (char *)(uintptr_t)(s ? s : ""); }
static ProtobufCBinaryData s_bin(const void *p, size_t n) {
    return (ProtobufCBinaryData){p ? n : 0, (uint8_t *)(uintptr_t)p};
}

static void s_key_to(const xt_wire_shard_key *k, Xtrade__ShardKey *p) {
    xtrade__shard_key__init(p);
    p->symbol = s_wstr(k->symbol);
    p->portfolio = s_wstr(k->portfolio);
    p->tf_sec = k->tf_sec;
    p->fold = k->fold;
}

// Lays n shards onto the scratch arrays; returns the pointer array.
static Xtrade__Shard **s_shards_to(const xt_wire_shard *sh, uint32_t n, xt_wire_pb_scratch *s) {
    for (uint32_t i = 0; i < n; i++) {
        xtrade__shard__init(&s->shards[i]);
        s_key_to(&sh[i].key, &s->keys[i]);
        s->shards[i].key = &s->keys[i];
        s->shards[i].ts_begin = sh[i].ts_begin;
        s->shards[i].ts_end = sh[i].ts_end;
        s->shards[i].row_begin = sh[i].row_begin;
        s->shards[i].row_end = sh[i].row_end;
        s->shards[i].env_slot = sh[i].env_slot;
        s->shard_ptrs[i] = &s->shards[i];
    }
    return s->shard_ptrs;
}

static void s_chunk_to(const xt_wire_chunk *c, xt_wire_pb_scratch *s) {
    Xtrade__RolloutChunk *p = &s->body.chunk;
    size_t T = c->t, D = c->obs_dim, A = c->n_actions, LH = (size_t)c->lstm_layers * c->lstm_hidden;
    int cat = c->action_kind == XT_WIRE_ACTION_CATEGORICAL;
    xtrade__rollout_chunk__init(p);
    s_key_to(&c->shard, &s->key);
    p->shard = &s->key;
    p->env_index = c->env_index;
    p->policy_version = c->policy_version;
    p->t = c->t;
    p->obs_dim = c->obs_dim;
    p->n_actions = c->n_actions;
    p->action_kind = (Xtrade__ActionKind)c->action_kind;
    p->lstm_layers = c->lstm_layers;
    p->lstm_hidden = c->lstm_hidden;
    // Byte lengths follow from the dimensions: obs [T+1][D], actions [T] i32
    // or [T][A] f32, values [T+1], masks [T][A] u8, states [L][H].
    p->obs = s_bin(c->obs, (T + 1) * D * 4);
    p->actions = cat ? s_bin(c->actions_cat, T * 4) : s_bin(c->actions_cont, T * A * 4);
    p->logp = s_bin(c->logp, T * 4);
    p->values = s_bin(c->values, (T + 1) * 4);
    p->trunc_values = s_bin(c->trunc_values, T * 4);
    p->rewards = s_bin(c->rewards, T * 4);
    p->terminated = s_bin(c->terminated, T);
    p->truncated = s_bin(c->truncated, T);
    p->episode_start = s_bin(c->episode_start, T);
    p->masks = s_bin(c->masks, T * A);
    p->actor_h = s_bin(c->actor_h, LH * 4);
    p->actor_c = s_bin(c->actor_c, LH * 4);
    p->critic_h = s_bin(c->critic_h, LH * 4);
    p->critic_c = s_bin(c->critic_c, LH * 4);
    p->episodes = c->episodes;
    p->return_sum = c->return_sum;
    p->sharpe_sum = c->sharpe_sum;
}

void xt_wire_msg_to_pb(const xt_wire_msg *m, xt_wire_pb_scratch *s) {
    Xtrade__Envelope *env = &s->env;
    xtrade__envelope__init(env);
    env->version = XT_WIRE_VERSION;
    env->type = (Xtrade__MsgType)m->type;
    env->sender_id = s_wstr(m->hdr.sender_id);
    env->incarnation = m->hdr.incarnation;
    env->seq = m->hdr.seq;
    env->body_case = (Xtrade__Envelope__BodyCase)(m->type + 9);
    switch (m->type) {
    case XT_WIRE_REGISTER: {
        Xtrade__Register *p = &s->body.reg;
        xtrade__register__init(p);
        p->role = (Xtrade__Role)m->reg.role;
        p->capacity = m->reg.capacity;
        p->pid = m->reg.pid;
        p->host = s_wstr(m->reg.host);
        p->http_port = m->reg.http_port;
        p->chunk_port = m->reg.chunk_port;
        p->weights_port = m->reg.weights_port;
        p->build = s_wstr(m->reg.build);
        env->register_msg = p;
        break;
    }
    case XT_WIRE_HEARTBEAT: {
        Xtrade__Heartbeat *p = &s->body.hb;
        xtrade__heartbeat__init(p);
        p->role = (Xtrade__Role)m->hb.role;
        p->state = (Xtrade__WorkerState)m->hb.state;
        p->steps_per_s = m->hb.steps_per_s;
        p->env_steps = m->hb.env_steps;
        p->queue_depth = m->hb.queue_depth;
        p->policy_version = m->hb.policy_version;
        env->heartbeat = p;
        break;
    }
    case XT_WIRE_ASSIGNMENT: {
        Xtrade__Assignment *p = &s->body.assign;
        xtrade__assignment__init(p);
        p->fold = m->assign.fold;
        p->phase = (Xtrade__Phase)m->assign.phase;
        p->seed = m->assign.seed;
        p->n_shards = m->assign.n_shards;
        p->shards = s_shards_to(m->assign.shards, m->assign.n_shards, s);
        p->chunk_endpoint = s_wstr(m->assign.chunk_endpoint);
        p->weights_endpoint = s_wstr(m->assign.weights_endpoint);
        env->assignment = p;
        break;
    }
    case XT_WIRE_PHASE_COMMAND: {
        Xtrade__PhaseCommand *p = &s->body.phase_cmd;
        xtrade__phase_command__init(p);
        p->fold = m->phase_cmd.fold;
        p->phase = (Xtrade__Phase)m->phase_cmd.phase;
        p->step_budget = m->phase_cmd.step_budget;
        env->phase_command = p;
        break;
    }
    case XT_WIRE_ROLLOUT_CHUNK:
        s_chunk_to(&m->chunk, s);
        env->rollout_chunk = &s->body.chunk;
        break;
    case XT_WIRE_WEIGHTS: {
        Xtrade__Weights *p = &s->body.weights;
        xtrade__weights__init(p);
        p->version = m->weights.version;
        p->fold = m->weights.fold;
        p->run_id = s_wstr(m->weights.run_id);
        p->n_params = m->weights.n_params;
        p->params = s_bin(m->weights.params, m->weights.n_params * 4);
        p->crc32 = xt_crc32(0, p->params.data, p->params.len);
        env->weights = p;
        break;
    }
    case XT_WIRE_CHECKPOINT_DONE: {
        Xtrade__CheckpointDone *p = &s->body.ckpt_done;
        xtrade__checkpoint_done__init(p);
        p->fold = m->ckpt_done.fold;
        p->step = m->ckpt_done.step;
        p->policy_version = m->ckpt_done.policy_version;
        p->path = s_wstr(m->ckpt_done.path);
        p->val_sharpe = m->ckpt_done.val_sharpe;
        env->checkpoint_done = p;
        break;
    }
    case XT_WIRE_EVAL_REQUEST: {
        Xtrade__EvalRequest *p = &s->body.eval_req;
        xtrade__eval_request__init(p);
        p->fold = m->eval_req.fold;
        p->n_shards = m->eval_req.n_shards;
        p->shards = s_shards_to(m->eval_req.shards, m->eval_req.n_shards, s);
        p->checkpoint_path = s_wstr(m->eval_req.checkpoint_path);
        p->checkpoint_version = m->eval_req.checkpoint_version;
        env->eval_request = p;
        break;
    }
    case XT_WIRE_EVAL_RESULT: {
        Xtrade__EvalResult *p = &s->body.eval_res;
        xtrade__eval_result__init(p);
        p->fold = m->eval_res.fold;
        s_key_to(&m->eval_res.shard, &s->key);
        p->shard = &s->key;
        p->n_metrics = XT_WIRE_EVAL_N;
        p->metrics = (double *)(uintptr_t)m->eval_res.metrics;
        p->csv_path = s_wstr(m->eval_res.csv_path);
        env->eval_result = p;
        break;
    }
    case XT_WIRE_STATUS: {
        Xtrade__Status *p = &s->body.status;
        xtrade__status__init(p);
        p->run_id = s_wstr(m->status.run_id);
        p->fold = m->status.fold;
        p->n_folds = m->status.n_folds;
        p->phase = (Xtrade__Phase)m->status.phase;
        p->progress = m->status.progress;
        p->env_steps = m->status.env_steps;
        p->step_budget = m->status.step_budget;
        p->policy_version = m->status.policy_version;
        for (uint32_t i = 0; i < m->status.n_workers; i++) {
            const xt_wire_worker *w = &m->status.workers[i];
            Xtrade__WorkerRow *r = &s->rows[i];
            xtrade__worker_row__init(r);
            r->role = (Xtrade__Role)w->role;
            r->id = s_wstr(w->id);
            r->incarnation = w->incarnation;
            r->host = s_wstr(w->host);
            r->state = (Xtrade__WorkerState)w->state;
            r->envs = w->envs;
            r->steps_per_s = w->steps_per_s;
            r->queue_depth = w->queue_depth;
            r->policy_version = w->policy_version;
            r->last_seen_s = w->last_seen_s;
            s->row_ptrs[i] = r;
        }
        p->n_workers = m->status.n_workers;
        p->workers = s->row_ptrs;
        env->status = p;
        break;
    }
    default: break; // excluded by xt_wire_msg_check
    }
}
