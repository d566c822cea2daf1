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
 * which is what open does anyway: the log is the truth.
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

/* The fingerprint of the entry at offset `at` of partition p; 0 if the log
 * has none there. */
static int entry_print(sf_stream *s, uint32_t p, uint64_t at, uint64_t *print, sf_error *err)
{
    sf_stream_batch b;
    sf_pos from;
    sf_pos_from_u64(&from, at);
    int rc = sf_stream_batch_init(&b, 1, 4096, err);
    if (rc == 0 && (rc = sf_stream_read(s, p, &from, &b, err)) == 0)
        *print = b.count && sf_pos_cmp(&b.entries[0].pos, &from) == 0 ? print_of(&b.entries[0]) : 0;
    if (rc == SF_ERANGE) { /* removed by retention: nothing to compare */
        *print = 0;
        rc = 0;
    }
    sf_stream_batch_free(&b);
    return rc;
}

/* The start and end of partition p as offsets; SF_ERANGE for a stream
 * whose positions are wider (ledger.h). */
static int info_offsets(sf_stream *s, uint32_t p, uint64_t *start, uint64_t *end, sf_error *err)
{
    sf_partition_info info;
    int rc = sf_stream_info(s, p, &info, err);
    if (rc == 0 && (rc = sf_pos_to_u64(&info.start, start, err)) == 0)
        rc = sf_pos_to_u64(&info.end, end, err);
    if (rc == SF_ERANGE)
        sf_error_prefix(err, "the import ledger keeps 64-bit offsets: ");
    return rc;
}

/* Why l is not a ledger of s ("" when it is). */
static int check_log(sf_ledger *l, sf_stream *s, char *why, size_t cap, sf_error *err)
{
    *why = '\0';
    uint32_t parts = sf_stream_partitions(s);
    if (parts != l->partitions) {
        snprintf(why, cap, "it was made for a log of %" PRIu32 " partitions, this one has %" PRIu32,
                 l->partitions, parts);
        return 0;
    }
    for (uint32_t p = 0; p < parts; p++) {
        uint64_t print, start, end;
        int rc = info_offsets(s, p, &start, &end, err);
        if (rc < 0)
            return rc;
        if (l->end[p] > end) {
            snprintf(why, cap,
                     "it has read partition %" PRIu32 " to offset %" PRIu64
                     ", but the log ends at %" PRIu64 ": not this log, or its tail was lost",
                     p, l->end[p], end);
            return 0;
        }
        if (l->end[p] == 0 || l->end[p] - 1 < start)
            continue;
        if ((rc = entry_print(s, p, l->end[p] - 1, &print, err)) < 0)
            return rc;
        if (print != l->print[p]) {
            snprintf(why, cap,
                     "partition %" PRIu32 " offset %" PRIu64
                     " is not the record it read there: not this log",
                     p, l->end[p] - 1);
            return 0;
        }
    }
    return 0;
}

typedef struct reading {
    sf_stream_batch b;
    sf_progress progress;
    uint64_t total, done;
} reading;

/* Read partition p from the ledger's position to its end into l. */
static int read_partition(sf_ledger *l, sf_stream *s, uint32_t p, reading *rd, sf_error *err)
{
    uint64_t start, end, at = l->end[p], next, last_at;
    int rc = info_offsets(s, p, &start, &end, err);
    if (rc == 0 && at < start) {
        sf_logf(SF_LOG_WARN, "ledger_gap",
                "partition=%" PRIu32 " from=%" PRIu64 " to=%" PRIu64
                " reason=\"removed by retention before the import ledger read them: a file "
                "whose rows were there is not known to be imported\"",
                p, at, start - 1);
        at = start;
    }
    sf_pos from;
    sf_pos_from_u64(&from, at);
    /* A read that skipped a hole has no entry but moved on (stream.h): go
     * past it, so that the rows after a hole are known too. */
    while (rc == 0 && (rc = sf_stream_read(s, p, &from, &rd->b, err)) == 0 &&
           (rd->b.count || sf_pos_cmp(&rd->b.next, &from) > 0)) {
        if ((rc = sf_ledger_add_entries(l, rd->b.entries, rd->b.count, err)) < 0 ||
            (rc = sf_pos_to_u64(&rd->b.next, &next, err)) < 0)
            break;
        const sf_stream_entry *last = rd->b.count ? &rd->b.entries[rd->b.count - 1] : NULL;
        l->end[p] = next;
        /* as entry_print: nothing to print before a position past a hole */
        l->print[p] =
            last && sf_pos_u64(&last->pos, &last_at) && last_at + 1 == next ? print_of(last) : 0;
        l->dirty = true;
        from = rd->b.next;
        rd->done += rd->b.count;
        sf_progress_update(&rd->progress, rd->done, rd->done, rd->total);
    }
    return rc;
}

/* Read every partition of s past the ledger's positions; *read: entries. */
static int read_past(sf_ledger *l, sf_stream *s, uint64_t *read, sf_error *err)
{
    reading rd = {0};
    int rc = sf_stream_batch_init(&rd.b, 4096, 1 << 20, err);
    for (uint32_t p = 0; rc == 0 && p < l->partitions; p++) {
        uint64_t start, end;
        if ((rc = info_offsets(s, p, &start, &end, err)) == 0 && end > l->end[p])
            rd.total += end - (l->end[p] > start ? l->end[p] : start);
    }
    sf_progress_init(&rd.progress, stderr, "import ledger");
    for (uint32_t p = 0; rc == 0 && p < l->partitions; p++)
        rc = read_partition(l, s, p, &rd, err);
    sf_progress_end(&rd.progress);
    sf_stream_batch_free(&rd.b);
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
    if ((rc = check_log(*l, s, not_ours, sizeof not_ours, err)) < 0 || !*not_ours)
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
 * appended. */
static bool settle_landed(sf_ledger *l)
{
    pthread_mutex_lock(&l->mu);
    bool exact = l->landed_reserved == l->reserved_rows;
    for (uint32_t p = 0; exact && p < l->partitions; p++) {
        const sf_ledger_landing *g = &l->landing[p];
        exact = !g->count || (g->min == l->end[p] && g->max - g->min + 1 == g->count);
    }
    for (uint32_t p = 0; exact && p < l->partitions; p++) {
        const sf_ledger_landing *g = &l->landing[p];
        if (g->count) {
            l->end[p] = g->max + 1;
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
        sf_ledger_settle_reserved(l, false);
        rc = read_past(l, s, &read, err);
    }
    if (rc == 0 && l->dirty && l->path && (rc = sf_ledger_write(l, l->path, err)) == 0)
        l->dirty = false;
    return rc;
}

void sf_ledger_close(sf_ledger *l)
{
    sf_ledger_free(l);
}
