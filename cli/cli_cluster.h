// cli_cluster.h - cluster subcommands of the xtrade CLI.
//
//   xtrade status [--broker tcp://HOST:5555 | --run-dir DIR | --config FILE [--set k=v]] [--timeout-ms N]
//   xtrade keys gen DIR [--force]
#ifndef XT_CLI_CLUSTER_H
#define XT_CLI_CLUSTER_H

// Asks the broker for the run's status (a Register with role cli, answered
// by one Status) and prints run id, fold, phase, progress and the workers.
int xt_cli_status(int argc, char **argv);

// Writes the CurveZMQ key pairs of a cluster into DIR: broker, learner,
// actor and cli (NAME.key public, NAME.key_secret secret), and the public
// keys of the clients into DIR/allowed/, the list servers accept.
int xt_cli_keys_gen(int argc, char **argv);

#endif
