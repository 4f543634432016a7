/* test_dates_cli.c - dates through the real binary: a month-end series trains with frequency ME
 * and season 12 resolved into its run folder and checkpoint (info, eval), and predict
 * continues it 2011-01-31, 2011-02-28, 2011-03-31; a business-day series with holidays is B
 * with its gaps reported, and predict skips the weekend even from an input too short to tell;
 * data.gaps = warn, error and fill on a daily series with a hole; duplicate and unsorted
 * dates refused in one line naming both lines. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

/* A shell command run in the test folder, its output (stdout and stderr) in out. */
#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static void expect_error(int rc, int code, const char *a, const char *b) {
    if (rc != code) fail_msg("exit %d (wanted %d): %s", rc, code, out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static void expect_in_out(const char *piece) {
    if (!strstr(out, piece)) fail_msg("'%s' not in: %s", piece, out);
}

/* Days since 1970-01-01 and back (the tests' own, independent of src/data/calendar.c). */
static long days_of(int y, int m, int d) {
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    long days = (y - 1970) * 365L + before[m - 1] + d - 1;
    for (int k = 1970; k < y; k++) days += (k % 4 == 0 && k % 100 != 0) || k % 400 == 0;
    if (m > 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) days++;
    return days;
}

static void date_of(long days, char *buf, size_t n) {
    int y = 1970, m = 1;
    for (;;) {
        int len = 365 + ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
        if (days < len) break;
        days -= len;
        y++;
    }
    for (;; m++) {
        long len = days_of(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - days_of(y, m, 1);
        if (days < len) break;
        days -= len;
    }
    snprintf(buf, n, "%04d-%02d-%02d", y % 10000, m % 100, (int)(days % 100) + 1);
}

/* A CSV of two noisy seasonal channels, one row per date. */
static int write_series(const char *name, char dates[][16], int n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    unsigned seed = 7;
    for (int t = 0; t < n; t++) {
        seed = seed * 1103515245u + 12345u;
        double noise = ((seed >> 16) % 1000) / 5000.0;
        fprintf(f, "%s,%.5f,%.5f\n", dates[t], 5 + sin(t * 0.5236) + noise, cos(t * 0.3) - noise);
    }
    return fclose(f);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "dates") != 0 || setenv("A", tu_bin(), 1) != 0) return -1;
    static char dates[200][16];
    /* month ends 2001-01-31 .. 2010-12-31 */
    for (int i = 0; i < 120; i++) {
        int y = 2001 + i / 12, m = i % 12 + 1;
        long end = days_of(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 1;
        date_of(end, dates[i], sizeof dates[i]);
    }
    if (write_series("monthly.csv", dates, 120) != 0) return -1;
    /* business days from Monday 2024-01-01, without two holidays (rows 20 and 61) */
    int n = 0;
    for (long d = days_of(2024, 1, 1), k = 0; n < 153; d++) {
        if ((d + 3) % 7 >= 5) continue; /* Saturday, Sunday */
        if (k++ == 20 || k == 62) continue;
        date_of(d, dates[n++], sizeof dates[0]);
    }
    if (write_series("bdays.csv", dates, n) != 0) return -1;
    /* every day from 2020-01-01, without 2020-02-10 and 2020-02-11 */
    n = 0;
    for (long d = days_of(2020, 1, 1); n < 120; d++)
        if (d != days_of(2020, 2, 10) && d != days_of(2020, 2, 11))
            date_of(d, dates[n++], sizeof dates[0]);
    if (write_series("daily.csv", dates, n) != 0) return -1;
    if (tu_write_file(dir, "exp.ini",
                      "[data]\nlookback = 12\nhorizon = 3\n"
                      "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 4\n"
                      "patch_stride = 2\n"
                      "[train]\nepochs = 1\nbatch_size = 16\nseed = 5\nthreads = 1\n") != 0)
        return -1;
    if (sh("$A train exp.ini --set data.csv=monthly.csv --quiet --out M") != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void test_a_monthly_run_resolves_frequency_and_season(void **state) {
    (void)state;
    assert_int_equal(sh("grep -e '^frequency' -e '^season' M/config.ini"), 0);
    assert_string_equal(out, "frequency = ME\nseason = 12\n");
    assert_int_equal(sh("$A info M/best.h5"), 0);
    expect_in_out("calendar       frequency ME, season 12\n");
    assert_int_equal(sh("grep -c '\"season\":.12,' M/metrics.json"), 0);
    assert_int_equal(sh("$A eval M/best.h5 --json | grep -c '\"season\":.12,'"), 0);
    /* a season in the config wins */
    assert_int_equal(sh("$A train exp.ini --set data.csv=monthly.csv --set data.season=6 "
                        "--quiet --out M6 >/dev/null && grep '^season' M6/config.ini"),
                     0);
    assert_string_equal(out, "season = 6\n");
}

static void test_predict_continues_month_ends(void **state) {
    (void)state;
    assert_int_equal(sh("$A predict M/best.h5 --input monthly.csv | cut -d, -f1"), 0);
    assert_string_equal(out, "date\n2011-01-31\n2011-02-28\n2011-03-31\n");
    /* from row 110, 2010-02-28 */
    assert_int_equal(sh("$A predict M/best.h5 --input monthly.csv --at 110 | cut -d, -f1"), 0);
    assert_string_equal(out, "date\n2010-03-31\n2010-04-30\n2010-05-31\n");
    /* a leap February, from an input whose last row is 2011-12-31 */
    assert_int_equal(sh("(head -1 monthly.csv; tail -12 monthly.csv | sed 's/^2010/2011/') > "
                        "m2.csv && $A predict M/best.h5 --input m2.csv | cut -d, -f1"),
                     0);
    assert_string_equal(out, "date\n2012-01-31\n2012-02-29\n2012-03-31\n");
}

static void test_business_days_skip_weekends_and_holidays_are_gaps(void **state) {
    (void)state;
    int rc = sh("$A train exp.ini --set data.csv=bdays.csv --set data.lookback=4 --set "
                "model.patch_len=4 --quiet --out Bd");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    expect_in_out("attncast: warning: bdays.csv: 2 gaps in the B calendar (2 missing dates), the "
                  "first after line 21 (2024-01-26)");
    assert_int_equal(sh("grep -e '^frequency' -e '^season' Bd/config.ini"), 0);
    assert_string_equal(out, "frequency = B\nseason = 5\n");
    /* the last row is Friday 2024-08-02 (153 business days and two holidays from 2024-01-01) */
    assert_int_equal(sh("$A predict Bd/best.h5 --input bdays.csv | cut -d, -f1"), 0);
    assert_string_equal(out, "date\n2024-08-05\n2024-08-06\n2024-08-07\n");
    /* Monday to Thursday alone could be days; the checkpoint says business days */
    assert_int_equal(sh("(head -1 bdays.csv; grep -e ^2024-07-29 -e ^2024-07-30 -e ^2024-07-31 "
                        "-e ^2024-08-01 bdays.csv) > week.csv && $A predict Bd/best.h5 --input "
                        "week.csv | cut -d, -f1"),
                     0);
    assert_string_equal(out, "date\n2024-08-02\n2024-08-05\n2024-08-06\n");
}

static void test_gaps_warn_error_and_fill(void **state) {
    (void)state;
    /* warn, the default: trains, and says where */
    int rc = sh("$A train exp.ini --set data.csv=daily.csv --quiet --out D");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    expect_in_out("attncast: warning: daily.csv: 1 gap in the D calendar (2 missing dates), the "
                  "first after line 41 (2020-02-09); data.gaps = warn keeps the rows as they are");
    assert_int_equal(sh("grep -e '^frequency' -e '^gaps' -e '^season' D/config.ini"), 0);
    assert_string_equal(out, "frequency = D\ngaps = warn\nseason = 7\n");
    /* error: refused, one line */
    expect_error(sh("$A train exp.ini --set data.csv=daily.csv --set data.gaps=error --quiet "
                    "--out De"),
                 1, "daily.csv: 1 gap in the D calendar (2 missing dates), the first after line 41",
                 "set data.gaps = warn");
    /* fill needs a missing-value policy that fills: a config error */
    expect_error(sh("$A train exp.ini --set data.csv=daily.csv --set data.gaps=fill --quiet "
                    "--out Df"),
                 2, "--set data.gaps=fill: data.gaps:", "set data.missing = ffill or interpolate");
    rc = sh("$A train exp.ini --set data.csv=daily.csv --set data.gaps=fill --set "
            "data.missing=interpolate --quiet --out Df");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    expect_in_out("attncast: note: daily.csv: data.gaps = fill inserted 2 row(s) for 1 gap(s) in "
                  "the D calendar, the first after line 41 (2020-02-09)");
    expect_in_out("data.missing = interpolate filled 4 cell(s)");
}

static void test_duplicate_and_unsorted_dates_are_refused(void **state) {
    (void)state;
    expect_error(sh("sed '11s/^2020-01-10/2020-01-09/' daily.csv > dup.csv && $A train exp.ini "
                    "--set data.csv=dup.csv --quiet --out X"),
                 1, "dup.csv:11: date '2020-01-09' is also on line 10, with other values",
                 "each date must appear once");
    expect_error(sh("sed '11s/^2020-01-10/2020-01-01/' daily.csv > unsorted.csv && $A train "
                    "exp.ini --set data.csv=unsorted.csv --quiet --out X"),
                 1, "unsorted.csv:11: date '2020-01-01' comes before '2020-01-09' on line 10",
                 "oldest first");
    expect_error(sh("$A predict M/best.h5 --input unsorted.csv"), 1, "unsorted.csv:11:", NULL);
    /* a row written twice, values and all, is only a repeat */
    int rc = sh("(head -30 daily.csv; sed -n 30p daily.csv; tail -n +31 daily.csv) > twice.csv && "
                "$A train exp.ini --set data.csv=twice.csv --quiet --out T");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    expect_in_out("1 repeated row (equal to the row before), the first at line 31");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_monthly_run_resolves_frequency_and_season),
        cmocka_unit_test(test_predict_continues_month_ends),
        cmocka_unit_test(test_business_days_skip_weekends_and_holidays_are_gaps),
        cmocka_unit_test(test_gaps_warn_error_and_fill),
        cmocka_unit_test(test_duplicate_and_unsorted_dates_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
