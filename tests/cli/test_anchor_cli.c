/* test_anchor_cli.c - `model.anchor = last` through the real binary: on a random walk no trained
 * epoch beats the untrained model (the naive repeat), so `train` says it kept it, writes
 * best.h5 all the same, and `eval` of that file scores exactly as the naive baseline; a resumed
 * run ends with the same weights; the checkpoint says format_version 2. */
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

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* A random walk from 100 with uniform steps in [-1, 1); user: the level. */
static void step(FILE *f, int t, double noise, void *user) {
    (void)t;
    double *level = user;
    *level += noise * 2.0;
    fprintf(f, "%.6f\n", *level);
}

static int setup(void **state) {
    (void)state;
    double level = 100.0;
    if (tu_make_temp_dir(dir, sizeof dir, "anchor-cli") != 0 ||
        tu_write_csv(dir, "walk.csv", "price", 600, 12345u, step, &level) != 0)
        return -1;
    /* a learning rate high enough that training only adds noise */
    return tu_write_file(dir, "walk.ini",
                         "[data]\ncsv = walk.csv\nlookback = 24\nhorizon = 6\n"
                         "[model]\nanchor = last\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\n"
                         "patch_len = 6\npatch_stride = 3\n"
                         "[train]\nepochs = 3\nlr = 0.2\nbatch_size = 16\nseed = 3\nthreads = 1\n"
                         "patience = 0\n");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static double mse_of(const cJSON *obj) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "mse");
    if (!cJSON_IsNumber(m)) fail_msg("no mse in the JSON");
    return m->valuedouble;
}

static void test_a_random_walk_keeps_the_naive_start_and_scores_as_naive(void **state) {
    (void)state;
    int rc = sh("'%s' train walk.ini --out run", tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    if (!strstr(out, "no epoch beat the untrained model"))
        fail_msg("no word of the kept start in: %s", out);
    rc = sh("'%s' eval run/best.h5 --json", tu_bin());
    if (rc != 0) fail_msg("eval: exit %d: %s", rc, out);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    double model = mse_of(cJSON_GetObjectItemCaseSensitive(root, "model"));
    double naive = mse_of(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "baselines"), "naive"));
    cJSON_Delete(root);
    if (!(model == naive)) fail_msg("model MSE %.17g, naive %.17g", model, naive);
    rc = sh("h5dump -a format_version run/best.h5");
    if (rc != 0 || !strstr(out, "(0): 2")) fail_msg("format_version is not 2: %s", out);

    /* stopped after one epoch and resumed: the same final weights (last.h5), bit for bit */
    rc = sh("'%s' train walk.ini --quiet --out resumed --stop-after 1", tu_bin());
    if (rc != 0) fail_msg("train --stop-after 1: exit %d: %s", rc, out);
    rc = sh("'%s' train walk.ini --quiet --resume resumed", tu_bin());
    if (rc != 0) fail_msg("resume: exit %d: %s", rc, out);
    rc = sh("h5dump -d /params/head.weight run/last.h5 > a.txt && "
            "h5dump -d /params/head.weight resumed/last.h5 > b.txt && "
            "sed 1d a.txt > a2.txt && sed 1d b.txt > b2.txt && cmp a2.txt b2.txt");
    if (rc != 0) fail_msg("the resumed run's last.h5 differs: %s", out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_random_walk_keeps_the_naive_start_and_scores_as_naive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
