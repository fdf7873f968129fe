// cli_cluster.h - cluster subcommands of the xtrade CLI.
//
//   xtrade cluster up --config FILE [--actors N] [--set k=v ...] [--timeout S] [--progress S] [--stop-timeout S]
//   xtrade status [--broker tcp://HOST:5555 | --run-dir DIR | --config FILE [--set k=v]] [--timeout-ms N]
//   xtrade keys gen DIR [--force]
#ifndef XT_CLI_CLUSTER_H
#define XT_CLI_CLUSTER_H

#include "core/config.h"
#include "core/err.h"
#include "wire/msg.h"

// Starts a broker, a learner and N actors as local processes, supervises
// them (restarts with back-off, crash-loop breaker), follows the run with a
// progress line and prints the report summary at the end (docs/cluster.md).
int xt_cli_cluster_up(int argc, char **argv);

// Asks the broker for the run's status (a Register with role cli, answered
// by one Status) and prints run id, fold, phase, progress and the workers.
int xt_cli_status(int argc, char **argv);

// Writes the CurveZMQ key pairs of a cluster into DIR: broker, learner,
// actor and cli (NAME.key public, NAME.key_secret secret), and the public
// keys of the clients into DIR/allowed/, the list servers accept.
int xt_cli_keys_gen(int argc, char **argv);

// ---- a CLI client of the broker (cmd_status.c), used by status and cluster up

typedef struct xt_cli_broker xt_cli_broker;

// A DEALER connected to the broker at ep (CurveZMQ client with
// <keys_dir>/cli.key, pinning <keys_dir>/broker.key, when security.curve).
// Connecting is asynchronous: an absent broker is not an error here.
// Caller owns the result (xt_cli_broker_destroy). NULL + err on failure.
xt_cli_broker *xt_cli_broker_new(const xt_config *cfg, const char *ep, xt_err *err);
// Sends one Register{role cli}; the broker answers with one Status.
int xt_cli_broker_ask(xt_cli_broker *c, xt_err *err);
// Waits up to timeout_s (0: only what already arrived) for a Status: 1 and
// *st (valid until the next call on c), or 0 when none came.
int xt_cli_broker_wait(xt_cli_broker *c, double timeout_s, const xt_wire_status **st);
void xt_cli_broker_destroy(xt_cli_broker **self_p);

#endif
