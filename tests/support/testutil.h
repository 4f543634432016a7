/* testutil.h - small helpers shared by the test programs: running the real attncast binary,
 * temporary folders and files. */
#ifndef ATTNCAST_TEST_TESTUTIL_H
#define ATTNCAST_TEST_TESTUTIL_H

#include <stddef.h>

/* Path of the attncast binary under test (env ATTNCAST_BIN, set by ctest). */
const char *tu_bin(void);

/* Runs a shell command, capturing stdout and stderr together into out (NUL-terminated, cut at
 * n - 1 bytes). Returns the exit status, or -1 if it could not be run or was killed. */
int tu_run(const char *command, char *out, size_t n);

/* tu_run of a printf-formatted command run in folder dir (cd 'dir' && command). */
int tu_run_in(const char *dir, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Makes a fresh folder /tmp/attncast-<tag>-XXXXXX, its path in buf (n >= 64). 0 or -1. */
int tu_make_temp_dir(char *buf, size_t n, const char *tag);

/* Removes a folder and everything in it. 0 or -1. */
int tu_remove_dir(const char *dir);

/* Writes text to dir/name, replacing the file. 0 or -1. */
int tu_write_file(const char *dir, const char *name, const char *text);

/* Counts the lines of a string. */
int tu_count_lines(const char *text);

/* The whole file at path, NUL-terminated and malloc'd (its length in *len if not NULL); NULL if
 * it cannot be read. */
char *tu_read_file(const char *path, size_t *len);

/* How many times slower than a normal build the tests run: ATTNCAST_TEST_TIME_SCALE if it is
 * above 1 (tools/valgrind.sh sets 100), else 1. Timing limits are multiplied by it, and tests
 * whose work is only there to be timed (bench) do less of it when it is above 1. */
double tu_time_scale(void);

/* Starts argv[0] with argv (NULL-terminated) in folder dir, stdout and stderr both going to the
 * file log (a path relative to dir); returns its pid (wait for it with waitpid), or -1. */
int tu_spawn(const char *dir, const char *log, const char *const *argv);

#endif
