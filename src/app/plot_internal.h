/* plot_internal.h - the gnuplot scripts behind plot.h's pictures, written to any stream: plot.c
 * sends them to gnuplot, tests read them. Each script holds its data inline and draws its
 * picture to dir/<name>.png and dir/<name>.svg. Not part of the public API. */
#ifndef ATTNCAST_PLOT_INTERNAL_H
#define ATTNCAST_PLOT_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "attncast/error.h"
#include "attncast/explain.h"

/* learning_curves from dir/history.csv: loss against epochs, the elapsed wall-clock time on the
 * top axis. An error when the file has no epochs. */
ac_status ac_plot_learning_curves_script(FILE *out, const char *dir, ac_error *err);

/* forecasts from dir/test_forecasts.csv, on a date axis when every row has a date. *drawn is
 * false (and nothing written) when the file is missing or empty. */
ac_status ac_plot_forecasts_script(FILE *out, const char *dir, bool *drawn, ac_error *err);

/* attention_layer<l> for an explanation (see ac_plot_explanation). */
void ac_plot_attention_layer_script(FILE *out, const char *dir, const ac_explanation *ex, int l);

/* future_share for an explanation with future tokens (see ac_plot_explanation). */
void ac_plot_future_share_script(FILE *out, const char *dir, const ac_explanation *ex);

/* step_attention for an explanation (see ac_plot_explanation); window [L, ex->columns] (or
 * [L, C] when ex->columns is 0), of which the C targets are drawn; dates: the window's L dates
 * or NULL. */
void ac_plot_step_attention_script(FILE *out, const char *dir, const ac_explanation *ex,
                                   const float *window, char *const *names, char *const *dates);

#endif
