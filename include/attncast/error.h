/* error.h - error codes and messages that travel from where input enters to the CLI.
 *
 * Library functions that can fail because of user input (a file, a config value, an
 * environment variable) return an ac_status and fill an ac_error owned by the caller with
 * one human-readable line: what was being read (file, line, column, HDF5 path), what was
 * expected and what was found. The CLI prints that line and exits non-zero. Nothing in the
 * library prints or exits on its own.
 */
#ifndef ATTNCAST_ERROR_H
#define ATTNCAST_ERROR_H

#include <stdarg.h>

typedef enum ac_status {
    AC_OK = 0,
    AC_ERR_INVALID = 1,    /* a value is malformed or out of range */
    AC_ERR_SHAPE = 2,      /* tensor shapes do not fit the operation */
    AC_ERR_NOMEM = 3,      /* an allocation or the arena limit failed */
    AC_ERR_IO = 4,         /* a file could not be read or written */
    AC_ERR_FORMAT = 5,     /* a file is not what it claims to be */
    AC_ERR_STATE = 6,      /* a call made in the wrong order or mode */
    AC_ERR_INTERRUPTED = 7 /* a stop was requested (SIGINT, SIGTERM); the state is consistent */
} ac_status;

#define AC_ERROR_MAX 512

typedef struct ac_error {
    ac_status code;
    char msg[AC_ERROR_MAX];
} ac_error;

/* Sets code and message (printf-style) and returns code, so `return ac_error_set(...)` works.
 * A NULL err is allowed and only the code is returned. */
ac_status ac_error_set(ac_error *err, ac_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ac_status ac_error_setv(ac_error *err, ac_status code, const char *fmt, va_list ap);
void ac_error_clear(ac_error *err);

/* A short English name of a status code ("invalid value", "shape mismatch", ...). */
const char *ac_status_name(ac_status code);

#endif
