/*
 * runner.c - the loop every sink shares (see sink.h).
 *
 * One pass reads one batch from each partition in turn, so a busy partition
 * cannot starve the others. When a whole pass finds nothing new, the runner
 * flushes everything (the sink is caught up) and either returns (once) or
 * waits a little for the stream to grow.
 */
#include <stdlib.h>
#include <time.h>

#include "core/progress.h"
#include "sinks/sink.h"

static uint64_t sum_of(const uint64_t *next, uint32_t n)
{
    uint64_t sum = 0;
    for (uint32_t p = 0; p < n; p++)
        sum += next[p];
    return sum;
}

static uint64_t lag_of(sf_stream *s, const uint64_t *next, uint32_t n)
{
    uint64_t lag = 0;
    for (uint32_t p = 0; p < n; p++) {
        sf_partition_info info;
        sf_error err = {0};
        if (sf_stream_info(s, p, &info, &err) == 0 && info.end_offset > next[p])
            lag += info.end_offset - next[p];
    }
    return lag;
}

/* Read and apply one batch of partition p. Returns entries applied or < 0. */
static long step(sf_stream *s, sf_sink *sink, uint32_t p, uint64_t *next, sf_stream_batch *b,
                 sf_error *err)
{
    int rc = sf_stream_read(s, p, next[p], b, err);
    if (rc == SF_ERANGE && b->next_offset > next[p]) {
        /* Removed by retention before this sink saw it: say so, go on. */
        return sf_error_set(err, SF_ERANGE,
                            "partition %u: records %llu to %llu were removed by retention "
                            "before the %s sink read them",
                            p, (unsigned long long)next[p], (unsigned long long)b->next_offset - 1,
                            sink->ops->name);
    }
    if (rc < 0 || b->count == 0)
        return rc;
    if ((rc = sink->ops->apply(sink, p, b, err)) < 0)
        return rc;
    next[p] = b->next_offset;
    return (long)b->count;
}

int sf_runner_run(sf_stream *s, sf_sink *sink, bool once, volatile sig_atomic_t *stop,
                  sf_progress *progress, sf_runner_stats *stats, sf_error *err)
{
    uint32_t n = sf_stream_partitions(s);
    uint64_t *next = calloc(n, sizeof *next);
    sf_stream_batch b = {0};
    sf_runner_stats local;
    if (!stats)
        stats = &local;
    atomic_store(&stats->applied, 0);
    atomic_store(&stats->lag, 0);
    atomic_store(&stats->position, 0);
    atomic_store(&stats->durable, 0);
    int rc = next ? sf_stream_batch_init(&b, 4096, 1 << 20, err)
                  : sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0)
        rc = sink->ops->resume(sink, next, n, err);
    uint64_t total = rc == 0 ? lag_of(s, next, n) : 0;
    atomic_store(&stats->lag, total);
    atomic_store(&stats->position, rc == 0 ? sum_of(next, n) : 0);
    atomic_store(&stats->durable, atomic_load(&stats->position));
    while (rc == 0 && !(stop && *stop)) {
        uint64_t pass = 0;
        for (uint32_t p = 0; rc == 0 && p < n; p++) {
            long got = step(s, sink, p, next, &b, err);
            if (got < 0)
                rc = (int)got;
            else
                pass += (uint64_t)got;
        }
        uint64_t applied = atomic_fetch_add(&stats->applied, pass) + pass;
        if (progress)
            sf_progress_update(progress, applied, applied, total);
        if (rc < 0)
            break;
        atomic_store(&stats->lag, lag_of(s, next, n));
        atomic_store(&stats->position, sum_of(next, n));
        if (pass > 0) {
            rc = sink->ops->flush(sink, false, err); /* what is due by size or age */
            continue;
        }
        rc = sink->ops->flush(sink, true, err); /* caught up */
        if (rc == 0)
            atomic_store(&stats->durable, sum_of(next, n));
        if (rc < 0 || once)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc == 0 && stop && *stop)
        rc = sink->ops->flush(sink, true, err);
    atomic_store(&stats->lag, next ? lag_of(s, next, n) : 0);
    sf_stream_batch_free(&b);
    free(next);
    return rc;
}
