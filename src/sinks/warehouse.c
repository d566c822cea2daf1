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
 *
 * Entries that are not records go to the warehouse's sink_quarantine table
 * in the open transaction, with the position past them (quarantine.h).
 * What the sink reports as committed is what the warehouse says its
 * transactions committed (the SQLite adapter commits on a thread of its
 * own, and a commit it was handed may still fail).
 */
#include <stdlib.h>

#include "core/pack.h"
#include "core/progress.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"
#include "storage/warehouse/warehouse.h"

#define COMMIT_RECORDS 65536
#define COMMIT_MS      1000

typedef struct wh_sink {
    sf_sink base;
    sf_warehouse *wh;
    uint64_t pending;  /* records loaded since the last commit */
    double first;      /* when the first of them was loaded */
    uint64_t since[2]; /* the warehouse's committed counts when the sink was made */
} wh_sink;

/* The sink's committed counts, as the warehouse knows them now. */
static void note_committed(wh_sink *s)
{
    uint64_t records, quarantined;
    sf_warehouse_committed(s->wh, &records, &quarantined);
    atomic_store(&s->base.committed, records - s->since[0]);
    atomic_store(&s->base.quarantined, quarantined - s->since[1]);
}

static int wh_resume(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err)
{
    return sf_warehouse_positions(((wh_sink *)s)->wh, next, nparts, err);
}

/* durable: return once committed (the sink is caught up or stops); else the
 * adapter may commit in the background while the next batches load. */
static int wh_commit(wh_sink *s, bool durable, sf_error *err)
{
    s->pending = 0;
    int rc = durable ? sf_warehouse_commit(s->wh, err) : sf_warehouse_commit_later(s->wh, err);
    note_committed(s);
    return rc;
}

static int wh_apply(sf_sink *base, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    wh_sink *s = (wh_sink *)base;
    if (s->pending == 0)
        s->first = sf_monotonic();
    int rc = sf_warehouse_load(s->wh, p, b, err);
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
    note_committed(s); /* what the adapter's own thread committed meanwhile */
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

static int wh_set_aside(sf_sink *base, uint32_t p, const sf_stream_entry *e, const char *reason,
                        const sf_pos *next, sf_error *err)
{
    wh_sink *s = (wh_sink *)base;
    char at[SF_QUARANTINE_TIME_LEN + 1];
    sf_quarantine_now(at);
    if (s->pending == 0)
        s->first = sf_monotonic();
    int rc = sf_warehouse_quarantine(s->wh, p, e, reason, at, next, err);
    s->pending = rc < 0 ? 0 : s->pending + 1; /* failed: the adapter rolled back */
    return rc;
}

typedef struct lister {
    int (*fn)(void *ctx, const sf_quarantined *q);
    void *ctx;
} lister;

static int list_one(void *ctx, uint32_t p, const sf_pos *pos, const char *reason, const char *at,
                    const uint8_t *data, size_t len)
{
    lister *l = ctx;
    sf_quarantined q = {p, *pos, reason, at, data, len};
    return l->fn(l->ctx, &q);
}

static int wh_quarantined(sf_sink *base, int (*fn)(void *ctx, const sf_quarantined *q), void *ctx,
                          sf_error *err)
{
    wh_sink *s = (wh_sink *)base;
    lister l = {fn, ctx};
    return sf_warehouse_quarantined(s->wh, list_one, &l, err);
}

/* The retried record, packed as the entry it stands for, in a transaction
 * of its own (committed here, durably). */
static int wh_retry(sf_sink *base, uint32_t p, const sf_pos *pos, const sf_record *r, sf_error *err)
{
    wh_sink *s = (wh_sink *)base;
    uint8_t packed[SF_PACK_MAX];
    int len = sf_record_pack(r, packed, sizeof packed);
    sf_stream_entry e = {*pos, packed, (uint32_t)len};
    int rc = sf_warehouse_retry(s->wh, p, &e, err);
    return rc < 0 ? rc : wh_commit(s, true, err);
}

static const sf_sink_ops warehouse_ops = {
    .name = "warehouse",
    .resume = wh_resume,
    .apply = wh_apply,
    .flush = wh_flush,
    .close = wh_close_sink,
    .quarantine = wh_set_aside,
    .quarantined = wh_quarantined,
    .retry = wh_retry,
};

int sf_warehouse_sink_new(sf_warehouse *wh, sf_sink **out, sf_error *err)
{
    wh_sink *s = calloc(1, sizeof *s);
    if (!s)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    s->base.ops = &warehouse_ops;
    s->wh = wh;
    sf_warehouse_committed(wh, &s->since[0], &s->since[1]);
    *out = &s->base;
    return 0;
}
