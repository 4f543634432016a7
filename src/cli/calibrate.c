/* calibrate.c - `attncast calibrate CHECKPOINT [--data CSV|NAME] [--levels 0.8,0.95]`: the
 * conformal intervals of a saved model (intervals.h) on the validation windows of its own data,
 * another CSV or another dataset, scaled with the checkpoint's scaler, written into the checkpoint
 * as /calibration. Everything else the file holds is kept (ac_ckpt_rewrite), and the file is
 * replaced atomically, only once the calibration has succeeded. A long-format checkpoint is
 * calibrated on the pooled validation windows of every series, each with its own scaler, as
 * train calibrates it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "app/source.h"
#include "cli/checkpoint_data.h"
#include "cli/cli.h"

static const char *const USAGE =
    "usage: attncast calibrate CHECKPOINT [--data CSV|NAME] [--levels 0.8,0.95]";

static const char *const HELP =
    "\n"
    "Calibrates conformal prediction intervals for a saved model: for each level, horizon\n"
    "step and channel, the half-width is the ceil((n+1) level)-th smallest absolute error of\n"
    "the point forecast over the n validation windows (z-scored scale; the largest error when\n"
    "n is too small for the level). The result is written into the checkpoint as\n"
    "/calibration, keeping its weights, optimizer and training state; `attncast info` shows\n"
    "it. `attncast train` already does this for best.h5.\n"
    "\n"
    "options:\n"
    "  --data CSV|NAME  the validation windows of another CSV holding the checkpoint's\n"
    "                   channels (by name), or of a dataset (a card name); default: the\n"
    "                   checkpoint's own data, found as `attncast eval` finds it\n"
    "  --levels LIST    comma-separated levels in (0, 1), strictly increasing, at most 8\n"
    "                   (default: the checkpoint's output.intervals, else 0.8,0.95)\n"
    "  --help, -h       this help\n"
    "\n"
    "examples:\n"
    "  attncast calibrate runs/fx/best.h5\n"
    "  attncast calibrate runs/fx/last.h5 --levels 0.5,0.9,0.99\n"
    "  attncast calibrate model.h5 --data recent.csv\n";

typedef struct calibrate_args {
    const char *checkpoint, *data;
    bool levels_given;
    ac_levels levels;
} calibrate_args;

static int parse_args(int argc, char **argv, calibrate_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s\n%s", USAGE, HELP);
            return 1;
        } else if (!strcmp(arg, "--data") || !strcmp(arg, "--levels")) {
            if (i + 1 >= argc) {
                ac_cli_error("calibrate: %s needs a value (%s)", arg, USAGE);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--data")) {
                a->data = v;
                continue;
            }
            char why[160];
            if (!ac_config_parse_levels(v, AC_INTERVALS_MAX, &a->levels, why, sizeof why)) {
                ac_cli_error("calibrate: --levels: %s (expected levels such as 0.8,0.95)", why);
                return -1;
            }
            if (a->levels.count == 0) {
                ac_cli_error("calibrate: --levels: no level given (expected levels such as "
                             "0.8,0.95)");
                return -1;
            }
            a->levels_given = true;
        } else if (arg[0] == '-') {
            ac_cli_error("calibrate: unknown option '%s' (%s)", arg, USAGE);
            return -1;
        } else if (a->checkpoint) {
            ac_cli_error("calibrate: one checkpoint expected, got '%s' and '%s'", a->checkpoint,
                         arg);
            return -1;
        } else {
            a->checkpoint = arg;
        }
    }
    if (!a->checkpoint) {
        ac_cli_error("calibrate: no checkpoint given (%s)", USAGE);
        return -1;
    }
    return 0;
}

/* --data names a CSV when it is a file, has a folder in it or ends in .csv; else a dataset. */
static bool names_csv(const char *data) {
    size_t len = strlen(data);
    return access(data, F_OK) == 0 || strchr(data, '/') ||
           (len >= 4 && !strcasecmp(data + len - 4, ".csv"));
}

void ac_cli_report_calibration(const ac_calibration *cal, const char *path, bool quiet) {
    if (!quiet) {
        printf("calibrated intervals");
        for (int a = 0; a < cal->count; a++) printf("%s %g", a ? "," : "", cal->levels[a]);
        printf(" on %lld validation windows: %s\n", (long long)cal->windows, path);
        fflush(stdout);
    }
    for (int a = 0; a < cal->count; a++) {
        int64_t need = ac_conformal_min_windows(cal->levels[a]);
        if (cal->windows < need)
            fprintf(stderr,
                    "attncast: note: %lld validation windows are too few for level %g (it "
                    "needs %lld): its half-widths are the largest errors, and the interval may "
                    "cover less than %g%% of outcomes\n",
                    (long long)cal->windows, cal->levels[a], (long long)need,
                    100.0 * cal->levels[a]);
    }
}

int ac_cli_calibrate(int argc, char **argv) {
    calibrate_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_checkpoint *ck = ac_cli_checkpoint_read(a.checkpoint);
    if (!ck) return AC_EXIT_FAILURE;
    int exit_code = AC_EXIT_FAILURE;
    ac_cli_checkpoint_input in;
    memset(&in, 0, sizeof in);
    ac_calibration cal = {0};
    const ac_levels *levels = a.levels_given ? &a.levels : &ck->config.output.intervals;
    if (levels->count == 0) {
        ac_cli_error("calibrate: %s has output.intervals empty (no intervals); give the levels "
                     "with --levels 0.8,0.95",
                     a.checkpoint);
        exit_code = AC_EXIT_USAGE;
        goto done;
    }
    bool csv = a.data && names_csv(a.data);
    ac_cli_data_choice choice = {.checkpoint = a.checkpoint,
                                 .csv = csv ? a.data : NULL,
                                 .dataset = a.data && !csv ? a.data : NULL,
                                 .split_given = true};
    if (ac_cli_checkpoint_input_open(ck, "calibrate", &choice, &in) != 0) goto done;
    ac_error err;
    /* a long-format checkpoint: the pooled validation windows of every series, as train */
    if ((ck->series_count > 0
             ? ac_calibrate_panel(ck->model, &in.panel, AC_SPLIT_VAL, levels->value, levels->count,
                                  in.cfg.train.batch_size, &cal, &err)
             : ac_calibrate(ck->model, &in.series, AC_SPLIT_VAL, levels->value, levels->count,
                            in.cfg.train.batch_size, &cal, &err)) != AC_OK) {
        ac_cli_error("%s: %s", in.src.label, err.msg);
        goto done;
    }
    if (ac_ckpt_rewrite(a.checkpoint, ck, &cal, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    ac_cli_report_calibration(&cal, a.checkpoint, false);
    exit_code = AC_EXIT_OK;
done:
    ac_calibration_free(&cal);
    ac_cli_checkpoint_input_close(&in);
    ac_ckpt_free(ck);
    return exit_code;
}
