/*
 * segment.c - one segment file of the local log and its sparse index
 * (format in local.h): creating, opening, validating the tail, locating an
 * offset.
 *
 * Recovery reads the segment from its last trustworthy index point and keeps
 * every entry whose header and checksum hold; the first one that does not is
 * where the good data ends. A writer truncates the file there (only bytes
 * never acknowledged can be past it: acknowledgement follows fdatasync, and
 * a failed group is truncated before anything is acknowledged).
 *
 * The writer keeps the active segment zero-filled ahead of its entries
 * (zero.h): an fdatasync after a write that grows a file also
 * writes the inode, one into space already written and synced does not. So
 * zeros past the last whole entry are unused space, not data: a zero header
 * is never a valid entry (its length is 0), and recovery reports as dropped
 * only the bytes up to the last non-zero one (a torn write).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/pack.h"
#include "stream/local/local.h"

uint32_t sf_entry_checksum(uint64_t offset, const uint8_t *payload, uint32_t len)
{
    uint64_t h = XXH3_64bits_withSeed(payload, len, offset);
    return (uint32_t)(h ^ (h >> 32));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void sf_entry_header(uint8_t *h, uint32_t len, uint32_t checksum, uint64_t offset)
{
    put32(h, len);
    put32(h + 4, checksum);
    put32(h + 8, (uint32_t)offset);
    put32(h + 12, (uint32_t)(offset >> 32));
}

bool sf_entry_header_parse(const uint8_t *h, entry_view *e)
{
    uint32_t word = get32(h);
    e->hole = (word & HOLE_FLAG) != 0;
    e->len = word & ~HOLE_FLAG;
    e->checksum = get32(h + 4);
    e->offset = get64(h + 8);
    e->size = ENTRY_HEADER + e->len;
    e->count = 1;
    e->payload = NULL;
    /* Length 0 is never written (a packed record is not empty): a zero
     * header, the preallocated space past the entries, is not an entry. */
    if (e->hole)
        return e->len >= HOLE_HEADER && e->len <= HOLE_HEADER + HOLE_REASON_MAX;
    return e->len != 0 && e->len <= SF_PACK_MAX;
}

bool sf_entry_parse(const uint8_t *buf, size_t avail, entry_view *e)
{
    if (avail < ENTRY_HEADER || !sf_entry_header_parse(buf, e) || avail < e->size)
        return false;
    const uint8_t *pl = buf + ENTRY_HEADER;
    uint64_t seed = e->hole ? e->offset ^ HOLE_SEED : e->offset;
    if (sf_entry_checksum(seed, pl, e->len) != e->checksum)
        return false;
    if (e->hole) {
        e->count = get64(pl);
        uint32_t reason = (uint32_t)pl[16] | (uint32_t)pl[17] << 8;
        if (e->count == 0 || e->offset + e->count < e->offset || HOLE_HEADER + reason != e->len)
            return false;
    }
    e->payload = pl;
    return true;
}

size_t sf_hole_frame(uint8_t *buf, uint64_t offset, uint64_t count, int64_t at, const char *reason)
{
    size_t rlen = strlen(reason);
    if (rlen > HOLE_REASON_MAX)
        rlen = HOLE_REASON_MAX;
    uint8_t *pl = buf + ENTRY_HEADER;
    put32(pl, (uint32_t)count);
    put32(pl + 4, (uint32_t)(count >> 32));
    put32(pl + 8, (uint32_t)(uint64_t)at);
    put32(pl + 12, (uint32_t)((uint64_t)at >> 32));
    pl[16] = (uint8_t)rlen;
    pl[17] = (uint8_t)(rlen >> 8);
    memcpy(pl + HOLE_HEADER, reason, rlen);
    uint32_t len = (uint32_t)(HOLE_HEADER + rlen);
    sf_entry_header(buf, len | HOLE_FLAG, sf_entry_checksum(offset ^ HOLE_SEED, pl, len), offset);
    return ENTRY_HEADER + len;
}

void sf_hole_get(const entry_view *e, sf_stream_hole *out)
{
    sf_pos_from_u64(&out->from, e->offset);
    sf_pos_from_u64(&out->to, e->offset + e->count);
    out->marked_at = (int64_t)get64(e->payload + 8);
    size_t n = e->len - HOLE_HEADER;
    memcpy(out->reason, e->payload + HOLE_HEADER, n);
    out->reason[n] = '\0';
}

void sf_hole_time(int64_t at, char *out, size_t cap)
{
    time_t t = (time_t)at;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, cap, "%lld", (long long)at);
}

static void seg_path(char *buf, size_t cap, const char *dir, uint64_t base, const char *ext)
{
    snprintf(buf, cap, "%s/%020llu.%s", dir, (unsigned long long)base, ext);
}

static int open_files(const char *dir, uint64_t base, int flags, segment *seg, sf_error *err)
{
    char path[4096];
    memset(seg, 0, sizeof *seg);
    seg->fd = seg->idx_fd = -1;
    seg->base = seg->next = base;
    seg_path(path, sizeof path, dir, base, "seg");
    seg->fd = open(path, flags | O_CLOEXEC, 0644);
    if (seg->fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    seg_path(path, sizeof path, dir, base, "idx");
    int idx_flags = (flags & O_ACCMODE) == O_RDONLY ? O_RDONLY : (flags | O_APPEND);
    seg->idx_fd = open(path, idx_flags | O_CLOEXEC, 0644);
    if (seg->idx_fd < 0 && !(errno == ENOENT && (flags & O_ACCMODE) == O_RDONLY)) {
        int e = errno;
        sf_segment_close(seg);
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(seg->fd, &st) == 0) {
        seg->size = seg->file = (uint64_t)st.st_size;
        seg->mtime = st.st_mtime;
    }
    return 0;
}

int sf_segment_create(const char *dir, uint64_t base, segment *seg, sf_error *err)
{
    return open_files(dir, base, O_RDWR | O_CREAT | O_EXCL, seg, err);
}

int sf_segment_open(const char *dir, uint64_t base, bool read_only, segment *seg, sf_error *err)
{
    return open_files(dir, base, read_only ? O_RDONLY : (O_RDWR | O_CREAT), seg, err);
}

void sf_segment_close(segment *seg)
{
    if (seg->fd >= 0)
        close(seg->fd);
    if (seg->idx_fd >= 0)
        close(seg->idx_fd);
    free(seg->idx);
    seg->idx = NULL;
    seg->fd = seg->idx_fd = -1;
}

int sf_index_push(index_point **arr, size_t *len, size_t *cap, index_point pt)
{
    if (*len == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        index_point *grown = realloc(*arr, n * sizeof *grown);
        if (!grown)
            return SF_ENOMEM;
        *arr = grown;
        *cap = n;
    }
    (*arr)[(*len)++] = pt;
    return 0;
}

/* Keep pt in memory (not on disk). 0 or SF_ENOMEM. */
static int index_keep(segment *seg, index_point pt)
{
    return sf_index_push(&seg->idx, &seg->idx_len, &seg->idx_cap, pt);
}

int sf_segment_index_add(segment *seg, index_point pt)
{
    if (index_keep(seg, pt) < 0)
        return SF_ENOMEM;
    if (seg->idx_fd >= 0) {
        uint8_t b[8];
        put32(b, pt.rel);
        put32(b + 4, pt.pos);
        /* A hint: a short or failed write is found and repaired on open. */
        if (write(seg->idx_fd, b, sizeof b) != (ssize_t)sizeof b)
            return 0;
    }
    return 0;
}

/* Read and verify the entry at pos, below limit: *valid when it is whole
 * and checks out (e filled, its payload in buf). 0, or SF_EIO on a read
 * error (errno set). */
static int entry_at(const segment *seg, uint64_t pos, uint64_t limit, uint8_t *buf, entry_view *e,
                    bool *valid)
{
    *valid = false;
    if (pos + ENTRY_HEADER > limit)
        return 0;
    ssize_t n = pread(seg->fd, buf, ENTRY_HEADER, (off_t)pos);
    if (n < 0)
        return SF_EIO;
    if (n < ENTRY_HEADER || !sf_entry_header_parse(buf, e) || pos + e->size > limit)
        return 0;
    if (pread(seg->fd, buf + ENTRY_HEADER, e->len, (off_t)(pos + ENTRY_HEADER)) != (ssize_t)e->len)
        return 0;
    *valid = sf_entry_parse(buf, e->size, e);
    return 0;
}

/* Load the index file, keeping the longest prefix whose last point checks
 * out against the segment. */
static int load_index(segment *seg, uint8_t *scratch, bool *rebuilt)
{
    seg->idx_len = 0;
    struct stat st;
    if (seg->idx_fd < 0 || fstat(seg->idx_fd, &st) != 0)
        return 0;
    size_t n = (size_t)st.st_size / 8;
    uint8_t *raw = n ? malloc(n * 8) : NULL;
    if (n && (!raw || pread(seg->idx_fd, raw, n * 8, 0) != (ssize_t)(n * 8))) {
        free(raw);
        *rebuilt = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        index_point pt = {get32(raw + 8 * i), get32(raw + 8 * i + 4)};
        if (index_keep(seg, pt) < 0) {
            free(raw);
            return SF_ENOMEM;
        }
    }
    free(raw);
    /* Drop points from the end until one names a valid entry at its offset. */
    while (seg->idx_len > 0) {
        index_point pt = seg->idx[seg->idx_len - 1];
        entry_view e;
        bool ok;
        int rc = entry_at(seg, pt.pos, seg->size, scratch, &e, &ok);
        if (rc < 0)
            return rc;
        if (ok && e.offset == seg->base + pt.rel)
            break;
        seg->idx_len--;
        *rebuilt = true;
    }
    if ((size_t)st.st_size != seg->idx_len * 8 && seg->idx_fd >= 0)
        *rebuilt = true;
    return 0;
}

/* Rewrite the index file from memory (after repairs). */
static void rewrite_index(segment *seg)
{
    if (seg->idx_fd < 0 || ftruncate(seg->idx_fd, 0) != 0)
        return;
    for (size_t i = 0; i < seg->idx_len; i++) {
        uint8_t b[8];
        put32(b, seg->idx[i].rel);
        put32(b + 4, seg->idx[i].pos);
        if (write(seg->idx_fd, b, sizeof b) != (ssize_t)sizeof b)
            return;
    }
}

/* Bytes of [from, to) up to and including the last non-zero one: what a
 * torn write left past the whole entries (the zeros after it are
 * preallocated space). 0 or SF_EIO. */
static int nonzero_tail(const segment *seg, uint64_t from, uint64_t to, uint8_t *buf,
                        uint64_t *torn)
{
    *torn = 0;
    for (uint64_t at = from; at < to;) {
        size_t want = to - at < SF_PACK_MAX ? (size_t)(to - at) : SF_PACK_MAX;
        ssize_t n = pread(seg->fd, buf, want, (off_t)at);
        if (n < 0)
            return SF_EIO;
        if (n == 0)
            break;
        for (ssize_t i = n; i > 0; i--)
            if (buf[i - 1]) {
                *torn = at + (uint64_t)i - from;
                break;
            }
        at += (uint64_t)n;
    }
    return 0;
}

int sf_segment_recover(segment *seg, bool truncate, recovery_note *note, sf_error *err)
{
    uint8_t scratch[ENTRY_HEADER + SF_PACK_MAX];
    bool rebuilt = false;
    int rc = load_index(seg, scratch, &rebuilt);
    if (rc < 0)
        return sf_error_set(err, rc, "segment %llu: cannot load its index",
                            (unsigned long long)seg->base);
    uint64_t pos = 0, offset = seg->base;
    if (seg->idx_len) {
        pos = seg->idx[seg->idx_len - 1].pos;
        offset = seg->base + seg->idx[seg->idx_len - 1].rel;
    }
    uint64_t file_size = seg->size;
    for (;;) {
        entry_view e;
        bool ok;
        if (entry_at(seg, pos, file_size, scratch, &e, &ok) < 0)
            return sf_error_set(err, SF_EIO, "segment %llu: read error: %s",
                                (unsigned long long)seg->base, strerror(errno));
        if (!ok || e.offset != offset)
            break;
        /* Same rule as the commit thread: a point per INDEX_INTERVAL bytes. */
        uint64_t last = seg->idx_len ? seg->idx[seg->idx_len - 1].pos : 0;
        if (pos / INDEX_INTERVAL != last / INDEX_INTERVAL || (pos == 0 && seg->idx_len == 0)) {
            if (index_keep(seg, (index_point){(uint32_t)(e.offset - seg->base), (uint32_t)pos}) < 0)
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            rebuilt = true;
        }
        pos += e.size;
        offset += e.count;
    }
    seg->size = pos;
    seg->next = offset;
    seg->file = file_size;
    seg->idx_dirty = rebuilt;
    if (note && file_size > pos) {
        uint64_t torn;
        if (nonzero_tail(seg, pos, file_size, scratch, &torn) < 0)
            return sf_error_set(err, SF_EIO, "segment %llu: read error: %s",
                                (unsigned long long)seg->base, strerror(errno));
        note->dropped_bytes += torn;
    }
    if (truncate && (rc = sf_segment_settle(seg, err)) < 0)
        return rc;
    if (truncate && note && rebuilt)
        note->index_rebuilt = true;
    return 0;
}

int sf_segment_settle(segment *seg, sf_error *err)
{
    int rc = sf_segment_trim(seg, err);
    if (rc == 0 && seg->idx_dirty) {
        rewrite_index(seg);
        seg->idx_dirty = false;
    }
    return rc;
}

int sf_segment_trim(segment *seg, sf_error *err)
{
    if (seg->file <= seg->size)
        return 0; /* nothing past the entries (file < size: they went past the zeros) */
    if (ftruncate(seg->fd, (off_t)seg->size) != 0 || fdatasync(seg->fd) != 0)
        return sf_error_set(err, SF_EIO, "segment %llu: cannot truncate to its entries: %s",
                            (unsigned long long)seg->base, strerror(errno));
    seg->file = seg->size;
    return 0;
}

int sf_segment_locate(const segment *seg, uint64_t offset, uint64_t *pos, sf_error *err)
{
    /* Binary search: the last index point at or before offset. */
    size_t lo = 0, hi = seg->idx_len;
    uint64_t p = 0, at = seg->base;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seg->base + seg->idx[mid].rel <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) {
        p = seg->idx[lo - 1].pos;
        at = seg->base + seg->idx[lo - 1].rel;
    }
    /* Walk the headers forward (at most INDEX_INTERVAL bytes when indexed);
     * an offset inside a hole is found at the hole. */
    while (at < offset) {
        uint8_t h[ENTRY_HEADER + 8];
        entry_view e;
        ssize_t n = pread(seg->fd, h, sizeof h, (off_t)p);
        if (n < ENTRY_HEADER || !sf_entry_header_parse(h, &e) || e.offset != at ||
            (e.hole && n < (ssize_t)sizeof h))
            return sf_error_set(err, SF_ECORRUPT,
                                "the entry at offset %llu (byte %llu) is damaged: its header "
                                "does not check out",
                                (unsigned long long)at, (unsigned long long)p);
        uint64_t count = e.hole ? get64(h + ENTRY_HEADER) : 1;
        if (count == 0 || offset < at + count)
            break;
        p += e.size;
        at += count;
    }
    *pos = p;
    return 0;
}
