/* test_split_rows.c - splits by row counts (a card's split_rows, data.split_rows) through the
 * data source (src/app/source.c) on a generated CSV and real cards in a temporary folder: the
 * exact borders, the rows after them unused, which of card and config wins, the errors naming
 * the card or the config key, the key's round trip through a resolved config; and, when
 * ATTNCAST_DATA_MIRROR holds ETTh1.csv, the published naive score on ETTh1's test split. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/source.h"
#include "attncast/config.h"
#include "attncast/forecaster.h"
#include "attncast/metrics.h"
#include "attncast/trainer.h"
#include "attncast/windows.h"
#include "data/sha256.h"
#include "support/testutil.h"
#include "support/tiny_model.h"

#define ROWS 40 /* rows of the generated CSV; column a of row r holds r */

static char dir[128], cards[256], mirror[256], cache[256];
static char csv_sha[65];
static ac_error err;

static void assert_contains(const char *text, const char *piece) {
    if (!strstr(text, piece)) fail_msg("'%s' does not contain '%s'", text, piece);
}

/* A card of the generated CSV whose split line is `split` ("split_rows = 20,8,6"). */
static void write_card(const char *name, const char *split) {
    char text[1024];
    snprintf(text, sizeof text,
             "[dataset]\nname = %s\nfile = rows.csv\nurl = https://example.invalid/rows.csv\n"
             "sha256 = %s\ndate_column = date\nstep = 1h\n%s\nseason = 24\n",
             name, csv_sha, split);
    char file[128];
    snprintf(file, sizeof file, "%s.ini", name);
    assert_int_equal(tu_write_file(cards, file, text), 0);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "split_rows") != 0) return -1;
    snprintf(cards, sizeof cards, "%s/cards", dir);
    snprintf(mirror, sizeof mirror, "%s/mirror", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    if (mkdir(cards, 0755) != 0 || mkdir(mirror, 0755) != 0) return -1;
    char text[4096];
    size_t used = (size_t)snprintf(text, sizeof text, "date,a,b\n");
    for (int r = 0; r < ROWS; r++)
        used += (size_t)snprintf(text + used, sizeof text - used, "2024-01-%02d %02d:00,%d,%d\n",
                                 1 + r / 24, r % 24, r, 100 - r);
    if (tu_write_file(mirror, "rows.csv", text) != 0) return -1;
    char path[300];
    snprintf(path, sizeof path, "%s/rows.csv", mirror);
    if (ac_sha256_file(path, csv_sha, &err) != AC_OK) return -1;
    setenv("ATTNCAST_DATASETS_DIR", cards, 1);
    setenv("ATTNCAST_DATA_MIRROR", mirror, 1);
    setenv("ATTNCAST_CACHE_DIR", cache, 1);
    write_card("byrows", "split_rows = 20,8,6");
    write_card("toolong", "split_rows = 30,6,6");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* Opens the source of a config file holding ini. */
static ac_status open_source(ac_data_source *src, const char *ini, ac_config *cfg) {
    assert_int_equal(tu_write_file(dir, "exp.ini", ini), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/exp.ini", dir);
    ac_config_defaults(cfg);
    if (ac_config_load(cfg, path, &err) != AC_OK) fail_msg("%s", err.msg);
    return ac_data_source_open(src, cfg, &err);
}

static void test_a_cards_split_rows_gives_exact_borders_and_drops_the_later_rows(void **state) {
    (void)state;
    ac_config cfg;
    ac_data_source src;
    if (open_source(&src, "[data]\ndataset = byrows\n", &cfg) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(src.table->rows, 34);
    assert_int_equal(src.rows_unused, 6);
    assert_int_equal(src.split_rows[0], 20);
    assert_int_equal(src.split_rows[1], 8);
    assert_int_equal(src.split_rows[2], 6);
    assert_string_equal(src.table->dates[33], "2024-01-02 09:00");
    ac_series s;
    if (ac_series_build(&s, src.table, src.split, 4, 2, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(s.rows, 34);
    assert_int_equal(s.split.n_train, 20);
    assert_int_equal(s.split.n_val, 8);
    assert_int_equal(s.split.n_test, 6);
    /* the scaler saw rows 0..19 only: column a's mean is 9.5 */
    assert_true(fabs(s.scaler.mean[0] - 9.5) < 1e-12);
    /* validation targets in [20, 28), inputs back across the border; test targets in [28, 34) */
    ac_window_range val = ac_series_windows(&s, AC_SPLIT_VAL);
    ac_window_range test = ac_series_windows(&s, AC_SPLIT_TEST);
    assert_int_equal(val.first, 20);
    assert_int_equal(val.count, 7);
    assert_int_equal(test.first, 28);
    assert_int_equal(test.count, 5);
    float y[2 * 2];
    int last = test.first + test.count - 1;
    ac_series_gather(&s, &last, 1, NULL, y);
    assert_true(fabs(ac_scaler_unscale(&s.scaler, 0, y[2]) - 33.0) < 1e-4); /* row 33, not 39 */
    ac_series_free(&s);
    ac_data_source_close(&src);
}

static void test_config_split_and_split_rows_win_over_the_card(void **state) {
    (void)state;
    ac_config cfg;
    ac_data_source src;
    /* data.split: fractions of every row, nothing dropped */
    if (open_source(&src, "[data]\ndataset = byrows\nsplit = 0.5,0.25,0.25\n", &cfg) != AC_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(src.table->rows, ROWS);
    assert_int_equal(src.rows_unused, 0);
    assert_int_equal(src.split_rows[0], 0);
    assert_true(src.split[0] == 0.5 && src.split[2] == 0.25);
    ac_data_source_close(&src);
    /* data.split_rows: its own borders, on a card's dataset or a plain CSV */
    if (open_source(&src, "[data]\ndataset = byrows\nsplit_rows = 13,11,7\n", &cfg) != AC_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(src.table->rows, 31);
    assert_int_equal(src.rows_unused, 9);
    ac_split sp;
    assert_int_equal(ac_split_compute(src.table->rows, src.split, 3, 2, &sp, &err), AC_OK);
    assert_int_equal(sp.n_train, 13);
    assert_int_equal(sp.n_val, 11);
    assert_int_equal(sp.n_test, 7);
    ac_data_source_close(&src);
    char ini[512];
    snprintf(ini, sizeof ini, "[data]\ncsv = %s/rows.csv\nsplit_rows = 7,7,7\n", mirror);
    if (open_source(&src, ini, &cfg) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(src.table->rows, 21);
    ac_data_source_close(&src);
}

static void test_too_few_rows_names_the_card_or_the_key(void **state) {
    (void)state;
    ac_config cfg;
    ac_data_source src;
    assert_int_equal(open_source(&src, "[data]\ndataset = toolong\n", &cfg), AC_ERR_INVALID);
    assert_false(src.config_error);
    assert_contains(err.msg, "cards/toolong.ini: split_rows = 30,6,6 needs 42 rows");
    assert_contains(err.msg, "rows.csv has 40");
    assert_int_equal(open_source(&src, "[data]\ndataset = byrows\n\nsplit_rows = 20,20,1\n", &cfg),
                     AC_ERR_INVALID);
    assert_true(src.config_error);
    assert_contains(err.msg, "exp.ini:4: data.split_rows: 20,20,1 needs 41 rows");
}

static void test_bad_card_split_rows_names_the_card_line_and_key(void **state) {
    (void)state;
    ac_dataset_card card;
    write_card("zeroval", "split_rows = 10,0,5");
    assert_int_equal(ac_dataset_card_load(&card, "zeroval", &err), AC_ERR_INVALID);
    assert_contains(err.msg, "zeroval.ini:8: split_rows must be three whole row counts");
    write_card("words", "split_rows = 10,x,5");
    assert_int_equal(ac_dataset_card_load(&card, "words", &err), AC_ERR_INVALID);
    assert_contains(err.msg, "words.ini:8: split_rows");
    write_card("both", "split = 0.7,0.1,0.2\nsplit_rows = 10,5,5");
    assert_int_equal(ac_dataset_card_load(&card, "both", &err), AC_ERR_INVALID);
    assert_contains(err.msg, "both.ini: split (line 8) and split_rows (line 9) are both given");
    write_card("neither", "");
    assert_int_equal(ac_dataset_card_load(&card, "neither", &err), AC_ERR_INVALID);
    assert_contains(err.msg, "required key 'split' is missing");
}

static void test_the_key_round_trips_and_a_later_split_replaces_it(void **state) {
    (void)state;
    ac_config cfg, back;
    ac_config_defaults(&cfg);
    assert_int_equal(ac_config_set(&cfg, "data.split_rows=8640,2880,2880", &err), AC_OK);
    char *ini = ac_config_to_ini(&cfg);
    assert_non_null(ini);
    assert_contains(ini, "split_rows = 8640,2880,2880");
    ac_config_defaults(&back);
    if (ac_config_load_string(&back, ini, "resolved", &err) != AC_OK) fail_msg("%s", err.msg);
    free(ini);
    assert_int_equal(back.data.split_rows[0], 8640);
    assert_int_equal(back.data.split_rows[1], 2880);
    assert_int_equal(back.data.split_rows[2], 2880);
    /* fractions given later replace the row split */
    assert_int_equal(ac_config_set(&back, "data.split=0.7,0.1,0.2", &err), AC_OK);
    assert_int_equal(back.data.split_rows[0], 0);
    assert_int_equal(ac_config_set(&back, "data.split_rows=10,0,5", &err), AC_ERR_INVALID);
    assert_contains(err.msg, "data.split_rows: expected three comma-separated row counts");
}

/* ETTh1 (Informer's borders, L = H = 96): repeating the last value scores MSE 1.2944 on the
 * 2785 test windows, the published 1.295 (z-scored with the training rows' scaler). */
static void test_etth1_naive_test_mse_is_the_published_one(void **state) {
    (void)state;
    const char *m = getenv("ATTNCAST_TEST_MIRROR");
    char file[512];
    snprintf(file, sizeof file, "%s/ETTh1.csv", m ? m : "");
    if (!m || !m[0] || access(file, R_OK) != 0) {
        print_message("ATTNCAST_DATA_MIRROR has no ETTh1.csv: skipped\n");
        skip();
    }
    const char *source_dir = getenv("ATTNCAST_SOURCE_DIR");
    char datasets[512];
    snprintf(datasets, sizeof datasets, "%s/datasets", source_dir ? source_dir : ".");
    setenv("ATTNCAST_DATASETS_DIR", datasets, 1);
    setenv("ATTNCAST_DATA_MIRROR", m, 1);
    ac_config cfg;
    ac_data_source src;
    ac_status st = open_source(&src, "[data]\ndataset = ETTh1\n", &cfg);
    setenv("ATTNCAST_DATASETS_DIR", cards, 1);
    setenv("ATTNCAST_DATA_MIRROR", mirror, 1);
    if (st != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(src.table->rows, 14400);
    assert_int_equal(src.rows_unused, 17420 - 14400);
    ac_series s;
    if (ac_series_build(&s, src.table, src.split, 96, 96, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(s.split.n_train, 8640);
    assert_int_equal(s.split.n_val, 2880);
    assert_int_equal(s.split.n_test, 2880);
    ac_window_range test = ac_series_windows(&s, AC_SPLIT_TEST);
    assert_int_equal(test.first, 11520);
    assert_int_equal(test.count, 2785);
    ac_forecaster *model = tm_model(96, 96, s.channels, NULL);
    ac_eval_result r;
    if (ac_evaluate(model, &s, AC_SPLIT_TEST, src.season, 256, NULL, &r, &err) != AC_OK)
        fail_msg("%s", err.msg);
    double mse = r.baseline[AC_BASELINE_NAIVE].mse;
    print_message("ETTh1 naive test MSE %.6f, MAE %.6f over %lld windows\n", mse,
                  r.baseline[AC_BASELINE_NAIVE].mae, (long long)r.windows);
    assert_true(fabs(mse - 1.2944) < 5e-5);
    ac_eval_result_free(&r);
    ac_forecaster_free(model);
    ac_series_free(&s);
    ac_data_source_close(&src);
}

int main(void) {
    /* the mirror of the benchmark files, read before setup points the variable at its own */
    const char *m = getenv("ATTNCAST_DATA_MIRROR");
    setenv("ATTNCAST_TEST_MIRROR", m ? m : "", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_cards_split_rows_gives_exact_borders_and_drops_the_later_rows),
        cmocka_unit_test(test_config_split_and_split_rows_win_over_the_card),
        cmocka_unit_test(test_too_few_rows_names_the_card_or_the_key),
        cmocka_unit_test(test_bad_card_split_rows_names_the_card_line_and_key),
        cmocka_unit_test(test_the_key_round_trips_and_a_later_split_replaces_it),
        cmocka_unit_test(test_etth1_naive_test_mse_is_the_published_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
