// testutil.c - temp dirs and files, checkpoint comparison and daemon leak reports for unit tests.
#include "testutil.h"

#include "nn/ckpt.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *xt_test_tmpdir(char buf[256], const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, 256, "%s/xt-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(buf)) fail_msg("mkdtemp %s failed", buf);
    return buf;
}

const char *xt_test_write(char buf[512], const char *dir, const char *name, const char *text) {
    snprintf(buf, 512, "%s/%s", dir, name);
    FILE *f = fopen(buf, "wb");
    if (!f) fail_msg("cannot write %s", buf);
    fputs(text, f);
    fclose(f);
    return buf;
}

void xt_test_child_leaks_reported(void) {
    const char *old = getenv("LSAN_OPTIONS");
    char buf[512];
    snprintf(buf, sizeof buf, "%s%sexitcode=0", old && *old ? old : "", old && *old ? ":" : "");
    setenv("LSAN_OPTIONS", buf, 1);
}

int xt_test_leaks_ours(const char *path, char *why, size_t cap) {
    FILE *in = fopen(path, "r");
    if (!in) return 0;
    char line[1024];
    int in_report = 0, ours = 0;
    size_t used = 0;
    why[0] = '\0';
    while (fgets(line, sizeof line, in)) {
        if (strstr(line, "ERROR: LeakSanitizer")) in_report = 1;
        if (!in_report) continue;
        if (used + strlen(line) + 1 < cap) strcpy(why + used, line), used += strlen(line);
        // A symbolized frame: "    #1 0x55e0... in xt_foo /path/file.c:12"
        const char *in_fn = strstr(line, " in ");
        if (strstr(line, "    #") && in_fn) {
            const char *fn = in_fn + 4;
            if (strncmp(fn, "xt_", 3) == 0 || strncmp(fn, "s_", 2) == 0 || strncmp(fn, "main ", 5) == 0) ours = 1;
        }
        if (strstr(line, "SUMMARY: AddressSanitizer")) in_report = 0;
    }
    fclose(in);
    return ours;
}

int xt_test_dir_leaks_ours(const char *dir, char *why, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int ours = 0;
    struct dirent *e;
    while (!ours && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ours = xt_test_leaks_ours(path, why, cap);
    }
    closedir(d);
    return ours;
}

// (testutil.h) params.* sections compared byte for byte, first difference named.
void xt_test_params_diff(const char *a, const char *b, char *diff, size_t cap) {
    xt_err e = {0};
    xt_ckpt *ca = NULL, *cb = NULL;
    diff[0] = '\0';
    if (xt_ckpt_open(&ca, a, &e) || xt_ckpt_open(&cb, b, &e)) {
        snprintf(diff, cap, "%s", e.msg);
        goto done;
    }
    int n = 0;
    for (int i = 0; i < xt_ckpt_n_sections(ca); i++) {
        xt_ckpt_section sa, sb;
        xt_ckpt_section_at(ca, i, &sa);
        if (strncmp(sa.name, "params.", 7) != 0) continue;
        n++;
        if (xt_ckpt_find(cb, sa.name, &sb) != 0 || sb.dtype != sa.dtype || sb.count != sa.count) {
            snprintf(diff, cap, "section %s missing or of another shape in %s", sa.name, b);
            goto done;
        }
        size_t bytes = sa.count * xt_ckpt_dtype_size(sa.dtype);
        if (memcmp(sa.data, sb.data, bytes) != 0) {
            const float *fa = sa.data, *fb = sb.data;
            size_t k = 0;
            while (k < sa.count && fa[k] == fb[k]) k++;
            snprintf(diff, cap, "%s[%zu]: %.9g vs %.9g", sa.name, k, (double)fa[k], (double)fb[k]);
            goto done;
        }
    }
    if (n == 0) snprintf(diff, cap, "%s has no params.* sections", a);
done:
    xt_ckpt_destroy(&ca);
    xt_ckpt_destroy(&cb);
}

void xt_test_rmtree(const char *dir) {
    if (!dir || !dir[0] || getenv("XT_KEEP_TMP")) return;
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) print_message("could not remove %s\n", dir);
}

void xt_test_contains(const char *haystack, const char *needle, const char *file, int line) {
    if (!haystack || !strstr(haystack, needle))
        {
            print_error("%s:%d: expected \"%s\" in \"%s\"\n", file, line, needle,
                        haystack ? haystack : "(null)");
            _fail(file, line);
        }
}
