/*
 * writer.c - the DynamoDB history store's unit of work (store.h, "Writing",
 * the second model: idempotent effects and a checkpoint written last).
 *
 * apply and set_aside check the fence, then queue their items (a line per
 * record, "L#P#POS", an entry set aside under "Q") and start sending them at
 * once, 25 to a BatchWriteItem, several in flight: they are invisible to
 * readers until a header counts them. The unit keeps, per invoice, its
 * lines' positions and amounts. commit then, in this order:
 *  1. waits until every line and entry set aside is stored;
 *  2. reads the headers of the invoices the unit touched (BatchGetItem,
 *     consistent), and counts into each only its lines past the position
 *     the header counts through (after a crash, the lines of a unit written
 *     again are counted once); an invoice whose lines go on in another
 *     partition (a Kinesis shard's child, after a reshard) keeps the
 *     partition it left with its own position in its pt list;
 *  3. puts each changed header, conditional on the version it read (a new
 *     one: on being absent), several in flight; a failed condition is
 *     SF_ESTALE: another writer changed it (a zombie is fenced before its
 *     stale totals overwrite newer ones);
 *  4. puts the invoices' places in their customers' pages (after their
 *     headers: a page lists an invoice only once its header is stored);
 *  5. does the unit's retries (a line "R#P#POS" counted by its header's rt
 *     list, so a retry done twice counts once; then the entry's removal);
 *  6. puts each partition's checkpoint, conditional on the checkpoint it
 *     read (absent: on being absent): ConditionalCheckFailed is SF_ESTALE,
 *     another member moved it.
 * What a reader may see mid-unit: lines not yet counted (never shown: a
 * reader shows the lines its header counts), an invoice's new header before
 * its customer's page lists it, headers and entries set aside ahead of the
 * checkpoint (a crash there leaves them; the batch applied again finds them
 * counted). Never a header whose totals disagree with the lines it shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store/dynamodb/writer_int.h"

/* ---- the unit's memory ---- */

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static int rehash(dy_unit *u)
{
    size_t n = u->nslots ? 2 * u->nslots : 1024;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return SF_ENOMEM;
    for (size_t i = 0; i < u->ninv; i++) {
        size_t k = hash(u->inv[i].no, u->inv[i].len) & (n - 1);
        while (slots[k])
            k = (k + 1) & (n - 1);
        slots[k] = (uint32_t)i + 1;
    }
    free(u->slots);
    u->slots = slots, u->nslots = n;
    return 0;
}

u_invoice *dy_unit_find(dy_unit *u, const char *invoice_no, size_t len)
{
    if (!u->nslots)
        return NULL;
    size_t k = hash(invoice_no, len) & (u->nslots - 1);
    for (; u->slots[k]; k = (k + 1) & (u->nslots - 1)) {
        u_invoice *v = &u->inv[u->slots[k] - 1];
        if (v->len == len && memcmp(v->no, invoice_no, len) == 0)
            return v;
    }
    return NULL;
}

/* r's invoice in the unit, added (from r, its first line here) if new. */
static u_invoice *unit_invoice(dy_unit *u, uint32_t p, const sf_record *r)
{
    if ((u->ninv + 1) * 2 > u->nslots && rehash(u) < 0)
        return NULL;
    u_invoice *v = dy_unit_find(u, r->invoice_no, r->invoice_no_len);
    if (v)
        return v;
    size_t k = hash(r->invoice_no, r->invoice_no_len) & (u->nslots - 1);
    while (u->slots[k])
        k = (k + 1) & (u->nslots - 1);
    if (u->ninv == u->cap_inv) {
        size_t cap = u->cap_inv ? 2 * u->cap_inv : 256;
        u_invoice *inv = realloc(u->inv, cap * sizeof *inv);
        if (!inv)
            return NULL;
        u->inv = inv, u->cap_inv = cap;
    }
    v = &u->inv[u->ninv];
    memset(v, 0, sizeof *v);
    memcpy(v->no, r->invoice_no, r->invoice_no_len);
    v->len = (uint8_t)r->invoice_no_len;
    v->partition = p;
    v->line0 = v->last = SIZE_MAX;
    sf_invoice_header *h = &v->first;
    h->date = r->invoice_date;
    h->customer_id = r->customer_id;
    h->kind = r->kind;
    h->country_len = r->country_len;
    memcpy(h->country, r->country, r->country_len);
    u->slots[k] = (uint32_t)++u->ninv;
    return v;
}

static int add_line(dy_unit *u, u_invoice *v, uint32_t p, const sf_pos *pos, const sf_record *r)
{
    if (u->nlines == u->cap_lines) {
        size_t cap = u->cap_lines ? 2 * u->cap_lines : 4096;
        u_line *lines = realloc(u->lines, cap * sizeof *lines);
        if (!lines)
            return SF_ENOMEM;
        u->lines = lines, u->cap_lines = cap;
    }
    size_t i = u->nlines++;
    u->lines[i] = (u_line){p, *pos, sf_record_amount(r), r->quantity, SIZE_MAX};
    if (v->last == SIZE_MAX)
        v->line0 = i;
    else
        u->lines[v->last].next = i;
    v->last = i;
    v->nlines++;
    return 0;
}

static int unit_part(dy_unit *u, uint32_t p)
{
    if (p < u->nparts)
        return 0;
    u_part *parts = realloc(u->parts, (p + 1) * sizeof *parts);
    if (!parts)
        return SF_ENOMEM;
    memset(parts + u->nparts, 0, (p + 1 - u->nparts) * sizeof *parts);
    u->parts = parts, u->nparts = p + 1;
    return 0;
}

static void unit_free(dy_unit *u)
{
    if (!u)
        return;
    dy_writes_free(u->writes);
    for (size_t i = 0; i < u->ninv; i++) {
        sf_buf_free(&u->inv[i].rt);
        sf_buf_free(&u->inv[i].pt);
    }
    free(u->inv);
    free(u->slots);
    free(u->lines);
    free(u->retries);
    free(u->parts);
    free(u);
}

void sf_dynamo_unit_free(dynamo *d)
{
    unit_free(d->unit);
    d->unit = NULL;
}

void sf_dynamo_rollback(sf_store *st)
{
    sf_dynamo_unit_free((dynamo *)st); /* what was sent is counted by no header */
}

static int begin(dynamo *d, sf_error *err)
{
    if (d->unit)
        return 0;
    if (!d->w)
        return sf_error_set(err, SF_EINVAL, "%s: opened to read only", d->where);
    dy_unit *u = calloc(1, sizeof *u);
    int rc = u ? dy_writes_new(d, d->w, &u->writes, err) : SF_ENOMEM;
    if (rc < 0) {
        free(u);
        return rc == SF_ENOMEM ? sf_error_set(err, SF_ENOMEM, "out of memory") : rc;
    }
    d->unit = u;
    return 0;
}

/* rc, after rolling the unit back if it failed. */
int dy_ended(dynamo *d, int rc)
{
    if (rc < 0)
        sf_dynamo_rollback(&d->base);
    return rc;
}

/* ---- checkpoints and the fence ---- */

static int know(dynamo *d, uint32_t p)
{
    if (p < d->nknown)
        return 0;
    sf_pos *k = realloc(d->known, (p + 1) * sizeof *k);
    if (k)
        d->known = k;
    bool *s = k ? realloc(d->known_set, (p + 1) * sizeof *s) : NULL;
    if (s)
        d->known_set = s;
    bool *t = s ? realloc(d->known_stored, (p + 1) * sizeof *t) : NULL;
    if (!t)
        return SF_ENOMEM;
    d->known_stored = t;
    for (uint32_t i = d->nknown; i <= p; i++)
        sf_pos_from_u64(&d->known[i], 0), d->known_set[i] = d->known_stored[i] = false;
    d->nknown = p + 1;
    return 0;
}

typedef struct pos_ctx {
    dynamo *d;
    sf_pos *next;
    uint32_t nparts;
    sf_error *err;
} pos_ctx;

static int on_position(void *ctx, yajl_val item)
{
    pos_ctx *c = ctx;
    const char *pk = dy_attr(item, "pk", "S"), *at = dy_attr(item, "at", "S");
    char *end;
    unsigned long p = pk ? strtoul(pk + 4, &end, 10) : 0;
    sf_pos pos;
    if (!pk || !at || *end || p >= c->nparts)
        return sf_error_set(c->err, SF_ECORRUPT, "%s: a damaged checkpoint", c->d->where);
    int rc = dy_pos_parse(at, strlen(at), &pos, c->err);
    if (rc == 0) {
        c->next[p] = pos;
        if (know(c->d, (uint32_t)p) == 0)
            c->d->known[p] = pos, c->d->known_set[p] = c->d->known_stored[p] = true;
    }
    return rc;
}

/* Read the checkpoints of partitions [from, from + n) into next[from..]. */
static int read_positions(dynamo *d, sf_pos *next, uint32_t from, uint32_t n, sf_error *err)
{
    char(*pks)[24] = calloc(n ? n : 1, sizeof *pks);
    const char **pk = calloc(n ? n : 1, sizeof *pk), **sk = calloc(n ? n : 1, sizeof *sk);
    int rc = pks && pk && sk && know(d, from + n - 1) == 0 ? 0 : SF_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        snprintf(pks[i], sizeof pks[i], "POS#%u", from + i);
        pk[i] = pks[i], sk[i] = "#";
        sf_pos_from_u64(&next[from + i], 0);
        sf_pos_from_u64(&d->known[from + i], 0);
        d->known_set[from + i] = true, d->known_stored[from + i] = false;
    }
    sf_aws *a = NULL;
    pos_ctx c = {d, next, from + n, err};
    if (rc == SF_ENOMEM)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    else if ((rc = dy_client_take(d, &a, err)) == 0) {
        rc = dy_batch_get(d, a, pk, sk, n, on_position, &c, err);
        dy_client_put(d, a);
    }
    if (rc < 0)
        for (uint32_t i = 0; i < n && from + i < d->nknown; i++)
            d->known_set[from + i] = false;
    free(pks), free(pk), free(sk);
    return rc;
}

int sf_dynamo_positions(sf_store *st, sf_pos *next, uint32_t nparts, sf_error *err)
{
    return nparts ? read_positions((dynamo *)st, next, 0, nparts, err) : 0;
}

/* The fence: first (NULL: a hole, nothing to check) must be at p's
 * position, the unit's or else the stored one. */
static int fence(dynamo *d, uint32_t p, const sf_pos *first, sf_error *err)
{
    dy_unit *u = d->unit;
    int rc = unit_part(u, p) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
    if (rc == 0 && (p >= d->nknown || !d->known_set[p])) {
        sf_pos *tmp = calloc(p + 1, sizeof *tmp);
        rc =
            tmp ? read_positions(d, tmp, p, 1, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
        free(tmp);
    }
    if (rc < 0 || !first)
        return rc;
    bool any = u->parts[p].in_unit || d->known_stored[p];
    const sf_pos *at = u->parts[p].in_unit ? &u->parts[p].next : &d->known[p];
    if (!any || sf_pos_cmp(at, first) == 0)
        return 0;
    char from[SF_POS_TEXT_MAX], there[SF_POS_TEXT_MAX];
    sf_pos_format(first, from, sizeof from);
    sf_pos_format(at, there, sizeof there);
    return sf_error_set(err, SF_ESTALE,
                        "history: partition %u: a batch from position %s, but the store is at %s "
                        "(another member applied it): refused",
                        p, from, there);
}

/* ---- apply, set aside, retry ---- */

void dy_line_sk(uint32_t p, const sf_pos *pos, char lead, char out[DY_KEY_MAX])
{
    out[0] = lead, out[1] = '#';
    size_t n = 2 + dy_num_text(p, out + 2);
    out[n++] = '#';
    dy_pos_text(pos, out + n);
}

/* The item of a line: its key, r the packed record. */
static void line_item(sf_buf *b, const char *pk, const char *sk, const uint8_t *data, size_t len)
{
    sf_buf_reset(b);
    dy_put_key(b, pk, sk);
    sf_buf_add(b, ",", 1);
    dy_put_b(b, "r", data, len);
}

int sf_dynamo_apply(sf_store *st, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    int rc = begin(d, err);
    if (rc == 0)
        rc = fence(d, p, b->count ? sf_stream_batch_start(b) : NULL, err);
    sf_buf item = SF_BUF_INIT;
    char pk[DY_KEY_MAX], sk[DY_KEY_MAX];
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        const sf_stream_entry *e = &b->entries[i];
        sf_record r;
        if ((rc = sf_stream_entry_record(e, p, &r, err)) < 0)
            break;
        u_invoice *v = unit_invoice(d->unit, p, &r);
        if (!v || add_line(d->unit, v, p, &e->pos, &r) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        dy_invoice_pk(r.invoice_no, r.invoice_no_len, pk);
        dy_line_sk(p, &e->pos, 'L', sk);
        line_item(&item, pk, sk, e->data, e->len);
        rc = dy_writes_put(d->unit->writes, pk, sk, &item, err);
    }
    sf_buf_free(&item);
    if (rc == 0) {
        d->unit->parts[p].in_unit = true;
        d->unit->parts[p].next = b->next;
        rc = dy_writes_pump(d->unit->writes, err);
    }
    return dy_ended(d, rc);
}

void dy_quarantine_sk(uint32_t p, const sf_pos *pos, char out[DY_KEY_MAX])
{
    char pt[DY_POS_TEXT_MAX], ot[DY_POS_TEXT_MAX];
    dy_num_text(p, pt);
    dy_pos_text(pos, ot);
    snprintf(out, DY_KEY_MAX, "%s#%s", pt, ot);
}

int sf_dynamo_set_aside(sf_store *st, uint32_t p, const sf_stream_entry *e, const char *reason,
                        const char *at, const sf_pos *next, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    int rc = begin(d, err);
    if (rc == 0)
        rc = fence(d, p, &e->pos, err);
    if (rc < 0)
        return dy_ended(d, rc);
    char sk[DY_KEY_MAX], ot[DY_POS_TEXT_MAX];
    dy_quarantine_sk(p, &e->pos, sk);
    sf_buf item = SF_BUF_INIT;
    dy_put_key(&item, "Q", sk);
    sf_buf_add(&item, ",", 1);
    dy_put_n(&item, "p", p);
    sf_buf_add(&item, ",", 1);
    dy_put_s(&item, "o", ot, dy_pos_text(&e->pos, ot));
    sf_buf_add(&item, ",", 1);
    dy_put_s(&item, "at", at, SF_STORE_TIME_LEN);
    sf_buf_add(&item, ",", 1);
    dy_put_s(&item, "why", reason, strnlen(reason, UINT16_MAX));
    if (e->len) {
        sf_buf_add(&item, ",", 1);
        dy_put_b(&item, "e", e->data, e->len);
    }
    rc = dy_writes_put(d->unit->writes, "Q", sk, &item, err);
    sf_buf_free(&item);
    if (rc == 0) {
        d->unit->parts[p].in_unit = true;
        d->unit->parts[p].next = *next;
        rc = dy_writes_pump(d->unit->writes, err);
    }
    return dy_ended(d, rc);
}

static int has_item(void *ctx, yajl_val item)
{
    (void)item;
    *(bool *)ctx = true;
    return 0;
}

int sf_dynamo_retry(sf_store *st, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    dynamo *d = (dynamo *)st;
    char sk[DY_KEY_MAX];
    dy_quarantine_sk(p, &e->pos, sk);
    char text[SF_POS_TEXT_MAX];
    sf_pos_format(&e->pos, text, sizeof text);
    const char *pk = "Q", *skp = sk;
    bool there = false;
    sf_record r;
    int rc = begin(d, err);
    if (rc == 0)
        rc = dy_batch_get(d, d->w, &pk, &skp, 1, has_item, &there, err);
    if (rc == 0 && !there)
        rc = sf_error_set(err, SF_ENOENT,
                          "history: partition %u position %s is not in its quarantine (retried "
                          "already?)",
                          p, text);
    if (rc == 0)
        rc = sf_stream_entry_record(e, p, &r, err);
    if (rc == 0 && e->len > SF_PACK_MAX)
        rc = sf_error_set(err, SF_EINVAL, "history: a retried record too long");
    dy_unit *u = d->unit;
    u_retry *more = rc == 0 ? realloc(u->retries, (u->nretries + 1) * sizeof *more) : NULL;
    if (rc == 0 && !more)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0) {
        u->retries = more;
        u_retry *t = &u->retries[u->nretries++];
        t->p = p, t->pos = e->pos, t->len = e->len;
        memcpy(t->data, e->data, e->len);
    }
    return dy_ended(d, rc);
}
