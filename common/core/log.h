// log.h - the one log line format of every xtrade process.
//
//   12345:L 2026-11-21T05:01:42.123Z INFO configuration loaded
//   pid:role time level message      (role: B broker, L learner, A actor, C cli)
//
// Or with json=1, one JSON object per line:
//   {"pid":12345,"role":"L","ts":"...","level":"info","msg":"..."}
// Logs go to stderr; stdout belongs to the CLI's own output. The level is
// checked before any formatting (the macros test xt_log_enabled first).
// The logger's settings are process-wide: set once by main via xt_log_init
// before threads start, read-only afterwards.
#ifndef XT_LOG_H
#define XT_LOG_H

typedef enum { XT_LOG_DEBUG = 0, XT_LOG_INFO, XT_LOG_WARN, XT_LOG_ERROR, XT_LOG_OFF } xt_log_level;

void xt_log_init(char role, xt_log_level level, int json);
int xt_log_enabled(xt_log_level level);
void xt_log_write(xt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "debug" | "info" | "warn" | "error" | "off" -> level; -1 if unknown.
int xt_log_level_parse(const char *s);

#define XT_LOG(lvl, ...) \
    do { \
        if (xt_log_enabled(lvl)) xt_log_write(lvl, __VA_ARGS__); \
    } while (0)
#define xt_debug(...) XT_LOG(XT_LOG_DEBUG, __VA_ARGS__)
#define xt_info(...) XT_LOG(XT_LOG_INFO, __VA_ARGS__)
#define xt_warn(...) XT_LOG(XT_LOG_WARN, __VA_ARGS__)
#define xt_error(...) XT_LOG(XT_LOG_ERROR, __VA_ARGS__)

#endif
