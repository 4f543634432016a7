/* autograd.c - the context, the tape and reverse-mode backward (see include/attncast/autograd.h).
 *
 * The tape is a singly linked list of nodes in the arena, newest first. Because a tensor can
 * only be used after it is made, the recording order is a topological order of the graph, and
 * walking it from newest to oldest visits every node after all of its consumers.
 *
 * That order also bounds each activation gradient's life: once a node's backward has run, the
 * gradient of its output has been read for the last time, so its buffer goes to a free list by
 * size and the next gradient of that size reuses it. A backward pass then holds only the
 * gradients of its frontier, not one per activation.
 *
 * Forward activations the caller releases (ac_ctx_release) join the same pools: a released
 * tensor's producer either recomputes it in backward, into a pooled buffer taken just before
 * the first node that reads it and returned after the last, or nobody reads it again at all.
 */
#include "attncast/autograd.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_internal.h"

/* Under AddressSanitizer a pooled buffer is poisoned past its link, so an op that reads a
 * released tensor or a dead gradient is reported. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define POOL_GAP            AC_ARENA_ALIGN
#else
#define POOL_GAP            0
#define POOL_POISON(p, n)   ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* A dead arena buffer (an activation gradient, a released activation) in the pool, which
 * holds them in one list: its first bytes are this header (arena blocks are at least
 * AC_ARENA_ALIGN bytes). */
typedef struct pool_block {
    struct pool_block *next;
    size_t bytes; /* its span (pool_span), a multiple of AC_ARENA_ALIGN */
} pool_block;

/* Requests of at least this many bytes may take the front of a bigger pooled block. */
#define POOL_SPLIT_MIN (64 * 1024)

#define RECOMPUTE_DEPTH 16 /* nested recomputes tracked (deeper ones keep their inputs) */

/* A tensor given up by ac_ctx_release whose producer recomputes it in backward, or by
 * ac_ctx_release_after_use. */
typedef struct released_tensor {
    ac_tensor *t;
    ac_node *producer;
    int pending; /* nodes that read t and whose backward has not run yet */
    bool kept;   /* ac_ctx_release_after_use: t keeps its values until the last of them */
    struct released_tensor *next;
} released_tensor;

struct ac_ctx {
    ac_arena *arena;
    pool_block *pool;
    released_tensor *released;
    ac_node *recomputing[RECOMPUTE_DEPTH]; /* producers refilling their outputs, outermost first */
    int recompute_depth;
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
    ctx->pool = NULL;
    ctx->released = NULL;
    ctx->recompute_depth = 0;
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
    ctx->pool = NULL;
    ctx->released = NULL; /* releases happen in grad mode, whose steps are not rewound */
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

static void *pool_take(ac_ctx *ctx, size_t bytes);

ac_tensor *ac_op_output(ac_ctx *ctx, const char *op, int ndim, const int *shape) {
    ac_tensor *t = ac_op_view(ctx, op, ndim, shape, NULL);
    if (!t) return NULL;
    size_t bytes = (size_t)t->size * sizeof(float);
    t->data = pool_take(ctx, bytes);
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

/* The bytes a pooled block serving `bytes` spans: whole alignment units, then, under ASan, one
 * more that stays poisoned (the red zone the arena puts after each block). Without ASan a split
 * leaves no gap, so a block of 2 U serves two of U. */
static size_t pool_span(size_t bytes) {
    return ((bytes + (AC_ARENA_ALIGN - 1)) & ~(size_t)(AC_ARENA_ALIGN - 1)) + POOL_GAP;
}

static void pool_push(ac_ctx *ctx, char *p, size_t span) {
    pool_block *b = (pool_block *)p;
    POOL_UNPOISON(b, sizeof *b);
    b->next = ctx->pool;
    b->bytes = span;
    ctx->pool = b;
    POOL_POISON(p + sizeof *b, span - sizeof *b);
}

/* A pooled buffer for `bytes`, or NULL if the pool has none. A block of the same span is taken
 * first. Otherwise, in backward, a request of at least POOL_SPLIT_MIN bytes takes the front of
 * the smallest block that leaves at least as much behind, and the rest stays in the pool. (In
 * forward, blocks are kept whole: the next layer asks for the same sizes again.) */
static void *pool_take(ac_ctx *ctx, size_t bytes) {
    size_t span = pool_span(bytes);
    bool split = ctx->tape_used && span >= POOL_SPLIT_MIN;
    pool_block **pick = NULL;
    for (pool_block **link = &ctx->pool; *link; link = &(*link)->next) {
        size_t have = (*link)->bytes;
        if (have == span) {
            pick = link;
            break;
        }
        if (split && have >= span + POOL_SPLIT_MIN && (!pick || have < (*pick)->bytes)) pick = link;
    }
    if (!pick) return NULL;
    pool_block *b = *pick;
    *pick = b->next;
    if (b->bytes != span) pool_push(ctx, (char *)b + span, b->bytes - span);
    POOL_UNPOISON(b, bytes);
    return b;
}

/* Puts a dead buffer of `bytes` into the pool, merged with the pooled blocks right before and
 * after it in the same arena chunk (two halves of a split block, or blocks the arena handed
 * out one after the other, with the red zone between them), so that a whole request fits
 * again once both are dead. */
static void pool_give(ac_ctx *ctx, void *data, size_t bytes) {
    char *p = data;
    size_t span = pool_span(bytes);
    const size_t zone = AC_ARENA_ALIGN - POOL_GAP; /* an arena red zone not counted in a span */
    for (pool_block **link = &ctx->pool; *link;) {
        char *q = (char *)*link;
        size_t q_span = (*link)->bytes, gap = SIZE_MAX;
        if (q + q_span == p || p + span == q)
            gap = 0;
        else if (q + q_span + zone == p || p + span + zone == q)
            gap = zone;
        char *lo = q < p ? q : p;
        size_t merged = span + gap + q_span;
        if (gap != SIZE_MAX && ac_arena_holds(ctx->arena, lo, merged)) {
            *link = (*link)->next;
            p = lo;
            span = merged;
            link = &ctx->pool; /* the merged block may touch another one */
        } else {
            link = &(*link)->next;
        }
    }
    pool_push(ctx, p, span);
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
        t->grad = pool_take(ctx, bytes);
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
    pool_give(ctx, t->grad, (size_t)t->size * sizeof(float));
    t->grad = NULL;
}

/* Whether node n's backward reads t's values (t one of its inputs or its output). */
static bool node_reads(const ac_node *n, const ac_tensor *t) {
    if (n->out == t && !(n->unread & AC_UNREAD_OUTPUT)) return true;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] == t && (i >= 7 || !(n->unread & AC_UNREAD_INPUT(i)))) return true;
    return false;
}

static bool node_uses(const ac_node *n, const ac_tensor *t) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] == t) return true;
    return false;
}

/* Whether a's data overlaps b's (a view of one on the other). */
static bool shares_data(const ac_tensor *a, const ac_tensor *b) {
    return a->data && b->data && a->data < b->data + b->size && b->data < a->data + a->size;
}

/* Both releases: keep_values says whether t keeps its values until the last node that reads
 * them (ac_ctx_release_after_use) or gives them up now. */
static bool release(ac_ctx *ctx, ac_tensor *t, bool keep_values) {
    if (!t || !t->data || t->persistent || ctx->tape_used || ctx->status != AC_OK) return false;
    ac_node *producer = NULL;
    int readers = 0;
    for (ac_node *n = ctx->tape; n && !producer; n = n->prev) {
        if (n->out == t) {
            producer = n;
            if (!(n->unread & AC_UNREAD_OUTPUT)) readers++;
        } else if (node_uses(n, t)) {
            if (shares_data(n->out, t)) return false; /* a view of t lives on */
            if (node_reads(n, t)) readers++;
        }
    }
    if (!producer) return false;
    bool keep = keep_values && readers > 0;
    if (!keep && !producer->recompute && readers > 0) return false;
    if (keep || producer->recompute) {
        released_tensor *r = arena_get(ctx, "ac_ctx_release", sizeof *r, true);
        if (!r) return false;
        *r = (released_tensor){
            .t = t, .producer = producer, .pending = readers, .kept = keep, .next = ctx->released};
        ctx->released = r;
    }
    if (!keep) {
        pool_give(ctx, t->data, (size_t)t->size * sizeof(float));
        t->data = NULL;
    }
    return true;
}

bool ac_ctx_release(ac_ctx *ctx, ac_tensor *t) {
    return release(ctx, t, false);
}

bool ac_ctx_release_after_use(ac_ctx *ctx, ac_tensor *t) {
    return release(ctx, t, true);
}

static released_tensor *find_released(ac_ctx *ctx, const ac_tensor *t) {
    for (released_tensor *r = ctx->released; r; r = r->next)
        if (r->t == t) return r;
    return NULL;
}

static bool ensure_values(ac_ctx *ctx, ac_node *n, bool forward);

/* Whether a recompute in progress (one that asked for the current one) still needs t. */
static bool needed_by_outer_recompute(const ac_ctx *ctx, const ac_tensor *t) {
    if (ctx->recompute_depth > RECOMPUTE_DEPTH) return true; /* not tracked that deep */
    for (int d = 0; d < ctx->recompute_depth; d++)
        if (node_uses(ctx->recomputing[d], t)) return true;
    return false;
}

/* Gives a released tensor a buffer again and has its producer refill it. Released inputs the
 * producer had to recompute first and that no backward reads any more (pending 0: the
 * embedding's projection, made again only to make the embedding again) go back to the pool
 * right after, unless the recompute that asked for this one still needs them. */
static bool recompute_released(ac_ctx *ctx, released_tensor *r) {
    ac_node *producer = r->producer;
    if (ctx->recompute_depth < RECOMPUTE_DEPTH) ctx->recomputing[ctx->recompute_depth] = producer;
    ctx->recompute_depth++;
    bool ok = ensure_values(ctx, producer, true); /* its inputs may be released */
    ctx->recompute_depth--;
    if (!ok) return false;
    size_t bytes = (size_t)r->t->size * sizeof(float);
    float *data = pool_take(ctx, bytes);
    if (!data) data = arena_get(ctx, "backward (recompute)", bytes, false);
    if (!data) return false;
    r->t->data = data;
    producer->recompute(ctx, producer);
    for (int i = 0; i < producer->n_in; i++) {
        ac_tensor *in = producer->in[i];
        released_tensor *ri = in->data ? find_released(ctx, in) : NULL;
        /* a kept tensor cannot always be made again */
        if (!ri || ri->kept || ri->pending > 0 || needed_by_outer_recompute(ctx, in)) continue;
        pool_give(ctx, in->data, (size_t)in->size * sizeof(float));
        in->data = NULL;
    }
    return ctx->status == AC_OK;
}

/* Recomputes the released tensors node n reads: in its backward, or (forward) the inputs of a
 * producer about to recompute its output. */
static bool ensure_values(ac_ctx *ctx, ac_node *n, bool forward) {
    if (!ctx->released) return true;
    for (int i = 0; i < (forward ? n->n_in : n->n_in + 1); i++) {
        ac_tensor *t = i < n->n_in ? n->in[i] : n->out;
        if (t->data || (!forward && !node_reads(n, t))) continue;
        released_tensor *r = find_released(ctx, t);
        if (!r) {
            ac_ctx_fail(ctx, AC_ERR_STATE,
                        "backward: %s reads a tensor released without a way "
                        "to recompute it",
                        n->op);
            return false;
        }
        if (!recompute_released(ctx, r)) return false;
    }
    return true;
}

float *ac_grad_adopt(ac_ctx *ctx, const ac_node *n, ac_tensor *x) {
    float *g = n->out->grad;
    if (!x->requires_grad || x->grad || x->persistent || !g || g == ctx->seed) return NULL;
    x->grad = g; /* release_output_grad sees it handed on and keeps it */
    return g;
}

void ac_op_values_read(ac_ctx *ctx, const ac_node *n, ac_tensor *t) {
    released_tensor *r = ctx->released ? find_released(ctx, t) : NULL;
    if (!r || r->pending != 1 || !t->data || !node_reads(n, t)) return;
    pool_give(ctx, t->data, (size_t)t->size * sizeof(float));
    t->data = NULL; /* settle_released counts this node's read and finds nothing to give */
}

/* After node n's backward: a released tensor it read for the last time goes back to the pool. */
static void settle_released(ac_ctx *ctx, const ac_node *n) {
    for (released_tensor *r = ctx->released; r; r = r->next) {
        if (!node_reads(n, r->t) || --r->pending > 0 || !r->t->data) continue;
        pool_give(ctx, r->t->data, (size_t)r->t->size * sizeof(float));
        r->t->data = NULL;
    }
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
            if (!ensure_values(ctx, n, false)) return ctx->status;
            n->backward(ctx, n);
            if (ctx->status != AC_OK) return ctx->status;
            release_output_grad(ctx, n);
        }
        if (ctx->released) settle_released(ctx, n);
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
