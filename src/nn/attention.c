/* attention.c - the attention sub-layer of MODEL.md, built from engine ops, and the table of
 * attention kinds: what each kind adds to the block they all share.
 *
 * With z [ns, N, d] (ns series of N tokens) and heads of width dh = d / h (head j = columns
 * j*dh .. (j+1)*dh - 1):
 *   Q, K, V = z W^T + b, each [ns, N, d]
 *   s_ik = score(q_i, k_k), the kind's score function (AC_SCORE_KINDS in ops.h):
 *     dot (dot, gated): q_i . k_k / sqrt(dh)
 *     additive:         w_a[j] . tanh(q_i + k_k)
 *     cosine:           exp(tau_j) (q_i . k_k) / (|q_i| |k_k| + 1e-6)
 *   A = softmax_k(s + causal mask); O = A V, heads joined back to [ns, N, d]
 *   with a gate (gated): O <- O * sigmoid(z Wg^T + bg)
 *   out = O Wo^T + bo
 * Every kind shares the projections, the mask, the softmax, A V and the output projection; a
 * kind is a score function (with its parameter) and whether a gate follows, so the middle is one
 * fused op (ac_attention, in src/tensor/ops_attention.c) that reads the heads in place and takes
 * the score kind. docs/attention-kinds.md says how to add a kind.
 */
#include "nn/nn_internal.h"

#define LOG_10 2.302585092994045684 /* cosine's initial log_tau, log(10) */

/* ---- the attention kinds: one row each, in the order of AC_ATTENTION_KINDS ---- */

static const ac_attention_desc kinds[] = {
    [AC_ATTN_ADDITIVE] = {AC_SCORE_ADDITIVE, "score_vec", {AC_INIT_NORMAL, 0.02f}, false},
    [AC_ATTN_DOT] = {AC_SCORE_DOT, NULL, {AC_INIT_CONST, 0.0f}, false},
    [AC_ATTN_GATED] = {AC_SCORE_DOT, NULL, {AC_INIT_CONST, 0.0f}, true},
    [AC_ATTN_COSINE] = {AC_SCORE_COSINE, "log_tau", {AC_INIT_CONST, (float)LOG_10}, false},
};
_Static_assert(sizeof kinds / sizeof kinds[0] == AC_ATTN_COUNT,
               "one row per attention kind of AC_ATTENTION_KINDS");

const ac_attention_desc *ac_attention_desc_of(ac_attention_kind kind) {
    return (unsigned)kind < AC_ATTN_COUNT ? &kinds[kind] : NULL;
}

int ac_attention_kind_projections(ac_attention_kind kind) {
    const ac_attention_desc *k = ac_attention_desc_of(kind);
    return k ? 4 + k->gate : 0;
}

/* ---- the sub-layer ---- */

ac_tensor *ac_attention_forward(ac_ctx *ctx, const ac_model_spec *spec, const ac_block *blk,
                                ac_tensor *z, ac_tensor **weights) {
    ac_tensor *q = ac_linear(ctx, z, blk->q_w, blk->q_b);
    ac_tensor *k = ac_linear(ctx, z, blk->k_w, blk->k_b);
    ac_tensor *v = ac_linear(ctx, z, blk->v_w, blk->v_b);
    const ac_attention_desc *kind = &kinds[spec->attention]; /* checked by ac_model_spec_check */
    ac_tensor *o = ac_attention(ctx, q, k, v, spec->heads, kind->score, blk->score_param,
                                spec->causal, weights);
    ac_tensor *gated = o;
    if (kind->gate) {
        ac_tensor *gate_in = ac_linear(ctx, z, blk->gate_w, blk->gate_b);
        gated = ac_mul(ctx, o, ac_sigmoid(ctx, gate_in));
        ac_ctx_done(ctx, gate_in); /* as o and gated below */
    }
    ac_tensor *out = ac_linear(ctx, gated, blk->o_w, blk->o_b);
    /* done here rather than with the rest of the sub-layer (ac_ctx_done_since), so that the
     * output projection and the residual sum take their buffers: the gated kind's training
     * peak would otherwise grow by two buffers */
    ac_ctx_done(ctx, o);
    if (gated != o) ac_ctx_done(ctx, gated);
    return out;
}
