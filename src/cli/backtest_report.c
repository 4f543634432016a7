/* backtest_report.c - scoring a backtest from its fold files and writing its outputs:
 * forecasts.csv (every origin, step and channel in the data's units, with each conformal level's
 * bounds and a quantile model's quantiles), metrics.json (overall, per fold and per horizon step,
 * the model beside the baselines on the same origins; each interval's coverage, width and Winkler
 * score; the quantile loss of the model's quantiles and of the quantiles its conformal intervals
 * imply, beside the seasonal-naive quantile baseline), error_by_step.csv, error_by_fold.csv and
 * coverage_by_fold.csv (what the pictures draw), backtest.md and the pictures.
 *
 * Scaled metrics use one reference scaler, the first fold's (the model's, without refits): a
 * refit's forecasts are carried to it through the original scale, the first fold's are used as
 * the model gave them (bounds and quantiles alike). MASE scales come from the reference fold's
 * training rows, MAPE floors from the rows between the first origin and the last target row, the
 * seasonal-naive quantile baseline's offsets from the reference fold's validation windows; every
 * breakdown shares them. The
 * outputs depend only on the fold files, so a resumed backtest writes the same bytes (but for
 * backtest.md's timing) as one that ran straight through. */
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

enum { FORECASTERS = 1 + AC_BASELINE_COUNT }; /* the model, then the baselines */

static const char *forecaster_name(int k) {
    return k == 0 ? "model" : ac_baseline_name((ac_baseline_kind)(k - 1));
}

/* The quantile forecasts scored with ac_quantile_acc: a quantile model's own levels, and the
 * 2K + 1 levels its conformal intervals imply (ac_interval_quantile_levels). */
enum { QSET_QUANTILE, QSET_CONFORMAL, QSETS };
enum {
    MAX_QLEVELS =
        AC_MAX_QUANTILES > 2 * AC_INTERVALS_MAX + 1 ? AC_MAX_QUANTILES : 2 * AC_INTERVALS_MAX + 1
};

typedef struct qset {
    int count; /* 0: not scored (a point model; no conformal levels) */
    double levels[MAX_QLEVELS];
    float *offsets; /* [H, C, count]: the seasonal-naive quantile baseline's; NULL: none */
} qset;

/* The intervals of a backtest, the same in every fold (its fold files agree). */
typedef struct interval_set {
    int n;
    ac_interval_def defs[AC_INTERVALS_CAP];
    int K, Q;       /* conformal levels, quantile levels */
    double *levels; /* [K]: the first fold's, borrowed */
    qset q[QSETS];
} interval_set;

/* The accumulators of one breakdown (overall, a fold or a step). */
typedef struct scores {
    ac_metrics_acc acc[FORECASTERS];
    ac_interval_acc iv[AC_INTERVALS_CAP];
    ac_quantile_acc qm[QSETS], qb[QSETS]; /* the model's, the seasonal-naive baseline's */
} scores;

static ac_status scores_init(scores *s, const ac_scaler *sc, const double *mase,
                             const double *floors, const interval_set *is, ac_error *err) {
    for (int k = 0; k < FORECASTERS; k++)
        if (ac_metrics_acc_init(&s->acc[k], sc, mase, floors, err) != AC_OK) return err->code;
    for (int d = 0; d < is->n; d++)
        if (ac_interval_acc_init(&s->iv[d], sc, is->defs[d].level, err) != AC_OK) return err->code;
    for (int j = 0; j < QSETS; j++) {
        if (!is->q[j].count) continue;
        if (ac_quantile_acc_init(&s->qm[j], sc, is->q[j].levels, is->q[j].count, err) != AC_OK ||
            ac_quantile_acc_init(&s->qb[j], sc, is->q[j].levels, is->q[j].count, err) != AC_OK)
            return err->code;
    }
    return AC_OK;
}

static void scores_free(scores *s) {
    for (int k = 0; k < FORECASTERS; k++) ac_metrics_acc_free(&s->acc[k]);
    for (int d = 0; d < AC_INTERVALS_CAP; d++) ac_interval_acc_free(&s->iv[d]);
    for (int j = 0; j < QSETS; j++) {
        ac_quantile_acc_free(&s->qm[j]);
        ac_quantile_acc_free(&s->qb[j]);
    }
}

static void add_number(cJSON *obj, const char *key, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

static void add_quantile_scores(cJSON *obj, const char *key, const ac_quantile_acc *acc) {
    ac_quantile_metrics m = ac_quantile_acc_result(acc);
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    add_number(o, "wql", m.wql);
    add_number(o, "crps", m.crps);
}

/* {"model": {...}, "baselines": {"naive": ..., ...}} as eval's metrics.json writes them, then
 * "intervals": [{method, level, coverage, width, width_scaled, winkler, winkler_scaled,
 * points}] and "quantile_scores": [{method, levels, model: {wql, crps}, seasonal_naive}] */
static void add_scores(cJSON *obj, const scores *s, const interval_set *is) {
    cJSON *baselines = NULL;
    for (int k = 0; k < FORECASTERS; k++) {
        ac_metrics m = ac_metrics_acc_result(&s->acc[k]);
        cJSON *o = cJSON_CreateObject();
        add_number(o, "mse", m.mse);
        add_number(o, "mae", m.mae);
        add_number(o, "rmse", m.rmse);
        add_number(o, "mae_orig", m.mae_orig);
        add_number(o, "wape", m.wape);
        add_number(o, "smape", m.smape);
        add_number(o, "mape", m.mape);
        add_number(o, "mase", m.mase);
        if (k == 0) {
            cJSON_AddItemToObject(obj, "model", o);
            baselines = cJSON_AddObjectToObject(obj, "baselines");
        } else {
            cJSON_AddItemToObject(baselines, forecaster_name(k), o);
        }
    }
    cJSON *intervals = cJSON_AddArrayToObject(obj, "intervals");
    for (int d = 0; d < is->n; d++) {
        ac_interval_metrics m = ac_interval_acc_result(&s->iv[d]);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", ac_interval_method_name(is->defs[d].method));
        cJSON_AddNumberToObject(o, "level", is->defs[d].level);
        add_number(o, "coverage", m.coverage);
        add_number(o, "width", m.width);
        add_number(o, "width_scaled", m.width_scaled);
        add_number(o, "winkler", m.winkler);
        add_number(o, "winkler_scaled", m.winkler_scaled);
        cJSON_AddNumberToObject(o, "points", (double)m.points);
        cJSON_AddItemToArray(intervals, o);
    }
    cJSON *quantiles = cJSON_AddArrayToObject(obj, "quantile_scores");
    for (int j = 0; j < QSETS; j++) {
        const qset *q = &is->q[j];
        if (!q->count) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", j == QSET_QUANTILE ? "quantile" : "conformal");
        cJSON *levels = cJSON_AddArrayToObject(o, "levels");
        for (int l = 0; l < q->count; l++) /* as written, not (1 - 0.95) / 2's round-off */
            cJSON_AddItemToArray(levels, cJSON_CreateNumber(round(q->levels[l] * 1e9) / 1e9));
        add_quantile_scores(o, "model", &s->qm[j]);
        if (q->offsets) add_quantile_scores(o, "seasonal_naive", &s->qb[j]);
        cJSON_AddItemToArray(quantiles, o);
    }
}

static double mae_of(const scores *s, int k) {
    return ac_metrics_acc_result(&s->acc[k]).mae;
}

/* Carries values [H, C, per] (per values for each step and channel: 1 for a point forecast, Q
 * for quantiles) from a fold's scaler to the reference one through the original scale; the same
 * scaler leaves them as they are. */
static void to_reference(const bt_fold *fd, const ac_scaler *ref, const float *in, float *out,
                         int H, int C, int per) {
    bool same = !memcmp(fd->mean, ref->mean, (size_t)C * sizeof(double)) &&
                !memcmp(fd->std, ref->std, (size_t)C * sizeof(double));
    size_t n = (size_t)H * C * per;
    if (same) {
        memcpy(out, in, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (int)((i / (size_t)per) % (size_t)C);
        out[i] = (float)(((double)in[i] * fd->std[c] + fd->mean[c] - ref->mean[c]) / ref->std[c]);
    }
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
    interval_set is;
    scores overall, *per_fold, *per_step;
} context;

static cJSON *metrics_json(const context *x) {
    const bt_job *job = x->job;
    const bt_plan *p = &job->plan;
    const ac_table *t = job->table;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "data_source", x->label);
    cJSON_AddNumberToObject(root, "rows", t->rows);
    cJSON_AddNumberToObject(root, "channels", t->cols);
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
    add_scores(overall, &x->overall, &x->is);
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
        add_scores(o, &x->per_fold[f], &x->is);
        cJSON_AddItemToArray(folds, o);
    }
    cJSON *steps = cJSON_AddArrayToObject(root, "per_step");
    for (int h = 0; h < job->cfg->data.horizon; h++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "step", h + 1);
        add_scores(o, &x->per_step[h], &x->is);
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

/* An interval's name in tables and pictures: "conformal 80%"; in CSV headers "conformal_80". */
static void interval_name(const ac_interval_def *def, char sep, char *buf, size_t n) {
    char p[32];
    ac_level_percent(def->level, p, sizeof p);
    snprintf(buf, n, "%s%c%s%s", ac_interval_method_name(def->method), sep, p,
             sep == ' ' ? "%" : "");
}

static double coverage_of(const scores *s, int d) {
    return ac_interval_acc_result(&s->iv[d]).coverage;
}

/* coverage_by_fold.csv (with intervals only): fold,first_origin,first_origin_date,origins, then
 * each interval's empirical coverage, its column named <method>_<level %>. */
static int write_coverage_table(const context *x, const char *dir) {
    const interval_set *is = &x->is;
    if (!is->n) return 0;
    const ac_table *t = x->job->table;
    text c;
    if (!text_open(&c)) return write_text(dir, "coverage_by_fold.csv", NULL);
    fprintf(c.f, "fold,first_origin,first_origin_date,origins");
    for (int d = 0; d < is->n; d++) {
        char name[64];
        interval_name(&is->defs[d], '_', name, sizeof name);
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
    for (int k = 0; k < FORECASTERS; k++) {
        ac_metrics m = ac_metrics_acc_result(&x->overall.acc[k]);
        md_row(f, forecaster_name(k), &m);
    }
    const interval_set *is = &x->is;
    if (is->n) {
        fprintf(f, "\n## Intervals\n\nEmpirical coverage (share of the targets inside the "
                   "interval) against the nominal level; width and Winkler score on the scaled "
                   "values.\n\n| interval | coverage | width | Winkler |\n|---|---|---|---|\n");
        for (int d = 0; d < is->n; d++) {
            char name[64];
            interval_name(&is->defs[d], ' ', name, sizeof name);
            ac_interval_metrics m = ac_interval_acc_result(&x->overall.iv[d]);
            fprintf(f, "| %s | %.4f | %.4f | %.4f |\n", name, m.coverage, m.width_scaled,
                    m.winkler_scaled);
        }
    }
    if (is->q[QSET_QUANTILE].count || is->q[QSET_CONFORMAL].count) {
        fprintf(f, "\n## Quantile loss\n\nMean weighted quantile loss (wQL) of the quantile "
                   "forecasts beside the seasonal-naive quantile baseline (the seasonal naive "
                   "plus the quantiles of its errors on the validation windows).\n\n"
                   "| quantiles | levels | model wQL | seasonal naive wQL |\n|---|---|---|---|\n");
        for (int j = 0; j < QSETS; j++) {
            const qset *q = &is->q[j];
            if (!q->count) continue;
            fprintf(f, "| %s | ", j == QSET_QUANTILE ? "the model's" : "implied by conformal");
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
        interval_name(&is->defs[d], ' ', name, sizeof name);
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

/* One window on the reference scale: its input and truth and everything scored against it. */
typedef struct window_buf {
    float *x, *y;             /* [L, C], [H, C] */
    float *yhat[FORECASTERS]; /* [H, C] each: the model's point, the baselines' */
    float *bounds;            /* [n, 2, H, C]: each interval's lo, then hi */
    float *raw_bounds;        /* [K, 2, H, C]: the fold's conformal bounds */
    float *quant[QSETS][2];   /* [H, C, count]: the model's and the baseline's quantiles */
    float *all;
} window_buf;

static bool window_buf_alloc(window_buf *b, int L, int H, int C, const interval_set *is) {
    size_t w = (size_t)H * C,
           n = (size_t)L * C + w + FORECASTERS * w + 2 * (size_t)is->n * w + 2 * (size_t)is->K * w;
    for (int j = 0; j < QSETS; j++) n += 2 * (size_t)is->q[j].count * w;
    float *p = b->all = malloc(n * sizeof(float));
    if (!p) return false;
    b->x = p, p += (size_t)L * C;
    b->y = p, p += w;
    for (int k = 0; k < FORECASTERS; k++) b->yhat[k] = p, p += w;
    b->bounds = p, p += 2 * (size_t)is->n * w;
    b->raw_bounds = p, p += 2 * (size_t)is->K * w;
    for (int j = 0; j < QSETS; j++)
        for (int m = 0; m < 2; m++) b->quant[j][m] = p, p += (size_t)is->q[j].count * w;
    return true;
}

/* The quantiles [H, C, 2K + 1] that conformal bounds [K, 2, H, C] around point [H, C] imply at
 * ac_interval_quantile_levels: the widest level's lo first, ..., the point, ..., its hi last. */
static void implied_quantiles(const float *point, const float *bounds, size_t w, int K,
                              float *out) {
    int n = 2 * K + 1;
    for (size_t i = 0; i < w; i++) {
        float *o = out + i * (size_t)n;
        for (int k = 0; k < K; k++) {
            o[K - 1 - k] = bounds[2 * (size_t)k * w + i];
            o[K + 1 + k] = bounds[(2 * (size_t)k + 1) * w + i];
        }
        o[K] = point[i];
    }
}

/* Fills b with the window of origin i of fold fd: its forecasts carried to the reference scale,
 * the baselines', each interval's bounds and the quantile forecasts. */
static void fill_window(const context *x, const bt_fold *fd, int i, window_buf *b) {
    const interval_set *is = &x->is;
    int L = x->job->cfg->data.lookback, H = fd->horizon, C = fd->channels, Q = fd->quantiles;
    size_t w = (size_t)H * C;
    const ac_scaler *ref = &x->ref.scaler;
    int o = fd->origins[i];
    ac_series_gather(&x->ref, &o, 1, b->x, b->y);
    to_reference(fd, ref, fd->forecasts + (size_t)i * w, b->yhat[0], H, C, 1);
    for (int k = 1; k < FORECASTERS; k++)
        ac_baseline_forecast((ac_baseline_kind)(k - 1), b->x, L, C, H, x->season, b->yhat[k]);
    float *quant = b->quant[QSET_QUANTILE][0];
    if (Q) to_reference(fd, ref, fd->quantile_values + (size_t)i * w * Q, quant, H, C, Q);
    for (int k = 0; k < 2 * is->K; k++)
        to_reference(fd, ref, fd->bounds + ((size_t)i * 2 * is->K + k) * w, b->raw_bounds + k * w,
                     H, C, 1);
    for (int d = 0; d < is->n; d++) {
        const ac_interval_def *def = &is->defs[d];
        float *lo = b->bounds + 2 * (size_t)d * w, *hi = lo + w;
        if (def->method == AC_INTERVAL_CONFORMAL) {
            memcpy(lo, b->raw_bounds + 2 * (size_t)def->lo * w, w * sizeof(float));
            memcpy(hi, b->raw_bounds + (2 * (size_t)def->lo + 1) * w, w * sizeof(float));
        } else {
            ac_interval_bounds(def, NULL, b->yhat[0], quant, H, C, Q, lo, hi);
        }
    }
    if (is->q[QSET_CONFORMAL].count)
        implied_quantiles(b->yhat[0], b->raw_bounds, w, is->K, b->quant[QSET_CONFORMAL][0]);
    for (int j = 0; j < QSETS; j++)
        if (is->q[j].offsets)
            ac_baseline_quantile_forecast(b->x, L, C, H, x->season, is->q[j].offsets,
                                          is->q[j].count, b->quant[j][1]);
}

/* Adds steps [h0, h0 + steps) of the window in b to a breakdown. */
static void add_window(scores *s, const interval_set *is, const window_buf *b, int h0, int steps,
                       int H, int C) {
    size_t at = (size_t)h0 * C, w = (size_t)H * C;
    for (int k = 0; k < FORECASTERS; k++)
        ac_metrics_acc_add(&s->acc[k], b->yhat[k] + at, b->y + at, steps);
    for (int d = 0; d < is->n; d++) {
        const float *lo = b->bounds + 2 * (size_t)d * w;
        ac_interval_acc_add(&s->iv[d], lo + at, lo + w + at, b->y + at, steps);
    }
    for (int j = 0; j < QSETS; j++) {
        int n = is->q[j].count;
        if (!n) continue;
        ac_quantile_acc_add(&s->qm[j], b->quant[j][0] + at * n, b->y + at, steps);
        if (is->q[j].offsets)
            ac_quantile_acc_add(&s->qb[j], b->quant[j][1] + at * n, b->y + at, steps);
    }
}

/* Scores every origin of every fold into the breakdowns and writes forecasts.csv. */
static int score(context *x, const char *dir) {
    const bt_job *job = x->job;
    const ac_table *t = job->table;
    int L = job->cfg->data.lookback, H = job->cfg->data.horizon, C = t->cols;
    size_t w = (size_t)H * C;
    window_buf b;
    if (!window_buf_alloc(&b, L, H, C, &x->is)) {
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
        ac_scaler own = {.channels = C, .mean = fd->mean, .std = fd->std};
        size_t K = (size_t)fd->conformal, Q = (size_t)fd->quantiles;
        for (int i = 0; i < fd->count; i++) {
            ac_cli_forecasts_add(csv, fd->origins[i], fd->forecasts + (size_t)i * w,
                                 K ? fd->bounds + (size_t)i * 2 * K * w : NULL,
                                 Q ? fd->quantile_values + (size_t)i * Q * w : NULL, &own);
            fill_window(x, fd, i, &b);
            add_window(&x->overall, &x->is, &b, 0, H, H, C);
            add_window(&x->per_fold[f], &x->is, &b, 0, H, H, C);
            for (int h = 0; h < H; h++) add_window(&x->per_step[h], &x->is, &b, h, 1, H, C);
        }
    }
    free(b.all);
    return ac_cli_forecasts_close(csv, true);
}

/* The intervals and quantile forecasts of the backtest from its fold files (which must agree),
 * and the seasonal-naive quantile baseline's offsets at each quantile set's levels from the
 * reference fold's validation windows. 0, or -1 after printing an error. */
static int interval_setup(context *x) {
    const bt_fold *f0 = &x->folds[0];
    interval_set *is = &x->is;
    for (int f = 1; f < x->job->plan.folds; f++) {
        const bt_fold *fd = &x->folds[f];
        if (fd->conformal != f0->conformal || fd->quantiles != f0->quantiles ||
            (fd->conformal &&
             memcmp(fd->levels, f0->levels, (size_t)fd->conformal * sizeof(double))) ||
            (fd->quantiles && memcmp(fd->quantile_levels, f0->quantile_levels,
                                     (size_t)fd->quantiles * sizeof(float)))) {
            ac_cli_error("backtest: fold %d has other interval levels than fold 0; remove %s/folds "
                         "to compute the folds again",
                         f, x->job->dir);
            return -1;
        }
    }
    is->K = f0->conformal;
    is->Q = f0->quantiles;
    is->levels = f0->levels;
    ac_model_spec spec = {.quantile_count = f0->quantiles};
    for (int j = 0; j < f0->quantiles; j++) spec.quantiles[j] = f0->quantile_levels[j];
    ac_calibration cal = {.count = f0->conformal, .levels = f0->levels}; /* the levels alone */
    is->n = ac_interval_defs(&spec, f0->conformal ? &cal : NULL, is->defs, AC_INTERVALS_CAP);
    /* the levels as the config writes them, not their float32 round-off (0.1, not 0.100000001) */
    is->q[QSET_QUANTILE].count = f0->quantiles;
    for (int j = 0; j < f0->quantiles; j++)
        is->q[QSET_QUANTILE].levels[j] = round((double)f0->quantile_levels[j] * 1e7) / 1e7;
    if (f0->conformal) {
        is->q[QSET_CONFORMAL].count = 2 * f0->conformal + 1;
        ac_interval_quantile_levels(f0->levels, f0->conformal, is->q[QSET_CONFORMAL].levels);
    }
    ac_window_range val = ac_series_windows(&x->ref, AC_SPLIT_VAL);
    size_t w = (size_t)f0->horizon * f0->channels;
    for (int j = 0; j < QSETS; j++) {
        qset *q = &is->q[j];
        if (!q->count || val.count < 1) continue;
        ac_error err;
        if (!(q->offsets = malloc(w * (size_t)q->count * sizeof(float)))) {
            ac_cli_error("backtest: out of memory");
            return -1;
        }
        if (ac_baseline_quantile_offsets(&x->ref, val, x->season, q->levels, q->count, q->offsets,
                                         &err) != AC_OK) {
            ac_cli_error("backtest: the seasonal-naive quantile baseline: %s", err.msg);
            return -1;
        }
    }
    return 0;
}

int ac_backtest_report(const bt_job *job, int season, const char *label, bt_timing *tm) {
    const bt_plan *p = &job->plan;
    const ac_table *t = job->table;
    int H = job->cfg->data.horizon, C = t->cols, rc = -1;
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
    ac_scaler ref = {.channels = C, .mean = x.folds[0].mean, .std = x.folds[0].std};
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
    if (interval_setup(&x) != 0) goto done;
    if (p->checkpoint && !x.is.K)
        fprintf(stderr, "attncast: note: the checkpoint has no /calibration: no conformal "
                        "intervals (attncast calibrate adds them)\n");
    int last = p->first + (p->count - 1) * p->stride;
    ac_mape_floors(&x.ref, (ac_window_range){p->first, last - p->first + 1}, x.floors);
    /* every breakdown's accumulators start zeroed (calloc), so freeing all of them is safe */
    bool ok = scores_init(&x.overall, &x.ref.scaler, x.mase, x.floors, &x.is, &err) == AC_OK;
    for (int f = 0; ok && f < p->folds; f++)
        ok = scores_init(&x.per_fold[f], &x.ref.scaler, x.mase, x.floors, &x.is, &err) == AC_OK;
    for (int h = 0; ok && h < H; h++)
        ok = scores_init(&x.per_step[h], &x.ref.scaler, x.mase, x.floors, &x.is, &err) == AC_OK;
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
        for (int k = 0; k < FORECASTERS; k++) {
            ac_metrics m = ac_metrics_acc_result(&x.overall.acc[k]);
            printf("%-16s %10.4f %10.4f %10.2f %10.4f\n", forecaster_name(k), m.mse, m.mae, m.smape,
                   m.mase);
        }
        if (x.is.n) printf("\n%-16s %10s %10s %10s\n", "interval", "coverage", "width", "Winkler");
        for (int d = 0; d < x.is.n; d++) {
            char name[64];
            interval_name(&x.is.defs[d], ' ', name, sizeof name);
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
    scores_free(&x.overall);
    for (int f = 0; x.per_fold && f < p->folds; f++) scores_free(&x.per_fold[f]);
    for (int h = 0; x.per_step && h < H; h++) scores_free(&x.per_step[h]);
    for (int f = 0; f < read && x.folds; f++) ac_backtest_fold_free(&x.folds[f]);
    ac_series_free(&x.ref);
    free(x.folds);
    free(x.per_fold);
    free(x.per_step);
    free(x.mase);
    for (int j = 0; j < QSETS; j++) free(x.is.q[j].offsets);
    return rc;
}
