/* test_long_format_cli.c - the verbs that read a long-format checkpoint (MODEL.md "Many series"),
 * through the real binary, on a generated panel of 6 hourly series of different lengths and
 * levels (one too short for a validation or test window): eval reproducing train's test metrics
 * bit for bit, pooled and per series (--json "series"), eval --id, another CSV scored by id
 * (an id the checkpoint lacks is an error; one the data lacks is just not scored), calibrate
 * reproducing train's intervals, predict --id and of every id (an id column first; each series
 * on its own scale), the embedding API's ac_model_forecast_series agreeing with predict (and
 * ac_explain_series with it), info,
 * explain --id (its forecast predict --id's; the errors of no --id, an unknown one, a wide
 * checkpoint's) and the one-line errors: unknown --id (did you mean), --id of a wide checkpoint,
 * backtest of long-format data. A second panel (3 series with a future-known covariate, promo)
 * trains a tiny covariate model: predict --future of a long-format future file (each series
 * takes its own rows by date: changing one id's values changes that id's forecast alone; the
 * forecast after --at equals explain's, which reads the future from the data), and the errors
 * of a missing id or date in the future file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "attncast/embed.h"
#include "attncast/explain.h"
#include "attncast/windows.h"
#include "support/testutil.h"

#define SERIES 6
#define L      12
#define H      12
#define SHORT  2 /* series s2 has 35 rows: training windows only */

static const int ROWS[SERIES] = {150, 220, 35, 260, 180, 300};
static double values[SERIES][300]; /* as written (parsed back from the CSV's text) */
static char dir[256];
static char out[1 << 17];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static void date_of(int t, char *buf, size_t n) {
    snprintf(buf, n, "2022-%02d-%02d %02d:00", 1 + t / (24 * 28), 1 + t / 24 % 28, t % 24);
}

/* The panel as a long CSV, series `skip` left out (-1: none) and series 4 renamed to rename
 * (NULL: kept); the rows interleaved by date. */
static int write_panel(const char *name, int skip, const char *rename) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) return -1;
    fprintf(f, "id,date,value\n");
    for (int t = 0; t < 300; t++)
        for (int i = 0; i < SERIES; i++) {
            if (i == skip || t >= ROWS[i]) continue;
            char date[32];
            date_of(t, date, sizeof date);
            fprintf(f, "%s%d,%s,%.4f\n", i == 4 && rename ? rename : "s", i == 4 && rename ? 9 : i,
                    date, values[i][t]);
        }
    fclose(f);
    int rc = tu_write_file(dir, name, text);
    free(text);
    return rc;
}

#define CSERIES 3
#define CROWS   160

/* The covariate panel: series c<i>, level 10 (i + 1), a daily swing, plus 4 x promo, a
 * pseudo-random 0/1 schedule known in advance. promo_of gives it. */
static int promo_of(int i, int t) {
    return ((unsigned)(t * 7 + i * 13) * 2654435761u >> 13) % 3 == 0;
}

static double cvalue(int i, int t) {
    return 10.0 * (i + 1) + 2.0 * sin(6.283185307179586 * t / 24.0) + 4.0 * promo_of(i, t);
}

/* A long CSV of rows [from, to) of every covariate series: "id,date,value,promo", or without the
 * value column (a future file), the promo of series `bump` (-1: none) set to 5, series `skip` left
 * out (-1: none). */
static int write_cpanel(const char *name, int from, int to, bool value, int bump, int skip) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) return -1;
    fprintf(f, "id,date,%spromo\n", value ? "value," : "");
    for (int t = from; t < to; t++)
        for (int i = 0; i < CSERIES; i++) {
            if (i == skip) continue;
            char date[32];
            date_of(t, date, sizeof date);
            fprintf(f, "c%d,%s,", i, date);
            if (value) fprintf(f, "%.4f,", cvalue(i, t));
            fprintf(f, "%d\n", i == bump ? 5 : promo_of(i, t));
        }
    fclose(f);
    int rc = tu_write_file(dir, name, text);
    free(text);
    return rc;
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "long") != 0) return -1;
    if (setenv("A", tu_bin(), 1) != 0) return -1;
    unsigned lcg = 5;
    for (int i = 0; i < SERIES; i++)
        for (int t = 0; t < ROWS[i]; t++) {
            lcg = lcg * 1664525u + 1013904223u;
            double noise = (double)(lcg >> 8) / (double)(1u << 24) - 0.5;
            double v = 20.0 * (i + 1) + (1.0 + i) * sin(6.283185307179586 * t / 24.0) + 0.4 * noise;
            char cell[32];
            snprintf(cell, sizeof cell, "%.4f", v);
            values[i][t] = strtod(cell, NULL);
        }
    if (write_panel("panel.csv", -1, NULL) != 0 || write_panel("no_s3.csv", 3, NULL) != 0 ||
        write_panel("renamed.csv", -1, "q") != 0)
        return -1;
    if (tu_write_file(dir, "p.ini",
                      "[data]\ncsv = panel.csv\nformat = long\nlookback = 12\nhorizon = 12\n"
                      "[model]\nd_model = 16\nheads = 2\nlayers = 1\nd_ff = 32\npatch_len = 6\n"
                      "patch_stride = 6\nrevin = off\n[train]\nepochs = 3\nthreads = 1\nseed = 4\n"
                      "[output]\ndir = run\n") != 0)
        return -1;
    if (tu_setup_run_in("train", dir, out, sizeof out, "\"$A\" train p.ini --quiet") != 0)
        return -1;
    /* the covariate panel: 140 rows of history, 20 after them for the future files */
    if (write_cpanel("cpanel.csv", 0, CROWS, true, -1, -1) != 0 ||
        write_cpanel("chist.csv", 0, 140, true, -1, -1) != 0 ||
        write_cpanel("cfut.csv", 140, CROWS, false, -1, -1) != 0 ||
        write_cpanel("cfut_bump.csv", 140, CROWS, false, 1, -1) != 0 ||
        write_cpanel("cfut_no_c2.csv", 140, CROWS, false, -1, 2) != 0 ||
        write_cpanel("cfut_short.csv", 140, 145, false, -1, -1) != 0 ||
        write_cpanel("cfut_at.csv", 100, 112, false, -1, -1) != 0)
        return -1;
    if (tu_setup_run_in("covariates", dir, out, sizeof out,
                        "\"$A\" train p.ini --csv cpanel.csv --set data.targets=value --set "
                        "data.future_covariates=promo --set train.epochs=2 --out crun --quiet") !=
        0)
        return -1;
    /* a wide checkpoint for the --id errors: the first series alone */
    return tu_setup_run_in("wide", dir, out, sizeof out,
                           "grep -E '^(id|s0),' panel.csv | cut -d, -f2,3 > wide.csv && \"$A\" "
                           "train --csv wide.csv --set data.lookback=12 --set data.horizon=12 "
                           "--set model.patch_len=6 --set model.patch_stride=6 --set "
                           "model.d_model=8 --set train.epochs=1 --set train.threads=1 --out "
                           "wide --quiet");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static cJSON *read_json(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = tu_read_file(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) fail_msg("%s is not JSON", path);
    return root;
}

static const cJSON *at(const cJSON *o, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

/* The same number (bit for bit) or both null. */
static void same_number(const cJSON *x, const cJSON *y, const char *what) {
    if (!x || !y) fail_msg("%s: missing", what);
    if (cJSON_IsNull(x) && cJSON_IsNull(y)) return;
    if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y) || x->valuedouble != y->valuedouble)
        fail_msg("%s: %.17g and %.17g", what, x->valuedouble, y->valuedouble);
}

/* The model's and the naive baseline's mse and mae of one metrics object (the top level or a
 * series'), equal in a and b. */
static void same_metrics(const cJSON *a, const cJSON *b, bool series, const char *what) {
    char w[128];
    const char *keys[2] = {"mse", "mae"};
    for (int k = 0; k < 2; k++) {
        snprintf(w, sizeof w, "%s model.%s", what, keys[k]);
        same_number(at(at(a, "model", NULL), keys[k], NULL),
                    at(at(b, "model", NULL), keys[k], NULL), w);
        const cJSON *na =
            series ? at(a, "naive", NULL) : at(at(a, "baselines", NULL), "naive", NULL);
        const cJSON *nb =
            series ? at(b, "naive", NULL) : at(at(b, "baselines", NULL), "naive", NULL);
        snprintf(w, sizeof w, "%s naive.%s", what, keys[k]);
        same_number(at(na, keys[k], NULL), at(nb, keys[k], NULL), w);
    }
}

static void test_eval_reproduces_train_pooled_and_per_series(void **state) {
    (void)state;
    assert_int_equal(sh("\"$A\" eval run/best.h5 --json > eval.json"), 0);
    cJSON *train = read_json("run/metrics.json"), *eval = read_json("eval.json");
    same_metrics(train, eval, false, "pooled");
    same_number(at(train, "windows", NULL), at(eval, "windows", NULL), "windows");
    same_number(at(train, "series_count", NULL), at(eval, "series_count", NULL), "series_count");
    assert_int_equal(at(eval, "series_count", NULL)->valueint, SERIES);
    const cJSON *ts = at(train, "series", NULL), *es = at(eval, "series", NULL);
    assert_int_equal(cJSON_GetArraySize(es), SERIES);
    const cJSON *s;
    cJSON_ArrayForEach(s, ts) {
        const cJSON *e = at(es, s->string, NULL);
        if (!e) fail_msg("series %s is not in eval's output", s->string);
        same_number(at(s, "windows", NULL), at(e, "windows", NULL), s->string);
        same_metrics(s, e, true, s->string);
        /* the intervals (from best.h5's calibration) too */
        same_number(at(cJSON_GetArrayItem(at(s, "intervals", NULL), 0), "coverage", NULL),
                    at(cJSON_GetArrayItem(at(e, "intervals", NULL), 0), "coverage", NULL),
                    "coverage");
    }
    /* the short series has no test window, and is scored as such */
    assert_int_equal(at(at(es, "s2", NULL), "windows", NULL)->valueint, 0);
    assert_true(at(at(at(es, "s3", NULL), "model", NULL), "mse", NULL)->valuedouble > 0);
    cJSON_Delete(train);
    cJSON_Delete(eval);
    /* the table: pooled metrics and the summary of the series */
    assert_int_equal(sh("\"$A\" eval run/best.h5"), 0);
    assert_non_null(strstr(out, "6 series"));
    assert_non_null(strstr(out, "per series"));
    assert_non_null(strstr(out, "5 with test windows"));
}

static void test_eval_id_is_that_series_alone(void **state) {
    (void)state;
    assert_int_equal(sh("\"$A\" eval run/best.h5 --id s3 --json > s3.json"), 0);
    cJSON *train = read_json("run/metrics.json"), *one = read_json("s3.json");
    const cJSON *s3 = at(at(train, "series", NULL), "s3", NULL);
    same_number(at(at(s3, "model", NULL), "mse", NULL), at(at(one, "model", NULL), "mse", NULL),
                "s3 model.mse");
    same_number(at(at(s3, "model", NULL), "mae", NULL), at(at(one, "model", NULL), "mae", NULL),
                "s3 model.mae");
    same_number(at(s3, "windows", NULL), at(one, "windows", NULL), "s3 windows");
    assert_null(at(one, "series", NULL));
    /* one series: the RMSE in its own units is defined again */
    assert_true(cJSON_IsNumber(at(at(one, "model", NULL), "rmse", NULL)));
    cJSON_Delete(train);
    cJSON_Delete(one);
    assert_int_equal(sh("\"$A\" eval run/best.h5 --id s3"), 0);
    assert_non_null(strstr(out, "series s3"));
    assert_non_null(strstr(out, "RMSE"));
}

/* A one-line error, exit status code, holding a and b. */
static void one_line_error(int rc, int code, const char *a, const char *b) {
    if (rc != code) fail_msg("exit %d, not %d: %s", rc, code, out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static void test_eval_errors(void **state) {
    (void)state;
    one_line_error(sh("\"$A\" eval run/best.h5 --id s33"), 2, "no such series", "did you mean s3?");
    assert_non_null(strstr(out, "6 ids"));
    one_line_error(sh("\"$A\" eval run/best.h5 --id s2"), 1, "no test window", "35 rows");
    one_line_error(sh("\"$A\" eval wide/best.h5 --id s0"), 2, "wide table", NULL);
    one_line_error(sh("\"$A\" eval run/best.h5 --data renamed.csv"), 1, "series 'q9'",
                   "6 series ids");
    one_line_error(sh("\"$A\" eval run/best.h5 --forecasts f.csv"), 2, "not supported yet", NULL);
}

static void test_eval_of_other_data_scores_its_series(void **state) {
    (void)state;
    /* ids of the checkpoint missing from the data are not scored; the rest with their scalers */
    assert_int_equal(sh("\"$A\" eval run/best.h5 --data no_s3.csv --split test --json 2>/dev/null "
                        "> no_s3.json"),
                     0);
    cJSON *train = read_json("run/metrics.json"), *e = read_json("no_s3.json");
    assert_int_equal(at(e, "series_count", NULL)->valueint, SERIES - 1);
    assert_null(at(e, "series", "s3"));
    const char *ids[] = {"s0", "s1", "s4", "s5"};
    for (int i = 0; i < 4; i++)
        same_metrics(at(at(train, "series", NULL), ids[i], NULL),
                     at(at(e, "series", NULL), ids[i], NULL), true, ids[i]);
    cJSON_Delete(train);
    cJSON_Delete(e);
    /* --id of a series the data lacks */
    one_line_error(sh("\"$A\" eval run/best.h5 --data no_s3.csv --id s3"), 1,
                   "no rows of that series", NULL);
}

static void test_calibrate_reproduces_train(void **state) {
    (void)state;
    assert_int_equal(sh("cp run/best.h5 cal.h5 && \"$A\" calibrate cal.h5 && \"$A\" eval cal.h5 "
                        "--json > cal.json"),
                     0);
    cJSON *train = read_json("run/metrics.json"), *e = read_json("cal.json");
    for (int k = 0; k < 2; k++)
        same_number(at(cJSON_GetArrayItem(at(train, "intervals", NULL), k), "width", NULL),
                    at(cJSON_GetArrayItem(at(e, "intervals", NULL), k), "width", NULL), "width");
    cJSON_Delete(train);
    cJSON_Delete(e);
}

/* The forecast column of predict's CSV output (after the header; column col, 0-based) into y. */
static int forecast_column(const char *text, int col, double *y, int max) {
    const char *line = strchr(text, '\n');
    int n = 0;
    while (line && line[1] && n < max) {
        line++;
        const char *p = line;
        for (int c = 0; c < col && p; c++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (!p) break;
        y[n++] = strtod(p, NULL);
        line = strchr(line, '\n');
    }
    return n;
}

static void test_predict_id_and_every_id(void **state) {
    (void)state;
    double one[H], every[SERIES * H];
    /* every id is forecast in one batch; on the own kernels (named here, as the sanitizer build
     * defaults to OpenBLAS) a batch gives each series the bits of its own forecast */
    assert_int_equal(
        sh("ATTNCAST_GEMM=own \"$A\" predict run/best.h5 --input panel.csv --id s5 2>/dev/null"),
        0);
    assert_int_equal(tu_count_lines(out), H + 1);
    assert_true(strncmp(out, "date,value,", 11) == 0);
    assert_int_equal(forecast_column(out, 1, one, H), H);
    /* s5's own scale: its level is 120 (s0's 20), its swing +-6 */
    for (int h = 0; h < H; h++)
        if (fabs(one[h] - 120.0) > 12.0) fail_msg("step %d: %g is off s5's level", h + 1, one[h]);
    assert_int_equal(sh("ATTNCAST_GEMM=own \"$A\" predict run/best.h5 --input panel.csv --out "
                        "all.csv 2>/dev/null"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/all.csv", dir);
    char *all = tu_read_file(path, NULL);
    assert_non_null(all);
    assert_int_equal(tu_count_lines(all), 1 + SERIES * H);
    assert_true(strncmp(all, "id,date,value,", 14) == 0);
    assert_int_equal(forecast_column(all, 2, every, SERIES * H), SERIES * H);
    /* series in the input's order, each H rows: s5's are the last, the same as --id's */
    assert_non_null(strstr(all, "\ns5,"));
    for (int h = 0; h < H; h++) assert_true(every[(SERIES - 1) * H + h] == one[h]);
    for (int i = 0; i < SERIES; i++)
        if (fabs(every[i * H] - 20.0 * (i + 1)) > 2.0 * (i + 1) + 2.0)
            fail_msg("series s%d: %g is off its level %g", i, every[i * H], 20.0 * (i + 1));
    free(all);
    /* the errors */
    one_line_error(sh("\"$A\" predict run/best.h5 --input panel.csv --id s55"), 2,
                   "did you mean s5?", NULL);
    one_line_error(sh("\"$A\" predict run/best.h5 --input no_s3.csv --id s3"), 1,
                   "no rows of that series", NULL);
    one_line_error(sh("\"$A\" predict run/best.h5 --input renamed.csv"), 1, "series 'q9'", "--id");
    one_line_error(sh("\"$A\" predict run/best.h5 --input panel.csv --at 20"), 2, "--id", NULL);
    one_line_error(sh("\"$A\" predict wide/best.h5 --input wide.csv --id s0"), 2, "wide table",
                   NULL);
}

static void test_embedding_api_matches_predict(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/run/best.h5", dir);
    ac_error err;
    ac_model *m = ac_model_load(path, &err);
    assert_non_null(m);
    assert_int_equal(ac_model_series_count(m), SERIES);
    assert_string_equal(ac_model_series_id(m, 1), "s1");
    assert_null(ac_model_series_id(m, SERIES));
    int k = ac_model_series_find(m, "s4");
    assert_int_equal(k, 4);
    assert_int_equal(ac_model_series_find(m, "s44"), -1);
    float window[L], point[H];
    for (int t = 0; t < L; t++) window[t] = (float)values[4][ROWS[4] - L + t];
    /* without a series: refused, not scaled with some series' scaler */
    assert_int_equal(ac_model_forecast(m, window, point, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "ac_model_forecast_series"));
    assert_int_equal(
        ac_model_forecast_series(m, SERIES, window, NULL, NULL, point, NULL, NULL, NULL, &err),
        AC_ERR_INVALID);
    assert_int_equal(
        ac_model_forecast_series(m, k, window, NULL, NULL, point, NULL, NULL, NULL, &err), AC_OK);
    /* each series on its own scale: series 0's forecast of s4's window carried to series 0's
     * units (the same z-scores) is s4's forecast carried back */
    const ac_scaler *s4 = &ac_model_checkpoint(m)->series_scalers[k];
    const ac_scaler *s0 = &ac_model_checkpoint(m)->series_scalers[0];
    assert_true(fabs(s4->mean[0] - s0->mean[0]) > 50.0);
    float moved[L], other[H];
    for (int t = 0; t < L; t++)
        moved[t] = (float)((window[t] - s4->mean[0]) / s4->std[0] * s0->std[0] + s0->mean[0]);
    assert_int_equal(
        ac_model_forecast_series(m, 0, moved, NULL, NULL, other, NULL, NULL, NULL, &err), AC_OK);
    for (int h = 0; h < H; h++) {
        double back = (other[h] - s0->mean[0]) / s0->std[0] * s4->std[0] + s4->mean[0];
        if (fabs(back - point[h]) > 1e-3 * (1 + fabs(back)))
            fail_msg("step %d: s4 %.9g, through s0's scale %.9g", h + 1, (double)point[h], back);
    }
    /* ac_explain_series: the same forecast from series k's scaler; another index refused */
    ac_explanation ex;
    assert_int_equal(ac_explain_series(ac_model_checkpoint(m), SERIES, window, NULL, &ex, &err),
                     AC_ERR_INVALID);
    assert_int_equal(ac_explain_series(ac_model_checkpoint(m), k, window, NULL, &ex, &err), AC_OK);
    for (int h = 0; h < H; h++)
        if (fabs(ex.forecast[h] - point[h]) > 1e-5 * (1 + fabs(point[h])))
            fail_msg("step %d: explain %.9g, forecast %.9g", h + 1, (double)ex.forecast[h],
                     (double)point[h]);
    ac_explanation_free(&ex);
    ac_model_free(m);
    double y[H];
    assert_int_equal(sh("\"$A\" predict run/best.h5 --input panel.csv --id s4 2>/dev/null"), 0);
    assert_int_equal(forecast_column(out, 1, y, H), H);
    for (int h = 0; h < H; h++)
        if (fabs(y[h] - point[h]) > 1e-5 * (1 + fabs(y[h])))
            fail_msg("step %d: predict %.9g, the API %.9g", h + 1, y[h], (double)point[h]);
}

static void test_info_and_backtest(void **state) {
    (void)state;
    assert_int_equal(sh("\"$A\" info run/best.h5"), 0);
    assert_non_null(strstr(out, "long format"));
    assert_non_null(strstr(out, "6 series: s0 s1 s2"));
    one_line_error(sh("\"$A\" backtest run/best.h5"), 2, "backtest of long-format data",
                   "not supported yet");
    one_line_error(sh("\"$A\" backtest p.ini"), 2, "backtest of long-format data", NULL);
}

/* The forecast column of a forecast CSV file (explain's forecast.csv) into y. */
static int file_forecast(const char *name, double *y) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = tu_read_file(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    int n = forecast_column(text, 1, y, H);
    free(text);
    return n;
}

static void same_forecast(const double *a, const double *b, const char *what) {
    for (int h = 0; h < H; h++)
        if (fabs(a[h] - b[h]) > 1e-5 * (1 + fabs(a[h])))
            fail_msg("%s: step %d: %.9g and %.9g", what, h + 1, a[h], b[h]);
}

static void test_explain_id(void **state) {
    (void)state;
    double ex[H], pr[H];
    assert_int_equal(sh("\"$A\" explain run/best.h5 --input panel.csv --id s3 --out ex_s3"), 0);
    assert_non_null(strstr(out, "series 's3'"));
    assert_int_equal(file_forecast("ex_s3/forecast.csv", ex), H);
    assert_int_equal(sh("\"$A\" predict run/best.h5 --input panel.csv --id s3 2>/dev/null"), 0);
    assert_int_equal(forecast_column(out, 1, pr, H), H);
    same_forecast(ex, pr, "explain --id s3 against predict --id s3");
    /* s3's own scale (level 80), not the first series' (20) */
    assert_true(fabs(ex[0] - 80.0) < 10.0);
    /* --at counts the series' rows; the default folder names the series */
    assert_int_equal(sh("\"$A\" explain run/best.h5 --input panel.csv --id s5 --at 100 "
                        "2>/dev/null && test -f explain-s5-row100/step_attention.csv"),
                     0);
    assert_int_equal(file_forecast("explain-s5-row100/forecast.csv", ex), H);
    assert_int_equal(
        sh("\"$A\" predict run/best.h5 --input panel.csv --id s5 --at 100 2>/dev/null"), 0);
    assert_int_equal(forecast_column(out, 1, pr, H), H);
    same_forecast(ex, pr, "explain --id s5 --at 100 against predict's");
    /* an input of one series needs no --id */
    assert_int_equal(sh("grep -E '^(id|s1),' panel.csv > s1.csv && \"$A\" explain run/best.h5 "
                        "--input s1.csv --out ex_s1 >/dev/null && \"$A\" predict run/best.h5 "
                        "--input s1.csv 2>/dev/null > s1_pred.csv"),
                     0);
    double one[H];
    assert_int_equal(file_forecast("ex_s1/forecast.csv", ex), H);
    /* predict writes an id column first: the forecast is its third column */
    char path[512];
    snprintf(path, sizeof path, "%s/s1_pred.csv", dir);
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    assert_int_equal(forecast_column(text, 2, one, H), H);
    free(text);
    same_forecast(ex, one, "explain of s1.csv against predict's");
    /* the errors */
    one_line_error(sh("\"$A\" explain run/best.h5 --input panel.csv"), 2, "6 series", "--id");
    one_line_error(sh("\"$A\" explain run/best.h5 --input panel.csv --id s33"), 2, "no such series",
                   "did you mean s3?");
    one_line_error(sh("\"$A\" explain run/best.h5 --input no_s3.csv --id s3"), 1,
                   "no rows of that series", NULL);
    one_line_error(sh("\"$A\" explain wide/best.h5 --input wide.csv --id s0"), 2, "wide table",
                   NULL);
}

/* The forecasts of every covariate series (predict without --id: an id column first) into y
 * [CSERIES][H]. */
static void every_forecast(const char *command, double y[CSERIES][H]) {
    assert_int_equal(sh("%s", command), 0);
    assert_int_equal(tu_count_lines(out), 1 + CSERIES * H);
    assert_true(strncmp(out, "id,date,value,", 14) == 0);
    double all[CSERIES * H];
    assert_int_equal(forecast_column(out, 2, all, CSERIES * H), CSERIES * H);
    for (int i = 0; i < CSERIES; i++) memcpy(y[i], all + i * H, sizeof y[i]);
}

static void test_predict_future_of_a_long_model(void **state) {
    (void)state;
    double base[CSERIES][H], bumped[CSERIES][H];
    every_forecast("\"$A\" predict crun/best.h5 --input chist.csv --future cfut.csv 2>/dev/null",
                   base);
    /* the dates continue each series' own: the first row after 140 */
    char first[64], date[32];
    date_of(140, date, sizeof date);
    snprintf(first, sizeof first, "\nc0,%s,", date);
    assert_non_null(strstr(out, first));
    every_forecast("\"$A\" predict crun/best.h5 --input chist.csv --future cfut_bump.csv "
                   "2>/dev/null",
                   bumped);
    /* c1's promo changed: its forecast alone */
    for (int i = 0; i < CSERIES; i++) {
        double diff = 0;
        for (int h = 0; h < H; h++) diff += fabs(bumped[i][h] - base[i][h]);
        if (i == 1 && diff < 1e-3) fail_msg("c1's forecast ignores its future promo");
        if (i != 1 && diff != 0) fail_msg("c%d's forecast moved with c1's promo (%g)", i, diff);
    }
    /* --id: that series' forecast, in the wide layout */
    double one[H];
    assert_int_equal(sh("\"$A\" predict crun/best.h5 --input chist.csv --future cfut_bump.csv "
                        "--id c1 2>/dev/null"),
                     0);
    assert_true(strncmp(out, "date,value,", 11) == 0);
    assert_int_equal(forecast_column(out, 1, one, H), H);
    same_forecast(one, bumped[1], "predict --id c1");
    /* explain reads the future from the data after --at: predict given those rows agrees */
    double ex[H];
    assert_int_equal(sh("\"$A\" explain crun/best.h5 --input cpanel.csv --id c2 --at 100 --out "
                        "ex_c2 > /dev/null 2>&1 && test -f ex_c2/future_share.csv"),
                     0);
    assert_int_equal(file_forecast("ex_c2/forecast.csv", ex), H);
    assert_int_equal(sh("\"$A\" predict crun/best.h5 --input cpanel.csv --id c2 --at 100 "
                        "--future cfut_at.csv 2>/dev/null"),
                     0);
    assert_int_equal(forecast_column(out, 1, one, H), H);
    same_forecast(ex, one, "explain --id c2 --at 100 against predict --future");
    /* the errors: no --future, a missing id, a missing date */
    one_line_error(sh("\"$A\" predict crun/best.h5 --input chist.csv"), 1, "--future", NULL);
    one_line_error(sh("\"$A\" predict crun/best.h5 --input chist.csv --future cfut_no_c2.csv"), 1,
                   "no rows of series 'c2'", date);
    date_of(145, date, sizeof date);
    one_line_error(sh("\"$A\" predict crun/best.h5 --input chist.csv --future cfut_short.csv "
                      "--id c1"),
                   1, "series 'c1'", date);
    one_line_error(sh("\"$A\" predict run/best.h5 --input panel.csv --future cfut.csv"), 1,
                   "no future covariates", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_reproduces_train_pooled_and_per_series),
        cmocka_unit_test(test_eval_id_is_that_series_alone),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_eval_of_other_data_scores_its_series),
        cmocka_unit_test(test_calibrate_reproduces_train),
        cmocka_unit_test(test_predict_id_and_every_id),
        cmocka_unit_test(test_embedding_api_matches_predict),
        cmocka_unit_test(test_info_and_backtest),
        cmocka_unit_test(test_explain_id),
        cmocka_unit_test(test_predict_future_of_a_long_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
