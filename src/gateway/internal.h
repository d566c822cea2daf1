/*
 * internal.h - what the gateway's files share (src/gateway only): the
 * server, a request's state, metrics, and the response helpers.
 */
#ifndef SF_GATEWAY_INTERNAL_H
#define SF_GATEWAY_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/decoder.h"
#include "stream/dedup.h"
#include "gateway/gateway.h"
#include "gateway/keys.h"
#include "gateway/tls.h"
#include "gateway/token.h"
#include "stream/stream.h"

typedef enum route {
    ROUTE_INGEST,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_INVOICE,           /* /v1/invoices/{no} */
    ROUTE_CUSTOMER_INVOICES, /* /v1/customers/{id}/invoices */
    ROUTE_CUSTOMER_INVOICE,  /* /v1/customers/{id}/invoices/{no} */
    ROUTE_BI,                /* /v1/bi/{question} */
    ROUTE_STATIC,            /* / and /assets/...: the dashboard (static.c) */
    ROUTE_OPENAPI,           /* /openapi.json (static.c) */
    ROUTE_OTHER,
    ROUTE_COUNT
} route;

/* Who is asking: a key's role, or a customer token's customer. */
typedef struct principal {
    sf_role role;     /* SF_ROLE_NONE for a customer token */
    int32_t customer; /* the token's customer; SF_NO_CUSTOMER for a key */
} principal;

/* Status codes counted in metrics, by index. */
#define STATUS_CODES 17
extern const unsigned sf_status_codes[STATUS_CODES];

#define LATENCY_BUCKETS 12
extern const double sf_latency_bounds[LATENCY_BUCKETS - 1];

typedef struct metrics {
    _Atomic uint64_t requests[ROUTE_COUNT][STATUS_CODES];
    _Atomic uint64_t ingest_latency[LATENCY_BUCKETS]; /* cumulative at render time */
    _Atomic uint64_t ingest_latency_us_sum;
    _Atomic uint64_t records_accepted, records_duplicate, records_rejected, body_bytes;
    _Atomic uint64_t in_flight;
    /* idle connections closed to make room, by whether they had authenticated */
    _Atomic uint64_t evicted_anonymous, evicted_authenticated;
    /* connections closed for a request arriving too slowly (conns.c) */
    _Atomic uint64_t cut_heads, cut_bodies;
} metrics;

#define SF_ACCEPTED_CACHED 4

/* Decoders kept for the next ingest request (ingest.c). */
#define SF_SPARE_DECODERS 16

/* The request head limits (doors.c, docs/api.md): larger ones get a JSON
 * 414 or 431. A head at all three limits at once still fits the
 * connection's memory (POOL_BYTES, server.c) with room for the answer, and
 * a head over them up to what that memory holds gets the JSON answer too;
 * only one too big for it gets libmicrohttpd's own (HTML) answer. */
#define SF_URL_MAX           8192 /* path and query */
#define SF_HEAD_MAX          9216 /* request line and header fields */
#define SF_HEADER_FIELDS_MAX 100

/* A connection, from libmicrohttpd's STARTED notification to its CLOSED one
 * (conns.c). state: the owning thread moves it IDLE -> BUSY when a request
 * starts and back when it completes, BUSY -> DRAINING when the request is
 * refused but its body still comes (sf_conns_draining); another thread
 * evicting it moves it IDLE or DRAINING -> EVICTED (compare-and-swap: a
 * request that may append is never cut, and on a connection evicted no
 * request starts). */
enum { SLOT_IDLE, SLOT_BUSY, SLOT_DRAINING, SLOT_EVICTED };

typedef struct conn_slot {
    struct request *spare;         /* the last request's state, buffers kept (server.c) */
    struct conn_slot *prev, *next; /* the gateway's open connections, under conns_mu */
    int fd;
    _Atomic int state;
    _Atomic bool authenticated; /* a request of it showed a valid key or token */
    _Atomic int64_t active_ms;  /* when it opened or its last request started */
    _Atomic int64_t idle_ms;    /* when it opened or its last request completed */
    /* The sweeper's own (conns.c, under conns_mu): the idle_ms it last saw,
     * and when it saw the next request's head begin to arrive (0: not yet). */
    int64_t head_t0, head_ms;
} conn_slot;

struct sf_gateway {
    sf_gateway_config cfg;
    struct MHD_Daemon *daemon;
    sf_stream *stream;
    sf_keys *keys;
    sf_dedup *dedup;
    metrics m;
    uint16_t port;
    sf_tls *tls; /* HTTPS, or NULL (tls.h) */
    _Atomic bool stopping;
    _Atomic int64_t last_summary; /* unix seconds of the last summary log line */
    /* sf_respond_internal logs one cause a second at most (a disk that is
     * behind refuses every request): the second of the last line, and the
     * causes not logged since. */
    _Atomic int64_t last_internal;
    _Atomic uint64_t internal_unlogged;
    unsigned char token_secret[SF_TOKEN_SECRET_LEN];
    struct MHD_Response *healthz; /* built once, queued for every /healthz */
    /* The 200 answers of ingest for small counts, built once (a response
     * per answer costs ~8 mallocs): [accepted][duplicates]. */
    struct MHD_Response *accepted[SF_ACCEPTED_CACHED][SF_ACCEPTED_CACHED];
    /* Decoders between requests, the last one given back on top: a request
     * takes one when admitted and gives it back once its body is decoded,
     * so a few decoders, warm in the cache, serve every connection
     * (ingest.c). Owned here; freed by sf_gateway_stop. */
    pthread_mutex_t decoders_mu;
    sf_decoder *decoders[SF_SPARE_DECODERS];
    size_t ndecoders;
    /* Open connections (conns.c): a list, oldest first, and the room kept
     * for new ones. cap is the daemon's connection limit; when more than
     * high are open (less those being evicted), idle ones are closed down to
     * low. evict_buf holds the candidates of one round (cap entries). */
    pthread_mutex_t conns_mu;
    conn_slot *conns_head, *conns_tail;
    unsigned conns_open, conns_evicting;
    unsigned conns_cap, conns_high, conns_low;
    conn_slot **evict_buf;
    /* The sweeper (conns.c): a thread that closes connections whose
     * request head takes too long, and logs what was cut. */
    pthread_t sweeper;
    pthread_mutex_t sweep_mu;
    pthread_cond_t sweep_cv;
    bool sweep_stop, sweeper_started;
};

/* The request headers the gateway reads, found in one pass over them on a
 * request's first call (doors.c). They point into libmicrohttpd's memory
 * for the request; NULL when absent (the first one when repeated). */
typedef struct req_headers {
    const char *authorization, *content_type, *content_length, *expect, *content_encoding,
        *transfer_encoding;
    unsigned fields;             /* header fields in all */
    unsigned content_lengths;    /* how many Content-Length fields */
    unsigned transfer_encodings; /* ... Transfer-Encoding */
    unsigned content_encodings;  /* ... Content-Encoding */
} req_headers;

struct sf_gunzip;

/* A request's state, from its first call to its completion. */
typedef struct request {
    sf_gateway *g;
    struct MHD_Connection *conn;
    conn_slot *slot; /* its connection's, or NULL */
    req_headers h;
    route route;
    /* The route's path parameters (read.c), NUL-terminated. */
    char customer_text[16];
    char item[40]; /* invoice number or BI question */
    double started;
    bool answered; /* a response was queued */
    unsigned status;
    /* A refusal decided before the body was read, answered once it has
     * been (answering earlier makes the close reset the connection, and
     * the client may never see the answer). */
    unsigned reject_status;
    const char *reject_code;
    char reject_msg[256];

    /* ingest */
    bool admitted;         /* the header checks were made */
    sf_decoder *dec;       /* while the body is decoded: the gateway's (decoders) */
    struct packed *packed; /* the valid records so far (ingest.c) */
    size_t body_bytes;
    bool too_large;
    bool body_done;
    char *errors; /* JSON array text of the first errors */
    size_t errors_len, errors_cap, nerrors;
    size_t duplicates;
    bool *reserved; /* per record: its event id is reserved here */
    size_t reserved_cap;
    /* A gzip body (Content-Encoding: gzip): inflated as it arrives into the
     * decoder. gz is kept with the connection like the buffers above;
     * gzip says whether this request uses it. */
    struct sf_gunzip *gz;
    bool gzip;
    size_t inflated; /* bytes it gave so far */
    /* The first fatal decoding error: the body could not be read past it. */
    bool unreadable;
    uint64_t unreadable_line;
    char unreadable_msg[200];
    _Atomic int append_status; /* 1 while waiting */
    char append_msg[256];
} request;

/* Queue a response; copies body. Always returns MHD_YES or MHD_NO as MHD
 * wants it. extra_name/extra_value: one more header, or NULL. */
enum MHD_Result sf_respond(request *r, unsigned status, const char *content_type, const char *body,
                           size_t len, const char *extra_name, const char *extra_value);

/* The same, taking over body (malloc'd; freed by the response, or at once
 * when it cannot be made): answers built in a buffer are not copied. */
enum MHD_Result sf_respond_take(request *r, unsigned status, const char *content_type, char *body,
                                size_t len);

/* A response with body (copied), Content-Type and Cache-Control: no-store;
 * NULL when out of memory. The caller destroys it. */
struct MHD_Response *sf_response_new(const char *content_type, const char *body, size_t len);

/* Queue a 405 with an Allow header. */
enum MHD_Result sf_respond_not_allowed(request *r, const char *allow);

/* Queue {"error":{"code":..,"message":..}} with status. */
enum MHD_Result sf_respond_error(request *r, unsigned status, const char *code, const char *message,
                                 const char *retry_after);

/* The same with one more header (extra_name: NULL for none). */
enum MHD_Result sf_respond_error_with(request *r, unsigned status, const char *code,
                                      const char *message, const char *extra_name,
                                      const char *extra_value);

/* A 5xx (or 429) whose cause (detail) may name server paths: detail goes to
 * the server's log only (event http_internal_error, one a second at most,
 * with the count of those not logged), the client gets message. */
enum MHD_Result sf_respond_internal(request *r, unsigned status, const char *code,
                                    const char *message, const char *detail,
                                    const char *retry_after);

/* The request's doors (doors.c), on its first call, for every route: read
 * its headers into r->h in one pass, and refuse what must not be served
 * (an ambiguous body framing, an unknown transfer coding, a head over the
 * limits) with an answer queued at once, the connection then closed.
 * Returns true when it answered. */
bool sf_doors_refuse(request *r, const char *url);

/* The ingest route's access handler step (ingest.c). */
enum MHD_Result sf_ingest_step(request *r, const char *method, const char *upload_data,
                               size_t *upload_data_size);
void sf_ingest_free(request *r);

/* Free the gateway's spare decoders (sf_gateway_stop). */
void sf_ingest_free_decoders(sf_gateway *g);

/* Make r's ingest state empty for the next request on the same connection,
 * keeping its buffers (the packed records, the event-id flags, the error
 * text): a single-record POST then allocates none of them again. A decoder
 * still held goes back to the gateway. */
void sf_ingest_recycle(request *r);

/* On the first call: true when the request was answered already (a body
 * announced over the limit by a client that can take an early answer). */
bool sf_ingest_refuse_early(request *r);

/* Refuse r with status, once its body (if any) has been read: fills the
 * reject fields. */
void sf_reject(request *r, unsigned status, const char *code, const char *msg);

/* Who sent r (auth.c): true and *p, or false after filling r's reject
 * fields with a 401 that says why. */
bool sf_auth(request *r, principal *p);

/* The read routes' handler (read.c): history and BI. */
enum MHD_Result sf_read_route(request *r, const char *method);

/* The dashboard's files (static.c): GET / and /assets/.... */
enum MHD_Result sf_static_route(request *r, const char *url, const char *method);

/* The OpenAPI document (static.c): GET /openapi.json, no key needed. */
enum MHD_Result sf_openapi_route(request *r, const char *method);

/* Match url to a route, filling r's path parameters (read.c). */
route sf_match_route(request *r, const char *url);

/* conns.c: the open-file limit, the connection cap and eviction. */
/* Raise the soft RLIMIT_NOFILE to the hard one and work out the connection
 * limit (g->conns_*) from wanted (max-connections) and what the open-file
 * limit leaves, saying so in the log when it caps wanted. Before the daemon
 * starts. Returns 0, or SF_ENOMEM. */
int sf_conns_setup(sf_gateway *g, unsigned wanted, unsigned threads);
/* The mutexes and condition (sf_gateway_start, first); sf_conns_free
 * destroys them, after sf_conns_sweeper_stop. */
void sf_conns_init(sf_gateway *g);
void sf_conns_free(sf_gateway *g);
/* libmicrohttpd's STARTED and CLOSED notifications for a slot. */
void sf_conns_opened(sf_gateway *g, struct MHD_Connection *conn, conn_slot *slot);
void sf_conns_closed(sf_gateway *g, conn_slot *slot);
/* r is refused (or its route reads no body) and its body is only being
 * drained: its connection may be evicted like an idle one, so a body sent
 * slowly cannot hold a connection that will never append. */
void sf_conns_draining(request *r);
/* r completed at now (sf_monotonic): its connection is idle again, unless
 * it was evicted. */
void sf_conns_idle(request *r, double now);
/* Start and stop the sweeper thread (after the daemon starts; before the
 * mutexes go). Start returns 0 or SF_ENOMEM; stop is a no-op if none. */
int sf_conns_sweeper_start(sf_gateway *g, sf_error *err);
void sf_conns_sweeper_stop(sf_gateway *g);
/* A piece of r's body arrives, received bytes having come before it (call
 * it only when received > 0: the first piece costs nothing): true when the
 * body is too slow (cfg.min_body_rate), counted; the caller then returns
 * MHD_NO, and libmicrohttpd closes the connection. */
bool sf_conns_body_too_slow(request *r, size_t received);

/* metrics.c */
void sf_metrics_count(sf_gateway *g, route rt, unsigned status);
void sf_metrics_ingest_latency(sf_gateway *g, double seconds);
char *sf_metrics_render(sf_gateway *g, size_t *len);

#endif
