// csv.h - import of OHLCV bars from CSV files (DESIGN §3, docs/data-import.md).
//
// Three families, auto-detected from the first line (header or first row):
//   generic  header naming a time column (timestamp|time|date|datetime|...) and
//            open, high, low, close[, volume] in any order, extra columns ignored;
//            or headerless `ts,open,high,low,close[,volume]`. Times are ISO-8601
//            (Z or +HH:MM offsets), "YYYY.MM.DD HH:MM", "DD.MM.YYYY HH:MM:SS.fff"
//            or integer epochs whose unit follows from the magnitude
//            (< 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds, else ns).
//   binance  kline dumps: 12 columns open_time,open,high,low,close,volume,
//            close_time,quote_volume,count,taker_buy_volume,
//            taker_buy_quote_volume,ignore; with or without the header; open_time
//            in ms or (spot since 2025) µs, decided per row by magnitude.
//   forex    MetaTrader 5 export (<DATE>\t<TIME>\t<OPEN>...<TICKVOL>\t<VOL>\t<SPREAD>),
//            MetaTrader 4 history without header (2024.01.02,00:15,o,h,l,c,v),
//            Dukascopy (Gmt time,Open,High,Low,Close,Volume).
// Delimiter: comma, tab or semicolon (the most frequent on the first line);
// with tab or semicolon a decimal comma is accepted. UTF-8 BOM, CRLF line
// endings, quoted fields and blank lines are tolerated.
//
// Every row is checked (DESIGN §3 invariants); the first bad row stops the
// load with one sentence "<path>:<line>: <problem>". Gaps are judged against
// the symbol's calendar: only slots where xt_calendar_expects_bar holds count,
// so weekends and overnight equity closures are never gaps; for equities only
// the session's core (one hour inside each end, open in summer and winter
// time) is required. A hole of at least one trading day of expected bars is
// a market closure (holiday, exchange outage): it loads with a warning under
// either policy and is never filled. Shorter holes follow xt_gap_policy.
#ifndef XT_CSV_H
#define XT_CSV_H

#include "../core/err.h"
#include "bars.h"
#include "calendar.h"

#include <stdint.h>

typedef enum { XT_CSV_AUTO = 0, XT_CSV_GENERIC, XT_CSV_BINANCE, XT_CSV_FOREX } xt_csv_format;

// FILL (the zero value): forward-fill each missing expected bar with
// open = high = low = close = previous close and volume 0.
// REJECT: the first gap fails the load with its line and extent.
// KEEP reports gaps but leaves them as holes (one bar out per row in: `data features`).
typedef enum { XT_GAP_FILL = 0, XT_GAP_REJECT, XT_GAP_KEEP } xt_gap_policy;

typedef struct {
    xt_csv_format format;     // XT_CSV_AUTO: detect from the first line
    xt_gap_policy gaps;       // policy for holes shorter than a closure
    int tf_sec;               // bar length; 0 = the most common spacing between rows
    const xt_calendar *cal;   // NULL: xt_calendar_for_symbol(symbol)
    int closure_bars;         // holes of >= this many expected bars are closures;
                              // 0 = one trading day's worth, < 0 = never (all holes are gaps)
} xt_csv_opts;

// One hole in the data (missing expected bars between two consecutive rows).
typedef struct {
    int64_t first_ts; // first missing expected bar
    int64_t last_ts;  // last missing expected bar
    int64_t bars;     // missing expected bars
    int64_t line;     // file line of the row after the hole
    int closure;      // 1: market closure (warned, not filled)
} xt_csv_hole;

#define XT_CSV_REPORT_HOLES 8

typedef struct {
    xt_csv_format format;      // detected (or forced) format
    char delim;                // ',', '\t' or ';'
    int has_header;
    int has_volume;            // 0: no volume column, volume loaded as 0
    int tf_sec;                // timeframe used (given or inferred)
    int64_t lines;             // lines in the file
    int64_t rows_read;         // data rows parsed
    int64_t rows_filled;       // bars added by the fill policy
    int64_t n_gaps;            // holes shorter than a closure
    int64_t gap_bars;          // missing expected bars in those holes
    int64_t longest_gap_bars;  // 0 when there is no gap
    int64_t longest_gap_start; // first missing bar of the longest gap
    int64_t n_closures;        // holes of at least closure_bars (warned)
    int64_t closure_bars;      // threshold used
    int64_t longest_closure_bars;
    int64_t longest_closure_start;
    int n_holes;                          // entries used in holes[]
    xt_csv_hole holes[XT_CSV_REPORT_HOLES]; // the first holes in file order
} xt_csv_report;

// Loads path into out (caller's storage, initialised here; the caller frees it
// with xt_bars_free on success; on failure it is left empty). symbol names the
// bars and picks the calendar when opts->cal is NULL. opts and rep may be NULL
// (defaults: auto format, fill, inferred timeframe). Returns 0 or a negative
// XT_E* with err = "<path>:<line>: <problem>".
int xt_csv_load(xt_bars *out, xt_csv_report *rep, const char *path, const char *symbol,
                const xt_csv_opts *opts, xt_err *err);

// "auto" | "generic" | "binance" | "forex".
const char *xt_csv_format_name(xt_csv_format f);
// Parses a name above; returns 0, or XT_EINVAL for an unknown name.
int xt_csv_format_parse(const char *s, xt_csv_format *f);
// "fill" | "reject".
const char *xt_gap_policy_name(xt_gap_policy p);
int xt_gap_policy_parse(const char *s, xt_gap_policy *p);

#endif
