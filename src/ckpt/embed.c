/* embed.c - the embedding API: a loaded checkpoint plus a mutex-guarded pool of scratch
 * contexts, so concurrent forecasts on one model never share an arena (see embed.h). */
#include "attncast/embed.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "attncast/autograd.h"

#define POOL_MAX 16

struct ac_model {
    ac_checkpoint *ckpt;
    pthread_mutex_t lock;
    ac_ctx *pool[POOL_MAX]; /* idle contexts */
    int pooled;
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

ac_status ac_model_forecast(ac_model *m, const float *window, float *out, ac_error *err) {
    const ac_checkpoint *ck = m->ckpt;
    const ac_scaler *sc = &ck->scaler;
    int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ck->channels;
    for (int t = 0; t < L; t++)
        for (int c = 0; c < C; c++)
            if (!isfinite(window[t * C + c]))
                return ac_error_set(err, AC_ERR_INVALID,
                                    "forecast window row %d (of %d), channel '%s': not a finite "
                                    "number",
                                    t + 1, L, ck->channel_names[c]);
    ac_ctx *ctx = take_ctx(m);
    if (!ctx) return ac_error_set(err, AC_ERR_NOMEM, "forecast: out of memory");
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){1, L, C});
    if (x)
        for (int t = 0; t < L; t++)
            for (int c = 0; c < C; c++) /* exactly as ac_series_build scales */
                x->data[t * C + c] =
                    (float)(((double)window[t * C + c] - sc->mean[c]) / sc->std[c]);
    ac_tensor *y = ac_forecaster_forward(ctx, ck->model, x);
    ac_status st = AC_OK;
    if (!y) {
        st = ac_error_set(err, ac_ctx_failed(ctx) ? ac_ctx_status(ctx) : AC_ERR_NOMEM,
                          "forecast failed: %s", ac_ctx_error(ctx));
    } else { /* a quantile model's point is its median */
        ac_forecast_point(ac_forecaster_spec(ck->model), y->data, (int64_t)H * C, out);
        for (int h = 0; h < H; h++)
            for (int c = 0; c < C; c++)
                out[h * C + c] = (float)ac_scaler_unscale(sc, c, out[h * C + c]);
    }
    give_ctx(m, ctx);
    return st;
}
