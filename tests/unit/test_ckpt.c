// test_ckpt.c - the .xtck container: round trip, the documented layout,
// lookups and their error sentences, writer refusals, and every corruption
// (truncation, flipped bytes, magic, versions, flags, overrunning and
// inconsistent sections, duplicate names, missing sections). Patched files
// get a recomputed crc so the check behind the crc is the one exercised.
#include "testutil.h"

#include "core/crc32.h"
#include "core/fileio.h"
#include "nn/ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P_N 1000

static float s_params[P_N];
static const char s_config[] = "learner:\n  lr: 3e-4\n  batch: 64 # odd";

// ---- helpers

// Writes the sample checkpoint: odd sizes so every padding path runs.
static void s_write_sample(const char *path) {
    for (int i = 0; i < P_N; i++) s_params[i] = (float)i * 0.25f - 3;
    static const int64_t counters[3] = {1234567890123LL, -5, 7};
    static const double norm[5] = {0.5, 1.5, -2.5, 1e300, -0.0};
    static const uint64_t rng[4] = {1, 2, 3, UINT64_MAX};
    xt_err err = {0};
    xt_ckpt_writer *w = xt_ckpt_writer_new(8, &err);
    assert_non_null(w);
    assert_int_equal(xt_ckpt_writer_add(w, "params", XT_CKPT_DTYPE_F32, s_params, P_N, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "counters", XT_CKPT_DTYPE_I64, counters, 3, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "normalizer", XT_CKPT_DTYPE_F64, norm, 5, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "empty", XT_CKPT_DTYPE_F32, NULL, 0, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "config", XT_CKPT_DTYPE_U8, s_config,
                                        strlen(s_config), &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "rng", XT_CKPT_DTYPE_U64, rng, 4, &err), 0);
    assert_int_equal(xt_ckpt_writer_write(w, path, &err), 0);
    xt_ckpt_writer_destroy(&w);
    assert_null(w);
    xt_ckpt_writer_destroy(&w); // NULL is fine
}

static char *s_slurp(const char *path, size_t *len) {
    char *buf;
    xt_err err = {0};
    if (xt_file_read_all(path, 1 << 26, &buf, len, &err) != 0) fail_msg("%s", err.msg);
    return buf;
}

static uint64_t s_u64(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void s_put64(char *p, uint64_t v) {
    memcpy(p, &v, 8);
}

// Recomputes the trailer crc after a patch.
static void s_fix_crc(char *buf, size_t len) {
    uint32_t c = xt_crc32(0, buf, len - 64);
    memcpy(buf + len - 64, &c, 4);
}

// Byte offset of section i's header, walking the documented layout.
static size_t s_section_off(const char *buf, int i) {
    size_t off = 64;
    for (int k = 0; k < i; k++) {
        uint64_t nb = s_u64(buf + off + 80);
        off += 128 + nb + (64 - nb % 64) % 64;
    }
    return off;
}

// Opens a patched buffer and expects failure with `needle` in the error.
static void s_expect_bad(const char *buf, size_t len, const char *needle) {
    xt_ckpt *c = (xt_ckpt *)0x1;
    xt_err err = {0};
    int rc = xt_ckpt_open_mem(&c, buf, len, "mem.xtck", &err);
    assert_int_not_equal(rc, 0);
    assert_null(c);
    assert_contains(err.msg, needle);
}

// ---- round trip

static void t_round_trip(void **state) {
    char dir[256], path[512];
    xt_test_tmpdir(dir, "ckpt");
    snprintf(path, sizeof path, "%s/ckpt-1.xtck", dir);
    s_write_sample(path);
    xt_err err = {0};
    xt_ckpt *c = NULL;
    assert_int_equal(xt_ckpt_open(&c, path, &err), 0);
    assert_int_equal(xt_ckpt_version(c), XT_CKPT_VERSION);
    assert_int_equal(xt_ckpt_n_sections(c), 6);
    // file order and metadata
    const char *names[6] = {"params", "counters", "normalizer", "empty", "config", "rng"};
    for (int i = 0; i < 6; i++) {
        xt_ckpt_section s;
        xt_ckpt_section_at(c, i, &s);
        assert_string_equal(s.name, names[i]);
        assert_int_equal((uintptr_t)s.data % 64, 0); // payloads are 64-byte aligned in the map
    }
    const void *p;
    assert_int_equal(xt_ckpt_get(c, "params", XT_CKPT_DTYPE_F32, P_N, &p, &err), 0);
    assert_memory_equal(p, s_params, sizeof s_params);
    assert_int_equal(xt_ckpt_get(c, "counters", XT_CKPT_DTYPE_I64, 3, &p, &err), 0);
    assert_true(((const int64_t *)p)[0] == 1234567890123LL && ((const int64_t *)p)[1] == -5);
    assert_int_equal(xt_ckpt_get(c, "normalizer", XT_CKPT_DTYPE_F64, 5, &p, &err), 0);
    assert_true(((const double *)p)[3] == 1e300);
    assert_int_equal(xt_ckpt_get(c, "rng", XT_CKPT_DTYPE_U64, 4, &p, &err), 0);
    assert_true(((const uint64_t *)p)[3] == UINT64_MAX);
    assert_int_equal(xt_ckpt_get(c, "empty", XT_CKPT_DTYPE_F32, 0, &p, &err), 0);
    uint64_t n;
    assert_int_equal(xt_ckpt_get_var(c, "config", XT_CKPT_DTYPE_U8, &p, &n, &err), 0);
    assert_int_equal(n, strlen(s_config));
    assert_memory_equal(p, s_config, n);
    xt_ckpt_section s;
    assert_int_equal(xt_ckpt_find(c, "nope", &s), XT_ENOTFOUND);
    assert_int_equal(xt_ckpt_find(c, "rng", &s), 0);
    assert_int_equal(s.dtype, XT_CKPT_DTYPE_U64);
    xt_ckpt_destroy(&c);
    assert_null(c);
    xt_ckpt_destroy(&c);
    // the layout is exactly as documented: size = header + sections + trailer
    size_t len;
    char *buf = s_slurp(path, &len);
    size_t want = 64 + (128 + 4000 + 32) + (128 + 24 + 40) + (128 + 40 + 24) + 128 +
                  (128 + 37 + 27) + (128 + 32 + 32) + 64;
    assert_int_equal(len, want);
    assert_memory_equal(buf, "XTCK", 4);
    assert_int_equal(s_u64(buf + 16), len);
    assert_memory_equal(buf + len - 60, "KCTX", 4);
    free(buf);
}

static void t_lookup_errors(void **state) {
    char dir[256], sub[512], path[640];
    xt_test_tmpdir(dir, "ckpt");
    snprintf(sub, sizeof sub, "%s/runs/x/fold-1", dir);
    xt_err err = {0};
    assert_int_equal(xt_file_mkdirs(sub, &err), 0);
    snprintf(path, sizeof path, "%s/ckpt-100.xtck", sub);
    s_write_sample(path);
    xt_ckpt *c = NULL;
    assert_int_equal(xt_ckpt_open(&c, path, &err), 0);
    const void *p = NULL;
    uint64_t n;
    assert_int_equal(xt_ckpt_get(c, "params", XT_CKPT_DTYPE_F32, 123456, &p, &err), XT_EPARSE);
    assert_contains(err.msg,
                    "runs/x/fold-1/ckpt-100.xtck: section \"params\": expected 123456 float32, "
                    "found 1000");
    assert_true(err.msg[strlen(err.msg) - 1] == '0'); // same dtype: not repeated
    assert_null(p);
    assert_int_equal(xt_ckpt_get(c, "params", XT_CKPT_DTYPE_F64, 1000, &p, &err), XT_EPARSE);
    assert_contains(err.msg, "section \"params\": expected 1000 float64, found 1000 float32");
    assert_int_equal(xt_ckpt_get(c, "adam_m", XT_CKPT_DTYPE_F32, 1000, &p, &err), XT_ENOTFOUND);
    assert_contains(err.msg, "ckpt-100.xtck: section \"adam_m\" is missing");
    assert_int_equal(xt_ckpt_get_var(c, "config", XT_CKPT_DTYPE_I32, &p, &n, &err), XT_EPARSE);
    assert_contains(err.msg, "section \"config\": expected int32, found 37 uint8");
    assert_int_equal(xt_ckpt_get_var(c, "cfg", XT_CKPT_DTYPE_U8, &p, &n, &err), XT_ENOTFOUND);
    xt_ckpt_destroy(&c);
    // a file that does not exist
    snprintf(path, sizeof path, "%s/none.xtck", dir);
    assert_int_equal(xt_ckpt_open(&c, path, &err), XT_EIO);
    assert_contains(err.msg, "none.xtck");
}

static void t_writer_refusals(void **state) {
    xt_err err = {0};
    assert_null(xt_ckpt_writer_new(0, &err));
    assert_contains(err.msg, "max_sections must be");
    xt_ckpt_writer *w = xt_ckpt_writer_new(2, &err);
    float x[2] = {1, 2};
    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = 0;
    assert_int_equal(xt_ckpt_writer_add(w, "", XT_CKPT_DTYPE_F32, x, 2, &err), XT_EINVAL);
    assert_int_equal(xt_ckpt_writer_add(w, long_name, XT_CKPT_DTYPE_F32, x, 2, &err), XT_EINVAL);
    assert_contains(err.msg, "must be 1..63 printable characters");
    assert_int_equal(xt_ckpt_writer_add(w, "has space", XT_CKPT_DTYPE_F32, x, 2, &err), XT_EINVAL);
    assert_int_equal(xt_ckpt_writer_add(w, "x", 99, x, 2, &err), XT_EINVAL);
    assert_string_equal(err.msg, "checkpoint section \"x\": unknown dtype 99");
    assert_int_equal(xt_ckpt_writer_add(w, "x", XT_CKPT_DTYPE_F32, NULL, 2, &err), XT_EINVAL);
    assert_int_equal(xt_ckpt_writer_add(w, "x", XT_CKPT_DTYPE_F64, x, UINT64_MAX / 4, &err),
                     XT_ERANGE);
    long_name[63] = 0; // 63 characters: the longest allowed
    assert_int_equal(xt_ckpt_writer_add(w, long_name, XT_CKPT_DTYPE_F32, x, 2, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, long_name, XT_CKPT_DTYPE_F32, x, 1, &err), XT_EINVAL);
    assert_contains(err.msg, "added twice");
    assert_int_equal(xt_ckpt_writer_add(w, "b", XT_CKPT_DTYPE_U8, x, 1, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "c", XT_CKPT_DTYPE_U8, x, 1, &err), XT_ERANGE);
    assert_contains(err.msg, "writer is full (2 sections)");
    // a directory that does not exist: the atomic write reports the path
    assert_int_not_equal(xt_ckpt_writer_write(w, "/nonexistent-dir/ckpt.xtck", &err), 0);
    assert_contains(err.msg, "/nonexistent-dir/ckpt.xtck");
    xt_ckpt_writer_destroy(&w);
}

// ---- corruption

static char *s_sample_buf(size_t *len) {
    char dir[256], path[512];
    xt_test_tmpdir(dir, "ckpt");
    snprintf(path, sizeof path, "%s/c.xtck", dir);
    s_write_sample(path);
    return s_slurp(path, len);
}

static void t_truncated(void **state) {
    size_t len;
    char *buf = s_sample_buf(&len);
    s_expect_bad(buf, len - 1, "mem.xtck: truncated: header says");
    s_expect_bad(buf, len - 64, "truncated");
    s_expect_bad(buf, 200, "truncated");
    s_expect_bad(buf, 100, "mem.xtck: truncated: 100 bytes, a checkpoint has at least 128");
    s_expect_bad(buf, 0, "truncated");
    // a truncated file on disk
    char dir[256], path[512];
    xt_test_tmpdir(dir, "ckpt");
    snprintf(path, sizeof path, "%s/short.xtck", dir);
    xt_err err = {0};
    assert_int_equal(xt_file_write_atomic(path, buf, len / 2, &err), 0);
    xt_ckpt *c;
    assert_int_equal(xt_ckpt_open(&c, path, &err), XT_EPARSE);
    assert_contains(err.msg, "short.xtck: truncated");
    free(buf);
}

static void t_flipped_byte(void **state) {
    size_t len;
    char *buf = s_sample_buf(&len);
    buf[64 + 128 + 17] ^= 0x20; // inside the params payload
    s_expect_bad(buf, len, "mem.xtck: crc mismatch (stored 0x");
    free(buf);
}

static void t_header_fields(void **state) {
    size_t len;
    char *buf = s_sample_buf(&len);
    char *bad = malloc(len);
    // wrong magic
    memcpy(bad, buf, len);
    memcpy(bad, "XTCX", 4);
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "not an xtrade checkpoint");
    // future and zero versions
    memcpy(bad, buf, len);
    bad[4] = 2;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "checkpoint format version 2 is not supported (this build reads 1..1)");
    bad[4] = 0;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "version 0 is not supported");
    // unknown flags
    memcpy(bad, buf, len);
    bad[8] = 4;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "unknown header flags 0x4");
    // section count larger than the file can hold, and one too many / too few
    memcpy(bad, buf, len);
    bad[12] = (char)0xff, bad[13] = (char)0xff; // n_sections (u32 at byte 12) = 65535
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "header claims 65535 sections");
    memcpy(bad, buf, len);
    bad[12] = 5;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "unexpected bytes after the last section");
    bad[12] = 7;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "section 6 header overruns the file");
    // damaged trailer magic and padding (the trailer is outside the crc)
    memcpy(bad, buf, len);
    bad[len - 60] = 'X';
    s_expect_bad(bad, len, "damaged trailer");
    memcpy(bad, buf, len);
    bad[len - 1] = 1;
    s_expect_bad(bad, len, "damaged trailer");
    free(bad);
    free(buf);
}

static void t_sections(void **state) {
    size_t len;
    char *buf = s_sample_buf(&len);
    char *bad = malloc(len);
    size_t last = s_section_off(buf, 5); // "rng"
    assert_memory_equal(buf + last, "rng", 4);
    // last section overrunning the file: count and bytes consistent but too big
    memcpy(bad, buf, len);
    s_put64(bad + last + 72, 4 + 100);
    s_put64(bad + last + 80, 8 * (4 + 100));
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "section \"rng\" (832 bytes at byte");
    s_expect_bad(bad, len, "overruns the file");
    // a huge count whose byte size overflows
    memcpy(bad, buf, len);
    s_put64(bad + last + 72, UINT64_MAX / 2);
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "section \"rng\": 32 bytes do not hold");
    // bytes inconsistent with count
    memcpy(bad, buf, len);
    s_put64(bad + last + 72, 3);
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "32 bytes do not hold 3 uint64");
    // unknown dtype
    memcpy(bad, buf, len);
    bad[last + 64] = 42;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "section \"rng\": unknown dtype 42");
    // invalid name: unterminated, and empty
    memcpy(bad, buf, len);
    memset(bad + last, 'n', 64);
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "section 5 at byte");
    memcpy(bad, buf, len);
    bad[last] = 0;
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "has an invalid name");
    // duplicate names: rename "rng" to "params"
    memcpy(bad, buf, len);
    memcpy(bad + last, "params", 7);
    s_fix_crc(bad, len);
    s_expect_bad(bad, len, "mem.xtck: duplicate section \"params\"");
    // a good buffer through open_mem works, and finds everything
    xt_ckpt *c = NULL;
    xt_err err = {0};
    assert_int_equal(xt_ckpt_open_mem(&c, buf, len, "mem.xtck", &err), 0);
    assert_int_equal(xt_ckpt_n_sections(c), 6);
    xt_ckpt_destroy(&c);
    free(bad);
    free(buf);
}

static void t_every_byte_and_length(void **state) {
    // a small checkpoint: every single-byte flip and every truncation is refused
    char dir[256], path[512];
    xt_test_tmpdir(dir, "ckpt");
    snprintf(path, sizeof path, "%s/small.xtck", dir);
    xt_err err = {0};
    xt_ckpt_writer *w = xt_ckpt_writer_new(2, &err);
    float x[5] = {1, 2, 3, 4, 5};
    assert_int_equal(xt_ckpt_writer_add(w, "a", XT_CKPT_DTYPE_F32, x, 5, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "b", XT_CKPT_DTYPE_U8, "hi", 2, &err), 0);
    assert_int_equal(xt_ckpt_writer_write(w, path, &err), 0);
    xt_ckpt_writer_destroy(&w);
    size_t len;
    char *buf = s_slurp(path, &len);
    assert_int_equal(len, 64 + 128 + 64 + 128 + 64 + 64);
    xt_ckpt *c = NULL;
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x01;
        if (xt_ckpt_open_mem(&c, buf, len, "f", &err) == 0) fail_msg("flip at byte %zu accepted", i);
        buf[i] ^= 0x01;
    }
    for (size_t n = 0; n < len; n++)
        if (xt_ckpt_open_mem(&c, buf, n, "f", &err) == 0) fail_msg("length %zu accepted", n);
    assert_int_equal(xt_ckpt_open_mem(&c, buf, len, "f", &err), 0);
    xt_ckpt_destroy(&c);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_round_trip),
        cmocka_unit_test(t_lookup_errors),
        cmocka_unit_test(t_writer_refusals),
        cmocka_unit_test(t_truncated),
        cmocka_unit_test(t_flipped_byte),
        cmocka_unit_test(t_header_fields),
        cmocka_unit_test(t_sections),
        cmocka_unit_test(t_every_byte_and_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
