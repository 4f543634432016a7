/* test_bounds_cli.c - the bounds a user reads, through the real binary: `predict` of a calibrated
 * point model writes each channel's conformal lo/hi columns (OT_lo80, ...) with lo <= point <= hi
 * on every row, nested by level; a quantile model's columns add OT_q0.1, OT_q0.5, OT_q0.9,
 * increasing, the median being the point; a model without /calibration gets the plain columns
 * and a note naming `attncast calibrate`. The run folder's test_forecasts.csv holds the same
 * bound columns, blank in the lookback. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* A small two-channel hourly CSV (300 rows, L 24, H 6): validation holds 30 + windows. */
#define TRAIN_ARGS "--csv s.csv " TU_TINY_MODEL_ARGS " --quiet"

/* Hourly rows: a daily cycle around 20, a trend. */
static void row(FILE *f, int t, double noise, void *user) {
    (void)user;
    fprintf(f, "2022-01-%02d %02d:00:00,%.6f,%.6f\n", 1 + t / 24, t % 24,
            20 + 3 * sin(t * 0.5236) + noise, 0.02 * t - noise);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "bounds-cli") != 0 ||
        tu_write_csv(dir, "s.csv", "date,a,b", 300, 11u, row, NULL) != 0)
        return -1;
    return tu_setup_run_in("train", dir, out, sizeof out,
                           "'%s' train " TRAIN_ARGS " --out P && '%s' train " TRAIN_ARGS
                           " --set model.quantiles=0.1,0.5,0.9 --out Q",
                           tu_bin(), tu_bin());
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* The numbers of a CSV line from field `first` on (0-based); returns how many. Blank fields
 * are NAN. */
static int fields(const char *line, int first, double *v, int max) {
    char buf[2048];
    size_t len = strcspn(line, "\n");
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    int n = 0;
    int i = 0;
    for (char *p = buf;; i++) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (i >= first && n < max) v[n++] = *p ? strtod(p, NULL) : NAN;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static const char *next_line(const char *text) {
    const char *nl = strchr(text, '\n');
    return nl && nl[1] ? nl + 1 : NULL;
}

static void assert_starts(const char *text, const char *head) {
    if (strncmp(text, head, strlen(head)) != 0) fail_msg("does not start '%s': %s", head, text);
}

static void test_a_calibrated_model_predicts_nested_bounds_around_the_point(void **state) {
    (void)state;
    int rc = sh("'%s' predict P/best.h5 --input s.csv", tu_bin());
    if (rc != 0) fail_msg("predict: exit %d: %s", rc, out);
    assert_starts(out, "date,a,a_lo80,a_hi80,a_lo95,a_hi95,b,b_lo80,b_hi80,b_lo95,b_hi95\n");
    if (strstr(out, "note")) fail_msg("a note for a calibrated model: %s", out);
    assert_int_equal(tu_count_lines(out), 7);
    int rows = 0;
    for (const char *line = next_line(out); line; line = next_line(line), rows++) {
        double v[10];
        assert_int_equal(fields(line, 1, v, 10), 10);
        for (int c = 0; c < 2; c++) {
            const double *x = v + 5 * c; /* point, lo80, hi80, lo95, hi95 */
            if (!(x[3] <= x[1] && x[1] <= x[0] && x[0] <= x[2] && x[2] <= x[4]))
                fail_msg("row %d, channel %d: not lo95 <= lo80 <= point <= hi80 <= hi95: %s",
                         rows + 1, c, line);
            if (!(x[2] > x[1])) fail_msg("an empty interval: %s", line);
        }
    }
    assert_int_equal(rows, 6);
    /* the dates continue the input's */
    if (!strstr(out, "\n2022-01-13 12:00:00,")) fail_msg("dates not continued: %s", out);
}

static void test_a_quantile_model_predicts_increasing_quantiles_around_its_median(void **state) {
    (void)state;
    int rc = sh("'%s' predict Q/best.h5 --input s.csv", tu_bin());
    if (rc != 0) fail_msg("predict: exit %d: %s", rc, out);
    assert_starts(out, "date,a,a_lo80,a_hi80,a_lo95,a_hi95,a_q0.1,a_q0.5,a_q0.9,"
                       "b,b_lo80,b_hi80,b_lo95,b_hi95,b_q0.1,b_q0.5,b_q0.9\n");
    int rows = 0;
    for (const char *line = next_line(out); line; line = next_line(line), rows++) {
        double v[16];
        assert_int_equal(fields(line, 1, v, 16), 16);
        for (int c = 0; c < 2; c++) {
            const double *x = v + 8 * c; /* point, lo80, hi80, lo95, hi95, q0.1, q0.5, q0.9 */
            if (!(x[5] <= x[6] && x[6] <= x[7])) fail_msg("quantiles not increasing: %s", line);
            if (x[6] != x[0]) fail_msg("the median is not the point: %s", line);
            if (!(x[1] <= x[0] && x[0] <= x[2])) fail_msg("conformal: %s", line);
        }
    }
    assert_int_equal(rows, 6);
    /* without /calibration: only the quantile columns */
    rc = sh("'%s' predict Q/last.h5 --input s.csv 2>/dev/null | head -1", tu_bin());
    assert_string_equal(out, "date,a,a_q0.1,a_q0.5,a_q0.9,b,b_q0.1,b_q0.5,b_q0.9\n");
}

static void test_an_uncalibrated_model_predicts_the_point_and_notes_calibrate(void **state) {
    (void)state;
    int rc = sh("('%s' predict P/last.h5 --input s.csv 2>note.txt)", tu_bin());
    if (rc != 0) fail_msg("predict: exit %d: %s", rc, out);
    assert_starts(out, "date,a,b\n");
    assert_int_equal(tu_count_lines(out), 7);
    rc = sh("cat note.txt");
    assert_int_equal(tu_count_lines(out), 1);
    if (!strstr(out, "attncast: note: P/last.h5") || !strstr(out, "attncast calibrate P/last.h5"))
        fail_msg("no note naming calibrate: %s", out);
    /* once calibrated, the bounds are there and the note gone */
    rc = sh("cp P/last.h5 last.h5 && '%s' calibrate last.h5 >/dev/null && '%s' predict last.h5 "
            "--input s.csv",
            tu_bin(), tu_bin());
    if (rc != 0) fail_msg("calibrate, predict: exit %d: %s", rc, out);
    assert_starts(out, "date,a,a_lo80,a_hi80,a_lo95,a_hi95,b,");
    if (strstr(out, "note")) fail_msg("a note after calibrate: %s", out);
}

static void test_test_forecasts_csv_holds_the_bounds_after_the_forecast(void **state) {
    (void)state;
    int rc = sh("cat P/test_forecasts.csv");
    if (rc != 0) fail_msg("no test_forecasts.csv: %s", out);
    assert_starts(out, "window,step,date,channel,actual,forecast,lo80,hi80,lo95,hi95\n");
    int forecasts = 0, lookback = 0;
    for (const char *line = next_line(out); line; line = next_line(line)) {
        double v[6];
        int step = atoi(strchr(line, ',') + 1);
        assert_int_equal(fields(line, 4, v, 6), 6); /* actual, forecast, lo80, hi80, lo95, hi95 */
        if (step < 1) {
            for (int i = 1; i < 6; i++)
                if (!isnan(v[i])) fail_msg("a lookback row with a forecast or bound: %s", line);
            lookback++;
            continue;
        }
        if (!(v[4] <= v[2] && v[2] <= v[1] && v[1] <= v[3] && v[3] <= v[5]))
            fail_msg("not lo95 <= lo80 <= forecast <= hi80 <= hi95: %s", line);
        forecasts++;
    }
    assert_int_equal(forecasts, 3 * 6); /* three windows of the last channel */
    assert_int_equal(lookback, 3 * 24);
    rc = sh("head -1 Q/test_forecasts.csv");
    assert_string_equal(out,
                        "window,step,date,channel,actual,forecast,lo80,hi80,lo95,hi95,q0.1,q0.5,"
                        "q0.9\n");
    /* the median column is the forecast */
    rc = sh("awk -F, 'NR > 1 && $2 >= 1 && $6 != $12 { bad++ } END { print bad + 0 }' "
            "Q/test_forecasts.csv");
    assert_string_equal(out, "0\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_calibrated_model_predicts_nested_bounds_around_the_point),
        cmocka_unit_test(test_a_quantile_model_predicts_increasing_quantiles_around_its_median),
        cmocka_unit_test(test_an_uncalibrated_model_predicts_the_point_and_notes_calibrate),
        cmocka_unit_test(test_test_forecasts_csv_holds_the_bounds_after_the_forecast),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
