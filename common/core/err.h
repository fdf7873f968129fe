// err.h - error codes and the xt_err sentence every fallible function fills.
//
// Fallible functions return int: 0 on success, a negative XT_E* code on
// failure, and write one human sentence into an xt_err naming the file, line,
// key or field at fault. xt_err_set returns the code so call sites can write
// `return xt_err_set(err, XT_EINVAL, "...")`. A NULL err is allowed.
#ifndef XT_ERR_H
#define XT_ERR_H

#include <stddef.h>

enum {
    XT_OK = 0,
    XT_EINVAL = -1,    // bad argument or bad input value
    XT_EIO = -2,       // read/write/open failure (errno in the sentence)
    XT_ENOMEM = -3,    // allocation failed
    XT_EPARSE = -4,    // malformed text or binary input
    XT_ERANGE = -5,    // value out of allowed bounds
    XT_ESTATE = -6,    // operation not valid in the current state
    XT_ENOTFOUND = -7, // named thing does not exist
    XT_EPROTO = -8,    // wire protocol violation
    XT_EDEVICE = -9,   // accelerator / driver failure
    XT_ENUMERIC = -10, // non-finite value where a finite one is required
};

#define XT_ERR_MSG_MAX 512

typedef struct {
    int code;
    char msg[XT_ERR_MSG_MAX];
} xt_err;

// Writes the sentence (printf format) and returns code. err may be NULL.
int xt_err_set(xt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Prepends "prefix: " to an existing message (e.g. a file name). Returns err->code.
int xt_err_prefix(xt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void xt_err_clear(xt_err *err);

// Short name of a code ("invalid argument", ...).
const char *xt_err_name(int code);

#endif
