/*
 * runner.c - the loop every sink shares (see sink.h).
 *
 * One pass reads one batch from each partition in turn, so a busy partition
 * cannot starve the others. When a whole pass finds nothing new, the runner
 * flushes everything (the sink is caught up) and either returns (once) or
 * waits a little for the stream to grow.
 *
 * On a stream with consumer groups (Kafka) the runner joins the group of its
 * sink and reads only the partitions the group gives it; several processes
 * running the same sink then share the work. The sink's store stays the
 * truth of its position: on assignment the runner asks the sink again where
 * each partition resumes, and before partitions are taken away it has the
 * sink flush, so the next owner starts exactly where the durable effects
 * end (stream.h, sf_stream_group). With --once a member waits for its first
 * assignment, then stops when its partitions are caught up.
 *
 * A sink's stored position past the end of the log means the log lost
 * records the sink applied (a damaged disk): reading on would give the
 * offsets of those records to new ones, which the sink would then skip.
 * The runner checks on every resume and stops instead, naming partition,
 * position, end and the repair (sf_runner_check_positions: a local log;
 * over Kafka an end may lag for a moment); `serve` checks before its
 * gateway takes a write (cli/stack.c).
 *
 * A hole in the stream (offsets lost for good, stream.h) comes as a batch
 * of no entries whose next position is past it: the sink is handed that
 * empty batch, so that a sink storing its position with its effects moves
 * past the hole too, and the pass counts as progress.
 *
 * A member cut off from its group (a long pause, a partition of the
 * network) may lose its partitions without knowing yet: a zombie. The
 * sinks' fence stops it from applying twice what the new owner applied:
 * a batch that does not start at the stored position is refused
 * (SF_ESTALE, in the transaction of its effects); the runner logs it
 * (event=sink_fenced) and reads again from the stored positions.
 *
 * Each batch's entries are checked before the sink sees them
 * (quarantine.h): an entry that is not a record stops the run there, or is
 * set aside in the sink's quarantine, as the sink's on_bad_entry says. A
 * run stopped at one first makes durable what it applied before it.
 *
 * Partitions that close (stream.h; Kinesis's reshards). A partition is read
 * only once the runner has finished its parents: each is closed and the
 * runner's position in it is at its end (the read past its last record
 * gave that end as next, an empty batch the sink stores like a hole's). So
 * the records of an invoice that went on in a child after a split or merge
 * reach the sink after those in the parent; a crash resumes from the
 * stored positions and waits the same way. When the stream gains
 * partitions while the runner reads (a reshard), the runner makes
 * everything applied durable (flush), then resumes every partition from
 * the sink's store with room for the new ones and reads on: it follows the
 * reshard in its own process (a sink's store accepts partitions it has no
 * position for: they start at 0). Partitions waiting for their parents
 * count nothing in the lag.
 *
 * stats->applied counts what the sink's store committed, read from the
 * sink's own counters: records of a run that failed and was rolled back
 * are applied again by the next run, and counted then, once.
 *
 * stats->lag is what the sink's store does not hold yet: the records of
 * the stream past what the runner read, plus those it handed the sink that
 * the store has not committed (read, buffered, in an open transaction, or
 * waiting on a locked database). The second part is the entries handed
 * less those the sink's counters say it committed, so it costs two atomic
 * loads, no read of the store; it is what `shopflow status` finds from the
 * stored positions (holes, having no entries, count as passed at once).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "core/progress.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"

/* The runner's partitions: where each is read next, whether it is ours,
 * and whether its parents are finished (it may be read). */
typedef struct run_parts {
    sf_pos *next;
    uint8_t *owned, *ready;
    uint32_t n;
} run_parts;

/* Room for n partitions (the new ones zeroed). */
static int parts_room(run_parts *pt, uint32_t n, sf_error *err)
{
    sf_pos *next = realloc(pt->next, (n ? n : 1) * sizeof *next);
    if (next)
        pt->next = next;
    uint8_t *owned = next ? realloc(pt->owned, n ? n : 1) : NULL;
    if (owned)
        pt->owned = owned;
    uint8_t *ready = owned ? realloc(pt->ready, n ? n : 1) : NULL;
    if (!ready)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pt->ready = ready;
    if (n > pt->n) {
        memset(pt->next + pt->n, 0, (n - pt->n) * sizeof *pt->next);
        memset(pt->owned + pt->n, 0, n - pt->n);
    }
    memset(pt->ready, 0, n); /* asked again */
    pt->n = n;
    return 0;
}

static void parts_free(run_parts *pt)
{
    free(pt->next);
    free(pt->owned);
    free(pt->ready);
}

/* Whether p may be read: owned, and every parent it has finished (closed,
 * and read to its end). Once so, it stays so until the positions are read
 * again from the store. */
static bool readable(sf_stream *s, run_parts *pt, uint32_t p)
{
    if (!pt->owned[p] || pt->ready[p])
        return pt->owned[p];
    sf_partition_lineage l, up;
    sf_stream_lineage(s, p, &l);
    for (uint32_t i = 0; i < l.nparents; i++) {
        uint32_t q = l.parents[i];
        sf_stream_lineage(s, q, &up);
        if (q >= pt->n || !up.closed || (!up.gone && sf_pos_cmp(&pt->next[q], &up.end) < 0))
            return false;
    }
    pt->ready[p] = 1;
    return true;
}

/* Records behind in the partitions this runner may read now, as the
 * stream counts them (sf_stream_lag; a partition that counts none adds 0). */
static uint64_t lag_of(sf_stream *s, run_parts *pt, sf_runner_stats *stats)
{
    const sf_pos *next = pt->next;
    uint64_t lag = 0;
    for (uint32_t p = 0; p < pt->n; p++) {
        sf_lag behind;
        sf_error err = {0};
        if (!readable(s, pt, p) || sf_stream_lag(s, p, &next[p], &behind, &err) < 0)
            continue;
        lag += behind.has_records ? behind.records : 0;
        if (stats->parts && p < stats->nparts) {
            sf_part_lag *pl = &stats->parts[p];
            atomic_store(&pl->records, behind.records);
            atomic_store(&pl->ms, behind.ms);
            atomic_store(&pl->has_records, behind.has_records);
            atomic_store(&pl->has_ms, behind.has_ms);
        }
    }
    return lag;
}

/* The sum of the next positions of the partitions this runner owns, those
 * that are 64-bit offsets. */
static uint64_t sum_of(const run_parts *pt)
{
    uint64_t sum = 0, at;
    for (uint32_t p = 0; p < pt->n; p++)
        sum += pt->owned[p] && sf_pos_u64(&pt->next[p], &at) ? at : 0;
    return sum;
}

typedef struct member {
    sf_sink *sink;
    sf_pos *next;
    uint32_t n;
    bool failed; /* the run failed: leave without flushing (the next run redoes it) */
} member;

int sf_runner_check_positions(sf_stream *s, const char *name, const sf_pos *next, uint32_t n,
                              sf_error *err)
{
    /* Over Kafka a new leader's high watermark may lag what was read for
     * a moment (docs/architecture.md): an end below a position is no proof
     * of loss there, and the brokers keep their own replicas. */
    if (!sf_stream_end_is_witness(s))
        return 0;
    for (uint32_t p = 0; p < n; p++) {
        sf_partition_info info;
        int rc = sf_stream_info(s, p, &info, err);
        if (rc < 0)
            return rc;
        uint64_t at, end;
        if (sf_pos_cmp(&next[p], &info.end) <= 0)
            continue;
        if (!sf_pos_u64(&next[p], &at) || !sf_pos_u64(&info.end, &end))
            return sf_error_set(err, SF_ECORRUPT,
                                "partition %u: the %s sink's stored position is past the "
                                "stream's end",
                                p, name);
        uint64_t lost = at - end;
        return sf_error_set(
            err, SF_ECORRUPT,
            "partition %u: the %s sink's stored position is %llu, past the log's end (%llu): the "
            "log lost %llu acknowledged %s the sink applied (offsets %llu to %llu). It stops "
            "rather than go on at a lower offset. Run `shopflow log verify --data DIR`, then "
            "`shopflow log repair --data DIR` (it restores them from the archive, or marks them "
            "lost), and start again",
            p, name, (unsigned long long)at, (unsigned long long)end, (unsigned long long)lost,
            lost == 1 ? "record" : "records", (unsigned long long)end, (unsigned long long)at - 1);
    }
    return 0;
}

/* Where sink resumes, into next[0..n), refused past the log's end. */
static int resume_checked(sf_stream *s, sf_sink *sink, sf_pos *next, uint32_t n, sf_error *err)
{
    int rc = sf_sink_resume(sink, next, n, err);
    return rc < 0 ? rc : sf_runner_check_positions(s, sf_sink_name(sink), next, n, err);
}

int sf_runner_check_sink(sf_stream *s, sf_sink *sink, sf_error *err)
{
    uint32_t n = sf_stream_partitions(s);
    sf_pos *next = calloc(n, sizeof *next);
    int rc = next ? resume_checked(s, sink, next, n, err)
                  : sf_error_set(err, SF_ENOMEM, "out of memory");
    free(next);
    return rc;
}

int sf_sink_stored_position(const char *name, const sf_sink_places *at, sf_pos *next, uint32_t n,
                            sf_error *err)
{
    memset(next, 0, n * sizeof *next);
    sf_sink *sink;
    /* Each port is asked, read-only: a store that is not there yet (no
     * folder, no database loaded yet) is a sink that has not started. */
    int rc = sf_sink_open(name, at, NULL, true, &sink, err);
    if (rc == SF_ENOENT) {
        sf_error_clear(err);
        return 0;
    }
    if (rc == 0)
        rc = sf_sink_resume(sink, next, n, err);
    sf_sink_close(sink);
    return rc;
}

/* The group gave us parts: they resume where the sink's store says now. */
static int on_assigned(void *ctx, const uint32_t *parts, size_t n, sf_pos *from, sf_error *err)
{
    member *m = ctx;
    sf_pos *stored = calloc(m->n, sizeof *stored);
    if (!stored)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    int rc = sf_sink_resume(m->sink, stored, m->n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        from[i] = m->next[parts[i]] = stored[parts[i]];
    free(stored);
    return rc;
}

/* parts go to other members: make every effect durable first. */
static int on_revoked(void *ctx, const uint32_t *parts, size_t n, bool lost, sf_error *err)
{
    member *m = ctx;
    (void)parts;
    if (m->failed)
        return 0;
    if (lost) /* already someone else's: write nothing more, start again */
        return sf_error_set(err, SF_EFAILED,
                            "the %s sink lost %zu partitions to its group (cut off too long); "
                            "it restarts from its stored positions",
                            sf_sink_name(m->sink), n);
    return sf_sink_flush(m->sink, true, err);
}

/* What a run reads into and checks entries with (allocated once a run). */
typedef struct reading {
    sf_stream_batch b;
    sf_record *scratch; /* an entry's record, checked before the sink gets it */
    bool stopped;       /* at an entry that is not a record */
} reading;

/* Read and apply one batch of partition p, adding the entries applied to
 * *applied; *moved is set when the position moved (past a hole, with no
 * entry). */
static int step(sf_stream *s, sf_sink *sink, uint32_t p, sf_pos *next, reading *rd,
                uint64_t *applied, bool *moved, sf_error *err)
{
    sf_stream_batch *b = &rd->b;
    int rc = sf_stream_read(s, p, &next[p], b, err);
    bool ahead = sf_pos_cmp(&b->next, &next[p]) > 0;
    if (rc == SF_ERANGE && ahead) {
        /* Removed by retention before this sink saw it: say so, go on. */
        char from[SF_POS_TEXT_MAX], to[SF_POS_TEXT_MAX];
        sf_pos last = b->next;
        sf_pos_sub_one(&last, NULL); /* for people: the last one removed */
        sf_pos_format(&next[p], from, sizeof from);
        sf_pos_format(&last, to, sizeof to);
        return sf_error_set(err, SF_ERANGE,
                            "partition %u: records %s to %s were removed by retention "
                            "before the %s sink read them",
                            p, from, to, sf_sink_name(sink));
    }
    if (rc < 0 || (b->count == 0 && !ahead))
        return rc;
    if ((rc = sf_sink_apply_checked(sink, p, b, rd->scratch, &rd->stopped, err)) < 0)
        return rc;
    *moved |= ahead;
    next[p] = b->next;
    *applied += b->count;
    return 0;
}

static void pause_100ms(void)
{
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* The sink's fence refused a batch (SF_ESTALE): its store is ahead of where
 * this runner read from, because another member of the group applied those
 * records (this one lost the partition without knowing yet: a zombie). What
 * this runner had applied since the sink's last commit is rolled back; say
 * so and read again from the positions the store holds now, so nothing is
 * applied twice and nothing is skipped. */
static int refetch(sf_sink *sink, sf_pos *next, uint32_t n, sf_error *err)
{
    char q[SF_ERROR_MSG_MAX + 64];
    sf_logf(SF_LOG_WARN, "sink_fenced", "sink=%s msg=%s", sf_sink_name(sink),
            sf_logq(err ? err->msg : "", q, sizeof q));
    sf_error_clear(err);
    pause_100ms(); /* the group is likely about to tell us */
    return sf_sink_resume(sink, next, n, err);
}

/* Which partitions are ours now; *wait is set when the group has given
 * none yet. Group callbacks run in here. */
static int serve_group(sf_stream *s, uint8_t *owned, bool *wait, sf_error *err)
{
    uint64_t assignments;
    int rc = sf_stream_owned(s, owned, &assignments, err);
    *wait = rc == 0 && assignments == 0;
    return rc;
}

/* One batch from each partition that may be read; *pass is the records
 * applied. */
static int one_pass(sf_stream *s, sf_sink *sink, run_parts *pt, reading *rd, uint64_t *pass,
                    bool *moved, sf_error *err)
{
    *pass = 0;
    *moved = false;
    int rc = 0;
    for (uint32_t p = 0; rc == 0 && p < pt->n; p++)
        if (readable(s, pt, p))
            rc = step(s, sink, p, pt->next, rd, pass, moved, err);
    return rc;
}

/* The stream has more partitions than the runner (a reshard added them):
 * everything applied made durable, then every partition resumed from the
 * sink's store, with room for the new ones. */
static int grow(sf_stream *s, sf_sink *sink, run_parts *pt, member *m, bool grouped, sf_error *err)
{
    uint32_t was = pt->n, now = sf_stream_partitions(s);
    int rc = sf_sink_flush(sink, true, err);
    if (rc == 0)
        rc = parts_room(pt, now, err);
    if (rc < 0)
        return rc;
    m->next = pt->next;
    m->n = now;
    if (!grouped)
        memset(pt->owned + was, 1, now - was);
    sf_logf(SF_LOG_INFO, "sink_partitions_grew", "sink=%s from=%u to=%u", sf_sink_name(sink), was,
            now);
    return resume_checked(s, sink, pt->next, now, err);
}

static void stats_reset(sf_runner_stats *stats)
{
    atomic_store(&stats->applied, 0);
    atomic_store(&stats->quarantined, 0);
    atomic_store(&stats->bad_entry, false);
    atomic_store(&stats->lag, 0);
    atomic_store(&stats->position, 0);
    atomic_store(&stats->durable, 0);
}

/* A run's count of what its sink has and has not committed. */
typedef struct tally {
    uint64_t base[2];    /* the sink's committed and quarantined counts when the run began */
    uint64_t handed;     /* entries handed to the sink since (records and entries set aside) */
    uint64_t forgiven;   /* of those, dropped with a transaction a fence refused */
    uint64_t stream_lag; /* records of the stream past what was read, at the last look */
    unsigned fenced;     /* fence refusals since the runner last made everything durable */
} tally;

/* A fence refuses a batch when another writer moved the sink's stored
 * position (a zombie member of a group): the runner reads the positions
 * again and goes on. Refused this many times in a row without making
 * anything durable in between, it is not that: the batch itself does not
 * fit the store, and reading again would loop for ever. The run fails,
 * with the fence's message. */
#define FENCED_MAX 8

/* What the sink's store committed since the run began, and the lag: the
 * stream's records not read, and those read but not committed. */
static void note_committed(sf_runner_stats *stats, sf_sink *sink, const tally *t)
{
    uint64_t records = atomic_load(&sink->committed) - t->base[0];
    uint64_t set_aside = atomic_load(&sink->quarantined) - t->base[1];
    uint64_t done = records + set_aside + t->forgiven;
    atomic_store(&stats->applied, records);
    atomic_store(&stats->quarantined, set_aside);
    atomic_store(&stats->lag, t->stream_lag + (t->handed > done ? t->handed - done : 0));
}

/* The sink's fence refused a batch: what it held uncommitted is gone (the
 * runner reads it again from the stored positions). A commit of the
 * warehouse's writer still under way then may make the lag read low until
 * the next read; only a zombie member of a group gets here. */
static int refetch_forgiving(sf_sink *sink, tally *t, run_parts *pt, sf_error *err)
{
    if (++t->fenced > FENCED_MAX) {
        sf_error_prefix(err,
                        "the %s sink's store refused the same batch %u times in a row "
                        "(not a second writer): ",
                        sf_sink_name(sink), FENCED_MAX + 1);
        return SF_ESTALE;
    }
    uint64_t done = atomic_load(&sink->committed) - t->base[0] + atomic_load(&sink->quarantined) -
                    t->base[1] + t->forgiven;
    if (t->handed > done)
        t->forgiven += t->handed - done;
    memset(pt->ready, 0, pt->n);
    return refetch(sink, pt->next, pt->n, err);
}

/* After a pass that moved (progressed), flush what is due by size or age;
 * after one that found nothing new, flush everything: then *caught_up, and
 * the runner's positions are durable. A fence's refusal may come with a
 * flush too: a sink may apply behind the call (the SQLite warehouse's
 * writer thread). */
static int after_pass(sf_sink *sink, tally *t, run_parts *pt, bool progressed,
                      sf_runner_stats *stats, bool *caught_up, sf_error *err)
{
    *caught_up = false;
    int rc = sf_sink_flush(sink, !progressed, err);
    if (rc == SF_ESTALE)
        rc = refetch_forgiving(sink, t, pt, err);
    else if (rc == 0)
        t->fenced = 0; /* what was applied went in */
    note_committed(stats, sink, t);
    if (rc == 0 && !progressed && t->fenced == 0) {
        atomic_store(&stats->durable, sum_of(pt));
        *caught_up = true;
    }
    return rc;
}

/* The end of a run (rc so far): asked to stop, everything is flushed. A
 * run stopped at an entry that is not a record makes what it applied
 * before durable too (the sink's position is then that entry), and the
 * stop's message stays its error, unless the flush fails: then the flush's. */
static int end_run(sf_sink *sink, int rc, bool asked, const reading *rd, sf_runner_stats *stats,
                   sf_error *err)
{
    if (!rd->stopped)
        return rc == 0 && asked ? sf_sink_flush(sink, true, err) : rc;
    sf_error flushed = {0};
    if ((rc = sf_sink_flush(sink, true, &flushed)) < 0) {
        if (err)
            *err = flushed;
        return rc;
    }
    atomic_store(&stats->bad_entry, true);
    return SF_ECORRUPT;
}

/* The start of a run: room for the stream's partitions, where each
 * resumes, the group joined (*joined: to leave at the end; *grouped: the
 * group says which partitions are ours, else all are). */
static int begin_run(sf_stream *s, sf_sink *sink, run_parts *pt, member *m,
                     const sf_stream_group *g, bool *joined, bool *grouped, sf_error *err)
{
    int rc = parts_room(pt, sf_stream_partitions(s), err);
    m->next = pt->next;
    m->n = pt->n;
    if (rc == 0)
        rc = resume_checked(s, sink, pt->next, pt->n, err);
    sf_stream_membership how = SF_STREAM_UNGROUPED;
    if (rc == 0)
        rc = sf_stream_join(s, g, &how, err);
    *joined = rc == 0;
    *grouped = rc == 0 && how == SF_STREAM_GROUPED;
    if (rc == 0 && !*grouped)
        memset(pt->owned, 1, pt->n); /* no group: every partition is ours */
    return rc;
}

int sf_runner_run(sf_stream *s, sf_sink *sink, bool once, volatile sig_atomic_t *stop,
                  sf_progress *progress, sf_runner_stats *stats, sf_error *err)
{
    run_parts pt = {0};
    reading rd = {.scratch = malloc(sizeof *rd.scratch)};
    sf_runner_stats local = {0};
    if (!stats)
        stats = &local;
    stats_reset(stats);
    tally t = {.base = {atomic_load(&sink->committed), atomic_load(&sink->quarantined)}};
    member m = {sink, NULL, 0, false};
    sf_stream_group group = {sf_sink_name(sink), &m, on_assigned, on_revoked};
    bool joined = false, grouped = false;
    int rc = rd.scratch ? sf_stream_batch_init(&rd.b, 4096, 1 << 20, err)
                        : sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0)
        rc = begin_run(s, sink, &pt, &m, &group, &joined, &grouped, err);
    uint64_t total = rc == 0 ? lag_of(s, &pt, stats) : 0;
    t.stream_lag = total;
    atomic_store(&stats->lag, total);
    atomic_store(&stats->position, rc == 0 ? sum_of(&pt) : 0);
    atomic_store(&stats->durable, atomic_load(&stats->position));
    while (rc == 0 && !(stop && *stop)) {
        note_committed(stats, sink, &t);
        bool wait = false;
        if (sf_stream_partitions(s) > pt.n && (rc = grow(s, sink, &pt, &m, grouped, err)) < 0)
            break;
        if (grouped && ((rc = serve_group(s, pt.owned, &wait, err)) < 0 || wait)) {
            if (rc < 0)
                break;
            pause_100ms(); /* no partitions given yet: wait for the group */
            continue;
        }
        bool moved;
        uint64_t pass;
        rc = one_pass(s, sink, &pt, &rd, &pass, &moved, err);
        if (rc == SF_ESTALE) {
            rc = refetch_forgiving(sink, &t, &pt, err);
            continue;
        }
        t.handed += pass;
        if (progress)
            sf_progress_update(progress, t.handed, t.handed, total);
        if (rc < 0)
            break;
        t.stream_lag = lag_of(s, &pt, stats);
        note_committed(stats, sink, &t);
        atomic_store(&stats->position, sum_of(&pt));
        bool caught_up;
        rc = after_pass(sink, &t, &pt, pass > 0 || moved, stats, &caught_up, err);
        if (rc < 0 || !caught_up)
            continue;
        if (once)
            break;
        pause_100ms();
    }
    rc = end_run(sink, rc, stop && *stop, &rd, stats, err);
    t.stream_lag = pt.next ? lag_of(s, &pt, stats) : 0;
    note_committed(stats, sink, &t);
    m.failed = rc < 0;
    if (joined)
        sf_stream_leave(s);
    sf_stream_batch_free(&rd.b);
    free(rd.scratch);
    parts_free(&pt);
    return rc;
}
