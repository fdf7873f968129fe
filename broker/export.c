// export.c - checkpoint -> model registry copies (export.h).
//
// Invariants: every file is written with xt_file_write_atomic, so a
// registry path holds a complete checkpoint or nothing. Ownership: the
// checkpoint's bytes are read into one buffer per call and freed. Threads:
// the broker's loop thread (or a test); no shared state.
#include "export.h"

#include "core/fileio.h"
#include "core/xtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_CKPT (4ull << 30) // a checkpoint larger than this is refused

const char *xt_export_root(const xt_config *cfg, char *buf, size_t cap) {
    // dirname(run.dir): "runs" -> ".", "/var/lib/xtrade/runs" -> "/var/lib/xtrade"
    char dir[XT_CFG_STR_MAX];
    snprintf(dir, sizeof dir, "%s", cfg->run_dir);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(buf, cap, "models");
    else if (slash == dir) snprintf(buf, cap, "/models");
    else snprintf(buf, cap, "%.*s/models", (int)(slash - dir), dir);
    return buf;
}

const char *xt_export_path(const xt_config *cfg, int ti, char *buf, size_t cap) {
    char root[XT_CFG_STR_MAX + 16], tf[16];
    xt_export_root(cfg, root, sizeof root);
    int one = cfg->env_kind == XT_ENV_KIND_ASSET && cfg->data_symbols.n == 1;
    snprintf(buf, cap, "%s/%s/%s/%s/%s.xtck", root, one ? cfg->data_symbols.v[0] : "shared", XT_EXPORT_AGENT,
             xt_timeframe_name((int)cfg->data_timeframes.v[ti], tf), cfg->run_id);
    return buf;
}

int xt_export_model(const xt_config *cfg, const char *ckpt, xt_err *err) {
    if (!ckpt || !ckpt[0] || !xt_file_exists(ckpt))
        return xt_err_set(err, XT_ENOTFOUND,
                          "model export: checkpoint %s is not readable on the broker's machine (share the run "
                          "directory with the learner)",
                          ckpt && ckpt[0] ? ckpt : "(none)");
    char *data = NULL;
    size_t len = 0;
    int rc = xt_file_read_all(ckpt, S_MAX_CKPT, &data, &len, err);
    for (int ti = 0; rc == 0 && ti < cfg->data_timeframes.n; ti++) {
        char path[1024], dir[1024];
        xt_export_path(cfg, ti, path, sizeof path);
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        rc = xt_file_mkdirs(dir, err);
        if (rc == 0) rc = xt_file_write_atomic(path, data, len, err);
        if (rc) xt_err_prefix(err, "model export of %s", ckpt);
    }
    free(data);
    return rc;
}
