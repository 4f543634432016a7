/* error.c - filling ac_error records (see include/attncast/error.h). */
#include "attncast/error.h"

#include <stdio.h>
#include <string.h>

ac_status ac_error_setv(ac_error *err, ac_status code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

ac_status ac_error_set(ac_error *err, ac_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ac_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void ac_error_clear(ac_error *err) {
    if (err) {
        err->code = AC_OK;
        err->msg[0] = '\0';
    }
}

const char *ac_status_name(ac_status code) {
    switch (code) {
    case AC_OK:
        return "ok";
    case AC_ERR_INVALID:
        return "invalid value";
    case AC_ERR_SHAPE:
        return "shape mismatch";
    case AC_ERR_NOMEM:
        return "out of memory";
    case AC_ERR_IO:
        return "i/o error";
    case AC_ERR_FORMAT:
        return "bad format";
    case AC_ERR_STATE:
        return "wrong state";
    case AC_ERR_INTERRUPTED:
        return "interrupted";
    }
    return "unknown error";
}
