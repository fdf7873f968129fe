// main.c - xtrade-broker: options, config, signals, then the broker loop.
//
//   xtrade-broker --config FILE [--set section.key=value ...] [--run-dir DIR]
//   (XTRADE_CONFIG, XTRADE_METRICS_ADDR, XTRADE_METRICS_PORT: see --help)
//
// Order (STYLE.md "Daemons"): defaults -> config file -> --set overrides ->
// validate -> log "configuration loaded" -> plan, journal, bind, /metrics ->
// log "ready" with the bound endpoints -> event loop. The signal handlers
// only set a flag that the loop's timer serves (STOP to every peer, clean
// exit); a second SIGINT or SIGTERM exits at once (core/daemon.h: options,
// config, signals and exit statuses common to the daemons). Only this file
// exits.
#include "broker.h"

#include "core/daemon.h"
#include "core/log.h"
#include "wire/sock.h"

#include <stdio.h>
#include <unistd.h>

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: xtrade-broker --config FILE [--set section.key=value ...] [--run-dir DIR]\n"
            "\n"
            "Coordinates a training run: walk-forward folds, shard assignment, liveness,\n"
            "checkpoints, evaluation (docs/cluster-protocol.md).\n"
            "\n"
            "  --config FILE       run configuration (YAML; see `xtrade config --reference`)\n"
            "  --set k=v           override one key (repeatable), e.g. --set broker.port=0\n"
            "  --run-dir DIR       the run's directory (default <run.dir>/<run.id>): config.yaml,\n"
            "                      broker.journal, broker.endpoint, reports\n"
            "  --help, --version\n"
            "\n"
            "environment (the command line wins):\n"
            "  XTRADE_CONFIG        config file when --config is not given\n"
            "  XTRADE_METRICS_ADDR  address /metrics and /healthz bind (default broker.bind)\n"
            "  XTRADE_METRICS_PORT  their port (default broker.http_port)\n");
}

int main(int argc, char **argv) {
    static const char *const options[] = {"--run-dir", NULL};
    static const xt_daemon_env envs[] = {{"XTRADE_METRICS_PORT", "broker.http_port"}, {NULL, NULL}};
    static const xt_daemon_spec spec = {"xtrade-broker", 'B', s_usage, options, envs};
    xt_daemon d;
    int rc = xt_daemon_start(&d, &spec, argc, argv);
    if (rc != XT_DAEMON_GO) return rc;
    const xt_config *cfg = d.cfg;
    const char *run_dir = xt_daemon_option(&d, "--run-dir"), *http_bind = getenv("XTRADE_METRICS_ADDR");
    char dir[1024];
    if (run_dir) snprintf(dir, sizeof dir, "%s", run_dir);
    else snprintf(dir, sizeof dir, "%s/%s", cfg->run_dir, cfg->run_id);
    xt_info("configuration loaded from %s (run %s, run dir %s)", d.config, cfg->run_id, dir);

    // ---- signals: before any thread starts, so every thread inherits them
    xt_wire_sys_init();
    volatile sig_atomic_t *stop = xt_daemon_signals();

    // ---- plan, journal, sockets, metrics
    xt_err err = {0};
    xt_broker *b = xt_broker_new(cfg, dir, http_bind && *http_bind ? http_bind : NULL, stop, &err);
    if (!b) {
        xt_error("%s", err.msg);
        xt_daemon_destroy(&d);
        return 1;
    }
    char line[512];
    xt_info("%s", xt_broker_describe(b, line, sizeof line));
    xt_info("ready: control %s, metrics %s (pid %d)", xt_broker_endpoint(b), xt_broker_metrics_url(b), (int)getpid());
    rc = xt_broker_run(b, &err);
    if (rc) xt_error("%s", err.msg);
    xt_broker_destroy(&b);
    xt_daemon_destroy(&d);
    return rc ? 1 : 0;
}
