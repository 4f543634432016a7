/* predict.c - `attncast predict CHECKPOINT --input CSV [--out FILE] [--at ROW]`: forecasts the H
 * rows after the last L rows of a CSV (or after data row ROW) in original units, as CSV (see
 * window_input.c for the window and the output format). */
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
    "the input's style (a step column 1..H when no frequency is known), then one column per\n"
    "channel. The checkpoint's channels are read by name, so the CSV may hold others.\n"
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
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    int exit_code = AC_EXIT_FAILURE;
    ac_table *t = NULL;
    int end = 0;
    float *window = malloc((size_t)L * C * sizeof(float));
    float *out = malloc((size_t)H * C * sizeof(float));
    char *text = NULL;
    if (!window || !out) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (ac_cli_read_window(ck, a.input, a.at, &t, &end, window) != 0) goto done;
    if (ac_model_forecast(m, window, out, &err) != AC_OK) {
        ac_cli_error("%s: %s", a.input, err.msg);
        goto done;
    }
    text = ac_cli_forecast_csv(ck, t, end, out);
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
    exit_code = AC_EXIT_OK;
done:
    free(text);
    free(window);
    free(out);
    ac_table_free(t);
    ac_model_free(m);
    return exit_code;
}
