// cli.h - the xtrade command-line tool's subcommands.
//
// Each subcommand is `int xt_cli_<group>_<verb>(int argc, char **argv)` with
// argv[0] the first argument after the subcommand words. Return 0 on success,
// 1 when the work failed (bad data, failed run), 2 for bad usage. Errors are
// one line on stderr; results go to stdout.
#ifndef XT_CLI_H
#define XT_CLI_H

#include "core/config.h"

int xt_cli_config(int argc, char **argv);

// Shared option handling: --config FILE and repeated --set key=value.
// Loads the config (defaults + file + overrides, validated) into cfg.
// Returns 0, or prints the error and returns 1/2.
int xt_cli_load_config(xt_config *cfg, const char *path, char **sets, int n_sets);

// Prints "xtrade: <msg>" on stderr and returns code.
int xt_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
