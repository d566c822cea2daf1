/*
 * buf.h - a growable byte buffer for building answers (JSON bodies, report
 * text) whose size is not known in advance.
 *
 * Errors are sticky: after a failed allocation every append is a no-op and
 * sf_buf_failed() says so, so a builder can append freely and check once at
 * the end. The text is always NUL-terminated when not failed.
 *
 * Ownership: the buffer owns data; sf_buf_free releases it, sf_buf_take
 * hands it to the caller (who frees it with free()).
 */
#ifndef SF_BUF_H
#define SF_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/money.h"

typedef struct sf_buf {
    char *data;
    size_t len, cap;
    bool failed;
} sf_buf;

#define SF_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

/* Append n bytes; a string; printf-style text; a JSON-quoted string. */
void sf_buf_add(sf_buf *b, const void *p, size_t n);
void sf_buf_puts(sf_buf *b, const char *s);
void sf_buf_printf(sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sf_buf_json_string(sf_buf *b, const char *s, size_t n);

/* A whole number in decimal, without printf (answers render thousands). */
void sf_buf_int(sf_buf *b, long long v);

/* A 128-bit total (money.h) in decimal. */
void sf_buf_i128(sf_buf *b, sf_i128 v);

/* Milli-units as an exact JSON decimal string: 139120 -> "139.12"; any
 * 128-bit total. */
void sf_buf_json_milli(sf_buf *b, sf_i128 milli);

/* True when an allocation failed (the content is then incomplete). */
bool sf_buf_failed(const sf_buf *b);

/* Forget the content, keep the memory. */
void sf_buf_reset(sf_buf *b);

/* Hand over data (NULL if failed or never added to) and reset b to empty. */
char *sf_buf_take(sf_buf *b, size_t *len);

void sf_buf_free(sf_buf *b);

#endif
