/* schedule.c - the learning rate at a global step (see ac_lr_at in include/attncast/optim.h).
 *
 * A pure function of the schedule and the step, so a resumed run picks up the exact rate it
 * would have had. Warm-up comes first for every kind; then constant, cosine annealing to zero
 * over the remaining steps, or step decay by whole epochs. Divisors that a caller leaves at
 * zero are treated as one (step decay) or as "already finished" (cosine), never as a crash.
 */
#include "attncast/optim.h"

#include <math.h>

static const double PI = 3.14159265358979323846;

double ac_lr_at(const ac_lr_schedule *schedule, int64_t step) {
    const ac_lr_schedule *s = schedule;
    if (step < 0) step = 0;
    if (step < s->warmup_steps) return s->lr * (double)(step + 1) / (double)s->warmup_steps;
    switch (s->kind) {
    case AC_SCHED_CONSTANT:
        return s->lr;
    case AC_SCHED_COSINE: {
        int64_t warmup = s->warmup_steps > 0 ? s->warmup_steps : 0;
        int64_t span = s->total_steps - warmup;
        double p = span > 0 ? (double)(step - warmup) / (double)span : 1.0;
        if (p > 1.0) p = 1.0;
        if (p < 0.0) p = 0.0;
        return s->lr * 0.5 * (1.0 + cos(PI * p));
    }
    case AC_SCHED_STEP: {
        int64_t per_epoch = s->steps_per_epoch > 0 ? s->steps_per_epoch : 1;
        int64_t every = s->decay_every > 0 ? s->decay_every : 1;
        int64_t decays = step / per_epoch / every;
        return s->lr * pow(s->decay_gamma, (double)decays);
    }
    }
    return s->lr;
}
