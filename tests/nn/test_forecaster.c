/* test_forecaster.c - the MODEL.md forecaster: parameter names, shapes and initialisation,
 * forward shapes in both channel modes, instance-norm equivariance, determinism, and the whole
 * model's gradient (every parameter) against finite differences for each attention kind in
 * both channel modes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/forecaster.h"
#include "nn/nn_internal.h"
#include "support/gradcheck.h"
#include "support/tiny_model.h"

static ac_model_spec small_spec(ac_attention_kind kind, ac_channel_mode mode) {
    ac_model_spec s = {.lookback = 12,
                       .horizon = 3,
                       .channels = 2,
                       .channel_mode = mode,
                       .patch_len = 4,
                       .patch_stride = 2,
                       .d_model = 8,
                       .heads = 2,
                       .layers = 2,
                       .d_ff = 12,
                       .attention = kind,
                       .revin = true,
                       .causal = false,
                       .dropout = 0.0f};
    return s;
}

static void fill_windows(ac_tensor *x, uint64_t seed) {
    ac_rng rng;
    ac_rng_seed(&rng, seed, 3);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = 2.0f + ac_rng_uniform_range(&rng, -1, 1);
}

static void assert_param(const ac_forecaster *m, const char *name, int ndim, int d0, int d1) {
    ac_tensor *t = ac_forecaster_param(m, name);
    if (!t) fail_msg("missing parameter %s", name);
    assert_int_equal(t->ndim, ndim);
    assert_int_equal(t->shape[0], d0);
    if (ndim == 2) assert_int_equal(t->shape[1], d1);
}

static void test_parameter_names_and_shapes_follow_model_md(void **state) {
    (void)state;
    for (int k = 0; k < AC_ATTN_COUNT; k++)
        for (int mode = 0; mode < 2; mode++) {
            const ac_attention_kind kind = (ac_attention_kind)k;
            const ac_attention_desc *desc = ac_attention_desc_of(kind);
            int rank = ac_score_param_rank(desc->score);
            ac_model_spec s = small_spec(kind, (ac_channel_mode)mode);
            ac_forecaster *m = tm_forecaster(&s, 1);
            int cin = mode ? 2 : 1, N = 5, d = 8;
            assert_param(m, "input_proj.weight", 2, d, 4 * cin);
            assert_param(m, "input_proj.bias", 1, d, 0);
            assert_param(m, "pos_embed", 2, N, d);
            for (int i = 0; i < 2; i++) {
                char n[64];
                const char *lin[] = {"attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj"};
                for (int j = 0; j < 4; j++) {
                    snprintf(n, sizeof n, "layers.%d.%s.weight", i, lin[j]);
                    assert_param(m, n, 2, d, d);
                    snprintf(n, sizeof n, "layers.%d.%s.bias", i, lin[j]);
                    assert_param(m, n, 1, d, 0);
                }
                snprintf(n, sizeof n, "layers.%d.norm1.weight", i);
                assert_param(m, n, 1, d, 0);
                snprintf(n, sizeof n, "layers.%d.norm2.bias", i);
                assert_param(m, n, 1, d, 0);
                snprintf(n, sizeof n, "layers.%d.ff1.weight", i);
                assert_param(m, n, 2, 12, d);
                snprintf(n, sizeof n, "layers.%d.ff2.weight", i);
                assert_param(m, n, 2, d, 12);
                /* what the kind's row adds: a gate [d, d], a score parameter [h] or [h, dh] */
                snprintf(n, sizeof n, "layers.%d.attn.gate_proj.weight", i);
                if (desc->gate)
                    assert_param(m, n, 2, d, d);
                else
                    assert_null(ac_forecaster_param(m, n));
                if (rank > 0) {
                    snprintf(n, sizeof n, "layers.%d.attn.%s", i, desc->param);
                    assert_param(m, n, rank, 2, 4);
                }
                /* and MODEL.md's names for the kinds it defines */
                snprintf(n, sizeof n, "layers.%d.attn.gate_proj.bias", i);
                assert_true((ac_forecaster_param(m, n) != NULL) == (kind == AC_ATTN_GATED));
                snprintf(n, sizeof n, "layers.%d.attn.score_vec", i);
                if (kind == AC_ATTN_ADDITIVE)
                    assert_param(m, n, 2, 2, 4);
                else
                    assert_null(ac_forecaster_param(m, n));
                snprintf(n, sizeof n, "layers.%d.attn.log_tau", i);
                if (kind == AC_ATTN_COSINE)
                    assert_param(m, n, 1, 2, 0);
                else
                    assert_null(ac_forecaster_param(m, n));
            }
            assert_param(m, "norm_f.weight", 1, d, 0);
            assert_param(m, "head.weight", 2, 3 * cin, N * d);
            assert_param(m, "head.bias", 1, 3 * cin, 0);
            int per_block = 16 + (desc->gate ? 2 : 0) + (rank > 0 ? 1 : 0);
            assert_int_equal(ac_forecaster_param_count(m), 3 + 2 * per_block + 4);
            ac_forecaster_free(m);
        }
}

static void test_initialisation_follows_model_md(void **state) {
    (void)state;
    ac_model_spec s = small_spec(AC_ATTN_COSINE, AC_CHANNELS_INDEPENDENT);
    s.d_model = 64;
    s.heads = 4;
    ac_forecaster *m = tm_forecaster(&s, 7);
    ac_tensor *const *ps = ac_forecaster_params(m);
    for (int i = 0; i < ac_forecaster_param_count(m); i++) {
        const ac_tensor *t = ps[i];
        if (strstr(t->name, "norm")) {
            float want = strstr(t->name, ".weight") ? 1.0f : 0.0f;
            for (int64_t k = 0; k < t->size; k++) assert_true(t->data[k] == want);
        } else if (strstr(t->name, "log_tau")) {
            for (int64_t k = 0; k < t->size; k++) assert_true(fabsf(t->data[k] - logf(10)) < 1e-6f);
        } else if (!strcmp(t->name, "pos_embed")) {
            double s2 = 0;
            for (int64_t k = 0; k < t->size; k++) s2 += (double)t->data[k] * t->data[k];
            assert_true(fabs(sqrt(s2 / (double)t->size) - 0.02) < 0.004);
        }
    }
    /* linear maps: uniform in +-1/sqrt(fan_in), weight and bias alike */
    const char *lin[] = {"input_proj", "layers.0.attn.q_proj", "layers.1.ff2", "head"};
    for (int j = 0; j < 4; j++) {
        char n[64];
        snprintf(n, sizeof n, "%s.weight", lin[j]);
        ac_tensor *w = ac_forecaster_param(m, n);
        snprintf(n, sizeof n, "%s.bias", lin[j]);
        ac_tensor *b = ac_forecaster_param(m, n);
        float bound = 1.0f / sqrtf((float)w->shape[1]), seen = 0;
        for (int64_t k = 0; k < w->size; k++) {
            assert_true(fabsf(w->data[k]) <= bound);
            seen = fmaxf(seen, fabsf(w->data[k]));
        }
        for (int64_t k = 0; k < b->size; k++) assert_true(fabsf(b->data[k]) <= bound);
        assert_true(seen > 0.8f * bound); /* really spread over the range */
    }
    ac_forecaster_free(m);
}

static void test_forward_gives_b_h_c_in_both_modes_and_repeats_exactly(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        ac_model_spec s = small_spec(AC_ATTN_DOT, (ac_channel_mode)mode);
        ac_forecaster *m1 = tm_forecaster(&s, 5), *m2 = tm_forecaster(&s, 5);
        ac_ctx *ctx = ac_ctx_new(0, 0);
        ac_ctx_set_grad_enabled(ctx, false);
        ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){3, 12, 2});
        fill_windows(x, 9);
        ac_tensor *y1 = ac_forecaster_forward(ctx, m1, x);
        ac_tensor *y2 = ac_forecaster_forward(ctx, m2, x);
        assert_non_null(y1);
        assert_int_equal(y1->ndim, 3);
        assert_int_equal(y1->shape[0], 3);
        assert_int_equal(y1->shape[1], 3);
        assert_int_equal(y1->shape[2], 2);
        assert_int_equal(ac_ctx_tape_length(ctx), 0);
        assert_memory_equal(y1->data, y2->data, (size_t)y1->size * sizeof(float));
        ac_tensor *bad = ac_tensor_temp(ctx, 3, (int[]){3, 11, 2});
        assert_null(ac_forecaster_forward(ctx, m1, bad));
        assert_non_null(strstr(ac_ctx_error(ctx), "[3, 11, 2]"));
        ac_ctx_free(ctx);
        ac_forecaster_free(m1);
        ac_forecaster_free(m2);
    }
}

/* With revin, forecasts move with the level and scale of the input: f(a x + c) = a f(x) + c
 * per channel (up to the 1e-5 in the variance). */
static void test_revin_makes_forecasts_shift_and_scale_with_the_input(void **state) {
    (void)state;
    ac_model_spec s = small_spec(AC_ATTN_ADDITIVE, AC_CHANNELS_INDEPENDENT);
    ac_forecaster *m = tm_forecaster(&s, 11);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){2, 12, 2});
    fill_windows(x, 4);
    ac_tensor *x2 = ac_tensor_temp(ctx, 3, (int[]){2, 12, 2});
    for (int64_t i = 0; i < x->size; i++) x2->data[i] = 3.0f * x->data[i] + 100.0f;
    ac_tensor *y = ac_forecaster_forward(ctx, m, x);
    ac_tensor *y2 = ac_forecaster_forward(ctx, m, x2);
    for (int64_t i = 0; i < y->size; i++)
        assert_true(fabsf(y2->data[i] - (3.0f * y->data[i] + 100.0f)) < 1e-3f);
    ac_ctx_free(ctx);
    ac_forecaster_free(m);
}

/* Two windows (L 12, 2 channels) forecast by m, of horizon 3 and q outputs a step and channel (1:
 * a point model): every output is the window's last value, bit for bit. */
static void assert_forecasts_the_naive_repeat(ac_forecaster *m, int q) {
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){2, 12, 2});
    fill_windows(x, 6);
    ac_tensor *y = ac_forecaster_forward(ctx, m, x);
    assert_non_null(y);
    for (int bi = 0; bi < 2; bi++)
        for (int t = 0; t < 3; t++)
            for (int c = 0; c < 2; c++)
                for (int j = 0; j < q; j++)
                    assert_true(y->data[((bi * 3 + t) * 2 + c) * q + j] ==
                                x->data[(bi * 12 + 11) * 2 + c]);
    ac_ctx_free(ctx);
}

/* model.anchor = last (MODEL.md version 2): the head starts at zero, so the untrained model
 * forecasts each window's last value repeated, the naive forecast, bit for bit, with and without
 * revin's scaling, in both channel modes; every other parameter is drawn as with anchor = mean. */
static void test_last_value_anchor_starts_as_the_naive_forecast(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++)
        for (int revin = 0; revin < 2; revin++) {
            ac_model_spec s = small_spec(AC_ATTN_DOT, (ac_channel_mode)mode);
            s.revin = revin;
            ac_forecaster *mean_model = tm_forecaster(&s, 12);
            s.anchor = AC_ANCHOR_LAST;
            ac_forecaster *m = tm_forecaster(&s, 12);
            ac_tensor *const *a = ac_forecaster_params(m), *const *b =
                                                               ac_forecaster_params(mean_model);
            for (int i = 0; i < ac_forecaster_param_count(m); i++) {
                bool head = strncmp(a[i]->name, "head.", 5) == 0;
                for (int64_t j = 0; j < a[i]->size; j++)
                    assert_true(head ? a[i]->data[j] == 0.0f : a[i]->data[j] == b[i]->data[j]);
            }
            assert_forecasts_the_naive_repeat(m, 1);
            ac_forecaster_free(m);
            ac_forecaster_free(mean_model);
        }
}

/* A no-grad forward of many windows runs in rounds (about 256 series each) that reuse one
 * round's memory: the forecasts equal those of one pass over the whole batch and those of one
 * window at a time, to float round-off (sgemm's summation order depends on the matrix sizes),
 * while the arena's peak is far below what the whole batch at once holds. Both channel modes
 * (32 and 256 windows a round), with a last round that is not full. */
static void test_large_no_grad_batches_run_in_rounds_with_bounded_memory(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        ac_model_spec s = small_spec(AC_ATTN_GATED, (ac_channel_mode)mode);
        s.channels = 8;
        ac_forecaster *m = tm_forecaster(&s, 13);
        int B = mode == AC_CHANNELS_INDEPENDENT ? 200 : 1100;
        ac_ctx *ctx = ac_ctx_new(0, 0);
        ac_ctx_set_grad_enabled(ctx, false);
        ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){B, 12, 8});
        fill_windows(x, 6);
        size_t before = ac_arena_used(ac_ctx_arena(ctx));
        ac_tensor *y = ac_forecaster_forward(ctx, m, x);
        assert_non_null(y);
        size_t rounds_peak = ac_arena_peak(ac_ctx_arena(ctx)) - before;
        /* the whole batch in one pass: grad mode keeps the activations backward reads (dropout
         * is 0), 2.7 to 3.7 times a round's peak here */
        ac_ctx *all = ac_ctx_new(0, 0);
        ac_tensor *xa = ac_tensor_temp(all, 3, (int[]){B, 12, 8});
        memcpy(xa->data, x->data, (size_t)x->size * sizeof(float));
        size_t a0 = ac_arena_used(ac_ctx_arena(all));
        ac_tensor *ya = ac_forecaster_forward(all, m, xa);
        assert_non_null(ya);
        for (int64_t i = 0; i < y->size; i++) assert_true(fabsf(ya->data[i] - y->data[i]) < 1e-5f);
        assert_true(rounds_peak < (ac_arena_used(ac_ctx_arena(all)) - a0) / 2);
        ac_ctx_reset(all);
        ac_ctx_set_grad_enabled(all, false);
        for (int b = 0; b < B; b += 7) {
            ac_tensor *xb = ac_tensor_temp(all, 3, (int[]){1, 12, 8});
            memcpy(xb->data, x->data + (size_t)b * 12 * 8, 12 * 8 * sizeof(float));
            ac_tensor *yb = ac_forecaster_forward(all, m, xb);
            assert_non_null(yb);
            for (int i = 0; i < 3 * 8; i++)
                assert_true(fabsf(yb->data[i] - y->data[(size_t)b * 3 * 8 + i]) < 1e-5f);
            ac_ctx_reset(all);
        }
        ac_ctx_free(all);
        ac_ctx_free(ctx);
        ac_forecaster_free(m);
    }
}

/* The arena's peak over one training step (forward, loss, backward), one thread, for each
 * attention kind in both channel modes, does not grow. The table holds the peaks of the engine's
 * policy with the sub-layers' ac_ctx_done_since; when the forecaster chose by hand, tensor by
 * tensor, what to recompute and what to keep (0.11), they were 1774592, 754304; 1762304, 750208;
 * 1696896, 797440; 1763840, 750720. */
static size_t train_step_peak(ac_attention_kind kind, ac_channel_mode mode) {
    ac_model_spec s = small_spec(kind, mode);
    s.lookback = 48;
    s.horizon = 12;
    s.channels = 3;
    s.patch_len = 8;
    s.patch_stride = 4;
    s.d_model = 32;
    s.heads = 4;
    s.d_ff = 64;
    s.dropout = 0.1f;
    ac_forecaster *m = tm_forecaster(&s, 21);
    ac_rng rng;
    ac_rng_seed(&rng, 8, 1);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_rng(ctx, &rng);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){16, 48, 3});
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){16, 12, 3});
    fill_windows(x, 4);
    fill_windows(y, 5);
    size_t before = ac_arena_used(ac_ctx_arena(ctx));
    ac_tensor *loss = ac_forecast_loss(ctx, ac_forecaster_spec(m), AC_LOSS_MSE,
                                       ac_forecaster_forward(ctx, m, x), y);
    assert_int_equal(ac_backward(ctx, loss), AC_OK);
    size_t peak = ac_arena_peak(ac_ctx_arena(ctx)) - before;
    ac_ctx_free(ctx);
    ac_forecaster_free(m);
    return peak;
}

static void test_training_step_peak_memory_does_not_grow(void **state) {
    (void)state;
    ac_error err;
    assert_int_equal(ac_threads_init(1, &err), AC_OK); /* attention's scratch is per thread */
    /* bytes, by kind (additive, dot, gated, cosine), independent then mixed channels */
    static const size_t before[AC_ATTN_COUNT][2] = {
        {1571840, 641664}, {1559552, 637568}, {1696896, 797440}, {1561088, 638080}};
    for (int kind = 0; kind < AC_ATTN_COUNT; kind++)
        for (int mode = 0; mode < 2; mode++) {
            size_t peak = train_step_peak((ac_attention_kind)kind, (ac_channel_mode)mode);
#if defined(__SANITIZE_ADDRESS__) /* its red zones make every buffer bigger */
            (void)peak, (void)before;
#else
            if (peak != before[kind][mode])
                print_message("kind %d, mode %d: peak %zu bytes\n", kind, mode, peak);
            assert_true(peak <= before[kind][mode]);
#endif
        }
}

typedef struct model_case {
    ac_forecaster *model;
    ac_tensor *x, *y; /* persistent, no grad */
    ac_loss_kind loss;
} model_case;

static ac_tensor *model_loss(ac_ctx *ctx, void *arg) {
    model_case *c = arg;
    return ac_forecast_loss(ctx, ac_forecaster_spec(c->model), c->loss,
                            ac_forecaster_forward(ctx, c->model, c->x), c->y);
}

static void check_whole_model_spec(const ac_model_spec *s, const char *label) {
    model_case c = {.model = tm_forecaster(s, 21), .loss = AC_LOSS_MSE};
    if (s->anchor == AC_ANCHOR_LAST) /* a zero head would hide every other gradient */
        fill_windows(ac_forecaster_param(c.model, "head.weight"), 3);
    ac_error err;
    c.x = ac_tensor_new(3, (int[]){2, 12, 2}, false, &err);
    c.y = ac_tensor_new(3, (int[]){2, 3, 2}, false, &err);
    fill_windows(c.x, 1);
    fill_windows(c.y, 2);
    gc_check_params(label, ac_forecaster_params(c.model), ac_forecaster_param_count(c.model),
                    model_loss, &c, 1e-2f);
    ac_tensor_free(c.x);
    ac_tensor_free(c.y);
    ac_forecaster_free(c.model);
}

static void check_whole_model(ac_attention_kind kind, ac_channel_mode mode, bool causal) {
    ac_model_spec s = small_spec(kind, mode);
    s.causal = causal;
    s.layers = 1 + (kind == AC_ATTN_DOT); /* keep the finite differences quick */
    char label[96];
    snprintf(label, sizeof label, "whole model %s %s%s", ac_attention_kind_name(kind),
             ac_channel_mode_name(mode), causal ? " causal" : "");
    check_whole_model_spec(&s, label);
}

/* The last-value anchor is a constant of the graph: the gradients stay those of finite
 * differences, with and without revin, in both channel modes. */
static void test_whole_model_grad_with_last_value_anchor(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++)
        for (int revin = 0; revin < 2; revin++) {
            ac_model_spec s = small_spec(AC_ATTN_DOT, (ac_channel_mode)mode);
            s.layers = 1;
            s.revin = revin;
            s.anchor = AC_ANCHOR_LAST;
            char label[96];
            snprintf(label, sizeof label, "whole model, anchor last, %s, revin %d",
                     ac_channel_mode_name((ac_channel_mode)mode), revin);
            check_whole_model_spec(&s, label);
        }
}

/* Every attention kind, independent and mixed (causal). */
static void test_whole_model_grad_every_kind(void **state) {
    (void)state;
    for (int k = 0; k < AC_ATTN_COUNT; k++) {
        check_whole_model((ac_attention_kind)k, AC_CHANNELS_INDEPENDENT, false);
        check_whole_model((ac_attention_kind)k, AC_CHANNELS_MIXED, true);
    }
}

/* The kinds' list and table agree: a distinct name per kind, one that the config key accepts, a
 * parameter name exactly when the score takes a parameter, a score the fused op knows. */
static void test_every_attention_kind_has_a_name_and_a_row(void **state) {
    (void)state;
    assert_true(AC_ATTN_COUNT >= 4);
    for (int k = 0; k < AC_ATTN_COUNT; k++) {
        const char *name = ac_attention_kind_name((ac_attention_kind)k);
        assert_string_not_equal(name, "unknown");
        for (int j = 0; j < k; j++)
            assert_string_not_equal(name, ac_attention_kind_name((ac_attention_kind)j));
        const ac_attention_desc *desc = ac_attention_desc_of((ac_attention_kind)k);
        assert_non_null(desc);
        int rank = ac_score_param_rank(desc->score);
        assert_true(rank >= 0 && rank <= 2);
        assert_true((desc->param != NULL) == (rank > 0));
        assert_int_equal(ac_attention_kind_projections((ac_attention_kind)k), 4 + desc->gate);
        ac_config cfg;
        ac_error err;
        ac_config_defaults(&cfg);
        char set[64];
        snprintf(set, sizeof set, "model.attention=%s", name);
        assert_int_equal(ac_config_set(&cfg, set, &err), AC_OK);
        assert_int_equal(cfg.model.attention, k);
    }
    assert_string_equal(ac_attention_kind_name((ac_attention_kind)AC_ATTN_COUNT), "unknown");
    assert_null(ac_attention_desc_of((ac_attention_kind)AC_ATTN_COUNT));
}

static void test_impossible_specs_are_refused_with_the_keys_named(void **state) {
    (void)state;
    ac_error err;
    ac_model_spec s = small_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    s.heads = 3;
    assert_int_equal(ac_model_spec_check(&s, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "model.heads"));
    s = small_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    s.patch_len = 13;
    ac_rng rng;
    ac_rng_seed(&rng, 1, 1);
    assert_null(ac_forecaster_new(&s, &rng, &err));
    assert_non_null(strstr(err.msg, "model.patch_len"));
    s = small_spec((ac_attention_kind)AC_ATTN_COUNT, AC_CHANNELS_INDEPENDENT);
    assert_null(ac_forecaster_new(&s, &rng, &err));
    assert_non_null(strstr(err.msg, "model.attention"));
}

/* ---- quantile models (MODEL.md version 2, "Quantile forecasts") ---- */

static ac_model_spec quantile_spec(ac_attention_kind kind, ac_channel_mode mode) {
    ac_model_spec s = small_spec(kind, mode);
    s.quantile_count = 3;
    s.quantiles[0] = 0.1f;
    s.quantiles[1] = 0.5f;
    s.quantiles[2] = 0.9f;
    return s;
}

/* The head grows to H Cout Q outputs and the forecast is [B, H, C, Q], level j of it exactly the
 * forecast of a point model whose head is the rows (h Cout + c) Q + j of the quantile head: the
 * layout is time-major, then channel, then level, and sigma and the anchor apply to every level
 * alike. Both channel modes and anchors, and a batch that the no-grad forward splits into rounds
 * (130 windows of 2 series) gives the same values as small batches. */
static void test_quantile_forecasts_are_b_h_c_q_one_point_head_per_level(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++)
        for (int anchor = 0; anchor < 2; anchor++) {
            ac_model_spec qs = quantile_spec(AC_ATTN_DOT, (ac_channel_mode)mode);
            qs.anchor = (ac_norm_anchor)anchor;
            ac_model_spec ps = small_spec(AC_ATTN_DOT, (ac_channel_mode)mode);
            ps.anchor = qs.anchor;
            assert_int_equal(ac_model_spec_quantiles(&qs), 3);
            assert_int_equal(ac_model_spec_quantiles(&ps), 1);
            assert_int_equal(ac_model_spec_median(&qs), 1);
            ac_forecaster *qm = tm_forecaster(&qs, 5), *pm = tm_forecaster(&ps, 5);
            int cout = mode ? 2 : 1, H = 3, Q = 3, N = 5, d = 8;
            assert_param(qm, "head.weight", 2, H * cout * Q, N * d);
            assert_param(qm, "head.bias", 1, H * cout * Q, 0);
            ac_tensor *qw = ac_forecaster_param(qm, "head.weight");
            ac_tensor *qb = ac_forecaster_param(qm, "head.bias");
            fill_windows(qw, 8); /* anchor = last starts at zero: give the head values */
            fill_windows(qb, 9);
            ac_tensor *const *pp = ac_forecaster_params(pm), *const *qp = ac_forecaster_params(qm);
            for (int i = 0; i < ac_forecaster_param_count(pm) - 2; i++)
                memcpy(pp[i]->data, qp[i]->data, (size_t)pp[i]->size * sizeof(float));
            ac_ctx *ctx = ac_ctx_new(0, 0);
            ac_ctx_set_grad_enabled(ctx, false);
            int B = 130;
            ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){B, 12, 2});
            fill_windows(x, 9);
            ac_tensor *y = ac_forecaster_forward(ctx, qm, x);
            assert_non_null(y);
            assert_int_equal(y->ndim, 4);
            assert_int_equal(y->shape[0], B);
            assert_int_equal(y->shape[1], H);
            assert_int_equal(y->shape[2], 2);
            assert_int_equal(y->shape[3], Q);
            ac_tensor *pw = ac_forecaster_param(pm, "head.weight");
            ac_tensor *pb = ac_forecaster_param(pm, "head.bias");
            for (int j = 0; j < Q; j++) {
                for (int r = 0; r < H * cout; r++) {
                    memcpy(pw->data + (size_t)r * N * d, qw->data + ((size_t)r * Q + j) * N * d,
                           (size_t)N * d * sizeof(float));
                    pb->data[r] = qb->data[r * Q + j];
                }
                ac_tensor *yp = ac_forecaster_forward(ctx, pm, x);
                assert_non_null(yp);
                assert_int_equal(yp->ndim, 3);
                for (int64_t i = 0; i < yp->size; i++)
                    assert_true(fabsf(yp->data[i] - y->data[i * Q + j]) <=
                                1e-5f * (1.0f + fabsf(yp->data[i])));
            }
            /* one window alone (not in rounds) forecasts what the batch gave it */
            ac_tensor *x1 = ac_tensor_temp(ctx, 3, (int[]){1, 12, 2});
            memcpy(x1->data, x->data + (size_t)77 * 12 * 2, 12 * 2 * sizeof(float));
            ac_tensor *y1 = ac_forecaster_forward(ctx, qm, x1);
            assert_non_null(y1);
            assert_int_equal(y1->ndim, 4);
            for (int i = 0; i < H * 2 * Q; i++)
                assert_true(fabsf(y1->data[i] - y->data[(size_t)77 * H * 2 * Q + i]) < 1e-5f);
            ac_ctx_free(ctx);
            ac_forecaster_free(qm);
            ac_forecaster_free(pm);
        }
}

/* anchor = last zeroes the head of a quantile model too: every level of the untrained model is
 * the naive repeat, bit for bit, with and without revin, in both channel modes. */
static void test_zero_quantile_head_forecasts_the_naive_repeat_at_every_level(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++)
        for (int revin = 0; revin < 2; revin++) {
            ac_model_spec s = quantile_spec(AC_ATTN_GATED, (ac_channel_mode)mode);
            s.revin = revin;
            s.anchor = AC_ANCHOR_LAST;
            ac_forecaster *m = tm_forecaster(&s, 12);
            assert_forecasts_the_naive_repeat(m, 3);
            ac_forecaster_free(m);
        }
}

/* The whole quantile model's gradient under the pinball loss, every parameter, both modes. */
static void test_whole_quantile_model_grad_with_pinball_loss(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        ac_model_spec s = quantile_spec(AC_ATTN_COSINE, (ac_channel_mode)mode);
        s.layers = 1;
        model_case c = {.model = tm_forecaster(&s, 21), .loss = AC_LOSS_PINBALL};
        ac_error err;
        c.x = ac_tensor_new(3, (int[]){2, 12, 2}, false, &err);
        c.y = ac_tensor_new(3, (int[]){2, 3, 2}, false, &err);
        fill_windows(c.x, 1);
        fill_windows(c.y, 2);
        for (int64_t i = 0; i < c.y->size; i++) c.y->data[i] += (i % 2 ? 3.0f : -3.0f);
        char label[64];
        snprintf(label, sizeof label, "quantile model, pinball, %s",
                 ac_channel_mode_name((ac_channel_mode)mode));
        gc_check_params(label, ac_forecaster_params(c.model), ac_forecaster_param_count(c.model),
                        model_loss, &c, 1e-2f);
        ac_tensor_free(c.x);
        ac_tensor_free(c.y);
        ac_forecaster_free(c.model);
    }
}

/* The loss must fit the model: pinball for a quantile model, and only for one. */
static void test_forecast_loss_pairs_pinball_with_quantile_models(void **state) {
    (void)state;
    ac_model_spec qs = quantile_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    ac_model_spec ps = small_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    ac_forecaster *qm = tm_forecaster(&qs, 3), *pm = tm_forecaster(&ps, 3);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){2, 12, 2});
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){2, 3, 2});
    fill_windows(x, 1);
    fill_windows(y, 2);
    assert_non_null(
        ac_forecast_loss(ctx, &qs, AC_LOSS_PINBALL, ac_forecaster_forward(ctx, qm, x), y));
    assert_null(ac_forecast_loss(ctx, &qs, AC_LOSS_MSE, ac_forecaster_forward(ctx, qm, x), y));
    assert_non_null(strstr(ac_ctx_error(ctx), "pinball"));
    ac_ctx_reset(ctx);
    x = ac_tensor_temp(ctx, 3, (int[]){2, 12, 2});
    y = ac_tensor_temp(ctx, 3, (int[]){2, 3, 2});
    assert_null(ac_forecast_loss(ctx, &ps, AC_LOSS_PINBALL, ac_forecaster_forward(ctx, pm, x), y));
    ac_ctx_free(ctx);
    ac_forecaster_free(qm);
    ac_forecaster_free(pm);
}

/* Consumers see sorted levels (no crossing) and the median of the sorted levels as the point. */
static void test_quantile_outputs_sort_and_give_the_median_as_point(void **state) {
    (void)state;
    ac_model_spec qs = quantile_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    float out[] = {3, 1, 2, /* crossing */ -1, 0, 4, /* ordered */ 5, 5, -2};
    float point[3];
    ac_forecast_point(&qs, out, 3, point);
    assert_true(point[0] == 2 && point[1] == 0 && point[2] == 5);
    assert_true(out[0] == 3); /* left as it was */
    ac_forecast_sort_quantiles(out, 3, 3);
    const float sorted[] = {1, 2, 3, -1, 0, 4, -2, 5, 5};
    assert_memory_equal(out, sorted, sizeof sorted);
    ac_model_spec ps = small_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    ac_forecast_point(&ps, out, 3, point); /* a point model: a copy */
    assert_true(point[0] == 1 && point[1] == 2 && point[2] == 3);
}

static void test_bad_quantile_levels_are_refused_naming_the_key(void **state) {
    (void)state;
    ac_error err;
    ac_model_spec s = quantile_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    s.quantiles[1] = 0.4f; /* no 0.5 */
    assert_int_equal(ac_model_spec_check(&s, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "model.quantiles"));
    s = quantile_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    s.quantiles[2] = 0.5f; /* not increasing */
    assert_int_equal(ac_model_spec_check(&s, &err), AC_ERR_INVALID);
    s = quantile_spec(AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT);
    s.quantiles[2] = 1.0f;
    assert_int_equal(ac_model_spec_check(&s, &err), AC_ERR_INVALID);
    s.quantile_count = AC_MAX_QUANTILES + 1;
    assert_int_equal(ac_model_spec_check(&s, &err), AC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_names_and_shapes_follow_model_md),
        cmocka_unit_test(test_initialisation_follows_model_md),
        cmocka_unit_test(test_forward_gives_b_h_c_in_both_modes_and_repeats_exactly),
        cmocka_unit_test(test_revin_makes_forecasts_shift_and_scale_with_the_input),
        cmocka_unit_test(test_last_value_anchor_starts_as_the_naive_forecast),
        cmocka_unit_test(test_large_no_grad_batches_run_in_rounds_with_bounded_memory),
        cmocka_unit_test(test_whole_model_grad_every_kind),
        cmocka_unit_test(test_every_attention_kind_has_a_name_and_a_row),
        cmocka_unit_test(test_whole_model_grad_with_last_value_anchor),
        cmocka_unit_test(test_impossible_specs_are_refused_with_the_keys_named),
        cmocka_unit_test(test_training_step_peak_memory_does_not_grow),
        cmocka_unit_test(test_quantile_forecasts_are_b_h_c_q_one_point_head_per_level),
        cmocka_unit_test(test_zero_quantile_head_forecasts_the_naive_repeat_at_every_level),
        cmocka_unit_test(test_whole_quantile_model_grad_with_pinball_loss),
        cmocka_unit_test(test_forecast_loss_pairs_pinball_with_quantile_models),
        cmocka_unit_test(test_quantile_outputs_sort_and_give_the_median_as_point),
        cmocka_unit_test(test_bad_quantile_levels_are_refused_naming_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
