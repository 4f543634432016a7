/* test_intervals_cli.c - the scores of prediction intervals through the real binary: `train` of a
 * tiny point config prints the intervals table and writes metrics.json's "intervals" (conformal
 * 80% and 95%, coverage in [0, 1], per channel too), "quantile_loss" (method conformal, the
 * implied levels) and "seasonal_naive_quantiles", and report.md's "Prediction intervals"; a
 * quantile config adds its quantile pair and scores its own levels (method quantile); `eval`
 * prints the same table, --per-channel each interval's coverage per channel, --json the same
 * fields; a checkpoint trained with output.intervals empty has no intervals and says nothing
 * about them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 17];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

#define TINY TU_TINY_MODEL_ARGS " --set train.patience=0"

/* A cycle around 5, a trend. */
static void row(FILE *f, int t, double noise, void *user) {
    (void)user;
    fprintf(f, "%.6f,%.6f\n", 5.0 + sin(t * 0.5) + noise, 0.02 * t - noise);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "intervals-cli") != 0) return -1;
    return tu_write_csv(dir, "s.csv", "a,b", 300, 7u, row, NULL);
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void assert_contains(const char *text, const char *piece) {
    if (!strstr(text, piece)) fail_msg("'%s' not in: %s", piece, text);
}

static cJSON *read_json(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = tu_read_file(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) fail_msg("%s is not JSON", path);
    return root;
}

static const cJSON *item(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) fail_msg("no \"%s\"", key);
    return v;
}

/* intervals is the expected list of "method level" ("conformal 0.8", ...), in order; every
 * entry's coverage lies in [0, 1] and its width and Winkler score are positive. */
static void check_intervals(const cJSON *list, const char *const *expected, int n) {
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != n)
        fail_msg("intervals: %d entries, %d expected", cJSON_GetArraySize(list), n);
    for (int i = 0; i < n; i++) {
        const cJSON *iv = cJSON_GetArrayItem(list, i);
        char name[64];
        snprintf(name, sizeof name, "%s %g", item(iv, "method")->valuestring,
                 item(iv, "level")->valuedouble);
        if (strcmp(name, expected[i]) != 0)
            fail_msg("interval %d is '%s', '%s' expected", i, name, expected[i]);
        double cov = item(iv, "coverage")->valuedouble;
        if (!(cov >= 0.0 && cov <= 1.0)) fail_msg("%s: coverage %g", name, cov);
        if (!(item(iv, "width_scaled")->valuedouble > 0.0) ||
            !(item(iv, "winkler_scaled")->valuedouble >= item(iv, "width_scaled")->valuedouble))
            fail_msg("%s: width or Winkler score out of place", name);
        if (!(item(iv, "points")->valuedouble > 0)) fail_msg("%s: no points", name);
    }
}

static void check_quantile_loss(const cJSON *root, const char *method, int levels) {
    const cJSON *ql = item(root, "quantile_loss");
    if (strcmp(item(ql, "method")->valuestring, method) != 0)
        fail_msg("quantile_loss method %s, %s expected", item(ql, "method")->valuestring, method);
    if (cJSON_GetArraySize(item(ql, "levels")) != levels)
        fail_msg("quantile_loss: %d levels, %d expected", cJSON_GetArraySize(item(ql, "levels")),
                 levels);
    if (!(item(ql, "wql")->valuedouble > 0.0)) fail_msg("quantile_loss: no wql");
    if (!(item(item(root, "seasonal_naive_quantiles"), "wql")->valuedouble > 0.0))
        fail_msg("seasonal_naive_quantiles: no wql");
}

static void test_train_scores_the_conformal_intervals_of_best_h5(void **state) {
    (void)state;
    int rc = sh("'%s' train --csv s.csv " TINY " --out point", tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    assert_contains(out, "prediction intervals (coverage");
    assert_contains(out, "\nconformal 80% ");
    assert_contains(out, "\nconformal 95% ");
    assert_contains(out, "wQL of the conformal intervals' quantiles (0.025 0.1 0.5 0.9 0.975):");
    assert_contains(out, "seasonal-naive quantiles");
    cJSON *root = read_json("point/metrics.json");
    const char *const expected[] = {"conformal 0.8", "conformal 0.95"};
    check_intervals(item(root, "intervals"), expected, 2);
    check_quantile_loss(root, "conformal", 5);
    const cJSON *levels = item(item(root, "quantile_loss"), "levels");
    if (cJSON_GetArrayItem(levels, 0)->valuedouble != 0.025 ||
        cJSON_GetArrayItem(levels, 1)->valuedouble != 0.1)
        fail_msg("quantile_loss levels do not start 0.025, 0.1");
    const cJSON *b = item(item(root, "per_channel"), "b");
    check_intervals(item(b, "intervals"), expected, 2);
    if (!(item(cJSON_GetArrayItem(item(b, "intervals"), 0), "width")->valuedouble > 0.0))
        fail_msg("per channel: no width in the channel's units");
    item(b, "quantile_loss");
    item(b, "seasonal_naive_quantiles");
    cJSON_Delete(root);
    rc = sh("cat point/report.md");
    assert_contains(out, "## Prediction intervals");
    assert_contains(out, "| conformal 80% |");
    assert_contains(out, "the seasonal-naive forecast plus the empirical quantiles of its errors "
                         "on the validation windows");

    rc = sh("'%s' eval point/best.h5 --per-channel", tu_bin());
    if (rc != 0) fail_msg("eval: exit %d: %s", rc, out);
    assert_contains(out, "\nconformal 95% ");
    assert_contains(out, "per channel coverage % of each interval:");
    rc = sh("'%s' eval point/best.h5 --json", tu_bin());
    if (rc != 0) fail_msg("eval --json: exit %d: %s", rc, out);
    root = cJSON_Parse(out);
    if (!root) fail_msg("eval --json is not JSON: %s", out);
    check_intervals(item(root, "intervals"), expected, 2);
    check_quantile_loss(root, "conformal", 5);
    cJSON_Delete(root);
}

static void test_a_quantile_model_scores_both_kinds_and_its_own_levels(void **state) {
    (void)state;
    int rc = sh("'%s' train --csv s.csv " TINY " --set model.quantiles=0.1,0.5,0.9 "
                "--set train.loss=pinball --quiet --out quant",
                tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    assert_contains(out, "\nquantile 80% ");
    assert_contains(out, "wQL of the model's quantiles (0.1 0.5 0.9):");
    cJSON *root = read_json("quant/metrics.json");
    const char *const expected[] = {"conformal 0.8", "conformal 0.95", "quantile 0.8"};
    check_intervals(item(root, "intervals"), expected, 3);
    check_quantile_loss(root, "quantile", 3);
    cJSON_Delete(root);
}

static void test_a_checkpoint_without_calibration_says_nothing_of_intervals(void **state) {
    (void)state;
    int rc =
        sh("'%s' train --csv s.csv " TINY " --set output.intervals= --quiet --out none", tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    if (strstr(out, "interval") || strstr(out, "wQL"))
        fail_msg("train spoke of intervals: %s", out);
    cJSON *root = read_json("none/metrics.json");
    const char *const keys[] = {"intervals", "quantile_loss", "seasonal_naive_quantiles",
                                "interval_note"};
    for (int i = 0; i < 4; i++)
        if (cJSON_GetObjectItemCaseSensitive(root, keys[i]))
            fail_msg("metrics.json has \"%s\" without a calibration", keys[i]);
    if (cJSON_GetObjectItemCaseSensitive(item(item(root, "per_channel"), "a"), "intervals"))
        fail_msg("per_channel has intervals without a calibration");
    cJSON_Delete(root);
    rc = sh("cat none/report.md");
    if (strstr(out, "Prediction intervals")) fail_msg("report.md speaks of intervals");
    rc = sh("'%s' eval none/best.h5 --per-channel", tu_bin());
    if (rc != 0) fail_msg("eval: exit %d: %s", rc, out);
    if (strstr(out, "interval") || strstr(out, "wQL") || strstr(out, "coverage"))
        fail_msg("eval spoke of intervals: %s", out);
    rc = sh("'%s' eval none/best.h5 --json", tu_bin());
    if (rc != 0 || strstr(out, "\"intervals\"") || strstr(out, "quantile"))
        fail_msg("eval --json spoke of intervals: %s", out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_scores_the_conformal_intervals_of_best_h5),
        cmocka_unit_test(test_a_quantile_model_scores_both_kinds_and_its_own_levels),
        cmocka_unit_test(test_a_checkpoint_without_calibration_says_nothing_of_intervals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
