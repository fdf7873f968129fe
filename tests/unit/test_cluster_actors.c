// test_cluster_actors.c - a deterministic sync cluster run does not depend on
// how many actors step its envs (docs/cluster.md, "Deterministic runs").
//
// Three real clusters (build/bin/xtrade cluster up: broker, learner and 1, 2
// or 3 actor daemons) train configs/tiny.yaml (8 envs over 2 shards, sync
// mode caps the layout at ppo.n_envs) with run.deterministic true. The
// layout is the same global env slots in every run (broker/assign.h: slot j
// steps shard floor(j * S / C)); only which actor steps a slot changes:
//   1 actor:  slots 0-7 (shards 0 and 1)
//   2 actors: slots 0-3 (shard 0) | 4-7 (shard 1)
//   3 actors: slots 0-2 (shard 0) | 3-5 (shard 0, then 1) | 6-7 (shard 1)
// The final checkpoints' params.* sections must be equal byte for byte. This
// needs both halves of the fix: each env is inferred alone (the same
// rounding whatever else shares the batch; rl/rollout.h) and numbered by its
// global slot (the Assignment's env_slot: its RNG streams and the learner's
// chunk order; actor/runner.h). Without them the 2-actor run differs.
//
// Fold 1 is compared: by its start every actor has registered. Fold 0 can
// begin while the first actor alone holds the whole layout, and the
// version(s) trained before the others register then come from another
// layout (a documented limit).
#include "testutil.h"

#include "core/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_BUDGET "4096" // env steps per fold: 4 sync updates of 8 envs x 128 steps

typedef struct {
    char dir[300];
    int rc; // cluster up's exit status
} s_run;

static s_run s_runs[3]; // 1, 2, 3 actors
static char s_base[256];

// `xtrade cluster up --actors n` in dir (output to dir/out.txt); its exit status.
static int s_cluster(const char *dir, int n) {
    char xt[600], cfg[600], out[400], actors[8];
    snprintf(xt, sizeof xt, "%s/bin/xtrade", XT_BINARY_DIR);
    snprintf(cfg, sizeof cfg, "%s/configs/tiny.yaml", XT_SOURCE_DIR);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(actors, sizeof actors, "%d", n);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        FILE *f = freopen(out, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
        xt_test_child_leaks_reported();
        execl(xt, xt, "cluster", "up", "--config", cfg, "--actors", actors, "--timeout", "120", "--set",
              "run.deterministic=true", "--set", "learner.mode=sync", "--set", "ppo.total_steps=" S_BUDGET, "--set",
              "broker.heartbeat_ms=200", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int s_setup(void **state) {
    (void)state;
    xt_test_tmpdir(s_base, "cluster-actors");
    for (int k = 0; k < 3; k++) {
        snprintf(s_runs[k].dir, sizeof s_runs[k].dir, "%s/actors-%d", s_base, k + 1);
        if (xt_file_mkdirs(s_runs[k].dir, NULL)) return -1;
        s_runs[k].rc = s_cluster(s_runs[k].dir, k + 1);
    }
    return 0;
}

// Removes the runs (XT_KEEP_TMP=1 keeps them for a look).
static int s_teardown(void **state) {
    (void)state;
    xt_test_rmtree(s_base);
    return 0;
}

// Run k (k + 1 actors) against the 1-actor run: fold 1's final weights.
static void s_check(int k) {
    for (int i = 0; i <= k; i += k) // the reference run and run k
        if (s_runs[i].rc != 0) fail_msg("%d actor(s): cluster up exited %d (see %s/out.txt)", i + 1, s_runs[i].rc, s_runs[i].dir);
    char a[400], b[400], log[400], diff[600];
    snprintf(a, sizeof a, "%s/runs/tiny/fold-1/ckpt-" S_BUDGET ".xtck", s_runs[0].dir);
    snprintf(b, sizeof b, "%s/runs/tiny/fold-1/ckpt-" S_BUDGET ".xtck", s_runs[k].dir);
    // Every actor really stepped envs of fold 1.
    for (int i = 0; i <= k; i++) {
        snprintf(log, sizeof log, "%s/runs/tiny/logs/actor-%d.log", s_runs[k].dir, i);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(xt_file_read_all(log, 64u << 20, &text, &len, NULL), 0);
        int stepped = k == 1 ? strstr(text, "fold 1: 4 envs over 1 shards") != NULL
                             : strstr(text, "fold 1: 3 envs") || strstr(text, "fold 1: 2 envs over 1 shards");
        free(text);
        if (!stepped) fail_msg("%d actors: actor-%d has no fold-1 envs of the expected layout (see %s)", k + 1, i, log);
    }
    xt_test_params_diff(a, b, diff, sizeof diff);
    if (diff[0]) fail_msg("fold 1 with %d actors differs from 1 actor: %s", k + 1, diff);
    // No daemon of either run leaked in xtrade's code (sanitizer builds).
    for (int i = 0; i <= k; i += k) {
        char dir[1024], why[4096];
        snprintf(dir, sizeof dir, "%s/runs/tiny/logs", s_runs[i].dir);
        if (xt_test_dir_leaks_ours(dir, why, sizeof why)) fail_msg("a daemon leaked (%s):\n%s", dir, why);
    }
}

static void t_two_actors_equal_one(void **state) {
    (void)state;
    s_check(1);
}

static void t_three_actors_equal_one(void **state) {
    (void)state;
    s_check(2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_two_actors_equal_one),
        cmocka_unit_test(t_three_actors_equal_one),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
