/* test_fastmath.c - the vectorisable exp, erf and tanh of src/tensor/fastmath.h against libm in
 * double precision, over dense sweeps of their working ranges, plus the special values the
 * engine relies on (exp(-inf) = 0 for masked softmax, NaN in gives NaN out). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tensor/fastmath.h"

/* Largest relative error of f against ref over n points evenly spaced in [lo, hi]; values whose
 * reference is below `floor` in magnitude are compared absolutely against `floor`. */
static double max_rel_error(float (*f)(float), double (*ref)(double), float lo, float hi, int n,
                            double floor) {
    double worst = 0.0;
    for (int i = 0; i <= n; i++) {
        float x = lo + (hi - lo) * (float)i / (float)n;
        double r = ref((double)x), got = (double)f(x);
        double scale = fabs(r) > floor ? fabs(r) : floor;
        double e = fabs(got - r) / scale;
        if (e > worst) worst = e;
    }
    return worst;
}

static void test_fast_exp_is_within_1_5e7_relative_over_its_range(void **state) {
    (void)state;
    assert_true(max_rel_error(ac_fast_expf, exp, -87.0f, 88.0f, 2000003, 0.0) < 1.5e-7);
    assert_true(max_rel_error(ac_fast_expf, exp, -1.0f, 1.0f, 200003, 0.0) < 1.5e-7);
}

static void test_fast_erf_is_within_5e7_relative(void **state) {
    (void)state;
    assert_true(max_rel_error(ac_fast_erff, erf, -6.0f, 6.0f, 2000003, 1e-30) < 5e-7);
    assert_true(max_rel_error(ac_fast_erff, erf, -1e-3f, 1e-3f, 20003, 1e-30) < 5e-7);
}

static void test_fast_tanh_is_within_4_5e7_relative(void **state) {
    (void)state;
    assert_true(max_rel_error(ac_fast_tanhf, tanh, -12.0f, 12.0f, 2000003, 1e-30) < 4.5e-7);
    assert_true(max_rel_error(ac_fast_tanhf, tanh, -0.01f, 0.01f, 20003, 1e-30) < 4.5e-7);
}

static void test_special_values_follow_libm(void **state) {
    (void)state;
    assert_true(ac_fast_expf(-INFINITY) == 0.0f);
    assert_true(ac_fast_expf(-200.0f) == 0.0f);
    assert_true(isinf(ac_fast_expf(INFINITY)) && ac_fast_expf(INFINITY) > 0);
    assert_true(isinf(ac_fast_expf(100.0f)));
    assert_true(ac_fast_expf(0.0f) == 1.0f);
    assert_true(isnan(ac_fast_expf(NAN)));
    assert_true(isnan(ac_fast_erff(NAN)));
    assert_true(isnan(ac_fast_tanhf(NAN)));
    assert_true(ac_fast_erff(INFINITY) == 1.0f && ac_fast_erff(-INFINITY) == -1.0f);
    assert_true(ac_fast_tanhf(INFINITY) == 1.0f && ac_fast_tanhf(-INFINITY) == -1.0f);
    assert_true(ac_fast_erff(0.0f) == 0.0f && ac_fast_tanhf(0.0f) == 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_exp_is_within_1_5e7_relative_over_its_range),
        cmocka_unit_test(test_fast_erf_is_within_5e7_relative),
        cmocka_unit_test(test_fast_tanh_is_within_4_5e7_relative),
        cmocka_unit_test(test_special_values_follow_libm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
