/* embed.c - the embedding API: a loaded checkpoint plus a mutex-guarded pool of scratch
 * contexts, so concurrent forecasts on one model never share an arena (see embed.h). The
 * intervals the model offers are fixed at load (ac_interval_defs), so the bounds read nothing
 * that a forecast changes. A covariate model's input rows are scaled as ac_series_build scales
 * them (real columns with the checkpoint's scaler, calendar columns as computed from the dates),
 * so a forecast sees what training saw; a long-format model's with the scaler of the series
 * asked for. */
#include "attncast/embed.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/autograd.h"
#include "attncast/calendar.h"

#define POOL_MAX 16

struct ac_model {
    ac_checkpoint *ckpt;
    pthread_mutex_t lock;
    ac_ctx *pool[POOL_MAX]; /* idle contexts */
    int pooled;
    int intervals; /* I */
    ac_interval_def interval[AC_INTERVALS_CAP];
    int past, future_real, calendar_columns; /* Kp, F and the calendar's 2 per feature */
};

ac_model *ac_model_load(const char *path, ac_error *err) {
    ac_checkpoint *ckpt = NULL;
    if (ac_ckpt_read(&ckpt, path, err) != AC_OK) return NULL;
    ac_model *m = calloc(1, sizeof *m);
    if (!m || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        ac_ckpt_free(ckpt);
        ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    m->ckpt = ckpt;
    ac_forecaster_pack_weights(ckpt->model); /* read-only from here: forecasts skip the copy */
    m->intervals = ac_interval_defs(ac_forecaster_spec(ckpt->model),
                                    ckpt->has_calibration ? &ckpt->calibration : NULL, m->interval,
                                    AC_INTERVALS_CAP);
    ac_config_covariate_counts(&ckpt->config, &m->past, &m->future_real, &m->calendar_columns);
    return m;
}

void ac_model_free(ac_model *m) {
    if (!m) return;
    for (int i = 0; i < m->pooled; i++) ac_ctx_free(m->pool[i]);
    pthread_mutex_destroy(&m->lock);
    ac_ckpt_free(m->ckpt);
    free(m);
}

int ac_model_lookback(const ac_model *m) {
    return m->ckpt->config.data.lookback;
}
int ac_model_horizon(const ac_model *m) {
    return m->ckpt->config.data.horizon;
}
int ac_model_channels(const ac_model *m) {
    return m->ckpt->channels;
}
const char *ac_model_channel_name(const ac_model *m, int c) {
    return c >= 0 && c < m->ckpt->channels ? m->ckpt->channel_names[c] : NULL;
}
int ac_model_columns(const ac_model *m) {
    return m->ckpt->columns;
}
const char *ac_model_column_name(const ac_model *m, int k) {
    return k >= 0 && k < m->ckpt->columns ? m->ckpt->channel_names[k] : NULL;
}
int ac_model_future_columns(const ac_model *m) {
    return m->future_real;
}
unsigned ac_model_calendar(const ac_model *m) {
    return m->ckpt->config.data.calendar;
}
const ac_checkpoint *ac_model_checkpoint(const ac_model *m) {
    return m->ckpt;
}

int ac_model_interval_count(const ac_model *m) {
    return m->intervals;
}
bool ac_model_interval(const ac_model *m, int i, ac_interval_method *method, double *level) {
    if (i < 0 || i >= m->intervals) return false;
    if (method) *method = m->interval[i].method;
    if (level) *level = m->interval[i].level;
    return true;
}
int ac_model_quantile_count(const ac_model *m) {
    return ac_forecaster_spec(m->ckpt->model)->quantile_count;
}
double ac_model_quantile_level(const ac_model *m, int j) {
    const ac_model_spec *spec = ac_forecaster_spec(m->ckpt->model);
    return j >= 0 && j < spec->quantile_count ? (double)spec->quantiles[j] : 0.0;
}

static ac_ctx *take_ctx(ac_model *m) {
    ac_ctx *ctx = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->pooled > 0) ctx = m->pool[--m->pooled];
    pthread_mutex_unlock(&m->lock);
    if (!ctx && (ctx = ac_ctx_new(0, 0)) != NULL) ac_ctx_set_grad_enabled(ctx, false);
    return ctx;
}

static void give_ctx(ac_model *m, ac_ctx *ctx) {
    ac_ctx_reset(ctx);
    pthread_mutex_lock(&m->lock);
    if (m->pooled < POOL_MAX) {
        m->pool[m->pooled++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    ac_ctx_free(ctx);
}

static bool has_covariates(const ac_model *m) {
    return m->past + m->future_real + m->calendar_columns > 0;
}

/* n windows' inputs scaled as ac_series_build scales them (window i with scalers[i]), through the
 * model in one batch: [n, H, C] or [n, H, C, Q] on ctx's arena (scaled values); NULL with *st and
 * err set on failure. x is [n, L, K + calendar columns], the calendar's values computed from the
 * window's dates[0 .. L); the future [n, H, F + calendar columns] from its future and dates[L ..
 * L + H). Window i's inputs sit at windows + i L K, futures + i H F and dates + i (L + H). */
static ac_tensor *forward(ac_model *m, ac_ctx *ctx, int n, const ac_scaler *const *scalers,
                          const float *windows, const float *futures, const long long *dates,
                          ac_status *st, ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    int L = ac_model_lookback(m), H = ac_model_horizon(m), K = ck->columns;
    int F = m->future_real, G = m->calendar_columns, X = K + G, Kf = F + G;
    unsigned calendar = ck->config.data.calendar;
    double cal[2 * AC_CALENDAR_FEATURE_COUNT];
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){n, L, X});
    ac_tensor *f = x && Kf > 0 ? ac_tensor_temp(ctx, 3, (int[]){n, H, Kf}) : NULL;
    for (int i = 0; x && i < n; i++) {
        const ac_scaler *sc = scalers[i];
        const float *window = windows + (size_t)i * L * K;
        const long long *d = dates ? dates + (size_t)i * (L + H) : NULL;
        for (int t = 0; t < L; t++) {
            float *row = x->data + ((size_t)i * L + t) * X;
            for (int c = 0; c < K; c++)
                row[c] = (float)(((double)window[t * K + c] - sc->mean[c]) / sc->std[c]);
            if (G > 0) ac_calendar_values(d[t], calendar, cal);
            for (int g = 0; g < G; g++) row[K + g] = (float)cal[g];
        }
        if (!f) continue;
        const float *future = futures ? futures + (size_t)i * H * F : NULL;
        for (int h = 0; h < H; h++) {
            float *row = f->data + ((size_t)i * H + h) * Kf;
            for (int j = 0; j < F; j++)
                row[j] =
                    (float)(((double)future[h * F + j] - sc->mean[K - F + j]) / sc->std[K - F + j]);
            if (G > 0) ac_calendar_values(d[L + h], calendar, cal);
            for (int g = 0; g < G; g++) row[F + g] = (float)cal[g];
        }
    }
    ac_tensor *y =
        x && (Kf == 0 || f) ? ac_forecaster_forward_future(ctx, ck->model, x, f, NULL) : NULL;
    if (!y)
        *st = ac_error_set(err, ac_ctx_failed(ctx) ? ac_ctx_status(ctx) : AC_ERR_NOMEM,
                           "forecast failed: %s", ac_ctx_error(ctx));
    return y;
}

/* The window [L, K], the future [H, F] and the dates the model needs: present and finite. */
static ac_status check_inputs(const ac_model *m, const float *window, const float *future,
                              const long long *dates, ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    int L = ac_model_lookback(m), H = ac_model_horizon(m), K = ck->columns, F = m->future_real;
    const char *what = K > ck->channels ? "column" : "channel";
    if (!window) return ac_error_set(err, AC_ERR_INVALID, "forecast: no window given");
    for (int t = 0; t < L; t++)
        for (int c = 0; c < K; c++)
            if (!isfinite(window[t * K + c]))
                return ac_error_set(err, AC_ERR_INVALID,
                                    "forecast window row %d (of %d), %s '%s': not a finite "
                                    "number",
                                    t + 1, L, what, ck->channel_names[c]);
    if (F > 0 && !future)
        return ac_error_set(err, AC_ERR_INVALID,
                            "forecast: the model has %d future covariate(s) (%s%s): their %d "
                            "future rows are needed",
                            F, ck->channel_names[K - F], F > 1 ? ", ..." : "", H);
    for (int h = 0; h < H && F > 0; h++)
        for (int j = 0; j < F; j++)
            if (!isfinite(future[h * F + j]))
                return ac_error_set(err, AC_ERR_INVALID,
                                    "forecast future row %d (of %d), column '%s': not a finite "
                                    "number",
                                    h + 1, H, ck->channel_names[K - F + j]);
    if (m->calendar_columns > 0 && !dates)
        return ac_error_set(err, AC_ERR_INVALID,
                            "forecast: the model computes calendar features (data.calendar) from "
                            "the dates: the %d dates of the window and the horizon are needed",
                            L + H);
    return AC_OK;
}

/* The error of ac_model_forecast(_bounds) for a model they cannot feed. */
static ac_status covariates_refused(const ac_model *m, const char *fn, ac_error *err) {
    return ac_error_set(err, AC_ERR_INVALID,
                        "%s: the model uses covariates (%d past, %d future, %d calendar "
                        "column(s)); its windows have %d columns: forecast it with "
                        "ac_model_forecast_covariates",
                        fn, m->past, m->future_real, m->calendar_columns, m->ckpt->columns);
}

/* The error of a forecast without a series for a model of several. */
static ac_status series_needed(const ac_model *m, const char *fn, ac_error *err) {
    return ac_error_set(err, AC_ERR_INVALID,
                        "%s: the model was trained on %d series (long format), each scaled on "
                        "its own: forecast one with ac_model_forecast_series",
                        fn, m->ckpt->series_count);
}

/* values [cells], cell j of channel j / per % C, scaled -> original units into out */
static void unscale(const ac_scaler *sc, const float *values, int64_t cells, int per, int C,
                    float *out) {
    for (int64_t j = 0; j < cells; j++)
        out[j] = (float)ac_scaler_unscale(sc, (int)((j / per) % C), values[j]);
}

ac_status ac_model_forecast(ac_model *m, const float *window, float *out, ac_error *err) {
    if (m->ckpt->series_count > 0) return series_needed(m, "ac_model_forecast", err);
    if (has_covariates(m)) return covariates_refused(m, "ac_model_forecast", err);
    return ac_model_forecast_covariates(m, window, NULL, NULL, out, NULL, NULL, NULL, err);
}

ac_status ac_model_forecast_bounds(ac_model *m, const float *window, float *point, float *lo,
                                   float *hi, float *quantiles, ac_error *err) {
    if (m->ckpt->series_count > 0) return series_needed(m, "ac_model_forecast_bounds", err);
    if (has_covariates(m)) return covariates_refused(m, "ac_model_forecast_bounds", err);
    return ac_model_forecast_covariates(m, window, NULL, NULL, point, lo, hi, quantiles, err);
}

/* The forecasts of n windows in one batch, window i with scalers[i] (the checkpoint's, or a
 * long-format series'); outputs window after window. */
static ac_status forecast_many(ac_model *m, int n, const ac_scaler *const *scalers,
                               const float *windows, const float *futures, const long long *dates,
                               float *point, float *lo, float *hi, float *quantiles,
                               ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    const ac_model_spec *spec = ac_forecaster_spec(ck->model);
    const ac_calibration *cal = ck->has_calibration ? &ck->calibration : NULL;
    int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ck->channels, K = ck->columns;
    int F = m->future_real, Q = spec->quantile_count, I = m->intervals;
    int64_t HC = (int64_t)H * C;
    for (int i = 0; i < n; i++) {
        ac_status st = check_inputs(m, windows + (size_t)i * L * K,
                                    futures ? futures + (size_t)i * H * F : NULL,
                                    dates ? dates + (size_t)i * (L + H) : NULL, err);
        if (st != AC_OK) {
            if (n > 1) { /* name the window */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                ac_error_set(err, st, "window %d (of %d): %s", i + 1, n, msg);
            }
            return st;
        }
    }
    ac_ctx *ctx = take_ctx(m);
    if (!ctx) return ac_error_set(err, AC_ERR_NOMEM, "forecast: out of memory");
    ac_status st = AC_OK;
    ac_tensor *y = forward(m, ctx, n, scalers, windows, futures, dates, &st, err);
    bool bounds = (lo || hi) && I > 0;
    /* scratch on the arena: the scaled point, sorted quantiles, one interval's bounds */
    ac_tensor *p = y ? ac_tensor_temp(ctx, 2, (int[]){H, C}) : NULL;
    ac_tensor *sorted = p && Q > 0 ? ac_tensor_temp(ctx, 3, (int[]){H, C, Q}) : NULL;
    ac_tensor *l = p && bounds ? ac_tensor_temp(ctx, 2, (int[]){H, C}) : NULL;
    ac_tensor *u = l ? ac_tensor_temp(ctx, 2, (int[]){H, C}) : NULL;
    if (y && (!p || (Q > 0 && !sorted) || (bounds && !u)))
        st = ac_error_set(err, AC_ERR_NOMEM, "forecast: out of memory");
    int64_t per = HC * (Q > 0 ? Q : 1); /* the model's outputs per window */
    for (int w = 0; st == AC_OK && w < n; w++) {
        const ac_scaler *sc = scalers[w];
        const float *yw = y->data + w * per;
        ac_forecast_point(spec, yw, HC, p->data); /* a quantile model's point is its median */
        if (point) unscale(sc, p->data, HC, 1, C, point + w * HC);
        if (sorted) {
            memcpy(sorted->data, yw, (size_t)HC * Q * sizeof(float));
            ac_forecast_sort_quantiles(sorted->data, HC, Q);
            if (quantiles) unscale(sc, sorted->data, HC * Q, Q, C, quantiles + w * HC * Q);
        }
        for (int i = 0; bounds && i < I; i++) {
            ac_interval_bounds(&m->interval[i], cal, p->data, sorted ? sorted->data : NULL, H, C, Q,
                               l->data, u->data);
            if (lo) unscale(sc, l->data, HC, 1, C, lo + ((int64_t)w * I + i) * HC);
            if (hi) unscale(sc, u->data, HC, 1, C, hi + ((int64_t)w * I + i) * HC);
        }
    }
    give_ctx(m, ctx);
    return st;
}

/* The forecast of one window with scaler sc. */
static ac_status forecast(ac_model *m, const ac_scaler *sc, const float *window,
                          const float *future, const long long *dates, float *point, float *lo,
                          float *hi, float *quantiles, ac_error *err) {
    return forecast_many(m, 1, &sc, window, future, dates, point, lo, hi, quantiles, err);
}

ac_status ac_model_forecast_covariates(ac_model *m, const float *window, const float *future,
                                       const long long *dates, float *point, float *lo, float *hi,
                                       float *quantiles, ac_error *err) {
    if (m->ckpt->series_count > 0) return series_needed(m, "forecast", err);
    return forecast(m, &m->ckpt->scaler, window, future, dates, point, lo, hi, quantiles, err);
}

int ac_model_series_count(const ac_model *m) {
    return m->ckpt->series_count;
}
const char *ac_model_series_id(const ac_model *m, int i) {
    return i >= 0 && i < m->ckpt->series_count ? m->ckpt->series_ids[i] : NULL;
}
int ac_model_series_find(const ac_model *m, const char *id) {
    for (int i = 0; id && i < m->ckpt->series_count; i++)
        if (strcmp(m->ckpt->series_ids[i], id) == 0) return i;
    return -1;
}

ac_status ac_model_forecast_series(ac_model *m, int series, const float *window,
                                   const float *future, const long long *dates, float *point,
                                   float *lo, float *hi, float *quantiles, ac_error *err) {
    if (series < 0 || series >= m->ckpt->series_count)
        return ac_error_set(err, AC_ERR_INVALID,
                            "ac_model_forecast_series: series %d is not one of the model's %d",
                            series, m->ckpt->series_count);
    return forecast(m, &m->ckpt->series_scalers[series], window, future, dates, point, lo, hi,
                    quantiles, err);
}

ac_status ac_model_forecast_batch(ac_model *m, int n, const int *series, const float *windows,
                                  const float *futures, const long long *dates, float *point,
                                  float *lo, float *hi, float *quantiles, ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    if (n < 1 || !windows)
        return ac_error_set(err, AC_ERR_INVALID,
                            "ac_model_forecast_batch: expected at least one window, got %d", n);
    if (ck->series_count > 0 && !series) return series_needed(m, "ac_model_forecast_batch", err);
    const ac_scaler **scalers = malloc((size_t)n * sizeof *scalers);
    if (!scalers) return ac_error_set(err, AC_ERR_NOMEM, "forecast: out of memory");
    for (int i = 0; i < n; i++) {
        int k = ck->series_count > 0 ? series[i] : 0;
        if (ck->series_count > 0 && (k < 0 || k >= ck->series_count)) {
            free(scalers);
            return ac_error_set(err, AC_ERR_INVALID,
                                "ac_model_forecast_batch: window %d: series %d is not one of the "
                                "model's %d",
                                i + 1, k, ck->series_count);
        }
        scalers[i] = ck->series_count > 0 ? &ck->series_scalers[k] : &ck->scaler;
    }
    ac_status st =
        forecast_many(m, n, scalers, windows, futures, dates, point, lo, hi, quantiles, err);
    free(scalers);
    return st;
}
