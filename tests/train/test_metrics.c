/* test_metrics.c - error metrics on hand-computed cases (per channel and pooled, the MAPE floor
 * and its share rule), the three baselines, interval and quantile scores and the seasonal-naive
 * quantile baseline. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/metrics.h"

static void test_baselines_repeat_last_value_last_season_and_mean(void **state) {
    (void)state;
    /* L = 4, C = 1: x = 1, 2, 3, 4 */
    const float x[4] = {1, 2, 3, 4};
    float out[5];
    ac_baseline_forecast(AC_BASELINE_NAIVE, x, 4, 1, 5, 2, out);
    for (int h = 0; h < 5; h++) assert_true(out[h] == 4.0f);
    ac_baseline_forecast(AC_BASELINE_SEASONAL_NAIVE, x, 4, 1, 5, 2, out);
    const float seasonal[5] = {3, 4, 3, 4, 3};
    assert_memory_equal(out, seasonal, sizeof seasonal);
    ac_baseline_forecast(AC_BASELINE_MEAN, x, 4, 1, 5, 2, out);
    for (int h = 0; h < 5; h++) assert_true(out[h] == 2.5f);
    /* a season longer than the lookback falls back to repeating the last value */
    ac_baseline_forecast(AC_BASELINE_SEASONAL_NAIVE, x, 4, 1, 2, 9, out);
    assert_true(out[0] == 4.0f && out[1] == 4.0f);
    /* two channels interleaved time-major */
    const float x2[6] = {1, 10, 2, 20, 3, 30};
    float out2[4];
    ac_baseline_forecast(AC_BASELINE_NAIVE, x2, 3, 2, 2, 1, out2);
    const float want2[4] = {3, 30, 3, 30};
    assert_memory_equal(out2, want2, sizeof want2);
}

static void test_metrics_match_hand_computed_values(void **state) {
    (void)state;
    /* one channel, mean 10, std 2: scaled s <-> original 10 + 2 s */
    double mean = 10.0, sd = 2.0, scale = 4.0;
    ac_scaler sc = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd};
    ac_metrics_acc acc;
    ac_error err;
    assert_int_equal(ac_metrics_acc_init(&acc, &sc, &scale, NULL, &err), AC_OK);
    const float pred[2] = {1.0f, -1.0f}, truth[2] = {0.5f, 0.0f}; /* originals 12, 8 vs 11, 10 */
    ac_metrics_acc_add(&acc, pred, truth, 2);
    ac_metrics m = ac_metrics_acc_result(&acc);
    assert_int_equal(m.points, 2);
    assert_true(fabs(m.mse - (0.25 + 1.0) / 2) < 1e-12);
    assert_true(fabs(m.mae - (0.5 + 1.0) / 2) < 1e-12);
    assert_true(fabs(m.rmse - sqrt((1.0 + 4.0) / 2)) < 1e-12);
    assert_true(fabs(m.mae_orig - (1.0 + 2.0) / 2) < 1e-12);
    assert_true(fabs(m.wape - 100.0 * (1.0 + 2.0) / (11.0 + 10.0)) < 1e-9);
    assert_true(fabs(m.mape - 100.0 * (1.0 / 11 + 2.0 / 10) / 2) < 1e-9);
    assert_true(fabs(m.smape - 200.0 * (1.0 / 23 + 2.0 / 18) / 2) < 1e-9);
    assert_true(fabs(m.mase - (1.0 / 4 + 2.0 / 4) / 2) < 1e-12);
    ac_metrics_acc_free(&acc);
}

static void test_zero_actuals_are_left_out_of_mape_only(void **state) {
    (void)state;
    double mean = 0.0, sd = 1.0, scale = 0.0; /* a zero MASE scale leaves the channel out */
    ac_scaler sc = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd};
    ac_metrics_acc acc;
    ac_error err;
    assert_int_equal(ac_metrics_acc_init(&acc, &sc, &scale, NULL, &err), AC_OK);
    const float pred[2] = {1.0f, 0.0f}, truth[2] = {0.0f, 0.0f};
    ac_metrics_acc_add(&acc, pred, truth, 2);
    ac_metrics m = ac_metrics_acc_result(&acc);
    assert_true(isnan(m.mape));
    assert_true(isnan(m.mase));
    assert_true(isnan(m.wape)); /* sum |y| = 0 */
    assert_true(fabs(m.smape - 200.0 * (1.0 / 1.0 + 0.0) / 2) < 1e-12);
    assert_true(fabs(m.mse - 0.5) < 1e-12);
    ac_metrics_acc_free(&acc);
}

/* 20 points of one channel (mean 0, std 1): y = 10 except `small` points at y = 0.5, each
 * forecast 1 too high; the floor is 1 (0.1 x a mean |y| of 10). */
static ac_metrics mape_of_series_with_small_points(int small) {
    double mean = 0.0, sd = 1.0, floor = 1.0;
    ac_scaler sc = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd};
    ac_metrics_acc acc;
    ac_error err;
    if (ac_metrics_acc_init(&acc, &sc, NULL, &floor, &err) != AC_OK) fail_msg("%s", err.msg);
    float truth[20], pred[20];
    for (int i = 0; i < 20; i++) {
        truth[i] = i < small ? 0.5f : 10.0f;
        pred[i] = truth[i] + 1.0f;
    }
    ac_metrics_acc_add(&acc, pred, truth, 20);
    ac_metrics m = ac_metrics_acc_result(&acc);
    ac_metrics_acc_free(&acc);
    return m;
}

static void test_mape_counts_only_points_at_or_above_the_floor(void **state) {
    (void)state;
    /* 2 of 20 below the floor: 90% qualify, MAPE over those 18 (10%), not 200% at y = 0.5 */
    ac_metrics m = mape_of_series_with_small_points(2);
    assert_int_equal(m.mape_points, 18);
    assert_true(fabs(m.mape_share - 0.9) < 1e-12);
    assert_true(fabs(m.mape - 10.0) < 1e-9);
    assert_int_equal(m.mape_channels_out, 0);
    /* the other metrics still count every point */
    assert_int_equal(m.points, 20);
    assert_true(fabs(m.mae_orig - 1.0) < 1e-12);
}

static void test_mape_is_left_out_when_too_few_points_qualify(void **state) {
    (void)state;
    ac_metrics m = mape_of_series_with_small_points(3); /* 85% qualify, 90% needed */
    assert_true(isnan(m.mape));
    assert_int_equal(m.mape_channels_out, 1);
    assert_true(fabs(m.mape_share - 0.85) < 1e-12);
    assert_true(isfinite(m.wape) && isfinite(m.smape));
}

static void test_channels_keep_their_units_and_the_pool_is_free_of_units(void **state) {
    (void)state;
    /* channel 0 a price around 1 (std 0.1), channel 1 a volume around 1e6 (std 1e5); every
     * forecast 1 std too high, every truth at the mean */
    double mean[2] = {1.0, 1e6}, sd[2] = {0.1, 1e5}, floors[2] = {0.1, 1e5};
    ac_scaler sc = {.channels = 2, .columns = 2, .mean = mean, .std = sd};
    ac_metrics_acc acc;
    ac_error err;
    assert_int_equal(ac_metrics_acc_init(&acc, &sc, NULL, floors, &err), AC_OK);
    const float truth[6] = {0, 0, 0, 0, 0, 0}, pred[6] = {1, 1, 1, 1, 1, 1}; /* [3 steps, 2] */
    ac_metrics_acc_add(&acc, pred, truth, 3);
    ac_metrics price = ac_metrics_acc_channel(&acc, 0), volume = ac_metrics_acc_channel(&acc, 1);
    ac_metrics pool = ac_metrics_acc_result(&acc);
    ac_metrics_acc_free(&acc);
    assert_int_equal(price.points, 3);
    assert_true(fabs(price.rmse - 0.1) < 1e-12 && fabs(price.mae_orig - 0.1) < 1e-12);
    assert_true(fabs(volume.rmse - 1e5) < 1e-6 && fabs(volume.mae_orig - 1e5) < 1e-6);
    assert_true(fabs(price.wape - 10.0) < 1e-9 && fabs(volume.wape - 10.0) < 1e-9);
    assert_true(fabs(price.mape - 10.0) < 1e-9 && fabs(volume.mape - 10.0) < 1e-9);
    /* pooled: no RMSE that adds volumes to prices; WAPE the channels' mean, not volume's */
    assert_int_equal(pool.points, 6);
    assert_true(isnan(pool.rmse) && isnan(pool.mae_orig));
    assert_true(fabs(pool.wape - 10.0) < 1e-9);
    assert_true(fabs(pool.mape - 10.0) < 1e-9);
    assert_true(fabs(pool.mse - 1.0) < 1e-12 && fabs(pool.mae - 1.0) < 1e-12);
}

static void test_mape_floor_is_a_tenth_of_the_mean_abs_value_of_the_scored_rows(void **state) {
    (void)state;
    /* 10 rows, 1 channel, y = t - 5 (original = scaled); windows t = 6, 7 with H = 2 cover rows
     * 6..8: mean |y| = (1 + 2 + 3) / 3 = 2 */
    float scaled[10];
    double mean = 0.0, sd = 1.0, floor = 0.0;
    for (int t = 0; t < 10; t++) scaled[t] = (float)(t - 5);
    ac_series s = {.rows = 10,
                   .channels = 1,
                   .columns = 1,
                   .lookback = 2,
                   .horizon = 2,
                   .scaled = scaled,
                   .split = {.rows = 10, .n_train = 6, .n_val = 2, .n_test = 2},
                   .scaler = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd}};
    ac_mape_floors(&s, (ac_window_range){6, 2}, &floor);
    assert_true(fabs(floor - 0.2) < 1e-12);
}

static void test_mase_scale_is_the_seasonal_difference_of_training_rows(void **state) {
    (void)state;
    /* 10 rows, 1 channel, values t^2 on the original scale; n_train = 7 */
    float scaled[10];
    double mean = 0.0, sd = 1.0;
    for (int t = 0; t < 10; t++) scaled[t] = (float)(t * t);
    ac_series s = {.rows = 10,
                   .channels = 1,
                   .columns = 1,
                   .lookback = 2,
                   .horizon = 1,
                   .scaled = scaled,
                   .split = {.rows = 10, .n_train = 7, .n_val = 1, .n_test = 2},
                   .scaler = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd}};
    double scale;
    ac_mase_scales(&s, 1, &scale); /* mean of |t^2 - (t-1)^2| = 2t - 1 for t = 1..6: 6 */
    assert_true(fabs(scale - 6.0) < 1e-12);
    ac_mase_scales(&s, 2, &scale); /* 4t - 4 for t = 2..6: 12 */
    assert_true(fabs(scale - 12.0) < 1e-12);
}

static void test_interval_scores_match_hand_computed_values(void **state) {
    (void)state;
    /* one channel, mean 10, std 2; level 0.8: the miss penalty is 2 / 0.2 = 10 */
    double mean = 10.0, sd = 2.0;
    ac_scaler sc = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd};
    ac_interval_acc acc;
    ac_error err;
    assert_int_equal(ac_interval_acc_init(&acc, &sc, 0.8, &err), AC_OK);
    /* [-1, 1] holds 0.5; [0, 0.5] misses 1 by 0.5; [-1, 0] misses -1.5 by 0.5 */
    const float lo[3] = {-1.0f, 0.0f, -1.0f}, hi[3] = {1.0f, 0.5f, 0.0f};
    const float y[3] = {0.5f, 1.0f, -1.5f};
    ac_interval_acc_add(&acc, lo, hi, y, 3);
    ac_interval_metrics m = ac_interval_acc_result(&acc);
    assert_int_equal(m.points, 3);
    assert_true(fabs(m.coverage - 1.0 / 3) < 1e-12);
    assert_true(fabs(m.width_scaled - (2.0 + 0.5 + 1.0) / 3) < 1e-12);
    assert_true(fabs(m.winkler_scaled - (2.0 + 5.5 + 6.0) / 3) < 1e-12);
    assert_true(fabs(m.width - 2.0 * (2.0 + 0.5 + 1.0) / 3) < 1e-12); /* original units */
    assert_true(fabs(m.winkler - 2.0 * (2.0 + 5.5 + 6.0) / 3) < 1e-12);
    ac_interval_acc_free(&acc);
    assert_int_equal(ac_interval_acc_init(&acc, &sc, 1.0, &err), AC_ERR_INVALID);
}

static void test_pooled_interval_scores_have_no_units(void **state) {
    (void)state;
    double mean[2] = {0.0, 0.0}, sd[2] = {1.0, 100.0};
    ac_scaler sc = {.channels = 2, .columns = 2, .mean = mean, .std = sd};
    ac_interval_acc acc;
    ac_error err;
    assert_int_equal(ac_interval_acc_init(&acc, &sc, 0.5, &err), AC_OK);
    const float lo[2] = {0.0f, 0.0f}, hi[2] = {1.0f, 1.0f}, y[2] = {0.5f, 2.0f};
    ac_interval_acc_add(&acc, lo, hi, y, 1);
    ac_interval_metrics all = ac_interval_acc_result(&acc), c1 = ac_interval_acc_channel(&acc, 1);
    assert_true(fabs(all.coverage - 0.5) < 1e-12);
    assert_true(isnan(all.width) && isnan(all.winkler));
    assert_true(fabs(all.width_scaled - 1.0) < 1e-12);
    assert_true(fabs(c1.width - 100.0) < 1e-9);
    assert_true(fabs(c1.winkler - 100.0 * (1.0 + 4.0 * 1.0)) < 1e-9);
    ac_interval_acc_free(&acc);
}

static void test_weighted_quantile_loss_and_crps_match_hand_computed_values(void **state) {
    (void)state;
    double mean = 0.0, sd = 1.0;
    ac_scaler sc = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd};
    const double levels[3] = {0.1, 0.5, 0.9};
    ac_quantile_acc acc;
    ac_error err;
    assert_int_equal(ac_quantile_acc_init(&acc, &sc, levels, 3, &err), AC_OK);
    /* y = 2 with quantiles 1, 2, 4; y = 4 with quantiles 3, 3, 3 */
    const float quant[6] = {1, 2, 4, 3, 3, 3}, y[2] = {2, 4};
    ac_quantile_acc_add(&acc, quant, y, 2);
    /* rho: q0.1: 0.1*1 + 0.1*1; q0.5: 0 + 0.5*1; q0.9: 0.1*2 + 0.9*1 */
    double rho = (0.1 + 0.1) + (0.0 + 0.5) + (0.2 + 0.9);
    ac_quantile_metrics m = ac_quantile_acc_result(&acc);
    assert_true(fabs(m.wql - 2.0 * rho / 3.0 / 6.0) < 1e-12);
    assert_true(fabs(m.crps - 2.0 * rho / 3.0 / 2.0) < 1e-12);
    ac_quantile_acc_free(&acc);
    const double bad[2] = {0.5, 0.5};
    assert_int_equal(ac_quantile_acc_init(&acc, &sc, bad, 2, &err), AC_ERR_INVALID);
}

static void test_intervals_imply_symmetric_quantile_levels(void **state) {
    (void)state;
    const double levels[2] = {0.8, 0.95};
    double q[5];
    ac_interval_quantile_levels(levels, 2, q);
    const double want[5] = {0.025, 0.1, 0.5, 0.9, 0.975};
    for (int i = 0; i < 5; i++) assert_true(fabs(q[i] - want[i]) < 1e-12);
}

static void test_seasonal_naive_quantiles_come_from_its_validation_errors(void **state) {
    (void)state;
    /* 12 rows of one channel; L = 2, H = 1, season 1 (the naive repeat): the error of the window
     * at t is s[t] - s[t-1]. Validation windows t = 6..9 see errors 1, -2, 3, 0. */
    float scaled[12] = {0, 0, 0, 0, 0, 0, 1, -1, 2, 2, 0, 0};
    double mean = 0.0, sd = 1.0;
    ac_series s = {.rows = 12,
                   .channels = 1,
                   .columns = 1,
                   .lookback = 2,
                   .horizon = 1,
                   .scaled = scaled,
                   .split = {.rows = 12, .n_train = 6, .n_val = 4, .n_test = 2},
                   .scaler = {.channels = 1, .columns = 1, .mean = &mean, .std = &sd}};
    const double levels[3] = {0.25, 0.5, 0.9};
    float offsets[3], out[3];
    ac_error err;
    ac_window_range r = {.first = 6, .count = 4};
    assert_int_equal(ac_baseline_quantile_offsets(&s, r, 1, levels, 3, offsets, &err), AC_OK);
    /* sorted errors -2, 0, 1, 3: ranks ceil(4q) = 1, 2, 4 */
    assert_true(offsets[0] == -2.0f && offsets[1] == 0.0f && offsets[2] == 3.0f);
    const float x[2] = {5, 7};
    ac_baseline_quantile_forecast(x, 2, 1, 1, 1, offsets, 3, out);
    assert_true(out[0] == 5.0f && out[1] == 7.0f && out[2] == 10.0f);
    assert_int_equal(
        ac_baseline_quantile_offsets(&s, (ac_window_range){6, 0}, 1, levels, 3, offsets, &err),
        AC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baselines_repeat_last_value_last_season_and_mean),
        cmocka_unit_test(test_metrics_match_hand_computed_values),
        cmocka_unit_test(test_zero_actuals_are_left_out_of_mape_only),
        cmocka_unit_test(test_mape_counts_only_points_at_or_above_the_floor),
        cmocka_unit_test(test_mape_is_left_out_when_too_few_points_qualify),
        cmocka_unit_test(test_channels_keep_their_units_and_the_pool_is_free_of_units),
        cmocka_unit_test(test_mape_floor_is_a_tenth_of_the_mean_abs_value_of_the_scored_rows),
        cmocka_unit_test(test_mase_scale_is_the_seasonal_difference_of_training_rows),
        cmocka_unit_test(test_interval_scores_match_hand_computed_values),
        cmocka_unit_test(test_pooled_interval_scores_have_no_units),
        cmocka_unit_test(test_weighted_quantile_loss_and_crps_match_hand_computed_values),
        cmocka_unit_test(test_intervals_imply_symmetric_quantile_levels),
        cmocka_unit_test(test_seasonal_naive_quantiles_come_from_its_validation_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
