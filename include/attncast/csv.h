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
 *
 * When asked (check_dates), the dates are read as calendar.h says. If every one parses, rows
 * out of time order, and two rows with one date but different values, are errors naming both
 * lines; the frequency is inferred (or taken as given) and the steps that break it are counted:
 * gaps (whole periods missing), repeated rows (a row equal to the one before it, date and
 * values: weather.csv has one) and irregular steps. The gap policy then refuses them, keeps
 * them, or fills them in: the missing dates become rows of missing cells, which the
 * missing-value policy (ffill or interpolate) fills, and repeated rows are removed. Dates that
 * do not parse are kept as text, and the frequency is unknown.
 *
 * A long-format file (many series, one row per id and date) is read by ac_table_load_long_csv
 * (at the end) into one such table per series, each checked as above on its own rows.
 */
#ifndef ATTNCAST_CSV_H
#define ATTNCAST_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "attncast/calendar.h"
#include "attncast/error.h"

typedef enum ac_missing_policy {
    AC_MISSING_ERROR,       /* a missing cell stops the load, naming line and column */
    AC_MISSING_FFILL,       /* carry the last value forward (leading gaps take the first value) */
    AC_MISSING_INTERPOLATE, /* linear between the neighbours (ends take the nearest value) */
    AC_MISSING_DROP         /* drop every row that has a missing cell */
} ac_missing_policy;

/* "error", "ffill", "interpolate", "drop". */
const char *ac_missing_policy_name(ac_missing_policy policy);

/* What data.gaps does with the steps that break the dates' calendar. */
typedef enum ac_gaps_policy {
    AC_GAPS_ERROR, /* the first one stops the load, naming its line */
    AC_GAPS_WARN,  /* keep the rows as they are; the table's date report tells */
    AC_GAPS_FILL   /* insert the missing dates as rows of missing cells, remove repeated rows */
} ac_gaps_policy;

/* "error", "warn", "fill". */
const char *ac_gaps_policy_name(ac_gaps_policy policy);

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
    /* Check the dates (order, frequency, gaps) as above, under this gap policy. AC_GAPS_FILL
     * needs missing = ffill or interpolate. frequency: the dates' frequency, or unknown to
     * infer it. */
    bool check_dates;
    ac_gaps_policy gaps;
    ac_freq frequency;
} ac_csv_options;

/* The dates of a loaded table, when check_dates asked. Lines are the CSV's (1-based, the header
 * is line 1); 0 when there is none. */
typedef struct ac_date_report {
    bool checked;            /* check_dates was asked and every date parsed */
    ac_gaps_policy policy;   /* the gap policy applied */
    ac_calendar_steps steps; /* the steps as read (rows: 0-based, in the file's order) */
    int gap_line;            /* the row before the first gap */
    char gap_date[AC_DATE_TEXT];
    int repeat_line;    /* the first repeated row */
    int irregular_line; /* the row ending the first irregular step */
    char irregular_date[AC_DATE_TEXT];
    int inserted; /* rows inserted for missing dates (AC_GAPS_FILL) */
    int removed;  /* repeated rows removed (AC_GAPS_FILL) */
} ac_date_report;

/* A loaded table: rows x cols values, row-major, in double precision. */
typedef struct ac_table {
    int rows;
    int cols;
    double *values;           /* rows * cols */
    char **names;             /* cols channel names */
    char **dates;             /* rows date strings, or NULL when there is no date column */
    char *date_name;          /* the date column's name, or NULL */
    char *source;             /* the path it was read from */
    int missing_filled;       /* cells filled (ffill / interpolate) */
    int rows_dropped;         /* rows dropped (drop) */
    ac_freq freq;             /* the dates' frequency; unknown without readable dates or a check */
    ac_date_style date_style; /* how the dates are written (when freq is known) */
    ac_date_report date_report;
    /* Column roles (MODEL.md version 2, "Covariates"), set by ac_table_arrange: the first
     * `targets` columns are the targets, then `past` past covariates, then `future` real-valued
     * future covariates, then `calendar_columns` (2 per feature of the `calendar` set, calendar.h)
     * computed from the dates; cols is their sum. As loaded, every column is a target. */
    int targets, past, future, calendar_columns;
    unsigned calendar;
} ac_table;

/* Reads path into a new table (free with ac_table_free). opt may be NULL for the defaults. */
ac_status ac_table_load_csv(ac_table **out, const char *path, const ac_csv_options *opt,
                            ac_error *err);
void ac_table_free(ac_table *table);

/* What the date check found as read, before any filling: "1 gap in the 10min calendar (9
 * missing dates), the first after line 21515 (2020-05-29 09:30:00); 1 repeated row ...". False,
 * and nothing written, when the dates follow their calendar or were not checked. */
bool ac_table_date_issues(const ac_table *table, char *buf, size_t n);

/* The roles of a table's columns (ac_table_arrange). Names are comma-separated lists of column
 * names; NULL or "" is an empty list, except for targets, where it means every column not named
 * as a covariate. The _at strings say where each list was set ("exp.ini:4", ac_config_where) to
 * begin the messages about it; NULL or "": the key name alone. */
typedef struct ac_column_roles {
    const char *targets, *past, *future;
    unsigned calendar; /* AC_CALENDAR_* bits */
    const char *targets_at, *past_at, *future_at, *calendar_at;
    /* Where data.columns was set when it chose the loaded columns (NULL or "" when it did not):
     * a name that is not a column then says it is not among those data.columns loads. */
    const char *columns_at;
} ac_column_roles;

/* Rearranges a loaded table's columns into the roles' order, [targets, past covariates, future
 * covariates] each in the order named (targets not named: the table's order), dropping columns
 * that have no role, and appends the calendar columns computed from the dates. Errors (one line
 * each, AC_ERR_INVALID, naming where the list was set and the key): a name that is not a column
 * (with the nearest name, "did you mean"), a name in two lists or twice in one, no target left,
 * calendar features without a date column, a date that does not parse (naming its row and
 * text). A NULL roles, or one that names nothing (no list, no calendar feature), leaves the
 * table as loaded; targets alone keep just those columns, in that order. */
ac_status ac_table_arrange(ac_table *table, const ac_column_roles *roles, ac_error *err);

/* One line on what the date check found, for the CLI to print after "warning: " or "note: "
 * (*severity says which): the gaps, repeated rows and irregular steps kept (AC_GAPS_WARN), or
 * the rows inserted and removed (AC_GAPS_FILL). False, and nothing written, when there is
 * nothing to say. */
bool ac_table_date_note(const ac_table *table, char *buf, size_t n, const char **severity);

/* ---- many series (MODEL.md version 2, "Many series"): the long format ---- */

/* data.format: one table whose columns are the channels (wide), or one row per series and date
 * with an id column naming the series (long). */
typedef enum ac_data_format { AC_FORMAT_WIDE, AC_FORMAT_LONG } ac_data_format;

/* "wide", "long"; "unknown" past them. */
const char *ac_data_format_name(ac_data_format format);

/* The series of a long-format file: count tables, in the order their ids first appear in the
 * file, and their ids (tables[i] is the series ids[i]). */
typedef struct ac_table_set {
    int count;
    ac_table **tables;
    char **ids;
} ac_table_set;

/* Reads a long-format CSV: a header, an id column, a date column and value columns, one row per
 * series and date, the series' rows in any order and interleaved. The file is read once under
 * the rules of ac_table_load_csv (quoting, BOM, CRLF, numeric cells, missing markers, the date
 * column and opt->columns chosen the same way). The id column is id_column, else (NULL or "") a
 * column named `id` (any case); it is kept as text and is neither a channel nor the date.
 * id_column_at says where data.id_column was set ("exp.ini:5", ac_config_where), to begin the
 * messages about it (NULL or "": the CSV's path). The rows are grouped by id, and each series'
 * rows sorted by date (stable); every date must parse (calendar.h). Each series is then checked
 * as a wide file is (the date check under opt->check_dates, the missing-value policy), on its own
 * rows: its table is a normal ac_table (source = path, names, dates, freq, date_report, ...) and
 * lines in its messages and date report are the file's. Errors are one line: an id column that is
 * not in the header (did you mean) or that is missing, no date column, an empty id (naming its
 * line), a date that does not parse (naming line and series), and every error of a series'
 * checks, naming it ("data.csv: series 'store_7': line 812: date '2020-01-03' is also on line
 * 800, with other values; ..."). On failure *out is empty ({0}). Free with ac_table_set_free. */
ac_status ac_table_load_long_csv(ac_table_set *out, const char *path, const ac_csv_options *opt,
                                 const char *id_column, const char *id_column_at, ac_error *err);

/* Frees the tables and ids and empties set (NULL or an empty set: nothing). */
void ac_table_set_free(ac_table_set *set);

#endif
