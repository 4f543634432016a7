/* test_parity_fixtures.c - attncast against the PyTorch reference on every build, without
 * Python: tests/fixtures/parity/<kind>_<mode>.h5 (written by tools/write_parity_fixtures.py)
 * each hold a model-only checkpoint written by that script and what tools/attncast_torch.py
 * computed from its weights for a fixed batch: the forecast, the MSE loss and every parameter's
 * gradient. attncast loads the file, computes the same, and must agree: forecast within 1e-5
 * on scaled values, loss within 1e-5 relative, each gradient within 1e-5 + 1e-4 of its largest
 * entry. Every attention kind in both channel modes (independent with the last-value anchor,
 * mixed with the mean anchor and a causal mask). Quantile models (<kind>_<mode>_quantile.h5,
 * levels 0.1,0.5,0.9; every kind once, both modes): the raw [B, H, C, Q] forecast, the pinball
 * loss and its gradients, and inference's sorted levels and median point within 1e-5.
 * Covariate models (<name>_covariates.h5, MODEL.md version 2 "Covariates"): x [B, L, C + Kp + Kf]
 * and the future covariates [B, H, Kf] through ac_forecaster_forward_future, the same checks;
 * independent with the last-value anchor (past, future and calendar columns), mixed with the mean
 * anchor and a causal mask (past and future; past only), and a quantile model. */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hdf5.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"

/* The float32 dataset at name in file as a new buffer of its element count (*n), or NULL. */
static float *read_floats(hid_t file, const char *name, int64_t *n) {
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t space = H5Dget_space(d);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    float *buf = count > 0 ? malloc((size_t)count * sizeof(float)) : NULL;
    if (buf && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    H5Sclose(space);
    H5Dclose(d);
    *n = buf ? (int64_t)count : 0;
    return buf;
}

static double read_double(hid_t file, const char *name) {
    double v = NAN;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) fail_msg("no %s", name);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
    H5Dclose(d);
    return v;
}

/* A tensor of the context holding the fixture's dataset name, shaped [B, rows, C] (C the columns
 * of a step). */
static ac_tensor *fixture_tensor(ac_ctx *ctx, hid_t file, const char *name, int rows, int C,
                                 int *B) {
    int64_t n;
    float *v = read_floats(file, name, &n);
    if (!v) fail_msg("no %s in the fixture", name);
    *B = (int)(n / ((int64_t)rows * C));
    assert_int_equal((int64_t)*B * rows * C, n);
    ac_tensor *t = ac_tensor_temp(ctx, 3, (int[]){*B, rows, C});
    assert_non_null(t);
    memcpy(t->data, v, (size_t)n * sizeof(float));
    free(v);
    return t;
}

/* The fixture's future covariates [B, H, Kf], or NULL for a model without them (whose fixture
 * must have none). */
static ac_tensor *fixture_future(ac_ctx *ctx, hid_t file, const ac_model_spec *s, int B) {
    if (s->future_covariates == 0) {
        assert_true(H5Lexists(file, "/fixture/future", H5P_DEFAULT) <= 0);
        return NULL;
    }
    int Bf;
    ac_tensor *f =
        fixture_tensor(ctx, file, "/fixture/future", s->horizon, s->future_covariates, &Bf);
    assert_int_equal(Bf, B);
    return f;
}

static void check_case(const char *path) {
    ac_checkpoint *ck = NULL;
    ac_error err;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("%s", err.msg);
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    int B, B2;
    ac_tensor *x =
        fixture_tensor(ctx, file, "/fixture/x", s->lookback, ac_model_spec_columns(s), &B);
    ac_tensor *y = fixture_tensor(ctx, file, "/fixture/y", s->horizon, s->channels, &B2);
    assert_int_equal(B, B2);
    ac_tensor *future = fixture_future(ctx, file, s, B);

    ac_tensor *pred = ac_forecaster_forward_future(ctx, ck->model, x, future, NULL);
    if (!pred) fail_msg("%s: forward: %s", path, ac_ctx_error(ctx));
    assert_int_equal(pred->ndim, s->quantile_count ? 4 : 3);
    int64_t n;
    float *want = read_floats(file, "/fixture/forecast", &n);
    assert_int_equal(n, pred->size);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)pred->data[i] - want[i]));
    free(want);
    if (worst > 1e-5) fail_msg("%s: forecast differs from PyTorch's by %.3g", path, worst);
    if (s->quantile_count) { /* inference: sorted levels, the median as point */
        int64_t cells = pred->size / s->quantile_count;
        float *point = malloc((size_t)cells * sizeof(float));
        float *sorted = malloc((size_t)pred->size * sizeof(float));
        assert_non_null(point);
        assert_non_null(sorted);
        ac_forecast_point(s, pred->data, cells, point);
        memcpy(sorted, pred->data, (size_t)pred->size * sizeof(float));
        ac_forecast_sort_quantiles(sorted, cells, s->quantile_count);
        const char *names[2] = {"/fixture/point", "/fixture/sorted"};
        const float *got[2] = {point, sorted};
        for (int k = 0; k < 2; k++) {
            want = read_floats(file, names[k], &n);
            if (!want) fail_msg("%s: no %s", path, names[k]);
            assert_int_equal(n, k ? pred->size : cells);
            for (int64_t i = 0; i < n; i++)
                if (fabs((double)got[k][i] - want[i]) > 1e-5)
                    fail_msg("%s: %s differs from PyTorch's at %lld", path, names[k], (long long)i);
            free(want);
        }
        free(point);
        free(sorted);
    }

    ac_loss_kind kind = s->quantile_count ? AC_LOSS_PINBALL : AC_LOSS_MSE;
    ac_tensor *loss = ac_forecast_loss(ctx, s, kind, pred, y);
    assert_non_null(loss);
    double torch_loss = read_double(file, "/fixture/loss");
    if (fabs(loss->data[0] - torch_loss) > 1e-5 * fabs(torch_loss))
        fail_msg("%s: loss %.9g, PyTorch %.9g", path, (double)loss->data[0], torch_loss);

    ac_tensor *const *params = ac_forecaster_params(ck->model);
    int count = ac_forecaster_param_count(ck->model);
    /* the largest difference over the tensor's largest entry, for tensors with gradients above
     * round-off (k_proj.bias's is zero in exact arithmetic for dot and gated scores: softmax
     * ignores a shift shared by a row) */
    double worst_grad = 0.0;
    ac_zero_grad(params, count);
    if (ac_backward(ctx, loss) != AC_OK) fail_msg("%s: backward: %s", path, ac_ctx_error(ctx));
    for (int i = 0; i < count; i++) {
        char name[128];
        snprintf(name, sizeof name, "/fixture/grads/%s", params[i]->name);
        float *g = read_floats(file, name, &n);
        if (!g) fail_msg("%s: no %s", path, name);
        assert_int_equal(n, params[i]->size);
        double diff = 0.0, largest = 0.0;
        for (int64_t k = 0; k < n; k++) {
            diff = fmax(diff, fabs((double)params[i]->grad[k] - g[k]));
            largest = fmax(largest, fabs((double)g[k]));
        }
        free(g);
        if (largest > 1e-4) worst_grad = fmax(worst_grad, diff / largest);
        if (diff > 1e-5 + 1e-4 * largest)
            fail_msg("%s: gradient of %s differs from PyTorch's by %.3g (largest entry %.3g)", path,
                     params[i]->name, diff, largest);
    }
    print_message("%s: forecast within %.2g, gradients within %.2g of their largest entry\n",
                  strrchr(path, '/') + 1, worst, worst_grad);
    ac_ctx_free(ctx);
    H5Fclose(file);
    ac_ckpt_free(ck);
}

/* Every kind once as a quantile model, the channel modes taking turns (as the script writes). */
static void test_quantile_models_match_the_pytorch_fixture(void **state) {
    (void)state;
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    bool mode_seen[2] = {false, false};
    for (int k = 0; k < AC_ATTN_COUNT; k++) {
        int mode = k % 2;
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fixtures/parity/%s_%s_quantile.h5", src,
                 ac_attention_kind_name((ac_attention_kind)k),
                 ac_channel_mode_name((ac_channel_mode)mode));
        check_case(path);
        mode_seen[mode] = true;
    }
    assert_true(mode_seen[0] && mode_seen[1]);
}

static void test_every_kind_and_mode_matches_the_pytorch_fixture(void **state) {
    (void)state;
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    for (int k = 0; k < AC_ATTN_COUNT; k++)
        for (int mode = 0; mode < 2; mode++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/tests/fixtures/parity/%s_%s.h5", src,
                     ac_attention_kind_name((ac_attention_kind)k),
                     ac_channel_mode_name((ac_channel_mode)mode));
            check_case(path);
        }
}

/* The covariate cases tools/write_parity_fixtures.py writes (COVARIATE_CASES), with the covariate
 * counts each must have: Kp past and Kf future columns (calendar included), and its quantiles. */
static const struct {
    const char *name;
    int past, future, quantiles;
    ac_channel_mode mode;
    ac_norm_anchor anchor;
    bool causal;
} COVARIATE_CASES[] = {
    {"dot_independent_covariates", 2, 1 + 2, 0, AC_CHANNELS_INDEPENDENT, AC_ANCHOR_LAST, false},
    {"gated_mixed_covariates", 2, 2, 0, AC_CHANNELS_MIXED, AC_ANCHOR_MEAN, true},
    {"additive_mixed_past_covariates", 1, 0, 0, AC_CHANNELS_MIXED, AC_ANCHOR_MEAN, true},
    {"cosine_independent_quantile_covariates", 1, 1 + 4, 3, AC_CHANNELS_INDEPENDENT, AC_ANCHOR_LAST,
     false},
};
#define COVARIATE_CASE_COUNT ((int)(sizeof COVARIATE_CASES / sizeof COVARIATE_CASES[0]))

static void covariate_path(char *path, size_t n, int k) {
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    snprintf(path, n, "%s/tests/fixtures/parity/%s.h5", src, COVARIATE_CASES[k].name);
}

static void test_covariate_models_match_the_pytorch_fixture(void **state) {
    (void)state;
    for (int k = 0; k < COVARIATE_CASE_COUNT; k++) {
        char path[1024];
        covariate_path(path, sizeof path, k);
        ac_checkpoint *ck = NULL;
        ac_error err;
        if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("%s", err.msg);
        const ac_model_spec *s = ac_forecaster_spec(ck->model);
        assert_int_equal(s->past_covariates, COVARIATE_CASES[k].past);
        assert_int_equal(s->future_covariates, COVARIATE_CASES[k].future);
        assert_int_equal(s->quantile_count, COVARIATE_CASES[k].quantiles);
        assert_int_equal(s->channel_mode, COVARIATE_CASES[k].mode);
        assert_int_equal(s->anchor, COVARIATE_CASES[k].anchor);
        assert_int_equal(s->causal, COVARIATE_CASES[k].causal);
        assert_true(s->channels >= 2); /* independent mode copies covariates to every series */
        ac_ckpt_free(ck);
        check_case(path);
    }
}

/* The forecast of a covariate fixture's x (and future), with the entry `at` of x or of the
 * future covariates (when `in_future`) moved by delta; the largest change from the unmoved
 * forecast. */
static double covariate_effect(const char *path, bool in_future, int64_t at, float delta) {
    ac_checkpoint *ck = NULL;
    ac_error err;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("%s", err.msg);
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    int B;
    ac_tensor *x =
        fixture_tensor(ctx, file, "/fixture/x", s->lookback, ac_model_spec_columns(s), &B);
    ac_tensor *future = fixture_future(ctx, file, s, B);
    (in_future ? future : x)->data[at] += delta;
    ac_tensor *pred = ac_forecaster_forward_future(ctx, ck->model, x, future, NULL);
    if (!pred) fail_msg("%s: forward: %s", path, ac_ctx_error(ctx));
    int64_t n;
    float *want = read_floats(file, "/fixture/forecast", &n);
    assert_int_equal(n, pred->size);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)pred->data[i] - want[i]));
    free(want);
    ac_ctx_free(ctx);
    H5Fclose(file);
    ac_ckpt_free(ck);
    return worst;
}

/* The covariate inputs reach the forecast: moving one past covariate value of x, or one future
 * covariate value over the horizon, moves it past the bound (and moving nothing does not). */
static void test_covariate_inputs_move_the_forecast(void **state) {
    (void)state;
    char path[1024];
    covariate_path(path, sizeof path, 0); /* dot_independent_covariates: C 2, Kp 2, Kf 3 */
    int C = 2, L = 16, cols = C + 2 + 3;
    assert_true(covariate_effect(path, false, 0, 0.0f) <= 1e-5);
    /* window 0, step L - 2, the first past covariate (column C) */
    assert_true(covariate_effect(path, false, (int64_t)(L - 2) * cols + C, 0.5f) > 1e-5);
    /* window 0, horizon step 1, the real future covariate f1 */
    assert_true(covariate_effect(path, true, 1 * 3 + 0, 0.5f) > 1e-5);
    /* window 0, horizon step 1, a calendar column */
    assert_true(covariate_effect(path, true, 1 * 3 + 2, 0.5f) > 1e-5);
}

/* The check is not vacuous: a weight moved by 1e-3 moves the forecast past the bound. */
static void test_a_changed_weight_fails_the_forecast_bound(void **state) {
    (void)state;
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/parity/dot_mixed.h5", src);
    ac_checkpoint *ck = NULL;
    ac_error err;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("%s", err.msg);
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    int B;
    ac_tensor *x = fixture_tensor(ctx, file, "/fixture/x", s->lookback, s->channels, &B);
    ac_forecaster_param(ck->model, "head.bias")->data[0] += 1e-3f;
    ac_tensor *pred = ac_forecaster_forward(ctx, ck->model, x);
    int64_t n;
    float *want = read_floats(file, "/fixture/forecast", &n);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)pred->data[i] - want[i]));
    free(want);
    assert_true(worst > 1e-5);
    ac_ctx_free(ctx);
    H5Fclose(file);
    ac_ckpt_free(ck);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_and_mode_matches_the_pytorch_fixture),
        cmocka_unit_test(test_a_changed_weight_fails_the_forecast_bound),
        cmocka_unit_test(test_quantile_models_match_the_pytorch_fixture),
        cmocka_unit_test(test_covariate_models_match_the_pytorch_fixture),
        cmocka_unit_test(test_covariate_inputs_move_the_forecast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
