// cli_data.h - `xtrade data ...` subcommands (see cli.h for conventions).
#ifndef XT_CLI_DATA_H
#define XT_CLI_DATA_H

int xt_cli_data_synth(int argc, char **argv);
int xt_cli_data_inspect(int argc, char **argv);
int xt_cli_data_features(int argc, char **argv);
int xt_cli_data_build(int argc, char **argv);

#endif
