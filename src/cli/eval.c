/* eval.c - `attncast eval CHECKPOINT [--data CSV | --dataset NAME] [--split test|val|train]
 * [--json]`: the saved model and the baselines on a split of its own dataset or of another CSV
 * with the same channels, scaled with the checkpoint's scaler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "cli/cli.h"

static const char *const USAGE =
    "usage: attncast eval CHECKPOINT [--data CSV | --dataset NAME] [--split test|val|train] "
    "[--json]";

typedef struct eval_args {
    const char *checkpoint, *csv, *dataset;
    ac_split_kind split;
    bool json;
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->split = AC_SPLIT_TEST;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            puts(USAGE);
            return 1;
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
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
                while (k < 3 && strcmp(v, ac_split_kind_name((ac_split_kind)k)) != 0) k++;
                if (k == 3) {
                    ac_cli_error("eval: --split: expected test, val or train, got '%s'", v);
                    return -1;
                }
                a->split = (ac_split_kind)k;
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

/* The checkpoint's config, pointed at other data if asked, always selecting the checkpoint's
 * channels by name (so another CSV may hold more columns, in any order). */
static int data_config(const ac_checkpoint *ck, const eval_args *a, ac_config *cfg) {
    *cfg = ck->config;
    if (a->csv || a->dataset) cfg->data.frequency[0] = '\0'; /* other dates: infer theirs */
    if (a->csv) {
        cfg->data.dataset[0] = '\0';
        cfg->data.date_column[0] = '\0';
        if (snprintf(cfg->data.csv, sizeof cfg->data.csv, "%s", a->csv) >=
            (int)sizeof cfg->data.csv)
            return -1;
    } else if (a->dataset) {
        cfg->data.csv[0] = '\0';
        if (snprintf(cfg->data.dataset, sizeof cfg->data.dataset, "%s", a->dataset) >=
            (int)sizeof cfg->data.dataset)
            return -1;
    }
    size_t used = 0;
    for (int c = 0; c < ck->channels; c++) {
        int w = snprintf(cfg->data.columns + used, sizeof cfg->data.columns - used, "%s%s",
                         c ? "," : "", ck->channel_names[c]);
        if (w < 0 || (size_t)w >= sizeof cfg->data.columns - used) return -1;
        used += (size_t)w;
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
    memset(&src, 0, sizeof src);
    memset(&series, 0, sizeof series);
    if (data_config(ck, &a, &cfg) != 0) {
        ac_cli_error("eval: the data path or channel list is too long");
        goto done;
    }
    if (ac_threads_init(cfg.train.threads, &err) != AC_OK ||
        ac_data_source_open(&src, &cfg, &err) != AC_OK ||
        ac_series_build_with_scaler(&series, src.table, cfg.data.split, cfg.data.lookback,
                                    cfg.data.horizon, &ck->scaler, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    char date_note[AC_ERROR_MAX];
    const char *severity;
    if (ac_table_date_note(src.table, date_note, sizeof date_note, &severity))
        fprintf(stderr, "attncast: %s: %s\n", severity, date_note);
    int season = cfg.data.season > 0 ? cfg.data.season : src.season;
    ac_eval_result eval;
    if (ac_evaluate(ck->model, &series, a.split, season, cfg.train.batch_size, &eval, &err) !=
        AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    if (a.json) {
        const ac_train_state *t = &ck->train;
        ac_run_info info = {.data_source = src.label,
                            .rows = src.table->rows,
                            .channels = src.table->cols,
                            .parameters = ac_forecaster_weight_count(ck->model),
                            .epochs_run = ck->has_train ? t->epoch : 0,
                            .best_epoch = ck->has_train ? t->best_epoch : 0,
                            .best_val_loss = ck->has_train ? t->best_val_loss : 0.0,
                            .train_seconds = ck->has_train ? t->seconds : 0.0,
                            .threads = ac_threads_get(),
                            .stopped_early = ck->has_train && t->stopped_early};
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
    }
    exit_code = AC_EXIT_OK;
done:
    ac_series_free(&series);
    ac_data_source_close(&src);
    ac_ckpt_free(ck);
    return exit_code;
}
