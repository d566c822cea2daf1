/*
 * lease.c - one process at a time per sink on a Kinesis stream: the port's
 * groups (stream.h, sf_stream_join) kept as leases in a DynamoDB table, as
 * the Kinesis Client Library keeps its own.
 *
 * Why a lease, and why here. A sink's effects are exactly-once because its
 * store refuses a batch that does not follow on from the position it holds
 * (the fence), but two processes of one sink then fight over every batch,
 * and the archive's objects have no such fence: two archivers cut objects
 * at different places and both are kept. So a second process of a sink is
 * refused. Kafka has a group coordinator for that; Kinesis has none, and
 * the sinks' stores cannot all hold a lease (S3's objects have no
 * compare-and-set in the emulator, nor did S3 until lately), so the lease
 * is kept beside the stream, in DynamoDB, where every AWS deployment of the
 * stream has it and conditional writes make it exact: one implementation
 * for every sink and store (docs/architecture.md says more).
 *
 * The table (lease-table, default shopflow-leases; made when absent,
 * PAY_PER_REQUEST) has one item per group, pk = PREFIX.SINK (lease-group,
 * default shopflow.STREAM_NAME: two deployments reading one stream into
 * different stores name different groups, as with Kafka's group.id): h the
 * holder's random id, host, pid, since (epoch s), exp (epoch ms), v a count
 * of renewals.
 *
 *  - join: the item is read (consistent). Absent: put, on being absent.
 *    Held: taken over, conditional on the holder and count read, when its
 *    exp has passed (the holder stopped renewing), or when the holder is a
 *    process of this host that no longer runs (kill(pid, 0): a SIGKILLed
 *    sink started again at once); else refused (SF_EBUSY) with a message
 *    naming host, pid, since when and how to take over, after waiting up to
 *    lease-wait seconds for it to go.
 *  - a thread of the handle renews each lease every lease-seconds / 3
 *    (put, conditional on the holder being still this one). A renewal
 *    refused (another process took the lease) or not made for
 *    lease-seconds - 2 (DynamoDB out of reach: the holder stops before any
 *    other may take over) loses the lease: the member's reads fail from
 *    then on (SF_EFAILED, saying who took it), so its runner stops.
 *  - leave: the item is deleted, conditional on the holder; so is every
 *    lease still held when the stream closes.
 * Expiry compares exp, written by the holder's clock, with the reader's:
 * hosts' clocks must agree to well within lease-seconds (NTP does).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/logline.h"
#include "stream/kinesis/kinesis.h"

#define KEY_MAX   520
#define HOST_MAX  256
#define SELF_STOP 2.0 /* seconds before expiry a holder that cannot renew gives up */

typedef struct member {
    struct member *next;
    pthread_t thread;
    char key[KEY_MAX];
    char token[33];
    long long since, version;
    double renewed; /* monotonic s of the last renewal */
    _Atomic bool lost;
    char why[SF_ERROR_MSG_MAX]; /* set before lost */
} member;

struct klease {
    sf_kinesis *k;
    sf_aws_config cfg;
    sf_aws *aws;             /* under call_mu */
    pthread_mutex_t call_mu; /* the client, and the list's changes */
    pthread_mutex_t mu;      /* the list, for readers */
    pthread_cond_t cv;
    pthread_t thread;
    bool started, stopping;
    member *members;
    char host[HOST_MAX];
};

/* What an item says. */
typedef struct holder {
    bool found;
    char token[40], host[HOST_MAX];
    long long pid, since, exp, version;
} holder;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void utc(long long epoch_s, char out[32])
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%lld", epoch_s);
}

/* ---- requests (caller holds call_mu) ---- */

static int call(klease *l, const char *op, sf_buf *body, yajl_val *out, sf_error *err)
{
    char res[300];
    snprintf(res, sizeof res, "table %s", l->k->lease_table);
    sf_aws_request rq = {.op = op, .resource = res, .body = body->data, .body_len = body->len};
    int rc = sf_buf_failed(body) ? sf_error_set(err, SF_ENOMEM, "out of memory")
                                 : sf_aws_call(l->aws, &rq, err);
    if (rc == 0 && out && !(*out = sf_kinesis_parse(&rq.resp, op, err)))
        rc = err->code;
    sf_buf_free(&rq.resp);
    sf_buf_free(body);
    return rc;
}

static void table_field(klease *l, sf_buf *b)
{
    sf_buf_puts(b, "{\"TableName\":");
    sf_buf_json_string(b, l->k->lease_table, strlen(l->k->lease_table));
}

/* The table is there and ACTIVE (made when absent). */
static int ensure_table(klease *l, sf_error *err)
{
    bool made = false;
    for (int i = 0; i < 600; i++) {
        sf_buf b = SF_BUF_INIT;
        table_field(l, &b);
        sf_buf_puts(&b, "}");
        yajl_val doc = NULL;
        int rc = call(l, "DescribeTable", &b, &doc, err);
        static const char *const st_p[] = {"Table", "TableStatus", NULL};
        const char *st = rc == 0 ? sf_kinesis_str(doc, st_p) : NULL;
        bool active = st && strcmp(st, "ACTIVE") == 0;
        yajl_tree_free(doc);
        if (active)
            return 0;
        if (rc == SF_ENOENT && !made) {
            table_field(l, &b);
            sf_buf_puts(&b, ",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
                            "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
                            "\"AttributeType\":\"S\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}");
            rc = call(l, "CreateTable", &b, NULL, err);
            if (rc == 0)
                sf_logf(SF_LOG_INFO, "kinesis_lease_table_created", "table=%s", l->k->lease_table);
            made = true;
            if (rc == SF_EBUSY) /* made by another process meanwhile */
                rc = 0;
        }
        if (rc < 0 && rc != SF_ENOENT)
            return rc;
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return sf_error_set(err, SF_EIO, "the lease table %s is not ACTIVE after a minute",
                        l->k->lease_table);
}

/* {"pk":{"S":key} and, when whole, the closing brace. */
static void key_field(sf_buf *b, const char *key, bool whole)
{
    sf_buf_puts(b, "{\"pk\":{\"S\":");
    sf_buf_json_string(b, key, strlen(key));
    sf_buf_puts(b, whole ? "}}" : "}");
}

static const char *item_str(yajl_val item, const char *name)
{
    const char *path[] = {name, "S", NULL};
    return sf_kinesis_str(item, path);
}

static long long item_num(yajl_val item, const char *name)
{
    const char *path[] = {name, "N", NULL};
    const char *v = sf_kinesis_str(item, path);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* Read the item of key (consistent). */
static int get(klease *l, const char *key, holder *h, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    table_field(l, &b);
    sf_buf_puts(&b, ",\"ConsistentRead\":true,\"Key\":");
    key_field(&b, key, true);
    sf_buf_puts(&b, "}");
    yajl_val doc = NULL;
    int rc = call(l, "GetItem", &b, &doc, err);
    static const char *const item_p[] = {"Item", NULL};
    yajl_val item = rc == 0 ? yajl_tree_get(doc, (const char **)item_p, yajl_t_object) : NULL;
    memset(h, 0, sizeof *h);
    if (item) {
        const char *tok = item_str(item, "h"), *host = item_str(item, "host");
        h->found = true;
        snprintf(h->token, sizeof h->token, "%s", tok ? tok : "");
        snprintf(h->host, sizeof h->host, "%s", host ? host : "?");
        h->pid = item_num(item, "pid");
        h->since = item_num(item, "since");
        h->exp = item_num(item, "exp");
        h->version = item_num(item, "v");
    }
    yajl_tree_free(doc);
    return rc;
}

/* The condition that the item is still token's (and at count `version`,
 * when not negative), and the request's end. */
static void held_by(sf_buf *b, const char *token, long long version)
{
    sf_buf_printf(b,
                  ",\"ConditionExpression\":\"#h = :h%s\",\"ExpressionAttributeNames\":"
                  "{\"#h\":\"h\"%s},\"ExpressionAttributeValues\":{\":h\":{\"S\":\"%s\"}",
                  version >= 0 ? " AND #v = :v" : "", version >= 0 ? ",\"#v\":\"v\"" : "", token);
    if (version >= 0)
        sf_buf_printf(b, ",\":v\":{\"N\":\"%lld\"}", version);
    sf_buf_puts(b, "}}");
}

/* Put m's item: on being absent (prev NULL), or on prev still holding it
 * (its holder, and its count when check_version). SF_ESTALE when not. */
static int put(klease *l, member *m, const holder *prev, bool check_version, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    table_field(l, &b);
    sf_buf_puts(&b, ",\"Item\":");
    key_field(&b, m->key, false);
    sf_buf_printf(&b,
                  ",\"h\":{\"S\":\"%s\"},\"pid\":{\"N\":\"%ld\"},\"since\":{\"N\":\"%lld\"},"
                  "\"exp\":{\"N\":\"%lld\"},\"v\":{\"N\":\"%lld\"},\"host\":{\"S\":",
                  m->token, (long)getpid(), m->since,
                  wall_ms() + (long long)l->k->lease_seconds * 1000, m->version + 1);
    sf_buf_json_string(&b, l->host, strlen(l->host));
    sf_buf_puts(&b, "}}");
    if (!prev)
        sf_buf_puts(&b, ",\"ConditionExpression\":\"attribute_not_exists(pk)\"}");
    else
        held_by(&b, prev->token, check_version ? prev->version : -1);
    int rc = call(l, "PutItem", &b, NULL, err);
    if (rc == 0) {
        m->version++;
        m->renewed = mono();
    }
    return rc;
}

/* Delete m's item if m still holds it. */
static void release(klease *l, member *m)
{
    sf_buf b = SF_BUF_INIT;
    table_field(l, &b);
    sf_buf_puts(&b, ",\"Key\":");
    key_field(&b, m->key, true);
    held_by(&b, m->token, -1);
    sf_error err = {0};
    if (call(l, "DeleteItem", &b, NULL, &err) == 0)
        sf_logf(SF_LOG_INFO, "kinesis_lease_released", "lease=%s", m->key);
}

/* ---- renewing ---- */

static void lose(klease *l, member *m, const char *why)
{
    snprintf(m->why, sizeof m->why,
             "kinesis stream %.100s: this process lost its lease %.140s (%.160s): it stops "
             "reading; another process of the sink runs now",
             l->k->name, m->key, why);
    atomic_store(&m->lost, true);
    char q[SF_ERROR_MSG_MAX + 64];
    sf_logf(SF_LOG_ERROR, "kinesis_lease_lost", "lease=%s msg=%s", m->key,
            sf_logq(why, q, sizeof q));
}

static void renew(klease *l, member *m)
{
    double every = l->k->lease_seconds / 3.0;
    if (atomic_load(&m->lost) || mono() - m->renewed < every)
        return;
    holder me = {.found = true};
    snprintf(me.token, sizeof me.token, "%s", m->token);
    sf_error err = {0};
    int rc = put(l, m, &me, false, &err);
    char why[SF_ERROR_MSG_MAX];
    if (rc == SF_ESTALE) {
        holder now;
        sf_error ignored = {0};
        if (get(l, m->key, &now, &ignored) == 0 && now.found)
            snprintf(why, sizeof why, "taken over by pid %lld on %s", now.pid, now.host);
        else
            snprintf(why, sizeof why, "released by another process");
        lose(l, m, why);
    } else if (rc < 0 && mono() - m->renewed > l->k->lease_seconds - SELF_STOP) {
        snprintf(why, sizeof why, "not renewed for %.0f s: %.300s", mono() - m->renewed, err.msg);
        lose(l, m, why);
    }
}

static void *renewer(void *arg)
{
    klease *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000 * 1000;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
        if (l->stopping)
            break;
        pthread_mutex_unlock(&l->mu);
        pthread_mutex_lock(&l->call_mu); /* members change only under it */
        for (member *m = l->members; m; m = m->next)
            renew(l, m);
        pthread_mutex_unlock(&l->call_mu);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- the handle's leases ---- */

static void lease_free(klease *l)
{
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    while (l->members) {
        member *m = l->members;
        l->members = m->next;
        if (!atomic_load(&m->lost))
            release(l, m);
        free(m);
    }
    sf_aws_close(l->aws);
    sf_aws_config_free(&l->cfg);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->call_mu);
    free(l);
}

/* The handle's leases: the client, the table, the renewing thread. */
static int start(sf_kinesis *k, sf_error *err)
{
    klease *l = calloc(1, sizeof *l);
    if (!l)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    l->k = k;
    pthread_mutex_init(&l->call_mu, NULL);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (gethostname(l->host, sizeof l->host) < 0)
        snprintf(l->host, sizeof l->host, "?");
    l->host[sizeof l->host - 1] = '\0';
    sf_aws_opts o;
    sf_aws_opts_default(&o);
    o.max_retry_seconds = 2; /* a renewal is tried again at the next turn */
    o.timeout = 3;
    int rc = sf_aws_config_load(&l->cfg, SF_AWS_DYNAMODB, err);
    if (rc == 0)
        rc = sf_aws_open(&l->cfg, &o, &l->aws, err);
    if (rc == 0) {
        pthread_mutex_lock(&l->call_mu);
        rc = ensure_table(l, err);
        pthread_mutex_unlock(&l->call_mu);
    }
    if (rc == 0 && pthread_create(&l->thread, NULL, renewer, l) != 0)
        rc = sf_error_set(err, SF_ENOMEM, "cannot start the lease thread");
    l->started = rc == 0;
    if (rc < 0) { /* the next join tries again */
        sf_error_prefix(err,
                        "kinesis stream %s: the sinks' lease table (--stream-opt "
                        "lease-table=none goes without): ",
                        k->name);
        lease_free(l);
        return rc;
    }
    atomic_store(&k->lease, l);
    return 0;
}

/* Whether the holder h may be taken over now: expired, or dead here. */
static bool takeable(const klease *l, const holder *h)
{
    if (wall_ms() > h->exp)
        return true;
    return strcmp(h->host, l->host) == 0 && h->pid > 0 && kill((pid_t)h->pid, 0) < 0 &&
           errno == ESRCH;
}

static int refuse(klease *l, const member *m, const holder *h, sf_error *err)
{
    char since[32], until[32];
    utc(h->since, since);
    utc(h->exp / 1000, until);
    return sf_error_set(
        err, SF_EBUSY,
        "kinesis stream %s: this sink already runs in pid %lld on %s, since %s (its lease %s in "
        "DynamoDB table %s; one process per sink). To take over, stop that one (kill %lld on "
        "%s) and start this one again; if it died without releasing its lease, it expires at "
        "%s; --stream-opt lease-wait=SECONDS waits for it",
        l->k->name, h->pid, h->host, since, m->key, l->k->lease_table, h->pid, h->host, until);
}

/* Take m's lease, or refuse (waiting up to lease-wait seconds first). */
static int acquire(klease *l, member *m, sf_error *err)
{
    double began = mono();
    for (;;) {
        holder h;
        pthread_mutex_lock(&l->call_mu);
        int rc = get(l, m->key, &h, err);
        bool over = rc == 0 && h.found && takeable(l, &h);
        if (rc == 0 && (!h.found || over))
            rc = put(l, m, h.found ? &h : NULL, true, err);
        pthread_mutex_unlock(&l->call_mu);
        if (rc == 0 && (!h.found || over)) {
            if (over)
                sf_logf(SF_LOG_INFO, "kinesis_lease_taken",
                        "lease=%s host=%s pid=%ld from_host=%s from_pid=%lld", m->key, l->host,
                        (long)getpid(), h.host, h.pid);
            else
                sf_logf(SF_LOG_INFO, "kinesis_lease_taken", "lease=%s host=%s pid=%ld", m->key,
                        l->host, (long)getpid());
            return 0;
        }
        if (rc < 0 && rc != SF_ESTALE)
            return rc;
        if (rc == 0 && mono() - began >= l->k->lease_wait)
            return refuse(l, m, &h, err);
        struct timespec nap = {0, 500 * 1000 * 1000};
        nanosleep(&nap, NULL); /* held, or taken meanwhile: look again */
    }
}

int sf_kinesis_join(sf_stream *s, const sf_stream_group *g, sf_stream_membership *out,
                    sf_error *err)
{
    sf_kinesis *k = (sf_kinesis *)s;
    *out = SF_STREAM_UNGROUPED;
    if (strcmp(k->lease_table, "none") == 0)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&k->lease_mu);
    if (!k->lease)
        rc = start(k, err);
    pthread_mutex_unlock(&k->lease_mu);
    member *m = rc == 0 ? calloc(1, sizeof *m) : NULL;
    if (rc < 0 || !m)
        return rc < 0 ? rc : sf_error_set(err, SF_ENOMEM, "out of memory");
    klease *l = atomic_load(&k->lease);
    m->thread = pthread_self();
    snprintf(m->key, sizeof m->key, "%s.%s", k->lease_group, g->name);
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        free(m);
        return sf_error_set(err, SF_EIO, "getrandom: %s", strerror(errno));
    }
    for (int i = 0; i < 16; i++)
        snprintf(m->token + 2 * i, 3, "%02x", r[i]);
    m->since = wall_ms() / 1000;
    if ((rc = acquire(l, m, err)) < 0) {
        free(m);
        return rc;
    }
    pthread_mutex_lock(&l->call_mu);
    pthread_mutex_lock(&l->mu);
    m->next = l->members;
    l->members = m;
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_unlock(&l->call_mu);
    return 0;
}

/* Unlink the calling thread's member (caller holds call_mu). */
static member *unlink_member(klease *l)
{
    pthread_mutex_lock(&l->mu);
    member **at = &l->members;
    while (*at && !pthread_equal((*at)->thread, pthread_self()))
        at = &(*at)->next;
    member *m = *at;
    if (m)
        *at = m->next;
    pthread_mutex_unlock(&l->mu);
    return m;
}

void sf_kinesis_leave(sf_stream *s)
{
    sf_kinesis *k = (sf_kinesis *)s;
    klease *l = atomic_load(&k->lease);
    if (!l)
        return;
    pthread_mutex_lock(&l->call_mu);
    member *m = unlink_member(l);
    if (m && !atomic_load(&m->lost))
        release(l, m);
    pthread_mutex_unlock(&l->call_mu);
    free(m);
}

int sf_kinesis_lease_check(sf_kinesis *k, sf_error *err)
{
    klease *l = atomic_load(&k->lease);
    if (!l)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    for (member *m = l->members; m; m = m->next)
        if (pthread_equal(m->thread, pthread_self()) && atomic_load(&m->lost))
            rc = sf_error_set(err, SF_EFAILED, "%s", m->why);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void sf_kinesis_leases_free(sf_kinesis *k)
{
    klease *l = atomic_load(&k->lease);
    if (l)
        lease_free(l);
    atomic_store(&k->lease, NULL);
}
