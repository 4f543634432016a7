/* eval.c - `attncast eval CHECKPOINT [--data CSV | --dataset NAME] [--split test|val|train|all]
 * [--per-channel] [--json]`: the saved model and the baselines, scaled with the checkpoint's
 * scaler, on a split of its own data (test by default), on every window of another CSV with the
 * same channels (or on its split, with --split), or on a split of another dataset.
 *
 * The checkpoint's own CSV is looked for as stored in its config (data.csv, relative to the
 * folder train ran in), then relative to the checkpoint's folder and each folder above it (a run
 * folder is usually runs/<name>/ below that folder), then through the dataset card whose file has
 * the CSV's file name (fetched and checksum-verified). */
#define _XOPEN_SOURCE 700 /* realpath */

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "app/report.h"
#include "app/source.h"
#include "cli/cli.h"

static const char *const USAGE =
    "usage: attncast eval CHECKPOINT [--data CSV | --dataset NAME] [--split test|val|train|all] "
    "[--per-channel] [--json]";

static const char *const HELP =
    "\n"
    "Scores a saved model on a split of its own data (test by default), another CSV or a\n"
    "dataset, with the checkpoint's own scaler, beside the naive, seasonal-naive and\n"
    "lookback-mean baselines on the same windows. The checkpoint's CSV is looked for as\n"
    "stored, then beside the checkpoint and in each folder above it, then through a dataset\n"
    "card.\n"
    "\n"
    "options:\n"
    "  --data CSV       score another CSV holding the checkpoint's channels (by name): every\n"
    "                   window of it, unless --split is given\n"
    "  --dataset NAME   score a split of a dataset, split by its card\n"
    "  --split S        test, val, train or all (every window)\n"
    "  --per-channel    add one row per channel, RMSE and MAE in the channel's own units\n"
    "  --json           print the layout of metrics.json instead of the table\n"
    "  --help, -h       this help\n"
    "\n"
    "examples:\n"
    "  attncast eval runs/fx/best.h5\n"
    "  attncast eval runs/fx/best.h5 --split val --json\n"
    "  attncast eval runs/fx/best.h5 --data other.csv --per-channel\n";

#define MAX_CARDS 256 /* dataset cards searched for the checkpoint's CSV */

typedef struct eval_args {
    const char *checkpoint, *csv, *dataset;
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
        } else if (!strcmp(arg, "--data") || !strcmp(arg, "--dataset") || !strcmp(arg, "--split")) {
            if (!has_value) {
                ac_cli_error("eval: %s needs a value", arg);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--data"))
                a->csv = v;
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

/* ---- finding the checkpoint's own CSV ---- */

static bool readable(const char *path) {
    return access(path, R_OK) == 0;
}

/* The CSV that the dataset card with file name `file` resolves to (fetched and verified), in
 * path; the card's name in card_name. */
static bool through_card(const char *file, char *path, size_t n, char *card_name, size_t cn) {
    char names[MAX_CARDS][64];
    int count = ac_dataset_list(names, MAX_CARDS);
    for (int i = 0; i < count; i++) {
        ac_dataset_card card;
        ac_error err;
        if (ac_dataset_card_load(&card, names[i], &err) != AC_OK || strcmp(card.file, file) != 0)
            continue;
        snprintf(card_name, cn, "%s", card.name);
        if (ac_dataset_fetch(&card, path, n, &err) == AC_OK) return true;
    }
    return false;
}

/* Where the checkpoint's data.csv is: as stored, below the checkpoint's folder or a folder above
 * it, or through a dataset card. 0 and the path in found (how in *how: 0 as stored, 1 below a
 * folder, 2 a card), or -1 with a one-line account of what was tried in why. */
static int locate_csv(const char *stored, const char *checkpoint, char *found, size_t n, int *how,
                      char *why, size_t why_n) {
    *how = 0;
    if (readable(stored) && snprintf(found, n, "%s", stored) < (int)n) return 0;
    char folder[PATH_MAX];
    bool relative = stored[0] != '/';
    if (relative && realpath(checkpoint, folder)) {
        char *slash = strrchr(folder, '/');
        while (slash) { /* the checkpoint's folder, then each one above it */
            *slash = '\0';
            if (snprintf(found, n, "%s/%s", folder, stored) < (int)n && readable(found)) {
                *how = 1;
                return 0;
            }
            slash = strrchr(folder, '/');
        }
    }
    const char *base = strrchr(stored, '/');
    base = base ? base + 1 : stored;
    char card[64] = "";
    if (base[0] && through_card(base, found, n, card, sizeof card)) {
        *how = 2;
        return 0;
    }
    char card_note[400];
    if (card[0])
        snprintf(card_note, sizeof card_note,
                 "dataset card %s names %.200s but its file is not at hand", card, base);
    else
        snprintf(card_note, sizeof card_note, "no dataset card has the file %.200s", base);
    snprintf(why, why_n, "not found as given%s; %s",
             relative ? ", nor below the checkpoint's folder or any folder above it" : "",
             card_note);
    return -1;
}

/* The same file (both exist and resolve to one path). */
static bool same_file(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* The checkpoint's config, pointed at the data to score, always selecting the checkpoint's
 * channels by name (so another CSV may hold more columns, in any order). *whole: score every
 * window of an unsplit file (--data naming another file, no --split). 0, or -1 after printing
 * the error. */
static int data_config(const ac_checkpoint *ck, const eval_args *a, ac_config *cfg, bool *whole) {
    *cfg = ck->config;
    *whole = false;
    char own[AC_CONFIG_TEXT] = ""; /* the checkpoint's own CSV, when found */
    if (cfg->data.csv[0]) {
        char why[512];
        int how = 0;
        if (locate_csv(cfg->data.csv, a->checkpoint, own, sizeof own, &how, why, sizeof why) != 0) {
            own[0] = '\0';
            if (!a->csv && !a->dataset) {
                ac_cli_error("eval: %s was trained on the CSV '%s': %s; give the data with --data "
                             "CSV",
                             a->checkpoint, cfg->data.csv, why);
                return -1;
            }
        } else if (how != 0 && !a->csv && !a->dataset) {
            fprintf(stderr, "attncast: note: data.csv = %s is read from %s (%s)\n", cfg->data.csv,
                    own,
                    how == 1 ? "found from the checkpoint's folder" : "through its dataset card");
        }
    }
    /* the CSV to read: --data, else the checkpoint's own (none with --dataset, or when the
     * checkpoint names a dataset card) */
    const char *csv = a->csv ? a->csv : a->dataset ? NULL : own[0] ? own : NULL;
    bool fits = true;
    if (a->dataset) {
        cfg->data.csv[0] = '\0';
        fits = snprintf(cfg->data.dataset, sizeof cfg->data.dataset, "%s", a->dataset) <
               (int)sizeof cfg->data.dataset;
    }
    if (a->csv || a->dataset) cfg->data.frequency[0] = '\0'; /* other dates: infer theirs */
    if (a->csv) {
        cfg->data.dataset[0] = '\0';
        cfg->data.date_column[0] = '\0';
        *whole = !a->split_given && !(own[0] && same_file(a->csv, own));
    }
    if (csv &&
        snprintf(cfg->data.csv, sizeof cfg->data.csv, "%s", csv) >= (int)sizeof cfg->data.csv)
        fits = false;
    size_t used = 0;
    cfg->data.columns[0] = '\0';
    for (int c = 0; c < ck->channels && fits; c++) {
        int w = snprintf(cfg->data.columns + used, sizeof cfg->data.columns - used, "%s%s",
                         c ? "," : "", ck->channel_names[c]);
        fits = w >= 0 && (size_t)w < sizeof cfg->data.columns - used;
        if (fits) used += (size_t)w;
    }
    if (!fits) {
        ac_cli_error("eval: the data path or channel list is too long");
        return -1;
    }
    return 0;
}

int ac_cli_eval(int argc, char **argv) {
    eval_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_error err;
    ac_checkpoint *ck = NULL;
    if (ac_ckpt_read(&ck, a.checkpoint, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    int exit_code = AC_EXIT_FAILURE;
    ac_config cfg;
    ac_data_source src;
    ac_series series;
    ac_eval_result eval = {0};
    memset(&src, 0, sizeof src);
    memset(&series, 0, sizeof series);
    bool whole = false;
    if (data_config(ck, &a, &cfg, &whole) != 0) goto done;
    if (ac_threads_init(cfg.train.threads, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    if (ac_data_source_open(&src, &cfg, &err) != AC_OK) {
        if (!a.csv && !a.dataset && cfg.data.dataset[0])
            ac_cli_error("%s; or give the data with --data CSV", err.msg);
        else
            ac_cli_error("%s", err.msg);
        goto done;
    }
    char date_note[AC_ERROR_MAX];
    const char *severity;
    if (ac_table_date_note(src.table, date_note, sizeof date_note, &severity))
        fprintf(stderr, "attncast: %s: %s\n", severity, date_note);
    ac_status st =
        whole ? ac_series_build_whole(&series, src.table, cfg.data.lookback, cfg.data.horizon,
                                      &ck->scaler, &err)
              : ac_series_build_with_scaler(&series, src.table, cfg.data.split, cfg.data.lookback,
                                            cfg.data.horizon, &ck->scaler, &err);
    if (st != AC_OK) {
        ac_cli_error("%s: %s", src.label, err.msg);
        goto done;
    }
    int season = cfg.data.season > 0 ? cfg.data.season : src.season;
    ac_split_kind split = whole ? AC_SPLIT_ALL : a.split;
    if (ac_evaluate(ck->model, &series, split, season, cfg.train.batch_size, &eval, &err) !=
        AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    if (a.json) {
        const ac_train_state *t = &ck->train;
        ac_run_info info = {.data_source = src.label,
                            .rows = src.table->rows,
                            .channels = src.table->cols,
                            .channel_names = src.table->names,
                            .parameters = ac_forecaster_weight_count(ck->model),
                            .epochs_run = ck->has_train ? t->epoch : 0,
                            .best_epoch = ck->has_train ? t->best_epoch : 0,
                            .best_val_loss = ck->has_train ? t->best_val_loss : 0.0,
                            .train_seconds = ck->has_train ? t->seconds : 0.0,
                            .threads = ac_threads_get(),
                            .stopped_early = ck->has_train && t->stopped_early,
                            .val_mse = NAN,
                            .val_mae = NAN};
        char *text = ac_metrics_json(&cfg, &eval, &info);
        if (!text) {
            ac_cli_error("eval: out of memory");
            goto done;
        }
        puts(text);
        free(text);
    } else {
        printf("%s on %s\n", a.checkpoint, src.label);
        ac_cli_print_metrics(&eval, &series);
        if (a.per_channel) ac_cli_print_channel_metrics(&eval, src.table->names);
    }
    exit_code = AC_EXIT_OK;
done:
    ac_eval_result_free(&eval);
    ac_series_free(&series);
    ac_data_source_close(&src);
    ac_ckpt_free(ck);
    return exit_code;
}
