/* calibration.c - conformal half-widths from a split's absolute errors (include/attncast/
 * intervals.h, MODEL.md "Conformal intervals").
 *
 * ac_calibrate forecasts every window of the split through ac_forecast_windows and keeps the
 * point forecast's absolute errors laid out [H, C, n] (one contiguous run of n per step and
 * channel), then sorts each run once and reads every level's rank from it.
 */
#include "attncast/intervals.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/config.h"
#include "attncast/trainer.h"

/* (n + 1) level this close (relative) to a whole number is that number: round-off, not a rank
 * higher. */
#define RANK_TOLERANCE 1e-9

/* ceil(x), except that x within RANK_TOLERANCE of a whole number is that number. */
static double guarded_ceil(double x) {
    double whole = nearbyint(x);
    if (fabs(x - whole) <= RANK_TOLERANCE * fmax(1.0, fabs(x))) return whole;
    return ceil(x);
}

static bool level_ok(double level) {
    return isfinite(level) && level > 0.0 && level < 1.0;
}

int64_t ac_conformal_rank(int64_t n, double level) {
    if (n <= 0 || !level_ok(level)) return 0;
    double r = guarded_ceil((double)(n + 1) * level);
    if (r < 1.0) return 1;
    return r > (double)n ? n : (int64_t)r;
}

int64_t ac_conformal_min_windows(double level) {
    if (!level_ok(level)) return 0;
    /* ceil((n + 1) a) <= n  <=>  (n + 1) a <= n  <=>  n >= a / (1 - a) */
    int64_t n = (int64_t)guarded_ceil(level / (1.0 - level));
    if (n < 1) n = 1;
    /* the guard above and the one in ac_conformal_rank agree up to round-off; settle on theirs */
    while (n > 1 && guarded_ceil((double)n * level) <= (double)(n - 1)) n--;
    while (guarded_ceil((double)(n + 1) * level) > (double)n) n++;
    return n;
}

typedef struct error_table {
    float *errors; /* [H, C, n]: |y - yhat| of window i at (k, c) is errors[(k C + c) n + i] */
    int64_t n, next;
    size_t values; /* H C */
} error_table;

static void keep_errors(void *user, int t, const float *x, const float *y, const float *point,
                        const float *quantiles) {
    (void)t, (void)x, (void)quantiles;
    error_table *e = user;
    for (size_t j = 0; j < e->values; j++)
        e->errors[j * (size_t)e->n + (size_t)e->next] = fabsf(y[j] - point[j]);
    e->next++;
}

static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* ac_calibrate over the pooled windows of count series, in series order. */
static ac_status calibrate(ac_forecaster *model, const ac_series *series, int count,
                           ac_split_kind split, const double *levels, int K, int batch_size,
                           ac_calibration *out, ac_error *err) {
    memset(out, 0, sizeof *out);
    if (K < 1 || K > AC_INTERVALS_MAX)
        return ac_error_set(err, AC_ERR_INVALID, "calibration: %d levels (expected 1 to %d)", K,
                            AC_INTERVALS_MAX);
    for (int i = 0; i < K; i++)
        if (!level_ok(levels[i]) || (i > 0 && !(levels[i] > levels[i - 1])))
            return ac_error_set(err, AC_ERR_INVALID,
                                "calibration: level %g is not in (0, 1) or not above the one "
                                "before it",
                                levels[i]);
    int64_t n = 0;
    for (int i = 0; i < count; i++) n += ac_series_windows(&series[i], split).count;
    if (n < 1 && count == 1)
        return ac_error_set(err, AC_ERR_INVALID,
                            "calibration: the %s split has no window (%d rows, lookback %d, "
                            "horizon %d)",
                            ac_split_kind_name(split), series->rows, series->lookback,
                            series->horizon);
    if (n < 1)
        return ac_error_set(err, AC_ERR_INVALID,
                            "calibration: no series has a window in the %s split",
                            ac_split_kind_name(split));
    int H = series->horizon, C = series->channels;
    error_table e = {.n = n, .values = (size_t)H * (size_t)C};
    if (e.values > SIZE_MAX / sizeof(float) / (size_t)e.n)
        return ac_error_set(err, AC_ERR_NOMEM, "calibration: too many errors to keep");
    e.errors = malloc(e.values * (size_t)e.n * sizeof(float));
    out->levels = malloc((size_t)K * sizeof(double));
    out->halfwidth = malloc((size_t)K * e.values * sizeof(double));
    if (!e.errors || !out->levels || !out->halfwidth) {
        free(e.errors);
        ac_calibration_free(out);
        return ac_error_set(err, AC_ERR_NOMEM, "calibration: out of memory");
    }
    ac_status st = AC_OK;
    for (int i = 0; i < count && st == AC_OK; i++) {
        ac_window_range r = ac_series_windows(&series[i], split);
        st = ac_forecast_windows(model, &series[i], r.first, r.count, 1, batch_size, keep_errors,
                                 &e, err);
    }
    if (st != AC_OK) {
        free(e.errors);
        ac_calibration_free(out);
        return st;
    }
    out->count = K;
    memcpy(out->levels, levels, (size_t)K * sizeof(double));
    out->horizon = H;
    out->channels = C;
    out->windows = e.n;
    for (size_t j = 0; j < e.values * (size_t)e.n; j++)
        if (!isfinite(e.errors[j])) {
            free(e.errors);
            ac_calibration_free(out);
            return ac_error_set(err, AC_ERR_INVALID,
                                "calibration: a forecast of the %s split is not finite",
                                ac_split_kind_name(split));
        }
    for (size_t j = 0; j < e.values; j++) {
        float *run = e.errors + j * (size_t)e.n;
        qsort(run, (size_t)e.n, sizeof *run, compare_floats);
        for (int a = 0; a < K; a++)
            out->halfwidth[(size_t)a * e.values + j] = run[ac_conformal_rank(e.n, levels[a]) - 1];
    }
    free(e.errors);
    return AC_OK;
}

ac_status ac_calibrate(ac_forecaster *model, const ac_series *series, ac_split_kind split,
                       const double *levels, int K, int batch_size, ac_calibration *out,
                       ac_error *err) {
    return calibrate(model, series, 1, split, levels, K, batch_size, out, err);
}

ac_status ac_calibrate_panel(ac_forecaster *model, const ac_panel *panel, ac_split_kind split,
                             const double *levels, int K, int batch_size, ac_calibration *out,
                             ac_error *err) {
    return calibrate(model, panel->series, panel->count, split, levels, K, batch_size, out, err);
}

void ac_calibration_bounds(const ac_calibration *cal, int level_index, const float *point,
                           float *lo, float *hi) {
    size_t values = (size_t)cal->horizon * (size_t)cal->channels;
    const double *w = cal->halfwidth + (size_t)level_index * values;
    for (size_t j = 0; j < values; j++) {
        lo[j] = (float)((double)point[j] - w[j]);
        hi[j] = (float)((double)point[j] + w[j]);
    }
}

double ac_calibration_mean_halfwidth(const ac_calibration *cal, int level_index) {
    size_t values = (size_t)cal->horizon * (size_t)cal->channels;
    const double *w = cal->halfwidth + (size_t)level_index * values;
    double sum = 0.0;
    for (size_t j = 0; j < values; j++) sum += w[j];
    return values ? sum / (double)values : 0.0;
}

ac_status ac_calibration_copy(ac_calibration *dst, const ac_calibration *src, ac_error *err) {
    size_t values = (size_t)src->count * (size_t)src->horizon * (size_t)src->channels;
    ac_calibration c = *src;
    c.levels = malloc((size_t)src->count * sizeof(double));
    c.halfwidth = malloc(values * sizeof(double));
    if (!c.levels || !c.halfwidth) {
        ac_calibration_free(&c);
        return ac_error_set(err, AC_ERR_NOMEM, "calibration: out of memory");
    }
    memcpy(c.levels, src->levels, (size_t)src->count * sizeof(double));
    memcpy(c.halfwidth, src->halfwidth, values * sizeof(double));
    *dst = c;
    return AC_OK;
}

void ac_calibration_free(ac_calibration *cal) {
    free(cal->levels);
    free(cal->halfwidth);
    memset(cal, 0, sizeof *cal);
}
