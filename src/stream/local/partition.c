/*
 * partition.c - one partition of the local log: its folder of segments,
 * recovery on open, reads, rolling to a new segment, retention.
 *
 * Reads run concurrently with the commit thread: they take the segment list
 * under a read lock, and never look past the durable end they are given, so
 * they need nothing else from the writer. A reader in another process may
 * meet segments created after it opened; it picks them up from the folder
 * when it reaches the end of the ones it knows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/pack.h"
#include "stream/local/local.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Base offsets of the segments in dir, sorted; *n of them. Caller frees. */
static int list_bases(const char *dir, uint64_t **out, size_t *n, sf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return sf_error_set(err, SF_EIO, "%s: %s", dir, strerror(errno));
    uint64_t *bases = NULL;
    size_t len = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long base;
        char ext[8];
        if (strlen(e->d_name) != 24 || sscanf(e->d_name, "%20llu.%3s", &base, ext) != 2 ||
            strcmp(ext, "seg") != 0)
            continue;
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nb = realloc(bases, cap * sizeof *nb);
            if (!nb) {
                free(bases);
                closedir(d);
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            }
            bases = nb;
        }
        bases[len++] = base;
    }
    closedir(d);
    if (len > 1)
        qsort(bases, len, sizeof *bases, cmp_u64);
    *out = bases;
    *n = len;
    return 0;
}

static int push_segment(partition *p, const segment *seg)
{
    if (p->nsegs == p->segs_cap) {
        size_t cap = p->segs_cap ? p->segs_cap * 2 : 8;
        segment *s = realloc(p->segs, cap * sizeof *s);
        if (!s)
            return SF_ENOMEM;
        p->segs = s;
        p->segs_cap = cap;
    }
    p->segs[p->nsegs++] = *seg;
    return 0;
}

/* Open (and validate) the segments in bases[] not yet known. */
/* Re-read the size and the whole entries of the last known segment. */
static int rescan_last(partition *p, recovery_note *note, sf_error *err)
{
    segment *last = &p->segs[p->nsegs - 1];
    struct stat st;
    if (fstat(last->fd, &st) != 0)
        return sf_error_set(err, SF_EIO, "%s: %s", p->dir, strerror(errno));
    uint64_t size = last->size;
    last->size = (uint64_t)st.st_size;
    int rc = sf_segment_recover(last, false, note, err);
    if (rc < 0)
        last->size = size;
    return rc;
}

static int open_segments(partition *p, const uint64_t *bases, size_t n, recovery_note *note,
                         sf_error *err)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        if (p->nsegs && bases[i] <= p->segs[p->nsegs - 1].base)
            continue;
        /* A reader's last segment may have grown since it was opened. */
        if (p->read_only && p->nsegs && (rc = rescan_last(p, note, err)) < 0)
            return rc;
        segment seg;
        rc = sf_segment_open(p->dir, bases[i], p->read_only, &seg, err);
        if (rc == 0)
            rc = sf_segment_recover(&seg, !p->read_only, note, err);
        if (rc == 0 && p->nsegs && p->segs[p->nsegs - 1].next != seg.base)
            rc = sf_error_set(err, SF_ECORRUPT,
                              "%s: segment %llu ends at offset %llu but the next starts at %llu",
                              p->dir, (unsigned long long)p->segs[p->nsegs - 1].base,
                              (unsigned long long)p->segs[p->nsegs - 1].next,
                              (unsigned long long)seg.base);
        if (rc == 0 && push_segment(p, &seg) < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        if (rc < 0) {
            sf_segment_close(&seg);
            return rc;
        }
    }
    return 0;
}

int sf_partition_open(partition *p, const char *logdir, uint32_t id, bool read_only,
                      recovery_note *note, sf_error *err)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    p->read_only = read_only;
    pthread_rwlock_init(&p->lock, NULL);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/p%04u", logdir, id);
    if (!(p->dir = strdup(dir)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (!read_only && mkdir(dir, 0755) == 0 && sf_fsync_dir(logdir) != 0)
        return sf_error_set(err, SF_EIO, "%s: %s", logdir, strerror(errno));
    uint64_t *bases;
    size_t n;
    int rc = list_bases(dir, &bases, &n, err);
    if (rc < 0)
        return rc;
    rc = open_segments(p, bases, n, note, err);
    free(bases);
    if (rc < 0)
        return rc;
    if (p->nsegs == 0 && !read_only) {
        segment seg;
        if ((rc = sf_segment_create(dir, 0, &seg, err)) < 0)
            return rc;
        if (push_segment(p, &seg) < 0 || sf_fsync_dir(dir) != 0)
            return sf_error_set(err, SF_EIO, "%s: cannot create the first segment", dir);
    }
    p->write_next = p->nsegs ? p->segs[p->nsegs - 1].next : 0;
    atomic_store(&p->end, p->write_next);
    return 0;
}

void sf_partition_close(partition *p)
{
    for (size_t i = 0; i < p->nsegs; i++)
        sf_segment_close(&p->segs[i]);
    free(p->segs);
    free(p->dir);
    free(p->stage);
    free(p->stage_idx);
    pthread_rwlock_destroy(&p->lock);
    memset(p, 0, sizeof *p);
}

/* The index of the segment holding offset (the last with base <= offset). */
static size_t find_segment(const partition *p, uint64_t offset)
{
    size_t lo = 0, hi = p->nsegs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->segs[mid].base <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Parse whole entries from buf[0..len) into the batch, starting at offset
 * *at. Returns the bytes used; stops at `end`, a full batch or a partial
 * entry. SF_ECORRUPT on a checksum or sequence failure. */
static long parse_entries(sf_stream_batch *b, uint8_t *buf, size_t len, uint64_t *at, uint64_t end,
                          sf_error *err)
{
    size_t used = 0;
    while (b->count < b->cap && *at < end && len - used >= ENTRY_HEADER) {
        const uint8_t *h = buf + used;
        uint32_t plen = get32(h);
        uint64_t off = (uint64_t)get32(h + 8) | (uint64_t)get32(h + 12) << 32;
        if (plen == 0 || plen > SF_PACK_MAX || off != *at)
            return sf_error_set(err, SF_ECORRUPT, "entry %llu is damaged (length %u, offset %llu)",
                                (unsigned long long)*at, plen, (unsigned long long)off);
        if (len - used < ENTRY_HEADER + (size_t)plen)
            break;
        if (sf_entry_checksum(off, h + ENTRY_HEADER, plen) != get32(h + 4))
            return sf_error_set(err, SF_ECORRUPT, "entry %llu fails its checksum",
                                (unsigned long long)off);
        b->entries[b->count++] = (sf_stream_entry){off, h + ENTRY_HEADER, plen};
        used += ENTRY_HEADER + plen;
        (*at)++;
    }
    return (long)used;
}

/* For a reader in another process: open segments created since. */
static int refresh(partition *p, sf_error *err)
{
    uint64_t *bases;
    size_t n;
    int rc = list_bases(p->dir, &bases, &n, err);
    if (rc == 0) {
        pthread_rwlock_wrlock(&p->lock);
        rc = open_segments(p, bases, n, NULL, err);
        pthread_rwlock_unlock(&p->lock);
        free(bases);
    }
    return rc;
}

/* Read from segment si starting at position pos: fills the batch from
 * b->buf + *fill on. Returns 1 to go on to the next segment, 0 to stop. */
static int read_segment(partition *p, size_t si, uint64_t pos, uint64_t *at, uint64_t end,
                        sf_stream_batch *b, size_t *fill, sf_error *err)
{
    segment *seg = &p->segs[si];
    for (;;) {
        size_t room = b->buf_cap - *fill;
        ssize_t n = pread(seg->fd, b->buf + *fill, room, (off_t)pos);
        if (n < 0)
            return sf_error_set(err, SF_EIO, "%s: read: %s", p->dir, strerror(errno));
        long used = parse_entries(b, b->buf + *fill, (size_t)n, at, end, err);
        if (used < 0)
            return (int)used;
        *fill += (size_t)used;
        pos += (uint64_t)used;
        if (b->count == b->cap || *at >= end)
            return 0;
        if (used == 0)
            return (size_t)n < room ? 1 : 0; /* end of this segment, or batch full */
    }
}

int sf_partition_read(partition *p, uint64_t from, uint64_t end, sf_stream_batch *b, sf_error *err)
{
    b->count = 0;
    b->next_offset = from;
    if (from >= end)
        return 0;
    pthread_rwlock_rdlock(&p->lock);
    if (p->nsegs == 0 || from < p->segs[0].base) {
        b->next_offset = p->nsegs ? p->segs[0].base : 0;
        pthread_rwlock_unlock(&p->lock);
        return sf_error_set(err, SF_ERANGE, "offset %llu of partition %u was removed (retention)",
                            (unsigned long long)from, p->id);
    }
    size_t si = find_segment(p, from), fill = 0;
    uint64_t pos, at = from;
    int rc = sf_segment_locate(&p->segs[si], from, &pos, err);
    while (rc == 0) {
        rc = read_segment(p, si, pos, &at, end, b, &fill, err);
        if (rc != 1)
            break;
        if (si + 1 >= p->nsegs && p->read_only) {
            pthread_rwlock_unlock(&p->lock);
            rc = refresh(p, err);
            pthread_rwlock_rdlock(&p->lock);
        }
        if (rc < 0 || si + 1 >= p->nsegs || p->segs[si + 1].base != at)
            break;
        si++;
        pos = 0;
        rc = 0;
    }
    pthread_rwlock_unlock(&p->lock);
    b->next_offset = at;
    return rc < 0 ? rc : 0;
}

int sf_partition_roll(partition *p, sf_error *err)
{
    segment *last = &p->segs[p->nsegs - 1];
    /* A closed segment holds its entries only: readers then go from its
     * last entry straight to the next segment, never meeting zeros. */
    int rc = sf_segment_trim(last, err);
    if (rc < 0)
        return rc;
    if (fdatasync(last->fd) != 0 || (last->idx_fd >= 0 && fdatasync(last->idx_fd) != 0))
        return sf_error_set(err, SF_EIO, "%s: fdatasync: %s", p->dir, strerror(errno));
    last->mtime = time(NULL); /* retention by age counts from the last write */
    segment seg;
    rc = sf_segment_create(p->dir, p->write_next, &seg, err);
    if (rc < 0)
        return rc;
    if (sf_fsync_dir(p->dir) != 0) {
        sf_segment_close(&seg);
        return sf_error_set(err, SF_EIO, "%s: fsync: %s", p->dir, strerror(errno));
    }
    pthread_rwlock_wrlock(&p->lock);
    rc = push_segment(p, &seg);
    pthread_rwlock_unlock(&p->lock);
    if (rc < 0) {
        sf_segment_close(&seg);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

static void remove_segment_files(const partition *p, uint64_t base)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%020llu.seg", p->dir, (unsigned long long)base);
    unlink(path);
    snprintf(path, sizeof path, "%s/%020llu.idx", p->dir, (unsigned long long)base);
    unlink(path);
}

void sf_partition_retain(partition *p, uint64_t max_bytes, uint64_t max_age_seconds)
{
    if (!max_bytes && !max_age_seconds)
        return;
    uint64_t total = 0;
    for (size_t i = 0; i < p->nsegs; i++)
        total += p->segs[i].size;
    time_t now = time(NULL);
    size_t drop = 0;
    /* Never the segment being written. */
    while (drop + 1 < p->nsegs) {
        const segment *s = &p->segs[drop];
        bool too_big = max_bytes && total > max_bytes;
        bool too_old = max_age_seconds && (uint64_t)(now - s->mtime) > max_age_seconds;
        if (!too_big && !too_old)
            break;
        total -= s->size;
        drop++;
    }
    if (!drop)
        return;
    pthread_rwlock_wrlock(&p->lock);
    for (size_t i = 0; i < drop; i++) {
        remove_segment_files(p, p->segs[i].base);
        sf_segment_close(&p->segs[i]);
    }
    memmove(p->segs, p->segs + drop, (p->nsegs - drop) * sizeof *p->segs);
    p->nsegs -= drop;
    pthread_rwlock_unlock(&p->lock);
    sf_fsync_dir(p->dir);
}

/* A reader's last segment may have grown since it was opened: count the
 * entries written since, up to the durable end (header by header, from
 * where the last count stopped, so each call reads only what is new). */
static void count_new_entries(partition *p, uint64_t end)
{
    pthread_rwlock_wrlock(&p->lock);
    segment *last = &p->segs[p->nsegs - 1];
    while (last->next < end) {
        uint8_t h[ENTRY_HEADER];
        if (pread(last->fd, h, ENTRY_HEADER, (off_t)last->size) != ENTRY_HEADER)
            break;
        uint32_t len = get32(h);
        uint64_t off = (uint64_t)get32(h + 8) | (uint64_t)get32(h + 12) << 32;
        if (len == 0 || len > SF_PACK_MAX || off != last->next)
            break; /* the end is in a later segment (or damage, which reads report) */
        last->size += ENTRY_HEADER + len;
        last->next++;
    }
    pthread_rwlock_unlock(&p->lock);
}

void sf_partition_info_get(partition *p, uint64_t end, sf_partition_info *out)
{
    if (p->read_only && p->nsegs)
        count_new_entries(p, end);
    pthread_rwlock_rdlock(&p->lock);
    out->start_offset = p->nsegs ? p->segs[0].base : 0;
    out->end_offset = atomic_load(&p->end);
    out->segments = (uint32_t)p->nsegs;
    out->bytes = 0;
    /* Bytes of entries, not of files (the active one has zeros past them). */
    for (size_t i = 0; i < p->nsegs; i++) /* the writer's commit thread stores it */
        out->bytes += __atomic_load_n(&p->segs[i].size, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&p->lock);
}
