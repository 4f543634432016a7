/* forecaster.h - the attncast forecaster of MODEL.md: instance norm, patching, input projection,
 * pre-norm attention blocks of one kind (AC_ATTENTION_KINDS), final norm and the flatten head.
 *
 * A forecaster owns its parameters (persistent tensors named exactly as MODEL.md's table, in a
 * fixed registration order) and nothing else. Forward passes take a context (arena, tape, rng
 * for dropout) from the caller. Callers always speak in windows: inputs [B, L, C] and forecasts
 * [B, H, C], scaled values, whatever the channel mode; in `independent` mode the forecaster
 * turns each window into C univariate series internally and back. A quantile model (MODEL.md
 * version 2, model.quantiles) forecasts [B, H, C, Q] instead, Q levels per step and channel, in
 * the raw order of the head (they may cross); ac_forecast_sort_quantiles and ac_forecast_point
 * turn that into what every consumer shows: sorted quantiles and the median as the point.
 */
#ifndef ATTNCAST_FORECASTER_H
#define ATTNCAST_FORECASTER_H

#include <stdbool.h>
#include <stdint.h>

#include "attncast/autograd.h"
#include "attncast/error.h"
#include "attncast/rng.h"
#include "attncast/tensor.h"

/* The attention kinds, X(ID, "name"): the one list that makes the enumeration (AC_ATTN_ID), the
 * names (config files, checkpoints, JSON, --help) and AC_ATTN_COUNT. What each kind adds to the
 * block all kinds share (its score function, score parameter and gate) is its row in
 * src/nn/attention.c; docs/attention-kinds.md says how to add a kind. Files hold the names,
 * never the values, so the order is free, but the rows of attention.c must follow it. */
#define AC_ATTENTION_KINDS(X)                                                                      \
    X(ADDITIVE, "additive")                                                                        \
    X(DOT, "dot")                                                                                  \
    X(GATED, "gated")                                                                              \
    X(COSINE, "cosine")

#define AC_ATTN_ENUM_(id, name) AC_ATTN_##id,
typedef enum ac_attention_kind { AC_ATTENTION_KINDS(AC_ATTN_ENUM_) } ac_attention_kind;
#undef AC_ATTN_ENUM_
#define AC_ATTN_ONE_(id, name) +1
enum { AC_ATTN_COUNT = 0 AC_ATTENTION_KINDS(AC_ATTN_ONE_) };
#undef AC_ATTN_ONE_

typedef enum ac_channel_mode { AC_CHANNELS_INDEPENDENT, AC_CHANNELS_MIXED } ac_channel_mode;

/* What each window is centred on (MODEL.md, "Anchor"): its mean (revin's own centring) or its
 * last value, after which an output of zero is the naive repeat forecast and the head starts at
 * zero. */
typedef enum ac_norm_anchor { AC_ANCHOR_MEAN, AC_ANCHOR_LAST } ac_norm_anchor;
/* pinball: the quantile loss, the one loss of a quantile model (MODEL.md, "Quantile forecasts") */
typedef enum ac_loss_kind { AC_LOSS_MSE, AC_LOSS_MAE, AC_LOSS_HUBER, AC_LOSS_PINBALL } ac_loss_kind;

/* The most quantile levels a model may forecast (model.quantiles). */
#define AC_MAX_QUANTILES 15

/* The names of AC_ATTENTION_KINDS; "independent", "mixed"; "mse", "mae", "huber", "pinball"
 * ("unknown" for a value out of range). */
const char *ac_attention_kind_name(ac_attention_kind kind);
/* The number of d x d projections in a kind's attention sub-layer: 4 (q, k, v, out), 5 with a
 * gate. */
int ac_attention_kind_projections(ac_attention_kind kind);
const char *ac_channel_mode_name(ac_channel_mode mode);
const char *ac_loss_kind_name(ac_loss_kind kind);
const char *ac_norm_anchor_name(ac_norm_anchor anchor);

/* Everything that fixes the architecture (and so the parameter shapes). */
typedef struct ac_model_spec {
    int lookback; /* L */
    int horizon;  /* H */
    int channels; /* C: the target channels (Ct), what the model forecasts */
    /* Covariates (MODEL.md version 2): Kp past and Kf future-known columns (calendar columns
     * included) beside the targets in every input step; Kf > 0 adds Nf future tokens. */
    int past_covariates;
    int future_covariates;
    ac_channel_mode channel_mode;
    int patch_len;    /* P */
    int patch_stride; /* S */
    int d_model;      /* d */
    int heads;        /* h */
    int layers;
    int d_ff;
    ac_attention_kind attention;
    bool revin;
    ac_norm_anchor anchor; /* mean or last (MODEL.md version 2) */
    bool causal;
    float dropout;
    /* Quantile levels (MODEL.md version 2): quantile_count = 0 for a point model, else Q levels
     * strictly increasing in (0, 1), one of them 0.5. */
    int quantile_count;
    float quantiles[AC_MAX_QUANTILES];
} ac_model_spec;

/* Derived quantities of a spec. */
int ac_model_spec_tokens(const ac_model_spec *spec);   /* N = floor((L - P) / S) + 1 */
int ac_model_spec_in_width(const ac_model_spec *spec); /* Cin: (1 or C) + Kp + Kf */
/* The columns of an input step as callers pass them: C + Kp + Kf. */
int ac_model_spec_columns(const ac_model_spec *spec);
/* Nf = floor((H - P) / S) + 1 future tokens when Kf > 0, else 0. */
int ac_model_spec_future_tokens(const ac_model_spec *spec);
int ac_model_spec_out_width(const ac_model_spec *spec); /* Cout: 1 or C */
int ac_model_spec_quantiles(const ac_model_spec *spec); /* Q: quantile_count, 1 for a point model */
/* The index of the level 0.5 among the quantiles (0 for a point model). */
int ac_model_spec_median(const ac_model_spec *spec);

/* Checks a spec for impossibilities (d_model not divisible by heads, patch longer than the
 * lookback, ...); the message names the config keys involved. */
ac_status ac_model_spec_check(const ac_model_spec *spec, ac_error *err);

typedef struct ac_forecaster ac_forecaster;

/* A new forecaster initialised as MODEL.md says, drawing from init_rng in registration order. */
ac_forecaster *ac_forecaster_new(const ac_model_spec *spec, ac_rng *init_rng, ac_error *err);
void ac_forecaster_free(ac_forecaster *model);

const ac_model_spec *ac_forecaster_spec(const ac_forecaster *model);
int ac_forecaster_param_count(const ac_forecaster *model);
/* The parameters in registration order; each tensor's name is its MODEL.md name. */
ac_tensor *const *ac_forecaster_params(const ac_forecaster *model);
/* The parameter of that name, or NULL. */
ac_tensor *ac_forecaster_param(const ac_forecaster *model, const char *name);
/* Total number of scalar weights. */
int64_t ac_forecaster_weight_count(const ac_forecaster *model);
/* For a model whose weights no longer change (a loaded checkpoint that only forecasts): packs
 * every linear weight once for the own matrix kernels (ac_tensor_pack), so that forecasts skip
 * that copy; the same bits. What memory does not allow stays unpacked. A training step (the
 * optimizer) drops the packs again. */
void ac_forecaster_pack_weights(ac_forecaster *model);

/* x: [B, L, C + Kp + Kf] scaled windows (every column of the input steps: targets, past, then
 * future covariates; need not require grad). Returns the forecast, recorded on the
 * context's tape in grad mode (dropout active) and plain in no-grad mode: [B, H, C] for a point
 * model, [B, H, C, Q] (rank 4, the levels in spec order, unsorted) for a quantile model, even
 * one of a single level. NULL on error (message in the context). */
ac_tensor *ac_forecaster_forward(ac_ctx *ctx, ac_forecaster *model, ac_tensor *x);

/* The same, also handing out each layer's attention weights: attention[i] (an array of
 * spec->layers pointers) receives layer i's softmax output [ns, h, N, N], ns being the B*C
 * series in independent mode and the B windows in mixed mode; rows (query tokens) sum to 1. */
ac_tensor *ac_forecaster_forward_attention(ac_ctx *ctx, ac_forecaster *model, ac_tensor *x,
                                           ac_tensor **attention);

/* The forward pass of a model with future covariates: future [B, H, Kf] holds their values over
 * the horizon (NULL when Kf = 0; the two functions above are this with future NULL, and fail
 * for a model with Kf > 0). attention may be NULL; with Kf > 0 its matrices are
 * [ns, h, N + Nf, N + Nf], the future tokens after the history tokens. */
ac_tensor *ac_forecaster_forward_future(ac_ctx *ctx, ac_forecaster *model, ac_tensor *x,
                                        ac_tensor *future, ac_tensor **attention);

/* The training loss between a forecast of the model of `spec` (as ac_forecaster_forward returns
 * it) and targets [B, H, C]: mse, mae or huber for a point model (pred of target's shape), the
 * pinball loss at the spec's levels for a quantile model (pred [B, H, C, Q]). */
ac_tensor *ac_forecast_loss(ac_ctx *ctx, const ac_model_spec *spec, ac_loss_kind kind,
                            ac_tensor *pred, ac_tensor *target);

/* Sorts each of `cells` runs of Q consecutive values ascending, in place: a quantile model's
 * forecast [.., Q] as every consumer shows it (MODEL.md: sorted at inference, no crossing). */
void ac_forecast_sort_quantiles(float *values, int64_t cells, int Q);
/* The point forecast of `cells` (window, step, channel) cells of a forecast out as
 * ac_forecaster_forward returns it: a copy for a point model; for a quantile model the q = 0.5
 * entry of each cell's Q values once sorted (out is left as it is). point and out may be the
 * same array only for a point model. */
void ac_forecast_point(const ac_model_spec *spec, const float *out, int64_t cells, float *point);

#endif
