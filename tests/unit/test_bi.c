/*
 * test_bi.c - query/bi.h: parameter parsing and its errors (every bad value
 * names its parameter), defaults, ranges, rounding of averages, and
 * sf_bi_answer on an empty warehouse (an answer, not an error) and on a
 * loaded one, answer after answer (what a thread keeps between answers
 * changes none); the heads of ranked lists (storage/warehouse/ranked.c),
 * reading them, totals past 64 bits in them, and the entries an adapter
 * keeps between reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pack.h"
#include "support.h"
#include "query/bi.h"
#include "storage/warehouse/rollup.h"

/* Parameters as a NULL-terminated list "name", "value", ... */
static const char *param(void *ctx, const char *name)
{
    const char *const *kv = ctx;
    for (; kv && kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static int parse(const char *question, const char *const *kv, sf_bi_query *q, sf_error *err)
{
    return sf_bi_parse(question, param, (void *)kv, q, err);
}

static void test_defaults(void **state)
{
    (void)state;
    sf_bi_query q;
    sf_error err = {0};
    assert_int_equal(parse("sales", NULL, &q, &err), 0);
    assert_int_equal(q.question, SF_BI_SALES);
    assert_int_equal(q.grain, SF_GRAIN_DAY);
    assert_string_equal(q.from, "");
    assert_int_equal(parse("top-products", NULL, &q, &err), 0);
    assert_int_equal(q.grain, SF_GRAIN_MONTH);
    assert_int_equal(q.limit, 10);
    assert_false(q.by_revenue);
    assert_false(q.include_non_products);
    assert_int_equal(parse("top-customers", NULL, &q, &err), 0);
    assert_true(q.by_revenue);
    assert_int_equal(parse("profile", NULL, &q, &err), 0);
    assert_false(q.by_weekday);
}

static void test_values(void **state)
{
    (void)state;
    sf_bi_query q;
    sf_error err = {0};
    const char *const s[] = {"granularity", "hour", "from", "2011-11-05T08", "to", "2011", NULL};
    assert_int_equal(parse("sales", s, &q, &err), 0);
    assert_int_equal(q.grain, SF_GRAIN_HOUR);
    assert_string_equal(q.from, "2011-11-05 08"); /* 'T' becomes the key's space */
    assert_string_equal(q.to, "2011");
    const char *const p[] = {
        "by", "revenue", "at", "2011-11-05", "limit", "1000", "include_non_products", "true", NULL};
    assert_int_equal(parse("top-products", p, &q, &err), 0);
    assert_int_equal(q.grain, SF_GRAIN_DAY); /* the precision of at */
    assert_string_equal(q.at, "2011-11-05");
    assert_int_equal(q.limit, 1000);
    assert_true(q.by_revenue);
    assert_true(q.include_non_products);
    const char *const w[] = {"by", "weekday", NULL};
    assert_int_equal(parse("profile", w, &q, &err), 0);
    assert_true(q.by_weekday);
    const char *const leap[] = {"period", "day", "at", "2012-02-29", NULL};
    assert_int_equal(parse("top-invoices", leap, &q, &err), 0);
}

/* Each bad parameter is SF_EINVAL with a message naming it. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *question, *name, *value, *second, *second_value;
    } bad[] = {
        {"sales", "granularity", "week", NULL, NULL},
        {"sales", "from", "2011-13", NULL, NULL},
        {"sales", "from", "2011-02-29", NULL, NULL},
        {"sales", "to", "2011-11-05 24", NULL, NULL},
        {"sales", "to", "11/5/2011", NULL, NULL},
        {"sales", "from", "2011-02", "to", "2011-01"},
        {"profile", "by", "month", NULL, NULL},
        {"top-products", "by", "price", NULL, NULL},
        {"top-products", "limit", "0", NULL, NULL},
        {"top-products", "limit", "1001", NULL, NULL},
        {"top-products", "limit", "5x", NULL, NULL},
        {"top-products", "period", "week", NULL, NULL},
        {"top-products", "include_non_products", "yes", NULL, NULL},
        {"top-products", "at", "2011-11-05 08", NULL, NULL},
        {"top-products", "period", "month", "at", "2011"},
        {"top-customers", "by", "units", NULL, NULL},
        {"top-invoices", "at", "20111", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {bad[i].name, bad[i].value, bad[i].second, bad[i].second_value, NULL};
        sf_bi_query q;
        sf_error err = {0};
        int rc = parse(bad[i].question, kv, &q, &err);
        if (rc != SF_EINVAL)
            fail_msg("%s %s=%s: %d", bad[i].question, bad[i].name, bad[i].value, rc);
        if (!strstr(err.msg, "parameter"))
            fail_msg("%s %s=%s: %s", bad[i].question, bad[i].name, bad[i].value, err.msg);
        if (!strstr(err.msg, bad[i].second ? bad[i].second : bad[i].name))
            fail_msg("the message does not name the parameter: %s", err.msg);
    }
    sf_bi_query q;
    sf_error err = {0};
    assert_int_equal(parse("top-sellers", NULL, &q, &err), SF_ENOENT);
    assert_non_null(strstr(err.msg, "top-sellers"));
}

static void test_rounding(void **state)
{
    (void)state;
    assert_int_equal(sf_bi_div_round(10, 4), 3);   /* 2.5 -> 3 */
    assert_int_equal(sf_bi_div_round(-10, 4), -3); /* -2.5 -> -3 */
    assert_int_equal(sf_bi_div_round(9, 4), 2);
    assert_int_equal(sf_bi_div_round(-9, 4), -2);
    assert_int_equal(sf_bi_div_round(60665, 3), 20222);
    assert_int_equal(sf_bi_div_round(0, 7), 0);
    /* Past 64 bits (its own path): halves still away from zero. */
    sf_i128 e30 = (sf_i128)1000000000000000 * 1000000000000000;
    assert_true(sf_bi_div_round(e30 + 5, 10) == e30 / 10 + 1);
    assert_true(sf_bi_div_round(-e30 - 5, 10) == -e30 / 10 - 1);
    assert_true(sf_bi_div_round(-e30 - 4, 10) == -e30 / 10);
    assert_true(sf_bi_div_round((sf_i128)INT64_MAX + 1, 2) == (sf_i128)1 << 62);
}

/* A warehouse that was created but never loaded answers with no data. */
static void test_empty_warehouse(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_test_bi_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/w.db", dir);
    sf_error err = {0};
    sf_warehouse *w = NULL, *r = NULL;
    assert_int_equal(sf_warehouse_open(path, &(sf_warehouse_opts){.read_only = true}, &r, &err),
                     SF_ENOENT);
    assert_int_equal(sf_warehouse_open(path, NULL, &w, &err), 0);
    assert_int_equal(sf_warehouse_open(path, &(sf_warehouse_opts){.read_only = true}, &r, &err), 0);
    const char *const kv[] = {"granularity", "month", NULL};
    uint64_t end[2] = {5, 7};
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(sf_bi_answer(r, "sales", param, (void *)kv, end, 2, &json, &len, &err), 0);
    assert_non_null(strstr(json, "\"buckets\":[]"));
    assert_non_null(strstr(json, "\"offsets\":[0,0]"));
    assert_non_null(strstr(json, "\"lag\":12"));
    assert_non_null(strstr(json, "\"from\":null"));
    assert_int_equal(strlen(json), len);
    free(json);
    assert_int_equal(sf_bi_answer(r, "top-products", param, NULL, NULL, 0, &json, &len, &err), 0);
    assert_non_null(strstr(json, "\"periods\":[]"));
    free(json);
    assert_int_equal(sf_bi_answer(r, "nope", param, NULL, NULL, 0, &json, &len, &err), SF_ENOENT);
    assert_null(json);
    sf_warehouse_close(r);
    sf_warehouse_close(w);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Load n records into the warehouse at path: 5 lines an invoice, an
 * invoice every 2 hours from 2010-12-01, 23 products, 11 customers. */
static void load_records(const char *path, int n)
{
    sf_warehouse *w = NULL;
    sf_error err = {0};
    assert_int_equal(sf_warehouse_open(path, NULL, &w, &err), 0);
    sf_stream_entry *entries = calloc((size_t)n, sizeof *entries);
    uint8_t(*data)[512] = calloc((size_t)n, sizeof *data);
    assert_non_null(entries);
    assert_non_null(data);
    for (int i = 0; i < n; i++) {
        sf_record r;
        sf_record_clear(&r);
        r.invoice_no_len =
            (uint8_t)snprintf(r.invoice_no, sizeof r.invoice_no, "%d", 536000 + i / 5);
        r.stock_code_len =
            (uint8_t)snprintf(r.stock_code, sizeof r.stock_code, "8%04d", i * 7 % 23);
        r.description_len =
            (uint16_t)snprintf(r.description, sizeof r.description, "THING %d", i * 7 % 23);
        r.country_len = (uint8_t)snprintf(r.country, sizeof r.country, i % 4 ? "France" : "EIRE");
        r.quantity = 1 + i % 9;
        r.unit_price = 150 + (int64_t)(i * 37 % 1000);
        r.customer_id = 12000 + i / 5 % 11;
        r.invoice_date = 1291190400 + (int64_t)(i / 5) * 7200; /* from 2010-12-01, 12 a day */
        sf_record_derive(&r);
        int len = sf_record_pack(&r, data[i], sizeof data[i]);
        assert_true(len > 0);
        entries[i] = (sf_stream_entry){ut_pos((uint64_t)i), data[i], (uint32_t)len};
    }
    sf_stream_batch b = {0};
    b.entries = entries, b.count = (size_t)n, b.cap = (size_t)n, b.next = ut_pos((uint64_t)n);
    assert_int_equal(sf_warehouse_load(w, 0, &b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    sf_warehouse_close(w);
    free(entries);
    free(data);
}

/* q's answer from a result of its own (sf_bi_run, sf_bi_json): malloc'd. */
static char *answer_alone(sf_warehouse *r, const char *question, const char *const *kv)
{
    sf_bi_query q;
    sf_bi_result res;
    sf_error err = {0};
    assert_int_equal(parse(question, kv, &q, &err), 0);
    assert_int_equal(sf_bi_run(r, &q, &res, &err), 0);
    sf_buf b = SF_BUF_INIT;
    sf_bi_json(&res, NULL, 0, &b);
    sf_bi_result_free(&res);
    return sf_buf_take(&b, NULL);
}

/* sf_bi_answer keeps its arrays from one answer to the next on a thread,
 * and the adapter its ranking's entries: answers of every kind and size
 * asked one after another, both ways round, are each the answer asked
 * alone. */
static void test_answers_in_a_row(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_test_bi_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/w.db", dir);
    load_records(path, 600);
    static const char *const asked[][9] = {
        {"top-products", "period", "day", "limit", "1000", NULL},
        {"sales", "granularity", "hour", NULL},
        {"top-customers", "period", "month", "limit", "2", NULL},
        {"profile", "by", "hour_of_day", NULL},
        {"top-invoices", "period", "day", "limit", "3", NULL},
        {"top-products", "at", "2010-12-02", "by", "revenue", NULL},
        {"sales", "granularity", "year", "from", "2011", "to", "2011", NULL},
        {"profile", "by", "weekday", NULL},
        {"top-customers", "period", "day", "from", "2010-12-03", "to", "2010-12-04", NULL},
    };
    size_t n = sizeof asked / sizeof asked[0];
    char *alone[sizeof asked / sizeof asked[0]];
    sf_warehouse *r = NULL;
    sf_error err = {0};
    assert_int_equal(sf_warehouse_open(path, &(sf_warehouse_opts){.read_only = true}, &r, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_non_null(alone[i] = answer_alone(r, asked[i][0], &asked[i][1]));
    assert_non_null(strstr(alone[0], "\"stock_code\":\"80022\"")); /* data, not empty answers */
    const char *before = "nothing";
    for (size_t k = 0; k < 2 * n; k++) {
        size_t i = k < n ? k : 2 * n - 1 - k;
        char *json = NULL;
        size_t len = 0;
        assert_int_equal(
            sf_bi_answer(r, asked[i][0], param, (void *)&asked[i][1], NULL, 0, &json, &len, &err),
            0);
        if (strcmp(json, alone[i]) != 0)
            fail_msg("%s, asked after %s: %s\nasked alone: %s", asked[i][0], before, json,
                     alone[i]);
        assert_int_equal(strlen(json), len);
        free(json);
        before = asked[i][0];
    }
    for (size_t i = 0; i < n; i++)
        free(alone[i]);
    sf_warehouse_close(r);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A ranked product list of n entries "P000".."P<n-1>" (units 1000 - i),
 * every tenth a non-product: the first m entries of any two are alike. */
static void product_list(sf_buf *b, int n)
{
    sf_buf_puts(b, "[");
    for (int i = 0; i < n; i++)
        sf_buf_printf(b, "%s[\"P%03d\",%d,%d,1,%d]", i ? "," : "", i, 1000 - i, 100000 - 10 * i,
                      i % 10 == 9);
    sf_buf_puts(b, "]");
}

static void test_rank_heads(void **state)
{
    (void)state;
    sf_buf list = SF_BUF_INIT, head = SF_BUF_INIT;
    product_list(&list, 150);
    size_t n = sf_wh_head_len(list.data, list.len, true, SF_WH_HEAD);
    sf_buf_add(&head, list.data, n);
    sf_buf_puts(&head, "]");
    sf_buf expect = SF_BUF_INIT;
    product_list(&expect, SF_WH_HEAD);
    assert_int_equal(head.len, expect.len); /* the first 100 entries, closed */
    assert_memory_equal(head.data, expect.data, head.len - 1);
    assert_int_equal(sf_wh_head_len("[]", 2, true, SF_WH_HEAD), 1);
    /* A shorter cut (PostgreSQL's tops): the first 20 of the head. */
    sf_buf top = SF_BUF_INIT;
    product_list(&top, 20);
    assert_int_equal(sf_wh_head_len(head.data, head.len, true, 20), top.len - 1);
    assert_memory_equal(head.data, top.data, top.len - 1);
    assert_int_equal(sf_wh_head_len(head.data, head.len, true, 0), 1);
    sf_buf_free(&top);

    wh_ranked r = {0};
    sf_wh_top t = {SF_GRAIN_DAY, "2011-01-04", NULL, 10, false, false};
    sf_error err = {0};
    bool short_head = true;
    /* 10 products from the head: the non-products P009 skipped. */
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-04", head.data, head.len, false, 150, &t, true,
                                       &short_head, &err),
                     0);
    assert_false(short_head);
    assert_int_equal(r.n, 10);
    assert_string_equal(r.e[8].code, "P008");
    assert_string_equal(r.e[9].code, "P010");
    assert_string_equal(r.period[9], "2011-01-04");
    /* 95 products need more than the head's 90: nothing taken, the whole list asked for. */
    t.limit = 95;
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-05", head.data, head.len, false, 150, &t, true,
                                       &short_head, &err),
                     0);
    assert_true(short_head);
    assert_int_equal(r.n, 10);
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-05", list.data, list.len, true, 0, &t, true,
                                       &short_head, &err),
                     0);
    assert_false(short_head);
    assert_int_equal(r.n, 105);
    assert_string_equal(r.e[104].code, "P104");
    /* With the non-products the head holds 95; a list no longer than its head is whole. */
    t.include_non_products = true;
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-06", head.data, head.len, false, 150, &t, true,
                                       &short_head, &err),
                     0);
    assert_false(short_head);
    assert_int_equal(r.n, 200);
    t.limit = 1000;
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-07", head.data, head.len, false, 100, &t, true,
                                       &short_head, &err),
                     0);
    assert_false(short_head);
    assert_int_equal(r.n, 300);
    sf_wh_ranked_free(&r);

    wh_dims d;
    sf_wh_dims_init(&d);
    assert_int_equal(sf_wh_dims_put(&d, "P001", 0, "RED MUG", 7, &err), 0);
    assert_int_equal(sf_wh_dims_put(&d, NULL, 12346, "United Kingdom", 14, &err), 0);
    wh_rank_entry e = {.code = "P001"};
    assert_string_equal(sf_wh_dims_get(&d, &e, true), "RED MUG");
    e.id = 12346;
    assert_string_equal(sf_wh_dims_get(&d, &e, false), "United Kingdom");
    e.id = 1;
    assert_string_equal(sf_wh_dims_get(&d, &e, false), "");
    /* Each key is wanted once: the first ask says so, the next not. */
    e.id = 777;
    bool first = false;
    assert_int_equal(sf_wh_dims_want(&d, &e, false, &first, &err), 0);
    assert_true(first);
    assert_int_equal(sf_wh_dims_want(&d, &e, false, &first, &err), 0);
    assert_false(first);
    e.id = 12346; /* put before: asked for already */
    assert_int_equal(sf_wh_dims_want(&d, &e, false, &first, &err), 0);
    assert_false(first);
    sf_wh_dims_free(&d);
    sf_buf_free(&list);
    sf_buf_free(&head);
    sf_buf_free(&expect);
}

/* Totals past 64 bits in a ranked list read back whole (19 to 38 digits,
 * either sign); 39 digits are not a list ranked.c writes. */
static void test_rank_wide(void **state)
{
    (void)state;
    const char *text = "[[\"A\",9223372036854775807,-9223372036854775808,1,0],"
                       "[\"B\",1000000000000000000000,-99999999999999999999999999999999999999,1,"
                       "0],[\"C\",123456789012345678,-1234567890123456789,99999999999999999999,0],"
                       "[\"D\",1000000000000000000000000000000000000000,1,1,0]]";
    const char *p = text, *end = text + strlen(text);
    wh_rank_entry e;
    assert_true(sf_wh_rank_next(&p, end, true, &e));
    assert_true(e.v[0] == INT64_MAX && e.v[1] == INT64_MIN);
    assert_true(sf_wh_rank_next(&p, end, true, &e));
    sf_i128 e19 = (sf_i128)10000000000000000000ULL;
    assert_true(e.v[0] == e19 * 100);
    assert_true(e.v[1] == -(e19 * e19 - 1)); /* 38 nines */
    assert_true(sf_wh_rank_next(&p, end, true, &e));
    assert_true(e.v[0] == 123456789012345678 && e.v[1] == -1234567890123456789);
    assert_true(e.v[2] == e19 * 10 - 1); /* past UINT64_MAX */
    assert_string_equal(e.code, "C");
    assert_false(sf_wh_rank_next(&p, end, true, &e)); /* 40 digits */
}

/* A kept wh_ranked (an adapter's, between reads) is emptied with its
 * arrays kept, unless they grew past a listing of every day of a year. */
static void test_rank_kept(void **state)
{
    (void)state;
    sf_buf list = SF_BUF_INIT;
    product_list(&list, 1000);
    sf_wh_top t = {SF_GRAIN_DAY, "2011-01-04", NULL, 1000, false, true};
    sf_error err = {0};
    bool short_head;
    wh_ranked r = {0};
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-04", list.data, list.len, true, 0, &t, true,
                                       &short_head, &err),
                     0);
    assert_int_equal(r.n, 1000);
    wh_rank_entry *kept = r.e;
    sf_wh_ranked_reset(&r);
    assert_int_equal(r.n, 0);
    assert_ptr_equal(r.e, kept);
    assert_int_equal(sf_wh_ranked_take(&r, "2011-01-05", list.data, list.len, true, 0, &t, true,
                                       &short_head, &err),
                     0);
    assert_ptr_equal(r.e, kept); /* the same room again */
    assert_string_equal(r.e[999].code, "P999");
    assert_string_equal(r.period[999], "2011-01-05");
    for (int day = 6; day < 16; day++) /* 11,000 entries */
        assert_int_equal(sf_wh_ranked_take(&r, "2011-01-06", list.data, list.len, true, 0, &t, true,
                                           &short_head, &err),
                         0);
    assert_int_equal(r.n, 11000);
    sf_wh_ranked_reset(&r);
    assert_int_equal(r.n, 0);
    assert_null(r.e); /* too large to keep */
    assert_int_equal(r.cap, 0);
    sf_wh_ranked_free(&r);
    sf_buf_free(&list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_empty_warehouse), cmocka_unit_test(test_answers_in_a_row),
        cmocka_unit_test(test_rank_heads),      cmocka_unit_test(test_rank_wide),
        cmocka_unit_test(test_rank_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
