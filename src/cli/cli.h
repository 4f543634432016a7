/* cli.h - the verbs of the attncast program, one source file each, and what they share. */
#ifndef ATTNCAST_CLI_H
#define ATTNCAST_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "attncast/error.h"

/* Exit codes of every verb. */
enum {
    AC_EXIT_OK = 0,
    AC_EXIT_FAILURE = 1, /* the work failed: bad data, bad file, numeric trouble */
    AC_EXIT_USAGE = 2    /* the command line itself is wrong */
};

/* Each verb gets argv after the verb name (argv[0] is the verb) and returns an exit code. */
int ac_cli_bench_ops(int argc, char **argv);
int ac_cli_train(int argc, char **argv);
int ac_cli_eval(int argc, char **argv);
int ac_cli_predict(int argc, char **argv);
int ac_cli_info(int argc, char **argv);
int ac_cli_explain(int argc, char **argv);
int ac_cli_sweep(int argc, char **argv);
int ac_cli_datasets(int argc, char **argv);
int ac_cli_plot(int argc, char **argv);
int ac_cli_bench(int argc, char **argv);
int ac_cli_backtest(int argc, char **argv);
int ac_cli_calibrate(int argc, char **argv);

/* Prints "attncast: <message>" as one line on stderr. */
void ac_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a whole positive int option value; on failure prints an error naming the option. */
int ac_cli_parse_positive(const char *option, const char *text, int *out);

/* --gemm NAME: makes NAME (openblas or own, include/attncast/gemm.h) the matrix products'
 * backend; on failure prints an error naming the option and the known names. */
int ac_cli_parse_gemm(const char *option, const char *text);

/* Appends " word" to out (n bytes), single-quoted for the shell when it holds anything but
 * plain characters (the resume commands of train and backtest). */
void ac_cli_append_shell_word(char *out, size_t n, const char *word);

/* An argument of train or sweep that no option took: an unknown option, or the one config
 * file (stored in *config); on failure prints an error naming the verb and returns -1. */
int ac_cli_config_argument(const char *verb, const char *arg, const char **config);

/* The command line of a verb that takes exactly one operand (info, plot): -1 when that is what
 * it is (the operand is argv[1]), else the exit code to return, after printing the usage and
 * the help text on stdout for --help or -h, or the usage alone as an error otherwise. */
int ac_cli_single_operand(int argc, char **argv, const char *usage, const char *help);

struct ac_calibration;
/* The line that says which intervals were calibrated on how many validation windows and where
 * they went (on stdout, unless quiet), and a note on stderr for each level whose rank exceeds the
 * windows (its half-width is the largest error; the interval may cover less). */
void ac_cli_report_calibration(const struct ac_calibration *cal, const char *path, bool quiet);

struct ac_eval_result;
struct ac_series;
/* The metrics table of the model and the baselines, pooled over the channels (train, eval). */
void ac_cli_print_metrics(const struct ac_eval_result *eval, const struct ac_series *series);
/* One row per channel, model beside naive (eval --per-channel); names: the channels' names. */
void ac_cli_print_channel_metrics(const struct ac_eval_result *eval, char *const *names);
/* The scores of the intervals the evaluation covered, one row each (coverage, mean width and
 * Winkler score on scaled values), and each quantile set's wQL beside the seasonal-naive
 * quantile baseline's; nothing when it covered none (train, eval). */
void ac_cli_print_intervals(const struct ac_eval_result *eval);
/* Long format: how many series the model beats the naive repeat on (test MSE), the median ratio
 * of the two, and the best and worst series by that ratio. */
struct ac_panel;
void ac_cli_print_series_summary(const struct ac_eval_result *pooled, const struct ac_panel *panel,
                                 const struct ac_eval_result *per_series);
/* The coverage of each interval per channel (eval --per-channel); nothing without intervals. */
void ac_cli_print_channel_intervals(const struct ac_eval_result *eval, char *const *names);

struct ac_checkpoint;
struct ac_config;
struct ac_forecaster;
struct ac_trainer;

/* A new model from cfg's [model] section for series' channels, initialised from train.seed
 * (stream AC_RNG_STREAM_INIT), and a trainer of cfg's [train] options on series (train, each
 * refit of backtest). On failure both are NULL and err says why. */
ac_status ac_cli_model_and_trainer(const struct ac_config *cfg, const struct ac_series *series,
                                   struct ac_forecaster **model, struct ac_trainer **tr,
                                   ac_error *err);
/* The same for the pooled windows of a panel's series (train; one series or many). */
struct ac_panel;
ac_status ac_cli_model_and_panel_trainer(const struct ac_config *cfg, const struct ac_panel *panel,
                                         struct ac_forecaster **model, struct ac_trainer **tr,
                                         ac_error *err);
struct ac_table;
struct ac_scaler;

/* The interval and quantile columns of a forecasts CSV, after `forecast`: lo<p>,hi<p> for each
 * conformal level (p its percentage, ac_level_percent), then q<level> (%g) for each level of a
 * quantile model. A zeroed struct: the point columns alone. */
typedef struct ac_cli_forecast_columns {
    int conformal;                /* K */
    const double *levels;         /* [K]: the conformal levels, increasing */
    int quantiles;                /* Q: 0 for a point model */
    const float *quantile_levels; /* [Q]: the model's levels (its spec's), increasing */
} ac_cli_forecast_columns;

/* Writes the header cells of those columns, each after a comma and prefix: ",<prefix>lo80,
 * <prefix>hi80,...,<prefix>q0.1,..." (prefix "" in the long CSVs, "<channel>_" in predict's). */
void ac_cli_bound_header(FILE *f, const char *prefix, const ac_cli_forecast_columns *cols);

/* A forecasts CSV (backtest's forecasts.csv, eval --forecasts): one row per origin, step and
 * channel, "origin,origin_date,step,date,channel,actual,forecast" and the interval columns in
 * the table's own units (actual from the table, the rest unscaled). Written to a temporary file
 * beside path and renamed over it by a successful close, so a failure never leaves a
 * half-written file. */
typedef struct ac_cli_forecasts ac_cli_forecasts;
/* NULL after printing an error naming path. The table and the columns' levels are borrowed
 * until the close; cols NULL: the point columns alone. */
ac_cli_forecasts *ac_cli_forecasts_open(const char *path, const struct ac_table *table, int horizon,
                                        const ac_cli_forecast_columns *cols);
/* The rows of the window whose first target row is t, scaled with scaler: point [H, C], bounds
 * [K, 2, H, C] (each conformal level's lo, then hi; NULL when K = 0), quantiles [H, C, Q]
 * sorted (NULL when Q = 0). */
void ac_cli_forecasts_add(ac_cli_forecasts *w, int t, const float *point, const float *bounds,
                          const float *quantiles, const struct ac_scaler *scaler);
/* The conformal bounds block that ac_cli_forecasts_add takes, [K, 2, H, C] for cal's K levels,
 * around point [H, C] (ac_interval_defs and ac_interval_bounds: scaled values). */
void ac_cli_conformal_bounds(const struct ac_calibration *cal, const float *point, int H, int C,
                             float *bounds);
int ac_cli_forecasts_close(ac_cli_forecasts *w, bool commit);

#endif
