/* optim.h - optimizers, gradient clipping and learning-rate schedules.
 *
 * An optimizer updates a fixed list of parameters (borrowed; the model owns them) from their
 * gradients. State (moment buffers, step count) is owned by the optimizer and exposed so that
 * checkpoints can save and restore it exactly.
 *   adam:  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  mhat = m / (1-b1^t);  vhat = v / (1-b2^t)
 *          w -= lr * mhat / (sqrt(vhat) + eps); weight_decay > 0 adds weight_decay * w to g first
 *          (L2, as torch.optim.Adam)
 *   adamw: the same with decoupled decay: w -= lr * weight_decay * w before the Adam update
 *          (as torch.optim.AdamW)
 *   sgd:   g += weight_decay * w;  buf = momentum * buf + g (buf = g on the first step);
 *          w -= lr * buf (as torch.optim.SGD with dampening 0, nesterov off)
 * All arithmetic is float32 in a fixed order, so results repeat bit for bit.
 */
#ifndef ATTNCAST_OPTIM_H
#define ATTNCAST_OPTIM_H

#include <stdint.h>

#include "attncast/error.h"
#include "attncast/tensor.h"

typedef enum ac_optimizer_kind { AC_OPT_ADAM, AC_OPT_ADAMW, AC_OPT_SGD } ac_optimizer_kind;
typedef enum ac_schedule_kind {
    AC_SCHED_CONSTANT,
    AC_SCHED_COSINE,
    AC_SCHED_STEP
} ac_schedule_kind;

/* "adam", "adamw", "sgd"; "constant", "cosine", "step". */
const char *ac_optimizer_kind_name(ac_optimizer_kind kind);
const char *ac_schedule_kind_name(ac_schedule_kind kind);

typedef struct ac_optim_config {
    ac_optimizer_kind kind;
    float beta1, beta2, eps; /* adam / adamw: 0.9, 0.999, 1e-8 */
    float momentum;          /* sgd */
    float weight_decay;
} ac_optim_config;

/* Defaults for the kind: betas 0.9 / 0.999, eps 1e-8 (as torch), weight decay 0, and momentum
 * 0.9 for sgd (torch's SGD defaults to 0; the trainer sets both from the config). */
ac_optim_config ac_optim_config_default(ac_optimizer_kind kind);

typedef struct ac_optimizer ac_optimizer;

/* A new optimizer over n parameters (each must have a gradient buffer); zeroed state. */
ac_optimizer *ac_optimizer_new(const ac_optim_config *cfg, ac_tensor *const *params, int n,
                               ac_error *err);
void ac_optimizer_free(ac_optimizer *opt);

/* One update of every parameter with learning rate lr; increments the step count first. */
void ac_optimizer_step(ac_optimizer *opt, float lr);

int64_t ac_optimizer_step_count(const ac_optimizer *opt);
void ac_optimizer_set_step_count(ac_optimizer *opt, int64_t steps);
/* The state buffers of parameter i (same size as the parameter): slot 0 is Adam's first moment
 * or SGD's momentum buffer, slot 1 Adam's second moment; NULL where the kind has no such slot. */
float *ac_optimizer_state(ac_optimizer *opt, int i, int slot);
int ac_optimizer_state_slots(const ac_optimizer *opt); /* 2 for adam/adamw, 1 for sgd */

/* Scales every gradient so that their global L2 norm is at most max_norm (max_norm <= 0: no
 * scaling). Returns the norm before scaling (accumulated in double). */
double ac_clip_grad_norm(ac_tensor *const *params, int n, double max_norm);

/* Learning rate at a global step (0-based):
 *   warm-up (any kind): lr * (step + 1) / warmup_steps while step < warmup_steps;
 *   constant: lr;
 *   cosine: lr * 0.5 (1 + cos(pi * p)), p = (step - warmup) / (total - warmup) clamped to [0, 1];
 *   step: lr * gamma^floor(epoch / decay_every), epoch = step / steps_per_epoch. */
typedef struct ac_lr_schedule {
    ac_schedule_kind kind;
    double lr;
    int64_t warmup_steps;
    int64_t total_steps;
    int64_t steps_per_epoch;
    int decay_every; /* epochs */
    double decay_gamma;
} ac_lr_schedule;

double ac_lr_at(const ac_lr_schedule *schedule, int64_t step);

#endif
