/* calendar.h - dates as a CSV writes them, and the calendar a series follows.
 *
 * A date is read into seconds since 1970-01-01 00:00 (proleptic Gregorian, no time zone) plus
 * the style it was written in, so that dates made here look like the input's: "Y-M-D",
 * "Y/M/D" or "D.M.Y", each with an optional time "H:M" or "H:M:S" after a space or a 'T'
 * (zero fractional seconds and a trailing 'Z' are kept as written), or a month label "Y-M".
 *
 * A frequency says how one row's date follows the previous one. Its names are those of pandas:
 *
 *   <k>s, <k>min, <k>h, <k>D, <k>W   a fixed step (k = 1 is written without it: min, h, D, W)
 *   B                                business days (Monday to Friday, Saturday and Sunday skipped)
 *   MS, ME                           month start (day 1), month end (the month's last day)
 *   QS, QE                           quarter start and end: every 3 months from the first date
 *   YS, YE                           year start and end: every 12 months
 *   <k>B, <k>MS, <k>ME, ...          every k of those
 *
 * Stepping keeps the calendar: a month end stays a month end (Jan 31, Feb 28 or 29, Mar 31),
 * business days skip weekends, a weekly step keeps the weekday, and the time of day is kept.
 * ac_freq_infer finds the frequency of a whole column of dates (the most common step, read on
 * the month and business-day calendars when the dates sit on them); ac_calendar_steps then
 * sorts every step into regular, a gap (whole periods missing), a repeat (no step) or irregular
 * (not a whole number of periods).
 */
#ifndef ATTNCAST_CALENDAR_H
#define ATTNCAST_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of a date written by ac_date_format, and of a frequency name. */
#define AC_DATE_TEXT 48
#define AC_FREQ_TEXT 24

/* How a date was written. Padding is +1 (two digits: "01"), -1 (not: "1") or 0 when the text
 * did not show it ("12"); merging the styles of many dates settles it. */
typedef struct ac_date_style {
    char sep;             /* '-', '/' or '.' (D.M.Y) */
    bool month_only;      /* "Y-M": no day */
    char time_sep;        /* ' ' or 'T'; 0 without a time */
    bool seconds;         /* the time has seconds */
    int fraction;         /* digits of zero fractional seconds (".000": 3) */
    bool zulu;            /* a trailing 'Z' */
    signed char pad_date; /* month and day */
    signed char pad_hour;
} ac_date_style;

/* Reads text into *secs and *style; false (leaving both alone) when it is not a date above. */
bool ac_date_parse(const char *text, long long *secs, ac_date_style *style);

/* Settles into's unknown paddings from another date's style. */
void ac_date_style_merge(ac_date_style *into, const ac_date_style *from);

/* Writes secs in style (a month label writes the month of secs). */
void ac_date_format(long long secs, const ac_date_style *style, char *buf, size_t n);

/* ---- frequencies ---- */

typedef enum ac_freq_kind {
    AC_FREQ_UNKNOWN,      /* no dates, dates that do not parse, or no regular step */
    AC_FREQ_FIXED,        /* every n seconds */
    AC_FREQ_BUSINESS_DAY, /* every n business days, at one time of day */
    AC_FREQ_MONTH_START,  /* day 1 of every n-th month */
    AC_FREQ_MONTH_END     /* the last day of every n-th month */
} ac_freq_kind;

typedef struct ac_freq {
    ac_freq_kind kind;
    long long n; /* seconds, business days or months per step; > 0 unless unknown */
} ac_freq;

/* The pandas-style name ("10min", "h", "D", "B", "W", "ME", "QS", ...), or "unknown". */
const char *ac_freq_name(ac_freq freq, char buf[AC_FREQ_TEXT]);

/* Reads a name (as ac_freq_name writes it, also "1D", "60min", "3MS", "M" for ME, "Q" for QE,
 * "Y" or "A" for YE, "T" for min, "H" for h); false when it is none. */
bool ac_freq_parse(const char *text, ac_freq *freq);

bool ac_freq_known(ac_freq freq);

/* The season length the frequency suggests: 144 for 10min, 24 for h, steps per day for other
 * steps that divide a day, 7 for D, 5 for B, 52 for W, 12 for MS/ME, 4 for QS/QE; 1 otherwise
 * (yearly, unknown). */
int ac_freq_season(ac_freq freq);

/* The date k periods after secs (k may be negative). A date off the calendar is first moved to
 * it: a weekend to the Friday before (business days), any day of a month to its start or end. */
long long ac_freq_step(ac_freq freq, long long secs, long long k);

/* Periods from a to b when both lie on the same calendar (b = ac_freq_step(freq, a, *periods));
 * false otherwise. */
bool ac_freq_periods(ac_freq freq, long long a, long long b, long long *periods);

/* The frequency of n dates in time order (equal neighbours allowed): unknown when there is no
 * step, or when more than a tenth of the steps are not whole periods of the most common step.
 * *ambiguous_with_b (may be NULL) is set when the answer is D but the dates also fit B (no date
 * on a weekend, none between). */
ac_freq ac_freq_infer(const long long *secs, int n, bool *ambiguous_with_b);

/* How the steps between n dates in time order follow freq. Rows are 0-based indexes into
 * secs; -1 when there is none. */
typedef struct ac_calendar_steps {
    int gaps;            /* steps of more than one period */
    long long missing;   /* the periods missing in them */
    int first_gap;       /* the row before the first gap */
    int repeats;         /* steps of zero (the row repeats the date before it) */
    int first_repeat;    /* the first such row */
    int irregular;       /* steps that are not a whole number of periods */
    int first_irregular; /* the row ending the first */
} ac_calendar_steps;

void ac_calendar_steps_count(ac_freq freq, const long long *secs, int n, ac_calendar_steps *out);

/* ---- calendar features (data.calendar, MODEL.md version 2 "Covariates") ----
 *
 * Each feature is a position k (0-based) in a period p and becomes two columns,
 * sin(2 pi k / p) and cos(2 pi k / p): hour_of_day (k = hour, p = 24), day_of_week (Monday = 0,
 * p = 7), day_of_month (day - 1, p = the days of that month), day_of_year (day of the year - 1,
 * p = 365 or 366), month_of_year (month - 1, p = 12). A set of features is a bit mask of
 * AC_CALENDAR_* in this order, which is also the order of their columns. */
#define AC_CALENDAR_FEATURES(X)                                                                    \
    X(HOUR_OF_DAY, "hour_of_day")                                                                  \
    X(DAY_OF_WEEK, "day_of_week")                                                                  \
    X(DAY_OF_MONTH, "day_of_month")                                                                \
    X(DAY_OF_YEAR, "day_of_year")                                                                  \
    X(MONTH_OF_YEAR, "month_of_year")

#define AC_CAL_INDEX_(id, name) AC_CALENDAR_INDEX_##id,
enum { AC_CALENDAR_FEATURES(AC_CAL_INDEX_) AC_CALENDAR_FEATURE_COUNT };
#undef AC_CAL_INDEX_
#define AC_CAL_BIT_(id, name) AC_CALENDAR_##id = 1u << AC_CALENDAR_INDEX_##id,
enum { AC_CALENDAR_FEATURES(AC_CAL_BIT_) };
#undef AC_CAL_BIT_

/* The name of feature index i ("hour_of_day", ...), NULL out of range. */
const char *ac_calendar_feature_name(int index);
/* The bit of a feature name; false when it names none. */
bool ac_calendar_feature_parse(const char *name, unsigned *bit);
/* Columns a feature set makes: 2 per feature. */
int ac_calendar_columns(unsigned features);
/* Writes the ac_calendar_columns(features) values of the date secs into out: for each feature
 * of the set, in AC_CALENDAR_FEATURES order, its sin then its cos. */
void ac_calendar_values(long long secs, unsigned features, double *out);

#endif
