/* threads.c - deciding and applying the thread count (see include/attncast/threads.h). */
#include "attncast/threads.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

static int g_threads = 0; /* 0: not decided yet */

int ac_threads_available(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void apply(int n) {
    g_threads = n;
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
    omp_set_max_active_levels(1); /* loops inside ac_threads_run's threads stay on one thread */
}

void ac_threads_run(int n, void (*body)(void *arg, int i), void *arg) {
    int threads = ac_threads_get() < n ? ac_threads_get() : n;
    if (threads <= 1) {
        for (int i = 0; i < n; i++) body(arg, i);
        return;
    }
    openblas_set_num_threads(1);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int i = 0; i < n; i++) body(arg, i);
    openblas_set_num_threads(ac_threads_get());
}

ac_status ac_threads_init(int requested, ac_error *err) {
    if (requested < 0)
        return ac_error_set(err, AC_ERR_INVALID, "threads: expected a positive count, got %d",
                            requested);
    if (requested > 0) {
        apply(requested);
        return AC_OK;
    }
    const char *env = getenv("ATTNCAST_THREADS");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno != 0 || end == env || *end != '\0' || v < 1 || v > 4096)
            return ac_error_set(err, AC_ERR_INVALID,
                                "ATTNCAST_THREADS: expected a whole number from 1 to 4096, got "
                                "'%s'",
                                env);
        apply((int)v);
        return AC_OK;
    }
    apply(ac_threads_available());
    return AC_OK;
}

int ac_threads_get(void) {
    return g_threads > 0 ? g_threads : ac_threads_available();
}
