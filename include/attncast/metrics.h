/* metrics.h - forecast error metrics and the naive baselines they are compared with.
 *
 * Over every forecast point (window x step x channel) of a split:
 *   mse, mae       on the scaled values (the benchmark convention)
 *   rmse           sqrt of the mean squared error on the original scale
 *   mape           100 mean |e| / |y| on the original scale, over points with y != 0
 *   smape          200 mean |e| / (|y| + |yhat|) on the original scale (a 0/0 point counts 0)
 *   mase           mean |e| / scale_c on the original scale, scale_c = mean |y_t - y_{t-m}| of
 *                  channel c over the training rows, m = the season (1 if no season); channels
 *                  with scale 0 are left out
 * Baselines forecast each window from its own lookback x[0..L):
 *   naive           yhat[h] = x[L-1]                      (repeat the last value)
 *   seasonal_naive  yhat[h] = x[L - m + (h mod m)]          (repeat the last season, m <= L)
 *   mean            yhat[h] = mean of x[0..L)
 */
#ifndef ATTNCAST_METRICS_H
#define ATTNCAST_METRICS_H

#include <stdint.h>

#include "attncast/windows.h"

typedef struct ac_metrics {
    double mse, mae, rmse, mape, smape, mase;
    int64_t points;
} ac_metrics;

typedef enum ac_baseline_kind {
    AC_BASELINE_NAIVE,
    AC_BASELINE_SEASONAL_NAIVE,
    AC_BASELINE_MEAN,
    AC_BASELINE_COUNT
} ac_baseline_kind;

/* "naive", "seasonal_naive", "mean" */
const char *ac_baseline_name(ac_baseline_kind kind);

/* Running sums for one forecaster over many windows. */
typedef struct ac_metrics_acc {
    const ac_scaler *scaler;
    const double *mase_scale; /* [channels], borrowed */
    int channels;
    double se_scaled, ae_scaled, se, ape, sape, ase;
    int64_t points, ape_points, ase_points;
} ac_metrics_acc;

void ac_metrics_acc_init(ac_metrics_acc *acc, const ac_scaler *scaler, const double *mase_scale);
/* Adds one window's forecast and truth, [steps, channels] scaled values each. */
void ac_metrics_acc_add(ac_metrics_acc *acc, const float *pred, const float *truth, int steps);
ac_metrics ac_metrics_acc_result(const ac_metrics_acc *acc);

/* MASE scales per channel from the training rows of the series (original scale). */
void ac_mase_scales(const ac_series *series, int season, double *scales);

/* A baseline's forecast [H, C] for one window x [L, C] (scaled values). */
void ac_baseline_forecast(ac_baseline_kind kind, const float *x, int lookback, int channels,
                          int horizon, int season, float *out);

#endif
