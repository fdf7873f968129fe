#!/usr/bin/env bash
# CLI tests of `xtrade config` and `xtrade data synth|features|build`: exit
# codes, the exact error lines for bad arguments and files, and the outputs.
# Usage: data_cli.sh <xtrade-binary> <source-dir>
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0

# expect CODE "needle" cmd...: runs cmd, checks exit code and that stderr+stdout contains needle.
expect() {
  local code=$1 needle=$2
  shift 2
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" != "$code" ] || [[ "$out" != *"$needle"* ]]; then
    echo "FAIL: $* -> exit $rc (want $code), output:"
    echo "$out" | head -5
    echo "  (wanted to contain: $needle)"
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

cd "$tmp"
cat > tiny.yaml <<YAML
run:
  id: clitest
data:
  symbols: [BTCUSD, EURUSD]
  timeframes: [1h]
  start: 2022-01-01
  end: 2023-06-01
  cache_dir: $tmp/cache
env:
  kind: asset
folds:
  mode: explicit
  explicit:
    - {train_start: 2023-01-01, train_end: 2023-03-01, test_start: 2023-03-01, test_end: 2023-06-01}
YAML

# Usage errors.
expect 2 "usage: xtrade" "$bin"
expect 2 "unknown command 'bogus'" "$bin" bogus
expect 2 "unknown or missing subcommand for 'data'" "$bin" data frobnicate
expect 2 "data synth: usage" "$bin" data synth --out x
expect 2 "data synth: unexpected argument '--frob'" "$bin" data synth --frob --config tiny.yaml
expect 2 "data synth: --out needs a value" "$bin" data synth --config tiny.yaml --out
expect 0 "xtrade " "$bin" version

# Config errors name file:line:column and key.
printf 'data:\n  symbols: [BTCUSD, BTCUSD_]\n' > badsym.yaml
expect 1 'badsym.yaml:2:21: data.symbols[1]: unknown symbol "BTCUSD_"' "$bin" data synth --config badsym.yaml --out out
printf 'ppo:\n  n_epoch: 3\n' > typo.yaml
expect 1 'typo.yaml:2:3: ppo.n_epoch: unknown key (did you mean "ppo.n_epochs"?)' "$bin" config --dump typo.yaml
expect 1 "missing.yaml: cannot open" "$bin" config --dump missing.yaml
expect 2 'ppo.lr: must be between 0 and 1 (got 7)' "$bin" config --dump tiny.yaml --set ppo.lr=7
expect 0 'lr: 0.001' "$bin" config --dump tiny.yaml --set ppo.lr=0.001

# synth -> features round trip.
expect 0 "generated" "$bin" data synth --config tiny.yaml --out mkt
[ -s mkt/BTCUSD.csv ] && [ -s mkt/EURUSD.csv ] || { echo "FAIL: synth wrote no CSV"; fails=$((fails + 1)); }
head -1 mkt/BTCUSD.csv | grep -qx "timestamp,open,high,low,close,volume" || { echo "FAIL: synth header"; fails=$((fails + 1)); }
expect 0 "rows" "$bin" data features --input mkt/EURUSD.csv --out eur_feat.csv
in_rows=$(($(wc -l < mkt/EURUSD.csv) - 1))
out_rows=$(($(wc -l < eur_feat.csv) - 1))
if [ "$in_rows" != "$out_rows" ]; then echo "FAIL: features wrote $out_rows rows for $in_rows input rows"; fails=$((fails + 1)); fi
hdr=$(head -1 eur_feat.csv)
want="timestamp,open,high,low,close,volume,sma_20,ema_50,rsi_14,atr_14,adx_14,plus_di_14,minus_di_14,macd,macd_signal,macd_hist,bb_lower,bb_mid,bb_upper,bb_width,cci_20,stoch_fastk,stoch_fastd,stoch_slowd,obv,volume_sma_20"
[ "$hdr" = "$want" ] || { echo "FAIL: features header: $hdr"; fails=$((fails + 1)); }
# Every row has 26 fields; ema_50 (column 8) is empty for the first 49 rows and set from row 50.
awk -F, 'NR > 1 && NF != 26 { bad = 1 } NR >= 2 && NR <= 50 && $8 != "" { bad = 1 } NR == 51 && $8 == "" { bad = 1 } END { exit bad }' eur_feat.csv \
  || { echo "FAIL: features column layout or warm-up"; fails=$((fails + 1)); }
# Bad inputs to features.
expect 1 "not a CSV" "$bin" data features --input /bin/sh --out x.csv
: > empty.csv
expect 1 "empty" "$bin" data features --input empty.csv --out x.csv
expect 1 "nonexistent.csv" "$bin" data features --input nonexistent.csv --out x.csv
expect 2 "--format xml: expected auto, generic, binance or forex" "$bin" data features --input mkt/BTCUSD.csv --out x.csv --format xml

# build: caches for every shard and fold, then reuse.
expect 0 "built 2 cache files (0 up to date)" "$bin" data build --config tiny.yaml
expect 0 "built 0 cache files (2 up to date)" "$bin" data build --config tiny.yaml
expect 0 "built 2 cache files (0 up to date)" "$bin" data build --config tiny.yaml --force
[ -s cache/BTCUSD-1h-f0.xtfc ] && [ -s cache/EURUSD-1h-f0.xtfc ] || { echo "FAIL: cache files missing"; fails=$((fails + 1)); }
printf 'data:\n  source: csv\n  csv_dir: %s/none\n  symbols: [BTCUSD]\n  start: 2022-01-01\n  end: 2023-06-01\nfolds:\n  mode: explicit\n  explicit: [{train_start: 2023-01-01, train_end: 2023-03-01, test_start: 2023-03-01, test_end: 2023-06-01}]\n' "$tmp" > nocsv.yaml
expect 1 'nocsv.yaml:4:13: data.symbols[0]: no file' "$bin" data build --config nocsv.yaml
# CSV source from the synthesized files builds too.
printf 'data:\n  source: csv\n  csv_dir: %s/mkt\n  symbols: [BTCUSD, EURUSD]\n  timeframes: [1h]\n  start: 2022-01-01\n  end: 2023-06-01\n  cache_dir: %s/cache2\nenv:\n  kind: portfolio\nfolds:\n  mode: explicit\n  explicit: [{train_start: 2023-01-01, train_end: 2023-03-01, test_start: 2023-03-01, test_end: 2023-06-01}]\n' "$tmp" "$tmp" > csv.yaml
expect 0 "built 1 cache file " "$bin" data build --config csv.yaml
[ -s cache2/portfolio-1h-f0.xtfc ] || { echo "FAIL: portfolio cache missing"; fails=$((fails + 1)); }

echo "data_cli: $pass passed, $fails failed"
[ "$fails" = 0 ]
