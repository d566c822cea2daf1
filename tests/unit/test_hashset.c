/*
 * test_hashset.c - hashset.h: adding values and hashes, duplicates, growth
 * past the load factor (small and huge-page-sized tables), reserve, prefetch
 * on an empty set, the hash function's basic properties, free and reuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/hashset.h"

static void test_empty(void **state)
{
    (void)state;
    sf_hashset s;
    sf_hashset_init(&s);
    assert_int_equal(sf_hashset_count(&s), 0);
    assert_null(s.slots);
    sf_hashset_prefetch(&s, sf_hashset_hash("x", 1)); /* no table yet: a no-op */
    sf_hashset_free(&s);
    assert_int_equal(sf_hashset_count(&s), 0);
}

/* Add a value; whether it was new. */
static bool added(sf_hashset *s, const void *bytes, size_t len)
{
    bool fresh = false;
    assert_int_equal(sf_hashset_add(s, bytes, len, &fresh), 0);
    return fresh;
}

static void test_add_and_duplicates(void **state)
{
    (void)state;
    sf_hashset s;
    sf_hashset_init(&s);
    assert_true(added(&s, "536365", 6));
    assert_true(added(&s, "536366", 6));
    assert_false(added(&s, "536365", 6));
    assert_true(added(&s, "53636", 5)); /* a prefix is another value */
    assert_true(added(&s, "", 0));
    assert_false(added(&s, "", 0));
    assert_int_equal(sf_hashset_add(&s, "x", 1, NULL), 0); /* whether it was new: not asked */
    assert_int_equal(sf_hashset_count(&s), 5);
    sf_hashset_free(&s);
}

static void test_add_hash_matches_add(void **state)
{
    (void)state;
    sf_hashset s;
    sf_hashset_init(&s);
    sf_hash128 h = sf_hashset_hash("85123A", 6);
    sf_hashset_prefetch(&s, h);
    bool fresh = false;
    assert_int_equal(sf_hashset_add_hash(&s, h, &fresh), 0);
    assert_true(fresh);
    assert_false(added(&s, "85123A", 6));
    sf_hashset_prefetch(&s, h);
    assert_int_equal(sf_hashset_add_hash(&s, h, &fresh), 0);
    assert_false(fresh);
    assert_int_equal(sf_hashset_count(&s), 1);
    sf_hashset_free(&s);
}

static void test_hash(void **state)
{
    (void)state;
    sf_hash128 a = sf_hashset_hash("abc", 3), b = sf_hashset_hash("abc", 3);
    sf_hash128 c = sf_hashset_hash("abd", 3), e = sf_hashset_hash("", 0);
    assert_true(a.lo == b.lo && a.hi == b.hi);
    assert_false(a.lo == c.lo && a.hi == c.hi);
    assert_false(e.lo == 0 && e.hi == 0); /* (0, 0) is never a hash: it marks empty slots */
}

/* Add n distinct 64-bit values starting at base; check each was new (or
 * not, as want says). */
static void add_range(sf_hashset *s, uint64_t base, uint64_t n, bool want)
{
    for (uint64_t i = base; i < base + n; i++) {
        bool fresh = !want;
        int rc = sf_hashset_add(s, &i, sizeof i, &fresh);
        if (rc != 0 || fresh != want)
            fail_msg("value %llu: add returned %d, new %d, want new %d", (unsigned long long)i, rc,
                     fresh, want);
    }
}

static void test_growth_keeps_every_value(void **state)
{
    (void)state;
    sf_hashset s;
    sf_hashset_init(&s);
    add_range(&s, 0, 100000, true);
    assert_int_equal(sf_hashset_count(&s), 100000);
    assert_true(s.count * 10 <= s.cap * 7); /* load factor at most 0.7 */
    assert_int_equal(s.cap & (s.cap - 1), 0);
    add_range(&s, 0, 100000, false);
    add_range(&s, 100000, 10, true);
    assert_int_equal(sf_hashset_count(&s), 100010);
    sf_hashset_free(&s);
    assert_null(s.slots);
    /* usable again after free */
    add_range(&s, 5, 3, true);
    assert_int_equal(sf_hashset_count(&s), 3);
    sf_hashset_free(&s);
}

static void test_reserve(void **state)
{
    (void)state;
    sf_hashset s;
    sf_hashset_init(&s);
    assert_int_equal(sf_hashset_reserve(&s, 200000), 0);
    size_t cap = s.cap;
    assert_true(200000 * 10 <= cap * 7);
    add_range(&s, 0, 200000, true);
    assert_int_equal(s.cap, cap);                    /* no growth needed */
    assert_int_equal(sf_hashset_reserve(&s, 10), 0); /* never shrinks */
    assert_int_equal(s.cap, cap);
    add_range(&s, 0, 200000, false);
    assert_int_equal(sf_hashset_reserve(&s, 400000), 0); /* grows with the values kept */
    assert_true(s.cap > cap);
    add_range(&s, 0, 200000, false);
    assert_int_equal(sf_hashset_count(&s), 200000);
    sf_hashset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_add_and_duplicates),
        cmocka_unit_test(test_add_hash_matches_add),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_growth_keeps_every_value),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
