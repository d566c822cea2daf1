/*
 * mark.c - the acknowledged mark, DIR/ends (see mark.h and local.h).
 *
 * The commit thread only ever stores into the mapping (an atomic store,
 * as before); everything that makes the file durable happens here, on a
 * thread that wakes once every MARK_SYNC_MS, compares the mapping with
 * what it synced last (at most SF_STREAM_PARTITIONS_MAX words) and msyncs
 * it when it changed. msync(MS_SYNC) of a shared file mapping writes the
 * dirty page and syncs that range of the file: one small write a second,
 * whatever the append rate.
 */
#include "stream/local/mark.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/logline.h"

/* A mark above this is not an offset a log reached (2^48 records), but
 * damage in the file: ignored rather than believed. */
#define MARK_PLAUSIBLE (UINT64_C(1) << 48)

struct sf_mark {
    char *path;
    uint64_t *ends; /* the mapping */
    size_t bytes;
    uint32_t n;
    bool writer;
    uint64_t *synced; /* the syncing thread's: what it last made durable */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started, warned;
    pthread_t thread;
};

/* Copy the marks the file holds before anyone stores into it. */
static void snapshot(const sf_mark *m, uint64_t *acked)
{
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t v = __atomic_load_n(&m->ends[i], __ATOMIC_ACQUIRE);
        if (v >= MARK_PLAUSIBLE) {
            char q[1024];
            sf_logf(SF_LOG_WARN, "log_mark_implausible",
                    "file=%s partition=%u mark=%llu msg=\"not an offset (a damaged file): "
                    "ignored\"",
                    sf_logq(m->path, q, sizeof q), i, (unsigned long long)v);
            v = 0;
        }
        acked[i] = v;
    }
}

/* Map the ends file into m->ends. A reader without a usable one (none, or
 * too short) gets 0 and m->ends NULL: it scans instead. */
static int map_file(sf_mark *m, bool *existed, sf_error *err)
{
    *existed = access(m->path, F_OK) == 0;
    int fd =
        open(m->path, m->writer ? (O_RDWR | O_CREAT | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC), 0644);
    if (fd < 0)
        return !m->writer && errno == ENOENT
                   ? 0
                   : sf_error_set(err, SF_EIO, "%s: %s", m->path, strerror(errno));
    struct stat st;
    if (m->writer && ftruncate(fd, (off_t)m->bytes) != 0) {
        close(fd);
        return sf_error_set(err, SF_EIO, "%s: %s", m->path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < m->bytes) {
        close(fd);
        return 0; /* a reader without a usable ends file scans instead */
    }
    void *p =
        mmap(NULL, m->bytes, m->writer ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return sf_error_set(err, SF_EIO, "%s: mmap: %s", m->path, strerror(errno));
    m->ends = p;
    return 0;
}

static void mark_free(sf_mark *m)
{
    if (m->ends)
        munmap(m->ends, m->bytes);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m->synced);
    free(m->path);
    free(m);
}

int sf_mark_open(const char *dir, uint32_t n, bool read_only, sf_mark **out, uint64_t *acked,
                 bool *existed, sf_error *err)
{
    *out = NULL;
    memset(acked, 0, n * sizeof *acked);
    sf_mark *m = calloc(1, sizeof *m);
    size_t plen = strlen(dir) + sizeof "/ends";
    if (!m || !(m->path = malloc(plen)) || !(m->synced = calloc(n, sizeof *m->synced))) {
        if (m) {
            free(m->path);
            free(m);
        }
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    snprintf(m->path, plen, "%s/ends", dir);
    m->n = n;
    m->bytes = n * sizeof(uint64_t);
    m->writer = !read_only;
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = map_file(m, existed, err);
    if (rc < 0 || !m->ends) {
        mark_free(m);
        return rc;
    }
    snapshot(m, acked);
    /* Nothing known synced: a writer killed before it synced its last
     * stores left them in the page cache only, so the first look syncs. */
    memset(m->synced, 0xff, m->bytes);
    *out = m;
    return 0;
}

uint64_t *sf_mark_ends(sf_mark *m)
{
    return m ? m->ends : NULL;
}

/* msync the mapping if it moved since the last time. */
static void sync_if_moved(sf_mark *m)
{
    bool moved = false;
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t v = __atomic_load_n(&m->ends[i], __ATOMIC_ACQUIRE);
        moved |= v != m->synced[i];
        m->synced[i] = v; /* what the msync below writes, or more */
    }
    if (moved && msync(m->ends, m->bytes, MS_SYNC) != 0 && !m->warned) {
        char q[1024];
        m->warned = true; /* once: the mark is a witness, the records are synced */
        sf_logf(SF_LOG_WARN, "log_mark_sync_failed", "file=%s error=\"%s\"",
                sf_logq(m->path, q, sizeof q), strerror(errno));
    }
}

static void *syncer_main(void *arg)
{
    sf_mark *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += MARK_SYNC_MS / 1000;
        t.tv_nsec += (long)(MARK_SYNC_MS % 1000) * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &t);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->mu);
        sync_if_moved(m);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int sf_mark_start(sf_mark *m, sf_error *err)
{
    if (pthread_create(&m->thread, NULL, syncer_main, m) != 0)
        return sf_error_set(err, SF_ENOMEM, "cannot start the thread that syncs %s", m->path);
    m->started = true;
    return 0;
}

void sf_mark_close(sf_mark *m)
{
    if (!m)
        return;
    if (m->started) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->thread, NULL);
    }
    if (m->writer)
        sync_if_moved(m);
    mark_free(m);
}
