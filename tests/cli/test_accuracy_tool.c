/* test_accuracy_tool.c - tools/accuracy.py, the benchmark table runner, on the real binary: it
 * trains a cell's config from a models folder once per seed, appends each run's metrics.json to
 * the CSV, skips cells already there when rerun (and trains again when the config changes), and
 * writes the Markdown table with mean ± spread beside the published numbers; --set overrides go
 * into rows of their own (--label) with validation metrics, and a try's CSV leaves the cells'
 * table alone. The cell here is a tiny model on a generated CSV so the test takes seconds; it is
 * named like an exchange_rate cell because the tool looks configs up by dataset, lookback and
 * horizon. Skipped without /usr/bin/python3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>

#include "support/testutil.h"

#define PYTHON "/usr/bin/python3"

static char dir[256];
static char out[1 << 16];

/* A shell command run in the test folder, its output in out. */
#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static const char *source_dir(void) {
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    return src;
}

/* Runs tools/accuracy.py with the test folder's models and runs, plus args (no CSV or table). */
static int accuracy_bare(const char *args) {
    return sh(PYTHON " '%s/tools/accuracy.py' --models-dir models --runs-dir runs --bin '%s' "
                     "--nice 0 %s",
              source_dir(), tu_bin(), args);
}

/* Runs tools/accuracy.py with the test folder's models, runs, CSV and table, plus args. */
static int accuracy(const char *args) {
    char all[1024];
    snprintf(all, sizeof all, "--csv runs.csv --table table.md %s", args);
    return accuracy_bare(all);
}

/* The table row of the cell, up to its line end (in a static buffer). */
static const char *cell_row(const char *table) {
    static char row[1024];
    const char *p = strstr(table, "| exchange_rate | 96 | 96 |");
    if (!p) fail_msg("no exchange_rate row in: %s", table);
    size_t n = strcspn(p, "\n");
    snprintf(row, sizeof row, "%.*s", (int)n, p);
    return row;
}

static void write_cell_config(const char *extra) {
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\ncsv = %s/series.csv\nlookback = 96\nhorizon = 96\n"
             "[model]\nanchor = mean\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\n"
             "[train]\nepochs = 1\nbatch_size = 64\n%s",
             dir, extra);
    assert_int_equal(tu_write_file(dir, "models/exchange_rate_L96_H96.ini", text), 0);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "accuracy") != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/models", dir);
    if (mkdir(path, 0755) != 0) return -1;
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    for (int t = 0; t < 1000; t++)
        fprintf(f, "%d,%.5f,%.5f\n", t, (t % 24) * 0.1 + t * 0.001, ((t * 7) % 13) * 0.2);
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void test_runs_each_seed_once_and_writes_the_table(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    write_cell_config("");
    int rc = accuracy("--cells exchange_rate:96:96 --seeds 2");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    char *csv = tu_read_text(dir, "runs.csv");
    assert_int_equal(tu_count_lines(csv), 3); /* header + 2 seeds */
    assert_int_equal(tu_count_of(csv, "exchange_rate,96,96,published,2024,"), 1);
    assert_int_equal(tu_count_of(csv, "exchange_rate,96,96,published,2025,"), 1);
    char *table = tu_read_text(dir, "table.md");
    const char *row = cell_row(table);
    assert_non_null(strstr(row, "| exchange_rate | 96 | 96 | 0."));
    assert_non_null(strstr(row, " ± "));                  /* two seeds: a spread */
    assert_non_null(strstr(row, "0.086 / 0.206 (L=96)")); /* iTransformer, Table 10 */
    assert_non_null(strstr(row, "| 2024,2025 |"));

    /* rerun: nothing new is trained */
    rc = accuracy("--cells exchange_rate:96:96 --seeds 2");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_int_equal(tu_count_of(out, "in the CSV, skipped"), 2);
    assert_int_equal(tu_count_lines(tu_read_text(dir, "runs.csv")), 3);

    /* a changed config trains again, and only its rows make the table */
    write_cell_config("lr = 0.003\n");
    rc = accuracy("--cells exchange_rate:96:96");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_int_equal(tu_count_lines(tu_read_text(dir, "runs.csv")), 4);
    row = cell_row(tu_read_text(dir, "table.md"));
    assert_non_null(strstr(row, "| 2024 |"));
    assert_null(strstr(row, " ± "));
}

/* --set overrides every run's config; its rows carry --label in the variant column, the
 * overrides, and the validation metrics of the best weights. A labelled run is a try: it trains
 * with --no-test, so its test columns stay empty and it makes no table row. A CSV written before
 * the validation columns existed is rewritten under the new header. */
static void test_overrides_are_labelled_apart_with_validation_metrics(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    write_cell_config("");
    assert_int_equal(accuracy("--cells exchange_rate:96:96 --set model.dropout=0.3"), 1);
    assert_non_null(strstr(out, "give --label"));
    int rc = accuracy("--cells exchange_rate:96:96 --set model.dropout=0.3 --label drop3 "
                      "--csv drop.csv --table drop.md");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    char *csv = tu_read_text(dir, "drop.csv");
    assert_non_null(strstr(csv, "val_mse,val_mae,val_naive_mse,overrides\n"));
    assert_int_equal(tu_count_of(csv, "exchange_rate,96,96,drop3,2024,"), 1);
    assert_non_null(strstr(csv, ",model.dropout=0.3\n"));
    assert_null(strstr(csv, ",,model.dropout")); /* the validation columns are filled */
    const char *try_row = strstr(csv, "exchange_rate,96,96,drop3,2024,");
    assert_non_null(try_row);
    const char *digest = strstr(try_row, ".ini,") + 5;
    assert_memory_equal(digest + 64, ",,,,,", 5); /* sha256, then empty mse, mae, naive x2 */
    assert_null(strstr(tu_read_text(dir, "drop.md"), "drop3"));
    assert_int_equal(
        sh("grep -l '\"test_hidden\":[[:space:]]*true' runs/*_drop3_s2024_*/metrics.json"), 0);

    /* an old CSV: its rows keep their values under the new header */
    assert_int_equal(
        tu_write_file(dir, "old.csv",
                      "date,dataset,lookback,horizon,variant,seed,config,config_sha256,mse,mae,"
                      "naive_mse,naive_mae,best_val_loss,loss,best_epoch,epochs_run,"
                      "train_seconds,threads,windows,parameters,attncast_version,git_commit,"
                      "run_dir\n"
                      "2026-12-01,weather,96,96,published,2024,w.ini,abc,0.2,0.3,0.4,0.5,0.6,"
                      "mae,1,1,9.0,1,10,20,0.5.0,x,runs/w\n"),
        0);
    rc = accuracy("--cells exchange_rate:96:96 --csv old.csv --table old.md");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    csv = tu_read_text(dir, "old.csv");
    assert_int_equal(tu_count_lines(csv), 3);
    assert_non_null(strstr(csv, "runs/w,,,,\n"));
    assert_non_null(strstr(tu_read_text(dir, "old.md"), "| weather | 96 | 96 | 0.200 |"));
}

/* Tries go to a CSV of their own (--csv) and, without --table, write no table: the default table
 * is the cells' own (docs/accuracy/table.md), which a try must never overwrite. A try's summary
 * line gives the validation metrics, which choose configs, not the test ones. */
static void test_a_try_csv_leaves_the_table_alone(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    write_cell_config("");
    char table[512];
    snprintf(table, sizeof table, "%s/docs/accuracy/table.md", source_dir());
    struct stat before, after;
    int had_table = stat(table, &before) == 0;
    int rc = accuracy_bare("--cells exchange_rate:96:96 --set model.dropout=0.2 --label d2 "
                           "--csv tries.csv");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "no table written"));
    assert_non_null(strstr(out, "d2 seed 2024: validation mse 0."));
    assert_int_equal(tu_count_of(tu_read_text(dir, "tries.csv"), "exchange_rate,96,96,d2,2024,"),
                     1);
    assert_int_equal(stat(table, &after) == 0, had_table);
    if (had_table) {
        assert_int_equal(after.st_mtime, before.st_mtime);
        assert_int_equal(after.st_ino, before.st_ino); /* not replaced atomically either */
    }
}

static void test_mistakes_are_one_line_errors(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    assert_int_equal(accuracy("--cells weather:96:192"), 1);
    assert_non_null(strstr(out, "no config for weather L=96 H=192"));
    assert_int_equal(accuracy("--cells wether:96:96"), 1);
    assert_non_null(strstr(out, "--cells: unknown dataset 'wether'"));
    assert_non_null(strstr(out, "ETTh1, ETTh2")); /* the known names, spelt as the cards are */
    assert_int_equal(accuracy("--cells weather:96"), 1);
    assert_non_null(strstr(out, "--cells: expected dataset:lookback:horizon"));
    assert_int_equal(accuracy("--datasets exchange_rate --horizons 96,x"), 1);
    assert_non_null(strstr(out, "--horizons"));
    assert_int_equal(accuracy("--datasets exchange_rate --lookback 512"), 1); /* none has one */
    assert_non_null(strstr(out, "no config for exchange_rate L=512 H=96"));
}

/* Of the cells --datasets, --lookback and --horizons span, those without a config are skipped
 * with a note (each dataset's longer lookback is its own); named by --cells, they are errors. */
static void test_cells_without_a_config_are_skipped_when_not_named(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    write_cell_config("");
    int rc = accuracy("--datasets exchange_rate,weather --horizons 96 --dry-run");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "skipping weather L=96 H=96"));
    assert_non_null(strstr(out, "exchange_rate L=96 H=96"));
    assert_null(strstr(out, "skipping exchange_rate"));
    assert_int_equal(accuracy("--cells weather:96:96 --dry-run"), 1);
    assert_non_null(strstr(out, "no config for weather L=96 H=96"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_each_seed_once_and_writes_the_table),
        cmocka_unit_test(test_overrides_are_labelled_apart_with_validation_metrics),
        cmocka_unit_test(test_a_try_csv_leaves_the_table_alone),
        cmocka_unit_test(test_mistakes_are_one_line_errors),
        cmocka_unit_test(test_cells_without_a_config_are_skipped_when_not_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
