/*
 * store.h - the key-value store port (DynamoDB's role): ordered keys,
 * transactions, prefix scans.
 *
 * Guarantees every adapter gives: a transaction's puts become visible and
 * durable together at commit, or not at all; reads inside a write
 * transaction see its own puts; keys are byte strings ordered bytewise.
 *
 * Adapters: "lmdb:DIR" (or a bare path).
 */
#ifndef SF_STORE_H
#define SF_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct sf_store sf_store;
typedef struct sf_store_txn sf_store_txn;

typedef struct sf_store_ops {
    const char *scheme;
    int (*open)(const char *location, bool read_only, sf_store **out, sf_error *err);
    int (*begin)(sf_store *s, bool write, sf_store_txn **out, sf_error *err);
    int (*put)(sf_store_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
               sf_error *err);
    /* *val points into the store, valid until the transaction ends.
     * SF_ENOENT when absent. */
    int (*get)(sf_store_txn *t, const void *key, size_t klen, const void **val, size_t *vlen,
               sf_error *err);
    /* Calls fn for each key >= from that starts with prefix, in order, until
     * fn returns nonzero. */
    int (*scan)(sf_store_txn *t, const void *prefix, size_t plen, const void *from, size_t flen,
                int (*fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen),
                void *ctx, sf_error *err);
    /* The same, newest first: each key that starts with prefix and sorts
     * before `before` (every such key when blen is 0), in descending order. */
    int (*scan_back)(sf_store_txn *t, const void *prefix, size_t plen, const void *before,
                     size_t blen,
                     int (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen),
                     void *ctx, sf_error *err);
    /* Remove key (in a write transaction). SF_ENOENT when absent. */
    int (*del)(sf_store_txn *t, const void *key, size_t klen, sf_error *err);
    int (*commit)(sf_store_txn *t, sf_error *err); /* ends the transaction */
    void (*abort)(sf_store_txn *t);                /* ends the transaction */
    void (*close)(sf_store *s);
} sf_store_ops;

struct sf_store {
    const sf_store_ops *ops;
};

/* Open the store at location. read_only makes nothing there: SF_ENOENT when
 * there is no store yet (for those who only look, such as status). */
int sf_store_open(const char *location, bool read_only, sf_store **out, sf_error *err);
void sf_store_close(sf_store *s);

#endif
