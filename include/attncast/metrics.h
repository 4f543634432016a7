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
/* Adds from's sums into into's, channel by channel (the same channel count): the windows of
 * another series, each scored on its own scale, pooled. */
void ac_metrics_acc_merge(ac_metrics_acc *into, const ac_metrics_acc *from);
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

/* ---- intervals and quantiles ---- */

/* Scores of an interval forecast [lo, hi] of nominal coverage `level` over a channel's points:
 *   coverage        the share of points with lo <= y <= hi
 *   width           mean hi - lo, original units (width_scaled: on the scaled values)
 *   winkler         the mean interval (Winkler) score, original units (winkler_scaled: scaled
 *                   values): hi - lo, plus 2 / (1 - level) times the distance from y to the
 *                   interval when y falls outside it
 * Pooled over the channels: coverage, width_scaled and winkler_scaled over every point; width and
 * winkler NAN for several channels (their units may differ), a single channel's own otherwise. */
typedef struct ac_interval_metrics {
    double level;
    double coverage;
    double width, winkler;               /* original units */
    double width_scaled, winkler_scaled; /* scaled values */
    int64_t points;
} ac_interval_metrics;

typedef struct ac_interval_sums {
    double width, winkler, width_scaled, winkler_scaled;
    int64_t covered, points;
} ac_interval_sums;

/* Running sums of one interval (one level) over many windows, per channel. */
typedef struct ac_interval_acc {
    const ac_scaler *scaler; /* borrowed */
    double level;
    int channels;
    ac_interval_sums *sums; /* [channels], owned */
} ac_interval_acc;

/* AC_ERR_INVALID for a level outside (0, 1). */
ac_status ac_interval_acc_init(ac_interval_acc *acc, const ac_scaler *scaler, double level,
                               ac_error *err);
/* Adds from's sums into into's (the same channels), as ac_metrics_acc_merge. */
void ac_interval_acc_merge(ac_interval_acc *into, const ac_interval_acc *from);
void ac_interval_acc_free(ac_interval_acc *acc);
/* Adds one window: lo, hi, truth [steps, channels], scaled values. */
void ac_interval_acc_add(ac_interval_acc *acc, const float *lo, const float *hi, const float *truth,
                         int steps);
ac_interval_metrics ac_interval_acc_result(const ac_interval_acc *acc);
ac_interval_metrics ac_interval_acc_channel(const ac_interval_acc *acc, int channel);

/* Scores of a quantile forecast at levels q_1 < ... < q_Q over a channel's points, original scale,
 * as GluonTS defines them: QL_q = 2 sum over the points of rho_q(y - yhat_q), rho_q(e) =
 * max(q e, (q - 1) e), and
 *   wql    the mean over q of QL_q / sum |y| (GluonTS's mean_wQuantileLoss, free of units; NAN
 *          when sum |y| is 0)
 *   crps   the mean over q of QL_q / points: the CRPS approximated on the quantile grid, in the
 *          channel's units (wql is the same sum weighted by sum |y| instead of the point count)
 * Pooled over the channels: wql the mean of the channels' (as WAPE, so that a channel in large
 * units does not outweigh the others); crps NAN for several channels. */
typedef struct ac_quantile_metrics {
    double wql, crps;
    int64_t points;
} ac_quantile_metrics;

/* Running sums of one quantile forecaster over many windows, per channel. */
typedef struct ac_quantile_acc {
    const ac_scaler *scaler; /* borrowed */
    int channels, quantiles;
    double *levels;  /* [quantiles], owned copy */
    double *loss;    /* [channels, quantiles]: sum of rho_q, original units */
    double *abs_y;   /* [channels] */
    int64_t *points; /* [channels] */
} ac_quantile_acc;

/* AC_ERR_INVALID unless 1 <= quantiles and the levels are strictly increasing in (0, 1). */
ac_status ac_quantile_acc_init(ac_quantile_acc *acc, const ac_scaler *scaler, const double *levels,
                               int quantiles, ac_error *err);
void ac_quantile_acc_free(ac_quantile_acc *acc);
/* Adds from's sums into into's (the same channels and levels), as ac_metrics_acc_merge. */
void ac_quantile_acc_merge(ac_quantile_acc *into, const ac_quantile_acc *from);
/* Adds one window: quant [steps, channels, quantiles] and truth [steps, channels], scaled. */
void ac_quantile_acc_add(ac_quantile_acc *acc, const float *quant, const float *truth, int steps);
ac_quantile_metrics ac_quantile_acc_result(const ac_quantile_acc *acc);
ac_quantile_metrics ac_quantile_acc_channel(const ac_quantile_acc *acc, int channel);

/* The quantile levels an interval set implies, for scoring intervals as quantiles: for levels
 * a_1 < ... < a_K, the 2K + 1 levels (1 - a_K) / 2 < ... < (1 - a_1) / 2 < 0.5 < (1 + a_1) / 2
 * < ... < (1 + a_K) / 2 (so out needs 2K + 1 entries). */
void ac_interval_quantile_levels(const double *levels, int count, double *out);

/* The seasonal-naive quantile baseline: its forecast of quantile q is the seasonal-naive forecast
 * plus an offset per (step, channel, q): the empirical q-quantile (the ceil(n q)-th smallest of n)
 * of the seasonal naive's errors y - yhat at that step and channel over the windows r of the
 * series (the validation windows, so that no test value informs it). offsets: [H, C, Q], scaled
 * values, nondecreasing in q. AC_ERR_INVALID for an empty range. */
ac_status ac_baseline_quantile_offsets(const ac_series *series, ac_window_range r, int season,
                                       const double *levels, int quantiles, float *offsets,
                                       ac_error *err);
/* The baseline's quantile forecast [H, C, Q] for one window x [L, C] (scaled values). */
void ac_baseline_quantile_forecast(const float *x, int lookback, int channels, int horizon,
                                   int season, const float *offsets, int quantiles, float *out);

#endif
