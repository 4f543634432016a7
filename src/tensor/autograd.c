/* autograd.c - the context, the tape and reverse-mode backward (see include/attncast/autograd.h).
 *
 * The tape is a singly linked list of nodes in the arena, newest first. Because a tensor can
 * only be used after it is made, the recording order is a topological order of the graph, and
 * walking it from newest to oldest visits every node after all of its consumers.
 *
 * That order also bounds each activation gradient's life: once a node's backward has run, the
 * gradient of its output has been read for the last time, so its buffer goes to the pool
 * (pool.c) and the next gradient of that size reuses it. A backward pass then holds only the
 * gradients of its frontier, not one per activation.
 *
 * Activations the caller is done with (ac_ctx_done) join the same pool; which ones are given up
 * at once and recomputed, and which are kept until backward has read them, is pool.c's part:
 * this file only asks it, around each node's backward, for the values the node reads
 * (ac_pool_recompute_reads) and to take back the ones it read last (ac_pool_settle).
 */
#include "attncast/autograd.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

struct ac_ctx {
    ac_arena *arena;
    ac_pool pool;
    const float *seed; /* the caller's seed buffer of the current backward, never released */
    ac_node *tape;     /* newest node */
    size_t tape_length;
    bool grad_enabled;
    bool tape_used; /* backward already ran on this tape */
    ac_rng *rng;
    int slice_first, slice_count, slice_total; /* ac_ctx_set_batch_slice; total 0: whole */
    ac_status status;
    char error[AC_ERROR_MAX];
};

ac_ctx *ac_ctx_new(size_t arena_initial_bytes, size_t arena_limit_bytes) {
    ac_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->arena = ac_arena_new(arena_initial_bytes, arena_limit_bytes);
    if (!ctx->arena) {
        free(ctx);
        return NULL;
    }
    ctx->grad_enabled = true;
    return ctx;
}

void ac_ctx_free(ac_ctx *ctx) {
    if (!ctx) return;
    ac_arena_free(ctx->arena);
    free(ctx);
}

void ac_ctx_reset(ac_ctx *ctx) {
    ac_arena_reset(ctx->arena);
    ctx->pool = (ac_pool){0};
    ctx->seed = NULL;
    ctx->tape = NULL;
    ctx->tape_length = 0;
    ctx->tape_used = false;
    ctx->status = AC_OK;
    ctx->error[0] = '\0';
}

ac_ctx_mark ac_ctx_get_mark(const ac_ctx *ctx) {
    return (ac_ctx_mark){
        .arena = ac_arena_get_mark(ctx->arena), .tape = ctx->tape, .tape_length = ctx->tape_length};
}

void ac_ctx_rewind(ac_ctx *ctx, ac_ctx_mark mark) {
    ac_arena_rewind(ctx->arena, mark.arena);
    ctx->pool = (ac_pool){0}; /* releases happen in grad mode, whose steps are not rewound */
    ctx->tape = mark.tape;
    ctx->tape_length = mark.tape_length;
}

bool ac_ctx_set_grad_enabled(ac_ctx *ctx, bool enabled) {
    bool prev = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return prev;
}

bool ac_ctx_grad_enabled(const ac_ctx *ctx) {
    return ctx->grad_enabled;
}
void ac_ctx_set_rng(ac_ctx *ctx, ac_rng *rng) {
    ctx->rng = rng;
}
ac_rng *ac_ctx_rng(ac_ctx *ctx) {
    return ctx->rng;
}
void ac_ctx_set_batch_slice(ac_ctx *ctx, int first, int count, int total) {
    ctx->slice_first = first;
    ctx->slice_count = count;
    ctx->slice_total = total;
}
bool ac_op_batch_slice(const ac_ctx *ctx, int *first, int *count, int *total) {
    *first = ctx->slice_first;
    *count = ctx->slice_count;
    *total = ctx->slice_total;
    return ctx->slice_total > 0 && ctx->slice_count != ctx->slice_total;
}
ac_arena *ac_ctx_arena(ac_ctx *ctx) {
    return ctx->arena;
}
ac_pool *ac_ctx_pool(ac_ctx *ctx) {
    return &ctx->pool;
}
ac_node *ac_ctx_tape(const ac_ctx *ctx) {
    return ctx->tape;
}
bool ac_ctx_tape_used(const ac_ctx *ctx) {
    return ctx->tape_used;
}
size_t ac_ctx_tape_length(const ac_ctx *ctx) {
    return ctx->tape_length;
}
bool ac_ctx_failed(const ac_ctx *ctx) {
    return ctx->status != AC_OK;
}
const char *ac_ctx_error(const ac_ctx *ctx) {
    return ctx->error;
}
ac_status ac_ctx_status(const ac_ctx *ctx) {
    return ctx->status;
}

void *ac_ctx_fail(ac_ctx *ctx, ac_status code, const char *fmt, ...) {
    if (ctx->status != AC_OK) return NULL; /* keep the first, root-cause message */
    ctx->status = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    return NULL;
}

static void *arena_get(ac_ctx *ctx, const char *op, size_t bytes, bool zero) {
    void *p = zero ? ac_arena_calloc(ctx->arena, bytes) : ac_arena_alloc(ctx->arena, bytes);
    if (!p) ac_ctx_fail(ctx, AC_ERR_NOMEM, "%s: %s", op, ac_arena_last_error(ctx->arena));
    return p;
}

ac_tensor *ac_tensor_temp(ac_ctx *ctx, int ndim, const int *shape) {
    return ac_op_output(ctx, "ac_tensor_temp", ndim, shape);
}

ac_tensor *ac_op_view(ac_ctx *ctx, const char *op, int ndim, const int *shape, float *data) {
    ac_tensor *t = arena_get(ctx, op, sizeof *t, true);
    if (!t) return NULL;
    if (!ac_tensor_set_shape(t, ndim, shape))
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: bad result shape (%d dims)", op, ndim);
    t->data = data;
    return t;
}

ac_tensor *ac_op_output(ac_ctx *ctx, const char *op, int ndim, const int *shape) {
    ac_tensor *t = ac_op_view(ctx, op, ndim, shape, NULL);
    if (!t) return NULL;
    size_t bytes = (size_t)t->size * sizeof(float);
    t->data = ac_pool_take(ctx, bytes);
    if (!t->data) t->data = arena_get(ctx, op, bytes, false);
    return t->data ? t : NULL;
}

float *ac_op_scratch(ac_ctx *ctx, const char *op, int64_t count) {
    return arena_get(ctx, op, (size_t)count * sizeof(float), false);
}

ac_node *ac_op_record(ac_ctx *ctx, const char *op, ac_backward_fn fn, ac_tensor *out, int n_in,
                      ac_tensor *const *in) {
    if (!ctx->grad_enabled) return NULL;
    bool any = false;
    for (int i = 0; i < n_in; i++) any = any || in[i]->requires_grad;
    if (!any) return NULL;
    ac_node *node = arena_get(ctx, op, sizeof *node, true);
    ac_tensor **ins = node ? arena_get(ctx, op, (size_t)n_in * sizeof *ins, false) : NULL;
    if (!ins) return NULL;
    memcpy(ins, in, (size_t)n_in * sizeof *ins);
    node->op = op;
    node->backward = fn;
    node->out = out;
    node->in = ins;
    node->n_in = n_in;
    node->prev = ctx->tape;
    ctx->tape = node;
    ctx->tape_length++;
    out->requires_grad = true;
    return node;
}

float *ac_grad_buffer_fresh(ac_ctx *ctx, ac_tensor *t, bool *fresh) {
    *fresh = false;
    if (!t->requires_grad) return NULL;
    if (!t->grad) {
        size_t bytes = (size_t)t->size * sizeof(float);
        if (t->persistent) {
            t->grad = ac_aligned_zeros(bytes);
            if (!t->grad) return ac_ctx_fail(ctx, AC_ERR_NOMEM, "backward: out of memory");
            return t->grad;
        }
        t->grad = ac_pool_take(ctx, bytes);
        if (!t->grad) {
            t->grad = arena_get(ctx, "backward", bytes, false);
            if (!t->grad) return NULL;
        }
        *fresh = true;
    }
    return t->grad;
}

float *ac_grad_buffer(ac_ctx *ctx, ac_tensor *t) {
    bool fresh;
    float *g = ac_grad_buffer_fresh(ctx, t, &fresh);
    if (fresh) memset(g, 0, (size_t)t->size * sizeof(float));
    return g;
}

/* After node n's backward: the gradient of its output is dead, unless it is a parameter's, the
 * caller's seed, or was handed on to an input (a reshape adopts its output's buffer). */
static void release_output_grad(ac_ctx *ctx, ac_node *n) {
    ac_tensor *t = n->out;
    if (t->persistent || !t->grad || t->grad == ctx->seed) return;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i]->grad == t->grad) return;
    ac_pool_give(ctx, t->grad, (size_t)t->size * sizeof(float));
    t->grad = NULL;
}

float *ac_grad_adopt(ac_ctx *ctx, const ac_node *n, ac_tensor *x) {
    float *g = n->out->grad;
    if (!x->requires_grad || x->grad || x->persistent || !g || g == ctx->seed) return NULL;
    x->grad = g; /* release_output_grad sees it handed on and keeps it */
    return g;
}

ac_status ac_backward_seeded(ac_ctx *ctx, ac_tensor *out, float *seed) {
    if (ctx->status != AC_OK) return ctx->status;
    if (!out) {
        ac_ctx_fail(ctx, AC_ERR_STATE, "ac_backward: no output tensor given");
        return ctx->status;
    }
    if (ctx->tape_used) {
        ac_ctx_fail(ctx, AC_ERR_STATE,
                    "ac_backward: this tape was already used; call ac_ctx_reset first");
        return ctx->status;
    }
    if (!out->requires_grad) {
        ac_ctx_fail(ctx, AC_ERR_STATE,
                    "ac_backward: the output does not depend on anything that requires grad");
        return ctx->status;
    }
    if (!out->grad && !out->persistent) {
        /* Adopt the seed: out is where the walk starts, so no node writes to its gradient. */
        out->grad = seed;
        ctx->seed = seed;
    } else {
        float *g = ac_grad_buffer(ctx, out);
        if (!g) return ctx->status;
        for (int64_t i = 0; i < out->size; i++) g[i] += seed[i];
    }
    ctx->tape_used = true;
    for (ac_node *n = ctx->tape; n; n = n->prev) {
        if (n->out->grad) { /* else nothing flowed into this node's output */
            if (!ac_pool_recompute_reads(ctx, n)) return ctx->status;
            n->backward(ctx, n);
            if (ctx->status != AC_OK) return ctx->status;
            release_output_grad(ctx, n);
        }
        if (ctx->pool.released) ac_pool_settle(ctx, n);
    }
    return AC_OK;
}

ac_status ac_backward(ac_ctx *ctx, ac_tensor *loss) {
    if (loss && loss->size != 1) {
        char s[64];
        ac_ctx_fail(ctx, AC_ERR_SHAPE, "ac_backward: the loss must have one element, got %s",
                    ac_shape_str(loss, s, sizeof s));
        return ctx->status;
    }
    float *one = ac_op_scratch(ctx, "ac_backward", 1);
    if (!one) return ctx->status;
    one[0] = 1.0f;
    return ac_backward_seeded(ctx, loss, one);
}

void ac_zero_grad(ac_tensor *const *params, int n) {
    for (int i = 0; i < n; i++) ac_tensor_zero_grad(params[i]);
}

void *ac_op_shape_error(ac_ctx *ctx, const char *op, const char *what, const ac_tensor *a,
                        const ac_tensor *b) {
    char sa[64], sb[64];
    ac_shape_str(a, sa, sizeof sa);
    if (b)
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: %s: a %s vs b %s", op, what, sa,
                           ac_shape_str(b, sb, sizeof sb));
    return ac_ctx_fail(ctx, AC_ERR_SHAPE, "%s: %s: x %s", op, what, sa);
}

int ac_op_axis(int axis, int ndim) {
    if (axis < 0) axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

int64_t ac_op_outer(const ac_tensor *t, int k) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim - k; i++) n *= t->shape[i];
    return n;
}
