/* test_train_cli.c - `attncast train` run as a subprocess: every kind of config error (one
 * line naming file:line or the --set, and the key; exit 2), data errors naming line and column,
 * a tampered dataset refused by its checksum, and a small real run that writes its run folder. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

/* A small config on a generated CSV (written by setup); `extra` lines are appended. */
static void write_config(const char *name, const char *extra) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "[data]\ncsv = %s/series.csv\nlookback = 24\nhorizon = 6\n"
            "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
            "patch_stride = 3\n"
            "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n"
            "[output]\ndir = %s/run\n%s",
            dir, dir, extra);
    fclose(f);
}

static int train(const char *config, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' train %s %s", dir, tu_bin(), config, args);
    return tu_run(cmd, out, sizeof out);
}

static void expect_error(int rc, int code, const char *a, const char *b) {
    if (rc != code) fail_msg("exit %d (wanted %d): %s", rc, code, out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "train-cli") != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    for (int t = 0; t < 400; t++)
        fprintf(f, "2020-01-%04d,%.5f,%.5f\n", t, 5 + sin(t * 0.5236), cos(t * 0.2618));
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void test_small_run_trains_reports_and_writes_its_run_folder(void **state) {
    (void)state;
    write_config("ok.ini", "");
    int rc = train("ok.ini", "--quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "naive"));
    assert_non_null(strstr(out, "seasonal_naive"));
    assert_non_null(strstr(out, "MSE"));
    char path[512];
    snprintf(path, sizeof path, "%s/run/metrics.json", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char json[1 << 15];
    size_t n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    fclose(f);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "split")->valuestring, "test");
    /* two channels: no pooled rmse (it would mix their units); per channel in per_channel */
    const char *keys[] = {"mse", "mae", "wape", "mape", "smape", "mase"};
    cJSON *model = cJSON_GetObjectItem(root, "model");
    cJSON *base = cJSON_GetObjectItem(root, "baselines");
    for (int k = 0; k < 6; k++) {
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(model, keys[k])));
        assert_true(
            cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(base, "naive"), keys[k])));
        assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(base, "seasonal_naive"), keys[k]));
        assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(base, "mean"), keys[k]));
    }
    /* 400 rows: n_test = 80, windows = 80 - 6 + 1 */
    assert_int_equal(cJSON_GetObjectItem(root, "windows")->valueint, 75);
    /* the run's main settings, as the config gave them or by default */
    const struct {
        const char *key;
        double number;
        const char *text;
    } settings[] = {
        {"d_model", 8, NULL},
        {"heads", 2, NULL},
        {"layers", 1, NULL},
        {"d_ff", 16, NULL},
        {"patch_len", 6, NULL},
        {"patch_stride", 3, NULL},
        {"lr", 1e-3, NULL},
        {"batch_size", 16, NULL},
        {"epochs", 2, NULL},
        {"seed", 3, NULL},
        {"lookback", 24, NULL},
        {"horizon", 6, NULL},
        {"channels", 2, NULL},
        {"optimizer", 0, "adam"},
        {"loss", 0, "mse"},
        {"attention", 0, "dot"},
        {"channel_mode", 0, "independent"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        cJSON *item = cJSON_GetObjectItem(root, settings[i].key);
        if (!item) fail_msg("metrics.json has no \"%s\"", settings[i].key);
        if (settings[i].text)
            assert_string_equal(cJSON_GetStringValue(item), settings[i].text);
        else if (!cJSON_IsNumber(item) || item->valuedouble != settings[i].number)
            fail_msg("metrics.json \"%s\" is not %g", settings[i].key, settings[i].number);
    }
    cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/run/history.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    fclose(f);
    assert_int_equal(tu_count_lines(json), 3);
    assert_non_null(strstr(json, "epoch,train_loss,val_loss,lr,seconds,windows_per_s"));
    snprintf(path, sizeof path, "%s/run/config.ini", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/run/report.md", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    fclose(f);
    assert_non_null(strstr(json, "## Test metrics"));
    assert_non_null(strstr(json, "| naive |"));
    assert_non_null(strstr(json, "```ini"));
}

/* The model's MSE in an `attncast eval ... --json` of the run folder's best.h5 (split: NULL for
 * the default, the test split), with its window count. */
static double eval_mse(const char *run, const char *split, int *windows) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' eval %s/best.h5 --json%s%s", dir, tu_bin(), run,
             split ? " --split " : "", split ? split : "");
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0) fail_msg("eval exit %d: %s", rc, out);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    double mse = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "mse")->valuedouble;
    *windows = cJSON_GetObjectItem(root, "windows")->valueint;
    cJSON_Delete(root);
    return mse;
}

static void test_no_test_hides_the_test_split_until_eval(void **state) {
    (void)state;
    write_config("nt.ini", "");
    int rc = train("nt.ini", "--no-test --out nt");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    /* the validation table beside the baselines, and no table of the test split */
    if (strstr(out, "test split:") || !strstr(out, "\nval split:") ||
        !strstr(out, "seasonal_naive"))
        fail_msg("not the validation table alone:\n%s", out);
    assert_non_null(strstr(out, "attncast eval nt/best.h5"));
    static char printed[sizeof out];
    memcpy(printed, out, sizeof out);
    char run[512];
    snprintf(run, sizeof run, "%s/nt", dir);
    int val_windows = 0, test_windows = 0;
    double val_mse = eval_mse("nt", "val", &val_windows);
    double test_mse = eval_mse("nt", NULL, &test_windows); /* the test split, once chosen */
    assert_int_equal(test_windows, 75);
    assert_true(fabs(val_mse - test_mse) > 1e-6 * test_mse); /* the two can be told apart */
    /* stdout's model row is the validation MSE */
    char row[64];
    snprintf(row, sizeof row, "\n%-16s %10.4f", "model", val_mse);
    if (!strstr(printed, row)) fail_msg("no '%s' in:\n%s", row + 1, printed);
    cJSON *root = cJSON_Parse(tu_read_text(run, "metrics.json"));
    assert_non_null(root);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(root, "split")), "val");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "test_hidden")));
    assert_int_equal(cJSON_GetObjectItem(root, "windows")->valueint, val_windows);
    double json_mse = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "mse")->valuedouble;
    if (fabs(json_mse - val_mse) > 1e-5 * val_mse)
        fail_msg("metrics.json model mse %g is not the validation MSE %g (test: %g)", json_mse,
                 val_mse, test_mse);
    cJSON_Delete(root);
    const char *report = tu_read_text(run, "report.md");
    assert_non_null(strstr(report, "## Validation metrics"));
    assert_null(strstr(report, "## Test metrics"));
    assert_non_null(strstr(report, "--no-test"));
    /* no forecasts of test windows, nor their picture; best.h5 and last.h5 are written */
    struct stat st;
    char path[600];
    const char *absent[] = {"test_forecasts.csv", "forecasts.png"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", run, absent[i]);
        if (stat(path, &st) == 0) fail_msg("%s was written", path);
    }
    const char *present[] = {"best.h5", "last.h5", "history.csv", "config.ini"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", run, present[i]);
        if (stat(path, &st) != 0) fail_msg("no %s", path);
    }
}

static void test_resolved_config_trains_again_to_the_same_history(void **state) {
    (void)state;
    /* the written config.ini is a complete config: training from it repeats the run */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && cp run/history.csv first.csv", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    int rc = train("run/config.ini", "--quiet --out again");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cut -d, -f1-4 first.csv > a.txt && cut -d, -f1-4 again/history.csv > "
             "b.txt && cmp a.txt b.txt",
             dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
}

static void test_config_errors_name_file_line_and_key(void **state) {
    (void)state;
    /* each case is a whole small config file with one mistake */
    const struct {
        const char *body, *a, *b, *at; /* at: where, as file:line */
    } cases[] = {
        {"[model]\nhead = 4\n", "model.heads", NULL, "bad.ini:2: "},              /* did you mean */
        {"[train]\nlr = fast\n", "train.lr", NULL, "bad.ini:2: "},                /* wrong type */
        {"[model]\ndropout = 1.5\n", "model.dropout", NULL, "bad.ini:2: "},       /* out of range */
        {"[model]\nattention = dott\n", "model.attention", "dot", "bad.ini:2: "}, /* enum */
        {"[trian]\nlr = 1\n", "[trian]", "train", "bad.ini:1: "}, /* unknown section */
        {"[model]\nd_model = 10\nheads = 4\n", "model.d_model", "model.heads", "bad.ini"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/bad.ini", dir);
        FILE *f = fopen(path, "w");
        fprintf(f, "%s[data]\ncsv = series.csv\n", cases[i].body);
        fclose(f);
        expect_error(train("bad.ini", ""), 2, cases[i].a, cases[i].b);
        /* the message begins with where the mistake is */
        if (strncmp(out, "attncast: ", 10) != 0 ||
            strncmp(out + 10, cases[i].at, strlen(cases[i].at)))
            fail_msg("'%s' does not begin the message: %s", cases[i].at, out);
    }
}

static void write_file(const char *name, const char *text) {
    assert_int_equal(tu_write_file(dir, name, text), 0);
}

static void test_unknown_dataset_is_a_config_error_with_did_you_mean(void **state) {
    (void)state;
    write_file("ds.ini", "[data]\n; a near miss\ndataset = exchange_rat\nlookback = 24\n");
    expect_error(train("ds.ini", ""), 2, "ds.ini:3: data.dataset: unknown dataset 'exchange_rat'",
                 "did you mean exchange_rate?");
    write_config("ok.ini", "");
    expect_error(train("ok.ini", "--set data.csv= --set data.dataset=exchange_rat"), 2,
                 "--set data.dataset=exchange_rat: data.dataset: unknown dataset", "exchange_rate");
    /* nothing near: the known cards are listed */
    expect_error(train("ok.ini", "--set data.csv= --set data.dataset=zzzz"), 2,
                 "unknown dataset 'zzzz' (known: ", "weather");
}

static void test_unknown_column_is_a_config_error_with_did_you_mean(void **state) {
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\ncsv = %s/series.csv\n\ncolumns = a, bb\nlookback = 24\nhorizon = 6\n", dir);
    write_file("cols.ini", text);
    expect_error(train("cols.ini", ""), 2, "cols.ini:4: data.columns: column 'bb'",
                 "(did you mean 'b'?)");
    write_config("ok.ini", "");
    expect_error(train("ok.ini", "--set data.columns=A"), 2,
                 "--set data.columns=A: data.columns: column 'A' is not in the header",
                 "(did you mean 'a'?)");
    expect_error(train("ok.ini", "--set data.date_column=dates"), 2,
                 "--set data.date_column=dates: data.date_column: column 'dates'",
                 "(did you mean 'date'?)");
}

static void test_a_600_character_csv_path_in_a_config_file_works(void **state) {
    (void)state;
    /* past Debian inih's 199-character lines: three 190-character folders and a long name */
    char rel[700] = "", cmd[2048], text[1024];
    for (int i = 0; i < 3; i++) {
        size_t at = strlen(rel);
        memset(rel + at, 'd', 190);
        strcpy(rel + at + 190, "/");
    }
    snprintf(cmd, sizeof cmd, "cd '%s' && mkdir -p '%s'", dir, rel);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    size_t len = strlen(rel);
    memset(rel + len, 'f', 600 - len - 4);
    strcpy(rel + 600 - 4, ".csv");
    assert_int_equal(strlen(rel), 600);
    snprintf(cmd, sizeof cmd, "cd '%s' && cp series.csv '%s'", dir, rel);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    snprintf(text, sizeof text,
             "[data]\ncsv = %s\nlookback = 24\nhorizon = 6\n[model]\nd_model = 8\nheads = 2\n"
             "layers = 1\nd_ff = 16\npatch_len = 6\npatch_stride = 3\n[train]\nepochs = 1\n"
             "threads = 1\n[output]\ndir = longpath-run\n",
             rel);
    write_file("longpath.ini", text);
    int rc = train("longpath.ini", "--quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    /* the resolved config.ini holds the path on one line and reads back */
    rc = train("longpath-run/config.ini", "--quiet --out longpath-again");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

static void test_impossible_lengths_are_refused_before_training(void **state) {
    (void)state;
    write_config("ok.ini", "");
    expect_error(train("ok.ini", "--set model.patch_len=30"), 2, "model.patch_len",
                 "data.lookback");
    expect_error(train("ok.ini", "--set data.horizon=90"), 2, "data.horizon", "split");
    expect_error(train("ok.ini", "--set output.plot_channels=a,zz"), 2, "output.plot_channels",
                 "'zz'");
}

static void test_set_overrides_are_checked_and_named(void **state) {
    (void)state;
    write_config("ok.ini", "");
    expect_error(train("ok.ini", "--set train.lr=abc"), 2, "--set train.lr=abc", "train.lr");
    expect_error(train("ok.ini", "--set train.learning_rate=0.1"), 2, "train.learning_rate", NULL);
    expect_error(train("ok.ini", "--set lr"), 2, "section.key=value", NULL);
    expect_error(train("ok.ini", "--set"), 2, "--set", NULL);
}

static void test_command_line_mistakes_are_usage_errors(void **state) {
    (void)state;
    expect_error(train("", ""), 2, "no config file", NULL);
    expect_error(train("missing.ini", ""), 2, "missing.ini", NULL);
    write_config("ok.ini", "");
    expect_error(train("ok.ini", "--frobnicate"), 2, "--frobnicate", NULL);
    expect_error(train("ok.ini other.ini", ""), 2, "one config file", NULL);
    assert_int_equal(train("--help", ""), 0);
    assert_non_null(strstr(out, "model.attention"));
}

static void test_bad_csv_cell_is_reported_with_line_and_column(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && sed '15s/^\\([^,]*\\),[^,]*,/\\1,oops,/' series.csv > broken.csv", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    write_config("broken.ini", "");
    expect_error(train("broken.ini", "--set data.csv=broken.csv"), 1, "broken.csv:15:2", "oops");
}

/* data.missing_marker reaches the reader: a -9999 cell is an error naming line and column unless
 * data.missing fills it; a bad marker is a config error naming the --set. */
static void test_missing_marker_cells_are_missing_values(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && sed '15s/^\\([^,]*\\),[^,]*,/\\1,-9999,/' series.csv > sentinel.csv", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    write_config("sentinel.ini", "");
    const char *args = "--quiet --set data.csv=sentinel.csv --set train.epochs=1 --out s-run "
                       "--set data.missing_marker=-9999";
    expect_error(train("sentinel.ini", args), 1, "sentinel.csv:15:2 (column 'a')",
                 "missing value '-9999'");
    char filled[1024];
    snprintf(filled, sizeof filled, "%s --set data.missing=interpolate", args);
    int rc = train("sentinel.ini", filled);
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    expect_error(train("sentinel.ini", "--set data.missing_marker=n/a"), 2,
                 "--set data.missing_marker=n/a: data.missing_marker", "finite number");
}

static void test_ragged_row_is_reported_with_line_and_column(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && sed '21s/,[^,]*$//' series.csv > ragged.csv", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    write_config("ragged.ini", "");
    expect_error(train("ragged.ini", "--set data.csv=ragged.csv"), 1,
                 "ragged.csv:21:3 (column 'b')", "expected 3 fields as in the header, found 2");
}

static void test_text_first_column_suggests_data_date_column(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && sed '1s/^date,/time,/' series.csv > timed.csv", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    write_config("timed.ini", "");
    expect_error(train("timed.ini", "--set data.csv=timed.csv"), 1, "timed.csv:2:1 (column 'time')",
                 "(if 'time' is the date column, set data.date_column = time)");
    /* and following the hint works */
    int rc = train("timed.ini", "--quiet --set data.csv=timed.csv --set data.date_column=time "
                                "--set train.epochs=1 --out timed-run");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

static void test_tampered_dataset_is_refused_by_checksum(void **state) {
    (void)state;
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src) skip();
    char cmd[2048];
    /* a mirror holding a one-byte-altered exchange_rate.csv */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir -p mirror && printf 'date,0\\n2020,1\\n' > mirror/exchange_rate.csv",
             dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    write_config("ds.ini", "");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ATTNCAST_DATA_MIRROR='%s/mirror' ATTNCAST_CACHE_DIR='%s/cache' '%s' train "
             "ds.ini --set data.csv= --set data.dataset=exchange_rate",
             dir, dir, dir, tu_bin());
    expect_error(tu_run(cmd, out, sizeof out), 1,
                 "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842",
                 "exchange_rate.csv");
}

static void test_a_run_folder_another_trainer_holds_is_refused(void **state) {
    (void)state;
    write_config("lock.ini", "");
    char folder[512], lock[600];
    snprintf(folder, sizeof folder, "%s/held", dir);
    assert_int_equal(mkdir(folder, 0777), 0);
    /* hold the lock as a running trainer does */
    snprintf(lock, sizeof lock, "%s/.train.lock", folder);
    int fd = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    char args[700];
    snprintf(args, sizeof args, "--quiet --out '%s'", folder);
    expect_error(train("lock.ini", args), 1,
                 "held: another attncast train is writing to this run "
                 "folder",
                 "use another --out");
    struct stat st;
    snprintf(lock, sizeof lock, "%s/last.h5", folder);
    assert_int_not_equal(stat(lock, &st), 0); /* it wrote nothing there */
    close(fd);
    int rc = train("lock.ini", args); /* free again: it trains */
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

static void test_plot_redraws_the_pictures_into_report_md(void **state) {
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' plot '%s/no/such/run'", tu_bin(), dir);
    int rc = tu_run(cmd, out, sizeof out);
    expect_error(rc, 1, "no/such/run: the folder does not exist", NULL);
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) skip();
    write_config("plot.ini", "");
    char args[512];
    snprintf(args, sizeof args, "--quiet --out '%s/plotted'", dir);
    rc = train("plot.ini", args);
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    /* a report without pictures (as when gnuplot was missing at training time) */
    snprintf(cmd, sizeof cmd,
             "cd '%s/plotted' && rm -f *.png *.svg && grep -v '^!\\[' report.md > r && mv r "
             "report.md && ! grep -q png report.md",
             dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' plot plotted", dir, tu_bin());
    rc = tu_run(cmd, out, sizeof out);
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "report.md embeds them"));
    snprintf(cmd, sizeof cmd, "cat '%s/plotted/report.md'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    const char *curves = strstr(out, "![learning curves](learning_curves.png)\n");
    const char *forecasts = strstr(out, "![test forecasts](forecasts.png)\n");
    const char *config = strstr(out, "## Config\n");
    if (!curves || !forecasts || !config) fail_msg("pictures not embedded: %s", out);
    assert_true(curves < forecasts && forecasts < config);
    assert_non_null(strstr(out, "## Test metrics")); /* the rest is kept */
    /* drawing again changes nothing: each picture is embedded once */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' plot plotted >/dev/null && grep -c '^!\\[' plotted/report.md", dir,
             tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_int_equal(atoi(out), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_run_trains_reports_and_writes_its_run_folder),
        cmocka_unit_test(test_no_test_hides_the_test_split_until_eval),
        cmocka_unit_test(test_resolved_config_trains_again_to_the_same_history),
        cmocka_unit_test(test_config_errors_name_file_line_and_key),
        cmocka_unit_test(test_unknown_dataset_is_a_config_error_with_did_you_mean),
        cmocka_unit_test(test_unknown_column_is_a_config_error_with_did_you_mean),
        cmocka_unit_test(test_a_600_character_csv_path_in_a_config_file_works),
        cmocka_unit_test(test_impossible_lengths_are_refused_before_training),
        cmocka_unit_test(test_set_overrides_are_checked_and_named),
        cmocka_unit_test(test_command_line_mistakes_are_usage_errors),
        cmocka_unit_test(test_bad_csv_cell_is_reported_with_line_and_column),
        cmocka_unit_test(test_missing_marker_cells_are_missing_values),
        cmocka_unit_test(test_ragged_row_is_reported_with_line_and_column),
        cmocka_unit_test(test_text_first_column_suggests_data_date_column),
        cmocka_unit_test(test_tampered_dataset_is_refused_by_checksum),
        cmocka_unit_test(test_a_run_folder_another_trainer_holds_is_refused),
        cmocka_unit_test(test_plot_redraws_the_pictures_into_report_md),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
