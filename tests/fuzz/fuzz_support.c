/* fuzz_support.c - scratch files and the rejection check shared by the fuzz targets (see
 * fuzz_support.h). */
#include "fuzz_support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SCRATCH 4

static char scratch_dir[256];
static char scratch_paths[MAX_SCRATCH][512];
static int scratch_count;

static void remove_scratch(void) {
    for (int i = 0; i < scratch_count; i++) unlink(scratch_paths[i]);
    if (scratch_dir[0]) rmdir(scratch_dir);
}

static const char *scratch_path(const char *name) {
    for (int i = 0; i < scratch_count; i++) {
        const char *base = strrchr(scratch_paths[i], '/') + 1;
        if (strcmp(base, name) == 0) return scratch_paths[i];
    }
    if (!scratch_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch_dir, sizeof scratch_dir, "%s/attncast-fuzz-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(scratch_dir)) fz_fail("cannot make a scratch folder %s", scratch_dir);
        atexit(remove_scratch);
    }
    if (scratch_count == MAX_SCRATCH) fz_fail("more than %d scratch files", MAX_SCRATCH);
    char *path = scratch_paths[scratch_count++];
    snprintf(path, sizeof scratch_paths[0], "%s/%s", scratch_dir, name);
    return path;
}

const char *fz_write_input(const char *name, const uint8_t *data, size_t size) {
    const char *path = scratch_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fz_fail("cannot write the scratch file %s", path);
    return path;
}

void fz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

void fz_check_rejection(ac_status status, const ac_error *err, const char *const *prefixes) {
    if (status == AC_OK) fz_fail("rejection check on an accepted input");
    if (err->code != status)
        fz_fail("status %d but err.code %d (%s)", (int)status, (int)err->code, err->msg);
    if (!err->msg[0]) fz_fail("a rejected input without a message (status %d)", (int)status);
    for (const char *c = err->msg; *c; c++)
        if ((unsigned char)*c < 0x20)
            fz_fail("the message is not one printable line: byte 0x%02x in \"%s\"",
                    (unsigned char)*c, err->msg);
    for (const char *const *p = prefixes; *p; p++)
        if (strncmp(err->msg, *p, strlen(*p)) == 0) return;
    fz_fail("the message does not say where the input came from (expected it to begin with "
            "\"%s\"): \"%s\"",
            prefixes[0], err->msg);
}
