// calendar.h - asset classes, trading sessions and market-open calendars.
//
// Sessions (seed 003 §17.2, GMT = UTC, Mon-Fri only):
//   Tokyo 00:00-09:00, London 08:00-16:00, New York 13:00-21:00.
// Crypto trades 24/7; Saturday 00:00-04:00 UTC is its low-liquidity window.
// Equities/indices trade weekdays inside a configurable session
// (default 13:30-20:00 UTC, NYSE regular hours).
//
// Two questions are answered here and kept distinct:
//  - xt_calendar_expects_bar: would a data vendor print a bar at ts? (used to
//    tell a real gap from a weekend/closure when importing CSV)
//  - xt_calendar_tradable:    may the env trade this symbol at ts? (the
//    action mask; a forex pair trades only in its own sessions)
// Pure functions; any thread.
#ifndef XT_CALENDAR_H
#define XT_CALENDAR_H

#include <stdint.h>

typedef enum { XT_ASSET_CRYPTO = 0, XT_ASSET_FOREX, XT_ASSET_EQUITY, XT_ASSET_COUNT } xt_asset_class;

enum {
    XT_SESSION_TOKYO = 1 << 0,
    XT_SESSION_LONDON = 1 << 1,
    XT_SESSION_NEWYORK = 1 << 2,
    XT_SESSION_ALL_FX = 7,
};

typedef struct {
    xt_asset_class cls;
    int sessions;       // forex: bitmask of XT_SESSION_* in which the pair trades
    int equity_open_min;  // equity: session open, minutes after 00:00 UTC
    int equity_close_min; // equity: session close (exclusive)
} xt_calendar;

// Classifies a symbol by name: known crypto tickers (BTC, ETH, SOL, ... or a
// USDT/USDC/BUSD quote) -> crypto; two ISO-4217 currencies (EURUSD, USD/JPY) ->
// forex; anything else -> equity. Returns the class.
xt_asset_class xt_calendar_classify(const char *symbol);
// Default calendar for a symbol: class from the name; forex sessions per seed
// 003 §4.4 (EUR, GBP: London|NY; JPY: Tokyo|London; other pairs: all three).
void xt_calendar_for_symbol(xt_calendar *cal, const char *symbol);
const char *xt_asset_class_name(xt_asset_class cls);
int xt_asset_class_parse(const char *s, xt_asset_class *cls);

// Session membership of a UTC timestamp (XT_SESSION_* bits; 0 on weekends).
int xt_calendar_sessions_at(int64_t ts);
// Crypto low-liquidity window: Saturday 00:00-04:00 UTC.
int xt_calendar_low_liquidity(int64_t ts);
// True when the env may trade the symbol during the bar that opens at ts.
int xt_calendar_tradable(const xt_calendar *cal, int64_t ts);
// True when a vendor would print a bar opening at ts (forex: Mon 00:00 to
// Fri 21:00 UTC; bars outside that, e.g. Sunday evening, are allowed but not expected).
int xt_calendar_expects_bar(const xt_calendar *cal, int64_t ts);

#endif
