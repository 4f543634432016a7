/* nn_internal.h - the forecaster's layer structs, shared by forecaster.c (parameters, the
 * forward pass) and attention.c (the attention sub-layer). Not part of the public API. */
#ifndef ATTNCAST_NN_INTERNAL_H
#define ATTNCAST_NN_INTERNAL_H

#include "attncast/forecaster.h"

/* One pre-norm block's parameters (borrowed from the forecaster's list). */
typedef struct ac_block {
    ac_tensor *norm1_w, *norm1_b;
    ac_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    ac_tensor *gate_w, *gate_b; /* gated only */
    ac_tensor *score_vec;       /* additive only: [h, dh] */
    ac_tensor *log_tau;         /* cosine only: [h] */
    ac_tensor *norm2_w, *norm2_b;
    ac_tensor *ff1_w, *ff1_b, *ff2_w, *ff2_b;
} ac_block;

/* The attention sub-layer of MODEL.md step 4 for normalised tokens z [S, N, d]: scores of the
 * block's kind, optional causal mask, softmax, A V, heads joined, the gate for `gated`, and the
 * output projection. Returns [S, N, d] (before dropout and the residual add). */
ac_tensor *ac_attention_forward(ac_ctx *ctx, const ac_model_spec *spec, const ac_block *blk,
                                ac_tensor *z, ac_tensor **weights);
/* weights (optional) receives the softmax output A, [S, h, N, N]. */

#endif
