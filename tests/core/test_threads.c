/* test_threads.c - the thread count: explicit setting, ATTNCAST_THREADS, default, and that it
 * reaches OpenBLAS and OpenMP. */
#include <cblas.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/threads.h"

static void test_explicit_count_reaches_openblas_and_openmp(void **state) {
    (void)state;
    ac_error err;
    assert_int_equal(ac_threads_init(3, &err), AC_OK);
    assert_int_equal(ac_threads_get(), 3);
    assert_int_equal(openblas_get_num_threads(), 3);
    assert_int_equal(omp_get_max_threads(), 3);
    assert_int_equal(ac_threads_init(1, &err), AC_OK);
    assert_int_equal(openblas_get_num_threads(), 1);
    assert_int_equal(omp_get_max_threads(), 1);
}

static void test_environment_variable_is_used_when_nothing_is_requested(void **state) {
    (void)state;
    ac_error err;
    setenv("ATTNCAST_THREADS", "2", 1);
    assert_int_equal(ac_threads_init(0, &err), AC_OK);
    assert_int_equal(ac_threads_get(), 2);
    assert_int_equal(ac_threads_init(1, &err), AC_OK); /* an explicit count wins */
    assert_int_equal(ac_threads_get(), 1);
}

static void test_default_is_all_cores(void **state) {
    (void)state;
    ac_error err;
    unsetenv("ATTNCAST_THREADS");
    assert_int_equal(ac_threads_init(0, &err), AC_OK);
    assert_int_equal(ac_threads_get(), ac_threads_available());
    assert_true(ac_threads_available() >= 1);
}

static void test_malformed_environment_value_is_a_clear_error(void **state) {
    (void)state;
    const char *bad[] = {"abc", "0", "-2", "3x", "99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ac_error err;
        setenv("ATTNCAST_THREADS", bad[i], 1);
        assert_int_equal(ac_threads_init(0, &err), AC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "ATTNCAST_THREADS"));
        assert_non_null(strstr(err.msg, bad[i]));
    }
    unsetenv("ATTNCAST_THREADS");
    ac_error err;
    assert_int_equal(ac_threads_init(-1, &err), AC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_count_reaches_openblas_and_openmp),
        cmocka_unit_test(test_environment_variable_is_used_when_nothing_is_requested),
        cmocka_unit_test(test_default_is_all_cores),
        cmocka_unit_test(test_malformed_environment_value_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
