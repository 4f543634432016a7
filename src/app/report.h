/* report.h - what a run leaves on disk: the run folder and its files (application layer,
 * src/app: metrics.json is written with cJSON, which libattncast does not need).
 *
 * A run folder holds config.ini (the resolved config, every key), history.csv (epoch,
 * train_loss, val_loss, lr, seconds, windows_per_s) and metrics.json (the test metrics of the
 * model and the baselines plus the run's settings). Every file is written to a temporary file in
 * the same folder, flushed to disk and renamed over the old one, so a crash or a full disk never
 * leaves a half-written file; a failure names the file and the reason. A trainer holds a lock
 * on .train.lock in the folder while it runs.
 */
#ifndef ATTNCAST_REPORT_H
#define ATTNCAST_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "attncast/config.h"
#include "attncast/trainer.h"

/* Creates (with parents) the run folder: output.dir if set, else runs/<name>-<YYYYmmdd-HHMMSS>
 * (with -2, -3, ... if that exists). */
ac_status ac_run_dir_create(const ac_config *cfg, char *dir, size_t n, ac_error *err);

#define AC_RUN_LOCK_FILE ".train.lock" /* in a run folder, locked while a trainer writes there */

/* Takes an exclusive lock (flock) on dir/.train.lock, so that two trainers never write to one
 * run folder; *fd holds it (close-on-exec) until the caller closes it or exits (the kernel drops
 * it when a killed trainer dies). Then removes the temporary files ("last.h5.tmp.<pid>", ...) a
 * trainer killed mid-write left. A folder another process holds is an AC_ERR_STATE error that
 * says so. */
ac_status ac_run_dir_lock(const char *dir, int *fd, ac_error *err);

/* Writes len bytes to path atomically (temporary file, fsync, rename). */
ac_status ac_write_file_atomic(const char *path, const char *data, size_t len, ac_error *err);

/* history.csv text for n epochs; malloc'd. */
char *ac_history_csv(const ac_epoch_record *history, int n);

/* Facts about the run that metrics.json records beside the metrics. */
typedef struct ac_run_info {
    const char *data_source; /* dataset name or CSV path */
    int rows, channels;
    char *const *channel_names; /* channels names (the keys of per_channel) */
    int64_t parameters;
    int epochs_run, best_epoch;
    double best_val_loss, train_seconds, windows_per_s;
    int threads;
    int stopped_early;
    /* MSE and MAE (scaled values) of the best weights on the validation split, whatever the
     * training loss; NAN when not known (the "val" object is then left out) */
    double val_mse, val_mae;
    /* The naive repeat's MSE on the same validation windows, beside val_mse (train measures
     * it; measured false: not known, and reports leave the comparison out). */
    struct {
        bool measured;
        double naive_mse;
    } val_vs_naive;
    /* train --no-test: the evaluation is of the validation split and the test split was never
     * scored (metrics.json "test_hidden": true; report.md says so). */
    bool test_hidden;
    /* Long format: the series and each one's own evaluation on the same split (series_count 0:
     * a wide table, no "series" object). */
    int series_count;
    char *const *series_ids;
    const ac_eval_result *per_series;
} ac_run_info;

/* When info's validation comparison shows the model not beating the naive repeat (its MSE not
 * below the naive one's): one sentence in buf saying so, with the two MSEs and what usually
 * helps (a longer data.lookback; model.anchor = last unless the run used it), and true. false
 * (buf empty) when it does beat it or nothing was measured. */
bool ac_run_val_verdict(const ac_config *cfg, const ac_run_info *info, char *buf, size_t n);

/* metrics.json text: {"split", "model": {mse, mae, rmse, mae_orig, wape, smape, mape, mase},
 * "baselines": {"naive", "seasonal_naive", "mean"}, "per_channel": {"<column>": {"model",
 * "naive", "seasonal_naive", "mean", "mape_share"[, "mape_note"]}}, "mape_rule"[, "mape_note"],
 * "windows", "val": {mse, mae}, ...settings, and when measured "val_vs_naive": {"model_mse",
 * "naive_mse", "beats_naive"}}; malloc'd (cJSON). When the evaluation scored intervals or
 * quantiles, also "intervals": [{"method", "level", "coverage", "width", "width_scaled",
 * "winkler", "winkler_scaled", "points"}], "quantile_loss": {"method", "levels", "wql", "crps"}
 * (the first quantile set of the ac_eval_result), "seasonal_naive_quantiles": {"wql", "crps"}
 * (when the series has validation windows) and "interval_note", and the same three per channel
 * (quantile_loss without method and levels). In long format also "series_count" and "series":
 * {"<id>": {"windows", "model", "naive", "seasonal_naive", "mean", "per_channel" (several
 * targets), "intervals", ...}}, each series scored on its own scale; the pooled metrics add up
 * every series' points. Metrics as metrics.h defines them; a metric that is not defined is
 * null. */
char *ac_metrics_json(const ac_config *cfg, const ac_eval_result *eval, const ac_run_info *info);
/* (With info->test_hidden, also "test_hidden": true, and "split" is "val".) */

/* report.md: the config, the test metrics beside the baselines, the prediction intervals' scores
 * (when the evaluation has any), the validation comparison with
 * the naive repeat (when measured, with ac_run_val_verdict's note when the model does not beat
 * it), the run folder's pictures (embedded when their PNG files exist in run_dir), training time
 * and speed; malloc'd. */
/* Rewrites run_dir/report.md (atomically) so that it embeds exactly the pictures now in the
 * folder, e.g. after `attncast plot` drew them; the rest of the report is kept. *updated tells
 * whether there was a report.md (a folder without one is left alone). */
ac_status ac_run_report_embed_pictures(const char *run_dir, bool *updated, ac_error *err);

char *ac_run_report_md(const ac_config *cfg, const ac_eval_result *eval, const ac_run_info *info,
                       const char *run_dir);

#endif
