// ckptdir.c - naming, listing, pruning and reading the counters of a fold's
// checkpoint files (ckptdir.h).
//
// Invariants: only names of the exact form ckpt-<decimal step>.xtck count
// as periodic checkpoints (temp files of an interrupted atomic write and
// ckpt-best.xtck never do), so pruning can never remove the best file or a
// file being written. Ownership: nothing is kept between calls.
#include "ckptdir.h"

#include "nn/ckpt.h"
#include "rl/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *xt_ckptdir_fold(char *buf, size_t cap, const char *run_dir, int fold) {
    snprintf(buf, cap, "%s/fold-%d", run_dir, fold);
    return buf;
}

const char *xt_ckptdir_path(char *buf, size_t cap, const char *dir, int64_t step) {
    snprintf(buf, cap, "%s/ckpt-%lld.xtck", dir, (long long)step);
    return buf;
}

const char *xt_ckptdir_best(char *buf, size_t cap, const char *dir) {
    snprintf(buf, cap, "%s/ckpt-best.xtck", dir);
    return buf;
}

// The step of "ckpt-<digits>.xtck", or -1 for any other name.
static int64_t s_step_of(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *p = name + 5;
    int64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 18; p++, digits++) v = v * 10 + (*p - '0');
    return digits > 0 && strcmp(p, ".xtck") == 0 ? v : -1;
}

int xt_ckptdir_list(const char *dir, int64_t *steps, int cap, xt_err *err) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return xt_err_set(err, XT_EIO, "%s: cannot list checkpoints: %s", dir, strerror(errno));
    }
    // Keep the cap largest steps, in descending order (insertion: cap is small).
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t s = s_step_of(e->d_name);
        if (s < 0 || cap <= 0 || (n == cap && s <= steps[n - 1])) continue;
        int k = n < cap ? n++ : n - 1;
        while (k > 0 && steps[k - 1] < s) steps[k] = steps[k - 1], k--;
        steps[k] = s;
    }
    closedir(d);
    return n;
}

int xt_ckptdir_prune(const char *dir, int keep, xt_err *err) {
    int64_t *steps = malloc(XT_CKPTDIR_MAX * sizeof *steps);
    if (!steps) return xt_err_set(err, XT_ENOMEM, "%s: out of memory listing checkpoints", dir);
    int n = xt_ckptdir_list(dir, steps, XT_CKPTDIR_MAX, err), gone = 0;
    for (int i = keep < 0 ? 0 : keep; i < n; i++) {
        char path[1200];
        xt_ckptdir_path(path, sizeof path, dir, steps[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            n = xt_err_set(err, XT_EIO, "%s: cannot delete an old checkpoint: %s", path, strerror(errno));
            break;
        }
        gone++;
    }
    free(steps);
    return n < 0 ? n : gone;
}

int xt_ckptdir_info_read(const char *path, xt_ckptdir_info *out, xt_err *err) {
    xt_ckpt *ck = NULL;
    int rc = xt_ckpt_open(&ck, path, err);
    if (rc) return rc;
    const void *fmt, *cnt, *val;
    uint64_t n = 0;
    if ((rc = xt_ckpt_get_var(ck, "format", XT_CKPT_DTYPE_U8, &fmt, &n, err)) == 0 &&
        (n != strlen(XT_TRAIN_CKPT_FORMAT) || memcmp(fmt, XT_TRAIN_CKPT_FORMAT, n) != 0))
        rc = xt_err_set(err, XT_EINVAL, "%s: not an xtrade training checkpoint (format is not \"%s\")", path,
                        XT_TRAIN_CKPT_FORMAT);
    if (rc == 0 && (rc = xt_ckpt_get(ck, "counters", XT_CKPT_DTYPE_I64, 4, &cnt, err)) == 0 &&
        (rc = xt_ckpt_get(ck, "val.sharpe", XT_CKPT_DTYPE_F64, 1, &val, err)) == 0) {
        const int64_t *c = cnt;
        *out = (xt_ckptdir_info){c[0], c[1], c[2], *(const double *)val};
    }
    xt_ckpt_destroy(&ck);
    return rc;
}
