// main.c - xtrade-learner: options, config, signals, then the learner loop.
//
//   xtrade-learner --config FILE [--broker tcp://HOST:5555] [--set section.key=value ...]
//
// Container environment (docs/cluster.md), used where the command line says
// nothing: XTRADE_CONFIG, XTRADE_BROKER (or XT_BROKER), XTRADE_METRICS_ADDR,
// XTRADE_METRICS_PORT (learner.http_port), XTRADE_ADVERTISE_HOST
// (learner.advertise_host); --set still wins over the last two.
//
// Order (STYLE.md "Daemons"): defaults -> config file -> --set overrides ->
// validate -> log "configuration loaded" -> bind the chunk and weights
// sockets, start /metrics -> log "ready" with the bound endpoints ->
// register with the broker -> event loop. The signal handlers only set a
// flag that the loop serves (finish the running job, checkpoint, exit 0);
// a second SIGINT or SIGTERM exits at once. Only this file exits.
#include "learner.h"

#include "core/log.h"
#include "wire/sock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The one piece of mutable global state: written by the signal handler,
// read by the loop through the pointer handed to the learner.
static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig) {
    if (s_stop) _exit(128 + sig); // second signal: no more waiting
    s_stop = 1;
}

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: xtrade-learner --config FILE [--broker tcp://HOST:5555] [--set section.key=value ...]\n"
            "\n"
            "Trains the run's policy with recurrent PPO from the rollout chunks actors send,\n"
            "publishes weights after every update and checkpoints every fold (docs/learner.md).\n"
            "\n"
            "  --config FILE       run configuration (YAML; see `xtrade config --reference`;\n"
            "                      default: $XTRADE_CONFIG)\n"
            "  --broker ENDPOINT   the broker's control socket (default: $XTRADE_BROKER or\n"
            "                      $XT_BROKER, else tcp://<broker.host>:<broker.port> from the config)\n"
            "  --set k=v           override one key (repeatable), e.g. --set learner.port_chunks=0\n"
            "  --help, --version\n"
            "\n"
            "Environment: XTRADE_METRICS_ADDR (/metrics bind address, default 0.0.0.0),\n"
            "XTRADE_METRICS_PORT (learner.http_port), XTRADE_ADVERTISE_HOST (learner.advertise_host).\n"
            "\n"
            "Checkpoints go to <run.dir>/<run.id>/fold-<k>/; a restarted learner resumes\n"
            "from the newest one of the fold the broker commands.\n");
}

static int s_fail(int code, const char *msg) {
    fprintf(stderr, "xtrade-learner: %s\n", msg);
    return code;
}

int main(int argc, char **argv) {
    const char *config = NULL, *broker = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int n_sets = 0;
    if (!sets) return s_fail(1, "out of memory");
    xt_log_init('L', XT_LOG_INFO, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            free(sets);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("xtrade-learner %s\n", XT_VERSION);
            free(sets);
            return 0;
        }
        if (i + 1 >= argc || (strcmp(a, "--config") != 0 && strcmp(a, "--set") != 0 && strcmp(a, "--broker") != 0)) {
            fprintf(stderr, "xtrade-learner: %s: unknown option or missing value\n", a);
            s_usage(stderr);
            free(sets);
            return 2;
        }
        if (strcmp(a, "--config") == 0) config = argv[++i];
        else if (strcmp(a, "--set") == 0) sets[n_sets++] = argv[++i];
        else broker = argv[++i];
    }
    if (!config || !*config) config = getenv("XTRADE_CONFIG");
    if (!config || !*config) {
        free(sets);
        return s_fail(2, "--config FILE is required (or XTRADE_CONFIG)");
    }

    // ---- configuration: defaults, the file, then --set on top
    static xt_config cfg; // large; static storage, owned by main
    xt_err err = {0};
    int rc = xt_config_load(&cfg, config, &err);
    const struct {
        const char *var, *key;
    } envs[] = {{"XTRADE_METRICS_PORT", "learner.http_port"}, {"XTRADE_ADVERTISE_HOST", "learner.advertise_host"}};
    for (size_t i = 0; rc == 0 && i < sizeof envs / sizeof *envs; i++) {
        const char *v = getenv(envs[i].var);
        if (v && *v && (rc = xt_config_set(&cfg, envs[i].key, v, &err)) != 0) {
            xt_err_prefix(&err, "%s=%s", envs[i].var, v);
            free(sets);
            return s_fail(2, err.msg);
        }
    }
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
        if ((rc = xt_config_set(&cfg, key, eq + 1, &err)) != 0) {
            free(sets);
            return s_fail(2, err.msg); // a usage error, as in `xtrade --set`
        }
    }
    free(sets);
    if (rc == 0) rc = xt_config_validate(&cfg, &err);
    if (rc) return s_fail(1, err.msg);
    xt_log_init('L', (xt_log_level)cfg.log_level, cfg.log_json);
    char ep[600], dir[1024];
    const char *env = getenv("XTRADE_BROKER"), *env2 = getenv("XT_BROKER");
    if (broker && *broker) snprintf(ep, sizeof ep, "%s", broker);
    else if (env && *env) snprintf(ep, sizeof ep, "%s", env);
    else if (env2 && *env2) snprintf(ep, sizeof ep, "%s", env2);
    else snprintf(ep, sizeof ep, "tcp://%s:%lld", cfg.broker_host, (long long)cfg.broker_port);
    const char *maddr = getenv("XTRADE_METRICS_ADDR");
    snprintf(dir, sizeof dir, "%s/%s", cfg.run_dir, cfg.run_id);
    xt_info("configuration loaded from %s (run %s, run dir %s, %s mode)", config, cfg.run_id, dir,
            cfg.learner_mode == xt_config_enum_index(XT_CFGK_learner_mode, "sync") ? "sync" : "async");

    // ---- signals: before any thread starts, so every thread inherits them
    xt_wire_sys_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    // ---- sockets, actors, metrics
    xt_learner_opts o = {&cfg, ep, dir, "learner-0", maddr && *maddr ? maddr : "0.0.0.0", &s_stop};
    xt_learner *l = xt_learner_new(&o, &err);
    if (!l) {
        xt_error("%s", err.msg);
        return 1;
    }
    xt_info("ready: chunks %s, weights %s, metrics %s, broker %s (pid %d)", xt_learner_chunk_endpoint(l),
            xt_learner_weights_endpoint(l), xt_learner_metrics_url(l), ep, (int)getpid());
    rc = xt_learner_run(l, &err);
    if (rc) xt_error("%s", err.msg);
    xt_learner_destroy(&l);
    return rc ? 1 : 0;
}
