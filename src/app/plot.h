/* plot.h - pictures of runs and explanations, drawn by gnuplot (Debian gnuplot-nox) through a
 * pipe, each as PNG (pngcairo) and SVG (application layer, src/app: it spawns gnuplot). The data
 * goes to gnuplot inline, so no temporary files are left behind. When gnuplot is missing, every
 * function returns AC_ERR_STATE with a message saying how to install it; callers treat that as a
 * note, not a failure.
 */
#ifndef ATTNCAST_PLOT_H
#define ATTNCAST_PLOT_H

#include <stdbool.h>

#include "attncast/error.h"
#include "attncast/explain.h"

/* gnuplot is on PATH. */
bool ac_plot_available(void);

/* A run folder's pictures, from its files: learning_curves.{png,svg} from history.csv (loss
 * against epochs, elapsed time on the top axis), and forecasts.{png,svg} from
 * test_forecasts.csv (when present; on a date axis when its rows have dates). Legends sit
 * outside the data. */
ac_status ac_plot_run(const char *run_dir, ac_error *err);

/* A backtest folder's pictures (cli backtest): error_by_step.{png,svg} from error_by_step.csv
 * (step,model_mae,naive_mae: the model's and the naive repeat's MAE at each horizon step) and
 * error_by_fold.{png,svg} from error_by_fold.csv (fold,first_origin,first_origin_date,origins,
 * model_mae,naive_mae: the same per fold, against the fold's first origin row), and, when the
 * backtest has intervals, coverage_by_fold.{png,svg} from coverage_by_fold.csv (fold,
 * first_origin,first_origin_date,origins, then <method>_<level %> per interval: each interval's
 * empirical coverage per fold, its nominal level as a dashed line). */
ac_status ac_plot_backtest(const char *dir, ac_error *err);

/* An explanation's pictures into dir: attention_layer<l>.{png,svg} (token x token, mean over
 * heads and series; with future covariates a red line after the history tokens on both axes),
 * step_attention.{png,svg} (the input series of each target channel above a bar chart of the
 * attention each step receives, ac_explanation_step_mean, with the AC_EXPLAIN_TOP_SPANS most
 * attended spans numbered as explain prints them) and, with future covariates,
 * future_share.{png,svg} (per layer, mean over series: the history and future shares as stacked
 * bars, the future share expected by chance as a dashed line). window is [L, ex->columns] (or
 * [L, C] when ex->columns is 0) in original units; names are the C channel names; dates (may be
 * NULL) the window's L dates, which then label the time axis. */
ac_status ac_plot_explanation(const char *dir, const ac_explanation *ex, const float *window,
                              char *const *names, char *const *dates, ac_error *err);

#endif
