/* csv_long.c - reading a long-format CSV file into one table per series (see
 * include/attncast/csv.h and MODEL.md version 2, "Many series").
 *
 * csv.c reads every row once (ac_csv_read_rows), under the same rules as a wide file, with each
 * row's id. The ids are numbered in the order they first appear (a hash table of the ids), every
 * date is read, and the rows are sorted by (series, date, line): each series' rows come
 * together in time order, rows of one date keeping the file's order. Each series is then copied
 * into a table of its own, which goes through the same date check (csv_dates.c) and
 * missing-value policy (csv_missing.c) as a wide file, its messages naming the series and the
 * file's lines.
 */
#include "attncast/csv.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_internal.h"

const char *ac_data_format_name(ac_data_format format) {
    switch (format) {
    case AC_FORMAT_WIDE:
        return "wide";
    case AC_FORMAT_LONG:
        return "long";
    }
    return "unknown";
}

/* One data row: its series, its date and its place in the file. */
typedef struct row_key {
    int series;
    int row; /* in the file's order */
    long long secs;
} row_key;

static int compare_keys(const void *pa, const void *pb) {
    const row_key *a = pa, *b = pb;
    if (a->series != b->series) return a->series < b->series ? -1 : 1;
    if (a->secs != b->secs) return a->secs < b->secs ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* FNV-1a. */
static uint64_t hash_text(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Numbers the ids of rows->ids in the order they first appear: keys[r].series, and the first
 * row of each series in first[0 .. *count). */
static ac_status number_series(const ac_csv_rows *rows, row_key *keys, int *first, int *count,
                               ac_error *err) {
    int n = rows->table->rows;
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap *= 2;
    int *slot = calloc(cap, sizeof *slot); /* series + 1, 0 for an empty slot */
    if (!slot) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", rows->table->source);
    *count = 0;
    for (int r = 0; r < n; r++) {
        const char *id = rows->ids[r];
        size_t h = (size_t)hash_text(id) & (cap - 1);
        while (slot[h] && strcmp(rows->ids[first[slot[h] - 1]], id) != 0) h = (h + 1) & (cap - 1);
        if (!slot[h]) {
            first[*count] = r;
            slot[h] = ++*count;
        }
        keys[r].series = slot[h] - 1;
        keys[r].row = r;
    }
    free(slot);
    return AC_OK;
}

/* Every row's date, read as calendar.h says, into keys[r].secs. */
static ac_status read_dates(const ac_csv_rows *rows, row_key *keys, ac_error *err) {
    const ac_table *t = rows->table;
    char at[AC_CSV_WHERE_MAX], q[QUOTE_MAX + 4], name[QUOTE_MAX + 4];
    for (int r = 0; r < t->rows; r++) {
        ac_date_style style;
        if (!ac_date_parse(t->dates[r], &keys[r].secs, &style))
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s: date '%s' (column '%s') does not parse; data.format = long "
                                "sorts each series by date, so every date must be Y-M-D, Y/M/D "
                                "or D.M.Y (with an optional time) or Y-M",
                                ac_csv_where(at, t->source, rows->ids[r], rows->lines[r]),
                                ac_csv_shown(q, t->dates[r]), ac_csv_shown(name, t->date_name));
    }
    return AC_OK;
}

/* The n rows keys[0 .. n) of all (one series, in order) as a table of their own; their dates
 * move from all to it. lines[i] is row i's line in the file, and missing[c] counts the missing
 * cells of column c. */
static ac_status series_table(ac_table **out, ac_table *all, const row_key *keys, int n,
                              const int *all_lines, int *lines, int *missing, ac_error *err) {
    size_t C = (size_t)all->cols;
    ac_table *t = calloc(1, sizeof *t);
    *out = t;
    if (!t) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", all->source);
    t->cols = all->cols;
    t->targets = all->cols; /* as loaded, every column is a target */
    t->source = strdup(all->source);
    t->date_name = strdup(all->date_name);
    t->names = calloc(C, sizeof *t->names);
    t->dates = calloc((size_t)n, sizeof *t->dates);
    t->values = malloc((size_t)n * C * sizeof *t->values);
    bool ok = t->source && t->date_name && t->names && t->dates && t->values;
    for (size_t c = 0; ok && c < C; c++) ok = (t->names[c] = strdup(all->names[c])) != NULL;
    if (!ok) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", all->source);
    memset(missing, 0, C * sizeof *missing);
    t->rows = n;
    for (int i = 0; i < n; i++) {
        int r = keys[i].row;
        t->dates[i] = all->dates[r];
        all->dates[r] = NULL;
        lines[i] = all_lines[r];
        const double *src = all->values + (size_t)r * C;
        memcpy(t->values + (size_t)i * C, src, C * sizeof *src);
        for (size_t c = 0; c < C; c++) missing[c] += isnan(src[c]);
    }
    return AC_OK;
}

ac_status ac_table_load_long_csv(ac_table_set *out, const char *path, const ac_csv_options *opt,
                                 const char *id_column, const char *id_column_at, ac_error *err) {
    static const ac_csv_options DEFAULTS = {0};
    if (!opt) opt = &DEFAULTS;
    memset(out, 0, sizeof *out);
    ac_csv_rows rows;
    ac_status st = ac_csv_read_rows(&rows, path, opt, id_column ? id_column : "", id_column_at,
                                    err);
    if (st != AC_OK) return st;
    ac_table *all = rows.table;
    if (rows.date_field < 0) {
        ac_csv_rows_free(&rows);
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: data.format = long needs a date column to order each series by, "
                            "and no column is named 'date'; name it with data.date_column",
                            path);
    }
    int n = all->rows, count = 0;
    row_key *keys = malloc((size_t)n * sizeof *keys);
    int *first = malloc((size_t)n * sizeof *first);
    int *lines = malloc((size_t)n * sizeof *lines);
    int *missing = malloc((size_t)all->cols * sizeof *missing);
    if (!keys || !first || !lines || !missing)
        st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    if (st == AC_OK) st = number_series(&rows, keys, first, &count, err);
    if (st == AC_OK) st = read_dates(&rows, keys, err);
    if (st == AC_OK) {
        qsort(keys, (size_t)n, sizeof *keys, compare_keys);
        out->count = count;
        out->tables = calloc((size_t)count, sizeof *out->tables);
        out->ids = calloc((size_t)count, sizeof *out->ids);
        if (!out->tables || !out->ids)
            st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int s = 0, i = 0; st == AC_OK && s < count; s++) {
        int size = 0;
        while (i + size < n && keys[i + size].series == s) size++;
        const char *id = rows.ids[first[s]];
        if (!(out->ids[s] = strdup(id))) {
            st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        st = series_table(&out->tables[s], all, keys + i, size, rows.lines, lines, missing, err);
        if (st == AC_OK) st = ac_csv_check_dates(out->tables[s], lines, missing, opt, id, err);
        if (st == AC_OK) st = ac_csv_apply_policy(out->tables[s], missing, opt->missing, id, err);
        i += size;
    }
    free(keys);
    free(first);
    free(lines);
    free(missing);
    ac_csv_rows_free(&rows);
    if (st != AC_OK) ac_table_set_free(out);
    return st;
}

void ac_table_set_free(ac_table_set *set) {
    if (!set) return;
    for (int s = 0; s < set->count; s++) {
        if (set->tables) ac_table_free(set->tables[s]);
        if (set->ids) free(set->ids[s]);
    }
    free(set->tables);
    free(set->ids);
    memset(set, 0, sizeof *set);
}
