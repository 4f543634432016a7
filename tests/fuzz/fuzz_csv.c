/* fuzz_csv.c - libFuzzer target for the CSV reader (src/data/csv.c, csv_missing.c,
 * csv_dates.c, calendar.c).
 *
 * Each input is written to a file and loaded under every missing-value policy, as
 * `data.csv = FILE` does. A rejected file must give one line that begins with the file's path.
 * An accepted table must be whole: at least one row and one channel, no more rows than the file
 * has lines, every value finite, every name and date present. It is then loaded again with
 * data.columns listing its channels in reverse order (and the date column named explicitly),
 * and must give the same values in the reversed order. Then it is loaded with the dates
 * checked under each gap policy: besides the above (rows may outnumber lines once gaps are
 * filled), a table filled under data.gaps = fill must step exactly one period at a time.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/csv.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_table(const ac_table *t, const uint8_t *data, size_t size) {
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (t->rows < 1 || t->cols < 1) fz_fail("accepted a %d x %d table", t->rows, t->cols);
    if ((size_t)(t->rows - t->date_report.inserted) + 1 > lines)
        fz_fail("%d rows and a header from a file of %zu lines", t->rows, lines);
    for (size_t i = 0; i < (size_t)t->rows * (size_t)t->cols; i++)
        if (!isfinite(t->values[i]))
            fz_fail("value %zu (row %zu, column %zu) is %g", i, i / (size_t)t->cols,
                    i % (size_t)t->cols, t->values[i]);
    for (int k = 0; k < t->cols; k++)
        if (!t->names[k] || !t->names[k][0]) fz_fail("channel %d has no name", k);
    if ((t->dates == NULL) != (t->date_name == NULL)) fz_fail("dates and date_name disagree");
    for (int r = 0; t->dates && r < t->rows; r++)
        if (!t->dates[r]) fz_fail("row %d has no date", r);
}

/* "c,b,a" for channels a,b,c; NULL when a name cannot be written in data.columns (it holds a
 * comma or has spaces at its ends, which the list trims). */
static char *reversed_columns(const ac_table *t) {
    size_t len = 1;
    for (int k = 0; k < t->cols; k++) {
        const char *n = t->names[k];
        size_t l = strlen(n);
        if (strchr(n, ',') || strchr(" \t", n[0]) || strchr(" \t", n[l - 1])) return NULL;
        len += l + 1;
    }
    char *list = malloc(len), *at = list;
    if (!list) return NULL;
    for (int k = t->cols - 1; k >= 0; k--) {
        size_t l = strlen(t->names[k]);
        memcpy(at, t->names[k], l);
        at += l;
        *at++ = k ? ',' : '\0';
    }
    return list;
}

static void check_reversed(const ac_table *t, const char *path, ac_missing_policy policy) {
    char *columns = reversed_columns(t);
    if (!columns) return;
    ac_csv_options opt = {.columns = columns, .date_column = t->date_name, .missing = policy};
    ac_table *again = NULL;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_table_load_csv(&again, path, &opt, &err);
    if (st != AC_OK)
        fz_fail("the table loads, but not with data.columns = %s: %s", columns, err.msg);
    if (again->rows != t->rows || again->cols != t->cols)
        fz_fail("%d x %d, but %d x %d with the columns reversed", t->rows, t->cols, again->rows,
                again->cols);
    int C = t->cols;
    for (int r = 0; r < t->rows; r++)
        for (int k = 0; k < C; k++)
            if (memcmp(&again->values[(size_t)r * C + k], &t->values[(size_t)r * C + C - 1 - k],
                       sizeof(double)) != 0)
                fz_fail("row %d channel %d differs with the columns reversed", r, k);
    for (int r = 0; t->dates && r < t->rows; r++)
        if (strcmp(t->dates[r], again->dates[r]) != 0) fz_fail("row %d's date differs", r);
    ac_table_free(again);
    free(columns);
}

/* The table path loads to with opt, or NULL after checking that the rejection is one line that
 * names the file. */
static ac_table *load(const char *path, const ac_csv_options *opt, const char *const *prefixes) {
    ac_table *t = NULL;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_table_load_csv(&t, path, opt, &err);
    if (st == AC_OK) return t;
    if (t) fz_fail("a rejected load returned a table");
    fz_check_rejection(st, &err, prefixes);
    return NULL;
}

/* After data.gaps = fill, every step is one period of the table's frequency. */
static void check_filled(const ac_table *t) {
    if (t->date_report.policy != AC_GAPS_FILL || !ac_freq_known(t->freq)) return;
    long long prev = 0;
    for (int r = 0; r < t->rows; r++) {
        long long secs, periods;
        ac_date_style st;
        if (!ac_date_parse(t->dates[r], &secs, &st)) fz_fail("row %d's date does not parse", r);
        if (r > 0 && (!ac_freq_periods(t->freq, prev, secs, &periods) || periods != 1))
            fz_fail("rows %d and %d are not one period apart after filling", r - 1, r);
        prev = secs;
    }
}

static void check_dates(const char *path, const uint8_t *data, size_t size) {
    const char *const prefixes[] = {path, NULL};
    static const struct {
        ac_gaps_policy gaps;
        ac_missing_policy missing;
    } cases[] = {{AC_GAPS_ERROR, AC_MISSING_ERROR},
                 {AC_GAPS_WARN, AC_MISSING_DROP},
                 {AC_GAPS_FILL, AC_MISSING_FFILL},
                 {AC_GAPS_FILL, AC_MISSING_INTERPOLATE}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_csv_options opt = {
            .missing = cases[i].missing, .check_dates = true, .gaps = cases[i].gaps};
        ac_table *t = load(path, &opt, prefixes);
        if (!t) continue;
        check_table(t, data, size);
        check_filled(t);
        char note[AC_ERROR_MAX];
        const char *severity;
        if (ac_table_date_note(t, note, sizeof note, &severity) && strchr(note, '\n'))
            fz_fail("the date note is not one line: %s", note);
        ac_table_free(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write_input("input.csv", data, size);
    const char *const prefixes[] = {path, NULL};
    for (int policy = AC_MISSING_ERROR; policy <= AC_MISSING_DROP; policy++) {
        ac_csv_options opt = {.missing = (ac_missing_policy)policy};
        ac_table *t = load(path, &opt, prefixes);
        if (!t) continue;
        check_table(t, data, size);
        check_reversed(t, path, (ac_missing_policy)policy);
        ac_table_free(t);
    }
    check_dates(path, data, size);
    return 0;
}
