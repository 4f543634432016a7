/* eval.c - `attncast eval CHECKPOINT [--data CSV | --dataset NAME] [--split test|val|train|all]
 * [--id ID] [--per-channel] [--json]`: the saved model and the baselines, scaled with the
 * checkpoint's scaler, on a split of its own data (test by default), on every window of another
 * CSV with the same channels (or on its split, with --split), or on a split of another dataset.
 * The checkpoint's own CSV is found as checkpoint_data.c says. A long-format checkpoint (MODEL.md
 * "Many series") scores every series of the data with its own scaler, pooled and per series (as
 * train's metrics.json has them), or with --id one series alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "app/report.h"
#include "app/source.h"
#include "cli/checkpoint_data.h"
#include "cli/cli.h"

static const char *const USAGE =
    "usage: attncast eval CHECKPOINT [--data CSV | --dataset NAME] [--split test|val|train|all] "
    "[--id ID] [--per-channel] [--json] [--forecasts FILE]";

static const char *const HELP =
    "\n"
    "Scores a saved model on a split of its own data (test by default), another CSV or a\n"
    "dataset, with the checkpoint's own scaler, beside the naive, seasonal-naive and\n"
    "lookback-mean baselines on the same windows. The checkpoint's CSV is looked for as\n"
    "stored, then beside the checkpoint and in each folder above it, then through a dataset\n"
    "card. The prediction intervals of a checkpoint with a calibration (/calibration) or of\n"
    "a quantile model are scored too: coverage, mean width, Winkler score, and the weighted\n"
    "quantile loss beside the seasonal-naive quantile baseline's.\n"
    "\n"
    "A model trained on long-format data (data.format = long) scores each series of the data\n"
    "with the scaler of its id: the pooled metrics, a summary of the series against the naive\n"
    "repeat, and in --json a \"series\" object with each one's metrics, as train's metrics.json.\n"
    "\n"
    "options:\n"
    "  --data CSV       score another CSV holding the checkpoint's channels (by name): every\n"
    "                   window of it, unless --split is given\n"
    "  --dataset NAME   score a split of a dataset, split by its card\n"
    "  --split S        test, val, train or all (every window)\n"
    "  --id ID          a long-format model: score the series ID alone\n"
    "  --per-channel    add one row per channel, RMSE and MAE in the channel's own units,\n"
    "                   and each interval's coverage per channel\n"
    "  --json           print the layout of metrics.json instead of the table\n"
    "  --forecasts FILE write every scored window's forecast to FILE (CSV: origin,\n"
    "                   origin_date, step, date, channel, actual, forecast, then lo80, hi80,\n"
    "                   ... per /calibration level and q0.1, ... per quantile; original units)\n"
    "  --help, -h       this help\n"
    "\n"
    "examples:\n"
    "  attncast eval runs/fx/best.h5\n"
    "  attncast eval runs/fx/best.h5 --split val --json\n"
    "  attncast eval runs/fx/best.h5 --data other.csv --per-channel\n"
    "  attncast eval runs/stores/best.h5 --id store_7\n";

typedef struct eval_args {
    const char *checkpoint, *csv, *dataset, *forecasts, *id;
    ac_split_kind split;
    bool split_given, per_channel, json;
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->split = AC_SPLIT_TEST;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s\n%s", USAGE, HELP);
            return 1;
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
        } else if (!strcmp(arg, "--per-channel")) {
            a->per_channel = true;
        } else if (!strcmp(arg, "--data") || !strcmp(arg, "--dataset") || !strcmp(arg, "--split") ||
                   !strcmp(arg, "--forecasts") || !strcmp(arg, "--id")) {
            if (!has_value) {
                ac_cli_error("eval: %s needs a value", arg);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--data"))
                a->csv = v;
            else if (!strcmp(arg, "--id"))
                a->id = v;
            else if (!strcmp(arg, "--forecasts"))
                a->forecasts = v;
            else if (!strcmp(arg, "--dataset"))
                a->dataset = v;
            else {
                int k = 0;
                while (k <= AC_SPLIT_ALL && strcmp(v, ac_split_kind_name((ac_split_kind)k)) != 0)
                    k++;
                if (k > AC_SPLIT_ALL) {
                    ac_cli_error("eval: --split: expected test, val, train or all, got '%s'", v);
                    return -1;
                }
                a->split = (ac_split_kind)k;
                a->split_given = true;
            }
        } else if (arg[0] == '-') {
            ac_cli_error("eval: unknown option '%s' (%s)", arg, USAGE);
            return -1;
        } else if (a->checkpoint) {
            ac_cli_error("eval: one checkpoint expected, got '%s' and '%s'", a->checkpoint, arg);
            return -1;
        } else {
            a->checkpoint = arg;
        }
    }
    if (!a->checkpoint) {
        ac_cli_error("eval: no checkpoint given (%s)", USAGE);
        return -1;
    }
    if (a->csv && a->dataset) {
        ac_cli_error("eval: give --data or --dataset, not both");
        return -1;
    }
    return 0;
}

/* What --forecasts's visitor needs: the writer, the scaler, the checkpoint's calibration (NULL:
 * none) and room for one window's conformal bounds. */
typedef struct forecasts_out {
    ac_cli_forecasts *w;
    const ac_scaler *scaler;
    const ac_calibration *cal;
    float *bounds; /* [K, 2, H, C] */
    int H, C;
} forecasts_out;

static void add_forecast(void *user, int t, const float *x, const float *y, const float *point,
                         const float *quantiles) {
    (void)x, (void)y;
    forecasts_out *o = user;
    if (o->cal) ac_cli_conformal_bounds(o->cal, point, o->H, o->C, o->bounds);
    ac_cli_forecasts_add(o->w, t, point, o->cal ? o->bounds : NULL, quantiles, o->scaler);
}

/* --forecasts FILE: every window of the split that was scored, as forecasts.csv rows, with the
 * bounds of the checkpoint's /calibration and a quantile model's quantiles. */
static int write_forecasts(const char *path, const ac_checkpoint *ck, ac_series *series,
                           const ac_table *table, ac_split_kind split, int batch_size) {
    const ac_model_spec *spec = ac_forecaster_spec(ck->model);
    const ac_calibration *cal = ck->has_calibration ? &ck->calibration : NULL;
    ac_cli_forecast_columns cols = {.conformal = cal ? cal->count : 0,
                                    .levels = cal ? cal->levels : NULL,
                                    .quantiles = spec->quantile_count,
                                    .quantile_levels = spec->quantiles};
    forecasts_out o = {
        .scaler = &series->scaler, .cal = cal, .H = series->horizon, .C = series->channels};
    if (cal && !(o.bounds = malloc((size_t)2 * cal->count * o.H * o.C * sizeof(float)))) {
        ac_cli_error("%s: out of memory", path);
        return -1;
    }
    o.w = ac_cli_forecasts_open(path, table, series->horizon, &cols);
    if (!o.w) {
        free(o.bounds);
        return -1;
    }
    ac_window_range r = ac_series_windows(series, split);
    ac_error err;
    ac_status st = ac_forecast_windows(ck->model, series, r.first, r.count, 1, batch_size,
                                       add_forecast, &o, &err);
    free(o.bounds);
    if (st != AC_OK) {
        ac_cli_forecasts_close(o.w, false);
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return ac_cli_forecasts_close(o.w, true);
}

/* --forecasts FILE can be written: its folder exists and FILE is not a folder. Checked before
 * the evaluation, so that a typo costs no work. 0, or -1 after printing the error. */
static int check_forecasts_path(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        ac_cli_error("eval: --forecasts %s: a folder; give a file name (such as %s/forecasts.csv)",
                     path, path);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    if (!slash) return 0;
    char folder[4096];
    int len = slash == path ? 1 : (int)(slash - path);
    if (snprintf(folder, sizeof folder, "%.*s", len, path) >= (int)sizeof folder) {
        ac_cli_error("eval: --forecasts: path too long");
        return -1;
    }
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ac_cli_error("eval: --forecasts %s: %s is not a folder%s", path, folder,
                     stat(folder, &st) != 0 ? " (create it first)" : "");
        return -1;
    }
    return 0;
}

/* The --json text of an evaluation: metrics.json's layout (ac_metrics_json); per_series (NULL:
 * none) the panel's series' own results. */
static int print_json(const ac_checkpoint *ck, const ac_cli_checkpoint_input *in,
                      const ac_eval_result *eval, const ac_panel *panel,
                      const ac_eval_result *per_series) {
    const ac_train_state *t = &ck->train;
    long long rows = in->src.table->rows;
    if (panel) {
        rows = 0;
        for (int i = 0; i < panel->count; i++) rows += panel->series[i].rows;
    }
    ac_run_info info = {.data_source = in->src.label,
                        .rows = (int)rows,
                        .channels = in->src.table->targets,
                        .channel_names = in->src.table->names,
                        .parameters = ac_forecaster_weight_count(ck->model),
                        .epochs_run = ck->has_train ? t->epoch : 0,
                        .best_epoch = ck->has_train ? t->best_epoch : 0,
                        .best_val_loss = ck->has_train ? t->best_val_loss : 0.0,
                        .train_seconds = ck->has_train ? t->seconds : 0.0,
                        .threads = ac_threads_get(),
                        .stopped_early = ck->has_train && t->stopped_early,
                        .val_mse = NAN,
                        .val_mae = NAN};
    if (per_series) {
        info.series_count = panel->count;
        info.series_ids = panel->ids;
        info.per_series = per_series;
    }
    char *text = ac_metrics_json(&in->cfg, eval, &info);
    if (!text) {
        ac_cli_error("eval: out of memory");
        return -1;
    }
    puts(text);
    free(text);
    return 0;
}

/* A long-format checkpoint: every series of the panel pooled and each on its own (the
 * summary, or --json's "series"), or --id's series alone, as a wide checkpoint's. */
static int eval_panel(const eval_args *a, const ac_checkpoint *ck, ac_cli_checkpoint_input *in,
                      ac_split_kind split, int season, ac_eval_result *eval) {
    const ac_panel *panel = &in->panel;
    const ac_calibration *cal = ck->has_calibration ? &ck->calibration : NULL;
    int batch = in->cfg.train.batch_size;
    ac_error err;
    if (a->id) {
        const ac_series *s = &panel->series[0];
        if (ac_series_windows(s, split).count < 1) {
            ac_cli_error("eval: --id %s: the series has no %s window (%d rows; data.lookback = "
                         "%d, data.horizon = %d)",
                         a->id, ac_split_kind_name(split), s->rows, s->lookback, s->horizon);
            return -1;
        }
        if (ac_evaluate(ck->model, s, split, season, batch, cal, eval, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            return -1;
        }
        if (a->json) return print_json(ck, in, eval, NULL, NULL);
        printf("%s on %s, series %s\n", a->checkpoint, in->src.label, a->id);
        ac_cli_print_metrics(eval, s);
        ac_cli_print_intervals(eval);
        if (a->per_channel) {
            ac_cli_print_channel_metrics(eval, in->src.table->names);
            ac_cli_print_channel_intervals(eval, in->src.table->names);
        }
        return 0;
    }
    if (ac_panel_windows(panel, split) < 1) {
        ac_cli_error("eval: %s: no series has a %s window", in->src.label,
                     ac_split_kind_name(split));
        return -1;
    }
    ac_eval_result *per_series = calloc((size_t)panel->count, sizeof *per_series);
    if (!per_series) {
        ac_cli_error("eval: out of memory");
        return -1;
    }
    int rc = 0;
    if (ac_evaluate_panel(ck->model, panel, split, season, batch, cal, eval, per_series, &err) !=
        AC_OK) {
        ac_cli_error("%s", err.msg);
        free(per_series);
        return -1;
    }
    if (a->json) {
        rc = print_json(ck, in, eval, panel, per_series);
    } else {
        printf("%s on %s, %d series\n", a->checkpoint, in->src.label, panel->count);
        ac_cli_print_metrics(eval, &panel->series[0]);
        ac_cli_print_series_summary(eval, panel, per_series);
        ac_cli_print_intervals(eval);
        if (a->per_channel) {
            ac_cli_print_channel_metrics(eval, in->src.table->names);
            ac_cli_print_channel_intervals(eval, in->src.table->names);
        }
    }
    for (int i = 0; i < panel->count; i++) ac_eval_result_free(&per_series[i]);
    free(per_series);
    return rc;
}

int ac_cli_eval(int argc, char **argv) {
    eval_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    if (a.forecasts && check_forecasts_path(a.forecasts) != 0) return AC_EXIT_USAGE;
    ac_checkpoint *ck = ac_cli_checkpoint_read(a.checkpoint);
    if (!ck) return AC_EXIT_FAILURE;
    int exit_code = AC_EXIT_FAILURE;
    ac_cli_checkpoint_input in;
    memset(&in, 0, sizeof in);
    ac_eval_result eval = {0};
    ac_cli_data_choice choice = {.checkpoint = a.checkpoint,
                                 .csv = a.csv,
                                 .dataset = a.dataset,
                                 .split_given = a.split_given,
                                 .id = a.id};
    if (a.forecasts && ck->series_count > 0) {
        ac_cli_error("eval: --forecasts of a long-format checkpoint (%d series) is not supported "
                     "yet",
                     ck->series_count);
        exit_code = AC_EXIT_USAGE;
        goto done;
    }
    if (a.id && ac_cli_checkpoint_series(ck, "eval", a.id) < 0) {
        exit_code = AC_EXIT_USAGE;
        goto done;
    }
    if (ac_cli_checkpoint_input_open(ck, "eval", &choice, &in) != 0) goto done;
    ac_error err;
    int season = in.cfg.data.season > 0 ? in.cfg.data.season : in.src.season;
    ac_split_kind split = in.whole ? AC_SPLIT_ALL : a.split;
    if (ck->series_count > 0) {
        if (eval_panel(&a, ck, &in, split, season, &eval) == 0) exit_code = AC_EXIT_OK;
        goto done;
    }
    if (ac_evaluate(ck->model, &in.series, split, season, in.cfg.train.batch_size,
                    ck->has_calibration ? &ck->calibration : NULL, &eval, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    if (a.forecasts && write_forecasts(a.forecasts, ck, &in.series, in.src.table, split,
                                       in.cfg.train.batch_size) != 0)
        goto done;
    if (a.json) {
        if (print_json(ck, &in, &eval, NULL, NULL) != 0) goto done;
    } else {
        printf("%s on %s\n", a.checkpoint, in.src.label);
        ac_cli_print_metrics(&eval, &in.series);
        ac_cli_print_intervals(&eval);
        if (a.per_channel) {
            ac_cli_print_channel_metrics(&eval, in.src.table->names);
            ac_cli_print_channel_intervals(&eval, in.src.table->names);
        }
    }
    exit_code = AC_EXIT_OK;
done:
    ac_eval_result_free(&eval);
    ac_cli_checkpoint_input_close(&in);
    ac_ckpt_free(ck);
    return exit_code;
}
