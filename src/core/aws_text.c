/*
 * aws_text.c - the text an AWS request is built from and its answer read
 * with: SigV4's percent-encoding, the canonical query, SHA-256 in hex, and
 * the element text of S3's flat XML answers.
 *
 * libcurl 7.88 signs the path and query exactly as given, so a request must
 * already be in canonical form when it reaches the client; these builders
 * are what make it so. The XML reader is deliberately tiny: S3's answers
 * (ListObjectsV2, Error, CopyObjectResult) are flat, regular documents, and
 * the adapters only ever need "the text of the next <Key>".
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/aws.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

void sf_aws_uri_encode(sf_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0; /* bytes kept as they are, added in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            run++;
            continue;
        }
        sf_buf_add(b, s + i - run, run);
        run = 0;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        sf_buf_add(b, esc, 3);
    }
    sf_buf_add(b, s + n - run, run);
}

static int param_cmp(const void *pa, const void *pb)
{
    const sf_aws_param *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value ? a->value : "", b->value ? b->value : "");
}

void sf_aws_query(sf_buf *b, sf_aws_param *params, size_t n)
{
    if (n > 1)
        qsort(params, n, sizeof *params, param_cmp);
    for (size_t i = 0; i < n; i++) {
        const char *v = params[i].value ? params[i].value : "";
        if (i > 0)
            sf_buf_add(b, "&", 1);
        sf_aws_uri_encode(b, params[i].name, strlen(params[i].name), false);
        sf_buf_add(b, "=", 1);
        sf_aws_uri_encode(b, v, strlen(v), false);
    }
}

void sf_aws_sha256_hex(const void *data, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!EVP_Digest(data ? data : "", n, md, &len, EVP_sha256(), NULL) || len != 32) {
        out[0] = '\0'; /* only without memory: the request then fails its signature */
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Append the text t[0..n) with the five XML entities and numeric character
 * references decoded. */
static void xml_decode(sf_buf *out, const char *t, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(t + i, '&', n - i);
        size_t upto = amp ? (size_t)(amp - t) : n;
        sf_buf_add(out, t + i, upto - i);
        if (!amp)
            return;
        i = upto;
        size_t k;
        for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
            size_t el = strlen(ents[k].ent);
            if (n - i >= el && memcmp(t + i, ents[k].ent, el) == 0) {
                sf_buf_add(out, &ents[k].c, 1);
                i += el;
                break;
            }
        }
        if (k < sizeof ents / sizeof ents[0])
            continue;
        const char *semi = memchr(t + i, ';', n - i);
        unsigned long cp = 0;
        if (semi && n - i > 3 && t[i + 1] == '#') {
            char num[16] = {0};
            size_t len = (size_t)(semi - (t + i + 2));
            if (len > 0 && len < sizeof num) {
                memcpy(num, t + i + 2, len);
                char *end;
                cp = num[0] == 'x' ? strtoul(num + 1, &end, 16) : strtoul(num, &end, 10);
                if (*end != '\0')
                    cp = 0;
            }
        }
        if (cp == 0 || cp > 0x10FFFF) {
            sf_buf_add(out, "&", 1);
            i++;
            continue;
        }
        unsigned char u[4];
        size_t ul;
        if (cp < 0x80)
            u[0] = (unsigned char)cp, ul = 1;
        else if (cp < 0x800)
            u[0] = (unsigned char)(0xC0 | (cp >> 6)), u[1] = (unsigned char)(0x80 | (cp & 0x3F)),
            ul = 2;
        else if (cp < 0x10000)
            u[0] = (unsigned char)(0xE0 | (cp >> 12)),
            u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            u[2] = (unsigned char)(0x80 | (cp & 0x3F)), ul = 3;
        else
            u[0] = (unsigned char)(0xF0 | (cp >> 18)),
            u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
            u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            u[3] = (unsigned char)(0x80 | (cp & 0x3F)), ul = 4;
        sf_buf_add(out, u, ul);
        i = (size_t)(semi - t) + 1;
    }
}

/* The first occurrence of needle[0..nl) in hay[0..hl), or NULL. */
static const char *find(const char *hay, size_t hl, const char *needle, size_t nl)
{
    if (nl == 0 || hl < nl)
        return NULL;
    const char *end = hay + hl - nl;
    for (const char *p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, nl) == 0)
            return p;
    }
    return NULL;
}

int sf_aws_xml_text(const char *xml, size_t len, const char *tag, size_t *pos, sf_buf *out)
{
    char open[80], close[82];
    size_t tl = strlen(tag);
    if (tl + 3 > sizeof open)
        return 0;
    open[0] = '<';
    memcpy(open + 1, tag, tl);
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, tl);
    close[tl + 2] = '>';
    sf_buf_reset(out);
    size_t at = *pos;
    while (at < len) {
        const char *o = find(xml + at, len - at, open, tl + 1);
        if (!o)
            return 0;
        size_t after = (size_t)(o - xml) + tl + 1;
        if (after >= len)
            return 0;
        if (xml[after] == '/' && after + 1 < len && xml[after + 1] == '>') { /* <Tag/> */
            *pos = after + 2;
            sf_buf_add(out, "", 0);
            return sf_buf_failed(out) ? SF_ENOMEM : 1;
        }
        if (xml[after] != '>') { /* <TagLonger> or <Tag attr>: not this one */
            at = after;
            continue;
        }
        const char *c = find(xml + after + 1, len - after - 1, close, tl + 3);
        if (!c)
            return 0;
        xml_decode(out, xml + after + 1, (size_t)(c - (xml + after + 1)));
        *pos = (size_t)(c - xml) + tl + 3;
        if (sf_buf_failed(out))
            return SF_ENOMEM;
        if (!out->data) /* an empty element: still a valid, empty string */
            sf_buf_add(out, "", 0);
        return 1;
    }
    return 0;
}
