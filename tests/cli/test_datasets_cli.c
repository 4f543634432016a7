/* test_datasets_cli.c - `attncast datasets` through the real binary, on cards and files of our
 * own in a temp folder: list (mirror, cache, not fetched, never downloading), fetch (path and
 * checksum, a tampered mirror file refused naming both digests, an unknown name), info (the card
 * and per-channel statistics checked against values worked out by hand, the dates' frequency
 * and gaps), --json that parses, a shipped card's row split, and command-line errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "data/sha256.h"
#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];
static char tiny_sha[65], tampered_sha[65];

/* tiny.csv: channel a is 1,2,3,4 (mean 2.5, population std sqrt(1.25) = 1.118034); channel b
 * holds one -9999 sentinel. */
static const char *const TINY_CSV = "date,a,b\n"
                                    "2024-01-01,1,10\n"
                                    "2024-01-02,2,-9999\n"
                                    "2024-01-03,3,20\n"
                                    "2024-01-04,4,30\n";

/* Runs `attncast datasets ARGS` with the given mirror ("" for none) and our cards and cache. */
static int ds(const char *mirror, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ds(const char *mirror, const char *fmt, ...) {
    char args[1024], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd,
             "ATTNCAST_DATASETS_DIR='%s/cards' ATTNCAST_CACHE_DIR='%s/cache' "
             "ATTNCAST_DATA_MIRROR='%s' '%s' datasets %s",
             dir, dir, mirror, tu_bin(), args);
    return tu_run(cmd, out, sizeof out);
}

static void write_file(const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void write_card(const char *name, const char *file, const char *sha) {
    char path[512], text[1024];
    snprintf(path, sizeof path, "cards/%s.ini", name);
    snprintf(text, sizeof text,
             "[dataset]\nname = %s\nfile = %s\nurl = https://invalid.example/%s\nsha256 = %s\n"
             "date_column = date\nstep = 1d\ndomain = testing\nsplit = 0.5,0.25,0.25\n"
             "season = 2\ndescription = a small series for the tests\n",
             name, file, file, sha);
    write_file(path, text);
}

static void sha_of(const char *name, char hex[65]) {
    char path[512];
    ac_error err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ac_sha256_file(path, hex, &err) != 0) fail_msg("%s", err.msg);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "datasets") != 0) return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s/cards' '%s/cache' '%s/mirror' '%s/bad'", dir, dir, dir,
             dir);
    if (tu_run(cmd, out, sizeof out) != 0) return -1;
    write_file("mirror/tiny.csv", TINY_CSV);
    write_file("bad/tiny.csv", "date,a,b\n2024-01-01,1,10\n2024-01-02,2,-9999\n"
                               "2024-01-03,3,20\n2024-01-04,5,30\n"); /* one digit changed */
    sha_of("mirror/tiny.csv", tiny_sha);
    sha_of("bad/tiny.csv", tampered_sha);
    write_card("tiny", "tiny.csv", tiny_sha);
    write_card("ghost", "ghost.csv",
               "0000000000000000000000000000000000000000000000000000000000000000");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* The line of out that starts with prefix. */
static const char *line_of(const char *prefix) {
    static char line[1024];
    size_t n = strlen(prefix);
    for (const char *p = out; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= n && !strncmp(p, prefix, n)) {
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            return line;
        }
        p += len + (end ? 1 : 0);
    }
    fail_msg("no line starting '%s' in: %s", prefix, out);
    return NULL;
}

/* Whitespace-separated fields of a line. */
static int fields(const char *line, char f[][64], int max) {
    int n = 0;
    for (const char *p = line; *p && n < max;) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t len = strcspn(p, " ");
        snprintf(f[n++], 64, "%.*s", (int)len, p);
        p += len;
    }
    return n;
}

static void expect_one_line_error(int rc, int want_rc, const char *a, const char *b) {
    if (rc != want_rc) fail_msg("exit %d, expected %d: %s", rc, want_rc, out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (strncmp(out, "attncast: ", 10) != 0) fail_msg("not an attncast error: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static void test_list_shows_rows_channels_and_mirror(void **state) {
    (void)state;
    char mirror[512];
    snprintf(mirror, sizeof mirror, "%s/mirror", dir);
    assert_int_equal(ds(mirror, "list"), 0);
    assert_int_equal(tu_count_lines(out), 3); /* header, ghost, tiny (sorted) */
    char f[8][64];
    assert_int_equal(fields(line_of("tiny "), f, 8), 6);
    assert_string_equal(f[1], "testing");
    assert_string_equal(f[2], "1d");
    assert_string_equal(f[3], "4");
    assert_string_equal(f[4], "2");
    assert_string_equal(f[5], "mirror");
    assert_non_null(strstr(line_of("ghost "), "-  not fetched"));
    /* no subcommand means list */
    char again[sizeof out];
    memcpy(again, out, sizeof out);
    assert_int_equal(ds(mirror, "%s", ""), 0);
    assert_string_equal(out, again);
}

static void test_list_uses_the_cache_and_never_downloads(void **state) {
    (void)state;
    assert_int_equal(ds("", "list"), 0);
    assert_non_null(strstr(line_of("tiny "), "-  not fetched"));
    char cmd[1024], listing[256];
    snprintf(cmd, sizeof cmd, "ls -A '%s/cache'", dir);
    assert_int_equal(tu_run(cmd, listing, sizeof listing), 0);
    assert_string_equal(listing, ""); /* nothing downloaded, not even a temporary file */

    write_file("cache/tiny.csv", TINY_CSV);
    assert_int_equal(ds("", "list"), 0);
    char f[8][64];
    assert_int_equal(fields(line_of("tiny "), f, 8), 6);
    assert_string_equal(f[3], "4");
    assert_string_equal(f[5], "cached");
    snprintf(cmd, sizeof cmd, "rm '%s/cache/tiny.csv'", dir);
    assert_int_equal(tu_run(cmd, listing, sizeof listing), 0);
}

static void test_fetch_prints_the_path_and_checksum(void **state) {
    (void)state;
    char mirror[512], path[600];
    snprintf(mirror, sizeof mirror, "%s/mirror", dir);
    snprintf(path, sizeof path, "%s/tiny.csv", mirror);
    assert_int_equal(ds(mirror, "fetch tiny"), 0);
    assert_non_null(strstr(out, path));
    assert_non_null(strstr(out, tiny_sha));
    assert_int_equal(ds(mirror, "fetch tiny --json"), 0);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_string_equal(cJSON_GetObjectItem(root, "path")->valuestring, path);
    assert_string_equal(cJSON_GetObjectItem(root, "sha256")->valuestring, tiny_sha);
    cJSON_Delete(root);
}

static void test_fetch_refuses_a_tampered_mirror_file_naming_both_digests(void **state) {
    (void)state;
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    expect_one_line_error(ds(bad, "fetch tiny"), 1, tiny_sha, tampered_sha);
    /* list and info say so too, and fail */
    assert_int_equal(ds(bad, "list"), 1);
    assert_non_null(strstr(line_of("tiny "), "bad checksum"));
    assert_int_equal(ds(bad, "info tiny"), 1);
    assert_non_null(strstr(out, tampered_sha));
}

static void test_fetch_of_an_unknown_name_lists_the_known_ones(void **state) {
    (void)state;
    expect_one_line_error(ds("", "fetch nosuch"), 1, "unknown dataset 'nosuch'", "ghost, tiny");
    expect_one_line_error(ds("", "info nosuch"), 1, "unknown dataset 'nosuch'", "ghost, tiny");
}

static void test_info_prints_the_card_and_channel_statistics(void **state) {
    (void)state;
    char mirror[512];
    snprintf(mirror, sizeof mirror, "%s/mirror", dir);
    assert_int_equal(ds(mirror, "info tiny"), 0);
    assert_non_null(strstr(line_of("sha256 "), tiny_sha));
    assert_non_null(strstr(line_of("split "), "0.5/0.25/0.25"));
    assert_non_null(strstr(line_of("season "), "2"));
    assert_non_null(strstr(line_of("status "), "mirror"));
    assert_non_null(strstr(line_of("rows "), "4"));
    assert_non_null(strstr(line_of("dates "), "2024-01-01 .. 2024-01-04"));
    assert_non_null(strstr(line_of("frequency "), "D (from the dates; as the card's step)"));
    assert_non_null(strstr(line_of("gaps "), "none"));
    assert_non_null(strstr(line_of("channel "), "-9999 cells"));
    char f[8][64];
    assert_int_equal(fields(line_of("a "), f, 8), 6);
    assert_string_equal(f[1], "2.500000");
    assert_string_equal(f[2], "1.118034");
    assert_string_equal(f[3], "1.000000");
    assert_string_equal(f[4], "4.000000");
    assert_string_equal(f[5], "0");
    assert_int_equal(fields(line_of("b "), f, 8), 6);
    assert_string_equal(f[3], "-9999.000000");
    assert_string_equal(f[5], "1");
}

static void test_info_of_an_absent_file_says_how_to_fetch(void **state) {
    (void)state;
    assert_int_equal(ds("", "info ghost"), 0);
    assert_non_null(strstr(line_of("name "), "ghost"));
    assert_non_null(strstr(line_of("status "), "attncast datasets fetch ghost"));
    assert_null(strstr(out, "channel "));
}

static void test_json_output_parses(void **state) {
    (void)state;
    char mirror[512];
    snprintf(mirror, sizeof mirror, "%s/mirror", dir);
    assert_int_equal(ds(mirror, "--json"), 0);
    cJSON *root = cJSON_Parse(out);
    if (!root || !cJSON_IsArray(root)) fail_msg("not a JSON array: %s", out);
    assert_int_equal(cJSON_GetArraySize(root), 2);
    const cJSON *ghost = cJSON_GetArrayItem(root, 0), *tiny = cJSON_GetArrayItem(root, 1);
    assert_string_equal(cJSON_GetObjectItem(tiny, "name")->valuestring, "tiny");
    assert_int_equal(cJSON_GetObjectItem(tiny, "rows")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(tiny, "channels")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(tiny, "status")->valuestring, "mirror");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ghost, "rows")));
    assert_string_equal(cJSON_GetObjectItem(ghost, "status")->valuestring, "not fetched");
    cJSON_Delete(root);

    assert_int_equal(ds(mirror, "info tiny --json"), 0);
    root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_string_equal(cJSON_GetObjectItem(root, "sha256")->valuestring, tiny_sha);
    assert_int_equal(cJSON_GetObjectItem(root, "rows")->valueint, 4);
    assert_string_equal(cJSON_GetObjectItem(root, "frequency")->valuestring, "D");
    const cJSON *gaps = cJSON_GetObjectItem(root, "gaps");
    assert_int_equal(cJSON_GetObjectItem(gaps, "gaps")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(gaps, "repeated_rows")->valueint, 0);
    const cJSON *channels = cJSON_GetObjectItem(root, "channels");
    assert_int_equal(cJSON_GetArraySize(channels), 2);
    const cJSON *a = cJSON_GetArrayItem(channels, 0), *b = cJSON_GetArrayItem(channels, 1);
    assert_string_equal(cJSON_GetObjectItem(a, "name")->valuestring, "a");
    assert_true(fabs(cJSON_GetObjectItem(a, "mean")->valuedouble - 2.5) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(a, "std")->valuedouble - sqrt(1.25)) < 1e-12);
    assert_int_equal(cJSON_GetObjectItem(b, "sentinel_cells")->valueint, 1);
    assert_true(cJSON_GetObjectItem(b, "min")->valuedouble == -9999.0);
    cJSON_Delete(root);
}

/* The shipped ETTh1 card splits by rows: info prints the borders (no file needed). */
static void test_info_of_a_row_split_prints_the_borders(void **state) {
    (void)state;
    const char *source = getenv("ATTNCAST_SOURCE_DIR");
    if (!source || !*source) skip();
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "ATTNCAST_DATASETS_DIR='%s/datasets' ATTNCAST_CACHE_DIR='%s/cache' "
             "ATTNCAST_DATA_MIRROR= '%s' datasets info ETTh1",
             source, dir, tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_string_equal(line_of("split "),
                        "split        by rows: train 0..8639, val 8640..11519, test 11520..14399; "
                        "rows from 14400 on unused");
    assert_non_null(strstr(line_of("season "), "24"));
    strcat(cmd, " --json");
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(root, "split")));
    const cJSON *rows = cJSON_GetObjectItem(root, "split_rows");
    assert_int_equal(cJSON_GetArraySize(rows), 3);
    assert_int_equal(cJSON_GetArrayItem(rows, 0)->valueint, 8640);
    assert_int_equal(cJSON_GetArrayItem(rows, 1)->valueint, 2880);
    assert_int_equal(cJSON_GetArrayItem(rows, 2)->valueint, 2880);
    cJSON_Delete(root);
}

static void test_command_line_errors_are_one_line_usage_errors(void **state) {
    (void)state;
    expect_one_line_error(ds("", "frobnicate"), 2, "unknown subcommand 'frobnicate'", NULL);
    expect_one_line_error(ds("", "list --verbose"), 2, "unknown option '--verbose'", NULL);
    expect_one_line_error(ds("", "info"), 2, "no dataset name", NULL);
    expect_one_line_error(ds("", "fetch"), 2, "no dataset name", NULL);
    expect_one_line_error(ds("", "info tiny ghost"), 2, "unexpected argument 'ghost'", NULL);
    expect_one_line_error(ds("", "list tiny"), 2, "unexpected argument 'tiny'", NULL);
    assert_int_equal(ds("", "--help"), 0);
    assert_non_null(strstr(out, "usage: attncast datasets"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_shows_rows_channels_and_mirror),
        cmocka_unit_test(test_list_uses_the_cache_and_never_downloads),
        cmocka_unit_test(test_fetch_prints_the_path_and_checksum),
        cmocka_unit_test(test_fetch_refuses_a_tampered_mirror_file_naming_both_digests),
        cmocka_unit_test(test_fetch_of_an_unknown_name_lists_the_known_ones),
        cmocka_unit_test(test_info_prints_the_card_and_channel_statistics),
        cmocka_unit_test(test_info_of_an_absent_file_says_how_to_fetch),
        cmocka_unit_test(test_json_output_parses),
        cmocka_unit_test(test_info_of_a_row_split_prints_the_borders),
        cmocka_unit_test(test_command_line_errors_are_one_line_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
