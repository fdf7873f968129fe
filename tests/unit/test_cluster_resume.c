// test_cluster_resume.c - resume equivalence of a cluster run (DESIGN §8):
// in deterministic sync mode (run.deterministic true, learner.mode sync, one
// actor), a run whose learner is killed -9 right after a periodic checkpoint
// and resumed by `xtrade cluster up`'s supervisor must end with the same
// final weights as an uninterrupted run. Both runs are real clusters
// (build/bin/xtrade cluster up with the broker, learner and actor daemons)
// on configs/tiny.yaml; the final checkpoints' params.* sections are compared
// byte for byte.
//
//   t_sync_runs_repeat   fold 1, which both runs train without interruption,
//                        ends bit-identical: a sync cluster run is repeatable.
//   t_resume_equivalence fold 0, interrupted in the second run, ends
//                        bit-identical too. The learner restores its own
//                        state from the checkpoint (params, Adam, counters,
//                        reward normalizer, minibatch RNG); the actor keeps
//                        its envs on the restarted learner's new Assignment
//                        (new ephemeral ports: only the sockets change),
//                        waits for that learner's weights, and rewinds its
//                        envs, LSTM states and RNG streams to the snapshot
//                        taken at the start of the version it resumed at, so
//                        the share the dead learner got is produced again.
#include "testutil.h"

#include "core/fileio.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_BUDGET "16384" // env steps per fold: 8 sync updates of 16 envs x 128 steps

typedef struct {
    char dir[300];
    int rc; // cluster up's exit status
} s_run;

static s_run s_a, s_b; // uninterrupted, interrupted
static int s_ready;
static char s_base[256];

static void s_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int s_file_has(const char *path, const char *needle) {
    char *text = NULL;
    size_t len = 0;
    int found = xt_file_exists(path) && xt_file_read_all(path, 64u << 20, &text, &len, NULL) == 0 && strstr(text, needle);
    free(text);
    return found;
}

// Starts `xtrade cluster up` in dir (stdout/stderr to dir/out.txt).
static pid_t s_start(const char *dir) {
    char xt[600], cfg[600], out[400];
    snprintf(xt, sizeof xt, "%s/bin/xtrade", XT_BINARY_DIR);
    snprintf(cfg, sizeof cfg, "%s/configs/tiny.yaml", XT_SOURCE_DIR);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        FILE *f = freopen(out, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
        xt_test_child_leaks_reported();
        execl(xt, xt, "cluster", "up", "--config", cfg, "--actors", "1", "--timeout", "120", "--set",
              "run.deterministic=true", "--set", "learner.mode=sync", "--set", "ppo.total_steps=" S_BUDGET, "--set",
              "learner.checkpoint_every=2", "--set", "broker.heartbeat_ms=200", "--set", "broker.liveness_ms=1500",
              "--set", "actor.reconnect_ms=300", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int s_wait(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The learner's pid from cluster up's "learner-0  pid N;" line.
static pid_t s_learner_pid(const char *dir) {
    char path[400], line[512];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "r");
    pid_t pid = 0;
    while (f && fgets(line, sizeof line, f)) {
        int p;
        if (sscanf(line, "learner-0 pid %d", &p) == 1 || sscanf(line, "learner-0  pid %d", &p) == 1) pid = p;
    }
    if (f) fclose(f);
    return pid;
}

// Both runs, once for the whole file.
static int s_setup(void **state) {
    if (s_ready) return 0;
    xt_test_tmpdir(s_base, "cluster-resume");
    snprintf(s_a.dir, sizeof s_a.dir, "%s/a", s_base);
    snprintf(s_b.dir, sizeof s_b.dir, "%s/b", s_base);
    if (xt_file_mkdirs(s_a.dir, NULL) || xt_file_mkdirs(s_b.dir, NULL)) return -1;
    s_a.rc = s_wait(s_start(s_a.dir));

    // The interrupted run: kill -9 the learner as soon as its first periodic
    // checkpoint of fold 0 is logged (written before it is logged).
    pid_t up = s_start(s_b.dir);
    char log[400];
    snprintf(log, sizeof log, "%s/runs/tiny/logs/learner-0.log", s_b.dir);
    pid_t learner = 0;
    for (int i = 0; i < 3000 && !learner; i++) {
        if (s_file_has(log, "fold 0: checkpoint runs/tiny/fold-0/ckpt-")) learner = s_learner_pid(s_b.dir);
        else s_sleep_ms(10);
    }
    if (learner > 0) kill(learner, SIGKILL);
    s_b.rc = s_wait(up);
    s_ready = learner > 0 ? 1 : -1;
    return 0;
}

// Removes the runs (XT_KEEP_TMP=1 keeps them for a look).
static int s_teardown(void **state) {
    xt_test_rmtree(s_base);
    return 0;
}

static void s_final(char *buf, size_t cap, const s_run *r, int fold) {
    snprintf(buf, cap, "%s/runs/tiny/fold-%d/ckpt-" S_BUDGET ".xtck", r->dir, fold);
}

static void s_check_runs(void) {
    if (s_ready < 0) fail_msg("the learner of the second run never logged a fold-0 checkpoint (see %s/out.txt)", s_b.dir);
    if (s_a.rc != 0) fail_msg("uninterrupted run: cluster up exited %d (see %s/out.txt)", s_a.rc, s_a.dir);
    if (s_b.rc != 0) fail_msg("interrupted run: cluster up exited %d (see %s/out.txt)", s_b.rc, s_b.dir);
}

static void t_sync_runs_repeat(void **state) {
    s_check_runs();
    // No daemon of either run leaked in xtrade's code (sanitizer builds).
    const s_run *runs[2] = {&s_a, &s_b};
    for (int i = 0; i < 2; i++) {
        char dir[1024], why[4096];
        snprintf(dir, sizeof dir, "%s/runs/tiny/logs", runs[i]->dir);
        if (xt_test_dir_leaks_ours(dir, why, sizeof why)) fail_msg("a daemon leaked (%s):\n%s", dir, why);
    }
    char log[400], a[400], b[400], diff[600];
    // The interruption really happened, and the learner resumed.
    snprintf(log, sizeof log, "%s/runs/tiny/logs/learner-0.log", s_b.dir);
    assert_true(s_file_has(log, "fold 0: resumed from runs/tiny/fold-0/ckpt-"));
    snprintf(log, sizeof log, "%s/out.txt", s_b.dir);
    assert_true(s_file_has(log, "learner-0  killed by signal 9 (Killed): restarting"));
    s_final(a, sizeof a, &s_a, 1);
    s_final(b, sizeof b, &s_b, 1);
    xt_test_params_diff(a, b, diff, sizeof diff);
    if (diff[0]) fail_msg("fold 1 (no interruption in either run) differs: %s", diff);
}

static void t_resume_equivalence(void **state) {
    s_check_runs();
    char a[400], b[400], diff[600], log[400];
    // The actor kept its envs. (It rewinds them when it had already acted
    // on the checkpoint's version, as it nearly always has by the kill; if
    // the weights of that version had not reached it yet, no rewind is due.)
    snprintf(log, sizeof log, "%s/runs/tiny/logs/actor-0.log", s_b.dir);
    assert_true(s_file_has(log, "new learner endpoints, envs kept"));
    if (!s_file_has(log, "envs rewound to the start of version"))
        print_message("note: the actor had not acted on the checkpoint's version yet: no rewind was needed\n");
    s_final(a, sizeof a, &s_a, 0);
    s_final(b, sizeof b, &s_b, 0);
    assert_true(xt_file_exists(a) && xt_file_exists(b));
    xt_test_params_diff(a, b, diff, sizeof diff);
    if (diff[0]) fail_msg("fold 0 after a learner restart differs from the uninterrupted run: %s", diff);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sync_runs_repeat),
        cmocka_unit_test(t_resume_equivalence),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
