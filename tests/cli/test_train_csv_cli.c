/* test_train_csv_cli.c - `attncast train --csv FILE` run as a subprocess on short series: every
 * key at its default without a config file (the run named after the CSV, a complete resolved
 * config, a resume), --csv replacing a config's data, and lengths that do not fit a short series
 * refused with --set options that do fit (which then train); and the note, in the output,
 * report.md and metrics.json, when the model does not beat the naive repeat on the validation
 * split. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

/* A small model that trains in a fraction of a second (one epoch unless a later --set says
 * otherwise). */
#define TINY                                                                                       \
    "--set model.d_model=8 --set model.heads=2 --set model.layers=1 --set model.d_ff=16 "          \
    "--set train.threads=1 --set train.epochs=1 --quiet"

/* Runs `attncast train ARGS` in the test folder. */
static int train(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int train(const char *fmt, ...) {
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return tu_run_in(dir, out, sizeof out, "'%s' train %s", tu_bin(), args);
}

static void expect_error(int rc, int code, const char *a, const char *b) {
    if (rc != code) fail_msg("exit %d (wanted %d): %s", rc, code, out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

/* A file of the test folder, read whole (static buffer). */
static const char *read_back(const char *name) {
    static char text[1 << 16];
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *t = tu_read_file(path, NULL);
    if (!t) fail_msg("cannot read %s", path);
    snprintf(text, sizeof text, "%s", t);
    free(t);
    return text;
}

/* rows rows of an hourly sine with a daily period, under a date column. */
static void write_sine(const char *name, int rows) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "date,load\n");
    for (int t = 0; t < rows; t++)
        fprintf(f, "2021-03-%02d %02d:00,%.5f\n", 1 + t / 24, t % 24,
                10 + sin(t * 6.283185307179586 / 24));
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "train-csv") != 0) return -1;
    write_sine("short.csv", 240);
    write_sine("tiny.csv", 40);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* The --set options after "try " in the error just printed (static buffer). */
static const char *suggestion(void) {
    static char options[512];
    const char *at = strstr(out, "; try ");
    if (!at) fail_msg("no suggestion in: %s", out);
    snprintf(options, sizeof options, "%s", at + 6);
    options[strcspn(options, "\n")] = '\0';
    return options;
}

static void test_a_short_series_on_the_defaults_says_which_lengths_fit(void **state) {
    (void)state;
    /* 240 rows: 168 training, 24 validation, 48 test rows */
    expect_error(train("--csv short.csv"), 2, "short.csv: data.horizon = 96 does not fit",
                 "the validation split has 24 rows");
    assert_non_null(strstr(out, "the largest horizon that fits is 24, and with it the largest "
                                "data.lookback is 144"));
    assert_string_equal(suggestion(), "--set data.lookback=96 --set data.horizon=24");
    int rc = train("--csv short.csv %s " TINY " --out fits", suggestion());
    if (rc != 0) fail_msg("exit %d: %s", rc, out);

    expect_error(train("--csv short.csv --set data.lookback=200 --set data.horizon=24"), 2,
                 "data.lookback = 200 does not fit", "the largest lookback that fits is 144");
    assert_string_equal(suggestion(), "--set data.lookback=72 --set data.horizon=24");

    /* 40 rows: the lengths shrink below the default patch, which shrinks with them */
    expect_error(train("--csv tiny.csv"), 2, "tiny.csv: data.horizon = 96", NULL);
    assert_string_equal(suggestion(), "--set data.lookback=12 --set data.horizon=4 --set "
                                      "model.patch_len=6 --set model.patch_stride=3");
    rc = train("--csv tiny.csv %s " TINY " --out fits_tiny", suggestion());
    if (rc != 0) fail_msg("exit %d: %s", rc, out);

    /* a lookback below the patch is refused before the data is read, with a patch that fits */
    expect_error(train("--csv tiny.csv --set data.lookback=8"), 2,
                 "model.patch_len = 16 is longer than data.lookback = 8",
                 "try --set model.patch_len=4 --set model.patch_stride=2");

    /* 3 rows: no window fits any split */
    tu_write_file(dir, "three.csv", "x\n1\n2\n3\n");
    expect_error(train("--csv three.csv"), 2, "too few for any window", "data.split");
    assert_null(strstr(out, "try"));
}

static void test_csv_without_a_config_trains_on_the_defaults(void **state) {
    (void)state;
    int rc = train("--csv short.csv --set data.horizon=24 " TINY);
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    /* the run is named after the CSV; its config.ini is complete and trains again */
    rc = tu_run_in(dir, out, sizeof out, "ls -d runs/short-* | head -1");
    assert_int_equal(rc, 0);
    char run[256];
    snprintf(run, sizeof run, "%.*s", (int)strcspn(out, "\n"), out);
    assert_non_null(strstr(run, "runs/short-"));
    char name[300];
    snprintf(name, sizeof name, "%s/config.ini", run);
    const char *ini = read_back(name);
    assert_non_null(strstr(ini, "\ndataset =\ncsv = short.csv\n"));
    assert_non_null(strstr(ini, "\nlookback = 96\nhorizon = 24\n"));
    assert_non_null(strstr(ini, "\nd_model = 8\n"));
    assert_non_null(strstr(ini, "\npatch_len = 16\n"));
    /* the date column was found as ever: the forecasts carry its dates */
    snprintf(name, sizeof name, "%s/test_forecasts.csv", run);
    assert_non_null(strstr(read_back(name), ",2021-03-"));
    rc = train("%s/config.ini --quiet --out again", run);
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

static void test_csv_with_a_config_replaces_its_data(void **state) {
    (void)state;
    tu_write_file(dir, "exp.ini",
                  "[data]\ndataset = exchange_rate\nlookback = 48\nhorizon = 24\n"
                  "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\n"
                  "[train]\nepochs = 1\nthreads = 1\n");
    int rc = train("exp.ini --csv short.csv --quiet --out replaced");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    const char *ini = read_back("replaced/config.ini");
    assert_non_null(strstr(ini, "\ndataset =\ncsv = short.csv\n"));
    assert_non_null(strstr(ini, "\nlookback = 48\n"));
    /* --set comes last and wins over --csv */
    expect_error(train("exp.ini --csv short.csv --set data.csv=nosuch.csv --quiet"), 1,
                 "nosuch.csv", NULL);
}

static void test_a_csv_run_resumes_with_the_command_it_prints(void **state) {
    (void)state;
    int rc = train("--csv short.csv --set data.horizon=24 " TINY
                   " --set train.epochs=2 --stop-after 1 --out halfway");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    const char *cmd = strstr(out, "continue with: attncast train --csv short.csv ");
    if (!cmd) fail_msg("no resume command: %s", out);
    assert_non_null(strstr(cmd, "--resume halfway"));
    rc = train("--csv short.csv --set data.horizon=24 " TINY
               " --set train.epochs=2 --resume halfway");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_int_equal(tu_count_lines(read_back("halfway/history.csv")), 3);
}

static void test_csv_mistakes_are_usage_errors(void **state) {
    (void)state;
    expect_error(train("%s", ""), 2, "no config file", "--csv FILE");
    expect_error(train("--csv"), 2, "--csv needs a value", NULL);
    expect_error(train("--csv 'a ;b.csv'"), 2, "--csv a ;b.csv: data.csv", NULL);
    expect_error(train("--csv nosuch.csv"), 1, "nosuch.csv", NULL);
    assert_int_equal(train("--help"), 0);
    assert_non_null(strstr(out, "attncast train --csv FILE"));
}

/* metrics.json's val_vs_naive of a run folder: beats_naive, and the two MSEs in *model and
 * *naive. */
static bool val_vs_naive(const char *run, double *model, double *naive) {
    char name[300];
    snprintf(name, sizeof name, "%s/metrics.json", run);
    cJSON *root = cJSON_Parse(read_back(name));
    assert_non_null(root);
    cJSON *val = cJSON_GetObjectItem(root, "val_vs_naive");
    assert_non_null(val);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(val, "model_mse")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(val, "naive_mse")));
    *model = cJSON_GetObjectItem(val, "model_mse")->valuedouble;
    *naive = cJSON_GetObjectItem(val, "naive_mse")->valuedouble;
    cJSON *beats = cJSON_GetObjectItem(val, "beats_naive");
    assert_true(cJSON_IsBool(beats));
    bool b = cJSON_IsTrue(beats);
    cJSON_Delete(root);
    return b;
}

/* On a random walk the naive repeat is hard to beat; a tiny mean-anchored model after one epoch
 * does not (a last-anchored one would keep the naive start, see test_anchor_cli):
 * train says so at the end (exit 0) and report.md and metrics.json carry it. */
static void test_a_model_that_does_not_beat_the_naive_repeat_is_told_so(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/walk.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "step,level\n");
    double level = 100;
    uint64_t x = 88172645463325252ull; /* xorshift64: the same walk every time */
    for (int t = 0; t < 400; t++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        level += (double)(x >> 11) / 9007199254740992.0 - 0.5;
        fprintf(f, "%d,%.6f\n", t, level);
    }
    fclose(f);
    int rc = train("--csv walk.csv --set data.lookback=48 --set data.horizon=24 " TINY
                   " --set model.anchor=mean --out walk");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    const char *note = strstr(out, "attncast: note: on the validation split the model (MSE ");
    if (!note) fail_msg("no note: %s", out);
    assert_non_null(strstr(note, "does not beat the naive repeat of the last value (MSE "));
    assert_non_null(strstr(note, "a longer lookback (data.lookback)"));
    assert_non_null(strstr(note, "model.anchor = last"));
    assert_null(strchr(strchr(note, '\n') + 1, '\n')); /* the last line */
    const char *report = read_back("walk/report.md");
    const char *line = strstr(report, "\n**Note:** on the validation split the model (MSE ");
    if (!line) fail_msg("no note in report.md: %s", report);
    assert_non_null(strstr(line, "does not beat the naive repeat"));
    double model, naive;
    assert_false(val_vs_naive("walk", &model, &naive));
    assert_true(model >= naive);
}

/* On a clean sine the model soon beats the naive repeat: no note, and report.md says it beats
 * it. */
static void test_a_model_that_beats_the_naive_repeat_gets_no_note(void **state) {
    (void)state;
    int rc = train("--csv short.csv --set data.lookback=48 --set data.horizon=24 " TINY
                   " --set train.epochs=2 --out sine");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    /* (one validation window: the intervals' note on too few windows is expected) */
    assert_null(strstr(out, "note: on the validation split"));
    assert_null(strstr(out, "does not beat"));
    const char *report = read_back("sine/report.md");
    assert_non_null(strstr(report, "\nOn the validation split the model (MSE "));
    assert_non_null(strstr(report, "beats the naive repeat of the last value (MSE "));
    assert_null(strstr(report, "**Note:**"));
    double model, naive;
    assert_true(val_vs_naive("sine", &model, &naive));
    assert_true(model < naive);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_short_series_on_the_defaults_says_which_lengths_fit),
        cmocka_unit_test(test_csv_without_a_config_trains_on_the_defaults),
        cmocka_unit_test(test_csv_with_a_config_replaces_its_data),
        cmocka_unit_test(test_a_csv_run_resumes_with_the_command_it_prints),
        cmocka_unit_test(test_csv_mistakes_are_usage_errors),
        cmocka_unit_test(test_a_model_that_does_not_beat_the_naive_repeat_is_told_so),
        cmocka_unit_test(test_a_model_that_beats_the_naive_repeat_gets_no_note),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
