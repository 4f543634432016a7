/* test_report_verdict.c - the run report's comparison of the model with the naive repeat on the
 * validation split: the note when the model does not beat it (a tie included), none when it
 * does or when nothing was measured, and the same in report.md and metrics.json. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "app/report.h"

static ac_run_info run_info(bool measured, double model_mse, double naive_mse) {
    ac_run_info info = {.data_source = "a.csv", .rows = 100, .channels = 1, .epochs_run = 1};
    info.val_vs_naive.measured = measured;
    info.val_mse = model_mse;
    info.val_vs_naive.naive_mse = naive_mse;
    return info;
}

static void test_verdict_only_when_the_model_does_not_beat_the_naive_repeat(void **state) {
    (void)state;
    ac_config cfg;
    ac_config_defaults(&cfg);
    cfg.model.anchor = AC_ANCHOR_MEAN;
    char note[512];
    ac_run_info info = run_info(true, 0.25, 0.125);
    assert_true(ac_run_val_verdict(&cfg, &info, note, sizeof note));
    assert_string_equal(note, "on the validation split the model (MSE 0.25) does not beat the "
                              "naive repeat of the last value (MSE 0.125); what usually helps: "
                              "a longer lookback (data.lookback), model.anchor = last (the model "
                              "starts from the naive forecast and learns corrections to it)");
    cfg.model.anchor = AC_ANCHOR_LAST; /* already anchored on the last value: no such advice */
    assert_true(ac_run_val_verdict(&cfg, &info, note, sizeof note));
    assert_string_equal(note, "on the validation split the model (MSE 0.25) does not beat the "
                              "naive repeat of the last value (MSE 0.125); what usually helps: "
                              "a longer lookback (data.lookback)");
    cfg.model.anchor = AC_ANCHOR_MEAN;
    info = run_info(true, 0.125, 0.125); /* a tie does not beat it */
    assert_true(ac_run_val_verdict(&cfg, &info, note, sizeof note));
    info = run_info(true, NAN, 0.125);
    assert_true(ac_run_val_verdict(&cfg, &info, note, sizeof note));
    info = run_info(true, 0.1, 0.125);
    assert_false(ac_run_val_verdict(&cfg, &info, note, sizeof note));
    assert_string_equal(note, "");
    info = run_info(false, 0.25, 0.125); /* not measured (eval) */
    assert_false(ac_run_val_verdict(&cfg, &info, note, sizeof note));
    /* cut short, still a string */
    info = run_info(true, 0.25, 0.125);
    assert_true(ac_run_val_verdict(&cfg, &info, note, 20));
    assert_int_equal(strlen(note), 19);
}

static void test_report_and_metrics_carry_the_comparison(void **state) {
    (void)state;
    ac_config cfg;
    ac_config_defaults(&cfg);
    ac_eval_result eval = {.split = AC_SPLIT_TEST, .windows = 1};
    struct {
        bool measured;
        double model, naive;
        const char *line;
    } cases[] = {
        {true, 0.25, 0.125, "\n**Note:** on the validation split the model (MSE 0.25) does not"},
        {true, 0.0625, 0.125,
         "\nOn the validation split the model (MSE 0.0625) beats the naive repeat of the last "
         "value (MSE 0.125).\n"},
        {false, 0.25, 0.125, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_run_info info = run_info(cases[i].measured, cases[i].model, cases[i].naive);
        char *md = ac_run_report_md(&cfg, &eval, &info, "/nonexistent");
        assert_non_null(md);
        if (cases[i].line) {
            if (!strstr(md, cases[i].line)) fail_msg("'%s' not in: %s", cases[i].line, md);
        } else
            assert_null(strstr(md, "naive repeat"));
        free(md);
        char *json = ac_metrics_json(&cfg, &eval, &info);
        assert_non_null(json);
        cJSON *root = cJSON_Parse(json);
        assert_non_null(root);
        cJSON *val = cJSON_GetObjectItem(root, "val_vs_naive");
        if (!cases[i].measured)
            assert_null(val);
        else {
            assert_true(cJSON_GetObjectItem(val, "model_mse")->valuedouble == cases[i].model);
            assert_true(cJSON_GetObjectItem(val, "naive_mse")->valuedouble == cases[i].naive);
            assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(val, "beats_naive")),
                             cases[i].model < cases[i].naive);
        }
        cJSON_Delete(root);
        free(json);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_only_when_the_model_does_not_beat_the_naive_repeat),
        cmocka_unit_test(test_report_and_metrics_carry_the_comparison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
