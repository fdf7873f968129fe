// daemon.h - what the main() of every xtrade daemon (broker, learner, actor)
// does before its event loop (STYLE.md "Daemons"): the command line, the
// config (defaults, the file, environment overrides, --set, validation), the
// log settings and the signal handlers.
//
//   xtrade-<role> --config FILE [--set section.key=value ...] [daemon options]
//   xtrade-<role> --help | --version
//
// Exit statuses, the same for every daemon: 0 after --help or --version; 2
// for bad usage (an unknown option, a missing value, no config file, a --set
// or an environment variable that is not a valid value for its key); 1 for a
// config file that cannot be read or does not validate. Error lines go to
// stderr as "<name>: <one sentence>".
//
// Order of precedence, lowest first: key defaults, the config file, the
// daemon's environment variables (spec.envs), --set. The config file comes
// from --config, else $XTRADE_CONFIG.
//
// Signals: the first SIGINT or SIGTERM sets the flag xt_daemon_signals
// returns (the daemon's loop serves it: a clean stop), a second one exits at
// once with 128 + signo; SIGPIPE is ignored. That flag is the process's one
// piece of mutable global state.
#ifndef XT_CORE_DAEMON_H
#define XT_CORE_DAEMON_H

#include "config.h"
#include "err.h"

#include <signal.h>
#include <stdio.h>

#define XT_DAEMON_OPTIONS_MAX 8
#define XT_DAEMON_GO (-1) // xt_daemon_start: carry on

// An environment variable that sets a config key ("XTRADE_METRICS_PORT",
// "learner.http_port"); --set wins over it.
typedef struct {
    const char *var, *key;
} xt_daemon_env;

typedef struct {
    const char *name;           // "xtrade-learner": --version and the error prefix
    char role;                  // the log lines' role letter ('B', 'L', 'A')
    void (*usage)(FILE *out);   // --help (stdout), after a bad option (stderr)
    const char *const *options; // options with a value besides --config and --set,
                                // NULL-terminated (< XT_DAEMON_OPTIONS_MAX), or NULL
    const xt_daemon_env *envs;  // ends with {NULL, NULL}; may be NULL
} xt_daemon_spec;

typedef struct {
    const xt_daemon_spec *spec;
    const char *config;                       // --config, else $XTRADE_CONFIG
    const char *value[XT_DAEMON_OPTIONS_MAX]; // value of spec->options[i], NULL if not given
    char **sets;                              // --set arguments (argv's strings)
    int n_sets;
    xt_config *cfg; // after xt_daemon_load; owned
} xt_daemon;

// Parses argv into d (the strings stay argv's; the log starts at INFO with
// spec->role), then loads d->cfg: defaults, the file, spec->envs, --set,
// validation, after which the log takes the config's level and format.
// Returns XT_DAEMON_GO to carry on (call xt_daemon_destroy at the end);
// otherwise the exit status, after printing: 0 for --help / --version, 2
// for bad usage, 1 for a bad config file (d is already destroyed).
int xt_daemon_start(xt_daemon *d, const xt_daemon_spec *spec, int argc, char **argv);
// The value given for option opt (one of spec->options), or NULL.
const char *xt_daemon_option(const xt_daemon *d, const char *opt);

// The broker endpoint: cli when given, else the first non-empty variable of
// vars (NULL-terminated), else tcp://<broker.host>:<broker.port>.
void xt_daemon_broker(const xt_config *cfg, const char *cli, const char *const *vars, char *out, size_t cap);

// Prints "<name>: <msg>" to stderr and returns status (for main's returns).
int xt_daemon_fail(const xt_daemon *d, int status, const char *msg);

// Installs the SIGINT/SIGTERM handlers and ignores SIGPIPE; call before any
// thread starts so that every thread inherits them (and after
// xt_wire_sys_init, which keeps czmq from installing its own). Returns the
// stop flag the handlers set.
volatile sig_atomic_t *xt_daemon_signals(void);
// The same with the caller's own SIGINT/SIGTERM handler (`xtrade cluster
// up`, which counts signals itself).
void xt_daemon_handle_signals(void (*handler)(int));

// Frees the config and the argument table; d may be zeroed or half-built.
void xt_daemon_destroy(xt_daemon *d);

#endif
