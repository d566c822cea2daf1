/*
 * local.h - internals of the local log adapter (src/stream/local/ only).
 *
 * On disk, a log is a folder:
 *
 *   DIR/meta                 "shopflow-log 1" (2 once it holds a hole, below) and the
 *                            partition count (fixed at creation)
 *   DIR/LOCK                 flock'd by the one writing process; holds its pid
 *   DIR/ends                 the acknowledged mark: each partition's durable end offset
 *                            (u64 LE each), mmap'd (mark.c, below)
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
 * A hole (written by `shopflow log repair` only, for offsets lost for good) is an entry
 * whose length has HOLE_FLAG set; it stands for `count` offsets from its own:
 *   u32 HOLE_FLAG | payload length | u32 checksum | u64 first offset |
 *   payload: u64 count (>= 1) | i64 time it was marked (Unix seconds) | u16 reason
 *            length | reason (UTF-8, at most HOLE_REASON_MAX bytes, no NUL)
 * Its checksum is seeded with offset ^ HOLE_SEED, so a flipped length bit cannot turn a
 * record into a hole. The next entry's offset is first + count: offsets stay dense, a
 * hole's offsets are never given again, and readers skip it, saying so (partition.c).
 * A log holding a hole says version 2 in DIR/meta, so that a binary that does not know
 * holes refuses it instead of taking one for a torn tail; logs without holes keep 1.
 *
 * The writer keeps the active segment's file zero-filled and synced some MiB past its
 * entries (PREALLOC_AHEAD, in steps, on a thread of its own: zero.h): an fdatasync after a
 * write inside the file does not have to write the inode as one that grows it does. The
 * entries end at the first header that fails (zeros, or a torn write); recovery reports
 * only the bytes up to the last non-zero one past there, and a writer truncates the file
 * to its entries. A rolled segment and the active one at a clean close are truncated to
 * their entries, so only a crash leaves zeros behind, and only in a partition's last
 * segment.
 *
 * The index holds (offset - base, position) pairs, one per INDEX_INTERVAL bytes of
 * segment, appended after each commit without fsync: it is a hint, checked on open and
 * rebuilt from the segment when it disagrees.
 *
 * The acknowledged mark (DIR/ends, mark.c) is what makes recovery truthful. The commit
 * thread stores a partition's new end there after each fdatasync, before any callback
 * runs; a thread of its own msyncs the file at most about once a second, and close does
 * once more: never the commit path. So:
 *  - the mark never exceeds what was fsync'd (it is stored after the fdatasync);
 *  - after the process is killed it is exact (the page cache keeps the stores);
 *  - after a power loss it may lag what was acknowledged by about a second, never lead.
 * On open, recovery compares the whole entries it finds with the mark before anything
 * is cut or overwritten: bytes past the mark were never acknowledged (a writer removes
 * them); offsets below it that are missing or damaged were acknowledged and are lost: a
 * writer refuses to open, naming partition, file, offsets and `shopflow log repair`
 * (check.h), and a reader says what it found. A mark behind the entries (a power loss)
 * is raised to them.
 *
 * Invariants:
 *  - segments of a partition are contiguous: segs[i].next == segs[i+1].base;
 *  - only the last segment of a partition is written to;
 *  - bytes past a partition's `end` are unacknowledged and may be truncated;
 *  - `end` only grows while the log is open, and only after fdatasync;
 *  - mark <= end, and an offset below the mark is never written again;
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
#include "stream/stream_adapter.h"

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

/* Hole entries (format above). */
#define HOLE_FLAG       0x80000000u
#define HOLE_SEED       UINT64_C(0x686f6c6573686f70) /* "holeshop" */
#define HOLE_HEADER     18                           /* count, time, reason length */
#define HOLE_REASON_MAX SF_STREAM_HOLE_REASON_MAX
#define HOLE_ENTRY_MAX  (ENTRY_HEADER + HOLE_HEADER + HOLE_REASON_MAX)

typedef struct index_point {
    uint32_t rel; /* offset - base */
    uint32_t pos; /* byte position of that entry in the segment */
} index_point;

/* One entry as found in a segment's bytes (sf_entry_parse). */
typedef struct entry_view {
    uint64_t offset;        /* its offset (a hole's first) */
    uint64_t count;         /* offsets it stands for: 1, or a hole's count */
    uint32_t len;           /* payload bytes */
    uint32_t checksum;      /* as stored */
    uint32_t size;          /* ENTRY_HEADER + len */
    bool hole;              /* a hole entry */
    const uint8_t *payload; /* into the parsed bytes */
} entry_view;

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
    bool idx_dirty; /* recovery changed the index in memory: a writer rewrites its file */
    time_t mtime;
} segment;

/* What recovery found in one partition (sf_partition_open). */
typedef struct recovery_note {
    uint64_t acked;         /* in: the acknowledged mark (0: none known) */
    uint64_t dropped_bytes; /* non-zero bytes past the last whole entry (a torn write) */
    uint64_t found_end;     /* the offset after the last whole entry */
    uint64_t tail_base;     /* the last segment's base offset */
    uint64_t tail_pos;      /* where its whole entries end (byte) */
    uint64_t tail_file;     /* its file's size */
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
    uint64_t missing;     /* a reader's: acknowledged offsets recovery did not find */
    _Atomic uint64_t hole_skips, hole_offsets; /* holes skipped by reads, offsets in them */
    /* Commit thread only: */
    uint64_t write_next;
    uint8_t *stage;
    size_t stage_len, stage_cap;
    index_point *stage_idx;
    size_t stage_idx_len, stage_idx_cap;
} partition;

/* The newest DIR/meta version this code reads: 2 marks a log holding holes. */
#define SF_LOG_VERSION 2

/* log.c: DIR/meta. read: the partition count and version, or SF_ENOENT
 * (no log), SF_ECORRUPT (not one this code reads). write: atomically. */
int sf_log_read_meta(const char *dir, uint32_t *nparts, int *version, sf_error *err);
int sf_log_write_meta(const char *dir, int version, uint32_t nparts, sf_error *err);
/* Take the writer's lock, DIR/LOCK (flock, holding this pid), into *fd
 * (close it to let go; set even on failure: -1 or a descriptor to close).
 * SF_EBUSY, naming the holder's pid, when another process has it. */
int sf_log_lock(const char *dir, int *fd, sf_error *err);

/* segment.c */
uint32_t sf_entry_checksum(uint64_t offset, const uint8_t *payload, uint32_t len);
void sf_entry_header(uint8_t *h, uint32_t len, uint32_t checksum, uint64_t offset);
/* The header at h (ENTRY_HEADER bytes): true if its length is possible
 * (then e's offset, len, size, checksum and hole are filled; count is 1, a
 * hole's is known only from its payload), false if not (zeros, damage). */
bool sf_entry_header_parse(const uint8_t *h, entry_view *e);
/* The entry at buf[0..avail): true if it is whole and checks out (e filled,
 * e->payload into buf), false if not. */
bool sf_entry_parse(const uint8_t *buf, size_t avail, entry_view *e);
/* Frame a hole for offsets [offset, offset + count) into buf (at least
 * HOLE_ENTRY_MAX bytes), marked at `at` for `reason` (cut to
 * HOLE_REASON_MAX). Returns its size in bytes. */
size_t sf_hole_frame(uint8_t *buf, uint64_t offset, uint64_t count, int64_t at, const char *reason);
/* The fields of a hole entry that sf_entry_parse accepted. */
void sf_hole_get(const entry_view *e, sf_stream_hole *out);
/* A hole's time as "2026-12-05 17:21:00 UTC" into out. */
void sf_hole_time(int64_t at, char *out, size_t cap);
int sf_segment_create(const char *dir, uint64_t base, segment *seg, sf_error *err);
int sf_segment_open(const char *dir, uint64_t base, bool read_only, segment *seg, sf_error *err);
/* Find the whole entries (seg->size, seg->next); with truncate, cut the
 * file there and write the index again (sf_segment_settle). note may be
 * NULL: then the tail is not examined. */
int sf_segment_recover(segment *seg, bool truncate, recovery_note *note, sf_error *err);
/* A writer, once recovery's findings are accepted: truncate the file to
 * its entries and write the index file again if recovery rebuilt it. */
int sf_segment_settle(segment *seg, sf_error *err);
/* Truncate the file to its entries (a no-op when it holds nothing else). */
int sf_segment_trim(segment *seg, sf_error *err);
int sf_segment_locate(const segment *seg, uint64_t offset, uint64_t *pos, sf_error *err);
int sf_segment_index_add(segment *seg, index_point pt);
/* Append pt to a growable array of index points. 0 or SF_ENOMEM. */
int sf_index_push(index_point **arr, size_t *len, size_t *cap, index_point pt);
void sf_segment_close(segment *seg);

/* partition.c */
/* Open partition id of the log at logdir. note->acked is the acknowledged
 * mark: a writer refuses (SF_ECORRUPT, naming the repair) when recovery
 * finds less, and only then cuts off what lies past its entries; a reader
 * notes what it found (note, p->missing). */
int sf_partition_open(partition *p, const char *logdir, uint32_t id, bool read_only,
                      recovery_note *note, sf_error *err);
/* Base offsets of the segments in dir, sorted, *n of them (caller frees). */
int sf_partition_bases(const char *dir, uint64_t **out, size_t *n, sf_error *err);
/* What to run about a damaged log at logdir: "run `shopflow log verify
 * --data D` ..." (--stream LOGDIR when it is not a data folder's log). */
void sf_log_repair_hint(const char *logdir, char *out, size_t cap);
int sf_partition_read(partition *p, uint64_t from, uint64_t end, sf_stream_batch *b, sf_error *err);
int sf_partition_roll(partition *p, sf_error *err);
void sf_partition_retain(partition *p, uint64_t max_bytes, uint64_t max_age_seconds);
/* Segments, start and bytes of entries (up to the durable end `end`). */
void sf_partition_info_get(partition *p, uint64_t end, sf_partition_info *out);
void sf_partition_close(partition *p);

#endif
