/*
 * static.h - files the gateway serves as they are: the dashboard (web/) and
 * the OpenAPI document (docs/openapi.yaml as JSON), embedded in the binary
 * at build time.
 *
 * The build turns web/dist into a generated C file (web/embed.c writes it)
 * holding one sf_asset per file, so the binary needs nothing beside it at
 * run time: no CDN, no folder of files to install. The library only knows
 * this table's shape; the `shopflow` program links the generated table and
 * hands it to the gateway (sf_gateway_config.assets), so libshopflow and its
 * tests build without Node.js.
 */
#ifndef SF_GATEWAY_STATIC_H
#define SF_GATEWAY_STATIC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sf_asset {
    const char *path;         /* URL path: "/index.html", "/assets/app-H.js" */
    const char *content_type; /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
    const unsigned char *gzip; /* gzip of data, or NULL when not smaller */
    size_t gzip_len;
    const char *etag;      /* quoted: "\"0123456789abcdef\"" */
    const char *gzip_etag; /* the gzip form's own (a strong tag per encoding) */
    bool immutable;        /* a content-hashed name: cacheable for a year */
} sf_asset;

typedef struct sf_assets {
    const sf_asset *items; /* sorted by path */
    size_t count;
    const char *missing; /* when count is 0: why (the binary was built without them) */
} sf_assets;

/* The asset for a request path: "/" is "/index.html". NULL when absent. */
const sf_asset *sf_assets_find(const sf_assets *a, const char *url);

/* The tables the `shopflow` program links (generated at build time): the
 * dashboard's files, and the OpenAPI document (one file, /openapi.json,
 * made from docs/openapi.yaml by openapi/CMakeLists.txt). */
extern const sf_assets sf_web_assets;
extern const sf_assets sf_openapi_doc;

#endif
