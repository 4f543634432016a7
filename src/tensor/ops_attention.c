/* ops_attention.c - the fused multi-head attention of MODEL.md: every score kind's forward and
 * backward (AC_SCORE_KINDS), softmax and A V in one op over (series, head) pairs.
 *
 * Built from generic ops, attention materialises the split heads, the [ns, h, N, N] scores and
 * (additive) the [ns, h, N, N, dh] tanh values, with their gradients. The fused op reads heads
 * in place, keeps only the attention weights (and, for cosine, the row norms) for backward, and
 * recomputes the rest there. Work is split over (series, head) pairs, whose rows and columns
 * are disjoint; parameter gradients are summed per pair and then in pair order, so results do
 * not depend on the thread count. tests/tensor/test_ops_values.c checks every score against the
 * same maths composed from generic ops.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "attncast/ops.h"
#include "fastmath.h"
#include "op_internal.h"
#include "transpose.h"

/* ---- the score kinds: names and parameter ranks, from their list in ops.h ---- */

#define SCORE_NAME(id, name, rank) name,
#define SCORE_RANK(id, name, rank) rank,
static const char *const score_names[] = {AC_SCORE_KINDS(SCORE_NAME)};
static const int score_ranks[] = {AC_SCORE_KINDS(SCORE_RANK)};
#undef SCORE_NAME
#undef SCORE_RANK

const char *ac_score_kind_name(ac_score_kind kind) {
    return (unsigned)kind < AC_SCORE_COUNT ? score_names[kind] : "unknown";
}

int ac_score_param_rank(ac_score_kind kind) {
    return (unsigned)kind < AC_SCORE_COUNT ? score_ranks[kind] : -1;
}

/* ---- fused multi-head attention ----
 * q, k, v, o: [ns, N, d]; head j owns columns j*dh .. (j+1)*dh - 1 of every row, so heads are
 * read in place (no split / join copies). For each series and head j:
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
 * saved: A [ns, h, N, N] (the weights explain shows), then for cosine |q_i| and |k_i| per pair.
 * Work is split over (series, head) pairs, which write disjoint rows and columns; parameter
 * gradients are summed per pair and then in pair order, so the thread count changes nothing.
 * Dot products run in SUM_BLOCK lanes summed pairwise: a fixed order on every CPU.
 * Additive scores put queries in vector lanes in forward (additive_block: each score a sum in
 * order of e, no horizontal sums) and head columns in lanes in backward
 * (additive_pair_backward: dq's and dw's sums held in registers); both recompute nothing else
 * and the tanh is fastmath.h's single rational function. */

#define COSINE_EPS 1e-6f
#define SUM_BLOCK  16 /* lanes of the register blocks that dot products and sums run in */

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

/* Columns [e0, e0 + len) (len <= SUM_BLOCK) of weighted_sums, for rows r0 .. r0 + nr - 1
 * (nr <= SUMS_ROWS). */
#define SUMS_ROWS 4 /* rows whose sums run side by side, so that their chains overlap */
AC_ALWAYS_INLINE
static inline void weighted_sums_columns(float *restrict out, int64_t out_stride,
                                         const float *restrict a, int64_t a_stride, int64_t a_ms,
                                         int nr, const float *restrict x, int64_t x_stride,
                                         int count, bool add, int e0, int len) {
    float acc[SUMS_ROWS][SUM_BLOCK] = {{0}};
    const float *ar[SUMS_ROWS];
    for (int r = 0; r < SUMS_ROWS; r++) /* rows past nr repeat the last (not stored) */
        ar[r] = a + (r < nr ? r : nr - 1) * a_stride;
    for (int m = 0; m < count; m++) {
        const float *xm = x + m * x_stride + e0;
        for (int r = 0; r < SUMS_ROWS; r++) {
            float w = ar[r][m * a_ms];
#pragma omp simd
            for (int c = 0; c < len; c++) acc[r][c] += w * xm[c];
        }
    }
    for (int r = 0; r < nr; r++) {
        float *o = out + r * out_stride + e0;
        if (add) {
#pragma omp simd
            for (int c = 0; c < len; c++) o[c] += acc[r][c];
        } else {
            for (int c = 0; c < len; c++) o[c] = acc[r][c];
        }
    }
}

/* out_r (=, or += when add) sum over m < count of a[r * a_stride + m * a_ms] x_m for r < rows
 * (a_ms 1: rows of a; a_stride 1: its columns, a transposed matrix read in place), with
 * rows of out and x every out_stride and x_stride floats, dh wide: each sum starts from zero
 * and runs in order of m, in registers (an update of out would wait for the last store), and
 * is then stored or added. */
AC_ALWAYS_INLINE
static inline void weighted_sums(float *restrict out, int64_t out_stride, const float *restrict a,
                                 int64_t a_stride, int64_t a_ms, int rows, const float *restrict x,
                                 int64_t x_stride, int count, int dh, bool add) {
    for (int r0 = 0; r0 < rows; r0 += SUMS_ROWS) {
        int nr = rows - r0 < SUMS_ROWS ? rows - r0 : SUMS_ROWS;
        float *o = out + r0 * out_stride;
        const float *ar = a + r0 * a_stride;
        int e0 = 0;
        for (; e0 + SUM_BLOCK <= dh; e0 += SUM_BLOCK) /* constant width: whole vectors */
            weighted_sums_columns(o, out_stride, ar, a_stride, a_ms, nr, x, x_stride, count, add,
                                  e0, SUM_BLOCK);
        if (e0 < dh)
            weighted_sums_columns(o, out_stride, ar, a_stride, a_ms, nr, x, x_stride, count, add,
                                  e0, dh - e0);
    }
}

/* The geometry of one call, shared by forward and backward. */
typedef struct attn_geom {
    int ns, N, d, h, dh; /* ns series of N tokens, heads of width dh */
    ac_score_kind kind;
    bool causal;
} attn_geom;

static void attn_geom_to_node(const attn_geom *g, ac_node *n) {
    n->iarg[0] = g->h;
    n->iarg[1] = (int)g->kind;
    n->iarg[2] = g->causal;
}

/* Floats of the score parameter per head: 0, 1 or dh (its rank 0, 1 or 2). */
static int param_width(const attn_geom *g) {
    int rank = ac_score_param_rank(g->kind);
    return rank == 2 ? g->dh : rank;
}

static attn_geom attn_geom_from(const ac_tensor *q, int h, ac_score_kind kind, bool causal) {
    attn_geom g = {.ns = q->shape[0], .N = q->shape[1], .d = q->shape[2], .h = h};
    g.dh = g.d / h;
    g.kind = kind;
    g.causal = causal;
    return g;
}

/* ---- per-pair kernels ----
 * Each (series, head) pair works on [N, dh] blocks of q, k, v read in place (rows every d
 * floats). The pair's [N, N] matrices are held transposed, [m * Np + i] for key m and query i,
 * Np = N rounded up to BLOCK_COLS with zero padding: queries lie in vector lanes, so each query
 * row's softmax and backward's sums over the keys run lane by lane in order of m, for every
 * row at once. Products of two [N, dh] blocks, K Q^T (scores) and V dO^T (dA), run against a
 * transposed copy of the right-hand block, [dh, Np], so every score is a plain sequential sum
 * over e (no horizontal reductions, the same order on every CPU). Products with an [N, N]
 * matrix (A V, G K, G^T Q, A^T dO) are weighted sums of rows, SUMS_ROWS output rows side by
 * side, reading the matrix's rows or, in place, its columns. A is saved as [i][m] (the weights
 * explain shows), one transpose from the scores. */

#define BLOCK_ROWS 4  /* rows a register block of a product carries */
#define BLOCK_COLS 16 /* columns (vector lanes) a register block carries */

static int padded(int n) {
    return (n + BLOCK_COLS - 1) / BLOCK_COLS * BLOCK_COLS;
}

/* bt[e * np + m] = b[m * stride + e] for m < n, e < dh; zero for n <= m < np. */
static void transpose_block(const float *restrict b, int64_t stride, int n, int dh, int np,
                            float *restrict bt) {
    ac_transpose_rows(b, stride, n, dh, bt, np, np);
}

/* out[i * out_stride + m] = sum over e < dh of a[i * a_stride + e] bt[e * np + m], i < rows,
 * m < cols (cols <= np), each sum taken in order of e. */
AC_VECTOR_CLONES
static void product_block(const float *restrict a, int64_t a_stride, int rows,
                          const float *restrict bt, int np, int cols, int dh, float *restrict out,
                          int64_t out_stride) {
    for (int i0 = 0; i0 < rows; i0 += BLOCK_ROWS) {
        const float *ar[BLOCK_ROWS];
        for (int r = 0; r < BLOCK_ROWS; r++) /* rows past the end repeat the last (not stored) */
            ar[r] = a + (int64_t)(i0 + r < rows ? i0 + r : rows - 1) * a_stride;
        for (int m0 = 0; m0 < cols; m0 += BLOCK_COLS) {
            float acc[BLOCK_ROWS][BLOCK_COLS] = {{0}};
            for (int e = 0; e < dh; e++) {
                const float *b = bt + (int64_t)e * np + m0;
                for (int r = 0; r < BLOCK_ROWS; r++) {
                    float x = ar[r][e];
#pragma omp simd
                    for (int c = 0; c < BLOCK_COLS; c++) acc[r][c] += x * b[c];
                }
            }
            int nc = cols - m0 < BLOCK_COLS ? cols - m0 : BLOCK_COLS;
            for (int r = 0; r < BLOCK_ROWS && i0 + r < rows; r++)
                for (int c = 0; c < nc; c++)
                    out[(int64_t)(i0 + r) * out_stride + m0 + c] = acc[r][c];
        }
    }
}

/* Additive scores of `rows` query rows against the transposed keys kt [dh, np]:
 * out[i * out_stride + m] = sum over e < dh of w[e] tanh(a[i * a_stride + e] + kt[e * np + m]),
 * m < cols (cols <= np), each sum taken in order of e. Keys sit in vector lanes, so no score
 * needs a horizontal sum; the tanh of padding columns is computed and dropped. */
AC_VECTOR_CLONES
static void additive_block(const float *restrict a, int64_t a_stride, int rows,
                           const float *restrict kt, int np, int cols, const float *restrict w,
                           int dh, float *restrict out, int64_t out_stride) {
    for (int i = 0; i < rows; i++) {
        const float *ai = a + (int64_t)i * a_stride;
        for (int m0 = 0; m0 < cols; m0 += BLOCK_COLS) {
            float acc[BLOCK_COLS] = {0};
            for (int e = 0; e < dh; e++) {
                const float *k = kt + (int64_t)e * np + m0;
                float qe = ai[e], we = w[e];
#pragma omp simd
                for (int c = 0; c < BLOCK_COLS; c++) acc[c] += we * ac_fast_tanhf(qe + k[c]);
            }
            int nc = cols - m0 < BLOCK_COLS ? cols - m0 : BLOCK_COLS;
            for (int c = 0; c < nc; c++) out[(int64_t)i * out_stride + m0 + c] = acc[c];
        }
    }
}

/* y[e] += x[e] for e < n. */
static inline void add_row(float *restrict y, const float *restrict x, int n) {
#pragma omp simd
    for (int e = 0; e < n; e++) y[e] += x[e];
}

/* The scratch floats one thread needs for a pair: the larger of forward's (qt, st, and per lane
 * nq, mx, sum) and backward's (bt, then rowdot, nqp and rq's lanes; at, then sc; dat; gt;
 * rq and rk). */
static int64_t pair_scratch_floats(int N, int dh) {
    int64_t np = padded(N);
    int64_t forward = dh * np + N * np + 3 * np;
    int64_t backward = (dh > 2 ? dh : 2) * np + 3 * N * np + 2 * N;
    return forward > backward ? forward : backward;
}

/* o_i = sum over k of A_ik v_k for one (series, head) pair, A its [N, N] block. */
AC_VECTOR_CLONES
static void attention_pair_output(const attn_geom *g, int64_t p, const float *A, const float *v,
                                  float *o) {
    int N = g->N, d = g->d, dh = g->dh;
    int64_t base = (p / g->h) * N * d + (int64_t)(p % g->h) * dh;
    /* A is zero past the causal limit: those terms add zero */
    weighted_sums(o + base, d, A, N, 1, N, v + base, d, N, dh, false);
}

/* Scores, softmax and A V for one (series, head) pair; A is its [N, N] block, scratch as
 * pair_scratch_floats. Scores are made transposed, st[m * np + i] = score(q_i, k_m), queries in
 * vector lanes, so that the softmax of every query row runs at once down the columns: each
 * row's maximum and its sum (in order of m) are lane-wise, with no sum waiting on the last. */
AC_VECTOR_CLONES
static void attention_pair_forward(const attn_geom *g, int64_t p, const float *q, const float *k,
                                   const float *v, const float *param, float *o, float *A,
                                   float *norms, float *scratch) {
    int N = g->N, d = g->d, dh = g->dh, j = (int)(p % g->h), np = padded(N);
    int64_t base = (p / g->h) * N * d + (int64_t)j * dh; /* row 0 of this head */
    const float *qp = q + base, *kp = k + base;
    float *qt = scratch, *st = qt + (int64_t)dh * np, *nq = st + (int64_t)N * np;
    float *mx = nq + np, *sum = mx + np; /* per query lane: the maximum and the sum */
    float c = 1.0f / sqrtf((float)dh), temp = 0.0f;
    bool causal = g->causal;
    transpose_block(qp, d, N, dh, np, qt);
    if (g->kind == AC_SCORE_COSINE) {
        temp = expf(param[j]);
        for (int i = 0; i < N; i++) {
            norms[i] = sqrtf(dot_product(qp + (int64_t)i * d, qp + (int64_t)i * d, dh));
            norms[N + i] = sqrtf(dot_product(kp + (int64_t)i * d, kp + (int64_t)i * d, dh));
        }
        for (int i = 0; i < np; i++) nq[i] = i < N ? norms[i] : 1.0f; /* padding lanes: any */
    }
    if (g->kind == AC_SCORE_ADDITIVE)
        additive_block(kp, d, N, qt, np, np, param + (int64_t)j * dh, dh, st, np);
    else
        product_block(kp, d, N, qt, np, np, dh, st, np);
    for (int i = 0; i < np; i++) mx[i] = -INFINITY;
    for (int m = 0; m < N; m++) { /* scale, mask and take each lane's maximum */
        float *sm = st + (int64_t)m * np, nkm = norms[N + m];
#pragma omp simd
        for (int i = 0; i < np; i++) {
            float x = sm[i];
            if (g->kind == AC_SCORE_DOT)
                x *= c;
            else if (g->kind == AC_SCORE_COSINE)
                x = temp * x / (nq[i] * nkm + COSINE_EPS);
            x = causal && m > i ? -INFINITY : x;
            sm[i] = x;
            mx[i] = x > mx[i] ? x : mx[i];
        }
    }
    for (int i = 0; i < np; i++) sum[i] = 0.0f;
    for (int m = 0; m < N; m++) { /* exp(s - max), summed in order of m */
        float *sm = st + (int64_t)m * np;
#pragma omp simd
        for (int i = 0; i < np; i++) {
            float e = ac_fast_expf(sm[i] - mx[i]);
            e = causal && m > i ? 0.0f : e;
            sm[i] = e;
            sum[i] += e;
        }
    }
    for (int i = 0; i < np; i++) sum[i] = 1.0f / sum[i];
    for (int m = 0; m < N; m++) {
        float *sm = st + (int64_t)m * np;
#pragma omp simd
        for (int i = 0; i < np; i++) sm[i] *= sum[i];
    }
    ac_transpose_rows(st, np, N, N, A, N, N); /* A[i N + m] = st[m np + i] */
    attention_pair_output(g, p, A, v, o);
}

/* Columns [e0, e0 + len) of the additive backward of one pair (len <= SUM_BLOCK): with
 * t = tanh(q_i + k_m) recomputed and u = G_im w (1 - t^2), dq_i += sum over m of u,
 * dk_m += u and pp += sum over (i, m) of G_im t. Lanes run over e; dq_i's and pp's sums stay
 * in registers, in order of m (and of i for pp). */
AC_ALWAYS_INLINE
static inline void additive_columns_backward(const float *restrict qp, const float *restrict kp,
                                             int64_t d, int N, bool causal, const float *gt,
                                             int64_t np, const float *restrict w,
                                             float *restrict dq, float *restrict dk,
                                             float *restrict pp, int e0, int len) {
    float pacc[SUM_BLOCK] = {0};
    for (int i = 0; i < N; i++) {
        const float *qi = qp + i * d + e0, *gi = gt + i; /* G_im = gi[m np] */
        float qacc[SUM_BLOCK] = {0};
        int kmax = causal ? i + 1 : N;
        for (int m = 0; m < kmax; m++) {
            const float *km = kp + m * d + e0;
            float gs = gi[m * np];
            if (dk) {
                float *restrict dkm = dk + m * d + e0;
#pragma omp simd
                for (int c = 0; c < len; c++) {
                    float t = ac_fast_tanhf(qi[c] + km[c]);
                    float u = gs * w[e0 + c] * (1.0f - t * t);
                    pacc[c] += gs * t;
                    qacc[c] += u;
                    dkm[c] += u;
                }
            } else {
#pragma omp simd
                for (int c = 0; c < len; c++) {
                    float t = ac_fast_tanhf(qi[c] + km[c]);
                    pacc[c] += gs * t;
                    qacc[c] += gs * w[e0 + c] * (1.0f - t * t);
                }
            }
        }
        if (dq)
            for (int c = 0; c < len; c++) dq[i * d + e0 + c] += qacc[c];
    }
    if (pp)
        for (int c = 0; c < len; c++) pp[e0 + c] += pacc[c];
}

/* The additive part of a pair's backward, SUM_BLOCK columns of the head at a time. */
AC_VECTOR_CLONES
static void additive_pair_backward(const float *qp, const float *kp, int64_t d, int N, int dh,
                                   bool causal, const float *gt, int64_t np, const float *w,
                                   float *dq, float *dk, float *pp) {
    int e0 = 0;
    for (; e0 + SUM_BLOCK <= dh; e0 += SUM_BLOCK) /* constant width: whole vectors */
        additive_columns_backward(qp, kp, d, N, causal, gt, np, w, dq, dk, pp, e0, SUM_BLOCK);
    if (e0 < dh)
        additive_columns_backward(qp, kp, d, N, causal, gt, np, w, dq, dk, pp, e0, dh - e0);
}

/* The backward of one (series, head) pair: adds into its rows and columns of gq, gk, gv (each
 * may be NULL) and writes its share of the parameter gradient to pp; scratch as
 * pair_scratch_floats. With G = dL/ds (zero where A is):
 *   dA = dO V^T,  G_im = A_im (dA_im - sum_m A_im dA_im),  dV = A^T dO
 *   dot:      dQ = c G K,  dK = c G^T Q
 *   cosine:   with a = G T / D and b = G s / D: dQ_i = (a K)_i - (sum_m b_im |k_m|) q_i / |q_i|,
 *             dK_m = (a^T Q)_m - (sum_i b_im |q_i|) k_m / |k_m|,  dlog_tau = sum G s
 *   additive: per element, u = G w (1 - t^2), t recomputed.
 * As in forward, the [N, N] matrices are held transposed (at, dat, gt: [m * np + i], queries in
 * lanes), so that each query's sums over m run lane-wise; rows of gt are then the weights of
 * dK's sums, and G itself (rows i) is one transpose away for dQ's. */
AC_VECTOR_CLONES
static void attention_pair_backward(const attn_geom *g, int64_t p, const float *dO,
                                    const float *A_all, const float *norms_all, const float *q,
                                    const float *k, const float *v, const float *param, float *gq,
                                    float *gk, float *gv, float *pp, float *scratch) {
    int N = g->N, d = g->d, dh = g->dh, np = padded(N);
    int j = (int)(p % g->h);
    int64_t base = (p / g->h) * N * d + (int64_t)j * dh, nn = (int64_t)N * np;
    const float *A = A_all + p * N * N, *qp = q + base, *kp = k + base, *vp = v + base;
    const float *dOp = dO + base, *nq = norms_all + p * 2 * N, *nk = nq + N;
    const float *w = g->kind == AC_SCORE_ADDITIVE ? param + (int64_t)j * dh : NULL;
    float c = 1.0f / sqrtf((float)dh), temp = g->kind == AC_SCORE_COSINE ? expf(param[j]) : 0.0f;
    /* scratch, as pair_scratch_floats: each buffer's later tenants follow it */
    float *bt = scratch, *at = bt + (int64_t)(dh > 2 ? dh : 2) * np, *dat = at + nn, *gt = dat + nn;
    float *rowdot = bt, *nqp = bt, *rql = bt + np; /* when bt's transpose is read */
    float *sc = at;                                /* when dV is made */
    float *rq = gt + nn, *rk = rq + N;             /* cosine: the diagonal terms of dQ and dK */
    bool causal = g->causal;
    if (pp)
        for (int e = 0; e < param_width(g); e++) pp[e] = 0.0f;
    /* dat = (dO V^T)^T, at = A^T, then G (zero past the causal limit, as A is) */
    transpose_block(dOp, d, N, dh, np, bt);
    product_block(vp, d, N, bt, np, np, dh, dat, np);
    ac_transpose_rows(A, N, N, N, at, np, np);
    /* rowdot_i = sum over m of A_im dA_im: each product rounded (stored into sc, free until the
     * cosine's terms), then summed lane-wise in order of m. at is zero past the causal limit,
     * where those terms add zero. */
    /* rowdot_i = sum over m of A_im dA_im, lane-wise in order of m, each product fused into the
     * sum where the CPU has FMA; at is zero past the causal limit, where terms add zero */
    for (int i = 0; i < np; i++) rowdot[i] = 0.0f;
    for (int m = 0; m < N; m++) {
        const float *am = at + (int64_t)m * np, *dam = dat + (int64_t)m * np;
#pragma omp simd
        for (int i = 0; i < np; i++) rowdot[i] += am[i] * dam[i];
    }
    for (int m = 0; m < N; m++) {
        const float *am = at + (int64_t)m * np, *dam = dat + (int64_t)m * np;
        float *gm = gt + (int64_t)m * np;
#pragma omp simd
        for (int i = 0; i < np; i++) {
            float x = am[i] * (dam[i] - rowdot[i]);
            gm[i] = causal && m > i ? 0.0f : x;
        }
    }
    if (gv) /* dV_m += sum_i A_im dO_i: row m of at holds the weights */
        weighted_sums(gv + base, d, at, np, 1, N, dOp, d, N, dh, true);
    if (g->kind == AC_SCORE_ADDITIVE) {
        additive_pair_backward(qp, kp, d, N, dh, g->causal, gt, np, w, gq ? gq + base : NULL,
                               gk ? gk + base : NULL, pp);
        return;
    }
    /* dot and cosine: scale G into the coefficient matrix a (in place), with the cosine's
     * diagonal terms collected per row (rq) and per column (rk) */
    for (int i = 0; i < N; i++) rq[i] = 0.0f;
    for (int m = 0; m < N; m++) rk[m] = 0.0f;
    if (g->kind == AC_SCORE_DOT) {
        for (int64_t x = 0; x < nn; x++) gt[x] *= c;
    } else {
        /* s recomputed, transposed as gt is, into dat (no longer needed) */
        transpose_block(qp, d, N, dh, np, bt);
        product_block(kp, d, N, bt, np, np, dh, dat, np);
        for (int i = 0; i < np; i++) nqp[i] = i < N ? nq[i] : 1.0f; /* padding lanes: any */
        for (int i = 0; i < np; i++) rql[i] = 0.0f; /* rq by lanes, summed in order of m */
        for (int m = 0; m < N; m++) { /* sc = G T s / D, then b = sc / D in s's place */
            float *sm = sc + (int64_t)m * np, *bm = dat + (int64_t)m * np, nkm = nk[m];
            const float *gm = gt + (int64_t)m * np;
#pragma omp simd
            for (int i = 0; i < np; i++) {
                float D = nqp[i] * nkm + COSINE_EPS;
                float gsc = gm[i] * (temp * bm[i] / D); /* G s T / D, rounded as it is kept */
                float b = gsc / D;
                float r = rql[i] + b * nkm / nqp[i];
                rql[i] = nqp[i] > 0.0f ? r : rql[i];
                sm[i] = gsc;
                bm[i] = b;
            }
        }
        for (int i = 0; i < N; i++) rq[i] = rql[i];
        for (int m = 0; m < N; m++) /* rk in order of i */
            if (nk[m] > 0.0f)
                for (int i = 0; i < N; i++) rk[m] += dat[(int64_t)m * np + i] * nq[i] / nk[m];
        if (pp) { /* dlog_tau = sum of sc: each query's sum over m lane-wise, then in order of i */
            float *per_query = rql; /* free again: rq is copied out */
            for (int i = 0; i < np; i++) per_query[i] = 0.0f;
            for (int m = 0; m < N; m++) {
                const float *sm = sc + (int64_t)m * np;
#pragma omp simd
                for (int i = 0; i < np; i++) per_query[i] += sm[i];
            }
            float dtau = 0.0f;
            for (int i = 0; i < N; i++) dtau += per_query[i];
            pp[0] = dtau;
        }
        for (int m = 0; m < N; m++) { /* a = G T / D */
            float *gm = gt + (int64_t)m * np, nkm = nk[m];
#pragma omp simd
            for (int i = 0; i < np; i++) gm[i] = gm[i] * temp / (nqp[i] * nkm + COSINE_EPS);
        }
    }
    if (gq) { /* G_im = gt[m np + i]: gt read down its columns */
        weighted_sums(gq + base, d, gt, 1, np, N, kp, d, N, dh, true);
        for (int i = 0; i < N; i++)
            if (rq[i] != 0.0f) axpy(gq + base + (int64_t)i * d, -rq[i], qp + (int64_t)i * d, dh);
    }
    if (gk) {
        weighted_sums(gk + base, d, gt, np, 1, N, qp, d, N, dh, true);
        for (int m = 0; m < N; m++)
            if (rk[m] != 0.0f) axpy(gk + base + (int64_t)m * d, -rk[m], kp + (int64_t)m * d, dh);
    }
}

/* Per-thread scratch for the pair kernels, taken from the arena for this call. */
static float *thread_scratch(ac_ctx *ctx, const char *op, int N, int dh, int *threads) {
#ifdef _OPENMP
    *threads = omp_get_max_threads();
#else
    *threads = 1;
#endif
    return ac_op_scratch(ctx, op, *threads * pair_scratch_floats(N, dh));
}

static int thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* O again from the saved weights and v (ac_ctx_done). */
static void attention_recompute(ac_ctx *ctx, ac_node *n) {
    (void)ctx;
    ac_tensor *q = n->in[0], *v = n->in[2];
    attn_geom g = attn_geom_from(q, n->iarg[0], (ac_score_kind)n->iarg[1], n->iarg[2]);
    int64_t pairs = (int64_t)g.ns * g.h, work = pairs * g.N * g.N * g.dh;
    const float *A_all = n->saved, *vd = v->data;
    float *od = n->out->data;
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++) attention_pair_output(&g, p, A_all + p * g.N * g.N, vd, od);
}

static void attention_backward(ac_ctx *ctx, ac_node *n) {
    static const char *const op = "ac_attention";
    ac_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *param = n->n_in > 3 ? n->in[3] : NULL;
    attn_geom g = attn_geom_from(q, n->iarg[0], (ac_score_kind)n->iarg[1], n->iarg[2]);
    float *gq = ac_grad_buffer(ctx, q);
    float *gk = ac_grad_buffer(ctx, k);
    float *gv = ac_grad_buffer(ctx, v);
    float *gparam = param ? ac_grad_buffer(ctx, param) : NULL;
    int N = g.N, dh = g.dh, threads;
    int64_t pairs = (int64_t)g.ns * g.h;
    int part_width = param_width(&g);
    float *part = gparam ? ac_op_scratch(ctx, op, pairs * part_width) : NULL;
    float *scratch = thread_scratch(ctx, op, N, dh, &threads);
    if (ac_ctx_failed(ctx)) return;
    const float *dO = n->out->grad, *A_all = n->saved, *qd = q->data, *kd = k->data, *vd = v->data,
                *pd = param ? param->data : NULL;
    const float *norms_all = A_all + pairs * N * N;
    int64_t work = pairs * N * N * dh, per_thread = pair_scratch_floats(N, dh);
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++)
        attention_pair_backward(&g, p, dO, A_all, norms_all, qd, kd, vd, pd, gq, gk, gv,
                                part ? part + p * part_width : NULL,
                                scratch + thread_index() * per_thread);
    if (gparam)
        for (int64_t p = 0; p < pairs; p++)
            add_row(gparam + (p % g.h) * part_width, part + p * part_width, part_width);
}

ac_tensor *ac_attention(ac_ctx *ctx, ac_tensor *q, ac_tensor *k, ac_tensor *v, int heads,
                        ac_score_kind kind, ac_tensor *param, bool causal, ac_tensor **weights) {
    static const char *const op = "ac_attention";
    if (!q || !k || !v || ac_ctx_failed(ctx)) return NULL;
    if (q->ndim != 3 || !ac_tensor_same_shape(q, k) || !ac_tensor_same_shape(q, v))
        return ac_op_shape_error(ctx, op, "q, k and v must be one shape [ns, N, d]", q,
                                 ac_tensor_same_shape(q, k) ? v : k);
    if (heads < 1 || q->shape[2] % heads != 0)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: d = %d is not divisible by %d heads", op,
                           q->shape[2], heads);
    attn_geom g = attn_geom_from(q, heads, kind, causal);
    int rank = ac_score_param_rank(kind);
    if (rank < 0) return ac_ctx_fail(ctx, AC_ERR_INVALID, "%s: unknown score kind %d", op, kind);
    bool ok_param = rank == 0 ? param == NULL
                              : param && param->ndim == rank && param->shape[0] == heads &&
                                    (rank == 1 || param->shape[1] == g.dh);
    if (!ok_param) {
        static const char *const shapes[] = {"none", "[h]", "[h, dh]"};
        char what[96];
        snprintf(what, sizeof what, "the %s score's parameter must be %s", ac_score_kind_name(kind),
                 shapes[rank]);
        return ac_op_shape_error(ctx, op, what, q, param);
    }
    int N = g.N;
    int64_t pairs = (int64_t)g.ns * heads;
    ac_tensor *o = ac_op_output(ctx, op, 3, q->shape);
    float *saved = o ? ac_op_scratch(ctx, op, pairs * N * N + pairs * 2 * N) : NULL;
    int threads;
    float *scratch = saved ? thread_scratch(ctx, op, N, g.dh, &threads) : NULL;
    if (!scratch) return NULL;
    const float *qd = q->data, *kd = k->data, *vd = v->data, *pd = param ? param->data : NULL;
    float *od = o->data;
    int64_t work = pairs * N * N * g.dh, per_thread = pair_scratch_floats(N, g.dh);
#pragma omp parallel for schedule(static) if (work > AC_PARALLEL_MIN)
    for (int64_t p = 0; p < pairs; p++)
        attention_pair_forward(&g, p, qd, kd, vd, pd, od, saved + p * N * N,
                               saved + pairs * N * N + p * 2 * N,
                               scratch + thread_index() * per_thread);
    ac_tensor *ins[4] = {q, k, v, param};
    ac_node *node = ac_op_record(ctx, op, attention_backward, o, param ? 4 : 3, ins);
    if (node) {
        attn_geom_to_node(&g, node);
        node->saved = saved;
        node->recompute = attention_recompute;
        node->cost = AC_RECOMPUTE_CHEAP;
        node->unread = AC_UNREAD_OUTPUT;
    }
    if (weights) *weights = ac_op_view(ctx, op, 4, (int[]){g.ns, heads, N, N}, saved);
    return ac_ctx_failed(ctx) ? NULL : o;
}
