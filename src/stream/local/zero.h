/*
 * zero.h - the local log's zero-filler (src/stream/local only): a thread
 * that keeps each partition's active segment zero-filled and synced ahead of
 * its entries, so that the commit thread never writes the zeros itself.
 *
 * Why a thread of its own: an fdatasync after a write into space already
 * written and synced need not write the inode, and is several times cheaper
 * (local.h); but writing the zeros (2 MiB + fdatasync, 3-17 ms here) on the
 * commit thread held back every append queued behind it. This thread writes
 * them in chunks of ZERO_CHUNK, each pushed to the disk at once with
 * sync_file_range (so a commit's fdatasync of the same file finds at most
 * one chunk of zeros dirty), through a file descriptor of its own (so that
 * its syncs never consume a write-back error that the commit thread's
 * fdatasync must see: each open file has its own error cursor).
 *
 * The one rule that keeps data safe: zeros are never written where the
 * commit thread has written, or is writing, entries. The commit thread
 * announces how far each write reaches (sf_zero_claim) before issuing it;
 * the zeroer starts every chunk above that, and a write that would reach
 * into a chunk being written waits for that chunk. Everything that changes
 * a partition's segments or cuts its file (roll, retention, the rollback of
 * a failed round, close) runs between sf_zero_hold and sf_zero_release,
 * while no chunk is in flight.
 *
 * Ownership: sf_zero_start borrows the partitions (they outlive it);
 * sf_zero_stop joins the thread and frees it.
 */
#ifndef SF_STREAM_ZERO_H
#define SF_STREAM_ZERO_H

#include <stdint.h>

#include "core/error.h"
#include "stream/local/local.h"

/* Bytes written (and pushed to the disk) per chunk of zeros. */
#define ZERO_CHUNK (256u << 10)

typedef struct sf_zero sf_zero;

/* Start the zeroer over parts[0..n) (the writer's, open); segments roll at
 * segment_bytes. 0, or SF_ENOMEM when the thread cannot start. */
int sf_zero_start(partition *parts, uint32_t n, uint64_t segment_bytes, sf_zero **out,
                  sf_error *err);

/* Commit thread, before writing p's active segment up to byte `end`: waits
 * while a chunk of zeros below end is being written in it, then keeps the
 * zeroer above end. Returns the seconds it waited (0 almost always). */
double sf_zero_claim(sf_zero *z, partition *p, uint64_t end);

/* Commit thread, after a round: entries moved on, more zeros may be due. */
void sf_zero_kick(sf_zero *z);

/* Wait until no chunk is in flight and keep the zeroer from starting one,
 * until sf_zero_release: to roll, trim or truncate segments. Release sets
 * every partition's claim back to its active segment's entries (a roll or a
 * truncation moves them back). Both on the commit thread. */
void sf_zero_hold(sf_zero *z);
void sf_zero_release(sf_zero *z);

/* Completed steps (from a target set to reached and synced) and the
 * seconds spent in them. */
void sf_zero_stats(sf_zero *z, uint64_t *steps, double *seconds);

/* Stop the thread (between chunks), close its descriptors, free z. */
void sf_zero_stop(sf_zero *z);

#endif
