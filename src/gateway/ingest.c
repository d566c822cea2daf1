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
 *
 * A body with Content-Encoding: gzip is inflated as it arrives into the same
 * decoder (gunzip.h); max-body bounds it both as sent and once inflated, and
 * inflating stops at the first byte over (a zip bomb costs max-body bytes of
 * work, then 413). Any other coding but identity is 415. A body the decoder
 * cannot read to its end (broken JSON, a CSV without its header) is refused
 * as a whole, `unreadable_body`, saying at which line; a body read whole but
 * with invalid records is `invalid_records`, naming each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/logline.h"
#include "core/pack.h"
#include "gateway/gunzip.h"
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

/* One entry of the error list. A fatal error is about the text, not a
 * record: it has a line and no index. */
static void add_error_json(request *r, const sf_decode_error *e)
{
    char reason[600], entry[900], index[40] = "";
    sf_json_quote(e->reason, reason, sizeof reason);
    if (!e->fatal)
        snprintf(index, sizeof index, "\"index\":%llu,", (unsigned long long)e->pos.index);
    int n = snprintf(
        entry, sizeof entry, "%s{%s\"line\":%llu,%s%s%s\"reason\":%s%s}", r->nerrors > 1 ? "," : "",
        index, (unsigned long long)e->pos.line, e->field != SF_FIELD_NONE ? "\"field\":\"" : "",
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
    if (e->fatal && !r->unreadable) {
        r->unreadable = true;
        r->unreadable_line = e->pos.line;
        snprintf(r->unreadable_msg, sizeof r->unreadable_msg, "%s", e->reason);
    }
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

/* Content-Encoding: identity, or gzip (then r->gz is made ready). true,
 * or false with the refusal in r (415, or 500 out of memory). */
static bool accept_coding(request *r)
{
    const char *ce = r->h.content_encoding;
    if (r->h.content_encodings == 1 && strcasecmp(ce, "identity") == 0)
        return true;
    if (r->h.content_encodings == 1 &&
        (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0)) {
        sf_error err = {0};
        if (sf_gunzip_begin(&r->gz, &err) < 0) {
            sf_reject(r, 500, "internal", "out of memory");
            return false;
        }
        r->gzip = true;
        return true;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Content-Encoding '%.40s%s' is not supported: send gzip or identity",
             ce, r->h.content_encodings > 1 ? ", ..." : "");
    sf_reject(r, 415, "unsupported_content_encoding", msg);
    return false;
}

/* The checks made before any body is read: the body is then decoded, or
 * the request is refused (r->reject_*; the body is then drained). */
static void admit(request *r, const char *method)
{
    sf_gateway *g = r->g;
    principal who;
    sf_format f;
    if (strcmp(method, "POST") != 0) {
        sf_reject(r, 405, "method_not_allowed", "use POST");
    } else if (!sf_auth(r, &who)) {
        /* refused by sf_auth (401) */
    } else if (who.role != SF_ROLE_INGEST && who.role != SF_ROLE_ADMIN) {
        sf_reject(r, 403, "forbidden",
                  who.role == SF_ROLE_NONE ? "a customer token may not ingest"
                                           : "this key's role may not ingest");
    } else if (format_of(r->h.content_type, &f) < 0) {
        sf_reject(r, 415, "unsupported_media_type",
                  "send application/json, application/x-ndjson or text/csv");
    } else if (r->h.content_encoding && !accept_coding(r)) {
        /* refused by accept_coding (415, 500) */
    } else if (atomic_load(&g->stopping)) {
        sf_reject(r, 503, "stopping", "the server is stopping");
    } else {
        packed *p = r->packed ? r->packed : calloc(1, sizeof *p); /* kept by a recycled request */
        sf_decode_opts opts = {.format = f};
        r->packed = p;
        if (!p || decoder_take(r, &opts) < 0)
            sf_reject(r, 500, "internal", "out of memory");
    }
}

static enum MHD_Result answer_too_large(request *r)
{
    char msg[128];
    snprintf(msg, sizeof msg, "the body is larger than %zu bytes%s", r->g->cfg.max_body,
             r->inflated > r->g->cfg.max_body ? " once inflated (Content-Encoding: gzip)" : "");
    return sf_respond_error(r, 413, "payload_too_large", msg, NULL);
}

/* Bodies over this are never drained: answered at once, and the connection
 * closed. */
#define DRAIN_MAX (64u << 20)

bool sf_ingest_refuse_early(request *r)
{
    const char *cl = r->h.content_length, *expect = r->h.expect;
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

static void on_appended(void *ctx, int status, const uint32_t *parts, const sf_pos *positions,
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
            sf_dedup_commit(r->g->dedup, parts[i], &positions[i], ev, evn);
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

/* What deduplicate found. */
typedef enum dedup_outcome {
    DEDUP_READY,     /* duplicates dropped, new ids reserved: append the rest */
    DEDUP_IN_FLIGHT, /* another request holds one of the ids: nothing reserved */
    DEDUP_NO_MEMORY, /* nothing reserved */
} dedup_outcome;

/* Drop duplicates and reserve new event ids, compacting the kept records to
 * the front. */
static dedup_outcome deduplicate(request *r)
{
    packed *p = packed_of(r);
    if (p->n > r->reserved_cap) { /* every slot below keep is set before it is read */
        bool *b = realloc(r->reserved, p->n * sizeof *b);
        if (!b)
            return DEDUP_NO_MEMORY;
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
            return DEDUP_IN_FLIGHT;
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
    return DEDUP_READY;
}

/* The start of a 400 about the body: unreadable_body (the decoder could not
 * read past a line) or invalid_records (every record was read, some are
 * invalid). Returns what snprintf does. */
static int invalid_head(request *r, const sf_decode_stats *st, char *out, size_t cap)
{
    if (!r->unreadable)
        return snprintf(
            out, cap,
            "{\"error\":{\"code\":\"invalid_records\",\"message\":\"%zu of %llu records "
            "are invalid; nothing was appended\",\"invalid\":%zu,",
            r->nerrors, (unsigned long long)(st->records > r->nerrors ? st->records : r->nerrors),
            r->nerrors);
    char where[96], msg[512], quoted[600];
    if (st->records)
        snprintf(where, sizeof where, "after %llu records", (unsigned long long)st->records);
    else
        snprintf(where, sizeof where, "before any record");
    snprintf(msg, sizeof msg,
             "the body could not be read as %s at line %llu (%s): %s; nothing "
             "was appended",
             st->format == SF_FORMAT_CSV ? "CSV" : "JSON", (unsigned long long)r->unreadable_line,
             where, r->unreadable_msg);
    sf_json_quote(msg, quoted, sizeof quoted);
    return snprintf(out, cap,
                    "{\"error\":{\"code\":\"unreadable_body\",\"message\":%s,\"line\":%llu,"
                    "\"records_before\":%llu,\"invalid\":%llu,",
                    quoted, (unsigned long long)r->unreadable_line, (unsigned long long)st->records,
                    (unsigned long long)st->invalid);
}

static enum MHD_Result answer_invalid(request *r)
{
    sf_gateway *g = r->g;
    sf_decode_stats st;
    sf_decoder_stats(r->dec, &st);
    atomic_fetch_add(&g->m.records_rejected, st.records ? st.records : 1);
    size_t cap = r->errors_len + 1024;
    char *body = malloc(cap);
    if (!body)
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    int n = invalid_head(r, &st, body, cap);
    n += snprintf(body + n, cap - (size_t)n, "\"errors\":[%s]%s}}\n", r->errors ? r->errors : "",
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
    if (r->reject_status == 415 && strcmp(r->reject_code, "unsupported_content_encoding") == 0)
        /* RFC 9110, 15.5.16: say which codings are taken */
        return sf_respond_error_with(r, 415, r->reject_code, r->reject_msg, "Accept-Encoding",
                                     "gzip, identity");
    if (r->reject_status == 405) /* RFC 9110, 15.5.6: say which methods are */
        return sf_respond_error_with(r, 405, r->reject_code, r->reject_msg, "Allow", "POST");
    if (r->reject_status)
        return sf_respond_error(r, r->reject_status, r->reject_code, r->reject_msg,
                                r->reject_status == 503 ? "1" : NULL);
    if (r->too_large)
        return answer_too_large(r);
    if (r->body_bytes == 0)
        return sf_respond_error(r, 400, "empty_body", "the request has no body", NULL);
    sf_error err = {0};
    if (r->gzip && sf_gunzip_finish(r->gz, &err) < 0)
        return sf_respond_error(r, 400, "invalid_encoding", err.msg, NULL);
    int rc = sf_decoder_finish(r->dec, &err);
    if (rc == SF_ESTOPPED && !r->nerrors)
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    if (r->nerrors)
        return answer_invalid(r);
    switch (deduplicate(r)) {
    case DEDUP_IN_FLIGHT:
        return sf_respond_error(r, 429, "event_in_flight",
                                "another request is appending one of these event ids; retry", "1");
    case DEDUP_NO_MEMORY:
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    case DEDUP_READY:
        break;
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

/* The cause of a failed append fit for the client: the last part of the
 * stream's message ("write /var/.../00000.seg: No space left on device" ->
 * " (No space left on device)") when it names no path, else nothing. */
static const char *public_reason(const char *msg, char *out, size_t cap)
{
    const char *colon = strrchr(msg, ':');
    const char *why = colon ? colon + 1 : msg;
    while (*why == ' ')
        why++;
    if (!*why || strchr(why, '/') || strlen(why) + 4 > cap)
        return "";
    snprintf(out, cap, " (%s)", why);
    return out;
}

static enum MHD_Result answer_append(request *r)
{
    int st = atomic_load(&r->append_status);
    if (st == 1)
        return MHD_YES; /* not done yet */
    if (st == 0)
        return answer_accepted(r);
    if (st == SF_EBUSY) /* the stream's message names its folder: for the log only */
        return sf_respond_internal(r, 429, "overloaded",
                                   "the log's write queue is full (the disk is behind); nothing of "
                                   "the request was kept; retry",
                                   r->append_msg, "1");
    char msg[256], why[96];
    snprintf(msg, sizeof msg,
             "the log could not write the records%s; nothing of the request was kept (the "
             "server's log has the details)",
             public_reason(r->append_msg, why, sizeof why));
    return sf_respond_internal(r, 503, "unavailable", msg, r->append_msg, "5");
}

/* Inflated bytes: to the decoder, until they pass max-body. */
static int on_inflated(void *ctx, const char *buf, size_t len)
{
    request *r = ctx;
    r->inflated += len;
    if (r->inflated > r->g->cfg.max_body) {
        r->too_large = true; /* inflates nothing more; answered 413 at the end */
        return 1;
    }
    sf_error err = {0};
    sf_decoder_feed(r->dec, buf, len, &err);
    return 0;
}

static void inflate_piece(request *r, const char *data, size_t n)
{
    sf_error err = {0};
    int rc = sf_gunzip_feed(r->gz, data, n, on_inflated, r, &err);
    if (rc == SF_EFORMAT)
        sf_reject(r, 400, "invalid_encoding", err.msg);
    else if (rc == SF_ENOMEM)
        sf_reject(r, 500, "internal", "out of memory");
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
        if (r->body_bytes && sf_conns_body_too_slow(r, r->body_bytes))
            return MHD_NO; /* trickled in: cut off (conns.c) */
        r->body_bytes += n;
        atomic_fetch_add(&r->g->m.body_bytes, n);
        if (r->body_bytes > r->g->cfg.max_body)
            r->too_large = true;
        if (!r->too_large && !r->reject_status) {
            sf_error err = {0};
            if (r->gzip)
                inflate_piece(r, upload_data, n);
            else
                sf_decoder_feed(r->dec, upload_data, n, &err);
        } else {
            sf_conns_draining(r); /* refused: nothing of it will be appended */
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
    sf_gunzip_free(r->gz);
    free(r->errors);
    free(r->reserved);
}
