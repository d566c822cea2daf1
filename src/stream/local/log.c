/*
 * log.c - the local log adapter: opening a log folder (format in local.h),
 * and appending with group commit.
 *
 * Appends are queued; one commit thread takes everything queued at once,
 * writes each partition's share with one pwrite, fdatasyncs every partition
 * written at once (syncpool.h: a round costs about one device flush however
 * many partitions it wrote), and only then publishes the new end offsets and
 * calls the appends' callbacks. While it waits on the disk, new appends queue
 * up and go together in the next round: under load, thousands of appenders
 * share one fsync. An
 * appender never holds a thread while it waits (the gateway resumes its
 * connection from the callback).
 *
 * Each partition's active segment is kept zero-filled and synced some MiB
 * ahead of its entries (local.h: an fdatasync that need not write the inode
 * is several times cheaper on ext4) by a thread of its own (zero.h), never
 * by the commit thread: a step of zeros took 3-17 ms, and every append
 * queued behind it waited that long. A clean close truncates the zeros away.
 *
 * If a write or an fdatasync fails, every partition written in that round is
 * truncated back to where the round began and every append in it fails: what
 * was not acknowledged is not kept, so a retry cannot duplicate it. If even
 * the truncation fails, the log refuses all further appends (SF_EFAILED)
 * until it is reopened, which recovers the files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/freelist.h"
#include "core/fsutil.h"
#include "core/logline.h"
#include "core/pack.h"
#include "core/progress.h"
#include "stream/local/local.h"
#include "stream/local/mark.h"
#include "stream/local/syncpool.h"
#include "stream/local/zero.h"

_Static_assert(ENTRY_HEADER + SF_PACK_MAX <= SF_STREAM_ENTRY_MAX, "entries fit a batch");

#define QUEUE_BYTES_DEFAULT (256u << 20)

/* Queued appends up to this size (a request and its records: a few
 * records) come from the log's free list instead of malloc, at most
 * BLOCKS_CACHED of them kept (1 MiB). */
#define BLOCK_BYTES   1024
#define BLOCKS_CACHED 1024

typedef struct request {
    struct request *next;
    size_t n;
    sf_pos *positions; /* given to done; each record's offset */
    uint32_t *parts;
    uint32_t *lens;
    uint8_t *data; /* packed records, one after the other */
    size_t bytes;
    sf_append_done done;
    void *ctx;
    bool pooled; /* a block of the log's free list, not malloc'd */
} request;

typedef struct sf_log {
    sf_stream base;
    char *dir;
    sf_stream_opts opts;
    uint32_t nparts;
    partition *parts;
    int lock_fd;
    sf_mark *mark;  /* DIR/ends, the acknowledged mark (mark.h) */
    uint64_t *ends; /* its mapping; NULL for a reader of a log no writer opened */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    request *head, *tail;
    size_t queued_bytes;
    bool stopping;
    pthread_t committer;
    bool committer_started;
    sf_syncpool *sync;  /* fdatasyncs of a round, in parallel */
    sf_zero *zero;      /* the zero-filler ahead of the entries */
    sf_freelist blocks; /* small queued appends: made by appenders, freed by the committer */

    bool failed; /* commit thread only, read under mu by appenders */
    char failure[SF_ERROR_MSG_MAX];
    sf_stream_stats stats; /* under mu */
} sf_log;

/* ---- opening ---------------------------------------------------------- */

int sf_log_write_meta(const char *dir, int version, uint32_t nparts, sf_error *err)
{
    char tmp[4096], path[4096], text[128];
    snprintf(tmp, sizeof tmp, "%s/meta.tmp", dir);
    snprintf(path, sizeof path, "%s/meta", dir);
    int n = snprintf(text, sizeof text, "shopflow-log %d\npartitions %u\n", version, nparts);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0)
        return sf_error_set(err, SF_EIO, "%s: cannot write: %s", path, strerror(errno));
    return sf_fsync_dir(dir, err);
}

int sf_log_read_meta(const char *dir, uint32_t *nparts, int *version, sf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_error_set(err, errno == ENOENT ? SF_ENOENT : SF_EIO, "%s: %s", path,
                            errno == ENOENT ? "no log here (nothing was ever written)"
                                            : strerror(errno));
    unsigned n = 0;
    *version = 0;
    int ok = fscanf(f, "shopflow-log %d partitions %u", version, &n);
    fclose(f);
    if (ok != 2 || *version < 1 || *version > SF_LOG_VERSION || n == 0 ||
        n > SF_STREAM_PARTITIONS_MAX)
        return sf_error_set(err, SF_ECORRUPT, "%s: not a shopflow log (version 1 or 2)", path);
    *nparts = n;
    return 0;
}

/* Read DIR/meta, or create the log when it has none. */
static int load_meta(sf_log *log, sf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta", log->dir);
    if (access(path, F_OK) != 0 && errno == ENOENT && !log->opts.read_only) {
        uint32_t n = log->opts.partitions ? log->opts.partitions : SF_STREAM_PARTITIONS_DEFAULT;
        if (n > SF_STREAM_PARTITIONS_MAX)
            return sf_error_set(err, SF_EINVAL, "at most %d partitions", SF_STREAM_PARTITIONS_MAX);
        if (mkdir(log->dir, 0755) != 0 && errno != EEXIST)
            return sf_error_set(err, SF_EIO, "%s: %s", log->dir, strerror(errno));
        log->nparts = n;
        return sf_log_write_meta(log->dir, 1, n, err);
    }
    int version;
    return sf_log_read_meta(log->dir, &log->nparts, &version, err);
}

int sf_log_lock(const char *dir, int *fd, sf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(*fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return sf_error_set(err, SF_EBUSY, "%s: the log is open for writing by process %s", dir,
                            pid[0] ? pid : "(unknown)");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

static void log_close(sf_stream *s);
static void *committer_main(void *arg);

/* Say what recovery found, in the words that are true for this opener. */
static void report_recovery(const sf_log *log, uint32_t p, const recovery_note *note, bool marked)
{
    char q[1024], hint[1024];
    const char *dir = sf_logq(log->dir, q, sizeof q);
    const partition *part = &log->parts[p];
    if (part->missing) {
        char msg[2048], mq[2200];
        sf_log_repair_hint(log->dir, hint, sizeof hint);
        snprintf(msg, sizeof msg,
                 "found: acknowledged offsets %llu to %llu are missing (the entries end at byte "
                 "%llu); reads stop there; %s",
                 (unsigned long long)note->found_end, (unsigned long long)note->acked - 1,
                 (unsigned long long)note->tail_pos, hint);
        sf_logf(SF_LOG_WARN, "log_damaged",
                "dir=%s partition=%u segment=%020llu.seg from=%llu to=%llu count=%llu msg=%s", dir,
                p, (unsigned long long)note->tail_base, (unsigned long long)note->found_end,
                (unsigned long long)note->acked - 1, (unsigned long long)part->missing,
                sf_logq(msg, mq, sizeof mq));
    }
    if (part->missing)
        return; /* the bytes past the entries are the damage, said above */
    if (note->dropped_bytes && log->opts.read_only)
        sf_logf(SF_LOG_INFO, "log_torn_tail_found",
                "dir=%s partition=%u bytes=%llu "
                "msg=\"found %llu bytes past the last whole entry; they are past the "
                "acknowledged end (a torn write, or one in flight): never acknowledged\"",
                dir, p, (unsigned long long)note->dropped_bytes,
                (unsigned long long)note->dropped_bytes);
    else if (note->dropped_bytes)
        sf_logf(SF_LOG_WARN, "log_recovered",
                "dir=%s partition=%u dropped_bytes=%llu offset=%llu msg=\"removed %llu bytes "
                "of a torn write past the last whole entry (offset %llu): %s\"",
                dir, p, (unsigned long long)note->dropped_bytes,
                (unsigned long long)note->found_end, (unsigned long long)note->dropped_bytes,
                (unsigned long long)note->found_end,
                marked ? "past the acknowledged mark, never acknowledged"
                       : "no acknowledged mark to compare with (DIR/ends was missing)");
    else if (note->index_rebuilt)
        sf_logf(SF_LOG_INFO, "log_index_rebuilt", "dir=%s partition=%u", dir, p);
}

static int open_partitions(sf_log *log, sf_error *err)
{
    log->parts = calloc(log->nparts, sizeof *log->parts);
    uint64_t *acked = calloc(log->nparts, sizeof *acked);
    bool existed = false;
    int rc = log->parts && acked ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
    /* The marks are read before any partition is recovered (a reader
     * beside a writer: recovery then finds at least as much) and before
     * anything is stored into them. */
    if (rc == 0)
        rc = sf_mark_open(log->dir, log->nparts, log->opts.read_only, &log->mark, acked, &existed,
                          err);
    log->ends = sf_mark_ends(log->mark);
    for (uint32_t i = 0; rc == 0 && i < log->nparts; i++) {
        recovery_note note = {.acked = acked[i]};
        rc = sf_partition_open(&log->parts[i], log->dir, i, log->opts.read_only, &note, err);
        if (rc < 0)
            break;
        report_recovery(log, i, &note, existed);
        partition *p = &log->parts[i];
        if (log->ends && !log->opts.read_only)
            __atomic_store_n(&log->ends[i], p->write_next, __ATOMIC_RELEASE);
    }
    if (rc == 0 && !log->opts.read_only)
        rc = sf_mark_start(log->mark, err);
    free(acked);
    return rc;
}

static int log_open(const sf_location *loc, const sf_stream_opts *opts, sf_stream **out,
                    sf_error *err)
{
    extern const sf_stream_ops sf_stream_local_ops;
    const char *location = loc->rest;
    int bad = sf_location_no_extra(loc, "a local log", "stream", opts->extra, opts->nextra, err);
    if (bad < 0)
        return bad;
    sf_log *log = calloc(1, sizeof *log);
    if (!log || !(log->dir = strdup(location))) {
        free(log);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    log->base.ops = &sf_stream_local_ops;
    log->lock_fd = -1;
    if (opts)
        log->opts = *opts;
    if (!log->opts.segment_bytes)
        log->opts.segment_bytes = SEGMENT_BYTES_DEFAULT;
    if (!log->opts.queue_bytes)
        log->opts.queue_bytes = QUEUE_BYTES_DEFAULT;
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->cv, NULL);
    int rc = sf_freelist_init(&log->blocks, BLOCK_BYTES, BLOCKS_CACHED, err);
    if (rc == 0)
        rc = load_meta(log, err);
    if (rc == 0 && !log->opts.read_only)
        rc = sf_log_lock(log->dir, &log->lock_fd, err);
    if (rc == 0)
        rc = open_partitions(log, err);
    if (rc == 0 && !log->opts.read_only &&
        !(log->sync = sf_syncpool_new(log->nparts > 8 ? 7 : log->nparts - 1)))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0 && !log->opts.read_only)
        rc = sf_zero_start(log->parts, log->nparts, log->opts.segment_bytes, &log->zero, err);
    if (rc == 0 && !log->opts.read_only) {
        if (pthread_create(&log->committer, NULL, committer_main, log) != 0)
            rc = sf_error_set(err, SF_ENOMEM, "cannot start the commit thread");
        else
            log->committer_started = true;
    }
    if (rc < 0) {
        log_close(&log->base);
        return rc;
    }
    *out = &log->base;
    return 0;
}

/* ---- appending -------------------------------------------------------- */

static void request_free(sf_log *log, request *r)
{
    if (r->pooled)
        sf_freelist_put(&log->blocks, r);
    else
        free(r);
}

static int log_append_async(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                            sf_append_done done, void *ctx, sf_error *err)
{
    sf_log *log = (sf_log *)s;
    if (log->opts.read_only)
        return sf_error_set(err, SF_EINVAL, "%s: opened read-only", log->dir);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > SF_PACK_MAX)
            return sf_error_set(err, SF_EINVAL, "record %zu is not a packed record", i);
        bytes += lens[i];
    }
    size_t need = sizeof(request) + n * (sizeof(uint32_t) * 2 + sizeof(sf_pos)) + bytes;
    request *r = need <= BLOCK_BYTES ? sf_freelist_get(&log->blocks) : malloc(need);
    if (!r)
        return sf_error_set(err, SF_ENOMEM, "out of memory queueing %zu records", n);
    r->next = NULL;
    r->n = n;
    r->parts = (uint32_t *)(r + 1);
    r->lens = r->parts + n;
    r->positions = (sf_pos *)(r->lens + n); /* bytes only: no alignment */
    r->data = (uint8_t *)(r->positions + n);
    r->bytes = bytes;
    r->done = done;
    r->ctx = ctx;
    r->pooled = need <= BLOCK_BYTES;
    memcpy(r->data, data, bytes);
    memcpy(r->lens, lens, n * sizeof *lens);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ev, *inv;
        size_t evn, invn;
        if (sf_packed_keys(r->data + at, lens[i], &ev, &evn, &inv, &invn) < 0) {
            request_free(log, r);
            return sf_error_set(err, SF_EINVAL, "record %zu is not a packed record", i);
        }
        r->parts[i] = sf_stream_partition_of(inv, invn, log->nparts);
        at += lens[i];
    }
    pthread_mutex_lock(&log->mu);
    int rc = 0;
    if (log->failed)
        rc = sf_error_set(err, SF_EFAILED, "%s", log->failure);
    else if (log->stopping)
        rc = sf_error_set(err, SF_EFAILED, "%s: the log is closing", log->dir);
    else if (log->queued_bytes + bytes > log->opts.queue_bytes && log->head)
        rc = sf_error_set(err, SF_EBUSY, "%s: the write queue is full (the disk is too slow)",
                          log->dir);
    if (rc == 0) {
        if (log->tail)
            log->tail->next = r;
        else
            log->head = r;
        log->tail = r;
        log->queued_bytes += bytes;
        pthread_cond_signal(&log->cv);
    }
    pthread_mutex_unlock(&log->mu);
    if (rc < 0)
        request_free(log, r);
    return rc;
}

static int stage_reserve(partition *p, size_t more)
{
    if (p->stage_len + more <= p->stage_cap)
        return 0;
    size_t cap = p->stage_cap ? p->stage_cap : 64 * 1024;
    while (cap < p->stage_len + more)
        cap *= 2;
    uint8_t *b = realloc(p->stage, cap);
    if (!b)
        return SF_ENOMEM;
    p->stage = b;
    p->stage_cap = cap;
    return 0;
}

/* Frame one record into its partition's stage and give it an offset. */
static int stage_entry(sf_log *log, request *r, size_t i, const uint8_t *payload)
{
    partition *p = &log->parts[r->parts[i]];
    segment *seg = &p->segs[p->nsegs - 1];
    uint32_t len = r->lens[i];
    if (stage_reserve(p, ENTRY_HEADER + len) < 0)
        return SF_ENOMEM;
    uint64_t offset = p->write_next++;
    uint64_t pos = seg->size + p->stage_len;
    uint64_t last = p->stage_idx_len ? p->stage_idx[p->stage_idx_len - 1].pos
                    : seg->idx_len   ? seg->idx[seg->idx_len - 1].pos
                                     : 0;
    bool first = pos == 0 && seg->idx_len == 0 && p->stage_idx_len == 0;
    if ((first || pos / INDEX_INTERVAL != last / INDEX_INTERVAL) &&
        sf_index_push(&p->stage_idx, &p->stage_idx_len, &p->stage_idx_cap,
                      (index_point){(uint32_t)(offset - seg->base), (uint32_t)pos}) < 0)
        return SF_ENOMEM;
    uint8_t *h = p->stage + p->stage_len;
    sf_entry_header(h, len, sf_entry_checksum(offset, payload, len), offset);
    memcpy(h + ENTRY_HEADER, payload, len);
    p->stage_len += ENTRY_HEADER + len;
    sf_pos_from_u64(&r->positions[i], offset);
    return 0;
}

/* 0, or SF_EIO with errno set. */
static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t at)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errno = n < 0 ? errno : EIO; /* a short write of nothing */
            return SF_EIO;
        }
        buf += n;
        len -= (size_t)n;
        at += (uint64_t)n;
    }
    return 0;
}

static void record_fsync(sf_log *log, double seconds)
{
    pthread_mutex_lock(&log->mu);
    sf_stream_stats_latency(&log->stats, seconds);
    pthread_mutex_unlock(&log->mu);
}

/* Write each touched partition's stage, then sync them all at once.
 * 0, or SF_EIO with msg. */
static int flush_stages(sf_log *log, const uint8_t *touched, char *msg, size_t cap)
{
    int fds[SF_STREAM_PARTITIONS_MAX];
    uint32_t which[SF_STREAM_PARTITIONS_MAX];
    double seconds[SF_STREAM_PARTITIONS_MAX];
    size_t n = 0;
    for (uint32_t i = 0; i < log->nparts; i++) {
        partition *p = &log->parts[i];
        segment *seg = &p->segs[p->nsegs - 1];
        if (!touched[i])
            continue;
        double waited = sf_zero_claim(log->zero, p, seg->size + p->stage_len);
        if (waited > 0) {
            pthread_mutex_lock(&log->mu);
            log->stats.prealloc_waits++;
            log->stats.prealloc_wait_seconds += waited;
            pthread_mutex_unlock(&log->mu);
        }
        if (pwrite_all(seg->fd, p->stage, p->stage_len, seg->size) < 0) {
            snprintf(msg, cap, "%s: write: %s", p->dir, strerror(errno));
            return SF_EIO;
        }
        fds[n] = seg->fd;
        which[n++] = i;
    }
    int err_no = 0;
    size_t failed = n;
    int rc = sf_syncpool_sync(log->sync, fds, n, seconds, &failed, &err_no);
    for (size_t k = 0; k < n; k++)
        if (k != failed)
            record_fsync(log, seconds[k]);
    if (rc < 0)
        snprintf(msg, cap, "%s: fdatasync: %s", log->parts[which[failed]].dir, strerror(err_no));
    return rc;
}

/* Undo a round: truncate what it wrote. Failing that, the log stops. */
static void rollback(sf_log *log, const uint8_t *touched)
{
    sf_zero_hold(log->zero);
    for (uint32_t i = 0; i < log->nparts; i++) {
        partition *p = &log->parts[i];
        segment *seg = &p->segs[p->nsegs - 1];
        if (!touched[i])
            continue;
        p->write_next = seg->next;
        p->stage_len = p->stage_idx_len = 0;
        seg->file = seg->size; /* the zeros past it are gone too */
        if (ftruncate(seg->fd, (off_t)seg->size) != 0 || fdatasync(seg->fd) != 0) {
            pthread_mutex_lock(&log->mu);
            log->failed = true;
            snprintf(log->failure, sizeof log->failure,
                     "%s: could not undo a failed write (%s); reopen the log to recover it", p->dir,
                     strerror(errno));
            pthread_mutex_unlock(&log->mu);
        }
    }
    sf_zero_release(log->zero);
}

/* Make a round's records visible: sizes, index, end offsets. */
static void publish(sf_log *log, const uint8_t *touched)
{
    for (uint32_t i = 0; i < log->nparts; i++) {
        partition *p = &log->parts[i];
        segment *seg = &p->segs[p->nsegs - 1];
        if (!touched[i])
            continue;
        for (size_t k = 0; k < p->stage_idx_len; k++)
            sf_segment_index_add(seg, p->stage_idx[k]);
        /* sf_partition_info_get and the zeroer read it from other threads
         * (seg->file may now be below it: this round wrote past the zeros) */
        __atomic_store_n(&seg->size, seg->size + p->stage_len, __ATOMIC_RELAXED);
        seg->next = p->write_next;
        p->stage_len = p->stage_idx_len = 0;
        atomic_store_explicit(&p->end, p->write_next, memory_order_release);
        if (log->ends)
            __atomic_store_n(&log->ends[i], p->write_next, __ATOMIC_RELEASE);
    }
}

/* Roll the touched partitions whose segment is full, then apply retention. */
static int roll_full(sf_log *log, const uint8_t *touched, sf_error *err)
{
    bool held = false;
    int rc = 0;
    for (uint32_t i = 0; i < log->nparts && rc == 0; i++) {
        partition *p = &log->parts[i];
        segment *seg = &p->segs[p->nsegs - 1];
        if (!touched[i] || seg->size < log->opts.segment_bytes)
            continue;
        if (!held) /* no zeros in flight while segments change */
            sf_zero_hold(log->zero);
        held = true;
        rc = sf_partition_roll(p, err);
        if (rc == 0)
            sf_partition_retain(p, log->opts.retention_bytes, log->opts.retention_seconds);
    }
    if (held)
        sf_zero_release(log->zero);
    return rc;
}

static int stage_all(sf_log *log, request *list)
{
    for (request *r = list; r; r = r->next) {
        size_t at = 0;
        for (size_t i = 0; i < r->n; i++) {
            int rc = stage_entry(log, r, i, r->data + at);
            if (rc < 0)
                return rc; /* SF_ENOMEM */
            at += r->lens[i];
        }
    }
    return 0;
}

static void commit_group(sf_log *log, request *list)
{
    char msg[SF_ERROR_MSG_MAX] = "";
    int status = 0;
    uint8_t *touched = calloc(log->nparts, 1);
    sf_error err = {0};
    size_t records = 0, bytes = 0, appends = 0;
    for (request *r = list; r; r = r->next, appends++)
        for (size_t i = 0; i < r->n; i++, records++)
            if (touched)
                touched[r->parts[i]] = 1;
    pthread_mutex_lock(&log->mu);
    bool failed = log->failed;
    snprintf(msg, sizeof msg, "%s", log->failure);
    pthread_mutex_unlock(&log->mu);
    if (failed) {
        status = SF_EFAILED;
    } else if (!touched) {
        status = SF_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory committing");
    } else if (roll_full(log, touched, &err) < 0) {
        status = err.code;
        snprintf(msg, sizeof msg, "%s", err.msg);
    } else if (stage_all(log, list) < 0) {
        rollback(log, touched);
        status = SF_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory committing");
    } else if (flush_stages(log, touched, msg, sizeof msg) < 0) {
        rollback(log, touched);
        status = SF_EIO;
    } else {
        for (uint32_t i = 0; i < log->nparts; i++)
            bytes += touched[i] ? log->parts[i].stage_len : 0;
        publish(log, touched);
    }
    free(touched);
    pthread_mutex_lock(&log->mu);
    log->stats.groups++;
    if (status == 0) {
        log->stats.appends += appends;
        log->stats.records += records;
        log->stats.bytes += bytes;
    } else {
        log->stats.failures += appends;
    }
    pthread_mutex_unlock(&log->mu);
    if (status) {
        char q[1024], m[1024];
        sf_logf(SF_LOG_ERROR, "log_append_failed", "dir=%s appends=%zu msg=%s",
                sf_logq(log->dir, q, sizeof q), appends, sf_logq(msg, m, sizeof m));
    }
    while (list) {
        request *next = list->next;
        list->done(list->ctx, status, list->parts, list->positions, status ? msg : NULL);
        request_free(log, list);
        list = next;
    }
    if (status == 0)
        sf_zero_kick(log->zero); /* the entries moved on: more zeros may be due */
}

static void *committer_main(void *arg)
{
    sf_log *log = arg;
    for (;;) {
        pthread_mutex_lock(&log->mu);
        while (!log->head && !log->stopping)
            pthread_cond_wait(&log->cv, &log->mu);
        request *list = log->head;
        log->head = log->tail = NULL;
        log->queued_bytes = 0;
        pthread_mutex_unlock(&log->mu);
        if (!list)
            break; /* stopping, and nothing left */
        if (log->opts.commit_delay_ms) {
            struct timespec ts = {log->opts.commit_delay_ms / 1000,
                                  (long)(log->opts.commit_delay_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        commit_group(log, list);
    }
    return NULL;
}

/* ---- reading and the rest -------------------------------------------- */

static uint64_t durable_end(sf_log *log, uint32_t i)
{
    partition *p = &log->parts[i];
    if (!log->opts.read_only)
        return atomic_load_explicit(&p->end, memory_order_acquire);
    if (log->ends)
        return __atomic_load_n(&log->ends[i], __ATOMIC_ACQUIRE);
    return atomic_load(&p->end); /* no writer ever ran here: what recovery found */
}

static int log_read(sf_stream *s, uint32_t partition_id, const sf_pos *at, sf_stream_batch *batch,
                    sf_error *err)
{
    sf_log *log = (sf_log *)s;
    uint64_t end = durable_end(log, partition_id), from;
    if (!sf_pos_u64(at, &from) || from > end) {
        char text[SF_POS_TEXT_MAX];
        sf_pos_format(at, text, sizeof text);
        return sf_error_set(err, SF_ERANGE, "offset %s is past the end (%llu) of partition %u",
                            text, (unsigned long long)end, partition_id);
    }
    return sf_partition_read(&log->parts[partition_id], from, end, batch, err);
}

static uint32_t log_partitions(const sf_stream *s)
{
    return ((const sf_log *)s)->nparts;
}

static int log_info(sf_stream *s, uint32_t i, sf_partition_info *out, sf_error *err)
{
    (void)err;
    sf_log *log = (sf_log *)s;
    uint64_t end = durable_end(log, i);
    sf_partition_info_get(&log->parts[i], end, out);
    sf_pos_from_u64(&out->end, end);
    return 0;
}

static int log_lag(sf_stream *s, uint32_t i, const sf_pos *from, sf_lag *out, sf_error *err)
{
    return sf_stream_offsets_lag(s, i, from, true, out, err);
}

static void log_stats(sf_stream *s, sf_stream_stats *out)
{
    sf_log *log = (sf_log *)s;
    pthread_mutex_lock(&log->mu);
    *out = log->stats;
    out->failed = log->failed;
    pthread_mutex_unlock(&log->mu);
    if (log->zero)
        sf_zero_stats(log->zero, &out->preallocs, &out->prealloc_seconds);
    for (uint32_t i = 0; i < log->nparts; i++) {
        out->hole_skips += atomic_load(&log->parts[i].hole_skips);
        out->hole_offsets += atomic_load(&log->parts[i].hole_offsets);
    }
}

static void log_close(sf_stream *s)
{
    sf_log *log = (sf_log *)s;
    if (log->committer_started) {
        pthread_mutex_lock(&log->mu);
        log->stopping = true;
        pthread_cond_signal(&log->cv);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->committer, NULL);
    }
    sf_zero_stop(log->zero); /* before the zeros are trimmed away */
    /* A clean close leaves each active segment holding its entries only.
     * Not a failed open: a partition recovery refused keeps every byte,
     * for `log repair`. */
    for (uint32_t i = 0; log->committer_started && i < log->nparts; i++) {
        partition *p = &log->parts[i];
        sf_error err = {0};
        if (p->dir && p->nsegs && sf_segment_trim(&p->segs[p->nsegs - 1], &err) < 0) {
            char q[1024];
            sf_logf(SF_LOG_WARN, "log_close_trim_failed", "msg=%s", sf_logq(err.msg, q, sizeof q));
        }
    }
    sf_syncpool_free(log->sync);
    for (uint32_t i = 0; log->parts && i < log->nparts; i++)
        if (log->parts[i].dir)
            sf_partition_close(&log->parts[i]);
    free(log->parts);
    sf_mark_close(log->mark); /* after the last store into it: synced once more */
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    pthread_cond_destroy(&log->cv);
    pthread_mutex_destroy(&log->mu);
    sf_freelist_destroy(&log->blocks);
    free(log->dir);
    free(log);
}

const sf_stream_ops sf_stream_local_ops = {
    .open = log_open,
    .append_async = log_append_async,
    .read = log_read,
    .partitions = log_partitions,
    .info = log_info,
    .lag = log_lag,
    .tail_start = sf_stream_offsets_tail_start,
    .stats = log_stats,
    .close = log_close,
    .end_is_witness = true,
};
