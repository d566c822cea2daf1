/*
 * test_json.c - json.h: the JSON decoder (one object, arrays, NDJSON,
 * pretty-printed input, dataframe-style values, snake_case and CSV keys,
 * unknown and nested keys, event ids, non-object elements, booleans, keys
 * given twice, lone surrogate escapes, syntax errors and truncated input,
 * record naming by line or index, feeding in chunks of every size, a sink
 * that stops) and the
 * canonical encoder (exact text, escapes, round trips, buffer limits).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "support.h"

#define OBJ_A                                                                                      \
    "{\"InvoiceNo\":\"536365\",\"StockCode\":\"85123A\",\"Description\":\"WHITE HEART\","          \
    "\"Quantity\":6,\"InvoiceDate\":\"2010-12-01 08:26:00\",\"UnitPrice\":2.55,"                   \
    "\"CustomerID\":17850,\"Country\":\"United Kingdom\"}"

/* The fields of OBJ_A but the customer, for objects that add their own. */
#define FIELDS_NO_CUSTOMER                                                                         \
    "\"invoice_no\":\"536365\",\"stock_code\":\"85123A\",\"quantity\":6,"                          \
    "\"invoice_date\":\"2010-12-01 08:26:00\",\"unit_price\":\"2.55\",\"country\":\"UK\""

static int json(const char *text, ut_sink *s)
{
    return ut_decode(text, SF_FORMAT_JSON, SF_ENC_AUTO, s);
}

/* Decode one object that must give a record; returns it. */
static const sf_record *one(const char *text, ut_sink *s)
{
    assert_int_equal(json(text, s), 0);
    if (s->nerr)
        fail_msg("unexpected error: %s", ut_err(s, 0)->msg);
    assert_int_equal(s->nrec, 1);
    return ut_rec(s, 0);
}

/* Decode input that must give exactly one record error; returns its message. */
static const char *bad(const char *text, ut_sink *s)
{
    assert_int_equal(json(text, s), 0);
    assert_int_equal(s->nrec, 0);
    assert_int_equal(s->nerr, 1);
    assert_false(ut_err(s, 0)->fatal);
    return ut_err(s, 0)->msg;
}

static void test_one_object(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    sf_record want;
    ut_make(&want, "536365", "85123A", "WHITE HEART", 6, UT_T0, 2550, 17850, "United Kingdom");
    assert_true(sf_record_equal(one(OBJ_A, &s), &want));
    assert_int_equal(ut_rec_event(&s, 0)->pos.line, 1);
    assert_int_equal(ut_rec_event(&s, 0)->pos.index, 0);
    assert_int_equal(s.stats.format, SF_FORMAT_JSON);
    ut_sink_free(&s);
}

static void test_array_of_objects(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json("[" OBJ_A ",\n" OBJ_A ", {\"InvoiceNo\":\"1\"}]", &s), 0);
    assert_int_equal(s.nrec, 2);
    assert_int_equal(ut_rec_event(&s, 1)->pos.index, 1);
    assert_int_equal(ut_rec_event(&s, 1)->pos.line, 2);
    assert_int_equal(s.nerr, 1);
    assert_string_equal(ut_err(&s, 0)->msg, "record 2: StockCode: is missing");
    assert_true(ut_err(&s, 0)->by_index);
    assert_int_equal(s.stats.records, 3);
    assert_int_equal(s.stats.invalid, 1);
    ut_sink_free(&s);
}

static void test_ndjson(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json(OBJ_A "\n\n" OBJ_A "\r\n{\"InvoiceNo\":\"1\"}\n  " OBJ_A " " OBJ_A, &s),
                     0);
    assert_int_equal(s.nrec, 4);
    assert_int_equal(ut_rec_event(&s, 1)->pos.line, 3);
    assert_int_equal(ut_rec_event(&s, 1)->pos.index, 1);
    assert_string_equal(ut_err(&s, 0)->msg, "line 4: StockCode: is missing");
    assert_false(ut_err(&s, 0)->by_index);
    assert_int_equal(ut_rec_event(&s, 2)->pos.line, 5);
    assert_int_equal(ut_rec_event(&s, 3)->pos.line, 5);
    assert_int_equal(ut_rec_event(&s, 3)->pos.index, 4);
    ut_sink_free(&s);
}

static void test_pretty_printed(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json("[\n  {\n    \"InvoiceNo\": \"536365\",\n    \"StockCode\": \"85123A\",\n"
                          "    \"Quantity\": 6,\n    \"InvoiceDate\": \"12/1/2010 8:26\",\n"
                          "    \"UnitPrice\": \"2.55\",\n    \"Country\": \"UK\"\n  },\n"
                          "  {\n    \"InvoiceNo\": \"536366\"\n  }\n]\n",
                          &s),
                     0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(ut_rec_event(&s, 0)->pos.line, 2);
    assert_int_equal(ut_rec(&s, 0)->invoice_date, UT_T0);
    assert_int_equal(ut_err(&s, 0)->pos.line, 10);
    assert_int_equal(ut_err(&s, 0)->pos.index, 1);
    assert_string_equal(ut_err(&s, 0)->msg, "record 1: StockCode: is missing");
    assert_int_equal(s.stats.lines, 13);
    ut_sink_free(&s);
}

static int32_t customer_of(const char *value)
{
    char text[512];
    snprintf(text, sizeof text, "{" FIELDS_NO_CUSTOMER ",\"CustomerID\":%s}", value);
    ut_sink s;
    ut_sink_init(&s);
    int32_t id = one(text, &s)->customer_id;
    ut_sink_free(&s);
    return id;
}

static void test_dataframe_customer_ids(void **state)
{
    (void)state;
    assert_int_equal(customer_of("17850"), 17850);
    assert_int_equal(customer_of("17850.0"), 17850);
    assert_int_equal(customer_of("\"17850\""), 17850);
    assert_int_equal(customer_of("\"17850.0\""), 17850);
    assert_int_equal(customer_of("1.785e4"), 17850);
    assert_int_equal(customer_of("\"\""), SF_NO_CUSTOMER);
    assert_int_equal(customer_of("null"), SF_NO_CUSTOMER);
    ut_sink s;
    ut_sink_init(&s);
    assert_string_equal(bad("{" FIELDS_NO_CUSTOMER ",\"CustomerID\":17850.5}", &s),
                        "line 1: CustomerID: \"17850.5\" is not a whole number");
    ut_sink_free(&s);
}

static void test_numbers_and_strings_either_way(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r =
        one("{\"InvoiceNo\":536365,\"StockCode\":21730,\"Quantity\":\"6\",\"UnitPrice\":\"2.55\","
            "\"InvoiceDate\":1291191960000,\"Country\":\"UK\",\"CustomerID\":\"17850\"}",
            &s);
    assert_string_equal(r->invoice_no, "536365");
    assert_string_equal(r->stock_code, "21730");
    assert_int_equal(r->quantity, 6);
    assert_int_equal(r->unit_price, 2550);
    assert_int_equal(r->invoice_date, UT_T0);
    r = one("{\"InvoiceNo\":536365.0,\"StockCode\":\"S\",\"Quantity\":6.0,\"UnitPrice\":2.5500,"
            "\"InvoiceDate\":\"2010-12-01T08:26:00.000Z\",\"Country\":\"UK\"}",
            &s);
    assert_string_equal(r->invoice_no, "536365");
    assert_int_equal(r->quantity, 6);
    assert_int_equal(r->unit_price, 2550);
    assert_int_equal(r->invoice_date, UT_T0);
    assert_int_equal(r->customer_id, SF_NO_CUSTOMER);
    ut_sink_free(&s);
}

/* An object with every required field and the given unit_price value. */
static void price_object(char *text, size_t cap, const char *price)
{
    snprintf(text, cap,
             "{\"invoice_no\":\"1\",\"stock_code\":\"S\",\"quantity\":1,"
             "\"invoice_date\":\"2010-12-01 08:26\",\"unit_price\":%s,\"country\":\"UK\"}",
             price);
}

static void test_exact_prices(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    char text[512];
    price_object(text, sizeof text, "-11062.06");
    assert_int_equal(one(text, &s)->unit_price, -11062060);
    price_object(text, sizeof text, "0.1");
    assert_int_equal(one(text, &s)->unit_price, 100);
    price_object(text, sizeof text, "2.5501");
    assert_string_equal(bad(text, &s), "line 1: UnitPrice: \"2.5501\" has more than 3 decimals "
                                       "(prices are kept to 0.001)");
    ut_sink_free(&s);
}

static void test_key_styles(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    sf_record a = *one(OBJ_A, &s);
    const sf_record *b =
        one("{\"invoice_no\":\"536365\",\"stock_code\":\"85123A\",\"description\":\"WHITE "
            "HEART\",\"quantity\":6,\"invoice_date\":\"2010-12-01 08:26:00\",\"unit_price\":"
            "\"2.55\",\"customer_id\":17850,\"country\":\"United Kingdom\"}",
            &s);
    assert_true(sf_record_equal(&a, b));
    ut_sink_free(&s);
}

static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r = one("{\"x\":1,\"meta\":{\"InvoiceNo\":\"zzz\",\"deep\":[1,{\"a\":[]}]},"
                             "\"tags\":[\"a\",{\"Quantity\":99},[true,null]],\"flag\":false,"
                             "\"nothing\":null," FIELDS_NO_CUSTOMER ",\"after\":{}}",
                             &s);
    assert_string_equal(r->invoice_no, "536365");
    assert_int_equal(r->quantity, 6);
    assert_int_equal(r->customer_id, SF_NO_CUSTOMER);
    ut_sink_free(&s);
}

static void test_event_id_optional(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r = one("{\"event_id\":\"ev-000042\"," FIELDS_NO_CUSTOMER "}", &s);
    assert_string_equal(r->event_id, "ev-000042");
    assert_int_equal(r->event_id_len, 9);
    r = one("{\"EventId\":null," FIELDS_NO_CUSTOMER "}", &s);
    assert_int_equal(r->event_id_len, 0);
    r = one("{" FIELDS_NO_CUSTOMER "}", &s);
    assert_int_equal(r->event_id_len, 0);
    ut_sink_free(&s);
}

static void test_non_object_elements(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json("[5, \"s\", null, true, [1, {\"a\": 2}], " OBJ_A ", -1.5e3]", &s), 0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(ut_rec_event(&s, 0)->pos.index, 5);
    assert_int_equal(s.nerr, 6);
    assert_string_equal(ut_err(&s, 0)->msg, "record 0: is a number, not a JSON object");
    assert_string_equal(ut_err(&s, 1)->msg, "record 1: is a string, not a JSON object");
    assert_string_equal(ut_err(&s, 2)->msg, "record 2: is null, not a JSON object");
    assert_string_equal(ut_err(&s, 3)->msg, "record 3: is a boolean, not a JSON object");
    assert_string_equal(ut_err(&s, 4)->msg, "record 4: is an array, not a JSON object");
    assert_string_equal(ut_err(&s, 5)->msg, "record 6: is a number, not a JSON object");
    assert_int_equal(ut_err(&s, 5)->field, SF_FIELD_NONE);
    ut_sink_free(&s);
}

static void test_ndjson_non_object(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json(OBJ_A "\n42\n\"text\"\n" OBJ_A "\n", &s), 0);
    assert_int_equal(s.nrec, 2);
    assert_string_equal(ut_err(&s, 0)->msg, "line 2: is a number, not a JSON object");
    assert_string_equal(ut_err(&s, 1)->msg, "line 3: is a string, not a JSON object");
    assert_int_equal(ut_rec_event(&s, 1)->pos.index, 3);
    ut_sink_free(&s);
}

static void test_value_errors(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_string_equal(bad("[{" FIELDS_NO_CUSTOMER ",\"CustomerID\":true}]", &s),
                        "record 0: CustomerID: is a boolean, expected a number");
    assert_string_equal(bad("{\"Description\":false," FIELDS_NO_CUSTOMER "}", &s),
                        "line 1: Description: is a boolean, expected text");
    assert_string_equal(bad("{\"Quantity\":{\"n\":6}," FIELDS_NO_CUSTOMER "}", &s),
                        "line 1: Quantity: is an object, expected a single value");
    assert_string_equal(bad("{\"country\":[\"UK\"]," FIELDS_NO_CUSTOMER "}", &s),
                        "line 1: Country: is an array, expected a single value");
    assert_string_equal(bad("{" FIELDS_NO_CUSTOMER ",\"Quantity\":7}", &s),
                        "line 1: Quantity: is given twice");
    assert_string_equal(bad("{\"quantity\":null," FIELDS_NO_CUSTOMER "}", &s),
                        "line 1: Quantity: is null");
    assert_string_equal(bad("{" FIELDS_NO_CUSTOMER ",\"InvoiceNo\":\"2\"}", &s),
                        "line 1: InvoiceNo: is given twice");
    assert_string_equal(bad("{\"Quantity\":\"abc\"}", &s),
                        "line 1: Quantity: \"abc\" is not an integer");
    assert_string_equal(bad("{}", &s), "line 1: InvoiceNo: is missing");
    ut_sink_free(&s);
}

static void test_string_escapes(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r =
        one("{\"description\":\"\\u00a3 5 \\\"off\\\"\\t\\\\\"," FIELDS_NO_CUSTOMER "}", &s);
    assert_string_equal(r->description, "\xC2\xA3 5 \"off\"\t\\");
    assert_string_equal(bad("{\"description\":\"a\\u0000b\"," FIELDS_NO_CUSTOMER "}", &s),
                        "line 1: Description: contains a NUL byte");
    ut_sink_free(&s);
}

/* The error of {"Description":DESC,...}, which must be refused. */
static const char *desc_error(const char *desc, ut_sink *s)
{
    char text[512];
    snprintf(text, sizeof text, "{\"Description\":\"%s\"," FIELDS_NO_CUSTOMER "}", desc);
    return bad(text, s);
}

/* yajl turns a lone surrogate escape into '?' or pairs it with any escape:
 * each such string value is refused, naming the escape and where it is. */
static void test_lone_surrogates(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    /* Column 18 is the backslash after {"Description":" and one byte. */
    assert_string_equal(desc_error("A\\ud800B", &s),
                        "line 1: Description: lone surrogate escape \\ud800 at line 1, column 18");
    assert_int_equal(ut_err(&s, 0)->field, SF_FIELD_DESCRIPTION);
    assert_string_equal(desc_error("A\\uDBFF", &s), /* at the end of the string */
                        "line 1: Description: lone surrogate escape \\uDBFF at line 1, column 18");
    assert_string_equal(desc_error("\\udc00", &s), /* a lone low one */
                        "line 1: Description: lone surrogate escape \\udc00 at line 1, column 17");
    assert_string_equal(desc_error("\\ud800\\u0041", &s), /* high, then no low */
                        "line 1: Description: lone surrogate escape \\ud800 at line 1, column 17");
    assert_string_equal(desc_error("\\ud800\\ud800", &s),
                        "line 1: Description: lone surrogate escape \\ud800 at line 1, column 17");
    assert_string_equal(desc_error("\\udc00\\ud800", &s), /* a pair reversed */
                        "line 1: Description: lone surrogate escape \\udc00 at line 1, column 17");
    assert_string_equal(desc_error("\\ud83d\\ude00\\ud83d", &s), /* a pair, then a lone one */
                        "line 1: Description: lone surrogate escape \\ud83d at line 1, column 29");
    /* An escaped backslash: what follows is text; then a real lone escape. */
    assert_string_equal(desc_error("\\\\ud800\\\\\\ud800\\\"", &s),
                        "line 1: Description: lone surrogate escape \\ud800 at line 1, column 26");
    /* Every field, in arrays (named by index) and on later lines. */
    assert_string_equal(bad("[\n{\"Country\":\"U\\udfffK\",\"invoice_no\":\"1\"}]", &s),
                        "record 0: Country: lone surrogate escape \\udfff at line 2, column 14");
    assert_string_equal(bad("{\"StockCode\":\"\\ud800\"}", &s),
                        "line 1: StockCode: lone surrogate escape \\ud800 at line 1, column 15");
    ut_sink_free(&s);
}

static void test_surrogate_pairs_and_literals(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const char *ok = "{\"description\":\"\\ud83d\\ude00 \\uD800\\uDC00\\udbff\\udfff \\\\ud800 "
                     "\\\\\\\\udc00\"," FIELDS_NO_CUSTOMER "}";
    assert_string_equal(one(ok, &s)->description,
                        "\xF0\x9F\x98\x80 \xF0\x90\x80\x80\xF4\x8F\xBF\xBF \\ud800 \\\\udc00");
    /* Unknown keys and keys themselves are never values: ignored. */
    ut_sink_free(&s);
    ut_sink_init(&s);
    one("{\"note\":\"\\ud800\",\"\\udc00\":1,\"x\":[\"\\ud800\"]," FIELDS_NO_CUSTOMER "}", &s);
    ut_sink_free(&s);
}

/* A string that began in an earlier feed is checked from the bytes kept of
 * its line, however the input is cut, also past the carry's size. */
static void test_surrogates_across_feeds(void **state)
{
    (void)state;
    static char text[40000];
    char escaped[512 * 6 + 1];
    for (size_t i = 0; i < 511; i++)
        memcpy(escaped + 6 * i, "\\u0041", 6);
    memcpy(escaped + 6 * 511, "\\ud800", 7);
    char filler[9001];
    memset(filler, 'f', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    int n = snprintf(text, sizeof text,
                     "[{\"x\":\"%s\",\"description\":\"%s\"," FIELDS_NO_CUSTOMER "},\n"
                     "{\"description\":\"A%s\\ud800\",\"invoice_no\":\"1\"},\n"
                     "{\"x\":\"%s\",\"description\":\"\\ud83d\\ude00\"," FIELDS_NO_CUSTOMER "},\n"
                     "{\"x\":\"%s\",\"description\":\"\\\"\\\\\\\\ud800\\\\\"," FIELDS_NO_CUSTOMER
                     "},\n"
                     "{\"description\":\"\\ud800\\\"x\",\"invoice_no\":\"2\"}]\n",
                     filler, escaped, escaped, filler, filler);
    assert_true(n > 0 && (size_t)n < sizeof text);
    ut_sink ref, s;
    ut_sink_init(&ref);
    ut_sink_init(&s);
    ut_cfg cfg = {UT_JSON, SF_FORMAT_JSON, SF_ENC_AUTO, false, 0};
    ut_decode_cfg(text, (size_t)n, &cfg, &ref);
    assert_int_equal(ref.nrec, 2);
    assert_int_equal(ref.nerr, 3);
    assert_string_equal(ut_err(&ref, 0)->msg,
                        "record 0: Description: lone surrogate escape \\ud800 at line 1, column "
                        "12091");
    /* Over 512 bytes once unescaped: too long whatever it holds. */
    assert_string_equal(ut_err(&ref, 1)->msg, "record 1: Description: is longer than 512 bytes");
    assert_string_equal(ut_rec(&ref, 0)->description, "\xF0\x9F\x98\x80");
    assert_string_equal(ut_rec(&ref, 1)->description, "\"\\\\ud800\\");
    assert_string_equal(
        ut_err(&ref, 2)->msg,
        "record 4: Description: lone surrogate escape \\ud800 at line 5, column 17");
    /* A feed that starts with an escaped quote: only the carry tells. */
    size_t quote = (size_t)(strstr(text, "\\\"x\"") - text) + 1;
    size_t chunks[] = {1, 2, 3, 5, 7, 64, 1000, 3000, 4095, 4096, 4097, 9000, 12085, quote};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cfg.chunk = chunks[i];
        ut_decode_cfg(text, (size_t)n, &cfg, &s);
        ut_assert_same(&ref, &s);
    }
    ut_sink_free(&ref);
    ut_sink_free(&s);
}

static void assert_fatal_prefix(const char *text, const char *prefix, size_t nrec)
{
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json(text, &s), SF_EFORMAT);
    assert_int_equal(s.err.code, SF_EFORMAT);
    if (strncmp(s.err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s.err.msg, prefix);
    assert_int_equal(s.nrec, nrec);
    const ut_event *last = &s.ev[s.n - 1];
    assert_true(last->is_error && last->fatal);
    assert_string_equal(last->msg, s.err.msg);
    ut_sink_free(&s);
}

static void test_syntax_error_is_fatal_with_line(void **state)
{
    (void)state;
    assert_fatal_prefix(OBJ_A "\n" OBJ_A "\n{\"InvoiceNo\" \"x\"}\n" OBJ_A,
                        "line 3: invalid JSON: ", 2);
    assert_fatal_prefix("[" OBJ_A ",\n\n,]", "line 3: invalid JSON: ", 1);
    assert_fatal_prefix(OBJ_A "}", "line 1: invalid JSON: ", 1);
    assert_fatal_prefix("{\"a\": tru}", "line 1: invalid JSON: ", 0);
    assert_fatal_prefix("{\"description\":\"\xA3\"}", "line 1: invalid JSON: ", 0);
}

static void test_truncated_input_is_fatal(void **state)
{
    (void)state;
    assert_fatal_prefix("[" OBJ_A ",\n" OBJ_A "\n", "line 3: invalid JSON: ", 2);
    assert_fatal_prefix("[" OBJ_A ",\n{\"InvoiceNo\":\"1\",", "line 2: invalid JSON: ", 1);
    assert_fatal_prefix(OBJ_A "\n{\"InvoiceNo\":\"5", "line 2: invalid JSON: ", 1);
}

static void test_empty_array_and_blank_input(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(json("[]", &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(json(" [ ] \n", &s), 0);
    assert_int_equal(s.n, 0);
    ut_sink_free(&s);
}

/* Every quirk at once, for the chunk test. */
static const char quirky[] =
    "\xEF\xBB\xBF [\n"
    "  {\"InvoiceNo\": 536365, \"StockCode\": \"85123A\", \"Description\": \"\\u00a3 off  \",\n"
    "   \"Quantity\": \"6\", \"InvoiceDate\": 1291191960000, \"UnitPrice\": 2.55,\n"
    "   \"CustomerID\": 17850.0, \"Country\": \"UK\", \"extra\": {\"a\": [1, 2]}},\n"
    "  7,\n"
    "  {\"invoice_no\": \"C1\", \"stock_code\": \"D\", \"quantity\": -1, \"unit_price\": "
    "\"-1.5\",\n"
    "   \"invoice_date\": \"12/1/2010 8:26\", \"customer_id\": null, \"country\": \"EIRE\"},\n"
    "  {\"Quantity\": true},\n"
    "  {\"event_id\": \"e1\", \"invoice_no\": \"A1\", \"stock_code\": \"B\", \"quantity\": 1,\n"
    "   \"invoice_date\": \"2010-12-01T09:26:00+01:00\", \"unit_price\": 0, \"country\": \"UK\"}\n"
    "]\n";

static void test_quirky_reference(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode(quirky, SF_FORMAT_AUTO, SF_ENC_AUTO, &s), 0);
    assert_int_equal(s.nrec, 3);
    assert_int_equal(s.nerr, 2);
    assert_string_equal(ut_rec(&s, 0)->description, "\xC2\xA3 off  ");
    assert_int_equal(ut_rec(&s, 0)->customer_id, 17850);
    assert_int_equal(ut_rec(&s, 1)->kind, SF_KIND_CANCELLATION);
    assert_int_equal(ut_rec(&s, 1)->unit_price, -1500);
    assert_int_equal(ut_rec(&s, 2)->kind, SF_KIND_ADJUSTMENT);
    assert_int_equal(ut_rec(&s, 2)->invoice_date, UT_T0);
    assert_string_equal(ut_rec(&s, 2)->event_id, "e1");
    assert_string_equal(ut_err(&s, 0)->msg, "record 1: is a number, not a JSON object");
    assert_string_equal(ut_err(&s, 1)->msg, "record 3: Quantity: is a boolean, expected a number");
    assert_int_equal(ut_err(&s, 1)->pos.line, 8);
    assert_int_equal(ut_rec_event(&s, 2)->pos.line, 9);
    ut_sink_free(&s);
}

static void assert_chunk_invariant(const char *text, size_t len)
{
    const ut_cfg whole = {UT_FRONT, SF_FORMAT_AUTO, SF_ENC_AUTO, false, 0};
    ut_assert_chunk_invariant(text, len, &whole, &whole, 1);
}

static void test_chunks_of_every_size(void **state)
{
    (void)state;
    assert_chunk_invariant(quirky, sizeof quirky - 1);
    const char *ndjson = "\n" OBJ_A "\n{\"Quantity\": 1e400}\n" OBJ_A "\n{\"InvoiceNo\": [}";
    assert_chunk_invariant(ndjson, strlen(ndjson));
}

static void test_direct_decoder_matches_front_door(void **state)
{
    (void)state;
    const char *text = quirky + 3; /* the JSON decoder itself takes no BOM */
    ut_sink a, b;
    ut_sink_init(&a);
    ut_sink_init(&b);
    ut_cfg front = {UT_FRONT, SF_FORMAT_JSON, SF_ENC_AUTO, false, 0};
    ut_cfg direct = {UT_JSON, SF_FORMAT_JSON, SF_ENC_AUTO, false, 0};
    ut_decode_cfg(text, strlen(text), &front, &a);
    for (size_t chunk = 0; chunk < 40; chunk++) {
        direct.chunk = chunk;
        ut_decode_cfg(text, strlen(text), &direct, &b);
        b.stats.format = SF_FORMAT_JSON; /* only the front door fills it */
        ut_assert_same(&a, &b);
    }
    ut_sink_free(&a);
    ut_sink_free(&b);
}

static void test_sink_stops(void **state)
{
    (void)state;
    for (size_t stop = 1; stop <= 5; stop++) {
        ut_sink s;
        ut_sink_init(&s);
        s.stop_at = stop;
        ut_cfg cfg = {UT_FRONT, SF_FORMAT_AUTO, SF_ENC_AUTO, false, stop};
        assert_int_equal(ut_decode_cfg(quirky, sizeof quirky - 1, &cfg, &s), SF_ESTOPPED);
        assert_string_equal(s.err.msg, "stopped by the caller");
        assert_int_equal(s.calls, stop);
        assert_false(s.called_after_stop);
        ut_sink_free(&s);
    }
}

/* ---- the encoder ---- */

#define CANON_A                                                                                    \
    "{\"invoice_no\":\"536365\",\"stock_code\":\"85123A\",\"description\":\"WHITE HANGING "        \
    "HEART T-LIGHT HOLDER\",\"quantity\":6,\"invoice_date\":\"2010-12-01 08:26:00\","              \
    "\"unit_price\":\"2.55\",\"customer_id\":17850,\"country\":\"United Kingdom\"}"

static void test_encode_canonical(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, UT_T0, 2550, 17850,
            "United Kingdom");
    char buf[SF_JSON_RECORD_MAX];
    int n = sf_json_encode(&r, buf, sizeof buf);
    assert_string_equal(buf, CANON_A);
    assert_int_equal(n, strlen(CANON_A));
}

static void test_encode_event_id_no_customer(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "C536379", "D", "", -1, UT_T0, -11062060, SF_NO_CUSTOMER, "EIRE");
    memcpy(r.event_id, "ev\"1", 5);
    r.event_id_len = 4;
    char buf[SF_JSON_RECORD_MAX];
    assert_true(sf_json_encode(&r, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"event_id\":\"ev\\\"1\",\"invoice_no\":\"C536379\","
                             "\"stock_code\":\"D\",\"description\":\"\",\"quantity\":-1,"
                             "\"invoice_date\":\"2010-12-01 08:26:00\",\"unit_price\":"
                             "\"-11062.06\",\"customer_id\":null,\"country\":\"EIRE\"}");
}

static void test_encode_escapes(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "1", "S", "q\"b\\s/\n\r\t\x01\x1f\x7f \xC2\xA3\xF0\x9F\x8E\x81 ", 1, UT_T0, 1, 1,
            "UK");
    char buf[SF_JSON_RECORD_MAX];
    assert_true(sf_json_encode(&r, buf, sizeof buf) > 0);
    const char *want = "\"description\":\"q\\\"b\\\\s/\\n\\r\\t\\u0001\\u001f\x7f "
                       "\xC2\xA3\xF0\x9F\x8E\x81 \"";
    if (!strstr(buf, want))
        fail_msg("%s lacks %s", buf, want);
}

/* The encoder passes over text 8 bytes at a time until a byte needs an
 * escape: every escaped byte at every offset of a long text, beside bytes
 * just outside the escaped ranges (0x20, 0x7f, UTF-8), must come out as the
 * per-byte rule says. */
static void test_encode_escape_offsets(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\x01', '\x1f', '\n', ' ', '\x7f', '\xC3'};
    for (size_t k = 0; k < 24; k++) {
        for (size_t j = 0; j < sizeof specials; j++) {
            char text[25], want[160];
            memset(text, 'a', 24);
            text[24] = '\0';
            text[k] = specials[j];
            if (specials[j] == '\xC3') /* a whole character: "é" */
                text[k + 1 < 24 ? k + 1 : k - 1] = '\xA9', text[k + 1 < 24 ? k : k - 1] = '\xC3';
            size_t w = 0;
            for (size_t i = 0; i < 24; i++) {
                unsigned char c = (unsigned char)text[i];
                if (c == '"' || c == '\\')
                    want[w++] = '\\', want[w++] = (char)c;
                else if (c == '\n')
                    want[w++] = '\\', want[w++] = 'n';
                else if (c < 0x20)
                    w += (size_t)sprintf(want + w, "\\u%04x", c);
                else
                    want[w++] = (char)c;
            }
            want[w] = '\0';
            sf_record r;
            ut_make(&r, "1", "S", text, 1, UT_T0, 1, 1, "UK");
            char buf[SF_JSON_RECORD_MAX], pattern[200];
            assert_true(sf_json_encode(&r, buf, sizeof buf) > 0);
            snprintf(pattern, sizeof pattern, "\"description\":\"%s\",", want);
            if (!strstr(buf, pattern))
                fail_msg("offset %zu, byte %02x: %s lacks %s", k, (unsigned char)specials[j], buf,
                         pattern);
        }
    }
}

/* decode(encode(r)) must equal r. */
static void assert_round_trip(const sf_record *r)
{
    char buf[SF_JSON_RECORD_MAX];
    int n = sf_json_encode(r, buf, sizeof buf);
    assert_true(n > 0);
    ut_sink s;
    ut_sink_init(&s);
    ut_cfg cfg = {UT_JSON, SF_FORMAT_JSON, SF_ENC_AUTO, false, 0};
    assert_int_equal(ut_decode_cfg(buf, (size_t)n, &cfg, &s), 0);
    if (s.nerr)
        fail_msg("%s: %s", buf, ut_err(&s, 0)->msg);
    assert_int_equal(s.nrec, 1);
    if (!sf_record_equal(ut_rec(&s, 0), r))
        fail_msg("round trip changed the record: %s", buf);
    ut_sink_free(&s);
}

static void test_round_trips(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "536365", "85123A", "WHITE HEART  ", 6, UT_T0, 2550, 17850, "United Kingdom");
    assert_round_trip(&r);
    ut_make(&r, "C536379", "D", "", -80995, UT_T0 + 59, -11062060, SF_NO_CUSTOMER, "EIRE");
    assert_round_trip(&r);
    ut_make(&r, "A1", "gift_0001_10", "q\"b\\s\n\r\t\x01\x1f\x7f\xC2\xA3 caf\xC3\xA9", 1,
            INT64_C(-2208988800), 1, INT32_MAX, "C\xC3\xB4te d'Ivoire");
    memcpy(r.event_id, "e\\v\"1", 6);
    r.event_id_len = 5;
    assert_round_trip(&r);
    ut_make(&r, "9", "POST", "x", -SF_QUANTITY_MAX, INT64_C(253402300799), 0, 1, "Z");
    assert_round_trip(&r);
}

/* A record with every text at its longest and every byte escaped. */
static void make_worst(sf_record *r)
{
    ut_make(r, "1", "S", "", -SF_QUANTITY_MAX, INT64_C(253402300799),
            -SF_AMOUNT_MAX / SF_QUANTITY_MAX, INT32_MAX, "C");
    memset(r->invoice_no, 1, SF_INVOICE_NO_MAX);
    r->invoice_no_len = SF_INVOICE_NO_MAX;
    memset(r->stock_code, 2, SF_STOCK_CODE_MAX);
    r->stock_code_len = SF_STOCK_CODE_MAX;
    memset(r->description, 3, SF_DESCRIPTION_MAX);
    r->description_len = SF_DESCRIPTION_MAX;
    memset(r->country, 4, SF_COUNTRY_MAX);
    r->country_len = SF_COUNTRY_MAX;
    memset(r->event_id, 5, SF_EVENT_ID_MAX);
    r->event_id_len = SF_EVENT_ID_MAX;
    sf_record_derive(r);
}

static void test_encode_worst_case_fits(void **state)
{
    (void)state;
    sf_record r;
    make_worst(&r);
    char buf[SF_JSON_RECORD_MAX];
    int n = sf_json_encode(&r, buf, sizeof buf);
    assert_true(n > 6 * (SF_DESCRIPTION_MAX + SF_COUNTRY_MAX));
    assert_true((size_t)n < sizeof buf);
    assert_round_trip(&r);
}

static void test_encode_cap_too_small(void **state)
{
    (void)state;
    sf_record r;
    ut_make(&r, "536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, UT_T0, 2550, 17850,
            "United Kingdom");
    char buf[512];
    int n = sf_json_encode(&r, buf, sizeof buf);
    assert_int_equal(n, strlen(CANON_A));
    assert_int_equal(sf_json_encode(&r, buf, (size_t)n + 1), n); /* room for the NUL */
    assert_string_equal(buf, CANON_A);
    for (size_t cap = 0; cap <= (size_t)n; cap++)
        assert_int_equal(sf_json_encode(&r, buf, cap), -1);
}

static void test_quote(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(sf_json_quote("a\"b\\c\n\x01", out, sizeof out), 17);
    assert_string_equal(out, "\"a\\\"b\\\\c\\n\\u0001\"");
    /* Cut short at a character boundary, never inside "\u00a3" or "£". */
    char small[12];
    sf_json_quote("abc\xc2\xa3\xc2\xa3\xc2\xa3", small, sizeof small);
    assert_string_equal(small, "\"abc\"");
    assert_int_equal(sf_json_quote("x", small, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_object),
        cmocka_unit_test(test_array_of_objects),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_pretty_printed),
        cmocka_unit_test(test_dataframe_customer_ids),
        cmocka_unit_test(test_numbers_and_strings_either_way),
        cmocka_unit_test(test_exact_prices),
        cmocka_unit_test(test_key_styles),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_event_id_optional),
        cmocka_unit_test(test_non_object_elements),
        cmocka_unit_test(test_ndjson_non_object),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_lone_surrogates),
        cmocka_unit_test(test_surrogate_pairs_and_literals),
        cmocka_unit_test(test_surrogates_across_feeds),
        cmocka_unit_test(test_syntax_error_is_fatal_with_line),
        cmocka_unit_test(test_truncated_input_is_fatal),
        cmocka_unit_test(test_empty_array_and_blank_input),
        cmocka_unit_test(test_quirky_reference),
        cmocka_unit_test(test_chunks_of_every_size),
        cmocka_unit_test(test_direct_decoder_matches_front_door),
        cmocka_unit_test(test_sink_stops),
        cmocka_unit_test(test_encode_canonical),
        cmocka_unit_test(test_encode_event_id_no_customer),
        cmocka_unit_test(test_encode_escapes),
        cmocka_unit_test(test_encode_escape_offsets),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encode_worst_case_fits),
        cmocka_unit_test(test_encode_cap_too_small),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
