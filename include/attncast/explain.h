/* explain.h - which past steps a forecast's attention looked at.
 *
 * For one window of a loaded checkpoint: every layer's attention weights, token x token for each
 * head and series (in independent mode each channel is its own series with its own maps; in
 * mixed mode there is one series), and the attention each input time step receives:
 *   token attention  a_l,s[k] = mean over heads j and query tokens i of A_l,s,j[i, k]
 *   step attention   w_l,s[t] = sum over tokens k whose patch covers t of a_l,s[k] / P
 * Each query row of A sums to 1, so every a_l,s and w_l,s sums to 1 (steps that no patch covers,
 * at the start of the lookback when (L - P) is not a multiple of the stride, get 0).
 * The summary of a forecast is the mean over layers and series, w[t] = mean of w_l,s[t]: the
 * `mean` column of explain's step_attention.csv, the bars of step_attention.png and the spans
 * explain prints (runs of steps with equal w[t], numbered alike in the picture) all show this
 * one quantity.
 */
#ifndef ATTNCAST_EXPLAIN_H
#define ATTNCAST_EXPLAIN_H

#include "attncast/checkpoint.h"
#include "attncast/error.h"

typedef struct ac_explanation {
    int layers, series, heads, tokens; /* N = tokens */
    int lookback, horizon, channels, patch_len, patch_stride;
    float *attention;        /* [layers][series][heads][N][N] */
    double *token_attention; /* [layers][series][N] */
    double *step_attention;  /* [layers][series][L] */
    float *forecast;         /* [H][C], original units */
} ac_explanation;

/* Explains the forecast for window [L, C] (original units, oldest first). */
ac_status ac_explain(const ac_checkpoint *ckpt, const float *window, ac_explanation *out,
                     ac_error *err);
void ac_explanation_free(ac_explanation *ex);

/* How many of the most attended spans explain prints and step_attention.png numbers. */
#define AC_EXPLAIN_TOP_SPANS 5

/* w[t], the attention input step t (0 = oldest) receives, mean over layers and series. */
double ac_explanation_step_mean(const ac_explanation *ex, int t);

/* A run of consecutive input steps with the same w[t]: the steps one set of patches covers (a
 * single step when patches are single steps). */
typedef struct ac_step_span {
    int first, count; /* steps first .. first + count - 1 (0 = oldest) */
    double attention; /* w[t] of each of them */
} ac_step_span;

/* The (at most) k spans with the largest w[t], largest first, the earlier on a tie, into spans;
 * returns how many. */
int ac_explanation_top_spans(const ac_explanation *ex, int k, ac_step_span *spans);

#endif
