// test_journal.c - the broker journal: a round trip of many records, a torn
// last record cut at every byte offset (earlier records survive, appends
// continue), a corrupted middle record (replay stops there, the warning names
// the offset, the cut bytes are saved), record limits with their exact
// sentences, files that are not journals, the single-writer lock, callback
// errors and the read-only scan.
#include "testutil.h"

#include "core/err.h"
#include "core/fileio.h"
#include "core/journal.h"
#include "core/rng.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#define HEADER_RECORD 17 // 9 header bytes + "XTJOURN1"

// Removes a test directory and everything in it.
static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}
static void s_rmtree(const char *dir) { nftw(dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

// ---------------------------------------------------------------- helpers

typedef struct {
    int n;
    uint8_t type[4096];
    uint32_t len[4096];
    uint64_t off[4096];
    unsigned char *data[4096];
    int fail_at; // 1-based record index whose callback fails (0 = never)
} collect;

static int s_collect(void *user, uint8_t type, const void *payload, uint32_t len, uint64_t offset, xt_err *err) {
    collect *c = user;
    if (c->fail_at && c->n + 1 == c->fail_at) return xt_err_set(err, XT_EPARSE, "unknown record kind %u", type);
    if (c->n >= 4096) return xt_err_set(err, XT_ERANGE, "too many records for the test");
    c->type[c->n] = type, c->len[c->n] = len, c->off[c->n] = offset;
    c->data[c->n] = malloc(len ? len : 1);
    if (len) memcpy(c->data[c->n], payload, len);
    c->n++;
    return 0;
}

static void s_collect_free(collect *c) {
    for (int i = 0; i < c->n; i++) free(c->data[i]);
    c->n = 0;
}

// Deterministic record i: type 1 + i % 7, length (i * 37) % 301, bytes from a seeded rng.
static uint32_t s_make(int i, unsigned char *buf, uint8_t *type) {
    xt_rng r;
    xt_rng_derive(&r, 42, (uint64_t)i);
    uint32_t len = (uint32_t)((i * 37) % 301);
    for (uint32_t k = 0; k < len; k++) buf[k] = (unsigned char)xt_rng_u64(&r);
    *type = (uint8_t)(1 + i % 7);
    return len;
}

static void s_check_record(const collect *c, int i, int want_i) {
    unsigned char buf[512];
    uint8_t type;
    uint32_t len = s_make(want_i, buf, &type);
    assert_int_equal(c->type[i], type);
    assert_int_equal(c->len[i], len);
    assert_memory_equal(c->data[i], buf, len ? len : 0);
}

static long s_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

// Writes a journal with n records made by s_make; returns the record offsets in off[].
static void s_build(const char *path, int n, uint64_t *off) {
    xt_err err = {0};
    unlink(path);
    xt_journal *j = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_non_null(j);
    for (int i = 0; i < n; i++) {
        unsigned char buf[512];
        uint8_t type;
        uint32_t len = s_make(i, buf, &type);
        if (off) off[i] = xt_journal_bytes(j);
        assert_int_equal(xt_journal_append(j, type, buf, len, &err), 0);
    }
    xt_journal_destroy(&j);
    assert_null(j);
}

static void s_write_bytes(const char *path, const void *data, size_t len) {
    xt_err err = {0};
    assert_int_equal(xt_file_write_atomic(path, data, len, &err), 0);
}

// Runs open() with stderr redirected into a file; returns what was logged (caller frees).
static char *s_open_capture(const char *path, uint32_t max, collect *c, xt_journal_info *info, xt_journal **out,
                            xt_err *err) {
    char logpath[600];
    snprintf(logpath, sizeof logpath, "%s.log", path);
    int saved = dup(2);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    *out = xt_journal_open(path, max, s_collect, c, info, err);
    dup2(saved, 2);
    close(saved);
    char *text = NULL;
    size_t len = 0;
    xt_err e2 = {0};
    assert_int_equal(xt_file_read_all(logpath, 1 << 20, &text, &len, &e2), 0);
    unlink(logpath);
    return text;
}

// ---------------------------------------------------------------- round trip

static void t_roundtrip(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err err = {0};
    uint64_t off[2000];
    s_build(path, 2000, off);

    // Header record first, then the records back to back at the offsets append saw.
    assert_int_equal(off[0], HEADER_RECORD);
    for (int i = 1; i < 2000; i++) {
        unsigned char buf[512];
        uint8_t type;
        assert_int_equal(off[i], off[i - 1] + 9 + s_make(i - 1, buf, &type));
    }

    static collect c;
    xt_journal_info info;
    xt_journal *j = xt_journal_open(path, 0, s_collect, &c, &info, &err);
    assert_non_null(j);
    assert_int_equal(c.n, 2000);
    assert_int_equal(info.records, 2000);
    assert_int_equal(info.truncated, 0);
    assert_string_equal(info.warning, "");
    assert_int_equal(info.valid_bytes, (uint64_t)s_file_size(path));
    for (int i = 0; i < 2000; i++) {
        s_check_record(&c, i, i);
        assert_int_equal(c.off[i], off[i]);
    }
    assert_int_equal(xt_journal_records(j), 2000);
    // Appending after a replay continues the same sequence.
    assert_int_equal(xt_journal_append(j, 200, "tail", 4, &err), 0);
    assert_int_equal(xt_journal_append(j, 201, NULL, 0, &err), 0);
    assert_int_equal(xt_journal_bytes(j), (uint64_t)s_file_size(path));
    xt_journal_destroy(&j);
    xt_journal_destroy(&j); // NULL is fine

    s_collect_free(&c);
    j = xt_journal_open(path, 0, s_collect, &c, &info, &err);
    assert_non_null(j);
    assert_int_equal(c.n, 2002);
    assert_int_equal(c.type[2000], 200);
    assert_memory_equal(c.data[2000], "tail", 4);
    assert_int_equal(c.type[2001], 201);
    assert_int_equal(c.len[2001], 0);
    s_check_record(&c, 1999, 1999);
    xt_journal_destroy(&j);
    s_collect_free(&c);
    s_rmtree(dir);
}

// ---------------------------------------------------------------- torn tail

static void t_torn_last_record(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal-torn");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err err = {0};
    // Record 4 (the last) is 9 + (4 * 37) % 301 = 157 bytes long.
    uint64_t off[5];
    s_build(path, 5, off);
    char *pristine = NULL;
    size_t total = 0;
    assert_int_equal(xt_file_read_all(path, 1 << 20, &pristine, &total, &err), 0);
    uint64_t last = off[4];
    assert_int_equal(total, last + 9 + 148);

    static collect c;
    for (uint64_t cut = last; cut < total; cut++) {
        s_write_bytes(path, pristine, (size_t)cut);
        xt_journal_info info;
        xt_journal *j = NULL;
        char *log = s_open_capture(path, 0, &c, &info, &j, &err);
        assert_non_null(j);
        // The four earlier records replay intact, nothing after them.
        assert_int_equal(c.n, 4);
        for (int i = 0; i < 4; i++) s_check_record(&c, i, i);
        if (cut == last) {
            assert_int_equal(info.truncated, 0); // ends exactly on a record boundary
            assert_string_equal(log, "");
        } else {
            assert_int_equal(info.truncated, 1);
            assert_int_equal(info.bad_offset, last);
            assert_contains(info.reason, "torn");
            assert_string_equal(info.saved_path, ""); // a crash artefact is simply cut
            char want[64];
            snprintf(want, sizeof want, "at offset %llu is torn", (unsigned long long)last);
            assert_contains(info.warning, want);
            assert_contains(log, want);
            assert_contains(log, "WARN");
        }
        assert_int_equal(s_file_size(path), (long)last);
        free(log);
        // Appending continues right after record 3, and the result replays.
        assert_int_equal(xt_journal_append(j, 9, "next", 4, &err), 0);
        xt_journal_destroy(&j);
        s_collect_free(&c);
        j = xt_journal_open(path, 0, s_collect, &c, &info, &err);
        assert_non_null(j);
        assert_int_equal(info.truncated, 0);
        assert_int_equal(c.n, 5);
        assert_int_equal(c.type[4], 9);
        assert_int_equal(c.off[4], last);
        assert_memory_equal(c.data[4], "next", 4);
        xt_journal_destroy(&j);
        s_collect_free(&c);
    }

    // A crash while the file was being created leaves a prefix of the header
    // record: the journal starts over, empty.
    for (size_t cut = 1; cut < HEADER_RECORD; cut++) {
        s_write_bytes(path, pristine, cut);
        xt_journal_info info;
        xt_journal *j = xt_journal_open(path, 0, s_collect, &c, &info, &err);
        assert_non_null(j);
        assert_int_equal(c.n, 0);
        assert_int_equal(info.truncated, 1);
        assert_int_equal(info.bad_offset, 0);
        assert_int_equal(xt_journal_bytes(j), HEADER_RECORD);
        assert_int_equal(s_file_size(path), HEADER_RECORD);
        xt_journal_destroy(&j);
    }
    free(pristine);
    s_rmtree(dir);
}

// ---------------------------------------------------------------- corrupt middle

static void t_corrupt_middle(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal-crc");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err err = {0};
    uint64_t off[10];
    s_build(path, 10, off);
    char *bytes = NULL;
    size_t total = 0;
    assert_int_equal(xt_file_read_all(path, 1 << 20, &bytes, &total, &err), 0);
    // Flip one payload bit of record 5 (185 bytes of payload).
    bytes[off[5] + 9 + 100] ^= 0x10;
    s_write_bytes(path, bytes, total);

    static collect c;
    xt_journal_info info;
    xt_journal *j = NULL;
    char *log = s_open_capture(path, 0, &c, &info, &j, &err);
    assert_non_null(j);
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++) s_check_record(&c, i, i);
    assert_int_equal(info.truncated, 1);
    assert_int_equal(info.bad_offset, off[5]);
    assert_string_equal(info.reason, "corrupt (crc mismatch)");
    char want[1600];
    snprintf(want, sizeof want,
             "%s: journal record at offset %llu is corrupt (crc mismatch); truncated %llu bytes there, "
             "5 good records kept; the cut bytes were saved to %s.corrupt-%llu",
             path, (unsigned long long)off[5], (unsigned long long)(total - off[5]), path,
             (unsigned long long)off[5]);
    assert_string_equal(info.warning, want);
    assert_contains(log, want);
    free(log);

    // The cut bytes (record 5 onward, flipped bit included) are kept for an operator.
    char *saved = NULL;
    size_t saved_len = 0;
    assert_int_equal(xt_file_read_all(info.saved_path, 1 << 20, &saved, &saved_len, &err), 0);
    assert_int_equal(saved_len, total - off[5]);
    assert_memory_equal(saved, bytes + off[5], saved_len);
    free(saved);
    free(bytes);

    assert_int_equal(s_file_size(path), (long)off[5]);
    assert_int_equal(xt_journal_append(j, 3, "after", 5, &err), 0);
    xt_journal_destroy(&j);
    s_collect_free(&c);
    j = xt_journal_open(path, 0, s_collect, &c, &info, &err);
    assert_non_null(j);
    assert_int_equal(c.n, 6);
    assert_memory_equal(c.data[5], "after", 5);
    xt_journal_destroy(&j);
    s_collect_free(&c);

    // A flipped bit in a length field is caught too: the crc covers it.
    s_build(path, 3, off);
    assert_int_equal(xt_file_read_all(path, 1 << 20, &bytes, &total, &err), 0);
    bytes[off[1]] ^= 0x01; // length 37 -> 36: the record is shorter but its crc no longer matches
    s_write_bytes(path, bytes, total);
    free(bytes);
    j = xt_journal_open(path, 0, s_collect, &c, &info, &err);
    assert_non_null(j);
    assert_int_equal(c.n, 1);
    assert_int_equal(info.bad_offset, off[1]);
    assert_string_equal(info.reason, "corrupt (crc mismatch)");
    xt_journal_destroy(&j);
    s_collect_free(&c);
    s_rmtree(dir);
}

// ---------------------------------------------------------------- limits and refusals

static void t_limits(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal-limit");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err err = {0};
    static unsigned char big[2048];
    memset(big, 0xab, sizeof big);

    xt_journal *j = xt_journal_open(path, 1024, NULL, NULL, NULL, &err);
    assert_non_null(j);
    assert_int_equal(xt_journal_append(j, 1, big, 1025, &err), XT_ERANGE);
    char want[700];
    snprintf(want, sizeof want,
             "%s: record of 1025 bytes exceeds the journal limit of 1024 bytes; store large data in its "
             "own file and journal its path",
             path);
    assert_string_equal(err.msg, want);
    assert_int_equal(xt_journal_records(j), 0); // nothing was written
    assert_int_equal(s_file_size(path), HEADER_RECORD);
    assert_int_equal(xt_journal_append(j, 0, "x", 1, &err), XT_EINVAL);
    snprintf(want, sizeof want, "%s: record type 0 is reserved for the journal header", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(xt_journal_append(j, 1, "small", 5, &err), 0);
    assert_int_equal(xt_journal_append(j, 2, big, 1024, &err), 0); // exactly the limit is fine
    assert_int_equal(xt_journal_append(j, 3, "end", 3, &err), 0);
    xt_journal_destroy(&j);

    // Reopened with a smaller limit, the 1024-byte record reads as corrupt:
    // replay keeps what precedes it (the limit must never shrink between runs).
    static collect c;
    xt_journal_info info;
    assert_int_equal(xt_journal_scan(path, 512, s_collect, &c, &info, &err), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(info.truncated, 1);
    assert_int_equal(info.bad_offset, HEADER_RECORD + 9 + 5);
    assert_string_equal(info.reason, "corrupt (length 1024 exceeds the limit of 512 bytes)");
    s_collect_free(&c);
    s_rmtree(dir);
}

static void t_not_a_journal(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal-foreign");
    xt_test_write(path, dir, "config.yaml", "run_id: demo\nsymbols: BTCUSDT\n");
    xt_err err = {0};
    xt_journal *j = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_null(j);
    assert_int_equal(err.code, XT_EPARSE);
    char want[700];
    snprintf(want, sizeof want,
             "%s: not an xtrade journal (the first 17 bytes are not the XTJOURN1 header record); the file "
             "was left untouched",
             path);
    assert_string_equal(err.msg, want);
    assert_int_equal(s_file_size(path), 30);
    // A short foreign file is not mistaken for a torn header either.
    xt_test_write(path, dir, "short", "XTJ0");
    assert_null(xt_journal_open(path, 0, NULL, NULL, NULL, &err));
    assert_int_equal(err.code, XT_EPARSE);
    assert_int_equal(s_file_size(path), 4);
    // An empty file becomes a journal.
    xt_test_write(path, dir, "empty", "");
    j = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_non_null(j);
    assert_int_equal(s_file_size(path), HEADER_RECORD);
    xt_journal_destroy(&j);
    s_rmtree(dir);
}

static void t_lock(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal-lock");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err err = {0};
    xt_journal *a = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_non_null(a);
    xt_journal *b = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_null(b);
    assert_int_equal(err.code, XT_ESTATE);
    char want[700];
    snprintf(want, sizeof want,
             "%s: the journal is locked by another process (is another broker running this run?)", path);
    assert_string_equal(err.msg, want);
    xt_journal_destroy(&a);
    b = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_non_null(b);
    xt_journal_destroy(&b);
    s_rmtree(dir);
}

static void t_callback_error_and_scan(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "journal-cb");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err err = {0};
    uint64_t off[6];
    s_build(path, 6, off);
    long size = s_file_size(path);

    // A callback error fails the open, names the record, and leaves the file alone.
    static collect c;
    c.fail_at = 3;
    assert_null(xt_journal_open(path, 0, s_collect, &c, NULL, &err));
    assert_int_equal(err.code, XT_EPARSE);
    char want[700];
    snprintf(want, sizeof want, "%s: record 3 at offset %llu: unknown record kind %u", path,
             (unsigned long long)off[2], 1 + 2 % 7);
    assert_string_equal(err.msg, want);
    assert_int_equal(s_file_size(path), size);
    c.fail_at = 0;
    s_collect_free(&c);

    // Scan reports a torn tail but never modifies the file (nor needs the lock).
    assert_int_equal(truncate(path, (off_t)off[5] + 4), 0);
    xt_journal *holder = xt_journal_open(path, 0, NULL, NULL, NULL, &err);
    assert_non_null(holder); // a live broker holds the lock (and has cut the torn record)...
    assert_int_equal(s_file_size(path), (long)off[5]);
    assert_int_equal(truncate(path, (off_t)off[5] + 4), 0); // ...which we tear again behind its back
    xt_journal_info info;
    assert_int_equal(xt_journal_scan(path, 0, s_collect, &c, &info, &err), 0);
    assert_int_equal(c.n, 5);
    assert_int_equal(info.truncated, 1);
    assert_int_equal(info.bad_offset, off[5]);
    assert_string_equal(info.reason, "torn (the file ends inside its 9-byte header)");
    assert_int_equal(s_file_size(path), (long)off[5] + 4);
    s_collect_free(&c);
    xt_journal_destroy(&holder);
    assert_int_equal(xt_journal_scan("/nonexistent/broker.journal", 0, NULL, NULL, NULL, &err), XT_EIO);
    assert_contains(err.msg, "/nonexistent/broker.journal: cannot open the journal");
    s_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_roundtrip),
        cmocka_unit_test(t_torn_last_record),
        cmocka_unit_test(t_corrupt_middle),
        cmocka_unit_test(t_limits),
        cmocka_unit_test(t_not_a_journal),
        cmocka_unit_test(t_lock),
        cmocka_unit_test(t_callback_error_and_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
