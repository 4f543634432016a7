/* ops_reduce.c - sum and mean over one axis or over everything.
 *
 * An axis reduction views x as [outer, n, inner] (n = the reduced axis):
 *   y[o, i] = s * sum_k x[o, k, i]        dx[o, k, i] += s * dy[o, i]
 * with s = 1 for sum and 1/n for mean. Whole-tensor reductions accumulate in double.
 */
#include <string.h>

#include "attncast/ops.h"
#include "op_internal.h"

static void axis_geometry(const ac_tensor *x, int axis, int64_t *outer, int *n, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) *inner *= x->shape[i];
    *n = x->shape[axis];
}

static void reduce_axis_backward(ac_ctx *ctx, ac_node *node) {
    ac_tensor *x = node->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    int64_t outer, inner;
    int n;
    axis_geometry(x, node->iarg[0], &outer, &n, &inner);
    float s = node->farg[0];
    const float *g = node->out->grad;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n; k++) {
            float *dst = gx + (o * n + k) * inner;
            const float *src = g + o * inner;
            for (int64_t i = 0; i < inner; i++) dst[i] += s * src[i];
        }
}

static ac_tensor *reduce_axis(ac_ctx *ctx, const char *op, ac_tensor *x, int axis, bool keepdim,
                              bool mean) {
    if (!x || ac_ctx_failed(ctx)) return NULL;
    int ax = ac_op_axis(axis, x->ndim);
    if (ax < 0)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: axis %d out of range for %d dims", op, axis,
                           x->ndim);
    int shape[AC_MAX_DIMS], nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != ax)
            shape[nd++] = x->shape[i];
        else if (keepdim)
            shape[nd++] = 1;
    }
    if (nd == 0) shape[nd++] = 1;
    ac_tensor *y = ac_op_output(ctx, op, nd, shape);
    if (!y) return NULL;
    int64_t outer, inner;
    int n;
    axis_geometry(x, ax, &outer, &n, &inner);
    float s = mean ? 1.0f / (float)n : 1.0f;
    for (int64_t o = 0; o < outer && inner == 1; o++) { /* one sum per row: held in a register */
        const float *src = x->data + o * n;
        float acc = 0.0f;
        for (int k = 0; k < n; k++) acc += src[k];
        y->data[o] = mean ? acc * s : acc;
    }
    for (int64_t o = 0; o < outer && inner > 1; o++) {
        float *dst = y->data + o * inner;
        memset(dst, 0, (size_t)inner * sizeof(float));
        for (int k = 0; k < n; k++) {
            const float *src = x->data + (o * n + k) * inner;
            for (int64_t i = 0; i < inner; i++) dst[i] += src[i];
        }
        if (mean)
            for (int64_t i = 0; i < inner; i++) dst[i] *= s;
    }
    ac_node *node = ac_op_record(ctx, op, reduce_axis_backward, y, 1, &x);
    if (node) {
        node->iarg[0] = ax;
        node->farg[0] = s;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_sum(ac_ctx *ctx, ac_tensor *x, int axis, bool keepdim) {
    return reduce_axis(ctx, "ac_sum", x, axis, keepdim, false);
}
ac_tensor *ac_mean(ac_ctx *ctx, ac_tensor *x, int axis, bool keepdim) {
    return reduce_axis(ctx, "ac_mean", x, axis, keepdim, true);
}

static void reduce_all_backward(ac_ctx *ctx, ac_node *node) {
    ac_tensor *x = node->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    float g = node->out->grad[0] * node->farg[0];
    for (int64_t i = 0; i < x->size; i++) gx[i] += g;
}

static ac_tensor *reduce_all(ac_ctx *ctx, const char *op, ac_tensor *x, bool mean) {
    if (!x || ac_ctx_failed(ctx)) return NULL;
    ac_tensor *y = ac_op_output(ctx, op, 1, (int[]){1});
    if (!y) return NULL;
    double acc = 0.0;
    for (int64_t i = 0; i < x->size; i++) acc += x->data[i];
    double s = mean ? 1.0 / (double)x->size : 1.0;
    y->data[0] = (float)(acc * s);
    ac_node *node = ac_op_record(ctx, op, reduce_all_backward, y, 1, &x);
    if (node) node->farg[0] = (float)s;
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_sum_all(ac_ctx *ctx, ac_tensor *x) {
    return reduce_all(ctx, "ac_sum_all", x, false);
}
ac_tensor *ac_mean_all(ac_ctx *ctx, ac_tensor *x) {
    return reduce_all(ctx, "ac_mean_all", x, true);
}
