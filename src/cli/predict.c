/* predict.c - `attncast predict CHECKPOINT --input CSV [--future CSV] [--out FILE] [--at ROW]`:
 * forecasts the H rows after the last L rows of a CSV (or after data row ROW) in original units,
 * as CSV (see window_input.c for the window, the future covariates' rows and the output format),
 * each target's forecast followed by the bounds of its conformal intervals and a quantile model's
 * quantiles (embed.h's ac_model_forecast_covariates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/embed.h"
#include "app/report.h"
#include "cli/cli.h"
#include "cli/window_input.h"

static const char *const USAGE =
    "usage: attncast predict CHECKPOINT --input CSV [--future CSV] [--out FILE] [--at ROW]";

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
    "A model trained with covariates reads them by name too: the input holds its targets and\n"
    "every past and future covariate column; calendar features are computed from the dates.\n"
    "Its real future covariates' values over the horizon come from --future CSV: its first H\n"
    "rows, dated as the forecast's rows are (the input's calendar continued).\n"
    "\n"
    "options:\n"
    "  --input CSV   the recent history, at least L rows of every channel (required)\n"
    "  --future CSV  the horizon's rows of the model's future covariates (data.future_covariates)\n"
    "  --out FILE    write the forecast to FILE (atomically) instead of stdout\n"
    "  --at ROW      forecast after data row ROW (1 = the first data row) instead of the last\n"
    "  --help, -h    this help\n"
    "\n"
    "examples:\n"
    "  attncast predict runs/fx/best.h5 --input recent.csv\n"
    "  attncast predict runs/fx/best.h5 --input exchange_rate.csv --at 5000 --out f.csv\n"
    "  attncast predict runs/load/best.h5 --input recent.csv --future planned.csv\n";

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

/* Takes --future CSV out of argv (the rest goes to the parser predict shares with explain):
 * *future its value, or NULL. 0, or -1 after a one-line error. */
static int take_future(int *argc, char **argv, const char **future) {
    *future = NULL;
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--future") != 0) {
            argv[kept++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            ac_cli_error("predict: --future needs a value");
            return -1;
        }
        if (*future) {
            ac_cli_error("predict: --future is given twice");
            return -1;
        }
        *future = argv[++i];
    }
    *argc = kept;
    return 0;
}

int ac_cli_predict(int argc, char **argv) {
    const char *future = NULL;
    if (take_future(&argc, argv, &future) != 0) return AC_EXIT_USAGE;
    ac_cli_window_args a;
    int prc = ac_cli_parse_window_args(argc, argv, "predict", USAGE, HELP, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_error err;
    ac_model *m = ac_model_load(a.checkpoint, &err);
    if (!m) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    int H = ac_model_horizon(m), C = ac_model_channels(m);
    int I = ac_model_interval_count(m), Q = ac_model_quantile_count(m);
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    double levels[AC_INTERVALS_CAP];
    ac_cli_forecast_bounds bounds;
    bound_columns(m, &bounds, levels);
    int exit_code = AC_EXIT_FAILURE;
    ac_cli_model_input in;
    size_t HC = (size_t)H * C;
    float *out = malloc(HC * sizeof(float));
    float *lo = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *hi = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *quantiles = malloc((HC * (size_t)Q + 1) * sizeof(float));
    char *text = NULL;
    if (ac_cli_read_model_input(m, a.input, future, a.at, &in) != 0) goto done;
    if (!out || !lo || !hi || !quantiles) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (ac_model_forecast_covariates(m, in.window, in.future, in.dates, out, lo, hi, quantiles,
                                     &err) != AC_OK) {
        ac_cli_error("%s: %s", a.input, err.msg);
        goto done;
    }
    bounds.lo = lo;
    bounds.hi = hi;
    bounds.values = quantiles;
    text = ac_cli_forecast_bounds_csv(ck, in.table, in.end, out, &bounds);
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
    free(out);
    free(lo);
    free(hi);
    free(quantiles);
    ac_cli_model_input_free(&in);
    ac_model_free(m);
    return exit_code;
}
