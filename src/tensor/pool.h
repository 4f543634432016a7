/* pool.h - activation memory inside a step, shared by autograd.c and nothing outside src/tensor:
 * the pool of dead arena buffers, the tensors the caller is done with (ac_ctx_done) and their
 * recompute in backward. The policy is here, not in model code: see ac_ctx_done in autograd.h
 * and the cost class each op records (ac_node.cost, op_internal.h). */
#ifndef ATTNCAST_POOL_H
#define ATTNCAST_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "op_internal.h"

#define AC_POOL_RECOMPUTE_DEPTH 16 /* nested recomputes tracked (deeper ones keep their inputs) */

/* A context's pool state (embedded in ac_ctx; all NULL and 0 at the start of a step). */
typedef struct ac_pool {
    struct pool_block *free;          /* dead buffers, one list */
    struct released_tensor *released; /* tensors given up that backward may still need */
    ac_node
        *recomputing[AC_POOL_RECOMPUTE_DEPTH]; /* producers refilling outputs, outermost first */
    int recompute_depth;
} ac_pool;

/* The context's pool, its newest tape node, and whether backward has started on this tape. */
ac_pool *ac_ctx_pool(ac_ctx *ctx);
ac_node *ac_ctx_tape(const ac_ctx *ctx);
bool ac_ctx_tape_used(const ac_ctx *ctx);

/* A pooled buffer for `bytes`, or NULL if the pool has none (the caller takes arena memory). */
void *ac_pool_take(ac_ctx *ctx, size_t bytes);

/* Puts a dead arena buffer of `bytes` into the pool. */
void ac_pool_give(ac_ctx *ctx, void *data, size_t bytes);

/* Before node n's backward: recomputes the given-up tensors it reads. False (and a context error)
 * if one cannot be. */
bool ac_pool_recompute_reads(ac_ctx *ctx, ac_node *n);

/* After node n's backward: a given-up tensor it read for the last time goes back to the pool. */
void ac_pool_settle(ac_ctx *ctx, const ac_node *n);

/* The two mechanisms ac_ctx_done chooses between, for tests and for callers that must force one:
 * give t's buffer up now (its producer recomputes it in backward, or no backward reads it), or
 * keep its values until the last node whose backward reads them. Both return whether t was given
 * up; see ac_ctx_done for the cases that are refused. */
bool ac_ctx_release(ac_ctx *ctx, ac_tensor *t);
bool ac_ctx_release_after_use(ac_ctx *ctx, ac_tensor *t);

#endif
