/* arena.c - chunked bump allocator for activations (see include/attncast/arena.h).
 *
 * Chunks form a list; allocation bumps the offset of the current chunk and, when it is full,
 * moves to the next chunk or adds one at least twice as large as the last. Reset rewinds all
 * chunks; if a step needed more than one chunk, reset replaces them with a single chunk as large
 * as the peak, so steady-state steps allocate nothing.
 *
 * Under AddressSanitizer every byte not handed out is poisoned and each block is followed by a
 * redzone, so an op that reads or writes past its tensor is reported even though all tensors
 * live in one malloc'd chunk.
 */
#include "attncast/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FIRST_CHUNK ((size_t)1 << 20)

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define REDZONE        AC_ARENA_ALIGN
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define REDZONE        0
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct chunk {
    struct chunk *next;
    size_t capacity; /* usable bytes after the header */
    size_t offset;
    unsigned char *base; /* aligned start of the usable bytes */
    void *raw;           /* what malloc returned */
} chunk;

struct ac_arena {
    chunk *first;
    chunk *current;
    size_t limit;
    size_t used;     /* bytes handed out since reset, including alignment padding */
    size_t capacity; /* sum of chunk capacities */
    size_t peak;
    char error[160];
};

static size_t align_up(size_t n) {
    return (n + (AC_ARENA_ALIGN - 1)) & ~(size_t)(AC_ARENA_ALIGN - 1);
}

static chunk *chunk_new(size_t capacity) {
    chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->raw = malloc(capacity + AC_ARENA_ALIGN);
    if (!c->raw) {
        free(c);
        return NULL;
    }
    uintptr_t p = (uintptr_t)c->raw;
    c->base = (unsigned char *)((p + (AC_ARENA_ALIGN - 1)) & ~(uintptr_t)(AC_ARENA_ALIGN - 1));
    c->capacity = capacity;
    c->offset = 0;
    c->next = NULL;
    POISON(c->base, capacity);
    return c;
}

static void chunk_list_free(chunk *c) {
    while (c) {
        chunk *next = c->next;
        UNPOISON(c->base, c->capacity);
        free(c->raw);
        free(c);
        c = next;
    }
}

ac_arena *ac_arena_new(size_t initial_bytes, size_t limit_bytes) {
    ac_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    size_t first = align_up(initial_bytes ? initial_bytes : DEFAULT_FIRST_CHUNK);
    if (limit_bytes && first > limit_bytes) first = align_up(limit_bytes);
    a->first = chunk_new(first);
    if (!a->first) {
        free(a);
        return NULL;
    }
    a->current = a->first;
    a->capacity = first;
    a->limit = limit_bytes;
    return a;
}

void ac_arena_free(ac_arena *a) {
    if (!a) return;
    chunk_list_free(a->first);
    free(a);
}

void *ac_arena_alloc(ac_arena *a, size_t bytes) {
    size_t need = align_up(bytes ? bytes : 1) + REDZONE;
    if (need < bytes) { /* overflow */
        snprintf(a->error, sizeof a->error, "arena: request of %zu bytes is too large", bytes);
        return NULL;
    }
    if (a->limit && a->used + need > a->limit) {
        snprintf(a->error, sizeof a->error,
                 "arena: out of memory: %zu bytes requested with %zu of the %zu-byte limit in use",
                 bytes, a->used, a->limit);
        return NULL;
    }
    chunk *c = a->current;
    while (c && c->capacity - c->offset < need) c = c->next;
    if (!c) {
        /* Grow: a new chunk at least as large as the request and twice the last one. */
        chunk *last = a->current;
        while (last->next) last = last->next;
        size_t cap = last->capacity * 2;
        if (cap < need) cap = need;
        if (a->limit && a->capacity + cap > a->limit) {
            size_t room = a->limit > a->capacity ? a->limit - a->capacity : 0;
            cap = room >= need ? room : need;
        }
        c = chunk_new(cap);
        if (!c) {
            snprintf(a->error, sizeof a->error,
                     "arena: the system refused %zu bytes (%zu already held)", cap, a->capacity);
            return NULL;
        }
        last->next = c;
        a->capacity += cap;
    }
    void *p = c->base + c->offset;
    UNPOISON(p, bytes);
    c->offset += need;
    a->current = c;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void *ac_arena_calloc(ac_arena *a, size_t bytes) {
    void *p = ac_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void ac_arena_reset(ac_arena *a) {
    if (a->first->next) {
        /* Merge into one chunk as large as the peak (plus the padding a chunk switch wastes). */
        size_t want = align_up(a->peak + a->peak / 8);
        if (a->limit && want > a->limit) want = align_up(a->limit);
        chunk *merged = chunk_new(want);
        if (merged) {
            chunk_list_free(a->first);
            a->first = merged;
            a->capacity = want;
        }
    }
    for (chunk *c = a->first; c; c = c->next) {
        c->offset = 0;
        POISON(c->base, c->capacity);
    }
    a->current = a->first;
    a->used = 0;
    a->error[0] = '\0';
}

ac_arena_mark ac_arena_get_mark(const ac_arena *a) {
    return (ac_arena_mark){.chunk = a->current, .offset = a->current->offset, .used = a->used};
}

void ac_arena_rewind(ac_arena *a, ac_arena_mark mark) {
    chunk *c = a->first;
    while (c && c != mark.chunk) c = c->next;
    if (!c || mark.offset > c->offset || mark.used > a->used) return; /* not a mark of now */
    POISON(c->base + mark.offset, c->offset - mark.offset);
    c->offset = mark.offset;
    for (chunk *n = c->next; n; n = n->next) { /* chunks added or entered after the mark */
        POISON(n->base, n->offset);
        n->offset = 0;
    }
    a->current = c;
    a->used = mark.used;
}

size_t ac_arena_used(const ac_arena *a) {
    return a->used;
}
size_t ac_arena_capacity(const ac_arena *a) {
    return a->capacity;
}
size_t ac_arena_peak(const ac_arena *a) {
    return a->peak;
}
bool ac_arena_holds(const ac_arena *a, const void *p, size_t bytes) {
    uintptr_t start = (uintptr_t)p;
    for (const chunk *c = a->first; c; c = c->next) {
        uintptr_t base = (uintptr_t)c->base;
        if (start >= base && start - base <= c->capacity && bytes <= c->capacity - (start - base))
            return true;
    }
    return false;
}

int ac_arena_chunk_count(const ac_arena *a) {
    int n = 0;
    for (chunk *c = a->first; c; c = c->next) n++;
    return n;
}
const char *ac_arena_last_error(const ac_arena *a) {
    return a->error;
}
