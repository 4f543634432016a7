/* backtest.h - what the files of `attncast backtest` share: the plan (origins and folds), the
 * job every worker runs its folds from, the fold files, the scores and the aggregation into the
 * output folder. backtest.c parses the command line and plans, backtest_fold.c trains, calibrates
 * and forecasts one fold and keeps its file, backtest_scores.c scores one window into the
 * breakdowns, backtest_report.c scores the folds and writes the outputs. */
#ifndef ATTNCAST_CLI_BACKTEST_H
#define ATTNCAST_CLI_BACKTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "attncast/checkpoint.h"
#include "attncast/config.h"
#include "attncast/csv.h"
#include "attncast/forecaster.h"
#include "attncast/intervals.h"
#include "attncast/metrics.h"

/* Origins t = first + i * stride, i < count; fold f holds the origins i in
 * [f * per_fold, min((f + 1) * per_fold, count)). */
typedef struct bt_plan {
    int first, count, stride;
    int refit;    /* origins per refit; 0: never (one fold) */
    int per_fold; /* origins per fold */
    int folds;
    int n_val;       /* validation rows before each refit's origin (the config's) */
    int ckpt_train;  /* with a checkpoint and no refit: the rows its scaler was fitted on */
    bool checkpoint; /* forecast with the checkpoint's model and scaler (no training) */
} bt_plan;

/* The origin indices of fold f: [*begin, *end). */
void ac_backtest_fold_span(const bt_plan *plan, int f, int *begin, int *end);

/* Everything a worker needs for its folds; all borrowed. */
typedef struct bt_job {
    const ac_config *cfg; /* the resolved config (trains each refit; batch size) */
    const ac_table *table;
    const ac_checkpoint *ck; /* with plan.checkpoint: its model and scaler */
    bt_plan plan;
    uint64_t identity; /* of the config, data and options: every fold file carries it */
    const char *dir;   /* the output folder */
    bool quiet;
    int (*stop_requested)(void); /* asked during each refit's training; NULL: never stop */
} bt_job;

/* One fold's result, as its file holds it. */
typedef struct bt_fold {
    int index, count;
    int channels, horizon; /* channels: the targets, the columns forecast and scored */
    int columns;    /* the scaler's: the targets, then the real covariates (the table's columns but
                     * the calendar ones; channels without covariates) */
    int train_rows; /* the rows the fold's scaler was fitted on (and its model trained on) */
    int epochs_run; /* 0: no training (a checkpoint's model) */
    int best_epoch;
    int conformal;           /* K: the conformal levels its model was calibrated at (0: none) */
    int quantiles;           /* Q: the model's quantile levels (0: a point model) */
    int calibration_windows; /* the validation windows of its calibration (0: none or unknown) */
    double train_seconds, forecast_seconds;
    double *levels;         /* [K]: the conformal levels */
    float *quantile_levels; /* [Q]: the model's (its spec's float32 levels) */
    int *origins;           /* [count] */
    double *mean, *std;     /* [columns]: the fold's scaler */
    /* all scaled with the fold's scaler, as the model and ac_interval_bounds gave them: */
    float *forecasts; /* [count, H, C] the point forecasts */
    float *bounds;    /* [count, K, 2, H, C] each conformal level's lo, then hi (NULL: K = 0) */
    float *quantile_values; /* [count, H, C, Q] sorted (NULL: Q = 0) */
} bt_fold;

void ac_backtest_fold_free(bt_fold *fold);

/* DIR/folds/fold_NNNN.bin */
void ac_backtest_fold_path(const char *dir, int f, char *path, size_t n);
/* Trains (unless the plan forecasts with a checkpoint) and forecasts fold f, then writes its
 * file atomically. 0; 1 when job->stop_requested stopped its training (nothing written, nothing
 * printed); or -1 after printing the error, *usage: the error is a bad command line or config. */
int ac_backtest_fold_run(const bt_job *job, int f, bool *usage);
/* Reads fold f's file: 1 when there is none, 0 when read (out filled), -1 after printing an
 * error (unreadable, or written by a backtest of another identity). */
int ac_backtest_fold_read(const bt_job *job, int f, bt_fold *out);

/* ---- scores (backtest_scores.c) ---- */

enum { BT_FORECASTERS = 1 + AC_BASELINE_COUNT }; /* the model, then the baselines */

/* "model", then the baselines' names */
const char *ac_backtest_forecaster_name(int k);

/* The quantile forecasts scored with ac_quantile_acc: a quantile model's own levels, and the
 * 2K + 1 levels its conformal intervals imply (ac_interval_quantile_levels). */
enum { BT_QSET_QUANTILE, BT_QSET_CONFORMAL, BT_QSETS };
enum {
    BT_MAX_QLEVELS =
        AC_MAX_QUANTILES > 2 * AC_INTERVALS_MAX + 1 ? AC_MAX_QUANTILES : 2 * AC_INTERVALS_MAX + 1
};

typedef struct bt_qset {
    int count; /* 0: not scored (a point model; no conformal levels) */
    double levels[BT_MAX_QLEVELS];
    float *offsets; /* [H, C, count]: the seasonal-naive quantile baseline's; NULL: none */
} bt_qset;

/* The intervals of a backtest, the same in every fold (its fold files agree), in
 * ac_interval_defs's order, and the quantile forecasts scored. */
typedef struct bt_intervals {
    int n;
    ac_interval_def defs[AC_INTERVALS_CAP];
    int K, Q; /* conformal levels, quantile levels */
    bt_qset q[BT_QSETS];
} bt_intervals;

/* From the fold files (0..folds-1, which must agree) and the seasonal-naive quantile baseline's
 * offsets from the validation windows of ref (the reference scaling). 0, or -1 after printing an
 * error; ac_backtest_intervals_free in either case. */
int ac_backtest_intervals_setup(bt_intervals *is, const bt_fold *folds, int n_folds,
                                const ac_series *ref, int season, const char *dir);
void ac_backtest_intervals_free(bt_intervals *is);
/* "conformal 80%" with sep ' ', "conformal_80" with sep '_' */
void ac_backtest_interval_name(const ac_interval_def *def, char sep, char *buf, size_t n);

/* The accumulators of one breakdown (overall, a fold or a step). Zeroed before the init, so that
 * freeing a breakdown whose init failed or never ran is safe. */
typedef struct bt_scores {
    ac_metrics_acc acc[BT_FORECASTERS];
    ac_interval_acc iv[AC_INTERVALS_CAP];
    ac_quantile_acc qm[BT_QSETS], qb[BT_QSETS]; /* the model's, the seasonal-naive baseline's */
} bt_scores;

ac_status ac_backtest_scores_init(bt_scores *s, const ac_scaler *sc, const double *mase,
                                  const double *floors, const bt_intervals *is, ac_error *err);
void ac_backtest_scores_free(bt_scores *s);

struct cJSON;
/* Adds a breakdown's scores to obj: "model", "baselines" as eval's metrics.json writes them,
 * "intervals" [{method, level, coverage, width, width_scaled, winkler, winkler_scaled, points}]
 * and "quantile_scores" [{method, levels, model {wql, crps}, seasonal_naive {wql, crps}}]. */
void ac_backtest_scores_json(struct cJSON *obj, const bt_scores *s, const bt_intervals *is);

/* One window on the reference scale: its input and truth and everything scored against it. */
typedef struct bt_window {
    float *x, *y;                /* [L, columns] (then [L, C]: the targets), [H, C] */
    float *yhat[BT_FORECASTERS]; /* [H, C] each: the model's point, the baselines' */
    float *bounds;               /* [n, 2, H, C]: each interval's lo, then hi */
    float *raw_bounds;           /* [K, 2, H, C]: the fold's conformal bounds */
    float *quant[BT_QSETS][2];   /* [H, C, count]: the model's and the baseline's quantiles */
    float *all;                  /* owns the arrays */
    int L, H, C;
} bt_window;

/* columns: a series row's width (targets and covariates) */
bool ac_backtest_window_alloc(bt_window *b, int L, int H, int C, int columns,
                              const bt_intervals *is);
/* Fills b with origin i of fold fd: its forecasts carried to the scaling of ref, the
 * baselines', each interval's bounds and the quantile forecasts. */
void ac_backtest_window_fill(bt_window *b, const ac_series *ref, int season, const bt_fold *fd,
                             int i, const bt_intervals *is);
/* Adds steps [h0, h0 + steps) of the window in b to a breakdown. */
void ac_backtest_window_add(bt_scores *s, const bt_intervals *is, const bt_window *b, int h0,
                            int steps);

/* Timing of the run for backtest.md (this invocation and the folds it computed). */
typedef struct bt_timing {
    double seconds;       /* wall time of this invocation */
    int folds_run;        /* folds computed now (the rest were read from earlier runs) */
    double forecast_secs; /* over every fold's file */
    double train_secs;
} bt_timing;

/* Reads every fold file and writes forecasts.csv, metrics.json, error_by_step.csv,
 * error_by_fold.csv, backtest.md and the pictures into job->dir; prints the summary table.
 * 0, or -1 after printing the error. */
int ac_backtest_report(const bt_job *job, int season, const char *label, bt_timing *timing);

#endif
