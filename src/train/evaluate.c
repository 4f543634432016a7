/* evaluate.c - forecasting the windows of a series in no-grad batches, the loss of a split, and
 * the evaluation of a model beside the baselines (see include/attncast/trainer.h). */
#include "attncast/trainer.h"
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int Kf = s->future;
    bool quantile = spec->quantile_count > 0;
    for (int start = 0; start < count; start += batch_size) {
        int n = count - start < batch_size ? count - start : batch_size;
        ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){n, L, s->columns});
        ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){n, H, C});
        ac_tensor *f = Kf ? ac_tensor_temp(ctx, 3, (int[]){n, H, Kf}) : NULL;
        int *ts = x && y && (f || !Kf) ? ac_arena_alloc(ac_ctx_arena(ctx), (size_t)n * sizeof(int))
                                       : NULL;
        if (ts) {
            for (int i = 0; i < n; i++) ts[i] = first + (start + i) * stride;
            ac_series_gather(s, ts, n, x->data, y->data);
            if (f) ac_series_gather_future(s, ts, n, f->data);
        }
        ac_tensor *pred = ts ? ac_forecaster_forward_future(ctx, model, x, f, NULL) : NULL;
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
        ac_window_keep_targets(x->data, n * L, s->columns, C); /* the visitors' x [L, C] */
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

ac_status ac_series_loss(ac_forecaster *model, const ac_series *series, int count,
                         ac_split_kind split, ac_loss_kind loss, int batch_size, double *out,
                         ac_error *err) {
    const ac_model_spec *spec = ac_forecaster_spec(model);
    if ((loss == AC_LOSS_PINBALL) != (spec->quantile_count > 0))
        return ac_error_set(err, AC_ERR_INVALID,
                            "split loss: the pinball loss goes with a quantile model, and only "
                            "with one (loss %s, %d quantiles)",
                            ac_loss_kind_name(loss), spec->quantile_count);
    loss_sum ls = {.kind = loss, .spec = spec, .n = (size_t)spec->horizon * (size_t)spec->channels};
    for (int i = 0; i < count; i++)
        if (for_each_forecast(model, &series[i], split, batch_size, true, add_window_loss, &ls,
                              err) != AC_OK)
            return err->code;
    *out = ls.windows ? ls.sum / (double)ls.windows : NAN;
    return AC_OK;
}

ac_status ac_split_loss(ac_forecaster *model, const ac_series *s, ac_split_kind split,
                        ac_loss_kind loss, int batch_size, double *out, ac_error *err) {
    return ac_series_loss(model, s, 1, split, loss, batch_size, out, err);
}

ac_status ac_panel_split_loss(ac_forecaster *model, const ac_panel *panel, ac_split_kind split,
                              ac_loss_kind loss, int batch_size, double *out, ac_error *err) {
    return ac_series_loss(model, panel->series, panel->count, split, loss, batch_size, out, err);
}

/* One set of quantile levels being scored: the model's quantiles and the baseline's. */
typedef struct quantile_set {
    ac_quantile_acc model, baseline;
    bool has_baseline;
    float *offsets; /* [H, C, Q] the baseline's offsets (has_baseline) */
} quantile_set;

typedef struct eval_state {
    const ac_series *series;
    const ac_calibration *cal;
    int season;
    int Q; /* the model's outputs per value (1 for a point model) */
    ac_metrics_acc model, baseline[AC_BASELINE_COUNT];
    int intervals;
    ac_interval_def defs[AC_INTERVALS_CAP];
    ac_interval_acc interval[AC_INTERVALS_CAP];
    int sets;
    ac_interval_method set_method[2];
    quantile_set set[2];
    float *scratch;   /* [H, C] */
    float *lo, *hi;   /* [H, C] each */
    float *quantiles; /* [H, C, AC_EVAL_LEVELS_MAX] */
    double *scales;   /* [2, C]: MASE scales, MAPE floors */
    int64_t windows;
} eval_state;

/* The quantile forecast [H, C, 2K + 1] that the K conformal intervals of a window imply: the
 * bounds of level k as the quantiles K - 1 - k and K + 1 + k, the point as the median K (the
 * order of ac_interval_quantile_levels). */
static void conformal_quantiles(eval_state *e, const float *point) {
    const ac_series *s = e->series;
    int K = e->cal->count, Qc = 2 * K + 1;
    size_t n = (size_t)s->horizon * s->channels;
    for (size_t j = 0; j < n; j++) e->quantiles[j * Qc + K] = point[j];
    for (int k = 0; k < K; k++) {
        ac_interval_def def = {
            .method = AC_INTERVAL_CONFORMAL, .level = e->cal->levels[k], .lo = k, .hi = k};
        ac_interval_bounds(&def, e->cal, point, NULL, s->horizon, s->channels, 1, e->lo, e->hi);
        for (size_t j = 0; j < n; j++) {
            e->quantiles[j * Qc + K - 1 - k] = e->lo[j];
            e->quantiles[j * Qc + K + 1 + k] = e->hi[j];
        }
    }
}

static void add_window_metrics(void *user, int t, const float *x, const float *y, const float *pred,
                               const float *quantiles) {
    (void)t;
    eval_state *e = user;
    const ac_series *s = e->series;
    int L = s->lookback, H = s->horizon, C = s->channels;
    ac_metrics_acc_add(&e->model, pred, y, H);
    for (int k = 0; k < AC_BASELINE_COUNT; k++) {
        ac_baseline_forecast((ac_baseline_kind)k, x, L, C, H, e->season, e->scratch);
        ac_metrics_acc_add(&e->baseline[k], e->scratch, y, H);
    }
    for (int i = 0; i < e->intervals; i++) {
        ac_interval_bounds(&e->defs[i], e->cal, pred, quantiles, H, C, e->Q, e->lo, e->hi);
        ac_interval_acc_add(&e->interval[i], e->lo, e->hi, y, H);
    }
    for (int i = 0; i < e->sets; i++) {
        quantile_set *q = &e->set[i];
        if (e->set_method[i] == AC_INTERVAL_QUANTILE) {
            ac_quantile_acc_add(&q->model, quantiles, y, H);
        } else {
            conformal_quantiles(e, pred);
            ac_quantile_acc_add(&q->model, e->quantiles, y, H);
        }
        if (q->has_baseline) {
            ac_baseline_quantile_forecast(x, L, C, H, e->season, q->offsets, q->model.quantiles,
                                          e->quantiles);
            ac_quantile_acc_add(&q->baseline, e->quantiles, y, H);
        }
    }
    e->windows++;
}

/* The pooled and per-channel results of one accumulator. */
static void acc_results(const ac_metrics_acc *acc, ac_metrics *pooled, ac_metrics *channels) {
    *pooled = ac_metrics_acc_result(acc);
    for (int c = 0; c < acc->channels; c++) channels[c] = ac_metrics_acc_channel(acc, c);
}

/* A float level of a model spec as the number its config wrote (0.1f gives 0.1). */
static double spec_level(float q) {
    return round((double)q * 1e7) / 1e7;
}

/* Sets up the intervals and quantile sets a model offers with cal (NULL: none). */
static ac_status interval_setup(eval_state *e, const ac_model_spec *spec, ac_error *err) {
    const ac_series *s = e->series;
    const ac_calibration *cal = e->cal;
    if (cal && (cal->horizon != s->horizon || cal->channels != s->channels || cal->count < 1 ||
                2 * cal->count + 1 > AC_EVAL_LEVELS_MAX))
        return ac_error_set(err, AC_ERR_INVALID,
                            "evaluation: the calibration (%d levels, horizon %d, %d channels) "
                            "does not fit the series (horizon %d, %d channels)",
                            cal->count, cal->horizon, cal->channels, s->horizon, s->channels);
    e->intervals = ac_interval_defs(spec, cal, e->defs, AC_INTERVALS_CAP);
    for (int i = 0; i < e->intervals; i++)
        if (ac_interval_acc_init(&e->interval[i], &s->scaler, e->defs[i].level, err) != AC_OK)
            return err->code;
    double levels[2][AC_EVAL_LEVELS_MAX];
    int counts[2];
    if (spec->quantile_count > 0) {
        e->set_method[e->sets] = AC_INTERVAL_QUANTILE;
        counts[e->sets] = spec->quantile_count;
        for (int q = 0; q < spec->quantile_count; q++)
            levels[e->sets][q] = spec_level(spec->quantiles[q]);
        e->sets++;
    }
    if (cal) {
        e->set_method[e->sets] = AC_INTERVAL_CONFORMAL;
        counts[e->sets] = 2 * cal->count + 1;
        ac_interval_quantile_levels(cal->levels, cal->count, levels[e->sets]);
        for (int q = 0; q < counts[e->sets]; q++) /* (1 - 0.8) / 2 is 0.1, not 0.09999... */
            levels[e->sets][q] = round(levels[e->sets][q] * 1e9) / 1e9;
        e->sets++;
    }
    ac_window_range val = ac_series_windows(s, AC_SPLIT_VAL);
    size_t values = (size_t)s->horizon * s->channels;
    for (int i = 0; i < e->sets; i++) {
        quantile_set *q = &e->set[i];
        if (ac_quantile_acc_init(&q->model, &s->scaler, levels[i], counts[i], err) != AC_OK)
            return err->code;
        if (val.count < 1) continue;
        q->offsets = malloc(values * (size_t)counts[i] * sizeof(float));
        if (!q->offsets) return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
        if (ac_baseline_quantile_offsets(s, val, e->season, levels[i], counts[i], q->offsets,
                                         err) != AC_OK ||
            ac_quantile_acc_init(&q->baseline, &s->scaler, levels[i], counts[i], err) != AC_OK)
            return err->code;
        q->has_baseline = true;
    }
    if (e->intervals > 0 || e->sets > 0) {
        e->lo = malloc(values * sizeof(float));
        e->hi = malloc(values * sizeof(float));
        e->quantiles = malloc(values * AC_EVAL_LEVELS_MAX * sizeof(float));
        if (!e->lo || !e->hi || !e->quantiles)
            return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
    }
    return AC_OK;
}

/* Copies the interval and quantile scores into out (which then owns its per-channel arrays). */
static ac_status interval_results(const eval_state *e, ac_eval_result *out, ac_error *err) {
    int C = e->series->channels;
    size_t bytes = (size_t)(C > 0 ? C : 1) * sizeof(ac_interval_metrics);
    for (int i = 0; i < e->intervals; i++) {
        ac_eval_interval *r = &out->intervals[i];
        r->def = e->defs[i];
        r->pooled = ac_interval_acc_result(&e->interval[i]);
        if (!(r->channels = malloc(bytes)))
            return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
        out->interval_count = i + 1;
        for (int c = 0; c < C; c++) r->channels[c] = ac_interval_acc_channel(&e->interval[i], c);
    }
    bytes = (size_t)(C > 0 ? C : 1) * sizeof(ac_quantile_metrics);
    for (int i = 0; i < e->sets; i++) {
        const quantile_set *q = &e->set[i];
        ac_eval_quantiles *r = &out->quantiles[i];
        r->method = e->set_method[i];
        r->count = q->model.quantiles;
        memcpy(r->levels, q->model.levels, (size_t)r->count * sizeof(double));
        r->model = ac_quantile_acc_result(&q->model);
        r->has_baseline = q->has_baseline;
        if (q->has_baseline) r->baseline = ac_quantile_acc_result(&q->baseline);
        r->model_channels = malloc(bytes);
        r->baseline_channels = q->has_baseline ? malloc(bytes) : NULL;
        out->quantile_sets = i + 1;
        if (!r->model_channels || (q->has_baseline && !r->baseline_channels))
            return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
        for (int c = 0; c < C; c++) {
            r->model_channels[c] = ac_quantile_acc_channel(&q->model, c);
            if (q->has_baseline) r->baseline_channels[c] = ac_quantile_acc_channel(&q->baseline, c);
        }
    }
    return AC_OK;
}

static void eval_state_free(eval_state *e) {
    ac_metrics_acc_free(&e->model);
    for (int k = 0; k < AC_BASELINE_COUNT; k++) ac_metrics_acc_free(&e->baseline[k]);
    for (int i = 0; i < e->intervals; i++) ac_interval_acc_free(&e->interval[i]);
    for (int i = 0; i < e->sets; i++) {
        ac_quantile_acc_free(&e->set[i].model);
        ac_quantile_acc_free(&e->set[i].baseline);
        free(e->set[i].offsets);
    }
    free(e->scratch);
    free(e->lo);
    free(e->hi);
    free(e->quantiles);
    free(e->scales);
}

/* Sets up the scoring of a split of series s: its MASE scales and MAPE floors, every
 * accumulator on its scale, the intervals and quantile sets. */
static ac_status eval_begin(eval_state *e, const ac_model_spec *spec, const ac_series *s,
                            ac_split_kind split, int season, const ac_calibration *cal,
                            ac_error *err) {
    *e =
        (eval_state){.series = s, .cal = cal, .season = season, .Q = ac_model_spec_quantiles(spec)};
    int C = s->channels;
    e->scales = malloc((size_t)2 * (size_t)C * sizeof(double)); /* MASE scales, MAPE floors */
    e->scratch = malloc((size_t)s->horizon * (size_t)C * sizeof(float));
    if (!e->scales || !e->scratch)
        return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
    ac_mase_scales(s, season, e->scales);
    ac_mape_floors(s, ac_series_windows(s, split), e->scales + C);
    ac_status st = ac_metrics_acc_init(&e->model, &s->scaler, e->scales, e->scales + C, err);
    for (int k = 0; k < AC_BASELINE_COUNT && st == AC_OK; k++)
        st = ac_metrics_acc_init(&e->baseline[k], &s->scaler, e->scales, e->scales + C, err);
    return st == AC_OK ? interval_setup(e, spec, err) : st;
}

/* The results of what e has scored. */
static ac_status eval_finish(const eval_state *e, ac_split_kind split, ac_eval_result *out,
                             ac_error *err) {
    int C = e->series->channels;
    ac_metrics *per_channel =
        malloc((size_t)(1 + AC_BASELINE_COUNT) * (size_t)C * sizeof(ac_metrics));
    if (!per_channel) return ac_error_set(err, AC_ERR_NOMEM, "evaluation: out of memory");
    *out = (ac_eval_result){.split = split,
                            .windows = e->windows,
                            .season = e->season,
                            .channels = C,
                            .model_channels = per_channel};
    acc_results(&e->model, &out->model, out->model_channels);
    for (int k = 0; k < AC_BASELINE_COUNT; k++) {
        out->baseline_channels[k] = per_channel + (size_t)(1 + k) * C;
        acc_results(&e->baseline[k], &out->baseline[k], out->baseline_channels[k]);
    }
    ac_status st = interval_results(e, out, err);
    if (st != AC_OK) ac_eval_result_free(out);
    return st;
}

/* Adds what from has scored (another series, on its own scale) into into. The seasonal-naive
 * quantile baseline stays only where every series has one. */
static void eval_merge(eval_state *into, const eval_state *from) {
    ac_metrics_acc_merge(&into->model, &from->model);
    for (int k = 0; k < AC_BASELINE_COUNT; k++)
        ac_metrics_acc_merge(&into->baseline[k], &from->baseline[k]);
    for (int i = 0; i < into->intervals && i < from->intervals; i++)
        ac_interval_acc_merge(&into->interval[i], &from->interval[i]);
    for (int i = 0; i < into->sets && i < from->sets; i++) {
        quantile_set *a = &into->set[i];
        const quantile_set *b = &from->set[i];
        ac_quantile_acc_merge(&a->model, &b->model);
        if (a->has_baseline && b->has_baseline) ac_quantile_acc_merge(&a->baseline, &b->baseline);
        a->has_baseline = a->has_baseline && b->has_baseline;
    }
    into->windows += from->windows;
}

ac_status ac_evaluate(ac_forecaster *model, const ac_series *s, ac_split_kind split, int season,
                      int batch_size, const ac_calibration *cal, ac_eval_result *out,
                      ac_error *err) {
    eval_state e;
    ac_status st = eval_begin(&e, ac_forecaster_spec(model), s, split, season, cal, err);
    if (st == AC_OK)
        st = for_each_forecast(model, s, split, batch_size, false, add_window_metrics, &e, err);
    if (st == AC_OK) st = eval_finish(&e, split, out, err);
    eval_state_free(&e);
    return st;
}

ac_status ac_evaluate_panel(ac_forecaster *model, const ac_panel *panel, ac_split_kind split,
                            int season, int batch_size, const ac_calibration *cal,
                            ac_eval_result *out, ac_eval_result *per_series, ac_error *err) {
    const ac_model_spec *spec = ac_forecaster_spec(model);
    if (panel->count == 1 && !per_series) /* one series: its own results, bit for bit */
        return ac_evaluate(model, &panel->series[0], split, season, batch_size, cal, out, err);
    eval_state pooled, one;
    ac_status st = eval_begin(&pooled, spec, &panel->series[0], split, season, cal, err);
    int done = 0;
    for (; st == AC_OK && done < panel->count; done++) {
        const ac_series *s = &panel->series[done];
        st = eval_begin(&one, spec, s, split, season, cal, err);
        if (st == AC_OK)
            st = for_each_forecast(model, s, split, batch_size, false, add_window_metrics, &one,
                                   err);
        if (st == AC_OK && per_series) st = eval_finish(&one, split, &per_series[done], err);
        if (st == AC_OK) eval_merge(&pooled, &one);
        eval_state_free(&one);
        if (st != AC_OK) break;
    }
    if (st == AC_OK) {
        st = eval_finish(&pooled, split, out, err);
        if (st == AC_OK && panel->count > 1) { /* the series' units differ */
            out->model.rmse = out->model.mae_orig = NAN;
            for (int k = 0; k < AC_BASELINE_COUNT; k++)
                out->baseline[k].rmse = out->baseline[k].mae_orig = NAN;
            for (int c = 0; c < out->channels; c++) {
                out->model_channels[c].rmse = out->model_channels[c].mae_orig = NAN;
                for (int k = 0; k < AC_BASELINE_COUNT; k++)
                    out->baseline_channels[k][c].rmse = out->baseline_channels[k][c].mae_orig = NAN;
            }
        }
    }
    if (st != AC_OK && per_series)
        for (int i = 0; i < done && i < panel->count; i++) ac_eval_result_free(&per_series[i]);
    eval_state_free(&pooled);
    return st;
}

void ac_eval_result_free(ac_eval_result *e) {
    free(e->model_channels);
    e->model_channels = NULL;
    for (int k = 0; k < AC_BASELINE_COUNT; k++) e->baseline_channels[k] = NULL;
    for (int i = 0; i < e->interval_count; i++) {
        free(e->intervals[i].channels);
        e->intervals[i].channels = NULL;
    }
    e->interval_count = 0;
    for (int i = 0; i < e->quantile_sets; i++) {
        free(e->quantiles[i].model_channels);
        free(e->quantiles[i].baseline_channels);
        e->quantiles[i].model_channels = e->quantiles[i].baseline_channels = NULL;
    }
    e->quantile_sets = 0;
}
