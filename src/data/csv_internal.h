/* csv_internal.h - private to src/data: what csv.c, csv_dates.c, csv_missing.c and csv_long.c
 * share.
 *
 * csv.c reads the rows (ac_csv_read_rows), storing a missing cell as NaN; csv_dates.c then
 * checks the dates and csv_missing.c applies the missing-value policy. A wide file is one
 * table; csv_long.c groups the rows of a long-format file by id and runs the same checks on each
 * series, whose messages then name it (ac_csv_where). The public API is include/attncast/csv.h.
 */
#ifndef ATTNCAST_DATA_CSV_INTERNAL_H
#define ATTNCAST_DATA_CSV_INTERNAL_H

#include "attncast/csv.h"

#define QUOTE_MAX 40 /* bytes of a cell or a name shown in a message */
/* Room for the start of a message (ac_csv_where): a path and a shown id. */
#define AC_CSV_WHERE_MAX (AC_ERROR_MAX / 2)

/* Copies s for a message: at most QUOTE_MAX bytes (not splitting a UTF-8 character, "..."
 * after a cut) with control characters shown as '?', so a message stays on one line. */
const char *ac_csv_shown(char dst[QUOTE_MAX + 4], const char *s);

/* The start of a message about a table read from source, at line (0: no line): "data.csv:12"
 * ("data.csv"), or for a series of a long-format file (series not NULL) "data.csv: series
 * 'store_7': line 12" ("data.csv: series 'store_7'"). Returns buf. */
const char *ac_csv_where(char buf[AC_CSV_WHERE_MAX], const char *source, const char *series,
                         int line);

/* The rows of a CSV file as read (csv.h's rules), before the date check and the missing-value
 * policy. */
typedef struct ac_csv_rows {
    ac_table *table; /* every data row in the file's order, a missing cell NaN; freq unknown */
    int *missing;    /* per column: its missing cells */
    int *lines;      /* per row: the line where it starts */
    char **ids;      /* per row: its id (in buf), when an id column was asked; else NULL */
    int date_field;  /* the date column's field (0-based), or -1 */
    int id_field;    /* the id column's field, or -1 */
    const char *id_name; /* the id column's name (in buf), or NULL */
    char *buf;           /* the file's text, parsed in place */
} ac_csv_rows;

/* Reads path into *out. id_column NULL: no id column (a wide file); else the id column of a
 * long-format file, "" for a column named `id` (any case); id_column_at says where it was set.
 * The id column is neither a channel nor the date, and an empty id is an error naming its line.
 * On failure *out is empty. */
ac_status ac_csv_read_rows(ac_csv_rows *out, const char *path, const ac_csv_options *opt,
                           const char *id_column, const char *id_column_at, ac_error *err);

/* Frees what rows holds (a table the caller took and set to NULL is left alone). */
void ac_csv_rows_free(ac_csv_rows *rows);

/* Applies policy to the NaN cells of t, missing[c] of them in column c: an error when a column
 * has no values at all; else drops the rows holding one, or fills them in. */
ac_status ac_csv_apply_policy(ac_table *t, const int *missing, ac_missing_policy policy,
                              const char *series, ac_error *err);

/* The date check (csv.h, csv_dates.c), after the rows are read and before the missing-value
 * policy: lines[r] is the CSV line of row r. series: the id of a long-format file's series,
 * named in the messages (ac_csv_where), or NULL; the same for ac_csv_apply_policy. Under AC_GAPS_FILL it inserts rows of NaN for the
 * missing dates (adding them to missing[]) and removes repeated rows, and lines goes stale. */
ac_status ac_csv_check_dates(ac_table *t, const int *lines, int *missing, const ac_csv_options *opt,
                             const char *series, ac_error *err);

#endif
