/*
 * warehouse.c - the warehouse sink: the stream into the analytics warehouse
 * (storage/warehouse/warehouse.h).
 *
 * Batches are loaded into one open transaction, committed (with the
 * partitions' positions) every COMMIT_RECORDS records, at least every
 * COMMIT_MS while the stream keeps coming, and whenever the sink is caught
 * up. Larger transactions are what make the warehouse fast: the rollups of a
 * transaction are written once per key, and a durable commit costs an fsync.
 * A crash loses at most the open transaction, whose records the sink reads
 * again from the log on restart (its positions were not committed either).
 */
#include <stdlib.h>

#include "core/progress.h"
#include "sinks/sink.h"
#include "storage/warehouse/warehouse.h"

#define COMMIT_RECORDS 65536
#define COMMIT_MS      1000

typedef struct wh_sink {
    sf_sink base;
    sf_warehouse *wh;
    uint64_t pending; /* records loaded since the last commit */
    double first;     /* when the first of them was loaded */
} wh_sink;

static int wh_resume(sf_sink *s, uint64_t *next, uint32_t nparts, sf_error *err)
{
    sf_warehouse *w = ((wh_sink *)s)->wh;
    return w->ops->positions(w, next, nparts, err);
}

/* durable: return once committed (the sink is caught up or stops); else the
 * adapter may commit in the background while the next batches load. */
static int wh_commit(wh_sink *s, bool durable, sf_error *err)
{
    const sf_warehouse_ops *ops = s->wh->ops;
    s->pending = 0;
    if (!durable && ops->commit_later)
        return ops->commit_later(s->wh, err);
    return ops->commit(s->wh, err);
}

static int wh_apply(sf_sink *base, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    wh_sink *s = (wh_sink *)base;
    if (s->pending == 0)
        s->first = sf_monotonic();
    int rc = s->wh->ops->load(s->wh, p, b, err);
    if (rc < 0) {
        s->pending = 0; /* the adapter rolled the transaction back */
        return rc;
    }
    s->pending += b->count;
    return s->pending >= COMMIT_RECORDS ? wh_commit(s, false, err) : 0;
}

static int wh_flush(sf_sink *base, bool all, sf_error *err)
{
    wh_sink *s = (wh_sink *)base;
    if (all)
        return wh_commit(s, true, err); /* also waits for earlier commits */
    if (s->pending > 0 && (sf_monotonic() - s->first) * 1000 >= COMMIT_MS)
        return wh_commit(s, false, err);
    return 0;
}

static void wh_close_sink(sf_sink *s)
{
    free(s);
}

static const sf_sink_ops warehouse_ops = {
    .name = "warehouse",
    .resume = wh_resume,
    .apply = wh_apply,
    .flush = wh_flush,
    .close = wh_close_sink,
};

int sf_warehouse_sink_new(sf_warehouse *wh, sf_sink **out, sf_error *err)
{
    wh_sink *s = calloc(1, sizeof *s);
    if (!s)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    s->base.ops = &warehouse_ops;
    s->wh = wh;
    *out = &s->base;
    return 0;
}
