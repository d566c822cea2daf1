/*
 * gateway.h - the HTTP gateway (`shopflow serve`): ingest into the stream,
 * health, readiness and metrics.
 *
 * One libmicrohttpd daemon with a small poll() thread pool (server.c says
 * why not epoll), speaking HTTP, or HTTPS when given a certificate (tls.h). A POST is decoded as
 * its body arrives (the same decoder as `check`), then its records go to the stream as one append;
 * the connection is suspended until the append is durable and resumed from the stream's commit
 * thread, so no server thread waits on a disk and thousands of keep-alive clients can share one
 * fsync.
 *
 * Routes (docs/api.md):
 *   POST /v1/transactions   ingest (key role ingest or admin)
 *   GET  /v1/invoices/{no}, /v1/customers/{id}/invoices[/{no}]
 *                           purchase history (analyst or admin key, or the
 *                           customer's own token)
 *   GET  /v1/bi/{question}  BI answers from the warehouse (analyst or admin)
 *   GET  /healthz           the process is up
 *   GET  /readyz            the stream accepts writes
 *   GET  /metrics           Prometheus text
 *   GET  /openapi.json      the API's OpenAPI document (docs/openapi.yaml;
 *                           static.c), when cfg.openapi is set
 *   GET  /, /assets/...     the dashboard (static.c), when cfg.assets is set
 */
#ifndef SF_GATEWAY_H
#define SF_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "stream/stream.h"

struct sf_assets;
struct sf_buf;
struct sf_store;
struct sf_warehouse;

typedef struct sf_gateway_config {
    const char *data_dir;     /* keys and the token secret */
    const char *listen;       /* "HOST:PORT"; port 0 picks a free one */
    size_t max_body;          /* bytes; larger requests get 413 */
    unsigned threads;         /* HTTP worker threads */
    unsigned max_connections; /* capped by the open-file limit (sf_gateway_start) */
    size_t dedup_window;      /* event ids remembered in all: each partition ceil(N/P) (dedup.h) */
    unsigned timeout_s;       /* idle connection timeout (0: 60 s) */
    /* Slow clients (conns.c): a request's line and header fields must all
     * arrive within head_timeout_ms of their first byte, and its body, once
     * timeout_s has passed since its head, at min_body_rate bytes a second
     * on average; else its connection is closed. 0: no such bound. */
    unsigned head_timeout_ms;
    size_t min_body_rate;
    /* PEM files of the certificate (and its chain) and its private key:
     * serve HTTPS (TLS 1.2+, tls.h). Both or neither; NULL or "": HTTP. */
    const char *tls_cert, *tls_key;
    /* Borrowed; they must outlive the gateway. The stream is required;
     * without a history store (warehouse) those routes answer 503. */
    sf_stream *stream;
    struct sf_store *history;
    struct sf_warehouse *warehouse;
    /* The dashboard's files for / and /assets/ (static.h), or NULL: 404. */
    const struct sf_assets *assets;
    /* The OpenAPI document for /openapi.json (static.h), or NULL: 404. */
    const struct sf_assets *openapi;
    /* More Prometheus text for /metrics (the sinks'), or NULL. */
    void (*more_metrics)(void *ctx, struct sf_buf *out);
    void *more_metrics_ctx;
} sf_gateway_config;

typedef struct sf_gateway sf_gateway;

/* Open the key store and the token secret, rebuild the event-id window
 * from the stream, start listening. Stop with sf_gateway_stop. For the
 * whole process, it raises the soft RLIMIT_NOFILE to the hard limit, and
 * caps max_connections at what that limit leaves beside the descriptors
 * open when it is called (so start it after the stream, stores and sinks;
 * conns.c). */
int sf_gateway_start(const sf_gateway_config *cfg, sf_gateway **out, sf_error *err);

/* Check cfg's TLS settings without starting anything: this libmicrohttpd
 * has TLS, and the certificate and key files are readable PEM and belong
 * together (0 too when cfg asks for plain HTTP). sf_gateway_start checks the
 * same; a caller that opens much before the gateway (the log, the sinks)
 * calls this first so that a bad file fails at once. */
int sf_gateway_check_tls(const sf_gateway_config *cfg, sf_error *err);

/* Read the TLS certificate and key files again (after SIGHUP): new
 * connections get the new certificate, open ones keep theirs. On failure
 * the old one stays in use. Logs one line either way. SF_EUSAGE when the
 * gateway serves plain HTTP. */
int sf_gateway_reload_tls(sf_gateway *g, sf_error *err);

/* The port actually listened on. */
uint16_t sf_gateway_port(const sf_gateway *g);

/* Stop accepting, finish requests in flight (their appends complete and
 * are answered), free everything the gateway owns (not the borrowed
 * stream, store and warehouse: close those after this). */
void sf_gateway_stop(sf_gateway *g);

#endif
