/*
 * pack.c - binary record form (see pack.h).
 */
#include "core/pack.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t sf_record_packed_size(const sf_record *r)
{
    return SF_PACK_HEADER + r->event_id_len + r->invoice_no_len + r->stock_code_len +
           r->country_len + r->description_len;
}

int sf_packed_keys(const uint8_t *buf, size_t len, const char **event_id, size_t *event_id_len,
                   const char **invoice_no, size_t *invoice_no_len)
{
    if (len < SF_PACK_HEADER || buf[0] != SF_PACK_VERSION ||
        (size_t)SF_PACK_HEADER + buf[3] + buf[28] > len)
        return -1;
    *event_id = (const char *)buf + SF_PACK_HEADER;
    *event_id_len = buf[3];
    *invoice_no = (const char *)buf + SF_PACK_HEADER + buf[3];
    *invoice_no_len = buf[28];
    return 0;
}

int sf_record_pack(const sf_record *r, uint8_t *buf, size_t cap)
{
    size_t len = sf_record_packed_size(r);
    if (len > cap)
        return -1;
    buf[0] = SF_PACK_VERSION;
    buf[1] = r->kind;
    buf[2] = r->flags;
    buf[3] = r->event_id_len;
    put_u64(buf + 4, (uint64_t)r->invoice_date);
    put_u64(buf + 12, (uint64_t)r->unit_price);
    put_u32(buf + 20, (uint32_t)r->quantity);
    put_u32(buf + 24, (uint32_t)r->customer_id);
    buf[28] = r->invoice_no_len;
    buf[29] = r->stock_code_len;
    buf[30] = r->country_len;
    put_u16(buf + 31, r->description_len);
    uint8_t *p = buf + SF_PACK_HEADER;
    memcpy(p, r->event_id, r->event_id_len);
    p += r->event_id_len;
    memcpy(p, r->invoice_no, r->invoice_no_len);
    p += r->invoice_no_len;
    memcpy(p, r->stock_code, r->stock_code_len);
    p += r->stock_code_len;
    memcpy(p, r->country, r->country_len);
    p += r->country_len;
    memcpy(p, r->description, r->description_len);
    return (int)len;
}

/* Copy a text of n bytes from *p into dst (cap), NUL-terminated. */
static int take_text(const uint8_t **p, size_t n, char *dst, size_t cap)
{
    if (n > cap || memchr(*p, 0, n))
        return -1;
    memcpy(dst, *p, n);
    dst[n] = '\0';
    *p += n;
    return 0;
}

int sf_record_unpack(const uint8_t *buf, size_t len, sf_record *r)
{
    if (len < SF_PACK_HEADER || buf[0] != SF_PACK_VERSION || buf[1] > SF_KIND_ADJUSTMENT)
        return -1;
    r->kind = buf[1];
    r->flags = buf[2];
    r->event_id_len = buf[3];
    r->invoice_date = (int64_t)get_u64(buf + 4);
    r->unit_price = (int64_t)get_u64(buf + 12);
    r->quantity = (int32_t)get_u32(buf + 20);
    r->customer_id = (int32_t)get_u32(buf + 24);
    r->invoice_no_len = buf[28];
    r->stock_code_len = buf[29];
    r->country_len = buf[30];
    r->description_len = get_u16(buf + 31);
    size_t need = SF_PACK_HEADER + (size_t)r->event_id_len + r->invoice_no_len + r->stock_code_len +
                  r->country_len + r->description_len;
    if (need != len)
        return -1;
    const uint8_t *p = buf + SF_PACK_HEADER;
    if (take_text(&p, r->event_id_len, r->event_id, SF_EVENT_ID_MAX) < 0 ||
        take_text(&p, r->invoice_no_len, r->invoice_no, SF_INVOICE_NO_MAX) < 0 ||
        take_text(&p, r->stock_code_len, r->stock_code, SF_STOCK_CODE_MAX) < 0 ||
        take_text(&p, r->country_len, r->country, SF_COUNTRY_MAX) < 0 ||
        take_text(&p, r->description_len, r->description, SF_DESCRIPTION_MAX) < 0)
        return -1;
    return 0;
}
