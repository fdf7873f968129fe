// test_backend_select.c - learner.backend: auto | cpu | cuda, and the NCCL
// id helpers that need no GPU (hex text, atomic id file, waiting reader).
//
// On a machine without a usable GPU (or a build without CUDA) "auto" must
// fall back to the CPU backend and "cuda" must fail with the probe's
// reason; with a GPU both give the CUDA backend. Either way the test knows
// which case it is in from xt_cuda_probe and checks that case exactly.
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend_select.h"
#include "cuda/backend_cuda.h"
#include "cuda/nccl.h"

static void s_spec(xt_model_spec *s) {
    xt_model_spec_default(s, 5, 3, 0);
    s->lstm_hidden = 8, s->mlp[0] = 8, s->mlp[1] = 4;
}

static void t_select(void **state) {
    (void)state;
    xt_model_spec s;
    s_spec(&s);
    xt_backend_config cfg;
    xt_backend_config_default(&cfg);
    cfg.max_chunks = 2, cfg.T = 4, cfg.threads = 1;
    xt_err err = {0};
    xt_backend *be = NULL;
    // cpu: always the reference backend, params from the seed
    assert_int_equal(xt_backend_open(&be, "cpu", &s, &cfg, 3, 0, &err), 0);
    assert_string_equal(xt_backend_name(be), "cpu");
    xt_backend_destroy(&be);
    // unknown names are refused with the allowed values
    assert_int_equal(xt_backend_open(&be, "gpu", &s, &cfg, 3, 0, &err), XT_EINVAL);
    assert_null(be);
    assert_string_equal(err.msg, "learner.backend: must be auto, cpu or cuda (got \"gpu\")");
    char why[256];
    const int have_gpu = xt_cuda_probe(why, sizeof why) == 0;
    print_message("xt_cuda_probe: %s\n", why);
    assert_true(strlen(why) > 0);
    if (!have_gpu) {
        // auto falls back to the CPU; cuda fails and says why
        assert_int_equal(xt_backend_open(&be, "auto", &s, &cfg, 3, 0, &err), 0);
        assert_string_equal(xt_backend_name(be), "cpu");
        assert_false(xt_backend_is_cuda(be));
        xt_backend_destroy(&be);
        assert_int_equal(xt_backend_open(&be, "cuda", &s, &cfg, 3, 0, &err), XT_EDEVICE);
        assert_null(be);
        assert_contains(err.msg, "learner.backend: cuda was requested but ");
        assert_contains(err.msg, why);
        // the constructor itself refuses the same way
        assert_int_equal(xt_backend_cuda_new(&be, &s, &cfg, 0, &err), XT_EDEVICE);
        assert_contains(err.msg, "cuda backend: ");
    } else {
        assert_int_equal(xt_backend_open(&be, "auto", &s, &cfg, 3, 0, &err), 0);
        assert_string_equal(xt_backend_name(be), "cuda");
        assert_true(xt_backend_is_cuda(be));
        xt_backend_destroy(&be);
        assert_int_equal(xt_backend_open(&be, "cuda", &s, &cfg, 3, 0, &err), 0);
        xt_backend_destroy(&be);
    }
    // the same seed gives the CPU backend's initial params on either backend
    // (checked on the GPU by tests/gpu/test_cuda_backend.c)
    xt_cuda_config cc;
    xt_cuda_config_default(&cc);
    assert_int_equal(cc.tf32, 0);
    assert_int_equal(cc.max_batch_chunks, 4096);
}

// ---- NCCL id helpers (plain C on every build)

static void t_nccl_id(void **state) {
    (void)state;
    xt_nccl_id id, back;
    for (int k = 0; k < XT_NCCL_ID_BYTES; k++) id.bytes[k] = (uint8_t)(k * 37 + 11);
    char hex[2 * XT_NCCL_ID_BYTES + 1];
    xt_nccl_id_hex(&id, hex);
    assert_int_equal(strlen(hex), 2 * XT_NCCL_ID_BYTES);
    assert_memory_equal(hex, "0b30557a9fc4e90e", 16); // 11, 48, 85, 122, ...
    xt_err err = {0};
    assert_int_equal(xt_nccl_id_parse(hex, &back, &err), 0);
    assert_memory_equal(id.bytes, back.bytes, XT_NCCL_ID_BYTES);
    // bad input names what is wrong
    assert_int_equal(xt_nccl_id_parse("abc", &back, &err), XT_EPARSE);
    assert_string_equal(err.msg, "nccl id: expected 256 hex digits, got 3 characters");
    hex[10] = 'g';
    assert_int_equal(xt_nccl_id_parse(hex, &back, &err), XT_EPARSE);
    assert_string_equal(err.msg, "nccl id: character 11 is not a hex digit");
    hex[10] = 'A'; // upper case is accepted
    assert_int_equal(xt_nccl_id_parse(hex, &back, &err), 0);
    // file round trip, and a reader that gives up after its wait
    char dir[256], path[512];
    xt_test_tmpdir(dir, "nccl");
    snprintf(path, sizeof path, "%s/nccl.id", dir);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(xt_nccl_id_load(path, 0.1, &back, &err), XT_EIO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec) >= 0.1);
    assert_contains(err.msg, "did not appear within 0.1 s (is rank 0 running?)");
    assert_int_equal(xt_nccl_id_save(path, &id, &err), 0);
    memset(&back, 0, sizeof back);
    assert_int_equal(xt_nccl_id_load(path, 1.0, &back, &err), 0);
    assert_memory_equal(id.bytes, back.bytes, XT_NCCL_ID_BYTES);
    char bad[512];
    xt_test_write(bad, dir, "bad.id", "not an id\n");
    assert_int_equal(xt_nccl_id_load(bad, 1.0, &back, &err), XT_EPARSE);
    assert_contains(err.msg, "bad.id: nccl id: expected 256 hex digits, got 9 characters");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_select),
        cmocka_unit_test(t_nccl_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
