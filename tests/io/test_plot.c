/* test_plot.c - pictures: gnuplot draws non-empty PNG (and SVG) files for a run folder and for
 * an explanation; without gnuplot the calls say how to install it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "attncast/plot.h"
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
    assert_int_equal(ac_plot_explanation(dir, &ex, window, names, &err), AC_OK);
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
