// testutil.h - small helpers shared by the unit tests (linked as testutil.c).
#ifndef XT_TESTUTIL_H
#define XT_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

// Fresh empty directory under $TMPDIR (or /tmp) for this test; path in buf.
const char *xt_test_tmpdir(char buf[256], const char *tag);
// Writes text to dir/name and returns the full path in buf.
const char *xt_test_write(char buf[512], const char *dir, const char *name, const char *text);
// Fails the test unless haystack contains needle (prints both).
void xt_test_contains(const char *haystack, const char *needle, const char *file, int line);
#define assert_contains(h, n) xt_test_contains((h), (n), __FILE__, __LINE__)

#endif
