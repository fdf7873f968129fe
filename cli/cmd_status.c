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

    // ---- socket (CurveZMQ client when the config says so)
    xt_wire_sys_init();
    xt_err err = {0};
    zcert_t *cert = NULL;
    char server_key[41] = "", id[64];
    if (cfg.security_curve) {
        char path[XT_CFG_STR_MAX + 32];
        snprintf(path, sizeof path, "%s/cli.key", cfg.security_keys_dir);
        cert = xt_wire_curve_cert_load(path, &err);
        if (!cert) return xt_cli_fail(1, "status: %s", err.msg);
        snprintf(path, sizeof path, "%s/broker.key", cfg.security_keys_dir);
        zcert_t *srv = zcert_load(path);
        if (!srv) {
            zcert_destroy(&cert);
            return xt_cli_fail(1, "status: %s: cannot read the broker's public key", path);
        }
        snprintf(server_key, sizeof server_key, "%s", zcert_public_txt(srv));
        zcert_destroy(&srv);
    }
    snprintf(id, sizeof id, "cli-%d", (int)getpid());
    xt_wire_sockopt o;
    xt_wire_sockopt_default(&o);
    o.routing_id = id;
    o.curve_cert = cert;
    o.curve_server_key = cert ? server_key : NULL;
    zsock_t *s = xt_wire_connect(ZMQ_DEALER, ep, &o, &err);
    xt_wire_limits lim;
    xt_wire_limits_default(&lim);
    lim.max_frame_bytes = 4u << 20;
    xt_wire_encoder *enc = s ? xt_wire_encoder_new(&lim, &err) : NULL;
    xt_wire_decoder *dec = enc ? xt_wire_decoder_new(&lim, &err) : NULL;
    int rc = 1;
    if (!dec) {
        xt_cli_fail(1, "status: %s", err.msg);
        goto done;
    }

    // ---- ask, then wait for the Status (other frames, e.g. a heartbeat, are skipped)
    char host[256] = "cli";
    gethostname(host, sizeof host - 1);
    if (!xt_wire_id_valid(host)) snprintf(host, sizeof host, "cli");
    xt_wire_msg m = {.type = XT_WIRE_REGISTER};
    m.hdr = (xt_wire_hdr){0, id, (uint64_t)(xt_time_wall() * 1e6), 1};
    m.reg = (xt_wire_register){XT_WIRE_ROLE_CLI, 0, (uint32_t)getpid(), host, 0, 0, 0, XT_VERSION};
    const void *frame;
    size_t len;
    if (xt_wire_encode(enc, &m, &frame, &len, &err) || xt_wire_send(s, NULL, 0, frame, len, 0, &err) < 0) {
        xt_cli_fail(1, "status: %s", err.msg);
        goto done;
    }
    double deadline = xt_time_mono() + (double)timeout_ms / 1000.0;
    for (;;) {
        double left = deadline - xt_time_mono();
        if (left <= 0) {
            xt_cli_fail(1, "status: no reply from %s within %.1f s (is the broker running%s?)", ep,
                        (double)timeout_ms / 1000.0, cert ? " and is this CLI's key in its allowed/ directory" : "");
            break;
        }
        zsock_set_rcvtimeo(s, (int)(left * 1000) + 1);
        xt_wire_rx rx;
        if (xt_wire_recv(s, &rx, 0, &err) != 0) continue;
        xt_wire_msg r;
        int ok = xt_wire_decode(dec, rx.data, rx.len, ep, &r, &err) == 0 && r.type == XT_WIRE_STATUS;
        if (ok) {
            printf("broker      %s\n", ep);
            s_print(&r.status);
            rc = 0;
        }
        xt_wire_rx_close(&rx);
        if (ok) break;
    }
done:
    xt_wire_decoder_destroy(&dec);
    xt_wire_encoder_destroy(&enc);
    zsock_destroy(&s);
    zcert_destroy(&cert);
    return rc;
}
