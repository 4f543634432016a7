/* test_dataset.c - dataset cards and fetching: real cards, mirror, cache and curl downloads
 * (file:// URLs, so no network) in a temporary folder, and the cards shipped in datasets/. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/dataset.h"
#include "data/sha256.h"

#define TOY_CSV     "date,a\n2020-01-01,1\n2020-01-02,2\n"
#define SHARED_DATA "/work/shared/data" /* the benchmark files, when present */

static char root[256];
static char cards[300], cache[300], mirror[300], src[300];
static char toy_sha[65]; /* of TOY_CSV */

/* ---- files and folders ---- */

static void write_file(const char *file, const void *data, size_t len) {
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_text(const char *file, const char *text) {
    write_file(file, text, strlen(text));
}

static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            char child[1024];
            for (struct dirent *e; (e = readdir(d)) != NULL;) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Entries in a folder (0 when it does not exist). */
static int count_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static bool have_tool(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return false;
    char copy[4096], file[4200];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
        snprintf(file, sizeof file, "%s/%s", dir, name);
        if (access(file, X_OK) == 0) return true;
    }
    return false;
}

static void digest_of(const char *file, char hex[65]) {
    ac_error err;
    assert_int_equal(ac_sha256_file(file, hex, &err), AC_OK);
}

/* Writes <cards>/<name>.ini. */
static void write_card(const char *name, const char *body) {
    char file[512];
    snprintf(file, sizeof file, "%s/%s.ini", cards, name);
    write_text(file, body);
}

/* A card "toy" for TOY_CSV at url, with the given sha256 ("" for the right one) and extra keys. */
static void write_toy_card(const char *url, const char *sha, const char *extra) {
    char body[2048];
    snprintf(body, sizeof body,
             "[dataset]\nname = toy\nfile = toy.csv\nurl = %s\nsha256 = %s\nsplit = 0.7,0.1,0.2\n"
             "season = 1\n%s",
             url, sha[0] ? sha : toy_sha, extra);
    write_card("toy", body);
}

static void load_toy(ac_dataset_card *card) {
    ac_error err = {0};
    if (ac_dataset_card_load(card, "toy", &err) != AC_OK) fail_msg("%s", err.msg);
}

static int setup_root(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/attncast_ds_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) return -1;
    snprintf(cards, sizeof cards, "%s/cards", root);
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(mirror, sizeof mirror, "%s/mirror", root);
    snprintf(src, sizeof src, "%s/src", root);
    if (mkdir(src, 0755) != 0) return -1;
    char file[512];
    snprintf(file, sizeof file, "%s/toy.csv", src);
    FILE *f = fopen(file, "wb");
    if (!f) return -1;
    fputs(TOY_CSV, f);
    fclose(f);
    ac_error err;
    return ac_sha256_file(file, toy_sha, &err) == AC_OK ? 0 : -1;
}

static int remove_root(void **state) {
    (void)state;
    remove_tree(root);
    return 0;
}

/* Before and after every test: empty cards, cache and mirror folders and the default env. */
static int reset(void **state) {
    (void)state;
    remove_tree(cards);
    remove_tree(cache);
    remove_tree(mirror);
    if (mkdir(cards, 0755) != 0 || mkdir(mirror, 0755) != 0) return -1;
    setenv("ATTNCAST_DATASETS_DIR", cards, 1);
    setenv("ATTNCAST_CACHE_DIR", cache, 1);
    unsetenv("ATTNCAST_DATA_MIRROR");
    return 0;
}

/* ---- cards ---- */

static void test_a_good_card_loads_every_key(void **state) {
    (void)state;
    write_card("toy", "; a comment\r\n"
                      "[dataset]\r\n"
                      "name = toy\r\n"
                      "file = toy.csv\r\n"
                      "url = https://example.org/toy.csv\r\n"
                      "sha256 = "
                      "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842\r\n"
                      "date_column = date\r\n"
                      "step = 1d\r\n"
                      "domain = finance\r\n"
                      "split = 0.6, 0.2, 0.2\r\n"
                      "season = 7\r\n"
                      "description = first part\r\n"
                      "  second part\r\n");
    ac_dataset_card card;
    load_toy(&card);
    assert_string_equal(card.name, "toy");
    assert_string_equal(card.file, "toy.csv");
    assert_string_equal(card.url, "https://example.org/toy.csv");
    assert_string_equal(card.sha256,
                        "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842");
    assert_string_equal(card.date_column, "date");
    assert_string_equal(card.step, "1d");
    assert_string_equal(card.domain, "finance");
    assert_string_equal(card.description, "first part second part");
    assert_string_equal(card.archive_member, "");
    assert_true(card.split[0] == 0.6 && card.split[1] == 0.2 && card.split[2] == 0.2);
    assert_int_equal(card.season, 7);
    char expected[512];
    snprintf(expected, sizeof expected, "%s/toy.ini", cards);
    assert_string_equal(card.card_path, expected);
}

/* The card "bad" with body must fail with "<cards>/bad.ini<suffix>". */
static void expect_card_error(const char *body, const char *suffix) {
    write_card("bad", body);
    ac_dataset_card card;
    ac_error err = {0};
    assert_int_not_equal(ac_dataset_card_load(&card, "bad", &err), AC_OK);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s/bad.ini%s", cards, suffix);
    assert_string_equal(err.msg, expected);
}

#define HEAD "[dataset]\nname = bad\nfile = bad.csv\nurl = https://example.org/bad.csv\n"
#define SHA  "sha256 = 48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842\n"
#define TAIL "split = 0.7,0.1,0.2\nseason = 7\n"

static void test_card_errors_name_the_file_line_and_key(void **state) {
    (void)state;
    expect_card_error(HEAD SHA TAIL "colour = red\n",
                      ":8: unknown key 'colour'; a card's keys are name, file, url, sha256, split, "
                      "split_rows, season, date_column, step, domain, description, archive_member, "
                      "archive_sha256");
    expect_card_error(
        HEAD "sha256 = 48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc8984\n" TAIL,
        ":5: sha256 must be 64 lower-case hex digits, found "
        "'48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc8984' (63 "
        "characters)");
    expect_card_error(
        HEAD "sha256 = 48B4D9D3D508F5104162E85B9A6042E3557FDE11AA9F2944EBA8C0D0EFC89842\n" TAIL,
        ":5: sha256 must be 64 lower-case hex digits, found "
        "'48B4D9D3D508F5104162E85B9A6042E3557FDE11AA9F2944EBA8C0D0EFC89842' (64 "
        "characters)");
    expect_card_error(
        "[dataset]\nname = other\nfile = bad.csv\nurl = https://example.org/x\n" SHA TAIL,
        ": name 'other' does not match the card's file name (expected 'bad')");
    expect_card_error(HEAD SHA "split = 0.7,0.1,0.2\n", ": required key 'season' is missing");
    expect_card_error(HEAD SHA "split = 0.7,0.2,0.2\nseason = 7\n",
                      ":6: split must be three fractions train,val,test in [0, 1] that add up to 1 "
                      "(train and test above 0), found '0.7,0.2,0.2'");
    expect_card_error(HEAD SHA "split = 0.7,0.1,0.2\nseason = 0\n",
                      ":7: season must be a whole number from 1 to 1000000, found '0'");
    expect_card_error(HEAD SHA TAIL "season = 8\n", ":8: season given twice (first at line 7)");
    expect_card_error(HEAD SHA TAIL "  more\n",
                      ":8: an indented line continues season; only description may go on over "
                      "several lines");
    expect_card_error(
        "[dataset]\nname = bad\nfile = ../bad.csv\nurl = https://example.org/x\n" SHA TAIL,
        ": file must be a plain file name without folders, found '../bad.csv'");
    expect_card_error("[data]\nname = bad\n",
                      ":2: unknown section [data]; a card has one [dataset] section");
    char long_line[512] = HEAD SHA TAIL "description = ";
    size_t used = strlen(long_line), first = strlen(HEAD SHA TAIL);
    memset(long_line + used, 'x', 200 - 1 - (used - first)); /* 199 characters: fits */
    strcat(long_line, "\r\n");
    write_card("bad", long_line);
    ac_dataset_card card;
    ac_error err = {0};
    if (ac_dataset_card_load(&card, "bad", &err) != AC_OK) fail_msg("%s", err.msg);
    assert_int_equal(strlen(card.description), 199 - strlen("description = "));
    strcpy(long_line + strlen(long_line) - 2, "x\r\n"); /* 200 characters: too long */
    expect_card_error(long_line, ":8: line longer than 199 characters");
    expect_card_error(HEAD SHA TAIL "this line has no equals sign\n",
                      ":8: malformed line (expected key = value or [dataset])");
}

static void test_unknown_dataset_lists_the_known_ones(void **state) {
    (void)state;
    write_card("weather", "");
    write_card("exchange_rate", "");
    ac_dataset_card card;
    ac_error err;
    assert_int_equal(ac_dataset_card_load(&card, "foo", &err), AC_ERR_INVALID);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "unknown dataset 'foo'; known: exchange_rate, weather (cards in %s)", cards);
    assert_string_equal(err.msg, expected);
    assert_int_equal(ac_dataset_card_load(&card, "../etc/passwd", &err), AC_ERR_INVALID);
    assert_string_equal(err.msg, "dataset name '../etc/passwd' is not valid: use up to 63 "
                                 "letters, digits, '_' and '-'");
    assert_int_equal(ac_dataset_card_load(&card, "", &err), AC_ERR_INVALID);
}

static void test_list_is_sorted_and_skips_other_files(void **state) {
    (void)state;
    write_card("b-set", "");
    write_card("a_set", "");
    write_card("bad name", "");
    char other[512];
    snprintf(other, sizeof other, "%s/notes.txt", cards);
    write_text(other, "");
    char names[8][64];
    assert_int_equal(ac_dataset_list(names, 8), 2);
    assert_string_equal(names[0], "a_set");
    assert_string_equal(names[1], "b-set");
    assert_int_equal(ac_dataset_list(names, 1), 1);
    assert_string_equal(names[0], "a_set");
    assert_string_equal(ac_datasets_dir(), cards);
}

static void test_the_repository_cards_load(void **state) {
    (void)state;
    const char *source = getenv("ATTNCAST_SOURCE_DIR");
    if (!source || !*source) skip();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/datasets", source);
    setenv("ATTNCAST_DATASETS_DIR", dir, 1);
    ac_dataset_card card;
    ac_error err = {0};
    if (ac_dataset_card_load(&card, "exchange_rate", &err) != AC_OK) fail_msg("%s", err.msg);
    assert_string_equal(card.file, "exchange_rate.csv");
    assert_string_equal(card.sha256,
                        "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842");
    assert_string_equal(card.date_column, "date");
    assert_int_equal(card.season, 7);
    assert_true(card.split[0] == 0.7 && card.split[1] == 0.1 && card.split[2] == 0.2);
    assert_string_equal(card.archive_member, "");
    if (ac_dataset_card_load(&card, "weather", &err) != AC_OK) fail_msg("%s", err.msg);
    assert_string_equal(card.file, "weather.csv");
    assert_string_equal(card.sha256,
                        "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63");
    assert_string_equal(card.archive_member, "weather/weather.csv");
    assert_string_equal(card.archive_sha256,
                        "c2459c2abce68e58140a74e14eb3ff7a7f4d917d25da0a28a34571f8d733aba0");
    assert_string_equal(card.step, "10min");
    assert_int_equal(card.season, 144);
    /* the ETT cards split by rows: Informer's borders, 12/4/4 months of 30 days x 24 h */
    static const char *const ett[][2] = {
        {"ETTh1", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"},
        {"ETTh2", "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b"}};
    for (int i = 0; i < 2; i++) {
        if (ac_dataset_card_load(&card, ett[i][0], &err) != AC_OK) fail_msg("%s", err.msg);
        assert_string_equal(card.sha256, ett[i][1]);
        assert_int_equal(card.split_rows[0], 8640);
        assert_int_equal(card.split_rows[1], 2880);
        assert_int_equal(card.split_rows[2], 2880);
        assert_int_equal(card.season, 24);
        assert_string_equal(card.date_column, "date");
        assert_string_equal(card.domain, "energy");
    }
    char names[8][64];
    assert_true(ac_dataset_list(names, 8) >= 4);
}

/* The shipped cards' digests match the real files, fetched through a mirror. */
static void test_the_repository_cards_match_the_shared_files(void **state) {
    (void)state;
    const char *source = getenv("ATTNCAST_SOURCE_DIR");
    if (!source || !*source || access(SHARED_DATA "/exchange_rate.csv", R_OK) != 0 ||
        access(SHARED_DATA "/weather.csv", R_OK) != 0 ||
        access(SHARED_DATA "/ETTh1.csv", R_OK) != 0 || access(SHARED_DATA "/ETTh2.csv", R_OK) != 0)
        skip();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/datasets", source);
    setenv("ATTNCAST_DATASETS_DIR", dir, 1);
    setenv("ATTNCAST_DATA_MIRROR", SHARED_DATA, 1);
    static const char *const names[] = {"exchange_rate", "weather", "ETTh1", "ETTh2"};
    for (int i = 0; i < 4; i++) {
        ac_dataset_card card;
        ac_error err = {0};
        char path[AC_DATASET_PATH], expected[AC_DATASET_PATH];
        if (ac_dataset_card_load(&card, names[i], &err) != AC_OK) fail_msg("%s", err.msg);
        if (ac_dataset_fetch(&card, path, sizeof path, &err) != AC_OK) fail_msg("%s", err.msg);
        snprintf(expected, sizeof expected, "%s/%s.csv", SHARED_DATA, names[i]);
        assert_string_equal(path, expected);
    }
}

/* ---- the mirror ---- */

static void test_a_mirror_with_the_right_file_is_used_in_place(void **state) {
    (void)state;
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    char file[512];
    snprintf(file, sizeof file, "%s/toy.csv", mirror);
    write_text(file, TOY_CSV);
    setenv("ATTNCAST_DATA_MIRROR", mirror, 1);
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH];
    ac_error err = {0};
    if (ac_dataset_fetch(&card, path, sizeof path, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_string_equal(path, file);
    assert_int_equal(count_entries(cache), 0); /* nothing copied */
}

static void test_a_tampered_mirror_file_is_refused_with_both_digests(void **state) {
    (void)state;
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    char file[512], tampered[] = TOY_CSV, found[65];
    tampered[strlen(tampered) - 2] = '3'; /* 2020-01-02,2 becomes 2020-01-02,3 */
    snprintf(file, sizeof file, "%s/toy.csv", mirror);
    write_text(file, tampered);
    digest_of(file, found);
    setenv("ATTNCAST_DATA_MIRROR", mirror, 1);
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH];
    ac_error err;
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_FORMAT);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "toy: %s (from ATTNCAST_DATA_MIRROR) has SHA-256 %s, but the card expects %s; "
             "refusing a file that differs from the published one",
             file, found, toy_sha);
    assert_string_equal(err.msg, expected);
    assert_string_equal(path, "");
}

static void test_a_mirror_must_be_a_folder_holding_the_file(void **state) {
    (void)state;
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH], expected[1024];
    ac_error err;
    setenv("ATTNCAST_DATA_MIRROR", mirror, 1);
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_IO);
    snprintf(expected, sizeof expected, "ATTNCAST_DATA_MIRROR=%s has no toy.csv (for dataset toy)",
             mirror);
    assert_string_equal(err.msg, expected);

    char file[512];
    snprintf(file, sizeof file, "%s/toy.csv", src);
    setenv("ATTNCAST_DATA_MIRROR", file, 1);
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_IO);
    snprintf(expected, sizeof expected, "ATTNCAST_DATA_MIRROR=%s is not a folder", file);
    assert_string_equal(err.msg, expected);
}

/* ---- the cache ---- */

static void test_a_cached_file_is_used_without_download(void **state) {
    (void)state;
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    assert_int_equal(mkdir(cache, 0755), 0);
    char file[512];
    snprintf(file, sizeof file, "%s/toy.csv", cache);
    write_text(file, TOY_CSV);
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH];
    ac_error err = {0};
    if (ac_dataset_fetch(&card, path, sizeof path, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_string_equal(path, file);
}

static void test_a_corrupt_cached_file_is_refused_and_kept(void **state) {
    (void)state;
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    assert_int_equal(mkdir(cache, 0755), 0);
    char file[512], found[65];
    snprintf(file, sizeof file, "%s/toy.csv", cache);
    write_text(file, "date,a\n");
    digest_of(file, found);
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH], expected[1024];
    ac_error err;
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_FORMAT);
    snprintf(expected, sizeof expected,
             "toy: the cached file %s has SHA-256 %s, but the card expects %s; it is corrupt or "
             "was changed: delete it to download it again",
             file, found, toy_sha);
    assert_string_equal(err.msg, expected);
    assert_int_equal(access(file, F_OK), 0);
}

static void test_cache_dir_comes_from_the_environment(void **state) {
    (void)state;
    char buf[512], expected[512];
    assert_string_equal(ac_dataset_cache_dir(buf, sizeof buf), cache);
    unsetenv("ATTNCAST_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/x/y", 1);
    assert_string_equal(ac_dataset_cache_dir(buf, sizeof buf), "/x/y/attncast");
    unsetenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(expected, sizeof expected, "%s/.cache/attncast", home);
        assert_string_equal(ac_dataset_cache_dir(buf, sizeof buf), expected);
    }
    char small[4];
    assert_string_equal(ac_dataset_cache_dir(small, sizeof small), ""); /* does not fit */
}

/* ---- downloads with curl (file:// URLs) ---- */

static void test_a_download_fills_the_cache_after_verifying_it(void **state) {
    (void)state;
    if (!have_tool("curl")) skip();
    char url[512], deep[512], expected[600];
    snprintf(url, sizeof url, "file://%s/toy.csv", src);
    snprintf(deep, sizeof deep, "%s/deeper/still", cache); /* created with its parents */
    setenv("ATTNCAST_CACHE_DIR", deep, 1);
    write_toy_card(url, "", "");
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH], got[65];
    ac_error err = {0};
    if (ac_dataset_fetch(&card, path, sizeof path, &err) != AC_OK) fail_msg("%s", err.msg);
    snprintf(expected, sizeof expected, "%s/toy.csv", deep);
    assert_string_equal(path, expected);
    digest_of(path, got);
    assert_string_equal(got, toy_sha);
    assert_int_equal(count_entries(deep), 1); /* no temporary file left behind */

    /* the second time it comes from the cache: the URL no longer works */
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    load_toy(&card);
    if (ac_dataset_fetch(&card, path, sizeof path, &err) != AC_OK) fail_msg("%s", err.msg);
    assert_string_equal(path, expected);
}

static void test_a_download_with_the_wrong_checksum_is_refused_and_deleted(void **state) {
    (void)state;
    if (!have_tool("curl")) skip();
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    char url[512], expected[1200];
    snprintf(url, sizeof url, "file://%s/toy.csv", src);
    write_toy_card(url, wrong, "");
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH];
    ac_error err;
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_FORMAT);
    snprintf(expected, sizeof expected,
             "toy: the file downloaded from %s has SHA-256 %s, but the card expects %s; it was "
             "deleted",
             url, toy_sha, wrong);
    assert_string_equal(err.msg, expected);
    assert_int_equal(count_entries(cache), 0);
}

static void test_an_unreachable_url_says_how_to_get_the_file(void **state) {
    (void)state;
    if (!have_tool("curl")) skip();
    write_toy_card("file:///nonexistent/toy.csv", "", "");
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH], expected[1200];
    ac_error err;
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_IO);
    assert_null(strchr(err.msg, '\n'));
    const char *prefix = "toy: cannot download file:///nonexistent/toy.csv: curl exited with 37";
    assert_memory_equal(err.msg, prefix, strlen(prefix));
    snprintf(expected, sizeof expected,
             "; download the file yourself and set ATTNCAST_DATA_MIRROR to its folder, or put it "
             "at %s/toy.csv",
             cache);
    assert_non_null(strstr(err.msg, expected));
    assert_int_equal(count_entries(cache), 0);
}

/* A .zip holding the given members uncompressed ("stored"), written by hand. */
static uint32_t crc32_of(const char *data, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint8_t)data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static size_t put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return 2;
}

static size_t put32(uint8_t *p, uint32_t v) {
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
    return 4;
}

static void write_zip(const char *file, const char *const names[], const char *const texts[],
                      int n) {
    static uint8_t zip[8192], central[2048];
    size_t z = 0, c = 0;
    for (int i = 0; i < n; i++) {
        size_t name_len = strlen(names[i]), len = strlen(texts[i]);
        uint32_t crc = crc32_of(texts[i], len), offset = (uint32_t)z;
        z += put32(zip + z, 0x04034b50); /* local file header */
        z += put16(zip + z, 10);         /* version needed */
        z += put16(zip + z, 0);          /* flags */
        z += put16(zip + z, 0);          /* stored */
        z += put16(zip + z, 0);          /* time */
        z += put16(zip + z, 0x21);       /* date: 1980-01-01 */
        z += put32(zip + z, crc);
        z += put32(zip + z, (uint32_t)len);
        z += put32(zip + z, (uint32_t)len);
        z += put16(zip + z, (unsigned)name_len);
        z += put16(zip + z, 0);
        memcpy(zip + z, names[i], name_len);
        z += name_len;
        memcpy(zip + z, texts[i], len);
        z += len;
        c += put32(central + c, 0x02014b50); /* central directory header */
        c += put16(central + c, 20);
        c += put16(central + c, 10);
        c += put16(central + c, 0);
        c += put16(central + c, 0);
        c += put16(central + c, 0);
        c += put16(central + c, 0x21);
        c += put32(central + c, crc);
        c += put32(central + c, (uint32_t)len);
        c += put32(central + c, (uint32_t)len);
        c += put16(central + c, (unsigned)name_len);
        c += put16(central + c, 0); /* extra */
        c += put16(central + c, 0); /* comment */
        c += put16(central + c, 0); /* disk */
        c += put16(central + c, 0); /* internal attributes */
        c += put32(central + c, 0); /* external attributes */
        c += put32(central + c, offset);
        memcpy(central + c, names[i], name_len);
        c += name_len;
    }
    uint32_t central_at = (uint32_t)z;
    memcpy(zip + z, central, c);
    z += c;
    z += put32(zip + z, 0x06054b50); /* end of central directory */
    z += put16(zip + z, 0);
    z += put16(zip + z, 0);
    z += put16(zip + z, (unsigned)n);
    z += put16(zip + z, (unsigned)n);
    z += put32(zip + z, (uint32_t)c);
    z += put32(zip + z, central_at);
    z += put16(zip + z, 0);
    write_file(file, zip, z);
}

static void test_a_zip_download_is_unpacked_and_verified(void **state) {
    (void)state;
    if (!have_tool("curl") || !have_tool("unzip")) skip();
    const char *names[] = {"toy/README", "toy/toy.csv"};
    const char *texts[] = {"not the data\n", TOY_CSV};
    char zip[512], url[600], zip_sha[65], extra[512];
    snprintf(zip, sizeof zip, "%s/toy.zip", src);
    write_zip(zip, names, texts, 2);
    digest_of(zip, zip_sha);
    snprintf(url, sizeof url, "file://%s", zip);
    snprintf(extra, sizeof extra, "archive_member = toy/toy.csv\narchive_sha256 = %s\n", zip_sha);
    write_toy_card(url, "", extra);
    ac_dataset_card card;
    load_toy(&card);
    char path[AC_DATASET_PATH], got[65], expected[1200];
    ac_error err = {0};
    if (ac_dataset_fetch(&card, path, sizeof path, &err) != AC_OK) fail_msg("%s", err.msg);
    digest_of(path, got);
    assert_string_equal(got, toy_sha);
    assert_int_equal(count_entries(cache), 1); /* the CSV only: the zip is gone */
    remove_tree(cache);

    /* an archive that is not the published one is refused before unpacking */
    const char *wrong = "1111111111111111111111111111111111111111111111111111111111111111";
    snprintf(extra, sizeof extra, "archive_member = toy/toy.csv\narchive_sha256 = %s\n", wrong);
    write_toy_card(url, "", extra);
    load_toy(&card);
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_FORMAT);
    snprintf(expected, sizeof expected,
             "toy: the archive downloaded from %s has SHA-256 %s, but the card expects %s "
             "(archive_sha256); it was deleted",
             url, zip_sha, wrong);
    assert_string_equal(err.msg, expected);
    assert_int_equal(count_entries(cache), 0);

    /* a member that is not in the archive */
    write_toy_card(url, "", "archive_member = toy/other.csv\n");
    load_toy(&card);
    assert_int_equal(ac_dataset_fetch(&card, path, sizeof path, &err), AC_ERR_IO);
    assert_non_null(strstr(err.msg, "unzip could not unpack toy/other.csv (exit 11"));
    assert_non_null(strstr(err.msg, "unpack toy/other.csv from it and set ATTNCAST_DATA_MIRROR"));
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(count_entries(cache), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, reset, reset)

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(test_a_good_card_loads_every_key),
        TEST(test_card_errors_name_the_file_line_and_key),
        TEST(test_unknown_dataset_lists_the_known_ones),
        TEST(test_list_is_sorted_and_skips_other_files),
        TEST(test_the_repository_cards_load),
        TEST(test_the_repository_cards_match_the_shared_files),
        TEST(test_a_mirror_with_the_right_file_is_used_in_place),
        TEST(test_a_tampered_mirror_file_is_refused_with_both_digests),
        TEST(test_a_mirror_must_be_a_folder_holding_the_file),
        TEST(test_a_cached_file_is_used_without_download),
        TEST(test_a_corrupt_cached_file_is_refused_and_kept),
        TEST(test_cache_dir_comes_from_the_environment),
        TEST(test_a_download_fills_the_cache_after_verifying_it),
        TEST(test_a_download_with_the_wrong_checksum_is_refused_and_deleted),
        TEST(test_an_unreachable_url_says_how_to_get_the_file),
        TEST(test_a_zip_download_is_unpacked_and_verified),
    };
    return cmocka_run_group_tests(tests, setup_root, remove_root);
}
