/*
 * test_objects.c - the object store port's contract (objects.h), run
 * against every adapter in the table below (a new adapter adds its row):
 * put, get, replace, list by prefix, del, refused keys, put_many, a
 * read-only open that makes nothing, settings and schemes refused. Then
 * the front's put_many for adapters without one, and what is the file
 * adapter's own: a crashed put's leftovers, a folder that cannot be made,
 * a file where the store should be. And the s3 adapter's own, against
 * s3rver (tests/aws/with_emulators.sh starts it; a fresh bucket per test):
 * paged listings, put_many's chains (in order within one, side by side
 * across), credentials refused at open, its settings.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <stdbool.h>

#include "storage/objects/objects_adapter.h" /* the ops, for the front's fallback */
#include "support.h"

/* ---- the adapters ---- */

typedef struct adapter {
    const char *name;
    /* The location of a store that is not there yet, under dir. */
    void (*location)(const char *dir, char *out, size_t cap);
} adapter;

static void file_location(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "file:%s/store", dir);
}

/* A fresh bucket on the emulator (AWS_ENDPOINT_URL_S3), under a prefix. */
static void s3_location(const char *dir, char *out, size_t cap)
{
    static int n;
    (void)dir;
    snprintf(out, cap, "s3://%s-%d/store/x", getenv("SF_TEST_NAME"), ++n);
}

/* The s3 row is the last: left out when no emulator runs (no node). */
static const adapter adapters[] = {
    {"file", file_location},
    {"s3", s3_location},
};

static bool have_s3(void)
{
    return getenv("AWS_ENDPOINT_URL_S3") && getenv("SF_TEST_NAME");
}

#define LOC_MAX (UT_PATH_MAX + 32)

/* A fresh folder, and the location of a store not there yet under it. */
static void where(void **state, char dir[UT_PATH_MAX], char loc[LOC_MAX])
{
    const adapter *ad = *state;
    ut_tmpdir(dir);
    ad->location(dir, loc, LOC_MAX);
}

/* ---- helpers ---- */

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

static void make_puts(sf_object_put *puts, char keys[][64], char bodies[][32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], 64, "raw/dt=%zu/part-%zu.gz", i % 3, i);
        snprintf(bodies[i], 32, "body %zu", i);
        puts[i] = (sf_object_put){keys[i], bodies[i], strlen(bodies[i]), (unsigned)(7 - i % 4),
                                  (unsigned)(i % 3)};
    }
}

static void assert_all_there(sf_objects *o, char keys[][64], char bodies[][32], size_t n)
{
    sf_error err = {0};
    for (size_t i = 0; i < n; i++) {
        void *data;
        size_t len;
        assert_int_equal(sf_objects_get(o, keys[i], &data, &len, &err), 0);
        assert_int_equal(len, strlen(bodies[i]));
        assert_memory_equal(data, bodies[i], len);
        free(data);
    }
}

static int count(void *ctx, const char *key)
{
    (void)key;
    (*(int *)ctx)++;
    return 0;
}

/* ---- the contract ---- */

static void test_put_get_list(void **state)
{
    char dir[UT_PATH_MAX], loc[LOC_MAX];
    where(state, dir, loc);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
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

    seen s = {0};
    assert_int_equal(sf_objects_list(o, "raw/", collect, &s, &err), 0);
    assert_int_equal(s.n, 2);
    qsort(s.keys, (size_t)s.n, sizeof s.keys[0], by_name);
    assert_string_equal(s.keys[0], "raw/dt=1/a.gz");
    assert_string_equal(s.keys[1], "raw/dt=2/b.gz");
    s.n = 0;
    assert_int_equal(sf_objects_list(o, "raw/dt=2", collect, &s, &err), 0);
    assert_int_equal(s.n, 1);

    assert_int_equal(sf_objects_del(o, "other/c", &err), 0);
    assert_int_equal(sf_objects_get(o, "other/c", &data, &len, &err), SF_ENOENT);
    assert_int_equal(sf_objects_del(o, "other/c", &err), SF_ENOENT);

    assert_int_equal(sf_objects_put(o, "../escape", "x", 1, &err), SF_EINVAL);
    assert_int_equal(sf_objects_put(o, "", "x", 1, &err), SF_EINVAL);
    sf_objects_close(o);
    ut_tmpdir_remove(dir);
}

/* put_many: every object whole, in new folders too; a bad key fails the
 * call, naming it. */
static void test_put_many(void **state)
{
    char dir[UT_PATH_MAX], loc[LOC_MAX];
    where(state, dir, loc);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
    enum { N = 20 };
    sf_object_put puts[N];
    char keys[N][64], bodies[N][32];
    make_puts(puts, keys, bodies, N);
    assert_int_equal(sf_objects_put_many(o, puts, N, &err), 0);
    assert_all_there(o, keys, bodies, N);
    int n = 0;
    assert_int_equal(sf_objects_list(o, "", count, &n, &err), 0);
    assert_int_equal(n, N);
    sf_object_put bad[2] = {{"raw/dt=9/x", "x", 1, 0, 0}, {"raw/../y", "y", 1, 0, 0}};
    assert_int_equal(sf_objects_put_many(o, bad, 2, &err), SF_EINVAL);
    assert_non_null(strstr(err.msg, "raw/../y"));
    sf_objects_close(o);
    ut_tmpdir_remove(dir);
}

/* A read-only open makes nothing: SF_ENOENT where there is no store; a
 * store that is there reads as with a writer's open. */
static void test_read_only(void **state)
{
    char dir[UT_PATH_MAX], loc[LOC_MAX];
    where(state, dir, loc);
    sf_objects *o;
    sf_error err = {0};
    sf_objects_opts ro = {.read_only = true};
    assert_int_equal(sf_objects_open(loc, &ro, &o, &err), SF_ENOENT);
    assert_int_equal(sf_objects_open(loc, &ro, &o, &err), SF_ENOENT); /* made nothing */
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
    assert_int_equal(sf_objects_put(o, "raw/a", "one", 3, &err), 0);
    sf_objects_close(o);
    assert_int_equal(sf_objects_open(loc, &ro, &o, &err), 0);
    seen s = {0};
    assert_int_equal(sf_objects_list(o, "raw/", collect, &s, &err), 0);
    assert_int_equal(s.n, 1);
    void *data;
    size_t len;
    assert_int_equal(sf_objects_get(o, "raw/a", &data, &len, &err), 0);
    assert_memory_equal(data, "one", 3);
    free(data);
    sf_objects_close(o);
    ut_tmpdir_remove(dir);
}

static void test_settings(void **state)
{
    const adapter *ad = *state;
    char dir[UT_PATH_MAX], loc[LOC_MAX];
    where(state, dir, loc);
    sf_objects *o;
    sf_error err = {0};
    const char *kv[] = {"no.such=setting"};
    sf_objects_opts opts = {.extra = kv, .nextra = 1};
    int rc = sf_objects_open(loc, &opts, &o, &err);
    if (rc == 0) /* an adapter that takes settings: not this one */
        sf_objects_close(o);
    else
        assert_int_equal(rc, SF_EUSAGE);
    assert_int_equal(sf_objects_open("nosuch://x", NULL, &o, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "no adapter for 'nosuch:'"));
    assert_non_null(strstr(err.msg, ad->name)); /* among the known ones */
    ut_tmpdir_remove(dir);
}

/* ---- the front ---- */

/* Adapters without put_many: the port puts one after another, lowest batch
 * first. */
static char order[32][64];
static int norder;
static int (*file_put)(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err);

static int recording_put(sf_objects *o, const char *key, const void *data, size_t len,
                         sf_error *err)
{
    snprintf(order[norder++], sizeof order[0], "%s", key);
    return file_put(o, key, data, len, err);
}

static void test_put_many_fallback(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], loc[UT_PATH_MAX + 16];
    ut_tmpdir(dir);
    snprintf(loc, sizeof loc, "%s/store", dir);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
    sf_objects_ops ops = *o->ops;
    const sf_objects_ops *real = o->ops;
    file_put = ops.put;
    ops.put = recording_put;
    ops.put_many = NULL;
    o->ops = &ops;
    enum { N = 20 };
    sf_object_put puts[N];
    char keys[N][64], bodies[N][32];
    make_puts(puts, keys, bodies, N);
    norder = 0;
    assert_int_equal(sf_objects_put_many(o, puts, N, &err), 0);
    assert_int_equal(norder, N);
    for (int i = 1; i < N; i++) { /* batch = 7 - index % 4: never falls */
        int a = atoi(strrchr(order[i - 1], '-') + 1), b = atoi(strrchr(order[i], '-') + 1);
        assert_true(7 - a % 4 <= 7 - b % 4);
    }
    assert_all_there(o, keys, bodies, N);
    o->ops = real;
    sf_objects_close(o);
    ut_tmpdir_remove(dir);
}

/* ---- the file adapter's own ---- */

/* A crashed put's temporary file is not an object; a bad key in put_many
 * is refused before anything is put; put_many stops at a folder that
 * cannot be made, without leftovers. */
static void test_file_leftovers(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], loc[UT_PATH_MAX + 16], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    snprintf(loc, sizeof loc, "%s/store", dir);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
    assert_int_equal(sf_objects_put(o, "raw/dt=2/b.gz", "two", 3, &err), 0);
    ut_join(path, dir, "store/raw/dt=2/b.gz.tmp.99");
    ut_write_file(path, "junk", 4);
    int n = 0;
    assert_int_equal(sf_objects_list(o, "raw/", count, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sf_objects_put(o, "/abs", "x", 1, &err), SF_EINVAL);
    unlink(path);

    sf_object_put bad[2] = {{"raw/dt=9/x", "x", 1, 0, 0}, {"raw/../y", "y", 1, 0, 0}};
    assert_int_equal(sf_objects_put_many(o, bad, 2, &err), SF_EINVAL);
    n = 0;
    assert_int_equal(sf_objects_list(o, "", count, &n, &err), 0);
    assert_int_equal(n, 1);

    ut_join(path, dir, "store/file");
    ut_write_file(path, "f", 1);
    sf_object_put blocked[2] = {{"raw/dt=9/ok", "x", 1, 0, 0}, {"file/under", "y", 1, 1, 0}};
    assert_int_equal(sf_objects_put_many(o, blocked, 2, &err), SF_EIO);
    n = 0;
    assert_int_equal(sf_objects_list(o, "raw/dt=9", count, &n, &err), 0);
    assert_int_equal(n, 0); /* written, never renamed: gone */
    char cmd[UT_PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | grep -q .", dir);
    assert_int_not_equal(system(cmd), 0);
    sf_objects_close(o);
    ut_tmpdir_remove(dir);
}

/* A reader's open of the file adapter: the store's folder is not made, a
 * bare path is a file store, a file in the folder's place is SF_EINVAL;
 * a setting is refused naming it. */
static void test_file_reader(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "store");
    sf_objects *o;
    sf_error err = {0};
    sf_objects_opts ro = {.read_only = true};
    assert_int_equal(sf_objects_open(path, &ro, &o, &err), SF_ENOENT);
    assert_int_equal(access(path, F_OK), -1); /* not made */
    assert_int_equal(sf_objects_open(path, NULL, &o, &err), 0);
    assert_int_equal(sf_objects_put(o, "raw/a", "one", 3, &err), 0);
    sf_objects_close(o);
    assert_int_equal(sf_objects_open(path, &ro, &o, &err), 0); /* a bare path */
    sf_objects_close(o);
    ut_join(path, dir, "store/raw/a");
    char file_loc[UT_PATH_MAX + 16];
    snprintf(file_loc, sizeof file_loc, "file:%s", path);
    assert_int_equal(sf_objects_open(file_loc, &ro, &o, &err), SF_EINVAL);
    const char *kv[] = {"x=1"};
    sf_objects_opts opts = {.extra = kv, .nextra = 1};
    assert_int_equal(sf_objects_open(file_loc, &opts, &o, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "a file object store takes no objects option ('x=1')"));
    ut_tmpdir_remove(dir);
}

/* ---- the s3 adapter's own ---- */

static int count_keys(void *ctx, const char *key)
{
    (void)key;
    (*(int *)ctx)++;
    return 0;
}

static int stop_at_3(void *ctx, const char *key)
{
    (void)key;
    return ++*(int *)ctx == 3;
}

/* More keys than one ListObjectsV2 page holds (1000): every one listed once;
 * the prefix of the location is not part of the keys; a callback stops it. */
static void test_s3_paging(void **state)
{
    (void)state;
    char loc[LOC_MAX];
    s3_location(NULL, loc, sizeof loc);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
    enum { N = 1105 };
    static sf_object_put puts[N];
    static char keys[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "raw/p/%05d %s", i, i % 2 ? "a+b" : "c&d");
        puts[i] = (sf_object_put){keys[i], keys[i], strlen(keys[i]), (unsigned)(i % 3), 0};
    }
    assert_int_equal(sf_objects_put_many(o, puts, N, &err), 0);
    int n = 0;
    assert_int_equal(sf_objects_list(o, "raw/", count_keys, &n, &err), 0);
    assert_int_equal(n, N);
    n = 0;
    assert_int_equal(sf_objects_list(o, "raw/p/0000", count_keys, &n, &err), 0);
    assert_int_equal(n, 10);
    n = 0;
    assert_int_equal(sf_objects_list(o, "", stop_at_3, &n, &err), 0);
    assert_int_equal(n, 3);
    void *data;
    size_t len;
    assert_int_equal(sf_objects_get(o, keys[7], &data, &len, &err), 0);
    assert_int_equal(len, strlen(keys[7]));
    assert_memory_equal(data, keys[7], len);
    free(data);
    assert_int_equal(sf_objects_put(o, "empty", "", 0, &err), 0);
    assert_int_equal(sf_objects_get(o, "empty", &data, &len, &err), 0);
    assert_int_equal(len, 0);
    free(data);
    sf_objects_close(o);
}

/* What one listing of test_s3_chains's store showed. */
enum { CHAIN1 = 4 };
typedef struct sighting {
    bool slow, after_slow, chain1[CHAIN1];
} sighting;

typedef struct watch {
    const char *loc;
    atomic_bool stop;
    int looks, out_of_order, pipelined, failed;
} watch;

static int sight(void *ctx, const char *key)
{
    sighting *s = ctx;
    if (strstr(key, "c0-a-sf-delay-"))
        s->slow = true;
    else if (strcmp(key, "c0-b") == 0)
        s->after_slow = true;
    else if (strncmp(key, "c1-", 3) == 0 && key[3] >= '0' && key[3] < '0' + CHAIN1)
        s->chain1[key[3] - '0'] = true;
    return 0;
}

/* Lists the store over and over while put_many runs (its own handle):
 * counts listings that show an object before one of its chain's earlier
 * batch, and those that show chain 1 done while chain 0's first is not. */
static void *watcher(void *arg)
{
    watch *w = arg;
    sf_objects_opts ro = {.read_only = true};
    sf_objects *o;
    sf_error err = {0};
    if (sf_objects_open(w->loc, &ro, &o, &err) < 0) {
        w->failed = 1;
        return NULL;
    }
    while (!atomic_load(&w->stop)) {
        sighting s = {0};
        if (sf_objects_list(o, "", sight, &s, &err) < 0) {
            w->failed = 1;
            break;
        }
        w->looks++;
        w->out_of_order += s.after_slow && !s.slow;
        for (int i = 1; i < CHAIN1; i++)
            w->out_of_order += s.chain1[i] && !s.chain1[i - 1];
        w->pipelined += s.chain1[CHAIN1 - 1] && !s.slow;
    }
    sf_objects_close(o);
    return NULL;
}

/* put_many's order is by batch within a chain, and only there: a chain's
 * object is never visible before its chain's earlier batches, and one slow
 * PUT (the emulator holds back a key with sf-delay-MS in it) does not hold
 * up another chain. */
static void test_s3_chains(void **state)
{
    (void)state;
    char loc[LOC_MAX];
    s3_location(NULL, loc, sizeof loc);
    sf_objects *o;
    sf_error err = {0};
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), 0);
    sf_object_put puts[2 + CHAIN1] = {{"c0-a-sf-delay-1500", "a", 1, 0, 0}, {"c0-b", "b", 1, 1, 0}};
    char keys[CHAIN1][8];
    for (unsigned i = 0; i < CHAIN1; i++) {
        snprintf(keys[i], sizeof keys[i], "c1-%u", i);
        puts[2 + i] = (sf_object_put){keys[i], keys[i], strlen(keys[i]), i, 1};
    }
    watch w = {.loc = loc};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watcher, &w), 0);
    assert_int_equal(sf_objects_put_many(o, puts, 2 + CHAIN1, &err), 0);
    atomic_store(&w.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(w.failed, 0);
    assert_true(w.looks > 0);
    assert_int_equal(w.out_of_order, 0);
    assert_true(w.pipelined > 0);
    sf_objects_close(o);
}

/* Credentials s3rver does not know are refused at open, clearly and without
 * the secret; a bucket that is not there with create=false too. */
static void test_s3_refused(void **state)
{
    (void)state;
    char loc[LOC_MAX];
    s3_location(NULL, loc, sizeof loc);
    sf_objects *o;
    sf_error err = {0};
    setenv("AWS_ACCESS_KEY_ID", "AKIANOTKNOWN", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "the-secret-never-shown", 1);
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), SF_EPERM);
    assert_non_null(strstr(err.msg, "S3 ListObjectsV2 (bucket "));
    assert_non_null(strstr(err.msg, "HTTP 403"));
    assert_non_null(strstr(err.msg, "access key id AKIANOTKNOWN from the environment"));
    assert_null(strstr(err.msg, "the-secret-never-shown"));
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    const char *no_create[] = {"create=false"};
    sf_objects_opts opts = {.extra = no_create, .nextra = 1};
    assert_int_equal(sf_objects_open(loc, &opts, &o, &err), SF_ENOENT);
    assert_non_null(strstr(err.msg, "does not exist (create=false)"));
    const char *bad[] = {"in-flight=0"};
    opts.extra = bad;
    assert_int_equal(sf_objects_open(loc, &opts, &o, &err), SF_EUSAGE);
    assert_int_equal(sf_objects_open("s3://A_B/x", NULL, &o, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "not a bucket name"));
    unsetenv("AWS_REGION");
    assert_int_equal(sf_objects_open(loc, NULL, &o, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "no AWS region for S3"));
    setenv("AWS_REGION", "us-east-1", 1);
}

int main(void)
{
    const struct CMUnitTest contract[] = {
        cmocka_unit_test(test_put_get_list),
        cmocka_unit_test(test_put_many),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_settings),
    };
    const struct CMUnitTest front_and_file[] = {
        cmocka_unit_test(test_put_many_fallback),
        cmocka_unit_test(test_file_leftovers),
        cmocka_unit_test(test_file_reader),
    };
    const struct CMUnitTest s3_own[] = {
        cmocka_unit_test(test_s3_paging),
        cmocka_unit_test(test_s3_chains),
        cmocka_unit_test(test_s3_refused),
    };
    size_t nadapters = sizeof adapters / sizeof adapters[0];
    if (!have_s3()) {
        fprintf(stderr, "objects: the s3 adapter is skipped: no S3 emulator (node is not "
                        "installed; tests/aws/with_emulators.sh starts s3rver when it is)\n");
        nadapters--;
    }
    int failed =
        ut_run_per_adapter("objects contract", contract, sizeof contract / sizeof *contract,
                           adapters, sizeof adapters[0], nadapters);
    failed +=
        cmocka_run_group_tests_name("objects front, file adapter", front_and_file, NULL, NULL);
    if (have_s3())
        failed += cmocka_run_group_tests_name("objects s3 adapter", s3_own, NULL, NULL);
    return failed;
}
