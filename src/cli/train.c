/* train.c - `attncast train CONFIG|--csv FILE [--set section.key=value]... [--out DIR]
 * [--resume PATH] [--stop-after N] [--no-test] [--quiet]` (and `--keys [--markdown]`, the key
 * reference): loads and checks the config (or takes every key's default for a CSV), loads the data,
 * trains the forecaster with live progress (checkpointing last.h5 and best.h5 as it goes, or
 * continuing from a checkpoint), calibrates its conformal intervals into best.h5, evaluates it on
 * the test split next to the baselines (with --no-test, the validation split instead: the test
 * split stays hidden, for model selection), says when it does not beat the naive repeat on the
 * validation split, and writes the run folder. Under mpirun (a build with -DATTNCAST_MPI=ON) every
 * rank trains its share of each batch (trainer.h, ac_trainer_set_parallel) and rank 0 alone prints
 * and writes the run folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "core/clock.h"
#include "app/plot.h"
#include "attncast/config.h"
#include "app/interrupt.h"
#include "attncast/parallel.h"
#include "app/report.h"
#include "app/source.h"
#include "attncast/trainer.h"
#include "attncast/windows.h"
#include "cli/cli.h"

#define MAX_SETS 256

static void usage(FILE *out) {
    fputs("usage: attncast train CONFIG [--csv FILE] [--set section.key=value]... [--out DIR]\n"
          "                             [--resume RUN_DIR|CHECKPOINT] [--stop-after N]\n"
          "                             [--no-test] [--quiet]\n"
          "       attncast train --csv FILE [--set section.key=value]... [...]\n"
          "       attncast train --keys [--markdown]\n"
          "\n"
          "Trains the forecaster an INI config describes, then prints its test metrics next to\n"
          "the naive, seasonal-naive and lookback-mean baselines and writes a run folder\n"
          "(output.dir, default runs/<config or CSV name>-<timestamp>): config.ini,\n"
          "history.csv, metrics.json, report.md, test_forecasts.csv, pictures, last.h5 (every\n"
          "output.checkpoint_every epochs) and best.h5 (on every new best; at the end with the\n"
          "conformal intervals of output.intervals, measured on the validation split). A note\n"
          "at the end says when the model does not beat the naive repeat on the validation\n"
          "split, and what usually helps.\n"
          "\n"
          "options:\n"
          "  --csv FILE         train on a CSV file: without CONFIG every key has its default\n"
          "                     and the run is named after FILE; with CONFIG, FILE replaces\n"
          "                     its data.csv or data.dataset\n"
          "  --set sec.key=val  override one config key (repeatable; applied last, checked\n"
          "                     like the file)\n"
          "  --out DIR          the run folder (sets output.dir)\n"
          "  --resume PATH      continue exactly where a checkpoint, or RUN_DIR/last.h5, left\n"
          "                     off (give the same CONFIG, --csv and --set)\n"
          "  --stop-after N     stop after N epochs of this invocation, as if interrupted\n"
          "  --no-test          keep the test split hidden (model selection): print and record\n"
          "                     the validation split's metrics instead, metrics.json has\n"
          "                     \"split\": \"val\" and \"test_hidden\": true, and no\n"
          "                     test_forecasts.csv or forecasts.png is written; score the\n"
          "                     chosen run later with attncast eval RUN_DIR/best.h5\n"
          "  --quiet, -q        no progress lines, only the final table\n"
          "  --keys             print the config keys (as below) and exit; with --markdown,\n"
          "                     as the Markdown table of docs/config.md\n"
          "  --help, -h         this help\n"
          "\n"
          "examples:\n"
          "  attncast train models/default.ini\n"
          "  attncast train models/default.ini --set train.epochs=20 --set model.attention=gated\n"
          "  attncast train --csv sensors.csv --set data.lookback=48 --set data.horizon=24\n"
          "  attncast train models/default.ini --resume runs/default-20261201-220431\n"
          "\n"
          "In an MPI build, `mpirun -np N attncast train ...` splits every batch over N ranks\n"
          "(docs/mpi.md). Exit status: 0 done, 1 bad data or a failed run, 2 a wrong command\n"
          "line or config, 130/143 stopped by SIGINT/SIGTERM after saving last.h5.\n"
          "\n"
          "config keys (section.key, default, meaning [accepted values]; docs/config.md):\n",
          out);
    ac_config_print_keys(out);
}

/* ---- progress ---- */

typedef struct progress {
    bool live; /* stderr is a terminal: one rewritten line */
    bool quiet;
    int epochs;
    double last_draw;
    double epoch_start;
} progress;

static void on_batch(void *user, int epoch, int batch, int batches, double loss, double wps) {
    progress *p = user;
    if (!p->live || p->quiet) return;
    double now = ac_seconds();
    if (batch == 1) p->epoch_start = now;
    if (batch != batches && now - p->last_draw < 0.2) return;
    p->last_draw = now;
    double elapsed = now - p->epoch_start;
    double eta = batch ? elapsed / batch * (batches - batch) : 0.0;
    char bar[21];
    int filled = batches ? 20 * batch / batches : 0;
    for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[Kepoch %3d/%d [%s] %5d/%d  loss %.4f  %6.0f win/s  ETA %d:%02d", epoch,
            p->epochs, bar, batch, batches, loss, wps, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

static void on_epoch(void *user, const ac_epoch_record *r, bool improved) {
    progress *p = user;
    if (p->quiet) return;
    if (p->live) fputs("\r\033[K", stderr);
    printf("epoch %3d/%d  train %.4f  val %.4f%s  lr %.2e  %6.1f s  %6.0f win/s\n", r->epoch,
           p->epochs, r->train_loss, r->val_loss, improved ? " *" : "  ", r->lr, r->seconds,
           r->windows_per_s);
    fflush(stdout);
}

/* ---- the verb ---- */

/* " per rank, N MPI ranks" for the opening line of a data-parallel run, else "". */
static const char *ranks_note(const ac_parallel *group, char *note, size_t n) {
    int size = ac_parallel_size(group);
    if (size > 1)
        snprintf(note, n, " per rank, %d MPI ranks", size);
    else if (n > 0)
        note[0] = '\0';
    return note;
}

typedef struct train_args {
    const char *config; /* NULL: every key's default (with csv) */
    const char *csv;    /* --csv FILE, or NULL */
    const char *sets[MAX_SETS];
    int n_sets;
    const char *out;
    const char *resume;
    int stop_after; /* 0: run to the end */
    bool quiet;
    bool no_test;  /* --no-test: the validation split in place of the test split */
    bool keys;     /* --keys: print the key reference and exit */
    bool markdown; /* --markdown: that reference as docs/config.md's table */
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return -2;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->quiet = true;
        } else if (!strcmp(arg, "--no-test")) {
            a->no_test = true;
        } else if (!strcmp(arg, "--keys")) {
            a->keys = true;
        } else if (!strcmp(arg, "--markdown")) {
            a->markdown = true;
        } else if (!strcmp(arg, "--set") || !strcmp(arg, "--out") || !strcmp(arg, "--resume") ||
                   !strcmp(arg, "--stop-after") || !strcmp(arg, "--csv")) {
            if (i + 1 >= argc) {
                ac_cli_error("train: %s needs a value (see attncast train --help)", arg);
                return -1;
            }
            if (!strcmp(arg, "--out")) {
                a->out = argv[++i];
            } else if (!strcmp(arg, "--csv")) {
                a->csv = argv[++i];
            } else if (!strcmp(arg, "--resume")) {
                a->resume = argv[++i];
            } else if (!strcmp(arg, "--stop-after")) {
                if (ac_cli_parse_positive(arg, argv[++i], &a->stop_after) != 0) return -1;
            } else if (a->n_sets == MAX_SETS) {
                ac_cli_error("train: more than %d --set options", MAX_SETS);
                return -1;
            } else
                a->sets[a->n_sets++] = argv[++i];
        } else if (!strncmp(arg, "--set=", 6)) {
            if (a->n_sets < MAX_SETS) a->sets[a->n_sets++] = arg + 6;
        } else if (ac_cli_config_argument("train", arg, &a->config) != 0) {
            return -1;
        }
    }
    if (a->markdown && !a->keys) {
        ac_cli_error("train: --markdown goes with --keys (attncast train --keys --markdown)");
        return -1;
    }
    if (a->keys) {
        if (a->markdown)
            ac_config_print_keys_markdown(stdout);
        else
            ac_config_print_keys(stdout);
        return -2;
    }
    if (!a->config && !a->csv) {
        ac_cli_error("train: no config file given (usage: attncast train CONFIG, or attncast "
                     "train --csv FILE for every key's default; try models/default.ini)");
        return -1;
    }
    return 0;
}

/* --csv FILE: data.csv = FILE in place of the config's data.csv or data.dataset; without a
 * config file, the run is named after FILE's base name (without .csv). */
static int use_csv(const char *csv, bool named_by_csv, ac_config *cfg) {
    char assignment[AC_CONFIG_TEXT + 16];
    ac_error err;
    if (snprintf(assignment, sizeof assignment, "data.csv=%s", csv) >= (int)sizeof assignment) {
        ac_cli_error("--csv: path too long (at most %d characters)", AC_CONFIG_TEXT - 1);
        return -1;
    }
    if (ac_config_set(cfg, assignment, &err) != AC_OK) {
        /* the message begins "--set data.csv=FILE: "; the user wrote --csv FILE */
        const char *why = strstr(err.msg, ": data.csv: ");
        ac_cli_error("--csv %s: %s", csv, why ? why + 2 : err.msg);
        return -1;
    }
    memset(cfg->data.dataset, 0, sizeof cfg->data.dataset);
    if (named_by_csv) {
        const char *base = strrchr(csv, '/');
        base = base ? base + 1 : csv;
        size_t len = strlen(base);
        if (len > 4 && !strcmp(base + len - 4, ".csv")) len -= 4;
        if (len >= sizeof cfg->name) len = sizeof cfg->name - 1;
        memcpy(cfg->name, base, len);
        cfg->name[len] = '\0';
    }
    return 0;
}

static int load_config(const train_args *a, ac_config *cfg, const ac_parallel *group) {
    ac_error err;
    if (!a->config)
        ac_config_defaults(cfg);
    else if (ac_config_load(cfg, a->config, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    if (a->csv && use_csv(a->csv, !a->config, cfg) != 0) return -1;
    for (int i = 0; i < a->n_sets; i++)
        if (ac_config_set(cfg, a->sets[i], &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            return -1;
        }
    if (a->out && snprintf(cfg->output.dir, sizeof cfg->output.dir, "%s", a->out) >=
                      (int)sizeof cfg->output.dir) {
        ac_cli_error("--out: path too long");
        return -1;
    }
    if (ac_config_check(cfg, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    if (ac_threads_init(cfg->train.threads, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    /* ranks on one machine share its cores unless train.threads says otherwise */
    int local = ac_parallel_local_size(group), share = ac_threads_get() / local;
    if (cfg->train.threads == 0 && local > 1) ac_threads_init(share > 0 ? share : 1, &err);
    return 0;
}

/* The command that continues this run: the same config, --csv, --set and --no-test options,
 * --resume dir. */
static void resume_command(const train_args *a, const char *dir, char *out, size_t n) {
    snprintf(out, n, "attncast train");
    if (a->config) ac_cli_append_shell_word(out, n, a->config);
    if (a->csv) {
        ac_cli_append_shell_word(out, n, "--csv");
        ac_cli_append_shell_word(out, n, a->csv);
    }
    for (int i = 0; i < a->n_sets; i++) {
        ac_cli_append_shell_word(out, n, "--set");
        ac_cli_append_shell_word(out, n, a->sets[i]);
    }
    if (a->no_test) ac_cli_append_shell_word(out, n, "--no-test");
    ac_cli_append_shell_word(out, n, "--resume");
    ac_cli_append_shell_word(out, n, dir);
}

/* Writes config.ini, history.csv and metrics.json; returns 0 or prints the error. */
static int write_run(const char *dir, const ac_config *cfg, ac_trainer *tr,
                     const ac_eval_result *eval, const ac_run_info *info) {
    ac_error err;
    char path[AC_CONFIG_TEXT + 32];
    int n = 0;
    const ac_epoch_record *hist = ac_trainer_history(tr, &n);
    char *texts[3] = {ac_config_to_ini(cfg), ac_history_csv(hist, n),
                      ac_metrics_json(cfg, eval, info)};
    const char *files[3] = {"config.ini", "history.csv", "metrics.json"};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (!texts[i]) {
            ac_cli_error("%s: out of memory", path);
            rc = -1;
        } else if (ac_write_file_atomic(path, texts[i], strlen(texts[i]), &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            rc = -1;
        }
    }
    for (int i = 0; i < 3; i++) free(texts[i]);
    return rc;
}

/* What a run trains on: the panel of its series (one for a wide table), the table of the first
 * (names, dates) and, in long format, every series' scaler side by side as a checkpoint stores
 * them. */
typedef struct run_data {
    ac_panel panel;
    const ac_table *table;
    ac_scaler *scalers; /* [panel.count] views of the series' scalers; NULL for a wide table */
} run_data;

/* A checkpoint's contents without optimizer and training state. */
static ac_ckpt_contents run_contents(const ac_config *cfg, const ac_forecaster *model,
                                     const run_data *data) {
    return (ac_ckpt_contents){.config = cfg,
                              .model = model,
                              .scaler = &data->panel.series[0].scaler,
                              .channel_names = data->table->names,
                              .series_count = data->scalers ? data->panel.count : 0,
                              .series_scalers = data->scalers,
                              .series_ids = data->scalers ? data->panel.ids : NULL};
}

/* The checkpoint this run (or the one it resumed) wrote last, named when training fails. */
typedef struct saved_checkpoint {
    char path[AC_CONFIG_TEXT + 32];
    int epoch; /* -1: none */
} saved_checkpoint;

/* Writes DIR/NAME (last.h5 or best.h5) with the model, optimizer and trainer state, and notes it
 * in *saved (when not NULL). */
static int write_checkpoint(const char *dir, const char *name, const ac_config *cfg,
                            ac_forecaster *model, ac_trainer *tr, const run_data *data,
                            saved_checkpoint *saved) {
    ac_train_state st;
    ac_trainer_get_state(tr, &st);
    ac_ckpt_contents c = run_contents(cfg, model, data);
    c.optimizer = ac_trainer_optimizer(tr);
    c.lr = st.lr;
    c.train = &st;
    char path[AC_CONFIG_TEXT + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ac_error err;
    if (ac_ckpt_write(path, &c, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    if (saved) {
        memcpy(saved->path, path, sizeof saved->path);
        saved->epoch = st.epoch;
    }
    return 0;
}

/* A SIGINT or SIGTERM arrived: the trainer stands at an epoch's end (an epoch in progress was
 * abandoned), so last.h5 is written from there; says where it is and how to resume. Returns the
 * exit code, 128 + the signal. */
static int stop_for_signal(const char *dir, const ac_config *cfg, ac_forecaster *model,
                           ac_trainer *tr, const run_data *data, const char *resume_cmd) {
    int sig = ac_interrupt_signal(), epoch = 0;
    ac_trainer_history(tr, &epoch);
    if (write_checkpoint(dir, "last.h5", cfg, model, tr, data, NULL) != 0) return AC_EXIT_FAILURE;
    ac_cli_error("stopped by %s after epoch %d of %d; saved %s/last.h5; resume with: %s",
                 ac_interrupt_signal_name(sig), epoch, cfg->train.epochs, dir, resume_cmd);
    return 128 + sig;
}

/* The conformal intervals of output.intervals on the validation windows, with the best weights
 * (now the model's), into best.h5: the file written at the best epoch is read and rewritten
 * whole with /calibration (its optimizer and training state stay those of the best epoch); when
 * this run folder has none (a resume into another folder), it is written from the trainer as at
 * the end. last.h5 keeps the final weights and gets no calibration. */
static int calibrate_best(const char *dir, const ac_config *cfg, ac_forecaster *model,
                          ac_trainer *tr, const run_data *data, bool quiet, ac_calibration *kept) {
    const ac_levels *levels = &cfg->output.intervals;
    if (levels->count == 0) return 0;
    ac_error err;
    ac_calibration cal;
    if (ac_calibrate_panel(model, &data->panel, AC_SPLIT_VAL, levels->value, levels->count,
                           cfg->train.batch_size, &cal, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    char path[AC_CONFIG_TEXT + 32];
    snprintf(path, sizeof path, "%s/best.h5", dir);
    ac_checkpoint *ck = NULL;
    ac_status st;
    if (access(path, F_OK) == 0) {
        st = ac_ckpt_read(&ck, path, &err);
        if (st == AC_OK) st = ac_ckpt_rewrite(path, ck, &cal, &err);
    } else {
        ac_train_state ts;
        ac_trainer_get_state(tr, &ts);
        ac_ckpt_contents c = run_contents(cfg, model, data);
        c.optimizer = ac_trainer_optimizer(tr);
        c.lr = ts.lr;
        c.train = &ts;
        c.calibration = &cal;
        st = ac_ckpt_write(path, &c, &err);
    }
    if (st != AC_OK)
        ac_cli_error("%s", err.msg);
    else
        ac_cli_report_calibration(&cal, path, quiet);
    ac_ckpt_free(ck);
    if (st == AC_OK) { /* the caller scores the test split with it */
        *kept = cal;
        return 0;
    }
    ac_calibration_free(&cal);
    return -1;
}

#define MAX_PLOT_CHANNELS 8

/* The channels output.plot_channels names (at most MAX_PLOT_CHANNELS), or the last channel: the
 * targets only (a table whose role fields are all 0, built by hand, has every column a target).
 * Returns how many, or -1 after printing an error naming the unknown channel. */
static int plot_channels(const ac_config *cfg, const ac_table *t, int *out) {
    int targets = t->targets > 0 ? t->targets : t->cols;
    if (!cfg->output.plot_channels[0]) {
        out[0] = targets - 1;
        return 1;
    }
    char list[AC_CONFIG_TEXT];
    memcpy(list, cfg->output.plot_channels, sizeof list);
    int n = 0;
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ') name++;
        size_t len = strlen(name);
        while (len && name[len - 1] == ' ') name[--len] = '\0';
        int c = 0;
        while (c < targets && strcmp(t->names[c], name) != 0) c++;
        if (c == targets) {
            ac_cli_error("output.plot_channels: '%s' is not a target channel of %s", name,
                         t->source);
            return -1;
        }
        if (n == MAX_PLOT_CHANNELS) {
            ac_cli_error("output.plot_channels: at most %d channels", MAX_PLOT_CHANNELS);
            return -1;
        }
        out[n++] = c;
    }
    return n;
}

/* The forecast of each test window write_test_forecasts shows, as ac_forecast_windows hands it
 * over (scaled values): the point [H, C] and, for a quantile model, the sorted quantiles
 * [H, C, Q]. */
typedef struct test_forecast {
    size_t cells; /* H x C */
    int Q;
    float *point, *quantiles;
} test_forecast;

static void keep_test_forecast(void *user, int t, const float *x, const float *y,
                               const float *point, const float *quantiles) {
    (void)t, (void)x, (void)y;
    test_forecast *f = user;
    memcpy(f->point, point, f->cells * sizeof(float));
    if (quantiles) memcpy(f->quantiles, quantiles, f->cells * (size_t)f->Q * sizeof(float));
}

/* test_forecasts.csv: the first, middle and last test windows of the plotted channels,
 * lookback and horizon, actual and forecast in original units, then (blank in the lookback) the
 * bounds of each conformal interval of cal, best.h5's calibration (NULL: none; lo80,hi80,...:
 * what predict of best.h5 gives) and each quantile level of a quantile model (q0.1,q0.5,...). */
static int write_test_forecasts(const char *dir, ac_forecaster *model, const ac_series *s,
                                const ac_table *table, const int *channels, int n_channels,
                                const ac_calibration *cal) {
    ac_window_range r = ac_series_windows(s, AC_SPLIT_TEST);
    int L = s->lookback, H = s->horizon, C = s->channels;
    const ac_model_spec *spec = ac_forecaster_spec(model);
    int Q = spec->quantile_count;
    int ts[3] = {r.first, r.first + r.count / 2, r.first + r.count - 1};
    ac_error err;
    char path[AC_CONFIG_TEXT + 32];
    ac_interval_def defs[AC_INTERVALS_CAP];
    int n_defs = ac_interval_defs(spec, cal, defs, AC_INTERVALS_CAP), K = 0;
    while (K < n_defs && defs[K].method == AC_INTERVAL_CONFORMAL) K++;
    size_t cells = (size_t)H * C;
    float *point = malloc(3 * cells * sizeof(float));
    float *quantiles = malloc((3 * cells * (size_t)Q + 1) * sizeof(float));
    float *lo = malloc(((size_t)K * 3 * cells + 1) * sizeof(float));
    float *hi = malloc(((size_t)K * 3 * cells + 1) * sizeof(float));
    int rc = point && quantiles && lo && hi ? 0 : -1;
    if (rc) ac_cli_error("test_forecasts.csv: out of memory");
    for (int w = 0; w < 3 && rc == 0; w++) {
        test_forecast f = {cells, Q, point + w * cells, quantiles + w * cells * Q};
        if (ac_forecast_windows(model, s, ts[w], 1, 1, 1, keep_test_forecast, &f, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            rc = -1;
        }
        for (int k = 0; k < K && rc == 0; k++)
            ac_interval_bounds(&defs[k], cal, f.point, f.quantiles, H, C, Q,
                               lo + ((size_t)k * 3 + w) * cells, hi + ((size_t)k * 3 + w) * cells);
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = rc == 0 ? open_memstream(&text, &size) : NULL;
    if (rc == 0 && !out) {
        ac_cli_error("test_forecasts.csv: out of memory");
        rc = -1;
    }
    if (out) {
        fprintf(out, "window,step,date,channel,actual,forecast");
        ac_cli_bound_header(out, "",
                            &(ac_cli_forecast_columns){.conformal = K,
                                                       .levels = cal ? cal->levels : NULL,
                                                       .quantiles = Q,
                                                       .quantile_levels = spec->quantiles});
        fprintf(out, "\n");
        for (int w = 0; w < 3; w++)
            for (int j = 0; j < n_channels; j++)
                for (int k = -L + 1, c = channels[j]; k <= H; k++) {
                    int row = ts[w] + k - 1;
                    fprintf(
                        out, "%d,%d,%s,%s,%.9g,", w, k, table->dates ? table->dates[row] : "",
                        table->names[c],
                        ac_scaler_unscale(&s->scaler, c, s->scaled[(size_t)row * s->columns + c]));
                    if (k < 1) { /* the lookback: no forecast, no bounds */
                        for (int b = 0; b < 2 * K + Q; b++) fputc(',', out);
                        fputc('\n', out);
                        continue;
                    }
                    size_t cell = (size_t)w * cells + (size_t)(k - 1) * C + c;
                    fprintf(out, "%.9g", ac_scaler_unscale(&s->scaler, c, point[cell]));
                    for (int b = 0; b < K; b++) {
                        size_t at = (size_t)b * 3 * cells + cell;
                        fprintf(out, ",%.9g,%.9g", ac_scaler_unscale(&s->scaler, c, lo[at]),
                                ac_scaler_unscale(&s->scaler, c, hi[at]));
                    }
                    for (int q = 0; q < Q; q++)
                        fprintf(out, ",%.9g",
                                ac_scaler_unscale(&s->scaler, c, quantiles[cell * Q + q]));
                    fputc('\n', out);
                }
        if (fclose(out) != 0 || !text) {
            ac_cli_error("test_forecasts.csv: out of memory");
            rc = -1;
        }
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/test_forecasts.csv", dir);
        rc = ac_write_file_atomic(path, text, strlen(text), &err) == AC_OK ? 0 : -1;
        if (rc) ac_cli_error("%s", err.msg);
    }
    free(text);
    free(point);
    free(quantiles);
    free(lo);
    free(hi);
    return rc;
}

static const char *bool_name(bool value) {
    return value ? "true" : "false";
}

/* The first architecture setting that differs, as "key: <checkpoint's> in the checkpoint,
 * <config's> in the config", values in the config's own words. */
static bool spec_differs(const ac_model_spec *a, const ac_model_spec *b, char *what, size_t n) {
#define CMP(field, key)                                                                            \
    if (a->field != b->field) {                                                                    \
        snprintf(what, n, "%s: %g in the checkpoint, %g in the config", key, (double)a->field,     \
                 (double)b->field);                                                                \
        return true;                                                                               \
    }
/* keys whose values are words in the config are named by those words */
#define CMP_NAMED(field, key, name_of)                                                             \
    if (a->field != b->field) {                                                                    \
        snprintf(what, n, "%s: %s in the checkpoint, %s in the config", key, name_of(a->field),    \
                 name_of(b->field));                                                               \
        return true;                                                                               \
    }
    CMP(lookback, "data.lookback")
    CMP(horizon, "data.horizon")
    CMP(channels, "the channel count")
    CMP_NAMED(channel_mode, "model.channels", ac_channel_mode_name)
    CMP(patch_len, "model.patch_len")
    CMP(patch_stride, "model.patch_stride")
    CMP(d_model, "model.d_model")
    CMP(heads, "model.heads")
    CMP(layers, "model.layers")
    CMP(d_ff, "model.d_ff")
    CMP_NAMED(attention, "model.attention", ac_attention_kind_name)
    CMP_NAMED(revin, "model.revin", bool_name)
    CMP_NAMED(anchor, "model.anchor", ac_norm_anchor_name)
    CMP_NAMED(causal, "model.causal", bool_name)
    CMP(quantile_count, "the count of model.quantiles")
    for (int j = 0; j < a->quantile_count; j++) CMP(quantiles[j], "model.quantiles")
#undef CMP
#undef CMP_NAMED
    return false;
}

/* Loads the checkpoint at path (a file, or a run folder's last.h5) into model, optimizer and
 * trainer; dir receives the checkpoint's folder. */
static int resume_from(const char *path, const ac_model_spec *spec, ac_forecaster *model,
                       ac_trainer *tr, char *dir, size_t dir_size) {
    char file[AC_CONFIG_TEXT + 16];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(file, sizeof file, "%s/last.h5", path);
    else
        snprintf(file, sizeof file, "%s", path);
    ac_error err;
    ac_checkpoint *ck = NULL;
    if (ac_ckpt_read(&ck, file, &err) != AC_OK) {
        ac_cli_error("--resume: %s", err.msg);
        return -1;
    }
    int rc = -1;
    char what[160];
    ac_model_spec stored = ac_config_model_spec(&ck->config, ck->channels);
    if (spec_differs(&stored, spec, what, sizeof what)) {
        ac_cli_error("--resume: %s was trained with another architecture (%s)", file, what);
    } else if (!ck->has_optimizer || !ck->has_train) {
        ac_cli_error("--resume: %s holds no training state (a model-only checkpoint)", file);
    } else {
        ac_tensor *const *to = ac_forecaster_params(model);
        ac_tensor *const *from = ac_forecaster_params(ck->model);
        for (int i = 0; i < ac_forecaster_param_count(model); i++)
            memcpy(to[i]->data, from[i]->data, (size_t)to[i]->size * sizeof(float));
        if (ac_ckpt_restore_optimizer(ck, ac_trainer_optimizer(tr), &err) != AC_OK ||
            ac_trainer_set_state(tr, &ck->train, &err) != AC_OK)
            ac_cli_error("--resume: %s: %s", file, err.msg);
        else
            rc = 0;
    }
    if (rc == 0) {
        char *slash = strrchr(file, '/');
        if (slash) *slash = '\0';
        const char *folder = slash ? file : ".";
        size_t len = strlen(folder);
        if (len >= dir_size) len = dir_size - 1;
        memcpy(dir, folder, len);
        dir[len] = '\0';
        printf("resuming from %s/%s at epoch %d (step %lld)\n", dir, slash ? slash + 1 : file,
               ck->train.epoch, (long long)ck->train.step);
    }
    ac_ckpt_free(ck);
    return rc;
}

static int train(train_args args, ac_parallel *group);

int ac_cli_train(int argc, char **argv) {
    train_args args;
    int prc = parse_args(argc, argv, &args);
    if (prc == -2) return AC_EXIT_OK;
    if (prc != 0) return AC_EXIT_USAGE;
    ac_parallel *group = NULL;
    ac_error err;
    if (ac_parallel_start(&group, &argc, &argv, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    if (ac_parallel_rank(group) != 0) { /* rank 0 speaks for the job; errors still show */
        args.quiet = true;
        FILE *sink = freopen("/dev/null", "w", stdout);
        (void)sink; /* if that fails, --quiet alone keeps the rank almost silent */
    }
    int exit_code = train(args, group);
    if (exit_code != AC_EXIT_OK)
        ac_parallel_abort(group, exit_code); /* others may be waiting */
    else
        ac_parallel_stop(group);
    return exit_code;
}

/* The verb on this rank; lead: rank 0, which alone writes the run folder. */
static int train(train_args args, ac_parallel *group) {
    bool lead = ac_parallel_rank(group) == 0;
    ac_config cfg;
    if (load_config(&args, &cfg, group) != 0) return AC_EXIT_USAGE;

    ac_error err;
    ac_data_source src;
    if (ac_data_source_open(&src, &cfg, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        ac_data_source_close(&src);
        return src.config_error ? AC_EXIT_USAGE : AC_EXIT_FAILURE;
    }
    const ac_table *table = src.table;
    /* The resolved config records what this run really used, card defaults included. */
    memcpy(cfg.data.split, src.split, sizeof cfg.data.split);
    cfg.data.split_set = true;
    memcpy(cfg.data.split_rows, src.split_rows, sizeof cfg.data.split_rows);
    cfg.data.season = src.season;
    if (ac_freq_known(table->freq)) ac_freq_name(table->freq, cfg.data.frequency);
    run_data data = {.table = table};
    if (ac_panel_build(&data.panel, src.tables, src.ids, src.series, src.split, cfg.data.lookback,
                       cfg.data.horizon, NULL, &err) != AC_OK) {
        char fit[160];
        if (!src.ids && ac_config_suggest_lengths(&cfg, table->rows, src.split, fit, sizeof fit))
            ac_cli_error("%s: %s; try %s", src.label, err.msg, fit);
        else
            ac_cli_error("%s: %s", src.label, err.msg);
        ac_data_source_close(&src);
        return err.code == AC_ERR_INVALID ? AC_EXIT_USAGE : AC_EXIT_FAILURE;
    }
    const ac_series *series = &data.panel.series[0];
    long long total_rows = 0;
    int constant = 0;
    for (int i = 0; i < data.panel.count; i++) {
        total_rows += data.panel.series[i].rows;
        constant += data.panel.series[i].scaler.constant_channels;
    }
    if (src.ids) {
        data.scalers = malloc((size_t)data.panel.count * sizeof *data.scalers);
        if (!data.scalers) {
            ac_cli_error("%s: out of memory", src.label);
            ac_panel_free(&data.panel);
            ac_data_source_close(&src);
            return AC_EXIT_FAILURE;
        }
        for (int i = 0; i < data.panel.count; i++) data.scalers[i] = data.panel.series[i].scaler;
    }
    if (lead && constant)
        fprintf(stderr,
                "attncast: warning: %d channel(s)%s are constant over the training rows; "
                "their std is set to 1\n",
                constant, src.ids ? " of the series" : "");
    if (lead && src.season > cfg.data.lookback)
        fprintf(stderr,
                "attncast: note: the season (%d) is longer than data.lookback (%d), so "
                "seasonal_naive repeats the last value\n",
                src.season, cfg.data.lookback);
    char date_note[AC_ERROR_MAX];
    const char *severity;
    if (lead && ac_table_date_note(table, date_note, sizeof date_note, &severity))
        fprintf(stderr, "attncast: %s: %s\n", severity, date_note);
    if (lead && (table->missing_filled || table->rows_dropped))
        fprintf(stderr, "attncast: note: data.missing = %s filled %d cell(s), dropped %d row(s)\n",
                ac_missing_policy_name(cfg.data.missing), table->missing_filled,
                table->rows_dropped);

    int exit_code = AC_EXIT_FAILURE;
    int plotted[MAX_PLOT_CHANNELS];
    int n_plotted = plot_channels(&cfg, table, plotted);
    if (n_plotted < 0) {
        free(data.scalers);
        ac_panel_free(&data.panel);
        ac_data_source_close(&src);
        return AC_EXIT_USAGE;
    }
    ac_model_spec spec = ac_config_model_spec(&cfg, table->targets);
    ac_forecaster *model = NULL;
    ac_trainer *tr = NULL;
    ac_eval_result *per_series = NULL; /* long format: each series' test metrics */
    ac_cli_model_and_panel_trainer(&cfg, &data.panel, &model, &tr, &err);
    char dir[AC_CONFIG_TEXT] = "";
    int lock_fd = -1; /* the run folder's lock, held until the run ends */
    ac_eval_result eval = {0}, val = {0};
    ac_calibration cal = {0}; /* best.h5's, when output.intervals asks for one */
    if (!model || !tr || ac_trainer_set_parallel(tr, group, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        exit_code = err.code == AC_ERR_INVALID ? AC_EXIT_USAGE : AC_EXIT_FAILURE;
        goto done;
    }
    if (args.resume) {
        char ckpt_dir[AC_CONFIG_TEXT];
        if (resume_from(args.resume, &spec, model, tr, ckpt_dir, sizeof ckpt_dir) != 0) goto done;
        if (!cfg.output.dir[0]) memcpy(cfg.output.dir, ckpt_dir, sizeof cfg.output.dir);
    }
    if (lead && (ac_run_dir_create(&cfg, dir, sizeof dir, &err) != AC_OK ||
                 ac_run_dir_lock(dir, &lock_fd, &err) != AC_OK)) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    /* SIGINT/SIGTERM from here on: stop after the step in progress, save last.h5 and say how to
     * resume (the run folder line below is printed once this holds). Ranks of an MPI job could
     * see a signal at different steps, so there signals keep their default action (mpirun ends
     * the job; resume from the last checkpoint). */
    bool catch_signals = ac_parallel_size(group) <= 1;
    if (catch_signals) ac_interrupt_catch();
    char note[48], shape[160];
    if (src.ids)
        snprintf(shape, sizeof shape, "%d series, %lld rows x %d channels", data.panel.count,
                 total_rows, table->targets);
    else if (src.rows_unused > 0) /* a row split: the rows after its borders are not read */
        snprintf(shape, sizeof shape,
                 "%d rows (split %d/%d/%d, %d later rows unused) x %d channels", table->rows,
                 src.split_rows[0], src.split_rows[1], src.split_rows[2], src.rows_unused,
                 table->targets);
    else
        snprintf(shape, sizeof shape, "%d rows x %d channels", table->rows, table->targets);
    if (!args.quiet)
        printf("attncast train: %s, %s; L=%d H=%d; %s attention, %s channels; "
               "%lld weights; %lld training windows/epoch; %d thread(s)%s\nrun folder: %s\n",
               src.label, shape, spec.lookback, spec.horizon,
               ac_attention_kind_name(spec.attention), ac_channel_mode_name(spec.channel_mode),
               (long long)ac_forecaster_weight_count(model),
               (long long)ac_trainer_windows_per_epoch(tr), ac_threads_get(),
               ranks_note(group, note, sizeof note), dir);
    fflush(stdout);
    progress prog = {
        .live = isatty(STDERR_FILENO), .quiet = args.quiet, .epochs = cfg.train.epochs};
    ac_trainer_set_observer(tr, &(ac_train_observer){on_batch, on_epoch, &prog});
    if (catch_signals && ac_trainer_set_stop_check(tr, ac_interrupt_signal, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    char resume_cmd[4 * AC_CONFIG_TEXT];
    resume_command(&args, dir, resume_cmd, sizeof resume_cmd);
    saved_checkpoint saved = {.epoch = -1};
    if (args.resume) { /* the file resumed from */
        struct stat rs;
        ac_trainer_history(tr, &saved.epoch);
        snprintf(saved.path, sizeof saved.path,
                 stat(args.resume, &rs) == 0 && S_ISDIR(rs.st_mode) ? "%s/last.h5" : "%s",
                 args.resume);
    }
    bool finished = false;
    for (int ran = 0; !finished; ran++) {
        int every = cfg.output.checkpoint_every;
        if (args.stop_after && ran == args.stop_after) {
            int epoch = 0;
            ac_trainer_history(tr, &epoch);
            if (lead && write_checkpoint(dir, "last.h5", &cfg, model, tr, &data, NULL) != 0)
                goto done;
            if (lead)
                printf("stopped after %d epoch(s) as asked (epoch %d of %d); continue with: %s\n",
                       ran, epoch, cfg.train.epochs, resume_cmd);
            exit_code = AC_EXIT_OK;
            goto done;
        }
        ac_status st =
            ac_interrupt_signal() ? AC_ERR_INTERRUPTED : ac_trainer_epoch(tr, &finished, &err);
        if (st == AC_ERR_INTERRUPTED) {
            if (prog.live) fputs("\r\033[K", stderr);
            exit_code = stop_for_signal(dir, &cfg, model, tr, &data, resume_cmd);
            goto done;
        }
        if (st != AC_OK) {
            if (prog.live) fputs("\r\033[K", stderr);
            if (saved.epoch >= 0)
                ac_cli_error("%s; the last good checkpoint is %s (epoch %d)", err.msg, saved.path,
                             saved.epoch);
            else
                ac_cli_error("%s; no checkpoint was written", err.msg);
            goto done;
        }
        int epoch = 0;
        ac_trainer_history(tr, &epoch);
        if (lead && ac_trainer_best_epoch(tr) == epoch &&
            write_checkpoint(dir, "best.h5", &cfg, model, tr, &data, &saved) != 0)
            goto done;
        if (lead && (finished || (every > 0 && epoch % every == 0)) &&
            write_checkpoint(dir, "last.h5", &cfg, model, tr, &data, &saved) != 0)
            goto done;
    }
    if (ac_interrupt_signal()) { /* training is over; last.h5 holds its final state */
        exit_code = stop_for_signal(dir, &cfg, model, tr, &data, resume_cmd);
        goto done;
    }
    /* From here a signal ends the program at once: last.h5 holds the final state, and resuming
     * from it redoes the evaluation and the report. */
    ac_interrupt_release();
    ac_trainer_restore_best(tr);
    /* best.h5 is written after each best epoch; a run whose best is the untrained model (epoch
     * 0, anchor = last) writes it now */
    if (lead && ac_trainer_best_epoch(tr) == 0 &&
        write_checkpoint(dir, "best.h5", &cfg, model, tr, &data, &saved) != 0)
        goto done;
    if (!lead) { /* rank 0 evaluates and writes the run folder */
        exit_code = AC_EXIT_OK;
        goto done;
    }
    /* the validation split of the best weights: MSE and MAE whatever train.loss is (what sweep
     * ranks by) and the naive repeat's MSE beside it (the note when the model does not beat it);
     * with --no-test the evaluation below scores the validation split and gives them */
    if (!args.no_test && ac_evaluate_panel(model, &data.panel, AC_SPLIT_VAL, src.season,
                                           cfg.train.batch_size, NULL, &val, NULL, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    int epochs_run = 0;
    ac_trainer_history(tr, &epochs_run);
    double secs = ac_trainer_seconds(tr);
    ac_run_info info = {.data_source = src.label,
                        .rows = (int)total_rows,
                        .channels = table->targets,
                        .parameters = ac_forecaster_weight_count(model),
                        .epochs_run = epochs_run,
                        .best_epoch = ac_trainer_best_epoch(tr),
                        .best_val_loss = ac_trainer_best_val_loss(tr),
                        .train_seconds = secs,
                        .windows_per_s =
                            secs > 0 ? (double)ac_trainer_windows_per_epoch(tr) * epochs_run / secs
                                     : 0.0,
                        .threads = ac_threads_get(),
                        .stopped_early = ac_trainer_stopped_early(tr),
                        .channel_names = table->names};
    if (!args.quiet) {
        if (info.stopped_early)
            printf("early stop after epoch %d (no better validation loss for %d epochs)\n",
                   epochs_run, cfg.train.patience);
        if (info.best_epoch == 0)
            printf("no epoch beat the untrained model on validation (val %.4f): kept it, so the "
                   "forecast is the naive repeat\n",
                   info.best_val_loss);
        else if (args.no_test)
            printf("best epoch %d (val %.4f); the validation metrics below use its weights (the "
                   "test split stays hidden: --no-test)\n",
                   info.best_epoch, info.best_val_loss);
        else
            printf("best epoch %d (val %.4f); test metrics use its weights\n", info.best_epoch,
                   info.best_val_loss);
    }
    /* the test split (with --no-test, the validation split again, as eval --split val scores it)
     * with best.h5's calibration, so the metrics carry its intervals' coverage */
    if (calibrate_best(dir, &cfg, model, tr, &data, args.quiet, &cal) != 0) goto done;
    if (src.ids && !(per_series = calloc((size_t)data.panel.count, sizeof *per_series))) {
        ac_cli_error("%s: out of memory", src.label);
        goto done;
    }
    info.test_hidden = args.no_test;
    if (ac_evaluate_panel(model, &data.panel, args.no_test ? AC_SPLIT_VAL : AC_SPLIT_TEST,
                          src.season, cfg.train.batch_size, cal.count > 0 ? &cal : NULL, &eval,
                          per_series, &err) != AC_OK) {
        free(per_series);
        per_series = NULL;
        ac_cli_error("%s", err.msg);
        goto done;
    }
    const ac_eval_result *v = args.no_test ? &eval : &val; /* the validation split's */
    info.val_mse = v->model.mse;
    info.val_mae = v->model.mae;
    info.val_vs_naive.measured = true;
    info.val_vs_naive.naive_mse = v->baseline[AC_BASELINE_NAIVE].mse;
    if (per_series) {
        info.series_count = data.panel.count;
        info.series_ids = data.panel.ids;
        info.per_series = per_series;
    }
    ac_cli_print_metrics(&eval, series);
    if (per_series && !args.quiet) ac_cli_print_series_summary(&eval, &data.panel, per_series);
    ac_cli_print_intervals(&eval);
    /* the test windows' forecasts (and so forecasts.png) only when the test split may be seen */
    if (write_run(dir, &cfg, tr, &eval, &info) != 0 ||
        (!args.no_test && write_test_forecasts(dir, model, series, table, plotted, n_plotted,
                                               cal.count > 0 ? &cal : NULL) != 0))
        goto done;
    if (args.no_test) /* a run resumed into a folder that saw the test split shows none of it */
        for (int i = 0; i < 3; i++) {
            const char *names[] = {"test_forecasts.csv", "forecasts.png", "forecasts.svg"};
            char stale[AC_CONFIG_TEXT + 32];
            snprintf(stale, sizeof stale, "%s/%s", dir, names[i]);
            unlink(stale);
        }
    if (ac_plot_run(dir, &err) != AC_OK) fprintf(stderr, "attncast: note: %s\n", err.msg);
    char *report = ac_run_report_md(&cfg, &eval, &info, dir);
    char report_path[AC_CONFIG_TEXT + 32];
    snprintf(report_path, sizeof report_path, "%s/report.md", dir);
    if (!report || ac_write_file_atomic(report_path, report, strlen(report), &err) != AC_OK) {
        ac_cli_error("%s", report ? err.msg : "report.md: out of memory");
        free(report);
        goto done;
    }
    free(report);
    printf("wrote %s/ config.ini, history.csv, metrics.json, report.md, last.h5, best.h5%s%s\n",
           dir, ac_plot_available() ? ", learning_curves.png" : "",
           ac_plot_available() && !args.no_test ? ", forecasts.png" : "");
    if (args.no_test && !args.quiet)
        printf("the test split stays hidden (--no-test); score this run on it with: attncast eval "
               "%s/best.h5\n",
               dir);
    char verdict[512];
    if (ac_run_val_verdict(&cfg, &info, verdict, sizeof verdict)) {
        fflush(stdout);
        fprintf(stderr, "attncast: note: %s\n", verdict);
    }
    exit_code = AC_EXIT_OK;
done:
    ac_eval_result_free(&eval);
    ac_eval_result_free(&val);
    ac_calibration_free(&cal);
    ac_interrupt_release();
    if (lock_fd >= 0) close(lock_fd);
    ac_trainer_free(tr);
    ac_forecaster_free(model);
    for (int i = 0; per_series && i < data.panel.count; i++) ac_eval_result_free(&per_series[i]);
    free(per_series);
    free(data.scalers);
    ac_panel_free(&data.panel);
    ac_data_source_close(&src);
    return exit_code;
}
