/*
 * test_freelist.c - freelist.h: blocks handed out and taken back, reuse of
 * the last one put, the cap on blocks kept, a block size too small to link,
 * and many threads getting and putting at once (ASan and TSan builds check
 * the races; the test checks the count).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "core/freelist.h"

static void test_get_put_reuse(void **state)
{
    (void)state;
    sf_freelist f;
    sf_error err;
    assert_int_equal(sf_freelist_init(&f, 100, 4, &err), 0);
    assert_int_equal(sf_freelist_cached(&f), 0);
    char *a = sf_freelist_get(&f), *b = sf_freelist_get(&f);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 'a', 100); /* the whole block is the caller's */
    memset(b, 'b', 100);
    sf_freelist_put(&f, a);
    sf_freelist_put(&f, NULL);
    assert_int_equal(sf_freelist_cached(&f), 1);
    assert_ptr_equal(sf_freelist_get(&f), a);
    assert_int_equal(sf_freelist_cached(&f), 0);
    sf_freelist_put(&f, a);
    sf_freelist_put(&f, b);
    sf_freelist_destroy(&f); /* frees both */
    sf_freelist_destroy(&f); /* twice is harmless */
}

static void test_keeps_at_most_max(void **state)
{
    (void)state;
    sf_freelist f;
    assert_int_equal(sf_freelist_init(&f, sizeof(void *), 3, NULL), 0);
    void *b[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(b[i] = sf_freelist_get(&f));
    for (int i = 0; i < 5; i++)
        sf_freelist_put(&f, b[i]); /* the last two are freed */
    assert_int_equal(sf_freelist_cached(&f), 3);
    sf_freelist_destroy(&f);
}

static void test_none_kept(void **state)
{
    (void)state;
    sf_freelist f;
    assert_int_equal(sf_freelist_init(&f, 64, 0, NULL), 0);
    sf_freelist_put(&f, sf_freelist_get(&f));
    assert_int_equal(sf_freelist_cached(&f), 0);
    sf_freelist_destroy(&f);
}

static void test_block_too_small(void **state)
{
    (void)state;
    sf_freelist f;
    sf_error err;
    assert_int_equal(sf_freelist_init(&f, sizeof(void *) - 1, 8, &err), SF_EINVAL);
    assert_non_null(strstr(err.msg, "must hold a pointer"));
    sf_freelist_destroy(&f); /* a failed init needs no destroy, but allows one */
}

#define THREADS 4
#define ROUNDS  20000

static void *churn(void *arg)
{
    sf_freelist *f = arg;
    void *held[8];
    for (int r = 0; r < ROUNDS; r++) {
        int n = 1 + r % 8;
        for (int i = 0; i < n; i++) {
            held[i] = sf_freelist_get(f);
            memset(held[i], r, 48);
        }
        for (int i = 0; i < n; i++)
            sf_freelist_put(f, held[i]);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    sf_freelist f;
    assert_int_equal(sf_freelist_init(&f, 48, 16, NULL), 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, &f), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_true(sf_freelist_cached(&f) <= 16);
    assert_true(sf_freelist_cached(&f) >= 8); /* the last round's blocks came back */
    sf_freelist_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_reuse), cmocka_unit_test(test_keeps_at_most_max),
        cmocka_unit_test(test_none_kept),     cmocka_unit_test(test_block_too_small),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
