/*
 * dynamodb.c - the "dynamodb" history store: the history in one DynamoDB
 * table, `--store dynamodb://TABLE` (layout: dynamodb_int.h; the why of it:
 * docs/dynamodb.md). This file opens the table (made when absent, its key
 * schema checked), keeps the clients, sends JSON requests and holds the
 * layout's small pieces (positions as text, attributes, base64); batch.c
 * sends many items at once; writer.c and reader.c are the port.
 *
 * Exactly-once: the second model of store.h, idempotent effects and a
 * checkpoint written last (writer.c says in which order, and what a reader
 * may see mid-unit). DynamoDB's transactions stop at 100 items, and dynalite
 * (the emulator the tests use) has none.
 *
 * Settings (--store-opt): in-flight=1..64 (requests on the wire at once,
 * default 16), create=true|false (make the table when absent, default true).
 *
 * Clients: the AWS client is one thread's at a time (core/aws.h), so the
 * writer has its own and readers take one from a pool (made when none is
 * idle), which lets any number of HTTP threads read at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/logline.h"
#include "core/progress.h"
#include "storage/store/dynamodb/dynamodb_int.h"

extern const sf_store_ops sf_store_dynamodb_ops;

#define WAIT_ACTIVE_S 300.0 /* a new table has this long to become ACTIVE */

/* ---- settings and the location ---- */

typedef struct dy_settings {
    unsigned in_flight;
    bool create;
} dy_settings;

static int parse_settings(const sf_location *loc, const sf_store_opts *opts, dy_settings *s,
                          sf_error *err)
{
    *s = (dy_settings){16, true};
    for (size_t i = 0; i < opts->nextra; i++) {
        const char *kv = opts->extra[i];
        char *end;
        if (strncmp(kv, "in-flight=", 10) == 0 && kv[10] &&
            (s->in_flight = (unsigned)strtoul(kv + 10, &end, 10)) >= 1 && s->in_flight <= 64 &&
            !*end)
            continue;
        if (strcmp(kv, "create=true") == 0 || strcmp(kv, "create=false") == 0) {
            s->create = kv[7] == 't';
            continue;
        }
        return sf_error_set(err, SF_EUSAGE,
                            "%s: the dynamodb store takes in-flight=1..64 and create=true|false, "
                            "not '%s'",
                            loc->text, kv);
    }
    return 0;
}

static int parse_location(const sf_location *loc, dynamo *d, sf_error *err)
{
    const char *r = loc->rest;
    size_t n = strncmp(r, "//", 2) == 0 ? strlen(r + 2) : 0;
    if (n < 3 || n > 255 ||
        strspn(r + 2, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return sf_error_set(err, SF_EUSAGE,
                            "%s: a DynamoDB location is dynamodb://TABLE (3 to 255 of a-z, A-Z, "
                            "0-9, '_', '.', '-')",
                            loc->text);
    memcpy(d->table, r + 2, n + 1);
    snprintf(d->where, sizeof d->where, "dynamodb://%s", d->table);
    return 0;
}

/* ---- requests ---- */

int dy_client_take(dynamo *d, sf_aws **out, sf_error *err)
{
    pthread_mutex_lock(&d->pool_mu);
    *out = d->pooled ? d->pool[--d->pooled] : NULL;
    pthread_mutex_unlock(&d->pool_mu);
    return *out ? 0 : sf_aws_open(&d->config, &d->aws_opts, out, err);
}

void dy_client_put(dynamo *d, sf_aws *a)
{
    pthread_mutex_lock(&d->pool_mu);
    bool kept = d->pooled < DY_POOL_MAX;
    if (kept)
        d->pool[d->pooled++] = a;
    pthread_mutex_unlock(&d->pool_mu);
    if (!kept)
        sf_aws_close(a);
}

int dy_parse(dynamo *d, const char *op, sf_buf *resp, yajl_val *out, sf_error *err)
{
    char why[128];
    *out = NULL;
    if (sf_buf_failed(resp))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (!resp->data || resp->len == 0)
        return 0;
    if (!(*out = yajl_tree_parse(resp->data, why, sizeof why)))
        return sf_error_set(err, SF_EIO, "%s: %s: an answer that is not JSON: %.100s", d->where, op,
                            why);
    return 0;
}

int dy_call(dynamo *d, sf_aws *a, const char *op, const sf_buf *body, const char *resource,
            yajl_val *out, sf_error *err)
{
    sf_aws_request rq = {0};
    if (out)
        *out = NULL;
    if (sf_buf_failed(body))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rq.op = op;
    rq.resource = resource;
    rq.body = body->data;
    rq.body_len = body->len;
    int rc = sf_aws_call(a, &rq, err);
    if (rc == 0 && out)
        rc = dy_parse(d, op, &rq.resp, out, err);
    sf_buf_free(&rq.resp);
    return rc;
}

const char *dy_attr(yajl_val item, const char *name, const char *type)
{
    const char *path[] = {name, type, NULL};
    yajl_val v = yajl_tree_get(item, path, yajl_t_string);
    return v ? dy_str(v) : NULL;
}

/* ---- the layout's pieces ---- */

size_t dy_num_text(uint64_t v, char out[DY_POS_TEXT_MAX])
{
    char digits[24], *p = digits + sizeof digits;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    size_t n = (size_t)(digits + sizeof digits - p);
    out[0] = '0', out[1] = (char)('0' + n / 10), out[2] = (char)('0' + n % 10);
    memcpy(out + 3, p, n);
    out[3 + n] = '\0';
    return 3 + n;
}

size_t dy_pos_text(const sf_pos *pos, char out[DY_POS_TEXT_MAX])
{
    uint64_t v;
    if (sf_pos_u64(pos, &v))
        return dy_num_text(v, out);
    size_t n = sf_pos_format(pos, out + 3, DY_POS_TEXT_MAX - 3);
    out[0] = (char)('0' + n / 100), out[1] = (char)('0' + n / 10 % 10),
    out[2] = (char)('0' + n % 10);
    return 3 + n;
}

int dy_pos_parse(const char *text, size_t len, sf_pos *pos, sf_error *err)
{
    size_t n = len > 3 && strspn(text, "0123456789") >= 3
                   ? (size_t)((text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0'))
                   : 0;
    if (n == 0 || n != len - 3 || sf_pos_parse(text + 3, n, pos, NULL) < 0)
        return sf_error_set(err, SF_ECORRUPT, "history: a damaged stored position '%.*s'",
                            (int)(len < 40 ? len : 40), text);
    return 0;
}

/* "name":{"T": (no printf: these are most of a unit's bytes) */
static void put_name(sf_buf *b, const char *name, char type)
{
    char t[8] = "\":{\"T\":";
    t[4] = type;
    sf_buf_add(b, "\"", 1);
    sf_buf_puts(b, name);
    sf_buf_add(b, t, 7);
}

void dy_put_s(sf_buf *b, const char *name, const char *s, size_t n)
{
    put_name(b, name, 'S');
    sf_buf_json_string(b, s, n);
    sf_buf_add(b, "}", 1);
}

void dy_put_n(sf_buf *b, const char *name, long long v)
{
    put_name(b, name, 'N');
    sf_buf_add(b, "\"", 1);
    sf_buf_int(b, v);
    sf_buf_add(b, "\"}", 2);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void dy_put_b(sf_buf *b, const char *name, const uint8_t *data, size_t n)
{
    put_name(b, name, 'B');
    sf_buf_add(b, "\"", 1);
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0) |
                     (i + 2 < n ? data[i + 2] : 0);
        q[0] = b64[v >> 18], q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        sf_buf_add(b, q, 4);
    }
    sf_buf_add(b, "\"}", 2);
}

long dy_unbase64(const char *text, uint8_t *out, size_t cap)
{
    size_t len = strlen(text), n = 0;
    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            const char *c = text[i + j] == '=' ? NULL : strchr(b64, text[i + j]);
            if (text[i + j] == '=' && i + 4 == len && j >= 2)
                pad++;
            else if (!c || !text[i + j] || pad)
                return -1;
            v = v << 6 | (c ? (uint32_t)(c - b64) : 0);
        }
        uint8_t bytes[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        if (n + 3 - (size_t)pad > cap)
            return -1;
        memcpy(out + n, bytes, 3 - (size_t)pad);
        n += 3 - (size_t)pad;
    }
    return (long)n;
}

void dy_put_key(sf_buf *b, const char *pk, const char *sk)
{
    dy_put_s(b, "pk", pk, strlen(pk));
    sf_buf_add(b, ",", 1);
    dy_put_s(b, "sk", sk, strlen(sk));
}

void dy_invoice_pk(const char *invoice_no, size_t len, char out[DY_KEY_MAX])
{
    len = len < SF_INVOICE_NO_MAX ? len : SF_INVOICE_NO_MAX;
    memcpy(out, "INV#", 4);
    memcpy(out + 4, invoice_no, len);
    out[4 + len] = '\0';
}

void dy_customer_sk(int64_t date, const char *invoice_no, size_t len, char out[DY_KEY_MAX])
{
    snprintf(out, DY_KEY_MAX, "%016llx%.*s",
             (unsigned long long)((uint64_t)date + (UINT64_C(1) << 63)), (int)len, invoice_no);
}

/* ---- the table ---- */

/* The table's status into status ("" when absent: SF_ENOENT), and whether
 * its key is the one this layout needs (*right). */
static int describe(dynamo *d, sf_aws *a, char status[32], bool *right, sf_error *err)
{
    sf_buf body = SF_BUF_INIT;
    yajl_val t = NULL;
    sf_buf_puts(&body, "{\"TableName\":");
    sf_buf_json_string(&body, d->table, strlen(d->table));
    sf_buf_add(&body, "}", 1);
    char res[DY_TABLE_MAX + 8];
    snprintf(res, sizeof res, "table %s", d->table);
    int rc = dy_call(d, a, "DescribeTable", &body, res, &t, err);
    sf_buf_free(&body);
    status[0] = '\0';
    *right = false;
    if (rc < 0)
        return rc;
    const char *sp[] = {"Table", "TableStatus", NULL}, *kp[] = {"Table", "KeySchema", NULL},
               *ap[] = {"Table", "AttributeDefinitions", NULL};
    yajl_val st = yajl_tree_get(t, sp, yajl_t_string), ks = yajl_tree_get(t, kp, yajl_t_array),
             ad = yajl_tree_get(t, ap, yajl_t_array);
    snprintf(status, 32, "%s", st ? dy_str(st) : "?");
    static const char *const want[2][2] = {{"pk", "HASH"}, {"sk", "RANGE"}};
    *right = ks && ad && YAJL_GET_ARRAY(ks)->len == 2;
    for (size_t i = 0; *right && i < 2; i++) {
        yajl_val e = YAJL_GET_ARRAY(ks)->values[i];
        const char *np[] = {"AttributeName", NULL}, *tp[] = {"KeyType", NULL};
        yajl_val name = yajl_tree_get(e, np, yajl_t_string),
                 type = yajl_tree_get(e, tp, yajl_t_string);
        *right = name && type && strcmp(dy_str(name), want[i][0]) == 0 &&
                 strcmp(dy_str(type), want[i][1]) == 0;
    }
    for (size_t i = 0; *right && i < YAJL_GET_ARRAY(ad)->len; i++) {
        yajl_val e = YAJL_GET_ARRAY(ad)->values[i];
        const char *tp[] = {"AttributeType", NULL};
        yajl_val type = yajl_tree_get(e, tp, yajl_t_string);
        *right = type && strcmp(dy_str(type), "S") == 0;
    }
    yajl_tree_free(t);
    return 0;
}

static int create_table(dynamo *d, sf_aws *a, sf_error *err)
{
    sf_buf body = SF_BUF_INIT;
    sf_buf_puts(&body, "{\"TableName\":");
    sf_buf_json_string(&body, d->table, strlen(d->table));
    sf_buf_puts(&body,
                ",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
                "{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
                "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
                "{\"AttributeName\":\"sk\",\"AttributeType\":\"S\"}],"
                "\"BillingMode\":\"PAY_PER_REQUEST\"}");
    char res[DY_TABLE_MAX + 8];
    snprintf(res, sizeof res, "table %s", d->table);
    int rc = dy_call(d, a, "CreateTable", &body, res, NULL, err);
    sf_buf_free(&body);
    if (rc == SF_EBUSY) /* made by another process meanwhile */
        return 0;
    if (rc == 0)
        sf_logf(SF_LOG_INFO, "dynamodb_table_created",
                "table=%s billing=PAY_PER_REQUEST endpoint=%s", d->table, d->config.endpoint);
    return rc;
}

/* The table is there, ACTIVE, of the right key (made when absent, if it
 * may be). */
static int probe(dynamo *d, bool reader, bool create, sf_error *err)
{
    /* Few tries: an endpoint that does not answer is said at start (status
     * reports it at once); later requests ride out an outage. */
    sf_aws_opts quick = d->aws_opts;
    quick.max_attempts = 4;
    sf_aws *a;
    int rc = sf_aws_open(&d->config, &quick, &a, err);
    if (rc < 0)
        return rc;
    char status[32];
    bool right, made = false;
    double began = sf_monotonic();
    while ((rc = describe(d, a, status, &right, err)) == 0 || rc == SF_ENOENT) {
        if (rc == SF_ENOENT && (reader || !create)) {
            rc = sf_error_set(err, SF_ENOENT, "%s: no history store there (no table %s%s)",
                              d->where, d->table, reader ? "" : "; create=false");
            break;
        }
        if (rc == SF_ENOENT) {
            if ((rc = create_table(d, a, err)) < 0)
                break;
            made = true;
            continue;
        }
        if (!right) {
            rc = sf_error_set(err, SF_EUSAGE,
                              "%s: table %s exists with another key schema than a history "
                              "store's (pk string HASH, sk string RANGE): refused; name a new "
                              "table and it is made",
                              d->where, d->table);
            break;
        }
        if (strcmp(status, "ACTIVE") == 0) {
            if (made)
                sf_logf(SF_LOG_INFO, "dynamodb_table_active", "table=%s waited=%.1fs", d->table,
                        sf_monotonic() - began);
            break;
        }
        if (sf_monotonic() - began > WAIT_ACTIVE_S) {
            rc = sf_error_set(err, SF_EIO, "%s: table %s is still %s after %.0f s", d->where,
                              d->table, status, WAIT_ACTIVE_S);
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sf_aws_close(a);
    return rc;
}

static void dy_close(sf_store *st)
{
    dynamo *d = (dynamo *)st;
    if (!d)
        return;
    sf_dynamo_unit_free(d);
    sf_aws_close(d->w);
    while (d->pooled)
        sf_aws_close(d->pool[--d->pooled]);
    pthread_mutex_destroy(&d->pool_mu);
    sf_aws_config_free(&d->config);
    free(d->known);
    free(d->known_set);
    free(d->known_stored);
    free(d);
}

/* A random id for this handle's writes (getrandom; the clock and the
 * process id if it fails): who put a header or a checkpoint. */
static void writer_id(dynamo *d)
{
    uint64_t r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec << 20 ^
            (uint64_t)getpid();
    }
    snprintf(d->writer, sizeof d->writer, "%016llx", (unsigned long long)r);
}

static int dy_open(const sf_location *loc, const sf_store_opts *opts, sf_store **out, sf_error *err)
{
    dy_settings set;
    int rc = parse_settings(loc, opts, &set, err);
    if (rc < 0)
        return rc;
    dynamo *d = calloc(1, sizeof *d);
    if (!d)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    d->base.ops = &sf_store_dynamodb_ops;
    writer_id(d);
    pthread_mutex_init(&d->pool_mu, NULL);
    sf_aws_opts_default(&d->aws_opts);
    d->aws_opts.max_in_flight = set.in_flight;
    /* Ride out an outage of a minute or two rather than stop the sink. */
    d->aws_opts.max_attempts = 40;
    d->aws_opts.max_retry_seconds = 120;
    rc = parse_location(loc, d, err);
    if (rc == 0)
        rc = sf_aws_config_load(&d->config, SF_AWS_DYNAMODB, err);
    if (rc == 0)
        rc = probe(d, opts->read_only, set.create, err);
    if (rc == 0 && !opts->read_only)
        rc = sf_aws_open(&d->config, &d->aws_opts, &d->w, err);
    if (rc < 0) {
        dy_close(&d->base);
        return rc;
    }
    *out = &d->base;
    return 0;
}

const sf_store_ops sf_store_dynamodb_ops = {
    .open = dy_open,
    .close = dy_close,
    .positions = sf_dynamo_positions,
    .apply = sf_dynamo_apply,
    .set_aside = sf_dynamo_set_aside,
    .retry = sf_dynamo_retry,
    .commit = sf_dynamo_commit,
    .rollback = sf_dynamo_rollback,
    .quarantined = sf_dynamo_quarantined,
    .invoice = sf_dynamo_invoice,
    .customer_invoices = sf_dynamo_customer_invoices,
    .each_invoice = sf_dynamo_each_invoice,
};
