// config_keys.h - THE table of configuration keys (one row per key).
//
//   X(section, key, TYPE, "default", min, max, "choices", "doc")
//
// From this one list config.h generates the typed section structs, and
// config.c the parser, validation, defaults, `xtrade config --dump` and the
// README's config reference (`xtrade config --reference`). Numbers from the
// seeds are defaults here. TYPE is one of:
//   INT (int64), DBL (double), BOOL, STR (string), ENUM (index into the
//   "a|b|c" choices), TF (timeframe -> seconds), DATE (ISO date -> UTC
//   seconds), STRLIST (YAML list or comma-separated string), TFLIST,
//   DBLLIST, INTLIST, SCHED (list of [step, value] pairs), FOLDS (list of
//   {train_start, train_end, test_start, test_end}).
// min/max bound INT/DBL values and list lengths; both 0 = unbounded.
#ifndef XT_CONFIG_KEYS_H
#define XT_CONFIG_KEYS_H

#define XT_CONFIG_KEYS(X) \
    /* ---- run */ \
    X(run, id, STR, "demo", 1, 64, "", "Run id; files go to <run.dir>/<run.id>/ (letters, digits, '-', '_', '.').") \
    X(run, dir, STR, "runs", 1, 0, "", "Directory that holds one folder per run.") \
    X(run, seed, INT, "42", 0, 0, "", "Master seed; every env, shard and minibatch RNG stream derives from it.") \
    X(run, deterministic, BOOL, "false", 0, 0, "", "Fixed policy lag, fixed chunk order, deterministic kernels: bit-identical reruns on the same hardware.") \
    /* ---- log */ \
    X(log, level, ENUM, "info", 0, 0, "debug|info|warn|error", "Lowest level written to stderr.") \
    X(log, json, BOOL, "false", 0, 0, "", "Write JSON lines instead of text lines.") \
    /* ---- data */ \
    X(data, source, ENUM, "synthetic", 0, 0, "synthetic|csv", "Where bars come from: the embedded synthetic market or CSV files.") \
    X(data, symbols, STRLIST, "BTCUSD,ETHUSD,SOLUSD,EURUSD,GBPUSD,USDJPY", 1, 16, "", "Symbols: a YAML list or a comma-separated string (\"BTCUSDT,ETHUSDT\").") \
    X(data, timeframes, TFLIST, "15m", 1, 8, "", "Env timeframes; one shard per (symbol, timeframe). Each a multiple of data.base_timeframe.") \
    X(data, base_timeframe, TF, "15m", 60, 86400, "", "Timeframe of the raw bars; higher timeframes are resampled from it.") \
    X(data, start, DATE, "2020-01-01", 0, 0, "", "First bar (inclusive, UTC).") \
    X(data, end, DATE, "2025-01-01", 0, 0, "", "End of data (exclusive, UTC).") \
    X(data, csv_dir, STR, "data", 1, 0, "", "With source csv: directory holding <SYMBOL>.csv per symbol.") \
    X(data, csv_format, ENUM, "auto", 0, 0, "auto|generic|binance|forex", "CSV layout; auto detects it from the header.") \
    X(data, gap_policy, ENUM, "fill", 0, 0, "fill|reject", "Missing bars while the market is open: forward-fill close with zero volume, or reject the file.") \
    X(data, cache_dir, STR, "cache", 1, 0, "", "Directory of the feature cache files (.xtfc).") \
    /* ---- synth */ \
    X(synth, seed, INT, "7", 0, 0, "", "Seed of the synthetic market (independent of run.seed, so runs can share data).") \
    X(synth, patterns, BOOL, "true", 0, 0, "", "Inject labelled chart patterns (trend, reversal, breakout, range, head-and-shoulders, double top/bottom).") \
    X(synth, pattern_rate, DBL, "4", 0, 1000, "", "Expected injected patterns per 10,000 bars and asset.") \
    X(synth, vol_scale, DBL, "0.7", 0.01, 10, "", "Multiplier on every asset's volatility; 0.7 gives annual vols near real ones (BTC ~60%, SOL ~110%, EURUSD ~6%).") \
    /* ---- features */ \
    X(features, set, ENUM, "seed003", 0, 0, "seed003", "Named feature set (seed 003 section 4).") \
    X(features, normalizer, ENUM, "zscore", 0, 0, "zscore|robust|none", "Per-(symbol, feature) scaling fit on the fold's train window only.") \
    X(features, clip, DBL, "10", 0, 1000, "", "Normalized features are clipped to [-clip, clip]; 0 disables.") \
    X(features, corr_window, INT, "20", 2, 10000, "", "Bars in the rolling BTC/ETH return correlation.") \
    X(features, momentum_window, INT, "20", 1, 10000, "", "Bars of momentum in the crypto-forex divergence feature.") \
    /* ---- env */ \
    X(env, kind, ENUM, "portfolio", 0, 0, "asset|portfolio", "asset: one env per (symbol, timeframe), discrete target position; portfolio: seed 003's K assets + cash.") \
    X(env, initial_balance, DBL, "10000", 1, 1e12, "", "Starting equity in quote currency (USD).") \
    X(env, episode_length, INT, "2048", 1, 100000000, "", "Steps per training episode before truncation.") \
    X(env, position_levels, DBLLIST, "-1,-0.5,0,0.5,1", 1, 16, "", "Asset env: target position levels (fraction of equity).") \
    X(env, long_only, BOOL, "false", 0, 0, "", "Asset env: drop negative position levels.") \
    X(env, symbol_encoding, ENUM, "onehot", 0, 0, "onehot|id", "Symbol encoding in the observation: one-hot, or an integer id for a learned embedding.") \
    X(env, fee_crypto, DBL, "0.001", 0, 0.1, "", "Fee per traded notional for crypto (seed 003: 0.10%).") \
    X(env, fee_forex, DBL, "0.0005", 0, 0.1, "", "Fee/spread per traded notional for forex (seed 003: 0.05%).") \
    X(env, fee_equity, DBL, "0.0005", 0, 0.1, "", "Fee per traded notional for equities and indices.") \
    X(env, slippage_bps, DBL, "1", 0, 1000, "", "Fixed slippage in basis points of the fill price.") \
    X(env, slippage_atr, DBL, "0.05", 0, 10, "", "Volatility-scaled slippage: this fraction of ATR(14)/price.") \
    X(env, low_liquidity_slippage, DBL, "2", 1, 100, "", "Slippage multiplier in the crypto Saturday 00-04 UTC window.") \
    X(env, min_trade, DBL, "100", 0, 1e12, "", "Trades smaller than this notional are skipped.") \
    X(env, max_weight, DBL, "0.4", 0.01, 1, "", "Maximum weight of one asset.") \
    X(env, min_cash, DBL, "0.05", 0, 1, "", "Minimum cash weight.") \
    X(env, max_positions, INT, "6", 1, 16, "", "Maximum concurrent open positions (seed 004).") \
    X(env, max_pair_exposure, DBL, "0.6", 0.01, 1, "", "Maximum combined weight of two assets whose correlation exceeds env.correlation_limit.") \
    X(env, correlation_limit, DBL, "0.8", 0, 1, "", "Rolling return correlation above which two assets share env.max_pair_exposure.") \
    X(env, stop_loss_atr, DBL, "2", 0, 100, "", "Stop-loss distance in ATR(14) from entry; 0 disables.") \
    X(env, take_profit_atr, DBL, "3", 0, 100, "", "Take-profit distance in ATR(14) from entry; 0 disables.") \
    X(env, reward_return_weight, DBL, "0.9", 0, 10, "", "Reward: weight of the net return.") \
    X(env, reward_sharpe_weight, DBL, "0.1", 0, 10, "", "Reward: weight of return / rolling volatility.") \
    X(env, reward_vol_window, INT, "20", 2, 100000, "", "Reward: bars in the rolling volatility of the env's returns.") \
    X(env, reward_scale, DBL, "100", 0, 1e6, "", "Reward: final multiplier.") \
    X(env, bankrupt_fraction, DBL, "0.7", 0, 1, "", "Terminate when equity falls below this fraction of the initial balance.") \
    X(env, bankrupt_penalty, DBL, "-50", -1e6, 0, "", "Terminal reward on bankruptcy.") \
    X(env, max_drawdown, DBL, "0.3", 0, 1, "", "Terminate when drawdown from peak exceeds this.") \
    X(env, drawdown_penalty, DBL, "-30", -1e6, 0, "", "Terminal reward on the drawdown limit.") \
    /* ---- model */ \
    X(model, lstm_hidden, INT, "128", 1, 4096, "", "LSTM units per layer (seed 003: 128).") \
    X(model, lstm_layers, INT, "2", 0, 4, "", "LSTM layers; 0 = MLP policy.") \
    X(model, mlp, INTLIST, "256,128", 1, 4, "", "Dense ReLU layer sizes after the LSTM stack.") \
    X(model, shared_trunk, BOOL, "false", 0, 0, "", "Critic shares the actor's LSTM and MLP (default: its own, seed 003).") \
    X(model, symbol_embedding, INT, "0", 0, 256, "", "Width of a learned symbol embedding (needs env.symbol_encoding: id); 0 = off.") \
    X(model, log_std_init, DBL, "0", -10, 5, "", "Initial log standard deviation of the Gaussian head.") \
    X(model, log_std_min, DBL, "-5", -20, 0, "", "Clamp of the Gaussian log standard deviation (low).") \
    X(model, log_std_max, DBL, "2", -5, 10, "", "Clamp of the Gaussian log standard deviation (high).") \
    /* ---- ppo */ \
    X(ppo, total_steps, INT, "2000000", 1, 0, "", "Env steps of training per fold.") \
    X(ppo, n_envs, INT, "16", 1, 1000000, "", "Envs stepped in parallel (train --local; per actor in the cluster see actor.envs).") \
    X(ppo, n_steps, INT, "2048", 1, 1000000, "", "Rollout steps per env between updates (sb3 n_steps).") \
    X(ppo, chunk_len, INT, "64", 1, 4096, "", "T: steps per rollout chunk and truncated-BPTT length.") \
    X(ppo, batch_size, INT, "64", 1, 10000000, "", "Minibatch size in steps (sb3 counts batch_size in steps); rounded to whole chunks.") \
    X(ppo, n_epochs, INT, "10", 1, 1000, "", "Passes over each rollout batch.") \
    X(ppo, lr, DBL, "3e-4", 0, 1, "", "Adam learning rate (start value when decaying).") \
    X(ppo, lr_end, DBL, "0", 0, 1, "", "Learning rate at the end with ppo.lr_schedule: linear.") \
    X(ppo, lr_schedule, ENUM, "constant", 0, 0, "constant|linear", "Learning rate schedule over ppo.total_steps.") \
    X(ppo, adam_eps, DBL, "1e-5", 0, 1, "", "Adam epsilon (sb3 PPO uses 1e-5).") \
    X(ppo, gamma, DBL, "0.99", 0, 1, "", "Discount factor.") \
    X(ppo, gae_lambda, DBL, "0.95", 0, 1, "", "GAE lambda.") \
    X(ppo, clip_range, DBL, "0.2", 0, 10, "", "PPO ratio clip.") \
    X(ppo, vf_clip, DBL, "0", 0, 1e6, "", "Value clipping range; 0 disables.") \
    X(ppo, vf_coef, DBL, "0.5", 0, 100, "", "Value loss weight.") \
    X(ppo, ent_schedule, SCHED, "[[0, 0.02], [250000, 0.01], [1000000, 0.005]]", 1, 16, "", "Entropy coefficient by env step: [[from_step, coef], ...] (seed 003).") \
    X(ppo, max_grad_norm, DBL, "0.5", 0, 1e6, "", "Global gradient-norm clip.") \
    X(ppo, target_kl, DBL, "0", 0, 100, "", "Stop the epochs of an update when approx KL exceeds 1.5 x this; 0 disables.") \
    X(ppo, normalize_advantage, BOOL, "true", 0, 0, "", "Normalize advantages per minibatch.") \
    X(ppo, normalize_reward, BOOL, "true", 0, 0, "", "Divide rewards by the running sd of discounted returns (SB3 VecNormalize), clipped to +-ppo.reward_clip; keeps value targets O(1) whatever the reward units.") \
    X(ppo, reward_clip, DBL, "10", 0, 1e6, "", "Clip of normalized rewards; 0 disables.") \
    X(ppo, threads, INT, "2", 1, 256, "", "CPU backend threads: 2 runs the actor and critic nets side by side (and OpenBLAS for a shared trunk).") \
    X(ppo, eval_every, INT, "10", 0, 1000000, "", "Updates between validation runs (EvalCallback); 0 disables.") \
    X(ppo, validation_fraction, DBL, "0.1", 0, 0.5, "", "Tail of the train window held out for validation.") \
    /* ---- folds */ \
    X(folds, mode, ENUM, "rolling", 0, 0, "explicit|expanding|rolling", "Walk-forward folds: listed, or generated expanding/rolling (default: seed 002's rolling 180d/30d/30d).") \
    X(folds, explicit, FOLDS, "[]", 0, 64, "", "With mode explicit: [{train_start, train_end, test_start, test_end}, ...] (ISO dates, ends exclusive).") \
    X(folds, train_days, INT, "180", 1, 100000, "", "Generated folds: train length in days (seed 002: 180).") \
    X(folds, test_days, INT, "30", 1, 100000, "", "Generated folds: test length in days.") \
    X(folds, step_days, INT, "30", 1, 100000, "", "Generated folds: step between folds in days.") \
    X(folds, purge_days, INT, "0", 0, 100000, "", "Gap between train end and test start; raised to the longest feature lookback if shorter.") \
    X(folds, max_folds, INT, "0", 0, 1000, "", "Generated folds: keep at most this many (the latest); 0 = all.") \
    X(folds, warm_start, BOOL, "false", 0, 0, "", "Start each fold from the previous fold's best weights instead of fresh.") \
    /* ---- broker */ \
    X(broker, bind, STR, "0.0.0.0", 1, 0, "", "Address the broker's control socket and HTTP endpoint bind (0.0.0.0 = every IPv4 interface).") \
    X(broker, host, STR, "127.0.0.1", 1, 0, "", "Host name or address learners, actors and `xtrade status` use to reach the broker.") \
    X(broker, port, INT, "5555", 0, 65535, "", "Control (ROUTER) port; 0 = ephemeral (the bound endpoint is written to `runs/<run_id>/broker.endpoint`).") \
    X(broker, http_port, INT, "9100", 0, 65535, "", "Broker /metrics and /healthz port; 0 = ephemeral.") \
    X(broker, heartbeat_ms, INT, "1000", 10, 60000, "", "Heartbeat period of every daemon; the broker's timer (liveness sweep, metrics) runs at this period.") \
    X(broker, liveness_ms, INT, "5000", 50, 3600000, "", "A peer silent this long is dropped (its shards reassigned); peers re-register after the same silence from the broker.") \
    /* ---- learner */ \
    X(learner, port_chunks, INT, "5556", 0, 65535, "", "Rollout chunk (PULL) port; 0 = ephemeral, reported to the broker.") \
    X(learner, port_weights, INT, "5557", 0, 65535, "", "Weights (PUB) port; 0 = ephemeral, reported to the broker.") \
    X(learner, http_port, INT, "9101", 0, 65535, "", "Learner /metrics and /healthz port; 0 = ephemeral.") \
    X(learner, advertise_host, STR, "\"\"", 0, 0, "", "Host name or address actors use to reach the learner's data ports; empty = the learner's host name.") \
    X(learner, backend, ENUM, "auto", 0, 0, "auto|cpu|cuda", "Compute backend: CUDA when a GPU is usable (auto), or forced.") \
    X(learner, mode, ENUM, "async", 0, 0, "sync|async", "sync: every update waits for a full rollout of the current weights; async: IMPALA-style, chunks up to learner.max_policy_lag versions old.") \
    X(learner, max_policy_lag, INT, "4", 0, 1000, "", "Async mode: chunks acted by a policy more than this many versions old are dropped.") \
    X(learner, checkpoint_every, INT, "50", 1, 1000000, "", "PPO updates between periodic checkpoints (each reported to the broker).") \
    X(learner, keep_checkpoints, INT, "3", 1, 1000, "", "Periodic checkpoints kept per fold (older ones deleted; the fold's final checkpoint is always kept).") \
    X(learner, max_buffered_batches, INT, "2", 1, 64, "", "Rollout batches the learner buffers before actors block (bounded ingest).") \
    X(learner, nonfinite_rollback_after, INT, "3", 1, 1000, "", "Consecutive non-finite updates after which the learner rolls back to its last checkpoint.") \
    /* ---- actor */ \
    X(actor, envs, INT, "16", 1, 4096, "", "Envs one actor steps (its capacity in the broker's shard assignment).") \
    X(actor, http_port, INT, "9102", 0, 65535, "", "Actor /metrics and /healthz port; 0 = ephemeral.") \
    X(actor, reconnect_ms, INT, "1000", 10, 600000, "", "Delay between attempts to re-register with a silent broker.") \
    /* ---- security */ \
    X(security, curve, BOOL, "false", 0, 0, "", "Encrypt and authenticate every socket with CurveZMQ (keys from `xtrade keys gen`).") \
    X(security, keys_dir, STR, "keys", 1, 0, "", "Key directory: `<role>.key` + `<role>.key_secret` pairs and `allowed/` (the client public keys servers accept).") \
    X(security, allow_dir, STR, "\"\"", 0, 0, "", "Directory of the client public keys the broker and learner accept; empty = `<keys_dir>/allowed`.")

#endif
