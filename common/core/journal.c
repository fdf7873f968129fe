// journal.c - append-only, fsync'd record log with crash-safe replay.
//
// Purpose: the broker's durable memory (DESIGN §6 Liveness, Files). Every
// state change it must not forget is one record, appended and fsync'd before
// the broker acts on it; a restarted broker replays the records in order.
// Invariants: bytes [0, size) of the file are the header record followed by
// complete records with valid crcs - open establishes it (by truncating a
// torn/corrupt tail) and append keeps it (by cutting a failed write back).
// Ownership: xt_journal owns its descriptor, its flock and its staging buffer;
// payloads passed to callbacks are borrowed for the call only.
// Threads: one xt_journal is used by one thread (the broker's loop); the flock
// keeps a second process from appending to the same file.
#include "journal.h"

#include "crc32.h"
#include "fileio.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC "XTJOURN1"
#define S_MAGIC_LEN 8
#define S_HEADER_RECORD (XT_JOURNAL_HEADER_BYTES + S_MAGIC_LEN)

struct xt_journal {
    int fd;
    int broken;          // an append failed and could not be cut back
    uint32_t max_record; // payload limit
    uint64_t size;       // file length = end of the last good record
    uint64_t records;    // header excluded
    unsigned char *buf;  // staging buffer for one record
    size_t cap;
    char path[XT_JOURNAL_PATH_MAX];
};

// ---------------------------------------------------------------- encoding

static void s_put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static uint32_t s_get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// crc over the 4 length bytes, the type byte and the payload.
static uint32_t s_crc(const unsigned char *len4, uint8_t type, const void *payload, uint32_t len) {
    uint32_t c = xt_crc32(0, len4, 4);
    c = xt_crc32(c, &type, 1);
    return len ? xt_crc32(c, payload, len) : c;
}

// Writes the 9 header bytes of a record into out.
static void s_encode(unsigned char *out, uint8_t type, const void *payload, uint32_t len) {
    s_put_u32(out, len);
    s_put_u32(out + 4, s_crc(out, type, payload, len));
    out[8] = type;
}

// The exact bytes of record 0.
static void s_header_record(unsigned char out[S_HEADER_RECORD]) {
    memcpy(out + XT_JOURNAL_HEADER_BYTES, S_MAGIC, S_MAGIC_LEN);
    s_encode(out, 0, S_MAGIC, S_MAGIC_LEN);
}

// ---------------------------------------------------------------- file helpers

// pread until n bytes or EOF; returns bytes read or -1.
static ssize_t s_pread_full(int fd, void *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int s_grow(unsigned char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    unsigned char *p = realloc(*buf, c);
    if (!p) return -1;
    *buf = p, *cap = c;
    return 0;
}

static int s_fsync_parent(const char *path) {
    char tmp[XT_JOURNAL_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

// Copies bytes [from, end) of fd to a new file dst and fsyncs it. Before a
// corrupt record and everything after it are cut, they are kept here.
static int s_save_tail(int fd, uint64_t from, uint64_t end, const char *dst, xt_err *err) {
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return xt_err_set(err, XT_EIO, "%s: cannot create: %s", dst, strerror(errno));
    char buf[65536];
    const char *step = NULL;
    for (uint64_t off = from; off < end && !step;) {
        size_t n = end - off < sizeof buf ? (size_t)(end - off) : sizeof buf;
        ssize_t r = s_pread_full(fd, buf, n, off);
        if (r <= 0) {
            step = "read";
            break;
        }
        for (ssize_t w = 0; w < r && !step;) {
            ssize_t k = write(out, buf + w, (size_t)(r - w));
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) step = "write";
            else w += k;
        }
        off += (uint64_t)r;
    }
    if (!step && fsync(out) != 0) step = "fsync";
    int saved = errno;
    close(out);
    if (step) {
        unlink(dst);
        return xt_err_set(err, XT_EIO, "%s: %s failed while saving the corrupt journal tail: %s", dst,
                          step, strerror(saved));
    }
    s_fsync_parent(dst);
    return 0;
}

// ---------------------------------------------------------------- replay

// Walks the records of fd (file_bytes long) and fills info. Stops at the first
// torn or corrupt record (info->truncated = 1); returns 0 then too. Fails only
// for a file that is not a journal, an I/O error or a callback error.
static int s_replay(int fd, const char *path, uint64_t file_bytes, uint32_t max_record,
                    xt_journal_fn fn, void *user, xt_journal_info *info, int *torn, xt_err *err) {
    memset(info, 0, sizeof *info);
    info->file_bytes = file_bytes;
    *torn = 0;
    if (file_bytes == 0) return 0;

    // Record 0: the exact header bytes, or a torn prefix of them (a crash
    // while the journal was being created). Anything else: not ours.
    unsigned char want[S_HEADER_RECORD], got[S_HEADER_RECORD];
    s_header_record(want);
    size_t n0 = file_bytes < S_HEADER_RECORD ? (size_t)file_bytes : S_HEADER_RECORD;
    if (s_pread_full(fd, got, n0, 0) != (ssize_t)n0)
        return xt_err_set(err, XT_EIO, "%s: read failed at offset 0: %s", path, strerror(errno));
    if (memcmp(got, want, n0) != 0)
        return xt_err_set(err, XT_EPARSE,
                          "%s: not an xtrade journal (the first %zu bytes are not the %s header "
                          "record); the file was left untouched",
                          path, n0, S_MAGIC);
    if (n0 < S_HEADER_RECORD) {
        info->truncated = 1, *torn = 1;
        snprintf(info->reason, sizeof info->reason, "a torn header record");
        return 0;
    }

    unsigned char *buf = NULL;
    size_t cap = 0;
    uint64_t off = S_HEADER_RECORD;
    int rc = 0;
    while (off < file_bytes) {
        unsigned char h[XT_JOURNAL_HEADER_BYTES];
        uint64_t left = file_bytes - off;
        if (left < XT_JOURNAL_HEADER_BYTES) {
            *torn = 1;
            snprintf(info->reason, sizeof info->reason, "torn (the file ends inside its 9-byte header)");
            break;
        }
        if (s_pread_full(fd, h, sizeof h, off) != (ssize_t)sizeof h) {
            rc = xt_err_set(err, XT_EIO, "%s: read failed at offset %llu: %s", path,
                            (unsigned long long)off, strerror(errno));
            break;
        }
        uint32_t len = s_get_u32(h), crc = s_get_u32(h + 4);
        uint8_t type = h[8];
        if (len > max_record) {
            snprintf(info->reason, sizeof info->reason, "corrupt (length %u exceeds the limit of %u bytes)",
                     len, max_record);
            break;
        }
        if ((uint64_t)len > left - XT_JOURNAL_HEADER_BYTES) {
            *torn = 1;
            snprintf(info->reason, sizeof info->reason, "torn (the file ends inside its %u-byte payload)", len);
            break;
        }
        if (s_grow(&buf, &cap, len ? len : 1) != 0) {
            rc = xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %u bytes for the record at offset %llu",
                            path, len, (unsigned long long)off);
            break;
        }
        if (s_pread_full(fd, buf, len, off + XT_JOURNAL_HEADER_BYTES) != (ssize_t)len) {
            rc = xt_err_set(err, XT_EIO, "%s: read failed at offset %llu: %s", path,
                            (unsigned long long)off, strerror(errno));
            break;
        }
        if (s_crc(h, type, buf, len) != crc) {
            snprintf(info->reason, sizeof info->reason, "corrupt (crc mismatch)");
            break;
        }
        if (type == 0) {
            snprintf(info->reason, sizeof info->reason, "corrupt (a second header record)");
            break;
        }
        if (fn && (rc = fn(user, type, buf, len, off, err)) < 0) {
            xt_err_prefix(err, "%s: record %llu at offset %llu", path,
                          (unsigned long long)info->records + 1, (unsigned long long)off);
            break;
        }
        rc = 0;
        off += XT_JOURNAL_HEADER_BYTES + (uint64_t)len;
        info->records++;
    }
    free(buf);
    info->valid_bytes = off;
    if (rc == 0 && off < file_bytes) info->truncated = 1, info->bad_offset = off;
    return rc;
}

// ---------------------------------------------------------------- open / append

xt_journal *xt_journal_open(const char *path, uint32_t max_record, xt_journal_fn fn, void *user,
                            xt_journal_info *info_out, xt_err *err) {
    xt_journal_info scratch, *info = info_out ? info_out : &scratch;
    memset(info, 0, sizeof *info);
    if (strlen(path) >= XT_JOURNAL_PATH_MAX) {
        xt_err_set(err, XT_EINVAL, "%s: journal path longer than %d bytes", path, XT_JOURNAL_PATH_MAX - 1);
        return NULL;
    }
    xt_journal *j = calloc(1, sizeof *j);
    if (!j) {
        xt_err_set(err, XT_ENOMEM, "%s: cannot allocate the journal", path);
        return NULL;
    }
    snprintf(j->path, sizeof j->path, "%s", path);
    j->max_record = max_record ? max_record : XT_JOURNAL_MAX_RECORD_DEFAULT;
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        xt_err_set(err, XT_EIO, "%s: cannot open the journal: %s", path, strerror(errno));
        free(j);
        return NULL;
    }
    // One appender per file: a second broker on the same run must not
    // interleave records with this one.
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            xt_err_set(err, XT_ESTATE,
                       "%s: the journal is locked by another process (is another broker running this run?)",
                       path);
        else
            xt_err_set(err, XT_EIO, "%s: cannot lock the journal: %s", path, strerror(e));
        xt_journal_destroy(&j);
        return NULL;
    }
    struct stat st;
    if (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        xt_err_set(err, XT_EIO, "%s: the journal is not a regular file", path);
        xt_journal_destroy(&j);
        return NULL;
    }
    int torn = 0;
    if (s_replay(j->fd, path, (uint64_t)st.st_size, j->max_record, fn, user, info, &torn, err) != 0) {
        xt_journal_destroy(&j);
        return NULL;
    }

    // Cut what cannot be replayed so the next append follows the last good
    // record. A complete record with a bad crc (or an absurd length) is media
    // damage rather than a crash, and records may follow it: keep a copy.
    if (info->truncated) {
        uint64_t cut = info->file_bytes - info->valid_bytes;
        if (!torn) {
            snprintf(info->saved_path, sizeof info->saved_path, "%s.corrupt-%llu", path,
                     (unsigned long long)info->bad_offset);
            if (s_save_tail(j->fd, info->bad_offset, info->file_bytes, info->saved_path, err) != 0) {
                xt_err_prefix(err, "%s: record at offset %llu is %s and its bytes could not be saved, "
                                   "so the journal was not truncated", path,
                              (unsigned long long)info->bad_offset, info->reason);
                xt_journal_destroy(&j);
                return NULL;
            }
        }
        if (ftruncate(j->fd, (off_t)info->valid_bytes) != 0 || fsync(j->fd) != 0) {
            xt_err_set(err, XT_EIO, "%s: cannot truncate the journal to %llu bytes: %s", path,
                       (unsigned long long)info->valid_bytes, strerror(errno));
            xt_journal_destroy(&j);
            return NULL;
        }
        int w = snprintf(info->warning, sizeof info->warning,
                         "%s: journal record at offset %llu is %s; truncated %llu bytes there, "
                         "%llu good records kept",
                         path, (unsigned long long)info->bad_offset, info->reason,
                         (unsigned long long)cut, (unsigned long long)info->records);
        if (!torn && w > 0 && (size_t)w < sizeof info->warning)
            snprintf(info->warning + w, sizeof info->warning - (size_t)w, "; the cut bytes were saved to %s",
                     info->saved_path);
        xt_warn("%s", info->warning);
    }
    j->size = info->valid_bytes;
    j->records = info->records;

    // A new (or torn-at-birth) journal gets its header, and the directory
    // entry is made durable so the file itself survives a crash.
    if (j->size == 0) {
        unsigned char h[S_HEADER_RECORD];
        s_header_record(h);
        if (xt_file_append_sync(j->fd, h, sizeof h, path, err) != 0) {
            xt_journal_destroy(&j);
            return NULL;
        }
        if (s_fsync_parent(path) != 0) {
            xt_err_set(err, XT_EIO, "%s: fsync of the journal's directory failed: %s", path, strerror(errno));
            xt_journal_destroy(&j);
            return NULL;
        }
        j->size = S_HEADER_RECORD;
    }
    return j;
}

int xt_journal_append(xt_journal *j, uint8_t type, const void *payload, uint32_t len, xt_err *err) {
    if (j->broken)
        return xt_err_set(err, XT_ESTATE,
                          "%s: an earlier append failed and could not be undone; reopen the journal", j->path);
    if (type == 0)
        return xt_err_set(err, XT_EINVAL, "%s: record type 0 is reserved for the journal header", j->path);
    if (len > j->max_record)
        return xt_err_set(err, XT_ERANGE,
                          "%s: record of %u bytes exceeds the journal limit of %u bytes; store large data "
                          "in its own file and journal its path",
                          j->path, len, j->max_record);
    if (len && !payload) return xt_err_set(err, XT_EINVAL, "%s: record of %u bytes has no payload", j->path, len);
    size_t total = XT_JOURNAL_HEADER_BYTES + (size_t)len;
    if (s_grow(&j->buf, &j->cap, total) != 0)
        return xt_err_set(err, XT_ENOMEM, "%s: cannot allocate %zu bytes for a record", j->path, total);
    if (len) memcpy(j->buf + XT_JOURNAL_HEADER_BYTES, payload, len);
    s_encode(j->buf, type, payload, len);
    int rc = xt_file_append_sync(j->fd, j->buf, total, j->path, err);
    if (rc != 0) {
        // A partial write would leave a torn record in front of every later
        // one; cut back to the last good record or stop appending.
        if (ftruncate(j->fd, (off_t)j->size) != 0 || fsync(j->fd) != 0) j->broken = 1;
        return rc;
    }
    j->size += total;
    j->records++;
    return 0;
}

uint64_t xt_journal_records(const xt_journal *j) { return j->records; }
uint64_t xt_journal_bytes(const xt_journal *j) { return j->size; }
const char *xt_journal_path(const xt_journal *j) { return j->path; }

void xt_journal_destroy(xt_journal **jp) {
    if (!jp || !*jp) return;
    xt_journal *j = *jp;
    if (j->fd >= 0) close(j->fd); // releases the flock
    free(j->buf);
    free(j);
    *jp = NULL;
}

// ---------------------------------------------------------------- read-only scan

int xt_journal_scan(const char *path, uint32_t max_record, xt_journal_fn fn, void *user,
                    xt_journal_info *info_out, xt_err *err) {
    xt_journal_info scratch, *info = info_out ? info_out : &scratch;
    memset(info, 0, sizeof *info);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return xt_err_set(err, XT_EIO, "%s: cannot open the journal: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return xt_err_set(err, XT_EIO, "%s: the journal is not a regular file", path);
    }
    int torn = 0;
    int rc = s_replay(fd, path, (uint64_t)st.st_size, max_record ? max_record : XT_JOURNAL_MAX_RECORD_DEFAULT,
                      fn, user, info, &torn, err);
    close(fd);
    return rc;
}
