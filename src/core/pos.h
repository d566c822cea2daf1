/*
 * pos.h - a stream position: where a record sits in its partition, as an
 * unsigned integer wide enough for every backend's numbering.
 *
 * The local log and Kafka number a partition's records with 64-bit offsets;
 * Kinesis numbers them with sequence numbers, decimals of up to 129 digits
 * (real ones have 56, about 186 bits: 128 bits is not enough). So a position
 * is an unsigned integer of up to 432 bits (SF_POS_MAX bytes), held by value
 * in a plain struct (no allocation, safe to copy): big-endian and minimal,
 * with no leading zero byte, so len 0 is position 0 and a longer position is
 * a larger one.
 *
 * What is a position and what is not: positions in a partition strictly
 * increase and may skip (stream/stream.h says what each adapter adds). The
 * "next" position to read is what the adapter says it is (the read batch's
 * `next`), never this module's `+1`; sf_pos_add_one and sf_pos_sub_one are
 * here for the adapters that map "after p" onto their own API.
 *
 * Text is strict decimal (digits only, no sign, no leading zeros except
 * "0", at most 129 digits), what the command line, logs, archive names and
 * quarantine rows use. The stored form is `len || bytes` (1 to 55 bytes):
 * compared with memcmp, stored forms sort as the numbers do (a shorter
 * minimal number is smaller, and the length byte comes first).
 */
#ifndef SF_POS_H
#define SF_POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SF_POS_MAX        54                      /* bytes: 10^129 - 1 fits */
#define SF_POS_DIGITS_MAX 129                     /* decimal digits of the largest */
#define SF_POS_TEXT_MAX   (SF_POS_DIGITS_MAX + 1) /* text with its NUL */
#define SF_POS_STORED_MAX (SF_POS_MAX + 1)        /* the stored form's largest size */

typedef struct sf_pos {
    uint8_t len;           /* bytes used, 0..SF_POS_MAX; 0 is position 0 */
    uint8_t b[SF_POS_MAX]; /* b[0..len): big-endian, b[0] != 0 when len > 0 */
} sf_pos;

/* Position v. */
void sf_pos_from_u64(sf_pos *p, uint64_t v);

/* *out = p when p < 2^64; else SF_ERANGE (*out untouched). */
int sf_pos_to_u64(const sf_pos *p, uint64_t *out, sf_error *err);

/* The same as a plain test: true and *out when p < 2^64. */
static inline bool sf_pos_u64(const sf_pos *p, uint64_t *out)
{
    if (p->len > 8)
        return false;
    uint64_t v = 0;
    for (uint8_t i = 0; i < p->len; i++)
        v = v << 8 | p->b[i];
    *out = v;
    return true;
}

static inline bool sf_pos_is_zero(const sf_pos *p)
{
    return p->len == 0;
}

/* <0, 0, >0 as a is below, equal to or above b. */
int sf_pos_cmp(const sf_pos *a, const sf_pos *b);

/* p + 1; SF_ERANGE (p untouched) when p is the largest (10^129 - 1). */
int sf_pos_add_one(sf_pos *p, sf_error *err);

/* p - 1; SF_ERANGE (p untouched) when p is 0. */
int sf_pos_sub_one(sf_pos *p, sf_error *err);

/* Parse s[0..n) as strict decimal text (see above) into *out. SF_EINVAL
 * naming what is wrong (*out untouched). */
int sf_pos_parse(const char *s, size_t n, sf_pos *out, sf_error *err);

/* Write p as decimal into out (cap >= SF_POS_TEXT_MAX always suffices;
 * a smaller cap is cut short but NUL-terminated). Returns the digits'
 * length. */
size_t sf_pos_format(const sf_pos *p, char *out, size_t cap);

/* The stored form of p into out (SF_POS_STORED_MAX bytes suffice).
 * Returns its length, 1 + p->len. */
size_t sf_pos_encode(const sf_pos *p, uint8_t *out);

/* Read a stored form: in[0..n) must be exactly one (n == 1 + in[0]), at
 * most SF_POS_MAX bytes long, minimal (no leading zero byte) and not above
 * the largest position; else SF_ECORRUPT. */
int sf_pos_decode(const uint8_t *in, size_t n, sf_pos *out, sf_error *err);

#endif
