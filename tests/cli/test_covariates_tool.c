/* test_covariates_tool.c - tools/covariates.py, the covariate study of docs/covariates.md, on the
 * real binary: for both studies and every variant it trains the candidates, keeps the one with the
 * lowest validation MSE (and says so in the config it writes; the candidates train with
 * --no-test), trains the other seeds of it, and
 * writes the table between the markers of a doc; a rerun reuses every run, and the written configs
 * train as they are. --set overrides every run's config (here: 3 epochs, for speed). The data are
 * small generated CSVs named like the real ones (ETTh1's columns; a weather file with a -9999 cell
 * in OT) so the test takes seconds. Skipped without /usr/bin/python3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/testutil.h"

#define PYTHON "/usr/bin/python3"
#define ROWS   700

static char dir[256];
static char out[1 << 17];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static const char *source_dir(void) {
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    return src;
}

/* Runs tools/covariates.py on the test folder's data, runs, models and doc, plus args. */
static int covariates(const char *args) {
    return sh(PYTHON " '%s/tools/covariates.py' --attncast '%s' --runs runs --models models "
                     "--doc doc.md --etth1 '%s/etth1.csv' --weather '%s/weather.csv' %s",
              source_dir(), tu_bin(), dir, dir, args);
}

/* Hourly dates from 2016-07-01 00:00; a daily cycle, a weekly one and a slow drift. */
static void write_csvs(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/etth1.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n");
    for (int t = 0; t < ROWS; t++) {
        int day = 1 + t / 24, hour = t % 24;
        fprintf(f, "2016-%02d-%02d %02d:00:00", day <= 31 ? 7 : 8, day <= 31 ? day : day - 31,
                hour);
        for (int c = 0; c < 6; c++) fprintf(f, ",%.4f", (hour + c) % 24 * 0.1 + 0.01 * (t % 7));
        fprintf(f, ",%.4f\n", 20.0 + (hour < 12 ? hour : 24 - hour) * 0.3 + t * 0.002);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/weather.csv", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "date,p (mbar),T (degC),rh (%%),OT\n");
    for (int t = 0; t < ROWS; t++) {
        int day = 1 + t / 24, hour = t % 24;
        fprintf(f, "2020-%02d-%02d %02d:00:00,%.3f,%.3f,%.3f,", day <= 31 ? 1 : 2,
                day <= 31 ? day : day - 31, hour, 1000.0 + (t % 50) * 0.1, hour * 0.5,
                50.0 + (t % 24) * 1.5);
        if (t == 100)
            fprintf(f, "-9999\n");
        else
            fprintf(f, "%.3f\n", 420.0 + (hour < 12 ? hour : 24 - hour) * 2.0 + (t % 5));
    }
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "covariates") != 0) return -1;
    write_csvs();
    return tu_write_file(dir, "doc.md",
                         "# Doc\nbefore\n"
                         "<!-- covariates table: begin (tools/covariates.py writes this part) -->\n"
                         "old table\n<!-- covariates table: end -->\nafter\n");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* The config header lists every candidate's validation MSE; "<- chosen" marks the lowest. */
static void assert_lowest_is_chosen(const char *name) {
    char *text = tu_read_text(dir, name);
    double best = 1e300, chosen = -1.0;
    int candidates = 0;
    for (char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, ";   ", 4) != 0 || strncmp(line, ";   naive", 9) == 0) continue;
        const char *colon = strstr(line, "): ");
        const char *end = strchr(line, '\n');
        if (!colon || (end && colon > end)) continue;
        double v = strtod(colon + 3, NULL);
        candidates++;
        if (v < best) best = v;
        const char *mark = strstr(line, "<- chosen");
        if (mark && (!end || mark < end)) chosen = v;
    }
    assert_int_equal(candidates, 3);
    assert_int_equal(tu_count_of(text, "<- chosen"), 1);
    if (chosen != best)
        fail_msg("%s: chose %.4f, the lowest is %.4f:\n%s", name, chosen, best, text);
    assert_non_null(strstr(text, "VALIDATION split only"));
}

static void test_chooses_on_validation_and_writes_the_table(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    int rc = covariates("--horizons 16 --set train.epochs=3");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    /* 2 studies x 4 variants x (3 candidates + 2 more seeds) */
    assert_int_equal(tu_count_of(out, " train "), 40);
    /* the candidates never see the test split (--no-test); the seeds of the chosen one do */
    assert_int_equal(tu_count_of(out, " --no-test"), 24);

    static char doc[sizeof out];
    snprintf(doc, sizeof doc, "%s", tu_read_text(dir, "doc.md"));
    assert_non_null(strstr(doc, "# Doc\nbefore\n<!-- covariates table: begin"));
    assert_non_null(strstr(doc, "<!-- covariates table: end -->\nafter\n"));
    assert_null(strstr(doc, "old table"));
    assert_int_equal(tu_count_of(doc, "| ETTh1 | 16 |"), 5); /* naive + 4 variants */
    assert_int_equal(tu_count_of(doc, "| Weather | 16 |"), 5);
    assert_non_null(strstr(doc, "| ETTh1 | 16 | + past covariates + calendar | "));
    assert_int_equal(tu_count_of(doc, " ± "), 16); /* MSE and MAE of 8 rows: 3 seeds each */

    char *ini = tu_read_text(dir, "models/etth1_both_L96_H16.ini");
    assert_non_null(strstr(ini, "past_covariates = HUFL,HULL,MUFL,MULL,LUFL,LULL\n"));
    assert_non_null(strstr(ini, "calendar = hour_of_day,day_of_week\n"));
    assert_non_null(strstr(ini, "split = 0.6,0.2,0.2\n"));
    ini = tu_read_text(dir, "models/etth1_target_L96_H16.ini");
    assert_null(strstr(ini, "past_covariates"));
    assert_null(strstr(ini, "calendar ="));
    ini = tu_read_text(dir, "models/weather_past_L96_H16.ini");
    assert_non_null(strstr(ini, "past_covariates = p (mbar),T (degC),rh (%)\n"));
    assert_non_null(strstr(ini, "missing_marker = -9999\n"));
    const char *names[] = {"etth1", "weather"},
               *variants[] = {"target", "past", "calendar", "both"};
    for (int s = 0; s < 2; s++)
        for (int v = 0; v < 4; v++) {
            char name[128];
            snprintf(name, sizeof name, "models/%s_%s_L96_H16.ini", names[s], variants[v]);
            assert_lowest_is_chosen(name);
        }

    /* rerun: every run is reused and the table is the same */
    rc = covariates("--horizons 16 --set train.epochs=3");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_int_equal(tu_count_of(out, " train "), 0);
    assert_string_equal(tu_read_text(dir, "doc.md"), doc);
    /* another --set is another study: every run trains again */
    rc = covariates("--horizons 16 --only etth1 --set train.epochs=2");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_int_equal(tu_count_of(out, " train "), 20);
    assert_non_null(strstr(tu_read_text(dir, "models/etth1_both_L96_H16.ini"), "epochs = 2\n"));
    assert_string_equal(tu_read_text(dir, "doc.md"), doc); /* --only leaves the doc alone */

    /* a written config trains as it is */
    rc = sh("'%s' train models/etth1_both_L96_H16.ini --csv etth1.csv --out again --quiet "
            "--set train.epochs=1",
            tu_bin());
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

static void test_mistakes_are_one_line_errors(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    assert_int_equal(covariates("--horizons 16,x"), 1);
    assert_non_null(strstr(out, "covariates.py: --horizons"));
    assert_int_equal(covariates("--only etth2"), 1);
    assert_non_null(strstr(out, "covariates.py: --only: unknown study 'etth2'"));
    assert_int_equal(sh(PYTHON " '%s/tools/covariates.py' --attncast '%s' --runs runs "
                               "--etth1 nowhere.csv --only etth1",
                        source_dir(), tu_bin()),
                     1);
    assert_non_null(strstr(out, "ETTh1.csv not found"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chooses_on_validation_and_writes_the_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mistakes_are_one_line_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
