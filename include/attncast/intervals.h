/* intervals.h - conformal prediction intervals around any forecaster's point forecast (MODEL.md,
 * "Conformal intervals").
 *
 * After training, with the best weights, the point forecast's absolute errors |y - yhat| over
 * the n windows of a held-out split (the validation split) are collected per horizon step k and
 * channel c, on the z-scored scale. For a level alpha, the half-width w[alpha, k, c] is the
 * r-th smallest of those n errors, r = ceil((n + 1) alpha), or the largest when r exceeds n (too
 * few windows for that level: the interval may then cover less than alpha). The interval of a
 * forecast is yhat +- w on the z-scored scale, mapped to the original scale like yhat itself.
 *
 * An ac_calibration owns its two arrays (ac_calibration_free); a checkpoint stores it as
 * /calibration (checkpoint.h). Nothing here prints.
 */
#ifndef ATTNCAST_INTERVALS_H
#define ATTNCAST_INTERVALS_H

#include <stddef.h>
#include <stdint.h>

#include "attncast/error.h"
#include "attncast/forecaster.h"
#include "attncast/windows.h"

typedef struct ac_calibration {
    int count;         /* K >= 1, the number of levels */
    double *levels;    /* [K], strictly increasing, each in (0, 1) */
    int horizon;       /* H */
    int channels;      /* C: the target channels */
    int64_t windows;   /* n, the windows the errors came from (0: not known) */
    double *halfwidth; /* [K, H, C], z-scored scale, finite and >= 0 */
} ac_calibration;

/* The rank r = ceil((n + 1) level) of the error that is the half-width, 1 <= r <= n: n when the
 * rank exceeds n. (n + 1) level within 1e-9 (relative) of a whole number counts as that number,
 * so float round-off never adds one (10 x 0.8 is 8). 0 for n <= 0 (no windows: the caller's
 * error) or a level outside (0, 1). */
int64_t ac_conformal_rank(int64_t n, double level);

/* The fewest windows for which the rank of level fits (ceil((n + 1) level) <= n): 4 for 0.8,
 * 19 for 0.95. Fewer windows give the largest error as the half-width. 0 outside (0, 1). */
int64_t ac_conformal_min_windows(double level);

/* Calibrates model on every window of a split of series: the half-widths of the K levels
 * (strictly increasing, in (0, 1), 1 <= K <= AC_INTERVALS_MAX of config.h), forecasting in no-grad
 * batches of batch_size (ac_forecast_windows; its point forecast, the median of a quantile
 * model). On success out owns its arrays (ac_calibration_free). AC_ERR_INVALID for bad levels or
 * a split without windows, AC_ERR_NOMEM when memory is short (n x H x C floats are kept). */
ac_status ac_calibrate(ac_forecaster *model, const ac_series *series, ac_split_kind split,
                       const double *levels, int K, int batch_size, ac_calibration *out,
                       ac_error *err);
/* The same over the pooled windows of every series of a panel (one calibration for them all, on
 * the z-scored scale each series is scaled to). */
ac_status ac_calibrate_panel(ac_forecaster *model, const ac_panel *panel, ac_split_kind split,
                             const double *levels, int K, int batch_size, ac_calibration *out,
                             ac_error *err);

/* The interval of level level_index around a point forecast [H, C] (scaled values): lo = point
 * - w, hi = point + w, each [H, C]. */
void ac_calibration_bounds(const ac_calibration *cal, int level_index, const float *point,
                           float *lo, float *hi);

/* The mean half-width of a level over every step and channel (z-scored scale). */
double ac_calibration_mean_halfwidth(const ac_calibration *cal, int level_index);

/* A deep copy of src into dst (dst's previous contents are not freed). */
ac_status ac_calibration_copy(ac_calibration *dst, const ac_calibration *src, ac_error *err);
/* Frees the arrays and zeroes cal; safe on a zeroed struct. */
void ac_calibration_free(ac_calibration *cal);

/* ---- the intervals a model offers, as every output names and computes them ---- */

/* Where an interval comes from: the conformal half-widths of a calibration, or a pair of a
 * quantile model's levels (q, 1 - q), q < 0.5, which make the central interval of level 1 - 2q. */
typedef enum ac_interval_method { AC_INTERVAL_CONFORMAL, AC_INTERVAL_QUANTILE } ac_interval_method;

/* The most intervals a model offers: every conformal level and every quantile pair. */
#define AC_INTERVALS_CAP (8 + 8)

typedef struct ac_interval_def {
    ac_interval_method method;
    double level; /* nominal coverage in (0, 1) */
    int lo, hi;   /* conformal: the calibration's level index (both); quantile: the indices of
                   * the levels q and 1 - q among the model's quantiles */
} ac_interval_def;

/* "conformal", "quantile" */
const char *ac_interval_method_name(ac_interval_method method);

/* The intervals a model offers, in this order: each level of cal (NULL: none), increasing, then
 * each symmetric pair of the spec's quantile levels (q and 1 - q both present, within 1e-6),
 * increasing in level. Writes at most cap definitions to out and returns how many it wrote. */
int ac_interval_defs(const ac_model_spec *spec, const ac_calibration *cal, ac_interval_def *out,
                     int cap);

/* One window's bounds lo, hi [H, C] (scaled values) of an interval: conformal ones around point
 * [H, C] with cal's half-widths, quantile ones from quantiles [H, C, Q] (sorted, as
 * ac_forecast_windows passes them). */
void ac_interval_bounds(const ac_interval_def *def, const ac_calibration *cal, const float *point,
                        const float *quantiles, int H, int C, int Q, float *lo, float *hi);

/* A level as the column suffix and label of its interval: its percentage in the shortest form
 * ("80" for 0.8, "97.5" for 0.975), so that columns read OT_lo80, OT_hi80. */
void ac_level_percent(double level, char *buf, size_t n);

#endif
