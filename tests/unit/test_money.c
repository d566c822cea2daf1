/*
 * test_money.c - money.h: sf_parse_scaled (signs, scales, exponents, spaces,
 * INT64 limits, precision and range errors), sf_format_milli /
 * sf_format_count (decimals, signs, thousands separators), and the 128-bit
 * totals: sf_parse_i128 and the formats round trip at the extremes,
 * sf_i128_cmp, and the stored form (hi, lo) that sorts as the values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/money.h"

/* Parse s at scale over the whole int64 range. */
static sf_num_status parse(const char *s, int scale, int64_t *out)
{
    return sf_parse_scaled(s, strlen(s), scale, INT64_MIN, INT64_MAX, out);
}

static void assert_parses(const char *s, int scale, int64_t want)
{
    int64_t v = INT64_C(0x5A5A5A5A);
    if (parse(s, scale, &v) != SF_NUM_OK)
        fail_msg("\"%s\" at scale %d did not parse", s, scale);
    if (v != want)
        fail_msg("\"%s\" at scale %d gave %lld, want %lld", s, scale, (long long)v,
                 (long long)want);
}

static void assert_refused(const char *s, int scale, sf_num_status want)
{
    int64_t v = 77;
    sf_num_status st = parse(s, scale, &v);
    if (st != want)
        fail_msg("\"%s\" at scale %d gave status %d, want %d", s, scale, st, want);
    assert_int_equal(v, 77); /* *out untouched on failure */
}

static void test_prices(void **state)
{
    (void)state;
    assert_parses("2.55", 3, 2550);
    assert_parses("-11062.06", 3, -11062060);
    assert_parses("0", 3, 0);
    assert_parses("0.001", 3, 1);
    assert_parses("38970", 3, 38970000);
    assert_parses("2.5500", 3, 2550);
    assert_parses("+4.5", 3, 4500);
}

static void test_integers(void **state)
{
    (void)state;
    assert_parses("17850", 0, 17850);
    assert_parses("17850.0", 0, 17850);
    assert_parses("17850.000", 0, 17850);
    assert_parses("-6", 0, -6);
    assert_parses("007", 0, 7);
    assert_refused("17850.5", 0, SF_NUM_PRECISION);
}

static void test_minus_zero_and_partial_decimals(void **state)
{
    (void)state;
    assert_parses("-0", 3, 0);
    assert_parses("-0.000", 3, 0);
    assert_parses(".5", 3, 500);
    assert_parses("5.", 3, 5000);
    assert_parses("-.5", 3, -500);
}

static void test_spaces(void **state)
{
    (void)state;
    assert_parses("  2.55", 3, 2550);
    assert_parses("2.55  ", 3, 2550);
    assert_parses("\t-1\t", 0, -1);
    assert_refused("2 .55", 3, SF_NUM_SYNTAX);
    assert_refused("- 2", 0, SF_NUM_SYNTAX);
    assert_refused("   ", 0, SF_NUM_SYNTAX);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_refused("", 0, SF_NUM_SYNTAX);
    assert_refused("+", 0, SF_NUM_SYNTAX);
    assert_refused("-", 0, SF_NUM_SYNTAX);
    assert_refused(".", 3, SF_NUM_SYNTAX);
    assert_refused("abc", 0, SF_NUM_SYNTAX);
    assert_refused("1,000", 0, SF_NUM_SYNTAX);
    assert_refused("1.2.3", 3, SF_NUM_SYNTAX);
    assert_refused("--1", 0, SF_NUM_SYNTAX);
    assert_refused("0x10", 0, SF_NUM_SYNTAX);
    assert_refused("1e", 0, SF_NUM_SYNTAX);
    assert_refused("1e+", 0, SF_NUM_SYNTAX);
    assert_refused("e5", 0, SF_NUM_SYNTAX);
    assert_refused("1e5x", 0, SF_NUM_SYNTAX);
    assert_refused("NaN", 3, SF_NUM_SYNTAX);
}

static void test_exponents(void **state)
{
    (void)state;
    assert_parses("1.5e2", 0, 150);
    assert_parses("1.5E2", 0, 150);
    assert_parses("1.5e+2", 3, 150000);
    assert_parses("255e-2", 3, 2550);
    assert_parses("2.55e-1", 3, 255);
    assert_parses("2.55e-3", 5, 255);
    assert_refused("2.55e-4", 3, SF_NUM_PRECISION);
    assert_parses("1e18", 0, INT64_C(1000000000000000000));
    assert_parses("0e999", 3, 0);
    assert_parses("0.0e-999", 3, 0);
    assert_parses("1.291191960000e12", 0, INT64_C(1291191960000));
}

static void test_exponent_range(void **state)
{
    (void)state;
    assert_refused("1e999", 3, SF_NUM_RANGE);
    assert_refused("1e19", 0, SF_NUM_RANGE);
    assert_refused("-1e999999999999", 0, SF_NUM_RANGE);
    assert_refused("1e-999", 3, SF_NUM_PRECISION);
    assert_refused("1e-99999999999999", 0, SF_NUM_PRECISION);
}

static void test_precision(void **state)
{
    (void)state;
    assert_refused("2.5501", 3, SF_NUM_PRECISION);
    assert_refused("0.0001", 3, SF_NUM_PRECISION);
    assert_refused("-11062.0605", 3, SF_NUM_PRECISION);
    assert_parses("0.0010", 3, 1);
}

static void test_int64_limits(void **state)
{
    (void)state;
    assert_parses("9223372036854775807", 0, INT64_MAX);
    assert_parses("-9223372036854775808", 0, INT64_MIN);
    assert_parses("9223372036854775.807", 3, INT64_MAX);
    assert_parses("-9223372036854775.808", 3, INT64_MIN);
    assert_refused("9223372036854775808", 0, SF_NUM_RANGE);
    assert_refused("-9223372036854775809", 0, SF_NUM_RANGE);
    assert_refused("9223372036854775.808", 3, SF_NUM_RANGE);
    assert_refused("99999999999999999999999", 0, SF_NUM_RANGE);
    assert_parses("000000000000000000000000000001", 0, 1);
}

static void test_min_max_bounds(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(sf_parse_scaled("2147483647", 10, 0, INT32_MIN, INT32_MAX, &v), SF_NUM_OK);
    assert_int_equal(v, INT32_MAX);
    assert_int_equal(sf_parse_scaled("2147483648", 10, 0, INT32_MIN, INT32_MAX, &v), SF_NUM_RANGE);
    assert_int_equal(sf_parse_scaled("-2147483649", 11, 0, INT32_MIN, INT32_MAX, &v), SF_NUM_RANGE);
    assert_int_equal(sf_parse_scaled("5", 1, 0, 6, 10, &v), SF_NUM_RANGE);
}

static void test_length_not_nul(void **state)
{
    (void)state;
    int64_t v = 0;
    /* Only len bytes count: "2.559" cut to "2.55". */
    assert_int_equal(sf_parse_scaled("2.559", 4, 3, INT64_MIN, INT64_MAX, &v), SF_NUM_OK);
    assert_int_equal(v, 2550);
    assert_int_equal(sf_parse_scaled("12abc", 2, 0, INT64_MIN, INT64_MAX, &v), SF_NUM_OK);
    assert_int_equal(v, 12);
}

static void assert_milli(int64_t milli, bool thousands, const char *want)
{
    char buf[SF_MONEY_TEXT_MAX];
    memset(buf, 'Z', sizeof buf);
    size_t n = sf_format_milli(milli, thousands, buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_milli(void **state)
{
    (void)state;
    assert_milli(2550, false, "2.55");
    assert_milli(9747747934, false, "9747747.934");
    assert_milli(-500, false, "-0.50");
    assert_milli(0, false, "0.00");
    assert_milli(1, false, "0.001");
    assert_milli(-5, false, "-0.005");
    assert_milli(10, false, "0.01");
    assert_milli(-11062060, false, "-11062.06");
    assert_milli(1000, false, "1.00");
}

static void test_format_milli_thousands(void **state)
{
    (void)state;
    assert_milli(9747747934, true, "9,747,747.934");
    assert_milli(999999, true, "999.999");
    assert_milli(1000000, true, "1,000.00");
    assert_milli(-1234567890, true, "-1,234,567.89");
    assert_milli(0, true, "0.00");
    assert_milli(INT64_MAX, true, "9,223,372,036,854,775.807");
    assert_milli(INT64_MIN, true, "-9,223,372,036,854,775.808");
}

static void test_format_round_trip(void **state)
{
    (void)state;
    const int64_t values[] = {0, 1, -1, 2550, -11062060, 999, 1000, 123456789, INT64_MIN};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[SF_MONEY_TEXT_MAX];
        size_t n = sf_format_milli(values[i], false, buf);
        int64_t back = 0;
        assert_int_equal(sf_parse_scaled(buf, n, 3, INT64_MIN, INT64_MAX, &back), SF_NUM_OK);
        assert_int_equal(back, values[i]);
    }
}

static void assert_count(int64_t v, const char *want)
{
    char buf[SF_MONEY_TEXT_MAX];
    size_t n = sf_format_count(v, buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_count(void **state)
{
    (void)state;
    assert_count(541909, "541,909");
    assert_count(0, "0");
    assert_count(999, "999");
    assert_count(1000, "1,000");
    assert_count(-1000, "-1,000");
    assert_count(INT64_MIN, "-9,223,372,036,854,775,808");
}

/* ---- 128-bit totals ---------------------------------------------------- */

static void assert_i128_text(sf_i128 v, const char *milli, const char *count)
{
    char buf[SF_MONEY_TEXT_MAX];
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(sf_format_milli(v, false, buf), strlen(milli));
    assert_string_equal(buf, milli);
    assert_int_equal(sf_format_count(v, buf), strlen(count));
    assert_string_equal(buf, count);
}

static void test_i128_format_extremes(void **state)
{
    (void)state;
    assert_i128_text(SF_I128_MAX, "170141183460469231731687303715884105.727",
                     "170,141,183,460,469,231,731,687,303,715,884,105,727");
    assert_i128_text(SF_I128_MIN, "-170141183460469231731687303715884105.728",
                     "-170,141,183,460,469,231,731,687,303,715,884,105,728");
    /* Around 2^64, where the formatter leaves 64-bit arithmetic. */
    sf_i128 two64 = (sf_i128)UINT64_MAX + 1;
    assert_i128_text(two64 - 1, "18446744073709551.615", "18,446,744,073,709,551,615");
    assert_i128_text(two64, "18446744073709551.616", "18,446,744,073,709,551,616");
    assert_i128_text(-two64, "-18446744073709551.616", "-18,446,744,073,709,551,616");
    /* 10^19 and 10^19 - 1: the chunk boundary of the digits. */
    sf_i128 e19 = (sf_i128)UINT64_C(10000000000000000000);
    assert_i128_text(e19 * e19, "100000000000000000000000000000000000.00",
                     "100,000,000,000,000,000,000,000,000,000,000,000,000");
    assert_i128_text(e19 * e19 - 1, "99999999999999999999999999999999999.999",
                     "99,999,999,999,999,999,999,999,999,999,999,999,999");
    /* Issue 15's invoice: 10,000 lines of 1,000,000 x 999,999 pounds. */
    assert_i128_text((sf_i128)10000 * INT64_C(999999000000000), "9999990000000000.00",
                     "9,999,990,000,000,000,000");
    char buf[SF_MONEY_TEXT_MAX];
    sf_format_milli(SF_I128_MIN, true, buf);
    assert_string_equal(buf, "-170,141,183,460,469,231,731,687,303,715,884,105.728");
    assert_true(strlen(buf) < SF_MONEY_TEXT_MAX);
    assert_int_equal(sf_format_i128(SF_I128_MIN, buf), 40);
    assert_string_equal(buf, "-170141183460469231731687303715884105728");
    assert_int_equal(sf_format_i128(-7, buf), 2);
    assert_string_equal(buf, "-7");
}

static void test_i128_parse_round_trip(void **state)
{
    (void)state;
    sf_i128 two64 = (sf_i128)UINT64_MAX + 1;
    const sf_i128 values[] = {0,
                              1,
                              -1,
                              2550,
                              -11062060,
                              INT64_MAX,
                              INT64_MIN,
                              two64,
                              -two64,
                              two64 * 1000 + 7,
                              SF_I128_MAX,
                              SF_I128_MIN,
                              SF_I128_MAX - 1,
                              SF_I128_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[SF_MONEY_TEXT_MAX];
        size_t n = sf_format_milli(values[i], false, buf);
        sf_i128 back = 1;
        assert_int_equal(sf_parse_i128(buf, n, 3, &back), SF_NUM_OK);
        assert_true(back == values[i]);
        n = sf_format_i128(values[i], buf);
        back = 1;
        assert_int_equal(sf_parse_i128(buf, n, 0, &back), SF_NUM_OK);
        assert_true(back == values[i]);
    }
}

static void test_i128_parse(void **state)
{
    (void)state;
    sf_i128 v = 5;
    const char *max = "170141183460469231731687303715884105727";
    assert_int_equal(sf_parse_i128(max, strlen(max), 0, &v), SF_NUM_OK);
    assert_true(v == SF_I128_MAX);
    assert_int_equal(sf_parse_i128("1.71e38", 7, 0, &v), SF_NUM_RANGE);
    assert_int_equal(sf_parse_i128("170141183460469231731687303715884105728", 39, 0, &v),
                     SF_NUM_RANGE);
    assert_int_equal(sf_parse_i128("-170141183460469231731687303715884105728", 40, 0, &v),
                     SF_NUM_OK);
    assert_true(v == SF_I128_MIN);
    assert_int_equal(sf_parse_i128("-170141183460469231731687303715884105729", 40, 0, &v),
                     SF_NUM_RANGE);
    assert_int_equal(sf_parse_i128("2.5501", 6, 3, &v), SF_NUM_PRECISION);
    assert_int_equal(sf_parse_i128("abc", 3, 3, &v), SF_NUM_SYNTAX);
    assert_true(v == SF_I128_MIN); /* untouched on failure */
    assert_int_equal(sf_parse_i128(" -2.55e3 ", 9, 3, &v), SF_NUM_OK);
    assert_true(v == -2550000);
    assert_int_equal(sf_parse_i128("1e30", 4, 3, &v), SF_NUM_OK);
    assert_true(v == (sf_i128)1000000000000000 * 1000000000000000 * 1000);
}

static void test_i128_cmp(void **state)
{
    (void)state;
    sf_i128 two64 = (sf_i128)UINT64_MAX + 1;
    assert_int_equal(sf_i128_cmp(1, 2), -1);
    assert_int_equal(sf_i128_cmp(2, 1), 1);
    assert_int_equal(sf_i128_cmp(two64, two64), 0);
    assert_int_equal(sf_i128_cmp(two64, INT64_MAX), 1);
    assert_int_equal(sf_i128_cmp(-two64, INT64_MIN), -1);
    assert_int_equal(sf_i128_cmp(SF_I128_MIN, SF_I128_MAX), -1);
    assert_true(sf_i128_is_int64(INT64_MIN) && sf_i128_is_int64(INT64_MAX));
    assert_false(sf_i128_is_int64((sf_i128)INT64_MAX + 1) || sf_i128_is_int64(-two64));
}

/* (hi, lo) compared as an index on (hi, lo) compares them. */
static int cmp_stored(const void *a, const void *b)
{
    int64_t ha, la, hb, lb;
    sf_i128_split(*(const sf_i128 *)a, &ha, &la);
    sf_i128_split(*(const sf_i128 *)b, &hb, &lb);
    return ha != hb ? (ha > hb) - (ha < hb) : (la > lb) - (la < lb);
}

static void test_i128_stored_form(void **state)
{
    (void)state;
    const sf_i128 e18 = SF_I128_SPLIT;
    /* Every total of a schema before 128 bits is (0, itself). */
    const int64_t old[] = {0, 1, -1, INT64_MAX / 10, -(INT64_MAX / 10), e18 - 1, -(e18 - 1)};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        int64_t hi = 7, lo = 7;
        sf_i128_split(old[i], &hi, &lo);
        assert_int_equal(hi, 0);
        assert_int_equal(lo, old[i]);
    }
    /* Values around 0 and each multiple of 10^18, and far out: in a
     * shuffled order, sorted by their stored form, they come out in order,
     * and each joins back to itself. */
    sf_i128 v[] = {e18 * 3 + 1,
                   -e18,
                   e18,
                   -1,
                   0,
                   e18 - 1,
                   -e18 + 1,
                   e18 + 1,
                   -e18 - 1,
                   INT64_MAX,
                   INT64_MIN,
                   1,
                   e18 * e18,
                   -e18 * e18,
                   e18 * 2 - 1,
                   -e18 * 2 + 1,
                   e18 * 2,
                   -(e18 * 2),
                   (sf_i128)INT64_MAX * e18,
                   (sf_i128)INT64_MIN * e18 + 1};
    size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n; i++) {
        int64_t hi, lo;
        sf_i128_split(v[i], &hi, &lo);
        assert_true(sf_i128_join(hi, lo) == v[i]);
        assert_true(lo > -e18 && lo < e18);
        assert_true(lo == 0 || (lo < 0) == (v[i] < 0));
    }
    qsort(v, n, sizeof v[0], cmp_stored);
    for (size_t i = 1; i < n; i++)
        assert_true(v[i - 1] < v[i]);
    /* The stored halves of a sum, as the warehouse's SQL adds them. */
    int64_t hi, lo;
    sf_i128_split((sf_i128)10000 * INT64_C(999999000000000), &hi, &lo);
    assert_int_equal(hi, 9);
    assert_int_equal(lo, INT64_C(999990000000000000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prices),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_minus_zero_and_partial_decimals),
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_exponents),
        cmocka_unit_test(test_exponent_range),
        cmocka_unit_test(test_precision),
        cmocka_unit_test(test_int64_limits),
        cmocka_unit_test(test_min_max_bounds),
        cmocka_unit_test(test_length_not_nul),
        cmocka_unit_test(test_format_milli),
        cmocka_unit_test(test_format_milli_thousands),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_count),
        cmocka_unit_test(test_i128_format_extremes),
        cmocka_unit_test(test_i128_parse_round_trip),
        cmocka_unit_test(test_i128_parse),
        cmocka_unit_test(test_i128_cmp),
        cmocka_unit_test(test_i128_stored_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
