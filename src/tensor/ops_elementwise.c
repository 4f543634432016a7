/* ops_elementwise.c - add / sub / mul / div with NumPy broadcasting, scale, and the elementwise
 * functions exp, log, sqrt, tanh, sigmoid, relu, gelu.
 *
 * Broadcasting is planned once per call: both operands are aligned at the last dimension,
 * padded to four dims, and given strides in the result's index space (0 along a stretched
 * dimension). Forward and backward then walk the result row by row (the last dimension), which
 * covers every case with one loop nest; the common cases (equal shapes, bias over rows) have
 * stride 1 or 0 in the inner loop. Gradients of a stretched operand accumulate in a fixed order.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "attncast/ops.h"
#include "fastmath.h"
#include "op_internal.h"

/* ---- broadcasting binary ops ---- */

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } bin_kind;
static const char *const BIN_NAMES[] = {"ac_add", "ac_sub", "ac_mul", "ac_div"};

typedef struct bcast {
    int shape[AC_MAX_DIMS]; /* result, padded to 4 dims */
    int64_t sa[AC_MAX_DIMS], sb[AC_MAX_DIMS];
    int ndim;
} bcast;

static bool bcast_plan(const ac_tensor *a, const ac_tensor *b, bcast *p) {
    p->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t stride_a = 1, stride_b = 1;
    for (int i = AC_MAX_DIMS - 1; i >= 0; i--) {
        int back = AC_MAX_DIMS - 1 - i; /* 0 for the last dim */
        int da = back < a->ndim ? a->shape[a->ndim - 1 - back] : 1;
        int db = back < b->ndim ? b->shape[b->ndim - 1 - back] : 1;
        if (da != db && da != 1 && db != 1) return false;
        p->shape[i] = da > db ? da : db;
        p->sa[i] = da == 1 ? 0 : stride_a;
        p->sb[i] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
    }
    return true;
}

/* The same traversal of p in fewer, longer rows: dimensions of size 1 dropped, and each one
 * merged into the one before when both operands step through the two as one run. Row-major
 * order is kept, so every element is visited, and every broadcast gradient summed, in the same
 * order (a [ns, L, 1] series less its [ns, 1, 1] mean is ns rows of L, not ns L rows of 1). */
static bcast bcast_rows(const bcast *p) {
    bcast r = {.ndim = AC_MAX_DIMS};
    int n = 0;
    for (int i = 0; i < AC_MAX_DIMS; i++) {
        if (p->shape[i] == 1) continue;
        if (n > 0 && r.sa[n - 1] == p->sa[i] * p->shape[i] &&
            r.sb[n - 1] == p->sb[i] * p->shape[i] &&
            (int64_t)r.shape[n - 1] * p->shape[i] <= INT_MAX) {
            r.shape[n - 1] *= p->shape[i];
            r.sa[n - 1] = p->sa[i];
            r.sb[n - 1] = p->sb[i];
        } else {
            r.shape[n] = p->shape[i];
            r.sa[n] = p->sa[i];
            r.sb[n] = p->sb[i];
            n++;
        }
    }
    bcast out = {.ndim = AC_MAX_DIMS};
    for (int i = 0; i < AC_MAX_DIMS; i++) { /* right-aligned, ones in front */
        int from = i - (AC_MAX_DIMS - n);
        out.shape[i] = from >= 0 ? r.shape[from] : 1;
        out.sa[i] = from >= 0 ? r.sa[from] : 0;
        out.sb[i] = from >= 0 ? r.sb[from] : 0;
    }
    return out;
}

/* Calls fn(row offsets...) for every row of the result: o is the result offset of the row,
 * oa and ob the operands' offsets of its first element. */
#define BCAST_ROWS(p, BODY)                                                                        \
    do {                                                                                           \
        int64_t o = 0;                                                                             \
        for (int i0 = 0; i0 < (p)->shape[0]; i0++)                                                 \
            for (int i1 = 0; i1 < (p)->shape[1]; i1++)                                             \
                for (int i2 = 0; i2 < (p)->shape[2]; i2++, o += (p)->shape[3]) {                   \
                    int64_t oa = i0 * (p)->sa[0] + i1 * (p)->sa[1] + i2 * (p)->sa[2];              \
                    int64_t ob = i0 * (p)->sb[0] + i1 * (p)->sb[1] + i2 * (p)->sb[2];              \
                    BODY;                                                                          \
                }                                                                                  \
    } while (0)

/* y = a (op) b along one row, a and b stepping sa and sb floats (1, or 0 for a broadcast one):
 * the three stride patterns of rows get loops of their own, which vectorise. */
#define BIN_ROW_LOOP(n, sa, sb, EXPR)                                                              \
    do {                                                                                           \
        if ((sa) == 1 && (sb) == 1) {                                                              \
            for (int j = 0; j < (n); j++) {                                                        \
                float x = a[j], z = b[j];                                                          \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else if ((sa) == 1 && (sb) == 0) {                                                       \
            float z = b[0];                                                                        \
            for (int j = 0; j < (n); j++) {                                                        \
                float x = a[j];                                                                    \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else if ((sa) == 0 && (sb) == 1) {                                                       \
            float x = a[0];                                                                        \
            for (int j = 0; j < (n); j++) {                                                        \
                float z = b[j];                                                                    \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            for (int j = 0; j < (n); j++) {                                                        \
                float x = a[j * (sa)], z = b[j * (sb)];                                            \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void bin_row(bin_kind k, int n, const float *restrict a, int64_t sa, const float *restrict b,
                    int64_t sb, float *restrict y) {
    switch (k) {
    case BIN_ADD:
        BIN_ROW_LOOP(n, sa, sb, x + z);
        break;
    case BIN_SUB:
        BIN_ROW_LOOP(n, sa, sb, x - z);
        break;
    case BIN_MUL:
        BIN_ROW_LOOP(n, sa, sb, x * z);
        break;
    case BIN_DIV:
        BIN_ROW_LOOP(n, sa, sb, x / z);
        break;
    }
}

/* d/da and d/db of one row: ga += g * da, gb += g * db, for the op's partial derivatives. */
static void bin_row_grad(bin_kind k, int n, const float *g, const float *a, int64_t sa,
                         const float *b, int64_t sb, const float *y, float *ga, float *gb) {
    for (int j = 0; j < n; j++) { /* add and sub read no values (their inputs may be released) */
        float gj = g[j];
        switch (k) {
        case BIN_ADD:
            if (ga) ga[j * sa] += gj;
            if (gb) gb[j * sb] += gj;
            break;
        case BIN_SUB:
            if (ga) ga[j * sa] += gj;
            if (gb) gb[j * sb] -= gj;
            break;
        case BIN_MUL:
            if (ga) ga[j * sa] += gj * b[j * sb];
            if (gb) gb[j * sb] += gj * a[j * sa];
            break;
        case BIN_DIV: /* y = a / b: dy/da = 1/b, dy/db = -y/b */
            if (ga) ga[j * sa] += gj / b[j * sb];
            if (gb) gb[j * sb] -= gj * y[j] / b[j * sb];
            break;
        }
    }
}

/* The same-shape case (residual adds, products of equal tensors), one vectorised loop per kind. */
AC_VECTOR_CLONES
static void bin_same_shape_grad(bin_kind k, int64_t n, const float *restrict g,
                                const float *restrict a, const float *restrict b,
                                const float *restrict y, float *restrict ga, float *restrict gb) {
    switch (k) {
    case BIN_ADD:
    case BIN_SUB: {
        float sign = k == BIN_ADD ? 1.0f : -1.0f;
        if (ga)
            for (int64_t j = 0; j < n; j++) ga[j] += g[j];
        if (gb)
            for (int64_t j = 0; j < n; j++) gb[j] += sign * g[j];
        break;
    }
    case BIN_MUL:
        if (ga)
            for (int64_t j = 0; j < n; j++) ga[j] += g[j] * b[j];
        if (gb)
            for (int64_t j = 0; j < n; j++) gb[j] += g[j] * a[j];
        break;
    case BIN_DIV:
        if (ga)
            for (int64_t j = 0; j < n; j++) ga[j] += g[j] / b[j];
        if (gb)
            for (int64_t j = 0; j < n; j++) gb[j] -= g[j] * y[j] / b[j];
        break;
    }
}

/* p + o, or NULL for a buffer that is not there (a released operand add and sub do not read). */
static inline const float *at(const float *p, int64_t o) {
    return p ? p + o : NULL;
}
static inline float *at_grad(float *p, int64_t o) {
    return p ? p + o : NULL;
}

static void binary_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *a = n->in[0], *b = n->in[1];
    bcast p;
    bcast_plan(a, b, &p);
    bin_kind k = (bin_kind)n->iarg[0];
    float *ga = ac_grad_buffer(ctx, a);
    float *gb = ac_grad_buffer(ctx, b);
    if (ac_ctx_failed(ctx)) return;
    const float *g = n->out->grad, *y = n->out->data;
    if (ac_tensor_same_shape(a, b) && ga != gb) {
        bin_same_shape_grad(k, n->out->size, g, a->data, b->data, y, ga, gb);
        return;
    }
    bcast r = bcast_rows(&p);
    BCAST_ROWS(&r, bin_row_grad(k, r.shape[3], g + o, at(a->data, oa), r.sa[3], at(b->data, ob),
                                r.sb[3], at(y, o), at_grad(ga, oa), at_grad(gb, ob)));
}

/* y = a (op) b, broadcast by plan p. */
static void binary_apply(bin_kind k, const bcast *p, const ac_tensor *a, const ac_tensor *b,
                         ac_tensor *y) {
    if (ac_tensor_same_shape(a, b)) {
        bin_row(k, (int)y->size, a->data, 1, b->data, 1, y->data);
    } else {
        bcast r = bcast_rows(p);
        BCAST_ROWS(
            &r, bin_row(k, r.shape[3], a->data + oa, r.sa[3], b->data + ob, r.sb[3], y->data + o));
    }
}

/* Refills a released output in backward (ac_ctx_done): the same loop, the same bits. */
static void binary_recompute(ac_ctx *ctx, ac_node *n) {
    (void)ctx;
    bcast p;
    bcast_plan(n->in[0], n->in[1], &p);
    binary_apply((bin_kind)n->iarg[0], &p, n->in[0], n->in[1], n->out);
}

/* What each kind's backward reads: add and sub only the gradient, mul both operands, div the
 * divisor and the result. */
static unsigned binary_unread(bin_kind k) {
    switch (k) {
    case BIN_ADD:
    case BIN_SUB:
        return AC_UNREAD_ALL;
    case BIN_MUL:
        return AC_UNREAD_OUTPUT;
    case BIN_DIV:
        return AC_UNREAD_INPUT(0);
    }
    return 0;
}

static ac_tensor *binary(ac_ctx *ctx, bin_kind k, ac_tensor *a, ac_tensor *b) {
    const char *op = BIN_NAMES[k];
    if (!a || !b || ac_ctx_failed(ctx)) return NULL;
    bcast p;
    if (!bcast_plan(a, b, &p)) return ac_op_shape_error(ctx, op, "shapes do not broadcast", a, b);
    ac_tensor *y = ac_op_output(ctx, op, p.ndim, p.shape + (AC_MAX_DIMS - p.ndim));
    if (!y) return NULL;
    binary_apply(k, &p, a, b, y);
    ac_node *n = ac_op_record(ctx, op, binary_backward, y, 2, (ac_tensor *[]){a, b});
    if (n) {
        n->iarg[0] = (int)k;
        n->recompute = binary_recompute;
        n->cost = AC_RECOMPUTE_CHEAP;
        n->unread = binary_unread(k);
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_add(ac_ctx *ctx, ac_tensor *a, ac_tensor *b) {
    return binary(ctx, BIN_ADD, a, b);
}
ac_tensor *ac_sub(ac_ctx *ctx, ac_tensor *a, ac_tensor *b) {
    return binary(ctx, BIN_SUB, a, b);
}
ac_tensor *ac_mul(ac_ctx *ctx, ac_tensor *a, ac_tensor *b) {
    return binary(ctx, BIN_MUL, a, b);
}
ac_tensor *ac_div(ac_ctx *ctx, ac_tensor *a, ac_tensor *b) {
    return binary(ctx, BIN_DIV, a, b);
}

/* ---- elementwise functions: y = f(x), dx += g * f'(x) written with x and y ---- */

typedef enum { UN_EXP, UN_LOG, UN_SQRT, UN_TANH, UN_SIGMOID, UN_RELU, UN_GELU, UN_SCALE } un_kind;
static const char *const UN_NAMES[] = {"ac_exp",     "ac_log",  "ac_sqrt", "ac_tanh",
                                       "ac_sigmoid", "ac_relu", "ac_gelu", "ac_scale"};

#define INV_SQRT2    0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

/* One loop per function, the switch outside it, so that each loop vectorises (the fast
 * exp / erf / tanh of fastmath.h are straight-line code); the spans are split across threads in
 * chunks. Elements are independent, so the thread count cannot change a result. */
#define UN_LOOP(n, EXPR)                                                                           \
    for (int64_t i = 0; i < (n); i++) EXPR
#define UN_CHUNK 16384
#define UN_ASIDE 1024 /* floats of an output gradient copied aside at a time (in place) */

AC_VECTOR_CLONES
static void un_forward_span(un_kind k, const float *restrict x, float *restrict y, int64_t n,
                            float c) {
    switch (k) {
    case UN_EXP:
        UN_LOOP(n, y[i] = ac_fast_expf(x[i]));
        break;
    case UN_LOG:
        UN_LOOP(n, y[i] = logf(x[i]));
        break;
    case UN_SQRT:
        UN_LOOP(n, y[i] = sqrtf(x[i]));
        break;
    case UN_TANH:
        UN_LOOP(n, y[i] = ac_fast_tanhf(x[i]));
        break;
    case UN_SIGMOID:
        UN_LOOP(n, y[i] = 1.0f / (1.0f + ac_fast_expf(-x[i])));
        break;
    case UN_RELU:
        UN_LOOP(n, y[i] = x[i] > 0.0f ? x[i] : 0.0f);
        break;
    case UN_GELU:
        UN_LOOP(n, y[i] = 0.5f * x[i] * (1.0f + ac_fast_erff(x[i] * INV_SQRT2)));
        break;
    case UN_SCALE:
        UN_LOOP(n, y[i] = c * x[i]);
        break;
    }
}

/* gx += g * f'(x), with f' written through x and y = f(x) */
AC_VECTOR_CLONES
static void un_backward_span(un_kind k, const float *restrict x, const float *restrict y,
                             const float *restrict g, float *restrict gx, int64_t n, float c) {
    switch (k) {
    case UN_EXP:
        UN_LOOP(n, gx[i] += g[i] * y[i]);
        break;
    case UN_LOG:
        UN_LOOP(n, gx[i] += g[i] / x[i]);
        break;
    case UN_SQRT:
        UN_LOOP(n, gx[i] += g[i] * 0.5f / y[i]);
        break;
    case UN_TANH:
        UN_LOOP(n, gx[i] += g[i] * (1.0f - y[i] * y[i]));
        break;
    case UN_SIGMOID:
        UN_LOOP(n, gx[i] += g[i] * y[i] * (1.0f - y[i]));
        break;
    case UN_RELU:
        UN_LOOP(n, gx[i] += x[i] > 0.0f ? g[i] : 0.0f);
        break;
    case UN_GELU: /* Phi(x) + x phi(x) */
        UN_LOOP(n, gx[i] += g[i] * (0.5f * (1.0f + ac_fast_erff(x[i] * INV_SQRT2)) +
                                    x[i] * INV_SQRT_2PI * ac_fast_expf(-0.5f * x[i] * x[i])));
        break;
    case UN_SCALE:
        UN_LOOP(n, gx[i] += g[i] * c);
        break;
    }
}

/* The gradient of x is written over the output's when x has none yet (no second buffer of the
 * size: GELU's is the largest of a feed-forward's backward): each chunk of the output's
 * gradient is copied aside and the chunk zeroed first, so the arithmetic is the same as into a
 * fresh zeroed buffer, bit for bit. */
static void unary_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    const float *g = n->out->grad;
    bool fresh, in_place = false;
    float *gx = ac_grad_adopt(ctx, n, x);
    if (gx)
        fresh = in_place = true;
    else
        gx = ac_grad_buffer_fresh(ctx, x, &fresh);
    if (!gx) return;
    un_kind k = (un_kind)n->iarg[0];
    const float *xd = x->data, *y = n->out->data;
    int64_t size = x->size, chunks = (size + UN_CHUNK - 1) / UN_CHUNK;
    float c = n->farg[0];
#pragma omp parallel for schedule(static) if (size > AC_PARALLEL_MIN)
    for (int64_t ch = 0; ch < chunks; ch++) {
        int64_t at = ch * UN_CHUNK, len = size - at < UN_CHUNK ? size - at : UN_CHUNK;
        if (!in_place) {
            if (fresh) memset(gx + at, 0, (size_t)len * sizeof(float)); /* zeroed while in cache */
            un_backward_span(k, xd ? xd + at : NULL, y ? y + at : NULL, g + at, gx + at, len, c);
            continue;
        }
        for (int64_t b = at; b < at + len; b += UN_ASIDE) {
            int64_t m = at + len - b < UN_ASIDE ? at + len - b : UN_ASIDE;
            float aside[UN_ASIDE];
            memcpy(aside, g + b, (size_t)m * sizeof(float));
            memset(gx + b, 0, (size_t)m * sizeof(float));
            un_backward_span(k, xd ? xd + b : NULL, y ? y + b : NULL, aside, gx + b, m, c);
        }
    }
}

/* y = f(x) over n elements, in chunks across threads. */
static void unary_apply(un_kind k, const float *xd, float *yd, int64_t size, float c) {
    int64_t chunks = (size + UN_CHUNK - 1) / UN_CHUNK;
#pragma omp parallel for schedule(static) if (size > AC_PARALLEL_MIN)
    for (int64_t ch = 0; ch < chunks; ch++) {
        int64_t at = ch * UN_CHUNK, len = size - at < UN_CHUNK ? size - at : UN_CHUNK;
        un_forward_span(k, xd + at, yd + at, len, c);
    }
}

/* The output again from x (ac_ctx_done): the forward's loop, the same bits. */
static void unary_recompute(ac_ctx *ctx, ac_node *n) {
    (void)ctx;
    unary_apply((un_kind)n->iarg[0], n->in[0]->data, n->out->data, n->out->size, n->farg[0]);
}

static ac_tensor *unary(ac_ctx *ctx, un_kind k, ac_tensor *x, float c) {
    const char *op = UN_NAMES[k];
    if (!x || ac_ctx_failed(ctx)) return NULL;
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, x->shape);
    if (!y) return NULL;
    unary_apply(k, x->data, y->data, x->size, c);
    ac_node *n = ac_op_record(ctx, op, unary_backward, y, 1, &x);
    if (n) {
        n->iarg[0] = (int)k;
        n->farg[0] = c;
        n->recompute = unary_recompute;
        n->cost = AC_RECOMPUTE_CHEAP;
        /* backward reads y = f(x) alone for exp, sqrt, tanh and sigmoid, x alone for the rest
         * (scale neither) */
        if (k == UN_EXP || k == UN_SQRT || k == UN_TANH || k == UN_SIGMOID)
            n->unread = AC_UNREAD_INPUT(0);
        else
            n->unread = AC_UNREAD_OUTPUT | (k == UN_SCALE ? AC_UNREAD_INPUT(0) : 0);
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_scale(ac_ctx *ctx, ac_tensor *x, float c) {
    return unary(ctx, UN_SCALE, x, c);
}
ac_tensor *ac_exp(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_EXP, x, 0.0f);
}
ac_tensor *ac_log(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_LOG, x, 0.0f);
}
ac_tensor *ac_sqrt(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_SQRT, x, 0.0f);
}
ac_tensor *ac_tanh(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_TANH, x, 0.0f);
}
ac_tensor *ac_sigmoid(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_SIGMOID, x, 0.0f);
}
ac_tensor *ac_relu(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_RELU, x, 0.0f);
}
ac_tensor *ac_gelu(ac_ctx *ctx, ac_tensor *x) {
    return unary(ctx, UN_GELU, x, 0.0f);
}
