/*
 * text.c - UTF-8 validation and Latin-1 conversion (see text.h).
 *
 * Nearly every field is plain ASCII, so sf_text_copy first checks for that
 * eight bytes at a time and falls back to the full validator only when a byte
 * is NUL or has the high bit set.
 */
#include "core/text.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

int sf_encoding_parse(const char *name, sf_encoding *out)
{
    if (strcasecmp(name, "auto") == 0)
        *out = SF_ENC_AUTO;
    else if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0)
        *out = SF_ENC_UTF8;
    else if (strcasecmp(name, "latin1") == 0 || strcasecmp(name, "latin-1") == 0 ||
             strcasecmp(name, "iso-8859-1") == 0)
        *out = SF_ENC_LATIN1;
    else
        return -1;
    return 0;
}

bool sf_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - s) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += n + 1;
    }
    return true;
}

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

/* Latin-1 to UTF-8: bytes >= 0x80 become two bytes. */
static int copy_latin1(char *dst, size_t cap, const unsigned char *src, size_t len,
                       const char **why)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned c = src[i];
        size_t need = c < 0x80 ? 1 : 2;
        if (o + need > cap)
            return fail(why, "is too long");
        if (c < 0x80) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = (char)(0xC0 | (c >> 6));
            dst[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    dst[o] = '\0';
    return (int)o;
}

/* True when s has no NUL and no byte >= 0x80: eight bytes at a time. */
static bool plain_ascii(const unsigned char *s, size_t n)
{
    const uint64_t high = 0x8080808080808080u, ones = 0x0101010101010101u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if ((w & high) || ((w - ones) & ~w & high))
            return false;
    }
    for (; i < n; i++)
        if (s[i] == 0 || (s[i] & 0x80))
            return false;
    return true;
}

int sf_text_copy(char *dst, size_t cap, const char *src, size_t len, sf_encoding enc,
                 const char **why)
{
    const unsigned char *s = (const unsigned char *)src;
    if (len <= cap && plain_ascii(s, len)) {
        memcpy(dst, src, len);
        dst[len] = '\0';
        return (int)len;
    }
    bool ascii = true;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0)
            return fail(why, "contains a NUL byte");
        if (s[i] & 0x80)
            ascii = false;
    }
    if (!ascii && (enc == SF_ENC_LATIN1 || (enc == SF_ENC_AUTO && !sf_utf8_valid(src, len))))
        return copy_latin1(dst, cap, s, len, why);
    if (!ascii && enc == SF_ENC_UTF8 && !sf_utf8_valid(src, len))
        return fail(why, "is not valid UTF-8");
    if (len > cap)
        return fail(why, "is too long");
    memcpy(dst, src, len);
    dst[len] = '\0';
    return (int)len;
}
