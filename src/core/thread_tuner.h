/* thread_tuner.h - picks, while training runs, whether the configured thread count or one
 * thread is faster right now.
 *
 * On a machine whose other cores are busy (another process holding them), every parallel loop
 * of a multi-threaded step waits for a thread the scheduler has not run yet, and a 2-thread
 * step can take longer than a 1-thread step. The tuner times training steps: a probe runs
 * PROBE_STEPS steps at the configured count and PROBE_STEPS at one thread (the first step after
 * each switch not counted; the one-thread part ends after EARLY_STEPS when those are clearly
 * slower, as on idle cores), keeps the faster for the next HOLD_STEPS steps, then probes again,
 * so it follows load that comes and goes. A probe that keeps the choice of the one before
 * doubles the hold, up to HOLD_MAX steps (a steady machine is probed less and less often). Results
 * do not depend on it: attncast's loops and OpenBLAS's products give the same bits at any thread
 * count, and the batch slices (batch_slices.h) stay one per configured thread whichever count runs
 * them (tests/train/test_trainer checks whole runs with the tuner on and off), so switching changes
 * only the speed.
 *
 * Off when the configured count is 1, or when the environment sets ATTNCAST_ADAPT_THREADS=0.
 */
#ifndef ATTNCAST_THREAD_TUNER_H
#define ATTNCAST_THREAD_TUNER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ac_thread_tuner {
    bool enabled;
    int configured;   /* the count asked for (> 1 when enabled) */
    int phase;        /* 0: probing the configured count, 1: probing one thread, 2: holding */
    int phase_steps;  /* steps taken in this phase */
    double probe[2];  /* seconds summed per probed count (the counted steps) */
    int hold;         /* steps the current choice is held before the next probe */
    int chosen;       /* the count the last probe chose (0 before the first) */
    int64_t switches; /* thread-count changes made so far */
} ac_thread_tuner;

/* Starts a tuner for the count ac_threads_get() holds now (ac_threads_init first). */
void ac_thread_tuner_init(ac_thread_tuner *tuner);

/* Reports the wall seconds of the step just taken; may change the thread count for the next. */
void ac_thread_tuner_step(ac_thread_tuner *tuner, double step_seconds);

/* Goes back to the configured count and starts the next probe from there (end of an epoch). */
void ac_thread_tuner_finish(ac_thread_tuner *tuner);

/* The thread count in use now. */
int ac_thread_tuner_current(const ac_thread_tuner *tuner);

#endif
