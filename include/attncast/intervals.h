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

#endif
