/* ops_matmul.c - matrix products on ac_gemm: ac_matmul (batched, transpose flags) and the
 * fused ac_linear of torch.nn.Linear.
 *
 * Transposes are never materialised: each product, forward or backward, is one sgemm call per
 * batch element with the transpose flags and leading dimensions of the stored operands. When
 * the right operand is shared by the whole batch and the left one is not transposed, the batch
 * is folded into the rows of a single sgemm.
 *
 * Shapes, with op(X) = X or X^T per flag:
 *   C[M, N] = op(A)[M, K] op(B)[K, N]
 *   dop(A) = dC op(B)^T        dop(B) = op(A)^T dC
 * which, written for the stored operands, gives
 *   dA[M, K] += dC op(B)^T     (trans_a off)      dA[K, M] += op(B) dC^T   (trans_a on)
 *   dB[K, N] += op(A)^T dC     (trans_b off)      dB[N, K] += dC^T op(A)   (trans_b on)
 *
 * Every product goes through ac_gemm (gemm.h): OpenBLAS or the own kernels, with the time
 * accounting of ac_blas_stats_enable when it is on.
 */
#include <string.h>

#include "attncast/gemm.h"
#include "attncast/ops.h"
#include "fastmath.h"
#include "op_internal.h"

static const char *const MATMUL = "ac_matmul";
static const char *const LINEAR = "ac_linear";

/* The geometry of one ac_matmul call, shared by forward and backward. */
typedef struct mm_plan {
    int M, N, K;
    int lda, ldb; /* columns of the stored A and B */
    int64_t batch;
    bool a_batched, b_batched;
    bool fold; /* b shared, a not transposed: one sgemm over batch * M rows */
} mm_plan;

static void mm_plan_from_node(const ac_node *n, mm_plan *p) {
    p->M = n->iarg[0];
    p->N = n->iarg[1];
    p->K = n->iarg[2];
    p->lda = n->iarg[3];
    p->ldb = n->iarg[4];
    p->batch = (int64_t)n->iarg[5];
    p->a_batched = n->iarg[6] & 1;
    p->b_batched = (n->iarg[6] >> 1) & 1;
    p->fold = (n->iarg[6] >> 2) & 1;
}

static void matmul_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *a = n->in[0], *b = n->in[1];
    bool ta = n->iarg[7] & 1, tb = (n->iarg[7] >> 1) & 1;
    mm_plan p;
    mm_plan_from_node(n, &p);
    const float *g = n->out->grad;
    float *ga = ac_grad_buffer(ctx, a);
    float *gb = ac_grad_buffer(ctx, b);
    if (ac_ctx_failed(ctx)) return;
    int64_t as = (int64_t)p.M * p.K, bs = (int64_t)p.K * p.N, cs = (int64_t)p.M * p.N;
    int64_t batches = p.fold ? 1 : p.batch;
    int rows = p.fold ? (int)(p.M * p.batch) : p.M;
    for (int64_t i = 0; i < batches; i++) {
        const float *A = a->data + (p.a_batched ? i * as : 0);
        const float *B = b->data + (p.b_batched ? i * bs : 0);
        const float *G = g + i * cs;
        if (ga) {
            float *dA = ga + (p.a_batched ? i * as : 0);
            if (!ta)
                ac_gemm(false, !tb, rows, p.K, p.N, G, p.N, B, p.ldb, 1.0f, dA, p.K);
            else
                ac_gemm(tb, true, p.K, p.M, p.N, B, p.ldb, G, p.N, 1.0f, dA, p.M);
        }
        if (gb) {
            float *dB = gb + (p.b_batched ? i * bs : 0);
            if (!tb)
                ac_gemm(!ta, false, p.K, p.N, rows, A, p.lda, G, p.N, 1.0f, dB, p.N);
            else
                ac_gemm(true, ta, p.N, p.K, rows, G, p.N, A, p.lda, 1.0f, dB, p.K);
        }
    }
}

ac_tensor *ac_matmul(ac_ctx *ctx, ac_tensor *a, ac_tensor *b, bool trans_a, bool trans_b) {
    if (!a || !b || ac_ctx_failed(ctx)) return NULL;
    if (a->ndim < 2 || b->ndim < 2)
        return ac_op_shape_error(ctx, MATMUL, "both operands need at least 2 dims", a, b);
    int ar = a->shape[a->ndim - 2], acols = a->shape[a->ndim - 1];
    int br = b->shape[b->ndim - 2], bcols = b->shape[b->ndim - 1];
    mm_plan p = {.M = trans_a ? acols : ar,
                 .K = trans_a ? ar : acols,
                 .N = trans_b ? br : bcols,
                 .lda = acols,
                 .ldb = bcols};
    int kb = trans_b ? bcols : br;
    if (p.K != kb)
        return ac_op_shape_error(ctx, MATMUL,
                                 trans_a || trans_b
                                     ? "inner dimensions differ (after the transpose flags)"
                                     : "inner dimensions differ",
                                 a, b);
    p.a_batched = a->ndim > 2;
    p.b_batched = b->ndim > 2;
    if (p.a_batched && p.b_batched) {
        bool same = a->ndim == b->ndim;
        for (int i = 0; same && i < a->ndim - 2; i++) same = a->shape[i] == b->shape[i];
        if (!same) return ac_op_shape_error(ctx, MATMUL, "batch dimensions differ", a, b);
    }
    const ac_tensor *lead = p.a_batched ? a : b;
    int shape[AC_MAX_DIMS];
    int nd = lead->ndim;
    for (int i = 0; i < nd - 2; i++) shape[i] = lead->shape[i];
    shape[nd - 2] = p.M;
    shape[nd - 1] = p.N;
    p.batch = ac_op_outer(lead, 2);
    p.fold = !p.b_batched && !trans_a;
    ac_tensor *c = ac_op_output(ctx, MATMUL, nd, shape);
    if (!c) return NULL;

    int64_t as = (int64_t)p.M * p.K, bs = (int64_t)p.K * p.N, cs = (int64_t)p.M * p.N;
    if (p.fold) {
        ac_gemm(false, trans_b, (int)(p.M * p.batch), p.N, p.K, a->data, p.lda, b->data, p.ldb,
                0.0f, c->data, p.N);
    } else {
        for (int64_t i = 0; i < p.batch; i++)
            ac_gemm(trans_a, trans_b, p.M, p.N, p.K, a->data + (p.a_batched ? i * as : 0), p.lda,
                    b->data + (p.b_batched ? i * bs : 0), p.ldb, 0.0f, c->data + i * cs, p.N);
    }
    ac_node *n = ac_op_record(ctx, MATMUL, matmul_backward, c, 2, (ac_tensor *[]){a, b});
    if (n) {
        n->iarg[0] = p.M;
        n->iarg[1] = p.N;
        n->iarg[2] = p.K;
        n->iarg[3] = p.lda;
        n->iarg[4] = p.ldb;
        n->iarg[5] = (int)p.batch;
        n->iarg[6] = (int)p.a_batched | (int)p.b_batched << 1 | (int)p.fold << 2;
        n->iarg[7] = (int)trans_a | (int)trans_b << 1;
    }
    return ac_ctx_failed(ctx) ? NULL : c;
}

/* s[j] += sum over rows r of g[r, j], rows in order. */
AC_VECTOR_CLONES
static void sum_rows_into(float *restrict s, const float *restrict g, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const float *gr = g + (int64_t)r * cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) s[j] += gr[j];
    }
}

/* y[rows, out] = x[rows, in] W^T + bias: ac_gemm_linear (the packed weight when there is one). */
static void linear_apply(const float *x, const ac_tensor *w, const float *bias, float *y, int rows,
                         int in, int out) {
    ac_gemm_linear(rows, in, out, x, w->data, w->packed, bias, y);
}

/* Refills a released output in backward: the same call as the forward, so the same bits (the
 * weights do not change between a forward and its backward). */
static void linear_recompute(ac_ctx *ctx, ac_node *n) {
    (void)ctx;
    linear_apply(n->in[0]->data, n->in[1], n->n_in > 2 ? n->in[2]->data : NULL, n->out->data,
                 n->iarg[0], n->iarg[1], n->iarg[2]);
}

static void linear_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    int rows = n->iarg[0], in = n->iarg[1], out = n->iarg[2];
    const float *g = n->out->grad;
    float *gw = ac_grad_buffer(ctx, w);
    float *gbias = bias ? ac_grad_buffer(ctx, bias) : NULL;
    if (ac_ctx_failed(ctx)) return;
    if (gw) /* dW[out, in] += dy^T[out, rows] x[rows, in] */
        ac_gemm(true, false, out, in, rows, g, out, x->data, in, 1.0f, gw, in);
    if (gbias) /* dbias[out] += sum over rows of dy */
        sum_rows_into(gbias, g, rows, out);
    /* x is read: if this was its last reader, dx can take its buffer */
    ac_op_values_read(ctx, n, x);
    bool fresh;
    float *gx = ac_grad_buffer_fresh(ctx, x, &fresh);
    if (gx) /* dx[rows, in] (+)= dy[rows, out] W[out, in] */
        ac_gemm(false, false, rows, in, out, g, out, w->data, in, fresh ? 0.0f : 1.0f, gx, in);
}

ac_tensor *ac_linear(ac_ctx *ctx, ac_tensor *x, ac_tensor *weight, ac_tensor *bias) {
    if (!x || !weight || ac_ctx_failed(ctx)) return NULL;
    if (weight->ndim != 2)
        return ac_op_shape_error(ctx, LINEAR, "weight must be [out, in]", x, weight);
    int out = weight->shape[0], in = weight->shape[1];
    if (x->shape[x->ndim - 1] != in)
        return ac_op_shape_error(ctx, LINEAR, "last dim of x differs from weight's in", x, weight);
    if (bias && (bias->ndim != 1 || bias->shape[0] != out))
        return ac_op_shape_error(ctx, LINEAR, "bias must be [out]", weight, bias);
    int shape[AC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out;
    ac_tensor *y = ac_op_output(ctx, LINEAR, x->ndim, shape);
    if (!y) return NULL;
    int rows = (int)ac_op_outer(x, 1);
    linear_apply(x->data, weight, bias ? bias->data : NULL, y->data, rows, in, out);
    ac_tensor *ins[3] = {x, weight, bias};
    ac_node *n = ac_op_record(ctx, LINEAR, linear_backward, y, bias ? 3 : 2, ins);
    if (n) {
        n->iarg[0] = rows;
        n->iarg[1] = in;
        n->iarg[2] = out;
        n->unread = AC_UNREAD_OUTPUT | AC_UNREAD_INPUT(2); /* reads x and the weight */
        n->recompute = linear_recompute; /* when a recompute needs it; its cost is dear */
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}
