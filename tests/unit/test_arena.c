/*
 * test_arena.c - arena.h: blocks from the buffer, aligned and apart; growth
 * in place of the last block and by copy of others; what does not fit
 * going to malloc and back; reset handing out the same memory; sizes too
 * large for anything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

/* The sanitizer build aborts on impossible sizes unless told that malloc
 * may return NULL, which is what test_too_large_is_null checks. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static unsigned char buf[1024 + 1];

static int inside(const sf_arena *a, const void *p)
{
    return (uintptr_t)p >= (uintptr_t)a->buf && (uintptr_t)p < (uintptr_t)a->buf + a->cap;
}

static void test_blocks_aligned_and_apart(void **state)
{
    (void)state;
    sf_arena a;
    sf_arena_init(&a, buf + 1, sizeof buf - 1); /* a misaligned buffer */
    unsigned char *p = sf_arena_alloc(&a, 3), *q = sf_arena_alloc(&a, 100);
    unsigned char *z = sf_arena_alloc(&a, 0);
    assert_true(inside(&a, p) && inside(&a, q) && inside(&a, z));
    assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
    assert_int_equal((uintptr_t)q % alignof(max_align_t), 0);
    assert_true(q >= p + 3 && z >= q + 100);
    memset(p, 1, 3);
    memset(q, 2, 100);
    assert_int_equal(p[2], 1);
    sf_arena_free(&a, p);
    sf_arena_free(&a, NULL);
    assert_int_equal(q[0], 2); /* freeing an arena block changes nothing */
}

static void test_realloc_last_in_place_others_copied(void **state)
{
    (void)state;
    sf_arena a;
    sf_arena_init(&a, buf, sizeof buf);
    char *p = sf_arena_realloc(&a, NULL, 10);
    memcpy(p, "abcdefghij", 10);
    char *p2 = sf_arena_realloc(&a, p, 200);
    assert_ptr_equal(p2, p); /* the last block grows where it is */
    char *q = sf_arena_alloc(&a, 16);
    memcpy(q, "0123456789abcdef", 16);
    char *p3 = sf_arena_realloc(&a, p2, 300);
    assert_ptr_not_equal(p3, p2); /* no longer the last: copied */
    assert_true(inside(&a, p3));
    assert_memory_equal(p3, "abcdefghij", 10);
    assert_memory_equal(q, "0123456789abcdef", 16);
    assert_ptr_equal(sf_arena_realloc(&a, q, 8), q); /* shrinking never moves */
}

static void test_overflow_goes_to_malloc(void **state)
{
    (void)state;
    sf_arena a;
    sf_arena_init(&a, buf, sizeof buf);
    char *big = sf_arena_alloc(&a, 4096);
    assert_non_null(big);
    assert_false(inside(&a, big));
    char *p = sf_arena_alloc(&a, 600);
    assert_true(inside(&a, p));
    memset(p, 'x', 600);
    char *q = sf_arena_alloc(&a, 600); /* no room left in the buffer */
    assert_false(inside(&a, q));
    char *p2 = sf_arena_realloc(&a, p, 2000); /* from the buffer to malloc */
    assert_false(inside(&a, p2));
    assert_int_equal(p2[599], 'x');
    big = sf_arena_realloc(&a, big, 8192); /* a malloc'd block stays one */
    assert_non_null(big);
    sf_arena_free(&a, big);
    sf_arena_free(&a, q);
    sf_arena_free(&a, p2);
}

static void test_reset_reuses_the_buffer(void **state)
{
    (void)state;
    sf_arena a;
    sf_arena_init(&a, buf, sizeof buf);
    void *first = sf_arena_alloc(&a, 700);
    assert_true(inside(&a, first));
    for (int i = 0; i < 3; i++) {
        sf_arena_reset(&a);
        assert_ptr_equal(sf_arena_alloc(&a, 700), first);
    }
}

static void test_too_large_is_null(void **state)
{
    (void)state;
    sf_arena a;
    sf_arena_init(&a, buf, sizeof buf);
    assert_null(sf_arena_alloc(&a, SIZE_MAX));
    assert_null(sf_arena_alloc(&a, SIZE_MAX - 8));
    char *p = sf_arena_alloc(&a, 10);
    memcpy(p, "keep", 5);
    assert_null(sf_arena_realloc(&a, p, SIZE_MAX - 8));
    assert_string_equal(p, "keep"); /* a failed realloc leaves the block */
    assert_ptr_equal(sf_arena_realloc(&a, p, 20), p);
}

static void test_empty_buffer(void **state)
{
    (void)state;
    sf_arena a;
    sf_arena_init(&a, buf + 1, 0);
    char *p = sf_arena_alloc(&a, 8);
    assert_non_null(p);
    assert_false(inside(&a, p));
    sf_arena_free(&a, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_aligned_and_apart),
        cmocka_unit_test(test_realloc_last_in_place_others_copied),
        cmocka_unit_test(test_overflow_goes_to_malloc),
        cmocka_unit_test(test_reset_reuses_the_buffer),
        cmocka_unit_test(test_too_large_is_null),
        cmocka_unit_test(test_empty_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
