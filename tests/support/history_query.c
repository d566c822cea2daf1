/*
 * history_query.c - test support: what the history store holds.
 *
 *   sf_test_history STORE INVOICE CUSTOMER
 *
 * Prints one line: invoices=N lines=N invoice_lines=N invoice_total=MILLI
 * customer_invoices=N digest=HEX (the invoice's lines and total, the
 * customer's invoices, and a hash of every invoice with its lines and of
 * every entry set aside but its time), read through the history store port
 * (store.h), so it reads any adapter, for tests to compare with an
 * independent computation and with another run. The digest does not depend
 * on the order an adapter lists invoices in, nor on positions (they depend
 * on batch sizes, not on content), nor on the lines' event ids (a log
 * rebuilt from the archive gives a record that had none the id of its
 * place, arc-P-OFFSET: the same line).
 *
 * (Before the history store port this tool scanned the LMDB keys from an
 * empty key, which LMDB refuses, so its digest was the hash of nothing for
 * every store; the digest now covers every invoice and line.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "core/pack.h"
#include "storage/store/store.h"

typedef struct tally {
    unsigned long long invoices, lines;
    uint64_t digest; /* the sum of every invoice's hash: any order */
    XXH64_state_t *one;
    bool open; /* an invoice's hash is being made */
} tally;

static void end_invoice(tally *t)
{
    if (t->open)
        t->digest += XXH64_digest(t->one);
    t->open = false;
}

static int on_header(void *ctx, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    tally *t = ctx;
    end_invoice(t);
    XXH64_reset(t->one, 0);
    t->open = true;
    t->invoices++;
    XXH64_update(t->one, &len, sizeof len);
    XXH64_update(t->one, invoice_no, len);
    XXH64_update(t->one, &h->date, sizeof h->date);
    XXH64_update(t->one, &h->total, sizeof h->total);
    XXH64_update(t->one, &h->units, sizeof h->units);
    XXH64_update(t->one, &h->customer_id, sizeof h->customer_id);
    XXH64_update(t->one, &h->lines, sizeof h->lines);
    XXH64_update(t->one, &h->kind, sizeof h->kind);
    XXH64_update(t->one, h->country, h->country_len);
    return 0;
}

static int on_line(void *ctx, const sf_record *r)
{
    tally *t = ctx;
    sf_record line = *r;
    line.event_id_len = 0; /* not part of what a line is (below) */
    memset(line.event_id, 0, sizeof line.event_id);
    uint8_t packed[SF_PACK_MAX];
    int n = sf_record_pack(&line, packed, sizeof packed);
    t->lines++;
    XXH64_update(t->one, packed, (size_t)n);
    return 0;
}

static int on_quarantined(void *ctx, uint32_t p, const sf_pos *pos, const char *reason,
                          const char *at, const uint8_t *data, size_t len)
{
    (void)at; /* when differs from run to run */
    tally *t = ctx;
    uint64_t offset = 0; /* the digest as before positions were wider: the offset's bytes */
    if (!sf_pos_u64(pos, &offset))
        offset = UINT64_MAX;
    XXH64_reset(t->one, 1);
    XXH64_update(t->one, &p, sizeof p);
    XXH64_update(t->one, &offset, sizeof offset);
    XXH64_update(t->one, reason, strlen(reason));
    XXH64_update(t->one, data, len);
    t->digest += XXH64_digest(t->one);
    return 0;
}

/* The chosen invoice's header. */
static int keep_header(void *ctx, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    (void)invoice_no, (void)len;
    *(sf_invoice_header *)ctx = *h;
    return 0;
}

static int skip_line(void *ctx, const sf_record *r)
{
    (void)ctx, (void)r;
    return 0;
}

/* Every page of the customer's invoices: count them, and keep the last
 * listed (where the next page starts). */
typedef struct pages {
    sf_store_after last;
    unsigned long long n;
} pages;

static int count_listed(void *ctx, int64_t date, const char *invoice_no, size_t len,
                        const sf_invoice_header *h)
{
    (void)h;
    pages *pg = ctx;
    pg->last = (sf_store_after){true, date, len, {0}};
    memcpy(pg->last.invoice_no, invoice_no, len);
    pg->n++;
    return 0;
}

static int customer_invoices(sf_store *s, int32_t customer, unsigned long long *n, sf_error *err)
{
    sf_store_page q = {customer, INT64_MIN, INT64_MAX, 100, {0}};
    pages pg = {{0}, 0};
    bool more = true;
    int rc = 0;
    while (rc == 0 && more) {
        rc = sf_store_customer_invoices(s, &q, count_listed, &pg, &more, err);
        q.after = pg.last;
    }
    *n = pg.n;
    return rc == SF_ENOENT ? 0 : rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sf_test_history STORE INVOICE CUSTOMER\n");
        return 2;
    }
    sf_store *s;
    sf_error err = {0};
    sf_store_opts ro = {.read_only = true};
    tally t = {0, 0, 0, XXH64_createState(), false};
    sf_invoice_header h = {0};
    unsigned long long customer = 0;
    int rc = sf_store_open(argv[1], &ro, &s, &err);
    if (rc == 0)
        rc = sf_store_each_invoice(s, on_header, on_line, &t, &err);
    end_invoice(&t);
    if (rc == 0)
        rc = sf_store_quarantined(s, on_quarantined, &t, &err);
    if (rc == 0 && (rc = sf_store_invoice(s, argv[2], strlen(argv[2]), keep_header, skip_line, &h,
                                          &err)) == SF_ENOENT)
        rc = 0;
    if (rc == 0)
        rc = customer_invoices(s, atoi(argv[3]), &customer, &err);
    XXH64_freeState(t.one);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char total[SF_MONEY_TEXT_MAX];
    sf_format_i128(h.total, total);
    printf("invoices=%llu lines=%llu invoice_lines=%u invoice_total=%s customer_invoices=%llu "
           "digest=%016llx\n",
           t.invoices, t.lines, h.lines, total, customer, (unsigned long long)t.digest);
    sf_store_close(s);
    return 0;
}
