/* backtest.h - what the files of `attncast backtest` share: the plan (origins and folds), the
 * job every worker runs its folds from, the fold files and the aggregation into the output
 * folder. backtest.c parses the command line and plans, backtest_fold.c trains and forecasts one
 * fold and keeps its file, backtest_report.c scores the folds and writes the outputs. */
#ifndef ATTNCAST_CLI_BACKTEST_H
#define ATTNCAST_CLI_BACKTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "attncast/checkpoint.h"
#include "attncast/config.h"
#include "attncast/csv.h"
#include "attncast/forecaster.h"

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
} bt_job;

/* One fold's result, as its file holds it. */
typedef struct bt_fold {
    int index, count;
    int channels, horizon;
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
    double *mean, *std;     /* [channels]: the fold's scaler */
    /* all scaled with the fold's scaler, as the model and ac_interval_bounds gave them: */
    float *forecasts; /* [count, H, C] the point forecasts */
    float *bounds;    /* [count, K, 2, H, C] each conformal level's lo, then hi (NULL: K = 0) */
    float *quantile_values; /* [count, H, C, Q] sorted (NULL: Q = 0) */
} bt_fold;

void ac_backtest_fold_free(bt_fold *fold);

/* DIR/folds/fold_NNNN.bin */
void ac_backtest_fold_path(const char *dir, int f, char *path, size_t n);
/* Trains (unless the plan forecasts with a checkpoint) and forecasts fold f, then writes its
 * file atomically. 0, or -1 after printing the error; *usage: the error is a bad command line or
 * config. */
int ac_backtest_fold_run(const bt_job *job, int f, bool *usage);
/* Reads fold f's file: 1 when there is none, 0 when read (out filled), -1 after printing an
 * error (unreadable, or written by a backtest of another identity). */
int ac_backtest_fold_read(const bt_job *job, int f, bt_fold *out);

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
