/* backtest_scores.c - the scores of `attncast backtest`: the intervals its folds offer (in
 * ac_interval_defs's order) and the quantile forecasts scored (a quantile model's levels, the
 * levels its conformal intervals imply), one window carried to the reference scaling with
 * everything scored against it, and the accumulators of a breakdown (overall, a fold, a step)
 * with their metrics.json form.
 *
 * A refit's forecasts, bounds and quantiles are carried to the reference scaler through the
 * original scale; the reference fold's own are used as the model gave them, so that a backtest
 * of a checkpoint scores exactly what eval scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "attncast/attncast.h"
#include "cli/backtest.h"
#include "cli/cli.h"

const char *ac_backtest_forecaster_name(int k) {
    return k == 0 ? "model" : ac_baseline_name((ac_baseline_kind)(k - 1));
}

/* ---- the intervals ---- */

int ac_backtest_intervals_setup(bt_intervals *is, const bt_fold *folds, int n_folds,
                                const ac_series *ref, int season, const char *dir) {
    memset(is, 0, sizeof *is);
    const bt_fold *f0 = &folds[0];
    for (int f = 1; f < n_folds; f++) {
        const bt_fold *fd = &folds[f];
        if (fd->conformal != f0->conformal || fd->quantiles != f0->quantiles ||
            (fd->conformal &&
             memcmp(fd->levels, f0->levels, (size_t)fd->conformal * sizeof(double))) ||
            (fd->quantiles && memcmp(fd->quantile_levels, f0->quantile_levels,
                                     (size_t)fd->quantiles * sizeof(float)))) {
            ac_cli_error("backtest: fold %d has other interval levels than fold 0; remove %s/folds "
                         "to compute the folds again",
                         f, dir);
            return -1;
        }
    }
    is->K = f0->conformal;
    is->Q = f0->quantiles;
    ac_model_spec spec = {.quantile_count = f0->quantiles};
    for (int j = 0; j < f0->quantiles; j++) spec.quantiles[j] = f0->quantile_levels[j];
    ac_calibration cal = {.count = f0->conformal, .levels = f0->levels}; /* the levels alone */
    is->n = ac_interval_defs(&spec, f0->conformal ? &cal : NULL, is->defs, AC_INTERVALS_CAP);
    /* the levels as the config writes them, not their float32 round-off (0.1, not 0.100000001) */
    is->q[BT_QSET_QUANTILE].count = f0->quantiles;
    for (int j = 0; j < f0->quantiles; j++)
        is->q[BT_QSET_QUANTILE].levels[j] = round((double)f0->quantile_levels[j] * 1e7) / 1e7;
    if (f0->conformal) {
        is->q[BT_QSET_CONFORMAL].count = 2 * f0->conformal + 1;
        ac_interval_quantile_levels(f0->levels, f0->conformal, is->q[BT_QSET_CONFORMAL].levels);
    }
    ac_window_range val = ac_series_windows(ref, AC_SPLIT_VAL);
    size_t w = (size_t)f0->horizon * f0->channels;
    for (int j = 0; j < BT_QSETS; j++) {
        bt_qset *q = &is->q[j];
        if (!q->count || val.count < 1) continue; /* no validation windows: no baseline */
        ac_error err;
        if (!(q->offsets = malloc(w * (size_t)q->count * sizeof(float)))) {
            ac_cli_error("backtest: out of memory");
            return -1;
        }
        if (ac_baseline_quantile_offsets(ref, val, season, q->levels, q->count, q->offsets, &err) !=
            AC_OK) {
            ac_cli_error("backtest: the seasonal-naive quantile baseline: %s", err.msg);
            return -1;
        }
    }
    return 0;
}

void ac_backtest_intervals_free(bt_intervals *is) {
    for (int j = 0; j < BT_QSETS; j++) {
        free(is->q[j].offsets);
        is->q[j].offsets = NULL;
    }
}

void ac_backtest_interval_name(const ac_interval_def *def, char sep, char *buf, size_t n) {
    char p[32];
    ac_level_percent(def->level, p, sizeof p);
    snprintf(buf, n, "%s%c%s%s", ac_interval_method_name(def->method), sep, p,
             sep == ' ' ? "%" : "");
}

/* ---- a breakdown's accumulators ---- */

ac_status ac_backtest_scores_init(bt_scores *s, const ac_scaler *sc, const double *mase,
                                  const double *floors, const bt_intervals *is, ac_error *err) {
    for (int k = 0; k < BT_FORECASTERS; k++)
        if (ac_metrics_acc_init(&s->acc[k], sc, mase, floors, err) != AC_OK) return err->code;
    for (int d = 0; d < is->n; d++)
        if (ac_interval_acc_init(&s->iv[d], sc, is->defs[d].level, err) != AC_OK) return err->code;
    for (int j = 0; j < BT_QSETS; j++) {
        if (!is->q[j].count) continue;
        if (ac_quantile_acc_init(&s->qm[j], sc, is->q[j].levels, is->q[j].count, err) != AC_OK ||
            ac_quantile_acc_init(&s->qb[j], sc, is->q[j].levels, is->q[j].count, err) != AC_OK)
            return err->code;
    }
    return AC_OK;
}

void ac_backtest_scores_free(bt_scores *s) {
    for (int k = 0; k < BT_FORECASTERS; k++) ac_metrics_acc_free(&s->acc[k]);
    for (int d = 0; d < AC_INTERVALS_CAP; d++) ac_interval_acc_free(&s->iv[d]);
    for (int j = 0; j < BT_QSETS; j++) {
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

void ac_backtest_scores_json(cJSON *obj, const bt_scores *s, const bt_intervals *is) {
    cJSON *baselines = NULL;
    for (int k = 0; k < BT_FORECASTERS; k++) {
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
            cJSON_AddItemToObject(baselines, ac_backtest_forecaster_name(k), o);
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
    for (int j = 0; j < BT_QSETS; j++) {
        const bt_qset *q = &is->q[j];
        if (!q->count) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", j == BT_QSET_QUANTILE ? "quantile" : "conformal");
        cJSON *levels = cJSON_AddArrayToObject(o, "levels");
        for (int l = 0; l < q->count; l++) /* as written, not (1 - 0.95) / 2's round-off */
            cJSON_AddItemToArray(levels, cJSON_CreateNumber(round(q->levels[l] * 1e9) / 1e9));
        add_quantile_scores(o, "model", &s->qm[j]);
        if (q->offsets) add_quantile_scores(o, "seasonal_naive", &s->qb[j]);
        cJSON_AddItemToArray(quantiles, o);
    }
}

/* ---- one window ---- */

bool ac_backtest_window_alloc(bt_window *b, int L, int H, int C, int columns,
                              const bt_intervals *is) {
    size_t w = (size_t)H * C, n = (size_t)L * columns + w + BT_FORECASTERS * w +
                                  2 * (size_t)is->n * w + 2 * (size_t)is->K * w;
    for (int j = 0; j < BT_QSETS; j++) n += 2 * (size_t)is->q[j].count * w;
    float *p = b->all = malloc(n * sizeof(float));
    if (!p) return false;
    b->L = L, b->H = H, b->C = C;
    b->x = p, p += (size_t)L * columns;
    b->y = p, p += w;
    for (int k = 0; k < BT_FORECASTERS; k++) b->yhat[k] = p, p += w;
    b->bounds = p, p += 2 * (size_t)is->n * w;
    b->raw_bounds = p, p += 2 * (size_t)is->K * w;
    for (int j = 0; j < BT_QSETS; j++)
        for (int m = 0; m < 2; m++) b->quant[j][m] = p, p += (size_t)is->q[j].count * w;
    return true;
}

/* Carries values [H, C, per] (per values for each step and channel: 1 for a point forecast, Q
 * for quantiles) from a fold's scaler to the reference one through the original scale; the same
 * scaler leaves them as they are. */
static void to_reference(const bt_fold *fd, const ac_scaler *ref, const float *in, float *out,
                         int per) {
    int C = fd->channels;
    bool same = !memcmp(fd->mean, ref->mean, (size_t)C * sizeof(double)) &&
                !memcmp(fd->std, ref->std, (size_t)C * sizeof(double));
    size_t n = (size_t)fd->horizon * C * per;
    if (same) {
        memcpy(out, in, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (int)((i / (size_t)per) % (size_t)C);
        out[i] = (float)(((double)in[i] * fd->std[c] + fd->mean[c] - ref->mean[c]) / ref->std[c]);
    }
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

void ac_backtest_window_fill(bt_window *b, const ac_series *ref, int season, const bt_fold *fd,
                             int i, const bt_intervals *is) {
    int L = b->L, H = b->H, C = b->C, Q = is->Q;
    size_t w = (size_t)H * C;
    int o = fd->origins[i];
    ac_series_gather(ref, &o, 1, b->x, b->y);
    ac_window_keep_targets(b->x, L, ref->columns, C);
    to_reference(fd, &ref->scaler, fd->forecasts + (size_t)i * w, b->yhat[0], 1);
    for (int k = 1; k < BT_FORECASTERS; k++)
        ac_baseline_forecast((ac_baseline_kind)(k - 1), b->x, L, C, H, season, b->yhat[k]);
    float *quant = b->quant[BT_QSET_QUANTILE][0];
    if (Q) to_reference(fd, &ref->scaler, fd->quantile_values + (size_t)i * w * Q, quant, Q);
    for (int k = 0; k < 2 * is->K; k++)
        to_reference(fd, &ref->scaler, fd->bounds + ((size_t)i * 2 * is->K + k) * w,
                     b->raw_bounds + k * w, 1);
    for (int d = 0; d < is->n; d++) {
        const ac_interval_def *def = &is->defs[d];
        float *lo = b->bounds + 2 * (size_t)d * w, *hi = lo + w;
        if (def->method == AC_INTERVAL_CONFORMAL) { /* the fold's, from its own calibration */
            memcpy(lo, b->raw_bounds + 2 * (size_t)def->lo * w, w * sizeof(float));
            memcpy(hi, b->raw_bounds + (2 * (size_t)def->lo + 1) * w, w * sizeof(float));
        } else {
            ac_interval_bounds(def, NULL, b->yhat[0], quant, H, C, Q, lo, hi);
        }
    }
    if (is->q[BT_QSET_CONFORMAL].count)
        implied_quantiles(b->yhat[0], b->raw_bounds, w, is->K, b->quant[BT_QSET_CONFORMAL][0]);
    for (int j = 0; j < BT_QSETS; j++)
        if (is->q[j].offsets)
            ac_baseline_quantile_forecast(b->x, L, C, H, season, is->q[j].offsets, is->q[j].count,
                                          b->quant[j][1]);
}

void ac_backtest_window_add(bt_scores *s, const bt_intervals *is, const bt_window *b, int h0,
                            int steps) {
    size_t at = (size_t)h0 * b->C, w = (size_t)b->H * b->C;
    for (int k = 0; k < BT_FORECASTERS; k++)
        ac_metrics_acc_add(&s->acc[k], b->yhat[k] + at, b->y + at, steps);
    for (int d = 0; d < is->n; d++) {
        const float *lo = b->bounds + 2 * (size_t)d * w;
        ac_interval_acc_add(&s->iv[d], lo + at, lo + w + at, b->y + at, steps);
    }
    for (int j = 0; j < BT_QSETS; j++) {
        int n = is->q[j].count;
        if (!n) continue;
        ac_quantile_acc_add(&s->qm[j], b->quant[j][0] + at * n, b->y + at, steps);
        if (is->q[j].offsets)
            ac_quantile_acc_add(&s->qb[j], b->quant[j][1] + at * n, b->y + at, steps);
    }
}
