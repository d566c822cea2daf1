/*
 * test_decoder.c - decoder.h, the front door: format names, error message
 * formatting, format sniffing (CSV / JSON, blank prefixes, BOM), explicit
 * formats, sticky errors after a fatal error or a stop, stats, reset for a
 * new input (after an error, a stop, across formats); and
 * sf_decode_file on plain, gzip, multi-member and truncated gzip files,
 * missing files, fatal errors prefixed with the path, a sink that stops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/decoder.h"
#include "support.h"

#define ROW "536365,85123A,WHITE HEART ,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
#define OBJ                                                                                        \
    "{\"invoice_no\":\"536365\",\"stock_code\":\"85123A\",\"description\":\"WHITE HEART \","       \
    "\"quantity\":6,\"invoice_date\":\"2010-12-01 08:26:00\",\"unit_price\":2.55,"                 \
    "\"customer_id\":17850,\"country\":\"United Kingdom\"}"

static void test_format_names(void **state)
{
    (void)state;
    sf_format f = SF_FORMAT_CSV;
    assert_int_equal(sf_format_parse("auto", &f), 0);
    assert_int_equal(f, SF_FORMAT_AUTO);
    assert_int_equal(sf_format_parse("CSV", &f), 0);
    assert_int_equal(f, SF_FORMAT_CSV);
    assert_int_equal(sf_format_parse("json", &f), 0);
    assert_int_equal(f, SF_FORMAT_JSON);
    f = SF_FORMAT_AUTO;
    assert_int_equal(sf_format_parse("ndjson", &f), 0);
    assert_int_equal(f, SF_FORMAT_JSON);
    assert_int_equal(sf_format_parse("xml", &f), -1);
    assert_int_equal(f, SF_FORMAT_JSON);
    assert_string_equal(sf_format_name(SF_FORMAT_CSV), "csv");
    assert_string_equal(sf_format_name(SF_FORMAT_JSON), "json");
    assert_string_equal(sf_format_name(SF_FORMAT_AUTO), "auto");
}

static void test_error_format(void **state)
{
    (void)state;
    char buf[128];
    sf_decode_error e = {{12, 10}, SF_FIELD_QUANTITY, "\"abc\" is not an integer", false, false};
    int n = sf_decode_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "line 12: Quantity: \"abc\" is not an integer");
    assert_int_equal(n, strlen(buf));
    e.by_index = true;
    sf_decode_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "record 10: Quantity: \"abc\" is not an integer");
    sf_decode_error f = {{3, 0}, SF_FIELD_NONE, "has 7 cells; the header has 8", false, false};
    sf_decode_error_format(&f, buf, sizeof buf);
    assert_string_equal(buf, "line 3: has 7 cells; the header has 8");
}

static void test_error_format_truncates_like_snprintf(void **state)
{
    (void)state;
    sf_decode_error e = {{12, 0}, SF_FIELD_UNIT_PRICE, "is empty", false, false};
    char buf[8];
    int n = sf_decode_error_format(&e, buf, sizeof buf);
    assert_int_equal(n, strlen("line 12: UnitPrice: is empty"));
    assert_string_equal(buf, "line 12");
    assert_int_equal(sf_decode_error_format(&e, NULL, 0), n);
}

/* Feed text in one go without finishing; returns the format chosen. */
static sf_format sniff(const char *text, size_t len)
{
    ut_sink s;
    ut_sink_init(&s);
    sf_decode_sink k = ut_sink_callbacks(&s);
    sf_decoder *d = NULL;
    sf_error err;
    assert_int_equal(sf_decoder_new(NULL, &k, &d, &err), 0);
    assert_int_equal(sf_decoder_format(d), SF_FORMAT_AUTO);
    sf_decoder_feed(d, text, len, &err);
    sf_format f = sf_decoder_format(d);
    sf_decoder_free(d);
    ut_sink_free(&s);
    return f;
}

static void test_sniffing(void **state)
{
    (void)state;
    assert_int_equal(sniff("{", 1), SF_FORMAT_JSON);
    assert_int_equal(sniff("[", 1), SF_FORMAT_JSON);
    assert_int_equal(sniff(" \t\r\n {", 6), SF_FORMAT_JSON);
    assert_int_equal(sniff("\xEF\xBB\xBF[", 4), SF_FORMAT_JSON);
    assert_int_equal(sniff("\xEF\xBB\xBF\n\n{", 6), SF_FORMAT_JSON);
    assert_int_equal(sniff("I", 1), SF_FORMAT_CSV);
    assert_int_equal(sniff("\n\nInvoiceNo", 11), SF_FORMAT_CSV);
    assert_int_equal(sniff("\xEF\xBB\xBFI", 4), SF_FORMAT_CSV);
    /* not yet decided: blanks, a BOM or part of one */
    assert_int_equal(sniff(" \n\t", 3), SF_FORMAT_AUTO);
    assert_int_equal(sniff("\xEF\xBB", 2), SF_FORMAT_AUTO);
    assert_int_equal(sniff("\xEF\xBB\xBF  ", 5), SF_FORMAT_AUTO);
    assert_int_equal(sniff("\xEF"
                           "A",
                           2),
                     SF_FORMAT_CSV);
}

static void test_long_blank_prefix_is_csv(void **state)
{
    (void)state;
    char text[5000];
    memset(text, ' ', sizeof text);
    assert_int_equal(sniff(text, sizeof text), SF_FORMAT_CSV);
}

static void test_bom_csv_and_json(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode("\xEF\xBB\xBF" UT_HEADER ROW, SF_FORMAT_AUTO, SF_ENC_AUTO, &s), 0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(s.stats.format, SF_FORMAT_CSV);
    sf_record csv_rec = *ut_rec(&s, 0);
    assert_int_equal(ut_decode("\xEF\xBB\xBF" OBJ, SF_FORMAT_AUTO, SF_ENC_AUTO, &s), 0);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(s.stats.format, SF_FORMAT_JSON);
    assert_true(sf_record_equal(&csv_rec, ut_rec(&s, 0)));
    /* With the format given, the BOM is still stripped. */
    assert_int_equal(ut_decode("\xEF\xBB\xBF" UT_HEADER ROW, SF_FORMAT_CSV, SF_ENC_UTF8, &s), 0);
    assert_int_equal(s.nrec, 1);
    ut_sink_free(&s);
}

static void test_only_a_bom_is_empty(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode("\xEF\xBB\xBF", SF_FORMAT_AUTO, SF_ENC_AUTO, &s), SF_EFORMAT);
    assert_string_equal(s.err.msg, "line 1: the input is empty: there is no header line");
    assert_int_equal(ut_decode("", SF_FORMAT_AUTO, SF_ENC_AUTO, &s), SF_EFORMAT);
    assert_string_equal(s.err.msg, "line 1: the input is empty: there is no header line");
    assert_int_equal(s.stats.format, SF_FORMAT_CSV);
    ut_sink_free(&s);
}

static void test_explicit_format_wins(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(ut_decode(OBJ, SF_FORMAT_CSV, SF_ENC_AUTO, &s), SF_EFORMAT);
    assert_string_equal(s.err.msg, "line 1: header: malformed quoting on line 1: a quote inside "
                                   "an unquoted cell, or text after a closing quote");
    assert_int_equal(ut_decode("[1]", SF_FORMAT_CSV, SF_ENC_AUTO, &s), SF_EFORMAT);
    assert_string_equal(s.err.msg, "line 1: header has no InvoiceNo column");
    assert_int_equal(ut_decode(UT_HEADER, SF_FORMAT_JSON, SF_ENC_AUTO, &s), SF_EFORMAT);
    assert_int_equal(strncmp(s.err.msg, "line 1: invalid JSON: ", 22), 0);
    ut_sink_free(&s);
}

static void test_encoding_reaches_csv(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    const char *text = UT_HEADER "1,POST,\xA3"
                                 "5,1,12/1/2010 8:26,5,,UK\n";
    assert_int_equal(ut_decode(text, SF_FORMAT_AUTO, SF_ENC_AUTO, &s), 0);
    assert_string_equal(ut_rec(&s, 0)->description, "\xC2\xA3"
                                                    "5");
    assert_int_equal(ut_decode(text, SF_FORMAT_AUTO, SF_ENC_UTF8, &s), 0);
    assert_string_equal(ut_err(&s, 0)->msg, "line 2: Description: is not valid UTF-8");
    ut_sink_free(&s);
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    sf_decode_sink k = ut_sink_callbacks(&s);
    sf_decoder *d = NULL;
    sf_error err;
    assert_int_equal(sf_decoder_new(NULL, &k, &d, &err), 0);
    const char *bad = "Quantity\n";
    assert_int_equal(sf_decoder_feed(d, bad, strlen(bad), &err), SF_EFORMAT);
    assert_string_equal(err.msg, "line 1: header has no InvoiceNo column");
    size_t n = s.n;
    assert_int_equal(sf_decoder_feed(d, UT_HEADER ROW, strlen(UT_HEADER ROW), &err), SF_EFORMAT);
    assert_int_equal(sf_decoder_finish(d, &err), SF_EFORMAT);
    assert_int_equal(s.n, n);
    sf_decoder_free(d);
    ut_sink_free(&s);
}

static void test_stop_is_sticky(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    s.stop_at = 1;
    sf_decode_sink k = ut_sink_callbacks(&s);
    sf_decoder *d = NULL;
    sf_error err;
    assert_int_equal(sf_decoder_new(NULL, &k, &d, &err), 0);
    const char *text = UT_HEADER ROW ROW;
    assert_int_equal(sf_decoder_feed(d, text, strlen(text), &err), SF_ESTOPPED);
    assert_int_equal(sf_decoder_feed(d, ROW, strlen(ROW), &err), SF_ESTOPPED);
    assert_int_equal(sf_decoder_finish(d, &err), SF_ESTOPPED);
    assert_int_equal(s.calls, 1);
    assert_false(s.called_after_stop);
    sf_decode_stats st;
    sf_decoder_stats(d, &st);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.format, SF_FORMAT_CSV);
    sf_decoder_free(d);
    ut_sink_free(&s);
}

static void test_stats_before_any_input(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    sf_decode_sink k = ut_sink_callbacks(&s);
    sf_decoder *d = NULL;
    assert_int_equal(sf_decoder_new(NULL, &k, &d, NULL), 0);
    sf_decode_stats st;
    memset(&st, 0x5A, sizeof st);
    sf_decoder_stats(d, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.lines, 0);
    assert_int_equal(st.format, SF_FORMAT_AUTO);
    sf_decoder_free(d);
    sf_decoder_free(NULL);
    ut_sink_free(&s);
}

static void test_null_on_error_only_counts(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    sf_decode_sink k = ut_sink_callbacks(&s);
    k.on_error = NULL;
    sf_decoder *d = NULL;
    sf_error err;
    assert_int_equal(sf_decoder_new(NULL, &k, &d, &err), 0);
    const char *text = UT_HEADER ROW "1,2,,x,12/1/2010 8:26,1,,UK\n" ROW;
    assert_int_equal(sf_decoder_feed(d, text, strlen(text), &err), 0);
    assert_int_equal(sf_decoder_finish(d, &err), 0);
    assert_int_equal(s.nrec, 2);
    sf_decode_stats st;
    sf_decoder_stats(d, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.invalid, 1);
    sf_decoder_free(d);
    ut_sink_free(&s);
}

/* ---- sf_decode_file ---- */

/* A CSV text of n rows (descriptions vary), malloc'd. */
static char *csv_rows(size_t n, size_t *len)
{
    size_t cap = strlen(UT_HEADER) + n * 96;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t at = (size_t)snprintf(text, cap, "%s", UT_HEADER);
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, cap - at,
                               "%zu,S%zu,item %zu  ,%zu,12/1/2010 8:26,%zu.5,%zu,UK\n",
                               536365 + i / 4, i % 97, i, i % 50, i % 9, 12346 + i % 300);
    *len = at;
    return text;
}

static int decode_path(const char *path, ut_sink *s)
{
    size_t stop_at = s->stop_at;
    ut_sink_free(s);
    ut_sink_init(s);
    s->stop_at = stop_at;
    sf_decode_sink k = ut_sink_callbacks(s);
    s->rc = sf_decode_file(path, NULL, &k, NULL, &s->stats, &s->err);
    return s->rc;
}

/* The same file's bytes in memory (sf_decode_bytes: an object read
 * whole), into s. */
static int decode_bytes_of(const char *path, ut_sink *s)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    rewind(f);
    char *data = malloc(len ? len : 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, len, f), len);
    fclose(f);
    ut_sink_free(s);
    ut_sink_init(s);
    sf_decode_sink k = ut_sink_callbacks(s);
    s->rc = sf_decode_bytes("obj", data, len, NULL, &k, &s->stats, &s->err);
    free(data);
    return s->rc;
}

static void test_file_plain_gzip_multimember_same(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], plain[UT_PATH_MAX], gz[UT_PATH_MAX], multi[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(plain, dir, "a.csv");
    ut_join(gz, dir, "a.csv.gz");
    ut_join(multi, dir, "multi.gz");
    size_t len;
    char *text = csv_rows(20000, &len);
    ut_write_file(plain, text, len);
    ut_write_gzip(gz, text, len, 1);
    ut_write_gzip(multi, text, len, 7);
    ut_sink a, b;
    ut_sink_init(&a);
    ut_sink_init(&b);
    assert_int_equal(decode_path(plain, &a), 0);
    assert_int_equal(a.nrec, 20000);
    assert_int_equal(a.stats.lines, 20001);
    assert_int_equal(a.stats.format, SF_FORMAT_CSV);
    assert_int_equal(decode_path(gz, &b), 0);
    ut_assert_same(&a, &b);
    assert_int_equal(decode_path(multi, &b), 0);
    ut_assert_same(&a, &b);
    const char *each[] = {plain, gz, multi}; /* the same bytes in memory */
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(decode_bytes_of(each[i], &b), 0);
        ut_assert_same(&a, &b);
    }
    free(text);
    ut_sink_free(&a);
    ut_sink_free(&b);
    ut_tmpdir_remove(dir);
}

static void test_file_json_gzip(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "a.json.gz");
    const char *text = "[" OBJ ",\n" OBJ "]\n";
    ut_write_gzip(path, text, strlen(text), 2);
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(decode_path(path, &s), 0);
    assert_int_equal(s.nrec, 2);
    assert_int_equal(s.stats.format, SF_FORMAT_JSON);
    ut_sink_free(&s);
    ut_tmpdir_remove(dir);
}

static void test_file_truncated_gzip(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "t.csv.gz");
    size_t len;
    char *text = csv_rows(5000, &len);
    ut_write_gzip(path, text, len, 1);
    assert_int_equal(truncate(path, 4000), 0);
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(decode_path(path, &s), SF_EIO);
    assert_int_equal(s.err.code, SF_EIO);
    char want[UT_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: unexpected end of file", path);
    assert_string_equal(s.err.msg, want);
    assert_true(s.nrec > 0); /* the rows before the cut were decoded */
    assert_true(s.nrec < 5000);
    assert_int_equal(s.stats.records, s.nrec + s.nerr);
    size_t before = s.nrec; /* the same bytes in memory: the same rows, the same error */
    assert_int_equal(decode_bytes_of(path, &s), SF_EIO);
    assert_string_equal(s.err.msg, "obj: unexpected end of file");
    assert_int_equal(s.nrec, before);
    ut_write_gzip(path, text, len, 1); /* damaged inside, in memory */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 2000), 8);
    close(fd);
    assert_int_equal(decode_bytes_of(path, &s), SF_EIO);
    assert_non_null(strstr(s.err.msg, "obj: "));
    free(text);
    ut_sink_free(&s);
    ut_tmpdir_remove(dir);
}

static void test_file_missing(void **state)
{
    (void)state;
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(decode_path("/nonexistent/shopflow/x.csv", &s), SF_ENOENT);
    assert_non_null(strstr(s.err.msg, "/nonexistent/shopflow/x.csv"));
    assert_int_equal(s.n, 0);
    assert_int_equal(decode_path("/tmp", &s), SF_EIO);
    assert_string_equal(s.err.msg, "/tmp: is a directory");
    ut_sink_free(&s);
}

static void test_file_fatal_error_names_path(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "nocol.csv");
    const char *text = "InvoiceNo,StockCode,Quantity,InvoiceDate,Country\n1,2,3,4,5\n";
    ut_write_file(path, text, strlen(text));
    ut_sink s;
    ut_sink_init(&s);
    assert_int_equal(decode_path(path, &s), SF_EFORMAT);
    char want[UT_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:line 1: header has no UnitPrice column", path);
    assert_string_equal(s.err.msg, want);
    ut_join(path, dir, "empty.csv");
    ut_write_file(path, "", 0);
    assert_int_equal(decode_path(path, &s), SF_EFORMAT);
    snprintf(want, sizeof want, "%s:line 1: the input is empty: there is no header line", path);
    assert_string_equal(s.err.msg, want);
    ut_sink_free(&s);
    ut_tmpdir_remove(dir);
}

static void test_file_sink_stops(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "a.csv.gz");
    size_t len;
    char *text = csv_rows(3000, &len);
    ut_write_gzip(path, text, len, 1);
    ut_sink s;
    ut_sink_init(&s);
    s.stop_at = 1234;
    assert_int_equal(decode_path(path, &s), SF_ESTOPPED);
    assert_int_equal(s.calls, 1234);
    assert_false(s.called_after_stop);
    assert_int_equal(s.stats.records, 1234);
    free(text);
    ut_sink_free(&s);
    ut_tmpdir_remove(dir);
}

static void test_error_format_in_file(void **state)
{
    (void)state;
    sf_decode_error e = {{12, 10}, SF_FIELD_QUANTITY, "\"abc\" is not an integer", false, false};
    char buf[128];
    sf_decode_error_format_in(&e, "data.csv", buf, sizeof buf);
    assert_string_equal(buf, "data.csv:12: Quantity: \"abc\" is not an integer");
    e.by_index = true;
    e.field = SF_FIELD_NONE;
    sf_decode_error_format_in(&e, "rows.json", buf, sizeof buf);
    assert_string_equal(buf, "rows.json: record 10: \"abc\" is not an integer");
}

/* One input through d: feed all, finish; returns what finish returned. */
static int decode_once(sf_decoder *d, const char *text, sf_error *err)
{
    int rc = sf_decoder_feed(d, text, strlen(text), err);
    return rc < 0 ? rc : sf_decoder_finish(d, err);
}

/* A recording sink and a decoder calling it, for the reset tests. */
typedef struct fixture {
    ut_sink s;
    sf_decode_sink k;
    sf_decoder *d;
} fixture;

static void fixture_open(fixture *f, const sf_decode_opts *opts)
{
    ut_sink_init(&f->s);
    f->k = ut_sink_callbacks(&f->s);
    assert_int_equal(sf_decoder_new(opts, &f->k, &f->d, NULL), 0);
}

static void fixture_close(fixture *f)
{
    sf_decoder_free(f->d);
    ut_sink_free(&f->s);
}

static void test_reset_after_fatal_error(void **state)
{
    (void)state;
    sf_decode_opts json = {.format = SF_FORMAT_JSON};
    fixture f;
    fixture_open(&f, &json);
    sf_error err;
    assert_int_equal(decode_once(f.d, "[" OBJ ",{\"invoice_no\":", &err), SF_EFORMAT);
    assert_int_equal(f.s.nrec, 1);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(sf_decoder_reset(f.d, &json, &f.k, &err), 0);
        sf_decode_stats st;
        sf_decoder_stats(f.d, &st);
        assert_int_equal(st.records, 0);
        assert_int_equal(st.format, SF_FORMAT_AUTO);
        /* Positions start again: the record is line 2, index 0, named by line. */
        assert_int_equal(decode_once(f.d, "\n" OBJ "\n", &err), 0);
        const ut_event *e = ut_rec_event(&f.s, f.s.nrec - 1);
        assert_int_equal(e->pos.line, 2);
        assert_int_equal(e->pos.index, 0);
        sf_decoder_stats(f.d, &st);
        assert_int_equal(st.records, 1);
        assert_int_equal(st.lines, 2);
        assert_int_equal(st.format, SF_FORMAT_JSON);
    }
    assert_int_equal(f.s.nrec, 4);
    fixture_close(&f);
}

static void test_reset_after_stop_to_another_sink(void **state)
{
    (void)state;
    fixture f, f2;
    fixture_open(&f, NULL);
    fixture_open(&f2, NULL);
    f.s.stop_at = 1;
    sf_error err;
    assert_int_equal(decode_once(f.d, OBJ OBJ, &err), SF_ESTOPPED);
    /* The reset decoder calls the sink it is given now. */
    assert_int_equal(sf_decoder_reset(f.d, NULL, &f2.k, &err), 0);
    assert_int_equal(decode_once(f.d, OBJ OBJ, &err), 0);
    assert_int_equal(f.s.nrec, 1);
    assert_int_equal(f2.s.nrec, 2);
    fixture_close(&f);
    fixture_close(&f2);
}

/* A decoder reset from JSON to CSV and back decodes each as a new one. */
static void test_reset_across_formats(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f, NULL);
    sf_error err;
    assert_int_equal(decode_once(f.d, "[" OBJ "," OBJ "]", &err), 0);
    sf_decode_opts csv = {.format = SF_FORMAT_CSV};
    assert_int_equal(sf_decoder_reset(f.d, &csv, &f.k, &err), 0);
    assert_int_equal(decode_once(f.d, UT_HEADER ROW ROW ROW, &err), 0);
    sf_decode_stats st;
    sf_decoder_stats(f.d, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.format, SF_FORMAT_CSV);
    assert_int_equal(sf_decoder_reset(f.d, NULL, &f.k, &err), 0);
    assert_int_equal(decode_once(f.d, "[" OBJ "]", &err), 0);
    sf_decoder_stats(f.d, &st);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.format, SF_FORMAT_JSON);
    assert_int_equal(ut_rec_event(&f.s, f.s.nrec - 1)->pos.index, 0);
    assert_int_equal(f.s.nrec, 6);
    assert_int_equal(f.s.nerr, 0);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_error_format_truncates_like_snprintf),
        cmocka_unit_test(test_sniffing),
        cmocka_unit_test(test_long_blank_prefix_is_csv),
        cmocka_unit_test(test_bom_csv_and_json),
        cmocka_unit_test(test_only_a_bom_is_empty),
        cmocka_unit_test(test_explicit_format_wins),
        cmocka_unit_test(test_encoding_reaches_csv),
        cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_stop_is_sticky),
        cmocka_unit_test(test_stats_before_any_input),
        cmocka_unit_test(test_reset_after_fatal_error),
        cmocka_unit_test(test_reset_after_stop_to_another_sink),
        cmocka_unit_test(test_reset_across_formats),
        cmocka_unit_test(test_null_on_error_only_counts),
        cmocka_unit_test(test_file_plain_gzip_multimember_same),
        cmocka_unit_test(test_file_json_gzip),
        cmocka_unit_test(test_file_truncated_gzip),
        cmocka_unit_test(test_file_missing),
        cmocka_unit_test(test_file_fatal_error_names_path),
        cmocka_unit_test(test_file_sink_stops),
        cmocka_unit_test(test_error_format_in_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
