/* csv_internal.h - private to src/data: what csv.c and csv_missing.c share.
 *
 * csv.c reads the table, storing a missing cell as NaN; csv_missing.c then applies the
 * missing-value policy to it, after csv_dates.c has checked the dates. The public API is
 * include/attncast/csv.h.
 */
#ifndef ATTNCAST_DATA_CSV_INTERNAL_H
#define ATTNCAST_DATA_CSV_INTERNAL_H

#include "attncast/csv.h"

#define QUOTE_MAX 40 /* bytes of a cell or a name shown in a message */

/* Copies s for a message: at most QUOTE_MAX bytes (not splitting a UTF-8 character, "..."
 * after a cut) with control characters shown as '?', so a message stays on one line. */
const char *ac_csv_shown(char dst[QUOTE_MAX + 4], const char *s);

/* Applies policy to the NaN cells of t, missing[c] of them in column c: an error when a column
 * has no values at all; else drops the rows holding one, or fills them in. */
ac_status ac_csv_apply_policy(ac_table *t, const int *missing, ac_missing_policy policy,
                              ac_error *err);

/* The date check (csv.h, csv_dates.c), after the rows are read and before the missing-value
 * policy: lines[r] is the CSV line of row r. Under AC_GAPS_FILL it inserts rows of NaN for the
 * missing dates (adding them to missing[]) and removes repeated rows, and lines goes stale. */
ac_status ac_csv_check_dates(ac_table *t, const int *lines, int *missing, const ac_csv_options *opt,
                             ac_error *err);

#endif
