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
#include "fastmath.h"
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
                    float te = ac_fast_tanhf(qi[e] + km[e]);
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

/* ---- fused multi-head attention ----
 * q, k, v, o: [S, N, d]; head j owns columns j*dh .. (j+1)*dh - 1 of every row, so heads are
 * read in place (no split / join copies). For each sample s and head j:
 *   s_ik = score(q_i, k_k);  A_i = softmax over k of s_ik (k > i forbidden when causal);
 *   o_i = sum_k A_ik v_k
 * Scores:  dot       c q.k, c = 1 / sqrt(dh)
 *          cosine    T q.k / D, D = |q||k| + 1e-6, T = exp(log_tau[j])
 *          additive  w[j] . t, t = tanh(q + k)
 * Backward, from dO:
 *   dA_ik = dO_i . v_k;  dv_k += A_ik dO_i;  g_ik = A_ik (dA_ik - sum_m A_im dA_im)
 *   dot:      dq_i += c g k_k;  dk_k += c g q_i
 *   cosine:   dq_i += g (T/D k_k - s/D |k|/|q| q_i);  dk_k += g (T/D q_i - s/D |q|/|k| k_k);
 *             dlog_tau[j] += g s
 *   additive: u = g w[j] (1 - t^2);  dq_i += u;  dk_k += u;  dw[j] += g t
 * saved: A [S, h, N, N] (the weights explain shows), then for cosine |q_i| and |k_i| per pair.
 * Work is split over (sample, head) pairs, which write disjoint rows and columns; parameter
 * gradients are summed per pair and then in pair order, so the thread count changes nothing.
 * Dot products run in SUM_BLOCK lanes summed pairwise: a fixed order on every CPU. */

#define COSINE_EPS 1e-6f
#define SUM_BLOCK  16 /* lanes of the register blocks that dot products and sums run in */
#define TANH_BLOCK 64 /* head widths are walked in blocks of this many for the tanh values */

static inline float dot_product(const float *restrict a, const float *restrict b, int n) {
    float acc[SUM_BLOCK] = {0};
    int e0 = 0;
    for (; e0 + SUM_BLOCK <= n; e0 += SUM_BLOCK)
        for (int e = 0; e < SUM_BLOCK; e++) acc[e] += a[e0 + e] * b[e0 + e];
    for (int w = SUM_BLOCK / 2; w >= 1; w /= 2) /* pairwise, a fixed order */
        for (int e = 0; e < w; e++) acc[e] += acc[e + w];
    float r = acc[0];
    for (int e = e0; e < n; e++) r += a[e] * b[e];
    return r;
}

static inline void axpy(float *restrict y, float alpha, const float *restrict x, int n) {
#pragma omp simd
    for (int e = 0; e < n; e++) y[e] += alpha * x[e];
}

/* o = sum over m < count of a[m] v_m (rows of v every `stride` floats), accumulated in a block
 * of registers rather than in o, whose every update would otherwise wait for the last store. */
static inline void weighted_sum(float *restrict o, const float *restrict a, const float *restrict v,
                                int64_t stride, int count, int dh) {
    int e0 = 0;
    for (; e0 + SUM_BLOCK <= dh; e0 += SUM_BLOCK) {
        float acc[SUM_BLOCK] = {0};
        for (int m = 0; m < count; m++) {
            const float *vm = v + m * stride + e0;
#pragma omp simd
            for (int e = 0; e < SUM_BLOCK; e++) acc[e] += a[m] * vm[e];
        }
        for (int e = 0; e < SUM_BLOCK; e++) o[e0 + e] = acc[e];
    }
    for (int e = e0; e < dh; e++) o[e] = 0.0f;
    for (int m = 0; m < count && e0 < dh; m++) axpy(o + e0, a[m], v + m * stride + e0, dh - e0);
}

/* w . tanh(q + k), keeping nothing */
static inline float additive_score(const float *q, const float *k, const float *w, int dh) {
    float t[TANH_BLOCK], acc = 0.0f;
    for (int e0 = 0; e0 < dh; e0 += TANH_BLOCK) {
        int len = dh - e0 < TANH_BLOCK ? dh - e0 : TANH_BLOCK;
#pragma omp simd
        for (int e = 0; e < len; e++) t[e] = ac_fast_tanhf(q[e0 + e] + k[e0 + e]);
        acc += dot_product(t, w + e0, len);
    }
    return acc;
}

/* The geometry of one call, shared by forward and backward. */
typedef struct attn_geom {
    int S, N, d, h, dh;
    ac_score_kind kind;
    bool causal;
} attn_geom;

static void attn_geom_to_node(const attn_geom *g, ac_node *n) {
    n->iarg[0] = g->h;
    n->iarg[1] = (int)g->kind;
    n->iarg[2] = g->causal;
}

static attn_geom attn_geom_from(const ac_tensor *q, int h, ac_score_kind kind, bool causal) {
    attn_geom g = {.S = q->shape[0], .N = q->shape[1], .d = q->shape[2], .h = h};
    g.dh = g.d / h;
    g.kind = kind;
    g.causal = causal;
    return g;
}

/* Scores, softmax and A V for one (sample, head) pair; A is its [N, N] block. */
AC_VECTOR_CLONES
static void attention_pair_forward(const attn_geom *g, int64_t p, const float *q, const float *k,
                                   const float *v, const float *param, float *o, float *A,
                                   float *norms) {
    int N = g->N, d = g->d, dh = g->dh, j = (int)(p % g->h);
    int64_t base = (p / g->h) * N * d + (int64_t)j * dh; /* row 0 of this head */
    const float *qp = q + base, *kp = k + base, *vp = v + base;
    float *op = o + base;
    float c = 1.0f / sqrtf((float)dh), temp = 0.0f;
    const float *w = NULL;
    if (g->kind == AC_SCORE_COSINE) {
        temp = expf(param[j]);
        for (int i = 0; i < N; i++) {
            norms[i] = sqrtf(dot_product(qp + (int64_t)i * d, qp + (int64_t)i * d, dh));
            norms[N + i] = sqrtf(dot_product(kp + (int64_t)i * d, kp + (int64_t)i * d, dh));
        }
    } else if (g->kind == AC_SCORE_ADDITIVE) {
        w = param + (int64_t)j * dh;
    }
    for (int i = 0; i < N; i++) {
        const float *qi = qp + (int64_t)i * d;
        float *ai = A + (int64_t)i * N;
        int kmax = g->causal ? i + 1 : N;
        float mx = -INFINITY;
        for (int m = 0; m < kmax; m++) {
            const float *km = kp + (int64_t)m * d;
            float s;
            if (g->kind == AC_SCORE_DOT)
                s = c * dot_product(qi, km, dh);
            else if (g->kind == AC_SCORE_COSINE)
                s = temp * dot_product(qi, km, dh) / (norms[i] * norms[N + m] + COSINE_EPS);
            else
                s = additive_score(qi, km, w, dh);
            ai[m] = s;
            mx = s > mx ? s : mx;
        }
#pragma omp simd
        for (int m = 0; m < kmax; m++) ai[m] = ac_fast_expf(ai[m] - mx);
        float sum = 0.0f;
        for (int m = 0; m < kmax; m++) sum += ai[m];
        float inv = 1.0f / sum;
        for (int m = 0; m < kmax; m++) ai[m] *= inv;
        for (int m = kmax; m < N; m++) ai[m] = 0.0f;
        weighted_sum(op + (int64_t)i * d, ai, vp, d, kmax, dh);
    }
}

/* The backward of one (sample, head) pair: adds into its rows and columns of gq, gk, gv (each
 * may be NULL) and writes its share of the parameter gradient to pp; dA is a row of scratch. */
AC_VECTOR_CLONES
static void attention_pair_backward(const attn_geom *g, int64_t p, const float *dO,
                                    const float *A_all, const float *norms_all, const float *q,
                                    const float *k, const float *v, const float *param, float *gq,
                                    float *gk, float *gv, float *pp, float *dA) {
    int N = g->N, d = g->d, dh = g->dh;
    int j = (int)(p % g->h);
    int64_t base = (p / g->h) * N * d + (int64_t)j * dh;
    const float *A = A_all + p * N * N, *qp = q + base, *kp = k + base, *vp = v + base;
    const float *dOp = dO + base, *nq = norms_all + p * 2 * N, *nk = nq + N;
    const float *w = g->kind == AC_SCORE_ADDITIVE ? param + (int64_t)j * dh : NULL;
    float c = 1.0f / sqrtf((float)dh), temp = g->kind == AC_SCORE_COSINE ? expf(param[j]) : 0.0f;
    if (pp)
        for (int e = 0; e < (g->kind == AC_SCORE_ADDITIVE ? dh : 1); e++) pp[e] = 0.0f;
    for (int i = 0; i < N; i++) {
        const float *ai = A + (int64_t)i * N, *dOi = dOp + (int64_t)i * d;
        const float *qi = qp + (int64_t)i * d;
        int kmax = g->causal ? i + 1 : N;
        float rowdot = 0.0f;
        for (int m = 0; m < kmax; m++) {
            dA[m] = dot_product(dOi, vp + (int64_t)m * d, dh);
            rowdot += ai[m] * dA[m];
            if (gv) axpy(gv + base + (int64_t)m * d, ai[m], dOi, dh);
        }
        for (int m = 0; m < kmax; m++) {
            float gs = ai[m] * (dA[m] - rowdot); /* dL/ds_im */
            const float *km = kp + (int64_t)m * d;
            float *dqi = gq ? gq + base + (int64_t)i * d : NULL;
            float *dkm = gk ? gk + base + (int64_t)m * d : NULL;
            if (g->kind == AC_SCORE_DOT) {
                if (dqi) axpy(dqi, c * gs, km, dh);
                if (dkm) axpy(dkm, c * gs, qi, dh);
            } else if (g->kind == AC_SCORE_COSINE) {
                float D = nq[i] * nk[m] + COSINE_EPS;
                float s = temp * dot_product(qi, km, dh) / D;
                if (dqi) {
                    axpy(dqi, gs * temp / D, km, dh);
                    if (nq[i] > 0.0f) axpy(dqi, -gs * s / D * nk[m] / nq[i], qi, dh);
                }
                if (dkm) {
                    axpy(dkm, gs * temp / D, qi, dh);
                    if (nk[m] > 0.0f) axpy(dkm, -gs * s / D * nq[i] / nk[m], km, dh);
                }
                if (pp) pp[0] += gs * s;
            } else {
                for (int e0 = 0; e0 < dh; e0 += TANH_BLOCK) {
                    int len = dh - e0 < TANH_BLOCK ? dh - e0 : TANH_BLOCK;
                    float t[TANH_BLOCK], u[TANH_BLOCK];
#pragma omp simd
                    for (int e = 0; e < len; e++) {
                        t[e] = ac_fast_tanhf(qi[e0 + e] + km[e0 + e]);
                        u[e] = gs * w[e0 + e] * (1.0f - t[e] * t[e]);
                    }
                    if (dqi) axpy(dqi + e0, 1.0f, u, len);
                    if (dkm) axpy(dkm + e0, 1.0f, u, len);
                    if (pp) axpy(pp + e0, gs, t, len);
                }
            }
        }
    }
}

static void attention_backward(ac_ctx *ctx, ac_node *n) {
    static const char *const op = "ac_attention";
    ac_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *param = n->n_in > 3 ? n->in[3] : NULL;
    attn_geom g = attn_geom_from(q, n->iarg[0], (ac_score_kind)n->iarg[1], n->iarg[2]);
    float *gq = ac_grad_buffer(ctx, q);
    float *gk = ac_grad_buffer(ctx, k);
    float *gv = ac_grad_buffer(ctx, v);
    float *gparam = param ? ac_grad_buffer(ctx, param) : NULL;
    int N = g.N, dh = g.dh;
    int64_t pairs = (int64_t)g.S * g.h;
    int part_width = g.kind == AC_SCORE_ADDITIVE ? dh : 1;
    float *part = gparam ? ac_op_scratch(ctx, op, pairs * part_width) : NULL;
    float *dA_all = ac_op_scratch(ctx, op, pairs * N); /* one dA row per pair */
    if (ac_ctx_failed(ctx)) return;
    const float *dO = n->out->grad, *A_all = n->saved, *qd = q->data, *kd = k->data, *vd = v->data,
                *pd = param ? param->data : NULL;
    const float *norms_all = A_all + pairs * N * N;
    int64_t work = pairs * N * N * dh;
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++)
        attention_pair_backward(&g, p, dO, A_all, norms_all, qd, kd, vd, pd, gq, gk, gv,
                                part ? part + p * part_width : NULL, dA_all + p * N);
    if (gparam)
        for (int64_t p = 0; p < pairs; p++)
            axpy(gparam + (p % g.h) * part_width, 1.0f, part + p * part_width, part_width);
}

ac_tensor *ac_attention(ac_ctx *ctx, ac_tensor *q, ac_tensor *k, ac_tensor *v, int heads,
                        ac_score_kind kind, ac_tensor *param, bool causal, ac_tensor **weights) {
    static const char *const op = "ac_attention";
    if (!q || !k || !v || ac_ctx_failed(ctx)) return NULL;
    if (q->ndim != 3 || !ac_tensor_same_shape(q, k) || !ac_tensor_same_shape(q, v))
        return ac_op_shape_error(ctx, op, "q, k and v must be one shape [S, N, d]", q,
                                 ac_tensor_same_shape(q, k) ? v : k);
    if (heads < 1 || q->shape[2] % heads != 0)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: d = %d is not divisible by %d heads", op,
                           q->shape[2], heads);
    attn_geom g = attn_geom_from(q, heads, kind, causal);
    bool ok_param =
        kind == AC_SCORE_DOT ? param == NULL
        : kind == AC_SCORE_COSINE
            ? param && param->ndim == 1 && param->shape[0] == heads
            : param && param->ndim == 2 && param->shape[0] == heads && param->shape[1] == g.dh;
    if (!ok_param)
        return ac_op_shape_error(ctx, op,
                                 "the score parameter must be none (dot), log_tau [h] (cosine) or "
                                 "w [h, dh] (additive)",
                                 q, param);
    int N = g.N;
    int64_t pairs = (int64_t)g.S * heads;
    ac_tensor *o = ac_op_output(ctx, op, 3, q->shape);
    float *saved = o ? ac_op_scratch(ctx, op, pairs * N * N + pairs * 2 * N) : NULL;
    if (!saved) return NULL;
    const float *qd = q->data, *kd = k->data, *vd = v->data, *pd = param ? param->data : NULL;
    float *od = o->data;
    int64_t work = pairs * N * N * g.dh;
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++)
        attention_pair_forward(&g, p, qd, kd, vd, pd, od, saved + p * N * N,
                               saved + pairs * N * N + p * 2 * N);
    ac_tensor *ins[4] = {q, k, v, param};
    ac_node *node = ac_op_record(ctx, op, attention_backward, o, param ? 4 : 3, ins);
    if (node) {
        attn_geom_to_node(&g, node);
        node->saved = saved;
    }
    if (weights) *weights = ac_op_view(ctx, op, 4, (int[]){g.S, heads, N, N}, saved);
    return ac_ctx_failed(ctx) ? NULL : o;
}
