/* ops_shape.c - reshape (a view), permute / transpose, slice, concat and patches (copies).
 *
 * Slice and concat view tensors as [outer, n, inner] around their axis, so each moves whole
 * contiguous blocks of n_part * inner floats. Permute walks the result in order and reads the
 * input through permuted strides; its backward walks the same way and accumulates.
 */
#include <string.h>

#include "attncast/ops.h"
#include "op_internal.h"

/* ---- reshape: y shares x's data; gradient flows back unchanged ---- */

static void reshape_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    if (!x->requires_grad) return;
    if (!x->grad && !x->persistent) {
        /* Every consumer of y has already sent its gradient, so y's buffer can become x's. */
        x->grad = n->out->grad;
        return;
    }
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    const float *g = n->out->grad;
    for (int64_t i = 0; i < x->size; i++) gx[i] += g[i];
}

ac_tensor *ac_reshape(ac_ctx *ctx, ac_tensor *x, int ndim, const int *shape) {
    static const char *const op = "ac_reshape";
    if (!x || ac_ctx_failed(ctx)) return NULL;
    if (ndim < 1 || ndim > AC_MAX_DIMS)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: %d dims requested (1..%d allowed)", op, ndim,
                           AC_MAX_DIMS);
    int s[AC_MAX_DIMS], infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0)
            infer = i;
        else if (s[i] < 1)
            return ac_op_shape_error(ctx, op, "new shape has a non-positive dim", x, NULL);
        else
            known *= s[i];
    }
    if (infer >= 0) {
        if (x->size % known != 0)
            return ac_op_shape_error(ctx, op, "size does not divide the known dims", x, NULL);
        s[infer] = (int)(x->size / known);
        known *= s[infer];
    }
    if (known != x->size)
        return ac_op_shape_error(ctx, op, "new shape holds a different number of elements", x,
                                 NULL);
    ac_tensor *y = ac_op_view(ctx, op, ndim, s, x->data);
    if (!y) return NULL;
    ac_op_record(ctx, op, reshape_backward, y, 1, &x);
    return ac_ctx_failed(ctx) ? NULL : y;
}

/* ---- permute ---- */

typedef struct perm_plan {
    int shape[AC_MAX_DIMS];   /* result shape, padded with 1 */
    int64_t src[AC_MAX_DIMS]; /* input stride for each result dim */
} perm_plan;

static void perm_plan_make(const ac_tensor *x, const int *perm, perm_plan *p) {
    for (int i = 0; i < AC_MAX_DIMS; i++) {
        p->shape[i] = i < x->ndim ? x->shape[perm[i]] : 1;
        p->src[i] = i < x->ndim ? x->stride[perm[i]] : 0;
    }
}

/* Calls BODY with o (result offset) and s (input offset) for every element in result order. */
#define PERM_WALK(p, BODY)                                                                         \
    do {                                                                                           \
        int64_t o = 0;                                                                             \
        for (int i0 = 0; i0 < (p)->shape[0]; i0++)                                                 \
            for (int i1 = 0; i1 < (p)->shape[1]; i1++)                                             \
                for (int i2 = 0; i2 < (p)->shape[2]; i2++) {                                       \
                    int64_t base = i0 * (p)->src[0] + i1 * (p)->src[1] + i2 * (p)->src[2];         \
                    for (int i3 = 0; i3 < (p)->shape[3]; i3++, o++) {                              \
                        int64_t s = base + i3 * (p)->src[3];                                       \
                        BODY;                                                                      \
                    }                                                                              \
                }                                                                                  \
    } while (0)

static void permute_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    perm_plan p;
    perm_plan_make(x, n->iarg, &p);
    const float *g = n->out->grad;
    PERM_WALK(&p, gx[s] += g[o]);
}

ac_tensor *ac_permute(ac_ctx *ctx, ac_tensor *x, const int *perm) {
    static const char *const op = "ac_permute";
    if (!x || ac_ctx_failed(ctx)) return NULL;
    bool seen[AC_MAX_DIMS] = {false};
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]])
            return ac_op_shape_error(ctx, op, "perm is not a permutation of the dims", x, NULL);
        seen[perm[i]] = true;
    }
    perm_plan p;
    perm_plan_make(x, perm, &p);
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, p.shape);
    if (!y) return NULL;
    const float *xd = x->data;
    float *yd = y->data;
    PERM_WALK(&p, yd[o] = xd[s]);
    ac_node *n = ac_op_record(ctx, op, permute_backward, y, 1, &x);
    if (n)
        for (int i = 0; i < x->ndim; i++) n->iarg[i] = perm[i];
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_transpose(ac_ctx *ctx, ac_tensor *x, int axis0, int axis1) {
    if (!x || ac_ctx_failed(ctx)) return NULL;
    int a0 = ac_op_axis(axis0, x->ndim), a1 = ac_op_axis(axis1, x->ndim);
    if (a0 < 0 || a1 < 0)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "ac_transpose: axes %d, %d out of range for %d dims",
                           axis0, axis1, x->ndim);
    int perm[AC_MAX_DIMS] = {0, 1, 2, 3};
    perm[a0] = a1;
    perm[a1] = a0;
    return ac_permute(ctx, x, perm);
}

/* ---- slice and concat: blocks along an axis of [outer, n, inner] ---- */

static int64_t inner_of(const ac_tensor *x, int axis) {
    int64_t inner = 1;
    for (int i = axis + 1; i < x->ndim; i++) inner *= x->shape[i];
    return inner;
}

/* Adds (or copies) `outer` blocks of len*inner floats between two layouts along an axis. */
static void move_blocks(float *dst, int64_t dst_n, int64_t dst_start, const float *src,
                        int64_t src_n, int64_t src_start, int64_t outer, int64_t len, int64_t inner,
                        bool add) {
    int64_t block = len * inner;
    for (int64_t o = 0; o < outer; o++) {
        float *d = dst + (o * dst_n + dst_start) * inner;
        const float *s = src + (o * src_n + src_start) * inner;
        if (add)
            for (int64_t i = 0; i < block; i++) d[i] += s[i];
        else
            memcpy(d, s, (size_t)block * sizeof(float));
    }
}

static void slice_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    int axis = n->iarg[0], start = n->iarg[1], len = n->iarg[2];
    move_blocks(gx, x->shape[axis], start, n->out->grad, len, 0, ac_op_outer(x, x->ndim - axis),
                len, inner_of(x, axis), true);
}

ac_tensor *ac_slice(ac_ctx *ctx, ac_tensor *x, int axis, int start, int len) {
    static const char *const op = "ac_slice";
    if (!x || ac_ctx_failed(ctx)) return NULL;
    int ax = ac_op_axis(axis, x->ndim);
    if (ax < 0 || start < 0 || len < 1 || start > x->shape[ax] - len)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE,
                           "%s: range [%d, %d) on axis %d does not fit x of %d dims (size %d)", op,
                           start, start + len, axis, x->ndim, ax < 0 ? 0 : x->shape[ax]);
    int shape[AC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = len;
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, shape);
    if (!y) return NULL;
    move_blocks(y->data, len, 0, x->data, x->shape[ax], start, ac_op_outer(x, x->ndim - ax), len,
                inner_of(x, ax), false);
    ac_node *n = ac_op_record(ctx, op, slice_backward, y, 1, &x);
    if (n) {
        n->iarg[0] = ax;
        n->iarg[1] = start;
        n->iarg[2] = len;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

static void concat_backward(ac_ctx *ctx, ac_node *n) {
    int axis = n->iarg[0];
    const ac_tensor *y = n->out;
    int64_t offset = 0;
    for (int j = 0; j < n->n_in; j++) {
        ac_tensor *x = n->in[j];
        float *gx = ac_grad_buffer(ctx, x);
        if (ac_ctx_failed(ctx)) return;
        if (gx)
            move_blocks(gx, x->shape[axis], 0, y->grad, y->shape[axis], offset,
                        ac_op_outer(x, x->ndim - axis), x->shape[axis], inner_of(x, axis), true);
        offset += x->shape[axis];
    }
}

ac_tensor *ac_concat(ac_ctx *ctx, ac_tensor *const *xs, int n, int axis) {
    static const char *const op = "ac_concat";
    if (ac_ctx_failed(ctx)) return NULL;
    if (n < 1) return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: needs at least one tensor", op);
    for (int j = 0; j < n; j++)
        if (!xs[j]) return NULL;
    const ac_tensor *x0 = xs[0];
    int ax = ac_op_axis(axis, x0->ndim);
    if (ax < 0)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: axis %d out of range for %d dims", op, axis,
                           x0->ndim);
    int shape[AC_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[ax] = 0;
    for (int j = 0; j < n; j++) {
        bool fits = xs[j]->ndim == x0->ndim;
        for (int i = 0; fits && i < x0->ndim; i++)
            fits = i == ax || xs[j]->shape[i] == x0->shape[i];
        if (!fits)
            return ac_op_shape_error(ctx, op, "tensors differ off the concat axis", x0, xs[j]);
        shape[ax] += xs[j]->shape[ax];
    }
    ac_tensor *y = ac_op_output(ctx, op, x0->ndim, shape);
    if (!y) return NULL;
    int64_t offset = 0, outer = ac_op_outer(x0, x0->ndim - ax), inner = inner_of(x0, ax);
    for (int j = 0; j < n; j++) {
        move_blocks(y->data, shape[ax], offset, xs[j]->data, xs[j]->shape[ax], 0, outer,
                    xs[j]->shape[ax], inner, false);
        offset += xs[j]->shape[ax];
    }
    ac_node *node = ac_op_record(ctx, op, concat_backward, y, n, xs);
    if (node) node->iarg[0] = ax;
    return ac_ctx_failed(ctx) ? NULL : y;
}

/* ---- patches: token n of sample b is the contiguous block x[b, n*S : n*S + P, :] ---- */

static void patches_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    int P = n->iarg[0], S = n->iarg[1], N = n->iarg[2];
    int L = x->shape[1], Cin = x->shape[2];
    int64_t block = (int64_t)P * Cin;
    const float *g = n->out->grad;
    for (int b = 0; b < x->shape[0]; b++)
        for (int t = 0; t < N; t++) {
            float *dst = gx + ((int64_t)b * L + (int64_t)t * S) * Cin;
            const float *src = g + ((int64_t)b * N + t) * block;
            for (int64_t i = 0; i < block; i++) dst[i] += src[i];
        }
}

ac_tensor *ac_patches(ac_ctx *ctx, ac_tensor *x, int patch_len, int stride) {
    static const char *const op = "ac_patches";
    if (!x || ac_ctx_failed(ctx)) return NULL;
    if (x->ndim != 3) return ac_op_shape_error(ctx, op, "x must be [B, L, Cin]", x, NULL);
    int L = x->shape[1], Cin = x->shape[2];
    if (patch_len < 1 || stride < 1 || patch_len > L)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE,
                           "%s: patch length %d / stride %d do not fit a lookback of %d", op,
                           patch_len, stride, L);
    int N = (L - patch_len) / stride + 1;
    ac_tensor *y = ac_op_output(ctx, op, 3, (int[]){x->shape[0], N, patch_len * Cin});
    if (!y) return NULL;
    size_t block = (size_t)patch_len * (size_t)Cin;
    for (int b = 0; b < x->shape[0]; b++)
        for (int t = 0; t < N; t++)
            memcpy(y->data + ((int64_t)b * N + t) * (int64_t)block,
                   x->data + ((int64_t)b * L + (int64_t)t * stride) * Cin, block * sizeof(float));
    ac_node *n = ac_op_record(ctx, op, patches_backward, y, 1, &x);
    if (n) {
        n->iarg[0] = patch_len;
        n->iarg[1] = stride;
        n->iarg[2] = N;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}
