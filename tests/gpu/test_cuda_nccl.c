// test_cuda_nccl.c - the NCCL side of multi-GPU training on one rank: init
// from an id file, all-reduce through the backend (mean over one rank
// changes nothing; the stage is timed), argument checks, and a group that
// never completes (two ranks, one present) failing with this rank named
// within its timeout instead of hanging. Without a usable GPU it prints
// "skipped: <reason>" and exits 77.
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "cuda/backend_cuda.h"
#include "cuda/nccl.h"
#include "nn/backend.h"

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// One rank: the id goes through a file as it would between processes; a
// backend with the communicator attached computes the same gradient and
// statistics as one without (the mean and the sum over one rank are the
// identity), and the all-reduce stage is timed.
static void t_one_rank(void **state) {
    (void)state;
    xt_err err = {0};
    xt_nccl_id id, back;
    assert_int_equal(xt_nccl_id_new(&id, &err), 0);
    char dir[256], path[512];
    xt_test_tmpdir(dir, "nccl");
    snprintf(path, sizeof path, "%s/nccl.id", dir);
    assert_int_equal(xt_nccl_id_save(path, &id, &err), 0);
    assert_int_equal(xt_nccl_id_load(path, 5, &back, &err), 0);
    xt_nccl *comm = NULL;
    int rc = xt_nccl_init(&comm, 0, 1, &back, 0, 30, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(xt_nccl_rank(comm), 0);
    assert_int_equal(xt_nccl_nranks(comm), 1);

    xt_model_spec s;
    xt_model_spec_default(&s, 6, 3, 0);
    s.lstm_hidden = 16, s.mlp[0] = 16, s.mlp[1] = 8;
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 3, cfg.T = 8;
    xt_backend *a = NULL, *b = NULL;
    assert_int_equal(xt_backend_cuda_new(&a, &s, &cfg, 0, &err), 0);
    assert_int_equal(xt_backend_cuda_new(&b, &s, &cfg, 0, &err), 0);
    assert_int_equal(xt_backend_cuda_attach_nccl(b, comm, &err), 0);
    // a small batch without optional fields
    enum { C = 3, T = 8, D = 6 };
    float obs[C * (T + 1) * D], logp[C * T], rew[C * T], adv[C * T], ret[C * T], vals[C * (T + 1)];
    int32_t act[C * T];
    uint8_t starts[C * T] = {0}, term[C * T] = {0};
    xt_rng g;
    xt_rng_seed(&g, 3);
    for (int k = 0; k < C * (T + 1) * D; k++) obs[k] = (float)xt_rng_normal(&g);
    for (int k = 0; k < C * T; k++) {
        logp[k] = -1.1f, rew[k] = (float)xt_rng_normal(&g), act[k] = (int32_t)xt_rng_below(&g, 3);
        adv[k] = (float)xt_rng_normal(&g), ret[k] = (float)xt_rng_normal(&g);
    }
    starts[T + 3] = term[T + 2] = 1;
    xt_batch bt = {.C = C, .T = T, .obs = obs, .actions_i = act, .logp = logp, .rewards = rew,
                   .starts = starts, .terminated = term};
    assert_int_equal(xt_backend_set_batch(a, &bt, &err), 0);
    assert_int_equal(xt_backend_set_batch(b, &bt, &err), 0);
    assert_int_equal(xt_backend_evaluate(a, vals, &err), 0);
    const int pick[3] = {2, 0, 1};
    xt_loss_coefs coefs = {{0.2, 0.5, 0.01, 0}, 1};
    xt_ppo_stats sa, sb;
    assert_int_equal(xt_backend_loss_grad(a, pick, 3, adv, ret, vals, &coefs, &sa, &err), 0);
    rc = xt_backend_loss_grad(b, pick, 3, adv, ret, vals, &coefs, &sb, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    const size_t n = xt_backend_layout(a)->n_params;
    float *ga = calloc(n, 4), *gb = calloc(n, 4);
    assert_non_null(ga);
    assert_non_null(gb);
    assert_int_equal(xt_backend_download(a, NULL, ga, NULL, NULL, NULL, &err), 0);
    assert_int_equal(xt_backend_download(b, NULL, gb, NULL, NULL, NULL, &err), 0);
    assert_memory_equal(ga, gb, n * 4);
    assert_memory_equal(&sa, &sb, sizeof sa);
    xt_cuda_stages sta, stb;
    assert_int_equal(xt_backend_cuda_stages(a, &sta, &err), 0);
    assert_int_equal(xt_backend_cuda_stages(b, &stb, &err), 0);
    assert_true(sta.allreduce < 1e-4); // an empty interval between two events
    assert_true(stb.allreduce > 0);
    free(ga), free(gb);
    xt_backend_destroy(&a);
    xt_backend_destroy(&b);
    xt_nccl_destroy(&comm);
    assert_null(comm);
}

static void t_bad_args(void **state) {
    (void)state;
    xt_err err = {0};
    xt_nccl_id id;
    memset(&id, 0, sizeof id);
    xt_nccl *comm = NULL;
    assert_int_equal(xt_nccl_init(&comm, 2, 2, &id, 0, 5, &err), XT_EINVAL);
    assert_string_equal(err.msg, "nccl: rank 2 of 2 with timeout 5 s: need 0 <= rank < nranks "
                                 "and a positive timeout");
    assert_null(comm);
}

// Two ranks, only rank 0 present: init cannot complete; after the timeout
// the communicator is aborted and the error names the rank.
static void t_timeout(void **state) {
    (void)state;
    xt_err err = {0};
    xt_nccl_id id;
    assert_int_equal(xt_nccl_id_new(&id, &err), 0);
    xt_nccl *comm = NULL;
    const double t0 = s_now();
    assert_int_equal(xt_nccl_init(&comm, 0, 2, &id, 0, 2.0, &err), XT_EDEVICE);
    const double took = s_now() - t0;
    print_message("init of a 2-rank group with 1 rank gave up after %.1f s: %s\n", took, err.msg);
    assert_null(comm);
    assert_contains(err.msg, "nccl: rank 0 of 2: init did not complete within 2 s");
    assert_contains(err.msg, "communicator aborted");
    assert_true(took >= 2.0 && took < 30.0);
}

int main(void) {
    char why[256];
    if (xt_cuda_probe(why, sizeof why) != 0) {
        printf("skipped: %s\n", why);
        return 77;
    }
    printf("device: %s\n", why);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_one_rank),
        cmocka_unit_test(t_bad_args),
        cmocka_unit_test(t_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
