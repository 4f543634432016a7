/* data_parallel.h - the trainer's side of data-parallel training (src/train only): which windows
 * of a global batch this rank trains on, and the per-step and per-epoch exchanges between the
 * ranks. With a group of one, every function here is a no-op or the identity. */
#ifndef ATTNCAST_TRAIN_DATA_PARALLEL_H
#define ATTNCAST_TRAIN_DATA_PARALLEL_H

#include <stdbool.h>

#include "attncast/parallel.h"
#include "attncast/tensor.h"

/* Rank `rank` of `size`'s contiguous part [first, first + count) of a batch of n windows: the
 * windows are shared out as evenly as they go, the lower ranks taking one more when n does not
 * divide. A rank may get none when n is smaller than the group (a short last batch); rank 0 gets
 * one whenever n > 0. */
typedef struct ac_dp_slice {
    int first, count;
} ac_dp_slice;
ac_dp_slice ac_dp_slice_of(int rank, int size, int n);

/* Sums the parameters' gradients and the step's loss over the ranks in one fused allreduce:
 * packed into buffer (weights + 1 floats), summed, unpacked. Returns the summed loss. */
float ac_dp_sum_step(ac_parallel *group, ac_tensor *const *params, int n_params, float *buffer,
                     float loss);

/* Copies rank 0's parameters to every rank (after initialisation or resume); buffer as above. */
void ac_dp_broadcast_params(ac_parallel *group, ac_tensor *const *params, int n_params,
                            float *buffer);

/* Whether every rank holds bit for bit the same parameters (a hash compared across ranks). */
bool ac_dp_params_agree(ac_parallel *group, ac_tensor *const *params, int n_params);

#endif
