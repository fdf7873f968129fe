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

// Daemons spawned by a test (call in the forked child before exec): a leak
// report of LeakSanitizer no longer turns their exit status into 1, so the
// test's own status checks stay about xtrade; xt_test_leaks_ours then reads
// the daemon's log.
void xt_test_child_leaks_reported(void);
// 1 when the log at path holds a LeakSanitizer report with a stack frame in
// xtrade's own code (a function named xt_*, s_* or main) and writes the
// report's first lines to why; 0 when there is none, or when every leaked
// block was allocated entirely inside a library (libzmq keeps blocks of
// in-flight messages whose release races with process exit).
int xt_test_leaks_ours(const char *path, char *why, size_t cap);
// The same over every *.log file in dir (a run's logs/ directory).
int xt_test_dir_leaks_ours(const char *dir, char *why, size_t cap);

// First difference between the params.* sections of two checkpoint files
// ("params.x[k]: a vs b", a missing section, an unreadable file), or "" when
// they are byte-identical.
void xt_test_params_diff(const char *a, const char *b, char *diff, size_t cap);
// rm -rf dir, unless XT_KEEP_TMP is set (to keep a test's files for a look).
void xt_test_rmtree(const char *dir);

#endif
