/* csv_missing.c - the missing-value policies of a table read by csv.c (see
 * include/attncast/csv.h).
 *
 * csv.c stores a missing cell as NaN and counts them per column; after the last row it calls
 * ac_csv_apply_policy, which refuses a column with no values at all, then drops every row holding
 * a missing cell (AC_MISSING_DROP) or fills the cells forward (AC_MISSING_FFILL) or linearly
 * between their neighbours (AC_MISSING_INTERPOLATE). Under AC_MISSING_ERROR, csv.c has already
 * reported the first missing cell.
 */
#include "attncast/csv.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "csv_internal.h"

/* Column c of t with its missing cells (NaN) filled: forward from the last value, or linearly
 * between the neighbouring values; cells before the first value take the first value and,
 * when interpolating, cells after the last take the last. */
static int fill_column(ac_table *t, int c, ac_missing_policy policy) {
    double *v = t->values + c;
    int C = t->cols, T = t->rows, filled = 0, prev = -1;
    for (int r = 0; r < T; r++) {
        if (isnan(v[(size_t)r * C])) continue;
        double now = v[(size_t)r * C];
        for (int g = prev + 1; g < r; g++) { /* the gap (prev, r) */
            double before = prev < 0 ? now : v[(size_t)prev * C];
            double gap = (double)(g - prev), span = (double)(r - prev);
            double x = policy == AC_MISSING_FFILL || prev < 0
                           ? before
                           : before + (now - before) * gap / span;
            /* huge values: the difference or its product with the gap overflows (fuzz_csv);
             * the weighted mean cannot */
            if (!isfinite(x)) x = before * (1 - gap / span) + now * (gap / span);
            v[(size_t)g * C] = x;
            filled++;
        }
        prev = r;
    }
    for (int g = prev + 1; g < T; g++, filled++) v[(size_t)g * C] = v[(size_t)prev * C];
    return filled;
}

/* Removes every row holding a NaN, with its date. */
static void drop_rows(ac_table *t) {
    int C = t->cols, kept = 0;
    for (int r = 0; r < t->rows; r++) {
        const double *src = t->values + (size_t)r * C;
        bool whole = true;
        for (int c = 0; c < C && whole; c++) whole = !isnan(src[c]);
        if (!whole) {
            if (t->dates) free(t->dates[r]);
            continue;
        }
        if (kept != r) {
            memmove(t->values + (size_t)kept * C, src, (size_t)C * sizeof *src);
            if (t->dates) t->dates[kept] = t->dates[r];
        }
        kept++;
    }
    t->rows_dropped = t->rows - kept;
    t->rows = kept;
}

ac_status ac_csv_apply_policy(ac_table *t, const int *missing, ac_missing_policy policy,
                              const char *series, ac_error *err) {
    char q[QUOTE_MAX + 4], at[AC_CSV_WHERE_MAX];
    bool any = false;
    for (int c = 0; c < t->cols; c++) {
        if (missing[c] == t->rows)
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s: column '%s' has no values at all (every cell is missing)",
                                ac_csv_where(at, t->source, series, 0),
                                ac_csv_shown(q, t->names[c]));
        any |= missing[c] > 0;
    }
    if (!any) return AC_OK;
    if (policy == AC_MISSING_DROP) {
        drop_rows(t);
        if (t->rows == 0)
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s: every row has a missing cell; data.missing = drop leaves "
                                "nothing",
                                ac_csv_where(at, t->source, series, 0));
        return AC_OK;
    }
    for (int c = 0; c < t->cols; c++)
        if (missing[c] > 0) t->missing_filled += fill_column(t, c, policy);
    return AC_OK;
}
