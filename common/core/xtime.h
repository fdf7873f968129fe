// xtime.h - UTC calendar arithmetic, ISO-8601 parsing, timeframes, clocks.
//
// Timestamps are int64 seconds since the Unix epoch, UTC (bar open time).
// No libc time zone state is touched (no TZ, no localtime), so these are
// pure functions usable from any thread.
#ifndef XT_XTIME_H
#define XT_XTIME_H

#include "err.h"

#include <stdint.h>

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t xt_time_days_from_civil(int y, int m, int d);
void xt_time_civil_from_days(int64_t z, int *y, int *m, int *d);
// 0 = Monday .. 6 = Sunday (seed 003's day_of_week convention).
int xt_time_weekday(int64_t ts);
int xt_time_hour(int64_t ts);
int xt_time_minute_of_day(int64_t ts);

// Parses "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.fff]]", "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]",
// "YYYY.MM.DD HH:MM[:SS]" (MetaTrader) and "DD.MM.YYYY HH:MM:SS.fff" (Dukascopy).
// Fractions are truncated to the second. Returns 0 and *ts, or XT_EPARSE.
int xt_time_parse(const char *s, int64_t *ts);
// Like xt_time_parse but with the length of the text given (no NUL needed).
int xt_time_parse_n(const char *s, int n, int64_t *ts);
// Writes "YYYY-MM-DDTHH:MM:SSZ" (21 bytes incl. NUL). Returns buf.
char *xt_time_format(int64_t ts, char buf[32]);

// Timeframes: "1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1w" -> seconds.
int xt_timeframe_parse(const char *s, int *seconds);
// Canonical name of a timeframe in seconds ("15m"); writes into buf.
const char *xt_timeframe_name(int seconds, char buf[16]);

// Seconds since an arbitrary point, monotonic, with ns resolution.
double xt_time_mono(void);
// Wall clock seconds since the epoch.
double xt_time_wall(void);

#endif
