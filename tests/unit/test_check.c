/*
 * test_check.c - check.h: the figures of `shopflow check` on a small
 * hand-made set (rows, distinct invoices / products / descriptions /
 * customers / countries / days, first and last dates, quantity and revenue
 * sums, kinds and flags), duplicates that ignore the event id, the pending
 * duplicate row counted at any point, revenue beyond 64 bits (exact).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "check/check.h"
#include "support.h"

#define DAY 86400

static sf_check *new_check(void)
{
    sf_check *c = NULL;
    sf_error err;
    assert_int_equal(sf_check_new(&c, &err), 0);
    assert_non_null(c);
    return c;
}

static void add(sf_check *c, const sf_record *r)
{
    sf_error err;
    assert_int_equal(sf_check_add(c, r, &err), 0);
}

static sf_check_figures figures(sf_check *c)
{
    sf_check_figures f;
    sf_error err;
    memset(&f, 0x5A, sizeof f);
    assert_int_equal(sf_check_figures_get(c, &f, &err), 0);
    return f;
}

static void test_empty(void **state)
{
    (void)state;
    sf_check *c = new_check();
    sf_check_figures f = figures(c);
    assert_int_equal(f.rows, 0);
    assert_int_equal(f.invoices + f.stock_codes + f.customers + f.days, 0);
    assert_int_equal(f.first, 0);
    assert_int_equal(f.last, 0);
    assert_int_equal(f.revenue, 0);
    assert_int_equal(f.duplicate_rows, 0);
    sf_check_free(c);
    sf_check_free(NULL);
}

/* Seven rows: three invoices over two days, one repeated row (with another
 * event id), a cancellation, an adjustment, no-customer, zero-price and
 * non-product rows. */
static void add_small_set(sf_check *c)
{
    sf_record r;
    ut_make(&r, "536365", "85123A", "WHITE HEART", 6, UT_T0, 2550, 17850, "United Kingdom");
    add(c, &r);
    ut_make(&r, "536365", "71053", "WHITE LANTERN", 6, UT_T0, 3390, 17850, "United Kingdom");
    add(c, &r);
    memcpy(r.event_id, "ev-2", 5);
    r.event_id_len = 4;
    add(c, &r); /* a duplicate of the row before: the event id does not count */
    ut_make(&r, "C536379", "D", "Discount", -1, UT_T0 + 3600, 27500, 14527, "United Kingdom");
    add(c, &r);
    ut_make(&r, "536370", "POST", "POSTAGE", 3, UT_T0 + DAY, 18000, 12583, "France");
    add(c, &r);
    ut_make(&r, "536370", "22728", "", 24, UT_T0 + DAY + 60, 0, SF_NO_CUSTOMER, "France");
    add(c, &r);
    ut_make(&r, "A563185", "B", "Adjust bad debt", 1, UT_T0 - 7200, -11062060, SF_NO_CUSTOMER,
            "United Kingdom");
    add(c, &r);
}

static void test_small_set_figures(void **state)
{
    (void)state;
    sf_check *c = new_check();
    add_small_set(c);
    sf_check_figures f = figures(c);
    assert_int_equal(f.rows, 7);
    assert_int_equal(f.invoices, 4);
    assert_int_equal(f.stock_codes, 6);
    assert_int_equal(f.descriptions, 5); /* the empty one is not counted */
    assert_int_equal(f.customers, 3);
    assert_int_equal(f.countries, 2);
    assert_int_equal(f.days, 2);
    assert_int_equal(f.first, UT_T0 - 7200);
    assert_int_equal(f.last, UT_T0 + DAY + 60);
    assert_int_equal(f.quantity, 6 + 6 + 6 - 1 + 3 + 24 + 1);
    assert_int_equal(f.revenue, 6 * 2550 + 2 * 6 * 3390 - 27500 + 3 * 18000 - 11062060);
    assert_int_equal(f.duplicate_rows, 1);
    assert_int_equal(f.cancellation_rows, 1);
    assert_int_equal(f.adjustment_rows, 1);
    assert_int_equal(f.no_customer_rows, 2);
    assert_int_equal(f.zero_price_rows, 1);
    assert_int_equal(f.non_product_rows, 3); /* D, POST, B */
    assert_int_equal(f.negative_quantity_rows, 1);
    sf_check_free(c);
}

static void test_figures_twice_and_in_between(void **state)
{
    (void)state;
    sf_check *c = new_check();
    sf_record r;
    ut_make(&r, "1", "S", "x", 1, UT_T0, 1000, 1, "UK");
    add(c, &r);
    add(c, &r);
    assert_int_equal(figures(c).duplicate_rows, 1); /* the last row is counted at once */
    assert_int_equal(figures(c).duplicate_rows, 1); /* and only once */
    add(c, &r);
    sf_check_figures f = figures(c);
    assert_int_equal(f.duplicate_rows, 2);
    assert_int_equal(f.rows, 3);
    assert_int_equal(f.invoices, 1);
    sf_check_free(c);
}

static void test_duplicates_need_every_field(void **state)
{
    (void)state;
    sf_check *c = new_check();
    sf_record a, b;
    ut_make(&a, "1", "S", "WHITE HEART", 1, UT_T0, 1000, 1, "UK");
    add(c, &a);
    b = a;
    b.description_len--; /* "WHITE HEAR" */
    add(c, &b);
    b = a;
    b.quantity = 2;
    add(c, &b);
    b = a;
    b.invoice_date += 1;
    add(c, &b);
    b = a;
    b.customer_id = 2;
    add(c, &b);
    /* texts that only concatenate alike are different rows */
    ut_make(&a, "12", "3", "", 1, UT_T0, 1000, 1, "UK");
    add(c, &a);
    ut_make(&b, "1", "23", "", 1, UT_T0, 1000, 1, "UK");
    add(c, &b);
    assert_int_equal(figures(c).duplicate_rows, 0);
    sf_check_free(c);
}

static void test_interleaved_invoices_and_days(void **state)
{
    (void)state;
    sf_check *c = new_check();
    sf_record r;
    const char *inv[] = {"A1", "B2", "A1", "B2", "C3", "A1"};
    const int64_t t[] = {0, DAY, 0, 2 * DAY, DAY, -1};
    for (int i = 0; i < 6; i++) {
        ut_make(&r, inv[i], "S", "", 1, UT_T0 + t[i], 1000 + i, 1, "UK");
        add(c, &r);
    }
    sf_check_figures f = figures(c);
    assert_int_equal(f.invoices, 3);
    assert_int_equal(f.days, 3); /* UT_T0 - 1 s is UT_T0's day */
    sf_check_free(c);
}

static void test_days_before_1970(void **state)
{
    (void)state;
    sf_check *c = new_check();
    sf_record r;
    const int64_t t[] = {-1, -DAY, -DAY - 1, 0, -DAY + 1};
    for (int i = 0; i < 5; i++) {
        ut_make(&r, "1", "S", "", 1, t[i], 1000 + i, 1, "UK");
        add(c, &r);
    }
    sf_check_figures f = figures(c);
    assert_int_equal(f.days, 3); /* 1969-12-30, 1969-12-31, 1970-01-01 */
    assert_int_equal(f.first, -DAY - 1);
    assert_int_equal(f.last, 0);
    sf_check_free(c);
}

/* The text of a 128-bit total, to compare. */
static const char *i128_text(sf_i128 v)
{
    static char t[SF_MONEY_TEXT_MAX];
    sf_format_i128(v, t);
    return t;
}

static void test_revenue_beyond_64_bits(void **state)
{
    (void)state;
    sf_check *c = new_check();
    sf_record r;
    /* Each line is the largest amount allowed: 10^15 milli-units; 9,223 of
     * them fill an int64, the sums are 128-bit (money.h). */
    ut_make(&r, "1", "S", "", 1000, UT_T0, SF_AMOUNT_MAX / 1000, 1, "UK");
    assert_int_equal(sf_record_amount(&r), SF_AMOUNT_MAX);
    const int64_t n = INT64_MAX / SF_AMOUNT_MAX + 2; /* 9225 */
    sf_error err;
    for (int64_t i = 0; i < n; i++) {
        r.invoice_date = UT_T0 + i;
        assert_int_equal(sf_check_add(c, &r, &err), 0);
    }
    sf_check_figures f = figures(c);
    assert_int_equal(f.rows, n);
    assert_string_equal(i128_text(f.revenue), "9225000000000000000"); /* > INT64_MAX */
    assert_string_equal(i128_text(f.quantity), "9225000");
    r.quantity = -1000; /* a cancellation brings it back below */
    assert_int_equal(sf_check_add(c, &r, &err), 0);
    assert_string_equal(i128_text(figures(c).revenue), "9224000000000000000");
    sf_check_free(c);
}

static void test_reserve(void **state)
{
    (void)state;
    sf_check *c = new_check();
    assert_int_equal(sf_check_reserve(c, 1000000), 0);
    add_small_set(c);
    assert_int_equal(figures(c).duplicate_rows, 1);
    sf_check_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_set_figures),
        cmocka_unit_test(test_figures_twice_and_in_between),
        cmocka_unit_test(test_duplicates_need_every_field),
        cmocka_unit_test(test_interleaved_invoices_and_days),
        cmocka_unit_test(test_days_before_1970),
        cmocka_unit_test(test_revenue_beyond_64_bits),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
