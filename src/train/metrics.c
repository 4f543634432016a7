/* metrics.c - error metrics over forecast points and the naive baselines (definitions in
 * include/attncast/metrics.h). Sums run in double, in window order. */
#include "attncast/metrics.h"

#include <math.h>
#include <string.h>

const char *ac_baseline_name(ac_baseline_kind kind) {
    static const char *const names[] = {"naive", "seasonal_naive", "mean"};
    return (unsigned)kind < AC_BASELINE_COUNT ? names[kind] : "unknown";
}

void ac_metrics_acc_init(ac_metrics_acc *acc, const ac_scaler *scaler, const double *mase_scale) {
    memset(acc, 0, sizeof *acc);
    acc->scaler = scaler;
    acc->mase_scale = mase_scale;
    acc->channels = scaler->channels;
}

void ac_metrics_acc_add(ac_metrics_acc *acc, const float *pred, const float *truth, int steps) {
    int C = acc->channels;
    for (int h = 0; h < steps; h++)
        for (int c = 0; c < C; c++) {
            float p = pred[h * C + c], y = truth[h * C + c];
            double ds = (double)p - (double)y;
            acc->se_scaled += ds * ds;
            acc->ae_scaled += fabs(ds);
            double po = ac_scaler_unscale(acc->scaler, c, p);
            double yo = ac_scaler_unscale(acc->scaler, c, y);
            double e = po - yo, ae = fabs(e);
            acc->se += e * e;
            if (yo != 0.0) {
                acc->ape += ae / fabs(yo);
                acc->ape_points++;
            }
            double denom = fabs(yo) + fabs(po);
            if (denom > 0.0) acc->sape += ae / denom;
            if (acc->mase_scale && acc->mase_scale[c] > 0.0) {
                acc->ase += ae / acc->mase_scale[c];
                acc->ase_points++;
            }
            acc->points++;
        }
}

ac_metrics ac_metrics_acc_result(const ac_metrics_acc *acc) {
    ac_metrics m = {.points = acc->points};
    if (acc->points == 0) {
        m.mse = m.mae = m.rmse = m.mape = m.smape = m.mase = NAN;
        return m;
    }
    double n = (double)acc->points;
    m.mse = acc->se_scaled / n;
    m.mae = acc->ae_scaled / n;
    m.rmse = sqrt(acc->se / n);
    m.mape = acc->ape_points ? 100.0 * acc->ape / (double)acc->ape_points : NAN;
    m.smape = 200.0 * acc->sape / n;
    m.mase = acc->ase_points ? acc->ase / (double)acc->ase_points : NAN;
    return m;
}

void ac_mase_scales(const ac_series *s, int season, double *scales) {
    int C = s->channels, m = season >= 1 ? season : 1, n = s->split.n_train;
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        int count = 0;
        for (int t = m; t < n; t++) {
            double a = ac_scaler_unscale(&s->scaler, c, s->scaled[(size_t)t * C + c]);
            double b = ac_scaler_unscale(&s->scaler, c, s->scaled[(size_t)(t - m) * C + c]);
            sum += fabs(a - b);
            count++;
        }
        scales[c] = count ? sum / count : 0.0;
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
