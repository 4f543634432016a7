/* sweep.h - what the parts of `attncast sweep` share: sweep.c parses and checks the grid,
 * sweep_runs.c runs each combination as an `attncast train` child process, sweep_results.c
 * reads each run's metrics.json, writes results.csv and prints the ranked table. */
#ifndef ATTNCAST_CLI_SWEEP_H
#define ATTNCAST_CLI_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "attncast/parallel.h"

#define SWEEP_MAX_KEYS    16  /* --grid options */
#define SWEEP_NAME_MAX    200 /* a run folder's name, before a "-N" that keeps it unique */
#define SWEEP_ERROR_MAX   512 /* the failure message kept from a run's stderr */
#define SWEEP_RUNS_FAILED 100 /* the sweep's internal code for "finished, some runs failed" */

typedef enum { RUN_PENDING, RUN_RUNNING, RUN_OK, RUN_FAILED } sweep_status;

/* One swept key and its values (pointers into text, which the key owns). */
typedef struct sweep_key {
    char *text; /* malloc'd copy of the --grid argument, cut into key and values */
    char *key;  /* "section.key" */
    char **values;
    int n_values;
} sweep_key;

/* What results.csv records of a finished run, all of the validation split (the runs train with
 * --no-test); NAN where metrics.json has null or lacks it (a run of an older attncast). val_mse:
 * MSE of the best weights on the validation split, scaled values, whatever train.loss is
 * (metrics.json "val"."mse"); mae likewise; naive_mse the naive repeat's there. */
typedef struct sweep_metrics {
    double val_loss, val_mse, mae, rmse, smape, mase, naive_mse, train_seconds, windows_per_s;
    int best_epoch;
} sweep_metrics;

/* One combination of the grid, in grid order (the first --grid varies slowest). */
typedef struct sweep_run {
    int choice[SWEEP_MAX_KEYS]; /* value index per key */
    char name[SWEEP_NAME_MAX + 16];
    char *dir; /* malloc'd: SWEEP_DIR/name */
    int threads;
    sweep_status status;
    int pid, err_fd, log_fd;    /* while running */
    double started, seconds;    /* wall clock of this invocation */
    char line[SWEEP_ERROR_MAX]; /* the stderr line being read */
    size_t line_len;
    char error[SWEEP_ERROR_MAX]; /* the last non-empty stderr line, then the failure */
    sweep_metrics m;
} sweep_run;

/* The command line of the verb. */
typedef struct sweep_args {
    const char *config;
    const char *grids[SWEEP_MAX_KEYS];
    int n_grids;
    int jobs;
    const char *out;
    bool quiet;
    int first, stride; /* this process runs runs first, first + stride, ... (MPI ranks) */
} sweep_args;

/* Creates a folder and its parents. 0, or prints the error and returns -1. */
int sweep_make_dir(const char *path);

/* Runs every run of this process (a->first, a->first + a->stride, ...) not finished before (one
 * with metrics.json is read, not rerun), up to a->jobs at once, printing progress unless
 * a->quiet. 0, or -1 when a run could not be started
 * (the ones running are waited for). */
int sweep_run_all(const char *exe, const sweep_args *a, const sweep_key *keys, int n_keys,
                  sweep_run *runs, int n_runs);

/* Under mpirun: rank 0 learns how the other ranks' runs ended (status, seconds, error) and
 * reads the metrics of those that finished; every rank calls it. */
void sweep_gather_runs(ac_parallel *group, sweep_run *runs, int n_runs);

/* Reads DIR/metrics.json into run->m; on failure sets run->error and returns -1. */
int sweep_read_metrics(sweep_run *run);

/* Writes SWEEP_DIR/results.csv (atomically), one row per run in grid order. 0, or prints the
 * error and returns -1. */
int sweep_write_results(const char *sweep_dir, const sweep_key *keys, int n_keys,
                        const sweep_run *runs, int n_runs);

/* Prints the runs ranked by validation MSE (sweep_results.c), failed runs last, in aligned
 * columns. */
void sweep_print_table(const sweep_run *runs, int n_runs);

/* report.md in the sweep folder: the runs ranked by validation MSE, linked to their own
 * reports, with the best run's pictures. 0, or prints the error and returns -1. */
int sweep_write_report(const char *sweep_dir, const char *config, const sweep_key *keys, int n_keys,
                       const sweep_run *runs, int n_runs);

#endif
