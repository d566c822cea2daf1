/*
 * test_aws.c - the AWS client (core/aws.h): that libcurl's SigV4, as the
 * client drives it, gives AWS's published signatures (and another with a
 * wrong secret); the settings read as the SDKs read them, with messages that
 * say what is missing and never the secret; retries of 503 SlowDown, 500
 * and throttling codes, no retry of 403 or a final code; and the text
 * helpers (percent-encoding, canonical query, SHA-256, S3's XML).
 *
 * The network is a loopback server in a thread of this test: it answers
 * requests from a script and keeps each request's head, so the test reads
 * the Authorization header exactly as it went on the wire.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/aws.h"
#include "support.h"

/* ---- a scripted loopback HTTP server ---- */

#define SRV_MAX 16
typedef struct srv {
    int fd, port;
    pthread_t th;
    volatile int stop;
    const char *script[SRV_MAX]; /* whole HTTP answers, in order; then 200 with no body */
    int nscript, answered;
    char heads[SRV_MAX][4096]; /* each request's head as received */
    char bodies[SRV_MAX][256];
    int nreq;
} srv;

/* strcasestr is GNU's: the first case-blind occurrence of needle in hay. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static ssize_t read_until(int fd, char *buf, size_t cap, size_t *len, const char *mark)
{
    while (!strstr(buf, mark)) {
        if (*len + 1 >= cap)
            return -1;
        ssize_t n = recv(fd, buf + *len, cap - 1 - *len, 0);
        if (n <= 0)
            return -1;
        *len += (size_t)n;
        buf[*len] = '\0';
    }
    return 0;
}

/* One connection: request after request until the client closes it. */
static void serve_conn(srv *s, int c)
{
    char buf[16384];
    size_t len = 0;
    buf[0] = '\0';
    for (;;) {
        if (read_until(c, buf, sizeof buf, &len, "\r\n\r\n") < 0)
            return;
        char *end = strstr(buf, "\r\n\r\n") + 4;
        size_t head = (size_t)(end - buf);
        int k = s->nreq < SRV_MAX ? s->nreq : SRV_MAX - 1;
        snprintf(s->heads[k], sizeof s->heads[k], "%.*s", (int)head, buf);
        const char *cl = find_ci(s->heads[k], "\r\nContent-Length:");
        size_t body = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
        if (find_ci(s->heads[k], "\r\nExpect: 100-continue"))
            (void)!send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
        while (len < head + body) {
            ssize_t n = recv(c, buf + len, sizeof buf - 1 - len, 0);
            if (n <= 0)
                return;
            len += (size_t)n;
        }
        snprintf(s->bodies[k], sizeof s->bodies[k], "%.*s", (int)body, buf + head);
        s->nreq++;
        const char *ans = s->answered < s->nscript ? s->script[s->answered]
                                                   : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        s->answered++;
        if (send(c, ans, strlen(ans), MSG_NOSIGNAL) < 0)
            return;
        memmove(buf, buf + head + body, len - head - body);
        len -= head + body;
        buf[len] = '\0';
    }
}

static void *srv_main(void *arg)
{
    srv *s = arg;
    while (!s->stop) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_conn(s, c);
        close(c);
    }
    return NULL;
}

static void srv_start(srv *s)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(srv *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* The value of header name in a request head ("" when absent). */
static const char *head_value(const char *head, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = find_ci(head, pat);
    out[0] = '\0';
    if (!p)
        return out;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    snprintf(out, cap, "%.*s", (int)n, p);
    return out;
}

/* ---- settings by hand, as AWS's examples sign ---- */

#define EX_KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void example_config(sf_aws_config *c, sf_aws_service svc, int port, const char *secret)
{
    memset(c, 0, sizeof *c);
    c->service = svc;
    snprintf(c->signing_name, sizeof c->signing_name, "%s",
             svc == SF_AWS_S3         ? "s3"
             : svc == SF_AWS_DYNAMODB ? "dynamodb"
                                      : "kinesis");
    snprintf(c->access_key_id, sizeof c->access_key_id, EX_KEY_ID);
    snprintf(c->secret_access_key, sizeof c->secret_access_key, "%s", secret);
    snprintf(c->region, sizeof c->region, "us-east-1");
    snprintf(c->endpoint, sizeof c->endpoint, "http://127.0.0.1:%d", port);
    snprintf(c->credentials_from, sizeof c->credentials_from, "the test");
}

static void fast_opts(sf_aws_opts *o)
{
    sf_aws_opts_default(o);
    o->max_in_flight = 1;
    o->backoff_base = 0.001;
    o->backoff_cap = 0.01;
    o->timeout = 10;
}

/* Send AWS's example request (as given) through the client with secret, and
 * return the Signature= of the Authorization header the server received. */
static void sign_example(const char *secret, const char *method, const char *path,
                         const char *const *headers, const char *body, char sig[65])
{
    srv s;
    srv_start(&s);
    sf_aws_config c;
    example_config(&c, SF_AWS_S3, s.port, secret);
    sf_aws_opts o;
    fast_opts(&o);
    sf_aws *a;
    sf_error err;
    assert_int_equal(sf_aws_open(&c, &o, &a, &err), 0);
    sf_aws_request rq = {.op = method[0] == 'G' ? "GetObject" : "PutObject",
                         .method = method,
                         .path = path,
                         .headers = headers,
                         .body = body,
                         .body_len = body ? strlen(body) : 0};
    assert_int_equal(sf_aws_call(a, &rq, &err), 0);
    assert_int_equal(s.nreq, 1);
    char auth[512], v[128];
    head_value(s.heads[0], "Authorization", auth, sizeof auth);
    /* Every signed header went on the wire as it was signed. */
    assert_non_null(strstr(auth, "Credential=" EX_KEY_ID "/20130524/us-east-1/s3/aws4_request"));
    assert_string_equal(head_value(s.heads[0], "Host", v, sizeof v),
                        "examplebucket.s3.amazonaws.com");
    if (body)
        assert_string_equal(s.bodies[0], body);
    const char *p = strstr(auth, "Signature=");
    assert_non_null(p);
    snprintf(sig, 65, "%s", p + 10);
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    srv_stop(&s);
}

/* AWS's documented S3 examples (Signature Version 4, "Examples: Signature
 * Calculations in AWS Signature Version 4"): GET Object with a Range, and PUT
 * Object with a storage class, both for examplebucket on 2013-05-24. The Host
 * header is given so the loopback server stands in for examplebucket. */
static const char *const get_headers[] = {"Host: examplebucket.s3.amazonaws.com",
                                          "x-amz-date: 20130524T000000Z", "Range: bytes=0-9", NULL};
static const char *const put_headers[] = {
    "Host: examplebucket.s3.amazonaws.com", "Date: Fri, 24 May 2013 00:00:00 GMT",
    "x-amz-date: 20130524T000000Z", "x-amz-storage-class: REDUCED_REDUNDANCY", NULL};

static void test_sign_get_example(void **state)
{
    (void)state;
    char sig[65], wrong[65];
    sign_example(EX_SECRET, "GET", "/test.txt", get_headers, NULL, sig);
    assert_string_equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    sign_example("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", "GET", "/test.txt", get_headers, NULL,
                 wrong);
    assert_string_not_equal(wrong, sig);
}

static void test_sign_put_example(void **state)
{
    (void)state;
    char sig[65], wrong[65];
    sign_example(EX_SECRET, "PUT", "/test%24file.text", put_headers, "Welcome to Amazon S3.", sig);
    assert_string_equal(sig, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    sign_example("not the secret", "PUT", "/test%24file.text", put_headers, "Welcome to Amazon S3.",
                 wrong);
    assert_string_not_equal(wrong, sig);
}

/* A session token goes as X-Amz-Security-Token and is signed; a JSON
 * service gets its X-Amz-Target and content type. */
static void test_token_and_target(void **state)
{
    (void)state;
    srv s;
    srv_start(&s);
    sf_aws_config c;
    example_config(&c, SF_AWS_DYNAMODB, s.port, EX_SECRET);
    sf_error err;
    assert_int_equal(sf_aws_config_set_token(&c, "TOKEN-123", &err), 0);
    sf_aws_opts o;
    fast_opts(&o);
    sf_aws *a;
    assert_int_equal(sf_aws_open(&c, &o, &a, &err), 0);
    sf_aws_config_free(&c);
    sf_aws_request rq = {.op = "DescribeTable", .body = "{}", .body_len = 2};
    assert_int_equal(sf_aws_call(a, &rq, &err), 0);
    char v[512];
    assert_string_equal(head_value(s.heads[0], "X-Amz-Security-Token", v, sizeof v), "TOKEN-123");
    assert_string_equal(head_value(s.heads[0], "X-Amz-Target", v, sizeof v),
                        "DynamoDB_20120810.DescribeTable");
    assert_string_equal(head_value(s.heads[0], "Content-Type", v, sizeof v),
                        "application/x-amz-json-1.0");
    head_value(s.heads[0], "Authorization", v, sizeof v);
    assert_non_null(strstr(v, "x-amz-security-token"));
    assert_non_null(strstr(v, "/us-east-1/dynamodb/aws4_request"));
    assert_non_null(strstr(s.heads[0], "POST / HTTP/1.1"));
    assert_string_equal(s.bodies[0], "{}");
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    srv_stop(&s);
}

/* ---- retries and errors ---- */

#define SLOWDOWN                                                                                   \
    "HTTP/1.1 503 Slow Down\r\nContent-Length: 92\r\n\r\n"                                         \
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>     "
#define E500 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
#define OK_ETAG                                                                                    \
    "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nx-amz-request-id: RID1\r\nContent-Length: 2\r\n\r\nok"
#define DENIED                                                                                     \
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 110\r\n\r\n"                                        \
    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>RID9</RequestId>"  \
    "</Error>           "

static sf_aws *open_s3(srv *s, unsigned attempts)
{
    sf_aws_config c;
    example_config(&c, SF_AWS_S3, s->port, EX_SECRET);
    sf_aws_opts o;
    fast_opts(&o);
    o.max_attempts = attempts;
    sf_aws *a;
    sf_error err;
    assert_int_equal(sf_aws_open(&c, &o, &a, &err), 0);
    return a;
}

static void test_retry_slowdown_and_500(void **state)
{
    (void)state;
    srv s;
    srv_start(&s);
    s.script[0] = SLOWDOWN;
    s.script[1] = E500;
    s.script[2] = OK_ETAG;
    s.nscript = 3;
    sf_aws *a = open_s3(&s, 5);
    sf_aws_request rq = {
        .op = "PutObject", .method = "PUT", .path = "/b/k", .body = "xyz", .body_len = 3};
    sf_error err;
    assert_int_equal(sf_aws_call(a, &rq, &err), 0);
    assert_int_equal(rq.attempts, 3);
    assert_int_equal(rq.status, 200);
    assert_string_equal(rq.etag, "\"abc\"");
    assert_string_equal(rq.request_id, "RID1");
    assert_string_equal(rq.resp.data, "ok");
    assert_int_equal(s.nreq, 3);
    for (int i = 0; i < 3; i++) /* each try carries the whole body */
        assert_string_equal(s.bodies[i], "xyz");
    char v[80];
    assert_string_equal(head_value(s.heads[0], "x-amz-content-sha256", v, sizeof v),
                        "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282");
    sf_aws_stats st;
    sf_aws_stats_get(a, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.retries_throttled, 1);
    assert_int_equal(st.retries_server, 1);
    assert_int_equal(st.failed, 0);
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    srv_stop(&s);
}

static void test_403_not_retried(void **state)
{
    (void)state;
    srv s;
    srv_start(&s);
    s.script[0] = DENIED;
    s.nscript = 1;
    sf_aws *a = open_s3(&s, 5);
    sf_aws_request rq = {.op = "PutObject",
                         .method = "PUT",
                         .path = "/shop/raw/a.gz",
                         .resource = "bucket shop, key raw/a.gz",
                         .body = "x",
                         .body_len = 1};
    sf_error err;
    assert_int_equal(sf_aws_call(a, &rq, &err), SF_EPERM);
    assert_int_equal(rq.attempts, 1);
    assert_int_equal(s.nreq, 1);
    assert_string_equal(rq.code, "AccessDenied");
    assert_non_null(strstr(err.msg, "S3 PutObject (bucket shop, key raw/a.gz)"));
    assert_non_null(strstr(err.msg, "HTTP 403 AccessDenied: Access Denied"));
    assert_non_null(strstr(err.msg, "RID9"));
    assert_non_null(strstr(err.msg, "access key id " EX_KEY_ID " from the test"));
    assert_null(strstr(err.msg, EX_SECRET));
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    srv_stop(&s);
}

static void test_retries_spent(void **state)
{
    (void)state;
    srv s;
    srv_start(&s);
    s.script[0] = s.script[1] = s.script[2] = SLOWDOWN;
    s.nscript = 3;
    sf_aws *a = open_s3(&s, 3);
    sf_aws_request rq = {.op = "GetObject", .method = "GET", .path = "/b/k"};
    sf_error err;
    assert_int_equal(sf_aws_call(a, &rq, &err), SF_EIO);
    assert_int_equal(rq.attempts, 3);
    assert_non_null(strstr(err.msg, "HTTP 503 SlowDown: Please reduce your request rate."));
    assert_non_null(strstr(err.msg, "after 3 tries"));
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    srv_stop(&s);
}

static void test_no_server(void **state)
{
    (void)state;
    srv s;
    srv_start(&s); /* a free port, closed again: nothing listens there */
    srv_stop(&s);
    sf_aws *a = open_s3(&s, 2);
    sf_aws_request rq = {.op = "GetObject", .method = "GET", .path = "/b/k"};
    sf_error err;
    assert_int_equal(sf_aws_call(a, &rq, &err), SF_EIO);
    assert_int_equal(rq.attempts, 2);
    assert_non_null(strstr(err.msg, "no answer from http://127.0.0.1:"));
    sf_aws_stats st;
    sf_aws_stats_get(a, &st);
    assert_int_equal(st.retries_network, 1);
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
}

static const char *json_answer(char *buf, size_t cap, const char *status, const char *type)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\",\"message\":\"m %s\"}",
                     type, type);
    snprintf(buf, cap, "HTTP/1.1 %s\r\nx-amzn-RequestId: J1\r\nContent-Length: %d\r\n\r\n%s",
             status, n, body);
    return buf;
}

static void test_json_codes(void **state)
{
    (void)state;
    char b0[512], b1[512], b2[512];
    srv s;
    srv_start(&s);
    s.script[0] =
        json_answer(b0, sizeof b0, "400 Bad Request", "ProvisionedThroughputExceededException");
    s.script[1] = json_answer(b1, sizeof b1, "400 Bad Request", "ConditionalCheckFailedException");
    s.script[2] = json_answer(b2, sizeof b2, "400 Bad Request", "LimitExceededException");
    s.nscript = 3;
    sf_aws_config c;
    example_config(&c, SF_AWS_DYNAMODB, s.port, EX_SECRET);
    sf_aws_opts o;
    fast_opts(&o);
    sf_aws *a;
    sf_error err;
    assert_int_equal(sf_aws_open(&c, &o, &a, &err), 0);
    /* Throttled, then a final code mapped to SF_ESTALE. */
    sf_aws_request rq = {.op = "PutItem", .resource = "table t", .body = "{}", .body_len = 2};
    assert_int_equal(sf_aws_call(a, &rq, &err), SF_ESTALE);
    assert_int_equal(rq.attempts, 2);
    assert_string_equal(rq.code, "ConditionalCheckFailedException");
    assert_string_equal(rq.request_id, "J1");
    assert_non_null(strstr(err.msg, "DynamoDB PutItem (table t): HTTP 400 "
                                    "ConditionalCheckFailedException: m "
                                    "ConditionalCheckFailedException"));
    /* A throttling code named final for this request is not retried. */
    sf_aws_request rq2 = {.op = "CreateStream",
                          .body = "{}",
                          .body_len = 2,
                          .final_codes = "ResourceInUseException,LimitExceededException"};
    assert_int_equal(sf_aws_call(a, &rq2, &err), SF_EIO);
    assert_int_equal(rq2.attempts, 1);
    assert_int_equal(s.nreq, 3);
    sf_buf_free(&rq.resp);
    sf_buf_free(&rq2.resp);
    sf_aws_close(a);
    srv_stop(&s);
}

/* Several requests in flight, callbacks in the polling thread. */
static void count_done(sf_aws_request *rq, void *ctx)
{
    (void)rq;
    (*(int *)ctx)++;
}

static void test_many_queued(void **state)
{
    (void)state;
    srv s;
    srv_start(&s);
    sf_aws *a = open_s3(&s, 2);
    enum { N = 12 };
    sf_aws_request rq[N];
    int done = 0;
    sf_error err;
    for (int i = 0; i < N; i++) {
        rq[i] = (sf_aws_request){
            .op = "HeadObject", .method = "HEAD", .path = "/b/k", .done = count_done, .ctx = &done};
        assert_int_equal(sf_aws_submit(a, &rq[i], &err), 0);
    }
    assert_int_equal(sf_aws_pending(a), N);
    assert_int_equal(sf_aws_drain(a, &err), 0);
    assert_int_equal(done, N);
    assert_int_equal(sf_aws_pending(a), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rq[i].rc, 0);
        sf_buf_free(&rq[i].resp);
    }
    assert_int_equal(s.nreq, N);
    sf_aws_close(a);
    srv_stop(&s);
}

/* ---- settings ---- */

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_PROFILE",
                                       "AWS_CONFIG_FILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_ENDPOINT_URL_S3",
                                       "AWS_ENDPOINT_URL_DYNAMODB",
                                       "AWS_ENDPOINT_URL_KINESIS",
                                       "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"};

typedef struct home {
    char dir[UT_PATH_MAX], old_home[UT_PATH_MAX];
} home;

/* A fresh HOME with .aws/credentials and .aws/config (NULL: absent), and no
 * AWS_* variable set. */
static void home_setup(home *h, const char *credentials, const char *config)
{
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    const char *old = getenv("HOME");
    snprintf(h->old_home, sizeof h->old_home, "%s", old ? old : "/");
    ut_tmpdir(h->dir);
    char aws[UT_PATH_MAX], f[UT_PATH_MAX];
    ut_join(aws, h->dir, ".aws");
    assert_int_equal(mkdir(aws, 0700), 0);
    if (credentials) {
        ut_join(f, aws, "credentials");
        ut_write_file(f, credentials, strlen(credentials));
    }
    if (config) {
        ut_join(f, aws, "config");
        ut_write_file(f, config, strlen(config));
    }
    setenv("HOME", h->dir, 1);
}

static void home_done(home *h)
{
    setenv("HOME", h->old_home, 1);
    ut_tmpdir_remove(h->dir);
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
}

#define SECRET_A "secretAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define SECRET_B "secretBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static void test_config_env(void **state)
{
    (void)state;
    home h;
    home_setup(&h,
               "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = " SECRET_B "\n",
               NULL);
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-2", 1);
    sf_aws_config c;
    sf_error err;
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAENV");
    assert_string_equal(c.secret_access_key, SECRET_A);
    assert_string_equal(c.session_token, "tok");
    assert_string_equal(c.region, "eu-west-2");
    assert_string_equal(c.signing_name, "s3");
    assert_string_equal(c.endpoint, "https://s3.eu-west-2.amazonaws.com");
    assert_false(c.endpoint_from_env);
    assert_non_null(strstr(c.credentials_from, "AWS_ACCESS_KEY_ID"));
    assert_non_null(strstr(c.region_from, "AWS_DEFAULT_REGION"));
    sf_aws_config_free(&c);
    assert_null(c.session_token);
    assert_int_equal(c.secret_access_key[0], 0);
    /* AWS_REGION comes before AWS_DEFAULT_REGION; a service's endpoint
     * variable before the general one. */
    setenv("AWS_REGION", "cn-north-1", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
    setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2//", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_DYNAMODB, &err), 0);
    assert_string_equal(c.region, "cn-north-1");
    assert_string_equal(c.endpoint, "http://127.0.0.1:2");
    assert_true(c.endpoint_from_env);
    assert_non_null(strstr(c.endpoint_from, "AWS_ENDPOINT_URL_DYNAMODB"));
    sf_aws_config_free(&c);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_KINESIS, &err), 0);
    assert_string_equal(c.endpoint, "http://127.0.0.1:1");
    sf_aws_config_free(&c);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_KINESIS, &err), 0);
    assert_string_equal(c.endpoint, "https://kinesis.cn-north-1.amazonaws.com.cn");
    assert_false(c.endpoint_from_env);
    sf_aws_config_free(&c);
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    setenv("AWS_ENDPOINT_URL_S3", "ftp://x", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "AWS_ENDPOINT_URL_S3"));
    /* Half the pair is an error, not a silent fall-back to the file. */
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), SF_EPERM);
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
    assert_null(strstr(err.msg, SECRET_B));
    home_done(&h);
}

static void test_config_profiles(void **state)
{
    (void)state;
    home h;
    home_setup(&h,
               "# shared credentials\n[default]\naws_access_key_id = AKIADEF\n"
               "aws_secret_access_key=" SECRET_A "\n\n[other]\n aws_access_key_id = IGNORED\n"
               "aws_access_key_id = AKIAOTHER\naws_secret_access_key = " SECRET_B "\n"
               "aws_session_token = otok\n\n[role]\nrole_arn = arn:aws:iam::1:role/x\n"
               "source_profile = default\n",
               "[default]\nregion = eu-central-1\n[profile other]\nregion = ap-south-1\n"
               "s3 =\n  addressing_style = path\n[profile cfgonly]\naws_access_key_id = AKIACFG\n"
               "aws_secret_access_key = " SECRET_B "\n");
    sf_aws_config c;
    sf_error err;
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), 0);
    assert_string_equal(c.access_key_id, "AKIADEF");
    assert_string_equal(c.secret_access_key, SECRET_A);
    assert_null(c.session_token);
    assert_string_equal(c.region, "eu-central-1");
    assert_non_null(strstr(c.credentials_from, "profile 'default'"));
    sf_aws_config_free(&c);

    setenv("AWS_PROFILE", "other", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAOTHER");
    assert_string_equal(c.session_token, "otok");
    assert_string_equal(c.region, "ap-south-1");
    sf_aws_config_free(&c);

    setenv("AWS_PROFILE", "cfgonly", 1); /* keys in the config file also count */
    setenv("AWS_REGION", "us-west-2", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), 0);
    assert_string_equal(c.access_key_id, "AKIACFG");
    sf_aws_config_free(&c);

    setenv("AWS_PROFILE", "role", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), SF_EPERM);
    assert_non_null(strstr(err.msg, "profile 'role' gets them through role_arn"));

    setenv("AWS_PROFILE", "nosuch", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), SF_EPERM);
    assert_non_null(strstr(err.msg, "profile 'nosuch'"));
    assert_non_null(strstr(err.msg, "/.aws/credentials"));
    assert_non_null(strstr(err.msg, "/.aws/config"));
    assert_null(strstr(err.msg, SECRET_A));
    assert_null(strstr(err.msg, SECRET_B));

    /* AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files. */
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_REGION");
    char f[UT_PATH_MAX];
    ut_join(f, h.dir, "creds");
    const char *moved = "[default]\naws_access_key_id=AKIAMOVED\naws_secret_access_key=s\n";
    ut_write_file(f, moved, strlen(moved));
    setenv("AWS_SHARED_CREDENTIALS_FILE", f, 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "no AWS region for S3"));
    assert_non_null(strstr(err.msg, "/nonexistent/config"));
    setenv("AWS_REGION", "Bad Region", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), SF_EUSAGE);
    setenv("AWS_REGION", "us-east-1", 1);
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_S3, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAMOVED");
    sf_aws_config_free(&c);
    home_done(&h);
}

static void test_config_missing(void **state)
{
    (void)state;
    home h;
    home_setup(&h, NULL, NULL);
    setenv("AWS_REGION", "us-east-1", 1);
    sf_aws_config c;
    sf_error err;
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_DYNAMODB, &err), SF_EPERM);
    assert_non_null(strstr(err.msg, "no AWS credentials for DynamoDB"));
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"));
    assert_non_null(strstr(err.msg, "profile 'default'"));
    assert_non_null(strstr(err.msg, h.dir));
    /* The client refuses a config with nothing in it. */
    sf_aws *a;
    memset(&c, 0, sizeof c);
    assert_int_equal(sf_aws_open(&c, NULL, &a, &err), SF_EINVAL);
    home_done(&h);
}

/* ---- text ---- */

static void test_text(void **state)
{
    (void)state;
    sf_buf b = SF_BUF_INIT;
    sf_aws_uri_encode(&b, "raw/a b+c~_.-é", 15, true);
    assert_string_equal(b.data, "raw/a%20b%2Bc~_.-%C3%A9");
    sf_buf_reset(&b);
    sf_aws_uri_encode(&b, "a/b", 3, false);
    assert_string_equal(b.data, "a%2Fb");
    sf_buf_reset(&b);
    sf_aws_param p[] = {{"prefix", "raw/t x/"},
                        {"list-type", "2"},
                        {"continuation-token", "a+b="},
                        {"delimiter", NULL}};
    sf_aws_query(&b, p, 4);
    assert_string_equal(b.data,
                        "continuation-token=a%2Bb%3D&delimiter=&list-type=2&prefix=raw%2Ft%20x%2F");
    char hex[65];
    sf_aws_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sf_aws_sha256_hex("Welcome to Amazon S3.", 21, hex);
    assert_string_equal(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");

    const char *xml = "<?xml version=\"1.0\"?><ListBucketResult><KeyCount>2</KeyCount>"
                      "<Contents><Key>a&amp;b&lt;&#233;&#x41;</Key><Size>3</Size></Contents>"
                      "<Contents><Key>c</Key><KeyMarker/></Contents><Keys>no</Keys>"
                      "<Key></Key></ListBucketResult>";
    size_t pos = 0, len = strlen(xml);
    assert_int_equal(sf_aws_xml_text(xml, len, "Key", &pos, &b), 1);
    assert_string_equal(b.data, "a&b<\xc3\xa9"
                                "A");
    assert_int_equal(sf_aws_xml_text(xml, len, "Key", &pos, &b), 1);
    assert_string_equal(b.data, "c");
    assert_int_equal(sf_aws_xml_text(xml, len, "Key", &pos, &b), 1);
    assert_string_equal(b.data, "");
    assert_int_equal(sf_aws_xml_text(xml, len, "Key", &pos, &b), 0);
    pos = 0;
    assert_int_equal(sf_aws_xml_text(xml, len, "KeyMarker", &pos, &b), 1);
    assert_string_equal(b.data, "");
    pos = 0;
    assert_int_equal(sf_aws_xml_text(xml, len, "IsTruncated", &pos, &b), 0);
    sf_buf_free(&b);

    char ep[128];
    sf_error err;
    assert_int_equal(sf_aws_default_endpoint(SF_AWS_DYNAMODB, "us-east-1", ep, sizeof ep, &err), 0);
    assert_string_equal(ep, "https://dynamodb.us-east-1.amazonaws.com");
    assert_string_equal(sf_aws_service_name(SF_AWS_KINESIS), "Kinesis");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_get_example),
        cmocka_unit_test(test_sign_put_example),
        cmocka_unit_test(test_token_and_target),
        cmocka_unit_test(test_retry_slowdown_and_500),
        cmocka_unit_test(test_403_not_retried),
        cmocka_unit_test(test_retries_spent),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_json_codes),
        cmocka_unit_test(test_many_queued),
        cmocka_unit_test(test_config_env),
        cmocka_unit_test(test_config_profiles),
        cmocka_unit_test(test_config_missing),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
