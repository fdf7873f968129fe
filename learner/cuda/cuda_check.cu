// cuda_check.cu - the sentence behind XT_CUDA_CHECK and its siblings.
//
// Purpose: one place that turns a failed library call into an xt_err
// naming file, line, function and statement. No state; any thread.
#include "cuda/cuda_check.h"

#include <stdio.h>
#include <string.h>

// "/abs/path/learner/cuda/x.cu" -> "learner/cuda/x.cu" (the repository path)
static const char *s_repo_path(const char *file) {
    const char *p = strstr(file, "learner/");
    return p ? p : file;
}

extern "C" int xt_cuda_fail(xt_err *err, const char *lib, int status, const char *status_name,
                            const char *detail, const char *stmt, const char *func,
                            const char *file, int line) {
    // long statements (argument lists) are cut: the line number finds the rest
    char st[112];
    size_t n = strlen(stmt);
    if (n < sizeof st) {
        memcpy(st, stmt, n + 1);
    } else {
        memcpy(st, stmt, sizeof st - 5);
        memcpy(st + sizeof st - 5, "...)", 5);
    }
    const char *name = status_name ? status_name : "?";
    if (detail && *detail && strcmp(detail, name) != 0)
        return xt_err_set(err, XT_EDEVICE, "%s:%d: %s: %s failed: %s %s (%d: %s)",
                          s_repo_path(file), line, func, st, lib, name, status, detail);
    return xt_err_set(err, XT_EDEVICE, "%s:%d: %s: %s failed: %s %s (%d)", s_repo_path(file),
                      line, func, st, lib, name, status);
}
