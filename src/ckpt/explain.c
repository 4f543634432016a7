/* explain.c - attention weights, per-step attention and the future tokens' share for one
 * forecast (see explain.h). */
#include "attncast/explain.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/autograd.h"

void ac_explanation_free(ac_explanation *ex) {
    free(ex->attention);
    free(ex->token_attention);
    free(ex->step_attention);
    free(ex->history_share);
    free(ex->future_share);
    free(ex->forecast);
    memset(ex, 0, sizeof *ex);
}

/* Token and step attention and the two shares of one [heads, T, T] block whose first N tokens
 * are the history tokens. */
static void summarise(const float *a, int heads, int N, int T, int L, int P, int stride,
                      double *tokens, double *steps, double *history, double *future) {
    for (int k = 0; k < T; k++) tokens[k] = 0.0;
    for (int j = 0; j < heads; j++)
        for (int i = 0; i < T; i++)
            for (int k = 0; k < T; k++) tokens[k] += a[((size_t)j * T + i) * T + k];
    for (int k = 0; k < T; k++) tokens[k] /= (double)heads * T;
    for (int t = 0; t < L; t++) steps[t] = 0.0;
    for (int k = 0; k < N; k++)
        for (int t = k * stride; t < k * stride + P; t++) steps[t] += tokens[k] / P;
    *history = *future = 0.0;
    for (int k = 0; k < T; k++) *(k < N ? history : future) += tokens[k];
}

/* Scales `rows` rows of `width` values (the columns first .. first + width - 1 of an input step)
 * into x: the scaler's columns z-scored, calendar columns as they are. An error names the first
 * value that is not finite. */
static ac_status scale_rows(const ac_checkpoint *ck, const ac_scaler *sc, const float *in, int rows,
                            int width, int first, const char *what, float *x, ac_error *err) {
    int scaled = sc->columns > 0 ? sc->columns : ck->channels;
    for (int i = 0; i < rows * width; i++) {
        int c = first + i % width;
        if (!isfinite(in[i])) {
            if (c < ck->columns)
                return ac_error_set(err, AC_ERR_INVALID,
                                    "explain %s row %d (of %d), %s '%s': not a finite number", what,
                                    i / width + 1, rows, c < ck->channels ? "channel" : "covariate",
                                    ck->channel_names[c]);
            return ac_error_set(err, AC_ERR_INVALID,
                                "explain %s row %d (of %d), calendar column %d: not a finite "
                                "number",
                                what, i / width + 1, rows, c - ck->columns + 1);
        }
        x[i] = c < scaled ? (float)(((double)in[i] - sc->mean[c]) / sc->std[c]) : in[i];
    }
    return AC_OK;
}

ac_status ac_explain(const ac_checkpoint *ck, const float *window, ac_explanation *ex,
                     ac_error *err) {
    return ac_explain_future(ck, window, NULL, ex, err);
}

static ac_status explain_scaled(const ac_checkpoint *ck, const ac_scaler *sc, const float *window,
                                const float *future, ac_explanation *ex, ac_error *err);

ac_status ac_explain_future(const ac_checkpoint *ck, const float *window, const float *future,
                            ac_explanation *ex, ac_error *err) {
    return explain_scaled(ck, &ck->scaler, window, future, ex, err);
}

ac_status ac_explain_series(const ac_checkpoint *ck, int series, const float *window,
                            const float *future, ac_explanation *ex, ac_error *err) {
    memset(ex, 0, sizeof *ex);
    if (series < 0 || series >= ck->series_count)
        return ac_error_set(err, AC_ERR_INVALID,
                            "ac_explain_series: series %d is not one of the checkpoint's %d",
                            series, ck->series_count);
    return explain_scaled(ck, &ck->series_scalers[series], window, future, ex, err);
}

/* The explanation with scaler sc (the checkpoint's, or a long-format series'). */
static ac_status explain_scaled(const ac_checkpoint *ck, const ac_scaler *sc, const float *window,
                                const float *future, ac_explanation *ex, ac_error *err) {
    memset(ex, 0, sizeof *ex);
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    int L = s->lookback, H = s->horizon, C = s->channels, N = ac_model_spec_tokens(s);
    int Nf = ac_model_spec_future_tokens(s), T = N + Nf, Kf = s->future_covariates;
    int cols = ac_model_spec_columns(s);
    int ns = s->channel_mode == AC_CHANNELS_INDEPENDENT ? C : 1; /* series */
    if (Kf > 0 && !future)
        return ac_error_set(err, AC_ERR_INVALID,
                            "explain: this model has %d future covariate columns; its forecast "
                            "needs their values over the horizon",
                            Kf);
    if (Kf == 0 && future)
        return ac_error_set(err, AC_ERR_INVALID,
                            "explain: future values given to a model without future covariates");
    *ex = (ac_explanation){.layers = s->layers,
                           .series = ns,
                           .heads = s->heads,
                           .tokens = N,
                           .future_tokens = Nf,
                           .lookback = L,
                           .horizon = H,
                           .channels = C,
                           .patch_len = s->patch_len,
                           .patch_stride = s->patch_stride,
                           .past_covariates = s->past_covariates,
                           .future_covariates = Kf,
                           .columns = cols};
    size_t blocks = (size_t)s->layers * (size_t)ns;
    ex->attention = malloc(blocks * (size_t)s->heads * T * T * sizeof(float));
    ex->token_attention = malloc(blocks * (size_t)T * sizeof(double));
    ex->step_attention = malloc(blocks * (size_t)L * sizeof(double));
    ex->history_share = malloc(blocks * sizeof(double));
    ex->future_share = malloc(blocks * sizeof(double));
    ex->forecast = malloc((size_t)H * C * sizeof(float));
    ac_tensor **attn = calloc((size_t)s->layers, sizeof *attn);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_status st = AC_OK;
    if (!ex->attention || !ex->token_attention || !ex->step_attention || !ex->history_share ||
        !ex->future_share || !ex->forecast || !attn || !ctx) {
        st = ac_error_set(err, AC_ERR_NOMEM, "explain: out of memory");
        goto done;
    }
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){1, L, cols});
    ac_tensor *f = Kf > 0 ? ac_tensor_temp(ctx, 3, (int[]){1, H, Kf}) : NULL;
    if (!x || (Kf > 0 && !f)) {
        st = ac_error_set(err, AC_ERR_NOMEM, "explain: out of memory");
        goto done;
    }
    if ((st = scale_rows(ck, sc, window, L, cols, 0, "window", x->data, err)) != AC_OK ||
        (f && (st = scale_rows(ck, sc, future, H, Kf, C + s->past_covariates, "future", f->data,
                               err)) != AC_OK))
        goto done;
    ac_tensor *y = ac_forecaster_forward_future(ctx, ck->model, x, f, attn);
    if (!y) {
        st = ac_error_set(err, AC_ERR_STATE, "explain failed: %s", ac_ctx_error(ctx));
        goto done;
    }
    ac_forecast_point(s, y->data, (int64_t)H * C, ex->forecast); /* the median of quantiles */
    for (int i = 0; i < H * C; i++)
        ex->forecast[i] = (float)ac_scaler_unscale(sc, i % C, ex->forecast[i]);
    size_t block = (size_t)s->heads * T * T;
    for (int l = 0; l < s->layers; l++)
        for (int sr = 0; sr < ns; sr++) {
            size_t b = (size_t)l * ns + sr;
            memcpy(ex->attention + b * block, attn[l]->data + (size_t)sr * block,
                   block * sizeof(float));
            summarise(ex->attention + b * block, s->heads, N, T, L, s->patch_len, s->patch_stride,
                      ex->token_attention + b * T, ex->step_attention + b * L,
                      &ex->history_share[b], &ex->future_share[b]);
        }
done:
    free(attn);
    ac_ctx_free(ctx);
    if (st != AC_OK) ac_explanation_free(ex);
    return st;
}

int ac_explanation_all_tokens(const ac_explanation *ex) {
    return ex->tokens + ex->future_tokens;
}

double ac_explanation_chance_future_share(const ac_explanation *ex) {
    return (double)ex->future_tokens / ac_explanation_all_tokens(ex);
}

static double share_mean(const ac_explanation *ex, const double *share) {
    int blocks = ex->layers * ex->series;
    double sum = 0.0;
    for (int b = 0; b < blocks; b++) sum += share[b];
    return sum / blocks;
}

double ac_explanation_future_share_mean(const ac_explanation *ex) {
    return share_mean(ex, ex->future_share);
}

double ac_explanation_history_share_mean(const ac_explanation *ex) {
    return share_mean(ex, ex->history_share);
}

double ac_explanation_step_mean(const ac_explanation *ex, int t) {
    int blocks = ex->layers * ex->series, L = ex->lookback;
    double sum = 0.0;
    for (int b = 0; b < blocks; b++) sum += ex->step_attention[(size_t)b * L + t];
    return sum / blocks;
}

int ac_explanation_top_spans(const ac_explanation *ex, int k, ac_step_span *spans) {
    int L = ex->lookback, n = 0;
    while (n < k) {
        ac_step_span best = {-1, 0, 0.0};
        for (int t = 0; t < L;) {
            ac_step_span run = {t, 1, ac_explanation_step_mean(ex, t)};
            while (t + run.count < L &&
                   ac_explanation_step_mean(ex, t + run.count) == run.attention)
                run.count++;
            t += run.count;
            bool taken = false;
            for (int j = 0; j < n; j++) taken = taken || spans[j].first == run.first;
            if (!taken && (best.first < 0 || run.attention > best.attention)) best = run;
        }
        if (best.first < 0) break;
        spans[n++] = best;
    }
    return n;
}
