/*
 * aws.c - the AWS client (aws.h): requests signed by libcurl's SigV4, driven
 * by one multi handle, retried with backoff and full jitter, their failures
 * made into messages that say what, where and what AWS answered.
 *
 * Each submitted request gets an entry (the client's own state beside the
 * caller's sf_aws_request): QUEUED until a slot is free and its retry time
 * has come, then RUNNING on an easy handle. Easy handles are kept in a pool
 * and reused; connections live in the multi handle's cache, so consecutive
 * requests to one endpoint ride one kept-alive connection. The entries are
 * few (max_in_flight running and whatever the caller queued), so they are
 * scanned in a plain list: no heap, no timer wheel.
 *
 * How an answer is judged is in classify(): success, a failure worth another
 * try (the network, 5xx, 429, throttling codes), or a final one mapped to an
 * SF_E* code. The message of a final failure names the service, the
 * operation, the resource, the HTTP status, AWS's code, message and request
 * id; on 401/403 also the access key id and where it came from. The secret
 * key and session token reach libcurl only (CURLOPT_PASSWORD and a header);
 * verbose output is never turned on, so they are never printed.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/aws.h"
#include "core/logline.h"

typedef struct entry {
    sf_aws_request *rq;
    struct entry *next;
    CURL *easy; /* when running */
    struct curl_slist *hdrs;
    double first_at, ready_at; /* monotonic seconds */
    size_t sent;               /* S3 uploads: body bytes handed to libcurl this try */
    char sha[65];              /* S3: the body's SHA-256 */
    char errbuf[CURL_ERROR_SIZE];
} entry;

struct sf_aws {
    sf_aws_config cfg;
    sf_aws_opts opts;
    char sigv4[160];
    CURLM *multi;
    entry *head; /* every pending request, in submission order */
    size_t pending, running;
    CURL **pool; /* idle easy handles */
    size_t npool;
    uint64_t rng;
    sf_aws_stats stats;
    bool polling; /* inside poll: a callback's submit does not start requests itself */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sf_aws_opts_default(sf_aws_opts *o)
{
    *o = (sf_aws_opts){.max_in_flight = 8,
                       .max_attempts = 10,
                       .max_retry_seconds = 60,
                       .backoff_base = 0.05,
                       .backoff_cap = 5,
                       .timeout = 60,
                       .connect_timeout = 5,
                       .cacert = NULL};
}

int sf_aws_open(const sf_aws_config *config, const sf_aws_opts *opts, sf_aws **out, sf_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return sf_error_set(err, SF_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    if (!config->access_key_id[0] || !config->region[0] || !config->endpoint[0] ||
        !config->signing_name[0])
        return sf_error_set(err, SF_EINVAL, "AWS client: the configuration lacks %s",
                            !config->access_key_id[0] ? "credentials"
                            : !config->region[0]      ? "a region"
                            : !config->endpoint[0]    ? "an endpoint"
                                                      : "a signing name");
    sf_aws *a = calloc(1, sizeof *a);
    if (!a)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    a->cfg = *config;
    a->cfg.session_token = NULL;
    if (opts)
        a->opts = *opts;
    else
        sf_aws_opts_default(&a->opts);
    if (a->opts.max_in_flight == 0)
        a->opts.max_in_flight = 1;
    if (a->opts.max_attempts == 0)
        a->opts.max_attempts = 1;
    snprintf(a->sigv4, sizeof a->sigv4, "aws:amz:%s:%s", a->cfg.region, a->cfg.signing_name);
    a->pool = calloc(a->opts.max_in_flight, sizeof *a->pool);
    a->multi = curl_multi_init();
    a->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)a << 16) ^ 0x9E3779B97F4A7C15ull;
    if (!a->pool || !a->multi ||
        sf_aws_config_set_token(&a->cfg, config->session_token, err) != 0) {
        sf_aws_close(a);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    curl_multi_setopt(a->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)a->opts.max_in_flight);
    curl_multi_setopt(a->multi, CURLMOPT_MAXCONNECTS, (long)a->opts.max_in_flight);
    *out = a;
    return 0;
}

/* Give the attempt's easy handle back to the pool (its connection stays in
 * the multi handle's cache). */
static void release_easy(sf_aws *a, entry *e)
{
    if (e->easy) {
        curl_multi_remove_handle(a->multi, e->easy);
        if (a->npool < a->opts.max_in_flight)
            a->pool[a->npool++] = e->easy;
        else
            curl_easy_cleanup(e->easy);
        e->easy = NULL;
        a->running--;
    }
}

void sf_aws_close(sf_aws *a)
{
    if (!a)
        return;
    for (entry *e = a->head, *next; e; e = next) {
        next = e->next;
        release_easy(a, e);
        curl_slist_free_all(e->hdrs);
        free(e);
    }
    for (size_t i = 0; i < a->npool; i++)
        curl_easy_cleanup(a->pool[i]);
    free(a->pool);
    if (a->multi)
        curl_multi_cleanup(a->multi);
    sf_aws_config_free(&a->cfg);
    free(a);
}

const sf_aws_config *sf_aws_config_of(const sf_aws *a)
{
    return &a->cfg;
}

size_t sf_aws_pending(const sf_aws *a)
{
    return a->pending;
}

void sf_aws_stats_get(const sf_aws *a, sf_aws_stats *out)
{
    *out = a->stats;
}

/* ---- one attempt ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    sf_aws_request *rq = ((entry *)ctx)->rq;
    sf_buf_add(&rq->resp, p, size * n);
    return sf_buf_failed(&rq->resp) ? 0 : size * n;
}

/* Copy a header's value (trimmed, quotes kept) into out when its name is
 * name. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    sf_aws_request *rq = ((entry *)ctx)->rq;
    size_t len = size * n;
    header_value(p, len, "x-amz-request-id", rq->request_id, sizeof rq->request_id);
    header_value(p, len, "x-amzn-RequestId", rq->request_id, sizeof rq->request_id);
    header_value(p, len, "ETag", rq->etag, sizeof rq->etag);
    return len;
}

static const char *json_target(sf_aws_service s)
{
    return s == SF_AWS_DYNAMODB ? "DynamoDB_20120810" : "Kinesis_20131202";
}

/* The request's headers: the caller's, then what the service needs. All of
 * them are signed by libcurl (it signs every header it is given). */
static int build_headers(sf_aws *a, entry *e)
{
    sf_aws_request *rq = e->rq;
    struct curl_slist *h = NULL, *t;
    char line[256];
    bool ok = true;
#define ADD(s) ok = ok && ((t = curl_slist_append(h, (s))) != NULL) && (h = t, true)
    for (const char *const *x = rq->headers; x && *x; x++)
        ADD(*x);
    bool json = a->cfg.service != SF_AWS_S3;
    const char *ct = rq->content_type;
    if (!ct && json)
        ct = a->cfg.service == SF_AWS_DYNAMODB ? "application/x-amz-json-1.0"
                                               : "application/x-amz-json-1.1";
    /* (An S3 PUT is an upload, which libcurl gives no type of its own.) */
    if (ct) {
        snprintf(line, sizeof line, "Content-Type: %s", ct);
        ADD(line);
    }
    if (json) {
        snprintf(line, sizeof line, "X-Amz-Target: %s.%s", json_target(a->cfg.service), rq->op);
        ADD(line);
    } else {
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", e->sha);
        ADD(line);
    }
    if (a->cfg.session_token) {
        size_t n = strlen(a->cfg.session_token) + 32;
        char *tok = malloc(n);
        if (tok) {
            snprintf(tok, n, "X-Amz-Security-Token: %s", a->cfg.session_token);
            ADD(tok);
            memset(tok, 0, n);
            free(tok);
        } else
            ok = false;
    }
#undef ADD
    if (!ok) {
        curl_slist_free_all(h);
        return SF_ENOMEM;
    }
    e->hdrs = h;
    return 0;
}

/* The URL: the endpoint, with "VHOST." before its host when asked. */
static int build_url(sf_aws *a, const sf_aws_request *rq, sf_buf *url)
{
    const char *ep = a->cfg.endpoint, *host = strstr(ep, "://");
    host = host ? host + 3 : ep;
    sf_buf_add(url, ep, (size_t)(host - ep));
    if (rq->vhost && *rq->vhost) {
        sf_buf_puts(url, rq->vhost);
        sf_buf_add(url, ".", 1);
    }
    sf_buf_puts(url, host);
    sf_buf_puts(url, rq->path && *rq->path ? rq->path : "/");
    if (rq->query && *rq->query) {
        sf_buf_add(url, "?", 1);
        sf_buf_puts(url, rq->query);
    }
    return sf_buf_failed(url) ? SF_ENOMEM : 0;
}

static size_t on_read(char *p, size_t size, size_t n, void *ctx)
{
    entry *e = ctx;
    size_t left = e->rq->body_len - e->sent, len = size * n < left ? size * n : left;
    if (len)
        memcpy(p, (const char *)e->rq->body + e->sent, len);
    e->sent += len;
    return len;
}

static int on_seek(void *ctx, curl_off_t offset, int origin)
{
    entry *e = ctx;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > e->rq->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    e->sent = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static void set_method(CURL *c, entry *e, sf_aws_service service)
{
    const sf_aws_request *rq = e->rq;
    const char *m = rq->method ? rq->method : "POST";
    if (strcmp(m, "PUT") == 0 && service == SF_AWS_S3) {
        /* An upload: libcurl signs the x-amz-content-sha256 we give as the
         * payload's hash (AWS's own PUT example signs exactly so), and adds
         * no Content-Type of its own. */
        e->sent = 0;
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, e);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, e);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
        /* libcurl adds "Expect: 100-continue" (unsigned) to an upload and
         * would wait a round trip for the 100 before the body: send the
         * body at once (S3 allows it; the header must stay, as removing it
         * would sign an empty one). */
        curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    } else if (strcmp(m, "GET") == 0)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    else if (strcmp(m, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else {
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
        /* The body from memory: libcurl hashes POSTFIELDS itself for the
         * JSON services, and for S3 signs the x-amz-content-sha256 given. A
         * DELETE goes without a body, a PUT or POST with one (maybe empty). */
        if (strcmp(m, "DELETE") != 0 || rq->body_len > 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body_len ? (const char *)rq->body : "");
        }
    }
}

static int start_attempt(sf_aws *a, entry *e, sf_error *err)
{
    sf_aws_request *rq = e->rq;
    CURL *c = a->npool ? a->pool[--a->npool] : curl_easy_init();
    if (!c)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    curl_easy_reset(c);
    sf_buf url = SF_BUF_INIT;
    int rc = build_url(a, rq, &url);
    if (rc == 0 && !e->hdrs)
        rc = build_headers(a, e);
    if (rc != 0) {
        sf_buf_free(&url);
        a->pool[a->npool++] = c;
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    sf_buf_reset(&rq->resp);
    rq->status = 0;
    rq->code[0] = rq->request_id[0] = rq->etag[0] = '\0';
    e->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    sf_buf_free(&url);
    set_method(c, e, a->cfg.service);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->hdrs);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, a->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, a->cfg.access_key_id);
    curl_easy_setopt(c, CURLOPT_PASSWORD, a->cfg.secret_access_key);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, e);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, e->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, e);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(a->opts.timeout * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->opts.connect_timeout * 1000));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (a->opts.cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, a->opts.cacert);
    CURLMcode mc = curl_multi_add_handle(a->multi, c);
    if (mc != CURLM_OK) {
        a->pool[a->npool++] = c;
        return sf_error_set(err, mc == CURLM_OUT_OF_MEMORY ? SF_ENOMEM : SF_EIO, "libcurl: %s",
                            curl_multi_strerror(mc));
    }
    e->easy = c;
    a->running++;
    rq->attempts++;
    a->stats.attempts++;
    return 0;
}

/* ---- judging an answer ---- */

/* The value of "key": "..." in a JSON error body (first match), unescaped
 * enough for a message. */
static void json_field(const char *body, size_t len, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = body ? strstr(body, pat) : NULL;
    if (!p || (size_t)(p - body) >= len)
        return;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n')
        p++;
    if (*p != '"')
        return;
    size_t o = 0;
    for (p++; *p && *p != '"' && o + 1 < cap; p++) {
        if (*p == '\\' && p[1])
            p++;
        out[o++] = (*p >= 0 && *p < ' ') ? ' ' : *p;
    }
    out[o] = '\0';
}

/* AWS's code and message from an error answer (S3's XML or the JSON
 * services' body). */
static void error_detail(sf_aws *a, sf_aws_request *rq, char *msg, size_t cap)
{
    msg[0] = '\0';
    const char *b = rq->resp.data;
    size_t n = rq->resp.len;
    if (!b || n == 0)
        return;
    if (a->cfg.service == SF_AWS_S3) {
        sf_buf t = SF_BUF_INIT;
        size_t pos = 0;
        if (sf_aws_xml_text(b, n, "Code", &pos, &t) == 1)
            snprintf(rq->code, sizeof rq->code, "%.63s", t.data);
        pos = 0;
        if (sf_aws_xml_text(b, n, "Message", &pos, &t) == 1)
            snprintf(msg, cap, "%s", t.data);
        pos = 0;
        if (!rq->request_id[0] && sf_aws_xml_text(b, n, "RequestId", &pos, &t) == 1)
            snprintf(rq->request_id, sizeof rq->request_id, "%.79s", t.data);
        sf_buf_free(&t);
        return;
    }
    char type[160] = "";
    json_field(b, n, "__type", type, sizeof type);
    const char *hash = strrchr(type, '#');
    snprintf(rq->code, sizeof rq->code, "%.63s", hash ? hash + 1 : type);
    json_field(b, n, "message", msg, cap);
    if (!msg[0])
        json_field(b, n, "Message", msg, cap);
}

static bool in_list(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; p && *p && n;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, code, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static const char throttle_codes[] =
    "SlowDown,Throttling,ThrottlingException,ThrottledException,RequestThrottledException,"
    "TooManyRequestsException,ProvisionedThroughputExceededException,RequestLimitExceeded,"
    "LimitExceededException,RequestThrottled,BandwidthLimitExceeded,TransactionInProgressException,"
    "EC2ThrottledException,PriorRequestNotComplete";
static const char auth_codes[] =
    "AccessDenied,AccessDeniedException,ExpiredToken,ExpiredTokenException,InvalidAccessKeyId,"
    "InvalidClientTokenId,InvalidToken,SignatureDoesNotMatch,InvalidSignatureException,"
    "UnrecognizedClientException,MissingAuthenticationToken,IncompleteSignature,"
    "AuthFailure,InvalidSecurity,TokenRefreshRequired";
static const char notfound_codes[] =
    "NoSuchKey,NoSuchBucket,NoSuchUpload,ResourceNotFoundException,"
    "NotFound";

typedef enum { DONE_OK, RETRY_NET, RETRY_SERVER, RETRY_THROTTLE, FINAL } verdict;

static verdict classify(sf_aws_request *rq, CURLcode cc)
{
    if (cc != CURLE_OK) {
        switch (cc) {
        case CURLE_OUT_OF_MEMORY:
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_WRITE_ERROR: /* our own body buffer failed */
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
            return FINAL;
        default:
            return RETRY_NET;
        }
    }
    if (rq->status >= 200 && rq->status < 300)
        return DONE_OK;
    if (in_list(rq->final_codes, rq->code))
        return FINAL;
    if (rq->status == 429 || in_list(throttle_codes, rq->code))
        return RETRY_THROTTLE;
    if (rq->status >= 500 || strcmp(rq->code, "RequestTimeout") == 0 ||
        strcmp(rq->code, "InternalError") == 0)
        return RETRY_SERVER;
    return FINAL;
}

static int final_rc(const sf_aws_request *rq, CURLcode cc)
{
    if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
        return SF_ENOMEM;
    if (cc != CURLE_OK || rq->status >= 500 || rq->status == 429 ||
        in_list(throttle_codes, rq->code))
        return SF_EIO;
    if (rq->status == 404 || in_list(notfound_codes, rq->code))
        return SF_ENOENT;
    if (rq->status == 401 || rq->status == 403 || in_list(auth_codes, rq->code))
        return SF_EPERM;
    if (rq->status == 412 || strcmp(rq->code, "ConditionalCheckFailedException") == 0 ||
        strcmp(rq->code, "PreconditionFailed") == 0)
        return SF_ESTALE;
    if (strcmp(rq->code, "ResourceInUseException") == 0)
        return SF_EBUSY;
    return SF_EINVAL;
}

/* The message of a final failure. */
static void fail_message(sf_aws *a, entry *e, CURLcode cc, const char *aws_msg)
{
    sf_aws_request *rq = e->rq;
    char what[SF_ERROR_MSG_MAX], tail[320] = "";
    snprintf(what, sizeof what, "%s %s%s%s%s", sf_aws_service_name(a->cfg.service), rq->op,
             rq->resource ? " (" : "", rq->resource ? rq->resource : "", rq->resource ? ")" : "");
    if (rq->attempts > 1)
        snprintf(tail, sizeof tail, " after %u tries", rq->attempts);
    if (cc != CURLE_OK) {
        sf_error_set(&rq->err, rq->rc, "%s: no answer from %s: %s%s", what, a->cfg.endpoint,
                     e->errbuf[0] ? e->errbuf : curl_easy_strerror(cc), tail);
        return;
    }
    char rid[120] = "";
    if (rq->request_id[0])
        snprintf(rid, sizeof rid, " (request id %s)", rq->request_id);
    char cred[SF_AWS_KEY_ID_MAX + SF_AWS_FROM_MAX + 64] = "";
    if (rq->rc == SF_EPERM)
        snprintf(cred, sizeof cred, "; access key id %s from %s", a->cfg.access_key_id,
                 a->cfg.credentials_from);
    const char *hint = "";
    if (strncmp(rq->code, "ExpiredToken", 12) == 0)
        hint = ": the credentials have expired; renew them (AWS_SESSION_TOKEN or the profile)";
    sf_error_set(&rq->err, rq->rc, "%s: HTTP %ld%s%s%s%s%s%s%s%s", what, rq->status,
                 rq->code[0] ? " " : "", rq->code, aws_msg[0] ? ": " : "", aws_msg, hint, rid, tail,
                 cred);
}

/* A random wait in [0, min(cap, base * 2^(tries-1))): full jitter. */
static double backoff(sf_aws *a, unsigned tries)
{
    a->rng ^= a->rng << 13;
    a->rng ^= a->rng >> 7;
    a->rng ^= a->rng << 17;
    double top = a->opts.backoff_base * (double)(1ull << (tries > 31  ? 30
                                                          : tries > 0 ? tries - 1
                                                                      : 0));
    if (top > a->opts.backoff_cap)
        top = a->opts.backoff_cap;
    return top * (double)(a->rng >> 11) / 9007199254740992.0;
}

static void finish(sf_aws *a, entry *e)
{
    entry **pp = &a->head;
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    a->pending--;
    release_easy(a, e);
    curl_slist_free_all(e->hdrs);
    sf_aws_request *rq = e->rq;
    free(e);
    if (rq->rc != 0)
        a->stats.failed++;
    if (rq->done)
        rq->done(rq, rq->ctx);
}

/* An attempt ended: finish the request, or queue its next try. */
static void attempt_done(sf_aws *a, entry *e, CURLcode cc)
{
    sf_aws_request *rq = e->rq;
    curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &rq->status);
    release_easy(a, e);
    char aws_msg[256] = "";
    if (cc == CURLE_OK && (rq->status < 200 || rq->status >= 300))
        error_detail(a, rq, aws_msg, sizeof aws_msg);
    verdict v = classify(rq, cc);
    if (v == DONE_OK) {
        rq->rc = 0;
        sf_error_clear(&rq->err);
        finish(a, e);
        return;
    }
    unsigned max = rq->max_attempts ? rq->max_attempts : a->opts.max_attempts;
    double t = now_s(), wait = backoff(a, rq->attempts);
    if (v != FINAL && rq->attempts < max && t + wait - e->first_at <= a->opts.max_retry_seconds) {
        e->ready_at = t + wait;
        a->stats.retries++;
        a->stats.retries_network += v == RETRY_NET;
        a->stats.retries_server += v == RETRY_SERVER;
        a->stats.retries_throttled += v == RETRY_THROTTLE;
        sf_logf(SF_LOG_DEBUG, "aws_retry",
                "service=%s op=%s status=%ld code=%s curl=%d try=%u wait_ms=%.0f",
                a->cfg.signing_name, rq->op, rq->status, rq->code[0] ? rq->code : "-", (int)cc,
                rq->attempts, wait * 1000);
        return;
    }
    rq->rc = final_rc(rq, cc);
    fail_message(a, e, cc, aws_msg);
    finish(a, e);
}

/* ---- driving ---- */

/* Start queued requests whose time has come while slots are free. */
static int start_ready(sf_aws *a, sf_error *err)
{
    double t = now_s();
    for (entry *e = a->head; e && a->running < a->opts.max_in_flight; e = e->next) {
        if (e->easy || e->ready_at > t)
            continue;
        int rc = start_attempt(a, e, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sf_aws_submit(sf_aws *a, sf_aws_request *rq, sf_error *err)
{
    if (!a || !rq || !rq->op || (rq->body_len > 0 && !rq->body))
        return sf_error_set(err, SF_EINVAL, "AWS request: no client, operation or body");
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    e->rq = rq;
    e->first_at = e->ready_at = now_s();
    if (a->cfg.service == SF_AWS_S3)
        sf_aws_sha256_hex(rq->body, rq->body_len, e->sha);
    rq->rc = 0;
    rq->status = 0;
    rq->code[0] = rq->request_id[0] = rq->etag[0] = '\0';
    rq->attempts = 0;
    sf_buf_reset(&rq->resp);
    sf_error_clear(&rq->err);
    entry **pp = &a->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = e;
    a->pending++;
    a->stats.requests++;
    return a->polling ? 0 : start_ready(a, err);
}

/* Every pending request fails with code and err's message (the client broke). */
static int fail_all(sf_aws *a, int code, sf_error *err)
{
    while (a->head) {
        entry *e = a->head;
        e->rq->rc = code;
        e->rq->err = *err;
        finish(a, e);
    }
    return code;
}

/* The time to wait for the next retry to become due, in ms (-1: none). */
static long next_due_ms(const sf_aws *a, double t)
{
    long best = -1;
    for (const entry *e = a->head; e; e = e->next) {
        if (e->easy)
            continue;
        double d = e->ready_at - t;
        long ms = d <= 0 ? 0 : (long)(d * 1000) + 1;
        if (best < 0 || ms < best)
            best = ms;
    }
    return best;
}

int sf_aws_poll(sf_aws *a, int timeout_ms, sf_error *err)
{
    sf_error local;
    if (!err)
        err = &local;
    int rc = start_ready(a, err);
    if (rc != 0)
        return fail_all(a, rc, err);
    long wait = timeout_ms;
    long due = next_due_ms(a, now_s());
    if (a->running < a->opts.max_in_flight && due >= 0 && due < wait)
        wait = due;
    if (a->running > 0) {
        CURLMcode mc = curl_multi_poll(a->multi, NULL, 0, (int)wait, NULL);
        if (mc != CURLM_OK)
            return fail_all(a, sf_error_set(err, SF_EIO, "libcurl: %s", curl_multi_strerror(mc)),
                            err);
    } else if (wait > 0 && a->pending > 0) {
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    int still;
    CURLMcode mc = curl_multi_perform(a->multi, &still);
    if (mc != CURLM_OK)
        return fail_all(a, sf_error_set(err, SF_EIO, "libcurl: %s", curl_multi_strerror(mc)), err);
    a->polling = true;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(a->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        attempt_done(a, (entry *)(void *)priv, m->data.result);
    }
    a->polling = false;
    rc = start_ready(a, err);
    if (rc != 0)
        return fail_all(a, rc, err);
    return (int)(a->pending > (size_t)INT32_MAX ? INT32_MAX : a->pending);
}

int sf_aws_drain(sf_aws *a, sf_error *err)
{
    while (a->pending > 0) {
        int rc = sf_aws_poll(a, 1000, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sf_aws_call(sf_aws *a, sf_aws_request *rq, sf_error *err)
{
    int rc = sf_aws_submit(a, rq, err);
    if (rc != 0)
        return rc;
    rc = sf_aws_drain(a, err);
    if (rc != 0)
        return rc;
    if (rq->rc != 0 && err)
        *err = rq->err;
    return rq->rc;
}
