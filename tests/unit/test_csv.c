/*
 * test_csv.c - csv.h, the CSV decoder: header mapping (any order, snake_case,
 * unknown, missing and duplicate columns), quoting (commas, doubled quotes,
 * cells spanning lines, unterminated and malformed quotes), '£' in UTF-8 and
 * Latin-1, byte-exact descriptions, negative prices, C/A invoices, both date
 * styles, bad values with their exact messages, short and long rows, LF /
 * CRLF / CR line ends, empty input, line numbers and indexes of errors,
 * feeding in chunks of every size, the fast path against libcsv, very long
 * lines, and a sink that stops. (sf_csv_encode: test_csv_encode.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "support.h"

/* Rows for UT_HEADER. */
#define ROW_A                                                                                      \
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United "    \
    "Kingdom\n"
#define ROW_B "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom\n"

/* Decode text (NUL-terminated) as CSV through the front door. */
static int csv(const char *text, ut_sink *s)
{
    return ut_decode(text, SF_FORMAT_CSV, SF_ENC_AUTO, s);
}

/* Decode header + one row and return its only record. */
static const sf_record *one_row(const char *row, ut_sink *s)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", UT_HEADER, row);
    assert_int_equal(csv(text, s), 0);
    if (s->nerr)
        fail_msg("unexpected error: %s", ut_err(s, 0)->msg);
    assert_int_equal(s->nrec, 1);
    return ut_rec(s, 0);
}

/* Decode header + one row that must be a record error; returns its message. */
static const char *bad_row(const char *row, ut_sink *s)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", UT_HEADER, row);
    assert_int_equal(csv(text, s), 0);
    assert_int_equal(s->nrec, 0);
    assert_int_equal(s->nerr, 1);
    assert_false(ut_err(s, 0)->fatal);
    return ut_err(s, 0)->msg;
}

static void test_basic_records(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(UT_HEADER ROW_A ROW_B, &s), 0);
    assert_int_equal(s.nrec, 2);
    assert_int_equal(s.nerr, 0);
    sf_record want;
    ut_make(&want, "536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, UT_T0, 2550, 17850,
            "United Kingdom");
    assert_true(sf_record_equal(ut_rec(&s, 0), &want));
    assert_int_equal(ut_rec_event(&s, 0)->pos.line, 2);
    assert_int_equal(ut_rec_event(&s, 0)->pos.index, 0);
    assert_int_equal(ut_rec_event(&s, 1)->pos.line, 3);
    assert_int_equal(ut_rec_event(&s, 1)->pos.index, 1);
    assert_int_equal(ut_rec(&s, 1)->invoice_date, UT_T0 + 120);
    assert_int_equal(s.stats.records, 2);
    assert_int_equal(s.stats.invalid, 0);
    assert_int_equal(s.stats.lines, 3);
    ut_sink_free(&s);
}

static void test_header_any_order_and_names(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const char *text = "country,Extra,unit_price,invoice date,QUANTITY,stock_code,"
                       "Description,customer_id,invoice_no,event_id\n"
                       "France,ignored,2.55,2010-12-01 08:26:00,6,85123A,LIGHT,12583,536365,e-9\n";
    assert_int_equal(csv(text, &s), 0);
    assert_int_equal(s.nrec, 1);
    sf_record want;
    ut_make(&want, "536365", "85123A", "LIGHT", 6, UT_T0, 2550, 12583, "France");
    memcpy(want.event_id, "e-9", 4);
    want.event_id_len = 3;
    assert_true(sf_record_equal(ut_rec(&s, 0), &want));
    ut_sink_free(&s);
}

static void test_optional_columns_absent(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
                         "536365,85123A,6,2010-12-01 08:26:00,2.55,United Kingdom\n",
                         &s),
                     0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(ut_rec(&s, 0)->customer_id, SF_NO_CUSTOMER);
    assert_int_equal(ut_rec(&s, 0)->description_len, 0);
    assert_true(ut_rec(&s, 0)->flags & SF_FLAG_NO_CUSTOMER);
    ut_sink_free(&s);
}

static void assert_fatal(const char *text, const char *msg)
{
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(text, &s), SF_EFORMAT);
    assert_int_equal(s.err.code, SF_EFORMAT);
    assert_string_equal(s.err.msg, msg);
    assert_int_equal(s.nrec, 0);
    assert_int_equal(s.nerr, 1);
    assert_true(ut_err(&s, 0)->fatal);
    assert_string_equal(ut_err(&s, 0)->msg, msg);
    ut_sink_free(&s);
}

static void test_missing_column_is_fatal(void **state)
{
    (void)state;
    assert_fatal("InvoiceNo,StockCode,Description,InvoiceDate,UnitPrice,CustomerID,Country\n" ROW_A,
                 "line 1: header has no Quantity column");
    assert_fatal("Invoice,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n",
                 "line 1: header has no InvoiceNo column");
    assert_fatal("\n\nStockCode,Quantity\n", "line 3: header has no InvoiceNo column");
}

static void test_duplicate_column_is_fatal(void **state)
{
    (void)state;
    assert_fatal("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                 "Country,invoice_no\n" ROW_A,
                 "line 1: header: columns 1 and 9 are both InvoiceNo");
    assert_fatal("Quantity,quantity\n", "line 1: header: columns 1 and 2 are both Quantity");
}

static void test_empty_input_is_fatal(void **state)
{
    (void)state;
    assert_fatal("", "line 1: the input is empty: there is no header line");
    ut_sink s;
    ut_sink_init(&s);
    ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, false, 0};
    assert_int_equal(ut_decode_cfg("", 0, &cfg, &s), SF_EFORMAT);
    assert_string_equal(s.err.msg, "line 1: the input is empty: there is no header line");
    ut_sink_free(&s);
}

static void test_header_only(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(UT_HEADER, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.stats.records, 0);
    assert_int_equal(csv("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country", &s), 0);
    assert_int_equal(s.n, 0);
    ut_sink_free(&s);
}

static void test_quoted_cells(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r = one_row("536365,\"85123A\",\"WHITE, \"\"HANGING\"\" HEART\",\"6\","
                                 "\"2010-12-01 08:26:00\",2.55,17850,\"United Kingdom\"\n",
                                 &s);
    assert_string_equal(r->description, "WHITE, \"HANGING\" HEART");
    assert_string_equal(r->stock_code, "85123A");
    assert_int_equal(r->quantity, 6);
    ut_sink_free(&s);
}

static void test_quoted_cell_spanning_lines(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(UT_HEADER ROW_A
                         "536366,22633,\"HAND WARMER\nUNION\r\nJACK\",6,12/1/2010 8:28,1.85,,UK\n"
                         "536367,84879,ok,x,12/1/2010 8:34,1.69,13047,UK\n" ROW_B,
                         &s),
                     0);
    assert_int_equal(s.nrec, 3);
    assert_int_equal(s.nerr, 1);
    assert_string_equal(ut_rec(&s, 1)->description, "HAND WARMER\nUNION\r\nJACK");
    assert_int_equal(ut_rec_event(&s, 1)->pos.line, 3);
    /* The rows after the three-line cell start on lines 6 and 7. */
    assert_string_equal(ut_err(&s, 0)->msg, "line 6: Quantity: \"x\" is not an integer");
    assert_int_equal(ut_err(&s, 0)->pos.index, 2);
    assert_int_equal(ut_rec_event(&s, 2)->pos.line, 7);
    assert_int_equal(ut_rec_event(&s, 2)->pos.index, 3);
    assert_int_equal(s.stats.lines, 7);
    ut_sink_free(&s);
}

static void test_pound_both_encodings(void **state)
{
    (void)state;
    const char *text = UT_HEADER "1,POST,\xC2\xA3"
                                 "5 off,1,2010-12-01 08:26,5,,UK\n"
                                 "2,POST,\xA3"
                                 "5 off,1,2010-12-01 08:26,5,,UK\n";
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode(text, SF_FORMAT_CSV, SF_ENC_AUTO, &s), 0);
    assert_int_equal(s.nrec, 2);
    assert_string_equal(ut_rec(&s, 0)->description, "\xC2\xA3"
                                                    "5 off");
    assert_string_equal(ut_rec(&s, 1)->description, "\xC2\xA3"
                                                    "5 off");
    assert_int_equal(ut_decode(text, SF_FORMAT_CSV, SF_ENC_UTF8, &s), 0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(s.nerr, 1);
    assert_string_equal(ut_err(&s, 0)->msg, "line 3: Description: is not valid UTF-8");
    assert_int_equal(ut_err(&s, 0)->field, SF_FIELD_DESCRIPTION);
    assert_int_equal(ut_decode(text, SF_FORMAT_CSV, SF_ENC_LATIN1, &s), 0);
    assert_string_equal(ut_rec(&s, 0)->description, "\xC3\x82\xC2\xA3"
                                                    "5 off");
    assert_string_equal(ut_rec(&s, 1)->description, "\xC2\xA3"
                                                    "5 off");
    ut_sink_free(&s);
}

static void test_descriptions_byte_exact(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r = one_row("536365,85123A,,6,2010-12-01 08:26:00,2.55,17850,UK\n", &s);
    assert_int_equal(r->description_len, 0);
    r = one_row("536365,85123A,  LANTERN   ,6,2010-12-01 08:26:00,2.55,17850,UK\n", &s);
    assert_string_equal(r->description, "  LANTERN   ");
    assert_int_equal(r->description_len, 12);
    /* spaces are kept on the libcsv path too */
    r = one_row("536365,\"85123A\",LANTERN  ,6,2010-12-01 08:26:00,2.55,17850,UK\n", &s);
    assert_string_equal(r->description, "LANTERN  ");
    r = one_row("536365,85123A,\"  LANTERN  \",6,2010-12-01 08:26:00,2.55,17850,UK\n", &s);
    assert_string_equal(r->description, "  LANTERN  ");
    ut_sink_free(&s);
}

static void test_negative_price_and_kinds(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const sf_record *r =
        one_row("A563185,B,Adjust bad debt,1,8/12/2011 14:50,-11062.06,,United Kingdom\n", &s);
    assert_int_equal(r->unit_price, -11062060);
    assert_int_equal(r->kind, SF_KIND_ADJUSTMENT);
    assert_int_equal(r->flags, SF_FLAG_NON_PRODUCT | SF_FLAG_NO_CUSTOMER);
    r = one_row("C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom\n", &s);
    assert_int_equal(r->kind, SF_KIND_CANCELLATION);
    assert_int_equal(r->quantity, -1);
    assert_int_equal(r->unit_price, 27500);
    ut_sink_free(&s);
}

static void test_both_date_styles(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(one_row("1,2,,1,2010-12-01 08:26:00,1,,UK\n", &s)->invoice_date, UT_T0);
    assert_int_equal(one_row("1,2,,1,12/1/2010 8:26,1,,UK\n", &s)->invoice_date, UT_T0);
    assert_int_equal(one_row("1,2,,1,2010-12-01T08:26:00Z,1,,UK\n", &s)->invoice_date, UT_T0);
    ut_sink_free(&s);
}

static void test_bad_number_message_line_12(void **state)
{
    (void)state;
    char text[4096] = UT_HEADER;
    for (int i = 0; i < 10; i++)
        strcat(text, ROW_A);
    strcat(text, "536365,85123A,X,abc,2010-12-01 08:26:00,2.55,17850,UK\n" ROW_B);
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(text, &s), 0);
    assert_int_equal(s.nrec, 11);
    assert_int_equal(s.nerr, 1);
    const ut_event *e = ut_err(&s, 0);
    assert_string_equal(e->msg, "line 12: Quantity: \"abc\" is not an integer");
    assert_string_equal(e->reason, "\"abc\" is not an integer");
    assert_int_equal(e->pos.line, 12);
    assert_int_equal(e->pos.index, 10);
    assert_int_equal(e->field, SF_FIELD_QUANTITY);
    assert_false(e->by_index);
    assert_int_equal(ut_rec_event(&s, 10)->pos.index, 11);
    assert_int_equal(s.stats.records, 12);
    assert_int_equal(s.stats.invalid, 1);
    ut_sink_free(&s);
}

static void test_bad_values(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_string_equal(bad_row("1,2,,2147483648,2010-12-01 08:26,1,,UK\n", &s),
                        "line 2: Quantity: \"2147483648\" is beyond the limit of "
                        "±1,000,000,000");
    assert_string_equal(bad_row("1,2,,1,2010-12-01 08:26,2.5501,,UK\n", &s),
                        "line 2: UnitPrice: \"2.5501\" has more than 3 decimals "
                        "(prices are kept to 0.001)");
    assert_int_equal(one_row("1,2,,1,2010-12-01 08:26,2.5500,,UK\n", &s)->unit_price, 2550);
    assert_string_equal(bad_row("1,2,,1,2011-02-29 08:26,1,,UK\n", &s),
                        "line 2: InvoiceDate: \"2011-02-29 08:26\" day does not exist in that "
                        "month");
    assert_string_equal(bad_row("1,2,,1,2010-12-01 08:26,1,17850.5,UK\n", &s),
                        "line 2: CustomerID: \"17850.5\" is not a whole number");
    assert_string_equal(bad_row(",2,,1,2010-12-01 08:26,1,,UK\n", &s),
                        "line 2: InvoiceNo: is empty");
    assert_string_equal(bad_row("1,2,,1,2010-12-01 08:26,1,,\n", &s), "line 2: Country: is empty");
    assert_string_equal(bad_row("1,2,,1001,2010-12-01 08:26,1000000000,,UK\n", &s),
                        "line 2: UnitPrice: makes the line amount 1001 x 1000000000.00 = "
                        "1001000000000.00, beyond the limit of ±1,000,000,000,000");
    ut_sink_free(&s);
}

static void test_first_error_of_a_row_wins(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_string_equal(bad_row("1,2,,x,bad date,y,,UK\n", &s),
                        "line 2: Quantity: \"x\" is not an integer");
    assert_string_equal(bad_row("1,2,,x,2010-12-01 08:26,1\n", &s),
                        "line 2: Quantity: \"x\" is not an integer");
    ut_sink_free(&s);
}

static void test_row_cell_counts(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_string_equal(bad_row("1,2,,1,2010-12-01 08:26,1,\n", &s),
                        "line 2: has 7 cells; the header has 8");
    assert_string_equal(bad_row("1,2,,1,2010-12-01 08:26,1,,UK,extra\n", &s),
                        "line 2: has 9 cells; the header has 8");
    assert_string_equal(bad_row("1,2,,1,2010-12-01 08:26,1,,\"U,K\",\"x\"\n", &s),
                        "line 2: has 9 cells; the header has 8");
    assert_string_equal(bad_row("just one cell\n", &s), "line 2: has 1 cells; the header has 8");
    assert_int_equal(ut_err(&s, 0)->field, SF_FIELD_NONE);
    ut_sink_free(&s);
}

static void test_unterminated_quote(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(UT_HEADER ROW_A "2,3,\"never closed,1,12/1/2010 8:26,1,,UK\n" ROW_B, &s),
                     0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(s.nerr, 1);
    assert_string_equal(ut_err(&s, 0)->msg,
                        "line 3: a quoted cell opened on line 3 is never closed");
    assert_int_equal(ut_err(&s, 0)->pos.index, 1);
    ut_sink_free(&s);
}

static void test_unterminated_quote_in_header(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv("InvoiceNo,\"StockCode\n", &s), SF_EFORMAT);
    assert_string_equal(s.err.msg,
                        "line 1: header: a quoted cell opened on line 1 is never closed");
    ut_sink_free(&s);
}

static void test_malformed_quote_then_recovery(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(UT_HEADER "1,2,ab\"c,1,12/1/2010 8:26,1,,UK\n"
                                   "1,2,\"ab\"c,1,12/1/2010 8:26,1,,UK\n" ROW_A,
                         &s),
                     0);
    assert_int_equal(s.nerr, 2);
    assert_int_equal(s.nrec, 1);
    const char *why = "a quote inside an unquoted cell, or text after a closing quote";
    char want[256];
    snprintf(want, sizeof want, "line 2: malformed quoting on line 2: %s", why);
    assert_string_equal(ut_err(&s, 0)->msg, want);
    snprintf(want, sizeof want, "line 3: malformed quoting on line 3: %s", why);
    assert_string_equal(ut_err(&s, 1)->msg, want);
    assert_int_equal(ut_rec_event(&s, 0)->pos.line, 4);
    assert_int_equal(ut_rec_event(&s, 0)->pos.index, 2);
    ut_sink_free(&s);
}

static void test_nul_byte_in_cell(void **state)
{
    (void)state;
    const char text[] = UT_HEADER "1,2,a\0b,1,12/1/2010 8:26,1,,UK\n";
    ut_sink s;
    ut_sink_init(&s);
    ut_cfg cfg = {UT_FRONT, SF_FORMAT_CSV, SF_ENC_AUTO, false, 0};
    assert_int_equal(ut_decode_cfg(text, sizeof text - 1, &cfg, &s), 0);
    assert_int_equal(s.nerr, 1);
    assert_string_equal(ut_err(&s, 0)->msg, "line 2: Description: contains a NUL byte");
    ut_sink_free(&s);
}

/* The same rows with LF, CRLF and CR line ends, one row bad. */
static void line_end_text(char *out, size_t cap, const char *nl)
{
    snprintf(out, cap,
             "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country%s"
             "536365,85123A,\"A\"\"B\",6,2010-12-01 08:26:00,2.55,17850,UK%s"
             "%s"
             "536366,22633,,x,12/1/2010 8:28,1.85,,UK%s"
             "536367,84879,\"X,Y\",6,12/1/2010 8:28,1.85,,UK%s"
             "536368,84879,plain,6,12/1/2010 8:28,1.85,,UK",
             nl, nl, nl, nl, nl);
}

static void test_line_ends(void **state)
{
    (void)state;
    const char *ends[] = {"\n", "\r\n", "\r"};
    ut_sink ref, s;
    ut_sink_init(&ref);
    ut_sink_init(&s);
    char text[1024];
    line_end_text(text, sizeof text, "\n");
    assert_int_equal(csv(text, &ref), 0);
    assert_int_equal(ref.nrec, 3);
    assert_int_equal(ref.nerr, 1);
    assert_string_equal(ut_err(&ref, 0)->msg, "line 4: Quantity: \"x\" is not an integer");
    assert_int_equal(ut_rec_event(&ref, 2)->pos.line, 6);
    for (size_t i = 0; i < 3; i++) {
        line_end_text(text, sizeof text, ends[i]);
        for (int slow = 0; slow <= 1; slow++) {
            ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, slow, 0};
            ut_decode_cfg(text, strlen(text), &cfg, &s);
            s.stats.format = SF_FORMAT_CSV; /* only the front door fills it */
            ut_assert_same(&ref, &s);
        }
    }
    ut_sink_free(&ref);
    ut_sink_free(&s);
}

static void test_cr_only_malformed_row_recovers(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
                         "CustomerID,Country\r"
                         "1,2,a\"b,1,12/1/2010 8:26,1,,UK\r"
                         "1,2,\"multi\rline\",1,12/1/2010 8:26,1,,UK\r"
                         "1,2,ok,1,12/1/2010 8:26,1,,UK\r",
                         &s),
                     0);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(ut_err(&s, 0)->pos.line, 2);
    assert_int_equal(s.nrec, 2);
    assert_string_equal(ut_rec(&s, 0)->description, "multi\rline");
    assert_int_equal(ut_rec_event(&s, 0)->pos.line, 3);
    assert_int_equal(ut_rec_event(&s, 1)->pos.line, 5);
    assert_int_equal(ut_rec_event(&s, 1)->pos.index, 2);
    ut_sink_free(&s);
}

static void test_blank_lines_and_no_final_newline(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv("\n" UT_HEADER "\n\n" ROW_A "\r\n"
                         "536366,22633,x,6,12/1/2010 8:28,1.85,,UK",
                         &s),
                     0);
    assert_int_equal(s.nrec, 2);
    assert_int_equal(ut_rec_event(&s, 0)->pos.line, 5);
    assert_int_equal(ut_rec_event(&s, 0)->pos.index, 0);
    assert_int_equal(ut_rec_event(&s, 1)->pos.line, 7);
    assert_int_equal(ut_rec_event(&s, 1)->pos.index, 1);
    ut_sink_free(&s);
}

/* Rows with every quirk; no BOM, so the CSV decoder can take it directly. */
static const char quirky[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
    "536365,85123A,\"WHITE, \"\"HANGING\"\" HEART\",6,2010-12-01 08:26:00,2.55,17850,UK\r\n"
    "536366,22633,\"HAND WARMER\nUNION JACK\",6,12/1/2010 8:28,1.85,,United Kingdom\n"
    "\n"
    "C536379,D,Discount  ,-1,12/1/2010 9:41,27.50,14527,United Kingdom\n"
    "536367,84879,bad qty,abc,12/1/2010 8:34,1.69,13047,United Kingdom\n"
    "536368,22960,short row,6\n"
    "536369,22961,\"bad \"quote,6,12/1/2010 8:34,1.69,13047,UK\n"
    "A563185,B,Adjust bad debt,1,8/12/2011 14:50,-11062.06,,United Kingdom\n"
    "536370,22728,\xA3 sign,24,12/1/2010 8:45,3.75,12583.0,France";

static void test_quirky_reference(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(csv(quirky, &s), 0);
    assert_int_equal(s.nrec, 5);
    assert_int_equal(s.nerr, 3);
    assert_string_equal(ut_rec(&s, 0)->description, "WHITE, \"HANGING\" HEART");
    assert_string_equal(ut_rec(&s, 1)->description, "HAND WARMER\nUNION JACK");
    assert_string_equal(ut_rec(&s, 2)->description, "Discount  ");
    assert_int_equal(ut_rec(&s, 3)->unit_price, -11062060);
    assert_string_equal(ut_rec(&s, 4)->description, "\xC2\xA3 sign");
    assert_int_equal(ut_rec(&s, 4)->customer_id, 12583);
    assert_string_equal(ut_err(&s, 0)->msg, "line 7: Quantity: \"abc\" is not an integer");
    assert_string_equal(ut_err(&s, 1)->msg, "line 8: has 4 cells; the header has 8");
    assert_int_equal(ut_err(&s, 2)->pos.line, 9);
    assert_int_equal(ut_err(&s, 2)->pos.index, 5);
    assert_int_equal(ut_rec_event(&s, 4)->pos.line, 11);
    assert_int_equal(ut_rec_event(&s, 4)->pos.index, 7);
    ut_sink_free(&s);
}

/* Every chunk size, each decoder path, gives what one feed gives. */
static void assert_chunk_invariant(const char *text, size_t len)
{
    const ut_cfg one = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, false, 0};
    const ut_cfg paths[] = {
        {UT_FRONT, SF_FORMAT_AUTO, SF_ENC_AUTO, false, 0},
        {UT_CSV, SF_FORMAT_AUTO, SF_ENC_AUTO, false, 0},
        {UT_CSV, SF_FORMAT_AUTO, SF_ENC_AUTO, true, 0},
    };
    ut_assert_chunk_invariant(text, len, &one, paths, 3);
}

static void test_chunks_of_every_size(void **state)
{
    (void)state;
    assert_chunk_invariant(quirky, sizeof quirky - 1);
    char text[1024];
    line_end_text(text, sizeof text, "\r");
    assert_chunk_invariant(text, strlen(text));
    assert_chunk_invariant(UT_HEADER "1,2,\"never closed\n", strlen(UT_HEADER) + 17);
}

static void test_chunks_with_bom(void **state)
{
    (void)state;
    char text[sizeof quirky + 3] = "\xEF\xBB\xBF";
    memcpy(text + 3, quirky, sizeof quirky);
    ut_sink ref, s;
    ut_sink_init(&ref);
    ut_sink_init(&s);
    ut_cfg one = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, false, 0};
    ut_decode_cfg(quirky, sizeof quirky - 1, &one, &ref);
    ref.stats.format = SF_FORMAT_CSV;
    for (size_t chunk = 0; chunk <= sizeof text - 1; chunk++) {
        ut_cfg cfg = {UT_FRONT, SF_FORMAT_AUTO, SF_ENC_AUTO, false, chunk};
        ut_decode_cfg(text, sizeof text - 1, &cfg, &s);
        ut_assert_same(&ref, &s);
    }
    ut_sink_free(&ref);
    ut_sink_free(&s);
}

static void test_fast_path_matches_libcsv(void **state)
{
    (void)state;
    const char *texts[] = {
        quirky,
        UT_HEADER ROW_A ROW_B,
        UT_HEADER "1,2,  spaces  ,1,12/1/2010 8:26,1,,UK  \n , , , , , , , \n,,,,,,,\n",
        UT_HEADER "1,2,x,1,12/1/2010 8:26,1,,UK,\n1,2,x,1,12/1/2010 8:26,1\n   \n",
        UT_HEADER "\r\n\r\n1,2,x,1,12/1/2010 8:26,1,,UK\r\n",
        "Quantity,InvoiceNo\n",
    };
    ut_sink fast, slow;
    ut_sink_init(&fast);
    ut_sink_init(&slow);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ut_cfg a = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, false, 0};
        ut_cfg b = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, true, 0};
        ut_decode_cfg(texts[i], strlen(texts[i]), &a, &fast);
        ut_decode_cfg(texts[i], strlen(texts[i]), &b, &slow);
        ut_assert_same(&fast, &slow);
    }
    ut_sink_free(&fast);
    ut_sink_free(&slow);
}

/* Header, a row whose description is n bytes, then ROW_A. */
static char *long_line_text(size_t n, size_t *len)
{
    size_t cap = strlen(UT_HEADER) + n + 256;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t at = (size_t)snprintf(text, cap, "%s1,2,", UT_HEADER);
    memset(text + at, 'd', n);
    at += n;
    at += (size_t)snprintf(text + at, cap - at, ",1,12/1/2010 8:26,1,,UK\n%s", ROW_A);
    *len = at;
    return text;
}

static void test_very_long_line(void **state)
{
    (void)state;
    size_t len;
    char *text = long_line_text(200 * 1024, &len);
    ut_sink s;
    ut_sink_init(&s);
    for (size_t chunk = 0; chunk <= 8192; chunk += 4093) {
        for (int slow = 0; slow <= 1; slow++) {
            ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, slow, chunk};
            assert_int_equal(ut_decode_cfg(text, len, &cfg, &s), 0);
            assert_int_equal(s.nerr, 1);
            assert_string_equal(ut_err(&s, 0)->msg,
                                "line 2: Description: is longer than 512 bytes");
            assert_int_equal(s.nrec, 1);
            assert_int_equal(ut_rec_event(&s, 0)->pos.line, 3);
            assert_int_equal(ut_rec_event(&s, 0)->pos.index, 1);
        }
    }
    free(text);
    ut_sink_free(&s);
}

/* A CR-only file of n rows (row k has quantity k, row bad is bad). */
static char *cr_only_text(size_t n, size_t bad, size_t *len)
{
    size_t cap = 128 + n * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t at = (size_t)snprintf(text, cap,
                                 "InvoiceNo,StockCode,Description,Quantity,"
                                 "InvoiceDate,UnitPrice,CustomerID,Country\r");
    for (size_t k = 0; k < n; k++)
        at += (size_t)snprintf(text + at, cap - at, "%zu,S%zu,\"d\",%s%zu,12/1/2010 8:26,1,,UK\r",
                               k, k % 7, k == bad ? "x" : "", k);
    *len = at;
    return text;
}

static void test_cr_only_long_input_streamed(void **state)
{
    (void)state;
    size_t len, n = 3000, bad = 2500;
    char *text = cr_only_text(n, bad, &len);
    assert_true(len > 64 * 1024); /* one "line" longer than the carry buffer */
    ut_sink s;
    ut_sink_init(&s);
    for (size_t chunk = 4090; chunk <= 4150; chunk++) {
        ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, chunk % 2 == 0, chunk};
        assert_int_equal(ut_decode_cfg(text, len, &cfg, &s), 0);
        assert_int_equal(s.nrec, n - 1);
        assert_int_equal(s.nerr, 1);
        assert_int_equal(ut_err(&s, 0)->pos.line, bad + 2);
        for (size_t k = 0; k < s.n; k++)
            assert_int_equal(s.ev[k].pos.line, s.ev[k].pos.index + 2);
        assert_int_equal(s.stats.lines, n + 1);
    }
    free(text);
    ut_sink_free(&s);
}

static void test_sink_stops(void **state)
{
    (void)state;
    for (size_t stop = 1; stop <= 3; stop++) {
        for (size_t chunk = 0; chunk <= 7; chunk += 7) {
            ut_sink s;
            ut_sink_init(&s);
            s.stop_at = stop;
            ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, false, chunk};
            assert_int_equal(ut_decode_cfg(quirky, sizeof quirky - 1, &cfg, &s), SF_ESTOPPED);
            assert_int_equal(s.err.code, SF_ESTOPPED);
            assert_string_equal(s.err.msg, "stopped by the caller");
            assert_int_equal(s.calls, stop);
            assert_false(s.called_after_stop);
            ut_sink_free(&s);
        }
    }
}

static void test_stop_on_error_callback(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    s.stop_at = 4; /* the first error in quirky is the fourth callback */
    ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, true, 0};
    assert_int_equal(ut_decode_cfg(quirky, sizeof quirky - 1, &cfg, &s), SF_ESTOPPED);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.nrec, 3);
    assert_false(s.called_after_stop);
    ut_sink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_records),
        cmocka_unit_test(test_header_any_order_and_names),
        cmocka_unit_test(test_optional_columns_absent),
        cmocka_unit_test(test_missing_column_is_fatal),
        cmocka_unit_test(test_duplicate_column_is_fatal),
        cmocka_unit_test(test_empty_input_is_fatal),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_quoted_cells),
        cmocka_unit_test(test_quoted_cell_spanning_lines),
        cmocka_unit_test(test_pound_both_encodings),
        cmocka_unit_test(test_descriptions_byte_exact),
        cmocka_unit_test(test_negative_price_and_kinds),
        cmocka_unit_test(test_both_date_styles),
        cmocka_unit_test(test_bad_number_message_line_12),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_first_error_of_a_row_wins),
        cmocka_unit_test(test_row_cell_counts),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_unterminated_quote_in_header),
        cmocka_unit_test(test_malformed_quote_then_recovery),
        cmocka_unit_test(test_nul_byte_in_cell),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_cr_only_malformed_row_recovers),
        cmocka_unit_test(test_blank_lines_and_no_final_newline),
        cmocka_unit_test(test_quirky_reference),
        cmocka_unit_test(test_chunks_of_every_size),
        cmocka_unit_test(test_chunks_with_bom),
        cmocka_unit_test(test_fast_path_matches_libcsv),
        cmocka_unit_test(test_very_long_line),
        cmocka_unit_test(test_cr_only_long_input_streamed),
        cmocka_unit_test(test_sink_stops),
        cmocka_unit_test(test_stop_on_error_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
