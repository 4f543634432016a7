/* window_input.c - reading a forecast window from a CSV for a checkpoint and writing forecasts
 * as CSV, for `predict` and `explain` (see window_input.h). Dates are read as "Y-M-D[ H:M[:S]]"
 * or "Y/M/D[ H:M[:S]]" (also with 'T') and continued in the same style. */
#include "cli/window_input.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* ---- dates: "Y-M-D[ H:M[:S]]" or "Y/M/D[ H:M[:S]]" (also with 'T'), as seconds ---- */

typedef struct date_style {
    char sep;      /* '-' or '/' */
    char time_sep; /* ' ' or 'T'; 0 when there is no time */
    bool seconds;  /* the time has seconds */
} date_style;

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
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

static bool parse_date(const char *text, long long *secs, date_style *style) {
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    char sep1, sep2, tsep = 0;
    if (sscanf(text, "%d%c%d%c%d%n", &y, &sep1, &mo, &sep2, &d, &n) != 5 || sep1 != sep2 ||
        (sep1 != '-' && sep1 != '/') || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *rest = text + n;
    style->sep = sep1;
    style->time_sep = 0;
    style->seconds = false;
    if (*rest == ' ' || *rest == 'T') {
        tsep = *rest;
        int m = 0;
        int got = sscanf(rest + 1, "%d:%d%n:%d%n", &h, &mi, &m, &s, &m);
        if (got < 2 || h > 23 || mi > 59 || s > 59) return false;
        style->time_sep = tsep;
        style->seconds = got == 3;
        rest += 1 + m;
    }
    if (*rest != '\0') return false;
    *secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

static void format_date(long long secs, const date_style *st, char *buf, size_t n) {
    long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long long rem = secs - days * 86400, y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600), mi = (int)(rem % 3600 / 60), s = (int)(rem % 60);
    int w = st->sep == '-' ? snprintf(buf, n, "%04lld-%02d-%02d", y, m, d)
                           : snprintf(buf, n, "%lld/%d/%d", y, m, d);
    if (w < 0 || (size_t)w >= n || !st->time_sep) return;
    if (st->sep == '-')
        snprintf(buf + w, n - (size_t)w, st->seconds ? "%c%02d:%02d:%02d" : "%c%02d:%02d",
                 st->time_sep, h, mi, s);
    else
        snprintf(buf + w, n - (size_t)w, st->seconds ? "%c%d:%02d:%02d" : "%c%d:%02d", st->time_sep,
                 h, mi, s);
}

int ac_cli_read_window(const ac_checkpoint *ck, const char *input, int at, ac_table **table,
                       int *end_out, float *window) {
    int L = ck->config.data.lookback, C = ck->channels;
    char columns[AC_CONFIG_TEXT];
    size_t used = 0;
    for (int c = 0; c < C && used < sizeof columns; c++)
        used += (size_t)snprintf(columns + used, sizeof columns - used, "%s%s", c ? "," : "",
                                 ck->channel_names[c]);
    ac_csv_options opt = {.date_column = ck->config.data.date_column, .columns = columns};
    ac_error err;
    if (ac_table_load_csv(table, input, &opt, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    const ac_table *t = *table;
    int end = at ? at : t->rows;
    if (end > t->rows) {
        ac_cli_error("%s: --at %d is past the last data row (%d)", input, end, t->rows);
        return -1;
    }
    if (end < L) {
        ac_cli_error("%s: the model needs %d rows before the forecast, the input has %d%s", input,
                     L, end, at ? " up to --at" : "");
        return -1;
    }
    for (int r = 0; r < L; r++)
        for (int c = 0; c < C; c++)
            window[r * C + c] = (float)t->values[(size_t)(end - L + r) * C + c];
    *end_out = end;
    return 0;
}

/* The forecast as CSV text (malloc'd): header, then H rows. */
char *ac_cli_forecast_csv(const ac_checkpoint *ck, const ac_table *t, int end, const float *out) {
    int H = ck->config.data.horizon, C = ck->channels;
    size_t cap = 256 + (size_t)(H + 1) * (size_t)(C + 1) * 40;
    for (int c = 0; c < C; c++) cap += strlen(ck->channel_names[c]) + 4;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    long long last = 0, prev = 0;
    date_style st, st2;
    bool dated = t->dates && end >= 2 && parse_date(t->dates[end - 1], &last, &st) &&
                 parse_date(t->dates[end - 2], &prev, &st2) && last > prev;
    size_t used =
        (size_t)snprintf(buf, cap, "%s", dated ? (t->date_name ? t->date_name : "date") : "step");
    for (int c = 0; c < C; c++)
        used += (size_t)snprintf(buf + used, cap - used, ",%s", ck->channel_names[c]);
    used += (size_t)snprintf(buf + used, cap - used, "\n");
    for (int h = 0; h < H; h++) {
        char label[64];
        if (dated)
            format_date(last + (long long)(h + 1) * (last - prev), &st, label, sizeof label);
        else
            snprintf(label, sizeof label, "%d", h + 1);
        used += (size_t)snprintf(buf + used, cap - used, "%s", label);
        for (int c = 0; c < C; c++)
            used += (size_t)snprintf(buf + used, cap - used, ",%.9g", (double)out[h * C + c]);
        used += (size_t)snprintf(buf + used, cap - used, "\n");
    }
    return buf;
}

int ac_cli_parse_window_args(int argc, char **argv, const char *verb, const char *usage,
                             ac_cli_window_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            puts(usage);
            return 1;
        } else if (!strcmp(arg, "--input") || !strcmp(arg, "--out") || !strcmp(arg, "--at")) {
            if (i + 1 >= argc) {
                ac_cli_error("%s: %s needs a value", verb, arg);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--input"))
                a->input = v;
            else if (!strcmp(arg, "--out"))
                a->out = v;
            else if (ac_cli_parse_positive("--at", v, &a->at) != 0)
                return -1;
        } else if (arg[0] == '-') {
            ac_cli_error("%s: unknown option '%s' (%s)", verb, arg, usage);
            return -1;
        } else if (a->checkpoint) {
            ac_cli_error("%s: one checkpoint expected, got '%s' and '%s'", verb, a->checkpoint,
                         arg);
            return -1;
        } else {
            a->checkpoint = arg;
        }
    }
    if (!a->checkpoint || !a->input) {
        ac_cli_error("%s: %s", verb, usage);
        return -1;
    }
    return 0;
}
