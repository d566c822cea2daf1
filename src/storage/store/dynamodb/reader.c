/*
 * reader.c - the DynamoDB history store's reads (store.h, "Reading"), every
 * one consistent (ConsistentRead), none torn:
 *  - an invoice is one Query of its partition key: the header ("#") comes
 *    first, then its lines ("L#...", "R#..."), and only the lines the header
 *    counts are shown (from the stream: those of its partition up to the
 *    position it counts through, and of each partition its lines were in
 *    before a reshard up to the position its pt list gives; retried: those
 *    its rt list names). A
 *    header is written after the lines it counts, so those are there;
 *    lines written past it (a unit not yet committed) are left out;
 *  - a customer's page is a Query of its index newest first (sort key
 *    below the cursor, or below the first key after `to`), stopping at the
 *    first invoice older than `from`, then one BatchGetItem of the listed
 *    invoices' headers (an index item is written after its header);
 *  - each_invoice scans the headers, then reads each invoice as above;
 *  - the dead-letter area is one Query of its partition key "Q".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pack.h"
#include "storage/store/dynamodb/dynamodb_int.h"

/* ---- a header item ---- */

static bool number(const char *s, long long min, long long max, long long *out)
{
    char *end;
    if (!s || !*s)
        return false;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return !*end && v >= min && v <= max;
}

int dy_header_decode(yajl_val item, dy_header *out, sf_error *err)
{
    memset(out, 0, sizeof *out);
    sf_invoice_header *h = &out->h;
    long long date = 0, customer = SF_NO_CUSTOMER, kind = 0, lines = 0, part = 0;
    const char *c = dy_attr(item, "c", "N"), *co = dy_attr(item, "co", "S"),
               *t = dy_attr(item, "t", "S"), *u = dy_attr(item, "u", "S"),
               *th = dy_attr(item, "th", "S"), *pk = dy_attr(item, "pk", "S"),
               *w = dy_attr(item, "w", "S");
    bool ok = number(dy_attr(item, "d", "N"), INT64_MIN, INT64_MAX, &date) &&
              (!c || number(c, 1, INT32_MAX, &customer)) &&
              number(dy_attr(item, "k", "N"), 0, 255, &kind) &&
              number(dy_attr(item, "n", "N"), 0, UINT32_MAX, &lines) &&
              number(dy_attr(item, "p", "N"), 0, UINT32_MAX, &part) &&
              number(dy_attr(item, "v", "N"), 1, INT64_MAX, &out->version) && co &&
              strlen(co) <= SF_COUNTRY_MAX && t && u &&
              sf_parse_i128(t, strlen(t), 0, &h->total) == SF_NUM_OK &&
              sf_parse_i128(u, strlen(u), 0, &h->units) == SF_NUM_OK;
    out->through_set = th != NULL; /* none: it counts no line from the stream */
    if (ok && th)
        ok = dy_pos_parse(th, strlen(th), &out->through, NULL) == 0;
    if (!ok)
        return sf_error_set(err, SF_ECORRUPT, "history: %s: a damaged invoice header",
                            pk ? pk : "an item");
    h->date = date, h->customer_id = (int32_t)customer, h->kind = (uint8_t)kind;
    h->lines = (uint32_t)lines;
    out->partition = (uint32_t)part;
    h->country_len = (uint8_t)strlen(co);
    memcpy(h->country, co, h->country_len + 1);
    const char *rp[] = {"rt", "L", NULL}, *pp[] = {"pt", "L", NULL};
    out->retried = yajl_tree_get(item, rp, yajl_t_array);
    out->earlier = yajl_tree_get(item, pp, yajl_t_array);
    snprintf(out->writer, sizeof out->writer, "%s", w ? w : "");
    return 0;
}

/* ---- Query and Scan, page after page ---- */

/* fn for each item of op (Query or Scan) with the request's rest (after
 * TableName), every page, until fn returns nonzero (>0: stop, done). */
static int each_item(dynamo *d, sf_aws *a, const char *op, const sf_buf *rest, dy_item_fn fn,
                     void *ctx, sf_error *err)
{
    sf_buf body = SF_BUF_INIT, start = SF_BUF_INIT;
    char res[DY_TABLE_MAX + 8];
    snprintf(res, sizeof res, "table %s", d->table);
    int rc = 0;
    do {
        sf_buf_reset(&body);
        sf_buf_puts(&body, "{\"TableName\":");
        sf_buf_json_string(&body, d->table, strlen(d->table));
        sf_buf_add(&body, ",", 1);
        sf_buf_add(&body, rest->data, rest->len);
        if (start.len) {
            sf_buf_puts(&body, ",\"ExclusiveStartKey\":{");
            sf_buf_add(&body, start.data, start.len);
            sf_buf_add(&body, "}", 1);
        }
        sf_buf_add(&body, "}", 1);
        yajl_val t = NULL;
        rc = dy_call(d, a, op, &body, res, &t, err);
        const char *ip[] = {"Items", NULL}, *lp[] = {"LastEvaluatedKey", NULL};
        yajl_val items = rc == 0 ? yajl_tree_get(t, ip, yajl_t_array) : NULL;
        for (size_t i = 0; items && rc == 0 && i < YAJL_GET_ARRAY(items)->len; i++)
            rc = fn(ctx, YAJL_GET_ARRAY(items)->values[i]);
        yajl_val last = rc == 0 ? yajl_tree_get(t, lp, yajl_t_object) : NULL;
        sf_buf_reset(&start);
        if (last) {
            const char *pk = dy_attr(last, "pk", "S"), *sk = dy_attr(last, "sk", "S");
            if (pk && sk)
                dy_put_key(&start, pk, sk);
        }
        yajl_tree_free(t);
    } while (rc == 0 && start.len);
    sf_buf_free(&body);
    sf_buf_free(&start);
    return rc < 0 ? rc : 0;
}

/* ---- an invoice ---- */

typedef struct inv_ctx {
    dynamo *d;
    const char *no;
    size_t len;
    sf_store_header_fn on_header;
    sf_store_line_fn on_line;
    void *ctx;
    bool started;
    dy_header h;
    sf_buf rt; /* "\nP#POS\n" for each retried line counted */
    sf_buf pt; /* "\nP#POS\n" for each earlier partition and the position it counts through */
    uint32_t shown;
    sf_error *err;
} inv_ctx;

/* The position partition text part[0..n) is counted through: the header's
 * own partition's, or an earlier one's (its pt list); false when none. */
static bool through_of(const inv_ctx *c, const char *part, size_t n, sf_pos *through)
{
    char pt[DY_POS_TEXT_MAX], want[DY_POS_TEXT_MAX + 3];
    if (n == dy_num_text(c->h.partition, pt) && memcmp(part, pt, n) == 0) {
        *through = c->h.through;
        return c->h.through_set;
    }
    snprintf(want, sizeof want, "\n%.*s#", (int)n, part);
    const char *at = c->pt.data ? strstr(c->pt.data, want) : NULL;
    if (!at)
        return false;
    at += strlen(want);
    return dy_pos_parse(at, strcspn(at, "\n"), through, NULL) == 0;
}

static bool counted(inv_ctx *c, const char *sk)
{
    char want[DY_KEY_MAX + 2];
    if (sk[0] == 'R') {
        snprintf(want, sizeof want, "\n%s\n", sk + 2);
        return c->rt.data && strstr(c->rt.data, want);
    }
    const char *hash = strchr(sk + 2, '#');
    sf_pos pos, through;
    return hash && through_of(c, sk + 2, (size_t)(hash - sk - 2), &through) &&
           dy_pos_parse(hash + 1, strlen(hash + 1), &pos, NULL) == 0 &&
           sf_pos_cmp(&pos, &through) <= 0;
}

/* The strings of list (an L of S) into b, each after a newline. */
static void list_lines(yajl_val list, sf_buf *b)
{
    sf_buf_add(b, "\n", 1);
    for (size_t i = 0; list && i < YAJL_GET_ARRAY(list)->len; i++) {
        const char *path[] = {"S", NULL};
        yajl_val s = yajl_tree_get(YAJL_GET_ARRAY(list)->values[i], path, yajl_t_string);
        if (s)
            sf_buf_printf(b, "%s\n", dy_str(s));
    }
}

static int on_invoice_item(void *ctx, yajl_val item)
{
    inv_ctx *c = ctx;
    const char *sk = dy_attr(item, "sk", "S");
    if (!sk)
        return 0;
    if (!c->started) {
        if (strcmp(sk, "#") != 0)
            return SF_ENOENT; /* lines, no header: not stored yet */
        int rc = dy_header_decode(item, &c->h, c->err);
        list_lines(rc == 0 ? c->h.retried : NULL, &c->rt);
        list_lines(rc == 0 ? c->h.earlier : NULL, &c->pt);
        c->h.retried = c->h.earlier = NULL;
        c->started = true;
        return rc < 0 ? rc : c->on_header(c->ctx, c->no, c->len, &c->h.h);
    }
    if ((sk[0] != 'L' && sk[0] != 'R') || sk[1] != '#' || !counted(c, sk))
        return 0;
    const char *r = dy_attr(item, "r", "B");
    uint8_t packed[SF_PACK_MAX];
    long n = r ? dy_unbase64(r, packed, sizeof packed) : -1;
    sf_record rec;
    if (n < 0 || sf_record_unpack(packed, (size_t)n, &rec) < 0)
        return sf_error_set(c->err, SF_ECORRUPT, "history: invoice %.*s: a damaged line (%s)",
                            (int)c->len, c->no, sk);
    c->shown++;
    return c->on_line(c->ctx, &rec);
}

/* invoice_no's header and lines through the callbacks, with a (pooled)
 * client. */
static int read_invoice(dynamo *d, sf_aws *a, const char *invoice_no, size_t len,
                        sf_store_header_fn on_header, sf_store_line_fn on_line, void *ctx,
                        sf_error *err)
{
    char pk[DY_KEY_MAX];
    dy_invoice_pk(invoice_no, len, pk);
    sf_buf rest = SF_BUF_INIT;
    sf_buf_puts(&rest, "\"ConsistentRead\":true,\"KeyConditionExpression\":\"#p = :p\","
                       "\"ExpressionAttributeNames\":{\"#p\":\"pk\"},"
                       "\"ExpressionAttributeValues\":{\":p\":{\"S\":");
    sf_buf_json_string(&rest, pk, strlen(pk));
    sf_buf_puts(&rest, "}}");
    inv_ctx c = {.d = d,
                 .no = invoice_no,
                 .len = len,
                 .on_header = on_header,
                 .on_line = on_line,
                 .ctx = ctx,
                 .err = err};
    int rc = each_item(d, a, "Query", &rest, on_invoice_item, &c, err);
    if (rc == 0 && !c.started)
        rc = SF_ENOENT;
    if (rc == 0 && c.shown != c.h.h.lines)
        rc = sf_error_set(err, SF_ECORRUPT,
                          "history: invoice %.*s: its header counts %u lines, %u are stored",
                          (int)len, invoice_no, c.h.h.lines, c.shown);
    sf_buf_free(&rest);
    sf_buf_free(&c.rt);
    sf_buf_free(&c.pt);
    return rc;
}

int sf_dynamo_invoice(sf_store *st, const char *invoice_no, size_t len,
                      sf_store_header_fn on_header, sf_store_line_fn on_line, void *ctx,
                      sf_error *err)
{
    dynamo *d = (dynamo *)st;
    if (len == 0 || len > SF_INVOICE_NO_MAX)
        return SF_ENOENT;
    sf_aws *a;
    int rc = dy_client_take(d, &a, err);
    if (rc < 0)
        return rc;
    rc = read_invoice(d, a, invoice_no, len, on_header, on_line, ctx, err);
    dy_client_put(d, a);
    return rc;
}

/* ---- a customer's page ---- */

typedef struct listed {
    int64_t date;
    char no[SF_INVOICE_NO_MAX + 1];
    size_t len;
    bool found;
    sf_invoice_header h;
} listed;

typedef struct page_ctx {
    const sf_store_page *q;
    listed *l;
    unsigned n;
    bool more, any;
    sf_error *err;
} page_ctx;

static int on_place(void *ctx, yajl_val item)
{
    page_ctx *c = ctx;
    const char *sk = dy_attr(item, "sk", "S");
    size_t len = sk ? strlen(sk) : 0;
    char *end;
    char hex[17];
    if (len < 17 || len > 16 + SF_INVOICE_NO_MAX)
        return sf_error_set(c->err, SF_ECORRUPT, "history: a damaged customer index item");
    memcpy(hex, sk, 16);
    hex[16] = '\0';
    int64_t date = (int64_t)(strtoull(hex, &end, 16) - (UINT64_C(1) << 63));
    c->any = true;
    if (*end || date < c->q->from)
        return *end ? sf_error_set(c->err, SF_ECORRUPT, "history: a damaged customer index item")
                    : 1; /* older than the range: done (newest first) */
    if (c->n == c->q->limit) {
        c->more = true;
        return 1;
    }
    listed *l = &c->l[c->n++];
    l->date = date;
    l->len = len - 16;
    memcpy(l->no, sk + 16, l->len);
    l->no[l->len] = '\0';
    return 0;
}

typedef struct heads_ctx {
    page_ctx *pc;
    sf_error *err;
} heads_ctx;

static int on_listed_header(void *ctx, yajl_val item)
{
    heads_ctx *c = ctx;
    const char *pk = dy_attr(item, "pk", "S");
    for (unsigned i = 0; pk && i < c->pc->n; i++) {
        listed *l = &c->pc->l[i];
        if (!l->found && strncmp(pk, "INV#", 4) == 0 && strcmp(pk + 4, l->no) == 0) {
            dy_header h;
            int rc = dy_header_decode(item, &h, c->err);
            l->h = h.h;
            l->found = rc == 0;
            return rc;
        }
    }
    return 0;
}

/* The Query's key condition: below the cursor or the first key after
 * `to`, whichever is lower. */
static void page_query(const sf_store_page *q, sf_buf *rest)
{
    char pk[32], hi[DY_KEY_MAX], after[DY_KEY_MAX];
    snprintf(pk, sizeof pk, "CUST#%d", q->customer);
    dy_customer_sk(q->to == INT64_MAX ? INT64_MAX : q->to + 1, "", 0, hi);
    if (q->after.set) {
        dy_customer_sk(q->after.date, q->after.invoice_no, q->after.len, after);
        if (strcmp(after, hi) < 0)
            memcpy(hi, after, sizeof hi);
    }
    sf_buf_printf(rest,
                  "\"ConsistentRead\":true,\"ScanIndexForward\":false,\"Limit\":%u,"
                  "\"KeyConditionExpression\":\"#p = :p AND #s < :s\","
                  "\"ExpressionAttributeNames\":{\"#p\":\"pk\",\"#s\":\"sk\"},"
                  "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"%s\"},\":s\":{\"S\":",
                  q->limit + 1, pk);
    sf_buf_json_string(rest, hi, strlen(hi));
    sf_buf_puts(rest, "}}");
}

static int has_one(void *ctx, yajl_val item)
{
    (void)item;
    *(bool *)ctx = true;
    return 1;
}

static int listed_headers(dynamo *d, sf_aws *a, page_ctx *pc, sf_error *err)
{
    char(*pks)[DY_KEY_MAX] = malloc((pc->n ? pc->n : 1) * sizeof *pks);
    const char **pk = malloc((pc->n ? pc->n : 1) * sizeof *pk),
               **sk = malloc((pc->n ? pc->n : 1) * sizeof *sk);
    int rc = pks && pk && sk ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
    for (unsigned i = 0; rc == 0 && i < pc->n; i++) {
        dy_invoice_pk(pc->l[i].no, pc->l[i].len, pks[i]);
        pk[i] = pks[i], sk[i] = "#";
    }
    heads_ctx hc = {pc, err};
    if (rc == 0)
        rc = dy_batch_get(d, a, pk, sk, pc->n, on_listed_header, &hc, err);
    for (unsigned i = 0; rc == 0 && i < pc->n; i++)
        if (!pc->l[i].found)
            rc = sf_error_set(err, SF_ECORRUPT, "history: invoice %s is indexed but absent",
                              pc->l[i].no);
    free(pks), free(pk), free(sk);
    return rc;
}

int sf_dynamo_customer_invoices(sf_store *st, const sf_store_page *q, sf_store_listed_fn fn,
                                void *ctx, bool *more, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    *more = false;
    listed *l = calloc(q->limit ? q->limit : 1, sizeof *l);
    sf_aws *a = NULL;
    int rc = l ? dy_client_take(d, &a, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc < 0) {
        free(l);
        return rc;
    }
    sf_buf rest = SF_BUF_INIT;
    page_query(q, &rest);
    page_ctx pc = {q, l, 0, false, false, err};
    rc = each_item(d, a, "Query", &rest, on_place, &pc, err);
    if (rc == 0 && pc.n > 0)
        rc = listed_headers(d, a, &pc, err);
    for (unsigned i = 0; rc == 0 && i < pc.n; i++)
        rc = fn(ctx, l[i].date, l[i].no, l[i].len, &l[i].h);
    if (rc == 0 && !pc.any) { /* an empty page: of a customer with no invoice at all? */
        sf_buf_reset(&rest);
        sf_buf_printf(&rest,
                      "\"Limit\":1,\"KeyConditionExpression\":\"#p = :p\","
                      "\"ExpressionAttributeNames\":{\"#p\":\"pk\"},"
                      "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"CUST#%d\"}}",
                      q->customer);
        bool any = false;
        rc = each_item(d, a, "Query", &rest, has_one, &any, err);
        if (rc == 0 && !any)
            rc = SF_ENOENT;
    }
    *more = pc.more;
    sf_buf_free(&rest);
    dy_client_put(d, a);
    free(l);
    return rc;
}

/* ---- every invoice ---- */

typedef struct all_ctx {
    dynamo *d;
    sf_aws *a;
    sf_store_header_fn on_header;
    sf_store_line_fn on_line;
    void *ctx;
    sf_error *err;
} all_ctx;

static int on_any_header(void *ctx, yajl_val item)
{
    all_ctx *c = ctx;
    const char *pk = dy_attr(item, "pk", "S");
    if (!pk || strncmp(pk, "INV#", 4) != 0)
        return 0;
    return read_invoice(c->d, c->a, pk + 4, strlen(pk + 4), c->on_header, c->on_line, c->ctx,
                        c->err);
}

int sf_dynamo_each_invoice(sf_store *st, sf_store_header_fn on_header, sf_store_line_fn on_line,
                           void *ctx, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    sf_aws *a, *b;
    int rc = dy_client_take(d, &a, err);
    if (rc < 0)
        return rc;
    if ((rc = dy_client_take(d, &b, err)) < 0) {
        dy_client_put(d, a);
        return rc;
    }
    sf_buf rest = SF_BUF_INIT;
    sf_buf_puts(&rest, "\"ConsistentRead\":true,\"FilterExpression\":\"#s = :h\","
                       "\"ProjectionExpression\":\"#p\","
                       "\"ExpressionAttributeNames\":{\"#s\":\"sk\",\"#p\":\"pk\"},"
                       "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"#\"}}");
    all_ctx c = {d, b, on_header, on_line, ctx, err};
    rc = each_item(d, a, "Scan", &rest, on_any_header, &c, err);
    sf_buf_free(&rest);
    dy_client_put(d, a);
    dy_client_put(d, b);
    return rc;
}

/* ---- the dead-letter area ---- */

typedef struct q_ctx {
    sf_store_quarantined_fn fn;
    void *ctx;
    sf_error *err;
} q_ctx;

static int on_entry(void *ctx, yajl_val item)
{
    q_ctx *c = ctx;
    long long p = 0;
    const char *o = dy_attr(item, "o", "S"), *at = dy_attr(item, "at", "S"),
               *why = dy_attr(item, "why", "S"), *e = dy_attr(item, "e", "B");
    sf_pos pos;
    size_t elen = e ? strlen(e) : 0;
    uint8_t *data = malloc(elen / 4 * 3 + 1);
    long n = e && data ? dy_unbase64(e, data, elen / 4 * 3 + 1) : 0;
    int rc = 0;
    if (!number(dy_attr(item, "p", "N"), 0, UINT32_MAX, &p) || !o || !at || !why || n < 0 ||
        !data || dy_pos_parse(o, strlen(o), &pos, NULL) < 0)
        rc = sf_error_set(c->err, data ? SF_ECORRUPT : SF_ENOMEM,
                          "history: a damaged quarantine entry");
    if (rc == 0) {
        char reason[SF_ERROR_MSG_MAX];
        snprintf(reason, sizeof reason, "%s", why);
        rc = c->fn(c->ctx, (uint32_t)p, &pos, reason, at, data, (size_t)n);
    }
    free(data);
    return rc;
}

int sf_dynamo_quarantined(sf_store *st, sf_store_quarantined_fn fn, void *ctx, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    sf_aws *a;
    int rc = dy_client_take(d, &a, err);
    if (rc < 0)
        return rc;
    sf_buf rest = SF_BUF_INIT;
    sf_buf_puts(&rest, "\"ConsistentRead\":true,\"KeyConditionExpression\":\"#p = :p\","
                       "\"ExpressionAttributeNames\":{\"#p\":\"pk\"},"
                       "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"Q\"}}");
    q_ctx c = {fn, ctx, err};
    rc = each_item(d, a, "Query", &rest, on_entry, &c, err);
    sf_buf_free(&rest);
    dy_client_put(d, a);
    return rc;
}
