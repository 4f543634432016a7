/* tiny_model.c - the tiny series and forecaster of tiny_model.h. */
#include "support/tiny_model.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#define PI 3.14159265358979323846

ac_table *tm_table_new(int rows, int cols) {
    ac_table *t = calloc(1, sizeof *t);
    if (!t) fail_msg("out of memory");
    t->rows = rows;
    t->cols = cols;
    t->targets = cols;
    t->values = malloc((size_t)rows * cols * sizeof(double));
    if (!t->values) fail_msg("out of memory");
    return t;
}

void tm_table_free(ac_table *t) {
    if (!t) return;
    free(t->values);
    free(t);
}

ac_table *tm_series_table(int T, double level) {
    ac_table *t = tm_table_new(T, 2);
    ac_rng rng;
    ac_rng_seed(&rng, 5, 0);
    for (int r = 0; r < T; r++) {
        t->values[r * 2] = 3.0 * sin(2 * PI * r / 10.0) + 0.4 * ac_rng_normal(&rng);
        t->values[r * 2 + 1] = level + 0.05 * r + 0.3 * ac_rng_normal(&rng);
    }
    return t;
}

ac_forecaster *tm_forecaster(const ac_model_spec *spec, uint64_t seed) {
    ac_rng rng;
    ac_rng_seed(&rng, seed, 0);
    ac_error err;
    ac_forecaster *m = ac_forecaster_new(spec, &rng, &err);
    if (!m) fail_msg("forecaster_new: %s", err.msg);
    return m;
}

ac_forecaster *tm_model(int L, int H, int C, const char *quantiles) {
    ac_config c;
    ac_config_defaults(&c);
    c.data.lookback = L;
    c.data.horizon = H;
    c.model.d_model = 8;
    c.model.heads = 2;
    c.model.layers = 1;
    c.model.d_ff = 8;
    c.model.patch_len = 4;
    c.model.patch_stride = 2;
    c.model.anchor = AC_ANCHOR_MEAN;
    char why[256];
    if (quantiles &&
        !ac_config_parse_levels(quantiles, AC_MAX_QUANTILES, &c.model.quantiles, why, sizeof why))
        fail_msg("quantiles: %s", why);
    ac_model_spec spec = ac_config_model_spec(&c, C);
    ac_rng rng;
    ac_rng_seed(&rng, 11, AC_RNG_STREAM_INIT);
    ac_error err;
    ac_forecaster *m = ac_forecaster_new(&spec, &rng, &err);
    if (!m) fail_msg("model: %s", err.msg);
    return m;
}

void tm_fixture_init(tm_fixture *f, int T, double level, int L, int H, const char *quantiles) {
    f->table = tm_series_table(T, level);
    ac_error err;
    if (ac_series_build(&f->series, f->table, (double[]){0.6, 0.2, 0.2}, L, H, &err) != AC_OK)
        fail_msg("series: %s", err.msg);
    f->model = tm_model(L, H, f->table->cols, quantiles);
}

void tm_fixture_free(tm_fixture *f) {
    ac_forecaster_free(f->model);
    ac_series_free(&f->series);
    tm_table_free(f->table);
}

const float *tm_forecast_one(ac_ctx *ctx, ac_forecaster *model, const ac_series *series, int origin,
                             const float **x, float *y) {
    ac_tensor *in = ac_tensor_temp(ctx, 3, (int[]){1, series->lookback, series->channels});
    ac_series_gather(series, &origin, 1, in->data, y);
    ac_tensor *p = ac_forecaster_forward(ctx, model, in);
    if (!p) fail_msg("forward: %s", ac_ctx_error(ctx));
    if (x) *x = in->data;
    return p->data;
}
