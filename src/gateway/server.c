/*
 * server.c - the gateway's daemon: start and stop, routing, responses, and
 * the small routes (healthz, readyz, metrics). Ingest is in ingest.c.
 *
 * Every response is queued on the handler's second call or later, never on
 * the first (which only sets up the request): measured on these machines,
 * libmicrohttpd serves several times more requests per second that way.
 *
 * The event loop is poll(), not epoll: with libmicrohttpd 0.9.75 (Debian 12)
 * and epoll, keep-alive clients stalled at some connection counts (wrk -c128
 * or -c256 on /healthz: a few hundred requests in 2 s, then nothing, run
 * after run), and every suspend and resume cost an epoll_ctl. With poll the
 * same runs serve 60-70 k/s and a suspended connection is only left out of
 * the next poll set (docs/benchmarks.md, "Gateway").
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/logline.h"
#include "core/progress.h"
#include "gateway/internal.h"

/* Per-connection memory of libmicrohttpd: the request line and header
 * fields (each field also takes a record of about 64 bytes), the body as it
 * is read (in pieces, whatever its size) and the answer's header.
 * libmicrohttpd clears all of it for every request, so its size is a cost
 * per request: in perf, memset took 0.2-0.7 % of the server's CPU under
 * single-record POSTs at 8 KiB, 1.2 % at 16 KiB, 1.8-2.2 % at 20 KiB
 * (callgrind overstates it: it counts a byte an instruction; docs/
 * benchmarks.md, "Gateway, issue 15"). 16 KiB holds the gateway's head
 * limits (internal.h: 9 KiB of head and 100 fields at once) with room for
 * the answer, so every head within them is served and every one over them
 * up to about 16,000 bytes gets the gateway's JSON 414/431; at 8 KiB a URL
 * of 8,000 bytes or 150 short fields got libmicrohttpd's HTML 431. */
#define POOL_BYTES (16 * 1024)

/* A response with body (copied, or taken over when owned: freed by MHD),
 * and its two headers. */
static struct MHD_Response *response_of(const char *content_type, char *body, size_t len,
                                        bool owned)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!resp && owned)
        free(body);
    if (resp && (MHD_add_response_header(resp, "Content-Type", content_type) != MHD_YES ||
                 MHD_add_response_header(resp, "Cache-Control", "no-store") != MHD_YES)) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return resp;
}

struct MHD_Response *sf_response_new(const char *content_type, const char *body, size_t len)
{
    return response_of(content_type, (char *)body, len, false);
}

static enum MHD_Result queue(request *r, unsigned status, struct MHD_Response *resp,
                             const char *extra_name, const char *extra_value)
{
    if (!resp)
        return MHD_NO;
    if (extra_name)
        MHD_add_response_header(resp, extra_name, extra_value);
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = status;
    return rc;
}

enum MHD_Result sf_respond(request *r, unsigned status, const char *content_type, const char *body,
                           size_t len, const char *extra_name, const char *extra_value)
{
    return queue(r, status, response_of(content_type, (char *)body, len, false), extra_name,
                 extra_value);
}

enum MHD_Result sf_respond_take(request *r, unsigned status, const char *content_type, char *body,
                                size_t len)
{
    return queue(r, status, response_of(content_type, body, len, true), NULL, NULL);
}

enum MHD_Result sf_respond_error_with(request *r, unsigned status, const char *code,
                                      const char *message, const char *extra_name,
                                      const char *extra_value)
{
    char msg[1024], body[1200];
    sf_json_quote(message, msg, sizeof msg);
    int n =
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":%s}}\n", code, msg);
    return sf_respond(r, status, "application/json", body, (size_t)n, extra_name, extra_value);
}

enum MHD_Result sf_respond_error(request *r, unsigned status, const char *code, const char *message,
                                 const char *retry_after)
{
    return sf_respond_error_with(r, status, code, message, retry_after ? "Retry-After" : NULL,
                                 retry_after);
}

enum MHD_Result sf_respond_internal(request *r, unsigned status, const char *code,
                                    const char *message, const char *detail,
                                    const char *retry_after)
{
    sf_gateway *g = r->g;
    int64_t now = (int64_t)time(NULL), last = atomic_load(&g->last_internal);
    if (now == last || !atomic_compare_exchange_strong(&g->last_internal, &last, now)) {
        atomic_fetch_add(&g->internal_unlogged, 1);
    } else {
        char q[SF_ERROR_MSG_MAX + 64];
        sf_logf(SF_LOG_WARN, "http_internal_error", "status=%u code=%s msg=%s unlogged_before=%llu",
                status, code, sf_logq(detail ? detail : "", q, sizeof q),
                (unsigned long long)atomic_exchange(&g->internal_unlogged, 0));
    }
    return sf_respond_error(r, status, code, message, retry_after);
}

/* A 405 with its Allow header, and a JSON body like every error. */
enum MHD_Result sf_respond_not_allowed(request *r, const char *allow)
{
    char msg[64];
    snprintf(msg, sizeof msg, "use %s", allow);
    return sf_respond_error_with(r, 405, "method_not_allowed", msg, "Allow", allow);
}

void sf_reject(request *r, unsigned status, const char *code, const char *msg)
{
    r->reject_status = status;
    r->reject_code = code;
    snprintf(r->reject_msg, sizeof r->reject_msg, "%s", msg);
}

/* Ready: not stopping, and the stream has not given up on writing. */
static const char *not_ready(sf_gateway *g)
{
    if (atomic_load(&g->stopping))
        return "the server is stopping";
    sf_stream_stats st;
    sf_stream_stats_get(g->stream, &st);
    return st.failed ? "the log refuses writes after a failure; restart to recover it" : NULL;
}

static enum MHD_Result small_route(request *r, const char *method)
{
    sf_gateway *g = r->g;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (r->route == ROUTE_OTHER)
        return sf_respond_error(r, 404, "not_found", "no such route", NULL);
    if (!get)
        return sf_respond_not_allowed(r, "GET, HEAD");
    switch (r->route) {
    case ROUTE_HEALTHZ:
        r->answered = true;
        r->status = 200;
        return MHD_queue_response(r->conn, 200, g->healthz);
    case ROUTE_READYZ:
        if (not_ready(g))
            return sf_respond_error(r, 503, "not_ready", not_ready(g), "1");
        return sf_respond(r, 200, "application/json", "{\"status\":\"ready\"}\n", 19, NULL, NULL);
    default: {
        size_t len;
        char *text = sf_metrics_render(g, &len);
        if (!text)
            return sf_respond_error(r, 500, "internal", "out of memory", NULL);
        enum MHD_Result rc =
            sf_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL, NULL);
        free(text);
        return rc;
    }
    }
}

/* A connection's slot (internal.h) keeps its spare request: the last one's
 * state, buffers kept (sf_ingest_recycle), so that keep-alive clients
 * sending one record per request do not allocate them for every request. */
static conn_slot *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    sf_gateway *g = cls;
    conn_slot *slot = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        /* NULL: requests are not recycled, nor the connection evicted */
        if ((*socket_context = slot = calloc(1, sizeof *slot)))
            sf_conns_opened(g, conn, slot);
    } else if (slot) {
        sf_conns_closed(g, slot); /* before libmicrohttpd closes its socket */
        if (slot->spare) {
            sf_ingest_free(slot->spare);
            free(slot->spare);
        }
        free(slot);
        *socket_context = NULL;
    }
}

/* A request's state: the connection's spare, emptied, or a new one. */
static request *request_new(conn_slot *slot)
{
    request *r;
    if (!slot || !slot->spare)
        r = calloc(1, sizeof(request));
    else {
        r = slot->spare;
        slot->spare = NULL;
    }
    if (r)
        r->slot = slot;
    return r;
}

/* Done with r: keep it as its connection's spare, or free it. */
static void request_done(struct MHD_Connection *conn, request *r)
{
    conn_slot *slot = slot_of(conn);
    if (!slot || slot->spare) {
        sf_ingest_free(r);
        free(r);
        return;
    }
    sf_ingest_recycle(r);
    request keep = {.packed = r->packed,
                    .errors = r->errors,
                    .errors_cap = r->errors_cap,
                    .reserved = r->reserved,
                    .reserved_cap = r->reserved_cap,
                    .gz = r->gz};
    *r = keep;
    slot->spare = r;
}

/* A piece of a body that will not be read: dropped, unless the body comes
 * too slowly (conns.c), and then the connection is closed. */
static enum MHD_Result drop_body(request *r, size_t *upload_data_size)
{
    size_t before = r->body_bytes;
    r->body_bytes += *upload_data_size;
    *upload_data_size = 0;
    return before && sf_conns_body_too_slow(r, before) ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    sf_gateway *g = cls;
    request *r = *req_cls;
    if (!r) {
        conn_slot *slot = slot_of(conn);
        int idle = SLOT_IDLE;
        if (slot && !atomic_compare_exchange_strong(&slot->state, &idle, SLOT_BUSY))
            return MHD_NO; /* evicted as this request arrived: it was never started */
        if (!(r = request_new(slot)))
            return MHD_NO;
        r->g = g;
        r->conn = conn;
        r->route = sf_match_route(r, url);
        r->started = sf_monotonic();
        if (slot)
            atomic_store_explicit(&slot->active_ms, (int64_t)(r->started * 1000),
                                  memory_order_relaxed);
        atomic_fetch_add(&g->m.in_flight, 1);
        *req_cls = r;
        if (sf_doors_refuse(r, url))
            return r->answered ? MHD_YES : MHD_NO;
        if (r->route == ROUTE_INGEST)
            sf_ingest_refuse_early(r);
        return MHD_YES;
    }
    if (r->answered) /* an early answer: drop the rest of the body */
        return drop_body(r, upload_data_size);
    if (r->route == ROUTE_INGEST)
        return sf_ingest_step(r, method, upload_data, upload_data_size);
    if (*upload_data_size) { /* a body where none is expected: ignored */
        sf_conns_draining(r);
        return drop_body(r, upload_data_size);
    }
    if (r->route >= ROUTE_INVOICE && r->route <= ROUTE_BI)
        return sf_read_route(r, method);
    if (r->route == ROUTE_STATIC)
        return sf_static_route(r, url, method);
    if (r->route == ROUTE_OPENAPI)
        return sf_openapi_route(r, method);
    return small_route(r, method);
}

static void summary_if_due(sf_gateway *g)
{
    int64_t now = (int64_t)time(NULL), last = atomic_load(&g->last_summary);
    if (now - last < 10 || !atomic_compare_exchange_strong(&g->last_summary, &last, now))
        return;
    uint64_t ok = 0, bad = 0, busy = 0, aborted = 0;
    for (int rt = 0; rt < ROUTE_COUNT; rt++)
        for (int s = 0; s < STATUS_CODES; s++) {
            uint64_t v = atomic_load(&g->m.requests[rt][s]);
            unsigned code = sf_status_codes[s];
            if (code == 0)
                aborted += v;
            else if (code < 400)
                ok += v;
            else if (code == 429 || code == 503)
                busy += v;
            else
                bad += v;
        }
    sf_logf(SF_LOG_INFO, "http_summary",
            "requests_ok=%llu requests_rejected=%llu requests_busy=%llu requests_aborted=%llu "
            "records_accepted=%llu records_duplicate=%llu records_rejected=%llu",
            (unsigned long long)ok, (unsigned long long)bad, (unsigned long long)busy,
            (unsigned long long)aborted, (unsigned long long)atomic_load(&g->m.records_accepted),
            (unsigned long long)atomic_load(&g->m.records_duplicate),
            (unsigned long long)atomic_load(&g->m.records_rejected));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)why;
    sf_gateway *g = cls;
    request *r = *req_cls;
    if (!r)
        return;
    double now = sf_monotonic();
    sf_metrics_count(g, r->route, r->answered ? r->status : 0);
    if (r->route == ROUTE_INGEST && r->answered)
        sf_metrics_ingest_latency(g, now - r->started);
    sf_conns_idle(r, now);
    request_done(conn, r);
    *req_cls = NULL;
    atomic_fetch_sub(&g->m.in_flight, 1);
    summary_if_due(g);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    sf_logf(SF_LOG_WARN, "http_error", "msg=%s", sf_logq(msg, q, sizeof q));
}

/* "HOST:PORT" (HOST may be [v6]) into a socket address. */
static int resolve(const char *listen, struct sockaddr_storage *ss, sf_error *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return sf_error_set(err, SF_EUSAGE, "listen: '%s' is not HOST:PORT", listen);
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (*h == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    snprintf(host, sizeof host, "%.*s", (int)hl, h);
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0)
        return sf_error_set(err, SF_EUSAGE, "listen: %s: %s", listen, gai_strerror(rc));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static int open_backends(sf_gateway *g, sf_error *err)
{
    g->stream = g->cfg.stream;
    int rc = sf_keys_open(g->cfg.data_dir, &g->keys, err);
    if (rc == 0)
        rc = sf_token_secret(g->cfg.data_dir, g->token_secret, err);
    if (rc == 0)
        rc = sf_dedup_new(g->cfg.dedup_window, sf_stream_partitions(g->stream), &g->dedup, err);
    if (rc == 0) {
        double t0 = sf_monotonic();
        rc = sf_dedup_load(g->dedup, g->stream, err);
        sf_logf(SF_LOG_INFO, "dedup_loaded", "event_ids=%zu seconds=%.3f", sf_dedup_count(g->dedup),
                sf_monotonic() - t0);
    }
    return rc;
}

/* The answers that never change, built once and queued many times. */
static int build_responses(sf_gateway *g)
{
    static const char ok[] = "{\"status\":\"ok\"}\n";
    if (!(g->healthz = sf_response_new("application/json", ok, sizeof ok - 1)))
        return -1;
    for (int a = 0; a < SF_ACCEPTED_CACHED; a++)
        for (int d = 0; d < SF_ACCEPTED_CACHED; d++) {
            char body[64];
            int n = snprintf(body, sizeof body, "{\"accepted\":%d,\"duplicates\":%d}\n", a, d);
            if (!(g->accepted[a][d] = sf_response_new("application/json", body, (size_t)n)))
                return -1;
        }
    return 0;
}

static bool tls_wanted(const sf_gateway_config *cfg)
{
    return (cfg->tls_cert && *cfg->tls_cert) || (cfg->tls_key && *cfg->tls_key);
}

/* HTTPS when the config names a certificate and key: both read and checked
 * before anything else is opened, so a bad file is the error at start. */
static int tls_setup(sf_gateway *g, sf_error *err)
{
    if (!tls_wanted(&g->cfg))
        return 0;
    int rc = sf_tls_open(g->cfg.tls_cert, g->cfg.tls_key, &g->tls, err);
    if (rc == 0)
        sf_tls_log_certificate(g->tls, "tls_certificate");
    return rc;
}

int sf_gateway_check_tls(const sf_gateway_config *cfg, sf_error *err)
{
    sf_tls *t = NULL;
    int rc = tls_wanted(cfg) ? sf_tls_open(cfg->tls_cert, cfg->tls_key, &t, err) : 0;
    sf_tls_close(t);
    return rc;
}

int sf_gateway_reload_tls(sf_gateway *g, sf_error *err)
{
    if (!g->tls)
        return sf_error_set(err, SF_EUSAGE,
                            "the gateway serves plain HTTP: no certificate to reload");
    return sf_tls_reload(g->tls, err);
}

int sf_gateway_start(const sf_gateway_config *cfg, sf_gateway **out, sf_error *err)
{
    sf_gateway *g = calloc(1, sizeof *g);
    if (!g)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pthread_mutex_init(&g->decoders_mu, NULL);
    sf_conns_init(g);
    g->cfg = *cfg;
    if (!g->cfg.timeout_s)
        g->cfg.timeout_s = 60;
    atomic_store(&g->last_summary, (int64_t)time(NULL));
    struct sockaddr_storage ss;
    int rc = resolve(cfg->listen, &ss, err);
    if (rc == 0)
        rc = tls_setup(g, err);
    if (rc == 0)
        rc = open_backends(g, err);
    if (rc < 0) {
        sf_gateway_stop(g);
        return rc;
    }
    if (build_responses(g) < 0) {
        sf_gateway_stop(g);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (g->tls ? MHD_USE_TLS : 0);
    unsigned threads = cfg->threads ? cfg->threads : 2;
    if (sf_conns_setup(g, cfg->max_connections ? cfg->max_connections : 10000, threads) < 0) {
        sf_gateway_stop(g);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    /* A pool of one is no pool: MHD warns about it, so say nothing and let its
     * one internal thread serve (the last item ends the array early then). */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, g},
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_LIMIT, g->conns_cap, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, g->cfg.timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, POOL_BYTES, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, g},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, g},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_ARRAY, 0, (void *)sf_tls_options(g->tls)}, /* empty for HTTP */
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    g->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, g, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (!g->daemon) {
        sf_gateway_stop(g);
        return sf_error_set(err, SF_EIO, "cannot listen on %s (in use, or not an address here?)",
                            cfg->listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g->daemon, MHD_DAEMON_INFO_BIND_PORT);
    g->port = info ? info->port : 0;
    if ((rc = sf_conns_sweeper_start(g, err)) < 0) {
        sf_gateway_stop(g);
        return rc;
    }
    *out = g;
    return 0;
}

uint16_t sf_gateway_port(const sf_gateway *g)
{
    return g->port;
}

void sf_gateway_stop(sf_gateway *g)
{
    if (!g)
        return;
    atomic_store(&g->stopping, true);
    if (g->daemon) {
        MHD_socket s = MHD_quiesce_daemon(g->daemon);
        (void)s; /* stays open until MHD_stop_daemon closes it */
        /* Let suspended requests be resumed by their appends and answered. */
        for (int i = 0; i < 500 && atomic_load(&g->m.in_flight) > 0; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(g->daemon);
    }
    sf_conns_sweeper_stop(g);
    sf_conns_free(g);
    sf_tls_close(g->tls); /* after the daemon: no handshake can ask for it now */
    if (g->healthz)
        MHD_destroy_response(g->healthz);
    for (int a = 0; a < SF_ACCEPTED_CACHED; a++)
        for (int d = 0; d < SF_ACCEPTED_CACHED; d++)
            if (g->accepted[a][d])
                MHD_destroy_response(g->accepted[a][d]);
    sf_keys_close(g->keys);
    sf_dedup_free(g->dedup);
    sf_ingest_free_decoders(g);
    pthread_mutex_destroy(&g->decoders_mu);
    free(g);
}
