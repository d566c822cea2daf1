/*
 * test_history.c - the LMDB history store's layout
 * (storage/store/lmdb/history_keys.c), and its invoice headers:
 * the version 1 form that shopflow wrote before 128-bit totals, made here
 * byte by byte as that struct lay in memory, is read as it was; version 2
 * likewise from its documented layout, with a total past INT64_MAX;
 * damaged values of either form are refused; and an invoice whose stored
 * header is version 1 takes 9,300 more lines at the line limit through the
 * sink, which rewrites the header as version 2 with exact totals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/pack.h"
#include "query/history.h"
#include "sinks/history.h"
#include "sinks/sink.h"
#include "storage/store/lmdb/history_keys.h"
#include "storage/store/lmdb/lmdb_int.h" /* raw keys, as an older shopflow wrote them */
#include "support.h"

#define T0 INT64_C(1291191960) /* 2010-12-01 08:26:00 */

/* A version 1 header: date, total, units (int64), customer (int32), lines
 * (uint32), kind, country_len, then country_len again and the country. */
static size_t header_v1(uint8_t *b, int64_t total, int64_t units, uint32_t lines,
                        const char *country)
{
    int64_t date = T0;
    int32_t customer = 17850;
    uint8_t n = (uint8_t)strlen(country);
    memcpy(b, &date, 8);
    memcpy(b + 8, &total, 8);
    memcpy(b + 16, &units, 8);
    memcpy(b + 24, &customer, 4);
    memcpy(b + 28, &lines, 4);
    b[32] = SF_KIND_SALE;
    b[33] = n;
    b[34] = n;
    memcpy(b + 35, country, n);
    return 35u + n;
}

static void test_header_v1(void **state)
{
    (void)state;
    uint8_t b[128];
    size_t n = header_v1(b, -139120, INT64_MIN, 7, "United Kingdom");
    sf_invoice_header h;
    assert_int_equal(sf_history_decode_header(b, n, &h, NULL), 0);
    assert_int_equal(h.date, T0);
    assert_true(h.total == -139120 && h.units == INT64_MIN);
    assert_int_equal(h.customer_id, 17850);
    assert_int_equal(h.lines, 7);
    assert_int_equal(h.kind, SF_KIND_SALE);
    assert_string_equal(h.country, "United Kingdom");
    /* A one-byte country: the byte before it is its length (1), not 0. */
    n = header_v1(b, 5, 1, 1, "X");
    assert_int_equal(sf_history_decode_header(b, n, &h, NULL), 0);
    assert_string_equal(h.country, "X");
    assert_int_equal(sf_history_decode_header(b, n - 1, &h, NULL), SF_ECORRUPT);
    assert_int_equal(sf_history_decode_header(b, 3, &h, NULL), SF_ECORRUPT);
}

static void test_header_v2(void **state)
{
    (void)state;
    uint8_t b[128] = {0};
    int64_t date = T0;
    sf_i128 total = (sf_i128)INT64_MAX * 1000 + 7, units = -((sf_i128)1 << 100);
    int32_t customer = SF_NO_CUSTOMER;
    uint32_t lines = 9301;
    memcpy(b, &date, 8);
    memcpy(b + 8, &total, 16);
    memcpy(b + 24, &units, 16);
    memcpy(b + 40, &customer, 4);
    memcpy(b + 44, &lines, 4);
    b[48] = SF_KIND_CANCELLATION;
    b[49] = 4;
    memcpy(b + 50, "EIRE", 4);
    b[54] = 0;
    b[55] = 2;
    sf_invoice_header h;
    assert_int_equal(sf_history_decode_header(b, 56, &h, NULL), 0);
    assert_true(h.total == total && h.units == units);
    assert_int_equal(h.customer_id, SF_NO_CUSTOMER);
    assert_int_equal(h.lines, 9301);
    assert_int_equal(h.kind, SF_KIND_CANCELLATION);
    assert_string_equal(h.country, "EIRE");
    b[55] = 3; /* a version this shopflow does not know */
    assert_int_equal(sf_history_decode_header(b, 56, &h, NULL), SF_ECORRUPT);
    b[55] = 2;
    b[49] = 5; /* the country's length does not match the value's */
    assert_int_equal(sf_history_decode_header(b, 56, &h, NULL), SF_ECORRUPT);
}

/* Every key and value of history_keys.h as its comment lays them out,
 * byte by byte; and what is not one is refused with SF_ECORRUPT. */
static void test_layout(void **state)
{
    (void)state;
    uint8_t k[64], v[128];
    assert_int_equal(sf_history_position_key(0x01020304, k), 5);
    assert_memory_equal(k, "o\x01\x02\x03\x04", 5);
    sf_pos next = {0};
    sf_put_be64(v, 1234567);
    assert_int_equal(sf_history_position_decode(v, 8, &next, NULL), 0);
    assert_true(ut_off(&next) == 1234567);
    sf_error err = {0};
    assert_int_equal(sf_history_position_decode(v, 7, &next, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "7 bytes"));
    /* A 64-bit position is written as before, 8 bytes; a wider one as its
     * stored form (core/pos.h), never 8 bytes long. */
    next = ut_pos(1234567);
    assert_int_equal(sf_history_position_encode(&next, v), 8);
    assert_true(sf_get_be64(v) == 1234567);
    sf_pos wide, back_pos;
    assert_int_equal(sf_pos_parse("18446744073709551616", 20, &wide, NULL), 0);
    assert_int_equal(sf_history_position_encode(&wide, v), 10);
    assert_memory_equal(v, "\x09\x01\0\0\0\0\0\0\0\0", 10);
    assert_int_equal(sf_history_position_decode(v, 10, &back_pos, NULL), 0);
    assert_int_equal(sf_pos_cmp(&back_pos, &wide), 0);
    /* the stored form of a position that fits 64 bits is not one here */
    assert_int_equal(sf_history_position_decode("\x03\x01\x02\x03", 4, &back_pos, NULL),
                     SF_ECORRUPT);

    assert_int_equal(sf_history_invoice_key("C536379", 7, k), 8);
    assert_memory_equal(k, "iC536379", 8);
    assert_int_equal(sf_history_line_prefix("536365", 6, k), 8);
    assert_memory_equal(k, "l536365\0", 8);
    assert_int_equal(sf_history_line_key("536365", 6, 258, k), 12);
    assert_memory_equal(k, "l536365\0\0\0\x01\x02", 12);

    /* 'c' customer date+2^63 invoice: an earlier date sorts first, before
     * the epoch too. */
    uint8_t k2[64];
    assert_int_equal(sf_history_customer_prefix(17850, k), 5);
    assert_memory_equal(k, "c\0\0\x45\xba", 5);
    size_t n = sf_history_customer_key(17850, T0, "536365", 6, k);
    assert_int_equal(n, 19);
    assert_memory_equal(k, "c\0\0\x45\xba", 5);
    assert_true(sf_get_be64(k + 5) == (uint64_t)T0 + (UINT64_C(1) << 63));
    assert_memory_equal(k + 13, "536365", 6);
    assert_int_equal(sf_history_customer_key(17850, -1, "536365", 6, k2), 19);
    assert_true(memcmp(k2, k, 19) < 0);
    int64_t date;
    const char *inv;
    size_t len;
    assert_int_equal(sf_history_customer_key_parse(k2, 19, &date, &inv, &len, NULL), 0);
    assert_true(date == -1 && len == 6 && memcmp(inv, "536365", 6) == 0);
    assert_int_equal(sf_history_customer_key_parse(k, 13, &date, &inv, &len, NULL), SF_ECORRUPT);
    k[0] = 'i';
    assert_int_equal(sf_history_customer_key_parse(k, 19, &date, &inv, &len, NULL), SF_ECORRUPT);

    /* 'q' partition offset -> when, reason length (u16), reason, bytes. */
    assert_int_equal(sf_history_quarantine_key(3, UT_AT(0x0102), k), 13);
    assert_memory_equal(k, "q\0\0\0\x03\0\0\0\0\0\0\x01\x02", 13);
    /* wider: eight 0xff, then the stored form; sorts after every 64-bit one */
    uint8_t kw[SF_HISTORY_QUARANTINE_KEY_MAX], kmax[SF_HISTORY_QUARANTINE_KEY_MAX];
    assert_int_equal(sf_history_quarantine_key(3, &wide, kw), 5 + 8 + 10);
    assert_memory_equal(kw + 5, "\xff\xff\xff\xff\xff\xff\xff\xff\x09\x01", 10);
    assert_int_equal(sf_history_quarantine_key(3, UT_AT(UINT64_MAX), kmax), 13);
    assert_true(memcmp(kmax, kw, 13) == 0 && memcmp(k, kw, 13) < 0);
    sf_history_quarantined q = {
        3, ut_pos(0x0102), "2026-12-05T17:20:30.123Z", "not a record", 12, (const uint8_t *)"{x}",
        3};
    size_t vlen = sf_history_quarantine_encode(&q, NULL);
    assert_int_equal(vlen, 24 + 2 + 12 + 3);
    assert_int_equal(sf_history_quarantine_encode(&q, v), vlen);
    assert_memory_equal(v, "2026-12-05T17:20:30.123Z\0\x0cnot a record{x}", vlen);
    sf_history_quarantined back;
    assert_int_equal(sf_history_quarantine_decode(k, 13, v, vlen, &back, NULL), 0);
    assert_true(back.partition == 3 && ut_off(&back.pos) == 0x0102 && back.reason_len == 12);
    assert_int_equal(sf_history_quarantine_decode(kw, 5 + 8 + 10, v, vlen, &back, NULL), 0);
    assert_int_equal(sf_pos_cmp(&back.pos, &wide), 0);
    assert_memory_equal(back.at, q.at, 24);
    assert_true(back.len == 3 && memcmp(back.data, "{x}", 3) == 0);
    v[25] = 40; /* a reason longer than the value */
    assert_int_equal(sf_history_quarantine_decode(k, 13, v, vlen, &back, NULL), SF_ECORRUPT);
    assert_int_equal(sf_history_quarantine_decode(k, 12, v, vlen, &back, NULL), SF_ECORRUPT);

    /* A header written is read back; a damaged one says what it is. */
    sf_invoice_header h = {T0, -139120, 40, SF_NO_CUSTOMER, 3, SF_KIND_SALE, 4, "EIRE"}, h2;
    uint8_t hb[SF_HISTORY_HEADER_MAX];
    n = sf_history_encode_header(&h, hb);
    assert_int_equal(n, 50 + 4 + 2);
    assert_int_equal(sf_history_decode_header(hb, n, &h2, NULL), 0);
    assert_true(h2.total == -139120 && h2.units == 40 && h2.lines == 3);
    assert_string_equal(h2.country, "EIRE");
    assert_int_equal(sf_history_decode_header(hb, n - 1, &h2, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "damaged invoice header"));
}

static int get_raw(sf_store *st, const char *key, uint8_t *out, size_t *len)
{
    lm_txn *t;
    sf_error err = {0};
    const void *v;
    assert_int_equal(sf_lmdb_begin((lmdb_store *)st, false, &t, &err), 0);
    int rc = sf_lmdb_get(t, key, strlen(key), &v, len, &err);
    if (rc == 0)
        memcpy(out, v, *len);
    sf_lmdb_abort(t);
    return rc;
}

/* Invoice 536365 as shopflow before 128-bit totals stored it: a version 1
 * header, its one line, the position of partition 0 after it. */
static void store_old_invoice(sf_store *st)
{
    sf_record r;
    ut_make(&r, "536365", "85123A", "WHITE HANGING HEART", 40, T0, 3478, 17850, "United Kingdom");
    uint8_t packed[SF_PACK_MAX], header[128], line_key[16] = "l536365", pos[8];
    int plen = sf_record_pack(&r, packed, sizeof packed);
    size_t hlen = header_v1(header, 139120, 40, 1, "United Kingdom");
    sf_put_be32(line_key + 8, 0);
    sf_put_be64(pos, 1);
    lm_txn *t;
    sf_error err = {0};
    assert_int_equal(sf_lmdb_begin((lmdb_store *)st, true, &t, &err), 0);
    assert_int_equal(sf_lmdb_put(t, "i536365", 7, header, hlen, &err), 0);
    assert_int_equal(sf_lmdb_put(t, line_key, 12, packed, (size_t)plen, &err), 0);
    assert_int_equal(sf_lmdb_put(t, "o\0\0\0\0", 5, pos, 8, &err), 0);
    assert_int_equal(sf_lmdb_commit(t, &err), 0);
}

static void test_old_header_goes_on(void **state)
{
    (void)state;
    enum { N = 9300 };
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_store *st;
    sf_sink *h;
    sf_error err = {0};
    assert_int_equal(sf_store_open(dir, NULL, &st, &err), 0);
    store_old_invoice(st);
    /* N lines of 1,000 at a billion pounds: 10^15 milli-units each. */
    sf_record r;
    ut_make(&r, "536365", "85123A", "", 1000, T0 + 60, SF_PRICE_MAX, 17850, "United Kingdom");
    uint8_t packed[SF_PACK_MAX];
    int plen = sf_record_pack(&r, packed, sizeof packed);
    sf_stream_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (int i = 0; i < N; i++)
        e[i] = (sf_stream_entry){ut_pos((uint64_t)i + 1), packed, (uint32_t)plen};
    sf_stream_batch b = {.entries = e, .cap = N, .count = N, .next = ut_pos(N + 1)};
    assert_int_equal(sf_history_sink_new(st, &h, &err), 0);
    assert_int_equal(h->ops->apply(h, 0, &b, &err), 0);
    assert_int_equal(h->ops->flush(h, true, &err), 0);

    uint8_t raw[256];
    size_t len = 0;
    assert_int_equal(get_raw(st, "i536365", raw, &len), 0);
    assert_int_equal(raw[len - 2], 0); /* rewritten as version 2 */
    assert_int_equal(raw[len - 1], 2);
    sf_invoice_header hd;
    assert_int_equal(sf_history_decode_header(raw, len, &hd, NULL), 0);
    assert_true(hd.total == 139120 + (sf_i128)N * SF_AMOUNT_MAX); /* > INT64_MAX */
    assert_true(hd.units == 40 + N * 1000);
    assert_int_equal(hd.lines, N + 1);
    assert_int_equal(hd.date, T0); /* its first line's, kept */
    sf_buf out = SF_BUF_INIT;
    assert_int_equal(sf_history_invoice_json(st, "536365", 6, SF_NO_CUSTOMER, &out, &err), 0);
    assert_non_null(strstr(out.data, "\"line_count\":9301,\"units\":9300040,"
                                     "\"total\":\"9300000000000139.12\""));
    assert_non_null(strstr(out.data, "{\"line\":1,\"stock_code\":\"85123A\""));
    sf_buf_free(&out);
    h->ops->close(h);
    sf_store_close(st);
    free(e);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_v1),
        cmocka_unit_test(test_header_v2),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_old_header_goes_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
