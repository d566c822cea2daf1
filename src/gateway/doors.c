/*
 * doors.c - what every request passes before any route sees it: its head's
 * size and its body's framing.
 *
 * libmicrohttpd frames a body by the first Content-Length field and ignores
 * any other, and it takes a Transfer-Encoding other than "chunked" for a
 * body that lasts until the connection closes (so such a request is never
 * answered). Behind a proxy that frames by another field, either lets one
 * request carry a second one past the proxy (request smuggling). So a
 * request whose framing is not exactly one Content-Length or exactly
 * "Transfer-Encoding: chunked" is refused here, before its body is read,
 * and the connection is closed after the answer (its next bytes cannot be
 * trusted to start a request):
 *   - Content-Length more than once (even with equal values: RFC 9110 lets
 *     a server refuse that, and a client never needs it), or with
 *     Transfer-Encoding, or Transfer-Encoding more than once: 400;
 *   - a Transfer-Encoding other than chunked (gzip, "gzip, chunked"): 501.
 *
 * The headers are read in one pass over libmicrohttpd's list (the fields
 * every route needs are kept in r->h), which costs less than the lookups by
 * name it replaces, so the doors add nothing to a request that passes them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/internal.h"

static bool named(const char *key, const char *name)
{
    return strcasecmp(key, name) == 0;
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)value_size;
    req_headers *h = cls;
    h->fields++;
    const char **slot = NULL;
    switch (key_size) { /* the length first: most fields are none of these */
    case 6:
        slot = named(key, "expect") ? &h->expect : NULL;
        break;
    case 12:
        slot = named(key, "content-type") ? &h->content_type : NULL;
        break;
    case 13:
        slot = named(key, "authorization") ? &h->authorization : NULL;
        break;
    case 14:
        if (named(key, "content-length")) {
            slot = &h->content_length;
            h->content_lengths++;
        }
        break;
    case 16:
        if (named(key, "content-encoding")) {
            slot = &h->content_encoding;
            h->content_encodings++;
        }
        break;
    case 17:
        if (named(key, "transfer-encoding")) {
            slot = &h->transfer_encoding;
            h->transfer_encodings++;
        }
        break;
    }
    if (slot && !*slot)
        *slot = value ? value : "";
    return MHD_YES;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
    (void)kind;
    (void)key;
    (void)value;
    *(size_t *)cls += key_size + value_size + 2; /* '&' or '?', and '=' */
    return MHD_YES;
}

/* The request target's length: the path and its query (libmicrohttpd has
 * split the query into arguments; percent-escapes count once decoded, so
 * this may be a little under what was sent). */
static size_t target_length(request *r, const char *url)
{
    size_t n = strlen(url);
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &n);
    return n;
}

/* 414 or 431 when the head is over the limits, else 0. */
static unsigned head_refusal(request *r, const char *url, char *msg, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head = ci ? ci->header_size : 0;
    if (head > SF_URL_MAX) { /* the target may be over its own limit: only then measure it */
        size_t n = target_length(r, url);
        if (n > SF_URL_MAX) {
            snprintf(msg, cap, "the URL is %zu bytes; at most %d are served", n, SF_URL_MAX);
            return 414;
        }
    }
    if (head > SF_HEAD_MAX) {
        snprintf(msg, cap,
                 "the request line and header fields are %zu bytes; at most %d are served", head,
                 SF_HEAD_MAX);
        return 431;
    }
    if (r->h.fields > SF_HEADER_FIELDS_MAX) {
        snprintf(msg, cap, "the request has %u header fields; at most %d are served", r->h.fields,
                 SF_HEADER_FIELDS_MAX);
        return 431;
    }
    return 0;
}

/* Answer at once: the connection closes after it. */
static bool refuse(request *r, unsigned status, const char *code, const char *msg)
{
    sf_respond_error(r, status, code, msg, NULL);
    return true;
}

bool sf_doors_refuse(request *r, const char *url)
{
    req_headers *h = &r->h;
    *h = (req_headers){0};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, on_header, h);
    char msg[256];
    unsigned status = head_refusal(r, url, msg, sizeof msg);
    if (status)
        return refuse(r, status, status == 414 ? "uri_too_long" : "header_fields_too_large", msg);
    if (h->content_lengths > 1)
        return refuse(r, 400, "bad_framing",
                      "Content-Length appears more than once; send it once, or send "
                      "Transfer-Encoding: chunked");
    if (!h->transfer_encoding)
        return false;
    if (h->content_length)
        return refuse(r, 400, "bad_framing",
                      "Content-Length and Transfer-Encoding together; send one of them");
    if (h->transfer_encodings > 1)
        return refuse(r, 400, "bad_framing", "Transfer-Encoding appears more than once");
    if (strcasecmp(h->transfer_encoding, "chunked") != 0) {
        char q[64];
        snprintf(q, sizeof q, "%s", h->transfer_encoding); /* the message stays short */
        snprintf(msg, sizeof msg,
                 "Transfer-Encoding '%s' is not supported: send chunked (for a compressed "
                 "body: Content-Encoding: gzip)",
                 q);
        return refuse(r, 501, "not_implemented", msg);
    }
    return false;
}
