/*
 * commit.c - the DynamoDB history store's commit: the steps writer.c's
 * comment lists, in that order (lines stored; headers read, counted from
 * the position they count through, put conditionally; customers' pages;
 * retries; checkpoints, conditionally). Any failure drops the unit: what
 * was written is counted by no checkpoint, and is written again, the same,
 * when its batches are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/logline.h"
#include "storage/store/dynamodb/writer_int.h"

/* ---- a header item ---- */

typedef struct header_out {
    const char *no;
    size_t len;
    const sf_invoice_header *h;
    uint32_t partition;
    bool through_set;
    sf_pos through;
    const sf_buf *rt;   /* stored rt elements, or NULL */
    const char *rt_add; /* one more ("P#POS"), or NULL */
    long long version;  /* the new one: 1 for a new header */
    const char *writer;
    const sf_buf *pt; /* pt elements (earlier partitions: "P#POS"), or NULL */
} header_out;

static void header_item(sf_buf *b, const header_out *o)
{
    char pk[DY_KEY_MAX], num[SF_MONEY_TEXT_MAX];
    dy_invoice_pk(o->no, o->len, pk);
    dy_put_key(b, pk, "#");
    sf_buf_add(b, ",", 1);
    dy_put_n(b, "d", o->h->date);
    if (o->h->customer_id != SF_NO_CUSTOMER) {
        sf_buf_add(b, ",", 1);
        dy_put_n(b, "c", o->h->customer_id);
    }
    sf_buf_add(b, ",", 1);
    dy_put_n(b, "k", o->h->kind);
    sf_buf_add(b, ",", 1);
    dy_put_s(b, "co", o->h->country, o->h->country_len);
    sf_buf_add(b, ",", 1);
    dy_put_n(b, "n", o->h->lines);
    sf_buf_add(b, ",", 1);
    dy_put_s(b, "t", num, sf_format_i128(o->h->total, num));
    sf_buf_add(b, ",", 1);
    dy_put_s(b, "u", num, sf_format_i128(o->h->units, num));
    sf_buf_add(b, ",", 1);
    dy_put_n(b, "p", o->partition);
    if (o->through_set) {
        char t[DY_POS_TEXT_MAX];
        sf_buf_add(b, ",", 1);
        dy_put_s(b, "th", t, dy_pos_text(&o->through, t));
    }
    if (o->pt && o->pt->len > 0) {
        sf_buf_puts(b, ",\"pt\":{\"L\":[");
        sf_buf_add(b, o->pt->data, o->pt->len);
        sf_buf_puts(b, "]}");
    }
    bool stored_rt = o->rt && o->rt->len > 0;
    if (stored_rt || o->rt_add) {
        sf_buf_puts(b, ",\"rt\":{\"L\":[");
        if (stored_rt)
            sf_buf_add(b, o->rt->data, o->rt->len);
        if (o->rt_add) {
            sf_buf_puts(b, stored_rt ? ",{\"S\":" : "{\"S\":");
            sf_buf_json_string(b, o->rt_add, strlen(o->rt_add));
            sf_buf_add(b, "}", 1);
        }
        sf_buf_puts(b, "]}");
    }
    sf_buf_add(b, ",", 1);
    dy_put_n(b, "v", o->version);
    sf_buf_add(b, ",", 1);
    dy_put_s(b, "w", o->writer, strlen(o->writer));
}

/* A PutItem request body: the item, conditional on the stored version
 * (version - 1), or on being absent when it is new. */
static void put_header_body(dynamo *d, sf_buf *b, const header_out *o)
{
    sf_buf_puts(b, "{\"TableName\":");
    sf_buf_json_string(b, d->table, strlen(d->table));
    sf_buf_puts(b, ",\"Item\":{");
    header_item(b, o);
    if (o->version == 1)
        sf_buf_puts(b, "},\"ConditionExpression\":\"attribute_not_exists(#k)\","
                       "\"ExpressionAttributeNames\":{\"#k\":\"pk\"}}");
    else
        sf_buf_printf(b,
                      "},\"ConditionExpression\":\"#v = :v\","
                      "\"ExpressionAttributeNames\":{\"#v\":\"v\"},"
                      "\"ExpressionAttributeValues\":{\":v\":{\"N\":\"%lld\"}}}",
                      o->version - 1);
}

/* ---- 2. the stored headers ---- */

typedef struct read_ctx {
    dynamo *d;
    sf_error *err;
} read_ctx;

/* The stored rt list's elements as JSON into out. */
static void copy_rt(yajl_val rt, sf_buf *out)
{
    for (size_t i = 0; rt && i < YAJL_GET_ARRAY(rt)->len; i++) {
        const char *path[] = {"S", NULL};
        yajl_val s = yajl_tree_get(YAJL_GET_ARRAY(rt)->values[i], path, yajl_t_string);
        if (!s)
            continue;
        sf_buf_puts(out, out->len ? ",{\"S\":" : "{\"S\":");
        sf_buf_json_string(out, dy_str(s), strlen(dy_str(s)));
        sf_buf_add(out, "}", 1);
    }
}

static int on_stored_header(void *ctx, yajl_val item)
{
    read_ctx *c = ctx;
    const char *pk = dy_attr(item, "pk", "S");
    u_invoice *v =
        pk && strncmp(pk, "INV#", 4) == 0 ? dy_unit_find(c->d->unit, pk + 4, strlen(pk + 4)) : NULL;
    if (!v)
        return 0; /* not asked for */
    int rc = dy_header_decode(item, &v->stored, c->err);
    if (rc < 0)
        return rc;
    v->found = true;
    copy_rt(v->stored.retried, &v->rt);
    copy_rt(v->stored.earlier, &v->pt);
    v->stored.retried = v->stored.earlier = NULL; /* the tree goes */
    return sf_buf_failed(&v->rt) || sf_buf_failed(&v->pt)
               ? sf_error_set(c->err, SF_ENOMEM, "out of memory")
               : 0;
}

static int read_headers(dynamo *d, sf_error *err)
{
    dy_unit *u = d->unit;
    char(*pks)[DY_KEY_MAX] = malloc((u->ninv ? u->ninv : 1) * sizeof *pks);
    const char **pk = malloc((u->ninv ? u->ninv : 1) * sizeof *pk),
               **sk = malloc((u->ninv ? u->ninv : 1) * sizeof *sk);
    int rc = pks && pk && sk ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < u->ninv; i++) {
        dy_invoice_pk(u->inv[i].no, u->inv[i].len, pks[i]);
        pk[i] = pks[i], sk[i] = "#";
    }
    read_ctx c = {d, err};
    if (rc == 0)
        rc = dy_batch_get(d, d->w, pk, sk, u->ninv, on_stored_header, &c, err);
    free(pks), free(pk), free(sk);
    return rc;
}

/* ---- 3. the headers, counted and put ---- */

/* Whether v's lines went on from partition p to another (p is in its pt
 * list), and the position they are counted through in p. */
static bool left(const u_invoice *v, uint32_t p, sf_pos *through)
{
    char want[DY_POS_TEXT_MAX + 8];
    size_t n = (size_t)snprintf(want, sizeof want, "{\"S\":\"");
    n += dy_num_text(p, want + n);
    want[n++] = '#', want[n] = '\0';
    const char *at = v->pt.data ? strstr(v->pt.data, want) : NULL;
    return at && dy_pos_parse(at + n, strcspn(at + n, "\""), through, NULL) == 0;
}

/* v's lines go on in partition p, after those of o's partition (a
 * reshard: the shard they were in closed, and p is its child). */
static void move_on(u_invoice *v, header_out *o, uint32_t p)
{
    if (o->through_set) {
        char key[DY_KEY_MAX];
        dy_line_sk(o->partition, &o->through, 'L', key);
        sf_buf_puts(&v->pt, v->pt.len ? ",{\"S\":" : "{\"S\":");
        sf_buf_json_string(&v->pt, key + 2, strlen(key + 2)); /* "P#POS" */
        sf_buf_add(&v->pt, "}", 1);
    }
    o->partition = p;
    o->through_set = false;
}

/* v's new header into *h and o: 1, or 0 when no line of the unit is new to
 * it; SF_ECORRUPT for lines of a partition its lines had left. An invoice's
 * lines are in one partition, or, across a reshard, in a partition and then
 * its child: the header counts the current one's through a position, and
 * keeps each partition left with its own (pt). */
static int count(dynamo *d, u_invoice *v, sf_invoice_header *h, header_out *o, sf_error *err)
{
    const dy_unit *u = d->unit;
    *h = v->found ? v->stored.h : v->first;
    *o = (header_out){v->no,  v->len, h, v->partition, false, {0},
                      &v->rt, NULL,   1, d->writer,    &v->pt};
    if (v->found) {
        o->partition = v->stored.partition;
        o->through_set = v->stored.through_set;
        o->through = v->stored.through;
        o->version = v->stored.version + 1;
    }
    bool any = false;
    for (size_t i = v->line0; i != SIZE_MAX; i = u->lines[i].next) {
        const u_line *l = &u->lines[i];
        sf_pos th;
        if (l->p != o->partition && left(v, l->p, &th)) {
            if (sf_pos_cmp(&l->pos, &th) <= 0)
                continue; /* counted already: its batch is applied again */
            return sf_error_set(err, SF_ECORRUPT,
                                "history: invoice %.*s: lines of partition %u after lines of "
                                "partition %u, which its lines went on in",
                                (int)v->len, v->no, l->p, o->partition);
        }
        if (l->p != o->partition)
            move_on(v, o, l->p);
        if (o->through_set && sf_pos_cmp(&l->pos, &o->through) <= 0)
            continue; /* counted already: its batch is applied again */
        h->lines++;
        h->units += l->qty;
        h->total += l->amount;
        o->through_set = true;
        o->through = l->pos;
        any = true;
    }
    return sf_buf_failed(&v->pt) ? sf_error_set(err, SF_ENOMEM, "out of memory") : any;
}

typedef struct put_req {
    sf_aws_request rq;
    sf_buf body;
    u_invoice *v;
    long long version; /* of the header put */
    sf_pos through;
} put_req;

typedef struct seen_header {
    bool found;
    dy_header h;
    sf_error *err;
} seen_header;

static int on_seen_header(void *ctx, yajl_val item)
{
    seen_header *c = ctx;
    c->found = dy_header_decode(item, &c->h, c->err) == 0;
    return 0;
}

/* Whether a header put that failed its condition was this writer's own
 * write whose answer was lost (a dropped connection: the client, or libcurl
 * by itself on a kept-alive connection, sent it again, and the second try
 * found the first's work): the header now has the version, the position
 * and the writer id it put. The try count cannot tell (libcurl's own
 * resend is not counted). */
static bool own_header(dynamo *d, const put_req *r, sf_error *err)
{
    char pk[DY_KEY_MAX];
    dy_invoice_pk(r->v->no, r->v->len, pk);
    const char *pkp = pk, *sk = "#";
    seen_header c = {.err = err};
    return dy_batch_get(d, d->w, &pkp, &sk, 1, on_seen_header, &c, err) == 0 && c.found &&
           c.h.version == r->version && c.h.through_set &&
           sf_pos_cmp(&c.h.through, &r->through) == 0 && strcmp(c.h.writer, d->writer) == 0;
}

static int stale_header(dynamo *d, const u_invoice *v, sf_error *err)
{
    return sf_error_set(err, SF_ESTALE,
                        "history: partition %u: invoice %.*s's header changed under this writer "
                        "(another member applied its records): refused",
                        v->partition, (int)v->len, v->no);
    (void)d;
}

static int put_headers(dynamo *d, sf_error *err)
{
    dy_unit *u = d->unit;
    put_req *reqs = calloc(u->ninv ? u->ninv : 1, sizeof *reqs);
    if (!reqs)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    char res[DY_TABLE_MAX + 16];
    snprintf(res, sizeof res, "table %s", d->table);
    int rc = 0;
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < u->ninv; i++) {
        u_invoice *v = &u->inv[i];
        sf_invoice_header h;
        header_out o;
        int counted = count(d, v, &h, &o, err);
        if (counted <= 0) {
            rc = counted;
            continue;
        }
        put_req *r = &reqs[n++];
        r->v = v, r->version = o.version, r->through = o.through;
        put_header_body(d, &r->body, &o);
        if (sf_buf_failed(&r->body)) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        r->rq = (sf_aws_request){.op = "PutItem", .resource = res};
        r->rq.body = r->body.data, r->rq.body_len = r->body.len;
        rc = sf_aws_submit(d->w, &r->rq, err);
    }
    int drc = sf_aws_drain(d->w, err);
    if (rc == 0)
        rc = drc;
    for (size_t i = 0; i < n; i++) {
        bool stale = reqs[i].rq.rc == SF_ESTALE;
        if (rc == 0 && stale && !own_header(d, &reqs[i], err))
            rc = stale_header(d, reqs[i].v, err);
        else if (rc == 0 && !stale && reqs[i].rq.rc < 0) {
            *err = reqs[i].rq.err;
            rc = sf_error_prefix(err, "history: invoice %.*s's header: ", (int)reqs[i].v->len,
                                 reqs[i].v->no);
            rc = reqs[i].rq.rc;
        }
        sf_buf_free(&reqs[i].body);
        sf_buf_free(&reqs[i].rq.resp);
    }
    free(reqs);
    return rc;
}

/* ---- 4. the customers' pages ---- */

static int put_places(dynamo *d, sf_error *err)
{
    dy_unit *u = d->unit;
    sf_buf item = SF_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < u->ninv; i++) {
        const u_invoice *v = &u->inv[i];
        const sf_invoice_header *h = v->found ? &v->stored.h : &v->first;
        if (h->customer_id == SF_NO_CUSTOMER)
            continue;
        char pk[DY_KEY_MAX], sk[DY_KEY_MAX];
        snprintf(pk, sizeof pk, "CUST#%d", h->customer_id);
        dy_customer_sk(h->date, v->no, v->len, sk);
        sf_buf_reset(&item);
        dy_put_key(&item, pk, sk);
        rc = dy_writes_put(u->writes, pk, sk, &item, err);
    }
    sf_buf_free(&item);
    return rc == 0 ? dy_writes_finish(u->writes, err) : rc;
}

/* ---- 5. retries ---- */

typedef struct one_header {
    bool found, counted; /* the header is there; it counts the retried line already */
    dy_header h;
    sf_buf rt, pt;
    const char *key; /* "P#POS" */
    sf_error *err;
} one_header;

static int on_one_header(void *ctx, yajl_val item)
{
    one_header *c = ctx;
    int rc = dy_header_decode(item, &c->h, c->err);
    if (rc < 0)
        return rc;
    c->found = true;
    yajl_val rt = c->h.retried;
    for (size_t i = 0; rt && i < YAJL_GET_ARRAY(rt)->len; i++) {
        const char *path[] = {"S", NULL};
        yajl_val s = yajl_tree_get(YAJL_GET_ARRAY(rt)->values[i], path, yajl_t_string);
        if (s && strcmp(dy_str(s), c->key) == 0)
            c->counted = true;
    }
    copy_rt(rt, &c->rt);
    copy_rt(c->h.earlier, &c->pt);
    c->h.retried = c->h.earlier = NULL;
    return 0;
}

/* A single-item request (PutItem, DeleteItem) on the table: body is the
 * rest of the request after TableName. */
static int one_call(dynamo *d, const char *op, const char *what, const sf_buf *rest, sf_error *err)
{
    sf_buf body = SF_BUF_INIT;
    sf_buf_puts(&body, "{\"TableName\":");
    sf_buf_json_string(&body, d->table, strlen(d->table));
    sf_buf_add(&body, ",", 1);
    sf_buf_add(&body, rest->data, rest->len);
    sf_buf_add(&body, "}", 1);
    char res[DY_TABLE_MAX + DY_KEY_MAX + 32];
    snprintf(res, sizeof res, "table %s, %s", d->table, what);
    int rc = dy_call(d, d->w, op, &body, res, NULL, err);
    sf_buf_free(&body);
    return rc;
}

typedef struct cp_ctx {
    sf_pos *at;
    bool found;
    char writer[20];
} cp_ctx;

static int on_checkpoint(void *ctx, yajl_val item)
{
    cp_ctx *c = ctx;
    const char *at = dy_attr(item, "at", "S");
    const char *w = dy_attr(item, "w", "S");
    c->found = at && dy_pos_parse(at, strlen(at), c->at, NULL) == 0;
    snprintf(c->writer, sizeof c->writer, "%s", w ? w : "");
    return 0;
}

/* p's stored checkpoint into *at, and whether this writer put it;
 * SF_ENOENT when there is none. */
static int read_checkpoint(dynamo *d, uint32_t p, sf_pos *at, bool *mine, sf_error *err)
{
    char pk[24];
    snprintf(pk, sizeof pk, "POS#%u", p);
    const char *pkp = pk, *sk = "#";
    cp_ctx c = {at, false, ""};
    int rc = dy_batch_get(d, d->w, &pkp, &sk, 1, on_checkpoint, &c, err);
    *mine = strcmp(c.writer, d->writer) == 0;
    return rc < 0 ? rc : c.found ? 0 : SF_ENOENT;
}

static int retry_one(dynamo *d, const u_retry *t, sf_error *err)
{
    sf_record r;
    int rc = sf_record_unpack(t->data, t->len, &r) < 0
                 ? sf_error_set(err, SF_ECORRUPT, "history: a retried record that is not one")
                 : 0;
    char pk[DY_KEY_MAX], lsk[DY_KEY_MAX], qsk[DY_KEY_MAX], key[DY_KEY_MAX];
    dy_invoice_pk(r.invoice_no, r.invoice_no_len, pk);
    dy_line_sk(t->p, &t->pos, 'R', lsk);
    dy_quarantine_sk(t->p, &t->pos, qsk);
    snprintf(key, sizeof key, "%s", lsk + 2); /* "P#POS" */
    const char *hsk = "#", *pkp = pk;
    one_header c = {.key = key, .err = err};
    if (rc == 0)
        rc = dy_batch_get(d, d->w, &pkp, &hsk, 1, on_one_header, &c, err);
    sf_buf b = SF_BUF_INIT;
    if (rc == 0 && !c.counted) {
        /* The line, then its header counting it (and, new, its place). */
        sf_buf_puts(&b, "\"Item\":{");
        dy_put_key(&b, pk, lsk);
        sf_buf_add(&b, ",", 1);
        dy_put_b(&b, "r", t->data, t->len);
        sf_buf_add(&b, "}", 1);
        rc = one_call(d, "PutItem", lsk, &b, err);
        sf_invoice_header h = c.found ? c.h.h : (sf_invoice_header){0};
        if (!c.found) {
            h.date = r.invoice_date, h.customer_id = r.customer_id, h.kind = r.kind;
            h.country_len = r.country_len;
            memcpy(h.country, r.country, r.country_len);
        }
        h.lines++, h.units += r.quantity, h.total += sf_record_amount(&r);
        header_out o = {r.invoice_no,
                        r.invoice_no_len,
                        &h,
                        c.found ? c.h.partition : t->p,
                        c.found && c.h.through_set,
                        c.h.through,
                        &c.rt,
                        key,
                        c.found ? c.h.version + 1 : 1,
                        d->writer,
                        &c.pt};
        sf_buf_reset(&b);
        put_header_body(d, &b, &o);
        if (rc == 0 && (rc = dy_call(d, d->w, "PutItem", &b, pk, NULL, err)) == SF_ESTALE)
            rc = sf_error_set(err, SF_ESTALE,
                              "history: invoice %s's header changed under this retry: refused",
                              r.invoice_no);
        if (rc == 0 && !c.found && h.customer_id != SF_NO_CUSTOMER) {
            char cpk[DY_KEY_MAX], csk[DY_KEY_MAX];
            snprintf(cpk, sizeof cpk, "CUST#%d", h.customer_id);
            dy_customer_sk(h.date, r.invoice_no, r.invoice_no_len, csk);
            sf_buf_reset(&b);
            sf_buf_puts(&b, "\"Item\":{");
            dy_put_key(&b, cpk, csk);
            sf_buf_add(&b, "}", 1);
            rc = one_call(d, "PutItem", csk, &b, err);
        }
    }
    if (rc == 0) { /* the entry goes: the line is counted */
        sf_buf_reset(&b);
        sf_buf_puts(&b, "\"Key\":{");
        dy_put_key(&b, "Q", qsk);
        sf_buf_add(&b, "}", 1);
        rc = one_call(d, "DeleteItem", qsk, &b, err);
    }
    sf_buf_free(&b);
    sf_buf_free(&c.rt);
    sf_buf_free(&c.pt);
    return rc;
}

/* ---- 6. checkpoints ---- */

static int put_checkpoint(dynamo *d, uint32_t p, const sf_pos *next, sf_error *err)
{
    if (d->known_stored[p] && sf_pos_cmp(&d->known[p], next) == 0)
        return 0;
    char pk[24], at[DY_POS_TEXT_MAX], old[DY_POS_TEXT_MAX];
    snprintf(pk, sizeof pk, "POS#%u", p);
    sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, "\"Item\":{");
    dy_put_key(&b, pk, "#");
    sf_buf_add(&b, ",", 1);
    dy_put_s(&b, "at", at, dy_pos_text(next, at));
    sf_buf_add(&b, ",", 1);
    dy_put_s(&b, "w", d->writer, strlen(d->writer));
    if (d->known_stored[p]) {
        sf_buf_puts(&b, "},\"ConditionExpression\":\"#a = :a\",\"ExpressionAttributeNames\":"
                        "{\"#a\":\"at\"},\"ExpressionAttributeValues\":{\":a\":{\"S\":");
        sf_buf_json_string(&b, old, dy_pos_text(&d->known[p], old));
        sf_buf_puts(&b, "}}");
    } else
        sf_buf_puts(&b, "},\"ConditionExpression\":\"attribute_not_exists(#k)\","
                        "\"ExpressionAttributeNames\":{\"#k\":\"pk\"}");
    int rc = one_call(d, "PutItem", pk, &b, err);
    sf_buf_free(&b);
    sf_pos now = {0};
    bool mine = false;
    /* Failed its condition: its own write whose answer was lost when the
     * checkpoint holds the position and the writer id it put (own_header). */
    if (rc == SF_ESTALE && read_checkpoint(d, p, &now, &mine, err) == 0 &&
        sf_pos_cmp(&now, next) == 0 && mine)
        rc = 0;
    if (rc == SF_ESTALE) {
        d->known_set[p] = false; /* read again before the next batch */
        return sf_error_set(err, SF_ESTALE,
                            "history: partition %u: its checkpoint moved from %s under this "
                            "writer (another member applied its records): refused",
                            p, (sf_pos_format(&d->known[p], old, sizeof old), old));
    }
    if (rc == 0)
        d->known[p] = *next, d->known_stored[p] = true;
    return rc;
}

/* One line per commit whose requests needed retries (throttled, 5xx, the
 * network): an operator sees an outage ridden out, or a table too slow. */
static void log_retries(dynamo *d)
{
    sf_aws_stats st, *was = &d->retries_logged;
    sf_aws_stats_get(d->w, &st);
    if (st.retries == was->retries)
        return;
    sf_logf(SF_LOG_WARN, "dynamodb_retries",
            "table=%s retries=%llu throttled=%llu server=%llu network=%llu", d->table,
            (unsigned long long)(st.retries - was->retries),
            (unsigned long long)(st.retries_throttled - was->retries_throttled),
            (unsigned long long)(st.retries_server - was->retries_server),
            (unsigned long long)(st.retries_network - was->retries_network));
    *was = st;
}

int sf_dynamo_commit(sf_store *st, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    dy_unit *u = d->unit;
    if (!u)
        return 0;
    int rc = dy_writes_finish(u->writes, err);
    if (rc == 0)
        rc = read_headers(d, err);
    if (rc == 0)
        rc = put_headers(d, err);
    if (rc == 0)
        rc = put_places(d, err);
    for (size_t i = 0; rc == 0 && i < u->nretries; i++)
        rc = retry_one(d, &u->retries[i], err);
    for (uint32_t p = 0; rc == 0 && p < u->nparts; p++)
        if (u->parts[p].in_unit)
            rc = put_checkpoint(d, p, &u->parts[p].next, err);
    sf_dynamo_unit_free(d);
    log_retries(d);
    return rc;
}
