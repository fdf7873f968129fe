// daemon.c - the daemons' common main() plumbing (daemon.h): options,
// config loading with environment and --set overrides, signals.
//
// Invariants: every failure path prints exactly one "<name>: <sentence>" line
// (plus the usage after a bad option) and hands main the exit status; the
// config is loaded in one order for all daemons (defaults, file, environment,
// --set, validate). Ownership: the xt_daemon owns its config and the table
// of --set pointers, not the strings (argv's). Threads: main's, before any
// other starts; the signal handler touches only the stop flag.
#include "daemon.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The stop flag (daemon.h "Signals"): written by the handler, read by the
// daemon's loop through the pointer xt_daemon_signals returns.
static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig) {
    if (s_stop) _exit(128 + sig); // second signal: no more waiting
    s_stop = 1;
}

// ---------------------------------------------------------------- command line

// Index of opt in spec->options, or -1.
static int s_option_index(const xt_daemon_spec *spec, const char *opt) {
    for (int i = 0; spec->options && spec->options[i] && i < XT_DAEMON_OPTIONS_MAX; i++)
        if (strcmp(spec->options[i], opt) == 0) return i;
    return -1;
}

// The command line (xt_daemon_start): XT_DAEMON_GO or an exit status.
static int s_args(xt_daemon *d, const xt_daemon_spec *spec, int argc, char **argv) {
    memset(d, 0, sizeof *d);
    d->spec = spec;
    xt_log_init(spec->role, XT_LOG_INFO, 0);
    d->sets = calloc((size_t)(argc > 0 ? argc : 1), sizeof *d->sets);
    if (!d->sets) return xt_daemon_fail(d, 1, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            spec->usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", spec->name, XT_VERSION);
            return 0;
        }
        int k = s_option_index(spec, a);
        int known = strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0 || k >= 0;
        if (!known || i + 1 >= argc) {
            fprintf(stderr, "%s: %s: unknown option or missing value\n", spec->name, a);
            spec->usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0) d->config = v;
        else if (strcmp(a, "--set") == 0) d->sets[d->n_sets++] = argv[i];
        else d->value[k] = v;
    }
    // Container environments (docs/cluster.md): where the command line says nothing.
    if (!d->config) d->config = getenv("XTRADE_CONFIG");
    if (!d->config || !*d->config) return xt_daemon_fail(d, 2, "--config FILE is required (or XTRADE_CONFIG)");
    return XT_DAEMON_GO;
}

const char *xt_daemon_option(const xt_daemon *d, const char *opt) {
    int k = s_option_index(d->spec, opt);
    return k >= 0 ? d->value[k] : NULL;
}

// ---------------------------------------------------------------- config

// The config (xt_daemon_start): XT_DAEMON_GO or an exit status.
static int s_load(xt_daemon *d) {
    xt_err err = {0};
    if (!d->cfg && !(d->cfg = calloc(1, sizeof *d->cfg))) return xt_daemon_fail(d, 1, "out of memory");
    if (xt_config_load(d->cfg, d->config, &err)) return xt_daemon_fail(d, 1, err.msg);
    // The environment, then --set on top: a value that does not parse for
    // its key is a usage error, as in `xtrade --set`.
    for (const xt_daemon_env *e = d->spec->envs; e && e->var; e++) {
        const char *v = getenv(e->var);
        if (v && *v && xt_config_set(d->cfg, e->key, v, &err)) {
            xt_err_prefix(&err, "%s=%s", e->var, v);
            return xt_daemon_fail(d, 2, err.msg);
        }
    }
    for (int i = 0; i < d->n_sets; i++)
        if (xt_config_set_arg(d->cfg, d->sets[i], &err)) return xt_daemon_fail(d, 2, err.msg);
    if (xt_config_validate(d->cfg, &err)) return xt_daemon_fail(d, 1, err.msg);
    xt_log_init(d->spec->role, (xt_log_level)d->cfg->log_level, d->cfg->log_json);
    return XT_DAEMON_GO;
}

int xt_daemon_start(xt_daemon *d, const xt_daemon_spec *spec, int argc, char **argv) {
    int rc = s_args(d, spec, argc, argv);
    if (rc == XT_DAEMON_GO) rc = s_load(d);
    if (rc != XT_DAEMON_GO) xt_daemon_destroy(d);
    return rc;
}

void xt_daemon_broker(const xt_config *cfg, const char *cli, const char *const *vars, char *out, size_t cap) {
    const char *ep = cli && *cli ? cli : NULL;
    for (int i = 0; !ep && vars && vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) ep = v;
    }
    if (ep) snprintf(out, cap, "%s", ep);
    else snprintf(out, cap, "tcp://%s:%lld", cfg->broker_host, (long long)cfg->broker_port);
}

// ---------------------------------------------------------------- exits, signals

int xt_daemon_fail(const xt_daemon *d, int status, const char *msg) {
    fprintf(stderr, "%s: %s\n", d->spec ? d->spec->name : "xtrade", msg);
    return status;
}

void xt_daemon_handle_signals(void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

volatile sig_atomic_t *xt_daemon_signals(void) {
    xt_daemon_handle_signals(s_on_signal);
    return &s_stop;
}

void xt_daemon_destroy(xt_daemon *d) {
    if (!d) return;
    free(d->cfg);
    free(d->sets);
    d->cfg = NULL, d->sets = NULL, d->n_sets = 0;
}
