/* predict.c - `attncast predict CHECKPOINT --input CSV [--out FILE] [--at ROW]`: forecasts the H
 * rows after the last L rows of a CSV (or after data row ROW) in original units, as CSV (see
 * window_input.c for the window and the output format), each channel's forecast followed by the
 * bounds of its conformal intervals and a quantile model's quantiles (embed.h's
 * ac_model_forecast_bounds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/embed.h"
#include "app/report.h"
#include "cli/cli.h"
#include "cli/window_input.h"

static const char *const USAGE =
    "usage: attncast predict CHECKPOINT --input CSV [--out FILE] [--at ROW]";

static const char *const HELP =
    "\n"
    "Forecasts the H rows after the last L rows of CSV (or after data row --at) with a saved\n"
    "model, in original units, as CSV: a date column that continues the input's calendar in\n"
    "the input's style (a step column 1..H when no frequency is known), then per channel its\n"
    "forecast (OT), the bounds of each calibrated conformal interval (OT_lo80, OT_hi80, ...)\n"
    "and, for a quantile model, each quantile level (OT_q0.1, OT_q0.5, ...). A checkpoint\n"
    "without /calibration has no conformal bounds: `attncast calibrate` adds them. The\n"
    "checkpoint's channels are read by name, so the CSV may hold others.\n"
    "\n"
    "options:\n"
    "  --input CSV   the recent history, at least L rows of every channel (required)\n"
    "  --out FILE    write the forecast to FILE (atomically) instead of stdout\n"
    "  --at ROW      forecast after data row ROW (1 = the first data row) instead of the last\n"
    "  --help, -h    this help\n"
    "\n"
    "examples:\n"
    "  attncast predict runs/fx/best.h5 --input recent.csv\n"
    "  attncast predict runs/fx/best.h5 --input exchange_rate.csv --at 5000 --out f.csv\n";

/* ---- the verb ---- */

/* The conformal intervals (ac_interval_defs puts them first) and the quantile levels of m, as
 * predict's columns name them; levels holds AC_INTERVALS_CAP values. */
static void bound_columns(const ac_model *m, ac_cli_forecast_bounds *b, double *levels) {
    ac_interval_method method;
    int K = 0;
    while (ac_model_interval(m, K, &method, &levels[K]) && method == AC_INTERVAL_CONFORMAL) K++;
    const ac_model_spec *spec = ac_forecaster_spec(ac_model_checkpoint(m)->model);
    b->cols = (ac_cli_forecast_columns){.conformal = K,
                                        .levels = levels,
                                        .quantiles = spec->quantile_count,
                                        .quantile_levels = spec->quantiles};
}

int ac_cli_predict(int argc, char **argv) {
    ac_cli_window_args a;
    int prc = ac_cli_parse_window_args(argc, argv, "predict", USAGE, HELP, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_error err;
    ac_model *m = ac_model_load(a.checkpoint, &err);
    if (!m) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ac_model_channels(m);
    int I = ac_model_interval_count(m), Q = ac_model_quantile_count(m);
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    double levels[AC_INTERVALS_CAP];
    ac_cli_forecast_bounds bounds;
    bound_columns(m, &bounds, levels);
    int exit_code = AC_EXIT_FAILURE;
    ac_table *t = NULL;
    int end = 0;
    size_t HC = (size_t)H * C;
    float *window = malloc((size_t)L * C * sizeof(float));
    float *out = malloc(HC * sizeof(float));
    float *lo = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *hi = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *quantiles = malloc((HC * (size_t)Q + 1) * sizeof(float));
    char *text = NULL;
    if (!window || !out || !lo || !hi || !quantiles) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (ac_cli_read_window(ck, a.input, a.at, &t, &end, window) != 0) goto done;
    if (ac_model_forecast_bounds(m, window, out, lo, hi, quantiles, &err) != AC_OK) {
        ac_cli_error("%s: %s", a.input, err.msg);
        goto done;
    }
    bounds.lo = lo;
    bounds.hi = hi;
    bounds.values = quantiles;
    text = ac_cli_forecast_bounds_csv(ck, t, end, out, &bounds);
    if (!text) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (a.out) {
        if (ac_write_file_atomic(a.out, text, strlen(text), &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            goto done;
        }
    } else {
        fputs(text, stdout);
    }
    if (!ck->has_calibration) {
        fflush(stdout);
        fprintf(stderr,
                "attncast: note: %s has no conformal intervals (/calibration); add them with: "
                "attncast calibrate %s\n",
                a.checkpoint, a.checkpoint);
    }
    exit_code = AC_EXIT_OK;
done:
    free(text);
    free(window);
    free(out);
    free(lo);
    free(hi);
    free(quantiles);
    ac_table_free(t);
    ac_model_free(m);
    return exit_code;
}
