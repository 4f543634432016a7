/* arena.h - the bump allocator that holds every activation of one training step.
 *
 * Activations (op outputs, their gradients, saved values for backward, tape nodes) are taken
 * from an arena and released all at once by ac_arena_reset at the end of a step, never piece
 * by piece. The arena grows by adding chunks when a step needs more than it has (pointers
 * already handed out stay valid); on reset it merges its chunks into one block as large as the
 * step's peak, so from the second step on a training loop makes no allocation at all. An
 * optional byte limit makes a request past it fail with NULL and a message instead of growing;
 * a failed request never disturbs memory already handed out.
 *
 * Every block is aligned to AC_ARENA_ALIGN bytes. The arena owns its memory; ac_arena_free
 * releases it.
 */
#ifndef ATTNCAST_ARENA_H
#define ATTNCAST_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#define AC_ARENA_ALIGN 64

typedef struct ac_arena ac_arena;

/* A new arena with a first chunk of initial_bytes (0: a small default) and a limit on the total
 * bytes it may hold (0: no limit). Returns NULL if the first chunk cannot be allocated. */
ac_arena *ac_arena_new(size_t initial_bytes, size_t limit_bytes);
void ac_arena_free(ac_arena *arena);

/* An aligned block of at least `bytes` bytes, uninitialised; NULL when the limit or the system
 * refuses (ac_arena_last_error says why). */
void *ac_arena_alloc(ac_arena *arena, size_t bytes);

/* As ac_arena_alloc, filled with zero bytes. */
void *ac_arena_calloc(ac_arena *arena, size_t bytes);

/* Forgets every block handed out since the last reset. */
void ac_arena_reset(ac_arena *arena);

/* A point in the arena's allocation order: ac_arena_rewind forgets every block handed out after
 * it (and keeps those before), so a loop can reuse the same memory for each of its rounds. */
typedef struct ac_arena_mark {
    const void *chunk; /* the chunk that was current */
    size_t offset;     /* its offset then */
    size_t used;
} ac_arena_mark;

ac_arena_mark ac_arena_get_mark(const ac_arena *arena);
void ac_arena_rewind(ac_arena *arena, ac_arena_mark mark);

size_t ac_arena_used(const ac_arena *arena);     /* bytes handed out since the last reset */
size_t ac_arena_capacity(const ac_arena *arena); /* bytes held in chunks now */
size_t ac_arena_peak(const ac_arena *arena);     /* the largest `used` seen so far */
int ac_arena_chunk_count(const ac_arena *arena);
/* Whether the `bytes` bytes at p lie inside one chunk of the arena (handed out or not). */
bool ac_arena_holds(const ac_arena *arena, const void *p, size_t bytes);
const char *ac_arena_last_error(const ac_arena *arena);

#endif
