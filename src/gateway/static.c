/*
 * static.c - serving the embedded dashboard files (static.h): GET / and
 * /assets/..., with the headers a browser needs to cache them safely; and
 * the OpenAPI document, GET /openapi.json, the same way (no-cache and its
 * ETag, like index.html: a new binary's document shows at once).
 *
 *   index.html        Cache-Control: no-cache (revalidated each load with its
 *                     ETag, so a new binary's dashboard shows at once)
 *   /assets/NAME-HASH Cache-Control: max-age one year, immutable (the name
 *                     changes when the content does)
 *   every file        Content-Security-Policy: only this origin's scripts,
 *                     styles and connections, no inline script or style, no
 *                     framing; X-Content-Type-Options: nosniff; no Referer
 *
 * The bytes are served from the binary's read-only data without a copy; a
 * client that accepts gzip gets the form compressed at build time.
 */
#include <string.h>
#include <strings.h>

#include "gateway/internal.h"
#include "gateway/static.h"

/* The dashboard fetches only its own origin; nothing inline runs. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; connect-src 'self'; font-src 'self'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const sf_asset *sf_assets_find(const sf_assets *a, const char *url)
{
    if (!a || a->count == 0)
        return NULL;
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    size_t lo = 0, hi = a->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(url, a->items[mid].path);
        if (c == 0)
            return &a->items[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Does an Accept-Encoding value accept gzip? Tokens are compared without
 * case; "gzip;q=0" refuses it. */
static bool accepts_gzip(const char *ae)
{
    while (ae && *ae) {
        ae += strspn(ae, " \t,");
        size_t n = strcspn(ae, ",;");
        size_t t = n;
        while (t > 0 && (ae[t - 1] == ' ' || ae[t - 1] == '\t'))
            t--;
        bool gzip = (t == 4 && strncasecmp(ae, "gzip", 4) == 0) ||
                    (t == 6 && strncasecmp(ae, "x-gzip", 6) == 0);
        const char *end = ae + strcspn(ae, ",");
        if (gzip) {
            const char *q = ae + n;
            if (*q == ';') {
                q += 1 + strspn(q + 1, " \t");
                if (strncasecmp(q, "q=0", 3) == 0 && strspn(q + 3, ".0") == (size_t)(end - q - 3))
                    return false;
            }
            return true;
        }
        ae = end;
    }
    return false;
}

/* Does If-None-Match (a list of tags, or "*") name etag? */
static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    size_t elen = strlen(etag);
    while (*inm) {
        inm += strspn(inm, " \t,");
        if (*inm == '*')
            return true;
        if (strncmp(inm, "W/", 2) == 0) /* weak comparison, as for GET */
            inm += 2;
        size_t n = strcspn(inm, ",");
        while (n > 0 && (inm[n - 1] == ' ' || inm[n - 1] == '\t'))
            n--;
        if (n == elen && memcmp(inm, etag, n) == 0)
            return true;
        inm += strcspn(inm, ",");
    }
    return false;
}

static void add_headers(struct MHD_Response *resp, const sf_asset *a, const char *etag)
{
    MHD_add_response_header(resp, "Content-Type", a->content_type);
    MHD_add_response_header(resp, "Cache-Control",
                            a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    MHD_add_response_header(resp, "ETag", etag);
    if (a->gzip)
        MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static const char *header(request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Queue a, or a 304 when the client's copy is fresh. */
static enum MHD_Result serve(request *r, const sf_asset *a)
{
    bool gz = a->gzip && accepts_gzip(header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    const char *etag = gz ? a->gzip_etag : a->etag;
    bool fresh = etag_matches(header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
    size_t len = fresh ? 0 : gz ? a->gzip_len : a->len;
    const void *data = fresh ? "" : gz ? (const void *)a->gzip : (const void *)a->data;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    add_headers(resp, a, etag);
    if (gz && !fresh)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    unsigned status = fresh ? 304 : 200;
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = status;
    return rc;
}

enum MHD_Result sf_static_route(request *r, const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return sf_respond_not_allowed(r, "GET, HEAD");
    const sf_assets *all = r->g->cfg.assets;
    const sf_asset *a = sf_assets_find(all, url);
    if (!a) {
        if (all && all->count == 0 && all->missing && strcmp(url, "/") == 0)
            return sf_respond_error(r, 404, "not_found", all->missing, NULL);
        return sf_respond_error(r, 404, "not_found", "no such file", NULL);
    }
    return serve(r, a);
}

enum MHD_Result sf_openapi_route(request *r, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return sf_respond_not_allowed(r, "GET, HEAD");
    const sf_assets *doc = r->g->cfg.openapi;
    const sf_asset *a = sf_assets_find(doc, "/openapi.json");
    if (!a)
        return sf_respond_error(
            r, 404, "not_found",
            doc && doc->missing ? doc->missing : "this server has no OpenAPI document", NULL);
    return serve(r, a);
}
