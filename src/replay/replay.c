/*
 * replay.c - the replay client's engine (see replay.h).
 *
 * One thread does everything. The decoder is driven block by block, and its
 * record callback fills the current batch; a full batch (or, in a paced run,
 * one whose rows span more than the linger time) is handed to a free slot,
 * and when no slot is free the callback runs the libcurl multi loop until
 * one is. So reading waits for the network and never the other way round,
 * and memory is the slots' batches plus the one being filled.
 *
 * A slot is one request's worth of rows and an easy handle; it is FREE,
 * WAITING (for its rows' due time, or for a retry) or RUNNING. libcurl's
 * multi handle keeps at most `connections` connections open and reuses them
 * (keep-alive), so with every slot busy the server always has that many
 * requests to work on while the next batch is being encoded.
 */
#include "replay/replay.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/filehash.h"
#include "core/input.h"
#include "core/money.h"
#include "core/progress.h"
#include "replay/internal.h"

#define RESPONSE_MAX  (1u << 20) /* more of an answer than this is not kept */
#define REPORT_EVERY  0.1        /* seconds between progress reports */
#define SERVICE_EVERY 0.001      /* seconds the network may wait while slots are free */

typedef enum { SLOT_FREE, SLOT_WAITING, SLOT_RUNNING } slot_state;

typedef struct slot {
    CURL *easy;
    sf_batch b;
    slot_state state;
    uint32_t attempt; /* failed attempts of this request so far */
    bool posted;      /* its rows are counted in stats.sent */
    double at;        /* WAITING: when to start */
    double retry_after;
    char *resp;
    size_t resp_len, resp_cap;
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct replay {
    const sf_replay_opts *o;
    const char *path;
    sf_replay_stats *st;
    char hash[SF_FILE_HASH_LEN];
    char prefix[SF_FILE_HASH_LEN + 8]; /* "imp-<hash>-": the rows' event ids */
    char *url;
    CURLM *multi;
    struct curl_slist *headers;
    slot *slots;
    uint32_t nslots;
    sf_batch fill; /* the batch being filled */
    sf_pacer pacer;
    sf_record rec; /* a row with its event id set */
    uint64_t end_row;
    double t0, last_report;
    double last_perform; /* when the network was last driven */
    uint64_t rng;
    sf_input *in;
    int fatal; /* the SF_E* that ends the run early, 0 if none */
    sf_error fatal_err;
    char first_reject[SF_ERROR_MSG_MAX + 512];
    bool stopped;  /* on_progress asked to stop */
    bool answered; /* the server has answered a request (over TLS: a handshake worked) */
} replay;

void sf_replay_opts_init(sf_replay_opts *o)
{
    *o = (sf_replay_opts){
        .batch = 500,
        .connections = 4,
        .pace = SF_REPLAY_MAX,
        .linger = 0.1,
        .retries = 10,
        .backoff = 0.1,
        .backoff_max = 10,
        .timeout = 30,
    };
}

/* ---- reporting ---- */

static void report(replay *r, double now, bool force)
{
    if (!force && now - r->last_report < REPORT_EVERY)
        return;
    r->last_report = now;
    sf_replay_stats *st = r->st;
    st->seconds = now - r->t0;
    if (r->in)
        sf_input_progress(r->in, &st->input_done, &st->input_total);
    if (r->o->progress) {
        sf_progress *p = r->o->progress;
        sf_progress_note(p, "  errors %" PRIu64 "  retries %" PRIu64 "%s",
                         st->errors + st->rejected, st->retries, st->failed ? "  FAILING" : "");
        uint64_t done = st->accepted + st->duplicates;
        if (r->o->limit)
            sf_progress_update(p, done, done + st->rejected, r->o->limit);
        else
            sf_progress_update(p, done, st->input_done, st->input_total);
    }
    if (r->o->on_progress && r->o->on_progress(r->o->ctx, st) != 0)
        r->stopped = true;
}

static void reject(replay *r, uint64_t row, uint64_t line, bool by_server, const char *msg)
{
    r->st->rejected++;
    if (!r->first_reject[0])
        snprintf(r->first_reject, sizeof r->first_reject, "%s", msg);
    if (r->o->on_reject) {
        sf_replay_reject rj = {row, line, by_server, msg};
        r->o->on_reject(r->o->ctx, &rj);
    }
}

/* The first reason the run must end; later ones are dropped. */
static void set_fatal(replay *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fatal(replay *r, int code, const char *fmt, ...)
{
    if (r->fatal)
        return;
    r->fatal = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fatal_err.msg, sizeof r->fatal_err.msg, fmt, ap);
    va_end(ap);
    r->fatal_err.code = code;
}

/* ---- requests ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    slot *s = ctx;
    size_t len = size * n;
    if (s->resp_len + len + 1 > s->resp_cap && s->resp_len + len + 1 <= RESPONSE_MAX) {
        size_t cap = s->resp_cap ? s->resp_cap : 4096;
        while (cap < s->resp_len + len + 1)
            cap *= 2;
        char *p = realloc(s->resp, cap);
        if (p) {
            s->resp = p;
            s->resp_cap = cap;
        }
    }
    if (s->resp_len + len + 1 <= s->resp_cap) {
        memcpy(s->resp + s->resp_len, data, len);
        s->resp_len += len;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    slot *s = ctx;
    double ra = sf_answer_retry_after(data, size * n);
    if (ra >= 0)
        s->retry_after = ra;
    return size * n;
}

static void start(replay *r, slot *s)
{
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->b.len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->b.body);
    s->resp_len = 0;
    s->retry_after = -1;
    s->errbuf[0] = '\0';
    s->state = SLOT_RUNNING;
    r->st->requests++;
    r->st->bytes += s->b.len;
    if (s->attempt > 0)
        r->st->retries++;
    if (!s->posted) {
        r->st->sent += s->b.n;
        s->posted = true;
    }
    CURLMcode mc = curl_multi_add_handle(r->multi, e);
    if (mc != CURLM_OK) {
        set_fatal(r, SF_EIO, "cannot start a request: %s", curl_multi_strerror(mc));
        r->st->failed += s->b.n;
        s->state = SLOT_FREE;
    }
}

static void free_slot(slot *s)
{
    sf_batch_clear(&s->b);
    s->state = SLOT_FREE;
}

/* Rows first..last of a batch, for messages. */
static void rows_of(const replay *r, const slot *s, char *buf, size_t cap)
{
    if (s->b.n == 1)
        snprintf(buf, cap, "%s:%" PRIu64 " (row %" PRIu64 ")", r->path, s->b.line[0], s->b.row[0]);
    else
        snprintf(buf, cap, "%s:%" PRIu64 "-%" PRIu64 " (rows %" PRIu64 "-%" PRIu64 ")", r->path,
                 s->b.line[0], s->b.line[s->b.n - 1], s->b.row[0], s->b.row[s->b.n - 1]);
}

static double jitter(replay *r)
{
    r->rng ^= r->rng << 13; /* xorshift64 */
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return (double)(r->rng >> 11) / 9007199254740992.0;
}

/* A retryable failure: again after a backoff, or give up. */
static void retry(replay *r, slot *s, const char *why)
{
    sf_replay_stats *st = r->st;
    st->errors++;
    snprintf(st->last_error, sizeof st->last_error, "%s", why);
    if (++s->attempt > r->o->retries) {
        char rows[SF_ERROR_MSG_MAX / 2];
        rows_of(r, s, rows, sizeof rows);
        set_fatal(r, SF_EIO, "gave up on %s after %u attempts: %s", rows, s->attempt, why);
        st->failed += s->b.n;
        free_slot(s);
        return;
    }
    double delay =
        sf_backoff_delay(s->attempt, r->o->backoff, r->o->backoff_max, s->retry_after, jitter(r));
    s->at = sf_monotonic() + delay;
    s->state = SLOT_WAITING;
}

typedef struct named_ctx {
    replay *r;
    const char *path;
} named_ctx;

static void on_named(void *ctx, uint64_t row, uint64_t line, const char *field, const char *reason)
{
    named_ctx *c = ctx;
    char msg[SF_ERROR_MSG_MAX + 128];
    snprintf(msg, sizeof msg, "%s:%" PRIu64 ": %s%s%s (refused by the server)", c->path, line,
             field, field[0] ? ": " : "", reason);
    reject(c->r, row, line, true, msg);
}

/* A 400: the rows it names are rejected, and the rest of the batch (which
 * was not appended either: a request is all or nothing) goes again without
 * them. An error about the whole body rejects every row. */
static void invalid(replay *r, slot *s)
{
    named_ctx c = {r, r->path};
    char message[SF_ERROR_MSG_MAX];
    bool whole;
    sf_batch_apply_invalid(&s->b, s->resp, message, &whole, on_named, &c);
    if (whole) {
        for (uint32_t i = 0; i < s->b.n; i++) {
            char msg[SF_ERROR_MSG_MAX + 128];
            snprintf(msg, sizeof msg, "%s:%" PRIu64 ": refused by the server with its request: %s",
                     r->path, s->b.line[i], message);
            reject(r, s->b.row[i], s->b.line[i], true, msg);
        }
        free_slot(s);
        return;
    }
    if (s->b.n == 0) {
        free_slot(s);
        return;
    }
    s->attempt = 0; /* a new request, not a retry */
    s->at = 0;
    s->state = SLOT_WAITING;
}

/* An answer that no retry can change. */
static void refused(replay *r, slot *s, long status)
{
    char code[64], message[SF_ERROR_MSG_MAX];
    bool truncated;
    if (sf_answer_error_parse(s->resp, code, message, &truncated, NULL, NULL) < 0)
        snprintf(message, sizeof message, "%s", "(not a shopflow answer)");
    switch (status) {
    case 401:
        set_fatal(r, SF_EUSAGE, "the server refused the key (401 %s: %s)", code, message);
        break;
    case 403:
        set_fatal(r, SF_EUSAGE, "the key may not post transactions (403 %s: %s); use an ingest key",
                  code, message);
        break;
    case 404:
    case 405:
        set_fatal(r, SF_EUSAGE, "%s answers %ld (%s): is it a shopflow server?", r->url, status,
                  code);
        break;
    case 413:
        set_fatal(r, SF_EUSAGE,
                  "a request of %u rows (%zu bytes) is more than the server takes (413: %s); "
                  "use a smaller --batch",
                  s->b.n, s->b.len, message);
        break;
    default:
        set_fatal(r, status >= 400 && status < 500 ? SF_EUSAGE : SF_EIO,
                  "the server answered %ld %s: %s", status, code, message);
    }
    r->st->failed += s->b.n;
    free_slot(s);
}

/* A TLS failure that no retry can change: the server's certificate is not
 * trusted (or --cacert is no CA file), or, before the server has answered
 * anything, the handshake itself fails (https:// to a port speaking HTTP,
 * no TLS version in common). A failed handshake after answers is retried:
 * a server restarting can cut one short. */
static bool tls_refused(replay *r, slot *s, CURLcode res, const char *why)
{
    const char *hint = NULL;
    switch (res) {
    case CURLE_PEER_FAILED_VERIFICATION:
        hint = r->o->cacert ? "is it signed by a CA in the --cacert file?"
                            : "give the CA that signed it with --cacert FILE";
        break;
    case CURLE_SSL_CACERT_BADFILE:
        hint = "is --cacert a PEM file of CA certificates?";
        break;
    case CURLE_SSL_CONNECT_ERROR:
        if (r->answered)
            return false;
        hint = "does the server serve https on that port?";
        break;
    default:
        return false;
    }
    set_fatal(r, SF_EUSAGE, "TLS with %s failed: %s (%s)", r->url, why, hint);
    r->st->failed += s->b.n;
    free_slot(s);
    return true;
}

static void finished(replay *r, slot *s, CURLcode res)
{
    char why[CURL_ERROR_SIZE + 80];
    if (res != CURLE_OK) {
        /* What plain HTTP to an HTTPS port gets; retried all the same, since
         * a server going down can also close without an answer. */
        bool https_port =
            (res == CURLE_GOT_NOTHING || res == CURLE_SEND_ERROR || res == CURLE_RECV_ERROR) &&
            !r->answered && strncasecmp(r->url, "http://", 7) == 0;
        snprintf(why, sizeof why, "%s%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(res),
                 https_port ? " (if the server serves https, give an https:// URL)" : "");
        if (!tls_refused(r, s, res, why))
            retry(r, s, why);
        return;
    }
    r->answered = true;
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (s->resp)
        s->resp[s->resp_len] = '\0';
    const char *body = s->resp ? s->resp : "";
    uint64_t accepted, duplicates;
    switch (status) {
    case 200:
        if (sf_answer_accepted(body, &accepted, &duplicates) < 0) {
            accepted = s->b.n; /* a 200 means durable (docs/api.md); counts unknown */
            duplicates = 0;
        }
        r->st->accepted += accepted;
        r->st->duplicates += duplicates;
        free_slot(s);
        return;
    case 400:
        invalid(r, s);
        return;
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: {
        char code[64], message[SF_ERROR_MSG_MAX];
        bool truncated;
        if (sf_answer_error_parse(body, code, message, &truncated, NULL, NULL) < 0)
            code[0] = '\0';
        snprintf(why, sizeof why, "%ld %s", status, code);
        retry(r, s, why);
        return;
    }
    default:
        refused(r, s, status);
    }
}

static void collect(replay *r)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(r->multi, e);
        finished(r, (slot *)(void *)priv, res);
    }
}

/* Start what is due; once the run is ending, drop what has not started. */
static void start_due(replay *r, double now)
{
    for (uint32_t i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->state != SLOT_WAITING)
            continue;
        if (r->fatal || r->stopped) {
            r->st->failed += s->b.n;
            free_slot(s);
        } else if (s->at <= now) {
            start(r, s);
        }
    }
}

/* Milliseconds until the next slot is due (at most REPORT_EVERY). */
static int wait_ms(const replay *r, double now)
{
    double next = now + REPORT_EVERY;
    for (uint32_t i = 0; i < r->nslots; i++)
        if (r->slots[i].state == SLOT_WAITING && r->slots[i].at < next)
            next = r->slots[i].at;
    double ms = (next - now) * 1000;
    return ms <= 0 ? 0 : (int)ms + 1;
}

static bool any_free(const replay *r)
{
    if (r->fatal || r->stopped)
        return true;
    for (uint32_t i = 0; i < r->nslots; i++)
        if (r->slots[i].state == SLOT_FREE)
            return true;
    return false;
}

static bool all_free(const replay *r)
{
    for (uint32_t i = 0; i < r->nslots; i++)
        if (r->slots[i].state != SLOT_FREE)
            return false;
    return true;
}

/* Run the network until done(r). */
static void pump(replay *r, bool (*done)(const replay *r))
{
    for (;;) {
        double now = sf_monotonic();
        start_due(r, now);
        int running;
        CURLMcode mc = curl_multi_perform(r->multi, &running);
        r->last_perform = now;
        if (mc != CURLM_OK)
            set_fatal(r, SF_EIO, "libcurl: %s", curl_multi_strerror(mc));
        collect(r);
        report(r, now, false);
        if (done(r))
            return;
        curl_multi_poll(r->multi, NULL, 0, wait_ms(r, now), NULL);
    }
}

/* Hand the filled batch to a free slot, waiting for one. -1 when the run
 * is ending (then the batch is not sent). While slots are free the network
 * is driven at most every SERVICE_EVERY: curl_multi_perform looks at every
 * transfer (a poll(2) each), so calling it once per small batch would cost
 * more than the request itself at --batch 1 and many connections. */
static int submit(replay *r)
{
    if (r->fill.n == 0)
        return 0;
    if (!any_free(r) || sf_monotonic() - r->last_perform >= SERVICE_EVERY)
        pump(r, any_free);
    if (r->fatal || r->stopped)
        return -1;
    for (uint32_t i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->state != SLOT_FREE)
            continue;
        sf_batch t = s->b; /* swap buffers: nothing is copied */
        s->b = r->fill;
        r->fill = t;
        sf_batch_clear(&r->fill);
        s->attempt = 0;
        s->posted = false;
        s->at = s->b.due;
        s->state = SLOT_WAITING;
        start_due(r, sf_monotonic());
        return 0;
    }
    return -1; /* not reached: pump returned with a free slot */
}

/* ---- reading ---- */

static int on_record(void *ctx, const sf_record *rec, const sf_decode_pos *pos)
{
    replay *r = ctx;
    if (pos->index < r->o->from_row)
        return 0;
    if (pos->index >= r->end_row || r->fatal || r->stopped)
        return 1;
    r->st->rows++;
    double due = r->t0 + sf_pacer_next(&r->pacer, rec->invoice_date);
    sf_batch *b = &r->fill;
    if (b->n && due - b->first_due > r->o->linger && submit(r) < 0)
        return 1;
    if (b->n == 0)
        b->first_due = due;
    b->due = due;
    if (!rec->event_id_len) { /* as sf_import_file names rows */
        r->rec = *rec;
        r->rec.event_id_len = (uint8_t)sf_event_id(r->prefix, pos->index, r->rec.event_id);
        rec = &r->rec;
    }
    if (sf_batch_add(b, rec, pos->index, pos->line) < 0) {
        set_fatal(r, SF_ENOMEM, "out of memory");
        return 1;
    }
    return b->n == b->max && submit(r) < 0 ? 1 : 0;
}

static int on_error(void *ctx, const sf_decode_error *e)
{
    replay *r = ctx;
    if (e->fatal || e->pos.index < r->o->from_row)
        return 0; /* a fatal error is returned by feed/finish */
    if (e->pos.index >= r->end_row)
        return 1;
    r->st->rows++;
    char msg[SF_ERROR_MSG_MAX + 256];
    sf_decode_error_format_in(e, r->path, msg, sizeof msg);
    reject(r, e->pos.index, e->pos.line, false, msg);
    return 0;
}

/* Decode the file into batches. SF_ESTOPPED from the decoder means our
 * callback stopped it (limit reached, or the run is ending): not an error. */
static int read_rows(replay *r, sf_error *err)
{
    sf_decoder *dec = NULL;
    sf_decode_sink sink = {on_record, on_error, r};
    int rc = sf_input_open(r->path, &r->in, err);
    if (rc == 0)
        rc = sf_decoder_new(&r->o->decode, &sink, &dec, err);
    while (rc == 0) {
        const char *block;
        size_t len;
        if ((rc = sf_input_read(r->in, &block, &len, err)) < 0)
            break;
        rc = len ? sf_decoder_feed(dec, block, len, err) : sf_decoder_finish(dec, err);
        if (rc < 0 && rc != SF_ESTOPPED)
            sf_error_prefix(err, "%s:", r->path);
        if (len == 0)
            break;
    }
    if (rc == SF_ESTOPPED)
        rc = 0;
    if (submit(r) < 0) /* the rows read before a decoding error go too */
        r->st->failed += r->fill.n;
    sf_decoder_free(dec);
    return rc;
}

/* ---- setup ---- */

static int check_opts(const sf_replay_opts *o, sf_error *err)
{
    if (!o->url || !*o->url)
        return sf_error_set(err, SF_EUSAGE, "no URL given");
    if (strstr(o->url, "://") && strncasecmp(o->url, "http://", 7) != 0 &&
        strncasecmp(o->url, "https://", 8) != 0)
        return sf_error_set(err, SF_EUSAGE, "the URL %s is neither http:// nor https://", o->url);
    if (o->cacert && access(o->cacert, R_OK) != 0)
        return sf_error_set(err, SF_EUSAGE, "--cacert: cannot read %s: %s", o->cacert,
                            strerror(errno));
    if (!o->key || !*o->key)
        return sf_error_set(err, SF_EUSAGE, "no key given");
    if (o->batch < 1 || o->batch > SF_REPLAY_BATCH_MAX)
        return sf_error_set(err, SF_EUSAGE, "batch must be 1 to %d rows", SF_REPLAY_BATCH_MAX);
    if (o->connections < 1 || o->connections > SF_REPLAY_CONNECTIONS_MAX)
        return sf_error_set(err, SF_EUSAGE, "connections must be 1 to %d",
                            SF_REPLAY_CONNECTIONS_MAX);
    if ((o->pace == SF_REPLAY_RATE && !(o->rate > 0)) ||
        (o->pace == SF_REPLAY_SPEEDUP && !(o->speedup > 0)))
        return sf_error_set(err, SF_EUSAGE, "the rate or speedup must be above 0");
    if (!(o->timeout > 0) || o->backoff < 0 || o->backoff_max < o->backoff || o->linger < 0)
        return sf_error_set(err, SF_EUSAGE, "timeout, backoff or linger out of range");
    return 0;
}

static int make_url(replay *r, sf_error *err)
{
    static const char route[] = "/v1/transactions";
    size_t n = strlen(r->o->url), rn = sizeof route - 1;
    bool has = n >= rn && strcmp(r->o->url + n - rn, route) == 0;
    while (!has && n > 0 && r->o->url[n - 1] == '/')
        n--;
    if (!(r->url = malloc(n + rn + 1)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    memcpy(r->url, r->o->url, n);
    strcpy(r->url + n, has ? "" : route);
    return 0;
}

static int setup_slot(replay *r, slot *s, sf_error *err)
{
    CURL *e = s->easy = curl_easy_init();
    if (!e || sf_batch_init_as(&s->b, r->o->batch, r->o->csv, err) < 0)
        return e ? SF_ENOMEM : sf_error_set(err, SF_ENOMEM, "cannot make a libcurl handle");
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)s);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "shopflow-replay/" SF_VERSION);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(r->o->timeout * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->o->timeout < 10 ? r->o->timeout * 1000 : 10000));
    /* https: the server's certificate is always verified (libcurl's default,
     * kept); against the system's CAs unless a file of others is given. */
    if (r->o->cacert)
        curl_easy_setopt(e, CURLOPT_CAINFO, r->o->cacert);
    return 0;
}

static int setup(replay *r, sf_error *err)
{
    const sf_replay_opts *o = r->o;
    int rc = make_url(r, err);
    if (rc < 0)
        return rc;
    char auth[600];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->key);
    struct curl_slist *h = curl_slist_append(NULL, o->csv ? "Content-Type: text/csv"
                                                          : "Content-Type: application/x-ndjson");
    if (h && (r->headers = curl_slist_append(h, auth)))
        h = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
    r->multi = curl_multi_init();
    r->slots = calloc(o->connections, sizeof *r->slots);
    if (!h || !r->multi || !r->slots)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    r->headers = h;
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->connections);
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)o->connections);
    for (r->nslots = 0; r->nslots < o->connections; r->nslots++)
        if ((rc = setup_slot(r, &r->slots[r->nslots], err)) < 0) {
            r->nslots++; /* so teardown frees it */
            return rc;
        }
    if ((rc = sf_batch_init_as(&r->fill, o->batch, o->csv, err)) < 0)
        return rc;
    r->end_row =
        o->limit && o->from_row + o->limit > o->from_row ? o->from_row + o->limit : UINT64_MAX;
    sf_pacer_init(&r->pacer, o->pace, o->pace == SF_REPLAY_RATE ? o->rate : o->speedup);
    r->rng = (uint64_t)(sf_monotonic() * 1e9) | 1;
    return 0;
}

static void teardown(replay *r)
{
    for (uint32_t i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->easy) {
            if (s->state == SLOT_RUNNING)
                curl_multi_remove_handle(r->multi, s->easy);
            curl_easy_cleanup(s->easy);
        }
        sf_batch_free(&s->b);
        free(s->resp);
    }
    free(r->slots);
    sf_batch_free(&r->fill);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    free(r->url);
    sf_input_close(r->in);
}

/* What the run's outcome is, in order of importance. */
static int outcome(replay *r, int read_rc, sf_error *err)
{
    const sf_replay_stats *st = r->st;
    if (r->fatal) {
        *err = r->fatal_err;
        return r->fatal;
    }
    if (read_rc < 0)
        return read_rc;
    if (r->stopped)
        return sf_error_set(err, SF_ESTOPPED, "stopped after %" PRIu64 " of %" PRIu64 " rows",
                            st->accepted + st->duplicates, st->rows);
    if (st->rejected)
        return sf_error_set(err, SF_EINVAL, "%" PRIu64 " of %" PRIu64 " rows were rejected (%s)",
                            st->rejected, st->rows, r->first_reject);
    return 0;
}

int sf_replay_file(const char *path, const sf_replay_opts *opts, sf_replay_stats *st, sf_error *err)
{
    memset(st, 0, sizeof *st);
    int rc = check_opts(opts, err);
    if (rc < 0)
        return rc;
    replay r = {.o = opts, .path = path, .st = st};
    double t = sf_monotonic();
    if ((rc = sf_file_content_hash(path, r.hash, err)) < 0)
        return rc;
    st->hash_seconds = sf_monotonic() - t;
    snprintf(r.prefix, sizeof r.prefix, "imp-%s-", r.hash);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sf_error_set(err, SF_ENOMEM, "libcurl cannot start");
    if ((rc = setup(&r, err)) == 0) {
        r.t0 = r.last_report = sf_monotonic();
        int read_rc = read_rows(&r, err);
        pump(&r, all_free);
        report(&r, sf_monotonic(), true);
        rc = outcome(&r, read_rc, err);
    }
    teardown(&r);
    curl_global_cleanup();
    return rc;
}

void sf_replay_print_summary(FILE *out, const sf_replay_stats *st)
{
    struct {
        const char *name;
        uint64_t v;
    } lines[] = {
        {"rows", st->rows},         {"accepted", st->accepted}, {"duplicates", st->duplicates},
        {"rejected", st->rejected}, {"failed", st->failed},     {"requests", st->requests},
        {"retries", st->retries},
    };
    char num[SF_MONEY_TEXT_MAX];
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        sf_format_count((int64_t)lines[i].v, num);
        fprintf(out, "%-11s %s\n", lines[i].name, num);
    }
    double rate = st->seconds > 0 ? (double)(st->accepted + st->duplicates) / st->seconds : 0;
    sf_format_count((int64_t)rate, num);
    fprintf(out, "%-11s %.2f\n%-11s %s\n", "seconds", st->seconds, "rows/s", num);
}
