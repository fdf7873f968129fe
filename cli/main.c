// main.c - the xtrade CLI: dispatch of `xtrade <group> [<verb>] ...` to the
// cli/cmd_*.c subcommands. Only this file exits.
#include "cli.h"
#include "cli_cluster.h"
#include "cli_data.h"
#include "cli_env.h"
#include "cli_train.h"

#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *group, *verb; // verb NULL: the group is the whole command
    int (*fn)(int argc, char **argv);
    const char *usage;
} s_cmd;

static const s_cmd s_cmds[] = {
    {"config", NULL, xt_cli_config, "config --dump FILE | --reference    effective config / key reference"},
    {"data", "synth", xt_cli_data_synth, "data synth --config FILE --out DIR    write the synthetic market as CSV"},
    {"data", "inspect", xt_cli_data_inspect, "data inspect FILE.csv                 rows, range, format, gaps, stats"},
    {"data", "features", xt_cli_data_features, "data features --input FILE.csv --out OUT.csv   indicator columns per row"},
    {"data", "build", xt_cli_data_build, "data build --config FILE             build normalized feature caches"},
    {"train", NULL, xt_cli_train, "train --local --config FILE [--fold K] [--out DIR]   recurrent PPO in this process"},
    {"eval", NULL, xt_cli_eval, "eval --checkpoint FILE --config FILE [--fold K] [--out DIR]   test metrics of a checkpoint"},
    {"cluster", "up", xt_cli_cluster_up, "cluster up --config FILE [--actors N] [--set k=v]   broker + learner + N actors here, supervised"},
    {"env", "replay", xt_cli_env_replay,
     "env replay --config FILE --symbol SYM|ALL --timeframe TF --actions A.csv --out O.csv   action file through the env"},
    {"env", "baseline", xt_cli_env_baseline,
     "env baseline --config FILE [--fold K] [--window W]   baseline metrics per shard"},
    {"status", NULL, xt_cli_status, "status [--broker tcp://HOST:5555]     run id, fold, phase, progress, workers"},
    {"keys", "gen", xt_cli_keys_gen, "keys gen DIR [--force]                CurveZMQ key pairs + allowed/ for a cluster"},
};

static void s_usage(FILE *out) {
    fprintf(out, "usage: xtrade <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof *s_cmds; i++) fprintf(out, "  %s\n", s_cmds[i].usage);
    fprintf(out, "  version                              print the version\n");
}

int xt_cli_fail(int code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "xtrade: %s\n", msg);
    return code;
}

int xt_cli_load_config(xt_config *cfg, const char *path, char **sets, int n_sets) {
    xt_err err = {0};
    if (!path) return xt_cli_fail(2, "--config FILE is required");
    if (xt_config_load(cfg, path, &err) != 0) return xt_cli_fail(1, "%s", err.msg);
    for (int i = 0; i < n_sets; i++)
        if (xt_config_set_arg(cfg, sets[i], &err) != 0) return xt_cli_fail(2, "%s", err.msg);
    if (n_sets > 0 && xt_config_validate(cfg, &err) != 0) return xt_cli_fail(1, "%s", err.msg);
    xt_log_init('C', (xt_log_level)cfg->log_level, cfg->log_json);
    return 0;
}

int main(int argc, char **argv) {
    xt_log_init('C', XT_LOG_INFO, 0);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("xtrade %s\n", XT_VERSION);
        return 0;
    }
    int group_known = 0;
    for (size_t i = 0; i < sizeof s_cmds / sizeof *s_cmds; i++) {
        const s_cmd *c = &s_cmds[i];
        if (strcmp(argv[1], c->group) != 0) continue;
        group_known = 1;
        if (!c->verb) return c->fn(argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], c->verb) == 0) return c->fn(argc - 3, argv + 3);
    }
    if (group_known) {
        fprintf(stderr, "xtrade: unknown or missing subcommand for '%s'; one of:\n", argv[1]);
        for (size_t i = 0; i < sizeof s_cmds / sizeof *s_cmds; i++)
            if (strcmp(argv[1], s_cmds[i].group) == 0) fprintf(stderr, "  %s\n", s_cmds[i].usage);
        return 2;
    }
    fprintf(stderr, "xtrade: unknown command '%s'\n", argv[1]);
    s_usage(stderr);
    return 2;
}
