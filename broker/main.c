// main.c - xtrade-broker: options, config, signals, then the broker loop.
//
//   xtrade-broker --config FILE [--set section.key=value ...] [--run-dir DIR]
//   (XTRADE_CONFIG, XTRADE_METRICS_ADDR, XTRADE_METRICS_PORT: see --help)
//
// Order (STYLE.md "Daemons"): defaults -> config file -> --set overrides ->
// validate -> log "configuration loaded" -> plan, journal, bind, /metrics ->
// log "ready" with the bound endpoints -> event loop. The signal handlers
// only set a flag that the loop's timer serves (STOP to every peer, clean
// exit); a second SIGINT or SIGTERM exits at once. Only this file exits.
#include "broker.h"

#include "core/log.h"
#include "wire/sock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The one piece of mutable global state: written by the signal handler,
// read by the loop's timer through the pointer handed to the broker.
static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig) {
    if (s_stop) _exit(128 + sig); // second signal: no more waiting
    s_stop = 1;
}

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

static int s_fail(int code, const char *msg) {
    fprintf(stderr, "xtrade-broker: %s\n", msg);
    return code;
}

int main(int argc, char **argv) {
    const char *config = NULL, *run_dir = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int n_sets = 0;
    if (!sets) return s_fail(1, "out of memory");
    xt_log_init('B', XT_LOG_INFO, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            free(sets);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("xtrade-broker %s\n", XT_VERSION);
            free(sets);
            return 0;
        }
        if (i + 1 >= argc || (strcmp(a, "--config") != 0 && strcmp(a, "--set") != 0 && strcmp(a, "--run-dir") != 0)) {
            fprintf(stderr, "xtrade-broker: %s: unknown option or missing value\n", a);
            s_usage(stderr);
            free(sets);
            return 2;
        }
        if (strcmp(a, "--config") == 0) config = argv[++i];
        else if (strcmp(a, "--set") == 0) sets[n_sets++] = argv[++i];
        else run_dir = argv[++i];
    }
    // Container environments (docs/cluster.md): used where the command line
    // says nothing; --config and --set win.
    if (!config) config = getenv("XTRADE_CONFIG");
    if (!config || !*config) {
        free(sets);
        return s_fail(2, "--config FILE is required (or XTRADE_CONFIG)");
    }
    const char *http_bind = getenv("XTRADE_METRICS_ADDR"), *http_port = getenv("XTRADE_METRICS_PORT");

    // ---- configuration
    static xt_config cfg; // large; static storage, owned by main
    xt_err err = {0};
    int rc = xt_config_load(&cfg, config, &err);
    if (rc == 0 && http_port && *http_port && (rc = xt_config_set(&cfg, "broker.http_port", http_port, &err)))
        xt_err_prefix(&err, "XTRADE_METRICS_PORT=%s", http_port);
    for (int i = 0; rc == 0 && i < n_sets; i++) {
        char key[128];
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof key) {
            snprintf(err.msg, sizeof err.msg, "--set %s: expected section.key=value", sets[i]);
            free(sets);
            return s_fail(2, err.msg);
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = '\0';
        rc = xt_config_set(&cfg, key, eq + 1, &err);
    }
    free(sets);
    if (rc == 0 && (n_sets > 0 || http_port)) rc = xt_config_validate(&cfg, &err);
    if (rc) return s_fail(1, err.msg);
    xt_log_init('B', (xt_log_level)cfg.log_level, cfg.log_json);
    char dir[1024];
    if (run_dir) snprintf(dir, sizeof dir, "%s", run_dir);
    else snprintf(dir, sizeof dir, "%s/%s", cfg.run_dir, cfg.run_id);
    xt_info("configuration loaded from %s (run %s, run dir %s)", config, cfg.run_id, dir);

    // ---- signals: before any thread starts, so every thread inherits them
    xt_wire_sys_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    // ---- plan, journal, sockets, metrics
    xt_broker *b = xt_broker_new(&cfg, dir, http_bind && *http_bind ? http_bind : NULL, &s_stop, &err);
    if (!b) {
        xt_error("%s", err.msg);
        return 1;
    }
    char line[512];
    xt_info("%s", xt_broker_describe(b, line, sizeof line));
    xt_info("ready: control %s, metrics %s (pid %d)", xt_broker_endpoint(b), xt_broker_metrics_url(b), (int)getpid());
    rc = xt_broker_run(b, &err);
    if (rc) xt_error("%s", err.msg);
    xt_broker_destroy(&b);
    return rc ? 1 : 0;
}
