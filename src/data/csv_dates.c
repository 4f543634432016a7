/* csv_dates.c - the date check of a table read by csv.c (see include/attncast/csv.h).
 *
 * After the rows are read, and before the missing-value policy runs, ac_csv_check_dates reads
 * every date (calendar.c). If one does not parse, the dates stay text and nothing is checked.
 * Otherwise the rows must be in time order, and a date may repeat only on a row equal to the
 * one before it; the frequency is inferred, unless the caller gives it, and the steps that
 * break it are counted with the lines where they first occur. The gap policy then stops the
 * load, keeps the rows, or fills the gaps with rows of missing cells (NaN, counted into the
 * caller's per-column counts so that the missing-value policy fills them like any other)
 * and removes repeated rows.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_internal.h"

/* data.gaps = fill refuses to insert more than this many rows per row read: far more is a
 * wrong date (a typo in the year), not a gap to fill. */
#define FILL_ROWS_PER_ROW 4

static bool same_values(const ac_table *t, int a, int b) {
    const double *x = t->values + (size_t)a * t->cols, *y = t->values + (size_t)b * t->cols;
    for (int c = 0; c < t->cols; c++)
        if (!(x[c] == y[c] || (isnan(x[c]) && isnan(y[c])))) return false;
    return true;
}

/* Rows out of order, or one date on two different rows: an error naming both lines. */
static ac_status check_order(const ac_table *t, const long long *secs, const int *lines,
                             const char *series, ac_error *err) {
    char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4], at[AC_CSV_WHERE_MAX];
    for (int r = 1; r < t->rows; r++) {
        if (secs[r] < secs[r - 1]) {
            bool newest_first = true;
            for (int i = 1; i < t->rows && newest_first; i++) newest_first = secs[i] <= secs[i - 1];
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s: date '%s' comes before '%s' on line %d; the rows must be "
                                "in time order, oldest first%s",
                                ac_csv_where(at, t->source, series, lines[r]), ac_csv_shown(q, t->dates[r]),
                                ac_csv_shown(q2, t->dates[r - 1]), lines[r - 1],
                                newest_first ? " (this file is newest first: reverse it)" : "");
        }
        if (secs[r] == secs[r - 1] && !same_values(t, r - 1, r))
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s: date '%s' is also on line %d, with other values; each "
                                "date must appear once",
                                ac_csv_where(at, t->source, series, lines[r]), ac_csv_shown(q, t->dates[r]), lines[r - 1]);
    }
    return AC_OK;
}

/* "1 gap in the D calendar (3 missing dates), the first after line 9 (2020-01-08); ..." */
static void describe(const ac_date_report *d, ac_freq freq, char *buf, size_t n) {
    char name[AC_FREQ_TEXT], q[QUOTE_MAX + 4];
    const ac_calendar_steps *s = &d->steps;
    size_t used = 0;
    buf[0] = '\0';
#define ADD(...)                                                                                   \
    if (used < n) used += (size_t)snprintf(buf + used, n - used, __VA_ARGS__)
    if (s->gaps)
        ADD("%d gap%s in the %s calendar (%lld missing date%s), the first after line %d (%s)",
            s->gaps, s->gaps == 1 ? "" : "s", ac_freq_name(freq, name), s->missing,
            s->missing == 1 ? "" : "s", d->gap_line, ac_csv_shown(q, d->gap_date));
    if (s->repeats)
        ADD("%s%d repeated row%s (equal to the row before), the first at line %d", used ? "; " : "",
            s->repeats, s->repeats == 1 ? "" : "s", d->repeat_line);
    if (s->irregular)
        ADD("%s%d step%s of no whole number of %s periods, the first to line %d (%s)",
            used ? "; " : "", s->irregular, s->irregular == 1 ? "" : "s", ac_freq_name(freq, name),
            d->irregular_line, ac_csv_shown(q, d->irregular_date));
#undef ADD
}

/* data.gaps = fill: the rows between each gap's ends, and no repeated rows. The table is
 * changed only when every allocation succeeded. */
static ac_status fill_gaps(ac_table *t, const long long *secs, int *missing, const char *series,
                           ac_error *err) {
    char at[AC_CSV_WHERE_MAX];
    ac_date_report *d = &t->date_report;
    long long rows = (long long)t->rows - d->steps.repeats + d->steps.missing;
    size_t C = (size_t)t->cols;
    if (rows > INT32_MAX || (size_t)rows > SIZE_MAX / sizeof(double) / C)
        return ac_error_set(err, AC_ERR_FORMAT, "%s: filling the gaps would make %lld rows",
                            ac_csv_where(at, t->source, series, 0), rows);
    double *values = malloc((size_t)rows * C * sizeof *values);
    char **dates = calloc((size_t)rows, sizeof *dates);
    bool ok = values && dates;
    /* first the values and the new dates, leaving the read rows' dates NULL ... */
    for (int r = 0, out = 0; ok && r < t->rows; r++) {
        long long p = 1;
        if (r > 0 && secs[r] == secs[r - 1]) continue;
        if (r > 0) ac_freq_periods(t->freq, secs[r - 1], secs[r], &p);
        for (long long k = 1; ok && k < p; k++, out++) {
            char text[AC_DATE_TEXT];
            ac_date_format(ac_freq_step(t->freq, secs[r - 1], k), &t->date_style, text,
                           sizeof text);
            ok = (dates[out] = strdup(text)) != NULL;
            for (size_t c = 0; c < C; c++) values[(size_t)out * C + c] = NAN;
        }
        memcpy(values + (size_t)out++ * C, t->values + (size_t)r * C, C * sizeof *values);
    }
    if (!ok) {
        for (long long i = 0; dates && i < rows; i++) free(dates[i]);
        free(values);
        free(dates);
        return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory filling the gaps",
                            ac_csv_where(at, t->source, series, 0));
    }
    /* ... then those, moved (the same walk) */
    for (int r = 0, out = 0; r < t->rows; r++) {
        long long p = 1;
        if (r > 0 && secs[r] == secs[r - 1]) continue;
        if (r > 0) ac_freq_periods(t->freq, secs[r - 1], secs[r], &p);
        out += (int)(p - 1);
        dates[out++] = t->dates[r];
    }
    for (int r = 1; r < t->rows; r++)
        if (secs[r] == secs[r - 1]) free(t->dates[r]);
    free(t->values);
    free(t->dates);
    t->values = values;
    t->dates = dates;
    t->rows = (int)rows;
    d->inserted = (int)d->steps.missing;
    d->removed = d->steps.repeats;
    for (size_t c = 0; c < C; c++) missing[c] += d->inserted;
    return AC_OK;
}

static ac_status apply_policy(ac_table *t, const long long *secs, int *missing,
                              const ac_csv_options *opt, const char *series, ac_error *err) {
    const ac_date_report *d = &t->date_report;
    const ac_calendar_steps *s = &d->steps;
    char what[3 * AC_ERROR_MAX / 4], name[AC_FREQ_TEXT], q[QUOTE_MAX + 4], at[AC_CSV_WHERE_MAX];
    if (!s->gaps && !s->repeats && !s->irregular) return AC_OK;
    describe(d, t->freq, what, sizeof what);
    if (opt->gaps == AC_GAPS_ERROR)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: %s; set data.gaps = warn to keep the rows as they are, or fill "
                            "to insert the missing dates",
                            ac_csv_where(at, t->source, series, 0), what);
    if (opt->gaps != AC_GAPS_FILL) return AC_OK;
    if (s->irregular)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: the step to '%s' from the row before is no whole number of %s "
                            "periods, so data.gaps = fill cannot place rows between them",
                            ac_csv_where(at, t->source, series, d->irregular_line), ac_csv_shown(q, d->irregular_date),
                            ac_freq_name(t->freq, name));
    if (s->missing && opt->missing != AC_MISSING_FFILL && opt->missing != AC_MISSING_INTERPOLATE)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: %s; data.gaps = fill inserts them as rows of missing cells: set "
                            "data.missing = ffill or interpolate",
                            ac_csv_where(at, t->source, series, 0), what);
    if (s->missing > (long long)FILL_ROWS_PER_ROW * t->rows)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: %s; that is more than %d missing dates per row read, too many to "
                            "fill (is a date wrong?)",
                            ac_csv_where(at, t->source, series, 0), what, FILL_ROWS_PER_ROW);
    return fill_gaps(t, secs, missing, series, err);
}

ac_status ac_csv_check_dates(ac_table *t, const int *lines, int *missing, const ac_csv_options *opt,
                             const char *series, ac_error *err) {
    t->freq = (ac_freq){AC_FREQ_UNKNOWN, 0};
    if (!opt->check_dates || !t->dates || t->rows < 1) return AC_OK;
    long long *secs = malloc((size_t)t->rows * sizeof *secs);
    if (!secs) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", t->source);
    ac_date_style style = {0};
    for (int r = 0; r < t->rows; r++) {
        ac_date_style st;
        if (!ac_date_parse(t->dates[r], &secs[r], &st)) { /* dates as text only */
            free(secs);
            return AC_OK;
        }
        if (r == 0)
            style = st;
        else
            ac_date_style_merge(&style, &st);
    }
    ac_status status = check_order(t, secs, lines, series, err);
    ac_date_report *d = &t->date_report;
    d->checked = status == AC_OK;
    d->policy = opt->gaps;
    t->date_style = style;
    t->freq = ac_freq_known(opt->frequency) ? opt->frequency : ac_freq_infer(secs, t->rows, NULL);
    if (status == AC_OK && ac_freq_known(t->freq)) {
        ac_calendar_steps_count(t->freq, secs, t->rows, &d->steps);
        const ac_calendar_steps *s = &d->steps;
        if (s->first_gap >= 0) {
            d->gap_line = lines[s->first_gap];
            snprintf(d->gap_date, sizeof d->gap_date, "%s", t->dates[s->first_gap]);
        }
        if (s->first_repeat >= 0) d->repeat_line = lines[s->first_repeat];
        if (s->first_irregular >= 0) {
            d->irregular_line = lines[s->first_irregular];
            snprintf(d->irregular_date, sizeof d->irregular_date, "%s",
                     t->dates[s->first_irregular]);
        }
        status = apply_policy(t, secs, missing, opt, series, err);
    }
    free(secs);
    return status;
}

bool ac_table_date_issues(const ac_table *t, char *buf, size_t n) {
    const ac_calendar_steps *s = &t->date_report.steps;
    if (!t->date_report.checked || n == 0 || (!s->gaps && !s->repeats && !s->irregular))
        return false;
    describe(&t->date_report, t->freq, buf, n);
    return true;
}

bool ac_table_date_note(const ac_table *t, char *buf, size_t n, const char **severity) {
    const ac_date_report *d = &t->date_report;
    const ac_calendar_steps *s = &d->steps;
    char what[AC_ERROR_MAX], name[AC_FREQ_TEXT], q[QUOTE_MAX + 4];
    if (!d->checked || n == 0) return false;
    if (d->policy == AC_GAPS_FILL && (d->inserted || d->removed)) {
        *severity = "note";
        int w = snprintf(buf, n, "%s: data.gaps = fill", t->source);
        if (d->inserted && w >= 0 && (size_t)w < n)
            w += snprintf(buf + w, n - (size_t)w,
                          " inserted %d row(s) for %d gap(s) in the %s calendar, the first after "
                          "line %d (%s)",
                          d->inserted, s->gaps, ac_freq_name(t->freq, name), d->gap_line,
                          ac_csv_shown(q, d->gap_date));
        if (d->removed && w >= 0 && (size_t)w < n)
            snprintf(buf + w, n - (size_t)w, "%s removed %d repeated row(s), the first at line %d",
                     d->inserted ? " and" : "", d->removed, d->repeat_line);
        return true;
    }
    if (d->policy == AC_GAPS_WARN && (s->gaps || s->repeats || s->irregular)) {
        *severity = "warning";
        describe(d, t->freq, what, sizeof what);
        snprintf(buf, n, "%s: %s; data.gaps = warn keeps the rows as they are", t->source, what);
        return true;
    }
    return false;
}
