// fileio.c - atomic file writes, whole-file reads, mkdir -p, read-only mmap.
// Stateless; callers own every buffer and descriptor they pass in.
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

// ---------------------------------------------------------------- atomic write

static int s_write_full(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_fsync_dir(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    const char *dir = dirname(tmp);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int xt_file_writev_atomic(const char *path, const xt_iovec *iov, int n, xt_err *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return xt_err_set(err, XT_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return xt_err_set(err, XT_EIO, "%s: create temp file %s: %s", path, tmp, strerror(errno));
    const char *step = NULL;
    for (int i = 0; i < n && !step; i++)
        if (s_write_full(fd, iov[i].ptr, iov[i].len) != 0) step = "write";
    if (!step && fsync(fd) != 0) step = "fsync";
    int saved = errno;
    if (close(fd) != 0 && !step) step = "close", saved = errno;
    if (!step && rename(tmp, path) != 0) step = "rename", saved = errno;
    if (step) {
        unlink(tmp);
        return xt_err_set(err, XT_EIO, "%s: %s failed: %s", path, step, strerror(saved));
    }
    if (s_fsync_dir(path) != 0)
        return xt_err_set(err, XT_EIO, "%s: fsync of directory failed: %s", path, strerror(errno));
    return 0;
}

int xt_file_write_atomic(const char *path, const void *data, size_t len, xt_err *err) {
    xt_iovec v = {data, len};
    return xt_file_writev_atomic(path, &v, 1, err);
}

int xt_file_append_sync(int fd, const void *data, size_t len, const char *path, xt_err *err) {
    if (s_write_full(fd, data, len) != 0)
        return xt_err_set(err, XT_EIO, "%s: append failed: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        return xt_err_set(err, XT_EIO, "%s: fsync failed: %s", path, strerror(errno));
    return 0;
}

// ---------------------------------------------------------------- reads

int xt_file_read_all(const char *path, size_t max_len, char **out, size_t *len, xt_err *err) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return xt_err_set(err, XT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return xt_err_set(err, XT_EIO, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max_len) {
        close(fd);
        return xt_err_set(err, XT_ERANGE, "%s: file is %lld bytes, limit is %zu", path,
                          (long long)st.st_size, max_len);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %lld bytes", path,
                          (long long)st.st_size);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int xt_file_mkdirs(const char *dir, xt_err *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return xt_err_set(err, XT_EINVAL, "%s: path too long", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return xt_err_set(err, XT_EIO, "%s: mkdir %s: %s", dir, tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return xt_err_set(err, XT_EIO, "%s: mkdir: %s", dir, strerror(errno));
    return 0;
}

int xt_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// ---------------------------------------------------------------- mmap

int xt_mmap_open(xt_mmap *m, const char *path, xt_err *err) {
    m->addr = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return xt_err_set(err, XT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return xt_err_set(err, XT_EIO, "%s: not a non-empty regular file", path);
    }
    void *a = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (a == MAP_FAILED) return xt_err_set(err, XT_EIO, "%s: mmap: %s", path, strerror(errno));
    m->addr = a;
    m->len = (size_t)st.st_size;
    return 0;
}

void xt_mmap_close(xt_mmap *m) {
    if (m->addr) munmap(m->addr, m->len);
    m->addr = NULL;
    m->len = 0;
}
