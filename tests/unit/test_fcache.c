// test_fcache.c - feature cache round trip and every corruption case.
#include "testutil.h"

#include "core/fileio.h"
#include "market/fcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 37
#define F 5

static int64_t ts[N];
static double px[6][N];
static uint8_t stale[N];
static float feat[N * F];
static char names[F][XT_FEAT_NAME_MAX];
static double center[F], scale[F];
static uint8_t scaled[F];

static void s_fill(xt_fcache *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N; i++) {
        ts[i] = 1700000000 + i * 900;
        for (int j = 0; j < 6; j++) px[j][i] = 100 + i + j * 0.25;
        stale[i] = (uint8_t)(i % 5 == 0);
        for (int f = 0; f < F; f++) feat[i * F + f] = (float)(i * 10 + f) * 0.5f;
    }
    for (int f = 0; f < F; f++) {
        snprintf(names[f], XT_FEAT_NAME_MAX, "feat_%d", f);
        center[f] = f, scale[f] = 1 + f, scaled[f] = (uint8_t)(f & 1);
    }
    c->kind = XT_FCACHE_ASSET, c->k = 1, c->n = N, c->n_feat = F, c->tf_sec = 900, c->fold = 2, c->first_row = 3;
    c->source_hash = 0x1122334455667788ull, c->train_start = ts[0], c->train_end = ts[20];
    snprintf(c->symbol[0], XT_SYMBOL_MAX, "BTCUSD");
    xt_calendar_for_symbol(&c->cal[0], "BTCUSD");
    c->vol_baseline[0] = 0.0123;
    c->names = (const char(*)[XT_FEAT_NAME_MAX])names;
    c->center = center, c->scale = scale, c->scaled = scaled, c->ts = ts, c->feat = feat;
    c->open[0] = px[0], c->high[0] = px[1], c->low[0] = px[2], c->close[0] = px[3], c->volume[0] = px[4];
    c->atr[0] = px[5], c->stale[0] = stale;
}

static char s_dir[256], s_path[512];

static void t_round_trip(void **s) {
    xt_fcache w, r;
    xt_err e = {0};
    s_fill(&w);
    xt_test_tmpdir(s_dir, "fcache");
    snprintf(s_path, sizeof s_path, "%s/BTCUSD-15m-f2.xtfc", s_dir);
    if (xt_fcache_write(s_path, &w, &e)) fail_msg("%s", e.msg);
    if (xt_fcache_open(&r, s_path, &e)) fail_msg("%s", e.msg);
    assert_int_equal(r.n, N);
    assert_int_equal(r.n_feat, F);
    assert_int_equal(r.fold, 2);
    assert_int_equal(r.first_row, 3);
    assert_true(r.source_hash == w.source_hash);
    assert_string_equal(r.symbol[0], "BTCUSD");
    assert_int_equal(r.cal[0].cls, XT_ASSET_CRYPTO);
    assert_true(r.vol_baseline[0] == 0.0123);
    assert_string_equal(r.names[4], "feat_4");
    assert_memory_equal(r.ts, ts, sizeof ts);
    assert_memory_equal(r.feat, feat, sizeof feat);
    assert_memory_equal(r.close[0], px[3], sizeof px[3]);
    assert_memory_equal(r.atr[0], px[5], sizeof px[5]);
    assert_memory_equal(r.stale[0], stale, sizeof stale);
    assert_true(r.scale[3] == 4.0 && r.scaled[3] == 1);
    xt_fcache p;
    assert_int_equal(xt_fcache_peek(&p, s_path, &e), 0);
    assert_true(p.source_hash == w.source_hash);
    xt_fcache_close(&r);
}

// Copies the good file with a modification and expects open to fail with msg.
static void s_corrupt(const char *msg, long off, int byte, long truncate_to) {
    char *data;
    size_t len;
    xt_err e = {0};
    if (xt_file_read_all(s_path, 1 << 24, &data, &len, &e)) fail_msg("%s", e.msg);
    if (off >= 0) data[off] = (char)byte;
    if (truncate_to >= 0) len = (size_t)truncate_to;
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.xtfc", s_dir);
    assert_int_equal(xt_file_write_atomic(bad, data, len, &e), 0);
    free(data);
    xt_fcache c;
    assert_int_not_equal(xt_fcache_open(&c, bad, &e), 0);
    assert_contains(e.msg, msg);
}

static void t_corruption(void **s) {
    s_corrupt("not a feature cache (bad magic)", 0, 'Y', -1);
    s_corrupt("cache format version 9, this build reads 1", 4, 9, -1);
    s_corrupt("truncated or corrupt", -1, 0, 1000);
    s_corrupt("too short for a feature cache", -1, 0, 100);
    s_corrupt("checksum mismatch", 1000, 0x5a, -1);
    s_corrupt("impossible shape", 12, 0x7f, -1);
}

int main(void) {
    const struct CMUnitTest t[] = {cmocka_unit_test(t_round_trip), cmocka_unit_test(t_corruption)};
    return cmocka_run_group_tests(t, NULL, NULL);
}
