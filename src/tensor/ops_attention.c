/* ops_attention.c - fused attention-score kernels: the additive (Bahdanau) score of MODEL.md.
 *
 * Built from generic ops, s_im = w . tanh(q_i + k_m) materialises q + k, its tanh and the
 * product with w, each [B, h, N, M, dh], and their gradients in backward. The fused kernel
 * computes each score as one dh-length loop and, only when it records a tape node (training),
 * keeps t = tanh(q_i + k_m) for backward: one [B, h, N, M, dh] buffer instead of six, and no
 * tanhf in backward (recomputing it there made training slower than the generic ops: tanhf is
 * the cost of this kernel). Inference stores nothing beyond the [B, h, N, M] scores.
 * Work is split over (batch, head) pairs, whose dq and dk rows are disjoint; the dw partial sums
 * of each pair are combined in pair order, so results do not depend on the thread count.
 */
#include <math.h>
#include <stdbool.h>

#include "attncast/ops.h"
#include "op_internal.h"

/* ---- additive scores ----
 * q: [B, h, N, dh], k: [B, h, M, dh], w: [h, dh] -> s: [B, h, N, M]
 * s[b,j,i,m] = sum_e w[j,e] t_e,  t_e = tanh(q[b,j,i,e] + k[b,j,m,e])
 * with g = ds[b,j,i,m] and u_e = g w[j,e] (1 - t_e^2):
 * dq[b,j,i,e] += u_e;  dk[b,j,m,e] += u_e;  dw[j,e] += g t_e
 * saved: t, [B, h, N, M, dh]. */

static void additive_scores_backward(ac_ctx *ctx, ac_node *n) {
    static const char *const op = "ac_additive_scores";
    ac_tensor *q = n->in[0], *k = n->in[1], *w = n->in[2];
    float *gq = ac_grad_buffer(ctx, q);
    float *gk = ac_grad_buffer(ctx, k);
    float *gw = ac_grad_buffer(ctx, w);
    if (ac_ctx_failed(ctx)) return;
    int B = q->shape[0], h = q->shape[1], N = q->shape[2], dh = q->shape[3], M = k->shape[2];
    int64_t pairs = (int64_t)B * h;
    /* dw partial sums, one [dh] row per (b, j) pair, summed in pair order below */
    float *part = gw ? ac_op_scratch(ctx, op, pairs * dh) : NULL;
    if (ac_ctx_failed(ctx)) return;
    const float *g = n->out->grad, *t = n->saved, *wd = w->data;
    int64_t work = n->out->size * dh;
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++) {
        const float *wj = wd + (p % h) * dh, *gp = g + p * N * M;
        float *gqp = gq ? gq + p * N * dh : NULL, *gkp = gk ? gk + p * M * dh : NULL;
        float *pw = part ? part + p * dh : NULL;
        if (pw)
            for (int e = 0; e < dh; e++) pw[e] = 0.0f;
        for (int i = 0; i < N; i++)
            for (int m = 0; m < M; m++) {
                float gs = gp[(int64_t)i * M + m];
                const float *tm = t + ((p * N + i) * M + m) * dh;
                for (int e = 0; e < dh; e++) {
                    float u = gs * wj[e] * (1.0f - tm[e] * tm[e]);
                    if (gqp) gqp[(int64_t)i * dh + e] += u;
                    if (gkp) gkp[(int64_t)m * dh + e] += u;
                    if (pw) pw[e] += gs * tm[e];
                }
            }
    }
    if (gw)
        for (int64_t p = 0; p < pairs; p++) {
            float *gj = gw + (p % h) * dh;
            const float *pw = part + p * dh;
            for (int e = 0; e < dh; e++) gj[e] += pw[e];
        }
}

ac_tensor *ac_additive_scores(ac_ctx *ctx, ac_tensor *q, ac_tensor *k, ac_tensor *w) {
    static const char *const op = "ac_additive_scores";
    if (!q || !k || !w || ac_ctx_failed(ctx)) return NULL;
    if (q->ndim != 4 || k->ndim != 4)
        return ac_op_shape_error(ctx, op, "q and k must be [B, h, N, dh] and [B, h, M, dh]", q, k);
    if (q->shape[0] != k->shape[0] || q->shape[1] != k->shape[1] || q->shape[3] != k->shape[3])
        return ac_op_shape_error(ctx, op, "q and k differ in batch, heads or head width", q, k);
    if (w->ndim != 2 || w->shape[0] != q->shape[1] || w->shape[1] != q->shape[3])
        return ac_op_shape_error(ctx, op, "w must be [h, dh] of q", q, w);
    int B = q->shape[0], h = q->shape[1], N = q->shape[2], dh = q->shape[3], M = k->shape[2];
    ac_tensor *s = ac_op_output(ctx, op, 4, (int[]){B, h, N, M});
    if (!s) return NULL;
    /* t is kept only if ac_op_record below will record a node */
    bool keep =
        ac_ctx_grad_enabled(ctx) && (q->requires_grad || k->requires_grad || w->requires_grad);
    float *t = keep ? ac_op_scratch(ctx, op, s->size * dh) : NULL;
    if (keep && !t) return NULL;
    int64_t pairs = (int64_t)B * h;
    const float *qd = q->data, *kd = k->data, *wd = w->data;
    float *sd = s->data;
    int64_t work = s->size * dh;
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++) {
        const float *qp = qd + p * N * dh, *kp = kd + p * M * dh, *wj = wd + (p % h) * dh;
        float *sp = sd + p * N * M;
        for (int i = 0; i < N; i++) {
            const float *qi = qp + (int64_t)i * dh;
            for (int m = 0; m < M; m++) {
                const float *km = kp + (int64_t)m * dh;
                float *tm = t ? t + ((p * N + i) * M + m) * dh : NULL;
                float acc = 0.0f;
                for (int e = 0; e < dh; e++) {
                    float te = tanhf(qi[e] + km[e]);
                    if (tm) tm[e] = te;
                    acc += wj[e] * te;
                }
                sp[(int64_t)i * M + m] = acc;
            }
        }
    }
    ac_node *n = ac_op_record(ctx, op, additive_scores_backward, s, 3, (ac_tensor *[]){q, k, w});
    if (n) n->saved = t;
    return ac_ctx_failed(ctx) ? NULL : s;
}
