#!/usr/bin/env bash
# CLI tests of `xtrade train --local` and `xtrade eval --checkpoint`: a tiny
# walk-forward run (2 folds, seconds), its files, eval reproducing the printed
# test metrics and the metrics/CSV files byte for byte, and one error line
# with exit 2 (usage) or 1 (bad file or data) for bad arguments and checkpoints.
# Usage: train_cli.sh <xtrade-binary> <source-dir>
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

cd "$tmp"
cp "$src/configs/tiny.yaml" tiny.yaml
set_cache=(--set "data.cache_dir=$tmp/cache")

# ---- train both folds of the tiny config
"$bin" train --local --config tiny.yaml "${set_cache[@]}" --out runs > train.out 2> train.err
rc=$?
[ "$rc" = 0 ] || { fail "train exited $rc"; tail -5 train.err; }
grep -q '^fold 0 | step 8192/8192 | .* steps/s | update 8 | ' train.out || fail "no final progress line of fold 0"
grep -q '^fold 1 | step 8192/8192 ' train.out || fail "no final progress line of fold 1"
grep -q 'policy .* value .* entropy .* kl .* clip .* ev ' train.out || fail "progress line lacks the PPO statistics"
for k in 0 1; do
  d=runs/tiny/fold-$k
  [ -s $d/ckpt-best.xtck ] && [ -s $d/ckpt-8192.xtck ] || fail "fold $k checkpoints missing"
  [ -s $d/eval/metrics.json ] || fail "fold $k metrics.json missing"
  for s in BTCUSD-1h EURUSD-1h; do
    [ -s $d/eval/$s.csv ] || fail "fold $k $s.csv missing"
  done
  # the test table of fold k as train printed it
  awk -v k=$k '$0 ~ "^test metrics: fold "k"," {on=1} on {print} on && /digest/ {exit}' train.out > train_table_$k.txt
  [ "$(wc -l < train_table_$k.txt)" = 11 ] || fail "fold $k test table has $(wc -l < train_table_$k.txt) lines, want 11"
done
[ -s runs/tiny/config.yaml ] || fail "frozen config missing"
head -1 runs/tiny/fold-0/eval/BTCUSD-1h.csv | grep -qx 'timestamp,position,equity,reward,fee,slippage,trades,reason' \
  || fail "eval CSV header"
grep -q '"agent":{"steps":' runs/tiny/fold-0/eval/metrics.json || fail "metrics.json has no agent metrics"
grep -q '"buy_hold":{' runs/tiny/fold-0/eval/metrics.json || fail "metrics.json has no buy_hold baseline"
pass=$((pass + 1))

# ---- eval reproduces every printed number and every file, bit for bit
for k in 0 1; do
  "$bin" eval --checkpoint runs/tiny/fold-$k/ckpt-best.xtck --config tiny.yaml "${set_cache[@]}" --out ev$k > eval_$k.out 2>&1
  rc=$?
  [ "$rc" = 0 ] || { fail "eval fold $k exited $rc"; tail -3 eval_$k.out; }
  grep -v ' INFO \| DEBUG ' eval_$k.out > eval_table_$k.txt
  if cmp -s train_table_$k.txt eval_table_$k.txt; then pass=$((pass + 1)); else
    fail "eval of fold $k printed other test metrics than train"
    diff train_table_$k.txt eval_table_$k.txt | head -6
  fi
  for f in metrics.json BTCUSD-1h.csv EURUSD-1h.csv; do
    cmp -s runs/tiny/fold-$k/eval/$f ev$k/$f || fail "eval fold $k: $f differs from train's"
  done
done
# --fold given explicitly is the same as the checkpoint's own
expect 0 "test metrics: fold 1," "$bin" eval --checkpoint runs/tiny/fold-1/ckpt-best.xtck --config tiny.yaml "${set_cache[@]}" --fold 1

# warm start: fold 1 starts from fold 0's best weights; without validation the best is the final
"$bin" train --local --config tiny.yaml "${set_cache[@]}" --set folds.warm_start=true --set ppo.eval_every=0 \
  --out runs2 > warm.out 2>&1 || fail "warm-start train exited $?"
grep -q "^fold 1: warm start from runs2/tiny/fold-0/ckpt-best.xtck" warm.out || fail "no warm start line"
grep -q "^fold 0 | best checkpoint runs2/tiny/fold-0/ckpt-best.xtck (final weights: no validation)" warm.out \
  || fail "no-validation best checkpoint line"
pass=$((pass + 1))

# ---- usage errors: exit 2
expect 2 "train: --local is required" "$bin" train --config tiny.yaml
expect 2 "train: usage: xtrade train --local --config FILE" "$bin" train --local
expect 2 "train: unexpected argument '--frob'" "$bin" train --local --frob --config tiny.yaml
expect 2 "train: --fold x: expected a fold index >= 0" "$bin" train --local --config tiny.yaml --fold x
expect 2 "train: --config needs a value" "$bin" train --local --config
expect 2 "ppo.lr: must be between 0 and 1 (got 9)" "$bin" train --local --config tiny.yaml --set ppo.lr=9
expect 2 "eval: usage: xtrade eval --checkpoint FILE --config FILE" "$bin" eval --config tiny.yaml
expect 2 "eval: unexpected argument '--local'" "$bin" eval --local --checkpoint x --config tiny.yaml

# ---- bad files and data: exit 1
expect 1 "--fold 5: the config's plan has 2 folds (0..1)" "$bin" train --local --config tiny.yaml "${set_cache[@]}" --fold 5
expect 1 "missing.yaml: cannot open" "$bin" train --local --config missing.yaml
expect 1 "nothere.xtck" "$bin" eval --checkpoint nothere.xtck --config tiny.yaml "${set_cache[@]}"
cp runs/tiny/fold-0/ckpt-best.xtck bad.xtck
printf '\x01' | dd of=bad.xtck bs=1 seek=700 conv=notrunc status=none
expect 1 "bad.xtck: crc mismatch" "$bin" eval --checkpoint bad.xtck --config tiny.yaml "${set_cache[@]}"
head -c 1000 runs/tiny/fold-0/ckpt-best.xtck > short.xtck
expect 1 "short.xtck" "$bin" eval --checkpoint short.xtck --config tiny.yaml "${set_cache[@]}"
expect 1 "tiny.yaml" "$bin" eval --checkpoint tiny.yaml --config tiny.yaml "${set_cache[@]}"
expect 1 "the checkpoint's model has lstm_hidden 16, the config and data give 32" \
  "$bin" eval --checkpoint runs/tiny/fold-0/ckpt-best.xtck --config tiny.yaml "${set_cache[@]}" --set model.lstm_hidden=32
expect 1 "shard BTCUSD-1h: the feature normalizer differs" \
  "$bin" eval --checkpoint runs/tiny/fold-0/ckpt-best.xtck --config tiny.yaml "${set_cache[@]}" --fold 1
expect 1 "the checkpoint was trained on shards [BTCUSD-1h EURUSD-1h], the config gives [EURUSD-1h BTCUSD-1h]" \
  "$bin" eval --checkpoint runs/tiny/fold-0/ckpt-best.xtck --config tiny.yaml --set "data.cache_dir=$tmp/cache2" \
  --set data.symbols=EURUSD,BTCUSD

echo "train_cli: $pass passed, $fails failed"
[ "$fails" = 0 ]
