/* backtest_report.c - scoring a backtest from its fold files and writing its outputs:
 * forecasts.csv (every origin, step and target channel in the data's units, with each conformal
 * level's bounds and a quantile model's quantiles), metrics.json (overall, per fold and per horizon
 * step, the model beside the baselines on the same origins; each interval's coverage, width and
 * Winkler score; the quantile loss of the model's quantiles and of the quantiles its conformal
 * intervals imply, beside the seasonal-naive quantile baseline), error_by_step.csv,
 * error_by_fold.csv and coverage_by_fold.csv (what the pictures draw), backtest.md and the
 * pictures.
 *
 * Scaled metrics use one reference scaler, the first fold's (the model's, without refits): a
 * refit's forecasts are carried to it through the original scale, the first fold's are used as
 * the model gave them (bounds and quantiles alike). MASE scales come from the reference fold's
 * training rows, MAPE floors from the rows between the first origin and the last target row, the
 * seasonal-naive quantile baseline's offsets from the reference fold's validation windows; every
 * breakdown shares them (backtest_scores.c scores each window). The outputs depend only on the
 * fold files, so a resumed backtest writes the same bytes (but for backtest.md's timing) as one
 * that ran straight through. Covariates are inputs only: every output covers the targets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "attncast/attncast.h"
#include "attncast/metrics.h"
#include "app/plot.h"
#include "app/report.h"
#include "cli/backtest.h"
#include "cli/cli.h"

static double mae_of(const bt_scores *s, int k) {
    return ac_metrics_acc_result(&s->acc[k]).mae;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char path[AC_CONFIG_TEXT + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ac_error err;
    if (!text) {
        ac_cli_error("%s: out of memory", path);
        return -1;
    }
    if (ac_write_file_atomic(path, text, strlen(text), &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* A growing text buffer (open_memstream). */
typedef struct text {
    FILE *f;
    char *buf;
    size_t len;
} text;

static bool text_open(text *t) {
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    return t->f != NULL;
}

/* Closes t and writes it to dir/name; 0 or -1 after an error. */
static int text_write(text *t, const char *dir, const char *name) {
    bool ok = fclose(t->f) == 0;
    int rc = write_text(dir, name, ok ? t->buf : NULL);
    free(t->buf);
    return rc;
}

typedef struct context {
    const bt_job *job;
    bt_fold *folds;
    int season;
    const char *label;
    ac_series ref; /* the table scaled with the reference scaler */
    double *mase, *floors;
    bt_intervals is;
    bt_scores overall, *per_fold, *per_step;
} context;

static cJSON *metrics_json(const context *x) {
    const bt_job *job = x->job;
    const bt_plan *p = &job->plan;
    const ac_table *t = job->table;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "data_source", x->label);
    cJSON_AddNumberToObject(root, "rows", t->rows);
    cJSON_AddNumberToObject(root, "channels", t->targets);
    if (t->cols > t->targets) /* the inputs beside the targets (the calendar's included) */
        cJSON_AddNumberToObject(root, "covariate_columns", t->cols - t->targets);
    cJSON_AddNumberToObject(root, "lookback", job->cfg->data.lookback);
    cJSON_AddNumberToObject(root, "horizon", job->cfg->data.horizon);
    cJSON_AddNumberToObject(root, "season", x->season);
    cJSON_AddNumberToObject(root, "first_origin", p->first);
    cJSON_AddNumberToObject(root, "last_origin", p->first + (p->count - 1) * p->stride);
    cJSON_AddNumberToObject(root, "stride", p->stride);
    if (p->refit)
        cJSON_AddNumberToObject(root, "refit", p->refit);
    else
        cJSON_AddStringToObject(root, "refit", "never");
    cJSON_AddStringToObject(root, "model_source", p->checkpoint ? "checkpoint" : "config");
    cJSON_AddNumberToObject(root, "origins", p->count);
    cJSON_AddNumberToObject(root, "folds", p->folds);
    cJSON_AddNumberToObject(root, "reference_train_rows", x->folds[0].train_rows);
    cJSON *overall = cJSON_AddObjectToObject(root, "overall");
    ac_backtest_scores_json(overall, &x->overall, &x->is);
    cJSON *folds = cJSON_AddArrayToObject(root, "per_fold");
    for (int f = 0; f < p->folds; f++) {
        const bt_fold *fd = &x->folds[f];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "fold", f);
        cJSON_AddNumberToObject(o, "first_origin", fd->origins[0]);
        if (t->dates) cJSON_AddStringToObject(o, "first_origin_date", t->dates[fd->origins[0]]);
        cJSON_AddNumberToObject(o, "origins", fd->count);
        cJSON_AddNumberToObject(o, "train_rows", fd->train_rows);
        cJSON_AddNumberToObject(o, "epochs_run", fd->epochs_run);
        cJSON_AddNumberToObject(o, "best_epoch", fd->best_epoch);
        if (fd->conformal)
            cJSON_AddNumberToObject(o, "calibration_windows", fd->calibration_windows);
        ac_backtest_scores_json(o, &x->per_fold[f], &x->is);
        cJSON_AddItemToArray(folds, o);
    }
    cJSON *steps = cJSON_AddArrayToObject(root, "per_step");
    for (int h = 0; h < job->cfg->data.horizon; h++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "step", h + 1);
        ac_backtest_scores_json(o, &x->per_step[h], &x->is);
        cJSON_AddItemToArray(steps, o);
    }
    return root;
}

static int write_metrics(const context *x, const char *dir) {
    cJSON *root = metrics_json(x);
    char *json = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    char *with_newline = json ? malloc(strlen(json) + 2) : NULL;
    if (with_newline) sprintf(with_newline, "%s\n", json);
    int rc = write_text(dir, "metrics.json", with_newline);
    free(json);
    free(with_newline);
    return rc;
}

static double coverage_of(const bt_scores *s, int d) {
    return ac_interval_acc_result(&s->iv[d]).coverage;
}

/* coverage_by_fold.csv (with intervals only): fold,first_origin,first_origin_date,origins, then
 * each interval's empirical coverage, its column named <method>_<level %>. */
static int write_coverage_table(const context *x, const char *dir) {
    const bt_intervals *is = &x->is;
    if (!is->n) return 0;
    const ac_table *t = x->job->table;
    text c;
    if (!text_open(&c)) return write_text(dir, "coverage_by_fold.csv", NULL);
    fprintf(c.f, "fold,first_origin,first_origin_date,origins");
    for (int d = 0; d < is->n; d++) {
        char name[64];
        ac_backtest_interval_name(&is->defs[d], '_', name, sizeof name);
        fprintf(c.f, ",%s", name);
    }
    fputc('\n', c.f);
    for (int f = 0; f < x->job->plan.folds; f++) {
        int o = x->folds[f].origins[0];
        fprintf(c.f, "%d,%d,%s,%d", f, o, t->dates ? t->dates[o] : "", x->folds[f].count);
        for (int d = 0; d < is->n; d++) fprintf(c.f, ",%.9g", coverage_of(&x->per_fold[f], d));
        fputc('\n', c.f);
    }
    return text_write(&c, dir, "coverage_by_fold.csv");
}

/* error_by_step.csv and error_by_fold.csv: MAE (scaled) of the model and the naive repeat; and
 * coverage_by_fold.csv. */
static int write_error_tables(const context *x, const char *dir) {
    const bt_plan *p = &x->job->plan;
    const ac_table *t = x->job->table;
    text a, b;
    if (!text_open(&a)) return write_text(dir, "error_by_step.csv", NULL);
    fprintf(a.f, "step,model_mae,naive_mae\n");
    for (int h = 0; h < x->job->cfg->data.horizon; h++)
        fprintf(a.f, "%d,%.9g,%.9g\n", h + 1, mae_of(&x->per_step[h], 0),
                mae_of(&x->per_step[h], 1 + AC_BASELINE_NAIVE));
    if (text_write(&a, dir, "error_by_step.csv") != 0) return -1;
    if (!text_open(&b)) return write_text(dir, "error_by_fold.csv", NULL);
    fprintf(b.f, "fold,first_origin,first_origin_date,origins,model_mae,naive_mae\n");
    for (int f = 0; f < p->folds; f++) {
        int o = x->folds[f].origins[0];
        fprintf(b.f, "%d,%d,%s,%d,%.9g,%.9g\n", f, o, t->dates ? t->dates[o] : "",
                x->folds[f].count, mae_of(&x->per_fold[f], 0),
                mae_of(&x->per_fold[f], 1 + AC_BASELINE_NAIVE));
    }
    if (text_write(&b, dir, "error_by_fold.csv") != 0) return -1;
    return write_coverage_table(x, dir);
}

static void md_row(FILE *f, const char *name, const ac_metrics *m) {
    fprintf(f, "| %s | %.4f | %.4f | %.2f | %.4f |\n", name, m->mse, m->mae, m->smape, m->mase);
}

static int write_markdown(const context *x, const char *dir, const bt_timing *tm, bool pictures) {
    const bt_job *job = x->job;
    const bt_plan *p = &job->plan;
    const ac_table *t = job->table;
    text md;
    if (!text_open(&md)) return write_text(dir, "backtest.md", NULL);
    FILE *f = md.f;
    int last = p->first + (p->count - 1) * p->stride;
    fprintf(f, "# Backtest on %s\n\n", x->label);
    fprintf(f,
            "%d origin(s), rows %d to %d%s%s%s every %d row(s), lookback %d, horizon %d; %s; "
            "%d fold(s).\n\n",
            p->count, p->first, last, t->dates ? " (" : "", t->dates ? t->dates[p->first] : "",
            t->dates ? ")" : "", p->stride, job->cfg->data.lookback, job->cfg->data.horizon,
            p->checkpoint ? "the checkpoint's model"
            : p->refit    ? "the model retrained from the config before each fold"
                          : "one model trained from the config for the first origin",
            p->folds);
    if (p->refit) fprintf(f, "A fold is %d consecutive origins.\n\n", p->refit);
    fprintf(f, "## Overall\n\nScaled values (the first fold's scaler); sMAPE in %%.\n\n");
    fprintf(f, "| forecaster | MSE | MAE | sMAPE | MASE |\n|---|---|---|---|---|\n");
    for (int k = 0; k < BT_FORECASTERS; k++) {
        ac_metrics m = ac_metrics_acc_result(&x->overall.acc[k]);
        md_row(f, ac_backtest_forecaster_name(k), &m);
    }
    const bt_intervals *is = &x->is;
    if (is->n) {
        fprintf(f, "\n## Intervals\n\nEmpirical coverage (share of the targets inside the "
                   "interval) against the nominal level; width and Winkler score on the scaled "
                   "values.\n\n| interval | coverage | width | Winkler |\n|---|---|---|---|\n");
        for (int d = 0; d < is->n; d++) {
            char name[64];
            ac_backtest_interval_name(&is->defs[d], ' ', name, sizeof name);
            ac_interval_metrics m = ac_interval_acc_result(&x->overall.iv[d]);
            fprintf(f, "| %s | %.4f | %.4f | %.4f |\n", name, m.coverage, m.width_scaled,
                    m.winkler_scaled);
        }
    }
    if (is->q[BT_QSET_QUANTILE].count || is->q[BT_QSET_CONFORMAL].count) {
        fprintf(f, "\n## Quantile loss\n\nMean weighted quantile loss (wQL) of the quantile "
                   "forecasts beside the seasonal-naive quantile baseline (the seasonal naive "
                   "plus the quantiles of its errors on the validation windows).\n\n"
                   "| quantiles | levels | model wQL | seasonal naive wQL |\n|---|---|---|---|\n");
        for (int j = 0; j < BT_QSETS; j++) {
            const bt_qset *q = &is->q[j];
            if (!q->count) continue;
            fprintf(f, "| %s | ", j == BT_QSET_QUANTILE ? "the model's" : "implied by conformal");
            for (int l = 0; l < q->count; l++) fprintf(f, "%s%.6g", l ? ", " : "", q->levels[l]);
            fprintf(f, " | %.4g | ", ac_quantile_acc_result(&x->overall.qm[j]).wql);
            if (q->offsets)
                fprintf(f, "%.4g |\n", ac_quantile_acc_result(&x->overall.qb[j]).wql);
            else
                fprintf(f, "- |\n");
        }
    }
    /* the coverage columns of the step and fold tables */
    char head[1024] = "", rule[256] = "";
    for (int d = 0; d < is->n; d++) {
        char name[64];
        ac_backtest_interval_name(&is->defs[d], ' ', name, sizeof name);
        size_t a = strlen(head), r = strlen(rule);
        snprintf(head + a, sizeof head - a, " %s coverage |", name);
        snprintf(rule + r, sizeof rule - r, "---|");
    }
    fprintf(f, "\n## By horizon step\n\n| step | model MAE | naive MAE |%s\n|---|---|---|%s\n",
            head, rule);
    for (int h = 0; h < job->cfg->data.horizon; h++) {
        fprintf(f, "| %d | %.4f | %.4f |", h + 1, mae_of(&x->per_step[h], 0),
                mae_of(&x->per_step[h], 1 + AC_BASELINE_NAIVE));
        for (int d = 0; d < is->n; d++) fprintf(f, " %.4f |", coverage_of(&x->per_step[h], d));
        fputc('\n', f);
    }
    fprintf(f,
            "\n## By fold\n\n| fold | first origin | origins | model MAE | naive MAE |%s\n"
            "|---|---|---|---|---|%s\n",
            head, rule);
    for (int i = 0; i < p->folds; i++) {
        int o = x->folds[i].origins[0];
        fprintf(f, "| %d | %d%s%s%s | %d | %.4f | %.4f |", i, o, t->dates ? " (" : "",
                t->dates ? t->dates[o] : "", t->dates ? ")" : "", x->folds[i].count,
                mae_of(&x->per_fold[i], 0), mae_of(&x->per_fold[i], 1 + AC_BASELINE_NAIVE));
        for (int d = 0; d < is->n; d++) fprintf(f, " %.4f |", coverage_of(&x->per_fold[i], d));
        fputc('\n', f);
    }
    if (pictures)
        fprintf(f,
                "\n## Pictures\n\n![error by horizon step](error_by_step.png)\n\n"
                "![error over time](error_by_fold.png)\n%s",
                is->n ? "\n![coverage over time](coverage_by_fold.png)\n" : "");
    fprintf(f,
            "\n## Timing\n\nThis run: %.1f s (%d fold(s) computed, the rest read from earlier "
            "runs). Over all folds: training %.1f s, forecasting %.3f s (%.0f origins/s).\n",
            tm->seconds, tm->folds_run, tm->train_secs, tm->forecast_secs,
            tm->forecast_secs > 0 ? p->count / tm->forecast_secs : 0.0);
    return text_write(&md, dir, "backtest.md");
}

/* Scores every origin of every fold into the breakdowns and writes forecasts.csv. */
static int score(context *x, const char *dir) {
    const bt_job *job = x->job;
    const ac_table *t = job->table;
    int L = job->cfg->data.lookback, H = job->cfg->data.horizon, C = t->targets;
    size_t w = (size_t)H * C;
    bt_window b;
    if (!ac_backtest_window_alloc(&b, L, H, C, t->cols, &x->is)) {
        ac_cli_error("backtest: out of memory");
        return -1;
    }
    char path[AC_CONFIG_TEXT + 64];
    snprintf(path, sizeof path, "%s/forecasts.csv", dir);
    const bt_fold *f0 = &x->folds[0];
    ac_cli_forecast_columns cols = {.conformal = f0->conformal,
                                    .levels = f0->levels,
                                    .quantiles = f0->quantiles,
                                    .quantile_levels = f0->quantile_levels};
    ac_cli_forecasts *csv = ac_cli_forecasts_open(path, t, H, &cols);
    if (!csv) {
        free(b.all);
        return -1;
    }
    for (int f = 0; f < job->plan.folds; f++) {
        const bt_fold *fd = &x->folds[f];
        ac_scaler own = {.channels = C, .columns = fd->columns, .mean = fd->mean, .std = fd->std};
        size_t K = (size_t)fd->conformal, Q = (size_t)fd->quantiles;
        for (int i = 0; i < fd->count; i++) {
            ac_cli_forecasts_add(csv, fd->origins[i], fd->forecasts + (size_t)i * w,
                                 K ? fd->bounds + (size_t)i * 2 * K * w : NULL,
                                 Q ? fd->quantile_values + (size_t)i * Q * w : NULL, &own);
            ac_backtest_window_fill(&b, &x->ref, x->season, fd, i, &x->is);
            ac_backtest_window_add(&x->overall, &x->is, &b, 0, H);
            ac_backtest_window_add(&x->per_fold[f], &x->is, &b, 0, H);
            for (int h = 0; h < H; h++) ac_backtest_window_add(&x->per_step[h], &x->is, &b, h, 1);
        }
    }
    free(b.all);
    return ac_cli_forecasts_close(csv, true);
}

int ac_backtest_report(const bt_job *job, int season, const char *label, bt_timing *tm) {
    const bt_plan *p = &job->plan;
    const ac_table *t = job->table;
    int H = job->cfg->data.horizon, C = t->targets, rc = -1;
    context x = {.job = job, .season = season, .label = label};
    memset(&x.ref, 0, sizeof x.ref);
    memset(&x.overall, 0, sizeof x.overall);
    x.folds = calloc((size_t)p->folds, sizeof *x.folds);
    x.per_fold = calloc((size_t)p->folds, sizeof *x.per_fold);
    x.per_step = calloc((size_t)H, sizeof *x.per_step);
    x.mase = calloc((size_t)2 * C, sizeof(double));
    int read = 0;
    ac_error err;
    if (!x.folds || !x.per_fold || !x.per_step || !x.mase) {
        ac_cli_error("backtest: out of memory");
        goto done;
    }
    x.floors = x.mase + C;
    for (; read < p->folds; read++) {
        if (ac_backtest_fold_read(job, read, &x.folds[read]) != 0) goto done;
        tm->train_secs += x.folds[read].train_seconds;
        tm->forecast_secs += x.folds[read].forecast_seconds;
    }
    ac_scaler ref = {.channels = C,
                     .columns = x.folds[0].columns,
                     .mean = x.folds[0].mean,
                     .std = x.folds[0].std};
    if (ac_series_build_whole(&x.ref, t, job->cfg->data.lookback, H, &ref, &err) != AC_OK) {
        ac_cli_error("%s: %s", t->source, err.msg);
        goto done;
    }
    /* the reference fold's training rows (the MASE scales') and validation rows (the
     * seasonal-naive quantile baseline's) */
    int n_val =
        p->n_val < t->rows - x.folds[0].train_rows ? p->n_val : t->rows - x.folds[0].train_rows;
    x.ref.split = (ac_split){.rows = t->rows,
                             .n_train = x.folds[0].train_rows,
                             .n_val = n_val,
                             .n_test = t->rows - x.folds[0].train_rows - n_val};
    ac_mase_scales(&x.ref, season, x.mase);
    if (ac_backtest_intervals_setup(&x.is, x.folds, p->folds, &x.ref, season, job->dir) != 0)
        goto done;
    if (p->checkpoint && !x.is.K)
        fprintf(stderr, "attncast: note: the checkpoint has no /calibration: no conformal "
                        "intervals (attncast calibrate adds them)\n");
    int last = p->first + (p->count - 1) * p->stride;
    ac_mape_floors(&x.ref, (ac_window_range){p->first, last - p->first + 1}, x.floors);
    /* every breakdown's accumulators start zeroed (calloc), so freeing all of them is safe */
    bool ok =
        ac_backtest_scores_init(&x.overall, &x.ref.scaler, x.mase, x.floors, &x.is, &err) == AC_OK;
    for (int f = 0; ok && f < p->folds; f++)
        ok = ac_backtest_scores_init(&x.per_fold[f], &x.ref.scaler, x.mase, x.floors, &x.is,
                                     &err) == AC_OK;
    for (int h = 0; ok && h < H; h++)
        ok = ac_backtest_scores_init(&x.per_step[h], &x.ref.scaler, x.mase, x.floors, &x.is,
                                     &err) == AC_OK;
    if (!ok) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    const char *dir = job->dir;
    if (score(&x, dir) != 0 || write_metrics(&x, dir) != 0 || write_error_tables(&x, dir) != 0)
        goto done;
    bool pictures = false;
    if (ac_plot_backtest(dir, &err) == AC_OK)
        pictures = true;
    else
        fprintf(stderr, "attncast: note: %s\n", err.msg);
    if (write_markdown(&x, dir, tm, pictures) != 0) goto done;
    if (!job->quiet) {
        printf("\n%-16s %10s %10s %10s %10s\n", "", "MSE", "MAE", "sMAPE", "MASE");
        for (int k = 0; k < BT_FORECASTERS; k++) {
            ac_metrics m = ac_metrics_acc_result(&x.overall.acc[k]);
            printf("%-16s %10.4f %10.4f %10.2f %10.4f\n", ac_backtest_forecaster_name(k), m.mse,
                   m.mae, m.smape, m.mase);
        }
        if (x.is.n) printf("\n%-16s %10s %10s %10s\n", "interval", "coverage", "width", "Winkler");
        for (int d = 0; d < x.is.n; d++) {
            char name[64];
            ac_backtest_interval_name(&x.is.defs[d], ' ', name, sizeof name);
            ac_interval_metrics m = ac_interval_acc_result(&x.overall.iv[d]);
            printf("%-16s %10.4f %10.4f %10.4f\n", name, m.coverage, m.width_scaled,
                   m.winkler_scaled);
        }
    }
    printf("backtest: %d origin(s) in %d fold(s); took %.1f s (%d fold(s) computed now); "
           "forecasting %.0f origins/s\nwrote %s/ forecasts.csv, metrics.json, backtest.md%s\n",
           p->count, p->folds, tm->seconds, tm->folds_run,
           tm->forecast_secs > 0 ? p->count / tm->forecast_secs : 0.0, dir,
           !pictures ? ""
           : x.is.n  ? ", error_by_step.png, error_by_fold.png, coverage_by_fold.png"
                     : ", error_by_step.png, error_by_fold.png");
    rc = 0;
done:
    ac_backtest_scores_free(&x.overall);
    for (int f = 0; x.per_fold && f < p->folds; f++) ac_backtest_scores_free(&x.per_fold[f]);
    for (int h = 0; x.per_step && h < H; h++) ac_backtest_scores_free(&x.per_step[h]);
    for (int f = 0; f < read && x.folds; f++) ac_backtest_fold_free(&x.folds[f]);
    ac_series_free(&x.ref);
    free(x.folds);
    free(x.per_fold);
    free(x.per_step);
    free(x.mase);
    ac_backtest_intervals_free(&x.is);
    return rc;
}
