/* pool.c - activation memory inside a step (see pool.h and ac_ctx_done in autograd.h).
 *
 * Dead arena buffers (an activation gradient once its node's backward has run, an activation the
 * caller is done with) go to one pool, and later tensors of the step are taken from it. An
 * activation the caller is done with (ac_ctx_done) is either given up at once, when no backward
 * reads it or its op is cheap to run again (then backward recomputes it, into a pooled buffer
 * taken just before the first node that reads it and returned after the last), or kept until the
 * last node whose backward reads it (an op as dear as a matmul). The op that records a node says
 * which (ac_node.cost); model code only says when it is done with a tensor, or with everything a
 * sub-layer made (ac_ctx_done_since).
 */
#include <stdint.h>

#include "pool.h"

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

/* A dead arena buffer in the pool: its first bytes are this header (arena blocks are at least
 * AC_ARENA_ALIGN bytes). */
typedef struct pool_block {
    struct pool_block *next;
    size_t bytes; /* its span (pool_span), a multiple of AC_ARENA_ALIGN */
} pool_block;

/* Requests of at least this many bytes may take the front of a bigger pooled block. */
#define POOL_SPLIT_MIN (64 * 1024)

/* A tensor given up whose producer recomputes it in backward, or kept until its last read. */
typedef struct released_tensor {
    ac_tensor *t;
    ac_node *producer;
    int pending; /* nodes that read t and whose backward has not run yet */
    bool kept;   /* t keeps its values until the last of them */
    struct released_tensor *next;
} released_tensor;

static void *arena_get(ac_ctx *ctx, const char *op, size_t bytes) {
    ac_arena *arena = ac_ctx_arena(ctx);
    void *p = ac_arena_alloc(arena, bytes);
    if (!p) ac_ctx_fail(ctx, AC_ERR_NOMEM, "%s: %s", op, ac_arena_last_error(arena));
    return p;
}

/* ---- the pool ---- */

/* The bytes a pooled block serving `bytes` spans: whole alignment units, then, under ASan, one
 * more that stays poisoned (the red zone the arena puts after each block). Without ASan a split
 * leaves no gap, so a block of 2 U serves two of U. */
static size_t pool_span(size_t bytes) {
    return ((bytes + (AC_ARENA_ALIGN - 1)) & ~(size_t)(AC_ARENA_ALIGN - 1)) + POOL_GAP;
}

static void pool_push(ac_pool *pool, char *p, size_t span) {
    pool_block *b = (pool_block *)p;
    POOL_UNPOISON(b, sizeof *b);
    b->next = pool->free;
    b->bytes = span;
    pool->free = b;
    POOL_POISON(p + sizeof *b, span - sizeof *b);
}

/* A block of the same span is taken first. Otherwise, in backward, a request of at least
 * POOL_SPLIT_MIN bytes takes the front of the smallest block that leaves at least as much behind,
 * and the rest stays in the pool. (In forward, blocks are kept whole: the next layer asks for the
 * same sizes again.) */
void *ac_pool_take(ac_ctx *ctx, size_t bytes) {
    ac_pool *pool = ac_ctx_pool(ctx);
    size_t span = pool_span(bytes);
    bool split = ac_ctx_tape_used(ctx) && span >= POOL_SPLIT_MIN;
    pool_block **pick = NULL;
    for (pool_block **link = &pool->free; *link; link = &(*link)->next) {
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
    if (b->bytes != span) pool_push(pool, (char *)b + span, b->bytes - span);
    POOL_UNPOISON(b, bytes);
    return b;
}

/* The buffer is merged with the pooled blocks right before and after it in the same arena chunk
 * (two halves of a split block, or blocks the arena handed out one after the other, with the red
 * zone between them), so that a whole request fits again once both are dead. */
void ac_pool_give(ac_ctx *ctx, void *data, size_t bytes) {
    ac_pool *pool = ac_ctx_pool(ctx);
    char *p = data;
    size_t span = pool_span(bytes);
    const size_t zone = AC_ARENA_ALIGN - POOL_GAP; /* an arena red zone not counted in a span */
    for (pool_block **link = &pool->free; *link;) {
        char *q = (char *)*link;
        size_t q_span = (*link)->bytes, gap = SIZE_MAX;
        if (q + q_span == p || p + span == q)
            gap = 0;
        else if (q + q_span + zone == p || p + span + zone == q)
            gap = zone;
        char *lo = q < p ? q : p;
        size_t merged = span + gap + q_span;
        if (gap != SIZE_MAX && ac_arena_holds(ac_ctx_arena(ctx), lo, merged)) {
            *link = (*link)->next;
            p = lo;
            span = merged;
            link = &pool->free; /* the merged block may touch another one */
        } else {
            link = &(*link)->next;
        }
    }
    pool_push(pool, p, span);
}

static void give_values(ac_ctx *ctx, ac_tensor *t) {
    ac_pool_give(ctx, t->data, (size_t)t->size * sizeof(float));
    t->data = NULL;
}

/* ---- giving tensors up ---- */

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

static released_tensor *find_released(ac_pool *pool, const ac_tensor *t);

/* Whether a cheap op's output may be given up and recomputed: not when that would take making a
 * dear input (a linear's output) again from inputs given up themselves (the gate's sigmoid, whose
 * input's input is the layer norm). One dear input made again from values at hand (the
 * embedding's projection) is fine. */
static bool recompute_is_cheap(ac_pool *pool, const ac_node *producer) {
    if (!producer->recompute || producer->cost != AC_RECOMPUTE_CHEAP) return false;
    for (int i = 0; i < producer->n_in; i++) {
        if (producer->in[i]->data) continue;
        released_tensor *r = find_released(pool, producer->in[i]);
        if (!r) return false;
        if (r->producer->cost == AC_RECOMPUTE_CHEAP) continue;
        for (int j = 0; j < r->producer->n_in; j++)
            if (!r->producer->in[j]->data) return false;
    }
    return true;
}

typedef enum { GIVE_UP_NOW, KEEP_UNTIL_READ, BY_COST } release_mode;

static bool release(ac_ctx *ctx, ac_tensor *t, release_mode mode) {
    if (!t || !t->data || t->persistent || ac_ctx_tape_used(ctx) || ac_ctx_failed(ctx) ||
        find_released(ac_ctx_pool(ctx), t)) /* done with already, and kept until read */
        return false;
    ac_node *producer = NULL;
    int readers = 0;
    for (ac_node *n = ac_ctx_tape(ctx); n && !producer; n = n->prev) {
        if (n->out == t) {
            producer = n;
            if (!(n->unread & AC_UNREAD_OUTPUT)) readers++;
        } else if (node_uses(n, t)) {
            if (shares_data(n->out, t)) return false; /* a view of t lives on */
            if (node_reads(n, t)) readers++;
        }
    }
    if (!producer) return false;
    bool cheap = recompute_is_cheap(ac_ctx_pool(ctx), producer);
    if (mode == BY_COST && readers > 0 && producer->cost == AC_RECOMPUTE_CHEAP && !cheap)
        return false;
    bool keep = readers > 0 && (mode == KEEP_UNTIL_READ || (mode == BY_COST && !cheap));
    if (!keep && !producer->recompute && readers > 0) return false;
    if (keep || producer->recompute) {
        released_tensor *r = arena_get(ctx, "ac_ctx_done", sizeof *r);
        if (!r) return false;
        ac_pool *pool = ac_ctx_pool(ctx);
        *r = (released_tensor){
            .t = t, .producer = producer, .pending = readers, .kept = keep, .next = pool->released};
        pool->released = r;
    }
    if (!keep) give_values(ctx, t);
    return true;
}

bool ac_ctx_done(ac_ctx *ctx, ac_tensor *t) {
    return release(ctx, t, BY_COST);
}

/* Whether n's output is a view of one of its inputs (a reshape's): giving it up would give up
 * part of the input. */
static bool makes_view(const ac_node *n) {
    for (int i = 0; i < n->n_in; i++)
        if (shares_data(n->out, n->in[i])) return true;
    return false;
}

/* ac_ctx_done for the outputs of the nodes from n back to (not including) stop, oldest first. */
static int done_from_oldest(ac_ctx *ctx, ac_node *n, const void *stop, const ac_tensor *keep) {
    if (!n || n == stop) return 0;
    int count = done_from_oldest(ctx, n->prev, stop, keep);
    if (n->out != keep && !makes_view(n)) count += release(ctx, n->out, BY_COST);
    return count;
}

int ac_ctx_done_since(ac_ctx *ctx, ac_ctx_mark mark, const ac_tensor *keep) {
    return done_from_oldest(ctx, ac_ctx_tape(ctx), mark.tape, keep);
}

bool ac_ctx_release(ac_ctx *ctx, ac_tensor *t) {
    return release(ctx, t, GIVE_UP_NOW);
}

bool ac_ctx_release_after_use(ac_ctx *ctx, ac_tensor *t) {
    return release(ctx, t, KEEP_UNTIL_READ);
}

/* ---- backward: recompute, and give back after the last read ---- */

static released_tensor *find_released(ac_pool *pool, const ac_tensor *t) {
    for (released_tensor *r = pool->released; r; r = r->next)
        if (r->t == t) return r;
    return NULL;
}

static bool ensure_values(ac_ctx *ctx, ac_node *n, bool forward);

/* Whether a recompute in progress (one that asked for the current one) still needs t. */
static bool needed_by_outer_recompute(const ac_pool *pool, const ac_tensor *t) {
    if (pool->recompute_depth > AC_POOL_RECOMPUTE_DEPTH) return true; /* not tracked that deep */
    for (int d = 0; d < pool->recompute_depth; d++)
        if (node_uses(pool->recomputing[d], t)) return true;
    return false;
}

/* Gives a released tensor a buffer again and has its producer refill it. Released inputs the
 * producer had to recompute first and that no backward reads any more (pending 0: the
 * embedding's projection, made again only to make the embedding again) go back to the pool
 * right after, unless the recompute that asked for this one still needs them. */
static bool recompute_released(ac_ctx *ctx, released_tensor *r) {
    ac_pool *pool = ac_ctx_pool(ctx);
    ac_node *producer = r->producer;
    if (pool->recompute_depth < AC_POOL_RECOMPUTE_DEPTH)
        pool->recomputing[pool->recompute_depth] = producer;
    pool->recompute_depth++;
    bool ok = ensure_values(ctx, producer, true); /* its inputs may be released */
    pool->recompute_depth--;
    if (!ok) return false;
    size_t bytes = (size_t)r->t->size * sizeof(float);
    float *data = ac_pool_take(ctx, bytes);
    if (!data) data = arena_get(ctx, "backward (recompute)", bytes);
    if (!data) return false;
    r->t->data = data;
    producer->recompute(ctx, producer);
    for (int i = 0; i < producer->n_in; i++) {
        ac_tensor *in = producer->in[i];
        released_tensor *ri = in->data ? find_released(pool, in) : NULL;
        /* a kept tensor cannot always be made again */
        if (!ri || ri->kept || ri->pending > 0 || needed_by_outer_recompute(pool, in)) continue;
        give_values(ctx, in);
    }
    return !ac_ctx_failed(ctx);
}

/* Recomputes the released tensors node n reads: in its backward, or (forward) the inputs of a
 * producer about to recompute its output. */
static bool ensure_values(ac_ctx *ctx, ac_node *n, bool forward) {
    ac_pool *pool = ac_ctx_pool(ctx);
    if (!pool->released) return true;
    for (int i = 0; i < (forward ? n->n_in : n->n_in + 1); i++) {
        ac_tensor *t = i < n->n_in ? n->in[i] : n->out;
        if (t->data || (!forward && !node_reads(n, t))) continue;
        released_tensor *r = find_released(pool, t);
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

bool ac_pool_recompute_reads(ac_ctx *ctx, ac_node *n) {
    return ensure_values(ctx, n, false);
}

void ac_op_values_read(ac_ctx *ctx, const ac_node *n, ac_tensor *t) {
    ac_pool *pool = ac_ctx_pool(ctx);
    released_tensor *r = pool->released ? find_released(pool, t) : NULL;
    if (!r || r->pending != 1 || !t->data || !node_reads(n, t)) return;
    give_values(ctx, t); /* ac_pool_settle counts this node's read and finds nothing to give */
}

void ac_pool_settle(ac_ctx *ctx, const ac_node *n) {
    for (released_tensor *r = ac_ctx_pool(ctx)->released; r; r = r->next) {
        if (!node_reads(n, r->t) || --r->pending > 0 || !r->t->data) continue;
        give_values(ctx, r->t);
    }
}
