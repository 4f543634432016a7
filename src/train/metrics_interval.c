/* metrics_interval.c - scores of interval and quantile forecasts (coverage, width, Winkler score,
 * weighted quantile loss, CRPS on the quantile grid) and the seasonal-naive quantile baseline
 * they are compared with (definitions in include/attncast/metrics.h). Sums run in double, per
 * channel, in window order. */
#include "attncast/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- intervals ---- */

ac_status ac_interval_acc_init(ac_interval_acc *acc, const ac_scaler *scaler, double level,
                               ac_error *err) {
    memset(acc, 0, sizeof *acc);
    if (!(level > 0.0 && level < 1.0))
        return ac_error_set(err, AC_ERR_INVALID, "interval level %g is not in (0, 1)", level);
    acc->scaler = scaler;
    acc->level = level;
    acc->channels = scaler->channels;
    acc->sums = calloc((size_t)(acc->channels > 0 ? acc->channels : 1), sizeof *acc->sums);
    if (!acc->sums) return ac_error_set(err, AC_ERR_NOMEM, "interval metrics: out of memory");
    return AC_OK;
}

void ac_interval_acc_merge(ac_interval_acc *into, const ac_interval_acc *from) {
    for (int c = 0; c < into->channels && c < from->channels; c++) {
        ac_interval_sums *a = &into->sums[c];
        const ac_interval_sums *b = &from->sums[c];
        a->width += b->width;
        a->winkler += b->winkler;
        a->width_scaled += b->width_scaled;
        a->winkler_scaled += b->winkler_scaled;
        a->covered += b->covered;
        a->points += b->points;
    }
}

void ac_interval_acc_free(ac_interval_acc *acc) {
    free(acc->sums);
    acc->sums = NULL;
}

/* The interval score of one point: width plus the penalty for a miss. */
static double winkler(double lo, double hi, double y, double penalty) {
    double score = hi - lo;
    if (y < lo) score += penalty * (lo - y);
    if (y > hi) score += penalty * (y - hi);
    return score;
}

void ac_interval_acc_add(ac_interval_acc *acc, const float *lo, const float *hi, const float *truth,
                         int steps) {
    int C = acc->channels;
    double penalty = 2.0 / (1.0 - acc->level);
    for (int h = 0; h < steps; h++)
        for (int c = 0; c < C; c++) {
            ac_interval_sums *s = &acc->sums[c];
            size_t i = (size_t)h * C + c;
            double l = lo[i], u = hi[i], y = truth[i];
            double lo_o = ac_scaler_unscale(acc->scaler, c, lo[i]);
            double hi_o = ac_scaler_unscale(acc->scaler, c, hi[i]);
            double y_o = ac_scaler_unscale(acc->scaler, c, truth[i]);
            s->width_scaled += u - l;
            s->winkler_scaled += winkler(l, u, y, penalty);
            s->width += hi_o - lo_o;
            s->winkler += winkler(lo_o, hi_o, y_o, penalty);
            s->covered += l <= y && y <= u;
            s->points++;
        }
}

static ac_interval_metrics interval_metrics(const ac_interval_sums *s, double level,
                                            bool with_units) {
    ac_interval_metrics m = {.level = level, .points = s->points};
    if (s->points == 0) {
        m.coverage = m.width = m.winkler = m.width_scaled = m.winkler_scaled = NAN;
        return m;
    }
    double n = (double)s->points;
    m.coverage = (double)s->covered / n;
    m.width_scaled = s->width_scaled / n;
    m.winkler_scaled = s->winkler_scaled / n;
    m.width = with_units ? s->width / n : NAN;
    m.winkler = with_units ? s->winkler / n : NAN;
    return m;
}

ac_interval_metrics ac_interval_acc_channel(const ac_interval_acc *acc, int c) {
    return interval_metrics(&acc->sums[c], acc->level, true);
}

ac_interval_metrics ac_interval_acc_result(const ac_interval_acc *acc) {
    if (acc->channels == 1) return ac_interval_acc_channel(acc, 0);
    ac_interval_sums all = {0};
    for (int c = 0; c < acc->channels; c++) {
        const ac_interval_sums *s = &acc->sums[c];
        all.width_scaled += s->width_scaled;
        all.winkler_scaled += s->winkler_scaled;
        all.covered += s->covered;
        all.points += s->points;
    }
    return interval_metrics(&all, acc->level, false);
}

/* ---- quantiles ---- */

static bool levels_valid(const double *levels, int count) {
    for (int q = 0; q < count; q++)
        if (!(levels[q] > 0.0 && levels[q] < 1.0) || (q > 0 && !(levels[q] > levels[q - 1])))
            return false;
    return count >= 1;
}

ac_status ac_quantile_acc_init(ac_quantile_acc *acc, const ac_scaler *scaler, const double *levels,
                               int quantiles, ac_error *err) {
    memset(acc, 0, sizeof *acc);
    if (!levels_valid(levels, quantiles))
        return ac_error_set(err, AC_ERR_INVALID,
                            "quantile levels must be strictly increasing in (0, 1)");
    int C = scaler->channels > 0 ? scaler->channels : 1;
    acc->scaler = scaler;
    acc->channels = scaler->channels;
    acc->quantiles = quantiles;
    acc->levels = malloc((size_t)quantiles * sizeof *acc->levels);
    acc->loss = calloc((size_t)C * (size_t)quantiles, sizeof *acc->loss);
    acc->abs_y = calloc((size_t)C, sizeof *acc->abs_y);
    acc->points = calloc((size_t)C, sizeof *acc->points);
    if (!acc->levels || !acc->loss || !acc->abs_y || !acc->points) {
        ac_quantile_acc_free(acc);
        return ac_error_set(err, AC_ERR_NOMEM, "quantile metrics: out of memory");
    }
    memcpy(acc->levels, levels, (size_t)quantiles * sizeof *levels);
    return AC_OK;
}

void ac_quantile_acc_free(ac_quantile_acc *acc) {
    free(acc->levels);
    free(acc->loss);
    free(acc->abs_y);
    free(acc->points);
    acc->levels = acc->loss = acc->abs_y = NULL;
    acc->points = NULL;
}

void ac_quantile_acc_merge(ac_quantile_acc *into, const ac_quantile_acc *from) {
    int Q = into->quantiles < from->quantiles ? into->quantiles : from->quantiles;
    for (int c = 0; c < into->channels && c < from->channels; c++) {
        for (int q = 0; q < Q; q++)
            into->loss[(size_t)c * into->quantiles + q] +=
                from->loss[(size_t)c * from->quantiles + q];
        into->abs_y[c] += from->abs_y[c];
        into->points[c] += from->points[c];
    }
}

void ac_quantile_acc_add(ac_quantile_acc *acc, const float *quant, const float *truth, int steps) {
    int C = acc->channels, Q = acc->quantiles;
    for (int h = 0; h < steps; h++)
        for (int c = 0; c < C; c++) {
            double y = ac_scaler_unscale(acc->scaler, c, truth[(size_t)h * C + c]);
            const float *row = quant + ((size_t)h * C + c) * Q;
            double *loss = acc->loss + (size_t)c * Q;
            for (int q = 0; q < Q; q++) {
                double e = y - ac_scaler_unscale(acc->scaler, c, row[q]);
                double tau = acc->levels[q];
                loss[q] += e >= 0.0 ? tau * e : (tau - 1.0) * e;
            }
            acc->abs_y[c] += fabs(y);
            acc->points[c]++;
        }
}

ac_quantile_metrics ac_quantile_acc_channel(const ac_quantile_acc *acc, int c) {
    ac_quantile_metrics m = {.points = acc->points[c], .wql = NAN, .crps = NAN};
    if (m.points == 0) return m;
    double total = 0.0; /* sum over q of QL_q = 2 sum rho_q */
    for (int q = 0; q < acc->quantiles; q++)
        total += 2.0 * acc->loss[(size_t)c * acc->quantiles + q];
    double mean_ql = total / acc->quantiles;
    m.crps = mean_ql / (double)m.points;
    if (acc->abs_y[c] > 0.0) m.wql = mean_ql / acc->abs_y[c];
    return m;
}

ac_quantile_metrics ac_quantile_acc_result(const ac_quantile_acc *acc) {
    if (acc->channels == 1) return ac_quantile_acc_channel(acc, 0);
    ac_quantile_metrics m = {.wql = NAN, .crps = NAN};
    double sum = 0.0;
    int given = 0;
    for (int c = 0; c < acc->channels; c++) {
        ac_quantile_metrics one = ac_quantile_acc_channel(acc, c);
        m.points += one.points;
        if (!isnan(one.wql)) {
            sum += one.wql;
            given++;
        }
    }
    if (given) m.wql = sum / given;
    return m;
}

void ac_interval_quantile_levels(const double *levels, int count, double *out) {
    for (int k = 0; k < count; k++) {
        out[count - 1 - k] = (1.0 - levels[k]) / 2.0;
        out[count + 1 + k] = (1.0 + levels[k]) / 2.0;
    }
    out[count] = 0.5;
}

/* ---- the seasonal-naive quantile baseline ---- */

static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

ac_status ac_baseline_quantile_offsets(const ac_series *s, ac_window_range r, int season,
                                       const double *levels, int Q, float *offsets, ac_error *err) {
    if (r.count < 1)
        return ac_error_set(err, AC_ERR_INVALID,
                            "the seasonal-naive quantile baseline needs at least one window");
    if (!levels_valid(levels, Q))
        return ac_error_set(err, AC_ERR_INVALID,
                            "quantile levels must be strictly increasing in (0, 1)");
    int L = s->lookback, H = s->horizon, C = s->channels, n = r.count;
    size_t per_window = (size_t)H * C;
    float *errors = malloc((size_t)n * per_window * sizeof(float)); /* [H, C, n] */
    float *x = malloc((size_t)L * s->columns * sizeof(float));
    float *y = malloc(per_window * sizeof(float));
    float *yhat = malloc(per_window * sizeof(float));
    if (!errors || !x || !y || !yhat) {
        free(errors), free(x), free(y), free(yhat);
        return ac_error_set(err, AC_ERR_NOMEM, "seasonal-naive quantiles: out of memory");
    }
    for (int w = 0; w < n; w++) {
        int t = r.first + w;
        ac_series_gather(s, &t, 1, x, y);
        ac_window_keep_targets(x, L, s->columns, C);
        ac_baseline_forecast(AC_BASELINE_SEASONAL_NAIVE, x, L, C, H, season, yhat);
        for (size_t i = 0; i < per_window; i++) errors[i * n + w] = y[i] - yhat[i];
    }
    for (size_t i = 0; i < per_window; i++) {
        float *e = errors + i * n;
        qsort(e, (size_t)n, sizeof *e, compare_floats);
        for (int q = 0; q < Q; q++) {
            double rank = ceil((double)n * levels[q] - 1e-9); /* 1-based */
            int k = rank < 1.0 ? 0 : rank > n ? n - 1 : (int)rank - 1;
            offsets[i * Q + q] = e[k];
        }
    }
    free(errors), free(x), free(y), free(yhat);
    return AC_OK;
}

void ac_baseline_quantile_forecast(const float *x, int L, int C, int H, int season,
                                   const float *offsets, int Q, float *out) {
    /* the point forecast goes into the last H * C slots of out: entry i of it sits at
     * H C (Q - 1) + i, past every slot written before it is read (i Q + q < H C (Q - 1) + i for
     * i < H C), so one array serves */
    float *point = out + (size_t)H * C * (Q - 1);
    ac_baseline_forecast(AC_BASELINE_SEASONAL_NAIVE, x, L, C, H, season, point);
    for (size_t i = 0; i < (size_t)H * C; i++) {
        float p = point[i];
        for (int q = 0; q < Q; q++) out[i * Q + q] = p + offsets[i * Q + q];
    }
}
