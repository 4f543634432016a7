/* embed.c - the embedding API: a loaded checkpoint plus a mutex-guarded pool of scratch
 * contexts, so concurrent forecasts on one model never share an arena (see embed.h). The
 * intervals the model offers are fixed at load (ac_interval_defs), so the bounds read nothing
 * that a forecast changes. */
#include "attncast/embed.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/autograd.h"

#define POOL_MAX 16

struct ac_model {
    ac_checkpoint *ckpt;
    pthread_mutex_t lock;
    ac_ctx *pool[POOL_MAX]; /* idle contexts */
    int pooled;
    int intervals; /* I */
    ac_interval_def interval[AC_INTERVALS_CAP];
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
    m->intervals = ac_interval_defs(ac_forecaster_spec(ckpt->model),
                                    ckpt->has_calibration ? &ckpt->calibration : NULL, m->interval,
                                    AC_INTERVALS_CAP);
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

/* The window scaled as ac_series_build scales, through the model: [1, H, C] or [1, H, C, Q] on
 * ctx's arena (scaled values); NULL with *st and err set on failure. */
static ac_tensor *forward(ac_model *m, ac_ctx *ctx, const float *window, ac_status *st,
                          ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    const ac_scaler *sc = &ck->scaler;
    int L = ac_model_lookback(m), C = ck->channels;
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){1, L, C});
    if (x)
        for (int t = 0; t < L; t++)
            for (int c = 0; c < C; c++)
                x->data[t * C + c] =
                    (float)(((double)window[t * C + c] - sc->mean[c]) / sc->std[c]);
    ac_tensor *y = ac_forecaster_forward(ctx, ck->model, x);
    if (!y)
        *st = ac_error_set(err, ac_ctx_failed(ctx) ? ac_ctx_status(ctx) : AC_ERR_NOMEM,
                           "forecast failed: %s", ac_ctx_error(ctx));
    return y;
}

static ac_status check_window(const ac_model *m, const float *window, ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    int L = ac_model_lookback(m), C = ck->channels;
    for (int t = 0; t < L; t++)
        for (int c = 0; c < C; c++)
            if (!isfinite(window[t * C + c]))
                return ac_error_set(err, AC_ERR_INVALID,
                                    "forecast window row %d (of %d), channel '%s': not a finite "
                                    "number",
                                    t + 1, L, ck->channel_names[c]);
    return AC_OK;
}

/* values [cells], cell j of channel j / per % C, scaled -> original units into out */
static void unscale(const ac_scaler *sc, const float *values, int64_t cells, int per, int C,
                    float *out) {
    for (int64_t j = 0; j < cells; j++)
        out[j] = (float)ac_scaler_unscale(sc, (int)((j / per) % C), values[j]);
}

ac_status ac_model_forecast(ac_model *m, const float *window, float *out, ac_error *err) {
    return ac_model_forecast_bounds(m, window, out, NULL, NULL, NULL, err);
}

ac_status ac_model_forecast_bounds(ac_model *m, const float *window, float *point, float *lo,
                                   float *hi, float *quantiles, ac_error *err) {
    ac_status st = check_window(m, window, err);
    if (st != AC_OK) return st;
    const ac_checkpoint *ck = m->ckpt;
    const ac_model_spec *spec = ac_forecaster_spec(ck->model);
    const ac_calibration *cal = ck->has_calibration ? &ck->calibration : NULL;
    int H = ac_model_horizon(m), C = ck->channels, Q = spec->quantile_count;
    int64_t HC = (int64_t)H * C;
    ac_ctx *ctx = take_ctx(m);
    if (!ctx) return ac_error_set(err, AC_ERR_NOMEM, "forecast: out of memory");
    ac_tensor *y = forward(m, ctx, window, &st, err);
    bool bounds = (lo || hi) && m->intervals > 0;
    /* scratch on the arena: the scaled point, sorted quantiles, one interval's bounds */
    ac_tensor *p = y ? ac_tensor_temp(ctx, 2, (int[]){H, C}) : NULL;
    ac_tensor *sorted = p && Q > 0 ? ac_tensor_temp(ctx, 3, (int[]){H, C, Q}) : NULL;
    ac_tensor *l = p && bounds ? ac_tensor_temp(ctx, 2, (int[]){H, C}) : NULL;
    ac_tensor *u = l ? ac_tensor_temp(ctx, 2, (int[]){H, C}) : NULL;
    if (y && (!p || (Q > 0 && !sorted) || (bounds && !u)))
        st = ac_error_set(err, AC_ERR_NOMEM, "forecast: out of memory");
    if (st == AC_OK) { /* a quantile model's point is its median */
        ac_forecast_point(spec, y->data, HC, p->data);
        if (point) unscale(&ck->scaler, p->data, HC, 1, C, point);
        if (sorted) {
            memcpy(sorted->data, y->data, (size_t)HC * Q * sizeof(float));
            ac_forecast_sort_quantiles(sorted->data, HC, Q);
            if (quantiles) unscale(&ck->scaler, sorted->data, HC * Q, Q, C, quantiles);
        }
        for (int i = 0; bounds && i < m->intervals; i++) {
            ac_interval_bounds(&m->interval[i], cal, p->data, sorted ? sorted->data : NULL, H, C, Q,
                               l->data, u->data);
            if (lo) unscale(&ck->scaler, l->data, HC, 1, C, lo + i * HC);
            if (hi) unscale(&ck->scaler, u->data, HC, 1, C, hi + i * HC);
        }
    }
    give_ctx(m, ctx);
    return st;
}
