// nccl_id.c - passing the NCCL unique id between learner ranks: hex text,
// an atomically written file, and a reader that waits for it.
//
// Purpose: the part of the multi-GPU setup that needs no GPU, compiled into
// libxtrade on every build (and tested there). Invariants: a saved file
// holds exactly one line of 256 hex digits; readers either see no file or
// the whole line. No state; any thread.
#include "cuda/nccl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fileio.h"

// ---- hex

void xt_nccl_id_hex(const xt_nccl_id *id, char out[2 * XT_NCCL_ID_BYTES + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int k = 0; k < XT_NCCL_ID_BYTES; k++) {
        out[2 * k] = digits[id->bytes[k] >> 4];
        out[2 * k + 1] = digits[id->bytes[k] & 15];
    }
    out[2 * XT_NCCL_ID_BYTES] = '\0';
}

static int s_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int xt_nccl_id_parse(const char *hex, xt_nccl_id *id, xt_err *err) {
    while (isspace((unsigned char)*hex)) hex++;
    size_t n = strlen(hex);
    while (n && isspace((unsigned char)hex[n - 1])) n--;
    if (n != 2 * XT_NCCL_ID_BYTES)
        return xt_err_set(err, XT_EPARSE, "nccl id: expected %d hex digits, got %zu characters",
                          2 * XT_NCCL_ID_BYTES, n);
    for (int k = 0; k < XT_NCCL_ID_BYTES; k++) {
        int hi = s_nibble(hex[2 * k]), lo = s_nibble(hex[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return xt_err_set(err, XT_EPARSE, "nccl id: character %d is not a hex digit",
                              hi < 0 ? 2 * k + 1 : 2 * k + 2);
        id->bytes[k] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

// ---- file

int xt_nccl_id_save(const char *path, const xt_nccl_id *id, xt_err *err) {
    char line[2 * XT_NCCL_ID_BYTES + 2];
    xt_nccl_id_hex(id, line);
    line[2 * XT_NCCL_ID_BYTES] = '\n';
    line[2 * XT_NCCL_ID_BYTES + 1] = '\0';
    int rc = xt_file_write_atomic(path, line, 2 * XT_NCCL_ID_BYTES + 1, err);
    return rc ? xt_err_prefix(err, "nccl id") : 0;
}

int xt_nccl_id_load(const char *path, double wait_s, xt_nccl_id *id, xt_err *err) {
    struct timespec t0, now, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    // the file appears whole (rank 0 renames it into place): poll for it
    for (;;) {
        if (xt_file_exists(path)) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
        if (waited >= wait_s)
            return xt_err_set(err, XT_EIO,
                              "nccl id: %s did not appear within %g s (is rank 0 running?)", path,
                              wait_s);
        nanosleep(&nap, NULL);
    }
    char *text = NULL;
    size_t len = 0;
    int rc = xt_file_read_all(path, 4096, &text, &len, err);
    if (rc) return xt_err_prefix(err, "nccl id");
    rc = xt_nccl_id_parse(text, id, err);
    free(text);
    return rc ? xt_err_prefix(err, "%s", path) : 0;
}
