// log.c - line logger. The settings below are the one piece of process-wide
// state in libxtrade: written once by xt_log_init in main before any thread
// starts, then only read. Each line is built in a stack buffer and written
// with a single write(2), so lines from threads never interleave.
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    char role;
    xt_log_level level;
    int json;
} s_log = {'C', XT_LOG_INFO, 0};

static const char *s_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
static const char *s_lnames[] = {"debug", "info", "warn", "error", "off"};

void xt_log_init(char role, xt_log_level level, int json) {
    s_log.role = role;
    s_log.level = level;
    s_log.json = json;
}

int xt_log_enabled(xt_log_level level) { return level >= s_log.level && level < XT_LOG_OFF; }

int xt_log_level_parse(const char *s) {
    for (int i = 0; i <= XT_LOG_OFF; i++)
        if (strcmp(s, s_lnames[i]) == 0) return i;
    return -1;
}

// JSON-escapes src into dst (always NUL-terminated).
static void s_json_escape(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    for (; *src && o + 7 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

void xt_log_write(xt_log_level level, const char *fmt, ...) {
    char msg[2048], line[8448], ts[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(t.tv_nsec / 1000000));
    int n;
    if (s_log.json) {
        char esc[8192];
        s_json_escape(esc, sizeof esc, msg);
        n = snprintf(line, sizeof line,
                     "{\"pid\":%d,\"role\":\"%c\",\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n",
                     (int)getpid(), s_log.role, ts, s_lnames[level], esc);
    } else {
        n = snprintf(line, sizeof line, "%d:%c %s %s %s\n", (int)getpid(), s_log.role, ts,
                     s_names[level], msg);
    }
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
