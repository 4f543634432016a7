/* autograd.h - the execution context: activation arena, tape, grad mode and error slot.
 *
 * Every op takes an ac_ctx. When grad mode is on and any input requires a gradient, the op
 * records a node on the context's tape (its backward function, inputs, output and whatever it
 * saved); ac_backward walks the tape in reverse and accumulates gradients, into parameters'
 * persistent grad buffers and into activation gradients allocated lazily from the arena. In
 * no-grad mode (inference) ops record nothing and dropout is the identity.
 *
 * Errors: an op given tensors that do not fit (shape mismatch, wrong rank) or an arena that
 * is full returns NULL and leaves a message naming the op and the shapes in the context; an op
 * given a NULL input returns NULL at once, so a whole forward pass can be written without
 * checks and tested once at the end. ac_ctx_error gives the first message.
 *
 * A training step is: forward, ac_backward, optimizer update, ac_ctx_reset. The reset drops
 * the tape and every activation. The context owns the arena; the caller owns the parameters
 * and the rng it lends to the context for dropout.
 */
#ifndef ATTNCAST_AUTOGRAD_H
#define ATTNCAST_AUTOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "attncast/arena.h"
#include "attncast/error.h"
#include "attncast/rng.h"
#include "attncast/tensor.h"

typedef struct ac_ctx ac_ctx;

/* A context whose arena starts at arena_initial_bytes (0: a small default) and may hold at most
 * arena_limit_bytes (0: no limit). NULL if memory is short. */
ac_ctx *ac_ctx_new(size_t arena_initial_bytes, size_t arena_limit_bytes);
void ac_ctx_free(ac_ctx *ctx);

/* Ends a step: forgets the tape and every activation, clears the error. */
void ac_ctx_reset(ac_ctx *ctx);

/* A point in the step: ac_ctx_rewind forgets every activation and tape node made after it, so
 * that a no-grad loop over chunks of a large batch reuses one chunk's memory. Tensors made after
 * the mark must not be used after the rewind. */
typedef struct ac_ctx_mark {
    ac_arena_mark arena;
    void *tape; /* the newest tape node then */
    size_t tape_length;
} ac_ctx_mark;

ac_ctx_mark ac_ctx_get_mark(const ac_ctx *ctx);
void ac_ctx_rewind(ac_ctx *ctx, ac_ctx_mark mark);

/* Grad mode; returns the previous mode so callers can restore it. */
bool ac_ctx_set_grad_enabled(ac_ctx *ctx, bool enabled);
bool ac_ctx_grad_enabled(const ac_ctx *ctx);

/* The generator dropout draws from (borrowed; NULL forbids dropout with a rate > 0). */
void ac_ctx_set_rng(ac_ctx *ctx, ac_rng *rng);
ac_rng *ac_ctx_rng(ac_ctx *ctx);

/* Declares that this context's batch is windows [first, first + count) of a global batch of
 * `total` windows split across processes (data-parallel training; see parallel.h). Two kinds of
 * op then act as they would on the whole batch: dropout draws the whole batch's random sequence
 * and keeps this slice's part (the rng ends where the whole batch's draws end), and the losses
 * divide by the whole batch's element count, so a slice's loss is its share of the global mean
 * and its gradients are, bit for bit, the whole batch's gradients on these windows. Tensors
 * reaching those ops hold the count windows along their leading axis, window-major. total == 0
 * (the default) means an ordinary, whole batch. */
void ac_ctx_set_batch_slice(ac_ctx *ctx, int first, int count, int total);

ac_arena *ac_ctx_arena(ac_ctx *ctx);
size_t ac_ctx_tape_length(const ac_ctx *ctx);

bool ac_ctx_failed(const ac_ctx *ctx);
const char *ac_ctx_error(const ac_ctx *ctx); /* "" when nothing failed */
ac_status ac_ctx_status(const ac_ctx *ctx);
/* Records a failure (the first one wins) and returns NULL for use in `return`. */
void *ac_ctx_fail(ac_ctx *ctx, ac_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An activation tensor from the arena, uninitialised, not requiring grad (inputs, targets). */
ac_tensor *ac_tensor_temp(ac_ctx *ctx, int ndim, const int *shape);

/* The gradient buffer of t, allocated from the arena and zeroed on first use; NULL if t does
 * not require a gradient. */
float *ac_grad_buffer(ac_ctx *ctx, ac_tensor *t);

/* Activation memory: tells the context that the caller will not read t, nor any view of it,
 * again in this step; returns whether the context took t. The context then picks, from the cost
 * class the op that made t recorded, what happens to t's buffer:
 *   - no backward reads t (a linear's output consumed only by ac_residual_dropout): it goes to
 *     the pool now, and t->data becomes NULL;
 *   - t's op is cheap to run again (layer norm, the elementwise and broadcasting functions,
 *     attention's output): the same, and backward recomputes t, bit for bit, just before the
 *     first node that reads it and gives the buffer back after the last (a tensor recomputed
 *     only because another recompute needed it goes back right after that one). When that
 *     would mean making a linear's output again from inputs given up themselves (the gate's
 *     sigmoid, two matmul-deep), t is left as it is (false);
 *   - otherwise (a linear or matmul, the residual stream): t keeps its values until the last
 *     node whose backward reads them has run, then its buffer goes to the pool.
 * Later tensors of the step (the next layer's, backward's gradients) are taken from the pool: a
 * buffer of the same size first; in backward, a bigger one is split, and split halves merge
 * again when both are dead. Nothing happens (false) in no-grad mode, for a parameter or a tensor
 * no op made, for a tensor a view shares or one already taken, or once backward has started.
 * Results are the same bits with and without the calls; only the arena's peak changes. */
bool ac_ctx_done(ac_ctx *ctx, ac_tensor *t);

/* ac_ctx_done for the output of every op recorded since mark, oldest first, except keep and
 * views (which share another tensor's buffer): a residual sub-layer is done with its branch once
 * the sum is made. Returns how many the context took. */
int ac_ctx_done_since(ac_ctx *ctx, ac_ctx_mark mark, const ac_tensor *keep);

/* Backpropagates from a one-element tensor (seed 1). Afterwards the gradients of leaves
 * (parameters, inputs made with requires_grad) hold the result; an activation's gradient is
 * released for reuse as soon as the node that made it has run, so only leaf gradients (and the
 * seed) remain to be read. Returns AC_OK, or an error also left in the context (loss not
 * scalar, loss needs no grad, arena full). */
ac_status ac_backward(ac_ctx *ctx, ac_tensor *loss);

/* Backpropagates from any tensor with a seed gradient of out's size. When out is an activation
 * with no gradient yet, the seed buffer itself becomes out's gradient (no copy): backward only
 * reads it, and it must stay valid until ac_ctx_reset. Otherwise it is added to out's gradient. */
ac_status ac_backward_seeded(ac_ctx *ctx, ac_tensor *out, float *seed);

/* Zeroes the persistent gradients of n tensors. */
void ac_zero_grad(ac_tensor *const *params, int n);

#endif
