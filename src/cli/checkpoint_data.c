/* checkpoint_data.c - reading a saved checkpoint, and the data it is scored or calibrated on (eval,
 * calibrate, backtest): its own, another CSV, or another dataset, always read as the checkpoint's
 * columns by name (its targets and real covariates; the stored config's roles arrange them and
 * compute its calendar columns) and windowed with the checkpoint's scaler.
 *
 * The checkpoint's own CSV is looked for as stored in its config (data.csv, relative to the
 * folder train ran in), then relative to the checkpoint's folder and each folder above it (a run
 * folder is usually runs/<name>/ below that folder), then through the dataset card whose file has
 * the CSV's file name (fetched and checksum-verified). */
#define _XOPEN_SOURCE 700 /* realpath */

#include "cli/checkpoint_data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/dataset.h"
#include "attncast/threads.h"
#include "cli/cli.h"
#include "cli/window_input.h"
#include "core/nearest.h"

#define MAX_CARDS 256 /* dataset cards searched for the checkpoint's CSV */
#define IDS_SHOWN 5   /* ids an unknown --id's message lists */

ac_checkpoint *ac_cli_checkpoint_read(const char *path) {
    ac_checkpoint *ck = NULL;
    ac_error err;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return NULL;
    }
    /* the verbs that read a checkpoint here only forecast with it: pack its weights once */
    ac_forecaster_pack_weights(ck->model);
    return ck;
}

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

int ac_cli_checkpoint_data(const ac_checkpoint *ck, const char *verb, const ac_cli_data_choice *a,
                           ac_config *cfg, bool *whole) {
    *cfg = ck->config;
    *whole = false;
    char own[AC_CONFIG_TEXT] = ""; /* the checkpoint's own CSV, when found */
    if (cfg->data.csv[0]) {
        char why[512];
        int how = 0;
        if (locate_csv(cfg->data.csv, a->checkpoint, own, sizeof own, &how, why, sizeof why) != 0) {
            own[0] = '\0';
            if (!a->csv && !a->dataset) {
                ac_cli_error("%s: %s was trained on the CSV '%s': %s; give the data with --data "
                             "CSV",
                             verb, a->checkpoint, cfg->data.csv, why);
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
    /* a row split's borders belong to the data trained on: a dataset is split by its card (as
     * cli.md says), another CSV by the checkpoint's fractions of its every row */
    if (a->csv || a->dataset) memset(cfg->data.split_rows, 0, sizeof cfg->data.split_rows);
    if (a->dataset) cfg->data.split_set = false;
    if (a->csv) {
        cfg->data.dataset[0] = '\0';
        cfg->data.date_column[0] = '\0';
        *whole = !a->split_given && !(own[0] && same_file(a->csv, own));
    }
    if (csv &&
        snprintf(cfg->data.csv, sizeof cfg->data.csv, "%s", csv) >= (int)sizeof cfg->data.csv)
        fits = false;
    fits = fits && ac_cli_column_list(ck, ck->columns, cfg->data.columns, sizeof cfg->data.columns);
    if (!fits) {
        ac_cli_error("%s: the data path or channel list is too long", verb);
        return -1;
    }
    return 0;
}

/* "s0, s1, s2, ..." : the first IDS_SHOWN of n ids, into buf. */
static const char *id_list(char *const *ids, int n, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && i < IDS_SHOWN && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%.40s", i ? ", " : "", ids[i]);
    if (n > IDS_SHOWN && used < size) snprintf(buf + used, size - used, ", ...");
    return buf;
}

/* The index of id among ids[0..n), or -1. */
static int find_id(char *const *ids, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) return i;
    return -1;
}

int ac_cli_checkpoint_series(const ac_checkpoint *ck, const char *verb, const char *id) {
    if (ck->series_count == 0) {
        ac_cli_error("%s: --id %s: %s was trained on a wide table (one series); --id picks a "
                     "series of a long-format checkpoint (data.format = long)",
                     verb, id, ck->path);
        return -1;
    }
    int k = find_id(ck->series_ids, ck->series_count, id);
    if (k >= 0) return k;
    char list[320];
    const char *near = ac_nearest(id, (const char *const *)ck->series_ids, ck->series_count);
    char hint[128] = "";
    if (near) snprintf(hint, sizeof hint, "; did you mean %.80s?", near);
    ac_cli_error("%s: --id %s: no such series in %s (it has %d ids: %s)%s", verb, id, ck->path,
                 ck->series_count, id_list(ck->series_ids, ck->series_count, list, sizeof list),
                 hint);
    return -1;
}

/* A long-format checkpoint's data as a panel: each series (or choice->id's alone) with the
 * checkpoint's scaler of its id, split as the config says, or whole (in->whole). */
static int open_panel(const ac_checkpoint *ck, const char *verb, const ac_cli_data_choice *choice,
                      ac_cli_checkpoint_input *in) {
    const ac_data_source *src = &in->src;
    const ac_config *cfg = &in->cfg;
    if (!src->ids) {
        ac_cli_error("%s: %s: read as a wide table, but %s was trained on %d series in long "
                     "format",
                     verb, src->label, ck->path, ck->series_count);
        return -1;
    }
    int first = 0, count = src->series;
    if (choice->id) {
        if (ac_cli_checkpoint_series(ck, verb, choice->id) < 0) return -1;
        first = find_id(src->ids, src->series, choice->id);
        if (first < 0) {
            char list[320];
            ac_cli_error("%s: --id %s: %s has no rows of that series (its %d ids: %s)", verb,
                         choice->id, src->label, src->series,
                         id_list(src->ids, src->series, list, sizeof list));
            return -1;
        }
        count = 1;
    }
    ac_scaler *scalers = malloc((size_t)count * sizeof *scalers);
    if (!scalers) {
        ac_cli_error("%s: out of memory", verb);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        const char *id = src->ids[first + i];
        int k = find_id(ck->series_ids, ck->series_count, id);
        if (k < 0) {
            ac_cli_error("%s: %s: series '%s' is not in %s (it has %d series ids): a model of "
                         "long-format data scales each series with its own scaler",
                         verb, src->label, id, ck->path, ck->series_count);
            free(scalers);
            return -1;
        }
        scalers[i] = ck->series_scalers[k];
    }
    char date_note[AC_ERROR_MAX];
    const char *severity;
    /* as train does: the first series' note */
    if (ac_table_date_note(src->tables[first], date_note, sizeof date_note, &severity))
        fprintf(stderr, "attncast: %s: series '%s': %s\n", severity, src->ids[first], date_note);
    ac_error err;
    ac_status st = ac_panel_build(&in->panel, src->tables + first, src->ids + first, count,
                                  in->whole ? NULL : src->split, cfg->data.lookback,
                                  cfg->data.horizon, scalers, &err);
    free(scalers);
    if (st != AC_OK) {
        ac_cli_error("%s: %s", src->label, err.msg);
        return -1;
    }
    return 0;
}

int ac_cli_checkpoint_input_open(const ac_checkpoint *ck, const char *verb,
                                 const ac_cli_data_choice *choice, ac_cli_checkpoint_input *in) {
    memset(in, 0, sizeof *in);
    if (choice->id && ck->series_count == 0) return ac_cli_checkpoint_series(ck, verb, choice->id);
    if (ac_cli_checkpoint_data(ck, verb, choice, &in->cfg, &in->whole) != 0) return -1;
    const ac_config *cfg = &in->cfg;
    ac_error err;
    if (ac_threads_init(cfg->train.threads, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    if (ac_data_source_open(&in->src, cfg, &err) != AC_OK) {
        if (!choice->csv && !choice->dataset && cfg->data.dataset[0])
            ac_cli_error("%s; or give the data with --data CSV", err.msg);
        else
            ac_cli_error("%s", err.msg);
        return -1;
    }
    char date_note[AC_ERROR_MAX];
    const char *severity;
    if (ck->series_count > 0) return open_panel(ck, verb, choice, in);
    if (ac_table_date_note(in->src.table, date_note, sizeof date_note, &severity))
        fprintf(stderr, "attncast: %s: %s\n", severity, date_note);
    ac_status st = in->whole ? ac_series_build_whole(&in->series, in->src.table, cfg->data.lookback,
                                                     cfg->data.horizon, &ck->scaler, &err)
                             : ac_series_build_with_scaler(&in->series, in->src.table,
                                                           in->src.split, cfg->data.lookback,
                                                           cfg->data.horizon, &ck->scaler, &err);
    if (st != AC_OK) {
        ac_cli_error("%s: %s", in->src.label, err.msg);
        return -1;
    }
    return 0;
}

void ac_cli_checkpoint_input_close(ac_cli_checkpoint_input *in) {
    ac_series_free(&in->series);
    ac_panel_free(&in->panel);
    ac_data_source_close(&in->src);
}
