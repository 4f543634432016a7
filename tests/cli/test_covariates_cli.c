/* test_covariates_cli.c - covariate models through the real binary (MODEL.md "Covariates"): the
 * synthetic check that a future-known covariate is used (a target that copies it is forecast far
 * better than the naive repeat, and far worse without it); predict --future (values matched by
 * date, used, the errors of a missing, early, misaligned or unneeded future row or column in one
 * line); calendar features from the dates alone; eval reproducing train's test metrics (and
 * --forecasts writing the targets only); info's roles; and the embedding API
 * (ac_model_forecast_covariates) agreeing with predict. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "attncast/calendar.h"
#include "attncast/embed.h"
#include "support/testutil.h"

#define ROWS   600
#define ORIGIN 400 /* predict's input: the first ORIGIN rows */
#define H      6
#define L      24

static char dir[256];
static char out[1 << 16];

/* A shell command run in the test folder, its output in out. */
#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* The synthetic series: u an AR(1) (phi 0.9, so neither its past nor the target's tells much of
 * the next 6 steps), y = 10 + u + small noise, p noise (a past covariate that carries nothing).
 * Hourly dates from 2021-01-01 00:00. */
typedef struct series {
    double u[ROWS], y[ROWS];
    unsigned lcg; /* the second noise stream (y's) */
} series;

static double lcg_noise(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (double)(*s >> 8) / (double)(1u << 24) - 0.5;
}

static void date_of(int t, char *buf, size_t n) {
    snprintf(buf, n, "2021-%02d-%02d %02d:00:00", 1 + t / (24 * 31), 1 + t / 24 % 31, t % 24);
}

static void row(FILE *f, int t, double noise, void *user) {
    series *s = user;
    s->u[t] = (t ? 0.9 * s->u[t - 1] : 0.0) + 3.5 * noise; /* innovations of variance ~1 */
    s->y[t] = 10.0 + s->u[t] + 0.1 * lcg_noise(&s->lcg);
    char date[32];
    date_of(t, date, sizeof date);
    fprintf(f, "%s,%.5f,%.5f,%.5f\n", date, s->y[t], 0.7 * lcg_noise(&s->lcg), s->u[t]);
}

static series S;

/* The tiny model, no dropout and no instance norm, trained long enough for a linear read-out. */
#define MODEL                                                                                      \
    "--set data.lookback=24 --set data.horizon=6 --set model.d_model=16 --set model.heads=2 "      \
    "--set model.layers=1 --set model.d_ff=32 --set model.patch_len=6 --set model.patch_stride=6 " \
    "--set model.dropout=0 --set model.revin=off --set train.lr=0.003 --set train.seed=3 "         \
    "--set train.threads=1"

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "cov") != 0) return -1;
    if (setenv("A", tu_bin(), 1) != 0) return -1;
    S.lcg = 7;
    if (tu_write_csv(dir, "syn.csv", "date,y,p,u", ROWS, 11, row, &S) != 0) return -1;
    /* the input: the first ORIGIN rows; the future: u of the next 10 rows (later ones unread) */
    if (tu_setup_run_in("inputs", dir, out, sizeof out,
                        "head -%d syn.csv > in.csv && sed -n '1p;%d,%dp' syn.csv | cut -d, -f1,4 "
                        "> fut.csv",
                        ORIGIN + 1, ORIGIN + 2, ORIGIN + 11) != 0)
        return -1;
    char ini[] = "[data]\ncsv = syn.csv\n";
    if (tu_write_file(dir, "exp.ini", ini) != 0) return -1;
    /* with u known over the horizon; the target alone; every role, briefly; calendar only */
    if (tu_setup_run_in("train with u", dir, out, sizeof out,
                        "$A train exp.ini --quiet --out with_u " MODEL
                        " --set data.targets=y --set data.future_covariates=u "
                        "--set train.epochs=30") != 0 ||
        tu_setup_run_in("train without u", dir, out, sizeof out,
                        "$A train exp.ini --quiet --out without_u " MODEL
                        " --set data.targets=y --set train.epochs=30") != 0 ||
        tu_setup_run_in("train every role", dir, out, sizeof out,
                        "$A train exp.ini --quiet --out roles " MODEL
                        " --set data.past_covariates=p --set data.future_covariates=u "
                        "--set data.calendar=hour_of_day,day_of_week --set train.epochs=2") != 0 ||
        tu_setup_run_in("train calendar", dir, out, sizeof out,
                        "$A train exp.ini --quiet --out calendar " MODEL
                        " --set data.targets=y --set data.calendar=hour_of_day "
                        "--set train.epochs=1") != 0)
        return -1;
    return 0;
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

/* metrics.json's test MSE of the model and of the naive baseline. */
static void run_mse(const char *run, double *model, double *naive) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/metrics.json", dir, run);
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    *model = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "mse")->valuedouble;
    cJSON *naive_j = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "baselines"), "naive");
    *naive = cJSON_GetObjectItem(naive_j, "mse")->valuedouble;
    cJSON_Delete(root);
}

/* The synthetic test: y copies u, which is known over the horizon. */
static void test_a_known_future_covariate_is_used(void **state) {
    (void)state;
    double with, without, naive, naive2;
    run_mse("with_u", &with, &naive);
    run_mse("without_u", &without, &naive2);
    assert_true(naive == naive2); /* the same windows and scaling of y */
    print_message("test MSE with u %.4f, without %.4f, naive %.4f\n", with, without, naive);
    if (!(with < 0.05 * naive)) fail_msg("with u: MSE %g, naive %g", with, naive);
    if (!(without > 0.5 * naive)) fail_msg("without u: MSE %g, naive %g", without, naive);
}

/* predict's forecast [H] of column 1 (the target) from its CSV in out; the dates in dates. */
static void read_forecast(double *y, char dates[H][32]) {
    char *line = strchr(out, '\n');
    assert_non_null(line);
    for (int h = 0; h < H; h++) {
        line++;
        char *comma = strchr(line, ',');
        assert_non_null(comma);
        snprintf(dates[h], 32, "%.*s", (int)(comma - line), line);
        y[h] = strtod(comma + 1, NULL);
        line = strchr(line, '\n');
        assert_non_null(line);
    }
}

static void test_predict_reads_the_future_by_date(void **state) {
    (void)state;
    assert_int_equal(sh("$A predict with_u/best.h5 --input in.csv --future fut.csv 2>/dev/null"),
                     0);
    assert_int_equal(tu_count_lines(out), H + 1);
    assert_true(strncmp(out, "date,y,", 7) == 0); /* the target only, with its bounds */
    assert_null(strstr(out, ",u"));
    double y[H], err = 0, naive_err = 0;
    char dates[H][32];
    read_forecast(y, dates);
    for (int h = 0; h < H; h++) {
        char want[32];
        date_of(ORIGIN + h, want, sizeof want);
        assert_string_equal(dates[h], want);
        err += fabs(y[h] - S.y[ORIGIN + h]);
        naive_err += fabs(S.y[ORIGIN - 1] - S.y[ORIGIN + h]);
    }
    print_message("mean absolute error %.3f, the naive's %.3f\n", err / H, naive_err / H);
    assert_true(err / H < 0.5);
    assert_true(err < 0.5 * naive_err);
    /* the future's values drive the forecast: with u of rows 100.. in the horizon's rows, the
     * forecast follows 10 + that u */
    assert_int_equal(sh("sed -n '102,111p' syn.csv | cut -d, -f4 > other_u && cut -d, -f1 fut.csv "
                        "| tail -n +2 | paste -d, - other_u | sed '1i date,u' > other.csv && $A "
                        "predict with_u/best.h5 --input in.csv --future other.csv 2>/dev/null"),
                     0);
    double other[H], err_other = 0, moved = 0;
    read_forecast(other, dates);
    for (int h = 0; h < H; h++) {
        double want = 10.0 + S.u[100 + h];
        err_other += fabs(other[h] - want);
        moved += fabs(y[h] - want);
    }
    print_message("with u of rows 100..: mean absolute error %.3f (%.3f before)\n", err_other / H,
                  moved / H);
    assert_true(err_other / H < 0.5);
    assert_true(err_other < 0.5 * moved);
    /* --at: the forecast after row 300, its future rows taken from the whole file by date */
    assert_int_equal(sh("sed -n '1p;302,320p' syn.csv > later.csv && $A predict roles/best.h5 "
                        "--input syn.csv --at 300 --future later.csv 2>/dev/null"),
                     0);
    read_forecast(y, dates);
    char want[32];
    date_of(300, want, sizeof want);
    assert_string_equal(dates[0], want);
}

static void test_predict_future_errors(void **state) {
    (void)state;
    char first[32], third[32];
    date_of(ORIGIN, first, sizeof first);
    date_of(ORIGIN + 2, third, sizeof third);
    /* a missing date: the horizon's third row left out */
    int rc = sh("sed '4d' fut.csv > gap.csv && $A predict roles/best.h5 --input in.csv --future "
                "gap.csv");
    expect_one_line_error(rc, "gap.csv: no row for", third);
    /* a misaligned date: the third row half an hour late */
    rc = sh("sed '4s/:00:00,/:30:00,/' fut.csv > half.csv && $A predict roles/best.h5 --input "
            "in.csv --future half.csv");
    expect_one_line_error(rc, "half.csv: line 4", "off the forecast's calendar");
    assert_non_null(strstr(out, third));
    /* an extra early row: the input's last row comes first */
    rc = sh("sed -n '1p;%d,%dp' syn.csv | cut -d, -f1,4 > early.csv && $A predict roles/best.h5 "
            "--input in.csv --future early.csv",
            ORIGIN + 1, ORIGIN + 8);
    expect_one_line_error(rc, "early.csv: line 2", "not after the input's last date");
    assert_non_null(strstr(out, first));
    /* too few rows */
    rc = sh("head -3 fut.csv > short.csv && $A predict roles/best.h5 --input in.csv --future "
            "short.csv");
    expect_one_line_error(rc, "short.csv: no row for", "the file ends at line 3");
    /* the future without its column */
    rc = sh("cut -d, -f1 fut.csv > nocol.csv && $A predict roles/best.h5 --input in.csv --future "
            "nocol.csv");
    expect_one_line_error(rc, "nocol.csv", "'u'");
    /* no --future for a model with future covariates */
    rc = sh("$A predict roles/best.h5 --input in.csv");
    expect_one_line_error(rc, "roles/best.h5", "--future");
    assert_non_null(strstr(out, "(u)"));
    /* --future for models without real future covariates */
    rc = sh("$A predict without_u/best.h5 --input in.csv --future fut.csv");
    expect_one_line_error(rc, "without_u/best.h5", "no future covariates");
    rc = sh("$A predict calendar/best.h5 --input in.csv --future fut.csv");
    expect_one_line_error(rc, "calendar/best.h5", "calendar features come from the dates");
    /* an input without a covariate column (the past covariate p) */
    rc = sh("cut -d, -f1,2,4 in.csv > nop.csv && $A predict roles/best.h5 --input nop.csv "
            "--future fut.csv");
    expect_one_line_error(rc, "nop.csv", "'p'");
    /* calendar features need the input's dates */
    rc = sh("cut -d, -f2- in.csv > nodates.csv && $A predict calendar/best.h5 --input "
            "nodates.csv");
    expect_one_line_error(rc, "nodates.csv", "no date column");
}

static void test_calendar_features_need_no_future_file(void **state) {
    (void)state;
    assert_int_equal(sh("$A predict calendar/best.h5 --input in.csv 2>/dev/null"), 0);
    assert_int_equal(tu_count_lines(out), H + 1);
    double y[H];
    char dates[H][32], want[32];
    read_forecast(y, dates);
    date_of(ORIGIN + H - 1, want, sizeof want);
    assert_string_equal(dates[H - 1], want);
    /* the target only: the CSV's u and p are not read */
    assert_int_equal(sh("cut -d, -f1,2 in.csv > yonly.csv && $A predict calendar/best.h5 "
                        "--input yonly.csv 2>/dev/null > a.csv && $A predict calendar/best.h5 "
                        "--input in.csv 2>/dev/null > b.csv && cmp a.csv b.csv"),
                     0);
}

static double json_mse(const char *text, const char *what) {
    cJSON *root = cJSON_Parse(text);
    if (!root) fail_msg("not JSON: %s", text);
    double v = cJSON_GetObjectItem(cJSON_GetObjectItem(root, what), "mse")->valuedouble;
    cJSON_Delete(root);
    return v;
}

static void test_eval_reproduces_train_and_info_shows_roles(void **state) {
    (void)state;
    const char *runs[] = {"with_u", "roles", "calendar"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sh("cat %s/metrics.json", runs[i]), 0);
        double trained = json_mse(out, "model");
        assert_int_equal(sh("$A eval %s/best.h5 --json 2>/dev/null", runs[i]), 0);
        if (json_mse(out, "model") != trained)
            fail_msg("%s: eval %.17g, train %.17g", runs[i], json_mse(out, "model"), trained);
    }
    /* another CSV with the columns in another order and an extra one */
    assert_int_equal(sh("awk -F, -v OFS=, '{print $1,$4,\"x\",$3,$2}' syn.csv > mixed.csv && $A "
                        "eval roles/best.h5 --data mixed.csv --split test --json 2>/dev/null | "
                        "grep -v '\"data\"' > m.json && $A eval roles/best.h5 --json 2>/dev/null "
                        "| grep -v '\"data\"' > r.json && cmp m.json r.json"),
                     0);
    /* --forecasts: rows of the target only, its actual values y's */
    assert_int_equal(sh("$A eval roles/best.h5 --forecasts f.csv > /dev/null 2>&1 && cut -d, -f5 "
                        "f.csv | sort -u | tr '\\n' ' ' && sed -n 2p f.csv"),
                     0);
    assert_true(strncmp(out, "channel y ", 10) == 0); /* then the first row */
    int origin = atoi(out + 10);
    char *actual = strstr(out, ",y,");
    assert_non_null(actual);
    assert_true(fabs(strtod(actual + 3, NULL) - S.y[origin]) < 1e-4);
    assert_int_equal(sh("$A info roles/best.h5"), 0);
    assert_non_null(strstr(out, "targets (1): y"));
    assert_non_null(strstr(out, "past (1): p"));
    assert_non_null(strstr(out, "future (1): u"));
    assert_non_null(strstr(out, "calendar (4 columns): hour_of_day day_of_week"));
    assert_int_equal(sh("$A info without_u/best.h5"), 0);
    assert_null(strstr(out, "covariates"));
}

/* The embedding API on the model with every role gives predict's forecast. */
static void test_embedding_api_matches_predict(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/roles/best.h5", dir);
    ac_error err;
    ac_model *m = ac_model_load(path, &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(ac_model_channels(m), 1);
    assert_int_equal(ac_model_columns(m), 3);
    assert_int_equal(ac_model_future_columns(m), 1);
    assert_string_equal(ac_model_column_name(m, 0), "y");
    assert_string_equal(ac_model_column_name(m, 1), "p");
    assert_string_equal(ac_model_column_name(m, 2), "u");
    assert_null(ac_model_column_name(m, 3));
    assert_int_equal(ac_model_calendar(m), AC_CALENDAR_HOUR_OF_DAY | AC_CALENDAR_DAY_OF_WEEK);
    float window[L * 3], future[H], point[H];
    long long dates[L + H];
    for (int r = 0; r < L; r++) {
        int t = ORIGIN - L + r;
        char text[32];
        date_of(t, text, sizeof text);
        ac_date_style st;
        assert_true(ac_date_parse(text, &dates[r], &st));
        /* the CSV's values as written (5 decimals) */
        assert_int_equal(sh("sed -n '%dp' syn.csv", t + 2), 0);
        double y, p, u;
        assert_int_equal(sscanf(strchr(out, ',') + 1, "%lf,%lf,%lf", &y, &p, &u), 3);
        window[r * 3] = (float)y;
        window[r * 3 + 1] = (float)p;
        window[r * 3 + 2] = (float)u;
    }
    for (int h = 0; h < H; h++) {
        dates[L + h] = dates[L - 1] + 3600LL * (h + 1);
        assert_int_equal(sh("sed -n '%dp' fut.csv", h + 2), 0);
        future[h] = strtof(strchr(out, ',') + 1, NULL);
    }
    /* the functions without room for covariates refuse, as do missing inputs */
    assert_int_equal(ac_model_forecast(m, window, point, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "ac_model_forecast_covariates"));
    assert_int_equal(
        ac_model_forecast_covariates(m, window, NULL, dates, point, NULL, NULL, NULL, &err),
        AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "(u)"));
    assert_int_equal(
        ac_model_forecast_covariates(m, window, future, NULL, point, NULL, NULL, NULL, &err),
        AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "data.calendar"));
    future[2] = NAN;
    assert_int_equal(
        ac_model_forecast_covariates(m, window, future, dates, point, NULL, NULL, NULL, &err),
        AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "future row 3 (of 6), column 'u'"));
    assert_int_equal(sh("sed -n '4p' fut.csv"), 0);
    future[2] = strtof(strchr(out, ',') + 1, NULL);
    if (ac_model_forecast_covariates(m, window, future, dates, point, NULL, NULL, NULL, &err) !=
        AC_OK)
        fail_msg("%s", err.msg);
    ac_model_free(m);
    assert_int_equal(sh("$A predict roles/best.h5 --input in.csv --future fut.csv 2>/dev/null"), 0);
    double y[H];
    char d[H][32];
    read_forecast(y, d);
    for (int h = 0; h < H; h++)
        if (fabs(y[h] - point[h]) > 1e-5 * (1 + fabs(y[h])))
            fail_msg("step %d: predict %.9g, the API %.9g", h + 1, y[h], (double)point[h]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_known_future_covariate_is_used),
        cmocka_unit_test(test_predict_reads_the_future_by_date),
        cmocka_unit_test(test_predict_future_errors),
        cmocka_unit_test(test_calendar_features_need_no_future_file),
        cmocka_unit_test(test_eval_reproduces_train_and_info_shows_roles),
        cmocka_unit_test(test_embedding_api_matches_predict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
