/* batch_slices.h - a training step's batch cut into a fixed number of slices, one per thread.
 *
 * Splitting every op of a small model across threads gains little (each op is too small and
 * every one ends in a barrier). Instead, each slice of the batch runs its whole forward and
 * backward on one thread, with its own context and its own copy of the model, and the slices'
 * gradients are summed into the model's in slice order. Dropout and the loss act as on the
 * whole batch (ac_ctx_set_batch_slice), so a slice's gradient is exactly its share.
 *
 * Results depend on the number of slices (the sum's grouping), not on how many threads run
 * them: the trainer makes one slice per configured thread, and the thread tuner may then run
 * them on one thread or all without changing a bit. Same config, seed and thread count: the
 * same numbers, as with MPI ranks.
 */
#ifndef ATTNCAST_BATCH_SLICES_H
#define ATTNCAST_BATCH_SLICES_H

#include "attncast/error.h"
#include "attncast/forecaster.h"
#include "attncast/rng.h"

typedef struct ac_batch_slices ac_batch_slices;

/* Writes windows [first, first + count) of the batch: x [count, L, C + Kp + Kf], y [count, H, C]
 * and, for a model with future covariates, future [count, H, Kf] (else future is NULL). Called
 * from several threads at once. */
typedef void (*ac_batch_fill_fn)(void *user, int first, int count, float *x, float *y,
                                 float *future);

/* Slices for training `model` (borrowed; its spec fixes the shapes); slices >= 1. */
ac_batch_slices *ac_batch_slices_new(const ac_forecaster *model, int slices, ac_error *err);
void ac_batch_slices_free(ac_batch_slices *b);
int ac_batch_slices_count(const ac_batch_slices *b);

/* Forward and backward of a batch of `count` windows, which are windows [first, first + count)
 * of a global batch of `total` (first 0 and total == count when the batch is whole): adds the
 * gradients to the model's parameters, advances *dropout past the whole global batch's draws
 * and writes the batch's share of the global mean loss to *loss. Fails only on engine errors
 * (arena, shapes), naming them. */
ac_status ac_batch_slices_step(ac_batch_slices *b, ac_forecaster *model, ac_loss_kind loss_kind,
                               int first, int count, int total, ac_batch_fill_fn fill, void *user,
                               ac_rng *dropout, float *loss, ac_error *err);

#endif
