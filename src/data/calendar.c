/* calendar.c - dates and frequencies (see include/attncast/calendar.h).
 *
 * A date is seconds since 1970-01-01 00:00 on the proleptic Gregorian calendar, without time
 * zones; whole days convert to and from year, month and day with Howard Hinnant's
 * days_from_civil / civil_from_days. Each frequency numbers its own calendar: a fixed step
 * counts seconds, business days count Monday..Friday (five to a week), and month frequencies
 * count months (year * 12 + month - 1); stepping and measuring a gap are then integer
 * arithmetic on those numbers. The calendar features (data.calendar) read the same split
 * date: a position k in a period p, written as sin and cos of 2 pi k / p.
 */
#include "attncast/calendar.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY  86400LL
#define WEEK (7 * DAY)
/* 1970-01-01 was a Thursday: day + THURSDAY is 0 on a Monday, modulo 7. */
#define THURSDAY 3
/* Inference gives up when more than 1 step in IRREGULAR_SHARE is not whole periods. */
#define IRREGULAR_SHARE 10
/* The largest k of "<k><unit>" that ac_freq_parse takes. */
#define FREQ_MULTIPLE_MAX 1000000

/* ---- days ---- */

static long long floor_div(long long a, long long b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static long long floor_mod(long long a, long long b) {
    return a - floor_div(a, b) * b;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (days_from_civil). */
static long long days_from_civil(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d) {
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap_year(long long y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* A date split into its day number, calendar date and time of day. */
typedef struct split_date {
    long long day, y;
    int m, d;
    long long tod; /* seconds into the day */
} split_date;

static split_date split(long long secs) {
    split_date s;
    s.day = floor_div(secs, DAY);
    s.tod = secs - s.day * DAY;
    civil_from_days(s.day, &s.y, &s.m, &s.d);
    return s;
}

/* Monday 0 .. Sunday 6. */
static int weekday(long long day) {
    return (int)floor_mod(day + THURSDAY, 7);
}

/* Business days are numbered five to a week; a weekend day takes the Friday before. */
static long long business_index(long long day) {
    int w = weekday(day);
    if (w > 4) w = 4;
    return floor_div(day + THURSDAY, 7) * 5 + w;
}

static long long business_day(long long index) {
    return floor_div(index, 5) * 7 + floor_mod(index, 5) - THURSDAY;
}

static long long month_index(const split_date *s) {
    return s->y * 12 + s->m - 1;
}

/* ---- reading and writing dates ---- */

/* Between lo and hi digits at *p into *v; *len gets how many. */
static bool read_digits(const char **p, int lo, int hi, long long *v, int *len) {
    const char *s = *p;
    long long x = 0;
    int k = 0;
    while (k < hi && isdigit((unsigned char)s[k])) x = x * 10 + (s[k++] - '0');
    if (k < lo || isdigit((unsigned char)s[k])) return false;
    *p = s + k;
    *v = x;
    *len = k;
    return true;
}

/* +1: written with a leading zero, -1: a single digit, 0: cannot tell. */
static signed char padding(long long v, int len) {
    return len == 1 ? -1 : v < 10 ? 1 : 0;
}

static signed char settle(signed char a, signed char b) {
    return a ? a : b;
}

/* The time after the date: "H:M[:S[.000]][Z]" after ' ' or 'T', or nothing. */
static bool parse_time(const char *p, long long *tod, ac_date_style *st) {
    st->time_sep = 0;
    st->seconds = false;
    st->fraction = 0;
    st->zulu = false;
    st->pad_hour = 0;
    *tod = 0;
    if (*p == '\0') return true;
    if (*p != ' ' && *p != 'T') return false;
    st->time_sep = *p++;
    long long h, mi, s = 0;
    int hl, ml, sl;
    if (!read_digits(&p, 1, 2, &h, &hl) || *p++ != ':' || !read_digits(&p, 2, 2, &mi, &ml))
        return false;
    if (*p == ':') {
        p++;
        if (!read_digits(&p, 2, 2, &s, &sl)) return false;
        st->seconds = true;
        if (*p == '.') {
            p++;
            while (*p == '0' && st->fraction < 9) p++, st->fraction++;
            if (st->fraction == 0 || isdigit((unsigned char)*p)) return false;
        }
    }
    if (*p == 'Z') st->zulu = true, p++;
    if (*p != '\0' || h > 23 || mi > 59 || s > 59) return false;
    st->pad_hour = padding(h, hl);
    *tod = h * 3600 + mi * 60 + s;
    return true;
}

bool ac_date_parse(const char *text, long long *secs, ac_date_style *style) {
    ac_date_style st = {0};
    const char *p = text;
    long long a, b, c = 1;
    int al, bl, cl = 2;
    if (!read_digits(&p, 1, 4, &a, &al)) return false;
    char sep = *p;
    if (sep != '-' && sep != '/' && sep != '.') return false;
    p++;
    if (!read_digits(&p, 1, 2, &b, &bl)) return false;
    long long y, m, d;
    int ml, dl;
    if (sep == '.') { /* D.M.Y */
        if (al > 2 || *p++ != '.' || !read_digits(&p, 4, 4, &c, &cl)) return false;
        y = c, m = b, d = a, ml = bl, dl = al;
    } else {
        if (al != 4) return false;
        if (*p == sep) {
            p++;
            if (!read_digits(&p, 1, 2, &c, &cl)) return false;
        } else if (sep == '-' && *p == '\0') {
            st.month_only = true;
        } else {
            return false;
        }
        y = a, m = b, d = c, ml = bl, dl = cl;
    }
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m)) return false;
    long long tod;
    if (!parse_time(p, &tod, &st)) return false;
    st.sep = sep;
    st.pad_date = settle(padding(m, ml), st.month_only ? 0 : padding(d, dl));
    if (padding(m, ml) == -1 || (!st.month_only && padding(d, dl) == -1)) st.pad_date = -1;
    *secs = days_from_civil(y, (int)m, (int)d) * DAY + tod;
    *style = st;
    return true;
}

void ac_date_style_merge(ac_date_style *into, const ac_date_style *from) {
    into->pad_date = settle(into->pad_date, from->pad_date);
    into->pad_hour = settle(into->pad_hour, from->pad_hour);
}

void ac_date_format(long long secs, const ac_date_style *st, char *buf, size_t n) {
    split_date s = split(secs);
    /* when the input never showed it: two digits, except after '/' (as in 1990/1/1 0:00) */
    int pd = (st->pad_date ? st->pad_date > 0 : st->sep != '/') ? 2 : 1;
    int ph = (st->pad_hour ? st->pad_hour > 0 : st->sep != '/') ? 2 : 1;
    int w;
    if (st->month_only)
        w = snprintf(buf, n, "%04lld-%0*d", s.y, pd, s.m);
    else if (st->sep == '.')
        w = snprintf(buf, n, "%0*d.%0*d.%04lld", pd, s.d, pd, s.m, s.y);
    else
        w = snprintf(buf, n, "%04lld%c%0*d%c%0*d", s.y, st->sep, pd, s.m, st->sep, pd, s.d);
    if (w < 0 || (size_t)w >= n || !st->time_sep || st->month_only) return;
    int h = (int)(s.tod / 3600), mi = (int)(s.tod % 3600 / 60), sec = (int)(s.tod % 60);
    w += snprintf(buf + w, n - (size_t)w, "%c%0*d:%02d", st->time_sep, ph, h, mi);
    if (st->seconds && (size_t)w < n) w += snprintf(buf + w, n - (size_t)w, ":%02d", sec);
    if (st->fraction && (size_t)w < n)
        w += snprintf(buf + w, n - (size_t)w, ".%0*d", st->fraction, 0);
    if (st->zulu && (size_t)w < n) snprintf(buf + w, n - (size_t)w, "Z");
}

/* ---- frequencies ---- */

bool ac_freq_known(ac_freq f) {
    return f.kind != AC_FREQ_UNKNOWN && f.n > 0;
}

const char *ac_freq_name(ac_freq f, char buf[AC_FREQ_TEXT]) {
    long long k = f.n;
    const char *unit = "unknown";
    switch (f.kind) {
    case AC_FREQ_UNKNOWN:
        k = 1;
        break;
    case AC_FREQ_FIXED: {
        static const struct {
            long long secs;
            const char *name;
        } units[] = {{WEEK, "W"}, {DAY, "D"}, {3600, "h"}, {60, "min"}, {1, "s"}};
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (f.n % units[i].secs == 0) {
                k = f.n / units[i].secs;
                unit = units[i].name;
                break;
            }
        break;
    }
    case AC_FREQ_BUSINESS_DAY:
        unit = "B";
        break;
    case AC_FREQ_MONTH_START:
    case AC_FREQ_MONTH_END: {
        bool start = f.kind == AC_FREQ_MONTH_START;
        if (f.n % 12 == 0)
            k = f.n / 12, unit = start ? "YS" : "YE";
        else if (f.n % 3 == 0)
            k = f.n / 3, unit = start ? "QS" : "QE";
        else
            unit = start ? "MS" : "ME";
        break;
    }
    }
    if (!ac_freq_known(f) || k == 1)
        snprintf(buf, AC_FREQ_TEXT, "%s", ac_freq_known(f) ? unit : "unknown");
    else
        snprintf(buf, AC_FREQ_TEXT, "%lld%s", k, unit);
    return buf;
}

bool ac_freq_parse(const char *text, ac_freq *out) {
    static const struct {
        const char *name;
        ac_freq_kind kind;
        long long n;
    } units[] = {
        {"s", AC_FREQ_FIXED, 1},         {"S", AC_FREQ_FIXED, 1},
        {"min", AC_FREQ_FIXED, 60},      {"T", AC_FREQ_FIXED, 60},
        {"h", AC_FREQ_FIXED, 3600},      {"H", AC_FREQ_FIXED, 3600},
        {"D", AC_FREQ_FIXED, DAY},       {"d", AC_FREQ_FIXED, DAY},
        {"W", AC_FREQ_FIXED, WEEK},      {"B", AC_FREQ_BUSINESS_DAY, 1},
        {"MS", AC_FREQ_MONTH_START, 1},  {"ME", AC_FREQ_MONTH_END, 1},
        {"M", AC_FREQ_MONTH_END, 1},     {"QS", AC_FREQ_MONTH_START, 3},
        {"QE", AC_FREQ_MONTH_END, 3},    {"Q", AC_FREQ_MONTH_END, 3},
        {"YS", AC_FREQ_MONTH_START, 12}, {"AS", AC_FREQ_MONTH_START, 12},
        {"YE", AC_FREQ_MONTH_END, 12},   {"Y", AC_FREQ_MONTH_END, 12},
        {"A", AC_FREQ_MONTH_END, 12},
    };
    const char *p = text;
    long long k = 1;
    if (isdigit((unsigned char)*p)) {
        k = 0;
        while (isdigit((unsigned char)*p) && k <= FREQ_MULTIPLE_MAX) k = k * 10 + (*p++ - '0');
        if (k < 1 || k > FREQ_MULTIPLE_MAX) return false;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(p, units[i].name) == 0) {
            *out = (ac_freq){units[i].kind, k * units[i].n};
            return true;
        }
    return false;
}

int ac_freq_season(ac_freq f) {
    if (!ac_freq_known(f)) return 1;
    switch (f.kind) {
    case AC_FREQ_FIXED:
        if (f.n < DAY && DAY % f.n == 0) return (int)(DAY / f.n);
        return f.n == DAY ? 7 : f.n == WEEK ? 52 : 1;
    case AC_FREQ_BUSINESS_DAY:
        return f.n == 1 ? 5 : 1;
    case AC_FREQ_MONTH_START:
    case AC_FREQ_MONTH_END:
        return f.n < 12 && 12 % f.n == 0 ? (int)(12 / f.n) : 1;
    case AC_FREQ_UNKNOWN:
        break;
    }
    return 1;
}

long long ac_freq_step(ac_freq f, long long secs, long long k) {
    if (!ac_freq_known(f)) return secs;
    split_date s = split(secs);
    switch (f.kind) {
    case AC_FREQ_FIXED:
        return secs + k * f.n;
    case AC_FREQ_BUSINESS_DAY:
        return business_day(business_index(s.day) + k * f.n) * DAY + s.tod;
    case AC_FREQ_MONTH_START:
    case AC_FREQ_MONTH_END: {
        long long mi = month_index(&s) + k * f.n, y = floor_div(mi, 12);
        int m = (int)floor_mod(mi, 12) + 1;
        int d = f.kind == AC_FREQ_MONTH_START ? 1 : days_in_month(y, m);
        return days_from_civil(y, m, d) * DAY + s.tod;
    }
    case AC_FREQ_UNKNOWN:
        break;
    }
    return secs;
}

/* The date's number on freq's calendar, or false when the date is not on it. */
static bool calendar_index(ac_freq f, const split_date *s, long long secs, long long *index) {
    switch (f.kind) {
    case AC_FREQ_FIXED:
        *index = secs;
        return true;
    case AC_FREQ_BUSINESS_DAY:
        *index = business_index(s->day);
        return weekday(s->day) < 5;
    case AC_FREQ_MONTH_START:
        *index = month_index(s);
        return s->d == 1;
    case AC_FREQ_MONTH_END:
        *index = month_index(s);
        return s->d == days_in_month(s->y, s->m);
    case AC_FREQ_UNKNOWN:
        break;
    }
    return false;
}

bool ac_freq_periods(ac_freq f, long long a, long long b, long long *periods) {
    if (!ac_freq_known(f)) return false;
    split_date sa = split(a), sb = split(b);
    long long ia, ib;
    if (!calendar_index(f, &sa, a, &ia) || !calendar_index(f, &sb, b, &ib)) return false;
    if (f.kind != AC_FREQ_FIXED && sa.tod != sb.tod) return false;
    if ((ib - ia) % f.n != 0) return false;
    *periods = (ib - ia) / f.n;
    return true;
}

void ac_calendar_steps_count(ac_freq f, const long long *secs, int n, ac_calendar_steps *out) {
    *out = (ac_calendar_steps){.first_gap = -1, .first_repeat = -1, .first_irregular = -1};
    for (int i = 1; i < n; i++) {
        long long p;
        if (secs[i] == secs[i - 1]) {
            if (out->repeats++ == 0) out->first_repeat = i;
        } else if (!ac_freq_periods(f, secs[i - 1], secs[i], &p) || p < 1) {
            if (out->irregular++ == 0) out->first_irregular = i;
        } else if (p > 1) {
            if (out->gaps++ == 0) out->first_gap = i - 1;
            out->missing += p - 1;
        }
    }
}

/* ---- inference ---- */

static int compare_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The most common of v[0..n) (the smallest of equally common ones); sorts v. */
static long long mode(long long *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_ll);
    long long best = v[0];
    int best_count = 0;
    for (int i = 0, j; i < n; i = j) {
        for (j = i; j < n && v[j] == v[i];) j++;
        if (j - i > best_count) best = v[i], best_count = j - i;
    }
    return best;
}

ac_freq ac_freq_infer(const long long *secs, int n, bool *ambiguous_with_b) {
    ac_freq f = {AC_FREQ_UNKNOWN, 0};
    if (ambiguous_with_b) *ambiguous_with_b = false;
    long long *steps = n > 1 ? malloc((size_t)(n - 1) * sizeof *steps) : NULL;
    if (!steps) return f;
    bool same_tod = true, starts = true, ends = true, weekdays = true, crosses_weekend = false;
    long long first_tod = split(secs[0]).tod;
    for (int i = 0; i < n; i++) {
        split_date s = split(secs[i]);
        same_tod &= s.tod == first_tod;
        starts &= s.d == 1;
        ends &= s.d == days_in_month(s.y, s.m);
        weekdays &= weekday(s.day) < 5;
        if (i > 0)
            crosses_weekend |= business_index(s.day) - business_index(split(secs[i - 1]).day) !=
                               s.day - split(secs[i - 1]).day;
    }
    /* on a month's start or end at one time of day: count months, else seconds */
    bool monthly = same_tod && (starts || ends);
    int count = 0;
    for (int i = 1; i < n; i++) {
        if (secs[i] <= secs[i - 1]) continue;
        split_date s = split(secs[i]), p = split(secs[i - 1]);
        steps[count++] = monthly ? month_index(&s) - month_index(&p) : secs[i] - secs[i - 1];
    }
    if (count > 0 && monthly) {
        f = (ac_freq){starts ? AC_FREQ_MONTH_START : AC_FREQ_MONTH_END, mode(steps, count)};
    } else if (count > 0) {
        long long step = mode(steps, count);
        bool daily_weekdays = step == DAY && same_tod && weekdays;
        if (daily_weekdays && crosses_weekend) {
            f = (ac_freq){AC_FREQ_BUSINESS_DAY, 1};
        } else {
            f = (ac_freq){AC_FREQ_FIXED, step};
            if (ambiguous_with_b) *ambiguous_with_b = daily_weekdays;
        }
    }
    free(steps);
    if (count == 0 || f.n < 1) return (ac_freq){AC_FREQ_UNKNOWN, 0};
    ac_calendar_steps cs;
    ac_calendar_steps_count(f, secs, n, &cs);
    if ((long long)cs.irregular * IRREGULAR_SHARE > count) {
        if (ambiguous_with_b) *ambiguous_with_b = false;
        return (ac_freq){AC_FREQ_UNKNOWN, 0};
    }
    return f;
}

/* ---- calendar features ---- */

#define AC_CAL_NAME_(id, name) name,
static const char *const feature_names[AC_CALENDAR_FEATURE_COUNT] = {
    AC_CALENDAR_FEATURES(AC_CAL_NAME_)};
#undef AC_CAL_NAME_

const char *ac_calendar_feature_name(int index) {
    return index >= 0 && index < AC_CALENDAR_FEATURE_COUNT ? feature_names[index] : NULL;
}

bool ac_calendar_feature_parse(const char *name, unsigned *bit) {
    for (int i = 0; name && i < AC_CALENDAR_FEATURE_COUNT; i++)
        if (strcmp(name, feature_names[i]) == 0) {
            *bit = 1u << i;
            return true;
        }
    return false;
}

int ac_calendar_columns(unsigned features) {
    int n = 0;
    for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT; i++) n += (features >> i) & 1u;
    return 2 * n;
}

void ac_calendar_values(long long secs, unsigned features, double *out) {
    const double two_pi = 6.283185307179586476925286766559;
    split_date s = split(secs);
    long long jan1 = days_from_civil(s.y, 1, 1);
    for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT; i++) {
        if (!(features & (1u << i))) continue;
        long long k = 0, p = 1;
        switch (i) {
        case AC_CALENDAR_INDEX_HOUR_OF_DAY:
            k = s.tod / 3600;
            p = 24;
            break;
        case AC_CALENDAR_INDEX_DAY_OF_WEEK:
            k = weekday(s.day);
            p = 7;
            break;
        case AC_CALENDAR_INDEX_DAY_OF_MONTH:
            k = s.d - 1;
            p = days_in_month(s.y, s.m);
            break;
        case AC_CALENDAR_INDEX_DAY_OF_YEAR:
            k = s.day - jan1;
            p = leap_year(s.y) ? 366 : 365;
            break;
        case AC_CALENDAR_INDEX_MONTH_OF_YEAR:
            k = s.m - 1;
            p = 12;
            break;
        }
        double angle = two_pi * (double)k / (double)p;
        *out++ = sin(angle);
        *out++ = cos(angle);
    }
}
