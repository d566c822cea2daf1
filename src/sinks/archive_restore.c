/*
 * archive_restore.c - looking records up in the archive by partition and
 * offset, for `log repair` (see archive_restore.h).
 *
 * The one object in memory is kept packed (about 100 bytes a record), with
 * each record's place in a table of offsets: an object of the default
 * 16 MiB of NDJSON is about 8 MiB here. Objects are read through the
 * objects port (the archive import's set), so any of its adapters can hold
 * the archive.
 */
#include "sinks/archive_restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decoder.h"
#include "core/pack.h"
#include "sinks/import.h"
#include "storage/objects/objects.h"
#include "stream/stream.h"

struct sf_archive_restorer {
    sf_archive_set set;
    uint32_t nparts;
    /* the object decoded last */
    const sf_archive_part *part;
    uint8_t *packed;
    size_t len, cap;
    size_t *at; /* record i of the object starts at packed + at[i] */
    size_t nrec;
};

/* The offset a position of an object of offsets is (the restorer keeps no
 * other: restorer_open drops the runs). */
static uint64_t off(const sf_pos *p)
{
    uint64_t v = 0;
    sf_pos_u64(p, &v);
    return v;
}

/* Drop the runs of r's set (objects of wide positions, archive_name.h):
 * they hold no offset of a local log. SF_EUSAGE when they were all it held. */
static int drop_runs(sf_archive_restorer *r, const char *path, sf_error *err)
{
    size_t kept = 0, n = r->set.n;
    for (size_t i = 0; i < n; i++)
        if (r->set.parts[i].run)
            free(r->set.parts[i].path);
        else
            r->set.parts[kept++] = r->set.parts[i];
    r->set.n = kept;
    if (n && !kept)
        return sf_error_set(err, SF_EUSAGE,
                            "%s holds the archive of a stream of wide positions (Kinesis: its "
                            "objects are runs of sequence numbers), not of a local log",
                            path);
    return 0;
}

/* True when location is an object store (holding an archive or not). */
static bool is_store(const char *location, const sf_adapter_settings *kv)
{
    sf_objects *o;
    sf_error err = {0};
    sf_objects_opts oo = {true, kv->extra, kv->nextra};
    if (sf_objects_open(location, &oo, &o, &err) < 0)
        return false;
    sf_objects_close(o);
    return true;
}

int sf_archive_restorer_open(const char *path, const sf_adapter_settings *objects_opt,
                             uint32_t nparts, sf_archive_restorer **out, size_t *objects,
                             sf_error *err)
{
    sf_archive_restorer *r = calloc(1, sizeof *r);
    if (!r)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    r->nparts = nparts;
    r->set.objects_opt = *objects_opt;
    int rc = sf_archive_set_add(&r->set, path, err);
    if (rc == SF_ENOENT)
        sf_error_set(err, SF_ENOENT, "%s: no such archive (nothing restored from it)", path);
    if (rc == SF_EUSAGE && is_store(path, objects_opt)) {
        rc = 0; /* a store without an archive: it holds nothing */
        sf_error_clear(err);
    }
    if (rc == 0 && r->set.n && (rc = sf_archive_set_finish(&r->set, err)) == 0)
        rc = drop_runs(r, path, err);
    if (rc < 0) {
        sf_archive_restorer_free(r);
        return rc;
    }
    if (objects)
        *objects = r->set.n;
    *out = r;
    return 0;
}

typedef struct loader {
    sf_archive_restorer *r;
    sf_error *err;
    int rc;
} loader;

static int keep_record(void *ctx, const sf_record *rec, const sf_decode_pos *pos)
{
    loader *l = ctx;
    sf_archive_restorer *r = l->r;
    const sf_archive_part *part = r->part;
    uint64_t offset = off(&part->first) + pos->index;
    if (sf_stream_partition_of(rec->invoice_no, rec->invoice_no_len, r->nparts) !=
        part->partition) {
        l->rc = sf_error_set(l->err, SF_EFORMAT,
                             "%s: the record at offset %llu (invoice %s) is not of partition %u "
                             "in a log of %u partitions: not this log's archive",
                             part->path, (unsigned long long)offset, rec->invoice_no,
                             part->partition, r->nparts);
        return 1;
    }
    if (r->nrec > off(&part->last) - off(&part->first)) {
        l->rc = sf_error_set(l->err, SF_EFORMAT, "%s holds more records than its name says",
                             part->path);
        return 1;
    }
    if (r->len + SF_PACK_MAX > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1 << 20;
        uint8_t *grown = realloc(r->packed, cap);
        if (!grown) {
            l->rc = sf_error_set(l->err, SF_ENOMEM, "out of memory");
            return 1;
        }
        r->packed = grown;
        r->cap = cap;
    }
    r->at[r->nrec++] = r->len;
    r->len += (size_t)sf_record_pack(rec, r->packed + r->len, r->cap - r->len);
    return 0;
}

static int bad_record(void *ctx, const sf_decode_error *e)
{
    loader *l = ctx;
    char what[SF_ERROR_MSG_MAX];
    sf_decode_error_format_in(e, l->r->part->path, what, sizeof what);
    l->rc = sf_error_set(l->err, SF_EFORMAT, "%s", what);
    return 1;
}

/* Decode the object `part` into memory, unless it is there already. */
static int load(sf_archive_restorer *r, const sf_archive_part *part, sf_error *err)
{
    if (r->part == part)
        return 0;
    uint64_t want = off(&part->last) - off(&part->first) + 1;
    size_t *at = realloc(r->at, want * sizeof *at);
    if (!at)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    r->at = at;
    r->part = part;
    r->len = r->nrec = 0;
    loader l = {r, err, 0};
    sf_decode_opts opts = {.format = SF_FORMAT_JSON};
    sf_decode_sink sink = {keep_record, bad_record, &l};
    void *data = NULL;
    size_t len = 0;
    int rc = sf_archive_part_read(&r->set, part, &data, &len, err);
    if (rc == 0)
        rc = sf_decode_bytes(part->path, data, len, &opts, &sink, NULL, err);
    free(data);
    if (l.rc < 0)
        rc = l.rc;
    else if (rc == 0 && r->nrec != want)
        rc = sf_error_set(err, SF_EFORMAT, "%s holds %zu records, its name says %llu", part->path,
                          r->nrec, (unsigned long long)want);
    if (rc < 0)
        r->part = NULL;
    return rc;
}

/* The first object of partition p whose last offset is >= offset. */
static size_t find(const sf_archive_set *set, uint32_t p, uint64_t offset)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const sf_archive_part *m = &set->parts[mid];
        if (m->partition < p || (m->partition == p && off(&m->last) < offset))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int sf_archive_restore(void *ctx, uint32_t p, uint64_t first, size_t n, uint8_t *out,
                       uint32_t *lens, sf_error *err)
{
    sf_archive_restorer *r = ctx;
    memset(lens, 0, n * sizeof *lens);
    for (size_t k = find(&r->set, p, first); k < r->set.n; k++) {
        const sf_archive_part *part = &r->set.parts[k];
        uint64_t pfirst = off(&part->first), plast = off(&part->last);
        if (part->partition != p || pfirst >= first + n)
            break;
        int rc = load(r, part, err);
        if (rc < 0)
            return rc;
        uint64_t from = pfirst > first ? pfirst : first;
        uint64_t to = plast + 1 < first + n ? plast + 1 : first + n;
        for (uint64_t o = from; o < to; o++) {
            size_t i = (size_t)(o - pfirst);
            size_t end = i + 1 < r->nrec ? r->at[i + 1] : r->len;
            lens[o - first] = (uint32_t)(end - r->at[i]);
            memcpy(out + (o - first) * SF_PACK_MAX, r->packed + r->at[i], end - r->at[i]);
        }
    }
    return 0;
}

void sf_archive_restorer_free(sf_archive_restorer *r)
{
    if (!r)
        return;
    sf_archive_set_free(&r->set);
    free(r->packed);
    free(r->at);
    free(r);
}
