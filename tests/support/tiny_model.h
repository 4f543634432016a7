/* tiny_model.h - tables, and the tiny series and random-weight forecaster that the tests of
 * scoring and calibration share: small enough to forecast every window of the series one by one
 * in a direct computation, and the same on every run. */
#ifndef ATTNCAST_TEST_TINY_MODEL_H
#define ATTNCAST_TEST_TINY_MODEL_H

#include "attncast/attncast.h"

/* A table of rows x cols values (uninitialised, the caller fills them) without names or dates;
 * free with tm_table_free. Fails the cmocka test when out of memory. */
ac_table *tm_table_new(int rows, int cols);
void tm_table_free(ac_table *t);

/* Two channels of T rows: 3 sin(2 pi r / 10) + 0.4 N(0, 1), and level + 0.05 r + 0.3 N(0, 1)
 * (one seeded generator, the same every time). */
ac_table *tm_series_table(int T, double level);

/* A random-weight forecaster (seeded) of lookback L, horizon H and C channels: d_model 8, 2 heads,
 * 1 layer, d_ff 8, patches of 4 every 2, anchored at the window's mean (so not the naive repeat);
 * quantiles NULL for a point model, else its levels ("0.1,0.5,0.9"). Fails the cmocka test on an
 * error. */
ac_forecaster *tm_model(int L, int H, int C, const char *quantiles);

/* A forecaster of spec with weights drawn from seed (stream 0); fails the cmocka test on an
 * error. */
ac_forecaster *tm_forecaster(const ac_model_spec *spec, uint64_t seed);

/* tm_series_table(T, level) split 60/20/20 into windows of L and H, and tm_model on it. */
typedef struct tm_fixture {
    ac_table *table;
    ac_series series;
    ac_forecaster *model;
} tm_fixture;
void tm_fixture_init(tm_fixture *f, int T, double level, int L, int H, const char *quantiles);
void tm_fixture_free(tm_fixture *f);

/* The forecast [H, C] of the window at origin made on its own (a batch of one, living in ctx
 * until ac_ctx_reset); the window's input [L, C] in *x (ctx's too), its target [H, C] in y. */
const float *tm_forecast_one(ac_ctx *ctx, ac_forecaster *model, const ac_series *series, int origin,
                             const float **x, float *y);

#endif
