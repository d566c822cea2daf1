/*
 * ledger_internal.h - (internal) the ledger's state, shared by ledger.c
 * (memory, file format) and ledger_log.c (the log, the file's lock).
 */
#ifndef SF_LEDGER_INTERNAL_H
#define SF_LEDGER_INTERNAL_H

#include <pthread.h>
#include <xxhash.h>

#include "core/aggmap.h"
#include "sinks/ledger.h"

typedef struct sf_range {
    uint64_t first, last; /* inclusive */
} sf_range;

/* Sorted, disjoint, not adjacent (adjacent ranges are merged). */
typedef struct sf_rangeset {
    sf_range *r;
    size_t n, cap;
} sf_rangeset;

/* The value of a key in the map. */
typedef struct sf_ledger_rows {
    sf_rangeset held;     /* in the log (settled) */
    sf_rangeset reserved; /* reserved by an import under way */
} sf_ledger_rows;

/* What the appends of an import under way have made durable, per
 * partition (from the stream's callbacks). */
typedef struct sf_ledger_landing {
    uint64_t count, min, max; /* records, lowest and highest offset */
    bool wide;                /* some had a position wider than an offset (never exact) */
    uint64_t print;           /* sf_ledger_print of the record at max */
    const uint8_t *newest;    /* during sf_ledger_landed: a new max's bytes */
    uint32_t newest_len;
} sf_ledger_landing;

struct sf_ledger {
    sf_aggmap map; /* sf_ledger_key -> sf_ledger_rows */
    uint32_t partitions;
    sf_pos *end;     /* per partition: the log has been read up to here */
    uint64_t *print; /* XXH3-64 of the entry at end - 1 (0 when end is 0 or none is there) */
    char *location;
    uint64_t reserved_rows; /* rows sf_ledger_reserve reserved since the last settle */
    pthread_mutex_t mu;     /* the landing state below */
    sf_ledger_landing *landing;
    uint64_t landed_reserved; /* reserved rows among the landed records */
    bool landed_beyond;       /* records landed in partitions the ledger does not have yet
                                 (a stream that grew: a Kinesis reshard): never exact */
    int lock_fd;              /* ledger_log.c: the lock on path.lock; -1 */
    char *path;               /* its file (NULL: in memory only) */
    bool dirty;               /* differs from its file */
};

/* The fingerprint of a stored entry (never 0: 0 means "no entry"). */
static inline uint64_t sf_ledger_print(const uint8_t *data, size_t len)
{
    uint64_t h = XXH3_64bits(data, len);
    return h ? h : 1;
}

int sf_rangeset_add(sf_rangeset *s, uint64_t first, uint64_t last);
uint64_t sf_rangeset_count(const sf_rangeset *s, uint64_t first, uint64_t last);

/* The reserved rows of every key become held (landed: true), or are
 * forgotten (false); the landing state starts again. */
int sf_ledger_settle_reserved(sf_ledger *l, bool landed);

/* The stream has `partitions` partitions now, more than l had (a Kinesis
 * reshard adds its children; a Kafka topic may be given more): the new
 * ones are read from their start. 0, or SF_ENOMEM. */
int sf_ledger_grow(sf_ledger *l, uint32_t partitions);

#endif
