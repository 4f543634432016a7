/* test_quantile_cli.c - a quantile model (model.quantiles) through the real binary: `train` of a
 * tiny config completes, its config.ini names the levels and loss = pinball, best.h5 says
 * format_version 2 with a head of H x Q rows; `eval` and `predict` of it give the median's
 * finite forecasts; a point loss with quantiles and a bad level are config errors (exit 2) that
 * name the keys and the token. */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
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

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* Two noisy cycles. */
static void row(FILE *f, int t, double noise, void *user) {
    (void)user;
    fprintf(f, "%.6f,%.6f\n", 5.0 + sin(t * 0.26) + 0.3 * noise, cos(t * 0.13) - noise);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "quantile-cli") != 0 ||
        tu_write_csv(dir, "wave.csv", "a,b", 400, 7u, row, NULL) != 0)
        return -1;
    return tu_write_file(dir, "q.ini",
                         "[data]\ncsv = wave.csv\nlookback = 24\nhorizon = 6\n"
                         "[model]\nquantiles = 0.1,0.5,0.9\nd_model = 8\nheads = 2\nlayers = 1\n"
                         "d_ff = 16\npatch_len = 6\npatch_stride = 3\n"
                         "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void test_a_tiny_quantile_model_trains_evaluates_and_predicts(void **state) {
    (void)state;
    int rc = sh("'%s' train q.ini --quiet --out run", tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    rc = sh("cat run/config.ini");
    if (rc != 0 || !strstr(out, "\nquantiles = 0.1,0.5,0.9\n") ||
        !strstr(out, "\nloss = pinball\n"))
        fail_msg("config.ini does not name the levels and the pinball loss: %s", out);
    rc = sh("h5dump -a format_version run/best.h5");
    if (rc != 0 || !strstr(out, "(0): 2")) fail_msg("format_version is not 2: %s", out);
    rc = sh("h5dump -H -d /params/head.weight run/best.h5");
    if (rc != 0 || !strstr(out, "( 18, 56 )")) /* H Cout Q = 6 x 1 x 3, N d = 7 x 8 */
        fail_msg("head.weight is not [18, 56]: %s", out);
    rc = sh("'%s' eval run/best.h5 --json", tu_bin());
    if (rc != 0) fail_msg("eval: exit %d: %s", rc, out);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    const cJSON *mse =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"), "mse");
    bool finite = cJSON_IsNumber(mse) && isfinite(mse->valuedouble) && mse->valuedouble > 0;
    cJSON_Delete(root);
    if (!finite) fail_msg("no finite model MSE in eval --json");
    rc = sh("'%s' predict run/best.h5 --input wave.csv", tu_bin());
    if (rc != 0) fail_msg("predict: exit %d: %s", rc, out);
    int lines = 0;
    for (const char *c = out; *c; c++) lines += *c == '\n';
    if (lines != 7 || strstr(out, "nan")) fail_msg("predict gave: %s", out);
    rc = sh("test -s run/test_forecasts.csv");
    if (rc != 0) fail_msg("no test_forecasts.csv");
}

static void test_a_point_loss_or_a_bad_level_is_a_config_error(void **state) {
    (void)state;
    int rc = sh("'%s' train q.ini --quiet --out bad --set train.loss=mse", tu_bin());
    if (rc != 2 || !strstr(out, "train.loss") || !strstr(out, "model.quantiles") ||
        !strstr(out, "pinball"))
        fail_msg("loss = mse with quantiles: exit %d: %s", rc, out);
    rc = sh("'%s' train q.ini --quiet --out bad --set model.quantiles=0.1,x5,0.9", tu_bin());
    if (rc != 2 || !strstr(out, "model.quantiles") || !strstr(out, "'x5'"))
        fail_msg("a bad level: exit %d: %s", rc, out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_tiny_quantile_model_trains_evaluates_and_predicts),
        cmocka_unit_test(test_a_point_loss_or_a_bad_level_is_a_config_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
