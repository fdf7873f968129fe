// err.c - xt_err helpers. No state; safe from any thread.
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int xt_err_set(xt_err *err, int code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int xt_err_prefix(xt_err *err, const char *fmt, ...) {
    if (!err) return XT_EINVAL;
    char head[256], old[XT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t hn = strlen(head);
    if (hn > sizeof err->msg - 3) hn = sizeof err->msg - 3;
    memcpy(err->msg, head, hn);
    memcpy(err->msg + hn, ": ", 2);
    size_t on = strnlen(old, sizeof old - 1);
    if (on > sizeof err->msg - hn - 3) on = sizeof err->msg - hn - 3;
    memcpy(err->msg + hn + 2, old, on);
    err->msg[hn + 2 + on] = '\0';
    return err->code;
}

void xt_err_clear(xt_err *err) {
    if (!err) return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *xt_err_name(int code) {
    switch (code) {
    case XT_OK: return "ok";
    case XT_EINVAL: return "invalid argument";
    case XT_EIO: return "i/o error";
    case XT_ENOMEM: return "out of memory";
    case XT_EPARSE: return "parse error";
    case XT_ERANGE: return "out of range";
    case XT_ESTATE: return "invalid state";
    case XT_ENOTFOUND: return "not found";
    case XT_EPROTO: return "protocol error";
    case XT_EDEVICE: return "device error";
    case XT_ENUMERIC: return "non-finite value";
    default: return "unknown error";
    }
}
