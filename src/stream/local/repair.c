/*
 * repair.c - `log repair` (check.h): segments written again with what was
 * lost restored from the record of truth, or marked lost for good.
 *
 * It works on the scan of one segment at a time (scan.h): the good entries
 * are copied byte for byte, each lost range is asked of the restore
 * callback in chunks, and the offsets it does not hold become holes (one
 * entry per run). The new file is written beside the old one and renamed
 * over it after an fsync, then the folder is synced: a crash leaves the old
 * segment or the new one, never a mix, and running repair again goes on.
 * The index is built while writing, by the commit thread's rule (a point
 * per INDEX_INTERVAL bytes), and replaced the same way.
 */
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
#include "core/progress.h"
#include "stream/local/scan.h"

/* Offsets asked of the restore callback at once. */
#define RESTORE_CHUNK 1024

typedef struct repairer {
    scan_ctx c; /* first: the scan hands it back */
    const char *dir;
    int64_t now;
    bool wrote_hole;
    uint8_t *recs; /* RESTORE_CHUNK packed records */
    uint32_t *lens;
    /* the segment being written */
    const seg_scan *seg;
    uint8_t *out;
    size_t len, cap;
    index_point *idx;
    size_t idx_len, idx_cap;
    /* the run being reported: restored (1) or marked (0) offsets from run_from */
    int run_kind;
    uint64_t run_from, run_pos, run_confirmed, run_mismatched;
} repairer;

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Append one framed entry at offset off, with its index point when due. */
static int emit(repairer *r, const uint8_t *entry, size_t size, uint64_t off)
{
    if (r->len + size > r->cap) {
        size_t cap = r->cap ? r->cap : 1 << 20;
        while (cap < r->len + size)
            cap *= 2;
        uint8_t *grown = realloc(r->out, cap);
        if (!grown)
            return SF_ENOMEM;
        r->out = grown;
        r->cap = cap;
    }
    uint64_t last = r->idx_len ? r->idx[r->idx_len - 1].pos : 0;
    if (r->idx_len == 0 || r->len / INDEX_INTERVAL != last / INDEX_INTERVAL) {
        index_point pt = {(uint32_t)(off - r->seg->base), (uint32_t)r->len};
        if (sf_index_push(&r->idx, &r->idx_len, &r->idx_cap, pt) < 0)
            return SF_ENOMEM;
    }
    memcpy(r->out + r->len, entry, size);
    r->len += size;
    return 0;
}

/* Copy the good entries of a span, one by one (for the index points). */
static int emit_good(repairer *r, const span *sp)
{
    uint64_t pos = sp->pos, off = sp->off;
    while (pos < sp->end) {
        entry_view e;
        if (!sf_entry_parse(r->seg->data + pos, sp->end - pos, &e))
            return SF_ECORRUPT; /* the scan said it was whole */
        int rc = emit(r, r->seg->data + pos, e.size, off);
        if (rc < 0)
            return rc;
        pos += e.size;
        off += e.count;
    }
    return 0;
}

/* Report the run of restored or marked offsets that ends at `to`. */
static void end_run(repairer *r, uint64_t to)
{
    if (r->run_kind < 0 || to <= r->run_from)
        return;
    uint64_t n = to - r->run_from;
    const char *would = r->c.o->dry_run ? "would be " : "";
    if (r->run_kind == 1) {
        char checked[160] = "";
        if (r->run_confirmed || r->run_mismatched)
            snprintf(checked, sizeof checked,
                     "; %llu checked against the checksum the damaged entry still showed: %llu "
                     "match%s",
                     (unsigned long long)(r->run_confirmed + r->run_mismatched),
                     (unsigned long long)r->run_confirmed,
                     r->run_mismatched ? " (the archive's record is written: it is the truth)"
                                       : "");
        sf_scan_report(&r->c, SF_LOG_RESTORED, false, r->seg, r->run_pos, 0, r->run_from, n,
                       "offsets %llu to %llu (%llu %s) %srestored from the archive%s",
                       (unsigned long long)r->run_from, (unsigned long long)to - 1,
                       (unsigned long long)n, sf_scan_records(n), would, checked);
        r->c.res->restored += n;
    } else {
        sf_scan_report(&r->c, SF_LOG_MARKED, false, r->seg, r->run_pos, 0, r->run_from, n,
                       "offsets %llu to %llu (%llu %s) %smarked lost for good (a hole): the "
                       "archive does not hold them",
                       (unsigned long long)r->run_from, (unsigned long long)to - 1,
                       (unsigned long long)n, sf_scan_records(n), would);
        r->c.res->marked += n;
    }
    r->run_kind = -1;
}

static void start_run(repairer *r, int kind, uint64_t off)
{
    if (r->run_kind == kind)
        return;
    end_run(r, off);
    r->run_kind = kind;
    r->run_from = off;
    r->run_pos = r->len;
    r->run_confirmed = r->run_mismatched = 0;
}

/* Write a hole for offsets [from, to): why says what was lost. */
static int emit_hole(repairer *r, uint64_t from, uint64_t to, const char *why)
{
    uint8_t buf[HOLE_ENTRY_MAX];
    char reason[HOLE_REASON_MAX + 1];
    const char *name = strrchr(r->seg->path, '/');
    snprintf(reason, sizeof reason, "%.96s in %.40s, and not in the archive", why,
             name ? name + 1 : r->seg->path);
    size_t size = sf_hole_frame(buf, from, to - from, r->now, reason);
    r->wrote_hole = true;
    return emit(r, buf, size, from);
}

/* The damaged bytes of a lost span may still hold its entries' headers:
 * the walk follows them while they check out as headers at the expected
 * offsets, to find the stored checksum of offset `off`. */
typedef struct sums {
    uint64_t pos, end, off;
    bool alive;
} sums;

static bool stored_sum(const seg_scan *s, sums *w, uint64_t off, entry_view *e)
{
    while (w->alive && w->pos + ENTRY_HEADER <= w->end) {
        if (!sf_entry_header_parse(s->data + w->pos, e) || e->hole || e->offset != w->off) {
            w->alive = false;
            break;
        }
        if (w->off == off)
            return true;
        if (w->off > off)
            return false;
        w->pos += e->size;
        w->off++;
    }
    return false;
}

/* One restored record at offset off, checked against its stored checksum
 * when the damaged entry still shows one. */
static int emit_record(repairer *r, sums *w, uint64_t off, const uint8_t *rec, uint32_t len)
{
    uint8_t buf[ENTRY_HEADER + SF_PACK_MAX];
    entry_view stored;
    uint32_t sum = sf_entry_checksum(off, rec, len);
    if (stored_sum(r->seg, w, off, &stored)) {
        bool same = stored.len == len && stored.checksum == sum;
        r->run_confirmed += same;
        r->run_mismatched += !same;
        r->c.res->confirmed += same;
    }
    sf_entry_header(buf, len, sum, off);
    memcpy(buf + ENTRY_HEADER, rec, len);
    return emit(r, buf, ENTRY_HEADER + len, off);
}

/* Restore or mark offsets [sp->off, sp->off_end). */
static int emit_lost(repairer *r, const span *sp, sf_error *err)
{
    char why[96];
    if (sp->end > sp->pos)
        snprintf(why, sizeof why, "damaged bytes %llu to %llu", (unsigned long long)sp->pos,
                 (unsigned long long)sp->end - 1);
    else
        snprintf(why, sizeof why, "missing at byte %llu", (unsigned long long)sp->pos);
    sums w = {sp->pos, sp->end, sp->off, sp->sums};
    uint64_t hole_from = 0;
    bool in_hole = false;
    int rc = 0;
    for (uint64_t first = sp->off; rc == 0 && first < sp->off_end; first += RESTORE_CHUNK) {
        size_t n =
            sp->off_end - first < RESTORE_CHUNK ? (size_t)(sp->off_end - first) : RESTORE_CHUNK;
        memset(r->lens, 0, n * sizeof *r->lens);
        if (r->c.o->restore && (rc = r->c.o->restore(r->c.o->restore_ctx, r->seg->partition, first,
                                                     n, r->recs, r->lens, err)) < 0)
            return rc;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            uint64_t off = first + i;
            if (!r->lens[i]) {
                start_run(r, 0, off);
                hole_from = in_hole ? hole_from : off;
                in_hole = true;
                continue;
            }
            if (in_hole && (rc = emit_hole(r, hole_from, off, why)) < 0)
                break;
            in_hole = false;
            start_run(r, 1, off);
            rc = emit_record(r, &w, off, r->recs + i * SF_PACK_MAX, r->lens[i]);
        }
    }
    if (rc == 0 && in_hole)
        rc = emit_hole(r, hole_from, sp->off_end, why);
    end_run(r, sp->off_end);
    return rc == SF_ENOMEM ? sf_error_set(err, rc, "out of memory") : rc;
}

/* Write path atomically: beside it, fsync, rename over, fsync the folder. */
static int write_atomic(const char *path, const uint8_t *data, size_t len, sf_error *err)
{
    char tmp[4300], dir[4300];
    snprintf(tmp, sizeof tmp, "%s.repair", path);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    /* A partition whose folder is gone gets it again, durably (its name in
     * the log's folder synced). */
    bool made = mkdir(dir, 0755) == 0;
    if (!made && errno != EEXIST)
        return sf_error_set(err, SF_EIO, "%s: cannot make the folder: %s", dir, strerror(errno));
    int rc = made ? sf_fsync_parent(dir, err) : 0;
    if (rc < 0)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n <= 0 && errno != EINTR)
            break;
        done += n > 0 ? (size_t)n : 0;
    }
    bool ok = fd >= 0 && done == len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sf_error_set(err, SF_EIO, "%s: cannot write it: %s", path, strerror(e));
    }
    return sf_fsync_dir(dir, err);
}

static int write_index(repairer *r, sf_error *err)
{
    char path[4300];
    uint8_t *raw = malloc(r->idx_len * 8 + 1);
    if (!raw)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->idx_len; i++) {
        put32(raw + 8 * i, r->idx[i].rel);
        put32(raw + 8 * i + 4, r->idx[i].pos);
    }
    snprintf(path, sizeof path, "%.*s.idx", (int)strlen(r->seg->path) - 4, r->seg->path);
    int rc = write_atomic(path, raw, r->idx_len * 8, err);
    free(raw);
    return rc;
}

/* The scan's callback: write s again when it lost anything, or its index
 * when only that is wrong. */
static int repair_segment(scan_ctx *c, seg_scan *s, sf_error *err)
{
    repairer *r = (repairer *)c;
    if (!s->lost && !s->index_bad)
        return 0;
    r->seg = s;
    r->len = r->idx_len = 0;
    r->run_kind = -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->nspans; i++) {
        const span *sp = &s->spans[i];
        if (sp->off_end - s->base > UINT32_MAX)
            return sf_error_set(err, SF_ECORRUPT,
                                "%s: offsets up to %llu would not fit one segment: an "
                                "implausible mark (DIR/ends) or witness; nothing written",
                                s->path, (unsigned long long)sp->off_end - 1);
        if (sp->kind == SPAN_GOOD)
            rc = emit_good(r, sp);
        else if (sp->kind == SPAN_LOST)
            rc = emit_lost(r, sp, err);
    }
    if (rc == SF_ENOMEM || rc == SF_ECORRUPT)
        return sf_error_set(err, rc, "%s: cannot rebuild it", s->path);
    if (rc < 0 || c->o->dry_run)
        return rc;
    if (s->lost && (rc = write_atomic(s->path, r->out, r->len, err)) == 0)
        c->res->rewritten++;
    return rc == 0 ? write_index(r, err) : rc;
}

int sf_log_repair(const char *dir, const sf_log_check_opts *o, sf_log_check_result *res,
                  sf_error *err)
{
    memset(res, 0, sizeof *res);
    uint32_t n;
    int version, lock_fd = -1;
    int rc = sf_log_read_meta(dir, &n, &version, err);
    if (rc == 0)
        rc = sf_log_lock(dir, &lock_fd, err);
    if (rc == SF_EBUSY) {
        char held[SF_ERROR_MSG_MAX];
        snprintf(held, sizeof held, "%s", err->msg);
        sf_error_set(err, SF_EBUSY, "%s: stop it first (repair needs the writer's lock)", held);
    }
    repairer r = {.c = {o, res, 0, 0}, .dir = dir, .now = (int64_t)time(NULL), .run_kind = -1};
    uint64_t *acked = calloc(n ? n : 1, sizeof *acked);
    r.recs = malloc((size_t)RESTORE_CHUNK * SF_PACK_MAX);
    r.lens = calloc(RESTORE_CHUNK, sizeof *r.lens);
    if (rc == 0 && (!acked || !r.recs || !r.lens))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    res->partitions = rc == 0 ? n : 0;
    if (rc == 0)
        rc = sf_scan_acked(dir, n, o, acked, err);
    r.c.total_bytes = rc == 0 ? sf_scan_total_bytes(dir, n) : 0;
    for (uint32_t p = 0; rc == 0 && p < n; p++)
        rc = sf_scan_partition(&r.c, dir, p, acked[p], repair_segment, err);
    /* Binaries that do not know holes must refuse this log, not cut it. */
    if (rc == 0 && r.wrote_hole && version < 2 && !o->dry_run)
        rc = sf_log_write_meta(dir, 2, n, err);
    if (o->progress)
        sf_progress_end(o->progress);
    free(acked);
    free(r.recs);
    free(r.lens);
    free(r.out);
    free(r.idx);
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}
