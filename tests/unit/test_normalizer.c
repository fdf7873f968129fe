// test_normalizer.c - train-window-only fitting, z-score and robust scaling,
// pass-through columns, NaN handling and clipping.
#include "testutil.h"

#include "market/normalizer.h"

#include <math.h>
#include <string.h>

static void t_zscore_train_only(void **s) {
    // Column 0: train rows 1..4 = {2, 4, 4, 6}: mean 4, sample sd sqrt(8/3).
    float x[6 * 2] = {100, 1, 2, 1, 4, 1, 4, 1, 6, 1, -500, 1};
    uint8_t scaled[2] = {1, 0};
    xt_normalizer nz;
    xt_err e;
    assert_int_equal(xt_normalizer_fit(&nz, x, 6, 2, 1, 5, scaled, 0, 0, &e), 0);
    assert_true(nz.center[0] == 4.0);
    assert_true(fabs(nz.scale[0] - sqrt(8.0 / 3.0)) < 1e-12);
    // Rows outside [1, 5) (100 and -500) must not influence the fit.
    float y[6 * 2];
    memcpy(y, x, sizeof x);
    y[0] = 1e6f, y[10] = -1e6f;
    xt_normalizer nz2;
    assert_int_equal(xt_normalizer_fit(&nz2, y, 6, 2, 1, 5, scaled, 0, 0, &e), 0);
    assert_true(nz2.center[0] == nz.center[0] && nz2.scale[0] == nz.scale[0]);
    xt_normalizer_apply(&nz, x, 6);
    assert_true(fabsf(x[2] - (float)(-2.0 / sqrt(8.0 / 3.0))) < 1e-6f);
    assert_true(x[3] == 1.0f); // unscaled column passes through
}

static void t_robust(void **s) {
    // 1..9 plus an outlier: median 5.5 of {1..9, 1000}; q1 = 3.25, q3 = 7.75 (linear interpolation).
    float x[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1000};
    xt_normalizer nz;
    xt_err e;
    assert_int_equal(xt_normalizer_fit(&nz, x, 10, 1, 0, 10, NULL, 1, 0, &e), 0);
    assert_true(fabs(nz.center[0] - 5.5) < 1e-12);
    assert_true(fabs(nz.scale[0] - (7.75 - 3.25) / 1.349) < 1e-12);
}

static void t_nan_clip_constant(void **s) {
    float x[5 * 2] = {NAN, 3, 1, 3, 2, 3, 3, 3, 100, 3};
    xt_normalizer nz;
    xt_err e;
    assert_int_equal(xt_normalizer_fit(&nz, x, 5, 2, 0, 4, NULL, 0, 2.0f, &e), 0);
    assert_true(nz.center[0] == 2.0); // NaN skipped: mean of {1, 2, 3}
    assert_true(nz.scale[1] == 1.0);  // constant column: scale 1, not 0
    xt_normalizer_apply(&nz, x, 5);
    assert_true(isnan(x[0]));
    assert_true(x[8] == 2.0f); // (100 - 2) / 1 clipped to 2
    assert_true(x[9] == 0.0f);
}

static void t_bad_window(void **s) {
    float x[4] = {1, 2, 3, 4};
    xt_normalizer nz;
    xt_err e = {0};
    assert_int_not_equal(xt_normalizer_fit(&nz, x, 4, 1, 3, 4, NULL, 0, 0, &e), 0);
    assert_contains(e.msg, "train window rows [3, 4) of 4 holds fewer than 2 rows");
}

int main(void) {
    const struct CMUnitTest t[] = {cmocka_unit_test(t_zscore_train_only), cmocka_unit_test(t_robust),
                                   cmocka_unit_test(t_nan_clip_constant), cmocka_unit_test(t_bad_window)};
    return cmocka_run_group_tests(t, NULL, NULL);
}
