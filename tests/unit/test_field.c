/*
 * test_field.c - field.h: names and lookup (any case, snake_case, spaces),
 * and sf_field_set / sf_record_finish, the one place values are validated:
 * every value type for every field, the reasons given for bad values,
 * missing fields, and the per-line limits (quantity, price, line amount)
 * at their edges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/field.h"

static sf_field lookup(const char *name)
{
    return sf_field_lookup(name, strlen(name));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(sf_field_name(SF_FIELD_INVOICE_NO), "InvoiceNo");
    assert_string_equal(sf_field_name(SF_FIELD_CUSTOMER_ID), "CustomerID");
    assert_string_equal(sf_field_name(SF_FIELD_EVENT_ID), "event_id");
    assert_string_equal(sf_field_json_name(SF_FIELD_UNIT_PRICE), "unit_price");
    assert_string_equal(sf_field_json_name(SF_FIELD_COUNTRY), "country");
    assert_string_equal(sf_field_name(SF_FIELD_NONE), "?");
    assert_string_equal(sf_field_json_name(SF_FIELD_COUNT), "?");
}

static void test_lookup_every_field_both_names(void **state)
{
    (void)state;
    for (int f = 0; f < SF_FIELD_COUNT; f++) {
        assert_int_equal(lookup(sf_field_name((sf_field)f)), f);
        assert_int_equal(lookup(sf_field_json_name((sf_field)f)), f);
    }
}

static void test_lookup_variants(void **state)
{
    (void)state;
    assert_int_equal(lookup("invoice_no"), SF_FIELD_INVOICE_NO);
    assert_int_equal(lookup("INVOICE NO"), SF_FIELD_INVOICE_NO);
    assert_int_equal(lookup("Invoice-No"), SF_FIELD_INVOICE_NO);
    assert_int_equal(lookup("customerid"), SF_FIELD_CUSTOMER_ID);
    assert_int_equal(lookup("Customer ID"), SF_FIELD_CUSTOMER_ID);
    assert_int_equal(lookup("eventId"), SF_FIELD_EVENT_ID);
    assert_int_equal(lookup("Unit_Price"), SF_FIELD_UNIT_PRICE);
    assert_int_equal(lookup("Invoice"), SF_FIELD_NONE);
    assert_int_equal(lookup("InvoiceNumber"), SF_FIELD_NONE);
    assert_int_equal(lookup(""), SF_FIELD_NONE);
    assert_int_equal(lookup("a_very_long_column_name_indeed"), SF_FIELD_NONE);
    assert_int_equal(lookup("Country2"), SF_FIELD_NONE);
    /* len counts, not the NUL */
    assert_int_equal(sf_field_lookup("Countryside", 7), SF_FIELD_COUNTRY);
}

/* Set one value; returns sf_field_set's result, reason in why. */
static int set(sf_record *r, sf_field f, sf_value_type t, const char *s, char *why)
{
    why[0] = '\0';
    return sf_field_set(r, f, t, s, strlen(s), SF_ENC_AUTO, why);
}

static void assert_refused(sf_field f, sf_value_type t, const char *s, const char *reason)
{
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    if (set(&r, f, t, s, why) != -1)
        fail_msg("%s = \"%s\" was accepted", sf_field_name(f), s);
    assert_string_equal(why, reason);
}

static void test_text_fields(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_INVOICE_NO, SF_VALUE_TEXT, "C536379", why), 0);
    assert_string_equal(r.invoice_no, "C536379");
    assert_int_equal(r.invoice_no_len, 7);
    assert_int_equal(set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_TEXT, "LANTERN  ", why), 0);
    assert_string_equal(r.description, "LANTERN  ");
    assert_int_equal(r.description_len, 9);
    assert_int_equal(set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_TEXT, "", why), 0);
    assert_int_equal(r.description_len, 0);
    assert_int_equal(set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_NULL, "", why), 0);
    assert_int_equal(r.description_len, 0);
    assert_int_equal(set(&r, SF_FIELD_COUNTRY, SF_VALUE_TEXT, "EIRE", why), 0);
    assert_string_equal(r.country, "EIRE");
    assert_int_equal(set(&r, SF_FIELD_EVENT_ID, SF_VALUE_TEXT, "ev-1", why), 0);
    assert_string_equal(r.event_id, "ev-1");
    assert_int_equal(r.event_id_len, 4);
}

static void test_number_as_text(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_INVOICE_NO, SF_VALUE_NUMBER, "536365", why), 0);
    assert_string_equal(r.invoice_no, "536365");
    assert_int_equal(set(&r, SF_FIELD_INVOICE_NO, SF_VALUE_NUMBER, "536365.0", why), 0);
    assert_string_equal(r.invoice_no, "536365");
    assert_int_equal(r.invoice_no_len, 6);
    assert_int_equal(set(&r, SF_FIELD_STOCK_CODE, SF_VALUE_NUMBER, "21730.5", why), 0);
    assert_string_equal(r.stock_code, "21730.5");
    /* A text keeps its fraction: only JSON numbers lose ".0". */
    assert_int_equal(set(&r, SF_FIELD_STOCK_CODE, SF_VALUE_TEXT, "85123.0", why), 0);
    assert_string_equal(r.stock_code, "85123.0");
}

static void test_text_errors(void **state)
{
    (void)state;
    assert_refused(SF_FIELD_INVOICE_NO, SF_VALUE_TEXT, "", "is empty");
    assert_refused(SF_FIELD_STOCK_CODE, SF_VALUE_NULL, "", "is null");
    assert_refused(SF_FIELD_COUNTRY, SF_VALUE_BOOL, "true", "is a boolean, expected text");
    assert_refused(SF_FIELD_DESCRIPTION, SF_VALUE_BOOL, "false", "is a boolean, expected text");
    assert_refused(SF_FIELD_INVOICE_NO, SF_VALUE_TEXT, "12345678901234567",
                   "is longer than 16 bytes");
    assert_refused(SF_FIELD_COUNTRY, SF_VALUE_TEXT, "", "is empty");
    assert_refused(SF_FIELD_EVENT_ID, SF_VALUE_BOOL, "true", "is a boolean, expected text");
}

static void test_text_nul_and_encoding(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(sf_field_set(&r, SF_FIELD_COUNTRY, SF_VALUE_TEXT, "U\0K", 3, SF_ENC_AUTO, why),
                     -1);
    assert_string_equal(why, "contains a NUL byte");
    assert_int_equal(sf_field_set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_TEXT,
                                  "\xA3"
                                  "1",
                                  2, SF_ENC_UTF8, why),
                     -1);
    assert_string_equal(why, "is not valid UTF-8");
    assert_int_equal(sf_field_set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_TEXT,
                                  "\xA3"
                                  "1",
                                  2, SF_ENC_AUTO, why),
                     0);
    assert_string_equal(r.description, "\xC2\xA3"
                                       "1");
}

static void test_description_length_limit(void **state)
{
    (void)state;
    char s[SF_DESCRIPTION_MAX + 2];
    memset(s, 'd', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_TEXT, s, why), -1);
    assert_string_equal(why, "is longer than 512 bytes");
    s[SF_DESCRIPTION_MAX] = '\0';
    assert_int_equal(set(&r, SF_FIELD_DESCRIPTION, SF_VALUE_TEXT, s, why), 0);
    assert_int_equal(r.description_len, SF_DESCRIPTION_MAX);
}

static void test_quantity(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_QUANTITY, SF_VALUE_TEXT, "-80995", why), 0);
    assert_int_equal(r.quantity, -80995);
    assert_int_equal(set(&r, SF_FIELD_QUANTITY, SF_VALUE_NUMBER, "6.0", why), 0);
    assert_int_equal(r.quantity, 6);
    assert_int_equal(set(&r, SF_FIELD_QUANTITY, SF_VALUE_TEXT, "1000000000", why), 0);
    assert_int_equal(r.quantity, SF_QUANTITY_MAX);
    assert_int_equal(set(&r, SF_FIELD_QUANTITY, SF_VALUE_NUMBER, "-1e9", why), 0);
    assert_int_equal(r.quantity, -SF_QUANTITY_MAX);
}

static void test_quantity_errors(void **state)
{
    (void)state;
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "abc", "\"abc\" is not an integer");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "", "is empty");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "1.5", "\"1.5\" is not a whole number");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "1000000001",
                   "\"1000000001\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_NUMBER, "-1000000001",
                   "\"-1000000001\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "2147483648",
                   "\"2147483648\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "99999999999999999999999",
                   "\"99999999999999999999999\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_NULL, "", "is null");
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_BOOL, "true", "is a boolean, expected a number");
}

static void test_price(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "-11062.06", why), 0);
    assert_int_equal(r.unit_price, -11062060);
    assert_int_equal(set(&r, SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "2.5500", why), 0);
    assert_int_equal(r.unit_price, 2550);
    assert_int_equal(set(&r, SF_FIELD_UNIT_PRICE, SF_VALUE_NUMBER, "2.55", why), 0);
    assert_int_equal(r.unit_price, 2550);
    assert_int_equal(set(&r, SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "0", why), 0);
    assert_int_equal(r.unit_price, 0);
    assert_int_equal(set(&r, SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "1000000000.000", why), 0);
    assert_int_equal(r.unit_price, SF_PRICE_MAX);
    assert_int_equal(set(&r, SF_FIELD_UNIT_PRICE, SF_VALUE_NUMBER, "-1e9", why), 0);
    assert_int_equal(r.unit_price, -SF_PRICE_MAX);
}

static void test_price_errors(void **state)
{
    (void)state;
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "2.5501",
                   "\"2.5501\" has more than 3 decimals (prices are kept to 0.001)");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "2,55", "\"2,55\" is not a decimal number");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "", "is empty");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "1e999",
                   "\"1e999\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, "1000000000.001",
                   "\"1000000000.001\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_NUMBER, "-1000000000.001",
                   "\"-1000000000.001\" is beyond the limit of ±1,000,000,000");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_NULL, "", "is null");
    assert_refused(SF_FIELD_UNIT_PRICE, SF_VALUE_BOOL, "false", "is a boolean, expected a number");
}

static void test_date(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_INVOICE_DATE, SF_VALUE_TEXT, "12/1/2010 8:26", why), 0);
    assert_int_equal(r.invoice_date, INT64_C(1291191960));
    r.invoice_date = 0;
    assert_int_equal(set(&r, SF_FIELD_INVOICE_DATE, SF_VALUE_NUMBER, "1291191960000", why), 0);
    assert_int_equal(r.invoice_date, INT64_C(1291191960));
    r.invoice_date = 0;
    assert_int_equal(set(&r, SF_FIELD_INVOICE_DATE, SF_VALUE_NUMBER, "1.29119196e12", why), 0);
    assert_int_equal(r.invoice_date, INT64_C(1291191960));
}

static void test_date_errors(void **state)
{
    (void)state;
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_TEXT, "2011-02-29 10:00:00",
                   "\"2011-02-29 10:00:00\" day does not exist in that month");
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_TEXT, "", "is empty");
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_NULL, "", "is null");
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_BOOL, "true", "is a boolean, expected a date");
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_NUMBER, "1291191960001",
                   "\"1291191960001\" has a fraction of a second; records keep whole seconds");
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_NUMBER, "1291191960000.5",
                   "\"1291191960000.5\" is not a whole number of epoch milliseconds");
    assert_refused(SF_FIELD_INVOICE_DATE, SF_VALUE_NUMBER, "-9999999999000",
                   "\"-9999999999000\" year is out of range (1900-9999)");
}

static int32_t customer(sf_value_type t, const char *s)
{
    sf_record r;
    sf_record_clear(&r);
    r.customer_id = 42;
    char why[SF_REASON_MAX];
    if (set(&r, SF_FIELD_CUSTOMER_ID, t, s, why) != 0)
        fail_msg("CustomerID \"%s\" refused: %s", s, why);
    return r.customer_id;
}

static void test_customer_dataframe_styles(void **state)
{
    (void)state;
    assert_int_equal(customer(SF_VALUE_NUMBER, "17850"), 17850);
    assert_int_equal(customer(SF_VALUE_NUMBER, "17850.0"), 17850);
    assert_int_equal(customer(SF_VALUE_TEXT, "17850"), 17850);
    assert_int_equal(customer(SF_VALUE_TEXT, "17850.0"), 17850);
    assert_int_equal(customer(SF_VALUE_TEXT, ""), SF_NO_CUSTOMER);
    assert_int_equal(customer(SF_VALUE_TEXT, "  "), SF_NO_CUSTOMER);
    assert_int_equal(customer(SF_VALUE_NULL, ""), SF_NO_CUSTOMER);
    assert_int_equal(customer(SF_VALUE_TEXT, "2147483647"), INT32_MAX);
}

static void test_customer_errors(void **state)
{
    (void)state;
    assert_refused(SF_FIELD_CUSTOMER_ID, SF_VALUE_TEXT, "17850.5",
                   "\"17850.5\" is not a whole number");
    assert_refused(SF_FIELD_CUSTOMER_ID, SF_VALUE_TEXT, "x17850", "\"x17850\" is not an integer");
    assert_refused(SF_FIELD_CUSTOMER_ID, SF_VALUE_TEXT, "-1",
                   "\"-1\" is out of range (1 to 2147483647)");
    assert_refused(SF_FIELD_CUSTOMER_ID, SF_VALUE_TEXT, "0",
                   "\"0\" is out of range (1 to 2147483647)");
    assert_refused(SF_FIELD_CUSTOMER_ID, SF_VALUE_NUMBER, "2147483648",
                   "\"2147483648\" is out of range (1 to 2147483647)");
    assert_refused(SF_FIELD_CUSTOMER_ID, SF_VALUE_BOOL, "true", "is a boolean, expected a number");
}

static void test_reason_quotes_value_safely(void **state)
{
    (void)state;
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "a\"b\\c\n",
                   "\"a\\x22b\\x5Cc\\x0A\" is not an integer");
    /* Long values are cut at 40 bytes. */
    assert_refused(SF_FIELD_QUANTITY, SF_VALUE_TEXT, "0123456789012345678901234567890123456789xyz",
                   "\"0123456789012345678901234567890123456789...\" is not an integer");
}

static void test_unknown_field_ignored(void **state)
{
    (void)state;
    sf_record r;
    sf_record_clear(&r);
    char why[SF_REASON_MAX];
    assert_int_equal(set(&r, SF_FIELD_NONE, SF_VALUE_BOOL, "true", why), 0);
}

/* A record with every required field set from text. */
static uint32_t fill(sf_record *r, const char *qty, const char *price)
{
    char why[SF_REASON_MAX];
    sf_record_clear(r);
    assert_int_equal(set(r, SF_FIELD_INVOICE_NO, SF_VALUE_TEXT, "536365", why), 0);
    assert_int_equal(set(r, SF_FIELD_STOCK_CODE, SF_VALUE_TEXT, "POST", why), 0);
    assert_int_equal(set(r, SF_FIELD_QUANTITY, SF_VALUE_TEXT, qty, why), 0);
    assert_int_equal(set(r, SF_FIELD_INVOICE_DATE, SF_VALUE_TEXT, "2010-12-01 08:26", why), 0);
    assert_int_equal(set(r, SF_FIELD_UNIT_PRICE, SF_VALUE_TEXT, price, why), 0);
    assert_int_equal(set(r, SF_FIELD_COUNTRY, SF_VALUE_TEXT, "France", why), 0);
    return SF_FIELDS_REQUIRED;
}

static void test_finish_derives(void **state)
{
    (void)state;
    sf_record r;
    uint32_t seen = fill(&r, "1", "0");
    sf_field f = SF_FIELD_COUNT;
    char why[SF_REASON_MAX];
    assert_int_equal(sf_record_finish(&r, seen, &f, why), 0);
    assert_int_equal(r.kind, SF_KIND_SALE);
    assert_int_equal(r.flags, SF_FLAG_NON_PRODUCT | SF_FLAG_ZERO_PRICE | SF_FLAG_NO_CUSTOMER);
}

static void test_finish_missing(void **state)
{
    (void)state;
    sf_record r;
    uint32_t seen = fill(&r, "1", "1");
    sf_field f = SF_FIELD_NONE;
    char why[SF_REASON_MAX];
    for (int k = 0; k < SF_FIELD_COUNT; k++) {
        uint32_t bit = 1u << k;
        int rc = sf_record_finish(&r, seen & ~bit, &f, why);
        if (!(SF_FIELDS_REQUIRED & bit)) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_int_equal(f, k);
        assert_string_equal(why, "is missing");
    }
    assert_int_equal(sf_record_finish(&r, 0, &f, why), -1);
    assert_int_equal(f, SF_FIELD_INVOICE_NO);
}

static void assert_amount_refused(const char *qty, const char *price, const char *want)
{
    sf_record r;
    sf_field f = SF_FIELD_NONE;
    char why[SF_REASON_MAX];
    uint32_t seen = fill(&r, qty, price);
    assert_int_equal(sf_record_finish(&r, seen, &f, why), -1);
    assert_int_equal(f, SF_FIELD_UNIT_PRICE);
    assert_string_equal(why, want);
}

static void test_finish_amount_limit(void **state)
{
    (void)state;
    sf_record r;
    sf_field f = SF_FIELD_NONE;
    char why[SF_REASON_MAX];
    /* 1000 x 1e9 pounds = 10^12 pounds: the largest allowed. */
    uint32_t seen = fill(&r, "-1000", "1000000000");
    assert_int_equal(sf_record_finish(&r, seen, &f, why), 0);
    assert_int_equal(sf_record_amount(&r), -SF_AMOUNT_MAX);
    /* Issue 15's line: a million at 999,999 pounds, 10^6 pounds below. */
    seen = fill(&r, "1000000", "999999");
    assert_int_equal(sf_record_finish(&r, seen, &f, why), 0);
    assert_int_equal(sf_record_amount(&r), INT64_C(999999000000000));
    assert_amount_refused("1001", "1000000000",
                          "makes the line amount 1001 x 1000000000.00 = 1001000000000.00, beyond "
                          "the limit of ±1,000,000,000,000");
    /* Both factors at their limits: 10^18 pounds, past an int64 of milli. */
    assert_amount_refused("-1000000000", "-1000000000",
                          "makes the line amount -1000000000 x -1000000000.00 = "
                          "1000000000000000000.00, beyond the limit of ±1,000,000,000,000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_lookup_every_field_both_names),
        cmocka_unit_test(test_lookup_variants),
        cmocka_unit_test(test_text_fields),
        cmocka_unit_test(test_number_as_text),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_text_nul_and_encoding),
        cmocka_unit_test(test_description_length_limit),
        cmocka_unit_test(test_quantity),
        cmocka_unit_test(test_quantity_errors),
        cmocka_unit_test(test_price),
        cmocka_unit_test(test_price_errors),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_date_errors),
        cmocka_unit_test(test_customer_dataframe_styles),
        cmocka_unit_test(test_customer_errors),
        cmocka_unit_test(test_reason_quotes_value_safely),
        cmocka_unit_test(test_unknown_field_ignored),
        cmocka_unit_test(test_finish_derives),
        cmocka_unit_test(test_finish_missing),
        cmocka_unit_test(test_finish_amount_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
