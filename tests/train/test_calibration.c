/* test_calibration.c - conformal intervals (intervals.h): the rank ceil((n + 1) level) with its
 * clamp to n and no round-off surprises, the fewest windows a level needs, ac_calibrate against a
 * brute-force computation on a tiny model and series (one forecast per window, the r-th smallest
 * error found by counting), the bounds around a point forecast, copies, refused inputs, and the
 * intervals a model offers (conformal levels, quantile pairs) with their bounds and labels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/intervals.h"
#include "support/tiny_model.h"

#define L 12
#define H 4
#define C 2

static void test_rank_is_ceil_of_n_plus_one_times_level_clamped_to_n(void **state) {
    (void)state;
    static const struct {
        int64_t n;
        double level;
        int64_t rank;
    } cases[] = {
        {1, 0.8, 1},    {1, 0.95, 1},    {1, 0.5, 1},   /* ceil(1.6), ceil(1.9) exceed 1 */
        {2, 0.8, 2},    {2, 0.95, 2},    {2, 0.5, 2},   /* ceil(2.4), ceil(2.85), ceil(1.5) */
        {9, 0.8, 8},    {9, 0.95, 9},    {9, 0.5, 5},   /* 10 x 0.8 = 8 exactly; ceil(9.5) > 9 */
        {19, 0.8, 16},  {19, 0.95, 19},  {19, 0.5, 10}, /* 20 x 0.95 = 19 exactly */
        {100, 0.8, 81}, {100, 0.95, 96}, {100, 0.5, 51},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = ac_conformal_rank(cases[i].n, cases[i].level);
        if (got != cases[i].rank)
            fail_msg("n %lld level %g: rank %lld, expected %lld", (long long)cases[i].n,
                     cases[i].level, (long long)got, (long long)cases[i].rank);
    }
}

static void test_rank_is_not_raised_by_float_round_off(void **state) {
    (void)state;
    /* 100 x 0.07 is 7.000000000000001 in doubles, 3 x 0.1 * 10 ... the rank stays the integer */
    assert_int_equal(ac_conformal_rank(99, 0.07), 7);
    assert_int_equal(ac_conformal_rank(29, 0.1), 3);
    assert_int_equal(ac_conformal_rank(9, 0.7), 7);
    assert_int_equal(ac_conformal_rank(99, 0.29), 29);
    assert_int_equal(ac_conformal_rank(999, 0.001), 1);
    /* just above a whole number by more than round-off still rounds up */
    assert_int_equal(ac_conformal_rank(99, 0.0701), 8);
}

static void test_rank_of_no_windows_or_a_bad_level_is_zero(void **state) {
    (void)state;
    assert_int_equal(ac_conformal_rank(0, 0.8), 0);
    assert_int_equal(ac_conformal_rank(-3, 0.8), 0);
    assert_int_equal(ac_conformal_rank(10, 0.0), 0);
    assert_int_equal(ac_conformal_rank(10, 1.0), 0);
    assert_int_equal(ac_conformal_rank(10, NAN), 0);
}

static void test_min_windows_is_where_the_rank_starts_to_fit(void **state) {
    (void)state;
    assert_int_equal(ac_conformal_min_windows(0.8), 4);
    assert_int_equal(ac_conformal_min_windows(0.95), 19);
    assert_int_equal(ac_conformal_min_windows(0.5), 1);
    assert_int_equal(ac_conformal_min_windows(0.9), 9);
    assert_int_equal(ac_conformal_min_windows(1.0), 0);
    const double levels[] = {0.01, 0.3, 0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        int64_t m = ac_conformal_min_windows(levels[i]);
        /* with m windows the unclamped rank fits; with m - 1 it does not */
        assert_true(ceil((double)(m + 1) * levels[i] - 1e-9) <= (double)m);
        if (m > 1) assert_true(ceil((double)m * levels[i] - 1e-9) > (double)(m - 1));
    }
}

/* ---- ac_calibrate on a tiny model ---- */

/* The r-th smallest of e[0..n), found by counting (no sorting). */
static double rth_smallest(const double *e, int n, int64_t r) {
    for (int i = 0; i < n; i++) {
        int64_t below = 0, at_most = 0;
        for (int j = 0; j < n; j++) {
            below += e[j] < e[i];
            at_most += e[j] <= e[i];
        }
        if (below < r && r <= at_most) return e[i];
    }
    fail_msg("no %lld-th smallest", (long long)r);
    return NAN;
}

static void test_calibrate_matches_a_brute_force_over_the_validation_windows(void **state) {
    (void)state;
    tm_fixture f;
    tm_fixture_init(&f, 160, 0.0, L, H, NULL);
    const double levels[] = {0.5, 0.8, 0.95};
    ac_calibration cal;
    ac_error err;
    /* batches of 7 windows: the last batch is partial */
    if (ac_calibrate(f.model, &f.series, AC_SPLIT_VAL, levels, 3, 7, &cal, &err) != AC_OK)
        fail_msg("calibrate: %s", err.msg);
    ac_window_range r = ac_series_windows(&f.series, AC_SPLIT_VAL);
    assert_true(r.count > 20);
    assert_int_equal(cal.count, 3);
    assert_int_equal(cal.horizon, H);
    assert_int_equal(cal.channels, C);
    assert_int_equal(cal.windows, r.count);
    assert_memory_equal(cal.levels, levels, sizeof levels);

    /* one forecast per window, each on its own */
    double *errors = malloc((size_t)H * C * (size_t)r.count * sizeof(double));
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    for (int i = 0; i < r.count; i++) {
        float y[H * C];
        const float *p = tm_forecast_one(ctx, f.model, &f.series, r.first + i, NULL, y);
        for (int j = 0; j < H * C; j++)
            errors[(size_t)j * r.count + i] = fabs((double)y[j] - (double)p[j]);
        ac_ctx_reset(ctx);
    }
    ac_ctx_free(ctx);
    for (int a = 0; a < 3; a++) {
        int64_t rank = ac_conformal_rank(r.count, levels[a]);
        for (int j = 0; j < H * C; j++) {
            double want = rth_smallest(errors + (size_t)j * r.count, r.count, rank);
            double got = cal.halfwidth[a * H * C + j];
            if (fabs(got - want) > 1e-5 * (1.0 + want))
                fail_msg("level %g, step %d, channel %d: half-width %.8g, brute force %.8g",
                         levels[a], j / C, j % C, got, want);
            if (a > 0) assert_true(got >= cal.halfwidth[(a - 1) * H * C + j]);
        }
    }
    /* the mean half-width is the mean of the level's block */
    double sum = 0;
    for (int j = 0; j < H * C; j++) sum += cal.halfwidth[H * C + j];
    assert_true(fabs(ac_calibration_mean_halfwidth(&cal, 1) - sum / (H * C)) < 1e-12);

    free(errors);
    ac_calibration_free(&cal);
    assert_null(cal.levels);
    tm_fixture_free(&f);
}

static void test_bad_levels_and_a_split_without_windows_are_refused(void **state) {
    (void)state;
    tm_fixture f;
    tm_fixture_init(&f, 80, 0.0, L, H, NULL);
    ac_series whole;
    ac_error err;
    ac_calibration cal;
    assert_int_equal(
        ac_calibrate(f.model, &f.series, AC_SPLIT_VAL, (double[]){0.8}, 0, 8, &cal, &err),
        AC_ERR_INVALID);
    assert_int_equal(
        ac_calibrate(f.model, &f.series, AC_SPLIT_VAL, (double[]){0.9, 0.8}, 2, 8, &cal, &err),
        AC_ERR_INVALID);
    assert_int_equal(
        ac_calibrate(f.model, &f.series, AC_SPLIT_VAL, (double[]){1.0}, 1, 8, &cal, &err),
        AC_ERR_INVALID);
    assert_null(cal.levels);
    /* a whole (unsplit) series has no validation windows */
    assert_int_equal(ac_series_build_whole(&whole, f.table, L, H, &f.series.scaler, &err), AC_OK);
    assert_int_equal(ac_calibrate(f.model, &whole, AC_SPLIT_VAL, (double[]){0.8}, 1, 8, &cal, &err),
                     AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "the val split has no window"));
    ac_series_free(&whole);
    tm_fixture_free(&f);
}

static void test_bounds_are_the_point_plus_and_minus_the_halfwidth(void **state) {
    (void)state;
    double levels[2] = {0.8, 0.95};
    double w[2 * 2 * 1] = {0.5, 1.0, 2.0, 4.0}; /* [K 2, H 2, C 1] */
    ac_calibration cal = {
        .count = 2, .levels = levels, .horizon = 2, .channels = 1, .windows = 30, .halfwidth = w};
    float point[2] = {1.0f, -3.0f}, lo[2], hi[2];
    ac_calibration_bounds(&cal, 1, point, lo, hi);
    assert_true(lo[0] == -1.0f && hi[0] == 3.0f);
    assert_true(lo[1] == -7.0f && hi[1] == 1.0f);
    ac_calibration_bounds(&cal, 0, point, lo, hi);
    assert_true(lo[0] == 0.5f && hi[0] == 1.5f);
    assert_true(lo[1] == -4.0f && hi[1] == -2.0f);
    assert_true(ac_calibration_mean_halfwidth(&cal, 1) == 3.0);

    ac_calibration copy;
    ac_error err;
    assert_int_equal(ac_calibration_copy(&copy, &cal, &err), AC_OK);
    assert_true(copy.levels != levels && copy.halfwidth != w);
    assert_memory_equal(copy.levels, levels, sizeof levels);
    assert_memory_equal(copy.halfwidth, w, sizeof w);
    assert_int_equal(copy.windows, 30);
    ac_calibration_free(&copy);
    ac_calibration_free(&copy); /* a freed struct is zeroed: freeing again is harmless */
}

static void test_a_model_offers_conformal_levels_then_symmetric_quantile_pairs(void **state) {
    (void)state;
    double levels[2] = {0.8, 0.95}, halfwidth[2 * 1 * 1] = {1.0, 2.0};
    ac_calibration cal = {
        .count = 2, .levels = levels, .horizon = 1, .channels = 1, .halfwidth = halfwidth};
    /* 0.05 has no partner (0.95 is missing), 0.1/0.9 and 0.25/0.75 pair up */
    ac_model_spec spec = {.quantile_count = 6,
                          .quantiles = {0.05f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f}};
    ac_interval_def defs[AC_INTERVALS_CAP];
    int n = ac_interval_defs(&spec, &cal, defs, AC_INTERVALS_CAP);
    assert_int_equal(n, 4);
    assert_true(defs[0].method == AC_INTERVAL_CONFORMAL && defs[0].level == 0.8 && defs[0].lo == 0);
    assert_true(defs[1].method == AC_INTERVAL_CONFORMAL && defs[1].level == 0.95 &&
                defs[1].hi == 1);
    assert_true(defs[2].method == AC_INTERVAL_QUANTILE && defs[2].lo == 2 && defs[2].hi == 4);
    assert_true(fabs(defs[2].level - 0.5) < 1e-6);
    assert_true(defs[3].method == AC_INTERVAL_QUANTILE && defs[3].lo == 1 && defs[3].hi == 5);
    assert_true(fabs(defs[3].level - 0.8) < 1e-6);
    assert_int_equal(ac_interval_defs(&spec, &cal, defs, 3), 3); /* cap */
    assert_int_equal(ac_interval_defs(&spec, NULL, defs, AC_INTERVALS_CAP), 2);
    ac_model_spec point = {0};
    assert_int_equal(ac_interval_defs(&point, NULL, defs, AC_INTERVALS_CAP), 0);

    /* bounds: conformal around the point, quantile from the sorted levels */
    ac_interval_defs(&spec, &cal, defs, AC_INTERVALS_CAP);
    const float pt[1] = {3.0f}, q[6] = {-1, 0, 1, 3, 5, 6};
    float lo, hi;
    ac_interval_bounds(&defs[1], &cal, pt, q, 1, 1, 6, &lo, &hi);
    assert_true(lo == 1.0f && hi == 5.0f);
    ac_interval_bounds(&defs[3], &cal, pt, q, 1, 1, 6, &lo, &hi);
    assert_true(lo == 0.0f && hi == 6.0f);
    char label[16];
    ac_level_percent(0.8, label, sizeof label);
    assert_string_equal(label, "80");
    ac_level_percent(0.975, label, sizeof label);
    assert_string_equal(label, "97.5");
    ac_level_percent(1.0 - 2.0 * (double)0.1f, label, sizeof label);
    assert_string_equal(label, "80");
    assert_string_equal(ac_interval_method_name(AC_INTERVAL_QUANTILE), "quantile");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_is_ceil_of_n_plus_one_times_level_clamped_to_n),
        cmocka_unit_test(test_rank_is_not_raised_by_float_round_off),
        cmocka_unit_test(test_rank_of_no_windows_or_a_bad_level_is_zero),
        cmocka_unit_test(test_min_windows_is_where_the_rank_starts_to_fit),
        cmocka_unit_test(test_calibrate_matches_a_brute_force_over_the_validation_windows),
        cmocka_unit_test(test_bad_levels_and_a_split_without_windows_are_refused),
        cmocka_unit_test(test_bounds_are_the_point_plus_and_minus_the_halfwidth),
        cmocka_unit_test(test_a_model_offers_conformal_levels_then_symmetric_quantile_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
