/*
 * test_gateway_parts.c - the gateway's building blocks without HTTP: the
 * event-id window (dedup.h), API keys (keys.h), the settings table
 * (config.h) and gzip bodies (gunzip.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "core/config.h"
#include "stream/dedup.h"
#include "gateway/gunzip.h"
#include "gateway/keys.h"
#include "stream/stream.h"
#include "support.h"

static void id_of(char *buf, size_t cap, int i)
{
    snprintf(buf, cap, "event-%d", i);
}

static void test_dedup_window(void **state)
{
    (void)state;
    sf_dedup *d;
    sf_error err = {0};
    assert_int_equal(sf_dedup_new(100, 1, &d, &err), 0);
    char id[32];
    for (int i = 0; i < 100; i++) {
        id_of(id, sizeof id, i);
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_NEW);
        /* Reserved but not yet appended: others must retry. */
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_IN_FLIGHT);
        sf_dedup_commit(d, 0, UT_AT((uint64_t)i), id, strlen(id));
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_SEEN);
    }
    assert_int_equal(sf_dedup_count(d), 100);
    /* 50 more push the 50 oldest out of the window. */
    for (int i = 100; i < 150; i++) {
        id_of(id, sizeof id, i);
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_NEW);
        sf_dedup_commit(d, 0, UT_AT((uint64_t)i), id, strlen(id));
    }
    assert_int_equal(sf_dedup_count(d), 100);
    for (int i = 0; i < 150; i++) {
        id_of(id, sizeof id, i);
        sf_dedup_state want = i < 50 ? SF_DEDUP_NEW : SF_DEDUP_SEEN;
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), want);
        if (want == SF_DEDUP_NEW)
            sf_dedup_release(d, id, strlen(id));
    }
    /* A released id is forgotten. */
    assert_int_equal(sf_dedup_reserve(d, "x", 1), SF_DEDUP_NEW);
    sf_dedup_release(d, "x", 1);
    assert_int_equal(sf_dedup_reserve(d, "x", 1), SF_DEDUP_NEW);
    sf_dedup_free(d);
}

static void test_dedup_churn(void **state)
{
    (void)state;
    /* Many ids through a small window: backward-shift deletion must keep
     * every id in the window findable. */
    sf_dedup *d;
    sf_error err = {0};
    assert_int_equal(sf_dedup_new(1000, 1, &d, &err), 0);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        id_of(id, sizeof id, i);
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_NEW);
        sf_dedup_commit(d, 0, UT_AT((uint64_t)i), id, strlen(id));
        if (i % 997 == 0)
            for (int j = i > 999 ? i - 999 : 0; j <= i; j++) {
                id_of(id, sizeof id, j);
                assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_SEEN);
            }
    }
    sf_dedup_free(d);
}

static void test_dedup_load_from_log(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(dir, NULL, &s, &err), 0);
    sf_record recs[40];
    for (int i = 0; i < 40; i++) {
        char inv[16];
        snprintf(inv, sizeof inv, "5%05d", i);
        ut_make(&recs[i], inv, "S1", "D", 1, UT_T0, 1000, 12345, "France");
        if (i % 2 == 0) {
            recs[i].event_id_len =
                (uint8_t)snprintf(recs[i].event_id, sizeof recs[i].event_id, "ev-%d", i);
        }
    }
    assert_int_equal(sf_stream_append(s, recs, 40, NULL, NULL, &err), 0);
    sf_dedup *d;
    assert_int_equal(sf_dedup_new(1000, sf_stream_partitions(s), &d, &err), 0);
    assert_int_equal(sf_dedup_load(d, s, &err), 0);
    assert_int_equal(sf_dedup_count(d), 20);
    assert_int_equal(sf_dedup_reserve(d, "ev-4", 4), SF_DEDUP_SEEN);
    assert_int_equal(sf_dedup_reserve(d, "ev-5", 4), SF_DEDUP_NEW);
    sf_dedup_free(d);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* What dedup.h promises: each partition keeps the ids of its own last
 * ceil(W / P) records, whatever the other partitions do, and an id the log
 * holds twice stays while either place is in the window. */
static void test_dedup_per_partition(void **state)
{
    (void)state;
    sf_dedup *d;
    sf_error err = {0};
    char id[32];
    assert_int_equal(sf_dedup_new(7, 2, &d, &err), 0); /* 4 records of each partition */
    assert_int_equal(sf_dedup_per_partition(d), 4);
    sf_dedup_commit(d, 1, UT_AT(0), "b0", 2);
    for (int i = 0; i < 10; i++) {
        id_of(id, sizeof id, i);
        sf_dedup_commit(d, 0, UT_AT((uint64_t)i), id, strlen(id));
    }
    for (int i = 0; i < 10; i++) {
        id_of(id, sizeof id, i);
        sf_dedup_state st = sf_dedup_reserve(d, id, strlen(id));
        assert_int_equal(st, i < 6 ? SF_DEDUP_NEW : SF_DEDUP_SEEN);
        if (st == SF_DEDUP_NEW)
            sf_dedup_release(d, id, strlen(id));
    }
    assert_int_equal(sf_dedup_reserve(d, "b0", 2), SF_DEDUP_SEEN); /* partition 1 is quiet */
    /* Records without ids take their places: offset 13 leaves 10..13. */
    sf_dedup_commit(d, 0, UT_AT(13), "late", 4);
    id_of(id, sizeof id, 9);
    assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_NEW);
    sf_dedup_release(d, id, strlen(id));
    /* An id twice in partition 1, at 1 and 3. */
    sf_dedup_commit(d, 1, UT_AT(1), "x", 1);
    sf_dedup_commit(d, 1, UT_AT(3), "x", 1);
    sf_dedup_commit(d, 1, UT_AT(5), "y", 1); /* 0 and 1 leave */
    assert_int_equal(sf_dedup_reserve(d, "b0", 2), SF_DEDUP_NEW);
    sf_dedup_release(d, "b0", 2);
    assert_int_equal(sf_dedup_reserve(d, "x", 1), SF_DEDUP_SEEN);
    sf_dedup_commit(d, 1, UT_AT(7), "z", 1); /* 3 leaves */
    assert_int_equal(sf_dedup_reserve(d, "x", 1), SF_DEDUP_NEW);
    sf_dedup_release(d, "x", 1);
    sf_dedup_free(d);

    /* Unbounded: nothing leaves, the table grows. */
    assert_int_equal(sf_dedup_new(0, 3, &d, &err), 0);
    for (int i = 0; i < 5000; i++) {
        id_of(id, sizeof id, i);
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_NEW);
        sf_dedup_commit(d, (uint32_t)i % 3, UT_AT((uint64_t)i), id, strlen(id));
    }
    assert_int_equal(sf_dedup_count(d), 5000);
    for (int i = 0; i < 5000; i += 7) {
        id_of(id, sizeof id, i);
        assert_int_equal(sf_dedup_reserve(d, id, strlen(id)), SF_DEDUP_SEEN);
    }
    sf_dedup_free(d);
}

/* The window loaded from a log holds, for each partition, the ids among its
 * last ceil(W / P) records, exactly; the one the commits made holds them
 * too (and may hold older ones until a later id of their partition comes). */
static void test_dedup_load_per_partition(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s;
    sf_error err = {0};
    sf_stream_opts opts = {.partitions = 4};
    assert_int_equal(sf_stream_open(dir, &opts, &s, &err), 0);
    enum { N = 300, W = 40 };
    static sf_record recs[N];
    static uint32_t parts[N];
    static sf_pos offs[N];
    for (int i = 0; i < N; i++) {
        char inv[16];
        snprintf(inv, sizeof inv, "5%05d", i % 37 + (i < 100 ? 0 : 1000)); /* uneven */
        ut_make(&recs[i], inv, "S1", "D", 1, UT_T0, 1000, 12345, "France");
        if (i % 3)
            recs[i].event_id_len =
                (uint8_t)snprintf(recs[i].event_id, sizeof recs[i].event_id, "ev-%d", i);
    }
    assert_int_equal(sf_stream_append(s, recs, N, parts, offs, &err), 0);
    sf_dedup *loaded, *live;
    assert_int_equal(sf_dedup_new(W, 4, &loaded, &err), 0);
    assert_int_equal(sf_dedup_new(W, 4, &live, &err), 0);
    assert_int_equal(sf_dedup_load(loaded, s, &err), 0);
    uint64_t end[4] = {0};
    for (int i = 0; i < N; i++) {
        if (recs[i].event_id_len)
            sf_dedup_commit(live, parts[i], &offs[i], recs[i].event_id, recs[i].event_id_len);
        end[parts[i]] = ut_off(&offs[i]) + 1;
    }
    for (int i = 0; i < N; i++) {
        if (!recs[i].event_id_len)
            continue;
        bool in = ut_off(&offs[i]) + W / 4 >= end[parts[i]];
        sf_dedup_state want = in ? SF_DEDUP_SEEN : SF_DEDUP_NEW;
        const char *ev = recs[i].event_id;
        assert_int_equal(sf_dedup_reserve(loaded, ev, recs[i].event_id_len), want);
        /* Live, an id leaves when a later id of its partition pushes it
         * out: records without ids after it do not (yet). */
        if (in)
            assert_int_equal(sf_dedup_reserve(live, ev, recs[i].event_id_len), SF_DEDUP_SEEN);
    }
    sf_dedup_free(loaded);
    sf_dedup_free(live);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

static void test_keys(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], key[SF_KEY_TEXT_LEN + 1], key2[SF_KEY_TEXT_LEN + 1];
    ut_tmpdir(dir);
    sf_keys *k, *other;
    sf_error err = {0};
    sf_key_info info;
    assert_int_equal(sf_keys_open(dir, &k, &err), 0);
    assert_int_equal(sf_keys_create(k, SF_ROLE_NONE, "x", key, &info, &err), SF_EINVAL);
    assert_int_equal(sf_keys_create(k, SF_ROLE_INGEST, "bad\tname", key, &info, &err), SF_EINVAL);
    assert_int_equal(sf_keys_create(k, SF_ROLE_INGEST, "loader", key, &info, &err), 0);
    assert_int_equal(strlen(key), SF_KEY_TEXT_LEN);
    assert_int_equal(strncmp(key, "sfk_", 4), 0);
    assert_int_equal(sf_keys_verify(k, key, strlen(key)), SF_ROLE_INGEST);
    key[10] ^= 1;
    assert_int_equal(sf_keys_verify(k, key, strlen(key)), SF_ROLE_NONE);
    key[10] ^= 1;
    assert_int_equal(sf_keys_verify(k, key, strlen(key) - 1), SF_ROLE_NONE);
    /* Another handle (another process) sees the key and adds one. */
    assert_int_equal(sf_keys_open(dir, &other, &err), 0);
    assert_int_equal(sf_keys_verify(other, key, strlen(key)), SF_ROLE_INGEST);
    assert_int_equal(sf_keys_create(other, SF_ROLE_ANALYST, "", key2, NULL, &err), 0);
    sf_key_info list[4];
    assert_int_equal(sf_keys_list(other, list, 4), 2);
    /* Revoked through one handle, refused by the other once it reloads. */
    assert_int_equal(sf_keys_revoke(other, info.id, &err), 0);
    assert_int_equal(sf_keys_revoke(other, "000000000000", &err), SF_ENOENT);
    sleep(2);
    assert_int_equal(sf_keys_verify(k, key, strlen(key)), SF_ROLE_NONE);
    assert_int_equal(sf_keys_verify(k, key2, strlen(key2)), SF_ROLE_ANALYST);
    sf_keys_close(other);
    sf_keys_close(k);
    /* A damaged file is an error naming the line. */
    char path[UT_PATH_MAX];
    ut_join(path, dir, "keys");
    ut_write_file(path, "# header\nnot a key line\n", 24);
    assert_int_equal(sf_keys_open(dir, &k, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "keys:2"));
    ut_tmpdir_remove(dir);
}

static sf_setting table[] = {
    {"listen", SF_SET_STRING, "127.0.0.1:8080", 0, 0, "", NULL, 0, 0},
    {"max-body", SF_SET_BYTES, "8M", 1024, 1 << 30, "", NULL, 0, 0},
    {"timeout", SF_SET_DURATION, "60s", 1000, 3600000, "", NULL, 0, 0},
    {"threads", SF_SET_INT, "2", 1, 64, "", NULL, 0, 0},
    {"verbose", SF_SET_BOOL, "false", 0, 0, "", NULL, 0, 0},
};
#define N ((int)(sizeof table / sizeof table[0]))

static int load(int argc, char **argv, sf_error *err)
{
    char **rest;
    int nrest;
    bool help;
    int rc = sf_config_load(table, N, argc, argv, &rest, &nrest, &help, err);
    free(rest);
    return rc;
}

static void test_config_precedence(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "shopflow.conf");
    const char *file = "# comment\nthreads = 4\nmax-body = 16M\ntimeout = 90s\n";
    ut_write_file(path, file, strlen(file));
    sf_error err = {0};
    setenv("SHOPFLOW_THREADS", "8", 1);
    setenv("SHOPFLOW_TIMEOUT", "500ms", 1);
    char *argv[] = {"--config", path, "--timeout", "2m", "pos", "--verbose"};
    assert_int_equal(load(6, argv, &err), SF_EUSAGE); /* 500ms < min 1s, from env */
    assert_non_null(strstr(err.msg, "SHOPFLOW_TIMEOUT"));
    setenv("SHOPFLOW_TIMEOUT", "5s", 1);
    assert_int_equal(load(6, argv, &err), 0);
    assert_int_equal(sf_config_get(table, N, "threads")->num, 8);         /* env over file */
    assert_int_equal(sf_config_get(table, N, "max-body")->num, 16 << 20); /* file over default */
    assert_int_equal(sf_config_get(table, N, "timeout")->num, 120000);    /* flag over env */
    assert_int_equal(sf_config_get(table, N, "verbose")->num, 1);
    assert_int_equal(sf_config_get(table, N, "timeout")->source, SF_SRC_FLAG);
    assert_string_equal(sf_config_get(table, N, "listen")->text, "127.0.0.1:8080");
    unsetenv("SHOPFLOW_THREADS");
    unsetenv("SHOPFLOW_TIMEOUT");

    char *bad1[] = {"--threads", "65"};
    assert_int_equal(load(2, bad1, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "out of range"));
    char *bad2[] = {"--max-body", "lots"};
    assert_int_equal(load(2, bad2, &err), SF_EUSAGE);
    char *bad3[] = {"--nosuch", "1"};
    assert_int_equal(load(2, bad3, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "--nosuch"));
    char *bad4[] = {"--threads"};
    assert_int_equal(load(1, bad4, &err), SF_EUSAGE);
    const char *badfile = "threads 4\n";
    ut_write_file(path, badfile, strlen(badfile));
    char *argv2[] = {"--config", path};
    assert_int_equal(load(2, argv2, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, ":1:"));
    sf_config_free();
    ut_tmpdir_remove(dir);
}

/* A repeatable setting keeps every value of its strongest source; a bool
 * flag leaves a word that is not a bool alone; "--" ends the flags;
 * durations take decimals. */
static sf_setting words_table[] = {
    {.name = "opt", .type = SF_SET_LIST, .help = ""},
    {.name = "json", .type = SF_SET_BOOL, .def = "false", .help = ""},
    {.name = "wait", .type = SF_SET_DURATION, .def = "0.1", .max = 86400000, .help = ""},
};
#define NW ((int)(sizeof words_table / sizeof words_table[0]))

static void test_config_lists_and_words(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "shopflow.conf");
    const char *file = "opt = a=1\nopt = b=2\n";
    ut_write_file(path, file, strlen(file));
    sf_error err = {0};
    char **rest;
    int nrest;
    bool help;
    sf_setting *opt = &words_table[0];

    char *from_file[] = {"--config", path, "--json", "FILE", "--wait", "1.5s"};
    assert_int_equal(sf_config_load(words_table, NW, 6, from_file, &rest, &nrest, &help, &err), 0);
    assert_int_equal(opt->num, 2);
    assert_string_equal(sf_config_item(opt, 0), "a=1");
    assert_string_equal(sf_config_item(opt, 1), "b=2");
    assert_null(sf_config_item(opt, 2));
    assert_int_equal(sf_config_get(words_table, NW, "json")->num, 1);
    assert_int_equal(nrest, 1); /* FILE is a word, not --json's value */
    assert_string_equal(rest[0], "FILE");
    assert_int_equal(sf_config_get(words_table, NW, "wait")->num, 1500);
    free(rest);

    setenv("SHOPFLOW_OPT", "e=5", 1); /* the environment's one value wins over the file */
    char *none[] = {"--config", path, "--json", "false"};
    assert_int_equal(sf_config_load(words_table, NW, 4, none, &rest, &nrest, &help, &err), 0);
    assert_int_equal(opt->num, 1);
    assert_string_equal(sf_config_item(opt, 0), "e=5");
    assert_int_equal(sf_config_get(words_table, NW, "json")->num, 0);
    assert_int_equal(nrest, 0);
    assert_int_equal(sf_config_get(words_table, NW, "wait")->num, 100); /* "0.1": 100 ms */
    free(rest);

    char *flags[] = {"--opt", "c=3", "--config", path, "--opt=d=4", "--", "--json", "-"};
    assert_int_equal(sf_config_load(words_table, NW, 8, flags, &rest, &nrest, &help, &err), 0);
    assert_int_equal(opt->num, 2); /* flags win whole: neither the file's nor the environment's */
    assert_string_equal(sf_config_item(opt, 0), "c=3");
    assert_string_equal(sf_config_item(opt, 1), "d=4");
    assert_int_equal(sf_config_get(words_table, NW, "json")->num, 0);
    assert_int_equal(nrest, 2); /* after "--", words */
    assert_string_equal(rest[0], "--json");
    assert_string_equal(rest[1], "-");
    free(rest);
    unsetenv("SHOPFLOW_OPT");

    char *bad[] = {"--wait", "-1s"};
    assert_int_equal(sf_config_load(words_table, NW, 2, bad, &rest, &nrest, &help, &err),
                     SF_EUSAGE);
    free(rest);
    char *dangling[] = {"--config"};
    assert_int_equal(sf_config_load(words_table, NW, 1, dangling, &rest, &nrest, &help, &err),
                     SF_EUSAGE);
    free(rest);
    sf_config_free();
    ut_tmpdir_remove(dir);
}

/* gzip of n bytes of text into out (one member); its length. */
static size_t gzip_of(const char *text, size_t n, unsigned char *out, size_t cap)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

typedef struct collected {
    char text[1 << 16];
    size_t len, calls, stop_after; /* stop_after: bytes, 0 = never */
} collected;

static int collect(void *ctx, const char *buf, size_t len)
{
    collected *c = ctx;
    c->calls++;
    if (c->len + len <= sizeof c->text) /* the text is kept while it fits */
        memcpy(c->text + c->len, buf, len);
    c->len += len;
    return c->stop_after && c->len >= c->stop_after;
}

/* Two members fed one byte at a time read as one text; a body cut short,
 * trailing bytes and a body that is not gzip are each an error; a stop
 * asked for stops the inflating at once (a zip bomb costs no more). */
static void test_gunzip(void **state)
{
    (void)state;
    static unsigned char gz[1 << 20];
    static collected c;
    size_t a = gzip_of("first\n", 6, gz, sizeof gz);
    size_t n = a + gzip_of("second\n", 7, gz + a, sizeof gz - a);
    sf_gunzip *g = NULL;
    sf_error err = {0};
    assert_int_equal(sf_gunzip_begin(&g, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sf_gunzip_feed(g, (char *)gz + i, 1, collect, &c, &err), 0);
    assert_int_equal(sf_gunzip_finish(g, &err), 0);
    assert_int_equal(c.len, 13);
    assert_memory_equal(c.text, "first\nsecond\n", 13);

    memset(&c, 0, sizeof c); /* the same state again: cut short */
    assert_int_equal(sf_gunzip_begin(&g, &err), 0);
    assert_int_equal(sf_gunzip_feed(g, (char *)gz, a - 3, collect, &c, &err), 0);
    assert_int_equal(sf_gunzip_finish(g, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "ends early"));

    assert_int_equal(sf_gunzip_begin(&g, &err), 0); /* trailing bytes */
    memcpy(gz + a, "junk", 4);
    assert_int_equal(sf_gunzip_feed(g, (char *)gz, a + 4, collect, &c, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "after its end"));

    assert_int_equal(sf_gunzip_begin(&g, &err), 0); /* not gzip */
    assert_int_equal(sf_gunzip_feed(g, "plain text", 10, collect, &c, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "not gzip"));

    /* 64 MiB of newlines, asked to stop after 100 KiB: no more is made. */
    char *big = malloc(64 << 20);
    assert_non_null(big);
    memset(big, '\n', 64 << 20);
    n = gzip_of(big, 64 << 20, gz, sizeof gz);
    free(big);
    memset(&c, 0, sizeof c);
    c.stop_after = 100 << 10;
    assert_int_equal(sf_gunzip_begin(&g, &err), 0);
    assert_int_equal(sf_gunzip_feed(g, (char *)gz, n, collect, &c, &err), SF_ESTOPPED);
    assert_true(c.len >= c.stop_after && c.len < c.stop_after + 16384);
    sf_gunzip_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_window),
        cmocka_unit_test(test_dedup_churn),
        cmocka_unit_test(test_dedup_load_from_log),
        cmocka_unit_test(test_dedup_per_partition),
        cmocka_unit_test(test_dedup_load_per_partition),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_config_precedence),
        cmocka_unit_test(test_config_lists_and_words),
        cmocka_unit_test(test_gunzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
