/*
 * buf.c - the growable buffer (see buf.h). Capacity doubles, so building an
 * answer of n bytes costs O(n) copies and O(log n) allocations.
 */
#include "core/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/money.h"

/* Make room for n more bytes plus the NUL. */
static bool reserve(sf_buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void sf_buf_add(sf_buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sf_buf_puts(sf_buf *b, const char *s)
{
    sf_buf_add(b, s, strlen(s));
}

void sf_buf_printf(sf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        sf_buf_add(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Whether byte c must be escaped in a JSON string. */
static bool json_escaped(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20;
}

void sf_buf_json_string(sf_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!reserve(b, n * 6 + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* the bytes up to the next one to escape go in one copy */
        while (run < n && !json_escaped((unsigned char)s[run]))
            run++;
        memcpy(o, s + i, run - i);
        o += run - i;
        if (run == n)
            break;
        unsigned char c = (unsigned char)s[run];
        *o++ = '\\';
        if (c == '"' || c == '\\') {
            *o++ = (char)c;
        } else {
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        i = run + 1;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void sf_buf_int(sf_buf *b, long long v)
{
    char t[24], *p = t + sizeof t;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    sf_buf_add(b, p, (size_t)(t + sizeof t - p));
}

void sf_buf_i128(sf_buf *b, sf_i128 v)
{
    if (sf_i128_is_int64(v)) {
        sf_buf_int(b, (long long)v);
        return;
    }
    char text[SF_MONEY_TEXT_MAX];
    sf_buf_add(b, text, sf_format_i128(v, text));
}

void sf_buf_json_milli(sf_buf *b, sf_i128 milli)
{
    char text[SF_MONEY_TEXT_MAX + 2];
    size_t n = sf_format_milli(milli, false, text + 1);
    text[0] = '"';
    text[n + 1] = '"';
    sf_buf_add(b, text, n + 2);
}

bool sf_buf_failed(const sf_buf *b)
{
    return b->failed;
}

void sf_buf_reset(sf_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

char *sf_buf_take(sf_buf *b, size_t *len)
{
    char *p = b->failed ? NULL : b->data;
    if (len)
        *len = p ? b->len : 0;
    if (!p)
        free(b->data);
    *b = (sf_buf)SF_BUF_INIT;
    return p;
}

void sf_buf_free(sf_buf *b)
{
    free(b->data);
    *b = (sf_buf)SF_BUF_INIT;
}
