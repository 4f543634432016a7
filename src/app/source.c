/* source.c - from a config's [data] section to a loaded table (see src/app/source.h).
 *
 * A mistake in the config's own values that shows only here (a dataset name with no card, a
 * data.columns or data.date_column name that is not in the CSV's header, a data.targets or
 * covariate name that is not among the loaded columns, data.calendar without dates) is reported
 * like any other config error: where the key was set (file:line, or the --set override) and the
 * key, with a did-you-mean for near misses, and src->config_error set so the CLI exits as for a
 * bad config. */
#include "app/source.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/nearest.h"

/* How many card names an unknown-dataset message considers and lists. */
#define KNOWN_MAX  256
#define KNOWN_LIST 256

/* data.dataset names no card: a config error with the nearest card name and the known ones. */
static ac_status unknown_dataset(ac_data_source *src, const ac_config *cfg, ac_error *err) {
    char known[KNOWN_MAX][64];
    const char *names[KNOWN_MAX];
    int n = ac_dataset_list(known, KNOWN_MAX);
    char list[KNOWN_LIST] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        names[i] = known[i];
        if (len + strlen(known[i]) + 8 > sizeof list) {
            if (len + 6 < sizeof list) snprintf(list + len, sizeof list - len, ", ...");
            len = sizeof list;
        } else if (len < sizeof list) {
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", known[i]);
        }
    }
    src->config_error = true;
    const char *name = cfg->data.dataset, *near = ac_nearest(name, names, n);
    if (n == 0)
        return ac_config_error(cfg, "data.dataset", err,
                               "unknown dataset '%s'; there are no cards in %s", name,
                               ac_datasets_dir());
    if (near)
        return ac_config_error(cfg, "data.dataset", err,
                               "unknown dataset '%s'; did you mean %s? (known: %s; cards in %s)",
                               name, near, list, ac_datasets_dir());
    return ac_config_error(cfg, "data.dataset", err,
                           "unknown dataset '%s' (known: %s; cards in %s)", name, list,
                           ac_datasets_dir());
}

/* The smallest fraction f with floor(f * total) == n (windows.h splits by floor). */
static double exact_fraction(int n, int total) {
    double f = (double)n / total;
    while (floor(f * total) < n) f = nextafter(f, 2.0);
    while (f > 0 && floor(nextafter(f, 0.0) * total) >= n) f = nextafter(f, 0.0);
    return f;
}

/* Cuts every table to the row split's rows and sets the fractions that give its counts. */
static ac_status apply_split_rows(ac_data_source *src, const ac_config *cfg, const int rows[3],
                                  bool from_config, ac_error *err) {
    int total = rows[0] + rows[1] + rows[2];
    for (int i = 0; i < src->series; i++) {
        ac_table *t = src->tables[i];
        if (t->rows >= total) continue;
        char series[160] = "";
        if (src->ids) snprintf(series, sizeof series, " (series '%s')", src->ids[i]);
        if (from_config) {
            src->config_error = true;
            return ac_config_error(cfg, "data.split_rows", err,
                                   "%d,%d,%d needs %d rows, but %s%s has %d", rows[0], rows[1],
                                   rows[2], total, src->path, series, t->rows);
        }
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: split_rows = %d,%d,%d needs %d rows, but %s%s has %d; set "
                            "data.split or data.split_rows to split it otherwise",
                            src->card.card_path, rows[0], rows[1], rows[2], total, src->path,
                            series, t->rows);
    }
    src->rows_unused = src->table->rows - total;
    for (int i = 0; i < src->series; i++) {
        ac_table *t = src->tables[i];
        if (t->dates)
            for (int r = total; r < t->rows; r++) {
                free(t->dates[r]);
                t->dates[r] = NULL;
            }
        t->rows = total;
    }
    memcpy(src->split_rows, rows, sizeof src->split_rows);
    src->split[0] = exact_fraction(rows[0], total);
    src->split[2] = exact_fraction(rows[2], total);
    src->split[1] = 1.0 - src->split[0] - src->split[2];
    return AC_OK;
}

ac_status ac_data_source_open(ac_data_source *src, const ac_config *cfg, ac_error *err) {
    memset(src, 0, sizeof *src);
    const double default_split[3] = {0.7, 0.1, 0.2};
    memcpy(src->split, default_split, sizeof src->split);
    src->season = 1;
    const char *date_column = cfg->data.date_column;
    if (cfg->data.dataset[0]) {
        if (ac_dataset_card_load(&src->card, cfg->data.dataset, err) != AC_OK) {
            /* the card loader's own test for "no such card": its file does not exist */
            if (src->card.card_path[0] && access(src->card.card_path, F_OK) != 0 && errno == ENOENT)
                return unknown_dataset(src, cfg, err);
            return err->code;
        }
        src->has_card = true;
        if (ac_dataset_fetch(&src->card, src->path, sizeof src->path, err) != AC_OK)
            return err->code;
        memcpy(src->split, src->card.split, sizeof src->split);
        src->season = src->card.season;
        if (!date_column[0]) date_column = src->card.date_column;
        snprintf(src->label, sizeof src->label, "%s", src->card.name);
    } else {
        snprintf(src->path, sizeof src->path, "%s", cfg->data.csv);
        snprintf(src->label, sizeof src->label, "%s", cfg->data.csv);
    }
    if (cfg->data.split_set) memcpy(src->split, cfg->data.split, sizeof src->split);
    char columns_at[AC_CONFIG_TEXT], date_at[AC_CONFIG_TEXT];
    ac_csv_options opt = {
        .date_column = date_column,
        .columns = cfg->data.columns,
        .missing = cfg->data.missing,
        .columns_at = ac_config_where(cfg, "data.columns", columns_at, sizeof columns_at),
        .date_column_at = cfg->data.date_column[0]
                              ? ac_config_where(cfg, "data.date_column", date_at, sizeof date_at)
                              : NULL};
    opt.has_missing_marker = ac_config_missing_marker(cfg, &opt.missing_marker);
    opt.check_dates = true;
    opt.gaps = cfg->data.gaps;
    if (cfg->data.frequency[0]) ac_freq_parse(cfg->data.frequency, &opt.frequency);
    ac_status st;
    if (cfg->data.format == AC_FORMAT_LONG) {
        char id_at[AC_CONFIG_TEXT];
        st = ac_table_load_long_csv(
            &src->set, src->path, &opt, cfg->data.id_column,
            cfg->data.id_column[0] ? ac_config_where(cfg, "data.id_column", id_at, sizeof id_at)
                                   : NULL,
            err);
        if (st == AC_OK) {
            src->table = src->set.tables[0];
            src->tables = src->set.tables;
            src->ids = src->set.ids;
            src->series = src->set.count;
        }
    } else {
        st = ac_table_load_csv(&src->table, src->path, &opt, err);
        src->tables = &src->table;
        src->series = 1;
    }
    /* the readers' AC_ERR_INVALID is always about data.columns, data.date_column or
     * data.id_column */
    src->config_error = st == AC_ERR_INVALID;
    if (st != AC_OK) return st;
    ac_config_roles roles;
    ac_config_column_roles(cfg, &roles);
    for (int i = 0; i < src->series && st == AC_OK; i++) {
        st = ac_table_arrange(src->tables[i], &roles.roles, err);
        if (st == AC_OK || !src->ids || st == AC_ERR_INVALID) continue;
        char why[AC_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        ac_error_set(err, st, "%s: series '%s': %s", src->path, src->ids[i], why);
    }
    /* its AC_ERR_INVALID is always about the role keys (data.targets, ..., data.calendar) */
    src->config_error = st == AC_ERR_INVALID;
    if (st != AC_OK) {
        ac_data_source_close(src);
        return st;
    }
    const int *rows = NULL;
    bool from_config = cfg->data.split_rows[0] > 0;
    if (from_config)
        rows = cfg->data.split_rows;
    else if (src->has_card && !cfg->data.split_set && src->card.split_rows[0] > 0)
        rows = src->card.split_rows;
    if (rows && (st = apply_split_rows(src, cfg, rows, from_config, err)) != AC_OK) {
        ac_data_source_close(src);
        return st;
    }
    if (cfg->data.season > 0)
        src->season = cfg->data.season;
    else if (!src->has_card)
        src->season = ac_freq_season(src->table->freq);
    return AC_OK;
}

void ac_data_source_close(ac_data_source *src) {
    if (src->set.count > 0)
        ac_table_set_free(&src->set); /* its tables include src->table */
    else
        ac_table_free(src->table);
    src->table = NULL;
    src->tables = NULL;
    src->ids = NULL;
    src->series = 0;
}
