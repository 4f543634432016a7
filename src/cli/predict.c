/* predict.c - `attncast predict CHECKPOINT --input CSV [--out FILE] [--at ROW]`: forecasts the H
 * rows after the last L rows of a CSV (or after data row ROW) in original units, as CSV (see
 * window_input.c for the window and the output format). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/embed.h"
#include "attncast/report.h"
#include "cli/cli.h"
#include "cli/window_input.h"

static const char *const USAGE =
    "usage: attncast predict CHECKPOINT --input CSV [--out FILE] [--at ROW]";

/* ---- the verb ---- */

typedef struct predict_args {
    const char *checkpoint, *input, *out;
    int at; /* 0: after the last row */
} predict_args;

static int parse_args(int argc, char **argv, predict_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            puts(USAGE);
            return 1;
        } else if (!strcmp(arg, "--input") || !strcmp(arg, "--out") || !strcmp(arg, "--at")) {
            if (i + 1 >= argc) {
                ac_cli_error("predict: %s needs a value", arg);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--input"))
                a->input = v;
            else if (!strcmp(arg, "--out"))
                a->out = v;
            else if (ac_cli_parse_positive("--at", v, &a->at) != 0)
                return -1;
        } else if (arg[0] == '-') {
            ac_cli_error("predict: unknown option '%s' (%s)", arg, USAGE);
            return -1;
        } else if (a->checkpoint) {
            ac_cli_error("predict: one checkpoint expected, got '%s' and '%s'", a->checkpoint, arg);
            return -1;
        } else {
            a->checkpoint = arg;
        }
    }
    if (!a->checkpoint || !a->input) {
        ac_cli_error("predict: %s", USAGE);
        return -1;
    }
    return 0;
}

int ac_cli_predict(int argc, char **argv) {
    predict_args a;
    int prc = parse_args(argc, argv, &a);
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
