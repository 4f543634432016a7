/* fuzz_config.c - libFuzzer target for the config reader (src/config/config.c, config_ini.c).
 *
 * An input is INI text, optionally followed by command-line overrides: from the first line that
 * begins with "--set ", each such line is one `--set` assignment (the rest of its line). The
 * text is written to a file and read as `attncast train FILE --set ...` reads it: ac_config_load,
 * ac_config_set for each override, then ac_config_check. Every rejection must be one line that
 * begins with the file's path or with "--set". When the text has no NUL byte, reading it from a
 * string (as a checkpoint's /config is read) must accept or reject it just like the file. An
 * accepted config must survive a round trip: its resolved INI text (ac_config_to_ini) read back
 * gives the same config, field for field, and the same text.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/config.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SET_PREFIX "--set "

/* Where the overrides start: the first line beginning with "--set ", else size. */
static size_t overrides_start(const uint8_t *data, size_t size) {
    size_t n = strlen(SET_PREFIX);
    for (size_t i = 0; i + n <= size; i++)
        if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, SET_PREFIX, n) == 0) return i;
    return size;
}

static bool same_config(const ac_config *a, const ac_config *b) {
    ac_config x = *a;
    x.data.split_set = b->data.split_set; /* the resolved text always gives the split */
    return memcmp(&x.data, &b->data, sizeof x.data) == 0 &&
           memcmp(&x.model, &b->model, sizeof x.model) == 0 &&
           memcmp(&x.train, &b->train, sizeof x.train) == 0 &&
           memcmp(&x.output, &b->output, sizeof x.output) == 0;
}

static void check_round_trip(const ac_config *cfg) {
    char *text = ac_config_to_ini(cfg);
    if (!text) fz_fail("ac_config_to_ini failed");
    ac_config back;
    ac_config_defaults(&back);
    ac_error err;
    ac_error_clear(&err);
    if (ac_config_load_string(&back, text, "resolved", &err) != AC_OK)
        fz_fail("the resolved config does not read back: %s\n%s", err.msg, text);
    char *again = ac_config_to_ini(&back);
    if (!again) fz_fail("ac_config_to_ini failed");
    if (strcmp(text, again) != 0)
        fz_fail("the resolved text changes on a round trip:\n%s\n---\n%s", text, again);
    if (!same_config(cfg, &back)) fz_fail("the resolved config reads back different:\n%s", text);
    free(again);
    free(text);
}

/* Loading the text from a string agrees with loading the file. */
static void check_string_agrees(const uint8_t *data, size_t n, const ac_config *from_file,
                                ac_status file_status) {
    if (memchr(data, '\0', n)) return;
    char *text = malloc(n + 1);
    if (!text) return;
    memcpy(text, data, n);
    text[n] = '\0';
    ac_config cfg;
    ac_config_defaults(&cfg);
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_config_load_string(&cfg, text, "string", &err);
    free(text);
    if ((st == AC_OK) != (file_status == AC_OK))
        fz_fail("the file is %s but the same text as a string is %s (%s)",
                file_status == AC_OK ? "accepted" : "rejected",
                st == AC_OK ? "accepted" : "rejected", err.msg);
    if (st == AC_OK && !same_config(from_file, &cfg))
        fz_fail("the same text reads differently from a file and from a string");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t ini_size = overrides_start(data, size);
    const char *path = fz_write_input("input.ini", data, ini_size);
    const char *const prefixes[] = {path, "--set", NULL};
    ac_config cfg;
    ac_config_defaults(&cfg);
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_config_load(&cfg, path, &err);
    check_string_agrees(data, ini_size, &cfg, st);
    if (st != AC_OK) {
        fz_check_rejection(st, &err, prefixes);
        return 0;
    }
    size_t n = strlen(SET_PREFIX);
    for (size_t at = ini_size; at < size && st == AC_OK;) {
        const uint8_t *line_end = memchr(data + at, '\n', size - at);
        size_t end = line_end ? (size_t)(line_end - data) : size;
        if (end - at >= n && memcmp(data + at, SET_PREFIX, n) == 0) {
            char *assignment = strndup((const char *)data + at + n, end - at - n);
            if (!assignment) return 0;
            ac_config before;
            memcpy(&before, &cfg, sizeof before);
            st = ac_config_set(&cfg, assignment, &err);
            free(assignment);
            if (st != AC_OK) {
                fz_check_rejection(st, &err, prefixes);
                if (memcmp(&before, &cfg, sizeof cfg) != 0)
                    fz_fail("a rejected --set changed the config");
                return 0;
            }
        }
        at = end + 1;
    }
    check_round_trip(&cfg);
    st = ac_config_check(&cfg, &err);
    if (st != AC_OK) fz_check_rejection(st, &err, prefixes);
    return 0;
}
