#!/usr/bin/env bash
# CLI tests of `xtrade env replay` and `xtrade env baseline` on the tiny
# synthetic config (BTCUSD + EURUSD, 1h; caches build in well under a second):
# an all-flat file keeps equity constant with all-zero metrics (never NaN);
# a buy-and-hold file (risk rules off) reproduces the buy_hold baseline
# printed by `env baseline` (asset env, by position and by level index) and
# with stops re-enters after each stop; a replay's own
# output is a valid action file that replays to the same steps; a portfolio
# file that changes the EURUSD weight on a Saturday leaves that weight
# unchanged until the London session opens; and every bad input gives its own
# one-line message with exit 2 (usage) or 1 (config, data or action file).
# Usage: env_cli.sh <xtrade-binary> <source-dir>
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# expect CODE "needle" cmd...: exit code, needle in the output, and exactly one
# "xtrade: " error line on stderr when CODE is not 0.
expect() {
  local code=$1 needle=$2
  shift 2
  local out rc nerr
  out=$("$@" 2>"$tmp/stderr")
  rc=$?
  out="$out$(cat "$tmp/stderr")"
  nerr=$(grep -c '^xtrade: ' "$tmp/stderr")
  if [ "$rc" != "$code" ] || [[ "$out" != *"$needle"* ]] || { [ "$code" != 0 ] && [ "$nerr" != 1 ]; }; then
    echo "FAIL: $* -> exit $rc (want $code), $nerr error lines, output:"
    echo "$out" | tail -5
    echo "  (wanted to contain: $needle)"
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

# json_num FILE KEY: a number of the metrics JSON object.
json_num() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }

cd "$tmp"
cp "$src/configs/tiny.yaml" tiny.yaml
base=(--config tiny.yaml --set "data.cache_dir=$tmp/cache")
replay() { "$bin" env replay "${base[@]}" "$@"; }

# ---- env baseline: the table, every strategy of every shard
"$bin" env baseline "${base[@]}" > base.txt 2> base.err || { fail "env baseline exited $?"; tail -3 base.err; }
grep -q '^baselines: fold 0, test window 2023-04-15T00:00:00Z .. 2023-06-01T00:00:00Z, env.kind asset$' base.txt \
  || fail "baseline title"
head -2 base.txt | tail -1 | grep -q '^shard  *tf  *strategy  *return%  *annual%  *vol%  *sharpe  *sortino  *maxdd%  *calmar  *trades  *turnover  *fees/gross%$' \
  || fail "baseline header"
[ "$(grep -c '^BTCUSD  *1h \|^EURUSD  *1h ' base.txt)" = 6 ] || fail "want 3 strategies x 2 shards"
# cash: every figure 0, never nan
grep '^BTCUSD  *1h  *cash ' base.txt | grep -qE '^BTCUSD +1h +cash( +0\.0000){7} +0( +0\.0000){2}$' || fail "cash baseline not all zero"
grep -qi 'nan\|inf' base.txt && fail "nan or inf in the baseline table"
# base_col SHARD STRATEGY N: column N of that row
base_col() { awk -v s="$1" -v k="$2" -v n="$3" '$1 == s && $3 == k {print $n}' base.txt; }
pass=$((pass + 1))

# ---- all flat: an empty action file (header only) and explicit zeros
printf 'timestamp,position\n' > flat.csv
replay --symbol BTCUSD --timeframe 1h --actions flat.csv --out flat_out.csv > flat.json 2> flat.err \
  || { fail "flat replay exited $?"; tail -3 flat.err; }
head -1 flat_out.csv | grep -qx 'timestamp,action,position,units,fill_price,stop_price,liq_price,fee,slippage,equity,reward,terminated,truncated,reason,masked,skipped,line' \
  || fail "asset replay CSV header"
rows=$(($(wc -l < flat_out.csv) - 1))
[ "$rows" -gt 1000 ] || fail "flat replay wrote $rows rows"
[ "$(json_num flat.json steps)" = "$rows" ] || fail "steps $(json_num flat.json steps) != $rows rows"
[ "$(cut -d, -f10 flat_out.csv | tail -n +2 | sort -u)" = 10000 ] || fail "flat equity is not constant 10000"
tail -1 flat_out.csv | grep -q ',0,1,end,0,0,0$' || fail "last flat row is not truncated with reason end"
for k in total_return annual_return annual_vol sharpe sortino max_drawdown calmar trades fills fees turnover; do
  [ "$(json_num flat.json $k)" = 0 ] || fail "flat $k = $(json_num flat.json $k), want 0"
done
grep -qi 'nan\|inf' flat.json && fail "nan or inf in the flat metrics"
first=$(sed -n 2p flat_out.csv | cut -d, -f1)   # the first step's fill bar
[ "$first" = 2023-04-15T01:00:00Z ] || fail "first step fills at $first"
printf 'timestamp,position\n%s,0\n2023-05-01T00:00:00Z,0\n' "$first" > zeros.csv
replay --symbol BTCUSD --timeframe 1h --actions zeros.csv --out zeros_out.csv > zeros.json 2>/dev/null
cmp -s flat.json zeros.json || fail "explicit zero positions differ from the empty file"
pass=$((pass + 1))

# ---- buy-and-hold reproduces the buy_hold baseline (a textbook baseline: no stops, no terminal rules)
norisk=(--set env.stop_loss_atr=0 --set env.take_profit_atr=0 --set env.max_drawdown=1 --set env.bankrupt_fraction=0)
printf 'timestamp,position\n%s,1\n' "$first" > bh.csv
replay --symbol BTCUSD --timeframe 1h --actions bh.csv --out bh_out.csv "${norisk[@]}" > bh.json 2>/dev/null \
  || fail "bh replay exited $?"
want=$(base_col BTCUSD buy_hold 4)
got=$(awk -v x="$(json_num bh.json total_return)" 'BEGIN {printf "%.4f", 100 * x}')
[ -n "$want" ] && [ "$got" = "$want" ] || fail "BTCUSD buy-and-hold return $got%, baseline printed $want%"
got=$(awk -v x="$(json_num bh.json sharpe)" 'BEGIN {printf "%.4f", x}')
[ "$got" = "$(base_col BTCUSD buy_hold 7)" ] || fail "BTCUSD buy-and-hold sharpe $got, baseline $(base_col BTCUSD buy_hold 7)"
[ "$(json_num bh.json trades)" = 0 ] && [ "$(json_num bh.json fills)" = 1 ] || fail "BTCUSD buy-and-hold is not one fill"
awk -F, 'NR > 1 && ($2 != 1 || $3 != 1) {bad = 1} END {exit bad}' bh_out.csv || fail "target not held after the only line"
# with the configured stops the same file is stopped out and re-enters: the target is kept
replay --symbol BTCUSD --timeframe 1h --actions bh.csv --out bhs_out.csv > bhs.json 2>/dev/null
grep -q ',stop_loss,' bhs_out.csv || fail "no stop-loss in the walk with stops (test data changed?)"
awk -F, 'NR > 1 && $2 != 1 {bad = 1} NR > 1 && prev == "stop_loss" && $5 != "" {re = 1} {prev = $14}
  END {exit bad || !re}' bhs_out.csv || fail "target not kept, or no re-entry right after a stop"
[ "$(json_num bhs.json trades)" -gt 1 ] || fail "no round trips with stops"
# EURUSD by level index (4 = level 1); the forex shard has no weekend rows
printf 'timestamp,position\n' > e_flat.csv
replay --symbol EURUSD --timeframe 1h --actions e_flat.csv --out e_flat_out.csv > /dev/null 2>&1
efirst=$(sed -n 2p e_flat_out.csv | cut -d, -f1)
[ "$efirst" = 2023-04-17T01:00:00Z ] || fail "EURUSD first step $efirst"
printf 'timestamp,level\n%s,4\n' "$efirst" > ebh.csv
replay --symbol EURUSD --timeframe 1h --actions ebh.csv --out ebh_out.csv "${norisk[@]}" > ebh.json 2>/dev/null \
  || fail "EURUSD replay exited $?"
got=$(awk -v x="$(json_num ebh.json total_return)" 'BEGIN {printf "%.4f", 100 * x}')
[ "$got" = "$(base_col EURUSD buy_hold 4)" ] || fail "EURUSD buy-and-hold return $got%, baseline $(base_col EURUSD buy_hold 4)%"
# the masked column: a target set while the session is closed waits for the open
grep -q ',1,0,[0-9]*$' ebh_out.csv || fail "EURUSD: no masked step (first step at 01:00 is outside London|NY)"
pass=$((pass + 1))

# ---- a replay's output is an action file: the same steps again (the line column aside)
{ echo timestamp,position; tail -n +2 bh_out.csv | cut -d, -f1,2; } > again.csv
replay --symbol BTCUSD --timeframe 1h --actions again.csv --out again_out.csv "${norisk[@]}" > again.json 2>/dev/null
cmp -s bh.json again.json || fail "replaying the output changed the metrics"
cmp -s <(cut -d, -f1-16 bh_out.csv) <(cut -d, -f1-16 again_out.csv) || fail "replaying the output changed the steps"
pass=$((pass + 1))

# ---- portfolio: EURUSD weight changed on a Saturday stays until London opens on Monday
nostop=(--set env.stop_loss_atr=0 --set env.take_profit_atr=0)
printf 'timestamp,BTCUSD,EURUSD,cash\n%s,0.3,0.3,0.4\n2023-04-22T02:00:00Z,0.3,0.1,0.6\n' "$first" > pw.csv
replay --symbol ALL --timeframe 1h --actions pw.csv --out pw_out.csv "${nostop[@]}" > pw.json 2>pw.err \
  || { fail "portfolio replay exited $?"; tail -3 pw.err; }
head -1 pw_out.csv | grep -qx 'timestamp,req_BTCUSD,req_EURUSD,req_cash,w_BTCUSD,w_EURUSD,w_cash,fill_BTCUSD,fill_EURUSD,stop_BTCUSD,stop_EURUSD,fee,slippage,equity,reward,terminated,truncated,reason,line' \
  || fail "portfolio replay CSV header"
row() { grep "^$1," pw_out.csv; }
# Saturday 2023-04-15: EURUSD masked, no fill, weight 0 although 0.3 was asked
row "$first" | awk -F, '$3 != 0.3 || $6 != 0 || $9 != "" {exit 1}' || fail "EURUSD traded on Saturday 04-15: $(row "$first")"
# Monday 08:00 (London open): the 0.3 target is filled
row 2023-04-17T07:00:00Z | awk -F, '$6 != 0 || $9 != "" {exit 1}' || fail "EURUSD traded before London opened"
row 2023-04-17T08:00:00Z | awk -F, '$6 != 0.3 || $9 == "" {exit 1}' || fail "EURUSD not bought at the London open"
# Saturday 2023-04-22: 0.1 asked, the held weight (~0.3) is unchanged, no EURUSD fill
for t in 2023-04-22T02:00:00Z 2023-04-22T12:00:00Z 2023-04-24T07:00:00Z; do
  row $t | awk -F, '$3 != 0.1 || $6 < 0.28 || $6 > 0.32 || $9 != "" {exit 1}' || fail "EURUSD weight not kept at $t: $(row $t)"
done
row 2023-04-24T08:00:00Z | awk -F, '$6 != 0.1 || $9 == "" {exit 1}' || fail "EURUSD not sold to 0.1 at Monday's London open"
# every executed weight within the caps, cash above the floor
awk -F, 'NR > 1 && ($5 > 0.4 + 1e-12 || $6 > 0.4 + 1e-12 || $7 < 0.05 - 1e-12) {exit 1}' pw_out.csv || fail "constraint broken"
pass=$((pass + 1))
# all cash: constant equity, zero metrics
printf 'timestamp,cash,EURUSD,BTCUSD\n%s,1,0,0\n' "$first" > pc.csv
replay --symbol ALL --timeframe 1h --actions pc.csv --out pc_out.csv > pc.json 2>/dev/null || fail "cash replay exited $?"
[ "$(cut -d, -f14 pc_out.csv | tail -n +2 | sort -u)" = 10000 ] || fail "all-cash portfolio equity not constant"
[ "$(json_num pc.json sharpe)" = 0 ] && [ "$(json_num pc.json max_drawdown)" = 0 ] || fail "all-cash metrics not zero"
pass=$((pass + 1))

# ---- usage errors: exit 2
ra=(--symbol BTCUSD --timeframe 1h --actions flat.csv --out o.csv)
expect 2 "env replay: usage: xtrade env replay --config FILE --symbol SYM|ALL" "$bin" env replay "${base[@]}" --symbol BTCUSD
expect 2 "env replay: unexpected argument '--frob'" "$bin" env replay "${base[@]}" "${ra[@]}" --frob
expect 2 "env replay: --window week: expected train, validation, test or all" "$bin" env replay "${base[@]}" "${ra[@]}" --window week
expect 2 "env replay: --timeframe 7x: not a timeframe" "$bin" env replay "${base[@]}" --symbol BTCUSD --timeframe 7x --actions flat.csv --out o.csv
expect 2 "env replay: --fold -1: expected a fold index >= 0" "$bin" env replay "${base[@]}" "${ra[@]}" --fold -1
expect 2 "env replay: --out needs a value" "$bin" env replay "${base[@]}" --out
expect 2 "env baseline: usage: xtrade env baseline --config FILE" "$bin" env baseline
expect 2 "env baseline: unexpected argument '--symbol'" "$bin" env baseline "${base[@]}" --symbol BTCUSD
expect 2 "unknown or missing subcommand for 'env'" "$bin" env frob

# ---- config and data errors: exit 1
expect 1 "env replay: --symbol XRPUSD: not in data.symbols of tiny.yaml (BTCUSD, EURUSD; or ALL for the portfolio env)" \
  "$bin" env replay "${base[@]}" --symbol XRPUSD --timeframe 1h --actions flat.csv --out o.csv
expect 1 "env replay: --timeframe 4h: not in data.timeframes of tiny.yaml (1h)" \
  "$bin" env replay "${base[@]}" --symbol BTCUSD --timeframe 4h --actions flat.csv --out o.csv
expect 1 "env replay: --fold 5: the config's plan has 2 folds (0..1)" "$bin" env replay "${base[@]}" "${ra[@]}" --fold 5
expect 1 "env replay: shard BTCUSD-1h: the validation window of fold 0 has fewer than 2 usable rows" \
  "$bin" env replay "${base[@]}" "${ra[@]}" --window validation --set ppo.validation_fraction=0
expect 1 "env baseline: shard BTCUSD-1h: the validation window of fold 0 has fewer than 2 usable rows" \
  "$bin" env baseline "${base[@]}" --window validation --set ppo.validation_fraction=0
expect 1 "nothere.csv: cannot open" "$bin" env replay "${base[@]}" --symbol BTCUSD --timeframe 1h --actions nothere.csv --out o.csv

# bad action files: bad NAME 'contents' "message" [symbol]
bad() {
  printf "$2" > "$1.csv"
  expect 1 "$3" "$bin" env replay "${base[@]}" --symbol "${4:-BTCUSD}" --timeframe 1h --actions "$1.csv" --out o.csv
}
bad empty '\n\n' 'empty.csv: empty file (expected the header line "timestamp,position" or "timestamp,level")'
bad hdr 'time,position\n' 'hdr.csv:1: column 1: header must start with "timestamp"'
bad hdr2 'timestamp,weight\n' 'hdr2.csv:1: header: expected "timestamp,position" or "timestamp,level" (got 2 columns)'
bad cols 'timestamp,position\n2023-04-15T01:00:00Z,1,2\n' 'cols.csv:2: 3 columns, the header has 2'
bad ts 'timestamp,position\n2023-04-15T01:00:00Z,1\n\nyesterday,0\n' \
  'ts.csv:4: column 1 (timestamp): cannot parse "yesterday" (expected ISO 8601 UTC or Unix seconds)'
bad order 'timestamp,position\n2023-04-16T00:00:00Z,1\n2023-04-15T05:00:00Z,0\n' \
  "order.csv:3: column 1 (timestamp): 2023-04-15T05:00:00Z is not after line 2's 2023-04-16T00:00:00Z (timestamps must increase)"
bad dup 'timestamp,position\n2023-04-16T00:00:00Z,1\n2023-04-16T00:00:00Z,0\n' "dup.csv:3: column 1 (timestamp): 2023-04-16T00:00:00Z is not after line 2's"
bad outside 'timestamp,position\n2023-06-01T00:00:00Z,1\n' \
  'outside.csv:2: column 1 (timestamp): 2023-06-01T00:00:00Z is outside the BTCUSD-1h test window, whose steps fill at 2023-04-15T01:00:00Z .. 2023-05-31T23:00:00Z'
bad opening 'timestamp,position\n2023-04-15T00:00:00Z,1\n' \
  "opening.csv:2: column 1 (timestamp): 2023-04-15T00:00:00Z is the BTCUSD-1h test window's first usable bar, which only opens the episode; its first step fills at 2023-04-15T01:00:00Z"
bad between 'timestamp,position\n2023-04-20T10:30:00Z,1\n' \
  'between.csv:2: column 1 (timestamp): no bar of the BTCUSD-1h test window opens at 2023-04-20T10:30:00Z'
bad weekend 'timestamp,position\n2023-04-22T12:00:00Z,1\n' \
  'weekend.csv:2: column 1 (timestamp): no bar of the EURUSD-1h test window opens at 2023-04-22T12:00:00Z' EURUSD
bad level 'timestamp,position\n2023-04-16T00:00:00Z,0.7\n' \
  'level.csv:2: column 2 (position): 0.7 is not one of the configured levels (-1, -0.5, 0, 0.5, 1)'
bad index 'timestamp,level\n2023-04-16T00:00:00Z,5\n' 'index.csv:2: column 2 (level): 5 is not a level index (0..4)'
bad num 'timestamp,position\n2023-04-16T00:00:00Z,one\n' 'num.csv:2: column 2 (position): cannot parse "one" as a number'
bad unix 'timestamp,position\n1681520400,1\n1681520400,0\n' "unix.csv:3: column 1 (timestamp): 2023-04-15T01:00:00Z is not after line 2's"
# long-only configs drop the negative levels
printf 'timestamp,position\n2023-04-16T00:00:00Z,-1\n' > short.csv
expect 1 'short.csv:2: column 2 (position): -1 is not one of the configured levels (0, 0.5, 1)' \
  "$bin" env replay "${base[@]}" --set env.long_only=true --symbol BTCUSD --timeframe 1h --actions short.csv --out o.csv
# portfolio files
P='timestamp,BTCUSD,EURUSD,cash\n'
bad pcol 'timestamp,BTCUSD,XRPUSD,cash\n' \
  'pcol.csv:1: column 3: "XRPUSD" is not an asset of the portfolio (expected "timestamp,BTCUSD,EURUSD,cash")' ALL
bad pmiss 'timestamp,BTCUSD,EURUSD\n' 'pmiss.csv:1: header: no column for cash (expected "timestamp,BTCUSD,EURUSD,cash")' ALL
bad ptwice 'timestamp,BTCUSD,EURUSD,cash,BTCUSD\n' 'ptwice.csv:1: column 5: "BTCUSD" appears twice' ALL
bad pcount "${P}2023-04-16T00:00:00Z,0.5,0.5\n" 'pcount.csv:2: 3 columns, the header has 4' ALL
bad pparse "${P}2023-04-16T00:00:00Z,0.5,0.x,0.5\n" 'pparse.csv:2: column 3 (EURUSD): cannot parse "0.x" as a weight' ALL
bad pnan "${P}2023-04-16T00:00:00Z,nan,0.5,0.5\n" 'pnan.csv:2: column 2 (BTCUSD): cannot parse "nan" as a weight' ALL
bad pneg "${P}2023-04-16T00:00:00Z,0.6,-0.1,0.5\n" \
  'pneg.csv:2: column 3 (EURUSD): negative weight -0.1 (weights are fractions of equity, >= 0)' ALL
bad psum "${P}2023-04-16T00:00:00Z,0.5,0.5,0.5\n" 'psum.csv:2: weights sum to 1.5, not 1 (tolerance 0.0001)' ALL
bad pord "${P}2023-04-16T00:00:00Z,0.5,0,0.5\n2023-04-16T00:00:00Z,0.5,0,0.5\n" \
  "pord.csv:3: column 1 (timestamp): 2023-04-16T00:00:00Z is not after line 2's" ALL
[ -e o.csv ] && fail "a failed replay wrote its output file"

echo "env_cli: $pass passed, $fails failed"
[ "$fails" = 0 ]
