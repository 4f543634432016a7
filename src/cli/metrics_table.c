/* metrics_table.c - the tables of metrics that `train` and `eval` print: the model and the
 * baselines pooled over the channels (metrics free of units only, plus RMSE for a single
 * channel), one row per channel, model beside naive, in the channel's own units, and the
 * prediction intervals' scores (one row per interval, the weighted quantile loss beside the
 * seasonal-naive quantile baseline's, and per channel the coverage of each interval). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    bool one = e->channels == 1 && isfinite(e->model.rmse);
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

/* A series' model MSE over its naive MSE, NAN when either is not defined. */
static double naive_ratio(const ac_eval_result *r) {
    double naive = r->baseline[AC_BASELINE_NAIVE].mse;
    return r->windows > 0 && naive > 0.0 ? r->model.mse / naive : NAN;
}

static int compare_ratio(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return (x > y) - (x < y);
}

#define SERIES_SHOWN 3 /* the best and the worst series named */

void ac_cli_print_series_summary(const ac_eval_result *pooled, const ac_panel *panel,
                                 const ac_eval_result *per_series) {
    int S = panel->count, scored = 0, better = 0;
    double *ratios = malloc((size_t)S * 2 * sizeof *ratios); /* pairs: ratio, series index */
    if (!ratios) return;
    for (int i = 0; i < S; i++) {
        double r = naive_ratio(&per_series[i]);
        if (!isfinite(r)) continue;
        ratios[2 * scored] = r;
        ratios[2 * scored + 1] = i;
        scored++;
        better += r < 1.0;
    }
    qsort(ratios, (size_t)scored, 2 * sizeof *ratios, compare_ratio);
    printf("per series (metrics.json has each): %d series, %d with %s windows; the model's MSE is "
           "below the naive repeat's on %d of them",
           S, scored, ac_split_kind_name(pooled->split), better);
    if (scored > 0) {
        double median = scored % 2
                            ? ratios[2 * (scored / 2)]
                            : 0.5 * (ratios[2 * (scored / 2 - 1)] + ratios[2 * (scored / 2)]);
        printf("; median ratio %.3f\n  best:", median);
        for (int k = 0; k < SERIES_SHOWN && k < scored; k++)
            printf(" %s %.3f", panel->ids[(int)ratios[2 * k + 1]], ratios[2 * k]);
        printf("\n  worst:");
        for (int k = 0; k < SERIES_SHOWN && k < scored; k++) {
            int j = scored - 1 - k;
            printf(" %s %.3f", panel->ids[(int)ratios[2 * j + 1]], ratios[2 * j]);
        }
    }
    printf("\n");
    free(ratios);
}
