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

/* Counts the lines of a string. */
int tu_count_lines(const char *text);

#endif
