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
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/logline.h"
#include "core/pack.h"
#include "stream/local/local.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int sf_partition_bases(const char *dir, uint64_t **out, size_t *n, sf_error *err)
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

void sf_log_repair_hint(const char *logdir, char *out, size_t cap)
{
    size_t n = strlen(logdir);
    while (n > 1 && logdir[n - 1] == '/')
        n--;
    const char *opt = "--stream";
    int keep = (int)n;
    if (n >= 4 && strncmp(logdir + n - 4, "/log", 4) == 0) {
        opt = "--data"; /* a data folder's own log: name the folder */
        keep = (int)n - 4;
    } else if (n == 3 && strncmp(logdir, "log", 3) == 0) {
        opt = "--data";
        keep = 1;
        logdir = ".";
    }
    snprintf(out, cap,
             "run `shopflow log verify %s %.*s` to see the damage, and `shopflow log repair %s "
             "%.*s` to restore it from the archive (docs/operations.md, \"When a disk goes bad\")",
             opt, keep, logdir, opt, keep, logdir);
}

/* An SF_ECORRUPT error about segment `base` of p: "partition P, FILE: what;
 * run `shopflow log verify` ...". */
static int damaged(const partition *p, uint64_t base, sf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int damaged(const partition *p, uint64_t base, sf_error *err, const char *fmt, ...)
{
    char what[256], hint[1024], logdir[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(logdir, sizeof logdir, "%s", p->dir);
    char *slash = strrchr(logdir, '/');
    if (slash)
        *slash = '\0';
    sf_log_repair_hint(slash ? logdir : ".", hint, sizeof hint);
    return sf_error_set(err, SF_ECORRUPT, "partition %u, %s/%020llu.seg: %s; %s", p->id, p->dir,
                        (unsigned long long)base, what, hint);
}

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

/* Open (and validate) the segments in bases[] not yet known. Nothing is
 * cut here: a writer settles them once recovery is accepted. */
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
            rc = sf_segment_recover(&seg, false, note, err);
        const segment *prev = p->nsegs ? &p->segs[p->nsegs - 1] : NULL;
        if (rc == 0 && prev && prev->next != seg.base)
            rc = damaged(p, prev->base, err,
                         "its entries end at offset %llu (byte %llu) but the next segment starts "
                         "at %llu: offsets %llu to %llu are missing",
                         (unsigned long long)prev->next, (unsigned long long)prev->size,
                         (unsigned long long)seg.base, (unsigned long long)prev->next,
                         (unsigned long long)seg.base - 1);
        if (rc == 0 && push_segment(p, &seg) < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        if (rc < 0) {
            sf_segment_close(&seg);
            return rc;
        }
    }
    return 0;
}

/* "record" or "records". */
static const char *records(uint64_t n)
{
    return n == 1 ? "record" : "records";
}

/* Why the entries of seg end at seg->size below the mark: cut short, or
 * damaged. */
static void why_they_end(const segment *seg, char *out, size_t cap)
{
    uint8_t buf[ENTRY_HEADER + SF_PACK_MAX];
    entry_view e;
    ssize_t n = pread(seg->fd, buf, sizeof buf, (off_t)seg->size);
    if (n <= 0)
        snprintf(out, cap, "the file ends at byte %llu", (unsigned long long)seg->size);
    else if (n < ENTRY_HEADER ||
             (sf_entry_header_parse(buf, &e) && e.offset == seg->next && (size_t)n < e.size))
        snprintf(out, cap,
                 "the entry at offset %llu (byte %llu) is cut short: the file ends at "
                 "byte %llu",
                 (unsigned long long)seg->next, (unsigned long long)seg->size,
                 (unsigned long long)(seg->size + (uint64_t)n));
    else if (sf_entry_header_parse(buf, &e) && e.offset == seg->next)
        snprintf(out, cap, "the entry at offset %llu (byte %llu) fails its checksum",
                 (unsigned long long)seg->next, (unsigned long long)seg->size);
    else
        snprintf(out, cap, "the entry at offset %llu (byte %llu) is damaged",
                 (unsigned long long)seg->next, (unsigned long long)seg->size);
}

/* Recovery found less than the mark: acknowledged records are lost. A
 * writer refuses (before cutting anything: `log repair` needs the bytes);
 * a reader notes it, and its reads stop there with the same words. */
static int below_mark(partition *p, const recovery_note *note, sf_error *err)
{
    const segment *last = &p->segs[p->nsegs - 1];
    uint64_t from = last->next, count = note->acked - last->next;
    if (p->read_only) {
        p->missing = count;
        return 0;
    }
    char why[160];
    why_they_end(last, why, sizeof why);
    return damaged(p, last->base, err,
                   "%s, but offsets %llu to %llu (%llu %s) were acknowledged: acknowledged "
                   "records are lost",
                   why, (unsigned long long)from, (unsigned long long)note->acked - 1,
                   (unsigned long long)count, records(count));
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
    if (!read_only && mkdir(dir, 0755) == 0 && sf_fsync_dir(logdir, err) < 0)
        return SF_EIO;
    /* Another mkdir failure (EEXIST is the folder there already) is
     * reported by the listing of the folder, next. */
    uint64_t *bases;
    size_t n;
    int rc = sf_partition_bases(dir, &bases, &n, err);
    if (rc < 0)
        return rc;
    rc = open_segments(p, bases, n, note, err);
    free(bases);
    if (rc < 0)
        return rc;
    if (p->nsegs) {
        const segment *last = &p->segs[p->nsegs - 1];
        note->found_end = last->next;
        note->tail_base = last->base;
        note->tail_pos = last->size;
        note->tail_file = last->file;
        if (note->acked > last->next && (rc = below_mark(p, note, err)) < 0)
            return rc;
    } else if (note->acked > 0) {
        if (read_only)
            p->missing = note->acked;
        else
            return damaged(p, 0, err, "no segment at all, but offsets 0 to %llu were acknowledged",
                           (unsigned long long)note->acked - 1);
    }
    for (size_t i = 0; !read_only && i < p->nsegs; i++) {
        note->index_rebuilt |= p->segs[i].idx_dirty;
        if ((rc = sf_segment_settle(&p->segs[i], err)) < 0)
            return rc;
    }
    if (p->nsegs == 0 && !read_only) {
        segment seg;
        if ((rc = sf_segment_create(dir, 0, &seg, err)) < 0)
            return rc;
        if (push_segment(p, &seg) < 0)
            return sf_error_set(err, SF_ENOMEM, "%s: out of memory for the first segment", dir);
        if ((rc = sf_fsync_dir(dir, err)) < 0)
            return rc;
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

/* Where a read is: the segment, its byte position and offset, and why it
 * stopped early (a hole ahead, or one it skipped). */
typedef struct cursor {
    size_t si;
    uint64_t pos, at, end;
    bool stop;
} cursor;

/* Parse whole entries from buf[0..len), at c->pos in segment c->si, into
 * the batch; *consumed is the bytes used. Stops at the end, a full batch, a
 * partial entry or a hole (c->stop: one that starts the read is skipped
 * into b->hole). SF_ECORRUPT, naming file and byte, on damage. */
static int parse_entries(partition *p, cursor *c, sf_stream_batch *b, uint8_t *buf, size_t len,
                         size_t *consumed, sf_error *err)
{
    const segment *seg = &p->segs[c->si];
    size_t used = 0;
    *consumed = 0;
    while (b->count < b->cap && c->at < c->end && len - used >= ENTRY_HEADER) {
        entry_view e;
        uint64_t byte = c->pos + used;
        bool sane = sf_entry_header_parse(buf + used, &e);
        if (!sane || (e.hole ? e.offset > c->at : e.offset != c->at))
            return damaged(p, seg->base, err,
                           "the entry at offset %llu (byte %llu) is damaged: its header does not "
                           "check out (length %u, offset %llu)",
                           (unsigned long long)c->at, (unsigned long long)byte, e.len,
                           (unsigned long long)e.offset);
        if (len - used < e.size)
            break;
        if (!sf_entry_parse(buf + used, len - used, &e))
            return damaged(p, seg->base, err,
                           "the entry at offset %llu (byte %llu) fails its checksum",
                           (unsigned long long)c->at, (unsigned long long)byte);
        if (e.hole) {
            c->stop = true;
            if (b->count > 0)
                break; /* the next read skips it, so that a batch never spans one */
            if (c->at >= e.offset + e.count)
                return damaged(p, seg->base, err,
                               "the hole at byte %llu covers offsets %llu to %llu, not %llu",
                               (unsigned long long)byte, (unsigned long long)e.offset,
                               (unsigned long long)(e.offset + e.count - 1),
                               (unsigned long long)c->at);
            sf_hole_get(&e, &b->hole);
            sf_pos_from_u64(&b->hole.from, c->at); /* what this read skipped */
            c->at = e.offset + e.count;
            *consumed = used + e.size;
            return 0;
        }
        sf_stream_entry *out = &b->entries[b->count++];
        sf_pos_from_u64(&out->pos, e.offset);
        out->data = e.payload;
        out->len = e.len;
        used += e.size;
        c->at++;
    }
    *consumed = used;
    return 0;
}

/* For a reader in another process: open segments created since. */
static int refresh(partition *p, sf_error *err)
{
    uint64_t *bases;
    size_t n;
    int rc = sf_partition_bases(p->dir, &bases, &n, err);
    if (rc == 0) {
        pthread_rwlock_wrlock(&p->lock);
        rc = open_segments(p, bases, n, NULL, err);
        pthread_rwlock_unlock(&p->lock);
        free(bases);
    }
    return rc;
}

/* Read from segment c->si at c->pos: fills the batch from b->buf + *fill
 * on. *more is set when the read goes on in the next segment. */
static int read_segment(partition *p, cursor *c, sf_stream_batch *b, size_t *fill, bool *more,
                        sf_error *err)
{
    segment *seg = &p->segs[c->si];
    *more = false;
    for (;;) {
        size_t room = b->buf_cap - *fill, used;
        ssize_t n = pread(seg->fd, b->buf + *fill, room, (off_t)c->pos);
        if (n < 0)
            return sf_error_set(err, SF_EIO, "%s: read: %s", p->dir, strerror(errno));
        int rc = parse_entries(p, c, b, b->buf + *fill, (size_t)n, &used, err);
        if (rc < 0)
            return rc;
        *fill += used;
        c->pos += (uint64_t)used;
        if (c->stop || b->count == b->cap || c->at >= c->end)
            return 0;
        if (used == 0) {
            *more = (size_t)n < room; /* the end of this segment, not a full batch */
            return 0;
        }
    }
}

/* A read found nothing more below the durable end: acknowledged records
 * are missing (a reader of a log a writer would refuse: partition.c). */
static int missing(partition *p, const cursor *c, sf_error *err)
{
    return damaged(p, p->segs[c->si].base, err,
                   "offsets %llu to %llu (%llu %s) were acknowledged but are missing: the "
                   "entries end at byte %llu",
                   (unsigned long long)c->at, (unsigned long long)c->end - 1,
                   (unsigned long long)(c->end - c->at), records(c->end - c->at),
                   (unsigned long long)c->pos);
}

/* Say that a read skipped a hole [from, to), every time: never silently. */
static void report_hole(partition *p, const sf_stream_hole *h, uint64_t from, uint64_t to)
{
    atomic_fetch_add(&p->hole_skips, 1);
    atomic_fetch_add(&p->hole_offsets, to - from);
    char q[2 * SF_STREAM_HOLE_REASON_MAX + 8];
    sf_logf(SF_LOG_WARN, "log_hole_skipped",
            "partition=%u from=%llu to=%llu marked_at=%lld reason=%s "
            "msg=\"offsets lost for good (shopflow log repair): no record will ever be there\"",
            p->id, (unsigned long long)from, (unsigned long long)to - 1, (long long)h->marked_at,
            sf_logq(h->reason, q, sizeof q));
}

int sf_partition_read(partition *p, uint64_t from, uint64_t end, sf_stream_batch *b, sf_error *err)
{
    b->count = 0;
    sf_pos_from_u64(&b->next, from);
    b->hole.from.len = b->hole.to.len = 0;
    if (from >= end)
        return 0;
    pthread_rwlock_rdlock(&p->lock);
    if (p->nsegs == 0 || from < p->segs[0].base) {
        sf_pos_from_u64(&b->next, p->nsegs ? p->segs[0].base : 0);
        pthread_rwlock_unlock(&p->lock);
        if (p->nsegs == 0)
            return sf_error_set(err, SF_ECORRUPT,
                                "partition %u (%s): no segment, but offsets 0 "
                                "to %llu were acknowledged",
                                p->id, p->dir, (unsigned long long)end - 1);
        return sf_error_set(err, SF_ERANGE, "offset %llu of partition %u was removed (retention)",
                            (unsigned long long)from, p->id);
    }
    size_t fill = 0;
    cursor c = {find_segment(p, from), 0, from, end, false};
    int rc = sf_segment_locate(&p->segs[c.si], from, &c.pos, err);
    if (rc < 0)
        rc = damaged(p, p->segs[c.si].base, err, "%s", err ? err->msg : "");
    while (rc == 0) {
        bool more;
        rc = read_segment(p, &c, b, &fill, &more, err);
        if (rc < 0 || !more)
            break;
        if (c.si + 1 >= p->nsegs && p->read_only) {
            pthread_rwlock_unlock(&p->lock);
            rc = refresh(p, err);
            pthread_rwlock_rdlock(&p->lock);
        }
        if (rc < 0 || c.si + 1 >= p->nsegs || p->segs[c.si + 1].base != c.at)
            break;
        c.si++;
        c.pos = 0;
    }
    if (rc >= 0 && b->count == 0 && !c.stop && c.at < c.end)
        rc = missing(p, &c, err);
    pthread_rwlock_unlock(&p->lock);
    sf_pos_from_u64(&b->next, c.at);
    if (rc >= 0 && c.stop && b->count == 0 && c.at > from)
        report_hole(p, &b->hole, from, c.at);
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
    if ((rc = sf_fsync_dir(p->dir, err)) < 0) {
        sf_segment_close(&seg);
        return rc;
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
    /* Not checked: a removal that a crash takes back only brings back
     * segments past retention, which the next pass removes again. */
    (void)sf_fsync_dir(p->dir, NULL);
}

static uint64_t get64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* A reader's last segment may have grown since it was opened: count the
 * entries written since, up to the durable end (header by header, from
 * where the last count stopped, so each call reads only what is new). */
static void count_new_entries(partition *p, uint64_t end)
{
    pthread_rwlock_wrlock(&p->lock);
    segment *last = &p->segs[p->nsegs - 1];
    while (last->next < end) {
        uint8_t h[ENTRY_HEADER + 8]; /* a hole's count follows its header */
        entry_view e;
        ssize_t n = pread(last->fd, h, sizeof h, (off_t)last->size);
        if (n < ENTRY_HEADER || !sf_entry_header_parse(h, &e) || e.offset != last->next ||
            (e.hole && n < (ssize_t)sizeof h))
            break; /* the end is in a later segment (or damage, which reads report) */
        last->size += e.size;
        last->next += e.hole ? get64(h + ENTRY_HEADER) : 1;
    }
    pthread_rwlock_unlock(&p->lock);
}

void sf_partition_info_get(partition *p, uint64_t end, sf_partition_info *out)
{
    if (p->read_only && p->nsegs)
        count_new_entries(p, end);
    pthread_rwlock_rdlock(&p->lock);
    sf_pos_from_u64(&out->start, p->nsegs ? p->segs[0].base : 0);
    sf_pos_from_u64(&out->end, atomic_load(&p->end));
    out->segments = (uint32_t)p->nsegs;
    out->missing = p->missing;
    out->bytes = 0;
    /* Bytes of entries, not of files (the active one has zeros past them). */
    for (size_t i = 0; i < p->nsegs; i++) /* the writer's commit thread stores it */
        out->bytes += __atomic_load_n(&p->segs[i].size, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&p->lock);
}
