/* test_rng.c - the PCG32 generator: reference outputs, state save/restore, and the derived
 * draws (uniform, bounded, normal, shuffle). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/rng.h"

static void test_matches_pcg32_reference_sequence(void **state) {
    (void)state;
    /* pcg32-demo from the PCG reference: pcg32_srandom_r(&rng, 42u, 54u). */
    const uint32_t expect[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                               0x83d2f293, 0xbfa4784b, 0xcbed606e};
    ac_rng rng;
    ac_rng_seed(&rng, 42, 54);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        assert_int_equal(ac_rng_u32(&rng), expect[i]);
}

static void test_saved_state_continues_the_exact_sequence(void **state) {
    (void)state;
    ac_rng a;
    ac_rng_seed(&a, 7, 3);
    for (int i = 0; i < 100; i++) (void)ac_rng_normal(&a);
    ac_rng saved = a; /* what a checkpoint stores: the two words */
    float first[50];
    for (int i = 0; i < 50; i++) first[i] = ac_rng_uniform(&a);
    ac_rng b;
    memcpy(&b, &saved, sizeof b);
    for (int i = 0; i < 50; i++) assert_true(first[i] == ac_rng_uniform(&b));
}

static void test_fill_gives_the_same_outputs_as_single_draws(void **state) {
    (void)state;
    ac_rng a, b;
    ac_rng_seed(&a, 2024, 7);
    ac_rng_seed(&b, 2024, 7);
    uint32_t filled[301];
    ac_rng_fill_u32(&a, filled, 301);
    for (int i = 0; i < 301; i++) assert_int_equal(filled[i], ac_rng_u32(&b));
    assert_true(a.state == b.state);
    ac_rng_fill_u32(&a, filled, 0); /* nothing drawn */
    assert_int_equal(ac_rng_u32(&a), ac_rng_u32(&b));
}

static void test_streams_and_seeds_differ(void **state) {
    (void)state;
    ac_rng a, b, c;
    ac_rng_seed(&a, 1, 0);
    ac_rng_seed(&b, 1, 1);
    ac_rng_seed(&c, 2, 0);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t x = ac_rng_u32(&a), y = ac_rng_u32(&b), z = ac_rng_u32(&c);
        same_ab += x == y;
        same_ac += x == z;
    }
    assert_true(same_ab < 2 && same_ac < 2);
}

static void test_uniform_stays_in_unit_interval_with_mean_one_half(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 5, 0);
    double sum = 0.0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        float u = ac_rng_uniform(&rng);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    assert_true(fabs(sum / n - 0.5) < 0.01);
    for (int i = 0; i < 1000; i++) {
        float v = ac_rng_uniform_range(&rng, -3.0f, -1.0f);
        assert_true(v >= -3.0f && v < -1.0f);
    }
}

static void test_below_is_in_range_and_unbiased(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 9, 0);
    int counts[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint32_t r = ac_rng_below(&rng, 7);
        assert_true(r < 7);
        counts[r]++;
    }
    for (int k = 0; k < 7; k++) assert_true(abs(counts[k] - n / 7) < 500);
    assert_int_equal(ac_rng_below(&rng, 1), 0);
}

static void test_normal_has_zero_mean_and_unit_variance(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 11, 0);
    double s = 0.0, s2 = 0.0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = ac_rng_normal(&rng);
        assert_true(isfinite(x));
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    assert_true(fabs(mean) < 0.01);
    assert_true(fabs(var - 1.0) < 0.02);
}

static void test_shuffle_is_a_seeded_permutation(void **state) {
    (void)state;
    enum { N = 257 };
    uint32_t a[N], b[N];
    for (uint32_t i = 0; i < N; i++) a[i] = b[i] = i;
    ac_rng r1, r2;
    ac_rng_seed(&r1, 3, 0);
    ac_rng_seed(&r2, 3, 0);
    ac_rng_shuffle_u32(&r1, a, N);
    ac_rng_shuffle_u32(&r2, b, N);
    assert_memory_equal(a, b, sizeof a);
    int seen[N] = {0}, moved = 0;
    for (uint32_t i = 0; i < N; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > N / 2);
    ac_rng_shuffle_u32(&r1, a, 0); /* empty and single-item shuffles are no-ops */
    ac_rng_shuffle_u32(&r1, a, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_pcg32_reference_sequence),
        cmocka_unit_test(test_saved_state_continues_the_exact_sequence),
        cmocka_unit_test(test_fill_gives_the_same_outputs_as_single_draws),
        cmocka_unit_test(test_streams_and_seeds_differ),
        cmocka_unit_test(test_uniform_stays_in_unit_interval_with_mean_one_half),
        cmocka_unit_test(test_below_is_in_range_and_unbiased),
        cmocka_unit_test(test_normal_has_zero_mean_and_unit_variance),
        cmocka_unit_test(test_shuffle_is_a_seeded_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
