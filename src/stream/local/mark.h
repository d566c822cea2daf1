/*
 * mark.h - the local log's acknowledged mark (src/stream/local only): DIR/ends,
 * each partition's durable end offset, u64 LE, mmap'd by every opener.
 *
 * The commit thread stores a partition's end in the mapping after each
 * fdatasync (log.c, publish); readers in other processes load it so they
 * never read an unsynced record. The file is also the witness recovery
 * compares with (local.h): what a writer acknowledged. For that it must
 * reach the disk, but never on the commit path (one fdatasync per round is
 * the single-record POST rate): a thread of its own msyncs the mapping at
 * most once a second when it changed, and close does once more. Hence the
 * invariant in local.h: the mark never exceeds what was fsync'd, is exact
 * after a process kill (the page cache keeps the stores), and lags by
 * about a second at most after a power loss.
 *
 * Ownership: sf_mark_open returns a handle that sf_mark_close frees (it
 * stops the thread, syncs once more for a writer and unmaps).
 */
#ifndef SF_STREAM_MARK_H
#define SF_STREAM_MARK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* How often the syncing thread looks for a changed mark. */
#define MARK_SYNC_MS 1000

typedef struct sf_mark sf_mark;

/*
 * Map DIR/ends for n partitions. A writer creates and sizes it; a reader
 * maps it when it is there (*out NULL when not: no writer ever ran). Before
 * anyone stores into it, acked[0..n) gets what it held (0 where it held
 * nothing, or a value too large to be an offset, which is logged), and
 * *existed whether it was there: the marks to compare recovery with.
 */
int sf_mark_open(const char *dir, uint32_t n, bool read_only, sf_mark **out, uint64_t *acked,
                 bool *existed, sf_error *err);

/* The mapping: ends[p] is partition p's durable end. */
uint64_t *sf_mark_ends(sf_mark *m);

/* A writer: start the thread that makes the mark durable. */
int sf_mark_start(sf_mark *m, sf_error *err);

/* Stop the thread, msync once more (a writer), unmap, free. NULL is fine. */
void sf_mark_close(sf_mark *m);

#endif
