/*
 * test_buf.c - buf.h: appends across growth, printf longer than the stack
 * buffer, JSON strings with escapes, exact money, reset and take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void test_growth(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        sf_buf_add(&b, "ab", 2);
    assert_false(sf_buf_failed(&b));
    assert_int_equal(b.len, 20000);
    assert_int_equal(strlen(b.data), 20000);
    assert_memory_equal(b.data + 19998, "ab", 3);
    sf_buf_free(&b);
    assert_null(b.data);
}

static void test_printf_long(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sf_buf_printf(&b, "%d:", 42);
    sf_buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 3 + 2 + 999);
    assert_memory_equal(b.data, "42:[x", 5);
    assert_int_equal(b.data[b.len - 1], ']');
    sf_buf_free(&b);
}

static void test_json(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    sf_buf_json_string(&b, "a\"b\\c\n\x01", 7);
    sf_buf_puts(&b, ",");
    sf_buf_json_milli(&b, 139120);
    sf_buf_puts(&b, ",");
    sf_buf_json_milli(&b, -500);
    sf_buf_puts(&b, ",");
    sf_buf_json_milli(&b, 9747747934LL);
    assert_string_equal(b.data,
                        "\"a\\\"b\\\\c\\u000a\\u0001\",\"139.12\",\"-0.50\",\"9747747.934\"");
    sf_buf_free(&b);
}

static void test_reset_take(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    size_t len = 99;
    assert_null(sf_buf_take(&b, &len));
    assert_int_equal(len, 0);
    sf_buf_puts(&b, "hello");
    sf_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    sf_buf_puts(&b, "hi");
    char *p = sf_buf_take(&b, &len);
    assert_string_equal(p, "hi");
    assert_int_equal(len, 2);
    assert_null(b.data);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_printf_long),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_reset_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
