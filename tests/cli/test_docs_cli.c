/* test_docs_cli.c - the documentation against the program: the key table of docs/config.md is
 * exactly what `attncast train --keys --markdown` prints from the key table in src/io/config.c
 * (tools/update_config_doc.sh rewrites it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/testutil.h"

#define BEGIN_MARK "<!-- BEGIN generated: attncast train --keys --markdown -->\n"
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
    /* one header, one rule, one row per key (tests/io/test_config.c counts the keys) */
    assert_int_equal(tu_count_lines(out), 2 + 42);
    assert_non_null(strstr(out, "| `model.anchor` | `last` | one of mean, last |"));
    free(doc);
}

static void test_keys_print_the_plain_reference(void **state) {
    (void)state;
    assert_int_equal(attncast("train --keys"), 0);
    assert_int_equal(tu_count_lines(out), 42);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_doc_table_is_the_generated_one),
        cmocka_unit_test(test_keys_print_the_plain_reference),
        cmocka_unit_test(test_markdown_without_keys_is_a_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
