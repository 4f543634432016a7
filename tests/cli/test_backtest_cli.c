/* test_backtest_cli.c - `attncast backtest` through the real binary: a checkpoint backtested
 * over the test split's origins gives eval's test metrics bit for bit and eval --forecasts's
 * CSV byte for byte; --stride, --start ROW and --start DATE pick the origins; --refit 2 trains
 * one model per fold on the rows before it; a backtest stopped after one fold and rerun writes
 * the same outputs as one that ran straight through, and so does --jobs 2; bad command lines
 * and a folder of another backtest fail in one line.
 *
 * The series: 300 hourly rows of two channels; split 0.7/0.1/0.2 (n_val 30, test origins
 * 240-294 for L = 24, H = 6). */
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
static char out[1 << 16];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "backtest-cli") != 0) return -1;
    if (setenv("A", tu_bin(), 1) != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    for (int t = 0; t < 300; t++)
        fprintf(f, "2021-01-%02d %02d:00:00,%.5f,%.5f\n", 1 + t / 24, t % 24, 5 + sin(t * 0.5236),
                3 + cos(t * 0.2618) + 0.01 * t);
    fclose(f);
    if (tu_write_file(dir, "tiny.ini",
                      "[data]\ncsv = series.csv\nlookback = 24\nhorizon = 6\n"
                      "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
                      "patch_stride = 3\n"
                      "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n") != 0)
        return -1;
    return sh("$A train tiny.ini --quiet --out runs/a") == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static char *read_in_dir(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tu_read_file(path, NULL);
}

static cJSON *json_file(const char *name) {
    char *text = read_in_dir(name);
    if (!text) fail_msg("cannot read %s", name);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) fail_msg("%s is not JSON", name);
    return root;
}

static double number(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) fail_msg("no number %s", key);
    return v->valuedouble;
}

/* Two files hold the same bytes. */
static void assert_same_file(const char *a, const char *b) {
    char *x = read_in_dir(a), *y = read_in_dir(b);
    assert_non_null(x);
    assert_non_null(y);
    if (strcmp(x, y) != 0) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

static void test_checkpoint_backtest_matches_eval_bit_for_bit(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest runs/a/best.h5 --out bt/ck --quiet"), 0);
    assert_int_equal(sh("$A eval runs/a/best.h5 --json --forecasts eval_forecasts.csv > "
                        "eval.json"),
                     0);
    cJSON *ev = json_file("eval.json"), *bt = json_file("bt/ck/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    /* cJSON prints doubles so that they read back exactly: equal items are equal numbers */
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "model"),
                              cJSON_GetObjectItemCaseSensitive(overall, "model"), true));
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "baselines"),
                              cJSON_GetObjectItemCaseSensitive(overall, "baselines"), true));
    assert_true(number(bt, "origins") == number(ev, "windows"));
    assert_true(number(bt, "first_origin") == 240 && number(bt, "last_origin") == 294);
    cJSON_Delete(ev);
    cJSON_Delete(bt);
    assert_same_file("eval_forecasts.csv", "bt/ck/forecasts.csv");
    char *csv = read_in_dir("bt/ck/forecasts.csv");
    assert_non_null(csv);
    assert_int_equal(tu_count_lines(csv), 1 + 55 * 6 * 2);
    assert_non_null(strstr(csv, "origin,origin_date,step,date,channel,actual,forecast\n"
                                "240,2021-01-11 00:00:00,1,2021-01-11 00:00:00,a,"));
    free(csv);
}

static void test_config_backtest_without_refit_is_train(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest tiny.ini --out bt/cfg --quiet"), 0);
    cJSON *run = json_file("runs/a/metrics.json"), *bt = json_file("bt/cfg/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(run, "model"),
                              cJSON_GetObjectItemCaseSensitive(overall, "model"), true));
    cJSON_Delete(run);
    cJSON_Delete(bt);
}

static void test_stride_and_start_pick_the_origins(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest tiny.ini --start 100 --stride 5 --out bt/row --quiet"), 0);
    cJSON *bt = json_file("bt/row/metrics.json");
    assert_true(number(bt, "first_origin") == 100);
    assert_true(number(bt, "origins") == (294 - 100) / 5 + 1);
    assert_true(number(bt, "last_origin") == 100 + 38 * 5);
    cJSON_Delete(bt);
    char *csv = read_in_dir("bt/row/forecasts.csv");
    assert_non_null(csv);
    assert_int_equal(tu_count_lines(csv), 1 + 39 * 6 * 2);
    assert_non_null(strstr(csv, "\n105,2021-01-05 09:00:00,1,"));
    assert_null(strstr(csv, "\n101,"));
    free(csv);
    /* row 100 is 2021-01-05 04:00 */
    assert_int_equal(
        sh("$A backtest tiny.ini --start '2021-01-05 04:00:00' --stride 5 --out bt/date --quiet"),
        0);
    assert_same_file("bt/row/forecasts.csv", "bt/date/forecasts.csv");
    assert_same_file("bt/row/metrics.json", "bt/date/metrics.json");
}

static void test_refit_trains_one_model_per_fold(void **state) {
    (void)state;
    /* origins 240, 250, ..., 290: 6 origins, 3 folds of 2 */
    assert_int_equal(sh("$A backtest tiny.ini --refit 2 --stride 10 --out bt/refit --quiet"), 0);
    assert_int_equal(sh("ls bt/refit/folds | wc -l"), 0);
    assert_int_equal(atoi(out), 3);
    cJSON *bt = json_file("bt/refit/metrics.json");
    assert_true(number(bt, "folds") == 3);
    const cJSON *folds = cJSON_GetObjectItemCaseSensitive(bt, "per_fold");
    assert_int_equal(cJSON_GetArraySize(folds), 3);
    for (int f = 0; f < 3; f++) {
        const cJSON *fold = cJSON_GetArrayItem(folds, f);
        assert_true(number(fold, "first_origin") == 240 + 20 * f);
        assert_true(number(fold, "train_rows") == 240 + 20 * f - 30); /* n_val = 30 */
        assert_true(number(fold, "epochs_run") == 2);
    }
    cJSON_Delete(bt);
}

static void test_resumed_and_parallel_backtests_write_the_same_outputs(void **state) {
    (void)state;
    const char *cmd = "$A backtest tiny.ini --refit 2 --stride 10 --quiet --out";
    assert_int_equal(sh("%s bt/whole", cmd), 0);
    assert_int_equal(sh("%s bt/resumed --stop-after-folds 1", cmd), 0);
    assert_non_null(strstr(out, "stopped after 1 fold(s)"));
    assert_int_equal(sh("ls bt/resumed/folds | wc -l"), 0);
    assert_int_equal(atoi(out), 1);
    assert_int_not_equal(sh("test -e bt/resumed/metrics.json"), 0);
    assert_int_equal(sh("%s bt/resumed", cmd), 0);
    assert_non_null(strstr(out, "(2 fold(s) computed now)"));
    assert_same_file("bt/whole/forecasts.csv", "bt/resumed/forecasts.csv");
    assert_same_file("bt/whole/metrics.json", "bt/resumed/metrics.json");
    assert_int_equal(sh("%s bt/jobs --jobs 2", cmd), 0);
    assert_same_file("bt/whole/forecasts.csv", "bt/jobs/forecasts.csv");
    assert_same_file("bt/whole/metrics.json", "bt/jobs/metrics.json");
}

/* The command fails with exit status `status` and one line naming `needle`. */
static void fails(int status, const char *needle, const char *args) {
    int rc = sh("{ $A backtest %s >/dev/null; }", args);
    if (rc != status || tu_count_lines(out) != 1 || !strstr(out, needle))
        fail_msg("backtest %s: exit %d, expected %d with '%s': %s", args, rc, status, needle, out);
}

static void test_bad_inputs_fail_in_one_line(void **state) {
    (void)state;
    fails(2, "past the last origin", "tiny.ini --start 295 --out bt/bad");
    fails(2, "fewer than data.lookback = 24 rows before it", "tiny.ini --start 10 --out bt/bad");
    fails(2, "fewer than lookback + horizon", "tiny.ini --start 40 --out bt/bad");
    fails(2, "no row of series.csv has this date", "tiny.ini --start 2030-01-01 --out bt/bad");
    fails(2, "--stride", "tiny.ini --stride 0 --out bt/bad");
    fails(2, "--refit", "tiny.ini --refit 0 --out bt/bad");
    fails(2, "checkpoint's training and validation rows", "runs/a/best.h5 --start 200");
    fails(2, "--set goes with a CONFIG", "runs/a/best.h5 --set train.epochs=1");
    assert_int_equal(sh("$A backtest tiny.ini --stride 20 --out bt/taken --quiet"), 0);
    fails(1, "holds a backtest of another config, data or options",
          "tiny.ini --stride 10 --out bt/taken");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_backtest_matches_eval_bit_for_bit),
        cmocka_unit_test(test_config_backtest_without_refit_is_train),
        cmocka_unit_test(test_stride_and_start_pick_the_origins),
        cmocka_unit_test(test_refit_trains_one_model_per_fold),
        cmocka_unit_test(test_resumed_and_parallel_backtests_write_the_same_outputs),
        cmocka_unit_test(test_bad_inputs_fail_in_one_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
