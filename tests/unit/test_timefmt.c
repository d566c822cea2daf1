/*
 * test_timefmt.c - timefmt.h: both date styles giving the same timestamp,
 * ISO 8601 ('T', zero fractions, Z, offsets), leap days, invalid dates and
 * times with their reasons, epoch milliseconds, the canonical format and its
 * round trip, civil conversion and weekdays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/timefmt.h"

#define T0 INT64_C(1291191960) /* 2010-12-01 08:26:00 */

static int64_t must_parse(const char *s)
{
    int64_t t = -1;
    const char *why = NULL;
    if (sf_time_parse(s, strlen(s), &t, &why) != 0)
        fail_msg("\"%s\" refused: %s", s, why ? why : "(no reason)");
    return t;
}

static void assert_refused(const char *s, const char *reason)
{
    int64_t t = 42;
    const char *why = NULL;
    if (sf_time_parse(s, strlen(s), &t, &why) != -1)
        fail_msg("\"%s\" was accepted as %lld", s, (long long)t);
    assert_int_equal(t, 42);
    assert_non_null(why);
    assert_string_equal(why, reason);
}

static void test_both_styles_same_timestamp(void **state)
{
    (void)state;
    assert_int_equal(must_parse("2010-12-01 08:26:00"), T0);
    assert_int_equal(must_parse("12/1/2010 8:26"), T0);
    assert_int_equal(must_parse("12/01/2010 08:26"), T0);
    assert_int_equal(must_parse("12/1/2010 8:26:00"), T0);
    assert_int_equal(must_parse("2010-12-01 08:26"), T0);
}

static void test_epoch_and_seconds(void **state)
{
    (void)state;
    assert_int_equal(must_parse("1970-01-01 00:00:00"), 0);
    assert_int_equal(must_parse("1970-01-01 00:00:01"), 1);
    assert_int_equal(must_parse("1969-12-31 23:59:59"), -1);
    assert_int_equal(must_parse("1/13/2011 14:05:09"), must_parse("2011-01-13 14:05:09"));
    assert_int_equal(must_parse("1900-01-01 00:00:00"), INT64_C(-2208988800));
    assert_int_equal(must_parse("9999-12-31 23:59:59"), INT64_C(253402300799));
}

static void test_iso8601(void **state)
{
    (void)state;
    assert_int_equal(must_parse("2010-12-01T08:26:00"), T0);
    assert_int_equal(must_parse("2010-12-01T08:26:00Z"), T0);
    assert_int_equal(must_parse("2010-12-01T08:26:00.000"), T0);
    assert_int_equal(must_parse("2010-12-01T08:26:00.000Z"), T0);
    assert_int_equal(must_parse("2010-12-01T08:26:00.000000000Z"), T0);
    assert_int_equal(must_parse("2010-12-01T08:26Z"), T0);
    assert_int_equal(must_parse("2010-12-01 08:26:00+00:00"), T0);
}

static void test_iso8601_offsets(void **state)
{
    (void)state;
    assert_int_equal(must_parse("2010-12-01T09:26:00+01:00"), T0);
    assert_int_equal(must_parse("2010-12-01T09:26:00+0100"), T0);
    assert_int_equal(must_parse("2010-12-01T02:56:00-05:30"), T0);
    assert_int_equal(must_parse("2010-12-01T09:26:00.000+01:00"), T0);
    /* An offset may cross midnight and the year. */
    assert_int_equal(must_parse("2011-01-01T00:30:00+01:00"), must_parse("2010-12-31 23:30:00"));
}

static void test_iso8601_errors(void **state)
{
    (void)state;
    const char *frac = "has a fraction of a second; records keep whole seconds";
    assert_refused("2010-12-01T08:26:00.5Z", frac);
    assert_refused("2010-12-01T08:26:00.001", frac);
    assert_refused("2010-12-01T08:26:00.", "fraction of a second must be digits");
    assert_refused("2010-12-01T08:26:00+1:00", "zone offset must be +HH:MM or -HH:MM");
    assert_refused("2010-12-01T08:26:00+24:00", "zone offset must be +HH:MM or -HH:MM");
    assert_refused("2010-12-01T08:26:00+01:60", "zone offset must be +HH:MM or -HH:MM");
    assert_refused("1900-01-01T00:30:00+01:00", "year is out of range (1900-9999)");
}

static void test_spaces_around(void **state)
{
    (void)state;
    assert_int_equal(must_parse("  2010-12-01 08:26:00  "), T0);
    assert_int_equal(must_parse("\t12/1/2010 8:26\t"), T0);
}

static void test_leap_days(void **state)
{
    (void)state;
    assert_int_equal(must_parse("2012-02-29 00:00:00") + 86400, must_parse("2012-03-01 00:00:00"));
    assert_int_equal(must_parse("2000-02-29 12:00:00") + 86400, must_parse("3/1/2000 12:00"));
    assert_refused("2011-02-29 00:00:00", "day does not exist in that month");
    assert_refused("1900-02-29 00:00:00", "day does not exist in that month");
    assert_refused("2100-02-29 00:00:00", "day does not exist in that month");
    assert_refused("2/29/2011 8:00", "day does not exist in that month");
}

static void test_invalid_dates(void **state)
{
    (void)state;
    assert_refused("2010-13-01 08:26:00", "month is out of range");
    assert_refused("2010-00-01 08:26:00", "month is out of range");
    assert_refused("13/1/2010 8:26", "month is out of range");
    assert_refused("2010-04-31 08:26:00", "day does not exist in that month");
    assert_refused("2010-12-00 08:26:00", "day does not exist in that month");
    assert_refused("1899-12-31 23:59:59", "year is out of range (1900-9999)");
    assert_refused("2010-12-01 24:00:00", "time of day is out of range");
    assert_refused("2010-12-01 08:60:00", "time of day is out of range");
    assert_refused("2010-12-01 08:26:60", "time of day is out of range");
}

static void test_malformed(void **state)
{
    (void)state;
    const char *not_dt = "is not a date and time (expected YYYY-MM-DD HH:MM:SS or M/D/YYYY H:MM)";
    assert_refused("", "is empty");
    assert_refused("   ", "is empty");
    assert_refused("2010-12-01", "date must be followed by a time (HH:MM:SS)");
    assert_refused("2010-12-1 08:26:00", "date must be YYYY-MM-DD");
    assert_refused("2010-12-01 8:26:00", "time must be HH:MM:SS");
    assert_refused("2010-12-01 08:26:0", "seconds must be two digits");
    assert_refused("2010-12-01 08:26:00 x", not_dt);
    assert_refused("12/1/2010", "date must be followed by a time (H:MM)");
    assert_refused("12/1/10 8:26", "date must be M/D/YYYY");
    assert_refused("12/1/2010 8:6", "time must be H:MM");
    assert_refused("12/1/2010T8:26", "date must be followed by a time (H:MM)");
    assert_refused("12/1/2010 8:26Z", not_dt);
    assert_refused("abc", "date must be M/D/YYYY");
    assert_refused("2010/12/01 08:26", "date must be M/D/YYYY");
}

static void test_epoch_ms(void **state)
{
    (void)state;
    int64_t t = 0;
    const char *why = NULL;
    assert_int_equal(sf_time_from_epoch_ms(INT64_C(1291191960000), &t, &why), 0);
    assert_int_equal(t, T0);
    assert_int_equal(sf_time_from_epoch_ms(INT64_C(-2208988800000), &t, &why), 0);
    assert_int_equal(t, INT64_C(-2208988800));
    t = 5;
    assert_int_equal(sf_time_from_epoch_ms(INT64_C(1291191960500), &t, &why), -1);
    assert_string_equal(why, "has a fraction of a second; records keep whole seconds");
    assert_int_equal(sf_time_from_epoch_ms(INT64_C(-2208988801000), &t, &why), -1);
    assert_string_equal(why, "year is out of range (1900-9999)");
    assert_int_equal(sf_time_from_epoch_ms(INT64_C(253402300800000), &t, &why), -1);
    assert_int_equal(sf_time_from_epoch_ms(INT64_C(253402300799000), &t, &why), 0);
    assert_int_equal(sf_time_from_epoch_ms(INT64_MIN, &t, &why), -1);
    assert_int_equal(t, INT64_C(253402300799));
}

static void assert_format(int64_t t, const char *want)
{
    char buf[SF_TIME_TEXT_LEN + 1];
    memset(buf, 'Z', sizeof buf);
    sf_time_format(t, buf);
    assert_string_equal(buf, want);
}

static void test_format(void **state)
{
    (void)state;
    assert_format(T0, "2010-12-01 08:26:00");
    assert_format(0, "1970-01-01 00:00:00");
    assert_format(-1, "1969-12-31 23:59:59");
    assert_format(INT64_C(-2208988800), "1900-01-01 00:00:00");
    assert_format(INT64_C(253402300799), "9999-12-31 23:59:59");
    assert_format(INT64_C(951782400), "2000-02-29 00:00:00");
}

static void test_format_round_trip(void **state)
{
    (void)state;
    /* Every 7 hours 13 minutes 17 seconds over 1900..2100. */
    int64_t start = must_parse("1900-01-01 00:00:00");
    int64_t end = must_parse("2100-12-31 23:59:59");
    for (int64_t t = start; t <= end; t += 7 * 3600 + 13 * 60 + 17) {
        char buf[SF_TIME_TEXT_LEN + 1];
        sf_time_format(t, buf);
        int64_t back = 0;
        assert_int_equal(sf_time_parse(buf, SF_TIME_TEXT_LEN, &back, NULL), 0);
        if (back != t)
            fail_msg("%lld formats as %s which parses as %lld", (long long)t, buf, (long long)back);
    }
}

static void test_civil(void **state)
{
    (void)state;
    sf_civil c;
    sf_civil_from_time(T0 + 59, &c);
    assert_int_equal(c.year, 2010);
    assert_int_equal(c.month, 12);
    assert_int_equal(c.day, 1);
    assert_int_equal(c.hour, 8);
    assert_int_equal(c.minute, 26);
    assert_int_equal(c.second, 59);
    assert_int_equal(sf_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(sf_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(sf_days_from_civil(2010, 12, 1), 14944);
    assert_int_equal(sf_days_from_civil(2000, 3, 1) - sf_days_from_civil(2000, 2, 28), 2);
    assert_int_equal(sf_days_from_civil(1900, 3, 1) - sf_days_from_civil(1900, 2, 28), 1);
}

static void test_weekday(void **state)
{
    (void)state;
    assert_int_equal(sf_weekday(0), 3);                                 /* 1970-01-01 Thursday */
    assert_int_equal(sf_weekday(-1), 2);                                /* 1969-12-31 Wednesday */
    assert_int_equal(sf_weekday(T0), 2);                                /* 2010-12-01 Wednesday */
    assert_int_equal(sf_weekday(must_parse("2011-12-09 12:50:00")), 4); /* Friday */
    assert_int_equal(sf_weekday(must_parse("2000-02-29 23:59:59")), 1); /* Tuesday */
    assert_int_equal(sf_weekday(must_parse("1900-01-01 00:00:00")), 0); /* Monday */
    assert_int_equal(sf_weekday(must_parse("2011-12-11 00:00:00")), 6); /* Sunday */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_styles_same_timestamp),
        cmocka_unit_test(test_epoch_and_seconds),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_iso8601_offsets),
        cmocka_unit_test(test_iso8601_errors),
        cmocka_unit_test(test_spaces_around),
        cmocka_unit_test(test_leap_days),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_epoch_ms),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_weekday),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
