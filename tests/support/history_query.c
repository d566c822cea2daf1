/*
 * history_query.c - test support: what the history store holds.
 *
 *   sf_test_history STORE_DIR INVOICE CUSTOMER
 *
 * Prints one line: invoices=N lines=N invoice_lines=N invoice_total=MILLI
 * customer_invoices=N digest=HEX (the invoice's lines and total, the
 * customer's invoices, and a hash of every key and value but the stored
 * positions), read through the store port, for tests to compare with an
 * independent computation and with another run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "storage/store/history_keys.h"
#include "storage/store/store.h"

static int count(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    (*(unsigned long long *)ctx)++;
    return 0;
}

static int digest(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (klen && *(const uint8_t *)key == SF_HISTORY_KEY_POSITION)
        return 0; /* positions depend on batch sizes, not on content */
    XXH64_update(ctx, &klen, sizeof klen);
    XXH64_update(ctx, key, klen);
    XXH64_update(ctx, &vlen, sizeof vlen);
    XXH64_update(ctx, val, vlen);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sf_test_history STORE_DIR INVOICE CUSTOMER\n");
        return 2;
    }
    sf_store *s;
    sf_store_txn *t;
    sf_error err = {0};
    if (sf_store_open(argv[1], true, &s, &err) < 0 || s->ops->begin(s, false, &t, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    unsigned long long invoices = 0, lines = 0, customer = 0;
    const uint8_t ikey = SF_HISTORY_KEY_INVOICE, lkey = SF_HISTORY_KEY_LINE;
    s->ops->scan(t, &ikey, 1, NULL, 0, count, &invoices, &err);
    s->ops->scan(t, &lkey, 1, NULL, 0, count, &lines, &err);
    uint8_t key[64];
    size_t klen = sf_history_customer_prefix(atoi(argv[3]), key);
    s->ops->scan(t, key, klen, NULL, 0, count, &customer, &err);
    klen = sf_history_invoice_key(argv[2], strlen(argv[2]), key);
    const void *v;
    size_t vlen;
    sf_invoice_header h = {0};
    if (s->ops->get(t, key, klen, &v, &vlen, &err) == 0)
        sf_history_decode_header(v, vlen, &h, &err);
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    s->ops->scan(t, "", 0, NULL, 0, digest, st, &err);
    char total[SF_MONEY_TEXT_MAX];
    sf_format_i128(h.total, total);
    printf("invoices=%llu lines=%llu invoice_lines=%u invoice_total=%s customer_invoices=%llu "
           "digest=%016llx\n",
           invoices, lines, h.lines, total, customer, (unsigned long long)XXH64_digest(st));
    XXH64_freeState(st);
    s->ops->abort(t);
    sf_store_close(s);
    return 0;
}
