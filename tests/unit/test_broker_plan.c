// test_broker_plan.c - the broker's run plan, shard placement and journal:
// plans from explicit and rolling fold configs (hand-worked windows, shard
// keys, plan identity), the TRAIN env layout (exact lists, balance by
// capacity, coverage, reassignment when an actor leaves), EVAL placement in
// proportion to capacity, and a journal replayed into the right fold and
// phase (with refused records and a changed plan).
#include "testutil.h"

#include "assign.h"
#include "evalcurves.h"
#include "export.h"
#include "plan.h"
#include "run.h"
#include "runreport.h"

#include "core/config.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "core/xtime.h"
#include "market/dataset.h"
#include "report/report.h"
#include "rl/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// configs/tiny.yaml's run: 2 symbols x 1h, asset env, two explicit folds.
static const char *s_tiny =
    "run: {id: tiny}\n"
    "data: {source: synthetic, symbols: [BTCUSD, EURUSD], timeframes: [1h], start: 2022-01-01, end: 2023-09-01}\n"
    "env: {kind: asset}\n"
    "ppo: {total_steps: 8192}\n"
    "folds:\n"
    "  mode: explicit\n"
    "  explicit:\n"
    "    - {train_start: 2023-01-01, train_end: 2023-04-01, test_start: 2023-04-15, test_end: 2023-06-01}\n"
    "    - {train_start: 2023-01-01, train_end: 2023-06-01, test_start: 2023-06-15, test_end: 2023-09-01}\n";

static void s_load(xt_config *c, const char *text) {
    xt_err e = {0};
    if (xt_config_load_text(c, text, strlen(text), "t.yaml", &e)) fail_msg("%s", e.msg);
}

static void s_plan(xt_plan *p, const char *text) {
    static xt_config c;
    s_load(&c, text);
    xt_err e = {0};
    if (xt_plan_init(p, &c, &e)) fail_msg("%s", e.msg);
}

static int64_t s_ts(const char *iso) {
    int64_t t;
    if (xt_time_parse(iso, &t)) fail_msg("bad date %s", iso);
    return t;
}

// ---------------------------------------------------------------- plan

static void t_plan_explicit(void **state) {
    static xt_plan p;
    s_plan(&p, s_tiny);
    assert_string_equal(p.run_id, "tiny");
    assert_int_equal(p.n_folds, 2);
    assert_int_equal(p.n_shards, 2);
    assert_int_equal(p.step_budget, 8192);
    assert_int_equal(p.seed, 42);
    assert_string_equal(p.shards[0].name, "BTCUSD");
    assert_string_equal(p.shards[1].name, "EURUSD");
    assert_int_equal(p.shards[1].tf_sec, 3600);
    assert_int_equal(p.shards[0].portfolio, 0);

    // Fold 0 trains on 2023-01-01 .. 2023-04-01 (90 days) minus its 10%
    // validation tail (9 days, a whole number of 15m bars): ends 2023-03-23.
    xt_wire_shard w;
    xt_plan_wire_shard(&p, 0, 1, XT_WIRE_PHASE_TRAIN, &w);
    assert_string_equal(w.key.symbol, "EURUSD");
    assert_string_equal(w.key.portfolio, "");
    assert_int_equal(w.key.tf_sec, 3600);
    assert_int_equal(w.key.fold, 0);
    assert_int_equal(w.ts_begin, s_ts("2023-01-01"));
    assert_int_equal(w.ts_end, s_ts("2023-03-23"));
    assert_int_equal(w.row_begin, 0);
    assert_int_equal(w.row_end, 0);
    // EVAL of fold 1: the whole test window.
    xt_plan_wire_shard(&p, 1, 0, XT_WIRE_PHASE_EVAL, &w);
    assert_string_equal(w.key.symbol, "BTCUSD");
    assert_int_equal(w.key.fold, 1);
    assert_int_equal(w.ts_begin, s_ts("2023-06-15"));
    assert_int_equal(w.ts_end, s_ts("2023-09-01"));

    // Keys find their shard; unknown ones do not.
    for (int s = 0; s < p.n_shards; s++) {
        xt_plan_wire_shard(&p, 0, s, XT_WIRE_PHASE_EVAL, &w);
        assert_int_equal(xt_plan_find_shard(&p, &w.key), s);
    }
    xt_wire_shard_key k = {"ETHUSD", "", 3600, 0};
    assert_int_equal(xt_plan_find_shard(&p, &k), -1);
    k = (xt_wire_shard_key){"BTCUSD", "", 14400, 0};
    assert_int_equal(xt_plan_find_shard(&p, &k), -1);
    k = (xt_wire_shard_key){"", "BTCUSD", 3600, 0};
    assert_int_equal(xt_plan_find_shard(&p, &k), -1);
    char label[64];
    assert_string_equal(xt_plan_shard_label(&p, 1, label, sizeof label), "EURUSD/1h");
}

static void t_plan_rolling_portfolio(void **state) {
    static xt_plan p, q;
    static xt_config c;
    const char *text = "run: {id: roll}\n"
                       "data: {symbols: [BTCUSD, ETHUSD, EURUSD], timeframes: [1h, 4h], start: 2020-01-01, "
                       "end: 2021-01-01}\n"
                       "env: {kind: portfolio}\n"
                       "folds: {mode: rolling, train_days: 180, test_days: 30, step_days: 30}\n";
    s_plan(&p, text);
    s_load(&c, text);
    xt_fold f[XT_MAX_FOLDS];
    int n;
    assert_int_equal(xt_dataset_folds(f, &n, &c, NULL), 0);
    assert_true(n >= 3);
    assert_int_equal(p.n_folds, n);
    // One portfolio shard per timeframe.
    assert_int_equal(p.n_shards, 2);
    assert_string_equal(p.shards[0].name, "portfolio");
    assert_int_equal(p.shards[0].portfolio, 1);
    assert_int_equal(p.shards[0].tf_sec, 3600);
    assert_int_equal(p.shards[1].tf_sec, 14400);
    xt_wire_shard w;
    xt_plan_wire_shard(&p, 1, 1, XT_WIRE_PHASE_TRAIN, &w);
    assert_string_equal(w.key.portfolio, "portfolio");
    assert_string_equal(w.key.symbol, "");
    for (int i = 0; i < n; i++) {
        // Rolling: 180-day windows stepping by 30 days; test after a purge gap.
        assert_int_equal(p.folds[i].train_end - p.folds[i].train_start, 180 * 86400);
        if (i) assert_int_equal(p.folds[i].train_start - p.folds[i - 1].train_start, 30 * 86400);
        assert_true(p.folds[i].test_start > p.folds[i].train_end);
        xt_plan_wire_shard(&p, i, 0, XT_WIRE_PHASE_EVAL, &w);
        assert_int_equal(w.ts_begin, f[i].test_start);
        assert_int_equal(w.ts_end, f[i].test_end);
        assert_int_equal(w.ts_end - w.ts_begin, 30 * 86400);
    }

    // Identity: the same plan hashes the same; log settings do not count;
    // a different budget, seed or symbol list does.
    char buf[1024];
    snprintf(buf, sizeof buf, "%slog: {level: debug}\n", text);
    s_plan(&q, buf);
    assert_true(q.hash == p.hash);
    snprintf(buf, sizeof buf, "%sppo: {total_steps: 1000}\n", text);
    s_plan(&q, buf);
    assert_true(q.hash != p.hash);
    snprintf(buf, sizeof buf, "%srun: {id: roll, seed: 7}\n", "");
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s", strchr(text, '\n') + 1);
    s_plan(&q, buf);
    assert_true(q.hash != p.hash);
}

static void t_plan_no_fold(void **state) {
    static xt_config c;
    // Fits by the days alone, but not with the purge gap raised to the
    // longest feature lookback.
    s_load(&c, "data: {start: 2020-01-01, end: 2020-03-01}\nfolds: {mode: rolling, train_days: 50, test_days: 10}\n");
    static xt_plan p;
    xt_err e = {0};
    assert_int_equal(xt_plan_init(&p, &c, &e), XT_EINVAL);
    assert_contains(e.msg, "folds.train_days");
    assert_contains(e.msg, "no fold fits");
}

// ---------------------------------------------------------------- train layout

static void t_assign_train_exact(void **state) {
    // Capacities 3 and 1 over 2 shards: slots 0..3 -> floor(j*2/4) = 0,0,1,1.
    uint32_t cap[2] = {3, 1};
    int out[8], counts[2];
    assert_int_equal(xt_assign_train(cap, 2, 0, 2, out), 3);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    assert_int_equal(xt_assign_train(cap, 2, 1, 2, out), 1);
    assert_int_equal(out[0], 1);
    assert_int_equal(xt_assign_train_counts(cap, 2, 2, counts), 0);
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    // 5 envs over 12 shards: 7 shards wait; the 5 covered are spread out.
    uint32_t small[1] = {5};
    int c12[12];
    assert_int_equal(xt_assign_train_counts(small, 1, 12, c12), 7);
    assert_int_equal(xt_assign_train(small, 1, 0, 12, out), 5);
    int expect[5] = {0, 2, 4, 7, 9}; // floor(j * 12 / 5)
    for (int e = 0; e < 5; e++) assert_int_equal(out[e], expect[e]);
    // No actors: nothing to place, everything waits.
    assert_int_equal(xt_assign_train_counts(cap, 0, 2, counts), 2);
}

// Checks the layout's guarantees for one set of capacities.
static void s_check_layout(const uint32_t *cap, int n, int S) {
    int counts[256], seen[256] = {0}, out[XT_ASSIGN_MAX_ENVS];
    int waiting = xt_assign_train_counts(cap, n, S, counts);
    uint64_t total = xt_assign_total(cap, n);
    int prev = -1;
    for (int a = 0; a < n; a++) {
        int m = xt_assign_train(cap, n, a, S, out);
        assert_int_equal(m, cap[a] > XT_ASSIGN_MAX_ENVS ? XT_ASSIGN_MAX_ENVS : (int)cap[a]);
        for (int e = 0; e < m; e++) {
            assert_true(out[e] >= 0 && out[e] < S);
            assert_true(out[e] >= prev); // contiguous runs of the shard order
            prev = out[e];
            seen[out[e]]++;
        }
    }
    int lo = 1 << 30, hi = 0, covered = 0;
    for (int s = 0; s < S; s++) {
        assert_int_equal(seen[s], counts[s]); // closed form == walk
        lo = counts[s] < lo ? counts[s] : lo;
        hi = counts[s] > hi ? counts[s] : hi;
        covered += counts[s] > 0;
    }
    assert_int_equal(covered, S - waiting);
    if (total >= (uint64_t)S) {
        assert_int_equal(waiting, 0);
        assert_true(hi - lo <= 1); // balanced to within one env
    } else {
        assert_int_equal(waiting, S - (int)total);
        assert_true(hi <= 1);
    }
}

static void t_assign_train_balance(void **state) {
    xt_rng r;
    xt_rng_seed(&r, 11);
    for (int trial = 0; trial < 500; trial++) {
        int n = 1 + (int)xt_rng_below(&r, 12), S = 1 + (int)xt_rng_below(&r, 128);
        uint32_t cap[12];
        for (int a = 0; a < n; a++) cap[a] = (uint32_t)xt_rng_below(&r, 40);
        s_check_layout(cap, n, S);
    }
    uint32_t huge[2] = {100000, 3};
    s_check_layout(huge, 2, 7);

    // An actor leaves: the layout over the rest still covers every shard,
    // balanced, with the survivors' full capacity in use.
    uint32_t three[3] = {4, 4, 4}, two[2] = {4, 4};
    s_check_layout(three, 3, 6);
    s_check_layout(two, 2, 6);
    int counts[6];
    assert_int_equal(xt_assign_train_counts(two, 2, 6, counts), 0);
    int sum = 0;
    for (int s = 0; s < 6; s++) sum += counts[s], assert_true(counts[s] == 1 || counts[s] == 2);
    assert_int_equal(sum, 8);
}

// ---------------------------------------------------------------- eval placement

// Sync mode's cap on the layout: proportional shares of ppo.n_envs, never
// above an offer, every actor keeps one env while there are enough.
static void t_assign_limit(void **state) {
    (void)state;
    uint32_t a[2] = {16, 16};
    assert_int_equal(xt_assign_limit(a, 2, 8), 8); // tiny.yaml: 2 actors x 16 for ppo.n_envs 8
    assert_int_equal(a[0], 4);
    assert_int_equal(a[1], 4);
    // 60 offered, 13 wanted: one each, then 10 by 9:19:29 of 57 = 1.58, 3.33,
    // 5.09 -> 1, 3, 5 and the leftover to the largest remainder (the first)
    uint32_t b[3] = {10, 20, 30};
    assert_int_equal(xt_assign_limit(b, 3, 13), 13);
    assert_int_equal(b[0], 3);
    assert_int_equal(b[1], 4);
    assert_int_equal(b[2], 6);
    uint32_t c[3] = {1, 100, 1}; // the small offers still get their env
    assert_int_equal(xt_assign_limit(c, 3, 10), 10);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], 8);
    assert_int_equal(c[2], 1);
    uint32_t d[2] = {3, 4}; // below the limit: unchanged
    assert_int_equal(xt_assign_limit(d, 2, 32), 7);
    assert_int_equal(d[0], 3);
    assert_int_equal(d[1], 4);
    uint32_t e[4] = {5, 5, 5, 5}; // fewer envs than actors: the first ones step, the rest idle
    assert_int_equal(xt_assign_limit(e, 4, 2), 2);
    assert_int_equal(e[0] + e[1] + e[2] + e[3], 2);
    assert_int_equal(e[0], 1);
    assert_int_equal(e[1], 1);
    int out[16];
    assert_int_equal(xt_assign_train(e, 4, 2, 3, out), 0);
}

static void t_assign_eval(void **state) {
    // 8 jobs over capacities 3 and 1: shares 6 and 2.
    uint32_t cap[3] = {3, 1, 0}, load[3] = {0, 0, 0};
    int owner[8];
    for (int j = 0; j < 8; j++) owner[j] = -1;
    assert_int_equal(xt_assign_eval(cap, load, 3, owner, 8), 8);
    int got[3] = {0, 0, 0};
    for (int j = 0; j < 8; j++) got[owner[j]]++;
    assert_int_equal(got[0], 6);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 0); // no capacity, no work
    assert_int_equal(load[0], 6);

    // Actor 0 leaves: its 6 jobs lose their owner and go to actor 1 (the
    // only one left); jobs already with actor 1 stay where they are.
    int keep[8];
    memcpy(keep, owner, sizeof owner);
    cap[0] = 0, load[0] = 0;
    for (int j = 0; j < 8; j++)
        if (owner[j] == 0) owner[j] = -1;
    assert_int_equal(xt_assign_eval(cap, load, 3, owner, 8), 6);
    for (int j = 0; j < 8; j++) assert_int_equal(owner[j], 1);
    assert_int_equal(load[1], 8);

    // A newcomer with capacity 2 next to a loaded actor 1 (load 8, cap 1):
    // new jobs all go to the newcomer until (l+1)/c evens out.
    uint32_t cap2[2] = {1, 2}, load2[2] = {8, 0};
    int o2[4] = {-1, -1, -1, -1};
    assert_int_equal(xt_assign_eval(cap2, load2, 2, o2, 4), 4);
    for (int j = 0; j < 4; j++) assert_int_equal(o2[j], 1);

    // Nobody with capacity: jobs wait.
    uint32_t none[2] = {0, 0}, l0[2] = {0, 0};
    int o3[2] = {-1, 0};
    assert_int_equal(xt_assign_eval(none, l0, 2, o3, 2), -1);
    (void)keep;
}

// ---------------------------------------------------------------- journal

static void s_metrics(double m[XT_WIRE_EVAL_N], double base) {
    for (int i = 0; i < XT_WIRE_EVAL_N; i++) m[i] = base + i;
    m[XT_WIRE_EVAL_SORTINO] = NAN; // undefined ratios survive the round trip
}

static void t_journal_resume(void **state) {
    static xt_plan p;
    s_plan(&p, s_tiny);
    char dir[256], path[512];
    xt_test_tmpdir(dir, "broker-journal");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err e = {0};
    xt_run_info info;

    // A new journal starts fold 0 in TRAIN.
    xt_run *r = xt_run_open(&p, path, &info, &e);
    if (!r) fail_msg("%s", e.msg);
    assert_int_equal(info.resumed, 0);
    assert_int_equal(xt_run_fold(r), 0);
    assert_int_equal(xt_run_phase(r), XT_WIRE_PHASE_TRAIN);

    // Records that do not fit the state are refused and change nothing.
    double m[XT_WIRE_EVAL_N];
    s_metrics(m, 0.5);
    assert_int_equal(xt_run_eval(r, 0, m, "a.csv", &e), XT_EPARSE);
    assert_contains(e.msg, "eval result for shard 0 is not expected in fold 0");
    assert_int_equal(xt_run_fold_done(r, &e), XT_EPARSE);
    assert_contains(e.msg, "closed before every shard was evaluated");
    assert_int_equal(xt_run_eval(r, 7, m, "a.csv", &e), XT_EINVAL);

    // Fold 0: periodic checkpoint, budget reached, final checkpoint, eval.
    assert_int_equal(xt_run_checkpoint(r, 4096, 4, 0.1, "runs/tiny/fold-0/ckpt-4096.xtck", &e), 0);
    assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_CHECKPOINT, &e), 0);
    assert_int_equal(xt_run_checkpoint(r, 8192, 8, 0.25, "runs/tiny/fold-0/ckpt-8192.xtck", &e), 0);
    assert_true(xt_run_fold_state(r, 0)->ckpt_final);
    assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_EVAL, &e), 0);
    assert_int_equal(xt_run_checkpoint(r, 8192, 8, 0.25, "x", &e), XT_EPARSE); // not during eval
    assert_int_equal(xt_run_eval(r, 1, m, "runs/tiny/fold-0/eval/EURUSD-1h.csv", &e), 0);
    assert_int_equal(xt_run_eval(r, 1, m, "dup.csv", &e), 1); // the first result stands
    s_metrics(m, -0.5);
    assert_int_equal(xt_run_eval(r, 0, m, "runs/tiny/fold-0/eval/BTCUSD-1h.csv", &e), 0);
    assert_int_equal(xt_run_fold_done(r, &e), 0);
    // Fold 1 trains; the broker dies after a periodic checkpoint.
    assert_int_equal(xt_run_fold(r), 1);
    assert_int_equal(xt_run_phase(r), XT_WIRE_PHASE_TRAIN);
    assert_int_equal(xt_run_checkpoint(r, 2048, 3, NAN, "runs/tiny/fold-1/ckpt-2048.xtck", &e), 0);
    xt_run_destroy(&r);
    assert_null(r);

    // Replay: fold 0 done with its results, fold 1 in TRAIN with its checkpoint.
    r = xt_run_open(&p, path, &info, &e);
    if (!r) fail_msg("%s", e.msg);
    assert_int_equal(info.resumed, 1);
    // start, phase train, ckpt, phase checkpoint, ckpt, phase eval, 2 evals, fold-done, ckpt
    assert_int_equal(info.records, 10);
    assert_int_equal(xt_run_fold(r), 1);
    assert_int_equal(xt_run_phase(r), XT_WIRE_PHASE_TRAIN);
    const xt_run_fold_info *f0 = xt_run_fold_state(r, 0), *f1 = xt_run_fold_state(r, 1);
    assert_int_equal(f0->phase, XT_WIRE_PHASE_DONE);
    assert_int_equal(f0->n_evals, 2);
    assert_string_equal(f0->ckpt_path, "runs/tiny/fold-0/ckpt-8192.xtck");
    assert_int_equal(f0->ckpt_version, 8);
    assert_true(f0->ckpt_val_sharpe == 0.25);
    assert_string_equal(f0->evals[1].csv_path, "runs/tiny/fold-0/eval/EURUSD-1h.csv");
    assert_true(f0->evals[1].metrics[XT_WIRE_EVAL_TOTAL_RETURN] == 0.5);
    assert_true(isnan(f0->evals[1].metrics[XT_WIRE_EVAL_SORTINO]));
    assert_true(f0->evals[0].metrics[XT_WIRE_EVAL_SHARPE] == -0.5 + XT_WIRE_EVAL_SHARPE);
    assert_int_equal(f1->has_ckpt, 1);
    assert_int_equal(f1->ckpt_final, 0);
    assert_int_equal(f1->ckpt_step, 2048);
    assert_true(isnan(f1->ckpt_val_sharpe));
    xt_run_summary sum;
    xt_run_summary_of(r, 0, &sum);
    assert_int_equal(sum.n, 2);
    assert_int_equal(sum.profitable, 1);
    assert_true(fabs(sum.mean_return - 0.0) < 1e-12);

    // Finish fold 1 and the run; a replay knows it is done.
    assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_EVAL, &e), 0);
    assert_int_equal(xt_run_report(r, dir, &e), XT_EPARSE); // not before the last fold
    assert_int_equal(xt_run_eval(r, 0, m, "b0.csv", &e), 0);
    assert_int_equal(xt_run_eval(r, 1, m, "b1.csv", &e), 0);
    assert_int_equal(xt_run_fold_done(r, &e), 0);
    assert_int_equal(xt_run_phase(r), XT_WIRE_PHASE_DONE);
    assert_int_equal(xt_run_finished(r), 0);
    assert_int_equal(xt_run_done(r, &e), 0);
    assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_TRAIN, &e), XT_ESTATE);

    // The report's input: both folds, the wire metrics mapped, nothing invented.
    // No eval CSV exists; the feature caches are built into dir/cache for
    // the baselines (the broker's fallback when its machine has none).
    static xt_config cfg;
    s_load(&cfg, s_tiny);
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    assert_int_equal(xt_config_set(&cfg, "data.cache_dir", cache, &e), 0);
    xt_runreport rr;
    assert_int_equal(xt_runreport_init(&rr, r, &cfg, dir, 1700000000, &e), 0);
    assert_int_equal(rr.run.n_folds, 2);
    assert_string_equal(rr.run.run_id, "tiny");
    assert_int_equal(rr.run.env, XT_WF_ENV_ASSET);
    assert_int_equal(rr.n_results, 4);
    assert_int_equal(rr.n_agent, 0);
    assert_int_equal(rr.n_baselines, 4);
    assert_contains(rr.run.config_summary, "env asset; shards BTCUSD/1h EURUSD/1h; 8192 env steps per fold; seed 42; "
                                           "agent curves 0 of 4 (runs/tiny/fold-0/eval/");
    assert_contains(rr.run.config_summary, "not found on the broker's machine; charts, DSR and PBO need the actors' "
                                           "eval CSVs: share the run directory); baselines walked on the feature "
                                           "caches 4 of 4");
    const xt_wf_shard *sh = &rr.run.folds[0].shards[1]; // fold 0, EURUSD (metrics base 0.5)
    assert_string_equal(sh->symbol, "EURUSD");
    assert_string_equal(sh->timeframe, "1h");
    assert_int_equal(rr.run.folds[1].test_start, s_ts("2023-06-15"));
    assert_true(sh->m[XT_WF_AGENT].total_return == 0.5 + XT_WIRE_EVAL_TOTAL_RETURN);
    assert_true(sh->m[XT_WF_AGENT].sharpe == 0.5 + XT_WIRE_EVAL_SHARPE);
    assert_true(sh->m[XT_WF_AGENT].trades == 0.5 + XT_WIRE_EVAL_TRADES);
    assert_true(sh->m[XT_WF_AGENT].avg_cash == 0.5 + XT_WIRE_EVAL_CASH_USAGE);
    assert_true(isnan(sh->m[XT_WF_AGENT].sortino));
    assert_true(isnan(sh->m[XT_WF_AGENT].fee_ratio));
    // Baselines walked: every metric; one asset, so equal weight is buy & hold.
    assert_true(isfinite(sh->m[XT_WF_BUY_AND_HOLD].sharpe));
    assert_true(sh->m[XT_WF_EQUAL_WEIGHT].total_return == sh->m[XT_WF_BUY_AND_HOLD].total_return);
    assert_true(sh->m[XT_WF_CASH].total_return == 0 && sh->m[XT_WF_CASH].avg_cash == 1);
    assert_true(sh->m[XT_WF_CASH].pct_cash_over_20 == 1);
    // Curves: the baselines' only (no agent CSV).
    assert_true(sh->curves.n > 100);
    assert_null(sh->curves.equity[XT_WF_AGENT]);
    assert_non_null(sh->curves.equity[XT_WF_CASH]);
    assert_true(sh->curves.equity[XT_WF_CASH][sh->curves.n - 1] == cfg.env_initial_balance);
    xt_runreport_free(&rr);
    assert_int_equal(xt_runreport_write(r, &cfg, dir, &e), 0);
    char rp[600];
    snprintf(rp, sizeof rp, "%s/report.json", dir);
    assert_true(access(rp, F_OK) == 0);
    xt_run_destroy(&r);
    r = xt_run_open(&p, path, &info, &e);
    if (!r) fail_msg("%s", e.msg);
    assert_int_equal(xt_run_finished(r), 1);
    assert_int_equal(xt_run_fold(r), 2);
    xt_run_destroy(&r);

    // The same journal under a changed plan is refused, naming the file.
    static xt_plan q;
    char text[2048];
    snprintf(text, sizeof text, "%s", s_tiny);
    char *b = strstr(text, "8192");
    memcpy(b, "9000", 4);
    s_plan(&q, text);
    assert_null(xt_run_open(&q, path, NULL, &e));
    assert_contains(e.msg, path);
    assert_contains(e.msg, "was started with a different plan");
    unlink(path);
}

static void t_journal_torn_tail(void **state) {
    // A crash mid-append leaves a torn record: replay stops before it and
    // the run resumes in the last durable state.
    static xt_plan p;
    s_plan(&p, s_tiny);
    char dir[256], path[512];
    xt_test_tmpdir(dir, "broker-torn");
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_err e = {0};
    xt_run *r = xt_run_open(&p, path, NULL, &e);
    if (!r) fail_msg("%s", e.msg);
    assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_CHECKPOINT, &e), 0);
    xt_run_destroy(&r);
    FILE *f = fopen(path, "ab");
    fwrite("\x40\x00\x00\x00\x11\x22", 1, 6, f); // a record header cut short
    fclose(f);
    xt_run_info info;
    r = xt_run_open(&p, path, &info, &e);
    if (!r) fail_msg("%s", e.msg);
    assert_int_equal(info.truncated, 1);
    assert_int_equal(xt_run_phase(r), XT_WIRE_PHASE_CHECKPOINT);
    // And it keeps appending after the cut.
    assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_TRAIN, &e), 0);
    xt_run_destroy(&r);
    r = xt_run_open(&p, path, &info, &e);
    assert_int_equal(info.truncated, 0);
    assert_int_equal(xt_run_phase(r), XT_WIRE_PHASE_TRAIN);
    xt_run_destroy(&r);
    unlink(path);
}

// ---------------------------------------------------------------- report curves

static void t_evalcurve_read(void **state) {
    char dir[256], path[512];
    xt_test_tmpdir(dir, "broker-csv");
    xt_err e = {0};
    xt_evalcurve c;
    // Asset env: one position column.
    xt_test_write(path, dir, "a.csv",
                  "timestamp,position,equity,reward,fee,slippage,trades,reason\n"
                  "2023-04-15T00:00:00Z,0.5,10000,0,1,0,0,none\n"
                  "2023-04-15T01:00:00Z,-1,10012.25,0.1,0,0,1,stop_loss\r\n"
                  "\n");
    assert_int_equal(xt_evalcurve_read(&c, path, &e), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.n_alloc, 1);
    assert_string_equal(c.names[0], "position");
    assert_int_equal(c.ts[1], s_ts("2023-04-15T01:00:00Z"));
    assert_true(c.equity[1] == 10012.25 && c.alloc[0] == 0.5 && c.alloc[1] == -1);
    xt_evalcurve_free(&c);
    assert_null(c.ts);
    // Portfolio env: weights named after the symbols, cash last.
    xt_test_write(path, dir, "p.csv",
                  "timestamp,w_BTCUSD,w_ETHUSD,w_cash,equity,reward,fee,slippage,trades,reason\n"
                  "2023-04-15T00:00:00Z,0.25,0.25,0.5,9990,0,1,0,0,none\n");
    assert_int_equal(xt_evalcurve_read(&c, path, &e), 0);
    assert_int_equal(c.n_alloc, 3);
    assert_string_equal(c.names[0], "BTCUSD");
    assert_string_equal(c.names[2], "cash");
    assert_true(c.alloc[2] == 0.5 && c.equity[0] == 9990);
    xt_evalcurve_free(&c);
    // Bad files: each refusal names the file and line.
    xt_test_write(path, dir, "b.csv",
                  "timestamp,position,equity\n2023-04-15T01:00:00Z,0,1\n2023-04-15T00:00:00Z,0,1\n");
    assert_int_equal(xt_evalcurve_read(&c, path, &e), XT_EPARSE);
    assert_contains(e.msg, "b.csv:3: time does not increase");
    xt_test_write(path, dir, "n.csv", "timestamp,position,equity\n2023-04-15T01:00:00Z,0,abc\n");
    assert_int_equal(xt_evalcurve_read(&c, path, &e), XT_EPARSE);
    assert_contains(e.msg, "n.csv:2: column 3: not a number");
    xt_test_write(path, dir, "h.csv", "ts,equity\n");
    assert_int_equal(xt_evalcurve_read(&c, path, &e), XT_EPARSE);
    assert_contains(e.msg, "h.csv:1: not an eval CSV");
    assert_null(c.ts);
}

// Fake agent walk over the first half of the baselines' axis: equity rises
// by 1 per step, position alternates 1 / 0; then it "terminated".
static int64_t s_fake_agent(const xt_rl_shard *s, const xt_evalcurve *axis, const char *out_dir) {
    xt_err e = {0};
    xt_eval_csv *csv = xt_eval_csv_new(s, 1, &e);
    if (!csv) fail_msg("%s", e.msg);
    int64_t n = axis->n / 2;
    for (int64_t t = 0; t < n; t++) {
        xt_eval_step st = {0};
        st.shard = 0, st.ts = axis->ts[t], st.n_w = 1, st.w[0] = (double)(t % 2);
        st.equity = 10000.0 + (double)t;
        xt_eval_csv_step(csv, &st);
    }
    if (xt_eval_csv_write(csv, out_dir, &e)) fail_msg("%s", e.msg);
    xt_eval_csv_destroy(&csv);
    return n;
}

static void t_report_curves(void **state) {
    static xt_plan p;
    static xt_config cfg;
    s_plan(&p, s_tiny);
    s_load(&cfg, s_tiny);
    char dir[256], path[512], cache[300], evdir[320];
    xt_test_tmpdir(dir, "broker-curves");
    snprintf(cache, sizeof cache, "%s/cache", dir);
    xt_err e = {0};
    assert_int_equal(xt_config_set(&cfg, "data.cache_dir", cache, &e), 0);
    xt_dataset_stats dst;
    if (xt_dataset_build(&cfg, 0, &dst, NULL, NULL, &e)) fail_msg("%s", e.msg);
    xt_env_params ep;
    if (xt_rl_env_params(&ep, &cfg, &e)) fail_msg("%s", e.msg);

    // The broker's baseline walks equal the actors' xt_eval_baselines bit for
    // bit, and their curves end at the episode's final equity.
    snprintf(path, sizeof path, "%s/broker.journal", dir);
    xt_run *r = xt_run_open(&p, path, NULL, &e);
    if (!r) fail_msg("%s", e.msg);
    int64_t agent_n[2][2];
    for (int k = 0; k < 2; k++) {
        xt_shards *sh = NULL;
        if (xt_shards_open(&sh, &cfg, k, 0, &e)) fail_msg("%s", e.msg);
        for (int i = 0; i < xt_shards_count(sh); i++) {
            const xt_rl_shard *rs = &xt_shards_list(sh)[i];
            xt_metrics want[XT_BASELINE_COUNT];
            assert_int_equal(xt_eval_baselines(XT_ENV_KIND_ASSET, rs, XT_RL_TEST, &ep, want, &e), 0);
            xt_evalcurve c[XT_BASELINE_COUNT];
            for (int q = 0; q < XT_BASELINE_COUNT; q++) {
                xt_metrics got;
                assert_int_equal(xt_evalcurve_baseline(&c[q], &got, XT_ENV_KIND_ASSET, rs, &ep, q, &e), 0);
                assert_memory_equal(&got, &want[q], sizeof got);
                assert_int_equal(c[q].n, got.steps);
                assert_true(c[q].equity[c[q].n - 1] == got.final_equity);
                for (int64_t t = 1; t < c[q].n; t++) assert_true(c[q].ts[t] > c[q].ts[t - 1]);
                assert_true(c[q].ts[0] >= p.folds[k].test_start && c[q].ts[c[q].n - 1] < p.folds[k].test_end);
            }
            // The agent's eval CSV where the actors write it.
            snprintf(evdir, sizeof evdir, "%s/fold-%d/eval", dir, k);
            agent_n[k][strcmp(rs->symbol, "BTCUSD") == 0 ? 0 : 1] = s_fake_agent(rs, &c[0], evdir);
            for (int q = 0; q < XT_BASELINE_COUNT; q++) xt_evalcurve_free(&c[q]);
        }
        xt_shards_destroy(&sh);
        // Journal the fold; BTCUSD's CSV path is one the broker cannot read
        // (another machine's mount): it falls back to its run directory.
        assert_int_equal(xt_run_checkpoint(r, 8192, 8, 0.1, "ckpt.xtck", &e), 0);
        assert_int_equal(xt_run_set_phase(r, XT_WIRE_PHASE_EVAL, &e), 0);
        double m[XT_WIRE_EVAL_N];
        s_metrics(m, 0.01 * (k + 1));
        char csv[400];
        assert_int_equal(xt_run_eval(r, 0, m, "/elsewhere/fold/eval/BTCUSD-1h.csv", &e), 0);
        snprintf(csv, sizeof csv, "%s/EURUSD-1h.csv", evdir);
        assert_int_equal(xt_run_eval(r, 1, m, csv, &e), 0);
        assert_int_equal(xt_run_fold_done(r, &e), 0);
    }

    xt_runreport rr;
    assert_int_equal(xt_runreport_init(&rr, r, &cfg, dir, 1700000000, &e), 0);
    assert_int_equal(rr.n_agent, 4);
    assert_int_equal(rr.n_baselines, 4);
    assert_contains(rr.run.config_summary, "agent curves 4 of 4; baselines walked on the feature caches 4 of 4");
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 2; s++) {
            const xt_wf_shard *sh = &rr.run.folds[k].shards[s];
            const xt_wf_curves *c = &sh->curves;
            int64_t n = agent_n[k][s];
            assert_true(c->n > n && n > 10);
            for (int q = 0; q < XT_WF_NSTRAT; q++) assert_non_null(c->equity[q]);
            // The agent's rows, then its last row carried to the window's end.
            assert_true(c->equity[XT_WF_AGENT][0] == 10000.0);
            assert_true(c->equity[XT_WF_AGENT][n - 1] == 10000.0 + (double)(n - 1));
            assert_true(c->equity[XT_WF_AGENT][c->n - 1] == 10000.0 + (double)(n - 1));
            assert_int_equal(c->n_alloc, 1);
            assert_string_equal(c->alloc_names[0], "position");
            assert_true(c->alloc[1] == 1.0 && c->alloc[c->n - 1] == (double)((n - 1) % 2));
            assert_true(sh->bars_per_year > 8000 && sh->bars_per_year < 9000); // 1h bars, 24/7 or 24/5
            assert_true(isfinite(sh->m[XT_WF_AGENT].annual_vol) && sh->m[XT_WF_AGENT].annual_vol > 0);
            assert_true(sh->m[XT_WF_AGENT].total_return == 0.01 * (k + 1) + XT_WIRE_EVAL_TOTAL_RETURN);
            assert_true(c->equity[XT_WF_BUY_AND_HOLD][c->n - 1] ==
                        cfg.env_initial_balance * (1.0 + sh->m[XT_WF_BUY_AND_HOLD].total_return));
        }
    // DSR and PBO are computed from the curves, and the page has the charts.
    xt_wfstats *st = xt_wfstats_new(&rr.run, &e);
    if (!st) fail_msg("%s", e.msg);
    assert_int_equal(st->n_shards, 2);
    // The stitched agent returns of BTCUSD: both folds' whole test windows
    // (flat in cash, return 0, after its walk ended).
    assert_int_equal(st->shards[0].n_returns,
                     rr.run.folds[0].shards[0].curves.n - 1 + rr.run.folds[1].shards[0].curves.n - 1);
    assert_true(isfinite(st->shards[0].sr));
    assert_int_equal(st->pbo.n_strategies, 2);
    xt_wfstats_destroy(&st);
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(xt_report_render(&rr.run, NULL, XT_REPORT_HTML, &html, &len, &e), 0);
    assert_contains(html, "<figure class=\"drawdown\">");
    assert_contains(html, "Equal weight");
    free(html);
    xt_runreport_free(&rr);

    // One CSV gone: that shard's agent has no curve and the summary says why.
    snprintf(path, sizeof path, "%s/fold-1/eval/EURUSD-1h.csv", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(xt_runreport_init(&rr, r, &cfg, dir, 1700000000, &e), 0);
    assert_int_equal(rr.n_agent, 3);
    assert_null(rr.run.folds[1].shards[1].curves.equity[XT_WF_AGENT]);
    assert_contains(rr.run.config_summary, "agent curves 3 of 4 (");
    assert_contains(rr.run.config_summary, "EURUSD-1h.csv: not found on the broker's machine");
    xt_runreport_free(&rr);
    xt_run_destroy(&r);
}

// ---------------------------------------------------------------- model export

static void t_export(void **state) {
    static xt_config cfg;
    s_load(&cfg, s_tiny);
    char dir[256], runs[300], path[1024], buf[512];
    xt_err e = {0};
    // The registry sits beside the runs directory.
    assert_string_equal(xt_export_root(&cfg, path, sizeof path), "models");
    assert_int_equal(xt_config_set(&cfg, "run.dir", "/var/lib/xtrade/runs/", &e), 0);
    assert_string_equal(xt_export_root(&cfg, path, sizeof path), "/var/lib/xtrade/models");
    assert_int_equal(xt_config_set(&cfg, "run.dir", "/runs", &e), 0);
    assert_string_equal(xt_export_root(&cfg, path, sizeof path), "/models");

    xt_test_tmpdir(dir, "broker-export");
    snprintf(runs, sizeof runs, "%s/runs", dir);
    assert_int_equal(xt_config_set(&cfg, "run.dir", runs, &e), 0);
    assert_int_equal(xt_config_set(&cfg, "data.timeframes", "1h,4h", &e), 0);
    const char *ckpt = xt_test_write(buf, dir, "ckpt-best.xtck", "not really a checkpoint\n");
    assert_int_equal(xt_export_model(&cfg, ckpt, &e), 0);
    // Two symbols: one shared policy, one copy per timeframe.
    for (int ti = 0; ti < 2; ti++) {
        char want[600];
        snprintf(want, sizeof want, "%s/models/shared/ppo/%s/tiny.xtck", dir, ti ? "4h" : "1h");
        assert_string_equal(xt_export_path(&cfg, ti, path, sizeof path), want);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(xt_file_read_all(want, 1024, &text, &len, &e), 0);
        assert_string_equal(text, "not really a checkpoint\n");
        free(text);
    }
    // An asset-env run over one symbol exports under that symbol.
    assert_int_equal(xt_config_set(&cfg, "data.symbols", "EURUSD", &e), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/models/EURUSD/ppo/4h/tiny.xtck", dir);
    assert_string_equal(xt_export_path(&cfg, 1, path, sizeof path), want);
    // A checkpoint the broker cannot read is a sentence, not a crash.
    assert_int_equal(xt_export_model(&cfg, "/nowhere/fold-0/ckpt-best.xtck", &e), XT_ENOTFOUND);
    assert_contains(e.msg, "/nowhere/fold-0/ckpt-best.xtck is not readable on the broker's machine");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_plan_explicit),       cmocka_unit_test(t_plan_rolling_portfolio),
        cmocka_unit_test(t_plan_no_fold),        cmocka_unit_test(t_assign_train_exact),
        cmocka_unit_test(t_assign_train_balance), cmocka_unit_test(t_assign_eval), cmocka_unit_test(t_assign_limit),
        cmocka_unit_test(t_journal_resume),      cmocka_unit_test(t_journal_torn_tail),
        cmocka_unit_test(t_evalcurve_read),      cmocka_unit_test(t_report_curves),
        cmocka_unit_test(t_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
