/* forecasts_csv.c - the one writer of forecasts CSV files (backtest's forecasts.csv, eval
 * --forecasts): a row per origin, step and target channel (covariates are inputs, not
 * forecast), in the data's own units, with the bounds of each conformal level and a quantile
 * model's quantiles after the point forecast, written to a temporary file and renamed over the
 * target when complete (cli.h). */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attncast/csv.h"
#include "attncast/intervals.h"
#include "attncast/windows.h"
#include "cli/cli.h"

struct ac_cli_forecasts {
    FILE *f;
    const ac_table *table;
    int horizon;
    int conformal, quantiles; /* K, Q */
    char path[4096], tmp[4200];
};

void ac_cli_bound_header(FILE *f, const char *prefix, const ac_cli_forecast_columns *cols) {
    for (int k = 0; k < cols->conformal; k++) {
        char p[32];
        ac_level_percent(cols->levels[k], p, sizeof p);
        fprintf(f, ",%slo%s,%shi%s", prefix, p, prefix, p);
    }
    for (int j = 0; j < cols->quantiles; j++)
        fprintf(f, ",%sq%g", prefix, (double)cols->quantile_levels[j]);
}

ac_cli_forecasts *ac_cli_forecasts_open(const char *path, const ac_table *table, int horizon,
                                        const ac_cli_forecast_columns *cols) {
    ac_cli_forecasts *w = calloc(1, sizeof *w);
    if (!w) {
        ac_cli_error("%s: out of memory", path);
        return NULL;
    }
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path) {
        ac_cli_error("%.200s...: path too long", path);
        free(w);
        return NULL;
    }
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "w");
    if (!w->f) {
        ac_cli_error("%s: cannot write: %s", path, strerror(errno));
        free(w);
        return NULL;
    }
    w->table = table;
    w->horizon = horizon;
    fputs("origin,origin_date,step,date,channel,actual,forecast", w->f);
    if (cols) {
        w->conformal = cols->conformal;
        w->quantiles = cols->quantiles;
        ac_cli_bound_header(w->f, "", cols);
    }
    fputc('\n', w->f);
    return w;
}

void ac_cli_forecasts_add(ac_cli_forecasts *w, int t, const float *point, const float *bounds,
                          const float *quantiles, const ac_scaler *scaler) {
    const ac_table *tb = w->table;
    int C = tb->targets, stride = tb->cols, H = w->horizon, K = w->conformal, Q = w->quantiles;
    size_t window = (size_t)H * C;
    const char *origin_date = tb->dates ? tb->dates[t] : "";
    for (int h = 0; h < H; h++) {
        int row = t + h;
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)h * C + c;
            fprintf(w->f, "%d,%s,%d,%s,%s,%.9g,%.9g", t, origin_date, h + 1,
                    tb->dates ? tb->dates[row] : "", tb->names[c],
                    tb->values[(size_t)row * stride + c], ac_scaler_unscale(scaler, c, point[i]));
            for (int k = 0; k < K && !bounds; k++) fputs(",,", w->f); /* none given: empty */
            for (int k = 0; bounds && k < K; k++)
                fprintf(w->f, ",%.9g,%.9g",
                        ac_scaler_unscale(scaler, c, bounds[(2 * (size_t)k) * window + i]),
                        ac_scaler_unscale(scaler, c, bounds[(2 * (size_t)k + 1) * window + i]));
            for (int j = 0; j < Q; j++)
                if (quantiles)
                    fprintf(w->f, ",%.9g", ac_scaler_unscale(scaler, c, quantiles[i * Q + j]));
                else
                    fputc(',', w->f);
            fputc('\n', w->f);
        }
    }
}

void ac_cli_conformal_bounds(const ac_calibration *cal, const float *point, int H, int C,
                             float *bounds) {
    ac_model_spec none = {0}; /* the conformal intervals alone */
    ac_interval_def defs[AC_INTERVALS_CAP];
    int n = ac_interval_defs(&none, cal, defs, AC_INTERVALS_CAP);
    size_t window = (size_t)H * C;
    for (int k = 0; k < n; k++)
        ac_interval_bounds(&defs[k], cal, point, NULL, H, C, 0, bounds + 2 * (size_t)k * window,
                           bounds + (2 * (size_t)k + 1) * window);
}

int ac_cli_forecasts_close(ac_cli_forecasts *w, bool commit) {
    bool ok = !ferror(w->f) && fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
    ok = fclose(w->f) == 0 && ok;
    int rc = 0;
    if (commit && ok && rename(w->tmp, w->path) == 0) {
        rc = 0;
    } else {
        if (commit) ac_cli_error("%s: cannot write: %s", w->path, strerror(errno));
        remove(w->tmp);
        rc = -1;
    }
    free(w);
    return rc;
}
