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
// a second SIGINT or SIGTERM exits at once (core/daemon.h: options, config,
// signals and exit statuses common to the daemons). Only this file exits.
#include "learner.h"

#include "core/daemon.h"
#include "core/log.h"
#include "wire/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

int main(int argc, char **argv) {
    static const char *const options[] = {"--broker", NULL};
    static const xt_daemon_env envs[] = {{"XTRADE_METRICS_PORT", "learner.http_port"},
                                         {"XTRADE_ADVERTISE_HOST", "learner.advertise_host"},
                                         {NULL, NULL}};
    static const xt_daemon_spec spec = {"xtrade-learner", 'L', s_usage, options, envs};
    static const char *const broker_vars[] = {"XTRADE_BROKER", "XT_BROKER", NULL};
    xt_daemon d;
    int rc = xt_daemon_start(&d, &spec, argc, argv);
    if (rc != XT_DAEMON_GO) return rc;
    const xt_config *cfg = d.cfg;
    char ep[600], dir[1024];
    xt_daemon_broker(cfg, xt_daemon_option(&d, "--broker"), broker_vars, ep, sizeof ep);
    const char *maddr = getenv("XTRADE_METRICS_ADDR");
    snprintf(dir, sizeof dir, "%s/%s", cfg->run_dir, cfg->run_id);
    xt_info("configuration loaded from %s (run %s, run dir %s, %s mode)", d.config, cfg->run_id, dir,
            cfg->learner_mode == xt_config_enum_index(XT_CFGK_learner_mode, "sync") ? "sync" : "async");

    // ---- signals: before any thread starts, so every thread inherits them
    xt_wire_sys_init();
    volatile sig_atomic_t *stop = xt_daemon_signals();

    // ---- sockets, actors, metrics
    xt_err err = {0};
    xt_learner_opts o = {cfg, ep, dir, "learner-0", maddr && *maddr ? maddr : "0.0.0.0", stop};
    xt_learner *l = xt_learner_new(&o, &err);
    if (!l) {
        xt_error("%s", err.msg);
        xt_daemon_destroy(&d);
        return 1;
    }
    xt_info("ready: chunks %s, weights %s, metrics %s, broker %s (pid %d)", xt_learner_chunk_endpoint(l),
            xt_learner_weights_endpoint(l), xt_learner_metrics_url(l), ep, (int)getpid());
    rc = xt_learner_run(l, &err);
    if (rc) xt_error("%s", err.msg);
    xt_learner_destroy(&l);
    xt_daemon_destroy(&d);
    return rc ? 1 : 0;
}
