// cmd_status.c - `xtrade status`: one Status from the broker, printed.
//
// The broker endpoint comes from --broker; else from DIR/broker.endpoint
// with --run-dir DIR; else from $XTRADE_BROKER; else from the config's
// <run.dir>/<run.id>/broker.endpoint (the broker writes it at start); else
// tcp://<broker.host>:<broker.port> of the config (defaults without --config). The CLI connects a DEALER, sends a Register
// with role cli and waits for the Status the broker answers with; the
// broker keeps no session for it. With security.curve the CLI is a
// CurveZMQ client with <keys_dir>/cli.key, pinning <keys_dir>/broker.key.
#include "cli.h"
#include "cli_cluster.h"

#include "core/fileio.h"
#include "core/xtime.h"
#include "wire/envelope.h"
#include "wire/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_USAGE "usage: xtrade status [--broker tcp://HOST:5555 | --run-dir DIR | --config FILE [--set k=v]] [--timeout-ms N]"

// ---------------------------------------------------------------- endpoint

// First line of DIR/broker.endpoint into ep; 0 if the file is there.
static int s_endpoint_file(const char *dir, char *ep, size_t cap) {
    char path[1100];
    snprintf(path, sizeof path, "%s/broker.endpoint", dir);
    char *text = NULL;
    size_t len = 0;
    if (!xt_file_exists(path) || xt_file_read_all(path, 4096, &text, &len, NULL) != 0) return -1;
    text[strcspn(text, "\r\n")] = '\0';
    snprintf(ep, cap, "%s", text);
    free(text);
    return ep[0] ? 0 : -1;
}

// ---------------------------------------------------------------- printing

static void s_print(const xt_wire_status *st) {
    printf("run         %s\n", st->run_id);
    printf("fold        %u (of %u folds, numbered from 0)\n", st->fold, st->n_folds);
    printf("phase       %s\n", xt_wire_phase_name(st->phase));
    switch (st->phase) {
    case XT_WIRE_PHASE_TRAIN:
        printf("progress    %.1f%% (%llu of %llu env steps)\n", 100.0 * st->progress,
               (unsigned long long)st->env_steps, (unsigned long long)st->step_budget);
        break;
    case XT_WIRE_PHASE_CHECKPOINT: printf("progress    100.0%% (waiting for the fold's final checkpoint)\n"); break;
    case XT_WIRE_PHASE_EVAL: printf("progress    %.1f%% of the shards evaluated\n", 100.0 * st->progress); break;
    default: printf("progress    %.1f%%\n", 100.0 * st->progress);
    }
    printf("policy      v%llu (newest checkpoint)\n", (unsigned long long)st->policy_version);
    int learners = 0, actors = 0;
    unsigned envs = 0;
    for (uint32_t i = 0; i < st->n_workers; i++) {
        learners += st->workers[i].role == XT_WIRE_ROLE_LEARNER;
        actors += st->workers[i].role == XT_WIRE_ROLE_ACTOR;
        envs += st->workers[i].role == XT_WIRE_ROLE_ACTOR ? st->workers[i].envs : 0;
    }
    printf("workers     %d learner%s, %d actor%s (%u envs)\n", learners, learners == 1 ? "" : "s", actors,
           actors == 1 ? "" : "s", envs);
    if (st->n_workers == 0) return;
    printf("\n%-8s %-20s %-16s %-10s %5s %10s %6s %8s %7s  %s\n", "ROLE", "ID", "HOST", "STATE", "ENVS", "STEPS/S",
           "QUEUE", "POLICY", "SEEN", "INCARNATION");
    for (uint32_t i = 0; i < st->n_workers; i++) {
        const xt_wire_worker *w = &st->workers[i];
        printf("%-8s %-20s %-16s %-10s %5u %10.1f %6u %8llu %6.1fs  %llu\n", xt_wire_role_name(w->role), w->id,
               w->host, xt_wire_state_name(w->state), w->envs, w->steps_per_s, w->queue_depth,
               (unsigned long long)w->policy_version, w->last_seen_s, (unsigned long long)w->incarnation);
    }
}

// ---------------------------------------------------------------- client

struct xt_cli_broker {
    zsock_t *s;
    zcert_t *cert;
    xt_wire_encoder *enc;
    xt_wire_decoder *dec;
    xt_wire_msg last; // the last Status (its strings live in dec's arena)
    char id[64], ep[512], host[256];
    uint64_t incarnation, seq;
};

xt_cli_broker *xt_cli_broker_new(const xt_config *cfg, const char *ep, xt_err *err) {
    xt_wire_sys_init();
    xt_cli_broker *c = calloc(1, sizeof *c);
    if (!c) {
        xt_err_set(err, XT_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(c->ep, sizeof c->ep, "%s", ep);
    snprintf(c->id, sizeof c->id, "cli-%d", (int)getpid());
    c->incarnation = (uint64_t)(xt_time_wall() * 1e6);
    if (gethostname(c->host, sizeof c->host - 1) != 0 || !xt_wire_id_valid(c->host)) snprintf(c->host, sizeof c->host, "cli");
    // CurveZMQ client when the config says so: our cli key pair, pinning the broker's public key.
    char server_key[41] = "";
    if (cfg->security_curve) {
        char path[XT_CFG_STR_MAX + 32];
        snprintf(path, sizeof path, "%s/cli.key", cfg->security_keys_dir);
        c->cert = xt_wire_curve_cert_load(path, err);
        if (!c->cert) goto fail;
        snprintf(path, sizeof path, "%s/broker.key", cfg->security_keys_dir);
        zcert_t *srv = zcert_load(path);
        if (!srv) {
            xt_err_set(err, XT_EIO, "%s: cannot read the broker's public key", path);
            goto fail;
        }
        snprintf(server_key, sizeof server_key, "%s", zcert_public_txt(srv));
        zcert_destroy(&srv);
    }
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.routing_id = c->id;
    o.curve_cert = c->cert;
    o.curve_server_key = c->cert ? server_key : NULL;
    c->s = xt_wire_connect(ZMQ_DEALER, ep, &o, err);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 4u << 20;
    c->enc = c->s ? xt_wire_encoder_new(&lim, err) : NULL;
    c->dec = c->enc ? xt_wire_decoder_new(&lim, err) : NULL;
    if (c->dec) return c;
fail:
    xt_cli_broker_destroy(&c);
    return NULL;
}

int xt_cli_broker_ask(xt_cli_broker *c, xt_err *err) {
    xt_wire_msg m = {.type = XT_WIRE_REGISTER};
    m.hdr = (xt_wire_hdr){0, c->id, c->incarnation, ++c->seq};
    m.reg = (xt_wire_register){XT_WIRE_ROLE_CLI, 0, (uint32_t)getpid(), c->host, 0, 0, 0, XT_VERSION};
    const void *frame;
    size_t len;
    if (xt_wire_encode(c->enc, &m, &frame, &len, err)) return err->code;
    int rc = xt_wire_send(c->s, NULL, 0, frame, len, ZMQ_DONTWAIT, err);
    return rc < 0 ? rc : 0;
}

int xt_cli_broker_wait(xt_cli_broker *c, double timeout_s, const xt_wire_status **st) {
    double deadline = xt_time_mono() + timeout_s;
    for (;;) {
        double left = deadline - xt_time_mono();
        int flags = left > 0 ? 0 : ZMQ_DONTWAIT;
        if (left > 0) zsock_set_rcvtimeo(c->s, (int)(left * 1000) + 1);
        xt_wire_rx rx;
        xt_err err = {0};
        if (xt_wire_recv(c->s, &rx, flags, &err) != 0) {
            if (left <= 0) return 0;
            continue;
        }
        // Other frames (a heartbeat, a stale reply) are skipped.
        xt_wire_msg r;
        int ok = xt_wire_decode(c->dec, rx.data, rx.len, c->ep, &r, &err) == 0 && r.type == XT_WIRE_STATUS;
        xt_wire_rx_close(&rx);
        if (ok) {
            *st = &c->last.status;
            c->last = r;
            return 1;
        }
    }
}

void xt_cli_broker_destroy(xt_cli_broker **self_p) {
    if (!self_p || !*self_p) return;
    xt_cli_broker *c = *self_p;
    xt_wire_decoder_destroy(&c->dec);
    xt_wire_encoder_destroy(&c->enc);
    zsock_destroy(&c->s);
    zcert_destroy(&c->cert);
    free(c);
    *self_p = NULL;
}

// ---------------------------------------------------------------- command

int xt_cli_status(int argc, char **argv) {
    const char *broker = NULL, *run_dir = NULL, *config = NULL;
    char *sets[64];
    int n_sets = 0;
    long timeout_ms = 3000;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return xt_cli_fail(2, "status: unexpected argument '%s' (%s)", a, S_USAGE);
        if (strcmp(a, "--broker") == 0) broker = argv[++i];
        else if (strcmp(a, "--run-dir") == 0) run_dir = argv[++i];
        else if (strcmp(a, "--config") == 0) config = argv[++i];
        else if (strcmp(a, "--set") == 0 && n_sets < 64) sets[n_sets++] = argv[++i];
        else if (strcmp(a, "--timeout-ms") == 0) {
            char *end;
            timeout_ms = strtol(argv[++i], &end, 10);
            if (*end || timeout_ms < 1 || timeout_ms > 3600000)
                return xt_cli_fail(2, "status: --timeout-ms %s: expected 1..3600000", argv[i]);
        } else {
            return xt_cli_fail(2, "status: unexpected argument '%s' (%s)", a, S_USAGE);
        }
    }
    static xt_config cfg;
    xt_config_defaults(&cfg);
    if (config) {
        int rc = xt_cli_load_config(&cfg, config, sets, n_sets);
        if (rc) return rc;
    }
    char ep[512], dir[600];
    snprintf(dir, sizeof dir, "%s/%s", cfg.run_dir, cfg.run_id);
    const char *env = getenv("XTRADE_BROKER");
    if (broker) snprintf(ep, sizeof ep, "%s", broker);
    else if (run_dir && s_endpoint_file(run_dir, ep, sizeof ep) != 0)
        return xt_cli_fail(1, "status: %s/broker.endpoint: not found (is the broker running with this run dir?)", run_dir);
    else if (!run_dir && env && *env) snprintf(ep, sizeof ep, "%s", env);
    else if (!run_dir && s_endpoint_file(dir, ep, sizeof ep) != 0)
        snprintf(ep, sizeof ep, "tcp://%s:%lld", cfg.broker_host, (long long)cfg.broker_port);

    xt_err err = {0};
    xt_cli_broker *c = xt_cli_broker_new(&cfg, ep, &err);
    if (!c) return xt_cli_fail(1, "status: %s", err.msg);
    int rc = 1;
    if (xt_cli_broker_ask(c, &err)) {
        xt_cli_fail(1, "status: %s", err.msg);
        goto done;
    }
    const xt_wire_status *st = NULL;
    int got = xt_cli_broker_wait(c, (double)timeout_ms / 1000.0, &st);
    if (got == 1) {
        printf("broker      %s\n", ep);
        s_print(st);
        rc = 0;
    } else {
        xt_cli_fail(1, "status: no reply from %s within %.1f s (is the broker running%s?)", ep,
                    (double)timeout_ms / 1000.0,
                    cfg.security_curve ? " and is this CLI's key in its allowed/ directory" : "");
    }
done:
    xt_cli_broker_destroy(&c);
    return rc;
}
