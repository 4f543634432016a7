/* test_exports.c - what libattncast shows an embedder: the shared library exports exactly the
 * functions the public headers declare (the version script cmake/public_symbols.cmake writes),
 * all of them named ac_..., and the static library defines no global without the ac_ prefix.
 * libattncast is the embeddable core: it calls nothing that spawns a process (fork, exec, popen,
 * system, posix_spawn), installs no signal handler and needs no cJSON; those belong to the
 * application layer (src/app, linked by the program and the tests only).
 *
 * Reads the libraries with nm: ATTNCAST_NM, ATTNCAST_SHARED_LIB, ATTNCAST_STATIC_LIB and
 * ATTNCAST_EXPORT_MAP are set by tests/CMakeLists.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/testutil.h"

#define OUT_MAX   (4u << 20) /* nm's output of the static library is ~100 KB */
#define NAMES_MAX 4096
#define SHOWN_MAX 20 /* offenders printed */

typedef struct {
    char *text; /* owns the names */
    const char *name[NAMES_MAX];
    int n;
} name_list;

static const char *env_or_skip(const char *key) {
    const char *v = getenv(key);
    if (!v || !v[0]) {
        print_message("%s is not set (run through ctest)\n", key);
        fail();
    }
    return v;
}

/* The defined global symbols of a library: `nm FLAGS PATH`, the last field of each
 * "address type name" line. */
static void nm_names(name_list *out, const char *flags, const char *path) {
    char *buf = malloc(OUT_MAX);
    assert_non_null(buf);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s'", env_or_skip("ATTNCAST_NM"), flags, path);
    int rc = tu_run(cmd, buf, OUT_MAX);
    if (rc != 0) print_message("%s: exit %d\n%s\n", cmd, rc, buf);
    assert_int_equal(rc, 0);
    out->text = buf;
    out->n = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        /* "0000000000001234 T ac_add"; an archive's "file.o:" headers and nm's own messages
         * have another shape */
        char *type = strchr(line, ' ');
        if (!type || type[1] == '\0' || type[2] != ' ') continue;
        char *name = type + 3;
        if (!name[0] || strchr(name, ' ')) continue;
        assert_true(out->n < NAMES_MAX);
        out->name[out->n++] = name;
    }
}

/* The global names of the version script: the lines "    name;" before "local:". */
static void map_names(name_list *out) {
    out->text = tu_read_file(env_or_skip("ATTNCAST_EXPORT_MAP"), NULL);
    assert_non_null(out->text);
    out->n = 0;
    char *local = strstr(out->text, "local:");
    assert_non_null(local);
    *local = '\0';
    for (char *line = strtok(out->text, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ') line++;
        size_t len = strlen(line);
        if (strncmp(line, "ac_", 3) != 0 || len < 2 || line[len - 1] != ';') continue;
        line[len - 1] = '\0';
        assert_true(out->n < NAMES_MAX);
        out->name[out->n++] = line;
    }
}

static int contains(const name_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], name)) return 1;
    return 0;
}

/* Counts (and prints the first few of) the names of a that are not in b. */
static int missing_from(const name_list *a, const name_list *b, const char *what) {
    int bad = 0;
    for (int i = 0; i < a->n; i++) {
        if (contains(b, a->name[i])) continue;
        if (bad++ < SHOWN_MAX) print_message("%s: %s\n", what, a->name[i]);
    }
    return bad;
}

/* Counts (and prints the first few of) the names without the ac_ prefix. With allow_reserved,
 * names starting with "__" pass: they are the implementation's (AddressSanitizer's
 * __odr_asan.ac_x beside each global ac_x), which no program may use. */
static int without_prefix(const name_list *l, int allow_reserved, const char *what) {
    int bad = 0;
    for (int i = 0; i < l->n; i++) {
        if (!strncmp(l->name[i], "ac_", 3)) continue;
        if (allow_reserved && !strncmp(l->name[i], "__", 2)) continue;
        if (bad++ < SHOWN_MAX) print_message("%s: %s\n", what, l->name[i]);
    }
    return bad;
}

static void test_shared_library_exports_only_ac_names(void **state) {
    (void)state;
    name_list exported;
    nm_names(&exported, "-D --defined-only", env_or_skip("ATTNCAST_SHARED_LIB"));
    assert_true(exported.n > 100);
    assert_int_equal(without_prefix(&exported, 0, "exported without the ac_ prefix"), 0);
    free(exported.text);
}

static void test_shared_library_exports_exactly_the_public_functions(void **state) {
    (void)state;
    name_list exported, public_api;
    nm_names(&exported, "-D --defined-only", env_or_skip("ATTNCAST_SHARED_LIB"));
    map_names(&public_api);
    assert_true(public_api.n > 100);
    int extra = missing_from(&exported, &public_api,
                             "exported but not declared in include/attncast (make it static or "
                             "declare it in an internal header under src/)");
    int absent = missing_from(&public_api, &exported,
                              "declared in include/attncast but not defined in the library");
    assert_int_equal(extra, 0);
    assert_int_equal(absent, 0);
    free(exported.text);
    free(public_api.text);
}

static void test_static_library_defines_no_global_without_ac_prefix(void **state) {
    (void)state;
    name_list defined;
    nm_names(&defined, "-g --defined-only", env_or_skip("ATTNCAST_STATIC_LIB"));
    assert_true(defined.n > 100);
    assert_int_equal(without_prefix(&defined, 1,
                                    "a global of libattncast.a without the ac_ prefix "
                                    "(make it static or name it ac_...)"),
                     0);
    free(defined.text);
}

/* The undefined symbols of a library: `nm -u PATH`, lines "    U name" (and "name:" headers). */
static void nm_undefined(name_list *out, const char *path) {
    char *buf = malloc(OUT_MAX);
    assert_non_null(buf);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -u '%s'", env_or_skip("ATTNCAST_NM"), path);
    int rc = tu_run(cmd, buf, OUT_MAX);
    if (rc != 0) print_message("%s: exit %d\n%s\n", cmd, rc, buf);
    assert_int_equal(rc, 0);
    out->text = buf;
    out->n = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ') line++;
        if ((line[0] != 'U' && line[0] != 'w') || line[1] != ' ') continue;
        assert_true(out->n < NAMES_MAX);
        out->name[out->n++] = line + 2;
    }
}

/* Calls the core must not make: they spawn processes, take over signals or need cJSON. */
static int app_only(const char *name) {
    static const char *const calls[] = {"fork",         "vfork",   "execv",     "execve",
                                        "execvp",       "execvpe", "execl",     "execlp",
                                        "popen",        "pclose",  "system",    "posix_spawn",
                                        "posix_spawnp", "signal",  "sigaction", "raise"};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (!strcmp(name, calls[i])) return 1;
    return !strncmp(name, "cJSON_", 6);
}

static void test_static_library_spawns_nothing_and_needs_no_cjson(void **state) {
    (void)state;
    name_list undefined;
    nm_undefined(&undefined, env_or_skip("ATTNCAST_STATIC_LIB"));
    assert_true(undefined.n > 20); /* malloc, fopen, H5..., cblas_... */
    assert_true(contains(&undefined, "malloc"));
    int bad = 0;
    for (int i = 0; i < undefined.n; i++) {
        if (!app_only(undefined.name[i])) continue;
        if (bad++ < SHOWN_MAX)
            print_message("libattncast.a calls %s: that belongs to src/app\n", undefined.name[i]);
    }
    assert_int_equal(bad, 0);
    free(undefined.text);
}

static void test_application_layer_is_not_in_the_library(void **state) {
    (void)state;
    name_list defined;
    nm_names(&defined, "-g --defined-only", env_or_skip("ATTNCAST_STATIC_LIB"));
    static const char *const app[] = {"ac_run_report_md",    "ac_metrics_json",
                                      "ac_plot_run",         "ac_dataset_fetch",
                                      "ac_data_source_open", "ac_interrupt_catch"};
    assert_true(contains(&defined, "ac_trainer_new")); /* the check can fail */
    for (size_t i = 0; i < sizeof app / sizeof app[0]; i++) {
        if (contains(&defined, app[i])) print_message("%s is in libattncast.a\n", app[i]);
        assert_false(contains(&defined, app[i]));
    }
    free(defined.text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_library_exports_only_ac_names),
        cmocka_unit_test(test_shared_library_exports_exactly_the_public_functions),
        cmocka_unit_test(test_static_library_defines_no_global_without_ac_prefix),
        cmocka_unit_test(test_static_library_spawns_nothing_and_needs_no_cjson),
        cmocka_unit_test(test_application_layer_is_not_in_the_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
