/* nn_internal.h - the forecaster's layer structs and the attention kinds' table, shared by
 * forecaster.c (parameters, the forward pass) and attention.c (the attention sub-layer). Not
 * part of the public API. */
#ifndef ATTNCAST_NN_INTERNAL_H
#define ATTNCAST_NN_INTERNAL_H

#include "attncast/forecaster.h"
#include "attncast/ops.h"

/* How a parameter starts (MODEL.md, Initialisation), drawn in registration order. */
typedef enum ac_param_init_kind {
    AC_INIT_UNIFORM, /* uniform in +-value (torch.nn.Linear: value = 1/sqrt(fan-in)) */
    AC_INIT_NORMAL,  /* normal with standard deviation value */
    AC_INIT_CONST    /* every element = value, no draws */
} ac_param_init_kind;

typedef struct ac_param_init {
    ac_param_init_kind kind;
    float value;
} ac_param_init;

/* What one attention kind adds to the block every kind shares (projections, mask, softmax, A V,
 * output projection): one row per kind of AC_ATTENTION_KINDS, in src/nn/attention.c. */
typedef struct ac_attention_desc {
    ac_score_kind score; /* the fused op's score function (AC_SCORE_KINDS) */
    const char *param;   /* the score's parameter, layers.i.attn.<param>, when its rank > 0 */
    ac_param_init init;  /* how that parameter starts */
    bool gate;           /* O <- O * sigmoid(z Wg^T + bg), with layers.i.attn.gate_proj */
} ac_attention_desc;

/* The row of a kind (NULL out of range). */
const ac_attention_desc *ac_attention_desc_of(ac_attention_kind kind);

/* One pre-norm block's parameters (borrowed from the forecaster's list). */
typedef struct ac_block {
    ac_tensor *norm1_w, *norm1_b;
    ac_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    ac_tensor *gate_w, *gate_b; /* kinds with a gate */
    ac_tensor *score_param;     /* kinds whose score has a parameter: [h] or [h, dh] */
    ac_tensor *norm2_w, *norm2_b;
    ac_tensor *ff1_w, *ff1_b, *ff2_w, *ff2_b;
} ac_block;

/* The attention sub-layer of MODEL.md step 4 for normalised tokens z [ns, N, d]: scores of the
 * block's kind, optional causal mask, softmax, A V, heads joined, the gate of kinds that have
 * one, and the output projection. Returns [ns, N, d] (before dropout and the residual add).
 * weights (optional) receives the softmax output A, [ns, h, N, N]. */
ac_tensor *ac_attention_forward(ac_ctx *ctx, const ac_model_spec *spec, const ac_block *blk,
                                ac_tensor *z, ac_tensor **weights);

#endif
