/* test_explain.c - explanations: every attention row sums to 1, per-step attention has one
 * value per input step and sums to 1 for patched and unpatched models, unpatched step attention
 * equals token attention, causal maps are lower triangular, and the forecast is the model's.
 * Covariate models: the maps span the history and future tokens, the future share is the
 * attention mass on the future tokens (history + future = 1, step attention sums to the history
 * share), the forecast is the model's own on inputs scaled by hand (calendar columns unscaled),
 * the future covariates move it, and a missing or needless future is refused; a model without
 * covariates has no future tokens and future share 0. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/embed.h"
#include "attncast/explain.h"
#include "support/testutil.h"

enum { L = 20, H = 3, C = 2 };

static char dir[128];

/* Writes a model-only checkpoint of the given shape and loads it back. */
static ac_checkpoint *make_checkpoint(int patch, int stride, ac_attention_kind kind, bool mixed,
                                      bool causal) {
    ac_config cfg;
    ac_config_defaults(&cfg);
    snprintf(cfg.data.csv, sizeof cfg.data.csv, "x.csv");
    cfg.data.lookback = L;
    cfg.data.horizon = H;
    cfg.model.attention = kind;
    cfg.model.channels = mixed ? AC_CHANNELS_MIXED : AC_CHANNELS_INDEPENDENT;
    cfg.model.causal = causal;
    cfg.model.d_model = 8;
    cfg.model.heads = 2;
    cfg.model.layers = 2;
    cfg.model.d_ff = 8;
    cfg.model.patch_len = patch;
    cfg.model.patch_stride = stride;
    ac_model_spec spec = ac_config_model_spec(&cfg, C);
    ac_rng rng;
    ac_rng_seed(&rng, 17, 0);
    ac_error err;
    ac_forecaster *model = ac_forecaster_new(&spec, &rng, &err);
    if (!model) fail_msg("%s", err.msg);
    double mean[C] = {1, 2}, sd[C] = {1, 3};
    ac_scaler scaler = {.channels = C, .columns = C, .mean = mean, .std = sd};
    char n0[] = "u", n1[] = "v";
    char *names[C] = {n0, n1};
    char path[256];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    ac_ckpt_contents contents = {
        .config = &cfg, .model = model, .scaler = &scaler, .channel_names = names};
    assert_int_equal(ac_ckpt_write(path, &contents, &err), AC_OK);
    ac_forecaster_free(model);
    ac_checkpoint *ck = NULL;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("%s", err.msg);
    return ck;
}

static void window(float *w) {
    for (int i = 0; i < L * C; i++) w[i] = (float)(1.0 + sin(0.7 * i));
}

static void check_sums(const ac_explanation *ex) {
    int N = ex->tokens;
    for (int b = 0; b < ex->layers * ex->series * ex->heads; b++)
        for (int i = 0; i < N; i++) {
            double row = 0;
            for (int k = 0; k < N; k++) row += ex->attention[((size_t)b * N + i) * N + k];
            if (fabs(row - 1.0) > 1e-5) fail_msg("attention row sums to %.7f", row);
        }
    for (int b = 0; b < ex->layers * ex->series; b++) {
        double tok = 0, step = 0;
        for (int k = 0; k < N; k++) tok += ex->token_attention[(size_t)b * N + k];
        for (int t = 0; t < ex->lookback; t++)
            step += ex->step_attention[(size_t)b * ex->lookback + t];
        assert_true(fabs(tok - 1.0) < 1e-6);
        assert_true(fabs(step - 1.0) < 1e-6);
    }
}

static void test_patched_model_rows_and_steps_sum_to_one(void **state) {
    (void)state;
    for (int k = 0; k < AC_ATTN_COUNT; k++) {
        ac_checkpoint *ck = make_checkpoint(8, 4, (ac_attention_kind)k, k % 2, false);
        float w[L * C];
        window(w);
        ac_explanation ex;
        ac_error err;
        assert_int_equal(ac_explain(ck, w, &ex, &err), AC_OK);
        assert_int_equal(ex.tokens, 4); /* (20 - 8) / 4 + 1 */
        assert_int_equal(ex.series, k % 2 ? 1 : C);
        check_sums(&ex);
        ac_explanation_free(&ex);
        ac_ckpt_free(ck);
    }
}

static void test_steps_map_back_from_overlapping_patches(void **state) {
    (void)state;
    /* L = 20, P = 6, S = 5: tokens cover 0-5, 5-10, 10-15: steps 16..19 are not covered */
    ac_checkpoint *ck = make_checkpoint(6, 5, AC_ATTN_DOT, false, false);
    float w[L * C];
    window(w);
    ac_explanation ex;
    ac_error err;
    assert_int_equal(ac_explain(ck, w, &ex, &err), AC_OK);
    assert_int_equal(ex.tokens, 3);
    check_sums(&ex);
    const double *tok = ex.token_attention, *step = ex.step_attention;
    assert_true(fabs(step[0] - tok[0] / 6) < 1e-12);
    assert_true(fabs(step[5] - (tok[0] + tok[1]) / 6) < 1e-12); /* in two patches */
    for (int t = 16; t < L; t++) assert_true(step[t] == 0.0);
    ac_explanation_free(&ex);
    ac_ckpt_free(ck);
}

static void test_unpatched_steps_equal_tokens_and_causal_is_triangular(void **state) {
    (void)state;
    ac_checkpoint *ck = make_checkpoint(1, 1, AC_ATTN_ADDITIVE, false, true);
    float w[L * C];
    window(w);
    ac_explanation ex;
    ac_error err;
    assert_int_equal(ac_explain(ck, w, &ex, &err), AC_OK);
    assert_int_equal(ex.tokens, L);
    check_sums(&ex);
    for (int b = 0; b < ex.layers * ex.series; b++)
        for (int t = 0; t < L; t++)
            assert_true(ex.step_attention[(size_t)b * L + t] ==
                        ex.token_attention[(size_t)b * L + t]);
    for (int i = 0; i < L; i++)
        for (int k = i + 1; k < L; k++) assert_true(ex.attention[(size_t)i * L + k] == 0.0f);
    /* the forecast is the embedding API's */
    char path[256];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    ac_model *m = ac_model_load(path, &err);
    float out[H * C];
    assert_int_equal(ac_model_forecast(m, w, out, &err), AC_OK);
    assert_memory_equal(out, ex.forecast, sizeof out);
    ac_model_free(m);
    ac_explanation_free(&ex);
    ac_ckpt_free(ck);
}

/* Covariate model (MODEL.md v2): Kp = 1 past column, one real future column and the two
 * hour_of_day calendar columns (Kf = 3), L = 20, H = 8, patches of 4 every 4: N = 5 history and
 * Nf = 2 future tokens. */
enum { CH = 8, KP = 1, KF = 3, COLS = C + KP + KF, REAL = C + KP + 1 };

static ac_checkpoint *make_covariate_checkpoint(bool mixed) {
    ac_config cfg;
    ac_config_defaults(&cfg);
    snprintf(cfg.data.csv, sizeof cfg.data.csv, "x.csv");
    snprintf(cfg.data.past_covariates, sizeof cfg.data.past_covariates, "p");
    snprintf(cfg.data.future_covariates, sizeof cfg.data.future_covariates, "f");
    cfg.data.calendar = AC_CALENDAR_HOUR_OF_DAY;
    cfg.data.lookback = L;
    cfg.data.horizon = CH;
    cfg.model.channels = mixed ? AC_CHANNELS_MIXED : AC_CHANNELS_INDEPENDENT;
    cfg.model.d_model = 8;
    cfg.model.heads = 2;
    cfg.model.layers = 2;
    cfg.model.d_ff = 8;
    cfg.model.patch_len = 4;
    cfg.model.patch_stride = 4;
    cfg.model.anchor = AC_ANCHOR_MEAN; /* a random head: the forecast reads every token */
    ac_model_spec spec = ac_config_model_spec(&cfg, C);
    assert_int_equal(spec.past_covariates, KP);
    assert_int_equal(spec.future_covariates, KF);
    ac_rng rng;
    ac_rng_seed(&rng, 23, 0);
    ac_error err;
    ac_forecaster *model = ac_forecaster_new(&spec, &rng, &err);
    if (!model) fail_msg("%s", err.msg);
    double mean[REAL] = {1, 2, -1, 5}, sd[REAL] = {1, 3, 2, 0.5};
    ac_scaler scaler = {.channels = C, .columns = REAL, .mean = mean, .std = sd};
    char n0[] = "u", n1[] = "v", n2[] = "p", n3[] = "f";
    char *names[REAL] = {n0, n1, n2, n3};
    char path[256];
    snprintf(path, sizeof path, "%s/cov.h5", dir);
    ac_ckpt_contents contents = {
        .config = &cfg, .model = model, .scaler = &scaler, .channel_names = names};
    assert_int_equal(ac_ckpt_write(path, &contents, &err), AC_OK);
    ac_forecaster_free(model);
    ac_checkpoint *ck = NULL;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(ck->columns, REAL);
    return ck;
}

/* A window [L, COLS] and its future [CH, KF]: real columns in original units, the calendar
 * columns in [-1, 1] as computed. */
static void covariate_inputs(float *w, float *f) {
    for (int i = 0; i < L * COLS; i++)
        w[i] = i % COLS >= REAL ? (float)sin(0.26 * (i / COLS) + i % COLS)
                                : (float)(1.0 + sin(0.7 * i));
    for (int i = 0; i < CH * KF; i++)
        f[i] = i % KF >= 1 ? (float)cos(0.26 * (i / KF) + i % KF) : (float)(4.0 + 0.3 * i);
}

static void test_covariate_maps_span_history_and_future_tokens(void **state) {
    (void)state;
    for (int mixed = 0; mixed < 2; mixed++) {
        ac_checkpoint *ck = make_covariate_checkpoint(mixed);
        float w[L * COLS], f[CH * KF];
        covariate_inputs(w, f);
        ac_explanation ex;
        ac_error err;
        assert_int_equal(ac_explain_future(ck, w, f, &ex, &err), AC_OK);
        assert_int_equal(ex.tokens, 5);
        assert_int_equal(ex.future_tokens, 2);
        assert_int_equal(ac_explanation_all_tokens(&ex), 7);
        assert_int_equal(ex.columns, COLS);
        assert_int_equal(ex.series, mixed ? 1 : C);
        assert_true(fabs(ac_explanation_chance_future_share(&ex) - 2.0 / 7.0) < 1e-15);
        int T = 7, N = 5;
        double fsum = 0, hsum = 0;
        for (int b = 0; b < ex.layers * ex.series; b++) {
            /* the future share straight from the maps: each head's and query's mass on the
             * future keys, averaged */
            double on_future = 0, tok = 0, step = 0;
            for (int h = 0; h < ex.heads; h++)
                for (int i = 0; i < T; i++) {
                    double row = 0;
                    for (int k = 0; k < T; k++) {
                        float a = ex.attention[(((size_t)b * ex.heads + h) * T + i) * T + k];
                        row += a;
                        if (k >= N) on_future += a;
                    }
                    if (fabs(row - 1.0) > 1e-5) fail_msg("attention row sums to %.7f", row);
                }
            on_future /= ex.heads * T;
            for (int k = 0; k < T; k++) tok += ex.token_attention[(size_t)b * T + k];
            for (int t = 0; t < L; t++) step += ex.step_attention[(size_t)b * L + t];
            double fs = ex.future_share[b], hs = ex.history_share[b];
            assert_true(fs >= 0.0 && fs <= 1.0 && hs >= 0.0 && hs <= 1.0);
            assert_true(fabs(fs - on_future) < 1e-6);
            assert_true(fabs(hs + fs - 1.0) < 1e-6);
            assert_true(fabs(tok - 1.0) < 1e-6);
            assert_true(fabs(step - hs) < 1e-6); /* L = 20 = 5 patches of 4: every step covered */
            assert_true(fs > 0.0);               /* a softmax gives every token some */
            fsum += fs;
            hsum += hs;
        }
        int blocks = ex.layers * ex.series;
        assert_true(fabs(ac_explanation_future_share_mean(&ex) - fsum / blocks) < 1e-12);
        assert_true(fabs(ac_explanation_history_share_mean(&ex) - hsum / blocks) < 1e-12);
        ac_explanation_free(&ex);
        ac_ckpt_free(ck);
    }
}

static void test_covariate_forecast_is_the_models_and_reads_the_future(void **state) {
    (void)state;
    ac_checkpoint *ck = make_covariate_checkpoint(false);
    float w[L * COLS], f[CH * KF];
    covariate_inputs(w, f);
    ac_explanation ex;
    ac_error err;
    assert_int_equal(ac_explain_future(ck, w, f, &ex, &err), AC_OK);
    /* the model's forward on inputs scaled here: real columns z-scored with the checkpoint's
     * scaler, calendar columns as they are */
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){1, L, COLS});
    ac_tensor *fx = ac_tensor_temp(ctx, 3, (int[]){1, CH, KF});
    for (int i = 0; i < L * COLS; i++) {
        int c = i % COLS;
        x->data[i] = c < REAL ? (float)((w[i] - ck->scaler.mean[c]) / ck->scaler.std[c]) : w[i];
    }
    for (int i = 0; i < CH * KF; i++) {
        int c = C + KP + i % KF;
        fx->data[i] = c < REAL ? (float)((f[i] - ck->scaler.mean[c]) / ck->scaler.std[c]) : f[i];
    }
    ac_tensor *y = ac_forecaster_forward_future(ctx, ck->model, x, fx, NULL);
    assert_non_null(y);
    for (int i = 0; i < CH * C; i++) {
        double want = ac_scaler_unscale(&ck->scaler, i % C, y->data[i]);
        if (fabs(ex.forecast[i] - want) > 1e-4 * (1 + fabs(want)))
            fail_msg("forecast[%d] = %g, the model's %g", i, (double)ex.forecast[i], want);
    }
    ac_ctx_free(ctx);
    /* other future covariates, another forecast */
    float forecast[CH * C];
    memcpy(forecast, ex.forecast, sizeof forecast);
    ac_explanation_free(&ex);
    for (int i = 0; i < CH * KF; i += KF) f[i] += 3.0f;
    assert_int_equal(ac_explain_future(ck, w, f, &ex, &err), AC_OK);
    assert_memory_not_equal(forecast, ex.forecast, sizeof forecast);
    ac_explanation_free(&ex);
    /* a missing future is refused, and so is a non-finite covariate, by name */
    assert_int_equal(ac_explain_future(ck, w, NULL, &ex, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "3 future covariate columns"));
    f[2 * KF] = NAN;
    assert_int_equal(ac_explain_future(ck, w, f, &ex, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "future row 3 (of 8), covariate 'f'"));
    ac_ckpt_free(ck);
}

static void test_model_without_covariates_has_no_future_share(void **state) {
    (void)state;
    ac_checkpoint *ck = make_checkpoint(8, 4, AC_ATTN_DOT, false, false);
    float w[L * C];
    window(w);
    ac_explanation ex;
    ac_error err;
    float f[H] = {0};
    assert_int_equal(ac_explain_future(ck, w, f, &ex, &err), AC_ERR_INVALID);
    assert_int_equal(ac_explain(ck, w, &ex, &err), AC_OK);
    assert_int_equal(ex.future_tokens, 0);
    assert_int_equal(ex.columns, C);
    assert_true(ac_explanation_chance_future_share(&ex) == 0.0);
    for (int b = 0; b < ex.layers * ex.series; b++) {
        assert_true(ex.future_share[b] == 0.0);
        assert_true(fabs(ex.history_share[b] - 1.0) < 1e-6);
    }
    ac_explanation_free(&ex);
    ac_ckpt_free(ck);
}

static int setup(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "explain");
}
static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patched_model_rows_and_steps_sum_to_one),
        cmocka_unit_test(test_steps_map_back_from_overlapping_patches),
        cmocka_unit_test(test_unpatched_steps_equal_tokens_and_causal_is_triangular),
        cmocka_unit_test(test_covariate_maps_span_history_and_future_tokens),
        cmocka_unit_test(test_covariate_forecast_is_the_models_and_reads_the_future),
        cmocka_unit_test(test_model_without_covariates_has_no_future_share),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
