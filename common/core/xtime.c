// xtime.c - pure UTC calendar math and parsing; the two clocks use
// clock_gettime only. No shared state.
#include "xtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

// ---------------------------------------------------------------- calendar

int64_t xt_time_days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                  // [0, 399]
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; // [0, 365]
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          // [0, 146096]
    return era * 146097 + doe - 719468;
}

void xt_time_civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t s_floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int xt_time_weekday(int64_t ts) {
    int64_t days = s_floor_div(ts, 86400);
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

int xt_time_minute_of_day(int64_t ts) {
    int64_t s = ts - s_floor_div(ts, 86400) * 86400;
    return (int)(s / 60);
}

int xt_time_hour(int64_t ts) { return xt_time_minute_of_day(ts) / 60; }

// ---------------------------------------------------------------- parsing

static int s_digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int s_days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int xt_time_parse_n(const char *s, int n, int64_t *ts) {
    int y, mo, d, h = 0, mi = 0, se = 0, i;
    // Date part: YYYY-MM-DD, YYYY.MM.DD, YYYY/MM/DD, or DD.MM.YYYY.
    if (n >= 10 && (s[4] == '-' || s[4] == '.' || s[4] == '/') && s[7] == s[4]) {
        if (s_digits(s, 4, &y) || s_digits(s + 5, 2, &mo) || s_digits(s + 8, 2, &d)) return XT_EPARSE;
    } else if (n >= 10 && s[2] == '.' && s[5] == '.') {
        if (s_digits(s, 2, &d) || s_digits(s + 3, 2, &mo) || s_digits(s + 6, 4, &y)) return XT_EPARSE;
    } else {
        return XT_EPARSE;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo)) return XT_EPARSE;
    i = 10;
    if (i < n && (s[i] == 'T' || s[i] == ' ')) {
        i++;
        if (i + 5 > n || s_digits(s + i, 2, &h) || s[i + 2] != ':' || s_digits(s + i + 3, 2, &mi))
            return XT_EPARSE;
        i += 5;
        if (i < n && s[i] == ':') {
            if (i + 3 > n || s_digits(s + i + 1, 2, &se)) return XT_EPARSE;
            i += 3;
            if (i < n && s[i] == '.') {
                i++;
                int start = i;
                while (i < n && s[i] >= '0' && s[i] <= '9') i++;
                if (i == start) return XT_EPARSE;
            }
        }
        if (h > 23 || mi > 59 || se > 60) return XT_EPARSE;
    }
    int64_t off = 0;
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om = 0, sign = s[i] == '-' ? -1 : 1;
        i++;
        if (i + 2 > n || s_digits(s + i, 2, &oh)) return XT_EPARSE;
        i += 2;
        if (i < n && s[i] == ':') i++;
        if (i + 2 <= n && s_digits(s + i, 2, &om) == 0) i += 2;
        off = sign * (oh * 3600 + om * 60);
    }
    if (i != n) return XT_EPARSE;
    *ts = xt_time_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return 0;
}

int xt_time_parse(const char *s, int64_t *ts) { return xt_time_parse_n(s, (int)strlen(s), ts); }

char *xt_time_format(int64_t ts, char buf[32]) {
    int64_t days = s_floor_div(ts, 86400);
    int64_t sec = ts - days * 86400;
    int y, m, d;
    xt_time_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
    return buf;
}

// ---------------------------------------------------------------- timeframes

int xt_timeframe_parse(const char *s, int *seconds) {
    int n = 0, i = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        n = n * 10 + (s[i] - '0');
        if (n > 100000) return XT_EPARSE;
        i++;
    }
    if (i == 0 || n == 0 || s[i] == '\0' || s[i + 1] != '\0') return XT_EPARSE;
    int unit;
    switch (s[i]) {
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return XT_EPARSE;
    }
    *seconds = n * unit;
    return 0;
}

const char *xt_timeframe_name(int seconds, char buf[16]) {
    if (seconds % (7 * 86400) == 0) snprintf(buf, 16, "%dw", seconds / (7 * 86400));
    else if (seconds % 86400 == 0) snprintf(buf, 16, "%dd", seconds / 86400);
    else if (seconds % 3600 == 0) snprintf(buf, 16, "%dh", seconds / 3600);
    else if (seconds % 60 == 0) snprintf(buf, 16, "%dm", seconds / 60);
    else snprintf(buf, 16, "%ds", seconds);
    return buf;
}

// ---------------------------------------------------------------- clocks

double xt_time_mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double xt_time_wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
