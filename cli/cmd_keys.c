// cmd_keys.c - `xtrade keys gen DIR [--force]`: the CurveZMQ keys of a
// cluster (docs/cluster-protocol.md, "Security").
//
//   DIR/broker.key   DIR/broker.key_secret    ROUTER server (every client pins broker.key)
//   DIR/learner.key  DIR/learner.key_secret   client of the broker; server of chunks and weights
//   DIR/actor.key    DIR/actor.key_secret     client of the broker and the learner
//   DIR/cli.key      DIR/cli.key_secret       client of the broker (`xtrade status`)
//   DIR/allowed/{learner,actor,cli}.key       public keys the broker and learner accept
//
// Secret files are mode 0600 (xt_wire_curve_cert_new). Existing keys are
// never overwritten without --force: replacing them locks out every daemon
// still holding the old ones.
#include "cli.h"
#include "cli_cluster.h"

#include "core/fileio.h"
#include "wire/sock.h"

#include <stdio.h>
#include <string.h>

static const char *s_names[] = {"broker", "learner", "actor", "cli"};

int xt_cli_keys_gen(int argc, char **argv) {
    const char *dir = NULL;
    int force = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) force = 1;
        else if (!dir && argv[i][0] != '-') dir = argv[i];
        else return xt_cli_fail(2, "keys gen: unexpected argument '%s' (usage: xtrade keys gen DIR [--force])", argv[i]);
    }
    if (!dir) return xt_cli_fail(2, "keys gen: usage: xtrade keys gen DIR [--force]");
    char allowed[1100], path[1200];
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    xt_err err = {0};
    if (xt_file_mkdirs(allowed, &err)) return xt_cli_fail(1, "keys gen: %s", err.msg);
    for (size_t k = 0; k < sizeof s_names / sizeof *s_names && !force; k++) {
        snprintf(path, sizeof path, "%s/%s.key", dir, s_names[k]);
        if (xt_file_exists(path))
            return xt_cli_fail(1, "keys gen: %s exists; keep the keys or pass --force to replace every key in %s", path,
                               dir);
    }
    xt_wire_sys_init();
    for (size_t k = 0; k < sizeof s_names / sizeof *s_names; k++) {
        snprintf(path, sizeof path, "%s/%s.key", dir, s_names[k]);
        if (xt_wire_curve_cert_new(path, &err)) return xt_cli_fail(1, "keys gen: %s", err.msg);
        printf("%s (+ %s_secret)\n", path, path);
        if (k == 0) continue; // the broker is a server only
        // The allow-list holds the public half of each client's key.
        zcert_t *c = zcert_load(path);
        char pub[1300];
        snprintf(pub, sizeof pub, "%s/%s.key", allowed, s_names[k]);
        int rc = c ? zcert_save_public(c, pub) : -1;
        zcert_destroy(&c);
        if (rc != 0) return xt_cli_fail(1, "keys gen: %s: cannot write the public key", pub);
        printf("%s\n", pub);
    }
    return 0;
}
