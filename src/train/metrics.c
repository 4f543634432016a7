/* metrics.c - error metrics over forecast points, per channel and pooled, and the naive
 * baselines (definitions in include/attncast/metrics.h). Sums run in double, per channel, in
 * window order. */
#include "attncast/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *ac_baseline_name(ac_baseline_kind kind) {
    static const char *const names[] = {"naive", "seasonal_naive", "mean"};
    return (unsigned)kind < AC_BASELINE_COUNT ? names[kind] : "unknown";
}

ac_status ac_metrics_acc_init(ac_metrics_acc *acc, const ac_scaler *scaler,
                              const double *mase_scale, const double *mape_floor, ac_error *err) {
    memset(acc, 0, sizeof *acc);
    acc->scaler = scaler;
    acc->mase_scale = mase_scale;
    acc->mape_floor = mape_floor;
    acc->channels = scaler->channels;
    acc->sums = calloc((size_t)(acc->channels > 0 ? acc->channels : 1), sizeof *acc->sums);
    if (!acc->sums) return ac_error_set(err, AC_ERR_NOMEM, "metrics: out of memory");
    return AC_OK;
}

void ac_metrics_acc_free(ac_metrics_acc *acc) {
    free(acc->sums);
    acc->sums = NULL;
}

void ac_metrics_acc_add(ac_metrics_acc *acc, const float *pred, const float *truth, int steps) {
    int C = acc->channels;
    for (int h = 0; h < steps; h++)
        for (int c = 0; c < C; c++) {
            ac_metrics_sums *m = &acc->sums[c];
            float p = pred[h * C + c], y = truth[h * C + c];
            double ds = (double)p - (double)y;
            m->se_scaled += ds * ds;
            m->ae_scaled += fabs(ds);
            double po = ac_scaler_unscale(acc->scaler, c, p);
            double yo = ac_scaler_unscale(acc->scaler, c, y);
            double e = po - yo, ae = fabs(e), ay = fabs(yo);
            m->se += e * e;
            m->ae += ae;
            m->abs_y += ay;
            if (ay > 0.0 && (!acc->mape_floor || ay >= acc->mape_floor[c])) {
                m->ape += ae / ay;
                m->ape_points++;
            }
            double denom = ay + fabs(po);
            if (denom > 0.0) m->sape += ae / denom;
            if (acc->mase_scale && acc->mase_scale[c] > 0.0) {
                m->ase += ae / acc->mase_scale[c];
                m->ase_points++;
            }
            m->points++;
        }
}

/* Whether a channel's MAPE is given: enough of its points at or above the floor. */
static bool mape_given(const ac_metrics_sums *m) {
    return m->ape_points > 0 && (double)m->ape_points >= AC_MAPE_MIN_SHARE * (double)m->points;
}

ac_metrics ac_metrics_acc_channel(const ac_metrics_acc *acc, int c) {
    const ac_metrics_sums *s = &acc->sums[c];
    ac_metrics m = {.points = s->points};
    if (s->points == 0) {
        m.mse = m.mae = m.rmse = m.mae_orig = m.wape = m.smape = m.mape = m.mase = m.mape_share =
            NAN;
        return m;
    }
    double n = (double)s->points;
    m.mse = s->se_scaled / n;
    m.mae = s->ae_scaled / n;
    m.rmse = sqrt(s->se / n);
    m.mae_orig = s->ae / n;
    m.wape = s->abs_y > 0.0 ? 100.0 * s->ae / s->abs_y : NAN;
    m.smape = 200.0 * s->sape / n;
    m.mape_share = (double)s->ape_points / n;
    bool given = mape_given(s);
    m.mape = given ? 100.0 * s->ape / (double)s->ape_points : NAN;
    m.mape_points = given ? s->ape_points : 0;
    m.mape_channels_out = given ? 0 : 1;
    m.mase = s->ase_points ? s->ase / (double)s->ase_points : NAN;
    return m;
}

void ac_metrics_acc_merge(ac_metrics_acc *into, const ac_metrics_acc *from) {
    for (int c = 0; c < into->channels && c < from->channels; c++) {
        ac_metrics_sums *a = &into->sums[c];
        const ac_metrics_sums *b = &from->sums[c];
        a->se_scaled += b->se_scaled;
        a->ae_scaled += b->ae_scaled;
        a->se += b->se;
        a->ae += b->ae;
        a->abs_y += b->abs_y;
        a->ape += b->ape;
        a->sape += b->sape;
        a->ase += b->ase;
        a->points += b->points;
        a->ape_points += b->ape_points;
        a->ase_points += b->ase_points;
    }
}

ac_metrics ac_metrics_acc_result(const ac_metrics_acc *acc) {
    if (acc->channels == 1) return ac_metrics_acc_channel(acc, 0);
    ac_metrics_sums all = {0};
    double wape_sum = 0.0, ape = 0.0;
    int wape_channels = 0;
    int64_t ape_points = 0, ape_points_all = 0;
    int mape_out = 0;
    for (int c = 0; c < acc->channels; c++) {
        const ac_metrics_sums *s = &acc->sums[c];
        all.se_scaled += s->se_scaled;
        all.ae_scaled += s->ae_scaled;
        all.sape += s->sape;
        all.ase += s->ase;
        all.points += s->points;
        all.ase_points += s->ase_points;
        ape_points_all += s->ape_points;
        if (s->points > 0 && s->abs_y > 0.0) {
            wape_sum += 100.0 * s->ae / s->abs_y;
            wape_channels++;
        }
        if (mape_given(s)) {
            ape += s->ape;
            ape_points += s->ape_points;
        } else if (s->points > 0) {
            mape_out++;
        }
    }
    ac_metrics m = {.points = all.points, .rmse = NAN, .mae_orig = NAN};
    if (all.points == 0) {
        m.mse = m.mae = m.wape = m.smape = m.mape = m.mase = m.mape_share = NAN;
        return m;
    }
    double n = (double)all.points;
    m.mse = all.se_scaled / n;
    m.mae = all.ae_scaled / n;
    m.wape = wape_channels ? wape_sum / wape_channels : NAN;
    m.smape = 200.0 * all.sape / n;
    m.mape_share = (double)ape_points_all / n;
    m.mape = ape_points ? 100.0 * ape / (double)ape_points : NAN;
    m.mape_points = ape_points;
    m.mape_channels_out = mape_out;
    m.mase = all.ase_points ? all.ase / (double)all.ase_points : NAN;
    return m;
}

void ac_mase_scales(const ac_series *s, int season, double *scales) {
    int C = s->channels, m = season >= 1 ? season : 1, n = s->split.n_train;
    size_t K = (size_t)s->columns; /* the row stride */
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        int count = 0;
        for (int t = m; t < n; t++) {
            double a = ac_scaler_unscale(&s->scaler, c, s->scaled[(size_t)t * K + c]);
            double b = ac_scaler_unscale(&s->scaler, c, s->scaled[(size_t)(t - m) * K + c]);
            sum += fabs(a - b);
            count++;
        }
        scales[c] = count ? sum / count : 0.0;
    }
}

void ac_mape_floors(const ac_series *s, ac_window_range r, double *floors) {
    if (r.count < 1) { /* no window: every point counts */
        for (int c = 0; c < s->channels; c++) floors[c] = 0.0;
        return;
    }
    int C = s->channels, first = r.first, end = r.first + r.count - 1 + s->horizon;
    size_t K = (size_t)s->columns; /* the row stride */
    if (first < 0) first = 0;
    if (end > s->rows) end = s->rows;
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int t = first; t < end; t++)
            sum += fabs(ac_scaler_unscale(&s->scaler, c, s->scaled[(size_t)t * K + c]));
        floors[c] = end > first ? AC_MAPE_FLOOR * sum / (end - first) : 0.0;
    }
}

void ac_baseline_forecast(ac_baseline_kind kind, const float *x, int L, int C, int H, int season,
                          float *out) {
    int m = season >= 1 && season <= L ? season : 1;
    for (int c = 0; c < C; c++) {
        double mean = 0.0;
        if (kind == AC_BASELINE_MEAN) {
            for (int t = 0; t < L; t++) mean += x[t * C + c];
            mean /= L;
        }
        for (int h = 0; h < H; h++) {
            float v;
            switch (kind) {
            case AC_BASELINE_SEASONAL_NAIVE:
                v = x[(L - m + h % m) * C + c];
                break;
            case AC_BASELINE_MEAN:
                v = (float)mean;
                break;
            default:
                v = x[(L - 1) * C + c];
                break;
            }
            out[h * C + c] = v;
        }
    }
}
