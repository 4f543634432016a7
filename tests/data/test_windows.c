/* test_windows.c - the MODEL.md split (and the lengths suggested when they do not fit it), the
 * training-row scaler and sliding windows; with covariates (a real CSV arranged into 1 target,
 * 1 past, 1 future covariate and a calendar feature): the real columns scaled, the calendar
 * columns not, and the windows' inputs, targets and future covariates. */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/calendar.h"
#include "attncast/windows.h"
#include "support/testutil.h"

static const double SPLIT[3] = {0.7, 0.1, 0.2};

/* A table of T rows x C channels with value 1000 c + t. */
static ac_table *ramp_table(int T, int C) {
    ac_table *t = calloc(1, sizeof *t);
    t->rows = T;
    t->cols = C;
    t->values = malloc((size_t)T * C * sizeof(double));
    for (int r = 0; r < T; r++)
        for (int c = 0; c < C; c++) t->values[r * C + c] = 1000.0 * c + r;
    return t;
}

static void free_table(ac_table *t) {
    free(t->values);
    free(t);
}

static void test_split_rounds_like_the_benchmark_code(void **state) {
    (void)state;
    ac_split s;
    ac_error err;
    assert_int_equal(ac_split_compute(7588, SPLIT, 96, 96, &s, &err), AC_OK);
    assert_int_equal(s.n_train, 5311); /* floor(0.7 * 7588) */
    assert_int_equal(s.n_test, 1517);  /* floor(0.2 * 7588) */
    assert_int_equal(s.n_val, 760);    /* the rest */
    assert_int_equal(ac_split_compute(52696, SPLIT, 96, 720, &s, &err), AC_OK);
    assert_int_equal(s.n_train, 36887);
    assert_int_equal(s.n_test, 10539);
    assert_int_equal(s.n_val, 5270);
}

static void test_windows_cover_every_fitting_target_and_look_back_across_borders(void **state) {
    (void)state;
    ac_table *t = ramp_table(100, 2);
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build(&s, t, SPLIT, 8, 4, &err), AC_OK);
    ac_window_range tr = ac_series_windows(&s, AC_SPLIT_TRAIN);
    ac_window_range va = ac_series_windows(&s, AC_SPLIT_VAL);
    ac_window_range te = ac_series_windows(&s, AC_SPLIT_TEST);
    assert_int_equal(tr.first, 8);
    assert_int_equal(tr.count, 70 - 8 - 4 + 1);
    assert_int_equal(tr.first + tr.count - 1 + 4, 70); /* the last target ends at n_train */
    assert_int_equal(va.first, 70);
    assert_int_equal(va.count, 10 - 4 + 1);
    assert_int_equal(te.first, 80);
    assert_int_equal(te.count, 20 - 4 + 1);
    assert_int_equal(te.first + te.count - 1 + 4, 100); /* the last target ends at T */
    /* the first validation window's input is rows 62..69: inside the training split */
    float x[8 * 2], y[4 * 2];
    ac_series_gather(&s, &va.first, 1, x, y);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(ac_scaler_unscale(&s.scaler, 0, x[i * 2]) - (62 + i)) < 1e-3);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(ac_scaler_unscale(&s.scaler, 1, y[i * 2 + 1]) - (1070 + i)) < 1e-3);
    ac_series_free(&s);
    free_table(t);
}

static void test_scaler_uses_training_rows_only_with_population_std(void **state) {
    (void)state;
    ac_table *t = ramp_table(100, 1);
    for (int r = 70; r < 100; r++) t->values[r] = 1e6; /* val/test rows must not leak in */
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build(&s, t, SPLIT, 8, 4, &err), AC_OK);
    /* rows 0..69: mean 34.5, population variance (70^2 - 1) / 12 */
    assert_true(fabs(s.scaler.mean[0] - 34.5) < 1e-12);
    assert_true(fabs(s.scaler.std[0] - sqrt((70.0 * 70.0 - 1.0) / 12.0)) < 1e-12);
    assert_true(fabsf(s.scaled[0] - (float)(-34.5 / s.scaler.std[0])) < 1e-6f);
    ac_series_free(&s);
    free_table(t);
}

static void test_constant_channel_gets_std_one_and_is_counted(void **state) {
    (void)state;
    ac_table *t = ramp_table(100, 2);
    for (int r = 0; r < 100; r++) t->values[r * 2 + 1] = 5.0;
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build(&s, t, SPLIT, 8, 4, &err), AC_OK);
    assert_int_equal(s.scaler.constant_channels, 1);
    assert_true(s.scaler.std[1] == 1.0);
    assert_true(s.scaled[1] == 0.0f);
    ac_series_free(&s);
    free_table(t);
}

static void test_impossible_lengths_name_the_keys(void **state) {
    (void)state;
    ac_split s;
    ac_error err;
    assert_int_equal(ac_split_compute(100, SPLIT, 8, 21, &s, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "data.horizon"));
    assert_non_null(strstr(err.msg, "validation"));
    assert_int_equal(ac_split_compute(100, (double[]){0.7, 0.2, 0.1}, 8, 12, &s, &err),
                     AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "test split"));
    assert_int_equal(ac_split_compute(100, SPLIT, 64, 8, &s, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "data.lookback"));
}

/* The error says what would fit: the example of a short series on the default lengths. */
static void test_lengths_that_do_not_fit_say_what_would(void **state) {
    (void)state;
    ac_split s;
    ac_error err;
    assert_int_equal(ac_split_compute(240, SPLIT, 96, 96, &s, &err), AC_ERR_INVALID);
    assert_string_equal(err.msg, "data.horizon = 96 does not fit: the validation split has 24 "
                                 "rows (data.split = 0.7,0.1,0.2 of 240 rows); the largest "
                                 "horizon that fits is 24, and with it the largest data.lookback "
                                 "is 144");
    assert_int_equal(ac_split_compute(240, SPLIT, 200, 24, &s, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "data.lookback = 200 does not fit"));
    assert_non_null(strstr(err.msg, "the largest lookback that fits is 144"));
    assert_int_equal(ac_split_compute(240, SPLIT, 144, 24, &s, &err), AC_OK);
    assert_int_equal(ac_split_compute(240, SPLIT, 145, 24, &s, &err), AC_ERR_INVALID);
    assert_int_equal(ac_split_compute(240, SPLIT, 1, 25, &s, &err), AC_ERR_INVALID);
    /* 4 rows: 2 training, 0 test rows; no window fits at all */
    assert_int_equal(ac_split_compute(4, SPLIT, 1, 1, &s, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "the test split has 0 row(s)"));
    assert_non_null(strstr(err.msg, "data.split"));
    int L, H;
    assert_false(ac_split_suggest(4, SPLIT, 1, 1, &L, &H));
    assert_true(ac_split_suggest(240, SPLIT, 96, 96, &L, &H));
    assert_int_equal(L, 96);
    assert_int_equal(H, 24);
    assert_true(ac_split_suggest(240, SPLIT, 200, 96, &L, &H));
    assert_int_equal(L, 72); /* half of the largest, 144 */
    assert_int_equal(H, 24);
}

/* Over many lengths, splits and row counts: the suggestion always passes ac_split_compute,
 * lengths that fit come back unchanged, neither length grows, the horizon is the given one or
 * the largest that fits, and there is no suggestion only when not even L = H = 1 fits. */
static void test_suggested_lengths_always_fit_and_change_only_what_must(void **state) {
    (void)state;
    static const double splits[][3] = {
        {0.7, 0.1, 0.2}, {0.6, 0.2, 0.2}, {0.8, 0.1, 0.1}, {0.34, 0.33, 0.33}, {0.9, 0.05, 0.05}};
    static const int lookbacks[] = {1, 2, 8, 24, 96, 336, 100000};
    static const int horizons[] = {1, 3, 24, 96, 720, 100000};
    ac_split s;
    ac_error err;
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++)
        for (int T = 1; T <= 1200; T += T < 100 ? 1 : 37)
            for (size_t i = 0; i < sizeof lookbacks / sizeof lookbacks[0]; i++)
                for (size_t j = 0; j < sizeof horizons / sizeof horizons[0]; j++) {
                    const double *f = splits[k];
                    int L0 = lookbacks[i], H0 = horizons[j], L = -1, H = -1;
                    bool fits = ac_split_compute(T, f, L0, H0, &s, &err) == AC_OK;
                    if (!ac_split_suggest(T, f, L0, H0, &L, &H)) {
                        assert_false(fits);
                        assert_int_equal(ac_split_compute(T, f, 1, 1, &s, &err), AC_ERR_INVALID);
                        continue;
                    }
                    if (ac_split_compute(T, f, L, H, &s, &err) != AC_OK)
                        fail_msg("T=%d split %zu L=%d H=%d: suggested L=%d H=%d: %s", T, k, L0, H0,
                                 L, H, err.msg);
                    assert_true(L >= 1 && L <= L0 && H >= 1 && H <= H0);
                    if (fits) assert_true(L == L0 && H == H0);
                    if (H < H0)
                        assert_int_equal(ac_split_compute(T, f, 1, H + 1, &s, &err),
                                         AC_ERR_INVALID);
                }
}

static void test_a_whole_series_has_every_window_and_the_given_scaler(void **state) {
    (void)state;
    ac_table *t = ramp_table(40, 2);
    double mean[2] = {1.0, 2.0}, sd[2] = {2.0, 4.0};
    ac_scaler given = {.channels = 2, .columns = 2, .mean = mean, .std = sd};
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build_whole(&s, t, 8, 4, &given, &err), AC_OK);
    ac_window_range r = ac_series_windows(&s, AC_SPLIT_ALL);
    assert_int_equal(r.first, 8);
    assert_int_equal(r.count, 40 - 8 - 4 + 1);
    assert_int_equal(s.split.n_train, 40);
    assert_true(s.scaler.mean[1] == 2.0 && s.scaler.std[1] == 4.0);
    assert_string_equal(ac_split_kind_name(AC_SPLIT_ALL), "all");
    ac_series_free(&s);
    /* one row short of a window */
    assert_int_equal(ac_series_build_whole(&s, t, 30, 11, &given, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "data.lookback"));
    free_table(t);
}

/* The scaler fits the first `columns` of rows of `stride` values; a bad shape is refused. */
static void test_scaler_fits_the_first_columns_of_wider_rows(void **state) {
    (void)state;
    /* rows (r, 10 r, 99): the third column is not fitted */
    double v[4 * 3];
    for (int r = 0; r < 4; r++) {
        v[r * 3] = r;
        v[r * 3 + 1] = 10.0 * r;
        v[r * 3 + 2] = 99.0;
    }
    ac_scaler sc;
    ac_error err;
    assert_int_equal(ac_scaler_fit(&sc, v, 4, 3, 2, 1, &err), AC_OK);
    assert_int_equal(sc.channels, 1);
    assert_int_equal(sc.columns, 2);
    assert_true(sc.mean[0] == 1.5 && sc.mean[1] == 15.0);
    assert_true(fabs(sc.std[1] - 10.0 * sqrt(1.25)) < 1e-12);
    ac_scaler copy;
    assert_int_equal(ac_scaler_copy(&copy, &sc, &err), AC_OK);
    assert_int_equal(copy.columns, 2);
    assert_true(copy.mean[1] == 15.0 && copy.std[1] == sc.std[1]);
    assert_true(ac_scaler_unscale(&copy, 1, 1.0f) == 15.0 + sc.std[1]);
    ac_scaler_free(&copy);
    ac_scaler_free(&sc);
    assert_int_equal(ac_scaler_fit(&sc, v, 4, 3, 4, 1, &err), AC_ERR_INVALID);
    assert_int_equal(ac_scaler_fit(&sc, v, 4, 3, 2, 3, &err), AC_ERR_INVALID);
}

#define COV_ROWS 100

/* 100 hourly rows from 2024-03-01 00:00: y = r (target), p = 2 r + 1 (past), f = 100 - r
 * (future), arranged with hour_of_day. */
static void cov_row(FILE *f, int r, double noise, void *user) {
    (void)noise, (void)user;
    fprintf(f, "2024-03-%02d %02d:00,%d,%d,%d,7\n", 1 + r / 24, r % 24, r, 2 * r + 1, 100 - r);
}

static ac_table *covariate_table(char *dir, size_t n) {
    assert_int_equal(tu_make_temp_dir(dir, n, "windows"), 0);
    assert_int_equal(tu_write_csv(dir, "cov.csv", "date,y,p,f,unused", COV_ROWS, 1, cov_row, NULL),
                     0);
    char path[256];
    snprintf(path, sizeof path, "%s/cov.csv", dir);
    ac_table *t = NULL;
    ac_error err;
    if (ac_table_load_csv(&t, path, NULL, &err) != AC_OK) fail_msg("%s", err.msg);
    ac_column_roles roles = {
        .targets = "y", .past = "p", .future = "f", .calendar = AC_CALENDAR_HOUR_OF_DAY};
    if (ac_table_arrange(t, &roles, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(t->cols, 5);
    return t;
}

static void test_covariates_are_scaled_and_calendar_columns_kept(void **state) {
    (void)state;
    char dir[128];
    ac_table *t = covariate_table(dir, sizeof dir);
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build(&s, t, SPLIT, 8, 4, &err), AC_OK);
    assert_int_equal(s.channels, 1);
    assert_int_equal(s.past, 1);
    assert_int_equal(s.future, 3);
    assert_int_equal(s.columns, 5);
    assert_int_equal(s.scaler.channels, 1);
    assert_int_equal(s.scaler.columns, 3);
    /* training rows 0..69: y mean 34.5, p = 2 y + 1, f = 100 - y */
    double sd = sqrt((70.0 * 70.0 - 1.0) / 12.0);
    assert_true(fabs(s.scaler.mean[0] - 34.5) < 1e-12 && fabs(s.scaler.std[0] - sd) < 1e-12);
    assert_true(fabs(s.scaler.mean[1] - 70.0) < 1e-12 && fabs(s.scaler.std[1] - 2 * sd) < 1e-12);
    assert_true(fabs(s.scaler.mean[2] - 65.5) < 1e-12 && fabs(s.scaler.std[2] - sd) < 1e-12);
    const double two_pi = 6.283185307179586;
    for (int r = 0; r < COV_ROWS; r++) {
        const float *row = s.scaled + (size_t)r * 5;
        assert_true(fabsf(row[0] - (float)((r - 34.5) / sd)) < 1e-6f);
        assert_true(fabsf(row[1] - (float)((r - 34.5) / sd)) < 1e-6f); /* (2r+1-70) / 2sd */
        assert_true(fabsf(row[2] - (float)((34.5 - r) / sd)) < 1e-6f);
        assert_true(row[3] == (float)sin(two_pi * (r % 24) / 24)); /* as computed, unscaled */
        assert_true(row[4] == (float)cos(two_pi * (r % 24) / 24));
        assert_true(fabs(ac_scaler_unscale(&s.scaler, 2, row[2]) - (100 - r)) < 1e-4);
    }
    ac_series_free(&s);
    ac_table_free(t);
    assert_int_equal(tu_remove_dir(dir), 0);
}

static void test_gather_covariate_windows(void **state) {
    (void)state;
    char dir[128];
    ac_table *t = covariate_table(dir, sizeof dir);
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build(&s, t, SPLIT, 8, 4, &err), AC_OK);
    const int ts[2] = {8, 50};
    float x[2 * 8 * 5], y[2 * 4 * 1], fut[2 * 4 * 3];
    memset(fut, 0, sizeof fut);
    ac_series_gather(&s, ts, 2, x, y);
    ac_series_gather_future(&s, ts, 2, fut);
    double sd = s.scaler.std[0];
    const double two_pi = 6.283185307179586;
    for (int i = 0; i < 2; i++) {
        for (int l = 0; l < 8; l++) {
            int r = ts[i] - 8 + l;
            const float *step = x + ((size_t)i * 8 + l) * 5;
            assert_true(fabsf(step[0] - (float)((r - 34.5) / sd)) < 1e-6f);
            assert_true(fabsf(step[2] - (float)((34.5 - r) / sd)) < 1e-6f);
            assert_true(step[3] == (float)sin(two_pi * (r % 24) / 24));
        }
        for (int h = 0; h < 4; h++) {
            int r = ts[i] + h;
            assert_true(fabsf(y[i * 4 + h] - (float)((r - 34.5) / sd)) < 1e-6f);
            const float *f = fut + ((size_t)i * 4 + h) * 3;
            assert_true(fabsf(f[0] - (float)((34.5 - r) / sd)) < 1e-6f);
            assert_true(f[1] == (float)sin(two_pi * (r % 24) / 24));
            assert_true(f[2] == (float)cos(two_pi * (r % 24) / 24));
        }
    }
    /* y alone and x alone */
    float y2[2 * 4];
    ac_series_gather(&s, ts, 2, NULL, y2);
    assert_memory_equal(y, y2, sizeof y);

    /* a given scaler must cover the real columns and the targets */
    ac_scaler copy;
    assert_int_equal(ac_scaler_copy(&copy, &s.scaler, &err), AC_OK);
    ac_series again;
    assert_int_equal(ac_series_build_whole(&again, t, 8, 4, &copy, &err), AC_OK);
    assert_memory_equal(again.scaled, s.scaled, (size_t)COV_ROWS * 5 * sizeof(float));
    ac_series_free(&again);
    copy.columns = 2;
    assert_int_equal(ac_series_build_whole(&again, t, 8, 4, &copy, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "3 real-valued columns"));
    copy.columns = 3;
    copy.channels = 2;
    assert_int_equal(ac_series_build_whole(&again, t, 8, 4, &copy, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "the data has 1 channels, the scaler 2"));
    ac_scaler_free(&copy);
    ac_series_free(&s);
    ac_table_free(t);
    assert_int_equal(tu_remove_dir(dir), 0);
}

/* Without covariates a row is the channels alone, and the future gather writes nothing. */
static void test_without_covariates_rows_are_the_channels(void **state) {
    (void)state;
    ac_table *t = ramp_table(60, 3);
    ac_series s;
    ac_error err;
    assert_int_equal(ac_series_build(&s, t, SPLIT, 8, 4, &err), AC_OK);
    assert_int_equal(s.columns, 3);
    assert_int_equal(s.past + s.future, 0);
    assert_int_equal(s.scaler.columns, 3);
    float fut[4] = {5, 5, 5, 5}, x[8 * 3], y[4 * 3];
    int t0 = 20;
    ac_series_gather_future(&s, &t0, 1, fut);
    assert_true(fut[0] == 5.0f);
    ac_series_gather(&s, &t0, 1, x, y);
    assert_memory_equal(x, s.scaled + 12 * 3, sizeof x);
    assert_memory_equal(y, s.scaled + 20 * 3, sizeof y);
    ac_series_free(&s);
    free_table(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_rounds_like_the_benchmark_code),
        cmocka_unit_test(test_windows_cover_every_fitting_target_and_look_back_across_borders),
        cmocka_unit_test(test_scaler_uses_training_rows_only_with_population_std),
        cmocka_unit_test(test_constant_channel_gets_std_one_and_is_counted),
        cmocka_unit_test(test_impossible_lengths_name_the_keys),
        cmocka_unit_test(test_lengths_that_do_not_fit_say_what_would),
        cmocka_unit_test(test_suggested_lengths_always_fit_and_change_only_what_must),
        cmocka_unit_test(test_a_whole_series_has_every_window_and_the_given_scaler),
        cmocka_unit_test(test_scaler_fits_the_first_columns_of_wider_rows),
        cmocka_unit_test(test_covariates_are_scaled_and_calendar_columns_kept),
        cmocka_unit_test(test_gather_covariate_windows),
        cmocka_unit_test(test_without_covariates_rows_are_the_channels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
