// cmd_train.c - `xtrade train --local` (synchronous recurrent PPO in this
// process, every fold or --fold K) and `xtrade eval --checkpoint` (the test
// metrics of a checkpoint, reproduced bit for bit). Each parses its flags,
// loads the config with --set overrides and reports one error line.
#include "cli.h"
#include "cli_train.h"

#include "rl/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *config, *out, *checkpoint;
    int fold, local;
    char *sets[64];
    int n_sets;
} s_args;

// --fold K: a non-negative integer.
static int s_fold(const char *cmd, const char *v, int *fold) {
    char *end;
    long k = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || k < 0 || k > 1000000)
        return xt_cli_fail(2, "%s: --fold %s: expected a fold index >= 0", cmd, v);
    *fold = (int)k;
    return 0;
}

static int s_parse(s_args *a, int argc, char **argv, const char *cmd, const char *allowed) {
    memset(a, 0, sizeof *a);
    a->fold = -1;
    static const char *with_value[] = {"--config", "--out", "--checkpoint", "--fold", "--set"};
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= strcmp(f, with_value[k]) == 0;
        known |= strcmp(f, "--local") == 0;
        if (!known || !strstr(allowed, f))
            return xt_cli_fail(2, "%s: unexpected argument '%s' (options: %s)", cmd, f, allowed);
        if (strcmp(f, "--local") == 0) {
            a->local = 1;
            continue;
        }
        if (i + 1 >= argc) return xt_cli_fail(2, "%s: %s needs a value", cmd, f);
        char *v = argv[++i];
        int rc = 0;
        if (strcmp(f, "--config") == 0) a->config = v;
        else if (strcmp(f, "--out") == 0) a->out = v;
        else if (strcmp(f, "--checkpoint") == 0) a->checkpoint = v;
        else if (strcmp(f, "--fold") == 0) rc = s_fold(cmd, v, &a->fold);
        else if (a->n_sets == 64) rc = xt_cli_fail(2, "%s: too many --set options", cmd);
        else a->sets[a->n_sets++] = v;
        if (rc) return rc;
    }
    return 0;
}

int xt_cli_train(int argc, char **argv) {
    s_args a;
    const char *usage = "train: usage: xtrade train --local --config FILE [--fold K] [--set k=v] [--out DIR]";
    int rc = s_parse(&a, argc, argv, "train", "--local --config --fold --set --out");
    if (rc) return rc;
    if (!a.local) return xt_cli_fail(2, "train: --local is required (cluster training runs through the broker)");
    if (!a.config) return xt_cli_fail(2, "%s", usage);
    xt_config cfg;
    if ((rc = xt_cli_load_config(&cfg, a.config, a.sets, a.n_sets))) return rc;
    xt_err err = {0};
    if (xt_rl_train(&cfg, a.fold, a.out, stdout, &err)) return xt_cli_fail(1, "%s", err.msg);
    return 0;
}

int xt_cli_eval(int argc, char **argv) {
    s_args a;
    const char *usage = "eval: usage: xtrade eval --checkpoint FILE --config FILE [--fold K] [--set k=v] [--out DIR]";
    int rc = s_parse(&a, argc, argv, "eval", "--checkpoint --config --fold --set --out");
    if (rc) return rc;
    if (!a.checkpoint || !a.config) return xt_cli_fail(2, "%s", usage);
    xt_config cfg;
    if ((rc = xt_cli_load_config(&cfg, a.config, a.sets, a.n_sets))) return rc;
    xt_err err = {0};
    if (xt_rl_eval(&cfg, a.checkpoint, a.fold, a.out, stdout, &err)) return xt_cli_fail(1, "%s", err.msg);
    return 0;
}
