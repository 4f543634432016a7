/* thread_tuner.c - the configured thread count or one thread, whichever trains faster now (see
 * src/core/thread_tuner.h). */
#include "core/thread_tuner.h"

#include <stdlib.h>
#include <string.h>

#include "attncast/threads.h"

#define PROBE_STEPS 6    /* steps timed per count in a probe, after one uncounted step */
#define EARLY_STEPS 2    /* one-thread steps that may end a probe early ... */
#define EARLY_RATIO 1.3  /* ... when they are this much slower than the configured count's */
#define HOLD_STEPS  200  /* steps run with the chosen count before the next probe */
#define HOLD_MAX    1600 /* the hold doubles up to this while probes keep the same choice */

static void use(ac_thread_tuner *t, int n) {
    if (ac_threads_get() == n) return;
    ac_threads_init(n, NULL); /* n > 0: cannot fail */
    t->switches++;
}

void ac_thread_tuner_init(ac_thread_tuner *t) {
    memset(t, 0, sizeof *t);
    t->configured = ac_threads_get();
    t->hold = HOLD_STEPS;
    const char *env = getenv("ATTNCAST_ADAPT_THREADS");
    t->enabled = t->configured > 1 && !(env && strcmp(env, "0") == 0);
}

/* Both counts measured (or one thread clearly slower): hold the faster, longer each time a
 * probe keeps the choice of the one before. */
static void hold(ac_thread_tuner *t, int choice) {
    if (t->chosen == choice)
        t->hold = t->hold * 2 < HOLD_MAX ? t->hold * 2 : HOLD_MAX;
    else
        t->hold = HOLD_STEPS;
    t->chosen = choice;
    t->phase = 2;
    t->phase_steps = 0;
    use(t, choice);
}

void ac_thread_tuner_step(ac_thread_tuner *t, double seconds) {
    if (!t->enabled) return;
    t->phase_steps++;
    if (t->phase < 2) {
        if (t->phase_steps > 1) t->probe[t->phase] += seconds; /* the first step warms up */
        if (t->phase == 1 && t->phase_steps == EARLY_STEPS + 1 &&
            t->probe[1] / EARLY_STEPS > EARLY_RATIO * t->probe[0] / PROBE_STEPS) {
            hold(t, t->configured); /* one thread is clearly slower: no need to time it more */
            return;
        }
        if (t->phase_steps < PROBE_STEPS + 1) return;
        if (t->phase == 0) { /* configured count measured: now one thread */
            t->phase = 1;
            t->phase_steps = 0;
            use(t, 1);
            return;
        }
        hold(t, t->probe[1] < t->probe[0] ? 1 : t->configured);
        return;
    }
    if (t->phase_steps >= t->hold) { /* probe again, from the configured count */
        t->phase = 0;
        t->phase_steps = 0;
        t->probe[0] = t->probe[1] = 0.0;
        use(t, t->configured);
    }
}

void ac_thread_tuner_finish(ac_thread_tuner *t) {
    if (!t->enabled) return;
    t->phase = 0;
    t->phase_steps = 0;
    t->probe[0] = t->probe[1] = 0.0;
    use(t, t->configured);
}

int ac_thread_tuner_current(const ac_thread_tuner *t) {
    return t->enabled ? ac_threads_get() : t->configured;
}
