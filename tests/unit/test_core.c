#include "testutil.h"
#include "core/crc32.h"
static void t_crc(void **s) { assert_int_equal(xt_crc32(0, "123456789", 9), 0xCBF43926u); }
int main(void) { const struct CMUnitTest t[] = {cmocka_unit_test(t_crc)}; return cmocka_run_group_tests(t, NULL, NULL); }
