/* test_plot.c - pictures: gnuplot draws non-empty PNG (and SVG) files for a run folder and for
 * an explanation; without gnuplot the calls say how to install it. The gnuplot scripts (read
 * without gnuplot) put time on a date axis with round, labelled tics when the data has dates,
 * keep legends outside the data, and number the spans explain prints; test_forecasts.csv's
 * interval columns become shaded bands, widest first and lightest, and files without them draw
 * as before. */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "attncast/explain.h"
#include "app/plot.h"
#include "app/plot_internal.h"
#include "support/testutil.h"

static char dir[128];

static void assert_png(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s was not drawn", path);
    unsigned char magic[8] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(n, 8);
    assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
    assert_true(size > 2000); /* a real picture, not an empty canvas */
}

static void write_file(const char *name, const char *text) {
    assert_int_equal(tu_write_file(dir, name, text), 0);
}

static void test_run_pictures_are_non_empty_pngs(void **state) {
    (void)state;
    if (!ac_plot_available()) skip();
    write_file("history.csv", "epoch,train_loss,val_loss,lr,seconds,windows_per_s\n"
                              "1,0.9,0.8,0.001,1.0,100\n2,0.5,0.6,0.001,1.0,100\n"
                              "3,0.4,0.55,0.001,1.0,100\n");
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "window,step,date,channel,actual,forecast\n");
    for (int w = 0; w < 2; w++)
        for (int k = -9; k <= 4; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,%d,,OT,%d,%s\n", w, k, k * k,
                                  k >= 1 ? "3.5" : "");
    write_file("test_forecasts.csv", buf);
    ac_error err;
    assert_int_equal(ac_plot_run(dir, &err), AC_OK);
    assert_png("learning_curves.png");
    assert_png("forecasts.png");
    char svg[256];
    snprintf(svg, sizeof svg, "%s/forecasts.svg", dir);
    struct stat st;
    assert_int_equal(stat(svg, &st), 0);
    assert_true(st.st_size > 1000);
}

static void test_explanation_pictures_are_non_empty_pngs(void **state) {
    (void)state;
    if (!ac_plot_available()) skip();
    enum { N = 4, L = 8, C = 2 };
    float attention[2 * C * 2 * N * N], window[L * C], forecast[3 * C];
    double tokens[2 * C * N], steps[2 * C * L];
    for (size_t i = 0; i < sizeof attention / sizeof *attention; i++) attention[i] = 1.0f / N;
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++) tokens[i] = 1.0 / N;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) steps[i] = (double)(i % L) / 28.0;
    for (int i = 0; i < L * C; i++) window[i] = (float)i;
    ac_explanation ex = {.layers = 2,
                         .series = C,
                         .heads = 2,
                         .tokens = N,
                         .lookback = L,
                         .horizon = 3,
                         .channels = C,
                         .patch_len = 2,
                         .patch_stride = 2,
                         .attention = attention,
                         .token_attention = tokens,
                         .step_attention = steps,
                         .forecast = forecast};
    char a[] = "alpha", b[] = "beta";
    char *names[C] = {a, b};
    ac_error err;
    assert_int_equal(ac_plot_explanation(dir, &ex, window, names, NULL, &err), AC_OK);
    assert_png("attention_layer0.png");
    assert_png("attention_layer1.png");
    assert_png("step_attention.png");
}

static void test_missing_history_is_an_error_naming_the_file(void **state) {
    (void)state;
    if (!ac_plot_available()) skip();
    ac_error err;
    assert_int_not_equal(ac_plot_run("/nonexistent-run", &err), AC_OK);
    assert_non_null(strstr(err.msg, "/nonexistent-run"));
}

/* ---- the scripts ---- */

typedef struct script {
    char *text;
    size_t size;
    FILE *f;
} script;

static FILE *script_open(script *s) {
    s->text = NULL;
    s->size = 0;
    s->f = open_memstream(&s->text, &s->size);
    assert_non_null(s->f);
    return s->f;
}

static char *script_close(script *s) {
    assert_int_equal(fclose(s->f), 0);
    assert_non_null(s->text);
    return s->text;
}

#define assert_has(text, part)                                                                     \
    do {                                                                                           \
        if (!strstr(text, part)) fail_msg("'%s' not in the script:\n%s", part, text);              \
    } while (0)
#define assert_lacks(text, part)                                                                   \
    do {                                                                                           \
        if (strstr(text, part)) fail_msg("'%s' in the script:\n%s", part, text);                   \
    } while (0)

/* test_forecasts.csv of two windows of an hourly series from 2016-07-01 00:00: 72 input steps
 * and 24 forecasts each; bad_row (>= 0) gets a date that is none. */
static void write_hourly_forecasts(int bad_row) {
    char *buf = test_malloc(1 << 16);
    size_t n = (size_t)snprintf(buf, 1 << 16, "window,step,date,channel,actual,forecast\n");
    int row = 0;
    for (int w = 0; w < 2; w++)
        for (int k = -71; k <= 24; k++, row++) {
            int hour = w * 500 + k + 71; /* hours since 2016-07-01 00:00 */
            char date[32];
            if (row == bad_row)
                snprintf(date, sizeof date, "soon");
            else
                snprintf(date, sizeof date, "2016-07-%02d %02d:00:00", 1 + hour / 24, hour % 24);
            n += (size_t)snprintf(buf + n, (1 << 16) - n, "%d,%d,%s,OT,%d,%s\n", w, k, date, k,
                                  k >= 1 ? "1.5" : "");
        }
    write_file("test_forecasts.csv", buf);
    test_free(buf);
}

/* The forecasts picture's script (malloc'd) of the folder's test_forecasts.csv, which draws. */
static char *forecasts_script(void) {
    script s;
    bool drawn = false;
    ac_error err;
    assert_int_equal(ac_plot_forecasts_script(script_open(&s), dir, &drawn, &err), AC_OK);
    char *text = script_close(&s);
    assert_true(drawn);
    return text;
}

static void test_dated_forecasts_get_a_date_axis_with_round_labelled_tics(void **state) {
    (void)state;
    write_hourly_forecasts(-1);
    char *text = forecasts_script();
    assert_has(text, "set xdata time\nset timefmt '%s'\n");
    /* window 0 spans 4 days: a tic every midnight, labelled with the day; 2016-07-01 00:00 UTC
     * is 1467331200 s */
    assert_has(text, "set xtics (\"1 Jul 2016\" \"1467331200\", \"2 Jul 2016\" \"1467417600\"");
    assert_has(text, "unset xlabel");
    /* the data in seconds, the forecast origin (step 0: 2016-07-03 23:00) marked and named */
    assert_has(text, "\n1467331200 -71 NaN\n");
    assert_has(text, "set arrow 1 from \"1467586800\", graph 0");
    assert_has(text, "forecast after 2016-07-03 23:00:00");
    /* the legend outside the panels */
    assert_has(text, "set key outside right top vertical");
    assert_has(text, "set output '");
    assert_lacks(text, "filledcurves"); /* no interval columns: no bands */
    free(text);
}

/* test_forecasts.csv of one window with the columns `extra` after forecast, each forecast row's
 * values `values` (the lookback rows blank). */
static void write_forecasts_with(const char *extra, const char *values) {
    char buf[8192];
    int blanks = 0;
    for (const char *c = extra; *c; c++) blanks += *c == ',';
    size_t n =
        (size_t)snprintf(buf, sizeof buf, "window,step,date,channel,actual,forecast%s\n", extra);
    for (int k = -9; k <= 4; k++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "0,%d,,OT,%d,", k, k);
        if (k >= 1)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "2.5%s\n", values);
        else
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%.*s\n", blanks, ",,,,,,,,,,,,,,,,");
    }
    write_file("test_forecasts.csv", buf);
}

static void test_intervals_are_shaded_bands_widest_first_and_lightest(void **state) {
    (void)state;
    write_forecasts_with(",lo80,hi80,lo95,hi95", ",2,3,1.5,3.5");
    char *text = forecasts_script();
    /* x, actual, forecast, then the bands widest first: 95% (1.5, 3.5), 80% (2, 3) */
    assert_has(text, "\n1 1 2.5 1.5 3.5 2 3\n");
    assert_has(text, "\n-9 -9 NaN NaN NaN NaN NaN\n");
    const char *wide = strstr(text, "using 1:4:5 with filledcurves fc rgb '#");
    const char *narrow = strstr(text, "using 1:6:7 with filledcurves fc rgb '#");
    assert_non_null(wide);
    assert_non_null(narrow);
    assert_true(wide < narrow);
    /* the wide band's fill is lighter (each channel nearer white) */
    unsigned a[3], b[3];
    assert_int_equal(sscanf(strchr(wide, '#') + 1, "%2x%2x%2x", &a[0], &a[1], &a[2]), 3);
    assert_int_equal(sscanf(strchr(narrow, '#') + 1, "%2x%2x%2x", &b[0], &b[1], &b[2]), 3);
    assert_true(a[0] >= b[0] && a[1] > b[1] && a[2] > b[2]);
    assert_has(text, "title 'conformal 95%'");
    assert_has(text, "title 'conformal 80%'");
    /* the bands go under the lines: drawn before them */
    assert_true(narrow < strstr(text, "title 'actual'"));
    free(text);

    /* a quantile model without calibration: its symmetric pair of levels, not the median */
    write_forecasts_with(",q0.1,q0.5,q0.9", ",2,2.5,3");
    text = forecasts_script();
    assert_has(text, "\n1 1 2.5 2 3\n");
    assert_has(text, "title 'quantile 80%'");
    assert_lacks(text, "using 1:6:7");
    free(text);

    /* both: the conformal bands only */
    write_forecasts_with(",lo90,hi90,q0.1,q0.5,q0.9", ",1,4,2,2.5,3");
    text = forecasts_script();
    assert_has(text, "\n1 1 2.5 1 4\n");
    assert_has(text, "title 'conformal 90%'");
    assert_lacks(text, "quantile");
    free(text);
    if (!ac_plot_available()) return;
    write_forecasts_with(",lo80,hi80,lo95,hi95", ",2,3,1.5,3.5");
    ac_error err;
    write_file("history.csv", "epoch,train_loss,val_loss,lr,seconds,windows_per_s\n"
                              "1,0.9,0.8,0.001,1.0,100\n2,0.5,0.6,0.001,1.0,100\n");
    assert_int_equal(ac_plot_run(dir, &err), AC_OK);
    assert_png("forecasts.png");
}

static void test_forecasts_without_dates_use_steps_from_the_origin(void **state) {
    (void)state;
    write_hourly_forecasts(5); /* one date that is none: no date axis */
    script s;
    bool drawn = false;
    ac_error err;
    assert_int_equal(ac_plot_forecasts_script(script_open(&s), dir, &drawn, &err), AC_OK);
    char *text = script_close(&s);
    assert_lacks(text, "set xdata time");
    assert_has(text, "set xlabel 'steps from the forecast origin'");
    assert_has(text, "\n-71 -71 NaN\n");
    assert_has(text, "set arrow 1 from 0, graph 0");
    assert_has(text, "set key outside right top vertical");
    free(text);
    /* no forecasts file: nothing to draw */
    char path[256];
    snprintf(path, sizeof path, "%s/test_forecasts.csv", dir);
    remove(path);
    assert_int_equal(ac_plot_forecasts_script(script_open(&s), dir, &drawn, &err), AC_OK);
    text = script_close(&s);
    assert_false(drawn);
    assert_string_equal(text, "");
    free(text);
}

static void test_months_of_daily_data_are_labelled_by_month(void **state) {
    (void)state;
    char *buf = test_malloc(1 << 16);
    size_t n = (size_t)snprintf(buf, 1 << 16, "window,step,date,channel,actual,forecast\n");
    static const int days[] = {31, 30, 31, 31, 30, 31, 30}; /* May to November */
    int month = 0, day = 1;
    for (int k = -179; k <= 20; k++) { /* 200 days from 2006-05-01, as exchange_rate writes them */
        n += (size_t)snprintf(buf + n, (1 << 16) - n, "0,%d,2006/%d/%d 0:00,OT,1,%s\n", k,
                              5 + month, day, k >= 1 ? "1" : "");
        if (++day > days[month]) day = 1, month++;
    }
    write_file("test_forecasts.csv", buf);
    test_free(buf);
    script s;
    bool drawn;
    ac_error err;
    assert_int_equal(ac_plot_forecasts_script(script_open(&s), dir, &drawn, &err), AC_OK);
    char *text = script_close(&s);
    /* every second month start of the calendar (May, Jul, Sep, Nov), 2006-05-01 being
     * 1146441600 s */
    assert_has(text, "set xtics (\"May 2006\" \"1146441600\", \"Jul 2006\" \"1151712000\", "
                     "\"Sep 2006\" \"1157068800\", \"Nov 2006\" \"1162339200\")");
    free(text);
}

static void test_learning_curves_show_epochs_and_elapsed_time_with_the_key_outside(void **state) {
    (void)state;
    char buf[4096];
    size_t n =
        (size_t)snprintf(buf, sizeof buf, "epoch,train_loss,val_loss,lr,seconds,windows_per_s\n");
    for (int e = 1; e <= 30; e++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,%g,%g,0.001,2.5,100\n", e, 1.0 / e,
                              1.5 / e);
    write_file("history.csv", buf);
    script s;
    ac_error err;
    assert_int_equal(ac_plot_learning_curves_script(script_open(&s), dir, &err), AC_OK);
    char *text = script_close(&s);
    assert_has(text, "set xtics 5 nomirror"); /* 30 epochs: a label every 5 */
    assert_has(text, "set xrange [1:30]");
    /* the top axis: the wall-clock time elapsed by the end of epochs 1, 6, 11, ... */
    assert_has(text, "set x2tics (\"2 s\" 1, \"15 s\" 6, \"28 s\" 11");
    assert_has(text, "\"65 s\" 26)");
    assert_has(text, "set key outside right top vertical");
    free(text);
}

static void test_step_attention_numbers_the_spans_explain_prints(void **state) {
    (void)state;
    enum { N = 2, L = 6, C = 1 };
    float attention[N * N] = {0}, window[L * C] = {1, 2, 3, 4, 5, 6}, forecast[2] = {0};
    double tokens[N] = {0}, steps[2 * L] = {0.10, 0.30, 0.05, 0.20, 0.175, 0.175, /* layer 0 */
                                            0.10, 0.10, 0.05, 0.40, 0.175, 0.175};
    ac_explanation ex = {.layers = 2,
                         .series = 1,
                         .heads = 1,
                         .tokens = N,
                         .lookback = L,
                         .horizon = 2,
                         .channels = C,
                         .patch_len = 3,
                         .patch_stride = 3,
                         .attention = attention,
                         .token_attention = tokens,
                         .step_attention = steps,
                         .forecast = forecast};
    /* means 0.10 0.20 0.05 0.30 0.175 0.175: step 3, step 1, steps 4-5 (one span), 0, 2 */
    ac_step_span top[AC_EXPLAIN_TOP_SPANS];
    assert_int_equal(ac_explanation_top_spans(&ex, AC_EXPLAIN_TOP_SPANS, top), 5);
    const int want[5][2] = {{3, 1}, {1, 1}, {4, 2}, {0, 1}, {2, 1}};
    for (int r = 0; r < 5; r++) {
        assert_int_equal(top[r].first, want[r][0]);
        assert_int_equal(top[r].count, want[r][1]);
        assert_true(top[r].attention == ac_explanation_step_mean(&ex, top[r].first));
    }
    assert_true(fabs(ac_explanation_step_mean(&ex, 3) - 0.30) < 1e-12);
    assert_int_equal(ac_explanation_top_spans(&ex, 2, top), 2);
    char n0[] = "OT";
    char *names[] = {n0};
    char d0[] = "2021-03-01", d1[] = "2021-03-02", d2[] = "2021-03-03", d3[] = "2021-03-04",
         d4[] = "2021-03-05", d5[] = "2021-03-06";
    char *dates[L] = {d0, d1, d2, d3, d4, d5};
    script s;
    ac_plot_step_attention_script(script_open(&s), dir, &ex, window, names, dates);
    char *text = script_close(&s);
    /* x (2021-03-01 is 1614556800 s), the input, the mean attention, the span's rank as printed,
     * and the rank where it is written (once per span) */
    assert_has(text, "\n1614556800 1 0.1 4 4\n1614643200 2 0.2 2 2\n1614729600 3 0.05 5 5\n"
                     "1614816000 4 0.3 1 1\n1614902400 5 0.175 3 3\n1614988800 6 0.175 3 0\n");
    assert_has(text, "set xdata time");
    assert_has(text, "unset xlabel");
    assert_has(text, "set key outside right top vertical");
    assert_has(text, "(mean over layers and series)");
    free(text);
    ac_plot_step_attention_script(script_open(&s), dir, &ex, window, names, NULL);
    text = script_close(&s);
    assert_lacks(text, "set xdata time");
    assert_has(text, "\n-6 1 0.1 4 4\n");
    assert_has(text, "set xlabel 'steps before the forecast origin'");
    free(text);
}

static void test_future_tokens_are_marked_and_their_share_drawn_against_chance(void **state) {
    (void)state;
    enum { N = 3, NF = 1, T = N + NF, LAYERS = 2 };
    float attention[LAYERS * T * T];
    for (int i = 0; i < LAYERS * T * T; i++) attention[i] = 1.0f / T;
    double tokens[LAYERS * T] = {0}, steps[LAYERS * 6] = {0};
    double history[LAYERS] = {0.9, 0.6}, future[LAYERS] = {0.1, 0.4};
    float forecast[2] = {0};
    ac_explanation ex = {.layers = LAYERS,
                         .series = 1,
                         .heads = 1,
                         .tokens = N,
                         .future_tokens = NF,
                         .lookback = 6,
                         .horizon = 2,
                         .channels = 1,
                         .patch_len = 2,
                         .patch_stride = 2,
                         .future_covariates = 2,
                         .columns = 3,
                         .attention = attention,
                         .token_attention = tokens,
                         .step_attention = steps,
                         .history_share = history,
                         .future_share = future,
                         .forecast = forecast};
    script s;
    ac_plot_future_share_script(script_open(&s), dir, &ex);
    char *text = script_close(&s);
    /* per layer: the future share, then the history share; chance 1 of 4 tokens */
    assert_has(text, "$S << EOD\n0 0.1 0.9\n1 0.4 0.6\nEOD\n");
    assert_has(text, "0.25 with lines dt 2");
    assert_has(text, "1, 4)");
    assert_has(text, "set key outside right top vertical");
    free(text);
    /* the map: T x T, a line after the history tokens on both axes */
    ac_plot_attention_layer_script(script_open(&s), dir, &ex, 1);
    text = script_close(&s);
    assert_has(text, "$M << EOD\n0.25 0.25 0.25 0.25\n");
    assert_has(text, "set arrow 1 from 2.5, graph 0 to 2.5, graph 1");
    assert_has(text, "set arrow 2 from graph 0, first 2.5 to graph 1, first 2.5");
    assert_has(text, "set xrange [-0.5:3.5]");
    free(text);
    /* without future tokens: no lines */
    ex.future_tokens = 0;
    ex.columns = 1;
    ac_plot_attention_layer_script(script_open(&s), dir, &ex, 0);
    text = script_close(&s);
    assert_lacks(text, "set arrow");
    assert_has(text, "set xrange [-0.5:2.5]");
    free(text);
}

static int setup(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "plot");
}
static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_pictures_are_non_empty_pngs),
        cmocka_unit_test(test_explanation_pictures_are_non_empty_pngs),
        cmocka_unit_test(test_missing_history_is_an_error_naming_the_file),
        cmocka_unit_test(test_dated_forecasts_get_a_date_axis_with_round_labelled_tics),
        cmocka_unit_test(test_forecasts_without_dates_use_steps_from_the_origin),
        cmocka_unit_test(test_intervals_are_shaded_bands_widest_first_and_lightest),
        cmocka_unit_test(test_months_of_daily_data_are_labelled_by_month),
        cmocka_unit_test(test_learning_curves_show_epochs_and_elapsed_time_with_the_key_outside),
        cmocka_unit_test(test_step_attention_numbers_the_spans_explain_prints),
        cmocka_unit_test(test_future_tokens_are_marked_and_their_share_drawn_against_chance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
