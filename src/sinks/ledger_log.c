/*
 * ledger_log.c - the import ledger against its log (see ledger.h): open
 * (lock, read, check it is this log's, read the log past it, or rebuild it
 * from the whole log), and save after an import.
 *
 * Saving is cheap when the import's appends took, in each partition,
 * exactly the offsets from the ledger's position on, and every row it
 * reserved landed: the stream's callbacks count that per partition, the
 * ledger moves just past them, and nothing needs reading (records another
 * writer appended after them are read at the next open). Any doubt (an
 * append failed, or another writer's records fell among them: a gateway on
 * a Kafka topic) and the log past the ledger's positions is read instead,
 * which is what open does anyway: the log is the truth. On a stream whose
 * positions skip (Kinesis's sequence numbers) there is always that doubt,
 * so saving after an import there reads the import's own records back.
 *
 * Telling the log the ledger was read from: the record just before the
 * ledger's position of each partition must be the one it read there (its
 * fingerprint). On the local log and Kafka the partition's end and start
 * (info) also say whether its tail was lost or retention removed that
 * record; Kinesis gives neither (its start is where the shard began, its
 * end what has been read of it so far), so there a record gone from before
 * the ledger's position is taken as removed by retention (logged,
 * ledger_gap: the ledger keeps what it knew) and a position before the
 * shard's start as another stream made under the same name (rebuilt).
 */
#include "sinks/ledger_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/fsutil.h"
#include "core/logline.h"
#include "core/progress.h"

void sf_ledger_path(const char *data_dir, const char *stream, char *out, size_t cap)
{
    if (!stream || !*stream)
        snprintf(out, cap, "%s/imports/log.ledger", data_dir);
    else
        snprintf(out, cap, "%s/imports/%016" PRIx64 ".ledger", data_dir,
                 (uint64_t)XXH3_64bits(stream, strlen(stream)));
}

static int lock_ledger(const char *path, int *fd, sf_error *err)
{
    char dir[4096], lock[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int rc = sf_mkdirs(dir, err);
        if (rc < 0)
            return rc;
    }
    snprintf(lock, sizeof lock, "%s.lock", path);
    *fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", lock, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return sf_error_set(err, SF_EBUSY,
                            "another import into this stream is running (it holds %s)", lock);
    }
    return 0;
}

static uint64_t print_of(const sf_stream_entry *e)
{
    return sf_ledger_print(e->data, e->len);
}

/* The fingerprint of the entry at position `at` of partition p; 0 if the
 * log has none there (removed, a hole, past its end). */
static int entry_print(sf_stream *s, uint32_t p, const sf_pos *at, uint64_t *print, sf_error *err)
{
    sf_stream_batch b;
    int rc = sf_stream_batch_init(&b, 1, 4096, err);
    if (rc == 0 && (rc = sf_stream_read(s, p, at, &b, err)) == 0)
        *print = b.count && sf_pos_cmp(&b.entries[0].pos, at) == 0 ? print_of(&b.entries[0]) : 0;
    if (rc == SF_ERANGE) { /* removed by retention: nothing to compare */
        *print = 0;
        rc = 0;
    }
    sf_stream_batch_free(&b);
    return rc;
}

/* Where a partition starts and ends (sf_stream_info), and whether those
 * are 64-bit offsets (the local log, Kafka): then, as before positions
 * were wider, the end is compared with the ledger's and the start tells
 * what retention removed. A stream of wide positions (Kinesis) gives the
 * start its shard began at (retention does not move it) and an end it may
 * not have read to yet: the ledger's own position is checked by the record
 * there instead (check_log). */
typedef struct extent {
    sf_pos start, end;
    bool offsets;
    bool gone; /* nothing left to read or check (a Kinesis shard past retention) */
} extent;

static int extent_of(sf_stream *s, uint32_t p, extent *x, sf_error *err)
{
    sf_partition_info info;
    uint64_t v;
    int rc = sf_stream_info(s, p, &info, err);
    if (rc == 0)
        *x = (extent){info.start, info.end,
                      !info.gone && sf_pos_u64(&info.start, &v) && sf_pos_u64(&info.end, &v),
                      info.gone};
    return rc;
}

/* Why partition p of s is not the one l read ("" when it may be). */
static int check_partition(sf_ledger *l, sf_stream *s, uint32_t p, char *why, size_t cap,
                           sf_error *err)
{
    char end[SF_POS_TEXT_MAX], at[SF_POS_TEXT_MAX], other[SF_POS_TEXT_MAX];
    sf_pos last = l->end[p];
    if (sf_pos_sub_one(&last, NULL) < 0) /* read nothing yet */
        return 0;
    /* The record first, then the extent: where info reads on from what was
     * read last (Kinesis), it then starts at the ledger's position. */
    uint64_t print = 0;
    sf_error perr = {0};
    int prc = entry_print(s, p, &last, &print, &perr);
    extent x;
    int rc = extent_of(s, p, &x, err);
    if (rc < 0 || x.gone) /* gone: its position stays what the ledger read */
        return rc;
    sf_pos_format(&l->end[p], end, sizeof end);
    sf_pos_format(&last, at, sizeof at);
    if (x.offsets && sf_pos_cmp(&l->end[p], &x.end) > 0) {
        sf_pos_format(&x.end, other, sizeof other);
        snprintf(why, cap,
                 "it has read partition %" PRIu32 " to offset %s, but the log ends at %s: not "
                 "this log, or its tail was lost",
                 p, end, other);
        return 0;
    }
    if (!x.offsets && sf_pos_cmp(&last, &x.start) < 0) {
        sf_pos_format(&x.start, other, sizeof other);
        snprintf(why, cap,
                 "it has read partition %" PRIu32 " to position %s, before the stream's first "
                 "(%s): not this stream (made again under its name?)",
                 p, at, other);
        return 0;
    }
    if (prc < 0) {
        *err = perr;
        return prc;
    }
    if (x.offsets && sf_pos_cmp(&last, &x.start) < 0)
        return 0; /* removed by retention: nothing to compare */
    /* Wide: nothing to compare when the ledger knows no record there (a
     * closed shard read to its end), nor when the record is gone. */
    if (print == l->print[p] || (!x.offsets && (print == 0 || l->print[p] == 0))) {
        if (print == 0 && l->print[p]) /* a stream of wide positions keeps its start: by age */
            sf_logf(SF_LOG_WARN, "ledger_gap",
                    "partition=%" PRIu32 " position=%s reason=\"the record the import ledger "
                    "read last is no longer in the stream (removed by retention): a file whose "
                    "rows were in records removed before the ledger read them is not known to "
                    "be imported\"",
                    p, at);
        return 0;
    }
    snprintf(why, cap, "partition %" PRIu32 " %s %s is not the record it read there: not this log",
             p, x.offsets ? "offset" : "position", at);
    return 0;
}

/* Take in the partitions s has beyond l's (read from their start); path:
 * l's file, for the log line. */
static int grow(sf_ledger *l, sf_stream *s, const char *path, sf_error *err)
{
    uint32_t was = l->partitions, parts = sf_stream_partitions(s);
    if (parts <= was)
        return 0;
    if (sf_ledger_grow(l, parts) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    char q[4400];
    sf_logf(SF_LOG_INFO, "ledger_partitions_added",
            "file=%s partitions=%" PRIu32 " was=%" PRIu32 " reason=\"the stream has more now (a "
            "reshard's children, or partitions added): they are read from their start\"",
            sf_logq(path, q, sizeof q), parts, was);
    return 0;
}

/* Why l is not a ledger of s ("" when it is). A stream with more
 * partitions than l knows grew (a Kinesis reshard adds partitions, never
 * takes one away): l takes in the new ones; one with fewer is another. */
static int check_log(sf_ledger *l, sf_stream *s, const char *path, char *why, size_t cap,
                     sf_error *err)
{
    *why = '\0';
    uint32_t parts = sf_stream_partitions(s), known = l->partitions;
    if (parts < known) {
        snprintf(why, cap, "it was made for a log of %" PRIu32 " partitions, this one has %" PRIu32,
                 l->partitions, parts);
        return 0;
    }
    int rc = 0;
    for (uint32_t p = 0; rc == 0 && !*why && p < known; p++)
        rc = check_partition(l, s, p, why, cap, err);
    return rc == 0 && !*why ? grow(l, s, path, err) : rc;
}

typedef struct reading {
    sf_stream_batch b;
    sf_progress progress;
    uint64_t total, done;
} reading;

/* Where partition p (extent x) is read from: the ledger's position, or
 * where retention left the partition's records (logged). */
static sf_pos read_start(const sf_ledger *l, uint32_t p, const extent *x)
{
    sf_pos from = l->end[p];
    if (x->offsets && sf_pos_cmp(&from, &x->start) < 0) {
        char a[SF_POS_TEXT_MAX], b[SF_POS_TEXT_MAX];
        sf_pos to = x->start;
        sf_pos_sub_one(&to, NULL);
        sf_pos_format(&from, a, sizeof a);
        sf_pos_format(&to, b, sizeof b);
        sf_logf(SF_LOG_WARN, "ledger_gap",
                "partition=%" PRIu32 " from=%s to=%s reason=\"removed by retention before the "
                "import ledger read them: a file whose rows were there is not known to be "
                "imported\"",
                p, a, b);
        from = x->start;
    }
    return from;
}

/* Read a batch of partition p at *from into l, and move *from past it;
 * *more is false at the partition's end. A read that skipped a hole has no
 * entry but moved on (stream.h): it goes on past it, so that the rows after
 * a hole are known too. */
static int read_batch(sf_ledger *l, sf_stream *s, uint32_t p, sf_pos *from, reading *rd, bool *more,
                      sf_error *err)
{
    int rc = sf_stream_read(s, p, from, &rd->b, err);
    *more = rc == 0 && (rd->b.count || sf_pos_cmp(&rd->b.next, from) > 0);
    if (!*more || (rc = sf_ledger_add_entries(l, rd->b.entries, rd->b.count, err)) < 0)
        return rc;
    const sf_stream_entry *last = rd->b.count ? &rd->b.entries[rd->b.count - 1] : NULL;
    sf_pos after = last ? last->pos : rd->b.next;
    l->end[p] = rd->b.next;
    /* as entry_print: nothing to print before a position past a hole */
    l->print[p] = last && sf_pos_add_one(&after, NULL) == 0 && sf_pos_cmp(&after, &rd->b.next) == 0
                      ? print_of(last)
                      : 0;
    l->dirty = true;
    *from = rd->b.next;
    rd->done += rd->b.count;
    sf_progress_update(&rd->progress, rd->done, rd->done, rd->total);
    return 0;
}

/* Read every partition of s past the ledger's positions; *read: entries.
 * A batch of each partition in turn, not each partition to its end: where
 * the stream spaces out the reads of a partition (Kinesis: 5 calls and 2 MB
 * a second per shard), the wait for one is spent reading the others. */
static int read_past(sf_ledger *l, sf_stream *s, uint64_t *read, sf_error *err)
{
    reading rd = {0};
    uint32_t n = l->partitions, left = n;
    extent *x = calloc(n, sizeof *x);
    sf_pos *from = calloc(n, sizeof *from);
    bool *ended = calloc(n, sizeof *ended);
    int rc = x && from && ended ? sf_stream_batch_init(&rd.b, 4096, 1 << 20, err)
                                : sf_error_set(err, SF_ENOMEM, "out of memory");
    bool known = true; /* how many records there are to read (offsets only) */
    for (uint32_t p = 0; rc == 0 && p < n; p++) {
        uint64_t start = 0, end = 0, at = 0;
        if ((rc = extent_of(s, p, &x[p], err)) < 0)
            break;
        ended[p] = x[p].gone; /* nothing to read */
        left -= ended[p];
        known = known && x[p].offsets && sf_pos_u64(&l->end[p], &at);
        if (known && sf_pos_u64(&x[p].start, &start) && sf_pos_u64(&x[p].end, &end) && end > at)
            rd.total += end - (at > start ? at : start);
        from[p] = read_start(l, p, &x[p]);
    }
    if (!known)
        rd.total = 0;
    sf_progress_init(&rd.progress, stderr, "import ledger");
    while (rc == 0 && left)
        for (uint32_t p = 0; rc == 0 && p < n; p++) {
            bool more = false;
            if (!ended[p] && (rc = read_batch(l, s, p, &from[p], &rd, &more, err)) == 0 && !more)
                ended[p] = true, left--;
        }
    sf_progress_end(&rd.progress);
    sf_stream_batch_free(&rd.b);
    free(x);
    free(from);
    free(ended);
    *read = rd.done;
    return rc;
}

/* The ledger at path as read, or why it must be rebuilt (in why). */
static int read_ledger(const char *path, sf_stream *s, sf_ledger **l, char *why, size_t cap,
                       sf_error *err)
{
    sf_error rerr = {0};
    *why = '\0';
    int rc = sf_ledger_read(path, l, &rerr);
    if (rc == SF_ENOENT) {
        snprintf(why, cap, "no ledger file yet");
        return 0;
    }
    if (rc == SF_EFORMAT) { /* kept for whoever wants to see it */
        char aside[4200];
        snprintf(aside, sizeof aside, "%s.damaged", path);
        snprintf(why, cap, "damaged (kept as FILE.damaged): %s", rerr.msg);
        rename(path, aside);
        return 0;
    }
    if (rc < 0) {
        *err = rerr;
        return rc;
    }
    char not_ours[400];
    if ((rc = check_log(*l, s, path, not_ours, sizeof not_ours, err)) < 0 || !*not_ours)
        return rc;
    snprintf(why, cap, "%s", not_ours);
    sf_ledger_free(*l);
    *l = NULL;
    return 0;
}

int sf_ledger_open(const char *path, const char *location, sf_stream *s, sf_ledger **out,
                   sf_ledger_opened *info, sf_error *err)
{
    sf_ledger_opened done = {0};
    double t0 = sf_monotonic();
    int fd = -1;
    sf_ledger *l = NULL;
    int rc = lock_ledger(path, &fd, err);
    if (rc == 0)
        rc = read_ledger(path, s, &l, done.reason, sizeof done.reason, err);
    if (rc == 0 && !l) {
        done.rebuilt = true;
        rc = sf_ledger_new(sf_stream_partitions(s), location, &l, err);
    }
    if (rc == 0 && !(l->path = strdup(path)))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0) {
        l->lock_fd = fd, fd = -1;
        l->dirty = done.rebuilt;
        rc = read_past(l, s, &done.records_read, err);
    }
    if (rc < 0) {
        sf_ledger_free(l);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    done.seconds = sf_monotonic() - t0;
    char q[4400], qr[sizeof done.reason + 64];
    if (done.rebuilt && done.records_read)
        sf_logf(strcmp(done.reason, "no ledger file yet") == 0 ? SF_LOG_INFO : SF_LOG_WARN,
                "ledger_rebuilt",
                "file=%s reason=%s records=%" PRIu64 " keys=%zu ranges=%zu seconds=%.3f",
                sf_logq(path, q, sizeof q), sf_logq(done.reason, qr, sizeof qr), done.records_read,
                sf_ledger_keys(l), sf_ledger_ranges(l), done.seconds);
    else if (done.rebuilt && strcmp(done.reason, "no ledger file yet") != 0)
        sf_logf(SF_LOG_WARN, "ledger_rebuilt", "file=%s reason=%s records=0 seconds=%.3f",
                sf_logq(path, q, sizeof q), sf_logq(done.reason, qr, sizeof qr), done.seconds);
    else if (done.records_read)
        sf_logf(SF_LOG_INFO, "ledger_caught_up", "file=%s records=%" PRIu64 " seconds=%.3f",
                sf_logq(path, q, sizeof q), done.records_read, done.seconds);
    if (info)
        *info = done;
    *out = l;
    return 0;
}

/* Whether the appends since the last settle took exactly the offsets from
 * the ledger's positions on, every reserved row among them (see the top of
 * the file); then the positions move past them. No question to the stream:
 * a Kafka reader's idea of a partition's end may lag what was just
 * appended. Positions wider than offsets are never exact: they skip, so
 * they cannot tell whether another writer's records are among them. */
static bool settle_landed(sf_ledger *l)
{
    pthread_mutex_lock(&l->mu);
    bool exact = l->landed_reserved == l->reserved_rows;
    for (uint32_t p = 0; exact && p < l->partitions; p++) {
        const sf_ledger_landing *g = &l->landing[p];
        uint64_t end = 0;
        exact =
            !l->landed_beyond && (!g->count || (!g->wide && sf_pos_u64(&l->end[p], &end) &&
                                                g->min == end && g->max - g->min + 1 == g->count));
    }
    for (uint32_t p = 0; exact && p < l->partitions; p++) {
        const sf_ledger_landing *g = &l->landing[p];
        if (g->count) {
            sf_pos_from_u64(&l->end[p], g->max + 1); /* an offset below UINT64_MAX: not wide */
            l->print[p] = g->print;
            l->dirty = true;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return exact;
}

int sf_ledger_save(sf_ledger *l, sf_stream *s, sf_error *err)
{
    uint64_t read = 0;
    int rc = 0;
    if (settle_landed(l)) {
        if (sf_ledger_settle_reserved(l, true) < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    } else { /* what the log holds, not what was reserved */
        double t0 = sf_monotonic();
        sf_ledger_settle_reserved(l, false);
        if ((rc = grow(l, s, l->path ? l->path : "", err)) == 0) /* records may be in new ones */
            rc = read_past(l, s, &read, err);
        char q[4400];
        if (rc == 0 && read)
            sf_logf(SF_LOG_INFO, "ledger_read_back", "file=%s records=%" PRIu64 " seconds=%.3f",
                    sf_logq(l->path ? l->path : "", q, sizeof q), read, sf_monotonic() - t0);
    }
    if (rc == 0 && l->dirty && l->path && (rc = sf_ledger_write(l, l->path, err)) == 0)
        l->dirty = false;
    return rc;
}

void sf_ledger_close(sf_ledger *l)
{
    sf_ledger_free(l);
}
