// main.c - xtrade-actor: options, config, signals, then the actor loop.
//
//   xtrade-actor --config FILE [--broker tcp://HOST:5555] [--envs N] [--id NAME]
//                [--set section.key=value ...]
//
// Order (STYLE.md "Daemons"): defaults -> config file -> --set overrides ->
// --envs -> validate -> log "configuration loaded" -> keys, codecs, /metrics,
// control socket -> log "ready" with the endpoints -> event loop. The signal
// handlers only set a flag that the loop's timer serves (STOPPING to the
// broker, evaluation cancelled, clean exit); a second SIGINT or SIGTERM
// exits at once. Only this file exits.
#include "actor.h"

#include "core/log.h"
#include "wire/sock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The one piece of mutable global state: written by the signal handler,
// read by the loop's timer through the pointer handed to the actor.
static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig) {
    if (s_stop) _exit(128 + sig); // second signal: no more waiting
    s_stop = 1;
}

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: xtrade-actor --config FILE [--broker tcp://HOST:5555] [--envs N] [--id NAME]\n"
            "                    [--set section.key=value ...]\n"
            "\n"
            "Steps the shards the broker assigns with batched inference, streams rollout\n"
            "chunks to the learner and evaluates checkpoints on request (docs/actor.md).\n"
            "\n"
            "  --config FILE     run configuration (YAML; the broker's and the learner's config)\n"
            "  --broker EP       broker control endpoint; default $XTRADE_BROKER, else\n"
            "                    tcp://<broker.host>:<broker.port>\n"
            "  --envs N          envs this actor steps (its capacity; default actor.envs)\n"
            "  --id NAME         actor id (default $XTRADE_ACTOR_ID, else actor-<host>-<pid>)\n"
            "  --set k=v         override one key (repeatable), e.g. --set actor.http_port=0\n"
            "  --help, --version\n"
            "\n"
            "environment (used where the command line says nothing):\n"
            "  XTRADE_CONFIG        config file when --config is not given\n"
            "  XTRADE_BROKER        broker endpoint when --broker is not given\n"
            "  XTRADE_ACTOR_ID      actor id when --id is not given\n"
            "  XTRADE_METRICS_ADDR  address /metrics and /healthz bind (default 0.0.0.0)\n"
            "  XTRADE_METRICS_PORT  their port (default actor.http_port; --set wins)\n");
}

static int s_fail(int code, const char *msg) {
    fprintf(stderr, "xtrade-actor: %s\n", msg);
    return code;
}

// Parses N in 1..4096 for --envs.
static int s_envs(const char *s, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || *end || end == s || v < 1 || v > 4096) return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *config = NULL, *broker = NULL, *id = NULL, *envs_arg = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int n_sets = 0, rc = 0;
    if (!sets) return s_fail(1, "out of memory");
    xt_log_init('A', XT_LOG_INFO, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            free(sets);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("xtrade-actor %s\n", XT_VERSION);
            free(sets);
            return 0;
        }
        int known = strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "--broker") == 0 ||
                    strcmp(a, "--envs") == 0 || strcmp(a, "--id") == 0;
        if (!known || i + 1 >= argc) {
            fprintf(stderr, "xtrade-actor: %s: unknown option or missing value\n", a);
            s_usage(stderr);
            free(sets);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0) config = v;
        else if (strcmp(a, "--set") == 0) sets[n_sets++] = argv[i];
        else if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--envs") == 0) envs_arg = v;
        else id = v;
    }
    // Container environments (docs/cluster.md): used where the command line
    // says nothing.
    if (!config) config = getenv("XTRADE_CONFIG");
    if (!config || !*config) {
        free(sets);
        return s_fail(2, "--config FILE is required (or XTRADE_CONFIG)");
    }
    const char *http_bind = getenv("XTRADE_METRICS_ADDR"), *http_port = getenv("XTRADE_METRICS_PORT");
    xt_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        free(sets);
        return s_fail(1, "out of memory");
    }
    xt_err err = {0};
    char msg[1024];
    if (xt_config_load(cfg, config, &err)) {
        rc = s_fail(1, err.msg);
        goto out;
    }
    if (http_port && *http_port && xt_config_set(cfg, "actor.http_port", http_port, &err)) {
        xt_err_prefix(&err, "XTRADE_METRICS_PORT=%s", http_port);
        rc = s_fail(2, err.msg);
        goto out;
    }
    for (int i = 0; i < n_sets; i++) {
        char key[128];
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof key) {
            snprintf(msg, sizeof msg, "--set %s: expected section.key=value", sets[i]);
            rc = s_fail(2, msg);
            goto out;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = '\0';
        if (xt_config_set(cfg, key, eq + 1, &err)) {
            rc = s_fail(2, err.msg);
            goto out;
        }
    }
    int envs = (int)cfg->actor_envs;
    if (envs_arg && s_envs(envs_arg, &envs)) {
        snprintf(msg, sizeof msg, "--envs %s: expected an integer between 1 and 4096", envs_arg);
        rc = s_fail(2, msg);
        goto out;
    }
    if (xt_config_validate(cfg, &err)) {
        rc = s_fail(1, err.msg);
        goto out;
    }
    xt_log_init('A', (xt_log_level)cfg->log_level, cfg->log_json);
    xt_info("configuration loaded from %s (run %s, %d envs)", config, cfg->run_id, envs);

    // Endpoint: --broker, else $XTRADE_BROKER, else the config's broker.host:port.
    char ep[600], idbuf[300], host[256] = "localhost";
    if (!broker || !broker[0]) broker = getenv("XTRADE_BROKER");
    if (!broker || !broker[0]) {
        snprintf(ep, sizeof ep, "tcp://%s:%lld", cfg->broker_host, (long long)cfg->broker_port);
        broker = ep;
    }
    if (!id || !id[0]) id = getenv("XTRADE_ACTOR_ID");
    if (!id || !id[0]) {
        gethostname(host, sizeof host - 1);
        snprintf(idbuf, sizeof idbuf, "actor-%s-%d", host, (int)getpid());
        id = idbuf;
    }

    xt_wire_sys_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    xt_actor_options o = {cfg, broker, id, envs, http_bind && *http_bind ? http_bind : "0.0.0.0"};
    xt_actor *a = xt_actor_new(&o, &s_stop, &err);
    if (!a) {
        rc = s_fail(1, err.msg);
        goto out;
    }
    xt_info("ready: actor %s (incarnation %llu), broker %s, %d envs, metrics %s", id,
            (unsigned long long)xt_actor_incarnation(a), broker, envs, xt_actor_metrics_url(a));
    if (xt_actor_run(a, &err)) {
        xt_error("%s", err.msg);
        rc = 1;
    } else {
        xt_info("actor %s exits", id);
    }
    xt_actor_destroy(&a);
out:
    free(cfg);
    free(sets);
    return rc;
}
