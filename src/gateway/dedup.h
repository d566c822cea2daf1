/*
 * dedup.h - the gateway's window of event ids already appended.
 *
 * A client may send an "event_id" with each record; a record whose event id
 * was appended before, within the window, is acknowledged as a duplicate
 * and not appended again, so retrying a request never duplicates data.
 *
 * The window is not a second store that could disagree with the log: it is
 * rebuilt from the log itself on start (the last window/P records of each
 * of the P partitions), so it survives restarts and crashes exactly.
 *
 * An id is reserved while its append is in flight; another request with the
 * same id meanwhile is told to retry (it cannot be called a duplicate before
 * the first append is known to be durable, nor appended beside it).
 * Event ids are held as 128-bit XXH3 hashes (see core/hashset.h on why that
 * is exact in practice).
 */
#ifndef SF_DEDUP_H
#define SF_DEDUP_H

#include <stddef.h>

#include "core/error.h"
#include "stream/stream.h"

typedef struct sf_dedup sf_dedup;

typedef enum sf_dedup_state {
    SF_DEDUP_NEW = 0,       /* now reserved by the caller */
    SF_DEDUP_SEEN = 1,      /* appended before: a duplicate */
    SF_DEDUP_IN_FLIGHT = 2, /* another append holds it: retry later */
} sf_dedup_state;

/* A window of `window` ids (>= 1). Free with sf_dedup_free. */
int sf_dedup_new(size_t window, sf_dedup **out, sf_error *err);

/* Fill the window from the tail of each partition of s. */
int sf_dedup_load(sf_dedup *d, sf_stream *s, sf_error *err);

/* Look up an id and reserve it when new. Thread-safe. */
sf_dedup_state sf_dedup_reserve(sf_dedup *d, const char *id, size_t len);

/* The reserved id was appended: it enters the window (evicting the oldest). */
void sf_dedup_commit(sf_dedup *d, const char *id, size_t len);

/* The reserved id was not appended: forget it. */
void sf_dedup_release(sf_dedup *d, const char *id, size_t len);

/* Ids in the window (committed). */
size_t sf_dedup_count(sf_dedup *d);

void sf_dedup_free(sf_dedup *d);

#endif
