/*
 * batch.h - what a read of the stream fills: a reusable batch of entries
 * (packed records, core/pack.h) of one partition, each with its position
 * (core/pos.h), with the position to read from next and the hole the read
 * skipped.
 *
 * It is in core, not in the stream port, because the layers beside the
 * stream take batches too: the sinks read them from the stream and hand
 * them to the storage adapters (storage/warehouse loads a batch), and
 * storage may not include the stream. Only the type, its buffers and the
 * unpacking of an entry are here; reading is the port's (stream/stream.h).
 */
#ifndef SF_BATCH_H
#define SF_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/pos.h"
#include "core/record.h"

/* One record read back: its position in the partition (core/pos.h; the
 * local log's and Kafka's offset). data points into the batch's buffer. */
typedef struct sf_stream_entry {
    sf_pos pos;
    const uint8_t *data; /* packed record (core/pack.h) */
    uint32_t len;
} sf_stream_entry;

/* The largest stored entry (framing + packed record); a batch buffer is
 * never smaller. (On a shared Kafka topic another producer's message may be
 * larger: it is read whole if the batch holds it, and is not a record.) */
#define SF_STREAM_ENTRY_MAX 1024

#define SF_STREAM_HOLE_REASON_MAX 200

/* Positions [from, to) lost for good (stream/local/local.h): no record will
 * ever be there. from == to: none. */
typedef struct sf_stream_hole {
    sf_pos from, to;
    int64_t marked_at; /* when `log repair` recorded it (Unix seconds) */
    char reason[SF_STREAM_HOLE_REASON_MAX + 1];
} sf_stream_hole;

/* A reusable read buffer: owned by the caller, filled by sf_stream_read. */
typedef struct sf_stream_batch {
    uint8_t *buf;
    size_t buf_cap;
    sf_stream_entry *entries;
    size_t cap;          /* entries that fit */
    size_t count;        /* entries filled by the last read */
    sf_pos next;         /* where the next read starts, set by the adapter: past
                            the last entry, or past a hole or gap (never computed
                            by the reader as a +1) */
    sf_stream_hole hole; /* the hole the last read skipped (then count is 0) */
    sf_pos from;         /* where the last read started (set by sf_stream_read): the
                            first entry is here, or past it where positions skip
                            (Kinesis's sequence numbers always do) */
} sf_stream_batch;

/* The position a batch of entries follows on from, for a fence that checks
 * a batch starts at a stored position: its `from` when a read set it (not
 * 0, not past the first entry), else its first entry's own (a batch built
 * by hand, or the first read of a partition). count must be > 0. */
static inline const sf_pos *sf_stream_batch_start(const sf_stream_batch *b)
{
    if (!sf_pos_is_zero(&b->from) && sf_pos_cmp(&b->from, &b->entries[0].pos) <= 0)
        return &b->from;
    return &b->entries[0].pos;
}

/* Allocate a batch for up to max_entries entries and buf_bytes of data.
 * Free with sf_stream_batch_free. */
int sf_stream_batch_init(sf_stream_batch *b, size_t max_entries, size_t buf_bytes, sf_error *err);
void sf_stream_batch_free(sf_stream_batch *b);

/* Unpack the record of entry e (read from partition p) into *r. Returns 0,
 * or SF_ECORRUPT naming the partition and position. */
int sf_stream_entry_record(const sf_stream_entry *e, uint32_t p, sf_record *r, sf_error *err);

#endif
