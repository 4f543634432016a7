/* window_input.h - what `predict` and `explain` share: reading a forecast window from a CSV for a
 * checkpoint, and writing a forecast as CSV with the dates continued. */
#ifndef ATTNCAST_CLI_WINDOW_INPUT_H
#define ATTNCAST_CLI_WINDOW_INPUT_H

#include <stdbool.h>

#include "attncast/checkpoint.h"
#include "attncast/csv.h"
#include "attncast/embed.h"
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

/* Takes `option` VALUE out of argv (the rest goes to ac_cli_parse_window_args): *value its
 * value, or NULL. 0, or -1 after a one-line error beginning with verb. */
int ac_cli_take_option(int *argc, char **argv, const char *verb, const char *option,
                       const char **value);

/* Loads the checkpoint's channels (by name) from input, its dates checked (out of order or
 * repeated with other values: an error; gaps: a warning on stderr), and copies the L rows ending
 * at data row `at` (1-based; 0: the last row) into window [L, C]; *end is that row. Prints a
 * one-line error and returns -1 on failure (the table, if loaded, is still handed out for
 * freeing). */
int ac_cli_read_window(const ac_checkpoint *ck, const char *input, int at, ac_table **table,
                       int *end, float *window);

/* What predict feeds ac_model_forecast_covariates: the window of every real column of the model
 * (targets, past, future-known), the horizon's rows of its real future covariates and the dates
 * of its calendar features. */
typedef struct ac_cli_model_input {
    ac_table *table;  /* the input as loaded (its dates are continued by the forecast's) */
    int end;          /* the data row (1-based) the window ends at */
    float *window;    /* [L, K] (ac_model_columns) */
    float *future;    /* [H, F] (ac_model_future_columns), NULL when F = 0 */
    long long *dates; /* [L + H]: the window's, then the horizon's; NULL without data.calendar */
    bool borrowed;    /* table is not freed with the input (a series of a long-format input) */
} ac_cli_model_input;

/* Reads the window as ac_cli_read_window does, with every column of the model. The horizon's
 * dates are those the forecast's CSV gets (ac_cli_forecast_csv); the future CSV (needed exactly
 * when the model has real future covariates) holds them by date: its first H rows must carry
 * them, in order (later rows are not read). When the input's dates follow no frequency, its
 * first H rows are taken in order. Calendar features need the input's dates, on a frequency.
 * 0, or -1 after a one-line error naming the file (and the date); in is freed with
 * ac_cli_model_input_free either way. */
int ac_cli_read_model_input(const ac_model *m, const char *input, const char *future_csv, int at,
                            ac_cli_model_input *in);
void ac_cli_model_input_free(ac_cli_model_input *in);

/* The --future option's check: a CSV exactly when the model has real future covariates (else a
 * one-line error naming the checkpoint). 0 or -1. */
int ac_cli_future_check(const ac_model *m, const char *future_csv);

/* "a,b,c": the first n of the checkpoint's column names (targets, then real covariates) as a
 * data.columns list in columns; false when it does not fit in size bytes. */
bool ac_cli_column_list(const ac_checkpoint *ck, int n, char *columns, size_t size);

/* Loads the first n of the checkpoint's columns (by name: targets, then real covariates) from
 * the CSV input, its dates checked (a note on stderr about gaps or repeats), into *table. 0, or
 * -1 after a one-line error. */
int ac_cli_load_checkpoint_csv(const ac_checkpoint *ck, int n, const char *input, ac_table **table);

/* A long-format input (MODEL.md "Many series") for a model of long-format data: its id column
 * (the checkpoint's data.id_column, else `id`), date column and every column of the model by
 * name, one table per id, each series' dates checked. 0, or -1 after a one-line error (set is
 * freed with ac_table_set_free either way). */
int ac_cli_read_long_input(const ac_checkpoint *ck, const char *input, ac_table_set *set);
/* A long-format future covariates' CSV for such a model: the id column, the date column and the
 * model's real future covariates by name, one table per id, its rows sorted by date. 0, or -1
 * after a one-line error (set freed with ac_table_set_free either way). */
int ac_cli_read_long_future(const ac_model *m, const char *future_csv, ac_table_set *set);
/* ac_cli_read_model_input of one series' table of such an input (borrowed: it stays the set's),
 * series id, named label in the messages; its future covariates (the model has real ones exactly
 * when future_csv is given) are the rows of id in future_set (ac_cli_read_long_future of
 * future_csv), matched to the forecast's dates as a wide --future CSV's rows are; no rows of id
 * or of one of the dates is an error naming the id and the date. */
int ac_cli_read_series_input(const ac_model *m, ac_table *table, const char *id, const char *label,
                             const char *future_csv, const ac_table_set *future_set, int at,
                             ac_cli_model_input *in);

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
