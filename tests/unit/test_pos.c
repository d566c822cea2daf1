/*
 * test_pos.c - pos.h: u64 round trips and the 64-bit edge (2^64 - 1, 2^64),
 * decimal text both ways (0, a real 56-digit Kinesis sequence number, 2^128,
 * 129 digits, and the text refused), +1/-1 across byte carries and at the
 * ends, the stored form (refused when not minimal or mis-sized) and that
 * memcmp on stored forms orders random positions as the numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/pos.h"

/* A real Kinesis sequence number (AWS documentation), 56 digits, 186 bits. */
#define KINESIS_SEQ "49590338271490256608559692538361571095921575989136588898"

static sf_pos parse_ok(const char *s)
{
    sf_pos p;
    sf_error err;
    if (sf_pos_parse(s, strlen(s), &p, &err) != 0)
        fail_msg("\"%s\" refused: %s", s, err.msg);
    return p;
}

static void assert_text(const sf_pos *p, const char *want)
{
    char text[SF_POS_TEXT_MAX];
    size_t n = sf_pos_format(p, text, sizeof text);
    assert_string_equal(text, want);
    assert_int_equal(n, strlen(want));
}

static void test_u64(void **state)
{
    (void)state;
    const uint64_t vals[] = {0, 1, 255, 256, 65535, 1u << 24, UINT64_C(1) << 56, UINT64_MAX};
    const uint8_t lens[] = {0, 1, 1, 2, 2, 4, 8, 8};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        sf_pos p;
        sf_pos_from_u64(&p, vals[i]);
        assert_int_equal(p.len, lens[i]);
        uint64_t back = 7;
        assert_int_equal(sf_pos_to_u64(&p, &back, NULL), 0);
        assert_true(back == vals[i]);
    }
    sf_pos zero;
    sf_pos_from_u64(&zero, 0);
    assert_true(sf_pos_is_zero(&zero));
    assert_text(&zero, "0");
    sf_pos max;
    sf_pos_from_u64(&max, UINT64_MAX);
    assert_text(&max, "18446744073709551615");

    /* 2^64 is one byte longer and does not go back to 64 bits */
    sf_pos big = parse_ok("18446744073709551616");
    assert_int_equal(big.len, 9);
    assert_int_equal(big.b[0], 1);
    uint64_t v = 42;
    sf_error err;
    assert_int_equal(sf_pos_to_u64(&big, &v, &err), SF_ERANGE);
    assert_true(v == 42);
    assert_non_null(strstr(err.msg, "18446744073709551616"));
    assert_true(sf_pos_cmp(&max, &big) < 0);
}

static void test_text(void **state)
{
    (void)state;
    sf_pos k = parse_ok(KINESIS_SEQ);
    static const uint8_t kb[] = {0x02, 0x05, 0xbf, 0x4e, 0x5c, 0x26, 0x00, 0x00,
                                 0x00, 0x00, 0x67, 0x64, 0x8a, 0x17, 0x00, 0x05,
                                 0xc1, 0x81, 0xee, 0xa0, 0x00, 0x00, 0x00, 0x62};
    assert_int_equal(k.len, sizeof kb);
    assert_memory_equal(k.b, kb, sizeof kb);
    assert_text(&k, KINESIS_SEQ);

    sf_pos t128 = parse_ok("340282366920938463463374607431768211456");
    assert_int_equal(t128.len, 17);
    assert_int_equal(t128.b[0], 1);
    for (int i = 1; i < 17; i++)
        assert_int_equal(t128.b[i], 0);
    assert_text(&t128, "340282366920938463463374607431768211456");

    /* groups of 9 digits with inner zeros survive the round trip */
    assert_text((sf_pos[]){parse_ok("1000000000000000000000000001")},
                "1000000000000000000000000001");

    char nines[SF_POS_DIGITS_MAX + 2];
    memset(nines, '9', SF_POS_DIGITS_MAX);
    nines[SF_POS_DIGITS_MAX] = '\0';
    sf_pos top = parse_ok(nines);
    assert_int_equal(top.len, SF_POS_MAX);
    assert_text(&top, nines);

    /* a smaller buffer cuts the text short, terminated */
    char small[5];
    assert_int_equal(sf_pos_format(&k, small, sizeof small), 4);
    assert_string_equal(small, "4959");
}

static void test_bad_text(void **state)
{
    (void)state;
    const char *bad[] = {"", "-1", "+1", "01", "00", "1.0", "1e3", " 1", "1 ", "abc", "12a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sf_pos p = {.len = 3, .b = {9, 9, 9}};
        sf_error err;
        if (sf_pos_parse(bad[i], strlen(bad[i]), &p, &err) != SF_EINVAL)
            fail_msg("\"%s\" was taken", bad[i]);
        assert_int_equal(p.len, 3); /* untouched */
    }
    char long_text[SF_POS_DIGITS_MAX + 2];
    memset(long_text, '1', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    sf_pos p;
    sf_error err;
    assert_int_equal(sf_pos_parse(long_text, strlen(long_text), &p, &err), SF_EINVAL);
    assert_non_null(strstr(err.msg, "130 digits"));
    /* the length counts, not a NUL: "12" of "123" */
    assert_int_equal(sf_pos_parse("123", 2, &p, NULL), 0);
    assert_text(&p, "12");
}

static void test_add_sub(void **state)
{
    (void)state;
    sf_pos p;
    sf_pos_from_u64(&p, 0);
    assert_int_equal(sf_pos_sub_one(&p, NULL), SF_ERANGE);
    assert_int_equal(p.len, 0);
    assert_int_equal(sf_pos_add_one(&p, NULL), 0);
    assert_text(&p, "1");
    assert_int_equal(sf_pos_sub_one(&p, NULL), 0);
    assert_true(sf_pos_is_zero(&p));

    sf_pos_from_u64(&p, 255);
    assert_int_equal(sf_pos_add_one(&p, NULL), 0);
    assert_int_equal(p.len, 2);
    assert_text(&p, "256");
    assert_int_equal(sf_pos_sub_one(&p, NULL), 0);
    assert_int_equal(p.len, 1);
    assert_text(&p, "255");

    sf_pos_from_u64(&p, UINT64_MAX);
    assert_int_equal(sf_pos_add_one(&p, NULL), 0);
    assert_text(&p, "18446744073709551616");
    assert_int_equal(sf_pos_sub_one(&p, NULL), 0);
    assert_text(&p, "18446744073709551615");
    assert_int_equal(p.len, 8);

    /* Kinesis "after p" is p - 1 ... p + 1 round trip */
    p = parse_ok(KINESIS_SEQ);
    assert_int_equal(sf_pos_sub_one(&p, NULL), 0);
    assert_text(&p, "49590338271490256608559692538361571095921575989136588897");
    assert_int_equal(sf_pos_add_one(&p, NULL), 0);
    assert_text(&p, KINESIS_SEQ);

    char nines[SF_POS_DIGITS_MAX + 1];
    memset(nines, '9', SF_POS_DIGITS_MAX);
    nines[SF_POS_DIGITS_MAX] = '\0';
    p = parse_ok(nines);
    assert_int_equal(sf_pos_add_one(&p, NULL), SF_ERANGE);
    assert_text(&p, nines);
}

static void test_stored_form(void **state)
{
    (void)state;
    uint8_t buf[SF_POS_STORED_MAX];
    sf_pos p, back;
    sf_pos_from_u64(&p, 0);
    assert_int_equal(sf_pos_encode(&p, buf), 1);
    assert_int_equal(buf[0], 0);
    assert_int_equal(sf_pos_decode(buf, 1, &back, NULL), 0);
    assert_int_equal(sf_pos_cmp(&p, &back), 0);

    p = parse_ok(KINESIS_SEQ);
    size_t n = sf_pos_encode(&p, buf);
    assert_int_equal(n, 25);
    assert_int_equal(sf_pos_decode(buf, n, &back, NULL), 0);
    assert_int_equal(sf_pos_cmp(&p, &back), 0);

    /* wrong size either way, a leading zero, too long, above the largest */
    sf_error err;
    assert_int_equal(sf_pos_decode(buf, n - 1, &back, &err), SF_ECORRUPT);
    assert_int_equal(sf_pos_decode(buf, n + 1, &back, &err), SF_ECORRUPT);
    assert_int_equal(sf_pos_decode(buf, 0, &back, &err), SF_ECORRUPT);
    const uint8_t lead0[] = {2, 0, 5};
    assert_int_equal(sf_pos_decode(lead0, sizeof lead0, &back, &err), SF_ECORRUPT);
    uint8_t huge[SF_POS_MAX + 2];
    memset(huge, 1, sizeof huge);
    huge[0] = SF_POS_MAX + 1;
    assert_int_equal(sf_pos_decode(huge, sizeof huge, &back, &err), SF_ECORRUPT);
    huge[0] = SF_POS_MAX;
    memset(huge + 1, 0xff, SF_POS_MAX);
    assert_int_equal(sf_pos_decode(huge, SF_POS_MAX + 1, &back, &err), SF_ECORRUPT);
}

/* A random minimal position of 0..SF_POS_MAX bytes, mostly short ones. */
static sf_pos random_pos(void)
{
    sf_pos p;
    int r = rand() % 4;
    size_t len = r == 0 ? (size_t)(rand() % 9) : (size_t)(rand() % (SF_POS_MAX + 1));
    for (size_t i = 0; i < len; i++)
        p.b[i] = (uint8_t)rand();
    if (len > 0 && p.b[0] == 0)
        p.b[0] = 1;
    if (len == SF_POS_MAX)
        p.b[0] = 0x10; /* below 10^129 - 1, which starts 0x17 */
    p.len = (uint8_t)len;
    return p;
}

/* Numeric order from the text: longer is larger, else digit order. */
static int text_order(const sf_pos *a, const sf_pos *b)
{
    char ta[SF_POS_TEXT_MAX], tb[SF_POS_TEXT_MAX];
    size_t na = sf_pos_format(a, ta, sizeof ta), nb = sf_pos_format(b, tb, sizeof tb);
    if (na != nb)
        return na < nb ? -1 : 1;
    int c = strcmp(ta, tb);
    return (c > 0) - (c < 0);
}

static void test_order(void **state)
{
    (void)state;
    srand(17);
    for (int i = 0; i < 20000; i++) {
        sf_pos a = random_pos(), b = i % 7 == 0 ? a : random_pos();
        if (i % 11 == 0 && b.len > 0) { /* neighbours: differ in the last byte */
            a = b;
            a.b[a.len - 1] ^= 1;
            if (a.b[0] == 0)
                a = b;
        }
        uint8_t sa[SF_POS_STORED_MAX], sb[SF_POS_STORED_MAX];
        size_t na = sf_pos_encode(&a, sa), nb = sf_pos_encode(&b, sb);
        int m = memcmp(sa, sb, na < nb ? na : nb);
        if (m == 0)
            m = (na > nb) - (na < nb);
        m = (m > 0) - (m < 0);
        int c = sf_pos_cmp(&a, &b);
        c = (c > 0) - (c < 0);
        int t = text_order(&a, &b);
        if (m != c || c != t)
            fail_msg("pair %d: memcmp %d, cmp %d, text %d", i, m, c, t);
        /* and the text parses back to the same number */
        char text[SF_POS_TEXT_MAX];
        sf_pos_format(&a, text, sizeof text);
        sf_pos back = parse_ok(text);
        assert_int_equal(sf_pos_cmp(&a, &back), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64),         cmocka_unit_test(test_text),
        cmocka_unit_test(test_bad_text),    cmocka_unit_test(test_add_sub),
        cmocka_unit_test(test_stored_form), cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
