/*
 * zero.c - the local log's zero-filler thread (see zero.h for why and for
 * the rule that keeps it off the entries).
 *
 * Work is taken in steps: a partition whose zeroed space past its entries
 * falls under half of PREALLOC_AHEAD gets a target PREALLOC_AHEAD past them
 * (never past the segment size), reached chunk by chunk, then one fdatasync
 * makes the new file size durable, so that the commit thread's next
 * fdatasync finds no inode to write. A step's chunks are written one at a
 * time, with the lock released, so a claim waits for one chunk at most, and
 * only when the commit thread's writes have caught up with the zeros.
 *
 * A failure only costs speed (the next writes append, as without zeros):
 * what the failing chunk wrote is cut away and the partition is not tried
 * again before 2 MiB more entries. Each chunk must leave PREALLOC_HEADROOM
 * free on the file system.
 */
#define _GNU_SOURCE
#include "stream/local/zero.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/logline.h"
#include "core/progress.h"

/* The zeroer's view of one partition (under sf_zero.mu). */
typedef struct zpart {
    uint64_t floor;  /* the commit thread writes up to here: zeros only above */
    uint64_t target; /* the step under way reaches here (0: none) */
    double step_seconds;
    int fd; /* the zeroer's own descriptor of segment fd_base */
    uint64_t fd_base;
} zpart;

struct sf_zero {
    partition *parts;
    uint32_t n;
    uint64_t segment_bytes;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the zeroer waits for something to do */
    pthread_cond_t idle; /* claims and holds wait for a chunk to end */
    pthread_t thread;
    bool stopping;
    bool held;          /* between sf_zero_hold and sf_zero_release */
    bool busy;          /* a chunk (or a step's fdatasync) is in flight */
    uint32_t busy_part; /* ... in this partition */
    uint64_t busy_from; /* ... from this byte (UINT64_MAX: the fdatasync) */
    zpart *zp;
    uint64_t steps;
    double seconds;
};

static segment *active(const partition *p)
{
    return &p->segs[p->nsegs - 1];
}

/* Where p's entries (or the commit thread's claim) end. Under mu. */
static uint64_t floor_of(const sf_zero *z, uint32_t i)
{
    const segment *seg = active(&z->parts[i]);
    /* The commit thread stores size after each round (publish). */
    uint64_t size = __atomic_load_n(&seg->size, __ATOMIC_RELAXED);
    return z->zp[i].floor > size ? z->zp[i].floor : size;
}

/* Start a step for partition i if it needs one (less than half of
 * PREALLOC_AHEAD zeroed past its entries). Under mu. */
static bool step_due(sf_zero *z, uint32_t i, uint64_t *left)
{
    const segment *seg = active(&z->parts[i]);
    uint64_t floor = floor_of(z, i);
    uint64_t zeroed = seg->file > floor ? seg->file : floor;
    uint64_t target = floor + PREALLOC_AHEAD;
    if (target > z->segment_bytes)
        target = z->segment_bytes; /* the segment rolls there */
    *left = zeroed - floor;
    return zeroed < target && zeroed - floor < PREALLOC_AHEAD / 2 && floor >= seg->prealloc_retry;
}

/* The next chunk to write: a step under way first, else the partition
 * with the least zeroed space left. false when there is none. Under mu. */
static bool next_chunk(sf_zero *z, uint32_t *part, uint64_t *from, uint64_t *to)
{
    uint32_t best = z->n;
    uint64_t best_left = 0;
    for (uint32_t i = 0; i < z->n && best == z->n; i++)
        if (z->zp[i].target)
            best = i;
    for (uint32_t i = 0; i < z->n && best == z->n; i++) {
        uint64_t left;
        if (step_due(z, i, &left) && (best == z->n || left < best_left)) {
            best = i;
            best_left = left;
        }
    }
    if (best == z->n)
        return false;
    zpart *zp = &z->zp[best];
    const segment *seg = active(&z->parts[best]);
    uint64_t floor = floor_of(z, best);
    if (!zp->target) {
        zp->target =
            floor + PREALLOC_AHEAD < z->segment_bytes ? floor + PREALLOC_AHEAD : z->segment_bytes;
        zp->step_seconds = 0;
    }
    *part = best;
    *from = seg->file > floor ? seg->file : floor;
    *to = *from + ZERO_CHUNK < zp->target ? *from + ZERO_CHUNK : zp->target;
    return true;
}

/* Open the zeroer's own descriptor of partition i's active segment. */
static int own_fd(sf_zero *z, uint32_t i, uint64_t base)
{
    zpart *zp = &z->zp[i];
    if (zp->fd >= 0 && zp->fd_base == base)
        return zp->fd;
    if (zp->fd >= 0)
        close(zp->fd);
    char path[4096];
    snprintf(path, sizeof path, "%s/%020llu.seg", z->parts[i].dir, (unsigned long long)base);
    zp->fd = open(path, O_WRONLY | O_CLOEXEC);
    zp->fd_base = base;
    return zp->fd;
}

/* Write zeros over [from, to) of fd and push them to the disk. 0, or
 * SF_EIO with a message. */
static int write_zeros(int fd, uint64_t from, uint64_t to, char *msg, size_t cap)
{
    static const uint8_t zeros[64 * 1024];
    struct statvfs fs;
    if (fstatvfs(fd, &fs) == 0 &&
        (uint64_t)fs.f_bavail * fs.f_frsize < to - from + PREALLOC_HEADROOM) {
        snprintf(msg, cap, "not preallocated: %llu KiB free, under the %u MiB kept free",
                 (unsigned long long)((uint64_t)fs.f_bavail * fs.f_frsize >> 10),
                 PREALLOC_HEADROOM >> 20);
        return SF_EIO;
    }
    for (uint64_t at = from; at < to;) {
        size_t n = to - at < sizeof zeros ? (size_t)(to - at) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(msg, cap, "cannot preallocate: %s", w < 0 ? strerror(errno) : "short write");
            return SF_EIO;
        }
        at += (uint64_t)w;
    }
    if (sync_file_range(fd, (off_t)from, (off_t)(to - from),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        snprintf(msg, cap, "cannot preallocate: sync_file_range: %s", strerror(errno));
        return SF_EIO;
    }
    return 0;
}

/* A chunk of partition i failed (mu held, still busy): cut what it wrote
 * (nothing of the commit thread's is at or past from, see zero.h) and
 * leave the partition alone for 2 MiB of entries. */
static void chunk_failed(sf_zero *z, uint32_t i, int fd, uint64_t from, const char *msg)
{
    segment *seg = active(&z->parts[i]);
    if (fd >= 0 && ftruncate(fd, (off_t)from) != 0) {
        /* harmless: the zeros past the entries are unused space either way */
    }
    if (seg->file > from)
        seg->file = from;
    seg->prealloc_retry = floor_of(z, i) + PREALLOC_AHEAD / 2;
    z->zp[i].target = 0;
    char q[1024], m[1024];
    sf_logf(SF_LOG_WARN, "log_prealloc_failed", "dir=%s partition=%u msg=%s",
            sf_logq(z->parts[i].dir, q, sizeof q), i, sf_logq(msg, m, sizeof m));
}

/* The chunk [from, to) of partition i is written (mu held, busy): count
 * it, and end the step with an fdatasync when it reached its target. */
static void chunk_done(sf_zero *z, uint32_t i, int fd, uint64_t to, double seconds)
{
    zpart *zp = &z->zp[i];
    active(&z->parts[i])->file = to;
    zp->step_seconds += seconds;
    if (to < zp->target)
        return;
    z->busy_from = UINT64_MAX; /* a claim need not wait for the sync */
    pthread_mutex_unlock(&z->mu);
    double t0 = sf_monotonic();
    int rc = fdatasync(fd); /* a failure costs only speed: the commit's own sync covers it */
    double t = sf_monotonic() - t0;
    pthread_mutex_lock(&z->mu);
    (void)rc;
    zp->target = 0;
    z->steps++;
    z->seconds += zp->step_seconds + t;
}

static void *zero_main(void *arg)
{
    sf_zero *z = arg;
    pthread_mutex_lock(&z->mu);
    while (!z->stopping) {
        uint32_t i;
        uint64_t from, to;
        if (z->held || !next_chunk(z, &i, &from, &to)) {
            pthread_cond_wait(&z->work, &z->mu);
            continue;
        }
        uint64_t base = active(&z->parts[i])->base;
        z->busy = true;
        z->busy_part = i;
        z->busy_from = from;
        pthread_mutex_unlock(&z->mu);
        /* Unlocked: the commit thread writes below `from` meanwhile, and
         * nothing rolls or cuts this segment while busy. */
        char msg[256] = "";
        double t0 = sf_monotonic();
        int fd = own_fd(z, i, base), rc = SF_EIO;
        if (fd < 0)
            snprintf(msg, sizeof msg, "cannot open the segment: %s", strerror(errno));
        else
            rc = write_zeros(fd, from, to, msg, sizeof msg);
        double seconds = sf_monotonic() - t0;
        pthread_mutex_lock(&z->mu);
        if (rc == 0)
            chunk_done(z, i, fd, to, seconds);
        else
            chunk_failed(z, i, fd, from, msg);
        z->busy = false;
        pthread_cond_broadcast(&z->idle);
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

int sf_zero_start(partition *parts, uint32_t n, uint64_t segment_bytes, sf_zero **out,
                  sf_error *err)
{
    sf_zero *z = calloc(1, sizeof *z);
    if (!z || !(z->zp = calloc(n, sizeof *z->zp))) {
        free(z);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    z->parts = parts;
    z->n = n;
    z->segment_bytes = segment_bytes;
    for (uint32_t i = 0; i < n; i++)
        z->zp[i].fd = -1;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->work, NULL);
    pthread_cond_init(&z->idle, NULL);
    if (pthread_create(&z->thread, NULL, zero_main, z) != 0) {
        pthread_cond_destroy(&z->work);
        pthread_cond_destroy(&z->idle);
        pthread_mutex_destroy(&z->mu);
        free(z->zp);
        free(z);
        return sf_error_set(err, SF_ENOMEM, "cannot start the zero-fill thread");
    }
    *out = z;
    return 0;
}

double sf_zero_claim(sf_zero *z, partition *p, uint64_t end)
{
    double waited = 0;
    pthread_mutex_lock(&z->mu);
    if (z->busy && z->busy_part == p->id && z->busy_from < end) {
        double t0 = sf_monotonic();
        while (z->busy && z->busy_part == p->id && z->busy_from < end)
            pthread_cond_wait(&z->idle, &z->mu);
        waited = sf_monotonic() - t0;
    }
    if (end > z->zp[p->id].floor)
        z->zp[p->id].floor = end;
    pthread_mutex_unlock(&z->mu);
    return waited;
}

void sf_zero_kick(sf_zero *z)
{
    pthread_mutex_lock(&z->mu);
    pthread_cond_signal(&z->work);
    pthread_mutex_unlock(&z->mu);
}

void sf_zero_hold(sf_zero *z)
{
    pthread_mutex_lock(&z->mu);
    z->held = true;
    while (z->busy)
        pthread_cond_wait(&z->idle, &z->mu);
}

void sf_zero_release(sf_zero *z)
{
    /* Rolls and rollbacks move the entries' end back (a new segment, a cut
     * round): claims start again from there, steps from scratch. */
    for (uint32_t i = 0; i < z->n; i++) {
        z->zp[i].floor = active(&z->parts[i])->size;
        z->zp[i].target = 0;
    }
    z->held = false;
    pthread_cond_signal(&z->work);
    pthread_mutex_unlock(&z->mu);
}

void sf_zero_stats(sf_zero *z, uint64_t *steps, double *seconds)
{
    pthread_mutex_lock(&z->mu);
    *steps = z->steps;
    *seconds = z->seconds;
    pthread_mutex_unlock(&z->mu);
}

void sf_zero_stop(sf_zero *z)
{
    if (!z)
        return;
    pthread_mutex_lock(&z->mu);
    z->stopping = true;
    pthread_cond_signal(&z->work);
    pthread_mutex_unlock(&z->mu);
    pthread_join(z->thread, NULL);
    for (uint32_t i = 0; i < z->n; i++)
        if (z->zp[i].fd >= 0)
            close(z->zp[i].fd);
    pthread_cond_destroy(&z->work);
    pthread_cond_destroy(&z->idle);
    pthread_mutex_destroy(&z->mu);
    free(z->zp);
    free(z);
}
