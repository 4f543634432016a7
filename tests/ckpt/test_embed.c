/* test_embed.c - the embedding API: a saved model loads, forecasts in original units exactly
 * as the forecaster does on scaled values, refuses non-finite windows, and gives the same
 * answers from many threads at once. Its bounds: a model without /calibration offers no
 * conformal interval; a calibrated one's are the point -+ the half-width in original units; a
 * quantile model's quantiles are sorted with the median as the point, its intervals their
 * symmetric pairs after the conformal ones; the bounds too agree across threads. */
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

/* the calibrated checkpoint's half-width of level k at step h, channel c (z-scored scale) */
#define HALFWIDTH(k, h, c) (0.1 * ((k) + 1) + 0.01 * (h) + 0.001 * (c))

static char dir[128], path[256], cal_path[256], q_path[256];
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
    ac_scaler scaler = {.channels = C, .columns = C, .mean = mean, .std = sd};
    char nx[] = "x", ny[] = "y", nz[] = "z";
    char *names[C] = {nx, ny, nz};
    ac_ckpt_contents contents = {
        .config = &cfg, .model = model, .scaler = &scaler, .channel_names = names};
    ac_status st = ac_ckpt_write(path, &contents, &err);
    /* the same model with two conformal levels: half-width 0.1 (k + 1) + 0.01 h + 0.001 c */
    double cal_levels[2] = {0.8, 0.95}, halfwidth[2 * H * C];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < H * C; i++) halfwidth[k * H * C + i] = HALFWIDTH(k, i / C, i % C);
    ac_calibration cal = {.count = 2,
                          .levels = cal_levels,
                          .horizon = H,
                          .channels = C,
                          .windows = 40,
                          .halfwidth = halfwidth};
    snprintf(cal_path, sizeof cal_path, "%s/calibrated.h5", dir);
    contents.calibration = &cal;
    if (st == AC_OK) st = ac_ckpt_write(cal_path, &contents, &err);
    ac_forecaster_free(model);
    /* a quantile model (0.1, 0.5, 0.9) with one conformal level, 0.9 */
    cfg.model.quantiles = (ac_levels){.count = 3, .value = {0.1, 0.5, 0.9}};
    cfg.train.loss = AC_LOSS_PINBALL;
    spec = ac_config_model_spec(&cfg, C);
    model = ac_forecaster_new(&spec, &rng, &err);
    cal.count = 1;
    cal.levels = (double[]){0.9};
    snprintf(q_path, sizeof q_path, "%s/quantile.h5", dir);
    contents.model = model;
    if (st == AC_OK && model) st = ac_ckpt_write(q_path, &contents, &err);
    if (st != AC_OK) fprintf(stderr, "setup: %s\n", err.msg);
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
    /* the loaded model's linear weights are packed for the own kernels; unpacked, the forecast
     * is the same, bit for bit */
    ac_tensor *const *ps = ac_forecaster_params(ck->model);
    int packed = 0;
    for (int i = 0; i < ac_forecaster_param_count(ck->model); i++) {
        packed += ps[i]->packed != NULL;
        assert_true(ps[i]->packed == NULL || ps[i]->ndim == 2);
    }
    assert_true(packed >= 4);
    for (int i = 0; i < ac_forecaster_param_count(ck->model); i++) ac_tensor_unpack(ps[i]);
    ac_tensor *y2 = ac_forecaster_forward(ctx, ck->model, x);
    assert_memory_equal(y2->data, y->data, (size_t)H * C * sizeof(float));
    ac_forecaster_pack_weights(ck->model);
    ac_ctx_free(ctx);
    float bad[L * C];
    memcpy(bad, windows[0], sizeof bad);
    bad[5 * C + 1] = NAN;
    assert_int_equal(ac_model_forecast(m, bad, out, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "row 6"));
    assert_non_null(strstr(err.msg, "'y'"));
    ac_model_free(m);
}

/* A batch of windows gives each window's own forecast and bounds, bit for bit (the own kernels
 * compute every output element the same way whatever the batch), and names a bad window. */
static void test_a_batch_is_each_windows_own_forecast(void **state) {
    (void)state;
    ac_gemm_backend before = ac_gemm_get_backend();
    ac_gemm_set_backend(AC_GEMM_OWN);
    ac_error err;
    ac_model *m = ac_model_load(cal_path, &err);
    assert_non_null(m);
    int I = ac_model_interval_count(m);
    assert_true(I > 0);
    static float point[WINDOWS][H * C], lo[WINDOWS][4 * H * C], hi[WINDOWS][4 * H * C];
    static float one[H * C], one_lo[4 * H * C], one_hi[4 * H * C];
    assert_true(I <= 4);
    assert_int_equal(ac_model_forecast_batch(m, WINDOWS, NULL, &windows[0][0], NULL, NULL,
                                             &point[0][0], &lo[0][0], &hi[0][0], NULL, &err),
                     AC_OK);
    for (int w = 0; w < WINDOWS; w++) {
        assert_int_equal(ac_model_forecast_bounds(m, windows[w], one, one_lo, one_hi, NULL, &err),
                         AC_OK);
        assert_memory_equal(point[w], one, sizeof one);
        /* the batch's bounds are packed I x H x C per window */
        assert_memory_equal(&lo[0][0] + (size_t)w * I * H * C, one_lo,
                            (size_t)I * H * C * sizeof(float));
        assert_memory_equal(&hi[0][0] + (size_t)w * I * H * C, one_hi,
                            (size_t)I * H * C * sizeof(float));
    }
    static float bad[WINDOWS][L * C];
    memcpy(bad, windows, sizeof bad);
    bad[2][7] = INFINITY;
    assert_int_equal(ac_model_forecast_batch(m, WINDOWS, NULL, &bad[0][0], NULL, NULL, &point[0][0],
                                             NULL, NULL, NULL, &err),
                     AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "window 3 (of 20): forecast window row 3"));
    assert_int_equal(ac_model_forecast_batch(m, 0, NULL, &bad[0][0], NULL, NULL, &point[0][0], NULL,
                                             NULL, NULL, &err),
                     AC_ERR_INVALID);
    ac_model_free(m);
    ac_gemm_set_backend(before);
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

static void test_a_model_without_calibration_offers_no_interval(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(path, &err);
    assert_non_null(m);
    assert_int_equal(ac_model_interval_count(m), 0);
    assert_false(ac_model_interval(m, 0, NULL, NULL));
    assert_int_equal(ac_model_quantile_count(m), 0);
    assert_true(ac_model_quantile_level(m, 0) == 0.0);
    float point[H * C], plain[H * C], lo[1] = {-7}, hi[1] = {-7}, q[1] = {-7};
    assert_int_equal(ac_model_forecast_bounds(m, windows[1], point, lo, hi, q, &err), AC_OK);
    assert_int_equal(ac_model_forecast(m, windows[1], plain, &err), AC_OK);
    assert_memory_equal(point, plain, sizeof point);
    assert_true(lo[0] == -7 && hi[0] == -7 && q[0] == -7); /* nothing to write: untouched */
    float bad[L * C];
    memcpy(bad, windows[1], sizeof bad);
    bad[2] = INFINITY;
    assert_int_equal(ac_model_forecast_bounds(m, bad, point, lo, hi, q, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'z'"));
    ac_model_free(m);
}

static void test_conformal_bounds_are_the_point_and_the_unscaled_half_width(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(cal_path, &err);
    assert_non_null(m);
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    assert_int_equal(ac_model_interval_count(m), 2);
    ac_interval_method method;
    double level;
    assert_true(ac_model_interval(m, 1, &method, &level));
    assert_int_equal(method, AC_INTERVAL_CONFORMAL);
    assert_true(level == 0.95);
    assert_false(ac_model_interval(m, 2, &method, &level));
    assert_false(ac_model_interval(m, -1, &method, &level));
    float point[H * C], plain[H * C], lo[2 * H * C], hi[2 * H * C];
    assert_int_equal(ac_model_forecast_bounds(m, windows[2], point, lo, hi, NULL, &err), AC_OK);
    assert_int_equal(ac_model_forecast(m, windows[2], plain, &err), AC_OK);
    assert_memory_equal(point, plain, sizeof point);
    for (int k = 0; k < 2; k++)
        for (int h = 0; h < H; h++)
            for (int c = 0; c < C; c++) {
                int i = h * C + c, at = k * H * C + i;
                double w = HALFWIDTH(k, h, c) * ck->scaler.std[c]; /* original units */
                assert_true(fabs(lo[at] - (point[i] - w)) < 1e-4 * (1 + fabs(point[i])));
                assert_true(fabs(hi[at] - (point[i] + w)) < 1e-4 * (1 + fabs(point[i])));
                assert_true(lo[at] <= point[i] && point[i] <= hi[at]);
            }
    /* only the upper bounds wanted */
    float hi2[2 * H * C];
    assert_int_equal(ac_model_forecast_bounds(m, windows[2], NULL, NULL, hi2, NULL, &err), AC_OK);
    assert_memory_equal(hi2, hi, sizeof hi);
    ac_model_free(m);
}

static void test_quantiles_are_sorted_around_the_median_point(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(q_path, &err);
    assert_non_null(m);
    enum { Q = 3 };
    assert_int_equal(ac_model_quantile_count(m), Q);
    assert_true(fabs(ac_model_quantile_level(m, 0) - 0.1) < 1e-6);
    assert_true(fabs(ac_model_quantile_level(m, 2) - 0.9) < 1e-6);
    assert_true(ac_model_quantile_level(m, 3) == 0.0);
    /* the conformal level first, then the pair (0.1, 0.9) */
    assert_int_equal(ac_model_interval_count(m), 2);
    ac_interval_method method;
    double level;
    assert_true(ac_model_interval(m, 0, &method, &level));
    assert_int_equal(method, AC_INTERVAL_CONFORMAL);
    assert_true(level == 0.9);
    assert_true(ac_model_interval(m, 1, &method, &level));
    assert_int_equal(method, AC_INTERVAL_QUANTILE);
    assert_true(fabs(level - 0.8) < 1e-9);
    float point[H * C], plain[H * C], lo[2 * H * C], hi[2 * H * C], q[H * C * Q];
    for (int w = 0; w < WINDOWS; w++) {
        assert_int_equal(ac_model_forecast_bounds(m, windows[w], point, lo, hi, q, &err), AC_OK);
        assert_int_equal(ac_model_forecast(m, windows[w], plain, &err), AC_OK);
        assert_memory_equal(point, plain, sizeof point);
        for (int i = 0; i < H * C; i++) {
            assert_true(q[i * Q] <= q[i * Q + 1] && q[i * Q + 1] <= q[i * Q + 2]);
            assert_true(q[i * Q + 1] == point[i]);
            assert_true(lo[H * C + i] == q[i * Q] && hi[H * C + i] == q[i * Q + 2]);
            assert_true(lo[i] <= point[i] && point[i] <= hi[i]);
        }
    }
    ac_model_free(m);
}

typedef struct bounds_job {
    ac_model *model;
    float lo[WINDOWS][2 * H * C], hi[WINDOWS][2 * H * C];
    int failures;
} bounds_job;

static void *bounds_all(void *arg) {
    bounds_job *j = arg;
    ac_error err;
    for (int rep = 0; rep < 3; rep++)
        for (int w = 0; w < WINDOWS; w++)
            if (ac_model_forecast_bounds(j->model, windows[w], NULL, j->lo[w], j->hi[w], NULL,
                                         &err) != AC_OK)
                j->failures++;
    return NULL;
}

static void test_concurrent_bounds_on_one_model_agree(void **state) {
    (void)state;
    ac_error err;
    ac_model *m = ac_model_load(cal_path, &err);
    static bounds_job serial, jobs[THREADS];
    serial.model = m;
    bounds_all(&serial);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t].model = m;
        assert_int_equal(pthread_create(&threads[t], NULL, bounds_all, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(jobs[t].failures, 0);
        assert_memory_equal(jobs[t].lo, serial.lo, sizeof serial.lo);
        assert_memory_equal(jobs[t].hi, serial.hi, sizeof serial.hi);
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
        cmocka_unit_test(test_a_batch_is_each_windows_own_forecast),
        cmocka_unit_test(test_a_model_without_calibration_offers_no_interval),
        cmocka_unit_test(test_conformal_bounds_are_the_point_and_the_unscaled_half_width),
        cmocka_unit_test(test_quantiles_are_sorted_around_the_median_point),
        cmocka_unit_test(test_concurrent_bounds_on_one_model_agree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
