#!/usr/bin/env bash
# `xtrade data inspect`: reports on good files in each format, exit status 1
# with the file:line sentence for bad data, 2 for bad arguments.
# Usage: bash data_inspect.sh <xtrade-binary> <source-dir>
set -u
XT="$1"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/xt-inspect-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect STATUS STDOUT_SUBSTRING STDERR_SUBSTRING -- ARGS...
expect() {
    local want_rc="$1" want_out="$2" want_err="$3"
    shift 4
    "$XT" data inspect "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" -eq "$want_rc" ] || fail "data inspect $* exited $rc, expected $want_rc: $(cat "$TMP/err")"
    if [ -n "$want_out" ] && ! grep -qF -- "$want_out" "$TMP/out"; then
        fail "data inspect $*: stdout lacks \"$want_out\":"; cat "$TMP/out" >&2
    fi
    if [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$TMP/err"; then
        fail "data inspect $*: stderr lacks \"$want_err\":"; cat "$TMP/err" >&2
    fi
}

# ---- a BTC 15m file with a 3-bar gap (01:00-01:30 missing; next row on line 6)
cat >"$TMP/BTCUSDT-15m.csv" <<'CSV'
timestamp,open,high,low,close,volume
2024-01-01T00:00:00Z,100,101,99,100.5,10
2024-01-01T00:15:00Z,100.5,102,100,101.5,12
2024-01-01T00:30:00Z,101.5,102,101,101,8
2024-01-01T00:45:00Z,101,101.5,100,100,9
2024-01-01T01:45:00Z,100,101,99.5,100.5,11
2024-01-01T02:00:00Z,100.5,101,100,101,7
CSV
expect 0 "symbol      BTCUSDT (crypto calendar)" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "format      generic (header, comma separated)" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "timeframe   15m (inferred)" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "rows        6 read, 3 filled, 9 bars" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "range       2024-01-01T00:00:00Z .. 2024-01-01T02:00:00Z" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "gaps        1 (3 missing bars, filled), longest 3 bars from 2024-01-01T01:00:00Z" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "line 6: 3 bars 2024-01-01T01:00:00Z .. 2024-01-01T01:30:00Z  gap, filled" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "close       min 100  max 101.5  mean 100.5" "" -- "$TMP/BTCUSDT-15m.csv"
expect 0 "timeframe   15m (given)" "" -- "$TMP/BTCUSDT-15m.csv" --timeframe 15m --format generic
expect 1 "" "BTCUSDT-15m.csv:6: gap of 3 bars (2024-01-01T01:00:00Z to 2024-01-01T01:30:00Z) while the market is open" \
    -- "$TMP/BTCUSDT-15m.csv" --gap-policy reject
expect 1 "" "BTCUSDT-15m.csv: rows are most often 15m apart but the timeframe is set to 1h" \
    -- "$TMP/BTCUSDT-15m.csv" --timeframe=1h
expect 1 "" "BTCUSDT-15m.csv:1: expected 12 columns for a Binance kline file, got 6" \
    -- "$TMP/BTCUSDT-15m.csv" --format binance

# ---- Binance dump without header
cat >"$TMP/ETHUSDT-1h-2024-01.csv" <<'CSV'
1704067200000,2281.87,2297.00,2276.52,2295.51,14123.6,1704070799999,32318215.4,29340,7460.2,17067843.9,0
1704070800000,2295.51,2303.45,2290.01,2301.10,9100.2,1704074399999,20901234.1,20012,4600.1,10563345.2,0
1704074400000,2301.10,2310.00,2299.00,2305.00,8800.0,1704077999999,20301234.1,19012,4400.1,10163345.2,0
CSV
expect 0 "format      binance (no header, comma separated)" "" -- "$TMP/ETHUSDT-1h-2024-01.csv"
expect 0 "timeframe   1h (inferred)" "" -- "$TMP/ETHUSDT-1h-2024-01.csv"
expect 0 "symbol      ETHUSDT" "" -- "$TMP/ETHUSDT-1h-2024-01.csv"

# ---- MetaTrader 5 forex export over a weekend: no gap
printf '<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n' >"$TMP/EURUSD_H1.csv"
printf '2024.01.05\t19:00:00\t1.0950\t1.0960\t1.0940\t1.0955\t812\t0\t2\n' >>"$TMP/EURUSD_H1.csv"
printf '2024.01.05\t20:00:00\t1.0955\t1.0962\t1.0949\t1.0951\t640\t0\t2\n' >>"$TMP/EURUSD_H1.csv"
printf '2024.01.08\t00:00:00\t1.0949\t1.0958\t1.0941\t1.0952\t310\t0\t3\n' >>"$TMP/EURUSD_H1.csv"
printf '2024.01.08\t01:00:00\t1.0952\t1.0957\t1.0945\t1.0950\t295\t0\t3\n' >>"$TMP/EURUSD_H1.csv"
expect 0 "symbol      EURUSD (forex calendar)" "" -- "$TMP/EURUSD_H1.csv" --gap-policy reject
expect 0 "format      forex (header, tab separated)" "" -- "$TMP/EURUSD_H1.csv"
expect 0 "gaps        0" "" -- "$TMP/EURUSD_H1.csv"
expect 0 "closures    0" "" -- "$TMP/EURUSD_H1.csv"
expect 0 "symbol      XAUUSD (equity calendar)" "" -- "$TMP/EURUSD_H1.csv" --symbol XAUUSD

# ---- bad data: one sentence naming file, line and field; exit status 1
cat >"$TMP/bad.csv" <<'CSV'
timestamp,open,high,low,close,volume
2024-01-01T00:00:00Z,100,101,99,100.5,10
2024-01-01T00:15:00Z,100,99.5,99,100.2,10
CSV
expect 1 "" "xtrade: $TMP/bad.csv:3: high 99.5 is below max(open, close) = 100.2" -- "$TMP/bad.csv"
printf 'timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.2.3,3\n' >"$TMP/num.csv"
expect 1 "" "num.csv:2: close: cannot parse \"1.2.3\" as a number" -- "$TMP/num.csv"
: >"$TMP/empty.csv"
expect 1 "" "empty.csv: empty file" -- "$TMP/empty.csv"
printf 'just some notes\nnothing to see\n' >"$TMP/notes.csv"
expect 1 "" "notes.csv:1: not a CSV file" -- "$TMP/notes.csv"
head -c 2048 /dev/urandom >"$TMP/random.csv"
expect 1 "" "random.csv" -- "$TMP/random.csv"
expect 1 "" "missing.csv: cannot open" -- "$TMP/missing.csv"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "data errors should be one line on stderr"

# ---- bad arguments: exit status 2, one line with the usage
expect 2 "" "no file given" --
expect 2 "" "--format: unknown format \"json\"" -- "$TMP/bad.csv" --format json
expect 2 "" "--timeframe: expected e.g. 1m, 15m, 1h, 4h, 1d, got \"15x\"" -- "$TMP/bad.csv" --timeframe 15x
expect 2 "" "--gap-policy: expected fill or reject, got \"skip\"" -- "$TMP/bad.csv" --gap-policy skip
expect 2 "" "unknown option \"--frobnicate\"" -- "$TMP/bad.csv" --frobnicate
expect 2 "" "one file at a time" -- "$TMP/bad.csv" "$TMP/num.csv"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "usage errors should be one line on stderr"
expect 2 "" "usage: xtrade data inspect FILE.csv" -- --format
expect 0 "usage: xtrade data inspect" "" -- --help

if [ "$FAILS" -ne 0 ]; then
    echo "data_inspect: $FAILS check(s) failed" >&2
    exit 1
fi
echo "data_inspect: all checks passed"
