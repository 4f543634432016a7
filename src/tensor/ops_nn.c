/* ops_nn.c - fused neural-network kernels: softmax (with an additive mask), the causal mask,
 * layer norm and dropout. Each is a plain loop over contiguous rows of the last axis, rows in
 * parallel; accumulations across rows (layer-norm weight and bias gradients) run in row order
 * so results do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "attncast/ops.h"
#include "fastmath.h"
#include "op_internal.h"
#include "transpose.h"

/* ---- softmax over the last axis ----
 * y_j = exp(v_j - max v) / sum_k exp(v_k - max v), v = x + mask
 * dx_j = y_j (dy_j - sum_k dy_k y_k) */

static void softmax_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    const float *y = n->out->data, *g = n->out->grad;
    int C = x->shape[x->ndim - 1];
    int64_t rows = ac_op_outer(x, 1);
#pragma omp parallel for schedule(static) if (x->size > AC_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * C, *gr = g + r * C;
        float *dr = gx + r * C;
        float dot = 0.0f;
        for (int j = 0; j < C; j++) dot += gr[j] * yr[j];
        for (int j = 0; j < C; j++) dr[j] += yr[j] * (gr[j] - dot);
    }
}

/* One row: y = softmax(x + m) (m may be NULL); all zero when every position is forbidden. */
AC_VECTOR_CLONES
static void softmax_row(const float *restrict xr, const float *restrict mr, float *restrict yr,
                        int C) {
    float mx = -INFINITY;
    for (int j = 0; j < C; j++) {
        yr[j] = mr ? xr[j] + mr[j] : xr[j];
        if (yr[j] > mx) mx = yr[j];
    }
    if (mx == -INFINITY) {
        memset(yr, 0, (size_t)C * sizeof(float));
        return;
    }
    ac_softmax_from_max(yr, C, mx);
}

ac_tensor *ac_softmax(ac_ctx *ctx, ac_tensor *x, const ac_tensor *mask) {
    static const char *const op = "ac_softmax";
    if (!x || ac_ctx_failed(ctx)) return NULL;
    int C = x->shape[x->ndim - 1];
    int R = x->ndim >= 2 ? x->shape[x->ndim - 2] : 1;
    if (mask) {
        bool ok = x->ndim >= 2 ? (mask->ndim == 2 && mask->shape[0] == R && mask->shape[1] == C)
                               : (mask->ndim == 1 && mask->shape[0] == C);
        if (!ok)
            return ac_op_shape_error(ctx, op, "mask must match the last two dims of x", x, mask);
    }
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, x->shape);
    if (!y) return NULL;
    int64_t rows = ac_op_outer(x, 1);
    const float *xd = x->data, *md = mask ? mask->data : NULL;
    float *yd = y->data;
#pragma omp parallel for schedule(static) if (x->size > AC_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++)
        softmax_row(xd + r * C, md ? md + (r % R) * C : NULL, yd + r * C, C);
    ac_op_record(ctx, op, softmax_backward, y, 1, &x);
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_causal_mask(ac_ctx *ctx, int n) {
    if (ac_ctx_failed(ctx)) return NULL;
    if (n < 1) return ac_ctx_fail(ctx, AC_ERR_SHAPE, "ac_causal_mask: size %d < 1", n);
    ac_tensor *m = ac_op_output(ctx, "ac_causal_mask", 2, (int[]){n, n});
    if (!m) return NULL;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) m->data[(int64_t)i * n + k] = k > i ? -INFINITY : 0.0f;
    return m;
}

/* ---- layer norm over the last axis ----
 * xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), y = xhat * w + b
 * dxhat = dy * w;  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 * dw += sum_rows dy * xhat;  db += sum_rows dy
 * saved: mean and rstd per row. */

/* y = (x - m) s w + b for one row whose mean m and rstd s are known (w, b may be NULL). */
AC_VECTOR_CLONES
static void layer_norm_row_apply(const float *restrict x, const float *restrict w,
                                 const float *restrict b, int D, float m, float s,
                                 float *restrict y) {
    if (w && b) {
#pragma omp simd
        for (int j = 0; j < D; j++) y[j] = (x[j] - m) * s * w[j] + b[j];
    } else {
#pragma omp simd
        for (int j = 0; j < D; j++) y[j] = (x[j] - m) * s * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
    }
}

/* A row's sums run in LN_LANES partial sums, lane e adding elements e, e + LN_LANES, ... in
 * order, and the lanes are then added pairwise: a fixed order on every CPU. LN_BLOCK rows are
 * finished together: their partial sums are transposed so that rows lie in vector lanes, the
 * pairwise additions run down the columns (the same pairs, in the same order, as for one row)
 * and the mean, the variance's square root and its reciprocal are one vector operation for
 * the block: one row at a time, each row's statistics waited on a chain of scalar additions,
 * a division and a square root that its short row could not hide. */
#define LN_LANES 16
#define LN_BLOCK 16

/* tot[r] = the pairwise total of part[r LN_LANES + e] over e, for r < LN_BLOCK (tt: scratch). */
AC_ALWAYS_INLINE
static inline void ln_block_totals(const float *restrict part, float *restrict tt,
                                   float *restrict tot) {
    ac_transpose_rows(part, LN_LANES, LN_BLOCK, LN_LANES, tt, LN_BLOCK, LN_BLOCK);
    for (int w = LN_LANES / 2; w >= 1; w /= 2)
        for (int e = 0; e < w; e++)
#pragma omp simd
            for (int r = 0; r < LN_BLOCK; r++) tt[e * LN_BLOCK + r] += tt[(e + w) * LN_BLOCK + r];
    for (int r = 0; r < LN_BLOCK; r++) tot[r] = tt[r];
}

/* part[e] = the lane sums of f(j) over the row's D elements (f an expression of j). */
#define LN_LANE_SUMS(part, D, f)                                                                   \
    do {                                                                                           \
        int j0_ = 0;                                                                               \
        for (int e = 0; e < LN_LANES; e++) (part)[e] = 0.0f;                                       \
        for (; j0_ + LN_LANES <= (D); j0_ += LN_LANES)                                             \
            _Pragma("omp simd") for (int e = 0; e < LN_LANES; e++) {                               \
                int j = j0_ + e;                                                                   \
                (part)[e] += (f);                                                                  \
            }                                                                                      \
        for (int e = 0; j0_ + e < (D); e++) {                                                      \
            int j = j0_ + e;                                                                       \
            (part)[e] += (f);                                                                      \
        }                                                                                          \
    } while (0)

/* The forward of rows r0 .. r0 + nr - 1 (nr <= LN_BLOCK): mean, rstd, then y. */
AC_VECTOR_CLONES
static void layer_norm_block(const float *restrict xd, const float *restrict w,
                             const float *restrict b, int64_t r0, int nr, int D, float eps,
                             float *restrict yd, float *restrict mean, float *restrict rstd) {
    float part[LN_BLOCK * LN_LANES] = {0}, tt[LN_BLOCK * LN_LANES], m[LN_BLOCK], s[LN_BLOCK];
    for (int r = 0; r < nr; r++) {
        const float *x = xd + (r0 + r) * D;
        LN_LANE_SUMS(part + r * LN_LANES, D, x[j]);
    }
    ln_block_totals(part, tt, m);
    for (int r = 0; r < LN_BLOCK; r++) m[r] /= (float)D;
    for (int r = 0; r < nr; r++) {
        const float *x = xd + (r0 + r) * D;
        float mr = m[r];
        LN_LANE_SUMS(part + r * LN_LANES, D, (x[j] - mr) * (x[j] - mr));
    }
    ln_block_totals(part, tt, s);
    for (int r = 0; r < LN_BLOCK; r++) s[r] = 1.0f / sqrtf(s[r] / (float)D + eps);
    for (int r = 0; r < nr; r++) {
        layer_norm_row_apply(xd + (r0 + r) * D, w, b, D, m[r], s[r], yd + (r0 + r) * D);
        mean[r0 + r] = m[r];
        rstd[r0 + r] = s[r];
    }
}

/* dx += rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy w, for rows
 * r0 .. r0 + nr - 1 (nr <= LN_BLOCK). */
AC_VECTOR_CLONES
static void layer_norm_block_backward(const float *restrict xd, const float *restrict gd,
                                      const float *restrict w, int64_t r0, int nr, int D,
                                      const float *restrict mean, const float *restrict rstd,
                                      float *restrict dxd) {
    float partA[LN_BLOCK * LN_LANES] = {0}, partC[LN_BLOCK * LN_LANES] = {0};
    float tt[LN_BLOCK * LN_LANES], a[LN_BLOCK], c[LN_BLOCK];
    for (int r = 0; r < nr; r++) {
        const float *x = xd + (r0 + r) * D, *g = gd + (r0 + r) * D;
        float m = mean[r0 + r], s = rstd[r0 + r];
        LN_LANE_SUMS(partA + r * LN_LANES, D, w ? g[j] * w[j] : g[j]);
        LN_LANE_SUMS(partC + r * LN_LANES, D, (w ? g[j] * w[j] : g[j]) * (x[j] - m) * s);
    }
    ln_block_totals(partA, tt, a);
    ln_block_totals(partC, tt, c);
    for (int r = 0; r < nr; r++) {
        const float *x = xd + (r0 + r) * D, *g = gd + (r0 + r) * D;
        float m = mean[r0 + r], s = rstd[r0 + r], ar = a[r] / (float)D, cr = c[r] / (float)D;
        float *dx = dxd + (r0 + r) * D;
#pragma omp simd
        for (int j = 0; j < D; j++) {
            float dxh = w ? g[j] * w[j] : g[j];
            dx[j] += s * (dxh - ar - (x[j] - m) * s * cr);
        }
    }
}

/* dw += sum over rows of dy xhat, db += sum over rows of dy, rows in order (thread count free). */
AC_VECTOR_CLONES
static void layer_norm_param_grads(const float *restrict x, const float *restrict g,
                                   const float *mean, const float *rstd, int64_t rows, int D,
                                   float *restrict gw, float *restrict gb) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D, *gr = g + r * D;
        float m = mean[r], s = rstd[r];
        if (gw)
#pragma omp simd
            for (int j = 0; j < D; j++) gw[j] += gr[j] * (xr[j] - m) * s;
        if (gb)
#pragma omp simd
            for (int j = 0; j < D; j++) gb[j] += gr[j];
    }
}

static void layer_norm_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    ac_tensor *w = n->iarg[0] ? n->in[1] : NULL;
    ac_tensor *b = n->iarg[1] ? n->in[n->n_in - 1] : NULL;
    float *gx = ac_grad_buffer(ctx, x);
    float *gw = w ? ac_grad_buffer(ctx, w) : NULL;
    float *gb = b ? ac_grad_buffer(ctx, b) : NULL;
    if (ac_ctx_failed(ctx)) return;
    int D = x->shape[x->ndim - 1];
    int64_t rows = ac_op_outer(x, 1);
    const float *g = n->out->grad, *xd = x->data, *wd = w ? w->data : NULL;
    const float *mean = n->saved, *rstd = n->saved + rows;
    if (gx) {
        int64_t blocks = (rows + LN_BLOCK - 1) / LN_BLOCK;
#pragma omp parallel for schedule(static) if (x->size > AC_PARALLEL_MIN)
        for (int64_t k = 0; k < blocks; k++) {
            int64_t r0 = k * LN_BLOCK;
            int nr = rows - r0 < LN_BLOCK ? (int)(rows - r0) : LN_BLOCK;
            layer_norm_block_backward(xd, g, wd, r0, nr, D, mean, rstd, gx);
        }
    }
    if (gw || gb) layer_norm_param_grads(xd, g, mean, rstd, rows, D, gw, gb);
}

/* The output again from x and the saved statistics (ac_ctx_done). */
static void layer_norm_recompute(ac_ctx *ctx, ac_node *n) {
    (void)ctx;
    ac_tensor *x = n->in[0];
    const float *wd = n->iarg[0] ? n->in[1]->data : NULL;
    const float *bd = n->iarg[1] ? n->in[n->n_in - 1]->data : NULL;
    int D = x->shape[x->ndim - 1];
    int64_t rows = ac_op_outer(x, 1);
    const float *xd = x->data, *mean = n->saved, *rstd = n->saved + rows;
    float *yd = n->out->data;
#pragma omp parallel for schedule(static) if (x->size > AC_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++)
        layer_norm_row_apply(xd + r * D, wd, bd, D, mean[r], rstd[r], yd + r * D);
}

ac_tensor *ac_layer_norm(ac_ctx *ctx, ac_tensor *x, ac_tensor *weight, ac_tensor *bias, float eps) {
    static const char *const op = "ac_layer_norm";
    if (!x || ac_ctx_failed(ctx)) return NULL;
    int D = x->shape[x->ndim - 1];
    if (weight && (weight->ndim != 1 || weight->shape[0] != D))
        return ac_op_shape_error(ctx, op, "weight must be [last dim of x]", x, weight);
    if (bias && (bias->ndim != 1 || bias->shape[0] != D))
        return ac_op_shape_error(ctx, op, "bias must be [last dim of x]", x, bias);
    if (!(eps > 0.0f))
        return ac_ctx_fail(ctx, AC_ERR_INVALID, "%s: eps must be positive, got %g", op,
                           (double)eps);
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, x->shape);
    if (!y) return NULL;
    int64_t rows = ac_op_outer(x, 1);
    float *stats = ac_op_scratch(ctx, op, 2 * rows);
    if (!stats) return NULL;
    const float *xd = x->data, *wd = weight ? weight->data : NULL, *bd = bias ? bias->data : NULL;
    float *yd = y->data;
    int64_t blocks = (rows + LN_BLOCK - 1) / LN_BLOCK;
#pragma omp parallel for schedule(static) if (x->size > AC_PARALLEL_MIN)
    for (int64_t k = 0; k < blocks; k++) {
        int64_t r0 = k * LN_BLOCK;
        int nr = rows - r0 < LN_BLOCK ? (int)(rows - r0) : LN_BLOCK;
        layer_norm_block(xd, wd, bd, r0, nr, D, eps, yd, stats, stats + rows);
    }
    ac_tensor *ins[3];
    int n_in = 0;
    ins[n_in++] = x;
    if (weight) ins[n_in++] = weight;
    if (bias) ins[n_in++] = bias;
    ac_node *n = ac_op_record(ctx, op, layer_norm_backward, y, n_in, ins);
    if (n) {
        n->iarg[0] = weight != NULL;
        n->iarg[1] = bias != NULL;
        n->saved = stats;
        n->recompute = layer_norm_recompute;
        n->cost = AC_RECOMPUTE_CHEAP;
        n->unread = AC_UNREAD_OUTPUT;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

/* ---- dropout: y = x * m, m_i = 0 with probability p else 1 / (1 - p); dx = dy * m ----
 * The mask is kept for backward as one bit per element (a kept element is a set bit). Element i
 * draws the generator's next 32-bit output u and is dropped when (u >> 8) < ceil(p 2^24), which
 * is exactly ac_rng_uniform() < p without the float conversion. On a batch slice
 * (ac_ctx_set_batch_slice) the draws of the other windows are skipped, so each window gets the
 * mask it gets in the whole batch. */

typedef uint32_t mask_word;
#define MASK_BITS 32

static int64_t mask_words(int64_t n) {
    return (n + MASK_BITS - 1) / MASK_BITS;
}

#define DRAW_WORDS 64 /* mask words drawn per call of the generator */

/* Draws the keep-mask of n elements into words (the arena's floats hold them). */
AC_VECTOR_CLONES
static void draw_keep_mask(ac_rng *rng, int64_t n, float rate, mask_word *words) {
    uint32_t drop_below = (uint32_t)ceilf(rate * 16777216.0f);
    uint32_t u[DRAW_WORDS * MASK_BITS];
    for (int64_t w0 = 0; w0 < mask_words(n); w0 += DRAW_WORDS) {
        int64_t first = w0 * MASK_BITS, left = n - first;
        int64_t count = left < DRAW_WORDS * MASK_BITS ? left : DRAW_WORDS * MASK_BITS;
        ac_rng_fill_u32(rng, u, (size_t)count);
        for (int64_t w = 0; w * MASK_BITS < count; w++) {
            int64_t bits_here =
                count - w * MASK_BITS < MASK_BITS ? count - w * MASK_BITS : MASK_BITS;
            const uint32_t *uw = u + w * MASK_BITS;
            mask_word bits = 0;
#pragma omp simd reduction(| : bits)
            for (int64_t b = 0; b < bits_here; b++)
                bits |= (mask_word)((uw[b] >> 8) >= drop_below) << b;
            words[w0 + w] = bits;
        }
    }
}

/* Words [w0, w1) of apply_keep_mask, all full. */
AC_VECTOR_CLONES
static void keep_mask_span(const mask_word *words, int64_t w0, int64_t w1, float scale,
                           const float *restrict in, const float *restrict base,
                           float *restrict out, bool accumulate) {
    for (int64_t w = w0; w < w1; w++) {
        mask_word bits = words[w];
        const float *x = in + w * MASK_BITS;
        float *y = out + w * MASK_BITS;
        if (base) {
            const float *z = base + w * MASK_BITS;
#pragma omp simd
            for (int b = 0; b < MASK_BITS; b++)
                y[b] = z[b] + ((bits >> b) & 1u ? scale * x[b] : 0.0f);
        } else if (accumulate) {
#pragma omp simd
            for (int b = 0; b < MASK_BITS; b++) y[b] += (bits >> b) & 1u ? scale * x[b] : 0.0f;
        } else {
#pragma omp simd
            for (int b = 0; b < MASK_BITS; b++) y[b] = (bits >> b) & 1u ? scale * x[b] : 0.0f;
        }
    }
}

#define MASK_SPAN 256 /* words a thread takes at a time */

/* out_i = [base_i +] (keep_i ? scale * in_i : 0) for n elements, or with accumulate (and no
 * base) out_i += the same. */
static void apply_keep_mask(const mask_word *words, int64_t n, float scale, const float *in,
                            const float *base, float *out, bool accumulate) {
    int64_t full = n / MASK_BITS, spans = (full + MASK_SPAN - 1) / MASK_SPAN;
#pragma omp parallel for schedule(static) if (n > AC_PARALLEL_MIN)
    for (int64_t s = 0; s < spans; s++) {
        int64_t w1 = (s + 1) * MASK_SPAN < full ? (s + 1) * MASK_SPAN : full;
        keep_mask_span(words, s * MASK_SPAN, w1, scale, in, base, out, accumulate);
    }
    for (int64_t i = full * MASK_BITS; i < n; i++) { /* the last, partial word */
        float v = (words[full] >> (i - full * MASK_BITS)) & 1u ? scale * in[i] : 0.0f;
        out[i] = base ? base[i] + v : accumulate ? out[i] + v : v;
    }
}

/* The arena floats that hold a mask of n bits. */
static mask_word *mask_scratch(ac_ctx *ctx, const char *op, int64_t n) {
    int64_t floats = mask_words(n) * (int64_t)(sizeof(mask_word) / sizeof(float));
    return (mask_word *)(void *)ac_op_scratch(ctx, op, floats);
}

/* Draws x's keep-mask from the context's rng into a new mask: on a slice of a global batch, the
 * draws of the windows before the slice are skipped first and those after it last, one draw
 * per element as on the whole batch. NULL (and a context error) on failure. */
static mask_word *draw_mask_for(ac_ctx *ctx, const char *op, const ac_tensor *x, float rate) {
    int first = 0, count = 0, total = 0;
    uint64_t before = 0, after = 0;
    if (ac_op_batch_slice(ctx, &first, &count, &total)) {
        if (count <= 0 || x->shape[0] % count != 0)
            return ac_op_shape_error(
                ctx, op, "leading axis is not a whole number of the slice's windows", x, NULL);
        uint64_t per_window = (uint64_t)x->size / (uint64_t)count;
        before = per_window * (uint64_t)first;
        after = per_window * (uint64_t)(total - first - count);
    }
    mask_word *mask = mask_scratch(ctx, op, x->size);
    if (!mask) return NULL;
    ac_rng *rng = ac_ctx_rng(ctx);
    ac_rng_advance(rng, before);
    draw_keep_mask(rng, x->size, rate, mask);
    ac_rng_advance(rng, after);
    return mask;
}

static void dropout_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *x = n->in[0];
    float *gx = ac_grad_buffer(ctx, x);
    if (!gx) return;
    apply_keep_mask((const mask_word *)(void *)n->saved, x->size, n->farg[0], n->out->grad, NULL,
                    gx, true);
}

static const char *dropout_check(ac_ctx *ctx, const char *op, float rate) {
    if (!(rate >= 0.0f && rate < 1.0f))
        return ac_ctx_fail(ctx, AC_ERR_INVALID, "%s: rate must be in [0, 1), got %g", op,
                           (double)rate);
    if (rate > 0.0f && ac_ctx_grad_enabled(ctx) && !ac_ctx_rng(ctx))
        return ac_ctx_fail(ctx, AC_ERR_STATE, "%s: no rng set on the context (ac_ctx_set_rng)", op);
    return op;
}

ac_tensor *ac_dropout(ac_ctx *ctx, ac_tensor *x, float rate) {
    static const char *const op = "ac_dropout";
    if (!x || ac_ctx_failed(ctx) || !dropout_check(ctx, op, rate)) return NULL;
    if (rate == 0.0f || !ac_ctx_grad_enabled(ctx)) return x;
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, x->shape);
    mask_word *mask = y ? draw_mask_for(ctx, op, x, rate) : NULL;
    if (!mask) return NULL;
    float keep = 1.0f / (1.0f - rate);
    apply_keep_mask(mask, x->size, keep, x->data, NULL, y->data, false);
    ac_node *n = ac_op_record(ctx, op, dropout_backward, y, 1, &x);
    if (n) {
        n->saved = (float *)(void *)mask;
        n->farg[0] = keep;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

/* ---- residual dropout: y = base + x * m (m as in dropout); dbase = dy, dx = dy * m ----
 * One op instead of dropout then add: the dropped-out x is never stored. */

static void residual_dropout_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *base = n->in[0], *x = n->in[1];
    const float *g = n->out->grad;
    bool fresh;
    float *gb = ac_grad_buffer_fresh(ctx, base, &fresh);
    if (gb && fresh)
        memcpy(gb, g, (size_t)base->size * sizeof(float));
    else if (gb)
        for (int64_t i = 0; i < base->size; i++) gb[i] += g[i];
    float *gx = ac_grad_buffer_fresh(ctx, x, &fresh);
    if (gx)
        apply_keep_mask((const mask_word *)(void *)n->saved, x->size, n->farg[0], g, NULL, gx,
                        !fresh);
}

ac_tensor *ac_residual_dropout(ac_ctx *ctx, ac_tensor *base, ac_tensor *x, float rate) {
    static const char *const op = "ac_residual_dropout";
    if (!base || !x || ac_ctx_failed(ctx) || !dropout_check(ctx, op, rate)) return NULL;
    if (rate == 0.0f || !ac_ctx_grad_enabled(ctx)) return ac_add(ctx, base, x);
    if (!ac_tensor_same_shape(base, x)) return ac_op_shape_error(ctx, op, "shapes differ", base, x);
    ac_tensor *y = ac_op_output(ctx, op, x->ndim, x->shape);
    mask_word *mask = y ? draw_mask_for(ctx, op, x, rate) : NULL;
    if (!mask) return NULL;
    float keep = 1.0f / (1.0f - rate);
    apply_keep_mask(mask, x->size, keep, x->data, base->data, y->data, false);
    ac_node *n = ac_op_record(ctx, op, residual_dropout_backward, y, 2, (ac_tensor *[]){base, x});
    if (n) {
        n->unread = AC_UNREAD_ALL; /* backward reads only the mask and dy */
        n->saved = (float *)(void *)mask;
        n->farg[0] = keep;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}
