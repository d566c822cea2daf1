/*
 * lmdb_int.h - (internal) what the files of the "lmdb" history store share:
 * lmdb.c (the environment, its transactions and ordered keys: a small
 * key-value layer over LMDB), writer.c (the unit of work: apply, set aside,
 * retry, commit) and reader.c (invoices, customers' pages), over the keys
 * of history_keys.h.
 *
 * The port's unit of work is one LMDB write transaction (w), begun by the
 * first write after a commit; readers take read transactions of their own
 * (pooled), so they see committed units only, whole.
 */
#ifndef SF_STORE_LMDB_INT_H
#define SF_STORE_LMDB_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "storage/store/store_adapter.h"

/* Reset read transactions kept for reuse, at most this many (each holds a
 * reader slot of LMDB's 126, but no snapshot: old pages are not pinned). */
#define SF_LMDB_READ_POOL_MAX 16

typedef struct lmdb_store lmdb_store;

typedef struct lm_txn {
    lmdb_store *s;
    MDB_txn *txn;
    bool write;
} lm_txn;

struct lmdb_store {
    sf_store base;
    MDB_env *env;
    MDB_dbi dbi;
    void *map; /* where the data file is mapped (writers: see drop_map); NULL if unknown */
    size_t map_len;
    pthread_mutex_t pool_mu;
    lm_txn *pool[SF_LMDB_READ_POOL_MAX]; /* reset read transactions, ready to renew */
    unsigned pooled;
    lm_txn *w; /* the writer's open unit of work, or NULL */
};

/* A transaction: write (one at a time, across processes) or read. End it
 * with sf_lmdb_commit or sf_lmdb_abort. */
int sf_lmdb_begin(lmdb_store *s, bool write, lm_txn **out, sf_error *err);
int sf_lmdb_put(lm_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                sf_error *err);
/* *val points into the map, valid until the transaction ends. SF_ENOENT
 * (no message) when absent. */
int sf_lmdb_get(lm_txn *t, const void *key, size_t klen, const void **val, size_t *vlen,
                sf_error *err);
/* Remove key. SF_ENOENT (no message) when absent. */
int sf_lmdb_del(lm_txn *t, const void *key, size_t klen, sf_error *err);

/* fn for each key >= from (flen 0: from the prefix) that starts with
 * prefix, in order, until fn returns nonzero. */
typedef int (*sf_lmdb_scan_fn)(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen);
int sf_lmdb_scan(lm_txn *t, const void *prefix, size_t plen, const void *from, size_t flen,
                 sf_lmdb_scan_fn fn, void *ctx, sf_error *err);
/* The same, newest first: each key that starts with prefix and sorts before
 * `before` (every such key when blen is 0), in descending order. */
int sf_lmdb_scan_back(lm_txn *t, const void *prefix, size_t plen, const void *before, size_t blen,
                      sf_lmdb_scan_fn fn, void *ctx, sf_error *err);

/* End a transaction: committed (durable when it returns 0), or dropped. */
int sf_lmdb_commit(lm_txn *t, sf_error *err);
void sf_lmdb_abort(lm_txn *t);

/* The port's operations (writer.c, reader.c). */
int sf_lmdb_positions(sf_store *s, sf_pos *next, uint32_t nparts, sf_error *err);
int sf_lmdb_apply(sf_store *s, uint32_t p, const sf_stream_batch *b, sf_error *err);
int sf_lmdb_set_aside(sf_store *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                      const char *at, const sf_pos *next, sf_error *err);
int sf_lmdb_retry(sf_store *s, uint32_t p, const sf_stream_entry *e, sf_error *err);
int sf_lmdb_commit_unit(sf_store *s, sf_error *err);
void sf_lmdb_rollback(sf_store *s);
int sf_lmdb_quarantined(sf_store *s, sf_store_quarantined_fn fn, void *ctx, sf_error *err);
int sf_lmdb_invoice(sf_store *s, const char *invoice_no, size_t len, sf_store_header_fn on_header,
                    sf_store_line_fn on_line, void *ctx, sf_error *err);
int sf_lmdb_customer_invoices(sf_store *s, const sf_store_page *q, sf_store_listed_fn fn, void *ctx,
                              bool *more, sf_error *err);
int sf_lmdb_each_invoice(sf_store *s, sf_store_header_fn on_header, sf_store_line_fn on_line,
                         void *ctx, sf_error *err);

#endif
