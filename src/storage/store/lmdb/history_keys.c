/*
 * history_keys.c - the LMDB history store's keys and values, encoded and
 * decoded (the layout: history_keys.h).
 */
#include "storage/store/lmdb/history_keys.h"

#include <string.h>

#include "core/bytes.h"

#define HEADER_FIXED    50 /* version 2, up to the country */
#define HEADER_V1       34
#define HEADER_VERSION  2
#define QUARANTINE_HEAD (SF_STORE_TIME_LEN + 2) /* the time, the reason's length */

size_t sf_history_position_key(uint32_t partition, uint8_t *key)
{
    key[0] = SF_HISTORY_KEY_POSITION;
    sf_put_be32(key + 1, partition);
    return SF_HISTORY_POSITION_KEY_LEN;
}

/* POS (history_keys.h) into out; its length. */
static size_t put_pos(const sf_pos *pos, uint8_t *out, bool in_key)
{
    uint64_t v;
    if (sf_pos_u64(pos, &v)) {
        sf_put_be64(out, v);
        return 8;
    }
    size_t n = 0;
    if (in_key) {
        memset(out, 0xff, 8);
        n = 8;
    }
    return n + sf_pos_encode(pos, out + n);
}

/* POS at in[0..len) (all of it) into *out; false if it is not one. */
static bool get_pos(const uint8_t *in, size_t len, bool in_key, sf_pos *out)
{
    if (len == 8) {
        sf_pos_from_u64(out, sf_get_be64(in));
        return true;
    }
    if (in_key) {
        static const uint8_t wide[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        if (len < 8 || memcmp(in, wide, 8) != 0)
            return false;
        in += 8, len -= 8;
    }
    /* written so only when wider than 64 bits */
    return sf_pos_decode(in, len, out, NULL) == 0 && out->len > 8;
}

size_t sf_history_position_encode(const sf_pos *next, uint8_t *val)
{
    return put_pos(next, val, false);
}

int sf_history_position_decode(const void *val, size_t len, sf_pos *next, sf_error *err)
{
    if (!get_pos(val, len, false, next))
        return sf_error_set(err, SF_ECORRUPT,
                            "history: a stored position of %zu bytes is not one (8 bytes, or "
                            "the stored form of a position wider than 64 bits)",
                            len);
    return 0;
}

size_t sf_history_invoice_key(const char *invoice_no, size_t len, uint8_t *key)
{
    key[0] = SF_HISTORY_KEY_INVOICE;
    memcpy(key + 1, invoice_no, len);
    return 1 + len;
}

size_t sf_history_line_prefix(const char *invoice_no, size_t len, uint8_t *key)
{
    key[0] = SF_HISTORY_KEY_LINE;
    memcpy(key + 1, invoice_no, len);
    key[1 + len] = 0;
    return 2 + len;
}

size_t sf_history_line_key(const char *invoice_no, size_t len, uint32_t line, uint8_t *key)
{
    size_t n = sf_history_line_prefix(invoice_no, len, key);
    sf_put_be32(key + n, line);
    return n + 4;
}

size_t sf_history_customer_prefix(int32_t customer, uint8_t *key)
{
    key[0] = SF_HISTORY_KEY_CUSTOMER;
    sf_put_be32(key + 1, (uint32_t)customer);
    return SF_HISTORY_CUSTOMER_PREFIX_LEN;
}

size_t sf_history_customer_key(int32_t customer, int64_t date, const char *invoice_no, size_t len,
                               uint8_t *key)
{
    size_t n = sf_history_customer_prefix(customer, key);
    sf_put_be64(key + n, (uint64_t)date + SF_HISTORY_DATE_BIAS);
    memcpy(key + n + 8, invoice_no, len);
    return n + 8 + len;
}

int sf_history_customer_key_parse(const void *key, size_t klen, int64_t *date,
                                  const char **invoice_no, size_t *len, sf_error *err)
{
    const uint8_t *k = key;
    enum { HEAD = SF_HISTORY_CUSTOMER_PREFIX_LEN + 8 };
    if (klen < HEAD + 1 || klen > SF_HISTORY_CUSTOMER_KEY_MAX || k[0] != SF_HISTORY_KEY_CUSTOMER)
        return sf_error_set(err, SF_ECORRUPT, "history: a damaged customer index key");
    *date = (int64_t)(sf_get_be64(k + SF_HISTORY_CUSTOMER_PREFIX_LEN) - SF_HISTORY_DATE_BIAS);
    *invoice_no = (const char *)k + HEAD;
    *len = klen - HEAD;
    return 0;
}

static size_t put(uint8_t *buf, size_t at, const void *field, size_t size)
{
    memcpy(buf + at, field, size);
    return at + size;
}

size_t sf_history_encode_header(const sf_invoice_header *h, uint8_t *buf)
{
    size_t n = put(buf, 0, &h->date, 8);
    n = put(buf, n, &h->total, 16);
    n = put(buf, n, &h->units, 16);
    n = put(buf, n, &h->customer_id, 4);
    n = put(buf, n, &h->lines, 4);
    n = put(buf, n, &h->kind, 1);
    n = put(buf, n, &h->country_len, 1);
    n = put(buf, n, h->country, h->country_len);
    buf[n++] = 0;
    buf[n++] = HEADER_VERSION;
    return n;
}

static int damaged(sf_error *err, size_t len, int version)
{
    return sf_error_set(err, SF_ECORRUPT, "a damaged invoice header (%zu bytes, version %d)", len,
                        version);
}

/* Version 1: the 64-bit totals widened. */
static int decode_v1(const uint8_t *b, size_t len, sf_invoice_header *h, sf_error *err)
{
    int64_t total, units;
    if (len < HEADER_V1 + 1 || len != HEADER_V1 + 1u + b[HEADER_V1] ||
        b[HEADER_V1] > SF_COUNTRY_MAX)
        return damaged(err, len, 1);
    memcpy(&h->date, b, 8);
    memcpy(&total, b + 8, 8);
    memcpy(&units, b + 16, 8);
    memcpy(&h->customer_id, b + 24, 4);
    memcpy(&h->lines, b + 28, 4);
    h->kind = b[32];
    h->total = total, h->units = units;
    h->country_len = b[HEADER_V1];
    memcpy(h->country, b + HEADER_V1 + 1, h->country_len);
    h->country[h->country_len] = '\0';
    return 0;
}

int sf_history_decode_header(const void *val, size_t len, sf_invoice_header *h, sf_error *err)
{
    const uint8_t *b = val;
    if (len < 2 || b[len - 2] != 0)
        return decode_v1(b, len, h, err);
    if (b[len - 1] != HEADER_VERSION || len < HEADER_FIXED + 2 ||
        len != HEADER_FIXED + 2u + b[HEADER_FIXED - 1] || b[HEADER_FIXED - 1] > SF_COUNTRY_MAX)
        return damaged(err, len, b[len - 1]);
    memcpy(&h->date, b, 8);
    memcpy(&h->total, b + 8, 16);
    memcpy(&h->units, b + 24, 16);
    memcpy(&h->customer_id, b + 40, 4);
    memcpy(&h->lines, b + 44, 4);
    h->kind = b[48];
    h->country_len = b[HEADER_FIXED - 1];
    memcpy(h->country, b + HEADER_FIXED, h->country_len);
    h->country[h->country_len] = '\0';
    return 0;
}

size_t sf_history_quarantine_key(uint32_t partition, const sf_pos *pos, uint8_t *key)
{
    key[0] = SF_HISTORY_KEY_QUARANTINE;
    sf_put_be32(key + 1, partition);
    return 5 + put_pos(pos, key + 5, true);
}

size_t sf_history_quarantine_encode(const sf_history_quarantined *q, uint8_t *val)
{
    size_t rlen = q->reason_len > UINT16_MAX ? UINT16_MAX : q->reason_len;
    if (val) {
        memcpy(val, q->at, SF_STORE_TIME_LEN);
        val[QUARANTINE_HEAD - 2] = (uint8_t)(rlen >> 8);
        val[QUARANTINE_HEAD - 1] = (uint8_t)rlen;
        memcpy(val + QUARANTINE_HEAD, q->reason, rlen);
        memcpy(val + QUARANTINE_HEAD + rlen, q->data, q->len);
    }
    return QUARANTINE_HEAD + rlen + q->len;
}

int sf_history_quarantine_decode(const void *key, size_t klen, const void *val, size_t vlen,
                                 sf_history_quarantined *q, sf_error *err)
{
    const uint8_t *k = key, *v = val;
    if (klen < SF_HISTORY_QUARANTINE_KEY_LEN || k[0] != SF_HISTORY_KEY_QUARANTINE ||
        vlen < QUARANTINE_HEAD || !get_pos(k + 5, klen - 5, true, &q->pos))
        return sf_error_set(err, SF_ECORRUPT, "history: a damaged quarantine entry");
    size_t rlen = (size_t)v[QUARANTINE_HEAD - 2] << 8 | v[QUARANTINE_HEAD - 1];
    if (rlen > vlen - QUARANTINE_HEAD)
        return sf_error_set(err, SF_ECORRUPT, "history: a damaged quarantine entry");
    q->partition = (uint32_t)k[1] << 24 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 8 | k[4];
    q->at = (const char *)v;
    q->reason = (const char *)v + QUARANTINE_HEAD;
    q->reason_len = rlen;
    q->data = v + QUARANTINE_HEAD + rlen;
    q->len = vlen - QUARANTINE_HEAD - rlen;
    return 0;
}
