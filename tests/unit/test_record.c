/*
 * test_record.c - record.h: clearing, kind (C/A invoices), flags, the
 * non-product stock codes, the line amount, sf_record_equal field by field
 * and sf_kind_name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/record.h"
#include "support.h"

static void test_clear(void **state)
{
    (void)state;
    sf_record r;
    memset(&r, 0x5A, sizeof r);
    sf_record_clear(&r);
    assert_int_equal(r.customer_id, SF_NO_CUSTOMER);
    assert_int_equal(r.quantity, 0);
    assert_int_equal(r.unit_price, 0);
    assert_int_equal(r.invoice_date, 0);
    assert_int_equal(r.kind, SF_KIND_SALE);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.invoice_no_len + r.stock_code_len + r.country_len + r.event_id_len, 0);
    assert_int_equal(r.description_len, 0);
    assert_string_equal(r.invoice_no, "");
    assert_string_equal(r.description, "");
    assert_string_equal(r.event_id, "");
}

static void test_kinds(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "536365", "85123A", "", 6, UT_T0, 2550, 17850, "United Kingdom");
    assert_int_equal(r.kind, SF_KIND_SALE);
    ut_make(&r, "C536379", "D", "Discount", -1, UT_T0, 27500, 14527, "United Kingdom");
    assert_int_equal(r.kind, SF_KIND_CANCELLATION);
    ut_make(&r, "A563185", "B", "Adjust bad debt", 1, UT_T0, 11062060, SF_NO_CUSTOMER,
            "United Kingdom");
    assert_int_equal(r.kind, SF_KIND_ADJUSTMENT);
    /* Only the first character counts, and case matters. */
    ut_make(&r, "c536379", "22", "", 1, UT_T0, 1, 1, "X");
    assert_int_equal(r.kind, SF_KIND_SALE);
    ut_make(&r, "5C36379", "22", "", 1, UT_T0, 1, 1, "X");
    assert_int_equal(r.kind, SF_KIND_SALE);
}

static void test_flags(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "536365", "85123A", "", 6, UT_T0, 2550, 17850, "UK");
    assert_int_equal(r.flags, 0);
    ut_make(&r, "536365", "85123A", "", 6, UT_T0, 0, 17850, "UK");
    assert_int_equal(r.flags, SF_FLAG_ZERO_PRICE);
    ut_make(&r, "536365", "85123A", "", 6, UT_T0, 1, SF_NO_CUSTOMER, "UK");
    assert_int_equal(r.flags, SF_FLAG_NO_CUSTOMER);
    ut_make(&r, "536365", "POST", "", 6, UT_T0, 0, SF_NO_CUSTOMER, "UK");
    assert_int_equal(r.flags, SF_FLAG_NON_PRODUCT | SF_FLAG_ZERO_PRICE | SF_FLAG_NO_CUSTOMER);
    /* derive recomputes rather than accumulates */
    r.unit_price = 5;
    r.customer_id = 12346;
    sf_record_derive(&r);
    assert_int_equal(r.flags, SF_FLAG_NON_PRODUCT);
}

static bool non_product(const char *code)
{
    return sf_stock_code_is_non_product(code, strlen(code));
}

static void test_non_product_codes(void **state)
{
    (void)state;
    const char *yes[] = {"POST",
                         "DOT",
                         "M",
                         "m",
                         "D",
                         "C2",
                         "S",
                         "B",
                         "CRUK",
                         "PADS",
                         "AMAZONFEE",
                         "BANK CHARGES",
                         "gift_0001_10",
                         "gift_0001_",
                         "DCGS0003",
                         "DCGS"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!non_product(yes[i]))
            fail_msg("\"%s\" should be a non-product code", yes[i]);
    const char *no[] = {"85123A",    "POSTAGE", "post",  "DOTCOM",       "MM",
                        "C",         "c2",      "",      "Bank charges", "gift_0002_10",
                        "gift_0001", "DCG",     "ADCGS", "21730"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (non_product(no[i]))
            fail_msg("\"%s\" should be a product code", no[i]);
    /* the length is honoured, not the NUL */
    assert_true(sf_stock_code_is_non_product("POSTAGE", 4));
    assert_false(sf_stock_code_is_non_product("POST", 3));
}

static void test_amount(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "536365", "85123A", "", 6, UT_T0, 2550, 17850, "UK");
    assert_int_equal(sf_record_amount(&r), 15300);
    ut_make(&r, "C536379", "85123A", "", -3, UT_T0, -11062060, 17850, "UK");
    assert_int_equal(sf_record_amount(&r), 33186180);
    ut_make(&r, "1", "2", "", INT32_MIN, UT_T0, 400000, 1, "UK");
    assert_int_equal(sf_record_amount(&r), INT64_C(-858993459200000));
}

static void test_equal(void **state)
{
    (void)state;
    sf_record a, b;
    ut_make(&a, "536365", "85123A", "WHITE HEART ", 6, UT_T0, 2550, 17850, "UK");
    ut_make(&b, "536365", "85123A", "WHITE HEART ", 6, UT_T0, 2550, 17850, "UK");
    /* bytes past the lengths do not count */
    memset(b.description + b.description_len + 1, 'x', 8);
    assert_true(sf_record_equal(&a, &b));
    assert_true(sf_record_equal(&a, &a));
}

/* Change b in one way and check it is no longer equal to a. */
static void assert_differs(const sf_record *a, void (*change)(sf_record *))
{
    sf_record b = *a;
    change(&b);
    assert_false(sf_record_equal(a, &b));
    assert_false(sf_record_equal(&b, a));
}

static void ch_invoice(sf_record *r)
{
    r->invoice_no[5] = '6';
}
static void ch_stock(sf_record *r)
{
    r->stock_code_len--;
}
static void ch_desc(sf_record *r)
{
    r->description_len--;
}
static void ch_country(sf_record *r)
{
    r->country[0] = 'u';
}
static void ch_event(sf_record *r)
{
    memcpy(r->event_id, "e1", 3);
    r->event_id_len = 2;
}
static void ch_qty(sf_record *r)
{
    r->quantity = -6;
}
static void ch_date(sf_record *r)
{
    r->invoice_date++;
}
static void ch_price(sf_record *r)
{
    r->unit_price = 2551;
}
static void ch_customer(sf_record *r)
{
    r->customer_id = SF_NO_CUSTOMER;
}
static void ch_kind(sf_record *r)
{
    r->kind = SF_KIND_ADJUSTMENT;
}
static void ch_flags(sf_record *r)
{
    r->flags ^= SF_FLAG_ZERO_PRICE;
}

static void test_not_equal(void **state)
{
    (void)state;
    sf_record a;
    ut_make(&a, "536365", "85123A", "WHITE HEART ", 6, UT_T0, 2550, 17850, "UK");
    void (*changes[])(sf_record *) = {ch_invoice,  ch_stock, ch_desc, ch_country,
                                      ch_event,    ch_qty,   ch_date, ch_price,
                                      ch_customer, ch_kind,  ch_flags};
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++)
        assert_differs(&a, changes[i]);
}

static void test_kind_name(void **state)
{
    (void)state;
    assert_string_equal(sf_kind_name(SF_KIND_SALE), "sale");
    assert_string_equal(sf_kind_name(SF_KIND_CANCELLATION), "cancellation");
    assert_string_equal(sf_kind_name(SF_KIND_ADJUSTMENT), "adjustment");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clear),     cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_flags),     cmocka_unit_test(test_non_product_codes),
        cmocka_unit_test(test_amount),    cmocka_unit_test(test_equal),
        cmocka_unit_test(test_not_equal), cmocka_unit_test(test_kind_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
