/* testutil.h - small helpers shared by the test programs: running the real attncast binary,
 * temporary folders and files. */
#ifndef ATTNCAST_TEST_TESTUTIL_H
#define ATTNCAST_TEST_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>

/* The settings (--set) of a tiny model that trains in a second on a few hundred rows: lookback
 * 24, horizon 6, d_model 8, 2 heads, 1 layer, d_ff 16, patches of 6 every 3, 2 epochs on 1
 * thread. */
#define TU_TINY_MODEL_ARGS                                                                         \
    "--set data.lookback=24 --set data.horizon=6 --set model.d_model=8 --set model.heads=2 "       \
    "--set model.layers=1 --set model.d_ff=16 --set model.patch_len=6 --set model.patch_stride=3 " \
    "--set train.epochs=2 --set train.threads=1"

/* Path of the attncast binary under test (env ATTNCAST_BIN, set by ctest). */
const char *tu_bin(void);

/* Runs a shell command, capturing stdout and stderr together into out (NUL-terminated, cut at
 * n - 1 bytes). Returns the exit status, or -1 if it could not be run or was killed. */
int tu_run(const char *command, char *out, size_t n);

/* tu_run of a printf-formatted command run in folder dir (cd 'dir' && command). */
int tu_run_in(const char *dir, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* tu_run_in for a setup function, which cannot fail a test: on a non-zero exit it prints
 * "<what> failed (<exit>): <output>" on stderr. 0 if the command exited 0, else -1. */
int tu_setup_run_in(const char *what, const char *dir, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Makes a fresh folder /tmp/attncast-<tag>-XXXXXX, its path in buf (n >= 64). 0 or -1. */
int tu_make_temp_dir(char *buf, size_t n, const char *tag);

/* Removes a folder and everything in it. 0 or -1. */
int tu_remove_dir(const char *dir);

/* Writes text to dir/name, replacing the file. 0 or -1. */
int tu_write_file(const char *dir, const char *name, const char *text);

/* Writes one row of a generated CSV (its line, newline included) to f; noise is uniform in
 * [-0.5, 0.5), the next draw of a portable LCG. */
typedef void (*tu_csv_row_fn)(FILE *f, int t, double noise, void *user);

/* Writes dir/name, replacing the file: the header line, then row(f, t, noise, user) for t = 0 ..
 * rows - 1, the noise drawn from an LCG seeded with seed. 0 or -1. */
int tu_write_csv(const char *dir, const char *name, const char *header, int rows, unsigned seed,
                 tu_csv_row_fn row, void *user);

/* Counts the lines of a string. */
int tu_count_lines(const char *text);

/* The whole file at path, NUL-terminated and malloc'd (its length in *len if not NULL); NULL if
 * it cannot be read. */
char *tu_read_file(const char *path, size_t *len);

/* dir/name's text in a static buffer of 128 KiB that the next call overwrites; fails the cmocka
 * test when the file cannot be read or does not fit. */
char *tu_read_text(const char *dir, const char *name);

/* How many times piece occurs in text, without overlaps. */
int tu_count_of(const char *text, const char *piece);

/* How many times slower than a normal build the tests run: ATTNCAST_TEST_TIME_SCALE if it is
 * above 1 (tools/valgrind.sh sets 100), else 1. Timing limits are multiplied by it, and tests
 * whose work is only there to be timed (bench) do less of it when it is above 1. */
double tu_time_scale(void);

/* Starts argv[0] with argv (NULL-terminated) in folder dir, stdout and stderr both going to the
 * file log (a path relative to dir); returns its pid (wait for it with waitpid), or -1. */
int tu_spawn(const char *dir, const char *log, const char *const *argv);

#endif
