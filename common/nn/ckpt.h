// ckpt.h - the .xtck checkpoint container: a versioned binary file of named,
// typed sections, crc32-protected, written atomically and read by mmap.
//
// Layout (all integers little-endian; every offset a multiple of 64):
//   header   64 B   "XTCK", u32 version (1), u32 flags (0), u32 n_sections,
//                   u64 file_size, zero padding
//   section  128 B  char name[64] (1..63 printable ASCII, NUL padded),
//                   u32 dtype, u32 0, u64 count, u64 nbytes (= count * size),
//                   zero padding;
//            then the payload, zero-padded to the next multiple of 64
//   ... n_sections times ...
//   trailer  64 B   u32 crc32 of every byte before the trailer, "KCTX", u64 file_size, zero padding
// Payloads are 64-byte aligned inside the file and so inside the mapping:
// a float32 section can be used in place.
//
// What goes in (params, Adam m/v, normalizer, RNG state, counters, config
// text) is the caller's choice; this module only stores and validates.
// The reader checks magic, version, flags, sizes, the crc and every section's
// bounds before it returns a single pointer. Writers and readers are plain
// objects owned by one thread.
#ifndef XT_CKPT_H
#define XT_CKPT_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define XT_CKPT_VERSION 1
#define XT_CKPT_NAME_MAX 63

typedef enum {
    XT_CKPT_DTYPE_F32 = 1,
    XT_CKPT_DTYPE_F64 = 2,
    XT_CKPT_DTYPE_I32 = 3,
    XT_CKPT_DTYPE_I64 = 4,
    XT_CKPT_DTYPE_U8 = 5, // bytes, text
    XT_CKPT_DTYPE_U32 = 6,
    XT_CKPT_DTYPE_U64 = 7,
} xt_ckpt_dtype;

// "float32", "int64", ... ("?" for an unknown code).
const char *xt_ckpt_dtype_name(int dtype);
// Bytes per element, 0 for an unknown code.
size_t xt_ckpt_dtype_size(int dtype);

// ---- writer

typedef struct xt_ckpt_writer xt_ckpt_writer;

// Room for max_sections sections. Caller owns the result (NULL + err on failure).
xt_ckpt_writer *xt_ckpt_writer_new(int max_sections, xt_err *err);
void xt_ckpt_writer_destroy(xt_ckpt_writer **self_p);

// Adds a section of count elements of dtype. data is NOT copied: it must stay
// valid until xt_ckpt_writer_write returns. Rejects bad names, duplicate
// names, unknown dtypes and a full writer.
int xt_ckpt_writer_add(xt_ckpt_writer *self, const char *name, int dtype, const void *data,
                       uint64_t count, xt_err *err);

// Writes every added section to path atomically (temp file, fsync, rename).
int xt_ckpt_writer_write(xt_ckpt_writer *self, const char *path, xt_err *err);

// ---- reader

typedef struct xt_ckpt xt_ckpt;

typedef struct {
    const char *name; // points into the checkpoint (valid while it is open)
    int dtype;
    uint64_t count;
    const void *data; // 64-byte aligned payload, count * xt_ckpt_dtype_size(dtype) bytes
} xt_ckpt_section;

// Maps path read-only and validates it completely. Caller owns *out.
// Errors name the path and what is wrong ("...: crc mismatch (stored 0x..., computed 0x...)").
int xt_ckpt_open(xt_ckpt **out, const char *path, xt_err *err);

// Same over a caller buffer (not copied; keep it alive while *out is open);
// label stands for the path in errors. Payloads are 64-byte aligned only if
// buf is (malloc gives 16): copy out with memcpy, or align the buffer.
int xt_ckpt_open_mem(xt_ckpt **out, const void *buf, size_t len, const char *label, xt_err *err);

void xt_ckpt_destroy(xt_ckpt **self_p);

uint32_t xt_ckpt_version(const xt_ckpt *self);
int xt_ckpt_n_sections(const xt_ckpt *self);
// i in [0, n_sections), in file order.
void xt_ckpt_section_at(const xt_ckpt *self, int i, xt_ckpt_section *out);

// Looks a section up by name; XT_ENOTFOUND without touching an err (optional sections).
int xt_ckpt_find(const xt_ckpt *self, const char *name, xt_ckpt_section *out);

// Required section of exactly count elements of dtype; *data points into the checkpoint.
// e.g. `runs/x/fold-1/ckpt-100.xtck: section "params": expected 123456 float32, found 1000`.
int xt_ckpt_get(const xt_ckpt *self, const char *name, int dtype, uint64_t count,
                const void **data, xt_err *err);

// Required section of dtype and any length (config text, variable tables).
int xt_ckpt_get_var(const xt_ckpt *self, const char *name, int dtype, const void **data,
                    uint64_t *count, xt_err *err);

#endif
