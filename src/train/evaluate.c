/* evaluate.c - forecasting the windows of a series in no-grad batches, the loss of a split, and
 * the evaluation of a model beside the baselines (see include/attncast/trainer.h). */
#include "attncast/trainer.h"

#include <math.h>
#include <stdlib.h>

/* Arena for one batch of forecasts: grows on the first batch and is reused after that. */
#define EVAL_ARENA_BYTES ((size_t)64 << 20)

/* ac_forecast_windows; with `raw` a quantile model's outputs reach the visitor as the head made
 * them (unsorted, the point still the sorted median): what the validation loss scores, as
 * training does. */
static ac_status forecast_windows(ac_forecaster *model, const ac_series *s, int first, int count,
                                  int stride, int batch_size, bool raw, ac_forecast_visitor visit,
                                  void *user, ac_error *err) {
    if (count <= 0) return AC_OK;
    if (stride < 1 || batch_size < 1 || first < s->lookback ||
        first + (int64_t)(count - 1) * stride + s->horizon > s->rows)
        return ac_error_set(err, AC_ERR_INVALID,
                            "forecast windows: origins %d + %d x %d do not fit the %d rows", first,
                            count - 1, stride, s->rows);
    ac_ctx *ctx = ac_ctx_new(EVAL_ARENA_BYTES, 0);
    if (!ctx) return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
    ac_ctx_set_grad_enabled(ctx, false);
    const ac_model_spec *spec = ac_forecaster_spec(model);
    int L = s->lookback, H = s->horizon, C = s->channels, Q = ac_model_spec_quantiles(spec);
    bool quantile = spec->quantile_count > 0;
    for (int start = 0; start < count; start += batch_size) {
        int n = count - start < batch_size ? count - start : batch_size;
        ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){n, L, C});
        ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){n, H, C});
        int *ts = x && y ? ac_arena_alloc(ac_ctx_arena(ctx), (size_t)n * sizeof(int)) : NULL;
        if (ts) {
            for (int i = 0; i < n; i++) ts[i] = first + (start + i) * stride;
            ac_series_gather(s, ts, n, x->data, y->data);
        }
        ac_tensor *pred = ts ? ac_forecaster_forward(ctx, model, x) : NULL;
        float *point = pred && !quantile ? pred->data : NULL;
        if (pred && quantile) { /* the median of the sorted levels; the levels sorted unless raw */
            point = ac_arena_alloc(ac_ctx_arena(ctx), (size_t)n * H * C * sizeof(float));
            if (point) ac_forecast_point(spec, pred->data, (int64_t)n * H * C, point);
            if (point && !raw) ac_forecast_sort_quantiles(pred->data, (int64_t)n * H * C, Q);
        }
        if (!point) {
            ac_error_set(err, ac_ctx_failed(ctx) ? ac_ctx_status(ctx) : AC_ERR_NOMEM,
                         "evaluation failed: %s",
                         ac_ctx_failed(ctx) ? ac_ctx_error(ctx) : "out of memory");
            ac_ctx_free(ctx);
            return err->code;
        }
        for (int i = 0; i < n; i++)
            visit(user, ts[i], x->data + (size_t)i * L * C, y->data + (size_t)i * H * C,
                  point + (size_t)i * H * C, quantile ? pred->data + (size_t)i * H * C * Q : NULL);
        ac_ctx_reset(ctx);
    }
    ac_ctx_free(ctx);
    return AC_OK;
}

ac_status ac_forecast_windows(ac_forecaster *model, const ac_series *s, int first, int count,
                              int stride, int batch_size, ac_forecast_visitor visit, void *user,
                              ac_error *err) {
    return forecast_windows(model, s, first, count, stride, batch_size, false, visit, user, err);
}

/* Every window of a split, in order. */
static ac_status for_each_forecast(ac_forecaster *model, const ac_series *s, ac_split_kind split,
                                   int batch_size, bool raw, ac_forecast_visitor visit, void *user,
                                   ac_error *err) {
    ac_window_range r = ac_series_windows(s, split);
    return forecast_windows(model, s, r.first, r.count, 1, batch_size, raw, visit, user, err);
}

typedef struct loss_sum {
    ac_loss_kind kind;
    const ac_model_spec *spec; /* its levels, for the pinball loss */
    size_t n;                  /* values per window (H C) */
    double sum;
    int64_t windows;
} loss_sum;

static void add_window_loss(void *user, int t, const float *x, const float *y, const float *pred,
                            const float *quantiles) {
    (void)t, (void)x;
    loss_sum *ls = user;
    double acc = 0.0;
    if (ls->kind == AC_LOSS_PINBALL) { /* mean over the H C Q outputs, as ac_pinball_loss */
        int Q = ac_model_spec_quantiles(ls->spec);
        for (size_t i = 0; i < ls->n; i++)
            for (int j = 0; j < Q; j++) {
                double e = (double)y[i] - (double)quantiles[i * Q + j];
                double q = (double)ls->spec->quantiles[j];
                acc += e >= 0.0 ? q * e : (q - 1.0) * e;
            }
        ls->sum += acc / (double)(ls->n * (size_t)Q);
        ls->windows++;
        return;
    }
    for (size_t i = 0; i < ls->n; i++) {
        double d = (double)pred[i] - (double)y[i], a = fabs(d);
        switch (ls->kind) {
        case AC_LOSS_MAE:
            acc += a;
            break;
        case AC_LOSS_HUBER:
            acc += a <= 1.0 ? 0.5 * d * d : a - 0.5;
            break;
        case AC_LOSS_MSE:
        case AC_LOSS_PINBALL:
            acc += d * d;
            break;
        }
    }
    ls->sum += acc / (double)ls->n;
    ls->windows++;
}

ac_status ac_split_loss(ac_forecaster *model, const ac_series *s, ac_split_kind split,
                        ac_loss_kind loss, int batch_size, double *out, ac_error *err) {
    const ac_model_spec *spec = ac_forecaster_spec(model);
    if ((loss == AC_LOSS_PINBALL) != (spec->quantile_count > 0))
        return ac_error_set(err, AC_ERR_INVALID,
                            "split loss: the pinball loss goes with a quantile model, and only "
                            "with one (loss %s, %d quantiles)",
                            ac_loss_kind_name(loss), spec->quantile_count);
    loss_sum ls = {.kind = loss, .spec = spec, .n = (size_t)s->horizon * (size_t)s->channels};
    if (for_each_forecast(model, s, split, batch_size, true, add_window_loss, &ls, err) != AC_OK)
        return err->code;
    *out = ls.windows ? ls.sum / (double)ls.windows : NAN;
    return AC_OK;
}

typedef struct eval_state {
    const ac_series *series;
    int season;
    ac_metrics_acc model, baseline[AC_BASELINE_COUNT];
    float *scratch; /* [H, C] */
    int64_t windows;
} eval_state;

static void add_window_metrics(void *user, int t, const float *x, const float *y, const float *pred,
                               const float *quantiles) {
    (void)t, (void)quantiles;
    eval_state *e = user;
    const ac_series *s = e->series;
    ac_metrics_acc_add(&e->model, pred, y, s->horizon);
    for (int k = 0; k < AC_BASELINE_COUNT; k++) {
        ac_baseline_forecast((ac_baseline_kind)k, x, s->lookback, s->channels, s->horizon,
                             e->season, e->scratch);
        ac_metrics_acc_add(&e->baseline[k], e->scratch, y, s->horizon);
    }
    e->windows++;
}

/* The pooled and per-channel results of one accumulator. */
static void acc_results(const ac_metrics_acc *acc, ac_metrics *pooled, ac_metrics *channels) {
    *pooled = ac_metrics_acc_result(acc);
    for (int c = 0; c < acc->channels; c++) channels[c] = ac_metrics_acc_channel(acc, c);
}

ac_status ac_evaluate(ac_forecaster *model, const ac_series *s, ac_split_kind split, int season,
                      int batch_size, ac_eval_result *out, ac_error *err) {
    eval_state e = {.series = s, .season = season};
    int C = s->channels;
    double *scales = malloc((size_t)2 * (size_t)C * sizeof(double)); /* MASE scales, MAPE floors */
    ac_metrics *per_channel =
        malloc((size_t)(1 + AC_BASELINE_COUNT) * (size_t)C * sizeof(ac_metrics));
    e.scratch = malloc((size_t)s->horizon * (size_t)C * sizeof(float));
    ac_status st = scales && per_channel && e.scratch
                       ? AC_OK
                       : ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
    if (st == AC_OK) {
        ac_mase_scales(s, season, scales);
        ac_mape_floors(s, ac_series_windows(s, split), scales + C);
        st = ac_metrics_acc_init(&e.model, &s->scaler, scales, scales + C, err);
        for (int k = 0; k < AC_BASELINE_COUNT && st == AC_OK; k++)
            st = ac_metrics_acc_init(&e.baseline[k], &s->scaler, scales, scales + C, err);
    }
    if (st == AC_OK)
        st = for_each_forecast(model, s, split, batch_size, false, add_window_metrics, &e, err);
    if (st == AC_OK) {
        *out = (ac_eval_result){.split = split,
                                .windows = e.windows,
                                .season = season,
                                .channels = C,
                                .model_channels = per_channel};
        acc_results(&e.model, &out->model, out->model_channels);
        for (int k = 0; k < AC_BASELINE_COUNT; k++) {
            out->baseline_channels[k] = per_channel + (size_t)(1 + k) * C;
            acc_results(&e.baseline[k], &out->baseline[k], out->baseline_channels[k]);
        }
        per_channel = NULL;
    }
    ac_metrics_acc_free(&e.model);
    for (int k = 0; k < AC_BASELINE_COUNT; k++) ac_metrics_acc_free(&e.baseline[k]);
    free(per_channel);
    free(scales);
    free(e.scratch);
    return st;
}

void ac_eval_result_free(ac_eval_result *e) {
    free(e->model_channels);
    e->model_channels = NULL;
    for (int k = 0; k < AC_BASELINE_COUNT; k++) e->baseline_channels[k] = NULL;
}
