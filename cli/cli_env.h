// cli_env.h - `xtrade env replay` (an action file through the asset or
// portfolio env, per-step CSV and episode metrics) and `xtrade env baseline`
// (every baseline per shard). See cli.h for conventions; the work is in
// common/env/replay.h and common/env/baseline.h.
#ifndef XT_CLI_ENV_H
#define XT_CLI_ENV_H

int xt_cli_env_replay(int argc, char **argv);
int xt_cli_env_baseline(int argc, char **argv);

#endif
