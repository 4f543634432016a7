/* windows.h - from a loaded table to model-ready windows, exactly as MODEL.md says: the
 * chronological split, the per-channel z-score fitted on the training rows only, and sliding
 * windows (stride 1) for each split.
 *
 * Rows: n_train = floor(f_train T), n_test = floor(f_test T), n_val = T - n_train - n_test.
 * A window is identified by t, the first forecast row: input rows [t - L, t), target rows
 * [t, t + H). Training windows keep both inside [0, n_train); validation windows have targets in
 * [n_train, n_train + n_val) and test windows targets in [T - n_test, T); their inputs may reach
 * back across the border. Every window whose target fits is used.
 *
 * An ac_series owns its scaled copy of the values (float) and its scaler; the table it came
 * from is not needed afterwards.
 */
#ifndef ATTNCAST_WINDOWS_H
#define ATTNCAST_WINDOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "attncast/csv.h"
#include "attncast/error.h"

/* AC_SPLIT_ALL: every window of the series, t = L .. rows - H, whatever the split. */
typedef enum ac_split_kind {
    AC_SPLIT_TRAIN,
    AC_SPLIT_VAL,
    AC_SPLIT_TEST,
    AC_SPLIT_ALL
} ac_split_kind;

/* "train", "val", "test", "all" */
const char *ac_split_kind_name(ac_split_kind kind);

typedef struct ac_split {
    int rows, n_train, n_val, n_test;
} ac_split;

/* Splits `rows` rows by the fractions and checks that every split has at least one window for
 * lookback L and horizon H: n_val >= H, n_test >= H and n_train >= L + H. Errors name
 * data.split, data.lookback or data.horizon, and say the largest horizon (and with it the
 * largest lookback) that would fit, or that no window fits this split at all. */
ac_status ac_split_compute(int rows, const double fractions[3], int lookback, int horizon,
                           ac_split *out, ac_error *err);

/* A lookback and horizon that fit (ac_split_compute accepts them), as close to the given ones as
 * the split allows: the horizon shrinks to the largest that fits; the lookback is kept when it
 * fits beside that horizon, else it becomes half the largest that does (at least 1), so that
 * training keeps about half of its windows. Lengths that fit come back unchanged. false when no
 * horizon fits this many rows and fractions. */
bool ac_split_suggest(int rows, const double fractions[3], int lookback, int horizon,
                      int *suggested_lookback, int *suggested_horizon);

/* Per-channel mean and population standard deviation (double) of the training rows; a channel
 * whose std is 0 gets std 1 (counted in constant_channels so the caller can warn). The scaler
 * covers `columns` real-valued columns: the `channels` targets first, then the real covariates
 * (past, then future); mean and std hold `columns` entries. Calendar columns are not scaled. */
typedef struct ac_scaler {
    int channels; /* targets */
    int columns;  /* targets and real covariates: >= channels; 0 (a scaler made before
                   * covariates) stands for channels in ac_scaler_copy and ac_series_build_* */
    double *mean;
    double *std;
    int constant_channels;
} ac_scaler;

/* Fits `columns` columns of a row-major table (rows x stride values; stride >= columns), the
 * first `channels` of them targets. */
ac_status ac_scaler_fit(ac_scaler *scaler, const double *values, int rows, int stride, int columns,
                        int channels, ac_error *err);
void ac_scaler_free(ac_scaler *scaler);

/* A series' row holds `columns` values: the `channels` targets, the `past` past covariates, then
 * the `future` future covariates (real-valued ones, then calendar columns), as the table's roles
 * say; the first scaler.columns of them are z-scored, the calendar columns kept as computed. */
typedef struct ac_series {
    int rows, channels, lookback, horizon;
    int past, future, columns;
    float *scaled; /* rows x columns, z-scored with the scaler */
    ac_split split;
    ac_scaler scaler;
} ac_series;

/* Splits, fits the scaler on the training rows and scales every row. The table's role fields
 * (csv.h) say its columns; a table whose role fields are all 0 (built by hand) has every column
 * a target. */
ac_status ac_series_build(ac_series *series, const ac_table *table, const double fractions[3],
                          int lookback, int horizon, ac_error *err);
/* The same with a given scaler (a checkpoint's) instead of one fitted here; its channels must
 * be the table's targets and its columns the table's real-valued columns (all but the calendar
 * columns). The scaler is copied. */
ac_status ac_series_build_with_scaler(ac_series *series, const ac_table *table,
                                      const double fractions[3], int lookback, int horizon,
                                      const ac_scaler *scaler, ac_error *err);
/* A series of a whole table scaled with a given scaler, unsplit: its training rows are all the
 * rows (the MASE scale comes from every row), it has no validation or test rows, and its
 * AC_SPLIT_ALL windows are every window the table holds (at least one: L + H rows). */
ac_status ac_series_build_whole(ac_series *series, const ac_table *table, int lookback, int horizon,
                                const ac_scaler *scaler, ac_error *err);
void ac_series_free(ac_series *series);
ac_status ac_scaler_copy(ac_scaler *dst, const ac_scaler *src, ac_error *err);

/* The windows of a split: t = first, first + 1, ..., first + count - 1. */
typedef struct ac_window_range {
    int first;
    int count;
} ac_window_range;

ac_window_range ac_series_windows(const ac_series *series, ac_split_kind kind);

/* Copies the windows starting at ts[0..n) into x [n, L, columns] (every column of the input
 * rows) and y [n, H, channels] (the targets of the horizon rows), scaled values; either may be
 * NULL. */
void ac_series_gather(const ac_series *series, const int *ts, int n, float *x, float *y);
/* Keeps the first `channels` of every one of `steps` rows of `columns` values, packed in place:
 * gathered inputs [n, L, columns] become the targets' inputs [n, L, channels]. */
void ac_window_keep_targets(float *x, int steps, int columns, int channels);
/* The future covariates of the horizon rows of the windows at ts[0..n): [n, H, future]. */
void ac_series_gather_future(const ac_series *series, const int *ts, int n, float *future);

/* ---- many series (long format, MODEL.md version 2 "Many series") ----
 *
 * A panel is a set of series, each split by the fractions on its own rows, z-scored on its own
 * training rows and windowed on its own rows; the windows of a split are those of every series,
 * in series order. A series too short for any window of the validation or test split adds none
 * to it; one with no training window is an error naming it. A wide table is a panel of one
 * series (ids NULL). */
typedef struct ac_panel {
    int count;
    ac_series *series; /* [count], owned */
    char **ids;        /* [count] owned strings, or NULL for a wide table */
} ac_panel;

/* One series per table (tables[i] is series ids[i]; ids NULL: a single wide table). Every table
 * must have the same column layout (names and roles). With scalers (NULL: fit each on its own
 * training rows), series i takes scalers[i]. */
ac_status ac_panel_build(ac_panel *panel, ac_table *const *tables, char *const *ids, int count,
                         const double fractions[3], int lookback, int horizon,
                         const ac_scaler *scalers, ac_error *err);
/* A panel of one series that takes over *series (which is left empty). */
ac_status ac_panel_of_series(ac_panel *panel, ac_series *series, ac_error *err);
void ac_panel_free(ac_panel *panel);
/* The windows of a split over every series. */
int64_t ac_panel_windows(const ac_panel *panel, ac_split_kind kind);
/* The series named id, or -1. */
int ac_panel_find(const ac_panel *panel, const char *id);

/* Back to the original scale: value * std + mean of its channel (any of scaler->columns). */
double ac_scaler_unscale(const ac_scaler *scaler, int channel, float value);

#endif
