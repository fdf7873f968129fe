// test_learner_ckptdir.c - a fold's checkpoint files: names, the
// newest-first listing (other names, temp files and ckpt-best ignored),
// pruning to the newest K without touching ckpt-best, and reading a
// training checkpoint's counters (with the sentence for a file that is not one).
#include "testutil.h"

#include "ckptdir.h"

#include "nn/ckpt.h"
#include "rl/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_rmdir(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) print_message("could not remove %s\n", dir);
}

static void s_touch(const char *dir, const char *name) {
    char p[512];
    xt_test_write(p, dir, name, "x");
}

static void t_names_list_prune(void **state) {
    (void)state;
    char dir[256], buf[600];
    xt_test_tmpdir(dir, "ckptdir");
    assert_string_equal(xt_ckptdir_fold(buf, sizeof buf, "runs/r1", 3), "runs/r1/fold-3");
    assert_string_equal(xt_ckptdir_path(buf, sizeof buf, "d", 1024), "d/ckpt-1024.xtck");
    assert_string_equal(xt_ckptdir_best(buf, sizeof buf, "d"), "d/ckpt-best.xtck");
    int64_t steps[8];
    xt_err err = {0};
    snprintf(buf, sizeof buf, "%s/missing", dir);
    assert_int_equal(xt_ckptdir_list(buf, steps, 8, &err), 0); // no directory yet: no checkpoints
    const char *names[] = {"ckpt-0.xtck", "ckpt-2048.xtck", "ckpt-1024.xtck", "ckpt-30720.xtck", "ckpt-best.xtck",
                           "ckpt-4096.xtck.tmp.123", "ckpt-12a.xtck", "ckpt-.xtck", "notes.txt", "ckpt-512.xtck"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) s_touch(dir, names[i]);
    int n = xt_ckptdir_list(dir, steps, 8, &err);
    assert_int_equal(n, 5);
    const int64_t want[5] = {30720, 2048, 1024, 512, 0};
    for (int i = 0; i < 5; i++) assert_int_equal(steps[i], want[i]);
    assert_int_equal(xt_ckptdir_list(dir, steps, 2, &err), 2); // the 2 newest, whatever the directory order
    assert_int_equal(steps[0], 30720);
    assert_int_equal(steps[1], 2048);
    assert_int_equal(xt_ckptdir_prune(dir, 2, &err), 3);
    n = xt_ckptdir_list(dir, steps, 8, &err);
    assert_int_equal(n, 2);
    assert_int_equal(steps[0], 30720);
    assert_int_equal(steps[1], 2048);
    snprintf(buf, sizeof buf, "%s/ckpt-best.xtck", dir);
    assert_int_equal(access(buf, F_OK), 0); // never pruned
    snprintf(buf, sizeof buf, "%s/ckpt-4096.xtck.tmp.123", dir);
    assert_int_equal(access(buf, F_OK), 0); // not a checkpoint name
    assert_int_equal(xt_ckptdir_prune(dir, 5, &err), 0);
    s_rmdir(dir);
}

static void t_info(void **state) {
    (void)state;
    char dir[256], path[512];
    xt_test_tmpdir(dir, "ckptinfo");
    snprintf(path, sizeof path, "%s/ckpt-64.xtck", dir);
    xt_err err = {0};
    // The sections the trainer writes that the learner reads back.
    int64_t counters[4] = {64, 2, 1, 42};
    double val = 1.25;
    xt_ckpt_writer *w = xt_ckpt_writer_new(4, &err);
    assert_int_equal(xt_ckpt_writer_add(w, "format", XT_CKPT_DTYPE_U8, XT_TRAIN_CKPT_FORMAT,
                                        strlen(XT_TRAIN_CKPT_FORMAT), &err),
                     0);
    assert_int_equal(xt_ckpt_writer_add(w, "counters", XT_CKPT_DTYPE_I64, counters, 4, &err), 0);
    assert_int_equal(xt_ckpt_writer_add(w, "val.sharpe", XT_CKPT_DTYPE_F64, &val, 1, &err), 0);
    assert_int_equal(xt_ckpt_writer_write(w, path, &err), 0);
    xt_ckpt_writer_destroy(&w);
    xt_ckptdir_info info;
    assert_int_equal(xt_ckptdir_info_read(path, &info, &err), 0);
    assert_int_equal(info.env_steps, 64);
    assert_int_equal(info.updates, 2);
    assert_int_equal(info.fold, 1);
    assert_true(info.val_sharpe == 1.25);
    // another kind of .xtck
    w = xt_ckpt_writer_new(2, &err);
    assert_int_equal(xt_ckpt_writer_add(w, "format", XT_CKPT_DTYPE_U8, "other/1", 7, &err), 0);
    assert_int_equal(xt_ckpt_writer_write(w, path, &err), 0);
    xt_ckpt_writer_destroy(&w);
    assert_int_equal(xt_ckptdir_info_read(path, &info, &err), XT_EINVAL);
    char want[700];
    snprintf(want, sizeof want, "%s: not an xtrade training checkpoint (format is not \"%s\")", path,
             XT_TRAIN_CKPT_FORMAT);
    assert_string_equal(err.msg, want);
    snprintf(path, sizeof path, "%s/none.xtck", dir);
    assert_true(xt_ckptdir_info_read(path, &info, &err) < 0);
    assert_contains(err.msg, "none.xtck");
    s_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_names_list_prune),
        cmocka_unit_test(t_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
