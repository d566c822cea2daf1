/*
 * stream.h - the stream port: a durable, partitioned, append-only log of
 * records (the role Kinesis or Kafka plays in the seed design).
 *
 Each backend is an adapter (stream_adapter.h: its ops table, for the front
 * and the adapters only) in a folder of its own under stream/; the table of
 * adapters is in stream.c and one is chosen by the scheme of a location
 * (core/location.h: "local:DIR" or a bare folder;
 * "kafka://host:9092,host2:9092/topic"). The handle is opaque: callers use
 * only the sf_stream_* functions below. What a read fills, the batch of
 * entries (sf_stream_batch, sf_stream_entry), is core/batch.h: the storage
 * adapters take batches and may not include the stream.
 *
 * Guarantees every adapter gives:
 *  - all lines of an invoice are in one partition, in the order they were
 *    appended: the local log and Kafka put a record in partition
 *    sf_stream_partition_of(invoice_no); Kinesis in the open shard whose
 *    hash key range holds the invoice's hash, so that across a reshard an
 *    invoice goes on in a child of its shard (see "Partitions that close");
 *  - each record has a position in its partition (core/pos.h: an unsigned
 *    integer of up to 432 bits); positions strictly increase in the order
 *    of the records, may skip, and are never given to another record. Where
 *    the next read starts is what the adapter says (the batch's `next`),
 *    never a reader's +1; how far a reader is behind is what the adapter
 *    says (sf_stream_lag);
 *  - when an append reports success, its records are durable (fsync'd or
 *    acknowledged by all in-sync replicas) and readable;
 *  - an append that fails leaves none of its records readable;
 *  - readers see only records whose append has succeeded.
 *
 * What each adapter adds about positions:
 *  - the local log numbers a partition's records 0, 1, 2, ... (its offsets)
 *    with no gaps; an offset whose record was lost for good (`log repair`,
 *    when the archive no longer held it) is a hole: readers skip it, are
 *    told so (batch.hole), and it is never given to another record; its lag
 *    is an exact record count;
 *  - Kafka's positions are its offsets: dense in a plain topic, with gaps
 *    where transactions left control records or compaction removed some;
 *    its lag (high watermark - position) is an upper bound then;
 *  - (issue 18) Kinesis's are its sequence numbers: sparse and wide; its
 *    lag is a time behind.
 *
 * Partitions that close (Kinesis's reshards). A stream's partitions never
 * go away and are never renumbered, but on Kinesis new ones may appear
 * while it is open (sf_stream_partitions grows: a split or merge adds its
 * children) and a partition may close: it takes no more records, and a
 * read past its last record gives `next` = its end (sf_stream_lineage) with
 * no entry, so a reader that stores that position has finished it. A
 * partition's parents (the shards it was split or merged from) hold the
 * records that came before its own: a reader that wants an invoice's lines
 * in order reads a partition only once it has finished its parents (the
 * sinks' runner does). The local log and Kafka have neither.
 *
 * Kafka (stream/kafka/kafka.c) keeps the first three. It cannot take back
 * records a broker may already hold, so a failed append there is one of two
 * kinds: none of its records was written (an ordinary failure: a retry is
 * safe), or some may have been (status SF_EFAILED, "in doubt"): then the
 * stream refuses appends until reopened, so that the gateway, restarted,
 * rebuilds its event-id window from the stream and a retry with the same
 * event ids is answered as a duplicate instead of written twice.
 */
#ifndef SF_STREAM_H
#define SF_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/pos.h"
#include "core/record.h"

#define SF_STREAM_PARTITIONS_DEFAULT 8
#define SF_STREAM_PARTITIONS_MAX     1024

typedef struct sf_stream sf_stream;

/* Called once per append, from a thread of the stream's, when the records
 * are durable (status 0; positions[i] is record i's position in its
 * partition partitions[i], valid during the call) or the append failed
 * (status < 0, message in errmsg; no record of it is readable). */
typedef void (*sf_append_done)(void *ctx, int status, const uint32_t *partitions,
                               const sf_pos *positions, const char *errmsg);

typedef struct sf_stream_opts {
    uint32_t partitions;        /* when creating; 0 = default (8) */
    bool read_only;             /* open for reading while a writer may run */
    uint64_t segment_bytes;     /* roll segments at this size; 0 = 64 MiB */
    uint64_t retention_bytes;   /* per partition; 0 = keep everything */
    uint64_t retention_seconds; /* segments older than this go; 0 = keep */
    uint64_t queue_bytes;     /* appends waiting beyond this are refused (SF_EBUSY); 0 = 256 MiB */
    unsigned commit_delay_ms; /* fault injection: wait before each commit round (a slow disk) */
    /* Adapter settings as "key=value" strings (borrowed; --stream-opt): for
     * kafka, librdkafka properties and the adapter's own "shopflow.*" ones;
     * the local adapter takes none. */
    const char *const *extra;
    size_t nextra;
} sf_stream_opts;

/* Per-partition figures for `log stat`, `status` and metrics. */
typedef struct sf_partition_info {
    sf_pos start;   /* the first position still stored (after retention) */
    sf_pos end;     /* where a read past every record now stored starts (the
                       local log: the next offset = records appended) */
    uint64_t bytes; /* bytes stored (0: the adapter does not know) */
    uint32_t segments;
    uint64_t missing; /* acknowledged offsets the log does not hold (a damaged
                         local log read before `log repair`; reads stop there) */
    bool closed;      /* takes no more records (a Kinesis shard closed by a reshard) */
    bool gone;        /* closed and no longer held (a Kinesis shard past retention) */
} sf_partition_info;

/* Counters kept by a stream (for /metrics). */
typedef struct sf_stream_stats {
    uint64_t appends;        /* append calls completed */
    uint64_t records;        /* records appended */
    uint64_t bytes;          /* bytes appended (with framing) */
    uint64_t groups;         /* group commits (one fsync round each) */
    uint64_t failures;       /* appends that failed */
    uint64_t fsync_le_us[8]; /* fsync latency histogram: <=100us, 250, 500, 1ms, 2.5, 5, 10, +Inf */
    double fsync_seconds;    /* total time in fsync */
    bool failed;             /* refusing appends until reopened (see log.c) */
    uint64_t preallocs;      /* zero-fill steps ahead of the entries (local log) */
    double prealloc_seconds; /* total time in them (write + fdatasync) */
    uint64_t prealloc_waits; /* commit-round writes that waited for a chunk of zeros */
    double prealloc_wait_seconds; /* total time of those waits */
    uint64_t hole_skips;          /* holes that reads skipped (each logged) */
    uint64_t hole_offsets;        /* offsets in them */
} sf_stream_stats;

struct sf_stream_group;

/* What sf_stream_join made of the caller. */
typedef enum sf_stream_membership {
    SF_STREAM_GROUPED,   /* a member of the group: sf_stream_owned says which partitions */
    SF_STREAM_UNGROUPED, /* the stream has no groups (local) or they are turned off, or
                            (Kinesis) a group is one member at a time and the caller is it:
                            the caller owns every partition and no callback runs */
} sf_stream_membership;

/*
 * Open the stream at location: "local:DIR", or a bare path (local);
 * "kafka://BROKERS/TOPIC". opts may be NULL (defaults); opts->extra goes
 * to the adapter (a local log takes none: SF_EUSAGE). An unknown scheme is
 * SF_EUSAGE naming the known ones. A local log is created if DIR has none
 * (with opts->partitions partitions); opened for writing, it takes a lock
 * so that one process writes at a time, and recovers a torn tail (the
 * recovery is logged on stderr). Close with sf_stream_close.
 */
int sf_stream_open(const char *location, const sf_stream_opts *opts, sf_stream **out,
                   sf_error *err);

/* The stream location to use: `stream` when given (not NULL, not empty),
 * else the data folder's own log, DATA/log. Writes it into out. */
void sf_stream_location(const char *data_dir, const char *stream, char *out, size_t cap);

/* The partition of an invoice: xxh3(invoice_no) mod partitions. */
uint32_t sf_stream_partition_of(const char *invoice_no, size_t len, uint32_t partitions);

/*
 * Append n records; done is called when they are durable or failed. The
 * records are copied before this returns. Returns 0 when queued (done will
 * be called), or an error (done will not be called).
 */
int sf_stream_append_async(sf_stream *s, const sf_record *recs, size_t n, sf_append_done done,
                           void *ctx, sf_error *err);

/* The same for records already packed (core/pack.h): n records one after
 * another in data, lens[i] bytes each. What the gateway uses, so a large
 * request holds ~100 bytes a record rather than a whole sf_record. */
int sf_stream_append_packed_async(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                                  sf_append_done done, void *ctx, sf_error *err);

/* Append and wait until durable. positions (may be NULL) receives each
 * record's position, partitions (may be NULL) its partition. */
int sf_stream_append(sf_stream *s, const sf_record *recs, size_t n, uint32_t *partitions,
                     sf_pos *positions, sf_error *err);

/*
 * Read entries of a partition from position `from` on, as many as fit in
 * the batch, never past the durable end. batch->count is 0 at the end; then
 * batch->next is the end. A hole is never inside a batch: a read stops
 * before one, and a read that starts at (or in) one skips it and returns at
 * once with count 0, batch->hole saying what was skipped and next past it
 * (so a loop that reads until next stops moving never stops at a hole, and
 * a batch's first entry is at `from` or past it only where positions skip:
 * a hole, when count is 0, or a gap of the backend). Returns 0, SF_ERANGE
 * when `from` was removed by retention (next then says where the partition
 * starts), SF_ECORRUPT when stored bytes fail their checksum or
 * acknowledged records are missing (the message names partition, file,
 * offset, byte and the repair).
 */
int sf_stream_read(sf_stream *s, uint32_t partition, const sf_pos *from, sf_stream_batch *batch,
                   sf_error *err);

uint32_t sf_stream_partitions(const sf_stream *s);

/* Whether the end info() gives is a witness of what was acknowledged: a
 * stored position past it proves records lost (the local log). False where
 * the end may lag for a moment (Kafka: a new leader's high watermark). */
bool sf_stream_end_is_witness(const sf_stream *s);
int sf_stream_info(sf_stream *s, uint32_t partition, sf_partition_info *out, sf_error *err);

/* How far a reader at `from` is behind the end of a partition, in what the
 * backend knows: a record count, exact or an upper bound, and/or a time. */
typedef struct sf_lag {
    bool has_records;   /* records is known */
    bool records_exact; /* ... and exact (the local log); else an upper bound
                           (Kafka: high watermark - position counts gaps) */
    uint64_t records;   /* records from `from` to the end */
    bool has_ms;        /* ms is known (Kinesis: MillisBehindLatest) */
    uint64_t ms;        /* how long ago the newest record read was appended */
} sf_lag;

/* Fill *out for a reader of partition whose next read starts at from
 * (a position past the end is 0 behind). 0, or an error. */
int sf_stream_lag(sf_stream *s, uint32_t partition, const sf_pos *from, sf_lag *out, sf_error *err);

/* The position from which the last max_records records of partition are
 * read (its start when it holds fewer): what a rebuild of a window of the
 * newest records reads from. Where positions skip, the window read may hold
 * fewer (Kafka: gaps) records. 0, or an error. */
int sf_stream_tail_start(sf_stream *s, uint32_t partition, uint64_t max_records, sf_pos *out,
                         sf_error *err);

/* A partition's place among the others (see "Partitions that close"). */
typedef struct sf_partition_lineage {
    bool closed;         /* takes no more records */
    bool gone;           /* closed and no longer held: nothing to read */
    sf_pos end;          /* when closed: the `next` of a read past its last record */
    uint32_t nparents;   /* 0 to 2 */
    uint32_t parents[2]; /* partitions to finish (read to their end) before this one */
} sf_partition_lineage;

/* Fill *out for partition (open with no parents on the local log, on Kafka
 * and for a partition number the stream does not have). From what the
 * stream knows, without a call: cheap enough for every pass of a reader. */
void sf_stream_lineage(sf_stream *s, uint32_t partition, sf_partition_lineage *out);

/* Every record appended so far: the sum of the partitions' record counts
 * from their first position (sf_stream_lag from 0; a partition whose count
 * is unknown counts 0). */
uint64_t sf_stream_total_end(sf_stream *s);
void sf_stream_stats_get(sf_stream *s, sf_stream_stats *out);

/*
 * Consumer groups: several processes running the same sink share the
 * partitions of a stream, each reading only those the group gives it. The
 * group never holds positions: the sink's own store does. So:
 *  - assigned: this member now owns parts[0..n); fill from[i] with where to
 *    read parts[i] (the sink's stored position, read again now: another
 *    member may have moved it);
 *  - revoked: parts[0..n) go to other members when this returns, so make
 *    durable everything applied from them (the new owner starts at the
 *    stored position). lost: they were already given away (this member
 *    was cut off): write nothing more for them; return an error so the
 *    sink restarts from its stored positions.
 * The callbacks run on the joining thread, only inside sf_stream_owned and
 * sf_stream_leave, never during a read: between two applied batches.
 *
 * Kinesis's groups are one member at a time (a lease: stream/kinesis/
 * lease.c): join takes the group's lease or fails (SF_EBUSY) naming the
 * process that holds it; the member then owns every partition
 * (SF_STREAM_UNGROUPED), and once its lease is lost its reads fail
 * (SF_EFAILED, naming who took it), so that it stops.
 */
typedef struct sf_stream_group {
    const char *name; /* the sink's name: one group per sink */
    void *ctx;
    int (*assigned)(void *ctx, const uint32_t *parts, size_t n, sf_pos *from, sf_error *err);
    int (*revoked)(void *ctx, const uint32_t *parts, size_t n, bool lost, sf_error *err);
} sf_stream_group;

/* Join the group for g->name with the calling thread's reads (g is copied;
 * g->ctx must live until sf_stream_leave). 0 and *out, or an error. */
int sf_stream_join(sf_stream *s, const sf_stream_group *g, sf_stream_membership *out,
                   sf_error *err);

/* Serve the group (callbacks run here) and set owned[p] to 1 for the
 * partitions this member holds now, 0 for the others (owned has
 * sf_stream_partitions entries), and *assignments to how many assignments
 * this member has received so far (0: not yet given any; ungrouped, 1 and
 * every partition). 0, or an error (one a callback returned, or the
 * group's). */
int sf_stream_owned(sf_stream *s, uint8_t *owned, uint64_t *assignments, sf_error *err);

/* Leave the group (the revoked callback runs first). Nothing if not
 * joined. */
void sf_stream_leave(sf_stream *s);

/* Finish queued appends (their callbacks run), then close. NULL is fine. */
void sf_stream_close(sf_stream *s);

#endif
