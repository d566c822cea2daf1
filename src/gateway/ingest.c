/*
 * ingest.c - POST /v1/transactions.
 *
 * The body is decoded as it arrives; each valid record is packed at once
 * (about 100 bytes, where an sf_record is 750), each invalid one adds an entry
 * to the error list. At the end of the body:
 *   - any invalid record: 400 listing them, nothing appended (all-or-nothing);
 *   - event ids already in the window are counted as duplicates and dropped;
 *     an id another request is still appending makes the whole request 429;
 *   - the rest is one append; the connection is suspended until it is
 *     durable, then answered 200 {"accepted": n, "duplicates": d}, or 429/503
 *     with Retry-After if the stream refused it (nothing of it was kept).
 *
 * After its first request, a keep-alive connection allocates nothing for a
 * single-record one: the buffers stay with the connection (server.c), and
 * the decoder is one of the gateway's spares, given back once the body is
 * decoded (decoder_take, decoder_give).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/logline.h"
#include "core/pack.h"
#include "gateway/internal.h"

#define MAX_LISTED_ERRORS 100

/* Growing byte buffer for packed records and the error list. */
static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        return -1;
    *buf = b;
    *cap = c;
    return 0;
}

/* The valid records of a request, packed one after another. */
typedef struct packed {
    char *data;
    size_t len, cap;
    uint32_t *lens;
    size_t n, ncap;
} packed;

static packed *packed_of(request *r)
{
    return r->packed;
}

static int on_record(void *ctx, const sf_record *rec, const sf_decode_pos *pos)
{
    (void)pos;
    request *r = ctx;
    packed *p = packed_of(r);
    if (r->nerrors)
        return 0; /* the request fails anyway: keep only counting errors */
    size_t size = sf_record_packed_size(rec);
    if (grow(&p->data, &p->cap, p->len + size) < 0 ||
        (p->n == p->ncap &&
         !(p->lens = realloc(p->lens, (p->ncap = p->ncap ? 2 * p->ncap : 256) * sizeof *p->lens))))
        return 1; /* out of memory: stop; answered 500 */
    p->lens[p->n++] = (uint32_t)sf_record_pack(rec, (uint8_t *)p->data + p->len, size);
    p->len += size;
    return 0;
}

static void add_error_json(request *r, const sf_decode_error *e)
{
    char reason[600], entry[900];
    sf_json_quote(e->reason, reason, sizeof reason);
    int n =
        snprintf(entry, sizeof entry, "%s{\"index\":%llu,\"line\":%llu,%s%s%s\"reason\":%s%s}",
                 r->nerrors > 1 ? "," : "", (unsigned long long)e->pos.index,
                 (unsigned long long)e->pos.line, e->field != SF_FIELD_NONE ? "\"field\":\"" : "",
                 e->field != SF_FIELD_NONE ? sf_field_name(e->field) : "",
                 e->field != SF_FIELD_NONE ? "\"," : "", reason, e->fatal ? ",\"fatal\":true" : "");
    if (n > 0 && (size_t)n < sizeof entry &&
        grow(&r->errors, &r->errors_cap, r->errors_len + (size_t)n + 1) == 0) {
        memcpy(r->errors + r->errors_len, entry, (size_t)n + 1);
        r->errors_len += (size_t)n;
    }
}

static int on_error(void *ctx, const sf_decode_error *e)
{
    request *r = ctx;
    r->nerrors++;
    if (r->nerrors <= MAX_LISTED_ERRORS)
        add_error_json(r, e);
    return 0;
}

/* The decoder format for a Content-Type, or -1 (415). */
static int format_of(const char *ctype, sf_format *f)
{
    if (!ctype)
        return -1;
    size_t n = strcspn(ctype, "; \t");
    static const struct {
        const char *type;
        sf_format f;
    } known[] = {
        {"application/json", SF_FORMAT_JSON},
        {"application/x-ndjson", SF_FORMAT_JSON},
        {"application/ndjson", SF_FORMAT_JSON},
        {"application/jsonl", SF_FORMAT_JSON},
        {"text/csv", SF_FORMAT_CSV},
        {"application/csv", SF_FORMAT_CSV},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].type) == n && strncasecmp(ctype, known[i].type, n) == 0) {
            *f = known[i].f;
            return 0;
        }
    return -1;
}

/* A decoder for r's body: the one given back last (warm in the cache), reset
 * for r, or a new one. Returns 0 or a negative error code. */
static int decoder_take(request *r, const sf_decode_opts *opts)
{
    sf_gateway *g = r->g;
    sf_decode_sink sink = {on_record, on_error, r};
    sf_error err = {0};
    pthread_mutex_lock(&g->decoders_mu);
    sf_decoder *d = g->ndecoders ? g->decoders[--g->ndecoders] : NULL;
    pthread_mutex_unlock(&g->decoders_mu);
    if (d && sf_decoder_reset(d, opts, &sink, &err) == 0) {
        r->dec = d;
        return 0;
    }
    sf_decoder_free(d);
    return sf_decoder_new(opts, &sink, &r->dec, &err);
}

/* r is done decoding: its decoder goes back to the gateway (or is freed
 * when enough are kept). */
static void decoder_give(request *r)
{
    sf_gateway *g = r->g;
    sf_decoder *d = r->dec;
    if (!d)
        return;
    r->dec = NULL;
    pthread_mutex_lock(&g->decoders_mu);
    bool kept = g->ndecoders < SF_SPARE_DECODERS;
    if (kept)
        g->decoders[g->ndecoders++] = d;
    pthread_mutex_unlock(&g->decoders_mu);
    if (!kept)
        sf_decoder_free(d);
}

void sf_ingest_free_decoders(sf_gateway *g)
{
    while (g->ndecoders)
        sf_decoder_free(g->decoders[--g->ndecoders]);
}

/* The checks made before any body is read. Returns 1 to decode the body,
 * 0 when the request is refused (r->reject_*; the body is then drained). */
static int admit(request *r, const char *method)
{
    sf_gateway *g = r->g;
    struct MHD_Connection *c = r->conn;
    if (strcmp(method, "POST") != 0)
        return sf_reject(r, 405, "method_not_allowed", "use POST");
    principal who;
    if (sf_auth(r, &who) < 0)
        return 0;
    if (who.role != SF_ROLE_INGEST && who.role != SF_ROLE_ADMIN)
        return sf_reject(r, 403, "forbidden",
                         who.role == SF_ROLE_NONE ? "a customer token may not ingest"
                                                  : "this key's role may not ingest");
    sf_format f;
    if (format_of(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"), &f) < 0)
        return sf_reject(r, 415, "unsupported_media_type",
                         "send application/json, application/x-ndjson or text/csv");
    if (atomic_load(&g->stopping))
        return sf_reject(r, 503, "stopping", "the server is stopping");
    packed *p = r->packed ? r->packed : calloc(1, sizeof *p); /* kept by a recycled request */
    sf_decode_opts opts = {.format = f};
    r->packed = p;
    if (!p || decoder_take(r, &opts) < 0)
        return sf_reject(r, 500, "internal", "out of memory");
    return 1;
}

static enum MHD_Result answer_too_large(request *r)
{
    char msg[96];
    snprintf(msg, sizeof msg, "the body is larger than %zu bytes", r->g->cfg.max_body);
    return sf_respond_error(r, 413, "payload_too_large", msg, NULL);
}

/* Bodies over this are never drained: answered at once, and the connection
 * closed. */
#define DRAIN_MAX (64u << 20)

bool sf_ingest_refuse_early(request *r)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    const char *expect = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Expect");
    unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
    if (len <= r->g->cfg.max_body)
        return false;
    /* A client waiting for 100 Continue gets the answer instead and never
     * sends the body; any other is drained so it can read the answer. */
    if ((expect && strcasecmp(expect, "100-continue") == 0) || len > DRAIN_MAX) {
        answer_too_large(r);
        return true;
    }
    r->too_large = true;
    return false;
}

/* The event id of the packed record at byte `at` (length 0 if none). */
static const char *event_id_at(const packed *p, size_t at, size_t len, size_t *evn)
{
    const char *ev = NULL, *inv;
    size_t invn;
    if (sf_packed_keys((const uint8_t *)p->data + at, len, &ev, evn, &inv, &invn) < 0)
        *evn = 0;
    return ev;
}

static void on_appended(void *ctx, int status, const uint32_t *parts, const uint64_t *offsets,
                        const char *errmsg)
{
    request *r = ctx;
    packed *p = packed_of(r);
    for (size_t i = 0, at = 0; i < p->n; at += p->lens[i], i++) {
        size_t evn;
        const char *ev = event_id_at(p, at, p->lens[i], &evn);
        if (!r->reserved[i])
            continue;
        if (status == 0)
            sf_dedup_commit(r->g->dedup, parts[i], offsets[i], ev, evn);
        else
            sf_dedup_release(r->g->dedup, ev, evn);
    }
    if (status == 0)
        atomic_fetch_add(&r->g->m.records_accepted, p->n);
    else
        snprintf(r->append_msg, sizeof r->append_msg, "%s", errmsg ? errmsg : "append failed");
    atomic_store(&r->append_status, status);
    MHD_resume_connection(r->conn); /* r belongs to the connection's thread from here */
}

/* Among the first n kept records, one reserved with this event id? With
 * release set, release every reservation instead (and return false). */
static bool scan_reserved(request *r, size_t n, const char *ev, size_t evn, bool release)
{
    packed *p = packed_of(r);
    for (size_t j = 0, at = 0; j < n; at += p->lens[j], j++) {
        size_t n2;
        const char *ev2 = event_id_at(p, at, p->lens[j], &n2);
        if (!r->reserved[j])
            continue;
        if (release)
            sf_dedup_release(r->g->dedup, ev2, n2);
        else if (n2 == evn && memcmp(ev2, ev, evn) == 0)
            return true;
    }
    return false;
}

/* Drop duplicates and reserve new event ids, compacting the kept records to
 * the front. Returns 0; 1 when another request holds one of the ids, 2 when
 * out of memory (then nothing stays reserved). */
static int deduplicate(request *r)
{
    packed *p = packed_of(r);
    if (p->n > r->reserved_cap) { /* every slot below keep is set before it is read */
        bool *b = realloc(r->reserved, p->n * sizeof *b);
        if (!b)
            return 2;
        r->reserved = b;
        r->reserved_cap = p->n;
    }
    size_t keep = 0, at = 0, out = 0;
    for (size_t i = 0; i < p->n; at += p->lens[i], i++) {
        size_t evn, len = p->lens[i];
        const char *ev = event_id_at(p, at, len, &evn);
        sf_dedup_state st = evn ? sf_dedup_reserve(r->g->dedup, ev, evn) : SF_DEDUP_NEW;
        /* In flight by this very request: the same id twice in one body. */
        if (st == SF_DEDUP_IN_FLIGHT && scan_reserved(r, keep, ev, evn, false))
            st = SF_DEDUP_SEEN;
        if (st == SF_DEDUP_IN_FLIGHT) {
            scan_reserved(r, keep, NULL, 0, true);
            p->n = keep;
            return 1;
        }
        if (st == SF_DEDUP_SEEN) {
            r->duplicates++;
            continue;
        }
        memmove(p->data + out, p->data + at, len);
        p->lens[keep] = (uint32_t)len;
        r->reserved[keep++] = evn > 0;
        out += len;
    }
    p->n = keep;
    p->len = out;
    return 0;
}

static enum MHD_Result answer_invalid(request *r)
{
    sf_gateway *g = r->g;
    sf_decode_stats st;
    sf_decoder_stats(r->dec, &st);
    atomic_fetch_add(&g->m.records_rejected, st.records ? st.records : 1);
    size_t cap = r->errors_len + 512;
    char *body = malloc(cap);
    if (!body)
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    int n = snprintf(body, cap,
                     "{\"error\":{\"code\":\"invalid_records\",\"message\":\"%zu of %llu records "
                     "are invalid; nothing was appended\",\"invalid\":%zu,\"errors\":[%s]%s}}\n",
                     r->nerrors,
                     (unsigned long long)(st.records > r->nerrors ? st.records : r->nerrors),
                     r->nerrors, r->errors ? r->errors : "",
                     r->nerrors > MAX_LISTED_ERRORS ? ",\"truncated\":true" : "");
    enum MHD_Result rc = sf_respond(r, 400, "application/json", body, (size_t)n, NULL, NULL);
    free(body);
    return rc;
}

static enum MHD_Result answer_accepted(request *r)
{
    size_t accepted = packed_of(r)->n;
    atomic_fetch_add(&r->g->m.records_duplicate, r->duplicates);
    if (accepted < SF_ACCEPTED_CACHED && r->duplicates < SF_ACCEPTED_CACHED) {
        r->answered = true;
        r->status = 200;
        return MHD_queue_response(r->conn, 200, r->g->accepted[accepted][r->duplicates]);
    }
    char body[96];
    int n = snprintf(body, sizeof body, "{\"accepted\":%zu,\"duplicates\":%zu}\n", accepted,
                     r->duplicates);
    return sf_respond(r, 200, "application/json", body, (size_t)n, NULL, NULL);
}

/* The body is complete: validate, deduplicate, append. */
static enum MHD_Result end_of_body(request *r)
{
    sf_gateway *g = r->g;
    r->body_done = true;
    if (r->reject_status)
        return sf_respond_error(r, r->reject_status, r->reject_code, r->reject_msg,
                                r->reject_status == 503 ? "1" : NULL);
    if (r->too_large)
        return answer_too_large(r);
    if (r->body_bytes == 0)
        return sf_respond_error(r, 400, "empty_body", "the request has no body", NULL);
    sf_error err = {0};
    int rc = sf_decoder_finish(r->dec, &err);
    if (rc == SF_ESTOPPED && !r->nerrors)
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    if (r->nerrors)
        return answer_invalid(r);
    switch (deduplicate(r)) {
    case 1:
        return sf_respond_error(r, 429, "event_in_flight",
                                "another request is appending one of these event ids; retry", "1");
    case 2:
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    }
    packed *p = packed_of(r);
    if (p->n == 0)
        return answer_accepted(r);
    atomic_store(&r->append_status, 1);
    MHD_suspend_connection(r->conn);
    rc = sf_stream_append_packed_async(g->stream, (uint8_t *)p->data, p->lens, p->n, on_appended, r,
                                       &err);
    if (rc < 0) /* not queued: answer on the resumed call */
        on_appended(r, rc, NULL, NULL, err.msg);
    return MHD_YES;
}

static enum MHD_Result answer_append(request *r)
{
    int st = atomic_load(&r->append_status);
    if (st == 1)
        return MHD_YES; /* not done yet */
    if (st == 0)
        return answer_accepted(r);
    if (st == SF_EBUSY)
        return sf_respond_error(r, 429, "overloaded", r->append_msg, "1");
    return sf_respond_error(r, 503, "unavailable", r->append_msg, "5");
}

enum MHD_Result sf_ingest_step(request *r, const char *method, const char *upload_data,
                               size_t *upload_data_size)
{
    if (r->body_done)
        return answer_append(r);
    if (!r->admitted) {
        r->admitted = true;
        if (!r->too_large)
            admit(r, method);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->body_bytes += n;
        atomic_fetch_add(&r->g->m.body_bytes, n);
        if (r->body_bytes > r->g->cfg.max_body)
            r->too_large = true;
        if (!r->too_large && !r->reject_status) {
            sf_error err = {0};
            sf_decoder_feed(r->dec, upload_data, n, &err);
        }
        return MHD_YES;
    }
    enum MHD_Result rc = end_of_body(r);
    decoder_give(r); /* before the wait for the disk: another request may use it meanwhile */
    return rc;
}

void sf_ingest_recycle(request *r)
{
    packed *p = packed_of(r);
    if (p)
        p->len = p->n = 0;
    if (r->dec)
        decoder_give(r); /* the body never ended (the client went away) */
    r->errors_len = 0;
    if (r->errors)
        r->errors[0] = '\0';
}

void sf_ingest_free(request *r)
{
    packed *p = packed_of(r);
    if (p) {
        free(p->data);
        free(p->lens);
        free(p);
    }
    sf_decoder_free(r->dec);
    free(r->errors);
    free(r->reserved);
}
