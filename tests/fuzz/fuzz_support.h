/* fuzz_support.h - what the libFuzzer targets of tests/fuzz share: a scratch file per process
 * that each input is written to (the readers under test take paths, as the CLI does), and the
 * checks every rejected input must pass (an error code and one printable line that begins where
 * the input came from). A broken invariant prints why and aborts, which libFuzzer records as a
 * crash with the input that caused it. */
#ifndef ATTNCAST_FUZZ_SUPPORT_H
#define ATTNCAST_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "attncast/error.h"

/* Writes data to this process's scratch file named `name` (created under $TMPDIR or /tmp on
 * first use, removed at exit) and returns its path. */
const char *fz_write_input(const char *name, const uint8_t *data, size_t size);

/* Prints "fuzz invariant broken: <why>" and aborts. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A rejected input: status is an error, err holds the same code and one non-empty line of
 * printable text that begins with one of the given prefixes (NULL-terminated list). */
void fz_check_rejection(ac_status status, const ac_error *err, const char *const *prefixes);

#endif
