/* op_internal.h - what every op file shares and nothing outside src/tensor sees: the tape node,
 * output allocation, recording, gradient buffers and shape-error messages. */
#ifndef ATTNCAST_OP_INTERNAL_H
#define ATTNCAST_OP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "attncast/autograd.h"
#include "attncast/tensor.h"

typedef struct ac_node ac_node;
typedef void (*ac_backward_fn)(ac_ctx *ctx, ac_node *node);
/* Writes node->out->data again, bit for bit as the forward did, from the node's inputs and saved
 * values (the context has already given out a buffer). */
typedef void (*ac_recompute_fn)(ac_ctx *ctx, ac_node *node);

/* Bits of ac_node.unread: the values its backward never reads. */
#define AC_UNREAD_INPUT(i) (1u << (i)) /* in[i]->data, i < 7 */
#define AC_UNREAD_OUTPUT   (1u << 7)   /* out->data */
#define AC_UNREAD_ALL      0xffu

/* A node's cost class: what ac_ctx_done does with its output when a backward reads it. */
typedef enum ac_recompute_cost {
    AC_RECOMPUTE_DEAR = 0, /* (the default) kept until its last read: a matmul's, a residual's */
    AC_RECOMPUTE_CHEAP,    /* given up at once and recomputed in backward (needs recompute):
                            * layer norm, elementwise and broadcasting functions, attention's O */
} ac_recompute_cost;

/* One recorded op: what produced `out` from `in`, and how to send out->grad back. */
struct ac_node {
    const char *op;
    ac_backward_fn backward;
    ac_tensor *out;
    ac_tensor **in; /* n_in pointers, in the arena */
    int n_in;
    int iarg[8];               /* small op arguments (axes, flags, sizes) */
    float farg[4];             /* scalar op arguments (scale, eps, delta, rate) */
    float *saved;              /* op-specific values kept for backward, in the arena */
    ac_recompute_fn recompute; /* NULL: out cannot be recomputed (see ac_ctx_done) */
    ac_recompute_cost cost;    /* whether ac_ctx_done recomputes out or keeps it */
    unsigned unread;           /* AC_UNREAD_* bits; 0 (the default): backward may read anything */
    ac_node *prev;             /* the node recorded before this one */
};

/* Elements of a parallel loop below which OpenMP is not worth starting. */
#define AC_PARALLEL_MIN 32768

/* An arena tensor of the given shape for an op's result (data uninitialised); NULL and a context
 * error if the shape is bad or the arena is full. */
ac_tensor *ac_op_output(ac_ctx *ctx, const char *op, int ndim, const int *shape);

/* A tensor header in the arena that shares `data` (a view); NULL and a context error if the shape
 * is bad or the arena is full. */
ac_tensor *ac_op_view(ac_ctx *ctx, const char *op, int ndim, const int *shape, float *data);

/* Records a node if grad mode is on and any input requires grad; marks out->requires_grad.
 * Returns the node, or NULL when nothing was recorded (check ac_ctx_failed for arena errors). */
ac_node *ac_op_record(ac_ctx *ctx, const char *op, ac_backward_fn fn, ac_tensor *out, int n_in,
                      ac_tensor *const *in);

/* As ac_grad_buffer, but a buffer made by this call is left uninitialised and *fresh is set:
 * the caller must then write every element (not add), which saves zeroing it first. */
float *ac_grad_buffer_fresh(ac_ctx *ctx, ac_tensor *t, bool *fresh);

/* In node n's backward, for an elementwise op: if x has no gradient yet, n's output gradient
 * becomes x's (the caller overwrites it in place) and is returned; NULL if it cannot be (x has
 * one already, or needs none, or the output gradient is the caller's seed). */
float *ac_grad_adopt(ac_ctx *ctx, const ac_node *n, ac_tensor *x);

/* In node n's backward: n is done reading t's values. If the caller was done with t
 * (ac_ctx_done) and n is the last node that reads it, its buffer goes back to the pool now, so
 * that the gradients n has still to make can take it (pool.c). */
void ac_op_values_read(ac_ctx *ctx, const ac_node *n, ac_tensor *t);

/* Arena floats for values saved for backward; NULL and a context error when full. */
float *ac_op_scratch(ac_ctx *ctx, const char *op, int64_t count);

/* Sets "op: what a [..] vs b [..]" (b may be NULL) as the context error; returns NULL. */
void *ac_op_shape_error(ac_ctx *ctx, const char *op, const char *what, const ac_tensor *a,
                        const ac_tensor *b);

/* The batch slice set by ac_ctx_set_batch_slice. Returns false for a whole batch; otherwise the
 * slice's first window, window count and the global batch's window count. */
bool ac_op_batch_slice(const ac_ctx *ctx, int *first, int *count, int *total);

/* Normalises a possibly negative axis against ndim; -1 if out of range. */
int ac_op_axis(int axis, int ndim);

/* Leading dims [0, ndim - k) multiplied together. */
int64_t ac_op_outer(const ac_tensor *t, int k);

#endif
