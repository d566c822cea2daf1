/*
 * money.c - exact decimal parsing and printing (see money.h).
 *
 * The parser walks the digits once, giving each its decimal place after the
 * exponent is applied. Digits whose place is at or above 10^-scale are
 * accumulated; the ones below must be zeros. All arithmetic is checked, so an
 * absurd input ("1e999") is a range error, never undefined behaviour.
 */
#include "core/money.h"

#include <stdio.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The pieces of a decimal literal: where its digits are and its exponent. */
typedef struct decimal_parts {
    bool negative;
    const char *int_digits;
    size_t int_len;
    const char *frac_digits;
    size_t frac_len;
    long exponent; /* clamped to +-100000: anything that large is out of range anyway */
} decimal_parts;

static sf_num_status split_decimal(const char *s, size_t len, decimal_parts *p)
{
    const char *end = s + len;
    while (s < end && is_space(*s))
        s++;
    while (end > s && is_space(end[-1]))
        end--;
    memset(p, 0, sizeof *p);
    if (s < end && (*s == '-' || *s == '+'))
        p->negative = (*s++ == '-');
    p->int_digits = s;
    while (s < end && is_digit(*s))
        s++;
    p->int_len = (size_t)(s - p->int_digits);
    if (s < end && *s == '.') {
        p->frac_digits = ++s;
        while (s < end && is_digit(*s))
            s++;
        p->frac_len = (size_t)(s - p->frac_digits);
    }
    if (p->int_len + p->frac_len == 0)
        return SF_NUM_SYNTAX;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        bool neg_exp = false;
        if (s < end && (*s == '-' || *s == '+'))
            neg_exp = (*s++ == '-');
        if (s == end)
            return SF_NUM_SYNTAX;
        while (s < end && is_digit(*s)) {
            if (p->exponent < 100000)
                p->exponent = p->exponent * 10 + (*s - '0');
            s++;
        }
        if (neg_exp)
            p->exponent = -p->exponent;
    }
    return s == end ? SF_NUM_OK : SF_NUM_SYNTAX;
}

sf_num_status sf_parse_scaled(const char *s, size_t len, int scale, int64_t min, int64_t max,
                              int64_t *out)
{
    decimal_parts p;
    sf_num_status st = split_decimal(s, len, &p);
    if (st != SF_NUM_OK)
        return st;

    /* Magnitude accumulated as a negative number so INT64_MIN fits. */
    int64_t acc = 0;
    long ndigits = (long)(p.int_len + p.frac_len);
    /* place (power of ten, after scaling) of the first digit */
    long place = (long)p.int_len - 1 + p.exponent + scale;
    for (long k = 0; k < ndigits; k++, place--) {
        char c = k < (long)p.int_len ? p.int_digits[k] : p.frac_digits[k - (long)p.int_len];
        int d = c - '0';
        if (place < 0) {
            if (d != 0)
                return SF_NUM_PRECISION;
            continue;
        }
        if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_sub_overflow(acc, d, &acc))
            return SF_NUM_RANGE;
    }
    /* Digits ran out above the unit place: scale up by the remaining places. */
    for (; place >= 0; place--) {
        if (acc != 0 && __builtin_mul_overflow(acc, 10, &acc))
            return SF_NUM_RANGE;
    }
    int64_t v;
    if (p.negative)
        v = acc;
    else if (__builtin_sub_overflow((int64_t)0, acc, &v))
        return SF_NUM_RANGE;
    if (v < min || v > max)
        return SF_NUM_RANGE;
    *out = v;
    return SF_NUM_OK;
}

/* One more digit d at the bottom of a magnitude accumulated as a negative
 * number (so that the most negative value fits): false on overflow. Checked
 * by hand: clang's __builtin_mul_overflow on __int128 needs compiler-rt. */
static bool push_digit(sf_i128 *acc, int d)
{
    const sf_i128 limit = SF_I128_MIN / 10; /* limit x 10 = SF_I128_MIN + 8 */
    if (*acc < limit || (*acc == limit && d > 8))
        return false;
    *acc = *acc * 10 - d;
    return true;
}

/* sf_parse_scaled's walk over the digits, in 128 bits. Kept apart from it:
 * the decoders parse every price and quantity with the 64-bit one, and a
 * shared walk would cost them the 128-bit arithmetic. */
sf_num_status sf_parse_i128(const char *s, size_t len, int scale, sf_i128 *out)
{
    decimal_parts p;
    sf_num_status st = split_decimal(s, len, &p);
    if (st != SF_NUM_OK)
        return st;
    sf_i128 acc = 0;
    long ndigits = (long)(p.int_len + p.frac_len);
    long place = (long)p.int_len - 1 + p.exponent + scale;
    for (long k = 0; k < ndigits; k++, place--) {
        char c = k < (long)p.int_len ? p.int_digits[k] : p.frac_digits[k - (long)p.int_len];
        if (place < 0) {
            if (c != '0')
                return SF_NUM_PRECISION;
            continue;
        }
        if (!push_digit(&acc, c - '0'))
            return SF_NUM_RANGE;
    }
    for (; place >= 0; place--)
        if (acc != 0 && !push_digit(&acc, 0))
            return SF_NUM_RANGE;
    if (!p.negative && acc == SF_I128_MIN)
        return SF_NUM_RANGE;
    *out = p.negative ? acc : -acc;
    return SF_NUM_OK;
}

/* Write the decimal digits of u (most significant first), with separators. */
static size_t write_u64(uint64_t u, bool thousands, char *buf)
{
    char rev[32];
    size_t n = 0;
    int group = 0;
    do {
        if (thousands && group == 3) {
            rev[n++] = ',';
            group = 0;
        }
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
        group++;
    } while (u);
    for (size_t i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    return n;
}

/* The same for a u past 64 bits, cut into 19-digit chunks first. Apart
 * from write_unsigned, so that its 64-bit path stays small enough to be
 * inlined (a BI answer formats thousands of totals). */
__attribute__((noinline)) static size_t write_wide(unsigned __int128 u, bool thousands, char *buf)
{
    char d[40], rev[40];
    size_t n = 0, o = 0;
    while (u > UINT64_MAX) {
        uint64_t chunk = (uint64_t)(u % UINT64_C(10000000000000000000));
        u /= UINT64_C(10000000000000000000);
        for (int i = 0; i < 19; i++, chunk /= 10)
            rev[n++] = (char)('0' + chunk % 10);
    }
    for (uint64_t w = (uint64_t)u; w; w /= 10)
        rev[n++] = (char)('0' + w % 10);
    for (size_t i = 0; i < n; i++)
        d[i] = rev[n - 1 - i];
    for (size_t i = 0; i < n; i++) {
        if (thousands && i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = d[i];
    }
    return o;
}

/* The same for any u: nearly every value fits 64 bits and takes
 * write_u64, never dividing in 128 bits (a library call). */
static size_t write_unsigned(unsigned __int128 u, bool thousands, char *buf)
{
    return u <= UINT64_MAX ? write_u64((uint64_t)u, thousands, buf) : write_wide(u, thousands, buf);
}

static unsigned __int128 magnitude(sf_i128 v)
{
    return v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
}

size_t sf_format_milli(sf_i128 milli, bool thousands, char buf[SF_MONEY_TEXT_MAX])
{
    unsigned __int128 u = magnitude(milli);
    size_t n = 0;
    if (milli < 0)
        buf[n++] = '-';
    unsigned frac;
    if (u <= UINT64_MAX) { /* 64-bit division: a 128-bit one is a library call */
        frac = (unsigned)((uint64_t)u % 1000);
        u = (uint64_t)u / 1000;
    } else {
        frac = (unsigned)(u % 1000);
        u /= 1000;
    }
    n += write_unsigned(u, thousands, buf + n);
    buf[n++] = '.';
    buf[n++] = (char)('0' + frac / 100);
    buf[n++] = (char)('0' + frac / 10 % 10);
    if (frac % 10)
        buf[n++] = (char)('0' + frac % 10);
    buf[n] = '\0';
    return n;
}

size_t sf_format_count(sf_i128 v, char buf[SF_MONEY_TEXT_MAX])
{
    size_t n = 0;
    if (v < 0)
        buf[n++] = '-';
    n += write_unsigned(magnitude(v), true, buf + n);
    buf[n] = '\0';
    return n;
}

size_t sf_format_i128(sf_i128 v, char buf[SF_MONEY_TEXT_MAX])
{
    size_t n = 0;
    if (v < 0)
        buf[n++] = '-';
    n += write_unsigned(magnitude(v), false, buf + n);
    buf[n] = '\0';
    return n;
}

void sf_i128_split(sf_i128 v, int64_t *hi, int64_t *lo)
{
    sf_i128 h = v / SF_I128_SPLIT; /* C division truncates toward zero */
    *lo = (int64_t)(v - h * SF_I128_SPLIT);
    *hi = h > INT64_MAX ? INT64_MAX : h < INT64_MIN ? INT64_MIN : (int64_t)h;
}
