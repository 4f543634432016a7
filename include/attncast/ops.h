/* ops.h - the differentiable operations of the engine.
 *
 * Every op takes the context, returns a new activation (from the arena, contiguous) and, in
 * grad mode, records its backward on the tape. A NULL input makes the op return NULL; a shape
 * that does not fit sets the context error "ac_<op>: <what> a [..] vs b [..]" and returns NULL.
 *
 * Broadcasting (add, sub, mul, div) follows NumPy: shapes are aligned at the last dimension and
 * a dimension of size 1 (or a missing leading one) stretches to the other's size. Gradients of a
 * broadcast input are summed over the stretched dimensions.
 *
 * Axis arguments may be negative (-1 is the last dimension).
 */
#ifndef ATTNCAST_OPS_H
#define ATTNCAST_OPS_H

#include <stdbool.h>

#include "attncast/autograd.h"
#include "attncast/tensor.h"

/* ---- matrix products (cblas_sgemm with transpose flags; a transposed operand is never
 * copied) ---- */

/* op(a) @ op(b), op = transpose of the last two dims when the flag is set.
 * a: [..., M, K] (or [..., K, M] with trans_a), b: [..., K, N] (or [..., N, K] with trans_b).
 * Leading (batch) dims: equal in both, or absent in one operand (which is then shared by every
 * batch element). Result: [batch..., M, N]. */
ac_tensor *ac_matmul(ac_ctx *ctx, ac_tensor *a, ac_tensor *b, bool trans_a, bool trans_b);

/* The linear map of torch.nn.Linear: x @ weight^T + bias, fused.
 * x: [..., in], weight: [out, in], bias: [out] or NULL. Result: [..., out]. */
ac_tensor *ac_linear(ac_ctx *ctx, ac_tensor *x, ac_tensor *weight, ac_tensor *bias);

/* Where a step's time goes, for benchmarks: while on, every cblas_sgemm that the products above
 * make (forward, backward and recompute) adds its wall time and FLOPs (2 M N K) to process-wide
 * counters, summed over threads. Off by default; on, it costs two clock reads per product. */
typedef struct ac_blas_stats {
    double seconds; /* inside cblas_sgemm */
    double flops;
    long long calls;
} ac_blas_stats;
void ac_blas_stats_enable(bool on);
/* The counters since the last take (or since the program started), then zeroes them. */
ac_blas_stats ac_blas_stats_take(void);

/* ---- elementwise arithmetic with broadcasting ---- */
ac_tensor *ac_add(ac_ctx *ctx, ac_tensor *a, ac_tensor *b);
ac_tensor *ac_sub(ac_ctx *ctx, ac_tensor *a, ac_tensor *b);
ac_tensor *ac_mul(ac_ctx *ctx, ac_tensor *a, ac_tensor *b);
ac_tensor *ac_div(ac_ctx *ctx, ac_tensor *a, ac_tensor *b);
ac_tensor *ac_scale(ac_ctx *ctx, ac_tensor *x, float c); /* c * x */

/* ---- elementwise functions ---- */
ac_tensor *ac_exp(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_log(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_sqrt(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_tanh(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_sigmoid(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_relu(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_gelu(ac_ctx *ctx, ac_tensor *x); /* exact: 0.5 x (1 + erf(x / sqrt 2)) */

/* ---- reductions ---- */
/* Sum / mean over one axis; keepdim leaves that axis with size 1, else it is removed (a
 * 1-D input then gives shape [1]). */
ac_tensor *ac_sum(ac_ctx *ctx, ac_tensor *x, int axis, bool keepdim);
ac_tensor *ac_mean(ac_ctx *ctx, ac_tensor *x, int axis, bool keepdim);
/* Sum / mean of every element: shape [1]. */
ac_tensor *ac_sum_all(ac_ctx *ctx, ac_tensor *x);
ac_tensor *ac_mean_all(ac_ctx *ctx, ac_tensor *x);

/* ---- shape ---- */
/* Same elements, new shape (a view sharing data). One entry may be -1 (inferred). */
ac_tensor *ac_reshape(ac_ctx *ctx, ac_tensor *x, int ndim, const int *shape);
/* Result dim i is input dim perm[i] (a copy in the new order). */
ac_tensor *ac_permute(ac_ctx *ctx, ac_tensor *x, const int *perm);
ac_tensor *ac_transpose(ac_ctx *ctx, ac_tensor *x, int axis0, int axis1);
/* Elements [start, start + len) along axis. */
ac_tensor *ac_slice(ac_ctx *ctx, ac_tensor *x, int axis, int start, int len);
/* n tensors equal in every dim except axis, joined along it. */
ac_tensor *ac_concat(ac_ctx *ctx, ac_tensor *const *xs, int n, int axis);
/* Patching of MODEL.md: x [B, L, Cin] -> [B, N, P*Cin], N = floor((L - P) / stride) + 1, token
 * n being rows n*stride .. n*stride + P - 1 of x flattened time-major. Overlapping patches
 * (stride < P) send each row's gradient back summed over the tokens that contain it. */
ac_tensor *ac_patches(ac_ctx *ctx, ac_tensor *x, int patch_len, int stride);

/* ---- neural-network kernels (fused forward and backward) ---- */
/* Softmax over the last axis, numerically stable. mask (optional, never differentiated) has the
 * shape of x's last two dims [R, C] (or [C] for 1-D x) and is added to the scores first; use
 * -INFINITY to forbid a position. A row whose every position is forbidden gives zeros. */
ac_tensor *ac_softmax(ac_ctx *ctx, ac_tensor *x, const ac_tensor *mask);
/* An [n, n] additive mask with 0 on and below the diagonal and -inf above (no grad). */
ac_tensor *ac_causal_mask(ac_ctx *ctx, int n);
/* LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias, var biased.
 * weight, bias: [last] (either may be NULL for 1 / 0). */
ac_tensor *ac_layer_norm(ac_ctx *ctx, ac_tensor *x, ac_tensor *weight, ac_tensor *bias, float eps);
/* The score functions of the fused attention, X(ID, "name", rank): the list that makes
 * ac_score_kind (AC_SCORE_ID), AC_SCORE_COUNT and each score's parameter, a tensor of that rank:
 * 0 none, 1 one value per head [heads], 2 one vector per head [heads, dh]. With c = 1/sqrt(dh):
 *   dot       s_ik = c q_i . k_k
 *   cosine    s_ik = exp(param[j]) (q_i . k_k) / (|q_i| |k_k| + 1e-6)
 *   additive  s_ik = param[j] . tanh(q_i + k_k)
 * A new score is a row here plus its forward and backward branches in ops_attention.c. */
#define AC_SCORE_KINDS(X)                                                                          \
    X(DOT, "dot", 0)                                                                               \
    X(COSINE, "cosine", 1)                                                                         \
    X(ADDITIVE, "additive", 2)

#define AC_SCORE_ENUM_(id, name, rank) AC_SCORE_##id,
typedef enum ac_score_kind { AC_SCORE_KINDS(AC_SCORE_ENUM_) } ac_score_kind;
#undef AC_SCORE_ENUM_
#define AC_SCORE_ONE_(id, name, rank) +1
enum { AC_SCORE_COUNT = 0 AC_SCORE_KINDS(AC_SCORE_ONE_) };
#undef AC_SCORE_ONE_
/* A score's name, and the rank of its parameter (0, 1 or 2 as above; -1 out of range). */
const char *ac_score_kind_name(ac_score_kind kind);
int ac_score_param_rank(ac_score_kind kind);
/* Multi-head attention of MODEL.md in one fused op: q, k, v [ns, N, d] (the projections of ns
 * series), heads of width dh = d / heads read in place as column blocks, scores of the given
 * kind, softmax over keys (keys after the query forbidden when causal), weights times v. Result
 * [ns, N, d], heads side by side. param: the score's parameter (NULL for a rank-0 score).
 * weights (optional) receives the attention weights A [ns, heads, N, N], a view without
 * gradient. */
ac_tensor *ac_attention(ac_ctx *ctx, ac_tensor *q, ac_tensor *k, ac_tensor *v, int heads,
                        ac_score_kind kind, ac_tensor *param, bool causal, ac_tensor **weights);
/* Inverted dropout: zeroes each element with probability rate (drawn from the context's rng)
 * and scales the rest by 1 / (1 - rate). The identity in no-grad mode or when rate == 0. */
ac_tensor *ac_dropout(ac_ctx *ctx, ac_tensor *x, float rate);
/* base + ac_dropout(x, rate) as one op (same shapes, same draws from the rng), which keeps only
 * a one-bit mask for backward instead of the dropped-out copy of x. ac_add in no-grad mode or
 * when rate == 0. */
ac_tensor *ac_residual_dropout(ac_ctx *ctx, ac_tensor *base, ac_tensor *x, float rate);

/* ---- losses: mean over every element of pred and target (same shape); shape [1] ---- */
ac_tensor *ac_mse_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target);
ac_tensor *ac_mae_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target);
/* 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta); d = pred - target. */
ac_tensor *ac_huber_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target, float delta);
/* The pinball (quantile) loss of pred [..., count] against target [...] (pred's shape without
 * its last axis) at levels[count], each in (0, 1): the mean over every element of pred of
 * max(q e, (q - 1) e), e = target - pred[..., j], q = levels[j]. */
ac_tensor *ac_pinball_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target, const float *levels,
                           int count);

#endif
