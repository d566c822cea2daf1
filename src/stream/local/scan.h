/*
 * scan.h - reading a segment whole into spans of good, lost and extra bytes
 * (src/stream/local only): what verify reports and repair rewrites
 * (check.h).
 *
 * A segment is read into memory whole (64 MiB at most by default: a tool's
 * price, never the server's) and walked entry by entry from its base
 * offset. Where the next entry does not check out, the walk looks for the
 * next position holding an entry that does, at a later offset: the bytes
 * between are damaged, the offsets between lost. Below the acknowledged
 * end that is a problem; past it, in a partition's last segment, it is a
 * torn write never acknowledged, and the walk stops there as recovery does.
 */
#ifndef SF_STREAM_LOCAL_SCAN_H
#define SF_STREAM_LOCAL_SCAN_H

#include "stream/local/check.h"
#include "stream/local/local.h"

typedef enum span_kind {
    SPAN_GOOD, /* entries [pos, end) for offsets [off, off_end): kept as they are */
    SPAN_LOST, /* offsets [off, off_end) to restore or mark; [pos, end) damaged bytes */
    SPAN_DROP, /* bytes [pos, end) that are no entry of this segment: left out */
} span_kind;

typedef struct span {
    span_kind kind;
    bool sums; /* LOST: its bytes may still hold the lost entries' headers */
    uint64_t pos, end;
    uint64_t off, off_end;
} span;

typedef struct seg_scan {
    uint32_t partition;
    uint64_t base;
    char path[4200];
    uint8_t *data; /* the file, read whole (malloc'd) */
    size_t size;
    span *spans;
    size_t nspans, cap;
    uint64_t entries_end; /* byte after the last entry kept (torn bytes past it) */
    bool last;            /* the partition's last segment */
    bool lost;            /* a LOST or DROP span: the segment must be written again */
    bool index_bad;       /* its index file names a wrong position */
} seg_scan;

typedef struct scan_ctx {
    const sf_log_check_opts *o;
    sf_log_check_result *res;
    uint64_t total_bytes, done_bytes;
} scan_ctx;

/* Called with each segment of a partition as scanned (verify: nothing
 * more; repair: write it again). The scan is freed after the call. */
typedef int (*seg_fn)(scan_ctx *c, seg_scan *s, sf_error *err);

/* Scan partition p of the log at logdir, acked offsets acknowledged,
 * reporting every finding, each segment to fn (may be NULL). */
int sf_scan_partition(scan_ctx *c, const char *logdir, uint32_t p, uint64_t acked, seg_fn fn,
                      sf_error *err);

/* The offsets each partition is known to have acknowledged: its mark, or
 * the caller's witness when higher. acked has n entries. */
int sf_scan_acked(const char *logdir, uint32_t n, const sf_log_check_opts *o, uint64_t *acked,
                  sf_error *err);

/* Total bytes of the partitions' segment files (for progress). */
uint64_t sf_scan_total_bytes(const char *logdir, uint32_t n);

/* Report a finding through c->o->on_finding, counting problems. */
void sf_scan_report(scan_ctx *c, sf_log_finding_kind kind, bool problem, const seg_scan *s,
                    uint64_t pos, uint64_t bytes, uint64_t off, uint64_t count, const char *fmt,
                    ...) __attribute__((format(printf, 9, 10)));

/* "record" or "records". */
const char *sf_scan_records(uint64_t n);

#endif
