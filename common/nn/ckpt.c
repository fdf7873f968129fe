// ckpt.c - the .xtck checkpoint container (layout in ckpt.h).
//
// Purpose: store named, typed arrays durably and read them back without
// trusting a byte of the file.
// Invariants: a reader hands out no pointer until the whole file passed
// validation (magic, version, flags, sizes, trailer, crc, every section's
// header and bounds, unique names); every payload offset is a multiple of 64.
// Ownership: the writer borrows the callers' section data until write
// returns; the reader owns its mapping (xt_ckpt_open) or borrows the
// caller's buffer (xt_ckpt_open_mem). Each object is used by one thread.
#include "ckpt.h"

#include "core/crc32.h"
#include "core/fileio.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Payload arrays are written as the host lays them out; the file format is
// little-endian, so a big-endian build would need byte swapping here.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ckpt.c assumes a little-endian host"
#endif

#define S_ALIGN 64
#define S_HEADER 64
#define S_SECTION 128
#define S_TRAILER 64
#define S_NAME_FIELD 64

static const char s_magic[4] = {'X', 'T', 'C', 'K'};
static const char s_end_magic[4] = {'K', 'C', 'T', 'X'};
static const uint8_t s_zeros[S_ALIGN]; // padding source (read-only)

// ---- dtypes

const char *xt_ckpt_dtype_name(int dtype) {
    switch (dtype) {
    case XT_CKPT_DTYPE_F32: return "float32";
    case XT_CKPT_DTYPE_F64: return "float64";
    case XT_CKPT_DTYPE_I32: return "int32";
    case XT_CKPT_DTYPE_I64: return "int64";
    case XT_CKPT_DTYPE_U8: return "uint8";
    case XT_CKPT_DTYPE_U32: return "uint32";
    case XT_CKPT_DTYPE_U64: return "uint64";
    default: return "?";
    }
}

size_t xt_ckpt_dtype_size(int dtype) {
    switch (dtype) {
    case XT_CKPT_DTYPE_U8: return 1;
    case XT_CKPT_DTYPE_F32:
    case XT_CKPT_DTYPE_I32:
    case XT_CKPT_DTYPE_U32: return 4;
    case XT_CKPT_DTYPE_F64:
    case XT_CKPT_DTYPE_I64:
    case XT_CKPT_DTYPE_U64: return 8;
    default: return 0;
    }
}

// ---- little-endian fields and small helpers

static void s_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t s_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t s_pad64(uint64_t n) {
    return (S_ALIGN - n % S_ALIGN) % S_ALIGN;
}

// count * size without overflow; 0 on success.
static int s_nbytes(uint64_t count, size_t size, uint64_t *out) {
    if (size == 0 || count > (UINT64_MAX - S_ALIGN) / size) return -1;
    *out = count * size;
    return 0;
}

// Names: 1..63 printable ASCII characters without spaces or quotes.
static int s_name_ok(const char *name, size_t len) {
    if (len < 1 || len > XT_CKPT_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] <= ' ' || name[i] > '~' || name[i] == '"') return 0;
    return 1;
}

// ---- writer

typedef struct {
    char name[S_NAME_FIELD];
    int dtype;
    uint64_t count;
    uint64_t nbytes;
    const void *data;
} s_wsection;

struct xt_ckpt_writer {
    int max, n;
    s_wsection *secs;
};

xt_ckpt_writer *xt_ckpt_writer_new(int max_sections, xt_err *err) {
    if (max_sections < 1 || max_sections > 1 << 20) {
        xt_err_set(err, XT_EINVAL, "checkpoint writer: max_sections must be 1..%d (got %d)",
                   1 << 20, max_sections);
        return NULL;
    }
    xt_ckpt_writer *w = calloc(1, sizeof *w);
    if (w) w->secs = calloc((size_t)max_sections, sizeof *w->secs);
    if (!w || !w->secs) {
        free(w);
        xt_err_set(err, XT_ENOMEM, "checkpoint writer: cannot allocate %d sections", max_sections);
        return NULL;
    }
    w->max = max_sections;
    return w;
}

void xt_ckpt_writer_destroy(xt_ckpt_writer **self_p) {
    if (!self_p || !*self_p) return;
    free((*self_p)->secs);
    free(*self_p);
    *self_p = NULL;
}

int xt_ckpt_writer_add(xt_ckpt_writer *self, const char *name, int dtype, const void *data,
                       uint64_t count, xt_err *err) {
    size_t len = strnlen(name, S_NAME_FIELD);
    if (!s_name_ok(name, len))
        return xt_err_set(err, XT_EINVAL,
                          "checkpoint section name \"%.*s\": must be 1..%d printable characters "
                          "without spaces or quotes",
                          (int)len, name, XT_CKPT_NAME_MAX);
    if (xt_ckpt_dtype_size(dtype) == 0)
        return xt_err_set(err, XT_EINVAL, "checkpoint section \"%s\": unknown dtype %d", name,
                          dtype);
    uint64_t nbytes;
    if (s_nbytes(count, xt_ckpt_dtype_size(dtype), &nbytes) != 0 || nbytes > SIZE_MAX / 2)
        return xt_err_set(err, XT_ERANGE, "checkpoint section \"%s\": %llu elements is too large",
                          name, (unsigned long long)count);
    if (count > 0 && !data)
        return xt_err_set(err, XT_EINVAL, "checkpoint section \"%s\": NULL data for %llu elements",
                          name, (unsigned long long)count);
    for (int i = 0; i < self->n; i++)
        if (strcmp(self->secs[i].name, name) == 0)
            return xt_err_set(err, XT_EINVAL, "checkpoint section \"%s\" added twice", name);
    if (self->n == self->max)
        return xt_err_set(err, XT_ERANGE, "checkpoint section \"%s\": writer is full (%d sections)",
                          name, self->max);
    s_wsection *s = &self->secs[self->n++];
    memset(s->name, 0, sizeof s->name);
    memcpy(s->name, name, len);
    s->dtype = dtype;
    s->count = count;
    s->nbytes = nbytes;
    s->data = data;
    return 0;
}

int xt_ckpt_writer_write(xt_ckpt_writer *self, const char *path, xt_err *err) {
    int n = self->n;
    // pieces: header, then per section (header, payload, padding), then trailer
    int n_iov = 2 + 3 * n;
    xt_iovec *iov = calloc((size_t)n_iov, sizeof *iov);
    uint8_t *heads = calloc((size_t)n + 2, S_SECTION); // section headers + file header + trailer
    if (!iov || !heads) {
        free(iov);
        free(heads);
        return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate the checkpoint index", path);
    }
    uint8_t *fh = heads + (size_t)n * S_SECTION, *tr = fh + S_SECTION;
    uint64_t size = S_HEADER;
    int k = 1;
    for (int i = 0; i < n; i++) {
        const s_wsection *s = &self->secs[i];
        uint8_t *sh = heads + (size_t)i * S_SECTION;
        memcpy(sh, s->name, S_NAME_FIELD);
        s_put_u32(sh + 64, (uint32_t)s->dtype);
        s_put_u64(sh + 72, s->count);
        s_put_u64(sh + 80, s->nbytes);
        iov[k++] = (xt_iovec){sh, S_SECTION};
        iov[k++] = (xt_iovec){s->data, (size_t)s->nbytes};
        iov[k++] = (xt_iovec){s_zeros, (size_t)s_pad64(s->nbytes)};
        size += S_SECTION + s->nbytes + s_pad64(s->nbytes);
    }
    size += S_TRAILER;
    // file header: magic, version, flags, n_sections, file_size
    memcpy(fh, s_magic, 4);
    s_put_u32(fh + 4, XT_CKPT_VERSION);
    s_put_u32(fh + 8, 0);
    s_put_u32(fh + 12, (uint32_t)n);
    s_put_u64(fh + 16, size);
    iov[0] = (xt_iovec){fh, S_HEADER};
    // trailer: crc32 of every byte before it, end magic, file_size again
    uint32_t crc = 0;
    for (int i = 0; i < k; i++) crc = xt_crc32(crc, iov[i].ptr, iov[i].len);
    s_put_u32(tr, crc);
    memcpy(tr + 4, s_end_magic, 4);
    s_put_u64(tr + 8, size);
    iov[k++] = (xt_iovec){tr, S_TRAILER};
    int rc = xt_file_writev_atomic(path, iov, k, err);
    free(iov);
    free(heads);
    return rc;
}

// ---- reader

struct xt_ckpt {
    xt_mmap map; // owned mapping (xt_ckpt_open) or {NULL, 0}
    const uint8_t *base;
    size_t len;
    uint32_t version;
    int n;
    xt_ckpt_section *secs;
    char *label; // path or caller label, for errors
};

static int s_cmp_section(const void *a, const void *b) {
    return strcmp(((const xt_ckpt_section *)a)->name, ((const xt_ckpt_section *)b)->name);
}

// Validates the whole buffer and fills c->secs; the error names c->label.
static int s_validate(xt_ckpt *c, xt_err *err) {
    const uint8_t *b = c->base;
    const char *lab = c->label;
    size_t len = c->len;
    if (len < S_HEADER + S_TRAILER)
        return xt_err_set(err, XT_EPARSE,
                          "%s: truncated: %zu bytes, a checkpoint has at least %d", lab, len,
                          S_HEADER + S_TRAILER);
    if (memcmp(b, s_magic, 4) != 0)
        return xt_err_set(err, XT_EPARSE,
                          "%s: not an xtrade checkpoint (magic %02x %02x %02x %02x, expected "
                          "\"XTCK\")",
                          lab, b[0], b[1], b[2], b[3]);
    c->version = s_get_u32(b + 4);
    if (c->version == 0 || c->version > XT_CKPT_VERSION)
        return xt_err_set(err, XT_EPARSE,
                          "%s: checkpoint format version %u is not supported (this build reads "
                          "1..%d); use a newer xtrade",
                          lab, c->version, XT_CKPT_VERSION);
    uint32_t flags = s_get_u32(b + 8);
    if (flags != 0)
        return xt_err_set(err, XT_EPARSE, "%s: unknown header flags 0x%x", lab, flags);
    uint64_t size = s_get_u64(b + 16);
    if (size != len)
        return xt_err_set(err, XT_EPARSE,
                          "%s: %s: header says %llu bytes, the file has %zu", lab,
                          size > len ? "truncated" : "wrong size", (unsigned long long)size, len);
    // trailer, then the crc of everything before it
    const uint8_t *tr = b + len - S_TRAILER;
    // the trailer lies outside the crc, so all of it is checked, padding included
    if (memcmp(tr + 4, s_end_magic, 4) != 0 || s_get_u64(tr + 8) != len ||
        memcmp(tr + 16, s_zeros, S_TRAILER - 16) != 0)
        return xt_err_set(err, XT_EPARSE, "%s: damaged trailer", lab);
    uint32_t stored = s_get_u32(tr), computed = xt_crc32(0, b, len - S_TRAILER);
    if (stored != computed)
        return xt_err_set(err, XT_EPARSE,
                          "%s: crc mismatch (stored 0x%08x, computed 0x%08x): the file is corrupt",
                          lab, stored, computed);
    // sections: the count is bounded by the bytes available before any allocation
    uint32_t n = s_get_u32(b + 12);
    size_t end = len - S_TRAILER;
    if ((uint64_t)n > (end - S_HEADER) / S_SECTION)
        return xt_err_set(err, XT_EPARSE, "%s: header claims %u sections, the file has room for %zu",
                          lab, n, (end - S_HEADER) / S_SECTION);
    c->secs = calloc(n ? n : 1, sizeof *c->secs);
    if (!c->secs) return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %u sections", lab, n);
    size_t off = S_HEADER;
    for (uint32_t i = 0; i < n; i++) {
        if (end - off < S_SECTION)
            return xt_err_set(err, XT_EPARSE, "%s: section %u header overruns the file", lab, i);
        const uint8_t *sh = b + off;
        const char *name = (const char *)sh;
        size_t nl = strnlen(name, S_NAME_FIELD);
        if (nl == S_NAME_FIELD || !s_name_ok(name, nl))
            return xt_err_set(err, XT_EPARSE, "%s: section %u at byte %zu has an invalid name", lab,
                              i, off);
        int dtype = (int)s_get_u32(sh + 64);
        uint64_t count = s_get_u64(sh + 72), nbytes = s_get_u64(sh + 80), want;
        if (xt_ckpt_dtype_size(dtype) == 0)
            return xt_err_set(err, XT_EPARSE, "%s: section \"%s\": unknown dtype %d", lab, name,
                              dtype);
        if (s_nbytes(count, xt_ckpt_dtype_size(dtype), &want) != 0 || want != nbytes)
            return xt_err_set(err, XT_EPARSE,
                              "%s: section \"%s\": %llu bytes do not hold %llu %s", lab, name,
                              (unsigned long long)nbytes, (unsigned long long)count,
                              xt_ckpt_dtype_name(dtype));
        off += S_SECTION;
        if (nbytes > end - off || s_pad64(nbytes) > end - off - nbytes)
            return xt_err_set(err, XT_EPARSE,
                              "%s: section \"%s\" (%llu bytes at byte %zu) overruns the file "
                              "(%zu bytes of sections)",
                              lab, name, (unsigned long long)nbytes, off, end);
        c->secs[i] = (xt_ckpt_section){name, dtype, count, b + off};
        off += (size_t)(nbytes + s_pad64(nbytes));
    }
    if (off != end)
        return xt_err_set(err, XT_EPARSE, "%s: %zu unexpected bytes after the last section", lab,
                          end - off);
    c->n = (int)n;
    // duplicate names: sort a copy, compare neighbours
    if (n > 1) {
        xt_ckpt_section *tmp = malloc(n * sizeof *tmp);
        if (!tmp) return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %u sections", lab, n);
        memcpy(tmp, c->secs, n * sizeof *tmp);
        qsort(tmp, n, sizeof *tmp, s_cmp_section);
        for (uint32_t i = 1; i < n; i++) {
            if (strcmp(tmp[i - 1].name, tmp[i].name) == 0) {
                xt_err_set(err, XT_EPARSE, "%s: duplicate section \"%s\"", lab, tmp[i].name);
                free(tmp);
                return XT_EPARSE;
            }
        }
        free(tmp);
    }
    return 0;
}

static int s_open(xt_ckpt **out, xt_ckpt *c, const char *label, xt_err *err) {
    c->label = strdup(label ? label : "(checkpoint)");
    int rc = c->label ? s_validate(c, err)
                      : xt_err_set(err, XT_ENOMEM, "%s: out of memory", label ? label : "");
    if (rc != 0) {
        xt_ckpt_destroy(&c);
        return rc;
    }
    *out = c;
    return 0;
}

int xt_ckpt_open(xt_ckpt **out, const char *path, xt_err *err) {
    *out = NULL;
    xt_ckpt *c = calloc(1, sizeof *c);
    if (!c) return xt_err_set(err, XT_ENOMEM, "%s: out of memory", path);
    int rc = xt_mmap_open(&c->map, path, err);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->base = c->map.addr;
    c->len = c->map.len;
    return s_open(out, c, path, err);
}

int xt_ckpt_open_mem(xt_ckpt **out, const void *buf, size_t len, const char *label, xt_err *err) {
    *out = NULL;
    xt_ckpt *c = calloc(1, sizeof *c);
    if (!c) return xt_err_set(err, XT_ENOMEM, "%s: out of memory", label ? label : "");
    c->base = buf;
    c->len = buf ? len : 0;
    return s_open(out, c, label, err);
}

void xt_ckpt_destroy(xt_ckpt **self_p) {
    if (!self_p || !*self_p) return;
    xt_ckpt *c = *self_p;
    xt_mmap_close(&c->map);
    free(c->secs);
    free(c->label);
    free(c);
    *self_p = NULL;
}

uint32_t xt_ckpt_version(const xt_ckpt *self) {
    return self->version;
}

int xt_ckpt_n_sections(const xt_ckpt *self) {
    return self->n;
}

void xt_ckpt_section_at(const xt_ckpt *self, int i, xt_ckpt_section *out) {
    assert(i >= 0 && i < self->n);
    *out = self->secs[i];
}

// ---- lookups

int xt_ckpt_find(const xt_ckpt *self, const char *name, xt_ckpt_section *out) {
    for (int i = 0; i < self->n; i++) {
        if (strcmp(self->secs[i].name, name) == 0) {
            if (out) *out = self->secs[i];
            return 0;
        }
    }
    return XT_ENOTFOUND;
}

int xt_ckpt_get_var(const xt_ckpt *self, const char *name, int dtype, const void **data,
                    uint64_t *count, xt_err *err) {
    xt_ckpt_section s;
    if (xt_ckpt_find(self, name, &s) != 0)
        return xt_err_set(err, XT_ENOTFOUND, "%s: section \"%s\" is missing", self->label, name);
    if (s.dtype != dtype)
        return xt_err_set(err, XT_EPARSE, "%s: section \"%s\": expected %s, found %llu %s",
                          self->label, name, xt_ckpt_dtype_name(dtype),
                          (unsigned long long)s.count, xt_ckpt_dtype_name(s.dtype));
    *data = s.data;
    *count = s.count;
    return 0;
}

int xt_ckpt_get(const xt_ckpt *self, const char *name, int dtype, uint64_t count,
                const void **data, xt_err *err) {
    xt_ckpt_section s;
    if (xt_ckpt_find(self, name, &s) != 0)
        return xt_err_set(err, XT_ENOTFOUND, "%s: section \"%s\" is missing", self->label, name);
    if (s.dtype != dtype || s.count != count) {
        // the found dtype is named only when it differs
        return xt_err_set(err, XT_EPARSE, "%s: section \"%s\": expected %llu %s, found %llu%s%s",
                          self->label, name, (unsigned long long)count,
                          xt_ckpt_dtype_name(dtype), (unsigned long long)s.count,
                          s.dtype != dtype ? " " : "",
                          s.dtype != dtype ? xt_ckpt_dtype_name(s.dtype) : "");
    }
    *data = s.data;
    return 0;
}
