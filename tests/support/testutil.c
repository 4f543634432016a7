/* testutil.c - helpers shared by the test programs (see testutil.h). */
#include "support/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

const char *tu_bin(void) {
    const char *b = getenv("ATTNCAST_BIN");
    return b && *b ? b : "attncast";
}

int tu_run(const char *command, char *out, size_t n) {
    char *full = malloc(strlen(command) + 16);
    if (!full) return -1;
    sprintf(full, "%s 2>&1", command);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) return -1;
    size_t used = 0;
    if (n) out[0] = '\0';
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        size_t room = n > used + 1 ? n - used - 1 : 0;
        size_t take = got < room ? got : room;
        memcpy(out + used, buf, take);
        used += take;
        out[used] = '\0';
    }
    int status = pclose(p);
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static int run_in(const char *dir, char *out, size_t n, const char *fmt, va_list ap) {
    char body[8192], cmd[8192 + 512];
    int len = vsnprintf(body, sizeof body, fmt, ap);
    if (len < 0 || (size_t)len >= sizeof body ||
        snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, body) >= (int)sizeof cmd)
        return -1;
    return tu_run(cmd, out, n);
}

int tu_run_in(const char *dir, char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = run_in(dir, out, n, fmt, ap);
    va_end(ap);
    return rc;
}

int tu_setup_run_in(const char *what, const char *dir, char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = run_in(dir, out, n, fmt, ap);
    va_end(ap);
    if (rc == 0) return 0;
    fprintf(stderr, "%s failed (%d): %s\n", what, rc, out);
    return -1;
}

int tu_make_temp_dir(char *buf, size_t n, const char *tag) {
    if (snprintf(buf, n, "/tmp/attncast-%s-XXXXXX", tag) >= (int)n) return -1;
    return mkdtemp(buf) ? 0 : -1;
}

int tu_remove_dir(const char *dir) {
    char cmd[1024];
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= (int)sizeof cmd) return -1;
    return system(cmd) == 0 ? 0 : -1;
}

int tu_write_file(const char *dir, const char *name, const char *text) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return -1;
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int tu_write_csv(const char *dir, const char *name, const char *header, int rows, unsigned seed,
                 tu_csv_row_fn row, void *user) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return -1;
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "%s\n", header);
    for (int t = 0; t < rows; t++) {
        seed = seed * 1664525u + 1013904223u;
        row(f, t, (double)(seed >> 8) / (double)(1u << 24) - 0.5, user);
    }
    int ok = !ferror(f);
    return fclose(f) == 0 && ok ? 0 : -1;
}

int tu_count_lines(const char *text) {
    int n = 0;
    for (const char *c = text; *c; c++)
        if (*c == '\n') n++;
    if (*text && text[strlen(text) - 1] != '\n') n++;
    return n;
}

double tu_time_scale(void) {
    const char *s = getenv("ATTNCAST_TEST_TIME_SCALE");
    double v = s ? atof(s) : 1.0;
    return v > 1.0 ? v : 1.0;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 12, used = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + used, 1, cap - used - 1, f)) > 0) {
        used += got;
        if (used + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf) buf[used] = '\0';
    if (len) *len = used;
    return buf;
}

char *tu_read_text(const char *dir, const char *name) {
    static char text[1 << 17];
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    if (n == sizeof text) fail_msg("%s: longer than %zu bytes", path, sizeof text - 1);
    text[n] = '\0';
    return text;
}

int tu_count_of(const char *text, const char *piece) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, piece)) != NULL; p += strlen(piece)) n++;
    return n;
}

int tu_spawn(const char *dir, const char *log, const char *const *argv) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid < 0 ? -1 : (int)pid;
    if (chdir(dir) != 0 || !freopen(log, "w", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
        _exit(126);
    char *copy[64] = {0}; /* execv's argv is not const */
    for (int i = 0; argv[i] && i < 63; i++) copy[i] = strdup(argv[i]);
    execv(copy[0], copy);
    _exit(127);
}
