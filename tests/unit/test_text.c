/*
 * test_text.c - text.h: encoding names, UTF-8 validation (overlongs,
 * surrogates, truncated and out-of-range sequences) and sf_text_copy under
 * the three policies: '£' as UTF-8 C2 A3 and as Latin-1 A3, NUL bytes,
 * length limits, bytes kept exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/text.h"

static void test_encoding_parse(void **state)
{
    (void)state;
    sf_encoding e = SF_ENC_LATIN1;
    assert_int_equal(sf_encoding_parse("auto", &e), 0);
    assert_int_equal(e, SF_ENC_AUTO);
    assert_int_equal(sf_encoding_parse("utf-8", &e), 0);
    assert_int_equal(e, SF_ENC_UTF8);
    assert_int_equal(sf_encoding_parse("UTF8", &e), 0);
    assert_int_equal(e, SF_ENC_UTF8);
    assert_int_equal(sf_encoding_parse("latin1", &e), 0);
    assert_int_equal(e, SF_ENC_LATIN1);
    e = SF_ENC_AUTO;
    assert_int_equal(sf_encoding_parse("ISO-8859-1", &e), 0);
    assert_int_equal(e, SF_ENC_LATIN1);
    assert_int_equal(sf_encoding_parse("cp1252", &e), -1);
    assert_int_equal(sf_encoding_parse("", &e), -1);
    assert_int_equal(e, SF_ENC_LATIN1);
}

static bool valid(const char *s)
{
    return sf_utf8_valid(s, strlen(s));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(valid(""));
    assert_true(valid("plain ASCII"));
    assert_true(valid("\xC2\xA3"));         /* £ */
    assert_true(valid("caf\xC3\xA9"));      /* café */
    assert_true(valid("\xE2\x82\xAC"));     /* € */
    assert_true(valid("\xF0\x9F\x8E\x81")); /* 🎁 */
    assert_true(valid("\xF4\x8F\xBF\xBF")); /* U+10FFFF */
    assert_true(valid("\xED\x9F\xBF"));     /* U+D7FF */
    assert_true(sf_utf8_valid("a\0b", 3));  /* NUL is valid UTF-8 */
}

static void test_utf8_invalid(void **state)
{
    (void)state;
    assert_false(valid("\xA3")); /* Latin-1 £ */
    assert_false(valid("\xA3"
                       "5.00"));
    assert_false(valid("\xC0\x80"));         /* overlong NUL */
    assert_false(valid("\xC1\xBF"));         /* overlong */
    assert_false(valid("\xE0\x80\x80"));     /* overlong 3-byte */
    assert_false(valid("\xF0\x80\x80\x80")); /* overlong 4-byte */
    assert_false(valid("\xED\xA0\x80"));     /* surrogate U+D800 */
    assert_false(valid("\xED\xBF\xBF"));     /* surrogate U+DFFF */
    assert_false(valid("\xF4\x90\x80\x80")); /* above U+10FFFF */
    assert_false(valid("\xF5\x80\x80\x80"));
    assert_false(valid("\xFF"));
    assert_false(valid("\x80"));         /* lone continuation */
    assert_false(valid("\xC2"));         /* truncated */
    assert_false(valid("\xE2\x82"));     /* truncated */
    assert_false(valid("\xF0\x9F\x8E")); /* truncated */
    assert_false(valid("\xC2"
                       "A")); /* bad continuation */
    assert_false(valid("\xE2\x82"
                       "A"));
}

/* Copy under enc into a buffer of cap; returns the length or -1. */
static int copy(const char *src, size_t len, sf_encoding enc, size_t cap, char *dst,
                const char **why)
{
    *why = NULL;
    memset(dst, 'Z', cap + 1);
    return sf_text_copy(dst, cap, src, len, enc, why);
}

static void test_pound_both_encodings_auto(void **state)
{
    (void)state;
    char dst[33];
    const char *why;
    assert_int_equal(copy("\xC2\xA3"
                          "5",
                          3, SF_ENC_AUTO, 32, dst, &why),
                     3);
    assert_string_equal(dst, "\xC2\xA3"
                             "5");
    assert_int_equal(copy("\xA3"
                          "5",
                          2, SF_ENC_AUTO, 32, dst, &why),
                     3);
    assert_string_equal(dst, "\xC2\xA3"
                             "5");
}

static void test_pound_utf8_policy(void **state)
{
    (void)state;
    char dst[33];
    const char *why;
    assert_int_equal(copy("\xC2\xA3", 2, SF_ENC_UTF8, 32, dst, &why), 2);
    assert_string_equal(dst, "\xC2\xA3");
    assert_int_equal(copy("\xA3", 1, SF_ENC_UTF8, 32, dst, &why), -1);
    assert_string_equal(why, "is not valid UTF-8");
}

static void test_latin1_policy(void **state)
{
    (void)state;
    char dst[33];
    const char *why;
    assert_int_equal(copy("\xA3", 1, SF_ENC_LATIN1, 32, dst, &why), 2);
    assert_string_equal(dst, "\xC2\xA3");
    /* Forced Latin-1 reads UTF-8 '£' as two characters "Â£". */
    assert_int_equal(copy("\xC2\xA3", 2, SF_ENC_LATIN1, 32, dst, &why), 4);
    assert_string_equal(dst, "\xC3\x82\xC2\xA3");
    assert_int_equal(copy("caf\xE9", 4, SF_ENC_LATIN1, 32, dst, &why), 5);
    assert_string_equal(dst, "caf\xC3\xA9");
    assert_int_equal(copy("\xFF", 1, SF_ENC_LATIN1, 32, dst, &why), 2);
    assert_string_equal(dst, "\xC3\xBF");
}

static void test_mixed_field_auto_is_latin1(void **state)
{
    (void)state;
    /* A field with one invalid sequence is read entirely as Latin-1. */
    char dst[33];
    const char *why;
    assert_int_equal(copy("\xC2\xA3\xA3", 3, SF_ENC_AUTO, 32, dst, &why), 6);
    assert_string_equal(dst, "\xC3\x82\xC2\xA3\xC2\xA3");
}

static void test_bytes_kept_exactly(void **state)
{
    (void)state;
    char dst[65];
    const char *why;
    const char *s = "  WHITE HANGING HEART  \t";
    for (int e = SF_ENC_AUTO; e <= SF_ENC_LATIN1; e++) {
        assert_int_equal(copy(s, strlen(s), (sf_encoding)e, 64, dst, &why), (int)strlen(s));
        assert_string_equal(dst, s);
    }
    assert_int_equal(copy("", 0, SF_ENC_AUTO, 64, dst, &why), 0);
    assert_string_equal(dst, "");
    assert_int_equal(copy("abc", 2, SF_ENC_UTF8, 64, dst, &why), 2);
    assert_string_equal(dst, "ab");
}

static void test_nul_refused(void **state)
{
    (void)state;
    char dst[33];
    const char *why;
    for (int e = SF_ENC_AUTO; e <= SF_ENC_LATIN1; e++) {
        assert_int_equal(copy("a\0b", 3, (sf_encoding)e, 32, dst, &why), -1);
        assert_string_equal(why, "contains a NUL byte");
    }
}

static void test_length_limits(void **state)
{
    (void)state;
    char dst[5];
    const char *why;
    assert_int_equal(copy("abcd", 4, SF_ENC_AUTO, 4, dst, &why), 4);
    assert_string_equal(dst, "abcd");
    assert_int_equal(copy("abcde", 5, SF_ENC_AUTO, 4, dst, &why), -1);
    assert_string_equal(why, "is too long");
    /* The limit is in UTF-8 bytes: three Latin-1 bytes become six. */
    assert_int_equal(copy("ab\xA3", 3, SF_ENC_AUTO, 4, dst, &why), 4);
    assert_string_equal(dst, "ab\xC2\xA3");
    assert_int_equal(copy("abc\xA3", 4, SF_ENC_LATIN1, 4, dst, &why), -1);
    assert_string_equal(why, "is too long");
    assert_int_equal(copy("abc\xC2\xA3", 5, SF_ENC_UTF8, 4, dst, &why), -1);
    assert_string_equal(why, "is too long");
}

static void test_null_why_is_allowed(void **state)
{
    (void)state;
    char dst[8];
    assert_int_equal(sf_text_copy(dst, 7, "a\0", 2, SF_ENC_AUTO, NULL), -1);
    assert_int_equal(sf_text_copy(dst, 7, "\xA3", 1, SF_ENC_UTF8, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_parse),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_pound_both_encodings_auto),
        cmocka_unit_test(test_pound_utf8_policy),
        cmocka_unit_test(test_latin1_policy),
        cmocka_unit_test(test_mixed_field_auto_is_latin1),
        cmocka_unit_test(test_bytes_kept_exactly),
        cmocka_unit_test(test_nul_refused),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_null_why_is_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
