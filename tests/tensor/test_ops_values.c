/* test_ops_values.c - forward values of the ops against independent references: naive loops
 * for matrix products, closed forms for functions and losses, and the fused kernels (softmax,
 * layer norm) against the same math built from generic ops. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"

static ac_ctx *g_ctx;
static ac_rng g_rng;

static int setup(void **state) {
    (void)state;
    g_ctx = ac_ctx_new(0, 0);
    ac_rng_seed(&g_rng, 2024, 0);
    return g_ctx ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    ac_ctx_free(g_ctx);
    return 0;
}

static ac_tensor *rand_temp(int ndim, const int *shape, float lo, float hi) {
    ac_tensor *t = ac_tensor_temp(g_ctx, ndim, shape);
    assert_non_null(t);
    for (int64_t i = 0; i < t->size; i++) t->data[i] = ac_rng_uniform_range(&g_rng, lo, hi);
    return t;
}

static void assert_close(const float *a, const float *b, int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)a[i] - (double)b[i]) > tol * (1.0 + fabs((double)b[i])))
            fail_msg("element %lld: %.7g vs %.7g", (long long)i, (double)a[i], (double)b[i]);
}

/* ---- matmul against the naive triple loop, every flag combination, batched ---- */

static void test_matmul_matches_naive_loops_for_all_flags_and_batches(void **state) {
    (void)state;
    const int Bt = 3, M = 5, K = 7, N = 4;
    for (int f = 0; f < 4; f++) {
        bool ta = f & 1, tb = f >> 1;
        ac_tensor *a = rand_temp(3, ta ? (int[]){Bt, K, M} : (int[]){Bt, M, K}, -1, 1);
        ac_tensor *b2 = rand_temp(2, tb ? (int[]){N, K} : (int[]){K, N}, -1, 1);
        ac_tensor *b3 = rand_temp(3, tb ? (int[]){Bt, N, K} : (int[]){Bt, K, N}, -1, 1);
        for (int shared = 0; shared < 2; shared++) {
            ac_tensor *b = shared ? b2 : b3;
            ac_tensor *c = ac_matmul(g_ctx, a, b, ta, tb);
            assert_non_null(c);
            assert_int_equal(c->ndim, 3);
            assert_int_equal(c->shape[1], M);
            assert_int_equal(c->shape[2], N);
            for (int bi = 0; bi < Bt; bi++)
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double acc = 0.0;
                        for (int k = 0; k < K; k++) {
                            float av = a->data[bi * M * K + (ta ? k * M + i : i * K + k)];
                            const float *bd = b->data + (shared ? 0 : bi * K * N);
                            float bv = bd[tb ? j * K + k : k * N + j];
                            acc += (double)av * bv;
                        }
                        float got = c->data[(bi * M + i) * N + j];
                        if (fabs(got - acc) > 1e-5)
                            fail_msg("ta=%d tb=%d shared=%d [%d,%d,%d]: %g vs %g", ta, tb, shared,
                                     bi, i, j, (double)got, acc);
                    }
        }
        ac_ctx_reset(g_ctx);
    }
}

static void test_linear_equals_matmul_plus_bias(void **state) {
    (void)state;
    ac_tensor *x = rand_temp(3, (int[]){2, 3, 5}, -1, 1);
    ac_tensor *w = rand_temp(2, (int[]){4, 5}, -1, 1);
    ac_tensor *b = rand_temp(1, (int[]){4}, -1, 1);
    ac_tensor *y = ac_linear(g_ctx, x, w, b);
    ac_tensor *ref = ac_add(g_ctx, ac_matmul(g_ctx, x, w, false, true), b);
    assert_non_null(y);
    assert_non_null(ref);
    assert_close(y->data, ref->data, y->size, 1e-6);
    ac_ctx_reset(g_ctx);
}

/* ---- broadcasting ---- */

static void test_broadcast_column_plus_row_is_an_outer_sum(void **state) {
    (void)state;
    ac_tensor *col = ac_tensor_temp(g_ctx, 2, (int[]){3, 1});
    ac_tensor *row = ac_tensor_temp(g_ctx, 1, (int[]){4});
    for (int i = 0; i < 3; i++) col->data[i] = (float)(10 * i);
    for (int j = 0; j < 4; j++) row->data[j] = (float)j;
    ac_tensor *s = ac_add(g_ctx, col, row);
    ac_tensor *d = ac_div(g_ctx, row, col); /* includes x / 0 = inf */
    assert_int_equal(s->ndim, 2);
    assert_int_equal(s->shape[0], 3);
    assert_int_equal(s->shape[1], 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) assert_true(s->data[i * 4 + j] == (float)(10 * i + j));
    assert_true(d->data[4 + 2] == 0.2f);
    ac_ctx_reset(g_ctx);
}

/* ---- elementwise functions ---- */

static void test_functions_match_closed_forms(void **state) {
    (void)state;
    ac_tensor *x = ac_tensor_temp(g_ctx, 1, (int[]){5});
    const float xs[] = {-2.0f, -1.0f, 0.0f, 1.0f, 2.5f};
    memcpy(x->data, xs, sizeof xs);
    /* gelu(x) = x * Phi(x); Phi from a table to 10 digits */
    const float gelu_ref[] = {-0.0455002639f, -0.1586552539f, 0.0f, 0.8413447461f, 2.4844758157f};
    assert_close(ac_gelu(g_ctx, x)->data, gelu_ref, 5, 1e-6);
    const float relu_ref[] = {0, 0, 0, 1, 2.5f};
    assert_close(ac_relu(g_ctx, x)->data, relu_ref, 5, 0);
    const float sig_ref[] = {0.1192029220f, 0.2689414214f, 0.5f, 0.7310585786f, 0.9241418200f};
    assert_close(ac_sigmoid(g_ctx, x)->data, sig_ref, 5, 1e-6);
    const float tanh_ref[] = {-0.9640275801f, -0.7615941560f, 0.0f, 0.7615941560f, 0.9866142982f};
    assert_close(ac_tanh(g_ctx, x)->data, tanh_ref, 5, 1e-6);
    ac_tensor *e = ac_exp(g_ctx, x);
    ac_tensor *back = ac_log(g_ctx, e);
    assert_close(back->data, xs, 5, 1e-6);
    ac_tensor *sq = ac_sqrt(g_ctx, ac_mul(g_ctx, x, x));
    const float abs_ref[] = {2, 1, 0, 1, 2.5f};
    assert_close(sq->data, abs_ref, 5, 1e-7);
    assert_close(ac_scale(g_ctx, x, -2.0f)->data, (float[]){4, 2, 0, -2, -5}, 5, 0);
    ac_ctx_reset(g_ctx);
}

/* ---- reductions ---- */

/* The ops run fastmath.h's exp and tanh in the kernel build this CPU picked (fused multiply-adds
 * on AVX2 and AVX-512, unfused on plain x86-64; test_fastmath checks only the unfused one):
 * within their stated relative errors of libm over a dense sweep. */
static double op_max_rel_error(ac_tensor *(*op)(ac_ctx *, ac_tensor *), double (*ref)(double),
                               float lo, float hi, int n) {
    ac_tensor *x = ac_tensor_temp(g_ctx, 1, (int[]){n});
    assert_non_null(x);
    for (int i = 0; i < n; i++) x->data[i] = lo + (hi - lo) * (float)i / (float)(n - 1);
    ac_tensor *y = op(g_ctx, x);
    assert_non_null(y);
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double r = ref((double)x->data[i]);
        if (fabs(r) < 1e-30) continue;
        double e = fabs((double)y->data[i] - r) / fabs(r);
        worst = e > worst ? e : worst;
    }
    ac_ctx_reset(g_ctx);
    return worst;
}

static void test_exp_and_tanh_ops_are_within_their_stated_errors(void **state) {
    (void)state;
    assert_true(op_max_rel_error(ac_exp, exp, -87.0f, 88.0f, 400003) < 1.5e-7);
    assert_true(op_max_rel_error(ac_tanh, tanh, -12.0f, 12.0f, 400003) < 4.5e-7);
}

static void test_sum_and_mean_over_an_axis(void **state) {
    (void)state;
    ac_tensor *x = ac_tensor_temp(g_ctx, 3, (int[]){2, 3, 2});
    for (int i = 0; i < 12; i++) x->data[i] = (float)i;
    ac_tensor *s1 = ac_sum(g_ctx, x, 1, false); /* [2, 2] */
    assert_int_equal(s1->ndim, 2);
    assert_close(s1->data, (float[]){6, 9, 24, 27}, 4, 0);
    ac_tensor *m = ac_mean(g_ctx, x, -1, true); /* [2, 3, 1] */
    assert_int_equal(m->ndim, 3);
    assert_int_equal(m->shape[2], 1);
    assert_close(m->data, (float[]){0.5f, 2.5f, 4.5f, 6.5f, 8.5f, 10.5f}, 6, 0);
    assert_true(ac_sum_all(g_ctx, x)->data[0] == 66.0f);
    assert_true(ac_mean_all(g_ctx, x)->data[0] == 5.5f);
    ac_tensor *v = ac_tensor_temp(g_ctx, 1, (int[]){3});
    ac_tensor_fill(v, 2.0f);
    ac_tensor *s0 = ac_sum(g_ctx, v, 0, false);
    assert_int_equal(s0->ndim, 1);
    assert_int_equal(s0->shape[0], 1);
    assert_true(s0->data[0] == 6.0f);
    ac_ctx_reset(g_ctx);
}

/* ---- shape ops ---- */

static void test_reshape_is_a_view_and_permute_moves_elements(void **state) {
    (void)state;
    ac_tensor *x = ac_tensor_temp(g_ctx, 3, (int[]){2, 3, 4});
    for (int i = 0; i < 24; i++) x->data[i] = (float)i;
    ac_tensor *r = ac_reshape(g_ctx, x, 2, (int[]){-1, 4});
    assert_ptr_equal(r->data, x->data);
    assert_int_equal(r->shape[0], 6);
    assert_true(ac_tensor_is_contiguous(r));
    ac_tensor *p = ac_permute(g_ctx, x, (int[]){2, 0, 1}); /* [4, 2, 3] */
    assert_int_equal(p->shape[0], 4);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                assert_true(p->data[(k * 2 + i) * 3 + j] == x->data[(i * 3 + j) * 4 + k]);
    ac_tensor *t = ac_transpose(g_ctx, ac_transpose(g_ctx, x, 0, 2), 0, 2);
    assert_close(t->data, x->data, 24, 0);
    ac_ctx_reset(g_ctx);
}

static void test_slices_concatenated_rebuild_the_tensor(void **state) {
    (void)state;
    ac_tensor *x = rand_temp(3, (int[]){2, 5, 3}, -1, 1);
    ac_tensor *parts[3] = {ac_slice(g_ctx, x, 1, 0, 2), ac_slice(g_ctx, x, 1, 2, 1),
                           ac_slice(g_ctx, x, 1, 3, 2)};
    ac_tensor *y = ac_concat(g_ctx, parts, 3, 1);
    assert_non_null(y);
    assert_true(ac_tensor_same_shape(x, y));
    assert_close(y->data, x->data, x->size, 0);
    assert_true(parts[1]->data[0] == x->data[2 * 3]);
    ac_ctx_reset(g_ctx);
}

static void test_patches_are_overlapping_time_major_blocks(void **state) {
    (void)state;
    ac_tensor *x = ac_tensor_temp(g_ctx, 3, (int[]){1, 6, 2}); /* x[t][c] = 10 t + c */
    for (int t = 0; t < 6; t++)
        for (int c = 0; c < 2; c++) x->data[t * 2 + c] = (float)(10 * t + c);
    ac_tensor *p = ac_patches(g_ctx, x, 3, 2); /* N = (6 - 3) / 2 + 1 = 2 tokens of 6 */
    assert_int_equal(p->shape[1], 2);
    assert_int_equal(p->shape[2], 6);
    assert_close(p->data, (float[]){0, 1, 10, 11, 20, 21, 20, 21, 30, 31, 40, 41}, 12, 0);
    assert_null(ac_patches(g_ctx, x, 7, 1));
    assert_non_null(strstr(ac_ctx_error(g_ctx), "ac_patches"));
    ac_ctx_reset(g_ctx);
}

/* ---- softmax ---- */

static void test_softmax_rows_sum_to_one_even_for_large_scores(void **state) {
    (void)state;
    ac_tensor *x = rand_temp(3, (int[]){2, 4, 7}, -50, 50);
    x->data[3] = 1000.0f; /* exp would overflow without the max shift */
    ac_tensor *y = ac_softmax(g_ctx, x, NULL);
    for (int r = 0; r < 8; r++) {
        double s = 0.0;
        for (int j = 0; j < 7; j++) {
            float v = y->data[r * 7 + j];
            assert_true(isfinite(v) && v >= 0.0f);
            s += v;
        }
        assert_true(fabs(s - 1.0) < 1e-5);
    }
    assert_true(y->data[3] == 1.0f);
    ac_ctx_reset(g_ctx);
}

static void test_causal_softmax_looks_only_backward(void **state) {
    (void)state;
    const int n = 5;
    ac_tensor *x = rand_temp(3, (int[]){2, n, n}, -2, 2);
    ac_tensor *y = ac_softmax(g_ctx, x, ac_causal_mask(g_ctx, n));
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < n; i++) {
            double s = 0.0;
            for (int k = 0; k < n; k++) {
                float v = y->data[(b * n + i) * n + k];
                if (k > i) assert_true(v == 0.0f);
                s += v;
            }
            assert_true(fabs(s - 1.0) < 1e-5);
        }
    assert_true(y->data[0] == 1.0f); /* the first query sees only itself */
    ac_ctx_reset(g_ctx);
}

static void test_fully_masked_row_gives_zeros_not_nan(void **state) {
    (void)state;
    ac_tensor *x = rand_temp(2, (int[]){2, 3}, -1, 1);
    ac_tensor *mask = ac_tensor_temp(g_ctx, 2, (int[]){2, 3});
    ac_tensor_fill(mask, 0.0f);
    for (int j = 0; j < 3; j++) mask->data[3 + j] = -INFINITY;
    ac_tensor *y = ac_softmax(g_ctx, x, mask);
    for (int j = 0; j < 3; j++) assert_true(y->data[3 + j] == 0.0f);
    ac_tensor *one = ac_softmax(g_ctx, rand_temp(2, (int[]){3, 1}, -5, 5), NULL);
    for (int i = 0; i < 3; i++) assert_true(one->data[i] == 1.0f);
    ac_ctx_reset(g_ctx);
}

/* ---- layer norm ---- */

static void test_layer_norm_matches_the_generic_op_composition(void **state) {
    (void)state;
    const int D = 16;
    ac_tensor *x = rand_temp(3, (int[]){3, 4, D}, -3, 5);
    ac_tensor *w = rand_temp(1, (int[]){D}, 0.5f, 1.5f);
    ac_tensor *b = rand_temp(1, (int[]){D}, -1, 1);
    ac_tensor *fused = ac_layer_norm(g_ctx, x, w, b, 1e-5f);
    /* (x - mean) / sqrt(mean((x - mean)^2) + eps) * w + b from generic ops */
    ac_tensor *xc = ac_sub(g_ctx, x, ac_mean(g_ctx, x, -1, true));
    ac_tensor *var = ac_mean(g_ctx, ac_mul(g_ctx, xc, xc), -1, true);
    ac_tensor *eps = ac_tensor_temp(g_ctx, 1, (int[]){1});
    eps->data[0] = 1e-5f;
    ac_tensor *ref = ac_add(
        g_ctx, ac_mul(g_ctx, ac_div(g_ctx, xc, ac_sqrt(g_ctx, ac_add(g_ctx, var, eps))), w), b);
    assert_non_null(ref);
    assert_close(fused->data, ref->data, x->size, 1e-5);
    ac_tensor *plain = ac_layer_norm(g_ctx, x, NULL, NULL, 1e-5f);
    for (int r = 0; r < 12; r++) {
        double m = 0, v = 0;
        for (int j = 0; j < D; j++) m += plain->data[r * D + j];
        m /= D;
        for (int j = 0; j < D; j++) v += pow(plain->data[r * D + j] - m, 2);
        assert_true(fabs(m) < 1e-5 && fabs(v / D - 1.0) < 1e-3);
    }
    ac_ctx_reset(g_ctx);
}

/* ---- dropout ---- */

static void test_dropout_rate_scaling_and_seeded_masks(void **state) {
    (void)state;
    const int n = 40000;
    ac_tensor *x = ac_tensor_temp(g_ctx, 1, (int[]){n});
    ac_tensor_fill(x, 1.0f);
    float *first = test_malloc(n * sizeof(float));
    for (int rep = 0; rep < 2; rep++) {
        ac_rng r;
        ac_rng_seed(&r, 77, 0);
        ac_ctx_set_rng(g_ctx, &r);
        ac_tensor *y = ac_dropout(g_ctx, x, 0.25f);
        int zeros = 0;
        double sum = 0.0;
        for (int i = 0; i < n; i++) {
            assert_true(y->data[i] == 0.0f || fabsf(y->data[i] - 1.0f / 0.75f) < 1e-7f);
            zeros += y->data[i] == 0.0f;
            sum += y->data[i];
        }
        assert_true(fabs((double)zeros / n - 0.25) < 0.01);
        assert_true(fabs(sum / n - 1.0) < 0.02); /* expectation preserved */
        if (rep == 0)
            memcpy(first, y->data, n * sizeof(float));
        else
            assert_memory_equal(first, y->data, n * sizeof(float));
    }
    test_free(first);
    ac_ctx_set_rng(g_ctx, NULL);
    ac_ctx_reset(g_ctx);
}

/* The fused residual dropout draws the same mask as dropout and gives add(base, dropout(x))
 * bit for bit; in no-grad mode it is a plain add. */
static void test_residual_dropout_is_add_of_dropout(void **state) {
    (void)state;
    ac_tensor *base = rand_temp(2, (int[]){7, 45}, -2, 2);
    ac_tensor *x = rand_temp(2, (int[]){7, 45}, -2, 2);
    ac_rng r1, r2;
    ac_rng_seed(&r1, 5, 2);
    ac_rng_seed(&r2, 5, 2);
    ac_ctx_set_rng(g_ctx, &r1);
    ac_tensor *fused = ac_residual_dropout(g_ctx, base, x, 0.3f);
    ac_ctx_set_rng(g_ctx, &r2);
    ac_tensor *plain = ac_add(g_ctx, base, ac_dropout(g_ctx, x, 0.3f));
    assert_non_null(fused);
    assert_non_null(plain);
    assert_memory_equal(fused->data, plain->data, (size_t)x->size * sizeof(float));
    assert_true(r1.state == r2.state);
    bool was = ac_ctx_set_grad_enabled(g_ctx, false);
    ac_tensor *off = ac_residual_dropout(g_ctx, base, x, 0.3f);
    for (int64_t i = 0; i < x->size; i++) assert_true(off->data[i] == base->data[i] + x->data[i]);
    ac_ctx_set_grad_enabled(g_ctx, was);
    ac_tensor *wrong = rand_temp(2, (int[]){7, 44}, -2, 2);
    assert_null(ac_residual_dropout(g_ctx, base, wrong, 0.3f));
    assert_non_null(strstr(ac_ctx_error(g_ctx), "ac_residual_dropout"));
    ac_ctx_set_rng(g_ctx, NULL);
    ac_ctx_reset(g_ctx);
}

/* ---- losses ---- */

static void test_losses_match_hand_computed_values(void **state) {
    (void)state;
    ac_tensor *p = ac_tensor_temp(g_ctx, 2, (int[]){2, 2});
    ac_tensor *t = ac_tensor_temp(g_ctx, 2, (int[]){2, 2});
    memcpy(p->data, (float[]){1, 2, 3, 4}, 4 * sizeof(float));
    memcpy(t->data, (float[]){1.5f, 2, 0, 4}, 4 * sizeof(float)); /* d = -0.5, 0, 3, 0 */
    assert_true(fabsf(ac_mse_loss(g_ctx, p, t)->data[0] - (0.25f + 9.0f) / 4) < 1e-7f);
    assert_true(fabsf(ac_mae_loss(g_ctx, p, t)->data[0] - 3.5f / 4) < 1e-7f);
    /* huber delta 1: 0.5 * 0.25 + (3 - 0.5) = 2.625 */
    assert_true(fabsf(ac_huber_loss(g_ctx, p, t, 1.0f)->data[0] - 2.625f / 4) < 1e-7f);
    assert_null(ac_huber_loss(g_ctx, p, t, 0.0f));
    assert_non_null(strstr(ac_ctx_error(g_ctx), "delta"));
    ac_ctx_reset(g_ctx);
}

/* rho_q(e) = max(q e, (q - 1) e), e = y - yhat_q, averaged over every output (cells x levels). */
static void test_pinball_loss_matches_hand_computed_values(void **state) {
    (void)state;
    const float levels[] = {0.1f, 0.5f, 0.9f};
    ac_tensor *p = ac_tensor_temp(g_ctx, 2, (int[]){2, 3});
    ac_tensor *t = ac_tensor_temp(g_ctx, 1, (int[]){2});
    memcpy(p->data, (float[]){0, 1, 3, 2.5f, 2, 1}, 6 * sizeof(float));
    memcpy(t->data, (float[]){1, 2}, 2 * sizeof(float));
    /* cell 0, e = 1, 0, -2: 0.1 + 0 + 0.2; cell 1, e = -0.5, 0, 1: 0.45 + 0 + 0.9 */
    ac_tensor *loss = ac_pinball_loss(g_ctx, p, t, levels, 3);
    assert_non_null(loss);
    assert_true(fabsf(loss->data[0] - 1.65f / 6) < 1e-7f);
    /* one level 0.5 is half the absolute error */
    ac_tensor *p1 = ac_reshape(g_ctx, ac_slice(g_ctx, p, 1, 1, 1), 2, (int[]){2, 1});
    assert_true(fabsf(ac_pinball_loss(g_ctx, p1, t, levels + 1, 1)->data[0] -
                      0.5f * ac_mae_loss(g_ctx, ac_reshape(g_ctx, p1, 1, (int[]){2}), t)->data[0]) <
                1e-7f);
    assert_null(ac_pinball_loss(g_ctx, p, p, levels, 3)); /* target must drop the level axis */
    assert_non_null(strstr(ac_ctx_error(g_ctx), "ac_pinball_loss"));
    ac_ctx_reset(g_ctx); /* p and t went with the arena: new ones */
    p = ac_tensor_temp(g_ctx, 2, (int[]){2, 3});
    t = ac_tensor_temp(g_ctx, 1, (int[]){2});
    memcpy(p->data, (float[]){0, 1, 3, 2.5f, 2, 1}, 6 * sizeof(float));
    memcpy(t->data, (float[]){1, 2}, 2 * sizeof(float));
    assert_null(ac_pinball_loss(g_ctx, p, t, (float[]){0.1f, 0.5f, 1.0f}, 3));
    assert_non_null(strstr(ac_ctx_error(g_ctx), "outside (0, 1)"));
    ac_ctx_reset(g_ctx);
}

/* ---- fused attention against the same math from generic ops (split heads, matmuls, softmax),
 * values and gradients of q, k, v and the score parameter for a random upstream gradient ---- */

static ac_tensor *split_heads(ac_tensor *t, int h) { /* [ns, N, d] -> [ns, h, N, dh] */
    int ns = t->shape[0], N = t->shape[1], dh = t->shape[2] / h;
    return ac_permute(g_ctx, ac_reshape(g_ctx, t, 4, (int[]){ns, N, h, dh}), (int[]){0, 2, 1, 3});
}

/* Additive scores from generic ops: s[b,j,i,m] = sum_e w[j,e] tanh(q[b,j,i,e] + k[b,j,m,e]) for
 * q, k [B, h, N, dh] and w [h, dh], materialising the [B h, N, N, dh] tanh values. */
static ac_tensor *additive_scores(ac_tensor *q, ac_tensor *k, ac_tensor *w) {
    int B = q->shape[0], h = q->shape[1], N = q->shape[2], dh = q->shape[3];
    ac_tensor *qi = ac_reshape(g_ctx, q, 4, (int[]){B * h, N, 1, dh});
    ac_tensor *km = ac_reshape(g_ctx, k, 4, (int[]){B * h, 1, N, dh});
    ac_tensor *t = ac_tanh(g_ctx, ac_add(g_ctx, qi, km)); /* [B h, N, N, dh] */
    ac_tensor *per_head = ac_reshape(g_ctx, t, 4, (int[]){B, h, N * N, dh});
    ac_tensor *wr = ac_reshape(g_ctx, w, 3, (int[]){h, 1, dh});
    ac_tensor *s = ac_sum(g_ctx, ac_mul(g_ctx, per_head, wr), -1, false);
    return ac_reshape(g_ctx, s, 4, (int[]){B, h, N, N});
}

/* The scores of one kind from generic ops: every score of AC_SCORE_KINDS needs a case here, the
 * independent reference its fused forward and backward are checked against. */
static ac_tensor *composed_scores(ac_tensor *qh, ac_tensor *kh, ac_score_kind kind,
                                  ac_tensor *param) {
    int h = qh->shape[1], dh = qh->shape[3];
    switch (kind) {
    case AC_SCORE_DOT:
        return ac_scale(g_ctx, ac_matmul(g_ctx, qh, kh, false, true), 1.0f / sqrtf((float)dh));
    case AC_SCORE_ADDITIVE:
        return additive_scores(qh, kh, param);
    case AC_SCORE_COSINE: {
        ac_tensor *eps = ac_tensor_temp(g_ctx, 1, (int[]){1});
        eps->data[0] = 1e-6f;
        ac_tensor *qn = ac_sqrt(g_ctx, ac_sum(g_ctx, ac_mul(g_ctx, qh, qh), -1, true));
        ac_tensor *kn = ac_sqrt(g_ctx, ac_sum(g_ctx, ac_mul(g_ctx, kh, kh), -1, true));
        ac_tensor *cos = ac_div(g_ctx, ac_matmul(g_ctx, qh, kh, false, true),
                                ac_add(g_ctx, ac_matmul(g_ctx, qn, kn, false, true), eps));
        return ac_mul(g_ctx, cos, ac_reshape(g_ctx, ac_exp(g_ctx, param), 3, (int[]){h, 1, 1}));
    }
    }
    fail_msg("no generic-ops reference for the %s score", ac_score_kind_name(kind));
    return NULL;
}

static ac_tensor *composed_attention(ac_tensor *q, ac_tensor *k, ac_tensor *v, int h,
                                     ac_score_kind kind, ac_tensor *param, bool causal) {
    int ns = q->shape[0], N = q->shape[1], d = q->shape[2];
    ac_tensor *qh = split_heads(q, h), *kh = split_heads(k, h), *vh = split_heads(v, h);
    ac_tensor *s = composed_scores(qh, kh, kind, param);
    ac_tensor *a = ac_softmax(g_ctx, s, causal ? ac_causal_mask(g_ctx, N) : NULL);
    ac_tensor *o = ac_permute(g_ctx, ac_matmul(g_ctx, a, vh, false, false), (int[]){0, 2, 1, 3});
    return ac_reshape(g_ctx, o, 3, (int[]){ns, N, d});
}

static ac_tensor *grad_leaf(int ndim, const int *shape, float lo, float hi) {
    ac_tensor *t = ac_tensor_new(ndim, shape, true, NULL);
    assert_non_null(t);
    for (int64_t i = 0; i < t->size; i++) t->data[i] = ac_rng_uniform_range(&g_rng, lo, hi);
    return t;
}

/* Geometries: a small one; one with N = 21 keys (two lane blocks of the kernels, the second
 * partial; rows not a multiple of 4) and head width 20 (longer than one lane block); the
 * presets' shape, N = 16 (one whole lane block) and head width 16; and a single token. */
static void test_fused_attention_matches_the_generic_ops(void **state) {
    (void)state;
    static const int geoms[][4] = {{3, 7, 12, 3}, {2, 21, 40, 2}, {2, 16, 64, 4}, {3, 1, 8, 2}};
    for (int gi = 0; gi < 4; gi++)
        for (int kind = 0; kind < AC_SCORE_COUNT; kind++)
            for (int causal = 0; causal < 2; causal++) {
                const int ns = geoms[gi][0], N = geoms[gi][1], d = geoms[gi][2], h = geoms[gi][3];
                ac_tensor *in[4] = {grad_leaf(3, (int[]){ns, N, d}, -1, 1),
                                    grad_leaf(3, (int[]){ns, N, d}, -1, 1),
                                    grad_leaf(3, (int[]){ns, N, d}, -1, 1), NULL};
                int rank = ac_score_param_rank((ac_score_kind)kind);
                if (rank == 1) in[3] = grad_leaf(1, (int[]){h}, 0.5f, 2.5f);
                if (rank == 2) in[3] = grad_leaf(2, (int[]){h, d / h}, -1, 1);
                float *up = malloc((size_t)ns * N * d * sizeof(float)); /* upstream gradient */
                assert_non_null(up);
                for (int i = 0; i < ns * N * d; i++) up[i] = ac_rng_uniform_range(&g_rng, -1, 1);
                float *grads[2][4] = {{NULL}};
                float *outs[2] = {NULL};
                for (int path = 0; path < 2; path++) {
                    ac_tensor *w = NULL;
                    ac_tensor *o =
                        path ? composed_attention(in[0], in[1], in[2], h, kind, in[3], causal)
                             : ac_attention(g_ctx, in[0], in[1], in[2], h, kind, in[3], causal, &w);
                    assert_non_null(o);
                    if (!path) { /* the weights view: rows sum to 1, nothing after the diagonal */
                        assert_non_null(w);
                        for (int64_t r = 0; r < (int64_t)ns * h * N; r++) {
                            double sum = 0;
                            for (int m = 0; m < N; m++) {
                                sum += w->data[r * N + m];
                                if (causal && m > r % N) assert_true(w->data[r * N + m] == 0.0f);
                            }
                            assert_true(fabs(sum - 1.0) < 1e-5);
                        }
                    }
                    outs[path] = malloc((size_t)o->size * sizeof(float));
                    memcpy(outs[path], o->data, (size_t)o->size * sizeof(float));
                    assert_int_equal(ac_backward_seeded(g_ctx, o, up), AC_OK);
                    for (int i = 0; i < 4 && in[i]; i++) {
                        grads[path][i] = malloc((size_t)in[i]->size * sizeof(float));
                        memcpy(grads[path][i], in[i]->grad, (size_t)in[i]->size * sizeof(float));
                    }
                    ac_zero_grad(in, in[3] ? 4 : 3);
                    ac_ctx_reset(g_ctx);
                }
                assert_close(outs[0], outs[1], (int64_t)ns * N * d, 1e-5);
                for (int i = 0; i < 4 && in[i]; i++) {
                    assert_close(grads[0][i], grads[1][i], in[i]->size, 1e-4);
                    free(grads[0][i]);
                    free(grads[1][i]);
                    ac_tensor_free(in[i]);
                }
                free(outs[0]);
                free(outs[1]);
                free(up);
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_matches_naive_loops_for_all_flags_and_batches),
        cmocka_unit_test(test_linear_equals_matmul_plus_bias),
        cmocka_unit_test(test_broadcast_column_plus_row_is_an_outer_sum),
        cmocka_unit_test(test_exp_and_tanh_ops_are_within_their_stated_errors),
        cmocka_unit_test(test_functions_match_closed_forms),
        cmocka_unit_test(test_sum_and_mean_over_an_axis),
        cmocka_unit_test(test_reshape_is_a_view_and_permute_moves_elements),
        cmocka_unit_test(test_slices_concatenated_rebuild_the_tensor),
        cmocka_unit_test(test_patches_are_overlapping_time_major_blocks),
        cmocka_unit_test(test_softmax_rows_sum_to_one_even_for_large_scores),
        cmocka_unit_test(test_causal_softmax_looks_only_backward),
        cmocka_unit_test(test_fully_masked_row_gives_zeros_not_nan),
        cmocka_unit_test(test_layer_norm_matches_the_generic_op_composition),
        cmocka_unit_test(test_fused_attention_matches_the_generic_ops),
        cmocka_unit_test(test_dropout_rate_scaling_and_seeded_masks),
        cmocka_unit_test(test_residual_dropout_is_add_of_dropout),
        cmocka_unit_test(test_losses_match_hand_computed_values),
        cmocka_unit_test(test_pinball_loss_matches_hand_computed_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
