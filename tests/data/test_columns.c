/* test_columns.c - the roles of a table's columns (ac_table_arrange, src/data/columns.c) on real
 * CSV files: targets, past and future covariates reordered and the rest dropped, the calendar
 * columns appended from the dates, every error naming where its list was set and the key (with a
 * did-you-mean), a failed arrange leaving the table as loaded; and the same through a config and
 * the data source (src/app/source.c), where a role mistake is a config error. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/source.h"
#include "attncast/calendar.h"
#include "attncast/config.h"
#include "attncast/csv.h"
#include "support/testutil.h"

static char dir[128];
static char path[256];
static ac_error err;

/* Five hourly rows: column k of row r holds 10 k + r (a = 10.., b = 20.., ...). */
static const char *const HOURLY = "date,a,b,c,d\n"
                                  "2024-02-29 22:00,10,20,30,40\n"
                                  "2024-02-29 23:00,11,21,31,41\n"
                                  "2024-03-01 00:00,12,22,32,42\n"
                                  "2024-03-01 01:00,13,23,33,43\n"
                                  "2024-03-01 02:00,14,24,34,44\n";

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "columns") != 0) return -1;
    if (tu_write_file(dir, "hourly.csv", HOURLY) != 0) return -1;
    return tu_write_file(dir, "nodate.csv", "x,y,z\n1,2,3\n4,5,6\n7,8,9\n");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("'%s' not in '%s'", needle, haystack);
}

static ac_table *load(const char *name, const char *columns) {
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ac_csv_options opt = {.columns = columns};
    ac_table *t = NULL;
    if (ac_table_load_csv(&t, path, &opt, &err) != AC_OK) fail_msg("%s", err.msg);
    return t;
}

static void assert_names(const ac_table *t, const char *const *names, int n) {
    assert_int_equal(t->cols, n);
    for (int c = 0; c < n; c++) assert_string_equal(t->names[c], names[c]);
}

/* Arranging fails as invalid with a one-line message holding both pieces, and the table is
 * as loaded: every column a target. */
static void expect_error(const char *file, const ac_column_roles *roles, const char *piece1,
                         const char *piece2) {
    ac_table *t = load(file, NULL);
    int cols = t->cols;
    double first = t->values[0];
    assert_int_equal(ac_table_arrange(t, roles, &err), AC_ERR_INVALID);
    assert_contains(err.msg, piece1);
    if (piece2) assert_contains(err.msg, piece2);
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(t->cols, cols);
    assert_int_equal(t->targets, cols);
    assert_int_equal(t->past + t->future + t->calendar_columns, 0);
    assert_true(t->values[0] == first);
    ac_table_free(t);
}

static void test_a_loaded_table_is_all_targets_and_no_roles_keep_it(void **state) {
    (void)state;
    ac_table *t = load("hourly.csv", NULL);
    assert_int_equal(t->targets, 4);
    assert_int_equal(t->past + t->future + t->calendar_columns, 0);
    assert_int_equal(ac_table_arrange(t, NULL, &err), AC_OK);
    ac_column_roles none = {.targets = "", .targets_at = "exp.ini:3"};
    assert_int_equal(ac_table_arrange(t, &none, &err), AC_OK);
    static const char *const names[] = {"a", "b", "c", "d"};
    assert_names(t, names, 4);
    assert_int_equal(t->targets, 4);
    assert_true(t->values[4 * 2 + 3] == 42.0);
    ac_table_free(t);
}

static void test_roles_reorder_the_columns_and_drop_the_rest(void **state) {
    (void)state;
    ac_table *t = load("hourly.csv", NULL);
    ac_column_roles roles = {.targets = "d", .past = " b ", .future = "a"};
    assert_int_equal(ac_table_arrange(t, &roles, &err), AC_OK);
    static const char *const names[] = {"d", "b", "a"};
    assert_names(t, names, 3);
    assert_int_equal(t->targets, 1);
    assert_int_equal(t->past, 1);
    assert_int_equal(t->future, 1);
    assert_int_equal(t->calendar_columns, 0);
    assert_int_equal(t->rows, 5);
    for (int r = 0; r < 5; r++) {
        assert_true(t->values[r * 3 + 0] == 40.0 + r);
        assert_true(t->values[r * 3 + 1] == 20.0 + r);
        assert_true(t->values[r * 3 + 2] == 10.0 + r);
    }
    assert_string_equal(t->dates[4], "2024-03-01 02:00");
    ac_table_free(t);
}

static void test_unnamed_targets_are_every_other_column_in_order(void **state) {
    (void)state;
    ac_table *t = load("hourly.csv", NULL);
    ac_column_roles roles = {.past = "c", .future = "a"};
    assert_int_equal(ac_table_arrange(t, &roles, &err), AC_OK);
    static const char *const names[] = {"b", "d", "c", "a"};
    assert_names(t, names, 4);
    assert_int_equal(t->targets, 2);
    assert_true(t->values[1 * 4 + 1] == 41.0);
    ac_table_free(t);

    /* targets alone keep just those columns, in the order named */
    t = load("hourly.csv", NULL);
    ac_column_roles only = {.targets = "c,a"};
    assert_int_equal(ac_table_arrange(t, &only, &err), AC_OK);
    static const char *const two[] = {"c", "a"};
    assert_names(t, two, 2);
    assert_int_equal(t->targets, 2);
    assert_true(t->values[3 * 2 + 1] == 13.0);
    ac_table_free(t);
}

/* hour_of_day and day_of_month from the dates, after the real columns: 22:00 on Feb 29 (of 29)
 * then midnight on Mar 1 (day 1 of 31). */
static void test_calendar_columns_come_from_the_dates(void **state) {
    (void)state;
    ac_table *t = load("hourly.csv", NULL);
    ac_column_roles roles = {.targets = "a",
                             .future = "b",
                             .calendar = AC_CALENDAR_DAY_OF_MONTH | AC_CALENDAR_HOUR_OF_DAY};
    assert_int_equal(ac_table_arrange(t, &roles, &err), AC_OK);
    static const char *const names[] = {
        "a", "b", "hour_of_day_sin", "hour_of_day_cos", "day_of_month_sin", "day_of_month_cos"};
    assert_names(t, names, 6);
    assert_int_equal(t->targets, 1);
    assert_int_equal(t->past, 0);
    assert_int_equal(t->future, 1);
    assert_int_equal(t->calendar_columns, 4);
    assert_int_equal(t->calendar, AC_CALENDAR_DAY_OF_MONTH | AC_CALENDAR_HOUR_OF_DAY);
    const double two_pi = 6.283185307179586;
    const double *row0 = t->values, *row2 = t->values + 2 * 6;
    assert_true(row0[0] == 10.0 && row0[1] == 20.0);
    assert_true(fabs(row0[2] - sin(two_pi * 22 / 24)) < 1e-12);
    assert_true(fabs(row0[3] - cos(two_pi * 22 / 24)) < 1e-12);
    assert_true(fabs(row0[4] - sin(two_pi * 28 / 29)) < 1e-12);
    assert_true(fabs(row0[5] - cos(two_pi * 28 / 29)) < 1e-12);
    for (int c = 2; c < 6; c++) assert_true(fabs(row2[c] - (c % 2 ? 1.0 : 0.0)) < 1e-12);
    ac_table_free(t);
}

static void test_an_unknown_column_names_the_key_and_the_nearest(void **state) {
    (void)state;
    ac_column_roles roles = {.past = "b,dd", .past_at = "exp.ini:5"};
    expect_error("hourly.csv", &roles, "exp.ini:5: data.past_covariates: unknown column 'dd'",
                 "did you mean 'd'?");
    /* without a where, the key begins the message; the columns are listed */
    ac_column_roles bare = {.targets = "zzzz"};
    expect_error("hourly.csv", &bare, "data.targets: unknown column 'zzzz'", "a, b, c, d");
    /* when data.columns chose the loaded columns, the message says so */
    ac_column_roles sub = {
        .future = "e", .future_at = "--set data.future_covariates=e", .columns_at = "exp.ini:2"};
    expect_error("hourly.csv", &sub, "--set data.future_covariates=e: data.future_covariates:",
                 "not among the columns data.columns (exp.ini:2) loads");
}

static void test_a_column_in_two_lists_or_twice_is_refused(void **state) {
    (void)state;
    ac_column_roles two = {
        .targets = "a", .past = "b,a", .targets_at = "exp.ini:4", .past_at = "exp.ini:5"};
    expect_error("hourly.csv", &two, "exp.ini:5: data.past_covariates: 'a' is also in data.targets",
                 "(exp.ini:4)");
    ac_column_roles twice = {.future = "c, c", .future_at = "exp.ini:6"};
    expect_error("hourly.csv", &twice, "exp.ini:6: data.future_covariates: 'c' is named twice",
                 NULL);
    ac_column_roles empty = {.past = "a,,b"};
    expect_error("hourly.csv", &empty, "data.past_covariates: an empty name", NULL);
}

static void test_no_target_left_is_refused(void **state) {
    (void)state;
    ac_column_roles roles = {.past = "a,b", .future = "c,d", .targets_at = "exp.ini"};
    expect_error("hourly.csv", &roles, "exp.ini: data.targets: no target column is left", NULL);
}

static void test_calendar_needs_readable_dates(void **state) {
    (void)state;
    ac_column_roles roles = {.calendar = AC_CALENDAR_DAY_OF_WEEK, .calendar_at = "exp.ini:7"};
    expect_error("nodate.csv", &roles, "exp.ini:7: data.calendar:", "has no date column");
    assert_int_equal(
        tu_write_file(dir, "baddate.csv", "date,v\n2024-01-01,1\n2024-01-02,2\nnot a day,3\n"), 0);
    expect_error("baddate.csv", &roles, "data row 3", "'not a day'");
}

/* ---- through a config and the data source ---- */

static ac_status open_source(ac_data_source *src, const char *ini, ac_config *cfg) {
    char file[64];
    snprintf(file, sizeof file, "exp.ini");
    assert_int_equal(tu_write_file(dir, file, ini), 0);
    snprintf(path, sizeof path, "%s/exp.ini", dir);
    ac_config_defaults(cfg);
    if (ac_config_load(cfg, path, &err) != AC_OK) fail_msg("%s", err.msg);
    return ac_data_source_open(src, cfg, &err);
}

static void test_the_data_source_arranges_the_configs_roles(void **state) {
    (void)state;
    char ini[512];
    snprintf(ini, sizeof ini,
             "[data]\ncsv = %s/hourly.csv\ntargets = d\npast_covariates = a\n"
             "calendar = day_of_week\n",
             dir);
    ac_config cfg;
    ac_data_source src;
    assert_int_equal(open_source(&src, ini, &cfg), AC_OK);
    static const char *const names[] = {"d", "a", "day_of_week_sin", "day_of_week_cos"};
    assert_names(src.table, names, 4);
    assert_int_equal(src.table->targets, 1);
    assert_int_equal(src.table->past, 1);
    assert_int_equal(src.table->calendar_columns, 2);
    ac_data_source_close(&src);

    /* a name that data.columns did not load: a config error naming both keys */
    snprintf(ini, sizeof ini,
             "[data]\ncsv = %s/hourly.csv\ncolumns = a,b\ntargets = a\nfuture_covariates = c\n",
             dir);
    assert_int_equal(open_source(&src, ini, &cfg), AC_ERR_INVALID);
    assert_true(src.config_error);
    assert_null(src.table);
    assert_contains(err.msg, "exp.ini:5: data.future_covariates: unknown column 'c'");
    assert_contains(err.msg, "data.columns (");
    assert_contains(err.msg, "exp.ini:3)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_loaded_table_is_all_targets_and_no_roles_keep_it),
        cmocka_unit_test(test_roles_reorder_the_columns_and_drop_the_rest),
        cmocka_unit_test(test_unnamed_targets_are_every_other_column_in_order),
        cmocka_unit_test(test_calendar_columns_come_from_the_dates),
        cmocka_unit_test(test_an_unknown_column_names_the_key_and_the_nearest),
        cmocka_unit_test(test_a_column_in_two_lists_or_twice_is_refused),
        cmocka_unit_test(test_no_target_left_is_refused),
        cmocka_unit_test(test_calendar_needs_readable_dates),
        cmocka_unit_test(test_the_data_source_arranges_the_configs_roles),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
