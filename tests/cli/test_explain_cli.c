/* test_explain_cli.c - `attncast explain` of covariate models through the real binary: a model
 * with past, future and calendar covariates explains the last window whose horizon is in the
 * data (a note says which), prints the share of attention on the future tokens against the
 * history tokens beside the chance share, and writes the same numbers to future_share.csv and
 * explain.h5 (each in [0, 1], history + future = 1); its forecast at an origin is the training
 * run's own for that window; a window without its horizon in the data is refused in one line;
 * a model without covariates explains as before, with no future share anywhere. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hdf5.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* 300 hourly rows: y follows the future covariate f and the past covariate p. */
static void row(FILE *f, int t, double noise, void *user) {
    (void)user;
    double fut = cos(t * 0.3), past = sin(t * 0.1);
    fprintf(f, "2022-01-%02d %02d:00:00,%.6f,%.6f,%.6f\n", 1 + t / 24, t % 24,
            20 + 3 * sin(t * 0.5236) + 0.8 * fut + 0.3 * past + 0.2 * noise, past, fut);
}

/* N = (24 - 6) / 3 + 1 = 7 history tokens, Nf = (6 - 6) / 3 + 1 = 1 future token */
#define COV_ARGS                                                                                   \
    "--csv c.csv " TU_TINY_MODEL_ARGS " --set model.layers=2 --set data.past_covariates=p "        \
    "--set data.future_covariates=f --set data.calendar=hour_of_day --quiet"

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "explain-cli") != 0 ||
        tu_write_csv(dir, "c.csv", "date,y,p,f", 300, 5u, row, NULL) != 0)
        return -1;
    return tu_setup_run_in("train", dir, out, sizeof out,
                           "'%s' train " COV_ARGS
                           " --out M && '%s' train --csv c.csv " TU_TINY_MODEL_ARGS
                           " --quiet --out P",
                           tu_bin(), tu_bin());
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void expect_one_line_error(int rc, const char *a, const char *b) {
    if (rc == 0) fail_msg("expected a failure: %s", out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static double read_h5_double(hid_t f, const char *name, double *values, int n) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) fail_msg("explain.h5 has no %s", name);
    hid_t space = H5Dget_space(ds);
    assert_int_equal((int)H5Sget_simple_extent_npoints(space), n);
    assert_true(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    H5Sclose(space);
    H5Dclose(ds);
    return values[0];
}

static void test_covariate_model_reports_the_future_share(void **state) {
    (void)state;
    int rc = sh("'%s' explain M/best.h5 --input c.csv --out ex", tu_bin());
    if (rc != 0) fail_msg("explain failed: %s", out);
    /* the last window with its 6-step horizon in the data ends at row 294 */
    assert_non_null(strstr(out, "ending at data row 294"));
    assert_non_null(strstr(out, "explained the forecast after data row 294"));
    assert_non_null(strstr(out, "then 1 future-covariate token"));
    assert_non_null(strstr(out, "share of attention on the 1 future-covariate and the 7 history "
                                "tokens (mean over heads and query tokens; by chance the future "
                                "tokens get 0.1250)"));
    const char *mean_line = strstr(out, "mean over layers and series: history ");
    assert_non_null(mean_line);
    double printed_h = 0, printed_f = 0;
    assert_int_equal(sscanf(mean_line, "mean over layers and series: history %lf, future %lf",
                            &printed_h, &printed_f),
                     2);
    /* future_share.csv: one row per layer (mixed: one series) and the mean */
    char path[512];
    snprintf(path, sizeof path, "%s/ex/future_share.csv", dir);
    char *csv = tu_read_file(path, NULL);
    assert_non_null(csv);
    assert_int_equal(
        strncmp(csv, "layer,series,history_share,future_share,chance_future_share\n", 60), 0);
    assert_int_equal(tu_count_lines(csv), 4);
    double hs[2], fs[2], h, f, chance;
    const char *line = strchr(csv, '\n') + 1;
    for (int l = 0; l < 2; l++) {
        int layer;
        char series[32];
        assert_int_equal(
            sscanf(line, "%d,%31[^,],%lf,%lf,%lf", &layer, series, &hs[l], &fs[l], &chance), 5);
        assert_int_equal(layer, l);
        assert_true(hs[l] >= 0 && hs[l] <= 1 && fs[l] >= 0 && fs[l] <= 1);
        assert_true(fabs(hs[l] + fs[l] - 1) < 1e-6);
        assert_true(fabs(chance - 0.125) < 1e-12);
        line = strchr(line, '\n') + 1;
    }
    assert_int_equal(sscanf(line, "mean,mean,%lf,%lf,%lf", &h, &f, &chance), 3);
    assert_true(fabs(h - (hs[0] + hs[1]) / 2) < 1e-6 && fabs(f - (fs[0] + fs[1]) / 2) < 1e-6);
    assert_true(fabs(printed_h - h) < 6e-5 && fabs(printed_f - f) < 6e-5);
    free(csv);
    /* explain.h5: the same shares, the token counts, the covariate inputs */
    snprintf(path, sizeof path, "%s/ex/explain.h5", dir);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    double v[2 * 1 * 2 * 8 * 8];
    read_h5_double(file, "future_share", v, 2);
    assert_true(fabs(v[0] - fs[0]) < 1e-6 && fabs(v[1] - fs[1]) < 1e-6);
    read_h5_double(file, "history_share", v, 2);
    assert_true(fabs(v[0] - hs[0]) < 1e-6 && fabs(v[1] - hs[1]) < 1e-6);
    read_h5_double(file, "attention", v, 2 * 1 * 2 * 8 * 8); /* [layers, series, heads, 8, 8] */
    read_h5_double(file, "input", v, 24 * 5);                /* y, p, f, hour_of_day sin and cos */
    /* the last input row is data row 294 (t = 293): its f, and a calendar pair on the circle */
    assert_true(fabs(v[23 * 5 + 2] - cos(293 * 0.3)) < 1e-5);
    assert_true(fabs(v[23 * 5 + 3] * v[23 * 5 + 3] + v[23 * 5 + 4] * v[23 * 5 + 4] - 1) < 1e-5);
    read_h5_double(file, "future", v, 6 * 3); /* f, sin, cos of rows 295..300 */
    assert_true(fabs(v[0] - cos(294 * 0.3)) < 1e-5);
    int tokens[2];
    double chance_attr = 0;
    hid_t a = H5Aopen(file, "future_tokens", H5P_DEFAULT);
    assert_true(a >= 0 && H5Aread(a, H5T_NATIVE_INT, &tokens[0]) >= 0);
    H5Aclose(a);
    a = H5Aopen(file, "history_tokens", H5P_DEFAULT);
    assert_true(a >= 0 && H5Aread(a, H5T_NATIVE_INT, &tokens[1]) >= 0);
    H5Aclose(a);
    a = H5Aopen(file, "chance_future_share", H5P_DEFAULT);
    assert_true(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &chance_attr) >= 0);
    H5Aclose(a);
    H5Fclose(file);
    assert_int_equal(tokens[0], 1);
    assert_int_equal(tokens[1], 7);
    assert_true(chance_attr == 0.125);
    /* the step attention (over the lookback only) sums to the mean history share */
    assert_int_equal(sh("awk -F, 'NR > 1 { s += $NF } END { printf \"%%.6f\", s }' "
                        "ex/step_attention.csv"),
                     0);
    assert_true(fabs(atof(out) - h) < 2e-6);
    if (sh("command -v gnuplot") == 0)
        assert_int_equal(sh("test -s ex/future_share.png && test -s ex/attention_layer1.png"), 0);
}

static void test_covariate_forecast_is_the_training_runs(void **state) {
    (void)state;
    /* the first test window of the run: its first forecast date, found in c.csv, gives the
     * window's last data row */
    assert_int_equal(sh("awk -F, '$1 == 0 && $2 == 1 { print $3 }' M/test_forecasts.csv"), 0);
    char date[64];
    snprintf(date, sizeof date, "%.*s", (int)strcspn(out, "\n"), out);
    assert_int_equal(sh("grep -n '^%s,' c.csv | cut -d: -f1", date), 0);
    int end = atoi(out) - 2; /* the header, and the row before the first forecast */
    assert_true(end >= 24 && end <= 294);
    int rc = sh("'%s' explain M/best.h5 --input c.csv --at %d --out at", tu_bin(), end);
    if (rc != 0) fail_msg("explain failed: %s", out);
    assert_null(strstr(out, "note:")); /* --at chose it */
    assert_int_equal(sh("awk -F, '$1 == 0 && $2 >= 1 { print $6 }' M/test_forecasts.csv > want "
                        "&& tail -n +2 at/forecast.csv | cut -d, -f2 | paste -d' ' want - | "
                        "awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-4 * (1 + ($1 < 0 ? "
                        "-$1 : $1))) bad++; n++ } END { print n, bad + 0 }'"),
                     0);
    assert_string_equal(out, "6 0\n");
}

static void test_window_without_its_horizon_is_refused(void **state) {
    (void)state;
    expect_one_line_error(sh("'%s' explain M/best.h5 --input c.csv --at 296 --out x", tu_bin()),
                          "has 4 rows after it", "--at 294 or earlier");
    expect_one_line_error(sh("head -28 c.csv > short.csv && '%s' explain M/best.h5 --input "
                             "short.csv --out x",
                             tu_bin()),
                          "24 rows before the forecast and 6 after it", "the input has 27");
    expect_one_line_error(sh("cut -d, -f1-3 c.csv > nof.csv && '%s' explain M/best.h5 --input "
                             "nof.csv --out x",
                             tu_bin()),
                          "'f'", "nof.csv");
}

static void test_model_without_covariates_has_no_future_share(void **state) {
    (void)state;
    int rc = sh("'%s' explain P/best.h5 --input c.csv --out plain", tu_bin());
    if (rc != 0) fail_msg("explain failed: %s", out);
    assert_non_null(strstr(out, "explained the forecast after data row 300"));
    assert_null(strstr(out, "future"));
    assert_null(strstr(out, "note:"));
    assert_int_not_equal(sh("test -e plain/future_share.csv || test -e plain/future_share.png"), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/plain/explain.h5", dir);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Lexists(file, "attention", H5P_DEFAULT) > 0);
    H5E_BEGIN_TRY {
        assert_true(H5Lexists(file, "future_share", H5P_DEFAULT) <= 0);
        assert_true(H5Aexists(file, "future_tokens") <= 0);
    }
    H5E_END_TRY;
    double v[24 * 3];
    read_h5_double(file, "input", v, 24 * 3); /* the three channels y, p, f */
    H5Fclose(file);
    assert_int_equal(sh("awk -F, 'NR > 1 { s += $NF } END { printf \"%%.6f\", s }' "
                        "plain/step_attention.csv"),
                     0);
    assert_string_equal(out, "1.000000");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_covariate_model_reports_the_future_share),
        cmocka_unit_test(test_covariate_forecast_is_the_training_runs),
        cmocka_unit_test(test_window_without_its_horizon_is_refused),
        cmocka_unit_test(test_model_without_covariates_has_no_future_share),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
