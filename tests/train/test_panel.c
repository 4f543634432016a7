/* test_panel.c - many series (MODEL.md version 2, "Many series"): a panel's per-series split,
 * scaling and windows (a short series adds no test window, one with no training window is an
 * error naming it), the trainer on the pooled windows, evaluation pooled and per series, and the
 * issue's check that a wide table and its long-format copy give the same metrics from the same
 * weights (independent channels: each channel of the wide table is a series of the long one). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "support/testutil.h"

#define ROWS     240
#define CHANNELS 3
#define L        24
#define H        8

static char g_dir[512];

static double value(int c, int t) {
    return (c + 1) * 10.0 + (c + 1) * sin(0.3 * t + c) + 0.2 * cos(1.7 * t * (c + 1));
}

static void date_of(int t, char *buf, size_t n) {
    snprintf(buf, n, "2024-%02d-%02d %02d:00:00", 1 + t / (24 * 28), 1 + t / 24 % 28, t % 24);
}

/* wide.csv (date, a, b, c) and long.csv (id, date, value) holding the same values, the long
 * file's rows interleaved across ids; short.csv: long, with a series too short for a test
 * window; tiny.csv: long, with one too short for a training window. */
static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(g_dir, sizeof g_dir, "panel") != 0) return -1;
    char path[600], date[32];
    snprintf(path, sizeof path, "%s/wide.csv", g_dir);
    FILE *w = fopen(path, "w");
    snprintf(path, sizeof path, "%s/long.csv", g_dir);
    FILE *l = fopen(path, "w");
    if (!w || !l) return -1;
    fprintf(w, "date,a,b,c\n");
    fprintf(l, "id,date,value\n");
    for (int t = 0; t < ROWS; t++) {
        date_of(t, date, sizeof date);
        fprintf(w, "%s,%.17g,%.17g,%.17g\n", date, value(0, t), value(1, t), value(2, t));
        for (int c = 0; c < CHANNELS; c++) fprintf(l, "%c,%s,%.17g\n", "abc"[c], date, value(c, t));
    }
    fclose(w);
    fclose(l);
    const char *names[] = {"short.csv", "tiny.csv"};
    const int lengths[][2] = {{ROWS, 40}, {ROWS, 20}};
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, names[f]);
        FILE *s = fopen(path, "w");
        if (!s) return -1;
        fprintf(s, "id,date,value\n");
        for (int i = 0; i < 2; i++)
            for (int t = 0; t < lengths[f][i]; t++) {
                date_of(t, date, sizeof date);
                fprintf(s, "%s,%s,%.17g\n", i ? "little" : "big", date, value(i, t));
            }
        fclose(s);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_remove_dir(g_dir);
    return 0;
}

static ac_table_set load_long(const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    ac_table_set set;
    ac_error err;
    ac_csv_options opt = {.check_dates = true};
    if (ac_table_load_long_csv(&set, path, &opt, NULL, NULL, &err) != AC_OK)
        fail_msg("%s", err.msg);
    return set;
}

static const double SPLIT[3] = {0.7, 0.1, 0.2};

static ac_model_spec independent_spec(void) {
    return (ac_model_spec){.lookback = L,
                           .horizon = H,
                           .channels = 1,
                           .channel_mode = AC_CHANNELS_INDEPENDENT,
                           .patch_len = 8,
                           .patch_stride = 4,
                           .d_model = 16,
                           .heads = 2,
                           .layers = 1,
                           .d_ff = 32,
                           .attention = AC_ATTN_DOT,
                           .revin = true,
                           .anchor = AC_ANCHOR_LAST};
}

static bool close_to(double a, double b) {
    return fabs(a - b) <= 1e-6 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* The same weights on the wide table (3 channels, independent) and on its long copy (3 series):
 * the same MSE and MAE pooled, and each series' metrics equal the channel's. */
static void test_wide_and_long_copies_give_the_same_metrics(void **state) {
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/wide.csv", g_dir);
    ac_table *wide;
    ac_error err;
    assert_int_equal(ac_table_load_csv(&wide, path, NULL, &err), AC_OK);
    ac_table_set set = load_long("long.csv");
    assert_int_equal(set.count, CHANNELS);
    ac_series ws;
    ac_panel panel;
    assert_int_equal(ac_series_build(&ws, wide, SPLIT, L, H, &err), AC_OK);
    assert_int_equal(
        ac_panel_build(&panel, set.tables, set.ids, set.count, SPLIT, L, H, NULL, &err), AC_OK);
    assert_int_equal(ac_panel_windows(&panel, AC_SPLIT_TEST),
                     (int64_t)CHANNELS * ac_series_windows(&ws, AC_SPLIT_TEST).count);

    ac_model_spec spec = independent_spec();
    ac_rng rng;
    ac_rng_seed(&rng, 7, AC_RNG_STREAM_INIT);
    ac_forecaster *model = ac_forecaster_new(&spec, &rng, &err);
    assert_non_null(model);
    ac_tensor *head = ac_forecaster_param(model, "head.weight"); /* not the naive repeat */
    for (int64_t i = 0; i < head->size; i++) head->data[i] = 0.01f * (float)((i * 7) % 11 - 5);

    ac_model_spec wide_spec = spec; /* independent: the same weights serve 3 channels */
    wide_spec.channels = CHANNELS;
    ac_forecaster *wide_model = ac_forecaster_new(&wide_spec, &rng, &err);
    for (int i = 0; i < ac_forecaster_param_count(model); i++)
        memcpy(ac_forecaster_params(wide_model)[i]->data, ac_forecaster_params(model)[i]->data,
               (size_t)ac_forecaster_params(model)[i]->size * sizeof(float));

    ac_eval_result w, pooled, each[CHANNELS];
    assert_int_equal(ac_evaluate(wide_model, &ws, AC_SPLIT_TEST, 24, 64, NULL, &w, &err), AC_OK);
    assert_int_equal(
        ac_evaluate_panel(model, &panel, AC_SPLIT_TEST, 24, 64, NULL, &pooled, each, &err), AC_OK);
    assert_true(close_to(pooled.model.mse, w.model.mse));
    assert_true(close_to(pooled.model.mae, w.model.mae));
    assert_true(close_to(pooled.model.mase, w.model.mase));
    assert_true(
        close_to(pooled.baseline[AC_BASELINE_NAIVE].mse, w.baseline[AC_BASELINE_NAIVE].mse));
    assert_int_equal(pooled.model.points, w.model.points);
    for (int c = 0; c < CHANNELS; c++) {
        const char *ids[] = {"a", "b", "c"};
        assert_string_equal(panel.ids[c], ids[c]);
        assert_true(close_to(each[c].model.mse, w.model_channels[c].mse));
        assert_true(close_to(each[c].model.rmse, w.model_channels[c].rmse));
        assert_true(close_to(each[c].model.wape, w.model_channels[c].wape));
        assert_true(close_to(each[c].model.mape, w.model_channels[c].mape));
        ac_eval_result_free(&each[c]);
    }
    /* the validation loss, pooled over the series, is the wide table's */
    double wl, pl;
    assert_int_equal(ac_split_loss(wide_model, &ws, AC_SPLIT_VAL, AC_LOSS_MSE, 64, &wl, &err),
                     AC_OK);
    assert_int_equal(ac_panel_split_loss(model, &panel, AC_SPLIT_VAL, AC_LOSS_MSE, 64, &pl, &err),
                     AC_OK);
    assert_true(close_to(wl, pl));
    /* and so is the calibration */
    ac_calibration cw, cp;
    const double levels[] = {0.8};
    assert_int_equal(ac_calibrate(wide_model, &ws, AC_SPLIT_VAL, levels, 1, 64, &cw, &err), AC_OK);
    assert_int_equal(ac_calibrate_panel(model, &panel, AC_SPLIT_VAL, levels, 1, 64, &cp, &err),
                     AC_OK);
    assert_int_equal(cp.windows, CHANNELS * cw.windows);
    ac_calibration_free(&cw);
    ac_calibration_free(&cp);
    ac_eval_result_free(&w);
    ac_eval_result_free(&pooled);
    ac_forecaster_free(model);
    ac_forecaster_free(wide_model);
    ac_panel_free(&panel);
    ac_series_free(&ws);
    ac_table_set_free(&set);
    ac_table_free(wide);
}

/* Each series is split and scaled on its own rows; a short series adds training windows but no
 * test window; the trainer pools the training windows of all series. */
static void test_series_are_split_and_scaled_on_their_own_rows(void **state) {
    (void)state;
    ac_table_set set = load_long("short.csv");
    const double split[3] = {0.8, 0.15, 0.05};
    ac_panel panel;
    ac_error err;
    assert_int_equal(
        ac_panel_build(&panel, set.tables, set.ids, set.count, split, L, H, NULL, &err), AC_OK);
    assert_int_equal(panel.count, 2);
    assert_int_equal(ac_panel_find(&panel, "little"), 1);
    assert_int_equal(ac_panel_find(&panel, "nobody"), -1);
    const ac_series *big = &panel.series[0], *little = &panel.series[1];
    assert_int_equal(big->rows, ROWS);
    assert_int_equal(little->rows, 40);
    assert_int_equal(little->split.n_train, 32); /* floor(0.8 x 40): one window of L + H */
    assert_int_equal(ac_series_windows(little, AC_SPLIT_TRAIN).count, 1);
    assert_int_equal(little->split.n_test, 2); /* shorter than H: no test window */
    assert_int_equal(ac_series_windows(little, AC_SPLIT_TEST).count, 0);
    assert_int_equal(ac_series_windows(little, AC_SPLIT_VAL).count, 0);
    /* its own scaler: the mean of its 32 training rows */
    double mean = 0.0;
    for (int t = 0; t < 32; t++) mean += value(1, t);
    assert_true(fabs(little->scaler.mean[0] - mean / 32) < 1e-9);
    assert_int_equal(ac_panel_windows(&panel, AC_SPLIT_TRAIN),
                     ac_series_windows(big, AC_SPLIT_TRAIN).count +
                         ac_series_windows(little, AC_SPLIT_TRAIN).count);

    ac_model_spec spec = independent_spec();
    ac_rng rng;
    ac_rng_seed(&rng, 3, AC_RNG_STREAM_INIT);
    ac_forecaster *model = ac_forecaster_new(&spec, &rng, &err);
    ac_train_options o = {.epochs = 2,
                          .batch_size = 16,
                          .lr = 1e-3,
                          .optimizer = AC_OPT_ADAM,
                          .schedule = AC_SCHED_CONSTANT,
                          .decay_every = 1,
                          .decay_gamma = 1.0,
                          .seed = 5,
                          .loss = AC_LOSS_MSE};
    ac_trainer *tr = ac_trainer_new_panel(&o, &panel, model, &err);
    assert_non_null(tr);
    assert_int_equal(ac_trainer_windows_per_epoch(tr), ac_panel_windows(&panel, AC_SPLIT_TRAIN));
    assert_int_equal(ac_trainer_run(tr, &err), AC_OK);
    int epochs;
    const ac_epoch_record *h = ac_trainer_history(tr, &epochs);
    assert_int_equal(epochs, 2);
    assert_true(isfinite(h[1].val_loss));
    ac_eval_result pooled, each[2];
    assert_int_equal(
        ac_evaluate_panel(model, &panel, AC_SPLIT_TEST, 24, 64, NULL, &pooled, each, &err), AC_OK);
    assert_int_equal(each[1].windows, 0); /* the short series scores nothing */
    assert_true(isnan(each[1].model.mse));
    assert_int_equal(pooled.windows, each[0].windows);
    assert_true(close_to(pooled.model.mse, each[0].model.mse));
    for (int i = 0; i < 2; i++) ac_eval_result_free(&each[i]);
    ac_eval_result_free(&pooled);
    ac_trainer_free(tr);
    ac_forecaster_free(model);
    ac_panel_free(&panel);
    ac_table_set_free(&set);
}

static void test_a_series_without_a_training_window_is_named(void **state) {
    (void)state;
    ac_table_set set = load_long("tiny.csv");
    ac_panel panel;
    ac_error err;
    assert_int_equal(
        ac_panel_build(&panel, set.tables, set.ids, set.count, SPLIT, L, H, NULL, &err),
        AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "series 'little'"));
    assert_non_null(strstr(err.msg, "training split"));
    assert_int_equal(panel.count, 0); /* freed */
    ac_table_set_free(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_and_long_copies_give_the_same_metrics),
        cmocka_unit_test(test_series_are_split_and_scaled_on_their_own_rows),
        cmocka_unit_test(test_a_series_without_a_training_window_is_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
