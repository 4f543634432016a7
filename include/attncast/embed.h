/* embed.h - using a saved forecaster from another C program.
 *
 *     ac_error err;
 *     ac_model *m = ac_model_load("runs/default/best.h5", &err);   // NULL: err.msg says why
 *     int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ac_model_channels(m);
 *     float window[L * C], forecast[H * C];   // row-major, oldest row first, original units
 *     ... fill window with the last L rows ...
 *     if (ac_model_forecast(m, window, forecast, &err) != AC_OK) ...
 *     ac_model_free(m);
 *
 * Prediction intervals and quantiles come from ac_model_forecast_bounds, in the same units:
 *
 *     int I = ac_model_interval_count(m), Q = ac_model_quantile_count(m);
 *     ac_interval_method method; double level;
 *     ac_model_interval(m, 0, &method, &level);   // e.g. conformal, 0.8
 *     float point[H * C], lo[I * H * C], hi[I * H * C], q[H * C * Q];
 *     if (ac_model_forecast_bounds(m, window, point, lo, hi, Q ? q : NULL, &err) != AC_OK) ...
 *     // interval i at step h, channel c: lo[(i * H + h) * C + c] .. hi[(i * H + h) * C + c]
 *
 * The intervals a model offers are those of intervals.h's ac_interval_defs, in its order: each
 * conformal level of the checkpoint's /calibration (none without one: `attncast calibrate` adds
 * it), then each symmetric pair (q, 1 - q) of a quantile model's levels. Every output of attncast
 * (predict, eval, backtest) names and computes them the same way.
 *
 * A model trained with covariates (MODEL.md "Covariates": data.past_covariates,
 * data.future_covariates, data.calendar) is forecast with ac_model_forecast_covariates; its
 * windows hold every real column, the targets first, and its future rows the future-known real
 * columns over the horizon; calendar features are computed from the dates given:
 *
 *     int K = ac_model_columns(m), F = ac_model_future_columns(m);   // K >= C, F <= K - C
 *     float window[L * K], future[H * F];   // column k named ac_model_column_name(m, k); the
 *                                           // future's column j is window column K - F + j
 *     long long dates[L + H];   // only when ac_model_calendar(m) != 0: seconds (calendar.h)
 *     if (ac_model_forecast_covariates(m, window, F ? future : NULL,
 *                                      ac_model_calendar(m) ? dates : NULL,
 *                                      point, lo, hi, q, &err) != AC_OK) ...
 *
 * ac_model_forecast and ac_model_forecast_bounds refuse such a model (they have no place for the
 * covariates); ac_model_forecast_covariates also forecasts a model without covariates (K = C,
 * F = 0, no dates), exactly as ac_model_forecast_bounds does.
 *
 * A loaded model is read-only: any number of threads may call ac_model_forecast and
 * ac_model_forecast_bounds on it at once (each call takes its own scratch context from a small
 * pool). Inputs and outputs are in the data's original units; scaling with the checkpoint's
 * scaler happens inside.
 */
#ifndef ATTNCAST_EMBED_H
#define ATTNCAST_EMBED_H

#include <stdbool.h>

#include "attncast/checkpoint.h"
#include "attncast/error.h"
#include "attncast/intervals.h"

typedef struct ac_model ac_model;

/* Loads and checks a checkpoint (see checkpoint.h for what is verified). */
ac_model *ac_model_load(const char *path, ac_error *err);
void ac_model_free(ac_model *model);

int ac_model_lookback(const ac_model *model); /* L: rows the window must have */
int ac_model_horizon(const ac_model *model);  /* H: rows the forecast has */
int ac_model_channels(const ac_model *model); /* C: the targets, the values forecast per row */
const char *ac_model_channel_name(const ac_model *model, int channel);

/* K: values per window row of ac_model_forecast_covariates: the C targets, then the model's past
 * covariates, then its real-valued future covariates (K = C for a model without covariates). */
int ac_model_columns(const ac_model *model);
/* Column k's name (k < C: the channel's), NULL when k is not in [0, K). */
const char *ac_model_column_name(const ac_model *model, int column);
/* F: the real-valued future covariates, the values per future row: window columns K - F .. K - 1
 * (0 without data.future_covariates). */
int ac_model_future_columns(const ac_model *model);
/* The calendar features the model computes from the dates (AC_CALENDAR_* bits of calendar.h,
 * data.calendar); 0 when it needs no dates. */
unsigned ac_model_calendar(const ac_model *model);

/* window: [L, C], out: [H, C], both row-major in original units; for a quantile model
 * (model.quantiles) out is the median of its sorted levels. A non-finite value in the window is
 * an AC_ERR_INVALID naming its row and channel; a model with covariates is an AC_ERR_INVALID
 * (forecast it with ac_model_forecast_covariates). Thread-safe. */
ac_status ac_model_forecast(ac_model *model, const float *window, float *out, ac_error *err);

/* I: the prediction intervals the model offers (conformal levels first, then quantile pairs);
 * 0 for a point model without /calibration. */
int ac_model_interval_count(const ac_model *model);
/* Interval i's method and nominal coverage level in (0, 1) (either pointer may be NULL); false
 * when i is not in [0, I). */
bool ac_model_interval(const ac_model *model, int i, ac_interval_method *method, double *level);

/* Q: the quantile levels of a quantile model (model.quantiles), 0 for a point model. */
int ac_model_quantile_count(const ac_model *model);
/* Level j in (0, 1), increasing in j (one of them 0.5, the point forecast); 0 when j is not in
 * [0, Q). */
double ac_model_quantile_level(const ac_model *model, int j);

/* The forecast of window [L, C] with its bounds, all row-major in original units: point [H, C]
 * (what ac_model_forecast gives); lo and hi [I, H, C], interval i's lower and upper bounds at
 * step h and channel c at (i * H + h) * C + c, lo <= point <= hi; for a
 * quantile model quantiles [H, C, Q], each cell's Q values sorted ascending (the levels of
 * ac_model_quantile_level). Any of the four may be NULL (not wanted); quantiles is ignored for a
 * point model. A non-finite value in the window is an AC_ERR_INVALID naming its row and channel;
 * a model with covariates is an AC_ERR_INVALID (ac_model_forecast_covariates). Thread-safe. */
ac_status ac_model_forecast_bounds(ac_model *model, const float *window, float *point, float *lo,
                                   float *hi, float *quantiles, ac_error *err);

/* The forecast of a model with covariates (any model), as ac_model_forecast_bounds gives it:
 * window [L, K] (ac_model_columns) and future [H, F] (ac_model_future_columns; NULL when F = 0)
 * row-major in original units, future row h being the h-th step after the window's last row;
 * dates [L + H] (NULL when ac_model_calendar is 0): the dates of the window's rows then of the
 * horizon's, in seconds since 1970-01-01 00:00 as ac_date_parse reads them, for the calendar
 * features. point, lo, hi and quantiles as in ac_model_forecast_bounds (the targets only). A
 * non-finite value is an AC_ERR_INVALID naming its row and column; so is a NULL future or dates
 * the model needs. Thread-safe. */
ac_status ac_model_forecast_covariates(ac_model *model, const float *window, const float *future,
                                       const long long *dates, float *point, float *lo, float *hi,
                                       float *quantiles, ac_error *err);

/* A model trained on long-format data (MODEL.md "Many series", data.format = long) scales each
 * series with its own scaler, so it is forecast one series at a time, by the series' index:
 *
 *     int i = ac_model_series_find(m, "store_7");   // -1: not a series of the model
 *     ac_model_forecast_series(m, i, window, future, dates, point, lo, hi, q, &err);
 *
 * and ac_model_forecast, ac_model_forecast_bounds and ac_model_forecast_covariates refuse it
 * (AC_ERR_INVALID). S: its series (0 for a model of one wide table). */
int ac_model_series_count(const ac_model *model);
/* Series i's id (NULL when i is not in [0, S)). */
const char *ac_model_series_id(const ac_model *model, int i);
/* The index of the series named id, or -1. */
int ac_model_series_find(const ac_model *model, const char *id);
/* ac_model_forecast_covariates of series i (in [0, S), else AC_ERR_INVALID): the window, future
 * and outputs in that series' original units, scaled with its scaler. Thread-safe. */
ac_status ac_model_forecast_series(ac_model *model, int series, const float *window,
                                   const float *future, const long long *dates, float *point,
                                   float *lo, float *hi, float *quantiles, ac_error *err);

/* n windows forecast in one batch through the model, faster than n calls (one pass, the
 * products n times taller). Window i's inputs are laid out as for one window, one after the
 * other: windows [n, L, K], futures [n, H, F] (NULL without future covariates), dates
 * [n, L + H] (NULL without calendar features); series[i] is window i's series for a long-format
 * model (NULL otherwise). Outputs window after window, each as ac_model_forecast_covariates
 * writes it: point [n, H, C], lo and hi [n, I, H, C], quantiles [n, H, C, Q] (any may be NULL).
 * On the own matrix kernels (gemm.h) each window's forecast is the same, bit for bit, as its own
 * call's. A bad window's error names it ("window 3 (of 10): ..."). */
ac_status ac_model_forecast_batch(ac_model *model, int n, const int *series, const float *windows,
                                  const float *futures, const long long *dates, float *point,
                                  float *lo, float *hi, float *quantiles, ac_error *err);

/* The checkpoint behind the model (config, scaler, training state), for tools. */
const ac_checkpoint *ac_model_checkpoint(const ac_model *model);

#endif
