// test_learner_loopback.c - build/bin/xtrade-learner on loopback between a
// scripted broker (a ROUTER speaking docs/cluster-protocol.md) and a
// scripted actor (PUSH of chunks, SUB of weights):
//   - it registers with its bound ports and publishes version 0 of fold 0;
//   - garbage, truncated, wrong-version, oversized, multi-part, non-chunk,
//     non-finite, wrong-shape and stale-incarnation frames are dropped and
//     counted on /metrics while it keeps running;
//   - one batch of valid chunks gives an update, weights v1 that a SUB
//     receives with a valid CRC, and a checkpoint reported to the broker;
//   - kill -9, restart: it resumes from that checkpoint (version 1 again,
//     then 2), writes the fold's final checkpoint at the step budget and
//     exits 0 on STOP;
//   - a third start trains fold 1 from scratch and exits 0 on SIGTERM.
#include "testutil.h"

#include "core/config.h"
#include "core/crc32.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/xtime.h"
#include "ckptdir.h"
#include "rl/rollout.h"
#include "rl/shards.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <arpa/inet.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEARNER XT_BINARY_DIR "/bin/xtrade-learner"
#define CONFIG XT_SOURCE_DIR "/configs/tiny.yaml"
#define BUDGET 2048 // two updates of configs/tiny.yaml's batch (8 envs x 4 chunks x 32 steps)

typedef struct {
    char tmp[256], runs[400], cache[400];
    xt_config cfg;
    int obs_dim, act_dim, T, L, H, batch_chunks;
    zsock_t *router;
    int broker_port;
    xt_wire_decoder *dec, *wdec; // control, weights
    xt_wire_encoder *enc, *enc_nan;
    uint64_t seq;
    double last_beat;
    // the learner process of the moment
    pid_t pid;
    char log[512];
    uint8_t route[256];
    size_t route_len;
    xt_wire_register reg;
    uint64_t incarnation;
    zsock_t *push, *sub;
    // chunk storage
    float *obs, *logp, *rewards, *state;
    int32_t *acts;
    uint8_t *term, *trunc, *start;
    xt_rng rng;
} fixture;

// ---------------------------------------------------------------- learner process

// Starts the learner with the test's settings plus `extra` --set values
// (NULL-terminated list, may be NULL).
static void s_spawn(fixture *f, int n, const char *const *extra) {
    snprintf(f->log, sizeof f->log, "%s/learner-%d.log", f->tmp, n);
    char broker[64], runs[420], cache[420];
    snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", f->broker_port);
    snprintf(runs, sizeof runs, "run.dir=%s", f->runs);
    snprintf(cache, sizeof cache, "data.cache_dir=%s", f->cache);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *o = freopen(f->log, "w", stderr);
        if (!o) _exit(99);
        dup2(fileno(stderr), 1);
        const char *sets[] = {runs, cache, "learner.port_chunks=0", "learner.port_weights=0", "learner.http_port=0",
                              "broker.heartbeat_ms=100", "broker.liveness_ms=4000", "learner.checkpoint_every=1",
                              "ppo.eval_every=1", "ppo.threads=1",
                              // raw rewards: the huge-reward batch must make an update non-finite
                              "ppo.normalize_reward=false"};
        char *argv[64];
        int a = 0;
        argv[a++] = (char *)LEARNER, argv[a++] = (char *)"--config", argv[a++] = (char *)CONFIG;
        argv[a++] = (char *)"--broker", argv[a++] = broker;
        for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
            argv[a++] = (char *)"--set", argv[a++] = (char *)sets[i];
        for (int i = 0; extra && extra[i] && a < 60; i++) argv[a++] = (char *)"--set", argv[a++] = (char *)extra[i];
        argv[a] = NULL;
        xt_test_child_leaks_reported();
        execv(LEARNER, argv);
        _exit(98);
    }
    f->pid = pid;
}

// Exit status of the learner within `sec` seconds (-1: still running).
static int s_wait_exit(fixture *f, double sec) {
    double end = xt_time_mono() + sec;
    while (xt_time_mono() < end) {
        int st;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        zclock_sleep(20);
    }
    return -1;
}

static char *s_read_log(fixture *f);

// The learner's exit status must be 0; otherwise the failure shows its log.
static void s_exit_ok(fixture *f, double timeout_s) {
    int st = s_wait_exit(f, timeout_s);
    if (st != 0) {
        char *log = s_read_log(f);
        fail_msg("the learner exited with status %d; its log:\n%s", st, log);
    }
    char why[4096];
    if (xt_test_leaks_ours(f->log, why, sizeof why)) fail_msg("the learner leaked:\n%s", why);
}

static char *s_read_log(fixture *f) {
    FILE *in = fopen(f->log, "r");
    if (!in) return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    fclose(in);
    buf[n] = '\0';
    return strdup(buf);
}

// ---------------------------------------------------------------- fake broker

static void s_to_learner(fixture *f, xt_wire_msg *m) {
    m->hdr = (xt_wire_hdr){0, "broker", 4242, ++f->seq};
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(f->enc, m, &frame, &len, &err)) fail_msg("%s", err.msg);
    assert_int_equal(xt_wire_send(f->router, f->route, f->route_len, frame, len, 0, &err), 0);
}

static void s_beat(fixture *f) {
    xt_wire_msg m = {.type = XT_WIRE_HEARTBEAT};
    m.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_BROKER, XT_WIRE_STATE_RUNNING, 0, 0, 0, 0};
    s_to_learner(f, &m);
    f->last_beat = xt_time_mono();
}

static void s_phase(fixture *f, uint32_t fold, xt_wire_phase ph, uint64_t budget) {
    xt_wire_msg m = {.type = XT_WIRE_PHASE_COMMAND};
    m.phase_cmd = (xt_wire_phase_cmd){fold, ph, budget};
    s_to_learner(f, &m);
}

static void s_roster(fixture *f) {
    xt_wire_worker rows[2] = {
        {.role = XT_WIRE_ROLE_LEARNER, .id = "learner-0", .incarnation = f->incarnation, .host = "h",
         .state = XT_WIRE_STATE_RUNNING},
        {.role = XT_WIRE_ROLE_ACTOR, .id = "actor-1", .incarnation = 11, .host = "h", .envs = 8,
         .state = XT_WIRE_STATE_RUNNING},
    };
    xt_wire_msg m = {.type = XT_WIRE_STATUS};
    m.status = (xt_wire_status){"tiny", 0, 2, XT_WIRE_PHASE_TRAIN, 0, 0, BUDGET, 0, 2, rows};
    s_to_learner(f, &m);
}

// Next control message of `type` from the learner within `sec` seconds
// (others are skipped); broker heartbeats go out meanwhile once routed.
static int s_expect(fixture *f, xt_wire_type type, xt_wire_msg *out, double sec) {
    double end = xt_time_mono() + sec;
    zpoller_t *p = zpoller_new(f->router, NULL);
    int found = 0;
    while (!found && xt_time_mono() < end) {
        if (f->route_len && xt_time_mono() - f->last_beat > 0.1) s_beat(f);
        if (zpoller_wait(p, 50) != f->router) continue;
        xt_wire_rx rx;
        xt_err err = {0};
        if (xt_wire_recv(f->router, &rx, ZMQ_DONTWAIT, &err) != 0) continue;
        xt_wire_msg m;
        if (xt_wire_decode(f->dec, rx.data, rx.len, "learner", &m, &err) != 0) fail_msg("learner sent: %s", err.msg);
        if (m.type == XT_WIRE_REGISTER) {
            f->route_len = zmq_msg_size(&rx.route);
            memcpy(f->route, zmq_msg_data(&rx.route), f->route_len);
        }
        if (m.type == type) *out = m, found = 1;
        xt_wire_rx_close(&rx);
    }
    zpoller_destroy(&p);
    return found;
}

// ---------------------------------------------------------------- fake actor

static void s_connect_actor(fixture *f) {
    zsock_destroy(&f->push);
    zsock_destroy(&f->sub);
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    xt_err err = {0};
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", f->reg.chunk_port);
    f->push = xt_wire_connect(ZMQ_PUSH, ep, &o, &err);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", f->reg.weights_port);
    f->sub = xt_wire_connect(ZMQ_SUB, ep, &o, &err);
    assert_non_null(f->push);
    assert_non_null(f->sub);
}

// The next Weights of at least `version` within sec seconds (republished
// ones of older versions are skipped); fails unless the CRC is right.
static int s_weights(fixture *f, uint64_t version, xt_wire_weights *out, double sec) {
    double end = xt_time_mono() + sec;
    zpoller_t *p = zpoller_new(f->sub, NULL);
    int found = 0;
    while (!found && xt_time_mono() < end) {
        if (f->route_len && xt_time_mono() - f->last_beat > 0.1) s_beat(f);
        if (zpoller_wait(p, 50) != f->sub) continue;
        xt_wire_rx rx;
        xt_err err = {0};
        if (xt_wire_recv(f->sub, &rx, ZMQ_DONTWAIT, &err) != 0) continue;
        xt_wire_msg m;
        // the decoder verifies crc32 against the params bytes (else: reject)
        if (xt_wire_decode(f->wdec, rx.data, rx.len, "learner", &m, &err) != 0) fail_msg("weights: %s", err.msg);
        assert_int_equal(m.type, XT_WIRE_WEIGHTS);
        if (m.weights.version >= version) {
            *out = m.weights, found = 1;
            assert_int_equal(out->crc32, xt_crc32(0, out->params, out->n_params * sizeof(float)));
            for (uint64_t i = 0; i < out->n_params; i++) assert_true(isfinite(out->params[i]));
        }
        xt_wire_rx_close(&rx);
    }
    zpoller_destroy(&p);
    return found;
}

// A valid chunk of the tiny model from actor-1 (incarnation 11).
static xt_wire_msg s_chunk(fixture *f, uint64_t version, uint32_t fold, uint32_t env) {
    const int T = f->T, D = f->obs_dim;
    for (int i = 0; i < (T + 1) * D; i++) f->obs[i] = (float)(xt_rng_uniform(&f->rng) * 2 - 1);
    for (int t = 0; t < T; t++) {
        f->acts[t] = (int32_t)xt_rng_below(&f->rng, (uint64_t)f->act_dim);
        f->logp[t] = -logf((float)f->act_dim);
        f->rewards[t] = (float)(xt_rng_uniform(&f->rng) - 0.5) * 0.1f;
        f->term[t] = 0, f->trunc[t] = 0, f->start[t] = t == 0;
    }
    memset(f->state, 0, (size_t)(f->L * f->H) * sizeof(float));
    xt_wire_msg m = {.type = XT_WIRE_ROLLOUT_CHUNK, .hdr = {0, "actor-1", 11, ++f->seq}};
    m.chunk = (xt_wire_chunk){.shard = {"BTCUSD", NULL, 3600, fold},
                              .env_index = env,
                              .policy_version = version,
                              .t = (uint32_t)T,
                              .obs_dim = (uint32_t)D,
                              .n_actions = (uint32_t)f->act_dim,
                              .action_kind = XT_WIRE_ACTION_CATEGORICAL,
                              .lstm_layers = (uint32_t)f->L,
                              .lstm_hidden = (uint32_t)f->H,
                              .obs = f->obs,
                              .actions_cat = f->acts,
                              .logp = f->logp,
                              .rewards = f->rewards,
                              .terminated = f->term,
                              .truncated = f->trunc,
                              .episode_start = f->start,
                              .actor_h = f->state,
                              .actor_c = f->state,
                              .critic_h = f->state,
                              .critic_c = f->state};
    return m;
}

static void s_push(fixture *f, xt_wire_encoder *e, const xt_wire_msg *m) {
    const void *frame;
    size_t len;
    xt_err err = {0};
    if (xt_wire_encode(e, m, &frame, &len, &err)) fail_msg("%s", err.msg);
    assert_int_equal(xt_wire_send(f->push, NULL, 0, frame, len, 0, &err), 0);
}

// A batch of chunks; reward != 0 replaces every reward (a huge finite one
// overflows the value loss: a non-finite update).
static void s_push_batch(fixture *f, uint64_t version, uint32_t fold, float reward) {
    for (int c = 0; c < f->batch_chunks; c++) {
        xt_wire_msg m = s_chunk(f, version, fold, (uint32_t)c);
        for (int t = 0; reward != 0 && t < f->T; t++) f->rewards[t] = reward;
        s_push(f, f->enc, &m);
    }
}

// ---------------------------------------------------------------- metrics

static char *s_http_get(int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return strdup("");
    }
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return strdup("");
    }
    size_t cap = 1 << 18, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    return buf;
}

// Waits (the learner samples its counters on its 100 ms timer) until every
// line of want appears in /metrics; fails with the page otherwise.
static void s_metrics_have(fixture *f, const char *const *want, int n) {
    char *page = NULL;
    for (int tries = 0; tries < 60; tries++) {
        free(page);
        page = s_http_get((int)f->reg.http_port, "/metrics");
        int all = 1;
        for (int i = 0; i < n && all; i++) all = strstr(page, want[i]) != NULL;
        if (all) break;
        zclock_sleep(50);
    }
    for (int i = 0; i < n; i++)
        if (!strstr(page, want[i])) fprintf(stderr, "missing \"%s\" in /metrics:\n%s\n", want[i], page);
    for (int i = 0; i < n; i++) assert_contains(page, want[i]);
    free(page);
}

// ---------------------------------------------------------------- setup

static int s_setup(void **state) {
    xt_log_init('T', XT_LOG_ERROR, 0);
    xt_wire_sys_init();
    signal(SIGPIPE, SIG_IGN);
    fixture *f = calloc(1, sizeof *f);
    xt_test_tmpdir(f->tmp, "learner-loop");
    snprintf(f->runs, sizeof f->runs, "%s/runs", f->tmp);
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->tmp);
    xt_err err = {0};
    // The same config the learner reads; the test builds the feature caches
    // first (so two processes never build them at once) and takes the
    // model's widths from the data, as the learner does.
    if (xt_config_load(&f->cfg, CONFIG, &err) || xt_config_set(&f->cfg, "data.cache_dir", f->cache, &err) ||
        xt_config_set(&f->cfg, "ppo.normalize_reward", "false", &err))
        fail_msg("%s", err.msg);
    xt_shards *sh = NULL;
    if (xt_shards_open(&sh, &f->cfg, 0, 1, &err)) fail_msg("%s", err.msg);
    xt_env_params ep;
    if (xt_rl_env_params(&ep, &f->cfg, &err) ||
        xt_rollout_dims((int)f->cfg.env_kind, &ep, xt_shards_list(sh), xt_shards_count(sh), &f->obs_dim, &f->act_dim,
                        &err))
        fail_msg("%s", err.msg);
    xt_shards_destroy(&sh);
    f->T = (int)f->cfg.ppo_chunk_len;
    f->L = (int)f->cfg.model_lstm_layers, f->H = (int)f->cfg.model_lstm_hidden;
    f->batch_chunks = (int)(f->cfg.ppo_n_envs * (f->cfg.ppo_n_steps / f->cfg.ppo_chunk_len));
    assert_int_equal(f->batch_chunks * f->T * 2, BUDGET);
    f->obs = calloc((size_t)((f->T + 1) * f->obs_dim), sizeof(float));
    f->logp = calloc((size_t)f->T, sizeof(float));
    f->rewards = calloc((size_t)f->T, sizeof(float));
    f->acts = calloc((size_t)f->T, sizeof(int32_t));
    f->term = calloc((size_t)f->T, 1), f->trunc = calloc((size_t)f->T, 1), f->start = calloc((size_t)f->T, 1);
    f->state = calloc((size_t)(f->L * f->H), sizeof(float));
    xt_rng_seed(&f->rng, 5);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    f->dec = xt_wire_decoder_new(&lim, &err);
    f->wdec = xt_wire_decoder_new(&lim, &err);
    f->enc = xt_wire_encoder_new(&lim, &err);
    lim.finite = 0;
    f->enc_nan = xt_wire_encoder_new(&lim, &err);
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    f->router = xt_wire_bind(ZMQ_ROUTER, "tcp://127.0.0.1:0", &o, &f->broker_port, &err);
    assert_non_null(f->router);
    zsock_set_router_handover(f->router, 1);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fixture *f = *state;
    if (f->pid > 0) kill(f->pid, SIGKILL), waitpid(f->pid, NULL, 0);
    zsock_destroy(&f->push);
    zsock_destroy(&f->sub);
    zsock_destroy(&f->router);
    xt_wire_decoder_destroy(&f->dec);
    xt_wire_decoder_destroy(&f->wdec);
    xt_wire_encoder_destroy(&f->enc);
    xt_wire_encoder_destroy(&f->enc_nan);
    free(f->obs), free(f->logp), free(f->rewards), free(f->acts), free(f->term), free(f->trunc), free(f->start);
    free(f->state);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->tmp);
    if (getenv("XT_KEEP_TMP")) // keep the learner's logs and run dir for a look
        print_message("kept %s\n", f->tmp);
    else if (system(cmd) != 0)
        print_message("could not remove %s\n", f->tmp);
    free(f);
    return 0;
}

// Start a learner, take its Register, welcome it and command fold `fold`.
static void s_start(fixture *f, int n, uint32_t fold, uint64_t budget, const char *const *extra) {
    s_spawn(f, n, extra);
    f->route_len = 0;
    xt_wire_msg m;
    if (!s_expect(f, XT_WIRE_REGISTER, &m, 10)) {
        char *log = s_read_log(f);
        fail_msg("no Register from the learner; its log:\n%s", log);
    }
    f->reg = m.reg;
    assert_int_equal(m.reg.role, XT_WIRE_ROLE_LEARNER);
    assert_string_equal(m.hdr.sender_id, "learner-0");
    assert_true(m.reg.chunk_port > 0 && m.reg.weights_port > 0 && m.reg.http_port > 0);
    assert_true(m.hdr.incarnation > f->incarnation); // fresh per start, increasing
    f->incarnation = m.hdr.incarnation;
    s_beat(f); // the welcome
    s_phase(f, fold, XT_WIRE_PHASE_TRAIN, budget);
    s_roster(f);
    s_connect_actor(f);
}

// ---------------------------------------------------------------- the test

static void t_loopback(void **state) {
    fixture *f = *state;
    xt_err err = {0};
    s_start(f, 1, 0, BUDGET, NULL);
    xt_wire_weights w0, w1, w;
    assert_true(s_weights(f, 0, &w0, 15));
    assert_int_equal(w0.fold, 0);
    assert_int_equal(w0.version, 0);
    assert_string_equal(w0.run_id, "tiny");
    const uint64_t n_params = w0.n_params;
    float *p0 = malloc(n_params * sizeof(float));
    memcpy(p0, w0.params, n_params * sizeof(float));

    // ---- bad frames: each dropped and counted, the learner goes on
    xt_wire_msg good = s_chunk(f, 0, 0, 0);
    const void *frame;
    size_t len;
    assert_int_equal(xt_wire_encode(f->enc, &good, &frame, &len, &err), 0);
    uint8_t *copy = malloc(len + 65536);
    memcpy(copy, frame, len);
    const char junk[] = "definitely not a protobuf envelope";
    assert_int_equal(xt_wire_send(f->push, NULL, 0, junk, sizeof junk, 0, &err), 0);      // garbage
    assert_int_equal(xt_wire_send(f->push, NULL, 0, copy, len / 2, 0, &err), 0);         // truncated
    copy[1] = 9;                                                                          // version 9
    assert_int_equal(xt_wire_send(f->push, NULL, 0, copy, len, 0, &err), 0);
    copy[1] = 1;
    assert_int_equal(xt_wire_send(f->push, NULL, 0, copy, len + 60000, 0, &err), 0);     // oversized
    zstr_sendx(f->push, "two", "parts", NULL);                                            // multi-part
    xt_wire_msg hb = {.type = XT_WIRE_HEARTBEAT, .hdr = {0, "actor-1", 11, 1}};
    hb.hb = (xt_wire_heartbeat){XT_WIRE_ROLE_ACTOR, XT_WIRE_STATE_RUNNING, 0, 0, 0, 0};
    s_push(f, f->enc, &hb); // not a chunk
    xt_wire_msg bad = s_chunk(f, 0, 0, 0);
    f->obs[7] = NAN; // non-finite observation
    s_push(f, f->enc_nan, &bad);
    bad = s_chunk(f, 0, 0, 0);
    bad.chunk.obs_dim = (uint32_t)f->obs_dim - 1; // not the model's width
    s_push(f, f->enc, &bad);
    bad = s_chunk(f, 0, 0, 0);
    bad.hdr.incarnation = 10; // actor-1's previous life
    s_push(f, f->enc, &bad);
    free(copy);

    // ---- one batch of valid chunks: an update, weights v1, a checkpoint
    s_push_batch(f, 0, 0, 0);
    assert_true(s_weights(f, 1, &w1, 20));
    assert_int_equal(w1.version, 1);
    assert_int_equal(w1.fold, 0);
    assert_int_equal(w1.n_params, n_params);
    int moved = 0;
    for (uint64_t i = 0; i < n_params; i++) moved += w1.params[i] != p0[i];
    assert_true(moved > 0);
    xt_wire_msg ck;
    assert_true(s_expect(f, XT_WIRE_CHECKPOINT_DONE, &ck, 10));
    assert_int_equal(ck.ckpt_done.fold, 0);
    assert_int_equal(ck.ckpt_done.step, BUDGET / 2);
    assert_int_equal(ck.ckpt_done.policy_version, 1);
    char path[600];
    snprintf(path, sizeof path, "%s/tiny/fold-0/ckpt-%d.xtck", f->runs, BUDGET / 2);
    assert_string_equal(ck.ckpt_done.path, path);
    assert_true(access(path, R_OK) == 0);
    const char *want[] = {
        "xtrade_decode_errors_total{socket=\"chunks\"} 7", // the shape drop passed the decoder
        "xtrade_chunks_dropped_total{reason=\"decode\"} 6",
        "xtrade_chunks_dropped_total{reason=\"nonfinite\"} 1",
        "xtrade_chunks_dropped_total{reason=\"shape\"} 1",
        "xtrade_chunks_dropped_total{reason=\"stale_incarnation\"} 1",
        "xtrade_chunks_received_total 41",
        "xtrade_learner_updates_total 1",
        "xtrade_weights_version 1",
        "xtrade_policy_lag_versions_count 32",
        "xtrade_build_info{version=\"" XT_VERSION "\",role=\"learner\"} 1",
    };
    s_metrics_have(f, want, (int)(sizeof want / sizeof *want));
    char *health = s_http_get((int)f->reg.http_port, "/healthz");
    assert_contains(health, "200 OK");
    free(health);

    // ---- kill -9 and restart: it resumes from ckpt-1024 (version 1)
    kill(f->pid, SIGKILL);
    assert_int_equal(s_wait_exit(f, 5), 128 + SIGKILL);
    s_start(f, 2, 0, BUDGET, NULL);
    assert_true(s_weights(f, 1, &w, 15));
    assert_int_equal(w.version, 1);
    for (uint64_t i = 0; i < n_params; i++) assert_true(w.params[i] == w1.params[i]);
    char *log = s_read_log(f);
    assert_contains(log, "configuration loaded");
    assert_contains(log, "INFO ready: chunks tcp://");
    assert_contains(log, "fold 0: resumed from ");
    assert_contains(log, "ckpt-1024.xtck (env step 1024, version 1)");
    free(log);
    // The second batch reaches the budget: v2 and the fold's final
    // checkpoint (no validation: ckpt-best holds the final weights).
    s_push_batch(f, 1, 0, 0);
    assert_true(s_weights(f, 2, &w, 20));
    assert_int_equal(w.version, 2);
    assert_true(s_expect(f, XT_WIRE_CHECKPOINT_DONE, &ck, 10));
    snprintf(path, sizeof path, "%s/tiny/fold-0/ckpt-best.xtck", f->runs);
    assert_string_equal(ck.ckpt_done.path, path);
    assert_int_equal(ck.ckpt_done.step, BUDGET);
    // ckpt-best is the best validated version (ppo.eval_every 1 validated
    // versions 1 and 2); the message names what the file records.
    xt_ckptdir_info best;
    assert_int_equal(xt_ckptdir_info_read(ck.ckpt_done.path, &best, &err), 0);
    assert_int_equal(ck.ckpt_done.policy_version, (uint64_t)best.updates);
    assert_true(best.updates == 1 || best.updates == 2);
    assert_true(ck.ckpt_done.val_sharpe == best.val_sharpe ||
                (isnan(ck.ckpt_done.val_sharpe) && isnan(best.val_sharpe)));
    snprintf(path, sizeof path, "%s/tiny/fold-0/ckpt-%d.xtck", f->runs, BUDGET);
    assert_true(access(path, R_OK) == 0);
    // After the final CheckpointDone its heartbeats report 0 steps, idle.
    xt_wire_msg beat;
    assert_true(s_expect(f, XT_WIRE_HEARTBEAT, &beat, 5));
    assert_int_equal(beat.hb.env_steps, 0);
    assert_int_equal(beat.hb.state, XT_WIRE_STATE_IDLE);
    assert_int_equal(beat.hb.policy_version, 2);
    s_phase(f, 0, XT_WIRE_PHASE_STOP, 0);
    s_exit_ok(f, 10);

    // ---- a fresh fold (budget far away): a non-finite update rolls back,
    // then SIGTERM checkpoints and exits 0
    const char *extra[] = {"learner.nonfinite_rollback_after=1", "learner.checkpoint_every=1000", NULL};
    s_start(f, 3, 1, 100 * BUDGET, extra);
    assert_true(s_weights(f, 0, &w, 15));
    assert_int_equal(w.fold, 1);
    assert_int_equal(w.version, 0);
    snprintf(path, sizeof path, "%s/tiny/fold-1/ckpt-0.xtck", f->runs);
    assert_true(access(path, R_OK) == 0);
    s_push_batch(f, 0, 1, 3e38f); // every minibatch's loss overflows
    // every minibatch of every epoch skipped: 2 epochs x 32 / (512 / 32) minibatches
    char skip_line[96];
    int mb = (int)(f->cfg.ppo_batch_size / f->cfg.ppo_chunk_len);
    snprintf(skip_line, sizeof skip_line, "xtrade_learner_skipped_updates_total %d",
             (int)f->cfg.ppo_n_epochs * (f->batch_chunks / mb));
    assert_string_equal(skip_line, "xtrade_learner_skipped_updates_total 4");
    const char *skipped[] = {"xtrade_learner_updates_total 1", skip_line};
    s_metrics_have(f, skipped, 2);
    s_push_batch(f, 0, 1, 0);
    assert_true(s_weights(f, 2, &w, 20)); // version 1 (skipped) never went out
    assert_int_equal(w.version, 2);
    kill(f->pid, SIGTERM);
    s_exit_ok(f, 10);
    snprintf(path, sizeof path, "%s/tiny/fold-1/ckpt-%d.xtck", f->runs, BUDGET);
    assert_true(access(path, R_OK) == 0); // written on the way out
    log = s_read_log(f);
    assert_contains(log, "fold 1: fresh (env step 0, version 0)");
    assert_contains(log, "1 non-finite updates in a row: rolling back");
    assert_contains(log, "rolled back to the params of ");
    assert_contains(log, "signal: finishing with a checkpoint");
    free(log);
    free(p0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_loopback, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
