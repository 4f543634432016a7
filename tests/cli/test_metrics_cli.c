/* test_metrics_cli.c - honest metrics and eval through the real binary: metrics.json's
 * per-channel metrics in each channel's own units, WAPE, a MAPE left out (with its reason) for a
 * channel that sits at zero half the time, no pooled RMSE across channels of different units,
 * the validation MSE of the best weights; eval --per-channel; eval finding the checkpoint's CSV
 * from another folder, below the checkpoint's folder or through a dataset card, or failing in
 * one line that names --data; eval --data scoring every window of another file unless --split.
 *
 * The series: price (around 5), volume (around 1e6) and flow (10 max(0, sin): zero half the
 * time), 400 hourly rows; the run trains from the test folder on data/series.csv into runs/a. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];
static char train_out[1 << 14]; /* what train printed */

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "metrics-cli") != 0) return -1;
    if (setenv("A", tu_bin(), 1) != 0) return -1;
    if (sh("mkdir -p data elsewhere/deeper") != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/data/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,price,volume,flow\n");
    for (int t = 0; t < 400; t++) {
        double s = sin(t * 0.2618);
        fprintf(f, "2021-03-%02d %02d:00:00,%.5f,%.1f,%.5f\n", 1 + t / 24, t % 24,
                5 + sin(t * 0.5236), 1e6 + 1e5 * cos(t * 0.2618), s > 0 ? 10 * s : 0.0);
    }
    fclose(f);
    if (tu_write_file(dir, "exp.ini",
                      "[data]\ncsv = data/series.csv\nlookback = 24\nhorizon = 6\n"
                      "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
                      "patch_stride = 3\n"
                      "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n") != 0)
        return -1;
    if (sh("$A train exp.ini --quiet --out runs/a") != 0) return -1;
    snprintf(train_out, sizeof train_out, "%.*s", (int)sizeof train_out - 1, out);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static cJSON *parse(const char *text) {
    cJSON *root = cJSON_Parse(text);
    if (!root) fail_msg("not JSON: %s", text);
    return root;
}

static cJSON *run_metrics(void) {
    if (sh("cat runs/a/metrics.json") != 0) fail_msg("no metrics.json: %s", out);
    return parse(out);
}

static const cJSON *at(const cJSON *obj, const char *a, const char *b, const char *c) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    if (c) v = cJSON_GetObjectItemCaseSensitive(v, c);
    return v;
}

static double number(const cJSON *obj, const char *a, const char *b, const char *c) {
    const cJSON *v = at(obj, a, b, c);
    if (!cJSON_IsNumber(v)) fail_msg("%s.%s.%s is not a number", a, b ? b : "", c ? c : "");
    return v->valuedouble;
}

static void test_metrics_json_keeps_each_channel_in_its_own_units(void **state) {
    (void)state;
    cJSON *m = run_metrics();
    const char *channels[] = {"price", "volume", "flow"};
    const char *forecasters[] = {"model", "naive", "seasonal_naive", "mean"};
    const char *keys[] = {"mse", "mae", "rmse", "mae_orig", "wape", "smape", "mase"};
    for (int c = 0; c < 3; c++)
        for (int f = 0; f < 4; f++)
            for (int k = 0; k < 7; k++) {
                const cJSON *per = at(m, "per_channel", channels[c], forecasters[f]);
                if (!cJSON_IsNumber(cJSON_GetObjectItem(per, keys[k])))
                    fail_msg("per_channel.%s.%s.%s is not a number", channels[c], forecasters[f],
                             keys[k]);
            }
    /* RMSE in units: volume's errors are in the thousands, price's below 10 */
    double price = number(at(m, "per_channel", "price", NULL), "model", "rmse", NULL);
    double volume = number(at(m, "per_channel", "volume", NULL), "model", "rmse", NULL);
    if (!(price < 10 && volume > 1000)) fail_msg("rmse price %g, volume %g", price, volume);
    /* pooled: no RMSE mixing prices with volumes, WAPE the channels' mean */
    assert_true(cJSON_IsNull(at(m, "model", "rmse", NULL)));
    assert_true(cJSON_IsNull(at(m, "model", "mae_orig", NULL)));
    double wape = 0;
    for (int c = 0; c < 3; c++)
        wape += number(at(m, "per_channel", channels[c], NULL), "model", "wape", NULL) / 3;
    assert_true(fabs(number(m, "model", "wape", NULL) - wape) < 1e-9 * wape);
    /* the old keys stay */
    assert_true(cJSON_IsNumber(at(m, "model", "mse", NULL)));
    assert_true(cJSON_IsNumber(at(m, "baselines", "naive", "mse")));
    cJSON_Delete(m);
}

static void test_mape_is_left_out_for_a_channel_near_zero_with_the_reason(void **state) {
    (void)state;
    cJSON *m = run_metrics();
    /* flow is 0 half the time: no MAPE, and why */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(at(m, "per_channel", "flow", "model"), "mape")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(at(m, "per_channel", "flow", "naive"), "mape")));
    const char *note = cJSON_GetStringValue(at(m, "per_channel", "flow", "mape_note"));
    if (!note || !strstr(note, "left out") || !strstr(note, "0.1 x"))
        fail_msg("flow's mape_note: %s", note ? note : "(none)");
    double share = number(m, "per_channel", "flow", "mape_share");
    if (!(share > 0.3 && share < 0.7)) fail_msg("flow's mape_share %g", share);
    /* the others have theirs, and the pool is over theirs only: a modest number */
    double price = number(at(m, "per_channel", "price", NULL), "model", "mape", NULL);
    assert_null(at(m, "per_channel", "price", "mape_note"));
    double pooled = number(m, "model", "mape", NULL);
    if (!(price < 100 && pooled < 100)) fail_msg("mape price %g, pooled %g", price, pooled);
    const char *top = cJSON_GetStringValue(at(m, "mape_note", NULL, NULL));
    if (!top || !strstr(top, "1 of 3")) fail_msg("mape_note: %s", top ? top : "(none)");
    assert_non_null(cJSON_GetStringValue(at(m, "mape_rule", NULL, NULL)));
    cJSON_Delete(m);
    /* the table says so too, and does not lead with a pooled RMSE */
    assert_non_null(strstr(train_out, "MAPE left out for 1 of 3 channel(s)"));
    assert_non_null(strstr(train_out, "WAPE%"));
    assert_null(strstr(train_out, "RMSE"));
}

static void test_metrics_json_has_the_validation_mse_of_the_best_weights(void **state) {
    (void)state;
    cJSON *m = run_metrics();
    /* trained with the MSE loss: the validation MSE is the best validation loss */
    double val_mse = number(m, "val", "mse", NULL), best = number(m, "best_val_loss", NULL, NULL);
    if (fabs(val_mse - best) > 1e-6 * best)
        fail_msg("val.mse %.9g, best_val_loss %.9g", val_mse, best);
    assert_true(number(m, "val", "mae", NULL) > 0);
    cJSON_Delete(m);
    /* report.md: a per-channel table in the channels' units */
    assert_int_equal(sh("grep -c -e '^| price |' -e '^| volume |' -e '^| flow |' runs/a/report.md"),
                     0);
    assert_int_equal(atoi(out), 3);
}

static void test_eval_per_channel_prints_a_row_per_channel(void **state) {
    (void)state;
    assert_int_equal(sh("$A eval runs/a/best.h5 --per-channel"), 0);
    assert_non_null(strstr(out, "naive_RMSE"));
    const char *rows[] = {"\nprice ", "\nvolume ", "\nflow "};
    for (int i = 0; i < 3; i++)
        if (!strstr(out, rows[i])) fail_msg("no row '%s' in: %s", rows[i] + 1, out);
    /* flow's MAPE column: "-" (left out), not a huge number */
    char *flow = strstr(out, "\nflow ");
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(flow + 1, "\n"), flow + 1);
    assert_non_null(strstr(line, " - "));
    /* without --per-channel, no per-channel rows */
    assert_int_equal(sh("$A eval runs/a/best.h5"), 0);
    assert_null(strstr(out, "\nvolume "));
}

static double eval_mse(const char *text, const char **split, int *windows) {
    cJSON *root = parse(text);
    double mse = number(root, "model", "mse", NULL);
    static char name[16];
    snprintf(name, sizeof name, "%s", cJSON_GetStringValue(at(root, "split", NULL, NULL)));
    *split = name;
    *windows = (int)number(root, "windows", NULL, NULL);
    cJSON_Delete(root);
    return mse;
}

/* The test MSE that train wrote into the run's metrics.json. */
static double trained_test_mse(void) {
    cJSON *m = run_metrics();
    double mse = number(m, "model", "mse", NULL);
    cJSON_Delete(m);
    return mse;
}

static void test_eval_finds_the_data_from_another_folder(void **state) {
    (void)state;
    double trained = trained_test_mse();
    const char *split;
    int windows;
    /* data.csv = data/series.csv is relative to the test folder, not to elsewhere/deeper: it is
     * found above the checkpoint's folder (runs/a -> runs -> the test folder) */
    assert_int_equal(
        sh("cd elsewhere/deeper && { $A eval ../../runs/a/best.h5 --json 2>/dev/null; }"), 0);
    assert_true(eval_mse(out, &split, &windows) == trained);
    assert_string_equal(split, "test");
    assert_int_equal(sh("cd elsewhere/deeper && { $A eval ../../runs/a/best.h5 2>&1 >/dev/null; }"),
                     0);
    assert_non_null(strstr(out, "note: data.csv = data/series.csv is read from"));
}

static void test_eval_without_its_data_names_the_data_option(void **state) {
    (void)state;
    assert_int_equal(sh("mv data away"), 0);
    int rc = sh("$A eval runs/a/best.h5");
    char msg[1024];
    snprintf(msg, sizeof msg, "%.*s", (int)sizeof msg - 1, out);
    int lines = tu_count_lines(out);
    const char *split;
    int windows;
    int rc_data = sh("$A eval runs/a/best.h5 --data away/series.csv --split test --json");
    double mse = rc_data == 0 ? eval_mse(out, &split, &windows) : NAN;
    assert_int_equal(sh("mv away data"), 0);
    if (rc != 1 || lines != 1) fail_msg("exit %d, %d lines: %s", rc, lines, msg);
    assert_non_null(strstr(msg, "data/series.csv"));
    assert_non_null(strstr(msg, "--data"));
    assert_int_equal(rc_data, 0);
    assert_true(isfinite(mse));
}

static void test_eval_finds_the_data_through_its_dataset_card(void **state) {
    (void)state;
    char hex[65] = "";
    assert_int_equal(sh("sha256sum data/series.csv | cut -c1-64"), 0);
    snprintf(hex, sizeof hex, "%.64s", out);
    char card[1024];
    snprintf(card, sizeof card,
             "[dataset]\nname = tiny\nfile = series.csv\nurl = https://invalid.example/series.csv\n"
             "sha256 = %s\nsplit = 0.7,0.1,0.2\nseason = 1\n",
             hex);
    assert_int_equal(sh("mkdir -p cards cache"), 0);
    assert_int_equal(tu_write_file(dir, "cards/tiny.ini", card), 0);
    double trained = trained_test_mse();
    assert_int_equal(sh("mv data mirror"), 0);
    int rc = sh("ATTNCAST_DATASETS_DIR=\"$PWD/cards\" ATTNCAST_DATA_MIRROR=\"$PWD/mirror\" "
                "ATTNCAST_CACHE_DIR=\"$PWD/cache\" sh -c '$A eval runs/a/best.h5 --json 2>note'");
    char json[1 << 15];
    snprintf(json, sizeof json, "%.*s", (int)sizeof json - 1, out);
    sh("cat note");
    char note[1024];
    snprintf(note, sizeof note, "%.*s", (int)sizeof note - 1, out);
    assert_int_equal(sh("mv mirror data"), 0);
    if (rc != 0) fail_msg("exit %d: %s %s", rc, json, note);
    const char *split;
    int windows;
    assert_true(eval_mse(json, &split, &windows) == trained);
    assert_non_null(strstr(note, "through its dataset card"));
}

static void test_eval_data_scores_every_window_of_another_file_unless_split(void **state) {
    (void)state;
    double trained = trained_test_mse();
    const char *split;
    int windows;
    /* another file: every window, t = 24 .. 400 - 6 */
    assert_int_equal(sh("cp data/series.csv other.csv && $A eval runs/a/best.h5 --data other.csv "
                        "--json"),
                     0);
    double all = eval_mse(out, &split, &windows);
    assert_string_equal(split, "all");
    assert_int_equal(windows, 400 - 24 - 6 + 1);
    assert_true(all != trained);
    assert_int_equal(sh("$A eval runs/a/best.h5 --data other.csv"), 0);
    assert_non_null(strstr(out, "every window: 371 windows"));
    /* with --split, that split of the file: the run's own test metrics */
    assert_int_equal(sh("$A eval runs/a/best.h5 --data other.csv --split test --json"), 0);
    assert_true(eval_mse(out, &split, &windows) == trained);
    assert_int_equal(windows, 75);
    /* the checkpoint's own file named with --data is not another file: its test split */
    assert_int_equal(sh("$A eval runs/a/best.h5 --data ./data/../data/series.csv --json"), 0);
    assert_true(eval_mse(out, &split, &windows) == trained);
    assert_string_equal(split, "test");
    /* --split all on the checkpoint's own data */
    assert_int_equal(sh("$A eval runs/a/best.h5 --split all --json"), 0);
    assert_true(eval_mse(out, &split, &windows) == all);
    /* a file too short for one window */
    assert_int_equal(sh("head -20 other.csv > short.csv && $A eval runs/a/best.h5 --data "
                        "short.csv"),
                     1);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "short.csv"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_json_keeps_each_channel_in_its_own_units),
        cmocka_unit_test(test_mape_is_left_out_for_a_channel_near_zero_with_the_reason),
        cmocka_unit_test(test_metrics_json_has_the_validation_mse_of_the_best_weights),
        cmocka_unit_test(test_eval_per_channel_prints_a_row_per_channel),
        cmocka_unit_test(test_eval_finds_the_data_from_another_folder),
        cmocka_unit_test(test_eval_without_its_data_names_the_data_option),
        cmocka_unit_test(test_eval_finds_the_data_through_its_dataset_card),
        cmocka_unit_test(test_eval_data_scores_every_window_of_another_file_unless_split),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
