// cmd_config.c - `xtrade config --dump FILE [--set k=v]...` prints the
// effective config with defaults filled in; `xtrade config --reference`
// prints the Markdown table of every key (the README's config reference).
#include "cli.h"

#include <stdio.h>
#include <string.h>

int xt_cli_config(int argc, char **argv) {
    const char *dump = NULL;
    char *sets[64];
    int n_sets = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--reference") == 0) {
            xt_config_reference(stdout);
            return 0;
        } else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
            dump = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && n_sets < 64) {
            sets[n_sets++] = argv[++i];
        } else {
            return xt_cli_fail(2, "config: unexpected argument '%s' (usage: xtrade config --dump FILE [--set k=v] | --reference)", argv[i]);
        }
    }
    if (!dump) return xt_cli_fail(2, "config: usage: xtrade config --dump FILE [--set k=v] | --reference");
    xt_config cfg;
    int rc = xt_cli_load_config(&cfg, dump, sets, n_sets);
    if (rc) return rc;
    xt_config_dump(&cfg, stdout);
    return 0;
}
