// fileio.h - durable writes, whole-file reads and read-only mappings.
//
// Every durable write in xtrade goes through xt_file_write_atomic: temp file
// in the same directory, write, fflush, fsync, close, rename, fsync the
// directory. On failure the step, path and strerror are in err and the temp
// file is removed, so a reader sees either the old file or the new one.
#ifndef XT_FILEIO_H
#define XT_FILEIO_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const void *ptr; // data to write
    size_t len;
} xt_iovec;

int xt_file_write_atomic(const char *path, const void *data, size_t len, xt_err *err);
// Gathers n pieces into one atomic write (header + payload without a copy).
int xt_file_writev_atomic(const char *path, const xt_iovec *iov, int n, xt_err *err);

// Reads a whole file; *out is malloc'd (caller owns, NUL-terminated), *len its size.
// Files larger than max_len are refused.
int xt_file_read_all(const char *path, size_t max_len, char **out, size_t *len, xt_err *err);

// Creates dir and its parents (mkdir -p). Existing dirs are fine.
int xt_file_mkdirs(const char *dir, xt_err *err);

// Appends one record to a journal file and fsyncs it (fd stays owned by caller).
int xt_file_append_sync(int fd, const void *data, size_t len, const char *path, xt_err *err);

typedef struct {
    void *addr;
    size_t len;
} xt_mmap;

// Maps a file read-only (MAP_SHARED so pages are shared between processes).
int xt_mmap_open(xt_mmap *m, const char *path, xt_err *err);
void xt_mmap_close(xt_mmap *m);

int xt_file_exists(const char *path);

#endif
