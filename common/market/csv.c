// csv.c - streaming CSV import of OHLCV bars with format detection, row
// validation and calendar-aware gap handling.
//
// Pipeline: a chunked reader hands out lines (1 MiB buffer, no per-line
// allocation) -> the first non-blank line fixes the layout (delimiter, header
// or headerless format, column of each role) -> every row is split, parsed
// (a fast exact decimal path, strtod only for long mantissas) and checked,
// then appended to the caller's xt_bars together with its line number ->
// the timeframe is inferred (most common spacing) or checked -> one pass
// counts the expected-but-missing bars between consecutive rows, and under
// the fill policy a second pass, back to front, expands the arrays in place.
// Everything is O(rows) apart from the calendar scan of each hole, which is
// bounded by two weeks of slots thanks to the calendar's weekly period.
//
// Invariants on success: out->ts strictly increasing; every bar finite with
// low <= min(open, close), high >= max(open, close), volume >= 0; filled
// bars sit only on slots where the calendar expects a bar.
// Ownership: out's arrays belong to the caller after success; everything
// else (reader buffer, line numbers) is freed before returning.
// Threads: no shared state; any thread may load its own file.
#include "csv.h"

#include "../core/log.h"
#include "../core/xtime.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_BUF_CAP (1 << 20) // reader buffer; also the longest accepted line
#define S_MAXF 64 // fields kept per line (more are counted only)
#define S_WEEK (7 * 86400)
#define S_WARN_MAX 10 // closure warnings printed one by one

// ---------------------------------------------------------------- reader

typedef struct {
    FILE *f;
    char *buf;
    size_t len, pos;
    int eof;
    int64_t line; // number of the line last returned, 1-based
} s_reader;

enum { S_LINE_END = 0, S_LINE_OK = 1, S_LINE_LONG = -1, S_LINE_IOERR = -2 };

// Next line without its '\n' (and a trailing '\r'); *term = 0 when the file
// ended without a newline. The returned text lives in the reader's buffer
// until the next call.
static int s_next_line(s_reader *r, char **line, size_t *n, int *term) {
    for (;;) {
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl) {
            *line = r->buf + r->pos;
            *n = (size_t)(nl - *line);
            r->pos += *n + 1;
            *term = 1;
            break;
        }
        if (r->eof) {
            if (r->pos == r->len) return S_LINE_END;
            *line = r->buf + r->pos;
            *n = r->len - r->pos;
            r->pos = r->len;
            *term = 0;
            break;
        }
        // Keep the partial line at the front and refill behind it.
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->len == S_BUF_CAP) return S_LINE_LONG;
        size_t got = fread(r->buf + r->len, 1, S_BUF_CAP - r->len, r->f);
        r->len += got;
        if (got == 0) {
            if (ferror(r->f)) return S_LINE_IOERR;
            r->eof = 1;
        }
    }
    r->line++;
    if (*n > 0 && (*line)[*n - 1] == '\r') (*n)--;
    return S_LINE_OK;
}

// ---------------------------------------------------------------- fields

typedef struct {
    const char *p;
    int n;
} s_fld;

// Strips blanks and one pair of surrounding double quotes.
static s_fld s_trim(const char *p, int n) {
    while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') p++, n -= 2;
    return (s_fld){p, n};
}

// Splits a line; returns the number of fields (only the first S_MAXF are stored).
static int s_split(const char *s, int n, char delim, s_fld *f) {
    const char *p = s, *end = s + n;
    int nf = 0;
    for (;;) {
        const char *q = memchr(p, delim, (size_t)(end - p));
        const char *e = q ? q : end;
        if (nf < S_MAXF) f[nf] = s_trim(p, (int)(e - p));
        nf++;
        if (!q) return nf;
        p = q + 1;
    }
}

static int s_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

// Copies up to 40 bytes for an error message, '?' for anything unprintable.
static const char *s_quote(const char *p, int n, char out[48]) {
    int k = n > 40 ? 40 : n, o = 0;
    for (int i = 0; i < k; i++) {
        unsigned char c = (unsigned char)p[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (n > k) out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
    return out;
}

static int s_isdigit(char c) { return c >= '0' && c <= '9'; }

static int s_ieq(const char *p, int n, const char *word) {
    int k = (int)strlen(word);
    if (n != k) return 0;
    for (int i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return 1;
}

// ---------------------------------------------------------------- numbers and times

static const double s_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Decimal number: [+-]digits[.digits][e[+-]digits]; a decimal comma too when
// dec_comma. "nan", "inf", "infinity" parse to non-finite values, which the
// caller rejects with its own message. Returns 0, or -1 if not a number.
static int s_number(const char *p, int n, int dec_comma, double *out) {
    int i = 0, neg = 0, any = 0, exact = 1, exp10 = 0;
    uint64_t m = 0;
    if (n > 0 && (p[0] == '+' || p[0] == '-')) neg = p[0] == '-', i = 1;
    if (i < n && !s_isdigit(p[i]) && p[i] != '.' && !(dec_comma && p[i] == ',')) {
        if (s_ieq(p + i, n - i, "nan")) *out = NAN;
        else if (s_ieq(p + i, n - i, "inf") || s_ieq(p + i, n - i, "infinity"))
            *out = neg ? -INFINITY : INFINITY;
        else return -1;
        return 0;
    }
    // Mantissa digits go into m while it stays below 1e17 (so m*10+9 fits).
    for (; i < n && s_isdigit(p[i]); i++, any = 1) {
        if (m < 100000000000000000ull) m = m * 10 + (uint64_t)(p[i] - '0');
        else exact = 0, exp10++;
    }
    if (i < n && (p[i] == '.' || (dec_comma && p[i] == ','))) {
        for (i++; i < n && s_isdigit(p[i]); i++, any = 1) {
            if (m < 100000000000000000ull) m = m * 10 + (uint64_t)(p[i] - '0'), exp10--;
            else exact = 0;
        }
    }
    if (!any) return -1;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        int es = 1, e = 0, ed = 0;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) es = p[i] == '-' ? -1 : 1, i++;
        for (; i < n && s_isdigit(p[i]); i++, ed++)
            if (e < 100000) e = e * 10 + (p[i] - '0');
        if (!ed) return -1;
        exp10 += es * e;
    }
    if (i != n) return -1;
    // Clinger's fast path: m and 10^|e| are exact doubles, one rounding.
    if (exact && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / s_pow10[-exp10] : v * s_pow10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    char b[128];
    if (n >= (int)sizeof b) return -1;
    for (int k = 0; k < n; k++) b[k] = p[k] == ',' ? '.' : p[k];
    b[n] = '\0';
    char *end;
    *out = strtod(b, &end);
    return end == b + n ? 0 : -1;
}

// Integer epoch (a fraction is allowed and dropped); the unit follows from the
// magnitude: < 1e11 seconds, < 1e14 ms, < 1e17 µs, else ns.
static int s_epoch(const char *p, int n, int64_t *ts) {
    int i = 0;
    uint64_t v = 0;
    for (; i < n && s_isdigit(p[i]); i++) {
        if (v > 922337203685477580ull) return -1; // would pass INT64_MAX
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (i == 0) return -1;
    if (i < n && p[i] == '.') {
        int start = ++i;
        while (i < n && s_isdigit(p[i])) i++;
        if (i == start) return -1;
    }
    if (i != n) return -1;
    if (v < 100000000000ull) *ts = (int64_t)v;
    else if (v < 100000000000000ull) *ts = (int64_t)(v / 1000);
    else if (v < 100000000000000000ull) *ts = (int64_t)(v / 1000000);
    else *ts = (int64_t)(v / 1000000000);
    return 0;
}

// Text time through xt_time_parse_n, after dropping a "GMT"/"UTC" marker
// ("2024-01-02 00:15:00 UTC", Dukascopy "02.01.2024 00:15:00.000 GMT+0100").
static int s_time_text(const char *p, int n, int64_t *ts) {
    char b[64];
    int o = 0;
    if (n >= (int)sizeof b) return -1;
    for (int i = 0; i < n; i++) {
        if (i + 3 <= n && (memcmp(p + i, "GMT", 3) == 0 || memcmp(p + i, "UTC", 3) == 0)) {
            if (o > 0 && b[o - 1] == ' ') o--;
            i += 2;
            continue;
        }
        b[o++] = p[i];
    }
    return xt_time_parse_n(b, o, ts) == 0 ? 0 : -1;
}

static int s_time(const char *p, int n, int64_t *ts) {
    return s_epoch(p, n, ts) == 0 ? 0 : s_time_text(p, n, ts);
}

// "DATE TIME" from two columns (MetaTrader).
static int s_date_time(s_fld d, s_fld t, int64_t *ts) {
    char b[64];
    if (d.n + t.n + 1 >= (int)sizeof b) return -1;
    memcpy(b, d.p, (size_t)d.n);
    b[d.n] = ' ';
    memcpy(b + d.n + 1, t.p, (size_t)t.n);
    return s_time_text(b, d.n + 1 + t.n, ts);
}

// ---------------------------------------------------------------- layout detection

enum { R_TS, R_DATE, R_TIME, R_OPEN, R_HIGH, R_LOW, R_CLOSE, R_VOL, R_N };
static const char *s_role[R_N] = {"timestamp", "date", "time",  "open",
                                  "high",      "low",  "close", "volume"};

typedef struct {
    xt_csv_format fmt;
    char delim;
    int ncols;
    int has_header;
    int col[R_N]; // column of each role, -1 if absent
} s_layout;

typedef struct {
    const char *path;
    s_reader rd;
    s_layout lay;
    xt_bars *out;
    xt_csv_report *rep;
    int64_t *lines;    // [out->cap] file line of each row
    xt_calendar judge; // calendar that gaps are judged against (see s_judge)
    xt_err *err;
} s_load;

// Writes "<path>:<line>: <message>" (line <= 0: "<path>: <message>").
__attribute__((format(printf, 4, 5))) static int s_fail(s_load *L, int64_t line, int code,
                                                        const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) return xt_err_set(L->err, code, "%s:%lld: %s", L->path, (long long)line, msg);
    return xt_err_set(L->err, code, "%s: %s", L->path, msg);
}

static const char *s_ts_names[] = {"timestamp", "datetime",   "date_time", "date time",
                                   "gmt time",  "local time", "open_time", "open time",
                                   "opentime",  "ts",         "unix",      NULL};

// Lower-cases a header name without '<', '>' and quotes. -1 if too long.
static int s_name(s_fld f, char out[32]) {
    int o = 0;
    for (int i = 0; i < f.n; i++) {
        char c = f.p[i];
        if (c == '<' || c == '>' || c == '"') continue;
        if (o == 31) return -1;
        out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[o] = '\0';
    return o;
}

// Maps header names to roles. Returns 1 for a header, 0 if no field is a
// known name (a data row), or an error for a header that lacks a column.
static int s_header(s_load *L, const char *s, int n, const s_fld *f, int nf, s_layout *y) {
    int known = 0, vol_rank = 0, binance = 0, forex = 0;
    for (int r = 0; r < R_N; r++) y->col[r] = -1;
    for (int c = 0; c < nf && c < S_MAXF; c++) {
        char nm[32];
        if (s_name(f[c], nm) < 0) continue;
        int role = -1, vr = 0;
        for (int k = 0; s_ts_names[k]; k++)
            if (strcmp(nm, s_ts_names[k]) == 0) role = R_TS;
        if (role == R_TS && y->col[R_TS] < 0) {
            binance = strstr(nm, "open") != NULL;
            forex = strstr(nm, "gmt") || strstr(nm, "local");
        }
        if (strcmp(nm, "date") == 0) role = R_DATE;
        else if (strcmp(nm, "time") == 0) role = R_TIME;
        else if (strcmp(nm, "open") == 0) role = R_OPEN;
        else if (strcmp(nm, "high") == 0) role = R_HIGH;
        else if (strcmp(nm, "low") == 0) role = R_LOW;
        else if (strcmp(nm, "close") == 0) role = R_CLOSE;
        // Volume: "volume" beats tick volume (MT5 <TICKVOL>) beats "vol".
        else if (strcmp(nm, "volume") == 0) vr = 3;
        else if (!strcmp(nm, "tickvol") || !strcmp(nm, "tick_volume") || !strcmp(nm, "tick volume"))
            vr = 2;
        else if (strcmp(nm, "vol") == 0) vr = 1;
        if (vr > vol_rank) vol_rank = vr, y->col[R_VOL] = c, known++;
        if (role >= 0 && y->col[role] < 0) y->col[role] = c, known++;
    }
    if (!known) return 0;
    // pandas writes an unnamed DatetimeIndex as an empty first header field.
    if (y->col[R_TS] < 0 && y->col[R_DATE] < 0 && y->col[R_TIME] < 0 && f[0].n == 0)
        y->col[R_TS] = 0;
    // One time column, or MetaTrader's separate <DATE> and <TIME>.
    if (y->col[R_TS] < 0 && y->col[R_DATE] >= 0 && y->col[R_TIME] >= 0) {
        forex = 1;
    } else {
        if (y->col[R_TS] < 0) y->col[R_TS] = y->col[R_DATE] >= 0 ? y->col[R_DATE] : y->col[R_TIME];
        y->col[R_DATE] = y->col[R_TIME] = -1;
    }
    char q[48];
    for (int r = R_TS; r <= R_CLOSE; r++) {
        if (r == R_DATE || r == R_TIME) continue;
        if (y->col[r] < 0 && (r != R_TS || y->col[R_DATE] < 0))
            return s_fail(L, L->rd.line, XT_EPARSE,
                          "header has no %s column (expected timestamp,open,high,low,close,volume, "
                          "got \"%s\")",
                          s_role[r], s_quote(s, n, q));
    }
    y->fmt = binance ? XT_CSV_BINANCE : forex ? XT_CSV_FOREX : XT_CSV_GENERIC;
    y->has_header = 1;
    return 1;
}

static int s_all_numbers(const s_fld *f, int from, int to, int dec_comma) {
    double v;
    for (int c = from; c <= to; c++)
        if (s_number(f[c].p, f[c].n, dec_comma, &v)) return 0;
    return 1;
}

// Headerless Binance row: 12 numeric columns, open_time and close_time epochs.
static int s_is_binance(const s_fld *f, int nf, s_layout *y) {
    int64_t t0, t6;
    if (nf != 12 || s_epoch(f[0].p, f[0].n, &t0) || s_epoch(f[6].p, f[6].n, &t6) || t6 < t0 ||
        !s_all_numbers(f, 1, 5, 0))
        return 0;
    y->col[R_TS] = 0;
    for (int r = R_OPEN; r <= R_VOL; r++) y->col[r] = r - R_OPEN + 1;
    return 1;
}

// Headerless MetaTrader 4 row: YYYY.MM.DD,HH:MM[:SS],open,high,low,close[,volume...].
static int s_is_mt4(const s_fld *f, int nf, int dec_comma, s_layout *y) {
    int64_t ts;
    if (nf < 6 || f[0].n != 10 || !memchr(f[1].p, ':', (size_t)f[1].n) ||
        xt_time_parse_n(f[0].p, f[0].n, &ts) || s_date_time(f[0], f[1], &ts) ||
        !s_all_numbers(f, 2, 5, dec_comma))
        return 0;
    y->col[R_DATE] = 0, y->col[R_TIME] = 1;
    for (int r = R_OPEN; r <= R_CLOSE; r++) y->col[r] = r - R_OPEN + 2;
    if (nf > 6) y->col[R_VOL] = 6;
    return 1;
}

// Headerless generic row: time,open,high,low,close[,volume...].
static int s_is_generic(const s_fld *f, int nf, int dec_comma, s_layout *y) {
    int64_t ts;
    if (nf < 5 || s_time(f[0].p, f[0].n, &ts) || !s_all_numbers(f, 1, 4, dec_comma)) return 0;
    y->col[R_TS] = 0;
    for (int r = R_OPEN; r <= R_CLOSE; r++) y->col[r] = r - R_OPEN + 1;
    if (nf > 5) y->col[R_VOL] = 5;
    return 1;
}

// Fixes the layout from the first non-blank line (BOM already removed).
static int s_detect(s_load *L, const char *s, int n, xt_csv_format want) {
    s_layout *y = &L->lay;
    char q[48];
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return s_fail(L, L->rd.line, XT_EPARSE,
                          "not a CSV file: binary data (byte 0x%02x at offset %d)", c, i);
    }
    // Delimiter: tab, else semicolon, else comma (a comma inside a tab or
    // semicolon file is a decimal comma).
    int nt = 0, ns = 0, nc = 0;
    for (int i = 0; i < n; i++) nt += s[i] == '\t', ns += s[i] == ';', nc += s[i] == ',';
    if (!nt && !ns && !nc)
        return s_fail(L, L->rd.line, XT_EPARSE,
                      "not a CSV file: no comma, tab or semicolon on the first line (\"%s\")",
                      s_quote(s, n, q));
    y->delim = nt ? '\t' : ns ? ';' : ',';
    int dec_comma = y->delim != ',';
    s_fld f[S_MAXF];
    int nf = s_split(s, n, y->delim, f);
    if (nf > S_MAXF)
        return s_fail(L, L->rd.line, XT_EPARSE,
                      "not a CSV file of bars: %d columns on the first line (at most %d)", nf,
                      S_MAXF);
    y->ncols = nf;
    int rc = s_header(L, s, n, f, nf, y);
    if (rc < 0) return rc;
    if (rc == 0) {
        for (int r = 0; r < R_N; r++) y->col[r] = -1;
        int ok = 0;
        if (want == XT_CSV_AUTO || want == XT_CSV_BINANCE)
            ok = s_is_binance(f, nf, y), y->fmt = XT_CSV_BINANCE;
        if (!ok && (want == XT_CSV_AUTO || want == XT_CSV_FOREX))
            ok = s_is_mt4(f, nf, dec_comma, y), y->fmt = XT_CSV_FOREX;
        if (!ok && want != XT_CSV_BINANCE)
            ok = s_is_generic(f, nf, dec_comma, y), y->fmt = XT_CSV_GENERIC;
        if (!ok && want == XT_CSV_BINANCE)
            return s_fail(L, L->rd.line, XT_EPARSE,
                          "not a Binance kline row: expected 12 numeric columns with open_time and "
                          "close_time in ms or µs, got \"%s\"",
                          s_quote(s, n, q));
        if (!ok)
            return s_fail(
                L, L->rd.line, XT_EPARSE,
                "not a CSV file: expected a header such as timestamp,open,high,low,close,volume "
                "or a row starting with a time and four prices, got \"%s\"",
                s_quote(s, n, q));
    }
    if (want == XT_CSV_BINANCE && y->ncols != 12)
        return s_fail(L, L->rd.line, XT_EPARSE,
                      "expected 12 columns for a Binance kline file, got %d", y->ncols);
    if (want != XT_CSV_AUTO) y->fmt = want;
    return 0;
}

// ---------------------------------------------------------------- rows

// Parses, checks and appends one data row.
static int s_row(s_load *L, const char *s, int n, int term, int64_t *lines_cap) {
    const s_layout *y = &L->lay;
    int64_t line = L->rd.line;
    s_fld f[S_MAXF];
    char q[48];
    int nf = s_split(s, n, y->delim, f);
    if (nf != y->ncols) {
        if (!term && nf < y->ncols)
            return s_fail(
                L, line, XT_EPARSE,
                "truncated last line: expected %d columns, got %d (the file ends without a "
                "newline)",
                y->ncols, nf);
        return s_fail(L, line, XT_EPARSE, "expected %d columns, got %d", y->ncols, nf);
    }
    int64_t ts;
    if (y->col[R_TS] >= 0) {
        s_fld t = f[y->col[R_TS]];
        if (s_time(t.p, t.n, &ts))
            return s_fail(
                L, line, XT_EPARSE,
                "timestamp: cannot parse \"%s\" as a time (ISO-8601 or epoch seconds/milliseconds)",
                s_quote(t.p, t.n, q));
    } else {
        s_fld d = f[y->col[R_DATE]], t = f[y->col[R_TIME]];
        if (s_date_time(d, t, &ts)) {
            char q2[48];
            return s_fail(L, line, XT_EPARSE, "date/time: cannot parse \"%s %s\" as a time",
                          s_quote(d.p, d.n, q), s_quote(t.p, t.n, q2));
        }
    }
    double v[5] = {0, 0, 0, 0, 0}; // open, high, low, close, volume
    for (int k = 0; k < 5; k++) {
        int c = y->col[R_OPEN + k];
        if (c < 0) continue;
        if (s_number(f[c].p, f[c].n, y->delim != ',', &v[k]))
            return s_fail(L, line, XT_EPARSE, "%s: cannot parse \"%s\" as a number",
                          s_role[R_OPEN + k], s_quote(f[c].p, f[c].n, q));
        if (!isfinite(v[k]))
            return s_fail(L, line, XT_ENUMERIC, "%s is not finite (%s)", s_role[R_OPEN + k],
                          s_quote(f[c].p, f[c].n, q));
    }
    double o = v[0], h = v[1], l = v[2], c = v[3], vol = v[4];
    if (vol < 0) return s_fail(L, line, XT_EINVAL, "volume %.10g is negative", vol);
    if (h < fmax(o, c))
        return s_fail(L, line, XT_EINVAL, "high %.10g is below max(open, close) = %.10g", h,
                      fmax(o, c));
    if (l > fmin(o, c))
        return s_fail(L, line, XT_EINVAL, "low %.10g is above min(open, close) = %.10g", l,
                      fmin(o, c));
    xt_bars *b = L->out;
    if (b->n > 0 && ts <= b->ts[b->n - 1]) {
        char t0[32], t1[32];
        if (ts == b->ts[b->n - 1])
            return s_fail(L, line, XT_EINVAL, "duplicate timestamp %s (same as line %lld)",
                          xt_time_format(ts, t0), (long long)L->lines[b->n - 1]);
        return s_fail(L, line, XT_EINVAL, "timestamp %s is not after the previous row (%s)",
                      xt_time_format(ts, t0), xt_time_format(b->ts[b->n - 1], t1));
    }
    int rc = xt_bars_push(b, ts, o, h, l, c, vol, L->err);
    if (rc) return rc;
    // lines[] follows the bars' capacity.
    if (*lines_cap < b->cap) {
        int64_t *nl = realloc(L->lines, (size_t)b->cap * sizeof *nl);
        if (!nl)
            return s_fail(L, line, XT_ENOMEM, "cannot allocate %lld line numbers",
                          (long long)b->cap);
        L->lines = nl;
        *lines_cap = b->cap;
    }
    L->lines[b->n - 1] = line;
    return 0;
}

// Reads the whole file: detection on the first non-blank line, then rows.
static int s_parse(s_load *L, xt_csv_format want) {
    char *s;
    size_t n;
    int term, rc, first = 1, sized = 0;
    int64_t lines_cap = 0;
    struct stat st;
    for (;;) {
        rc = s_next_line(&L->rd, &s, &n, &term);
        if (rc == S_LINE_END) break;
        if (rc == S_LINE_IOERR) return s_fail(L, 0, XT_EIO, "read failed: %s", strerror(errno));
        if (rc == S_LINE_LONG) {
            if (first)
                return s_fail(L, L->rd.line + 1, XT_EPARSE,
                              "not a CSV file: no line break in the first %d bytes", S_BUF_CAP);
            return s_fail(L, L->rd.line + 1, XT_EPARSE, "line is longer than %d bytes", S_BUF_CAP);
        }
        if (first) {
            if (L->rd.line == 1) {
                if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, n -= 3;
                else if (n >= 2 && ((unsigned char)s[0] == 0xFF || (unsigned char)s[0] == 0xFE) &&
                         ((unsigned char)s[1] == 0xFE || (unsigned char)s[1] == 0xFF))
                    return s_fail(L, 1, XT_EPARSE,
                                  "not a CSV file: UTF-16 text (save it as UTF-8)");
                // Text never holds NUL bytes; look at the first 4 KiB read.
                size_t head = L->rd.len < 4096 ? L->rd.len : 4096;
                const char *z = memchr(L->rd.buf, '\0', head);
                if (z)
                    return s_fail(L, 1, XT_EPARSE,
                                  "not a CSV file: binary data (NUL byte at offset %d)",
                                  (int)(z - L->rd.buf));
            }
            if (s_blank(s, n)) continue;
            first = 0;
            rc = s_detect(L, s, (int)n, want);
            if (rc) return rc;
            L->rep->format = L->lay.fmt;
            L->rep->delim = L->lay.delim;
            L->rep->has_header = L->lay.has_header;
            L->rep->has_volume = L->lay.col[R_VOL] >= 0;
            if (L->lay.has_header) continue;
        }
        if (s_blank(s, n)) continue;
        if (!sized) {
            // Pre-size from the file size and the first row's length.
            sized = 1;
            if (fstat(fileno(L->rd.f), &st) == 0 && st.st_size > 0) {
                int64_t est = (int64_t)st.st_size / (int64_t)(n + 1) + 16;
                if (est > (1 << 26)) est = 1 << 26;
                if ((rc = xt_bars_reserve(L->out, est, L->err))) return rc;
            }
        }
        if ((rc = s_row(L, s, (int)n, term, &lines_cap))) return rc;
    }
    L->rep->lines = L->rd.line;
    L->rep->rows_read = L->out->n;
    if (first) return s_fail(L, 0, XT_EPARSE, "empty file");
    if (L->out->n == 0) return s_fail(L, 0, XT_EPARSE, "no data rows after the header");
    return 0;
}

// ---------------------------------------------------------------- timeframe

// Most common positive spacing between rows (ties: the shorter). Distinct
// spacings beyond the table's size are ignored, which only matters for data
// with hundreds of different spacings.
static int64_t s_mode_spacing(const xt_bars *b) {
    enum { SLOTS = 256 };
    int64_t key[SLOTS] = {0}, cnt[SLOTS] = {0}, best = 0, best_n = 0;
    for (int64_t i = 1; i < b->n; i++) {
        int64_t d = b->ts[i] - b->ts[i - 1];
        uint64_t h = ((uint64_t)d * 0x9E3779B97F4A7C15ull) >> 56; // 8-bit hash
        for (int probe = 0; probe < SLOTS; probe++, h = (h + 1) % SLOTS) {
            if (key[h] == d || key[h] == 0) {
                key[h] = d;
                cnt[h]++;
                break;
            }
        }
    }
    for (int k = 0; k < SLOTS; k++)
        if (key[k] && (cnt[k] > best_n || (cnt[k] == best_n && key[k] < best)))
            best = key[k], best_n = cnt[k];
    return best;
}

static int s_timeframe(s_load *L, int given) {
    char a[16], b[16];
    int64_t mode = L->out->n >= 2 ? s_mode_spacing(L->out) : 0;
    if (!given && !mode)
        return s_fail(L, 0, XT_EINVAL,
                      "cannot infer the timeframe from a single row; set it explicitly");
    if (given && mode && mode != given)
        return s_fail(L, 0, XT_EINVAL,
                      "rows are most often %s apart but the timeframe is set to %s",
                      mode <= 0x7fffffff ? xt_timeframe_name((int)mode, a) : "years",
                      xt_timeframe_name(given, b));
    if (mode > 0x7fffffff)
        return s_fail(L, 0, XT_EINVAL, "rows are most often %lld seconds apart; not a bar series",
                      (long long)mode);
    L->out->tf_sec = given ? given : (int)mode;
    L->rep->tf_sec = L->out->tf_sec;
    return 0;
}

// ---------------------------------------------------------------- gaps

// True when a vendor would print a bar [ts, ts + tf): the calendar expects a
// bar at some minute inside it (so an hourly 13:00 bar covers a 13:30 open).
static int s_expected(const xt_calendar *cal, int64_t ts, int tf) {
    if (cal->cls == XT_ASSET_CRYPTO) return 1;
    int64_t span = tf < S_WEEK ? tf : S_WEEK; // a week holds every case the calendar has
    for (int64_t t = ts; t < ts + span; t += 60)
        if (xt_calendar_expects_bar(cal, t)) return 1;
    return 0;
}

static int64_t s_gcd(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

typedef struct {
    int64_t count, first, last; // expected slots, first and last of them
} s_span;

// Expected slots among base + j*tf, j = 1..k. Calendars repeat every week, so
// past two periods the count is (whole periods x one period's count) + the rest.
static s_span s_missing(const xt_calendar *cal, int tf, int64_t base, int64_t k) {
    s_span s = {0, 0, 0};
    int64_t period = S_WEEK / s_gcd(tf, S_WEEK);
    if (k <= 2 * period) {
        for (int64_t j = 1; j <= k; j++) {
            int64_t t = base + j * tf;
            if (!s_expected(cal, t, tf)) continue;
            if (!s.count) s.first = t;
            s.last = t, s.count++;
        }
        return s;
    }
    int64_t w = 0, rest = 0, r = k % period;
    for (int64_t j = 1; j <= period; j++) {
        int64_t t = base + j * tf;
        if (!s_expected(cal, t, tf)) continue;
        if (!w) s.first = t;
        w++;
        rest += j <= r;
    }
    if (!w) return s;
    s.count = (k / period) * w + rest;
    for (int64_t j = k; j > k - period; j--)
        if (s_expected(cal, base + j * tf, tf)) {
            s.last = base + j * tf;
            break;
        }
    return s;
}

// Slots strictly between rows i-1 and i (rounded, so a daily series whose
// vendor shifts by an hour for DST does not grow phantom slots).
static int64_t s_slots(const xt_bars *b, int64_t i) {
    int64_t d = b->ts[i] - b->ts[i - 1];
    return (d + b->tf_sec / 2) / b->tf_sec - 1;
}

// Expected bars in one trading day: the closure threshold by default.
static int64_t s_day_bars(const s_load *L) {
    const xt_bars *b = L->out;
    int tf = b->tf_sec;
    int64_t phase = ((b->ts[0] % tf) + tf) % tf;
    int64_t wed = 2 * 86400 + 4 * 86400 + phase; // 1970-01-07 is a Wednesday
    int64_t k = (86400 + tf - 1) / tf;
    int64_t c = s_missing(&L->judge, tf, wed - tf, k).count;
    return c > 0 ? c : 1;
}

// Equity sessions are configured in UTC, but exchanges keep local time, so
// half of the year every session starts and ends an hour later (or earlier)
// in UTC. Gaps are therefore judged against the core that is open under both
// clocks: one hour inside each end of the configured session. Forex needs no
// such margin (Friday's 21:00 UTC close is the earlier of the two), and crypto
// never closes.
static void s_judge(xt_calendar *judge, const xt_calendar *cal) {
    *judge = *cal;
    if (cal->cls == XT_ASSET_EQUITY && cal->equity_close_min - cal->equity_open_min > 120)
        judge->equity_open_min += 60, judge->equity_close_min -= 60;
}

// Classifies every hole; rejects a gap under REJECT; returns the bars to fill.
static int s_scan_gaps(s_load *L, xt_gap_policy policy, int64_t thr, int64_t *fill) {
    xt_bars *b = L->out;
    xt_csv_report *r = L->rep;
    char t0[32], t1[32];
    *fill = 0;
    for (int64_t i = 1; i < b->n; i++) {
        int64_t k = s_slots(b, i);
        if (k <= 0) continue;
        s_span s = s_missing(&L->judge, b->tf_sec, b->ts[i - 1], k);
        if (!s.count) continue;
        int closure = thr > 0 && s.count >= thr;
        if (r->n_holes < XT_CSV_REPORT_HOLES)
            r->holes[r->n_holes++] = (xt_csv_hole){s.first, s.last, s.count, L->lines[i], closure};
        if (closure) {
            if (r->n_closures < S_WARN_MAX)
                xt_warn("%s:%lld: %lld expected bars missing (%s to %s); loaded as a market "
                        "closure, not filled",
                        L->path, (long long)L->lines[i], (long long)s.count,
                        xt_time_format(s.first, t0), xt_time_format(s.last, t1));
            r->n_closures++;
            if (s.count > r->longest_closure_bars)
                r->longest_closure_bars = s.count, r->longest_closure_start = s.first;
            continue;
        }
        if (policy == XT_GAP_REJECT)
            return s_fail(
                L, L->lines[i], XT_EINVAL,
                "gap of %lld bars (%s to %s) while the market is open; set data.gap_policy: "
                "fill to forward-fill",
                (long long)s.count, xt_time_format(s.first, t0), xt_time_format(s.last, t1));
        r->n_gaps++;
        r->gap_bars += s.count;
        if (s.count > r->longest_gap_bars)
            r->longest_gap_bars = s.count, r->longest_gap_start = s.first;
        *fill += s.count;
    }
    // A bad timeframe or a stray timestamp should not turn into gigabytes of flat bars.
    if (*fill > 16 * b->n + 1000000)
        return s_fail(L, 0, XT_ERANGE,
                      "filling gaps would add %lld bars to %lld rows; check the timeframe "
                      "and the timestamps",
                      (long long)*fill, (long long)b->n);
    if (r->n_closures > S_WARN_MAX)
        xt_warn("%s: %lld more market closures not listed", L->path,
                (long long)(r->n_closures - S_WARN_MAX));
    return 0;
}

// Inserts the fill bars in place, walking back to front so every row moves
// once: row i lands at i + (bars filled before it), never below i.
static int s_fill(s_load *L, int64_t thr, int64_t fill) {
    xt_bars *b = L->out;
    int tf = b->tf_sec;
    int rc = xt_bars_reserve(b, b->n + fill, L->err);
    if (rc) return rc;
    int64_t w = b->n + fill;
    for (int64_t i = b->n - 1; i >= 0; i--) {
        w--;
        b->ts[w] = b->ts[i], b->open[w] = b->open[i], b->high[w] = b->high[i];
        b->low[w] = b->low[i], b->close[w] = b->close[i], b->volume[w] = b->volume[i];
        if (i == 0) break;
        int64_t k = s_slots(b, i);
        if (k <= 0) continue;
        s_span s = s_missing(&L->judge, tf, b->ts[i - 1], k);
        if (!s.count || (thr > 0 && s.count >= thr)) continue;
        // Flat bars at the previous close on the expected slots, latest first.
        double pc = b->close[i - 1];
        for (int64_t j = k; j >= 1; j--) {
            int64_t t = b->ts[i - 1] + j * tf;
            if (!s_expected(&L->judge, t, tf)) continue;
            w--;
            b->ts[w] = t, b->open[w] = b->high[w] = b->low[w] = b->close[w] = pc, b->volume[w] = 0;
        }
    }
    if (w != 0)
        return s_fail(L, 0, XT_ESTATE, "internal error: gap fill misplaced %lld bars",
                      (long long)w);
    b->n += fill;
    L->rep->rows_filled = fill;
    return 0;
}

// ---------------------------------------------------------------- public

int xt_csv_load(xt_bars *out, xt_csv_report *rep, const char *path, const char *symbol,
                const xt_csv_opts *opts, xt_err *err) {
    xt_csv_opts o = {0};
    xt_csv_report rep_local;
    if (opts) o = *opts;
    if (!rep) rep = &rep_local;
    memset(rep, 0, sizeof *rep);
    memset(out, 0, sizeof *out);
    if (o.format < XT_CSV_AUTO || o.format > XT_CSV_FOREX)
        return xt_err_set(err, XT_EINVAL, "%s: unknown CSV format %d", path, (int)o.format);
    if (o.gaps != XT_GAP_FILL && o.gaps != XT_GAP_REJECT && o.gaps != XT_GAP_KEEP)
        return xt_err_set(err, XT_EINVAL, "%s: unknown gap policy %d", path, (int)o.gaps);
    if (o.tf_sec < 0)
        return xt_err_set(err, XT_EINVAL, "%s: timeframe %d s is negative", path, o.tf_sec);
    int rc = xt_bars_init(out, symbol, o.tf_sec, 0, err);
    if (rc) return rc;
    if (o.cal) out->cal = *o.cal;

    s_load L = {.path = path, .out = out, .rep = rep, .err = err};
    L.rd.f = fopen(path, "rb");
    if (!L.rd.f) {
        xt_bars_free(out);
        return xt_err_set(err, XT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    L.rd.buf = malloc(S_BUF_CAP);
    if (!L.rd.buf) rc = s_fail(&L, 0, XT_ENOMEM, "cannot allocate the read buffer");
    if (!rc) rc = s_parse(&L, o.format);
    fclose(L.rd.f);
    free(L.rd.buf);
    if (!rc) rc = s_timeframe(&L, o.tf_sec);
    int64_t fill = 0, thr = 0;
    if (!rc) {
        s_judge(&L.judge, &out->cal);
        thr = o.closure_bars > 0 ? o.closure_bars : o.closure_bars == 0 ? s_day_bars(&L) : 0;
        rep->closure_bars = thr;
        rc = s_scan_gaps(&L, o.gaps, thr, &fill);
    }
    if (!rc && fill > 0 && o.gaps != XT_GAP_KEEP) rc = s_fill(&L, thr, fill);
    free(L.lines);
    if (rc) {
        xt_bars_free(out);
        return rc;
    }
    if (rep->n_gaps && o.gaps == XT_GAP_KEEP) {
        xt_info("%s: %lld gap%s left as holes (gap policy keep)", path, (long long)rep->n_gaps,
                rep->n_gaps == 1 ? "" : "s");
    } else if (rep->n_gaps) {
        char t0[32];
        xt_info("%s: filled %lld bars in %lld gap%s (longest %lld bars from %s)", path,
                (long long)rep->rows_filled, (long long)rep->n_gaps, rep->n_gaps == 1 ? "" : "s",
                (long long)rep->longest_gap_bars, xt_time_format(rep->longest_gap_start, t0));
    }
    return 0;
}

static const char *s_format_names[] = {"auto", "generic", "binance", "forex"};

const char *xt_csv_format_name(xt_csv_format f) {
    return f >= XT_CSV_AUTO && f <= XT_CSV_FOREX ? s_format_names[f] : "unknown";
}

int xt_csv_format_parse(const char *s, xt_csv_format *f) {
    for (int k = XT_CSV_AUTO; k <= XT_CSV_FOREX; k++)
        if (strcmp(s, s_format_names[k]) == 0) {
            *f = (xt_csv_format)k;
            return 0;
        }
    return XT_EINVAL;
}

const char *xt_gap_policy_name(xt_gap_policy p) {
    return p == XT_GAP_FILL ? "fill" : p == XT_GAP_REJECT ? "reject" : p == XT_GAP_KEEP ? "keep" : "unknown";
}

int xt_gap_policy_parse(const char *s, xt_gap_policy *p) {
    if (strcmp(s, "fill") == 0) *p = XT_GAP_FILL;
    else if (strcmp(s, "reject") == 0) *p = XT_GAP_REJECT;
    else if (strcmp(s, "keep") == 0) *p = XT_GAP_KEEP;
    else return XT_EINVAL;
    return 0;
}
