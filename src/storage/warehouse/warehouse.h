/*
 * warehouse.h - the analytics warehouse port (Redshift's role): a star
 * schema loaded batch by batch (docs/warehouse.md).
 *
 * Guarantees every adapter gives: load() applies a batch of one partition
 * and stores that partition's new position in the same transaction, so the
 * warehouse and its position never disagree; positions() returns them.
 *
 * Adapters: "sqlite:FILE" (or a bare path).
 */
#ifndef SF_WAREHOUSE_H
#define SF_WAREHOUSE_H

#include <stdint.h>

#include "core/error.h"
#include "stream/stream.h"

typedef struct sf_warehouse sf_warehouse;

typedef struct sf_warehouse_ops {
    const char *scheme;
    int (*open)(const char *location, sf_warehouse **out, sf_error *err);
    /* next[0..nparts): where each partition resumes (0 if never loaded). */
    int (*positions)(sf_warehouse *w, uint64_t *next, uint32_t nparts, sf_error *err);
    /* Load batch b of partition p (entries follow on from its position). */
    int (*load)(sf_warehouse *w, uint32_t p, const sf_stream_batch *b, sf_error *err);
    void (*close)(sf_warehouse *w);
} sf_warehouse_ops;

struct sf_warehouse {
    const sf_warehouse_ops *ops;
};

int sf_warehouse_open(const char *location, sf_warehouse **out, sf_error *err);
void sf_warehouse_close(sf_warehouse *w);

#endif
