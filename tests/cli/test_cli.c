/* test_cli.c - the attncast program run as a subprocess: version (and its start-up re-exec),
 * help, wrong verbs and options, and short real runs of bench and bench-ops with JSON output. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char out[1 << 16];

static int run(const char *args) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s", tu_bin(), args);
    return tu_run(cmd, out, sizeof out);
}

static void test_version_names_the_program_and_its_libraries(void **state) {
    (void)state;
    assert_int_equal(run("--version"), 0);
    assert_non_null(strstr(out, "attncast 0."));
    assert_non_null(strstr(out, "OpenBLAS"));
    assert_non_null(strstr(out, "HDF5"));
}

/* With OMP_WAIT_POLICY unset, attncast sets it and starts itself again (src/cli/main.c); under
 * valgrind (whose tools/valgrind.sh sets the variable for every other test) this is the one run
 * of that path, which once could not start there at all. */
static void test_starts_again_to_wait_passively_when_no_policy_is_set(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "unset OMP_WAIT_POLICY; '%s' --version", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "attncast 0."));
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=ACTIVE '%s' --version", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "attncast 0."));
}

static void test_help_lists_every_verb(void **state) {
    (void)state;
    assert_int_equal(run("--help"), 0);
    const char *verbs[] = {"train", "eval",     "predict", "info",  "explain",
                           "sweep", "datasets", "plot",    "bench", "bench-ops"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        assert_non_null(strstr(out, verbs[i]));
    assert_non_null(strstr(out, "ATTNCAST_THREADS"));
}

static void test_no_arguments_prints_usage_and_fails(void **state) {
    (void)state;
    assert_int_equal(run(""), 2);
    assert_non_null(strstr(out, "usage"));
}

static void test_unknown_verb_is_one_line_and_exit_2(void **state) {
    (void)state;
    assert_int_equal(run("trian"), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "unknown verb 'trian'"));
}

/* Matmul FLOPs of one forward pass over one series of N tokens (patch P, width d, feed-forward
 * ff, horizon H), written out here rather than taken from bench.c; *square gets the N^2 part. */
static double forward_flops_per_series(double N, double P, double d, double ff, double layers,
                                       double H, double *square) {
    *square = layers * 2 * 2 * N * N * d;
    return 2 * N * P * d + layers * (4 * 2 * N * d * d + 2 * 2 * N * N * d + 2 * 2 * N * d * ff) +
           2 * N * d * H;
}

/* Under valgrind (tu_time_scale() > 1) bench measures a model of its own config, --preset
 * tiny.ini, instead of the small preset: every FLOP of bench (the ~40 warm-up and timed training
 * windows, the 256-window batch, the 205 latency calls) is ~190 times fewer, and the same JSON keys
 * and FLOP formulas are checked on its sizes. */
static const char TINY_INI[] = "[data]\ncsv = series.csv\nlookback = 32\nhorizon = 8\n"
                               "[model]\nd_model = 16\nheads = 2\nlayers = 1\nd_ff = 32\n"
                               "patch_len = 8\npatch_stride = 4\n";

static void test_bench_json_reports_speed_against_the_ceiling(void **state) {
    (void)state;
    int slowed = tu_time_scale() > 1;
    char dir[256], args[512];
    assert_int_equal(tu_make_temp_dir(dir, sizeof dir, "cli-bench"), 0);
    if (slowed) {
        assert_int_equal(tu_write_file(dir, "tiny.ini", TINY_INI), 0);
        char csv[1 << 13];
        int used = snprintf(csv, sizeof csv, "date,a,b\n");
        for (int t = 0; t < 200; t++)
            used += snprintf(csv + used, sizeof csv - (size_t)used, "2020-01-%04d,%.4f,%.4f\n", t,
                             sin(t * 0.5), cos(t * 0.25));
        assert_int_equal(tu_write_file(dir, "series.csv", csv), 0);
    }
    /* the small preset (8 series of L 96, P 16, stride 8: N 11, d 64, 2 layers, d_ff 128, H 96),
     * or tiny.ini (2 series of L 32, P 8, stride 4: N 7, d 16, 1 layer, d_ff 32, H 8) */
    const char *preset = slowed ? "tiny.ini" : "small";
    double series = slowed ? 2 : 8, P = slowed ? 8 : 16, S = slowed ? 4 : 8, d = slowed ? 16 : 64;
    double ff = slowed ? 32 : 128, layers = slowed ? 1 : 2, H = slowed ? 8 : 96;
    /* a small sgemm ceiling here; the default 1024^3 below, unless the tests run slowed down (as
     * under valgrind, where 1024^3 products take minutes) */
    snprintf(args, sizeof args,
             "bench --preset %s --kinds dot --seconds 0.2 --threads 1 --ceiling-size 96 --rounds 2 "
             "--json",
             preset);
    assert_int_equal(tu_run_in(dir, out, sizeof out, "'%s' %s", tu_bin(), args), 0);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_int_equal(cJSON_GetObjectItem(root, "sgemm_ceiling_size")->valueint, 96);
    assert_int_equal(cJSON_GetObjectItem(root, "rounds")->valueint, 2); /* the best of two */
    assert_true(cJSON_GetObjectItem(root, "sgemm_ceiling_gflops")->valuedouble > 0);
    cJSON *kinds = cJSON_GetObjectItem(root, "kinds");
    assert_int_equal(cJSON_GetArraySize(kinds), 1);
    cJSON *dot = cJSON_GetArrayItem(kinds, 0);
    assert_string_equal(cJSON_GetObjectItem(dot, "kind")->valuestring, "dot");
    const char *keys[] = {"train_windows_per_s", "train_gflops",           "latency_median_us",
                          "latency_p90_us",      "batch256_windows_per_s", "peak_rss_mib"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(cJSON_GetObjectItem(dot, keys[i])->valuedouble > 0);
    /* the matmul FLOPs per training window: 3 x forward, forward per series = input 2*N*P*d +
     * layers x (4*2*N*d*d + 2*2*N*N*d + 2*2*N*d*ff) + head 2*N*d*H; the small preset's is
     * 1,661,440 (x 8 series x 3 = 39,874,560), of which the N^2 part is 61,952 */
    double N = (slowed ? 32 - P : 96 - P) / S + 1, square;
    double per_series = forward_flops_per_series(N, P, d, ff, layers, H, &square);
    if (!slowed) assert_true(per_series == 1661440.0 && square == 61952.0);
    assert_true(fabs(cJSON_GetObjectItem(dot, "train_flops_per_window")->valuedouble -
                     3 * series * per_series) < 1.0);
    assert_true(fabs(cJSON_GetObjectItem(dot, "attention_square_flop_fraction")->valuedouble -
                     square / per_series) < 1e-9);
    assert_true(cJSON_GetObjectItem(dot, "train_peak_rss_mib")->valuedouble > 0);
    /* the time inside cblas_sgemm (ac_blas_stats): a share of the steps' time, at 1 thread at
     * most all of it; its FLOPs per window are the products' alone (no N^2 part), 3 x forward:
     * each product's forward, dW and dX, less the input projection's dX (the windows need no
     * gradient) plus that projection once more (the forecaster releases it and backward
     * recomputes it) */
    double share = cJSON_GetObjectItem(dot, "train_sgemm_time_fraction")->valuedouble;
    assert_true(share > 0 && share <= 1.0);
    assert_true(cJSON_GetObjectItem(dot, "train_sgemm_gflops")->valuedouble > 0);
    assert_true(fabs(cJSON_GetObjectItem(dot, "train_sgemm_flops_per_window")->valuedouble -
                     3 * series * (per_series - square)) < 1.0);
    double bound = cJSON_GetObjectItem(dot, "ceiling_fraction_sgemm_only")->valuedouble;
    assert_true(fabs(bound - cJSON_GetObjectItem(dot, "ceiling_fraction")->valuedouble / share) <=
                1e-9 * bound);
    cJSON_Delete(root);
    /* a longer lookback at the same patching: N = (192 - 16) / 8 + 1 = 23 tokens; slowed down,
     * (56 - 8) / 4 + 1 = 13 */
    int lookback = slowed ? 56 : 192;
    snprintf(args, sizeof args,
             "bench --preset %s --kinds cosine --seconds 0.2 --threads 1 --lookback %d %s --json",
             preset, lookback, slowed ? "--ceiling-size 64" : "");
    assert_int_equal(tu_run_in(dir, out, sizeof out, "'%s' %s", tu_bin(), args), 0);
    root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_int_equal(cJSON_GetObjectItem(root, "lookback")->valueint, lookback);
    assert_int_equal(cJSON_GetObjectItem(root, "sgemm_ceiling_size")->valueint, slowed ? 64 : 1024);
    assert_true(cJSON_GetObjectItem(root, "sgemm_ceiling_gflops")->valuedouble > 0);
    cJSON *cos = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "kinds"), 0);
    assert_string_equal(cJSON_GetObjectItem(cos, "kind")->valuestring, "cosine");
    N = (lookback - P) / S + 1;
    assert_true(N == (slowed ? 13 : 23));
    per_series = forward_flops_per_series(N, P, d, ff, layers, H, &square);
    assert_true(fabs(cJSON_GetObjectItem(cos, "attention_square_flop_fraction")->valuedouble -
                     square / per_series) < 1e-9);
    cJSON_Delete(root);
    assert_int_equal(tu_remove_dir(dir), 0);
    assert_int_equal(run("bench --lookback 8"), 2);
    assert_non_null(strstr(out, "patch length"));
    assert_int_equal(run("bench --preset huge"), 2);
    assert_non_null(strstr(out, "not small, large or a readable config file"));
    assert_int_equal(run("bench --kinds dotty"), 2);
    assert_non_null(strstr(out, "dotty"));
    assert_int_equal(run("bench --seconds -1"), 2);
    assert_int_equal(run("bench --ceiling-size 0"), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "--ceiling-size"));
    assert_int_equal(run("bench --rounds 21"), 2);
    assert_non_null(strstr(out, "at most 20"));
    assert_int_equal(run("bench --rounds 2 --threads 1 --trace-gemm t.csv"), 2);
    assert_non_null(strstr(out, "drop --rounds"));
    assert_int_equal(run("bench --ceiling-size 9000"), 2);
    assert_non_null(strstr(out, "at most 8192"));
}

static void test_bench_ops_rejects_bad_options_in_one_line(void **state) {
    (void)state;
    assert_int_equal(run("bench-ops --threads abc"), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "--threads"));
    assert_non_null(strstr(out, "abc"));
    assert_int_equal(run("bench-ops --threads"), 2);
    assert_int_equal(run("bench-ops --rounds 0"), 2);
    assert_int_equal(run("bench-ops --rows -3"), 2);
    assert_non_null(strstr(out, "--rows"));
    assert_int_equal(run("bench-ops --rows 100000"), 2);
    assert_non_null(strstr(out, "at most 65536"));
    assert_int_equal(run("bench-ops --frobnicate"), 2);
    assert_non_null(strstr(out, "--frobnicate"));
    assert_int_equal(run("bench-ops --help"), 0);
    assert_non_null(strstr(out, "usage"));
}

static void test_bad_thread_environment_is_reported(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ATTNCAST_THREADS=many '%s' bench-ops --rounds 1", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "ATTNCAST_THREADS"));
}

/* Under valgrind (slowed) every shape gets 64 rows: the 512^3 product alone took minutes. */
static void test_bench_ops_json_reports_every_shape_with_identical_results(void **state) {
    (void)state;
    int slowed = tu_time_scale() > 1;
    assert_int_equal(run(slowed ? "bench-ops --rounds 1 --threads 1 --rows 64 --json"
                                : "bench-ops --rounds 1 --threads 1 --json"),
                     0);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_int_equal(cJSON_GetObjectItem(root, "threads")->valueint, 1);
    cJSON *shapes = cJSON_GetObjectItem(root, "shapes");
    assert_int_equal(cJSON_GetArraySize(shapes), 4);
    cJSON *row;
    cJSON_ArrayForEach(row, shapes) {
        assert_true(cJSON_GetObjectItem(row, "sgemm_gflops")->valuedouble > 0.0);
        assert_true(cJSON_GetObjectItem(row, "op_gflops")->valuedouble > 0.0);
        assert_true(cJSON_GetObjectItem(row, "max_abs_diff")->valuedouble == 0.0);
    }
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(shapes, 3), "shape")->valuestring,
                        slowed ? "(64x512)x(512x512)" : "(512x512)x(512x512)");
    cJSON_Delete(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_names_the_program_and_its_libraries),
        cmocka_unit_test(test_starts_again_to_wait_passively_when_no_policy_is_set),
        cmocka_unit_test(test_help_lists_every_verb),
        cmocka_unit_test(test_no_arguments_prints_usage_and_fails),
        cmocka_unit_test(test_unknown_verb_is_one_line_and_exit_2),
        cmocka_unit_test(test_bench_json_reports_speed_against_the_ceiling),
        cmocka_unit_test(test_bench_ops_rejects_bad_options_in_one_line),
        cmocka_unit_test(test_bad_thread_environment_is_reported),
        cmocka_unit_test(test_bench_ops_json_reports_every_shape_with_identical_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
