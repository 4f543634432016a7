/* test_csv_long.c - reading long-format CSV files (MODEL.md version 2, "Many series") into one
 * table per series with ac_table_load_long_csv: real files written to a temporary folder, with
 * interleaved ids out of date order, series of different lengths and frequencies, the
 * missing-value and gap policies applied per series, data.columns, every error with the line
 * and the series it names, and a one-series file that gives the same table as the wide file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/csv.h"
#include "support/testutil.h"

static char dir[256];
static char path[512]; /* the file the last write_csv wrote */

static int make_dir(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "csv_long");
}

static int remove_dir(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* Writes text to <dir>/name and returns its path (in a static buffer). */
static const char *write_csv_as(const char *name, const char *text) {
    assert_int_equal(tu_write_file(dir, name, text), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static const char *write_csv(const char *text) {
    return write_csv_as("long.csv", text);
}

static ac_table_set load_ok(const char *text, const ac_csv_options *opt, const char *id_column) {
    ac_table_set set;
    ac_error err = {0};
    if (ac_table_load_long_csv(&set, write_csv(text), opt, id_column, NULL, &err) != AC_OK)
        fail_msg("unexpected error: %s", err.msg);
    return set;
}

/* Loading text must fail with exactly "<prefix><path><suffix>", on one line, and leave the set
 * empty. */
static void expect_error(const char *text, const ac_csv_options *opt, const char *id_column,
                         const char *id_column_at, const char *prefix, const char *suffix) {
    ac_table_set set = {.count = 99};
    ac_error err = {0};
    assert_int_not_equal(
        ac_table_load_long_csv(&set, write_csv(text), opt, id_column, id_column_at, &err), AC_OK);
    assert_int_equal(set.count, 0);
    assert_null(set.tables);
    assert_null(set.ids);
    char expected[2048];
    snprintf(expected, sizeof expected, "%s%s%s", prefix, path, suffix);
    assert_string_equal(err.msg, expected);
    assert_null(strchr(err.msg, '\n'));
}

static double at(const ac_table *t, int r, int c) {
    return t->values[(size_t)r * t->cols + c];
}

static const char *freq_name(const ac_table *t) {
    static char name[AC_FREQ_TEXT];
    return ac_freq_name(t->freq, name);
}

static const ac_csv_options CHECKED = {.check_dates = true, .gaps = AC_GAPS_WARN};

/* ---- grouping and sorting ---- */

static void test_interleaved_ids_are_grouped_and_sorted_by_date(void **state) {
    (void)state;
    /* b appears first; a's rows come newest first; b is longer */
    ac_table_set set = load_ok("date,store,sales,price\n"
                               "2020-01-02,b,20,200\n"  /* line 2 */
                               "2020-01-03,a,3,30\n"    /* line 3 */
                               "2020-01-01,b,10,100\n"  /* line 4 */
                               "2020-01-02,a,2,20\n"    /* line 5 */
                               "2020-01-04,b,40,400\n"  /* line 6 */
                               "2020-01-01,a,1,10\n"    /* line 7 */
                               "2020-01-03,b,30,300\n", /* line 8 */
                               &CHECKED, "store");
    assert_int_equal(set.count, 2);
    assert_string_equal(set.ids[0], "b");
    assert_string_equal(set.ids[1], "a");
    const ac_table *b = set.tables[0], *a = set.tables[1];
    assert_int_equal(b->rows, 4);
    assert_int_equal(a->rows, 3);
    for (int s = 0; s < 2; s++) {
        const ac_table *t = set.tables[s];
        assert_int_equal(t->cols, 2);
        assert_int_equal(t->targets, 2);
        assert_string_equal(t->names[0], "sales");
        assert_string_equal(t->names[1], "price");
        assert_string_equal(t->date_name, "date");
        assert_string_equal(t->source, path);
        assert_string_equal(freq_name(t), "D");
        assert_true(t->date_report.checked);
        assert_int_equal(t->date_report.steps.gaps, 0);
    }
    static const char *const dates[] = {"2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"};
    for (int r = 0; r < 4; r++) {
        assert_string_equal(b->dates[r], dates[r]);
        assert_true(at(b, r, 0) == 10.0 * (r + 1));
        assert_true(at(b, r, 1) == 100.0 * (r + 1));
    }
    for (int r = 0; r < 3; r++) {
        assert_string_equal(a->dates[r], dates[r]);
        assert_true(at(a, r, 0) == r + 1);
        assert_true(at(a, r, 1) == 10.0 * (r + 1));
    }
    ac_table_set_free(&set);
    assert_int_equal(set.count, 0);
    ac_table_set_free(&set); /* an empty set frees as nothing */
    ac_table_set_free(NULL);
}

static void test_each_series_has_its_own_frequency(void **state) {
    (void)state;
    ac_table_set set = load_ok("id,date,v\n"
                               "hourly,2021-03-01 00:00,1\n"
                               "daily,2021-03-01,5\n"
                               "hourly,2021-03-01 01:00,2\n"
                               "daily,2021-03-02,6\n"
                               "hourly,2021-03-01 02:00,3\n"
                               "daily,2021-03-03,7\n"
                               "hourly,2021-03-01 03:00,4\n",
                               &CHECKED, NULL);
    assert_int_equal(set.count, 2);
    assert_string_equal(set.ids[0], "hourly");
    assert_string_equal(set.ids[1], "daily");
    assert_string_equal(freq_name(set.tables[0]), "h");
    assert_string_equal(freq_name(set.tables[1]), "D");
    assert_int_equal(set.tables[0]->rows, 4);
    assert_int_equal(set.tables[1]->rows, 3);
    assert_string_equal(set.tables[0]->dates[3], "2021-03-01 03:00");
    assert_true(at(set.tables[1], 2, 0) == 7);
    ac_table_set_free(&set);
}

static void test_rows_of_one_date_keep_the_files_order_and_repeats_are_per_series(void **state) {
    (void)state;
    /* x repeats a row (equal values): counted as a repeated row of x, not an error; y has the
     * same dates as x without any repeat */
    ac_table_set set = load_ok("date,id,v\n"
                               "2020-01-01,x,1\n"
                               "2020-01-01,y,9\n"
                               "2020-01-02,x,2\n"
                               "2020-01-02,x,2\n"
                               "2020-01-02,y,8\n"
                               "2020-01-03,x,3\n"
                               "2020-01-03,y,7\n",
                               &CHECKED, "id");
    assert_int_equal(set.count, 2);
    const ac_table *x = set.tables[0], *y = set.tables[1];
    assert_int_equal(x->rows, 4);
    assert_int_equal(x->date_report.steps.repeats, 1);
    assert_int_equal(x->date_report.repeat_line, 5); /* the file's line */
    assert_int_equal(y->date_report.steps.repeats, 0);
    char note[512];
    const char *severity = NULL;
    assert_true(ac_table_date_note(x, note, sizeof note, &severity));
    assert_string_equal(severity, "warning");
    assert_non_null(strstr(note, "the first at line 5"));
    assert_false(ac_table_date_note(y, note, sizeof note, &severity));
    ac_table_set_free(&set);
}

static void test_quotes_crlf_and_a_bom_as_in_a_wide_file(void **state) {
    (void)state;
    ac_table_set set = load_ok("\xEF\xBB\xBF"
                               "date,\"shop id\",v\r\n"
                               "2020-01-01,\"north, 7\",1\r\n"
                               "2020-01-01,\"south \"\"x\"\"\",5\r\n"
                               "2020-01-02,\"north, 7\",2\r\n"
                               "2020-01-02,\"south \"\"x\"\"\",6",
                               NULL, "shop id");
    assert_int_equal(set.count, 2);
    assert_string_equal(set.ids[0], "north, 7");
    assert_string_equal(set.ids[1], "south \"x\"");
    assert_true(at(set.tables[1], 1, 0) == 6);
    /* without check_dates nothing is checked, but the rows are still sorted */
    assert_false(set.tables[0]->date_report.checked);
    assert_int_equal(set.tables[0]->freq.kind, AC_FREQ_UNKNOWN);
    ac_table_set_free(&set);
}

static void test_a_single_id_gives_a_set_of_one(void **state) {
    (void)state;
    ac_table_set set = load_ok("ID,date,v\nonly,2020-01-02,2\nonly,2020-01-01,1\n", NULL, "");
    assert_int_equal(set.count, 1);
    assert_string_equal(set.ids[0], "only");
    assert_int_equal(set.tables[0]->rows, 2);
    assert_true(at(set.tables[0], 0, 0) == 1 && at(set.tables[0], 1, 0) == 2);
    ac_table_set_free(&set);
}

static void test_many_series(void **state) {
    (void)state;
    /* 500 series of 3 rows each, the rows in reverse date order, ids interleaved */
    enum { SERIES = 500 };
    size_t cap = (size_t)SERIES * 3 * 40 + 64, used = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    used += (size_t)snprintf(text + used, cap - used, "date,id,v\n");
    for (int day = 3; day >= 1; day--)
        for (int s = 0; s < SERIES; s++)
            used += (size_t)snprintf(text + used, cap - used, "2020-01-0%d,s%d,%d\n", day, s,
                                     s * 10 + day);
    ac_table_set set = load_ok(text, &CHECKED, NULL);
    free(text);
    assert_int_equal(set.count, SERIES);
    for (int s = 0; s < SERIES; s++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", s);
        assert_string_equal(set.ids[s], id);
        assert_int_equal(set.tables[s]->rows, 3);
        for (int r = 0; r < 3; r++) assert_true(at(set.tables[s], r, 0) == s * 10 + r + 1);
        assert_string_equal(freq_name(set.tables[s]), "D");
    }
    ac_table_set_free(&set);
}

/* ---- missing values and gaps, per series ---- */

static void test_ffill_stays_within_each_series(void **state) {
    (void)state;
    ac_csv_options opt = CHECKED;
    opt.missing = AC_MISSING_FFILL;
    ac_table_set set = load_ok("date,Id,v\n"
                               "2020-01-01,x,1\n"
                               "2020-01-01,y,\n"
                               "2020-01-02,x,2\n"
                               "2020-01-02,y,7\n"
                               "2020-01-03,x,NA\n"
                               "2020-01-03,y,8\n",
                               &opt, NULL);
    assert_int_equal(set.count, 2);
    const ac_table *x = set.tables[0], *y = set.tables[1];
    /* y's first cell takes y's first value (7), not x's 1; x's last keeps x's 2, not y's 7 */
    assert_true(at(y, 0, 0) == 7 && at(y, 1, 0) == 7 && at(y, 2, 0) == 8);
    assert_true(at(x, 0, 0) == 1 && at(x, 1, 0) == 2 && at(x, 2, 0) == 2);
    assert_int_equal(x->missing_filled, 1);
    assert_int_equal(y->missing_filled, 1);
    ac_table_set_free(&set);
}

static void test_drop_and_gap_fill_act_per_series(void **state) {
    (void)state;
    ac_table_set set = load_ok("date,id,v\n"
                               "2020-01-01,x,1\n"
                               "2020-01-01,y,5\n"
                               "2020-01-02,x,-9999\n"
                               "2020-01-02,y,6\n"
                               "2020-01-03,x,3\n",
                               &(ac_csv_options){.check_dates = true,
                                                 .missing = AC_MISSING_DROP,
                                                 .has_missing_marker = true,
                                                 .missing_marker = -9999},
                               NULL);
    assert_int_equal(set.tables[0]->rows, 2);
    assert_int_equal(set.tables[0]->rows_dropped, 1);
    assert_string_equal(set.tables[0]->dates[1], "2020-01-03");
    assert_int_equal(set.tables[1]->rows, 2);
    assert_int_equal(set.tables[1]->rows_dropped, 0);
    ac_table_set_free(&set);

    /* fill: x misses 2020-01-02 and 03, y misses nothing; the gap's line is the file's */
    ac_csv_options opt = {
        .check_dates = true, .gaps = AC_GAPS_FILL, .missing = AC_MISSING_INTERPOLATE};
    set = load_ok("date,id,v\n"
                  "2020-01-01,y,5\n"
                  "2020-01-01,x,1\n"
                  "2020-01-02,y,6\n"
                  "2020-01-04,x,4\n"
                  "2020-01-03,y,7\n"
                  "2020-01-05,x,5\n"
                  "2020-01-06,x,6\n",
                  &opt, NULL);
    const ac_table *y = set.tables[0], *x = set.tables[1];
    assert_int_equal(x->rows, 6);
    assert_int_equal(x->date_report.inserted, 2);
    assert_int_equal(x->date_report.gap_line, 3);
    assert_string_equal(x->date_report.gap_date, "2020-01-01");
    assert_string_equal(x->dates[1], "2020-01-02");
    assert_string_equal(x->dates[2], "2020-01-03");
    assert_true(at(x, 1, 0) == 2 && at(x, 2, 0) == 3);
    assert_int_equal(y->rows, 3);
    assert_int_equal(y->date_report.inserted, 0);
    ac_table_set_free(&set);
}

/* ---- data.columns ---- */

static void test_columns_choose_a_subset_in_their_order(void **state) {
    (void)state;
    ac_csv_options opt = {.columns = "price, sales"};
    ac_table_set set = load_ok("store,date,sales,price,extra\n"
                               "a,2020-01-01,1,10,x\n"
                               "b,2020-01-01,2,20,y\n",
                               &opt, "store");
    assert_int_equal(set.count, 2);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(set.tables[s]->cols, 2);
        assert_string_equal(set.tables[s]->names[0], "price");
        assert_string_equal(set.tables[s]->names[1], "sales");
        assert_true(at(set.tables[s], 0, 0) == 10.0 * (s + 1));
        assert_true(at(set.tables[s], 0, 1) == s + 1);
    }
    ac_table_set_free(&set);
    opt.columns = "sales,store";
    ac_error err = {0};
    ac_table_set s2 = {.count = 99};
    write_csv("store,date,sales\na,2020-01-01,1\n");
    assert_int_not_equal(ac_table_load_long_csv(&s2, path, &opt, "store", NULL, &err), AC_OK);
    assert_int_equal(s2.count, 0);
    char expected[2048];
    snprintf(expected, sizeof expected,
             "%s: data.columns: column 'store' is the id column of %s; it cannot be a channel",
             path, path);
    assert_string_equal(err.msg, expected);
}

/* ---- errors ---- */

static void test_an_unknown_id_column_gets_the_nearest_name(void **state) {
    (void)state;
    const char *text = "date,store,sales\n2020-01-01,a,1\n";
    expect_error(text, NULL, "stroe", "exp.ini:5",
                 "exp.ini:5: data.id_column: column 'stroe' is not in the header of ",
                 " (did you mean 'store'?); columns are: date, store, sales");
    /* not set anywhere: the message begins with the CSV's path */
    ac_table_set set;
    ac_error err = {0};
    assert_int_not_equal(ac_table_load_long_csv(&set, path, NULL, "stroe", NULL, &err), AC_OK);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    /* no id column named and none called id */
    char suffix[1400];
    snprintf(suffix, sizeof suffix,
             ": data.id_column: data.format = long needs an id column, and no column of %s is "
             "named 'id'; set data.id_column to one of: date, store, sales",
             path);
    expect_error(text, NULL, NULL, NULL, "", suffix);
}

static void test_the_id_column_must_not_be_the_date_or_the_only_column(void **state) {
    (void)state;
    ac_table_set set;
    ac_error err = {0};
    char expected[2048];
    write_csv("date,id,v\n2020-01-01,a,1\n");
    assert_int_not_equal(ac_table_load_long_csv(&set, path, NULL, "date", "exp.ini:2", &err),
                         AC_OK);
    snprintf(expected, sizeof expected,
             "exp.ini:2: data.id_column: column 'date' is the date column of %s; the id column "
             "must be another",
             path);
    assert_string_equal(err.msg, expected);
    expect_error("date,id\n2020-01-01,a\n", NULL, NULL, NULL, "",
                 ": no numeric columns: the header has only the id column 'id' and the date "
                 "column 'date'");
    expect_error("id,v\na,1\n", NULL, NULL, NULL, "",
                 ": data.format = long needs a date column to order each series by, and no "
                 "column is named 'date'; name it with data.date_column");
}

static void test_an_empty_id_names_its_line(void **state) {
    (void)state;
    expect_error("date,store,v\n2020-01-01,a,1\n2020-01-01, ,2\n", NULL, "store", NULL, "",
                 ":3:2 (column 'store'): empty series id; every row of a long-format file names "
                 "its series");
}

static void test_a_date_that_does_not_parse_names_line_and_series(void **state) {
    (void)state;
    expect_error("date,id,v\n2020-01-01,a,1\n2020-01-01,b,1\nsoon,b,2\n", &CHECKED, NULL, NULL, "",
                 ": series 'b': line 4: date 'soon' (column 'date') does not parse; data.format "
                 "= long sorts each series by date, so every date must be Y-M-D, Y/M/D or D.M.Y "
                 "(with an optional time) or Y-M");
}

static void test_one_date_twice_in_a_series_with_other_values_names_both_lines(void **state) {
    (void)state;
    /* the same date in two series is fine; twice in b with other values is not */
    expect_error("date,id,v\n"
                 "2020-01-01,a,1\n"
                 "2020-01-02,b,2\n"
                 "2020-01-01,b,3\n"
                 "2020-01-02,a,4\n"
                 "2020-01-02,b,5\n",
                 &CHECKED, NULL, NULL, "",
                 ": series 'b': line 6: date '2020-01-02' is also on line 3, with other values; "
                 "each date must appear once");
}

static void test_a_gap_under_gaps_error_names_the_series(void **state) {
    (void)state;
    ac_csv_options opt = {.check_dates = true, .gaps = AC_GAPS_ERROR};
    expect_error("date,id,v\n"
                 "2020-01-01,a,1\n"
                 "2020-01-01,b,1\n"
                 "2020-01-02,a,2\n"
                 "2020-01-03,a,3\n"
                 "2020-01-04,a,4\n"
                 "2020-01-02,b,2\n"
                 "2020-01-05,b,5\n",
                 &opt, NULL, NULL, "",
                 ": series 'b': 1 gap in the D calendar (2 missing dates), the first after line 7 "
                 "(2020-01-02); set data.gaps = warn to keep the rows as they are, or fill to "
                 "insert the missing dates");
}

static void test_missing_value_errors_name_the_line_or_the_series(void **state) {
    (void)state;
    /* data.missing = error: the cell's line and column, as in a wide file */
    expect_error("date,id,v\n2020-01-01,a,1\n2020-01-01,b,\n", NULL, NULL, NULL, "",
                 ":3:3 (column 'v'): missing value (empty cell); set data.missing = ffill, "
                 "interpolate or drop to fill or skip it");
    /* a column with no value in one series */
    ac_csv_options opt = {.missing = AC_MISSING_FFILL};
    expect_error("date,id,v,w\n2020-01-01,a,1,1\n2020-01-01,b,2,\n2020-01-02,b,3,NaN\n"
                 "2020-01-02,a,4,4\n",
                 &opt, NULL, NULL, "",
                 ": series 'b': column 'w' has no values at all (every cell is missing)");
}

/* ---- one series is a wide file ---- */

static void assert_same_table(const ac_table *a, const ac_table *b) {
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->cols, b->cols);
    assert_int_equal(a->targets, b->targets);
    for (int c = 0; c < a->cols; c++) assert_string_equal(a->names[c], b->names[c]);
    assert_string_equal(a->date_name, b->date_name);
    for (int r = 0; r < a->rows; r++) assert_string_equal(a->dates[r], b->dates[r]);
    assert_memory_equal(a->values, b->values, (size_t)a->rows * a->cols * sizeof(double));
    assert_int_equal(a->freq.kind, b->freq.kind);
    assert_int_equal(a->freq.n, b->freq.n);
    assert_int_equal(a->missing_filled, b->missing_filled);
    assert_int_equal(a->rows_dropped, b->rows_dropped);
    assert_int_equal(a->date_report.checked, b->date_report.checked);
    assert_int_equal(a->date_report.steps.gaps, b->date_report.steps.gaps);
    assert_int_equal(a->date_report.inserted, b->date_report.inserted);
}

static void test_one_id_gives_the_wide_files_table(void **state) {
    (void)state;
    ac_csv_options opt = {
        .check_dates = true, .gaps = AC_GAPS_FILL, .missing = AC_MISSING_INTERPOLATE};
    ac_table *wide = NULL;
    ac_error err = {0};
    write_csv_as("wide.csv", "date,a,b\n"
                             "2020-01-01 00:00,1,10\n"
                             "2020-01-01 01:00,,11\n"
                             "2020-01-01 02:00,3,12\n"
                             "2020-01-01 05:00,6,15\n"
                             "2020-01-01 06:00,7,\n");
    assert_int_equal(ac_table_load_csv(&wide, path, &opt, &err), AC_OK);
    /* the same rows with an id column, out of order */
    ac_table_set set = load_ok("date,series,a,b\n"
                               "2020-01-01 05:00,s,6,15\n"
                               "2020-01-01 00:00,s,1,10\n"
                               "2020-01-01 06:00,s,7,\n"
                               "2020-01-01 02:00,s,3,12\n"
                               "2020-01-01 01:00,s,,11\n",
                               &opt, "series");
    assert_int_equal(set.count, 1);
    assert_same_table(wide, set.tables[0]);
    assert_int_equal(wide->rows, 7);
    assert_int_equal(wide->date_report.inserted, 2);
    char name[AC_FREQ_TEXT];
    assert_string_equal(ac_freq_name(set.tables[0]->freq, name), "h");
    ac_table_set_free(&set);
    ac_table_free(wide);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved_ids_are_grouped_and_sorted_by_date),
        cmocka_unit_test(test_each_series_has_its_own_frequency),
        cmocka_unit_test(test_rows_of_one_date_keep_the_files_order_and_repeats_are_per_series),
        cmocka_unit_test(test_quotes_crlf_and_a_bom_as_in_a_wide_file),
        cmocka_unit_test(test_a_single_id_gives_a_set_of_one),
        cmocka_unit_test(test_many_series),
        cmocka_unit_test(test_ffill_stays_within_each_series),
        cmocka_unit_test(test_drop_and_gap_fill_act_per_series),
        cmocka_unit_test(test_columns_choose_a_subset_in_their_order),
        cmocka_unit_test(test_an_unknown_id_column_gets_the_nearest_name),
        cmocka_unit_test(test_the_id_column_must_not_be_the_date_or_the_only_column),
        cmocka_unit_test(test_an_empty_id_names_its_line),
        cmocka_unit_test(test_a_date_that_does_not_parse_names_line_and_series),
        cmocka_unit_test(test_one_date_twice_in_a_series_with_other_values_names_both_lines),
        cmocka_unit_test(test_a_gap_under_gaps_error_names_the_series),
        cmocka_unit_test(test_missing_value_errors_name_the_line_or_the_series),
        cmocka_unit_test(test_one_id_gives_the_wide_files_table),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
