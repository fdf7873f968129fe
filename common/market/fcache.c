// fcache.c - writer and validating reader of .xtfc feature caches.
// The writer gathers header + sections into an iovec list and hands it to
// the atomic-write helper; the reader maps the file and derives every section
// offset from the header, checking each against the file size first.
#include "fcache.h"

#include "../core/crc32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAGIC 0x43465458u // "XTFC"
#define S_HEADER 256

typedef struct {
    uint32_t magic, version, kind, k;
    uint64_t n;
    uint32_t n_feat, tf_sec;
    int64_t first_row;
    uint64_t source_hash;
    int32_t fold, norm_kind;
    int64_t train_start, train_end;
} s_header;

typedef struct {
    int32_t cls, sessions, open_min, close_min;
} s_cal;

static size_t s_pad(size_t x) { return (x + 63) & ~(size_t)63; }

// Section sizes in file order, computed from the header alone.
static void s_sizes(const s_header *h, size_t sz[10]) {
    size_t k = h->k, n = h->n, f = h->n_feat;
    sz[0] = k * XT_SYMBOL_MAX;
    sz[1] = k * sizeof(s_cal);
    sz[2] = k * sizeof(double);
    sz[3] = f * XT_FEAT_NAME_MAX;
    sz[4] = f * sizeof(double);
    sz[5] = f * sizeof(double);
    sz[6] = f;
    sz[7] = n * sizeof(int64_t);
    sz[8] = k * 6 * n * sizeof(double);
    sz[9] = k * n; // stale; feat follows
}

static size_t s_total(const s_header *h, size_t sz[10]) {
    s_sizes(h, sz);
    size_t t = S_HEADER;
    for (int i = 0; i < 10; i++) t += s_pad(sz[i]);
    return t + s_pad(h->n * h->n_feat * sizeof(float)) + 8; // + crc trailer (padded to 8)
}

// ---------------------------------------------------------------- write

int xt_fcache_write(const char *path, const xt_fcache *c, xt_err *err) {
    if (c->k < 1 || c->k > XT_FEAT_MAX_ASSETS || c->n_feat < 1 || c->n < 1)
        return xt_err_set(err, XT_EINVAL, "%s: invalid cache shape k=%d n=%lld n_feat=%d", path, c->k, (long long)c->n,
                          c->n_feat);
    s_header h = {S_MAGIC, XT_FCACHE_VERSION, (uint32_t)c->kind, (uint32_t)c->k, (uint64_t)c->n,
                  (uint32_t)c->n_feat, (uint32_t)c->tf_sec, c->first_row, c->source_hash, c->fold, c->norm_kind,
                  c->train_start, c->train_end};
    size_t sz[10];
    s_total(&h, sz);
    size_t k = (size_t)c->k, n = (size_t)c->n;
    // Small sections are packed into one buffer; big arrays go straight from the caller's memory.
    size_t small = S_HEADER;
    for (int i = 0; i < 7; i++) small += s_pad(sz[i]);
    char *buf = calloc(1, small + s_pad(sz[9]) + 64 + 8);
    if (!buf) return xt_err_set(err, XT_ENOMEM, "%s: out of memory", path);
    memcpy(buf, &h, sizeof h);
    char *p = buf + S_HEADER;
    for (size_t a = 0; a < k; a++) memcpy(p + a * XT_SYMBOL_MAX, c->symbol[a], XT_SYMBOL_MAX);
    p += s_pad(sz[0]);
    for (size_t a = 0; a < k; a++) {
        s_cal sc = {c->cal[a].cls, c->cal[a].sessions, c->cal[a].equity_open_min, c->cal[a].equity_close_min};
        memcpy(p + a * sizeof sc, &sc, sizeof sc);
    }
    p += s_pad(sz[1]);
    memcpy(p, c->vol_baseline, sz[2]), p += s_pad(sz[2]);
    memcpy(p, c->names, sz[3]), p += s_pad(sz[3]);
    memcpy(p, c->center, sz[4]), p += s_pad(sz[4]);
    memcpy(p, c->scale, sz[5]), p += s_pad(sz[5]);
    memcpy(p, c->scaled, sz[6]), p += s_pad(sz[6]);
    char *stale = p; // stale flags packed too
    for (size_t a = 0; a < k; a++) memcpy(stale + a * n, c->stale[a], n);
    static const char zeros[64];
    xt_iovec iov[8 + 6 * XT_FEAT_MAX_ASSETS];
    int ni = 0;
    iov[ni++] = (xt_iovec){buf, small};
    iov[ni++] = (xt_iovec){c->ts, sz[7]};
    iov[ni++] = (xt_iovec){zeros, s_pad(sz[7]) - sz[7]};
    for (size_t a = 0; a < k; a++) {
        const double *cols[6] = {c->open[a], c->high[a], c->low[a], c->close[a], c->volume[a], c->atr[a]};
        for (int j = 0; j < 6; j++) iov[ni++] = (xt_iovec){cols[j], n * sizeof(double)};
    }
    iov[ni++] = (xt_iovec){zeros, s_pad(sz[8]) - sz[8]};
    iov[ni++] = (xt_iovec){stale, s_pad(sz[9])};
    size_t fb = n * (size_t)c->n_feat * sizeof(float);
    iov[ni++] = (xt_iovec){c->feat, fb};
    iov[ni++] = (xt_iovec){zeros, s_pad(fb) - fb};
    uint32_t crc = 0;
    for (int i = 0; i < ni; i++) crc = xt_crc32(crc, iov[i].ptr, iov[i].len);
    uint64_t trailer = crc;
    iov[ni++] = (xt_iovec){&trailer, 8};
    int rc = xt_file_writev_atomic(path, iov, ni, err);
    free(buf);
    return rc;
}

// ---------------------------------------------------------------- read

static int s_check_header(const s_header *h, size_t file_len, const char *path, xt_err *err) {
    if (h->magic != S_MAGIC) return xt_err_set(err, XT_EPARSE, "%s: not a feature cache (bad magic)", path);
    if (h->version != XT_FCACHE_VERSION)
        return xt_err_set(err, XT_EPARSE, "%s: cache format version %u, this build reads %d; rebuild with xtrade data build",
                          path, h->version, XT_FCACHE_VERSION);
    if (h->k < 1 || h->k > XT_FEAT_MAX_ASSETS || h->n_feat < 1 || h->n_feat > 4096 || h->n < 1 || h->n > (1ull << 32) ||
        h->kind > 1)
        return xt_err_set(err, XT_EPARSE, "%s: header has an impossible shape (k=%u n=%llu n_feat=%u)", path, h->k,
                          (unsigned long long)h->n, h->n_feat);
    size_t sz[10];
    size_t want = s_total(h, sz);
    if (want != file_len)
        return xt_err_set(err, XT_EPARSE, "%s: file is %zu bytes but its header describes %zu (truncated or corrupt)",
                          path, file_len, want);
    if (h->first_row < 0 || (uint64_t)h->first_row > h->n)
        return xt_err_set(err, XT_EPARSE, "%s: first_row %lld outside the %llu rows", path, (long long)h->first_row,
                          (unsigned long long)h->n);
    return 0;
}

static void s_fill(xt_fcache *c, const s_header *h, const char *base) {
    size_t sz[10];
    s_sizes(h, sz);
    c->kind = (int)h->kind, c->k = (int)h->k, c->n = (int64_t)h->n, c->n_feat = (int)h->n_feat;
    c->tf_sec = (int)h->tf_sec, c->first_row = h->first_row, c->source_hash = h->source_hash;
    c->fold = h->fold, c->norm_kind = h->norm_kind, c->train_start = h->train_start, c->train_end = h->train_end;
    const char *p = base + S_HEADER;
    for (int a = 0; a < c->k; a++) {
        memcpy(c->symbol[a], p + a * XT_SYMBOL_MAX, XT_SYMBOL_MAX);
        c->symbol[a][XT_SYMBOL_MAX - 1] = '\0';
    }
    p += s_pad(sz[0]);
    for (int a = 0; a < c->k; a++) {
        s_cal sc;
        memcpy(&sc, p + a * sizeof sc, sizeof sc);
        c->cal[a].cls = (sc.cls >= 0 && sc.cls < XT_ASSET_COUNT) ? (xt_asset_class)sc.cls : XT_ASSET_EQUITY;
        c->cal[a].sessions = sc.sessions, c->cal[a].equity_open_min = sc.open_min;
        c->cal[a].equity_close_min = sc.close_min;
    }
    p += s_pad(sz[1]);
    memcpy(c->vol_baseline, p, sz[2]), p += s_pad(sz[2]);
    c->names = (const char(*)[XT_FEAT_NAME_MAX])p, p += s_pad(sz[3]);
    c->center = (const double *)p, p += s_pad(sz[4]);
    c->scale = (const double *)p, p += s_pad(sz[5]);
    c->scaled = (const uint8_t *)p, p += s_pad(sz[6]);
    c->ts = (const int64_t *)p, p += s_pad(sz[7]);
    size_t n = (size_t)c->n;
    for (int a = 0; a < c->k; a++) {
        const double *d = (const double *)p + (size_t)a * 6 * n;
        c->open[a] = d, c->high[a] = d + n, c->low[a] = d + 2 * n, c->close[a] = d + 3 * n;
        c->volume[a] = d + 4 * n, c->atr[a] = d + 5 * n;
    }
    p += s_pad(sz[8]);
    for (int a = 0; a < c->k; a++) c->stale[a] = (const uint8_t *)p + (size_t)a * n;
    p += s_pad(sz[9]);
    c->feat = (const float *)p;
}

int xt_fcache_open(xt_fcache *c, const char *path, xt_err *err) {
    memset(c, 0, sizeof *c);
    int rc = xt_mmap_open(&c->map, path, err);
    if (rc) return rc;
    if (c->map.len < S_HEADER + 8) {
        xt_mmap_close(&c->map);
        return xt_err_set(err, XT_EPARSE, "%s: %zu bytes is too short for a feature cache", path, c->map.len);
    }
    s_header h;
    memcpy(&h, c->map.addr, sizeof h);
    rc = s_check_header(&h, c->map.len, path, err);
    if (!rc) {
        uint64_t stored;
        memcpy(&stored, (const char *)c->map.addr + c->map.len - 8, 8);
        uint32_t crc = xt_crc32(0, c->map.addr, c->map.len - 8);
        if (stored != crc)
            rc = xt_err_set(err, XT_EPARSE, "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                            path, (unsigned)stored, crc);
    }
    if (rc) {
        xt_mmap_close(&c->map);
        return rc;
    }
    xt_mmap m = c->map;
    s_fill(c, &h, m.addr);
    c->map = m;
    return 0;
}

int xt_fcache_peek(xt_fcache *c, const char *path, xt_err *err) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return xt_err_set(err, XT_EIO, "%s: cannot open", path);
    s_header h;
    size_t got = fread(&h, 1, sizeof h, f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    if (got != sizeof h) return xt_err_set(err, XT_EPARSE, "%s: too short for a feature cache", path);
    int rc = s_check_header(&h, (size_t)len, path, err);
    if (rc) return rc;
    c->kind = (int)h.kind, c->k = (int)h.k, c->n = (int64_t)h.n, c->n_feat = (int)h.n_feat;
    c->tf_sec = (int)h.tf_sec, c->first_row = h.first_row, c->source_hash = h.source_hash;
    c->fold = h.fold, c->norm_kind = h.norm_kind, c->train_start = h.train_start, c->train_end = h.train_end;
    return 0;
}

void xt_fcache_close(xt_fcache *c) {
    xt_mmap_close(&c->map);
    memset(c, 0, sizeof *c);
}
