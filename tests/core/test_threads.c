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

#include "core/thread_tuner.h"
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

/* Fed step times, the tuner probes the configured count, then one thread, keeps the faster,
 * and probes again after its hold; with one thread configured, or ATTNCAST_ADAPT_THREADS=0, it
 * never switches. */
static void test_tuner_keeps_the_faster_count_and_probes_again(void **state) {
    (void)state;
    ac_error err;
    assert_int_equal(ac_threads_init(2, &err), AC_OK);
    ac_thread_tuner t;
    ac_thread_tuner_init(&t);
    assert_true(t.enabled);
    int steps = 0;
    while (ac_threads_get() == 2) { /* 2 threads are slow here: 3 s a step, 1 thread 1 s */
        ac_thread_tuner_step(&t, 3.0);
        assert_true(++steps < 100);
    }
    assert_int_equal(ac_thread_tuner_current(&t), 1);
    while (t.phase != 2) ac_thread_tuner_step(&t, 1.0);
    assert_int_equal(ac_threads_get(), 1); /* kept: one thread was faster */
    for (int i = 0; i < 1000 && ac_threads_get() == 1; i++) ac_thread_tuner_step(&t, 1.0);
    assert_int_equal(ac_threads_get(), 2);                       /* probing again after the hold */
    while (ac_threads_get() == 2) ac_thread_tuner_step(&t, 0.5); /* now 2 threads are fast */
    while (t.phase != 2) ac_thread_tuner_step(&t, 1.0);
    assert_int_equal(ac_threads_get(), 2);
    ac_thread_tuner_step(&t, 1.0);
    ac_thread_tuner_finish(&t);
    assert_int_equal(ac_threads_get(), 2);
    setenv("ATTNCAST_ADAPT_THREADS", "0", 1);
    ac_thread_tuner_init(&t);
    for (int i = 0; i < 50; i++) ac_thread_tuner_step(&t, i % 2 ? 9.0 : 0.1);
    assert_int_equal(ac_threads_get(), 2);
    unsetenv("ATTNCAST_ADAPT_THREADS");
    assert_int_equal(ac_threads_init(1, &err), AC_OK);
    ac_thread_tuner_init(&t);
    assert_false(t.enabled);
}

/* On idle cores (one thread twice as slow) a probe times one thread for only a few steps, and
 * each probe that keeps the choice holds it twice as long as the last, up to a limit. */
static void test_tuner_ends_a_clear_probe_early_and_backs_off(void **state) {
    (void)state;
    ac_error err;
    assert_int_equal(ac_threads_init(2, &err), AC_OK);
    ac_thread_tuner t;
    ac_thread_tuner_init(&t);
    int holds[5];
    for (int probe = 0; probe < 5; probe++) {
        int at_two = 0, at_one = 0;
        while (t.phase != 2) {
            bool one = ac_threads_get() == 1;
            ac_thread_tuner_step(&t, one ? 2.0 : 1.0);
            at_one += one;
            at_two += !one;
            assert_true(at_one + at_two < 100);
        }
        assert_int_equal(ac_threads_get(), 2); /* kept the configured count */
        assert_int_equal(at_two, 7);           /* a warm-up and six timed steps */
        assert_int_equal(at_one, 3);           /* a warm-up and two: clearly slower */
        holds[probe] = 0;
        while (t.phase == 2) {
            ac_thread_tuner_step(&t, 1.0);
            holds[probe]++;
        }
    }
    assert_int_equal(holds[0], 200);
    assert_int_equal(holds[1], 400);
    assert_int_equal(holds[2], 800);
    assert_int_equal(holds[3], 1600);
    assert_int_equal(holds[4], 1600); /* the limit */
    /* a probe that changes the choice starts the hold over */
    while (t.phase != 2) ac_thread_tuner_step(&t, ac_threads_get() == 1 ? 0.5 : 1.0);
    assert_int_equal(ac_threads_get(), 1);
    assert_int_equal(t.hold, 200);
    assert_int_equal(ac_threads_init(1, &err), AC_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuner_keeps_the_faster_count_and_probes_again),
        cmocka_unit_test(test_tuner_ends_a_clear_probe_early_and_backs_off),
        cmocka_unit_test(test_explicit_count_reaches_openblas_and_openmp),
        cmocka_unit_test(test_environment_variable_is_used_when_nothing_is_requested),
        cmocka_unit_test(test_default_is_all_cores),
        cmocka_unit_test(test_malformed_environment_value_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
