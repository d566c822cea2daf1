/*
 * check.h - verifying and repairing a local log's files: the primitives of
 * `shopflow log verify` and `shopflow log repair` (src/cli/cmd_log.c).
 *
 * verify reads every entry of every partition, read-only, also while a
 * writer runs: checksums, offsets dense or holes recorded, segments
 * contiguous, the index against its segment, every payload a packed record
 * of its own partition with readable keys, and the entries against what was
 * acknowledged: the mark (local.h) and whatever witnesses the caller adds
 * (the sinks' stored positions). Each finding goes to a callback, naming
 * partition, segment file, byte position and offsets.
 *
 * repair mends what verify finds, under the writer's lock (refused while a
 * process writes the log). Each range of offsets whose entries are damaged,
 * or missing below what was acknowledged, is restored entry by entry from
 * the caller's record of truth (a callback: the archive, which the stream
 * adapter knows nothing of), and what that does not hold is marked lost for
 * good: a hole (local.h), never given again. To find where good entries
 * start again after damage in the middle of a segment, it scans for the
 * next header that checks out at a later offset. A restored record whose
 * damaged entry still shows its checksum is checked against it. A segment
 * is rewritten whole and atomically (temporary file, fsync, rename, fsync
 * of the folder), its index with it; bytes past the acknowledged end are
 * left to the writer (it drops them on open).
 */
#ifndef SF_STREAM_LOCAL_CHECK_H
#define SF_STREAM_LOCAL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct sf_progress;

typedef enum sf_log_finding_kind {
    SF_LOG_DAMAGED,  /* bytes where an entry should be fail its checks (checksum, header) */
    SF_LOG_MISSING,  /* acknowledged offsets no entry holds (a file cut short, a lost file) */
    SF_LOG_RECORD,   /* an entry whose checksum holds but whose payload is not a record
                        of this partition (not a packed record, unreadable keys) */
    SF_LOG_INDEX,    /* the index names a wrong position (a hint; repair rewrites it) */
    SF_LOG_HOLE,     /* offsets recorded as lost for good: not a problem */
    SF_LOG_TORN,     /* bytes past the acknowledged end: never acknowledged, not a problem */
    SF_LOG_RESTORED, /* repair: offsets restored from the record of truth */
    SF_LOG_MARKED,   /* repair: offsets marked lost for good (a hole written) */
} sf_log_finding_kind;

typedef struct sf_log_finding {
    sf_log_finding_kind kind;
    bool problem; /* verify exits 1 when any finding is a problem */
    uint32_t partition;
    const char *segment; /* the segment file's path */
    uint64_t pos;        /* byte position in it */
    uint64_t bytes;      /* bytes concerned (damaged, torn; 0 when none are there) */
    uint64_t offset;     /* first offset concerned */
    uint64_t count;      /* offsets concerned (0: none, e.g. an index point) */
    const char *what;    /* in words, for people */
} sf_log_finding;

/* Called for each finding (borrowed during the call only). */
typedef void (*sf_log_finding_fn)(void *ctx, const sf_log_finding *f);

/* The record of truth for repair: for i in [0, n), the packed record
 * (core/pack.h) of partition p at offset first + i into out + i *
 * SF_PACK_MAX, its length into lens[i] (0: not held). Returns 0, or an
 * error that stops the repair (nothing more is written). */
typedef int (*sf_log_restore_fn)(void *ctx, uint32_t p, uint64_t first, size_t n, uint8_t *out,
                                 uint32_t *lens, sf_error *err);

typedef struct sf_log_check_opts {
    /* Per partition, offsets known to have been acknowledged besides the
     * mark (e.g. the sinks' stored positions); NULL: the mark alone. */
    const uint64_t *witness;
    sf_log_finding_fn on_finding;
    void *ctx;
    struct sf_progress *progress; /* may be NULL */
    /* repair: where lost records come from (NULL: nowhere, all become holes) */
    sf_log_restore_fn restore;
    void *restore_ctx;
    bool dry_run; /* repair: find and look up, write nothing */
} sf_log_check_opts;

typedef struct sf_log_check_result {
    uint32_t partitions;
    uint64_t entries;   /* entries read (records and holes) */
    uint64_t bytes;     /* bytes of segment files read */
    uint64_t problems;  /* findings that are problems */
    uint64_t holes;     /* offsets in recorded holes */
    uint64_t restored;  /* repair: offsets restored */
    uint64_t marked;    /* repair: offsets marked lost */
    uint64_t confirmed; /* repair: restored records that matched a stored checksum */
    uint32_t rewritten; /* repair: segment files written again (index files not counted) */
} sf_log_check_result;

/* The partition count of the log at dir (its DIR/meta). */
int sf_log_partition_count(const char *dir, uint32_t *n, sf_error *err);

/* The acknowledged marks of the log at dir into marks[0..n) (zeros where
 * it has none). */
int sf_log_marks(const char *dir, uint32_t n, uint64_t *marks, sf_error *err);

/* Verify the log at dir (see above). Returns 0 when it could be read
 * (res->problems says whether it is sound), or an error (no log, a file
 * that cannot be read). */
int sf_log_verify(const char *dir, const sf_log_check_opts *o, sf_log_check_result *res,
                  sf_error *err);

/* Repair the log at dir (see above). Returns 0 when nothing is left to
 * repair (res says what was done), SF_EBUSY when a process writes the log,
 * or another error (then segments already rewritten stay so, each whole: a
 * second run goes on). */
int sf_log_repair(const char *dir, const sf_log_check_opts *o, sf_log_check_result *res,
                  sf_error *err);

#endif
