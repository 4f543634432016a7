/* backtest_fold.c - one fold of `attncast backtest`: the fold's series (scaled with the scaler
 * of its own training rows, or the checkpoint's), its model (trained from the config on the rows
 * before the fold's first origin, or the checkpoint's), its conformal calibration (on the fold
 * series' own validation windows, or the checkpoint's /calibration), the forecasts of all its
 * origins in one batched pass (ac_forecast_windows) with their bounds and quantiles, and the fold
 * file that keeps them.
 *
 * A fold file (DIR/folds/fold_NNNN.bin, native byte order, written atomically) holds: the magic
 * "ACBTFLD2", the backtest's identity (uint64), int32 index, count, channels (C: the targets),
 * horizon, train_rows, epochs_run, best_epoch, K (conformal levels), Q (quantile levels),
 * calibration_windows, double train_seconds, forecast_seconds, then the fold's scaler (double
 * mean[N], std[N] over the N real columns of the table: the C targets, then the real covariates;
 * N = C without covariates, the layout of earlier version 2 files), the conformal levels (double
 * [K]), the quantile levels (float32 [Q]), the origins (int32 [count]), the point forecasts of the
 * targets (float32 [count, H, C]), the conformal bounds (float32 [count, K, 2, H, C]: lo, then hi)
 * and the sorted quantiles (float32 [count, H, C, Q]), all scaled with the fold's scaler, the
 * model's output bit for bit. Version 1 files (magic "ACBTFLD1", points only) are refused with a
 * message; a covariate backtest's file of an attncast that counted every column as a channel
 * fails the header's check (a damaged fold: remove it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/trainer.h"
#include "attncast/windows.h"
#include "core/clock.h"
#include "app/report.h"
#include "cli/backtest.h"
#include "cli/cli.h"

static const char MAGIC[8] = {'A', 'C', 'B', 'T', 'F', 'L', 'D', '2'};
static const char MAGIC_V1[8] = {'A', 'C', 'B', 'T', 'F', 'L', 'D', '1'};
enum { HEADER_INTS = 10 };

void ac_backtest_fold_span(const bt_plan *plan, int f, int *begin, int *end) {
    *begin = f * plan->per_fold;
    *end = *begin + plan->per_fold < plan->count ? *begin + plan->per_fold : plan->count;
}

void ac_backtest_fold_path(const char *dir, int f, char *path, size_t n) {
    snprintf(path, n, "%s/folds/fold_%04d.bin", dir, f);
}

void ac_backtest_fold_free(bt_fold *fold) {
    free(fold->levels);
    free(fold->quantile_levels);
    free(fold->bounds);
    free(fold->quantile_values);
    free(fold->origins);
    free(fold->mean);
    free(fold->std);
    free(fold->forecasts);
    memset(fold, 0, sizeof *fold);
}

typedef struct collect {
    bt_fold *fold;
    const ac_calibration *cal; /* NULL: no conformal bounds */
    int first, stride;
    size_t window; /* H x C */
} collect;

static void keep_forecast(void *user, int t, const float *x, const float *y, const float *point,
                          const float *quantiles) {
    (void)x, (void)y;
    collect *c = user;
    bt_fold *fd = c->fold;
    size_t i = (size_t)((t - c->first) / c->stride);
    fd->origins[i] = t;
    memcpy(fd->forecasts + i * c->window, point, c->window * sizeof(float));
    if (c->cal)
        ac_cli_conformal_bounds(c->cal, point, fd->horizon, fd->channels,
                                fd->bounds + i * 2 * (size_t)fd->conformal * c->window);
    if (quantiles)
        memcpy(fd->quantile_values + i * c->window * (size_t)fd->quantiles, quantiles,
               c->window * (size_t)fd->quantiles * sizeof(float));
}

/* The series of a refit: scaled with the scaler of rows [0, train_rows), those rows training
 * and the next n_val validating (the rest are never trained on). */
static ac_status refit_series(ac_series *s, const ac_table *t, const ac_config *cfg, int train_rows,
                              int n_val, ac_error *err) {
    ac_scaler sc;
    if (ac_scaler_fit(&sc, t->values, train_rows, t->cols, t->cols - t->calendar_columns,
                      t->targets, err) != AC_OK)
        return err->code;
    for (int c = 0; c < sc.columns; c++)
        if (!isfinite(sc.mean[c]) || !isfinite(sc.std[c])) {
            ac_scaler_free(&sc);
            return ac_error_set(err, AC_ERR_FORMAT,
                                "column '%s': values too large to scale (the training rows "
                                "overflow a double)",
                                t->names[c]);
        }
    ac_status st = ac_series_build_whole(s, t, cfg->data.lookback, cfg->data.horizon, &sc, err);
    ac_scaler_free(&sc);
    if (st != AC_OK) return st;
    s->split = (ac_split){.rows = t->rows,
                          .n_train = train_rows,
                          .n_val = n_val,
                          .n_test = t->rows - train_rows - n_val};
    return AC_OK;
}

/* The sizes of a fold's arrays: points [count, H, C], bounds [count, K, 2, H, C], quantiles
 * [count, H, C, Q]. */
static size_t points_of(const bt_fold *fd) {
    return (size_t)fd->count * (size_t)fd->horizon * (size_t)fd->channels;
}

static int write_fold(const bt_job *job, const bt_fold *fd) {
    size_t N = (size_t)fd->columns, n = (size_t)fd->count, K = (size_t)fd->conformal,
           Q = (size_t)fd->quantiles, np = points_of(fd);
    size_t size = sizeof MAGIC + sizeof(uint64_t) + HEADER_INTS * sizeof(int32_t) +
                  2 * sizeof(double) + 2 * N * sizeof(double) + K * sizeof(double) +
                  Q * sizeof(float) + n * sizeof(int32_t) + np * (1 + 2 * K + Q) * sizeof(float);
    unsigned char *buf = malloc(size), *p = buf;
    if (!buf) {
        ac_cli_error("backtest: out of memory writing fold %d", fd->index);
        return -1;
    }
#define PUT(src, bytes) (memcpy(p, (src), (bytes)), p += (bytes))
    PUT(MAGIC, sizeof MAGIC);
    PUT(&job->identity, sizeof job->identity);
    int32_t ints[HEADER_INTS] = {
        fd->index,      fd->count,      fd->channels,  fd->horizon,   fd->train_rows,
        fd->epochs_run, fd->best_epoch, fd->conformal, fd->quantiles, fd->calibration_windows};
    PUT(ints, sizeof ints);
    PUT(&fd->train_seconds, sizeof(double));
    PUT(&fd->forecast_seconds, sizeof(double));
    PUT(fd->mean, N * sizeof(double));
    PUT(fd->std, N * sizeof(double));
    if (K) PUT(fd->levels, K * sizeof(double));
    if (Q) PUT(fd->quantile_levels, Q * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        int32_t t = fd->origins[i];
        PUT(&t, sizeof t);
    }
    PUT(fd->forecasts, np * sizeof(float));
    if (K) PUT(fd->bounds, 2 * K * np * sizeof(float));
    if (Q) PUT(fd->quantile_values, Q * np * sizeof(float));
#undef PUT
    char path[4200];
    ac_backtest_fold_path(job->dir, fd->index, path, sizeof path);
    ac_error err;
    int rc = ac_write_file_atomic(path, (const char *)buf, size, &err) == AC_OK ? 0 : -1;
    if (rc) ac_cli_error("%s", err.msg);
    free(buf);
    return rc;
}

/* Allocates the fold's arrays for its count, K and Q; false when memory is short. */
static bool fold_alloc(bt_fold *fd) {
    size_t N = (size_t)fd->columns, np = points_of(fd), K = (size_t)fd->conformal,
           Q = (size_t)fd->quantiles;
    fd->origins = calloc((size_t)fd->count, sizeof(int));
    fd->mean = calloc(N, sizeof(double));
    fd->std = calloc(N, sizeof(double));
    fd->forecasts = calloc(np, sizeof(float));
    fd->levels = K ? calloc(K, sizeof(double)) : NULL;
    fd->quantile_levels = Q ? calloc(Q, sizeof(float)) : NULL;
    fd->bounds = K ? calloc(2 * K * np, sizeof(float)) : NULL;
    fd->quantile_values = Q ? calloc(Q * np, sizeof(float)) : NULL;
    return fd->origins && fd->mean && fd->std && fd->forecasts &&
           (!K || (fd->levels && fd->bounds)) &&
           (!Q || (fd->quantile_levels && fd->quantile_values));
}

/* The fold model's conformal calibration into *own: with a checkpoint (and no refit) its
 * /calibration (*cal = NULL when it has none; the report notes that), else ac_calibrate on the
 * fold series' validation windows at output.intervals (none when that is empty). */
static ac_status fold_calibration(const bt_job *job, ac_forecaster *model, const ac_series *series,
                                  ac_calibration *own, const ac_calibration **cal, ac_error *err) {
    *cal = NULL;
    if (job->plan.checkpoint) {
        if (job->ck->has_calibration) *cal = &job->ck->calibration;
        return AC_OK;
    }
    const ac_levels *levels = &job->cfg->output.intervals;
    if (levels->count == 0) return AC_OK;
    if (ac_calibrate(model, series, AC_SPLIT_VAL, levels->value, levels->count,
                     job->cfg->train.batch_size, own, err) != AC_OK)
        return err->code;
    *cal = own;
    return AC_OK;
}

int ac_backtest_fold_run(const bt_job *job, int f, bool *usage) {
    const bt_plan *plan = &job->plan;
    const ac_config *cfg = job->cfg;
    const ac_table *t = job->table;
    *usage = false;
    int begin, end;
    ac_backtest_fold_span(plan, f, &begin, &end);
    int first = plan->first + begin * plan->stride, C = t->targets, H = cfg->data.horizon;
    bt_fold fd = {.index = f,
                  .count = end - begin,
                  .channels = C,
                  .columns = t->cols - t->calendar_columns,
                  .horizon = H};
    ac_series series;
    memset(&series, 0, sizeof series);
    ac_calibration own_cal;
    memset(&own_cal, 0, sizeof own_cal);
    const ac_calibration *cal = NULL;
    ac_forecaster *own = NULL;
    ac_trainer *tr = NULL;
    ac_error err;
    int rc = -1;
    ac_forecaster *model = NULL;
    if (plan->checkpoint) {
        fd.train_rows = plan->ckpt_train;
        if (ac_series_build_whole(&series, t, cfg->data.lookback, H, &job->ck->scaler, &err) !=
            AC_OK) {
            ac_cli_error("%s: %s", t->source, err.msg);
            goto done;
        }
        model = job->ck->model;
    } else {
        fd.train_rows = first - plan->n_val;
        if (refit_series(&series, t, cfg, fd.train_rows, plan->n_val, &err) != AC_OK) {
            ac_cli_error("%s: %s", t->source, err.msg);
            goto done;
        }
        if (ac_cli_model_and_trainer(cfg, &series, &own, &tr, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            *usage = err.code == AC_ERR_INVALID;
            goto done;
        }
        if (job->stop_requested &&
            ac_trainer_set_stop_check(tr, job->stop_requested, &err) != AC_OK) {
            ac_cli_error("backtest: fold %d: %s", f, err.msg);
            goto done;
        }
        if (ac_trainer_run(tr, &err) != AC_OK) {
            if (err.code == AC_ERR_INTERRUPTED)
                rc = 1; /* the fold is dropped whole and computed again on a rerun */
            else
                ac_cli_error("backtest: fold %d: %s", f, err.msg);
            goto done;
        }
        ac_trainer_history(tr, &fd.epochs_run);
        fd.best_epoch = ac_trainer_best_epoch(tr);
        fd.train_seconds = ac_trainer_seconds(tr);
        model = own;
    }
    if (fold_calibration(job, model, &series, &own_cal, &cal, &err) != AC_OK) {
        ac_cli_error("backtest: fold %d: calibrating on rows %d-%d: %s", f, fd.train_rows,
                     fd.train_rows + plan->n_val - 1, err.msg);
        goto done;
    }
    if (cal && (cal->horizon != H || cal->channels != C)) {
        ac_cli_error("backtest: the calibration is for %d step(s) x %d channel(s), the model "
                     "forecasts %d x %d",
                     cal->horizon, cal->channels, H, C);
        goto done;
    }
    const ac_model_spec *spec = ac_forecaster_spec(model);
    fd.conformal = cal ? cal->count : 0;
    fd.calibration_windows = cal ? (int)cal->windows : 0;
    fd.quantiles = spec->quantile_count;
    if (!fold_alloc(&fd)) {
        ac_cli_error("backtest: out of memory for fold %d", f);
        goto done;
    }
    if (cal) memcpy(fd.levels, cal->levels, (size_t)fd.conformal * sizeof(double));
    if (fd.quantiles)
        memcpy(fd.quantile_levels, spec->quantiles, (size_t)fd.quantiles * sizeof(float));
    /* the series' build checked that its scaler covers the targets and the real columns */
    memcpy(fd.mean, series.scaler.mean, (size_t)fd.columns * sizeof(double));
    memcpy(fd.std, series.scaler.std, (size_t)fd.columns * sizeof(double));
    collect c = {
        .fold = &fd, .cal = cal, .first = first, .stride = plan->stride, .window = (size_t)H * C};
    double start = ac_seconds();
    if (ac_forecast_windows(model, &series, first, fd.count, plan->stride, cfg->train.batch_size,
                            keep_forecast, &c, &err) != AC_OK) {
        ac_cli_error("backtest: fold %d: %s", f, err.msg);
        goto done;
    }
    fd.forecast_seconds = ac_seconds() - start;
    rc = write_fold(job, &fd);
    if (rc == 0 && !job->quiet) {
        char calibrated[96] = "";
        if (cal && !plan->checkpoint)
            snprintf(calibrated, sizeof calibrated, "; intervals calibrated on %d window(s)",
                     fd.calibration_windows);
        if (fd.epochs_run)
            printf("fold %d/%d: trained on rows 0-%d, %d epoch(s) (best %d) in %.1f s%s; %d "
                   "origin(s) forecast in %.3f s\n",
                   f + 1, plan->folds, fd.train_rows - 1, fd.epochs_run, fd.best_epoch,
                   fd.train_seconds, calibrated, fd.count, fd.forecast_seconds);
        else
            printf("fold %d/%d: %d origin(s) forecast in %.3f s\n", f + 1, plan->folds, fd.count,
                   fd.forecast_seconds);
        fflush(stdout);
    }
done:
    ac_calibration_free(&own_cal);
    ac_trainer_free(tr);
    ac_forecaster_free(own);
    ac_series_free(&series);
    ac_backtest_fold_free(&fd);
    return rc;
}

static bool read_all(FILE *file, void *dst, size_t size, size_t n) {
    return n == 0 || fread(dst, size, n, file) == n;
}

int ac_backtest_fold_read(const bt_job *job, int f, bt_fold *out) {
    memset(out, 0, sizeof *out);
    char path[4200];
    ac_backtest_fold_path(job->dir, f, path, sizeof path);
    FILE *file = fopen(path, "rb");
    if (!file) return 1;
    char magic[8];
    uint64_t identity = 0;
    int32_t ints[HEADER_INTS];
    int C = job->table->targets, N = job->table->cols - job->table->calendar_columns,
        H = job->cfg->data.horizon, begin, end;
    ac_backtest_fold_span(&job->plan, f, &begin, &end);
    bool ok = fread(magic, 1, sizeof magic, file) == sizeof magic;
    if (ok && !memcmp(magic, MAGIC_V1, sizeof MAGIC_V1)) {
        fclose(file);
        ac_cli_error("%s was written by an earlier attncast (fold file version 1, without "
                     "intervals); give another --out or remove the folder",
                     path);
        return -1;
    }
    ok = ok && !memcmp(magic, MAGIC, sizeof MAGIC) &&
         fread(&identity, sizeof identity, 1, file) == 1 && fread(ints, sizeof ints, 1, file) == 1;
    if (ok && identity != job->identity) {
        fclose(file);
        ac_cli_error("%s was written by a backtest of another config, data or options; give "
                     "another --out or remove the folder",
                     path);
        return -1;
    }
    ok = ok && ints[0] == f && ints[1] == end - begin && ints[2] == C && ints[3] == H &&
         ints[7] >= 0 && ints[7] <= AC_INTERVALS_MAX && ints[8] >= 0 &&
         ints[8] <= AC_MAX_QUANTILES && ints[9] >= 0;
    if (ok) {
        *out = (bt_fold){.index = f,
                         .count = ints[1],
                         .channels = C,
                         .columns = N,
                         .horizon = H,
                         .train_rows = ints[4],
                         .epochs_run = ints[5],
                         .best_epoch = ints[6],
                         .conformal = ints[7],
                         .quantiles = ints[8],
                         .calibration_windows = ints[9]};
        size_t n = (size_t)out->count, np = points_of(out), K = (size_t)out->conformal,
               Q = (size_t)out->quantiles;
        ok = fold_alloc(out) && read_all(file, &out->train_seconds, sizeof(double), 1) &&
             read_all(file, &out->forecast_seconds, sizeof(double), 1) &&
             read_all(file, out->mean, sizeof(double), (size_t)N) &&
             read_all(file, out->std, sizeof(double), (size_t)N) &&
             read_all(file, out->levels, sizeof(double), K) &&
             read_all(file, out->quantile_levels, sizeof(float), Q);
        for (size_t i = 0; ok && i < n; i++) {
            int32_t t;
            ok = fread(&t, sizeof t, 1, file) == 1 &&
                 t == job->plan.first + (begin + (int)i) * job->plan.stride;
            out->origins[i] = t;
        }
        ok = ok && read_all(file, out->forecasts, sizeof(float), np) &&
             read_all(file, out->bounds, sizeof(float), 2 * K * np) &&
             read_all(file, out->quantile_values, sizeof(float), Q * np) && fgetc(file) == EOF;
    }
    fclose(file);
    if (!ok) {
        ac_backtest_fold_free(out);
        ac_cli_error("%s: not a fold file of this backtest (truncated or damaged); remove it to "
                     "compute the fold again",
                     path);
        return -1;
    }
    return 0;
}
