/* forecast_example.c - embedding attncast in a C program: load a checkpoint, forecast from the
 * last rows of a CSV, print the forecast with its bounds in the columns `attncast predict`
 * writes (per channel: the forecast, each conformal interval's lo/hi, each quantile level).
 * With --latency N it also times N single-window forecasts and prints the median and 90th
 * percentile in microseconds.
 *
 *   build/forecast_example runs/default/best.h5 data.csv [--latency 1000]
 *
 * Only the public headers are used: attncast/embed.h for the model, attncast/csv.h to read
 * the CSV (any other source of L x C floats works the same way). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attncast/csv.h"
#include "attncast/embed.h"

/* Wall time in seconds (C11's timespec_get: no POSIX needed). */
static double seconds_now(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--latency"))) {
        fprintf(stderr, "usage: %s CHECKPOINT CSV [--latency N]\n", argv[0]);
        return 2;
    }
    ac_error err;
    ac_model *m = ac_model_load(argv[1], &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ac_model_channels(m);

    /* Read the checkpoint's channels, by name, from the CSV. */
    char columns[4096] = "";
    for (int c = 0; c < C; c++) {
        if (c) strncat(columns, ",", sizeof columns - strlen(columns) - 1);
        strncat(columns, ac_model_channel_name(m, c), sizeof columns - strlen(columns) - 1);
    }
    ac_csv_options opt = {.columns = columns};
    ac_table *t = NULL;
    if (ac_table_load_csv(&t, argv[2], &opt, &err) != AC_OK || t->rows < L) {
        fprintf(stderr, "%s\n", t ? "the CSV has fewer rows than the lookback" : err.msg);
        ac_table_free(t);
        ac_model_free(m);
        return 1;
    }
    /* The prediction intervals: conformal ones (from the checkpoint's /calibration) come first,
     * then a quantile model's pairs, which its quantile columns already show. */
    int I = ac_model_interval_count(m), K = 0, Q = ac_model_quantile_count(m);
    ac_interval_method method;
    double level;
    while (ac_model_interval(m, K, &method, &level) && method == AC_INTERVAL_CONFORMAL) K++;
    size_t HC = (size_t)H * C;
    float *window = malloc((size_t)L * C * sizeof(float));
    float *forecast = malloc(HC * sizeof(float));
    float *lo = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *hi = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *quantiles = malloc((HC * (size_t)Q + 1) * sizeof(float));
    for (int r = 0; r < L; r++)
        for (int c = 0; c < C; c++)
            window[r * C + c] = (float)t->values[(size_t)(t->rows - L + r) * C + c];

    int rc = 0;
    if (ac_model_forecast_bounds(m, window, forecast, lo, hi, quantiles, &err) != AC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        rc = 1;
    } else {
        printf("step");
        for (int c = 0; c < C; c++) {
            const char *name = ac_model_channel_name(m, c);
            printf(",%s", name);
            for (int k = 0; k < K; k++) {
                char pct[32]; /* "80" for 0.8, "97.5" for 0.975 */
                ac_model_interval(m, k, NULL, &level);
                ac_level_percent(level, pct, sizeof pct);
                printf(",%s_lo%s,%s_hi%s", name, pct, name, pct);
            }
            for (int q = 0; q < Q; q++) printf(",%s_q%g", name, ac_model_quantile_level(m, q));
        }
        printf("\n");
        for (int h = 0; h < H; h++) {
            printf("%d", h + 1);
            for (int c = 0; c < C; c++) {
                size_t cell = (size_t)h * C + c;
                printf(",%.9g", (double)forecast[cell]);
                for (int k = 0; k < K; k++)
                    printf(",%.9g,%.9g", (double)lo[k * HC + cell], (double)hi[k * HC + cell]);
                for (int q = 0; q < Q; q++) printf(",%.9g", (double)quantiles[cell * Q + q]);
            }
            printf("\n");
        }
    }
    if (rc == 0 && argc == 5) {
        int n = atoi(argv[4]);
        if (n < 1) n = 1;
        double *us = malloc((size_t)n * sizeof(double));
        for (int i = 0; i < n && rc == 0; i++) {
            double t0 = seconds_now();
            rc = ac_model_forecast(m, window, forecast, &err) == AC_OK ? 0 : 1;
            us[i] = 1e6 * (seconds_now() - t0);
        }
        qsort(us, (size_t)n, sizeof *us, compare_doubles);
        fprintf(stderr, "latency over %d single-window forecasts: median %.1f us, p90 %.1f us\n", n,
                us[n / 2], us[(int)(0.9 * (n - 1))]);
        free(us);
    }
    free(window);
    free(forecast);
    free(lo);
    free(hi);
    free(quantiles);
    ac_table_free(t);
    ac_model_free(m);
    return rc;
}
