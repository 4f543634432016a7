/* test_covariates.c - the forecaster with covariates (MODEL.md version 2, "Covariates"): the
 * parameters a covariate model adds and their shapes, the inputs it takes ([B, L, C + Kp + Kf]
 * and the horizon's future covariates [B, H, Kf]) and refuses, that independent mode gives every
 * target the same covariates (a window of C targets forecasts each as a one-target model would),
 * that the future tokens are read, and the whole model's gradient against finite differences. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/forecaster.h"
#include "support/gradcheck.h"
#include "support/tiny_model.h"

static ac_model_spec covariate_spec(ac_channel_mode mode, int past, int future) {
    ac_model_spec s = {.lookback = 12,
                       .horizon = 6,
                       .channels = 3,
                       .past_covariates = past,
                       .future_covariates = future,
                       .channel_mode = mode,
                       .patch_len = 4,
                       .patch_stride = 2,
                       .d_model = 8,
                       .heads = 2,
                       .layers = 1,
                       .d_ff = 12,
                       .attention = AC_ATTN_DOT,
                       .revin = true,
                       .causal = false,
                       .dropout = 0.0f};
    return s;
}

static ac_tensor *filled(int ndim, const int *shape, uint64_t seed) {
    ac_error err;
    ac_tensor *t = ac_tensor_new(ndim, shape, false, &err);
    if (!t) fail_msg("%s", err.msg);
    ac_rng rng;
    ac_rng_seed(&rng, seed, 3);
    for (int64_t i = 0; i < t->size; i++) t->data[i] = 2.0f + ac_rng_uniform_range(&rng, -1, 1);
    return t;
}

static void assert_shape(const ac_forecaster *m, const char *name, int d0, int d1) {
    ac_tensor *t = ac_forecaster_param(m, name);
    if (!t) fail_msg("missing parameter %s", name);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], d0);
    assert_int_equal(t->shape[1], d1);
}

/* Cin = (1 or C) + Kp + Kf; head [H Cout, (N + Nf) d]; future_proj [d, P Kf], future_pos [Nf, d],
 * registered last; no future parameters without future covariates. */
static void test_covariate_parameters_follow_model_md(void **state) {
    (void)state;
    ac_model_spec s = covariate_spec(AC_CHANNELS_INDEPENDENT, 2, 3);
    int N = ac_model_spec_tokens(&s), Nf = ac_model_spec_future_tokens(&s), d = s.d_model;
    assert_int_equal(N, 5);
    assert_int_equal(Nf, 2); /* floor((6 - 4) / 2) + 1 */
    assert_int_equal(ac_model_spec_in_width(&s), 1 + 2 + 3);
    assert_int_equal(ac_model_spec_columns(&s), 3 + 2 + 3);
    ac_forecaster *m = tm_forecaster(&s, 1);
    assert_shape(m, "input_proj.weight", d, 4 * 6);
    assert_shape(m, "head.weight", 6, (N + Nf) * d);
    assert_shape(m, "future_proj.weight", d, 4 * 3);
    assert_shape(m, "future_pos", Nf, d);
    int n = ac_forecaster_param_count(m);
    assert_string_equal(ac_forecaster_params(m)[n - 3]->name, "future_proj.weight");
    assert_string_equal(ac_forecaster_params(m)[n - 2]->name, "future_proj.bias");
    assert_string_equal(ac_forecaster_params(m)[n - 1]->name, "future_pos");
    ac_forecaster_free(m);

    s = covariate_spec(AC_CHANNELS_MIXED, 2, 0);
    assert_int_equal(ac_model_spec_in_width(&s), 3 + 2);
    assert_int_equal(ac_model_spec_future_tokens(&s), 0);
    m = tm_forecaster(&s, 1);
    assert_shape(m, "input_proj.weight", d, 4 * 5);
    assert_shape(m, "head.weight", 6 * 3, 5 * d);
    assert_null(ac_forecaster_param(m, "future_proj.weight"));
    assert_null(ac_forecaster_param(m, "future_pos"));
    ac_forecaster_free(m);
}

static void test_future_covariates_need_a_horizon_as_long_as_a_patch(void **state) {
    (void)state;
    ac_model_spec s = covariate_spec(AC_CHANNELS_INDEPENDENT, 0, 1);
    s.horizon = 3;
    ac_error err;
    assert_int_not_equal(ac_model_spec_check(&s, &err), AC_OK);
    assert_non_null(strstr(err.msg, "data.horizon"));
    assert_non_null(strstr(err.msg, "model.patch_len"));
    s.future_covariates = 0; /* past covariates only: any horizon */
    s.past_covariates = 1;
    assert_int_equal(ac_model_spec_check(&s, &err), AC_OK);
}

/* Wrong input widths, a missing future, a future for a model without one: errors, not crashes. */
static void test_wrong_inputs_are_refused(void **state) {
    (void)state;
    ac_model_spec s = covariate_spec(AC_CHANNELS_MIXED, 1, 2);
    ac_forecaster *m = tm_forecaster(&s, 2);
    ac_ctx *ctx = ac_ctx_new(1 << 20, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = filled(3, (int[]){2, 12, 6}, 1), *f = filled(3, (int[]){2, 6, 2}, 2);
    ac_tensor *narrow = filled(3, (int[]){2, 12, 3}, 1), *bad_f = filled(3, (int[]){2, 5, 2}, 2);
    ac_tensor *y = ac_forecaster_forward_future(ctx, m, x, f, NULL);
    assert_non_null(y);
    assert_int_equal(y->shape[0], 2);
    assert_int_equal(y->shape[1], 6);
    assert_int_equal(y->shape[2], 3);
    ac_tensor *cases[][2] = {{x, NULL}, {narrow, f}, {x, bad_f}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ac_ctx_reset(ctx);
        assert_null(ac_forecaster_forward_future(ctx, m, cases[i][0], cases[i][1], NULL));
        assert_true(ac_ctx_failed(ctx));
    }
    ac_model_spec plain = covariate_spec(AC_CHANNELS_MIXED, 1, 0);
    ac_forecaster *p = tm_forecaster(&plain, 2);
    ac_ctx_reset(ctx);
    ac_tensor *xp = filled(3, (int[]){2, 12, 4}, 1);
    assert_null(ac_forecaster_forward_future(ctx, p, xp, f, NULL));
    ac_ctx_reset(ctx);
    assert_non_null(ac_forecaster_forward(ctx, p, xp));
    ac_tensor *all[] = {x, f, narrow, bad_f, xp};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ac_tensor_free(all[i]);
    ac_ctx_free(ctx);
    ac_forecaster_free(m);
    ac_forecaster_free(p);
}

/* Independent mode: target c of a window with C targets is forecast exactly as a one-target model
 * with the same weights forecasts a window of [target c, covariates] (the parameter shapes do not
 * depend on C in this mode). */
static void test_independent_targets_share_the_covariates(void **state) {
    (void)state;
    ac_model_spec s = covariate_spec(AC_CHANNELS_INDEPENDENT, 1, 2);
    ac_model_spec one = s;
    one.channels = 1;
    ac_forecaster *m = tm_forecaster(&s, 3), *m1 = tm_forecaster(&one, 4);
    for (int i = 0; i < ac_forecaster_param_count(m); i++) {
        ac_tensor *a = ac_forecaster_params(m)[i], *b = ac_forecaster_params(m1)[i];
        assert_int_equal(a->size, b->size);
        memcpy(b->data, a->data, (size_t)a->size * sizeof(float));
    }
    int B = 2, L = 12, H = 6, cols = 3 + 1 + 2;
    ac_tensor *x = filled(3, (int[]){B, L, cols}, 5), *f = filled(3, (int[]){B, H, 2}, 6);
    ac_ctx *ctx = ac_ctx_new(1 << 22, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *y = ac_forecaster_forward_future(ctx, m, x, f, NULL);
    assert_non_null(y);
    for (int c = 0; c < 3; c++) {
        ac_tensor *x1 = filled(3, (int[]){B, L, 4}, 7);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < L; t++) {
                const float *row = x->data + ((size_t)b * L + t) * cols;
                float *out = x1->data + ((size_t)b * L + t) * 4;
                out[0] = row[c];
                memcpy(out + 1, row + 3, 3 * sizeof(float));
            }
        ac_ctx_mark mark = ac_ctx_get_mark(ctx);
        ac_tensor *y1 = ac_forecaster_forward_future(ctx, m1, x1, f, NULL);
        assert_non_null(y1);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < H; k++)
                assert_true(fabsf(y->data[((size_t)b * H + k) * 3 + c] -
                                  y1->data[(size_t)b * H + k]) < 1e-5f);
        ac_ctx_rewind(ctx, mark);
        ac_tensor_free(x1);
    }
    ac_tensor_free(x);
    ac_tensor_free(f);
    ac_ctx_free(ctx);
    ac_forecaster_free(m);
    ac_forecaster_free(m1);
}

/* The forecast reads the future tokens and the covariate columns of the history: changing either
 * changes it, while the targets' instance norm ignores the covariates' scale. */
static void test_forecasts_read_the_future_and_past_covariates(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        ac_model_spec s = covariate_spec((ac_channel_mode)mode, 1, 1);
        ac_forecaster *m = tm_forecaster(&s, 8);
        int B = 1, L = 12, H = 6, cols = 5;
        ac_tensor *x = filled(3, (int[]){B, L, cols}, 9), *f = filled(3, (int[]){B, H, 1}, 10);
        ac_ctx *ctx = ac_ctx_new(1 << 22, 0);
        ac_ctx_set_grad_enabled(ctx, false);
        float base[18], moved[18];
        ac_tensor *y = ac_forecaster_forward_future(ctx, m, x, f, NULL);
        assert_non_null(y);
        memcpy(base, y->data, sizeof base);
        f->data[H - 1] += 1.0f; /* the last future step */
        y = ac_forecaster_forward_future(ctx, m, x, f, NULL);
        memcpy(moved, y->data, sizeof moved);
        assert_memory_not_equal(base, moved, sizeof base);
        f->data[H - 1] -= 1.0f;
        x->data[(size_t)(L - 1) * cols + 3] += 1.0f; /* the past covariate's last step */
        y = ac_forecaster_forward_future(ctx, m, x, f, NULL);
        memcpy(moved, y->data, sizeof moved);
        assert_memory_not_equal(base, moved, sizeof base);
        ac_tensor_free(x);
        ac_tensor_free(f);
        ac_ctx_free(ctx);
        ac_forecaster_free(m);
    }
}

typedef struct model_case {
    ac_forecaster *model;
    ac_tensor *x, *future, *y;
} model_case;

static ac_tensor *model_loss(ac_ctx *ctx, void *arg) {
    model_case *c = arg;
    const ac_model_spec *s = ac_forecaster_spec(c->model);
    ac_loss_kind kind = s->quantile_count ? AC_LOSS_PINBALL : AC_LOSS_MSE;
    return ac_forecast_loss(
        ctx, s, kind, ac_forecaster_forward_future(ctx, c->model, c->x, c->future, NULL), c->y);
}

/* Every parameter, the future ones included, against finite differences: both channel modes,
 * both anchors, a causal mask over history and future tokens, and a quantile head. */
static void test_whole_covariate_model_grad(void **state) {
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        ac_channel_mode mode = variant == 1 ? AC_CHANNELS_MIXED : AC_CHANNELS_INDEPENDENT;
        ac_model_spec s = covariate_spec(mode, 1, 2);
        s.causal = variant == 1;
        s.anchor = variant == 2 ? AC_ANCHOR_LAST : AC_ANCHOR_MEAN;
        if (variant == 2) {
            s.quantile_count = 3;
            s.quantiles[0] = 0.1f, s.quantiles[1] = 0.5f, s.quantiles[2] = 0.9f;
        }
        model_case c = {.model = tm_forecaster(&s, 11)};
        if (s.anchor == AC_ANCHOR_LAST) { /* a zero head would hide every other gradient */
            ac_tensor *h = ac_forecaster_param(c.model, "head.weight");
            for (int64_t i = 0; i < h->size; i++) h->data[i] = 0.05f * (float)((i % 7) - 3);
        }
        c.x = filled(3, (int[]){2, 12, 6}, 12);
        c.future = filled(3, (int[]){2, 6, 2}, 13);
        c.y = filled(3, (int[]){2, 6, 3}, 14);
        if (s.quantile_count) /* targets far from every forecast: no kink of the pinball loss */
            for (int64_t i = 0; i < c.y->size; i++) c.y->data[i] += (i % 2 ? 3.0f : -3.0f);
        char label[64];
        snprintf(label, sizeof label, "covariate model, variant %d", variant);
        gc_check_params(label, ac_forecaster_params(c.model), ac_forecaster_param_count(c.model),
                        model_loss, &c, 1e-2f);
        ac_tensor_free(c.x);
        ac_tensor_free(c.future);
        ac_tensor_free(c.y);
        ac_forecaster_free(c.model);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_covariate_parameters_follow_model_md),
        cmocka_unit_test(test_future_covariates_need_a_horizon_as_long_as_a_patch),
        cmocka_unit_test(test_wrong_inputs_are_refused),
        cmocka_unit_test(test_independent_targets_share_the_covariates),
        cmocka_unit_test(test_forecasts_read_the_future_and_past_covariates),
        cmocka_unit_test(test_whole_covariate_model_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
