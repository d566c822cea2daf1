/*
 * test_objects.c - the object store port with its file adapter: put, get,
 * replace, list by prefix, refused keys, leftovers of a crashed put.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/objects/objects.h"
#include "support.h"

typedef struct seen {
    char keys[8][128];
    int n;
} seen;

static int collect(void *ctx, const char *key)
{
    seen *s = ctx;
    if (s->n < 8)
        snprintf(s->keys[s->n++], sizeof s->keys[0], "%s", key);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_file_store(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], loc[UT_PATH_MAX + 16], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    snprintf(loc, sizeof loc, "file:%s/store", dir);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, &o, &err), 0);
    assert_int_equal(sf_objects_put(o, "raw/dt=1/a.gz", "one", 3, &err), 0);
    assert_int_equal(sf_objects_put(o, "raw/dt=2/b.gz", "two", 3, &err), 0);
    assert_int_equal(sf_objects_put(o, "other/c", "three", 5, &err), 0);
    assert_int_equal(sf_objects_put(o, "raw/dt=1/a.gz", "uno!", 4, &err), 0); /* replaced */
    void *data;
    size_t len;
    assert_int_equal(sf_objects_get(o, "raw/dt=1/a.gz", &data, &len, &err), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(data, "uno!", 4);
    free(data);
    assert_int_equal(sf_objects_get(o, "raw/none", &data, &len, &err), SF_ENOENT);

    /* A crashed put's temporary file is not an object. */
    ut_join(path, dir, "store/raw/dt=2/b.gz.tmp.99");
    ut_write_file(path, "junk", 4);
    seen s = {0};
    assert_int_equal(sf_objects_list(o, "raw/", collect, &s, &err), 0);
    assert_int_equal(s.n, 2);
    qsort(s.keys, (size_t)s.n, sizeof s.keys[0], by_name);
    assert_string_equal(s.keys[0], "raw/dt=1/a.gz");
    assert_string_equal(s.keys[1], "raw/dt=2/b.gz");
    s.n = 0;
    assert_int_equal(sf_objects_list(o, "raw/dt=2", collect, &s, &err), 0);
    assert_int_equal(s.n, 1);

    assert_int_equal(sf_objects_put(o, "../escape", "x", 1, &err), SF_EINVAL);
    assert_int_equal(sf_objects_put(o, "/abs", "x", 1, &err), SF_EINVAL);
    assert_int_equal(sf_objects_put(o, "", "x", 1, &err), SF_EINVAL);
    sf_objects_close(o);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
