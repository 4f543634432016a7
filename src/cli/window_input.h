/* window_input.h - what `predict` and `explain` share: reading a forecast window from a CSV for a
 * checkpoint, and writing a forecast as CSV with the dates continued. */
#ifndef ATTNCAST_CLI_WINDOW_INPUT_H
#define ATTNCAST_CLI_WINDOW_INPUT_H

#include "attncast/checkpoint.h"
#include "attncast/csv.h"
#include "cli/cli.h"

/* The command line `predict` and `explain` share: CHECKPOINT --input CSV [--out PATH] [--at ROW].
 */
typedef struct ac_cli_window_args {
    const char *checkpoint, *input, *out;
    int at; /* 0: after the last row */
} ac_cli_window_args;

/* Parses it for `verb`; returns 0, 1 after printing the usage and help text for --help, or -1
 * after a one-line error (naming the usage). */
int ac_cli_parse_window_args(int argc, char **argv, const char *verb, const char *usage,
                             const char *help, ac_cli_window_args *a);

/* Loads the checkpoint's channels (by name) from input, its dates checked (out of order or
 * repeated with other values: an error; gaps: a warning on stderr), and copies the L rows ending
 * at data row `at` (1-based; 0: the last row) into window [L, C]; *end is that row. Prints a
 * one-line error and returns -1 on failure (the table, if loaded, is still handed out for
 * freeing). */
int ac_cli_read_window(const ac_checkpoint *ck, const char *input, int at, ac_table **table,
                       int *end, float *window);

/* The forecast [H, C] as CSV text (malloc'd): a header, then H rows whose first column continues
 * the input's dates on their calendar (the checkpoint's data.frequency when the input's dates
 * follow it, else the input's own frequency), or counts steps 1..H when neither is known. */
char *ac_cli_forecast_csv(const ac_checkpoint *ck, const ac_table *table, int end,
                          const float *forecast);

/* What predict writes beside each channel's forecast, in original units (all borrowed). */
typedef struct ac_cli_forecast_bounds {
    ac_cli_forecast_columns cols; /* K conformal levels, Q quantile levels: columns
                                   * <channel>_lo<P>, <channel>_hi<P>, <channel>_q<level> */
    const float *lo, *hi;         /* [K, H, C] */
    const float *values;          /* [H, C, Q] */
} ac_cli_forecast_bounds;

/* The same with each channel's columns followed by its bounds (bounds NULL: none): the
 * conformal lo/hi pairs, increasing in level, then the quantile columns, increasing. */
char *ac_cli_forecast_bounds_csv(const ac_checkpoint *ck, const ac_table *table, int end,
                                 const float *forecast, const ac_cli_forecast_bounds *bounds);

#endif
