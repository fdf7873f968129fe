// cli_data.h - `xtrade data ...` subcommands.
#ifndef XT_CLI_DATA_H
#define XT_CLI_DATA_H

// `xtrade data inspect FILE.csv [--format auto|generic|binance|forex]
//  [--timeframe 15m] [--symbol NAME] [--gap-policy fill|reject]`.
// argv holds the arguments after "inspect" (argv[argc] is not read).
// Returns the process exit status: 0 ok, 1 bad data, 2 bad arguments.
int xt_cli_data_inspect(int argc, char **argv);

#endif
