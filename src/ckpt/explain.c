/* explain.c - attention weights and per-step attention for one forecast (see explain.h). */
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
    free(ex->forecast);
    memset(ex, 0, sizeof *ex);
}

/* Token and step attention of one [heads, N, N] block. */
static void summarise(const float *a, int heads, int N, int L, int P, int stride, double *tokens,
                      double *steps) {
    for (int k = 0; k < N; k++) tokens[k] = 0.0;
    for (int j = 0; j < heads; j++)
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N; k++) tokens[k] += a[((size_t)j * N + i) * N + k];
    for (int k = 0; k < N; k++) tokens[k] /= (double)heads * N;
    for (int t = 0; t < L; t++) steps[t] = 0.0;
    for (int k = 0; k < N; k++)
        for (int t = k * stride; t < k * stride + P; t++) steps[t] += tokens[k] / P;
}

ac_status ac_explain(const ac_checkpoint *ck, const float *window, ac_explanation *ex,
                     ac_error *err) {
    memset(ex, 0, sizeof *ex);
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    int L = s->lookback, H = s->horizon, C = s->channels, N = ac_model_spec_tokens(s);
    int ns = s->channel_mode == AC_CHANNELS_INDEPENDENT ? C : 1; /* series */
    *ex = (ac_explanation){.layers = s->layers,
                           .series = ns,
                           .heads = s->heads,
                           .tokens = N,
                           .lookback = L,
                           .horizon = H,
                           .channels = C,
                           .patch_len = s->patch_len,
                           .patch_stride = s->patch_stride};
    size_t blocks = (size_t)s->layers * (size_t)ns;
    ex->attention = malloc(blocks * (size_t)s->heads * N * N * sizeof(float));
    ex->token_attention = malloc(blocks * (size_t)N * sizeof(double));
    ex->step_attention = malloc(blocks * (size_t)L * sizeof(double));
    ex->forecast = malloc((size_t)H * C * sizeof(float));
    ac_tensor **attn = calloc((size_t)s->layers, sizeof *attn);
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_status st = AC_OK;
    if (!ex->attention || !ex->token_attention || !ex->step_attention || !ex->forecast || !attn ||
        !ctx) {
        st = ac_error_set(err, AC_ERR_NOMEM, "explain: out of memory");
        goto done;
    }
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){1, L, C});
    for (int i = 0; x && i < L * C; i++) {
        if (!isfinite(window[i])) {
            st = ac_error_set(err, AC_ERR_INVALID,
                              "explain window row %d (of %d), channel '%s': not a finite number",
                              i / C + 1, L, ck->channel_names[i % C]);
            goto done;
        }
        x->data[i] = (float)(((double)window[i] - ck->scaler.mean[i % C]) / ck->scaler.std[i % C]);
    }
    ac_tensor *y = ac_forecaster_forward_attention(ctx, ck->model, x, attn);
    if (!y) {
        st = ac_error_set(err, AC_ERR_STATE, "explain failed: %s", ac_ctx_error(ctx));
        goto done;
    }
    ac_forecast_point(s, y->data, (int64_t)H * C, ex->forecast); /* the median of quantiles */
    for (int i = 0; i < H * C; i++)
        ex->forecast[i] = (float)ac_scaler_unscale(&ck->scaler, i % C, ex->forecast[i]);
    size_t block = (size_t)s->heads * N * N;
    for (int l = 0; l < s->layers; l++)
        for (int sr = 0; sr < ns; sr++) {
            size_t b = (size_t)l * ns + sr;
            memcpy(ex->attention + b * block, attn[l]->data + (size_t)sr * block,
                   block * sizeof(float));
            summarise(ex->attention + b * block, s->heads, N, L, s->patch_len, s->patch_stride,
                      ex->token_attention + b * N, ex->step_attention + b * L);
        }
done:
    free(attn);
    ac_ctx_free(ctx);
    if (st != AC_OK) ac_explanation_free(ex);
    return st;
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
