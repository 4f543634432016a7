/* test_csv.c - reading tables from real CSV files written to a temporary folder: layouts, line
 * endings, quoting, column choice, every error with its line and column, the missing-value
 * policies, and the two benchmark files when they are present. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "attncast/csv.h"
#include "support/testutil.h"

#define SHARED_DATA "/work/shared/data"

static char dir[256];
static char path[512]; /* the file the last write_csv wrote */

static int make_dir(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/attncast_csv_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    DIR *d = opendir(dir);
    if (!d) return -1;
    char file[512];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        unlink(file);
    }
    closedir(d);
    return rmdir(dir);
}

/* Writes text (len bytes, or strlen when len is 0) to <dir>/name and sets path. */
static const char *write_csv_n(const char *name, const char *text, size_t len) {
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (!len) len = strlen(text);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

static const char *write_csv(const char *text) {
    return write_csv_n("data.csv", text, 0);
}

static ac_table *load_ok(const char *text, const ac_csv_options *opt) {
    ac_table *t = NULL;
    ac_error err = {0};
    ac_status st = ac_table_load_csv(&t, write_csv(text), opt, &err);
    if (st != AC_OK) fail_msg("unexpected error: %s", err.msg);
    assert_non_null(t);
    return t;
}

/* Loading text must fail with exactly "<path><suffix>", on one line. */
static void expect_error(const char *text, const ac_csv_options *opt, const char *suffix) {
    ac_table *t = (ac_table *)1;
    ac_error err = {0};
    assert_int_not_equal(ac_table_load_csv(&t, write_csv(text), opt, &err), AC_OK);
    assert_null(t);
    assert_int_not_equal(err.code, AC_OK);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s%s", path, suffix);
    assert_string_equal(err.msg, expected);
    assert_null(strchr(err.msg, '\n'));
}

static double at(const ac_table *t, int r, int c) {
    return t->values[(size_t)r * t->cols + c];
}

/* ---- layouts ---- */

static void test_reads_dates_names_and_values(void **state) {
    (void)state;
    ac_table *t =
        load_ok("date,a,b\n2020-01-01,1.5,2\n2020-01-02,-3e2, 4 \n2020-01-03,0,.25\n", NULL);
    assert_int_equal(t->rows, 3);
    assert_int_equal(t->cols, 2);
    assert_string_equal(t->names[0], "a");
    assert_string_equal(t->names[1], "b");
    assert_string_equal(t->date_name, "date");
    assert_string_equal(t->dates[0], "2020-01-01");
    assert_string_equal(t->dates[2], "2020-01-03");
    assert_string_equal(t->source, path);
    const double want[] = {1.5, 2, -300, 4, 0, 0.25};
    for (int i = 0; i < 6; i++) assert_true(t->values[i] == want[i]);
    assert_int_equal(t->missing_filled, 0);
    assert_int_equal(t->rows_dropped, 0);
    ac_table_free(t);
}

static void test_crlf_without_final_newline(void **state) {
    (void)state;
    ac_table *t = load_ok("date,x,y\r\n d1 ,1,2\r\nd2,3,4", NULL);
    assert_int_equal(t->rows, 2);
    assert_string_equal(t->names[1], "y");
    assert_string_equal(t->dates[0], "d1");
    assert_string_equal(t->dates[1], "d2");
    assert_true(at(t, 1, 1) == 4);
    ac_table_free(t);
}

static void test_byte_order_mark_is_skipped(void **state) {
    (void)state;
    ac_table *t = load_ok("\xEF\xBB\xBF"
                          "date,x\n1,2\n",
                          NULL);
    assert_string_equal(t->date_name, "date");
    assert_int_equal(t->cols, 1);
    assert_string_equal(t->names[0], "x");
    ac_table_free(t);
}

static void test_trailing_blank_lines_are_ignored(void **state) {
    (void)state;
    ac_table *t = load_ok("a,b\n1,2\n\n\r\n  \n", NULL);
    assert_int_equal(t->rows, 1);
    ac_table_free(t);
}

static void test_quoted_fields_keep_commas_quotes_and_line_breaks(void **state) {
    (void)state;
    ac_table *t = load_ok("\"date\",\"a,b\",\"say \"\"hi\"\"\"\r\n"
                          "\"2020-01-01, 00:00\",\"1.5\", \" 2 \" \r\n"
                          "\"two\nlines\",3,4\r\n",
                          NULL);
    assert_int_equal(t->rows, 2);
    assert_string_equal(t->names[0], "a,b");
    assert_string_equal(t->names[1], "say \"hi\"");
    assert_string_equal(t->dates[0], "2020-01-01, 00:00");
    assert_string_equal(t->dates[1], "two\nlines");
    assert_true(at(t, 0, 0) == 1.5 && at(t, 0, 1) == 2 && at(t, 1, 1) == 4);
    ac_table_free(t);
    /* a line break inside quotes still counts as a line for later messages */
    expect_error("date,a\n\"x\ny\",1\nz,oops\n", NULL,
                 ":4:2 (column 'a'): expected a number, found 'oops'");
}

static void test_without_a_date_column_every_column_is_a_channel(void **state) {
    (void)state;
    ac_table *t = load_ok("a,b\n1,2\n3,4\n", NULL);
    assert_null(t->dates);
    assert_null(t->date_name);
    assert_int_equal(t->cols, 2);
    assert_true(at(t, 1, 0) == 3);
    ac_table_free(t);
}

static void test_date_column_is_found_in_any_case_or_by_name(void **state) {
    (void)state;
    ac_table *t = load_ok("x,DATE\n1,d1\n", NULL);
    assert_string_equal(t->date_name, "DATE");
    assert_string_equal(t->dates[0], "d1");
    assert_int_equal(t->cols, 1);
    ac_table_free(t);

    ac_csv_options opt = {.date_column = "when"};
    t = load_ok("id,when,x\n7,monday,1\n8,tuesday,2\n", &opt);
    assert_string_equal(t->date_name, "when");
    assert_string_equal(t->dates[1], "tuesday");
    assert_int_equal(t->cols, 2);
    assert_string_equal(t->names[0], "id");
    assert_string_equal(t->names[1], "x");
    assert_true(at(t, 1, 0) == 8 && at(t, 1, 1) == 2);
    ac_table_free(t);
}

static void test_columns_subset_in_the_given_order(void **state) {
    (void)state;
    /* b is not requested, so its text is never parsed */
    ac_csv_options opt = {.columns = " c , a"};
    ac_table *t = load_ok("date,a,b,c\nd1,1,text,3\nd2,4,more,6\n", &opt);
    assert_int_equal(t->cols, 2);
    assert_string_equal(t->names[0], "c");
    assert_string_equal(t->names[1], "a");
    assert_true(at(t, 0, 0) == 3 && at(t, 0, 1) == 1 && at(t, 1, 0) == 6 && at(t, 1, 1) == 4);
    assert_string_equal(t->dates[1], "d2");
    ac_table_free(t);
}

/* ---- errors ---- */

static void test_non_numeric_cell_names_line_column_and_header(void **state) {
    (void)state;
    expect_error("date,a,OT\r\nd1,1,2\r\nd2,3,abc\r\n", NULL,
                 ":3:3 (column 'OT'): expected a number, found 'abc'");
    expect_error("date,a\nd1,1.5x\n", NULL, ":2:2 (column 'a'): expected a number, found '1.5x'");
}

static void test_text_first_column_hints_at_data_date_column(void **state) {
    (void)state;
    expect_error("time,a,b\n2020-01-01 00:00,1,2\n", NULL,
                 ":2:1 (column 'time'): expected a number, found '2020-01-01 00:00' (if 'time' is "
                 "the date column, set data.date_column = time)");
    /* only for the first column of the first row, and only when there is no date column */
    expect_error("time,a\n1,2\nx,3\n", NULL, ":3:1 (column 'time'): expected a number, found 'x'");
    expect_error("date,a\nd1,x\n", NULL, ":2:2 (column 'a'): expected a number, found 'x'");
}

static void test_infinite_values_are_refused(void **state) {
    (void)state;
    expect_error("a\n1\ninf\n", NULL, ":3:1 (column 'a'): expected a finite number, found 'inf'");
    expect_error("a\n-Infinity\n", NULL,
                 ":2:1 (column 'a'): expected a finite number, found '-Infinity'");
    expect_error("a\n1e999\n", NULL, ":2:1 (column 'a'): expected a finite number, found '1e999'");
}

static void test_ragged_rows_name_the_line_and_column(void **state) {
    (void)state;
    /* too few: the column of the first missing field; too many: where the first extra starts */
    expect_error("date,a,b\nd1,1,2\nd2,1\n", NULL,
                 ":3:3 (column 'b'): expected 3 fields as in the header, found 2; the row ends "
                 "early");
    expect_error("date,a,b\nd1,1,2\nd2\r\n", NULL,
                 ":3:2 (column 'a'): expected 3 fields as in the header, found 1; the row ends "
                 "early");
    expect_error("date,a,b\nd1,1,2,3\n", NULL,
                 ":2:4: expected 3 fields as in the header, found 4; field 4 and after are extra");
    expect_error("date,a,b\nd1,1,2\n\nd3,1,2\n", NULL,
                 ":3: empty line; expected 3 fields as in the header");
}

static void test_empty_file_and_header_without_rows(void **state) {
    (void)state;
    expect_error("", NULL, ": empty file (no header row)");
    expect_error("\r\n\n", NULL, ": empty file (no header row)");
    expect_error("date,a\n", NULL, ":1: the header has no data rows after it");
    expect_error("date,a\r\n\r\n", NULL, ":1: the header has no data rows after it");
}

static void test_bad_header_names(void **state) {
    (void)state;
    expect_error("date,a,,b\n1,2,3,4\n", NULL, ":1:3: empty column name in the header");
    expect_error("date,x,y,x\n1,2,3,4\n", NULL,
                 ":1:4: column name 'x' appears twice (also column 2)");
    expect_error("date\nd1\n", NULL,
                 ": no numeric columns: the header has only the date column "
                 "'date'");
}

static void test_requested_columns_must_exist_once_and_not_be_the_date(void **state) {
    (void)state;
    char want[1024];
    ac_csv_options opt = {.columns = "a,XYZ"};
    snprintf(want, sizeof want,
             ": data.columns: column 'XYZ' is not in the header of %s; columns are: date, a, b",
             path);
    expect_error("date,a,b\nd,1,2\n", &opt, want);
    opt.columns = "a,date";
    snprintf(want, sizeof want,
             ": data.columns: column 'date' is the date column of %s; it cannot be a channel",
             path);
    expect_error("date,a,b\nd,1,2\n", &opt, want);
    opt.columns = "a,b,a";
    expect_error("date,a,b\nd,1,2\n", &opt, ": data.columns: column 'a' is named twice");
    opt.columns = "a,,b";
    expect_error("date,a,b\nd,1,2\n", &opt, ": data.columns: an empty name in 'a,,b'");
    ac_csv_options dated = {.date_column = "when"};
    snprintf(want, sizeof want,
             ": data.date_column: column 'when' is not in the header of %s; columns are: date, a",
             path);
    expect_error("date,a\nd,1\n", &dated, want);
}

static void test_a_misspelt_column_gets_the_nearest_name_and_where_it_was_set(void **state) {
    (void)state;
    ac_table *t = NULL;
    ac_error err = {0};
    ac_csv_options opt = {.columns = "a,OTT", .columns_at = "exp.ini:4"};
    assert_int_equal(ac_table_load_csv(&t, write_csv("date,a,OT\nd,1,2\n"), &opt, &err),
                     AC_ERR_INVALID);
    char want[1024];
    snprintf(want, sizeof want,
             "exp.ini:4: data.columns: column 'OTT' is not in the header of %s (did you mean "
             "'OT'?); columns are: date, a, OT",
             path);
    assert_string_equal(err.msg, want);
    ac_csv_options dated = {.date_column = "Date ", .date_column_at = "--set data.date_column=x"};
    assert_int_equal(ac_table_load_csv(&t, write_csv("Datum,a\nd,1\n"), &dated, &err),
                     AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--set data.date_column=x: data.date_column: column 'Date '"));
    assert_non_null(strstr(err.msg, "(did you mean 'Datum'?)"));
}

static void test_a_long_column_list_is_cut_short(void **state) {
    (void)state;
    char text[4096] = "date";
    for (int i = 0; i < 300; i++) snprintf(text + strlen(text), 20, ",column%d", i);
    strcat(text, "\n");
    ac_csv_options opt = {.columns = "nope"};
    ac_table *t = NULL;
    ac_error err;
    assert_int_equal(ac_table_load_csv(&t, write_csv(text), &opt, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "columns are: date, column0, column1,"));
    assert_non_null(strstr(err.msg, "... (301 columns)"));
    assert_true(strlen(err.msg) < 400);
}

static void test_unclosed_quote_and_text_after_a_quote(void **state) {
    (void)state;
    expect_error("date,a\nd,\"1\n", NULL, ":2:2: a quoted field is not closed");
    expect_error("date,a\n\"d\"x,1\n", NULL,
                 ":2:1: unexpected text after the closing quote of a field");
}

static void test_unreadable_file(void **state) {
    (void)state;
    ac_table *t = NULL;
    ac_error err;
    assert_int_equal(ac_table_load_csv(&t, "/nonexistent/data.csv", NULL, &err), AC_ERR_IO);
    assert_string_equal(err.msg, "/nonexistent/data.csv: cannot open: No such file or directory");
    assert_int_equal(ac_table_load_csv(&t, dir, NULL, &err), AC_ERR_IO); /* a folder */
    assert_non_null(strstr(err.msg, ": cannot read: "));
    assert_null(t);
    ac_table_free(NULL);
    assert_int_equal(ac_table_load_csv(&t, write_csv_n("data.csv", "a\n1\n\0\n", 6), NULL, &err),
                     AC_ERR_FORMAT);
    char expected[600];
    snprintf(expected, sizeof expected, "%s:3: a NUL byte; this is not a text CSV file", path);
    assert_string_equal(err.msg, expected);
}

/* ---- missing values ---- */

static const char *const GAPPY = "date,a,b\n"
                                 "d1,,0\n"
                                 "d2,1,NA\n"
                                 "d3,NaN,n/a\n"
                                 "d4,null,N/A\n"
                                 "d5,4,8\n"
                                 "d6, nan ,10\n";

static void test_missing_cells_are_errors_by_default(void **state) {
    (void)state;
    expect_error(GAPPY, NULL,
                 ":2:2 (column 'a'): missing value (empty cell); set data.missing = ffill, "
                 "interpolate or drop to fill or skip it");
    expect_error("date,a,OT\nd1,1,2\nd2,3,NaN\n", NULL,
                 ":3:3 (column 'OT'): missing value 'NaN'; set data.missing = ffill, interpolate "
                 "or drop to fill or skip it");
}

static void test_ffill_carries_values_forward_and_backfills_the_start(void **state) {
    (void)state;
    ac_csv_options opt = {.missing = AC_MISSING_FFILL};
    ac_table *t = load_ok(GAPPY, &opt);
    const double a[] = {1, 1, 1, 1, 4, 4}, b[] = {0, 0, 0, 0, 8, 10};
    for (int r = 0; r < 6; r++) {
        assert_true(at(t, r, 0) == a[r]);
        assert_true(at(t, r, 1) == b[r]);
    }
    assert_int_equal(t->missing_filled, 7);
    assert_int_equal(t->rows, 6);
    ac_table_free(t);
}

static void test_interpolate_is_linear_between_neighbours(void **state) {
    (void)state;
    ac_csv_options opt = {.missing = AC_MISSING_INTERPOLATE};
    ac_table *t = load_ok(GAPPY, &opt);
    const double a[] = {1, 1, 2, 3, 4, 4}, b[] = {0, 2, 4, 6, 8, 10};
    for (int r = 0; r < 6; r++) {
        assert_true(at(t, r, 0) == a[r]);
        assert_true(at(t, r, 1) == b[r]);
    }
    assert_int_equal(t->missing_filled, 7);
    ac_table_free(t);
}

/* Found by fuzz_csv: the difference of -1e308 and 1e308 overflows, and the filled cell was
 * -inf; so did the difference times the gap. Every filled value stays finite and between its
 * neighbours. */
static void test_interpolate_between_huge_values_stays_finite(void **state) {
    (void)state;
    ac_csv_options opt = {.missing = AC_MISSING_INTERPOLATE};
    ac_table *t = load_ok("a,b\n1e308,-1e308\nNA,\n-1e308,1e308\n", &opt);
    assert_int_equal(t->rows, 3);
    for (int c = 0; c < 2; c++) {
        assert_true(isfinite(at(t, 1, c)));
        assert_true(fabs(at(t, 1, c)) <= 1e308);
    }
    assert_true(at(t, 1, 0) == 0 && at(t, 1, 1) == 0);
    ac_table_free(t);
    /* the difference fits, but twice it does not */
    t = load_ok("a\n0\nNA\nNA\n1e308\n", &opt);
    for (int r = 0; r < 4; r++) assert_true(isfinite(at(t, r, 0)));
    assert_true(at(t, 1, 0) < at(t, 2, 0) && at(t, 2, 0) < at(t, 3, 0));
    ac_table_free(t);
}

static void test_drop_removes_rows_and_their_dates(void **state) {
    (void)state;
    ac_csv_options opt = {.missing = AC_MISSING_DROP};
    ac_table *t = load_ok(GAPPY, &opt);
    assert_int_equal(t->rows, 1);
    assert_int_equal(t->rows_dropped, 5);
    assert_string_equal(t->dates[0], "d5");
    assert_true(at(t, 0, 0) == 4 && at(t, 0, 1) == 8);
    ac_table_free(t);

    t = load_ok("date,a\nd1,1\nd2,\nd3,3\n", &opt);
    assert_int_equal(t->rows, 2);
    assert_string_equal(t->dates[0], "d1");
    assert_string_equal(t->dates[1], "d3");
    assert_true(at(t, 1, 0) == 3);
    ac_table_free(t);
}

static void test_a_blank_line_in_a_single_column_file_is_a_missing_cell(void **state) {
    (void)state;
    ac_csv_options opt = {.missing = AC_MISSING_FFILL};
    ac_table *t = load_ok("a\n1\n\n3\n", &opt);
    assert_int_equal(t->rows, 3);
    assert_true(at(t, 1, 0) == 1);
    assert_int_equal(t->missing_filled, 1);
    ac_table_free(t);
}

static void test_a_column_without_any_value_is_an_error(void **state) {
    (void)state;
    ac_csv_options opt = {.missing = AC_MISSING_INTERPOLATE};
    expect_error("date,a,OT\nd1,1,\nd2,2,NaN\n", &opt,
                 ": column 'OT' has no values at all (every cell is missing)");
    opt.missing = AC_MISSING_DROP;
    expect_error("date,a,b\nd1,1,\nd2,,2\n", &opt,
                 ": every row has a missing cell; data.missing = drop leaves nothing");
}

static void test_a_missing_marker_makes_matching_cells_missing(void **state) {
    (void)state;
    const char *text = "date,a,b\nd1,1,-9999\nd2,-9999.0,4\nd3,3,6\nd4,-9999.5,8\n";
    ac_csv_options opt = {.has_missing_marker = true, .missing_marker = -9999.0};
    expect_error(text, &opt,
                 ":2:3 (column 'b'): missing value '-9999'; set data.missing = ffill, interpolate "
                 "or drop to fill or skip it");
    opt.missing = AC_MISSING_INTERPOLATE;
    ac_table *t = load_ok(text, &opt);
    const double a[] = {1, 2, 3, -9999.5}, b[] = {4, 4, 6, 8};
    for (int r = 0; r < 4; r++) {
        assert_true(at(t, r, 0) == a[r]);
        assert_true(at(t, r, 1) == b[r]);
    }
    assert_int_equal(t->missing_filled, 2);
    ac_table_free(t);
    t = load_ok(text, NULL); /* no marker: -9999 is a number like any other */
    assert_true(at(t, 0, 1) == -9999.0);
    ac_table_free(t);
}

/* ---- the benchmark files ---- */

static ac_table *load_shared(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "%s/%s", SHARED_DATA, name);
    if (access(file, R_OK) != 0) return NULL;
    ac_table *t = NULL;
    ac_error err;
    if (ac_table_load_csv(&t, file, NULL, &err) != AC_OK) fail_msg("%s", err.msg);
    return t;
}

static void test_exchange_rate_csv(void **state) {
    (void)state;
    ac_table *t = load_shared("exchange_rate.csv");
    if (!t) skip();
    assert_int_equal(t->rows, 7588);
    assert_int_equal(t->cols, 8);
    assert_string_equal(t->names[0], "0");
    assert_string_equal(t->names[7], "OT");
    assert_string_equal(t->dates[0], "1990/1/1 0:00");
    assert_string_equal(t->dates[7587], "2010/10/10 0:00");
    assert_true(at(t, 0, 0) == 0.7855 && at(t, 0, 7) == 0.593);
    assert_true(at(t, 7587, 0) == 0.720825 && at(t, 7587, 7) == 0.692689);
    ac_table_free(t);
}

static void test_weather_csv_loads_quickly(void **state) {
    (void)state;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ac_table *t = load_shared("weather.csv");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!t) skip();
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("weather.csv loaded in %.0f ms\n", 1e3 * seconds);
    /* about 0.07 s in a release build; sanitizers are slower, and tools/valgrind.sh sets
     * ATTNCAST_TEST_TIME_SCALE for its own slowdown */
    double limit = 3.0 * tu_time_scale();
    if (seconds >= limit) ac_table_free(t);
    assert_true(seconds < limit);
    assert_int_equal(t->rows, 52696);
    assert_int_equal(t->cols, 21);
    assert_string_equal(t->names[0], "p (mbar)");
    assert_string_equal(t->names[20], "OT");
    assert_string_equal(t->names[16], "SWDR (W/m\xEF\xBF\xBD)");
    assert_string_equal(t->dates[0], "2020-01-01 00:10:00");
    assert_string_equal(t->dates[52695], "2021-01-01 00:00:00");
    assert_true(at(t, 0, 0) == 1008.89 && at(t, 0, 20) == 428.1);
    assert_true(at(t, 52695, 0) == 978.24 && at(t, 52695, 20) == 436.5);
    ac_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_dates_names_and_values),
        cmocka_unit_test(test_crlf_without_final_newline),
        cmocka_unit_test(test_byte_order_mark_is_skipped),
        cmocka_unit_test(test_trailing_blank_lines_are_ignored),
        cmocka_unit_test(test_quoted_fields_keep_commas_quotes_and_line_breaks),
        cmocka_unit_test(test_without_a_date_column_every_column_is_a_channel),
        cmocka_unit_test(test_date_column_is_found_in_any_case_or_by_name),
        cmocka_unit_test(test_columns_subset_in_the_given_order),
        cmocka_unit_test(test_non_numeric_cell_names_line_column_and_header),
        cmocka_unit_test(test_text_first_column_hints_at_data_date_column),
        cmocka_unit_test(test_infinite_values_are_refused),
        cmocka_unit_test(test_ragged_rows_name_the_line_and_column),
        cmocka_unit_test(test_empty_file_and_header_without_rows),
        cmocka_unit_test(test_bad_header_names),
        cmocka_unit_test(test_requested_columns_must_exist_once_and_not_be_the_date),
        cmocka_unit_test(test_a_misspelt_column_gets_the_nearest_name_and_where_it_was_set),
        cmocka_unit_test(test_a_long_column_list_is_cut_short),
        cmocka_unit_test(test_unclosed_quote_and_text_after_a_quote),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_missing_cells_are_errors_by_default),
        cmocka_unit_test(test_ffill_carries_values_forward_and_backfills_the_start),
        cmocka_unit_test(test_interpolate_is_linear_between_neighbours),
        cmocka_unit_test(test_interpolate_between_huge_values_stays_finite),
        cmocka_unit_test(test_drop_removes_rows_and_their_dates),
        cmocka_unit_test(test_a_blank_line_in_a_single_column_file_is_a_missing_cell),
        cmocka_unit_test(test_a_column_without_any_value_is_an_error),
        cmocka_unit_test(test_a_missing_marker_makes_matching_cells_missing),
        cmocka_unit_test(test_exchange_rate_csv),
        cmocka_unit_test(test_weather_csv_loads_quickly),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
