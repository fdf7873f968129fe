// test_config.c - the YAML config table: defaults, typed parsing, the exact
// error sentences for bad input, overrides, dump round trip, reference.
#include "testutil.h"

#include "core/config.h"
#include "core/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_load(xt_config *c, const char *text, xt_err *e) {
    return xt_config_load_text(c, text, strlen(text), "configs/t.yaml", e);
}

static void s_expect_error(const char *text, const char *msg) {
    xt_config c;
    xt_err e = {0};
    int rc = s_load(&c, text, &e);
    if (rc == 0) fail_msg("expected an error containing \"%s\" for:\n%s", msg, text);
    assert_contains(e.msg, msg);
}

static void t_defaults(void **s) {
    xt_config c;
    xt_config_defaults(&c);
    assert_true(c.ppo_lr == 3e-4);
    assert_int_equal(c.ppo_n_epochs, 10);
    assert_int_equal(c.ppo_batch_size, 64);
    assert_int_equal(c.data_symbols.n, 6);
    assert_string_equal(c.data_symbols.v[3], "EURUSD");
    assert_int_equal(c.data_base_timeframe, 900);
    assert_int_equal(c.ppo_ent_schedule.n, 3);
    // Seed 003: 0.02 until 250k steps, 0.01 until 1M, then 0.005.
    assert_true(c.ppo_ent_schedule.step[0] == 0 && c.ppo_ent_schedule.value[0] == 0.02);
    assert_true(c.ppo_ent_schedule.step[1] == 250000 && c.ppo_ent_schedule.value[1] == 0.01);
    assert_true(c.ppo_ent_schedule.step[2] == 1000000 && c.ppo_ent_schedule.value[2] == 0.005);
    assert_int_equal(c.env_position_levels.n, 5);
    assert_true(c.env_position_levels.v[1] == -0.5);
    assert_int_equal(c.model_mlp.n, 2);
    assert_int_equal(c.model_mlp.v[0], 256);
    assert_true(c.env_max_weight == 0.4 && c.env_min_cash == 0.05 && c.env_fee_crypto == 0.001);
}

static void t_enum_constants(void **s) {
    // The named enum constants of config.h must index the right choices.
    assert_int_equal(xt_config_enum_index(XT_CFGK_env_kind, "asset"), XT_ENV_KIND_ASSET);
    assert_int_equal(xt_config_enum_index(XT_CFGK_env_kind, "portfolio"), XT_ENV_KIND_PORTFOLIO);
    assert_int_equal(xt_config_enum_index(XT_CFGK_data_source, "synthetic"), XT_DATA_SOURCE_SYNTHETIC);
    assert_int_equal(xt_config_enum_index(XT_CFGK_data_source, "csv"), XT_DATA_SOURCE_CSV);
    assert_int_equal(xt_config_enum_index(XT_CFGK_features_normalizer, "zscore"), XT_NORM_ZSCORE);
    assert_int_equal(xt_config_enum_index(XT_CFGK_features_normalizer, "robust"), XT_NORM_ROBUST);
    assert_int_equal(xt_config_enum_index(XT_CFGK_features_normalizer, "none"), XT_NORM_NONE);
    assert_int_equal(xt_config_enum_index(XT_CFGK_folds_mode, "explicit"), XT_FOLDS_EXPLICIT);
    assert_int_equal(xt_config_enum_index(XT_CFGK_folds_mode, "expanding"), XT_FOLDS_EXPANDING);
    assert_int_equal(xt_config_enum_index(XT_CFGK_folds_mode, "rolling"), XT_FOLDS_ROLLING);
    assert_int_equal(xt_config_enum_index(XT_CFGK_ppo_lr_schedule, "linear"), XT_LR_LINEAR);
    assert_int_equal(xt_config_enum_index(XT_CFGK_env_symbol_encoding, "id"), XT_SYMENC_ID);
}

static const char *s_folds =
    "folds:\n"
    "  mode: explicit\n"
    "  explicit:\n"
    "    - {train_start: 2020-01-01, train_end: 2022-01-01, test_start: 2022-01-01, test_end: 2023-01-01}\n"
    "    - {train_start: 2020-01-01, train_end: 2023-01-01, test_start: 2023-01-01, test_end: 2024-01-01}\n";

static void t_good_file(void **s) {
    char text[2048];
    snprintf(text, sizeof text,
             "run:\n  id: seed003-a\n  seed: 1_000\n"
             "data:\n  symbols: \"BTC/USD, ethusd ,SOLUSD\"\n  timeframes: [15m, 4h]\n"
             "env:\n  kind: asset\n  long_only: yes\n"
             "ppo:\n  lr: 1e-4\n  ent_schedule: [[0, 0.05], [1000, 0.0]]\n"
             "%s",
             s_folds);
    xt_config c;
    xt_err e = {0};
    int rc = s_load(&c, text, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_string_equal(c.run_id, "seed003-a");
    assert_int_equal(c.run_seed, 1000);
    assert_int_equal(c.data_symbols.n, 3);
    assert_string_equal(c.data_symbols.v[0], "BTCUSD");
    assert_string_equal(c.data_symbols.v[1], "ETHUSD");
    assert_int_equal(c.data_symbols.line[1], 5);
    assert_int_equal(c.data_timeframes.n, 2);
    assert_int_equal(c.data_timeframes.v[1], 4 * 3600);
    assert_int_equal(c.env_kind, XT_ENV_KIND_ASSET);
    assert_int_equal(c.env_long_only, 1);
    assert_true(c.ppo_lr == 1e-4);
    assert_int_equal(c.ppo_ent_schedule.n, 2);
    assert_int_equal(c.folds_explicit.n, 2);
    assert_int_equal(c.folds_explicit.v[1].test_start, 1672531200); // 2023-01-01
    char w[256];
    assert_string_equal(xt_config_where(&c, XT_CFGK_ppo_lr, w, sizeof w), "configs/t.yaml:11:7: ppo.lr");
    assert_string_equal(xt_config_where_item(&c, XT_CFGK_data_symbols, 2, w, sizeof w),
                        "configs/t.yaml:5:30: data.symbols[2]");
}

static void t_errors(void **s) {
    s_expect_error("ppo:\n  n_epoch: 3\n", "configs/t.yaml:2:3: ppo.n_epoch: unknown key (did you mean \"ppo.n_epochs\"?)");
    s_expect_error("dat:\n  source: csv\n", "configs/t.yaml:1:1: unknown section \"dat\" (did you mean \"data\"?)");
    s_expect_error("env:\n  lr: 0.1\n", "env.lr: unknown key (did you mean \"ppo.lr\"?)");
    s_expect_error("ppo:\n  n_epochs: ten\n", "configs/t.yaml:2:13: ppo.n_epochs: expected an integer (got \"ten\")");
    s_expect_error("ppo:\n  batch_size: 0\n", "configs/t.yaml:2:15: ppo.batch_size: must be between 1 and 1e+07 (got 0)");
    s_expect_error("ppo:\n  lr: .nan\n", "ppo.lr: expected a finite number (got \".nan\")");
    s_expect_error("env:\n  kind: portfolo\n", "env.kind: unknown value \"portfolo\" (one of: asset,portfolio)");
    s_expect_error("data:\n  timeframes: [15m, 7x]\n", "configs/t.yaml:2:21: data.timeframes[1]: expected a timeframe");
    s_expect_error("data:\n  timeframes: [15m, 20m]\n", "data.timeframes[1]: 20m is not a multiple of data.base_timeframe 15m");
    s_expect_error("data:\n  symbols: [BTCUSD, BTCUSD]\n", "data.symbols[1]: duplicate \"BTCUSD\"");
    s_expect_error("data:\n  symbols: [\"BTC$USD\"]\n", "data.symbols[0]: invalid character '$'");
    s_expect_error("data:\n  symbols: []\n", "data.symbols: needs at least 1 item");
    s_expect_error("data:\n  start: 2024-13-01\n", "data.start: expected an ISO-8601 date");
    s_expect_error("data:\n  start: 2024-01-01\n  end: 2023-01-01\n", "configs/t.yaml:3:8: data.end: must be after data.start");
    s_expect_error("run:\n  seed: 1\n  seed: 2\n", "configs/t.yaml:3:3: run.seed: given twice (first at line 2)");
    s_expect_error("run:\n  id: [a\n", "configs/t.yaml:3:1: YAML syntax error");
    s_expect_error("- a\n- b\n", "configs/t.yaml:1:1: expected a mapping of sections");
    s_expect_error("run:\n  deterministic: maybe\n", "run.deterministic: expected true or false (got \"maybe\")");
    s_expect_error("run:\n  id: \"../etc\"\n", "run.id: \"../etc\" may only hold letters");
    s_expect_error("ppo:\n  ent_schedule: [[10, 0.1]]\n", "ppo.ent_schedule[0]: the first entry must start at step 0");
    s_expect_error("ppo:\n  ent_schedule: [[0, 0.1], [0, 0.2]]\n", "ppo.ent_schedule[1]: steps must increase");
    s_expect_error("folds:\n  mode: explicit\n  explicit: [{train_start: 2020-01-01, train_end: 2021-01-01, test_start: 2020-06-01, test_end: 2022-01-01}]\n",
                   "folds.explicit[0]: dates must satisfy train_start < train_end <= test_start < test_end");
    s_expect_error("folds:\n  explicit: [{train_start: 2020-01-01, train_end: 2021-01-01, test_start: 2021-01-01, test_end: 2022-01-01}]\n",
                   "folds.explicit: folds are listed but folds.mode is not explicit");
    s_expect_error("folds:\n  explicit: [{train_start: 2020-01-01, train_end: 2021-01-01, test_end: 2022-01-01}]\n",
                   "folds.explicit[0]: missing test_start");
    s_expect_error("folds:\n  explicit: [{train_begin: 2020-01-01}]\n", "folds.explicit[0]: unknown key \"train_begin\"");
    s_expect_error("folds:\n  mode: explicit\n", "folds.explicit: folds.mode is explicit but no folds are listed");
    s_expect_error("ppo:\n  n_steps: 100\n  chunk_len: 64\n", "ppo.n_steps: 100 is not a multiple of ppo.chunk_len 64");
    s_expect_error("run:\n  id: a\n---\nrun:\n  id: b\n", "more than one YAML document");
}

static void t_set_override(void **s) {
    xt_config c;
    xt_err e = {0};
    xt_config_defaults(&c);
    assert_int_equal(xt_config_set(&c, "ppo.lr", "1e-3", &e), 0);
    assert_true(c.ppo_lr == 1e-3);
    assert_int_equal(xt_config_set(&c, "data.symbols", "BTCUSD,ETHUSD", &e), 0);
    assert_int_equal(c.data_symbols.n, 2);
    assert_int_not_equal(xt_config_set(&c, "ppo.lrr", "1", &e), 0);
    assert_contains(e.msg, "ppo.lrr: unknown key (did you mean \"ppo.lr\"?)");
    assert_int_not_equal(xt_config_set(&c, "ppo.n_epochs", "-3", &e), 0);
    assert_contains(e.msg, "--set: ppo.n_epochs: must be between 1 and 1000 (got -3)");
}

static char *s_dump(const xt_config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    xt_config_dump(c, f);
    fclose(f);
    return buf;
}

static void t_dump_round_trip(void **s) {
    xt_config a, b;
    xt_err e = {0};
    char text[2048];
    snprintf(text, sizeof text, "data:\n  symbols: [BTCUSD, EURUSD]\nppo:\n  lr: 0.00012345\n%s", s_folds);
    assert_int_equal(s_load(&a, text, &e), 0);
    char *d1 = s_dump(&a);
    int rc = xt_config_load_text(&b, d1, strlen(d1), "dump", &e);
    if (rc) fail_msg("dump does not reload: %s\n%s", e.msg, d1);
    char *d2 = s_dump(&b);
    // Dumps compare equal after the first line, which names the source.
    assert_string_equal(strchr(d1, '\n'), strchr(d2, '\n'));
    assert_true(b.ppo_lr == 0.00012345);
    assert_int_equal(b.folds_explicit.n, 2);
    free(d1);
    free(d2);
}

static void t_reference(void **s) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    xt_config_reference(f);
    fclose(f);
    char path[96];
    for (int k = 0; k < xt_config_key_count(); k++) {
        char needle[112];
        snprintf(needle, sizeof needle, "| `%s` |", xt_config_key_path(k, path, sizeof path));
        assert_contains(buf, needle);
    }
    free(buf);
}

static void t_readme_reference(void **s) {
    // The README's config reference is the generated table, verbatim.
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    xt_config_reference(f);
    fclose(f);
    char *readme;
    size_t rlen;
    xt_err e;
    if (xt_file_read_all(XT_SOURCE_DIR "/README.md", 1 << 22, &readme, &rlen, &e) != 0) fail_msg("%s", e.msg);
    if (!strstr(readme, buf))
        fail_msg("README.md's config reference differs from `xtrade config --reference`; regenerate it with "
                 "scripts/gen-config-reference.sh");
    free(readme);
    free(buf);
}

static void t_shipped_configs(void **s) {
    const char *files[] = {"configs/demo.yaml", "configs/seed003.yaml", "configs/asset_fast.yaml", "configs/tiny.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", XT_SOURCE_DIR, files[i]);
        xt_config c;
        xt_err e = {0};
        if (xt_config_load(&c, p, &e) != 0) fail_msg("%s", e.msg);
    }
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_defaults),     cmocka_unit_test(t_enum_constants), cmocka_unit_test(t_good_file),
        cmocka_unit_test(t_errors),       cmocka_unit_test(t_set_override),   cmocka_unit_test(t_dump_round_trip),
        cmocka_unit_test(t_reference),    cmocka_unit_test(t_readme_reference), cmocka_unit_test(t_shipped_configs),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
