/*
 * test_history.c - the history store's invoice headers (sinks/history.c):
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
    assert_int_equal(sf_history_decode_header(b, n, &h), 0);
    assert_int_equal(h.date, T0);
    assert_true(h.total == -139120 && h.units == INT64_MIN);
    assert_int_equal(h.customer_id, 17850);
    assert_int_equal(h.lines, 7);
    assert_int_equal(h.kind, SF_KIND_SALE);
    assert_string_equal(h.country, "United Kingdom");
    /* A one-byte country: the byte before it is its length (1), not 0. */
    n = header_v1(b, 5, 1, 1, "X");
    assert_int_equal(sf_history_decode_header(b, n, &h), 0);
    assert_string_equal(h.country, "X");
    assert_int_equal(sf_history_decode_header(b, n - 1, &h), -1);
    assert_int_equal(sf_history_decode_header(b, 3, &h), -1);
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
    assert_int_equal(sf_history_decode_header(b, 56, &h), 0);
    assert_true(h.total == total && h.units == units);
    assert_int_equal(h.customer_id, SF_NO_CUSTOMER);
    assert_int_equal(h.lines, 9301);
    assert_int_equal(h.kind, SF_KIND_CANCELLATION);
    assert_string_equal(h.country, "EIRE");
    b[55] = 3; /* a version this shopflow does not know */
    assert_int_equal(sf_history_decode_header(b, 56, &h), -1);
    b[55] = 2;
    b[49] = 5; /* the country's length does not match the value's */
    assert_int_equal(sf_history_decode_header(b, 56, &h), -1);
}

static int get_raw(sf_store *st, const char *key, uint8_t *out, size_t *len)
{
    sf_store_txn *t;
    sf_error err = {0};
    const void *v;
    assert_int_equal(st->ops->begin(st, false, &t, &err), 0);
    int rc = st->ops->get(t, key, strlen(key), &v, len, &err);
    if (rc == 0)
        memcpy(out, v, *len);
    st->ops->abort(t);
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
    sf_store_txn *t;
    sf_error err = {0};
    assert_int_equal(st->ops->begin(st, true, &t, &err), 0);
    assert_int_equal(st->ops->put(t, "i536365", 7, header, hlen, &err), 0);
    assert_int_equal(st->ops->put(t, line_key, 12, packed, (size_t)plen, &err), 0);
    assert_int_equal(st->ops->put(t, "o\0\0\0\0", 5, pos, 8, &err), 0);
    assert_int_equal(st->ops->commit(t, &err), 0);
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
    assert_int_equal(sf_store_open(dir, false, &st, &err), 0);
    store_old_invoice(st);
    /* N lines of 1,000 at a billion pounds: 10^15 milli-units each. */
    sf_record r;
    ut_make(&r, "536365", "85123A", "", 1000, T0 + 60, SF_PRICE_MAX, 17850, "United Kingdom");
    uint8_t packed[SF_PACK_MAX];
    int plen = sf_record_pack(&r, packed, sizeof packed);
    sf_stream_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (int i = 0; i < N; i++)
        e[i] = (sf_stream_entry){(uint64_t)i + 1, packed, (uint32_t)plen};
    sf_stream_batch b = {.entries = e, .cap = N, .count = N, .next_offset = N + 1};
    assert_int_equal(sf_history_sink_new(st, &h, &err), 0);
    assert_int_equal(h->ops->apply(h, 0, &b, &err), 0);
    assert_int_equal(h->ops->flush(h, true, &err), 0);

    uint8_t raw[256];
    size_t len = 0;
    assert_int_equal(get_raw(st, "i536365", raw, &len), 0);
    assert_int_equal(raw[len - 2], 0); /* rewritten as version 2 */
    assert_int_equal(raw[len - 1], 2);
    sf_invoice_header hd;
    assert_int_equal(sf_history_decode_header(raw, len, &hd), 0);
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
    st->ops->close(st);
    free(e);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_v1),
        cmocka_unit_test(test_header_v2),
        cmocka_unit_test(test_old_header_goes_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
