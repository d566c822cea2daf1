/*
 * stream_adapter.h - what a stream adapter fills (the port: stream.h): its
 * ops table, and the first member of its handle. For the port's front
 * (stream.c) and the adapters under stream/ only; everyone else holds an
 * opaque sf_stream and calls the sf_stream_* functions.
 *
 * Each operation's contract is the one its sf_stream_* function states in
 * stream.h; the front checks partition numbers before read and info, and
 * stands in for the optional group operations (NULL: no groups).
 *
 * To add an adapter: a folder stream/NAME/ whose ops table is
 * `const sf_stream_ops sf_stream_NAME_ops`, one row in stream.c's table
 * with its schemes, and its files in src/CMakeLists.txt.
 */
#ifndef SF_STREAM_ADAPTER_H
#define SF_STREAM_ADAPTER_H

#include "core/location.h"
#include "stream/stream.h"

/* Count one durability wait (an fsync round; over Kafka, the wait for the
 * acknowledgements of an append) in st's histogram. Caller serialises. */
void sf_stream_stats_latency(sf_stream_stats *st, double seconds);

/* lag and tail_start for an adapter whose positions are 64-bit offsets
 * (local, Kafka), from info(): records = end - from, exact as said;
 * the tail starts at max(start, end - max_records). */
int sf_stream_offsets_lag(sf_stream *s, uint32_t partition, const sf_pos *from, bool exact,
                          sf_lag *out, sf_error *err);
int sf_stream_offsets_tail_start(sf_stream *s, uint32_t partition, uint64_t max_records,
                                 sf_pos *out, sf_error *err);

typedef struct sf_stream_ops {
    /* loc->rest is what follows the scheme (the whole path when bare). */
    int (*open)(const sf_location *loc, const sf_stream_opts *opts, sf_stream **out, sf_error *err);
    /* Records arrive packed (core/pack.h), one after another in data, with
     * their lengths; the adapter copies them before returning. */
    int (*append_async)(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                        sf_append_done done, void *ctx, sf_error *err);
    int (*read)(sf_stream *s, uint32_t partition, const sf_pos *from, sf_stream_batch *batch,
                sf_error *err);
    uint32_t (*partitions)(const sf_stream *s);
    int (*info)(sf_stream *s, uint32_t partition, sf_partition_info *out, sf_error *err);
    int (*lag)(sf_stream *s, uint32_t partition, const sf_pos *from, sf_lag *out, sf_error *err);
    int (*tail_start)(sf_stream *s, uint32_t partition, uint64_t max_records, sf_pos *out,
                      sf_error *err);
    void (*stats)(sf_stream *s, sf_stream_stats *out);
    void (*close)(sf_stream *s);
    /* Consumer groups (see sf_stream_join); NULL in adapters without. */
    int (*join)(sf_stream *s, const struct sf_stream_group *g, sf_stream_membership *out,
                sf_error *err);
    int (*owned)(sf_stream *s, uint8_t *owned, uint64_t *assignments, sf_error *err);
    void (*leave)(sf_stream *s);
    /* sf_stream_lineage; NULL: every partition open, with no parents. */
    void (*lineage)(sf_stream *s, uint32_t partition, sf_partition_lineage *out);
    /* sf_stream_end_is_witness */
    bool end_is_witness;
} sf_stream_ops;

/* Every adapter's handle starts with this. */
struct sf_stream {
    const sf_stream_ops *ops;
};

#endif
