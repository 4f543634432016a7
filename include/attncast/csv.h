/* csv.h - reading a time-series table from a CSV file.
 *
 * The file has a header row and one row per time step, oldest first. The date column (named by
 * the caller, else a column called `date` in any case, else none, as MODEL.md says) is kept
 * aside as text for output; every other column (or the requested subset, in the requested order)
 * is a numeric channel. Line endings may be LF or CRLF, the last line may lack its newline, a
 * UTF-8 byte-order mark is skipped, and fields may be quoted with double quotes.
 *
 * Every error names the file and, where there is one, the line (1-based, the header is line 1)
 * and the column (1-based field number and its header name): a non-numeric or infinite cell, a
 * row with too many or too few fields, an empty file, a header without data rows, an empty or
 * duplicated column name, a requested column that is not in the header (with the nearest header
 * name, "did you mean"). Missing cells (empty,
 * NaN, NA, N/A, null, any case, and cells equal to an optional numeric marker such as weather's
 * -9999) are errors too unless a missing-value policy says otherwise.
 */
#ifndef ATTNCAST_CSV_H
#define ATTNCAST_CSV_H

#include <stdbool.h>

#include "attncast/error.h"

typedef enum ac_missing_policy {
    AC_MISSING_ERROR,       /* a missing cell stops the load, naming line and column */
    AC_MISSING_FFILL,       /* carry the last value forward (leading gaps take the first value) */
    AC_MISSING_INTERPOLATE, /* linear between the neighbours (ends take the nearest value) */
    AC_MISSING_DROP         /* drop every row that has a missing cell */
} ac_missing_policy;

/* "error", "ffill", "interpolate", "drop". */
const char *ac_missing_policy_name(ac_missing_policy policy);

typedef struct ac_csv_options {
    const char *date_column; /* NULL or "": a column named `date` (any case) if there is one */
    const char *columns;     /* NULL or "": every other column; else a comma-separated subset */
    ac_missing_policy missing;
    /* When has_missing_marker, a cell whose number equals missing_marker (e.g. -9999) is a
     * missing cell, handled by the policy like an empty one. */
    bool has_missing_marker;
    double missing_marker;
    /* Where columns and date_column were set ("exp.ini:4", see ac_config_where), to begin the
     * messages about them; NULL or "": the messages begin with the CSV's path. */
    const char *columns_at;
    const char *date_column_at;
} ac_csv_options;

/* A loaded table: rows x cols values, row-major, in double precision. */
typedef struct ac_table {
    int rows;
    int cols;
    double *values;     /* rows * cols */
    char **names;       /* cols channel names */
    char **dates;       /* rows date strings, or NULL when there is no date column */
    char *date_name;    /* the date column's name, or NULL */
    char *source;       /* the path it was read from */
    int missing_filled; /* cells filled (ffill / interpolate) */
    int rows_dropped;   /* rows dropped (drop) */
} ac_table;

/* Reads path into a new table (free with ac_table_free). opt may be NULL for the defaults. */
ac_status ac_table_load_csv(ac_table **out, const char *path, const ac_csv_options *opt,
                            ac_error *err);
void ac_table_free(ac_table *table);

#endif
