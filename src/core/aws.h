/*
 * aws.h - the AWS client every AWS adapter stands on: settings read as the
 * AWS SDKs and the aws CLI read them, and requests signed by libcurl's own
 * SigV4, several in flight, retried with backoff, their errors made clear.
 *
 * Why in core. The S3 objects adapter (storage/objects), the DynamoDB store
 * adapter (storage/store) and the Kinesis stream adapter (stream) are in
 * three components of one layer, and a component may not include another
 * of its own layer (tests/layers.sh). What they share must be below them,
 * and core is the only layer below. libcurl is allowed here (core/aws*) and
 * in replay/ only; no other core file calls it.
 *
 * Settings (sf_aws_config_load), in the SDKs' order:
 *  - credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
 *    when set, else the profile (AWS_PROFILE, else "default"): `[NAME]` in
 *    the credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 *    ~/.aws/credentials), then `[profile NAME]` (`[default]`) in the config
 *    file (AWS_CONFIG_FILE, else ~/.aws/config): aws_access_key_id,
 *    aws_secret_access_key, aws_session_token. Profiles that get their
 *    credentials elsewhere (role_arn, sso_*, credential_process) and instance
 *    or container roles are not read: the error says so.
 *  - region: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's
 *    `region` in the config file.
 *  - endpoint: AWS_ENDPOINT_URL_S3 / _DYNAMODB / _KINESIS, else
 *    AWS_ENDPOINT_URL (neither when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
 *    true), else https://SERVICE.REGION.amazonaws.com (.com.cn in cn-*).
 * Missing credentials or region fail here, at open, with a message naming
 * what is missing and every place it was looked for.
 *
 * Secrets. The secret key and session token are never written to a log line
 * or an sf_error; only the access key id is named (as AWS itself names it).
 *
 * Requests (sf_aws_submit / poll / drain / call). Each is signed by libcurl
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:SERVICE") at every attempt, so a retry
 * carries a fresh X-Amz-Date. libcurl 7.88 signs the URL's path and query as
 * they are, so a caller gives them in canonical form: the path encoded with
 * sf_aws_uri_encode, the query built by sf_aws_query (sorted, encoded, every
 * pair with '='). S3 requests carry x-amz-content-sha256, the body's SHA-256
 * (libcurl would sign an absent one as an empty body). The JSON services
 * (DynamoDB, Kinesis) get X-Amz-Target and their content type from `op`.
 *
 * One libcurl multi handle drives up to max_in_flight requests at once over
 * kept-alive connections; more wait in a queue. A failed attempt is retried
 * with exponential backoff and full jitter (a wait drawn uniformly from 0 to
 * min(cap, base * 2^n)) on connection errors, 5xx, 429 and the throttling
 * codes (SlowDown, ThrottlingException, ProvisionedThroughputExceededException,
 * RequestLimitExceeded, LimitExceededException, ...), at most max_attempts
 * tries and no new try after max_retry_seconds. Each retry is counted
 * (sf_aws_stats) and logged at debug (event=aws_retry).
 *
 * Threads: an sf_aws is used by one thread at a time; give each thread its
 * own. Completion callbacks run in that thread, inside poll/drain/call.
 */
#ifndef SF_AWS_H
#define SF_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

typedef enum sf_aws_service {
    SF_AWS_S3 = 0,
    SF_AWS_DYNAMODB,
    SF_AWS_KINESIS,
} sf_aws_service;

/* "S3", "DynamoDB", "Kinesis": for messages. */
const char *sf_aws_service_name(sf_aws_service s);

#define SF_AWS_KEY_ID_MAX   128
#define SF_AWS_SECRET_MAX   128
#define SF_AWS_REGION_MAX   64
#define SF_AWS_ENDPOINT_MAX 512
#define SF_AWS_FROM_MAX     320

/*
 * Where a client signs and sends. Filled by sf_aws_config_load, or by hand
 * (a test signing as the published examples do). session_token is heap
 * memory owned by the config: release it with sf_aws_config_free, which
 * also wipes the secrets. A config is copied by sf_aws_open.
 */
typedef struct sf_aws_config {
    sf_aws_service service;
    char signing_name[32];                     /* SigV4 service: "s3", "dynamodb", "kinesis" */
    char access_key_id[SF_AWS_KEY_ID_MAX];     /* may be named in messages */
    char secret_access_key[SF_AWS_SECRET_MAX]; /* never */
    char *session_token;                       /* NULL when none; never named */
    char region[SF_AWS_REGION_MAX];
    char endpoint[SF_AWS_ENDPOINT_MAX];     /* "https://host[:port][/path]", no trailing '/' */
    bool endpoint_from_env;                 /* set by AWS_ENDPOINT_URL[_*] (an S3-compatible
                                               server or an emulator: S3 then path-style) */
    char credentials_from[SF_AWS_FROM_MAX]; /* "the environment (AWS_ACCESS_KEY_ID)", ... */
    char region_from[SF_AWS_FROM_MAX];
    char endpoint_from[SF_AWS_FROM_MAX];
} sf_aws_config;

/* Read the settings for service (see above). SF_EPERM when no credentials are
 * found, SF_EUSAGE when no region or a setting is malformed; the message
 * names what is missing and where it was looked for. On failure *c holds
 * nothing to free. */
int sf_aws_config_load(sf_aws_config *c, sf_aws_service service, sf_error *err);

/* The default endpoint of service in region (no environment read). */
int sf_aws_default_endpoint(sf_aws_service service, const char *region, char *out, size_t cap,
                            sf_error *err);

/* Set *c's session token to a copy of token (NULL: none). SF_ENOMEM. */
int sf_aws_config_set_token(sf_aws_config *c, const char *token, sf_error *err);

/* Wipe the secrets and free the token. *c may be loaded again after. */
void sf_aws_config_free(sf_aws_config *c);

typedef struct sf_aws_opts {
    unsigned max_in_flight;   /* requests on the wire at once (default 8) */
    unsigned max_attempts;    /* tries of one request, the first included (default 10) */
    double max_retry_seconds; /* no retry starts later than this after the first try (60) */
    double backoff_base;      /* seconds: the first retry waits up to this (0.05) */
    double backoff_cap;       /* seconds: no wait is longer (5) */
    double timeout;           /* seconds one try may take (60) */
    double connect_timeout;   /* seconds (5) */
    const char *cacert;       /* a CA file for https (NULL: the system's) */
} sf_aws_opts;

/* The defaults above. */
void sf_aws_opts_default(sf_aws_opts *o);

typedef struct sf_aws sf_aws;

/* A client for config's service (copied; the caller keeps its own). opts
 * NULL: the defaults. The caller closes *out with sf_aws_close. No request
 * is sent here. */
int sf_aws_open(const sf_aws_config *config, const sf_aws_opts *opts, sf_aws **out, sf_error *err);

/* Abandon whatever is pending (no callbacks) and free. NULL is fine. */
void sf_aws_close(sf_aws *a);

/* The client's copy of its configuration. */
const sf_aws_config *sf_aws_config_of(const sf_aws *a);

typedef struct sf_aws_request sf_aws_request;
typedef void (*sf_aws_done_fn)(sf_aws_request *rq, void *ctx);

/*
 * One request. The caller owns it and everything it points to, which must
 * stay unchanged until it is done (its callback ran, or drain/call
 * returned). It may be submitted again once done (resp is reset then).
 */
struct sf_aws_request {
    /* Set by the caller. */
    const char *op;       /* "PutObject", "BatchWriteItem": named in errors and logs; for
                             DynamoDB and Kinesis also the X-Amz-Target action */
    const char *resource; /* what it acts on, for errors: "bucket shop, key raw/a.gz" */
    const char *method;   /* "GET", "PUT", "POST", "DELETE", "HEAD"; NULL: POST */
    const char *path;     /* encoded path ("/bucket/key"); NULL: "/" */
    const char *query;    /* canonical query without '?' (sf_aws_query); NULL: none */
    const char *vhost;    /* S3 virtual-hosted style: put "VHOST." before the endpoint's
                             host; NULL: path-style */
    const void *body;     /* NULL with body_len 0: no body */
    size_t body_len;
    const char *content_type;   /* NULL: the JSON services' own, else none */
    const char *const *headers; /* more "Name: value" lines (signed), NULL-terminated */
    const char *final_codes;    /* AWS codes never retried for this request, comma-separated
                                   (CreateStream's LimitExceededException is a quota) */
    unsigned max_attempts;      /* 0: the client's */
    sf_aws_done_fn done;        /* NULL: none; may submit more requests */
    void *ctx;

    /* Filled by the client when the request is done. */
    int rc;              /* 0, or SF_ENOENT (404, NoSuchKey, ResourceNotFoundException),
                            SF_EPERM (401/403, bad or expired credentials), SF_ESTALE
                            (ConditionalCheckFailedException, 412), SF_EBUSY
                            (ResourceInUseException), SF_EINVAL (other 4xx), SF_EIO
                            (network or 5xx or throttling, retries spent), SF_ENOMEM */
    long status;         /* the last HTTP status; 0 when no answer came */
    char code[64];       /* the AWS error code ("NoSuchKey"), "" on success */
    char request_id[80]; /* x-amz-request-id / x-amzn-RequestId of the last answer */
    char etag[128];      /* the ETag header of the last answer, quotes kept */
    unsigned attempts;   /* tries made */
    sf_buf resp;         /* the answer's body (also of an error); the caller frees it with
                            sf_buf_free once done with it */
    sf_error err;        /* when rc != 0: service, op, resource, status, code, AWS's
                            message; on 401/403 also the access key id and its source */
};

/* Queue rq; it starts at once when fewer than max_in_flight are running.
 * Fails only on misuse (SF_EINVAL) or SF_ENOMEM; a request's own failure is
 * reported in rq->rc. */
int sf_aws_submit(sf_aws *a, sf_aws_request *rq, sf_error *err);

/* Make progress for up to timeout_ms (0: only what is ready now): send,
 * receive, retry, and finish requests (calling their callbacks). Returns
 * how many are not done yet, or a negative SF_E* when the client itself
 * failed (then every pending request is finished with that error). */
int sf_aws_poll(sf_aws *a, int timeout_ms, sf_error *err);

/* Poll until nothing is pending. Returns 0, or as sf_aws_poll. */
int sf_aws_drain(sf_aws *a, sf_error *err);

/* Submit rq and drain (other pending requests finish too). Returns rq->rc,
 * with rq->err copied into err. */
int sf_aws_call(sf_aws *a, sf_aws_request *rq, sf_error *err);

/* Requests submitted and not done. */
size_t sf_aws_pending(const sf_aws *a);

typedef struct sf_aws_stats {
    uint64_t requests; /* submitted */
    uint64_t attempts; /* tries sent */
    uint64_t retries;  /* tries after a failed one (the three below) */
    uint64_t retries_throttled;
    uint64_t retries_server; /* 5xx */
    uint64_t retries_network;
    uint64_t failed; /* done with rc != 0 */
} sf_aws_stats;

void sf_aws_stats_get(const sf_aws *a, sf_aws_stats *out);

/* ---- building and reading requests ---- */

/* Append s[0..n) percent-encoded as SigV4 wants (RFC 3986 unreserved
 * characters A-Z a-z 0-9 - _ . ~ kept, every other byte as %XX); '/' kept
 * when keep_slash (an S3 key in a path). */
void sf_aws_uri_encode(sf_buf *b, const char *s, size_t n, bool keep_slash);

typedef struct sf_aws_param {
    const char *name;
    const char *value; /* NULL: "" */
} sf_aws_param;

/* Append the canonical query of params (sorted in place by name, then
 * value; each encoded; "name=value" joined by '&'). */
void sf_aws_query(sf_buf *b, sf_aws_param *params, size_t n);

/* The SHA-256 of data as 64 lowercase hex digits and a NUL. */
void sf_aws_sha256_hex(const void *data, size_t n, char out[65]);

/* Find the text of the next element <tag>...</tag> at or after *pos in
 * xml[0..len), XML entities decoded, into out (reset first); *pos moves past
 * it. Returns 1 when found, 0 when not, SF_ENOMEM. Enough for S3's answers,
 * which are flat and regular; not a general XML parser. */
int sf_aws_xml_text(const char *xml, size_t len, const char *tag, size_t *pos, sf_buf *out);

#endif
