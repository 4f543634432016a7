/* checkpoint.h - saving and loading forecasters and training state as HDF5 files, following the
 * schema of MODEL.md to the letter so that h5py, h5dump and HDFView read them with no custom code.
 *
 * Layout (every string variable-length UTF-8):
 *   /                      attributes format = "attncast-checkpoint", format_version (int32: 1, or
 *                          2 when the file uses a version-2 feature such as model.anchor =
 *                          last or /calibration; both are read), created (ISO 8601 UTC),
 *                          program_version
 *   /config                scalar string: the resolved config as INI text (ac_config_to_ini)
 *   /params/{name}         float32, one dataset per parameter, named by its MODEL.md dotted name
 *   /scaler/mean, /std     float64 [C]: training-set statistics of the targets, then of the real
 *                          covariates (past, then future; calendar columns are not scaled)
 *   /scaler/channels       string [C]: their column names, in the model's input order
 *   /scaler/ids            (long format) string [S]: the series' ids; /scaler/mean and /std are
 *                          then [S, C], one row per series
 *   /calibration           (optional, intervals.h) datasets levels (float64 [K], 1 <= K <= 8,
 *                          strictly increasing, each in (0, 1)) and halfwidth (float64 [K, H, C],
 *                          finite, >= 0: the conformal half-widths on the z-scored scale);
 *                          attribute windows (int32: the validation windows n they came from;
 *                          optional on reading)
 *   /optimizer             (training checkpoints) attribute kind ("adam" | "adamw" | "sgd");
 *                          datasets step (int64), lr (float64, the current learning rate),
 *                          schedule_step (int64, the schedule position = global step), and per
 *                          parameter: exp_avg/{name}, exp_avg_sq/{name} (adam, adamw) or
 *                          momentum_buffer/{name} (sgd), float32, the parameter's shape
 *   /train                 (training checkpoints) datasets epoch (int32), global_step (int64),
 *                          best_val_loss (float64), best_epoch (int32), bad_epochs (int32, the
 *                          early-stopping counter), stopped_early (int32), seconds (float64),
 *                          rng_shuffle and rng_dropout (uint64 [2]: PCG32 state, increment),
 *                          history (compound table: epoch int32, train_loss, val_loss, lr,
 *                          seconds, windows_per_s float64; one row per epoch), and
 *                          best_params/{name} (float32: the best epoch's weights, present
 *                          when best_val_loss is finite; best_epoch 0 then means the untrained
 *                          model of an anchor = last run)
 *
 * Writing is atomic: the file is built under a temporary name in the same folder, flushed to
 * disk and renamed over the target, so a crash or a full disk leaves the previous file intact.
 * Reading checks everything before trusting it: the format attribute and version, the config,
 * every expected parameter present with the shape the stored config implies, no unexpected
 * parameters, finite values, consistent scaler and state sizes. A non-HDF5 file, a truncated
 * file, a foreign HDF5 file or a checkpoint of another architecture each give one line naming
 * the file and the problem (HDF5 path where there is one). HDF5's own error stack is printed
 * only when the environment variable ATTNCAST_DEBUG is set.
 */
#ifndef ATTNCAST_CHECKPOINT_H
#define ATTNCAST_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "attncast/config.h"
#include "attncast/error.h"
#include "attncast/forecaster.h"
#include "attncast/intervals.h"
#include "attncast/optim.h"
#include "attncast/trainer.h"
#include "attncast/windows.h"

#define AC_CKPT_FORMAT "attncast-checkpoint"
/* The newest format_version this attncast writes and reads; version 1 files stay readable. */
#define AC_CKPT_FORMAT_VERSION 2

/* The format_version a checkpoint of this config gets: 1 unless it uses a version-2 feature (a
 * file with /calibration is version 2 whatever its config). */
int ac_ckpt_format_version_for(const ac_config *config);

/* What to write; everything borrowed. optimizer and train may be NULL (a model-only file). */
typedef struct ac_ckpt_contents {
    const ac_config *config;
    const ac_forecaster *model;
    const ac_scaler *scaler;
    char *const *channel_names; /* scaler->columns names: targets, then real covariates */
    ac_optimizer *optimizer;
    double lr; /* the current learning rate (with optimizer) */
    const ac_train_state *train;
    const ac_calibration *calibration; /* NULL: none; else its horizon and channels the model's */
    /* Long format (data.format = long): the series' ids and scalers, series_count of each, all
     * of scaler's layout, written as /scaler/mean and /std [S, C] and /scaler/ids [S]; scaler
     * is then ignored beyond its layout. 0 and NULL for a wide table. */
    int series_count;
    const ac_scaler *series_scalers;
    char *const *series_ids;
} ac_ckpt_contents;

ac_status ac_ckpt_write(const char *path, const ac_ckpt_contents *contents, ac_error *err);

/* A loaded checkpoint; owns everything in it. */
typedef struct ac_checkpoint {
    char path[AC_CONFIG_TEXT];
    int format_version;
    char created[64];
    char program_version[32];
    ac_config config;
    int channels;         /* the targets */
    int columns;          /* the scaler's columns: the targets, then the real covariates */
    char **channel_names; /* columns strings (/scaler/channels) */
    ac_scaler scaler;     /* a wide table's; in long format the first series' */
    /* Long format: the series' ids and scalers from /scaler/ids and the rows of /scaler/mean and
     * /std (series_count 0 and NULLs for a wide table). */
    int series_count;
    char **series_ids;
    ac_scaler *series_scalers;
    ac_forecaster *model; /* built from config and channels, weights from /params */

    bool has_optimizer;
    ac_optimizer_kind optimizer_kind;
    int64_t optimizer_step;
    int64_t schedule_step;
    double lr;
    int optimizer_slots;     /* 2 adam/adamw, 1 sgd */
    float **optimizer_state; /* [param * slots + slot], each the parameter's size */

    bool has_train;
    ac_train_state train; /* history and best_weights point into the two fields below */
    ac_epoch_record *history;
    float *best_weights;

    bool has_calibration;
    ac_calibration calibration; /* /calibration, when has_calibration */
} ac_checkpoint;

ac_status ac_ckpt_read(ac_checkpoint **out, const char *path, ac_error *err);
void ac_ckpt_free(ac_checkpoint *ckpt);

/* Writes a loaded checkpoint to path (atomically, as ac_ckpt_write; path may be the file it was
 * read from): its config, parameters, scaler, optimizer state and training state unchanged, and
 * calibration as its /calibration (NULL: the checkpoint's own, if it has one). The created and
 * program_version attributes are those of the rewrite. */
ac_status ac_ckpt_rewrite(const char *path, const ac_checkpoint *ckpt,
                          const ac_calibration *calibration, ac_error *err);

/* Copies the loaded optimizer state (moments, step count) into an optimizer over the same
 * parameters, of the same kind; sizes and kind are checked. */
ac_status ac_ckpt_restore_optimizer(const ac_checkpoint *ckpt, ac_optimizer *opt, ac_error *err);

#endif
