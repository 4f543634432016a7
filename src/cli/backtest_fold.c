/* backtest_fold.c - one fold of `attncast backtest`: the fold's series (scaled with the scaler
 * of its own training rows, or the checkpoint's), its model (trained from the config on the rows
 * before the fold's first origin, or the checkpoint's), the forecasts of all its origins in one
 * batched pass (ac_forecast_windows), and the fold file that keeps them.
 *
 * A fold file (DIR/folds/fold_NNNN.bin, native byte order, written atomically) holds: the magic
 * "ACBTFLD1", the backtest's identity (uint64), int32 index, count, channels, horizon,
 * train_rows, epochs_run, best_epoch, double train_seconds, forecast_seconds, then the fold's
 * scaler (double mean[C], std[C]), the origins (int32 [count]) and the forecasts (float32
 * [count, H, C], scaled with the fold's scaler, the model's output bit for bit). */
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

static const char MAGIC[8] = {'A', 'C', 'B', 'T', 'F', 'L', 'D', '1'};
enum { HEADER_INTS = 7 };

void ac_backtest_fold_span(const bt_plan *plan, int f, int *begin, int *end) {
    *begin = f * plan->per_fold;
    *end = *begin + plan->per_fold < plan->count ? *begin + plan->per_fold : plan->count;
}

void ac_backtest_fold_path(const char *dir, int f, char *path, size_t n) {
    snprintf(path, n, "%s/folds/fold_%04d.bin", dir, f);
}

void ac_backtest_fold_free(bt_fold *fold) {
    free(fold->origins);
    free(fold->mean);
    free(fold->std);
    free(fold->forecasts);
    memset(fold, 0, sizeof *fold);
}

typedef struct collect {
    bt_fold *fold;
    int first, stride;
    size_t window; /* H x C */
} collect;

static void keep_forecast(void *user, int t, const float *x, const float *y, const float *point,
                          const float *quantiles) {
    (void)x, (void)y, (void)quantiles;
    collect *c = user;
    int i = (t - c->first) / c->stride;
    c->fold->origins[i] = t;
    memcpy(c->fold->forecasts + (size_t)i * c->window, point, c->window * sizeof(float));
}

/* The series of a refit: scaled with the scaler of rows [0, train_rows), those rows training
 * and the next n_val validating (the rest are never trained on). */
static ac_status refit_series(ac_series *s, const ac_table *t, const ac_config *cfg, int train_rows,
                              int n_val, ac_error *err) {
    ac_scaler sc;
    if (ac_scaler_fit(&sc, t->values, train_rows, t->cols, err) != AC_OK) return err->code;
    for (int c = 0; c < t->cols; c++)
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

static int write_fold(const bt_job *job, const bt_fold *fd) {
    size_t C = (size_t)fd->channels, n = (size_t)fd->count, w = (size_t)fd->horizon * C;
    size_t size = sizeof MAGIC + sizeof(uint64_t) + HEADER_INTS * sizeof(int32_t) +
                  2 * sizeof(double) + 2 * C * sizeof(double) + n * sizeof(int32_t) +
                  n * w * sizeof(float);
    unsigned char *buf = malloc(size), *p = buf;
    if (!buf) {
        ac_cli_error("backtest: out of memory writing fold %d", fd->index);
        return -1;
    }
#define PUT(src, bytes) (memcpy(p, (src), (bytes)), p += (bytes))
    PUT(MAGIC, sizeof MAGIC);
    PUT(&job->identity, sizeof job->identity);
    int32_t ints[HEADER_INTS] = {fd->index,      fd->count,      fd->channels,  fd->horizon,
                                 fd->train_rows, fd->epochs_run, fd->best_epoch};
    PUT(ints, sizeof ints);
    PUT(&fd->train_seconds, sizeof(double));
    PUT(&fd->forecast_seconds, sizeof(double));
    PUT(fd->mean, C * sizeof(double));
    PUT(fd->std, C * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        int32_t t = fd->origins[i];
        PUT(&t, sizeof t);
    }
    PUT(fd->forecasts, n * w * sizeof(float));
#undef PUT
    char path[4200];
    ac_backtest_fold_path(job->dir, fd->index, path, sizeof path);
    ac_error err;
    int rc = ac_write_file_atomic(path, (const char *)buf, size, &err) == AC_OK ? 0 : -1;
    if (rc) ac_cli_error("%s", err.msg);
    free(buf);
    return rc;
}

int ac_backtest_fold_run(const bt_job *job, int f, bool *usage) {
    const bt_plan *plan = &job->plan;
    const ac_config *cfg = job->cfg;
    const ac_table *t = job->table;
    *usage = false;
    int begin, end;
    ac_backtest_fold_span(plan, f, &begin, &end);
    int first = plan->first + begin * plan->stride, C = t->cols, H = cfg->data.horizon;
    bt_fold fd = {.index = f, .count = end - begin, .channels = C, .horizon = H};
    fd.origins = calloc((size_t)fd.count, sizeof(int));
    fd.mean = calloc((size_t)C, sizeof(double));
    fd.std = calloc((size_t)C, sizeof(double));
    fd.forecasts = calloc((size_t)fd.count * H * C, sizeof(float));
    ac_series series;
    memset(&series, 0, sizeof series);
    ac_forecaster *own = NULL;
    ac_trainer *tr = NULL;
    ac_error err;
    int rc = -1;
    if (!fd.origins || !fd.mean || !fd.std || !fd.forecasts) {
        ac_cli_error("backtest: out of memory for fold %d", f);
        goto done;
    }
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
        if (ac_trainer_run(tr, &err) != AC_OK) {
            ac_cli_error("backtest: fold %d: %s", f, err.msg);
            goto done;
        }
        ac_trainer_history(tr, &fd.epochs_run);
        fd.best_epoch = ac_trainer_best_epoch(tr);
        fd.train_seconds = ac_trainer_seconds(tr);
        model = own;
    }
    memcpy(fd.mean, series.scaler.mean, (size_t)C * sizeof(double));
    memcpy(fd.std, series.scaler.std, (size_t)C * sizeof(double));
    collect c = {.fold = &fd, .first = first, .stride = plan->stride, .window = (size_t)H * C};
    double start = ac_seconds();
    if (ac_forecast_windows(model, &series, first, fd.count, plan->stride, cfg->train.batch_size,
                            keep_forecast, &c, &err) != AC_OK) {
        ac_cli_error("backtest: fold %d: %s", f, err.msg);
        goto done;
    }
    fd.forecast_seconds = ac_seconds() - start;
    rc = write_fold(job, &fd);
    if (rc == 0 && !job->quiet) {
        if (fd.epochs_run)
            printf("fold %d/%d: trained on rows 0-%d, %d epoch(s) (best %d) in %.1f s; %d "
                   "origin(s) forecast in %.3f s\n",
                   f + 1, plan->folds, fd.train_rows - 1, fd.epochs_run, fd.best_epoch,
                   fd.train_seconds, fd.count, fd.forecast_seconds);
        else
            printf("fold %d/%d: %d origin(s) forecast in %.3f s\n", f + 1, plan->folds, fd.count,
                   fd.forecast_seconds);
        fflush(stdout);
    }
done:
    ac_trainer_free(tr);
    ac_forecaster_free(own);
    ac_series_free(&series);
    ac_backtest_fold_free(&fd);
    return rc;
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
    int C = job->table->cols, H = job->cfg->data.horizon, begin, end;
    ac_backtest_fold_span(&job->plan, f, &begin, &end);
    bool ok = fread(magic, 1, sizeof magic, file) == sizeof magic &&
              !memcmp(magic, MAGIC, sizeof MAGIC) &&
              fread(&identity, sizeof identity, 1, file) == 1 &&
              fread(ints, sizeof ints, 1, file) == 1;
    if (ok && identity != job->identity) {
        fclose(file);
        ac_cli_error("%s was written by a backtest of another config, data or options; give "
                     "another --out or remove the folder",
                     path);
        return -1;
    }
    ok = ok && ints[0] == f && ints[1] == end - begin && ints[2] == C && ints[3] == H;
    if (ok) {
        *out = (bt_fold){.index = f,
                         .count = ints[1],
                         .channels = C,
                         .horizon = H,
                         .train_rows = ints[4],
                         .epochs_run = ints[5],
                         .best_epoch = ints[6]};
        size_t n = (size_t)out->count, w = (size_t)H * C;
        out->origins = malloc(n * sizeof(int));
        out->mean = malloc((size_t)C * sizeof(double));
        out->std = malloc((size_t)C * sizeof(double));
        out->forecasts = malloc(n * w * sizeof(float));
        ok = out->origins && out->mean && out->std && out->forecasts &&
             fread(&out->train_seconds, sizeof(double), 1, file) == 1 &&
             fread(&out->forecast_seconds, sizeof(double), 1, file) == 1 &&
             fread(out->mean, sizeof(double), (size_t)C, file) == (size_t)C &&
             fread(out->std, sizeof(double), (size_t)C, file) == (size_t)C;
        for (size_t i = 0; ok && i < n; i++) {
            int32_t t;
            ok = fread(&t, sizeof t, 1, file) == 1 &&
                 t == job->plan.first + (begin + (int)i) * job->plan.stride;
            out->origins[i] = t;
        }
        ok = ok && fread(out->forecasts, sizeof(float), n * w, file) == n * w && fgetc(file) == EOF;
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
