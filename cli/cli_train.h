// cli_train.h - `xtrade train --local` and `xtrade eval --checkpoint` (see
// cli.h for conventions; the work is in common/rl/runner.h).
#ifndef XT_CLI_TRAIN_H
#define XT_CLI_TRAIN_H

int xt_cli_train(int argc, char **argv);
int xt_cli_eval(int argc, char **argv);

#endif
