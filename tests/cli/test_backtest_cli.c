/* test_backtest_cli.c - `attncast backtest` through the real binary: a checkpoint backtested
 * over the test split's origins gives eval's test metrics bit for bit and eval --forecasts's
 * CSV byte for byte, with the checkpoint's conformal bounds around each forecast and the
 * coverage in metrics.json that the CSV's rows give; --stride, --start ROW and --start DATE pick
 * the origins; --refit 2 trains and calibrates one model per fold on the rows before it; a
 * quantile model's q-columns increase; a backtest stopped after one fold and rerun writes the
 * same outputs as one that ran straight through, and so does --jobs 2; one SIGKILLed (with its
 * workers) once its first fold file exists and rerun, with a stale temporary fold file beside,
 * writes them byte for byte too; SIGINT (Ctrl-C, to the process group) and SIGTERM (to the
 * parent alone) stop it with 128 + the signal and one line whose command continues it to the
 * same outputs; bad command lines, a folder of another backtest and an old fold file fail in
 * one line. With covariates (two targets, a past and a future covariate, the hour of day): a
 * checkpoint's backtest is eval's test metrics and forecasts CSV (the targets' rows only), a
 * config's is train's, a refit's fold keeps the scaler of every real column and a resumed run
 * writes the same outputs; forecasts read the future covariate from the horizon rows and the
 * past one from the input rows only.
 *
 * The series: 300 hourly rows of two channels; split 0.7/0.1/0.2 (n_val 30, test origins
 * 240-294 for L = 24, H = 6). The covariate series: the same rows with a past covariate p and a
 * future covariate f (which the target a follows); cov_f.csv and cov_p.csv change f or p in the
 * last 6 rows alone. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* Folds slow enough to stop in the middle: 3 folds of 100 epochs each (about 0.3 s on one
 * core). */
#define SLOW_BACKTEST "backtest tiny.ini --set train.epochs=100 --refit 20 --quiet"

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "backtest-cli") != 0) return -1;
    if (setenv("A", tu_bin(), 1) != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    for (int t = 0; t < 300; t++)
        fprintf(f, "2021-01-%02d %02d:00:00,%.5f,%.5f\n", 1 + t / 24, t % 24, 5 + sin(t * 0.5236),
                3 + cos(t * 0.2618) + 0.01 * t);
    fclose(f);
    /* the covariate series, and two that differ from it in f or p in rows 294-299 alone */
    const char *names[3] = {"cov.csv", "cov_f.csv", "cov_p.csv"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if (!(f = fopen(path, "w"))) return -1;
        fprintf(f, "date,a,b,p,f\n");
        for (int t = 0; t < 300; t++) {
            double fv = cos(t * 0.3), pv = sin(t * 0.1);
            if (t >= 294 && k == 1) fv += 2;
            if (t >= 294 && k == 2) pv += 2;
            fprintf(f, "2021-01-%02d %02d:00:00,%.5f,%.5f,%.5f,%.5f\n", 1 + t / 24, t % 24,
                    5 + sin(t * 0.5236) + 0.5 * cos(t * 0.3) + 0.01 * ((t * 7) % 5),
                    3 + cos(t * 0.2618) + 0.01 * t, pv, fv);
        }
        fclose(f);
    }
    if (tu_write_file(dir, "cov.ini",
                      "[data]\ncsv = cov.csv\nlookback = 24\nhorizon = 6\ntargets = a,b\n"
                      "past_covariates = p\nfuture_covariates = f\ncalendar = hour_of_day\n"
                      "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
                      "patch_stride = 3\n"
                      "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n") != 0 ||
        sh("$A train cov.ini --quiet --out runs/cov") != 0)
        return -1;
    if (tu_write_file(dir, "tiny.ini",
                      "[data]\ncsv = series.csv\nlookback = 24\nhorizon = 6\n"
                      "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
                      "patch_stride = 3\n"
                      "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n") != 0)
        return -1;
    return sh("$A train tiny.ini --quiet --out runs/a") == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static char *read_in_dir(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tu_read_file(path, NULL);
}

static cJSON *json_file(const char *name) {
    char *text = read_in_dir(name);
    if (!text) fail_msg("cannot read %s", name);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) fail_msg("%s is not JSON", name);
    return root;
}

static double number(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) fail_msg("no number %s", key);
    return v->valuedouble;
}

/* ---- forecasts.csv, parsed ---- */

enum { MAX_COLS = 32, MAX_ROWS = 1024 };

typedef struct csv_rows {
    int cols, rows;
    char names[MAX_COLS][32];
    double v[MAX_ROWS][MAX_COLS]; /* numbers (NAN for text fields) */
    char channel[MAX_ROWS][8];
} csv_rows;

static csv_rows *read_csv(const char *name) {
    char *text = read_in_dir(name);
    if (!text) fail_msg("cannot read %s", name);
    csv_rows *c = calloc(1, sizeof *c);
    assert_non_null(c);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int k = 0;
        for (char *p = line; k < MAX_COLS; k++) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            if (c->rows == 0 && c->cols == 0 && k >= 0)
                snprintf(c->names[k], sizeof c->names[k], "%s", p);
            else if (c->rows < MAX_ROWS) {
                char *end;
                double x = strtod(p, &end);
                c->v[c->rows][k] = end != p && *end == '\0' ? x : NAN;
                if (k == 4) snprintf(c->channel[c->rows], sizeof c->channel[0], "%s", p);
            }
            if (!comma) break;
            p = comma + 1;
        }
        if (c->cols == 0)
            c->cols = k + 1;
        else if (c->rows < MAX_ROWS)
            c->rows++;
        else
            fail_msg("%s: more than %d rows", name, MAX_ROWS);
    }
    free(text);
    return c;
}

static int column(const csv_rows *c, const char *name) {
    for (int k = 0; k < c->cols; k++)
        if (!strcmp(c->names[k], name)) return k;
    fail_msg("no column %s", name);
    return -1;
}

/* The share of the rows (those with origin in [first, last]) whose actual lies in [lo, hi]. */
static double csv_coverage(const csv_rows *c, const char *lo, const char *hi, int first, int last) {
    int l = column(c, lo), h = column(c, hi), a = column(c, "actual"), in = 0, n = 0;
    for (int r = 0; r < c->rows; r++) {
        if (c->v[r][0] < first || c->v[r][0] > last) continue;
        n++;
        in += c->v[r][l] <= c->v[r][a] && c->v[r][a] <= c->v[r][h];
    }
    return n ? (double)in / n : NAN;
}

/* The interval object of a breakdown's "intervals" with this method and level. */
static const cJSON *interval(const cJSON *breakdown, const char *method, double level) {
    const cJSON *iv;
    cJSON_ArrayForEach(iv, cJSON_GetObjectItemCaseSensitive(breakdown, "intervals")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(iv, "method");
        if (cJSON_IsString(m) && !strcmp(m->valuestring, method) &&
            fabs(number(iv, "level") - level) < 1e-9)
            return iv;
    }
    fail_msg("no %s %g interval", method, level);
    return NULL;
}

/* The coverage of a breakdown's interval is in [0, 1] and the share of the CSV's rows (origins
 * first..last) inside the interval's bounds. */
static void assert_coverage_matches(const cJSON *breakdown, const csv_rows *c, const char *lo,
                                    const char *hi, double level, int first, int last) {
    double cov = number(interval(breakdown, "conformal", level), "coverage");
    assert_true(cov >= 0 && cov <= 1);
    double share = csv_coverage(c, lo, hi, first, last);
    if (!(fabs(cov - share) <= 1e-12))
        fail_msg("coverage %s-%s: metrics.json %.12g, forecasts.csv %.12g", lo, hi, cov, share);
}

/* Two files hold the same bytes. */
static void assert_same_file(const char *a, const char *b) {
    char *x = read_in_dir(a), *y = read_in_dir(b);
    assert_non_null(x);
    assert_non_null(y);
    if (strcmp(x, y) != 0) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

static void test_checkpoint_backtest_matches_eval_bit_for_bit(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest runs/a/best.h5 --out bt/ck --quiet"), 0);
    assert_int_equal(sh("$A eval runs/a/best.h5 --json --forecasts eval_forecasts.csv > "
                        "eval.json"),
                     0);
    cJSON *ev = json_file("eval.json"), *bt = json_file("bt/ck/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    /* cJSON prints doubles so that they read back exactly: equal items are equal numbers */
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "model"),
                              cJSON_GetObjectItemCaseSensitive(overall, "model"), true));
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "baselines"),
                              cJSON_GetObjectItemCaseSensitive(overall, "baselines"), true));
    /* the intervals too: the same coverage, width and Winkler score, bit for bit */
    const cJSON *ev_iv = cJSON_GetObjectItemCaseSensitive(ev, "intervals");
    assert_true(cJSON_GetArraySize(ev_iv) == 2);
    assert_true(cJSON_Compare(ev_iv, cJSON_GetObjectItemCaseSensitive(overall, "intervals"), true));
    assert_true(number(bt, "origins") == number(ev, "windows"));
    assert_true(number(bt, "first_origin") == 240 && number(bt, "last_origin") == 294);
    cJSON_Delete(ev);
    cJSON_Delete(bt);
    assert_same_file("eval_forecasts.csv", "bt/ck/forecasts.csv");
    char *csv = read_in_dir("bt/ck/forecasts.csv");
    assert_non_null(csv);
    assert_int_equal(tu_count_lines(csv), 1 + 55 * 6 * 2);
    /* best.h5 is calibrated at output.intervals' default 0.8,0.95 */
    assert_non_null(strstr(csv, "origin,origin_date,step,date,channel,actual,forecast,lo80,hi80,"
                                "lo95,hi95\n"
                                "240,2021-01-11 00:00:00,1,2021-01-11 00:00:00,a,"));
    free(csv);
}

static void test_conformal_bounds_and_coverage(void **state) {
    (void)state;
    assert_int_equal(sh("test -e bt/ck/metrics.json || $A backtest runs/a/best.h5 --out bt/ck "
                        "--quiet"),
                     0);
    csv_rows *c = read_csv("bt/ck/forecasts.csv");
    int f = column(c, "forecast"), lo80 = column(c, "lo80"), hi80 = column(c, "hi80"),
        lo95 = column(c, "lo95"), hi95 = column(c, "hi95");
    assert_int_equal(c->rows, 55 * 6 * 2);
    for (int r = 0; r < c->rows; r++) {
        const double *v = c->v[r];
        if (!(v[lo95] <= v[lo80] && v[lo80] <= v[f] && v[f] <= v[hi80] && v[hi80] <= v[hi95]))
            fail_msg("row %d: %g %g %g %g %g", r, v[lo95], v[lo80], v[f], v[hi80], v[hi95]);
    }
    cJSON *bt = json_file("bt/ck/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    assert_coverage_matches(overall, c, "lo80", "hi80", 0.8, 0, 1000);
    assert_coverage_matches(overall, c, "lo95", "hi95", 0.95, 0, 1000);
    const cJSON *iv = interval(overall, "conformal", 0.8);
    assert_true(number(iv, "points") == 55 * 6 * 2);
    assert_true(number(iv, "width_scaled") > 0 &&
                number(iv, "winkler_scaled") >= number(iv, "width_scaled"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(iv, "width"))); /* 2 channels */
    /* per step: the coverage of the rows of that step */
    const cJSON *step = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(bt, "per_step"), 0);
    double cov = number(interval(step, "conformal", 0.8), "coverage");
    int in = 0, n = 0, a = column(c, "actual");
    for (int r = 0; r < c->rows; r++)
        if (c->v[r][2] == 1) {
            n++;
            in += c->v[r][lo80] <= c->v[r][a] && c->v[r][a] <= c->v[r][hi80];
        }
    assert_true(fabs(cov - (double)in / n) < 1e-12);
    /* the quantiles the conformal bounds imply, beside the seasonal-naive quantile baseline */
    const cJSON *qs =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(overall, "quantile_scores"), 0);
    assert_non_null(qs);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(qs, "levels")), 5);
    assert_true(number(cJSON_GetObjectItemCaseSensitive(qs, "model"), "wql") > 0);
    assert_true(number(cJSON_GetObjectItemCaseSensitive(qs, "seasonal_naive"), "wql") >= 0);
    cJSON_Delete(bt);
    free(c);
    char *md = read_in_dir("bt/ck/backtest.md");
    assert_non_null(md);
    assert_non_null(strstr(md, "| conformal 80% |"));
    assert_non_null(strstr(md, "conformal 95% coverage |"));
    free(md);
    char *cov_csv = read_in_dir("bt/ck/coverage_by_fold.csv");
    assert_non_null(cov_csv);
    assert_non_null(strstr(cov_csv, "fold,first_origin,first_origin_date,origins,conformal_80,"
                                    "conformal_95\n0,240,"));
    free(cov_csv);
    if (sh("command -v gnuplot >/dev/null") == 0)
        assert_int_equal(sh("test -s bt/ck/coverage_by_fold.png"), 0);
}

static void test_checkpoint_without_calibration_has_no_bounds(void **state) {
    (void)state;
    assert_int_equal(sh("$A train tiny.ini --quiet --out runs/plain --set output.intervals="), 0);
    assert_int_equal(sh("$A backtest runs/plain/best.h5 --out bt/plain --quiet 2>&1"), 0);
    assert_non_null(strstr(out, "no /calibration"));
    char *csv = read_in_dir("bt/plain/forecasts.csv");
    assert_non_null(csv);
    assert_non_null(strstr(csv, "channel,actual,forecast\n"));
    free(csv);
    cJSON *bt = json_file("bt/plain/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(overall, "intervals")), 0);
    cJSON_Delete(bt);
}

static void test_quantile_model_columns_increase(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest tiny.ini --stride 5 --out bt/quant --quiet --set "
                        "model.quantiles=0.1,0.5,0.9 --set output.intervals=0.8"),
                     0);
    csv_rows *c = read_csv("bt/quant/forecasts.csv");
    int f = column(c, "forecast"), q1 = column(c, "q0.1"), q5 = column(c, "q0.5"),
        q9 = column(c, "q0.9"), lo = column(c, "lo80");
    assert_true(lo < q1); /* conformal columns first */
    int strict = 0;
    for (int r = 0; r < c->rows; r++) {
        const double *v = c->v[r];
        if (!(v[q1] <= v[q5] && v[q5] <= v[q9])) fail_msg("row %d: q-columns decrease", r);
        strict += v[q1] < v[q9];
        assert_true(v[f] == v[q5]); /* the point is the median */
    }
    assert_true(strict > c->rows / 2);
    cJSON *bt = json_file("bt/quant/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    const cJSON *iv = interval(overall, "quantile", 0.8);
    double share = csv_coverage(c, "q0.1", "q0.9", 0, 1000);
    assert_true(share > 0 && fabs(number(iv, "coverage") - share) < 1e-12);
    const cJSON *qs =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(overall, "quantile_scores"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(qs, "method")->valuestring, "quantile");
    assert_true(number(cJSON_GetObjectItemCaseSensitive(qs, "model"), "wql") > 0);
    cJSON_Delete(bt);
    free(c);
}

static void test_config_backtest_without_refit_is_train(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest tiny.ini --out bt/cfg --quiet"), 0);
    cJSON *run = json_file("runs/a/metrics.json"), *bt = json_file("bt/cfg/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(run, "model"),
                              cJSON_GetObjectItemCaseSensitive(overall, "model"), true));
    cJSON_Delete(run);
    cJSON_Delete(bt);
}

static void test_stride_and_start_pick_the_origins(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest tiny.ini --start 100 --stride 5 --out bt/row --quiet"), 0);
    cJSON *bt = json_file("bt/row/metrics.json");
    assert_true(number(bt, "first_origin") == 100);
    assert_true(number(bt, "origins") == (294 - 100) / 5 + 1);
    assert_true(number(bt, "last_origin") == 100 + 38 * 5);
    cJSON_Delete(bt);
    char *csv = read_in_dir("bt/row/forecasts.csv");
    assert_non_null(csv);
    assert_int_equal(tu_count_lines(csv), 1 + 39 * 6 * 2);
    assert_non_null(strstr(csv, "\n105,2021-01-05 09:00:00,1,"));
    assert_null(strstr(csv, "\n101,"));
    free(csv);
    /* row 100 is 2021-01-05 04:00 */
    assert_int_equal(
        sh("$A backtest tiny.ini --start '2021-01-05 04:00:00' --stride 5 --out bt/date --quiet"),
        0);
    assert_same_file("bt/row/forecasts.csv", "bt/date/forecasts.csv");
    assert_same_file("bt/row/metrics.json", "bt/date/metrics.json");
}

static void test_refit_trains_one_model_per_fold(void **state) {
    (void)state;
    /* origins 240, 250, ..., 290: 6 origins, 3 folds of 2 */
    assert_int_equal(sh("$A backtest tiny.ini --refit 2 --stride 10 --out bt/refit --quiet"), 0);
    assert_int_equal(sh("ls bt/refit/folds | wc -l"), 0);
    assert_int_equal(atoi(out), 3);
    cJSON *bt = json_file("bt/refit/metrics.json");
    assert_true(number(bt, "folds") == 3);
    const cJSON *folds = cJSON_GetObjectItemCaseSensitive(bt, "per_fold");
    assert_int_equal(cJSON_GetArraySize(folds), 3);
    for (int f = 0; f < 3; f++) {
        const cJSON *fold = cJSON_GetArrayItem(folds, f);
        assert_true(number(fold, "first_origin") == 240 + 20 * f);
        assert_true(number(fold, "train_rows") == 240 + 20 * f - 30); /* n_val = 30 */
        assert_true(number(fold, "epochs_run") == 2);
        assert_true(number(fold, "calibration_windows") == 30 - 6 + 1);
    }
    /* each fold calibrated on its own validation windows: the 80% half-width at the first step
     * of channel a differs between the folds' first origins */
    csv_rows *c = read_csv("bt/refit/forecasts.csv");
    int fc = column(c, "forecast"), hi = column(c, "hi80");
    double half[3];
    for (int f = 0; f < 3; f++) {
        half[f] = NAN;
        for (int r = 0; r < c->rows; r++)
            if (c->v[r][0] == 240 + 20 * f && c->v[r][2] == 1 && !strcmp(c->channel[r], "a"))
                half[f] = c->v[r][hi] - c->v[r][fc];
        assert_true(half[f] > 0);
        const cJSON *fold = cJSON_GetArrayItem(folds, f);
        assert_coverage_matches(fold, c, "lo80", "hi80", 0.8, 240 + 20 * f, 250 + 20 * f);
        assert_coverage_matches(fold, c, "lo95", "hi95", 0.95, 240 + 20 * f, 250 + 20 * f);
    }
    assert_true(fabs(half[0] - half[1]) > 1e-6 || fabs(half[1] - half[2]) > 1e-6);
    assert_coverage_matches(cJSON_GetObjectItemCaseSensitive(bt, "overall"), c, "lo80", "hi80", 0.8,
                            0, 1000);
    free(c);
    cJSON_Delete(bt);
}

static void test_resumed_and_parallel_backtests_write_the_same_outputs(void **state) {
    (void)state;
    const char *cmd = "$A backtest tiny.ini --refit 2 --stride 10 --quiet --out";
    assert_int_equal(sh("%s bt/whole", cmd), 0);
    assert_int_equal(sh("%s bt/resumed --stop-after-folds 1", cmd), 0);
    assert_non_null(strstr(out, "stopped after 1 fold(s)"));
    assert_int_equal(sh("ls bt/resumed/folds | wc -l"), 0);
    assert_int_equal(atoi(out), 1);
    assert_int_not_equal(sh("test -e bt/resumed/metrics.json"), 0);
    assert_int_equal(sh("%s bt/resumed", cmd), 0);
    assert_non_null(strstr(out, "(2 fold(s) computed now)"));
    assert_same_file("bt/whole/forecasts.csv", "bt/resumed/forecasts.csv");
    assert_same_file("bt/whole/metrics.json", "bt/resumed/metrics.json");
    assert_int_equal(sh("%s bt/jobs --jobs 2", cmd), 0);
    assert_same_file("bt/whole/forecasts.csv", "bt/jobs/forecasts.csv");
    assert_same_file("bt/whole/metrics.json", "bt/jobs/metrics.json");
}

/* ---- stopping a backtest: SIGKILL, SIGINT, SIGTERM ---- */

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Starts `attncast SLOW_BACKTEST --jobs J --out OUT` in dir, in a process group of its own (so
 * that it and its workers can be signalled together), output to OUT.log. */
static pid_t start_slow(int jobs, const char *out_dir) {
    char log[600], command[512], bin[512];
    snprintf(log, sizeof log, "%s/%s.log", dir, out_dir);
    snprintf(bin, sizeof bin, "%s", tu_bin());
    snprintf(command, sizeof command, "%s --jobs %d --out %s", SLOW_BACKTEST, jobs, out_dir);
    char *argv[32] = {bin};
    int argc = 1;
    for (char *save = NULL, *w = strtok_r(command, " ", &save); w && argc < 31;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        if (chdir(dir) != 0 || !freopen(log, "w", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* either call wins; both make the group before it matters */
    return pid;
}

/* Waits (up to 120 s, times tu_time_scale()) for OUT/folds/fold_0000.bin or for pid to end.
 * True when the file exists and pid still runs; *status holds pid's status if it ended. */
static bool wait_for_first_fold(pid_t pid, const char *out_dir, int *status, bool *ended) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/folds/fold_0000.bin", dir, out_dir);
    *ended = false;
    for (double waited = 0; waited < 120 * tu_time_scale(); waited += 0.005) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            *ended = true;
            return false;
        }
        if (access(path, F_OK) == 0) return true;
        sleep_seconds(0.005);
    }
    fail_msg("no %s after 120 s", path);
    return false;
}

/* Reaps every process this test adopted (workers of a killed backtest: the test is their
 * subreaper), so that none still holds the folder's lock. */
static void reap_orphans(void) {
    int status;
    while (waitpid(-1, &status, 0) > 0 || errno == EINTR) continue;
}

static char *log_of(const char *out_dir) {
    char name[256];
    snprintf(name, sizeof name, "%s.log", out_dir);
    return read_in_dir(name);
}

/* The reference outputs of SLOW_BACKTEST, run straight through (once). */
static void slow_reference(void) {
    if (sh("test -e bt/slow_ref/metrics.json") == 0) return;
    assert_int_equal(sh("$A %s --out bt/slow_ref", SLOW_BACKTEST), 0);
    assert_int_equal(sh("ls bt/slow_ref/folds | wc -l"), 0);
    assert_int_equal(atoi(out), 3); /* 55 origins, 20 per fold: 3 folds */
}

static void assert_same_as_slow_reference(const char *out_dir) {
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/forecasts.csv", out_dir);
    assert_same_file("bt/slow_ref/forecasts.csv", a);
    snprintf(b, sizeof b, "%s/metrics.json", out_dir);
    assert_same_file("bt/slow_ref/metrics.json", b);
    /* no temporary files are left over */
    assert_int_equal(sh("find %s -name '*.tmp.*' | wc -l", out_dir), 0);
    assert_int_equal(atoi(out), 0);
}

static void kill_then_rerun(int jobs, const char *out_dir) {
    slow_reference();
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int status = 0;
    bool ended;
    pid_t pid = start_slow(jobs, out_dir);
    if (wait_for_first_fold(pid, out_dir, &status, &ended)) {
        assert_int_equal(kill(-pid, SIGKILL), 0); /* the backtest and its workers at once */
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = log_of(out_dir);
        fail_msg("the backtest ended with status 0x%x before its first fold: %s", status,
                 log ? log : "");
    } else {
        print_message("the backtest finished before the kill; checking the rerun only\n");
    }
    reap_orphans();
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    /* a worker killed while writing leaves its temporary file: the rerun removes it */
    assert_int_equal(sh("printf 'half a fold' > %s/folds/fold_0001.bin.tmp.999999", out_dir), 0);
    int rc = sh("$A %s --jobs %d --out %s", SLOW_BACKTEST, jobs, out_dir);
    if (rc != 0) fail_msg("rerun: exit %d: %s", rc, out);
    assert_same_as_slow_reference(out_dir);
}

static void test_sigkilled_backtest_reruns_to_the_same_outputs(void **state) {
    (void)state;
    kill_then_rerun(1, "bt/killed1");
}

static void test_sigkilled_parallel_backtest_reruns_to_the_same_outputs(void **state) {
    (void)state;
    kill_then_rerun(2, "bt/killed2");
}

/* Sends sig (to the whole group: a Ctrl-C; else to the parent alone) once the first fold file
 * exists; expects 128 + sig and one line saying how to continue, then runs that command as
 * printed and compares with the reference. */
static void interrupt_then_continue(int sig, bool group, int jobs, const char *out_dir) {
    slow_reference();
    int status = 0;
    bool ended;
    pid_t pid = start_slow(jobs, out_dir);
    bool running = wait_for_first_fold(pid, out_dir, &status, &ended);
    if (running) {
        assert_int_equal(kill(group ? -pid : pid, sig), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
    }
    char *log = log_of(out_dir);
    assert_non_null(log);
    snprintf(out, sizeof out, "%s", log);
    free(log);
    if (!running && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        print_message("the backtest finished before the signal; checking the outputs only\n");
        assert_same_as_slow_reference(out_dir);
        return;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 128 + sig)
        fail_msg("signal %d: status 0x%x, wanted exit %d: %s", sig, status, 128 + sig, out);
    char want[128];
    snprintf(want, sizeof want, "attncast: backtest stopped by %s with ",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    const char *stop = strstr(out, want);
    if (!stop) fail_msg("'%s' not in: %s", want, out);
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(stop, "\n"), stop);
    assert_int_equal(tu_count_lines(stop), 1); /* the last line */
    int done = atoi(stop + strlen(want));
    assert_true(done >= 1 && done < 3);
    const char *cont = strstr(line, "continue with: attncast backtest ");
    if (!cont) fail_msg("no command in: %s", line);
    char command[1024];
    snprintf(command, sizeof command, "$A %s", cont + strlen("continue with: attncast "));
    /* every worker is gone: nothing holds the folder; the finished folds are kept */
    assert_int_equal(sh("flock -n %s/.train.lock true", out_dir), 0);
    assert_int_equal(sh("ls %s/folds | wc -l", out_dir), 0);
    assert_int_equal(atoi(out), done);
    assert_int_equal(sh("test -e %s/metrics.json", out_dir) != 0, 1);
    int rc = sh("%s", command);
    if (rc != 0) fail_msg("'%s': exit %d: %s", command, rc, out);
    assert_same_as_slow_reference(out_dir);
}

static void test_ctrl_c_stops_a_backtest_that_continues_to_the_same_outputs(void **state) {
    (void)state;
    interrupt_then_continue(SIGINT, true, 2, "bt/ctrl_c");
}

static void test_sigterm_to_the_parent_stops_its_workers(void **state) {
    (void)state;
    interrupt_then_continue(SIGTERM, false, 2, "bt/term");
    interrupt_then_continue(SIGINT, false, 1, "bt/int1");
}

/* The command fails with exit status `status` and one line naming `needle`. */
static void fails(int status, const char *needle, const char *args) {
    int rc = sh("{ $A backtest %s >/dev/null; }", args);
    if (rc != status || tu_count_lines(out) != 1 || !strstr(out, needle))
        fail_msg("backtest %s: exit %d, expected %d with '%s': %s", args, rc, status, needle, out);
}

static void test_bad_inputs_fail_in_one_line(void **state) {
    (void)state;
    fails(2, "past the last origin", "tiny.ini --start 295 --out bt/bad");
    fails(2, "leaves -20 training rows before its 30 validation rows",
          "tiny.ini --start 10 --out bt/bad");
    fails(2, "the earliest origin is 60", "tiny.ini --start 10 --out bt/bad");
    fails(2, "fewer than lookback + horizon", "tiny.ini --start 40 --out bt/bad");
    fails(2, "no row of series.csv has this date", "tiny.ini --start 2030-01-01 --out bt/bad");
    /* a date written another way than the CSV writes it: the row's own text is suggested */
    fails(2,
          "writes its dates as '2021-01-11 00:00:00' (row 240); give --start '2021-01-11 "
          "00:00:00'",
          "tiny.ini --start 2021/01/11 --out bt/bad");
    fails(2, "give --start '2021-01-11 00:00:00'", "tiny.ini --start 2021-01-11 --out bt/bad");
    fails(2, "neither a row number nor a date", "tiny.ini --start soon --out bt/bad");
    fails(2, "--jobs: expected a positive whole number, got '0'", "tiny.ini --jobs 0");
    assert_int_equal(sh("printf x > afile"), 0);
    fails(2, "--out afile: a file, not a folder", "tiny.ini --out afile");
    fails(2, "a quantile model trains with the pinball loss only",
          "tiny.ini --set model.quantiles=0.1,0.5,0.9 --set train.loss=mse --out bt/bad");
    fails(2, "--stride", "tiny.ini --stride 0 --out bt/bad");
    fails(2, "--refit", "tiny.ini --refit 0 --out bt/bad");
    fails(2, "checkpoint's training and validation rows", "runs/a/best.h5 --start 200");
    fails(2, "--set goes with a CONFIG", "runs/a/best.h5 --set train.epochs=1");
    /* --stride or --refit beyond the origins: one origin, one fold */
    assert_int_equal(sh("$A backtest tiny.ini --stride 100 --out bt/one --quiet"), 0);
    cJSON *one = json_file("bt/one/metrics.json");
    assert_true(number(one, "origins") == 1 && number(one, "folds") == 1);
    cJSON_Delete(one);
    assert_int_equal(sh("$A backtest runs/a/best.h5 --refit 1000 --out bt/one_fold"), 0);
    assert_non_null(strstr(out, "in 1 fold(s) (one model: --refit is at least the number of "
                                "origins)"));
    /* eval --forecasts into a folder that is not there fails before any work */
    int rc = sh("$A eval runs/a/best.h5 --forecasts nowhere/f.csv");
    if (rc != 2 || tu_count_lines(out) != 1 || !strstr(out, "nowhere is not a folder"))
        fail_msg("eval --forecasts nowhere/f.csv: exit %d: %s", rc, out);
    /* predict with fewer input rows than the lookback */
    rc = sh("head -20 series.csv > short.csv && $A predict runs/a/best.h5 --input short.csv");
    if (rc != 1 || tu_count_lines(out) != 1 || !strstr(out, "needs 24 rows"))
        fail_msg("predict --input short.csv: exit %d: %s", rc, out);
    assert_int_equal(sh("$A backtest tiny.ini --stride 20 --out bt/taken --quiet"), 0);
    fails(1, "holds a backtest of another config, data, options or attncast version",
          "tiny.ini --stride 10 --out bt/taken");
    /* a fold file of the first version (points only) */
    assert_int_equal(sh("printf 'ACBTFLD1xxxxxxxxxxxx' > bt/taken/folds/fold_0000.bin"), 0);
    fails(1, "fold file version 1", "tiny.ini --stride 20 --out bt/taken");
}

/* ---- covariates ---- */

static void test_covariate_checkpoint_backtest_matches_eval_bit_for_bit(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest runs/cov/best.h5 --out bt/cov_ck 2>&1"), 0);
    assert_non_null(strstr(out, "300 rows x 2 channels (+ 4 covariate column(s))"));
    assert_int_equal(sh("$A eval runs/cov/best.h5 --json --forecasts cov_eval_forecasts.csv > "
                        "cov_eval.json"),
                     0);
    cJSON *ev = json_file("cov_eval.json"), *bt = json_file("bt/cov_ck/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    const char *keys[3] = {"model", "baselines", "intervals"};
    for (int k = 0; k < 3; k++)
        if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, keys[k]),
                           cJSON_GetObjectItemCaseSensitive(overall, keys[k]), true))
            fail_msg("%s: eval and backtest differ", keys[k]);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(overall, "intervals")), 2);
    assert_true(number(bt, "channels") == 2);
    assert_true(number(bt, "covariate_columns") == 4); /* p, f, hour of day's sin and cos */
    assert_true(number(bt, "origins") == number(ev, "windows"));
    cJSON_Delete(ev);
    cJSON_Delete(bt);
    assert_same_file("cov_eval_forecasts.csv", "bt/cov_ck/forecasts.csv");
    /* the targets' rows: a and b, never p or f */
    csv_rows *c = read_csv("bt/cov_ck/forecasts.csv");
    assert_int_equal(c->rows, 55 * 6 * 2);
    for (int r = 0; r < c->rows; r++)
        if (strcmp(c->channel[r], r % 2 ? "b" : "a") != 0)
            fail_msg("row %d: channel %s", r, c->channel[r]);
    /* actual is the target's value in the data: origin 240, step 1, a (row 240) */
    double want = 5 + sin(240 * 0.5236) + 0.5 * cos(240 * 0.3) + 0.01 * ((240 * 7) % 5);
    assert_true(fabs(c->v[0][column(c, "actual")] - want) < 1e-5);
    free(c);
}

static void test_covariate_config_backtest_is_train(void **state) {
    (void)state;
    assert_int_equal(sh("$A backtest cov.ini --out bt/cov_cfg --quiet"), 0);
    cJSON *run = json_file("runs/cov/metrics.json"), *bt = json_file("bt/cov_cfg/metrics.json");
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(bt, "overall");
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(run, "model"),
                              cJSON_GetObjectItemCaseSensitive(overall, "model"), true));
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(run, "intervals"),
                              cJSON_GetObjectItemCaseSensitive(overall, "intervals"), true));
    cJSON_Delete(run);
    cJSON_Delete(bt);
}

static void test_covariate_refits_keep_every_column_and_resume(void **state) {
    (void)state;
    const char *cmd = "$A backtest cov.ini --refit 2 --stride 10 --quiet --out";
    assert_int_equal(sh("%s bt/cov_whole", cmd), 0);
    cJSON *bt = json_file("bt/cov_whole/metrics.json");
    const cJSON *folds = cJSON_GetObjectItemCaseSensitive(bt, "per_fold");
    assert_int_equal(cJSON_GetArraySize(folds), 3);
    for (int f = 0; f < 3; f++)
        assert_true(number(cJSON_GetArrayItem(folds, f), "train_rows") == 210 + 20 * f);
    cJSON_Delete(bt);
    /* a fold file: magic, identity, 10 int32, 2 timings, the scaler of the 4 real columns (a,
     * b, p, f; the calendar's are not scaled), 2 conformal levels, 2 origins, then the points
     * and the 2 levels' bounds of the 2 targets: 2 x 6 x 2 x (1 + 2 x 2) floats */
    long size = 8 + 8 + 10 * 4 + 2 * 8 + 2 * 4 * 8 + 2 * 8 + 2 * 4 + 2 * 6 * 2 * 5 * 4;
    assert_int_equal(sh("stat -c %%s bt/cov_whole/folds/fold_0000.bin"), 0);
    assert_int_equal(atol(out), size);
    assert_int_equal(sh("%s bt/cov_resumed --stop-after-folds 1", cmd), 0);
    assert_non_null(strstr(out, "stopped after 1 fold(s)"));
    assert_int_equal(sh("%s bt/cov_resumed", cmd), 0);
    assert_non_null(strstr(out, "(2 fold(s) computed now)"));
    assert_same_file("bt/cov_whole/forecasts.csv", "bt/cov_resumed/forecasts.csv");
    assert_same_file("bt/cov_whole/metrics.json", "bt/cov_resumed/metrics.json");
}

/* The forecast lines (origin to the point forecast) of forecasts.csv for origins in
 * [first, last], as one text. */
static char *forecast_lines(const char *name, int first, int last) {
    char *text = read_in_dir(name);
    assert_non_null(text);
    char *keep = calloc(strlen(text) + 1, 1), *save = NULL;
    assert_non_null(keep);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int origin = atoi(line);
        if (line[0] < '0' || line[0] > '9' || origin < first || origin > last) continue;
        strcat(keep, line);
        strcat(keep, "\n");
    }
    free(text);
    return keep;
}

static void test_covariates_come_from_the_right_rows(void **state) {
    (void)state;
    /* origins 288-294; rows 294-299 differ in f (cov_f.csv) or p (cov_p.csv) alone, and the
     * model is trained on the same rows before 258 */
    const char *cmd = "$A backtest cov.ini --start 288 --quiet";
    assert_int_equal(sh("%s --out bt/rows_same", cmd), 0);
    assert_int_equal(sh("%s --set data.csv=cov_f.csv --out bt/rows_f", cmd), 0);
    assert_int_equal(sh("%s --set data.csv=cov_p.csv --out bt/rows_p", cmd), 0);
    char *same[2] = {forecast_lines("bt/rows_same/forecasts.csv", 288, 288),
                     forecast_lines("bt/rows_same/forecasts.csv", 289, 294)};
    char *f[2] = {forecast_lines("bt/rows_f/forecasts.csv", 288, 288),
                  forecast_lines("bt/rows_f/forecasts.csv", 289, 294)};
    char *p = forecast_lines("bt/rows_p/forecasts.csv", 288, 294);
    /* origin 288 forecasts rows 288-293; 289-294 reach row 294, whose f is known ahead */
    assert_true(strlen(same[0]) > 0 && strlen(same[1]) > 0);
    assert_string_equal(same[0], f[0]);
    assert_string_not_equal(same[1], f[1]);
    /* p of rows 294-299 is in no input window of these origins: nothing changes */
    char *all = forecast_lines("bt/rows_same/forecasts.csv", 288, 294);
    assert_string_equal(all, p);
    free(all);
    free(p);
    for (int k = 0; k < 2; k++) {
        free(same[k]);
        free(f[k]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_backtest_matches_eval_bit_for_bit),
        cmocka_unit_test(test_conformal_bounds_and_coverage),
        cmocka_unit_test(test_checkpoint_without_calibration_has_no_bounds),
        cmocka_unit_test(test_quantile_model_columns_increase),
        cmocka_unit_test(test_config_backtest_without_refit_is_train),
        cmocka_unit_test(test_stride_and_start_pick_the_origins),
        cmocka_unit_test(test_refit_trains_one_model_per_fold),
        cmocka_unit_test(test_resumed_and_parallel_backtests_write_the_same_outputs),
        cmocka_unit_test(test_sigkilled_backtest_reruns_to_the_same_outputs),
        cmocka_unit_test(test_sigkilled_parallel_backtest_reruns_to_the_same_outputs),
        cmocka_unit_test(test_ctrl_c_stops_a_backtest_that_continues_to_the_same_outputs),
        cmocka_unit_test(test_sigterm_to_the_parent_stops_its_workers),
        cmocka_unit_test(test_bad_inputs_fail_in_one_line),
        cmocka_unit_test(test_covariate_checkpoint_backtest_matches_eval_bit_for_bit),
        cmocka_unit_test(test_covariate_config_backtest_is_train),
        cmocka_unit_test(test_covariate_refits_keep_every_column_and_resume),
        cmocka_unit_test(test_covariates_come_from_the_right_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
