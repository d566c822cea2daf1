/*
 * sink.h - stream processors: the sink interface and the runner that feeds
 * them (DESIGN §3).
 *
 * A sink keeps its own position in the stream, stored with its effects, so
 * that after any crash it resumes exactly where its durable effects end:
 * that is what makes its effects exactly-once. The runner asks the sink where
 * to resume, reads every partition from there, hands each batch to the sink
 * in order, and asks it to flush when the stream is drained (or, for a
 * buffering sink, on its own schedule).
 */
#ifndef SF_SINK_H
#define SF_SINK_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/location.h"
#include "sinks/archive_name.h"
#include "stream/stream.h"

typedef struct sf_sink sf_sink;
struct sf_quarantined;

typedef struct sf_sink_ops {
    const char *name;
    /* Fill next[0..nparts) with the position to resume each partition at. */
    int (*resume)(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err);
    /* Apply batch b of partition p; entries follow on from the last ones.
     * A sink with a fence (history, warehouse) checks, in the transaction
     * of the effects, that b starts at p's stored position, and otherwise
     * refuses it with SF_ESTALE, keeping nothing of its open transaction:
     * another member of the group applied those records (see runner.c). */
    int (*apply)(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err);
    /* Make durable what is due (all: everything applied so far). */
    int (*flush)(sf_sink *s, bool all, sf_error *err);
    void (*close)(sf_sink *s);

    /* The dead-letter area of the sink's own store (quarantine.h). */
    /* Set entry e of partition p (not a record: reason says why) aside, in
     * the transaction that moves p's position to next (past e), fenced as
     * apply is: follows on from the last entries applied. */
    int (*quarantine)(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                      const sf_pos *next, sf_error *err);
    /* Call fn for each entry set aside, by partition and position, until fn
     * returns nonzero (then return what it returned). */
    int (*quarantined)(sf_sink *s, int (*fn)(void *ctx, const struct sf_quarantined *q), void *ctx,
                       sf_error *err);
    /* Apply r as the entry set aside at (p, pos) and remove that entry,
     * in one transaction (the archive: the record's object first, then the
     * entry; putting it again gives the same object). SF_ENOENT, with
     * nothing applied, when no such entry is set aside. */
    int (*retry)(sf_sink *s, uint32_t p, const sf_pos *pos, const sf_record *r, sf_error *err);
} sf_sink_ops;

/* What the runner does with an entry that is not a record (another
 * producer's message on a shared topic, a record of a newer format): stop
 * there and say so, or set it aside in the sink's quarantine and go on. */
typedef enum sf_bad_entry {
    SF_BAD_ENTRY_STOP = 0,
    SF_BAD_ENTRY_QUARANTINE = 1,
} sf_bad_entry;

/* "stop" or "quarantine" (--on-bad-entry). SF_EUSAGE otherwise. */
int sf_bad_entry_parse(const char *text, sf_bad_entry *out, sf_error *err);

struct sf_sink {
    const sf_sink_ops *ops;
    void *backend; /* owned when set by sf_sink_open */
    void (*close_backend)(void *backend);
    sf_bad_entry on_bad_entry; /* set by whoever opens it; 0: stop */
    /* What the sink's store has committed since the sink was made: records
     * applied and entries set aside, counted when their transaction commits
     * (never for one rolled back). Atomic: /metrics reads them while the
     * sink, or its background writer, adds to them. */
    _Atomic uint64_t committed, quarantined;
};

/* The calls on a sink, for everyone but the sinks themselves (each as its
 * sf_sink_ops entry says). */
const char *sf_sink_name(const sf_sink *s);
int sf_sink_resume(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err);
int sf_sink_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err);
int sf_sink_flush(sf_sink *s, bool all, sf_error *err);
/* Whether the sink has a dead-letter area (quarantine, quarantined, retry). */
bool sf_sink_has_quarantine(const sf_sink *s);
int sf_sink_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                       const sf_pos *next, sf_error *err);
int sf_sink_quarantined(sf_sink *s, int (*fn)(void *ctx, const struct sf_quarantined *q), void *ctx,
                        sf_error *err);
int sf_sink_retry(sf_sink *s, uint32_t p, const sf_pos *pos, const sf_record *r, sf_error *err);

/* One partition's lag at the runner's last look (sf_stream_lag, as the
 * stream tells it: records on the local log and Kafka, MillisBehindLatest
 * on Kinesis). */
typedef struct sf_part_lag {
    _Atomic uint64_t records;
    _Atomic uint64_t ms;
    _Atomic bool has_records, has_ms;
} sf_part_lag;

/* Atomic, so another thread (the /metrics of `serve`) may read them while
 * the runner writes them. The caller zeroes it before its first run (= {0})
 * and may then set parts; a run resets the rest. */
typedef struct sf_runner_stats {
    _Atomic uint64_t applied;     /* records the sink committed during this run */
    _Atomic uint64_t quarantined; /* entries it set aside and committed during this run */
    _Atomic bool bad_entry;       /* the run stopped at an entry that is not a record */
    _Atomic uint64_t lag;         /* records of the stream the sink's store does not hold yet
                                     (not read, or read and not committed), at the last look */
    _Atomic uint64_t position;    /* sum of the partitions' next positions that are 64-bit
                                     offsets (local, Kafka; 0 until resumed) */
    _Atomic uint64_t durable;     /* the same, as of the last flush of everything: what the
                                     sink's store holds for certain */
    /* Set by the caller (may be NULL, borrowed): each partition's lag, for
     * partitions below nparts; a run leaves partitions it does not own as
     * they were. */
    sf_part_lag *parts;
    uint32_t nparts;
} sf_runner_stats;

struct sf_progress;

/*
 * Run sink over stream: until caught up (once), or until *stop becomes
 * nonzero (following the stream's end meanwhile). progress may be NULL.
 * Returns 0 or the first error of the stream or the sink.
 */
int sf_runner_run(sf_stream *stream, sf_sink *sink, bool once, volatile sig_atomic_t *stop,
                  struct sf_progress *progress, sf_runner_stats *stats, sf_error *err);

/* Stop a sink whose stored position next[0..n) is past the end of the
 * log (runner.c): SF_ECORRUPT naming partition, position, end, the
 * records lost and the repair; 0 when every position is within the log. */
int sf_runner_check_positions(sf_stream *stream, const char *name, const sf_pos *next, uint32_t n,
                              sf_error *err);

/* The same for sink's stored positions (asked with its resume). */
int sf_runner_check_sink(sf_stream *stream, sf_sink *sink, sf_error *err);

/* The archive sink (archive.c): NDJSON.gz objects under raw/transactions/. */
typedef struct sf_archive_opts {
    uint64_t max_bytes;  /* write an object when its NDJSON reaches this; 0 = 16 MiB */
    unsigned max_age_ms; /* ... or when its first record waited this long; 0 = 60 s */
    int gzip_level;      /* gzip level (libdeflate) 1 (fastest) to 9; 0 = SF_ARCHIVE_GZIP_LEVEL */
} sf_archive_opts;

/* Level 1: ~2.8x the speed of level 6 on this data for objects ~14 % larger
 * (docs/benchmarks.md). */
#define SF_ARCHIVE_GZIP_LEVEL 1

struct sf_objects;
int sf_archive_sink_new(struct sf_objects *objects, const sf_archive_opts *opts, sf_sink **out,
                        sf_error *err);

/* The warehouse sink (warehouse.c) over wh (borrowed; outlives the sink). */
struct sf_warehouse;
int sf_warehouse_sink_new(struct sf_warehouse *wh, sf_sink **out, sf_error *err);

/* Where the sinks' backends are: each given location, or by default
 * DATA/archive, DATA/history and DATA/warehouse.db; and the settings for
 * each one's adapter (--objects-opt, --store-opt, --warehouse-opt). */
typedef struct sf_sink_places {
    const char *data_dir;
    const char *objects, *store, *warehouse; /* NULL or "" = the default */
    sf_adapter_settings objects_opt, store_opt, warehouse_opt;
} sf_sink_places;

#define SF_SINKS 3
extern const char *const sf_sink_names[SF_SINKS]; /* "archive", "history", "warehouse" */

/* The location of the named sink's backend. */
void sf_sink_location(const char *name, const sf_sink_places *at, char *out, size_t cap);

/* Open the named sink over its backend, which the sink then owns: close it
 * with sf_sink_close. aopts (may be NULL) is for the archive; read_only
 * opens a store without writing or making anything (to read its position):
 * SF_ENOENT when the store is not there yet. */
int sf_sink_open(const char *name, const sf_sink_places *at, const sf_archive_opts *aopts,
                 bool read_only, sf_sink **out, sf_error *err);

/* Close a sink and the backend it owns. NULL is fine. */
void sf_sink_close(sf_sink *s);

/* The named sink's stored positions into next[0..n), read as its resume
 * would (runner.c), through its port opened read-only; zeros for a sink
 * whose store is not there yet (SF_ENOENT). What `status` shows and `log
 * verify` takes as witnesses. */
int sf_sink_stored_position(const char *name, const sf_sink_places *at, sf_pos *next, uint32_t n,
                            sf_error *err);

/* What the archive holds (archive.c), for `status`: its objects under
 * raw/transactions/ and the greatest key (the newest day's last
 * partition), listed through the objects port opened read-only. exists is
 * false, with no error, when the store is not there yet. */
typedef struct sf_archive_summary {
    char location[4096];
    bool exists;
    uint64_t objects;
    char last[SF_ARCHIVE_KEY_MAX]; /* "" when there is none */
} sf_archive_summary;

int sf_archive_describe(const sf_sink_places *at, sf_archive_summary *out, sf_error *err);

#endif
