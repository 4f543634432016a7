/* data_parallel.c - splitting a global batch over the ranks and combining their gradients (see
 * data_parallel.h). Every rank computes the gradients of its slice as the whole batch would on
 * those windows (ac_ctx_set_batch_slice: the loss divides by the whole batch's count, dropout
 * draws the whole batch's masks), so the sum over ranks is the single-process gradient up to the
 * order of float additions over windows. */
#include "data_parallel.h"

#include <string.h>

ac_dp_slice ac_dp_slice_of(int rank, int size, int n) {
    int base = n / size, extra = n % size;
    return (ac_dp_slice){.first = rank * base + (rank < extra ? rank : extra),
                         .count = base + (rank < extra ? 1 : 0)};
}

/* Copies every parameter's gradient (gradients) or values into buffer, or back. */
static size_t pack(ac_tensor *const *params, int n_params, float *buffer, bool gradients,
                   bool into_buffer) {
    size_t at = 0;
    for (int i = 0; i < n_params; i++) {
        float *p = gradients ? params[i]->grad : params[i]->data;
        size_t bytes = (size_t)params[i]->size * sizeof(float);
        if (into_buffer)
            memcpy(buffer + at, p, bytes);
        else
            memcpy(p, buffer + at, bytes);
        at += (size_t)params[i]->size;
    }
    return at;
}

float ac_dp_sum_step(ac_parallel *group, ac_tensor *const *params, int n_params, float *buffer,
                     float loss) {
    if (ac_parallel_size(group) == 1) return loss;
    size_t n = pack(params, n_params, buffer, true, true);
    buffer[n] = loss;
    ac_parallel_sum_floats(group, buffer, n + 1);
    pack(params, n_params, buffer, true, false);
    return buffer[n];
}

void ac_dp_broadcast_params(ac_parallel *group, ac_tensor *const *params, int n_params,
                            float *buffer) {
    if (ac_parallel_size(group) == 1) return;
    size_t n = pack(params, n_params, buffer, false, true);
    ac_parallel_broadcast(group, buffer, n * sizeof(float));
    pack(params, n_params, buffer, false, false);
}

bool ac_dp_params_agree(ac_parallel *group, ac_tensor *const *params, int n_params) {
    if (ac_parallel_size(group) == 1) return true;
    uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a over the bytes of every parameter */
    for (int i = 0; i < n_params; i++) {
        const unsigned char *b = (const unsigned char *)params[i]->data;
        for (size_t k = 0; k < (size_t)params[i]->size * sizeof(float); k++)
            hash = (hash ^ b[k]) * 0x100000001b3ULL;
    }
    return ac_parallel_all_equal(group, hash);
}
