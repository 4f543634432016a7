/* test_autograd.c - the tape and the context: recording only when needed, no-grad mode,
 * gradient accumulation and zero_grad, misuse reported as errors (never aborts), NULL
 * propagation, the arena limit, steady-state training steps that do not allocate, batch
 * slices (data-parallel training) that reproduce the whole batch, and released activations
 * (recomputed in backward, the same bits, less memory). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "tensor/pool.h" /* ac_ctx_release, ac_ctx_release_after_use */

static ac_tensor *param(int rows, int cols, float v) {
    ac_error err;
    ac_tensor *t = ac_tensor_new(2, (int[]){rows, cols}, true, &err);
    assert_non_null(t);
    for (int64_t i = 0; i < t->size; i++) t->data[i] = v + 0.1f * (float)i;
    return t;
}

static void test_ops_on_constants_record_nothing(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *x = ac_tensor_temp(ctx, 2, (int[]){2, 3});
    ac_tensor_fill(x, 1.0f);
    ac_tensor *y = ac_exp(ctx, ac_add(ctx, x, x));
    assert_non_null(y);
    assert_false(y->requires_grad);
    assert_int_equal(ac_ctx_tape_length(ctx), 0);
    assert_int_equal(ac_backward(ctx, ac_sum_all(ctx, y)), AC_ERR_STATE);
    assert_non_null(strstr(ac_ctx_error(ctx), "requires grad"));
    ac_ctx_free(ctx);
}

static void test_no_grad_mode_records_nothing_and_dropout_is_identity(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *w = param(3, 3, 0.5f);
    assert_true(ac_ctx_set_grad_enabled(ctx, false));
    ac_tensor *y = ac_dropout(ctx, ac_matmul(ctx, w, w, false, false), 0.5f);
    assert_non_null(y); /* no rng set: fine, dropout does not draw in no-grad mode */
    assert_false(y->requires_grad);
    assert_int_equal(ac_ctx_tape_length(ctx), 0);
    assert_false(ac_ctx_set_grad_enabled(ctx, true));
    y = ac_matmul(ctx, w, w, false, false);
    assert_true(y->requires_grad);
    assert_int_equal(ac_ctx_tape_length(ctx), 1);
    ac_tensor_free(w);
    ac_ctx_free(ctx);
}

static void test_gradients_accumulate_across_steps_until_zero_grad(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *w = param(2, 2, 1.0f);
    for (int step = 0; step < 2; step++) {
        assert_int_equal(ac_backward(ctx, ac_sum_all(ctx, ac_scale(ctx, w, 3.0f))), AC_OK);
        ac_ctx_reset(ctx);
    }
    for (int i = 0; i < 4; i++) assert_true(w->grad[i] == 6.0f);
    ac_zero_grad(&w, 1);
    for (int i = 0; i < 4; i++) assert_true(w->grad[i] == 0.0f);
    ac_tensor_free(w);
    ac_ctx_free(ctx);
}

static void test_backward_twice_on_one_tape_is_refused(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *w = param(2, 2, 1.0f);
    ac_tensor *loss = ac_sum_all(ctx, w);
    assert_int_equal(ac_backward(ctx, loss), AC_OK);
    assert_int_equal(ac_backward(ctx, loss), AC_ERR_STATE);
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_ctx_reset"));
    for (int i = 0; i < 4; i++) assert_true(w->grad[i] == 1.0f); /* not doubled */
    ac_tensor_free(w);
    ac_ctx_free(ctx);
}

static void test_backward_of_a_non_scalar_names_the_shape(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *w = param(2, 3, 1.0f);
    assert_int_equal(ac_backward(ctx, ac_exp(ctx, w)), AC_ERR_SHAPE);
    assert_non_null(strstr(ac_ctx_error(ctx), "[2, 3]"));
    ac_tensor_free(w);
    ac_ctx_free(ctx);
}

static void test_shape_mismatch_names_the_op_and_both_shapes(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *a = param(2, 3, 0.0f), *b = param(4, 5, 0.0f);
    assert_null(ac_matmul(ctx, a, b, false, false));
    assert_int_equal(ac_ctx_status(ctx), AC_ERR_SHAPE);
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_matmul"));
    assert_non_null(strstr(ac_ctx_error(ctx), "[2, 3]"));
    assert_non_null(strstr(ac_ctx_error(ctx), "[4, 5]"));
    /* the first error is kept; later ops on the failed context return NULL */
    assert_null(ac_add(ctx, a, a));
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_matmul"));
    ac_ctx_reset(ctx);
    assert_string_equal(ac_ctx_error(ctx), "");
    assert_null(ac_add(ctx, a, b));
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_add: shapes do not broadcast: a [2, 3] vs b "
                                              "[4, 5]"));
    ac_ctx_reset(ctx);
    assert_null(ac_linear(ctx, a, b, NULL));
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_linear"));
    ac_ctx_reset(ctx);
    assert_null(ac_slice(ctx, a, 1, 2, 5));
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_slice"));
    ac_ctx_reset(ctx);
    assert_null(ac_reshape(ctx, a, 2, (int[]){4, 2}));
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_reshape"));
    ac_ctx_reset(ctx);
    assert_null(ac_mse_loss(ctx, a, b));
    assert_non_null(strstr(ac_ctx_error(ctx), "ac_mse_loss"));
    ac_ctx_reset(ctx);
    assert_null(ac_sum(ctx, a, 5, false));
    assert_non_null(strstr(ac_ctx_error(ctx), "axis 5"));
    ac_tensor_free(a);
    ac_tensor_free(b);
    ac_ctx_free(ctx);
}

static void test_null_inputs_propagate_without_crashing(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *x = param(2, 2, 1.0f);
    assert_null(ac_add(ctx, NULL, x));
    assert_null(ac_gelu(ctx, NULL));
    assert_null(ac_softmax(ctx, NULL, NULL));
    assert_null(ac_layer_norm(ctx, NULL, NULL, NULL, 1e-5f));
    assert_null(ac_concat(ctx, (ac_tensor *[]){x, NULL}, 2, 0));
    assert_null(ac_mse_loss(ctx, x, NULL));
    assert_int_equal(ac_backward(ctx, NULL), AC_ERR_STATE);
    ac_tensor_free(x);
    ac_ctx_free(ctx);
}

static void test_full_arena_fails_the_op_with_a_message(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(4096, 64 * 1024);
    ac_tensor *x = ac_tensor_temp(ctx, 2, (int[]){16, 16});
    assert_non_null(x);
    ac_tensor_fill(x, 2.0f);
    ac_tensor *big = ac_tensor_temp(ctx, 2, (int[]){256, 256}); /* 256 KiB > limit */
    assert_null(big);
    assert_int_equal(ac_ctx_status(ctx), AC_ERR_NOMEM);
    assert_non_null(strstr(ac_ctx_error(ctx), "out of memory"));
    for (int i = 0; i < 256; i++) assert_true(x->data[i] == 2.0f);
    ac_ctx_reset(ctx);
    assert_non_null(ac_exp(ctx, ac_tensor_temp(ctx, 2, (int[]){16, 16})));
    ac_ctx_free(ctx);
}

static void test_dropout_without_rng_in_training_is_an_error(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *x = param(2, 2, 1.0f);
    assert_null(ac_dropout(ctx, x, 0.1f));
    assert_non_null(strstr(ac_ctx_error(ctx), "rng"));
    ac_ctx_reset(ctx);
    assert_null(ac_dropout(ctx, x, 1.0f));
    assert_non_null(strstr(ac_ctx_error(ctx), "rate"));
    ac_ctx_reset(ctx);
    assert_ptr_equal(ac_dropout(ctx, x, 0.0f), x);
    ac_tensor_free(x);
    ac_ctx_free(ctx);
}

/* One step of a small model: forward, backward, plain SGD, reset (dropout draws from the
 * context's rng). */
static float train_step(ac_ctx *ctx, ac_tensor *w1, ac_tensor *b1, ac_tensor *w2) {
    ac_rng data; /* the same batch every step, so the loss must fall */
    ac_rng_seed(&data, 5, 5);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){4, 8, 6});
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){4, 8, 2});
    for (int64_t i = 0; i < x->size; i++) x->data[i] = ac_rng_uniform_range(&data, -1, 1);
    for (int64_t i = 0; i < y->size; i++) y->data[i] = ac_rng_uniform_range(&data, -1, 1);
    ac_tensor *h = ac_dropout(ctx, ac_gelu(ctx, ac_linear(ctx, x, w1, b1)), 0.1f);
    ac_tensor *loss =
        ac_mse_loss(ctx, ac_linear(ctx, ac_layer_norm(ctx, h, NULL, NULL, 1e-5f), w2, NULL), y);
    assert_non_null(loss);
    assert_int_equal(ac_backward(ctx, loss), AC_OK);
    ac_tensor *ps[] = {w1, b1, w2};
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < ps[p]->size; i++) ps[p]->data[i] -= 0.05f * ps[p]->grad[i];
    ac_zero_grad(ps, 3);
    float v = loss->data[0];
    ac_ctx_reset(ctx);
    return v;
}

static void test_steady_state_steps_allocate_nothing_and_repeat_bit_for_bit(void **state) {
    (void)state;
    float losses[2][6];
    for (int run = 0; run < 2; run++) {
        ac_ctx *ctx = ac_ctx_new(1024, 0);
        ac_rng rng;
        ac_rng_seed(&rng, 123, 0);
        ac_ctx_set_rng(ctx, &rng);
        ac_tensor *w1 = param(16, 6, -0.3f), *w2 = param(2, 16, -0.2f);
        ac_error err;
        ac_tensor *b1 = ac_tensor_new(1, (int[]){16}, true, &err);
        for (int64_t i = 0; i < w1->size; i++) w1->data[i] = ac_rng_uniform_range(&rng, -.4f, .4f);
        for (int64_t i = 0; i < w2->size; i++) w2->data[i] = ac_rng_uniform_range(&rng, -.2f, .2f);
        size_t cap = 0;
        for (int step = 0; step < 6; step++) {
            losses[run][step] = train_step(ctx, w1, b1, w2);
            assert_true(isfinite(losses[run][step]));
            ac_arena *arena = ac_ctx_arena(ctx);
            assert_int_equal(ac_arena_chunk_count(arena), 1);
            if (step == 1) cap = ac_arena_capacity(arena);
            if (step > 1) assert_int_equal(ac_arena_capacity(arena), cap);
        }
        ac_tensor_free(w1);
        ac_tensor_free(b1);
        ac_tensor_free(w2);
        ac_ctx_free(ctx);
    }
    assert_memory_equal(losses[0], losses[1], sizeof losses[0]);
    assert_true(losses[0][5] < losses[0][0]);
}

/* The small model of train_step on windows [first, first + count) of one batch of 5, x [w, 8, 6]
 * requiring grad: returns the loss; out and x's gradient are copied to the caller. */
static float slice_forward(int first, int count, ac_rng *dropout, ac_tensor *w1, ac_tensor *w2,
                           const float *batch_x, const float *batch_y, float *out, float *gx) {
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_rng(ctx, dropout);
    ac_ctx_set_batch_slice(ctx, first, count, 5);
    ac_error err;
    ac_tensor *x = ac_tensor_new(3, (int[]){count, 8, 6}, true, &err);
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){count, 8, 2});
    memcpy(x->data, batch_x + first * 48, (size_t)count * 48 * sizeof(float));
    memcpy(y->data, batch_y + first * 16, (size_t)count * 16 * sizeof(float));
    ac_tensor *h = ac_dropout(ctx, ac_gelu(ctx, ac_linear(ctx, x, w1, NULL)), 0.3f);
    ac_tensor *pred = ac_linear(ctx, ac_layer_norm(ctx, h, NULL, NULL, 1e-5f), w2, NULL);
    ac_tensor *loss = ac_mse_loss(ctx, pred, y);
    assert_non_null(loss);
    assert_int_equal(ac_backward(ctx, loss), AC_OK);
    memcpy(out, pred->data, (size_t)pred->size * sizeof(float));
    memcpy(gx, x->grad, (size_t)x->size * sizeof(float));
    float value = loss->data[0];
    ac_tensor *ps[] = {w1, w2};
    ac_zero_grad(ps, 2);
    ac_tensor_free(x);
    ac_ctx_free(ctx);
    return value;
}

/* Data-parallel training splits a batch across processes: each slice must get exactly the
 * whole batch's dropout masks, outputs and input gradients on its windows, leave the rng where
 * the whole batch leaves it, and the slices' losses must add up to the whole batch's mean. */
static void test_batch_slices_reproduce_the_whole_batch(void **state) {
    (void)state;
    ac_rng data;
    ac_rng_seed(&data, 8, 8);
    float bx[5 * 48], by[5 * 16];
    for (int i = 0; i < 5 * 48; i++) bx[i] = ac_rng_uniform_range(&data, -1, 1);
    for (int i = 0; i < 5 * 16; i++) by[i] = ac_rng_uniform_range(&data, -1, 1);
    ac_tensor *w1 = param(16, 6, -0.3f), *w2 = param(2, 16, -0.2f);
    float whole_out[5 * 16], whole_gx[5 * 48], part_out[5 * 16], part_gx[5 * 48];
    ac_rng whole_rng;
    ac_rng_seed(&whole_rng, 77, 2);
    ac_rng start = whole_rng;
    float whole = slice_forward(0, 5, &whole_rng, w1, w2, bx, by, whole_out, whole_gx);
    const int firsts[] = {0, 2, 3}, counts[] = {2, 1, 2}; /* slices [0,2) [2,3) [3,5) */
    double sum = 0.0;
    for (int k = 0; k < 3; k++) {
        ac_rng rng = start;
        sum += slice_forward(firsts[k], counts[k], &rng, w1, w2, bx, by, part_out, part_gx);
        assert_true(rng.state == whole_rng.state);
        assert_memory_equal(part_out, whole_out + firsts[k] * 16, counts[k] * 16 * sizeof(float));
        assert_memory_equal(part_gx, whole_gx + firsts[k] * 48, counts[k] * 48 * sizeof(float));
    }
    assert_true(fabs(sum - whole) <= 1e-6 * fabs(whole));
    ac_tensor_free(w1);
    ac_tensor_free(w2);
}

/* The releases of released_block_step: none (0), the explicit ones (1), or ac_ctx_done (2),
 * which picks between the two from the cost class of the op that made t. */
static bool now(ac_ctx *ctx, int release, ac_tensor *t) {
    return release == 2 ? ac_ctx_done(ctx, t) : ac_ctx_release(ctx, t);
}
static bool after_use(ac_ctx *ctx, int release, ac_tensor *t) {
    return release == 2 ? ac_ctx_done(ctx, t) : ac_ctx_release_after_use(ctx, t);
}

/* A block shaped like a forecaster layer on x [4, 5, 8]: layer norm, attention (each kind) with
 * a sigmoid gate, a GELU feed-forward and residual dropouts. With `release`, every activation the
 * forecaster releases is released here too. Returns the loss; copies every parameter's gradient and
 * x's to grads (in order), the arena's use after the forward to *used and its peak to *peak. */
enum { REL_PARAMS = 11 };
static float released_block_step(int release, ac_score_kind kind, float *grads, size_t *used,
                                 size_t *peak, int *released) {
    ac_error err;
    ac_rng rng;
    ac_rng_seed(&rng, 5, 1);
    ac_tensor *x = ac_tensor_new(3, (int[]){4, 5, 8}, true, &err);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = ac_rng_uniform_range(&rng, -1, 1);
    ac_tensor *p[REL_PARAMS] = {param(8, 8, 0.0f),
                                param(8, 8, 0.0f),
                                param(8, 8, 0.0f),
                                param(8, 8, 0.0f),
                                param(16, 8, 0.0f),
                                param(8, 16, 0.0f),
                                kind == AC_SCORE_ADDITIVE ? param(2, 4, 0.0f) : param(1, 2, 0.0f),
                                param(8, 8, 0.0f),
                                param(8, 8, 0.0f), /* the embedding and its position terms */
                                param(5, 8, 0.0f),
                                x};
    for (int k = 0; k < REL_PARAMS - 1; k++)
        for (int64_t i = 0; i < p[k]->size; i++)
            p[k]->data[i] = ac_rng_uniform_range(&rng, -0.5f, 0.5f);
    ac_tensor *score = NULL;
    if (kind != AC_SCORE_DOT) {
        score = p[6];
        if (kind == AC_SCORE_COSINE) assert_true(ac_tensor_set_shape(score, 1, (int[]){2}));
    }
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_rng(ctx, &rng);
    *released = 0;
    ac_tensor *proj = ac_linear(ctx, x, p[8], NULL);
    ac_tensor *x0 = ac_add(ctx, proj, p[9]); /* broadcast over the samples */
    if (release) *released += now(ctx, release, proj);
    ac_tensor *z = ac_layer_norm(ctx, x0, NULL, NULL, 1e-5f);
    ac_tensor *q = ac_linear(ctx, z, p[0], NULL), *k = ac_linear(ctx, z, p[1], NULL);
    ac_tensor *v = ac_linear(ctx, z, p[2], NULL);
    ac_tensor *o = ac_attention(ctx, q, k, v, 2, kind, score, false, NULL);
    if (release) /* kept for the attention's backward, then pooled */
        *released +=
            after_use(ctx, release, q) + after_use(ctx, release, k) + after_use(ctx, release, v);
    ac_tensor *gate_in = ac_linear(ctx, z, p[7], NULL);
    ac_tensor *attn = ac_linear(ctx, ac_mul(ctx, o, ac_sigmoid(ctx, gate_in)), p[3], NULL);
    if (release)
        *released += now(ctx, release, z) + now(ctx, release, o) + now(ctx, release, gate_in);
    ac_tensor *e = ac_residual_dropout(ctx, x0, attn, 0.2f);
    /* x0: recomputed (from proj, recomputed first and given back right after) for z's layer
     * norm, z for the projections */
    if (release) *released += now(ctx, release, attn) + now(ctx, release, x0);
    ac_tensor *z2 = ac_layer_norm(ctx, e, NULL, NULL, 1e-5f);
    ac_tensor *hidden = ac_linear(ctx, z2, p[4], NULL);
    ac_tensor *act = ac_gelu(ctx, hidden);
    ac_tensor *ff = ac_linear(ctx, act, p[5], NULL);
    if (release)
        *released +=
            now(ctx, release, z2) + now(ctx, release, act) + after_use(ctx, release, hidden);
    ac_tensor *mid = e;
    e = ac_residual_dropout(ctx, e, ff, 0.2f);
    if (release) *released += now(ctx, release, ff) + after_use(ctx, release, mid);
    assert_non_null(q->data); /* after use: the values stay until backward has read them */
    assert_non_null(hidden->data);
    ac_tensor *loss = ac_mean_all(ctx, ac_mul(ctx, e, e));
    assert_non_null(loss);
    *used = ac_arena_used(ac_ctx_arena(ctx));
    assert_int_equal(ac_backward(ctx, loss), AC_OK);
    *peak = ac_arena_peak(ac_ctx_arena(ctx));
    assert_true((release != 0) == (q->data == NULL && v->data == NULL && hidden->data == NULL &&
                                   mid->data == NULL)); /* pooled once read */
    float value = loss->data[0];
    for (int j = 0; j < REL_PARAMS; j++) {
        if (j == 6 && kind == AC_SCORE_DOT) continue; /* dot has no score parameter */
        memcpy(grads, p[j]->grad, (size_t)p[j]->size * sizeof(float));
        grads += p[j]->size;
    }
    for (int j = 0; j < REL_PARAMS; j++) ac_tensor_free(p[j]);
    ac_ctx_free(ctx);
    return value;
}

/* Releasing the activations a forecaster layer can do without (ac_ctx_release), and the ones
 * it reads only in backward once backward has read them (ac_ctx_release_after_use), changes no
 * bit of the loss or of any gradient, for every attention kind, and the step needs less of the
 * arena. */
static void test_released_activations_give_the_same_bits_in_less_memory(void **state) {
    (void)state;
    const ac_score_kind kinds[] = {AC_SCORE_DOT, AC_SCORE_ADDITIVE, AC_SCORE_COSINE};
    for (int i = 0; i < 3; i++) {
        float kept[2048] = {0}, rel[2048] = {0};
        size_t used_kept, used_rel, peak_kept, peak_rel;
        int n_kept, n_rel;
        float a = released_block_step(false, kinds[i], kept, &used_kept, &peak_kept, &n_kept);
        float b = released_block_step(true, kinds[i], rel, &used_rel, &peak_rel, &n_rel);
        assert_int_equal(n_rel, 14);
        assert_memory_equal(&a, &b, sizeof a);
        assert_memory_equal(kept, rel, sizeof kept);
        /* z, z2, o, gate_in, attn and ff are [4, 5, 8] (640 bytes), act [4, 5, 16]: the
         * buffers of most are reused by later tensors of their size (less the releases' own
         * records, 128 bytes each) */
        assert_true(used_rel + 3 * 640 <= used_kept);
        assert_true(peak_rel < peak_kept);
    }
}

/* What cannot be released is left alone: values a backward reads with no way to recompute
 * them, a tensor a view shares, parameters, anything in no-grad mode. */
/* ac_ctx_done makes, op by op, the choice the explicit releases make by hand in a forecaster
 * layer (recompute the cheap, keep the matmuls' outputs until backward has read them): the same
 * count, the same bits, the same arena use and peak, for every attention kind. */
static void test_done_chooses_as_the_explicit_releases(void **state) {
    (void)state;
    const ac_score_kind kinds[] = {AC_SCORE_DOT, AC_SCORE_ADDITIVE, AC_SCORE_COSINE};
    for (int i = 0; i < 3; i++) {
        float by_hand[2048] = {0}, done[2048] = {0};
        size_t used_hand, used_done, peak_hand, peak_done;
        int n_hand, n_done;
        float a = released_block_step(1, kinds[i], by_hand, &used_hand, &peak_hand, &n_hand);
        float b = released_block_step(2, kinds[i], done, &used_done, &peak_done, &n_done);
        assert_int_equal(n_done, n_hand);
        assert_memory_equal(&a, &b, sizeof a);
        assert_memory_equal(by_hand, done, sizeof by_hand);
        assert_int_equal(used_done, used_hand);
        assert_int_equal(peak_done, peak_hand);
    }
}

/* A small residual sub-layer, e + gelu(W LayerNorm(e)) viewed flat, with or without
 * ac_ctx_done_since over it: W's gradient to *grad; *taken: what the context took. */
static void sublayer_step(bool done, float grad[9], int *taken) {
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *w = param(3, 3, -0.4f);
    ac_tensor *x = ac_tensor_temp(ctx, 2, (int[]){2, 3});
    for (int i = 0; i < 6; i++) x->data[i] = 0.3f * (float)i - 0.7f;
    ac_tensor *e = ac_linear(ctx, x, w, NULL); /* made before the scope */
    ac_ctx_mark mark = ac_ctx_get_mark(ctx);
    ac_tensor *z = ac_layer_norm(ctx, e, NULL, NULL, 1e-5f);
    ac_tensor *h = ac_linear(ctx, z, w, NULL);
    ac_tensor *out = ac_residual_dropout(ctx, e, ac_gelu(ctx, h), 0.0f);
    ac_tensor *flat = ac_reshape(ctx, out, 1, (int[]){6}); /* a view of out */
    *taken = done ? ac_ctx_done_since(ctx, mark, flat) : 0;
    /* z (recomputed) and the gelu (no backward reads it) given up now, h kept until read; out
     * shares its data with flat, which is kept, and e was made before the mark */
    assert_true((z->data == NULL) == done);
    assert_non_null(h->data);
    assert_non_null(out->data);
    assert_non_null(e->data);
    assert_int_equal(ac_backward(ctx, ac_sum_all(ctx, ac_mul(ctx, flat, flat))), AC_OK);
    assert_true((h->data == NULL) == done); /* pooled once read */
    memcpy(grad, w->grad, 9 * sizeof(float));
    ac_tensor_free(w);
    ac_ctx_free(ctx);
}

/* ac_ctx_done_since is ac_ctx_done for every tensor a scope made but its result and views: the
 * same gradient, bit for bit. */
static void test_done_since_takes_what_a_scope_made_but_its_result(void **state) {
    (void)state;
    float kept[9], done[9];
    int taken;
    sublayer_step(false, kept, &taken);
    sublayer_step(true, done, &taken);
    assert_int_equal(taken, 3);
    assert_memory_equal(kept, done, sizeof kept);
}

static void test_release_refuses_what_backward_still_needs(void **state) {
    (void)state;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_tensor *w = param(3, 3, 0.5f);
    ac_tensor *x = ac_tensor_temp(ctx, 2, (int[]){2, 3});
    ac_tensor_fill(x, 1.0f);
    ac_tensor *lin = ac_matmul(ctx, x, w, false, true); /* cannot recompute its output */
    ac_tensor *prod = ac_mul(ctx, lin, lin);            /* mul's backward reads lin */
    assert_false(ac_ctx_release(ctx, lin));
    assert_non_null(lin->data);
    ac_tensor *norm = ac_layer_norm(ctx, prod, NULL, NULL, 1e-5f);
    ac_tensor *view = ac_reshape(ctx, norm, 1, (int[]){6});
    assert_false(ac_ctx_release(ctx, norm)); /* the view would lose its data */
    assert_false(ac_ctx_release(ctx, w));
    ac_tensor *loss = ac_sum_all(ctx, view);
    assert_int_equal(ac_backward(ctx, loss), AC_OK);
    ac_ctx_reset(ctx);
    x = ac_tensor_temp(ctx, 2, (int[]){2, 3});
    ac_tensor_fill(x, 1.0f);
    bool was = ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *g = ac_gelu(ctx, ac_linear(ctx, x, w, NULL));
    assert_false(ac_ctx_release(ctx, g));
    ac_ctx_set_grad_enabled(ctx, was);
    /* a released buffer is handed to the next tensor of its size */
    ac_tensor *h = ac_gelu(ctx, ac_linear(ctx, x, w, NULL));
    float *buffer = h->data;
    ac_tensor *next = ac_sum_all(ctx, ac_linear(ctx, h, w, NULL));
    assert_true(ac_ctx_release(ctx, h));
    assert_null(h->data);
    ac_tensor *same_size = ac_tensor_temp(ctx, 2, (int[]){2, 3});
    assert_ptr_equal(same_size->data, buffer);
    assert_int_equal(ac_backward(ctx, next), AC_OK);
    ac_tensor_free(w);
    ac_ctx_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_on_constants_record_nothing),
        cmocka_unit_test(test_no_grad_mode_records_nothing_and_dropout_is_identity),
        cmocka_unit_test(test_gradients_accumulate_across_steps_until_zero_grad),
        cmocka_unit_test(test_backward_twice_on_one_tape_is_refused),
        cmocka_unit_test(test_backward_of_a_non_scalar_names_the_shape),
        cmocka_unit_test(test_shape_mismatch_names_the_op_and_both_shapes),
        cmocka_unit_test(test_null_inputs_propagate_without_crashing),
        cmocka_unit_test(test_full_arena_fails_the_op_with_a_message),
        cmocka_unit_test(test_dropout_without_rng_in_training_is_an_error),
        cmocka_unit_test(test_steady_state_steps_allocate_nothing_and_repeat_bit_for_bit),
        cmocka_unit_test(test_batch_slices_reproduce_the_whole_batch),
        cmocka_unit_test(test_released_activations_give_the_same_bits_in_less_memory),
        cmocka_unit_test(test_done_chooses_as_the_explicit_releases),
        cmocka_unit_test(test_done_since_takes_what_a_scope_made_but_its_result),
        cmocka_unit_test(test_release_refuses_what_backward_still_needs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
