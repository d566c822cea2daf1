/*
 * gateway.h - the HTTP gateway (`shopflow serve`): ingest into the stream,
 * health, readiness and metrics.
 *
 * One libmicrohttpd daemon with a small epoll thread pool. A POST is decoded
 * as its body arrives (the same decoder as `check`), then its records go to
 * the stream as one append; the connection is suspended until the append is
 * durable and resumed from the stream's commit thread, so no server thread
 * waits on a disk and thousands of keep-alive clients can share one fsync.
 *
 * Routes (docs/api.md):
 *   POST /v1/transactions   ingest (key role ingest or admin)
 *   GET  /healthz           the process is up
 *   GET  /readyz            the stream accepts writes
 *   GET  /metrics           Prometheus text
 */
#ifndef SF_GATEWAY_H
#define SF_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_gateway_config {
    const char *data_dir; /* keys, and the log unless stream says otherwise */
    const char *listen;   /* "HOST:PORT"; port 0 picks a free one */
    const char *stream;   /* stream location; NULL = DATA_DIR/log */
    uint32_t partitions;  /* when the log is created */
    size_t max_body;      /* bytes; larger requests get 413 */
    unsigned threads;     /* HTTP worker threads */
    unsigned max_connections;
    size_t dedup_window;        /* event ids remembered */
    unsigned timeout_s;         /* idle connection timeout */
    size_t max_queue;           /* bytes of appends waiting for the disk before 429 */
    uint64_t segment_bytes;     /* log segment size; 0 = default */
    uint64_t retention_bytes;   /* per partition; 0 = keep all */
    uint64_t retention_seconds; /* 0 = keep all */
    unsigned commit_delay_ms;   /* fault injection: a slow disk (tests) */
} sf_gateway_config;

typedef struct sf_gateway sf_gateway;

/* Open the stream and the key store, rebuild the event-id window, start
 * listening. Stop with sf_gateway_stop. */
int sf_gateway_start(const sf_gateway_config *cfg, sf_gateway **out, sf_error *err);

/* The port actually listened on. */
uint16_t sf_gateway_port(const sf_gateway *g);

/* Stop accepting, finish requests in flight (their appends complete and
 * are answered), flush the stream, free everything. */
void sf_gateway_stop(sf_gateway *g);

#endif
