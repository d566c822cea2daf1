/*
 * dedup.h - the window of event ids already appended to a stream: the
 * gateway's, and batch import's for ids of other forms.
 *
 * It is beside the stream port because it is made from the stream alone
 * (core and stream.h) and both the gateway and the importer
 * (sinks/import.h) use it; the importer may not include the gateway, a
 * layer above it.
 *
 * A client may send an "event_id" with each record; a record whose event id
 * was appended before, within the window, is acknowledged as a duplicate
 * and not appended again, so retrying a request never duplicates data.
 *
 * What the window holds: a window of W ids over a stream of P partitions
 * remembers, for each partition, the event ids among its last ceil(W / P)
 * records (records without an id take their places too). At least those:
 * an id leaves when ceil(W / P) ids were committed after it in its
 * partition, or, where positions are 64-bit offsets (local, Kafka), when
 * an id committed later is ceil(W / P) offsets past it, so records without
 * ids push it out only when the next id comes. (Where positions are wide
 * and sparse, Kinesis, only the count of ids applies.) It is per partition
 * because that is what can be rebuilt from the log: on start each
 * partition is read from sf_stream_tail_start(ceil(W / P)), so a restart
 * or a crash keeps every id the window promised, whatever the mix of
 * partitions the ids came in.
 *
 * The window is not a second store that could disagree with the log: the
 * log is read again to make it. Batch import does not rely on it for the
 * ids it makes (sinks/ledger.h records every file's rows); it still checks
 * records that carry an id of their own of another form here, and `import --from-archive`
 * uses an unbounded window (W = 0: every id of the log).
 *
 * An id is reserved while its append is in flight; another request with the
 * same id meanwhile is told to retry (it cannot be called a duplicate before
 * the first append is known to be durable, nor appended beside it).
 * Event ids are held as 128-bit XXH3 hashes (see core/hashset.h on why that
 * is exact in practice).
 */
#ifndef SF_DEDUP_H
#define SF_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "stream/stream.h"

typedef struct sf_dedup sf_dedup;

typedef enum sf_dedup_state {
    SF_DEDUP_NEW = 0,       /* now reserved by the caller */
    SF_DEDUP_SEEN = 1,      /* appended before: a duplicate */
    SF_DEDUP_IN_FLIGHT = 2, /* another append holds it: retry later */
} sf_dedup_state;

/* A window of `window` ids in all over `partitions` partitions (>= 1):
 * ceil(window / partitions) records of each. window 0: every id, without
 * bound. Free with sf_dedup_free. */
int sf_dedup_new(size_t window, uint32_t partitions, sf_dedup **out, sf_error *err);

/* Fill the window from the tail of each partition of s (all of it when
 * unbounded). */
int sf_dedup_load(sf_dedup *d, sf_stream *s, sf_error *err);

/* The same, leaving out the ids skip says yes to (an importer's window
 * need not hold the ids its ledger knows). */
int sf_dedup_load_except(sf_dedup *d, sf_stream *s, bool (*skip)(const char *id, size_t len),
                         sf_error *err);

/* Look up an id and reserve it when new. Thread-safe. */
sf_dedup_state sf_dedup_reserve(sf_dedup *d, const char *id, size_t len);

/* The reserved id was appended at position pos of partition: it enters the
 * window, and the ids of that partition now out of it leave. */
void sf_dedup_commit(sf_dedup *d, uint32_t partition, const sf_pos *pos, const char *id,
                     size_t len);

/* The reserved id was not appended: forget it. */
void sf_dedup_release(sf_dedup *d, const char *id, size_t len);

/* Distinct ids in the window (committed). */
size_t sf_dedup_count(sf_dedup *d);

/* Records of each partition the window covers (0: unbounded). */
size_t sf_dedup_per_partition(const sf_dedup *d);

void sf_dedup_free(sf_dedup *d);

#endif
