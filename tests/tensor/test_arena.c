/* test_arena.c - the activation arena: alignment, growth without moving, merge on reset, the
 * byte limit, and steady-state steps that allocate nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/arena.h"

static void test_blocks_are_aligned_and_disjoint(void **state) {
    (void)state;
    ac_arena *a = ac_arena_new(4096, 0);
    assert_non_null(a);
    unsigned char *prev = NULL;
    for (size_t n = 1; n < 300; n += 37) {
        unsigned char *p = ac_arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % AC_ARENA_ALIGN, 0);
        if (prev) assert_true(p >= prev + 1);
        memset(p, 0xAB, n);
        prev = p;
    }
    ac_arena_free(a);
}

static void test_growth_keeps_earlier_blocks_intact(void **state) {
    (void)state;
    ac_arena *a = ac_arena_new(1024, 0);
    float *first = ac_arena_alloc(a, 256 * sizeof(float));
    for (int i = 0; i < 256; i++) first[i] = (float)i;
    float *big = ac_arena_alloc(a, 100000 * sizeof(float)); /* forces new chunks */
    assert_non_null(big);
    memset(big, 0, 100000 * sizeof(float));
    assert_true(ac_arena_chunk_count(a) > 1);
    for (int i = 0; i < 256; i++) assert_true(first[i] == (float)i);
    ac_arena_free(a);
}

static void test_reset_merges_chunks_so_the_next_step_does_not_grow(void **state) {
    (void)state;
    ac_arena *a = ac_arena_new(1024, 0);
    for (int step = 0; step < 4; step++) {
        for (int i = 0; i < 50; i++) assert_non_null(ac_arena_alloc(a, 3000));
        if (step == 0)
            assert_true(ac_arena_chunk_count(a) > 1);
        else
            assert_int_equal(ac_arena_chunk_count(a), 1); /* no allocation after step 1 */
        ac_arena_reset(a);
        assert_int_equal(ac_arena_used(a), 0);
        assert_int_equal(ac_arena_chunk_count(a), 1);
    }
    size_t cap = ac_arena_capacity(a);
    for (int i = 0; i < 50; i++) ac_arena_alloc(a, 3000);
    assert_int_equal(ac_arena_capacity(a), cap);
    assert_true(ac_arena_peak(a) >= 50 * 3000);
    ac_arena_free(a);
}

static void test_limit_refuses_with_a_message_and_corrupts_nothing(void **state) {
    (void)state;
    ac_arena *a = ac_arena_new(1024, 8192);
    int *keep = ac_arena_alloc(a, 4000);
    for (int i = 0; i < 1000; i++) keep[i] = i;
    assert_null(ac_arena_alloc(a, 8000));
    assert_non_null(strstr(ac_arena_last_error(a), "out of memory"));
    assert_non_null(strstr(ac_arena_last_error(a), "8192"));
    for (int i = 0; i < 1000; i++) assert_int_equal(keep[i], i);
    assert_non_null(ac_arena_alloc(a, 1000)); /* smaller requests still fit */
    ac_arena_reset(a);
    assert_string_equal(ac_arena_last_error(a), "");
    assert_non_null(ac_arena_alloc(a, 8000));
    ac_arena_free(a);
}

static void test_calloc_zeroes_reused_memory(void **state) {
    (void)state;
    ac_arena *a = ac_arena_new(4096, 0);
    unsigned char *p = ac_arena_alloc(a, 1000);
    memset(p, 0xFF, 1000);
    ac_arena_reset(a);
    unsigned char *q = ac_arena_calloc(a, 1000);
    assert_ptr_equal(p, q);
    for (int i = 0; i < 1000; i++) assert_int_equal(q[i], 0);
    ac_arena_free(a);
}

/* Rewinding to a mark frees what came after it, even across chunks added since, and keeps
 * what came before: the next allocation reuses the same address. */
static void test_rewind_to_a_mark_reuses_memory_and_keeps_what_came_before(void **state) {
    (void)state;
    ac_arena *a = ac_arena_new(1024, 0);
    int *keep = ac_arena_alloc(a, 100 * sizeof(int));
    for (int i = 0; i < 100; i++) keep[i] = 7 * i;
    ac_arena_mark mark = ac_arena_get_mark(a);
    size_t used = ac_arena_used(a);
    int chunks = 0;
    for (int round = 0; round < 3; round++) {
        void *p = ac_arena_alloc(a, 512);
        void *big = ac_arena_alloc(a, 20000); /* beyond the first chunk in round 0 */
        assert_non_null(p);
        assert_non_null(big);
        memset(big, 0xAB, 20000);
        ac_arena_rewind(a, mark);
        assert_int_equal(ac_arena_used(a), used);
        assert_ptr_equal(ac_arena_alloc(a, 512), p);
        ac_arena_rewind(a, mark);
        if (round == 0) chunks = ac_arena_chunk_count(a);
        assert_int_equal(ac_arena_chunk_count(a), chunks); /* later rounds added no chunk */
    }
    for (int i = 0; i < 100; i++) assert_int_equal(keep[i], 7 * i);
    ac_arena_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_are_aligned_and_disjoint),
        cmocka_unit_test(test_growth_keeps_earlier_blocks_intact),
        cmocka_unit_test(test_reset_merges_chunks_so_the_next_step_does_not_grow),
        cmocka_unit_test(test_limit_refuses_with_a_message_and_corrupts_nothing),
        cmocka_unit_test(test_calloc_zeroes_reused_memory),
        cmocka_unit_test(test_rewind_to_a_mark_reuses_memory_and_keeps_what_came_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
