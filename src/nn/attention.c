/* attention.c - the attention sub-layer of MODEL.md in its four kinds, built from engine ops.
 *
 * With z [S, N, d] and heads of width dh = d / h (head j = columns j*dh .. (j+1)*dh - 1):
 *   Q, K, V = z W^T + b, each reshaped [S, N, h, dh] and permuted to [S, h, N, dh]
 *   dot, gated: s_ik = q_i . k_k / sqrt(dh)
 *   additive:   s_ik = w_a[j] . tanh(q_i + k_k)        (the fused ac_additive_scores kernel)
 *   cosine:     s_ik = exp(tau_j) (q_i . k_k) / (|q_i| |k_k| + 1e-6)
 *   A = softmax_k(s + causal mask); O = A V, heads joined back to [S, N, d]
 *   gated:      O <- O * sigmoid(z Wg^T + bg)
 *   out = O Wo^T + bo
 * Every kind shares the projections, the mask, the softmax, A V and the output projection;
 * only the score function differs.
 */
#include <math.h>

#include "attncast/ops.h"
#include "nn/nn_internal.h"

/* [S, N, d] -> [S, h, N, dh] */
static ac_tensor *split_heads(ac_ctx *ctx, ac_tensor *t, int h) {
    if (!t) return NULL;
    int S = t->shape[0], N = t->shape[1], dh = t->shape[2] / h;
    ac_tensor *r = ac_reshape(ctx, t, 4, (int[]){S, N, h, dh});
    return ac_permute(ctx, r, (int[]){0, 2, 1, 3});
}

/* [S, h, N, dh] -> [S, N, d] */
static ac_tensor *join_heads(ac_ctx *ctx, ac_tensor *t) {
    if (!t) return NULL;
    int S = t->shape[0], h = t->shape[1], N = t->shape[2], dh = t->shape[3];
    ac_tensor *p = ac_permute(ctx, t, (int[]){0, 2, 1, 3});
    return ac_reshape(ctx, p, 3, (int[]){S, N, h * dh});
}

static ac_tensor *scalar(ac_ctx *ctx, float v) {
    ac_tensor *t = ac_tensor_temp(ctx, 1, (int[]){1});
    if (t) t->data[0] = v;
    return t;
}

/* s_ik = exp(tau_j) (q_i . k_k) / (|q_i| |k_k| + 1e-6); returns [S, h, N, N]. */
static ac_tensor *cosine_scores(ac_ctx *ctx, ac_tensor *q, ac_tensor *k, ac_tensor *log_tau) {
    if (!q || !k) return NULL;
    int h = q->shape[1];
    ac_tensor *dot = ac_matmul(ctx, q, k, false, true);
    ac_tensor *qn = ac_sqrt(ctx, ac_sum(ctx, ac_mul(ctx, q, q), -1, true)); /* [S, h, N, 1] */
    ac_tensor *kn = ac_sqrt(ctx, ac_sum(ctx, ac_mul(ctx, k, k), -1, true));
    ac_tensor *norms = ac_matmul(ctx, qn, kn, false, true); /* |q_i| |k_k| */
    ac_tensor *cos = ac_div(ctx, dot, ac_add(ctx, norms, scalar(ctx, 1e-6f)));
    ac_tensor *temp = ac_reshape(ctx, ac_exp(ctx, log_tau), 3, (int[]){h, 1, 1});
    return ac_mul(ctx, cos, temp);
}

ac_tensor *ac_attention_forward(ac_ctx *ctx, const ac_model_spec *spec, const ac_block *blk,
                                ac_tensor *z, ac_tensor **weights) {
    int h = spec->heads, dh = spec->d_model / spec->heads;
    ac_tensor *q = split_heads(ctx, ac_linear(ctx, z, blk->q_w, blk->q_b), h);
    ac_tensor *k = split_heads(ctx, ac_linear(ctx, z, blk->k_w, blk->k_b), h);
    ac_tensor *v = split_heads(ctx, ac_linear(ctx, z, blk->v_w, blk->v_b), h);
    ac_tensor *s = NULL;
    switch (spec->attention) {
    case AC_ATTN_DOT:
    case AC_ATTN_GATED:
        s = ac_scale(ctx, ac_matmul(ctx, q, k, false, true), 1.0f / sqrtf((float)dh));
        break;
    case AC_ATTN_ADDITIVE:
        s = ac_additive_scores(ctx, q, k, blk->score_vec);
        break;
    case AC_ATTN_COSINE:
        s = cosine_scores(ctx, q, k, blk->log_tau);
        break;
    }
    if (!q) return NULL;
    ac_tensor *mask = spec->causal ? ac_causal_mask(ctx, q->shape[2]) : NULL;
    ac_tensor *a = ac_softmax(ctx, s, mask);
    if (weights) *weights = a;
    ac_tensor *o = join_heads(ctx, ac_matmul(ctx, a, v, false, false));
    if (spec->attention == AC_ATTN_GATED)
        o = ac_mul(ctx, o, ac_sigmoid(ctx, ac_linear(ctx, z, blk->gate_w, blk->gate_b)));
    return ac_linear(ctx, o, blk->o_w, blk->o_b);
}
