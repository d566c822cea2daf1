/*
 * test_store.c - store.h over the lmdb adapter: a transaction's puts seen
 * inside it and after commit, not after abort; get of absent keys; prefix
 * scans forwards from a key and backwards before a key, at the edges (an
 * empty store, a prefix of 0xff bytes, a bound below or above every key);
 * a store whose folder cannot be made is refused naming it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/store/store.h"
#include "support.h"

typedef struct seen {
    char keys[16][8];
    int n;
    int stop_after;
} seen;

static int note(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val, (void)vlen;
    seen *s = ctx;
    memcpy(s->keys[s->n], key, klen < 7 ? klen : 7);
    s->keys[s->n][klen < 7 ? klen : 7] = '\0';
    s->n++;
    return s->stop_after && s->n == s->stop_after;
}

static sf_store *open_store(char dir[UT_PATH_MAX])
{
    ut_tmpdir(dir);
    sf_store *s;
    sf_error err = {0};
    assert_int_equal(sf_store_open(dir, false, &s, &err), 0);
    return s;
}

static void put_all(sf_store *s, const char *const *keys, size_t n)
{
    sf_store_txn *t;
    sf_error err = {0};
    assert_int_equal(s->ops->begin(s, true, &t, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s->ops->put(t, keys[i], strlen(keys[i]), "v", 1, &err), 0);
    assert_int_equal(s->ops->commit(t, &err), 0);
}

static void test_transactions(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    sf_store *s = open_store(dir);
    sf_store_txn *t;
    sf_error err = {0};
    const void *v;
    size_t n;
    assert_int_equal(s->ops->begin(s, true, &t, &err), 0);
    assert_int_equal(s->ops->put(t, "k", 1, "one", 3, &err), 0);
    assert_int_equal(s->ops->get(t, "k", 1, &v, &n, &err), 0); /* its own put */
    assert_memory_equal(v, "one", 3);
    s->ops->abort(t);
    assert_int_equal(s->ops->begin(s, false, &t, &err), 0);
    assert_int_equal(s->ops->get(t, "k", 1, &v, &n, &err), SF_ENOENT);
    s->ops->abort(t);
    const char *keys[] = {"k"};
    put_all(s, keys, 1);
    assert_int_equal(s->ops->begin(s, false, &t, &err), 0);
    assert_int_equal(s->ops->get(t, "k", 1, &v, &n, &err), 0);
    s->ops->abort(t);
    sf_store_close(s);
    ut_tmpdir_remove(dir);
}

static void test_scans(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    sf_store *s = open_store(dir);
    sf_store_txn *t;
    sf_error err = {0};
    assert_int_equal(s->ops->begin(s, false, &t, &err), 0);
    seen e = {0};
    assert_int_equal(s->ops->scan_back(t, "a", 1, NULL, 0, note, &e, &err), 0);
    assert_int_equal(e.n, 0); /* an empty store */
    s->ops->abort(t);
    const char *keys[] = {"a1",
                          "a2",
                          "a3",
                          "b1",
                          "\xff\xff"
                          "1",
                          "\xff\xff"
                          "2",
                          "c"};
    put_all(s, keys, 7);
    assert_int_equal(s->ops->begin(s, false, &t, &err), 0);
    seen f = {0}, b = {0}, bb = {0}, ff = {0}, low = {0}, high = {0}, stop = {.stop_after = 1};
    assert_int_equal(s->ops->scan(t, "a", 1, "a2", 2, note, &f, &err), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.keys[0], "a2");
    assert_int_equal(s->ops->scan_back(t, "a", 1, NULL, 0, note, &b, &err), 0);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.keys[0], "a3");
    assert_string_equal(b.keys[2], "a1");
    assert_int_equal(s->ops->scan_back(t, "a", 1, "a3", 2, note, &bb, &err), 0);
    assert_int_equal(bb.n, 2); /* strictly before the bound */
    assert_string_equal(bb.keys[0], "a2");
    assert_int_equal(s->ops->scan_back(t, "\xff\xff", 2, NULL, 0, note, &ff, &err), 0);
    assert_int_equal(ff.n, 2);
    assert_string_equal(ff.keys[0], "\xff\xff"
                                    "2");
    assert_int_equal(s->ops->scan_back(t, "a", 1, "a0", 2, note, &low, &err), 0);
    assert_int_equal(low.n, 0);
    assert_int_equal(s->ops->scan_back(t, "b", 1, "zz", 2, note, &high, &err), 0);
    assert_int_equal(high.n, 1);
    assert_int_equal(s->ops->scan_back(t, "", 0, NULL, 0, note, &stop, &err), 0);
    assert_int_equal(stop.n, 1); /* the callback stopped it */
    assert_string_equal(stop.keys[0], "\xff\xff"
                                      "2");
    s->ops->abort(t);
    sf_store_close(s);
    ut_tmpdir_remove(dir);
}

/* A read-only open makes nothing: SF_ENOENT while there is no store. */
static void test_read_only_absent(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], at[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(at, dir, "history");
    sf_store *s;
    sf_error err = {0};
    assert_int_equal(sf_store_open(at, true, &s, &err), SF_ENOENT);
    assert_int_equal(access(at, F_OK), -1);
    assert_int_equal(sf_store_open(at, false, &s, &err), 0);
    sf_store_close(s);
    assert_int_equal(sf_store_open(at, true, &s, &err), 0);
    sf_store_close(s);
    ut_tmpdir_remove(dir);
}

/* The store's folder is made when missing (one level); a folder that
 * cannot be made is said so, with the path, not left to LMDB. */
static void test_folder(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX + 32];
    ut_tmpdir(dir);
    sf_store *s;
    sf_error err = {0};
    snprintf(path, sizeof path, "%s/new", dir);
    assert_int_equal(sf_store_open(path, false, &s, &err), 0);
    sf_store_close(s);
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/file/below", dir);
    assert_int_equal(sf_store_open(path, false, &s, &err), SF_EIO);
    assert_non_null(strstr(err.msg, "/file/below: cannot make the folder: Not a directory"));
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_scans),
        cmocka_unit_test(test_read_only_absent),
        cmocka_unit_test(test_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
