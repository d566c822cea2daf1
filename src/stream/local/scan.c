/*
 * scan.c - reading a local log's segments whole, entry by entry, into
 * spans (scan.h), and `log verify` on top of it (check.h).
 *
 * Verify never writes and takes no lock, so it can run beside a server: the
 * acknowledged offsets are read before any segment, the segments grow only
 * past them, and what lies past them in a last segment (a write in flight,
 * a torn one) is noted, never counted as a problem. A segment removed by
 * retention while it runs is simply not there to read.
 */
#include "stream/local/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pack.h"
#include "core/progress.h"
#include "stream/local/mark.h"

const char *sf_scan_records(uint64_t n)
{
    return n == 1 ? "record" : "records";
}

void sf_scan_report(scan_ctx *c, sf_log_finding_kind kind, bool problem, const seg_scan *s,
                    uint64_t pos, uint64_t bytes, uint64_t off, uint64_t count, const char *fmt,
                    ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (problem)
        c->res->problems++;
    sf_log_finding f = {kind, problem, s->partition, s->path, pos, bytes, off, count, what};
    if (c->o->on_finding)
        c->o->on_finding(c->o->ctx, &f);
}

static int add_span(seg_scan *s, span_kind kind, uint64_t pos, uint64_t end, uint64_t off,
                    uint64_t off_end, bool sums)
{
    span *last = s->nspans ? &s->spans[s->nspans - 1] : NULL;
    if (kind == SPAN_GOOD && last && last->kind == SPAN_GOOD && last->end == pos) {
        last->end = end;
        last->off_end = off_end;
        return 0;
    }
    if (s->nspans == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        span *grown = realloc(s->spans, cap * sizeof *grown);
        if (!grown)
            return SF_ENOMEM;
        s->spans = grown;
        s->cap = cap;
    }
    s->spans[s->nspans++] = (span){kind, sums, pos, end, off, off_end};
    if (kind != SPAN_GOOD)
        s->lost = true;
    return 0;
}

/* The byte after the last non-zero one at or past from (from when none:
 * zeros are preallocated space, not data). */
static uint64_t last_nonzero(const seg_scan *s, uint64_t from)
{
    for (uint64_t i = s->size; i > from; i--)
        if (s->data[i - 1])
            return i;
    return from;
}

/* The first position from `from` on holding an entry that checks out at an
 * offset in (off, limit): where good entries start again after damage. */
static bool resync(const seg_scan *s, uint64_t from, uint64_t off, uint64_t limit, uint64_t *at,
                   entry_view *e)
{
    for (uint64_t q = from; q + ENTRY_HEADER <= s->size; q++) {
        if (!sf_entry_header_parse(s->data + q, e) || e->offset <= off || e->offset >= limit)
            continue;
        if (sf_entry_parse(s->data + q, s->size - q, e)) {
            *at = q;
            return true;
        }
    }
    return false;
}

/* Why a checksummed payload is not a record of partition p, or NULL. */
static const char *not_a_record(const entry_view *e, uint32_t p, uint32_t nparts)
{
    sf_record r;
    const char *ev, *inv;
    size_t evn, invn;
    if (sf_record_unpack(e->payload, e->len, &r) != 0)
        return "its payload is not a packed record";
    if (sf_packed_keys(e->payload, e->len, &ev, &evn, &inv, &invn) != 0)
        return "its event id and invoice number cannot be read";
    if (sf_stream_partition_of(inv, invn, nparts) != p)
        return "its invoice belongs to another partition";
    return NULL;
}

/* A whole entry at its expected offset. */
static int good_entry(scan_ctx *c, seg_scan *s, uint32_t nparts, uint64_t pos, const entry_view *e)
{
    c->res->entries++;
    if (e->hole) {
        sf_stream_hole h;
        char when[32];
        sf_hole_get(e, &h);
        sf_hole_time(h.marked_at, when, sizeof when);
        c->res->holes += e->count;
        sf_scan_report(c, SF_LOG_HOLE, false, s, pos, e->size, e->offset, e->count,
                       "a hole: offsets %llu to %llu (%llu %s) were lost for good (marked %s: %s)",
                       (unsigned long long)e->offset,
                       (unsigned long long)(e->offset + e->count - 1), (unsigned long long)e->count,
                       sf_scan_records(e->count), when, h.reason);
        return add_span(s, SPAN_GOOD, pos, pos + e->size, e->offset, e->offset + e->count, false);
    }
    const char *why = not_a_record(e, s->partition, nparts);
    if (!why)
        return add_span(s, SPAN_GOOD, pos, pos + e->size, e->offset, e->offset + 1, false);
    sf_scan_report(c, SF_LOG_RECORD, true, s, pos, e->size, e->offset, 1,
                   "the entry at offset %llu (byte %llu) checks out but %s",
                   (unsigned long long)e->offset, (unsigned long long)pos, why);
    return add_span(s, SPAN_LOST, pos, pos + e->size, e->offset, e->offset + 1, false);
}

/* Damage at pos, where offset off was due, below what was acknowledged:
 * find where good entries start again. *pos and *off move past it. */
static int damage(scan_ctx *c, seg_scan *s, uint64_t *pos, uint64_t *off, uint64_t end)
{
    entry_view e;
    uint64_t q;
    if (sf_entry_parse(s->data + *pos, s->size - *pos, &e) && e.offset > *off &&
        (s->last || e.offset <= end)) {
        sf_scan_report(c, SF_LOG_MISSING, true, s, *pos, 0, *off, e.offset - *off,
                       "offsets %llu to %llu (%llu %s) are missing: the entry at byte %llu is "
                       "offset %llu",
                       (unsigned long long)*off, (unsigned long long)e.offset - 1,
                       (unsigned long long)(e.offset - *off), sf_scan_records(e.offset - *off),
                       (unsigned long long)*pos, (unsigned long long)e.offset);
        int rc = add_span(s, SPAN_LOST, *pos, *pos, *off, e.offset, false);
        *off = e.offset;
        return rc;
    }
    if (sf_entry_header_parse(s->data + *pos, &e) && e.offset == *off && *pos + e.size > s->size) {
        sf_scan_report(c, SF_LOG_DAMAGED, true, s, *pos, s->size - *pos, *off, end - *off,
                       "the entry at offset %llu (byte %llu) is cut short: it needs %u bytes, the "
                       "file ends at byte %zu; offsets %llu to %llu (%llu %s) were acknowledged",
                       (unsigned long long)*off, (unsigned long long)*pos, e.size, s->size,
                       (unsigned long long)*off, (unsigned long long)end - 1,
                       (unsigned long long)(end - *off), sf_scan_records(end - *off));
        int rc = add_span(s, SPAN_LOST, *pos, s->size, *off, end, true);
        *pos = s->size;
        *off = end;
        return rc;
    }
    const char *how = sf_entry_header_parse(s->data + *pos, &e) && e.offset == *off
                          ? "fails its checksum"
                          : "is damaged (its header does not check out)";
    uint64_t limit = s->last ? UINT64_MAX : end;
    if (resync(s, *pos + 1, *off, limit, &q, &e)) {
        sf_scan_report(c, SF_LOG_DAMAGED, true, s, *pos, q - *pos, *off, e.offset - *off,
                       "the entry at offset %llu (byte %llu) %s: bytes %llu to %llu "
                       "are damaged, offsets %llu to %llu (%llu %s) unreadable",
                       (unsigned long long)*off, (unsigned long long)*pos, how,
                       (unsigned long long)*pos, (unsigned long long)q - 1,
                       (unsigned long long)*off, (unsigned long long)e.offset - 1,
                       (unsigned long long)(e.offset - *off), sf_scan_records(e.offset - *off));
        int rc = add_span(s, SPAN_LOST, *pos, q, *off, e.offset, true);
        *pos = q;
        *off = e.offset;
        return rc;
    }
    uint64_t nz = last_nonzero(s, *pos);
    sf_scan_report(c, SF_LOG_DAMAGED, true, s, *pos, nz - *pos, *off, end - *off,
                   "the entry at offset %llu (byte %llu) %s and no entry after it checks "
                   "out: offsets %llu to %llu (%llu %s) unreadable",
                   (unsigned long long)*off, (unsigned long long)*pos, how,
                   (unsigned long long)*off, (unsigned long long)end - 1,
                   (unsigned long long)(end - *off), sf_scan_records(end - *off));
    int rc = add_span(s, SPAN_LOST, *pos, nz, *off, end, true);
    *pos = s->size;
    *off = end;
    return rc;
}

/* The bytes past a segment's entries (pos, offset off): torn and never
 * acknowledged in a last segment; extra in one whose successor follows. */
static int past_entries(scan_ctx *c, seg_scan *s, uint64_t pos, uint64_t off)
{
    uint64_t nz = last_nonzero(s, pos);
    if (nz == pos)
        return 0;
    if (s->last) {
        sf_scan_report(c, SF_LOG_TORN, false, s, pos, nz - pos, off, 0,
                       "%llu bytes past the last whole entry (offset %llu) and past the "
                       "acknowledged end: never acknowledged (a torn write, or one in flight)",
                       (unsigned long long)(nz - pos), (unsigned long long)off);
        return 0;
    }
    sf_scan_report(c, SF_LOG_DAMAGED, true, s, pos, nz - pos, off, 0,
                   "%llu bytes past offset %llu, where the next segment starts, are no entry",
                   (unsigned long long)(nz - pos), (unsigned long long)off);
    return add_span(s, SPAN_DROP, pos, nz, off, off, false);
}

/* Walk s from its base; end is the offset it must reach (the next
 * segment's base, or for the last what was acknowledged). */
static int walk(scan_ctx *c, seg_scan *s, uint32_t nparts, uint64_t end)
{
    uint64_t pos = 0, off = s->base;
    int rc = 0;
    while (rc == 0 && pos < s->size) {
        entry_view e;
        if (!s->last && off >= end)
            break; /* what follows belongs to the next segment */
        if (sf_entry_parse(s->data + pos, s->size - pos, &e) && e.offset == off) {
            rc = good_entry(c, s, nparts, pos, &e);
            pos += e.size;
            off += e.count;
            continue;
        }
        if ((s->last && off >= end) || last_nonzero(s, pos) == pos)
            break; /* past the acknowledged end, or zeros: the entries end here */
        rc = damage(c, s, &pos, &off, end);
    }
    s->entries_end = pos;
    if (rc == 0 && pos < s->size)
        rc = past_entries(c, s, pos, off);
    if (rc == 0 && off < end) {
        sf_scan_report(
            c, SF_LOG_MISSING, true, s, pos, 0, off, end - off,
            "offsets %llu to %llu (%llu %s) were acknowledged but are missing: %s at byte %llu",
            (unsigned long long)off, (unsigned long long)end - 1, (unsigned long long)(end - off),
            sf_scan_records(end - off),
            s->last ? "the entries end" : "the next segment starts later, and the entries end",
            (unsigned long long)pos);
        rc = add_span(s, SPAN_LOST, pos, pos, off, end, false);
    }
    return rc < 0 ? SF_ENOMEM : 0;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Read a whole file into *data (malloc'd, never NULL for a file that is
 * there); *data NULL when it is not there. */
static int read_whole(const char *path, uint8_t **data, size_t *size, sf_error *err)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    size_t want = rc == 0 ? (size_t)st.st_size : 0;
    if (rc == 0 && !(*data = malloc(want ? want : 1)))
        rc = sf_error_set(err, SF_ENOMEM, "%s: out of memory reading it", path);
    while (rc == 0 && *size < want) {
        ssize_t n = pread(fd, *data + *size, want - *size, (off_t)*size);
        if (n < 0)
            rc = sf_error_set(err, SF_EIO, "%s: read: %s", path, strerror(errno));
        if (n <= 0)
            break; /* cut shorter meanwhile: what is there */
        *size += (size_t)n;
    }
    close(fd);
    return rc;
}

/* Compare the index file with the entries found: a point must name the
 * start of a kept entry at its offset. Points past the entries (a writer
 * ahead of this read) and in damaged bytes (rewritten anyway) are left. */
static int check_index(scan_ctx *c, seg_scan *s, sf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%.*s.idx", (int)strlen(s->path) - 4, s->path);
    uint8_t *raw;
    size_t len;
    int rc = read_whole(path, &raw, &len, err);
    if (rc < 0)
        return rc;
    if (!raw && s->size > 0) {
        s->index_bad = true;
        sf_scan_report(c, SF_LOG_INDEX, true, s, 0, 0, s->base, 0, "its index file %s is missing",
                       path);
    }
    size_t k = 0, n = len / 8, bad = 0, first_bad = 0;
    for (size_t i = 0; i < s->nspans; i++) {
        const span *sp = &s->spans[i];
        uint64_t pos = sp->pos, off = sp->off;
        while (k < n && get32(raw + 8 * k + 4) < sp->pos)
            k++; /* points in damaged bytes: the segment is rewritten */
        while (sp->kind == SPAN_GOOD && pos < sp->end) {
            entry_view e;
            sf_entry_header_parse(s->data + pos, &e);
            e.count = e.hole ? (uint64_t)get32(s->data + pos + ENTRY_HEADER) |
                                   (uint64_t)get32(s->data + pos + ENTRY_HEADER + 4) << 32
                             : 1;
            for (; k < n && get32(raw + 8 * k + 4) <= pos; k++)
                if (get32(raw + 8 * k + 4) < pos || get32(raw + 8 * k) != off - s->base)
                    first_bad = bad++ ? first_bad : k;
            pos += e.size;
            off += e.count;
        }
    }
    for (; k < n && get32(raw + 8 * k + 4) < s->entries_end; k++)
        first_bad = bad++ ? first_bad : k;
    if (bad) {
        s->index_bad = true;
        sf_scan_report(c, SF_LOG_INDEX, true, s, get32(raw + 8 * first_bad + 4), 0,
                       s->base + get32(raw + 8 * first_bad), 0,
                       "its index names %zu wrong %s (the first: offset %llu at byte %u)", bad,
                       bad == 1 ? "position" : "positions",
                       (unsigned long long)(s->base + get32(raw + 8 * first_bad)),
                       get32(raw + 8 * first_bad + 4));
    }
    free(raw);
    return 0;
}

static void seg_free(seg_scan *s)
{
    free(s->data);
    free(s->spans);
    s->data = NULL;
    s->spans = NULL;
}

/* A partition without a segment but with acknowledged offsets. */
static int no_segment(scan_ctx *c, uint32_t p, const char *dir, uint64_t acked, seg_fn fn,
                      sf_error *err)
{
    seg_scan s = {.partition = p, .last = true};
    snprintf(s.path, sizeof s.path, "%s/%020d.seg", dir, 0);
    int rc = walk(c, &s, 1, acked);
    if (rc == 0 && fn)
        rc = fn(c, &s, err);
    seg_free(&s);
    return rc == SF_ENOMEM ? sf_error_set(err, rc, "out of memory") : rc;
}

int sf_scan_partition(scan_ctx *c, const char *logdir, uint32_t p, uint64_t acked, seg_fn fn,
                      sf_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/p%04u", logdir, p);
    uint32_t nparts = c->res->partitions;
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = access(dir, F_OK) == 0 ? sf_partition_bases(dir, &bases, &n, err) : 0;
    if (rc == 0 && n == 0 && acked > 0)
        rc = no_segment(c, p, dir, acked, fn, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        seg_scan s = {.partition = p, .base = bases[i], .last = i + 1 == n};
        snprintf(s.path, sizeof s.path, "%s/%020llu.seg", dir, (unsigned long long)bases[i]);
        rc = read_whole(s.path, &s.data, &s.size, err);
        if (rc == 0 && !s.data)
            continue; /* removed by retention since it was listed */
        if (rc == 0 && walk(c, &s, nparts, s.last ? acked : bases[i + 1]) < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        if (rc == 0)
            rc = check_index(c, &s, err);
        c->done_bytes += s.size;
        c->res->bytes += s.size;
        if (c->o->progress)
            sf_progress_update(c->o->progress, c->res->entries, c->done_bytes, c->total_bytes);
        if (rc == 0 && fn)
            rc = fn(c, &s, err);
        seg_free(&s);
    }
    free(bases);
    return rc;
}

int sf_scan_acked(const char *logdir, uint32_t n, const sf_log_check_opts *o, uint64_t *acked,
                  sf_error *err)
{
    sf_mark *m = NULL;
    bool existed;
    int rc = sf_mark_open(logdir, n, true, &m, acked, &existed, err);
    sf_mark_close(m);
    for (uint32_t i = 0; rc == 0 && o->witness && i < n; i++)
        if (o->witness[i] > acked[i])
            acked[i] = o->witness[i];
    return rc;
}

uint64_t sf_scan_total_bytes(const char *logdir, uint32_t n)
{
    uint64_t total = 0;
    for (uint32_t p = 0; p < n; p++) {
        char dir[4096], path[4200];
        uint64_t *bases = NULL;
        size_t k = 0;
        sf_error err = {0};
        snprintf(dir, sizeof dir, "%s/p%04u", logdir, p);
        if (access(dir, F_OK) != 0 || sf_partition_bases(dir, &bases, &k, &err) < 0)
            continue;
        for (size_t i = 0; i < k; i++) {
            struct stat st;
            snprintf(path, sizeof path, "%s/%020llu.seg", dir, (unsigned long long)bases[i]);
            if (stat(path, &st) == 0)
                total += (uint64_t)st.st_size;
        }
        free(bases);
    }
    return total;
}

int sf_log_partition_count(const char *dir, uint32_t *n, sf_error *err)
{
    int version;
    return sf_log_read_meta(dir, n, &version, err);
}

int sf_log_marks(const char *dir, uint32_t n, uint64_t *marks, sf_error *err)
{
    sf_log_check_opts none = {0};
    return sf_scan_acked(dir, n, &none, marks, err);
}

int sf_log_verify(const char *dir, const sf_log_check_opts *o, sf_log_check_result *res,
                  sf_error *err)
{
    memset(res, 0, sizeof *res);
    uint32_t n;
    int rc = sf_log_partition_count(dir, &n, err);
    if (rc < 0)
        return rc;
    res->partitions = n;
    uint64_t *acked = calloc(n, sizeof *acked);
    if (!acked)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rc = sf_scan_acked(dir, n, o, acked, err);
    scan_ctx c = {o, res, sf_scan_total_bytes(dir, n), 0};
    for (uint32_t p = 0; rc == 0 && p < n; p++)
        rc = sf_scan_partition(&c, dir, p, acked[p], NULL, err);
    if (o->progress)
        sf_progress_end(o->progress);
    free(acked);
    return rc;
}
