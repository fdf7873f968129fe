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
// exits at once (core/daemon.h: options, config, signals and exit statuses
// common to the daemons). Only this file exits.
#include "actor.h"

#include "core/daemon.h"
#include "core/log.h"
#include "wire/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

// Parses N in 1..4096 for --envs.
static int s_envs(const char *s, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || *end || end == s || v < 1 || v > 4096) return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    static const char *const options[] = {"--broker", "--envs", "--id", NULL};
    static const xt_daemon_env envs_vars[] = {{"XTRADE_METRICS_PORT", "actor.http_port"}, {NULL, NULL}};
    static const xt_daemon_spec spec = {"xtrade-actor", 'A', s_usage, options, envs_vars};
    static const char *const broker_vars[] = {"XTRADE_BROKER", NULL};
    xt_daemon d;
    int rc = xt_daemon_start(&d, &spec, argc, argv);
    if (rc != XT_DAEMON_GO) return rc;
    const xt_config *cfg = d.cfg;
    const char *envs_arg = xt_daemon_option(&d, "--envs"), *id = xt_daemon_option(&d, "--id");
    int envs = (int)cfg->actor_envs;
    if (envs_arg && s_envs(envs_arg, &envs)) {
        char msg[600];
        snprintf(msg, sizeof msg, "--envs %s: expected an integer between 1 and 4096", envs_arg);
        rc = xt_daemon_fail(&d, 2, msg);
        xt_daemon_destroy(&d);
        return rc;
    }
    xt_info("configuration loaded from %s (run %s, %d envs)", d.config, cfg->run_id, envs);

    // Endpoint: --broker, else $XTRADE_BROKER, else the config's broker.host:port.
    char ep[600], idbuf[300], host[256] = "localhost";
    xt_daemon_broker(cfg, xt_daemon_option(&d, "--broker"), broker_vars, ep, sizeof ep);
    if (!id || !id[0]) id = getenv("XTRADE_ACTOR_ID");
    if (!id || !id[0]) {
        gethostname(host, sizeof host - 1);
        snprintf(idbuf, sizeof idbuf, "actor-%s-%d", host, (int)getpid());
        id = idbuf;
    }

    // ---- signals: before any thread starts, so every thread inherits them
    xt_wire_sys_init();
    volatile sig_atomic_t *stop = xt_daemon_signals();

    xt_err err = {0};
    const char *http_bind = getenv("XTRADE_METRICS_ADDR");
    xt_actor_options o = {cfg, ep, id, envs, http_bind && *http_bind ? http_bind : "0.0.0.0"};
    xt_actor *a = xt_actor_new(&o, stop, &err);
    if (!a) {
        rc = xt_daemon_fail(&d, 1, err.msg);
        xt_daemon_destroy(&d);
        return rc;
    }
    xt_info("ready: actor %s (incarnation %llu), broker %s, %d envs, metrics %s", id,
            (unsigned long long)xt_actor_incarnation(a), ep, envs, xt_actor_metrics_url(a));
    rc = 0;
    if (xt_actor_run(a, &err)) {
        xt_error("%s", err.msg);
        rc = 1;
    } else {
        xt_info("actor %s exits", id);
    }
    xt_actor_destroy(&a);
    xt_daemon_destroy(&d);
    return rc;
}
