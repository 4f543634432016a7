/* test_explain.c - explanations: every attention row sums to 1, per-step attention has one
 * value per input step and sums to 1 for patched and unpatched models, unpatched step attention
 * equals token attention, causal maps are lower triangular, and the forecast is the model's. */
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
