/*
 * test_error.c - error.h: sf_error_set / prefix / clear (NULL-safe,
 * truncation) and sf_strerror for every code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/error.h"

static void test_set_formats_and_returns_code(void **state)
{
    (void)state;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_error_set(&err, SF_EINVAL, "line %d: %s", 12, "bad"), SF_EINVAL);
    assert_int_equal(err.code, SF_EINVAL);
    assert_string_equal(err.msg, "line 12: bad");
}

static void test_set_null_is_safe(void **state)
{
    (void)state;
    assert_int_equal(sf_error_set(NULL, SF_EIO, "x"), SF_EIO);
    sf_error_clear(NULL);
    assert_int_equal(sf_error_prefix(NULL, "p"), SF_EINVAL);
}

static void test_set_truncates_long_message(void **state)
{
    (void)state;
    char big[2 * SF_ERROR_MSG_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sf_error err;
    sf_error_set(&err, SF_EIO, "%s", big);
    assert_int_equal(strlen(err.msg), SF_ERROR_MSG_MAX - 1);
}

static void test_prefix(void **state)
{
    (void)state;
    sf_error err;
    sf_error_set(&err, SF_EFORMAT, "line 3: bad");
    assert_int_equal(sf_error_prefix(&err, "%s: ", "data.csv"), SF_EFORMAT);
    assert_string_equal(err.msg, "data.csv: line 3: bad");
    assert_int_equal(err.code, SF_EFORMAT);
}

static void test_prefix_keeps_within_buffer(void **state)
{
    (void)state;
    char big[SF_ERROR_MSG_MAX];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sf_error err;
    sf_error_set(&err, SF_EIO, "%s", big);
    sf_error_prefix(&err, "file: ");
    assert_int_equal(strlen(err.msg), SF_ERROR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "file: yyy", 9);
}

static void test_clear(void **state)
{
    (void)state;
    sf_error err;
    sf_error_set(&err, SF_ENOMEM, "oom");
    sf_error_clear(&err);
    assert_int_equal(err.code, SF_OK);
    assert_string_equal(err.msg, "");
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(sf_strerror(SF_OK), "success");
    assert_string_equal(sf_strerror(SF_EINVAL), "invalid input");
    assert_string_equal(sf_strerror(SF_ENOMEM), "out of memory");
    assert_string_equal(sf_strerror(SF_EIO), "input/output error");
    assert_string_equal(sf_strerror(SF_ENOENT), "not found");
    assert_string_equal(sf_strerror(SF_ERANGE), "out of range");
    assert_string_equal(sf_strerror(SF_EFORMAT), "malformed input");
    assert_string_equal(sf_strerror(SF_ESTOPPED), "stopped");
    assert_string_equal(sf_strerror(SF_EUSAGE), "usage error");
    assert_string_equal(sf_strerror(SF_ECORRUPT), "corrupt data");
    assert_string_equal(sf_strerror(SF_EBUSY), "busy");
    assert_string_equal(sf_strerror(SF_EFAILED), "failed earlier");
    assert_string_equal(sf_strerror(SF_EPERM), "not permitted");
    assert_string_equal(sf_strerror(SF_ESTALE), "stale position");
    assert_string_equal(sf_strerror(-99), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_formats_and_returns_code),
        cmocka_unit_test(test_set_null_is_safe),
        cmocka_unit_test(test_set_truncates_long_message),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_prefix_keeps_within_buffer),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
