/*
 * test_replay.c - the replay client's parts that do not touch the network
 * (replay/internal.h): pacing, backoff, batches and cutting rows out of
 * them, the server's answers; and core/filehash.h, which gives replay and
 * import the same event ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "core/csv.h"
#include "core/filehash.h"
#include "replay/internal.h"
#include "support.h"

static void test_pacer_max(void **state)
{
    (void)state;
    sf_pacer p;
    sf_pacer_init(&p, SF_REPLAY_MAX, 0);
    for (int i = 0; i < 5; i++)
        assert_true(sf_pacer_next(&p, 1000 + i * 60) == 0);
}

static void test_pacer_rate(void **state)
{
    (void)state;
    sf_pacer p;
    sf_pacer_init(&p, SF_REPLAY_RATE, 4);
    double want[] = {0, 0.25, 0.5, 0.75, 1.0, 1.25};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_true(sf_pacer_next(&p, 0) == want[i]);
}

/* The shop's rhythm: an hour of dates per second at 3600; rows of one
 * invoice (same date) are due together; a date that goes back does not
 * move the clock back. */
static void test_pacer_speedup(void **state)
{
    (void)state;
    sf_pacer p;
    sf_pacer_init(&p, SF_REPLAY_SPEEDUP, 3600);
    int64_t t0 = 1291191960; /* 2010-12-01 08:26:00 */
    assert_true(sf_pacer_next(&p, t0) == 0);
    assert_true(sf_pacer_next(&p, t0) == 0);
    assert_true(sf_pacer_next(&p, t0 + 3600) == 1.0);
    assert_true(sf_pacer_next(&p, t0 + 1800) == 1.0); /* earlier date: no going back */
    assert_true(sf_pacer_next(&p, t0 + 14 * 3600) == 14.0);
    sf_pacer_init(&p, SF_REPLAY_SPEEDUP, 60);
    assert_true(sf_pacer_next(&p, t0 + 100) == 0); /* the first row sets the origin */
    assert_true(sf_pacer_next(&p, t0 + 160) == 1.0);
}

static void test_backoff(void **state)
{
    (void)state;
    /* jitter 1 -> the full delay: 0.1, 0.2, 0.4, ... capped at 1 */
    double want[] = {0.1, 0.2, 0.4, 0.8, 1.0, 1.0};
    for (uint32_t a = 1; a <= 6; a++)
        assert_float_equal(sf_backoff_delay(a, 0.1, 1.0, -1, 1.0), want[a - 1], 1e-12);
    /* jitter 0 -> half of it */
    assert_float_equal(sf_backoff_delay(3, 0.1, 1.0, -1, 0.0), 0.2, 1e-12);
    /* Retry-After wins when longer, not when shorter */
    assert_float_equal(sf_backoff_delay(1, 0.1, 10, 5, 0.5), 5, 1e-12);
    assert_float_equal(sf_backoff_delay(8, 0.1, 10, 1, 1.0), 10, 1e-12);
    /* a huge attempt count neither overflows nor loops long */
    assert_float_equal(sf_backoff_delay(4000000000u, 0.1, 10, -1, 1.0), 10, 1e-12);
}

static void fill(sf_batch *b, int n)
{
    for (int i = 0; i < n; i++) {
        sf_record r;
        char inv[16], ev[32];
        snprintf(inv, sizeof inv, "5363%02d", i);
        ut_make(&r, inv, "85123A", "WHITE \"HEART\"", i + 1, 1291191960 + i, 2550, 17850,
                "United Kingdom");
        r.event_id_len = (uint8_t)snprintf(ev, sizeof ev, "imp-x-%d", 100 + i);
        memcpy(r.event_id, ev, (size_t)r.event_id_len + 1);
        assert_int_equal(sf_batch_add(b, &r, 100 + (uint64_t)i, 2 + 2 * (uint64_t)i), 0);
    }
}

/* The body of b decodes (as format) to fill's rows[0..n), in order, each
 * numbered by its place in the body. */
static void assert_body_rows(const sf_batch *b, sf_format format, const uint64_t *rows, size_t n)
{
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode(b->body, format, SF_ENC_AUTO, &s), 0);
    assert_int_equal(s.nrec, n);
    for (size_t i = 0; i < n; i++) {
        char ev[32];
        snprintf(ev, sizeof ev, "imp-x-%llu", (unsigned long long)rows[i]);
        assert_string_equal(ut_rec(&s, i)->event_id, ev);
        assert_int_equal(ut_rec(&s, i)->quantity, (int)(rows[i] - 99));
        assert_int_equal(ut_rec_event(&s, i)->pos.index, i);
        assert_int_equal(b->row[i], rows[i]);
        assert_string_equal(ut_rec(&s, i)->description, "WHITE \"HEART\"");
    }
    ut_sink_free(&s);
}

/* The body is NDJSON of canonical records; cutting rows out keeps the
 * others in order with their file rows and lines, and the body decodes to
 * exactly those records. */
static void test_batch_drop(void **state)
{
    (void)state;
    sf_batch b;
    assert_int_equal(sf_batch_init(&b, 8, NULL), 0);
    fill(&b, 6);
    assert_int_equal(b.n, 6);
    assert_int_equal(b.body[b.len - 1], '\n');
    assert_int_equal(strlen(b.body), b.len);
    assert_memory_equal(b.body, "{\"event_id\":\"imp-x-100\",\"invoice_no\":\"536300\"", 45);
    uint32_t drop[] = {4, 0, 4, 77};
    assert_int_equal(sf_batch_drop(&b, drop, 4), 2);
    assert_int_equal(b.n, 4);
    uint64_t rows[] = {101, 102, 103, 105}, lines[] = {4, 6, 8, 12};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(b.row[i], rows[i]);
        assert_int_equal(b.line[i], lines[i]);
    }
    assert_body_rows(&b, SF_FORMAT_JSON, rows, 4);
    uint32_t all[] = {0, 1, 2, 3};
    assert_int_equal(sf_batch_drop(&b, all, 4), 4);
    assert_int_equal(b.len, 0);
    sf_batch_free(&b);
}

/* A CSV batch: the header line first, kept when rows are cut out and when
 * the batch is cleared; its rows decode to the records sent, and indexes
 * count data rows after the header, as the server numbers them. */
static void test_batch_csv(void **state)
{
    (void)state;
    sf_batch b;
    assert_int_equal(sf_batch_init_as(&b, 8, true, NULL), 0);
    assert_int_equal(b.len, strlen(SF_CSV_HEADER));
    fill(&b, 6);
    assert_int_equal(strlen(b.body), b.len);
    assert_memory_equal(b.body, SF_CSV_HEADER "536300,85123A,\"WHITE \"\"HEART\"\"\",1,",
                        strlen(SF_CSV_HEADER) + 33);
    uint32_t drop[] = {0, 4};
    assert_int_equal(sf_batch_drop(&b, drop, 2), 2);
    uint64_t rows[] = {101, 102, 103, 105};
    assert_body_rows(&b, SF_FORMAT_CSV, rows, 4);
    uint32_t all[] = {0, 1, 2, 3};
    assert_int_equal(sf_batch_drop(&b, all, 4), 4);
    assert_string_equal(b.body, SF_CSV_HEADER);
    fill(&b, 1);
    sf_batch_clear(&b);
    assert_int_equal(b.n, 0);
    assert_string_equal(b.body, SF_CSV_HEADER);
    sf_batch_free(&b);
}

/* A body outgrows its first buffer (long descriptions) without loss. */
static void test_batch_grows(void **state)
{
    (void)state;
    sf_batch b;
    assert_int_equal(sf_batch_init(&b, 40, NULL), 0);
    size_t cap = b.cap;
    char desc[SF_DESCRIPTION_MAX + 1];
    memset(desc, 'x', SF_DESCRIPTION_MAX);
    desc[SF_DESCRIPTION_MAX] = '\0';
    for (int i = 0; i < 40; i++) {
        sf_record r;
        ut_make(&r, "536365", "85123A", desc, 1, 1291191960, 2550, SF_NO_CUSTOMER, "France");
        assert_int_equal(sf_batch_add(&b, &r, (uint64_t)i, (uint64_t)i + 2), 0);
    }
    assert_true(b.cap > cap);
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode(b.body, SF_FORMAT_JSON, SF_ENC_AUTO, &s), 0);
    assert_int_equal(s.nrec, 40);
    assert_int_equal(ut_rec(&s, 39)->description_len, SF_DESCRIPTION_MAX);
    ut_sink_free(&s);
    sf_batch_free(&b);
}

static void test_answer_accepted(void **state)
{
    (void)state;
    uint64_t a = 9, d = 9;
    assert_int_equal(sf_answer_accepted("{\"accepted\":2,\"duplicates\":1}\n", &a, &d), 0);
    assert_int_equal(a, 2);
    assert_int_equal(d, 1);
    assert_int_equal(sf_answer_accepted("{\"accepted\":2}", &a, &d), SF_EFORMAT);
    assert_int_equal(sf_answer_accepted("<html>", &a, &d), SF_EFORMAT);
    assert_int_equal(sf_answer_accepted("{\"accepted\":-1,\"duplicates\":0}", &a, &d), SF_EFORMAT);
}

typedef struct entries {
    sf_answer_error e[4];
    int n;
} entries;

static int keep_entry(void *ctx, const sf_answer_error *e)
{
    entries *x = ctx;
    if (x->n < 4)
        x->e[x->n++] = *e;
    return 0;
}

/* The 400 of docs/api.md, word for word. */
static void test_answer_invalid(void **state)
{
    (void)state;
    const char *body =
        "{\"error\": {\"code\": \"invalid_records\",\n"
        "           \"message\": \"2 of 3 records are invalid; nothing was appended\",\n"
        "           \"invalid\": 2,\n"
        "           \"errors\": [\n"
        "             {\"index\": 1, \"line\": 2, \"field\": \"Quantity\", \"reason\": "
        "\"\\\"eight\\\" is not an integer\"},\n"
        "             {\"index\": 2, \"line\": 3, \"field\": \"UnitPrice\", \"reason\": "
        "\"\\\"3.3901\\\" has more than 3 decimals (prices are kept to 0.001)\"}]}}";
    char code[64], msg[SF_ERROR_MSG_MAX];
    bool truncated = true;
    entries x = {.n = 0};
    assert_int_equal(sf_answer_error_parse(body, code, msg, &truncated, keep_entry, &x), 0);
    assert_string_equal(code, "invalid_records");
    assert_string_equal(msg, "2 of 3 records are invalid; nothing was appended");
    assert_false(truncated);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.e[0].index, 1);
    assert_string_equal(x.e[0].field, "Quantity");
    assert_string_equal(x.e[0].reason, "\"eight\" is not an integer");
    assert_false(x.e[0].fatal);
    assert_int_equal(x.e[1].index, 2);
    assert_string_equal(x.e[1].field, "UnitPrice");

    /* An error about the whole body: no field, fatal; and a truncated list. */
    x.n = 0;
    assert_int_equal(sf_answer_error_parse("{\"error\":{\"code\":\"invalid_records\",\"message\":"
                                           "\"m\",\"errors\":[{\"index\":0,\"line\":1,\"reason\":"
                                           "\"broken JSON\",\"fatal\":true}],\"truncated\":true}}",
                                           code, msg, &truncated, keep_entry, &x),
                     0);
    assert_true(truncated);
    assert_int_equal(x.n, 1);
    assert_true(x.e[0].fatal);
    assert_string_equal(x.e[0].field, "");

    /* Other errors, and answers that are not ours. */
    assert_int_equal(sf_answer_error_parse("{\"error\":{\"code\":\"unauthorized\",\"message\":"
                                           "\"the key is not valid\"}}",
                                           code, msg, &truncated, NULL, NULL),
                     0);
    assert_string_equal(code, "unauthorized");
    assert_int_equal(sf_answer_error_parse("502 Bad Gateway", code, msg, &truncated, NULL, NULL),
                     SF_EFORMAT);
    assert_string_equal(code, "unknown");
}

typedef struct named_rows {
    uint64_t row[8], line[8];
    char what[8][80];
    int n;
} named_rows;

static void keep_named(void *ctx, uint64_t row, uint64_t line, const char *field,
                       const char *reason)
{
    named_rows *x = ctx;
    assert_true(x->n < 8);
    x->row[x->n] = row;
    x->line[x->n] = line;
    snprintf(x->what[x->n++], sizeof x->what[0], "%s: %s", field, reason);
}

/* A 400's indexes are positions in the request; they name rows of the file
 * through the batch's map, also after an earlier 400 cut rows out. */
static void test_apply_invalid(void **state)
{
    (void)state;
    sf_batch b;
    assert_int_equal(sf_batch_init(&b, 8, NULL), 0);
    fill(&b, 6); /* rows 100..105 on lines 2, 4, ..., 12 */
    named_rows x = {.n = 0};
    char msg[SF_ERROR_MSG_MAX];
    bool whole = true;
    const char *two = "{\"error\":{\"code\":\"invalid_records\",\"message\":\"2 of 6\","
                      "\"errors\":[{\"index\":3,\"line\":4,\"field\":\"Quantity\",\"reason\":"
                      "\"bad\"},{\"index\":1,\"line\":2,\"field\":\"UnitPrice\",\"reason\":"
                      "\"worse\"},{\"index\":3,\"line\":4,\"reason\":\"again\"}]}}";
    assert_int_equal(sf_batch_apply_invalid(&b, two, msg, &whole, keep_named, &x), 2);
    assert_false(whole);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.row[0], 103);
    assert_int_equal(x.line[0], 8);
    assert_string_equal(x.what[0], "Quantity: bad");
    assert_int_equal(x.row[1], 101);
    assert_int_equal(x.line[1], 4);
    assert_int_equal(b.n, 4); /* 100, 102, 104, 105 */
    /* index 2 of what is left is row 104 */
    const char *one = "{\"error\":{\"code\":\"invalid_records\",\"message\":\"m\","
                      "\"errors\":[{\"index\":2,\"line\":3,\"field\":\"Country\",\"reason\":"
                      "\"r\"}],\"truncated\":true}}";
    assert_int_equal(sf_batch_apply_invalid(&b, one, msg, &whole, keep_named, &x), 1);
    assert_false(whole);
    assert_int_equal(x.row[2], 104);
    assert_int_equal(x.line[2], 10);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.row[2], 105);

    /* About the body as a whole: nothing named, nothing cut. */
    const char *whole_bodies[] = {
        ("{\"error\":{\"code\":\"invalid_records\",\"message\":\"broken\",\"errors\":"
         "[{\"index\":0,\"line\":1,\"reason\":\"x\"},{\"index\":1,\"line\":9,\"reason\":"
         "\"broken JSON\",\"fatal\":true}]}}"),
        ("{\"error\":{\"code\":\"invalid_records\",\"message\":\"m\",\"errors\":"
         "[{\"index\":3,\"line\":4,\"reason\":\"out of range\"}]}}"),
        "{\"error\":{\"code\":\"empty_body\",\"message\":\"the request has no body\"}}",
        "<html>400</html>",
    };
    for (size_t i = 0; i < 4; i++) {
        x.n = 0;
        assert_int_equal(sf_batch_apply_invalid(&b, whole_bodies[i], msg, &whole, keep_named, &x),
                         0);
        assert_true(whole);
        assert_int_equal(x.n, 0);
        assert_int_equal(b.n, 3);
    }
    assert_string_equal(msg, "the answer is not a shopflow error");
    sf_batch_free(&b);
}

static void test_retry_after(void **state)
{
    (void)state;
    const char *h1 = "Retry-After: 5\r\n", *h2 = "retry-after:1\r\n",
               *h3 = "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n",
               *h4 = "Content-Length: 5\r\n";
    assert_true(sf_answer_retry_after(h1, strlen(h1)) == 5);
    assert_true(sf_answer_retry_after(h2, strlen(h2)) == 1);
    assert_true(sf_answer_retry_after(h3, strlen(h3)) < 0);
    assert_true(sf_answer_retry_after(h4, strlen(h4)) < 0);
    assert_true(sf_answer_retry_after("Retry-After:", 12) < 0);
}

/* The hash of the decompressed content: gzip does not change it, and it is
 * XXH3-128 as the xxhash library computes it (high word first). */
/* Event ids as import and replay write them: the prefix, then the row in
 * decimal; nothing when they would not fit. */
static void test_event_id(void **state)
{
    (void)state;
    char id[SF_EVENT_ID_MAX + 1], want[SF_EVENT_ID_MAX + 1];
    const char *prefix = "imp-0123456789abcdef0123456789abcdef-";
    uint64_t rows[] = {0, 7, 541908, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        int n = snprintf(want, sizeof want, "%s%llu", prefix, (unsigned long long)rows[i]);
        assert_int_equal(sf_event_id(prefix, rows[i], id), (size_t)n);
        assert_string_equal(id, want);
    }
    char longer[SF_EVENT_ID_MAX + 1];
    memset(longer, 'p', SF_EVENT_ID_MAX - 1);
    longer[SF_EVENT_ID_MAX - 1] = '\0';
    assert_int_equal(sf_event_id(longer, 9, id), SF_EVENT_ID_MAX);
    assert_int_equal(sf_event_id(longer, 10, id), 0);
}

static void test_filehash(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], plain[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(plain, dir, "a.csv");
    ut_join(gz, dir, "a.csv.gz");
    const char text[] = "InvoiceNo,StockCode\n536365,85123A\n";
    ut_write_file(plain, text, sizeof text - 1);
    ut_write_gzip(gz, text, sizeof text - 1, 2);
    char h1[SF_FILE_HASH_LEN], h2[SF_FILE_HASH_LEN], want[SF_FILE_HASH_LEN];
    assert_int_equal(sf_file_content_hash(plain, h1, NULL), 0);
    assert_int_equal(sf_file_content_hash(gz, h2, NULL), 0);
    XXH128_hash_t h = XXH3_128bits(text, sizeof text - 1);
    snprintf(want, sizeof want, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    assert_string_equal(h1, want);
    assert_string_equal(h2, want);
    sf_error err;
    assert_int_equal(sf_file_content_hash("-", h1, &err), SF_EUSAGE);
    ut_join(plain, dir, "missing.csv");
    assert_int_equal(sf_file_content_hash(plain, h1, &err), SF_ENOENT);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pacer_max),      cmocka_unit_test(test_pacer_rate),
        cmocka_unit_test(test_pacer_speedup),  cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_batch_drop),     cmocka_unit_test(test_batch_grows),
        cmocka_unit_test(test_batch_csv),      cmocka_unit_test(test_answer_accepted),
        cmocka_unit_test(test_answer_invalid), cmocka_unit_test(test_apply_invalid),
        cmocka_unit_test(test_retry_after),    cmocka_unit_test(test_filehash),
        cmocka_unit_test(test_event_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
