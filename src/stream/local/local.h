/*
 * local.h - internals of the local log adapter (src/stream/local/ only).
 *
 * On disk, a log is a folder:
 *
 *   DIR/meta                 "shopflow-log 1" and the partition count (fixed at creation)
 *   DIR/LOCK                 flock'd by the one writing process; holds its pid
 *   DIR/ends                 the durable end offset of each partition (u64 LE each),
 *                            mmap'd: the writer stores after each fsync, readers in
 *                            other processes load it, so they never see an unsynced record
 *   DIR/p0000/               one folder per partition, holding its segments:
 *     00000000000000000000.seg   entries from offset 0 (the name is the base offset)
 *     00000000000000000000.idx   sparse index of that segment
 *
 * A segment is a sequence of entries, then (the active segment only) zeros:
 *   u32 length of the payload | u32 checksum | u64 offset | payload (a packed record)
 * The checksum is XXH3-64 of the payload seeded with the offset (folded to 32 bits), so
 * a torn write, a flipped bit or an entry at the wrong place all fail it. The length is
 * never 0 (a packed record is not empty), so a header of zeros is never an entry (its
 * checksum could not match either: XXH3 of nothing seeded with 0, folded, is 0x15d514c7).
 *
 * The writer keeps the active segment's file zero-filled and synced some MiB past its
 * entries (PREALLOC_AHEAD, in steps, on a thread of its own: zero.h): an fdatasync after a
 * write inside the file does not have to write the inode as one that grows it does. The
 * entries end at the first header that fails (zeros, or a torn write); recovery reports
 * as dropped only the bytes up to the last non-zero one past there, and a writer
 * truncates the file to its entries. A rolled segment and the active one at a clean
 * close are truncated to their entries, so only a crash leaves zeros behind, and only
 * in a partition's last segment.
 *
 * The index holds (offset - base, position) pairs, one per INDEX_INTERVAL bytes of
 * segment, appended after each commit without fsync: it is a hint, checked on open and
 * rebuilt from the segment when it disagrees.
 *
 * Invariants:
 *  - segments of a partition are contiguous: segs[i].next == segs[i+1].base;
 *  - only the last segment of a partition is written to;
 *  - bytes past a partition's `end` are unacknowledged and may be truncated;
 *  - `end` only grows while the log is open, and only after fdatasync;
 *  - a segment's bytes past its entries (`size`) are zeros up to `file` (written by the
 *    zeroer only, never below what the commit thread claimed: zero.h); entries are only
 *    ever written at `size`, so into zeros when file > size, past them when file < size;
 *  - every segment but a partition's last has file <= size (truncated when rolled).
 */
#ifndef SF_STREAM_LOCAL_H
#define SF_STREAM_LOCAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/error.h"
#include "stream/stream.h"

#define ENTRY_HEADER          16
#define INDEX_INTERVAL        4096
#define SEGMENT_BYTES_DEFAULT (64u << 20)
/* Zero-filled space kept past the entries of an active segment; it is
 * extended (to PREALLOC_AHEAD, never past the segment size) when less
 * than half of it is left. */
#define PREALLOC_AHEAD (4u << 20)
/* Free space a zero-fill step must leave on the file system: preallocation
 * is only a speed-up, and must never be what fills a disk that the stores,
 * the other partitions or the next append need (a small or nearly full file
 * system simply appends, as without it). */
#define PREALLOC_HEADROOM (64u << 20)

typedef struct index_point {
    uint32_t rel; /* offset - base */
    uint32_t pos; /* byte position of that entry in the segment */
} index_point;

typedef struct segment {
    uint64_t base; /* first offset */
    uint64_t next; /* offset after the last whole entry */
    uint64_t size; /* bytes of whole entries */
    uint64_t file; /* writer: [size, file) is zeros; the zeroer's (zero.h), under its lock */
    uint64_t prealloc_retry; /* zeroer: after a failed zero-fill, no other before size gets here */
    int fd;
    int idx_fd;
    index_point *idx;
    size_t idx_len, idx_cap;
    time_t mtime;
} segment;

/* What recovery found in one partition. */
typedef struct recovery_note {
    uint64_t dropped_bytes; /* torn or corrupt tail removed */
    bool index_rebuilt;
} recovery_note;

typedef struct partition {
    uint32_t id;
    char *dir;
    bool read_only;
    pthread_rwlock_t lock; /* guards segs: readers read-lock, roll/retention write-lock */
    segment *segs;
    size_t nsegs, segs_cap;
    _Atomic uint64_t end; /* durable end: readers never go past it */
    /* Commit thread only: */
    uint64_t write_next;
    uint8_t *stage;
    size_t stage_len, stage_cap;
    index_point *stage_idx;
    size_t stage_idx_len, stage_idx_cap;
} partition;

/* segment.c */
uint32_t sf_entry_checksum(uint64_t offset, const uint8_t *payload, uint32_t len);
void sf_entry_header(uint8_t *h, uint32_t len, uint32_t checksum, uint64_t offset);
int sf_segment_create(const char *dir, uint64_t base, segment *seg, sf_error *err);
int sf_segment_open(const char *dir, uint64_t base, bool read_only, segment *seg, sf_error *err);
/* Find the whole entries (seg->size, seg->next); a writer (truncate) cuts
 * the file there. note may be NULL: then the tail is not examined. */
int sf_segment_recover(segment *seg, bool truncate, recovery_note *note, sf_error *err);
/* Truncate the file to its entries (a no-op when it holds nothing else). */
int sf_segment_trim(segment *seg, sf_error *err);
int sf_segment_locate(const segment *seg, uint64_t offset, uint64_t *pos, sf_error *err);
int sf_segment_index_add(segment *seg, index_point pt);
/* Append pt to a growable array of index points. 0 or SF_ENOMEM. */
int sf_index_push(index_point **arr, size_t *len, size_t *cap, index_point pt);
void sf_segment_close(segment *seg);

/* partition.c */
int sf_partition_open(partition *p, const char *logdir, uint32_t id, bool read_only,
                      recovery_note *note, sf_error *err);
int sf_partition_read(partition *p, uint64_t from, uint64_t end, sf_stream_batch *b, sf_error *err);
int sf_partition_roll(partition *p, sf_error *err);
void sf_partition_retain(partition *p, uint64_t max_bytes, uint64_t max_age_seconds);
/* Segments, start and bytes of entries (up to the durable end `end`). */
void sf_partition_info_get(partition *p, uint64_t end, sf_partition_info *out);
void sf_partition_close(partition *p);

#endif
