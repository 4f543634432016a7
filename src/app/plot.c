/* plot.c - gnuplot pictures of runs and explanations (see plot.h). Each picture is one gnuplot
 * script with its data as inline datablocks (plot_internal.h writes it to any stream), sent
 * through popen and drawn twice: once to PNG and once to SVG. gnuplot's own messages go to
 * <dir>/gnuplot.log.
 *
 * What every picture does to be read at a glance: time runs along a date axis wherever the data
 * has dates (seconds since 1970 read with timefmt '%s', tics at a round step that leaves a few
 * labels, each label showing what the step changes; the labels say they are dates, so the axis
 * needs no title), and legends sit outside the data area. */
#include "app/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attncast/calendar.h"
#include "attncast/intervals.h"
#include "plot_internal.h"

#define MAX_FIELDS 64 /* test_forecasts.csv: 6 + 2 x 8 conformal bounds + 8 quantiles */
#define DAY        86400LL

bool ac_plot_available(void) {
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static ac_status no_gnuplot(ac_error *err) {
    return ac_error_set(err, AC_ERR_STATE,
                        "gnuplot is not installed, so no pictures were drawn (apt-get install "
                        "gnuplot-nox, then: attncast plot RUN_DIR)");
}

/* Opens gnuplot with its messages going to dir/gnuplot.log. */
static FILE *open_gnuplot(const char *dir, ac_error *err) {
    if (strchr(dir, '\'')) {
        ac_error_set(err, AC_ERR_INVALID, "%s: a folder name with a quote cannot be plotted", dir);
        return NULL;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "gnuplot 2>'%s/gnuplot.log' >&2", dir);
    FILE *gp = popen(cmd, "w");
    if (!gp) ac_error_set(err, AC_ERR_IO, "cannot start gnuplot");
    return gp;
}

static ac_status close_gnuplot(FILE *gp, const char *dir, const char *what, ac_error *err) {
    int status = pclose(gp);
    char log[2048];
    snprintf(log, sizeof log, "%s/gnuplot.log", dir);
    struct stat st;
    if (status == 0 && stat(log, &st) == 0 && st.st_size == 0) remove(log); /* nothing to say */
    if (status != 0)
        return ac_error_set(err, AC_ERR_IO, "%s: gnuplot failed drawing %s; see %s/gnuplot.log",
                            dir, what, dir);
    return AC_OK;
}

/* The two terminals every picture is drawn to. */
static void each_terminal(FILE *gp, const char *dir, const char *name, int width, int height,
                          const char *plot_commands) {
    fprintf(gp, "set terminal pngcairo size %d,%d font ',10'\nset output '%s/%s.png'\n%s\n", width,
            height, dir, name, plot_commands);
    fprintf(gp, "set terminal svg size %d,%d dynamic font ',10'\nset output '%s/%s.svg'\n%s\n",
            width, height, dir, name, plot_commands);
    fprintf(gp, "unset output\n");
}

/* ---- date axes ---- */

/* Round steps between date tics below a month, in seconds, and in months above. */
static const long long SECOND_STEPS[] = {60,   300,      600,      900,      1800,
                                         3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
                                         DAY,  2 * DAY,  7 * DAY,  14 * DAY};
static const int MONTH_STEPS[] = {1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct civil {
    int year, month, day, hour, minute;
} civil;

static civil civil_of(long long secs) {
    static const ac_date_style iso = {.sep = '-', .time_sep = ' ', .pad_date = 1, .pad_hour = 1};
    char buf[AC_DATE_TEXT];
    ac_date_format(secs, &iso, buf, sizeof buf);
    civil c = {0};
    if (sscanf(buf, "%d-%d-%d %d:%d", &c.year, &c.month, &c.day, &c.hour, &c.minute) < 3)
        c.month = 1;
    return c;
}

static long long ceil_to(long long x, long long unit) {
    long long q = x / unit - (x % unit != 0 && x < 0);
    return q * unit < x ? (q + 1) * unit : q * unit;
}

/* A tic's label: the time of day for steps under a day (with the day when the axis spans more
 * than one), the day for steps under a month, the month, or the year. */
static void tic_label(long long secs, long long step, int months, long long span, char *buf,
                      size_t n) {
    static const char *const MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    civil c = civil_of(secs);
    const char *mon = MON[(c.month - 1 + 12) % 12];
    if (months >= 12)
        snprintf(buf, n, "%d", c.year);
    else if (months > 0)
        snprintf(buf, n, "%s %d", mon, c.year);
    else if (step >= DAY)
        snprintf(buf, n, "%d %s %d", c.day, mon, c.year);
    else if (span <= DAY)
        snprintf(buf, n, "%02d:%02d", c.hour, c.minute);
    else
        snprintf(buf, n, "%d %s %02d:%02d", c.day, mon, c.hour, c.minute);
}

/* Makes x a date axis for data given in seconds over [first, last]: tics at the smallest round
 * step that leaves at most `labels` of them, on round times (multiples of the step in the day,
 * midnights, month or year starts), each labelled with what the step changes. */
static void date_axis(FILE *out, long long first, long long last, int labels) {
    long long span = last - first, step = 0;
    int months = 0;
    for (size_t i = 0; i < COUNT(SECOND_STEPS) && !step; i++)
        if (SECOND_STEPS[i] * labels >= span) step = SECOND_STEPS[i];
    for (size_t i = 0; i < COUNT(MONTH_STEPS) && !step && !months; i++)
        if ((double)MONTH_STEPS[i] * 30.44 * DAY * labels >= (double)span) months = MONTH_STEPS[i];
    if (!step && !months) months = MONTH_STEPS[COUNT(MONTH_STEPS) - 1];
    fprintf(out, "set xdata time\nset timefmt '%%s'\nset xtics (");
    int count = 0;
    char label[64];
    if (step) {
        for (long long x = ceil_to(first, step < DAY ? step : DAY); x <= last && count < 100;
             x += step) {
            tic_label(x, step, 0, span, label, sizeof label);
            fprintf(out, "%s\"%s\" \"%lld\"", count++ ? ", " : "", label, x);
        }
    } else {
        ac_freq month = {AC_FREQ_MONTH_START, 1};
        long long x = ac_freq_step(month, first, 0);
        if (x < first) x = ac_freq_step(month, x, 1);
        for (int guard = 0; x <= last && guard < 20000; guard++, x = ac_freq_step(month, x, 1)) {
            civil c = civil_of(x);
            if ((c.year * 12 + c.month - 1) % months != 0) continue;
            tic_label(x, 0, months, span, label, sizeof label);
            fprintf(out, "%s\"%s\" \"%lld\"", count++ ? ", " : "", label, x);
        }
    }
    if (!count) { /* too short a span for a round time: label the first date */
        tic_label(first, step ? step : DAY, 0, span, label, sizeof label);
        fprintf(out, "\"%s\" \"%lld\"", label, first);
    }
    fprintf(out, ")\n");
}

/* Reads n dates into secs; false unless every one is a date. */
static bool parse_dates(char *const *dates, int n, long long *secs) {
    for (int i = 0; i < n; i++) {
        ac_date_style style;
        if (!dates[i] || !ac_date_parse(dates[i], &secs[i], &style)) return false;
    }
    return n > 0;
}

/* ---- run pictures ---- */

/* Reads the run folder's small CSV dir/name (header + rows) into lines, its path into path;
 * returns the number of lines or -1. */
static int read_run_csv(const char *dir, const char *name, char *path, size_t path_size,
                        char ***lines_out) {
    snprintf(path, path_size, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    *lines_out = NULL;
    if (!f) return -1;
    char **lines = NULL;
    int n = 0, cap = 0;
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(lines, (size_t)cap * sizeof *lines);
            if (!grown) break;
            lines = grown;
        }
        lines[n] = strdup(buf);
        if (!lines[n]) break;
        n++;
    }
    fclose(f);
    *lines_out = lines;
    return n;
}

static void free_lines(char **lines, int n) {
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

/* Splits a CSV line in place into at most max fields; returns how many. */
static int split_fields(char *line, char **fields, int max) {
    int n = 0;
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* A field of a CSV line (0-based) as a number; NAN when it is missing or not one. */
static double field_number(const char *line, int index) {
    char copy[4096], *f[MAX_FIELDS], *end;
    snprintf(copy, sizeof copy, "%s", line);
    if (split_fields(copy, f, MAX_FIELDS) <= index) return NAN;
    double v = strtod(f[index], &end);
    return end != f[index] ? v : NAN;
}

/* A duration for an axis label: "45 s", "12.5 min", "3.2 h". */
static void format_duration(double secs, char *buf, size_t n) {
    if (secs < 90)
        snprintf(buf, n, "%.0f s", secs);
    else if (secs < 90 * 60)
        snprintf(buf, n, "%.1f min", secs / 60);
    else
        snprintf(buf, n, "%.1f h", secs / 3600);
}

/* The commands a script's picture is drawn with, gathered in memory and sent to each terminal. */
typedef struct commands {
    FILE *f;
    char *text;
    size_t size;
} commands;

static bool commands_open(commands *c, ac_error *err) {
    c->text = NULL;
    c->size = 0;
    c->f = open_memstream(&c->text, &c->size);
    if (!c->f) ac_error_set(err, AC_ERR_NOMEM, "plot: out of memory");
    return c->f != NULL;
}

/* Closes c and writes its picture to out's two terminals. */
static ac_status commands_draw(commands *c, FILE *out, const char *dir, const char *name, int width,
                               int height, ac_error *err) {
    bool ok = fclose(c->f) == 0 && c->text;
    if (ok) each_terminal(out, dir, name, width, height, c->text);
    free(c->text);
    return ok ? AC_OK : ac_error_set(err, AC_ERR_NOMEM, "plot: out of memory");
}

/* history.csv: epoch,train_loss,val_loss,lr,seconds,windows_per_s. Epochs along the bottom (a
 * round step leaving at most ten labels), the wall-clock time elapsed by the end of the same
 * epochs along the top. */
ac_status ac_plot_learning_curves_script(FILE *out, const char *dir, ac_error *err) {
    char path[2048];
    char **lines = NULL;
    int n = read_run_csv(dir, "history.csv", path, sizeof path, &lines);
    if (n < 2) {
        free_lines(lines, n > 0 ? n : 0);
        return ac_error_set(err, AC_ERR_IO, "%s: no epochs to plot", path);
    }
    commands c;
    if (!commands_open(&c, err)) {
        free_lines(lines, n);
        return err->code;
    }
    fprintf(out, "$H << EOD\n");
    for (int i = 1; i < n; i++) fprintf(out, "%s\n", lines[i]);
    fprintf(out, "EOD\n");
    int first = (int)field_number(lines[1], 0), last = (int)field_number(lines[n - 1], 0);
    int step = 1;
    for (int m = 1; (last - first) / step > 10; m *= 10) {
        step = 2 * m;
        if ((last - first) / step <= 10) break;
        step = 5 * m;
        if ((last - first) / step <= 10) break;
        step = 10 * m;
    }
    fprintf(c.f,
            "set datafile separator ','\nset title 'Learning curves'\nset xlabel 'epoch'\n"
            "set ylabel 'loss'\nset grid\nset key outside right top vertical\n"
            "set xtics %d nomirror\n",
            step);
    if (last > first)
        fprintf(c.f, "set xrange [%d:%d]\n", first, last);
    else
        fprintf(c.f, "set xrange [%g:%g]\n", first - 0.5, first + 0.5);
    /* the elapsed time at the epochs the bottom axis labels */
    double elapsed = 0.0;
    bool timed = true;
    char labels[4096] = "";
    size_t used = 0;
    for (int i = 1; i < n && timed; i++) {
        int epoch = (int)field_number(lines[i], 0);
        double secs = field_number(lines[i], 4);
        timed = !isnan(secs) && secs >= 0;
        elapsed += timed ? secs : 0.0;
        if (timed && (epoch - first) % step == 0 && used < sizeof labels - 64) {
            char d[32];
            format_duration(elapsed, d, sizeof d);
            used += (size_t)snprintf(labels + used, sizeof labels - used, "%s\"%s\" %d",
                                     used ? ", " : "", d, epoch);
        }
    }
    if (timed && elapsed > 0.0 && used)
        fprintf(c.f, "set link x2\nset x2tics (%s)\nset x2label 'elapsed wall-clock time'\n",
                labels);
    fprintf(c.f, "plot $H using 1:2 with linespoints lw 2 title 'train', "
                 "$H using 1:3 with linespoints lw 2 title 'validation'\n");
    free_lines(lines, n);
    return commands_draw(&c, out, dir, "learning_curves", 800, 450, err);
}

#define MAX_PLOTTED 8
#define MAX_BANDS   AC_INTERVALS_CAP

/* A shaded interval of forecasts.png: the columns of its bounds in test_forecasts.csv. */
typedef struct band {
    int lo, hi; /* 0-based field indices */
    double level;
    char title[48]; /* "conformal 80%" */
} band;

/* The column whose header field is exactly name, or -1. */
static int column_of(char *const *fields, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(fields[i], name)) return i;
    return -1;
}

/* A header field q<level>, level in (0, 1). */
static bool quantile_column(const char *name, double *level) {
    char *end;
    if (name[0] != 'q') return false;
    *level = strtod(name + 1, &end);
    return end != name + 1 && !*end && *level > 0 && *level < 1;
}

/* The intervals test_forecasts.csv's header holds, widest first: each conformal level's
 * lo<P>,hi<P> columns; without those, each symmetric pair of quantile columns q<a>, q<1 - a>
 * (a quantile model's intervals). Old files, without either, have none. */
static int header_bands(const char *header, band *bands) {
    char copy[4096], *f[MAX_FIELDS];
    snprintf(copy, sizeof copy, "%s", header);
    int n = split_fields(copy, f, MAX_FIELDS), count = 0;
    for (int i = 6; i < n && count < MAX_BANDS; i++) {
        if (strncmp(f[i], "lo", 2) != 0) continue;
        char hi_name[64];
        snprintf(hi_name, sizeof hi_name, "hi%.40s", f[i] + 2);
        char *end;
        double pct = strtod(f[i] + 2, &end);
        int hi = column_of(f, n, hi_name);
        if (end == f[i] + 2 || *end || hi < 0 || !(pct > 0 && pct < 100)) continue;
        bands[count++] = (band){.lo = i, .hi = hi, .level = pct / 100};
        snprintf(bands[count - 1].title, sizeof bands->title, "conformal %s%%", f[i] + 2);
    }
    int conformal = count;
    for (int i = 6; i < n && !conformal && count < MAX_BANDS; i++) { /* else quantile pairs */
        double a, b;
        if (!quantile_column(f[i], &a) || !(a < 0.5)) continue;
        for (int j = 6; j < n; j++)
            if (quantile_column(f[j], &b) && fabs(a + b - 1) <= 1e-6) {
                char pct[32];
                ac_level_percent(1 - 2 * a, pct, sizeof pct);
                bands[count] = (band){.lo = i, .hi = j, .level = 1 - 2 * a};
                snprintf(bands[count++].title, sizeof bands->title, "quantile %s%%", pct);
                break;
            }
    }
    for (int i = 1; i < count; i++) /* widest first: drawn first and lightest, under the others */
        for (int j = i; j > 0 && bands[j].level > bands[j - 1].level; j--) {
            band t = bands[j];
            bands[j] = bands[j - 1];
            bands[j - 1] = t;
        }
    return count;
}

/* The fill of band i of n (0 the widest): the forecast's red mixed with white, lightest for the
 * widest, so that nested bands darken towards the forecast. */
static void band_color(int i, int n, char *buf, size_t size) {
    static const int red[3] = {0xd6, 0x27, 0x28};
    double f = n > 1 ? 0.16 + 0.18 * i / (n - 1) : 0.22;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lround(255 - f * (255 - red[k]));
    snprintf(buf, size, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* test_forecasts.csv: window,step,date,channel,actual,forecast (forecast empty in the lookback;
 * step 0 the last input), then the bounds of the intervals when present (lo80,hi80,...,
 * q0.1,...: header_bands). One panel per window (rows) and channel (columns), a dashed line at
 * the forecast origin, each interval a shaded band under the forecast. */
ac_status ac_plot_forecasts_script(FILE *out, const char *dir, bool *drawn, ac_error *err) {
    *drawn = false;
    char path[2048];
    char **lines = NULL;
    int n = read_run_csv(dir, "test_forecasts.csv", path, sizeof path, &lines);
    if (n < 2) {
        free_lines(lines, n > 0 ? n : 0);
        return AC_OK; /* nothing to draw */
    }
    char *channels[MAX_PLOTTED];
    int windows = 0, n_channels = 0;
    long long *secs = calloc((size_t)n, sizeof *secs);
    bool dated = secs != NULL;
    for (int i = 1; i < n; i++) {
        char copy[4096], *f[MAX_FIELDS];
        snprintf(copy, sizeof copy, "%s", lines[i]);
        if (split_fields(copy, f, MAX_FIELDS) < 6) continue;
        if (atoi(f[0]) + 1 > windows) windows = atoi(f[0]) + 1;
        if (dated) dated = parse_dates(&f[2], 1, &secs[i]);
        int c = 0;
        while (c < n_channels && strcmp(channels[c], f[3]) != 0) c++;
        if (c == n_channels && n_channels < MAX_PLOTTED) {
            channels[n_channels] = strdup(f[3]);
            if (channels[n_channels]) n_channels++;
        }
    }
    commands c = {0};
    if (!n_channels || !commands_open(&c, err)) {
        for (int k = 0; k < n_channels; k++) free(channels[k]);
        free_lines(lines, n);
        free(secs);
        return n_channels ? err->code : AC_OK;
    }
    band bands[MAX_BANDS];
    int n_bands = header_bands(lines[0], bands);
    /* datablocks: x (the date in seconds, or the step), actual, forecast, each band's lo, hi */
    for (int w = 0; w < windows; w++)
        for (int k = 0; k < n_channels; k++) {
            fprintf(out, "$W%d_%d << EOD\n", w, k);
            for (int i = 1; i < n; i++) {
                char copy[4096], *f[MAX_FIELDS];
                snprintf(copy, sizeof copy, "%s", lines[i]);
                int fields = split_fields(copy, f, MAX_FIELDS);
                if (fields < 6 || atoi(f[0]) != w || strcmp(f[3], channels[k]) != 0) continue;
                if (dated)
                    fprintf(out, "%lld", secs[i]);
                else
                    fprintf(out, "%s", f[1]);
                fprintf(out, " %s %s", f[4], f[5][0] ? f[5] : "NaN");
                for (int b = 0; b < n_bands; b++)
                    fprintf(out, " %s %s",
                            bands[b].lo < fields && f[bands[b].lo][0] ? f[bands[b].lo] : "NaN",
                            bands[b].hi < fields && f[bands[b].hi][0] ? f[bands[b].hi] : "NaN");
                fprintf(out, "\n");
            }
            fprintf(out, "EOD\n");
        }
    fprintf(c.f,
            "set multiplot layout %d,%d title 'Test forecasts vs actual (first, middle and last "
            "test window)'\nset grid\nset key outside right top vertical\n"
            "set autoscale xfix\n%s\n",
            windows, n_channels,
            dated ? "unset xlabel" : "set xlabel 'steps from the forecast origin'");
    for (int w = 0; w < windows; w++) {
        /* the window's dates and its forecast origin (step 0) */
        long long first = 0, last = 0, origin = 0;
        bool seen = false, has_origin = false;
        char after[96] = ""; /* ", forecast after <the origin's date>" */
        for (int i = 1; i < n; i++) {
            double win = field_number(lines[i], 0), st = field_number(lines[i], 1);
            if (win != w) continue;
            long long x = dated ? secs[i] : (long long)st;
            if (!seen || x < first) first = x;
            if (!seen || x > last) last = x;
            seen = true;
            if (st == 0) {
                origin = x;
                has_origin = true;
                char copy[4096], *f[MAX_FIELDS];
                snprintf(copy, sizeof copy, "%s", lines[i]);
                if (dated && split_fields(copy, f, MAX_FIELDS) > 2)
                    snprintf(after, sizeof after, ", forecast after %.60s", f[2]);
            }
        }
        if (dated && seen) date_axis(c.f, first, last, 4);
        if (has_origin)
            fprintf(c.f,
                    "set arrow 1 from %s%lld%s, graph 0 to %s%lld%s, graph 1 nohead dt 2 lc rgb "
                    "'#888888'\n",
                    dated ? "\"" : "", origin, dated ? "\"" : "", dated ? "\"" : "", origin,
                    dated ? "\"" : "");
        else
            fprintf(c.f, "unset arrow 1\n");
        for (int k = 0; k < n_channels; k++) {
            fprintf(c.f, "set title \"%s%s\" noenhanced\nplot ", channels[k], after);
            for (int b = 0; b < n_bands; b++) {
                char color[16];
                band_color(b, n_bands, color, sizeof color);
                fprintf(c.f,
                        "$W%d_%d using 1:%d:%d with filledcurves fc rgb '%s' fs solid 1.0 "
                        "noborder title '%s', ",
                        w, k, 4 + 2 * b, 5 + 2 * b, color, bands[b].title);
            }
            fprintf(c.f,
                    "$W%d_%d using 1:2 with lines lw 1.5 lc rgb '#333333' title 'actual', $W%d_%d "
                    "using 1:3 with lines lw 2 lc rgb '#d62728' title 'forecast'\n",
                    w, k, w, k);
        }
    }
    fprintf(c.f, "unset multiplot\n");
    *drawn = true;
    ac_status st = commands_draw(&c, out, dir, "forecasts", 560 * n_channels + 40,
                                 280 * (windows ? windows : 1), err);
    for (int k = 0; k < n_channels; k++) free(channels[k]);
    free_lines(lines, n);
    free(secs);
    return st;
}

/* Draws one script to dir's pictures through gnuplot. */
typedef ac_status (*run_script)(FILE *out, const char *dir, bool *drawn, ac_error *err);

static ac_status learning_curves_script(FILE *out, const char *dir, bool *drawn, ac_error *err) {
    *drawn = true;
    return ac_plot_learning_curves_script(out, dir, err);
}

static ac_status draw(const char *dir, run_script script, const char *what, ac_error *err) {
    FILE *gp = open_gnuplot(dir, err);
    if (!gp) return err->code;
    bool drawn = false;
    if (script(gp, dir, &drawn, err) != AC_OK) {
        pclose(gp);
        return err->code;
    }
    return close_gnuplot(gp, dir, what, err);
}

ac_status ac_plot_run(const char *run_dir, ac_error *err) {
    if (!ac_plot_available()) return no_gnuplot(err);
    if (draw(run_dir, learning_curves_script, "the learning curves", err) != AC_OK)
        return err->code;
    return draw(run_dir, ac_plot_forecasts_script, "the forecasts", err);
}

/* ---- backtest pictures ---- */

/* error_by_step (x column 1) or error_by_fold (x column 2): model and naive MAE as lines. */
static ac_status backtest_script(FILE *out, const char *dir, const char *name, int x_col,
                                 const char *title, const char *xlabel, ac_error *err) {
    char path[2048], file[64];
    char **lines = NULL;
    snprintf(file, sizeof file, "%s.csv", name);
    int n = read_run_csv(dir, file, path, sizeof path, &lines);
    if (n < 2) {
        free_lines(lines, n > 0 ? n : 0);
        return ac_error_set(err, AC_ERR_IO, "%s: nothing to plot", path);
    }
    commands c;
    if (!commands_open(&c, err)) {
        free_lines(lines, n);
        return err->code;
    }
    fprintf(out, "$%s << EOD\n", name);
    for (int i = 1; i < n; i++) fprintf(out, "%s\n", lines[i]);
    fprintf(out, "EOD\n");
    int cols = 0;
    {
        char copy[4096], *f[MAX_FIELDS];
        snprintf(copy, sizeof copy, "%s", lines[0]);
        cols = split_fields(copy, f, MAX_FIELDS);
    }
    if (n == 2) { /* one point: a range around it rather than an empty one */
        double v = field_number(lines[1], x_col - 1);
        fprintf(c.f, "set xrange [%g:%g]\n", v - 1, v + 1);
    }
    fprintf(c.f,
            "set datafile separator ','\nset title '%s'\nset xlabel '%s'\n"
            "set ylabel 'MAE (scaled)'\nset grid\nset key outside right top vertical\n"
            "plot $%s using %d:%d with linespoints lw 2 title 'model', "
            "$%s using %d:%d with linespoints lw 2 dt 2 title 'naive'\n",
            title, xlabel, name, x_col, cols - 1, name, x_col, cols);
    free_lines(lines, n);
    return commands_draw(&c, out, dir, name, 800, 450, err);
}

static ac_status error_by_step_script(FILE *out, const char *dir, bool *drawn, ac_error *err) {
    *drawn = true;
    return backtest_script(out, dir, "error_by_step", 1, "Error by horizon step", "horizon step",
                           err);
}

static ac_status error_by_fold_script(FILE *out, const char *dir, bool *drawn, ac_error *err) {
    *drawn = true;
    return backtest_script(out, dir, "error_by_fold", 2, "Error over time (per fold)",
                           "first origin of the fold (row)", err);
}

/* coverage_by_fold.csv: fold,first_origin,first_origin_date,origins, then one column per
 * interval named <method>_<level %> holding its empirical coverage in the fold. Each interval's
 * coverage against the fold's first origin row, and its nominal level as a dashed line of the
 * same colour. *drawn is false when the file is missing (a backtest without intervals). */
static ac_status coverage_by_fold_script(FILE *out, const char *dir, bool *drawn, ac_error *err) {
    *drawn = false;
    char path[2048];
    char **lines = NULL;
    int n = read_run_csv(dir, "coverage_by_fold.csv", path, sizeof path, &lines);
    if (n < 2) {
        free_lines(lines, n > 0 ? n : 0);
        return AC_OK;
    }
    char header[4096], *f[MAX_FIELDS];
    snprintf(header, sizeof header, "%s", lines[0]);
    int cols = split_fields(header, f, MAX_FIELDS);
    if (cols < 5) {
        free_lines(lines, n);
        return AC_OK;
    }
    commands c;
    if (!commands_open(&c, err)) {
        free_lines(lines, n);
        return err->code;
    }
    *drawn = true;
    fprintf(out, "$coverage_by_fold << EOD\n");
    for (int i = 1; i < n; i++) fprintf(out, "%s\n", lines[i]);
    fprintf(out, "EOD\n");
    double first = field_number(lines[1], 1), last = field_number(lines[n - 1], 1);
    if (n == 2 || !(last > first)) /* one fold: a range around it rather than an empty one */
        fprintf(c.f, "set xrange [%g:%g]\n", first - 1, first + 1);
    else
        fprintf(c.f, "set xrange [%g:%g]\n", first - 0.02 * (last - first),
                last + 0.02 * (last - first));
    fprintf(c.f, "set datafile separator ','\nset title 'Coverage over time (per fold)'\n"
                 "set xlabel 'first origin of the fold (row)'\nset ylabel 'coverage'\n"
                 "set yrange [0:1.05]\nset grid\nset key outside right top vertical\nplot ");
    double drawn_levels[MAX_FIELDS];
    int n_levels = 0;
    for (int k = 4; k < cols; k++) {
        /* "conformal_80" -> 'conformal 80%' at the nominal level 0.8 (one dashed line a level) */
        char name[256];
        snprintf(name, sizeof name, "%s", f[k]);
        char *under = strrchr(name, '_');
        double level = under ? strtod(under + 1, NULL) / 100.0 : NAN;
        if (under) *under = ' ';
        int color = k - 3;
        fprintf(c.f, "%s$coverage_by_fold using 2:%d with linespoints lw 2 lc %d title '%s%%'",
                k > 4 ? ", " : "", k + 1, color, name);
        bool seen = false;
        for (int l = 0; l < n_levels; l++) seen = seen || drawn_levels[l] == level;
        if (isfinite(level) && !seen) drawn_levels[n_levels++] = level;
        if (isfinite(level) && !seen)
            fprintf(c.f, ", %.9g with lines dt 2 lw 1 lc %d title 'nominal %s%%'", level, color,
                    under + 1);
    }
    fprintf(c.f, "\n");
    free_lines(lines, n);
    return commands_draw(&c, out, dir, "coverage_by_fold", 800, 450, err);
}

ac_status ac_plot_backtest(const char *dir, ac_error *err) {
    if (!ac_plot_available()) return no_gnuplot(err);
    if (draw(dir, error_by_step_script, "the error by step", err) != AC_OK) return err->code;
    if (draw(dir, error_by_fold_script, "the error over time", err) != AC_OK) return err->code;
    return draw(dir, coverage_by_fold_script, "the coverage over time", err);
}

/* ---- explanation pictures ---- */

/* One layer's map, mean over heads and series; with future tokens a line after the history
 * tokens on both axes, each side labelled. */
void ac_plot_attention_layer_script(FILE *out, const char *dir, const ac_explanation *ex, int l) {
    int N = ex->tokens, T = ac_explanation_all_tokens(ex), ns = ex->series;
    fprintf(out, "$M << EOD\n");
    for (int i = 0; i < T; i++) {
        for (int k = 0; k < T; k++) {
            double v = 0;
            for (int s = 0; s < ns; s++)
                for (int h = 0; h < ex->heads; h++)
                    v += ex->attention[((((size_t)l * ns + s) * ex->heads + h) * T + i) * T + k];
            fprintf(out, "%s%.6g", k ? " " : "", v / (ns * ex->heads));
        }
        fprintf(out, "\n");
    }
    fprintf(out, "EOD\n");
    char script[1536], marks[768] = "", name[64];
    if (ex->future_tokens > 0)
        snprintf(marks, sizeof marks,
                 "set arrow 1 from %d.5, graph 0 to %d.5, graph 1 nohead lc rgb '#d62728' lw 2 "
                 "front\nset arrow 2 from graph 0, first %d.5 to graph 1, first %d.5 nohead lc "
                 "rgb '#d62728' lw 2 front\nset label 1 'history' at %g, graph 1.02 center\n"
                 "set label 2 'future' at %g, graph 1.02 center tc rgb '#d62728'\n",
                 N - 1, N - 1, N - 1, N - 1, (N - 1) / 2.0, N + (ex->future_tokens - 1) / 2.0);
    snprintf(script, sizeof script,
             "set title \"Attention, layer %d (mean over heads and series)%s\" offset 0, 1\n"
             "set xlabel 'key token (older to newer%s)'\nset ylabel 'query token'\n"
             "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5] reverse\n"
             "set palette defined (0 'white', 1 '#08306b')\n%s"
             "set size ratio -1\nplot $M matrix with image notitle",
             l, ex->future_tokens > 0 ? "\\nfuture-covariate tokens after the red lines" : "",
             ex->future_tokens > 0 ? ", then the future tokens" : "", T - 1, T - 1, marks);
    snprintf(name, sizeof name, "attention_layer%d", l);
    each_terminal(out, dir, name, 600, ex->future_tokens > 0 ? 600 : 560, script);
}

/* future_share: per layer (mean over series) the history and the future share as stacked bars
 * that reach 1, the future share at the bottom, and the future share expected by chance as a
 * dashed line. */
void ac_plot_future_share_script(FILE *out, const char *dir, const ac_explanation *ex) {
    int ns = ex->series;
    fprintf(out, "$S << EOD\n");
    for (int l = 0; l < ex->layers; l++) {
        double hist = 0, fut = 0;
        for (int s = 0; s < ns; s++) {
            hist += ex->history_share[(size_t)l * ns + s];
            fut += ex->future_share[(size_t)l * ns + s];
        }
        fprintf(out, "%d %.9g %.9g\n", l, fut / ns, hist / ns);
    }
    fprintf(out, "EOD\n");
    char script[1024];
    snprintf(script, sizeof script,
             "set title \"Attention on the future-covariate tokens against the history tokens\\n"
             "(mean over heads, query tokens and series)\"\nset xlabel 'layer'\n"
             "set ylabel 'share of attention'\n"
             "set xrange [-0.6:%d.6]\nset yrange [0:1]\nset xtics 1\nset grid ytics\n"
             "set key outside right top vertical\nset style fill solid 0.85 noborder\n"
             "set boxwidth 0.6\n"
             "plot $S using 1:($2 + $3) with boxes lc rgb '#9ecae1' title 'history tokens', "
             "$S using 1:2 with boxes lc rgb '#d62728' title 'future tokens', "
             "%.9g with lines dt 2 lw 2 lc rgb 'black' title sprintf('future by chance (%%d of "
             "%%d tokens)', %d, %d)",
             ex->layers - 1, ac_explanation_chance_future_share(ex), ex->future_tokens,
             ac_explanation_all_tokens(ex));
    each_terminal(out, dir, "future_share", 820, 440, script);
}

/* The input window above the attention each step receives (ac_explanation_step_mean), the most
 * attended spans in a darker colour and numbered 1, 2, ... (at their middle) as explain prints
 * them. Both panels share the time axis (dates when the window has them, else steps before the
 * origin) and fixed margins, the legends right of the data. */
void ac_plot_step_attention_script(FILE *out, const char *dir, const ac_explanation *ex,
                                   const float *window, char *const *names, char *const *dates) {
    int L = ex->lookback, C = ex->channels, stride = ex->columns > 0 ? ex->columns : C;
    ac_step_span top[AC_EXPLAIN_TOP_SPANS];
    int n_top = ac_explanation_top_spans(ex, AC_EXPLAIN_TOP_SPANS, top);
    long long *secs = dates ? malloc((size_t)L * sizeof *secs) : NULL;
    bool dated = secs && parse_dates(dates, L, secs);
    fprintf(out, "$X << EOD\n");
    for (int t = 0; t < L; t++) {
        /* x, the C channels, the attention, its span's rank (0: none), the rank again at the
         * span's middle step (where it is written) */
        int rank = 0, label = 0;
        for (int r = 0; r < n_top; r++)
            if (t >= top[r].first && t < top[r].first + top[r].count) {
                rank = r + 1;
                label = t == top[r].first + (top[r].count - 1) / 2 ? rank : 0;
            }
        if (dated)
            fprintf(out, "%lld", secs[t]);
        else
            fprintf(out, "%d", t - L);
        for (int c = 0; c < C; c++) fprintf(out, " %.9g", (double)window[t * stride + c]);
        fprintf(out, " %.9g %d %d\n", ac_explanation_step_mean(ex, t), rank, label);
    }
    fprintf(out, "EOD\n");
    char *text = NULL;
    size_t size = 0;
    FILE *c = open_memstream(&text, &size);
    if (!c) {
        free(secs);
        return;
    }
    fprintf(c, "set multiplot layout 2,1\nset grid\nset key outside right top vertical\n"
               "set lmargin at screen 0.09\nset rmargin at screen 0.80\n");
    if (dated) {
        double half = L > 1 ? (double)(secs[L - 1] - secs[0]) / (L - 1) / 2 : 1800.0;
        date_axis(c, secs[0], secs[L - 1], 6);
        fprintf(c, "set xrange [\"%.0f\":\"%.0f\"]\n", (double)secs[0] - half,
                (double)secs[L - 1] + half);
    } else {
        fprintf(c, "set xrange [%g:%g]\n", -L - 0.5, -0.5);
    }
    fprintf(c, "set title 'Input window'\nplot ");
    for (int k = 0; k < C; k++)
        fprintf(c, "%s$X using 1:%d with lines lw 1.5 title \"%s\" noenhanced", k ? ", " : "",
                k + 2, names[k]);
    int m = C + 2, r = C + 3, lab = C + 4; /* the attention's, the rank's and the label's */
    fprintf(c,
            "\nset title 'Attention each input step receives (mean over layers and series)'\n"
            "%s\nset yrange [0:*]\nset offsets 0, 0, graph 0.12, 0\n"
            "set style fill solid 0.8 noborder\nset boxwidth 0.9 relative\n"
            "plot $X using 1:(column(%d) > 0 ? NaN : column(%d)) with boxes lc rgb '#9ecae1' "
            "title 'attention', $X using 1:(column(%d) > 0 ? column(%d) : NaN) with boxes lc rgb "
            "'#08519c' title 'most attended', $X using 1:(column(%d)):(column(%d) > 0 ? "
            "sprintf('%%d', column(%d)) : '') with labels offset 0, 0.7 notitle\n"
            "unset multiplot\n",
            dated ? "unset xlabel" : "set xlabel 'steps before the forecast origin'", r, m, r, m, m,
            lab, lab);
    fclose(c);
    if (text) each_terminal(out, dir, "step_attention", 1000, 620, text);
    free(text);
    free(secs);
}

ac_status ac_plot_explanation(const char *dir, const ac_explanation *ex, const float *window,
                              char *const *names, char *const *dates, ac_error *err) {
    if (!ac_plot_available()) return no_gnuplot(err);
    for (int l = 0; l < ex->layers; l++) {
        FILE *gp = open_gnuplot(dir, err);
        if (!gp) return err->code;
        ac_plot_attention_layer_script(gp, dir, ex, l);
        char name[64];
        snprintf(name, sizeof name, "attention_layer%d", l);
        if (close_gnuplot(gp, dir, name, err) != AC_OK) return err->code;
    }
    if (ex->future_tokens > 0) {
        FILE *gp = open_gnuplot(dir, err);
        if (!gp) return err->code;
        ac_plot_future_share_script(gp, dir, ex);
        if (close_gnuplot(gp, dir, "the future share", err) != AC_OK) return err->code;
    }
    FILE *gp = open_gnuplot(dir, err);
    if (!gp) return err->code;
    ac_plot_step_attention_script(gp, dir, ex, window, names, dates);
    return close_gnuplot(gp, dir, "the step attention", err);
}
