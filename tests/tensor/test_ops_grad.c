/* test_ops_grad.c - every autograd op against central finite differences, over several shapes
 * each, including broadcasting and size-1 edges (see tests/support/gradcheck.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "support/gradcheck.h"

#define IN(nd, ...)                                                                                \
    {                                                                                              \
        .ndim = nd, .shape = { __VA_ARGS__ }                                                       \
    }
#define IN_RANGE(lo_, hi_, nd, ...)                                                                \
    { .ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_ }
#define CHECK(label, build, arg, ...)                                                              \
    do {                                                                                           \
        const gc_input ins_[] = {__VA_ARGS__};                                                     \
        gc_check(label, build, arg, (int)(sizeof ins_ / sizeof ins_[0]), ins_, NULL, 0, 11);       \
    } while (0)

/* ---- matmul and linear ---- */

typedef struct {
    bool ta, tb;
} mm_arg;
static ac_tensor *build_matmul(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const mm_arg *m = arg;
    return ac_matmul(ctx, in[0], in[1], m->ta, m->tb);
}

static void test_matmul_grad_all_transpose_flags(void **state) {
    (void)state;
    for (int f = 0; f < 4; f++) {
        mm_arg m = {f & 1, f >> 1};
        char label[64];
        snprintf(label, sizeof label, "matmul ta=%d tb=%d 2-D", m.ta, m.tb);
        /* op(a): [3, 4], op(b): [4, 5] */
        gc_input a = m.ta ? (gc_input)IN(2, 4, 3) : (gc_input)IN(2, 3, 4);
        gc_input b = m.tb ? (gc_input)IN(2, 5, 4) : (gc_input)IN(2, 4, 5);
        CHECK(label, build_matmul, &m, a, b);
        snprintf(label, sizeof label, "matmul ta=%d tb=%d batched", m.ta, m.tb);
        gc_input a3 = m.ta ? (gc_input)IN(3, 2, 4, 3) : (gc_input)IN(3, 2, 3, 4);
        gc_input b3 = m.tb ? (gc_input)IN(3, 2, 5, 4) : (gc_input)IN(3, 2, 4, 5);
        CHECK(label, build_matmul, &m, a3, b3);
        snprintf(label, sizeof label, "matmul ta=%d tb=%d a batched, b shared", m.ta, m.tb);
        CHECK(label, build_matmul, &m, a3, b);
        snprintf(label, sizeof label, "matmul ta=%d tb=%d a shared, b batched", m.ta, m.tb);
        CHECK(label, build_matmul, &m, a, b3);
    }
}

static void test_matmul_grad_4d_and_size_one_edges(void **state) {
    (void)state;
    mm_arg nn = {false, false}, nt = {false, true}, tn = {true, false};
    CHECK("matmul 4-D", build_matmul, &nn, IN(4, 2, 3, 2, 3), IN(4, 2, 3, 3, 2));
    CHECK("matmul M=1", build_matmul, &nn, IN(2, 1, 4), IN(2, 4, 3));
    CHECK("matmul K=1", build_matmul, &nt, IN(2, 3, 1), IN(2, 2, 1));
    CHECK("matmul N=1", build_matmul, &tn, IN(3, 2, 4, 3), IN(3, 2, 4, 1));
    CHECK("matmul 1x1x1", build_matmul, &nn, IN(2, 1, 1), IN(2, 1, 1));
}

static ac_tensor *build_linear(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    return ac_linear(ctx, in[0], in[1], arg ? in[2] : NULL);
}

static void test_linear_grad(void **state) {
    (void)state;
    int with_bias = 1;
    CHECK("linear 2-D with bias", build_linear, &with_bias, IN(2, 5, 4), IN(2, 3, 4), IN(1, 3));
    CHECK("linear 3-D with bias", build_linear, &with_bias, IN(3, 2, 3, 4), IN(2, 6, 4), IN(1, 6));
    CHECK("linear one row, no bias", build_linear, NULL, IN(2, 1, 4), IN(2, 2, 4));
    CHECK("linear in=1 out=1", build_linear, &with_bias, IN(2, 3, 1), IN(2, 1, 1), IN(1, 1));
}

/* ---- broadcasting arithmetic ---- */

typedef ac_tensor *(*binary_fn)(ac_ctx *, ac_tensor *, ac_tensor *);
static ac_tensor *build_binary(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    binary_fn f = *(const binary_fn *)arg;
    return f(ctx, in[0], in[1]);
}

static void check_broadcast_cases(const char *name, binary_fn f, float blo, float bhi) {
    char label[96];
#define BCASE(desc, a, b)                                                                          \
    do {                                                                                           \
        snprintf(label, sizeof label, "%s %s", name, desc);                                        \
        CHECK(label, build_binary, &f, a, b);                                                      \
    } while (0)
    BCASE("same shape", IN(2, 3, 4), IN_RANGE(blo, bhi, 2, 3, 4));
    BCASE("bias row [4] on [3,4]", IN(2, 3, 4), IN_RANGE(blo, bhi, 1, 4));
    BCASE("column [3,1] on [3,4]", IN(2, 3, 4), IN_RANGE(blo, bhi, 2, 3, 1));
    BCASE("both stretch [3,1] x [1,4]", IN(2, 3, 1), IN_RANGE(blo, bhi, 2, 1, 4));
    BCASE("scalar [1] on 3-D", IN(3, 2, 3, 2), IN_RANGE(blo, bhi, 1, 1));
    BCASE("4-D [2,3,4,5] with [1,3,1,5]", IN(4, 2, 3, 4, 5), IN_RANGE(blo, bhi, 4, 1, 3, 1, 5));
    BCASE("lower rank on the left [4] with [2,3,4]", IN(1, 4), IN_RANGE(blo, bhi, 3, 2, 3, 4));
    BCASE("size-1 everywhere [1,1]", IN(2, 1, 1), IN_RANGE(blo, bhi, 2, 1, 1));
#undef BCASE
}

#define BINARY_TEST(name, blo, bhi)                                                                \
    static void test_##name##_grad_with_broadcasting(void **state) {                               \
        (void)state;                                                                               \
        check_broadcast_cases(#name, ac_##name, blo, bhi);                                         \
    }
BINARY_TEST(add, -1, 1)
BINARY_TEST(sub, -1, 1)
BINARY_TEST(mul, -1, 1)
BINARY_TEST(div, 0.5f, 2.0f) /* divisors kept away from 0 */

/* x * x + x with one tensor: every use adds into the same gradient */
static ac_tensor *build_reuse(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    (void)arg;
    return ac_add(ctx, ac_mul(ctx, in[0], in[0]), in[0]);
}

static void test_reused_tensor_accumulates_gradient(void **state) {
    (void)state;
    CHECK("x * x + x", build_reuse, NULL, IN(2, 3, 4));
}

static ac_tensor *build_scale(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    return ac_scale(ctx, in[0], *(const float *)arg);
}

static void test_scale_grad(void **state) {
    (void)state;
    float c = -2.5f;
    CHECK("scale -2.5", build_scale, &c, IN(3, 2, 3, 4));
    CHECK("scale 1-element", build_scale, &c, IN(1, 1));
}

/* ---- elementwise functions ---- */

typedef ac_tensor *(*unary_fn)(ac_ctx *, ac_tensor *);
static ac_tensor *build_unary(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    return (*(const unary_fn *)arg)(ctx, in[0]);
}

static void check_unary(const char *name, unary_fn f, float lo, float hi, float min_abs) {
    char label[64];
    const int shapes[3][4] = {{3, 4}, {1}, {2, 1, 3, 2}};
    const int ndims[3] = {2, 1, 4};
    for (int i = 0; i < 3; i++) {
        gc_input x = {.ndim = ndims[i], .lo = lo, .hi = hi, .min_abs = min_abs};
        for (int d = 0; d < ndims[i]; d++) x.shape[d] = shapes[i][d];
        if (i == 1) x.lo = 0.3f; /* the single element on the side where every f has slope */
        snprintf(label, sizeof label, "%s shape %d", name, i);
        gc_check(label, build_unary, &f, 1, &x, NULL, 0, 21 + (uint64_t)i);
    }
}

#define UNARY_TEST(name, lo, hi, min_abs)                                                          \
    static void test_##name##_grad(void **state) {                                                 \
        (void)state;                                                                               \
        check_unary(#name, ac_##name, lo, hi, min_abs);                                            \
    }
UNARY_TEST(exp, -2, 2, 0)
UNARY_TEST(log, 0.3f, 3, 0)
UNARY_TEST(sqrt, 0.3f, 3, 0)
UNARY_TEST(tanh, -2, 2, 0)
UNARY_TEST(sigmoid, -4, 4, 0)
UNARY_TEST(relu, -2, 2, 0.05f) /* values kept away from the kink at 0 */
UNARY_TEST(gelu, -3, 3, 0)

/* ---- reductions ---- */

typedef struct {
    int axis;
    bool keepdim;
    bool mean;
} red_arg;
static ac_tensor *build_reduce(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const red_arg *r = arg;
    return r->mean ? ac_mean(ctx, in[0], r->axis, r->keepdim)
                   : ac_sum(ctx, in[0], r->axis, r->keepdim);
}

static void check_axis_reduction(int mean) {
    char label[64];
    for (int axis = -1; axis < 4; axis++)
        for (int keep = 0; keep < 2; keep++) {
            red_arg r = {axis, keep, mean};
            snprintf(label, sizeof label, "%s axis %d keepdim %d", mean ? "mean" : "sum", axis,
                     keep);
            CHECK(label, build_reduce, &r, IN(4, 2, 3, 1, 4));
        }
    red_arg r1 = {0, false, mean};
    CHECK("reduce a 1-D tensor", build_reduce, &r1, IN(1, 5));
    CHECK("reduce a 1-element tensor", build_reduce, &r1, IN(1, 1));
}

static void test_sum_over_each_axis_grad(void **state) {
    (void)state;
    check_axis_reduction(0);
}

static void test_mean_over_each_axis_grad(void **state) {
    (void)state;
    check_axis_reduction(1);
}

static ac_tensor *build_sum_all(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    return arg ? ac_mean_all(ctx, in[0]) : ac_sum_all(ctx, in[0]);
}

static void test_sum_all_grad(void **state) {
    (void)state;
    CHECK("sum_all", build_sum_all, NULL, IN(3, 2, 3, 4));
    CHECK("sum_all 1 element", build_sum_all, NULL, IN(1, 1));
}

static void test_mean_all_grad(void **state) {
    (void)state;
    int mean = 1;
    CHECK("mean_all", build_sum_all, &mean, IN(3, 2, 3, 4));
    CHECK("mean_all 1 element", build_sum_all, &mean, IN(1, 1));
}

/* ---- shape ops ---- */

/* Reshape is a view; follow it with a multiply so its gradient must really flow through. */
static ac_tensor *build_reshape(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const int *shape = arg;
    ac_tensor *y = ac_reshape(ctx, in[0], shape[0], shape + 1);
    return ac_mul(ctx, y, y);
}

static void test_reshape_grad(void **state) {
    (void)state;
    const int to_2d[] = {2, 6, 4}, infer[] = {3, 2, -1, 2}, flat[] = {1, -1};
    CHECK("reshape [2,3,4] -> [6,4]", build_reshape, to_2d, IN(3, 2, 3, 4));
    CHECK("reshape with -1", build_reshape, infer, IN(2, 4, 6));
    CHECK("reshape to 1-D", build_reshape, flat, IN(4, 2, 1, 3, 2));
}

static ac_tensor *build_permute(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    return ac_permute(ctx, in[0], arg);
}
static ac_tensor *build_transpose(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const int *ax = arg;
    return ac_transpose(ctx, in[0], ax[0], ax[1]);
}

static void test_permute_grad(void **state) {
    (void)state;
    const int p4[] = {2, 0, 3, 1}, p3[] = {1, 2, 0};
    CHECK("permute 4-D", build_permute, p4, IN(4, 2, 3, 4, 5));
    CHECK("permute 3-D with a size-1 dim", build_permute, p3, IN(3, 3, 1, 4));
}

static void test_transpose_grad(void **state) {
    (void)state;
    const int t01[] = {0, 1}, tlast[] = {-1, -2};
    CHECK("transpose 2-D", build_transpose, t01, IN(2, 3, 5));
    CHECK("transpose last two of 4-D", build_transpose, tlast, IN(4, 2, 2, 3, 4));
}

static ac_tensor *build_slice(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const int *s = arg;
    return ac_slice(ctx, in[0], s[0], s[1], s[2]);
}

static void test_slice_grad(void **state) {
    (void)state;
    const int first[] = {0, 0, 1}, mid[] = {1, 1, 2}, last[] = {-1, 2, 3}, whole[] = {2, 0, 5};
    CHECK("slice axis 0 first row", build_slice, first, IN(3, 3, 4, 5));
    CHECK("slice axis 1 middle", build_slice, mid, IN(3, 3, 4, 5));
    CHECK("slice last axis at the end", build_slice, last, IN(3, 3, 4, 5));
    CHECK("slice whole axis", build_slice, whole, IN(3, 3, 4, 5));
}

static ac_tensor *build_concat(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const int *a = arg; /* {axis, n} */
    return ac_concat(ctx, in, a[1], a[0]);
}

static void test_concat_grad(void **state) {
    (void)state;
    const int ax0[] = {0, 2}, ax_last[] = {-1, 3}, ax1[] = {1, 3};
    CHECK("concat axis 0", build_concat, ax0, IN(2, 2, 3), IN(2, 1, 3));
    CHECK("concat last axis of three", build_concat, ax_last, IN(3, 2, 2, 1), IN(3, 2, 2, 3),
          IN(3, 2, 2, 2));
    CHECK("concat middle axis", build_concat, ax1, IN(3, 2, 1, 2), IN(3, 2, 2, 2), IN(3, 2, 1, 2));
}

static ac_tensor *build_patches(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const int *ps = arg; /* {patch_len, stride} */
    return ac_patches(ctx, in[0], ps[0], ps[1]);
}

static void test_patches_grad(void **state) {
    (void)state;
    const int overlap[] = {4, 2}, disjoint[] = {3, 3}, per_step[] = {1, 1}, whole[] = {7, 5};
    CHECK("patches overlapping", build_patches, overlap, IN(3, 2, 10, 1));
    CHECK("patches disjoint, 2 channels", build_patches, disjoint, IN(3, 2, 9, 2));
    CHECK("patches one step each", build_patches, per_step, IN(3, 1, 5, 3));
    CHECK("patches one whole-lookback token, tail unused", build_patches, whole, IN(3, 2, 8, 1));
}

/* ---- softmax, layer norm, dropout ---- */

static ac_tensor *build_softmax(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    int mode = arg ? *(const int *)arg : 0; /* 0 none, 1 given mask input, 2 causal */
    const ac_tensor *mask = NULL;
    if (mode == 1) mask = in[1];
    if (mode == 2) mask = ac_causal_mask(ctx, in[0]->shape[in[0]->ndim - 1]);
    return ac_softmax(ctx, in[0], mask);
}

static void test_softmax_grad(void **state) {
    (void)state;
    int given = 1, causal = 2;
    CHECK("softmax 2-D", build_softmax, NULL, IN_RANGE(-3, 3, 2, 3, 5));
    CHECK("softmax 1-D", build_softmax, NULL, IN_RANGE(-3, 3, 1, 6));
    CHECK("softmax 4-D", build_softmax, NULL, IN_RANGE(-3, 3, 4, 2, 2, 3, 4));
    CHECK("softmax two positions", build_softmax, NULL, IN(2, 3, 2));
    gc_input mask = {.ndim = 2, .shape = {4, 4}, .lo = -2, .hi = 2, .no_grad = true};
    CHECK("softmax with additive mask", build_softmax, &given, IN_RANGE(-3, 3, 3, 2, 4, 4), mask);
    CHECK("softmax causal", build_softmax, &causal, IN_RANGE(-3, 3, 4, 2, 2, 5, 5));
}

static ac_tensor *build_layer_norm(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    int affine = arg ? *(const int *)arg : 0;
    return ac_layer_norm(ctx, in[0], affine ? in[1] : NULL, affine ? in[2] : NULL, 1e-5f);
}

static void test_layer_norm_grad(void **state) {
    (void)state;
    int affine = 1;
    CHECK("layer norm affine 2-D", build_layer_norm, &affine, IN_RANGE(-2, 2, 2, 4, 6),
          IN_RANGE(0.5f, 1.5f, 1, 6), IN(1, 6));
    CHECK("layer norm affine 4-D", build_layer_norm, &affine, IN_RANGE(-2, 2, 4, 2, 2, 2, 5),
          IN_RANGE(0.5f, 1.5f, 1, 5), IN(1, 5));
    CHECK("layer norm plain", build_layer_norm, NULL, IN_RANGE(-2, 2, 3, 2, 3, 4));
    CHECK("layer norm one row", build_layer_norm, &affine, IN_RANGE(-2, 2, 2, 1, 3),
          IN_RANGE(0.5f, 1.5f, 1, 3), IN(1, 3));
}

/* Dropout draws a mask; reseeding before every forward keeps it fixed across the
 * finite-difference evaluations. */
static ac_tensor *build_dropout(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    static ac_rng rng;
    ac_rng_seed(&rng, 99, 1);
    ac_ctx_set_rng(ctx, &rng);
    /* grad mode is off during the numeric passes, which would make dropout the identity;
     * force it on for the forward pass and restore the caller's mode after. */
    bool was = ac_ctx_set_grad_enabled(ctx, true);
    ac_tensor *y = ac_dropout(ctx, in[0], *(const float *)arg);
    ac_ctx_set_grad_enabled(ctx, was);
    return y;
}

static ac_tensor *build_residual_dropout(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    static ac_rng rng;
    ac_rng_seed(&rng, 98, 1);
    ac_ctx_set_rng(ctx, &rng);
    bool was = ac_ctx_set_grad_enabled(ctx, true);
    ac_tensor *y = ac_residual_dropout(ctx, in[0], in[1], *(const float *)arg);
    ac_ctx_set_grad_enabled(ctx, was);
    return y;
}

/* The same with the context on windows [1, 3) of a batch of 5 (data-parallel training). */
static ac_tensor *build_dropout_slice(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    ac_ctx_set_batch_slice(ctx, 1, 2, 5);
    ac_tensor *y = build_dropout(ctx, in, arg);
    ac_ctx_set_batch_slice(ctx, 0, 0, 0);
    return y;
}

static void test_dropout_grad(void **state) {
    (void)state;
    float half = 0.5f, small = 0.1f;
    CHECK("dropout 0.5", build_dropout, &half, IN(3, 2, 3, 8));
    CHECK("dropout 0.1", build_dropout, &small, IN(2, 4, 5));
    /* 37 elements: a mask of two words, the second one partial */
    CHECK("residual dropout 0.5", build_residual_dropout, &half, IN(1, 37), IN(1, 37));
    CHECK("residual dropout 0.1", build_residual_dropout, &small, IN(3, 3, 2, 8), IN(3, 3, 2, 8));
    CHECK("dropout 0.5 on a batch slice", build_dropout_slice, &half, IN(3, 4, 3, 8));
}

/* ---- losses ---- */

typedef struct {
    int kind;
    float delta;
} loss_arg;
static ac_tensor *build_loss(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const loss_arg *l = arg;
    switch (l->kind) {
    case 0:
        return ac_mse_loss(ctx, in[0], in[1]);
    case 1:
        return ac_mae_loss(ctx, in[0], in[1]);
    default:
        return ac_huber_loss(ctx, in[0], in[1], l->delta);
    }
}

/* The loss of windows [2, 4) of a batch of 7: the sum over those windows / the batch's count. */
static ac_tensor *build_loss_slice(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    ac_ctx_set_batch_slice(ctx, 2, 2, 7);
    ac_tensor *y = build_loss(ctx, in, arg);
    ac_ctx_set_batch_slice(ctx, 0, 0, 0);
    return y;
}

/* target = pred + d with |d| in [0.1, 0.8] or [1.2, 2]: away from the kinks at 0 and +-delta. */
static void prepare_offsets(ac_tensor **in, int n, ac_rng *rng) {
    (void)n;
    for (int64_t i = 0; i < in[0]->size; i++) {
        float mag =
            (i % 2) ? ac_rng_uniform_range(rng, 0.1f, 0.8f) : ac_rng_uniform_range(rng, 1.2f, 2.0f);
        float sign = ac_rng_uniform(rng) < 0.5f ? -1.0f : 1.0f;
        in[1]->data[i] = in[0]->data[i] + sign * mag;
    }
}

static void check_loss(int kind, const char *name) {
    const gc_input shapes[][2] = {
        {IN(2, 4, 3), IN(2, 4, 3)}, {IN(3, 2, 3, 2), IN(3, 2, 3, 2)}, {IN(1, 1), IN(1, 1)}};
    for (int s = 0; s < 3; s++) {
        loss_arg l = {kind, 1.0f};
        char label[64];
        snprintf(label, sizeof label, "%s loss shape %d", name, s);
        gc_check(label, build_loss, &l, 2, shapes[s], prepare_offsets, 0, 31 + (uint64_t)s);
    }
    gc_input target_const[2] = {IN(2, 4, 3), IN(2, 4, 3)};
    target_const[1].no_grad = true;
    loss_arg l = {kind, 1.0f};
    gc_check(name, build_loss, &l, 2, target_const, prepare_offsets, 0, 41);
    char label[64];
    snprintf(label, sizeof label, "%s loss on a batch slice", name);
    gc_check(label, build_loss_slice, &l, 2, shapes[0], prepare_offsets, 0, 43);
}

static void test_mse_loss_grad(void **state) {
    (void)state;
    check_loss(0, "mse");
}
static void test_mae_loss_grad(void **state) {
    (void)state;
    check_loss(1, "mae");
}
static void test_huber_loss_grad(void **state) {
    (void)state;
    check_loss(2, "huber");
}

/* Pinball: pred [..., Q], target [...]. */
static const float PINBALL_LEVELS[] = {0.1f, 0.5f, 0.9f};

static ac_tensor *build_pinball(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const int *Q = arg;
    return ac_pinball_loss(ctx, in[0], in[1], PINBALL_LEVELS + (*Q == 1), *Q);
}

static ac_tensor *build_pinball_slice(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    ac_ctx_set_batch_slice(ctx, 2, 2, 7);
    ac_tensor *y = build_pinball(ctx, in, arg);
    ac_ctx_set_batch_slice(ctx, 0, 0, 0);
    return y;
}

/* pred = target +- [0.1, 2] at every level: away from the kink at e = 0. */
static void prepare_pinball(ac_tensor **in, int n, ac_rng *rng) {
    (void)n;
    int64_t Q = in[0]->size / in[1]->size;
    for (int64_t i = 0; i < in[0]->size; i++) {
        float mag = ac_rng_uniform_range(rng, 0.1f, 2.0f);
        float sign = ac_rng_uniform(rng) < 0.5f ? -1.0f : 1.0f;
        in[0]->data[i] = in[1]->data[i / Q] + sign * mag;
    }
}

static void test_pinball_loss_grad(void **state) {
    (void)state;
    int three = 3, one = 1;
    const gc_input shapes[][2] = {{IN(3, 4, 3, 3), IN(2, 4, 3)},
                                  {IN(4, 2, 3, 2, 3), IN(3, 2, 3, 2)},
                                  {IN(2, 1, 3), IN(1, 1)}};
    for (int s = 0; s < 3; s++) {
        char label[64];
        snprintf(label, sizeof label, "pinball loss shape %d", s);
        gc_check(label, build_pinball, &three, 2, shapes[s], prepare_pinball, 0, 51 + (uint64_t)s);
    }
    const gc_input single[2] = {IN(3, 4, 3, 1), IN(2, 4, 3)};
    gc_check("pinball loss, one level", build_pinball, &one, 2, single, prepare_pinball, 0, 57);
    gc_input target_const[2] = {IN(3, 4, 3, 3), IN(2, 4, 3)};
    target_const[1].no_grad = true;
    gc_check("pinball loss, constant target", build_pinball, &three, 2, target_const,
             prepare_pinball, 0, 61);
    const gc_input batch[2] = {IN(3, 2, 3, 3), IN(2, 2, 3)};
    gc_check("pinball loss on a batch slice", build_pinball_slice, &three, 2, batch,
             prepare_pinball, 0, 63);
}

/* ---- fused multi-head attention: q, k, v [ns, N, d], every score kind, causal or not ---- */

typedef struct {
    int heads;
    ac_score_kind kind;
    bool causal;
} attn_arg;
static ac_tensor *build_attention(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    const attn_arg *a = arg;
    return ac_attention(ctx, in[0], in[1], in[2], a->heads, a->kind,
                        ac_score_param_rank(a->kind) > 0 ? in[3] : NULL, a->causal, NULL);
}

static void test_attention_grad_every_kind_causal_or_not(void **state) {
    (void)state;
    /* ns, N, d, heads; the last has dh = 1 for dot and additive, but dh = 2 for cosine, which at
     * dh = 1 is a sign with a gradient of almost nothing that finite differences cannot resolve */
    static const int cases[][4] = {{2, 4, 6, 2}, {3, 1, 5, 1}, {1, 5, 4, 4}};
    for (int kind = 0; kind < AC_SCORE_COUNT; kind++)
        for (int causal = 0; causal < 2; causal++)
            for (int c = 0; c < 3; c++) {
                int ns = cases[c][0], N = cases[c][1], h = cases[c][3];
                int d = kind == AC_SCORE_COSINE && cases[c][2] == h ? 2 * h : cases[c][2];
                attn_arg arg = {h, (ac_score_kind)kind, causal};
                /* the score's parameter ([h] or [h, dh]; unused by a score without one) */
                gc_input param = ac_score_param_rank((ac_score_kind)kind) == 1
                                     ? (gc_input)IN_RANGE(0.0f, 1.0f, 1, h)
                                     : (gc_input)IN_RANGE(-1, 1, 2, h, d / h);
                char label[96];
                snprintf(label, sizeof label, "attention %s%s ns=%d N=%d d=%d h=%d",
                         ac_score_kind_name((ac_score_kind)kind), causal ? " causal" : "", ns, N, d,
                         h);
                CHECK(label, build_attention, &arg, IN(3, ns, N, d), IN(3, ns, N, d),
                      IN(3, ns, N, d), param);
            }
}

/* ---- a composition: one pre-norm causal attention block with an MLP and an MSE loss ---- */

static ac_tensor *build_attention_block(ac_ctx *ctx, ac_tensor **in, const void *arg) {
    (void)arg;
    /* in: x [2, 4, 6], Wq, Wk, Wv [6, 6], Wo [6, 6], W1 [8, 6], W2 [6, 8], target [2, 4, 6] */
    ac_tensor *x = in[0];
    ac_tensor *z = ac_layer_norm(ctx, x, NULL, NULL, 1e-5f);
    ac_tensor *q = ac_linear(ctx, z, in[1], NULL);
    ac_tensor *k = ac_linear(ctx, z, in[2], NULL);
    ac_tensor *v = ac_linear(ctx, z, in[3], NULL);
    ac_tensor *s = ac_scale(ctx, ac_matmul(ctx, q, k, false, true), 1.0f / sqrtf(6.0f));
    ac_tensor *a = ac_softmax(ctx, s, ac_causal_mask(ctx, 4));
    ac_tensor *e = ac_add(ctx, x, ac_linear(ctx, ac_matmul(ctx, a, v, false, false), in[4], NULL));
    ac_tensor *h =
        ac_gelu(ctx, ac_linear(ctx, ac_layer_norm(ctx, e, NULL, NULL, 1e-5f), in[5], NULL));
    ac_tensor *out = ac_add(ctx, e, ac_linear(ctx, h, in[6], NULL));
    return ac_mse_loss(ctx, out, in[7]);
}

static void test_attention_block_composition_grad(void **state) {
    (void)state;
    const gc_input ins[] = {IN(3, 2, 4, 6),
                            IN_RANGE(-0.5f, 0.5f, 2, 6, 6),
                            IN_RANGE(-0.5f, 0.5f, 2, 6, 6),
                            IN_RANGE(-0.5f, 0.5f, 2, 6, 6),
                            IN_RANGE(-0.5f, 0.5f, 2, 6, 6),
                            IN_RANGE(-0.5f, 0.5f, 2, 8, 6),
                            IN_RANGE(-0.5f, 0.5f, 2, 6, 8),
                            IN(3, 2, 4, 6)};
    gc_check("attention block", build_attention_block, NULL, 8, ins, NULL, 0, 51);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_grad_all_transpose_flags),
        cmocka_unit_test(test_matmul_grad_4d_and_size_one_edges),
        cmocka_unit_test(test_linear_grad),
        cmocka_unit_test(test_add_grad_with_broadcasting),
        cmocka_unit_test(test_sub_grad_with_broadcasting),
        cmocka_unit_test(test_mul_grad_with_broadcasting),
        cmocka_unit_test(test_div_grad_with_broadcasting),
        cmocka_unit_test(test_reused_tensor_accumulates_gradient),
        cmocka_unit_test(test_scale_grad),
        cmocka_unit_test(test_exp_grad),
        cmocka_unit_test(test_log_grad),
        cmocka_unit_test(test_sqrt_grad),
        cmocka_unit_test(test_tanh_grad),
        cmocka_unit_test(test_sigmoid_grad),
        cmocka_unit_test(test_relu_grad),
        cmocka_unit_test(test_gelu_grad),
        cmocka_unit_test(test_sum_over_each_axis_grad),
        cmocka_unit_test(test_mean_over_each_axis_grad),
        cmocka_unit_test(test_sum_all_grad),
        cmocka_unit_test(test_mean_all_grad),
        cmocka_unit_test(test_reshape_grad),
        cmocka_unit_test(test_permute_grad),
        cmocka_unit_test(test_transpose_grad),
        cmocka_unit_test(test_slice_grad),
        cmocka_unit_test(test_concat_grad),
        cmocka_unit_test(test_patches_grad),
        cmocka_unit_test(test_softmax_grad),
        cmocka_unit_test(test_attention_grad_every_kind_causal_or_not),
        cmocka_unit_test(test_layer_norm_grad),
        cmocka_unit_test(test_dropout_grad),
        cmocka_unit_test(test_mse_loss_grad),
        cmocka_unit_test(test_mae_loss_grad),
        cmocka_unit_test(test_huber_loss_grad),
        cmocka_unit_test(test_pinball_loss_grad),
        cmocka_unit_test(test_attention_block_composition_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
