/* explain.h - which past steps (and, with future covariates, which future tokens) a forecast's
 * attention looked at.
 *
 * For one window of a loaded checkpoint: every layer's attention weights, token x token for each
 * head and series (in independent mode each channel is its own series with its own maps; in
 * mixed mode there is one series), and the attention each input time step receives. A model
 * with future covariates (Kf > 0) has T = N + Nf tokens: the N history tokens (patches of the
 * lookback), then the Nf future tokens (patches of the future covariates over the horizon,
 * MODEL.md version 2); without them T = N. With A_l,s,j the [T, T] map of layer l, series s and
 * head j:
 *   token attention  a_l,s[k] = mean over heads j and query tokens i (all T) of A_l,s,j[i, k]
 *   step attention   w_l,s[t] = sum over history tokens k whose patch covers t of a_l,s[k] / P
 *   future share     f_l,s = sum of a_l,s[k] over the future tokens k = N .. T - 1
 *   history share    h_l,s = sum of a_l,s[k] over the history tokens k = 0 .. N - 1
 * Each query row of A sums to 1, so every a_l,s sums to 1, h_l,s + f_l,s = 1, and w_l,s sums to
 * h_l,s (1 without future covariates; steps that no patch covers, at the start of the lookback
 * when (L - P) is not a multiple of the stride, get 0). Attention spread evenly over the tokens
 * would give the future tokens Nf / T, the share expected by chance.
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
    int layers, series, heads;
    int tokens;        /* N history tokens */
    int future_tokens; /* Nf future tokens (0 without future covariates); T = N + Nf */
    int lookback, horizon, channels, patch_len, patch_stride;
    int past_covariates, future_covariates; /* Kp, Kf (calendar columns included) */
    int columns;                            /* of an input step: C + Kp + Kf */
    float *attention;                       /* [layers][series][heads][T][T] */
    double *token_attention;                /* [layers][series][T] */
    double *step_attention;                 /* [layers][series][L] */
    double *history_share;                  /* [layers][series]: h_l,s */
    double *future_share; /* [layers][series]: f_l,s (0 without future covariates) */
    float *forecast;      /* [H][C], original units */
} ac_explanation;

/* Explains the forecast for window [L, C] (original units, oldest first) of a model without
 * covariates; ac_explain_future with future NULL. */
ac_status ac_explain(const ac_checkpoint *ckpt, const float *window, ac_explanation *out,
                     ac_error *err);
/* The same for any model: window [L, C + Kp + Kf] (every column of the input steps, in the
 * model's order: targets, past covariates, real future covariates, calendar columns; original
 * units, calendar columns as computed) and future [H, Kf] (the future covariates over the
 * horizon, same units; NULL exactly when Kf = 0). */
ac_status ac_explain_future(const ac_checkpoint *ckpt, const float *window, const float *future,
                            ac_explanation *out, ac_error *err);
/* ac_explain_future of series `series` (in [0, series_count)) of a checkpoint of long-format data
 * (MODEL.md "Many series"): window and future in that series' original units, scaled with its
 * scaler (ck->series_scalers), the forecast in its units. Another index: AC_ERR_INVALID. */
ac_status ac_explain_series(const ac_checkpoint *ckpt, int series, const float *window,
                            const float *future, ac_explanation *out, ac_error *err);
void ac_explanation_free(ac_explanation *ex);

/* T = N + Nf, the tokens every attention map has. */
int ac_explanation_all_tokens(const ac_explanation *ex);
/* Nf / T: the future share attention spread evenly over the tokens would give (0 without
 * future covariates). */
double ac_explanation_chance_future_share(const ac_explanation *ex);
/* The means over layers and series of f_l,s and of h_l,s. */
double ac_explanation_future_share_mean(const ac_explanation *ex);
double ac_explanation_history_share_mean(const ac_explanation *ex);

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
