/* test_saved_models_cli.c - checkpoints through the real binaries: exact resume (4 epochs
 * straight = 2, stop, resume 2), eval against the run's own metrics, predict (dates continued,
 * --at, bad inputs), info, the embedding example agreeing with predict, and corrupt, foreign
 * and mismatched checkpoints refused in one line; damaged bytes anywhere in a checkpoint (even
 * in HDF5's string heap, where HDF5 itself crashes) refused by every verb, never a signal. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <hdf5.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

/* A shell command run in the test folder, its output in out. */
#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static void expect_one_line_error(int rc, const char *a, const char *b) {
    if (rc == 0) fail_msg("expected a failure: %s", out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "saved") != 0) return -1;
    /* the commands name the binary as $A and the embedding example as $E */
    const char *example = getenv("ATTNCAST_EXAMPLE");
    if (setenv("A", tu_bin(), 1) != 0 ||
        setenv("E", example ? example : "forecast_example", 1) != 0)
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    for (int t = 0; t < 400; t++) /* hourly dates */
        fprintf(f, "2021-03-%02d %02d:00:00,%.5f,%.5f\n", 1 + t / 24, t % 24, 5 + sin(t * 0.5236),
                cos(t * 0.2618));
    fclose(f);
    snprintf(path, sizeof path, "%s/exp.ini", dir);
    f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "[data]\ncsv = series.csv\nlookback = 24\nhorizon = 6\n"
               "[model]\nattention = gated\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\n"
               "patch_len = 6\npatch_stride = 3\ndropout = 0.1\n"
               "[train]\nepochs = 4\nbatch_size = 16\nseed = 9\nthreads = 1\npatience = 0\n"
               "schedule = cosine\nwarmup = 1\n");
    fclose(f);
    /* run A: 4 epochs straight; run B: 2 epochs, stop, resume for the other 2 */
    if (sh("$A train exp.ini --quiet --out A") != 0) return -1;
    if (sh("$A train exp.ini --quiet --out B --stop-after 2") != 0) return -1;
    if (sh("$A train exp.ini --quiet --resume B") != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static double json_model_mse(const char *text) {
    cJSON *root = cJSON_Parse(text);
    if (!root) fail_msg("not JSON: %s", text);
    double v = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "mse")->valuedouble;
    cJSON_Delete(root);
    return v;
}

static void test_resume_is_exact(void **state) {
    (void)state;
    /* losses and learning rates bit for bit (the seconds columns differ, of course) */
    assert_int_equal(sh("cut -d, -f1-4 A/history.csv > a && cut -d, -f1-4 B/history.csv > b && "
                        "cmp a b && wc -l < a"),
                     0);
    assert_int_equal(atoi(out), 5);
    /* the same weights: identical forecasts from both runs' final and best checkpoints */
    assert_int_equal(sh("$A predict A/last.h5 --input series.csv > pa && $A predict B/last.h5 "
                        "--input series.csv > pb && cmp pa pb && $A predict A/best.h5 --input "
                        "series.csv > qa && $A predict B/best.h5 --input series.csv > qb && cmp "
                        "qa qb"),
                     0);
    /* and the same test metrics */
    assert_int_equal(sh("grep -v -e seconds -e windows_per_s A/metrics.json > ma && grep -v -e "
                        "seconds -e windows_per_s B/metrics.json > mb && cmp ma mb"),
                     0);
}

static void test_info_describes_architecture_and_progress(void **state) {
    (void)state;
    assert_int_equal(sh("$A info B/last.h5"), 0);
    assert_non_null(strstr(out, "gated attention"));
    assert_non_null(strstr(out, "epoch 4 of 4"));
    assert_non_null(strstr(out, "version 2")); /* model.anchor = last, the default */
    assert_non_null(strstr(out, "series.csv"));
}

static void test_eval_reproduces_the_run_metrics(void **state) {
    (void)state;
    assert_int_equal(sh("cat A/metrics.json"), 0);
    double trained = json_model_mse(out);
    assert_int_equal(sh("$A eval A/best.h5 --json"), 0);
    assert_true(json_model_mse(out) == trained);
    assert_int_equal(sh("$A eval A/best.h5 --split val"), 0);
    assert_non_null(strstr(out, "val split"));
    assert_non_null(strstr(out, "seasonal_naive"));
    /* another CSV with the same channels, in another order and with an extra column: its test
     * split with --split test (without, every window of it) */
    assert_int_equal(sh("awk -F, -v OFS=, '{print $1,$3,\"x\",$2}' series.csv > reordered.csv && "
                        "$A eval A/best.h5 --data reordered.csv --split test --json"),
                     0);
    assert_true(json_model_mse(out) == trained);
    expect_one_line_error(sh("$A eval A/best.h5 --split tset"), "--split", "tset");
}

static void test_predict_continues_the_dates_and_matches_the_example(void **state) {
    (void)state;
    assert_int_equal(sh("$A predict A/best.h5 --input series.csv"), 0);
    assert_int_equal(tu_count_lines(out), 7);
    /* best.h5 is calibrated (output.intervals 0.8, 0.95 by default): each channel's bounds */
    assert_non_null(
        strstr(out, "date,a,a_lo80,a_hi80,a_lo95,a_hi95,b,b_lo80,b_hi80,b_lo95,b_hi95\n"));
    /* the last row is 2021-03-17 15:00:00 (t = 399); the next hour follows */
    assert_non_null(strstr(out, "\n2021-03-17 16:00:00,"));
    assert_non_null(strstr(out, "\n2021-03-17 21:00:00,"));
    assert_int_equal(sh("$A predict A/best.h5 --input series.csv --out f.csv && cut -d, -f2- "
                        "f.csv > p1 && $E A/best.h5 series.csv | cut -d, -f2- > p2 && cmp p1 p2"),
                     0);
    assert_int_equal(sh("$A predict A/best.h5 --input series.csv --at 100 | sed -n 2p"), 0);
    assert_non_null(strstr(out, "2021-03-05 04:00:00,")); /* row 100 is 03:00 on day 5 */
}

static void test_predict_refuses_short_inputs_missing_channels_and_nans(void **state) {
    (void)state;
    expect_one_line_error(sh("head -20 series.csv > short.csv && $A predict A/best.h5 --input "
                             "short.csv"),
                          "24 rows", "19");
    expect_one_line_error(sh("cut -d, -f1,2 series.csv > onech.csv && $A predict A/best.h5 "
                             "--input onech.csv"),
                          "'b'", "onech.csv");
    expect_one_line_error(sh("sed '390s/,[^,]*$/,NaN/' series.csv > nan.csv && $A predict "
                             "A/best.h5 --input nan.csv"),
                          "nan.csv:390", "NaN");
    expect_one_line_error(sh("$A predict A/best.h5 --input series.csv --at 500"), "--at 500", NULL);
    expect_one_line_error(sh("$A predict A/best.h5"), "--input", NULL);
}

static void test_explain_writes_attention_steps_and_forecast(void **state) {
    (void)state;
    assert_int_equal(sh("$A explain A/best.h5 --input series.csv --out ex"), 0);
    assert_non_null(strstr(out, "most attended input steps (mean over layers and series"));
    /* the first steps printed have the largest value of step_attention.csv's mean column, and
     * their dates */
    const char *first = strstr(out, "  1. step");
    assert_non_null(first);
    first += strlen("  1. step");
    int step = atoi(first + (*first == 's')); /* "step 12" or, for a span, "steps 9-16" */
    assert_true(step >= 1 && step <= 24);
    assert_non_null(strstr(first, "2021-03-")); /* the input's dates */
    assert_int_equal(sh("awk -F, 'NR > 1 && $NF > m { m = $NF } END { print m }' "
                        "ex/step_attention.csv > max && awk -F, -v s=%d '$1 == s { print $NF }' "
                        "ex/step_attention.csv | cmp - max",
                        step),
                     0);
    /* one row per input step (lookback 24), whose mean attention sums to 1 */
    assert_int_equal(sh("tail -n +2 ex/step_attention.csv | wc -l"), 0);
    assert_int_equal(atoi(out), 24);
    assert_int_equal(sh("awk -F, 'NR > 1 { s += $NF } END { printf \"%%.6f\", s }' "
                        "ex/step_attention.csv"),
                     0);
    assert_string_equal(out, "1.000000");
    /* its forecast is predict's (the date and the two channels' point columns) */
    assert_int_equal(
        sh("$A predict A/best.h5 --input series.csv | cut -d, -f1,2,7 | cmp - ex/forecast.csv"), 0);
    assert_int_equal(sh("test -s ex/attention.csv && test -s ex/explain.h5"), 0);
    expect_one_line_error(sh("$A explain A/best.h5"), "--input", NULL);
}

static void test_bad_checkpoints_are_refused_in_one_line(void **state) {
    (void)state;
    expect_one_line_error(sh("echo hello > text.h5 && $A info text.h5"), "text.h5",
                          "not an HDF5 file");
    expect_one_line_error(sh("head -c 3000 A/best.h5 > trunc.h5 && $A eval trunc.h5"), "trunc.h5",
                          NULL);
    expect_one_line_error(sh("$A predict missing.h5 --input series.csv"), "missing.h5", NULL);
    /* a foreign HDF5 file */
    char path[512];
    snprintf(path, sizeof path, "%s/foreign.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {3};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(f, "data", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(f);
    expect_one_line_error(sh("$A info foreign.h5"), "foreign.h5", "not an attncast checkpoint");
    /* resuming a run of another architecture */
    expect_one_line_error(sh("$A train exp.ini --quiet --resume A --set model.d_model=16 --out C"),
                          "another architecture", "model.d_model");
    /* word-valued keys are named by their words, as the config spells them */
    expect_one_line_error(
        sh("$A train exp.ini --quiet --resume A --set model.attention=additive --out C"),
        "model.attention: gated in the checkpoint, additive in the config", NULL);
    expect_one_line_error(
        sh("$A train exp.ini --quiet --resume A --set model.channels=mixed --out C"),
        "model.channels: independent in the checkpoint, mixed in the config", NULL);
    expect_one_line_error(sh("$A train exp.ini --quiet --resume A --set model.causal=true --out C"),
                          "model.causal: false in the checkpoint, true in the config", NULL);
}

/* The offset of HDF5's first global heap ("GCOL", the variable-length strings) in path. */
static long string_heap_offset(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char bytes[1 << 20];
    *size = (long)fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    for (long i = 0; i + 4 <= *size; i++)
        if (!memcmp(bytes + i, "GCOL", 4)) return i;
    fail_msg("no global heap in %s", path);
    return -1;
}

/* A failure with a one-line message naming the file, an exit status and not a signal. */
static void expect_refused_not_crashed(int rc, const char *file, const char *what) {
    if (rc != 1 && rc != 2) fail_msg("%s: exit %d (a signal?): %s", what, rc, out);
    expect_one_line_error(rc, file, "damaged");
}

static void test_damaged_checkpoints_never_crash_any_verb(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/A/last.h5", dir);
    long size = 0, heap = string_heap_offset(path, &size);
    long offsets[] = {heap + 24, heap + 64, heap + 104, heap + 400, 700, size / 2, size - 16};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        /* four bytes overwritten in a copy of the run folder, as a bad disk would */
        assert_int_equal(sh("rm -rf D && cp -r A D && printf '\\377\\377\\377\\177' | dd "
                            "of=D/last.h5 bs=1 seek=%ld conv=notrunc 2>/dev/null",
                            offsets[i]),
                         0);
        expect_refused_not_crashed(sh("$A info D/last.h5"), "D/last.h5", "info");
        expect_refused_not_crashed(sh("$A eval D/last.h5"), "D/last.h5", "eval");
        expect_refused_not_crashed(sh("$A predict D/last.h5 --input series.csv"), "D/last.h5",
                                   "predict");
        expect_refused_not_crashed(sh("$A train exp.ini --quiet --resume D --set train.epochs=5"),
                                   "D/last.h5", "train --resume");
        expect_refused_not_crashed(sh("$E D/last.h5 series.csv"), "D/last.h5", "embedding");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_info_describes_architecture_and_progress),
        cmocka_unit_test(test_eval_reproduces_the_run_metrics),
        cmocka_unit_test(test_predict_continues_the_dates_and_matches_the_example),
        cmocka_unit_test(test_predict_refuses_short_inputs_missing_channels_and_nans),
        cmocka_unit_test(test_explain_writes_attention_steps_and_forecast),
        cmocka_unit_test(test_bad_checkpoints_are_refused_in_one_line),
        cmocka_unit_test(test_damaged_checkpoints_never_crash_any_verb),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
