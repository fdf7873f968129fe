// testutil.c - temp dirs and files for unit tests.
#include "testutil.h"

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

void xt_test_contains(const char *haystack, const char *needle, const char *file, int line) {
    if (!haystack || !strstr(haystack, needle))
        {
            print_error("%s:%d: expected \"%s\" in \"%s\"\n", file, line, needle,
                        haystack ? haystack : "(null)");
            _fail(file, line);
        }
}
