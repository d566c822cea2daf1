/*
 * pos.c - stream positions (see pos.h): u64 and decimal conversions, order,
 * +1/-1 and the stored form, on big-endian minimal byte strings.
 *
 * Positions that fit in 64 bits (every local and Kafka offset) take a
 * shortcut through uint64_t; the byte-wise arithmetic is only for the wide
 * ones, which are converted to text rarely (names, logs, quarantine rows).
 */
#include "core/pos.h"

#include <stdio.h>
#include <string.h>

/* 10^129 - 1, the largest position (129 nines). */
static const uint8_t pos_max[SF_POS_MAX] = {
    0x17, 0x15, 0x1b, 0x37, 0x7c, 0x24, 0x7e, 0x02, 0xf7, 0x01, 0x60, 0x08, 0xe8, 0x8b,
    0xa8, 0x30, 0x98, 0x58, 0x46, 0x1f, 0x9b, 0x39, 0x62, 0x90, 0xe9, 0xd6, 0x96, 0xd4,
    0x39, 0xe2, 0x26, 0xbb, 0xfa, 0x5b, 0xd1, 0xd4, 0x6c, 0x09, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Make p minimal: drop leading zero bytes. */
static void pos_trim(sf_pos *p)
{
    uint8_t skip = 0;
    while (skip < p->len && p->b[skip] == 0)
        skip++;
    if (skip) {
        memmove(p->b, p->b + skip, (size_t)(p->len - skip));
        p->len = (uint8_t)(p->len - skip);
    }
}

static bool pos_above_max(const uint8_t *b, size_t len)
{
    return len == SF_POS_MAX && memcmp(b, pos_max, SF_POS_MAX) > 0;
}

void sf_pos_from_u64(sf_pos *p, uint64_t v)
{
    uint8_t n = 0;
    for (uint64_t t = v; t; t >>= 8)
        n++;
    p->len = n;
    for (uint8_t i = 0; i < n; i++)
        p->b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

int sf_pos_to_u64(const sf_pos *p, uint64_t *out, sf_error *err)
{
    if (!sf_pos_u64(p, out)) {
        char text[SF_POS_TEXT_MAX];
        sf_pos_format(p, text, sizeof text);
        return sf_error_set(err, SF_ERANGE, "position %s does not fit in 64 bits", text);
    }
    return 0;
}

int sf_pos_cmp(const sf_pos *a, const sf_pos *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->b, b->b, a->len);
}

int sf_pos_add_one(sf_pos *p, sf_error *err)
{
    if (p->len == SF_POS_MAX && memcmp(p->b, pos_max, SF_POS_MAX) == 0)
        return sf_error_set(err, SF_ERANGE, "the largest position has no next");
    size_t i = p->len;
    while (i > 0 && p->b[i - 1] == 0xff)
        p->b[--i] = 0;
    if (i > 0) {
        p->b[i - 1]++;
        return 0;
    }
    /* every byte carried (or p was 0): one more leading byte of 1 */
    memmove(p->b + 1, p->b, p->len);
    p->b[0] = 1;
    p->len++;
    return 0;
}

int sf_pos_sub_one(sf_pos *p, sf_error *err)
{
    if (p->len == 0)
        return sf_error_set(err, SF_ERANGE, "position 0 has no previous");
    size_t i = p->len;
    while (p->b[i - 1] == 0)
        p->b[--i] = 0xff; /* a borrow; stops: b[0] != 0 */
    p->b[i - 1]--;
    pos_trim(p);
    return 0;
}

int sf_pos_parse(const char *s, size_t n, sf_pos *out, sf_error *err)
{
    if (n == 0)
        return sf_error_set(err, SF_EINVAL, "a position is empty");
    if (n > SF_POS_DIGITS_MAX)
        return sf_error_set(err, SF_EINVAL, "a position has %zu digits, at most %d", n,
                            SF_POS_DIGITS_MAX);
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return sf_error_set(err, SF_EINVAL, "a position is decimal digits: \"%.*s\"",
                                (int)(n > 40 ? 40 : n), s);
    if (n > 1 && s[0] == '0')
        return sf_error_set(err, SF_EINVAL, "a position has no leading zeros: \"%.*s\"",
                            (int)(n > 40 ? 40 : n), s);
    /* b = b * 10 + digit over a full-width buffer; 129 digits never carry
     * out of SF_POS_MAX bytes (10^129 - 1 < 2^432) */
    sf_pos v = {.len = SF_POS_MAX};
    memset(v.b, 0, sizeof v.b);
    size_t used = 0; /* low bytes that may be non-zero */
    for (size_t i = 0; i < n; i++) {
        unsigned carry = (unsigned)(s[i] - '0');
        size_t j = SF_POS_MAX;
        for (size_t k = 0; k < used || carry; k++) {
            j--;
            unsigned t = v.b[j] * 10u + carry;
            v.b[j] = (uint8_t)t;
            carry = t >> 8;
            if (k >= used)
                used = k + 1;
        }
    }
    pos_trim(&v);
    *out = v;
    return 0;
}

size_t sf_pos_format(const sf_pos *p, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    uint64_t small;
    if (sf_pos_u64(p, &small)) {
        int w = snprintf(out, cap, "%llu", (unsigned long long)small);
        return w < 0 ? 0 : ((size_t)w < cap ? (size_t)w : cap - 1);
    }
    /* divide by 10^9 until zero; the remainders are 9-digit groups, low first */
    uint8_t num[SF_POS_MAX];
    size_t len = p->len;
    memcpy(num, p->b, len);
    uint32_t groups[16]; /* 16 x 9 = 144 digits >= 130 */
    size_t ng = 0;
    while (len > 0) {
        uint64_t rem = 0;
        for (size_t i = 0; i < len; i++) {
            uint64_t cur = rem << 8 | num[i];
            num[i] = (uint8_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        groups[ng++] = (uint32_t)rem;
        size_t skip = 0;
        while (skip < len && num[skip] == 0)
            skip++;
        memmove(num, num + skip, len - skip);
        len -= skip;
    }
    char text[SF_POS_TEXT_MAX + 16];
    int w = snprintf(text, sizeof text, "%u", (unsigned)groups[ng - 1]);
    size_t at = w < 0 ? 0 : (size_t)w;
    for (size_t g = ng - 1; g-- > 0;) {
        snprintf(text + at, sizeof text - at, "%09u", (unsigned)groups[g]);
        at += 9;
    }
    size_t n = at < cap ? at : cap - 1;
    memcpy(out, text, n);
    out[n] = '\0';
    return n;
}

size_t sf_pos_encode(const sf_pos *p, uint8_t *out)
{
    out[0] = p->len;
    memcpy(out + 1, p->b, p->len);
    return (size_t)p->len + 1;
}

int sf_pos_decode(const uint8_t *in, size_t n, sf_pos *out, sf_error *err)
{
    if (n == 0 || n != (size_t)in[0] + 1)
        return sf_error_set(err, SF_ECORRUPT, "a stored position of %zu bytes says %u", n,
                            n ? (unsigned)in[0] : 0u);
    size_t len = in[0];
    if (len > SF_POS_MAX)
        return sf_error_set(err, SF_ECORRUPT, "a stored position of %zu bytes (at most %d)", len,
                            SF_POS_MAX);
    if (len > 0 && in[1] == 0)
        return sf_error_set(err, SF_ECORRUPT, "a stored position has a leading zero byte");
    if (pos_above_max(in + 1, len))
        return sf_error_set(err, SF_ECORRUPT, "a stored position above 10^129 - 1");
    out->len = (uint8_t)len;
    memcpy(out->b, in + 1, len);
    return 0;
}
