/*
 * metrics.c - the gateway's counters and their Prometheus text form.
 *
 * Counters are plain atomics bumped on the request path; rendering reads
 * them, and the stream's own figures, only when /metrics is scraped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "gateway/internal.h"

const unsigned sf_status_codes[STATUS_CODES] = {200, 304, 400, 401, 403, 404, 405, 408, 413,
                                                414, 415, 429, 431, 500, 501, 503, 0};
const double sf_latency_bounds[LATENCY_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,   0.25,   0.5,   1.0};
static const char *const route_names[ROUTE_COUNT] = {
    "/v1/transactions",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/invoices/{invoice_no}",
    "/v1/customers/{id}/invoices",
    "/v1/customers/{id}/invoices/{invoice_no}",
    "/v1/bi/{question}",
    "/ (dashboard)",
    "other",
};

void sf_metrics_count(sf_gateway *g, route rt, unsigned status)
{
    int i = 0;
    while (i < STATUS_CODES - 1 && sf_status_codes[i] != status)
        i++;
    atomic_fetch_add(&g->m.requests[rt][i], 1);
}

void sf_metrics_ingest_latency(sf_gateway *g, double seconds)
{
    int b = 0;
    while (b < LATENCY_BUCKETS - 1 && seconds > sf_latency_bounds[b])
        b++;
    atomic_fetch_add(&g->m.ingest_latency[b], 1);
    atomic_fetch_add(&g->m.ingest_latency_us_sum, (uint64_t)(seconds * 1e6));
}

/* The open connections, the cap in force, the evictions and the slow
 * requests cut off (conns.c). */
static void render_conns(sf_gateway *g, sf_buf *t)
{
    pthread_mutex_lock(&g->conns_mu);
    unsigned open = g->conns_open;
    pthread_mutex_unlock(&g->conns_mu);
    sf_buf_printf(t,
                  "# HELP shopflow_http_connections_open Connections open now.\n"
                  "# TYPE shopflow_http_connections_open gauge\nshopflow_http_connections_open %u\n"
                  "# HELP shopflow_http_connections_max Connections at most (max-connections, "
                  "capped by the open-file limit).\n"
                  "# TYPE shopflow_http_connections_max gauge\nshopflow_http_connections_max %u\n"
                  "# HELP shopflow_http_connections_evicted_total Idle connections closed to make "
                  "room for new ones, by whether they had authenticated.\n"
                  "# TYPE shopflow_http_connections_evicted_total counter\n"
                  "shopflow_http_connections_evicted_total{authenticated=\"false\"} %llu\n"
                  "shopflow_http_connections_evicted_total{authenticated=\"true\"} %llu\n"
                  "# HELP shopflow_http_slow_requests_cut_total Connections closed because a "
                  "request came too slowly: its head not whole within head-timeout, or its "
                  "body under min-body-rate.\n"
                  "# TYPE shopflow_http_slow_requests_cut_total counter\n"
                  "shopflow_http_slow_requests_cut_total{part=\"head\"} %llu\n"
                  "shopflow_http_slow_requests_cut_total{part=\"body\"} %llu\n",
                  open, g->conns_cap, (unsigned long long)atomic_load(&g->m.evicted_anonymous),
                  (unsigned long long)atomic_load(&g->m.evicted_authenticated),
                  (unsigned long long)atomic_load(&g->m.cut_heads),
                  (unsigned long long)atomic_load(&g->m.cut_bodies));
}

static void render_http(sf_gateway *g, sf_buf *t)
{
    sf_buf_printf(
        t, "# HELP shopflow_http_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE shopflow_http_requests_total counter\n");
    for (int rt = 0; rt < ROUTE_COUNT; rt++)
        for (int s = 0; s < STATUS_CODES; s++) {
            uint64_t v = atomic_load(&g->m.requests[rt][s]);
            if (!v)
                continue;
            if (sf_status_codes[s])
                sf_buf_printf(t, "shopflow_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                              route_names[rt], sf_status_codes[s], (unsigned long long)v);
            else /* the client went away before its answer */
                sf_buf_printf(t,
                              "shopflow_http_requests_total{route=\"%s\",code=\"aborted\"} %llu\n",
                              route_names[rt], (unsigned long long)v);
        }
    sf_buf_printf(
        t,
        "# HELP shopflow_http_requests_in_flight Requests being handled.\n"
        "# TYPE shopflow_http_requests_in_flight gauge\nshopflow_http_requests_in_flight %llu\n",
        (unsigned long long)atomic_load(&g->m.in_flight));
    render_conns(g, t);
    sf_buf_printf(
        t, "# HELP shopflow_ingest_duration_seconds Ingest request time, first byte to answer.\n"
           "# TYPE shopflow_ingest_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < LATENCY_BUCKETS; b++) {
        cum += atomic_load(&g->m.ingest_latency[b]);
        if (b < LATENCY_BUCKETS - 1)
            sf_buf_printf(t, "shopflow_ingest_duration_seconds_bucket{le=\"%g\"} %llu\n",
                          sf_latency_bounds[b], (unsigned long long)cum);
        else
            sf_buf_printf(t, "shopflow_ingest_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                          (unsigned long long)cum);
    }
    sf_buf_printf(
        t,
        "shopflow_ingest_duration_seconds_sum %.6f\nshopflow_ingest_duration_seconds_count %llu\n",
        (double)atomic_load(&g->m.ingest_latency_us_sum) / 1e6, (unsigned long long)cum);
    struct {
        const char *name, *help;
        uint64_t v;
    } c[] = {
        {"shopflow_ingest_records_accepted_total", "Records appended to the stream.",
         atomic_load(&g->m.records_accepted)},
        {"shopflow_ingest_records_duplicate_total", "Records acknowledged as duplicates.",
         atomic_load(&g->m.records_duplicate)},
        {"shopflow_ingest_records_rejected_total", "Records in requests refused as invalid.",
         atomic_load(&g->m.records_rejected)},
        {"shopflow_ingest_body_bytes_total", "Request body bytes received.",
         atomic_load(&g->m.body_bytes)},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        sf_buf_printf(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", c[i].name, c[i].help,
                      c[i].name, c[i].name, (unsigned long long)c[i].v);
}

static void render_stream(sf_gateway *g, sf_buf *t)
{
    sf_stream_stats st;
    sf_stream_stats_get(g->stream, &st);
    sf_buf_printf(t,
                  "# HELP shopflow_log_appended_records_total Records made durable in the log.\n"
                  "# TYPE shopflow_log_appended_records_total counter\n"
                  "shopflow_log_appended_records_total %llu\n"
                  "# HELP shopflow_log_appended_bytes_total Bytes made durable in the log.\n"
                  "# TYPE shopflow_log_appended_bytes_total counter\n"
                  "shopflow_log_appended_bytes_total %llu\n"
                  "# HELP shopflow_log_group_commits_total Rounds of writes sharing fsyncs.\n"
                  "# TYPE shopflow_log_group_commits_total counter\n"
                  "shopflow_log_group_commits_total %llu\n"
                  "# HELP shopflow_log_appends_total Append calls, by result.\n"
                  "# TYPE shopflow_log_appends_total counter\n"
                  "shopflow_log_appends_total{result=\"ok\"} %llu\n"
                  "shopflow_log_appends_total{result=\"failed\"} %llu\n",
                  (unsigned long long)st.records, (unsigned long long)st.bytes,
                  (unsigned long long)st.groups, (unsigned long long)st.appends,
                  (unsigned long long)st.failures);
    static const char *const le[] = {"0.0001", "0.00025", "0.0005", "0.001",
                                     "0.0025", "0.005",   "0.01",   "+Inf"};
    sf_buf_printf(t, "# HELP shopflow_log_fsync_seconds Time of each fdatasync.\n"
                     "# TYPE shopflow_log_fsync_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < 8; b++) {
        cum += st.fsync_le_us[b];
        sf_buf_printf(t, "shopflow_log_fsync_seconds_bucket{le=\"%s\"} %llu\n", le[b],
                      (unsigned long long)cum);
    }
    sf_buf_printf(t, "shopflow_log_fsync_seconds_sum %.6f\nshopflow_log_fsync_seconds_count %llu\n",
                  st.fsync_seconds, (unsigned long long)cum);
    sf_buf_printf(
        t,
        "# HELP shopflow_log_prealloc_seconds Zero-fill steps ahead of the log's "
        "entries (write + fdatasync), on a thread of their own.\n"
        "# TYPE shopflow_log_prealloc_seconds summary\n"
        "shopflow_log_prealloc_seconds_sum %.6f\nshopflow_log_prealloc_seconds_count %llu\n"
        "# HELP shopflow_log_prealloc_wait_seconds Commit-round writes that waited for a "
        "chunk of zeros being written where they go.\n"
        "# TYPE shopflow_log_prealloc_wait_seconds summary\n"
        "shopflow_log_prealloc_wait_seconds_sum %.6f\n"
        "shopflow_log_prealloc_wait_seconds_count %llu\n",
        st.prealloc_seconds, (unsigned long long)st.preallocs, st.prealloc_wait_seconds,
        (unsigned long long)st.prealloc_waits);
    sf_buf_printf(t,
                  "# HELP shopflow_log_hole_skips_total Holes (offsets lost for good, marked by "
                  "`log repair`) that reads skipped; each is logged.\n"
                  "# TYPE shopflow_log_hole_skips_total counter\n"
                  "shopflow_log_hole_skips_total %llu\n"
                  "# HELP shopflow_log_hole_offsets_skipped_total Offsets in those holes.\n"
                  "# TYPE shopflow_log_hole_offsets_skipped_total counter\n"
                  "shopflow_log_hole_offsets_skipped_total %llu\n",
                  (unsigned long long)st.hole_skips, (unsigned long long)st.hole_offsets);
    sf_buf_printf(t,
                  "# HELP shopflow_log_end_offset Next offset of each partition (records in it).\n"
                  "# TYPE shopflow_log_end_offset gauge\n");
    for (uint32_t p = 0; p < sf_stream_partitions(g->stream); p++) {
        sf_partition_info info;
        sf_error err = {0};
        char end[SF_POS_TEXT_MAX];
        if (sf_stream_info(g->stream, p, &info, &err) == 0) {
            sf_pos_format(&info.end, end, sizeof end);
            sf_buf_printf(t, "shopflow_log_end_offset{partition=\"%u\"} %s\n", p, end);
        }
    }
}

char *sf_metrics_render(sf_gateway *g, size_t *len)
{
    sf_buf t = SF_BUF_INIT;
    render_http(g, &t);
    render_stream(g, &t);
    sf_tls_metrics(g->tls, &t);
    if (g->cfg.more_metrics)
        g->cfg.more_metrics(g->cfg.more_metrics_ctx, &t);
    return sf_buf_take(&t, len);
}
