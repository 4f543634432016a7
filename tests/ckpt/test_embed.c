/* test_embed.c - the embedding API: a saved model loads, forecasts in original units exactly
 * as the forecaster does on scaled values, refuses non-finite windows, and gives the same
 * answers from many threads at once. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/embed.h"
#include "support/testutil.h"

enum { L = 16, H = 4, C = 3, THREADS = 6, WINDOWS = 20 };

static char dir[128], path[256];
static float windows[WINDOWS][L * C];

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "embed") != 0) return -1;
    snprintf(path, sizeof path, "%s/model.h5", dir);
    ac_config cfg;
    ac_config_defaults(&cfg);
    snprintf(cfg.data.csv, sizeof cfg.data.csv, "x.csv");
    cfg.data.lookback = L;
    cfg.data.horizon = H;
    cfg.model.d_model = 8;
    cfg.model.heads = 2;
    cfg.model.layers = 1;
    cfg.model.d_ff = 8;
    cfg.model.patch_len = 4;
    cfg.model.patch_stride = 4;
    ac_model_spec spec = ac_config_model_spec(&cfg, C);
    ac_rng rng;
    ac_rng_seed(&rng, 3, 0);
    ac_error err;
    ac_forecaster *model = ac_forecaster_new(&spec, &rng, &err);
    double mean[C] = {10, -5, 0.5}, sd[C] = {2, 0.5, 1};
    ac_scaler scaler = {.channels = C, .mean = mean, .std = sd};
    char nx[] = "x", ny[] = "y", nz[] = "z";
    char *names[C] = {nx, ny, nz};
    ac_ckpt_contents contents = {
        .config = &cfg, .model = model, .scaler = &scaler, .channel_names = names};
    ac_status st = ac_ckpt_write(path, &contents, &err);
    ac_forecaster_free(model);
    for (int w = 0; w < WINDOWS; w++)
        for (int i = 0; i < L * C; i++)
            windows[w][i] = (float)(mean[i % C] + sd[i % C] * sin(0.3 * i + w));
    return st == AC_OK ? 0 : -1;
}

static void test_load_reports_the_shape_of_the_model(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(path, &err);
    assert_non_null(m);
    assert_int_equal(ac_model_lookback(m), L);
    assert_int_equal(ac_model_horizon(m), H);
    assert_int_equal(ac_model_channels(m), C);
    assert_string_equal(ac_model_channel_name(m, 2), "z");
    assert_null(ac_model_channel_name(m, 3));
    ac_model_free(m);
    assert_null(ac_model_load("/nonexistent/model.h5", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/model.h5"));
}

static void test_forecast_is_the_forecaster_in_original_units(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(path, &err);
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    float out[H * C];
    assert_int_equal(ac_model_forecast(m, windows[0], out, &err), AC_OK);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){1, L, C});
    for (int i = 0; i < L * C; i++)
        x->data[i] =
            (float)(((double)windows[0][i] - ck->scaler.mean[i % C]) / ck->scaler.std[i % C]);
    ac_tensor *y = ac_forecaster_forward(ctx, ck->model, x);
    for (int i = 0; i < H * C; i++)
        assert_true(out[i] == (float)ac_scaler_unscale(&ck->scaler, i % C, y->data[i]));
    ac_ctx_free(ctx);
    float bad[L * C];
    memcpy(bad, windows[0], sizeof bad);
    bad[5 * C + 1] = NAN;
    assert_int_equal(ac_model_forecast(m, bad, out, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "row 6"));
    assert_non_null(strstr(err.msg, "'y'"));
    ac_model_free(m);
}

typedef struct job {
    ac_model *model;
    float out[WINDOWS][H * C];
    int failures;
} job;

static void *forecast_all(void *arg) {
    job *j = arg;
    ac_error err;
    for (int rep = 0; rep < 5; rep++)
        for (int w = 0; w < WINDOWS; w++)
            if (ac_model_forecast(j->model, windows[w], j->out[w], &err) != AC_OK) j->failures++;
    return NULL;
}

static void test_concurrent_forecasts_on_one_model_agree(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(path, &err);
    static job serial, jobs[THREADS];
    serial.model = m;
    forecast_all(&serial);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t].model = m;
        assert_int_equal(pthread_create(&threads[t], NULL, forecast_all, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(jobs[t].failures, 0);
        assert_memory_equal(jobs[t].out, serial.out, sizeof serial.out);
    }
    ac_model_free(m);
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_reports_the_shape_of_the_model),
        cmocka_unit_test(test_forecast_is_the_forecaster_in_original_units),
        cmocka_unit_test(test_concurrent_forecasts_on_one_model_agree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
