/* test_docs_cli.c - the documentation against the program: the key table of docs/config.md is
 * exactly what `attncast train --keys --markdown` prints from the key table in src/config/config.c
 * (tools/update_config_doc.sh rewrites it); every verb's --help gives its usage, options and
 * examples, and the top-level help the environment variables; every relative link and anchor of
 * README.md, CHANGELOG.md and docs/ resolves (tools/check_links.py, which must also fail on a
 * broken one; skipped without /usr/bin/python3). */
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

#define BEGIN_MARK "<!-- BEGIN generated: attncast train --keys --markdown -->\n"
#define PYTHON     "/usr/bin/python3"
#define END_MARK   "<!-- END generated -->\n"

static char out[1 << 16];

static const char *source_dir(void) {
    const char *src = getenv("ATTNCAST_SOURCE_DIR");
    if (!src || !*src) fail_msg("ATTNCAST_SOURCE_DIR is not set (ctest sets it)");
    return src;
}

/* Runs `attncast ARGS`, its stdout alone in out. */
static int attncast(const char *args) {
    char command[512];
    snprintf(command, sizeof command, "'%s' %s 2>/dev/null", tu_bin(), args);
    return tu_run(command, out, sizeof out);
}

static void test_config_doc_table_is_the_generated_one(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/docs/config.md", source_dir());
    char *doc = tu_read_file(path, NULL);
    assert_non_null(doc);
    char *begin = strstr(doc, BEGIN_MARK);
    if (!begin) fail_msg("docs/config.md has no line %s", BEGIN_MARK);
    begin += strlen(BEGIN_MARK);
    char *end = strstr(begin, END_MARK);
    if (!end) fail_msg("docs/config.md has no line %s after the BEGIN marker", END_MARK);
    *end = '\0';
    assert_int_equal(attncast("train --keys --markdown"), 0);
    if (strcmp(begin, out) != 0)
        fail_msg("docs/config.md's key table differs from `attncast train --keys --markdown`; "
                 "run tools/update_config_doc.sh");
    /* one header, one rule, one row per key (tests/config/test_config.c counts the keys) */
    assert_int_equal(tu_count_lines(out), 2 + 51);
    assert_non_null(strstr(out, "| `model.anchor` | `last` | one of mean, last |"));
    free(doc);
}

static void test_keys_print_the_plain_reference(void **state) {
    (void)state;
    assert_int_equal(attncast("train --keys"), 0);
    assert_int_equal(tu_count_lines(out), 51);
    assert_non_null(strstr(out, "  data.lookback "));
}

static void test_markdown_without_keys_is_a_usage_error(void **state) {
    (void)state;
    char command[512];
    snprintf(command, sizeof command, "'%s' train models/default.ini --markdown", tu_bin());
    assert_int_equal(tu_run(command, out, sizeof out), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "attncast: train: --markdown goes with --keys"));
}

static void test_every_verb_prints_a_full_help(void **state) {
    (void)state;
    const char *verbs[] = {"train", "eval",     "predict", "info",      "explain",  "plot",
                           "sweep", "datasets", "bench",   "bench-ops", "backtest", "calibrate"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        char args[64], usage[64];
        snprintf(args, sizeof args, "%s --help", verbs[i]);
        snprintf(usage, sizeof usage, "usage: attncast %s ", verbs[i]);
        if (attncast(args) != 0) fail_msg("attncast %s --help failed", verbs[i]);
        if (strncmp(out, usage, strlen(usage)) != 0)
            fail_msg("attncast %s --help does not begin with '%s'", verbs[i], usage);
        if (!strstr(out, "\noptions:\n") || !strstr(out, "  --help, -h "))
            fail_msg("attncast %s --help lists no options", verbs[i]);
        if (!strstr(out, "\nexample")) fail_msg("attncast %s --help gives no example", verbs[i]);
        if (tu_count_lines(out) < 10) fail_msg("attncast %s --help is too short", verbs[i]);
    }
}

static void test_top_level_help_lists_verbs_and_environment(void **state) {
    (void)state;
    assert_int_equal(attncast("--help"), 0);
    const char *names[] = {"ATTNCAST_THREADS",      "ATTNCAST_DATA_MIRROR",   "ATTNCAST_CACHE_DIR",
                           "ATTNCAST_DATASETS_DIR", "ATTNCAST_ADAPT_THREADS", "ATTNCAST_NO_MPI",
                           "ATTNCAST_DEBUG",        "OMP_WAIT_POLICY",        "\n  train ",
                           "\n  bench-ops "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(out, names[i])) fail_msg("attncast --help does not mention %s", names[i]);
}

/* tools/check_links.py on ROOT; its output in out. */
static int check_links(const char *root) {
    char command[1024];
    snprintf(command, sizeof command, PYTHON " '%s/tools/check_links.py' '%s'", source_dir(), root);
    return tu_run(command, out, sizeof out);
}

static void test_every_link_of_the_documentation_resolves(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    if (check_links(source_dir()) != 0) fail_msg("broken links:\n%s", out);
    assert_non_null(strstr(out, "all resolve"));
}

static void test_link_check_fails_on_a_broken_file_or_anchor(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0) skip();
    char dir[256];
    assert_int_equal(tu_make_temp_dir(dir, sizeof dir, "links"), 0);
    char docs[300];
    snprintf(docs, sizeof docs, "%s/docs", dir);
    assert_int_equal(mkdir(docs, 0755), 0);
    assert_int_equal(tu_write_file(docs, "a.md",
                                   "# Page A\n\n## The `train` verb\n\nSee [b](b.md#usage), "
                                   "[here](#the-train-verb) and\n[the\nweb](https://x.org/).\n"
                                   "```\n[not a link](nowhere.md)\n```\n"),
                     0);
    assert_int_equal(tu_write_file(docs, "b.md", "# B\n\n## Usage\n"), 0);
    assert_int_equal(tu_write_file(dir, "README.md", "[a](docs/a.md) [b](docs/b.md#usage)\n"), 0);
    assert_int_equal(check_links(dir), 0);
    /* a missing file, and an anchor that is not a heading */
    assert_int_equal(tu_write_file(dir, "README.md",
                                   "[a](docs/a.md)\n\n[gone](docs/c.md) [b](docs/b.md#options)\n"),
                     0);
    assert_int_equal(check_links(dir), 1);
    assert_non_null(strstr(out, "README.md:3: docs/c.md: no such file"));
    assert_non_null(
        strstr(out, "README.md:3: docs/b.md#options: no heading #options in docs/b.md"));
    assert_non_null(strstr(out, "2 broken link(s)"));
    assert_int_equal(tu_remove_dir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_doc_table_is_the_generated_one),
        cmocka_unit_test(test_keys_print_the_plain_reference),
        cmocka_unit_test(test_markdown_without_keys_is_a_usage_error),
        cmocka_unit_test(test_every_verb_prints_a_full_help),
        cmocka_unit_test(test_top_level_help_lists_verbs_and_environment),
        cmocka_unit_test(test_every_link_of_the_documentation_resolves),
        cmocka_unit_test(test_link_check_fails_on_a_broken_file_or_anchor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
