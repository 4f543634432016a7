/* test_calendar.c - dates and frequencies (src/data/calendar.c) and the date check of the CSV
 * reader (src/data/csv_dates.c): stepping across month ends, leap years, quarter ends, weekends
 * and midnight; reading and writing each date style; inferring every frequency from generated
 * dates, holidays and missing months included; duplicate and unsorted dates refused with their
 * lines, gaps counted with their first position, the three gap policies on real files, and the
 * benchmark files' frequencies when they are present; the calendar features (data.calendar) of
 * hand-checked dates: a Monday midnight, a leap day at noon, month and year ends. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attncast/calendar.h"
#include "attncast/csv.h"
#include "support/testutil.h"

#define SHARED_DATA "/work/shared/data"

static char dir[256];
static char path[512];

static int setup(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "calendar");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* ---- helpers ---- */

static long long date(const char *text) {
    long long secs;
    ac_date_style st;
    if (!ac_date_parse(text, &secs, &st)) fail_msg("'%s' does not parse", text);
    return secs;
}

static ac_freq freq(const char *name) {
    ac_freq f;
    if (!ac_freq_parse(name, &f)) fail_msg("'%s' is no frequency", name);
    return f;
}

/* The date k periods of `name` after `from`, written in from's style. */
static const char *step(const char *name, const char *from, long long k) {
    static char buf[AC_DATE_TEXT];
    long long secs;
    ac_date_style st;
    if (!ac_date_parse(from, &secs, &st)) fail_msg("'%s' does not parse", from);
    ac_date_format(ac_freq_step(freq(name), secs, k), &st, buf, sizeof buf);
    return buf;
}

static const char *name_of(ac_freq f) {
    static char buf[AC_FREQ_TEXT];
    return ac_freq_name(f, buf);
}

/* The frequency inferred from n dates, by name. */
static const char *infer(const char *const *dates, int n, bool *ambiguous) {
    long long secs[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) secs[i] = date(dates[i]);
    return name_of(ac_freq_infer(secs, n, ambiguous));
}

/* n dates from `first`, each `name` after the one before, skipping the indexes in skip[]. */
static int generate(long long *secs, int n, const char *name, const char *first, const int *skip,
                    int n_skip) {
    int out = 0;
    for (int i = 0; i < n; i++) {
        bool skipped = false;
        for (int j = 0; j < n_skip; j++) skipped |= skip[j] == i;
        if (!skipped) secs[out++] = ac_freq_step(freq(name), date(first), i);
    }
    return out;
}

static const char *write_file(const char *name, const char *text) {
    assert_int_equal(tu_write_file(dir, name, text), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Loads text as name with the dates checked under the policies; NULL and the message in err on
 * failure. */
static ac_table *load(const char *name, const char *text, ac_gaps_policy gaps,
                      ac_missing_policy missing, ac_error *err) {
    ac_csv_options opt = {.check_dates = true, .gaps = gaps, .missing = missing};
    ac_table *t = NULL;
    if (ac_table_load_csv(&t, write_file(name, text), &opt, err) != AC_OK) return NULL;
    return t;
}

static void expect_error(const char *name, const char *text, ac_gaps_policy gaps,
                         ac_missing_policy missing, const char *a, const char *b) {
    ac_error err;
    ac_table *t = load(name, text, gaps, missing, &err);
    if (t) {
        ac_table_free(t);
        fail_msg("%s loaded", name);
    }
    if (strchr(err.msg, '\n')) fail_msg("not one line: %s", err.msg);
    if (a && !strstr(err.msg, a)) fail_msg("'%s' not in: %s", a, err.msg);
    if (b && !strstr(err.msg, b)) fail_msg("'%s' not in: %s", b, err.msg);
}

/* ---- stepping ---- */

static void test_month_end_stays_month_end_across_february(void **state) {
    (void)state;
    assert_string_equal(step("ME", "2011-01-31", 1), "2011-02-28");
    assert_string_equal(step("ME", "2011-01-31", 2), "2011-03-31");
    assert_string_equal(step("ME", "2011-01-31", 3), "2011-04-30");
    assert_string_equal(step("ME", "2012-01-31", 1), "2012-02-29"); /* leap year */
    assert_string_equal(step("ME", "2012-02-29", 12), "2013-02-28");
    assert_string_equal(step("ME", "2000-01-31", 1), "2000-02-29"); /* divisible by 400 */
    assert_string_equal(step("ME", "1900-01-31", 1), "1900-02-28"); /* by 100 only */
    assert_string_equal(step("ME", "2011-03-31", -1), "2011-02-28");
    assert_string_equal(step("ME", "2011-11-30", 2), "2012-01-31"); /* across the year */
    /* the time of day is kept */
    assert_string_equal(step("ME", "2011-01-31 18:30", 1), "2011-02-28 18:30");
}

static void test_month_start_stays_on_day_one(void **state) {
    (void)state;
    assert_string_equal(step("MS", "2011-01-01", 1), "2011-02-01");
    assert_string_equal(step("MS", "2011-12-01", 1), "2012-01-01");
    assert_string_equal(step("MS", "2011-01-01", 14), "2012-03-01");
    assert_string_equal(step("MS", "2011-03-01", -2), "2011-01-01");
    /* a month label stays a label */
    assert_string_equal(step("MS", "2019-11", 3), "2020-02");
}

static void test_quarter_start_and_end(void **state) {
    (void)state;
    assert_string_equal(step("QS", "2020-01-01", 1), "2020-04-01");
    assert_string_equal(step("QS", "2020-10-01", 1), "2021-01-01");
    assert_string_equal(step("QE", "2020-03-31", 1), "2020-06-30");
    assert_string_equal(step("QE", "2020-03-31", 2), "2020-09-30");
    assert_string_equal(step("QE", "2020-03-31", 3), "2020-12-31");
    assert_string_equal(step("QE", "2019-12-31", 1), "2020-03-31");
    assert_string_equal(step("QE", "2019-11-30", 1), "2020-02-29"); /* quarters ending in Feb */
}

static void test_business_days_skip_weekends(void **state) {
    (void)state;
    /* 2024-03-01 is a Friday */
    assert_string_equal(step("B", "2024-03-01", 1), "2024-03-04");
    assert_string_equal(step("B", "2024-02-29", 2), "2024-03-04"); /* Thu + 2: Monday */
    assert_string_equal(step("B", "2024-03-04", -1), "2024-03-01");
    assert_string_equal(step("B", "2024-03-01", 5), "2024-03-08");
    assert_string_equal(step("B", "2024-03-02", 1), "2024-03-04"); /* from a Saturday */
    assert_string_equal(step("B", "1990/1/5 0:00", 1), "1990/1/8 0:00");
    long long p;
    assert_true(ac_freq_periods(freq("B"), date("2024-03-01"), date("2024-03-04"), &p));
    assert_int_equal(p, 1);
    assert_true(ac_freq_periods(freq("B"), date("2024-03-01"), date("2024-03-06"), &p));
    assert_int_equal(p, 3);
    /* a weekend date is not on the calendar */
    assert_false(ac_freq_periods(freq("B"), date("2024-03-01"), date("2024-03-02"), &p));
}

static void test_weekly_keeps_the_weekday(void **state) {
    (void)state;
    assert_string_equal(step("W", "2024-02-26", 1), "2024-03-04"); /* Monday to Monday */
    assert_string_equal(step("W", "2023-12-27", 1), "2024-01-03");
    assert_string_equal(name_of(freq("7D")), "W");
}

static void test_yearly_and_february_29(void **state) {
    (void)state;
    assert_string_equal(step("YE", "2020-12-31", 1), "2021-12-31");
    assert_string_equal(step("YS", "2020-01-01", 3), "2023-01-01");
    /* yearly on the end of February: the leap day comes back every four years */
    static const char *const feb[] = {"2019-02-28", "2020-02-29", "2021-02-28", "2022-02-28"};
    assert_string_equal(infer(feb, 4, NULL), "YE");
    assert_string_equal(step("YE", "2023-02-28", 1), "2024-02-29");
    assert_string_equal(step("YE", "2024-02-29", 1), "2025-02-28");
}

static void test_minutes_and_hours_cross_midnight_and_month_ends(void **state) {
    (void)state;
    assert_string_equal(step("10min", "2020-01-31 23:50:00", 1), "2020-02-01 00:00:00");
    assert_string_equal(step("10min", "2020-02-29 23:40:00", 3), "2020-03-01 00:10:00");
    assert_string_equal(step("h", "2020-02-28 23:00:00", 1), "2020-02-29 00:00:00");
    assert_string_equal(step("h", "2021-02-28 23:00:00", 1), "2021-03-01 00:00:00");
    assert_string_equal(step("h", "2020-12-31T23:00:00Z", 2), "2021-01-01T01:00:00Z");
    assert_string_equal(step("D", "1990/12/31 0:00", 1), "1991/1/1 0:00");
    assert_string_equal(step("30s", "2020-01-01 23:59:30", 1), "2020-01-02 00:00:00");
    assert_string_equal(step("90s", "2020-01-01 00:00:00", 3), "2020-01-01 00:04:30");
}

/* ---- names and seasons ---- */

static void test_frequency_names_read_back(void **state) {
    (void)state;
    static const char *const names[] = {"s",  "30s", "min", "10min", "15min", "h",  "2h",
                                        "D",  "3D",  "B",   "W",     "2W",    "MS", "ME",
                                        "QS", "QE",  "YS",  "YE",    "2MS",   "2YE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(name_of(freq(names[i])), names[i]);
    /* other spellings pandas users write */
    assert_string_equal(name_of(freq("60min")), "h");
    assert_string_equal(name_of(freq("1d")), "D");
    assert_string_equal(name_of(freq("M")), "ME");
    assert_string_equal(name_of(freq("Q")), "QE");
    assert_string_equal(name_of(freq("A")), "YE");
    assert_string_equal(name_of(freq("3MS")), "QS");
    assert_string_equal(name_of(freq("24MS")), "2YS");
    assert_string_equal(name_of(freq("T")), "min");
    ac_freq f;
    assert_false(ac_freq_parse("", &f));
    assert_false(ac_freq_parse("0D", &f));
    assert_false(ac_freq_parse("daily", &f));
    assert_false(ac_freq_parse("10 min", &f));
    assert_false(ac_freq_parse("-1h", &f));
    assert_false(ac_freq_parse("99999999999999999999s", &f));
    assert_string_equal(name_of((ac_freq){AC_FREQ_UNKNOWN, 0}), "unknown");
}

static void test_season_follows_the_frequency(void **state) {
    (void)state;
    assert_int_equal(ac_freq_season(freq("10min")), 144);
    assert_int_equal(ac_freq_season(freq("15min")), 96);
    assert_int_equal(ac_freq_season(freq("h")), 24);
    assert_int_equal(ac_freq_season(freq("D")), 7);
    assert_int_equal(ac_freq_season(freq("B")), 5);
    assert_int_equal(ac_freq_season(freq("W")), 52);
    assert_int_equal(ac_freq_season(freq("MS")), 12);
    assert_int_equal(ac_freq_season(freq("ME")), 12);
    assert_int_equal(ac_freq_season(freq("QE")), 4);
    assert_int_equal(ac_freq_season(freq("YS")), 1);
    assert_int_equal(ac_freq_season(freq("7min")), 1); /* does not divide a day */
    assert_int_equal(ac_freq_season((ac_freq){AC_FREQ_UNKNOWN, 0}), 1);
}

/* ---- reading and writing dates ---- */

static void test_each_date_style_reads_and_writes_back(void **state) {
    (void)state;
    static const char *const same[] = {
        "2016-07-01 00:00:00",    "1990/1/1 0:00",        "2011-01-31",          "2011-01",
        "2020-01-01T06:30:00",    "2020-01-01T06:30:00Z", "01.01.2020 00:10:00", "2020/01/05",
        "2020-01-01 00:00:00.000"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        long long secs;
        ac_date_style st;
        char buf[AC_DATE_TEXT];
        assert_true(ac_date_parse(same[i], &secs, &st));
        ac_date_format(secs, &st, buf, sizeof buf);
        assert_string_equal(buf, same[i]);
    }
    assert_true(date("1970-01-01") == 0);
    assert_true(date("1970-01-02 00:00:01") == 86401);
    assert_true(date("1969-12-31 23:59:59") == -1);
    assert_true(date("01.02.2020") == date("2020-02-01")); /* D.M.Y */
    assert_true(date("2011-03") == date("2011-03-01"));
    /* an unpadded day settles a style that "12" left open */
    long long secs;
    ac_date_style a, b;
    char buf[AC_DATE_TEXT];
    assert_true(ac_date_parse("2020/12/12", &secs, &a) && ac_date_parse("2020-1-5", &secs, &b));
    assert_int_equal(a.pad_date, 0);
    assert_int_equal(b.pad_date, -1);
    a.sep = '-';
    ac_date_style_merge(&a, &b);
    ac_date_format(date("2021-02-03"), &a, buf, sizeof buf);
    assert_string_equal(buf, "2021-2-3");
}

static void test_impossible_or_foreign_dates_are_not_dates(void **state) {
    (void)state;
    static const char *const bad[] = {"",
                                      "2021-02-29",
                                      "2020-13-01",
                                      "2020-04-31",
                                      "2020-01-01x",
                                      "20-01-01",
                                      "2020-01-01 24:00",
                                      "2020-01-01 12:60",
                                      "2020-01-01 1:2",
                                      "12.5",
                                      "2020-01/01",
                                      "2020/01",
                                      "01/02/2020",
                                      "2020-01-01 00:00:00.5",
                                      "0000-01-01",
                                      " 2020-01-01",
                                      "2020-01-01 ",
                                      "2020-001-01",
                                      "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long secs = 42;
        ac_date_style st;
        if (ac_date_parse(bad[i], &secs, &st)) fail_msg("'%s' parsed", bad[i]);
        assert_true(secs == 42);
    }
}

/* ---- inference ---- */

static void test_every_frequency_is_inferred_from_its_dates(void **state) {
    (void)state;
    static const struct {
        const char *name, *first;
    } cases[] = {{"10min", "2020-01-31 20:00:00"},
                 {"h", "2016-07-01 00:00:00"},
                 {"D", "1990/1/1 0:00"},
                 {"B", "2024-02-26"},
                 {"W", "2024-01-07"},
                 {"MS", "2010-01-01"},
                 {"ME", "2010-01-31"},
                 {"QS", "2010-01-01"},
                 {"QE", "2010-03-31"},
                 {"YS", "2001-01-01"},
                 {"YE", "2001-12-31"},
                 {"30s", "2020-01-01 00:00:00"},
                 {"2h", "2020-01-01 00:00:00"},
                 {"MS", "2010-01"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long secs[40];
        int n = generate(secs, 40, cases[i].name, cases[i].first, NULL, 0);
        bool ambiguous = true;
        const char *got = name_of(ac_freq_infer(secs, n, &ambiguous));
        if (strcmp(got, cases[i].name) != 0)
            fail_msg("%s dates from %s: inferred %s", cases[i].name, cases[i].first, got);
        assert_false(ambiguous);
    }
}

static void test_business_days_with_holidays_are_b_with_gaps(void **state) {
    (void)state;
    long long secs[60];
    static const int holidays[] = {3, 17, 18, 40};
    int n = generate(secs, 60, "B", "2023-12-25", holidays, 4);
    ac_freq f = ac_freq_infer(secs, n, NULL);
    assert_string_equal(name_of(f), "B");
    ac_calendar_steps s;
    ac_calendar_steps_count(f, secs, n, &s);
    assert_int_equal(s.gaps, 3);
    assert_int_equal(s.missing, 4);
    assert_int_equal(s.first_gap, 2); /* the row before the first holiday */
    assert_int_equal(s.repeats, 0);
    assert_int_equal(s.irregular, 0);
    /* daily dates with weekends stay daily */
    n = generate(secs, 30, "D", "2024-03-01", NULL, 0);
    assert_string_equal(name_of(ac_freq_infer(secs, n, NULL)), "D");
    /* weekdays that never cross a weekend could be either */
    static const char *const week[] = {"2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"};
    bool ambiguous = false;
    assert_string_equal(infer(week, 4, &ambiguous), "D");
    assert_true(ambiguous);
}

static void test_a_missing_month_is_a_gap_of_a_monthly_series(void **state) {
    (void)state;
    long long secs[24];
    static const int missing[] = {7};
    int n = generate(secs, 24, "ME", "2010-01-31", missing, 1);
    ac_freq f = ac_freq_infer(secs, n, NULL);
    assert_string_equal(name_of(f), "ME");
    ac_calendar_steps s;
    ac_calendar_steps_count(f, secs, n, &s);
    assert_int_equal(s.gaps, 1);
    assert_int_equal(s.missing, 1);
    assert_int_equal(s.first_gap, 6); /* 2010-07-31, before the missing August */
    /* two missing hours of an hourly series, and a repeated row */
    long long h[50];
    static const int hours[] = {20, 21};
    n = generate(h, 48, "h", "2020-02-28 12:00:00", hours, 2);
    h[n] = h[n - 1];
    n++;
    f = ac_freq_infer(h, n, NULL);
    assert_string_equal(name_of(f), "h");
    ac_calendar_steps_count(f, h, n, &s);
    assert_int_equal(s.gaps, 1);
    assert_int_equal(s.missing, 2);
    assert_int_equal(s.first_gap, 19);
    assert_int_equal(s.repeats, 1);
    assert_int_equal(s.first_repeat, n - 1);
}

static void test_irregular_or_too_few_dates_have_no_frequency(void **state) {
    (void)state;
    static const char *const one[] = {"2020-01-01"};
    assert_string_equal(infer(one, 1, NULL), "unknown");
    static const char *const same[] = {"2020-01-01", "2020-01-01"};
    assert_string_equal(infer(same, 2, NULL), "unknown");
    static const char *const odd[] = {"2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:10",
                                      "2020-01-01 03:40", "2020-01-01 04:25", "2020-01-01 06:05",
                                      "2020-01-01 06:50", "2020-01-01 08:00"};
    assert_string_equal(infer(odd, 8, NULL), "unknown");
    /* one odd step in many is irregular, not a reason to give up */
    long long secs[40];
    int n = generate(secs, 40, "10min", "2020-01-01 00:00:00", NULL, 0);
    secs[20] += 300;
    ac_freq f = ac_freq_infer(secs, n, NULL);
    assert_string_equal(name_of(f), "10min");
    ac_calendar_steps s;
    ac_calendar_steps_count(f, secs, n, &s);
    assert_int_equal(s.irregular, 2);
    assert_int_equal(s.first_irregular, 20);
}

/* ---- the CSV reader's date check ---- */

static void test_duplicate_dates_name_both_lines(void **state) {
    (void)state;
    expect_error("dup.csv", "date,a\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n2020-01-03,4\n",
                 AC_GAPS_WARN, AC_MISSING_ERROR, "dup.csv:4: date '2020-01-02' is also on line 3",
                 "with other values");
}

static void test_unsorted_dates_name_both_lines(void **state) {
    (void)state;
    expect_error("unsorted.csv",
                 "date,a\n2020-01-01,1\n2020-01-02,2\n2020-01-04,3\n2020-01-03,4\n2020-01-05,5\n",
                 AC_GAPS_WARN, AC_MISSING_ERROR,
                 "unsorted.csv:5: date '2020-01-03' comes before '2020-01-04' on line 4",
                 "oldest first");
    expect_error("newest.csv", "date,a\n2020-01-03,1\n2020-01-02,2\n2020-01-01,3\n", AC_GAPS_FILL,
                 AC_MISSING_FFILL, "newest.csv:3:", "newest first: reverse it");
}

static void test_gaps_are_counted_with_their_first_line(void **state) {
    (void)state;
    ac_error err;
    /* a daily series missing Jan 4-5 and Jan 9, and a row repeated exactly */
    ac_table *t = load("gaps.csv",
                       "date,a,b\n2020-01-01,1,10\n2020-01-02,2,20\n2020-01-03,3,30\n"
                       "2020-01-06,6,60\n2020-01-07,7,70\n2020-01-07,7,70\n2020-01-08,8,80\n"
                       "2020-01-10,10,100\n2020-01-11,11,110\n2020-01-12,12,120\n",
                       AC_GAPS_WARN, AC_MISSING_ERROR, &err);
    if (!t) {
        fail_msg("%s", err.msg);
        return;
    }
    assert_string_equal(name_of(t->freq), "D");
    assert_int_equal(t->rows, 10); /* kept as read */
    const ac_date_report *d = &t->date_report;
    assert_int_equal(d->steps.gaps, 2);
    assert_int_equal(d->steps.missing, 3);
    assert_int_equal(d->gap_line, 4);
    assert_string_equal(d->gap_date, "2020-01-03");
    assert_int_equal(d->steps.repeats, 1);
    assert_int_equal(d->repeat_line, 7);
    char note[AC_ERROR_MAX];
    const char *severity = NULL;
    assert_true(ac_table_date_note(t, note, sizeof note, &severity));
    assert_string_equal(severity, "warning");
    assert_non_null(strstr(note, "2 gaps in the D calendar (3 missing dates), the first after "
                                 "line 4 (2020-01-03)"));
    assert_non_null(strstr(note, "1 repeated row"));
    assert_non_null(strstr(note, "line 7"));
    ac_table_free(t);
}

static void test_gaps_error_stops_the_load(void **state) {
    (void)state;
    expect_error("gaps.csv", "date,a\n2011-01-31,1\n2011-02-28,2\n2011-04-30,4\n2011-05-31,5\n",
                 AC_GAPS_ERROR, AC_MISSING_ERROR,
                 "1 gap in the ME calendar (1 missing date), the first after line 3 (2011-02-28)",
                 "set data.gaps = warn");
}

static void test_gaps_fill_inserts_dates_and_lets_missing_fill_them(void **state) {
    (void)state;
    ac_error err;
    ac_table *t = load("fill.csv",
                       "date,a\n2011-01-31,1\n2011-02-28,2\n2011-02-28,2\n2011-05-31,5\n"
                       "2011-06-30,6\n",
                       AC_GAPS_FILL, AC_MISSING_INTERPOLATE, &err);
    if (!t) {
        fail_msg("%s", err.msg);
        return;
    }
    assert_int_equal(t->rows, 6);
    static const char *const dates[] = {"2011-01-31", "2011-02-28", "2011-03-31",
                                        "2011-04-30", "2011-05-31", "2011-06-30"};
    for (int r = 0; r < 6; r++) {
        assert_string_equal(t->dates[r], dates[r]);
        assert_true(fabs(t->values[r] - (r + 1)) < 1e-12);
    }
    assert_int_equal(t->date_report.inserted, 2);
    assert_int_equal(t->date_report.removed, 1);
    assert_int_equal(t->missing_filled, 2);
    char note[AC_ERROR_MAX];
    const char *severity = NULL;
    assert_true(ac_table_date_note(t, note, sizeof note, &severity));
    assert_string_equal(severity, "note");
    assert_non_null(strstr(note, "inserted 2 row(s) for 1 gap(s) in the ME calendar"));
    assert_non_null(strstr(note, "removed 1 repeated row(s), the first at line 4"));
    ac_table_free(t);
    /* ffill, in the input's own style */
    t = load("fill2.csv", "date,a\n1990/1/1 0:00,1\n1990/1/2 0:00,2\n1990/1/5 0:00,5\n",
             AC_GAPS_FILL, AC_MISSING_FFILL, &err);
    if (!t) {
        fail_msg("%s", err.msg);
        return;
    }
    assert_int_equal(t->rows, 5);
    assert_string_equal(t->dates[2], "1990/1/3 0:00");
    assert_string_equal(t->dates[3], "1990/1/4 0:00");
    assert_true(t->values[2] == 2 && t->values[3] == 2);
    ac_table_free(t);
    /* the missing-value policy must be one that fills */
    expect_error("fill3.csv", "date,a\n2020-01-01,1\n2020-01-03,3\n2020-01-04,4\n", AC_GAPS_FILL,
                 AC_MISSING_ERROR, "set data.missing = ffill or interpolate", "fill3.csv");
    /* and the steps must be whole periods */
    expect_error("fill4.csv",
                 "date,a\n2020-01-01 00:00,1\n2020-01-01 01:00,2\n2020-01-01 02:00,3\n"
                 "2020-01-01 03:30,4\n2020-01-01 04:30,5\n2020-01-01 05:30,6\n"
                 "2020-01-01 06:30,7\n2020-01-01 07:30,8\n2020-01-01 08:30,9\n"
                 "2020-01-01 09:30,10\n2020-01-01 10:30,11\n2020-01-01 11:30,12\n",
                 AC_GAPS_FILL, AC_MISSING_FFILL, "fill4.csv:5: the step to '2020-01-01 03:30'",
                 "no whole number of h periods");
    /* a wrong year is not a gap to fill */
    expect_error("fill5.csv", "date,a\n2020-01-01,1\n2020-01-02,2\n2029-01-03,3\n", AC_GAPS_FILL,
                 AC_MISSING_FFILL, "too many to fill", "fill5.csv");
}

static void test_dates_that_do_not_parse_are_only_text(void **state) {
    (void)state;
    ac_error err;
    ac_table *t = load("text.csv", "date,a\nmonday,1\ntuesday,2\nmonday,3\n", AC_GAPS_ERROR,
                       AC_MISSING_ERROR, &err);
    if (!t) {
        fail_msg("%s", err.msg);
        return;
    }
    assert_false(ac_freq_known(t->freq));
    assert_false(t->date_report.checked);
    ac_table_free(t);
    /* and without the check, order is not looked at either */
    ac_csv_options opt = {0};
    assert_int_equal(ac_table_load_csv(&t,
                                       write_file("u.csv", "date,a\n2020-01-02,1\n"
                                                           "2020-01-01,2\n"),
                                       &opt, &err),
                     AC_OK);
    assert_false(ac_freq_known(t->freq));
    ac_table_free(t);
}

static void test_a_given_frequency_replaces_inference(void **state) {
    (void)state;
    /* Mon..Wed: inferred D, but the caller says B, so Fri -> Mon is no gap */
    ac_csv_options opt = {.check_dates = true, .gaps = AC_GAPS_ERROR, .frequency = freq("B")};
    ac_table *t = NULL;
    ac_error err;
    if (ac_table_load_csv(&t,
                          write_file("b.csv", "date,a\n2024-03-07,1\n2024-03-08,2\n"
                                              "2024-03-11,3\n"),
                          &opt, &err) != AC_OK)
        fail_msg("%s", err.msg);
    if (!t) return;
    assert_string_equal(name_of(t->freq), "B");
    ac_table_free(t);
}

/* ---- the benchmark files ---- */

static ac_table *load_shared(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "%s/%s", SHARED_DATA, name);
    if (access(file, R_OK) != 0) return NULL;
    ac_csv_options opt = {.check_dates = true, .gaps = AC_GAPS_WARN};
    ac_table *t = NULL;
    ac_error err;
    if (ac_table_load_csv(&t, file, &opt, &err) != AC_OK) fail_msg("%s", err.msg);
    return t;
}

static void test_benchmark_files_have_their_cards_steps(void **state) {
    (void)state;
    ac_table *t = load_shared("exchange_rate.csv");
    if (!t) skip();
    assert_string_equal(name_of(t->freq), "D"); /* every day, weekends included */
    assert_int_equal(t->date_report.steps.gaps + t->date_report.steps.repeats, 0);
    ac_table_free(t);
    t = load_shared("ETTh1.csv");
    if (t) {
        assert_string_equal(name_of(t->freq), "h");
        assert_int_equal(t->date_report.steps.gaps, 0);
        ac_table_free(t);
    }
    t = load_shared("weather.csv");
    if (t) {
        assert_string_equal(name_of(t->freq), "10min");
        /* one 100-minute hole and one row written twice, both kept under warn */
        assert_int_equal(t->rows, 52696);
        assert_int_equal(t->date_report.steps.gaps, 1);
        assert_int_equal(t->date_report.steps.missing, 9);
        assert_int_equal(t->date_report.gap_line, 21515);
        assert_int_equal(t->date_report.steps.repeats, 1);
        assert_int_equal(t->date_report.repeat_line, 19046);
        ac_table_free(t);
    }
}

/* ---- calendar features (data.calendar) ---- */

#define TWO_PI 6.283185307179586

/* The sin and cos of position k in period p, as MODEL.md writes them. */
static void assert_position(const double *v, int k, int p) {
    double want_sin = sin(TWO_PI * k / p), want_cos = cos(TWO_PI * k / p);
    if (fabs(v[0] - want_sin) > 1e-12 || fabs(v[1] - want_cos) > 1e-12)
        fail_msg("got (%.15g, %.15g), want position %d of %d (%.15g, %.15g)", v[0], v[1], k, p,
                 want_sin, want_cos);
}

/* Every feature of one date: out[0..10) in AC_CALENDAR_FEATURES order. */
static void all_features(const char *text, double out[10]) {
    unsigned all = (1u << AC_CALENDAR_FEATURE_COUNT) - 1u;
    assert_int_equal(ac_calendar_columns(all), 10);
    ac_calendar_values(date(text), all, out);
}

static void test_calendar_feature_names_read_back_and_count_two_columns(void **state) {
    (void)state;
    static const char *const names[] = {"hour_of_day", "day_of_week", "day_of_month", "day_of_year",
                                        "month_of_year"};
    assert_int_equal(AC_CALENDAR_FEATURE_COUNT, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(ac_calendar_feature_name(i), names[i]);
        unsigned bit = 0;
        assert_true(ac_calendar_feature_parse(names[i], &bit));
        assert_int_equal(bit, 1u << i);
        assert_int_equal(ac_calendar_columns(bit), 2);
    }
    assert_null(ac_calendar_feature_name(-1));
    assert_null(ac_calendar_feature_name(5));
    unsigned bit = 77;
    assert_false(ac_calendar_feature_parse("hour", &bit));
    assert_false(ac_calendar_feature_parse("Hour_Of_Day", &bit));
    assert_int_equal(bit, 77);
    assert_int_equal(ac_calendar_columns(0), 0);
    assert_int_equal(ac_calendar_columns(AC_CALENDAR_DAY_OF_WEEK | AC_CALENDAR_MONTH_OF_YEAR), 4);
}

/* Hand-checked: 2024-01-01 was a Monday, the first day of a leap year, at midnight: every
 * position is 0 (sin 0, cos 1). */
static void test_calendar_of_a_monday_midnight_new_year(void **state) {
    (void)state;
    double v[10];
    all_features("2024-01-01 00:00:00", v);
    for (int f = 0; f < 5; f++) {
        assert_true(fabs(v[2 * f]) < 1e-15);
        assert_true(fabs(v[2 * f + 1] - 1.0) < 1e-15);
    }
}

/* 2024-02-29 12:00, a Thursday (Monday 0: 3): noon is half the day (sin 0, cos -1); the leap
 * day is day 29 of 29 (k 28) and day 60 of 366 (k 59: 31 in January + 28); February is k 1. */
static void test_calendar_of_a_leap_day_at_noon(void **state) {
    (void)state;
    double v[10];
    all_features("2024-02-29 12:00:00", v);
    assert_true(fabs(v[0]) < 1e-12 && fabs(v[1] + 1.0) < 1e-12);
    assert_position(v + 0, 12, 24);
    assert_position(v + 2, 3, 7);
    assert_position(v + 4, 28, 29);
    assert_position(v + 6, 59, 366);
    assert_position(v + 8, 1, 12);
}

/* Month and year ends: 2023-02-28 23:00 (Tuesday, the last day of a 28-day February, day 59 of
 * 365), 2023-04-30 06:00 (Sunday, day 30 of 30, day 120 of 365), 2023-12-31 (Sunday, day 365
 * of 365) and 2024-12-31 (Tuesday, day 366 of 366). */
static void test_calendar_of_month_and_year_ends(void **state) {
    (void)state;
    double v[10];
    all_features("2023-02-28 23:00", v);
    assert_position(v + 0, 23, 24);
    assert_position(v + 2, 1, 7);
    assert_position(v + 4, 27, 28);
    assert_position(v + 6, 58, 365);
    assert_position(v + 8, 1, 12);

    all_features("2023-04-30 06:00", v);
    assert_true(fabs(v[0] - 1.0) < 1e-12 && fabs(v[1]) < 1e-12); /* 6 o'clock: a quarter */
    assert_position(v + 2, 6, 7);
    assert_position(v + 4, 29, 30);
    assert_position(v + 6, 119, 365);
    assert_position(v + 8, 3, 12);

    all_features("2023-12-31", v);
    assert_position(v + 0, 0, 24);
    assert_position(v + 2, 6, 7);
    assert_position(v + 4, 30, 31);
    assert_position(v + 6, 364, 365);
    assert_position(v + 8, 11, 12);

    all_features("2024-12-31 18:30", v); /* the hour is whole: 18 */
    assert_position(v + 0, 18, 24);
    assert_position(v + 2, 1, 7);
    assert_position(v + 6, 365, 366);
}

/* A subset writes only its features, in AC_CALENDAR_FEATURES order whatever the bits' order;
 * dates before 1970 work too (1969-12-31 was a Wednesday). */
static void test_calendar_subset_keeps_the_feature_order(void **state) {
    (void)state;
    double v[4] = {9, 9, 9, 9};
    ac_calendar_values(date("1969-12-31 01:00"),
                       AC_CALENDAR_MONTH_OF_YEAR | AC_CALENDAR_DAY_OF_WEEK, v);
    assert_position(v + 0, 2, 7);
    assert_position(v + 2, 11, 12);
    double h[2];
    ac_calendar_values(date("1969-12-31 01:00"), AC_CALENDAR_HOUR_OF_DAY, h);
    assert_position(h, 1, 24);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_end_stays_month_end_across_february),
        cmocka_unit_test(test_month_start_stays_on_day_one),
        cmocka_unit_test(test_quarter_start_and_end),
        cmocka_unit_test(test_business_days_skip_weekends),
        cmocka_unit_test(test_weekly_keeps_the_weekday),
        cmocka_unit_test(test_yearly_and_february_29),
        cmocka_unit_test(test_minutes_and_hours_cross_midnight_and_month_ends),
        cmocka_unit_test(test_frequency_names_read_back),
        cmocka_unit_test(test_season_follows_the_frequency),
        cmocka_unit_test(test_each_date_style_reads_and_writes_back),
        cmocka_unit_test(test_impossible_or_foreign_dates_are_not_dates),
        cmocka_unit_test(test_every_frequency_is_inferred_from_its_dates),
        cmocka_unit_test(test_business_days_with_holidays_are_b_with_gaps),
        cmocka_unit_test(test_a_missing_month_is_a_gap_of_a_monthly_series),
        cmocka_unit_test(test_irregular_or_too_few_dates_have_no_frequency),
        cmocka_unit_test(test_duplicate_dates_name_both_lines),
        cmocka_unit_test(test_unsorted_dates_name_both_lines),
        cmocka_unit_test(test_gaps_are_counted_with_their_first_line),
        cmocka_unit_test(test_gaps_error_stops_the_load),
        cmocka_unit_test(test_gaps_fill_inserts_dates_and_lets_missing_fill_them),
        cmocka_unit_test(test_dates_that_do_not_parse_are_only_text),
        cmocka_unit_test(test_a_given_frequency_replaces_inference),
        cmocka_unit_test(test_benchmark_files_have_their_cards_steps),
        cmocka_unit_test(test_calendar_feature_names_read_back_and_count_two_columns),
        cmocka_unit_test(test_calendar_of_a_monday_midnight_new_year),
        cmocka_unit_test(test_calendar_of_a_leap_day_at_noon),
        cmocka_unit_test(test_calendar_of_month_and_year_ends),
        cmocka_unit_test(test_calendar_subset_keeps_the_feature_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
