/* interval_defs.c - the intervals a model offers (conformal levels, symmetric quantile pairs),
 * their bounds for one window and their column labels, so that predict, eval, backtest and the
 * C API name and compute them alike (see include/attncast/intervals.h). */
#include "attncast/intervals.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Two quantile levels pair up when q + q' = 1 within this. */
#define PAIR_TOLERANCE 1e-6

const char *ac_interval_method_name(ac_interval_method method) {
    return method == AC_INTERVAL_CONFORMAL  ? "conformal"
           : method == AC_INTERVAL_QUANTILE ? "quantile"
                                            : "unknown";
}

/* The level 1 - 2q of a pair, rounded to 7 decimals: the levels are float32 in the spec, and a
 * config's 0.1 should give 0.8, not 0.79999999701. */
static double level_of_pair(float q) {
    return round((1.0 - 2.0 * (double)q) * 1e7) / 1e7;
}

int ac_interval_defs(const ac_model_spec *spec, const ac_calibration *cal, ac_interval_def *out,
                     int cap) {
    int n = 0;
    for (int k = 0; cal && k < cal->count && n < cap; k++)
        out[n++] = (ac_interval_def){
            .method = AC_INTERVAL_CONFORMAL, .level = cal->levels[k], .lo = k, .hi = k};
    int Q = spec->quantile_count;
    /* the pairs, innermost (narrowest level) first: the lower level runs down from the median */
    for (int lo = Q - 1; lo >= 0 && n < cap; lo--) {
        if (!(spec->quantiles[lo] < 0.5f)) continue;
        for (int hi = 0; hi < Q; hi++)
            if (fabs((double)spec->quantiles[lo] + (double)spec->quantiles[hi] - 1.0) <=
                PAIR_TOLERANCE) {
                out[n++] = (ac_interval_def){.method = AC_INTERVAL_QUANTILE,
                                             .level = level_of_pair(spec->quantiles[lo]),
                                             .lo = lo,
                                             .hi = hi};
                break;
            }
    }
    return n;
}

void ac_interval_bounds(const ac_interval_def *def, const ac_calibration *cal, const float *point,
                        const float *quantiles, int H, int C, int Q, float *lo, float *hi) {
    if (def->method == AC_INTERVAL_CONFORMAL) {
        ac_calibration_bounds(cal, def->lo, point, lo, hi);
        return;
    }
    for (size_t j = 0; j < (size_t)H * C; j++) {
        lo[j] = quantiles[j * Q + def->lo];
        hi[j] = quantiles[j * Q + def->hi];
    }
}

void ac_level_percent(double level, char *buf, size_t n) {
    /* enough digits for any level written in a config (0.0001% steps), none of float round-off */
    snprintf(buf, n, "%.10g", round(level * 100.0 * 1e4) / 1e4);
}
