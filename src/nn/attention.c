/* attention.c - the attention sub-layer of MODEL.md in its four kinds, built from engine ops.
 *
 * With z [S, N, d] and heads of width dh = d / h (head j = columns j*dh .. (j+1)*dh - 1):
 *   Q, K, V = z W^T + b, each [S, N, d]
 *   dot, gated: s_ik = q_i . k_k / sqrt(dh)
 *   additive:   s_ik = w_a[j] . tanh(q_i + k_k)
 *   cosine:     s_ik = exp(tau_j) (q_i . k_k) / (|q_i| |k_k| + 1e-6)
 *   A = softmax_k(s + causal mask); O = A V, heads joined back to [S, N, d]
 *   gated:      O <- O * sigmoid(z Wg^T + bg)
 *   out = O Wo^T + bo
 * Every kind shares the projections, the mask, the softmax, A V and the output projection;
 * only the score function differs, so the middle is one fused op (ac_attention, in
 * src/tensor/ops_attention.c) that reads the heads in place and takes the score kind.
 */
#include "attncast/ops.h"
#include "nn/nn_internal.h"

/* The score of each attention kind, as the fused op names it, and its parameter. */
static ac_score_kind score_kind(const ac_model_spec *spec, const ac_block *blk, ac_tensor **param) {
    switch (spec->attention) {
    case AC_ATTN_ADDITIVE:
        *param = blk->score_vec;
        return AC_SCORE_ADDITIVE;
    case AC_ATTN_COSINE:
        *param = blk->log_tau;
        return AC_SCORE_COSINE;
    case AC_ATTN_DOT:
    case AC_ATTN_GATED:
        break;
    }
    *param = NULL;
    return AC_SCORE_DOT;
}

ac_tensor *ac_attention_forward(ac_ctx *ctx, const ac_model_spec *spec, const ac_block *blk,
                                ac_tensor *z, ac_tensor **weights) {
    ac_tensor *q = ac_linear(ctx, z, blk->q_w, blk->q_b);
    ac_tensor *k = ac_linear(ctx, z, blk->k_w, blk->k_b);
    ac_tensor *v = ac_linear(ctx, z, blk->v_w, blk->v_b);
    ac_tensor *param;
    ac_score_kind kind = score_kind(spec, blk, &param);
    ac_tensor *o = ac_attention(ctx, q, k, v, spec->heads, kind, param, spec->causal, weights);
    /* read by the attention's backward, then dead */
    ac_ctx_release_after_use(ctx, q);
    ac_ctx_release_after_use(ctx, k);
    ac_ctx_release_after_use(ctx, v);
    ac_tensor *gated = o;
    if (spec->attention == AC_ATTN_GATED) {
        ac_tensor *gate_in = ac_linear(ctx, z, blk->gate_w, blk->gate_b);
        gated = ac_mul(ctx, o, ac_sigmoid(ctx, gate_in));
        ac_ctx_release(ctx, gate_in); /* the sigmoid's backward reads only its output */
    }
    ac_tensor *out = ac_linear(ctx, gated, blk->o_w, blk->o_b);
    ac_ctx_release(ctx, o);                     /* backward recomputes it from the weights and v */
    if (gated != o) ac_ctx_release(ctx, gated); /* and this from o and the gate */
    return out;
}
