/*
 * history.c - the history sink: each invoice with its lines, and each
 * customer's invoices by date (the seed's DynamoDB tables), through the
 * history store port (storage/store/store.h), which lays them out and keeps
 * them exactly once with the partitions' positions.
 *
 * What is the sink's here is when to commit: batches go into the store's
 * open unit of work, committed when the sink is caught up (flush all), or
 * when the unit holds 65,536 records or is a second old: a few commits for
 * a whole load, and readers see new invoices within a second. And what to
 * count: records and entries set aside count as committed when their unit
 * commits, never for one rolled back.
 */
#include <stdlib.h>
#include <string.h>

#include "core/pack.h"
#include "core/progress.h"
#include "sinks/history.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"

_Static_assert(SF_STORE_TIME_LEN == SF_QUARANTINE_TIME_LEN,
               "the quarantine's time is kept by the history store");

typedef struct history {
    sf_sink base;
    sf_store *store;
    bool open;          /* a unit of work is open in the store */
    uint64_t pending;   /* entries read into it (records and entries set aside) */
    uint64_t records;   /* records applied in it: counted as committed with it */
    uint64_t set_aside; /* entries set aside in it */
    double began;       /* when it began */
} history;

/* A flush that is not of everything commits when the unit of work holds
 * this many records or is this old (the warehouse sink's figures too). */
#define COMMIT_RECORDS 65536
#define COMMIT_AGE_S   1.0

/* End the open unit of work: committed (its effects and positions durable
 * together), or rolled back. */
static int end_unit(history *hs, bool commit, sf_error *err)
{
    if (!hs->open)
        return 0;
    uint64_t records = hs->records, set_aside = hs->set_aside;
    hs->open = false;
    hs->pending = hs->records = hs->set_aside = 0;
    if (!commit) {
        sf_store_rollback(hs->store);
        return 0;
    }
    int rc = sf_store_commit(hs->store, err);
    if (rc == 0) {
        atomic_fetch_add(&hs->base.committed, records);
        atomic_fetch_add(&hs->base.quarantined, set_aside);
    }
    return rc;
}

/* Note that a write went into the unit of work (rc 0), or that the store
 * rolled it back (rc < 0). */
static int wrote(history *hs, int rc, uint64_t records, uint64_t set_aside)
{
    if (rc < 0) {
        hs->open = false;
        hs->pending = hs->records = hs->set_aside = 0;
        return rc;
    }
    if (!hs->open)
        hs->began = sf_monotonic();
    hs->open = true;
    hs->pending += records + set_aside;
    hs->records += records;
    hs->set_aside += set_aside;
    return 0;
}

static int history_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    history *hs = (history *)s;
    return wrote(hs, sf_store_apply(hs->store, p, b, err), b->count, 0);
}

static int history_resume(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err)
{
    history *hs = (history *)s;
    end_unit(hs, false, err); /* a failed run's batches are read again */
    return sf_store_positions(hs->store, next, nparts, err);
}

/* Commit when caught up (all), or when the unit of work is big or old
 * enough: a few commits (each rewrites the pages it touched and syncs
 * twice) for a whole load, and readers see new invoices within a second. */
static int history_flush(sf_sink *s, bool all, sf_error *err)
{
    history *hs = (history *)s;
    bool due =
        all ||
        (hs->open && (hs->pending >= COMMIT_RECORDS || sf_monotonic() - hs->began >= COMMIT_AGE_S));
    return due ? end_unit(hs, true, err) : 0;
}

static void history_close(sf_sink *s)
{
    sf_error err = {0};
    end_unit((history *)s, false, &err); /* not flushed: read again next time */
    free(s);
}

/* ---- the quarantine: the store's dead-letter area ---- */

static int history_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                              const sf_pos *next, sf_error *err)
{
    history *hs = (history *)s;
    char at[SF_QUARANTINE_TIME_LEN + 1];
    sf_quarantine_now(at);
    return wrote(hs, sf_store_set_aside(hs->store, p, e, reason, at, next, err), 0, 1);
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

static int history_quarantined(sf_sink *s, int (*fn)(void *ctx, const sf_quarantined *q), void *ctx,
                               sf_error *err)
{
    lister l = {fn, ctx};
    return sf_store_quarantined(((history *)s)->store, list_one, &l, err);
}

/* The retried record, packed as the entry it stands for, in a unit of work
 * of its own (committed here, durably). */
static int history_retry(sf_sink *s, uint32_t p, const sf_pos *pos, const sf_record *r,
                         sf_error *err)
{
    history *hs = (history *)s;
    if (hs->open)
        return sf_error_set(err, SF_EBUSY, "history: a retry while batches are being applied");
    uint8_t packed[SF_PACK_MAX];
    int len = sf_record_pack(r, packed, sizeof packed);
    sf_stream_entry e = {*pos, packed, (uint32_t)len};
    int rc = wrote(hs, sf_store_retry(hs->store, p, &e, err), 0, 0);
    return rc < 0 ? rc : end_unit(hs, true, err);
}

static const sf_sink_ops history_ops = {
    .name = "history",
    .resume = history_resume,
    .apply = history_apply,
    .flush = history_flush,
    .close = history_close,
    .quarantine = history_quarantine,
    .quarantined = history_quarantined,
    .retry = history_retry,
};

int sf_history_sink_new(sf_store *store, sf_sink **out, sf_error *err)
{
    history *h = calloc(1, sizeof *h);
    if (!h)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    h->base.ops = &history_ops;
    h->store = store;
    *out = &h->base;
    return 0;
}
