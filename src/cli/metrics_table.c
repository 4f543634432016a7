/* metrics_table.c - the tables of metrics that `train` and `eval` print: the model and the
 * baselines pooled over the channels (metrics free of units only, plus RMSE for a single
 * channel), one row per channel, model beside naive, in the channel's own units, and the
 * prediction intervals' scores (one row per interval, the weighted quantile loss beside the
 * seasonal-naive quantile baseline's, and per channel the coverage of each interval). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attncast/trainer.h"
#include "cli/cli.h"

/* A number in a column of width w, or "-" when it is not defined. */
static void cell(int w, int decimals, bool general, double v) {
    if (!isfinite(v))
        printf(" %*s", w, "-");
    else if (general)
        printf(" %*.*g", w, decimals, v);
    else
        printf(" %*.*f", w, decimals, v);
}

void ac_cli_print_metrics(const ac_eval_result *e, const ac_series *s) {
    bool one = e->channels == 1;
    printf("\n%s%s: %lld windows x %d steps x %d channels (MSE, MAE on scaled values;%s WAPE, "
           "sMAPE, MAPE, MASE on the original scale, free of units)\n",
           e->split == AC_SPLIT_ALL ? "every window" : ac_split_kind_name(e->split),
           e->split == AC_SPLIT_ALL ? "" : " split", (long long)e->windows, s->horizon, s->channels,
           one ? " RMSE in the channel's units;" : "");
    printf("%-16s %10s %10s", "", "MSE", "MAE");
    if (one) printf(" %12s", "RMSE");
    printf(" %9s %9s %9s %8s\n", "WAPE%", "sMAPE%", "MAPE%", "MASE");
    for (int i = -1; i < AC_BASELINE_COUNT; i++) {
        const ac_metrics *m = i < 0 ? &e->model : &e->baseline[i];
        printf("%-16s", i < 0 ? "model" : ac_baseline_name((ac_baseline_kind)i));
        cell(10, 4, false, m->mse);
        cell(10, 4, false, m->mae);
        if (one) cell(12, 5, true, m->rmse);
        cell(9, 3, false, m->wape);
        cell(9, 3, false, m->smape);
        cell(9, 3, false, m->mape);
        cell(8, 4, false, m->mase);
        printf("\n");
    }
    if (e->model.mape_channels_out > 0)
        printf("MAPE left out for %d of %d channel(s): fewer than %g%% of their points have |y| >= "
               "%g x the channel's mean |y|\n",
               e->model.mape_channels_out, e->channels, 100.0 * AC_MAPE_MIN_SHARE, AC_MAPE_FLOOR);
    double ratio = e->model.mse / e->baseline[AC_BASELINE_NAIVE].mse;
    printf("model MSE is %.3f x the naive baseline's (%s)\n", ratio,
           ratio < 1.0 ? "better" : "not better");
}

void ac_cli_print_channel_metrics(const ac_eval_result *e, char *const *names) {
    if (!e->model_channels) return;
    int w = 7;
    for (int c = 0; c < e->channels; c++) {
        int len = (int)strlen(names[c]);
        if (len > w) w = len < 32 ? len : 32;
    }
    printf("\nper channel (MSE on scaled values; RMSE, MAE in the channel's own units; WAPE, "
           "sMAPE, MAPE, MASE free of units):\n");
    printf("%-*s %10s %10s %12s %12s %12s %9s %9s %9s %8s %10s\n", w, "channel", "MSE", "naive_MSE",
           "RMSE", "naive_RMSE", "MAE", "WAPE%", "sMAPE%", "MAPE%", "MASE", "naive_MASE");
    for (int c = 0; c < e->channels; c++) {
        const ac_metrics *m = &e->model_channels[c];
        const ac_metrics *nv = &e->baseline_channels[AC_BASELINE_NAIVE][c];
        printf("%-*.*s", w, w, names[c]);
        cell(10, 4, false, m->mse);
        cell(10, 4, false, nv->mse);
        cell(12, 5, true, m->rmse);
        cell(12, 5, true, nv->rmse);
        cell(12, 5, true, m->mae_orig);
        cell(9, 3, false, m->wape);
        cell(9, 3, false, m->smape);
        cell(9, 3, false, m->mape);
        cell(8, 4, false, m->mase);
        cell(10, 4, false, nv->mase);
        printf("\n");
    }
}

/* "conformal 80%" */
static void interval_name(const ac_interval_def *def, char *buf, size_t n) {
    char pct[32];
    ac_level_percent(def->level, pct, sizeof pct);
    snprintf(buf, n, "%s %s%%", ac_interval_method_name(def->method), pct);
}

void ac_cli_print_intervals(const ac_eval_result *e) {
    if (e->interval_count == 0 && e->quantile_sets == 0) return;
    if (e->interval_count > 0) {
        printf("\nprediction intervals (coverage: share of the points inside; mean width and "
               "Winkler score on scaled values):\n");
        printf("%-16s %10s %10s %10s\n", "interval", "coverage%", "width", "Winkler");
        for (int i = 0; i < e->interval_count; i++) {
            const ac_eval_interval *r = &e->intervals[i];
            char name[48];
            interval_name(&r->def, name, sizeof name);
            printf("%-16s", name);
            cell(10, 2, false, 100.0 * r->pooled.coverage);
            cell(10, 4, false, r->pooled.width_scaled);
            cell(10, 4, false, r->pooled.winkler_scaled);
            printf("\n");
        }
    }
    for (int i = 0; i < e->quantile_sets; i++) {
        const ac_eval_quantiles *q = &e->quantiles[i];
        printf("wQL of the %s quantiles (",
               q->method == AC_INTERVAL_QUANTILE ? "model's" : "conformal intervals'");
        for (int k = 0; k < q->count; k++) printf("%s%g", k ? " " : "", q->levels[k]);
        printf("):");
        cell(0, 4, false, q->model.wql);
        if (q->has_baseline) {
            printf(", seasonal-naive quantiles");
            cell(0, 4, false, q->baseline.wql);
            if (isfinite(q->model.wql) && isfinite(q->baseline.wql))
                printf(" (%s)", q->model.wql < q->baseline.wql ? "better" : "not better");
        }
        printf("\n");
    }
}

void ac_cli_print_channel_intervals(const ac_eval_result *e, char *const *names) {
    if (e->interval_count == 0) return;
    int w = 7;
    for (int c = 0; c < e->channels; c++) {
        int len = (int)strlen(names[c]);
        if (len > w) w = len < 32 ? len : 32;
    }
    printf("\nper channel coverage %% of each interval:\n%-*s", w, "channel");
    for (int i = 0; i < e->interval_count; i++) {
        char name[48];
        interval_name(&e->intervals[i].def, name, sizeof name);
        printf(" %15s", name);
    }
    printf("\n");
    for (int c = 0; c < e->channels; c++) {
        printf("%-*.*s", w, w, names[c]);
        for (int i = 0; i < e->interval_count; i++)
            cell(15, 2, false, 100.0 * e->intervals[i].channels[c].coverage);
        printf("\n");
    }
}
