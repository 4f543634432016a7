/* threads.h - the one place where attncast's thread count is decided and applied.
 *
 * The count comes from, in order: an explicit setting (the config key `threads`, a CLI
 * flag), the environment variable ATTNCAST_THREADS, or all online cores. It is applied both
 * to OpenBLAS (openblas_set_num_threads) and to attncast's own OpenMP loops. This is the only
 * process-wide mutable state in the library. An op's result does not depend on the count:
 * attncast's loops split work by rows and sum across rows in a fixed order, and OpenBLAS splits
 * a product by blocks of its output. Training cuts each batch into one slice per configured
 * thread (batch_slices.h), so a training run depends on the configured count (to float
 * round-off), but not on how many threads actually run: thread_tuner.h relies on that.
 */
#ifndef ATTNCAST_THREADS_H
#define ATTNCAST_THREADS_H

#include "attncast/error.h"

/* Decides and applies the thread count. requested > 0 wins; requested == 0 means "use
 * ATTNCAST_THREADS if set, else all cores". A malformed or non-positive ATTNCAST_THREADS is
 * an AC_ERR_INVALID naming the variable and the value. */
ac_status ac_threads_init(int requested, ac_error *err);

/* The count last applied (all cores before ac_threads_init is called). */
int ac_threads_get(void);

/* Runs body(arg, i) for i in [0, n) on up to ac_threads_get() threads, each call on one thread
 * (attncast's loops inside it and OpenBLAS then run single-threaded): coarse parallelism, such
 * as one slice of a batch per thread. */
void ac_threads_run(int n, void (*body)(void *arg, int i), void *arg);

/* Number of online cores of this machine. */
int ac_threads_available(void);

#endif
