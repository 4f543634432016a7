/* trainer.h - training a forecaster on a series, and evaluating it against the baselines.
 *
 * A trainer holds everything a run changes as it goes: the optimizer and its state, the
 * learning-rate schedule, the random streams (shuffling and dropout), the epoch and global step,
 * the early-stopping state with the best weights kept in memory, and the history. It copies its
 * options (ac_train_options: an embedder fills them in, or ac_config_train_options reads them
 * from a config's [train] section) and borrows the series and the model. One epoch = the training
 * windows in a fresh seeded order, in mini-batches (the last partial batch kept), one optimizer
 * step each, then the validation loss. A loss or gradient that is not finite stops the run with an
 * error naming the epoch and step, before the update, so the weights stay finite; so does a
 * validation loss that is not finite.
 *
 * Random streams, all seeded from the options' seed (train.seed): stream 0 initialises the model
 * (the caller does that), stream 1 shuffles, stream 2 drives dropout. The same options, seed and
 * thread count give the same history bit for bit.
 */
#ifndef ATTNCAST_TRAINER_H
#define ATTNCAST_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "attncast/forecaster.h"
#include "attncast/intervals.h"
#include "attncast/metrics.h"
#include "attncast/optim.h"
#include "attncast/parallel.h"
#include "attncast/windows.h"

enum { AC_RNG_STREAM_INIT = 0, AC_RNG_STREAM_SHUFFLE = 1, AC_RNG_STREAM_DROPOUT = 2 };

typedef struct ac_epoch_record {
    int epoch;            /* 1-based */
    double train_loss;    /* mean training loss over the epoch's batches (window-weighted) */
    double val_loss;      /* loss on the validation windows after the epoch */
    double lr;            /* learning rate of the epoch's last step */
    double seconds;       /* wall time of the epoch (training + validation) */
    double windows_per_s; /* training windows per second */
} ac_epoch_record;

typedef struct ac_train_observer {
    /* After every training step; loss is the running mean of the epoch so far. */
    void (*on_batch)(void *user, int epoch, int batch, int batches, double loss,
                     double windows_per_s);
    /* After every epoch's validation; improved: this epoch is the best so far. */
    void (*on_epoch)(void *user, const ac_epoch_record *record, bool improved);
    void *user;
} ac_train_observer;

/* How to train. Each field is the [train] key of the same name (README and docs/config.md give
 * the ranges and defaults; ac_config_defaults then ac_config_train_options gives them all). */
typedef struct ac_train_options {
    int epochs;                  /* >= 1 */
    int batch_size;              /* >= 1 */
    double lr;                   /* peak learning rate, > 0 */
    ac_optimizer_kind optimizer; /* adam, adamw or sgd */
    double weight_decay;
    double momentum;           /* sgd only */
    double clip_grad;          /* global gradient-norm clip; 0: off */
    ac_schedule_kind schedule; /* learning-rate schedule */
    int warmup;                /* warm-up epochs */
    int decay_every;           /* step schedule: epochs between decays */
    double decay_gamma;        /* step schedule: the factor */
    int patience;              /* early stopping, in epochs; 0: off */
    uint64_t seed;             /* shuffling and dropout streams */
    ac_loss_kind loss;         /* training and validation loss; pinball for a quantile model */
} ac_train_options;

typedef struct ac_trainer ac_trainer;

/* NULL with err set (AC_ERR_INVALID) for options out of range: no epoch, an empty batch, a
 * learning rate that is not a finite positive number, an unknown optimizer, schedule or loss, or
 * a loss that does not fit the model (pinball goes with a quantile model, and only with one). */
ac_trainer *ac_trainer_new(const ac_train_options *options, const ac_series *series,
                           ac_forecaster *model, ac_error *err);
/* The same on the pooled windows of a panel's series (borrowed; shuffled together). */
ac_trainer *ac_trainer_new_panel(const ac_train_options *options, const ac_panel *panel,
                                 ac_forecaster *model, ac_error *err);
void ac_trainer_free(ac_trainer *trainer);
void ac_trainer_set_observer(ac_trainer *trainer, const ac_train_observer *observer);

/* Shares the training with the other ranks of group (data-parallel; NULL or a group of one:
 * alone). Every rank runs the same trainer on the same options, series and seed, and makes the
 * same calls. Each global batch (the same batches as alone) is split into contiguous slices of
 * windows, one per rank; each rank computes its slice's gradients as the whole batch would on
 * those windows (ac_ctx_set_batch_slice: the same loss normalisation, the same dropout masks),
 * and one fused allreduce per step sums the gradients and the loss, so every rank takes the
 * same optimizer step. The first epoch of this trainer starts from rank 0's parameters
 * (broadcast, after a resume too), and every epoch ends with a check that the ranks' parameters
 * are still bit for bit the same. Validation runs whole on every rank. The result matches the
 * single-process run up to the order of float additions over windows in the gradient sums, and
 * repeats bit for bit for the same rank and thread counts. */
ac_status ac_trainer_set_parallel(ac_trainer *trainer, ac_parallel *group, ac_error *err);

/* Runs one epoch; *done becomes true when training should stop (last epoch or patience spent).
 * With a stop check set, an epoch that sees it return non-zero after a step is abandoned: the
 * trainer rewinds to the epoch's start (weights, optimizer, step, random streams) and this
 * returns AC_ERR_INTERRUPTED, so a checkpoint written then resumes exactly. */
ac_status ac_trainer_epoch(ac_trainer *trainer, bool *done, ac_error *err);
/* Asked after every training step (e.g. ac_interrupt_signal); NULL: never stop mid-epoch.
 * Keeps a copy of the weights and optimizer state from each epoch's start. */
ac_status ac_trainer_set_stop_check(ac_trainer *trainer, int (*stop_requested)(void),
                                    ac_error *err);
/* Runs epochs until done, then puts the best weights back into the model. */
ac_status ac_trainer_run(ac_trainer *trainer, ac_error *err);
/* Copies the best epoch's weights into the model (no-op before the first epoch). With
 * model.anchor = last the untrained model (the naive repeat) is scored on the validation windows
 * before the first epoch and counts as epoch 0: an epoch is best only if it beats it, and a run
 * where none does keeps the initial weights (best epoch 0). */
void ac_trainer_restore_best(ac_trainer *trainer);

const ac_epoch_record *ac_trainer_history(const ac_trainer *trainer, int *epochs);
/* 0 before the first epoch, or when the untrained model (anchor = last) is still the best */
int ac_trainer_best_epoch(const ac_trainer *trainer);
double ac_trainer_best_val_loss(const ac_trainer *trainer);
bool ac_trainer_stopped_early(const ac_trainer *trainer);
double ac_trainer_seconds(const ac_trainer *trainer); /* total training wall time */
int64_t ac_trainer_windows_per_epoch(const ac_trainer *trainer);

/* Everything a trainer changes as it runs, except the weights and the optimizer (which the
 * model and ac_trainer_optimizer expose): what a checkpoint's /train group stores. Pointers are
 * borrowed from the trainer (get) or from the caller (set, which copies). */
typedef struct ac_train_state {
    int epoch;      /* epochs completed */
    int64_t step;   /* optimizer steps taken (the schedule position) */
    int best_epoch; /* 0: none yet, or the untrained model (best_val_loss finite) */
    double best_val_loss;
    int bad_epochs; /* epochs since the best (the early-stopping counter) */
    int stopped_early;
    double seconds;                 /* training wall time so far */
    double lr;                      /* learning rate of the last step taken (0 before the first) */
    ac_rng shuffle_rng;             /* stream AC_RNG_STREAM_SHUFFLE */
    ac_rng dropout_rng;             /* stream AC_RNG_STREAM_DROPOUT */
    const ac_epoch_record *history; /* history_len records */
    int history_len;
    const float *best_weights; /* weight_count floats: every parameter, in registration order */
    int64_t weight_count;
} ac_train_state;

void ac_trainer_get_state(const ac_trainer *trainer, ac_train_state *state);
/* Restores a state saved from a trainer of the same options and model (sizes are checked). */
ac_status ac_trainer_set_state(ac_trainer *trainer, const ac_train_state *state, ac_error *err);
/* The trainer's optimizer (its moments and step count are part of a checkpoint). */
ac_optimizer *ac_trainer_optimizer(ac_trainer *trainer);

/* Receives each forecast window of ac_forecast_windows: its origin t (the first target row), the
 * targets' input x [L, C] (no covariates) and truth y [H, C] (scaled values), the point forecast
 * [H, C] (scaled) and, for a quantile model, the quantile forecasts [H, C, Q] sorted ascending
 * (NULL for a point model). The arrays live until the visitor returns. */
typedef void (*ac_forecast_visitor)(void *user, int t, const float *x, const float *y,
                                    const float *point, const float *quantiles);
/* Forecasts the windows whose origins are t = first + i * stride, i < count, in that order, in
 * no-grad batches of batch_size (the model's inference path: no dropout), and hands each to
 * visit. Every origin must leave room for the lookback before it and the horizon after it
 * (AC_ERR_INVALID otherwise). */
ac_status ac_forecast_windows(ac_forecaster *model, const ac_series *series, int first, int count,
                              int stride, int batch_size, ac_forecast_visitor visit, void *user,
                              ac_error *err);
/* Mean loss of the model over every window of a split (no grad, no dropout); for a quantile
 * model the pinball loss of its raw (unsorted) outputs, as in training. */
ac_status ac_split_loss(ac_forecaster *model, const ac_series *series, ac_split_kind split,
                        ac_loss_kind loss, int batch_size, double *out, ac_error *err);

/* The same over every window of a panel's series: the mean over all of them. */
ac_status ac_panel_split_loss(ac_forecaster *model, const ac_panel *panel, ac_split_kind split,
                              ac_loss_kind loss, int batch_size, double *out, ac_error *err);

/* One interval of ac_interval_defs scored on the windows of a split. */
typedef struct ac_eval_interval {
    ac_interval_def def;
    ac_interval_metrics pooled;
    ac_interval_metrics *channels; /* [channels], owned by the ac_eval_result */
} ac_eval_interval;

/* The most quantile levels one ac_eval_quantiles scores: a quantile model's own, or the 2K + 1
 * that K conformal levels imply (ac_interval_quantile_levels). */
#define AC_EVAL_LEVELS_MAX (2 * 8 + 1)

/* A quantile forecast at one set of levels scored on the windows of a split (metrics.h), and the
 * seasonal-naive quantile baseline at the same levels on the same windows. */
typedef struct ac_eval_quantiles {
    /* AC_INTERVAL_QUANTILE: the model's own levels and quantile forecasts; AC_INTERVAL_CONFORMAL:
     * the levels the calibration's intervals imply, the lower and upper bounds of each level as
     * the quantiles (1 - a) / 2 and (1 + a) / 2, the point forecast as the median */
    ac_interval_method method;
    int count;
    double levels[AC_EVAL_LEVELS_MAX]; /* increasing */
    ac_quantile_metrics model;
    ac_quantile_metrics *model_channels; /* [channels], owned by the ac_eval_result */
    /* The seasonal-naive forecast plus the empirical quantiles of its errors on the validation
     * windows of the series (ac_baseline_quantile_offsets); false when the series has none (a
     * whole file, AC_SPLIT_ALL), and then the two fields below are zero. */
    bool has_baseline;
    ac_quantile_metrics baseline;
    ac_quantile_metrics *baseline_channels; /* [channels], owned by the ac_eval_result */
} ac_eval_quantiles;

typedef struct ac_eval_result {
    ac_split_kind split;
    int64_t windows;
    int season;
    int channels;
    ac_metrics model; /* pooled over the channels (metrics.h) */
    ac_metrics baseline[AC_BASELINE_COUNT];
    /* per channel, [channels] each; model_channels owns one block that the baselines' point
     * into (ac_eval_result_free) */
    ac_metrics *model_channels;
    ac_metrics *baseline_channels[AC_BASELINE_COUNT];
    /* Every interval the model offers with the calibration given (ac_interval_defs, in its
     * order): none for a point model without one. */
    int interval_count;
    ac_eval_interval intervals[AC_INTERVALS_CAP];
    /* The quantile scores: first a quantile model's own levels, then (with a calibration) the
     * levels its conformal intervals imply; none for a point model without a calibration. */
    int quantile_sets;
    ac_eval_quantiles quantiles[2];
} ac_eval_result;

/* The model and the baselines on every window of a split, pooled and per channel; MAPE floors
 * from the rows the split's targets cover. cal (NULL: none) is the model's calibration: with it,
 * or for a quantile model, the intervals and quantiles are scored too (ac_eval_result's fields
 * say which). AC_ERR_INVALID for a calibration whose horizon or channels differ from the
 * series'. On success the caller frees out with ac_eval_result_free. */
ac_status ac_evaluate(ac_forecaster *model, const ac_series *series, ac_split_kind split,
                      int season, int batch_size, const ac_calibration *cal, ac_eval_result *out,
                      ac_error *err);
/* The same over every series of a panel: each series' windows scored on its own scale (its
 * scaler, MASE scales, MAPE floors and seasonal-naive quantile offsets), pooled into out by
 * adding up the sums (with several series, RMSE and MAE in original units are NAN: the series'
 * units may differ), and each series' own results into per_series[i] (NULL: not wanted; each
 * freed with ac_eval_result_free; a series with no window of the split has 0 windows and NAN
 * metrics). One calibration serves every series (z-scored scale). A panel of one series without
 * per_series gives ac_evaluate's result. */
ac_status ac_evaluate_panel(ac_forecaster *model, const ac_panel *panel, ac_split_kind split,
                            int season, int batch_size, const ac_calibration *cal,
                            ac_eval_result *out, ac_eval_result *per_series, ac_error *err);
/* Frees what out owns (every per-channel array); safe on a zeroed struct. */
void ac_eval_result_free(ac_eval_result *eval);

#endif
