/* gradcheck.h - checking an op's analytic gradient against central finite differences.
 *
 * The op under test is wrapped in a build function that maps input tensors to one output. The
 * harness fills the inputs with seeded random values, forms the scalar f = sum_k r_k out_k with
 * a random projection r, backpropagates r, and compares every input gradient with
 * (f(x + eps) - f(x - eps)) / (2 eps), f summed in double. It fails the cmocka test if the
 * relative error ||analytic - numeric|| / max(||analytic||, ||numeric||) exceeds 1e-2, or if any
 * single component is off by more than 2e-2 of the largest component.
 */
#ifndef ATTNCAST_TEST_GRADCHECK_H
#define ATTNCAST_TEST_GRADCHECK_H

#include <stdbool.h>

#include "attncast/attncast.h"

typedef ac_tensor *(*gc_build_fn)(ac_ctx *ctx, ac_tensor **in, const void *arg);
typedef void (*gc_prepare_fn)(ac_tensor **in, int n, ac_rng *rng);

typedef struct gc_input {
    int ndim;
    int shape[AC_MAX_DIMS];
    float lo, hi;  /* uniform range of the values (default [-1, 1] when both 0) */
    float min_abs; /* values closer to 0 than this are redrawn (kinks, poles) */
    bool no_grad;  /* a constant input (masks, targets) */
} gc_input;

typedef struct gc_report {
    double rel_error;     /* norm-relative error over all inputs */
    double max_component; /* the worst single component, relative to the largest */
} gc_report;

/* Runs the check; label names the case in failure messages. prepare may adjust the values
 * after the random fill (NULL for none). eps 0 means 5e-3. */
gc_report gc_check(const char *label, gc_build_fn build, const void *arg, int n_inputs,
                   const gc_input *inputs, gc_prepare_fn prepare, float eps, uint64_t seed);

/* The same check for a model: loss(ctx, arg) builds a one-element loss from parameters the
 * caller owns; every element of every parameter is perturbed. Parameter gradients are zeroed
 * first and left holding the analytic gradient. */
typedef ac_tensor *(*gc_loss_fn)(ac_ctx *ctx, void *arg);
gc_report gc_check_params(const char *label, ac_tensor *const *params, int n_params,
                          gc_loss_fn loss, void *arg, float eps);

#endif
