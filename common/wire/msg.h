// msg.h - the messages of the xtrade wire protocol as plain C structs.
//
// proto/xtrade.proto defines the bytes on the wire; this header defines what
// a daemon sees: one tagged union (xt_wire_msg) of small structs whose strings
// and arrays are borrowed pointers. After xt_wire_decode they point into the
// decoder's arena and stay valid until the next decode on that decoder;
// before xt_wire_encode they point at the caller's data, which is read, never
// copied or kept. Bulk arrays are row-major, little-endian, and their lengths
// follow from the dimensions in the same struct (nothing else carries a length).
//
// xt_wire_msg_check is the one validation of a message against the limits:
// the encoder runs it before writing a frame and the decoder after reading
// one, so a frame this build writes is a frame it accepts.
#ifndef XT_WIRE_MSG_H
#define XT_WIRE_MSG_H

#include "../core/err.h"

#include <stddef.h>
#include <stdint.h>

#define XT_WIRE_VERSION 1     // protocol version this build writes and accepts
#define XT_WIRE_ID_MAX 256    // ids, symbols, hosts, run ids: at most 255 bytes
#define XT_WIRE_PATH_MAX 4096 // paths and endpoints: at most 4095 bytes

// ---- enums (values equal the proto enums; msg.c checks that at compile time)

// X(ENUM, ProtoName): one row per message type, in wire order.
#define XT_WIRE_TYPES(X)                                                                           \
    X(REGISTER, Register)                                                                          \
    X(HEARTBEAT, Heartbeat)                                                                        \
    X(ASSIGNMENT, Assignment)                                                                      \
    X(PHASE_COMMAND, PhaseCommand)                                                                 \
    X(ROLLOUT_CHUNK, RolloutChunk)                                                                 \
    X(WEIGHTS, Weights)                                                                            \
    X(CHECKPOINT_DONE, CheckpointDone)                                                             \
    X(EVAL_REQUEST, EvalRequest)                                                                   \
    X(EVAL_RESULT, EvalResult)                                                                     \
    X(STATUS, Status)

typedef enum {
    XT_WIRE_NONE = 0,
#define XT_X(e, name) XT_WIRE_##e,
    XT_WIRE_TYPES(XT_X)
#undef XT_X
    XT_WIRE_TYPE_N
} xt_wire_type;

typedef enum {
    XT_WIRE_ROLE_NONE = 0,
    XT_WIRE_ROLE_BROKER,
    XT_WIRE_ROLE_LEARNER,
    XT_WIRE_ROLE_ACTOR,
    XT_WIRE_ROLE_CLI,
    XT_WIRE_ROLE_N
} xt_wire_role;

typedef enum {
    XT_WIRE_PHASE_NONE = 0,
    XT_WIRE_PHASE_TRAIN,
    XT_WIRE_PHASE_CHECKPOINT,
    XT_WIRE_PHASE_EVAL,
    XT_WIRE_PHASE_DONE,
    XT_WIRE_PHASE_STOP,
    XT_WIRE_PHASE_N
} xt_wire_phase;

typedef enum {
    XT_WIRE_STATE_NONE = 0,
    XT_WIRE_STATE_IDLE,    // registered, no assignment yet
    XT_WIRE_STATE_RUNNING, // stepping envs / training
    XT_WIRE_STATE_WAITING, // sync mode: waiting for the next weights version
    XT_WIRE_STATE_EVALUATING,
    XT_WIRE_STATE_STOPPING,
    XT_WIRE_STATE_N
} xt_wire_state;

typedef enum {
    XT_WIRE_ACTION_NONE = 0,
    XT_WIRE_ACTION_CATEGORICAL, // one int32 action in [0, A) per step
    XT_WIRE_ACTION_CONTINUOUS,  // A float32 logits per step
    XT_WIRE_ACTION_N
} xt_wire_action_kind;

// Eval metrics, in wire order (EvalResult.metrics has exactly these).
#define XT_WIRE_EVAL_METRICS(X)                                                                    \
    X(TOTAL_RETURN, total_return)                                                                  \
    X(ANNUAL_RETURN, annual_return)                                                                \
    X(SHARPE, sharpe)                                                                              \
    X(SORTINO, sortino)                                                                            \
    X(MAX_DRAWDOWN, max_drawdown)                                                                  \
    X(CALMAR, calmar)                                                                              \
    X(TIME_IN_DRAWDOWN, time_in_drawdown)                                                          \
    X(WIN_RATE, win_rate)                                                                          \
    X(PROFIT_FACTOR, profit_factor)                                                                \
    X(TRADES, trades)                                                                              \
    X(TURNOVER, turnover)                                                                          \
    X(FEES, fees)                                                                                  \
    X(CASH_USAGE, cash_usage)                                                                      \
    X(BUY_HOLD_RETURN, buy_hold_return)

enum {
#define XT_X(e, name) XT_WIRE_EVAL_##e,
    XT_WIRE_EVAL_METRICS(XT_X)
#undef XT_X
    XT_WIRE_EVAL_N
};

// Why a frame was rejected; one decode-error counter per reason.
#define XT_WIRE_REJECTS(X)                                                                         \
    X(OVERSIZE, oversize)   /* frame over max_frame_bytes, or decodes past the arena */            \
    X(MALFORMED, malformed) /* empty, truncated or not protobuf */                                 \
    X(VERSION, version)     /* protocol version this build does not speak */                       \
    X(TYPE, type)           /* unknown type, or type and body disagree */                          \
    X(SHAPE, shape)         /* dimension over a limit, byte length != product of dims */           \
    X(VALUE, value)         /* bad enum, flag, action, port, string or fold */                     \
    X(NONFINITE, nonfinite) /* NaN/inf where finite values are required */                         \
    X(CRC, crc)             /* weights CRC-32 mismatch */

typedef enum {
#define XT_X(e, name) XT_WIRE_REJ_##e,
    XT_WIRE_REJECTS(XT_X)
#undef XT_X
    XT_WIRE_REJ_N
} xt_wire_reject;

// Arrays that must hold only finite float32 (xt_wire_limits.finite bits).
enum {
    XT_WIRE_FINITE_OBS = 1u << 0,
    XT_WIRE_FINITE_REWARDS = 1u << 1,
    XT_WIRE_FINITE_LOGP = 1u << 2,
    XT_WIRE_FINITE_ACTIONS = 1u << 3, // continuous actions
    XT_WIRE_FINITE_VALUES = 1u << 4,
    XT_WIRE_FINITE_LSTM = 1u << 5, // h and c states
    XT_WIRE_FINITE_ALL = (1u << 6) - 1,
};

// ---- limits

// Sizes a decoder or encoder accepts; all buffers are sized from these at
// init. Weights params must always be finite (never configurable).
typedef struct {
    size_t max_frame_bytes;   // serialized frame, checked before unpacking (64 MiB)
    uint32_t max_t;           // RolloutChunk T (1024)
    uint32_t max_obs_dim;     // (4096)
    uint32_t max_actions;     // A: categorical count or continuous dim (256)
    uint32_t max_lstm_layers; // (8)
    uint32_t max_lstm_hidden; // (4096)
    uint64_t max_params;      // Weights n_params (8M floats = 32 MiB)
    uint32_t max_shards;      // per Assignment / EvalRequest (4096)
    uint32_t max_workers;     // Status rows (1024)
    unsigned finite;          // XT_WIRE_FINITE_* bits (default XT_WIRE_FINITE_ALL)
} xt_wire_limits;

void xt_wire_limits_default(xt_wire_limits *lim);
// Checks that every limit is non-zero and small enough to size buffers from.
int xt_wire_limits_check(const xt_wire_limits *lim, xt_err *err);

// ---- messages

typedef struct {
    uint32_t version;      // decode: as received; encode: ignored (XT_WIRE_VERSION is written)
    const char *sender_id; // non-empty printable ASCII
    uint64_t incarnation;  // fresh per process start
    uint64_t seq;          // per sender, +1 per frame
} xt_wire_hdr;

// A shard: exactly one of symbol (asset env) / portfolio (portfolio env) is
// non-empty; the other is "" (decode) or "" / NULL (encode).
typedef struct {
    const char *symbol;
    const char *portfolio;
    uint32_t tf_sec; // bar length in seconds, > 0
    uint32_t fold;
} xt_wire_shard_key;

// A shard and its data window: bars with open time in [ts_begin, ts_end),
// rows [row_begin, row_end) of that (symbol, timeframe). env_slot: in an
// Assignment, the global TRAIN env slot of the env stepping this entry
// (broker/assign.h); 0 elsewhere, and all 0 from an older broker.
typedef struct {
    xt_wire_shard_key key;
    int64_t ts_begin, ts_end;
    int64_t row_begin, row_end;
    uint32_t env_slot;
} xt_wire_shard;

typedef struct {
    xt_wire_role role;
    uint32_t capacity; // actor: envs it can step
    uint32_t pid;
    const char *host;
    uint32_t http_port, chunk_port, weights_port; // bound ports (learner data ports; 0 = none)
    const char *build;                            // xtrade version
} xt_wire_register;

typedef struct {
    xt_wire_role role;
    xt_wire_state state;
    double steps_per_s; // finite, >= 0
    uint64_t env_steps;
    uint32_t queue_depth;
    uint64_t policy_version;
} xt_wire_heartbeat;

typedef struct {
    uint32_t fold;
    xt_wire_phase phase;
    uint64_t seed;
    uint32_t n_shards;
    const xt_wire_shard *shards;  // [n_shards]; every key.fold == fold
    const char *chunk_endpoint;   // learner PULL endpoint
    const char *weights_endpoint; // learner PUB endpoint
} xt_wire_assignment;

typedef struct {
    uint32_t fold;
    xt_wire_phase phase;
    uint64_t step_budget;
} xt_wire_phase_cmd;

// T steps of one env; A = n_actions, L = lstm_layers, H = lstm_hidden.
// The actor's id and incarnation are the envelope's (hdr.sender_id, hdr.incarnation).
typedef struct {
    xt_wire_shard_key shard;
    uint32_t env_index;
    uint64_t policy_version; // the version that acted (one per chunk)
    uint32_t t, obs_dim, n_actions;
    xt_wire_action_kind action_kind;
    uint32_t lstm_layers, lstm_hidden; // both 0 for a feed-forward policy
    const float *obs;                  // [T+1][obs_dim]
    const int32_t *actions_cat;        // [T] in [0, A), categorical only (else NULL)
    const float *actions_cont;         // [T][A], continuous only (else NULL)
    const float *logp;                 // [T] behaviour log-probs
    const float *values;               // [T+1] behaviour critic values, or NULL
    const float *trunc_values;         // [T] bootstrap values at truncated steps, or NULL
    const float *rewards;              // [T]
    const uint8_t *terminated;         // [T] in {0,1}
    const uint8_t *truncated;          // [T] in {0,1}
    const uint8_t *episode_start;      // [T] in {0,1}
    const uint8_t *masks;              // [T][A] in {0,1}, or NULL (all allowed)
    const float *actor_h, *actor_c;    // [L][H] at chunk start
    const float *critic_h, *critic_c;  // [L][H] at chunk start, or both NULL (shared trunk)
    uint32_t episodes;                 // episodes finished inside the chunk, <= T
    double return_sum, sharpe_sum;     // over those episodes, finite
} xt_wire_chunk;

typedef struct {
    uint64_t version;
    uint32_t fold;
    const char *run_id;
    uint64_t n_params;
    const float *params; // [n_params], finite
    uint32_t crc32;      // decode: the verified CRC-32 of params; encode: ignored (computed)
} xt_wire_weights;

typedef struct {
    uint32_t fold;
    uint64_t step;
    uint64_t policy_version;
    const char *path;
    double val_sharpe; // may be NaN (undefined)
} xt_wire_ckpt_done;

typedef struct {
    uint32_t fold;
    uint32_t n_shards;
    const xt_wire_shard *shards; // [n_shards] test windows; every key.fold == fold
    const char *checkpoint_path;
    uint64_t checkpoint_version;
} xt_wire_eval_req;

typedef struct {
    uint32_t fold;
    xt_wire_shard_key shard;        // shard.fold == fold
    double metrics[XT_WIRE_EVAL_N]; // XT_WIRE_EVAL_*; NaN/inf allowed (undefined ratios)
    const char *csv_path;
} xt_wire_eval_res;

typedef struct {
    xt_wire_role role;
    const char *id;
    uint64_t incarnation;
    const char *host;
    xt_wire_state state;
    uint32_t envs;
    double steps_per_s;
    uint32_t queue_depth;
    uint64_t policy_version;
    double last_seen_s;
} xt_wire_worker;

typedef struct {
    const char *run_id;
    uint32_t fold, n_folds;
    xt_wire_phase phase;
    double progress; // [0, 1]
    uint64_t env_steps, step_budget, policy_version;
    uint32_t n_workers;
    const xt_wire_worker *workers; // [n_workers]
} xt_wire_status;

typedef struct {
    xt_wire_type type;
    xt_wire_hdr hdr;
    union {
        xt_wire_register reg;
        xt_wire_heartbeat hb;
        xt_wire_assignment assign;
        xt_wire_phase_cmd phase_cmd;
        xt_wire_chunk chunk;
        xt_wire_weights weights;
        xt_wire_ckpt_done ckpt_done;
        xt_wire_eval_req eval_req;
        xt_wire_eval_res eval_res;
        xt_wire_status status;
    };
} xt_wire_msg;

// ---- functions

// Validates m against lim (header, enums, strings, dimensions, flags, action
// range, fold consistency, finiteness). On failure fills err with a sentence
// naming the field ("RolloutChunk.rewards[3]: nan where a finite value is
// required"), sets *reason (may be NULL) and returns XT_EPROTO, XT_ERANGE or
// XT_ENUMERIC. It does not check array lengths: a C view has none beyond its
// dimensions (the decoder checks byte lengths before building the view).
int xt_wire_msg_check(const xt_wire_msg *m, const xt_wire_limits *lim, xt_wire_reject *reason,
                      xt_err *err);

// 1 if s is a valid id (sender, run, symbol, host): 1-255 bytes of printable
// ASCII without spaces.
int xt_wire_id_valid(const char *s);

// Bytes of the float32/int32/uint8 arrays of a chunk (all its bulk fields).
size_t xt_wire_chunk_bytes(const xt_wire_chunk *c);

// Names: proto message names ("RolloutChunk"), lower-case enum names.
const char *xt_wire_type_name(int type);
const char *xt_wire_role_name(int role);
const char *xt_wire_phase_name(int phase);
const char *xt_wire_state_name(int state);
const char *xt_wire_reject_name(int reason);
const char *xt_wire_eval_metric_name(int i);

#endif
