/* metrics.h - forecast error metrics and the naive baselines they are compared with.
 *
 * Every metric is kept per channel and pooled over the channels. Over the forecast points
 * (window x step) of a channel c, e = yhat - y:
 *   mse, mae   on the scaled values (the benchmark convention)
 *   rmse       sqrt of the mean of e^2, on the original scale (the channel's own units)
 *   mae_orig   mean |e| on the original scale (the channel's own units)
 *   wape       100 sum |e| / sum |y| on the original scale (NAN when sum |y| is 0)
 *   smape      200 mean |e| / (|y| + |yhat|) on the original scale (a 0/0 point counts 0)
 *   mape       100 mean |e| / |y| on the original scale, over the points whose |y| is at least
 *              the channel's MAPE floor (AC_MAPE_FLOOR x its mean |y| over the scored rows, see
 *              ac_mape_floors) and not 0; NAN (left out) when fewer than AC_MAPE_MIN_SHARE of the
 *              channel's points qualify, so a series passing near zero gives no MAPE rather than
 *              a huge one
 *   mase       mean |e| / scale_c on the original scale, scale_c = mean |y_t - y_{t-m}| of
 *              channel c over the training rows, m = the season (1 if no season); a channel
 *              with scale 0 has none
 * Pooled over the channels (every metric there is free of units):
 *   mse, mae, smape, mase   over every point of every channel (mase: of the channels with one)
 *   wape                    the mean of the channels' WAPEs (those with one), so that a channel
 *                           in large units does not outweigh the others
 *   mape                    over the qualifying points of the channels whose MAPE is given;
 *                           NAN when no channel's is
 *   rmse, mae_orig          NAN for several channels (their units may differ); for a single
 *                           channel its own values
 * Baselines forecast each window from its own lookback x[0..L):
 *   naive           yhat[h] = x[L-1]                      (repeat the last value)
 *   seasonal_naive  yhat[h] = x[L - m + (h mod m)]          (repeat the last season, m <= L)
 *   mean            yhat[h] = mean of x[0..L)
 */
#ifndef ATTNCAST_METRICS_H
#define ATTNCAST_METRICS_H

#include <stdint.h>

#include "attncast/error.h"
#include "attncast/windows.h"

/* A point counts toward MAPE when |y| >= AC_MAPE_FLOOR x its channel's mean |y|. */
#define AC_MAPE_FLOOR 0.1
/* A channel's MAPE is given only when at least this share of its points counts. */
#define AC_MAPE_MIN_SHARE 0.9

typedef struct ac_metrics {
    double mse, mae;       /* scaled values */
    double rmse, mae_orig; /* original units; NAN when pooled over several channels */
    double wape, smape, mape, mase;
    int64_t points;
    int64_t mape_points;   /* the points mape averages over */
    double mape_share;     /* the share of points at or above the MAPE floor */
    int mape_channels_out; /* pooled: channels whose MAPE is left out (too few points qualify) */
} ac_metrics;

typedef enum ac_baseline_kind {
    AC_BASELINE_NAIVE,
    AC_BASELINE_SEASONAL_NAIVE,
    AC_BASELINE_MEAN,
    AC_BASELINE_COUNT
} ac_baseline_kind;

/* "naive", "seasonal_naive", "mean" */
const char *ac_baseline_name(ac_baseline_kind kind);

/* Running sums over one channel's points. */
typedef struct ac_metrics_sums {
    double se_scaled, ae_scaled, se, ae, abs_y, ape, sape, ase;
    int64_t points, ape_points, ase_points;
} ac_metrics_sums;

/* Running sums for one forecaster over many windows, per channel. */
typedef struct ac_metrics_acc {
    const ac_scaler *scaler;
    const double *mase_scale; /* [channels], borrowed; NULL: no MASE */
    const double *mape_floor; /* [channels], borrowed; NULL: every y != 0 counts toward MAPE */
    int channels;
    ac_metrics_sums *sums; /* [channels], owned */
} ac_metrics_acc;

/* Allocates the sums (ac_metrics_acc_free releases them); the scaler and arrays are borrowed. */
ac_status ac_metrics_acc_init(ac_metrics_acc *acc, const ac_scaler *scaler,
                              const double *mase_scale, const double *mape_floor, ac_error *err);
void ac_metrics_acc_free(ac_metrics_acc *acc);
/* Adds one window's forecast and truth, [steps, channels] scaled values each. */
void ac_metrics_acc_add(ac_metrics_acc *acc, const float *pred, const float *truth, int steps);
/* Pooled over the channels. */
ac_metrics ac_metrics_acc_result(const ac_metrics_acc *acc);
/* Channel c alone. */
ac_metrics ac_metrics_acc_channel(const ac_metrics_acc *acc, int channel);

/* MASE scales per channel from the training rows of the series (original scale). */
void ac_mase_scales(const ac_series *series, int season, double *scales);

/* MAPE floors per channel: AC_MAPE_FLOOR x the mean |y| (original scale) over the rows that the
 * targets of the windows r cover, each row once. */
void ac_mape_floors(const ac_series *series, ac_window_range r, double *floors);

/* A baseline's forecast [H, C] for one window x [L, C] (scaled values). */
void ac_baseline_forecast(ac_baseline_kind kind, const float *x, int lookback, int channels,
                          int horizon, int season, float *out);

#endif
