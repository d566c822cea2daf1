/*
 * json_encode.c - the canonical JSON form of a record (see json.h).
 *
 * Written by hand into the caller's buffer rather than with yajl_gen: the
 * output is one flat object of known fields whose texts are already valid
 * UTF-8, so all that is needed is RFC 8259 string escaping, and this runs for
 * every record the gateway appends and the archive writes, where a generator
 * handle per call would mean an allocation per record.
 */
#include "core/json.h"

#include <stdio.h>
#include <string.h>

#include "core/encode_out.h"

typedef sf_out out;
#define put     sf_out_put
#define PUT_LIT SF_OUT_LIT

/* Whether any byte of the 8 in w is a control character, '"' or '\\'
 * (the bytes JSON escapes): the classic zero-byte test on w ^ c and on the
 * bytes below 0x20, so that text needing no escape (nearly all of it) is
 * passed over 8 bytes at a time. */
static bool needs_escape8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t zero_q = (quote - ones) & ~quote, zero_b = (bslash - ones) & ~bslash;
    uint64_t below = (w - ones * 0x20) & ~w; /* high bit set where a byte < 0x20 */
    return ((zero_q | zero_b | below) & highs) != 0;
}

/* The escaped form of s[0..n), without quotes. */
static void put_string_bytes(out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0, i = 0;
    for (uint64_t w; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        if (needs_escape8(w))
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            PUT_LIT(o, "\\\"");
            break;
        case '\\':
            PUT_LIT(o, "\\\\");
            break;
        case '\n':
            PUT_LIT(o, "\\n");
            break;
        case '\r':
            PUT_LIT(o, "\\r");
            break;
        case '\t':
            PUT_LIT(o, "\\t");
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, u, sizeof u);
        }
        }
    }
    put(o, s + start, n - start);
}

static void put_string(out *o, const char *s, size_t n)
{
    PUT_LIT(o, "\"");
    put_string_bytes(o, s, n);
    PUT_LIT(o, "\"");
}

size_t sf_json_quote(const char *s, char *buf, size_t cap)
{
    if (cap < 3)
        return 0;
    /* Keep room for the closing quote and the NUL: escape whole characters
     * only while one more escape (6 bytes) still fits. */
    out o = {buf, buf + cap - 2, false};
    PUT_LIT(&o, "\"");
    size_t n = strlen(s);
    for (size_t i = 0, len; i < n; i += len) {
        unsigned char c = (unsigned char)s[i];
        len = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; /* whole characters only */
        if (i + len > n || (size_t)(o.end - o.p) < 6 * len)
            break;
        put_string_bytes(&o, s + i, len);
    }
    *o.p++ = '"';
    *o.p = '\0';
    return (size_t)(o.p - buf);
}

int sf_json_encode(const sf_record *r, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    out o = {buf, buf + cap - 1, false}; /* keep a byte for the NUL */
    PUT_LIT(&o, "{");
    if (r->event_id_len) {
        PUT_LIT(&o, "\"event_id\":");
        put_string(&o, r->event_id, r->event_id_len);
        PUT_LIT(&o, ",");
    }
    PUT_LIT(&o, "\"invoice_no\":");
    put_string(&o, r->invoice_no, r->invoice_no_len);
    PUT_LIT(&o, ",\"stock_code\":");
    put_string(&o, r->stock_code, r->stock_code_len);
    PUT_LIT(&o, ",\"description\":");
    put_string(&o, r->description, r->description_len);
    PUT_LIT(&o, ",\"quantity\":");
    sf_out_int(&o, r->quantity);
    PUT_LIT(&o, ",\"invoice_date\":\"");
    sf_out_date(&o, r);
    PUT_LIT(&o, "\",\"unit_price\":\"");
    sf_out_price(&o, r);
    PUT_LIT(&o, "\",\"customer_id\":");
    if (r->customer_id == SF_NO_CUSTOMER)
        PUT_LIT(&o, "null");
    else
        sf_out_int(&o, r->customer_id);
    PUT_LIT(&o, ",\"country\":");
    put_string(&o, r->country, r->country_len);
    PUT_LIT(&o, "}");
    return sf_out_finish(&o, buf);
}
