// calendar.c - session and market-hours rules; pure functions of a timestamp.
#include "calendar.h"

#include "../core/xtime.h"

#include <ctype.h>
#include <string.h>

// ---------------------------------------------------------------- classification

static const char *s_crypto[] = {"BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "DOT",
                                 "AVAX", "LTC", "LINK", "MATIC", "TRX", "XBT", NULL};
static const char *s_fiat[] = {"USD", "EUR", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD",
                               "SEK", "NOK", "DKK", "SGD", "HKD", "MXN", "ZAR", "TRY",
                               "CNH", "PLN", NULL};

static int s_in(const char *s, int n, const char **list) {
    for (int i = 0; list[i]; i++)
        if ((int)strlen(list[i]) == n && strncmp(s, list[i], (size_t)n) == 0) return 1;
    return 0;
}

// Copies the symbol upper-cased without '/', '-', '_' separators.
static int s_norm(const char *sym, char out[32]) {
    int n = 0;
    for (; *sym && n < 31; sym++) {
        if (*sym == '/' || *sym == '-' || *sym == '_') continue;
        out[n++] = (char)toupper((unsigned char)*sym);
    }
    out[n] = '\0';
    return n;
}

xt_asset_class xt_calendar_classify(const char *symbol) {
    char s[32];
    int n = s_norm(symbol, s);
    for (int i = 0; s_crypto[i]; i++) {
        int k = (int)strlen(s_crypto[i]);
        if (n >= k && strncmp(s, s_crypto[i], (size_t)k) == 0) return XT_ASSET_CRYPTO;
    }
    if (n > 4 && (strcmp(s + n - 4, "USDT") == 0 || strcmp(s + n - 4, "USDC") == 0 ||
                  strcmp(s + n - 4, "BUSD") == 0))
        return XT_ASSET_CRYPTO;
    if (n == 6 && s_in(s, 3, s_fiat) && s_in(s + 3, 3, s_fiat)) return XT_ASSET_FOREX;
    return XT_ASSET_EQUITY;
}

void xt_calendar_for_symbol(xt_calendar *cal, const char *symbol) {
    char s[32];
    s_norm(symbol, s);
    cal->cls = xt_calendar_classify(symbol);
    cal->sessions = XT_SESSION_ALL_FX;
    cal->equity_open_min = 13 * 60 + 30;
    cal->equity_close_min = 20 * 60;
    if (cal->cls != XT_ASSET_FOREX) return;
    if (strstr(s, "JPY")) cal->sessions = XT_SESSION_TOKYO | XT_SESSION_LONDON;
    else if (strstr(s, "EUR") || strstr(s, "GBP"))
        cal->sessions = XT_SESSION_LONDON | XT_SESSION_NEWYORK;
}

const char *xt_asset_class_name(xt_asset_class cls) {
    switch (cls) {
    case XT_ASSET_CRYPTO: return "crypto";
    case XT_ASSET_FOREX: return "forex";
    case XT_ASSET_EQUITY: return "equity";
    default: return "unknown";
    }
}

int xt_asset_class_parse(const char *s, xt_asset_class *cls) {
    for (int c = 0; c < XT_ASSET_COUNT; c++)
        if (strcmp(s, xt_asset_class_name((xt_asset_class)c)) == 0) {
            *cls = (xt_asset_class)c;
            return 0;
        }
    return -1;
}

// ---------------------------------------------------------------- sessions

int xt_calendar_sessions_at(int64_t ts) {
    if (xt_time_weekday(ts) >= 5) return 0;
    int h = xt_time_hour(ts), m = 0;
    if (h < 9) m |= XT_SESSION_TOKYO;
    if (h >= 8 && h < 16) m |= XT_SESSION_LONDON;
    if (h >= 13 && h < 21) m |= XT_SESSION_NEWYORK;
    return m;
}

int xt_calendar_low_liquidity(int64_t ts) { return xt_time_weekday(ts) == 5 && xt_time_hour(ts) < 4; }

static int s_equity_open(const xt_calendar *cal, int64_t ts) {
    if (xt_time_weekday(ts) >= 5) return 0;
    int m = xt_time_minute_of_day(ts);
    return m >= cal->equity_open_min && m < cal->equity_close_min;
}

int xt_calendar_tradable(const xt_calendar *cal, int64_t ts) {
    switch (cal->cls) {
    case XT_ASSET_CRYPTO: return 1;
    case XT_ASSET_FOREX: return (xt_calendar_sessions_at(ts) & cal->sessions) != 0;
    case XT_ASSET_EQUITY: return s_equity_open(cal, ts);
    default: return 0;
    }
}

int xt_calendar_expects_bar(const xt_calendar *cal, int64_t ts) {
    switch (cal->cls) {
    case XT_ASSET_CRYPTO: return 1;
    case XT_ASSET_FOREX: {
        int wd = xt_time_weekday(ts);
        if (wd >= 5) return 0;
        return !(wd == 4 && xt_time_hour(ts) >= 21);
    }
    case XT_ASSET_EQUITY: return s_equity_open(cal, ts);
    default: return 0;
    }
}
