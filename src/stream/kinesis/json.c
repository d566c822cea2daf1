/*
 * json.c - the Kinesis adapter's JSON and base64 helpers. Kinesis speaks
 * JSON (x-amz-json-1.1) with record data in base64; answers are read with
 * yajl's tree parser (a GetRecords answer holds at most 10,000 records,
 * 10 MiB), requests are written with sf_buf.
 */
#include <stdlib.h>
#include <string.h>

#include "stream/kinesis/kinesis.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sf_kinesis_b64_encode(sf_buf *b, const uint8_t *d, size_t n)
{
    char out[4];
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        out[0] = b64[v >> 18], out[1] = b64[v >> 12 & 63], out[2] = b64[v >> 6 & 63];
        out[3] = b64[v & 63];
        sf_buf_add(b, out, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        out[0] = b64[v >> 18], out[1] = b64[v >> 12 & 63];
        out[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[3] = '=';
        sf_buf_add(b, out, 4);
    }
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

long sf_kinesis_b64_decode(const char *s, size_t n, uint8_t *out)
{
    while (n && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

yajl_val sf_kinesis_parse(const sf_buf *resp, const char *op, sf_error *err)
{
    char *text = malloc(resp->len + 1);
    if (!text) {
        sf_error_set(err, SF_ENOMEM, "out of memory reading a Kinesis %s answer", op);
        return NULL;
    }
    memcpy(text, resp->data ? resp->data : "", resp->len);
    text[resp->len] = '\0';
    char why[128] = "";
    yajl_val v = yajl_tree_parse(text, why, sizeof why);
    free(text);
    if (!v || !YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        sf_error_set(err, SF_EIO, "Kinesis %s: an answer that is not a JSON object (%s)", op,
                     why[0] ? why : "no object");
        return NULL;
    }
    return v;
}

const char *sf_kinesis_str(yajl_val v, const char *const *path)
{
    yajl_val s = yajl_tree_get(v, (const char **)path, yajl_t_string);
    return s ? YAJL_GET_STRING(s) : NULL;
}

yajl_val sf_kinesis_array(yajl_val v, const char *const *path)
{
    return yajl_tree_get(v, (const char **)path, yajl_t_array);
}

long long sf_kinesis_int(yajl_val v, const char *const *path, long long dflt)
{
    yajl_val n = yajl_tree_get(v, (const char **)path, yajl_t_number);
    return n && YAJL_IS_INTEGER(n) ? YAJL_GET_INTEGER(n) : dflt;
}
