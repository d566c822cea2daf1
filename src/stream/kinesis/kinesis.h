/*
 * kinesis.h - internals of the Kinesis stream adapter (src/stream/kinesis/
 * only).
 *
 * kinesis.c opens the stream (location, settings; the stream created when
 * absent); shards.c keeps the table of its shards and follows reshards;
 * writer.c appends through one writer thread that owns its own AWS client
 * (core/aws.h: a client is used by one thread at a time); reader.c reads,
 * with one client and one set of shard iterators per reading thread (the
 * sinks of `serve` read one stream from several threads at their own
 * positions, as with Kafka's consumer per thread); lease.c keeps the lease
 * that lets one process at a time run a sink; json.c holds the JSON and
 * base64 helpers.
 *
 * Partitions are shards by number: partition p is shard "shardId-" and p
 * in 12 digits, open or closed. Kinesis numbers a stream's shards 0, 1, 2,
 * ... as it makes them (CreateStream, then each SplitShard or MergeShards
 * adds its children after the others), so a reshard only adds partitions,
 * and the position a sink stored for partition p stays the position of
 * the same shard. A number no listed shard has (its shard expired after the
 * retention period) is a partition that is closed and gone. Shard numbers
 * stop at SF_STREAM_PARTITIONS_MAX - 1 (each split uses two, each merge
 * one): a stream past that is refused, saying so.
 *
 * A record goes to the open shard whose hash key range holds its hash key,
 * the XXH3-128 of its invoice number, put as ExplicitHashKey: Kinesis
 * itself routes it there, and to the child that covers the key when the
 * shard closed meanwhile, so an invoice's lines stay in one partition
 * between reshards and follow the shard's lineage across them (parent,
 * then a child). The partition a record landed in is the ShardId Kinesis
 * answers with. Positions are the shards' sequence numbers as they are
 * (decimal, up to 129 digits: core/pos.h); a closed shard ends at its
 * EndingSequenceNumber + 1 (what a read past its last record gives next).
 */
#ifndef SF_STREAM_KINESIS_H
#define SF_STREAM_KINESIS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <yajl/yajl_tree.h>

#include "core/aws.h"
#include "stream/stream_adapter.h"

#define SF_KINESIS_NAME_MAX   128        /* Kinesis's limit on a stream name */
#define SF_KINESIS_SHARD_MAX  32         /* a shard id: "shardId-" and 12 digits */
#define SF_KINESIS_RECORD_MAX (1u << 20) /* Kinesis: data + partition key of one record */

typedef unsigned __int128 khash; /* a hash key: 0 to 2^128 - 1 */

/* One shard: what is set when it is first listed never changes (threads
 * read it without a lock); closed and end change once, under k->mu. */
typedef struct kshard {
    char id[SF_KINESIS_SHARD_MAX]; /* "" for a number no listed shard has */
    bool listed;                   /* false: gone (expired), or never a shard */
    khash lo, hi;                  /* its hash key range */
    sf_pos first;                  /* its StartingSequenceNumber */
    int32_t parents[2];            /* ParentShardId, AdjacentParentShardId; -1: none */
    /* under k->mu: */
    bool closed;      /* it has an EndingSequenceNumber */
    sf_pos end;       /* when closed: EndingSequenceNumber + 1 */
    sf_pos seen_end;  /* past the newest record appended or read here */
    double end_asked; /* when info() last read on to its end (monotonic s) */
} kshard;

/* Where new records go: the open shards by hash key range. */
typedef struct kroute {
    khash lo, hi;
    uint32_t p;
} kroute;

typedef struct kreader kreader;
typedef struct kwriter kwriter;
typedef struct klease klease;

typedef struct sf_kinesis {
    sf_stream base;
    char name[SF_KINESIS_NAME_MAX + 1];
    sf_stream_opts opts;
    sf_aws_config cfg;    /* each thread's client is opened from this */
    unsigned in_flight;   /* PutRecords calls at once (in-flight=N) */
    unsigned read_gap_ms; /* least time between two GetRecords of a shard (read-interval-ms) */
    double read_rate;     /* bytes per second one reader takes from a shard, 0: any
                             (read-bytes-per-second) */
    uint64_t
        window_seconds; /* the dedup window's rebuild reads no older records (window-seconds) */

    /* The shards: shard[p] for p < nparts, set before nparts is raised
     * (release) and never moved or freed before close. */
    kshard *shard[SF_STREAM_PARTITIONS_MAX];
    _Atomic uint32_t nparts;

    pthread_mutex_t ctl_mu; /* guards ctl: the client of open, refresh, info and lag */
    sf_aws *ctl;

    kwriter *writer; /* NULL when read-only */

    pthread_mutex_t mu; /* guards what follows, and the shards' closed and end */
    sf_stream_stats stats;
    kroute *routes; /* the open shards by hash key, lowest first */
    size_t nroutes;
    uint64_t reshards;   /* times the table changed after open (a writer re-routes) */
    double refreshed_at; /* when the table was last listed (monotonic s) */

    pthread_mutex_t readers_mu;
    kreader *readers;

    pthread_mutex_t lease_mu; /* one start of the leases per handle */
    _Atomic(klease *) lease;  /* the leases of this handle's groups (lease.c), once joined */
    char lease_table[256];
    char lease_group[256];
    unsigned lease_seconds, lease_wait;
} sf_kinesis;

/* kinesis.c: an AWS client for this stream's service (a thread's own). */
int sf_kinesis_client(sf_kinesis *k, unsigned in_flight, sf_aws **out, sf_error *err);

/* shards.c */
static inline uint32_t sf_kinesis_nparts(const sf_kinesis *k)
{
    return atomic_load_explicit(&k->nparts, memory_order_acquire);
}
/* List the shards (DescribeStream, every page) into the table: new ones
 * added, closed ones marked, the routes remade. With `force` false, not
 * again within a second of the last listing (0 then). The caller holds
 * no lock. */
int sf_kinesis_refresh(sf_kinesis *k, bool force, sf_error *err);
/* At open: list the shards into the table, the stream created first when
 * absent and may_create, and waited for until ACTIVE. */
int sf_kinesis_find(sf_kinesis *k, bool may_create, sf_error *err);
/* Free the table. */
void sf_kinesis_shards_free(sf_kinesis *k);
/* The partition of a shard id ("shardId-000000000007": 7); -1 when it is
 * not of that form or past the partitions' limit. */
int32_t sf_kinesis_shard_number(const char *id);
/* The open shard whose range holds h (UINT32_MAX: none). Caller holds mu. */
uint32_t sf_kinesis_route(const sf_kinesis *k, khash h);
/* The hash key of an invoice number. */
khash sf_kinesis_hash(const char *invoice, size_t len);
/* h in decimal into out (40 bytes suffice). */
void sf_kinesis_hash_text(khash h, char out[40]);
/* Whether partition p is closed, and its end (EndingSequenceNumber + 1). */
bool sf_kinesis_closed(sf_kinesis *k, uint32_t p, sf_pos *end);
/* Note that partition p holds records up to (not including) end. */
void sf_kinesis_saw(sf_kinesis *k, uint32_t p, const sf_pos *end);
/* The port's lineage(). */
void sf_kinesis_lineage(sf_stream *s, uint32_t p, sf_partition_lineage *out);

/* writer.c */
int sf_kinesis_writer_start(sf_kinesis *k, sf_error *err);
int sf_kinesis_append(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                      sf_append_done done, void *ctx, sf_error *err);
void sf_kinesis_writer_stop(sf_kinesis *k);
/* An append was in doubt: appends are refused until reopened. */
bool sf_kinesis_writer_failed(sf_kinesis *k);

/* reader.c */
int sf_kinesis_read(sf_stream *s, uint32_t p, const sf_pos *from, sf_stream_batch *b,
                    sf_error *err);
int sf_kinesis_info(sf_stream *s, uint32_t p, sf_partition_info *out, sf_error *err);
int sf_kinesis_lag(sf_stream *s, uint32_t p, const sf_pos *from, sf_lag *out, sf_error *err);
int sf_kinesis_tail_start(sf_stream *s, uint32_t p, uint64_t max_records, sf_pos *out,
                          sf_error *err);
void sf_kinesis_readers_free(sf_kinesis *k);

/* lease.c: the port's groups, one process at a time per group */
int sf_kinesis_join(sf_stream *s, const sf_stream_group *g, sf_stream_membership *out,
                    sf_error *err);
void sf_kinesis_leave(sf_stream *s);
/* The calling thread's lease is lost: SF_EFAILED naming who took it
 * (0 when it holds one, or none). Cheap: read before each read. */
int sf_kinesis_lease_check(sf_kinesis *k, sf_error *err);
void sf_kinesis_leases_free(sf_kinesis *k);

/* json.c */
/* Append data[0..n) as base64 (RFC 4648, padded). */
void sf_kinesis_b64_encode(sf_buf *b, const uint8_t *data, size_t n);
/* Decode base64 text s[0..n) into out (at least n*3/4 bytes); the length,
 * or -1 when s is not base64. */
long sf_kinesis_b64_decode(const char *s, size_t n, uint8_t *out);
/* Parse a JSON answer (NUL-terminated copy made here); NULL with err set. */
yajl_val sf_kinesis_parse(const sf_buf *resp, const char *op, sf_error *err);
/* The string at path (NULL-terminated keys) in v, or NULL. */
const char *sf_kinesis_str(yajl_val v, const char *const *path);
/* The array at path, or NULL. */
yajl_val sf_kinesis_array(yajl_val v, const char *const *path);
/* The integer at path, or dflt. */
long long sf_kinesis_int(yajl_val v, const char *const *path, long long dflt);

#endif
