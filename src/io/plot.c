/* plot.c - gnuplot pictures of runs and explanations (see plot.h). Each picture is one gnuplot
 * script, sent through popen with its data as inline datablocks, and drawn twice: once to PNG and
 * once to SVG. gnuplot's own messages go to <dir>/gnuplot.log. */
#include "attncast/plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FIELDS 16

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

/* ---- run pictures ---- */

/* Reads a small CSV (header + rows) into lines; returns the number of data lines or -1. */
static int read_lines(const char *path, char ***lines_out) {
    FILE *f = fopen(path, "r");
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

static ac_status plot_learning_curves(const char *dir, ac_error *err) {
    char path[2048];
    snprintf(path, sizeof path, "%s/history.csv", dir);
    char **lines = NULL;
    int n = read_lines(path, &lines);
    if (n < 2) {
        free_lines(lines, n > 0 ? n : 0);
        return ac_error_set(err, AC_ERR_IO, "%s: no epochs to plot", path);
    }
    FILE *gp = open_gnuplot(dir, err);
    if (!gp) {
        free_lines(lines, n);
        return err->code;
    }
    fprintf(gp, "$H << EOD\n");
    for (int i = 1; i < n; i++) fprintf(gp, "%s\n", lines[i]);
    fprintf(gp, "EOD\nset datafile separator ','\n");
    each_terminal(gp, dir, "learning_curves", 800, 450,
                  "set title 'Learning curves'\nset xlabel 'epoch'\nset ylabel 'loss'\n"
                  "set grid\nset key top right\nset xtics 1\n"
                  "plot $H using 1:2 with linespoints lw 2 title 'train', "
                  "$H using 1:3 with linespoints lw 2 title 'validation'");
    free_lines(lines, n);
    return close_gnuplot(gp, dir, "the learning curves", err);
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

#define MAX_PLOTTED 8

/* test_forecasts.csv: window,step,date,channel,actual,forecast (forecast empty in the lookback).
 * One panel per window (rows) and channel (columns). */
static ac_status plot_forecasts(const char *dir, ac_error *err) {
    char path[2048];
    snprintf(path, sizeof path, "%s/test_forecasts.csv", dir);
    char **lines = NULL;
    int n = read_lines(path, &lines);
    if (n < 2) {
        free_lines(lines, n > 0 ? n : 0);
        return AC_OK; /* nothing to draw */
    }
    char *channels[MAX_PLOTTED];
    int windows = 0, n_channels = 0;
    for (int i = 1; i < n; i++) {
        char copy[4096], *f[MAX_FIELDS];
        snprintf(copy, sizeof copy, "%s", lines[i]);
        if (split_fields(copy, f, MAX_FIELDS) < 6) continue;
        if (atoi(f[0]) + 1 > windows) windows = atoi(f[0]) + 1;
        int c = 0;
        while (c < n_channels && strcmp(channels[c], f[3]) != 0) c++;
        if (c == n_channels && n_channels < MAX_PLOTTED) channels[n_channels++] = strdup(f[3]);
    }
    FILE *gp = n_channels ? open_gnuplot(dir, err) : NULL;
    if (!gp) {
        for (int c = 0; c < n_channels; c++) free(channels[c]);
        free_lines(lines, n);
        return n_channels ? err->code : AC_OK;
    }
    for (int w = 0; w < windows; w++)
        for (int c = 0; c < n_channels; c++) { /* datablock: step, actual, forecast */
            fprintf(gp, "$W%d_%d << EOD\n", w, c);
            for (int i = 1; i < n; i++) {
                char copy[4096], *f[MAX_FIELDS];
                snprintf(copy, sizeof copy, "%s", lines[i]);
                if (split_fields(copy, f, MAX_FIELDS) >= 6 && atoi(f[0]) == w && channels[c] &&
                    !strcmp(f[3], channels[c]))
                    fprintf(gp, "%s %s %s\n", f[1], f[4], f[5][0] ? f[5] : "NaN");
            }
            fprintf(gp, "EOD\n");
        }
    size_t cap = 4096 + (size_t)windows * n_channels * 400;
    char *script = malloc(cap);
    if (!script) {
        pclose(gp);
        for (int c = 0; c < n_channels; c++) free(channels[c]);
        free_lines(lines, n);
        return ac_error_set(err, AC_ERR_NOMEM, "plot: out of memory");
    }
    size_t used = (size_t)snprintf(script, cap,
                                   "set multiplot layout %d,%d title 'Test forecasts vs actual "
                                   "(first, middle and last test window)'\nset grid\n"
                                   "set xlabel 'steps from the forecast origin'\n",
                                   windows, n_channels);
    for (int w = 0; w < windows && used < cap; w++)
        for (int c = 0; c < n_channels && used < cap; c++)
            used += (size_t)snprintf(
                script + used, cap - used,
                "set title \"%s\" noenhanced\nplot $W%d_%d using 1:2 with lines lw 1.5 lc rgb "
                "'#333333' title 'actual', $W%d_%d using 1:3 with lines lw 2 lc rgb '#d62728' "
                "title 'forecast'\n",
                channels[c] ? channels[c] : "", w, c, w, c);
    if (used < cap) snprintf(script + used, cap - used, "unset multiplot");
    each_terminal(gp, dir, "forecasts", 480 * n_channels + 120, 260 * (windows ? windows : 1),
                  script);
    free(script);
    for (int c = 0; c < n_channels; c++) free(channels[c]);
    free_lines(lines, n);
    return close_gnuplot(gp, dir, "the forecasts", err);
}

ac_status ac_plot_run(const char *run_dir, ac_error *err) {
    if (!ac_plot_available()) return no_gnuplot(err);
    if (plot_learning_curves(run_dir, err) != AC_OK) return err->code;
    return plot_forecasts(run_dir, err);
}

/* ---- explanation pictures ---- */

ac_status ac_plot_explanation(const char *dir, const ac_explanation *ex, const float *window,
                              char *const *names, ac_error *err) {
    if (!ac_plot_available()) return no_gnuplot(err);
    int N = ex->tokens, L = ex->lookback, S = ex->series, C = ex->channels;
    for (int l = 0; l < ex->layers; l++) {
        FILE *gp = open_gnuplot(dir, err);
        if (!gp) return err->code;
        fprintf(gp, "$M << EOD\n");
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < N; k++) {
                double v = 0;
                for (int s = 0; s < S; s++)
                    for (int h = 0; h < ex->heads; h++)
                        v += ex->attention[((((size_t)l * S + s) * ex->heads + h) * N + i) * N + k];
                fprintf(gp, "%s%.6g", k ? " " : "", v / (S * ex->heads));
            }
            fprintf(gp, "\n");
        }
        fprintf(gp, "EOD\n");
        char script[512], name[64];
        snprintf(script, sizeof script,
                 "set title 'Attention, layer %d (mean over heads and series)'\n"
                 "set xlabel 'key token (older to newer)'\nset ylabel 'query token'\n"
                 "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5] reverse\n"
                 "set palette defined (0 'white', 1 '#08306b')\n"
                 "set size ratio -1\nplot $M matrix with image notitle",
                 l, N - 1, N - 1);
        snprintf(name, sizeof name, "attention_layer%d", l);
        each_terminal(gp, dir, name, 600, 560, script);
        if (close_gnuplot(gp, dir, name, err) != AC_OK) return err->code;
    }
    FILE *gp = open_gnuplot(dir, err);
    if (!gp) return err->code;
    fprintf(gp, "$X << EOD\n");
    for (int t = 0; t < L; t++) {
        fprintf(gp, "%d", t - L);
        for (int c = 0; c < C; c++) fprintf(gp, " %.9g", (double)window[t * C + c]);
        double v = 0;
        for (int b = 0; b < ex->layers * S; b++) v += ex->step_attention[(size_t)b * L + t];
        fprintf(gp, " %.9g\n", v / (ex->layers * S));
    }
    fprintf(gp, "EOD\n");
    char script[8192];
    size_t used = (size_t)snprintf(script, sizeof script,
                                   "set multiplot layout 2,1\nset grid\nset xrange [%d:0]\n"
                                   "set title 'Input window'\nset key outside right\nplot ",
                                   -L - 1);
    for (int c = 0; c < C && used < sizeof script; c++)
        used += (size_t)snprintf(script + used, sizeof script - used,
                                 "%s$X using 1:%d with lines lw 1.5 title '%s'", c ? ", " : "",
                                 c + 2, names[c]);
    if (used < sizeof script)
        snprintf(script + used, sizeof script - used,
                 "\nset title 'Attention each input step receives (mean over layers and "
                 "series)'\nset xlabel 'steps before the forecast origin'\nset style fill solid "
                 "0.8\nset boxwidth 0.9 relative\nplot $X using 1:%d with boxes lc rgb '#08519c' "
                 "notitle\nunset multiplot",
                 C + 2);
    each_terminal(gp, dir, "step_attention", 900, 600, script);
    return close_gnuplot(gp, dir, "the step attention", err);
}
