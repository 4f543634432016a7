/* test_torch_parity.c - the real binary against the PyTorch reference of MODEL.md
 * (tools/attncast_torch.py): for every attention kind in both channel modes (mixed ones causal),
 * a tiny model trained for one epoch by `attncast train` must forecast, through `attncast
 * predict`, what PyTorch computes from the same checkpoint, within 1e-4 on scaled values
 * (tools/torch_compare.py parity), and within 1e-5 for the last-value anchor with revin on and
 * off in both modes; a quantile model (model.quantiles) of every kind, the channel modes taking
 * turns, predicts the median of its sorted levels as PyTorch does, within 1e-4. Also checks that
 * parity does fail on a wrong forecast, and that `torch_compare.py bench --rounds` pairs the two
 * sides and reports paired ratios. Skipped unless /usr/bin/python3 can import torch and h5py
 * (Debian python3-torch, python3-h5py).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "attncast/forecaster.h"
#include "support/testutil.h"

#define PYTHON "/usr/bin/python3"

static char dir[256];
static char out[1 << 16];

static const char *const MODES[] = {"independent", "mixed"};

/* A shell command run in the test folder, its output in out. */
#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static int have_torch(void) {
    char buf[4096];
    return tu_run(PYTHON " -c 'import torch, h5py'", buf, sizeof buf) == 0;
}

static const char *compare_script(void) {
    static char path[1024];
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    snprintf(path, sizeof path, "%s/tools/torch_compare.py", src);
    return path;
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "torch") != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b,c\n");
    for (int t = 0; t < 300; t++) /* hourly; a level far from 0, a trend, two seasons */
        fprintf(f, "2022-05-%02d %02d:00:00,%.5f,%.5f,%.5f\n", 1 + t / 24, t % 24,
                50 + 3 * sin(t * 0.5236), cos(t * 0.2618) + 0.01 * t,
                0.5 * sin(t * 0.9) + 0.2 * cos(t * 0.13));
    fclose(f);
    snprintf(path, sizeof path, "%s/tiny.ini", dir);
    f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "[data]\ncsv = series.csv\nlookback = 24\nhorizon = 6\n"
               "[model]\nd_model = 8\nheads = 2\nlayers = 2\nd_ff = 16\npatch_len = 6\n"
               "patch_stride = 3\n"
               "[train]\nepochs = 1\nbatch_size = 16\nseed = 5\nthreads = 1\n");
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* Every kind x channel mode: attncast predict == the PyTorch reference on the same weights. */
static void test_predict_matches_pytorch_for_every_kind_and_channel_mode(void **state) {
    (void)state;
    if (!have_torch()) skip();
    char list[4096] = "";
    size_t used = 0;
    for (int k = 0; k < AC_ATTN_COUNT; k++)
        for (size_t m = 0; m < sizeof MODES / sizeof *MODES; m++) {
            const char *kind = ac_attention_kind_name((ac_attention_kind)k);
            int mixed = !strcmp(MODES[m], "mixed");
            int rc = sh("'%s' train tiny.ini --quiet --out run-%s-%s --set model.attention=%s "
                        "--set model.channels=%s --set model.causal=%s",
                        tu_bin(), kind, MODES[m], kind, MODES[m], mixed ? "true" : "false");
            if (rc != 0) fail_msg("train %s/%s: exit %d: %s", kind, MODES[m], rc, out);
            used += (size_t)snprintf(list + used, sizeof list - used, " run-%s-%s/best.h5", kind,
                                     MODES[m]);
        }
    int rc = sh(PYTHON " '%s' parity%s series.csv --rows 4 --attncast '%s'", compare_script(), list,
                tu_bin());
    print_message("%s", out);
    if (rc != 0) fail_msg("parity: exit %d: %s", rc, out);
    if (!strstr(out, "parity OK")) fail_msg("no 'parity OK' in: %s", out);
    char want[64];
    snprintf(want, sizeof want, "%d checkpoints x 4 windows", 2 * AC_ATTN_COUNT);
    if (!strstr(out, want)) fail_msg("not '%s': %s", want, out);
}

/* model.anchor = last (MODEL.md version 2): both anchors' forms agree within 1e-5 on scaled
 * values, with revin on and off, in both channel modes. The reference writes the anchor as
 * MODEL.md does (on the z-scored series); attncast computes the same in another order. */
static void test_last_value_anchor_matches_pytorch_within_1e_5(void **state) {
    (void)state;
    if (!have_torch()) skip();
    char list[2048] = "";
    size_t used = 0;
    for (size_t m = 0; m < sizeof MODES / sizeof *MODES; m++)
        for (int revin = 0; revin < 2; revin++) {
            int rc = sh("'%s' train tiny.ini --quiet --out anchor-%s-%d --set model.anchor=last "
                        "--set model.channels=%s --set model.revin=%s --set train.epochs=2",
                        tu_bin(), MODES[m], revin, MODES[m], revin ? "true" : "false");
            if (rc != 0) fail_msg("train %s revin %d: exit %d: %s", MODES[m], revin, rc, out);
            used += (size_t)snprintf(list + used, sizeof list - used, " anchor-%s-%d/best.h5",
                                     MODES[m], revin);
        }
    int rc = sh(PYTHON " '%s' parity%s series.csv --rows 4 --tol 1e-5 --attncast '%s'",
                compare_script(), list, tu_bin());
    print_message("%s", out);
    if (rc != 0) fail_msg("parity: exit %d: %s", rc, out);
    if (!strstr(out, "parity OK")) fail_msg("no 'parity OK' in: %s", out);
    if (!strstr(out, "4 checkpoints x 4 windows")) fail_msg("not 4 x 4 windows: %s", out);
}

/* Quantile models: `attncast predict` shows the median of the sorted levels, as the reference's
 * predict() does; every kind once, the channel modes taking turns. */
static void test_quantile_model_median_matches_pytorch(void **state) {
    (void)state;
    if (!have_torch()) skip();
    char list[2048] = "";
    size_t used = 0;
    for (int k = 0; k < AC_ATTN_COUNT; k++) {
        const char *kind = ac_attention_kind_name((ac_attention_kind)k), *mode = MODES[k % 2];
        int rc = sh("'%s' train tiny.ini --quiet --out quantile-%s --set model.attention=%s "
                    "--set model.channels=%s --set model.quantiles=0.1,0.5,0.9",
                    tu_bin(), kind, kind, mode);
        if (rc != 0) fail_msg("train %s/%s: exit %d: %s", kind, mode, rc, out);
        used += (size_t)snprintf(list + used, sizeof list - used, " quantile-%s/best.h5", kind);
    }
    int rc = sh(PYTHON " '%s' parity%s series.csv --rows 3 --attncast '%s'", compare_script(), list,
                tu_bin());
    print_message("%s", out);
    if (rc != 0) fail_msg("parity: exit %d: %s", rc, out);
    if (!strstr(out, "parity OK")) fail_msg("no 'parity OK' in: %s", out);
    char want[64];
    snprintf(want, sizeof want, "%d checkpoints x 3 windows", AC_ATTN_COUNT);
    if (!strstr(out, want)) fail_msg("not '%s': %s", want, out);
}

/* The check is not vacuous: a binary whose forecast is wrong fails it, exit 1. */
static void test_parity_fails_on_a_wrong_forecast(void **state) {
    (void)state;
    if (!have_torch()) skip();
    if (sh("'%s' train tiny.ini --quiet --out run-wrong", tu_bin()) != 0)
        fail_msg("train: %s", out);
    char path[512];
    snprintf(path, sizeof path, "%s/fake-attncast", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* the real forecast, with channel b's first step moved by 0.01 (original units) */
    fprintf(f,
            "#!/bin/sh\n'%s' \"$@\" | awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if "
            "($i == \"b\") c = i } NR == 2 { $c = $c + 0.01 } { print }'\n",
            tu_bin());
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    int rc =
        sh(PYTHON " '%s' parity run-wrong/best.h5 series.csv --rows 2 --attncast ./fake-attncast",
           compare_script());
    if (rc != 1) fail_msg("exit %d (wanted 1): %s", rc, out);
    if (!strstr(out, "parity FAILED")) fail_msg("no 'parity FAILED' in: %s", out);
}

/* The train ratio of one round: attncast's windows/s over PyTorch's, from per_round. */
static double round_train_ratio(const cJSON *round, const char *kind, const char **first) {
    const cJSON *cell = cJSON_GetObjectItemCaseSensitive(round, kind);
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(cell, "order");
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(cell, "train_windows_per_s");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(train, "attncast");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(train, "torch");
    if (!cJSON_IsArray(order) || !cJSON_IsNumber(a) || !cJSON_IsNumber(t) || !(t->valuedouble > 0))
        fail_msg("round without order and both sides' windows/s");
    *first = cJSON_GetArrayItem(order, 0)->valuestring;
    return a->valuedouble / t->valuedouble;
}

/* bench --rounds 2: each round measures both sides of every kind, attncast first in round 1 and
 * PyTorch first in round 2, and the reported ratio is the median (for two rounds, the mean) of
 * the rounds' paired ratios, inside the reported range. */
static void test_bench_rounds_pair_the_two_sides(void **state) {
    (void)state;
    if (!have_torch()) skip();
    int rc = sh(PYTHON " '%s' bench --preset small --kinds dot --rounds 2 --seconds 0.05 "
                       "--ceiling-size 64 --attncast '%s' --json 2>&1",
                compare_script(), tu_bin());
    if (rc != 0) fail_msg("bench: exit %d: %s", rc, out);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "rounds")->valueint, 2);
    const cJSON *rounds = cJSON_GetObjectItemCaseSensitive(root, "per_round");
    assert_int_equal(cJSON_GetArraySize(rounds), 2);
    const char *first1, *first2;
    double r1 = round_train_ratio(cJSON_GetArrayItem(rounds, 0), "dot", &first1);
    double r2 = round_train_ratio(cJSON_GetArrayItem(rounds, 1), "dot", &first2);
    assert_string_equal(first1, "attncast");
    assert_string_equal(first2, "torch");
    const cJSON *ratio =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "ratio_attncast_over_torch"), 0);
    const cJSON *range =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "ratio_range"), 0);
    double median = cJSON_GetObjectItemCaseSensitive(ratio, "train_windows_per_s")->valuedouble;
    const cJSON *span = cJSON_GetObjectItemCaseSensitive(range, "train_windows_per_s");
    double lo = cJSON_GetArrayItem(span, 0)->valuedouble,
           hi = cJSON_GetArrayItem(span, 1)->valuedouble;
    assert_true(fabs(median - (r1 + r2) / 2) <= 1e-9 * median);
    assert_true(fabs(lo - fmin(r1, r2)) <= 1e-9 * lo && fabs(hi - fmax(r1, r2)) <= 1e-9 * hi);
    /* every other ratio is there too, from the same pairs */
    for (const char *const *key =
             (const char *const[]){"latency_median_us", "batch256_windows_per_s",
                                   "train_peak_rss_mib", NULL};
         *key; key++)
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ratio, *key)))
            fail_msg("no %s ratio in: %s", *key, out);
    cJSON_Delete(root);
    rc = sh(PYTHON " '%s' bench --rounds 0 2>&1", compare_script());
    if (rc == 0 || !strstr(out, "--rounds must be >= 1"))
        fail_msg("--rounds 0: exit %d: %s", rc, out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predict_matches_pytorch_for_every_kind_and_channel_mode),
        cmocka_unit_test(test_last_value_anchor_matches_pytorch_within_1e_5),
        cmocka_unit_test(test_quantile_model_median_matches_pytorch),
        cmocka_unit_test(test_parity_fails_on_a_wrong_forecast),
        cmocka_unit_test(test_bench_rounds_pair_the_two_sides),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
