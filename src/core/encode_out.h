/*
 * encode_out.h - (internal to the record encoders, json_encode.c and
 * csv_encode.c) a bounded writer into the caller's buffer.
 *
 * Both encoders run for every row replay sends (and the JSON one for every
 * record the archive writes), so they write straight into a buffer the
 * caller sized, with no allocation and no stdio: a write past the end only
 * sets overflow, and the encoder then returns -1.
 */
#ifndef SF_ENCODE_OUT_H
#define SF_ENCODE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/money.h"
#include "core/record.h"
#include "core/timefmt.h"

typedef struct sf_out {
    char *p, *end;
    bool overflow;
} sf_out;

static inline void sf_out_put(sf_out *o, const char *s, size_t n)
{
    if ((size_t)(o->end - o->p) < n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

#define SF_OUT_LIT(o, lit) sf_out_put(o, lit, sizeof(lit) - 1)

static inline void sf_out_int(sf_out *o, long long v)
{
    char num[24], *p = num + sizeof num;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
    } while (u /= 10);
    if (v < 0)
        *--p = '-';
    sf_out_put(o, p, (size_t)(num + sizeof num - p));
}

/* "YYYY-MM-DD HH:MM:SS" of r's invoice date, without quotes. */
static inline void sf_out_date(sf_out *o, const sf_record *r)
{
    char date[SF_TIME_TEXT_LEN + 1];
    sf_time_format(r->invoice_date, date);
    sf_out_put(o, date, SF_TIME_TEXT_LEN);
}

/* r's unit price as a plain decimal ("2.55"), without quotes. */
static inline void sf_out_price(sf_out *o, const sf_record *r)
{
    char price[SF_MONEY_TEXT_MAX];
    size_t n = sf_format_milli(r->unit_price, false, price);
    sf_out_put(o, price, n);
}

/* NUL-terminate and return the length, or -1 if anything did not fit
 * (o->end was set one byte short of the buffer's end, for the NUL). */
static inline int sf_out_finish(sf_out *o, const char *buf)
{
    if (o->overflow)
        return -1;
    *o->p = '\0';
    return (int)(o->p - buf);
}

#endif
